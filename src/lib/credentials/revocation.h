/* revocation: the wire contract between the auth service, which publishes revocations, and every
 * process that verifies access tokens (gateway/authn), which applies them. Constants only; the
 * publisher is services/auth/auth_revoke.c, the subscriber gateway/authn.c.
 *
 * After a transaction that ends sessions or suspends a club commits, auth publishes on the core
 * NATS subject AUTH_REVOKED_SUBJECT:
 *   {"items":[{"kind":"session"|"club","id":"<uuid>","at":<Unix seconds>}, ...]}
 * A verifier refuses a token of a revoked session, or of a suspended club issued at or before
 * `at`, for access TTL + AUTH_REVOKED_SLACK_S seconds after `at` (later the token has expired
 * anyway); the auth operation `revocations` answers the same items for that window. */
#ifndef LIB_CREDENTIALS_REVOCATION_H
#define LIB_CREDENTIALS_REVOCATION_H

#define AUTH_REVOKED_SUBJECT "auth.revoked"
/* Clock skew and leeway allowance on top of the access-token lifetime: a revocation entry
 * lives access TTL + this many seconds (the verifier's leeway is 30 s, plus 30 s of skew
 * between the database clock and the signer's). */
#define AUTH_REVOKED_SLACK_S 60

#endif
