/* json: see json.h. Strict request-body parsing on jansson (duplicates, invalid UTF-8, \u0000 and
 * trailing garbage are rejected by jansson itself; nesting depth is checked by a pre-scan before
 * jansson recurses), field validators whose errors name the field, format checks and
 * base64url. Owns nothing beyond the values it returns. */
#include "core/json.h"

#include "core/strbuf.h"

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

int jsonx_is_date(const char *s) {
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || m < 1 || m > 12 || d < 1) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

int jsonx_uuid(json_t *obj, const char *name, int required, err_t *e) {
    const char *s;
    if (jsonx_string(obj, name, required, 1, 64, &s, e) != 0) return -1;
    if (!s) return 0;
    if (!jsonx_is_uuid(s)) return err_invalid(e, name, "%s must be a uuid", name);
    char low[40];
    snprintf(low, sizeof low, "%s", s);
    for (char *c = low; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return json_object_set_new(obj, name, json_string(low)) == 0
               ? 0
               : err_set(e, 500, "internal", "", "out of memory");
}

int jsonx_ref(json_t *obj, const char *name, int required, const char *missing, err_t *e) {
    const char *s;
    if (jsonx_string(obj, name, required, 1, 64, &s, e) != 0) return -1;
    return !s || jsonx_is_uuid(s) ? 0 : err_set(e, 404, "not_found", name, "%s", missing);
}

int jsonx_is_timestamp(const char *s) {
    static const char pat[] = "dddd-dd-ddTdd:dd:dd";
    size_t n = s ? strlen(s) : 0;
    if (n < sizeof pat - 1 || n > 40) return 0;
    for (size_t i = 0; i < sizeof pat - 1; i++)
        if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i]) return 0;
    for (size_t i = sizeof pat - 1; i < n; i++)
        if (!strchr("0123456789.:+-Z", s[i])) return 0;
    return 1;
}

int jsonx_date(json_t *obj, const char *name, int required, err_t *e) {
    const char *s;
    if (jsonx_string(obj, name, required, 10, 10, &s, e) != 0) {
        if (e && e->status == 422) err_invalid(e, name, "%s must be a date", name);
        return -1;
    }
    if (s && !jsonx_is_date(s)) return err_invalid(e, name, "%s must be a date YYYY-MM-DD", name);
    return 0;
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

/* ---------------------------------------------------------------- pass-through (raw JSON) */

/* A raw value is an object whose one key is RAW_KEY (it starts with a NUL byte: no parsed JSON,
 * request or database, can hold such a key, since jansson refuses \u0000 without
 * JSON_ALLOW_NUL and PostgreSQL's jsonb refuses it too), whose value is the canonical text. */
static const char RAW_KEY[] = "\0jsonx-raw";
#define RAW_KEY_LEN (sizeof RAW_KEY - 1)
#define RAW_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

/* The canonicaliser: a strict reader of JSON text that writes what jansson's json_loads +
 * jsonx_dump would write (compact; strings re-escaped the way jansson escapes: \" \\ \b \f \n
 * \r \t, other controls \u00XX in upper case, everything else as UTF-8; integers as
 * long long; reals through jsonx_dtostr). It fails wherever json_loads(JSON_DECODE_ANY) fails
 * (syntax, invalid UTF-8, \u0000, lone surrogates, integer or real overflow, depth). Duplicate
 * keys are not detected (jansson keeps the first position with the last value): the texts it
 * takes come from jsonb, which has none. */
typedef struct rd {
    const unsigned char *p, *end;
    strbuf_t *out;
    int depth;
} rd_t;

static void rd_ws(rd_t *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int rd_hex4(rd_t *r, int32_t *cp) {
    if (r->end - r->p < 4) return -1;
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(r->p[i]);
        if (h < 0) return -1;
        v = v << 4 | h;
    }
    r->p += 4;
    *cp = v;
    return 0;
}

/* Appends code point cp of a string the way jansson's dump writes it. */
static void put_cp(strbuf_t *b, int32_t cp) {
    char u[8];
    switch (cp) {
    case '"':
        strbuf_putn(b, "\\\"", 2);
        return;
    case '\\':
        strbuf_putn(b, "\\\\", 2);
        return;
    case '\b':
        strbuf_putn(b, "\\b", 2);
        return;
    case '\f':
        strbuf_putn(b, "\\f", 2);
        return;
    case '\n':
        strbuf_putn(b, "\\n", 2);
        return;
    case '\r':
        strbuf_putn(b, "\\r", 2);
        return;
    case '\t':
        strbuf_putn(b, "\\t", 2);
        return;
    default:
        break;
    }
    if (cp < 0x20) {
        snprintf(u, sizeof u, "\\u%04X", (unsigned)cp);
        strbuf_putn(b, u, 6);
    } else if (cp < 0x80) {
        u[0] = (char)cp;
        strbuf_putn(b, u, 1);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F));
        strbuf_putn(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        strbuf_putn(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F));
        strbuf_putn(b, u, 4);
    }
}

