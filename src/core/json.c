/* json: see json.h. Strict request-body parsing on jansson (duplicates, invalid UTF-8, \u0000 and
 * trailing garbage are rejected by jansson itself; nesting depth is checked by a pre-scan before
 * jansson recurses), field validators whose errors name the field, format checks and
 * base64url. Owns nothing beyond the values it returns. */
#include "core/json.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#define JSONX_MAX_DEPTH 32

/* ---------------------------------------------------------------- parsing */

/* Maximum nesting of objects/arrays, ignoring brackets inside strings. Stops counting once the
 * limit is exceeded. Unbalanced input is left for jansson to report. */
static int max_depth(const char *buf, size_t len, int limit) {
    int depth = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                max = depth;
                if (max > limit) return max;
            }
        } else if (c == '}' || c == ']') {
            if (depth > 0) depth--;
        }
    }
    return max;
}

int jsonx_parse_object(const char *buf, size_t len, json_t **out, err_t *e) {
    *out = NULL;
    if (!buf || len == 0)
        return err_set(e, 400, "invalid_json", "body",
                       "request body is empty; expected a JSON object");
    if (max_depth(buf, len, JSONX_MAX_DEPTH) > JSONX_MAX_DEPTH)
        return err_set(e, 400, "invalid_json", "body", "JSON is nested more than %d levels deep",
                       JSONX_MAX_DEPTH);
    json_error_t je;
    json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        /* jansson appends " near '<input>'": drop it so the body (maybe a password) is not
         * echoed into messages that may be logged */
        char text[sizeof je.text];
        snprintf(text, sizeof text, "%s", je.text);
        char *near = strstr(text, " near '");
        if (near) *near = '\0';
        char *flag = strstr(text, " without JSON_ALLOW_NUL");
        if (flag) *flag = '\0';
        /* without JSON_DECODE_ANY a scalar top level fails here too */
        if (strstr(text, "'[' or '{' expected"))
            return err_set(e, 400, "invalid_json", "body", "body must be a JSON object");
        return err_set(e, 400, "invalid_json", "body", "invalid JSON at line %d, column %d: %s",
                       je.line, je.column, text);
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return err_set(e, 400, "invalid_json", "body", "body must be a JSON object");
    }
    *out = v;
    return 0;
}

char *jsonx_dump(const json_t *v) {
    if (!v) return NULL;
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}

/* ---------------------------------------------------------------- validators */

/* Value of a key, with JSON null treated as absent. */
static json_t *get(json_t *obj, const char *name) {
    json_t *v = json_is_object(obj) ? json_object_get(obj, name) : NULL;
    return json_is_null(v) ? NULL : v;
}

static int missing(const char *name, err_t *e) {
    return err_missing(e, name);
}

/* Number of code points in valid UTF-8 (jansson guarantees validity). */
static size_t utf8_len(const char *s, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) count++;
    return count;
}

/* 1 if the string contains a control character that the field does not allow: C0 controls,
 * DEL and C1 controls (U+0080..U+009F); multi-line text allows \n, \r and \t. */
static int has_control(const char *s, size_t n, int multiline) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20) {
            if (multiline && (c == '\n' || c == '\r' || c == '\t')) continue;
            return 1;
        }
        if (c == 0x7F) return 1;
        if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9F)
            return 1;
    }
    return 0;
}

/* 1 if the string contains a Unicode bidirectional control: the embeddings and overrides
 * U+202A..U+202E, the isolates U+2066..U+2069 and the marks U+200E, U+200F, U+061C. They reorder
 * how the text is displayed ("\u202Egnp.exe" shows as "exe.png"), so a name could pose as
 * another (docs/security.md D2). UTF-8: D8 9C; E2 80 8E/8F/AA..AE; E2 81 A6..A9. */
static int has_bidi(const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned char a = (unsigned char)s[i], b = (unsigned char)s[i + 1];
        if (a == 0xD8 && b == 0x9C) return 1;
        if (a != 0xE2 || i + 2 >= n) continue;
        unsigned char c = (unsigned char)s[i + 2];
        if (b == 0x80 && (c == 0x8E || c == 0x8F || (c >= 0xAA && c <= 0xAE))) return 1;
        if (b == 0x81 && c >= 0xA6 && c <= 0xA9) return 1;
    }
    return 0;
}

