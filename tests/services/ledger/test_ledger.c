/* test_ledger: the ledger service against the PostgreSQL and nats-server of tests/run.sh.
 * Bootstrap and org registration, Fabric's T1-T5 MVCC example, endorsement policies, a revoked
 * key, duplicate tx ids, two block cutters racing (one chain, fencing), proofs from the stored
 * subtrees checked with merkle_verify_*, witness rules (rollback, fork, consistency) and k-of-n
 * finality, the offline verifier (and that it names tampering), and a throughput measurement.
 * The chain is shared with other test binaries of the same run: everything is relative. */
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"
#include "lib/ledger/checkpoint.h"
#include "lib/ledger/merkle.h"
#include "services/ledger/api.h"
#include "services/ledger/engine.h"
#include "services/ledger/orderer.h"
#include "services/ledger/runner.h"
#include "services/ledger/settings.h"
#include "services/ledger/store.h"
#include "services/ledger/verify.h"
#include "verify_both.h"
#include "test.h"

static db_pool_t *pool;
static ledger_settings_t g_cfg; /* the harness environment (tests/run.sh) */
static bus_t *bus;
static char A[32], B[32], C[32], tag[16];
static const db_scope_t writer = {0}; /* with db_begin_ledger_writer */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Builds a tx created by creator (member key), endorsed by signers "org/role", submits it and
 * waits; returns the status object (caller decrefs) or NULL. */
static json_t *run_tx(const char *type, const char *creator, json_t *payload, json_t *reads,
                      json_t *writes, const char *const *signers, int wait_ms, uint8_t id[32]) {
    uint8_t sk[64], pk[32], *tx = NULL, tid[32];
    size_t len = 0;
    err_t e = {0};
    json_t *st = NULL;
    if (ledger_org_key(pool, creator, "member", sk, pk, &e) != 0) goto out;
    json_t *spec = json_pack("{s:s,s:s}", "type", type, "creator", creator);
    if (payload) json_object_set(spec, "payload", payload);
    if (reads) json_object_set(spec, "reads", reads);
    if (writes) json_object_set(spec, "writes", writes);
    int rc = ledger_build_tx(spec, pk, &tx, &len, tid, &e);
    json_decref(spec);
    if (rc != 0) goto out;
    ledger_endorsement_t end[8];
    size_t n = 0;
    for (; signers[n]; n++) {
        char org[64];
        snprintf(org, sizeof org, "%s", signers[n]);
        char *slash = strchr(org, '/');
        *slash = 0;
        if (ledger_org_key(pool, org, slash + 1, sk, pk, &e) != 0) goto out;
        ledger_endorse(tx, len, sk, &end[n]);
    }
    if (ledger_submit(pool, bus, tx, len, end, n, wait_ms, &st, &e) != 0) st = NULL;
    if (id) memcpy(id, tid, 32);
out:
    if (!st) printf("#   run_tx: %s\n", e.message);
    free(tx);
    return st;
}

static const char *code_of(json_t *st) {
    const char *c = json_string_value(json_object_get(st, "validation_code"));
    return c ? c : json_string_value(json_object_get(st, "status"));
}

static void key(char *buf, size_t cap, const char *k) {
    snprintf(buf, cap, "%s/%s", tag, k);
}

/* The validation codes of every copy of a tx id in the chain, in log order ("0", "0,9"). */
static void chain_codes(const uint8_t id[32], char *out, size_t cap) {
    err_t e = {0};
    db_tx_t *dtx = NULL;
    char hx[65];
    ledger_hex(id, 32, hx);
    const char *p[] = {hx};
    snprintf(out, cap, "?");
    REQUIRE(db_begin(pool, &(db_scope_t){0}, &dtx, &e) == 0);
    PGresult *r = db_exec(dtx,
                          "SELECT coalesce(string_agg(validation_code::text, ',' ORDER BY "
                          "log_index), '') AS c FROM ledger.txs WHERE tx_id = decode($1, 'hex')",
                          1, p, &e);
    db_rollback(dtx);
    REQUIRE(r != NULL);
    snprintf(out, cap, "%s", db_val(r, 0, "c"));
    PQclear(r);
}

static void test_bootstrap_and_orgs(void) {
    err_t e = {0};
    REQUIRE(ledger_bootstrap(pool, bus, &e) == 0);
    const char *orgs[] = {A, B, C};
    for (int i = 0; i < 3; i++) {
        json_t *st = NULL;
        REQUIRE(ledger_register_org(pool, bus, orgs[i], NULL, "club", 10000, &st, &e) == 0);
        CHECK_STR(code_of(st), "VALID");
        json_decref(st);
    }
    /* an org outside the network cannot create transactions */
    json_t *st = NULL;
    CHECK(ledger_register_org(pool, bus, "bad org", NULL, "x", 1000, &st, &e) != 0);
    CHECK_EQ_INT(e.status, 422);
}

static void test_mvcc_t1_t5(void) {
    char k[6][64];
    for (int i = 0; i < 6; i++) {
        char n[8];
        snprintf(n, sizeof n, "k%d", i + 1);
        key(k[i], sizeof k[i], n);
    }
    const char *sa[] = {NULL, NULL};
    char s0[48];
    snprintf(s0, sizeof s0, "%s/member", A);
    sa[0] = s0;
    json_t *w = json_array();
    for (int i = 0; i < 5; i++)
        json_array_append_new(w, json_pack("{s:s,s:s}", "key", k[i], "value", "v1"));
    json_t *st = run_tx("data.put", A, NULL, NULL, w, sa, 10000, NULL);
    json_decref(w);
    REQUIRE(st != NULL);
    CHECK_STR(code_of(st), "VALID");
    uint64_t v1 = ledger_version((uint64_t)json_integer_value(json_object_get(st, "block_number")),
                                 (uint32_t)json_integer_value(json_object_get(st, "position")));
    json_decref(st);

    /* T1..T5, simulated against version v1, ordered together */
    json_t *rd[5] = {NULL}, *wr[5];
    wr[0] =
        json_pack("[{s:s,s:s},{s:s,s:s}]", "key", k[0], "value", "t1", "key", k[1], "value", "t1");
    rd[1] = json_pack("[{s:s,s:I}]", "key", k[0], "version", (json_int_t)v1);
    wr[1] = json_pack("[{s:s,s:s}]", "key", k[2], "value", "t2");
    wr[2] = json_pack("[{s:s,s:s}]", "key", k[1], "value", "t3");
    rd[3] = json_pack("[{s:s,s:I}]", "key", k[1], "version", (json_int_t)v1);
    wr[3] = json_pack("[{s:s,s:s}]", "key", k[1], "value", "t4");
    rd[4] = json_pack("[{s:s,s:I}]", "key", k[4], "version", (json_int_t)v1);
    wr[4] = json_pack("[{s:s,s:s}]", "key", k[5], "value", "t5");
    uint8_t ids[5][32];
    for (int i = 0; i < 5; i++) {
        json_t *s = run_tx("data.put", A, NULL, rd[i], wr[i], sa, 0, ids[i]);
        CHECK(s != NULL);
        json_decref(s);
        json_decref(rd[i]);
        json_decref(wr[i]);
    }
    const char *want[] = {"VALID", "MVCC_READ_CONFLICT", "VALID", "MVCC_READ_CONFLICT", "VALID"};
    for (int i = 0; i < 5; i++) {
        err_t e = {0};
        json_t *s = NULL;
        REQUIRE(ledger_tx_status(pool, bus, ids[i], 10000, &s, &e) == 0);
        CHECK_STR(code_of(s), want[i]);
        json_decref(s);
    }
    /* invalid transactions changed no state: k3 still v1, k2 = t3 (T4 lost), k6 = t5 */
    db_tx_t *tx = NULL;
    err_t e = {0};
    REQUIRE(db_begin(pool, &(db_scope_t){0}, &tx, &e) == 0);
    const char *p[] = {k[2], k[1]};
    PGresult *r = db_exec(
        tx,
        "SELECT (SELECT convert_from(value, 'UTF8') FROM ledger.state WHERE key = "
        "convert_to($1, 'UTF8')) AS k3, (SELECT convert_from(value, 'UTF8') FROM ledger.state "
        "WHERE key = convert_to($2, 'UTF8')) AS k2",
        2, p, &e);
    db_rollback(tx);
    REQUIRE(r != NULL);
    CHECK_STR(db_val(r, 0, "k3"), "v1");
    CHECK_STR(db_val(r, 0, "k2"), "t3");
    PQclear(r);
}

