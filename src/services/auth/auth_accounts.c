/* auth_accounts: see auth_accounts.h. */
#include "services/auth/auth_accounts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/json.h"
#include "core/uuid.h"
#include "services/auth/auth_me.h"
#include "services/auth/auth_revoke.h"
#include "services/auth/auth_util.h"
#include "lib/credentials/password.h"
#include "services/auth/rbac.h"

#define VERIFY_TTL 86400
#define BAD_TOKEN "The link is not valid or has expired."

/* ---------------------------------------------------------------- validation */

int auth_validate_invite(json_t *in, err_t *e) {
    static const char *const keys[] = {"email", "role", "club_id", NULL};
    static const char *const roles[] = {"club_admin", "club_staff", "club_treasurer", "member",
                                        NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (auth_v_email(in, "email", 1, e) != 0) return -1;
    if (jsonx_enum(in, "role", 0, roles, &s, e) != 0) return -1;
    if (jsonx_string(in, "club_id", 0, 36, 36, &s, e) != 0) return -1;
    if (s && !jsonx_is_uuid(s)) return err_invalid(e, "club_id", "club_id must be a club id");
    return 0;
}

int auth_validate_token_password(json_t *in, err_t *e) {
    static const char *const keys[] = {"token", "password", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (auth_v_token(in, "token", e) != 0) return -1;
    return auth_v_password(in, "password", e);
}

int auth_validate_token_only(json_t *in, err_t *e) {
    static const char *const keys[] = {"token", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return auth_v_token(in, "token", e);
}

int auth_validate_forgot(json_t *in, err_t *e) {
    static const char *const keys[] = {"club", "email", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (jsonx_string(in, "club", 0, 1, 63, &s, e) != 0) return -1;
    return auth_v_email(in, "email", 1, e);
}

int auth_validate_change(json_t *in, err_t *e) {
    static const char *const keys[] = {"current_password", "new_password", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (auth_v_password(in, "current_password", e) != 0) return -1;
    return auth_v_password(in, "new_password", e);
}

/* ---------------------------------------------------------------- one-time tokens */

/* One-time tokens are derived, not stored: token = base64url(HMAC-SHA256(K, "<club>/<id>")),
 * K a subkey of RECIPROCAL_AUTH_KEK. The database keeps the token's SHA-256 and its row id,
 * events carry the id only (docs/security.md N3), and auth_delivery_token recomputes the token
 * for the notification path. */
static int derive_token(const auth_settings_t *as, const char *club, const char *id,
                        char tok[AUTH_TOKEN_LEN + 1], err_t *e) {
    unsigned char key[32], mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    if (cfg_key_require(&as->kek, "RECIPROCAL_AUTH_KEK", 500, "invalid_config", e) != 0) return -1;
    crypto_kdf_derive_from_key(key, sizeof key, 1, "otokens1", as->kek.key);
    crypto_auth_hmacsha256_init(&st, key, sizeof key);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)club, strlen(club));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"/", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(tok, AUTH_TOKEN_LEN + 1, mac, sizeof mac,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(key, sizeof key);
    sodium_memzero(mac, sizeof mac);
    sodium_memzero(&st, sizeof st);
    return 0;
}

/* Issues a one-time token of purpose for user_id: token_id gets its row id (what events carry),
 * expires its expiry. The token itself is not returned: auth_delivery_token derives it. */
static int issue_token(db_tx_t *tx, const auth_settings_t *as, const char *club,
                       const char *user_id, const char *purpose, int ttl, char token_id[40],
                       char *expires, size_t cap, err_t *e) {
    char hash[AUTH_HASH_HEX], ttls[16], tok[AUTH_TOKEN_LEN + 1];
    uuid_v4(token_id); /* the token's row id, chosen here because the token derives from it */
    if (derive_token(as, club, token_id, tok, e) != 0) return -1;
    auth_sha256_hex(tok, strlen(tok), hash);
    sodium_memzero(tok, sizeof tok);
    snprintf(ttls, sizeof ttls, "%d", ttl);
    const char *p[] = {club, user_id, purpose, hash, ttls, token_id};
    /* an older unused token of the same purpose stops working */
    if (db_exec_cmd(tx,
                    "UPDATE auth.one_time_tokens SET used_at = now() WHERE club_id = $1::uuid "
                    "AND user_id = $2::uuid AND purpose = $3 AND used_at IS NULL",
                    3, p, e) < 0)
        return -1;
    PGresult *r = db_exec(tx,
                          "INSERT INTO auth.one_time_tokens (club_id, user_id, purpose, "
                          "token_hash, expires_at, id) VALUES ($1::uuid, $2::uuid, $3, $4, now() "
                          "+ make_interval(secs => $5::int), $6::uuid) RETURNING to_char("
                          "expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                          6, p, e);
    if (!r) return -1;
    if (expires) snprintf(expires, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int auth_validate_delivery_token(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", "token_id", NULL};
    static const char *const names[] = {"club_id", "token_id", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    for (const char *const *n = names; *n; n++) {
        if (jsonx_string(in, *n, 1, 36, 36, &s, e) != 0) return -1;
        if (!jsonx_is_uuid(s)) return err_invalid(e, *n, "%s must be a uuid", *n);
    }
    return 0;
}

int auth_delivery_token(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = json_string_value(json_object_get(in, "club_id"));
    const char *id = json_string_value(json_object_get(in, "token_id"));
    char tok[AUTH_TOKEN_LEN + 1];
    db_tx_t *tx = NULL;
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    const char *p[] = {club, id};
    PGresult *r = db_row(db_exec(tx,
                                 "SELECT t.user_id, t.purpose, u.email, to_char(t.expires_at AT "
                                 "TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM "
                                 "auth.one_time_tokens t JOIN auth.users u ON u.club_id = "
                                 "t.club_id AND u.id = t.user_id WHERE t.club_id = $1::uuid AND "
                                 "t.id = $2::uuid AND t.used_at IS NULL AND t.expires_at > now() "
                                 "AND t.purpose IN ('invite', 'reset_password', 'verify_email')",
                                 2, p, e),
                         e, "token_id", "no pending token with this id");
    if (!r) goto fail;
    if (derive_token(auth_settings(call->env), club, id, tok, e) != 0 ||
        auth_audit(tx, call->caller, club, PQgetvalue(r, 0, 0), "token_fetched_for_delivery",
                   json_pack("{s:s, s:s}", "purpose", PQgetvalue(r, 0, 1), "token_id", id), e) != 0)
        goto fail;
    *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "token", tok, "token_id", id, "purpose",
                     PQgetvalue(r, 0, 1), "user_id", PQgetvalue(r, 0, 0), "club_id", club, "email",
                     PQgetvalue(r, 0, 2), "expires_at", PQgetvalue(r, 0, 3));
    sodium_memzero(tok, sizeof tok);
    PQclear(r);
    r = NULL;
    if (db_commit(tx, e) != 0) {
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return 0;
fail:
    sodium_memzero(tok, sizeof tok);
    PQclear(r);
    db_rollback(tx);
    return -1;
}

/* Resolves a one-time token's club, opens a transaction in that scope and consumes the token
 * (single use). user_id/email receive its user. -1 with 400 invalid_token when unknown, used
 * or expired. */
static int consume_token(const svc_call_t *call, const char *tok, const char *purpose, db_tx_t **tx,
                         char club[40], char user_id[40], char email[256], err_t *e) {
    char hash[AUTH_HASH_HEX];
    *tx = NULL;
    auth_sha256_hex(tok, strlen(tok), hash);
    if (auth_token_club(call->env, purpose, hash, club, e) != 0) return -1;
    if (!club[0]) return err_set(e, 400, "invalid_token", "token", BAD_TOKEN);
    if (svc_begin_in(call, club, tx, e) != 0) return -1;
    const char *p[] = {club, hash, purpose};
    PGresult *r = db_exec(*tx,
                          "UPDATE auth.one_time_tokens t SET used_at = now() FROM auth.users u "
                          "WHERE t.club_id = $1::uuid AND t.token_hash = $2 AND t.purpose = $3 "
                          "AND t.used_at IS NULL AND t.expires_at > now() AND u.club_id = "
                          "t.club_id AND u.id = t.user_id AND u.status <> 'disabled' "
                          "RETURNING u.id, u.email",
                          3, p, e);
    if (!r) goto fail;
    if (PQntuples(r) != 1) {
        PQclear(r);
        err_set(e, 400, "invalid_token", "token", BAD_TOKEN);
        goto fail;
    }
    snprintf(user_id, 40, "%s", PQgetvalue(r, 0, 0));
    snprintf(email, 256, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
fail:
    db_tx_rollback(tx);
    return -1;
}

/* Policy check with the account's identity as context, then argon2id. */
static int new_password_hash(const char *password, const char *email, char out[PASSWORD_HASH_MAX],
                             err_t *e) {
    char local[256];
    snprintf(local, sizeof local, "%s", email);
    char *at = strchr(local, '@');
    if (at) *at = 0;
    const char *ctx[] = {email, local, NULL};
    if (password_check_policy(password, ctx, e) != 0) return -1;
    return password_hash(password, out, e);
}

/* ---------------------------------------------------------------- invitations */

/* from_member: the member service invites for a member it has just created in the club, so the
 * club exists, and no call goes back to member (member -> auth -> member over NATS could wait on
 * the very responder that waits for this answer); its suspension is checked here instead, on
 * auth's own table. Otherwise the member service confirms the club is active (resolve_club),
 * before auth's transaction. */
static int invite(const svc_call_t *call, json_t *in, int from_member, json_t **out, err_t *e) {
    const svc_caller_t *c = call->caller;
    const char *email = json_string_value(json_object_get(in, "email"));
    const char *role = json_string_value(json_object_get(in, "role"));
    const char *want = json_string_value(json_object_get(in, "club_id"));
    char club[40], token_id[40], expires[40], user_id[40];
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    if (!role) role = "member";
    if (auth_conf_require(auth_settings(call->env), e) != 0) return -1;
    if (c->network_admin) {
        if (!want)
            return err_set(e, 400, "missing_field", "club_id",
                           "club_id is required when a network administrator invites");
        snprintf(club, sizeof club, "%s", want);
    } else {
        if (!c->club_id[0] || (want && strcmp(want, c->club_id) != 0))
            return err_set(e, 403, "forbidden", "club_id", "you can invite only to your own club");
        snprintf(club, sizeof club, "%s", c->club_id);
    }
    if (!from_member && auth_require_active_club_id(call, club, e) != 0) return -1;
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    if (from_member && auth_require_club_active(tx, club, e) != 0) {
        if (e->status == 401) /* suspended: the answer resolve_club's check gives */
            err_invalid(e, "club_id", "club_id names no active club");
        goto fail;
    }
    const char *p[] = {club, email};
    r = db_exec(tx,
                "INSERT INTO auth.users (club_id, email) VALUES ($1::uuid, $2) ON CONFLICT "
                "(club_id, lower(email)) DO UPDATE SET updated_at = now() WHERE "
                "auth.users.status = 'invited' RETURNING id",
                2, p, e);
    if (!r) goto fail;
    if (PQntuples(r) != 1) {
        err_set(e, 409, "conflict", "email", "an account with this email already exists");
        goto fail;
    }
    snprintf(user_id, sizeof user_id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    const char *pr[] = {club, user_id, role, c->user_id[0] ? c->user_id : NULL};
    if (db_exec_cmd(tx,
                    "DELETE FROM auth.user_roles WHERE club_id = $1::uuid AND user_id = $2::uuid",
                    2, pr, e) < 0 ||
        db_exec_cmd(tx,
                    "INSERT INTO auth.user_roles (club_id, user_id, role, granted_by) VALUES "
                    "($1::uuid, $2::uuid, $3, $4::uuid)",
                    4, pr, e) < 0)
        goto fail;
    if (issue_token(tx, auth_settings(call->env), club, user_id, "invite",
                    auth_settings(call->env)->invite_ttl_s, token_id, expires, sizeof expires,
                    e) != 0)
        goto fail;
    if (auth_audit(tx, c, club, user_id, "invite_created", json_pack("{s:s}", "role", role), e) !=
            0 ||
        svc_emit(call, tx, "auth.invite_created", club,
                 json_pack("{s:s, s:s, s:s, s:s, s:s}", "user_id", user_id, "club_id", club, "role",
                           role, "token_id", token_id, "expires_at", expires),
                 e) != 0)
        goto fail;
    if (db_commit(tx, e) != 0) return -1;
    auth_me_changed(club, user_id);
    *out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "user_id", user_id, "club_id", club, "email",
                     email, "role", role, "expires_at", expires);
    return 0;
fail:
    PQclear(r);
    db_rollback(tx);
    return -1;
}

int auth_invite(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return invite(call, in, 0, out, e);
}

int auth_invite_member(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return invite(call, in, 1, out, e);
}

int auth_register(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *tok = json_string_value(json_object_get(in, "token"));
    const char *password = json_string_value(json_object_get(in, "password"));
    char club[40], user_id[40], email[256], hash[PASSWORD_HASH_MAX];
    db_tx_t *tx = NULL;
    if (consume_token(call, tok, "invite", &tx, club, user_id, email, e) != 0) return -1;
    if (new_password_hash(password, email, hash, e) != 0) goto fail;
    const char *p[] = {club, user_id, hash};
    if (db_exec_cmd(tx,
                    "UPDATE auth.users SET password_hash = $3, status = 'active', "
                    "email_verified_at = coalesce(email_verified_at, now()), updated_at = now() "
                    "WHERE club_id = $1::uuid AND id = $2::uuid",
                    3, p, e) < 0 ||
        auth_audit(tx, call->caller, club, user_id, "invite_accepted", NULL, e) != 0 ||
        svc_emit(call, tx, "auth.invite_accepted", club, auth_me_event_data(club, user_id), e) != 0)
        goto fail;
    if (db_commit(tx, e) != 0) return -1;
    auth_me_changed(club, user_id);
    *out = json_pack("{s:s, s:s, s:s}", "user_id", user_id, "club_id", club, "email", email);
    return 0;
fail:
    db_rollback(tx);
    return -1;
}

/* ---------------------------------------------------------------- password reset */

int auth_password_forgot(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *slug = json_string_value(json_object_get(in, "club"));
    const char *email = json_string_value(json_object_get(in, "email"));
    char club[40], subject[400], token_id[40], expires[40];
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    if (auth_conf_require(auth_settings(call->env), e) != 0) return -1;
    if (slug) {
        if (auth_club_by_slug(call, slug, club, e) != 0) return -1;
    } else {
        snprintf(club, sizeof club, "%s", AUTH_NETWORK_CLUB);
    }
    snprintf(subject, sizeof subject, "reset|%s|%s|%s", club, slug ? slug : "", email);
    for (char *q = subject; *q; q++)
        if (*q >= 'A' && *q <= 'Z') *q = (char)(*q + 32);
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    /* every request counts: more than max per 15 minutes for one address is throttled, whether
     * or not the account exists */
    if (auth_throttle_check(tx, subject, e) != 0) goto fail;
    if (auth_throttle_fail(tx, subject, auth_settings(call->env)->max_failures, e) != 0) goto fail;
    if (club[0]) {
        const char *p[] = {club, email};
        r = db_exec(tx,
                    "SELECT id FROM auth.users WHERE club_id = $1::uuid AND lower(email) "
                    "= lower($2) AND status = 'active'",
                    2, p, e);
        if (!r) goto fail;
        if (PQntuples(r) == 1) {
            char user_id[40];
            snprintf(user_id, sizeof user_id, "%s", PQgetvalue(r, 0, 0));
            if (issue_token(tx, auth_settings(call->env), club, user_id, "reset_password",
                            auth_settings(call->env)->reset_ttl_s, token_id, expires,
                            sizeof expires, e) != 0 ||
                auth_audit(tx, call->caller, club, user_id, "password_reset_requested", NULL, e) !=
                    0 ||
                svc_emit(call, tx, "auth.password_reset_requested", club,
                         json_pack("{s:s, s:s, s:s, s:s}", "user_id", user_id, "club_id", club,
                                   "token_id", token_id, "expires_at", expires),
                         e) != 0)
                goto fail;
        }
        PQclear(r);
        r = NULL;
    }
    if (db_commit(tx, e) != 0) return -1;
    *out = json_pack("{s:s}", "status", "accepted");
    return 0;
fail:
    PQclear(r);
    db_rollback(tx);
    return -1;
}

int auth_password_reset(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *tok = json_string_value(json_object_get(in, "token"));
    const char *password = json_string_value(json_object_get(in, "password"));
    char club[40], user_id[40], email[256], hash[PASSWORD_HASH_MAX];
    db_tx_t *tx = NULL;
    json_t *ended = NULL;
    if (consume_token(call, tok, "reset_password", &tx, club, user_id, email, e) != 0) return -1;
    if (new_password_hash(password, email, hash, e) != 0) goto fail;
    const char *p[] = {club, user_id, hash};
    if (db_exec_cmd(tx,
                    "UPDATE auth.users SET password_hash = $3, email_verified_at = "
                    "coalesce(email_verified_at, now()), updated_at = now() WHERE club_id = "
                    "$1::uuid AND id = $2::uuid",
                    3, p, e) < 0 ||
        auth_revoke_user_sessions(tx, club, user_id, "password_reset", NULL, &ended, e) < 0 ||
        auth_audit(tx, call->caller, club, user_id, "password_reset", NULL, e) != 0 ||
        svc_emit(call, tx, "auth.password_reset", club, auth_me_event_data(club, user_id), e) != 0)
        goto fail;
    if (db_commit(tx, e) != 0) {
        json_decref(ended);
        return -1;
    }
    auth_me_changed(club, user_id);
    auth_revoked_publish(call->env, ended, NULL);
    json_decref(ended);
    *out = json_pack("{s:s}", "status", "password_changed");
    return 0;
fail:
    json_decref(ended);
    db_rollback(tx);
    return -1;
}

int auth_password_change(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *cur = json_string_value(json_object_get(in, "current_password"));
    const char *np = json_string_value(json_object_get(in, "new_password"));
    const char *club = auth_caller_club(call->caller);
    char stored[PASSWORD_HASH_MAX] = "", email[256] = "", hash[PASSWORD_HASH_MAX];
    db_tx_t *tx = NULL;
    json_t *ended = NULL; /* the other sessions, ended */
    long long ended_n = -1;
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    const char *p[] = {club, call->caller->user_id};
    PGresult *r = db_exec(tx,
                          "SELECT password_hash, email FROM auth.users WHERE club_id = $1::uuid "
                          "AND id = $2::uuid AND status = 'active' FOR UPDATE",
                          2, p, e);
    if (!r) goto fail;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        snprintf(stored, sizeof stored, "%s", PQgetvalue(r, 0, 0));
        snprintf(email, sizeof email, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    if (!stored[0] || password_verify(cur, stored, NULL, e) != 0) {
        err_set(e, 401, "invalid_credentials", "current_password",
                "The current password is not correct.");
        goto fail;
    }
    if (new_password_hash(np, email, hash, e) != 0) {
        snprintf(e->field, sizeof e->field, "new_password");
        goto fail;
    }
    const char *q[] = {club, call->caller->user_id, hash};
    /* every other session ends (a stolen one must not outlive the change); this one stays */
    if (db_exec_cmd(tx,
                    "UPDATE auth.users SET password_hash = $3, updated_at = now() WHERE club_id "
                    "= $1::uuid AND id = $2::uuid",
                    3, q, e) < 0 ||
        (ended_n = auth_revoke_user_sessions(tx, club, call->caller->user_id, "password_changed",
                                             call->caller->session_id, &ended, e)) < 0 ||
        auth_audit(tx, call->caller, club, call->caller->user_id, "password_changed",
                   json_pack("{s:I}", "sessions_revoked", ended_n), e) != 0)
        goto fail;
    if (db_commit(tx, e) != 0) {
        json_decref(ended);
        return -1;
    }
    auth_revoked_publish(call->env, ended, NULL);
    json_decref(ended);
    *out = json_pack("{s:s, s:I}", "status", "password_changed", "sessions_revoked", ended_n);
    return 0;
fail:
    json_decref(ended);
    db_rollback(tx);
    return -1;
}

/* ---------------------------------------------------------------- email verification */

int auth_email_verify_request(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = auth_caller_club(call->caller);
    char token_id[40], expires[40];
    db_tx_t *tx = NULL;
    (void)in;
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    const char *p[] = {club, call->caller->user_id};
    PGresult *r = db_exec(tx,
                          "SELECT email, email_verified_at IS NOT NULL FROM auth.users WHERE "
                          "club_id = $1::uuid AND id = $2::uuid",
                          2, p, e);
    if (!r) goto fail;
    if (PQntuples(r) != 1) {
        PQclear(r);
        err_set(e, 401, "unauthenticated", "", "the signed-in account no longer exists");
        goto fail;
    }
    int verified = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    if (!verified) {
        if (issue_token(tx, auth_settings(call->env), club, call->caller->user_id, "verify_email",
                        VERIFY_TTL, token_id, expires, sizeof expires, e) != 0 ||
            svc_emit(call, tx, "auth.email_verification_requested", club,
                     json_pack("{s:s, s:s, s:s, s:s}", "user_id", call->caller->user_id, "club_id",
                               club, "token_id", token_id, "expires_at", expires),
                     e) != 0)
            goto fail;
    }
    if (db_commit(tx, e) != 0) return -1;
    *out = json_pack("{s:s}", "status", verified ? "already_verified" : "accepted");
    return 0;
fail:
    db_rollback(tx);
    return -1;
}

int auth_email_verify(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *tok = json_string_value(json_object_get(in, "token"));
    char club[40], user_id[40], email[256];
    db_tx_t *tx = NULL;
    if (consume_token(call, tok, "verify_email", &tx, club, user_id, email, e) != 0) return -1;
    const char *p[] = {club, user_id};
    if (db_exec_cmd(tx,
                    "UPDATE auth.users SET email_verified_at = now(), updated_at = now() WHERE "
                    "club_id = $1::uuid AND id = $2::uuid",
                    2, p, e) < 0 ||
        auth_audit(tx, call->caller, club, user_id, "email_verified", NULL, e) != 0 ||
        svc_emit(call, tx, "auth.email_verified", club, auth_me_event_data(club, user_id), e) !=
            0) {
        db_rollback(tx);
        return -1;
    }
    if (db_commit(tx, e) != 0) return -1;
    auth_me_changed(club, user_id);
    *out = json_pack("{s:s, s:s}", "status", "verified", "email", email);
    return 0;
}

/* ---------------------------------------------------------------- admin */

/* Users visible to the caller: its club's (RLS), or every club's for a network admin. */
int auth_users_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    db_tx_t *tx = NULL;
    (void)in;
    if (svc_begin(call, &tx, e) != 0) return -1;
    json_t *items = db_query_json(
        tx,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', u.id, 'email', u.email, 'club_id', "
        "CASE WHEN u.club_id = '" AUTH_NETWORK_CLUB "' THEN NULL ELSE u.club_id END, 'status', "
        "u.status, 'roles', coalesce((SELECT jsonb_agg(role ORDER BY role) FROM auth.user_roles "
        "r WHERE r.club_id = u.club_id AND r.user_id = u.id), '[]'), 'created_at', u.created_at) "
        "ORDER BY u.created_at, u.id), '[]')::text FROM (SELECT * FROM auth.users ORDER BY "
        "created_at, id LIMIT 500) u",
        0, NULL, e);
    if (!items) {
        db_rollback(tx);
        return -1;
    }
    *out = json_pack("{s:o}", "items", items);
    return db_commit(tx, e);
}

/* ---------------------------------------------------------------- bootstrap */

static int create_user(db_pool_t *db, const char *club, const char *email, const char *password,
                       const char *role, int must_be_new, char *id_out, err_t *e) {
    char hash[PASSWORD_HASH_MAX];
    db_tx_t *tx = NULL;
    if (new_password_hash(password, email, hash, e) != 0) return -1;
    db_scope_t s = {.club_id = club};
    if (db_begin(db, &s, &tx, e) != 0) return -1;
    const char *p[] = {club, email, hash, role};
    PGresult *r = db_exec(tx,
                          "INSERT INTO auth.users (club_id, email, password_hash, status, "
                          "email_verified_at) VALUES ($1::uuid, $2, $3, 'active', now()) ON "
                          "CONFLICT (club_id, lower(email)) DO NOTHING RETURNING id",
                          3, p, e);
    if (!r) goto fail;
    int created = PQntuples(r) == 1;
    PQclear(r);
    if (!created) {
        if (must_be_new) {
            err_set(e, 409, "conflict", "email", "an account with this email already exists");
            goto fail;
        }
        r = db_exec(tx,
                    "SELECT id FROM auth.users WHERE club_id = $1::uuid AND lower(email) = "
                    "lower($2)",
                    2, p, e);
        if (!r) goto fail;
        if (id_out) snprintf(id_out, 37, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        return db_commit(tx, e) == 0 ? 1 : -1;
    }
    r = db_exec(tx,
                "INSERT INTO auth.user_roles (club_id, user_id, role) SELECT $1::uuid, id, $3 "
                "FROM auth.users WHERE club_id = $1::uuid AND lower(email) = lower($2) RETURNING "
                "user_id",
                3, (const char *const[]){club, email, role}, e);
    if (!r) goto fail;
    if (id_out) snprintf(id_out, 37, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return db_commit(tx, e);
fail:
    db_rollback(tx);
    return -1;
}

int auth_create_network_admin(db_pool_t *db, const char *email, const char *password, char *id_out,
                              err_t *e) {
    if (!jsonx_is_email(email)) return err_invalid(e, "email", "email must be an email address");
    return create_user(db, AUTH_NETWORK_CLUB, email, password, "network_admin", 1, id_out, e);
}

int auth_create_club_user(db_pool_t *db, const char *club_id, const char *email,
                          const char *password, const char *role, char *id_out, err_t *e) {
    if (!jsonx_is_email(email)) return err_invalid(e, "email", "email must be an email address");
    if (!rbac_is_role(role) || strcmp(role, "network_admin") == 0)
        return err_invalid(e, "role", "role must be a club role");
    int rc = create_user(db, club_id, email, password, role, 0, id_out, e);
    return rc < 0 ? -1 : 0;
}
