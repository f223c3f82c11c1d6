/* End-to-end: the clubs' ledger signers governance keeps per process (presigned.h
 * gov_ledger_signer) follow the ledger's identity changes, in the process that made the change
 * and in another one. Two servers A and B share the database and NATS; the clubs are registered
 * as ledger organisations through A, the votes go through B (whose kept signers were filled by
 * those votes), and the identity changes go through A, so B learns of them only from the
 * ledger's event (ledger.config_changed, published by the outbox after the block's commit):
 * - test_rotated_key_refused: club X holds its own keys (K1); B prepares and signs a vote with
 *   K1; X's identities are replaced by K2 through A; within the event delay B's prepare names K2
 *   and the K1-signed vote is refused (422, the record's creator key is not X's any more), a
 *   K2-signed one stored (201).
 * - test_revoked_key_refused: K2 revoked through A: a K2-signed vote prepared before is refused
 *   by B once the event arrived (409 not_on_ledger: X has no unrevoked member identity).
 * - test_plain_vote_after_rotation: club Y's keys are the server's (B casts its plain vote, 201);
 *   Y replaces them with its own through A: B refuses Y's plain vote (422 signature_required)
 *   once the event arrived (club_signer's held compares the kept key with Y's identity).
 * - test_pass_in_two_processes: the ledger pass (one submit_batch call per pass) runs in A and
 *   B at once over the same pending vote records: every record is submitted, and each
 *   transaction is on the chain once (any further copy DUPLICATE_TXID).
 * - test_pass_drains_backlog: 250 pending vote records go in one sweep (batches of 100).
 * - test_ledger_job_submits: a third server running the ledger records job every second (no
 *   sweep anywhere) puts the votes cast through B on the chain by itself.
 * Without the event a kept signer lives for RECIPROCAL_CACHE_TTL_SECONDS (300 s): each wait
 * below is at most 20 s. */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "support/e2e.h"
#include "support/gov_e2e.h"
#include "test.h"

static e2e_proc_t g_a, g_b;
static char g_kek[128];
static char g_p[64], g_s[64], g_x[64], g_y[64], g_prop[64];
static char g_xorg[32], g_yorg[32];
static unsigned char g_k1[64], g_k2[64];
static char g_k1hex[65], g_k2hex[65];

#define WAIT_MS 20000

static const char *jstr(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}

static long call(const e2e_proc_t *p, const char *method, const char *path, const char *body,
                 json_t **out) {
    return e2e_call(p, NULL, method, path, body, out);
}

