/* reciprocal: the reciprocal service module (schema `reciprocal`): agreements between clubs,
 * their terms and lifecycle, the partner directory, the scheduled sweep; visits and their
 * letters of introduction. API and rules:
 * docs/reciprocal.md. */
#ifndef SERVICES_RECIPROCAL_RECIPROCAL_H
#define SERVICES_RECIPROCAL_RECIPROCAL_H

#include "core/service.h"

extern const svc_module_t reciprocal_module;

/* The reciprocal service's variables (reciprocal_module.config, rows in reciprocal.c). */
typedef struct reciprocal_settings {
    cfg_key_t loi_kek;     /* RECIPROCAL_LOI_KEK: seals the home clubs' LOI-signing keys */
    int no_show_grace_min; /* RECIPROCAL_VISIT_NO_SHOW_GRACE_MINUTES (120) */
} reciprocal_settings_t;

/* The settings of env (svc_settings): never NULL. */
const reciprocal_settings_t *reciprocal_settings(const svc_env_t *env);

#endif
