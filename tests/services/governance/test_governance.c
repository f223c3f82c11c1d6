/* test_governance: the governance service through svc_dispatch with the real PostgreSQL (the
 * member and reciprocal services in the same process, the ledger not bootstrapped, so ledger
 * records stay pending): every transition by time with the injected clock (as_of: pending ->
 * active -> defeated with zero votes; active -> succeeded -> queued -> executed; execution_failed
 * -> expired; cancel by the proposer and by a guardian), the 24 h reminder, the late-quorum
 * extension, delegation and a direct vote overriding it, change-before-close only where the type
 * allows, 10 concurrent casts storing exactly one vote, each action executed once when two
 * "processes" (two pools, two threads) finalise at once, one live proposal per proposer, tenant
 * isolation of club proposals. Each test starts from a fresh network: the clubs of earlier tests
 * are suspended so the eligible snapshot holds only the test's own clubs. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/outbox.h"
#include "services/governance/gov_ledger.h"
#include "services/governance/governance.h"
#include "services/ledger/settings.h"
#include "services/member/member_test_util.h"

#define T0 "2031-03-02T10:00:00Z"
#define ADMIN_PERMS "governance:vote club:read club:write club:admin agreement:propose"

static svc_caller_t netadmin;

static int gt_call_env(const svc_env_t *env, const svc_caller_t *c, const char *op,
                       const char *input, json_t **out) {
    const svc_op_t *o = svc_find_op(&governance_module, op);
    if (!o) {
        printf("#   no operation %s\n", op);
        return -1;
    }
    json_t *in = json_loads(input ? input : "{}", 0, NULL);
    if (!in) {
        printf("#   bad test input for %s: %s\n", op, input);
        return -1;
    }
    err_t e = {0};
    int status = 0;
    json_t *output = NULL;
    svc_dispatch(env, &governance_module, o, c, in, &status, &output, &e);
    json_decref(in);
    if (!output && status >= 300)
        output = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", e.code, "field", e.field,
                           "message", e.message);
    if (out)
        *out = output;
    else
        json_decref(output);
    return status;
}

static int gt_call(const svc_caller_t *c, const char *op, const char *input, json_t **out) {
    return gt_call_env(&mt_env, c, op, input, out);
}

/* gt_call expecting want; prints the answer otherwise. Returns the output (or NULL). */
static json_t *gt_want(const svc_caller_t *c, const char *op, const char *input, int want) {
    json_t *o = NULL;
    int st = gt_call(c, op, input, &o);
    if (st != want) {
        char *d = jsonx_dump(o);
        printf("#   %s %s: %d, want %d: %s\n", op, input ? input : "", st, want, d);
        free(d);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Suspends every active club (a fresh network for the next test). */
static void fresh_network(void) {
    db_scope_t s = {NULL, NULL, 1, 0};
    db_tx_t *tx = NULL;
    err_t e = {0};
    REQUIRE(db_begin(mt_pool, &s, &tx, &e) == 0);
    CHECK(db_exec_cmd(tx, "UPDATE member.clubs SET status = 'suspended' WHERE status = 'active'", 0,
                      NULL, &e) >= 0);
    CHECK(db_commit(tx, &e) == 0);
}

/* n fresh clubs and an administrator caller (with the clock) for each. */
static void clubs(int n, char ids[][40], svc_caller_t *admins) {
    fresh_network();
    for (int i = 0; i < n; i++) {
        REQUIRE(mt_club("gov", ids[i]) == 0);
        char u[40];
        mt_uuid(u);
        admins[i] = mt_caller(ids[i], u, 1, ADMIN_PERMS);
    }
}

static json_t *sweep(const char *as_of) {
    char in[96];
    snprintf(in, sizeof in, "{\"as_of\":\"%s\"}", as_of);
    return gt_want(&netadmin, "governance_sweep", in, 200);
}

static long long sweep_count(const char *as_of, const char *key) {
    json_t *o = sweep(as_of);
    long long n = (long long)json_integer_value(json_object_get(o, key));
    json_decref(o);
    return n;
}

static char *status_of(const char *id) {
    static char buf[32];
    char in[96];
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    json_t *o = gt_want(&netadmin, "get_proposal", in, 200);
    snprintf(buf, sizeof buf, "%s", o ? mt_str(o, "status") : "?");
    json_decref(o);
    return buf;
}

/* A network proposal by proposer, sponsored by sponsor at T0: its id into id. The window:
 * voting opens T0 + 1 h, closes T0 + 1 h + 7 d. */
static int propose(const svc_caller_t *proposer, const svc_caller_t *sponsor, const char *type,
                   const char *actions, char *id) {
    char in[2048];
    snprintf(in, sizeof in,
             "{\"type\":\"%s\",\"title\":\"T %s\",\"body\":\"why\",\"actions\":%s,\"as_of\":"
             "\"" T0 "\"}",
             type, type, actions ? actions : "[]");
    json_t *o = gt_want(proposer, "create_proposal", in, 201);
    if (!o) return -1;
    snprintf(id, 40, "%s", mt_str(o, "id"));
    CHECK_STR(mt_str(o, "status"), "draft");
    json_decref(o);
    if (!sponsor) return 0;
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"as_of\":\"" T0 "\"}", id);
    o = gt_want(sponsor, "sponsor_proposal", in, 200);
    if (!o) return -1;
    CHECK_STR(mt_str(o, "status"), "pending");
    if (strcmp(type, "suspend_club") != 0 && strcmp(type, "expel_club") != 0) {
        CHECK_STR(mt_str(o, "voting_starts_at"), "2031-03-02T11:00:00.000000Z");
        CHECK_STR(mt_str(o, "voting_ends_at"), "2031-03-09T11:00:00.000000Z");
    }
    json_decref(o);
    return 0;
}

static int vote(const svc_caller_t *c, const char *id, const char *choice, const char *as_of,
                int want) {
    char in[256];
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"choice\":\"%s\",\"as_of\":\"%s\"}", id, choice,
             as_of);
    json_t *o = NULL;
    int st = gt_call(c, "cast_vote", in, &o);
    if (st != want) {
        char *d = jsonx_dump(o);
        printf("#   cast_vote %s: %d, want %d: %s\n", choice, st, want, d);
        free(d);
    }
    json_decref(o);
    return st;
}

/* ---- transitions by time ---- */

static void test_zero_votes_defeated(void) {
    char ids[3][40], id[40];
    svc_caller_t a[3];
    clubs(3, ids, a);
    REQUIRE(propose(&a[0], &a[1], "policy", NULL, id) == 0);
    CHECK_EQ_INT(sweep_count("2031-03-02T10:59:59Z", "opened"), 0);
    CHECK_STR(status_of(id), "pending");
    CHECK_EQ_INT(sweep_count("2031-03-02T11:00:00Z", "opened"), 1);
    CHECK_STR(status_of(id), "active");
    char in[96];
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    json_t *o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "eligible_count")), 3);
    json_decref(o);
    /* the reminder 24 h before the close, once */
    CHECK_EQ_INT(sweep_count("2031-03-08T10:59:59Z", "reminded"), 0);
    CHECK_EQ_INT(sweep_count("2031-03-08T11:00:00Z", "reminded"), 1);
    CHECK_EQ_INT(sweep_count("2031-03-08T12:00:00Z", "reminded"), 0);
    CHECK_EQ_INT(sweep_count("2031-03-09T10:59:59Z", "defeated"), 0);
    CHECK_EQ_INT(sweep_count("2031-03-09T11:00:00Z", "defeated"), 1);
    o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_STR(mt_str(o, "status"), "defeated");
    CHECK_STR(mt_str(o, "result.outcome"), "defeated");
    CHECK_STR(mt_str(o, "result.reason"), "no_votes");
    CHECK_EQ_INT(json_array_size(json_object_get(o, "history")), 4); /* draft pending active def */
    json_decref(o);
    /* voting is closed */
    CHECK_EQ_INT(vote(&a[0], id, "for", "2031-03-09T11:00:01Z", 409), 409);
}

