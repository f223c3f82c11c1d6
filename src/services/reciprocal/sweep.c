/* sweep: see sweep.h. */
#include "services/reciprocal/sweep.h"

#include <stdio.h>

#include "core/log.h"
#include "core/periodic.h"

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

int reciprocal_visit_sweep_once(const svc_env_t *env, const char *as_of, json_t **out, err_t *e) {
    svc_caller_t system = {.network_admin = 1};
    snprintf(system.perms, sizeof system.perms, "*");
    snprintf(system.request_id, sizeof system.request_id, "visit-sweep");
    json_t *in = as_of ? json_pack("{s:s}", "as_of", as_of) : json_object(), *res = NULL;
    int status = 0;
    int rc = svc_call(env, "reciprocal", "visit_sweep", &system, in, &status, &res, e);
    json_decref(in);
    if (rc == 0 && out)
        *out = res;
    else
        json_decref(res);
    return rc;
}

static long long count(const json_t *res, const char *k) {
    return (long long)json_integer_value(json_object_get(res, k));
}

static int sweep_run(const svc_env_t *env, void *arg, err_t *e) {
    (void)arg;
    json_t *res = NULL;
    if (reciprocal_sweep_once(env, NULL, &res, e) != 0) return -1;
    if (count(res, "activated") + count(res, "terminated") + count(res, "expired") > 0)
        log_info("agreement sweep: %lld activated, %lld terminated, %lld expired",
                 count(res, "activated"), count(res, "terminated"), count(res, "expired"));
    json_decref(res);
    res = NULL;
    if (reciprocal_visit_sweep_once(env, NULL, &res, e) != 0) return -1;
    if (count(res, "expired") + count(res, "no_show") > 0)
        log_info("visit sweep: %lld expired, %lld no-show", count(res, "expired"),
                 count(res, "no_show"));
    json_decref(res);
    return 0;
}

static periodic_t g_job = PERIODIC_INIT("reciprocal.sweep", sweep_run, NULL);

int reciprocal_sweep_start(const svc_env_t *env, err_t *e) {
    if (!env->db) return 0;
    return periodic_start(&g_job, env, RECIPROCAL_SWEEP_PERIOD_S, e);
}

void reciprocal_sweep_stop(void) {
    periodic_stop(&g_job);
}
