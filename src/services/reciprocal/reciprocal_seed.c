/* reciprocal_seed: see reciprocal_seed.h. */
#include "services/reciprocal/reciprocal_seed.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "services/reciprocal/reciprocal_seed_history.h"

static const char *const seed_slugs[] = {"harbour-yacht", "union-university", "highveld-country"};
#define N_SEED_CLUBS 3

static void seed_caller(svc_caller_t *c) {
    memset(c, 0, sizeof *c);
    c->network_admin = 1;
    snprintf(c->perms, sizeof c->perms, "*");
    snprintf(c->request_id, sizeof c->request_id, "seed");
}

/* module.op as the seeding network administrator; in is stolen. 0 + *out, or -1 with *status. */
static int op(const svc_env_t *env, const char *module, const char *name, json_t *in, int *status,
              json_t **out, err_t *e) {
    svc_caller_t admin;
    seed_caller(&admin);
    err_clear(e);
    *status = 0;
    int rc = svc_call(env, module, name, &admin, in, status, out, e);
    json_decref(in);
    return rc;
}

/* The demo clubs' ids (get_clubs_by_ids by slug); 0 when all three exist, 1 when not. */
static int club_ids(const svc_env_t *env, char ids[N_SEED_CLUBS][40], err_t *e) {
    json_t *in = json_pack("{s:[s,s,s]}", "ids", seed_slugs[0], seed_slugs[1], seed_slugs[2]);
    json_t *out = NULL;
    int status;
    if (op(env, "member", "get_clubs_by_ids", in, &status, &out, e) != 0) return -1;
    int missing = 0;
    for (size_t i = 0; i < N_SEED_CLUBS; i++) {
        const char *id = json_string_value(
            json_object_get(json_array_get(json_object_get(out, "items"), i), "id"));
        if (!id) missing = 1;
        snprintf(ids[i], 40, "%s", id ? id : "");
    }
    json_decref(out);
    return missing;
}

/* DEMO-1 and DEMO-2 of a club, active, membership to the end of 2099. */
static int seed_members(const svc_env_t *env, const char *club, const char *slug, err_t *e) {
    static const char *const names[][2] = {{"Ada", "Lovelace"}, {"Grace", "Hopper"}};
    for (int i = 0; i < 2; i++) {
        char number[16], email[128];
        snprintf(number, sizeof number, "DEMO-%d", i + 1);
        snprintf(email, sizeof email, "%s.%s@%s.example", names[i][0], names[i][1], slug);
        json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "club_id", club,
                               "member_number", number, "category", "full", "status", "active",
                               "expires_on", "2099-12-31", "profile", "first_name", names[i][0],
                               "last_name", names[i][1], "email", email);
        json_t *out = NULL;
        int status;
        int rc = op(env, "member", "create_member", in, &status, &out, e);
        if (rc == 0)
            printf("seeded member %s of %s (%s)\n", number, slug,
                   json_string_value(json_object_get(out, "id")));
        else if (status == 409)
            printf("member %s of %s already present\n", number, slug);
        json_decref(out);
        if (rc != 0 && status != 409) return -1;
    }
    err_clear(e);
    return 0;
}

/* 1 when an active agreement has all the demo clubs as parties, 0 when none, -1 on error. */
static int have_agreement(const svc_env_t *env, char ids[N_SEED_CLUBS][40], err_t *e) {
    json_t *in = json_pack("{s:s, s:s, s:i}", "status", "active", "partner", ids[1], "limit", 100);
    json_t *out = NULL;
    int status;
    if (op(env, "reciprocal", "list_agreements", in, &status, &out, e) != 0) return -1;
    int found = 0;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(out, "items"), i, a) {
        json_t *clubs = json_object_get(a, "clubs");
        int all = json_array_size(clubs) == N_SEED_CLUBS;
        for (size_t k = 0; all && k < N_SEED_CLUBS; k++) {
            int in_it = 0;
            size_t j;
            json_t *c;
            json_array_foreach(clubs, j, c) in_it |= strcmp(json_string_value(c), ids[k]) == 0;
            all = in_it;
        }
        found |= all;
    }
    json_decref(out);
    return found;
}

static int seed_agreement(const svc_env_t *env, char ids[N_SEED_CLUBS][40], err_t *e) {
    int have = have_agreement(env, ids, e);
    if (have < 0) return -1;
    if (have) {
        printf("agreement among the demo clubs already active\n");
        return 0;
    }
    /* from the first day of the month a year ago: the visit history (reciprocal_seed_history)
     * lies inside it */
    char since[16];
    reciprocal_seed_month_start(12, since);
    /* per host: currency, entry / guest / room fees, payment mode, facilities */
    static const struct {
        const char *cur, *mode, *fac[3];
        int entry, guest, room;
    } host_terms[N_SEED_CLUBS] = {
        {"GBP", "bill_home_club", {"dining", "bar", "rooms"}, 1500, 2000, 14500},
        {"USD", "bill_home_club", {"dining", "rooms", "library"}, 2500, 3000, 32500},
        {"ZAR", "pay_at_host", {"dining", "golf", "tennis"}, 15000, 20000, 180000}};
    json_t *terms = json_object();
    for (size_t i = 0; i < N_SEED_CLUBS; i++)
        json_object_set_new(terms, ids[i],
                            json_pack("{s:i, s:i, s:[s,s,s], s:s, s:{s:s, s:i, s:i, s:i}}",
                                      "min_notice_hours", 0, "max_guests", 2, "allowed_facilities",
                                      host_terms[i].fac[0], host_terms[i].fac[1],
                                      host_terms[i].fac[2], "payment_mode", host_terms[i].mode,
                                      "fees", "currency", host_terms[i].cur, "entry",
                                      host_terms[i].entry, "guest", host_terms[i].guest,
                                      "room_rate", host_terms[i].room));
    json_t *in = json_pack("{s:s, s:[s,s,s], s:s, s:o}", "club_id", ids[0], "clubs", ids[0], ids[1],
                           ids[2], "starts_on", since, "terms", terms);
    json_t *out = NULL;
    int status;
    if (op(env, "reciprocal", "create_agreement", in, &status, &out, e) != 0) return -1;
    char id[40];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(out, "id")));
    json_decref(out);
    for (size_t i = 1; i < N_SEED_CLUBS; i++) {
        in = json_pack("{s:s, s:s}", "id", id, "club_id", ids[i]);
        if (op(env, "reciprocal", "accept_agreement", in, &status, &out, e) != 0) return -1;
        if (i + 1 == N_SEED_CLUBS)
            printf("seeded agreement %s among the demo clubs (%s)\n", id,
                   json_string_value(json_object_get(out, "status")));
        json_decref(out);
    }
    return 0;
}

int reciprocal_seed(const svc_env_t *env, err_t *e) {
    char ids[N_SEED_CLUBS][40];
    int rc = club_ids(env, ids, e);
    if (rc != 0) {
        if (rc > 0) printf("demo clubs absent: no reciprocal demo data\n");
        err_clear(e);
        return rc > 0 ? 0 : -1;
    }
    for (size_t i = 0; i < N_SEED_CLUBS; i++)
        if (seed_members(env, ids[i], seed_slugs[i], e) != 0) return -1;
    if (seed_agreement(env, ids, e) != 0) return -1;
    if (reciprocal_seed_history(env, ids, e) != 0) return -1;
    err_clear(e);
    return 0;
}