static void test_pass_queue_execute(void) {
    char ids[3][40], id[40], actions[512];
    svc_caller_t a[3];
    clubs(3, ids, a);
    char slug[64];
    snprintf(slug, sizeof slug, "admitted-%d-%ld", (int)getpid(), random() % 100000);
    snprintf(actions, sizeof actions,
             "[{\"type\":\"admit_club\",\"club\":{\"name\":\"Admitted\",\"slug\":\"%s\","
             "\"timezone\":\"Europe/London\",\"address\":{\"country\":\"GB\"}}}]",
             slug);
    REQUIRE(propose(&a[0], &a[1], "admit_club", actions, id) == 0);
    json_decref(sweep("2031-03-02T11:00:00Z"));
    /* exactly 2/3 of the votes cast, quorum 100 % */
    CHECK_EQ_INT(vote(&a[0], id, "for", "2031-03-03T10:00:00Z", 201), 201);
    CHECK_EQ_INT(vote(&a[1], id, "for", "2031-03-03T10:00:00Z", 201), 201);
    CHECK_EQ_INT(vote(&a[2], id, "against", "2031-03-03T10:00:00Z", 201), 201);
    /* admit_club does not allow changing a vote */
    CHECK_EQ_INT(vote(&a[2], id, "for", "2031-03-03T11:00:00Z", 409), 409);
    json_t *o = sweep("2031-03-09T11:00:00Z");
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "queued")), 1);
    json_decref(o);
    CHECK_STR(status_of(id), "queued");
    /* the timelock: 2 days */
    CHECK_EQ_INT(sweep_count("2031-03-11T10:59:59Z", "executed"), 0);
    char in[128];
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"as_of\":\"2031-03-10T00:00:00Z\"}", id);
    o = gt_want(&a[0], "execute_proposal", in, 409);
    CHECK_STR(mt_str(o, "error.code"), "not_executable");
    json_decref(o);
    CHECK_EQ_INT(sweep_count("2031-03-11T11:00:00Z", "executed"), 1);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_STR(mt_str(o, "status"), "executed");
    if (mt_str(o, "last_error")) printf("#   last_error: %s\n", mt_str(o, "last_error"));
    json_t *run = json_array_get(json_object_get(o, "actions_run"), 0);
    CHECK_STR(mt_str(run, "status"), "done");
    const char *club = mt_str(run, "result.club_id");
    REQUIRE(club != NULL);
    char cin[96];
    snprintf(cin, sizeof cin, "{\"id\":\"%s\"}", club);
    json_t *c = NULL;
    CHECK_EQ_INT(mt_call(&netadmin, "get_club", cin, &c), 200);
    CHECK_STR(mt_str(c, "status"), "active");
    CHECK_STR(mt_str(c, "slug"), slug);
    json_decref(c);
    json_decref(o);
    /* executed is final: the guardian cannot cancel it */
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"as_of\":\"2031-03-12T00:00:00Z\"}", id);
    CHECK_EQ_INT(gt_call(&netadmin, "cancel_proposal", in, NULL), 409);
}

static void test_failed_then_expired(void) {
    char ids[3][40], id[40];
    svc_caller_t a[3];
    clubs(3, ids, a);
    /* an agreement that does not exist: the execution fails, retryable until expiry */
    REQUIRE(propose(&a[0], &a[1], "policy",
                    "[{\"type\":\"terminate_agreement\",\"id\":"
                    "\"00000000-0000-4000-8000-00000000abcd\"}]",
                    id) == 0);
    json_decref(sweep("2031-03-02T11:00:00Z"));
    CHECK_EQ_INT(vote(&a[0], id, "for", "2031-03-03T10:00:00Z", 201), 201);
    /* policy allows changing a vote before the close */
    CHECK_EQ_INT(vote(&a[0], id, "against", "2031-03-03T11:00:00Z", 201), 201);
    CHECK_EQ_INT(vote(&a[0], id, "for", "2031-03-03T12:00:00Z", 201), 201);
    json_decref(sweep("2031-03-09T11:00:00Z"));
    CHECK_STR(status_of(id), "queued");
    CHECK_EQ_INT(sweep_count("2031-03-11T11:00:00Z", "execution_failed"), 1);
    char in[128];
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    json_t *o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_STR(mt_str(o, "status"), "execution_failed");
    CHECK(mt_str(o, "last_error") != NULL);
    CHECK_STR(mt_str(o, "expires_at"), "2031-03-25T11:00:00.000000Z");
    json_decref(o);
    /* a retry fails again (still failed, attempts 2); after the grace period: expired */
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"as_of\":\"2031-03-20T00:00:00Z\"}", id);
    o = gt_want(&a[0], "execute_proposal", in, 200);
    CHECK_STR(mt_str(o, "status"), "execution_failed");
    json_decref(o);
    CHECK_EQ_INT(sweep_count("2031-03-25T10:59:59Z", "expired"), 0);
    CHECK_EQ_INT(sweep_count("2031-03-25T11:00:00Z", "expired"), 1);
    CHECK_STR(status_of(id), "expired");
}

static void test_cancel(void) {
    char ids[3][40], id[40], in[128];
    svc_caller_t a[3];
    clubs(3, ids, a);
    REQUIRE(propose(&a[0], &a[1], "budget", NULL, id) == 0);
    /* one live proposal per proposer */
    json_t *o = gt_want(&a[0], "create_proposal",
                        "{\"type\":\"fees\",\"title\":\"again\",\"as_of\":\"" T0 "\"}", 409);
    CHECK_STR(mt_str(o, "error.code"), "live_proposal_exists");
    json_decref(o);
    /* another club cannot cancel it; the proposer can while pending */
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"as_of\":\"" T0 "\"}", id);
    svc_caller_t plain_b = mt_caller(ids[1], a[1].user_id, 0, ADMIN_PERMS);
    CHECK_EQ_INT(gt_call(&plain_b, "cancel_proposal", in, NULL), 403);
    o = gt_want(&a[0], "cancel_proposal", in, 200);
    CHECK_STR(mt_str(o, "status"), "canceled");
    json_decref(o);
    /* a new one; once active the proposer cannot cancel, a guardian can */
    REQUIRE(propose(&a[0], &a[1], "budget", NULL, id) == 0);
    json_decref(sweep("2031-03-02T11:00:00Z"));
    svc_caller_t proposer = mt_caller(ids[0], a[0].user_id, 0, ADMIN_PERMS);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    CHECK_EQ_INT(gt_call(&proposer, "cancel_proposal", in, NULL), 409);
    o = gt_want(&netadmin, "cancel_proposal", in, 200);
    CHECK_STR(mt_str(o, "status"), "canceled");
    json_decref(o);
}

