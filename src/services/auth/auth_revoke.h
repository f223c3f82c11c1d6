/* auth_revoke: revocation that reaches access tokens at once, and club suspension.
 *
 * Whenever sessions end (logout, session delete, admin revoke, disable, password change or
 * reset, refresh reuse, expiry found at refresh) or a club is suspended, the auth service
 * publishes the ids on the core NATS subject `auth.revoked` after its transaction commits (the
 * wire contract with token verifiers is lib/credentials/revocation.h):
 *   {"items":[{"kind":"session"|"club","id":"<uuid>","at":<Unix seconds>}, ...]}
 * Every process that verifies access tokens (src/gateway/authn.c) keeps them and refuses a
 * token of a revoked session, or of a suspended club issued at or before `at`, until it could
 * no longer be valid anyway (at + access TTL + AUTH_REVOKED_SLACK_S). The operation
 * `revocations` (internal, no REST route) answers the same items for the recent window, read
 * from the database, for a gateway that starts later or may have missed messages.
 *
 * A suspended club (auth.club_suspensions, kept by the operations club_suspend / club_resume,
 * which the member service calls when the network admin deactivates / activates a club) gets no
 * token: login, the MFA step and refresh refuse it (401 club_suspended), and its sessions are
 * revoked at suspension.
 *
 * `users_in_club` (internal) tells the member service which accounts exist in a club before
 * members are linked to them. Owns no state. */
#ifndef SERVICES_AUTH_AUTH_REVOKE_H
#define SERVICES_AUTH_AUTH_REVOKE_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/db.h"
#include "core/service.h"
#include "lib/credentials/revocation.h" /* AUTH_REVOKED_SUBJECT, AUTH_REVOKED_SLACK_S */

/* Publishes sessions (array of session id strings, may be NULL or empty) and club (may be
 * NULL) as revoked now. Best effort after the commit: a failure is logged (gateways resync from
 * the database on reconnect and every minute). Borrows its arguments. */
void auth_revoked_publish(const svc_env_t *env, json_t *sessions, const char *club);
/* The first column of every row of r (UPDATE ... RETURNING id) as a new array of strings. */
json_t *auth_ids_of(PGresult *r);
/* Revokes every live session of a user in tx (club scope) except keep_sid (NULL or "" = none),
 * with reason; *ids (new array) gets the ended sessions' ids for auth_revoked_publish after the
 * commit. Returns how many ended, or -1 (*ids NULL). */
long long auth_revoke_user_sessions(db_tx_t *tx, const char *club, const char *user,
                                    const char *reason, const char *keep_sid, json_t **ids,
                                    err_t *e);
/* 0 when the club may get tokens; -1 with 401 club_suspended when it is suspended (tx in the
 * club's scope; the network tenant is never suspended). */
int auth_require_club_active(db_tx_t *tx, const char *club, err_t *e);

int auth_validate_revocations(json_t *in, err_t *e);
int auth_revocations(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_club_ref(json_t *in, err_t *e);
int auth_club_suspend(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_club_resume(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
#define AUTH_USERS_IN_CLUB_MAX 10000
int auth_validate_users_in_club(json_t *in, err_t *e);
int auth_users_in_club(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
