/* signer: the ledger's answer to "who signs for this club, and does the ledger hold that key?"
 * (operation club_signer). A club's member identity is the smallest unrevoked member key of its
 * organisation (the one endorse builds with); `held` is whether the ledger keeps the club's
 * member private key, decided by ledger_org_key, the same lookup endorse signs with (reciprocal's
 * own-key holding reads endorse's "no key" answer), and that key is that identity (a club that
 * replaced its server-held identity with its own is not held). Other services ask this instead of
 * reading the ledger's tables: governance refuses an unsigned network vote of a club that signs its
 * own records. Owns nothing; *out is the caller's. */
#ifndef SERVICES_LEDGER_SIGNER_H
#define SERVICES_LEDGER_SIGNER_H

#include <jansson.h>

#include "core/err.h"
#include "core/service.h"

/* {id}: the club (a UUID, the path's). */
int ledger_v_club_signer(json_t *in, err_t *e);
/* {club_id, org, role: "member", public_key (64 hex), held: bool}; 404 naming id when the
 * club is no organisation with an unrevoked member identity on the ledger. */
int ledger_h_club_signer(const svc_call_t *c, json_t *in, json_t **out, err_t *e);

#endif
