/* test_totp: RFC 6238 appendix B SHA-1 vectors (8 digits, and their 6-digit truncation), the
 * +-1 step window (+-2 refused), replay refusal by last used step, code format checks, RFC 4648
 * base32 vectors and round trips, the exact otpauth URI, the QR SVG, and recovery codes
 * (format, uniqueness, single use by index, normalisation, per-user salt). */
#include "lib/credentials/totp.h"

#include <openssl/crypto.h>
#include <qrencode.h>

#include "test.h"

static const unsigned char k_rfc_secret[] = "12345678901234567890"; /* 20 bytes */
#define RFC_LEN 20

static void test_rfc6238_vectors(void) {
    static const struct {
        int64_t t;
        const char *code8;
    } v[] = {{59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
             {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
    err_t e;
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char c8[9], c6[7];
        int64_t step = totp_step(v[i].t);
        CHECK_EQ_INT(totp_code_at_step(k_rfc_secret, RFC_LEN, step, 8, c8, &e), 0);
        CHECK_STR(c8, v[i].code8);
        CHECK_EQ_INT(totp_code_at_step(k_rfc_secret, RFC_LEN, step, 6, c6, &e), 0);
        CHECK_STR(c6, v[i].code8 + 2); /* 6 digits = the value mod 10^6 */
        /* and the verifier accepts the 6-digit code at that time, reporting the step */
        int64_t m = -7;
        CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, v[i].code8 + 2, v[i].t, -1, &m, &e), 0);
        CHECK_EQ_INT(m, step);
        /* the 8-digit form is not a 6-digit code */
        CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, v[i].code8, v[i].t, -1, &m, &e), -1);
    }
    CHECK_EQ_INT(totp_step(59), 1);
    CHECK_EQ_INT(totp_step(60), 2);
    CHECK_EQ_INT(totp_step(0), 0);
    char c[9];
    CHECK_EQ_INT(totp_code_at_step(k_rfc_secret, RFC_LEN, 1, 5, c, &e), -1);
    CHECK_EQ_INT(totp_code_at_step(k_rfc_secret, 0, 1, 6, c, &e), -1);
}

static void test_window(void) {
    err_t e;
    const int64_t now = 1700000015; /* middle of a step */
    int64_t cur = totp_step(now), m;
    char codes[5][7];
    for (int d = -2; d <= 2; d++)
        REQUIRE(totp_code_at_step(k_rfc_secret, RFC_LEN, cur + d, 6, codes[d + 2], &e) == 0);
    /* the test is only meaningful if the five codes differ */
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            REQUIRE(strcmp(codes[i], codes[j]) != 0);
    for (int d = -1; d <= 1; d++) {
        CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, codes[d + 2], now, -1, &m, &e), 0);
        CHECK_EQ_INT(m, cur + d);
    }
    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, codes[0], now, -1, &m, &e), -1);
    CHECK_STR(e.code, "mfa_code_invalid");
    CHECK_EQ_INT(m, -1);
    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, codes[4], now, -1, &m, &e), -1);
    CHECK_STR(e.code, "mfa_code_invalid");
    /* at the step boundaries: the first and last second of the step behave the same */
    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, codes[1], cur * 30, -1, &m, &e), 0);
    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, codes[1], cur * 30 + 29, -1, &m, &e), 0);
    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, codes[1], cur * 30 + 30, -1, &m, &e), -1);
    /* a different secret does not accept the code */
    unsigned char other[RFC_LEN];
    memcpy(other, k_rfc_secret, RFC_LEN);
    other[0] ^= 1;
    CHECK_EQ_INT(totp_verify(other, RFC_LEN, codes[2], now, -1, &m, &e), -1);
}

