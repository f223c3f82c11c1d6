/* auth_mfa: see auth_mfa.h. */
#include "services/auth/auth_mfa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/json.h"
#include "services/auth/auth_me.h"
#include "services/auth/auth_sessions.h"
#include "services/auth/auth_util.h"
#include "lib/credentials/password.h"
#include "lib/credentials/totp.h"

#define MFA_ISSUER "Reciprocal Clubs"
#define MFA_MAX_ATTEMPTS 5

int auth_validate_mfa_code(json_t *in, err_t *e) {
    static const char *const keys[] = {"code", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return jsonx_string(in, "code", 1, 6, 6, &s, e);
}

int auth_validate_mfa_verify(json_t *in, err_t *e) {
    static const char *const keys[] = {"mfa_token", "code", "recovery_code", NULL};
    const char *code, *rc;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (auth_v_token(in, "mfa_token", e) != 0) return -1;
    if (jsonx_string(in, "code", 0, 6, 6, &code, e) != 0) return -1;
    if (jsonx_string(in, "recovery_code", 0, 16, 24, &rc, e) != 0) return -1;
    if (!code == !rc)
        return err_set(e, 400, "missing_field", "code", "give either code or recovery_code");
    return 0;
}

int auth_validate_mfa_disable(json_t *in, err_t *e) {
    static const char *const keys[] = {"password", "code", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (auth_v_password(in, "password", e) != 0) return -1;
    return jsonx_string(in, "code", 1, 6, 6, &s, e);
}

/* The user's TOTP row: decrypted secret, last step, confirmed flag, recovery salt. */
typedef struct mfa_row {
    unsigned char secret[TOTP_MAX_SECRET_LEN];
    size_t secret_len;
    long long last_step;
    int confirmed;
    unsigned char salt[TOTP_RECOVERY_SALT_LEN];
    int has_salt;
} mfa_row_t;

/* 1 when found, 0 when not enrolled, -1 on error. */
static int load_row(const auth_settings_t *as, db_tx_t *tx, const char *club, const char *user_id,
                    mfa_row_t *m, err_t *e) {
    memset(m, 0, sizeof *m);
    const char *p[] = {club, user_id};
    PGresult *r = db_exec(tx,
                          "SELECT secret_enc, last_step, confirmed_at IS NOT NULL, recovery_salt "
                          "FROM auth.mfa_totp WHERE club_id = $1::uuid AND user_id = $2::uuid "
                          "FOR UPDATE",
                          2, p, e);
    if (!r) return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return 0;
    }
    size_t n = 0, pn = 0;
    unsigned char *enc = auth_bytea_decode(PQgetvalue(r, 0, 0), &n), *pt = NULL;
    int ok = enc && auth_open(as, enc, n, &pt, &pn, e) == 0 && pn <= sizeof m->secret;
    free(enc);
    if (ok) {
        memcpy(m->secret, pt, pn);
        m->secret_len = pn;
    }
    if (pt) {
        sodium_memzero(pt, pn);
        free(pt);
    }
    m->last_step = atoll(PQgetvalue(r, 0, 1));
    m->confirmed = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    if (!PQgetisnull(r, 0, 3)) {
        size_t sn = 0;
        unsigned char *salt = auth_bytea_decode(PQgetvalue(r, 0, 3), &sn);
        if (salt && sn == TOTP_RECOVERY_SALT_LEN) {
            memcpy(m->salt, salt, sn);
            m->has_salt = 1;
        }
        free(salt);
    }
    PQclear(r);
    if (!ok) {
        if (!e->status) err_set(e, 500, "internal", "", "stored TOTP secret is unreadable");
        return -1;
    }
    return 1;
}

/* Accepts a code and stores its step atomically (a concurrent use of the same code loses). */
static int accept_code(db_tx_t *tx, const char *club, const char *user_id, const mfa_row_t *m,
                       const char *code, err_t *e) {
    int64_t step = 0;
    if (totp_verify(m->secret, m->secret_len, code, (int64_t)time(NULL), m->last_step, &step, e) !=
        0)
        return -1;
    char steps[32];
    snprintf(steps, sizeof steps, "%lld", (long long)step);
    const char *p[] = {club, user_id, steps};
    long long n = db_exec_cmd(tx,
                              "UPDATE auth.mfa_totp SET last_step = $3::bigint WHERE club_id = "
                              "$1::uuid AND user_id = $2::uuid AND last_step < $3::bigint",
                              3, p, e);
    if (n < 0) return -1;
    if (n == 0) return err_set(e, 401, "mfa_code_replayed", "code", "This code was already used.");
    return 0;
}

/* Replaces the recovery codes; *codes gets the 10 new ones (JSON array). */
static int new_recovery_codes(db_tx_t *tx, const char *club, const char *user_id, json_t **codes,
                              err_t *e) {
    char plain[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_CODE_LEN + 1];
    unsigned char salt[TOTP_RECOVERY_SALT_LEN], hashes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_HASH_LEN];
    int rc = -1;
    if (totp_recovery_generate(plain, salt, hashes, e) != 0) return -1;
    char *salt_s = auth_bytea_encode(salt, sizeof salt);
    const char *p[] = {club, user_id, salt_s};
    if (db_exec_cmd(tx,
                    "DELETE FROM auth.recovery_codes WHERE club_id = $1::uuid AND user_id = "
                    "$2::uuid",
                    2, p, e) < 0 ||
        db_exec_cmd(tx,
                    "UPDATE auth.mfa_totp SET recovery_salt = $3::bytea WHERE club_id = $1::uuid "
                    "AND user_id = $2::uuid",
                    3, p, e) < 0)
        goto done;
    *codes = json_array();
    for (int i = 0; i < TOTP_RECOVERY_COUNT; i++) {
        char *h = auth_bytea_encode(hashes[i], TOTP_RECOVERY_HASH_LEN);
        const char *q[] = {club, user_id, h};
        long long n = db_exec_cmd(tx,
                                  "INSERT INTO auth.recovery_codes (club_id, user_id, code_hash) "
                                  "VALUES ($1::uuid, $2::uuid, $3::bytea)",
                                  3, q, e);
        free(h);
        if (n < 0) {
            json_decref(*codes);
            *codes = NULL;
            goto done;
        }
        json_array_append_new(*codes, json_string(plain[i]));
    }
    rc = 0;
done:
    sodium_memzero(plain, sizeof plain);
    free(salt_s);
    return rc;
}

