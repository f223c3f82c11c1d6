/* reciprocal: the reciprocal service module (schema `reciprocal`): agreements between clubs,
 * their terms and lifecycle, the partner directory, the scheduled sweep. API and rules:
 * docs/reciprocal.md. */
#ifndef SERVICES_RECIPROCAL_RECIPROCAL_H
#define SERVICES_RECIPROCAL_RECIPROCAL_H

#include "core/service.h"

extern const svc_module_t reciprocal_module;

#endif
