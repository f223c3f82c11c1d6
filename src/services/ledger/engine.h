/* engine: the ledger's pure, deterministic core, shared by the service (validation and commit)
 * and the offline verifier. No I/O. Owns: envelopes (a transaction + endorsements), ordered
 * block messages, block headers, the network config model, a small hash map of key versions,
 * and the validation of one block (endorsement policies, MVCC, duplicate tx ids, config
 * changes) producing Fabric validation codes and the header fields.
 *
 * Encodings (big-endian fixed ints, "varint" = unsigned LEB128 shortest form, "bytes" = varint
 * length || raw):
 *   envelope v1:  u8 1 | bytes tx (txcodec v1) | varint n (1..64) | n x (32 pk | 64 sig),
 *                 public keys strictly increasing.
 *   endorsement:  Ed25519 over "reciprocal-ledger/endorse/v1\n" || tx bytes.
 *   block msg v1: u8 1 | u64 number | i64 timestamp_ms | varint n (1..LEDGER_MAX_BLOCK_TXS) |
 *                 n x bytes envelope                     (what the cutter orders)
 *   header v1:    "RCLB" | u8 1 | u64 number | 32 prev_hash | 32 data_root |
 *                 32 validation_root | 32 writeset_hash | i64 timestamp_ms | u32 tx_count |
 *                 u64 first_log_index;  header_hash = SHA-256(header)
 *   leaf hash     = RFC 6962 leaf hash of the envelope; data_root = RFC 6962 root of the
 *                   block's leaf hashes; the global log appends the same leaves.
 *   validation_root = SHA-256(one code byte per tx)
 *   writeset_hash   = SHA-256(for each VALID tx: u32 position | varint n | n x (bytes key |
 *                     u8 flag | bytes value))
 *   version of a key = block * 2^24 + position + 1; 0 = absent. */
#ifndef SERVICES_LEDGER_ENGINE_H
#define SERVICES_LEDGER_ENGINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "lib/ledger/merkle.h"
#include "lib/ledger/policy.h"
#include "lib/ledger/txcodec.h"

#define LEDGER_MAX_ENDORSEMENTS 64
#define LEDGER_MAX_BLOCK_TXS 4096
#define LEDGER_MAX_ENVELOPE (TXCODEC_MAX_ENCODED + 8192)
#define LEDGER_MAX_ORGS 1024
#define LEDGER_MAX_IDS 4096
#define LEDGER_NETWORK_ORG "network"
#define LEDGER_ENDORSE_PREFIX "reciprocal-ledger/endorse/v1\n"

/* Fabric TxValidationCode values. */
enum {
    LEDGER_VALID = 0,
    LEDGER_BAD_PAYLOAD = 2,
    LEDGER_BAD_CREATOR_SIGNATURE = 4,
    LEDGER_INVALID_CONFIG_TRANSACTION = 6,
    LEDGER_DUPLICATE_TXID = 9,
    LEDGER_ENDORSEMENT_POLICY_FAILURE = 10,
    LEDGER_MVCC_READ_CONFLICT = 11,
    LEDGER_UNKNOWN_TX_TYPE = 13,
    LEDGER_ILLEGAL_WRITESET = 23,
};
const char *ledger_code_name(int code);
int ledger_code_from_name(const char *name); /* -1 if unknown */

/* ---- byte helpers ---------------------------------------------------------------------- */
typedef struct ledger_buf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} ledger_buf_t;
void ledger_buf_put(ledger_buf_t *b, const void *d, size_t n);
void ledger_buf_u8(ledger_buf_t *b, uint8_t v);
void ledger_buf_u32(ledger_buf_t *b, uint32_t v);
void ledger_buf_u64(ledger_buf_t *b, uint64_t v);
void ledger_buf_varint(ledger_buf_t *b, uint64_t v);
void ledger_buf_bytes(ledger_buf_t *b, const void *d, size_t n);
void ledger_buf_free(ledger_buf_t *b);

void ledger_hex(const uint8_t *d, size_t n, char *out); /* out: 2n+1 */
int ledger_unhex(const char *s, uint8_t *out, size_t n);
uint64_t ledger_version(uint64_t block, uint32_t position);
void ledger_sha256(const void *d, size_t n, uint8_t out[32]);

/* ---- checkpoint binding ---------------------------------------------------------------- */
/* The checkpoint the log signs after block n carries one C2SP extension line
 *     "block <n> <64 hex header_hash>"      (decimal n without leading zeros, lowercase hex)
 * which binds the block (boundaries, timestamp, roots, validation codes) and, through the
 * prev_hash links, every block before it to the signed tree size. */
#define LEDGER_BLOCK_LINE_MAX 96
void ledger_checkpoint_block_line(uint64_t number, const uint8_t header_hash[32],
                                  char out[LEDGER_BLOCK_LINE_MAX]);
/* 1 when line is exactly such a line (number and header_hash filled), else 0. */
int ledger_checkpoint_block_parse(const char *line, uint64_t *number, uint8_t header_hash[32]);

/* ---- envelopes ------------------------------------------------------------------------- */
typedef struct ledger_endorsement {
    uint8_t pk[32];
    uint8_t sig[64];
} ledger_endorsement_t;

