/* password: see password.h. argon2id hashing (libsodium), argon2/bcrypt verification
 * (libsodium, libxcrypt) and the password policy. Owns the lazily computed dummy hash. */
#include "lib/credentials/password.h"

#include <crypt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lib/credentials/common_passwords.h"

#define ARGON2_MAX_M_KIB (256u * 1024u) /* 256 MiB */
#define ARGON2_MAX_T 16u
#define BCRYPT_LEN 60

static pthread_once_t g_sodium_once = PTHREAD_ONCE_INIT;
static int g_sodium_ok;

static void sodium_once(void) {
    g_sodium_ok = sodium_init() >= 0;
}

static int ensure_sodium(err_t *e) {
    pthread_once(&g_sodium_once, sodium_once);
    if (!g_sodium_ok) return err_set(e, 500, "internal", "", "libsodium initialisation failed");
    return 0;
}

static int bad_credentials(err_t *e) {
    return err_set(e, 401, "invalid_credentials", "", "the credentials are not valid");
}

/* ---------------------------------------------------------------- UTF-8 */

long password_utf8_length(const char *s, size_t max_bytes) {
    if (!s) return -1;
    const unsigned char *p = (const unsigned char *)s;
    long n = 0;
    size_t i = 0;
    while (p[i]) {
        if (i >= max_bytes) return -1;
        unsigned char c = p[i];
        uint32_t cp;
        int extra;
        if (c < 0x80) {
            i++;
            n++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            cp = c & 0x1F;
            extra = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            cp = c & 0x0F;
            extra = 2;
        } else if (c >= 0xF0 && c <= 0xF4) {
            cp = c & 0x07;
            extra = 3;
        } else {
            return -1; /* continuation byte, C0/C1 overlong lead, F5..FF */
        }
        for (int k = 1; k <= extra; k++) {
            unsigned char cc = p[i + (size_t)k];
            if ((cc & 0xC0) != 0x80) return -1; /* also catches the terminating NUL */
            cp = cp << 6 | (cc & 0x3F);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        i += (size_t)extra + 1;
        n++;
    }
    return n;
}

/* ---------------------------------------------------------------- hashing */

int password_hash(const char *password, char out[PASSWORD_HASH_MAX], err_t *e) {
    out[0] = '\0';
    if (ensure_sodium(e) != 0) return -1;
    if (!password) return err_missing(e, "password");
    size_t len = strnlen(password, PASSWORD_MAX_BYTES + 1);
    if (len > PASSWORD_MAX_BYTES)
        return err_set(e, 422, "password_too_long", "password", "password is too long");
    if (crypto_pwhash_str(out, password, len, PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) != 0) {
        out[0] = '\0';
        return err_set(e, 500, "internal", "", "password hashing failed (out of memory?)");
    }
    return 0;
}

/* "$argon2id$v=19$m=<kib>,t=<t>,p=<p>$..." or "$argon2i$...": bounds the cost parameters. */
static int argon2_params_ok(const char *stored) {
    const char *p = strstr(stored, "$m=");
    unsigned long m = 0, t = 0, par = 0;
    if (!p || sscanf(p, "$m=%lu,t=%lu,p=%lu$", &m, &t, &par) != 3) return 0;
    return m >= 8 && m <= ARGON2_MAX_M_KIB && t >= 1 && t <= ARGON2_MAX_T && par >= 1 && par <= 16;
}

static int is_bcrypt(const char *s) {
    return s[0] == '$' && s[1] == '2' && (s[2] == 'a' || s[2] == 'b' || s[2] == 'y') && s[3] == '$';
}

/* "$2b$NN$" + 53 characters of bcrypt's base64 alphabet, NN in 04..PASSWORD_BCRYPT_MAX_COST. */
static int bcrypt_format_ok(const char *s) {
    if (strnlen(s, BCRYPT_LEN + 1) != BCRYPT_LEN || !is_bcrypt(s)) return 0;
    if (s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9' || s[6] != '$') return 0;
    int cost = (s[4] - '0') * 10 + (s[5] - '0');
    if (cost < 4 || cost > PASSWORD_BCRYPT_MAX_COST) return 0;
    for (int i = 7; i < BCRYPT_LEN; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '/'))
            return 0;
    }
    return 1;
}

static int verify_bcrypt(const char *password, const char *stored, err_t *e) {
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd) return err_set(e, 500, "internal", "", "out of memory");
    int rc;
    const char *h = crypt_rn(password, stored, cd, (int)sizeof *cd);
    if (!h || strnlen(h, BCRYPT_LEN + 1) != BCRYPT_LEN) {
        rc = err_set(e, 500, "invalid_hash", "", "stored password hash is not usable");
    } else if (sodium_memcmp(h, stored, BCRYPT_LEN) != 0) {
        rc = bad_credentials(e);
    } else {
        rc = 0;
    }
    sodium_memzero(cd, sizeof *cd);
    free(cd);
    return rc;
}

