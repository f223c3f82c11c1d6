/* cards: see cards.h. */
#include "services/member/cards.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "lib/credentials/qrsvg.h"
#include "lib/credentials/signkey.h"
#include "services/member/member.h"
#include "services/member/member_common.h"

#define CARD_PREFIX "MC1."
#define CARD_TTL_DEFAULT 86400
#define CARD_TTL_MAX 604800
#define CARD_TOKEN_MAX 4096 /* cards_validate_verify admits no longer token */

int cards_validate_get(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "club_id", "ttl_seconds", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (member_valid_club_ref(in, e) != 0) return -1;
    long long ttl;
    if (jsonx_int(in, "ttl_seconds", 0, 60, CARD_TTL_MAX, CARD_TTL_DEFAULT, &ttl, e) != 0)
        return -1;
    return member_valid_id(in, "id", e);
}

int cards_validate_verify(json_t *in, err_t *e) {
    static const char *const keys[] = {"token", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    return jsonx_string(in, "token", 1, 1, CARD_TOKEN_MAX, &s, e);
}

int cards_validate_key(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_string(in, "id", 1, 1, 63, &s, e) != 0) return -1;
    if (!jsonx_is_uuid(s)) return err_set(e, 404, "not_found", "id", "no club with this id");
    return 0;
}

/* ---- keys ---- */

/* RECIPROCAL_CARD_KEK from the module's settings (member.c). */
static int load_kek(const mctx_t *c, unsigned char kek[32], err_t *e) {
    const cfg_key_t *k = &member_settings(c->call->env)->card_kek;
    if (cfg_key_require(k, "RECIPROCAL_CARD_KEK", 503, "card_signing_unconfigured", e) != 0)
        return -1;
    memcpy(kek, k->key, 32);
    return 0;
}

/* A new key pair for the club (the current one from now on). sk: 64 bytes. */
static int new_club_key(mctx_t *c, const unsigned char kek[32], unsigned char sk[64], char kid[40],
                        err_t *e);

/* The club's current (newest, not retired) signing key, created on first use. sk: 64 bytes. */
static int club_signing_key(mctx_t *c, unsigned char sk[64], char kid[40], err_t *e) {
    unsigned char kek[32];
    if (load_kek(c, kek, e) != 0) return -1;
    PGresult *r = db_exec(c->tx,
                          "SELECT k.kid, encode(s.secret_enc, 'hex'), encode(s.nonce, 'hex') FROM "
                          "member.club_keys k JOIN member.club_key_secrets s ON s.club_id = "
                          "k.club_id AND s.kid = k.kid WHERE k.club_id = core.current_club() "
                          "AND k.retired_at IS NULL ORDER BY k.created_at DESC LIMIT 1",
                          0, NULL, e);
    if (!r) goto fail;
    if (PQntuples(r) == 1) {
        snprintf(kid, 40, "%s", PQgetvalue(r, 0, 0));
        int ok =
            signkey_unseal_hex(PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), kek, c->club_id, sk) == 0;
        PQclear(r);
        if (!ok) {
            err_set(e, 500, "card_key_unreadable", "",
                    "the club's card key cannot be decrypted with RECIPROCAL_CARD_KEK");
            goto fail;
        }
        sodium_memzero(kek, sizeof kek);
        return 0;
    }
    PQclear(r);
    int rc = new_club_key(c, kek, sk, kid, e);
    sodium_memzero(kek, sizeof kek);
    return rc;
fail:
    sodium_memzero(kek, sizeof kek);
    sodium_memzero(sk, 64);
    return -1;
}

