/* auth_accounts: accounts of the auth service: invitations by a club admin (or a network
 * admin, naming the club), accepting an invitation (registration: the invitee sets a password),
 * password reset (request + confirm), email verification (request + confirm), password change,
 * and creating a network administrator (CLI bootstrap). One-time tokens are 256-bit, derived
 * from their row id with a subkey of RECIPROCAL_AUTH_KEK, stored as SHA-256
 * (auth.one_time_tokens), single use and expiring. No token enters an event (docs/security.md
 * N3): auth.invite_created, auth.password_reset_requested and auth.email_verification_requested
 * carry data.token_id, and the notification path fetches the token with the NATS-only operation
 * delivery_token (permission auth:deliver). Owns no state. */
#ifndef SERVICES_AUTH_AUTH_ACCOUNTS_H
#define SERVICES_AUTH_AUTH_ACCOUNTS_H

#include <jansson.h>

#include "core/db.h"
#include "core/service.h"

int auth_validate_invite(json_t *in, err_t *e);
int auth_invite(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* invite_member (internal, no route): the same for the member service's `invite: true`, which
 * has just created the member in that club; checks the club's suspension on auth's own table
 * instead of calling member back (see auth_accounts.c). */
int auth_invite_member(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_token_password(json_t *in, err_t *e);
int auth_register(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_forgot(json_t *in, err_t *e);
int auth_password_forgot(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_password_reset(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_change(json_t *in, err_t *e);
int auth_password_change(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_email_verify_request(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_token_only(json_t *in, err_t *e);
int auth_email_verify(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* NATS-only (no REST route): {club_id, token_id} -> {token, token_id, purpose, user_id, club_id,
 * email, expires_at} of a pending (unused, unexpired) invite/reset/verification token, for the
 * notification service to send; 404 when there is none. Audited. */
int auth_validate_delivery_token(json_t *in, err_t *e);
int auth_delivery_token(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_users_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* Creates an active network administrator (password policy applied). id_out: 37 bytes. */
int auth_create_network_admin(db_pool_t *db, const char *email, const char *password, char *id_out,
                              err_t *e);
/* Creates (or finds) an active club user with a password and a role; for `reciprocal seed`. */
int auth_create_club_user(db_pool_t *db, const char *club_id, const char *email,
                          const char *password, const char *role, char *id_out, err_t *e);

#endif