static void test_suspend_until(void) {
    char ids[3][40], id[40], actions[256], in[96];
    svc_caller_t a[3];
    clubs(3, ids, a);
    snprintf(actions, sizeof actions,
             "[{\"type\":\"suspend_club\",\"club_id\":\"%s\",\"until\":\"2031-05-01\"}]", ids[2]);
    REQUIRE(propose(&a[0], &a[1], "suspend_club", actions, id) == 0);
    json_decref(sweep("2031-03-22T10:00:00Z"));
    CHECK_EQ_INT(vote(&a[0], id, "for", "2031-03-23T10:00:00Z", 201), 201);
    CHECK_EQ_INT(vote(&a[1], id, "for", "2031-03-23T10:00:00Z", 201), 201);
    CHECK_EQ_INT(sweep_count("2031-03-29T10:00:00Z", "queued"), 1);
    CHECK_EQ_INT(sweep_count("2031-03-31T10:00:00Z", "executed"), 1);
    json_t *c = NULL;
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", ids[2]);
    CHECK_EQ_INT(mt_call(&netadmin, "get_club", in, &c), 200);
    CHECK_STR(mt_str(c, "status"), "suspended");
    json_decref(c);
    /* lifted once when `until` comes */
    CHECK_EQ_INT(sweep_count("2031-04-30T23:59:59Z", "resumed"), 0);
    CHECK_EQ_INT(sweep_count("2031-05-01T00:00:00Z", "resumed"), 1);
    CHECK_EQ_INT(sweep_count("2031-05-02T00:00:00Z", "resumed"), 0);
    CHECK_EQ_INT(mt_call(&netadmin, "get_club", in, &c), 200);
    CHECK_STR(mt_str(c, "status"), "active");
    json_decref(c);
}

/* ---- late quorum, delegation ---- */

/* The data of the last governance.vote_cast event of voter on proposal id (the outbox, read as
 * the relay), and in *n how many there are. New reference or NULL. */
static json_t *cast_event_of(const char *id, const char *voter, int *n) {
    db_scope_t sc = {NULL, NULL, 0, 1};
    const char *p[] = {id, voter};
    err_t e = {0};
    PGresult *q = db_read(mt_pool, &sc,
                          "SELECT (payload->'data')::text, count(*) OVER () FROM governance.outbox "
                          "WHERE type = 'governance.vote_cast' AND payload->'data'->>'proposal_id' "
                          "= $1 AND payload->'data'->>'voter_id' = $2 ORDER BY seq DESC LIMIT 1",
                          2, p, &e);
    *n = q && PQntuples(q) ? atoi(PQgetvalue(q, 0, 1)) : 0;
    json_t *d = q && PQntuples(q) ? json_loads(PQgetvalue(q, 0, 0), 0, NULL) : NULL;
    PQclear(q);
    return d;
}

static void test_late_quorum(void) {
    char ids[4][40], id[40], in[96];
    svc_caller_t a[4];
    clubs(4, ids, a);
    REQUIRE(propose(&a[0], &a[1], "suspend_club", NULL, id) == 0);
    /* suspend_club: 20 days' notice before voting opens */
    CHECK_EQ_INT(sweep_count("2031-03-02T11:00:00Z", "opened"), 0);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    json_t *o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_STR(mt_str(o, "voting_starts_at"), "2031-03-22T10:00:00.000000Z");
    json_decref(o);
    CHECK_EQ_INT(sweep_count("2031-03-22T10:00:00Z", "opened"), 1);
    /* deadline 2031-03-29T10:00; one vote of four: no quorum (50 %) */
    CHECK_EQ_INT(vote(&a[0], id, "for", "2031-03-28T20:00:00Z", 201), 201);
    /* the second vote reaches the quorum 2 h before the close: the close moves to +24 h */
    CHECK_EQ_INT(vote(&a[1], id, "for", "2031-03-29T08:00:00Z", 201), 201);
    o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_STR(mt_str(o, "voting_ends_at"), "2031-03-30T08:00:00.000000Z");
    CHECK(json_is_true(json_object_get(o, "extended")));
    CHECK_STR(mt_str(o, "quorum_reached_at"), "2031-03-29T08:00:00.000000Z");
    json_decref(o);
    /* not closed at the old deadline; a further vote does not extend again */
    CHECK_EQ_INT(sweep_count("2031-03-29T10:00:00Z", "queued"), 0);
    CHECK_EQ_INT(vote(&a[2], id, "against", "2031-03-30T07:00:00Z", 201), 201);
    o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_STR(mt_str(o, "voting_ends_at"), "2031-03-30T08:00:00.000000Z");
    json_decref(o);
    /* each cast's governance.vote_cast event: the one that reached the quorum (its statement,
     * the late-quorum step, then the event) and a cast once the quorum is settled (the event a
     * CTE of the cast's statement, one flight): the same data, extended from the proposal */
    int n = 0;
    CHECK_EQ_INT(vote(&a[3], id, "abstain", "2031-03-30T07:30:00Z", 201), 201);
    for (int i = 1; i < 4; i++) {
        json_t *d = cast_event_of(id, ids[i], &n);
        CHECK_EQ_INT(n, 1);
        CHECK_STR(mt_str(d, "proposal_id"), id);
        CHECK_STR(mt_str(d, "scope"), "network");
        CHECK_STR(mt_str(d, "club_id"), ids[0]);
        CHECK_STR(mt_str(d, "choice"), i == 1 ? "for" : i == 2 ? "against" : "abstain");
        CHECK(json_is_true(json_object_get(d, "extended")));
        json_decref(d);
    }
    json_t *d = cast_event_of(id, ids[0], &n);
    CHECK(json_is_false(json_object_get(d, "extended"))); /* before the quorum */
    json_decref(d);
    /* a refused cast (suspend_club: a vote does not change) leaves no event */
    CHECK_EQ_INT(vote(&a[3], id, "for", "2031-03-30T07:40:00Z", 409), 409);
    json_decref(cast_event_of(id, ids[3], &n));
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(sweep_count("2031-03-30T08:00:00Z", "queued"), 1);
}

static void test_quorum_early_no_extension(void) {
    char ids[2][40], id[40], in[96];
    svc_caller_t a[2];
    clubs(2, ids, a);
    REQUIRE(propose(&a[0], &a[1], "admit_club", NULL, id) == 0);
    json_decref(sweep("2031-03-02T11:00:00Z"));
    CHECK_EQ_INT(vote(&a[0], id, "for", "2031-03-03T11:00:00Z", 201), 201);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    json_t *o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_STR(mt_str(o, "voting_ends_at"), "2031-03-09T11:00:00.000000Z");
    CHECK(json_is_false(json_object_get(o, "extended")));
    json_decref(o);
}

