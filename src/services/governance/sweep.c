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

/* The ledger records job: the sweep's last step alone, every RECIPROCAL_GOVERNANCE_LEDGER_SECONDS,
 * so votes reach the ledger within about a second of their cast, not at the next sweep. */
static int ledger_run(const svc_env_t *env, void *arg, err_t *e) {
    (void)arg;
    return periodic_call(env, "governance", "governance_ledger_pass", "governance-ledger", NULL,
                         NULL, e);
}

static periodic_t g_ledger_job = PERIODIC_INIT("governance.ledger", ledger_run, NULL);

int governance_sweep_start(const svc_env_t *env, err_t *e) {
    const governance_settings_t *s = governance_settings(env);
    if (!env->db) return 0;
    if (s->sweep_s > 0 && periodic_start(&g_job, env, s->sweep_s, e) != 0) return -1;
    return s->ledger_s > 0 ? periodic_start(&g_ledger_job, env, s->ledger_s, e) : 0;
}

void governance_sweep_stop(void) {
    periodic_stop(&g_ledger_job);
    periodic_stop(&g_job);
}
