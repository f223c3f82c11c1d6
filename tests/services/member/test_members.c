/* test_members: the member service at the svc level against the real PostgreSQL of
 * tests/run.sh, with hand-built callers (club admin, staff, member, network admin, anonymous):
 * create with dependents, get/update permissions, the lifecycle table (every from x to pair),
 * cascade to dependents and history, events carry no personal values, search and cursor
 * pagination, CSV import (dry-run errors by line and column, atomicity, 10,000 rows timed) and
 * export, GDPR export and erasure, the membership card (sign, verify, tamper, expiry,
 * suspension, offline check with the published key), the lapse sweep. */
#include <time.h>

#include "services/member/cards.h"
#include "services/member/member_common.h"
#include "services/member/member_csv.h"
#include "services/member/member_test_util.h"
#include "services/member/members_lifecycle.h"
#include "services/member/members_search.h"

static char club_a[40], club_b[40], user_m1[40], user_m2[40];
static svc_caller_t admin_a, staff_a, reader_a, member_a, anon_a, netadmin, admin_b;

#define ADMIN_PERMS "member:read member:write member:admin"

static void setup_callers(void) {
    if (mt_account(club_a, user_m1) != 0) mt_uuid(user_m1); /* linked members need accounts */
    if (mt_account(club_a, user_m2) != 0) mt_uuid(user_m2);
    char u[40];
    mt_uuid(u);
    admin_a = mt_caller(club_a, u, 0, ADMIN_PERMS);
    mt_uuid(u);
    staff_a = mt_caller(club_a, u, 0, "member:read member:write");
    mt_uuid(u);
    reader_a = mt_caller(club_a, u, 0, "member:read visit:verify");
    member_a = mt_caller(club_a, user_m1, 0, "");
    anon_a = mt_caller(club_a, NULL, 0, "");
    netadmin = mt_caller(NULL, NULL, 1, "*");
    mt_uuid(u);
    admin_b = mt_caller(club_b, u, 0, ADMIN_PERMS);
}

/* Creates a member (status pending unless given) in club of caller; id into out. */
static int new_member(const svc_caller_t *c, const char *extra, char *out) {
    static int n;
    char in[1024];
    n++;
    snprintf(
        in, sizeof in,
        "{\"category\":\"full\",\"profile\":{\"first_name\":\"Test\",\"last_name\":\"Person%d\","
        "\"email\":\"p%d@example.com\"}%s%s}",
        n, n, extra && *extra ? "," : "", extra ? extra : "");
    json_t *o = NULL;
    int st = mt_call(c, "create_member", in, &o);
    if (st != 201) {
        char *d = jsonx_dump(o);
        printf("#   create_member %d %s\n", st, d);
        free(d);
        json_decref(o);
        return -1;
    }
    snprintf(out, 40, "%s", mt_str(o, "id"));
    json_decref(o);
    return 0;
}

static int set_status(const svc_caller_t *c, const char *id, const char *to, json_t **out) {
    char in[256];
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"status\":\"%s\",\"reason\":\"test\"}", id, to);
    return mt_call(c, "change_member_status", in, out);
}

/* Counts outbox events of a type for a member (relay scope reads the outbox); *leak is set
 * when any payload contains needle. */
static int count_events(const char *type, const char *member_id, const char *needle, int *leak) {
    db_scope_t relay = {NULL, NULL, 0, 1};
    db_tx_t *tx;
    err_t e = {0};
    if (db_begin(mt_pool, &relay, &tx, &e) != 0) return -1;
    const char *p[] = {type, member_id};
    PGresult *r = db_exec(tx,
                          "SELECT payload::text FROM member.outbox WHERE type = $1 AND "
                          "payload->'data'->>'member_id' = $2",
                          2, p, &e);
    int n = -1;
    if (r) {
        n = PQntuples(r);
        for (int i = 0; i < n; i++)
            if (needle && leak && strstr(PQgetvalue(r, i, 0), needle)) *leak = 1;
        PQclear(r);
    }
    db_rollback(tx);
    return n;
}

static void test_create_get(void) {
    char in[2048];
    snprintf(in, sizeof in,
             "{\"category\":\"full\",\"status\":\"active\",\"auth_user_id\":\"%s\","
             "\"expires_on\":\"2099-12-31\",\"directory_opt_in\":true,"
             "\"profile\":{\"first_name\":\"Alice\",\"last_name\":\"Harbour\",\"email\":"
             "\"alice@example.com\",\"phone\":\"+447700900123\",\"staff_notes\":\"VIP\"},"
             "\"addresses\":{\"home\":{\"lines\":[\"1 Quay St\"],\"city\":\"London\",\"country\":"
             "\"gb\"}},\"dependents\":[{\"category\":\"social\",\"relationship\":\"spouse\","
             "\"profile\":{\"first_name\":\"Bob\",\"last_name\":\"Harbour\"}},{\"category\":"
             "\"junior\",\"relationship\":\"child\",\"profile\":{\"first_name\":\"Cy\","
             "\"last_name\":\"Harbour\"}}]}",
             user_m1);
    json_t *o = NULL;
    REQUIRE(mt_call(&admin_a, "create_member", in, &o) == 201);
    char id[40], dep[40];
    snprintf(id, sizeof id, "%s", mt_str(o, "id"));
    CHECK_STR(mt_str(o, "status"), "active");
    CHECK_STR(mt_str(o, "club_id"), club_a);
    CHECK_STR(mt_str(o, "home_club_id"), club_a);
    CHECK(mt_str(o, "member_number") && mt_str(o, "member_number")[0] == 'M');
    CHECK_STR(mt_str(o, "addresses.home.country"), "GB");
    json_t *deps = json_object_get(o, "dependents");
    CHECK_EQ_INT(json_array_size(deps), 2);
    snprintf(dep, sizeof dep, "%s", mt_str(json_array_get(deps, 0), "id"));
    CHECK_STR(mt_str(json_array_get(deps, 0), "primary_member_id"), id);
    CHECK_STR(mt_str(json_array_get(deps, 1), "status"), "active");
    CHECK(strcmp(mt_str(json_array_get(deps, 0), "member_number"), mt_str(o, "member_number")));
    json_decref(o);

    /* staff sees staff notes; the member sees their own record without them */
    char ref[128];
    snprintf(ref, sizeof ref, "{\"id\":\"%s\"}", id);
    REQUIRE(mt_call(&reader_a, "get_member", ref, &o) == 200);
    CHECK_STR(mt_str(o, "profile.staff_notes"), "VIP");
    json_decref(o);
    REQUIRE(mt_call(&member_a, "get_member", ref, &o) == 200);
    CHECK(json_object_get(json_object_get(o, "profile"), "staff_notes") == NULL);
    CHECK_STR(mt_str(o, "profile.first_name"), "Alice");
    json_decref(o);
    REQUIRE(mt_call(&member_a, "get_me", "{}", &o) == 200);
    CHECK_STR(mt_str(o, "id"), id);
    json_decref(o);
    /* ... but not someone else's (404: no existence oracle), anonymous is 401 */
    snprintf(ref, sizeof ref, "{\"id\":\"%s\"}", dep);
    CHECK_EQ_INT(mt_call(&member_a, "get_member", ref, NULL), 404);
    CHECK_EQ_INT(mt_call(&anon_a, "get_member", ref, NULL), 401);
    /* another club cannot see it */
    CHECK_EQ_INT(mt_call(&admin_b, "get_member", ref, NULL), 404);

    /* the member edits their own contact fields, not staff fields */
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"profile\":{\"preferred_name\":\"Al\"}}", id);
    REQUIRE(mt_call(&member_a, "update_member", in, &o) == 200);
    CHECK_STR(mt_str(o, "profile.preferred_name"), "Al");
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"category\":\"honorary\"}", id);
    REQUIRE(mt_call(&member_a, "update_member", in, &o) == 403);
    CHECK_STR(mt_err_field(o), "category");
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"profile\":{\"preferred_name\":\"X\"}}", dep);
    CHECK_EQ_INT(mt_call(&member_a, "update_member", in, NULL), 404);

    /* staff update: event names changed fields, carries no values */
    snprintf(in, sizeof in,
             "{\"id\":\"%s\",\"profile\":{\"email\":\"alice.new@example.com\"},\"category\":"
             "\"senior\"}",
             id);
    REQUIRE(mt_call(&staff_a, "update_member", in, &o) == 200);
    CHECK_STR(mt_str(o, "category"), "senior");
    json_decref(o);
    int leak = 0;
    CHECK(count_events("member.updated", id, "alice.new@example.com", &leak) >= 2);
    CHECK(!leak);
    leak = 0;
    CHECK_EQ_INT(count_events("member.created", id, "Alice", &leak), 1);
    CHECK(!leak);

    /* validation names fields */
    REQUIRE(mt_call(&admin_a, "create_member",
                    "{\"category\":\"full\",\"profile\":{\"first_name\":\"A\",\"last_name\":\"B\","
                    "\"phone\":\"0123\"}}",
                    &o) == 422);
    CHECK_STR(mt_err_field(o), "profile.phone");
    json_decref(o);
    REQUIRE(mt_call(&admin_a, "create_member",
                    "{\"category\":\"platinum\",\"profile\":{\"first_name\":\"A\",\"last_name\":"
                    "\"B\"}}",
                    &o) == 422);
    CHECK_STR(mt_err_field(o), "category");
    json_decref(o);
    REQUIRE(mt_call(&admin_a, "create_member",
                    "{\"category\":\"full\",\"profile\":{\"first_name\":\"A\"}}", &o) == 400);
    CHECK_STR(mt_err_field(o), "profile.last_name");
    json_decref(o);
    /* custom category */
    REQUIRE(mt_call(&admin_a, "create_member_category",
                    "{\"code\":\"platinum\",\"name\":\"Platinum\"}", NULL) == 201);
    CHECK_EQ_INT(mt_call(&admin_a, "create_member",
                         "{\"category\":\"platinum\",\"profile\":{\"first_name\":\"A\","
                         "\"last_name\":\"B\"}}",
                         NULL),
                 201);
    /* duplicate member number within the club: 409; another club may reuse it */
    CHECK_EQ_INT(mt_call(&admin_a, "create_member",
                         "{\"member_number\":\"DUP-1\",\"category\":\"full\",\"profile\":{"
                         "\"first_name\":\"A\",\"last_name\":\"B\"}}",
                         NULL),
                 201);
    REQUIRE(mt_call(&admin_a, "create_member",
                    "{\"member_number\":\"DUP-1\",\"category\":\"full\",\"profile\":{"
                    "\"first_name\":\"A\",\"last_name\":\"B\"}}",
                    &o) == 409);
    CHECK_STR(mt_err_field(o), "member_number");
    json_decref(o);
    CHECK_EQ_INT(mt_call(&admin_b, "create_member",
                         "{\"member_number\":\"DUP-1\",\"category\":\"full\",\"profile\":{"
                         "\"first_name\":\"A\",\"last_name\":\"B\"}}",
                         NULL),
                 201);
}

static void test_network_admin_names_club(void) {
    json_t *o = NULL;
    const char *body =
        "{\"category\":\"full\",\"profile\":{\"first_name\":\"N\",\"last_name\":\"A\"}}";
    REQUIRE(mt_call(&netadmin, "create_member", body, &o) == 400);
    CHECK_STR(mt_err_field(o), "club_id");
    json_decref(o);
    char in[512];
    snprintf(in, sizeof in,
             "{\"club_id\":\"%s\",\"category\":\"full\",\"profile\":{\"first_name\":\"N\","
             "\"last_name\":\"A\"}}",
             club_b);
    REQUIRE(mt_call(&netadmin, "create_member", in, &o) == 201);
    CHECK_STR(mt_str(o, "club_id"), club_b);
    json_decref(o);
    /* a club caller cannot name another club */
    REQUIRE(mt_call(&admin_a, "create_member", in, &o) == 403);
    CHECK_STR(mt_err_field(o), "club_id");
    json_decref(o);
    snprintf(in, sizeof in, "{\"club_id\":\"%s\"}", "00000000-0000-4000-8000-000000000000");
    CHECK_EQ_INT(mt_call(&netadmin, "list_members", in, NULL), 404);
}

/* Reaches `from` through allowed transitions. */
static int member_in(const char *from, char *id) {
    if (new_member(&admin_a, NULL, id) != 0) return -1;
    if (!strcmp(from, "pending")) return 0;
    if (!strcmp(from, "deceased"))
        return set_status(&admin_a, id, "deceased", NULL) == 200 ? 0 : -1;
    if (set_status(&admin_a, id, "active", NULL) != 200) return -1;
    if (!strcmp(from, "active")) return 0;
    return set_status(&admin_a, id, from, NULL) == 200 ? 0 : -1;
}

