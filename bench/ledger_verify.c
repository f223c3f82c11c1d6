/* bench/ledger_verify.c: time of the offline verifier (`reciprocal ledger verify`) on a
 * synthetic chain, without PostgreSQL or NATS. Builds, with the service's engine, a genesis
 * config (the network operator), a config.update registering one club, then BLOCKS blocks of
 * TXS data.put transactions (a ~100 B value, two endorsements: the operator's and the club's
 * admin keys, as a visit's two clubs), signs a checkpoint with its block line after every block
 * and writes the streamed export (reciprocal-ledger-export/v2, export.h) block by block; then
 * runs BIN (default build/reciprocal) `ledger verify FILE --log-key K` as a child and prints its
 * wall time, CPU (user + system of every thread), CPU per transaction and maximum RSS (wait4),
 * as one line "ledger-verify-bench key=value ..." (bench/run.sh reads it).
 * It samples the child's VmRSS every second (/proc/<pid>/status) with the share of the export it
 * has read (/proc/<pid>/io rchar) and prints the largest VmRSS of each quarter of the file
 * (rss_q1_mb..rss_q4_mb), of the final checks after it (rss_end_mb) and its VmHWM (hwm_mb;
 * maxrss_mb, from wait4, also counts the builder's pages the child had before its exec). The
 * builder validates its own blocks with the endorsements marked checked (sig_ok: it signed them),
 * so a 2 M-transaction chain builds in minutes; the verifier checks every one. Usage:
 * bench-ledger-verify BLOCKS TXS [FILE [BIN [THREADS [SAMPLES]]]]   (FILE: keep the export there;
 * THREADS: `--threads`, default one per online CPU, 0 = default; SAMPLES: write the RSS samples
 * there, "seconds rss_mb hwm_mb read_fraction" a line) */
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/ledger/checkpoint.h"
#include "lib/ledger/merkle.h"
#include "services/ledger/api.h"
#include "services/ledger/engine.h"
#include "services/ledger/export.h"
#include "services/ledger/settings.h"
#include "services/ledger/verify.h"

static double clk(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void) {
    return clk(CLOCK_MONOTONIC);
}

static char *b64(const uint8_t *d, size_t n) {
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    if (s) sodium_bin2base64(s, cap, d, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

static json_t *jhex(const uint8_t *d) {
    char hx[65];
    ledger_hex(d, 32, hx);
    return json_string(hx);
}

typedef struct chain {
    ledger_config_t cfg;
    ledger_kvmap_t *versions, *seen;
    merkle_range_t range;
    uint8_t prev[32];
    uint64_t number;
    checkpoint_signer_t log;
    FILE *f;
} chain_t;

/* validates the block of n envelopes, appends it and its signed checkpoint to the export */
static int add_block(chain_t *c, uint8_t **env, size_t *lens, size_t n, const uint64_t *sig_ok,
                     err_t *e) {
    ledger_block_msg_t m = {.number = c->number,
                            .timestamp_ms = 1764900000000 + (int64_t)c->number * 20,
                            .n = n,
                            .env = (const uint8_t **)env,
                            .env_len = lens,
                            .sig_ok = sig_ok};
    ledger_block_result_t res = {0};
    if (ledger_validate_block(&m, c->prev, c->range.size, &c->cfg, c->versions, c->seen, &res, e) !=
        0)
        return -1;
    json_t *txs = json_array();
    for (size_t i = 0; i < n; i++) {
        char *s = b64(env[i], lens[i]);
        json_t *t = json_pack("{s:s,s:s}", "envelope", s, "validation_code",
                              ledger_code_name(res.tx[i].code));
        free(s);
        json_t *d = ledger_tx_digests(env[i], lens[i], e);
        if (d) json_object_set_new(t, "digests", d);
        json_array_append_new(txs, t);
        merkle_range_append(&c->range, res.tx[i].leaf, e);
    }
    json_t *blk = json_pack(
        "{s:I,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:o,s:o}", "number", (json_int_t)c->number, "prev_hash",
        jhex(res.hdr.prev_hash), "data_root", jhex(res.hdr.data_root), "validation_root",
        jhex(res.hdr.validation_root), "writeset_hash", jhex(res.hdr.writeset_hash), "timestamp_ms",
        (json_int_t)res.hdr.timestamp_ms, "tx_count", (json_int_t)n, "first_log_index",
        (json_int_t)res.hdr.first_log_index, "header_hash", jhex(res.header_hash), "txs", txs);
    int wrc = ledger_export_write_block(c->f, blk, e);
    json_decref(blk);
    uint8_t root[32];
    char line[LEDGER_BLOCK_LINE_MAX], *body = NULL, *note = NULL;
    const char *ext[] = {line};
    size_t bl = 0, nl = 0;
    ledger_checkpoint_block_line(c->number, res.header_hash, line);
    int rc = wrc == 0 && merkle_range_root(&c->range, root, e) == 0 &&
                     checkpoint_format_body(c->log.name, c->range.size, root, ext, 1, &body, &bl,
                                            e) == 0 &&
                     checkpoint_sign(body, bl, &c->log, &note, &nl, e) == 0
                 ? 0
                 : -1;
    if (rc == 0) rc = ledger_export_write_checkpoint(c->f, note, e);
    free(body);
    free(note);
    memcpy(c->prev, res.header_hash, 32);
    c->number++;
    ledger_block_result_free(&res);
    return rc;
}

/* a transaction created by `creator` (its key pk) endorsed by the n keys sks */
static int make_env(json_t *spec, const uint8_t pk[32], uint8_t (*sks)[64], size_t n, uint8_t **env,
                    size_t *len, err_t *e) {
    uint8_t *tx = NULL, id[32];
    size_t tl = 0;
    ledger_endorsement_t end[2];
    if (ledger_build_tx(spec, pk, &tx, &tl, id, e) != 0) return -1;
    for (size_t i = 0; i < n; i++)
        ledger_endorse(tx, tl, sks[i], &end[i]);
    int rc = ledger_envelope_encode(tx, tl, end, n, env, len, e);
    free(tx);
    return rc;
}

static int config_org(chain_t *c, const char *org, const uint8_t org_pk[32],
                      const uint8_t op_pk[32], uint8_t (*op_sk)[64], err_t *e) {
    char hx[65], key[80];
    ledger_hex(org_pk, 32, hx);
    json_t *val = json_pack("{s:n,s:s,s:[{s:s,s:s}]}", "club_id", "name", org, "identities",
                            "public_key", hx, "role", "admin");
    char *vs = json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(val);
    snprintf(key, sizeof key, "config/org/%s", org);
    json_t *spec = json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "type", "config.update", "creator",
                             LEDGER_NETWORK_ORG, "writes", "key", key, "value", vs);
    free(vs);
    uint8_t *env = NULL;
    size_t len = 0;
    int rc = make_env(spec, op_pk, op_sk, 1, &env, &len, e);
    json_decref(spec);
    if (rc == 0) rc = add_block(c, &env, &len, 1, NULL, e);
    free(env);
    return rc;
}

/* The child's memory over the run, by the share of the export it has read. */
typedef struct rss_stats {
    int n;       /* samples */
    double q[4]; /* largest VmRSS (MB) while it had read (0, 1/4], (1/4, 1/2], ... */
    double end;  /* largest VmRSS after the whole file was read (the final checks) */
    double hwm;  /* largest VmHWM (MB) after the exec */
    FILE *out;   /* NULL, or "seconds rss_mb hwm_mb read_fraction" per sample */
    double file_bytes;
} rss_stats_t;

/* the number after `name` in /proc/<pid>/<file>; -1 when absent */
static double proc_field(pid_t pid, const char *file, const char *name) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    FILE *f = fopen(path, "r");
    double v = -1;
    size_t nl = strlen(name);
    while (f && v < 0 && fgets(line, sizeof line, f))
        if (strncmp(line, name, nl) == 0) v = atof(line + nl);
    if (f) fclose(f);
    return v;
}

