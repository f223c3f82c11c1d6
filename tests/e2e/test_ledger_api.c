/* End-to-end: the ledger REST API of the real binary: bootstrap, organizations, endorse (server
 * keys) and submit, commit status, the transaction with its inclusion proof verified here
 * against the signed checkpoint, blocks, consistency proofs, witness cosigning, world state,
 * input errors; then `reciprocal ledger export` and `reciprocal ledger verify` (and a tampered
 * export is rejected with a non-zero exit). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/ledger/checkpoint.h"
#include "lib/ledger/merkle.h"
#include "services/ledger/engine.h"
#include "support/e2e.h"
#include "test.h"

static e2e_proc_t g;
static char A[32], B[32], g_tx[80];
static const char *g_kek;

static int req(const char *method, const char *path, const char *body, e2e_resp_t *r) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", g.base, path);
    return e2e_http(method, url, body ? "application/json" : NULL, body, r);
}

static void test_setup(void) {
    e2e_resp_t r;
    REQUIRE(req("POST", "/api/v1/ledger/bootstrap", "{}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    const char *orgs[] = {A, B};
    for (int i = 0; i < 2; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"org\":\"%s\",\"name\":\"Club %s\"}", orgs[i], orgs[i]);
        REQUIRE(req("POST", "/api/v1/ledger/orgs", body, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        CHECK_STR(json_string_value(json_object_get(r.json, "validation_code")), "VALID");
        e2e_resp_free(&r);
    }
    REQUIRE(req("GET", "/api/v1/ledger/config", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.body && strstr(r.body, A) && strstr(r.body, B));
    e2e_resp_free(&r);
}

static void test_endorse_submit(void) {
    char body[1024];
    snprintf(body, sizeof body,
             "{\"type\":\"visit.verified\",\"creator\":\"%s\",\"payload\":{\"host\":\"%s\","
             "\"home\":\"%s\",\"member\":\"c0ffee\"},\"writes\":[{\"key\":\"visit/%s\","
             "\"value\":\"verified\"}],\"sign_as\":[\"%s\",\"%s\"]}",
             A, A, B, A, A, B);
    e2e_resp_t r, s;
    REQUIRE(req("POST", "/api/v1/ledger/endorse", body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    REQUIRE(r.json != NULL);
    json_t *sub = json_pack("{s:O,s:O}", "tx", json_object_get(r.json, "tx"), "endorsements",
                            json_object_get(r.json, "endorsements"));
    snprintf(g_tx, sizeof g_tx, "%s", json_string_value(json_object_get(r.json, "tx_id")));
    char *sb = json_dumps(sub, JSON_COMPACT);
    REQUIRE(req("POST", "/api/v1/ledger/transactions", sb, &s) == 0);
    CHECK_EQ_INT(s.status, 202);
    CHECK_STR(json_string_value(json_object_get(s.json, "status")), "committed");
    CHECK_STR(json_string_value(json_object_get(s.json, "validation_code")), "VALID");
    e2e_resp_free(&s);
    /* only one club's endorsement: committed but invalid */
    json_array_remove(json_object_get(sub, "endorsements"), 1);
    free(sb);
    sb = json_dumps(sub, JSON_COMPACT);
    e2e_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"type\":\"visit.verified\",\"creator\":\"%s\",\"payload\":{\"host\":\"%s\","
             "\"home\":\"%s\"},\"sign_as\":[\"%s\"]}",
             A, A, B, A);
    REQUIRE(req("POST", "/api/v1/ledger/endorse", body, &r) == 0);
    json_t *sub2 = json_pack("{s:O,s:O}", "tx", json_object_get(r.json, "tx"), "endorsements",
                             json_object_get(r.json, "endorsements"));
    char *sb2 = json_dumps(sub2, JSON_COMPACT);
    REQUIRE(req("POST", "/api/v1/ledger/transactions", sb2, &s) == 0);
    CHECK_EQ_INT(s.status, 202);
    CHECK_STR(json_string_value(json_object_get(s.json, "validation_code")),
              "ENDORSEMENT_POLICY_FAILURE");
    e2e_resp_free(&s);
    e2e_resp_free(&r);
    /* a forged signature is refused before ordering */
    json_t *en = json_array_get(json_object_get(sub, "endorsements"), 0);
    json_object_set_new(en, "signature",
                        json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                                    "AAAAAAAAAAAAAAAAAAAAAAAAAA=="));
    free(sb);
    sb = json_dumps(sub, JSON_COMPACT);
    REQUIRE(req("POST", "/api/v1/ledger/transactions", sb, &s) == 0);
    CHECK_EQ_INT(s.status, 422);
    e2e_resp_free(&s);
    REQUIRE(req("POST", "/api/v1/ledger/transactions", "{\"tx\":\"!!\"}", &s) == 0);
    CHECK_EQ_INT(s.status, 422); /* tx is a string but not base64 */
    e2e_resp_free(&s);
    free(sb);
    free(sb2);
    json_decref(sub);
    json_decref(sub2);
}