/* Length of the valid UTF-8 sequence at p (first byte >= 0x80), 0 when invalid (jansson's
 * rules: no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t seq_len(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    size_t n;
    int32_t v;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, v = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, v = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, v = c & 0x07;
    else
        return 0;
    if ((size_t)(end - p) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (p[i] & 0x3F);
    }
    if ((n == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) ||
        (n == 4 && (v < 0x10000 || v > 0x10FFFF)))
        return 0;
    return n;
}

static int rd_string(rd_t *r) {
    r->p++; /* the opening quote */
    strbuf_putn(r->out, "\"", 1);
    for (;;) {
        const unsigned char *run = r->p;
        while (r->p < r->end && *r->p >= 0x20 && *r->p < 0x80 && *r->p != '"' && *r->p != '\\')
            r->p++;
        if (r->p > run) strbuf_putn(r->out, (const char *)run, (size_t)(r->p - run));
        if (r->p >= r->end) return -1;
        unsigned char c = *r->p;
        if (c == '"') {
            r->p++;
            strbuf_putn(r->out, "\"", 1);
            return 0;
        }
        if (c < 0x20) return -1;
        if (c >= 0x80) {
            size_t n = seq_len(r->p, r->end);
            if (!n) return -1;
            strbuf_putn(r->out, (const char *)r->p, n);
            r->p += n;
            continue;
        }
        /* an escape */
        if (r->end - r->p < 2) return -1;
        c = r->p[1];
        r->p += 2;
        int32_t cp;
        switch (c) {
        case '"':
            cp = '"';
            break;
        case '\\':
            cp = '\\';
            break;
        case '/':
            cp = '/';
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            if (rd_hex4(r, &cp) != 0) return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                int32_t lo;
                if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u') return -1;
                r->p += 2;
                if (rd_hex4(r, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) return -1;
                cp = ((cp - 0xD800) << 10) + (lo - 0xDC00) + 0x10000;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return -1;
            }
            if (cp == 0) return -1;
            break;
        default:
            return -1;
        }
        put_cp(r->out, cp);
    }
}

/* jansson's jsonp_dtostr: "%.*g", ".0" when neither '.' nor 'e', no '+' nor leading zeros in
 * the exponent. buf >= 32 bytes; returns the length or -1. */
static int jsonx_dtostr(char *buf, size_t size, double v, int precision) {
    int ret = snprintf(buf, size, "%.*g", precision, v);
    if (ret < 0 || (size_t)ret >= size) return -1;
    size_t len = (size_t)ret;
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        if (len + 3 >= size) return -1;
        buf[len++] = '.', buf[len++] = '0', buf[len] = '\0';
    }
    char *start = strchr(buf, 'e');
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-') start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - buf) + 1);
            len -= (size_t)(end - start);
        }
    }
    return (int)len;
}

static int isdig(const rd_t *r) {
    return r->p < r->end && *r->p >= '0' && *r->p <= '9';
}

static int rd_number(rd_t *r) {
    const unsigned char *s = r->p;
    int real = 0;
    if (*r->p == '-') r->p++;
    if (r->p < r->end && *r->p == '0') {
        r->p++;
        if (isdig(r)) return -1;
    } else if (isdig(r)) {
        while (isdig(r))
            r->p++;
    } else {
        return -1;
    }
    if (r->p < r->end && *r->p == '.') {
        r->p++, real = 1;
        if (!isdig(r)) return -1;
        while (isdig(r))
            r->p++;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++, real = 1;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) r->p++;
        if (!isdig(r)) return -1;
        while (isdig(r))
            r->p++;
    }
    char tok[64], out[64];
    size_t n = (size_t)(r->p - s);
    if (n >= sizeof tok) {
        /* a long number: still exact, at the price of a copy */
        char *big = malloc(n + 1);
        if (!big) return -1;
        memcpy(big, s, n);
        big[n] = '\0';
        errno = 0;
        int len = -1;
        if (real) {
            double d = strtod(big, NULL);
            if (!((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE))
                len = jsonx_dtostr(out, sizeof out, d, 15);
        } else {
            long long v = strtoll(big, NULL, 10);
            if (errno != ERANGE) len = snprintf(out, sizeof out, "%lld", v);
        }
        free(big);
        if (len < 0) return -1;
        strbuf_putn(r->out, out, (size_t)len);
        return 0;
    }
    memcpy(tok, s, n);
    tok[n] = '\0';
    errno = 0;
    int len;
    if (real) {
        double d = strtod(tok, NULL);
        if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE) return -1;
        len = jsonx_dtostr(out, sizeof out, d, 15);
    } else {
        long long v = strtoll(tok, NULL, 10);
        if (errno == ERANGE) return -1;
        len = snprintf(out, sizeof out, "%lld", v);
        /* the common case, a plain integer, is written as it came ("-0" is "0") */
    }
    if (len < 0) return -1;
    strbuf_putn(r->out, out, (size_t)len);
    return 0;
}