static void test_replay(void) {
    err_t e;
    const int64_t now = 1700000015;
    int64_t cur = totp_step(now), m = -1, m2 = -1;
    char prev[7], now_c[7], next[7];
    REQUIRE(totp_code_at_step(k_rfc_secret, RFC_LEN, cur - 1, 6, prev, &e) == 0);
    REQUIRE(totp_code_at_step(k_rfc_secret, RFC_LEN, cur, 6, now_c, &e) == 0);
    REQUIRE(totp_code_at_step(k_rfc_secret, RFC_LEN, cur + 1, 6, next, &e) == 0);

    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, now_c, now, -1, &m, &e), 0);
    CHECK_EQ_INT(m, cur);
    /* the same code again, even seconds later within its window */
    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, now_c, now + 20, m, &m2, &e), -1);
    CHECK_STR(e.code, "mfa_code_replayed");
    CHECK_EQ_INT(m2, -1);
    /* an older code after a newer one */
    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, prev, now, m, &m2, &e), -1);
    CHECK_STR(e.code, "mfa_code_replayed");
    /* the next step's code is fresh */
    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, next, now, m, &m2, &e), 0);
    CHECK_EQ_INT(m2, cur + 1);
    /* after using step cur+1, the current code is a replay too */
    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, now_c, now, m2, &m, &e), -1);
    CHECK_STR(e.code, "mfa_code_replayed");
    /* the rule itself */
    CHECK(totp_step_is_fresh(10, -1));
    CHECK(totp_step_is_fresh(10, 9));
    CHECK(!totp_step_is_fresh(10, 10));
    CHECK(!totp_step_is_fresh(9, 10));
    /* a wrong code with last_step set is invalid, not replayed */
    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, "000000", now, m2, &m, &e), -1);
    CHECK(strcmp(e.code, "mfa_code_invalid") == 0 || strcmp(e.code, "mfa_code_replayed") == 0);
}

static void test_code_format(void) {
    err_t e;
    int64_t m;
    const char *bad[] = {"",        "12345",   "1234567", "12a456",
                         " 123456", "123456 ", "+12345",  "１２３４５６"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, bad[i], 1700000015, -1, &m, &e), -1);
        CHECK_STR(e.code, "mfa_code_invalid");
        CHECK(strstr(e.message, bad[i]) == NULL || !*bad[i]);
    }
    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, NULL, 1700000015, -1, &m, &e), -1);
    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, "123456", -5, -1, &m, &e), -1);
    /* near the epoch, step -1 is skipped rather than computed */
    char c[7];
    REQUIRE(totp_code_at_step(k_rfc_secret, RFC_LEN, 0, 6, c, &e) == 0);
    CHECK_EQ_INT(totp_verify(k_rfc_secret, RFC_LEN, c, 5, -1, &m, &e), 0);
    CHECK_EQ_INT(m, 0);
}

static void test_base32(void) {
    err_t e;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",        "MY",       "MZXQ",      "MZXW6",
                                      "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"};
    for (size_t i = 0; i < 7; i++) {
        char out[32];
        unsigned char dec[16];
        size_t n = 99;
        CHECK_EQ_INT(totp_base32_encode((const unsigned char *)plain[i], strlen(plain[i]), out,
                                        sizeof out, &e),
                     0);
        CHECK_STR(out, enc[i]);
        CHECK_EQ_INT(totp_base32_decode(enc[i], dec, sizeof dec, &n, &e), 0);
        CHECK_EQ_INT(n, strlen(plain[i]));
        CHECK(memcmp(dec, plain[i], n) == 0);
    }
    char out[64];
    CHECK_EQ_INT(totp_base32_encode(k_rfc_secret, RFC_LEN, out, sizeof out, &e), 0);
    CHECK_STR(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    CHECK_EQ_INT(totp_base32_encode(k_rfc_secret, RFC_LEN, out, 32, &e), -1); /* no room for NUL */
    unsigned char dec[64];
    size_t n = 0;
    /* padding, lower case accepted */
    CHECK_EQ_INT(totp_base32_decode("MZXW6YQ=", dec, sizeof dec, &n, &e), 0);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(totp_base32_decode("mzxw6ytboi", dec, sizeof dec, &n, &e), 0);
    CHECK(n == 6 && memcmp(dec, "foobar", 6) == 0);
    /* invalid: alphabet, impossible length, non-zero unused bits, too long for the buffer */
    CHECK_EQ_INT(totp_base32_decode("MZXW6YQ1", dec, sizeof dec, &n, &e), -1);
    CHECK_EQ_INT(totp_base32_decode("MZXW 6YQ", dec, sizeof dec, &n, &e), -1);
    CHECK_EQ_INT(totp_base32_decode("MZX", dec, sizeof dec, &n, &e), -1);
    CHECK_EQ_INT(totp_base32_decode("M", dec, sizeof dec, &n, &e), -1);
    CHECK_EQ_INT(totp_base32_decode("MZ", dec, sizeof dec, &n, &e), -1);
    CHECK_EQ_INT(totp_base32_decode("MZXW6YTBOI", dec, 5, &n, &e), -1);
    /* random round trips of generated secrets */
    for (int i = 0; i < 200; i++) {
        unsigned char s[TOTP_SECRET_LEN], back[TOTP_SECRET_LEN];
        char b32[TOTP_SECRET_B32_LEN + 1];
        REQUIRE(totp_secret_generate(s, &e) == 0);
        REQUIRE(totp_base32_encode(s, sizeof s, b32, sizeof b32, &e) == 0);
        CHECK_EQ_INT(strlen(b32), TOTP_SECRET_B32_LEN);
        CHECK_EQ_INT(totp_base32_decode(b32, back, sizeof back, &n, &e), 0);
        CHECK(n == TOTP_SECRET_LEN && memcmp(s, back, n) == 0);
        /* every length 0..20 too */
        size_t len = (size_t)(i % 21);
        char b[64];
        REQUIRE(totp_base32_encode(s, len, b, sizeof b, &e) == 0);
        CHECK_EQ_INT(totp_base32_decode(b, back, sizeof back, &n, &e), 0);
        CHECK(n == len && memcmp(s, back, len) == 0);
    }
    /* two generated secrets differ */
    unsigned char a[TOTP_SECRET_LEN], b[TOTP_SECRET_LEN];
    REQUIRE(totp_secret_generate(a, &e) == 0 && totp_secret_generate(b, &e) == 0);
    CHECK(memcmp(a, b, sizeof a) != 0);
}

