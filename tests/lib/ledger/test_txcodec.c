/* test_txcodec: the canonical transaction encoding: a byte-exact golden encoding written out by
 * hand from the format description, encode/decode/encode identity, the tx id rule, strict
 * rejections (non-shortest varints, trailing bytes, unsorted or duplicate keys, limits), random
 * mutations that must either fail or re-encode to exactly the mutated bytes, and commitments. */
#include "lib/ledger/txcodec.h"

#include <openssl/evp.h>

#include "test.h"

static void sha256(const void *a, size_t al, const void *b, size_t bl, uint8_t out[32]) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, a, al);
    if (bl) EVP_DigestUpdate(c, b, bl);
    EVP_DigestFinal_ex(c, out, NULL);
    EVP_MD_CTX_free(c);
}

static uint32_t rng = 2024;
static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return n ? rng % n : 0;
}

/* A sample transaction with caller-owned storage. */
typedef struct sample {
    txcodec_tx_t tx;
    txcodec_read_t reads[4];
    txcodec_write_t writes[4];
    uint8_t payload[100];
} sample_t;

static void make_sample(sample_t *s, uint32_t seed) {
    memset(s, 0, sizeof *s);
    rng = seed ? seed : 1;
    txcodec_tx_t *t = &s->tx;
    t->version = TXCODEC_VERSION;
    snprintf(t->type, sizeof t->type, "visit.verified");
    snprintf(t->creator_org, sizeof t->creator_org, "Club-%u.example", seed % 7);
    for (int i = 0; i < 32; i++)
        t->creator_pk[i] = (uint8_t)rnd(256);
    t->timestamp_ms = seed % 2 ? 1717171717171 : -5;
    t->nonce_len = 8 + rnd(57);
    for (size_t i = 0; i < t->nonce_len; i++)
        t->nonce[i] = (uint8_t)rnd(256);
    t->payload_len = rnd(100);
    for (size_t i = 0; i < t->payload_len; i++)
        s->payload[i] = (uint8_t)rnd(256);
    t->payload = s->payload;
    static const char *keys[] = {"visit/9", "member/42", "agreement/7", "member/4"};
    t->n_reads = rnd(5);
    for (size_t i = 0; i < t->n_reads; i++) {
        s->reads[i].key = (const uint8_t *)keys[i];
        s->reads[i].key_len = strlen(keys[i]);
        s->reads[i].version = (uint64_t)rnd(1000) << (i * 16);
    }
    t->reads = s->reads;
    t->n_writes = rnd(5);
    for (size_t i = 0; i < t->n_writes; i++) {
        s->writes[i].key = (const uint8_t *)keys[3 - i];
        s->writes[i].key_len = strlen(keys[3 - i]);
        s->writes[i].is_delete = i == 1;
        s->writes[i].value = i == 1 ? NULL : s->payload;
        s->writes[i].value_len = i == 1 ? 0 : rnd(50);
    }
    t->writes = s->writes;
    err_t e;
    CHECK_EQ_INT(txcodec_sort_sets(t, &e), 0);
    CHECK_EQ_INT(txcodec_compute_id(t, t->tx_id, &e), 0);
}

