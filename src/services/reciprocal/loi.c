/* loi: see loi.h. */
#include "services/reciprocal/loi.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "lib/credentials/qrsvg.h"

#define LOI_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

static const char *const k_reasons[] = {
    [LOI_OK] = "ok",
    [LOI_MALFORMED] = "malformed",
    [LOI_UNKNOWN_KEY] = "unknown_key",
    [LOI_BAD_SIGNATURE] = "bad_signature",
    [LOI_WRONG_HOST] = "wrong_host",
    [LOI_NOT_YET_VALID] = "not_yet_valid",
    [LOI_EXPIRED] = "expired",
};

const char *loi_reason_name(loi_reason_t r) {
    if ((unsigned)r >= sizeof k_reasons / sizeof *k_reasons) return "malformed";
    return k_reasons[r];
}

int loi_new_code(char code[LOI_CODE_LEN + 1]) {
    unsigned char raw[LOI_CODE_BYTES];
    if (sodium_init() < 0) return -1;
    randombytes_buf(raw, sizeof raw);
    char *c = jsonx_b64url_encode(raw, sizeof raw);
    if (!c) return -1;
    snprintf(code, LOI_CODE_LEN + 1, "%s", c);
    free(c);
    return 0;
}

/* ---- field formats ---- */

static int is_code(const char *s) {
    if (strlen(s) != LOI_CODE_LEN) return 0;
    size_t n = 0;
    unsigned char *raw = jsonx_b64url_decode(s, &n);
    free(raw);
    return raw && n == LOI_CODE_BYTES;
}

/* 1..SIGNKEY_KID_MAX-1 base64url characters. */
static int is_kid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= SIGNKEY_KID_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int is_facility(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= LOI_FAC_LEN) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return 0;
    }
    return 1;
}

/* 1..cap-1 bytes, no control characters (UTF-8 validity is jansson's on both sides). */
static int is_text(const char *s, size_t cap) {
    size_t n = strlen(s);
    if (n == 0 || n >= cap) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
    return 1;
}

/* "" or YYYY-MM-DD with a plausible month and day. */
static int is_date_or_empty(const char *s) {
    if (!*s) return 1;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return 0;
    int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static int in_time(long long t) {
    return t >= 0 && t <= LOI_TIME_MAX;
}

int loi_check_fields(const loi_t *l, const char **field) {
    const char *f = NULL;
    if (!is_kid(l->kid))
        f = "kid";
    else if (!is_code(l->code))
        f = "code";
    else if (!jsonx_is_uuid(l->visit))
        f = "visit";
    else if (!jsonx_is_uuid(l->home))
        f = "home";
    else if (!jsonx_is_uuid(l->host))
        f = "host";
    else if (!in_time(l->nbf))
        f = "nbf";
    else if (!in_time(l->exp) || l->exp <= l->nbf)
        f = "exp";
    else if (!in_time(l->iat))
        f = "iat";
    else if (l->n_fac < 0 || l->n_fac > LOI_FAC_MAX)
        f = "fac";
    else if (l->guests < 0 || l->guests > LOI_GUESTS_MAX)
        f = "guests";
    else if (!is_text(l->name, sizeof l->name))
        f = "member.name";
    else if (!is_text(l->num, sizeof l->num))
        f = "member.num";
    else if (!is_text(l->cat, sizeof l->cat))
        f = "member.cat";
    else if (!is_date_or_empty(l->valid_to))
        f = "member.valid_to";
    for (int i = 0; !f && i < l->n_fac; i++)
        if (!is_facility(l->fac[i])) f = "fac";
    if (field) *field = f;
    return f ? -1 : 0;
}

/* ---- canonical payload ---- */

/* The canonical payload JSON (malloc'd) of a letter whose fields are in format. */
static char *payload_json(const loi_t *l) {
    json_t *fac = json_array();
    for (int i = 0; i < l->n_fac; i++)
        json_array_append_new(fac, json_string(l->fac[i]));
    json_t *member =
        json_pack("{s:s, s:s, s:s, s:o}", "name", l->name, "num", l->num, "cat", l->cat, "valid_to",
                  l->valid_to[0] ? json_string(l->valid_to) : json_null());
    json_t *p =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:i, s:o}", "v", 1, "kid",
                  l->kid, "code", l->code, "visit", l->visit, "home", l->home, "host", l->host,
                  "nbf", (json_int_t)l->nbf, "exp", (json_int_t)l->exp, "iat", (json_int_t)l->iat,
                  "fac", fac, "guests", l->guests, "member", member);
    char *s = jsonx_dump(p);
    json_decref(p);
    return s;
}

int loi_encode(loi_t *l, const signkey_t *key, char **token, const char **field) {
    *token = NULL;
    if (field) *field = NULL;
    snprintf(l->kid, sizeof l->kid, "%s", key->kid);
    if (loi_check_fields(l, field) != 0) return -1;
    char *p = payload_json(l);
    if (!p) return -1;
    char *t = signkey_token_sign(LOI_PREFIX, (const unsigned char *)p, strlen(p), key->sk);
    free(p);
    if (!t || strlen(t) > LOI_TOKEN_MAX) {
        if (t && field) *field = "token";
        free(t);
        return -1;
    }
    *token = t;
    return 0;
}

/* Copies a string member of o into dst (cap bytes); 0, or -1 when absent, not a string or too
 * long. */