static int string_common(json_t *obj, const char *name, int required, size_t min_len,
                         size_t max_len, int multiline, const char **out, err_t *e) {
    *out = NULL;
    json_t *v = get(obj, name);
    if (!v) return required ? missing(name, e) : 0;
    if (!json_is_string(v)) return err_type(e, name, "%s must be a string", name);
    const char *s = json_string_value(v);
    size_t bytes = json_string_length(v);
    if (has_control(s, bytes, multiline))
        return err_invalid(e, name,
                           multiline ? "%s must not contain control characters other than "
                                       "newline and tab"
                                     : "%s must not contain control characters or line breaks",
                           name);
    if (!multiline && has_bidi(s, bytes))
        return err_invalid(e, name,
                           "%s must not contain bidirectional control characters (U+202A..U+202E, "
                           "U+2066..U+2069, U+200E, U+200F, U+061C)",
                           name);
    size_t n = utf8_len(s, bytes);
    if (n < min_len || n > max_len) {
        if (min_len == max_len)
            return err_invalid(e, name, "%s must be exactly %zu characters long", name, min_len);
        if (n < min_len && min_len == 1) return err_invalid(e, name, "%s must not be empty", name);
        return err_invalid(e, name, "%s must be from %zu to %zu characters long (got %zu)", name,
                           min_len, max_len, n);
    }
    *out = s;
    return 0;
}

int jsonx_string(json_t *obj, const char *name, int required, size_t min_len, size_t max_len,
                 const char **out, err_t *e) {
    return string_common(obj, name, required, min_len, max_len, 0, out, e);
}

int jsonx_text(json_t *obj, const char *name, int required, size_t min_len, size_t max_len,
               const char **out, err_t *e) {
    return string_common(obj, name, required, min_len, max_len, 1, out, e);
}

/* Strict decimal integer: optional '-', digits only, no spaces, no overflow. */
int jsonx_parse_ll(const char *s, long long *out) {
    if (!s || !*s) return -1;
    const char *p = s;
    if (*p == '-') p++;
    if (!*p) return -1;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0') return -1;
    *out = v;
    return 0;
}

int jsonx_int(json_t *obj, const char *name, int required, long long min, long long max,
              long long def, long long *out, err_t *e) {
    json_t *v = get(obj, name);
    if (!v) {
        if (required) return missing(name, e);
        *out = def;
        return 0;
    }
    long long n;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v) && jsonx_parse_ll(json_string_value(v), &n) == 0 &&
               strlen(json_string_value(v)) == json_string_length(v)) {
        /* decimal string (query parameters) */
    } else {
        return err_type(e, name, "%s must be an integer from %lld to %lld", name, min, max);
    }
    if (n < min || n > max)
        return err_invalid(e, name, "%s must be an integer from %lld to %lld", name, min, max);
    *out = n;
    return 0;
}

/* Strict JSON-number syntax for strings: -?digits(.digits)?([eE][+-]?digits)? */
static int parse_decimal(const char *s, double *out) {
    const char *p = s;
    if (*p == '-') p++;
    if (!isdigit((unsigned char)*p)) return -1;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p) return -1;
    errno = 0;
    double d = strtod(s, NULL);
    if (errno == ERANGE || !isfinite(d)) return -1;
    *out = d;
    return 0;
}

int jsonx_number(json_t *obj, const char *name, int required, double min, double max, double *out,
                 int *present, err_t *e) {
    if (present) *present = 0;
    json_t *v = get(obj, name);
    if (!v) return required ? missing(name, e) : 0;
    double d;
    if (json_is_number(v)) {
        d = json_number_value(v);
    } else if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) &&
               parse_decimal(json_string_value(v), &d) == 0) {
        /* decimal string */
    } else {
        return err_type(e, name, "%s must be a number from %g to %g", name, min, max);
    }
    if (!isfinite(d) || d < min || d > max)
        return err_invalid(e, name, "%s must be a number from %g to %g", name, min, max);
    *out = d;
    if (present) *present = 1;
    return 0;
}

int jsonx_bool(json_t *obj, const char *name, int required, int def, int *out, err_t *e) {
    json_t *v = get(obj, name);
    if (!v) {
        if (required) return missing(name, e);
        *out = def;
        return 0;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "true") == 0 && json_string_length(v) == 4) {
            *out = 1;
            return 0;
        }
        if (strcmp(s, "false") == 0 && json_string_length(v) == 5) {
            *out = 0;
            return 0;
        }
    }
    return err_type(e, name, "%s must be true or false", name);
}