typedef struct ledger_envelope {
    const uint8_t *tx; /* encoded transaction (points into the envelope buffer) */
    size_t tx_len;
    size_t n_end;
    ledger_endorsement_t end[LEDGER_MAX_ENDORSEMENTS];
} ledger_envelope_t;

/* Sorts endorsements by key, drops exact duplicates, and encodes. */
int ledger_envelope_encode(const uint8_t *tx, size_t tx_len, ledger_endorsement_t *end,
                           size_t n_end, uint8_t **out, size_t *out_len, err_t *e);
int ledger_envelope_decode(const uint8_t *buf, size_t len, ledger_envelope_t *env, err_t *e);
/* The tx id validation takes for an envelope: 1 and *id when the envelope and its transaction
 * decode, else 0 (the envelope would be BAD_PAYLOAD, which never puts an id on the chain). */
int ledger_envelope_tx_id(const uint8_t *buf, size_t len, uint8_t id[32]);
/* Ed25519 endorsement of tx bytes with a libsodium secret key. */
int ledger_endorse(const uint8_t *tx, size_t tx_len, const uint8_t sk[64],
                   ledger_endorsement_t *out);
int ledger_endorsement_ok(const uint8_t *tx, size_t tx_len, const ledger_endorsement_t *en);

/* ---- ordered blocks -------------------------------------------------------------------- */
typedef struct ledger_block_msg {
    uint64_t number;
    int64_t timestamp_ms;
    size_t n;
    const uint8_t **env; /* n envelopes (point into the message buffer) */
    size_t *env_len;
    /* NULL (the service), or per envelope one bit per endorsement, in envelope order: 1 = its
     * Ed25519 signature was already checked and holds (the offline verifier checks them on
     * several threads ahead of the replay); validation then trusts these bits instead of
     * checking each signature again. Not encoded. */
    const uint64_t *sig_ok;
    /* NULL (the service), or per envelope its RFC 6962 leaf hash, computed ahead on the
     * verifier's worker threads so that the replay does not hash the envelope again. Not
     * encoded. */
    const merkle_hash_t *leaf;
    /* NULL (the service), or per envelope its decoding done ahead (the verifier decodes each
     * envelope once, on its worker threads): validation uses it instead of decoding env[i]
     * again; with pre_codes set, also pre[i].code (ledger_tx_precheck against the config in
     * force at the block's start) until a config change inside the block. Not encoded. */
    const struct ledger_pretx *pre;
    int pre_codes;
    /* NULL (the service), or per envelope 1 = its tx id is a duplicate: validation takes that
     * instead of looking the id up in seen_txids (which may then be NULL). The verifier takes
     * the recorded DUPLICATE_TXID codes and checks them all at the end (idcheck.h). */
    const uint8_t *dup;
    /* NULL (the service), or per envelope 1 = its reads conflict (MVCC_READ_CONFLICT), 0 = they
     * hold: validation takes that instead of reading versions (which may then be NULL: nothing
     * is written to it). The verifier takes the recorded codes and checks every read against the
     * writes before it at the end (statecheck.h). */
    const uint8_t *mvcc;
    /* NULL, or the RFC 6962 root of the block's leaf hashes, computed ahead. */
    const uint8_t *data_root;
} ledger_block_msg_t;

int ledger_block_msg_encode(uint64_t number, int64_t ts, const uint8_t *const *env,
                            const size_t *env_len, size_t n, uint8_t **out, size_t *out_len,
                            err_t *e);
int ledger_block_msg_decode(const uint8_t *buf, size_t len, ledger_block_msg_t *m, err_t *e);
void ledger_block_msg_free(ledger_block_msg_t *m);

typedef struct ledger_header {
    uint64_t number;
    uint8_t prev_hash[32];
    uint8_t data_root[32];
    uint8_t validation_root[32];
    uint8_t writeset_hash[32];
    int64_t timestamp_ms;
    uint32_t tx_count;
    uint64_t first_log_index;
} ledger_header_t;
void ledger_header_hash(const ledger_header_t *h, uint8_t out[32]);

/* ---- key -> version map ---------------------------------------------------------------- */
typedef struct ledger_kvmap ledger_kvmap_t;
ledger_kvmap_t *ledger_kvmap_new(void);
void ledger_kvmap_free(ledger_kvmap_t *m);
/* 0 when absent */
uint64_t ledger_kvmap_get(const ledger_kvmap_t *m, const uint8_t *key, size_t len, int *found);
int ledger_kvmap_set(ledger_kvmap_t *m, const uint8_t *key, size_t len, uint64_t v);
/* Bytes held: the slot table and the arena chunks (the replay state's cost per entry). */
size_t ledger_kvmap_bytes(const ledger_kvmap_t *m);

