/* statements: monthly settlement between two clubs (issue 12). One statement per ordered pair
 * (host -> home), currency and calendar month in the host's time zone collects every
 * bill_home_club charge of that key: the first charge creates it as `draft` and each later one
 * joins it (reciprocal.open_statement, migration 0013, called by the posting's INSERT: it holds
 * the statement row FOR SHARE); a charge whose month's statement
 * is no longer a draft joins the next month's, so every charge is in exactly one statement, also
 * while a statement is being issued (issuing holds the row FOR UPDATE, waits for the posting
 * transactions and fixes the totals from the lines). draft -> issued (the host, or the sweep by
 * day 5) -> accepted (the home club: the statement's hash is recorded, statement.accepted) ->
 * paid (the host confirms the payment); issued -> disputed (the home club, per line or whole,
 * with a reason) -> issued again once the host has reversed each disputed line or rejected the
 * dispute. Documents: JSON, CSV (RFC 4180) and PDF (statement_pdf.h), the same inputs giving the
 * same bytes (written from the rows: statement_doc.h). Events
 * statement.{drafted,issued,disputed,accepted,paid}.
 *
 * Who: member:read staff of either club read (the home club from `issued` on), club:write admins
 * act for their side; a network administrator for either. */
#ifndef SERVICES_RECIPROCAL_STATEMENTS_H
#define SERVICES_RECIPROCAL_STATEMENTS_H

#include "core/db.h"
#include "core/service.h"
#include "core/strbuf.h"

int stmt_validate_list(json_t *in, err_t *e);
int stmt_validate_get(json_t *in, err_t *e);
int stmt_validate_action(json_t *in, err_t *e);
int stmt_validate_line(json_t *in, err_t *e);
int stmt_validate_sweep(json_t *in, err_t *e);

int stmt_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int stmt_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int stmt_issue(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int stmt_dispute(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int stmt_dispute_line(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int stmt_reject_dispute(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int stmt_accept(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int stmt_pay(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int stmt_validate_netting(json_t *in, err_t *e);
/* GET /clubs/{id}/netting?partner=&period=YYYY-MM: per currency, what the club and the partner
 * owe each other on the period's issued or accepted statements (not yet paid), netted: {club_id,
 * partner_club_id, period, items: [{currency, receivable, payable, net, payer_club_id,
 * payee_club_id, statements: [{id, number, side, total}]}]}. Both statements stay as they are;
 * the net is what one transfer settles. The club's own (403 otherwise; a network administrator
 * any). */
int stmt_netting(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* The scheduler's pass (network administrators; as_of for tests): marks the drafts of ended
 * months drafted (statement.drafted) and issues those whose host-local date is the 5th of the
 * next month or later. {drafted, issued}. Idempotent and restart-safe (state in the rows). */
int stmt_sweep(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* One pass as the system (from the reciprocal sweep thread). */
int stmt_sweep_once(const svc_env_t *env, err_t *e);

/* Locks statement id FOR SHARE; *open = 1 when it is a draft or disputed (a reversing line of
 * one of its lines joins it). */
int stmt_lock_open(db_tx_t *tx, const char *id, int *open, err_t *e);
/* After a reversing line of charge_id joined statement_id: the open dispute of that line is
 * answered `reversed`, and a disputed statement with no open dispute left is issued again. */
int stmt_line_reversed(const svc_call_t *call, db_tx_t *tx, const char *statement_id,
                       const char *charge_id, err_t *e);

#endif