static int new_club_key(mctx_t *c, const unsigned char kek[32], unsigned char sk[64], char kid[40],
                        err_t *e) {
    signkey_t k;
    signkey_sealed_t sealed;
    if (signkey_generate(&k) != 0 || signkey_seal(k.sk, kek, c->club_id, &sealed) != 0) {
        signkey_wipe(&k);
        return err_set(e, 500, "internal", "", "libsodium failed to make a key");
    }
    char pk_hex[2 * 32 + 3], enc_hex[2 * sizeof sealed.enc + 3],
        nonce_hex[2 * sizeof sealed.nonce + 3];
    signkey_hex(k.pk, sizeof k.pk, pk_hex);
    signkey_hex(sealed.enc, sizeof sealed.enc, enc_hex);
    signkey_hex(sealed.nonce, sizeof sealed.nonce, nonce_hex);
    snprintf(kid, 40, "%s", k.kid);
    memcpy(sk, k.sk, 64);
    signkey_wipe(&k);
    const char *p1[] = {kid, pk_hex};
    const char *p2[] = {kid, enc_hex, nonce_hex};
    if (db_exec_cmd(c->tx,
                    "INSERT INTO member.club_keys (club_id, kid, public_key) VALUES "
                    "(core.current_club(), $1, $2::bytea)",
                    2, p1, e) < 0 ||
        db_exec_cmd(c->tx,
                    "INSERT INTO member.club_key_secrets (club_id, kid, secret_enc, nonce) VALUES "
                    "(core.current_club(), $1, $2::bytea, $3::bytea)",
                    3, p2, e) < 0) {
        sodium_memzero(sk, 64);
        return -1;
    }
    return 0;
}

/* ---- rotation ---- */

int cards_validate_rotate(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return member_valid_club_ref(in, e);
}

int cards_rotate_key(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    unsigned char kek[32], sk[64];
    char kid[40];
    if (member_begin(call, in, &c, e) != 0) return -1;
    if (load_kek(&c, kek, e) != 0) goto fail;
    /* one rotation at a time per club */
    PGresult *r = db_exec(c.tx,
                          "SELECT pg_advisory_xact_lock(hashtext('member.card_key:' || "
                          "core.current_club()::text))",
                          0, NULL, e);
    if (!r) goto fail;
    PQclear(r);
    r = db_exec(c.tx,
                "UPDATE member.club_keys SET retired_at = now() WHERE club_id = "
                "core.current_club() AND retired_at IS NULL RETURNING kid",
                0, NULL, e);
    if (!r) goto fail;
    json_t *retired = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(retired, json_string(PQgetvalue(r, i, 0)));
    PQclear(r);
    if (new_club_key(&c, kek, sk, kid, e) != 0) {
        json_decref(retired);
        goto fail;
    }
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(kek, sizeof kek);
    *out = json_pack("{s:s, s:s, s:o}", "club_id", c.club_id, "kid", kid, "retired", retired);
    if (member_commit(&c, e) != 0) {
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return 0;
fail:
    sodium_memzero(kek, sizeof kek);
    member_rollback(&c);
    return -1;
}

/* ---- issue ---- */

int cards_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    char auth[40], status[16], kid[40];
    unsigned char sk[64];
    /* lifetime: the club's card_ttl_seconds, else RECIPROCAL_CARD_TTL_SECONDS; the request's
     * ttl_seconds may only shorten it */
    const member_settings_t *ms = member_settings(call->env);
    long long ttl = ms->card_ttl_s ? ms->card_ttl_s : CARD_TTL_DEFAULT, want = 0;
    jsonx_int(in, "ttl_seconds", 0, 60, CARD_TTL_MAX, 0, &want, e);
    if (member_begin(call, in, &c, e) != 0) return -1;
    json_t *doc = NULL;
    PGresult *sr = db_exec(c.tx,
                           "SELECT card_ttl_seconds FROM member.settings WHERE club_id = "
                           "core.current_club() AND card_ttl_seconds IS NOT NULL",
                           0, NULL, e);
    if (!sr) goto fail;
    if (PQntuples(sr) == 1) ttl = atoll(PQgetvalue(sr, 0, 0));
    PQclear(sr);
    if (want > 0 && want < ttl) ttl = want;
    doc = member_load(&c, json_string_value(json_object_get(in, "id")), 0, 0, auth, status, e);
    if (!doc) goto fail;
    if (member_require_read(&c, auth, e) != 0) {
        if (e->status == 403) err_set(e, 404, "not_found", "id", "no member with this id");
        goto fail;
    }
    if (strcmp(status, "active") != 0) {
        err_set(e, 409, "conflict", "status", "cards are issued to active members; this one is %s",
                status);
        goto fail;
    }
    if (club_signing_key(&c, sk, kid, e) != 0) goto fail;
    long long now = (long long)time(NULL);
    /* the key stays published until the last token it signed has expired */
    char texs[24];
    snprintf(texs, sizeof texs, "%lld", now + ttl);
    const char *pk_args[] = {kid, texs};
    if (db_exec_cmd(c.tx,
                    "UPDATE member.club_keys SET last_token_expires_at = greatest("
                    "last_token_expires_at, to_timestamp($2::bigint)) WHERE club_id = "
                    "core.current_club() AND kid = $1",
                    2, pk_args, e) < 0) {
        sodium_memzero(sk, sizeof sk);
        goto fail;
    }
    json_t *payload = json_pack(
        "{s:i, s:s, s:s, s:O, s:O, s:O, s:O, s:O, s:I, s:I}", "v", 1, "kid", kid, "club", c.club_id,
        "mid", json_object_get(doc, "id"), "num", json_object_get(doc, "member_number"), "cat",
        json_object_get(doc, "category"), "st", json_object_get(doc, "status"), "exp",
        json_object_get(doc, "expires_on"), "iat", (json_int_t)now, "tex", (json_int_t)(now + ttl));
    char *pj = jsonx_dump(payload);
    char *token =
        pj ? signkey_token_sign(CARD_PREFIX, (const unsigned char *)pj, strlen(pj), sk) : NULL;
    sodium_memzero(sk, sizeof sk);
    free(pj);
    if (!token) {
        json_decref(payload);
        err_set(e, 500, "internal", "", "out of memory");
        goto fail;
    }
    char *svg = qrsvg_render(token);
    char tex[32];
    time_t t = (time_t)(now + ttl);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(tex, sizeof tex, "%Y-%m-%dT%H:%M:%SZ", &tm);
    *out = json_pack("{s:s, s:s, s:s, s:s?, s:o}", "token", token, "token_expires_at", tex,
                     "format", "MC1 (docs/member.md)", "qr_svg", svg, "card", payload);
    free(token), free(svg);
    json_decref(doc);
    doc = NULL;
    if (member_commit(&c, e) != 0) goto fail;
    return 0;
fail:
    json_decref(doc);
    if (*out) {
        json_decref(*out);
        *out = NULL;
    }
    member_rollback(&c);
    return -1;
}

