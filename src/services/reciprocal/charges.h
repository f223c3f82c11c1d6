/* charges: what a visitor spent at the host club (issue 12). The host's staff post line items
 * against a checked-in visit, or a completed one up to 7 days after check-out; nothing is ever
 * edited or deleted: a correction is a reversing line that references the original (at most one
 * per line). Money is integer minor units of the host's ISO 4217 currency (the agreement's
 * fees.currency). The agreement's entry and guest fees are posted at check-in
 * (charge_on_check_in), the cancellation fee at cancellation (charge_on_cancel; shown before with
 * GET /visits/{id}/cancellation-fee), from the tiers in fees.h. A host's point of sale posts a
 * whole bill at once ({lines: [...]}, 1 to CHARGE_MAX_LINES, one transaction, all or nothing).
 * Every posting is one INSERT for all its lines, which also finds or creates the statement of
 * each month they fall in (reciprocal.open_statement, migration 0013), and one outbox statement
 * for their events. A bill_home_club charge names its statement when it is posted; a
 * pay_at_host charge closes at the host. Events charge.posted, charge.reversed (tenant: the host).
 * Rules and JSON: docs/reciprocal.md "Charges and settlement".
 *
 * Who: member:write staff of the host (a network administrator for any host, with as_of for the
 * clock) post and reverse; member:read staff of the host list (GET /charges); the home club sees
 * its members' charges only through its statements (GET /members/{id}/reciprocal-charges). */
#ifndef SERVICES_RECIPROCAL_CHARGES_H
#define SERVICES_RECIPROCAL_CHARGES_H

#include "core/db.h"
#include "core/service.h"

#define CHARGE_MAX_LINES 500 /* lines in one posted bill ({lines: [...]}) */

int charge_validate_post(json_t *in, err_t *e);
int charge_validate_reverse(json_t *in, err_t *e);
int charge_validate_list(json_t *in, err_t *e);
int charge_validate_fee(json_t *in, err_t *e);
int charge_validate_member(json_t *in, err_t *e);

int charge_post(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int charge_reverse(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int charge_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* GET /visits/{id}/cancellation-fee: {visit_id, kind, hours_before, fee_percent, day_fee,
 * amount, currency, tiers, at} for a cancellation now (or at `at`, a network administrator). */
int charge_cancellation_fee(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* GET /members/{id}/reciprocal-charges: the home club's member's lines of its issued statements
 * (JSON, or CSV with format=csv). */
int charge_member_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* Hooks, inside the visit's transaction. At check-in (at: unix seconds): the agreement's entry
 * fee (quantity 1) and guest fee (quantity = guests), each when not 0. */
int charge_on_check_in(const svc_call_t *call, db_tx_t *tx, const char *visit_id, long long at,
                       err_t *e);
/* At cancellation of a visit that was from_status: the tiers' fee when from_status was approved
 * or confirmed and the fee is not 0 (posted in the host's scope: the canceller is the home club
 * or the member). */
int charge_on_cancel(const svc_call_t *call, db_tx_t *tx, const char *visit_id,
                     const char *from_status, err_t *e);

/* When the scheduler marks a visit no_show (visits_sweep.c): 100 % of one night/day fee, when
 * not 0, as the host's no_show_fee line (the sweep runs as a network administrator). */
int charge_on_no_show(const svc_call_t *call, db_tx_t *tx, const char *visit_id, err_t *e);

#endif