int auth_mfa_enrol(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = auth_caller_club(call->caller);
    const char *user_id = call->caller->user_id;
    unsigned char secret[TOTP_SECRET_LEN], *enc = NULL;
    size_t enc_len = 0;
    char b32[TOTP_SECRET_B32_LEN + 1], *enc_s = NULL, *uri = NULL, *svg = NULL;
    db_tx_t *tx = NULL;
    int rc = -1;
    PGresult *r = NULL;
    (void)in;
    if (auth_conf_require(auth_settings(call->env), e) != 0) return -1;
    if (totp_secret_generate(secret, e) != 0) return -1;
    if (svc_begin_in(call, club, &tx, e) != 0) goto done;
    const char *p[] = {club, user_id};
    r = db_exec(tx,
                "SELECT u.email, m.confirmed_at IS NOT NULL FROM auth.users u LEFT JOIN "
                "auth.mfa_totp m ON m.club_id = u.club_id AND m.user_id = u.id WHERE u.club_id = "
                "$1::uuid AND u.id = $2::uuid",
                2, p, e);
    if (!r) goto done;
    if (PQntuples(r) != 1) {
        err_set(e, 401, "unauthenticated", "", "the signed-in account no longer exists");
        goto done;
    }
    if (strcmp(PQgetvalue(r, 0, 1), "t") == 0) {
        err_set(e, 409, "mfa_already_enabled", "",
                "TOTP is already enabled; disable it first to enrol again");
        goto done;
    }
    if (auth_seal(auth_settings(call->env), secret, sizeof secret, &enc, &enc_len, e) != 0)
        goto done;
    enc_s = auth_bytea_encode(enc, enc_len);
    if (totp_base32_encode(secret, sizeof secret, b32, sizeof b32, e) != 0) goto done;
    uri = totp_uri(MFA_ISSUER, PQgetvalue(r, 0, 0), secret, sizeof secret, e);
    if (!uri) goto done;
    svg = totp_qr_svg(uri, e);
    if (!svg) goto done;
    const char *q[] = {club, user_id, enc_s};
    if (db_exec_cmd(tx,
                    "INSERT INTO auth.mfa_totp (club_id, user_id, secret_enc) VALUES ($1::uuid, "
                    "$2::uuid, $3::bytea) ON CONFLICT (club_id, user_id) DO UPDATE SET secret_enc "
                    "= EXCLUDED.secret_enc, last_step = -1, confirmed_at = NULL, created_at = "
                    "now()",
                    3, q, e) < 0)
        goto done;
    if (db_tx_commit(&tx, e) != 0) goto done;
    *out = json_pack("{s:s, s:s, s:s}", "secret", b32, "otpauth_uri", uri, "qr_svg", svg);
    rc = 0;
done:
    PQclear(r);
    db_tx_rollback(&tx);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(b32, sizeof b32);
    free(enc), free(enc_s), free(uri), free(svg);
    return rc;
}