static void test_delegation_override(void) {
    char ids[4][40], id[40], in[256];
    svc_caller_t a[4];
    clubs(4, ids, a);
    /* C delegates to A for every type, D for policy only */
    snprintf(in, sizeof in, "{\"delegate_id\":\"%s\"}", ids[0]);
    json_t *o = gt_want(&a[2], "put_delegation", in, 200);
    CHECK_STR(mt_str(o, "type"), "*");
    json_decref(o);
    snprintf(in, sizeof in, "{\"delegate_id\":\"%s\",\"type\":\"policy\"}", ids[0]);
    json_decref(gt_want(&a[3], "put_delegation", in, 200));
    /* no self-delegation */
    snprintf(in, sizeof in, "{\"delegate_id\":\"%s\"}", ids[1]);
    CHECK_EQ_INT(gt_call(&a[1], "put_delegation", in, NULL), 422);
    REQUIRE(propose(&a[0], &a[1], "policy", NULL, id) == 0);
    json_decref(sweep("2031-03-02T11:00:00Z"));
    /* a delegation made after opening does not count (snapshot) */
    snprintf(in, sizeof in, "{\"delegate_id\":\"%s\"}", ids[0]);
    json_decref(gt_want(&a[1], "put_delegation", in, 200));
    CHECK_EQ_INT(vote(&a[0], id, "for", "2031-03-03T10:00:00Z", 201), 201);
    /* a network delegation is not cast on the delegator's behalf */
    snprintf(in, sizeof in,
             "{\"id\":\"%s\",\"choice\":\"for\",\"on_behalf_of\":\"%s\",\"as_of\":"
             "\"2031-03-03T10:00:00Z\"}",
             id, ids[2]);
    o = NULL;
    CHECK_EQ_INT(gt_call(&a[0], "cast_vote", in, &o), 422);
    CHECK_STR(mt_str(json_object_get(o, "error"), "field"), "on_behalf_of");
    json_decref(o);
    /* D overrides its delegate */
    CHECK_EQ_INT(vote(&a[3], id, "against", "2031-03-03T10:00:00Z", 201), 201);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(o, "tally"), "voters")), 3);
    json_decref(o);
    json_decref(sweep("2031-03-09T11:00:00Z"));
    o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_STR(mt_str(o, "status"), "queued");
    json_t *r = json_object_get(o, "result");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r, "for"), "count")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r, "against"), "count")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r, "delegated"), "count")), 1);
    json_decref(o);
    /* the network records are queued (the ledger is not bootstrapped here: pending) */
    db_scope_t s = {NULL, NULL, 1, 0};
    const char *p[] = {id};
    err_t e = {0};
    PGresult *q = db_read(mt_pool, &s,
                          "SELECT string_agg(kind, ',' ORDER BY id) FROM "
                          "governance.ledger_records WHERE proposal_id = $1",
                          1, p, &e);
    REQUIRE(q != NULL);
    CHECK_STR(PQgetvalue(q, 0, 0), "governance.proposal,governance.eligible_snapshot,"
                                   "governance.vote_cast,governance.vote_cast,governance.result");
    PQclear(q);
}

/* governance.ts is inlined by the planner (migration 0004): declared IMMUTABLE around a STABLE
 * body it was called as a SQL function, its body parsed and planned at every call site of every
 * execution (docs/governance.md "Bench: the plain cast, governance.ts inlined"). */
static void test_ts_inlined(void) {
    db_scope_t s = {NULL, NULL, 1, 0};
    err_t e = {0};
    PGresult *q = db_read(
        mt_pool, &s, "EXPLAIN (VERBOSE, COSTS OFF) SELECT governance.ts(now()) AS t", 0, NULL, &e);
    REQUIRE(q != NULL);
    char plan[1024] = "";
    for (int i = 0; i < PQntuples(q); i++)
        snprintf(plan + strlen(plan), sizeof plan - strlen(plan), "%s\n", PQgetvalue(q, i, 0));
    PQclear(q);
    CHECK(strstr(plan, "to_char(") != NULL);
    CHECK(strstr(plan, "governance.ts(") == NULL);
    q = db_read(mt_pool, &s, "SELECT governance.ts('2026-01-02 03:04:05.123456+02')", 0, NULL, &e);
    REQUIRE(q != NULL);
    CHECK_STR(PQgetvalue(q, 0, 0), "2026-01-02T01:04:05.123456Z");
    PQclear(q);
}

/* The ledger pass reads its next batch in its order through ledger_records_next_idx (migration
 * 0006), the LIMIT stopping after the batch: no sort of every pending record (docs/governance.md
 * "Speed: the pass's next batch through an index"), and the check that a result waits for its
 * proposal's votes a sub-plan run for result records alone, not hashed over every pending record
 * on each batch. Sequential scans off: the test tables are small enough for the planner to
 * prefer them. */
static void test_ledger_next_indexed(void) {
    db_scope_t s = {NULL, NULL, 1, 0};
    err_t e = {0};
    db_tx_t *tx = NULL;
    REQUIRE(db_begin(mt_pool, &s, &tx, &e) == 0);
    PGresult *q = db_exec(tx, "SET LOCAL enable_seqscan = off", 0, NULL, &e);
    REQUIRE(q != NULL);
    PQclear(q);
    q = db_exec(tx, "EXPLAIN (COSTS OFF) " GOV_LEDGER_NEXT_SQL, 0, NULL, &e);
    REQUIRE(q != NULL);
    char plan[4096] = "";
    for (int i = 0; i < PQntuples(q); i++)
        snprintf(plan + strlen(plan), sizeof plan - strlen(plan), "%s\n", PQgetvalue(q, i, 0));
    PQclear(q);
    db_rollback(tx);
    CHECK(strstr(plan, "Index Scan using ledger_records_next_idx on ledger_records l") != NULL);
    CHECK(strstr(plan, "Sort") == NULL);
    CHECK(strstr(plan, "hashed SubPlan") == NULL);
    if (strstr(plan, "Sort") || strstr(plan, "hashed SubPlan")) printf("%s", plan);
}

/* ---- the proposal's scope on its rows (migration 0005, docs/governance.md "Bench: the
 * proposal's scope on its rows") ---- */

/* Rows of table for proposal id that a scope sees. */
static long long rows_seen(const db_scope_t *sc, const char *table, const char *id) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM governance.%s WHERE proposal_id = $1", table);
    const char *p[] = {id};
    err_t e = {0};
    PGresult *q = db_read(mt_pool, sc, sql, 1, p, &e);
    long long n = q ? atoll(PQgetvalue(q, 0, 0)) : -1;
    PQclear(q);
    return n;
}

/* A row of table for proposal id written with scope / club as its proposal's (by the network
 * administrator, whom no policy stops): 1 stored, 0 refused. */
static int row_written(const char *table, const char *id, const char *scope, const char *club) {
    char sql[512];
    if (strcmp(table, "eligible") == 0)
        snprintf(sql, sizeof sql,
                 "INSERT INTO governance.eligible (proposal_id, prop_scope, prop_club_id, "
                 "voter_id) VALUES ($1, $2, $3, gen_random_uuid()) RETURNING 1");
    else if (strcmp(table, "votes") == 0)
        snprintf(sql, sizeof sql,
                 "INSERT INTO governance.votes (proposal_id, prop_scope, prop_club_id, voter_id, "
                 "voter_club_id, choice, weight, cast_at) VALUES ($1, $2, $3, gen_random_uuid(), "
                 "$3, 'for', 1, now()) RETURNING 1");
    else
        snprintf(sql, sizeof sql,
                 "INSERT INTO governance.ledger_records (proposal_id, prop_scope, prop_club_id, "
                 "kind, voter_id, payload) VALUES ($1, $2, $3, 'governance.vote_cast', "
                 "gen_random_uuid(), '{}') RETURNING 1");
    db_scope_t sc = {NULL, NULL, 1, 0};
    const char *p[] = {id, scope, club};
    err_t e = {0};
    PGresult *q = db_write(mt_pool, &sc, sql, 3, p, &e);
    int n = q ? PQntuples(q) : 0;
    PQclear(q);
    return n;
}

