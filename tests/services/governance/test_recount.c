/* test_recount: `reciprocal governance tally <export> <proposal>` (services/governance/recount.c,
 * issue 15 "offline recount"). Builds ledger exports (reciprocal-ledger-export/v2) with the
 * ledger's own engine, as test_ledger_stream does (no PostgreSQL, no NATS): the network and five
 * clubs with their own keys, then a network proposal's records (docs/governance.md "Ledger
 * records", built by records.c as the service builds them): governance.proposal (2/3, quorum 50 %),
 * governance.eligible_snapshot (club5 delegates to club1), one governance.vote_cast per vote
 * endorsed by the voting club's key (club3 changes its vote, club4 also votes after the close,
 * club1 votes again after the result), and governance.result with the tally the service would have
 * stored; a signed checkpoint with its block line after every block. Then:
 *   - the honest export verifies and recounts equal (exit 0): last vote per voter, the votes
 *     after the close and after the result not counted, the delegation resolved;
 *   - an export whose governance.result does not match its votes (club2's vote is "against" in
 *     the chain, the recorded result counted "for": a chain that verifies, signed by every key)
 *     fails with exit 1 and both results;
 *   - the honest export with one vote's choice changed inside its envelope fails the
 *     verification (exit 1) before anything is recounted;
 *   - a proposal without a result record, or an unknown proposal, fails naming the record. */
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/ledger/checkpoint.h"
#include "lib/ledger/merkle.h"
#include "services/governance/recount.h"
#include "services/governance/records.h"
#include "services/governance/tally.h"
#include "services/ledger/api.h"
#include "services/ledger/engine.h"
#include "services/ledger/export.h"
#include "services/ledger/settings.h"
#include "services/ledger/verify.h"
#include "support/ledger_chain.h"
#include "test.h"

#define PROPOSAL "5b0e8f52-3c1d-4a7e-9f10-2b3c4d5e6f70"
#define NCLUBS 5
#define OPENED 1764900000000LL
#define CLOSED (OPENED + 7LL * 24 * 3600 * 1000)

static uint8_t log_pk[32], log_sk[64];
static uint8_t net_pk[32], net_sk[64], club_pk[NCLUBS][32], club_sk[NCLUBS][64];
static char tmpdir[512];

static int vote(ledger_chain_t *c, int club, const char *choice, long long cast_at_ms, err_t *e) {
    char org[16];
    snprintf(org, sizeof org, "club%d", club + 1);
    return ledger_chain_add_tx(c, gov_record_vote(PROPOSAL, org, choice, cast_at_ms, NULL),
                               club_pk[club], club_sk[club], e);
}

static json_t *proposal_spec(void) {
    json_t *rule = json_pack("{s:s,s:i,s:i,s:i}", "kind", "supermajority", "num", 2, "den", 3,
                             "quorum_bp", 5000);
    json_t *s = gov_record_proposal(PROPOSAL, "admit_club", "club1", rule, NULL, "c0ffee", "ac7105",
                                    OPENED - 1000);
    json_decref(rule);
    return s;
}

/* the five clubs, club5 delegating to club1, given in reverse (the record sorts them) */
static json_t *snapshot_spec(void) {
    json_t *voters = json_array();
    for (int i = NCLUBS - 1; i >= 0; i--) {
        char org[16];
        snprintf(org, sizeof org, "club%d", i + 1);
        json_t *v = json_pack("{s:s,s:i}", "voter", org, "weight", 1);
        if (i == 4) json_object_set_new(v, "delegate_all", json_string("club1"));
        json_array_append_new(voters, v);
    }
    json_t *s = gov_record_snapshot(PROPOSAL, OPENED, CLOSED, voters);
    json_decref(voters);
    return s;
}

/* the result the service stored: club1 for, club2 for, club3 against (its last vote), club4
 * abstain, club5 for through club1 = 3 for, 1 against: 3/4 >= 2/3, succeeded */
