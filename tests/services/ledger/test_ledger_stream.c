/* test_ledger_stream: the streamed export (reciprocal-ledger-export/v2, export.h) is verified in
 * bounded memory (issue 17: "a day at 3k tx/s would be ~130 GB"). Builds synthetic chains with
 * the service's engine (no PostgreSQL, no NATS): a genesis config, one club, then blocks of
 * data.put transactions with an 8 KB value and two endorsements, a signed checkpoint with its
 * block line after every block, written line by line (never the whole chain in memory). Then
 * runs `reciprocal ledger verify FILE --log-key K` (the -O2 binary: no sanitizer quarantine in
 * the figure) as a child and reads its maximum RSS (wait4): a chain 4 times larger (35 MB more)
 * must need less than a sixth of that more (measured: 0.8-3.9 MB: the replay state's versions
 * and seen tx ids, which do grow with the chain, and the allocator). The same chains written as v1
 * documents show the difference (the whole document loaded: RSS grows with the file), which is what
 * made this test fail before the streaming verifier. Also: a v2 file cut inside a line, a line that
 * is neither a block nor a checkpoint, and too many checkpoints ahead of their blocks are refused,
 * naming the line. */
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/ledger/checkpoint.h"
#include "lib/ledger/merkle.h"
#include "services/ledger/api.h"
#include "services/ledger/engine.h"
#include "services/ledger/export.h"
#include "services/ledger/idcheck.h"
#include "services/ledger/statecheck.h"
#include "services/ledger/settings.h"
#include "services/ledger/verify.h"
#include "support/ledger_chain.h"
#include "test.h"

#define VALUE_BYTES 8192
#define TXS_PER_BLOCK 10

static uint8_t log_pk[32], log_sk[64], pk[2][32], sk[2][64];
static char tmpdir[512];

static int config_org(ledger_chain_t *c, const char *org, const uint8_t org_pk[32], err_t *e) {
    return ledger_chain_config_orgs(c, (const char *[]){org}, (const uint8_t(*)[32])org_pk, 1,
                                    pk[0], sk[0], e);
}

/* writes a chain of nblocks blocks to path (v2) and, when v1_path, as a v1 document too */
static int build_chain(const char *path, const char *v1_path, int nblocks, err_t *e) {
    ledger_chain_t c;
    int rc = ledger_chain_open(&c, path, v1_path, log_pk, log_sk, 1764900000000, 20, e) == 0 &&
                     config_org(&c, LEDGER_NETWORK_ORG, pk[0], e) == 0 &&
                     config_org(&c, "club1", pk[1], e) == 0
                 ? 0
                 : -1;
    char *value = malloc(VALUE_BYTES + 1);
    memset(value, 'v', VALUE_BYTES);
    value[VALUE_BYTES] = 0;
    for (int b = 0; rc == 0 && b < nblocks; b++) {
        uint8_t *env[TXS_PER_BLOCK] = {0};
        size_t lens[TXS_PER_BLOCK];
        for (int i = 0; rc == 0 && i < TXS_PER_BLOCK; i++) {
            char key[48];
            snprintf(key, sizeof key, "s/%d/%d", b, i);
            json_t *spec = json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "type", "data.put", "creator",
                                     LEDGER_NETWORK_ORG, "writes", "key", key, "value", value);
            rc = ledger_chain_envelope(spec, (const uint8_t(*)[32])pk, (const uint8_t(*)[64])sk, 2,
                                       &env[i], &lens[i], e);
            json_decref(spec);
        }
        if (rc == 0) rc = ledger_chain_add_block(&c, env, lens, TXS_PER_BLOCK, e);
        for (int i = 0; i < TXS_PER_BLOCK; i++)
            free(env[i]);
    }
    free(value);
    return ledger_chain_close(&c, rc);
}

/* `reciprocal ledger verify path --log-key K` (the -O2 binary): exit status, *maxrss_kb. Run by
 * the launcher: a child's maximum RSS includes what its parent held when it forked (the copied
 * page tables count until exec), so the verifier must be forked by a process that stayed small. */
