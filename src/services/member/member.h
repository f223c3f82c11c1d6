/* member: the member service module. Owns the PostgreSQL schema `member` (clubs,
 * members, profiles, addresses, status history, cards) and declares the service's single
 * operation table (src/services/member/member.c). */
#ifndef SERVICES_MEMBER_MEMBER_H
#define SERVICES_MEMBER_MEMBER_H

#include "core/service.h"

extern const svc_module_t member_module;

/* The member service's variables (member_module.config, rows in member.c). */
typedef struct member_settings {
    cfg_key_t card_kek; /* RECIPROCAL_CARD_KEK: seals the clubs' card-signing keys */
    int card_ttl_s;     /* RECIPROCAL_CARD_TTL_SECONDS (86400) */
    int sweep_s;        /* RECIPROCAL_MEMBER_SWEEP_SECONDS (3600; 0 = off) */
} member_settings_t;

/* The settings of env (svc_settings): never NULL. */
const member_settings_t *member_settings(const svc_env_t *env);

#endif
