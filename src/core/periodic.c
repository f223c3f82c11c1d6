/* periodic: see periodic.h. */
#include "core/periodic.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <time.h>

#include "core/db.h"
#include "core/log.h"

/* Runs `sql` ($1 = the lock key) on the lock connection: 1 when it answered true, 0 false, -1
 * + err (the connection is dropped, reopened next time). */
static int lock_query(periodic_t *j, const char *sql, err_t *e) {
    char key[160];
    snprintf(key, sizeof key, "periodic:%s", j->name);
    const char *p[] = {key};
    PGresult *r = PQexecParams(j->conn, sql, 1, NULL, p, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        rc = PQgetvalue(r, 0, 0)[0] == 't';
    else
        err_set(e, 503, "unavailable", "", "%s: its lock failed: %s", j->name,
                PQerrorMessage(j->conn));
    PQclear(r);
    if (rc < 0) {
        PQfinish(j->conn);
        j->conn = NULL;
    }
    return rc;
}

/* Takes the job's advisory lock: 1 taken (or no database: unlocked), 0 held by another
 * process, -1 + err. */
static int take_lock(periodic_t *j, const svc_env_t *env, err_t *e) {
    if (!env->db) return 1;
    if (!j->conn) {
        j->conn = db_pool_connect(env->db);
        if (!j->conn || PQstatus(j->conn) != CONNECTION_OK) {
            err_set(e, 503, "unavailable", "", "%s: cannot connect for its lock: %s", j->name,
                    j->conn ? PQerrorMessage(j->conn) : "out of memory");
            PQfinish(j->conn);
            j->conn = NULL;
            return -1;
        }
    }
    return lock_query(j, "SELECT pg_try_advisory_lock(hashtext($1))", e);
}

int periodic_run_now(periodic_t *j, const svc_env_t *env, err_t *e) {
    pthread_mutex_lock(&j->run_mu);
    int got = take_lock(j, env, e), rc = got;
    if (got > 0) {
        rc = j->run(env, j->arg, e) == 0 ? 1 : -1;
        err_t ignored = {0};
        if (j->conn) /* a failed unlock dropped the connection: the server released the lock */
            lock_query(j, "SELECT pg_advisory_unlock(hashtext($1))", &ignored);
    }
    pthread_mutex_unlock(&j->run_mu);
    return rc;
}

static void *periodic_main(void *arg) {
    periodic_t *j = arg;
    log_thread_name("p", j->name);
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

static void close_lock(periodic_t *j) {
    pthread_mutex_lock(&j->run_mu);
    if (j->conn) PQfinish(j->conn);
    j->conn = NULL;
    pthread_mutex_unlock(&j->run_mu);
}

void periodic_stop(periodic_t *j) {
    if (!j->running) {
        close_lock(j);
        return;
    }
    pthread_mutex_lock(&j->mu);
    j->stopping = 1;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    j->running = 0;
    close_lock(j);
}

int periodic_call(const svc_env_t *env, const char *service, const char *op, const char *request_id,
                  const char *as_of, json_t **out, err_t *e) {
    svc_caller_t system = {.network_admin = 1};
    snprintf(system.perms, sizeof system.perms, "*");
    snprintf(system.request_id, sizeof system.request_id, "%s", request_id);
    json_t *in = as_of ? json_pack("{s:s}", "as_of", as_of) : json_object(), *res = NULL;
    int status = 0;
    int rc = svc_call(env, service, op, &system, in, &status, &res, e);
    json_decref(in);
    if (rc == 0 && out)
        *out = res;
    else
        json_decref(res);
    return rc;
}
