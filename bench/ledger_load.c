/* ledger_load: the `make bench` ledger row (Caliper style). Against a running `reciprocal serve`
 * (its background block cutter/committer does the ordering and commits), submits visit.verified
 * transactions with two endorsements and a ~100 B or 1 KB value at a fixed rate from
 * BENCH_LEDGER_THREADS (4) threads (ledger_submit with wait_ms = 0: decode, verify both
 * endorsements, JetStream publish), then waits for every commit and reads each block's commit time
 * from PostgreSQL. Usage: ledger_load RATE SECONDS VALUE_BYTES [blind|rmw]   (environment:
 * RECIPROCAL_DATABASE_URL, RECIPROCAL_NATS_URL, RECIPROCAL_LEDGER_KEK). blind: each tx writes a
 * fresh key. rmw (read-modify-write): the keys are first written (untimed), then each tx reads its
 * key at the committed version and writes it. Prints one line: ledger-bench mode=.. sent=N ok=N
 * failed=N tps=X lat_ms_min=.. avg=.. p50=.. p99=.. max=.. pg_fsync=.. pg_synchronous_commit=..
 * (the durability settings read from the PostgreSQL server under test). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "services/ledger/api.h"
#include "services/ledger/settings.h"

static db_pool_t *pool;
static bus_t *bus;
static int rate, seconds, vbytes, rmw, nthreads = 4;
static int64_t *versions; /* rmw: the version of each slot's key after the preload */
static char orgA[32], orgB[32];
static uint8_t skA[64], pkA[32], skB[64], pkB[32];

typedef struct sent {
    char id[65];
    double t; /* wall-clock ms at submit */
    int ok;
} sent_t;
static sent_t *sent;
static int n_sent_max;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *submitter(void *arg) {
    int tid = (int)(intptr_t)arg, per = rate / nthreads;
    char *val = malloc((size_t)vbytes + 1);
    memset(val, 'v', (size_t)vbytes);
    val[vbytes] = 0;
    double t0 = now_ms();
    for (int i = 0; i < per * seconds; i++) {
        double due = t0 + i * 1000.0 / per;
        double d = due - now_ms();
        if (d > 0) usleep((useconds_t)(d * 1000));
        int slot = tid * per * seconds + i;
        char key[96];
        snprintf(key, sizeof key, "bench/%d/%d/%d", (int)getpid(), tid, i);
        json_t *spec = json_pack("{s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s}]}", "type", "visit.verified",
                                 "creator", orgA, "payload", "host", orgA, "home", orgB, "writes",
                                 "key", key, "value", val);
        if (rmw)
            json_object_set_new(
                spec, "reads",
                json_pack("[{s:s,s:I}]", "key", key, "version", (json_int_t)versions[slot]));
        uint8_t *tx = NULL, id[32];
        size_t len = 0;
        err_t e = {0};
        json_t *st = NULL;
        if (ledger_build_tx(spec, pkA, &tx, &len, id, &e) == 0) {
            ledger_endorsement_t en[2];
            ledger_endorse(tx, len, skA, &en[0]);
            ledger_endorse(tx, len, skB, &en[1]);
            sent[slot].t = now_ms();
            if (ledger_submit(pool, bus, tx, len, en, 2, 0, &st, &e) == 0) sent[slot].ok = 1;
            ledger_hex(id, 32, sent[slot].id);
        }
        json_decref(st);
        json_decref(spec);
        free(tx);
    }
    free(val);
    return NULL;
}