/* ---- network config -------------------------------------------------------------------- */
typedef struct ledger_org {
    char org[POLICY_MAX_ORG + 1];
    char club_id[40];
    char name[201];
} ledger_org_t;
typedef struct ledger_ident {
    uint8_t pk[32];
    char org[POLICY_MAX_ORG + 1];
    policy_role_t role;
    int64_t added_height;
} ledger_ident_t;
typedef struct ledger_config {
    ledger_org_t *orgs;
    size_t n_orgs;
    ledger_ident_t *ids;
    size_t n_ids;
    uint8_t (*revoked)[32];
    size_t n_revoked;
} ledger_config_t;

void ledger_config_free(ledger_config_t *c);
int ledger_config_clone(const ledger_config_t *src, ledger_config_t *dst); /* -1 = no memory */
int ledger_config_add_org(ledger_config_t *c, const char *org, const char *club_id,
                          const char *name);
int ledger_config_add_ident(ledger_config_t *c, const uint8_t pk[32], const char *org,
                            policy_role_t role, int64_t height);
int ledger_config_add_revoked(ledger_config_t *c, const uint8_t pk[32]);
const ledger_ident_t *ledger_config_ident(const ledger_config_t *c, const uint8_t pk[32]);
int ledger_config_is_revoked(const ledger_config_t *c, const uint8_t pk[32]);
json_t *ledger_config_to_json(const ledger_config_t *c);

/* Value of a config.update write to "config/org/<org>":
 *   {"club_id": uuid|null, "name": "...", "identities": [{"public_key": b64, "role": r}]}
 * and to "config/revoke/<64 hex pk>": {"reason": "..."}. */
#define LEDGER_CONFIG_PREFIX "config/"

/* config.update needs the MAJORITY of the admin principals of the config in force:
 * OutOf(floor(n/2)+1, '<o1>.admin', ..., '<on>.admin') over the n orgs that have an unrevoked
 * admin identity (at genesis, with an empty config: of the config it creates).
 * ledger_config_admin_orgs = n; ledger_config_update_policy writes that policy text (orgs
 * sorted), -1 when n = 0 or it does not fit. */
size_t ledger_config_admin_orgs(const ledger_config_t *c);
int ledger_config_update_policy(const ledger_config_t *c, char *policy, size_t cap);

/* The endorsement policy text for a transaction type, with the involved orgs filled in from the
 * JSON payload. Returns LEDGER_VALID, LEDGER_UNKNOWN_TX_TYPE or LEDGER_BAD_PAYLOAD. */
int ledger_policy_for(const txcodec_tx_t *tx, char *policy, size_t cap);

/* ---- validation ------------------------------------------------------------------------ */
/* A transaction decoded ahead of validation (ledger_block_msg_t.pre). */
typedef struct ledger_pretx {
    int ok;             /* the envelope and its transaction decoded (else BAD_PAYLOAD) */
    txcodec_tx_t tx;    /* when ok (the caller's: txcodec_tx_free) */
    const uint8_t *etx; /* the envelope's transaction bytes (the endorsed message) */
    size_t etx_len;
    size_t n_end;
    const ledger_endorsement_t *end; /* n_end, the caller's */
    int code;                        /* ledger_tx_precheck's result, or -1 */
} ledger_pretx_t;

/* Everything validation checks of one transaction that depends only on it and the config in
 * force (policy text, write-set keys, creator, endorsement policy; sig_ok as in
 * ledger_block_msg_t), not on the world state: LEDGER_VALID when those pass (MVCC and the
 * duplicate check remain), else the code. -1 for a config.update (its checks depend on the
 * config it creates). Thread-safe: cfg is only read. */
int ledger_tx_precheck(const txcodec_tx_t *tx, const uint8_t *etx, size_t etx_len,
                       const ledger_endorsement_t *end, size_t n_end, const uint64_t *sig_ok,
                       const ledger_config_t *cfg);

typedef struct ledger_tx_result {
    int code;
    uint8_t tx_id[32];
    uint8_t leaf[32];
    char type[TXCODEC_MAX_TYPE + 1];
    char creator[TXCODEC_MAX_ORG + 1];
} ledger_tx_result_t;

typedef struct ledger_block_result {
    ledger_header_t hdr;
    uint8_t header_hash[32];
    size_t n;
    ledger_tx_result_t *tx; /* n */
    /* the effective writes of the valid txs, in order (key, value, deleted, version) */
    size_t n_writes;
    struct ledger_eff_write {
        const uint8_t *key;
        size_t key_len;
        const uint8_t *value;
        size_t value_len;
        int is_delete;
        uint32_t position;
    } * writes;
    int config_changed;
    /* decoded transactions (the writes point into them) */
    txcodec_tx_t *decoded;
    int *decoded_ok;
} ledger_block_result_t;

/* Validates the ordered block `m` against cfg (updated in place by valid config txs),
 * versions (current version of at least every key the block reads; updated with the block's
 * writes) and seen_txids (tx ids already on the chain, 32-byte keys; updated). prev_hash and
 * first_log_index come from the chain. */
int ledger_validate_block(const ledger_block_msg_t *m, const uint8_t prev_hash[32],
                          uint64_t first_log_index, ledger_config_t *cfg, ledger_kvmap_t *versions,
                          ledger_kvmap_t *seen_txids, ledger_block_result_t *out, err_t *e);
void ledger_block_result_free(ledger_block_result_t *r);

#endif