int password_verify(const char *password, const char *stored, int *needs_rehash, err_t *e) {
    if (needs_rehash) *needs_rehash = 0;
    if (ensure_sodium(e) != 0) return -1;
    if (!stored || strnlen(stored, PASSWORD_HASH_MAX) >= PASSWORD_HASH_MAX)
        return err_set(e, 500, "invalid_hash", "", "stored password hash is not usable");
    if (!password) return bad_credentials(e);
    size_t len = strnlen(password, PASSWORD_MAX_BYTES + 1);
    if (len > PASSWORD_MAX_BYTES) return bad_credentials(e);

    int argon2id = strncmp(stored, "$argon2id$", 10) == 0;
    int argon2i = strncmp(stored, "$argon2i$", 9) == 0;
    if (argon2id || argon2i) {
        if (!argon2_params_ok(stored))
            return err_set(e, 500, "invalid_hash", "", "stored password hash is not usable");
        if (crypto_pwhash_str_verify(stored, password, len) != 0) return bad_credentials(e);
        if (needs_rehash) {
            *needs_rehash = argon2i || crypto_pwhash_str_needs_rehash(stored, PASSWORD_OPSLIMIT,
                                                                      PASSWORD_MEMLIMIT) != 0;
        }
        return 0;
    }
    if (is_bcrypt(stored)) {
        if (!bcrypt_format_ok(stored))
            return err_set(e, 500, "invalid_hash", "", "stored password hash is not usable");
        if (verify_bcrypt(password, stored, e) != 0) return -1;
        if (needs_rehash) *needs_rehash = 1;
        return 0;
    }
    return err_set(e, 500, "invalid_hash", "", "stored password hash is not usable");
}

static pthread_once_t g_dummy_once = PTHREAD_ONCE_INIT;
static char g_dummy[PASSWORD_HASH_MAX];

static void dummy_once(void) {
    unsigned char rnd[24];
    char pw[2 * sizeof rnd + 1];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(pw, sizeof pw, rnd, sizeof rnd);
    if (crypto_pwhash_str(g_dummy, pw, strlen(pw), PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) != 0)
        g_dummy[0] = '\0';
    sodium_memzero(pw, sizeof pw);
}

void password_verify_dummy(const char *password) {
    if (ensure_sodium(NULL) != 0) return;
    pthread_once(&g_dummy_once, dummy_once);
    if (!g_dummy[0] || !password) return;
    size_t len = strnlen(password, PASSWORD_MAX_BYTES + 1);
    if (len > PASSWORD_MAX_BYTES) return;
    /* the result is meaningless: the point is to spend the time */
    volatile int r = crypto_pwhash_str_verify(g_dummy, password, len);
    (void)r;
}

/* ---------------------------------------------------------------- policy */

static int ascii_casecmp_eq(const char *a, const char *b, size_t bn) {
    size_t an = strlen(a);
    if (an != bn) return 0;
    for (size_t i = 0; i < an; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y - 'A' + 'a');
        if (x != y) return 0;
    }
    return 1;
}

int password_check_policy(const char *password, const char *const *context, err_t *e) {
    if (!password) return err_missing(e, "password");
    long n = password_utf8_length(password, PASSWORD_MAX_BYTES);
    if (n < 0) {
        if (strnlen(password, PASSWORD_MAX_BYTES + 1) > PASSWORD_MAX_BYTES)
            return err_set(e, 422, "password_too_long", "password",
                           "password must be at most %d characters long", PASSWORD_MAX_CHARS);
        return err_set(e, 422, "password_invalid", "password", "password is not valid UTF-8 text");
    }
    for (const unsigned char *p = (const unsigned char *)password; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return err_set(e, 422, "password_invalid", "password",
                           "password must not contain control characters");
    if (n < PASSWORD_MIN_CHARS)
        return err_set(e, 422, "password_too_short", "password",
                       "password must be at least %d characters long", PASSWORD_MIN_CHARS);
    if (n > PASSWORD_MAX_CHARS)
        return err_set(e, 422, "password_too_long", "password",
                       "password must be at most %d characters long", PASSWORD_MAX_CHARS);
    if (common_passwords_contains(password))
        return err_set(e, 422, "password_too_common", "password",
                       "this password is too common; choose a less predictable one");
    for (size_t i = 0; context && context[i]; i++) {
        const char *c = context[i];
        const char *at = strchr(c, '@');
        if ((*c && ascii_casecmp_eq(password, c, strlen(c))) ||
            (at && at > c && ascii_casecmp_eq(password, c, (size_t)(at - c))))
            return err_set(e, 422, "password_matches_identity", "password",
                           "password must not be your email address or user name");
    }
    return 0;
}
