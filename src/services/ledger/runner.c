/* runner: see runner.h. */
#include "services/ledger/runner.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/log.h"
#include "services/ledger/orderer.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t thread;
static int running;
static atomic_int stop_flag, active;
static atomic_ulong passes;
static db_pool_t *g_db;
static bus_t *g_bus;

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps up to ms, waking early when asked to stop. */
static void nap(int ms) {
    for (int i = 0; i < ms && !atomic_load(&stop_flag); i += 10) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void *run(void *arg) {
    (void)arg;
    log_thread_name("ledger", "runner");
    unsigned long long committed_seq = (unsigned long long)-1; /* unknown: commit once */
    int64_t last_warn = 0, last_metrics = 0;
    int backoff = 0;
    while (!atomic_load(&stop_flag)) {
        err_t e = {0};
        if (mono_ms() - last_metrics >= 5000) { /* the cutter consumer's state, for /metrics */
            err_t me = {0};
            if (ledger_cutter_metrics(g_bus, &me) != 0)
                log_debug("ledger: cutter consumer metrics: %s", me.message);
            last_metrics = mono_ms();
        }
        size_t n = 0;
        int nb = 0, fenced = 0;
        unsigned long long last = 0;
        /* idle: the fetch waits (server side) up to LEDGER_RUNNER_IDLE_MS for an envelope */
        int rc = ledger_cut_idle(g_bus, g_db, ledger_block_max_txs(), ledger_block_ms(),
                                 LEDGER_RUNNER_IDLE_MS, &n, &e);
        atomic_fetch_add(&passes, 1);
        if (rc != 0 && e.status == 409) { /* another cutter won: commit what it ordered */
            fenced = 1;
            err_clear(&e);
            rc = 0;
        }
        /* commit when this or another process ordered a block we have not committed yet. After
         * a pass that cut a block (or lost the race to another cutter's) the commit runs anyway,
         * up to the end of the stream, so the stream's last sequence is not asked: one JetStream
         * API request (stream info) fewer per block; the next idle pass asks it (committed_seq
         * unknown) and commits what another process may have cut meanwhile. */
        if (rc == 0 && (n > 0 || fenced)) {
            rc = ledger_pump_commit(g_db, g_bus, &nb, &e);
            if (rc == 0) committed_seq = (unsigned long long)-1;
        } else if (rc == 0) {
            rc = bus_js_last_seq(g_bus, LEDGER_BLOCK_STREAM, &last, &e);
            if (rc == 0 && last != committed_seq) {
                rc = ledger_pump_commit(g_db, g_bus, &nb, &e);
                if (rc == 0) committed_seq = last;
            }
        }
        if (rc != 0) {
            int64_t now = mono_ms();
            if (now - last_warn > 5000) {
                log_warn("ledger: background cutter/committer: %s (%s)", e.message, e.field);
                last_warn = now;
            }
            backoff = backoff ? (backoff * 2 > 2000 ? 2000 : backoff * 2) : 50;
            nap(backoff);
            continue;
        }
        backoff = 0;
        if (nb > 0) log_debug("ledger: runner committed %d block(s)", nb);
    }
    return NULL;
}

int ledger_runner_start(db_pool_t *db, bus_t *b, err_t *e) {
    pthread_mutex_lock(&mu);
    if (running) {
        pthread_mutex_unlock(&mu);
        return err_set(e, 409, "conflict", "", "the ledger runner is already running");
    }
    if (ledger_streams_ensure(b, e) != 0) {
        pthread_mutex_unlock(&mu);
        return -1;
    }
    g_db = db;
    g_bus = b;
    atomic_store(&stop_flag, 0);
    if (pthread_create(&thread, NULL, run, NULL) != 0) {
        pthread_mutex_unlock(&mu);
        return err_set(e, 500, "internal", "", "cannot start the ledger runner thread");
    }
    running = 1;
    atomic_store(&active, 1);
    pthread_mutex_unlock(&mu);
    log_info("ledger: background block cutter and committer running (max %d txs / %d ms)",
             ledger_block_max_txs(), ledger_block_ms());
    return 0;
}

void ledger_runner_stop(void) {
    pthread_mutex_lock(&mu);
    if (running) {
        atomic_store(&stop_flag, 1);
        pthread_join(thread, NULL);
        running = 0;
        atomic_store(&active, 0);
    }
    pthread_mutex_unlock(&mu);
}

int ledger_runner_active(void) {
    return atomic_load(&active);
}

unsigned long ledger_runner_passes(void) {
    return atomic_load(&passes);
}