static json_t *honest_result_spec(err_t *e) {
    json_t *p = proposal_spec(), *s = snapshot_spec(), *out = NULL;
    json_t *v = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "voter", "club1", "choice",
                          "for", "voter", "club2", "choice", "for", "voter", "club3", "choice",
                          "against", "voter", "club4", "choice", "abstain");
    gov_tally_t t;
    if (gov_tally_records(json_object_get(p, "payload"), json_object_get(s, "payload"), v, &t, e) ==
        0)
        out = gov_record_result(PROPOSAL, CLOSED, &t);
    gov_tally_free(&t);
    json_decref(p);
    json_decref(s);
    json_decref(v);
    return out;
}

enum { HONEST, CLUB2_AGAINST, NO_RESULT };

/* writes the chain of the proposal to path */
static int build_chain(const char *path, int variant, err_t *e) {
    ledger_chain_t c;
    int rc =
        ledger_chain_open(&c, path, NULL, log_pk, log_sk, OPENED, 1000, e) == 0 &&
                ledger_chain_config_orgs(&c, (const char *[]){LEDGER_NETWORK_ORG},
                                         (const uint8_t(*)[32])net_pk, 1, net_pk, net_sk, e) == 0 &&
                ledger_chain_config_orgs(
                    &c, (const char *[]){"club1", "club2", "club3", "club4", "club5"},
                    (const uint8_t(*)[32])club_pk, NCLUBS, net_pk, net_sk, e) == 0
            ? 0
            : -1;
    if (rc == 0) rc = ledger_chain_add_tx(&c, proposal_spec(), net_pk, net_sk, e);
    if (rc == 0) rc = ledger_chain_add_tx(&c, snapshot_spec(), net_pk, net_sk, e);
    if (rc == 0) rc = vote(&c, 0, "for", OPENED + 10, e);
    if (rc == 0) rc = vote(&c, 1, variant == CLUB2_AGAINST ? "against" : "for", OPENED + 20, e);
    if (rc == 0) rc = vote(&c, 2, "for", OPENED + 30, e);
    if (rc == 0) rc = vote(&c, 3, "abstain", OPENED + 40, e);
    if (rc == 0) rc = vote(&c, 2, "against", OPENED + 50, e); /* club3 changes its vote */
    if (rc == 0) rc = vote(&c, 3, "for", CLOSED, e);          /* at the close: too late */
    if (rc == 0 && variant != NO_RESULT) {
        json_t *result = honest_result_spec(e);
        rc = result ? ledger_chain_add_tx(&c, result, net_pk, net_sk, e) : -1;
    }
    if (rc == 0) rc = vote(&c, 0, "against", OPENED + 60, e); /* after the result */
    return ledger_chain_close(&c, rc);
}

static uint8_t *find(uint8_t *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) return hay + i;
    return NULL;
}

static int cli(const char *path, const char *proposal) {
    char hx[65];
    ledger_hex(log_pk, 32, hx);
    char *argv[] = {"tally", (char *)path, (char *)proposal, "--log-key", hx, NULL};
    svc_env_t env = {0};
    fflush(stdout);
    int rc = gov_recount_cli(&env, 5, argv);
    fflush(stdout);
    return rc;
}

/* cli() with its stderr into err */
static int cli_err(const char *path, const char *proposal, char *err, size_t cap) {
    char log[640];
    snprintf(log, sizeof log, "%s/stderr.txt", tmpdir);
    fflush(stderr);
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    int rc = cli(path, proposal);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(err, 1, cap - 1, f) : 0;
    err[n] = 0;
    if (f) fclose(f);
    unlink(log);
    fputs(err, stdout);
    return rc;
}

static int recount(const char *path, const char *proposal, gov_recount_t *r, err_t *e) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int rc = gov_recount_stream(f, proposal, r, e);
    fclose(f);
    return rc;
}