static void test_tx_and_proofs(void) {
    char path[256];
    e2e_resp_t r;
    snprintf(path, sizeof path, "/api/v1/ledger/transactions/%s", g_tx);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    REQUIRE(r.json != NULL);
    json_t *ip = json_object_get(r.json, "inclusion_proof");
    const char *note = json_string_value(json_object_get(ip, "checkpoint"));
    REQUIRE(note != NULL);
    checkpoint_note_t cn;
    err_t e = {0};
    REQUIRE(checkpoint_parse(note, strlen(note), &cn, &e) == 0);
    uint8_t leaf[32];
    merkle_hash_t proof[MERKLE_MAX_PROOF];
    json_t *hs = json_object_get(ip, "hashes");
    size_t n = json_array_size(hs);
    REQUIRE(n <= MERKLE_MAX_PROOF);
    for (size_t i = 0; i < n; i++)
        ledger_unhex(json_string_value(json_array_get(hs, i)), proof[i], 32);
    ledger_unhex(json_string_value(json_object_get(r.json, "leaf_hash")), leaf, 32);
    uint64_t idx = (uint64_t)json_integer_value(json_object_get(ip, "log_index"));
    CHECK(merkle_verify_inclusion(idx, cn.cp.size, leaf, (const merkle_hash_t *)proof, n,
                                  cn.cp.root, &e) == 0);
    uint64_t size = cn.cp.size;
    long long blk = json_integer_value(json_object_get(r.json, "block_number"));
    checkpoint_note_free(&cn);
    e2e_resp_free(&r);

    snprintf(path, sizeof path, "/api/v1/ledger/transactions/%s/status?wait_ms=10", g_tx);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "validation_code")), "VALID");
    e2e_resp_free(&r);

    snprintf(path, sizeof path, "/api/v1/ledger/blocks/%lld", blk);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_array_size(json_object_get(r.json, "txs")) >= 1);
    e2e_resp_free(&r);

    REQUIRE(req("GET", "/api/v1/ledger/checkpoint", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK((uint64_t)json_integer_value(json_object_get(r.json, "size")) >= size);
    e2e_resp_free(&r);

    snprintf(path, sizeof path, "/api/v1/ledger/proof/consistency?first=1&second=%llu",
             (unsigned long long)size);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/ledger/proof/inclusion?index=0&size=%llu",
             (unsigned long long)size);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    REQUIRE(req("GET", "/api/v1/ledger/proof/consistency?first=0&second=1", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 422); /* well-formed, but a consistency proof starts at size 1 */
    e2e_resp_free(&r);
    REQUIRE(req("GET", "/api/v1/ledger/proof/inclusion?index=0&size=999999999", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    e2e_resp_free(&r);
    REQUIRE(req("GET", "/api/v1/ledger/transactions/nothex", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 422); /* a string, but not 64 hex digits */
    e2e_resp_free(&r);

    snprintf(path, sizeof path, "/api/v1/ledger/state?key=visit/%s", A);
    REQUIRE(req("GET", path, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "value")), "verified");
    e2e_resp_free(&r);

    snprintf(path, sizeof path, "/api/v1/ledger/witnesses/%s/cosign", A);
    REQUIRE(req("POST", path, "{}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    REQUIRE(req("GET", "/api/v1/ledger/checkpoint", NULL, &r) == 0);
    CHECK(r.body && strstr(r.body, A) != NULL); /* the cosignature line is in the note */
    e2e_resp_free(&r);
}

static void test_cli_verify(void) {
    char file[480], bad[512];
    const char *tmp = getenv("RECIPROCAL_TEST_TMP");
    snprintf(file, sizeof file, "%s/ledger-export-%d.ndjson", tmp ? tmp : "/tmp", (int)getpid());
    snprintf(bad, sizeof bad, "%s.bad", file);
    const char *env[] = {g_kek, NULL};
    char *out = NULL;
    const char *ex[] = {"ledger", "export", file, NULL};
    CHECK_EQ_INT(e2e_run(ex, env, &out), 0);
    free(out);
    out = NULL;
    const char *vf[] = {"ledger", "verify", file, NULL};
    int rc = e2e_run(vf, env, &out);
    CHECK_EQ_INT(rc, 0);
    CHECK(out && strstr(out, "ledger valid"));
    if (rc != 0 && out) printf("# %s\n", out);
    free(out);
    out = NULL;
    /* tamper: change one block's timestamp (line 2 of the streamed export: block 0) */
    FILE *in = fopen(file, "r"), *outf = fopen(bad, "w");
    REQUIRE(in != NULL && outf != NULL);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    for (int no = 1; (n = getline(&line, &cap, in)) > 0; no++) {
        json_t *j = no == 2 ? json_loadb(line, (size_t)n, 0, NULL) : NULL;
        json_t *b0 = json_object_get(j, "block");
        if (b0) {
            json_object_set_new(
                b0, "timestamp_ms",
                json_integer(json_integer_value(json_object_get(b0, "timestamp_ms")) + 7));
            json_dumpf(j, outf, JSON_COMPACT);
            fputc('\n', outf);
        } else {
            fputs(line, outf);
        }
        CHECK(no != 2 || b0 != NULL);
        json_decref(j);
    }
    free(line);
    fclose(in);
    fclose(outf);
    const char *vb[] = {"ledger", "verify", bad, NULL};
    rc = e2e_run(vb, env, &out);
    CHECK(rc != 0);
    CHECK(out && strstr(out, "block 0") != NULL);
    free(out);
    unlink(file);
    unlink(bad);
}

/* The server's background cutter/committer: submit with wait_ms = 0 answers "pending" at once,
 * and the transaction becomes final with no further calls that wait (status polled with
 * wait_ms = 0 never pumps). */
static void test_background_commit(void) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"type\":\"data.put\",\"creator\":\"%s\",\"writes\":[{\"key\":\"bg/%s\","
             "\"value\":\"v\"}],\"sign_as\":[\"%s\"]}",
             A, A, A);
    e2e_resp_t r, s;
    REQUIRE(req("POST", "/api/v1/ledger/endorse", body, &r) == 0);
    REQUIRE(r.status == 200 && r.json != NULL);
    json_t *sub = json_pack("{s:O,s:O,s:i}", "tx", json_object_get(r.json, "tx"), "endorsements",
                            json_object_get(r.json, "endorsements"), "wait_ms", 0);
    char id[80], path[256];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "tx_id")));
    e2e_resp_free(&r);
    char *sb = json_dumps(sub, JSON_COMPACT);
    json_decref(sub);
    REQUIRE(req("POST", "/api/v1/ledger/transactions", sb, &s) == 0);
    free(sb);
    CHECK_EQ_INT(s.status, 202);
    const char *st = json_string_value(json_object_get(s.json, "status"));
    CHECK(st && (strcmp(st, "pending") == 0 || strcmp(st, "committed") == 0));
    e2e_resp_free(&s);
    snprintf(path, sizeof path, "/api/v1/ledger/transactions/%s/status?wait_ms=0", id);
    int done = 0;
    for (int i = 0; i < 200 && !done; i++) {
        REQUIRE(req("GET", path, NULL, &s) == 0);
        const char *v = json_string_value(json_object_get(s.json, "validation_code"));
        if (v) {
            CHECK_STR(v, "VALID");
            done = 1;
        }
        e2e_resp_free(&s);
        if (!done) usleep(50000);
    }
    CHECK(done);
}

