/* checkpoint: see checkpoint.h. */
#include "lib/ledger/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#define EM_DASH "\xe2\x80\x94"
#define EM_DASH_LEN 3

static int checkpoint_sodium_(err_t *e) {
    if (sodium_init() < 0) return err_set(e, 500, "internal", "", "libsodium failed to start");
    return 0;
}

static int checkpoint_bad_(err_t *e, const char *field, const char *what) {
    return err_set(e, 422, "invalid_note", field, "malformed checkpoint note: %s", what);
}

/* Decodes one UTF-8 sequence at s[0..len); returns its length (>0) and the code point, or 0 if
 * invalid (overlong, surrogate, > U+10FFFF, truncated). */
static size_t utf8_next_(const unsigned char *s, size_t len, uint32_t *cp) {
    if (len == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if ((c & 0xe0) == 0xc0) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return n;
}

static int is_unicode_space_(uint32_t c) {
    return c == 0x20 || (c >= 0x09 && c <= 0x0d) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* Valid UTF-8 without ASCII control characters (below U+0020; newline only if allow_nl). */
static int text_ok_(const char *s, size_t len, int allow_nl) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_next_(p + i, len - i, &cp);
        if (n == 0) return 0;
        if (cp < 0x20 && !(allow_nl && cp == '\n')) return 0;
        i += n;
    }
    return 1;
}

/* Key names: non-empty, <= MAX_NAME bytes, valid UTF-8, no control chars, no Unicode spaces,
 * no '+'. */
static int name_ok_(const char *s, size_t len) {
    if (len == 0 || len > CHECKPOINT_MAX_NAME) return 0;
    if (!text_ok_(s, len, 0)) return 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_next_(p + i, len - i, &cp);
        if (cp == '+' || is_unicode_space_(cp)) return 0;
        i += n;
    }
    return 1;
}