static int run_verify(const char *path, const char *key, long *maxrss_kb) {
    const char *root = getenv("RECIPROCAL_TEST_ROOT");
    char bin[600], log[600];
    snprintf(bin, sizeof bin, "%s/build/reciprocal", root ? root : ".");
    snprintf(log, sizeof log, "%s/verify.out", tmpdir);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(bin, bin, "ledger", "verify", path, "--log-key", key, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &st, 0, &ru) != pid) return -1;
    *maxrss_kb = ru.ru_maxrss;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* the launcher, forked first thing in main: reads a path, answers exit status and max RSS */
static int lreq[2], lresp[2];
static pid_t launcher;

static void launcher_start(void) {
    if (pipe(lreq) != 0 || pipe(lresp) != 0) return;
    launcher = fork();
    if (launcher != 0) {
        close(lreq[0]);
        close(lresp[1]);
        return;
    }
    close(lreq[1]);
    close(lresp[0]);
    char req[600 + 65]; /* path, then the hex log key */
    while (read(lreq[0], req, sizeof req) == (ssize_t)sizeof req) {
        long r[2] = {0, 0};
        r[0] = run_verify(req, req + 600, &r[1]);
        if (write(lresp[1], r, sizeof r) != (ssize_t)sizeof r) break;
    }
    _exit(0);
}

static int verify_child(const char *path, long *maxrss_kb, char *out, size_t cap) {
    char p[600 + 65] = {0}, log[600];
    long r[2];
    snprintf(p, 600, "%s", path);
    ledger_hex(log_pk, 32, p + 600);
    if (launcher <= 0 || write(lreq[1], p, sizeof p) != (ssize_t)sizeof p ||
        read(lresp[0], r, sizeof r) != (ssize_t)sizeof r)
        return -1;
    *maxrss_kb = r[1];
    snprintf(log, sizeof log, "%s/verify.out", tmpdir);
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(out, 1, cap - 1, f) : 0;
    out[n] = 0;
    if (f) fclose(f);
    unlink(log);
    return (int)r[0];
}

static long file_kb(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)(sb.st_size / 1024) : -1;
}

static void test_bounded_memory(void) {
    const int sizes[2] = {100, 400}; /* blocks of TXS_PER_BLOCK txs; 100 (11.8 MB) fill the
                                        read-ahead chunk and a batch (4 MB of lines each) */
    long rss2[2] = {0}, rss1[2] = {0}, kb[2] = {0};
    for (int k = 0; k < 2; k++) {
        char v2[600], v1[600], out[4096];
        snprintf(v2, sizeof v2, "%s/chain-%d.ndjson", tmpdir, k);
        snprintf(v1, sizeof v1, "%s/chain-%d.json", tmpdir, k);
        err_t e = {0};
        int rc = build_chain(v2, v1, sizes[k], &e);
        if (rc != 0) printf("#   build: %s\n", e.message);
        REQUIRE(rc == 0);
        kb[k] = file_kb(v2);
        rc = verify_child(v2, &rss2[k], out, sizeof out);
        printf("# v2 %d blocks x %d txs (%ld KB): exit %d, max RSS %ld KB: %s", sizes[k],
               TXS_PER_BLOCK, kb[k], rc, rss2[k], out);
        CHECK_EQ_INT(rc, 0);
        CHECK(strstr(out, "ledger valid") != NULL);
        rc = verify_child(v1, &rss1[k], out, sizeof out);
        printf("# v1 document, same chain (%ld KB): exit %d, max RSS %ld KB\n", file_kb(v1), rc,
               rss1[k]);
        CHECK_EQ_INT(rc, 0);
        unlink(v2);
        unlink(v1);
    }
    long grew2 = rss2[1] - rss2[0], grew1 = rss1[1] - rss1[0];
    printf("# the file grew %ld KB; max RSS grew %ld KB streamed (v2), %ld KB as a document (v1)\n",
           kb[1] - kb[0], grew2, grew1);
    CHECK(kb[1] - kb[0] > 20000);
    /* bounded by the read-ahead and a batch, not the chain; what still grows is the replay
     * state (world-state versions and seen tx ids: a few hundred bytes per transaction) */
    CHECK(grew2 < (kb[1] - kb[0]) / 6);
    CHECK(grew1 > (kb[1] - kb[0]) / 2); /* the test tells the two apart */
}