static void test_golden(void) {
    uint8_t pk[32], nonce[8];
    memset(pk, 0x11, sizeof pk);
    memset(nonce, 0xaa, sizeof nonce);
    txcodec_read_t reads[1] = {{(const uint8_t *)"a", 1, 300}};
    txcodec_write_t writes[2] = {{(const uint8_t *)"c", 1, NULL, 0, 1},
                                 {(const uint8_t *)"b", 1, (const uint8_t *)"v", 1, 0}};
    txcodec_tx_t tx = {.version = 1,
                       .type = "t",
                       .creator_org = "O",
                       .timestamp_ms = 0x0102030405060708,
                       .nonce_len = 8,
                       .payload = (const uint8_t *)"hi",
                       .payload_len = 2,
                       .reads = reads,
                       .n_reads = 1,
                       .writes = writes,
                       .n_writes = 2};
    memcpy(tx.creator_pk, pk, 32);
    memcpy(tx.nonce, nonce, 8);
    err_t e;
    /* tx id = SHA-256(varint(1) "O" || pk || nonce) */
    uint8_t creator[1 + 1 + 32], want_id[32];
    creator[0] = 1, creator[1] = 'O';
    memcpy(creator + 2, pk, 32);
    sha256(creator, sizeof creator, nonce, 8, want_id);
    CHECK_EQ_INT(txcodec_compute_id(&tx, tx.tx_id, &e), 0);
    CHECK(memcmp(tx.tx_id, want_id, 32) == 0);
    /* unsorted writes are refused by encode, then sorted */
    uint8_t *out = NULL;
    size_t len = 0;
    CHECK_EQ_INT(txcodec_encode(&tx, &out, &len, &e), -1);
    CHECK_STR(e.field, "writes");
    CHECK_EQ_INT(txcodec_sort_sets(&tx, &e), 0);
    CHECK_EQ_INT(txcodec_encode(&tx, &out, &len, &e), 0);
    uint8_t want[200];
    size_t n = 0;
    want[n++] = 0x01;
    memcpy(want + n, want_id, 32), n += 32;
    want[n++] = 0x01, want[n++] = 't';
    want[n++] = 0x01, want[n++] = 'O';
    memcpy(want + n, pk, 32), n += 32;
    for (int i = 1; i <= 8; i++)
        want[n++] = (uint8_t)i;
    want[n++] = 0x08;
    memcpy(want + n, nonce, 8), n += 8;
    want[n++] = 0x02, want[n++] = 'h', want[n++] = 'i';
    want[n++] = 0x01;                   /* one read */
    want[n++] = 0x01, want[n++] = 'a';  /* key */
    want[n++] = 0xac, want[n++] = 0x02; /* version 300 as LEB128 */
    want[n++] = 0x02;                   /* two writes */
    want[n++] = 0x01, want[n++] = 'b', want[n++] = 0x00, want[n++] = 0x01, want[n++] = 'v';
    want[n++] = 0x01, want[n++] = 'c', want[n++] = 0x01, want[n++] = 0x00;
    CHECK_EQ_INT(len, n);
    CHECK(out && len == n && memcmp(out, want, n) == 0);
    txcodec_tx_t d;
    CHECK_EQ_INT(txcodec_decode(want, n, &d, &e), 0);
    CHECK_STR(d.type, "t");
    CHECK_STR(d.creator_org, "O");
    CHECK_EQ_INT(d.timestamp_ms, 0x0102030405060708);
    CHECK_EQ_INT(d.n_reads, 1);
    CHECK_EQ_INT(d.n_writes, 2);
    if (d.n_reads == 1) CHECK_EQ_INT(d.reads[0].version, 300);
    if (d.n_writes == 2) {
        CHECK(d.writes[0].key_len == 1 && d.writes[0].key[0] == 'b' && !d.writes[0].is_delete);
        CHECK(d.writes[1].key_len == 1 && d.writes[1].key[0] == 'c' && d.writes[1].is_delete);
    }
    txcodec_tx_free(&d);
    free(out);
}

static void test_round_trip(void) {
    int checked = 0;
    for (uint32_t seed = 1; seed <= 300; seed++) {
        sample_t s;
        make_sample(&s, seed);
        uint8_t *a = NULL, *b = NULL;
        size_t al = 0, bl = 0;
        err_t e;
        int rc = txcodec_encode(&s.tx, &a, &al, &e);
        if (rc != 0) fprintf(stdout, "#   seed %u: %s\n", seed, e.message);
        CHECK_EQ_INT(rc, 0);
        txcodec_tx_t d;
        CHECK_EQ_INT(txcodec_decode(a, al, &d, &e), 0);
        CHECK_EQ_INT(txcodec_encode(&d, &b, &bl, &e), 0);
        CHECK(al == bl && a && b && memcmp(a, b, al) == 0);
        CHECK(memcmp(d.tx_id, s.tx.tx_id, 32) == 0);
        CHECK_STR(d.type, s.tx.type);
        CHECK_STR(d.creator_org, s.tx.creator_org);
        CHECK_EQ_INT(d.timestamp_ms, s.tx.timestamp_ms);
        CHECK(d.payload_len == s.tx.payload_len &&
              (d.payload_len == 0 || memcmp(d.payload, s.tx.payload, d.payload_len) == 0));
        CHECK(d.n_reads == s.tx.n_reads && d.n_writes == s.tx.n_writes);
        for (size_t i = 0; i < d.n_reads && i < s.tx.n_reads; i++)
            CHECK(d.reads[i].version == s.tx.reads[i].version);
        /* the decoded tx does not point into the caller's buffer */
        memset(a, 0, al);
        uint8_t *c = NULL;
        size_t cl = 0;
        CHECK_EQ_INT(txcodec_encode(&d, &c, &cl, &e), 0);
        CHECK(cl == bl && c && memcmp(c, b, bl) == 0);
        txcodec_tx_free(&d);
        free(a), free(b), free(c);
        checked++;
    }
    fprintf(stdout, "#   %d random transactions round-tripped byte-identically\n", checked);
}

