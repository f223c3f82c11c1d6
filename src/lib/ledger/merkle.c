/* merkle: see merkle.h. */
#include "lib/ledger/merkle.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static pthread_once_t merkle_md_once_ = PTHREAD_ONCE_INIT;
static EVP_MD *merkle_md_fetched_;

static void merkle_md_init_(void) {
    merkle_md_fetched_ = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* The SHA-256 implementation, fetched once (explicit fetch avoids a lookup per hash). */
static const EVP_MD *merkle_md_(void) {
    pthread_once(&merkle_md_once_, merkle_md_init_);
    return merkle_md_fetched_ ? merkle_md_fetched_ : EVP_sha256();
}

/* SHA-256 over up to three parts; prefix byte first if prefix >= 0. */
static int merkle_sha256_(int prefix, const void *a, size_t alen, const void *b, size_t blen,
                          merkle_hash_t out, err_t *e) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int outlen = 0;
    unsigned char p = (unsigned char)prefix;
    if (!ctx) goto fail;
    if (EVP_DigestInit_ex(ctx, merkle_md_(), NULL) != 1) goto fail;
    if (prefix >= 0 && EVP_DigestUpdate(ctx, &p, 1) != 1) goto fail;
    if (alen && EVP_DigestUpdate(ctx, a, alen) != 1) goto fail;
    if (blen && EVP_DigestUpdate(ctx, b, blen) != 1) goto fail;
    if (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != MERKLE_HASH_LEN) goto fail;
    EVP_MD_CTX_free(ctx);
    return 0;
fail:
    EVP_MD_CTX_free(ctx);
    return err_set(e, 500, "internal", "", "SHA-256 failed");
}

int merkle_empty_root(merkle_hash_t out, err_t *e) {
    return merkle_sha256_(-1, NULL, 0, NULL, 0, out, e);
}

int merkle_leaf_hash(const void *data, size_t len, merkle_hash_t out, err_t *e) {
    if (!data && len) return err_set(e, 500, "internal", "data", "leaf data is missing");
    return merkle_sha256_(0x00, data, len, NULL, 0, out, e);
}

