/* statement_ledger: the ledger record of a statement's acceptance (issue 12), like
 * ledger_record.h for agreements. Accepting a statement stores its content hash with
 * ledger_status `pending` in the accepting transaction; the statement sweep then submits
 * statement.accepted through the ledger service's operations (endorse + submit over svc_call:
 * payload {statement_id, number, hash, clubs: [host org, home org]}, endorsed by both clubs'
 * admin identities and the host's member identity as creator, nonce derived from the statement
 * id so a resubmission is the same transaction, one write statement/<id> = hash). A record that
 * cannot be submitted yet (a club with no ledger organisation, the ledger not bootstrapped or
 * down) stays pending with the reason in ledger_error and is retried by every sweep. Owns no
 * state. */
#ifndef SERVICES_RECIPROCAL_STATEMENT_LEDGER_H
#define SERVICES_RECIPROCAL_STATEMENT_LEDGER_H

#include "core/service.h"

/* Tries up to 20 pending records as call's caller (the sweep: a network administrator).
 * *submitted / *pending get the counts of records submitted now and still pending. */
int stmt_ledger_pass(const svc_call_t *call, long long *submitted, long long *pending, err_t *e);

#endif