static int rd_lit(rd_t *r, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0) return -1;
    r->p += n;
    strbuf_putn(r->out, lit, n);
    return 0;
}

static int rd_value(rd_t *r);

/* object or array: open/close brackets, keys when obj */
static int rd_container(rd_t *r, int obj) {
    if (++r->depth > RAW_MAX_DEPTH) return -1;
    strbuf_putn(r->out, obj ? "{" : "[", 1);
    r->p++;
    rd_ws(r);
    if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
        r->p++;
    } else {
        for (;;) {
            if (obj) {
                if (r->p >= r->end || *r->p != '"' || rd_string(r) != 0) return -1;
                rd_ws(r);
                if (r->p >= r->end || *r->p != ':') return -1;
                r->p++;
                strbuf_putn(r->out, ":", 1);
                rd_ws(r);
            }
            if (rd_value(r) != 0) return -1;
            rd_ws(r);
            if (r->p >= r->end) return -1;
            if (*r->p == ',') {
                r->p++;
                strbuf_putn(r->out, ",", 1);
                rd_ws(r);
                continue;
            }
            if (*r->p != (obj ? '}' : ']')) return -1;
            r->p++;
            break;
        }
    }
    strbuf_putn(r->out, obj ? "}" : "]", 1);
    r->depth--;
    return 0;
}

static int rd_value(rd_t *r) {
    if (r->p >= r->end) return -1;
    switch (*r->p) {
    case '{':
        return rd_container(r, 1);
    case '[':
        return rd_container(r, 0);
    case '"':
        return rd_string(r);
    case 't':
        return rd_lit(r, "true");
    case 'f':
        return rd_lit(r, "false");
    case 'n':
        return rd_lit(r, "null");
    default:
        return rd_number(r);
    }
}

/* The canonical text of text[0..len) into b (appended); 0 or -1 when it is not JSON that
 * json_loads(JSON_DECODE_ANY) would accept. */
static int canonicalize(const char *text, size_t len, strbuf_t *b) {
    rd_t r = {(const unsigned char *)text, (const unsigned char *)text + len, b, 0};
    rd_ws(&r);
    if (rd_value(&r) != 0) return -1;
    rd_ws(&r);
    return r.p == r.end && !b->oom ? 0 : -1;
}

int jsonx_put_canonical(strbuf_t *b, const char *text, size_t len) {
    size_t at = b->len;
    if (canonicalize(text, len, b) == 0) return 0;
    b->len = at;
    return -1;
}

/* The raw value holding text[0..len) as it is (already canonical), or NULL. */
static json_t *raw_of(const char *text, size_t len) {
    json_t *s = json_stringn_nocheck(text, len), *v = s ? json_object() : NULL;
    if (v && json_object_setn_new_nocheck(v, RAW_KEY, RAW_KEY_LEN, s) != 0) {
        json_decref(v);
        return NULL;
    }
    if (!v) json_decref(s);
    return v;
}

json_t *jsonx_raw(const char *text, size_t len, err_t *e) {
    strbuf_t b = {0};
    strbuf_reserve(&b, len);
    json_t *v = text && canonicalize(text, len, &b) == 0 ? raw_of(b.p, b.len) : NULL;
    strbuf_free(&b);
    if (!v) err_set(e, 500, "internal", "", "unreadable JSON document");
    return v;
}

json_t *jsonx_raw_canonical(const char *text, size_t len, err_t *e) {
    json_t *v = text ? raw_of(text, len) : NULL;
    if (!v) err_set(e, 500, "internal", "", "out of memory");
    return v;
}

int jsonx_is_raw(const json_t *v) {
    if (!json_is_object(v) || json_object_size(v) != 1) return 0;
    void *it = json_object_iter((json_t *)v);
    return it && json_object_iter_key_len(it) == RAW_KEY_LEN &&
           memcmp(json_object_iter_key(it), RAW_KEY, RAW_KEY_LEN) == 0;
}

