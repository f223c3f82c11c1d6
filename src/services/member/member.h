/* member: the member service module. Owns the PostgreSQL schema `member` (clubs today; members,
 * profiles and addresses next) and declares the service's single operation table. */
#ifndef SERVICES_MEMBER_MEMBER_H
#define SERVICES_MEMBER_MEMBER_H

#include "core/service.h"

extern const svc_module_t member_module;

#endif
