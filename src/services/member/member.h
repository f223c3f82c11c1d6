/* member: the member service module. Owns the PostgreSQL schema `member` (clubs,
 * members, profiles, addresses, status history, cards) and declares the service's single
 * operation table (src/services/member/member.c). */
#ifndef SERVICES_MEMBER_MEMBER_H
#define SERVICES_MEMBER_MEMBER_H

#include "core/service.h"

extern const svc_module_t member_module;

#endif
