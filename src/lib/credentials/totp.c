/* totp: see totp.h. RFC 6238 codes via liboath, base32, otpauth URIs, QR SVG via libqrencode,
 * recovery codes hashed with SHA-256 (OpenSSL). Owns liboath's one-time initialisation. */
#include "lib/credentials/totp.h"

#include "core/strbuf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <qrencode.h>

static const char k_b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* ---------------------------------------------------------------- liboath lifetime */

static pthread_once_t g_oath_once = PTHREAD_ONCE_INIT;
static int g_oath_ok;

static void oath_once(void) {
    g_oath_ok = oath_init() == OATH_OK;
}

static int ensure_oath(err_t *e) {
    pthread_once(&g_oath_once, oath_once);
    if (!g_oath_ok) return err_set(e, 500, "internal", "", "liboath initialisation failed");
    return 0;
}

void totp_global_cleanup(void) {
    if (g_oath_ok) {
        oath_done();
        g_oath_ok = 0;
    }
}

/* ---------------------------------------------------------------- secrets, base32 */

int totp_secret_generate(unsigned char secret[TOTP_SECRET_LEN], err_t *e) {
    if (RAND_bytes(secret, TOTP_SECRET_LEN) != 1)
        return err_set(e, 500, "internal", "", "random number generator failed");
    return 0;
}

int totp_base32_encode(const unsigned char *in, size_t len, char *out, size_t cap, err_t *e) {
    if (!out || (!in && len)) return err_set(e, 500, "internal", "secret", "bad arguments");
    size_t need = (len * 8 + 4) / 5 + 1;
    if (len > 4096 || cap < need)
        return err_set(e, 500, "internal", "secret", "base32 output buffer is too small");
    size_t o = 0;
    uint32_t buf = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        buf = (buf << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = k_b32[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) out[o++] = k_b32[(buf << (5 - bits)) & 31];
    out[o] = '\0';
    return 0;
}

static int b32_val(unsigned char c) {
    if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 'a' + 'A');
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= '2' && c <= '7') return c - '2' + 26;
    return -1;
}

int totp_base32_decode(const char *in, unsigned char *out, size_t cap, size_t *out_len, err_t *e) {
    if (!in || !out) return err_set(e, 500, "internal", "secret", "bad arguments");
    size_t n = strlen(in);
    while (n > 0 && in[n - 1] == '=')
        n--;
    /* a base32 string of n characters carries n*5 bits; lengths 1, 3, 6 (mod 8) are impossible */
    size_t r = n % 8;
    if (r == 1 || r == 3 || r == 6) return err_invalid(e, "secret", "secret is not valid base32");
    size_t bytes = n * 5 / 8;
    if (bytes > cap) return err_invalid(e, "secret", "secret is too long");
    uint32_t buf = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b32_val((unsigned char)in[i]);
        if (v < 0) return err_invalid(e, "secret", "secret is not valid base32");
        buf = (buf << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            out[o++] = (unsigned char)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    if (bits > 0 && (buf & ((1u << bits) - 1)) != 0)
        return err_invalid(e, "secret", "secret is not valid base32");
    if (out_len) *out_len = o;
    return 0;
}

/* ---------------------------------------------------------------- codes */

int64_t totp_step(int64_t t) {
    return t < 0 ? -1 : t / TOTP_PERIOD;
}

int totp_step_is_fresh(int64_t step, int64_t last_step) {
    return step > last_step;
}

int totp_code_at_step(const unsigned char *secret, size_t len, int64_t step, unsigned digits,
                      char *out, err_t *e) {
    if (ensure_oath(e) != 0) return -1;
    if (!secret || len == 0 || len > TOTP_MAX_SECRET_LEN)
        return err_invalid(e, "secret", "TOTP secret must be 1..%d bytes", TOTP_MAX_SECRET_LEN);
    if (digits < 6 || digits > 8) return err_invalid(e, "digits", "digits must be 6..8");
    if (step < 0 || step > INT64_MAX / TOTP_PERIOD)
        return err_invalid(e, "time", "time is out of range");
    if (oath_totp_generate((const char *)secret, len, (time_t)(step * TOTP_PERIOD), TOTP_PERIOD,
                           OATH_TOTP_DEFAULT_START_TIME, digits, out) != OATH_OK)
        return err_set(e, 500, "internal", "", "TOTP computation failed");
    return 0;
}

int totp_verify(const unsigned char *secret, size_t len, const char *code, int64_t now,
                int64_t last_step, int64_t *matched_step, err_t *e) {
    if (matched_step) *matched_step = -1;
    if (now < 0) return err_invalid(e, "time", "time is out of range");
    int ok_format = code && strlen(code) == TOTP_DIGITS;
    for (size_t i = 0; ok_format && i < TOTP_DIGITS; i++)
        if (code[i] < '0' || code[i] > '9') ok_format = 0;
    if (!ok_format) return err_set(e, 401, "mfa_code_invalid", "code", "the code is not valid");

    int64_t cur = totp_step(now), fresh = -1;
    int stale = 0;
    /* every step of the window is computed and compared: no early exit */
    for (int64_t s = cur - TOTP_WINDOW; s <= cur + TOTP_WINDOW; s++) {
        if (s < 0) continue;
        char want[TOTP_DIGITS + 1];
        if (totp_code_at_step(secret, len, s, TOTP_DIGITS, want, e) != 0) return -1;
        int match = CRYPTO_memcmp(want, code, TOTP_DIGITS) == 0;
        OPENSSL_cleanse(want, sizeof want);
        if (!match) continue;
        if (totp_step_is_fresh(s, last_step)) {
            if (fresh < 0) fresh = s; /* ascending loop: the smallest fresh step */
        } else {
            stale = 1;
        }
    }
    if (fresh >= 0) {
        if (matched_step) *matched_step = fresh;
        return 0;
    }
    if (stale)
        return err_set(e, 401, "mfa_code_replayed", "code", "this code has already been used");
    return err_set(e, 401, "mfa_code_invalid", "code", "the code is not valid");
}

/* ---------------------------------------------------------------- otpauth URI */

static void sb_fmt(strbuf_t *b, const char *fmt, int x, int y, int z) {
    char tmp[256];
    int n = snprintf(tmp, sizeof tmp, fmt, x, y, z);
    if (n > 0 && (size_t)n < sizeof tmp) strbuf_putn(b, tmp, (size_t)n);
}

static char *sb_finish(strbuf_t *b, err_t *e) {
    char *s = strbuf_take(b);
    if (!s) err_set(e, 500, "internal", "", "out of memory");
    return s;
}

static void sb_pct(strbuf_t *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            strbuf_putn(b, (const char *)p, 1);
        } else {
            char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
            strbuf_putn(b, enc, 3);
        }
    }
}

