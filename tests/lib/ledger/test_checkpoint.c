/* test_checkpoint: C2SP signed-note / tlog-checkpoint format: the golang.org/x/mod/sumdb/note
 * known answer (key id rule and byte-exact signature line), round trip, cosigning, tampering,
 * unknown and wrong keys, duplicates and the strict parser's rejections. */
#include "lib/ledger/checkpoint.h"

#include <sodium.h>

#include "test.h"

#define EM "\xe2\x80\x94"

typedef struct key {
    uint8_t pk[32], sk[64];
    checkpoint_signer_t signer;
    checkpoint_verifier_t verifier;
} key_t_;

static void make_key(key_t_ *k, const char *name, uint8_t seed_byte) {
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof seed);
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
    err_t e;
    int a = checkpoint_signer_init(&k->signer, name, k->sk, &e);
    int b = checkpoint_verifier_init(&k->verifier, name, k->pk, &e);
    CHECK(a == 0 && b == 0);
}

static uint8_t test_root[32];

/* body for (origin, size) with the fixed test root */
static char *body(const char *origin, uint64_t size) {
    char *out = NULL;
    err_t e;
    for (int i = 0; i < 32; i++)
        test_root[i] = (uint8_t)(i * 7 + 1);
    CHECK_EQ_INT(checkpoint_format_body(origin, size, test_root, NULL, 0, &out, NULL, &e), 0);
    return out;
}

static char *sign(const char *in, const key_t_ *k) {
    char *out = NULL;
    err_t e;
    int rc = checkpoint_sign(in, strlen(in), &k->signer, &out, NULL, &e);
    if (rc != 0) fprintf(stdout, "#   sign failed: %s\n", e.message);
    CHECK_EQ_INT(rc, 0);
    return out;
}

static int open_with(const char *note, const checkpoint_verifier_t *vs, size_t n, int *flags,
                     size_t *nv, err_t *e) {
    checkpoint_note_t cn;
    int rc = checkpoint_open(note, strlen(note), vs, n, &cn, flags, nv, e);
    if (rc == 0) checkpoint_note_free(&cn);
    return rc;
}

static int parse_rc(const char *note, err_t *e) {
    checkpoint_note_t cn;
    int rc = checkpoint_parse(note, strlen(note), &cn, e);
    if (rc == 0) checkpoint_note_free(&cn);
    return rc;
}

