/* auth_accounts: accounts of the auth service: invitations by a club admin (or a network
 * admin, naming the club), accepting an invitation (registration: the invitee sets a password),
 * password reset (request + confirm), email verification (request + confirm), password change,
 * and creating a network administrator (CLI bootstrap). One-time tokens are 256-bit random,
 * stored as SHA-256 (auth.one_time_tokens), single use and expiring; they reach the
 * notification service in the events auth.invite_created, auth.password_reset_requested and
 * auth.email_verification_requested (field data.token, listed in data.sensitive). Owns no
 * state. */
#ifndef SERVICES_AUTH_AUTH_ACCOUNTS_H
#define SERVICES_AUTH_AUTH_ACCOUNTS_H

#include <jansson.h>

#include "core/db.h"
#include "core/service.h"

int auth_validate_invite(json_t *in, err_t *e);
int auth_invite(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
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
int auth_users_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* Creates an active network administrator (password policy applied). id_out: 37 bytes. */
int auth_create_network_admin(db_pool_t *db, const char *email, const char *password, char *id_out,
                              err_t *e);
/* Creates (or finds) an active club user with a password and a role; for `reciprocal seed`. */
int auth_create_club_user(db_pool_t *db, const char *club_id, const char *email,
                          const char *password, const char *role, char *id_out, err_t *e);

#endif
