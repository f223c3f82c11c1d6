/* validate: the input validators of the ledger's operations (the `validate` column of the
 * operation table in ledger.c; svc_dispatch runs them before authorisation and the handler).
 * Each checks, without I/O, what its operation reads: required fields, JSON types, sizes and
 * formats (hex ids, base64, org names, non-negative integers given as JSON numbers or, from a
 * query string, decimal strings). Errors name the field: 400 "invalid_field" when a field is
 * missing or malformed (wrong type, not hex/base64/an integer), 422 when it is well-formed but
 * invalid (too long, out of range, an unknown role, first > second). Fields an operation does not
 * read are ignored. The handlers keep their own parsing (they run behind these checks). Owns
 * nothing. */
#ifndef SERVICES_LEDGER_VALIDATE_H
#define SERVICES_LEDGER_VALIDATE_H

#include <jansson.h>

#include "core/err.h"

#define LEDGER_WAIT_MAX_MS 30000 /* the longest wait_ms an operation accepts */
#define LEDGER_NAME_MAX 200      /* an org's display name, a revocation reason, in bytes */

/* operations without input (bootstrap, config, checkpoint, export): the input is an object */
int ledger_v_none(json_t *in, err_t *e);
int ledger_v_register_org(json_t *in, err_t *e);
int ledger_v_revoke(json_t *in, err_t *e);
int ledger_v_endorse(json_t *in, err_t *e);
int ledger_v_submit(json_t *in, err_t *e);
int ledger_v_status(json_t *in, err_t *e); /* tx_id, wait_ms */
int ledger_v_get_tx(json_t *in, err_t *e); /* tx_id */
int ledger_v_get_block(json_t *in, err_t *e);
int ledger_v_consistency(json_t *in, err_t *e);
int ledger_v_inclusion(json_t *in, err_t *e);
int ledger_v_evaluate(json_t *in, err_t *e);
int ledger_v_cosign(json_t *in, err_t *e);
int ledger_v_events(json_t *in, err_t *e);

#endif