/* ---- verify ---- */

/* Splits and decodes; *payload gets the parsed payload (even when the signature is bad). */
static int parse_token(const char *token, json_t **payload, unsigned char sig[64],
                       size_t *signed_len) {
    unsigned char *raw = NULL;
    size_t n = 0;
    if (signkey_token_split(token, CARD_TOKEN_MAX, CARD_PREFIX, &raw, &n, sig, signed_len) != 0)
        return -1;
    json_t *j = json_loadb((const char *)raw, n, 0, NULL);
    free(raw);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return -1;
    }
    *payload = j;
    return 0;
}

int card_check_offline(const char *token, const unsigned char pk[32], long long now,
                       json_t **payload, char *reason, size_t cap) {
    json_t *p = NULL;
    unsigned char sig[64];
    size_t sl = 0;
    if (payload) *payload = NULL;
    if (parse_token(token, &p, sig, &sl) != 0) {
        snprintf(reason, cap, "malformed");
        return 0;
    }
    int ok = 0;
    if (!signkey_verify((const unsigned char *)token, sl, sig, pk)) {
        snprintf(reason, cap, "bad_signature");
    } else if (json_integer_value(json_object_get(p, "tex")) <= now) {
        snprintf(reason, cap, "token_expired");
    } else {
        const char *exp = json_string_value(json_object_get(p, "exp"));
        const char *st = json_string_value(json_object_get(p, "st"));
        char today[16];
        time_t t = (time_t)now;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(today, sizeof today, "%Y-%m-%d", &tm);
        if (exp && strcmp(exp, today) < 0)
            snprintf(reason, cap, "membership_expired");
        else if (!st || strcmp(st, "active") != 0)
            snprintf(reason, cap, "member_%s", st ? st : "unknown");
        else {
            snprintf(reason, cap, "ok");
            ok = 1;
        }
    }
    if (payload)
        *payload = p;
    else
        json_decref(p);
    return ok;
}

