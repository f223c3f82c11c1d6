/* member_sweep: see member_sweep.h. */
#include "services/member/member_sweep.h"

#include <stdio.h>

#include "core/log.h"
#include "core/periodic.h"
#include "services/member/member.h"

int member_sweep_once(const svc_env_t *env, long long *lapsed, err_t *e) {
    json_t *out = NULL;
    int rc = periodic_call(env, "member", "lapse_sweep", "lapse-sweep", NULL, &out, e);
    if (rc == 0 && lapsed) *lapsed = json_integer_value(json_object_get(out, "lapsed"));
    json_decref(out);
    return rc;
}

static int sweep_run(const svc_env_t *env, void *arg, err_t *e) {
    (void)arg;
    long long n = 0;
    if (member_sweep_once(env, &n, e) != 0) return -1;
    if (n > 0) log_info("lapse sweep: %lld member(s) lapsed", n);
    return 0;
}

static periodic_t g_job = PERIODIC_INIT("member.lapse_sweep", sweep_run, NULL);

int member_sweep_start(const svc_env_t *env, err_t *e) {
    if (!env->cfg || member_settings(env)->sweep_s <= 0 || !env->db) return 0;
    return periodic_start(&g_job, env, member_settings(env)->sweep_s, e);
}

void member_sweep_stop(void) {
    periodic_stop(&g_job);
}