static int verify_text(const char *text, err_t *e) {
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    ledger_verify_opts_t o = {0};
    ledger_verify_report_t rep;
    int rc = ledger_verify_stream(f, &o, &rep, e);
    fclose(f);
    return rc;
}

/* A damaged stream is refused and the line named. */
static void test_bad_lines(void) {
    char v2[600];
    snprintf(v2, sizeof v2, "%s/small.ndjson", tmpdir);
    err_t e = {0};
    REQUIRE(build_chain(v2, NULL, 2, &e) == 0);
    FILE *f = fopen(v2, "r");
    REQUIRE(f != NULL);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    unlink(v2);
    ledger_verify_opts_t o = {0};
    ledger_verify_report_t rep;
    f = fmemopen(buf, n, "r");
    CHECK(ledger_verify_stream(f, &o, &rep, &e) == 0);
    fclose(f);
    CHECK_EQ_INT(rep.blocks, 4);
    /* cut inside the last line (the last checkpoint) */
    char *cut = strndup(buf, n - 40);
    err_clear(&e);
    CHECK(verify_text(cut, &e) != 0);
    printf("# cut inside a line -> %s\n", e.message);
    CHECK(strstr(e.message, "line 9") != NULL);
    free(cut);
    /* a line that is neither a block nor a checkpoint */
    char *third = strchr(strchr(buf, '\n') + 1, '\n') + 1;
    size_t head = (size_t)(third - buf);
    char *odd = malloc(n + 64);
    memcpy(odd, buf, head);
    strcpy(odd + head, "{\"blocks\":[]}\n");
    strcat(odd, third);
    err_clear(&e);
    CHECK(verify_text(odd, &e) != 0);
    printf("# odd line -> %s\n", e.message);
    CHECK(strstr(e.message, "line 3") != NULL);
    CHECK_STR(e.field, "line");
    free(odd);
    /* not a v2 header */
    err_clear(&e);
    CHECK(verify_text("{\"format\":\"reciprocal-ledger-export/v1\"}\n", &e) != 0);
    CHECK_STR(e.field, "format");
}

/* Checkpoints ahead of their blocks wait in a bounded queue. */
static void test_checkpoints_ahead(void) {
    char hx[65];
    ledger_hex(log_pk, 32, hx);
    size_t cap = 4 << 20, len = 0;
    char *t = malloc(cap);
    len += (size_t)snprintf(t, cap,
                            "{\"format\":\"reciprocal-ledger-export/v2\",\"log_public_key\":"
                            "\"%s\",\"origin\":\"%s\"}\n",
                            hx, ledger_origin());
    err_t e = {0};
    checkpoint_signer_t s;
    REQUIRE(checkpoint_signer_init(&s, ledger_origin(), log_sk, &e) == 0);
    uint8_t root[32] = {0};
    for (int i = 0; i < 1100; i++) {
        char *body = NULL, *note = NULL;
        size_t bl = 0, nl = 0;
        REQUIRE(checkpoint_format_body(ledger_origin(), (uint64_t)i + 1, root, NULL, 0, &body, &bl,
                                       &e) == 0);
        REQUIRE(checkpoint_sign(body, bl, &s, &note, &nl, &e) == 0);
        json_t *line = json_pack("{s:s}", "checkpoint", note);
        char *js = json_dumps(line, JSON_COMPACT);
        len += (size_t)snprintf(t + len, cap - len, "%s\n", js);
        free(js);
        json_decref(line);
        free(body);
        free(note);
    }
    checkpoint_signer_wipe(&s);
    CHECK(verify_text(t, &e) != 0);
    printf("# 1100 checkpoints and no block -> %s\n", e.message);
    CHECK(strstr(e.message, "checkpoints ahead of the blocks") != NULL);
    free(t);
}

/* The replay state's map (ledger_kvmap, engine.c: slots into an arena of key bytes): 300,000
 * keys of 0..40 bytes and one of 3 MB (larger than an arena chunk), growth across many table
 * doublings and arena chunks, overwrites, and absent keys that share a prefix or a length. */