int jsonx_enum(json_t *obj, const char *name, int required, const char *const *allowed,
               const char **out, err_t *e) {
    *out = NULL;
    json_t *v = get(obj, name);
    if (!v) return required ? missing(name, e) : 0;
    if (!json_is_string(v)) return err_type(e, name, "%s must be a string", name);
    const char *s = json_string_value(v);
    for (size_t i = 0; allowed[i]; i++) {
        if (strcmp(s, allowed[i]) == 0 && strlen(allowed[i]) == json_string_length(v)) {
            *out = allowed[i];
            return 0;
        }
    }
    char list[320];
    size_t off = 0;
    list[0] = '\0';
    for (size_t i = 0; allowed[i] && off < sizeof list; i++) {
        int w = snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", allowed[i]);
        if (w < 0) break;
        off += (size_t)w;
    }
    return err_invalid(e, name, "%s must be one of: %s", name, list);
}

int jsonx_only_keys(json_t *obj, const char *const *known, const char *prefix, err_t *e) {
    if (!json_is_object(obj)) return 0;
    if (!prefix) prefix = "";
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (size_t i = 0; known[i]; i++) {
            if (strcmp(key, known[i]) == 0) {
                ok = 1;
                break;
            }
        }
        if (!ok) {
            char field[sizeof e->field];
            snprintf(field, sizeof field, "%s%s", prefix, key);
            return err_set(e, 400, "unknown_field", field, "%.64s%.64s is not a known field",
                           prefix, key);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- formats */

int jsonx_is_uuid(const char *s) {
    if (!s || strlen(s) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static int is_alnum_ascii(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Domain name: >= 2 labels of 1..63 alnum/hyphen, no hyphen at either end of a label,
 * total <= 253, last label not all digits. `n` bytes of s are considered. */
static int is_domain(const char *s, size_t n, int need_dot) {
    if (n == 0 || n > 253) return 0;
    size_t label = 0, labels = 1, last_start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') return 0;
            label = 0;
            labels++;
            last_start = i + 1;
            continue;
        }
        if (!is_alnum_ascii(c) && c != '-') return 0;
        if (c == '-' && label == 0) return 0;
        if (++label > 63) return 0;
    }
    if (label == 0 || s[n - 1] == '-') return 0;
    if (need_dot && labels < 2) return 0;
    int all_digits = 1;
    for (size_t i = last_start; i < n; i++)
        if (!isdigit((unsigned char)s[i])) all_digits = 0;
    return !all_digits;
}

int jsonx_is_email(const char *s) {
    if (!s) return 0;
    size_t n = strlen(s);
    if (n < 3 || n > 254) return 0;
    const char *at = strchr(s, '@');
    if (!at || strchr(at + 1, '@')) return 0;
    size_t local = (size_t)(at - s);
    if (local < 1 || local > 64) return 0;
    static const char specials[] = "!#$%&'*+/=?^_`{|}~-.";
    for (size_t i = 0; i < local; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum_ascii(c) && !strchr(specials, c)) return 0;
        if (c == '.' && (i == 0 || i == local - 1 || s[i - 1] == '.')) return 0;
    }
    return is_domain(at + 1, n - local - 1, 1);
}

int jsonx_is_e164(const char *s) {
    if (!s || s[0] != '+' || s[1] < '1' || s[1] > '9') return 0;
    size_t digits = 0;
    for (const char *p = s + 1; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        digits++;
    }
    return digits >= 7 && digits <= 15;
}

/* RFC 3986 characters allowed anywhere after the authority (percent-escapes checked apart). */
static int is_url_char(unsigned char c) {
    return is_alnum_ascii(c) || (c && strchr("-._~:/?#[]@!$&'()*+,;=%", c));
}

static int is_hex(unsigned char c) {
    return isxdigit(c) != 0;
}

int jsonx_is_http_url(const char *s) {
    if (!s) return 0;
    size_t n = strlen(s);
    if (n > 2048) return 0;
    const char *p;
    if (strncasecmp(s, "https://", 8) == 0)
        p = s + 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        p = s + 7;
    else
        return 0;
    for (const char *q = s; *q; q++) {
        unsigned char c = (unsigned char)*q;
        if (!is_url_char(c)) return 0; /* spaces, controls, non-ASCII, quotes, <>, \ ... */
        if (c == '%' && !(is_hex((unsigned char)q[1]) && is_hex((unsigned char)q[2]))) return 0;
    }
    /* authority = host[:port]; no userinfo (https://bank.example@evil.example tricks) */
    size_t alen = strcspn(p, "/?#");
    const char *aend = p + alen;
    if (memchr(p, '@', alen)) return 0;
    const char *host = p, *hend, *port = NULL;
    char lit[64];
    if (*p == '[') {
        const char *close = memchr(p, ']', alen);
        if (!close) return 0;
        size_t hlen = (size_t)(close - p - 1);
        if (hlen == 0 || hlen >= sizeof lit) return 0;
        memcpy(lit, p + 1, hlen);
        lit[hlen] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, lit, &a6) != 1) return 0;
        hend = close + 1;
        if (hend < aend) {
            if (*hend != ':') return 0;
            port = hend + 1;
        }
    } else {
        const char *colon = memchr(p, ':', alen);
        hend = colon ? colon : aend;
        if (colon) port = colon + 1;
        size_t hlen = (size_t)(hend - host);
        if (hlen > 1 && host[hlen - 1] == '.') hlen--; /* absolute name "example.com." */
        if (!is_domain(host, hlen, 0)) {
            /* not a name: must be a dotted IPv4 address */
            if (hlen == 0 || hlen >= sizeof lit) return 0;
            memcpy(lit, host, hlen);
            lit[hlen] = '\0';
            struct in_addr a4;
            if (inet_pton(AF_INET, lit, &a4) != 1) return 0;
        }
    }
    if (port) {
        size_t plen = (size_t)(aend - port);
        if (plen == 0 || plen > 5) return 0;
        long v = 0;
        for (const char *q = port; q < aend; q++) {
            if (!isdigit((unsigned char)*q)) return 0;
            v = v * 10 + (*q - '0');
        }
        if (v < 1 || v > 65535) return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- base64url */

static const char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *jsonx_b64url_encode(const unsigned char *data, size_t len) {
    if (len > (SIZE_MAX - 4) / 4 * 3) return NULL;
    size_t out_len = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
    char *out = malloc(out_len + 1);
    if (!out) return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        out[o++] = k_b64[v >> 18 & 63];
        out[o++] = k_b64[v >> 12 & 63];
        out[o++] = k_b64[v >> 6 & 63];
        out[o++] = k_b64[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)data[i] << 16;
        out[o++] = k_b64[v >> 18 & 63];
        out[o++] = k_b64[v >> 12 & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
        out[o++] = k_b64[v >> 18 & 63];
        out[o++] = k_b64[v >> 12 & 63];
        out[o++] = k_b64[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

static int b64_val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* Strict: alphabet only, no padding, no impossible length, unused trailing bits must be zero
 * (so every byte string has exactly one encoding). */
unsigned char *jsonx_b64url_decode(const char *s, size_t *out_len) {
    if (!s) return NULL;
    size_t n = strlen(s);
    if (n % 4 == 1) return NULL;
    size_t cap = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    unsigned char *out = malloc(cap + 1);
    if (!out) return NULL;
    size_t o = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        int a = b64_val((unsigned char)s[i]), b = b64_val((unsigned char)s[i + 1]),
            c = b64_val((unsigned char)s[i + 2]), d = b64_val((unsigned char)s[i + 3]);
        if ((a | b | c | d) < 0) goto fail;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    if (n - i == 2) {
        int a = b64_val((unsigned char)s[i]), b = b64_val((unsigned char)s[i + 1]);
        if ((a | b) < 0 || (b & 0x0F)) goto fail;
        out[o++] = (unsigned char)(a << 2 | b >> 4);
    } else if (n - i == 3) {
        int a = b64_val((unsigned char)s[i]), b = b64_val((unsigned char)s[i + 1]),
            c = b64_val((unsigned char)s[i + 2]);
        if ((a | b | c) < 0 || (c & 0x03)) goto fail;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
    }
    out[o] = '\0';
    if (out_len) *out_len = o;
    return out;
fail:
    free(out);
    return NULL;
}
