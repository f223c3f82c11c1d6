/* merkle: RFC 6962 / RFC 9162 Merkle tree hashing over SHA-256 (OpenSSL EVP).
 * Owns no state: every function works on caller-provided arrays of 32-byte hashes.
 * - leaf hash = SHA-256(0x00 || data), node hash = SHA-256(0x01 || left || right),
 *   empty tree root = SHA-256("").
 * - merkle_root computes MTH(D[n]) iteratively (split at the largest power of two < n).
 * - merkle_inclusion_proof / merkle_consistency_proof generate PATH(m, D[n]) and
 *   PROOF(m, D[n]) (RFC 9162 2.1.3.1 / 2.1.4.1) from the n leaf hashes, bottom to top.
 * - merkle_verify_inclusion / merkle_verify_consistency are the verification algorithms of
 *   RFC 9162 2.1.3.2 and 2.1.4.2 step by step. The RFC states the consistency algorithm for
 *   0 < first < second; the wrapper accepts first == second only with an empty proof and equal
 *   roots, and rejects first == 0 (a proof from the empty tree proves nothing).
 * Verification returns 0 when the proof is valid and -1 (status 422, code "invalid_proof")
 * otherwise; generation errors are 400 "invalid_field" or 500 "internal". */
#ifndef LEDGER_MERKLE_H
#define LEDGER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define MERKLE_HASH_LEN 32
/* Longest proof for any tree size that fits in uint64_t: an inclusion path has at most 64
 * elements, a consistency proof at most 65 (64 siblings + the starting subtree root). */
#define MERKLE_MAX_PROOF 65

typedef uint8_t merkle_hash_t[MERKLE_HASH_LEN];

/* SHA-256 of the empty string: the root of a tree with no leaves. */
int merkle_empty_root(merkle_hash_t out, err_t *e);
/* SHA-256(0x00 || data). data may be NULL when len == 0. */
int merkle_leaf_hash(const void *data, size_t len, merkle_hash_t out, err_t *e);
/* SHA-256(0x01 || left || right). out may alias left or right. */
int merkle_node_hash(const merkle_hash_t left, const merkle_hash_t right, merkle_hash_t out,
                     err_t *e);
/* The same over children of any length (RFC 6962 known answers hash short strings). */
int merkle_node_hash_bytes(const void *left, size_t left_len, const void *right, size_t right_len,
                           merkle_hash_t out, err_t *e);

/* MTH of the n leaf hashes (n == 0 gives the empty root). */
int merkle_root(const merkle_hash_t *leaves, uint64_t n, merkle_hash_t out, err_t *e);

/* Compact range of the first `size` leaves: the roots of the perfect subtrees named by the bits
 * of size, left (largest) to right. Appending a leaf costs amortised O(1) hashes (at most
 * log2 n), the root of the current size O(log n): a log can be followed leaf by leaf without
 * keeping its leaves (the offline verifier). */
typedef struct merkle_range {
    uint64_t size;
    size_t n;
    merkle_hash_t nodes[64];
} merkle_range_t;
void merkle_range_init(merkle_range_t *r);
int merkle_range_append(merkle_range_t *r, const merkle_hash_t leaf, err_t *e);
/* MTH of the first r->size leaves (the empty root for 0). */
int merkle_range_root(const merkle_range_t *r, merkle_hash_t out, err_t *e);

/* Inclusion path for leaf `index` in the tree of the first n leaves, bottom to top, written to
 * proof[0..*proof_len). cap is the capacity of proof (MERKLE_MAX_PROOF is always enough). */
int merkle_inclusion_proof(const merkle_hash_t *leaves, uint64_t n, uint64_t index,
                           merkle_hash_t *proof, size_t cap, size_t *proof_len, err_t *e);

/* Consistency proof between the trees of the first m and the first n leaves, 0 < m <= n
 * (m == n gives an empty proof). */
int merkle_consistency_proof(const merkle_hash_t *leaves, uint64_t n, uint64_t m,
                             merkle_hash_t *proof, size_t cap, size_t *proof_len, err_t *e);

/* RFC 9162 2.1.3.2: does `leaf` sit at `index` in the tree of `size` leaves with `root`? */
int merkle_verify_inclusion(uint64_t index, uint64_t size, const merkle_hash_t leaf,
                            const merkle_hash_t *proof, size_t proof_len, const merkle_hash_t root,
                            err_t *e);

/* RFC 9162 2.1.4.2: is the tree (size2, root2) an append-only extension of (size1, root1)? */
int merkle_verify_consistency(uint64_t size1, uint64_t size2, const merkle_hash_t root1,
                              const merkle_hash_t root2, const merkle_hash_t *proof,
                              size_t proof_len, err_t *e);

#endif