static void test_policies(void) {
    char am[48], bm[48], aa[48], ba[48];
    snprintf(am, sizeof am, "%s/member", A);
    snprintf(bm, sizeof bm, "%s/member", B);
    snprintf(aa, sizeof aa, "%s/admin", A);
    snprintf(ba, sizeof ba, "%s/admin", B);
    json_t *visit = json_pack("{s:s,s:s,s:s}", "host", A, "home", B, "member_commitment", "00ff");
    const char *only_a[] = {am, NULL}, *both[] = {am, bm, NULL}, *dup_a[] = {am, am, NULL};
    json_t *st = run_tx("visit.verified", A, visit, NULL, NULL, only_a, 10000, NULL);
    CHECK_STR(code_of(st), "ENDORSEMENT_POLICY_FAILURE");
    json_decref(st);
    st = run_tx("visit.verified", A, visit, NULL, NULL, dup_a, 10000, NULL);
    CHECK_STR(code_of(st), "ENDORSEMENT_POLICY_FAILURE"); /* de-duplicated signers */
    json_decref(st);
    st = run_tx("visit.verified", A, visit, NULL, NULL, both, 10000, NULL);
    CHECK_STR(code_of(st), "VALID");
    json_decref(st);
    json_decref(visit);
    /* admins of both clubs for an agreement; members are not enough */
    json_t *agr = json_pack("{s:[s,s]}", "clubs", A, B);
    const char *admins[] = {am, aa, ba, NULL};
    st = run_tx("agreement.activated", A, agr, NULL, NULL, both, 10000, NULL);
    CHECK_STR(code_of(st), "ENDORSEMENT_POLICY_FAILURE");
    json_decref(st);
    st = run_tx("agreement.activated", A, agr, NULL, NULL, admins, 10000, NULL);
    CHECK_STR(code_of(st), "VALID");
    json_decref(st);
    json_decref(agr);
    /* unknown type, bad payload, config keys from a normal tx */
    st = run_tx("visit.teleported", A, NULL, NULL, NULL, only_a, 10000, NULL);
    CHECK_STR(code_of(st), "UNKNOWN_TX_TYPE");
    json_decref(st);
    json_t *bad = json_pack("{s:s}", "host", "no spaces allowed");
    st = run_tx("visit.verified", A, bad, NULL, NULL, both, 10000, NULL);
    CHECK_STR(code_of(st), "BAD_PAYLOAD");
    json_decref(st);
    json_decref(bad);
    json_t *w = json_pack("[{s:s,s:s}]", "key", "config/org/evil", "value", "{}");
    st = run_tx("data.put", A, NULL, NULL, w, only_a, 10000, NULL);
    CHECK_STR(code_of(st), "ILLEGAL_WRITESET");
    json_decref(st);
    json_decref(w);
    /* the creator must endorse */
    json_t *v2 = json_pack("{s:s,s:s}", "host", A, "home", B);
    const char *b_only[] = {bm, ba, NULL};
    st = run_tx("visit.verified", A, v2, NULL, NULL, b_only, 10000, NULL);
    CHECK_STR(code_of(st), "BAD_CREATOR_SIGNATURE");
    json_decref(st);
    json_decref(v2);
}

static void test_revoked_key(void) {
    char cm[48], am[48];
    snprintf(cm, sizeof cm, "%s/member", C);
    snprintf(am, sizeof am, "%s/member", A);
    uint8_t sk[64], pk[32];
    err_t e = {0};
    REQUIRE(ledger_org_key(pool, C, "member", sk, pk, &e) == 0);
    json_t *visit = json_pack("{s:s,s:s}", "host", A, "home", C);
    const char *both[] = {am, cm, NULL};
    json_t *st = run_tx("visit.verified", A, visit, NULL, NULL, both, 10000, NULL);
    CHECK_STR(code_of(st), "VALID");
    json_decref(st);
    st = NULL;
    REQUIRE(ledger_revoke_key(pool, bus, pk, "lost laptop", 10000, &st, &e) == 0);
    CHECK_STR(code_of(st), "VALID");
    json_decref(st);
    st = run_tx("visit.verified", A, visit, NULL, NULL, both, 10000, NULL);
    CHECK_STR(code_of(st), "ENDORSEMENT_POLICY_FAILURE");
    json_decref(st);
    json_decref(visit);
}

static void test_duplicate_txid(void) {
    char am[48], k1[64];
    snprintf(am, sizeof am, "%s/member", A);
    key(k1, sizeof k1, "dup");
    uint8_t sk[64], pk[32], id[32], *tx = NULL, *tx2 = NULL, *env = NULL;
    size_t len = 0, len2 = 0, el = 0;
    err_t e = {0};
    REQUIRE(ledger_org_key(pool, A, "member", sk, pk, &e) == 0);
    char nonce[40];
    snprintf(nonce, sizeof nonce, "dup-nonce-%s", tag);
    json_t *spec = json_pack("{s:s,s:s,s:s,s:[{s:s,s:s}]}", "type", "data.put", "creator", A,
                             "nonce", nonce, "writes", "key", k1, "value", "first");
    REQUIRE(ledger_build_tx(spec, pk, &tx, &len, id, &e) == 0);
    json_object_set_new(spec, "writes", json_pack("[{s:s,s:s}]", "key", k1, "value", "second"));
    uint8_t id2[32];
    REQUIRE(ledger_build_tx(spec, pk, &tx2, &len2, id2, &e) == 0);
    json_decref(spec);
    CHECK(memcmp(id, id2, 32) == 0); /* same creator + nonce = same tx id */
    ledger_endorsement_t en;
    ledger_endorse(tx, len, sk, &en);
    json_t *st = NULL;
    REQUIRE(ledger_submit(pool, bus, tx, len, &en, 1, 10000, &st, &e) == 0);
    CHECK_STR(code_of(st), "VALID");
    json_decref(st);
    /* the same id again, past JetStream's duplicate window (another message id), as a consumer
     * re-delivering an acked envelope does: the cutter acks and drops it (issue 17 item 5;
     * before, every re-delivery became a one-transaction DUPLICATE_TXID block) */
    ledger_endorse(tx2, len2, sk, &en);
    REQUIRE(ledger_envelope_encode(tx2, len2, &en, 1, &env, &el, &e) == 0);
    REQUIRE(bus_js_publish(bus, LEDGER_TX_SUBJECT, "dup-beyond-window", env, el, NULL, &e) == 0);
    size_t cut = 0, total = 0;
    for (int i = 0; i < 20; i++) {
        REQUIRE(ledger_cut_once(bus, pool, 500, 20, &cut, &e) == 0);
        total += cut;
    }
    REQUIRE(ledger_pump(pool, bus, &e) == 0);
    CHECK_EQ_INT(total, 0);
    char codes[64];
    chain_codes(id, codes, sizeof codes);
    CHECK_STR(codes, "0");
    REQUIRE(ledger_cutter_metrics(bus, &e) == 0);
    char *m = metrics_render();
    CHECK(m && strstr(m, "ledger_cutter_dropped_committed_total") != NULL);
    CHECK(m && strstr(m, "ledger_cutter_ack_floor ") != NULL);
    CHECK(m && strstr(m, "ledger_cutter_ack_pending ") != NULL);
    free(m);
    /* the state kept the first value */
    json_t *in = json_pack("{s:s}", "key", k1), *out = NULL;
    svc_env_t env0 = {.db = pool, .bus = bus};
    svc_call_t call = {.env = &env0};
    REQUIRE(ledger_h_evaluate(&call, in, &out, &e) == 0);
    CHECK_STR(json_string_value(json_object_get(out, "value")), "first");
    json_decref(in);
    json_decref(out);
    /* two envelopes of one new id in one batch: the second is acked, not ordered (before the
     * cutter checked the batch against itself, it was ordered and DUPLICATE_TXID: "0,9") */
    uint8_t *tx3 = NULL, *env3 = NULL, id3[32];
    size_t len3 = 0, el3 = 0;
    snprintf(nonce, sizeof nonce, "dup-nonce-2-%s", tag);
    spec = json_pack("{s:s,s:s,s:s,s:[{s:s,s:s}]}", "type", "data.put", "creator", A, "nonce",
                     nonce, "writes", "key", k1, "value", "third");
    REQUIRE(ledger_build_tx(spec, pk, &tx3, &len3, id3, &e) == 0);
    json_decref(spec);
    ledger_endorse(tx3, len3, sk, &en);
    REQUIRE(ledger_envelope_encode(tx3, len3, &en, 1, &env3, &el3, &e) == 0);
    REQUIRE(bus_js_publish(bus, LEDGER_TX_SUBJECT, "dup-in-block-1", env3, el3, NULL, &e) == 0);
    REQUIRE(bus_js_publish(bus, LEDGER_TX_SUBJECT, "dup-in-block-2", env3, el3, NULL, &e) == 0);
    for (int i = 0; i < 50; i++)
        REQUIRE(ledger_pump(pool, bus, &e) == 0);
    chain_codes(id3, codes, sizeof codes);
    CHECK_STR(codes, "0");
    free(tx3);
    free(env3);
    /* the third write was valid: the state has it */
    json_t *in0 = json_pack("{s:s}", "key", k1), *out0 = NULL;
    svc_env_t env1 = {.db = pool, .bus = bus};
    svc_call_t call1 = {.env = &env1};
    REQUIRE(ledger_h_evaluate(&call1, in0, &out0, &e) == 0);
    CHECK_STR(json_string_value(json_object_get(out0, "value")), "third");
    json_decref(in0);
    json_decref(out0);
    free(tx);
    free(tx2);
    free(env);
}