const char *jsonx_raw_text(const json_t *v, size_t *len) {
    if (!jsonx_is_raw(v)) return NULL;
    json_t *s = json_object_iter_value(json_object_iter((json_t *)v));
    if (len) *len = json_string_length(s);
    return json_string_value(s);
}

json_t *jsonx_materialize(json_t *v) {
    if (!v) return NULL;
    size_t len;
    const char *text = jsonx_raw_text(v, &len);
    if (text) {
        json_t *parsed = json_loadb(text, len, JSON_DECODE_ANY, NULL);
        json_decref(v);
        return parsed;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *x = json_array_get(v, i);
            if (!json_is_object(x) && !json_is_array(x)) continue;
            json_t *m = jsonx_materialize(json_incref(x));
            if (m != x && json_array_set_new(v, i, m ? m : json_null()) != 0) break;
            if (m == x) json_decref(m);
        }
    } else if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            json_t *x = json_object_iter_value(it);
            if (!json_is_object(x) && !json_is_array(x)) continue;
            json_t *m = jsonx_materialize(json_incref(x));
            if (m != x)
                json_object_iter_set_new(v, it, m ? m : json_null());
            else
                json_decref(m);
        }
    }
    return v;
}

/* A string as jansson's dump writes it (s is valid UTF-8: jansson checked it when it was made). */
void jsonx_put_string(strbuf_t *b, const char *s, size_t n) {
    strbuf_putn(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (i > run) strbuf_putn(b, s + run, i - run);
        put_cp(b, c);
        run = i + 1;
    }
    if (n > run) strbuf_putn(b, s + run, n - run);
    strbuf_putn(b, "\"", 1);
}

/* jsonx_dump's writer: jansson's compact form (JSON_COMPACT | JSON_ENCODE_ANY |
 * JSON_REAL_PRECISION(15)), raw texts spliced. */
static int dump_raw(const json_t *v, strbuf_t *b, int depth) {
    char num[64];
    int n;
    if (depth > RAW_MAX_DEPTH) return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t len;
        const char *text = jsonx_raw_text(v, &len);
        if (text) {
            strbuf_putn(b, text, len);
            return 0;
        }
        strbuf_putn(b, "{", 1);
        int first = 1;
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first) strbuf_putn(b, ",", 1);
            first = 0;
            jsonx_put_string(b, json_object_iter_key(it), json_object_iter_key_len(it));
            strbuf_putn(b, ":", 1);
            if (dump_raw(json_object_iter_value(it), b, depth + 1) != 0) return -1;
        }
        strbuf_putn(b, "}", 1);
        return 0;
    }
    case JSON_ARRAY:
        strbuf_putn(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) strbuf_putn(b, ",", 1);
            if (dump_raw(json_array_get(v, i), b, depth + 1) != 0) return -1;
        }
        strbuf_putn(b, "]", 1);
        return 0;
    case JSON_STRING:
        jsonx_put_string(b, json_string_value(v), json_string_length(v));
        return 0;
    case JSON_INTEGER:
        n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        n = jsonx_dtostr(num, sizeof num, json_real_value(v), 15);
        break;
    case JSON_TRUE:
        strbuf_putn(b, "true", 4);
        return 0;
    case JSON_FALSE:
        strbuf_putn(b, "false", 5);
        return 0;
    case JSON_NULL:
        strbuf_putn(b, "null", 4);
        return 0;
    default:
        return -1;
    }
    if (n < 0) return -1;
    strbuf_putn(b, num, (size_t)n);
    return 0;
}

char *jsonx_dump(const json_t *v) {
    if (!v) return NULL;
    size_t len;
    const char *text = jsonx_raw_text(v, &len);
    if (text) { /* one raw document (a statement's is MBs): one copy of the exact size */
        char *copy = malloc(len + 1);
        if (copy) memcpy(copy, text, len + 1);
        return copy;
    }
    /* every tree through this writer, not json_dumps: the same bytes (jansson's compact form,
     * its escapes and number formats; tests/core/test_json.c compares them), without jansson's
     * per-container cycle check (a "%p" key put into and taken out of a hash table for every
     * object and array) and its per-character UTF-8 decoding: a consumer batch's 256 facts
     * dumped in about a third of the time (docs/analytics.md "Ingest speed: the server's
     * share") */
    strbuf_t b = {0};
    if (dump_raw(v, &b, 0) != 0) {
        strbuf_free(&b);
        return NULL;
    }
    return strbuf_take(&b);
}