static void test_kvmap(void) {
    ledger_kvmap_t *m = ledger_kvmap_new();
    CHECK(m != NULL);
    enum { N = 300000 };
    uint8_t k[48];
    for (uint32_t i = 0; i < N; i++) {
        size_t len = i % 41;
        memset(k, 0, sizeof k);
        memcpy(k, &i, len < 4 ? len : 4);
        if (len > 4) memset(k + 4, (int)(i & 0xff), len - 4);
        if (i < 41 || len >= 4) CHECK(ledger_kvmap_set(m, k, len, (uint64_t)i + 1) == 0);
    }
    size_t big = (size_t)3 << 20;
    uint8_t *bk = calloc(1, big);
    CHECK(bk != NULL);
    bk[big - 1] = 7;
    CHECK(ledger_kvmap_set(m, bk, big, 42) == 0);
    int found = 0, bad = 0;
    for (uint32_t i = 0; i < N; i++) {
        size_t len = i % 41;
        memset(k, 0, sizeof k);
        memcpy(k, &i, len < 4 ? len : 4);
        if (len > 4) memset(k + 4, (int)(i & 0xff), len - 4);
        if (len < 4 && i >= 41) continue; /* short keys repeat: only their first is set */
        if (ledger_kvmap_get(m, k, len, &found) != (uint64_t)i + 1 || !found) bad++;
        if (len >= 5) {
            k[len - 1] ^= 0x80; /* same length, last byte differs: absent */
            if (ledger_kvmap_get(m, k, len, &found) != 0 || found) bad++;
        }
    }
    CHECK(bad == 0);
    CHECK(ledger_kvmap_get(m, bk, big, &found) == 42 && found);
    bk[0] = 1;
    CHECK(ledger_kvmap_get(m, bk, big, &found) == 0 && !found);
    CHECK(ledger_kvmap_set(m, (const uint8_t *)"", 0, 9) == 0); /* overwrite the empty key */
    CHECK(ledger_kvmap_get(m, (const uint8_t *)"", 0, &found) == 9 && found);
    free(bk);
    ledger_kvmap_free(m);
    /* the cost per tx id of the verifier's seen set: 2^20 random 32-byte ids (the table just
     * doubled: its emptiest point) and 3 * 2^18 (its fullest) */
    m = ledger_kvmap_new();
    CHECK(m != NULL);
    size_t n = 0, at[2] = {(size_t)3 << 18, (size_t)1 << 20};
    for (int p = 0; p < 2; p++) {
        for (; n < at[p]; n++) {
            randombytes_buf(k, 32);
            CHECK(ledger_kvmap_set(m, k, 32, 1) == 0);
        }
        double per = (double)ledger_kvmap_bytes(m) / (double)n;
        printf("# kvmap: %zu tx ids, %.1f bytes each\n", n, per);
        CHECK(per < (p ? 82.0 : 66.0)); /* before: a malloc'd copy per key, table <= 1/2 full */
    }
    ledger_kvmap_free(m);
}

/* The duplicate-id check on disk (idcheck.c): runs of 1,000 records (so 60 run files and the
 * buffer are merged), ids split over 1 and 3 threads, against the rule the replay applies (an
 * id's first use is not DUPLICATE_TXID, every later one is), with violations planted. */
static void test_idcheck(void) {
    enum { N = 60000 };
    uint8_t(*ids)[32] = malloc((size_t)N * 32);
    REQUIRE(ids != NULL);
    for (size_t t = 1; t <= 3; t += 2) {
        for (int plant = 0; plant < 4; plant++) {
            ledger_idcheck_t *c = ledger_idcheck_new(1000);
            REQUIRE(c != NULL);
            err_t e = {0};
            int ok = 1;
            /* 600 blocks of 100; every 7th tx repeats the id of the tx 500 positions earlier */
            for (size_t k = 0; k < N; k++) {
                int dup = k >= 500 && k % 7 == 0;
                if (dup)
                    memcpy(ids[k], ids[k - 500], 32);
                else
                    randombytes_buf(ids[k], 32);
                int code = dup ? LEDGER_DUPLICATE_TXID : (int)(k % 3 ? LEDGER_VALID : 11);
                if (plant == 1 && k == 41006) code = LEDGER_VALID;          /* a repeat */
                if (plant == 2 && k == 30001) code = LEDGER_DUPLICATE_TXID; /* a first use */
                if (plant == 3 && (k == 50001 || k == 20006)) code = dup ? 0 : 9;
                if (ledger_idcheck_add(c, ids[k], k / 100, (uint32_t)(k % 100), code, &e) != 0)
                    ok = 0;
            }
            CHECK(ok);
            CHECK(ledger_idcheck_runs(c) >= 59);
            ledger_idcheck_bad_t bad = {0};
            int r = ledger_idcheck_run(c, UINT64_MAX, t, &bad, &e);
            size_t want[] = {0, 41006, 30001, 20006};
            if (plant == 0) {
                CHECK_EQ_INT(r, 0);
            } else {
                CHECK_EQ_INT(r, 1);
                CHECK_EQ_INT((int)(bad.block * 100 + bad.position), (int)want[plant]);
                CHECK_EQ_INT(bad.dup, want[plant] % 7 == 0);
                CHECK(memcmp(bad.id, ids[want[plant]], 32) == 0);
                /* up to the block before the violation: none */
                CHECK_EQ_INT(ledger_idcheck_run(c, want[plant] / 100 - 1, t, &bad, &e), 0);
            }
            ledger_idcheck_free(c);
        }
    }
    free(ids);
}