/* golang.org/x/mod/sumdb/note example: PeterNeumann+c74f20a3, byte-exact signature line. */
static void test_go_sumdb_note_kat(void) {
    REQUIRE(sodium_init() >= 0);
    uint8_t skey[64], vkey[64], pk[32], sk[64];
    size_t sl = 0, vl = 0;
    const char *skey_b64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const char *vkey_b64 = "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    REQUIRE(sodium_base642bin(skey, sizeof skey, skey_b64, strlen(skey_b64), NULL, &sl, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0);
    REQUIRE(sodium_base642bin(vkey, sizeof vkey, vkey_b64, strlen(vkey_b64), NULL, &vl, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0);
    REQUIRE(sl == 33 && vl == 33 && skey[0] == 0x01 && vkey[0] == 0x01);
    crypto_sign_seed_keypair(pk, sk, skey + 1);
    CHECK(memcmp(pk, vkey + 1, 32) == 0);
    uint32_t id = 0;
    err_t e;
    CHECK_EQ_INT(checkpoint_key_id("PeterNeumann", pk, &id, &e), 0);
    CHECK_EQ_INT(id, 0xc74f20a3u);
    checkpoint_signer_t s;
    REQUIRE(checkpoint_signer_init(&s, "PeterNeumann", sk, &e) == 0);
    CHECK_EQ_INT(s.key_id, 0xc74f20a3u);
    const char *text = "If you think cryptography is the answer to your problem,\n"
                       "then you don't know what your problem is.\n";
    char line[256];
    size_t ll = 0;
    CHECK_EQ_INT(checkpoint_sig_line(text, strlen(text), &s, line, sizeof line, &ll, &e), 0);
    CHECK_STR(line,
              EM " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgK"
                 "vqfqdngotpRZb6KE6RyyBwJnAM=\n");
    CHECK_EQ_INT(ll, strlen(line));
    checkpoint_signer_wipe(&s);
    /* a secret key whose public half does not match its seed is refused */
    sk[40] ^= 1;
    CHECK_EQ_INT(checkpoint_signer_init(&s, "PeterNeumann", sk, &e), -1);
    /* names with '+' or spaces cannot be key names */
    CHECK_EQ_INT(checkpoint_key_id("a+b", pk, &id, &e), -1);
    CHECK_EQ_INT(checkpoint_key_id("a b", pk, &id, &e), -1);
    CHECK_EQ_INT(checkpoint_key_id("a\xc2\xa0"
                                   "b",
                                   pk, &id, &e),
                 -1); /* U+00A0 */
    CHECK_EQ_INT(checkpoint_key_id("", pk, &id, &e), -1);
}

static void test_round_trip(void) {
    key_t_ log;
    make_key(&log, "ledger.reciprocal.example/log", 1);
    const char *ext[] = {"block 42", "extra \xc3\xa9"};
    char *b = NULL;
    size_t bl = 0;
    err_t e;
    uint8_t root[32];
    for (int i = 0; i < 32; i++)
        root[i] = (uint8_t)(255 - i);
    /* (REQUIRE evaluates its argument twice: no side effects inside it) */
    int rc = checkpoint_format_body("ledger.reciprocal.example/log", 20852163, root, ext, 2, &b,
                                    &bl, &e);
    REQUIRE(rc == 0);
    CHECK_EQ_INT(bl, strlen(b));
    char *n1 = sign(b, &log);
    REQUIRE(n1 != NULL);
    /* layout: body, blank line, one signature line */
    CHECK(strncmp(n1, b, bl) == 0 && n1[bl] == '\n' &&
          strncmp(n1 + bl + 1, EM " ledger.", 11) == 0);
    checkpoint_note_t cn;
    int flags[1] = {0};
    size_t nv = 0;
    rc = checkpoint_open(n1, strlen(n1), &log.verifier, 1, &cn, flags, &nv, &e);
    REQUIRE(rc == 0);
    CHECK_STR(cn.cp.origin, "ledger.reciprocal.example/log");
    CHECK_EQ_INT(cn.cp.size, 20852163);
    CHECK(memcmp(cn.cp.root, root, 32) == 0);
    CHECK_EQ_INT(cn.cp.n_ext, 2);
    if (cn.cp.n_ext == 2) {
        CHECK_STR(cn.cp.ext[0], "block 42");
        CHECK_STR(cn.cp.ext[1], "extra \xc3\xa9");
    }
    CHECK_EQ_INT(cn.text_len, bl);
    CHECK_STR(cn.text, b);
    CHECK_EQ_INT(cn.n_sigs, 1);
    CHECK_EQ_INT(cn.sigs[0].key_id, log.verifier.key_id);
    CHECK_EQ_INT(flags[0], 1);
    CHECK_EQ_INT(nv, 1);
    /* the signed message is the body with its final newline, without the blank line */
    CHECK_EQ_INT(crypto_sign_verify_detached(cn.sigs[0].sig, (const unsigned char *)b, bl, log.pk),
                 0);
    checkpoint_note_free(&cn);
    /* empty tree and max size */
    char *b0 = body("o", 0), *bmax = body("o", UINT64_MAX);
    CHECK(strncmp(b0, "o\n0\n", 4) == 0);
    CHECK(strncmp(bmax, "o\n18446744073709551615\n", 23) == 0);
    char *s0 = sign(b0, &log), *smax = sign(bmax, &log);
    CHECK(checkpoint_open(smax, strlen(smax), &log.verifier, 1, &cn, NULL, NULL, &e) == 0 &&
          cn.cp.size == UINT64_MAX);
    checkpoint_note_free(&cn);
    CHECK_EQ_INT(open_with(s0, &log.verifier, 1, NULL, NULL, &e), 0);
    free(b0), free(bmax), free(s0), free(smax), free(b), free(n1);
}

static void test_cosign(void) {
    key_t_ log, w1, w2;
    make_key(&log, "log.example/l", 2);
    make_key(&w1, "club-a.example/witness", 3);
    make_key(&w2, "club-b.example/witness", 4);
    char *b = body("log.example/l", 7);
    char *n1 = sign(b, &log);
    char *n2 = sign(n1, &w1);
    char *n3 = sign(n2, &w2);
    REQUIRE(n1 && n2 && n3);
    CHECK(strncmp(n3, n1, strlen(n1)) == 0); /* cosigning only appends */
    checkpoint_verifier_t all[3] = {log.verifier, w1.verifier, w2.verifier};
    int flags[3];
    size_t nv = 0;
    err_t e;
    CHECK_EQ_INT(open_with(n3, all, 3, flags, &nv, &e), 0);
    CHECK(flags[0] == 1 && flags[1] == 1 && flags[2] == 1);
    CHECK_EQ_INT(nv, 3);
    /* a verifier set of only witnesses: the log's signature is unknown and ignored */
    CHECK_EQ_INT(open_with(n3, all + 1, 2, flags, &nv, &e), 0);
    CHECK_EQ_INT(nv, 2);
    /* n2 lacks w2: only 2 of 3 verify (k-of-n counting is the caller's) */
    CHECK_EQ_INT(open_with(n2, all, 3, flags, &nv, &e), 0);
    CHECK(flags[0] == 1 && flags[1] == 1 && flags[2] == 0 && nv == 2);
    /* the same key may not sign twice */
    char *dup = NULL;
    CHECK_EQ_INT(checkpoint_sign(n3, strlen(n3), &w1.signer, &dup, NULL, &e), -1);
    CHECK_STR(e.code, "conflict");
    CHECK(dup == NULL);
    /* cosigning a malformed note is refused */
    char bad[2048];
    snprintf(bad, sizeof bad, "%s", n2);
    bad[0] = '\t';
    CHECK_EQ_INT(checkpoint_sign(bad, strlen(bad), &w2.signer, &dup, NULL, &e), -1);
    free(b), free(n1), free(n2), free(n3);
}

static void test_tampered(void) {
    key_t_ log;
    make_key(&log, "log.example/l", 5);
    char *b = body("log.example/l", 12345);
    char *n = sign(b, &log);
    REQUIRE(n != NULL);
    err_t e;
    CHECK_EQ_INT(open_with(n, &log.verifier, 1, NULL, NULL, &e), 0);
    char t[2048];
    /* size changed */
    snprintf(t, sizeof t, "%s", n);
    t[strlen("log.example/l\n")] = '2';
    CHECK_EQ_INT(open_with(t, &log.verifier, 1, NULL, NULL, &e), -1);
    CHECK_STR(e.code, "invalid_signature");
    /* origin changed */
    snprintf(t, sizeof t, "%s", n);
    t[0] = 'L';
    CHECK_EQ_INT(open_with(t, &log.verifier, 1, NULL, NULL, &e), -1);
    /* root changed (still valid base64 of 32 bytes) */
    snprintf(t, sizeof t, "%s", n);
    char *root_line = t + strlen("log.example/l\n12345\n");
    root_line[0] = root_line[0] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(open_with(t, &log.verifier, 1, NULL, NULL, &e), -1);
    /* extension line added to the text */
    snprintf(t, sizeof t, "%sext\n%s", b, n + strlen(b));
    CHECK_EQ_INT(parse_rc(t, &e), 0);
    CHECK_EQ_INT(open_with(t, &log.verifier, 1, NULL, NULL, &e), -1);
    /* one bit of the signature flipped (still canonical base64: flip a middle char) */
    snprintf(t, sizeof t, "%s", n);
    char *sp = strrchr(t, ' ');
    sp[10] = sp[10] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(open_with(t, &log.verifier, 1, NULL, NULL, &e), -1);
    CHECK_STR(e.code, "invalid_signature");
    free(b), free(n);
}

/* Builds a signature line with an arbitrary name, key id and signature bytes. */
static void raw_line(char *out, size_t cap, const char *name, uint32_t id, const uint8_t *sig,
                     size_t sig_len) {
    uint8_t raw[4 + 128];
    raw[0] = (uint8_t)(id >> 24), raw[1] = (uint8_t)(id >> 16), raw[2] = (uint8_t)(id >> 8),
    raw[3] = (uint8_t)id;
    memcpy(raw + 4, sig, sig_len);
    char b64[256];
    sodium_bin2base64(b64, sizeof b64, raw, 4 + sig_len, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, EM " %s %s\n", name, b64);
}

static void test_unknown_and_wrong_keys(void) {
    key_t_ log, other;
    make_key(&log, "log.example/l", 6);
    make_key(&other, "other.example/x", 7);
    char *b = body("log.example/l", 3);
    char *n_other = sign(b, &other);
    char *n_both = sign(n_other, &log);
    err_t e;
    int flags[1];
    size_t nv = 9;
    /* only an unknown signer: rejected */
    CHECK_EQ_INT(open_with(n_other, &log.verifier, 1, flags, &nv, &e), -1);
    CHECK_STR(e.code, "invalid_signature");
    /* unknown signer plus the known one: the unknown is ignored */
    CHECK_EQ_INT(open_with(n_both, &log.verifier, 1, flags, &nv, &e), 0);
    CHECK(flags[0] == 1 && nv == 1);
    /* no verifiers at all */
    CHECK_EQ_INT(open_with(n_both, NULL, 0, NULL, NULL, &e), -1);

    /* a real signature by the log key, but under a wrong key id: unknown, so ignored; alone it
     * cannot open the note */
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, (const unsigned char *)b, strlen(b), log.sk);
    char line[512], note[2048];
    raw_line(line, sizeof line, "log.example/l", log.verifier.key_id ^ 1, sig, 64);
    snprintf(note, sizeof note, "%s\n%s", b, line);
    CHECK_EQ_INT(parse_rc(note, &e), 0);
    CHECK_EQ_INT(open_with(note, &log.verifier, 1, flags, &nv, &e), -1);
    /* right key id, wrong name: also unknown */
    raw_line(line, sizeof line, "log.example/other", log.verifier.key_id, sig, 64);
    snprintf(note, sizeof note, "%s\n%s", b, line);
    CHECK_EQ_INT(open_with(note, &log.verifier, 1, flags, &nv, &e), -1);
    /* right name and id: verifies (the hand-built line equals what sign produces) */
    raw_line(line, sizeof line, "log.example/l", log.verifier.key_id, sig, 64);
    snprintf(note, sizeof note, "%s\n%s", b, line);
    CHECK_EQ_INT(open_with(note, &log.verifier, 1, flags, &nv, &e), 0);
    char *mine = sign(b, &log);
    CHECK_STR(note, mine);
    /* a verifier configured with the right name but another key: key id differs, unknown */
    checkpoint_verifier_t imposter;
    CHECK_EQ_INT(checkpoint_verifier_init(&imposter, "log.example/l", other.pk, &e), 0);
    CHECK_EQ_INT(open_with(mine, &imposter, 1, flags, &nv, &e), -1);
    /* a known key whose signature fails rejects the whole note, even with another good one */
    key_t_ w;
    make_key(&w, "w.example/w", 8);
    char *good = sign(mine, &w);
    sig[0] ^= 1;
    raw_line(line, sizeof line, "log.example/l", log.verifier.key_id, sig, 64);
    snprintf(note, sizeof note, "%s\n%s%s", b, line, good + strlen(mine));
    checkpoint_verifier_t vs[2] = {log.verifier, w.verifier};
    CHECK_EQ_INT(parse_rc(note, &e), 0);
    CHECK_EQ_INT(open_with(note, vs, 2, NULL, NULL, &e), -1);
    CHECK_EQ_INT(open_with(note, &w.verifier, 1, NULL, NULL, &e), 0); /* log key unknown here */
    /* known key with a signature of the wrong length */
    raw_line(line, sizeof line, "log.example/l", log.verifier.key_id, sig, 63);
    snprintf(note, sizeof note, "%s\n%s", b, line);
    CHECK_EQ_INT(open_with(note, &log.verifier, 1, NULL, NULL, &e), -1);
    free(b), free(n_other), free(n_both), free(mine), free(good);
}