/* rmw: writes every key once (fast, untimed) and records its committed version */
static int preload(int n, err_t *e) {
    const int batch = 500;
    uint8_t(*ids)[32] = calloc((size_t)n, 32);
    if (!ids) return -1;
    for (int slot = 0; slot < n; slot++) {
        int per = rate / nthreads, tid = slot / (per * seconds), i = slot % (per * seconds);
        char key[96];
        snprintf(key, sizeof key, "bench/%d/%d/%d", (int)getpid(), tid, i);
        json_t *spec = json_pack("{s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s}]}", "type", "visit.verified",
                                 "creator", orgA, "payload", "host", orgA, "home", orgB, "writes",
                                 "key", key, "value", "0");
        uint8_t *tx = NULL;
        size_t len = 0;
        json_t *st = NULL;
        int rc = ledger_build_tx(spec, pkA, &tx, &len, ids[slot], e);
        json_decref(spec);
        if (rc == 0) {
            ledger_endorsement_t en[2];
            ledger_endorse(tx, len, skA, &en[0]);
            ledger_endorse(tx, len, skB, &en[1]);
            rc = ledger_submit(pool, bus, tx, len, en, 2,
                               (slot % batch == batch - 1 || slot == n - 1) ? 30000 : 0, &st, e);
        }
        json_decref(st);
        free(tx);
        if (rc != 0) {
            free(ids);
            return -1;
        }
    }
    int left = n;
    for (int tries = 0; tries < 600 && left > 0; tries++) {
        left = 0;
        db_tx_t *tx = NULL;
        if (db_begin(pool, &(db_scope_t){0}, &tx, e) != 0) break;
        for (int i = 0; i < n; i++) {
            if (versions[i]) continue;
            char id[65];
            ledger_hex(ids[i], 32, id);
            const char *p[] = {id};
            PGresult *r = db_exec(tx,
                                  "SELECT block_number::bigint * 16777216 + position + 1 AS v "
                                  "FROM ledger.txs WHERE tx_id = decode($1, 'hex') AND "
                                  "validation_code = 0",
                                  1, p, e);
            if (r && PQntuples(r) == 1)
                versions[i] = strtoll(db_val(r, 0, "v"), NULL, 10);
            else
                left++;
            PQclear(r);
        }
        db_rollback(tx);
        if (left) usleep(100000);
    }
    free(ids);
    return left == 0 ? 0 : err_set(e, 500, "internal", "", "preload: %d keys not committed", left);
}

