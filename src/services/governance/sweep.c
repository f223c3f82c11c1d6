/* sweep: see sweep.h. */
#include "services/governance/sweep.h"

#include <stdio.h>

#include "core/log.h"
#include "core/periodic.h"
#include "services/governance/governance.h"

int governance_sweep_once(const svc_env_t *env, const char *as_of, json_t **out, err_t *e) {
    return periodic_call(env, "governance", "governance_sweep", "governance-sweep", as_of, out, e);
}

static long long count(const json_t *res, const char *k) {
    return (long long)json_integer_value(json_object_get(res, k));
}

static int sweep_run(const svc_env_t *env, void *arg, err_t *e) {
    (void)arg;
    json_t *res = NULL;
    if (governance_sweep_once(env, NULL, &res, e) != 0) return -1;
    if (count(res, "opened") + count(res, "defeated") + count(res, "queued") +
            count(res, "executed") + count(res, "execution_failed") + count(res, "expired") >
        0)
        log_info("governance sweep: %lld opened, %lld defeated, %lld queued, %lld executed, "
                 "%lld failed, %lld expired",
                 count(res, "opened"), count(res, "defeated"), count(res, "queued"),
                 count(res, "executed"), count(res, "execution_failed"), count(res, "expired"));
    json_decref(res);
    return 0;
}

static periodic_t g_job = PERIODIC_INIT("governance.sweep", sweep_run, NULL);

int governance_sweep_start(const svc_env_t *env, err_t *e) {
    int period = governance_settings(env)->sweep_s;
    if (!env->db || period <= 0) return 0;
    return periodic_start(&g_job, env, period, e);
}

void governance_sweep_stop(void) {
    periodic_stop(&g_job);
}