static void test_lifecycle_table(void) {
    static const char *const st[] = {"pending", "active",   "suspended",
                                     "lapsed",  "resigned", "deceased"};
    /* the issue's lifecycle, written out independently of the SQL */
    static const char *const allowed[] = {"active deceased",
                                          "suspended lapsed resigned deceased",
                                          "active resigned deceased",
                                          "active resigned deceased", /* renewal */
                                          "deceased",
                                          ""};
    for (int f = 0; f < 6; f++) {
        for (int t = 0; t < 6; t++) {
            char id[40];
            REQUIRE(member_in(st[f], id) == 0);
            json_t *o = NULL;
            int code = set_status(&admin_a, id, st[t], &o);
            char want[40];
            snprintf(want, sizeof want, " %s ", st[t]);
            char list[64];
            snprintf(list, sizeof list, " %s ", allowed[f]);
            int ok = strstr(list, want) != NULL;
            if (code != (ok ? 200 : 409)) printf("#   %s -> %s gave %d\n", st[f], st[t], code);
            CHECK_EQ_INT(code, ok ? 200 : 409);
            if (!ok) {
                CHECK_STR(mt_err_code(o), "invalid_transition");
                /* the message names the allowed statuses */
                const char *msg = mt_str(o, "error.message");
                const char *first = allowed[f][0] ? allowed[f] : "none";
                char word[16];
                sscanf(first, "%15s", word);
                CHECK(msg && strstr(msg, word));
            } else {
                CHECK_STR(mt_str(o, "status"), st[t]);
            }
            json_decref(o);
        }
    }
}

static void test_cascade_history(void) {
    char in[1024], id[40];
    json_t *o = NULL;
    snprintf(in, sizeof in,
             "{\"category\":\"full\",\"status\":\"active\",\"profile\":{\"first_name\":\"P\","
             "\"last_name\":\"Primary\"},\"dependents\":[{\"category\":\"social\","
             "\"relationship\":\"spouse\",\"profile\":{\"first_name\":\"S\",\"last_name\":"
             "\"Primary\"}},{\"category\":\"junior\",\"relationship\":\"child\",\"profile\":{"
             "\"first_name\":\"C\",\"last_name\":\"Primary\"}}]}");
    REQUIRE(mt_call(&admin_a, "create_member", in, &o) == 201);
    snprintf(id, sizeof id, "%s", mt_str(o, "id"));
    char d1[40];
    snprintf(d1, sizeof d1, "%s",
             mt_str(json_array_get(json_object_get(o, "dependents"), 0), "id"));
    json_decref(o);
    REQUIRE(set_status(&admin_a, id, "suspended", &o) == 200);
    json_t *ch = json_object_get(o, "changes");
    CHECK_EQ_INT(json_array_size(ch), 3);
    CHECK_STR(mt_str(json_array_get(ch, 1), "to"), "suspended");
    CHECK_STR(mt_str(json_array_get(ch, 1), "cascade_of"), id);
    json_decref(o);
    char ref[128];
    snprintf(ref, sizeof ref, "{\"id\":\"%s\"}", d1);
    REQUIRE(mt_call(&admin_a, "get_member", ref, &o) == 200);
    CHECK_STR(mt_str(o, "status"), "suspended");
    json_decref(o);
    /* reactivation brings back dependents suspended by the cascade */
    REQUIRE(set_status(&admin_a, id, "active", &o) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "changes")), 3);
    json_decref(o);
    /* history: who/when/why */
    REQUIRE(mt_call(&admin_a, "member_status_history", ref, &o) == 200);
    json_t *items = json_object_get(o, "items");
    CHECK_EQ_INT(json_array_size(items), 3); /* created, suspended, active */
    CHECK_STR(mt_str(json_array_get(items, 1), "cascade_of"), id);
    CHECK_STR(mt_str(json_array_get(items, 1), "changed_by"), admin_a.user_id);
    CHECK(mt_str(json_array_get(items, 1), "changed_at") != NULL);
    json_decref(o);
    /* resigning the primary ends the dependents */
    REQUIRE(set_status(&admin_a, id, "resigned", &o) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "changes")), 3);
    CHECK_STR(mt_str(json_array_get(json_object_get(o, "changes"), 2), "to"), "resigned");
    json_decref(o);
    CHECK_EQ_INT(count_events("member.status_changed", d1, NULL, NULL), 3);
    /* dependents of a dependent are refused */
    snprintf(in, sizeof in,
             "{\"id\":\"%s\",\"category\":\"junior\",\"relationship\":\"child\",\"profile\":{"
             "\"first_name\":\"G\",\"last_name\":\"G\"}}",
             d1);
    CHECK_EQ_INT(mt_call(&admin_a, "add_dependent", in, NULL), 409);
}

static void test_dependents_addresses(void) {
    char id[40], in[512];
    json_t *o = NULL;
    REQUIRE(new_member(&admin_a, "\"status\":\"active\"", id) == 0);
    snprintf(in, sizeof in,
             "{\"id\":\"%s\",\"category\":\"junior\",\"relationship\":\"child\",\"profile\":{"
             "\"first_name\":\"Kid\",\"last_name\":\"One\"}}",
             id);
    REQUIRE(mt_call(&staff_a, "add_dependent", in, &o) == 201);
    CHECK_STR(mt_str(o, "primary_member_id"), id);
    CHECK_STR(mt_str(o, "status"), "active");
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    REQUIRE(mt_call(&reader_a, "list_dependents", in, &o) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 1);
    json_decref(o);
    snprintf(in, sizeof in,
             "{\"id\":\"%s\",\"kind\":\"billing\",\"lines\":[\"PO Box 1\"],\"city\":\"Leeds\","
             "\"country\":\"gb\"}",
             id);
    REQUIRE(mt_call(&staff_a, "put_member_address", in, &o) == 200);
    CHECK_STR(mt_str(o, "addresses.billing.city"), "Leeds");
    json_decref(o);
    CHECK_EQ_INT(count_events("member.updated", id, "Leeds", NULL), 1);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"kind\":\"billing\",\"city\":\"Leeds\"}", id);
    REQUIRE(mt_call(&staff_a, "put_member_address", in, &o) == 400);
    CHECK_STR(mt_err_field(o), "country");
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"kind\":\"billing\"}", id);
    REQUIRE(mt_call(&staff_a, "delete_member_address", in, &o) == 200);
    CHECK(json_object_get(json_object_get(o, "addresses"), "billing") == NULL);
    json_decref(o);
    CHECK_EQ_INT(mt_call(&reader_a, "delete_member_address", in, NULL), 403);
}

static void test_search_pagination(void) {
    /* club B: 25 members with distinct names */
    static const char *const last[] = {"Smith", "Smythe", "Jones", "Brown", "Taylor"};
    for (int i = 0; i < 25; i++) {
        char in[512];
        snprintf(in, sizeof in,
                 "{\"member_number\":\"S%03d\",\"category\":\"%s\",\"status\":\"%s\","
                 "\"expires_on\":\"%d-06-30\",\"profile\":{\"first_name\":\"F%02d\","
                 "\"last_name\":\"%s\",\"email\":\"f%02d.%s@club.example\"}}",
                 i, i % 2 ? "social" : "full", i % 3 ? "active" : "pending", 2030 + i % 5, i,
                 last[i % 5], i, last[i % 5]);
        REQUIRE(mt_call(&admin_b, "create_member", in, NULL) == 201);
    }
    /* page through everything, no duplicates */
    json_t *seen = json_object();
    char after[700] = "";
    int pages = 0, total = 0;
    for (;;) {
        char in[800];
        snprintf(in, sizeof in, "{\"limit\":\"10\",\"q\":\"club\"%s%s%s}",
                 after[0] ? ",\"after\":\"" : "", after, after[0] ? "\"" : "");
        json_t *o = NULL;
        REQUIRE(mt_call(&admin_b, "list_members", in, &o) == 200);
        json_t *items = json_object_get(o, "items");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            CHECK(json_object_get(seen, mt_str(it, "id")) == NULL);
            json_object_set_new(seen, mt_str(it, "id"), json_true());
            total++;
        }
        pages++;
        const char *next = mt_str(o, "next_cursor");
        if (!next) {
            json_decref(o);
            break;
        }
        snprintf(after, sizeof after, "%s", next);
        json_decref(o);
        if (pages > 5) break;
    }
    json_decref(seen);
    CHECK_EQ_INT(total, 25);
    CHECK_EQ_INT(pages, 3);
    json_t *o = NULL;
    /* name prefix search */
    REQUIRE(mt_call(&admin_b, "list_members", "{\"q\":\"smi\",\"limit\":100}", &o) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 5);
    json_decref(o);
    REQUIRE(mt_call(&admin_b, "list_members", "{\"q\":\"sm\",\"limit\":100}", &o) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 10);
    json_decref(o);
    /* email and member number */
    REQUIRE(mt_call(&admin_b, "list_members", "{\"q\":\"f07.jones\"}", &o) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 1);
    json_decref(o);
    REQUIRE(mt_call(&admin_b, "list_members", "{\"q\":\"S01\"}", &o) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 10); /* S010..S019 */
    json_decref(o);
    /* filters and sort */
    REQUIRE(mt_call(&admin_b, "list_members",
                    "{\"q\":\"club\",\"status\":\"pending\",\"category\":\"full\",\"limit\":100}",
                    &o) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 5); /* i%6==0: 0,6,12,18,24 */
    json_decref(o);
    REQUIRE(mt_call(&admin_b, "list_members",
                    "{\"q\":\"club\",\"expires_before\":\"2031-01-01\",\"limit\":100}", &o) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 5);
    json_decref(o);
    REQUIRE(mt_call(&admin_b, "list_members",
                    "{\"q\":\"club\",\"sort\":\"-member_number\",\"limit\":2}", &o) == 200);
    CHECK_STR(mt_str(json_array_get(json_object_get(o, "items"), 0), "member_number"), "S024");
    CHECK_STR(mt_str(json_array_get(json_object_get(o, "items"), 1), "member_number"), "S023");
    char nxt[700];
    snprintf(nxt, sizeof nxt, "%s", mt_str(o, "next_cursor") ? mt_str(o, "next_cursor") : "");
    json_decref(o);
    char in[800];
    snprintf(in, sizeof in,
             "{\"q\":\"club\",\"sort\":\"-member_number\",\"limit\":2,\"after\":\"%s\"}", nxt);
    REQUIRE(mt_call(&admin_b, "list_members", in, &o) == 200);
    CHECK_STR(mt_str(json_array_get(json_object_get(o, "items"), 0), "member_number"), "S022");
    json_decref(o);
    /* a cursor of another sort is refused */
    snprintf(in, sizeof in, "{\"sort\":\"name\",\"after\":\"%s\"}", nxt);
    CHECK_EQ_INT(mt_call(&admin_b, "list_members", in, NULL), 400);
    CHECK_EQ_INT(mt_call(&admin_b, "list_members", "{\"after\":\"garbage\"}", NULL), 400);
    /* club A sees none of them */
    REQUIRE(mt_call(&admin_a, "list_members", "{\"q\":\"smith\"}", &o) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 0);
    json_decref(o);
}

/* Walks an EXPLAIN (FORMAT JSON) plan node: counts Seq Scans, (Only) Index Scans of the word
 * index with a range on word as index condition, and other accesses to search_words. */
typedef struct {
    int seq, word_range, word_other;
} plan_facts_t;