static void pg_setting(const char *name, char *out, size_t cap) {
    db_tx_t *tx = NULL;
    err_t e = {0};
    snprintf(out, cap, "?");
    if (db_begin(pool, &(db_scope_t){0}, &tx, &e) != 0) return;
    const char *p[] = {name};
    PGresult *r = db_exec(tx, "SELECT current_setting($1) AS v", 1, p, &e);
    if (r && PQntuples(r) == 1) snprintf(out, cap, "%s", db_val(r, 0, "v"));
    PQclear(r);
    db_rollback(tx);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: ledger_load RATE SECONDS VALUE_BYTES [blind|rmw]\n");
        return 2;
    }
    rmw = argc == 5 && strcmp(argv[4], "rmw") == 0;
    rate = atoi(argv[1]);
    seconds = atoi(argv[2]);
    vbytes = atoi(argv[3]);
    if (rate < 2 || seconds < 1 || vbytes < 1 || vbytes > 65536) return 2;
    log_init(LOG_WARN, 0, "ledger_load");
    cfg_t cfg;
    ledger_settings_t ls;
    err_t e = {0};
    if (cfg_load(&cfg, NULL, &e) != 0 || ledger_settings_load(&ls, NULL, &e) != 0) {
        fprintf(stderr, "ledger_load: %s\n", e.message);
        return 1;
    }
    ledger_configure(&ls);
    pool = db_pool_open(cfg.database_url, 4, &e);
    bus = pool ? bus_connect_auth(cfg.nats_url, "ledger_load", cfg.nats_user, cfg.nats_password, &e)
               : NULL;
    if (!bus || ledger_bootstrap(pool, bus, &e) != 0) {
        fprintf(stderr, "ledger_load: setup: %s\n", e.message);
        return 1;
    }
    snprintf(orgA, sizeof orgA, "benchA%d", (int)getpid());
    snprintf(orgB, sizeof orgB, "benchB%d", (int)getpid());
    const char *orgs[] = {orgA, orgB};
    for (int i = 0; i < 2; i++) {
        json_t *st = NULL;
        if (ledger_register_org(pool, bus, orgs[i], NULL, "bench", 30000, &st, &e) != 0) {
            fprintf(stderr, "ledger_load: register %s: %s\n", orgs[i], e.message);
            return 1;
        }
        json_decref(st);
    }
    if (ledger_org_key(pool, orgA, "member", skA, pkA, &e) != 0 ||
        ledger_org_key(pool, orgB, "member", skB, pkB, &e) != 0) {
        fprintf(stderr, "ledger_load: keys: %s\n", e.message);
        return 1;
    }
    const char *nt = getenv("BENCH_LEDGER_THREADS");
    if (nt && atoi(nt) >= 1 && atoi(nt) <= 64) nthreads = atoi(nt);
    if (rate < nthreads) nthreads = rate;
    n_sent_max = (rate / nthreads) * nthreads * seconds;
    sent = calloc((size_t)n_sent_max, sizeof *sent);
    versions = calloc((size_t)n_sent_max, sizeof *versions);
    if (rmw && preload(n_sent_max, &e) != 0) {
        fprintf(stderr, "ledger_load: preload: %s\n", e.message);
        return 1;
    }
    pthread_t th[64];
    double start = now_ms();
    for (int t = 0; t < nthreads; t++)
        pthread_create(&th[t], NULL, submitter, (void *)(intptr_t)t);
    for (int t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
    /* wait for the commits (up to 60 s), then read commit times */
    int ok = 0, failed = 0, committed = 0, valid = 0;
    for (int i = 0; i < n_sent_max; i++)
        ok += sent[i].ok;
    double *lat = calloc((size_t)n_sent_max, sizeof *lat);
    double last_commit = start;
    for (int tries = 0; tries < 600 && committed < ok; tries++) {
        committed = valid = 0;
        db_tx_t *tx = NULL;
        if (db_begin(pool, &(db_scope_t){0}, &tx, &e) != 0) break;
        for (int i = 0; i < n_sent_max; i++) {
            if (!sent[i].ok) continue;
            const char *p[] = {sent[i].id};
            PGresult *r = db_exec(tx,
                                  "SELECT extract(epoch FROM b.committed_at) * 1000 AS t, "
                                  "t.validation_code AS c FROM ledger.txs t JOIN ledger.blocks b "
                                  "ON b.number = t.block_number WHERE t.tx_id = decode($1, "
                                  "'hex') ORDER BY (t.validation_code = 9), t.block_number "
                                  "LIMIT 1",
                                  1, p, &e);
            if (r && PQntuples(r) == 1) {
                double t = atof(db_val(r, 0, "t"));
                lat[committed++] = t - sent[i].t;
                if (t > last_commit) last_commit = t;
                valid += atoi(db_val(r, 0, "c")) == 0;
            }
            PQclear(r);
        }
        db_rollback(tx);
        if (committed < ok) usleep(100000);
    }
    failed = n_sent_max - valid;
    double last_sent = start;
    for (int i = 0; i < n_sent_max; i++)
        if (sent[i].t > last_sent) last_sent = sent[i].t;
    qsort(lat, (size_t)committed, sizeof *lat, cmp_d);
    double sum = 0;
    for (int i = 0; i < committed; i++)
        sum += lat[i];
    double secs = (last_commit - start) / 1e3;
    char fs[32], sc[32];
    pg_setting("fsync", fs, sizeof fs);
    pg_setting("synchronous_commit", sc, sizeof sc);
    printf("ledger-bench mode=%s rate=%d value=%dB sent=%d ok=%d failed=%d tps=%.0f "
           "lat_ms_min=%.1f avg=%.1f p50=%.1f p99=%.1f max=%.1f pg_fsync=%s "
           "pg_synchronous_commit=%s send_tps=%.0f\n",
           rmw ? "rmw" : "blind", rate, vbytes, n_sent_max, valid, failed,
           secs > 0 ? valid / secs : 0, committed ? lat[0] : 0, committed ? sum / committed : 0,
           committed ? lat[committed / 2] : 0,
           committed
               ? lat[(int)(committed * 0.99) < committed ? (int)(committed * 0.99) : committed - 1]
               : 0,
           committed ? lat[committed - 1] : 0, fs, sc,
           last_sent > start ? n_sent_max / ((last_sent - start) / 1e3) : 0);
    free(lat);
    free(versions);
    free(sent);
    bus_close(bus);
    db_pool_close(pool);
    bus_shutdown_library();
    return failed == 0 ? 0 : 1;
}