/* Ed25519 of base64 bytes b64 with sk: the signature in base64 (out 128). */
static void sign_b64(const char *b64, const unsigned char *sk, char out[128]) {
    size_t cap = b64 ? strlen(b64) : 0, n = 0;
    unsigned char *m = malloc(cap + 1), sig[64];
    if (!m || !b64 ||
        sodium_base642bin(m, cap, b64, cap, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
        n = 0;
    crypto_sign_detached(sig, NULL, m, n, sk);
    sodium_bin2base64(out, 128, sig, 64, sodium_base64_VARIANT_ORIGINAL);
    free(m);
}

/* A fresh key pair: sk (64), the public key in hex (65). */
static void keypair(unsigned char sk[64], char hex[65]) {
    unsigned char pk[32];
    crypto_sign_keypair(pk, sk);
    sodium_bin2hex(hex, 65, pk, 32);
}

/* {"member": hex, "admin": <a fresh key>} */
static void public_keys(const char *member_hex, char *out, size_t cap) {
    unsigned char ask[64];
    char ahex[65];
    keypair(ask, ahex);
    snprintf(out, cap, "{\"member\":\"%s\",\"admin\":\"%s\"}", member_hex, ahex);
}

/* X's (or any club's) organisation replaced through A with identities the club keeps. */
static int replace_identities(const char *org, const char *club, const char *member_hex) {
    char keys[256], body[512];
    json_t *v = NULL;
    public_keys(member_hex, keys, sizeof keys);
    snprintf(body, sizeof body,
             "{\"org\":\"%s\",\"club_id\":\"%s\",\"public_keys\":%s,\"wait_ms\":10000}", org, club,
             keys);
    long st = call(&g_a, "POST", "/api/v1/ledger/orgs", body, &v);
    int ok =
        st == 200 && jstr(v, "validation_code") && strcmp(jstr(v, "validation_code"), "VALID") == 0;
    if (!ok)
        printf("#   replace %s: %ld %s\n", org, st, jstr(v, "status") ? jstr(v, "status") : "");
    json_decref(v);
    return ok ? 0 : -1;
}

/* POST .../votes/prepare on p for club at as_of: the status; *out the answer. */
static long prepare(const e2e_proc_t *p, const char *club, const char *choice, const char *as_of,
                    json_t **out) {
    char path[256], body[256];
    snprintf(path, sizeof path, "/api/v1/governance/proposals/%s/votes/prepare", g_prop);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"choice\":\"%s\",\"as_of\":\"%s\"}", club,
             choice, as_of);
    *out = NULL;
    return e2e_call(p, NULL, "POST", path, body, out);
}

static long cast_signed(const e2e_proc_t *p, const char *club, const char *tx, const char *sig,
                        const char *as_of, json_t **out) {
    char path[256];
    snprintf(path, sizeof path, "/api/v1/governance/proposals/%s/votes", g_prop);
    json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "club_id", club, "tx", tx, "signature", sig,
                          "as_of", as_of);
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    long st = e2e_call(p, NULL, "POST", path, s, out);
    free(s);
    return st;
}

static long cast_plain(const e2e_proc_t *p, const char *club, const char *as_of, json_t **out) {
    char path[256], body[256];
    snprintf(path, sizeof path, "/api/v1/governance/proposals/%s/votes", g_prop);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"choice\":\"for\",\"as_of\":\"%s\"}", club,
             as_of);
    return e2e_call(p, NULL, "POST", path, body, out);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until p's prepare for X answers want_status (and, for 200, signer want_pk): 0 or -1. */
static int wait_prepare(const e2e_proc_t *p, long want_status, const char *want_pk,
                        const char *as_of) {
    long long end = now_ms() + WAIT_MS;
    for (;;) {
        json_t *v = NULL;
        long st = prepare(p, g_x, "against", as_of, &v);
        const char *k =
            json_string_value(json_object_get(json_object_get(v, "signer"), "public_key"));
        char pk[80];
        snprintf(pk, sizeof pk, "%s", k ? k : "-");
        int ok = st == want_status && (!want_pk || strcmp(pk, want_pk) == 0);
        json_decref(v);
        if (ok) return 0;
        if (now_ms() > end) {
            printf("#   prepare on %s: %ld (signer %s), want %ld %s\n", p->base, st, pk,
                   want_status, want_pk ? want_pk : "");
            return -1;
        }
        usleep(100 * 1000);
    }
}