/* A data.put by A (its member key) writing `what` = value, nonce what-<tag>: its envelope
 * (*env, caller frees) and tx id. */
static void signed_envelope(const char *what, const char *value, uint8_t id[32], uint8_t **env,
                            size_t *el) {
    char k[64], nonce[64];
    key(k, sizeof k, what);
    snprintf(nonce, sizeof nonce, "%s-%s", what, tag);
    uint8_t sk[64], pk[32], *tx = NULL;
    size_t len = 0;
    err_t e = {0};
    REQUIRE(ledger_org_key(pool, A, "member", sk, pk, &e) == 0);
    json_t *spec = json_pack("{s:s,s:s,s:s,s:[{s:s,s:s}]}", "type", "data.put", "creator", A,
                             "nonce", nonce, "writes", "key", k, "value", value);
    REQUIRE(ledger_build_tx(spec, pk, &tx, &len, id, &e) == 0);
    json_decref(spec);
    ledger_endorsement_t en;
    ledger_endorse(tx, len, sk, &en);
    REQUIRE(ledger_envelope_encode(tx, len, &en, 1, env, el, &e) == 0);
    free(tx);
}

/* The counter ledger_cutter_dropped_ordered_total (0 before its first drop). */
static double dropped_ordered(void) {
    char *m = metrics_render();
    const char *p = m ? strstr(m, "\nledger_cutter_dropped_ordered_total ") : NULL;
    double v = p ? strtod(p + strlen("\nledger_cutter_dropped_ordered_total "), NULL) : 0.0;
    free(m);
    return v;
}

/* Cuts until nothing is waiting: *total = the envelopes ordered. */
static void cut_all(bus_t *b, size_t *total) {
    err_t e = {0};
    *total = 0;
    for (int i = 0; i < 20; i++) {
        size_t n = 0;
        REQUIRE(ledger_cut_once(b, pool, 500, 20, &n, &e) == 0);
        *total += n;
    }
}

/* An envelope redelivered while the block holding it is ordered but not yet committed is not
 * ordered again (docs/ledger.md "Ordering and finality"; 3 of 9 loaded test_ledger_faults runs
 * found a DUPLICATE_TXID copy). (1) A block publish whose acknowledgement timed out: JetStream
 * stored the block, the cutter nak'ed the batch and the envelope comes back; here another
 * connection (another process, or this one before a restart: nothing cached) publishes the
 * block and the envelope is still in LEDGER_TX. (2) This cutter ordered the envelope and it is
 * delivered again (past the duplicate window) before the block is committed. Before the fix
 * both were cut into a second block and committed as "0,9". */
static void test_redelivered_while_ordered(void) {
    err_t e = {0};
    int nb = 0;
    double dropped0 = dropped_ordered();
    REQUIRE(ledger_pump(pool, bus, &e) == 0);
    REQUIRE(ledger_commit_pending(pool, bus, &nb, &e) == 0);
    /* (1) */
    uint8_t id[32];
    size_t el = 0;
    uint8_t *env = NULL;
    signed_envelope("acked-late", "once", id, &env, &el);
    int dup = 0;
    REQUIRE(ledger_publish_envelope(bus, env, el, id, &dup, &e) == 0);
    bus_t *b2 = bus_connect(getenv("RECIPROCAL_TEST_NATS_URL"), "timed-out-cutter", &e);
    REQUIRE(b2 != NULL);
    db_tx_t *tx = NULL;
    ledger_head_t h;
    REQUIRE(db_begin(pool, &(db_scope_t){0}, &tx, &e) == 0);
    REQUIRE(ledger_store_head(tx, &h, 0, &e) == 0);
    db_rollback(tx);
    unsigned long long last = 0, seq = 0;
    REQUIRE(bus_js_last_seq(b2, LEDGER_BLOCK_STREAM, &last, &e) == 0);
    CHECK(last == h.js_seq); /* everything ordered is committed */
    const uint8_t *envs[] = {env};
    uint8_t *msg = NULL;
    size_t mlen = 0;
    REQUIRE(ledger_block_msg_encode((uint64_t)(h.height + 1), 1, envs, &el, 1, &msg, &mlen, &e) ==
            0);
    char mid[64];
    snprintf(mid, sizeof mid, "blk-acked-late-%s", tag);
    REQUIRE(bus_js_publish_expect(b2, LEDGER_BLOCK_SUBJECT, mid, msg, mlen, last, &seq, &dup, &e) ==
            0);
    free(msg);
    bus_close(b2);
    size_t cut = 0;
    cut_all(bus, &cut);
    CHECK_EQ_INT(cut, 0);
    REQUIRE(ledger_commit_pending(pool, bus, &nb, &e) == 0);
    char codes[64];
    chain_codes(id, codes, sizeof codes);
    CHECK_STR(codes, "0");
    free(env);
    /* (2) */
    signed_envelope("redelivered", "once", id, &env, &el);
    REQUIRE(ledger_publish_envelope(bus, env, el, id, &dup, &e) == 0);
    cut_all(bus, &cut);
    CHECK_EQ_INT(cut, 1);
    REQUIRE(bus_js_publish(bus, LEDGER_TX_SUBJECT, "redelivered-past-window", env, el, NULL, &e) ==
            0);
    cut_all(bus, &cut);
    CHECK_EQ_INT(cut, 0);
    REQUIRE(ledger_commit_pending(pool, bus, &nb, &e) == 0);
    chain_codes(id, codes, sizeof codes);
    CHECK_STR(codes, "0");
    free(env);
    CHECK(dropped_ordered() - dropped0 == 2.0);
}

/* The publish succeeded but the status read fails (here: the pool's only connection is busy):
 * submit answers "pending", not a 5xx a client could take as "not submitted" (issue 17
 * item 6); the transaction then commits once. */
static void test_submit_status_unreadable(void) {
    char k[64];
    key(k, sizeof k, "ordered-unread");
    uint8_t sk[64], pk[32], id[32], *tx = NULL;
    size_t len = 0;
    err_t e = {0};
    REQUIRE(ledger_org_key(pool, A, "member", sk, pk, &e) == 0);
    json_t *spec = json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "type", "data.put", "creator", A, "writes",
                             "key", k, "value", "once");
    REQUIRE(ledger_build_tx(spec, pk, &tx, &len, id, &e) == 0);
    json_decref(spec);
    ledger_endorsement_t en;
    ledger_endorse(tx, len, sk, &en);
    db_pool_t *small = db_pool_open(TEST_ENV("RECIPROCAL_TEST_DATABASE_URL"), 1, &e);
    REQUIRE(small != NULL);
    db_pool_set_wait_ms(small, 100);
    db_tx_t *hold = NULL;
    REQUIRE(db_begin(small, &(db_scope_t){0}, &hold, &e) == 0);
    json_t *st = NULL;
    int rc = ledger_submit(small, bus, tx, len, &en, 1, 500, &st, &e);
    if (rc != 0) printf("#   submit: %d %s\n", e.status, e.message);
    CHECK_EQ_INT(rc, 0);
    CHECK_STR(code_of(st), "pending");
    json_decref(st);
    db_rollback(hold);
    db_pool_close(small);
    st = NULL;
    REQUIRE(ledger_tx_status(pool, bus, id, 10000, &st, &e) == 0);
    CHECK_STR(code_of(st), "VALID");
    json_decref(st);
    free(tx);
}

/* ---- two cutters ------------------------------------------------------------------------ */

