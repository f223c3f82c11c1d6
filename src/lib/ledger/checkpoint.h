/* checkpoint: C2SP tlog-checkpoint bodies inside C2SP signed notes, signed with Ed25519.
 * Owns the parsed note (checkpoint_note_t: a copy of the note text and the decoded signatures,
 * released with checkpoint_note_free) and nothing else; keys stay with the caller.
 *
 * Note text (the signed message) = "<origin>\n<tree size>\n<base64 root>\n" + optional
 * non-empty extension lines; then a blank line and one line per signature:
 *     "\u2014 <key name> <base64(4-byte big-endian key id || 64-byte Ed25519 signature)>\n"
 * Key id (signed-note, type 0x01 Ed25519) = SHA-256(name || 0x0A || 0x01 || pubkey)[:4].
 * Witness cosignatures are simply further signature lines of the same kind (not the timestamped
 * c2sp.org/tlog-cosignature type 0x04).
 *
 * Parsing is strict: valid UTF-8, no control characters but newline, the exact line shapes,
 * canonical base64, tree size in decimal without leading zeros, a 32-byte root, key names
 * without spaces or '+', no duplicate (name, key id), limits below. Verification follows the
 * signed-note rules: signatures whose (name, key id) match no known verifier are ignored; a
 * known one that fails rejects the whole note; at least one known signature must verify. */
#ifndef LEDGER_CHECKPOINT_H
#define LEDGER_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define CHECKPOINT_MAX_NOTE 65536     /* bytes in a whole signed note */
#define CHECKPOINT_MAX_SIGS 32        /* signature lines (the spec asks for at least 16) */
#define CHECKPOINT_MAX_NAME 255       /* bytes in a key name or an origin */
#define CHECKPOINT_MAX_EXT 16         /* extension lines */
#define CHECKPOINT_MAX_EXT_LEN 1024   /* bytes in one extension line */
#define CHECKPOINT_MAX_SIG_BYTES 8192 /* decoded signature field (key id + signature) */
#define CHECKPOINT_ROOT_LEN 32
#define CHECKPOINT_PK_LEN 32
#define CHECKPOINT_SK_LEN 64 /* libsodium Ed25519 secret key (seed || public key) */

typedef struct checkpoint {
    char origin[CHECKPOINT_MAX_NAME + 1];
    uint64_t size;
    uint8_t root[CHECKPOINT_ROOT_LEN];
    size_t n_ext;
    const char *ext[CHECKPOINT_MAX_EXT]; /* NUL-terminated, owned by the enclosing note */
} checkpoint_t;

typedef struct checkpoint_sig {
    char name[CHECKPOINT_MAX_NAME + 1];
    uint32_t key_id;
    uint8_t *sig; /* signature bytes after the key id, owned by the note */
    size_t sig_len;
} checkpoint_sig_t;

typedef struct checkpoint_note {
    char *text; /* the signed message: body with its final newline, NUL-terminated, owned */
    size_t text_len;
    checkpoint_t cp;
    size_t n_sigs;
    checkpoint_sig_t sigs[CHECKPOINT_MAX_SIGS];
    char *ext_buf_; /* storage behind cp.ext */
} checkpoint_note_t;

typedef struct checkpoint_verifier {
    char name[CHECKPOINT_MAX_NAME + 1];
    uint8_t pk[CHECKPOINT_PK_LEN];
    uint32_t key_id;
} checkpoint_verifier_t;

typedef struct checkpoint_signer {
    char name[CHECKPOINT_MAX_NAME + 1];
    uint8_t sk[CHECKPOINT_SK_LEN];
    uint8_t pk[CHECKPOINT_PK_LEN];
    uint32_t key_id;
} checkpoint_signer_t;

/* SHA-256(name || 0x0A || 0x01 || pk)[:4] as a big-endian uint32. Validates the name. */
int checkpoint_key_id(const char *name, const uint8_t pk[CHECKPOINT_PK_LEN], uint32_t *key_id,
                      err_t *e);
int checkpoint_verifier_init(checkpoint_verifier_t *v, const char *name,
                             const uint8_t pk[CHECKPOINT_PK_LEN], err_t *e);
/* sk is a libsodium Ed25519 secret key (crypto_sign_keypair); the public key is derived. */
int checkpoint_signer_init(checkpoint_signer_t *s, const char *name,
                           const uint8_t sk[CHECKPOINT_SK_LEN], err_t *e);
void checkpoint_signer_wipe(checkpoint_signer_t *s);

/* Writes the note text for (origin, size, root, extension lines) to a malloc'ed,
 * NUL-terminated *out (caller frees). ext may be NULL when n_ext == 0. */
int checkpoint_format_body(const char *origin, uint64_t size,
                           const uint8_t root[CHECKPOINT_ROOT_LEN], const char *const *ext,
                           size_t n_ext, char **out, size_t *out_len, err_t *e);

/* Signed-note layer, for any note text (not only checkpoint bodies): writes the NUL-terminated
 * signature line "\u2014 <name> <base64(key id || Ed25519(text))>\n" into line[0..cap). */
int checkpoint_sig_line(const char *text, size_t text_len, const checkpoint_signer_t *s, char *line,
                        size_t cap, size_t *line_len, err_t *e);

/* Signs `in` and returns a malloc'ed note with the new signature line appended. `in` is either
 * a bare checkpoint body (then the blank separator line is added) or an already signed note
 * (cosigning: validated strictly first; the same key may not sign twice). */
int checkpoint_sign(const char *in, size_t in_len, const checkpoint_signer_t *s, char **out,
                    size_t *out_len, err_t *e);

/* Strict parse of a signed checkpoint note; no signature is checked. On success the caller
 * owns *out and must call checkpoint_note_free; on failure *out holds nothing. */
int checkpoint_parse(const char *note, size_t len, checkpoint_note_t *out, err_t *e);
void checkpoint_note_free(checkpoint_note_t *n);

/* Checks the signatures of a parsed note against the known verifiers. verified (may be NULL)
 * receives n_vs flags: 1 for each verifier whose signature is present and valid; *n_verified
 * (may be NULL) their count. Returns -1 (422 "invalid_signature") if a known signature fails
 * or none verifies. */
int checkpoint_verify(const checkpoint_note_t *n, const checkpoint_verifier_t *vs, size_t n_vs,
                      int *verified, size_t *n_verified, err_t *e);

/* checkpoint_parse + checkpoint_verify; *out is only filled on success. */
int checkpoint_open(const char *note, size_t len, const checkpoint_verifier_t *vs, size_t n_vs,
                    checkpoint_note_t *out, int *verified, size_t *n_verified, err_t *e);

#endif