int cards_verify(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *token = json_string_value(json_object_get(in, "token"));
    json_t *payload = NULL;
    unsigned char sig[64], pk[32];
    size_t sl;
    char reason[48] = "malformed";
    db_tx_t *tx = NULL;
    int valid = 0;
    json_t *current = json_null();
    if (parse_token(token, &payload, sig, &sl) != 0) goto answer;
    const char *club = json_string_value(json_object_get(payload, "club"));
    const char *kid = json_string_value(json_object_get(payload, "kid"));
    const char *mid = json_string_value(json_object_get(payload, "mid"));
    if (!club || !kid || !mid || !jsonx_is_uuid(club) || !jsonx_is_uuid(mid)) goto answer;
    if (svc_begin(call, &tx, e) != 0) {
        json_decref(payload);
        return -1;
    }
    const char *p[] = {club, kid};
    PGresult *r = db_exec(tx,
                          "SELECT encode(public_key, 'hex') FROM member.club_keys WHERE club_id = "
                          "$1::uuid AND kid = $2",
                          2, p, e);
    if (!r) goto fail;
    size_t n = 0;
    int have_key =
        PQntuples(r) == 1 && signkey_unhex(PQgetvalue(r, 0, 0), pk, sizeof pk, &n) == 0 && n == 32;
    PQclear(r);
    if (!have_key) {
        snprintf(reason, sizeof reason, "unknown_key");
        goto done;
    }
    json_t *checked = NULL;
    valid = card_check_offline(token, pk, (long long)time(NULL), &checked, reason, sizeof reason);
    json_decref(checked);
    if (!valid) goto done;
    /* online: the holder's current status and expiry */
    const char *q[] = {club, mid};
    r = db_exec(tx,
                "SELECT status::text, to_char(expires_on, 'YYYY-MM-DD'), expires_on < "
                "current_date FROM member.card_registry WHERE club_id = $1::uuid AND member_id = "
                "$2::uuid",
                2, q, e);
    if (!r) goto fail;
    if (PQntuples(r) == 0) {
        valid = 0;
        snprintf(reason, sizeof reason, "member_not_found");
    } else {
        const char *st = PQgetvalue(r, 0, 0);
        current = json_pack("{s:s, s:s?}", "status", st, "expires_on",
                            PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1));
        if (strcmp(st, "active") != 0) {
            valid = 0;
            snprintf(reason, sizeof reason, "member_%s", st);
        } else if (strcmp(PQgetvalue(r, 0, 2), "t") == 0) {
            valid = 0;
            snprintf(reason, sizeof reason, "membership_expired");
        }
    }
    PQclear(r);
done:
    if (db_tx_commit(&tx, e) != 0) goto fail;
answer:
    *out = json_pack("{s:b, s:s, s:o*, s:o}", "valid", valid, "reason", valid ? "ok" : reason,
                     "card", payload, "current", current);
    return 0;
fail:
    db_rollback(tx);
    json_decref(payload);
    json_decref(current);
    return -1;
}

/* The published keys of the club (current, and retired ones whose last token has not expired):
 * [{"kid","alg","public_key","created_at","retired_at"}], newest first. */
static json_t *published_keys(PGresult *r) {
    json_t *keys = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *k =
            signkey_published_json(PQgetvalue(r, i, 1), PQgetvalue(r, i, 0), PQgetvalue(r, i, 2),
                                   PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3));
        if (k) json_array_append_new(keys, k);
    }
    return keys;
}

int cards_public_key(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    db_tx_t *tx = NULL;
    const char *p[] = {json_string_value(json_object_get(in, "id"))};
    if (svc_begin(call, &tx, e) != 0) return -1;
    PGresult *r = db_row(db_exec(tx, "SELECT 1 FROM member.clubs WHERE id = $1::uuid", 1, p, e), e,
                         "id", "no club with this id");
    if (!r) goto fail;
    PQclear(r);
    r = db_exec(tx,
                "SELECT encode(public_key, 'hex'), kid, to_char(created_at AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), to_char(retired_at AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM member.club_keys WHERE club_id = $1::uuid "
                "AND (retired_at IS NULL OR last_token_expires_at > now()) ORDER BY created_at "
                "DESC",
                1, p, e);
    if (!r) goto fail;
    json_t *keys = published_keys(r);
    PQclear(r);
    *out = json_pack("{s:s, s:s, s:o}", "club_id", p[0], "token_format", "MC1", "keys", keys);
    return db_commit(tx, e);
fail:
    db_rollback(tx);
    return -1;
}
