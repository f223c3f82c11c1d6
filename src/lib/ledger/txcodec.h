/* txcodec: the canonical binary encoding of a ledger transaction (version 1), its id, and
 * salted commitments for personal data. Owns the decoded transaction's storage
 * (txcodec_tx_t from txcodec_decode, released with txcodec_tx_free); for a transaction built by
 * the caller every pointer stays the caller's.
 *
 * Encoding v1 (every integer is either one byte, a fixed-width big-endian field, or an
 * unsigned LEB128 varint in its shortest form; "bytes" = varint length || raw bytes):
 *   u8      version                    = 1
 *   32      tx_id                      = SHA-256(creator || nonce), creator as encoded below
 *   bytes   type                       1..64 bytes of [a-z0-9._-]
 *   bytes   creator org                1..64 bytes of [A-Za-z0-9.-]
 *   32      creator Ed25519 public key
 *   8       timestamp, ms since the epoch, big-endian two's complement int64
 *   bytes   nonce                      8..64 bytes
 *   bytes   payload                    0..TXCODEC_MAX_PAYLOAD bytes
 *   varint  read count                 0..TXCODEC_MAX_SET
 *           per read:  bytes key (1..TXCODEC_MAX_KEY), varint version
 *   varint  write count                0..TXCODEC_MAX_SET
 *           per write: bytes key, u8 flags (0 = put, 1 = delete), bytes value (empty if delete)
 * Keys within each set are strictly increasing in bytewise order (so no duplicates).
 * Decoding is strict: unknown version, non-shortest varints, out-of-range lengths, unsorted or
 * duplicate keys, a wrong tx id, bad flags, a value on a delete and trailing bytes are all
 * rejected, so decode(x) succeeds only for x == encode(decode(x)).
 *
 * Commitment for personal data: commit = SHA-256(salt || value), 32-byte random salt kept off
 * the ledger; erasing the salt unlinks the commitment from the value. */
#ifndef LEDGER_TXCODEC_H
#define LEDGER_TXCODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define TXCODEC_VERSION 1
#define TXCODEC_ID_LEN 32
#define TXCODEC_PK_LEN 32
#define TXCODEC_MAX_TYPE 64
#define TXCODEC_MAX_ORG 64
#define TXCODEC_MIN_NONCE 8
#define TXCODEC_MAX_NONCE 64
#define TXCODEC_MAX_PAYLOAD (1u << 20) /* 1 MiB */
#define TXCODEC_MAX_KEY 256
#define TXCODEC_MAX_VALUE (1u << 20)
#define TXCODEC_MAX_SET 1024           /* entries in the read set, and in the write set */
#define TXCODEC_MAX_ENCODED (4u << 20) /* whole encoded transaction */
#define TXCODEC_SALT_LEN 32
#define TXCODEC_COMMIT_LEN 32

typedef struct txcodec_read {
    const uint8_t *key;
    size_t key_len;
    uint64_t version;
} txcodec_read_t;

typedef struct txcodec_write {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value; /* empty (may be NULL) when is_delete */
    size_t value_len;
    int is_delete;
} txcodec_write_t;

typedef struct txcodec_tx {
    uint8_t version;
    uint8_t tx_id[TXCODEC_ID_LEN];
    char type[TXCODEC_MAX_TYPE + 1];
    char creator_org[TXCODEC_MAX_ORG + 1];
    uint8_t creator_pk[TXCODEC_PK_LEN];
    int64_t timestamp_ms;
    uint8_t nonce[TXCODEC_MAX_NONCE];
    size_t nonce_len;
    const uint8_t *payload;
    size_t payload_len;
    txcodec_read_t *reads;
    size_t n_reads;
    txcodec_write_t *writes;
    size_t n_writes;
    void *owned_; /* storage of a decoded transaction */
} txcodec_tx_t;

/* SHA-256(varint(len org) || org || pk || nonce) for the tx's creator and nonce. */
int txcodec_compute_id(const txcodec_tx_t *tx, uint8_t out[TXCODEC_ID_LEN], err_t *e);

/* Sorts the read and write sets of a caller-built tx into canonical order (the arrays are
 * reordered in place); fails on duplicate keys. */
int txcodec_sort_sets(txcodec_tx_t *tx, err_t *e);

/* Validates tx (including tx_id == txcodec_compute_id and sorted sets) and writes its
 * encoding to a malloc'ed *out (caller frees). */
int txcodec_encode(const txcodec_tx_t *tx, uint8_t **out, size_t *out_len, err_t *e);

/* Strictly decodes buf into *tx (pointers refer to storage owned by tx; txcodec_tx_free). */
int txcodec_decode(const uint8_t *buf, size_t len, txcodec_tx_t *tx, err_t *e);
void txcodec_tx_free(txcodec_tx_t *tx);

/* Draws a fresh random salt and computes SHA-256(salt || value). */
int txcodec_commit(const void *value, size_t len, uint8_t salt[TXCODEC_SALT_LEN],
                   uint8_t commit[TXCODEC_COMMIT_LEN], err_t *e);
/* SHA-256(salt || value) with a given salt. */
int txcodec_commit_with_salt(const uint8_t salt[TXCODEC_SALT_LEN], const void *value, size_t len,
                             uint8_t commit[TXCODEC_COMMIT_LEN], err_t *e);
/* 0 if commit == SHA-256(salt || value) (constant-time compare), else -1 (422). */
int txcodec_commit_verify(const uint8_t salt[TXCODEC_SALT_LEN], const void *value, size_t len,
                          const uint8_t commit[TXCODEC_COMMIT_LEN], err_t *e);

#endif
