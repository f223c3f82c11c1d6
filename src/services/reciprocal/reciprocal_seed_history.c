/* reciprocal_seed_history: see reciprocal_seed_history.h. */
#include "services/reciprocal/reciprocal_seed_history.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "services/reciprocal/loi.h"

#define N_CLUBS 3

static const char *const hist_slugs[N_CLUBS] = {"harbour-yacht", "union-university",
                                                "highveld-country"};

/* Per host: the season (visits per month in tenths of the pair's base, January first), the
 * facilities a visitor uses, the day's charges (category, description, unit amount, tax rate in
 * basis points) and the room rate. */
typedef struct {
    int season[12];
    const char *facilities[3];
    const char *extra_cat, *extra_desc;
    long long dining, extra, room, rate_bp;
} host_profile_t;

static const host_profile_t hist_hosts[N_CLUBS] = {
    {{4, 4, 6, 8, 10, 14, 16, 16, 12, 8, 5, 6},
     {"dining", "bar", "rooms"},
     "bar",
     "Bar",
     4200,
     1800,
     14500,
     2000},
    {{6, 6, 9, 12, 13, 8, 6, 6, 13, 14, 12, 9},
     {"dining", "rooms", "library"},
     "other",
     "Library reading room",
     6500,
     1500,
     32500,
     888},
    {{14, 14, 12, 10, 7, 5, 4, 5, 8, 10, 12, 14},
     {"dining", "golf", "tennis"},
     "green_fee",
     "Green fee, 18 holes",
     38000,
     95000,
     180000,
     1500},
};

/* The directed pairs (home, host) and their base visits a month; none from harbour-yacht to
 * highveld-country (one-sided: highveld's members visit harbour-yacht). */
static const struct {
    int home, host, base;
} hist_pairs[] = {{0, 1, 5}, {1, 0, 4}, {2, 0, 3}, {1, 2, 2}, {2, 1, 2}};

typedef struct {
    int requested, skipped, completed, no_show, cancelled, declined, charges, issued;
} tally_t;

/* xorshift32 from the fixed seed: the same history on every fresh database */
static uint32_t next_rand(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}
static int pick(uint32_t *s, int n) {
    return (int)(next_rand(s) % (uint32_t)n);
}

/* The signed-in actor of the history: the network administrator's user id (actor_find). */
static char hist_actor[40];

static int call_op(const svc_env_t *env, const char *module, const char *name, json_t *in,
                   int *status, json_t **out, err_t *e) {
    svc_caller_t admin;
    memset(&admin, 0, sizeof admin);
    admin.network_admin = 1;
    snprintf(admin.user_id, sizeof admin.user_id, "%s", hist_actor);
    snprintf(admin.perms, sizeof admin.perms, "*");
    snprintf(admin.request_id, sizeof admin.request_id, "seed-history");
    err_clear(e);
    *status = 0;
    json_t *res = NULL;
    int rc = svc_call(env, module, name, &admin, in, status, &res, e);
    json_decref(in);
    if (out)
        *out = res;
    else
        json_decref(res);
    return rc;
}

/* An operation whose refusal (4xx) the history skips: 0 done, 1 refused, -1 error. */
static int soft_op(const svc_env_t *env, const char *name, json_t *in, json_t **out, err_t *e) {
    int status;
    if (call_op(env, "reciprocal", name, in, &status, out, e) == 0) return 0;
    if (status >= 400 && status < 500) {
        err_clear(e);
        return 1;
    }
    fprintf(stderr, "visit history: %s failed (%d): %s\n", name, status, e->message);
    return -1;
}

void reciprocal_seed_month_start(int back, char out[16]) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int m = tm.tm_year * 12 + tm.tm_mon - back;
    tm = (struct tm){.tm_year = m / 12, .tm_mon = m % 12, .tm_mday = 1};
    strftime(out, 16, "%Y-%m-%d", &tm);
}