static void test_honest_export_recounts_equal(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/honest.ndjson", tmpdir);
    err_t e = {0};
    int rc = build_chain(path, HONEST, &e);
    if (rc != 0) printf("#   build: %s\n", e.message);
    REQUIRE(rc == 0);
    CHECK_EQ_INT(cli(path, PROPOSAL), 0);
    gov_recount_t r;
    CHECK_EQ_INT(recount(path, PROPOSAL, &r, &e), 0);
    CHECK_EQ_INT(r.equal, 1);
    CHECK_EQ_INT(r.vote_records, 6);
    CHECK_EQ_INT(r.superseded, 1);   /* club3's first vote */
    CHECK_EQ_INT(r.after_close, 1);  /* club4's vote at the close */
    CHECK_EQ_INT(r.after_result, 1); /* club1's vote after the result */
    CHECK_EQ_INT(r.tally.for_weight, 3);
    CHECK_EQ_INT(r.tally.against_weight, 1);
    CHECK_EQ_INT(r.tally.abstain_weight, 1);
    CHECK_EQ_INT(r.tally.delegated_count, 1);
    CHECK_EQ_INT(r.tally.outcome, GOV_SUCCEEDED);
    gov_recount_free(&r);
    /* another proposal id: no records */
    CHECK_EQ_INT(cli(path, "00000000-0000-0000-0000-000000000000"), 1);
    CHECK_EQ_INT(recount(path, "00000000-0000-0000-0000-000000000000", &r, &e), -1);
    CHECK_STR(e.field, "governance.proposal");
    gov_recount_free(&r);
    /* not a file */
    char missing[640];
    snprintf(missing, sizeof missing, "%s/none.ndjson", tmpdir);
    CHECK_EQ_INT(cli(missing, PROPOSAL), 2);
    unlink(path);
}

/* every signature is right, but the recorded result is not what the votes give */
static void test_result_not_matching_votes_fails(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/club2.ndjson", tmpdir);
    err_t e = {0};
    REQUIRE(build_chain(path, CLUB2_AGAINST, &e) == 0);
    char err[4096];
    CHECK_EQ_INT(cli_err(path, PROPOSAL, err, sizeof err), 1);
    CHECK(strstr(err, "MISMATCH") != NULL);
    gov_recount_t r;
    CHECK_EQ_INT(recount(path, PROPOSAL, &r, &e), 0);
    CHECK_EQ_INT(r.equal, 0);
    CHECK_EQ_INT(r.tally.outcome, GOV_DEFEATED); /* 2 for, 2 against: 1/2 < 2/3 */
    CHECK(r.recorded && strstr(r.recorded, "\"outcome\":\"succeeded\"") != NULL);
    gov_recount_free(&r);
    unlink(path);
}

/* the honest export with club4's "abstain" rewritten "against" inside its envelope: the
 * verification refuses it (were it counted, 3/5 < 2/3 would be a mismatch too; the message
 * shows which check stopped it) */