/* Strict standard base64: padded, canonical (unused bits zero), nothing else accepted. */
static int b64_decode_(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_len) {
    const char *end = NULL;
    size_t n = 0;
    if (len == 0 || len % 4) return -1;
    if (sodium_base642bin(out, cap, s, len, NULL, &n, &end, sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    if (end != s + len) return -1;
    /* re-encode to be sure the text was canonical */
    size_t elen = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *re = malloc(elen);
    if (!re) return -1;
    sodium_bin2base64(re, elen, out, n, sodium_base64_VARIANT_ORIGINAL);
    int ok = strlen(re) == len && memcmp(re, s, len) == 0;
    free(re);
    if (!ok) return -1;
    *out_len = n;
    return 0;
}

int checkpoint_key_id(const char *name, const uint8_t pk[CHECKPOINT_PK_LEN], uint32_t *key_id,
                      err_t *e) {
    if (!name || !pk || !key_id) return err_set(e, 500, "internal", "name", "missing argument");
    size_t nl = strlen(name);
    if (!name_ok_(name, nl))
        return err_invalid(e, "name", "key name must be 1-%d bytes of UTF-8 without spaces or '+'",
                           CHECKPOINT_MAX_NAME);
    uint8_t buf[CHECKPOINT_MAX_NAME + 2 + CHECKPOINT_PK_LEN], h[32];
    unsigned int hl = 0;
    memcpy(buf, name, nl);
    buf[nl] = 0x0a;
    buf[nl + 1] = 0x01; /* signature type: Ed25519 */
    memcpy(buf + nl + 2, pk, CHECKPOINT_PK_LEN);
    if (EVP_Digest(buf, nl + 2 + CHECKPOINT_PK_LEN, h, &hl, EVP_sha256(), NULL) != 1 || hl != 32)
        return err_set(e, 500, "internal", "", "SHA-256 failed");
    *key_id = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | (uint32_t)h[3];
    return 0;
}

int checkpoint_verifier_init(checkpoint_verifier_t *v, const char *name,
                             const uint8_t pk[CHECKPOINT_PK_LEN], err_t *e) {
    if (!v) return err_set(e, 500, "internal", "verifier", "missing argument");
    memset(v, 0, sizeof *v);
    if (checkpoint_key_id(name, pk, &v->key_id, e) != 0) return -1;
    snprintf(v->name, sizeof v->name, "%s", name);
    memcpy(v->pk, pk, CHECKPOINT_PK_LEN);
    return 0;
}

int checkpoint_signer_init(checkpoint_signer_t *s, const char *name,
                           const uint8_t sk[CHECKPOINT_SK_LEN], err_t *e) {
    if (!s || !sk) return err_set(e, 500, "internal", "signer", "missing argument");
    if (checkpoint_sodium_(e) != 0) return -1;
    memset(s, 0, sizeof *s);
    /* derive the key pair from the seed half: the public half of sk must match it */
    uint8_t seed[crypto_sign_SEEDBYTES], sk2[crypto_sign_SECRETKEYBYTES];
    int bad = crypto_sign_ed25519_sk_to_seed(seed, sk) != 0 ||
              crypto_sign_seed_keypair(s->pk, sk2, seed) != 0 ||
              sodium_memcmp(sk2, sk, crypto_sign_SECRETKEYBYTES) != 0;
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk2, sizeof sk2);
    if (bad) {
        sodium_memzero(s, sizeof *s);
        return err_invalid(e, "sk", "not a consistent Ed25519 secret key");
    }
    if (checkpoint_key_id(name, s->pk, &s->key_id, e) != 0) return -1;
    snprintf(s->name, sizeof s->name, "%s", name);
    memcpy(s->sk, sk, CHECKPOINT_SK_LEN);
    return 0;
}

void checkpoint_signer_wipe(checkpoint_signer_t *s) {
    if (s) sodium_memzero(s, sizeof *s);
}

/* ---------- body ---------- */

/* Parses a checkpoint body (text ending in '\n'). Extension lines are copied NUL-terminated
 * into a malloc'ed *ext_buf (NULL if none) that cp->ext points into. */
static int body_parse_(const char *text, size_t len, checkpoint_t *cp, char **ext_buf, err_t *e) {
    memset(cp, 0, sizeof *cp);
    *ext_buf = NULL;
    if (len == 0 || text[len - 1] != '\n')
        return checkpoint_bad_(e, "body", "text must end in a newline");
    if (!text_ok_(text, len, 1)) return checkpoint_bad_(e, "body", "text is not clean UTF-8");
    const char *lines[3 + CHECKPOINT_MAX_EXT];
    size_t lens[3 + CHECKPOINT_MAX_EXT], nlines = 0, pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t l = (size_t)(nl - (text + pos));
        if (l == 0) return checkpoint_bad_(e, "body", "empty line in checkpoint body");
        if (nlines == 3 + CHECKPOINT_MAX_EXT)
            return checkpoint_bad_(e, "body", "too many extension lines");
        lines[nlines] = text + pos;
        lens[nlines++] = l;
        pos += l + 1;
    }
    if (nlines < 3)
        return checkpoint_bad_(e, "body", "checkpoint body needs origin, size and root lines");
    /* origin */
    if (lens[0] > CHECKPOINT_MAX_NAME) return checkpoint_bad_(e, "origin", "origin too long");
    memcpy(cp->origin, lines[0], lens[0]);
    cp->origin[lens[0]] = 0;
    /* size: decimal, no leading zeros, fits uint64 */
    if (lens[1] > 20 || (lens[1] > 1 && lines[1][0] == '0'))
        return checkpoint_bad_(e, "size", "tree size is not canonical decimal");
    uint64_t v = 0;
    for (size_t i = 0; i < lens[1]; i++) {
        char c = lines[1][i];
        if (c < '0' || c > '9') return checkpoint_bad_(e, "size", "tree size is not decimal");
        uint64_t d = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - d) / 10) return checkpoint_bad_(e, "size", "tree size too large");
        v = v * 10 + d;
    }
    cp->size = v;
    /* root */
    uint8_t root[64];
    size_t rl = 0;
    if (b64_decode_(lines[2], lens[2], root, sizeof root, &rl) != 0 || rl != CHECKPOINT_ROOT_LEN)
        return checkpoint_bad_(e, "root", "root hash is not canonical base64 of 32 bytes");
    memcpy(cp->root, root, CHECKPOINT_ROOT_LEN);
    /* extension lines */
    size_t n_ext = nlines - 3, total = 0;
    for (size_t i = 3; i < nlines; i++) {
        if (lens[i] > CHECKPOINT_MAX_EXT_LEN)
            return checkpoint_bad_(e, "ext", "extension line too long");
        total += lens[i] + 1;
    }
    if (n_ext) {
        char *buf = malloc(total);
        if (!buf) return err_set(e, 500, "internal", "", "out of memory");
        size_t off = 0;
        for (size_t i = 3; i < nlines; i++) {
            memcpy(buf + off, lines[i], lens[i]);
            buf[off + lens[i]] = 0;
            cp->ext[i - 3] = buf + off;
            off += lens[i] + 1;
        }
        cp->n_ext = n_ext;
        *ext_buf = buf;
    }
    return 0;
}