typedef struct cutter {
    bus_t *b;
    int blocks, fenced, errors;
} cutter_t;

static volatile int cut_stop;

static void *cutter_main(void *arg) {
    cutter_t *c = arg;
    while (!cut_stop) {
        err_t e = {0};
        size_t n = 0;
        if (ledger_cut_once(c->b, pool, 4, 20, &n, &e) != 0) {
            if (e.status == 409)
                c->fenced++;
            else
                c->errors++;
        } else if (n > 0) {
            c->blocks++;
        }
    }
    return NULL;
}

static void test_two_cutters(void) {
    err_t e = {0};
    const char *url = getenv("RECIPROCAL_TEST_NATS_URL");
    cutter_t c[2] = {{0}, {0}};
    c[0].b = bus_connect(url, "cutter-1", &e);
    c[1].b = bus_connect(url, "cutter-2", &e);
    REQUIRE(c[0].b && c[1].b);
    /* publish 60 envelopes first, then let both cutters race over them */
    char am[48];
    snprintf(am, sizeof am, "%s/member", A);
    const char *sa[] = {am, NULL};
    uint8_t ids[60][32];
    for (int i = 0; i < 60; i++) {
        char k[64], n[16];
        snprintf(n, sizeof n, "race%d", i);
        key(k, sizeof k, n);
        json_t *w = json_pack("[{s:s,s:s}]", "key", k, "value", "x");
        json_decref(run_tx("data.put", A, NULL, NULL, w, sa, 0, ids[i]));
        json_decref(w);
    }
    cut_stop = 0;
    pthread_t t[2];
    pthread_create(&t[0], NULL, cutter_main, &c[0]);
    pthread_create(&t[1], NULL, cutter_main, &c[1]);
    /* commit while they cut */
    int committed = 0;
    for (int round = 0; round < 400 && committed < 60; round++) {
        int nb = 0;
        CHECK(ledger_commit_pending(pool, bus, &nb, &e) == 0);
        committed = 0;
        for (int i = 0; i < 60; i++) {
            json_t *s = NULL;
            if (ledger_tx_status(pool, NULL, ids[i], 0, &s, &e) == 0 &&
                strcmp(code_of(s), "VALID") == 0)
                committed++;
            json_decref(s);
        }
        usleep(20000);
    }
    cut_stop = 1;
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    int nb = 0;
    CHECK(ledger_commit_pending(pool, bus, &nb, &e) == 0);
    printf("# two cutters: blocks %d + %d, fenced %d + %d, errors %d + %d\n", c[0].blocks,
           c[1].blocks, c[0].fenced, c[1].fenced, c[0].errors, c[1].errors);
    CHECK_EQ_INT(committed, 60);
    CHECK(c[0].blocks > 0 || c[1].blocks > 0);
    CHECK_EQ_INT(c[0].errors + c[1].errors, 0);

    /* deterministic fencing: a stale expected sequence is refused */
    unsigned long long last = 0;
    REQUIRE(bus_js_last_seq(c[0].b, LEDGER_BLOCK_STREAM, &last, &e) == 0);
    REQUIRE(last > 0);
    err_t fe = {0};
    CHECK(bus_js_publish_expect(c[0].b, LEDGER_BLOCK_SUBJECT, "stale-cutter", "x", 1, last - 1,
                                NULL, NULL, &fe) != 0);
    CHECK_EQ_INT(fe.status, 409);
    CHECK_STR(fe.code, "fenced");

    /* one chain: every block's prev_hash is the previous header hash, numbers are dense */
    db_tx_t *tx = NULL;
    REQUIRE(db_begin(pool, &(db_scope_t){0}, &tx, &e) == 0);
    PGresult *r = db_exec(tx,
                          "SELECT count(*) AS bad FROM ledger.blocks b LEFT JOIN ledger.blocks p "
                          "ON p.number = b.number - 1 WHERE b.number > 0 AND (p.number IS NULL OR "
                          "p.header_hash <> b.prev_hash)",
                          0, NULL, &e);
    db_rollback(tx);
    REQUIRE(r != NULL);
    CHECK_STR(db_val(r, 0, "bad"), "0");
    PQclear(r);
    bus_close(c[0].b);
    bus_close(c[1].b);
}

/* ---- crash between the JetStream publish of a block and its PostgreSQL commit ------------- */

static void test_crash_before_commit(void) {
    err_t e = {0};
    char am[48];
    snprintf(am, sizeof am, "%s/member", A);
    const char *sa[] = {am, NULL};
    uint8_t ids[10][32];
    for (int i = 0; i < 10; i++) {
        char k[64], n[16];
        snprintf(n, sizeof n, "crash%d", i);
        key(k, sizeof k, n);
        json_t *w = json_pack("[{s:s,s:s}]", "key", k, "value", "x");
        json_decref(run_tx("data.put", A, NULL, NULL, w, sa, 0, ids[i]));
        json_decref(w);
    }
    /* a cutter orders them, then "crashes" before anything is committed */
    bus_t *b2 = bus_connect(getenv("RECIPROCAL_TEST_NATS_URL"), "crashing-cutter", &e);
    REQUIRE(b2 != NULL);
    size_t total = 0;
    for (int i = 0; i < 50 && total < 10; i++) {
        size_t n = 0;
        CHECK(ledger_cut_once(b2, pool, 3, 50, &n, &e) == 0);
        total += n;
    }
    bus_close(b2);
    CHECK_EQ_INT(total, 10);
    json_t *s = NULL;
    REQUIRE(ledger_tx_status(pool, NULL, ids[9], 0, &s, &e) == 0);
    CHECK_STR(code_of(s), "pending"); /* ordered, not final */
    json_decref(s);
    /* PostgreSQL restarts too */
    const char *pg_ctl = getenv("RECIPROCAL_TEST_PG_CTL");
    if (pg_ctl) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "%s restart >/dev/null 2>&1", pg_ctl);
        CHECK_EQ_INT(system(cmd), 0);
    }
    int nb = 0, rc = -1;
    for (int i = 0; i < 20 && rc != 0; i++) {
        err_clear(&e);
        rc = ledger_commit_pending(pool, bus, &nb, &e);
        if (rc != 0) usleep(200000);
    }
    CHECK_EQ_INT(rc, 0);
    /* every transaction committed exactly once */
    db_tx_t *tx = NULL;
    ledger_buf_t arr = {0};
    for (int i = 0; i < 10; i++)
        ledger_arr_add_hex(&arr, ids[i], 32);
    const char *p[] = {ledger_arr_end(&arr)};
    REQUIRE(db_begin(pool, &(db_scope_t){0}, &tx, &e) == 0);
    PGresult *r = db_exec(tx,
                          "SELECT count(*) AS n, count(DISTINCT tx_id) AS d, count(*) FILTER "
                          "(WHERE validation_code = 0) AS v FROM ledger.txs WHERE tx_id = ANY "
                          "(SELECT decode(x, 'hex') FROM unnest($1::text[]) AS x)",
                          1, p, &e);
    db_rollback(tx);
    ledger_buf_free(&arr);
    REQUIRE(r != NULL);
    CHECK_STR(db_val(r, 0, "n"), "10");
    CHECK_STR(db_val(r, 0, "d"), "10");
    CHECK_STR(db_val(r, 0, "v"), "10");
    PQclear(r);
}

/* ---- proofs ----------------------------------------------------------------------------- */

