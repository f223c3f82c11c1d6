/* periodic: a service module's scheduled work, one job on one background thread (the member
 * lapse sweep, the reciprocal agreement and visit sweeps). The job runs at start, then every
 * period_s seconds until periodic_stop, which wakes the thread and joins it (a run in progress
 * finishes first). Several processes may run the same job: each run first takes the session
 * advisory lock pg_try_advisory_lock(hashtext('periodic:' || name)) on a connection of the job's
 * own (RECIPROCAL_DATABASE_URL, opened on first use, reopened after a failure; not a pooled one,
 * so a pool of one connection still serves the job and the requests) and releases it after the
 * run; a process that does not get it skips that turn (the holder is doing the work). Jobs
 * select what is due by time, never by "what changed since last run", so a run skipped, a
 * restart or an outage loses nothing: the next run catches up. Without a database (env->db or
 * env->cfg NULL) the job runs unlocked.
 *
 * Owns its thread and its lock connection (closed by periodic_stop); the periodic_t is the
 * caller's (usually a static of the module) and must outlive periodic_stop. Runs of one
 * periodic_t (its thread, periodic_run_now) never overlap. */
#ifndef CORE_PERIODIC_H
#define CORE_PERIODIC_H

#include <pthread.h>

#include "core/err.h"
#include "core/service.h"

/* One run of the job: 0, or -1 + err (logged as a warning; retried next period). */
typedef int (*periodic_fn)(const svc_env_t *env, void *arg, err_t *e);

typedef struct periodic {
    /* The caller's, set before periodic_start (PERIODIC_INIT): */
    const char *name; /* [a-z._]+: the logs and the advisory lock key */
    periodic_fn run;
    void *arg;
    /* periodic's own: */
    const svc_env_t *env;
    int period_s, running, stopping;
    pthread_t thread;
    pthread_mutex_t mu;     /* running, stopping, the wait */
    pthread_mutex_t run_mu; /* one run at a time; guards conn */
    pthread_cond_t cond;
    struct pg_conn *conn; /* the lock's connection (libpq PGconn), NULL until first used */
} periodic_t;

#define PERIODIC_INIT(name_, run_, arg_)                                                           \
    {                                                                                              \
        .name = (name_), .run = (run_), .arg = (arg_), .mu = PTHREAD_MUTEX_INITIALIZER,            \
        .run_mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER                      \
    }

/* Starts the thread: the first run now, then every period_s (>= 1) seconds. A second start
 * while running is a no-op. 0 or -1 + 500 internal. */
int periodic_start(periodic_t *j, const svc_env_t *env, int period_s, err_t *e);
/* Stops and joins the thread and closes the lock connection; safe when not started, and more
 * than once. Call it after periodic_run_now too. */
void periodic_stop(periodic_t *j);
/* One run now in the caller's thread, under the same lock (tests, an operator's "run now"):
 * 1 ran, 0 skipped (another process holds the lock), -1 + err (the lock's or the job's). */
int periodic_run_now(periodic_t *j, const svc_env_t *env, err_t *e);
/* A scheduled job's call of one of its service's operations as the system: a network-admin
 * caller holding every permission, request id `request_id`, input {"as_of": as_of} when as_of
 * is set (the injectable clock), else {}. *out (may be NULL: the answer is dropped) receives the
 * answer, the caller's to json_decref. 0 or -1 + err (svc_call's). */
int periodic_call(const svc_env_t *env, const char *service, const char *op, const char *request_id,
                  const char *as_of, json_t **out, err_t *e);

#endif