int merkle_node_hash(const merkle_hash_t left, const merkle_hash_t right, merkle_hash_t out,
                     err_t *e) {
    unsigned char buf[1 + 2 * MERKLE_HASH_LEN];
    unsigned int outlen = 0;
    buf[0] = 0x01;
    memcpy(buf + 1, left, MERKLE_HASH_LEN);
    memcpy(buf + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
    if (EVP_Digest(buf, sizeof buf, out, &outlen, merkle_md_(), NULL) != 1 ||
        outlen != MERKLE_HASH_LEN)
        return err_set(e, 500, "internal", "", "SHA-256 failed");
    return 0;
}

int merkle_node_hash_bytes(const void *left, size_t left_len, const void *right, size_t right_len,
                           merkle_hash_t out, err_t *e) {
    if ((!left && left_len) || (!right && right_len))
        return err_set(e, 500, "internal", "data", "node child is missing");
    return merkle_sha256_(0x01, left, left_len, right, right_len, out, e);
}

/* Largest power of two strictly less than n (n >= 2). */
static uint64_t merkle_split_(uint64_t n) {
    return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

int merkle_root(const merkle_hash_t *leaves, uint64_t n, merkle_hash_t out, err_t *e) {
    if (n == 0) return merkle_empty_root(out, e);
    if (!leaves) return err_set(e, 500, "internal", "leaves", "leaf hashes are missing");
    /* Stack of perfect subtrees, as in a binary counter: stack[i] covers 2^height[i] leaves,
     * heights strictly decreasing. Adding leaf j merges while the top two have equal height.
     * At the end the MTH folds the stack from the right: the leftmost entry is the subtree of
     * the largest power of two < n (or all of it), exactly the RFC 6962 split. */
    merkle_hash_t stack[65];
    unsigned height[65];
    size_t top = 0;
    for (uint64_t j = 0; j < n; j++) {
        memcpy(stack[top], leaves[j], MERKLE_HASH_LEN);
        height[top++] = 0;
        while (top >= 2 && height[top - 1] == height[top - 2]) {
            if (merkle_node_hash(stack[top - 2], stack[top - 1], stack[top - 2], e) != 0) return -1;
            height[top - 2]++;
            top--;
        }
    }
    while (top >= 2) {
        if (merkle_node_hash(stack[top - 2], stack[top - 1], stack[top - 2], e) != 0) return -1;
        top--;
    }
    memcpy(out, stack[0], MERKLE_HASH_LEN);
    return 0;
}

void merkle_range_init(merkle_range_t *r) {
    memset(r, 0, sizeof *r);
}

int merkle_range_append(merkle_range_t *r, const merkle_hash_t leaf, err_t *e) {
    if (r->size == UINT64_MAX) return err_set(e, 500, "internal", "size", "the tree is full");
    memcpy(r->nodes[r->n++], leaf, MERKLE_HASH_LEN);
    r->size++;
    /* one merge per trailing zero bit of the new size (a binary counter) */
    for (uint64_t s = r->size; (s & 1) == 0; s >>= 1) {
        if (merkle_node_hash(r->nodes[r->n - 2], r->nodes[r->n - 1], r->nodes[r->n - 2], e) != 0)
            return -1;
        r->n--;
    }
    return 0;
}

int merkle_range_root(const merkle_range_t *r, merkle_hash_t out, err_t *e) {
    if (r->n == 0) return merkle_empty_root(out, e);
    merkle_hash_t h;
    memcpy(h, r->nodes[r->n - 1], MERKLE_HASH_LEN);
    for (size_t i = r->n - 1; i-- > 0;)
        if (merkle_node_hash(r->nodes[i], h, h, e) != 0) return -1;
    memcpy(out, h, MERKLE_HASH_LEN);
    return 0;
}

/* Writes the top-down list `rev` (count items) bottom-up after `first` items already in proof. */
static int merkle_emit_(merkle_hash_t *proof, size_t cap, size_t first, merkle_hash_t *rev,
                        size_t count, size_t *proof_len, err_t *e) {
    if (first + count > cap)
        return err_set(e, 500, "internal", "proof", "proof buffer too small (%zu < %zu)", cap,
                       first + count);
    for (size_t i = 0; i < count; i++)
        memcpy(proof[first + i], rev[count - 1 - i], MERKLE_HASH_LEN);
    *proof_len = first + count;
    return 0;
}

int merkle_inclusion_proof(const merkle_hash_t *leaves, uint64_t n, uint64_t index,
                           merkle_hash_t *proof, size_t cap, size_t *proof_len, err_t *e) {
    if (!leaves || !proof || !proof_len)
        return err_set(e, 500, "internal", "proof", "missing argument");
    if (index >= n)
        return err_invalid(e, "index", "leaf index %llu is not below tree size %llu",
                           (unsigned long long)index, (unsigned long long)n);
    /* PATH(m, D[n]) of RFC 9162 2.1.3.1, unrolled: walk from the root to the leaf, collecting
     * the sibling subtree root at each level (top-down), then emit bottom-up. */
    merkle_hash_t rev[64];
    size_t count = 0;
    uint64_t lo = 0, size = n, m = index;
    while (size > 1) {
        uint64_t k = merkle_split_(size);
        if (m < k) {
            if (merkle_root(leaves + lo + k, size - k, rev[count], e) != 0) return -1;
            size = k;
        } else {
            if (merkle_root(leaves + lo, k, rev[count], e) != 0) return -1;
            lo += k;
            m -= k;
            size -= k;
        }
        count++;
    }
    return merkle_emit_(proof, cap, 0, rev, count, proof_len, e);
}

int merkle_consistency_proof(const merkle_hash_t *leaves, uint64_t n, uint64_t m,
                             merkle_hash_t *proof, size_t cap, size_t *proof_len, err_t *e) {
    if (!leaves || !proof || !proof_len)
        return err_set(e, 500, "internal", "proof", "missing argument");
    if (m == 0 || m > n)
        return err_invalid(e, "size1",
                           "consistency proof needs 0 < size1 <= size2 (got %llu, %llu)",
                           (unsigned long long)m, (unsigned long long)n);
    /* SUBPROOF(m, D[n], b) of RFC 9162 2.1.4.1, unrolled. */
    merkle_hash_t rev[64];
    size_t count = 0;
    uint64_t lo = 0, size = n, mm = m;
    int b = 1;
    while (mm != size) {
        uint64_t k = merkle_split_(size);
        if (mm <= k) {
            if (merkle_root(leaves + lo + k, size - k, rev[count], e) != 0) return -1;
            size = k;
        } else {
            if (merkle_root(leaves + lo, k, rev[count], e) != 0) return -1;
            lo += k;
            mm -= k;
            size -= k;
            b = 0;
        }
        count++;
    }
    size_t first = 0;
    if (!b) {
        if (cap < 1) return err_set(e, 500, "internal", "proof", "proof buffer too small");
        if (merkle_root(leaves + lo, size, proof[0], e) != 0) return -1;
        first = 1;
    }
    return merkle_emit_(proof, cap, first, rev, count, proof_len, e);
}

static int merkle_invalid_(err_t *e, const char *why) {
    return err_set(e, 422, "invalid_proof", "proof", "proof does not verify: %s", why);
}

int merkle_verify_inclusion(uint64_t index, uint64_t size, const merkle_hash_t leaf,
                            const merkle_hash_t *proof, size_t proof_len, const merkle_hash_t root,
                            err_t *e) {
    if (!leaf || !root || (!proof && proof_len))
        return err_set(e, 500, "internal", "proof", "missing argument");
    if (proof_len > MERKLE_MAX_PROOF) return merkle_invalid_(e, "proof too long");
    /* 1. If leaf_index >= tree_size, fail. */
    if (index >= size) return merkle_invalid_(e, "leaf index not below tree size");
    /* 2. Set fn to leaf_index and sn to tree_size - 1. */
    uint64_t fn = index, sn = size - 1;
    /* 3. Set r to hash. */
    merkle_hash_t r;
    memcpy(r, leaf, MERKLE_HASH_LEN);
    /* 4. For each value p in the inclusion_path array: */
    for (size_t i = 0; i < proof_len; i++) {
        /* a. If sn is 0, stop the iteration and fail the proof verification. */
        if (sn == 0) return merkle_invalid_(e, "proof too long for the tree");
        /* b. If LSB(fn) is set, or if fn is equal to sn, then: */
        if ((fn & 1) || fn == sn) {
            /* i. Set r to HASH(0x01 || p || r). */
            if (merkle_node_hash(proof[i], r, r, e) != 0) return -1;
            /* ii. If LSB(fn) is not set, right-shift fn and sn equally until either LSB(fn)
             * is set or fn is 0. */
            if (!(fn & 1)) {
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            /* Otherwise: i. Set r to HASH(0x01 || r || p). */
            if (merkle_node_hash(r, proof[i], r, e) != 0) return -1;
        }
        /* c. Finally, right-shift both fn and sn one time. */
        fn >>= 1;
        sn >>= 1;
    }
    /* 5. Compare r against root_hash; also sn must be 0. */
    if (sn != 0) return merkle_invalid_(e, "proof too short for the tree");
    if (CRYPTO_memcmp(r, root, MERKLE_HASH_LEN) != 0)
        return merkle_invalid_(e, "computed root differs");
    return 0;
}

int merkle_verify_consistency(uint64_t size1, uint64_t size2, const merkle_hash_t root1,
                              const merkle_hash_t root2, const merkle_hash_t *proof,
                              size_t proof_len, err_t *e) {
    if (!root1 || !root2 || (!proof && proof_len))
        return err_set(e, 500, "internal", "proof", "missing argument");
    if (size1 > size2) return merkle_invalid_(e, "size1 is greater than size2");
    if (size1 == 0) return merkle_invalid_(e, "a proof from the empty tree proves nothing");
    if (size1 == size2) {
        /* Outside the RFC algorithm (0 < first < second): identical trees, empty proof. */
        if (proof_len != 0) return merkle_invalid_(e, "sizes are equal but the proof is not empty");
        if (CRYPTO_memcmp(root1, root2, MERKLE_HASH_LEN) != 0)
            return merkle_invalid_(e, "sizes are equal but the roots differ");
        return 0;
    }
    if (proof_len > MERKLE_MAX_PROOF) return merkle_invalid_(e, "proof too long");
    /* 1. If consistency_path is an empty array, stop and fail the proof verification. */
    if (proof_len == 0) return merkle_invalid_(e, "empty proof");
    /* 2. If first is an exact power of 2, then prepend first_hash to the consistency_path. */
    const unsigned char *path[MERKLE_MAX_PROOF + 1];
    size_t path_len = 0;
    if ((size1 & (size1 - 1)) == 0) path[path_len++] = root1;
    for (size_t i = 0; i < proof_len; i++)
        path[path_len++] = proof[i];
    /* 3. Set fn to first - 1 and sn to second - 1. */
    uint64_t fn = size1 - 1, sn = size2 - 1;
    /* 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set. */
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    /* 5. Set both fr and sr to the first value in the consistency_path array. */
    merkle_hash_t fr, sr;
    memcpy(fr, path[0], MERKLE_HASH_LEN);
    memcpy(sr, path[0], MERKLE_HASH_LEN);
    /* 6. For each subsequent value c in the consistency_path array: */
    for (size_t i = 1; i < path_len; i++) {
        const unsigned char *c = path[i];
        /* a. If sn is 0, then stop the iteration and fail the proof verification. */
        if (sn == 0) return merkle_invalid_(e, "proof too long for the trees");
        /* b. If LSB(fn) is set, or if fn is equal to sn, then: */
        if ((fn & 1) || fn == sn) {
            /* i. Set fr to HASH(0x01 || c || fr). ii. Set sr to HASH(0x01 || c || sr). */
            if (merkle_node_hash(c, fr, fr, e) != 0) return -1;
            if (merkle_node_hash(c, sr, sr, e) != 0) return -1;
            /* iii. If LSB(fn) is not set, then right-shift both fn and sn equally until
             * either LSB(fn) is set or fn is 0. */
            if (!(fn & 1)) {
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            /* Otherwise: i. Set sr to HASH(0x01 || sr || c). */
            if (merkle_node_hash(sr, c, sr, e) != 0) return -1;
        }
        /* c. Finally, right-shift both fn and sn one time. */
        fn >>= 1;
        sn >>= 1;
    }
    /* 7. Verify that fr equals first_hash, sr equals second_hash, and sn is 0. */
    if (sn != 0) return merkle_invalid_(e, "proof too short for the trees");
    if (CRYPTO_memcmp(fr, root1, MERKLE_HASH_LEN) != 0)
        return merkle_invalid_(e, "computed first root differs");
    if (CRYPTO_memcmp(sr, root2, MERKLE_HASH_LEN) != 0)
        return merkle_invalid_(e, "computed second root differs");
    return 0;
}
