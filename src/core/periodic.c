/* periodic: see periodic.h. */
#include "core/periodic.h"

#include <time.h>

#include "core/db.h"
#include "core/log.h"

/* Takes the job's advisory lock in a transaction of its own (*tx; NULL without a database):
 * 1 taken, 0 held by another process, -1 + err. */
static int take_lock(const periodic_t *j, const svc_env_t *env, db_tx_t **tx, err_t *e) {
    *tx = NULL;
    if (!env->db) return 1;
    db_scope_t scope = {.network_admin = 1};
    if (db_begin(env->db, &scope, tx, e) != 0) return -1;
    const char *p[] = {j->name};
    PGresult *r =
        db_exec(*tx, "SELECT pg_try_advisory_xact_lock(hashtext('periodic:' || $1))::int", 1, p, e);
    if (!r) {
        db_tx_rollback(tx);
        return -1;
    }
    int got = PQgetvalue(r, 0, 0)[0] == '1';
    PQclear(r);
    if (!got) db_tx_rollback(tx);
    return got;
}

int periodic_run_now(periodic_t *j, const svc_env_t *env, err_t *e) {
    db_tx_t *tx = NULL;
    int got = take_lock(j, env, &tx, e);
    if (got <= 0) return got;
    int rc = j->run(env, j->arg, e);
    db_tx_rollback(&tx); /* wrote nothing: ending it releases the lock */
    return rc == 0 ? 1 : -1;
}

static void *periodic_main(void *arg) {
    periodic_t *j = arg;
    pthread_mutex_lock(&j->mu);
    while (!j->stopping) {
        pthread_mutex_unlock(&j->mu);
        err_t e = {0};
        if (periodic_run_now(j, j->env, &e) < 0)
            log_warn("%s failed: %s (retried next period)", j->name, e.message);
        pthread_mutex_lock(&j->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += j->period_s;
        while (!j->stopping && pthread_cond_timedwait(&j->cond, &j->mu, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

int periodic_start(periodic_t *j, const svc_env_t *env, int period_s, err_t *e) {
    if (j->running) return 0;
    j->env = env;
    j->period_s = period_s > 0 ? period_s : 1;
    j->stopping = 0;
    if (pthread_create(&j->thread, NULL, periodic_main, j) != 0)
        return err_set(e, 500, "internal", "", "cannot start the %s thread", j->name);
    j->running = 1;
    return 0;
}

void periodic_stop(periodic_t *j) {
    if (!j->running) return;
    pthread_mutex_lock(&j->mu);
    j->stopping = 1;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    j->running = 0;
}
