/* service_config: the modules' own RECIPROCAL_* variables (svc_module_t.config), see
 * service.h. Owns one process-wide defaults value (svc_settings with no environment, loaded
 * once) for callers that pass no settings; everything else lives in the caller's
 * svc_settings_t. */
#include <pthread.h>
#include <stdalign.h>
#include <string.h>

#include "core/log.h"
#include "core/service.h"

static int module_index(const svc_module_t *m) {
    for (int i = 0; svc_registry[i] && i < SVC_MAX_MODULES; i++)
        if (svc_registry[i] == m) return i;
    return -1;
}

static const char *no_env(const char *name) {
    (void)name;
    return NULL;
}

int svc_settings_load(svc_settings_t *s, cfg_getenv_fn get, err_t *e) {
    memset(s, 0, sizeof *s);
    size_t used = 0;
    for (int i = 0; svc_registry[i]; i++) {
        const svc_module_t *m = svc_registry[i];
        if (i == SVC_MAX_MODULES)
            return err_set(e, 500, "internal", "", "more than %d modules", SVC_MAX_MODULES);
        if (!m->config.size) continue;
        used = (used + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t);
        if (used + m->config.size > sizeof s->area)
            return err_set(e, 500, "internal", "", "module settings exceed %d bytes",
                           SVC_SETTINGS_BYTES);
        s->at[i] = used;
        if (cfg_vars_load(m->config.vars, m->config.n_vars, s->area + used, get, e) != 0) return -1;
        used += m->config.size;
    }
    return 0;
}

static svc_settings_t g_defaults;
static pthread_once_t g_defaults_once = PTHREAD_ONCE_INIT;

static void load_defaults(void) {
    err_t e = {0};
    if (svc_settings_load(&g_defaults, no_env, &e) != 0) /* a bug in a module's table */
        log_error("module settings: %s (%s)", e.message, e.field);
}

void *svc_settings_edit(svc_settings_t *s, const svc_module_t *m) {
    int i = module_index(m);
    if (i < 0 || !m->config.size) return NULL;
    return s->area + s->at[i];
}

const void *svc_settings(const svc_env_t *env, const svc_module_t *m) {
    const svc_settings_t *s = env ? env->settings : NULL;
    if (!s) {
        pthread_once(&g_defaults_once, load_defaults);
        s = &g_defaults;
    }
    return svc_settings_edit((svc_settings_t *)s, m);
}

int svc_settings_require(const svc_settings_t *s, const cfg_t *cfg, err_t *e) {
    for (int i = 0; svc_registry[i] && i < SVC_MAX_MODULES; i++) {
        const svc_module_t *m = svc_registry[i];
        if (!m->config.size || !cfg_service_enabled(cfg, m->name)) continue;
        if (cfg_vars_require(m->config.vars, m->config.n_vars, s->area + s->at[i], e) != 0)
            return -1;
    }
    return 0;
}

void svc_config_describe(FILE *out) {
    cfg_describe(out);
    for (int i = 0; svc_registry[i]; i++) {
        const svc_module_t *m = svc_registry[i];
        if (!m->config.n_vars) continue;
        fprintf(out, "\n# service %s\n", m->name);
        cfg_vars_describe(out, m->config.vars, m->config.n_vars);
    }
}