static void test_tx_id(void) {
    sample_t s;
    make_sample(&s, 7);
    err_t e;
    uint8_t *a = NULL;
    size_t al = 0;
    s.tx.tx_id[5] ^= 1;
    CHECK_EQ_INT(txcodec_encode(&s.tx, &a, &al, &e), -1);
    CHECK_STR(e.field, "tx_id");
    s.tx.tx_id[5] ^= 1;
    int rc = txcodec_encode(&s.tx, &a, &al, &e); /* REQUIRE evaluates twice */
    REQUIRE(rc == 0 && a != NULL);
    /* changing the id, the nonce or the creator in the bytes breaks the id check */
    txcodec_tx_t d;
    a[1 + 3] ^= 0x40; /* inside tx_id */
    CHECK_EQ_INT(txcodec_decode(a, al, &d, &e), -1);
    CHECK_STR(e.field, "tx_id");
    a[1 + 3] ^= 0x40;
    size_t pk_off = 1 + 32 + 1 + strlen(s.tx.type) + 1 + strlen(s.tx.creator_org);
    a[pk_off] ^= 1; /* creator key */
    CHECK_EQ_INT(txcodec_decode(a, al, &d, &e), -1);
    CHECK_STR(e.field, "tx_id");
    a[pk_off] ^= 1;
    a[pk_off + 32 + 8 + 1] ^= 1; /* first nonce byte */
    CHECK_EQ_INT(txcodec_decode(a, al, &d, &e), -1);
    a[pk_off + 32 + 8 + 1] ^= 1;
    CHECK_EQ_INT(txcodec_decode(a, al, &d, &e), 0);
    txcodec_tx_free(&d);
    free(a);
    /* different nonces, different ids */
    sample_t t;
    make_sample(&t, 7);
    t.tx.nonce[0] ^= 1;
    uint8_t id2[32];
    CHECK_EQ_INT(txcodec_compute_id(&t.tx, id2, &e), 0);
    CHECK(memcmp(id2, s.tx.tx_id, 32) != 0);
}

/* Encodes a tiny tx by hand, with pieces replaceable, to test decoder strictness. */
static size_t hand(uint8_t *out, const uint8_t *mid, size_t mid_len, const uint8_t *tail,
                   size_t tail_len) {
    /* header: version, id (computed), type "t", org "O", pk, ts, nonce 8 x 0xaa */
    uint8_t pk[32], nonce[8], id[32], creator[34];
    memset(pk, 0x11, 32), memset(nonce, 0xaa, 8);
    creator[0] = 1, creator[1] = 'O';
    memcpy(creator + 2, pk, 32);
    sha256(creator, 34, nonce, 8, id);
    size_t n = 0;
    out[n++] = 1;
    memcpy(out + n, id, 32), n += 32;
    memcpy(out + n, mid, mid_len), n += mid_len; /* type + org */
    memcpy(out + n, pk, 32), n += 32;
    memset(out + n, 0, 8), n += 8;
    out[n++] = 8;
    memcpy(out + n, nonce, 8), n += 8;
    memcpy(out + n, tail, tail_len), n += tail_len; /* payload, reads, writes, extra */
    return n;
}