static void plan_walk(json_t *node, plan_facts_t *f) {
    const char *type = json_string_value(json_object_get(node, "Node Type"));
    const char *rel = json_string_value(json_object_get(node, "Relation Name"));
    const char *index = json_string_value(json_object_get(node, "Index Name"));
    const char *cond = json_string_value(json_object_get(node, "Index Cond"));
    if (type && strcmp(type, "Seq Scan") == 0) f->seq++;
    if (type && rel && !strcmp(rel, "search_words")) {
        /* an Index Scan or an Index Only Scan: which one the planner picks depends on how much
         * of the table the visibility map covers (autovacuum timing), not on the query */
        const char *filter = json_string_value(json_object_get(node, "Filter"));
        /* a filter only of per-row probes (SubPlan: the match order's, 0009) is fine */
        if ((!strcmp(type, "Index Only Scan") || !strcmp(type, "Index Scan")) && index &&
            !strcmp(index, "search_words_pkey") && cond && strstr(cond, "word >=") &&
            strstr(cond, "word <") &&
            (!filter || (strstr(filter, "SubPlan") && !strstr(filter, "~~"))))
            f->word_range++;
        else if ((!strcmp(type, "Index Only Scan") || !strcmp(type, "Index Scan")) && index &&
                 !strcmp(index, "search_words_member_word_idx") && cond &&
                 strstr(cond, "member_id =") && strstr(cond, "word >="))
            f->word_range++; /* match order: one member's words (0009) */
        else if ((!strcmp(type, "Index Only Scan") || !strcmp(type, "Index Scan")) && index &&
                 !strcmp(index, "search_words_name_prefix_idx") && cond &&
                 strstr(cond, "word3 =") && strstr(cond, "word >=") && strstr(cond, "word <"))
            f->word_range++; /* by name: a prefix's first three characters, in name order (0011) */
        else {
            f->word_other++;
            printf("#     search_words read by %s on %s, cond %s, filter %s\n", type,
                   index ? index : "-", cond ? cond : "-", filter ? filter : "-");
        }
    }
    size_t i;
    json_t *child;
    json_array_foreach(json_object_get(node, "Plans"), i, child) plan_walk(child, f);
}

/* The search stays an index range scan under RLS, checked on the plan rather than timed.
 * Sequential and bitmap scans are disabled so that the table sizes and statistics of the test
 * database do not matter: a condition that cannot be an index condition under the policy (a
 * non-leakproof operator or a function of the word column) would still show as a Seq Scan
 * or a scan with a Filter. (Whether the page is cut before members rows are read depends on
 * the planner's costs for the table sizes at hand: make bench measures that on 100k members.) */
static void test_search_plan(void) {
    static const char *const inputs[] = {
        "{\"q\":\"smi\"}",
        "{\"q\":\"sm\"}", /* short prefixes are plain parameters, longer ones InitPlans */
        "{\"q\":\"smi\",\"sort\":\"-created_at\"}",
        "{\"q\":\"f07 jones\"}",
        "{\"q\":\"club\",\"status\":\"pending\",\"category\":\"full\"}",
        "{\"q\":\"smi\",\"sort\":\"name\"}",
        "{\"q\":\"club smi\",\"sort\":\"-name\",\"status\":\"pending\"}",
        "{\"q\":\"S01\",\"sort\":\"-member_number\"}",
        "{\"q\":\"smi\",\"sort\":\"created_at\"}",
        "{\"q\":\"f07 jones\",\"sort\":\"created_at\"}",
        NULL,
    };
    /* Statistics as autovacuum would leave them (it may or may not have run by now): the plan
     * must not depend on that timing. */
    const char *owner_url = getenv("RECIPROCAL_TEST_OWNER_URL");
    REQUIRE(owner_url != NULL);
    PGconn *owner = PQconnectdb(owner_url);
    PGresult *r = PQexec(owner, "VACUUM ANALYZE member.search_words, member.members, "
                                "member.profiles");
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(owner);
    db_scope_t scope = {club_b, NULL, 0, 0};
    db_tx_t *tx = NULL;
    err_t e = {0};
    REQUIRE(db_begin(mt_pool, &scope, &tx, &e) == 0);
    r = PQexec(db_tx_conn(tx), "SET LOCAL enable_seqscan = off; "
                               "SET LOCAL enable_bitmapscan = off");
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    for (const char *const *in = inputs; *in; in++) {
        json_t *j = json_loads(*in, 0, NULL);
        r = members_query_plan(tx, j, 21, &e);
        json_decref(j);
        if (!r) printf("#   %s: %s\n", *in, e.message);
        CHECK(r != NULL);
        if (!r) continue;
        json_t *plan = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
        PQclear(r);
        plan_facts_t f = {0};
        plan_walk(json_object_get(json_array_get(plan, 0), "Plan"), &f);
        json_decref(plan);
        if (f.seq || !f.word_range || f.word_other)
            printf("#   %s: seq scans %d, word range scans %d, other word scans %d\n", *in, f.seq,
                   f.word_range, f.word_other);
        CHECK_EQ_INT(f.seq, 0);
        CHECK(f.word_range >= 1);
        CHECK_EQ_INT(f.word_other, 0);
    }
    db_rollback(tx);
}

/* The default order of a search is (created_at, id) like the listing's, both directions and
 * across pages: the same ids as the unfiltered list restricted to the matches. */
static void test_search_order(void) {
    json_t *all = NULL, *o = NULL;
    REQUIRE(mt_call(&admin_b, "list_members", "{\"limit\":100}", &all) == 200);
    json_t *want = json_array(); /* ids of the 10 Smith/Smythe members, in created order */
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(all, "items"), i, it) {
        const char *ln = mt_str(it, "profile.last_name");
        if (ln && !strncmp(ln, "Sm", 2)) json_array_append_new(want, json_string(mt_str(it, "id")));
    }
    json_decref(all);
    REQUIRE(json_array_size(want) == 10);
    for (int desc = 0; desc < 2; desc++) {
        char after[700] = "";
        size_t k = 0;
        for (int page = 0; page < 6; page++) {
            char in[900];
            snprintf(in, sizeof in, "{\"q\":\"sm\",\"limit\":3,\"sort\":\"%s\"%s%s%s}",
                     desc ? "-created_at" : "created_at", after[0] ? ",\"after\":\"" : "", after,
                     after[0] ? "\"" : "");
            REQUIRE(mt_call(&admin_b, "list_members", in, &o) == 200);
            json_array_foreach(json_object_get(o, "items"), i, it) {
                size_t at = desc ? json_array_size(want) - 1 - k : k;
                CHECK_STR(mt_str(it, "id"), json_string_value(json_array_get(want, at)));
                k++;
            }
            const char *next = mt_str(o, "next_cursor");
            snprintf(after, sizeof after, "%s", next ? next : "");
            json_decref(o);
            if (!after[0]) break;
        }
        CHECK_EQ_INT(k, 10);
    }
    json_decref(want);
}

/* Pages through list_members with in (a JSON object without its closing brace) and limit,
 * appending the ids to ids; returns the number of pages (0 on an error). */
static int match_pages(const svc_caller_t *c, const char *in, int limit, json_t *ids) {
    char after[700] = "";
    for (int page = 1; page <= 60; page++) {
        char req[1200];
        snprintf(req, sizeof req, "%s,\"limit\":%d%s%s%s}", in, limit,
                 after[0] ? ",\"after\":\"" : "", after, after[0] ? "\"" : "");
        json_t *o = NULL;
        if (mt_call(c, "list_members", req, &o) != 200) {
            printf("#   %s failed\n", req);
            json_decref(o);
            return 0;
        }
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(o, "items"), i, it)
            json_array_append_new(ids, json_string(mt_str(it, "id")));
        const char *next = mt_str(o, "next_cursor");
        snprintf(after, sizeof after, "%s", next ? next : "");
        json_decref(o);
        if (!after[0]) return page;
    }
    return 0;
}

/* ids holds each id once and the same ids as want (any order) */
static int same_id_set(json_t *ids, json_t *want) {
    if (json_array_size(ids) != json_array_size(want)) return 0;
    for (size_t i = 0; i < json_array_size(ids); i++) {
        int found = 0;
        for (size_t j = 0; j < json_array_size(want); j++)
            found += json_equal(json_array_get(ids, i), json_array_get(want, j));
        for (size_t j = i + 1; j < json_array_size(ids); j++)
            if (json_equal(json_array_get(ids, i), json_array_get(ids, j))) return 0;
        if (found != 1) return 0;
    }
    return 1;
}

/* A search without sort lists its matches in the match order (docs/member.md): at the member's
 * first word matching the driving (longest) word of q, then by id; number-only matches at
 * their number; each member once (a member with two matching words, or matching by words and
 * number, too), across pages, filters included; the same members as the search in the
 * default order. Its own club: 30 members, i % 3 == 0 "Smithy Smith", 1 "Smithers", 2
 * "Smyth", emails mNN@example.org, numbers Q000..Q029, member 0 also preferred name "q00". */
static void test_search_match_order(void) {
    char club[40], u[40], ids[30][40];
    REQUIRE(mt_club("mq", club) == 0);
    mt_uuid(u);
    svc_caller_t admin = mt_caller(club, u, 0, ADMIN_PERMS);
    static const char *const last[] = {"Smith", "Smithers", "Smyth"};
    for (int i = 0; i < 30; i++) {
        char in[512];
        snprintf(in, sizeof in,
                 "{\"member_number\":\"Q%03d\",\"category\":\"%s\",\"profile\":{\"first_name\":"
                 "\"%s\",\"last_name\":\"%s\",\"email\":\"m%02d@example.org\"%s}}",
                 i, i % 2 ? "social" : "full", i % 3 ? "Fred" : "Smithy", last[i % 3], i,
                 i ? "" : ",\"preferred_name\":\"q00\"");
        json_t *o = NULL;
        REQUIRE(mt_call(&admin, "create_member", in, &o) == 201);
        snprintf(ids[i], sizeof ids[i], "%s", mt_str(o, "id"));
        json_decref(o);
    }
    static const struct {
        const char *in;
        int n;
    } cases[] = {
        {"{\"q\":\"exa\"", 30},
        {"{\"q\":\"smi\"", 20},
        {"{\"q\":\"q00\"", 10},
        {"{\"q\":\"smi example\"", 20},
        {"{\"q\":\"exa\",\"category\":\"full\"", 15},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int limit = 1; limit <= 7; limit += 3) {
            json_t *got = json_array(), *want = json_array();
            char in[256];
            CHECK(match_pages(&admin, cases[c].in, limit, got) > 0);
            snprintf(in, sizeof in, "%s,\"sort\":\"created_at\"", cases[c].in);
            CHECK(match_pages(&admin, in, 100, want) == 1);
            CHECK_EQ_INT(json_array_size(want), cases[c].n);
            if (!same_id_set(got, want))
                printf("#   %s limit %d: other members\n", cases[c].in, limit);
            CHECK(same_id_set(got, want));
            /* the order: q=exa and q=smi example by id (one key, "example"); q=smi the Smith
             * members (key "smith", the Smithy ones once) then the Smithers; q=q00 member 0
             * (key "q00", also number Q000) first */
            for (size_t i = 1; i < json_array_size(got); i++) {
                const char *a = json_string_value(json_array_get(got, i - 1));
                const char *b = json_string_value(json_array_get(got, i));
                if (c == 0 || c == 3 || c == 4) CHECK(strcmp(a, b) < 0);
            }
            if (c == 1)
                for (size_t i = 0; i < json_array_size(got); i++) {
                    const char *id = json_string_value(json_array_get(got, i));
                    for (int k = 0; k < 30; k++)
                        if (!strcmp(id, ids[k])) CHECK_EQ_INT(k % 3, i < 10 ? 0 : 1);
                }
            if (c == 2) CHECK_STR(json_string_value(json_array_get(got, 0)), ids[0]);
            json_decref(got), json_decref(want);
        }
    /* a cursor of the match order is refused by another order, and the reverse */
    json_t *o = NULL;
    REQUIRE(mt_call(&admin, "list_members", "{\"q\":\"exa\",\"limit\":1}", &o) == 200);
    char in[900];
    snprintf(in, sizeof in, "{\"q\":\"exa\",\"sort\":\"created_at\",\"after\":\"%s\"}",
             mt_str(o, "next_cursor"));
    json_decref(o);
    CHECK_EQ_INT(mt_call(&admin, "list_members", in, NULL), 400);
}

/* The work of a search without sort is bounded by the page: on the test club of
 * test_search_match_order's size (all 30 match q=exa), EXPLAIN ANALYZE of a page of 4 reads at
 * most 4 + 2 rows from the word range and builds 4 + 1 documents. Before the match order
 * (default order created_at) every match was read and sorted. */
static void plan_rows(json_t *node, const char *which, long *range_rows, long *loops_max) {
    const char *rel = json_string_value(json_object_get(node, "Relation Name"));
    const char *index = json_string_value(json_object_get(node, "Index Name"));
    if (rel && !strcmp(rel, "search_words") && index && !strcmp(index, which))
        *range_rows += (long)json_integer_value(json_object_get(node, "Actual Rows"));
    long loops = (long)json_integer_value(json_object_get(node, "Actual Loops"));
    if (loops > *loops_max) *loops_max = loops;
    size_t i;
    json_t *child;
    json_array_foreach(json_object_get(node, "Plans"), i, child)
        plan_rows(child, which, range_rows, loops_max);
}