/* A chain with a repeated envelope: the engine marks the repeat DUPLICATE_TXID and the chain
 * verifies. Two chains whose builder forgot ids (every root, header and checkpoint consistent
 * with the wrong codes) must fail, naming the transaction: a repeat recorded VALID, and a first
 * use recorded DUPLICATE_TXID (the builder's seen set held the id beforehand). The verifier
 * takes the recorded codes as the duplicate flags and checks them at the end. */
static void test_duplicate_ids(void) {
    for (int mode = 0; mode < 3; mode++) {
        char path[600];
        snprintf(path, sizeof path, "%s/dup.ndjson", tmpdir);
        ledger_chain_t c;
        char hx[65];
        err_t e = {0};
        ledger_hex(log_pk, 32, hx);
        REQUIRE(ledger_chain_open(&c, path, NULL, log_pk, log_sk, 1764900000000, 20, &e) == 0);
        c.any_code = 1;
        REQUIRE(config_org(&c, LEDGER_NETWORK_ORG, pk[0], &e) == 0);
        REQUIRE(config_org(&c, "club1", pk[1], &e) == 0);
        uint8_t *env[2] = {0};
        size_t lens[2];
        for (int i = 0; i < 2; i++) {
            json_t *spec =
                json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "type", "data.put", "creator",
                          LEDGER_NETWORK_ORG, "writes", "key", i ? "d/2" : "d/1", "value", "x");
            REQUIRE(ledger_chain_envelope(spec, (const uint8_t(*)[32])pk, (const uint8_t(*)[64])sk,
                                          2, &env[i], &lens[i], &e) == 0);
            json_decref(spec);
        }
        if (mode == 2) { /* the first use will be recorded DUPLICATE_TXID */
            ledger_envelope_t en;
            txcodec_tx_t t;
            REQUIRE(ledger_envelope_decode(env[0], lens[0], &en, &e) == 0);
            REQUIRE(txcodec_decode(en.tx, en.tx_len, &t, &e) == 0);
            REQUIRE(ledger_kvmap_set(c.seen, t.tx_id, 32, 1) == 0);
            txcodec_tx_free(&t);
        }
        REQUIRE(ledger_chain_add_block(&c, env, lens, 2, &e) == 0); /* block 2: X, Y */
        if (mode == 1) { /* the repeat will be recorded VALID */
            ledger_kvmap_free(c.seen);
            c.seen = ledger_kvmap_new();
        }
        uint8_t *again[1] = {env[0]};
        REQUIRE(ledger_chain_add_block(&c, again, lens, 1, &e) == 0); /* block 3: X again */
        REQUIRE(ledger_chain_close(&c, 0) == 0);
        ledger_verify_opts_t o = {.log_key_hex = hx};
        ledger_verify_report_t rep;
        err_t ve = {0};
        int rc = ledger_verify_file(path, &o, &rep, &ve);
        printf("# mode %d: %s\n", mode, rc == 0 ? "valid" : ve.message);
        if (mode == 0) {
            CHECK_EQ_INT(rc, 0);
            CHECK_EQ_INT((int)rep.valid_txs, 4); /* 2 config + X + Y; the repeat is not */
        } else {
            CHECK(rc != 0);
            CHECK(strcmp(ve.field, "validation_code") == 0);
            CHECK(strstr(ve.message, mode == 1 ? "block 3 tx 0" : "block 2 tx 0") != NULL);
            CHECK(strstr(ve.message, mode == 1 ? "recorded VALID, replay gives DUPLICATE_TXID"
                                               : "recorded DUPLICATE_TXID, replay gives the "
                                                 "first use") != NULL);
        }
        free(env[0]);
        free(env[1]);
        unlink(path);
    }
}

