/* member_seed: the member service's part of the demo network (member_module.seed, `reciprocal
 * seed`, `make run`): three clubs, created through create_club as a network administrator.
 * Owns nothing. */
#ifndef SERVICES_MEMBER_MEMBER_SEED_H
#define SERVICES_MEMBER_MEMBER_SEED_H

#include "core/service.h"

/* Creates each demo club unless its slug exists (409 is "already present"); prints what it did.
 * 0 or -1 + err. */
int member_seed(const svc_env_t *env, err_t *e);

#endif
