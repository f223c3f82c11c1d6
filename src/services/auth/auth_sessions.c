/* auth_sessions: see auth_sessions.h. */
#include "services/auth/auth_sessions.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/json.h"
#include "services/auth/auth_keys.h"
#include "services/auth/auth_revoke.h"
#include "services/auth/auth_util.h"
#include "lib/credentials/password.h"
#include "services/auth/rbac.h"

#define MFA_CHALLENGE_TTL 300
#define BAD_CREDENTIALS "The email address or password is not correct."

/* ---------------------------------------------------------------- validation */

int auth_validate_none(json_t *in, err_t *e) {
    static const char *const keys[] = {NULL};
    return jsonx_only_keys(in, keys, "", e);
}

int auth_validate_id(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (jsonx_string(in, "id", 1, 36, 36, &s, e) != 0) return -1;
    if (!jsonx_is_uuid(s)) return err_set(e, 404, "not_found", "id", "no such record");
    return 0;
}

int auth_validate_login(json_t *in, err_t *e) {
    static const char *const keys[] = {"club", "email", "password", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (jsonx_string(in, "club", 0, 1, 63, &s, e) != 0) return -1;
    if (auth_v_email(in, "email", 1, e) != 0) return -1;
    return auth_v_password(in, "password", e);
}

int auth_validate_refresh(json_t *in, err_t *e) {
    static const char *const keys[] = {"refresh_token", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return auth_v_token(in, "refresh_token", e);
}

/* Logout: the refresh token is optional (without it the access token's session ends). */
int auth_validate_logout(json_t *in, err_t *e) {
    static const char *const keys[] = {"refresh_token", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    json_t *t = json_object_get(in, "refresh_token");
    if (!t || json_is_null(t)) {
        json_object_del(in, "refresh_token");
        return 0;
    }
    return auth_v_token(in, "refresh_token", e);
}

/* ---------------------------------------------------------------- helpers */

static void lower_copy(const char *s, char *out, size_t cap) {
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = 0;
}

/* Signs the access token of a user in a session from what the database returned: roles_text
 * (a JSON array of role names) and extra (the custom roles' permissions, space-separated, or
 * NULL). *user_out (may be NULL) gets the user object. */
static char *sign_access(const svc_call_t *call, const char *club, const char *user_id,
                         const char *sid, const char *email, const char *roles_text,
                         const char *extra, json_t **user_out, err_t *e) {
    const auth_settings_t *cf = auth_settings(call->env);
    json_t *roles = json_loads(roles_text, 0, NULL);
    char perms[512];
    if (!roles || rbac_perms_for_roles_ex(roles, extra, perms, sizeof perms) != 0) {
        json_decref(roles);
        err_set(e, 500, "internal", "", "cannot compute permissions");
        return NULL;
    }
    unsigned char rnd[16];
    char jti[33];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(jti, sizeof jti, rnd, sizeof rnd);
    long long now = (long long)time(NULL);
    int network = strcmp(club, AUTH_NETWORK_CLUB) == 0;
    json_t *claims =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:o, s:O, s:s, s:s}", "iss", cf->issuer,
                  "sub", user_id, "aud", cf->audience, "exp", now + cf->access_ttl_s, "iat", now,
                  "nbf", now, "jti", jti, "club_id", network ? json_null() : json_string(club),
                  "roles", roles, "perms", perms, "sid", sid);
    char *tok = claims ? auth_keys_sign(cf, call->env->db, claims, e) : NULL;
    if (tok && user_out)
        *user_out =
            json_pack("{s:s, s:s, s:o, s:O, s:s}", "id", user_id, "email", email, "club_id",
                      network ? json_null() : json_string(club), "roles", roles, "perms", perms);
    json_decref(claims);
    json_decref(roles);
    return tok;
}

/* The access token of a user in a session; *user_out (may be NULL) gets the user object. */
static char *access_token(const svc_call_t *call, db_tx_t *tx, const char *club,
                          const char *user_id, const char *sid, json_t **user_out, err_t *e) {
    if (auth_require_club_active(tx, club, e) != 0) return NULL;
    const char *p[] = {club, user_id};
    PGresult *r = db_exec(tx,
                          "SELECT u.email, coalesce(jsonb_agg(r.role ORDER BY r.role) FILTER "
                          "(WHERE r.role IS NOT NULL), '[]')::text AS roles, string_agg(c.perms, "
                          "' ') AS extra FROM auth.users u LEFT JOIN auth.user_roles r ON "
                          "r.club_id = u.club_id AND r.user_id = u.id LEFT JOIN auth.roles c ON "
                          "c.club_id = r.club_id AND c.name = r.role WHERE u.club_id = $1::uuid "
                          "AND u.id = $2::uuid AND u.status = 'active' GROUP BY u.email",
                          2, p, e);
    if (!r) return NULL;
    if (PQntuples(r) != 1) {
        PQclear(r);
        err_set(e, 401, "invalid_credentials", "", BAD_CREDENTIALS);
        return NULL;
    }
    char *tok = sign_access(call, club, user_id, sid, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
                            PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2), user_out, e);
    PQclear(r);
    return tok;
}

