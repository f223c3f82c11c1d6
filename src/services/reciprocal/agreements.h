/* agreements: the agreement operations of the reciprocal service (propose, list, get, the six
 * party transitions, the partner directory, the scheduler's sweep). Owns the SQL over
 * reciprocal.agreements / parties / agreement_transitions and the events it writes to the
 * outbox. Party clubs are checked through the member service's operations (get_clubs_by_ids over
 * svc_call), never its tables. Rules and API: docs/reciprocal.md. */
#ifndef SERVICES_RECIPROCAL_AGREEMENTS_H
#define SERVICES_RECIPROCAL_AGREEMENTS_H

#include "core/service.h"

int ag_validate_create(json_t *in, err_t *e);
int ag_validate_list(json_t *in, err_t *e);
int ag_validate_ref(json_t *in, err_t *e);
int ag_validate_transition(json_t *in, err_t *e);
int ag_validate_partners(json_t *in, err_t *e);
int ag_validate_sweep(json_t *in, err_t *e);

int ag_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int ag_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int ag_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int ag_accept(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int ag_reject(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int ag_withdraw(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int ag_suspend(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int ag_resume(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int ag_terminate(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int ag_partners(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* The scheduled work (input {"as_of"?: date, default today UTC}): activates proposed
 * agreements every party accepted whose starts_on came, enacts terminations whose notice ran
 * out, expires agreements past ends_on. One transaction under an advisory lock (a second process
 * sweeping at the same time does nothing), rows FOR UPDATE SKIP LOCKED. Output
 * {"activated","terminated","expired","as_of"}. */
int ag_sweep(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