static void test_row_scope(void) {
    char ids[2][40], user[40], in[512], u[40];
    svc_caller_t a[2];
    clubs(2, ids, a);
    mt_uuid(u);
    svc_caller_t staff = mt_caller(ids[0], u, 0, "member:read member:write member:admin");
    REQUIRE(mt_account(ids[0], user) == 0);
    snprintf(in, sizeof in,
             "{\"category\":\"full\",\"status\":\"active\",\"auth_user_id\":\"%s\",\"expires_on\":"
             "\"2099-12-31\",\"profile\":{\"first_name\":\"R\",\"last_name\":\"Ow\"}}",
             user);
    REQUIRE(mt_call(&staff, "create_member", in, NULL) == 201);
    svc_caller_t member = mt_caller(ids[0], user, 1, "");
    json_t *o = gt_want(&a[0], "create_proposal",
                        "{\"type\":\"budget\",\"title\":\"Rows\",\"scope\":\"club\",\"as_of\":"
                        "\"" T0 "\"}",
                        201);
    REQUIRE(o != NULL);
    char id[40];
    snprintf(id, sizeof id, "%s", mt_str(o, "id"));
    json_decref(o);
    json_decref(sweep("2031-03-02T11:00:00Z"));
    CHECK_EQ_INT(vote(&member, id, "for", "2031-03-03T10:00:00Z", 201), 201);
    /* tenant isolation through the rows' own columns: the club sees its proposal's rows, the
     * other club none */
    db_scope_t mine = {ids[0], user, 0, 0}, other = {ids[1], a[1].user_id, 0, 0};
    CHECK_EQ_INT(rows_seen(&mine, "eligible", id), 1);
    CHECK_EQ_INT(rows_seen(&mine, "votes", id), 1);
    CHECK_EQ_INT(rows_seen(&other, "eligible", id), 0);
    CHECK_EQ_INT(rows_seen(&other, "votes", id), 0);
    /* a row cannot say another scope or club than its proposal's (it would be visible to
     * every club, or to the other club) */
    CHECK_EQ_INT(row_written("eligible", id, "network", ids[0]), 0);
    CHECK_EQ_INT(row_written("eligible", id, "club", ids[1]), 0);
    CHECK_EQ_INT(row_written("votes", id, "network", ids[0]), 0);
    CHECK_EQ_INT(row_written("votes", id, "club", ids[1]), 0);
    CHECK_EQ_INT(row_written("ledger_records", id, "network", ids[0]), 0);
    CHECK_EQ_INT(row_written("ledger_records", id, "club", ids[1]), 0);
    CHECK_EQ_INT(rows_seen(&other, "eligible", id), 0);
    CHECK_EQ_INT(rows_seen(&other, "votes", id), 0);
    CHECK_EQ_INT(rows_seen(&other, "ledger_records", id), 0);
    /* the proposal's own scope and club are accepted */
    CHECK_EQ_INT(row_written("eligible", id, "club", ids[0]), 1);
    CHECK_EQ_INT(rows_seen(&mine, "eligible", id), 2);
    CHECK_EQ_INT(rows_seen(&other, "eligible", id), 0);
}

/* ---- concurrency ---- */

typedef struct {
    const svc_caller_t *c;
    const char *id;
    int status;
} cast_arg_t;

static void *cast_thread(void *p) {
    cast_arg_t *a = p;
    char in[256];
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"choice\":\"for\",\"as_of\":\"2031-03-23T10:00:00Z\"}",
             a->id);
    a->status = gt_call(a->c, "cast_vote", in, NULL);
    return NULL;
}

static void test_concurrent_casts(void) {
    char ids[2][40], id[40];
    svc_caller_t a[2];
    clubs(2, ids, a);
    REQUIRE(propose(&a[0], &a[1], "expel_club", NULL, id) == 0);
    json_decref(sweep("2031-03-22T10:00:00Z")); /* 20 days' notice */
    CHECK_STR(status_of(id), "active");
    pthread_t t[10];
    cast_arg_t args[10];
    for (int i = 0; i < 10; i++) {
        args[i] = (cast_arg_t){&a[1], id, 0};
        pthread_create(&t[i], NULL, cast_thread, &args[i]);
    }
    int created = 0, exists = 0;
    for (int i = 0; i < 10; i++) {
        pthread_join(t[i], NULL);
        created += args[i].status == 201;
        exists += args[i].status == 409;
    }
    CHECK_EQ_INT(created, 1);
    CHECK_EQ_INT(exists, 9);
    db_scope_t s = {NULL, NULL, 1, 0};
    const char *p[] = {id};
    err_t e = {0};
    PGresult *q = db_read(mt_pool, &s,
                          "SELECT count(*) FROM governance.votes WHERE proposal_id = $1", 1, p, &e);
    REQUIRE(q != NULL);
    CHECK_STR(PQgetvalue(q, 0, 0), "1");
    PQclear(q);
}

typedef struct {
    const svc_env_t *env;
    int executed;
} fin_arg_t;

static void *finalise_thread(void *p) {
    fin_arg_t *a = p;
    json_t *o = NULL;
    if (gt_call_env(a->env, &netadmin, "governance_sweep", "{\"as_of\":\"2031-03-11T11:00:00Z\"}",
                    &o) == 200)
        a->executed = (int)json_integer_value(json_object_get(o, "executed"));
    json_decref(o);
    return NULL;
}

static void test_execute_once_two_processes(void) {
    char ids[3][40], id[40], actions[512], slug[64];
    svc_caller_t a[3];
    clubs(3, ids, a);
    snprintf(slug, sizeof slug, "once-%d-%ld", (int)getpid(), random() % 100000);
    snprintf(actions, sizeof actions,
             "[{\"type\":\"admit_club\",\"club\":{\"name\":\"Once\",\"slug\":\"%s\",\"timezone\":"
             "\"Europe/London\",\"address\":{\"country\":\"GB\"}}}]",
             slug);
    REQUIRE(propose(&a[0], &a[1], "admit_club", actions, id) == 0);
    json_decref(sweep("2031-03-02T11:00:00Z"));
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(vote(&a[i], id, "for", "2031-03-03T10:00:00Z", 201), 201);
    json_decref(sweep("2031-03-09T11:00:00Z"));
    CHECK_STR(status_of(id), "queued");
    /* the second "process": its own pool (connections) and environment */
    err_t e = {0};
    db_pool_t *pool2 = db_pool_open(TEST_ENV("RECIPROCAL_TEST_DATABASE_URL"), 4, &e);
    REQUIRE(pool2 != NULL);
    svc_env_t env2 = mt_env;
    env2.db = pool2;
    fin_arg_t f1 = {&mt_env, 0}, f2 = {&env2, 0};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, finalise_thread, &f1);
    pthread_create(&t2, NULL, finalise_thread, &f2);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    db_pool_close(pool2);
    CHECK_EQ_INT(f1.executed + f2.executed, 1);
    CHECK_STR(status_of(id), "executed");
    db_scope_t s = {NULL, NULL, 1, 0};
    const char *p[] = {id, slug};
    PGresult *q = db_read(mt_pool, &s,
                          "SELECT (SELECT attempts FROM governance.action_runs WHERE proposal_id = "
                          "$1 AND idx = 0)::text || '/' || (SELECT count(*) FROM member.clubs "
                          "WHERE slug = $2)::text || '/' || (SELECT count(*) FROM "
                          "governance.transitions WHERE proposal_id = $1 AND to_status = "
                          "'executed')::text",
                          2, p, &e);
    REQUIRE(q != NULL);
    CHECK_STR(PQgetvalue(q, 0, 0), "1/1/1");
    PQclear(q);
}

