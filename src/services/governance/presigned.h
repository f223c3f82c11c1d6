/* presigned: the pre-signed network votes of clubs that hold their own ledger keys
 * (docs/governance.md "Pre-signed votes"). The service builds the club's governance.vote_cast
 * transaction (records.c, through the ledger's `endorse` without signers) and hands out the
 * bytes to sign; the club signs them with its member identity (Ed25519 over
 * "reciprocal-ledger/endorse/v1\n" || tx) and casts the vote with {tx, signature}; this module
 * checks that the transaction is exactly that club's vote record for the proposal and that the
 * signature verifies under the club's unrevoked member identity on the ledger. Owns the
 * gov_signed_vote_t it fills (gov_signed_vote_free) and the process's cache of the clubs'
 * signers (rcache "gov_signers", see gov_ledger_signer). */
#ifndef SERVICES_GOVERNANCE_PRESIGNED_H
#define SERVICES_GOVERNANCE_PRESIGNED_H

#include <stdint.h>

#include "core/service.h"

#define GOV_ENDORSE_PREFIX "reciprocal-ledger/endorse/v1\n" /* engine.h LEDGER_ENDORSE_PREFIX */

typedef struct {
    char *choice;         /* the payload's choice */
    int64_t cast_at_ms;   /* the payload's cast_at_ms */
    char *tx;             /* the transaction as sent (base64) */
    json_t *endorsements; /* [{public_key (hex), signature (base64)}] */
} gov_signed_vote_t;

/* The ledger organisation of club, its unrevoked member identity (hex) and *held (may be NULL):
 * whether the ledger holds that member key (else the club signs its own records), from the
 * ledger's club_signer operation, kept per process until the ledger announces a configuration
 * change (GOV_LEDGER_CONFIG_EVENT; docs/governance.md "Bench: the signer kept, the ledger pass
 * in one call"): 0, or -1 + 409 not_on_ledger naming club_id (or the ledger's error). */
int gov_ledger_signer(const svc_call_t *call, const char *club, char org[72], char pk[72],
                      int *held, err_t *e);
/* The ledger's event after a committed configuration change (services/ledger/store.c). */
#define GOV_LEDGER_CONFIG_EVENT "ledger.config_changed"
/* Every process running governance drops its kept signers on that event (core/rcache.h; the
 * start hook calls it). */
int gov_signers_follow(const svc_env_t *env, err_t *e);

/* The SHA-256 (hex) of a reason's UTF-8 text, as the vote record carries it. */
void gov_reason_sha256(const char *reason, char out[65]);

/* Checks the pre-signed vote in `in` ({tx (base64), signature (base64, 64 bytes), reason?}) for
 * proposal id by club: 0 + *v, or -1 + 422 naming tx (not a governance.vote_cast of this
 * proposal, of another creator or key, or not what records.c builds from its payload), reason
 * (its digest differs from the record's) or signature (invalid_signature: it does not verify
 * under the club's member identity). */
int gov_signed_vote_check(const svc_call_t *call, const char *id, const char *club, json_t *in,
                          gov_signed_vote_t *v, err_t *e);
void gov_signed_vote_free(gov_signed_vote_t *v);

/* The answer of prepare_vote: the transaction spec of the vote (records.c) built by the
 * ledger without signers: {tx_id, tx, sign_bytes (base64 of prefix || tx), signer}. 0 or -1. */
int gov_prepare_tx(const svc_call_t *call, const char *id, const char *club, const char *choice,
                   int64_t cast_at_ms, const char *reason, json_t **out, err_t *e);

#endif