/* one sample of the child's VmRSS, VmHWM and bytes read, once it runs bin (before the exec its
 * VmRSS counts this process's pages: the builder's) */
static void rss_sample(pid_t pid, const char *bin, double t, rss_stats_t *r) {
    char path[64], exe[4096], *want = realpath(bin, NULL);
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, exe, sizeof exe - 1);
    int ran = want && n > 0 && (size_t)n == strlen(want) && memcmp(exe, want, (size_t)n) == 0;
    free(want);
    if (!ran) return;
    double rss = proc_field(pid, "status", "VmRSS:"), hwm = proc_field(pid, "status", "VmHWM:");
    double rd = proc_field(pid, "io", "rchar:");
    if (rss < 0) return;
    double frac = rd > 0 && r->file_bytes > 0 ? rd / r->file_bytes : 0, mb = rss / 1024.0;
    int q = frac >= 1 ? 4 : (int)(frac * 4);
    double *slot = q == 4 ? &r->end : &r->q[q];
    if (mb > *slot) *slot = mb;
    if (hwm / 1024.0 > r->hwm) r->hwm = hwm / 1024.0;
    r->n++;
    if (r->out) fprintf(r->out, "%.1f %.1f %.1f %.3f\n", t, mb, hwm / 1024.0, frac > 1 ? 1 : frac);
}

/* runs `bin ledger verify file --log-key key`, sampling its memory every second; 0 when it says
 * valid */