static void test_events_api(void) {
    e2e_resp_t r;
    REQUIRE(req("GET", "/api/v1/ledger/events?from_block=0&limit=2", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    json_t *bl = json_object_get(r.json, "blocks");
    CHECK_EQ_INT((int)json_array_size(bl), 2);
    CHECK_EQ_INT(
        (int)json_integer_value(json_object_get(json_object_get(r.json, "next"), "from_block")), 2);
    e2e_resp_free(&r);
    REQUIRE(req("GET", "/api/v1/ledger/events?limit=0", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 422);
    e2e_resp_free(&r);
}

/* submit_batch (batch.h): one call, items endorsed with the server's keys or endorsed already,
 * each answered in order; a refused item does not stop the others; the same batch again is the
 * same transactions, each committed once (the copies DUPLICATE_TXID). */
static void test_submit_batch(void) {
    char body[2048], nonce[40];
    e2e_resp_t r, s;
    /* an endorsed transaction to pass through */
    snprintf(body, sizeof body,
             "{\"type\":\"data.put\",\"creator\":\"%s\",\"nonce\":\"batch-pre-%d\",\"writes\":"
             "[{\"key\":\"batch/pre/%s\",\"value\":\"v\"}],\"sign_as\":[\"%s\"]}",
             B, (int)getpid(), B, B);
    REQUIRE(req("POST", "/api/v1/ledger/endorse", body, &r) == 0);
    REQUIRE(r.status == 200 && r.json != NULL);
    char pre_id[80];
    snprintf(pre_id, sizeof pre_id, "%s", json_string_value(json_object_get(r.json, "tx_id")));
    snprintf(nonce, sizeof nonce, "batch-%d", (int)getpid());
    json_t *items = json_pack(
        "[{s:s, s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}, {s:s, s:s, s:s}, {s:O, s:O},"
        " {s:O, s:[{s:s, s:s}]}]",
        /* 0: built and endorsed by A (creator and signer) */
        "type", "data.put", "creator", A, "nonce", nonce, "writes", "key", "batch/a", "value", "1",
        "sign_as", "org", A, "role", "member",
        /* 1: an organisation that does not exist: refused alone (404) */
        "type", "data.put", "creator", "no-such-org-batch", "nonce", "batch-none-0001",
        /* 2: endorsed already */
        "tx", json_object_get(r.json, "tx"), "endorsements",
        json_object_get(r.json, "endorsements"),
        /* 3: a forged endorsement: 422 */
        "tx", json_object_get(r.json, "tx"), "endorsements", "public_key",
        json_string_value(json_object_get(
            json_array_get(json_object_get(r.json, "endorsements"), 0), "public_key")),
        "signature",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==");
    e2e_resp_free(&r);
    REQUIRE(items != NULL);
    json_t *in = json_pack("{s:o}", "items", items);
    char *b = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    char ids[2][80] = {"", ""};
    for (int round = 0; round < 2; round++) {
        REQUIRE(req("POST", "/api/v1/ledger/transactions/batch", b, &s) == 0);
        CHECK_EQ_INT(s.status, 200);
        json_t *res = json_object_get(s.json, "results");
        CHECK_EQ_INT(json_array_size(res), 4);
        json_t *r0 = json_array_get(res, 0), *r1 = json_array_get(res, 1),
               *r2 = json_array_get(res, 2), *r3 = json_array_get(res, 3);
        CHECK_STR(json_string_value(json_object_get(r0, "status")), "pending");
        const char *id0 = json_string_value(json_object_get(r0, "tx_id"));
        if (round == 0) snprintf(ids[0], sizeof ids[0], "%s", id0 ? id0 : "");
        CHECK_STR(id0, ids[0]); /* the same transaction the second time */
        CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r1, "error"), "status")),
                     404);
        CHECK_STR(json_string_value(json_object_get(r2, "tx_id")), pre_id);
        CHECK_STR(json_string_value(json_object_get(r2, "status")), "pending");
        CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r3, "error"), "status")),
                     422);
        CHECK_STR(json_string_value(json_object_get(json_object_get(r3, "error"), "code")),
                  "invalid_signature");
        e2e_resp_free(&s);
    }
    free(b);
    snprintf(ids[1], sizeof ids[1], "%s", pre_id);
    for (int k = 0; k < 2; k++) {
        char path[256];
        snprintf(path, sizeof path, "/api/v1/ledger/transactions/%s/status?wait_ms=10000", ids[k]);
        REQUIRE(req("GET", path, NULL, &s) == 0);
        CHECK_STR(json_string_value(json_object_get(s.json, "validation_code")), "VALID");
        e2e_resp_free(&s);
    }
    /* input errors name the item */
    REQUIRE(req("POST", "/api/v1/ledger/transactions/batch", "{\"items\":[]}", &s) == 0);
    CHECK_EQ_INT(s.status, 422);
    e2e_resp_free(&s);
    REQUIRE(req("POST", "/api/v1/ledger/transactions/batch", "{\"items\":[{\"type\":\"x\"}]}",
                &s) == 0);
    CHECK_EQ_INT(s.status, 400);
    CHECK(s.body && strstr(s.body, "items[0].creator"));
    e2e_resp_free(&s);
}