/* The first network administrator (auth users_list, no club): 0 found, 1 none, -1 error. */
static int actor_find(const svc_env_t *env, err_t *e) {
    json_t *out = NULL;
    int status;
    if (call_op(env, "auth", "users_list", json_object(), &status, &out, e) != 0) return -1;
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(out, "items"), i, u) {
        if (!hist_actor[0] && json_is_null(json_object_get(u, "club_id")))
            snprintf(hist_actor, sizeof hist_actor, "%s",
                     json_string_value(json_object_get(u, "id")));
    }
    json_decref(out);
    return hist_actor[0] ? 0 : 1;
}

/* 1 when a visit arriving before the current month exists, 0 when none, -1 on error. */
static int have_history(const svc_env_t *env, err_t *e) {
    char first[16], before[16];
    reciprocal_seed_month_start(0, first);
    struct tm tm = {0};
    sscanf(first, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm) - 86400;
    gmtime_r(&t, &tm);
    strftime(before, sizeof before, "%Y-%m-%d", &tm);
    json_t *out = NULL;
    int status;
    if (call_op(env, "reciprocal", "list_visits", json_pack("{s:s, s:i}", "to", before, "limit", 1),
                &status, &out, e) != 0)
        return -1;
    int have = json_array_size(json_object_get(out, "items")) > 0;
    json_decref(out);
    return have;
}

/* DEMO-3 .. DEMO-8 of a club, created (or found), their ids into ids. */
static int history_members(const svc_env_t *env, const char *club, const char *slug,
                           char ids[SEED_HISTORY_MEMBERS][40], err_t *e) {
    static const char *const first[] = {"Alan",    "Barbara", "Claude",
                                        "Dorothy", "Edsger",  "Frances"};
    static const char *const last[] = {"Turing",  "Liskov",   "Shannon",
                                       "Vaughan", "Dijkstra", "Allen"};
    for (int i = 0; i < SEED_HISTORY_MEMBERS; i++) {
        char number[16], email[128];
        snprintf(number, sizeof number, "DEMO-%d", i + 3);
        snprintf(email, sizeof email, "%s.%s@%s.example", first[i], last[i], slug);
        json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "club_id", club,
                               "member_number", number, "category", "full", "status", "active",
                               "expires_on", "2099-12-31", "profile", "first_name", first[i],
                               "last_name", last[i], "email", email);
        int status;
        if (call_op(env, "member", "create_member", in, &status, NULL, e) != 0 && status != 409)
            return -1;
    }
    json_t *out = NULL;
    int status;
    if (call_op(env, "member", "list_members",
                json_pack("{s:s, s:i}", "club_id", club, "limit", 100), &status, &out, e) != 0)
        return -1;
    int found = 0;
    size_t k;
    json_t *m;
    json_array_foreach(json_object_get(out, "items"), k, m) {
        int n = 0;
        const char *num = json_string_value(json_object_get(m, "member_number"));
        if (num && sscanf(num, "DEMO-%d", &n) == 1 && n >= 3 && n < 3 + SEED_HISTORY_MEMBERS) {
            snprintf(ids[n - 3], 40, "%s", json_string_value(json_object_get(m, "id")));
            found++;
        }
    }
    json_decref(out);
    if (found != SEED_HISTORY_MEMBERS)
        return err_set(e, 500, "internal", "", "history members of %s not found", slug);
    return 0;
}

static void day_text(time_t t, char out[16]) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}
static void stamp_text(time_t t, char out[24]) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One charge on a checked-in visit, posted at `at` (also the posting clock). */
static int charge(const svc_env_t *env, const char *visit, const char *cat, const char *desc,
                  long long qty, long long unit, long long rate_bp, time_t at, tally_t *t,
                  err_t *e) {
    char ts[24];
    stamp_text(at, ts);
    long long tax = unit * qty * rate_bp / 10000;
    json_t *in = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s}", "id", visit, "category",
                           cat, "description", desc, "quantity", (json_int_t)qty, "unit_amount",
                           (json_int_t)unit, "tax_amount", (json_int_t)tax, "tax_rate_bp",
                           (json_int_t)rate_bp, "at", ts, "as_of", ts);
    int rc = soft_op(env, "post_charge", in, NULL, e);
    if (rc == 0) t->charges++;
    return rc < 0 ? -1 : 0;
}