static void test_tampered_vote_fails_verification(void) {
    char path[600], bad[640];
    snprintf(path, sizeof path, "%s/honest2.ndjson", tmpdir);
    snprintf(bad, sizeof bad, "%s/tampered.ndjson", tmpdir);
    err_t e = {0};
    REQUIRE(build_chain(path, HONEST, &e) == 0);
    FILE *in = fopen(path, "r"), *out = fopen(bad, "w");
    REQUIRE(in && out);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int tampered = 0;
    while ((len = getline(&line, &cap, in)) > 0) {
        json_t *o = json_loadb(line, (size_t)len, 0, NULL);
        json_t *t = json_array_get(json_object_get(json_object_get(o, "block"), "txs"), 0);
        const char *b64 = json_string_value(json_object_get(t, "envelope"));
        uint8_t env[4096];
        size_t n = 0;
        if (b64 && !tampered &&
            sodium_base642bin(env, sizeof env, b64, strlen(b64), NULL, &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0) {
            const char *want =
                "\"choice\":\"for\",\"proposal\":\"" PROPOSAL "\",\"voter\":\"club2\"";
            uint8_t *hit = find(env, n, want);
            if (hit) {
                memcpy(hit + 10, "against", 7); /* same length: 3 for, 2 against = defeated */
                char b[8192];
                sodium_bin2base64(b, sizeof b, env, n, sodium_base64_VARIANT_ORIGINAL);
                json_object_set_new(t, "envelope", json_string(b));
                tampered = 1;
            }
        }
        char *s = o ? json_dumps(o, JSON_COMPACT) : strndup(line, (size_t)len - 1);
        fprintf(out, "%s\n", s);
        free(s);
        json_decref(o);
    }
    free(line);
    fclose(in);
    fclose(out);
    CHECK_EQ_INT(tampered, 1);
    CHECK_EQ_INT(cli(path, PROPOSAL), 0); /* the original still passes */
    char err[4096];
    CHECK_EQ_INT(cli_err(bad, PROPOSAL, err, sizeof err), 1);
    CHECK(strstr(err, "INVALID: block") != NULL);
    CHECK(strstr(err, "the export does not verify; nothing recounted") != NULL);
    CHECK(strstr(err, "MISMATCH") == NULL);
    unlink(path);
    unlink(bad);
}

static void test_no_result_yet(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/open.ndjson", tmpdir);
    err_t e = {0};
    REQUIRE(build_chain(path, NO_RESULT, &e) == 0);
    CHECK_EQ_INT(cli(path, PROPOSAL), 1);
    gov_recount_t r;
    CHECK_EQ_INT(recount(path, PROPOSAL, &r, &e), -1);
    CHECK_STR(e.field, "governance.result");
    CHECK(strstr(e.message, "not finalised") != NULL);
    gov_recount_free(&r);
    unlink(path);
}

/* the same honest chain as a v1 document (GET /api/v1/ledger/export's format) recounts too */
static void test_v1_document(void) {
    char path[600], doc[640];
    snprintf(path, sizeof path, "%s/v2.ndjson", tmpdir);
    snprintf(doc, sizeof doc, "%s/v1.json", tmpdir);
    err_t e = {0};
    REQUIRE(build_chain(path, HONEST, &e) == 0);
    FILE *in = fopen(path, "r");
    REQUIRE(in != NULL);
    json_t *blocks = json_array(), *cps = json_array(), *head = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, in)) > 0) {
        json_t *o = json_loadb(line, (size_t)len, 0, NULL);
        if (!head)
            head = json_incref(o);
        else if (json_object_get(o, "block"))
            json_array_append(blocks, json_object_get(o, "block"));
        else
            json_array_append(cps, json_object_get(o, "checkpoint"));
        json_decref(o);
    }
    free(line);
    fclose(in);
    json_t *d =
        json_pack("{s:s,s:O,s:O,s:o,s:o}", "format", "reciprocal-ledger-export/v1", "origin",
                  json_object_get(head, "origin"), "log_public_key",
                  json_object_get(head, "log_public_key"), "blocks", blocks, "checkpoints", cps);
    CHECK_EQ_INT(json_dump_file(d, doc, JSON_COMPACT), 0);
    json_decref(d);
    json_decref(head);
    CHECK_EQ_INT(cli(doc, PROPOSAL), 0);
    gov_recount_t r;
    CHECK_EQ_INT(recount(doc, PROPOSAL, &r, &e), 0);
    CHECK_EQ_INT(r.equal, 1);
    CHECK_EQ_INT(r.vote_records, 6);
    gov_recount_free(&r);
    unlink(path);
    unlink(doc);
}