static int get_str(const json_t *o, const char *key, char *dst, size_t cap) {
    const char *s = json_string_value(json_object_get(o, key));
    if (!s || strlen(s) >= cap) return -1;
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static int get_int(const json_t *o, const char *key, long long *out) {
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return -1;
    *out = (long long)json_integer_value(v);
    return 0;
}

/* The letter from a parsed payload: the exact key set and types; formats are checked after. */
static int from_payload(const json_t *p, loi_t *l) {
    const json_t *fac = json_object_get(p, "fac"), *m = json_object_get(p, "member");
    const json_t *vt = json_object_get(m, "valid_to");
    long long v = 0, guests = -1;
    memset(l, 0, sizeof *l);
    if (!json_is_object(p) || json_object_size(p) != 12 || !json_is_object(m) ||
        json_object_size(m) != 4 || !json_is_array(fac) || json_array_size(fac) > LOI_FAC_MAX)
        return -1;
    if (get_int(p, "v", &v) != 0 || v != 1 || get_str(p, "kid", l->kid, sizeof l->kid) != 0 ||
        get_str(p, "code", l->code, sizeof l->code) != 0 ||
        get_str(p, "visit", l->visit, sizeof l->visit) != 0 ||
        get_str(p, "home", l->home, sizeof l->home) != 0 ||
        get_str(p, "host", l->host, sizeof l->host) != 0 || get_int(p, "nbf", &l->nbf) != 0 ||
        get_int(p, "exp", &l->exp) != 0 || get_int(p, "iat", &l->iat) != 0 ||
        get_int(p, "guests", &guests) != 0 || guests < 0 || guests > LOI_GUESTS_MAX ||
        get_str(m, "name", l->name, sizeof l->name) != 0 ||
        get_str(m, "num", l->num, sizeof l->num) != 0 ||
        get_str(m, "cat", l->cat, sizeof l->cat) != 0)
        return -1;
    l->guests = (int)guests;
    if (json_is_string(vt)) {
        if (get_str(m, "valid_to", l->valid_to, sizeof l->valid_to) != 0) return -1;
    } else if (!json_is_null(vt)) {
        return -1;
    }
    size_t i;
    const json_t *f;
    json_array_foreach(fac, i, f) {
        const char *s = json_string_value(f);
        if (!s || strlen(s) >= LOI_FAC_LEN) return -1;
        memcpy(l->fac[i], s, strlen(s) + 1);
    }
    l->n_fac = (int)json_array_size(fac);
    return 0;
}

/* Decodes and checks the canonical form; *signed_len and sig for the signature check. */
static int decode(const char *token, loi_t *out, unsigned char sig[SIGNKEY_SIG_BYTES],
                  size_t *signed_len) {
    unsigned char *raw = NULL;
    size_t n = 0;
    char *again = NULL;
    int rc = -1;
    if (signkey_token_split(token, LOI_TOKEN_MAX, LOI_PREFIX, &raw, &n, sig, signed_len) != 0)
        return -1;
    json_t *p = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
    if (p && from_payload(p, out) == 0 && loi_check_fields(out, NULL) == 0) {
        again = payload_json(out);
        rc = again && strlen(again) == n && memcmp(again, raw, n) == 0 ? 0 : -1;
    }
    free(again);
    json_decref(p);
    free(raw);
    return rc;
}

int loi_decode(const char *token, loi_t *out) {
    unsigned char sig[SIGNKEY_SIG_BYTES];
    size_t sl = 0;
    return decode(token, out, sig, &sl);
}

loi_reason_t loi_verify(const char *token, const signkey_pub_t *keys, size_t n_keys,
                        const char *host, long long now, loi_t *out) {
    loi_t tmp, *l = out ? out : &tmp;
    unsigned char sig[SIGNKEY_SIG_BYTES];
    size_t sl = 0;
    if (decode(token, l, sig, &sl) != 0) {
        memset(l, 0, sizeof *l);
        return LOI_MALFORMED;
    }
    const signkey_pub_t *k = signkey_set_find(keys, n_keys, l->kid);
    if (!k) return LOI_UNKNOWN_KEY;
    if (!signkey_verify((const unsigned char *)token, sl, sig, k->pk)) return LOI_BAD_SIGNATURE;
    if (host && strcmp(host, l->host) != 0) return LOI_WRONG_HOST;
    if (now < l->nbf) return LOI_NOT_YET_VALID;
    if (now >= l->exp) return LOI_EXPIRED;
    return LOI_OK;
}

/* ---- presentation ---- */

static json_t *iso_time(long long t) {
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

json_t *loi_to_json(const loi_t *l) {
    json_t *fac = json_array();
    for (int i = 0; i < l->n_fac; i++)
        json_array_append_new(fac, json_string(l->fac[i]));
    json_t *member = json_pack("{s:s, s:s, s:s, s:o}", "name", l->name, "member_number", l->num,
                               "category", l->cat, "membership_valid_to",
                               l->valid_to[0] ? json_string(l->valid_to) : json_null());
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:i, s:s, s:o}", "code", l->code,
                     "visit_id", l->visit, "home_club_id", l->home, "host_club_id", l->host,
                     "valid_from", iso_time(l->nbf), "valid_to", iso_time(l->exp), "facilities",
                     fac, "guests", l->guests, "kid", l->kid, "member", member);
}

char *loi_qr_svg(const char *token) {
    return qrsvg_render(token);
}