static void test_proofs(void) {
    err_t e = {0};
    db_tx_t *tx = NULL;
    REQUIRE(db_begin(pool, &(db_scope_t){0}, &tx, &e) == 0);
    PGresult *r = db_exec(tx,
                          "SELECT encode(leaf_hash, 'hex') AS l FROM ledger.txs ORDER BY "
                          "log_index",
                          0, NULL, &e);
    PGresult *c = db_exec(tx,
                          "SELECT size, encode(root, 'hex') AS root FROM ledger.checkpoints "
                          "ORDER BY size",
                          0, NULL, &e);
    REQUIRE(r && c);
    uint64_t n = (uint64_t)PQntuples(r);
    REQUIRE(n > 10);
    merkle_hash_t *leaves = calloc(n, sizeof *leaves);
    for (uint64_t i = 0; i < n; i++)
        ledger_unhex(db_val(r, (int)i, "l"), leaves[i], 32);
    /* every stored checkpoint root equals the root recomputed from all leaves */
    int nc = PQntuples(c), bad = 0;
    for (int i = 0; i < nc; i++) {
        uint64_t s = strtoull(db_val(c, i, "size"), NULL, 10);
        uint8_t want[32], got[32], fromdb[32];
        ledger_unhex(db_val(c, i, "root"), want, 32);
        merkle_root((const merkle_hash_t *)leaves, s, got, &e);
        ledger_tree_root(tx, s, fromdb, &e);
        if (memcmp(want, got, 32) != 0 || memcmp(want, fromdb, 32) != 0) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* inclusion of every leaf in the latest tree, and of sampled leaves in sampled sizes */
    uint8_t root[32];
    REQUIRE(ledger_tree_root(tx, n, root, &e) == 0);
    merkle_hash_t proof[MERKLE_MAX_PROOF];
    size_t pl = 0;
    bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (ledger_tree_inclusion(tx, i, n, proof, &pl, &e) != 0 ||
            merkle_verify_inclusion(i, n, leaves[i], (const merkle_hash_t *)proof, pl, root, &e) !=
                0)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* a flipped bit fails */
    REQUIRE(ledger_tree_inclusion(tx, n / 2, n, proof, &pl, &e) == 0);
    REQUIRE(pl > 0);
    proof[0][3] ^= 1;
    CHECK(merkle_verify_inclusion(n / 2, n, leaves[n / 2], (const merkle_hash_t *)proof, pl, root,
                                  &e) != 0);
    /* consistency between every checkpoint and the latest */
    bad = 0;
    for (int i = 0; i < nc; i++) {
        uint64_t s = strtoull(db_val(c, i, "size"), NULL, 10);
        uint8_t r1[32];
        ledger_unhex(db_val(c, i, "root"), r1, 32);
        if (ledger_tree_consistency(tx, s, n, proof, &pl, &e) != 0 ||
            merkle_verify_consistency(s, n, r1, root, (const merkle_hash_t *)proof, pl, &e) != 0)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* O(log n): time 200 proofs */
    double t0 = now_s();
    for (int i = 0; i < 200; i++)
        ledger_tree_inclusion(tx, (uint64_t)i % n, n, proof, &pl, &e);
    printf("# inclusion proof from stored subtrees at %" PRIu64 " leaves: %.3f ms each\n", n,
           (now_s() - t0) * 1000 / 200);
    db_rollback(tx);
    free(leaves);
    PQclear(r);
    PQclear(c);
}

/* ---- witnesses -------------------------------------------------------------------------- */

static void test_witnesses(void) {
    err_t e = {0};
    json_t *out = NULL;
    g_cfg.witness_k = 2; /* RECIPROCAL_LEDGER_WITNESS_K=2 */
    ledger_configure(&g_cfg);
    REQUIRE(ledger_cosign(pool, A, NULL, &out, &e) == 0);
    json_decref(out);
    /* a new block, then cosign again: consistency from the last cosigned size */
    char am[48], k1[64];
    snprintf(am, sizeof am, "%s/member", A);
    key(k1, sizeof k1, "w1");
    const char *sa[] = {am, NULL};
    json_t *w = json_pack("[{s:s,s:s}]", "key", k1, "value", "x");
    json_t *st = run_tx("data.put", A, NULL, NULL, w, sa, 10000, NULL);
    json_decref(w);
    REQUIRE(st != NULL);
    uint64_t blk = (uint64_t)json_integer_value(json_object_get(st, "block_number"));
    json_decref(st);
    int final = 0, cos = 0;
    REQUIRE(ledger_block_final(pool, blk, &final, &cos, &e) == 0);
    CHECK_EQ_INT(final, 0);
    REQUIRE(ledger_cosign(pool, A, NULL, &out, &e) == 0);
    json_decref(out);
    REQUIRE(ledger_block_final(pool, blk, &final, &cos, &e) == 0);
    CHECK_EQ_INT(final, 0); /* 1 of 2 */
    REQUIRE(ledger_cosign(pool, B, NULL, &out, &e) == 0);
    json_decref(out);
    REQUIRE(ledger_block_final(pool, blk, &final, &cos, &e) == 0);
    CHECK_EQ_INT(final, 1);
    CHECK(cos >= 2);

    /* rollback: an older (genuine) checkpoint is refused */
    db_tx_t *tx = NULL;
    REQUIRE(db_begin_ledger_writer(pool, &writer, &tx, &e) == 0);
    PGresult *r = db_exec(tx,
                          "SELECT note, size FROM ledger.checkpoints ORDER BY size DESC "
                          "OFFSET 2 LIMIT 1",
                          0, NULL, &e);
    REQUIRE(r && PQntuples(r) == 1);
    char *old = strdup(db_val(r, 0, "note"));
    PQclear(r);
    /* fork: the log key signs a different root for the current size */
    json_t *cp = NULL;
    REQUIRE(ledger_latest_checkpoint(tx, &cp, &e) == 0);
    checkpoint_signer_t s;
    REQUIRE(ledger_log_signer(tx, &s, &e) == 0);
    db_rollback(tx);
    uint8_t fake[32];
    memset(fake, 0x42, 32);
    char *body = NULL, *forged = NULL, *forged_big = NULL;
    size_t bl = 0, fl = 0;
    uint64_t size = (uint64_t)json_integer_value(json_object_get(cp, "size"));
    REQUIRE(checkpoint_format_body(ledger_origin(), size, fake, NULL, 0, &body, &bl, &e) == 0);
    REQUIRE(checkpoint_sign(body, bl, &s, &forged, &fl, &e) == 0);
    free(body);
    body = NULL;
    checkpoint_signer_wipe(&s);

    err_t re = {0};
    CHECK(ledger_cosign(pool, A, old, &out, &re) != 0);
    CHECK_EQ_INT(re.status, 409);
    CHECK_STR(re.code, "rollback");
    err_t fe = {0};
    CHECK(ledger_cosign(pool, A, forged, &out, &fe) != 0);
    CHECK_EQ_INT(fe.status, 409);
    CHECK_STR(fe.code, "fork");
    /* a note not signed by the log is refused */
    char *tampered = strdup(old);
    tampered[strlen(tampered) - 3] ^= 1;
    err_t te = {0};
    CHECK(ledger_cosign(pool, C, tampered, &out, &te) != 0);
    /* the witness state did not move */
    REQUIRE(db_begin_ledger_writer(pool, &writer, &tx, &e) == 0);
    const char *p[] = {A};
    r = db_exec(tx, "SELECT size FROM ledger.witness_state WHERE org = $1", 1, p, &e);
    db_rollback(tx);
    REQUIRE(r != NULL);
    CHECK_EQ_INT(strtoull(db_val(r, 0, "size"), NULL, 10), size);
    PQclear(r);
    free(old);
    free(forged);
    free(forged_big);
    free(tampered);
    json_decref(cp);
    g_cfg.witness_k = 1;
    ledger_configure(&g_cfg);
}

/* ---- offline verification ----------------------------------------------------------------- */

static json_t *txs_of(json_t *ex, size_t b) {
    return json_object_get(json_array_get(json_object_get(ex, "blocks"), b), "txs");
}

static void test_offline_verify(void) {
    err_t e = {0};
    json_t *ex = NULL;
    REQUIRE(ledger_export(pool, &ex, &e) == 0);
    ledger_verify_report_t rep;
    int rc = ledger_verify_export(ex, NULL, &rep, &e);
    if (rc != 0) printf("#   verify: %s\n", e.message);
    CHECK_EQ_INT(rc, 0);
    CHECK(rep.blocks > 5);
    CHECK(rep.cosignatures >= 2);
    printf("# verified %zu blocks, %zu txs, %zu checkpoints, %zu cosignatures\n", rep.blocks,
           rep.txs, rep.checkpoints, rep.cosignatures);
    size_t nb = json_array_size(json_object_get(ex, "blocks"));
    size_t tb = nb / 2;

    /* flip one byte in a tx envelope */
    json_t *c1 = json_deep_copy(ex);
    json_t *t = json_array_get(txs_of(c1, tb), 0);
    const char *s = json_string_value(json_object_get(t, "envelope"));
    uint8_t buf[65536];
    size_t bl = 0;
    REQUIRE(sodium_base642bin(buf, sizeof buf, s, strlen(s), NULL, &bl, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0);
    buf[bl - 5] ^= 0x01; /* inside the last signature */
    char enc[90000];
    sodium_bin2base64(enc, sizeof enc, buf, bl, sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(t, "envelope", json_string(enc));
    err_t e1 = {0};
    CHECK(ledger_verify_export(c1, NULL, &rep, &e1) != 0);
    char want[64];
    snprintf(want, sizeof want, "block %zu", tb);
    CHECK(strstr(e1.message, want) != NULL);
    printf("# tampered envelope: %s\n", e1.message);
    json_decref(c1);

    /* a validation code */
    json_t *c2 = json_deep_copy(ex);
    t = json_array_get(txs_of(c2, tb), 0);
    const char *code = json_string_value(json_object_get(t, "validation_code"));
    json_object_set_new(t, "validation_code",
                        json_string(strcmp(code, "VALID") == 0 ? "MVCC_READ_CONFLICT" : "VALID"));
    err_t e2 = {0};
    CHECK(ledger_verify_export(c2, NULL, &rep, &e2) != 0);
    CHECK_STR(e2.field, "validation_code");
    json_decref(c2);

    /* a timestamp (named as such: the next block still links to the recorded header hash), a
     * checkpoint */
    json_t *c3 = json_deep_copy(ex);
    json_t *b3 = json_array_get(json_object_get(c3, "blocks"), tb);
    json_object_set_new(b3, "timestamp_ms",
                        json_integer(json_integer_value(json_object_get(b3, "timestamp_ms")) + 1));
    err_t e3 = {0};
    CHECK(ledger_verify_export(c3, NULL, &rep, &e3) != 0);
    CHECK_STR(e3.field, "timestamp_ms"); /* named: the next block links to the recorded hash */
    json_decref(c3);

    json_t *c4 = json_deep_copy(ex);
    json_t *cps = json_object_get(c4, "checkpoints");
    char *note = strdup(json_string_value(json_array_get(cps, 1)));
    note[strlen(ledger_origin()) + 1] = note[strlen(ledger_origin()) + 1] == '9' ? '8' : '9';
    json_array_set_new(cps, 1, json_string(note));
    free(note);
    err_t e4 = {0};
    CHECK(ledger_verify_export(c4, NULL, &rep, &e4) != 0);
    CHECK_STR(e4.field, "checkpoint");
    json_decref(c4);

    /* a wrong pinned log key */
    err_t e5 = {0};
    CHECK(ledger_verify_export(ex,
                               "0000000000000000000000000000000000000000000000000000000000000001",
                               &rep, &e5) != 0);
    json_decref(ex);
}

/* ---- throughput --------------------------------------------------------------------------- */

static void test_throughput(void) {
    err_t e = {0};
    char am[48], bm[48];
    snprintf(am, sizeof am, "%s/member", A);
    snprintf(bm, sizeof bm, "%s/member", B);
    uint8_t ska[64], pka[32], skb[64], pkb[32];
    REQUIRE(ledger_org_key(pool, A, "member", ska, pka, &e) == 0);
    REQUIRE(ledger_org_key(pool, B, "member", skb, pkb, &e) == 0);
    /* LEDGER_TEST_TP_N: transactions to push (default 2000) */
    const char *nv = getenv("LEDGER_TEST_TP_N");
    int N = nv && atoi(nv) > 0 && atoi(nv) <= 200000 ? atoi(nv) : 2000;
    uint8_t(*ids)[32] = calloc((size_t)N, 32);
    REQUIRE(ids != NULL);
    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        char k[64], n[16];
        snprintf(n, sizeof n, "tp%d", i);
        key(k, sizeof k, n);
        json_t *spec =
            json_pack("{s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s}]}", "type", "visit.verified", "creator", A,
                      "payload", "host", A, "home", B, "writes", "key", k, "value",
                      "0123456789012345678901234567890123456789012345678901234567890123"
                      "456789012345678901234567890123456789");
        uint8_t *tx = NULL, *env = NULL;
        size_t len = 0, el = 0;
        REQUIRE(ledger_build_tx(spec, pka, &tx, &len, ids[i], &e) == 0);
        json_decref(spec);
        ledger_endorsement_t en[2];
        ledger_endorse(tx, len, ska, &en[0]);
        ledger_endorse(tx, len, skb, &en[1]);
        /* every 97th: B's signature broken, so the policy (A and B) fails; spread over the
         * blocks and the commit's signature-check threads (store.c sig_check) */
        if (i % 97 == 5) en[1].sig[7] ^= 0x20;
        REQUIRE(ledger_envelope_encode(tx, len, en, 2, &env, &el, &e) == 0);
        REQUIRE(ledger_publish_envelope(bus, env, el, ids[i], NULL, &e) == 0);
        free(tx);
        free(env);
    }
    double t1 = now_s();
    json_t *s = NULL;
    for (int i = 0; i < 1000000; i++) {
        REQUIRE(ledger_pump(pool, bus, &e) == 0);
        json_decref(s);
        s = NULL;
        REQUIRE(ledger_tx_status(pool, NULL, ids[N - 1], 0, &s, &e) == 0);
        if (strcmp(code_of(s), "pending") != 0) break;
    }
    double t2 = now_s();
    CHECK_STR(code_of(s), "VALID");
    json_decref(s);
    int wrong = 0, broken = 0; /* every broken one and every 13th of the others */
    for (int i = 0; i < N; i++) {
        int bad_sig = i % 97 == 5;
        if (!bad_sig && i % 13 != 0) continue;
        broken += bad_sig;
        s = NULL;
        if (ledger_tx_status(pool, NULL, ids[i], 0, &s, &e) != 0 ||
            strcmp(code_of(s), bad_sig ? "ENDORSEMENT_POLICY_FAILURE" : "VALID") != 0)
            wrong++;
        json_decref(s);
    }
    CHECK(broken > 0);
    CHECK_EQ_INT(wrong, 0);
    printf("# throughput: %d txs (2 endorsements, ~100 B value): publish %.0f tx/s, cutter + "
           "validate + commit %.0f tx/s\n",
           N, N / (t1 - t0), N / (t2 - t1));
    free(ids);
    /* proofs at the new size: O(log n) rows, two queries */
    db_tx_t *tx = NULL;
    ledger_head_t h;
    REQUIRE(db_begin(pool, &(db_scope_t){0}, &tx, &e) == 0);
    REQUIRE(ledger_store_head(tx, &h, 0, &e) == 0);
    merkle_hash_t proof[MERKLE_MAX_PROOF];
    size_t pl = 0;
    uint8_t root[32], leaf[32];
    REQUIRE(ledger_tree_root(tx, h.log_size, root, &e) == 0);
    double t3 = now_s();
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        uint64_t idx = (uint64_t)i * 7919 % h.log_size;
        char is[32];
        snprintf(is, sizeof is, "%llu", (unsigned long long)idx);
        const char *p[] = {is};
        PGresult *r = db_exec(tx,
                              "SELECT encode(hash, 'hex') AS h FROM ledger.log_nodes WHERE "
                              "level = 0 AND idx = $1",
                              1, p, &e);
        if (!r || PQntuples(r) != 1 || ledger_unhex(db_val(r, 0, "h"), leaf, 32) != 0 ||
            ledger_tree_inclusion(tx, idx, h.log_size, proof, &pl, &e) != 0 ||
            merkle_verify_inclusion(idx, h.log_size, leaf, (const merkle_hash_t *)proof, pl, root,
                                    &e) != 0)
            bad++;
        PQclear(r);
    }
    double t4 = now_s();
    for (int i = 0; i < 200; i++)
        if (ledger_tree_consistency(tx, 1 + (uint64_t)i * 7919 % (h.log_size - 1), h.log_size,
                                    proof, &pl, &e) != 0)
            bad++;
    double t5 = now_s();
    db_rollback(tx);
    CHECK_EQ_INT(bad, 0);
    printf("# at %llu leaves: inclusion proof (leaf read + proof + verify) %.3f ms, consistency "
           "proof %.3f ms\n",
           (unsigned long long)h.log_size, (t4 - t3) * 1000 / 200, (t5 - t4) * 1000 / 200);
}

static atomic_int g_infos;

static char *count_info(const char *subject, const char *data, size_t len, size_t *reply_len,
                        void *ud) {
    (void)subject, (void)data, (void)len, (void)reply_len, (void)ud;
    atomic_fetch_add(&g_infos, 1);
    return NULL;
}

/* The background cutter/committer (what `serve` starts through the ledger's start hook): a
 * transaction submitted with wait_ms = 0 becomes final with no further calls that pump. */
static void test_background_runner(void) {
    err_t e = {0};
    REQUIRE(ledger_runner_start(pool, bus, &e) == 0);
    CHECK(ledger_runner_active());
    err_t e2 = {0};
    CHECK(ledger_runner_start(pool, bus, &e2) != 0);
    CHECK_EQ_INT(e2.status, 409);
    char sa[48], sb[48];
    snprintf(sa, sizeof sa, "%s/member", A);
    snprintf(sb, sizeof sb, "%s/member", B);
    const char *signers[] = {sa, sb, NULL};
    enum { N = 5 };
    uint8_t ids[N][32];
    int submitted = 0;
    for (int i = 0; i < N; i++) {
        char k[64], pl[160], nm[16];
        snprintf(nm, sizeof nm, "runner%d", i);
        key(k, sizeof k, nm);
        snprintf(pl, sizeof pl, "{\"host\":\"%s\",\"home\":\"%s\",\"n\":%d}", A, B, i);
        json_t *payload = json_loads(pl, 0, NULL);
        json_t *writes = json_pack("[{s:s,s:s}]", "key", k, "value", "x");
        json_t *st = run_tx("visit.verified", A, payload, NULL, writes, signers, 0, ids[i]);
        /* wait_ms = 0: answered at once, before the runner's block is committed */
        if (st) submitted++;
        json_decref(st);
        json_decref(payload);
        json_decref(writes);
    }
    CHECK_EQ_INT(submitted, N);
    /* no pumping from here on: poll the database only (bus = NULL never pumps) */
    int committed = 0;
    double t0 = now_s();
    while (committed < N && now_s() - t0 < 15) {
        committed = 0;
        for (int i = 0; i < N; i++) {
            json_t *st = NULL;
            if (ledger_tx_status(pool, NULL, ids[i], 0, &st, &e) == 0 &&
                strcmp(code_of(st), "VALID") == 0)
                committed++;
            json_decref(st);
        }
        if (committed < N) usleep(20000);
    }
    CHECK_EQ_INT(committed, N);
    /* with the runner active, a waiting submit only waits (and still sees its commit) */
    char k[64];
    key(k, sizeof k, "runner-wait");
    json_t *payload = json_pack("{s:s,s:s}", "host", A, "home", B);
    json_t *writes = json_pack("[{s:s,s:s}]", "key", k, "value", "y");
    json_t *st = run_tx("visit.verified", A, payload, NULL, writes, signers, 10000, NULL);
    CHECK_STR(code_of(st), "VALID");
    json_decref(st);
    json_decref(payload);
    json_decref(writes);
    /* busy (stop 24): a pass that cut a block commits without asking the block stream's last
     * sequence again (the cut asked it already, chain_tip): one stream-info request per pass,
     * where a pass that cut a block made two. Counted by a plain subscriber of the JetStream API
     * subject while M transactions are submitted one after the other (a block each). Without the
     * change: passes + M requests or more. */
    {
        enum { M = 6 };
        bus_t *spy = bus_connect(getenv("RECIPROCAL_TEST_NATS_URL"), "info-spy", &e);
        REQUIRE(spy);
        REQUIRE(bus_subscribe(spy, "$JS.API.STREAM.INFO." LEDGER_BLOCK_STREAM, count_info, NULL,
                              &e) == 0);
        REQUIRE(bus_ping(spy, 2000, &e) == 0);
        usleep(300000); /* let the pass that committed the last block end */
        atomic_store(&g_infos, 0);
        unsigned long q0 = ledger_runner_passes();
        int valid = 0;
        for (int i = 0; i < M; i++) {
            char nm[24];
            snprintf(nm, sizeof nm, "runner-busy%d", i);
            key(k, sizeof k, nm);
            json_t *pb = json_pack("{s:s,s:s,s:i}", "host", A, "home", B, "n", i);
            json_t *wb = json_pack("[{s:s,s:s}]", "key", k, "value", "z");
            json_t *sb2 = run_tx("visit.verified", A, pb, NULL, wb, signers, 10000, NULL);
            valid += sb2 && strcmp(code_of(sb2), "VALID") == 0;
            json_decref(sb2);
            json_decref(pb);
            json_decref(wb);
        }
        unsigned long q1 = ledger_runner_passes();
        REQUIRE(bus_ping(bus, 2000, &e) == 0);
        REQUIRE(bus_ping(spy, 2000, &e) == 0);
        usleep(100000);
        int infos = atomic_load(&g_infos);
        printf("# busy runner: %d transactions, %lu passes, %d stream-info requests\n", M, q1 - q0,
               infos);
        CHECK_EQ_INT(valid, M);
        CHECK(infos <= (int)(q1 - q0) + 2);
        bus_close(spy);
    }
    /* idle (issue 16 step 6): nothing submitted for 3 s; the runner waits in a held JetStream
     * pull request instead of polling: about one pass per LEDGER_RUNNER_IDLE_MS (a pass = one
     * fetch + one stream info), where it made ~150 (a 20 ms fetch each) before */
    usleep(300000); /* let the pass that cut the last block end */
    unsigned long p0 = ledger_runner_passes();
    usleep(3000000);
    unsigned long idle_passes = ledger_runner_passes() - p0;
    printf("# idle runner: %lu passes in 3 s\n", idle_passes);
    CHECK(idle_passes <= 3000 / LEDGER_RUNNER_IDLE_MS + 2);
    ledger_runner_stop();
    CHECK(!ledger_runner_active());
    ledger_runner_stop(); /* idempotent */
}

/* Only the ledger's writer scope may write the ledger schema; the outbox relay's may not. */
static void test_writer_scope(void) {
    err_t e = {0};
    const char *p[] = {tag};
    db_tx_t *tx = NULL;
    static const char ins[] = "INSERT INTO ledger.state (key, value, block, position, version) "
                              "VALUES (convert_to($1 || '/scope', 'UTF8'), '\\x00', 0, 0, 1)";
    REQUIRE(db_begin(pool, &(db_scope_t){.relay = 1}, &tx, &e) == 0);
    CHECK_EQ_INT((int)db_exec_cmd(tx, ins, 1, p, &e), -1);
    CHECK_EQ_INT(e.status, 403);
    db_rollback(tx);
    err_clear(&e);
    REQUIRE(db_begin(pool, &(db_scope_t){.network_admin = 1}, &tx, &e) == 0);
    CHECK_EQ_INT((int)db_exec_cmd(tx, ins, 1, p, &e), -1);
    CHECK_EQ_INT(e.status, 403);
    db_rollback(tx);
    err_clear(&e);
    REQUIRE(db_begin_ledger_writer(pool, &(db_scope_t){0}, &tx, &e) == 0);
    CHECK_EQ_INT((int)db_exec_cmd(tx, ins, 1, p, &e), 1);
    db_rollback(tx); /* not kept */
    /* the relay cannot read the sealed keys either */
    REQUIRE(db_begin(pool, &(db_scope_t){.relay = 1}, &tx, &e) == 0);
    PGresult *r = db_exec(tx, "SELECT count(*) AS n FROM ledger.keys", 0, NULL, &e);
    REQUIRE(r != NULL);
    CHECK_STR(db_val(r, 0, "n"), "0");
    PQclear(r);
    db_rollback(tx);
}

/* config.update needs the MAJORITY of the admin principals of the config in force
 * (OutOf(floor(n/2)+1, ...)): with three admin orgs, the network operator alone fails. */
static void test_majority_policy(void) {
    uint8_t pk[3][32], sk[3][64];
    const char *orgs[] = {"network", "oa", "ob"};
    ledger_config_t base = {0};
    for (int i = 0; i < 3; i++) {
        crypto_sign_keypair(pk[i], sk[i]);
        REQUIRE(ledger_config_add_org(&base, orgs[i], NULL, orgs[i]) == 0);
        REQUIRE(ledger_config_add_ident(&base, pk[i], orgs[i], POLICY_ROLE_ADMIN, 0) == 0);
    }
    char pol[256];
    REQUIRE(ledger_config_update_policy(&base, pol, sizeof pol) == 0);
    CHECK_STR(pol, "OutOf(2, 'network.admin', 'oa.admin', 'ob.admin')");
    uint8_t npk[32], nsk[64];
    crypto_sign_keypair(npk, nsk);
    char hx[65], val[160];
    ledger_hex(npk, 32, hx);
    snprintf(val, sizeof val, "{\"identities\":[{\"public_key\":\"%s\",\"role\":\"admin\"}]}", hx);
    json_t *spec = json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "type", "config.update", "creator",
                             "network", "writes", "key", "config/org/oc", "value", val);
    uint8_t *tx = NULL, id[32];
    size_t len = 0;
    err_t e = {0};
    REQUIRE(ledger_build_tx(spec, pk[0], &tx, &len, id, &e) == 0);
    json_decref(spec);
    const int want[] = {LEDGER_ENDORSEMENT_POLICY_FAILURE, LEDGER_VALID, LEDGER_VALID};
    for (int signers = 1; signers <= 3; signers++) {
        ledger_endorsement_t en[3];
        for (int i = 0; i < signers; i++)
            ledger_endorse(tx, len, sk[i], &en[i]);
        uint8_t *env = NULL;
        size_t el = 0;
        REQUIRE(ledger_envelope_encode(tx, len, en, (size_t)signers, &env, &el, &e) == 0);
        const uint8_t *envs[] = {env};
        ledger_block_msg_t m = {
            .number = 1, .timestamp_ms = 1, .n = 1, .env = envs, .env_len = &el};
        ledger_config_t cfg;
        REQUIRE(ledger_config_clone(&base, &cfg) == 0);
        ledger_kvmap_t *v = ledger_kvmap_new(), *seen = ledger_kvmap_new();
        ledger_block_result_t res;
        uint8_t prev[32] = {0};
        REQUIRE(ledger_validate_block(&m, prev, 0, &cfg, v, seen, &res, &e) == 0);
        CHECK_EQ_INT(res.tx[0].code, want[signers - 1]);
        CHECK_EQ_INT((int)cfg.n_orgs, want[signers - 1] == LEDGER_VALID ? 4 : 3);
        ledger_block_result_free(&res);
        ledger_kvmap_free(v);
        ledger_kvmap_free(seen);
        ledger_config_free(&cfg);
        free(env);
    }
    free(tx);
    ledger_config_free(&base);
}

/* A club that keeps its own keys: registered with its public keys only, it signs its own
 * endorsements and submits them pre-signed. */
static void test_external_org(void) {
    uint8_t mpk[32], msk[64], apk[32], ask[64], sk[64], pk[32];
    crypto_sign_keypair(mpk, msk);
    crypto_sign_keypair(apk, ask);
    char x[40];
    snprintf(x, sizeof x, "x%d", (int)getpid());
    err_t e = {0};
    json_t *st = NULL;
    REQUIRE(ledger_register_org_keys(pool, bus, x, NULL, "external", mpk, apk, 10000, &st, &e) ==
            0);
    CHECK_STR(code_of(st), "VALID");
    CHECK_STR(json_string_value(json_object_get(st, "keys")), "external");
    json_decref(st);
    CHECK(ledger_org_key(pool, x, "member", sk, pk, &e) != 0); /* nothing stored */
    CHECK_EQ_INT(e.status, 404);
    char k[64];
    key(k, sizeof k, "external");
    json_t *spec = json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "type", "data.put", "creator", x, "writes",
                             "key", k, "value", "signed by the club");
    uint8_t *tx = NULL, id[32];
    size_t len = 0;
    REQUIRE(ledger_build_tx(spec, mpk, &tx, &len, id, &e) == 0);
    json_decref(spec);
    ledger_endorsement_t en;
    ledger_endorse(tx, len, msk, &en); /* on the club's side */
    REQUIRE(ledger_submit(pool, bus, tx, len, &en, 1, 10000, &st, &e) == 0);
    CHECK_STR(code_of(st), "VALID");
    json_decref(st);
    free(tx);
    sodium_memzero(msk, sizeof msk);
    sodium_memzero(ask, sizeof ask);
}