/* The MVCC check on disk (statecheck.c): 20,000 transactions each reading one of 100 keys and,
 * unless recorded MVCC_READ_CONFLICT (every 11th reads a stale version), writing it; runs of 500
 * records (80 run files), keys over 1 and 3 threads; planted: a stale read recorded VALID, and
 * a conflict recorded whose read holds. */
static void test_statecheck(void) {
    enum { N = 20000, NK = 100 };
    uint8_t key[NK][32];
    for (int k = 0; k < NK; k++)
        randombytes_buf(key[k], 32);
    for (size_t t = 1; t <= 3; t += 2) {
        for (int plant = 0; plant < 3; plant++) {
            ledger_statecheck_t *c = ledger_statecheck_new(500);
            REQUIRE(c != NULL);
            uint64_t cur[NK] = {0}, want = 0, have = 0;
            err_t e = {0};
            int ok = 1;
            uint32_t rnd = 12345;
            for (uint64_t k = 0; k < N; k++) {
                rnd = rnd * 1103515245u + 12345u;
                int kk = (int)((rnd >> 8) % NK);
                int conflict = k % 11 == 5;
                uint64_t v = conflict ? cur[kk] + 12345 : cur[kk];
                if (plant == 1 && k == 7001) { /* stale, recorded VALID */
                    conflict = 0;
                    want = v;
                    have = cur[kk];
                }
                if (plant == 2 && k == 9002) conflict = 1; /* holds, recorded a conflict */
                uint8_t id[32] = {(uint8_t)k};
                if (ledger_statecheck_read(c, key[kk], k / 100, (uint32_t)(k % 100), v, conflict,
                                           &e) != 0 ||
                    (conflict &&
                     ledger_statecheck_conflict(c, k / 100, (uint32_t)(k % 100), id, &e) != 0) ||
                    (!conflict && ledger_statecheck_write(c, key[kk], k / 100, (uint32_t)(k % 100),
                                                          k + 1, &e) != 0))
                    ok = 0;
                if (!conflict) cur[kk] = k + 1;
            }
            CHECK(ok);
            CHECK(ledger_statecheck_runs(c) >= 60);
            ledger_statecheck_bad_t bad;
            int r = ledger_statecheck_run(c, UINT64_MAX, t, &bad, &e);
            if (plant == 0) {
                CHECK_EQ_INT(r, 0);
            } else {
                CHECK_EQ_INT(r, 1);
                CHECK_EQ_INT((int)(bad.block * 100 + bad.position), plant == 1 ? 7001 : 9002);
                CHECK_EQ_INT(bad.conflict, plant == 2);
                if (plant == 1) CHECK(bad.want == want && bad.have == have);
                CHECK_EQ_INT(ledger_statecheck_run(c, plant == 1 ? 69 : 89, t, &bad, &e), 0);
            }
            ledger_statecheck_free(c);
        }
    }
}

/* A chain with reads: A writes m/1; then B reads m/1 at A's version and writes it (VALID) and C
 * reads it at A's version after B (MVCC_READ_CONFLICT). It verifies. Two chains whose builder
 * forgot the world state before the last block (every root, header and checkpoint consistent
 * with the wrong codes) must fail naming the tx: B and C recorded MVCC_READ_CONFLICT (B's read
 * holds: replay VALID), and, B writing m/2 blindly, C's read of m/1 at version 0 recorded VALID
 * (replay: a conflict with A's write). The
 * verifier takes the recorded MVCC outcomes and checks every read at the end. */
