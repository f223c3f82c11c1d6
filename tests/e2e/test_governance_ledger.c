/* End-to-end: a network proposal's records on a bootstrapped ledger and its offline recount
 * through the real binary. Four fresh clubs (every other club suspended, so the eligible
 * snapshot is exactly them), each registered as a ledger organisation with its club id; a
 * network administrator acts for each club (club_id) with the injectable clock (as_of): club 0
 * proposes a policy, club 1 sponsors, the sweep opens it, the four clubs vote (for, for, against,
 * abstain), the sweep closes it (succeeded) and submits its ledger records (governance.proposal,
 * governance.eligible_snapshot, four governance.vote_cast, governance.result). Then `reciprocal
 * ledger export` and `reciprocal governance tally <export> <proposal>` exit 0 and print the
 * result GET /proposals/{id} shows, byte for byte in canonical JSON; a copy of the export with
 * club 3's vote rewritten abstain -> against inside its envelope exits non-zero. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/e2e.h"
#include "support/gov_e2e.h"
#include "test.h"

#define T0 "2031-05-04T10:00:00Z"
#define T_OPEN "2031-05-04T11:00:00Z"
#define T_VOTE "2031-05-05T10:00:00Z"
#define T_CLOSE "2031-05-11T11:00:00Z"

static e2e_proc_t g_proc;
static char g_kek[128];
static char g_club[4][64], g_prop[64];

static const char *jstr(json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}

static long call(const char *method, const char *path, const char *body, json_t **out) {
    char url[1024];
    e2e_resp_t r;
    snprintf(url, sizeof url, "%s%s", g_proc.base, path);
    if (e2e_http_as(e2e_bearer(), method, url, body ? "application/json" : NULL, body, &r) != 0)
        return -1;
    long st = r.status;
    if (st >= 300) printf("#   %s %s: %ld %s\n", method, path, st, r.body ? r.body : "");
    if (out) *out = json_incref(r.json);
    e2e_resp_free(&r);
    return st;
}

static void test_start(void) {
    const char *kek = getenv("RECIPROCAL_LEDGER_KEK"); /* exported by tests/run.sh */
    snprintf(g_kek, sizeof g_kek, "RECIPROCAL_LEDGER_KEK=%s", kek ? kek : "");
    const char *env[] = {g_kek, "RECIPROCAL_GOVERNANCE_SWEEP_SECONDS=0",
                         "RECIPROCAL_GOVERNANCE_LEDGER_SECONDS=0", NULL};
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    REQUIRE(gov_e2e_ledger_network(&g_proc) == 0);
    for (int i = 0; i < 4; i++) {
        char name[32], slug[64], org[32];
        snprintf(name, sizeof name, "Gov Club %c", 'A' + i);
        snprintf(slug, sizeof slug, "govl-%c-%d", 'a' + i, (int)getpid());
        snprintf(org, sizeof org, "gl%c%d", 'a' + i, (int)getpid());
        REQUIRE(gov_e2e_ledger_club(&g_proc, name, slug, org, NULL, g_club[i], NULL) == 0);
    }
}

/* Runs the sweep at as_of; returns its output. */
static json_t *sweep(const char *as_of) {
    char body[96];
    json_t *v = NULL;
    snprintf(body, sizeof body, "{\"as_of\":\"%s\"}", as_of);
    CHECK_EQ_INT(call("POST", "/api/v1/governance/sweep", body, &v), 200);
    return v;
}

static void test_vote_and_finalise(void) {
    char body[1024], path[256];
    json_t *v = NULL;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"type\":\"policy\",\"title\":\"Guest fees\",\"body\":\"Align "
             "the guest fees.\",\"scope\":\"network\",\"actions\":[],\"as_of\":\"" T0 "\"}",
             g_club[0]);
    REQUIRE(call("POST", "/api/v1/governance/proposals", body, &v) == 201);
    snprintf(g_prop, sizeof g_prop, "%s", jstr(v, "id"));
    CHECK_STR(jstr(v, "status"), "draft");
    json_decref(v);
    snprintf(path, sizeof path, "/api/v1/governance/proposals/%s/sponsor", g_prop);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"as_of\":\"" T0 "\"}", g_club[1]);
    REQUIRE(call("POST", path, body, NULL) == 200);
    v = sweep(T_OPEN);
    CHECK_EQ_INT(json_integer_value(json_object_get(v, "opened")), 1);
    json_decref(v);
    const char *choice[] = {"for", "for", "against", "abstain"};
    snprintf(path, sizeof path, "/api/v1/governance/proposals/%s/votes", g_prop);
    for (int i = 0; i < 4; i++) {
        snprintf(body, sizeof body,
                 "{\"club_id\":\"%s\",\"choice\":\"%s\",\"reason\":\"club %d\",\"as_of\":"
                 "\"" T_VOTE "\"}",
                 g_club[i], choice[i], i);
        CHECK_EQ_INT(call("POST", path, body, NULL), 201);
    }
    v = sweep(T_CLOSE);
    CHECK_EQ_INT(json_integer_value(json_object_get(v, "queued")), 1);
    json_decref(v);
    /* the records reach the ledger: the result waits for the votes' records, so a few passes */
    CHECK_EQ_INT(gov_e2e_drain(&g_proc, g_prop, T_CLOSE, 40), 0);
}

