/* test_merkle: RFC 6962 known answers, the transparency-dev/merkle proof vectors in
 * ../shared/ledger/vectors/testdata (inclusion and consistency; every happy path must verify,
 * every wantErr must be rejected), and exhaustive property tests for small trees against a
 * literal recursive transcription of the RFC 9162 definitions. */
#include "lib/ledger/merkle.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "test.h"

/* ---------- helpers ---------- */

static void hex_of(const uint8_t *b, size_t n, char *out) {
    static const char *x = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = x[b[i] >> 4];
        out[2 * i + 1] = x[b[i] & 15];
    }
    out[2 * n] = 0;
}

static int b64_val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Strict standard base64 (RFC 4648 section 4, padded). Returns decoded length or -1. */
static long b64_decode(const char *s, uint8_t *out, size_t cap) {
    size_t n = strlen(s), o = 0;
    if (n % 4) return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            if (s[i + j] == '=' && i + 4 == n && j >= 2) {
                v[j] = 0;
                pad++;
            } else {
                if (pad) return -1;
                v[j] = b64_val((unsigned char)s[i + j]);
                if (v[j] < 0) return -1;
            }
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        uint8_t b[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        if (o + 3 - (size_t)pad > cap) return -1;
        for (int j = 0; j < 3 - pad; j++)
            out[o++] = b[j];
    }
    return (long)o;
}

/* Decodes a JSON base64 string into a 32-byte hash; 0 if it is exactly 32 bytes. */
static int b64_hash(json_t *v, merkle_hash_t out, long *len_out) {
    uint8_t buf[256];
    const char *s = json_string_value(v);
    long n = s ? b64_decode(s, buf, sizeof buf) : -1;
    if (len_out) *len_out = n;
    if (n != MERKLE_HASH_LEN) return -1;
    memcpy(out, buf, MERKLE_HASH_LEN);
    return 0;
}

/* Integers in the vectors reach 2^64-1, beyond jansson's json_int_t: read them from the raw
 * text. 0 and *out set if `"key": <digits>` is present and fits in uint64_t. */
static int raw_u64(const char *text, const char *key, uint64_t *out) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(text, pat);
    if (!p) return -1;
    p += strlen(pat);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p != ':') return -1;
    p++;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p < '0' || *p > '9') return -1; /* negative or not a number */
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(p, &end, 10);
    if (errno || end == p) return -1;
    *out = v;
    return 0;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) != 0) goto fail;
    long n = ftell(f);
    if (n < 0 || n > (1 << 20)) goto fail;
    rewind(f);
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) goto fail;
    buf[n] = 0;
    fclose(f);
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

static const char *vectors_dir(char *buf, size_t cap) {
    const char *root = getenv("RECIPROCAL_TEST_ROOT");
    if (!root || !*root) root = ".";
    snprintf(buf, cap, "%s/../shared/ledger/vectors/testdata", root);
    return buf;
}

/* ---------- reference: literal recursive RFC 9162 definitions ---------- */

