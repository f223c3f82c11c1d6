/* governance: the governance service module (schema `governance`): proposals of the network
 * (member clubs vote) and of a club (its members vote), their typed rules (network overrides),
 * the eligible-voter snapshot, votes and delegations, the state machine run by time (a periodic
 * job, an injectable clock), the execution of a passed proposal's actions through the owning
 * services' operations, the ledger records of network proposals. API and rules:
 * docs/governance.md. */
#ifndef SERVICES_GOVERNANCE_GOVERNANCE_H
#define SERVICES_GOVERNANCE_GOVERNANCE_H

#include "core/service.h"

extern const svc_module_t governance_module;

/* The governance service's variables (governance_module.config, rows in governance.c). */
typedef struct governance_settings {
    int sweep_s;  /* RECIPROCAL_GOVERNANCE_SWEEP_SECONDS (60): the finalisation job's period */
    int ledger_s; /* RECIPROCAL_GOVERNANCE_LEDGER_SECONDS (1): the ledger records job's period */
} governance_settings_t;

/* The settings of env (svc_settings): never NULL. */
const governance_settings_t *governance_settings(const svc_env_t *env);

#endif