static void test_start(void) {
    const char *kek = getenv("RECIPROCAL_LEDGER_KEK"); /* exported by tests/run.sh */
    snprintf(g_kek, sizeof g_kek, "RECIPROCAL_LEDGER_KEK=%s", kek ? kek : "");
    const char *env[] = {g_kek, "RECIPROCAL_GOVERNANCE_SWEEP_SECONDS=0",
                         "RECIPROCAL_GOVERNANCE_LEDGER_SECONDS=0", NULL};
    REQUIRE(e2e_start(&g_a, NULL, 0, 1, env) == 0);
    REQUIRE(e2e_start(&g_b, NULL, 0, 1, env) == 0);
    REQUIRE(e2e_login_admin(&g_a, NULL, NULL) == 0);
    REQUIRE(gov_e2e_ledger_network(&g_a) == 0);
    char slug[64], org[32], keys[256];
    int pid = (int)getpid();
    /* the server's keys first: once clubs holding their own admin keys are in the
     * configuration, an update needs the majority the server holds */
    snprintf(slug, sizeof slug, "govsig-p-%d", pid);
    snprintf(org, sizeof org, "gsgp%d", pid);
    REQUIRE(gov_e2e_ledger_club(&g_a, "Gov Signer P", slug, org, NULL, g_p, NULL) == 0);
    snprintf(slug, sizeof slug, "govsig-s-%d", pid);
    snprintf(org, sizeof org, "gsgs%d", pid);
    REQUIRE(gov_e2e_ledger_club(&g_a, "Gov Signer S", slug, org, NULL, g_s, NULL) == 0);
    snprintf(slug, sizeof slug, "govsig-y-%d", pid);
    snprintf(g_yorg, sizeof g_yorg, "gsgy%d", pid);
    REQUIRE(gov_e2e_ledger_club(&g_a, "Gov Signer Y", slug, g_yorg, NULL, g_y, NULL) == 0);
    keypair(g_k1, g_k1hex);
    keypair(g_k2, g_k2hex);
    public_keys(g_k1hex, keys, sizeof keys);
    snprintf(slug, sizeof slug, "govsig-x-%d", pid);
    snprintf(g_xorg, sizeof g_xorg, "gsgx%d", pid);
    REQUIRE(gov_e2e_ledger_club(&g_a, "Gov Signer X", slug, g_xorg, keys, g_x, NULL) == 0);
    /* a policy proposal (a vote may change) of P sponsored by S, open on the injected clock */
    char body[512], path[256];
    json_t *v = NULL;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"type\":\"policy\",\"title\":\"Signer\",\"as_of\":"
             "\"2033-03-01T10:00:00Z\"}",
             g_p);
    REQUIRE(call(&g_a, "POST", "/api/v1/governance/proposals", body, &v) == 201);
    snprintf(g_prop, sizeof g_prop, "%s", jstr(v, "id"));
    json_decref(v);
    snprintf(path, sizeof path, "/api/v1/governance/proposals/%s/sponsor", g_prop);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"as_of\":\"2033-03-01T10:00:00Z\"}", g_s);
    REQUIRE(call(&g_a, "POST", path, body, NULL) == 200);
    REQUIRE(call(&g_a, "POST", "/api/v1/governance/sweep", "{\"as_of\":\"2033-03-01T11:00:00Z\"}",
                 NULL) == 200);
}

static void test_rotated_key_refused(void) {
    json_t *v1 = NULL, *v = NULL, *res = NULL;
    /* both processes keep X's signer K1 */
    REQUIRE(prepare(&g_b, g_x, "for", "2033-03-02T10:00:00Z", &v1) == 200);
    CHECK_STR(json_string_value(json_object_get(json_object_get(v1, "signer"), "public_key")),
              g_k1hex);
    REQUIRE(prepare(&g_a, g_x, "for", "2033-03-02T10:00:00Z", &v) == 200);
    json_decref(v);
    char sig1[128];
    sign_b64(jstr(v1, "sign_bytes"), g_k1, sig1);
    /* X replaces its identities (K2) through A */
    REQUIRE(replace_identities(g_xorg, g_x, g_k2hex) == 0);
    /* B (and A) learn it from the event */
    CHECK_EQ_INT(wait_prepare(&g_b, 200, g_k2hex, "2033-03-02T10:00:30Z"), 0);
    CHECK_EQ_INT(wait_prepare(&g_a, 200, g_k2hex, "2033-03-02T10:00:30Z"), 0);
    /* the K1-signed vote: its record's creator key is not X's identity any more */
    CHECK_EQ_INT(cast_signed(&g_b, g_x, jstr(v1, "tx"), sig1, "2033-03-02T10:00:40Z", &res), 422);
    json_decref(res);
    /* a K2-signed one is X's vote */
    REQUIRE(prepare(&g_b, g_x, "for", "2033-03-02T10:01:00Z", &v) == 200);
    char sig2[128];
    sign_b64(jstr(v, "sign_bytes"), g_k2, sig2);
    CHECK_EQ_INT(cast_signed(&g_b, g_x, jstr(v, "tx"), sig2, "2033-03-02T10:01:01Z", &res), 201);
    json_decref(res);
    json_decref(v);
    json_decref(v1);
}

