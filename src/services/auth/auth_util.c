/* auth_util: see auth_util.h. */
#include "services/auth/auth_util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/json.h"
#include "lib/credentials/password.h"
#include "lib/credentials/throttle.h"

static pthread_once_t g_sodium_once = PTHREAD_ONCE_INIT;
static int g_sodium_ok;

static void sodium_start(void) {
    g_sodium_ok = sodium_init() >= 0;
}

int auth_conf_require(const auth_settings_t *as, err_t *e) {
    pthread_once(&g_sodium_once, sodium_start);
    if (!g_sodium_ok) return err_set(e, 500, "internal", "", "libsodium failed to initialise");
    return cfg_key_require(as ? &as->kek : NULL, "RECIPROCAL_AUTH_KEK", 503, "auth_not_configured",
                           e);
}

int auth_token_new(char out[AUTH_TOKEN_LEN + 1], err_t *e) {
    unsigned char b[32];
    pthread_once(&g_sodium_once, sodium_start);
    randombytes_buf(b, sizeof b);
    sodium_bin2base64(out, AUTH_TOKEN_LEN + 1, b, sizeof b,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(b, sizeof b);
    (void)e;
    return 0;
}

void auth_sha256_hex(const char *s, size_t len, char out[AUTH_HASH_HEX]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)s, len);
    sodium_bin2hex(out, AUTH_HASH_HEX, h, sizeof h);
}

/* ---------------------------------------------------------------- refresh tokens */

#define RT_BODY 36 /* club 16 || session 16 || generation 4 */
#define RT_MAC 16
#define RT_RAW (RT_BODY + RT_MAC)

static void rt_mac(const auth_settings_t *as, const unsigned char body[RT_BODY],
                   unsigned char mac[RT_MAC]) {
    unsigned char key[32], full[crypto_auth_hmacsha256_BYTES];
    crypto_kdf_derive_from_key(key, sizeof key, 1, "rtokens1", as->kek.key);
    crypto_auth_hmacsha256(full, body, RT_BODY, key);
    memcpy(mac, full, RT_MAC);
    sodium_memzero(key, sizeof key);
}

static int uuid_bin(const char *s, unsigned char out[16]) {
    size_t n = 0;
    const char *end = NULL;
    return strlen(s) == 36 && sodium_hex2bin(out, 16, s, 36, "-", &n, &end) == 0 && n == 16 &&
                   *end == 0
               ? 0
               : -1;
}