static void test_mvcc_deferred(void) {
    for (int mode = 0; mode < 3; mode++) {
        char path[600];
        snprintf(path, sizeof path, "%s/mvcc.ndjson", tmpdir);
        ledger_chain_t c;
        char hx[65];
        err_t e = {0};
        ledger_hex(log_pk, 32, hx);
        REQUIRE(ledger_chain_open(&c, path, NULL, log_pk, log_sk, 1764900000000, 20, &e) == 0);
        c.any_code = 1;
        REQUIRE(config_org(&c, LEDGER_NETWORK_ORG, pk[0], &e) == 0);
        REQUIRE(config_org(&c, "club1", pk[1], &e) == 0);
        uint8_t *env[3] = {0};
        size_t lens[3];
        json_t *spec = json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "type", "data.put", "creator",
                                 LEDGER_NETWORK_ORG, "writes", "key", "m/1", "value", "a");
        REQUIRE(ledger_chain_envelope(spec, (const uint8_t(*)[32])pk, (const uint8_t(*)[64])sk, 2,
                                      &env[0], &lens[0], &e) == 0);
        json_decref(spec);
        REQUIRE(ledger_chain_add_block(&c, env, lens, 1, &e) == 0); /* block 2: A */
        free(env[0]);
        json_int_t va = (json_int_t)ledger_version(2, 0);
        for (int i = 0; i < 2; i++) {
            json_int_t rv = mode == 2 && i == 1 ? 0 : va;
            spec =
                json_pack("{s:s,s:s,s:[{s:s,s:I}],s:[{s:s,s:s}]}", "type", "data.put", "creator",
                          LEDGER_NETWORK_ORG, "reads", "key", "m/1", "version", rv, "writes", "key",
                          i           ? "m/3"
                          : mode == 2 ? "m/2"
                                      : "m/1",
                          "value", i ? "c" : "b");
            if (mode == 2 && i == 0) json_object_del(spec, "reads"); /* B: a blind write */
            REQUIRE(ledger_chain_envelope(spec, (const uint8_t(*)[32])pk, (const uint8_t(*)[64])sk,
                                          2, &env[i], &lens[i], &e) == 0);
            json_decref(spec);
        }
        if (mode > 0) { /* the builder forgets the world state */
            ledger_kvmap_free(c.versions);
            c.versions = ledger_kvmap_new();
        }
        REQUIRE(ledger_chain_add_block(&c, env, lens, 2, &e) == 0); /* block 3: B, C */
        REQUIRE(ledger_chain_close(&c, 0) == 0);
        ledger_verify_opts_t o = {.log_key_hex = hx};
        ledger_verify_report_t rep;
        err_t ve = {0};
        int rc = ledger_verify_file(path, &o, &rep, &ve);
        printf("# mode %d: %s\n", mode, rc == 0 ? "valid" : ve.message);
        if (mode == 0) {
            CHECK_EQ_INT(rc, 0);
            CHECK_EQ_INT((int)rep.valid_txs, 4); /* 2 config + A + B; C is a conflict */
        } else {
            CHECK(rc != 0);
            CHECK(strcmp(ve.field, "validation_code") == 0);
            CHECK(strstr(ve.message, mode == 1 ? "block 3 tx 0" : "block 3 tx 1") != NULL);
            CHECK(strstr(ve.message, mode == 1 ? "recorded MVCC_READ_CONFLICT, replay gives VALID"
                                               : "recorded VALID, replay gives "
                                                 "MVCC_READ_CONFLICT") != NULL);
        }
        free(env[0]);
        free(env[1]);
        unlink(path);
    }
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const char *tmp = getenv("RECIPROCAL_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/ledger-stream-%d", tmp ? tmp : "/tmp", (int)getpid());
    mkdir(tmp ? tmp : "/tmp", 0700);
    if (mkdir(tmpdir, 0700) != 0) return 1;
    launcher_start();
    crypto_sign_keypair(log_pk, log_sk);
    crypto_sign_keypair(pk[0], sk[0]);
    crypto_sign_keypair(pk[1], sk[1]);
    RUN(test_kvmap);
    RUN(test_idcheck);
    RUN(test_duplicate_ids);
    RUN(test_statecheck);
    RUN(test_mvcc_deferred);
    RUN(test_bad_lines);
    RUN(test_checkpoints_ahead);
    RUN(test_bounded_memory);
    close(lreq[1]);
    if (launcher > 0) waitpid(launcher, NULL, 0);
    rmdir(tmpdir);
    TEST_DONE();
}