static void test_strict(void) {
    uint8_t buf[512];
    err_t e;
    txcodec_tx_t d;
    int cases = 0;
    const uint8_t mid[] = {1, 't', 1, 'O'};
    const uint8_t ok_tail[] = {0, 1, 1, 'a', 5, 1, 1, 'b', 0, 0};
#define DEC(m, ml, t, tl) txcodec_decode(buf, hand(buf, m, ml, t, tl), &d, &e)
#define BAD_TAIL(...)                                                                              \
    do {                                                                                           \
        const uint8_t t_[] = {__VA_ARGS__};                                                        \
        int rc_ = DEC(mid, sizeof mid, t_, sizeof t_);                                             \
        if (rc_ == 0) txcodec_tx_free(&d);                                                         \
        CHECK_EQ_INT(rc_, -1);                                                                     \
        cases++;                                                                                   \
    } while (0)
#define BAD_MID(...)                                                                               \
    do {                                                                                           \
        const uint8_t m_[] = {__VA_ARGS__};                                                        \
        int rc_ = DEC(m_, sizeof m_, ok_tail, sizeof ok_tail);                                     \
        if (rc_ == 0) txcodec_tx_free(&d);                                                         \
        CHECK_EQ_INT(rc_, -1);                                                                     \
        cases++;                                                                                   \
    } while (0)
    /* the baseline decodes and re-encodes to itself */
    size_t n = hand(buf, mid, sizeof mid, ok_tail, sizeof ok_tail);
    int rc = txcodec_decode(buf, n, &d, &e);
    REQUIRE(rc == 0);
    uint8_t *re = NULL;
    size_t rl = 0;
    CHECK_EQ_INT(txcodec_encode(&d, &re, &rl, &e), 0);
    CHECK(rl == n && memcmp(re, buf, n) == 0);
    free(re);
    txcodec_tx_free(&d);
    BAD_TAIL(0, 1, 1, 'a', 5, 1, 1, 'b', 0, 0, 0);       /* trailing byte */
    BAD_TAIL(0, 1, 1, 'a', 5, 1, 1, 'b', 0);             /* truncated */
    BAD_TAIL(0x80, 0x00, 1, 1, 'a', 5, 1, 1, 'b', 0, 0); /* payload len 0 as 2-byte varint */
    BAD_TAIL(0, 1, 1, 'a', 0x85, 0x00, 1, 1, 'b', 0, 0); /* version 5 non-shortest */
    BAD_TAIL(0, 1, 1, 'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
             0);                                        /* >64 bit */
    BAD_TAIL(0, 2, 1, 'b', 1, 1, 'a', 1, 0);            /* reads unsorted */
    BAD_TAIL(0, 2, 1, 'a', 1, 1, 'a', 2, 0);            /* reads duplicate */
    BAD_TAIL(0, 0, 2, 1, 'a', 0, 0, 1, 'a', 0, 0);      /* writes duplicate */
    BAD_TAIL(0, 0, 2, 2, 'a', 'b', 0, 0, 1, 'a', 0, 0); /* "ab" before "a" */
    BAD_TAIL(0, 0, 1, 1, 'a', 2, 0);                    /* flags 2 */
    BAD_TAIL(0, 0, 1, 1, 'a', 1, 1, 'x');               /* delete with a value */
    BAD_TAIL(0, 0, 1, 0, 0, 0);                         /* empty write key */
    BAD_TAIL(0, 1, 0, 1, 0);                            /* empty read key */
    BAD_TAIL(0, 0xff, 0xff, 0x03);                      /* huge read count */
    BAD_TAIL(0, 0x81, 0x08);                            /* read count 1025 */
    BAD_TAIL(0, 5, 1, 'a', 1);                          /* count beyond the data */
    BAD_MID(0, 1, 'O');                                 /* empty type */
    BAD_MID(1, 'T', 1, 'O');                            /* upper-case type */
    BAD_MID(1, 0, 1, 'O');                              /* NUL in type */
    BAD_MID(1, 't', 1, '_');                            /* '_' not allowed in org */
    BAD_MID(1, 't', 0);                                 /* empty org */
    BAD_MID(0x81, 0x00, 't', 1, 'O');                   /* type length non-shortest */
    /* other version; nonce too short; empty input */
    n = hand(buf, mid, sizeof mid, ok_tail, sizeof ok_tail);
    buf[0] = 2;
    CHECK_EQ_INT(txcodec_decode(buf, n, &d, &e), -1);
    CHECK_STR(e.field, "version");
    CHECK_EQ_INT(txcodec_decode(buf, 0, &d, &e), -1);
    cases += 2;
    /* every truncation of a valid encoding fails */
    n = hand(buf, mid, sizeof mid, ok_tail, sizeof ok_tail);
    for (size_t l = 0; l < n; l++) {
        CHECK_EQ_INT(txcodec_decode(buf, l, &d, &e), -1);
        cases++;
    }
    fprintf(stdout, "#   %d malformed encodings rejected\n", cases);
#undef BAD_TAIL
#undef BAD_MID
#undef DEC
}