/* A completed visit: checked in at 12:00 UTC on the arrival day, the day's charges, out. */
static int complete(const svc_env_t *env, const char *visit, const char *token, int host,
                    time_t arrive, int days, int guests, uint32_t *rs, tally_t *t, err_t *e) {
    const host_profile_t *h = &hist_hosts[host];
    time_t noon = arrive + 12 * 3600;
    int rc = soft_op(env, "check_in_visit",
                     json_pack("{s:s, s:I}", "token", token, "at", (json_int_t)noon), NULL, e);
    if (rc != 0) return rc < 0 ? -1 : 0;
    time_t evening = arrive + 18 * 3600;
    if (charge(env, visit, "dining", "Dinner", 1 + guests, h->dining, h->rate_bp, evening, t, e) !=
        0)
        return -1;
    if (pick(rs, 2) == 0 && charge(env, visit, h->extra_cat, h->extra_desc, 1 + guests, h->extra,
                                   h->rate_bp, evening + 1800, t, e) != 0)
        return -1;
    if (days > 1 && charge(env, visit, "room", "Room", days - 1, h->room, h->rate_bp,
                           evening + 3600, t, e) != 0)
        return -1;
    rc = soft_op(env, "check_out_visit", json_pack("{s:s}", "id", visit), NULL, e);
    if (rc == 0) t->completed++;
    return rc < 0 ? -1 : 0;
}

/* One visit of a member of home at host arriving on `arrive` (UTC midnight of the date). */
static int one_visit(const svc_env_t *env, char ids[N_CLUBS][40], int home, int host,
                     const char *member, time_t arrive, uint32_t *rs, tally_t *t, err_t *e) {
    int days = 1 + pick(rs, 3), guests = pick(rs, 5) == 0 ? 1 + pick(rs, 2) : 0;
    char from[16], to[16], as_of[24];
    day_text(arrive, from);
    day_text(arrive + (time_t)(days - 1) * 86400, to);
    stamp_text(arrive - 3 * 86400 + 9 * 3600, as_of);
    const host_profile_t *h = &hist_hosts[host];
    json_t *fac = json_pack("[s]", h->facilities[0]);
    if (pick(rs, 2) == 0) json_array_append_new(fac, json_string(h->facilities[1]));
    if (days > 1) json_array_append_new(fac, json_string(h->facilities[2]));
    json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:s}", "club_id", ids[home],
                           "member_id", member, "host_club_id", ids[host], "arrive_on", from,
                           "depart_on", to, "guests", guests, "facilities", fac, "as_of", as_of);
    json_t *out = NULL;
    int outcome = pick(rs, 100);
    t->requested++;
    int rc = soft_op(env, "create_visit", in, &out, e);
    if (rc != 0) {
        json_decref(out);
        if (rc > 0) t->skipped++;
        return rc < 0 ? -1 : 0;
    }
    char id[40];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(out, "id")));
    json_decref(out);
    out = NULL;
    if (outcome < 8) { /* the member changed plans */
        rc = soft_op(env, "cancel_visit", json_pack("{s:s}", "id", id), NULL, e);
        if (rc == 0) t->cancelled++;
        return rc < 0 ? -1 : 0;
    }
    if (outcome < 13) { /* the home club declines */
        rc = soft_op(env, "decline_visit",
                     json_pack("{s:s, s:s}", "id", id, "reason", "membership dues outstanding"),
                     NULL, e);
        if (rc == 0) t->declined++;
        return rc < 0 ? -1 : 0;
    }
    rc = soft_op(env, "approve_visit", json_pack("{s:s}", "id", id), &out, e);
    char token[LOI_TOKEN_MAX] = "";
    const char *tok = json_string_value(json_object_get(json_object_get(out, "loi"), "token"));
    if (rc == 0 && tok) snprintf(token, sizeof token, "%s", tok);
    json_decref(out);
    if (rc == 0) rc = soft_op(env, "confirm_visit", json_pack("{s:s}", "id", id), NULL, e);
    if (rc != 0 || !token[0]) return rc < 0 ? -1 : 0;
    if (outcome < 22) { /* never came: the final visit_sweep marks the no-show */
        t->no_show++;
        return 0;
    }
    return complete(env, id, token, host, arrive, days, guests, rs, t, e);
}