static void uuid_text(const unsigned char b[16], char out[37]) {
    char h[33];
    sodium_bin2hex(h, sizeof h, b, 16);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

int auth_refresh_token_make(const auth_settings_t *as, const char *club, const char *sid, int gen,
                            char out[AUTH_REFRESH_LEN + 1], err_t *e) {
    unsigned char raw[RT_RAW];
    if (auth_conf_require(as, e) != 0) return -1;
    if (gen < 0 || uuid_bin(club, raw) != 0 || uuid_bin(sid, raw + 16) != 0)
        return err_set(e, 500, "internal", "", "bad refresh token parts");
    for (int i = 0; i < 4; i++)
        raw[32 + i] = (unsigned char)((unsigned)gen >> (24 - 8 * i));
    rt_mac(as, raw, raw + RT_BODY);
    sodium_bin2base64(out, AUTH_REFRESH_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return 0;
}

int auth_refresh_token_open(const auth_settings_t *as, const char *tok, char club[37], char sid[37],
                            int *gen) {
    unsigned char raw[RT_RAW], mac[RT_MAC];
    size_t n = 0;
    if (!as || !as->kek.set || strlen(tok) != AUTH_REFRESH_LEN ||
        sodium_base642bin(raw, sizeof raw, tok, AUTH_REFRESH_LEN, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n != RT_RAW)
        return 0;
    rt_mac(as, raw, mac);
    if (sodium_memcmp(mac, raw + RT_BODY, RT_MAC) != 0 || (raw[32] & 0x80)) return 0;
    uuid_text(raw, club);
    uuid_text(raw + 16, sid);
    *gen = (int)((unsigned)raw[32] << 24 | (unsigned)raw[33] << 16 | (unsigned)raw[34] << 8 |
                 (unsigned)raw[35]);
    return 1;
}

int auth_seal(const auth_settings_t *as, const unsigned char *pt, size_t n, unsigned char **out,
              size_t *out_len, err_t *e) {
    if (auth_conf_require(as, e) != 0) return -1;
    size_t len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
    unsigned char *c = malloc(len);
    if (!c) return err_set(e, 500, "internal", "", "out of memory");
    randombytes_buf(c, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(c + crypto_secretbox_NONCEBYTES, pt, n, c, as->kek.key);
    *out = c;
    *out_len = len;
    return 0;
}

int auth_open(const auth_settings_t *as, const unsigned char *ct, size_t n, unsigned char **out,
              size_t *out_len, err_t *e) {
    if (auth_conf_require(as, e) != 0) return -1;
    if (n < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return err_set(e, 500, "internal", "", "sealed secret is truncated");
    size_t len = n - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    unsigned char *p = malloc(len + 1);
    if (!p) return err_set(e, 500, "internal", "", "out of memory");
    if (crypto_secretbox_open_easy(p, ct + crypto_secretbox_NONCEBYTES,
                                   n - crypto_secretbox_NONCEBYTES, ct, as->kek.key) != 0) {
        free(p);
        return err_set(e, 500, "kek_mismatch", "",
                       "a stored secret does not decrypt with RECIPROCAL_AUTH_KEK (wrong key?)");
    }
    p[len] = 0;
    *out = p;
    *out_len = len;
    return 0;
}

char *auth_bytea_encode(const unsigned char *b, size_t n) {
    char *s = malloc(2 * n + 3);
    if (!s) return NULL;
    s[0] = '\\';
    s[1] = 'x';
    sodium_bin2hex(s + 2, 2 * n + 1, b, n);
    return s;
}

unsigned char *auth_bytea_decode(const char *s, size_t *n) {
    if (!s || s[0] != '\\' || s[1] != 'x') return NULL;
    size_t hl = strlen(s + 2);
    unsigned char *b = malloc(hl / 2 + 1);
    if (!b) return NULL;
    if (sodium_hex2bin(b, hl / 2 + 1, s + 2, hl, NULL, n, NULL) != 0) {
        free(b);
        return NULL;
    }
    return b;
}

/* ---------------------------------------------------------------- throttling */

#define THROTTLE_BASE_S 15
#define THROTTLE_MAX_S 900

int auth_throttle_check(db_tx_t *tx, const char *subject, err_t *e) {
    char key[AUTH_HASH_HEX];
    auth_sha256_hex(subject, strlen(subject), key);
    const char *p[] = {key};
    PGresult *r = db_exec(tx,
                          "SELECT ceil(extract(epoch FROM locked_until - now()))::int FROM "
                          "auth.throttle WHERE key_hash = $1 AND locked_until > now()",
                          1, p, e);
    if (!r) return -1;
    int wait = PQntuples(r) ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (wait > 0) return throttle_refuse(e, wait);
    return 0;
}

int auth_throttle_fail(db_tx_t *tx, const char *subject, int max, err_t *e) {
    char key[AUTH_HASH_HEX], maxs[16], base[16], cap[16];
    auth_sha256_hex(subject, strlen(subject), key);
    snprintf(maxs, sizeof maxs, "%d", max);
    snprintf(base, sizeof base, "%d", THROTTLE_BASE_S);
    snprintf(cap, sizeof cap, "%d", THROTTLE_MAX_S);
    const char *p[] = {key, maxs, base, cap};
    /* failures older than the lockout cap are forgotten before counting this one */
    long long n = db_exec_cmd(
        tx,
        "INSERT INTO auth.throttle AS t (key_hash, failures, last_failure_at, locked_until) "
        "VALUES ($1, 1, now(), CASE WHEN 1 >= $2::int THEN now() + make_interval(secs => "
        "$3::int) END) "
        "ON CONFLICT (key_hash) DO UPDATE SET "
        "failures = CASE WHEN t.last_failure_at < now() - make_interval(secs => $4::int) "
        "THEN 1 ELSE least(t.failures + 1, 1000) END, last_failure_at = now(), "
        "locked_until = CASE WHEN (CASE WHEN t.last_failure_at < now() - make_interval(secs => "
        "$4::int) THEN 1 ELSE t.failures + 1 END) >= $2::int THEN now() + make_interval(secs => "
        "least($4::float8, $3::float8 * power(2, least(20, (CASE WHEN t.last_failure_at < now() "
        "- make_interval(secs => $4::int) THEN 1 ELSE t.failures + 1 END) - $2::int)))) "
        "ELSE t.locked_until END",
        4, p, e);
    return n < 0 ? -1 : 0;
}

int auth_throttle_reset(db_tx_t *tx, const char *subject, err_t *e) {
    char key[AUTH_HASH_HEX];
    auth_sha256_hex(subject, strlen(subject), key);
    const char *p[] = {key};
    return db_exec_cmd(tx, "DELETE FROM auth.throttle WHERE key_hash = $1", 1, p, e) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- audit and events */

static const char *nz(const char *s) {
    return s && *s ? s : NULL;
}

int auth_audit(db_tx_t *tx, const svc_caller_t *c, const char *club_id, const char *user_id,
               const char *action, json_t *detail, err_t *e) {
    char *d = detail ? jsonx_dump(detail) : NULL;
    json_decref(detail);
    const char *p[] = {club_id, c ? nz(c->user_id) : NULL, nz(user_id),
                       action,  c ? nz(c->ip) : NULL,      d ? d : "{}"};
    long long n = db_exec_cmd(tx,
                              "INSERT INTO auth.audit (club_id, actor_id, user_id, action, ip, "
                              "detail) VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $6::jsonb)",
                              6, p, e);
    free(d);
    return n < 0 ? -1 : 0;
}

const char *auth_caller_club(const svc_caller_t *c) {
    return c->club_id[0] ? c->club_id : AUTH_NETWORK_CLUB;
}

int auth_token_club(const svc_env_t *env, const char *kind, const char *hash, char club[40],
                    err_t *e) {
    db_tx_t *tx = NULL;
    db_scope_t s = {0};
    club[0] = 0;
    if (db_begin(env->db, &s, &tx, e) != 0) return -1;
    const char *p[] = {kind, hash};
    PGresult *r = db_exec(tx, "SELECT auth.token_club($1, $2)", 2, p, e);
    if (!r) {
        db_rollback(tx);
        return -1;
    }
    const char *v = db_val(r, 0, "token_club");
    if (v) snprintf(club, 40, "%s", v);
    PQclear(r);
    return db_commit(tx, e);
}

int auth_club_resolve(const svc_env_t *env, const svc_caller_t *caller, const char *key,
                      const char *value, char club[40], int *active, err_t *e) {
    json_t *in = json_pack("{s:s}", key, value), *out = NULL;
    int status = 0;
    club[0] = 0;
    *active = 0;
    if (!in) return err_set(e, 500, "internal", "", "out of memory");
    int rc = svc_call(env, "member", "resolve_club", caller, in, &status, &out, e);
    json_decref(in);
    json_t *c = json_object_get(out, "club");
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *st = json_string_value(json_object_get(c, "status"));
    if (rc == 0 && id) {
        snprintf(club, 40, "%s", id);
        *active = st && strcmp(st, "active") == 0;
    }
    json_decref(out);
    return rc;
}

int auth_club_by_slug(const svc_call_t *call, const char *slug, char club[40], err_t *e) {
    int active = 0;
    if (auth_club_resolve(call->env, call->caller, "slug", slug, club, &active, e) != 0) return -1;
    if (!active) club[0] = 0;
    return 0;
}

int auth_require_active_club_id(const svc_call_t *call, const char *club_id, err_t *e) {
    char club[40];
    int active = 0;
    if (auth_club_resolve(call->env, call->caller, "id", club_id, club, &active, e) != 0) return -1;
    if (!active) return err_invalid(e, "club_id", "club_id names no active club");
    return 0;
}

/* ---------------------------------------------------------------- validation */

int auth_v_email(json_t *in, const char *name, int required, err_t *e) {
    const char *s;
    if (jsonx_string(in, name, required, 3, 254, &s, e) != 0) return -1;
    if (s && !jsonx_is_email(s)) return err_invalid(e, name, "%s must be an email address", name);
    return 0;
}

int auth_v_token(json_t *in, const char *name, err_t *e) {
    const char *s;
    if (jsonx_string(in, name, 1, 1, 128, &s, e) != 0) return -1;
    for (const char *q = s; *q; q++)
        if (!(isalnum((unsigned char)*q) || *q == '-' || *q == '_'))
            return err_invalid(e, name, "%s is not a valid token", name);
    return 0;
}

int auth_v_password(json_t *in, const char *name, err_t *e) {
    json_t *v = json_object_get(in, name);
    if (!v || json_is_null(v)) return err_missing(e, name);
    if (!json_is_string(v)) return err_type(e, name, "%s must be a string", name);
    if (json_string_length(v) < 1 || json_string_length(v) > PASSWORD_MAX_BYTES)
        return err_invalid(e, name, "%s must be a string of at most %d bytes", name,
                           PASSWORD_MAX_BYTES);
    return 0;
}