static void test_limits(void) {
    sample_t s;
    make_sample(&s, 3);
    err_t e;
    uint8_t *out = NULL;
    size_t len = 0;
    static uint8_t big[TXCODEC_MAX_PAYLOAD + 1];
    s.tx.payload = big;
    s.tx.payload_len = TXCODEC_MAX_PAYLOAD + 1;
    CHECK_EQ_INT(txcodec_encode(&s.tx, &out, &len, &e), -1);
    s.tx.payload_len = TXCODEC_MAX_PAYLOAD;
    CHECK_EQ_INT(txcodec_encode(&s.tx, &out, &len, &e), 0);
    txcodec_tx_t d;
    CHECK_EQ_INT(txcodec_decode(out, len, &d, &e), 0);
    CHECK_EQ_INT(d.payload_len, TXCODEC_MAX_PAYLOAD);
    txcodec_tx_free(&d);
    free(out);
    /* too many reads */
    txcodec_read_t *many = calloc(TXCODEC_MAX_SET + 1, sizeof *many);
    uint8_t *keys = malloc((TXCODEC_MAX_SET + 1) * 2);
    REQUIRE(many && keys);
    for (size_t i = 0; i <= TXCODEC_MAX_SET; i++) {
        keys[2 * i] = (uint8_t)(i >> 8), keys[2 * i + 1] = (uint8_t)i;
        many[i].key = keys + 2 * i;
        many[i].key_len = 2;
    }
    make_sample(&s, 3);
    s.tx.reads = many;
    s.tx.n_reads = TXCODEC_MAX_SET + 1;
    CHECK_EQ_INT(txcodec_encode(&s.tx, &out, &len, &e), -1);
    s.tx.n_reads = TXCODEC_MAX_SET;
    CHECK_EQ_INT(txcodec_encode(&s.tx, &out, &len, &e), 0);
    CHECK_EQ_INT(txcodec_decode(out, len, &d, &e), 0);
    CHECK_EQ_INT(d.n_reads, TXCODEC_MAX_SET);
    txcodec_tx_free(&d);
    free(out);
    /* duplicates found by sort_sets */
    many[1].key = many[0].key;
    s.tx.n_reads = 3;
    CHECK_EQ_INT(txcodec_sort_sets(&s.tx, &e), -1);
    free(many);
    free(keys);
    /* key too long, nonce out of range, bad type on encode */
    make_sample(&s, 4);
    uint8_t longkey[TXCODEC_MAX_KEY + 1];
    memset(longkey, 'k', sizeof longkey);
    txcodec_write_t w = {longkey, sizeof longkey, NULL, 0, 1};
    s.tx.writes = &w;
    s.tx.n_writes = 1;
    CHECK_EQ_INT(txcodec_encode(&s.tx, &out, &len, &e), -1);
    make_sample(&s, 4);
    s.tx.nonce_len = 7;
    CHECK_EQ_INT(txcodec_encode(&s.tx, &out, &len, &e), -1);
    make_sample(&s, 4);
    snprintf(s.tx.type, sizeof s.tx.type, "Visit");
    CHECK_EQ_INT(txcodec_encode(&s.tx, &out, &len, &e), -1);
}

/* Random mutations never crash and either fail to decode or decode to something that
 * re-encodes to exactly the mutated bytes. */