static int label_part_ok(const char *s, size_t max, const char *field, err_t *e) {
    if (!s || !*s) return err_invalid(e, field, "%s is required", field);
    size_t n = strnlen(s, max + 1);
    if (n > max) return err_invalid(e, field, "%s must be at most %zu bytes", field, max);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F || c == ':')
            return err_invalid(e, field, "%s must not contain ':' or control characters", field);
    }
    return 0;
}

char *totp_uri(const char *issuer, const char *account, const unsigned char *secret, size_t len,
               err_t *e) {
    if (label_part_ok(issuer, TOTP_ISSUER_MAX, "issuer", e) != 0 ||
        label_part_ok(account, TOTP_ACCOUNT_MAX, "account", e) != 0)
        return NULL;
    char b32[(TOTP_MAX_SECRET_LEN * 8 + 4) / 5 + 1];
    if (!secret || len == 0 || len > TOTP_MAX_SECRET_LEN) {
        err_invalid(e, "secret", "TOTP secret must be 1..%d bytes", TOTP_MAX_SECRET_LEN);
        return NULL;
    }
    if (totp_base32_encode(secret, len, b32, sizeof b32, e) != 0) return NULL;
    strbuf_t b = {0};
    strbuf_puts(&b, "otpauth://totp/");
    sb_pct(&b, issuer);
    strbuf_puts(&b, ":");
    sb_pct(&b, account);
    strbuf_puts(&b, "?secret=");
    strbuf_puts(&b, b32);
    strbuf_puts(&b, "&issuer=");
    sb_pct(&b, issuer);
    sb_fmt(&b, "&algorithm=SHA1&digits=%d&period=%d", TOTP_DIGITS, TOTP_PERIOD, 0);
    OPENSSL_cleanse(b32, sizeof b32);
    return sb_finish(&b, e);
}

/* ---------------------------------------------------------------- QR code as SVG */

#define QR_QUIET 4
#define QR_PX 4

char *totp_qr_svg(const char *text, err_t *e) {
    if (!text || !*text || strnlen(text, TOTP_QR_TEXT_MAX + 1) > TOTP_QR_TEXT_MAX) {
        err_invalid(e, "text", "QR text must be 1..%d bytes", TOTP_QR_TEXT_MAX);
        return NULL;
    }
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr) {
        err_set(e, 500, "internal", "", "QR code encoding failed");
        return NULL;
    }
    int w = qr->width, full = w + 2 * QR_QUIET;
    strbuf_t b = {0};
    sb_fmt(&b,
           "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 %d %d\" "
           "width=\"%d\" ",
           full, full, full * QR_PX);
    sb_fmt(&b,
           "height=\"%d\" shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
           "fill=\"#fff\"/><path fill=\"#000\" d=\"",
           full * QR_PX, full, full);
    /* one rectangle per horizontal run of dark modules (bit 0 of each byte = dark) */
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w;) {
            if (!(qr->data[y * w + x] & 1)) {
                x++;
                continue;
            }
            int run = 1;
            while (x + run < w && (qr->data[y * w + x + run] & 1))
                run++;
            sb_fmt(&b, "M%d %dh%d", x + QR_QUIET, y + QR_QUIET, run);
            sb_fmt(&b, "v1h-%dz", run, 0, 0);
            x += run;
        }
    }
    strbuf_puts(&b, "\"/></svg>\n");
    QRcode_free(qr);
    return sb_finish(&b, e);
}

