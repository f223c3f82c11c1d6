/* auth_mfa: TOTP multi-factor authentication of the auth service: enrol (secret, otpauth URI,
 * QR code SVG), confirm with a first code (returns 10 single-use recovery codes), the second
 * login step (mfa_token from login + a code or a recovery code; a code is refused when its time
 * step is not newer than the last accepted one, so it cannot be replayed), and disable
 * (password + code). Secrets are stored encrypted with the KEK (auth_util). Owns no state. */
#ifndef SERVICES_AUTH_AUTH_MFA_H
#define SERVICES_AUTH_AUTH_MFA_H

#include <jansson.h>

#include "core/service.h"

int auth_mfa_enrol(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_mfa_code(json_t *in, err_t *e);
int auth_mfa_confirm(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_mfa_verify(json_t *in, err_t *e);
int auth_mfa_verify(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_validate_mfa_disable(json_t *in, err_t *e);
int auth_mfa_disable(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int auth_mfa_recovery_regenerate(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