int main(void) {
    if (!TEST_ENV("RECIPROCAL_TEST_BIN") || !TEST_ENV("RECIPROCAL_TEST_DATABASE_URL")) {
        RUN(test_setup);
        TEST_DONE();
    }
    if (sodium_init() < 0) return 1;
    snprintf(A, sizeof A, "ea%d", (int)getpid());
    snprintf(B, sizeof B, "eb%d", (int)getpid());
    /* the KEK exported by tests/run.sh (the chain is shared by the test binaries of a run) */
    const char *kek_env = getenv("RECIPROCAL_LEDGER_KEK");
    static char kek_buf[128];
    if (!kek_env || !*kek_env) {
        printf("not ok 1 - RECIPROCAL_LEDGER_KEK is not exported by tests/run.sh\n");
        return 1;
    }
    snprintf(kek_buf, sizeof kek_buf, "RECIPROCAL_LEDGER_KEK=%s", kek_env);
    g_kek = kek_buf;
    const char *env[] = {kek_buf, NULL};
    if (e2e_start(&g, NULL, e2e_free_port(), 1, env) != 0) {
        printf("not ok 1 - start\n");
        return 1;
    }
    /* auth (issue 3): act as a network administrator */
    if (e2e_login_admin(&g, NULL, NULL) != 0) printf("# could not log in as the network admin\n");
    if (e2e_login_admin(&g, NULL, NULL) != 0) printf("#   auth bootstrap failed\n"); /* issue 3 */
    RUN(test_setup);
    RUN(test_endorse_submit);
    RUN(test_background_commit);
    RUN(test_submit_batch);
    RUN(test_events_api);
    RUN(test_tx_and_proofs);
    RUN(test_cli_verify);
    CHECK_EQ_INT(e2e_stop(&g), 0);
    TEST_DONE();
}