/* events: resumable list of committed blocks/txs from a (block, position) cursor. */
static void test_events(void) {
    err_t e = {0};
    json_t *out = NULL;
    REQUIRE(ledger_events(pool, NULL, 0, 0, 3, 0, &out, &e) == 0);
    json_t *blocks = json_object_get(out, "blocks");
    CHECK_EQ_INT((int)json_array_size(blocks), 3);
    CHECK_EQ_INT(
        (int)json_integer_value(json_object_get(json_array_get(blocks, 0), "block_number")), 0);
    json_t *next = json_object_get(out, "next");
    CHECK_EQ_INT((int)json_integer_value(json_object_get(next, "from_block")), 3);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(next, "from_position")), 0);
    int64_t height = json_integer_value(json_object_get(out, "height"));
    json_decref(out);
    /* resume at the head: the last block; past it: nothing, and the cursor stays */
    REQUIRE(ledger_events(pool, NULL, (uint64_t)height, 0, 10, 0, &out, &e) == 0);
    CHECK_EQ_INT((int)json_array_size(json_object_get(out, "blocks")), 1);
    json_decref(out);
    REQUIRE(ledger_events(pool, NULL, (uint64_t)height + 1, 0, 10, 0, &out, &e) == 0);
    CHECK_EQ_INT((int)json_array_size(json_object_get(out, "blocks")), 0);
    CHECK_EQ_INT(
        (int)json_integer_value(json_object_get(json_object_get(out, "next"), "from_block")),
        (int)height + 1);
    json_decref(out);
    /* inside a block: from position 1 of a block with several txs */
    REQUIRE(ledger_events(pool, NULL, 0, 0, 100, 0, &out, &e) == 0);
    int64_t multi = -1;
    json_t *b;
    size_t i;
    json_array_foreach(json_object_get(out, "blocks"), i, b) {
        if (json_integer_value(json_object_get(b, "tx_count")) > 1) {
            multi = json_integer_value(json_object_get(b, "block_number"));
            break;
        }
    }
    json_decref(out);
    if (multi >= 0) {
        REQUIRE(ledger_events(pool, NULL, (uint64_t)multi, 1, 1, 0, &out, &e) == 0);
        json_t *b0 = json_array_get(json_object_get(out, "blocks"), 0);
        CHECK_EQ_INT((int)json_integer_value(json_object_get(
                         json_array_get(json_object_get(b0, "txs"), 0), "position")),
                     1);
        json_decref(out);
    }
    /* a long poll wakes up for a new commit (pumped here: no runner) */
    char kk[64];
    key(kk, sizeof kk, "events");
    json_t *writes = json_pack("[{s:s,s:s}]", "key", kk, "value", "e");
    char sa[48];
    snprintf(sa, sizeof sa, "%s/member", A);
    json_t *st =
        run_tx("data.put", A, NULL, NULL, writes, (const char *const[]){sa, NULL}, 0, NULL);
    json_decref(st);
    json_decref(writes);
    REQUIRE(ledger_events(pool, bus, (uint64_t)height + 1, 0, 10, 10000, &out, &e) == 0);
    CHECK(json_array_size(json_object_get(out, "blocks")) >= 1);
    json_decref(out);
}

