/* auth_me: GET /api/v1/auth/me (operation `me`, also GraphQL `me`) through the read cache
 * "auth_me" (core/rcache.h, issue 16). Owns that cache and the list of events that invalidate
 * it; owns no other state.
 *
 * An entry is the account's document as PostgreSQL builds it (id, email, club_id, status,
 * email_verified, roles, mfa_enabled, created_at; the pass-through text, core/json.h jsonx_raw),
 * stored under the account's tenant (its club, or AUTH_NETWORK_CLUB for a network account) and
 * keyed and tagged by the user id. `perms` is not cached: it is the caller's token's, spliced
 * into the answer on every request, as before. Every write that changes a cached field emits an
 * event through the outbox in its transaction (AUTH_ME_EVENTS: role grant/removal, custom role
 * deletion, disable/enable, invitation, registration, password reset, e-mail verification, MFA
 * confirmation and disable) and calls auth_me_changed after its commit, so this process
 * answers the change at once and every other process running auth within the event delay
 * (auth_me_follow); RECIPROCAL_CACHE_TTL_SECONDS bounds a change made behind the service's back.
 * The token check (signature, lifetime, revoked sessions and suspended clubs) stays in the
 * gateway before the handler runs (gateway/authn): a cached document never admits a revoked
 * token. */
#ifndef SERVICES_AUTH_AUTH_ME_H
#define SERVICES_AUTH_AUTH_ME_H

#include <jansson.h>

#include "core/err.h"
#include "core/service.h"

/* The literal subjects of the events that change a cached document (the auth module's NATS
 * user subscribes to each: auth.c .nats.subscribes lists them). */
#define AUTH_ME_EVENTS                                                                             \
    "events.auth.permission_granted", "events.auth.permission_revoked",                            \
        "events.auth.user_disabled", "events.auth.user_enabled", "events.auth.invite_created",     \
        "events.auth.invite_accepted", "events.auth.password_reset", "events.auth.email_verified", \
        "events.auth.mfa_enabled", "events.auth.mfa_disabled"

int auth_me(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* Follows AUTH_ME_EVENTS on env's bus (`serve`, the auth module's start hook); 0 without a bus. */
int auth_me_follow(const svc_env_t *env, err_t *e);

/* After a committed change of the account user_id of club (AUTH_NETWORK_CLUB for a network
 * account): this process drops its document at once (the others on the event). user_id NULL =
 * every account of the club (a custom role deleted). */
void auth_me_changed(const char *club, const char *user_id);

/* The data of an account event this file adds (auth.invite_accepted, auth.password_reset,
 * auth.email_verified, auth.mfa_enabled, auth.mfa_disabled): {user_id, club_id} (club_id null
 * for a network account, as in auth.permission_granted); new reference. Ids only (docs/security.md
 * N3). */
json_t *auth_me_event_data(const char *club, const char *user_id);

#endif
