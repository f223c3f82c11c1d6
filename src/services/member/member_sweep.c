/* member_sweep: see member_sweep.h. */
#include "services/member/member_sweep.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "core/log.h"
#include "services/member/member.h"

static pthread_t g_thread;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_running, g_stopping;
static const svc_env_t *g_env;

int member_sweep_once(const svc_env_t *env, long long *lapsed, err_t *e) {
    svc_caller_t system = {.network_admin = 1};
    snprintf(system.perms, sizeof system.perms, "*");
    snprintf(system.request_id, sizeof system.request_id, "lapse-sweep");
    json_t *in = json_object(), *out = NULL;
    int status = 0;
    int rc = svc_call(env, "member", "lapse_sweep", &system, in, &status, &out, e);
    json_decref(in);
    if (rc == 0 && lapsed) *lapsed = json_integer_value(json_object_get(out, "lapsed"));
    json_decref(out);
    return rc;
}

static void *sweep_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g_mu);
    while (!g_stopping) {
        pthread_mutex_unlock(&g_mu);
        long long n = 0;
        err_t e = {0};
        if (member_sweep_once(g_env, &n, &e) != 0)
            log_warn("lapse sweep failed: %s (retried next period)", e.message);
        else if (n > 0)
            log_info("lapse sweep: %lld member(s) lapsed", n);
        pthread_mutex_lock(&g_mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += member_settings(g_env)->sweep_s;
        while (!g_stopping && pthread_cond_timedwait(&g_cond, &g_mu, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

int member_sweep_start(const svc_env_t *env, err_t *e) {
    if (!env->cfg || member_settings(env)->sweep_s <= 0 || !env->db) return 0;
    g_env = env;
    g_stopping = 0;
    if (pthread_create(&g_thread, NULL, sweep_main, NULL) != 0)
        return err_set(e, 500, "internal", "", "cannot start the lapse-sweep thread");
    g_running = 1;
    return 0;
}

void member_sweep_stop(void) {
    if (!g_running) return;
    pthread_mutex_lock(&g_mu);
    g_stopping = 1;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_mu);
    pthread_join(g_thread, NULL);
    g_running = 0;
}