int main(void) {
    log_init(LOG_WARN, 0, "test_ledger");
    const char *db_url = TEST_ENV("RECIPROCAL_TEST_DATABASE_URL");
    const char *nats_url = TEST_ENV("RECIPROCAL_TEST_NATS_URL");
    if (!db_url || !nats_url) {
        RUN(test_bootstrap_and_orgs);
        TEST_DONE();
    }
    if (sodium_init() < 0) return 1;
    /* settings from the harness environment (tests/run.sh exports RECIPROCAL_LEDGER_KEK) */
    {
        err_t ce = {0};
        if (ledger_settings_load(&g_cfg, NULL, &ce) != 0 || !g_cfg.kek.set) {
            printf("not ok 1 - RECIPROCAL_LEDGER_KEK from tests/run.sh: %s\n",
                   ce.message[0] ? ce.message : "not set");
            return 1;
        }
        ledger_configure(&g_cfg);
    }
    snprintf(tag, sizeof tag, "t%d", (int)getpid());
    snprintf(A, sizeof A, "a%d", (int)getpid());
    snprintf(B, sizeof B, "b%d", (int)getpid());
    snprintf(C, sizeof C, "c%d", (int)getpid());
    err_t e = {0};
    pool = db_pool_open(db_url, 4, &e);
    bus = bus_connect(nats_url, "test_ledger", &e);
    if (!pool || !bus) {
        printf("# setup: %s\n", e.message);
        return 1;
    }
    RUN(test_bootstrap_and_orgs);
    RUN(test_mvcc_t1_t5);
    RUN(test_policies);
    RUN(test_revoked_key);
    RUN(test_duplicate_txid);
    RUN(test_redelivered_while_ordered);
    RUN(test_submit_status_unreadable);
    RUN(test_two_cutters);
    RUN(test_crash_before_commit);
    RUN(test_proofs);
    RUN(test_witnesses);
    RUN(test_offline_verify);
    RUN(test_writer_scope);
    RUN(test_majority_policy);
    RUN(test_external_org);
    RUN(test_events);
    RUN(test_background_runner);
    RUN(test_throughput);
    bus_close(bus);
    db_pool_close(pool);
    bus_shutdown_library();
    TEST_DONE();
}
