/* sweep: see sweep.h. */
#include "services/reciprocal/sweep.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "core/log.h"
#include "services/reciprocal/statements.h"

static pthread_t g_thread;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_running, g_stopping;
static const svc_env_t *g_env;

int reciprocal_sweep_once(const svc_env_t *env, const char *as_of, json_t **out, err_t *e) {
    svc_caller_t system = {.network_admin = 1};
    snprintf(system.perms, sizeof system.perms, "*");
    snprintf(system.request_id, sizeof system.request_id, "agreement-sweep");
    json_t *in = as_of ? json_pack("{s:s}", "as_of", as_of) : json_object(), *res = NULL;
    int status = 0;
    int rc = svc_call(env, "reciprocal", "agreement_sweep", &system, in, &status, &res, e);
    json_decref(in);
    if (rc == 0 && out)
        *out = res;
    else
        json_decref(res);
    return rc;
}

static void *sweep_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g_mu);
    while (!g_stopping) {
        pthread_mutex_unlock(&g_mu);
        json_t *res = NULL;
        err_t e = {0};
        if (reciprocal_sweep_once(g_env, NULL, &res, &e) != 0)
            log_warn("agreement sweep failed: %s (retried next period)", e.message);
        else if (json_integer_value(json_object_get(res, "activated")) +
                     json_integer_value(json_object_get(res, "terminated")) +
                     json_integer_value(json_object_get(res, "expired")) >
                 0)
            log_info("agreement sweep: %lld activated, %lld terminated, %lld expired",
                     (long long)json_integer_value(json_object_get(res, "activated")),
                     (long long)json_integer_value(json_object_get(res, "terminated")),
                     (long long)json_integer_value(json_object_get(res, "expired")));
        json_decref(res);
        if (stmt_sweep_once(g_env, &e) != 0) log_warn("statement sweep failed: %s", e.message);
        pthread_mutex_lock(&g_mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += RECIPROCAL_SWEEP_PERIOD_S;
        while (!g_stopping && pthread_cond_timedwait(&g_cond, &g_mu, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

int reciprocal_sweep_start(const svc_env_t *env, err_t *e) {
    if (!env->db) return 0;
    g_env = env;
    g_stopping = 0;
    if (pthread_create(&g_thread, NULL, sweep_main, NULL) != 0)
        return err_set(e, 500, "internal", "", "cannot start the agreement-sweep thread");
    g_running = 1;
    return 0;
}

void reciprocal_sweep_stop(void) {
    if (!g_running) return;
    pthread_mutex_lock(&g_mu);
    g_stopping = 1;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_mu);
    pthread_join(g_thread, NULL);
    g_running = 0;
}
