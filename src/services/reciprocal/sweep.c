/* sweep: see sweep.h. */
#include "services/reciprocal/sweep.h"

#include <stdio.h>

#include "core/log.h"
#include "core/periodic.h"
#include "services/reciprocal/statements.h"

int reciprocal_sweep_once(const svc_env_t *env, const char *as_of, json_t **out, err_t *e) {
    return periodic_call(env, "reciprocal", "agreement_sweep", "agreement-sweep", as_of, out, e);
}

int reciprocal_visit_sweep_once(const svc_env_t *env, const char *as_of, json_t **out, err_t *e) {
    return periodic_call(env, "reciprocal", "visit_sweep", "visit-sweep", as_of, out, e);
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

/* the monthly statements (issue 12): drafted on the 1st, issued by the 5th, ledger records */
static int statements_run(const svc_env_t *env, void *arg, err_t *e) {
    (void)arg;
    return stmt_sweep_once(env, e);
}

static periodic_t g_statements = PERIODIC_INIT("reciprocal.statements", statements_run, NULL);

int reciprocal_sweep_start(const svc_env_t *env, err_t *e) {
    if (!env->db) return 0;
    if (periodic_start(&g_job, env, RECIPROCAL_SWEEP_PERIOD_S, e) != 0) return -1;
    return periodic_start(&g_statements, env, RECIPROCAL_SWEEP_PERIOD_S, e);
}

void reciprocal_sweep_stop(void) {
    periodic_stop(&g_statements);
    periodic_stop(&g_job);
}