/* EXPLAIN ANALYZE of the search `input` (a page of 5) in tx: the rows read from the index
 * `which` of search_words into *rows and the most loops of any plan node into *loops. */
static void search_plan_rows(db_tx_t *tx, const char *input, const char *which, long *rows,
                             long *loops) {
    err_t e = {0};
    json_t *j = json_loads(input, 0, NULL);
    PGresult *r = members_query_plan(tx, j, 5, &e);
    json_decref(j);
    REQUIRE(r != NULL);
    json_t *plan = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    *rows = 0, *loops = 0;
    plan_rows(json_object_get(json_array_get(plan, 0), "Plan"), which, rows, loops);
    json_decref(plan);
}

static void test_search_bounded(void) {
    char club[40], u[40];
    REQUIRE(mt_club("mw", club) == 0);
    mt_uuid(u);
    svc_caller_t admin = mt_caller(club, u, 0, ADMIN_PERMS);
    for (int i = 0; i < 30; i++) {
        char in[512];
        snprintf(in, sizeof in,
                 "{\"category\":\"full\",\"profile\":{\"first_name\":\"Ann\",\"last_name\":"
                 "\"Lee%02d\",\"email\":\"w%02d@example.org\"}}",
                 i, i);
        REQUIRE(mt_call(&admin, "create_member", in, NULL) == 201);
    }
    db_scope_t scope = {club, NULL, 0, 0};
    db_tx_t *tx = NULL;
    err_t e = {0};
    REQUIRE(db_begin(mt_pool, &scope, &tx, &e) == 0);
    static const char *const inputs[] = {"{\"q\":\"exa\"}", "{\"q\":\"ann\"}",
                                         "{\"q\":\"exa ann\"}", NULL};
    for (const char *const *in = inputs; *in; in++) {
        long rows, loops;
        search_plan_rows(tx, *in, "search_words_pkey", &rows, &loops);
        if (rows > 6 + 1 || loops > 6)
            printf("#   %s: %ld rows of word ranges, at most %ld loops (30 matches)\n", *in, rows,
                   loops);
        CHECK(rows <= 6 + 1); /* the driving range, the number range's first row */
        CHECK(loops <= 6);    /* probes and member lookups per row read, not per match */
    }
    db_rollback(tx);
}

/* A search sorted by name (sort on the name key the word rows carry, migration 0007) lists
 * the matches in the order of the list by name, both directions and across pages, also after
 * a profile's name has changed (the triggers keep the copy, member number rows included). */
static void check_search_by_name(const char *q) {
    json_t *all = NULL, *hits = NULL, *o = NULL;
    char in[900];
    snprintf(in, sizeof in, "{\"q\":\"%s\",\"limit\":100}", q);
    REQUIRE(mt_call(&admin_b, "list_members", in, &hits) == 200);
    REQUIRE(mt_call(&admin_b, "list_members", "{\"sort\":\"name\",\"limit\":100}", &all) == 200);
    REQUIRE(json_is_null(json_object_get(all, "next_cursor")));
    json_t *want = json_array(); /* the matches' ids in the order of the list by name */
    size_t i, j;
    json_t *it, *h;
    json_array_foreach(json_object_get(all, "items"), i, it) {
        json_array_foreach(json_object_get(hits, "items"), j, h) {
            if (!strcmp(mt_str(it, "id"), mt_str(h, "id")))
                json_array_append_new(want, json_string(mt_str(it, "id")));
        }
    }
    REQUIRE(json_array_size(want) >= 1);
    CHECK_EQ_INT(json_array_size(want), json_array_size(json_object_get(hits, "items")));
    json_decref(all);
    json_decref(hits);
    for (int desc = 0; desc < 2; desc++) {
        char after[700] = "";
        size_t k = 0;
        for (int page = 0; page < 20; page++) {
            snprintf(in, sizeof in, "{\"q\":\"%s\",\"limit\":2,\"sort\":\"%s\"%s%s%s}", q,
                     desc ? "-name" : "name", after[0] ? ",\"after\":\"" : "", after,
                     after[0] ? "\"" : "");
            REQUIRE(mt_call(&admin_b, "list_members", in, &o) == 200);
            json_array_foreach(json_object_get(o, "items"), i, it) {
                size_t at = desc ? json_array_size(want) - 1 - k : k;
                CHECK_STR(mt_str(it, "id"), json_string_value(json_array_get(want, at)));
                k++;
            }
            const char *next = mt_str(o, "next_cursor");
            snprintf(after, sizeof after, "%s", next ? next : "");
            json_decref(o);
            if (!after[0]) break;
        }
        CHECK_EQ_INT(k, json_array_size(want));
    }
    json_decref(want);
}

static void test_search_name_order(void) {
    json_t *o = NULL;
    check_search_by_name("sm");
    check_search_by_name("club");
    /* the first Smith by name moves to the end of the alphabet, then back */
    REQUIRE(mt_call(&admin_b, "list_members", "{\"q\":\"sm\",\"sort\":\"name\",\"limit\":1}", &o) ==
            200);
    char id[40], last[80], in[300];
    snprintf(id, sizeof id, "%s", mt_str(json_array_get(json_object_get(o, "items"), 0), "id"));
    snprintf(last, sizeof last, "%s",
             mt_str(json_array_get(json_object_get(o, "items"), 0), "profile.last_name"));
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"profile\":{\"last_name\":\"Zz%s\"}}", id, last);
    REQUIRE(mt_call(&admin_b, "update_member", in, NULL) == 200);
    check_search_by_name("club");
    check_search_by_name("zz");
    REQUIRE(mt_call(&admin_b, "list_members", "{\"q\":\"club\",\"sort\":\"-name\",\"limit\":1}",
                    &o) == 200);
    CHECK_STR(mt_str(json_array_get(json_object_get(o, "items"), 0), "id"), id);
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"profile\":{\"last_name\":\"%s\"}}", id, last);
    REQUIRE(mt_call(&admin_b, "update_member", in, NULL) == 200);
    check_search_by_name("sm");
    check_search_by_name("club");
}

/* A search sorted by name whose longest word has 3+ characters walks the name rows of that
 * word's first three characters in name order (search_words_name_prefix_idx, migration 0011)
 * instead of sorting every match: the rows, documents, order and cursors must stay those of
 * the sorting search. Its own club of 40 members: shared names (equal name keys, ordered by id),
 * a member with several matching words, non-ASCII words, member numbers SM000..SM039 (number
 * matches, and member 0 found by word and by number), two-letter names; pages of 2 and 7 in
 * both directions, with and without filters. The expected list is the list by name (no q,
 * profiles_name_key_idx) restricted to the members the search in the default order finds (the
 * INTERSECT/UNION of word ranges): another path to the same answer. Pages (of 2 and 7, both
 * directions) are compared as JSON text (documents included) with the list's items. */
static void check_name_prefix(const svc_caller_t *admin, json_t *by_name, const char *q,
                              const char *filter) {
    json_t *hits = NULL;
    char in[1200];
    snprintf(in, sizeof in, "{\"q\":\"%s\",\"sort\":\"created_at\",\"limit\":100%s}", q, filter);
    REQUIRE(mt_call(admin, "list_members", in, &hits) == 200);
    json_t *want = json_array(); /* the list's items (dumped) of the matches, by name */
    size_t i, j;
    json_t *it, *h;
    json_array_foreach(json_object_get(by_name, "items"), i, it) {
        json_array_foreach(json_object_get(hits, "items"), j, h) {
            if (strcmp(mt_str(it, "id"), mt_str(h, "id"))) continue;
            char *d = jsonx_dump(it);
            json_array_append_new(want, json_string_nocheck(d));
            free(d);
        }
    }
    CHECK_EQ_INT(json_array_size(want), json_array_size(json_object_get(hits, "items")));
    json_decref(hits);
    size_t n = json_array_size(want);
    for (int desc = 0; desc < 2; desc++)
        for (int limit = 2; limit <= 7; limit += 5) {
            char after[700] = "";
            size_t k = 0;
            for (int page = 0; page < 45; page++) {
                json_t *o = NULL;
                snprintf(in, sizeof in, "{\"q\":\"%s\",\"limit\":%d,\"sort\":\"%s\"%s%s%s%s}", q,
                         limit, desc ? "-name" : "name", filter, after[0] ? ",\"after\":\"" : "",
                         after, after[0] ? "\"" : "");
                REQUIRE(mt_call(admin, "list_members", in, &o) == 200);
                json_array_foreach(json_object_get(o, "items"), i, it) {
                    char *got = jsonx_dump(it);
                    const char *w =
                        k < n ? json_string_value(json_array_get(want, desc ? n - 1 - k : k)) : "";
                    if (strcmp(got, w)) printf("#   %s: item %zu differs\n", in, k);
                    CHECK_STR(got, w);
                    free(got);
                    k++;
                }
                const char *next = mt_str(o, "next_cursor");
                snprintf(after, sizeof after, "%s", next ? next : "");
                json_decref(o);
                if (!after[0]) break;
            }
            if (k != n)
                printf("#   q=%s%s limit %d desc %d: %zu of %zu\n", q, filter, limit, desc, k, n);
            CHECK_EQ_INT(k, n);
        }
    json_decref(want);
}

static void test_search_name_prefix(void) {
    char club[40], u[40];
    REQUIRE(mt_club("mp", club) == 0);
    mt_uuid(u);
    svc_caller_t admin = mt_caller(club, u, 0, ADMIN_PERMS);
    static const char *const last[] = {"Smith", "Smithers", "Lovelace",      "L\u00f8v\u00e5s",
                                       "Ng",    "Smyth",    "Smith-Lovelace"};
    static const char *const first[] = {"Ada", "Smithy", "Lov", "Al"};
    for (int i = 0; i < 40; i++) {
        char in[600];
        snprintf(in, sizeof in,
                 "{\"member_number\":\"SM%03d\",\"category\":\"%s\",\"status\":\"%s\","
                 "\"profile\":{\"first_name\":\"%s\",\"last_name\":\"%s\",\"email\":"
                 "\"%s%02d@%s\"%s}}",
                 i, i % 2 ? "social" : "full", i % 4 ? "pending" : "active", first[i % 4],
                 last[i % 7], i % 3 ? "n" : "smith.", i, i % 5 ? "example.org" : "love.org",
                 i ? "" : ",\"preferred_name\":\"sm000\"");
        REQUIRE(mt_call(&admin, "create_member", in, NULL) == 201);
    }
    json_t *by_name = NULL;
    REQUIRE(mt_call(&admin, "list_members", "{\"sort\":\"name\",\"limit\":100}", &by_name) == 200);
    REQUIRE(json_array_size(json_object_get(by_name, "items")) == 40);
    static const char *const qs[] = {"smi",       "lov",          "l\u00f8v", "sm0", "sm000",
                                     "smith lov", "lovelace smi", "exa",      "ng",  "zzz",
                                     "ada sm0",   "smithers",     "sm",       "l",   "lo",
                                     "\u00f8",    "a lo",         "s",        NULL};
    for (const char *const *q = qs; *q; q++) {
        check_name_prefix(&admin, by_name, *q, "");
        check_name_prefix(&admin, by_name, *q,
                          q - qs < 4 ? ",\"category\":\"social\"" : ",\"status\":\"active\"");
    }
    json_decref(by_name);
    /* bounded by the page: a page of 4 when 32 of the 40 members match q=exa (all but the
     * love.org e-mails) or most match q=smith reads at most 4 + 2 rows of the name prefix index
     * (the sorting search read every match from search_words_pkey); q=ex and q=e (one word3
     * value, "exa", in this club) read one range's page and the loose scan's two probes */
    db_scope_t scope = {club, NULL, 0, 0};
    db_tx_t *tx = NULL;
    err_t e = {0};
    REQUIRE(db_begin(mt_pool, &scope, &tx, &e) == 0);
    static const char *const inputs[] = {
        "{\"q\":\"exa\",\"sort\":\"name\"}",   "{\"q\":\"exa\",\"sort\":\"-name\"}",
        "{\"q\":\"smith\",\"sort\":\"name\"}", "{\"q\":\"ex\",\"sort\":\"name\"}",
        "{\"q\":\"e\",\"sort\":\"-name\"}",    NULL};
    for (const char *const *in = inputs; *in; in++) {
        long rows, loops;
        search_plan_rows(tx, *in, "search_words_name_prefix_idx", &rows, &loops);
        if (rows < 1 || rows > 7 || loops > 6)
            printf("#   %s: %ld rows of the name prefix index, at most %ld loops\n", *in, rows,
                   loops);
        CHECK(rows >= 1 && rows <= 7);
        CHECK(loops <= 6);
    }
    db_rollback(tx);
}