/* ---- a club proposal: its members vote ---- */

static void test_club_vote(void) {
    char ids[1][40], users[3][40], in[1024];
    svc_caller_t a[1], members[3];
    clubs(1, ids, a);
    char u[40];
    mt_uuid(u);
    svc_caller_t staff = mt_caller(ids[0], u, 0, "member:read member:write member:admin");
    for (int i = 0; i < 3; i++) {
        REQUIRE(mt_account(ids[0], users[i]) == 0);
        snprintf(in, sizeof in,
                 "{\"category\":\"full\",\"status\":\"active\",\"auth_user_id\":\"%s\","
                 "\"expires_on\":\"2099-12-31\",\"profile\":{\"first_name\":\"V%d\","
                 "\"last_name\":\"Oter\"}}",
                 users[i], i);
        REQUIRE(mt_call(&staff, "create_member", in, NULL) == 201);
        members[i] = mt_caller(ids[0], users[i], 1, "");
    }
    /* the third member delegates to the first (club scope: the member's own) */
    snprintf(in, sizeof in, "{\"scope\":\"club\",\"delegate_id\":\"%s\"}", users[0]);
    json_decref(gt_want(&members[2], "put_delegation", in, 200));
    json_t *o = gt_want(&a[0], "create_proposal",
                        "{\"type\":\"budget\",\"title\":\"Budget\",\"scope\":\"club\","
                        "\"as_of\":\"" T0 "\"}",
                        201);
    REQUIRE(o != NULL);
    char id[40];
    snprintf(id, sizeof id, "%s", mt_str(o, "id"));
    CHECK_STR(mt_str(o, "status"), "pending");
    json_decref(o);
    json_decref(sweep("2031-03-02T11:00:00Z"));
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "eligible_count")), 3);
    json_decref(o);
    CHECK_EQ_INT(vote(&members[0], id, "for", "2031-03-03T10:00:00Z", 201), 201);
    CHECK_EQ_INT(vote(&members[1], id, "against", "2031-03-03T10:00:00Z", 201), 201);
    /* the club's administrator is no member: not in the snapshot */
    CHECK_EQ_INT(vote(&a[0], id, "for", "2031-03-03T10:00:00Z", 403), 403);
    json_decref(sweep("2031-03-09T11:00:00Z"));
    o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_STR(mt_str(o, "status"), "queued");
    json_t *r = json_object_get(o, "result");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r, "for"), "count")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r, "delegated"), "count")), 1);
    json_decref(o);
    /* no ledger record for a club proposal */
    db_scope_t sc = {NULL, NULL, 1, 0};
    const char *p[] = {id};
    err_t e = {0};
    PGresult *q =
        db_read(mt_pool, &sc,
                "SELECT count(*) FROM governance.ledger_records WHERE proposal_id = $1", 1, p, &e);
    REQUIRE(q != NULL);
    CHECK_STR(PQgetvalue(q, 0, 0), "0");
    PQclear(q);
}

/* ---- delegated club votes (docs/governance.md "Delegated club votes") ---- */

/* cast_vote by c on behalf of member behalf: the status; *out (may be NULL) the answer */
static int vote_for(const svc_caller_t *c, const char *id, const char *behalf, const char *choice,
                    json_t **out) {
    char in[320];
    snprintf(in, sizeof in,
             "{\"id\":\"%s\",\"choice\":\"%s\",\"on_behalf_of\":\"%s\",\"as_of\":"
             "\"2031-03-03T10:00:00Z\"}",
             id, choice, behalf);
    return gt_call(c, "cast_vote", in, out);
}