/* the records' transactions as docs/governance.md "Ledger records" lists them */
static void test_record_formats(void) {
    json_t *v = gov_record_vote(PROPOSAL, "club2", "for", 1764900000123LL, NULL);
    REQUIRE(v != NULL);
    CHECK_STR(json_string_value(json_object_get(v, "type")), "governance.vote_cast");
    CHECK_STR(json_string_value(json_object_get(v, "creator")), "club2");
    char nonce[80];
    snprintf(nonce, sizeof nonce, "%s", json_string_value(json_object_get(v, "nonce")));
    CHECK(strlen(nonce) == 35 && strncmp(nonce, "gv:", 3) == 0);
    char *p = json_dumps(json_object_get(v, "payload"), JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STR(p, "{\"cast_at_ms\":1764900000123,\"choice\":\"for\",\"proposal\":\"" PROPOSAL
                 "\",\"voter\":\"club2\"}");
    free(p);
    json_t *w = json_array_get(json_object_get(v, "writes"), 0);
    CHECK_STR(json_string_value(json_object_get(w, "key")), "governance/" PROPOSAL "/vote/club2");
    CHECK_STR(
        json_string_value(json_object_get(json_array_get(json_object_get(v, "sign_as"), 0), "org")),
        "club2");
    json_decref(v);
    /* a second vote at another time is another transaction */
    json_t *v2 = gov_record_vote(PROPOSAL, "club2", "for", 1764900000124LL, "ab");
    CHECK(strcmp(json_string_value(json_object_get(v2, "nonce")), nonce) != 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(v2, "payload"), "reason_sha256")),
              "ab");
    json_decref(v2);
    json_t *s = snapshot_spec();
    REQUIRE(s != NULL);
    CHECK_STR(json_string_value(json_object_get(s, "nonce")), "gs:" PROPOSAL);
    CHECK_STR(json_string_value(json_object_get(s, "creator")), "network");
    p = json_dumps(json_array_get(json_object_get(json_object_get(s, "payload"), "voters"), 0),
                   JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STR(p, "{\"voter\":\"club1\",\"weight\":1}"); /* sorted, no null delegates */
    free(p);
    json_decref(s);
    json_t *pr = proposal_spec();
    REQUIRE(pr != NULL);
    p = json_dumps(json_object_get(pr, "payload"), JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STR(p, "{\"actions_sha256\":\"ac7105\",\"content_sha256\":\"c0ffee\","
                 "\"created_at_ms\":1764899999000,\"options\":[],\"proposal\":\"" PROPOSAL
                 "\",\"proposer\":\"club1\",\"rule\":{\"den\":3,\"kind\":\"supermajority\","
                 "\"num\":2,\"quorum_bp\":5000},\"scope\":\"network\",\"type\":\"admit_club\"}");
    free(p);
    json_decref(pr);
    err_t e = {0};
    json_t *res = honest_result_spec(&e);
    REQUIRE(res != NULL);
    CHECK_STR(json_string_value(json_object_get(res, "nonce")), "gr:" PROPOSAL);
    CHECK_STR(json_string_value(
                  json_object_get(json_array_get(json_object_get(res, "writes"), 0), "value")),
              "succeeded");
    json_decref(res);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const char *tmp = getenv("RECIPROCAL_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/gov-recount-%d", tmp ? tmp : "/tmp", (int)getpid());
    mkdir(tmp ? tmp : "/tmp", 0700);
    if (mkdir(tmpdir, 0700) != 0) return 1;
    crypto_sign_keypair(log_pk, log_sk);
    crypto_sign_keypair(net_pk, net_sk);
    for (int i = 0; i < NCLUBS; i++)
        crypto_sign_keypair(club_pk[i], club_sk[i]);
    RUN(test_honest_export_recounts_equal);
    RUN(test_result_not_matching_votes_fails);
    RUN(test_tampered_vote_fails_verification);
    RUN(test_no_result_yet);
    RUN(test_v1_document);
    RUN(test_record_formats);
    rmdir(tmpdir);
    TEST_DONE();
}
