/* test_password: argon2id hashing at the chosen parameters (and its measured cost, printed as
 * a comment line), verification of argon2id/argon2i/bcrypt ($2a$, $2b$, $2y$, including a
 * published crypt_blowfish vector), needs_rehash, corrupt stored hashes, the dummy verify, and
 * the policy: code-point length limits, strict UTF-8, control characters, the common-password
 * list and the identity (email / user name) rule. */
#include "lib/credentials/password.h"

#include <crypt.h>
#include <time.h>

#include <sodium.h>

#include "lib/credentials/common_passwords.h"
#include "test.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double g_verify_ms;

static void test_hash_verify(void) {
    err_t e;
    char h[PASSWORD_HASH_MAX], h2[PASSWORD_HASH_MAX];
    const char *pw = "violet staircase under moonlight";
    double t[5];
    for (int i = 0; i < 5; i++) {
        double a = now_ms();
        CHECK_EQ_INT(password_hash(pw, h, &e), 0);
        t[i] = now_ms() - a;
    }
    qsort(t, 5, sizeof t[0], cmp_double);
    printf("# argon2id (t=%llu, m=%zu KiB, p=1) hash: median %.1f ms, min %.1f ms of 5\n",
           (unsigned long long)PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT / 1024, t[2], t[0]);
    CHECK(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    CHECK_EQ_INT(password_hash(pw, h2, &e), 0);
    CHECK(strcmp(h, h2) != 0); /* random salt */

    int rehash = -1;
    double a = now_ms();
    CHECK_EQ_INT(password_verify(pw, h, &rehash, &e), 0);
    g_verify_ms = now_ms() - a;
    printf("# argon2id verify: %.1f ms\n", g_verify_ms);
    CHECK_EQ_INT(rehash, 0);
    CHECK_EQ_INT(password_verify("violet staircase under moonlighT", h, &rehash, &e), -1);
    CHECK_STR(e.code, "invalid_credentials");
    CHECK_EQ_INT(e.status, 401);
    CHECK_EQ_INT(password_verify("", h, NULL, &e), -1);
    CHECK_STR(e.code, "invalid_credentials");
    CHECK_EQ_INT(password_verify(NULL, h, NULL, &e), -1);

    /* Unicode passwords hash and verify byte-exactly */
    const char *u = "mot de passe très sûr ✓ 🔑";
    CHECK_EQ_INT(password_hash(u, h, &e), 0);
    CHECK_EQ_INT(password_verify(u, h, NULL, &e), 0);

    /* over-long inputs are refused without hashing */
    char big[PASSWORD_MAX_BYTES + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_EQ_INT(password_hash(big, h2, &e), -1);
    CHECK_STR(e.code, "password_too_long");
    CHECK_EQ_INT(password_verify(big, h, NULL, &e), -1);
    CHECK_STR(e.code, "invalid_credentials");
}

static void test_weaker_argon2_needs_rehash(void) {
    err_t e;
    char h[crypto_pwhash_STRBYTES];
    const char *pw = "an older but valid password";
    REQUIRE(crypto_pwhash_str(h, pw, strlen(pw), 1, 8u << 20) == 0);
    int rehash = 0;
    CHECK_EQ_INT(password_verify(pw, h, &rehash, &e), 0);
    CHECK_EQ_INT(rehash, 1);
    CHECK_EQ_INT(password_verify("wrong password here", h, &rehash, &e), -1);
    CHECK_STR(e.code, "invalid_credentials");
    /* legacy argon2i */
    REQUIRE(crypto_pwhash_argon2i_str(h, pw, strlen(pw), 3, 8u << 20) == 0);
    CHECK(strncmp(h, "$argon2i$", 9) == 0);
    rehash = 0;
    CHECK_EQ_INT(password_verify(pw, h, &rehash, &e), 0);
    CHECK_EQ_INT(rehash, 1);
    /* stronger parameters than ours also normalise to the current ones */
    REQUIRE(crypto_pwhash_str(h, pw, strlen(pw), 3, 19456u * 1024u) == 0);
    rehash = 0;
    CHECK_EQ_INT(password_verify(pw, h, &rehash, &e), 0);
    CHECK_EQ_INT(rehash, 1);
}

static void bcrypt_make(const char *prefix, const char *pw, char *out, size_t cap) {
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data cd;
    memset(&cd, 0, sizeof cd);
    out[0] = '\0';
    if (!crypt_gensalt_rn(prefix, 4, NULL, 0, setting, sizeof setting)) return;
    const char *r = crypt_rn(pw, setting, &cd, sizeof cd);
    if (r) snprintf(out, cap, "%s", r);
}

static void test_bcrypt_legacy(void) {
    err_t e;
    /* crypt_blowfish test vector (Openwall): "U*U" under $2a$05$CCC... */
    const char *vec = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    int rehash = 0;
    CHECK_EQ_INT(password_verify("U*U", vec, &rehash, &e), 0);
    CHECK_EQ_INT(rehash, 1);
    CHECK_EQ_INT(password_verify("U*V", vec, &rehash, &e), -1);
    CHECK_STR(e.code, "invalid_credentials");

    const char *prefixes[] = {"$2b$", "$2a$", "$2y$"};
    for (size_t i = 0; i < 3; i++) {
        char h[128];
        const char *pw = "legacy password from the old system";
        bcrypt_make(prefixes[i], pw, h, sizeof h);
        REQUIRE(strlen(h) == 60);
        CHECK(strncmp(h, prefixes[i], 4) == 0);
        rehash = 0;
        CHECK_EQ_INT(password_verify(pw, h, &rehash, &e), 0);
        CHECK_EQ_INT(rehash, 1);
        CHECK_EQ_INT(password_verify("legacy password from the old systen", h, &rehash, &e), -1);
        CHECK_STR(e.code, "invalid_credentials");
        /* a tampered checksum no longer matches */
        h[59] = h[59] == 'a' ? 'b' : 'a';
        CHECK_EQ_INT(password_verify(pw, h, &rehash, &e), -1);
    }
}

static void test_corrupt_hashes(void) {
    err_t e;
    const char *bad[] = {
        "",
        "plaintext-password",
        "$1$saltsalt$abcdefghijklmnopqrstuv",                            /* MD5-crypt */
        "$5$rounds=5000$salt$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO", /* SHA-256-crypt */
        "$2b$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",  /* cost too low */
        "$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",  /* cost too high */
        "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",   /* 59 chars */
        "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyO*W",  /* bad alphabet */
        "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",  /* buggy-variant */
        "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
        "$argon2id$v=19$m=19456,t=99,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
        "$argon2id$garbage",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err_clear(&e);
        CHECK_EQ_INT(password_verify("whatever password", bad[i], NULL, &e), -1);
        if (strcmp(e.code, "invalid_hash") != 0) printf("#   case %zu: %s\n", i, e.code);
        CHECK_STR(e.code, "invalid_hash");
    }
    CHECK_EQ_INT(password_verify("x", NULL, NULL, &e), -1);
    CHECK_STR(e.code, "invalid_hash");
    /* a well-formed argon2id string that simply does not match is a credential failure */
    CHECK_EQ_INT(password_verify("whatever password",
                                 "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQxMjM0NTY$"
                                 "RdescudvJCsgt3ub+b+dWRWJTmaaJObGRdescudvJCs",
                                 NULL, &e),
                 -1);
    CHECK_STR(e.code, "invalid_credentials");
}

static void test_dummy_verify(void) {
    password_verify_dummy("warm up the dummy hash");
    double a = now_ms();
    password_verify_dummy("some password for a missing account");
    double d = now_ms() - a;
    printf("# dummy verify: %.1f ms (real verify %.1f ms)\n", d, g_verify_ms);
    CHECK(d > g_verify_ms / 4); /* same work, allowing for noise */
    password_verify_dummy(NULL);
}

static void test_policy_length(void) {
    err_t e;
    CHECK_EQ_INT(password_check_policy("tangerine o", NULL, &e), -1); /* 11 */
    CHECK_STR(e.code, "password_too_short");
    CHECK_STR(e.field, "password");
    CHECK_EQ_INT(e.status, 422);
    CHECK_EQ_INT(password_check_policy("tangerine ox", NULL, &e), 0); /* 12 */
    CHECK_EQ_INT(password_check_policy("", NULL, &e), -1);
    CHECK_STR(e.code, "password_too_short");
    /* code points, not bytes: 11 four-byte emoji = 44 bytes is still too short */
    char s[8 * 130 + 1];
    s[0] = '\0';
    for (int i = 0; i < 11; i++)
        strcat(s, "\xF0\x9F\x94\x91"); /* U+1F511 */
    CHECK_EQ_INT(password_check_policy(s, NULL, &e), -1);
    CHECK_STR(e.code, "password_too_short");
    strcat(s, "\xF0\x9F\x94\x92");
    CHECK_EQ_INT(password_check_policy(s, NULL, &e), 0);
    /* 128 two-byte characters (256 bytes) pass, 129 do not */
    s[0] = '\0';
    for (int i = 0; i < 128; i++)
        strcat(s, i % 2 ? "\xC3\xA9" : "\xC3\xB1"); /* é ñ */
    CHECK_EQ_INT(password_utf8_length(s, PASSWORD_MAX_BYTES), 128);
    CHECK_EQ_INT(password_check_policy(s, NULL, &e), 0);
    strcat(s, "\xC3\xA9");
    CHECK_EQ_INT(password_check_policy(s, NULL, &e), -1);
    CHECK_STR(e.code, "password_too_long");
    /* 128 ASCII ok, 129 not; a huge one is refused without scanning it all */
    memset(s, 'q', 128);
    for (int i = 0; i < 128; i += 7)
        s[i] = (char)('a' + i % 26);
    s[128] = '\0';
    CHECK_EQ_INT(password_check_policy(s, NULL, &e), 0);
    s[128] = 'z';
    s[129] = '\0';
    CHECK_EQ_INT(password_check_policy(s, NULL, &e), -1);
    CHECK_STR(e.code, "password_too_long");
    char *huge = malloc(100000);
    memset(huge, 'k', 99999);
    huge[99999] = '\0';
    CHECK_EQ_INT(password_check_policy(huge, NULL, &e), -1);
    CHECK_STR(e.code, "password_too_long");
    free(huge);
    /* spaces are ordinary characters; no composition rules */
    CHECK_EQ_INT(password_check_policy("all lower case words here", NULL, &e), 0);
    CHECK_EQ_INT(password_check_policy("ONLYUPPERCASELETTERS", NULL, &e), 0);
    CHECK_EQ_INT(password_check_policy(NULL, NULL, &e), -1);
}

static void test_policy_utf8(void) {
    err_t e;
    const char *bad[] = {
        "valid prefix \xC0\xAF tail",         /* overlong '/' */
        "valid prefix \xE0\x80\xAF tail",     /* overlong 3-byte */
        "valid prefix \xED\xA0\x80 tail",     /* UTF-16 surrogate */
        "valid prefix \xF4\x90\x80\x80 tail", /* > U+10FFFF */
        "valid prefix \x80 tail",             /* lone continuation */
        "valid prefix tail \xE2\x82",         /* truncated at the end */
        "valid prefix \xFF tail",
        "valid prefix \xF8\x88\x80\x80\x80 t", /* 5-byte form */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(password_check_policy(bad[i], NULL, &e), -1);
        CHECK_STR(e.code, "password_invalid");
        CHECK_EQ_INT(password_utf8_length(bad[i], PASSWORD_MAX_BYTES), -1);
    }
    CHECK_EQ_INT(password_check_policy("tab\tinside the password", NULL, &e), -1);
    CHECK_STR(e.code, "password_invalid");
    CHECK_EQ_INT(password_check_policy("newline\ninside the password", NULL, &e), -1);
    CHECK_EQ_INT(password_check_policy("delete\x7finside the password", NULL, &e), -1);
    /* valid multi-byte text of every length class */
    CHECK_EQ_INT(password_check_policy("Grüße aus Köln — 東京 🔑", NULL, &e), 0);
    CHECK_EQ_INT(password_utf8_length("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x94\x91", 100), 4);
    CHECK_EQ_INT(password_utf8_length("\xF4\x8F\xBF\xBF", 100), 1); /* U+10FFFF */
}

static void test_policy_common(void) {
    err_t e;
    CHECK(common_passwords_count() >= 2000);
    const char *common[] = {"123456789012",
                            "password1234",
                            "qwertyuiopas",
                            "iloveyou1234",
                            "Password1234",
                            "PASSWORD1234",
                            "QwErTyUiOpAs",
                            "aaaaaaaaaaaa",
                            "111111111111",
                            "1q2w3e4r5t6y",
                            "1qaz2wsx3edc",
                            "abcdefghijkl",
                            "qwerty123456",
                            "letmein12345",
                            "welcome12345",
                            "football2024",
                            "correcthorsebatterystaple",
                            "passwordpassword",
                            "098765432109",
                            "abcabcabcabc",
                            "!@#$%^&*()_+",
                            "starwars1999",
                            "superman1234"};
    for (size_t i = 0; i < sizeof common / sizeof *common; i++) {
        int hit = common_passwords_contains(common[i]);
        if (!hit) printf("#   not on the list: %s\n", common[i]);
        CHECK(hit);
        CHECK_EQ_INT(password_check_policy(common[i], NULL, &e), -1);
        CHECK_STR(e.code, "password_too_common");
    }
    const char *fine[] = {"violet staircase under moonlight", "tangerine ox", "q7#Lm!x2Pz@9",
                          "password1234 but longer and odd"};
    for (size_t i = 0; i < sizeof fine / sizeof *fine; i++) {
        CHECK(!common_passwords_contains(fine[i]));
        CHECK_EQ_INT(password_check_policy(fine[i], NULL, &e), 0);
    }
    CHECK(!common_passwords_contains(NULL));
    CHECK(!common_passwords_contains("short"));
}

static void test_policy_identity(void) {
    err_t e;
    const char *ctx[] = {"Alice.Longname@club.example", "alice_the_member", "", NULL};
    CHECK_EQ_INT(password_check_policy("alice.longname@club.example", ctx, &e), -1);
    CHECK_STR(e.code, "password_matches_identity");
    CHECK_EQ_INT(password_check_policy("ALICE.LONGNAME", ctx, &e), -1); /* email local part */
    CHECK_STR(e.code, "password_matches_identity");
    CHECK_EQ_INT(password_check_policy("Alice_The_Member", ctx, &e), -1);
    CHECK_STR(e.code, "password_matches_identity");
    CHECK_EQ_INT(password_check_policy("alice the member, really", ctx, &e), 0);
    CHECK_EQ_INT(password_check_policy("violet staircase", ctx, &e), 0);
    CHECK_EQ_INT(password_check_policy("violet staircase", NULL, &e), 0);
}

int main(void) {
    RUN(test_hash_verify);
    RUN(test_weaker_argon2_needs_rehash);
    RUN(test_bcrypt_legacy);
    RUN(test_corrupt_hashes);
    RUN(test_dummy_verify);
    RUN(test_policy_length);
    RUN(test_policy_utf8);
    RUN(test_policy_common);
    RUN(test_policy_identity);
    TEST_DONE();
}