static long long count_members(const svc_caller_t *c) {
    json_t *o = NULL;
    if (mt_call(c, "export_members", "{}", &o) != 200) return -1;
    const char *body = mt_str(o, "$raw.body");
    long long n = -1; /* header */
    for (const char *p = body; p && *p; p++)
        n += *p == '\n';
    json_decref(o);
    return n;
}

static json_t *import(const svc_caller_t *c, const char *csv, int dry, int *status) {
    json_t *in = json_pack("{s:s, s:b}", "csv", csv, "dry_run", dry);
    char *s = jsonx_dump(in);
    json_decref(in);
    json_t *o = NULL;
    *status = mt_call(c, "import_members", s, &o);
    free(s);
    return o;
}

static int has_error(json_t *o, int line, const char *column) {
    size_t i;
    json_t *er;
    json_array_foreach(json_object_get(o, "errors"), i, er) {
        if (json_integer_value(json_object_get(er, "line")) == line &&
            !strcmp(mt_str(er, "column"), column))
            return 1;
    }
    return 0;
}

static void test_import(void) {
    char club_c[40];
    REQUIRE(mt_club("imp", club_c) == 0);
    char u[40];
    mt_uuid(u);
    svc_caller_t admin_c = mt_caller(club_c, u, 0, ADMIN_PERMS);
    const char *bad = "member_number,category,first_name,last_name,email,phone,country\n"
                      "C1,full,Ann,Able,ann@example.com,+447700900001,GB\n" /* line 2 ok */
                      "C2,full,Ben,Baker,not-an-email,,GB\n"                /* line 3 email */
                      "C3,platinum,Cat,Cole,,,GB\n"                         /* line 4 category */
                      "C1,full,Dan,Dale,,,GB\n"                             /* line 5 duplicate */
                      "C5,full,\"Eve, Jr\",,,,GB\n"                         /* line 6 last_name */
                      "C6,full,Fay,Fox,,+44,GB\n"                           /* line 7 phone */
                      "C7,full,Gus,\"Grey\nSecond\",,,GB\n" /* line 8-9: newline ok? */
                      "C8,full,Hal,Hill,,,Britain\n";       /* line 10 country */
    int st = 0;
    json_t *o = import(&admin_c, bad, 1, &st);
    REQUIRE(st == 200);
    CHECK(json_is_false(json_object_get(o, "valid")));
    CHECK(has_error(o, 3, "email"));
    CHECK(has_error(o, 4, "category"));
    CHECK(has_error(o, 5, "member_number"));
    CHECK(has_error(o, 6, "last_name"));
    CHECK(has_error(o, 7, "phone"));
    CHECK(has_error(o, 10, "country"));
    CHECK(!has_error(o, 2, "email"));
    if (test_current_failed_) {
        char *d = jsonx_dump(o);
        printf("#   %s\n", d);
        free(d);
    }
    json_decref(o);
    /* header problems are line 1 */
    o = import(&admin_c, "category,first_name,nickname\nfull,A,B\n", 1, &st);
    REQUIRE(st == 200);
    CHECK(has_error(o, 1, "nickname"));
    CHECK(has_error(o, 1, "last_name"));
    json_decref(o);
    /* the real import refuses the whole file: nothing written */
    o = import(&admin_c, bad, 0, &st);
    CHECK_EQ_INT(st, 422);
    CHECK_STR(mt_err_code(o), "import_invalid");
    CHECK_STR(mt_err_field(o), "email");
    json_decref(o);
    CHECK_EQ_INT(count_members(&admin_c), 0);
    /* a dry run of a clean file writes nothing either */
    const char *good = "member_number,category,status,first_name,last_name,email,"
                       "primary_member_number,relationship,city,country\n"
                       "G1,full,active,Ann,Able,ann@example.com,,,York,GB\n"
                       "G2,social,active,Bob,Able,,G1,spouse,,\n"
                       ",junior,pending,Cy,Able,,,,,\n";
    o = import(&admin_c, good, 1, &st);
    REQUIRE(st == 200);
    CHECK(json_is_true(json_object_get(o, "valid")));
    json_decref(o);
    CHECK_EQ_INT(count_members(&admin_c), 0);
    o = import(&admin_c, good, 0, &st);
    REQUIRE(st == 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "imported")), 3);
    json_decref(o);
    CHECK_EQ_INT(count_members(&admin_c), 3);
    REQUIRE(mt_call(&admin_c, "list_members", "{\"q\":\"G2\"}", &o) == 200);
    json_t *g2 = json_array_get(json_object_get(o, "items"), 0);
    CHECK(mt_str(g2, "primary_member_id") != NULL);
    CHECK_STR(mt_str(g2, "relationship"), "spouse");
    json_decref(o);
    /* importing the same numbers again: conflict reported by line, nothing written */
    o = import(&admin_c, good, 1, &st);
    CHECK(has_error(o, 2, "member_number"));
    json_decref(o);

    /* 10,000 rows */
    size_t cap = 10001 * 120, len = 0;
    char *big = malloc(cap);
    REQUIRE(big != NULL);
    len += (size_t)snprintf(big + len, cap - len,
                            "member_number,category,status,joined_on,expires_on,first_name,"
                            "last_name,email,phone,city,country\n");
    for (int i = 0; i < 10000; i++)
        len += (size_t)snprintf(big + len, cap - len,
                                "B%05d,%s,active,2020-01-01,2030-12-31,First%d,Last%d,"
                                "m%d@example.com,+4477009%05d,London,GB\n",
                                i, i % 3 ? "full" : "social", i, i, i, i);
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    o = import(&admin_c, big, 1, &st);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_EQ_INT(st, 200);
    CHECK(json_is_true(json_object_get(o, "valid")));
    json_decref(o);
    o = import(&admin_c, big, 0, &st);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    CHECK_EQ_INT(st, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "imported")), 10000);
    json_decref(o);
    double dry_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double imp_s = (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9;
    printf("# import of 10000 rows (%zu bytes, ASan build): dry run %.2f s, import %.2f s\n", len,
           dry_s, imp_s); /* a measurement, not a check: make bench times the import */
    free(big);
    CHECK_EQ_INT(count_members(&admin_c), 10003);
}

static void test_export_csv(void) {
    json_t *o = NULL;
    REQUIRE(mt_call(&reader_a, "export_members", "{\"status\":\"pending\",\"sort\":\"name\"}",
                    &o) == 200);
    const char *ct = NULL, *fn = NULL, *body = NULL;
    REQUIRE(svc_raw_parts(o, &ct, &fn, &body) == 1);
    CHECK_STR(ct, "text/csv; charset=utf-8");
    CHECK_STR(fn, "members.csv");
    CHECK(strncmp(body, "id,member_number,category,status,", 33) == 0);
    CHECK(strstr(body, ",active,") == NULL);
    CHECK(strstr(body, ",pending,") != NULL);
    json_decref(o);
    CHECK_EQ_INT(mt_call(&member_a, "export_members", "{}", NULL), 403);
}

/* CSV formula injection (docs/security.md D1): the OWASP list of leading characters and the
 * payloads that slipped through the old "+/- then a digit" exemption are exported as text
 * ("'..."); only a cell that is entirely a number or an E.164 phone number stays raw. */
static void test_export_csv_formula(void) {
    static const char *const risky[] = {"=1+1",
                                        "+1+cmd|' /C calc'!A0",
                                        "-2+3+cmd|' /C calc'!A0",
                                        "-1+HYPERLINK(\"http://x\")",
                                        "@SUM(1+1)",
                                        "+",
                                        "-",
                                        "=",
                                        "\tx",
                                        "\rx",
                                        "\n=1",
                                        " =1+1",
                                        "  @x",
                                        "+1-",
                                        "-1e",
                                        "+44 7700 900123",
                                        "--1",
                                        "\xef\xbc\x9d"
                                        "1+1" /* U+FF1D */,
                                        "\xef\xbc\x8b"
                                        "1" /* U+FF0B */,
                                        "\xef\xbc\x8d"
                                        "1" /* U+FF0D */,
                                        "\xef\xbc\xa0x" /* U+FF20 */,
                                        NULL};
    static const char *const plain[] = {"1",   "-12",           "+3.5",  "-0.25e-3",
                                        ".5",  "+447700900123", "Smith", "O'Brien",
                                        "a=b", "2024-01-01",    "",      NULL};
    for (int i = 0; risky[i]; i++) {
        if (!member_csv_formula_risky(risky[i])) printf("#   not quoted: [%s]\n", risky[i]);
        CHECK(member_csv_formula_risky(risky[i]));
    }
    for (int i = 0; plain[i]; i++) {
        if (member_csv_formula_risky(plain[i])) printf("#   quoted: [%s]\n", plain[i]);
        CHECK(!member_csv_formula_risky(plain[i]));
    }
    CHECK(!member_csv_formula_risky(NULL));

    /* through the export: names carrying the bypass payloads come out as text */
    char id[40];
    REQUIRE(new_member(&admin_a, NULL, id) == 0);
    char in[512];
    snprintf(in, sizeof in,
             "{\"id\":\"%s\",\"profile\":{\"first_name\":\"+1+cmd|' /C calc'!A0\","
             "\"last_name\":\"-1+HYPERLINK(\\\"http://evil\\\")\",\"preferred_name\":"
             "\"-2+3+cmd|' /C calc'!A0\",\"phone\":\"+447700900123\"}}",
             id);
    REQUIRE(mt_call(&admin_a, "update_member", in, NULL) == 200);
    json_t *o = NULL;
    REQUIRE(mt_call(&admin_a, "export_members", "{\"status\":\"pending\"}", &o) == 200);
    const char *ct = NULL, *fn = NULL, *body = NULL;
    REQUIRE(svc_raw_parts(o, &ct, &fn, &body) == 1);
    CHECK(strstr(body, ",\"'-2+3+cmd|' /C calc'!A0\",") != NULL);
    CHECK(strstr(body, ",\"'+1+cmd|' /C calc'!A0\",") != NULL);
    CHECK(strstr(body, ",\"'-1+HYPERLINK(\"\"http://evil\"\")\",") != NULL);
    CHECK(strstr(body, ",+447700900123,") != NULL);
    if (!strstr(body, "'+1+cmd")) printf("#   export: %s\n", body);
    json_decref(o);
}

/* Bidirectional controls in names (docs/security.md D2): 422 naming the field, for a member's
 * names, a dependent's, and a club's name (create and update). */
static int bidi_error(const svc_caller_t *c, const char *op, const char *in, const char *field) {
    json_t *o = NULL;
    int st = mt_call(c, op, in, &o);
    const char *f = json_string_value(json_object_get(json_object_get(o, "error"), "field"));
    int ok = st == 422 && f && strcmp(f, field) == 0;
    if (!ok) {
        char *d = jsonx_dump(o);
        printf("#   %s: %d %s (want 422 %s)\n", op, st, d ? d : "", field);
        free(d);
    }
    json_decref(o);
    return ok;
}

static void test_names_bidi(void) {
    CHECK(bidi_error(&admin_a, "create_member",
                     "{\"category\":\"full\",\"profile\":{\"first_name\":\"Ann\u202Egnp\","
                     "\"last_name\":\"Lee\"}}",
                     "profile.first_name"));
    CHECK(bidi_error(&admin_a, "create_member",
                     "{\"category\":\"full\",\"profile\":{\"first_name\":\"Ann\","
                     "\"last_name\":\"\u2067Lee\"}}",
                     "profile.last_name"));
    CHECK(bidi_error(&admin_a, "create_member",
                     "{\"category\":\"full\",\"profile\":{\"first_name\":\"Ann\","
                     "\"last_name\":\"Lee\"},\"dependents\":[{\"category\":\"junior\","
                     "\"relationship\":\"child\",\"profile\":{\"first_name\":\"Bo\u200F\",\"last_"
                     "name\":\"Lee\"}}]}",
                     "dependents[0].profile.first_name"));
    char id[40], in[512];
    REQUIRE(new_member(&admin_a, NULL, id) == 0);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"profile\":{\"preferred_name\":\"x\u061Cy\"}}", id);
    CHECK(bidi_error(&admin_a, "update_member", in, "profile.preferred_name"));
    CHECK(bidi_error(&netadmin, "create_club",
                     "{\"name\":\"Harbour \u202Ebulc\",\"slug\":\"bidi-club\","
                     "\"timezone\":\"Europe/London\",\"address\":{\"country\":\"GB\"}}",
                     "name"));
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"name\":\"\u2066Club\u2069\"}", club_a);
    CHECK(bidi_error(&netadmin, "update_club", in, "name"));
}