static int verify_child(const char *bin, const char *file, const char *key, const char *threads,
                        struct rusage *ru, double *wall, rss_stats_t *rs) {
    double t0 = now_s();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (threads)
            execl(bin, bin, "ledger", "verify", file, "--log-key", key, "--threads", threads,
                  (char *)NULL);
        else
            execl(bin, bin, "ledger", "verify", file, "--log-key", key, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    pid_t w = 0;
    for (int tick = 0; pid > 0 && (w = wait4(pid, &st, WNOHANG, ru)) == 0; tick++) {
        if (tick % 10 == 0) rss_sample(pid, bin, now_s() - t0, rs);
        usleep(100000);
    }
    if (pid < 0 || w != pid) return -1;
    *wall = now_s() - t0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static double tv(struct timeval t) {
    return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s BLOCKS TXS [FILE [BIN [THREADS [SAMPLES]]]]\n", argv[0]);
        return 2;
    }
    long nblocks = atol(argv[1]), ntx = atol(argv[2]);
    const char *file = argc > 3 ? argv[3] : "/tmp/bench-ledger-verify.ndjson";
    const char *bin = argc > 4 ? argv[4] : "build/reciprocal";
    if (sodium_init() < 0 || nblocks < 1 || ntx < 1 || ntx > LEDGER_MAX_BLOCK_TXS) return 2;
    err_t e = {0};
    chain_t c = {.versions = ledger_kvmap_new(), .seen = ledger_kvmap_new()};
    merkle_range_init(&c.range);
    uint8_t log_pk[32], log_sk[64], pk[2][32], sk[2][64];
    char key[65];
    crypto_sign_keypair(log_pk, log_sk);
    crypto_sign_keypair(pk[0], sk[0]); /* the network operator's admin key */
    crypto_sign_keypair(pk[1], sk[1]); /* the club's admin key */
    ledger_hex(log_pk, 32, key);
    c.f = fopen(file, "w");
    if (!c.f) return 2;
    if (checkpoint_signer_init(&c.log, ledger_origin(), log_sk, &e) != 0 ||
        ledger_export_write_header(c.f, ledger_origin(), key, &e) != 0)
        goto fail;
    double t0 = now_s();
    if (config_org(&c, LEDGER_NETWORK_ORG, pk[0], pk[0], sk, &e) != 0 ||
        config_org(&c, "club1", pk[1], pk[0], sk, &e) != 0)
        goto fail;
    uint8_t **env = calloc((size_t)ntx, sizeof *env);
    size_t *lens = calloc((size_t)ntx, sizeof *lens);
    /* the builder signed the data.put endorsements itself: validation need not check them again
     * (the verifier does) */
    uint64_t *sig_ok = calloc((size_t)ntx, sizeof *sig_ok);
    for (long i = 0; sig_ok && i < ntx; i++)
        sig_ok[i] = 3;
    char value[101];
    memset(value, 'v', 100);
    value[100] = 0;
    for (long b = 0; b < nblocks; b++) {
        for (long i = 0; i < ntx; i++) {
            char k[48];
            snprintf(k, sizeof k, "bench/%ld/%ld", b, i);
            json_t *spec = json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "type", "data.put", "creator",
                                     LEDGER_NETWORK_ORG, "writes", "key", k, "value", value);
            int rc = make_env(spec, pk[0], sk, 2, &env[i], &lens[i], &e);
            json_decref(spec);
            if (rc != 0) goto fail;
        }
        if (add_block(&c, env, lens, (size_t)ntx, sig_ok, &e) != 0) goto fail;
        for (long i = 0; i < ntx; i++)
            free(env[i]);
    }
    free(env);
    free(lens);
    free(sig_ok);
    if (fclose(c.f) != 0) goto fail;
    double t1 = now_s();
    struct stat sb;
    stat(file, &sb);
    struct rusage ru;
    double wall = 0;
    const char *threads = argc > 5 && atoi(argv[5]) > 0 ? argv[5] : NULL;
    rss_stats_t rs = {.file_bytes = (double)sb.st_size,
                      .out = argc > 6 ? fopen(argv[6], "w") : NULL};
    int rc = verify_child(bin, file, key, threads, &ru, &wall, &rs);
    if (rs.out) fclose(rs.out);
    if (rc != 0) {
        fprintf(stderr, "bench-ledger-verify: %s ledger verify %s failed\n", bin, file);
        return 1;
    }
    double txs = (double)(nblocks * ntx + 2), cpu = tv(ru.ru_utime) + tv(ru.ru_stime);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double la[1] = {0};
    getloadavg(la, 1);
    printf("ledger-verify-bench blocks=%ld txs=%.0f file_mb=%.1f build_s=%.1f wall_s=%.2f "
           "cpu_s=%.2f us_cpu_per_tx=%.1f tx_s=%.0f tx_s_per_core=%.0f maxrss_mb=%.1f cpus=%ld "
           "threads=%s load=%.1f rss_samples=%d rss_q1_mb=%.1f rss_q2_mb=%.1f rss_q3_mb=%.1f "
           "rss_q4_mb=%.1f rss_end_mb=%.1f hwm_mb=%.1f\n",
           nblocks + 2, txs, (double)sb.st_size / 1048576.0, t1 - t0, wall, cpu, cpu * 1e6 / txs,
           txs / wall, txs / cpu, (double)ru.ru_maxrss / 1024.0, ncpu, threads ? threads : "all",
           la[0], rs.n, rs.q[0], rs.q[1], rs.q[2], rs.q[3], rs.end, rs.hwm);
    checkpoint_signer_wipe(&c.log);
    ledger_config_free(&c.cfg);
    ledger_kvmap_free(c.versions);
    ledger_kvmap_free(c.seen);
    if (argc <= 3) remove(file);
    return 0;
fail:
    fprintf(stderr, "bench-ledger-verify: %s\n", e.message);
    return 1;
}