static void test_revoked_key_refused(void) {
    json_t *v = NULL, *res = NULL;
    char body[256], sig[128];
    /* a later K2-signed vote, prepared while K2 is X's identity (B keeps it) */
    REQUIRE(prepare(&g_b, g_x, "against", "2033-03-02T10:02:00Z", &v) == 200);
    sign_b64(jstr(v, "sign_bytes"), g_k2, sig);
    snprintf(body, sizeof body, "{\"public_key\":\"%s\",\"reason\":\"lost\",\"wait_ms\":10000}",
             g_k2hex);
    json_t *rv = NULL;
    CHECK_EQ_INT(call(&g_a, "POST", "/api/v1/ledger/revocations", body, &rv), 200);
    CHECK_STR(jstr(rv, "validation_code"), "VALID");
    json_decref(rv);
    /* once B heard of it, X has no member identity: its signed vote is refused */
    CHECK_EQ_INT(wait_prepare(&g_b, 409, NULL, "2033-03-02T10:02:30Z"), 0);
    CHECK_EQ_INT(cast_signed(&g_b, g_x, jstr(v, "tx"), sig, "2033-03-02T10:02:40Z", &res), 409);
    CHECK_STR(json_string_value(json_object_get(json_object_get(res, "error"), "code")),
              "not_on_ledger");
    json_decref(res);
    json_decref(v);
}

static void test_plain_vote_after_rotation(void) {
    json_t *res = NULL;
    /* Y's keys are the server's: its plain vote is stored (B keeps Y's signer, held) */
    CHECK_EQ_INT(cast_plain(&g_b, g_y, "2033-03-02T11:00:00Z", &res), 201);
    json_decref(res);
    unsigned char sk[64];
    char hex[65];
    keypair(sk, hex);
    REQUIRE(replace_identities(g_yorg, g_y, hex) == 0);
    long long end = now_ms() + WAIT_MS;
    long st = 0;
    int i = 0;
    do {
        char as_of[40];
        snprintf(as_of, sizeof as_of, "2033-03-02T11:%02d:%02dZ", 1 + i / 60, i % 60);
        i++;
        res = NULL;
        st = cast_plain(&g_b, g_y, as_of, &res);
        if (st == 422)
            CHECK_STR(json_string_value(json_object_get(json_object_get(res, "error"), "code")),
                      "signature_required");
        json_decref(res);
        if (st != 422) usleep(100 * 1000);
    } while (st != 422 && now_ms() < end && i < 3000);
    CHECK_EQ_INT(st, 422);
}

static void *sweep_thread(void *arg) {
    const e2e_proc_t *p = arg;
    for (int i = 0; i < 3; i++)
        e2e_call(p, NULL, "POST", "/api/v1/governance/sweep",
                 "{\"as_of\":\"2033-03-03T10:00:00Z\"}", NULL);
    return NULL;
}

/* The proposal's vote records whose transaction is not on the chain exactly once (copies
 * DUPLICATE_TXID aside), or whose transaction is not committed yet; -1 when unreadable. */
static long long not_once(void) {
    err_t e = {0};
    long long n = -1;
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_OWNER_URL"), 1, &e);
    if (!db) return -1;
    db_scope_t sc = {.network_admin = 1};
    db_tx_t *tx = NULL;
    const char *p[] = {g_prop};
    if (db_begin(db, &sc, &tx, &e) == 0) {
        PGresult *r = db_exec(tx,
                              "SELECT count(*) FROM governance.ledger_records l WHERE "
                              "l.proposal_id = $1 AND l.kind = 'governance.vote_cast' AND "
                              "(l.tx_id IS NULL OR (SELECT count(*) FROM ledger.txs t WHERE "
                              "t.tx_id = decode(l.tx_id, 'hex') AND t.validation_code <> 9) <> 1)",
                              1, p, &e);
        if (r) n = atoll(PQgetvalue(r, 0, 0));
        if (r) PQclear(r);
        db_rollback(tx);
    }
    db_pool_close(db);
    return n;
}