static void test_delegated_club_votes(void) {
    char ids[1][40], users[4][40], deleg[4][40], in[1024], id[40];
    svc_caller_t a[1], m[4];
    clubs(1, ids, a);
    char u[40];
    mt_uuid(u);
    svc_caller_t staff = mt_caller(ids[0], u, 0, "member:read member:write member:admin");
    for (int i = 0; i < 4; i++) {
        REQUIRE(mt_account(ids[0], users[i]) == 0);
        snprintf(in, sizeof in,
                 "{\"category\":\"full\",\"status\":\"active\",\"auth_user_id\":\"%s\","
                 "\"expires_on\":\"2099-12-31\",\"profile\":{\"first_name\":\"D%d\","
                 "\"last_name\":\"Elegate\"}}",
                 users[i], i);
        REQUIRE(mt_call(&staff, "create_member", in, NULL) == 201);
        m[i] = mt_caller(ids[0], users[i], 1, "");
    }
    /* m1, m2 and m3 delegate to m0 */
    for (int i = 1; i < 4; i++) {
        snprintf(in, sizeof in, "{\"scope\":\"club\",\"delegate_id\":\"%s\"}", users[0]);
        json_t *o = gt_want(&m[i], "put_delegation", in, 200);
        REQUIRE(o && mt_str(o, "id"));
        snprintf(deleg[i], sizeof deleg[i], "%s", mt_str(o, "id"));
        json_decref(o);
    }
    json_t *o = gt_want(&a[0], "create_proposal",
                        "{\"type\":\"budget\",\"title\":\"Delegated budget\",\"scope\":\"club\","
                        "\"as_of\":\"" T0 "\"}",
                        201);
    REQUIRE(o != NULL);
    snprintf(id, sizeof id, "%s", mt_str(o, "id"));
    json_decref(o);
    json_decref(sweep("2031-03-02T11:00:00Z"));
    /* m3 revokes its delegation after opening */
    json_decref(gt_want(&m[3], "put_delegation", "{\"scope\":\"club\",\"delegate_id\":null}", 200));
    CHECK_EQ_INT(vote(&m[0], id, "for", "2031-03-03T10:00:00Z", 201), 201);
    /* m0 casts m1's vote: stored as m1's, saying who cast it under which delegation */
    json_t *v = NULL;
    CHECK_EQ_INT(vote_for(&m[0], id, users[1], "against", &v), 201);
    CHECK_STR(mt_str(v, "voter_id"), users[1]);
    CHECK_STR(mt_str(v, "delegate_id"), users[0]);
    CHECK_STR(mt_str(v, "delegation_id"), deleg[1]);
    CHECK_STR(mt_str(v, "choice"), "against");
    json_decref(v);
    /* the delegate cannot vote twice for m1 (budget allows a change, but not by the delegate) */
    CHECK_EQ_INT(vote_for(&m[0], id, users[1], "for", &v), 409);
    CHECK_STR(mt_str(json_object_get(v, "error"), "code"), "vote_exists");
    CHECK_STR(mt_str(json_object_get(v, "error"), "field"), "on_behalf_of");
    json_decref(v);
    /* a revoked delegation is refused */
    CHECK_EQ_INT(vote_for(&m[0], id, users[3], "for", &v), 409);
    CHECK_STR(mt_str(json_object_get(v, "error"), "code"), "delegation_revoked");
    CHECK_STR(mt_str(json_object_get(v, "error"), "field"), "on_behalf_of");
    json_decref(v);
    /* m1 is nobody's delegate */
    CHECK_EQ_INT(vote_for(&m[1], id, users[2], "for", &v), 403);
    CHECK_STR(mt_str(json_object_get(v, "error"), "code"), "not_delegate");
    json_decref(v);
    /* m2 votes directly: its delegate can no longer cast it */
    CHECK_EQ_INT(vote(&m[2], id, "for", "2031-03-03T10:00:00Z", 201), 201);
    CHECK_EQ_INT(vote_for(&m[0], id, users[2], "against", &v), 409);
    CHECK_STR(mt_str(json_object_get(v, "error"), "code"), "vote_exists");
    json_decref(v);
    /* the list shows who cast m1's vote */
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    o = gt_want(&m[0], "list_votes", in, 200);
    size_t i, delegated_rows = 0;
    json_t *it;
    json_array_foreach(json_object_get(o, "items"), i, it) {
        if (strcmp(mt_str(it, "voter_id"), users[1]) == 0) {
            CHECK_STR(mt_str(it, "delegate_id"), users[0]);
            CHECK_STR(mt_str(it, "delegation_id"), deleg[1]);
        } else {
            CHECK(json_is_null(json_object_get(it, "delegate_id")));
        }
        delegated_rows += mt_str(it, "delegate_id") != NULL;
    }
    CHECK_EQ_INT(json_array_size(json_object_get(o, "items")), 3);
    CHECK_EQ_INT(delegated_rows, 1);
    json_decref(o);
    /* counted once each: m0 for, m1 against (cast by m0), m2 for, m3 for through the snapshot's
     * delegation to m0 (the snapshot counts; only casting on its behalf needs it in force) */
    o = gt_want(&netadmin, "get_proposal", in, 200);
    json_t *t = json_object_get(o, "tally");
    CHECK_EQ_INT(json_integer_value(json_object_get(t, "voters")), 4);
    CHECK_EQ_INT(json_integer_value(json_object_get(t, "direct_votes")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(t, "delegated_votes")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(t, "delegated")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(t, "choices"), "for")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(t, "choices"), "against")), 1);
    json_decref(o);
    json_decref(sweep("2031-03-09T11:00:00Z"));
    o = gt_want(&netadmin, "get_proposal", in, 200);
    json_t *r = json_object_get(o, "result");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r, "for"), "count")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r, "against"), "count")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r, "delegated"), "count")), 2);
    json_decref(o);
}

/* ---- tenant isolation ---- */

static void test_club_proposal_isolation(void) {
    char ids[2][40], in[256];
    svc_caller_t a[2];
    clubs(2, ids, a);
    svc_caller_t x = mt_caller(ids[0], a[0].user_id, 0, ADMIN_PERMS);
    svc_caller_t y = mt_caller(ids[1], a[1].user_id, 0, ADMIN_PERMS);
    json_t *o = gt_want(&x, "create_proposal",
                        "{\"type\":\"budget\",\"title\":\"Our budget\",\"scope\":\"club\"}", 201);
    REQUIRE(o != NULL);
    CHECK_STR(mt_str(o, "status"), "pending"); /* a club proposal needs no sponsor */
    char id[40];
    snprintf(id, sizeof id, "%s", mt_str(o, "id"));
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    CHECK_EQ_INT(gt_call(&x, "get_proposal", in, NULL), 200);
    CHECK_EQ_INT(gt_call(&y, "get_proposal", in, NULL), 404);
    CHECK_EQ_INT(gt_call(&y, "list_votes", in, NULL), 404);
    CHECK_EQ_INT(gt_call(&y, "cancel_proposal", in, NULL), 404);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"choice\":\"for\"}", id);
    CHECK_EQ_INT(gt_call(&y, "cast_vote", in, NULL), 404);
    o = gt_want(&y, "list_proposals", "{\"scope\":\"club\"}", 200);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(o, "items"), i, it) CHECK(strcmp(mt_str(it, "id"), id) != 0);
    json_decref(o);
    /* a network proposal is visible to every club */
    CHECK_EQ_INT(gt_call(&netadmin, "get_proposal",
                         "{\"id\":\"00000000-0000-4000-8000-000000000009\"}", NULL),
                 404);
}

static void test_bad_input(void) {
    char ids[1][40];
    svc_caller_t a[1];
    clubs(1, ids, a);
    json_t *o = gt_want(&a[0], "create_proposal", "{\"title\":\"x\"}", 400);
    CHECK_STR(mt_str(o, "error.field"), "type");
    json_decref(o);
    o = gt_want(&a[0], "create_proposal",
                "{\"type\":\"admit_club\",\"title\":\"x\",\"actions\":[{\"type\":\"expel_club\","
                "\"club_id\":\"00000000-0000-4000-8000-000000000001\"}]}",
                422);
    CHECK_STR(mt_str(o, "error.field"), "actions[0].type");
    json_decref(o);
    o = gt_want(&a[0], "create_proposal",
                "{\"type\":\"amend_terms\",\"title\":\"x\",\"actions\":[{\"type\":"
                "\"set_network_term\",\"key\":\"Bad Key\",\"value\":1}]}",
                422);
    CHECK_STR(mt_str(o, "error.field"), "actions[0].key");
    json_decref(o);
    /* only a network administrator sets the clock */
    svc_caller_t plain = mt_caller(ids[0], a[0].user_id, 0, ADMIN_PERMS);
    o = gt_want(&plain, "create_proposal",
                "{\"type\":\"policy\",\"title\":\"x\",\"as_of\":\"" T0 "\"}", 403);
    CHECK_STR(mt_str(o, "error.field"), "as_of");
    json_decref(o);
    /* a rule override out of bounds */
    o = gt_want(&netadmin, "set_proposal_type_rule",
                "{\"type\":\"policy\",\"rule\":{\"voting_period_s\":3600}}", 422);
    CHECK_STR(mt_str(o, "error.field"), "rule.voting_period_s");
    json_decref(o);
}

static void test_type_override(void) {
    json_t *o =
        gt_want(&netadmin, "set_proposal_type_rule",
                "{\"type\":\"budget\",\"rule\":{\"kind\":\"absolute\",\"quorum_bp\":2500}}", 200);
    CHECK_STR(mt_str(o, "kind"), "absolute");
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "quorum_bp")), 2500);
    json_decref(o);
    char ids[2][40], id[40], in[96];
    svc_caller_t a[2];
    clubs(2, ids, a);
    REQUIRE(propose(&a[0], &a[1], "budget", NULL, id) == 0);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_STR(mt_str(o, "rule.kind"), "absolute");
    json_decref(o);
    json_decref(
        gt_want(&netadmin, "set_proposal_type_rule", "{\"type\":\"budget\",\"rule\":null}", 200));
}