static void test_uri(void) {
    err_t e;
    char *u = totp_uri("Reciprocal Clubs", "alice+mfa@club.example", k_rfc_secret, RFC_LEN, &e);
    CHECK_STR(u, "otpauth://totp/Reciprocal%20Clubs:alice%2Bmfa%40club.example"
                 "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Reciprocal%20Clubs"
                 "&algorithm=SHA1&digits=6&period=30");
    free(u);
    u = totp_uri("Zürich GC", "bob_o'neil~x.y-z", k_rfc_secret, RFC_LEN, &e);
    CHECK_STR(u, "otpauth://totp/Z%C3%BCrich%20GC:bob_o%27neil~x.y-z"
                 "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Z%C3%BCrich%20GC"
                 "&algorithm=SHA1&digits=6&period=30");
    free(u);
    u = totp_uri("a&b=c?d/e#f", "x%y", k_rfc_secret, RFC_LEN, &e);
    CHECK_STR(u, "otpauth://totp/a%26b%3Dc%3Fd%2Fe%23f:x%25y"
                 "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=a%26b%3Dc%3Fd%2Fe%23f"
                 "&algorithm=SHA1&digits=6&period=30");
    free(u);
    /* refused: colon, empty, control characters, too long, no secret */
    CHECK(totp_uri("Evil:Issuer", "alice", k_rfc_secret, RFC_LEN, &e) == NULL);
    CHECK_STR(e.field, "issuer");
    CHECK(totp_uri("Issuer", "al:ice", k_rfc_secret, RFC_LEN, &e) == NULL);
    CHECK_STR(e.field, "account");
    CHECK(totp_uri("", "alice", k_rfc_secret, RFC_LEN, &e) == NULL);
    CHECK(totp_uri("Issuer", NULL, k_rfc_secret, RFC_LEN, &e) == NULL);
    CHECK(totp_uri("Issuer", "ali\nce", k_rfc_secret, RFC_LEN, &e) == NULL);
    char longacct[TOTP_ACCOUNT_MAX + 2];
    memset(longacct, 'a', sizeof longacct - 1);
    longacct[sizeof longacct - 1] = '\0';
    CHECK(totp_uri("Issuer", longacct, k_rfc_secret, RFC_LEN, &e) == NULL);
    longacct[TOTP_ACCOUNT_MAX] = '\0';
    u = totp_uri("Issuer", longacct, k_rfc_secret, RFC_LEN, &e);
    CHECK(u != NULL);
    free(u);
    CHECK(totp_uri("Issuer", "alice", k_rfc_secret, 0, &e) == NULL);
}

