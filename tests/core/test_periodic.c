/* test_periodic: core/periodic against the test PostgreSQL: the thread runs the job at start and
 * every period, stops cleanly (joined, also when never started and twice), run-now runs in the
 * caller's thread, a job's failure does not stop the thread, and two runners of one job name
 * exclude each other through the advisory lock (one holds it: the other skips its turn), the lock
 * is not taken from the pool (a pool of one connection serves the job); without a database the
 * job runs unlocked. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "core/periodic.h"
#include "test.h"

typedef struct counter {
    atomic_int runs;
    int fail;
    periodic_t *other; /* run this one now from inside the job (lock exclusion) */
    int other_rc;
} counter_t;

static int count_run(const svc_env_t *env, void *arg, err_t *e) {
    counter_t *c = arg;
    atomic_fetch_add(&c->runs, 1);
    if (c->other) c->other_rc = periodic_run_now(c->other, env, e);
    if (c->fail) return err_set(e, 500, "internal", "", "job failed on purpose");
    return 0;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static db_pool_t *g_db;
static cfg_t g_cfg; /* database_url: the lock's connection */

static void test_thread(void) {
    counter_t c = {0};
    periodic_t j = PERIODIC_INIT("test.thread", count_run, &c);
    svc_env_t env = {.db = g_db, .cfg = &g_cfg};
    err_t e = {0};
    periodic_stop(&j); /* never started: a no-op */
    REQUIRE(periodic_start(&j, &env, 1, &e) == 0);
    CHECK(periodic_start(&j, &env, 1, &e) == 0); /* already running: no second thread */
    for (int i = 0; i < 50 && atomic_load(&c.runs) < 2; i++)
        sleep_ms(100);
    CHECK(atomic_load(&c.runs) >= 2); /* at start, then after a period */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    periodic_stop(&j);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(t1.tv_sec - t0.tv_sec < 2); /* woken, not waiting out the period */
    int after = atomic_load(&c.runs);
    sleep_ms(1200);
    CHECK_EQ_INT(atomic_load(&c.runs), after); /* stopped means stopped */
    periodic_stop(&j);                         /* twice: a no-op */
}

static void test_failure_keeps_running(void) {
    counter_t c = {.fail = 1};
    periodic_t j = PERIODIC_INIT("test.failing", count_run, &c);
    svc_env_t env = {.db = g_db, .cfg = &g_cfg};
    err_t e = {0};
    REQUIRE(periodic_start(&j, &env, 1, &e) == 0);
    for (int i = 0; i < 50 && atomic_load(&c.runs) < 2; i++)
        sleep_ms(100);
    periodic_stop(&j);
    CHECK(atomic_load(&c.runs) >= 2);
    CHECK_EQ_INT(periodic_run_now(&j, &env, &e), -1);
    CHECK_STR(e.message, "job failed on purpose");
    periodic_stop(&j);
}

static void test_lock(void) {
    /* the outer run holds periodic:test.lock; a second runner of the same name skips, one of
     * another name runs */
    counter_t inner = {0}, other = {0}, outer = {0};
    periodic_t same = PERIODIC_INIT("test.lock", count_run, &inner);
    periodic_t diff = PERIODIC_INIT("test.lock2", count_run, &other);
    periodic_t j = PERIODIC_INIT("test.lock", count_run, &outer);
    svc_env_t env = {.db = g_db, .cfg = &g_cfg};
    err_t e = {0};
    outer.other = &same;
    CHECK_EQ_INT(periodic_run_now(&j, &env, &e), 1);
    CHECK_EQ_INT(outer.other_rc, 0);
    CHECK_EQ_INT(atomic_load(&inner.runs), 0);
    outer.other = &diff;
    CHECK_EQ_INT(periodic_run_now(&j, &env, &e), 1);
    CHECK_EQ_INT(outer.other_rc, 1);
    CHECK_EQ_INT(atomic_load(&other.runs), 1);
    /* released after the run: the same name runs again */
    CHECK_EQ_INT(periodic_run_now(&same, &env, &e), 1);
    CHECK_EQ_INT(atomic_load(&inner.runs), 1);
    periodic_stop(&same); /* closes the lock connections */
    periodic_stop(&diff);
    periodic_stop(&j);
}

/* The job uses the database through a pool of ONE connection: the lock is not taken from the
 * pool, so the job gets the connection at once (it waited 5 s for it and failed 503 when the
 * lock held a pooled connection). */
static int pool_run(const svc_env_t *env, void *arg, err_t *e) {
    (void)arg;
    db_scope_t scope = {.network_admin = 1};
    db_tx_t *tx = NULL;
    if (db_begin(env->db, &scope, &tx, e) != 0) return -1;
    db_rollback(tx);
    return 0;
}

static void test_pool_of_one(void) {
    err_t e = {0};
    db_pool_t *one = db_pool_open(g_cfg.database_url, 1, &e);
    REQUIRE(one != NULL);
    db_pool_set_wait_ms(one, 500);
    periodic_t j = PERIODIC_INIT("test.pool", pool_run, NULL);
    svc_env_t env = {.db = one, .cfg = &g_cfg};
    CHECK_EQ_INT(periodic_run_now(&j, &env, &e), 1);
    periodic_stop(&j);
    db_pool_close(one);
}

static void test_no_database(void) {
    counter_t c = {0};
    periodic_t j = PERIODIC_INIT("test.nodb", count_run, &c);
    svc_env_t env = {0};
    err_t e = {0};
    CHECK_EQ_INT(periodic_run_now(&j, &env, &e), 1);
    CHECK_EQ_INT(atomic_load(&c.runs), 1);
}

int main(void) {
    const char *url = TEST_ENV("RECIPROCAL_TEST_DATABASE_URL");
    err_t e = {0};
    if (url) snprintf(g_cfg.database_url, sizeof g_cfg.database_url, "%s", url);
    if (!url || !(g_db = db_pool_open(url, 4, &e))) {
        printf("not ok 1 - environment (run through tests/run.sh): %s\n", e.message);
        return 1;
    }
    RUN(test_thread);
    RUN(test_failure_keeps_running);
    RUN(test_lock);
    RUN(test_pool_of_one);
    RUN(test_no_database);
    db_pool_close(g_db);
    TEST_DONE();
}