/* ---- weights ---- */

static void test_club_weight(void) {
    char ids[3][40], id[40], in[160];
    svc_caller_t a[3];
    clubs(3, ids, a);
    /* one club one vote by default; the network administrator gives club 0 weight 3 */
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"weight\":0}", ids[0]);
    json_t *o = gt_want(&netadmin, "set_club_weight", in, 422);
    CHECK_STR(mt_str(o, "error.field"), "weight");
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"weight\":3}", ids[0]);
    svc_caller_t plain = mt_caller(ids[0], a[0].user_id, 0, ADMIN_PERMS);
    CHECK_EQ_INT(gt_call(&plain, "set_club_weight", in, NULL), 403);
    json_decref(gt_want(&netadmin, "set_club_weight", in, 200));
    REQUIRE(propose(&a[1], &a[2], "policy", NULL, id) == 0);
    json_decref(sweep("2031-03-02T11:00:00Z"));
    /* 3 for against 1 + 1 */
    CHECK_EQ_INT(vote(&a[0], id, "for", "2031-03-03T10:00:00Z", 201), 201);
    CHECK_EQ_INT(vote(&a[1], id, "against", "2031-03-03T10:00:00Z", 201), 201);
    CHECK_EQ_INT(vote(&a[2], id, "against", "2031-03-03T10:00:00Z", 201), 201);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"weight\":1}", ids[0]);
    json_decref(gt_want(&netadmin, "set_club_weight", in, 200)); /* snapshotted: no effect */
    json_decref(sweep("2031-03-09T11:00:00Z"));
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    o = gt_want(&netadmin, "get_proposal", in, 200);
    CHECK_STR(mt_str(o, "status"), "queued");
    json_t *r = json_object_get(o, "result");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r, "for"), "weight")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r, "against"), "weight")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r, "eligible"), "weight")), 5);
    json_decref(o);
}

/* The outbox notifications for schema "governance" waiting on a LISTEN connection. */
static int governance_notifies(PGconn *l) {
    int n = 0;
    PGnotify *nt;
    PQconsumeInput(l);
    while ((nt = PQnotifies(l)) != NULL) {
        n += nt->extra && strcmp(nt->extra, "governance") == 0;
        PQfreemem(nt);
    }
    return n;
}

/* A cast in a process whose relay publishes the governance outbox sends no NOTIFY (core 0005;
 * votes.c): the relay is woken in-process after the COMMIT and publishes the event at once,
 * though its next full pass is 20 s away. */
static void test_cast_wakes_relay(void) {
    err_t e = {0};
    if (!mt_env.bus) {
        fprintf(stdout, "# skipped: no NATS\n");
        return;
    }
    REQUIRE(outbox_ensure_stream(mt_env.bus, 720LL * 3600, &e) == 0);
    PGconn *l = PQconnectdb(getenv("RECIPROCAL_TEST_DATABASE_URL"));
    REQUIRE(PQstatus(l) == CONNECTION_OK);
    PQclear(PQexec(l, "LISTEN outbox"));
    const char *schemas[] = {"governance", NULL};
    outbox_relay_t *r = outbox_relay_start(mt_pool, mt_env.bus, schemas,
                                           &(outbox_relay_opts_t){.poll_ms = 20000}, &e);
    REQUIRE(r != NULL);
    char ids[2][40], id[40];
    svc_caller_t a[2];
    clubs(2, ids, a);
    REQUIRE(propose(&a[0], &a[1], "policy", NULL, id) == 0); /* a vote may change */
    json_decref(sweep("2031-03-02T11:00:00Z"));
    usleep(300 * 1000); /* the relay's first pass and the opening's events are out */
    governance_notifies(l);
    CHECK_EQ_INT(vote(&a[0], id, "for", "2031-03-03T11:00:00Z", 201), 201);
    CHECK_EQ_INT(vote(&a[1], id, "against", "2031-03-03T11:05:00Z", 201), 201);
    const char *p[] = {id};
    db_scope_t sc = {NULL, NULL, 0, 1};
    long long n = -1;
    for (int i = 0; i < 50 && n != 0; i++) { /* up to 1 s */
        usleep(20 * 1000);
        PGresult *q = db_read(mt_pool, &sc,
                              "SELECT count(*) FROM governance.outbox WHERE published_at IS NULL "
                              "AND type = 'governance.vote_cast' AND "
                              "payload->'data'->>'proposal_id' = $1",
                              1, p, &e);
        n = q && PQntuples(q) ? atoll(PQgetvalue(q, 0, 0)) : -1;
        PQclear(q);
    }
    CHECK_EQ_INT(n, 0);                      /* both casts' events published */
    CHECK_EQ_INT(governance_notifies(l), 0); /* and no NOTIFY sent for them */
    outbox_relay_stop(r);
    /* without a relay in this process the cast notifies as before */
    CHECK_EQ_INT(vote(&a[0], id, "against", "2031-03-03T11:10:00Z", 201), 201);
    usleep(100 * 1000);
    CHECK_EQ_INT(governance_notifies(l), 1);
    PQfinish(l);
}

int main(void) {
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    /* the ledger's key-encryption key: the run's (tests/run.sh exports it; the ledger is shared
     * by the test binaries of a run), else a fixed one. admit_club registers the club's ledger
     * organisation when an earlier test has bootstrapped the ledger, and skips it otherwise */
    setenv("RECIPROCAL_LEDGER_KEK", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", 0);
    if (mt_open() != 0) TEST_DONE();
    {
        static ledger_settings_t ls;
        err_t le = {0};
        if (ledger_settings_load(&ls, NULL, &le) == 0) ledger_configure(&ls);
    }
    /* a bus as in a deployment: when an earlier test of the run has bootstrapped the (shared)
     * ledger, admit_club registers the club's organisation through it (the answer stays
     * pending: no cutter runs here) instead of skipping */
    err_t be = {0};
    const char *nats_url = getenv("RECIPROCAL_TEST_NATS_URL");
    if (nats_url) mt_env.bus = bus_connect(nats_url, "test_governance", &be);
    char u[40];
    mt_uuid(u);
    netadmin = mt_caller(NULL, u, 1, "*");
    RUN(test_bad_input);
    RUN(test_ledger_next_indexed);
    RUN(test_zero_votes_defeated);
    RUN(test_pass_queue_execute);
    RUN(test_failed_then_expired);
    RUN(test_cancel);
    RUN(test_suspend_until);
    RUN(test_late_quorum);
    RUN(test_quorum_early_no_extension);
    RUN(test_delegation_override);
    RUN(test_concurrent_casts);
    RUN(test_execute_once_two_processes);
    RUN(test_club_proposal_isolation);
    RUN(test_club_vote);
    RUN(test_delegated_club_votes);
    RUN(test_type_override);
    RUN(test_club_weight);
    RUN(test_ts_inlined);
    RUN(test_row_scope);
    RUN(test_cast_wakes_relay);
    if (mt_env.bus) bus_close(mt_env.bus);
    mt_close();
    TEST_DONE();
}