static void test_duplicates(void) {
    key_t_ log, w;
    make_key(&log, "log.example/l", 9);
    make_key(&w, "w.example/w", 10);
    char *b = body("log.example/l", 3);
    char *n = sign(b, &log);
    char *n2 = sign(n, &w);
    err_t e;
    char note[4096];
    const char *line = n + strlen(b) + 1;
    /* the same line twice */
    snprintf(note, sizeof note, "%s%s", n, line);
    CHECK_EQ_INT(parse_rc(note, &e), -1);
    CHECK_STR(e.code, "invalid_note");
    /* the same line twice, not adjacent */
    snprintf(note, sizeof note, "%s%s", n2, line);
    CHECK_EQ_INT(parse_rc(note, &e), -1);
    /* same (name, key id), different signature bytes */
    uint8_t sig[64];
    memset(sig, 0x55, sizeof sig);
    char other[512];
    raw_line(other, sizeof other, "log.example/l", log.verifier.key_id, sig, 64);
    snprintf(note, sizeof note, "%s%s", n, other);
    CHECK_EQ_INT(parse_rc(note, &e), -1);
    /* same name, different key id is fine to parse (key rotation) */
    raw_line(other, sizeof other, "log.example/l", log.verifier.key_id + 1, sig, 64);
    snprintf(note, sizeof note, "%s%s", n, other);
    CHECK_EQ_INT(parse_rc(note, &e), 0);
    CHECK_EQ_INT(open_with(note, &log.verifier, 1, NULL, NULL, &e), 0);
    free(b), free(n), free(n2);
}