/* The month `back` months ago: its visits, pair by pair, in date order within a pair. */
static int one_month(const svc_env_t *env, char ids[N_CLUBS][40],
                     char members[N_CLUBS][SEED_HISTORY_MEMBERS][40], int back, uint32_t *rs,
                     tally_t *t, err_t *e) {
    char first[16];
    reciprocal_seed_month_start(back, first);
    struct tm tm = {0};
    sscanf(first, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int month = tm.tm_mon;
    time_t start = timegm(&tm);
    for (size_t p = 0; p < sizeof hist_pairs / sizeof hist_pairs[0]; p++) {
        int home = hist_pairs[p].home, host = hist_pairs[p].host;
        int n = (hist_pairs[p].base * hist_hosts[host].season[month] + 5) / 10;
        int step = 26 / (n > 0 ? n : 1);
        for (int i = 0; i < n; i++) {
            int day = i * step + pick(rs, step > 1 ? step : 1);
            if (day > 25) day = 25;
            const char *member = members[home][pick(rs, SEED_HISTORY_MEMBERS)];
            if (one_visit(env, ids, home, host, member, start + (time_t)day * 86400, rs, t, e) != 0)
                return -1;
        }
    }
    return 0;
}

/* The sweeps, then last month's drafts issued by their host at once. */
static int settle(const svc_env_t *env, tally_t *t, err_t *e) {
    int status;
    if (call_op(env, "reciprocal", "visit_sweep", json_object(), &status, NULL, e) != 0 ||
        call_op(env, "reciprocal", "statement_sweep", json_object(), &status, NULL, e) != 0)
        return -1;
    char last[16];
    reciprocal_seed_month_start(1, last);
    last[7] = 0;
    json_t *out = NULL;
    if (call_op(env, "reciprocal", "list_statements",
                json_pack("{s:s, s:i}", "period", last, "limit", 100), &status, &out, e) != 0)
        return -1;
    size_t i;
    json_t *s;
    int rc = 0;
    json_array_foreach(json_object_get(out, "items"), i, s) {
        const char *st = json_string_value(json_object_get(s, "status"));
        int done = st && strcmp(st, "issued") == 0;
        if (rc == 0 && st && strcmp(st, "draft") == 0) {
            rc = soft_op(env, "issue_statement",
                         json_pack("{s:s}", "id", json_string_value(json_object_get(s, "id"))),
                         NULL, e);
            done = rc == 0;
            if (rc > 0) rc = 0;
        }
        if (done) t->issued++;
    }
    json_decref(out);
    return rc;
}

int reciprocal_seed_history(const svc_env_t *env, char ids[N_CLUBS][40], err_t *e) {
    int found = actor_find(env, e);
    if (found != 0) {
        if (found > 0) printf("no network administrator: no visit history\n");
        return found < 0 ? -1 : 0;
    }
    int have = have_history(env, e);
    if (have < 0) return -1;
    if (have) {
        printf("visit history already present\n");
        return 0;
    }
    static char members[N_CLUBS][SEED_HISTORY_MEMBERS][40];
    for (int c = 0; c < N_CLUBS; c++)
        if (history_members(env, ids[c], hist_slugs[c], members[c], e) != 0) return -1;
    uint32_t rs = SEED_HISTORY_SEED;
    tally_t t = {0};
    for (int back = 12; back >= 1; back--)
        if (one_month(env, ids, members, back, &rs, &t, e) != 0) return -1;
    if (settle(env, &t, e) != 0) return -1;
    printf("seeded visit history: %d requests (%d refused by the rules), %d completed, %d no-show, "
           "%d cancelled, %d declined, %d charges, %d statements of last month issued\n",
           t.requested, t.skipped, t.completed, t.no_show, t.cancelled, t.declined, t.charges,
           t.issued);
    return 0;
}