static void test_privacy(void) {
    char id[40], in[512];
    json_t *o = NULL;
    char user[40];
    REQUIRE(mt_account(club_a, user) == 0);
    snprintf(in, sizeof in,
             "{\"category\":\"full\",\"status\":\"active\",\"auth_user_id\":\"%s\",\"profile\":{"
             "\"first_name\":\"Gdpr\",\"last_name\":\"Subject\",\"email\":\"subject@example.com\","
             "\"date_of_birth\":\"1980-02-29\"},\"addresses\":{\"home\":{\"city\":\"Bath\","
             "\"country\":\"GB\"}}}",
             user);
    REQUIRE(mt_call(&admin_a, "create_member", in, &o) == 201);
    snprintf(id, sizeof id, "%s", mt_str(o, "id"));
    json_decref(o);
    svc_caller_t self = mt_caller(club_a, user, 0, "");
    REQUIRE(mt_call(&self, "export_me", "{}", &o) == 200);
    const char *ct, *fn, *body;
    REQUIRE(svc_raw_parts(o, &ct, &fn, &body) == 1);
    CHECK_STR(ct, "application/json; charset=utf-8");
    json_t *data = json_loads(body, 0, NULL);
    CHECK_STR(mt_str(data, "member.profile.email"), "subject@example.com");
    CHECK_STR(mt_str(data, "member.addresses.home.city"), "Bath");
    CHECK_EQ_INT(json_array_size(json_object_get(data, "status_history")), 1);
    json_decref(data);
    json_decref(o);
    CHECK_EQ_INT(mt_call(&anon_a, "export_me", "{}", NULL), 401);
    CHECK_EQ_INT(mt_call(&admin_b, "export_me", "{}", NULL), 404);

    /* erasure: admin only, ended members only */
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    CHECK_EQ_INT(mt_call(&staff_a, "erase_member", in, NULL), 403);
    REQUIRE(mt_call(&admin_a, "erase_member", in, &o) == 409);
    CHECK_STR(mt_err_field(o), "status");
    json_decref(o);
    REQUIRE(set_status(&admin_a, id, "resigned", NULL) == 200);
    REQUIRE(mt_call(&admin_a, "erase_member", in, &o) == 200);
    CHECK(json_is_true(json_object_get(o, "erased")));
    CHECK_STR(mt_str(o, "profile.first_name"), "Erased");
    CHECK(json_is_null(json_object_get(json_object_get(o, "profile"), "email")));
    CHECK(json_is_null(json_object_get(json_object_get(o, "profile"), "date_of_birth")));
    CHECK_EQ_INT(json_object_size(json_object_get(o, "addresses")), 0);
    CHECK(json_is_null(json_object_get(o, "auth_user_id")));
    CHECK(mt_str(o, "member_number") != NULL);
    CHECK_STR(mt_str(o, "status"), "resigned");
    json_decref(o);
    CHECK_EQ_INT(mt_call(&admin_a, "erase_member", in, NULL), 409);
    /* search no longer finds the name; the event names fields only */
    REQUIRE(mt_call(&admin_a, "list_members", "{\"q\":\"subject\"}", &o) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 0);
    json_decref(o);
    int leak = 0;
    CHECK_EQ_INT(count_events("member.erased", id, "subject@", &leak), 1);
    CHECK(!leak);
    /* the admin export still works (audit trail with export + erase) */
    REQUIRE(mt_call(&admin_a, "export_member_data", in, &o) == 200);
    REQUIRE(svc_raw_parts(o, &ct, &fn, &body) == 1);
    CHECK(strstr(body, "subject@example.com") == NULL);
    CHECK(strstr(body, "\"erase\"") != NULL);
    json_decref(o);
}

static void test_card(void) {
    char id[40], in[512];
    json_t *o = NULL;
    REQUIRE(new_member(&admin_a, "\"status\":\"active\",\"expires_on\":\"2099-01-01\"", id) == 0);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    REQUIRE(mt_call(&reader_a, "get_member_card", in, &o) == 200);
    char token[2048];
    snprintf(token, sizeof token, "%s", mt_str(o, "token"));
    CHECK(strncmp(token, "MC1.", 4) == 0);
    CHECK(mt_str(o, "qr_svg") && strstr(mt_str(o, "qr_svg"), "<svg"));
    CHECK_STR(mt_str(o, "card.mid"), id);
    CHECK_STR(mt_str(o, "card.club"), club_a);
    CHECK_STR(mt_str(o, "card.st"), "active");
    json_decref(o);
    /* verified online by a host club */
    char vin[2200];
    snprintf(vin, sizeof vin, "{\"token\":\"%s\"}", token);
    REQUIRE(mt_call(&reader_a, "verify_card", vin, &o) == 200);
    CHECK(json_is_true(json_object_get(o, "valid")));
    json_decref(o);
    svc_caller_t host = mt_caller(club_b, NULL, 0, "visit:verify");
    REQUIRE(mt_call(&host, "verify_card", vin, &o) == 200);
    CHECK(json_is_true(json_object_get(o, "valid")));
    json_decref(o);
    /* offline with the published key */
    char kin[128];
    snprintf(kin, sizeof kin, "{\"id\":\"%s\"}", club_a);
    svc_caller_t nobody = mt_caller(NULL, NULL, 0, "");
    REQUIRE(mt_call(&nobody, "club_card_key", kin, &o) == 200);
    const char *pkb = mt_str(json_array_get(json_object_get(o, "keys"), 0), "public_key");
    REQUIRE(pkb != NULL);
    size_t pkl = 0;
    unsigned char *pk = jsonx_b64url_decode(pkb, &pkl);
    json_decref(o);
    REQUIRE(pk && pkl == 32);
    char reason[48];
    long long now = (long long)time(NULL);
    CHECK_EQ_INT(card_check_offline(token, pk, now, NULL, reason, sizeof reason), 1);
    CHECK_EQ_INT(card_check_offline(token, pk, now + 86400 + 5, NULL, reason, sizeof reason), 0);
    CHECK_STR(reason, "token_expired");
    /* tampered: change one payload character */
    char bad[2048];
    snprintf(bad, sizeof bad, "%s", token);
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(card_check_offline(bad, pk, now, NULL, reason, sizeof reason), 0);
    CHECK(!strcmp(reason, "bad_signature") || !strcmp(reason, "malformed"));
    snprintf(vin, sizeof vin, "{\"token\":\"%s\"}", bad);
    REQUIRE(mt_call(&reader_a, "verify_card", vin, &o) == 200);
    CHECK(json_is_false(json_object_get(o, "valid")));
    json_decref(o);
    free(pk);
    /* short token lifetime */
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"ttl_seconds\":\"60\"}", id);
    REQUIRE(mt_call(&reader_a, "get_member_card", in, &o) == 200);
    CHECK(json_integer_value(json_object_get(json_object_get(o, "card"), "tex")) <= now + 61);
    json_decref(o);
    /* suspended: the card fails online */
    REQUIRE(set_status(&admin_a, id, "suspended", NULL) == 200);
    snprintf(vin, sizeof vin, "{\"token\":\"%s\"}", token);
    REQUIRE(mt_call(&reader_a, "verify_card", vin, &o) == 200);
    CHECK(json_is_false(json_object_get(o, "valid")));
    CHECK_STR(mt_str(o, "reason"), "member_suspended");
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    CHECK_EQ_INT(mt_call(&reader_a, "get_member_card", in, NULL), 409);
    /* expired membership */
    char old[40];
    REQUIRE(new_member(&admin_a,
                       "\"status\":\"active\",\"joined_on\":\"2019-01-01\",\"expires_on\":"
                       "\"2020-01-01\"",
                       old) == 0);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", old);
    REQUIRE(mt_call(&reader_a, "get_member_card", in, &o) == 200);
    snprintf(vin, sizeof vin, "{\"token\":\"%s\"}", mt_str(o, "token"));
    json_decref(o);
    REQUIRE(mt_call(&reader_a, "verify_card", vin, &o) == 200);
    CHECK_STR(mt_str(o, "reason"), "membership_expired");
    json_decref(o);
    /* a member gets their own card only */
    char mine[40];
    REQUIRE(new_member(&admin_a, "\"status\":\"active\"", mine) == 0);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", mine);
    CHECK_EQ_INT(mt_call(&member_a, "get_member_card", in, NULL), 404);
    REQUIRE(mt_call(&reader_a, "verify_card", "{\"token\":\"MC1.xx.yy\"}", &o) == 200);
    CHECK_STR(mt_str(o, "reason"), "malformed");
    json_decref(o);
}

static void test_lapse_sweep(void) {
    char id[40], in[512];
    json_t *o = NULL;
    snprintf(in, sizeof in,
             "{\"category\":\"full\",\"status\":\"active\",\"joined_on\":\"2019-01-01\","
             "\"expires_on\":\"2021-01-01\",\"profile\":{\"first_name\":\"L\",\"last_name\":"
             "\"Lapse\"},\"dependents\":[{\"category\":\"junior\",\"relationship\":\"child\","
             "\"profile\":{\"first_name\":\"K\",\"last_name\":\"Lapse\"}}]}");
    REQUIRE(mt_call(&admin_a, "create_member", in, &o) == 201);
    snprintf(id, sizeof id, "%s", mt_str(o, "id"));
    json_decref(o);
    CHECK_EQ_INT(mt_call(&staff_a, "lapse_sweep", "{}", NULL), 403);
    REQUIRE(mt_call(&admin_a, "lapse_sweep", "{}", &o) == 200);
    CHECK(json_integer_value(json_object_get(o, "lapsed")) >= 2);
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    REQUIRE(mt_call(&admin_a, "get_member", in, &o) == 200);
    CHECK_STR(mt_str(o, "status"), "lapsed");
    json_decref(o);
    /* a network administrator sweeps every club; nothing left to lapse in A */
    REQUIRE(mt_call(&netadmin, "lapse_sweep", "{\"as_of\":\"2000-01-01\"}", &o) == 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "lapsed")), 0);
    CHECK(json_integer_value(json_object_get(o, "clubs")) >= 2);
    json_decref(o);
}

/* The member module's start hook runs the sweep on its own every RECIPROCAL_MEMBER_SWEEP_SECONDS.
 */
static void test_scheduled_sweep(void) {
    json_t *o = NULL;
    const char *in = "{\"category\":\"full\",\"status\":\"active\",\"joined_on\":\"2019-01-01\","
                     "\"expires_on\":\"2022-01-01\",\"profile\":{\"first_name\":\"S\","
                     "\"last_name\":\"Scheduled\"}}";
    REQUIRE(mt_call(&admin_a, "create_member", in, &o) == 201);
    char q[128];
    snprintf(q, sizeof q, "{\"id\":\"%s\"}", mt_str(o, "id"));
    json_decref(o);
    err_t e = {0};
    mt_settings(&mt_set)->sweep_s = 1;
    REQUIRE(member_module.start && member_module.start(&mt_env, &e) == 0);
    int lapsed = 0;
    for (int i = 0; i < 50 && !lapsed; i++) {
        o = NULL;
        if (mt_call(&admin_a, "get_member", q, &o) == 200 && !strcmp(mt_str(o, "status"), "lapsed"))
            lapsed = 1;
        json_decref(o);
        if (!lapsed) usleep(100000);
    }
    member_module.stop();
    mt_settings(&mt_set)->sweep_s = 0;
    CHECK(lapsed);
}