static void test_malformed(void) {
    key_t_ log;
    make_key(&log, "log.example/l", 11);
    char *b = body("log.example/l", 3);
    char *n = sign(b, &log);
    REQUIRE(b && n);
    const char *sigline = n + strlen(b) + 1;
    const char *root = b + strlen("log.example/l\n3\n"); /* "...=\n" */
    char rootline[64];
    snprintf(rootline, sizeof rootline, "%.*s", (int)(strchr(root, '\n') - root), root);
    err_t e;
    char t[4096];
    int cases = 0;
#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(t, sizeof t, __VA_ARGS__);                                                        \
        int rc_ = parse_rc(t, &e);                                                                 \
        if (rc_ != -1) fprintf(stdout, "#   accepted malformed note: [%s]\n", t);                  \
        CHECK_EQ_INT(rc_, -1);                                                                     \
        cases++;                                                                                   \
    } while (0)
    CHECK_EQ_INT(parse_rc(n, &e), 0);
    BAD("%s", b);                       /* no signatures at all */
    BAD("%s\n", b);                     /* blank line but no signature lines */
    BAD("%s%s", b, sigline);            /* no blank line */
    BAD("%s\n\n%s", b, sigline);        /* two blank lines: empty body line */
    BAD("%.*s", (int)strlen(n) - 1, n); /* no final newline */
    BAD("%s\n- log.example/l %s", b, strchr(sigline, ' ') + 1 + strlen("log.example/l ")); /* '-' */
    BAD("%s\n" EM "log.example/l AAAA\n", b);              /* no space after the dash */
    BAD("%s\n" EM " log.example/l\n", b);                  /* no signature */
    BAD("%s\n" EM "  log.example/l AAAAAAAA\n", b);        /* empty name */
    BAD("%s\n" EM " a+b AAAAAAAA\n", b);                   /* '+' in name */
    BAD("%s\n" EM " log.example/l AAAAAAAA \n", b);        /* trailing space */
    BAD("%s\n" EM " log.example/l AAAAAAB=\n", b);         /* non-canonical base64 (bits left) */
    BAD("%s\n" EM " log.example/l AAAAAA\n", b);           /* missing padding */
    BAD("%s\n" EM " log.example/l AAAA\n", b);             /* 3 bytes: shorter than a key id + 1 */
    BAD("%s\n" EM " log.example/l AAAAAA==\n", b);         /* 4 bytes: key id without signature */
    BAD("log.example/l\n03\n%s\n\n%s", rootline, sigline); /* leading zero */
    BAD("log.example/l\n18446744073709551616\n%s\n\n%s", rootline, sigline); /* > uint64 */
    BAD("log.example/l\n-3\n%s\n\n%s", rootline, sigline);
    BAD("log.example/l\n 3\n%s\n\n%s", rootline, sigline);
    BAD("log.example/l\n\n%s\n\n%s", rootline, sigline);    /* empty size line */
    BAD("log.example/l\n3\n\n%s", sigline);                 /* no root line */
    BAD("log.example/l\n3\nAAAA\n\n%s", sigline);           /* root of 3 bytes */
    BAD("log.example/l\n3\n%s=\n\n%s", rootline, sigline);  /* bad root base64 */
    BAD("\n3\n%s\n\n%s", rootline, sigline);                /* empty origin */
    BAD("log.example/l\r\n3\n%s\n\n%s", rootline, sigline); /* CR */
    BAD("log.ex\tample/l\n3\n%s\n\n%s", rootline, sigline); /* tab */
    BAD("log.ex\xff"
        "ample/l\n3\n%s\n\n%s",
        rootline, sigline); /* invalid UTF-8 */
    BAD("log.ex\xc0\xaf"
        "ample/l\n3\n%s\n\n%s",
        rootline, sigline); /* overlong UTF-8 */
    BAD("log.ex\xed\xa0\x80"
        "ample/l\n3\n%s\n\n%s",
        rootline, sigline); /* surrogate */
    /* too many signatures: 33 lines by distinct unknown names */
    {
        size_t off = (size_t)snprintf(t, sizeof t, "%s\n", b);
        for (int i = 0; i < CHECKPOINT_MAX_SIGS + 1; i++)
            off += (size_t)snprintf(t + off, sizeof t - off, EM " k%d AAAAAAAA\n", i);
        CHECK_EQ_INT(parse_rc(t, &e), -1);
        CHECK_EQ_INT(e.status, 413);
        /* exactly the limit is accepted (the spec demands at least 16) */
        off = (size_t)snprintf(t, sizeof t, "%s\n", b);
        for (int i = 0; i < CHECKPOINT_MAX_SIGS; i++)
            off += (size_t)snprintf(t + off, sizeof t - off, EM " k%d AAAAAAAA\n", i);
        CHECK_EQ_INT(parse_rc(t, &e), 0);
        cases++;
    }
    /* too large a note */
    {
        size_t big = CHECKPOINT_MAX_NOTE + 10;
        char *huge = malloc(big + 1);
        REQUIRE(huge != NULL);
        memset(huge, 'a', big);
        huge[big] = 0;
        checkpoint_note_t cn;
        CHECK_EQ_INT(checkpoint_parse(huge, big, &cn, &e), -1);
        CHECK_EQ_INT(e.status, 413);
        free(huge);
        cases++;
    }
    /* embedded NUL byte (length-delimited input) */
    {
        size_t l = strlen(n);
        char *z = malloc(l + 1);
        memcpy(z, n, l + 1);
        z[3] = 0;
        checkpoint_note_t cn;
        CHECK_EQ_INT(checkpoint_parse(z, l, &cn, &e), -1);
        free(z);
        cases++;
    }
    /* too many extension lines */
    {
        size_t off = (size_t)snprintf(t, sizeof t, "%s", b);
        for (int i = 0; i < CHECKPOINT_MAX_EXT + 1; i++)
            off += (size_t)snprintf(t + off, sizeof t - off, "x%d\n", i);
        snprintf(t + off, sizeof t - off, "\n%s", sigline);
        CHECK_EQ_INT(parse_rc(t, &e), -1);
        cases++;
    }
    fprintf(stdout, "#   %d malformed notes rejected\n", cases);
