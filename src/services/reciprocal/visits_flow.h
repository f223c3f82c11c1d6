/* visits_flow: a visit's transitions after the request (visit_lifecycle.h says which and by
 * whom): approve (home club; issues the letter of introduction, signed with the home club's LOI
 * key, created on first use and sealed under RECIPROCAL_LOI_KEK), confirm (host club; the
 * agreement, the member's standing and the limits are checked again), decline (home or host,
 * reason required), cancel (the member or the home club, before check-in), revoke (home club),
 * check-out (host club);
 * and the home clubs' public LOI keys. Each transition stores actor, club, reason and time and
 * emits its event in the same transaction (ids only). Illegal transitions are 409
 * invalid_transition naming the allowed actions; a side that may not act is 403. */
#ifndef SERVICES_RECIPROCAL_VISITS_FLOW_H
#define SERVICES_RECIPROCAL_VISITS_FLOW_H

#include "core/service.h"

int visit_validate_transition(json_t *in, err_t *e);
int visit_validate_keys(json_t *in, err_t *e);

int visit_approve(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int visit_confirm(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int visit_decline(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int visit_cancel(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int visit_revoke(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* check-out (host club): checked_in -> completed, staff and time recorded. */
int visit_check_out(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* GET /clubs/{id}/loi-keys: {"club_id","keys":[{"kid","alg","public_key","created_at",
 * "retired_at"}]} (public). */
int visit_loi_keys(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* auto_approve (the host's terms): approves the visit id just requested in tx (the home club's
 * scope) as the home club: the letter issued, transition `approve` with reason auto_approve,
 * event loi.issued. 0 or -1 + err (503 loi_signing_unconfigured without RECIPROCAL_LOI_KEK). */
int visit_auto_approve(const svc_call_t *call, db_tx_t *tx, const char *id, err_t *e);
/* Adds loi.qr_svg (the letter's QR code) to a visit document that carries a letter. */
void visit_add_qr(json_t *doc);

#endif