/* ---------------------------------------------------------------- recovery codes */

/* Upper-case, drop '-' and spaces, read 0/1/8 as O/I/B; exactly 16 base32 characters. */
static int recovery_normalise(const char *in, char out[TOTP_RECOVERY_CODE_CHARS + 1]) {
    size_t o = 0;
    if (!in) return -1;
    for (size_t i = 0; in[i]; i++) {
        if (i > 64) return -1;
        char c = in[i];
        if (c == '-' || c == ' ') continue;
        if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        if (c == '0') c = 'O';
        if (c == '1') c = 'I';
        if (c == '8') c = 'B';
        if (b32_val((unsigned char)c) < 0 || o >= TOTP_RECOVERY_CODE_CHARS) return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return o == TOTP_RECOVERY_CODE_CHARS ? 0 : -1;
}

static int recovery_digest(const char *norm, const unsigned char *salt, unsigned char *out,
                           err_t *e) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(md, salt, TOTP_RECOVERY_SALT_LEN) == 1 &&
             EVP_DigestUpdate(md, norm, TOTP_RECOVERY_CODE_CHARS) == 1 &&
             EVP_DigestFinal_ex(md, out, &n) == 1 && n == TOTP_RECOVERY_HASH_LEN;
    EVP_MD_CTX_free(md);
    if (!ok) return err_set(e, 500, "internal", "", "SHA-256 failed");
    return 0;
}

int totp_recovery_hash(const char *code, const unsigned char salt[TOTP_RECOVERY_SALT_LEN],
                       unsigned char out[TOTP_RECOVERY_HASH_LEN], err_t *e) {
    char norm[TOTP_RECOVERY_CODE_CHARS + 1];
    if (!salt) return err_missing(e, "salt");
    if (recovery_normalise(code, norm) != 0)
        return err_set(e, 401, "mfa_code_invalid", "code", "the recovery code is not valid");
    int rc = recovery_digest(norm, salt, out, e);
    OPENSSL_cleanse(norm, sizeof norm);
    return rc;
}

int totp_recovery_generate(char codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_CODE_LEN + 1],
                           unsigned char salt[TOTP_RECOVERY_SALT_LEN],
                           unsigned char hashes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_HASH_LEN],
                           err_t *e) {
    if (RAND_bytes(salt, TOTP_RECOVERY_SALT_LEN) != 1)
        return err_set(e, 500, "internal", "", "random number generator failed");
    for (int i = 0; i < TOTP_RECOVERY_COUNT; i++) {
        unsigned char rnd[TOTP_RECOVERY_CODE_CHARS * 5 / 8]; /* 10 bytes = 80 bits */
        char b32[TOTP_RECOVERY_CODE_CHARS + 1];
        if (RAND_bytes(rnd, sizeof rnd) != 1)
            return err_set(e, 500, "internal", "", "random number generator failed");
        if (totp_base32_encode(rnd, sizeof rnd, b32, sizeof b32, e) != 0) return -1;
        OPENSSL_cleanse(rnd, sizeof rnd);
        snprintf(codes[i], TOTP_RECOVERY_CODE_LEN + 1, "%.4s-%.4s-%.4s-%.4s", b32, b32 + 4, b32 + 8,
                 b32 + 12);
        int rc = recovery_digest(b32, salt, hashes[i], e);
        OPENSSL_cleanse(b32, sizeof b32);
        if (rc != 0) return -1;
    }
    return 0;
}

int totp_recovery_verify(const char *code, const unsigned char salt[TOTP_RECOVERY_SALT_LEN],
                         const unsigned char (*hashes)[TOTP_RECOVERY_HASH_LEN], size_t n,
                         size_t *index, err_t *e) {
    if (index) *index = (size_t)-1;
    if (!hashes || n == 0 || n > TOTP_RECOVERY_COUNT * 4)
        return err_set(e, 401, "mfa_code_invalid", "code", "the recovery code is not valid");
    unsigned char h[TOTP_RECOVERY_HASH_LEN];
    if (totp_recovery_hash(code, salt, h, e) != 0) return -1;
    size_t found = 0, found_at = 0;
    for (size_t i = 0; i < n; i++) {
        /* branch-free accumulate: every stored hash is compared */
        size_t eq = (size_t)(CRYPTO_memcmp(h, hashes[i], TOTP_RECOVERY_HASH_LEN) == 0);
        size_t take = eq & (size_t)(found == 0);
        found_at = take * i + (1 - take) * found_at;
        found |= eq;
    }
    OPENSSL_cleanse(h, sizeof h);
    if (!found)
        return err_set(e, 401, "mfa_code_invalid", "code", "the recovery code is not valid");
    if (index) *index = found_at;
    return 0;
}