int checkpoint_format_body(const char *origin, uint64_t size,
                           const uint8_t root[CHECKPOINT_ROOT_LEN], const char *const *ext,
                           size_t n_ext, char **out, size_t *out_len, err_t *e) {
    if (!origin || !root || !out || (n_ext && !ext))
        return err_set(e, 500, "internal", "origin", "missing argument");
    *out = NULL;
    size_t ol = strlen(origin);
    if (ol == 0 || ol > CHECKPOINT_MAX_NAME || !text_ok_(origin, ol, 0))
        return err_invalid(e, "origin",
                           "origin must be 1-%d bytes of UTF-8 without control characters",
                           CHECKPOINT_MAX_NAME);
    if (n_ext > CHECKPOINT_MAX_EXT)
        return err_invalid(e, "ext", "at most %d extension lines", CHECKPOINT_MAX_EXT);
    size_t total = ol + 1 + 21 + 45 + 1;
    for (size_t i = 0; i < n_ext; i++) {
        size_t l = ext[i] ? strlen(ext[i]) : 0;
        if (l == 0 || l > CHECKPOINT_MAX_EXT_LEN || !text_ok_(ext[i], l, 0))
            return err_invalid(e, "ext",
                               "extension line %zu must be 1-%d bytes without control characters",
                               i, CHECKPOINT_MAX_EXT_LEN);
        total += l + 1;
    }
    char *buf = malloc(total);
    if (!buf) return err_set(e, 500, "internal", "", "out of memory");
    char b64[sodium_base64_ENCODED_LEN(CHECKPOINT_ROOT_LEN, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, root, CHECKPOINT_ROOT_LEN, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(buf, total, "%s\n%llu\n%s\n", origin, (unsigned long long)size, b64);
    size_t off = (size_t)n;
    for (size_t i = 0; i < n_ext; i++) {
        size_t l = strlen(ext[i]);
        memcpy(buf + off, ext[i], l);
        buf[off + l] = '\n';
        off += l + 1;
    }
    buf[off] = 0;
    *out = buf;
    if (out_len) *out_len = off;
    return 0;
}

/* ---------- notes ---------- */

void checkpoint_note_free(checkpoint_note_t *n) {
    if (!n) return;
    free(n->text);
    free(n->ext_buf_);
    for (size_t i = 0; i < n->n_sigs; i++)
        free(n->sigs[i].sig);
    memset(n, 0, sizeof *n);
}

/* Parses one signature line (without its newline) into *sig. */
static int sig_line_parse_(const char *line, size_t len, checkpoint_sig_t *sig, err_t *e) {
    if (len < EM_DASH_LEN + 1 || memcmp(line, EM_DASH " ", EM_DASH_LEN + 1) != 0)
        return checkpoint_bad_(e, "signature",
                               "signature line must start with an em dash and a space");
    const char *name = line + EM_DASH_LEN + 1;
    const char *sp = memchr(name, ' ', len - (size_t)(name - line));
    if (!sp)
        return checkpoint_bad_(e, "signature", "signature line needs a key name and a signature");
    size_t nl = (size_t)(sp - name);
    if (!name_ok_(name, nl)) return checkpoint_bad_(e, "signature", "invalid key name");
    const char *b64 = sp + 1;
    size_t bl = len - (size_t)(b64 - line);
    uint8_t *raw = malloc(CHECKPOINT_MAX_SIG_BYTES);
    size_t rl = 0;
    if (!raw) return err_set(e, 500, "internal", "", "out of memory");
    if (bl > sodium_base64_ENCODED_LEN(CHECKPOINT_MAX_SIG_BYTES, sodium_base64_VARIANT_ORIGINAL) ||
        b64_decode_(b64, bl, raw, CHECKPOINT_MAX_SIG_BYTES, &rl) != 0 || rl < 5) {
        free(raw);
        return checkpoint_bad_(e, "signature",
                               "signature is not canonical base64 of key id + signature");
    }
    memcpy(sig->name, name, nl);
    sig->name[nl] = 0;
    sig->key_id =
        (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | (uint32_t)raw[3];
    sig->sig_len = rl - 4;
    sig->sig = malloc(sig->sig_len);
    if (!sig->sig) {
        free(raw);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    memcpy(sig->sig, raw + 4, sig->sig_len);
    free(raw);
    return 0;
}

int checkpoint_parse(const char *note, size_t len, checkpoint_note_t *out, err_t *e) {
    if (!note || !out) return err_set(e, 500, "internal", "note", "missing argument");
    memset(out, 0, sizeof *out);
    if (checkpoint_sodium_(e) != 0) return -1;
    if (len > CHECKPOINT_MAX_NOTE)
        return err_set(e, 413, "too_large", "note", "signed note larger than %d bytes",
                       CHECKPOINT_MAX_NOTE);
    if (!text_ok_(note, len, 1))
        return checkpoint_bad_(e, "note", "note is not UTF-8 without control characters");
    if (len < 2 || note[len - 1] != '\n')
        return checkpoint_bad_(e, "note", "note must end in a newline");
    /* the text ends at the last blank line */
    size_t sep = len; /* index of the blank line's newline */
    for (size_t i = len - 1; i >= 1; i--)
        if (note[i] == '\n' && note[i - 1] == '\n') {
            sep = i;
            break;
        }
    if (sep == len) return checkpoint_bad_(e, "note", "no blank line before the signatures");
    size_t text_len = sep; /* includes the newline ending the last text line */
    size_t pos = sep + 1;
    if (pos >= len) return checkpoint_bad_(e, "note", "no signature lines");
    while (pos < len) {
        const char *nl = memchr(note + pos, '\n', len - pos);
        size_t l = (size_t)(nl - (note + pos));
        if (out->n_sigs == CHECKPOINT_MAX_SIGS) {
            checkpoint_note_free(out);
            return err_set(e, 413, "too_large", "signature", "more than %d signatures",
                           CHECKPOINT_MAX_SIGS);
        }
        checkpoint_sig_t *s = &out->sigs[out->n_sigs];
        if (sig_line_parse_(note + pos, l, s, e) != 0) goto fail;
        out->n_sigs++;
        for (size_t j = 0; j + 1 < out->n_sigs; j++)
            if (out->sigs[j].key_id == s->key_id && strcmp(out->sigs[j].name, s->name) == 0) {
                checkpoint_bad_(e, "signature", "duplicate signature by the same key");
                goto fail;
            }
        pos += l + 1;
    }
    if (body_parse_(note, text_len, &out->cp, &out->ext_buf_, e) != 0) goto fail;
    out->text = malloc(text_len + 1);
    if (!out->text) {
        err_set(e, 500, "internal", "", "out of memory");
        goto fail;
    }
    memcpy(out->text, note, text_len);
    out->text[text_len] = 0;
    out->text_len = text_len;
    return 0;
fail:
    checkpoint_note_free(out);
    return -1;
}

int checkpoint_verify(const checkpoint_note_t *n, const checkpoint_verifier_t *vs, size_t n_vs,
                      int *verified, size_t *n_verified, err_t *e) {
    if (!n || !n->text || (n_vs && !vs))
        return err_set(e, 500, "internal", "note", "missing argument");
    if (checkpoint_sodium_(e) != 0) return -1;
    if (verified)
        for (size_t j = 0; j < n_vs; j++)
            verified[j] = 0;
    if (n_verified) *n_verified = 0;
    size_t count = 0;
    for (size_t i = 0; i < n->n_sigs; i++) {
        const checkpoint_sig_t *s = &n->sigs[i];
        for (size_t j = 0; j < n_vs; j++) {
            if (vs[j].key_id != s->key_id || strcmp(vs[j].name, s->name) != 0) continue;
            if (s->sig_len != crypto_sign_BYTES ||
                crypto_sign_verify_detached(s->sig, (const unsigned char *)n->text, n->text_len,
                                            vs[j].pk) != 0) {
                if (verified)
                    for (size_t k = 0; k < n_vs; k++)
                        verified[k] = 0;
                return err_set(e, 422, "invalid_signature", "signature",
                               "signature by known key %s does not verify", s->name);
            }
            if (!verified || !verified[j]) count++;
            if (verified) verified[j] = 1;
        }
    }
    if (count == 0)
        return err_set(e, 422, "invalid_signature", "signature",
                       "no signature by a known key in the note");
    if (n_verified) *n_verified = count;
    return 0;
}

int checkpoint_open(const char *note, size_t len, const checkpoint_verifier_t *vs, size_t n_vs,
                    checkpoint_note_t *out, int *verified, size_t *n_verified, err_t *e) {
    checkpoint_note_t tmp;
    if (!out) return err_set(e, 500, "internal", "note", "missing argument");
    memset(out, 0, sizeof *out);
    if (checkpoint_parse(note, len, &tmp, e) != 0) return -1;
    if (checkpoint_verify(&tmp, vs, n_vs, verified, n_verified, e) != 0) {
        checkpoint_note_free(&tmp);
        return -1;
    }
    *out = tmp;
    return 0;
}

int checkpoint_sig_line(const char *text, size_t text_len, const checkpoint_signer_t *s, char *line,
                        size_t cap, size_t *line_len, err_t *e) {
    if (!text || !s || !line) return err_set(e, 500, "internal", "note", "missing argument");
    if (checkpoint_sodium_(e) != 0) return -1;
    uint8_t raw[4 + crypto_sign_BYTES];
    raw[0] = (uint8_t)(s->key_id >> 24);
    raw[1] = (uint8_t)(s->key_id >> 16);
    raw[2] = (uint8_t)(s->key_id >> 8);
    raw[3] = (uint8_t)s->key_id;
    if (crypto_sign_detached(raw + 4, NULL, (const unsigned char *)text, text_len, s->sk) != 0)
        return err_set(e, 500, "internal", "", "Ed25519 signing failed");
    char b64[sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(line, cap, EM_DASH " %s %s\n", s->name, b64);
    if (n < 0 || (size_t)n >= cap)
        return err_set(e, 500, "internal", "line", "signature line buffer too small");
    if (line_len) *line_len = (size_t)n;
    return 0;
}

int checkpoint_sign(const char *in, size_t in_len, const checkpoint_signer_t *s, char **out,
                    size_t *out_len, err_t *e) {
    if (!in || !s || !out) return err_set(e, 500, "internal", "note", "missing argument");
    *out = NULL;
    if (checkpoint_sodium_(e) != 0) return -1;
    const char *text = in;
    size_t text_len = in_len;
    int signed_note = 0;
    checkpoint_note_t parsed;
    memset(&parsed, 0, sizeof parsed);
    for (size_t i = 1; i < in_len; i++)
        if (in[i] == '\n' && in[i - 1] == '\n') signed_note = 1;
    if (signed_note) {
        if (checkpoint_parse(in, in_len, &parsed, e) != 0) return -1;
        for (size_t i = 0; i < parsed.n_sigs; i++)
            if (parsed.sigs[i].key_id == s->key_id && strcmp(parsed.sigs[i].name, s->name) == 0) {
                checkpoint_note_free(&parsed);
                return err_set(e, 409, "conflict", "signature", "key %s already signed this note",
                               s->name);
            }
        if (parsed.n_sigs == CHECKPOINT_MAX_SIGS) {
            checkpoint_note_free(&parsed);
            return err_set(e, 413, "too_large", "signature", "note already has %d signatures",
                           CHECKPOINT_MAX_SIGS);
        }
        text = parsed.text;
        text_len = parsed.text_len;
    } else {
        checkpoint_t cp;
        char *ext_buf = NULL;
        if (in_len > CHECKPOINT_MAX_NOTE)
            return err_set(e, 413, "too_large", "note", "checkpoint body too large");
        if (body_parse_(in, in_len, &cp, &ext_buf, e) != 0) return -1;
        free(ext_buf);
    }
    char line[EM_DASH_LEN + 1 + CHECKPOINT_MAX_NAME + 1 +
              sodium_base64_ENCODED_LEN(4 + crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL) + 1];
    size_t ll = 0;
    int rc = checkpoint_sig_line(text, text_len, s, line, sizeof line, &ll, e);
    checkpoint_note_free(&parsed);
    if (rc != 0) return -1;
    size_t total = in_len + (signed_note ? 0 : 1) + ll;
    if (total > CHECKPOINT_MAX_NOTE)
        return err_set(e, 413, "too_large", "note", "signed note would exceed %d bytes",
                       CHECKPOINT_MAX_NOTE);
    char *buf = malloc(total + 1);
    if (!buf) return err_set(e, 500, "internal", "", "out of memory");
    size_t off = 0;
    memcpy(buf, in, in_len);
    off = in_len;
    if (!signed_note) buf[off++] = '\n';
    memcpy(buf + off, line, ll);
    off += ll;
    buf[off] = 0;
    *out = buf;
    if (out_len) *out_len = off;
    return 0;
}