static void test_directory_settings(void) {
    json_t *o = NULL;
    /* the member (Alice, opted in, active) sees the directory of their club */
    REQUIRE(mt_call(&member_a, "member_directory", "{\"limit\":100}", &o) == 200);
    json_t *items = json_object_get(o, "items");
    int found = 0;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        if (mt_str(it, "display_name") && strstr(mt_str(it, "display_name"), "Harbour")) found = 1;
        CHECK(json_object_get(it, "email") == NULL);
    }
    CHECK(found);
    json_decref(o);
    CHECK_EQ_INT(mt_call(&anon_a, "member_directory", "{}", NULL), 401);
    /* number pattern */
    REQUIRE(mt_call(&admin_a, "update_member_settings",
                    "{\"number_pattern\":\"HC-{yyyy}-{seq:4}\",\"next_seq\":7}", &o) == 200);
    CHECK_STR(mt_str(o, "number_pattern"), "HC-{yyyy}-{seq:4}");
    json_decref(o);
    REQUIRE(
        mt_call(&admin_a, "create_member",
                "{\"category\":\"full\",\"profile\":{\"first_name\":\"N\",\"last_name\":\"P\"}}",
                &o) == 201);
    const char *num = mt_str(o, "member_number");
    CHECK(num && strncmp(num, "HC-", 3) == 0 && strlen(num) == 12 && !strcmp(num + 8, "0007"));
    json_decref(o);
    REQUIRE(mt_call(&admin_a, "update_member_settings", "{\"number_pattern\":\"X{bad}\"}", &o) ==
            422);
    CHECK_STR(mt_err_field(o), "number_pattern");
    json_decref(o);
    CHECK_EQ_INT(mt_call(&staff_a, "get_member_settings", "{}", NULL), 403);
    REQUIRE(mt_call(&reader_a, "list_member_categories", "{}", &o) == 200);
    CHECK(json_array_size(json_object_get(o, "items")) >= 8);
    json_decref(o);
}

/* The pass-through reads (core/json.h jsonx_raw; docs/architecture.md "JSON pass-through"):
 * what the gateway sends (svc_dispatch_raw, PostgreSQL's documents spliced into the envelope
 * unparsed) is byte for byte what the old path sends (svc_dispatch: every document parsed by
 * jansson, the whole answer printed by jansson), for a member get, the list in three orders,
 * a search, the directory, a club get (by id and slug) and the club list, with names in many
 * scripts, quotes, backslashes and emoji; and the raw path really carries raw values. */
static int dump_both(const svc_caller_t *c, const char *op, const char *input, int *raw_seen) {
    const svc_op_t *o = svc_find_op(&member_module, op);
    json_t *in1 = json_loads(input, 0, NULL), *in2 = json_loads(input, 0, NULL);
    json_t *old = NULL, *raw = NULL;
    err_t e1 = {0}, e2 = {0};
    int s1 = 0, s2 = 0, same = 0;
    if (o && in1 && in2) {
        svc_dispatch(&mt_env, &member_module, o, c, in1, &s1, &old, &e1);
        svc_dispatch_raw(&mt_env, &member_module, o, c, in2, &s2, &raw, &e2);
    }
    char *a = old ? jsonx_dump(old) : NULL, *b = raw ? jsonx_dump(raw) : NULL;
    same = s1 == 200 && s2 == 200 && a && b && strcmp(a, b) == 0;
    if (!same)
        printf("#   %s %s: %d %s\n#   raw: %d %s\n", op, input, s1, a ? a : e1.message, s2,
               b ? b : e2.message);
    if (raw &&
        (jsonx_is_raw(raw) || jsonx_is_raw(json_array_get(json_object_get(raw, "items"), 0))))
        (*raw_seen)++;
    free(a), free(b);
    json_decref(old), json_decref(raw), json_decref(in1), json_decref(in2);
    return same;
}

static void test_passthrough_identical(void) {
    static const char *const names[][2] = {
        {"Zo\u00eb", "\u00c5ngstr\u00f6m"},
        {"Fran\u00e7ois", "O'Brien \\\"Q\\\" back\\\\slash"},
        {"\u6771\u4eac", "\u5c71\u7530"},
        {"Emoji \U0001F600", "\u0417\u043e\u044f"},
        {"\u0645\u0631\u064a\u0645", "Nu\u00f1ez"},
    };
    char id[40] = "", in[1024];
    json_t *o = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(in, sizeof in,
                 "{\"category\":\"full\",\"status\":\"active\",\"directory_opt_in\":true,"
                 "\"profile\":{\"first_name\":\"%s\",\"last_name\":\"%s\",\"email\":"
                 "\"pt%zu@example.com\",\"staff_notes\":\"line one\\nline two\\t\u00e9\"},"
                 "\"addresses\":{\"home\":{\"lines\":[\"1 Rue de l'\u00c9glise\"],\"city\":"
                 "\"Z\u00fcrich\",\"country\":\"CH\"}}}",
                 names[i][0], names[i][1], i);
        REQUIRE(mt_call(&admin_a, "create_member", in, &o) == 201);
        snprintf(id, sizeof id, "%s", mt_str(o, "id"));
        json_decref(o);
    }
    int raw_seen = 0;
    char ref[160];
    snprintf(ref, sizeof ref, "{\"id\":\"%s\"}", id);
    CHECK(dump_both(&reader_a, "get_member", ref, &raw_seen));
    CHECK(dump_both(&reader_a, "list_members", "{\"limit\":100}", &raw_seen));
    CHECK(dump_both(&reader_a, "list_members", "{\"limit\":7,\"sort\":\"name\"}", &raw_seen));
    CHECK(dump_both(&reader_a, "list_members", "{\"limit\":5,\"sort\":\"-member_number\"}",
                    &raw_seen));
    CHECK(dump_both(&reader_a, "list_members", "{\"q\":\"zo\u00eb\"}", &raw_seen));
    CHECK(dump_both(&reader_a, "list_members", "{\"q\":\"\u6771\",\"sort\":\"name\"}", &raw_seen));
    CHECK(dump_both(&staff_a, "member_directory", "{\"limit\":100}", &raw_seen));
    snprintf(ref, sizeof ref, "{\"id\":\"%s\"}", club_a);
    CHECK(dump_both(&netadmin, "get_club", ref, &raw_seen));
    CHECK(dump_both(&netadmin, "list_clubs", "{\"limit\":100}", &raw_seen));
    REQUIRE(mt_call(&netadmin, "get_club", ref, &o) == 200);
    snprintf(ref, sizeof ref, "{\"id\":\"%s\"}", mt_str(o, "slug"));
    json_decref(o);
    CHECK(dump_both(&netadmin, "get_club", ref, &raw_seen));
    CHECK(raw_seen >= 10);
}

/* migration 0010: member_doc_text (the json text the reads answer) is member_doc_of's document
 * key for key, in the same key order, for staff and others, with and without addresses and
 * coordinates: both texts parsed and dumped compactly (key order kept) must be the same bytes. */
static char *doc_dump(const char *text) {
    json_t *j = json_loads(text, 0, NULL);
    char *s = j ? jsonx_dump(j) : NULL;
    json_decref(j);
    return s;
}

static void test_doc_text_same(void) {
    char id[40], in[1024];
    json_t *o = NULL;
    REQUIRE(mt_call(&admin_a, "create_member",
                    "{\"category\":\"full\",\"status\":\"active\",\"directory_opt_in\":true,"
                    "\"expires_on\":\"2099-01-31\",\"profile\":{\"first_name\":\"Doc\","
                    "\"last_name\":\"Text \\\"Q\\\"\",\"preferred_name\":\"D\",\"email\":"
                    "\"doctext@example.com\",\"phone\":\"+441234567890\",\"date_of_birth\":"
                    "\"1970-01-02\",\"language\":\"fr\",\"staff_notes\":\"n\\u00e9\"},"
                    "\"addresses\":{\"work\":{\"lines\":[\"1 A\",\"2 B\"],\"city\":\"Y\","
                    "\"region\":\"R\",\"postal_code\":\"P1\",\"country\":\"GB\"},\"billing\":{"
                    "\"lines\":[],\"country\":\"FR\"}}}",
                    &o) == 201);
    snprintf(id, sizeof id, "%s", mt_str(o, "id"));
    json_decref(o);
    snprintf(in, sizeof in,
             "{\"id\":\"%s\",\"kind\":\"home\",\"lines\":[\"3 C\"],\"city\":\"York\","
             "\"country\":\"GB\",\"latitude\":53.96,\"longitude\":-1.08}",
             id);
    REQUIRE(mt_call(&admin_a, "put_member_address", in, NULL) == 200);
    db_scope_t scope = {club_a, NULL, 0, 0};
    db_tx_t *tx = NULL;
    err_t e = {0};
    REQUIRE(db_begin(mt_pool, &scope, &tx, &e) == 0);
    PGresult *r = db_exec(
        tx,
        "SELECT member.member_doc_of(m, p, (SELECT jsonb_object_agg(a.kind, member.address_doc(a)) "
        "FROM member.addresses a WHERE a.club_id = m.club_id AND a.member_id = m.id), "
        "s)::text, " M_DOC_TEXT_EXPR("m", "p", "m.club_id", "m.id",
                                     "s") "::text FROM member.members m LEFT "
                                          "JOIN member.profiles p ON p.club_id = m.club_id AND "
                                          "p.member_id = m.id, (VALUES (true), "
                                          "(false)) v(s) WHERE m.club_id = core.current_club()",
        0, NULL, &e);
    REQUIRE(r != NULL);
    int n = PQntuples(r), same = 0, with_home = 0;
    for (int i = 0; i < n; i++) {
        char *a = doc_dump(PQgetvalue(r, i, 0)), *b = doc_dump(PQgetvalue(r, i, 1));
        if (a && b && strcmp(a, b) == 0)
            same++;
        else
            printf("#   member_doc_of %s\n#   member_doc_text %s\n", a ? a : "?", b ? b : "?");
        if (b && strstr(b, "\"latitude\":") && strstr(b, "\"billing\":")) with_home++;
        free(a);
        free(b);
    }
    PQclear(r);
    db_rollback(tx);
    CHECK(n >= 4);
    CHECK_EQ_INT(same, n);
    CHECK_EQ_INT(with_home, 2); /* the member above, as staff and not */
}

/* migration 0012: the stored document (member.member_docs, kept by triggers) is the document the
 * reads built before, byte for byte (member_doc_text, staff view), and member_doc_of's document
 * key for key, for every member of every club after the tests above and the writes below:
 * every status, erased, a dependent, a club's own category, all profile fields, addresses
 * added, changed (coordinates) and removed, a patch, a renewal. */
static int sd_call(const svc_caller_t *c, const char *op, const char *fmt, const char *id,
                   int want) {
    char in[1024];
    snprintf(in, sizeof in, fmt, id);
    json_t *o = NULL;
    int st = mt_call(c, op, in, &o);
    if (st != want) {
        char *d = jsonx_dump(o);
        printf("#   %s %s: %d %s\n", op, in, st, d ? d : "");
        free(d);
    }
    json_decref(o);
    return st == want ? 0 : -1;
}

/* Compares every member of club; adds to *n members and *bad mismatches; *seen gets a bit per
 * status (member_status_values order), 1 << 6 erased, 1 << 7 with addresses, 1 << 8 without,
 * 1 << 9 a dependent, 1 << 10 category gold. */
static void stored_docs_check(const char *club, int *n, int *bad, int *seen) {
    db_scope_t scope = {club, NULL, 0, 0};
    db_tx_t *tx = NULL;
    err_t e = {0};
    REQUIRE(db_begin(mt_pool, &scope, &tx, &e) == 0);
    PGresult *r = db_exec(
        tx,
        "SELECT d.doc, " M_DOC_TEXT_EXPR(
            "m", "p", "m.club_id", "m.id",
            "true") "::text, member.member_doc_of(m, p, (SELECT jsonb_object_agg(a.kind, "
                    "member.address_doc(a)) FROM member.addresses a WHERE a.club_id = "
                    "m.club_id AND a.member_id = m.id), true)::text, m.status::text, "
                    "m.erased_at IS NOT NULL, EXISTS (SELECT 1 FROM member.addresses a WHERE "
                    "a.club_id = m.club_id AND a.member_id = m.id), m.primary_member_id IS NOT "
                    "NULL, m.category, (SELECT count(*) FROM member.member_docs) FROM "
                    "member.members m LEFT JOIN member.profiles p ON p.club_id = m.club_id AND "
                    "p.member_id = m.id LEFT JOIN member.member_docs d ON d.club_id = m.club_id "
                    "AND d.member_id = m.id WHERE m.club_id = core.current_club()",
        0, NULL, &e);
    REQUIRE(r != NULL);
    for (int i = 0; i < PQntuples(r); i++) {
        const char *stored = PQgetisnull(r, i, 0) ? NULL : PQgetvalue(r, i, 0);
        char *a = stored ? doc_dump(stored) : NULL, *b = doc_dump(PQgetvalue(r, i, 2));
        int same = stored && strcmp(stored, PQgetvalue(r, i, 1)) == 0 && a && b && !strcmp(a, b);
        if (!same) {
            printf("#   stored %s\n#   built  %s\n", stored ? stored : "(none)",
                   PQgetvalue(r, i, 1));
            (*bad)++;
        }
        free(a);
        free(b);
        for (int k = 0; members_status_values[k]; k++)
            if (strcmp(PQgetvalue(r, i, 3), members_status_values[k]) == 0) *seen |= 1 << k;
        *seen |= (PQgetvalue(r, i, 4)[0] == 't') << 6;
        *seen |= PQgetvalue(r, i, 5)[0] == 't' ? 1 << 7 : 1 << 8;
        *seen |= (PQgetvalue(r, i, 6)[0] == 't') << 9;
        *seen |= (strcmp(PQgetvalue(r, i, 7), "gold") == 0) << 10;
        (*n)++;
    }
    /* one document per member, none left over */
    if (PQntuples(r) && atoi(PQgetvalue(r, 0, 8)) != PQntuples(r)) (*bad)++;
    PQclear(r);
    db_rollback(tx);
}