static json_t *token_response(const auth_settings_t *as, const char *access, const char *refresh,
                              const char *sid, json_t *user) {
    return json_pack("{s:s, s:s, s:i, s:s, s:s, s:o}", "access_token", access, "token_type",
                     "Bearer", "expires_in", as->access_ttl_s, "refresh_token", refresh,
                     "session_id", sid, "user", user ? user : json_null());
}

int auth_open_session(const svc_call_t *call, db_tx_t *tx, const char *club_id, const char *user_id,
                      int mfa, json_t **out, err_t *e) {
    const svc_caller_t *c = call->caller;
    char max[16], refresh[AUTH_REFRESH_LEN + 1];
    snprintf(max, sizeof max, "%d", auth_settings(call->env)->session_max_s);
    const char *p[] = {
        club_id,         user_id, c->user_agent[0] ? c->user_agent : NULL, c->ip[0] ? c->ip : NULL,
        mfa ? "t" : "f", max};
    PGresult *r = db_exec(tx,
                          "INSERT INTO auth.sessions (club_id, user_id, user_agent, ip, mfa, "
                          "expires_at) VALUES ($1::uuid, $2::uuid, $3, $4, $5::boolean, now() + "
                          "make_interval(secs => $6::int)) RETURNING id",
                          6, p, e);
    if (!r) return -1;
    char sid[40];
    snprintf(sid, sizeof sid, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (auth_refresh_token_make(auth_settings(call->env), club_id, sid, 0, refresh, e) != 0)
        return -1;
    json_t *user = NULL;
    char *access = access_token(call, tx, club_id, user_id, sid, &user, e);
    if (!access) return -1;
    if (auth_audit(tx, c, club_id, user_id, "login",
                   json_pack("{s:s, s:b}", "session_id", sid, "mfa", mfa), e) != 0 ||
        svc_emit(call, tx, "auth.user_logged_in", club_id,
                 json_pack("{s:s, s:s, s:s, s:b}", "user_id", user_id, "club_id", club_id,
                           "session_id", sid, "mfa", mfa),
                 e) != 0) {
        free(access);
        json_decref(user);
        return -1;
    }
    *out = token_response(auth_settings(call->env), access, refresh, sid, user);
    free(access);
    sodium_memzero(refresh, sizeof refresh);
    return 0;
}

/* ---------------------------------------------------------------- login */

int auth_login(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const auth_settings_t *cf = auth_settings(call->env);
    const char *slug = json_string_value(json_object_get(in, "club"));
    const char *email = json_string_value(json_object_get(in, "email"));
    const char *password = json_string_value(json_object_get(in, "password"));
    char club[40], lemail[256], acct[400], ipkey[128], user_id[40] = "",
                                                       hash[PASSWORD_HASH_MAX] = "";
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    int ok = 0, rehash = 0;
    if (auth_conf_require(auth_settings(call->env), e) != 0) return -1;
    if (slug) {
        if (auth_club_by_slug(call, slug, club, e) != 0) return -1;
    } else {
        snprintf(club, sizeof club, "%s", AUTH_NETWORK_CLUB);
    }
    lower_copy(email, lemail, sizeof lemail);
    snprintf(acct, sizeof acct, "login|%s|%s|%s", club[0] ? club : "none", slug ? slug : "",
             lemail);
    snprintf(ipkey, sizeof ipkey, "ip|%s", call->caller->ip);

    /* 1: throttles and the stored hash, in the club's scope */
    if (club[0]) {
        if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    } else if (svc_begin_in(call, "", &tx, e) != 0) {
        return -1;
    }
    if (auth_throttle_check(tx, acct, e) != 0 || auth_throttle_check(tx, ipkey, e) != 0) goto fail;
    if (club[0]) {
        const char *p[] = {club, email};
        r = db_exec(tx,
                    "SELECT id, password_hash FROM auth.users WHERE club_id = $1::uuid AND "
                    "lower(email) = lower($2) AND status = 'active' AND password_hash IS NOT NULL",
                    2, p, e);
        if (!r) goto fail;
        if (PQntuples(r) == 1) {
            snprintf(user_id, sizeof user_id, "%s", PQgetvalue(r, 0, 0));
            snprintf(hash, sizeof hash, "%s", PQgetvalue(r, 0, 1));
        }
        PQclear(r);
        r = NULL;
    }
    if (db_tx_commit(&tx, e) != 0) goto fail;

    /* 2: the password, outside any transaction (argon2id takes ~20 ms) */
    if (user_id[0]) {
        err_t pe = {0};
        ok = password_verify(password, hash, &rehash, &pe) == 0;
        if (!ok && pe.status >= 500) {
            *e = pe;
            return -1;
        }
    } else {
        password_verify_dummy(password);
    }

    /* 3: record the outcome */
    if (svc_begin_in(call, club[0] ? club : "", &tx, e) != 0) return -1;
    if (!ok) {
        if (auth_throttle_fail(tx, acct, cf->max_failures, e) != 0 ||
            auth_throttle_fail(tx, ipkey, cf->ip_max_failures, e) != 0)
            goto fail;
        if (club[0] && (auth_audit(tx, call->caller, club, user_id[0] ? user_id : NULL,
                                   "login_failed", NULL, e) != 0 ||
                        svc_emit(call, tx, "auth.login_failed", club,
                                 json_pack("{s:s, s:o}", "club_id", club, "user_id",
                                           user_id[0] ? json_string(user_id) : json_null()),
                                 e) != 0))
            goto fail;
        if (db_commit(tx, e) != 0) return -1;
        return err_set(e, 401, "invalid_credentials", "", BAD_CREDENTIALS);
    }
    if (auth_throttle_reset(tx, acct, e) != 0) goto fail;
    if (rehash) {
        char nh[PASSWORD_HASH_MAX];
        if (password_hash(password, nh, e) != 0) goto fail;
        const char *p[] = {club, user_id, nh};
        if (db_exec_cmd(tx,
                        "UPDATE auth.users SET password_hash = $3, updated_at = now() WHERE "
                        "club_id = $1::uuid AND id = $2::uuid",
                        3, p, e) < 0)
            goto fail;
    }
    {
        const char *p[] = {club, user_id};
        r = db_exec(tx,
                    "SELECT 1 FROM auth.mfa_totp WHERE club_id = $1::uuid AND user_id = $2::uuid "
                    "AND confirmed_at IS NOT NULL",
                    2, p, e);
        if (!r) goto fail;
        int mfa = PQntuples(r) == 1;
        PQclear(r);
        r = NULL;
        if (mfa) {
            char tok[AUTH_TOKEN_LEN + 1], th[AUTH_HASH_HEX], ttl[16];
            auth_token_new(tok, e);
            auth_sha256_hex(tok, strlen(tok), th);
            snprintf(ttl, sizeof ttl, "%d", MFA_CHALLENGE_TTL);
            const char *q[] = {club, user_id, th, ttl};
            if (db_exec_cmd(tx,
                            "INSERT INTO auth.one_time_tokens (club_id, user_id, purpose, "
                            "token_hash, expires_at) VALUES ($1::uuid, $2::uuid, 'mfa_challenge', "
                            "$3, now() + make_interval(secs => $4::int))",
                            4, q, e) < 0)
                goto fail;
            if (db_commit(tx, e) != 0) return -1;
            *out = json_pack("{s:b, s:s, s:i}", "mfa_required", 1, "mfa_token", tok, "expires_in",
                             MFA_CHALLENGE_TTL);
            return 0;
        }
    }
    if (auth_open_session(call, tx, club, user_id, 0, out, e) != 0) goto fail;
    if (db_commit(tx, e) != 0) {
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return 0;
fail:
    PQclear(r);
    db_rollback(tx);
    return -1;
}

/* ---------------------------------------------------------------- refresh */

/* Broadcasts one ended session (auth_revoke.h). */
static void publish_session(const svc_call_t *call, const char *sid) {
    json_t *ids = json_pack("[s]", sid);
    auth_revoked_publish(call->env, ids, NULL);
    json_decref(ids);
}

/* Ends a session; the number of sessions it ended (0 when already ended), or -1. */
static long long revoke_session(db_tx_t *tx, const char *club, const char *sid, const char *reason,
                                err_t *e) {
    const char *p[] = {club, sid, reason};
    return db_exec_cmd(tx,
                       "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $3 WHERE "
                       "club_id = $1::uuid AND id = $2::uuid AND revoked_at IS NULL",
                       3, p, e);
}

/* Reuse of a rotated refresh token: someone holds a copy, so the whole family (the session)
 * ends, with its audit row and event when this call ended it. */
static int refresh_reused(const svc_call_t *call, const char *club, const char *sid,
                          const char *user_id, err_t *e) {
    db_tx_t *tx = NULL;
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    long long n = revoke_session(tx, club, sid, "refresh_reuse", e);
    int rc = n < 0 ? -1 : 0;
    if (n > 0 && (auth_audit(tx, call->caller, club, user_id, "refresh_reuse_detected",
                             json_pack("{s:s}", "session_id", sid), e) != 0 ||
                  svc_emit(call, tx, "auth.refresh_reuse_detected", club,
                           json_pack("{s:s, s:s, s:s}", "user_id", user_id, "club_id", club,
                                     "session_id", sid),
                           e) != 0))
        rc = -1;
    if (db_tx_finish(&tx, rc, NULL, e) != 0) return -1;
    publish_session(call, sid);
    return err_set(e, 401, "refresh_token_reused", "",
                   "The refresh token was already used; the session has been revoked.");
}

/* What a refresh answers once the database said `outcome` for the session sid of user_id in
 * club: on "ok", the new access token (email, roles_text, extra: as sign_access) and the refresh
 * token of generation next_gen; otherwise the 401 of that outcome (a reuse first ends the
 * family). */
static int refresh_outcome(const svc_call_t *call, const char *outcome, const char *club,
                           const char *sid, const char *user_id, int next_gen, const char *email,
                           const char *roles_text, const char *extra, json_t **out, err_t *e) {
    const auth_settings_t *as = auth_settings(call->env);
    if (strcmp(outcome, "ok") == 0) {
        char fresh[AUTH_REFRESH_LEN + 1];
        if (auth_refresh_token_make(as, club, sid, next_gen, fresh, e) != 0) return -1;
        json_t *user = NULL;
        char *access = sign_access(call, club, user_id, sid, email, roles_text, extra, &user, e);
        if (!access) return -1;
        *out = token_response(as, access, fresh, sid, user);
        free(access);
        sodium_memzero(fresh, sizeof fresh);
        return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
    }
    if (strcmp(outcome, "reused") == 0) return refresh_reused(call, club, sid, user_id, e);
    if (strcmp(outcome, "expired") == 0 || strcmp(outcome, "idle") == 0) {
        publish_session(call, sid);
        return err_set(e, 401, "session_expired", "", "The session has expired; sign in again.");
    }
    if (strcmp(outcome, "suspended") == 0)
        return err_set(e, 401, "club_suspended", "",
                       "The club is suspended; its accounts cannot sign in.");
    return err_set(e, 401, "invalid_refresh_token", "", "The refresh token is not valid.");
}

/* A token from before auth 0007 (43 characters, a row of auth.refresh_tokens): one statement,
 * one round trip (auth.refresh_rotate, 0004). Its rotation inserts a successor nobody learns
 * (0004's function needs one) and answers a token of the session's generation 0: the session
 * is on the 0007 scheme from then on (its generation was never moved before). */
static int refresh_legacy(const svc_call_t *call, const char *tok, json_t **out, err_t *e) {
    const auth_settings_t *as = auth_settings(call->env);
    char hash[AUTH_HASH_HEX], fresh_hash[AUTH_HASH_HEX], idle[16], fresh[AUTH_TOKEN_LEN + 1];
    auth_sha256_hex(tok, strlen(tok), hash);
    if (auth_token_new(fresh, e) != 0) return -1;
    auth_sha256_hex(fresh, strlen(fresh), fresh_hash);
    sodium_memzero(fresh, sizeof fresh);
    snprintf(idle, sizeof idle, "%d", as->session_idle_s);
    const char *p[] = {hash, fresh_hash, idle};
    db_scope_t scope = {0};
    PGresult *r = db_write(call->env->db, &scope,
                           "SELECT r_outcome, r_club, r_session, r_user, r_email, r_roles, "
                           "r_extra FROM auth.refresh_rotate($1, $2, $3::int)",
                           3, p, e);
    if (!r) return -1;
    int one = PQntuples(r) == 1;
    int rc =
        refresh_outcome(call, one ? PQgetvalue(r, 0, 0) : "invalid", one ? PQgetvalue(r, 0, 1) : "",
                        one ? PQgetvalue(r, 0, 2) : "", one ? PQgetvalue(r, 0, 3) : "", 0,
                        one ? PQgetvalue(r, 0, 4) : "", one ? PQgetvalue(r, 0, 5) : "[]",
                        one && !PQgetisnull(r, 0, 6) ? PQgetvalue(r, 0, 6) : NULL, out, e);
    PQclear(r);
    return rc;
}

/* One statement, one round trip, one row version written (auth.refresh_next, migration 0007):
 * the token names its club, session and generation under the MAC (checked here, before any
 * database work); the function moves the session to the next generation with the session
 * checks and returns what the access token needs; the token is signed after the commit. */
int auth_refresh(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const auth_settings_t *as = auth_settings(call->env);
    const char *tok = json_string_value(json_object_get(in, "refresh_token"));
    char club[37], sid[37], gen_s[16], idle[16];
    int gen;
    if (auth_conf_require(as, e) != 0) return -1;
    /* a signing key in hand before the rotation commits (a failure after it would burn the
     * client's token) */
    if (auth_keys_ready(as, call->env->db, e) != 0) return -1;
    if (strlen(tok) == AUTH_TOKEN_LEN) return refresh_legacy(call, tok, out, e);
    if (!auth_refresh_token_open(as, tok, club, sid, &gen))
        return err_set(e, 401, "invalid_refresh_token", "", "The refresh token is not valid.");
    snprintf(gen_s, sizeof gen_s, "%d", gen);
    snprintf(idle, sizeof idle, "%d", as->session_idle_s);
    const char *p[] = {club, sid, gen_s, idle};
    db_scope_t scope = {.club_id = club};
    PGresult *r = db_write(call->env->db, &scope,
                           "SELECT r_outcome, r_user, r_email, r_roles, r_extra FROM "
                           "auth.refresh_next($1::uuid, $2::uuid, $3::int, $4::int)",
                           4, p, e);
    if (!r) return -1;
    int one = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0);
    int rc = refresh_outcome(call, one ? PQgetvalue(r, 0, 0) : "invalid", club, sid,
                             one ? PQgetvalue(r, 0, 1) : "", gen + 1,
                             one ? PQgetvalue(r, 0, 2) : "", one ? PQgetvalue(r, 0, 3) : "[]",
                             one && !PQgetisnull(r, 0, 4) ? PQgetvalue(r, 0, 4) : NULL, out, e);
    PQclear(r);
    return rc;
}

/* Logout without a refresh token: ends the session of the caller's access token (its `sid`). */
static int logout_current(const svc_call_t *call, err_t *e) {
    const svc_caller_t *c = call->caller;
    db_tx_t *tx = NULL;
    if (!c->user_id[0] || !c->session_id[0])
        return err_set(e, 401, "unauthenticated", "",
                       "send the refresh token, or sign in with an access token of the session");
    const char *club = auth_caller_club(c);
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    const char *p[] = {club, c->user_id, c->session_id};
    long long n = db_exec_cmd(tx,
                              "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = "
                              "'logout' WHERE club_id = $1::uuid AND user_id = $2::uuid AND id = "
                              "$3::uuid AND revoked_at IS NULL",
                              3, p, e);
    if (n < 0 || (n > 0 && auth_audit(tx, c, club, c->user_id, "logout",
                                      json_pack("{s:s}", "session_id", c->session_id), e) != 0)) {
        db_rollback(tx);
        return -1;
    }
    if (db_commit(tx, e) != 0) return -1;
    if (n > 0) publish_session(call, c->session_id);
    return 0;
}

/* Logout: the refresh token names the session to end; without one, the access token's session
 * (the caller's current one) ends. */
int auth_logout(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *tok = json_string_value(json_object_get(in, "refresh_token"));
    char hash[AUTH_HASH_HEX], club[40], tsid[37];
    int gen;
    db_tx_t *tx = NULL;
    (void)out;
    if (!tok) return logout_current(call, e);
    /* a token of 0007 names its session under the MAC; one from before, a refresh_tokens row */
    int named = auth_refresh_token_open(auth_settings(call->env), tok, club, tsid, &gen);
    if (!named) {
        if (strlen(tok) != AUTH_TOKEN_LEN) return 0; /* not a token: nothing to end */
        auth_sha256_hex(tok, strlen(tok), hash);
        if (auth_token_club(call->env, "refresh", hash, club, e) != 0) return -1;
        if (!club[0]) return 0; /* unknown token: nothing to end, same answer */
    }
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    const char *p[] = {club, named ? tsid : hash};
    PGresult *r =
        named ? db_exec(tx,
                        "UPDATE auth.sessions s SET revoked_at = now(), revoked_reason = "
                        "'logout' WHERE s.club_id = $1::uuid AND s.id = $2::uuid AND "
                        "s.revoked_at IS NULL RETURNING s.id, s.user_id",
                        2, p, e)
              : db_exec(tx,
                        "UPDATE auth.sessions s SET revoked_at = now(), revoked_reason = "
                        "'logout' FROM auth.refresh_tokens t WHERE t.club_id = $1::uuid AND "
                        "t.token_hash = $2 AND s.club_id = t.club_id AND s.id = t.session_id "
                        "AND s.revoked_at IS NULL RETURNING s.id, s.user_id",
                        2, p, e);
    if (!r) {
        db_rollback(tx);
        return -1;
    }
    int rc = 0;
    char sid[40] = "";
    if (PQntuples(r) == 1) {
        snprintf(sid, sizeof sid, "%s", PQgetvalue(r, 0, 0));
        rc = auth_audit(tx, call->caller, club, PQgetvalue(r, 0, 1), "logout",
                        json_pack("{s:s}", "session_id", sid), e);
    }
    PQclear(r);
    if (rc != 0) {
        db_rollback(tx);
        return -1;
    }
    if (db_commit(tx, e) != 0) return -1;
    if (sid[0]) publish_session(call, sid);
    return 0;
}

/* ---------------------------------------------------------------- sessions */

int auth_sessions_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    db_tx_t *tx = NULL;
    (void)in;
    const char *club = auth_caller_club(call->caller);
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    char idle[16];
    snprintf(idle, sizeof idle, "%d", auth_settings(call->env)->session_idle_s);
    const char *p[] = {club, call->caller->user_id, call->caller->session_id, idle};
    json_t *items = db_query_json(
        tx,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'user_agent', user_agent, 'ip', "
        "ip, 'mfa', mfa, 'created_at', created_at, 'last_used_at', last_used_at, 'expires_at', "
        "expires_at, 'current', id::text = $3) ORDER BY created_at DESC), '[]')::text FROM "
        "auth.sessions WHERE club_id = $1::uuid AND user_id = $2::uuid AND revoked_at IS NULL "
        "AND expires_at > now() AND last_used_at > now() - make_interval(secs => $4::int)",
        4, p, e);
    if (!items) {
        db_rollback(tx);
        return -1;
    }
    *out = json_pack("{s:o}", "items", items);
    return db_commit(tx, e);
}