int auth_mfa_confirm(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = auth_caller_club(call->caller);
    const char *user_id = call->caller->user_id;
    const char *code = json_string_value(json_object_get(in, "code"));
    mfa_row_t m;
    db_tx_t *tx = NULL;
    json_t *codes = NULL;
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    int found = load_row(auth_settings(call->env), tx, club, user_id, &m, e);
    if (found < 0) goto fail;
    if (!found || m.confirmed) {
        err_set(e, 409, found ? "mfa_already_enabled" : "mfa_not_enrolled", "",
                found ? "TOTP is already enabled"
                      : "enrol first (POST /api/v1/auth/mfa/totp/enrol)");
        goto fail;
    }
    if (accept_code(tx, club, user_id, &m, code, e) != 0) goto fail;
    const char *p[] = {club, user_id};
    if (db_exec_cmd(tx,
                    "UPDATE auth.mfa_totp SET confirmed_at = now() WHERE club_id = $1::uuid AND "
                    "user_id = $2::uuid",
                    2, p, e) < 0)
        goto fail;
    if (new_recovery_codes(tx, club, user_id, &codes, e) != 0) goto fail;
    if (auth_audit(tx, call->caller, club, user_id, "mfa_enabled", NULL, e) != 0 ||
        svc_emit(call, tx, "auth.mfa_enabled", club, auth_me_event_data(club, user_id), e) != 0)
        goto fail;
    if (db_commit(tx, e) != 0) {
        json_decref(codes);
        return -1;
    }
    auth_me_changed(club, user_id);
    sodium_memzero(&m, sizeof m);
    *out = json_pack("{s:b, s:o}", "mfa_enabled", 1, "recovery_codes", codes);
    return 0;
fail:
    sodium_memzero(&m, sizeof m);
    json_decref(codes);
    db_rollback(tx);
    return -1;
}

/* Second login step. Failed attempts count against the challenge (5 at most) and against the
 * account's throttle, and are committed before the error is returned. */