static void test_stored_docs_same(void) {
    char club[40], u[40], id[6][40];
    REQUIRE(mt_club("sd", club) == 0);
    mt_uuid(u);
    svc_caller_t admin = mt_caller(club, u, 0, ADMIN_PERMS);
    REQUIRE(sd_call(&admin, "create_member_category", "{\"code\":\"gold\",\"name\":\"Gold%s\"}", "",
                    201) == 0);
    json_t *o = NULL;
    REQUIRE(mt_call(&admin, "create_member",
                    "{\"category\":\"gold\",\"status\":\"active\",\"directory_opt_in\":true,"
                    "\"expires_on\":\"2099-01-31\",\"profile\":{\"first_name\":\"St\\u00f6red\","
                    "\"last_name\":\"Doc \\\"Q\\\"\",\"preferred_name\":\"S\",\"email\":"
                    "\"stored@example.com\",\"phone\":\"+441234567891\",\"date_of_birth\":"
                    "\"1970-01-02\",\"photo_url\":\"https://example.com/p.png\",\"language\":"
                    "\"en-GB\",\"staff_notes\":\"n\\u00e9\\n\\t<>&\"},\"addresses\":{\"home\":{"
                    "\"lines\":[\"1 A\"],\"city\":\"York\",\"country\":\"GB\"},\"work\":{\"lines\":"
                    "[\"1 A\",\"2 B\"],\"city\":\"Y\",\"region\":\"R\",\"postal_code\":\"P1\","
                    "\"country\":\"GB\"}},\"dependents\":[{\"category\":\"social\","
                    "\"relationship\":\"spouse\",\"profile\":{\"first_name\":\"Dep\","
                    "\"last_name\":\"Doc\"}}]}",
                    &o) == 201);
    snprintf(id[0], sizeof id[0], "%s", mt_str(o, "id"));
    json_decref(o);
    for (int i = 1; i < 6; i++)
        REQUIRE(new_member(&admin, i == 1 ? NULL : "\"status\":\"active\"", id[i]) == 0);
    /* addresses: changed (coordinates), added, removed */
    REQUIRE(sd_call(&admin, "put_member_address",
                    "{\"id\":\"%s\",\"kind\":\"home\",\"lines\":[\"3 C\"],\"city\":\"York\","
                    "\"country\":\"GB\",\"latitude\":53.96,\"longitude\":-1.08}",
                    id[0], 200) == 0);
    REQUIRE(sd_call(&admin, "put_member_address",
                    "{\"id\":\"%s\",\"kind\":\"billing\",\"lines\":[],\"country\":\"FR\"}", id[0],
                    200) == 0);
    REQUIRE(sd_call(&admin, "put_member_address",
                    "{\"id\":\"%s\",\"kind\":\"work\",\"lines\":[],\"country\":\"FR\"}", id[1],
                    200) == 0);
    REQUIRE(sd_call(&admin, "delete_member_address", "{\"id\":\"%s\",\"kind\":\"work\"}", id[1],
                    200) == 0);
    REQUIRE(sd_call(&admin, "update_member",
                    "{\"id\":\"%s\",\"directory_opt_in\":false,\"profile\":{\"first_name\":"
                    "\"Changed\",\"phone\":null}}",
                    id[0], 200) == 0);
    /* every status; lapsed then renewed, erased */
    REQUIRE(sd_call(&admin, "change_member_status", "{\"id\":\"%s\",\"status\":\"suspended\"}",
                    id[2], 200) == 0);
    REQUIRE(sd_call(&admin, "change_member_status", "{\"id\":\"%s\",\"status\":\"lapsed\"}", id[3],
                    200) == 0);
    REQUIRE(sd_call(&admin, "renew_member", "{\"id\":\"%s\",\"expires_on\":\"2098-12-31\"}", id[3],
                    200) == 0);
    REQUIRE(sd_call(&admin, "change_member_status", "{\"id\":\"%s\",\"status\":\"lapsed\"}", id[3],
                    200) == 0);
    REQUIRE(sd_call(&admin, "change_member_status", "{\"id\":\"%s\",\"status\":\"resigned\"}",
                    id[4], 200) == 0);
    REQUIRE(sd_call(&admin, "erase_member", "{\"id\":\"%s\"}", id[4], 200) == 0);
    REQUIRE(sd_call(&admin, "change_member_status", "{\"id\":\"%s\",\"status\":\"deceased\"}",
                    id[5], 200) == 0);
    /* one table at a time, as SQL (the operations above also touch members.updated_at, which
     * rewrites the document on its own): each trigger must rewrite it alone */
    db_scope_t own = {club, NULL, 0, 0};
    static const char *const direct[][2] = {
        {"UPDATE member.profiles SET staff_notes = 'direct' WHERE club_id = core.current_club() "
         "AND member_id = $1::uuid",
         "5"},
        {"UPDATE member.members SET expires_on = '2097-01-01' WHERE club_id = core.current_club() "
         "AND id = $1::uuid",
         "2"},
        {"UPDATE member.addresses SET city = 'Leeds' WHERE club_id = core.current_club() AND "
         "member_id = $1::uuid AND kind = 'home'",
         "0"},
        {"DELETE FROM member.addresses WHERE club_id = core.current_club() AND member_id = "
         "$1::uuid AND kind = 'billing'",
         "0"},
        {"INSERT INTO member.addresses (club_id, member_id, kind, country) VALUES "
         "(core.current_club(), $1::uuid, 'home', 'DE')",
         "1"},
    };
    for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++) {
        const char *p[] = {id[direct[i][1][0] - '0']};
        err_t e = {0};
        PGresult *w = db_write(mt_pool, &own, direct[i][0], 1, p, &e);
        if (!w) printf("#   %s: %s\n", direct[i][0], e.message);
        CHECK(w != NULL);
        PQclear(w);
    }
    int n = 0, bad = 0, seen = 0, club_seen = 0;
    stored_docs_check(club, &n, &bad, &club_seen);
    CHECK_EQ_INT(club_seen, (1 << 11) - 1);
    CHECK_EQ_INT(n, 7);
    /* every other club of this run (clubs are readable by everyone) */
    db_scope_t scope = {club_a, NULL, 0, 0};
    db_tx_t *tx = NULL;
    err_t e = {0};
    REQUIRE(db_begin(mt_pool, &scope, &tx, &e) == 0);
    PGresult *r = db_exec(tx, "SELECT id::text FROM member.clubs", 0, NULL, &e);
    REQUIRE(r != NULL);
    for (int i = 0; i < PQntuples(r); i++)
        if (strcmp(PQgetvalue(r, i, 0), club) != 0)
            stored_docs_check(PQgetvalue(r, i, 0), &n, &bad, &seen);
    PQclear(r);
    db_rollback(tx);
    printf("# %d members compared\n", n);
    CHECK(n > 10000); /* test_import's club */
    CHECK_EQ_INT(bad, 0);
}

/* Who may call what: op x caller -> status (the dispatcher's permission plus the handlers'
 * self rules). */
static void test_permission_matrix(void) {
    char mine[40], other[40], in[256];
    REQUIRE(mt_call(&member_a, "get_me", "{}", NULL) == 200);
    json_t *o = NULL;
    mt_call(&member_a, "get_me", "{}", &o);
    snprintf(mine, sizeof mine, "%s", mt_str(o, "id"));
    json_decref(o);
    REQUIRE(new_member(&admin_a, NULL, other) == 0);
    struct {
        const char *op;
        const char *input_fmt; /* %s = member id */
        int mine;              /* use the member's own id */
        int want[5];           /* admin, staff(read+write), reader, member, anonymous */
    } rows[] = {
        {"list_members", "{}", 0, {200, 200, 200, 403, 401}},
        {"get_member", "{\"id\":\"%s\"}", 0, {200, 200, 200, 404, 401}},
        {"get_member", "{\"id\":\"%s\"}", 1, {200, 200, 200, 200, 401}},
        {"update_member",
         "{\"id\":\"%s\",\"directory_opt_in\":true}",
         0,
         {200, 200, 403, 404, 401}},
        {"update_member",
         "{\"id\":\"%s\",\"directory_opt_in\":true}",
         1,
         {200, 200, 403, 200, 401}},
        {"change_member_status",
         "{\"id\":\"%s\",\"status\":\"deceased\"}",
         0,
         {403, 403, 403, 403, 401}}, /* (admin row run separately below) */
        {"create_member",
         "{\"category\":\"full\",\"profile\":{\"first_name\":\"Q\",\"last_name\":\"Q\"}}",
         0,
         {201, 201, 403, 403, 401}},
        {"erase_member", "{\"id\":\"%s\"}", 0, {409, 403, 403, 403, 401}},
        {"import_members",
         "{\"csv\":\"category,first_name,last_name\\n\",\"dry_run\":true}",
         0,
         {200, 403, 403, 403, 401}},
        {"export_members", "{\"status\":\"deceased\"}", 0, {200, 200, 200, 403, 401}},
        {"get_member_card", "{\"id\":\"%s\"}", 1, {200, 200, 200, 200, 401}},
        {"export_me", "{}", 0, {404, 404, 404, 200, 401}},
        {"member_status_history", "{\"id\":\"%s\"}", 0, {200, 200, 200, 403, 401}},
    };
    const svc_caller_t *callers[] = {&admin_a, &staff_a, &reader_a, &member_a, &anon_a};
    static const char *const names[] = {"admin", "staff", "reader", "member", "anonymous"};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        for (int k = 0; k < 5; k++) {
            if (!strcmp(rows[r].op, "change_member_status") && k == 0) continue;
            snprintf(in, sizeof in, rows[r].input_fmt, rows[r].mine ? mine : other);
            int got = mt_call(callers[k], rows[r].op, in, NULL);
            if (got != rows[r].want[k])
                printf("#   %s as %s%s: %d, want %d\n", rows[r].op, names[k],
                       rows[r].mine ? " (own record)" : "", got, rows[r].want[k]);
            CHECK_EQ_INT(got, rows[r].want[k]);
        }
    }
    /* the member's own status change is an admin operation */
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"status\":\"suspended\"}", mine);
    CHECK_EQ_INT(mt_call(&member_a, "change_member_status", in, NULL), 403);
}

int main(void) {
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    if (mt_open() != 0) {
        RUN(test_create_get);
        TEST_DONE();
    }
    if (mt_club("ma", club_a) != 0 || mt_club("mb", club_b) != 0) {
        printf("#   could not create clubs\n");
        RUN(test_create_get);
        mt_close();
        TEST_DONE();
    }
    setup_callers();
    RUN(test_create_get);
    RUN(test_network_admin_names_club);
    RUN(test_lifecycle_table);
    RUN(test_cascade_history);
    RUN(test_dependents_addresses);
    RUN(test_search_pagination);
    RUN(test_search_plan);
    RUN(test_search_order);
    RUN(test_search_name_order);
    RUN(test_search_match_order);
    RUN(test_search_bounded);
    RUN(test_search_name_prefix);
    RUN(test_import);
    RUN(test_export_csv);
    RUN(test_export_csv_formula);
    RUN(test_names_bidi);
    RUN(test_privacy);
    RUN(test_card);
    RUN(test_lapse_sweep);
    RUN(test_scheduled_sweep);
    RUN(test_directory_settings);
    RUN(test_passthrough_identical);
    RUN(test_doc_text_same);
    RUN(test_permission_matrix);
    RUN(test_stored_docs_same);
    mt_close();
    TEST_DONE();
}