static uint64_t ref_split(uint64_t n) {
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

static void ref_mth(const merkle_hash_t *d, uint64_t n, merkle_hash_t out) {
    if (n == 0) {
        merkle_empty_root(out, NULL);
        return;
    }
    if (n == 1) {
        memcpy(out, d[0], 32);
        return;
    }
    uint64_t k = ref_split(n);
    merkle_hash_t l, r;
    ref_mth(d, k, l);
    ref_mth(d + k, n - k, r);
    merkle_node_hash(l, r, out, NULL);
}

/* PATH(m, D[n]) */
static size_t ref_path(uint64_t m, const merkle_hash_t *d, uint64_t n, merkle_hash_t *out) {
    if (n <= 1) return 0;
    uint64_t k = ref_split(n);
    size_t c;
    if (m < k) {
        c = ref_path(m, d, k, out);
        ref_mth(d + k, n - k, out[c]);
    } else {
        c = ref_path(m - k, d + k, n - k, out);
        ref_mth(d, k, out[c]);
    }
    return c + 1;
}

/* SUBPROOF(m, D[n], b) */
static size_t ref_subproof(uint64_t m, const merkle_hash_t *d, uint64_t n, int b,
                           merkle_hash_t *out) {
    if (m == n) {
        if (b) return 0;
        ref_mth(d, n, out[0]);
        return 1;
    }
    uint64_t k = ref_split(n);
    size_t c;
    if (m <= k) {
        c = ref_subproof(m, d, k, b, out);
        ref_mth(d + k, n - k, out[c]);
    } else {
        c = ref_subproof(m - k, d + k, n - k, 0, out);
        ref_mth(d, k, out[c]);
    }
    return c + 1;
}

/* ---------- known answers ---------- */

static void check_hex(const merkle_hash_t h, const char *want) {
    char hex[65];
    hex_of(h, 32, hex);
    CHECK_STR(hex, want);
}

static void test_known_answers(void) {
    err_t e;
    merkle_hash_t h;
    CHECK_EQ_INT(merkle_empty_root(h, &e), 0);
    check_hex(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_EQ_INT(merkle_root(NULL, 0, h, &e), 0);
    check_hex(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_EQ_INT(merkle_leaf_hash("", 0, h, &e), 0);
    check_hex(h, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    CHECK_EQ_INT(merkle_leaf_hash("L123456", 7, h, &e), 0);
    check_hex(h, "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");
    CHECK_EQ_INT(merkle_node_hash_bytes("N123", 4, "N456", 4, h, &e), 0);
    check_hex(h, "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb");
    /* the fixed-size node hash agrees with the general one */
    merkle_hash_t a, b, c1, c2;
    memset(a, 0xab, 32);
    memset(b, 0x01, 32);
    CHECK_EQ_INT(merkle_node_hash(a, b, c1, &e), 0);
    CHECK_EQ_INT(merkle_node_hash_bytes(a, 32, b, 32, c2, &e), 0);
    CHECK(memcmp(c1, c2, 32) == 0);
}

/* The RFC 6962 reference tree (certificate-transparency test data): its roots for sizes 1..8
 * must match, and our proofs must equal those in the vector files (checked below). */
static const char *ref_leaves[8] = {
    "",
    "\x00",
    "\x10",
    "\x20\x21",
    "\x30\x31",
    "\x40\x41\x42\x43",
    "\x50\x51\x52\x53\x54\x55\x56\x57",
    "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
static const size_t ref_leaf_len[8] = {0, 1, 1, 2, 2, 4, 8, 16};
static const char *ref_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
static merkle_hash_t ref_tree[8];

static void build_ref_tree(void) {
    for (int i = 0; i < 8; i++)
        merkle_leaf_hash(ref_leaves[i], ref_leaf_len[i], ref_tree[i], NULL);
}

static void test_reference_tree_roots(void) {
    build_ref_tree();
    for (uint64_t n = 1; n <= 8; n++) {
        merkle_hash_t r;
        err_t e;
        CHECK_EQ_INT(merkle_root(ref_tree, n, r, &e), 0);
        check_hex(r, ref_roots[n - 1]);
    }
}

/* ---------- vector files ---------- */

static int n_files, n_inc_ok, n_inc_rej, n_con_ok, n_con_rej, n_generated_equal, n_unrepr;

static int decode_proof(json_t *arr, merkle_hash_t *proof, size_t *len) {
    *len = 0;
    if (!arr || json_is_null(arr)) return 0;
    if (!json_is_array(arr) || json_array_size(arr) > MERKLE_MAX_PROOF) return -1;
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (b64_hash(json_array_get(arr, i), proof[i], NULL) != 0) return -1;
    *len = json_array_size(arr);
    return 0;
}

static void run_inclusion_file(const char *path, const char *text, json_t *j) {
    int want_err = json_is_true(json_object_get(j, "wantErr"));
    uint64_t idx = 0, size = 0;
    merkle_hash_t leaf, root, proof[MERKLE_MAX_PROOF];
    size_t plen = 0;
    int rejected = 0;
    err_t e;
    err_clear(&e);
    if (raw_u64(text, "leafIdx", &idx) != 0 || raw_u64(text, "treeSize", &size) != 0 ||
        b64_hash(json_object_get(j, "leafHash"), leaf, NULL) != 0 ||
        b64_hash(json_object_get(j, "root"), root, NULL) != 0 ||
        decode_proof(json_object_get(j, "proof"), proof, &plen) != 0) {
        rejected = 1; /* not representable as (uint64, 32-byte hashes): rejected at decode */
    } else {
        rejected = merkle_verify_inclusion(idx, size, leaf, proof, plen, root, &e) != 0;
        if (rejected) CHECK_STR(e.code, "invalid_proof");
    }
    if (want_err != rejected)
        fprintf(stdout, "#   inclusion vector %s: wantErr=%d but rejected=%d (%s)\n", path,
                want_err, rejected, e.message);
    CHECK_EQ_INT(rejected, want_err);
    if (want_err)
        n_inc_rej++;
    else
        n_inc_ok++;
    /* For happy paths over the reference tree, our generator must produce the same proof. */
    if (!want_err && !rejected && size >= 1 && size <= 8 && idx < size) {
        merkle_hash_t root2;
        merkle_root(ref_tree, size, root2, NULL);
        if (memcmp(root2, root, 32) == 0) {
            merkle_hash_t gen[MERKLE_MAX_PROOF];
            size_t glen = 0;
            CHECK_EQ_INT(
                merkle_inclusion_proof(ref_tree, size, idx, gen, MERKLE_MAX_PROOF, &glen, &e), 0);
            CHECK_EQ_INT(glen, plen);
            CHECK(glen == plen && memcmp(gen, proof, glen * 32) == 0);
            n_generated_equal++;
        }
    }
}

static void run_consistency_file(const char *path, const char *text, json_t *j) {
    int want_err = json_is_true(json_object_get(j, "wantErr"));
    uint64_t s1 = 0, s2 = 0;
    merkle_hash_t r1, r2, proof[MERKLE_MAX_PROOF];
    size_t plen = 0;
    long l1 = 0, l2 = 0;
    int rejected = 0;
    err_t e;
    err_clear(&e);
    int bad_sizes = raw_u64(text, "size1", &s1) != 0 || raw_u64(text, "size2", &s2) != 0;
    int bad_r1 = b64_hash(json_object_get(j, "root1"), r1, &l1) != 0;
    int bad_r2 = b64_hash(json_object_get(j, "root2"), r2, &l2) != 0;
    int bad_proof = decode_proof(json_object_get(j, "proof"), proof, &plen) != 0;
    if (!want_err && !bad_sizes && !bad_proof && (bad_r1 || bad_r2) && l1 >= 0 && l2 >= 0) {
        /* Known deviation: "sizes are equal (one) and proof is empty" uses 12-byte placeholder
         * roots; our API only takes 32-byte hashes and rejects them at decode. Check the
         * meaning instead: map each root to its SHA-256 (equal stays equal) and verify. */
        uint8_t b1[256], b2[256];
        long n1 = b64_decode(json_string_value(json_object_get(j, "root1")), b1, sizeof b1);
        long n2 = b64_decode(json_string_value(json_object_get(j, "root2")), b2, sizeof b2);
        EVP_Digest(b1, (size_t)n1, r1, NULL, EVP_sha256(), NULL);
        EVP_Digest(b2, (size_t)n2, r2, NULL, EVP_sha256(), NULL);
        bad_r1 = bad_r2 = 0;
        n_unrepr++;
        fprintf(stdout, "#   note: %s has %ld/%ld-byte roots; verified with hashed roots\n", path,
                l1, l2);
    }
    if (bad_sizes || bad_r1 || bad_r2 || bad_proof) {
        rejected = 1;
    } else {
        rejected = merkle_verify_consistency(s1, s2, r1, r2, proof, plen, &e) != 0;
        if (rejected) CHECK_STR(e.code, "invalid_proof");
    }
    if (want_err != rejected)
        fprintf(stdout, "#   consistency vector %s: wantErr=%d but rejected=%d (%s)\n", path,
                want_err, rejected, e.message);
    CHECK_EQ_INT(rejected, want_err);
    if (want_err)
        n_con_rej++;
    else
        n_con_ok++;
    if (!want_err && !rejected && s1 >= 1 && s2 <= 8 && s1 <= s2) {
        merkle_hash_t a, b;
        merkle_root(ref_tree, s1, a, NULL);
        merkle_root(ref_tree, s2, b, NULL);
        if (memcmp(a, r1, 32) == 0 && memcmp(b, r2, 32) == 0) {
            merkle_hash_t gen[MERKLE_MAX_PROOF];
            size_t glen = 0;
            CHECK_EQ_INT(
                merkle_consistency_proof(ref_tree, s2, s1, gen, MERKLE_MAX_PROOF, &glen, &e), 0);
            CHECK_EQ_INT(glen, plen);
            CHECK(glen == plen && memcmp(gen, proof, glen * 32) == 0);
            n_generated_equal++;
        }
    }
}

static void walk(const char *dir, int consistency) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stdout, "#   cannot open %s: %s\n", dir, strerror(errno));
        CHECK(d != NULL);
        return;
    }
    /* sort names for a stable order */
    char *names[512];
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nn < 512) {
        if (de->d_name[0] == '.') continue;
        names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    for (size_t i = 0; i < nn; i++) {
        char path[1024];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            walk(path, consistency);
        } else {
            size_t l = strlen(names[i]);
            if (l > 5 && strcmp(names[i] + l - 5, ".json") == 0) {
                char *text = read_text(path);
                json_error_t je;
                /* ints as reals: leafIdx may exceed json_int_t; real integers come from raw_u64 */
                json_t *j = text ? json_loads(text, JSON_DECODE_INT_AS_REAL, &je) : NULL;
                CHECK(j != NULL);
                if (j) {
                    n_files++;
                    if (consistency)
                        run_consistency_file(path, text, j);
                    else
                        run_inclusion_file(path, text, j);
                    json_decref(j);
                }
                free(text);
            }
        }
        free(names[i]);
    }
}

static void test_vectors_inclusion(void) {
    char base[900], dir[1024];
    build_ref_tree();
    snprintf(dir, sizeof dir, "%s/inclusion", vectors_dir(base, sizeof base));
    int before = n_inc_ok + n_inc_rej;
    walk(dir, 0);
    fprintf(stdout, "#   inclusion vectors: %d verified, %d rejected as wanted\n", n_inc_ok,
            n_inc_rej);
    CHECK(n_inc_ok + n_inc_rej - before > 0);
    CHECK(n_inc_ok > 0 && n_inc_rej > 0);
}

static void test_vectors_consistency(void) {
    char base[900], dir[1024];
    build_ref_tree();
    snprintf(dir, sizeof dir, "%s/consistency", vectors_dir(base, sizeof base));
    int before = n_con_ok + n_con_rej;
    walk(dir, 1);
    fprintf(stdout,
            "#   consistency vectors: %d verified, %d rejected as wanted (%d with non-32-byte "
            "placeholder roots); %d happy proofs regenerated byte-identical\n",
            n_con_ok, n_con_rej, n_unrepr, n_generated_equal);
    CHECK(n_con_ok + n_con_rej - before > 0);
    CHECK(n_con_ok > 0 && n_con_rej > 0);
    CHECK(n_unrepr <= 1);
    CHECK(n_generated_equal > 0);
}

/* ---------- properties ---------- */

#define PROP_MAX 64

/* Every bit of every proof element for trees up to 16 leaves; beyond that every 29th bit
 * (29 is odd, so each bit position inside a byte is hit across the 256 bits; ~9 per element)
 * keeps the sanitized run short. */
static int bit_step(uint64_t n) {
    return n <= 16 ? 1 : 29;
}

static void make_leaves(merkle_hash_t *leaves, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        uint8_t data[8];
        for (int b = 0; b < 8; b++)
            data[b] = (uint8_t)(i >> (8 * b));
        merkle_leaf_hash(data, (size_t)(i % 9), leaves[i], NULL); /* varying lengths */
        leaves[i][0] ^= (uint8_t)i;                               /* make them all distinct */
    }
}