/* 1 when the (base64 or plain) string holds a vote record with "choice":"abstain"; then *out is
 * the same string with it rewritten "against" (same length). */
static int tamper_string(const char *s, char **out) {
    static const char from[] = "\"choice\":\"abstain\"", to[] = "\"choice\":\"against\"";
    size_t len = strlen(s), n = 0;
    unsigned char *bin = malloc(len + 1);
    if (!bin) return 0;
    int hit = 0;
    if (sodium_base642bin(bin, len, s, len, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) == 0) {
        for (size_t i = 0; i + sizeof from - 1 <= n; i++)
            if (memcmp(bin + i, from, sizeof from - 1) == 0) {
                memcpy(bin + i, to, sizeof to - 1);
                hit = 1;
            }
        if (hit) {
            size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
            *out = malloc(cap);
            if (*out) sodium_bin2base64(*out, cap, bin, n, sodium_base64_VARIANT_ORIGINAL);
            hit = *out != NULL;
        }
    }
    free(bin);
    return hit;
}

/* Rewrites every matching string inside j; returns how many. */
static int tamper_json(json_t *j) {
    int hits = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *x;
        json_object_foreach(j, k, x) {
            char *t = NULL;
            if (json_is_string(x) && tamper_string(json_string_value(x), &t)) {
                json_object_set_new(j, k, json_string(t));
                hits++;
            } else {
                hits += tamper_json(x);
            }
            free(t);
        }
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            json_t *x = json_array_get(j, i);
            char *t = NULL;
            if (json_is_string(x) && tamper_string(json_string_value(x), &t)) {
                json_array_set_new(j, i, json_string(t));
                hits++;
            } else {
                hits += tamper_json(x);
            }
            free(t);
        }
    }
    return hits;
}

static void test_offline_tally(void) {
    char file[480], bad[512], path[256];
    const char *tmp = getenv("RECIPROCAL_TEST_TMP");
    snprintf(file, sizeof file, "%s/gov-ledger-%d.ndjson", tmp ? tmp : "/tmp", (int)getpid());
    snprintf(bad, sizeof bad, "%s.bad", file);
    json_t *v = NULL;
    snprintf(path, sizeof path, "/api/v1/governance/proposals/%s", g_prop);
    REQUIRE(call("GET", path, NULL, &v) == 200);
    CHECK_STR(jstr(v, "status"), "queued");
    char *want = json_dumps(json_object_get(v, "result"), JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(v);
    REQUIRE(want != NULL);
    CHECK(strstr(want, "\"outcome\":\"succeeded\"") != NULL);
    const char *env[] = {g_kek, NULL};
    const char *ex[] = {"ledger", "export", file, NULL};
    const char *tl[] = {"governance", "tally", file, g_prop, NULL};
    char *out = NULL;
    int rc = -1;
    /* the last records commit asynchronously: export until the result is in it */
    for (int i = 0; i < 40 && rc != 0; i++) {
        free(out);
        out = NULL;
        CHECK_EQ_INT(e2e_run(ex, env, &out), 0);
        free(out);
        out = NULL;
        rc = e2e_run(tl, env, &out);
        if (rc != 0) usleep(250 * 1000);
    }
    if (rc != 0) printf("# %s\n", out ? out : "");
    CHECK_EQ_INT(rc, 0);
    const char *eq = out ? strstr(out, "recount equals the recorded result: ") : NULL;
    CHECK(eq != NULL);
    if (eq) {
        eq += strlen("recount equals the recorded result: ");
        size_t n = strcspn(eq, "\n");
        CHECK_EQ_INT((long)n, (long)strlen(want));
        CHECK(strncmp(eq, want, strlen(want)) == 0);
        if (n != strlen(want) || strncmp(eq, want, n) != 0)
            printf("#   tally: %.*s\n#   GET:   %s\n", (int)n, eq, want);
    }
    CHECK(out && strstr(out, "for 2 (weight 2), against 1 (1), abstain 1 (1)") != NULL);
    free(out);
    out = NULL;
    free(want);
    /* a tampered copy: club 3's abstain rewritten against inside its envelope */
    FILE *in = fopen(file, "r"), *outf = fopen(bad, "w");
    REQUIRE(in != NULL && outf != NULL);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int hits = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        json_t *j = json_loadb(line, (size_t)n, 0, NULL);
        int h = j ? tamper_json(j) : 0;
        if (h) {
            json_dumpf(j, outf, JSON_COMPACT);
            fputc('\n', outf);
            hits += h;
        } else {
            fputs(line, outf);
        }
        json_decref(j);
    }
    free(line);
    fclose(in);
    fclose(outf);
    CHECK(hits >= 1);
    const char *tb[] = {"governance", "tally", bad, g_prop, NULL};
    rc = e2e_run(tb, env, &out);
    CHECK(rc != 0);
    if (rc == 0) printf("# %s\n", out ? out : "");
    CHECK(out && strstr(out, "recount equals") == NULL);
    free(out);
    unlink(file);
    unlink(bad);
}

int main(void) {
    RUN(test_start);
    RUN(test_vote_and_finalise);
    RUN(test_offline_tally);
    e2e_stop(&g_proc);
    TEST_DONE();
}