int auth_session_delete(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    db_tx_t *tx = NULL;
    (void)out;
    const char *club = auth_caller_club(call->caller);
    const char *id = json_string_value(json_object_get(in, "id"));
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    const char *p[] = {club, call->caller->user_id, id};
    long long n = db_exec_cmd(tx,
                              "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = "
                              "'revoked_by_user' WHERE club_id = $1::uuid AND user_id = $2::uuid "
                              "AND id = $3::uuid AND revoked_at IS NULL",
                              3, p, e);
    if (n < 0) goto fail;
    if (n == 0) {
        err_set(e, 404, "not_found", "id", "no such session");
        goto fail;
    }
    if (auth_audit(tx, call->caller, club, call->caller->user_id, "session_revoked",
                   json_pack("{s:s}", "session_id", id), e) != 0)
        goto fail;
    if (db_commit(tx, e) != 0) return -1;
    publish_session(call, id);
    return 0;
fail:
    db_rollback(tx);
    return -1;
}

/* An admin ends every session of a user: a club admin in its club (RLS), a network admin in
 * any club. */
int auth_user_revoke_sessions(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    db_tx_t *tx = NULL;
    const char *id = json_string_value(json_object_get(in, "id"));
    if (svc_begin(call, &tx, e) != 0) return -1;
    const char *p[] = {id};
    json_t *ids = NULL;
    PGresult *r = db_exec(tx,
                          "WITH s AS (UPDATE auth.sessions SET revoked_at = now(), "
                          "revoked_reason = 'revoked_by_admin' WHERE user_id = $1::uuid AND "
                          "revoked_at IS NULL RETURNING id) SELECT (SELECT coalesce(jsonb_agg(id), "
                          "'[]') FROM s)::text AS ids, (SELECT club_id FROM auth.users WHERE id = "
                          "$1::uuid LIMIT 1)",
                          1, p, e);
    if (!r) goto fail;
    const char *club = db_val(r, 0, "club_id");
    if (!club) {
        PQclear(r);
        err_set(e, 404, "not_found", "id", "no such user");
        goto fail;
    }
    ids = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    long long n = (long long)json_array_size(ids);
    char c[40];
    snprintf(c, sizeof c, "%s", club);
    PQclear(r);
    if (auth_audit(tx, call->caller, c, id, "sessions_revoked_by_admin",
                   json_pack("{s:I}", "sessions", n), e) != 0)
        goto fail;
    if (db_commit(tx, e) != 0) {
        json_decref(ids);
        return -1;
    }
    auth_revoked_publish(call->env, ids, NULL);
    json_decref(ids);
    *out = json_pack("{s:s, s:I}", "user_id", id, "revoked", n);
    return 0;
fail:
    json_decref(ids);
    db_rollback(tx);
    return -1;
}

int auth_jwks(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    *out = auth_keys_jwks_cached(auth_settings(call->env), call->env->db, e);
    return *out ? 0 : -1;
}

int auth_token_contract(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    const auth_settings_t *cf = auth_settings(call->env);
    *out = json_pack("{s:s, s:s, s:i}", "issuer", cf->issuer, "audience", cf->audience,
                     "access_ttl_s", cf->access_ttl_s);
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
}