static void test_root_matches_recursive(void) {
    merkle_hash_t leaves[300];
    make_leaves(leaves, 300);
    for (uint64_t n = 0; n <= 300; n++) {
        merkle_hash_t a, b;
        err_t e;
        CHECK_EQ_INT(merkle_root(leaves, n, a, &e), 0);
        ref_mth(leaves, n, b);
        CHECK(memcmp(a, b, 32) == 0);
    }
}

/* the compact range followed leaf by leaf gives the recursive MTH at every size */
static void test_compact_range(void) {
    merkle_hash_t leaves[300];
    make_leaves(leaves, 300);
    merkle_range_t r;
    merkle_range_init(&r);
    for (uint64_t n = 0; n <= 300; n++) {
        merkle_hash_t a, b;
        err_t e;
        CHECK_EQ_INT(merkle_range_root(&r, a, &e), 0);
        ref_mth(leaves, n, b);
        CHECK(memcmp(a, b, 32) == 0);
        CHECK(r.size == n);
        if (n < 300) CHECK_EQ_INT(merkle_range_append(&r, leaves[n], &e), 0);
    }
}

static void test_inclusion_property(void) {
    merkle_hash_t leaves[PROP_MAX];
    make_leaves(leaves, PROP_MAX);
    long verified = 0, flips = 0;
    for (uint64_t n = 1; n <= PROP_MAX; n++) {
        merkle_hash_t root;
        merkle_root(leaves, n, root, NULL);
        for (uint64_t i = 0; i < n; i++) {
            merkle_hash_t proof[MERKLE_MAX_PROOF], ref[MERKLE_MAX_PROOF];
            size_t plen = 0;
            err_t e;
            REQUIRE(merkle_inclusion_proof(leaves, n, i, proof, MERKLE_MAX_PROOF, &plen, &e) == 0);
            size_t rlen = ref_path(i, leaves, n, ref);
            CHECK(plen == rlen && memcmp(proof, ref, plen * 32) == 0);
            CHECK_EQ_INT(merkle_verify_inclusion(i, n, leaves[i], proof, plen, root, &e), 0);
            verified++;
            /* every single-bit flip in the proof, the leaf or the root fails */
            for (size_t p = 0; p < plen; p++)
                for (int bit = 0; bit < 256; bit += bit_step(n)) {
                    proof[p][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                    CHECK(merkle_verify_inclusion(i, n, leaves[i], proof, plen, root, &e) != 0);
                    proof[p][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                    flips++;
                }
            for (int bit = 0; bit < 256; bit += 7) {
                merkle_hash_t l, r;
                memcpy(l, leaves[i], 32);
                memcpy(r, root, 32);
                l[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                r[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                CHECK(merkle_verify_inclusion(i, n, l, proof, plen, root, &e) != 0);
                CHECK(merkle_verify_inclusion(i, n, leaves[i], proof, plen, r, &e) != 0);
                flips += 2;
            }
            /* wrong index, wrong size, truncated or extended proof */
            if (n > 1)
                CHECK(merkle_verify_inclusion((i + 1) % n, n, leaves[i], proof, plen, root, &e) !=
                      0);
            /* (An RFC 9162 path alone does not bind the tree size: the same path can verify for
             * a neighbouring size with the same shape, e.g. index 0 of 3 and of 4. The signed
             * checkpoint binds size and root, so only doubled sizes are checked here.) */
            CHECK(merkle_verify_inclusion(i, n * 2, leaves[i], proof, plen, root, &e) != 0);
            if (plen)
                CHECK(merkle_verify_inclusion(i, n, leaves[i], proof, plen - 1, root, &e) != 0);
            memcpy(proof[plen], root, 32);
            CHECK(merkle_verify_inclusion(i, n, leaves[i], proof, plen + 1, root, &e) != 0);
        }
    }
    fprintf(stdout, "#   inclusion property: %ld proofs verified, %ld mutations rejected\n",
            verified, flips);
}

static void test_consistency_property(void) {
    merkle_hash_t leaves[PROP_MAX], roots[PROP_MAX + 1];
    make_leaves(leaves, PROP_MAX);
    for (uint64_t n = 0; n <= PROP_MAX; n++)
        merkle_root(leaves, n, roots[n], NULL);
    long verified = 0, flips = 0;
    for (uint64_t n = 1; n <= PROP_MAX; n++) {
        for (uint64_t m = 1; m <= n; m++) {
            merkle_hash_t proof[MERKLE_MAX_PROOF + 1], ref[MERKLE_MAX_PROOF];
            size_t plen = 0;
            err_t e;
            REQUIRE(merkle_consistency_proof(leaves, n, m, proof, MERKLE_MAX_PROOF, &plen, &e) ==
                    0);
            size_t rlen = ref_subproof(m, leaves, n, 1, ref);
            CHECK(plen == rlen && memcmp(proof, ref, plen * 32) == 0);
            CHECK_EQ_INT(merkle_verify_consistency(m, n, roots[m], roots[n], proof, plen, &e), 0);
            verified++;
            for (size_t p = 0; p < plen; p++)
                for (int bit = 0; bit < 256; bit += bit_step(n)) {
                    proof[p][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                    CHECK(merkle_verify_consistency(m, n, roots[m], roots[n], proof, plen, &e) !=
                          0);
                    proof[p][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                    flips++;
                }
            for (int bit = 0; bit < 256; bit += 5) {
                merkle_hash_t a, b;
                memcpy(a, roots[m], 32);
                memcpy(b, roots[n], 32);
                a[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                CHECK(merkle_verify_consistency(m, n, a, roots[n], proof, plen, &e) != 0);
                CHECK(merkle_verify_consistency(m, n, roots[m], b, proof, plen, &e) != 0);
                flips += 2;
            }
            /* the wrong sizes, the swapped roots, a shortened or extended proof */
            if (m > 1)
                CHECK(merkle_verify_consistency(m - 1, n, roots[m], roots[n], proof, plen, &e) !=
                      0);
            if (m < n) {
                CHECK(merkle_verify_consistency(m, n, roots[n], roots[m], proof, plen, &e) != 0);
                CHECK(merkle_verify_consistency(m, n * 2, roots[m], roots[n], proof, plen, &e) !=
                      0);
                CHECK(merkle_verify_consistency(m, n, roots[m], roots[n], proof, plen - 1, &e) !=
                      0);
            }
            memcpy(proof[plen], roots[n], 32);
            CHECK(merkle_verify_consistency(m, n, roots[m], roots[n], proof, plen + 1, &e) != 0);
        }
    }
    fprintf(stdout, "#   consistency property: %ld proofs verified, %ld mutations rejected\n",
            verified, flips);
}

/* Larger trees: every leaf of trees up to 300 leaves, one bit flip per proof element. */
static void test_larger_trees(void) {
    enum { N = 300 };
    merkle_hash_t *leaves = malloc(sizeof(merkle_hash_t) * N);
    REQUIRE(leaves != NULL);
    make_leaves(leaves, N);
    long checked = 0;
    for (uint64_t n = 65; n <= N; n += 7) {
        merkle_hash_t root;
        merkle_root(leaves, n, root, NULL);
        for (uint64_t i = 0; i < n; i++) {
            merkle_hash_t proof[MERKLE_MAX_PROOF];
            size_t plen = 0;
            err_t e;
            CHECK_EQ_INT(merkle_inclusion_proof(leaves, n, i, proof, MERKLE_MAX_PROOF, &plen, &e),
                         0);
            CHECK_EQ_INT(merkle_verify_inclusion(i, n, leaves[i], proof, plen, root, &e), 0);
            for (size_t p = 0; p < plen; p++) {
                int bit = (int)((i * 31 + p * 17) % 256);
                proof[p][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                CHECK(merkle_verify_inclusion(i, n, leaves[i], proof, plen, root, &e) != 0);
                proof[p][bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            checked++;
        }
        for (uint64_t m = 1; m <= n; m += 3) {
            merkle_hash_t proof[MERKLE_MAX_PROOF], rm;
            size_t plen = 0;
            err_t e;
            merkle_root(leaves, m, rm, NULL);
            CHECK_EQ_INT(merkle_consistency_proof(leaves, n, m, proof, MERKLE_MAX_PROOF, &plen, &e),
                         0);
            CHECK_EQ_INT(merkle_verify_consistency(m, n, rm, root, proof, plen, &e), 0);
            for (size_t p = 0; p < plen; p++) {
                int bit = (int)((m * 13 + p * 29) % 256);
                proof[p][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                CHECK(merkle_verify_consistency(m, n, rm, root, proof, plen, &e) != 0);
                proof[p][bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            checked++;
        }
    }
    fprintf(stdout, "#   larger trees: %ld proofs checked\n", checked);
    free(leaves);
}

static void test_argument_errors(void) {
    merkle_hash_t leaves[4], proof[2];
    size_t plen = 99;
    err_t e;
    make_leaves(leaves, 4);
    CHECK_EQ_INT(merkle_inclusion_proof(leaves, 4, 4, proof, 2, &plen, &e), -1);
    CHECK_STR(e.code, "invalid_field");
    CHECK_EQ_INT(merkle_consistency_proof(leaves, 4, 0, proof, 2, &plen, &e), -1);
    CHECK_EQ_INT(merkle_consistency_proof(leaves, 4, 5, proof, 2, &plen, &e), -1);
    /* buffer too small: a 3-of-4 consistency proof has 3 elements */
    CHECK_EQ_INT(merkle_consistency_proof(leaves, 4, 3, proof, 2, &plen, &e), -1);
    CHECK_EQ_INT(merkle_inclusion_proof(leaves, 4, 1, proof, 1, &plen, &e), -1);
    CHECK_EQ_INT(merkle_inclusion_proof(leaves, 4, 1, proof, 2, &plen, &e), 0);
    CHECK_EQ_INT(plen, 2);
    /* size 0 trees have no inclusion proofs and no meaningful consistency proofs */
    merkle_hash_t empty;
    merkle_empty_root(empty, NULL);
    CHECK_EQ_INT(merkle_verify_inclusion(0, 0, leaves[0], NULL, 0, empty, &e), -1);
    CHECK_EQ_INT(merkle_verify_consistency(0, 0, empty, empty, NULL, 0, &e), -1);
    CHECK_EQ_INT(merkle_verify_consistency(0, 3, empty, empty, NULL, 0, &e), -1);
    /* a single-leaf tree: empty proof, leaf is the root */
    CHECK_EQ_INT(merkle_verify_inclusion(0, 1, leaves[0], NULL, 0, leaves[0], &e), 0);
    CHECK_EQ_INT(merkle_verify_inclusion(0, 1, leaves[0], NULL, 0, leaves[1], &e), -1);
    CHECK_STR(e.code, "invalid_proof");
    /* huge sizes do not overflow: index 2^64-2 in a tree of 2^64-1 with a 64-element path */
    merkle_hash_t big[MERKLE_MAX_PROOF];
    memset(big, 0, sizeof big);
    CHECK_EQ_INT(merkle_verify_inclusion(UINT64_MAX - 1, UINT64_MAX, leaves[0], big, 64, empty, &e),
                 -1);
    CHECK_EQ_INT(merkle_verify_consistency(UINT64_MAX - 1, UINT64_MAX, empty, empty, big, 64, &e),
                 -1);
    CHECK_EQ_INT(merkle_verify_inclusion(0, 2, leaves[0], big, MERKLE_MAX_PROOF + 1, empty, &e),
                 -1);
}

int main(void) {
    RUN(test_known_answers);
    RUN(test_reference_tree_roots);
    RUN(test_vectors_inclusion);
    RUN(test_vectors_consistency);
    RUN(test_root_matches_recursive);
    RUN(test_compact_range);
    RUN(test_inclusion_property);
    RUN(test_consistency_property);
    RUN(test_larger_trees);
    RUN(test_argument_errors);
    TEST_DONE();
}