#undef BAD
    free(b), free(n);
}

static void test_format_errors(void) {
    uint8_t root[32] = {0};
    char *out = NULL;
    err_t e;
    CHECK_EQ_INT(checkpoint_format_body("", 1, root, NULL, 0, &out, NULL, &e), -1);
    CHECK_EQ_INT(checkpoint_format_body("a\nb", 1, root, NULL, 0, &out, NULL, &e), -1);
    const char *empty_ext[] = {""};
    CHECK_EQ_INT(checkpoint_format_body("a", 1, root, empty_ext, 1, &out, NULL, &e), -1);
    const char *nl_ext[] = {"x\ny"};
    CHECK_EQ_INT(checkpoint_format_body("a", 1, root, nl_ext, 1, &out, NULL, &e), -1);
    CHECK(out == NULL);
    /* signing something that is not a checkpoint body */
    key_t_ k;
    make_key(&k, "k", 12);
    CHECK_EQ_INT(checkpoint_sign("hello\n", 6, &k.signer, &out, NULL, &e), -1);
    CHECK_EQ_INT(checkpoint_sign("a\n1\nAAAA\n", 9, &k.signer, &out, NULL, &e), -1);
    CHECK(out == NULL);
}

int main(void) {
    RUN(test_go_sumdb_note_kat);
    RUN(test_round_trip);
    RUN(test_cosign);
    RUN(test_tampered);
    RUN(test_unknown_and_wrong_keys);
    RUN(test_duplicates);
    RUN(test_malformed);
    RUN(test_format_errors);
    TEST_DONE();
}