int auth_mfa_verify(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *tok = json_string_value(json_object_get(in, "mfa_token"));
    const char *code = json_string_value(json_object_get(in, "code"));
    const char *rcode = json_string_value(json_object_get(in, "recovery_code"));
    char hash[AUTH_HASH_HEX], club[40], user_id[40], tok_id[40], subject[128];
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    mfa_row_t m;
    memset(&m, 0, sizeof m);
    if (auth_conf_require(auth_settings(call->env), e) != 0) return -1;
    auth_sha256_hex(tok, strlen(tok), hash);
    if (auth_token_club(call->env, "mfa_challenge", hash, club, e) != 0) return -1;
    if (!club[0])
        return err_set(e, 401, "invalid_mfa_token", "mfa_token",
                       "The sign-in step has expired; sign in again.");
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    const char *p[] = {club, hash};
    r = db_exec(tx,
                "SELECT id, user_id FROM auth.one_time_tokens WHERE club_id = $1::uuid AND "
                "token_hash = $2 AND purpose = 'mfa_challenge' AND used_at IS NULL AND expires_at "
                "> now() AND attempts < 5 FOR UPDATE",
                2, p, e);
    if (!r) goto fail;
    if (PQntuples(r) != 1) {
        err_set(e, 401, "invalid_mfa_token", "mfa_token",
                "The sign-in step has expired; sign in again.");
        goto fail;
    }
    snprintf(tok_id, sizeof tok_id, "%s", PQgetvalue(r, 0, 0));
    snprintf(user_id, sizeof user_id, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    r = NULL;
    snprintf(subject, sizeof subject, "mfa|%s|%s", club, user_id);
    if (auth_throttle_check(tx, subject, e) != 0) goto fail;
    int found = load_row(auth_settings(call->env), tx, club, user_id, &m, e);
    if (found < 0) goto fail;
    err_t ce = {0};
    int ok = 0;
    if (found && m.confirmed && code) {
        ok = accept_code(tx, club, user_id, &m, code, &ce) == 0;
    } else if (found && m.confirmed && rcode && m.has_salt) {
        const char *q[] = {club, user_id};
        r = db_exec(tx,
                    "SELECT code_hash FROM auth.recovery_codes WHERE club_id = $1::uuid AND "
                    "user_id = $2::uuid",
                    2, q, e);
        if (!r) goto fail;
        unsigned char hashes[TOTP_RECOVERY_COUNT * 4][TOTP_RECOVERY_HASH_LEN];
        size_t n = 0;
        for (int i = 0; i < PQntuples(r) && n < TOTP_RECOVERY_COUNT * 4; i++) {
            size_t hl = 0;
            unsigned char *h = auth_bytea_decode(PQgetvalue(r, i, 0), &hl);
            if (h && hl == TOTP_RECOVERY_HASH_LEN) memcpy(hashes[n++], h, hl);
            free(h);
        }
        PQclear(r);
        r = NULL;
        size_t idx = 0;
        if (n > 0 && totp_recovery_verify(rcode, m.salt,
                                          (const unsigned char(*)[TOTP_RECOVERY_HASH_LEN])hashes, n,
                                          &idx, &ce) == 0) {
            char *h = auth_bytea_encode(hashes[idx], TOTP_RECOVERY_HASH_LEN);
            const char *d[] = {club, user_id, h};
            long long del = db_exec_cmd(tx,
                                        "DELETE FROM auth.recovery_codes WHERE club_id = "
                                        "$1::uuid AND user_id = $2::uuid AND code_hash = "
                                        "$3::bytea",
                                        3, d, e);
            free(h);
            if (del < 0) goto fail;
            ok = del == 1;
            if (ok &&
                auth_audit(tx, call->caller, club, user_id, "mfa_recovery_code_used", NULL, e) != 0)
                goto fail;
        } else if (!ce.status) {
            err_set(&ce, 401, "mfa_code_invalid", "recovery_code",
                    "The recovery code is not valid.");
        }
    } else {
        err_set(&ce, 401, "mfa_code_invalid", "code", "The code is not valid.");
    }
    if (!ok) {
        if (ce.status >= 500) {
            *e = ce;
            goto fail;
        }
        const char *q[] = {club, tok_id};
        if (db_exec_cmd(tx,
                        "UPDATE auth.one_time_tokens SET attempts = attempts + 1 WHERE club_id = "
                        "$1::uuid AND id = $2::uuid",
                        2, q, e) < 0 ||
            auth_throttle_fail(tx, subject, auth_settings(call->env)->max_failures, e) != 0 ||
            auth_audit(tx, call->caller, club, user_id, "mfa_failed", NULL, e) != 0)
            goto fail;
        if (db_commit(tx, e) != 0) return -1;
        sodium_memzero(&m, sizeof m);
        *e = ce;
        return -1;
    }
    const char *q[] = {club, tok_id};
    if (db_exec_cmd(tx,
                    "UPDATE auth.one_time_tokens SET used_at = now() WHERE club_id = $1::uuid AND "
                    "id = $2::uuid",
                    2, q, e) < 0 ||
        auth_throttle_reset(tx, subject, e) != 0)
        goto fail;
    if (auth_open_session(call, tx, club, user_id, 1, out, e) != 0) goto fail;
    sodium_memzero(&m, sizeof m);
    if (db_commit(tx, e) != 0) {
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return 0;
fail:
    sodium_memzero(&m, sizeof m);
    PQclear(r);
    db_rollback(tx);
    return -1;
}

int auth_mfa_disable(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = auth_caller_club(call->caller);
    const char *user_id = call->caller->user_id;
    const char *password = json_string_value(json_object_get(in, "password"));
    const char *code = json_string_value(json_object_get(in, "code"));
    char stored[PASSWORD_HASH_MAX] = "";
    mfa_row_t m;
    db_tx_t *tx = NULL;
    memset(&m, 0, sizeof m);
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    const char *p[] = {club, user_id};
    PGresult *r = db_exec(tx,
                          "SELECT password_hash FROM auth.users WHERE club_id = $1::uuid AND id = "
                          "$2::uuid AND password_hash IS NOT NULL",
                          2, p, e);
    if (!r) goto fail;
    if (PQntuples(r) == 1) snprintf(stored, sizeof stored, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!stored[0] || password_verify(password, stored, NULL, e) != 0) {
        err_set(e, 401, "invalid_credentials", "password", "The password is not correct.");
        goto fail;
    }
    int found = load_row(auth_settings(call->env), tx, club, user_id, &m, e);
    if (found < 0) goto fail;
    if (!found || !m.confirmed) {
        err_set(e, 409, "mfa_not_enabled", "", "TOTP is not enabled");
        goto fail;
    }
    if (accept_code(tx, club, user_id, &m, code, e) != 0) goto fail;
    if (db_exec_cmd(tx, "DELETE FROM auth.mfa_totp WHERE club_id = $1::uuid AND user_id = $2::uuid",
                    2, p, e) < 0 ||
        auth_audit(tx, call->caller, club, user_id, "mfa_disabled", NULL, e) != 0 ||
        svc_emit(call, tx, "auth.mfa_disabled", club, auth_me_event_data(club, user_id), e) != 0)
        goto fail;
    sodium_memzero(&m, sizeof m);
    if (db_commit(tx, e) != 0) return -1;
    auth_me_changed(club, user_id);
    *out = json_pack("{s:b}", "mfa_enabled", 0);
    return 0;
fail:
    sodium_memzero(&m, sizeof m);
    db_rollback(tx);
    return -1;
}

/* New recovery codes (the old ones stop working); needs a current code. */
int auth_mfa_recovery_regenerate(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = auth_caller_club(call->caller);
    const char *user_id = call->caller->user_id;
    const char *code = json_string_value(json_object_get(in, "code"));
    mfa_row_t m;
    db_tx_t *tx = NULL;
    json_t *codes = NULL;
    if (svc_begin_in(call, club, &tx, e) != 0) return -1;
    int found = load_row(auth_settings(call->env), tx, club, user_id, &m, e);
    if (found < 0) goto fail;
    if (!found || !m.confirmed) {
        err_set(e, 409, "mfa_not_enabled", "", "TOTP is not enabled");
        goto fail;
    }
    if (accept_code(tx, club, user_id, &m, code, e) != 0) goto fail;
    if (new_recovery_codes(tx, club, user_id, &codes, e) != 0) goto fail;
    if (auth_audit(tx, call->caller, club, user_id, "mfa_recovery_codes_regenerated", NULL, e) != 0)
        goto fail;
    sodium_memzero(&m, sizeof m);
    if (db_commit(tx, e) != 0) {
        json_decref(codes);
        return -1;
    }
    *out = json_pack("{s:o}", "recovery_codes", codes);
    return 0;
fail:
    sodium_memzero(&m, sizeof m);
    json_decref(codes);
    db_rollback(tx);
    return -1;
}