static void test_mutations(void) {
    long decoded = 0, rejected = 0;
    for (uint32_t iter = 0; iter < 20000; iter++) {
        sample_t s;
        make_sample(&s, 1 + iter % 97);
        uint8_t *a = NULL;
        size_t al = 0;
        err_t e;
        if (txcodec_encode(&s.tx, &a, &al, &e) != 0) {
            CHECK(0);
            continue;
        }
        rng = iter * 2654435761u + 1;
        uint8_t *m = malloc(al + 16);
        memcpy(m, a, al);
        size_t ml = al;
        int nmut = 1 + (int)rnd(3);
        for (int k = 0; k < nmut; k++) {
            switch (rnd(5)) {
            case 0: /* flip a bit */
                if (ml) m[rnd((uint32_t)ml)] ^= (uint8_t)(1u << rnd(8));
                break;
            case 1: /* set a byte */
                if (ml) m[rnd((uint32_t)ml)] = (uint8_t)rnd(256);
                break;
            case 2: /* truncate */
                ml = rnd((uint32_t)ml + 1);
                break;
            case 3: /* insert a byte */
                if (ml < al + 15) {
                    size_t p = rnd((uint32_t)ml + 1);
                    memmove(m + p + 1, m + p, ml - p);
                    m[p] = (uint8_t)rnd(256);
                    ml++;
                }
                break;
            default: /* delete a byte */
                if (ml) {
                    size_t p = rnd((uint32_t)ml);
                    memmove(m + p, m + p + 1, ml - p - 1);
                    ml--;
                }
            }
        }
        txcodec_tx_t d;
        if (txcodec_decode(m, ml, &d, &e) == 0) {
            uint8_t *b = NULL;
            size_t bl = 0;
            CHECK_EQ_INT(txcodec_encode(&d, &b, &bl, &e), 0);
            CHECK(bl == ml && b && memcmp(b, m, ml) == 0);
            free(b);
            txcodec_tx_free(&d);
            decoded++;
        } else {
            rejected++;
        }
        free(m);
        free(a);
    }
    /* pure garbage */
    for (uint32_t iter = 0; iter < 5000; iter++) {
        uint8_t g[300];
        size_t gl = rnd(sizeof g);
        for (size_t i = 0; i < gl; i++)
            g[i] = (uint8_t)rnd(256);
        if (gl) g[0] = 1;
        txcodec_tx_t d;
        err_t e;
        if (txcodec_decode(g, gl, &d, &e) == 0)
            txcodec_tx_free(&d), decoded++;
        else
            rejected++;
    }
    fprintf(stdout, "#   mutations: %ld decoded (and re-encoded identically), %ld rejected\n",
            decoded, rejected);
    CHECK(rejected > 0);
}

static void test_commitments(void) {
    uint8_t salt[32], c[32], salt2[32], c2[32], want[32];
    err_t e;
    const char *v = "member:jane.doe@example.org";
    CHECK_EQ_INT(txcodec_commit(v, strlen(v), salt, c, &e), 0);
    CHECK_EQ_INT(txcodec_commit_verify(salt, v, strlen(v), c, &e), 0);
    CHECK_EQ_INT(txcodec_commit_verify(salt, "member:john", 11, c, &e), -1);
    CHECK_STR(e.code, "commitment_mismatch");
    /* a fresh salt each time: the same value gives unlinkable commitments */
    CHECK_EQ_INT(txcodec_commit(v, strlen(v), salt2, c2, &e), 0);
    CHECK(memcmp(salt, salt2, 32) != 0 && memcmp(c, c2, 32) != 0);
    /* without the salt the value cannot be checked: the wrong salt fails */
    CHECK_EQ_INT(txcodec_commit_verify(salt2, v, strlen(v), c, &e), -1);
    /* definition: SHA-256(salt || value) */
    sha256(salt, 32, v, strlen(v), want);
    CHECK(memcmp(want, c, 32) == 0);
    uint8_t zero[32] = {0};
    CHECK_EQ_INT(txcodec_commit_with_salt(zero, "", 0, c, &e), 0);
    sha256(zero, 32, NULL, 0, want);
    CHECK(memcmp(want, c, 32) == 0);
}

int main(void) {
    RUN(test_golden);
    RUN(test_round_trip);
    RUN(test_tx_id);
    RUN(test_strict);
    RUN(test_limits);
    RUN(test_mutations);
    RUN(test_commitments);
    TEST_DONE();
}