static void test_pass_in_two_processes(void) {
    json_t *res = NULL;
    /* ten vote records of P and S (a policy vote may change: each cast is a record) */
    for (int i = 0; i < 10; i++) {
        char as_of[40];
        snprintf(as_of, sizeof as_of, "2033-03-02T12:00:%02dZ", i);
        CHECK_EQ_INT(cast_plain(i % 2 ? &g_a : &g_b, i % 2 ? g_p : g_s, as_of, &res), 201);
        json_decref(res);
    }
    pthread_t ta, tb;
    REQUIRE(pthread_create(&ta, NULL, sweep_thread, &g_a) == 0);
    REQUIRE(pthread_create(&tb, NULL, sweep_thread, &g_b) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_EQ_INT(gov_e2e_drain(&g_a, g_prop, "2033-03-03T10:00:00Z", 40), 0);
    long long bad = -1, end = now_ms() + WAIT_MS;
    while ((bad = not_once()) != 0 && now_ms() < end)
        usleep(200 * 1000);
    CHECK_EQ_INT(bad, 0);
}

/* n plain votes of P and S alternately through p, at as_of 2033-03-02T<hour>:MM:SS. */
static void cast_many(const e2e_proc_t *p, int n, int hour) {
    for (int i = 0; i < n; i++) {
        char as_of[40];
        json_t *res = NULL;
        snprintf(as_of, sizeof as_of, "2033-03-02T%02d:%02d:%02dZ", hour, i / 60, i % 60);
        CHECK_EQ_INT(cast_plain(p, i % 2 ? g_p : g_s, as_of, &res), 201);
        json_decref(res);
    }
}

/* One pass drains a backlog: 250 vote records (more than two ledger batches of 100) submitted
 * by a single POST /sweep (a pass took 50 records, so a sweep every 60 s submitted under one
 * vote per second). */
static void test_pass_drains_backlog(void) {
    cast_many(&g_b, 250, 14);
    json_t *res = NULL;
    CHECK_EQ_INT(call(&g_b, "POST", "/api/v1/governance/sweep",
                      "{\"as_of\":\"2033-03-03T10:00:00Z\"}", &res),
                 200);
    /* (records of other proposals that can be submitted would count too) */
    CHECK(json_integer_value(json_object_get(res, "ledger_submitted")) >= 250);
    json_decref(res);
    CHECK_EQ_INT(gov_e2e_pending(g_prop, 1), 0);
}

/* The ledger records job: a server C with RECIPROCAL_GOVERNANCE_LEDGER_SECONDS=1 (and no sweep)
 * puts the votes cast through B (whose job is off) on the ledger by itself, within seconds. */
static void test_ledger_job_submits(void) {
    e2e_proc_t c;
    const char *env[] = {g_kek, "RECIPROCAL_GOVERNANCE_SWEEP_SECONDS=0",
                         "RECIPROCAL_GOVERNANCE_LEDGER_SECONDS=1", NULL};
    REQUIRE(e2e_start(&c, NULL, 0, 1, env) == 0);
    cast_many(&g_b, 20, 15);
    long long left = -1, end = now_ms() + WAIT_MS;
    while ((left = gov_e2e_pending(g_prop, 0)) != 0 && now_ms() < end)
        usleep(200 * 1000);
    CHECK_EQ_INT(left, 0);
    long long bad = -1;
    while ((bad = not_once()) != 0 && now_ms() < end)
        usleep(200 * 1000);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(e2e_stop(&c), 0);
}

static void test_stop(void) {
    CHECK_EQ_INT(e2e_stop(&g_b), 0);
    CHECK_EQ_INT(e2e_stop(&g_a), 0);
}

int main(void) {
    RUN(test_start);
    RUN(test_rotated_key_refused);
    RUN(test_revoked_key_refused);
    RUN(test_plain_vote_after_rotation);
    RUN(test_pass_in_two_processes);
    RUN(test_pass_drains_backlog);
    RUN(test_ledger_job_submits);
    RUN(test_stop);
    TEST_DONE();
}