static void test_qr_svg(void) {
    err_t e;
    unsigned char s[TOTP_SECRET_LEN];
    REQUIRE(totp_secret_generate(s, &e) == 0);
    char *uri = totp_uri("Reciprocal Clubs", "alice@club.example", s, sizeof s, &e);
    REQUIRE(uri != NULL);
    char *svg = totp_qr_svg(uri, &e);
    REQUIRE(svg != NULL);
    size_t n = strlen(svg);
    printf("# otpauth URI %zu bytes -> SVG %zu bytes\n", strlen(uri), n);
    CHECK(strncmp(svg, "<svg", 4) == 0);
    CHECK(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
    CHECK(strstr(svg, "<path fill=\"#000\" d=\"M") != NULL);
    CHECK(n > 1000 && n < 64 * 1024);
    CHECK(strcmp(svg + n - 7, "</svg>\n") == 0);
    /* the top-left finder pattern: 7 dark modules at (4,4) after the quiet zone */
    CHECK(strstr(svg, "M4 4h7v1h-7z") != NULL);
    /* the path, read back module by module, is exactly libqrencode's symbol plus quiet zone */
    QRcode *qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    REQUIRE(qr != NULL);
    int w = qr->width, full = w + 8;
    char view[64];
    snprintf(view, sizeof view, "viewBox=\"0 0 %d %d\"", full, full);
    CHECK(strstr(svg, view) != NULL);
    unsigned char *grid = calloc((size_t)(full * full), 1);
    const char *p = strstr(svg, " d=\"") + 4;
    int x, y, run, run2, used, bad = 0;
    while (sscanf(p, "M%d %dh%dv1h-%dz%n", &x, &y, &run, &run2, &used) == 4) {
        if (run != run2 || x < 0 || y < 0 || x + run > full || y >= full) {
            bad = 1;
            break;
        }
        for (int k = 0; k < run; k++)
            grid[y * full + x + k]++;
        p += used;
    }
    CHECK(!bad);
    CHECK(*p == '"');
    int mismatches = 0;
    for (int yy = 0; yy < full; yy++)
        for (int xx = 0; xx < full; xx++) {
            int in = xx >= 4 && yy >= 4 && xx < 4 + w && yy < 4 + w;
            int dark = in && (qr->data[(yy - 4) * w + (xx - 4)] & 1);
            if (grid[yy * full + xx] != dark) mismatches++;
        }
    CHECK_EQ_INT(mismatches, 0);
    free(grid);
    QRcode_free(qr);
    /* deterministic for the same text, different for different text */
    char *svg2 = totp_qr_svg(uri, &e);
    CHECK(svg2 && strcmp(svg, svg2) == 0);
    free(svg2);
    svg2 = totp_qr_svg("otpauth://totp/x:y?secret=AAAA", &e);
    CHECK(svg2 && strcmp(svg, svg2) != 0);
    free(svg2);
    free(svg);
    free(uri);
    CHECK(totp_qr_svg("", &e) == NULL);
    CHECK(totp_qr_svg(NULL, &e) == NULL);
    char *big = malloc(TOTP_QR_TEXT_MAX + 2);
    memset(big, 'a', TOTP_QR_TEXT_MAX + 1);
    big[TOTP_QR_TEXT_MAX + 1] = '\0';
    CHECK(totp_qr_svg(big, &e) == NULL);
    free(big);
}

static int is_b32(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7');
}

static void test_recovery_codes(void) {
    err_t e;
    char codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_CODE_LEN + 1];
    unsigned char salt[TOTP_RECOVERY_SALT_LEN];
    unsigned char hashes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_HASH_LEN];
    REQUIRE(totp_recovery_generate(codes, salt, hashes, &e) == 0);
    for (int i = 0; i < TOTP_RECOVERY_COUNT; i++) {
        CHECK_EQ_INT(strlen(codes[i]), 19);
        for (int k = 0; k < 19; k++)
            CHECK((k % 5 == 4) ? codes[i][k] == '-' : is_b32(codes[i][k]));
        for (int j = 0; j < i; j++)
            CHECK(strcmp(codes[i], codes[j]) != 0);
        size_t idx = 99;
        CHECK_EQ_INT(totp_recovery_verify(codes[i], salt, hashes, TOTP_RECOVERY_COUNT, &idx, &e),
                     0);
        CHECK_EQ_INT(idx, i);
    }
    /* typed loosely: lower case, spaces instead of dashes, no separators */
    char loose[40];
    snprintf(loose, sizeof loose, "%s", codes[3]);
    for (char *p = loose; *p; p++) {
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
        if (*p == '-') *p = ' ';
    }
    size_t idx = 0;
    CHECK_EQ_INT(totp_recovery_verify(loose, salt, hashes, TOTP_RECOVERY_COUNT, &idx, &e), 0);
    CHECK_EQ_INT(idx, 3);
    /* single use: the caller deletes hash 3 (swap in the last one); code 3 no longer works */
    memcpy(hashes[3], hashes[TOTP_RECOVERY_COUNT - 1], TOTP_RECOVERY_HASH_LEN);
    CHECK_EQ_INT(totp_recovery_verify(codes[3], salt, hashes, TOTP_RECOVERY_COUNT - 1, &idx, &e),
                 -1);
    CHECK_STR(e.code, "mfa_code_invalid");
    CHECK_EQ_INT(totp_recovery_verify(codes[TOTP_RECOVERY_COUNT - 1], salt, hashes,
                                      TOTP_RECOVERY_COUNT - 1, &idx, &e),
                 0);
    CHECK_EQ_INT(idx, 3);
    /* another user's salt: no match */
    unsigned char salt2[TOTP_RECOVERY_SALT_LEN];
    memcpy(salt2, salt, sizeof salt2);
    salt2[0] ^= 0x80;
    CHECK_EQ_INT(totp_recovery_verify(codes[0], salt2, hashes, TOTP_RECOVERY_COUNT - 1, &idx, &e),
                 -1);
    /* malformed input */
    const char *bad[] = {"",
                         "ABCD-EFGH-IJKL",
                         "ABCD-EFGH-IJKL-MNOP-Q",
                         "ABCD-EFGH-IJKL-MN9P",
                         "ABCD_EFGH_IJKL_MNOP",
                         NULL};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(totp_recovery_verify(bad[i], salt, hashes, 5, &idx, &e), -1);
        CHECK_STR(e.code, "mfa_code_invalid");
    }
    /* normalisation: 0/1/8 read as O/I/B */
    unsigned char h1[TOTP_RECOVERY_HASH_LEN], h2[TOTP_RECOVERY_HASH_LEN];
    CHECK_EQ_INT(totp_recovery_hash("OIBA-OIBA-OIBA-OIBA", salt, h1, &e), 0);
    CHECK_EQ_INT(totp_recovery_hash("018a 018a 018a 018a", salt, h2, &e), 0);
    CHECK(memcmp(h1, h2, sizeof h1) == 0);
    CHECK_EQ_INT(totp_recovery_hash("OIBA-OIBA-OIBA-OIBB", salt, h2, &e), 0);
    CHECK(memcmp(h1, h2, sizeof h1) != 0);
    /* a second generation gets a fresh salt and fresh codes */
    char codes2[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_CODE_LEN + 1];
    unsigned char salt3[TOTP_RECOVERY_SALT_LEN];
    unsigned char hashes2[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_HASH_LEN];
    REQUIRE(totp_recovery_generate(codes2, salt3, hashes2, &e) == 0);
    CHECK(memcmp(salt, salt3, sizeof salt) != 0);
    CHECK(strcmp(codes[0], codes2[0]) != 0);
    CHECK_EQ_INT(totp_recovery_verify(codes[0], salt3, hashes2, TOTP_RECOVERY_COUNT, &idx, &e), -1);
}

int main(void) {
    RUN(test_rfc6238_vectors);
    RUN(test_window);
    RUN(test_replay);
    RUN(test_code_format);
    RUN(test_base32);
    RUN(test_uri);
    RUN(test_qr_svg);
    RUN(test_recovery_codes);
    totp_global_cleanup();
    OPENSSL_cleanup();
    TEST_DONE();
}
