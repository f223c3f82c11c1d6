/* engine: see engine.h. Pure code: encodings, config model, validation of one block. */
#include "services/ledger/engine.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- codes ----------------------------------------------------------------------------- */

static const struct {
    int code;
    const char *name;
} codes[] = {
    {LEDGER_VALID, "VALID"},
    {LEDGER_BAD_PAYLOAD, "BAD_PAYLOAD"},
    {LEDGER_BAD_CREATOR_SIGNATURE, "BAD_CREATOR_SIGNATURE"},
    {LEDGER_INVALID_CONFIG_TRANSACTION, "INVALID_CONFIG_TRANSACTION"},
    {LEDGER_DUPLICATE_TXID, "DUPLICATE_TXID"},
    {LEDGER_ENDORSEMENT_POLICY_FAILURE, "ENDORSEMENT_POLICY_FAILURE"},
    {LEDGER_MVCC_READ_CONFLICT, "MVCC_READ_CONFLICT"},
    {LEDGER_UNKNOWN_TX_TYPE, "UNKNOWN_TX_TYPE"},
    {LEDGER_ILLEGAL_WRITESET, "ILLEGAL_WRITESET"},
};

const char *ledger_code_name(int code) {
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code) return codes[i].name;
    return "INVALID_OTHER_REASON";
}

int ledger_code_from_name(const char *name) {
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(codes[i].name, name) == 0) return codes[i].code;
    return -1;
}

/* ---- bytes ----------------------------------------------------------------------------- */

void ledger_buf_put(ledger_buf_t *b, const void *d, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, d, n);
    b->len += n;
}
void ledger_buf_u8(ledger_buf_t *b, uint8_t v) {
    ledger_buf_put(b, &v, 1);
}
void ledger_buf_u32(ledger_buf_t *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    ledger_buf_put(b, x, 4);
}
void ledger_buf_u64(ledger_buf_t *b, uint64_t v) {
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (56 - 8 * i));
    ledger_buf_put(b, x, 8);
}
void ledger_buf_varint(ledger_buf_t *b, uint64_t v) {
    uint8_t x[10];
    size_t n = 0;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        x[n++] = (uint8_t)(c | (v ? 0x80 : 0));
    } while (v);
    ledger_buf_put(b, x, n);
}
void ledger_buf_bytes(ledger_buf_t *b, const void *d, size_t n) {
    ledger_buf_varint(b, n);
    ledger_buf_put(b, d, n);
}
void ledger_buf_free(ledger_buf_t *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

typedef struct rd {
    const uint8_t *p;
    size_t len, off;
    int bad;
} rd_t;

static const uint8_t *rd_take(rd_t *r, size_t n) {
    if (r->bad || n > r->len - r->off) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}
static uint64_t rd_u64(rd_t *r) {
    const uint8_t *p = rd_take(r, 8);
    uint64_t v = 0;
    if (!p) return 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}
static uint8_t rd_u8(rd_t *r) {
    const uint8_t *p = rd_take(r, 1);
    return p ? *p : 0;
}
static uint64_t rd_varint(rd_t *r) {
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        const uint8_t *p = rd_take(r, 1);
        if (!p) return 0;
        if (i == 9 && *p > 1) break;
        v |= (uint64_t)(*p & 0x7f) << (7 * i);
        if (!(*p & 0x80)) {
            if (i > 0 && *p == 0) break; /* not shortest */
            return v;
        }
    }
    r->bad = 1;
    return 0;
}

void ledger_hex(const uint8_t *d, size_t n, char *out) {
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int ledger_unhex(const char *s, uint8_t *out, size_t n) {
    if (!s || strlen(s) != 2 * n) return -1;
    for (size_t i = 0; i < n; i++) {
        int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);
        if (a < 0 || b < 0) return -1;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return 0;
}

void ledger_checkpoint_block_line(uint64_t number, const uint8_t header_hash[32],
                                  char out[LEDGER_BLOCK_LINE_MAX]) {
    char hx[65];
    ledger_hex(header_hash, 32, hx);
    snprintf(out, LEDGER_BLOCK_LINE_MAX, "block %" PRIu64 " %s", number, hx);
}

int ledger_checkpoint_block_parse(const char *line, uint64_t *number, uint8_t header_hash[32]) {
    if (!line || strncmp(line, "block ", 6) != 0) return 0;
    const char *p = line + 6;
    uint64_t n = 0;
    size_t digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) return 0;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (digits == 0 || (digits > 1 && line[6] == '0') || *p != ' ') return 0;
    p++;
    for (size_t i = 0; i < 64; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return 0;
    if (p[64] != 0 || ledger_unhex(p, header_hash, 32) != 0) return 0;
    *number = n;
    return 1;
}

uint64_t ledger_version(uint64_t block, uint32_t position) {
    return (block << 24) + position + 1;
}

static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha_md;

static void sha_init(void) {
    sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* SHA256() fetches the implementation on every call (OpenSSL 3): fetched once here. */
void ledger_sha256(const void *d, size_t n, uint8_t out[32]) {
    pthread_once(&sha_once, sha_init);
    if (!sha_md || EVP_Digest(d, n, out, NULL, sha_md, NULL) != 1) SHA256(d, n, out);
}

/* ---- envelopes ------------------------------------------------------------------------- */

static int end_cmp(const void *a, const void *b) {
    return memcmp(((const ledger_endorsement_t *)a)->pk, ((const ledger_endorsement_t *)b)->pk, 32);
}

int ledger_envelope_encode(const uint8_t *tx, size_t tx_len, ledger_endorsement_t *end,
                           size_t n_end, uint8_t **out, size_t *out_len, err_t *e) {
    *out = NULL;
    if (n_end < 1 || n_end > LEDGER_MAX_ENDORSEMENTS)
        return err_invalid(e, "endorsements", "1 to %d endorsements needed",
                           LEDGER_MAX_ENDORSEMENTS);
    if (!tx || tx_len == 0 || tx_len > TXCODEC_MAX_ENCODED)
        return err_invalid(e, "tx", "transaction missing or too large");
    qsort(end, n_end, sizeof *end, end_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n_end; i++) {
        if (k > 0 && memcmp(end[k - 1].pk, end[i].pk, 32) == 0) {
            if (memcmp(end[k - 1].sig, end[i].sig, 64) != 0)
                return err_invalid(e, "endorsements", "two different signatures by the same key");
            continue;
        }
        end[k++] = end[i];
    }
    ledger_buf_t b = {0};
    ledger_buf_u8(&b, 1);
    ledger_buf_bytes(&b, tx, tx_len);
    ledger_buf_varint(&b, k);
    for (size_t i = 0; i < k; i++) {
        ledger_buf_put(&b, end[i].pk, 32);
        ledger_buf_put(&b, end[i].sig, 64);
    }
    if (b.oom) {
        ledger_buf_free(&b);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}

int ledger_envelope_decode(const uint8_t *buf, size_t len, ledger_envelope_t *env, err_t *e) {
    rd_t r = {buf, len, 0, 0};
    memset(env, 0, sizeof *env);
    if (rd_u8(&r) != 1) return err_set(e, 422, "bad_envelope", "", "unknown envelope version");
    uint64_t tl = rd_varint(&r);
    if (r.bad || tl == 0 || tl > TXCODEC_MAX_ENCODED)
        return err_set(e, 422, "bad_envelope", "", "bad transaction length");
    env->tx = rd_take(&r, (size_t)tl);
    env->tx_len = (size_t)tl;
    uint64_t n = rd_varint(&r);
    if (r.bad || n < 1 || n > LEDGER_MAX_ENDORSEMENTS)
        return err_set(e, 422, "bad_envelope", "", "bad endorsement count");
    for (size_t i = 0; i < n; i++) {
        const uint8_t *pk = rd_take(&r, 32), *sig = rd_take(&r, 64);
        if (!pk || !sig) return err_set(e, 422, "bad_envelope", "", "truncated endorsement");
        memcpy(env->end[i].pk, pk, 32);
        memcpy(env->end[i].sig, sig, 64);
        if (i > 0 && memcmp(env->end[i - 1].pk, pk, 32) >= 0)
            return err_set(e, 422, "bad_envelope", "", "endorsements not in key order");
    }
    env->n_end = (size_t)n;
    if (r.bad || r.off != len) return err_set(e, 422, "bad_envelope", "", "trailing bytes");
    return 0;
}

int ledger_envelope_tx_id(const uint8_t *buf, size_t len, uint8_t id[32]) {
    ledger_envelope_t env;
    txcodec_tx_t tx;
    err_t e = {0};
    if (ledger_envelope_decode(buf, len, &env, &e) != 0) return 0;
    if (txcodec_decode(env.tx, env.tx_len, &tx, &e) != 0) return 0;
    memcpy(id, tx.tx_id, 32);
    txcodec_tx_free(&tx);
    return 1;
}

static int endorse_msg(const uint8_t *tx, size_t tx_len, uint8_t **msg, size_t *mlen) {
    size_t pl = strlen(LEDGER_ENDORSE_PREFIX);
    *msg = malloc(pl + tx_len);
    if (!*msg) return -1;
    memcpy(*msg, LEDGER_ENDORSE_PREFIX, pl);
    memcpy(*msg + pl, tx, tx_len);
    *mlen = pl + tx_len;
    return 0;
}

int ledger_endorse(const uint8_t *tx, size_t tx_len, const uint8_t sk[64],
                   ledger_endorsement_t *out) {
    uint8_t *msg;
    size_t ml;
    if (endorse_msg(tx, tx_len, &msg, &ml) != 0) return -1;
    crypto_sign_detached(out->sig, NULL, msg, ml, sk);
    crypto_sign_ed25519_sk_to_pk(out->pk, sk);
    free(msg);
    return 0;
}

int ledger_endorsement_ok(const uint8_t *tx, size_t tx_len, const ledger_endorsement_t *en) {
    uint8_t *msg;
    size_t ml;
    if (endorse_msg(tx, tx_len, &msg, &ml) != 0) return 0;
    int ok = crypto_sign_verify_detached(en->sig, msg, ml, en->pk) == 0;
    free(msg);
    return ok;
}

/* ---- block messages -------------------------------------------------------------------- */

int ledger_block_msg_encode(uint64_t number, int64_t ts, const uint8_t *const *env,
                            const size_t *env_len, size_t n, uint8_t **out, size_t *out_len,
                            err_t *e) {
    if (n < 1 || n > LEDGER_MAX_BLOCK_TXS)
        return err_set(e, 500, "internal", "", "block with %zu transactions", n);
    ledger_buf_t b = {0};
    ledger_buf_u8(&b, 1);
    ledger_buf_u64(&b, number);
    ledger_buf_u64(&b, (uint64_t)ts);
    ledger_buf_varint(&b, n);
    for (size_t i = 0; i < n; i++)
        ledger_buf_bytes(&b, env[i], env_len[i]);
    if (b.oom) {
        ledger_buf_free(&b);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}

int ledger_block_msg_decode(const uint8_t *buf, size_t len, ledger_block_msg_t *m, err_t *e) {
    rd_t r = {buf, len, 0, 0};
    memset(m, 0, sizeof *m);
    if (rd_u8(&r) != 1) return err_set(e, 422, "bad_block", "", "unknown block version");
    m->number = rd_u64(&r);
    m->timestamp_ms = (int64_t)rd_u64(&r);
    uint64_t n = rd_varint(&r);
    if (r.bad || n < 1 || n > LEDGER_MAX_BLOCK_TXS)
        return err_set(e, 422, "bad_block", "", "bad transaction count");
    m->env = calloc((size_t)n, sizeof *m->env);
    m->env_len = calloc((size_t)n, sizeof *m->env_len);
    if (!m->env || !m->env_len) {
        ledger_block_msg_free(m);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t l = rd_varint(&r);
        if (r.bad || l > LEDGER_MAX_ENVELOPE) break;
        m->env[i] = rd_take(&r, (size_t)l);
        m->env_len[i] = (size_t)l;
    }
    m->n = (size_t)n;
    if (r.bad || r.off != len) {
        ledger_block_msg_free(m);
        return err_set(e, 422, "bad_block", "", "malformed block message");
    }
    return 0;
}

void ledger_block_msg_free(ledger_block_msg_t *m) {
    free(m->env);
    free(m->env_len);
    m->env = NULL;
    m->env_len = NULL;
}

void ledger_header_hash(const ledger_header_t *h, uint8_t out[32]) {
    uint8_t buf[4 + 1 + 8 + 32 * 4 + 8 + 4 + 8];
    ledger_buf_t b = {.p = buf, .cap = sizeof buf};
    ledger_buf_put(&b, "RCLB", 4);
    ledger_buf_u8(&b, 1);
    ledger_buf_u64(&b, h->number);
    ledger_buf_put(&b, h->prev_hash, 32);
    ledger_buf_put(&b, h->data_root, 32);
    ledger_buf_put(&b, h->validation_root, 32);
    ledger_buf_put(&b, h->writeset_hash, 32);
    ledger_buf_u64(&b, (uint64_t)h->timestamp_ms);
    ledger_buf_u32(&b, h->tx_count);
    ledger_buf_u64(&b, h->first_log_index);
    SHA256(buf, b.len, out);
}

/* ---- key -> version map (ledger_kvmap) ------------------------------------------------- */

/* Open addressing (linear probing, at most 3/4 full) over slots of 24 bytes that point into
 * an arena of key bytes: no allocation per key. The offline verifier keeps one entry per
 * world-state key and per tx id of the whole chain, so this is most of its memory: ~43 bytes of
 * slot per entry on average plus the key itself (a malloc'd copy per key and a table at most
 * half full took ~110 bytes per tx id before). The arena grows in chunks (never moved: no copy
 * and no doubled peak when it grows); a chunk holds at least KV_CHUNK bytes. */
#define KV_CHUNK ((size_t)1 << 20)
typedef struct kv_ent {
    uint64_t off; /* chunk index << 32 | offset in it, plus 1; 0 = empty slot */
    uint64_t v;
    uint32_t len;
    uint32_t tag; /* the hash's high half: most probes compare no key bytes */
} kv_ent_t;
struct ledger_kvmap {
    kv_ent_t *t;
    size_t cap, n;
    uint8_t **chunk;                     /* arena chunks (owned) */
    size_t nchunk, chunkcap, used, room; /* used/room: of the last chunk */
};

static uint64_t fnv(const uint8_t *k, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

ledger_kvmap_t *ledger_kvmap_new(void) {
    ledger_kvmap_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cap = 64;
    m->t = calloc(m->cap, sizeof *m->t);
    if (!m->t) {
        free(m);
        return NULL;
    }
    return m;
}

void ledger_kvmap_free(ledger_kvmap_t *m) {
    if (!m) return;
    for (size_t i = 0; i < m->nchunk; i++)
        free(m->chunk[i]);
    free(m->chunk);
    free(m->t);
    free(m);
}

static const uint8_t *kv_key(const ledger_kvmap_t *m, const kv_ent_t *s) {
    uint64_t o = s->off - 1;
    return m->chunk[o >> 32] + (uint32_t)o;
}

static kv_ent_t *kv_slot(const ledger_kvmap_t *m, kv_ent_t *t, size_t cap, const uint8_t *key,
                         size_t len, uint64_t h) {
    size_t i = (size_t)h & (cap - 1);
    uint32_t tag = (uint32_t)(h >> 32);
    while (t[i].off &&
           !(t[i].tag == tag && t[i].len == len && memcmp(kv_key(m, &t[i]), key, len) == 0))
        i = (i + 1) & (cap - 1);
    return &t[i];
}

/* Copies the key into the arena: its off, or 0 when out of memory. */
static uint64_t kv_store(ledger_kvmap_t *m, const uint8_t *key, size_t len) {
    if (len > UINT32_MAX) return 0;
    if (!m->nchunk || m->room - m->used < len) {
        if (m->nchunk == m->chunkcap) {
            size_t nc = m->chunkcap ? m->chunkcap * 2 : 16;
            uint8_t **p = realloc(m->chunk, nc * sizeof *p);
            if (!p) return 0;
            m->chunk = p;
            m->chunkcap = nc;
        }
        size_t room = len > KV_CHUNK ? len : KV_CHUNK;
        uint8_t *c = malloc(room);
        if (!c) return 0;
        m->chunk[m->nchunk++] = c;
        m->used = 0;
        m->room = room;
    }
    uint64_t off = ((uint64_t)(m->nchunk - 1) << 32 | m->used) + 1;
    if (len) memcpy(m->chunk[m->nchunk - 1] + m->used, key, len);
    m->used += len;
    return off;
}

static int kv_grow(ledger_kvmap_t *m) {
    size_t cap = m->cap * 2;
    kv_ent_t *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->t[i].off) {
            const uint8_t *k = kv_key(m, &m->t[i]);
            *kv_slot(m, t, cap, k, m->t[i].len, fnv(k, m->t[i].len)) = m->t[i];
        }
    free(m->t);
    m->t = t;
    m->cap = cap;
    return 0;
}

uint64_t ledger_kvmap_get(const ledger_kvmap_t *m, const uint8_t *key, size_t len, int *found) {
    kv_ent_t *s = kv_slot(m, m->t, m->cap, key, len, fnv(key, len));
    if (found) *found = s->off != 0;
    return s->off ? s->v : 0;
}

size_t ledger_kvmap_bytes(const ledger_kvmap_t *m) {
    size_t b = m->cap * sizeof *m->t + m->chunkcap * sizeof *m->chunk;
    for (size_t i = 0; i + 1 < m->nchunk; i++)
        b += KV_CHUNK; /* every chunk but the last is KV_CHUNK or one larger key */
    return b + (m->nchunk ? m->room : 0);
}

int ledger_kvmap_set(ledger_kvmap_t *m, const uint8_t *key, size_t len, uint64_t v) {
    if ((m->n + 1) * 4 > m->cap * 3 && kv_grow(m) != 0) return -1;
    uint64_t h = fnv(key, len);
    kv_ent_t *s = kv_slot(m, m->t, m->cap, key, len, h);
    if (!s->off) {
        uint64_t off = kv_store(m, key, len);
        if (!off) return -1;
        *s = (kv_ent_t){.off = off, .len = (uint32_t)len, .tag = (uint32_t)(h >> 32)};
        m->n++;
    }
    s->v = v;
    return 0;
}

/* ---- config ---------------------------------------------------------------------------- */

void ledger_config_free(ledger_config_t *c) {
    free(c->orgs);
    free(c->ids);
    free(c->revoked);
    memset(c, 0, sizeof *c);
}

static int org_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > POLICY_MAX_ORG) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-'))
            return 0;
    }
    return 1;
}

int ledger_config_add_org(ledger_config_t *c, const char *org, const char *club_id,
                          const char *name) {
    if (!org_ok(org) || c->n_orgs >= LEDGER_MAX_ORGS) return -1;
    ledger_org_t *o = realloc(c->orgs, (c->n_orgs + 1) * sizeof *o);
    if (!o) return -1;
    c->orgs = o;
    o = &c->orgs[c->n_orgs++];
    memset(o, 0, sizeof *o);
    snprintf(o->org, sizeof o->org, "%s", org);
    snprintf(o->club_id, sizeof o->club_id, "%s", club_id ? club_id : "");
    snprintf(o->name, sizeof o->name, "%s", name ? name : "");
    return 0;
}

int ledger_config_add_ident(ledger_config_t *c, const uint8_t pk[32], const char *org,
                            policy_role_t role, int64_t height) {
    if (!org_ok(org) || c->n_ids >= LEDGER_MAX_IDS || ledger_config_ident(c, pk)) return -1;
    ledger_ident_t *d = realloc(c->ids, (c->n_ids + 1) * sizeof *d);
    if (!d) return -1;
    c->ids = d;
    d = &c->ids[c->n_ids++];
    memset(d, 0, sizeof *d);
    memcpy(d->pk, pk, 32);
    snprintf(d->org, sizeof d->org, "%s", org);
    d->role = role;
    d->added_height = height;
    return 0;
}

int ledger_config_add_revoked(ledger_config_t *c, const uint8_t pk[32]) {
    if (ledger_config_is_revoked(c, pk)) return 0;
    uint8_t(*r)[32] = realloc(c->revoked, (c->n_revoked + 1) * sizeof *r);
    if (!r) return -1;
    c->revoked = r;
    memcpy(c->revoked[c->n_revoked++], pk, 32);
    return 0;
}

const ledger_ident_t *ledger_config_ident(const ledger_config_t *c, const uint8_t pk[32]) {
    for (size_t i = 0; i < c->n_ids; i++)
        if (memcmp(c->ids[i].pk, pk, 32) == 0) return &c->ids[i];
    return NULL;
}

int ledger_config_is_revoked(const ledger_config_t *c, const uint8_t pk[32]) {
    for (size_t i = 0; i < c->n_revoked; i++)
        if (memcmp(c->revoked[i], pk, 32) == 0) return 1;
    return 0;
}

static int config_clone(const ledger_config_t *s, ledger_config_t *d) {
    memset(d, 0, sizeof *d);
    if (s->n_orgs && !(d->orgs = malloc(s->n_orgs * sizeof *d->orgs))) goto oom;
    if (s->n_ids && !(d->ids = malloc(s->n_ids * sizeof *d->ids))) goto oom;
    if (s->n_revoked && !(d->revoked = malloc(s->n_revoked * sizeof *d->revoked))) goto oom;
    if (s->n_orgs) memcpy(d->orgs, s->orgs, s->n_orgs * sizeof *d->orgs);
    if (s->n_ids) memcpy(d->ids, s->ids, s->n_ids * sizeof *d->ids);
    if (s->n_revoked) memcpy(d->revoked, s->revoked, s->n_revoked * sizeof *d->revoked);
    d->n_orgs = s->n_orgs;
    d->n_ids = s->n_ids;
    d->n_revoked = s->n_revoked;
    return 0;
oom:
    ledger_config_free(d);
    return -1;
}

int ledger_config_clone(const ledger_config_t *src, ledger_config_t *dst) {
    return config_clone(src, dst);
}

static void config_remove_org(ledger_config_t *c, const char *org) {
    size_t k = 0;
    for (size_t i = 0; i < c->n_orgs; i++)
        if (strcmp(c->orgs[i].org, org) != 0) c->orgs[k++] = c->orgs[i];
    c->n_orgs = k;
    k = 0;
    for (size_t i = 0; i < c->n_ids; i++)
        if (strcmp(c->ids[i].org, org) != 0) c->ids[k++] = c->ids[i];
    c->n_ids = k;
}

static int ident_cmp(const void *a, const void *b) {
    const ledger_ident_t *x = a, *y = b;
    int r = strcmp(x->org, y->org);
    return r ? r : memcmp(x->pk, y->pk, 32);
}
static int org_cmp(const void *a, const void *b) {
    return strcmp(((const ledger_org_t *)a)->org, ((const ledger_org_t *)b)->org);
}
static int rev_cmp(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

json_t *ledger_config_to_json(const ledger_config_t *c) {
    ledger_config_t s;
    if (config_clone(c, &s) != 0) return NULL;
    if (s.n_orgs) qsort(s.orgs, s.n_orgs, sizeof *s.orgs, org_cmp);
    if (s.n_ids) qsort(s.ids, s.n_ids, sizeof *s.ids, ident_cmp);
    if (s.n_revoked) qsort(s.revoked, s.n_revoked, sizeof *s.revoked, rev_cmp);
    json_t *orgs = json_array(), *rev = json_array();
    for (size_t i = 0; i < s.n_orgs; i++) {
        json_t *ids = json_array();
        for (size_t j = 0; j < s.n_ids; j++) {
            if (strcmp(s.ids[j].org, s.orgs[i].org) != 0) continue;
            char hx[65];
            ledger_hex(s.ids[j].pk, 32, hx);
            json_array_append_new(ids,
                                  json_pack("{s:s,s:s,s:I}", "public_key", hx, "role",
                                            s.ids[j].role == POLICY_ROLE_ADMIN ? "admin" : "member",
                                            "added_height", (json_int_t)s.ids[j].added_height));
        }
        json_array_append_new(
            orgs, json_pack("{s:s,s:o,s:s,s:o}", "org", s.orgs[i].org, "club_id",
                            s.orgs[i].club_id[0] ? json_string(s.orgs[i].club_id) : json_null(),
                            "name", s.orgs[i].name, "identities", ids));
    }
    for (size_t i = 0; i < s.n_revoked; i++) {
        char hx[65];
        ledger_hex(s.revoked[i], 32, hx);
        json_array_append_new(rev, json_string(hx));
    }
    ledger_config_free(&s);
    return json_pack("{s:o,s:o}", "orgs", orgs, "revoked", rev);
}

/* Applies the writes of a config.update to cfg (a clone). 0 = ok, -1 = invalid. */
static int config_apply(ledger_config_t *cfg, const txcodec_tx_t *tx, int64_t height) {
    size_t pl = strlen(LEDGER_CONFIG_PREFIX);
    if (tx->n_writes == 0) return -1;
    for (size_t i = 0; i < tx->n_writes; i++) {
        const txcodec_write_t *w = &tx->writes[i];
        char key[TXCODEC_MAX_KEY + 1];
        if (w->key_len > TXCODEC_MAX_KEY || memchr(w->key, 0, w->key_len)) return -1;
        memcpy(key, w->key, w->key_len);
        key[w->key_len] = 0;
        if (strncmp(key, LEDGER_CONFIG_PREFIX, pl) != 0) return -1;
        const char *rest = key + pl;
        if (strncmp(rest, "org/", 4) == 0) {
            const char *org = rest + 4;
            if (!org_ok(org)) return -1;
            config_remove_org(cfg, org);
            if (w->is_delete) continue;
            json_error_t je;
            json_t *v =
                json_loadb((const char *)w->value, w->value_len, JSON_REJECT_DUPLICATES, &je);
            json_t *club = json_object_get(v, "club_id"), *name = json_object_get(v, "name"),
                   *ids = json_object_get(v, "identities");
            int ok = json_is_object(v) && (!club || json_is_null(club) || json_is_string(club)) &&
                     (!name || json_is_string(name)) && json_is_array(ids) &&
                     json_array_size(ids) >= 1 && json_array_size(ids) <= 64 &&
                     (!club || json_is_null(club) || strlen(json_string_value(club)) < 40) &&
                     (!name || strlen(json_string_value(name)) <= 200);
            if (ok)
                ok = ledger_config_add_org(cfg, org, json_string_value(club),
                                           json_string_value(name)) == 0;
            for (size_t j = 0; ok && j < json_array_size(ids); j++) {
                json_t *id = json_array_get(ids, j);
                const char *pkh = json_string_value(json_object_get(id, "public_key"));
                const char *role = json_string_value(json_object_get(id, "role"));
                uint8_t pk[32];
                policy_role_t r = role && strcmp(role, "admin") == 0    ? POLICY_ROLE_ADMIN
                                  : role && strcmp(role, "member") == 0 ? POLICY_ROLE_MEMBER
                                                                        : 0;
                ok = r != 0 && ledger_unhex(pkh, pk, 32) == 0 &&
                     !ledger_config_is_revoked(cfg, pk) &&
                     ledger_config_add_ident(cfg, pk, org, r, height) == 0;
            }
            json_decref(v);
            if (!ok) return -1;
        } else if (strncmp(rest, "revoke/", 7) == 0) {
            uint8_t pk[32];
            if (w->is_delete || ledger_unhex(rest + 7, pk, 32) != 0) return -1;
            if (ledger_config_add_revoked(cfg, pk) != 0) return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* ---- policies per type ----------------------------------------------------------------- */

static int pol_add(char *p, size_t cap, size_t *len, const char *s) {
    size_t n = strlen(s);
    if (*len + n + 1 > cap) return -1;
    memcpy(p + *len, s, n + 1);
    *len += n;
    return 0;
}

int ledger_policy_for(const txcodec_tx_t *tx, char *policy, size_t cap) {
    size_t len = 0;
    policy[0] = 0;
    if (strcmp(tx->type, "config.update") == 0) {
        snprintf(policy, cap, "'%s.admin'", LEDGER_NETWORK_ORG);
        return LEDGER_VALID;
    }
    if (strcmp(tx->type, "data.put") == 0) {
        snprintf(policy, cap, "'%s.member'", tx->creator_org);
        return LEDGER_VALID;
    }
    /* governance records written by the network (issue 15; docs/governance.md "Ledger
     * records"); the votes are governance.vote_cast below, endorsed by the voter */
    if (strcmp(tx->type, "governance.proposal") == 0 ||
        strcmp(tx->type, "governance.eligible_snapshot") == 0 ||
        strcmp(tx->type, "governance.result") == 0) {
        snprintf(policy, cap, "'%s.member'", LEDGER_NETWORK_ORG);
        return LEDGER_VALID;
    }
    const char *orgs[16];
    size_t n = 0;
    const char *role = "member";
    json_t *p =
        json_loadb((const char *)tx->payload, tx->payload_len, JSON_REJECT_DUPLICATES, NULL);
    int code = LEDGER_VALID;
    if (strcmp(tx->type, "visit.verified") == 0) {
        orgs[n++] = json_string_value(json_object_get(p, "host"));
        orgs[n++] = json_string_value(json_object_get(p, "home"));
    } else if (strcmp(tx->type, "agreement.activated") == 0) {
        json_t *a = json_object_get(p, "clubs");
        role = "admin";
        if (!json_is_array(a) || json_array_size(a) < 2 || json_array_size(a) > 16)
            code = LEDGER_BAD_PAYLOAD;
        for (size_t i = 0; code == LEDGER_VALID && i < json_array_size(a); i++)
            orgs[n++] = json_string_value(json_array_get(a, i));
    } else if (strcmp(tx->type, "statement.accepted") == 0) {
        /* a settlement statement's hash, endorsed by the admins of its two clubs (issue 12) */
        json_t *a = json_object_get(p, "clubs");
        role = "admin";
        if (!json_is_array(a) || json_array_size(a) != 2) code = LEDGER_BAD_PAYLOAD;
        for (size_t i = 0; code == LEDGER_VALID && i < 2; i++)
            orgs[n++] = json_string_value(json_array_get(a, i));
    } else if (strcmp(tx->type, "governance.vote_cast") == 0) {
        orgs[n++] = json_string_value(json_object_get(p, "voter"));
    } else {
        code = LEDGER_UNKNOWN_TX_TYPE;
    }
    for (size_t i = 0; code == LEDGER_VALID && i < n; i++)
        if (!org_ok(orgs[i])) code = LEDGER_BAD_PAYLOAD;
    if (code == LEDGER_VALID) {
        int rc = pol_add(policy, cap, &len, n == 1 ? "" : "AND(");
        for (size_t i = 0; rc == 0 && i < n; i++) {
            char one[POLICY_MAX_ORG + 16];
            snprintf(one, sizeof one, "%s'%s.%s'", i ? ", " : "", orgs[i], role);
            rc = pol_add(policy, cap, &len, one);
        }
        if (rc == 0 && n > 1) rc = pol_add(policy, cap, &len, ")");
        if (rc != 0) code = LEDGER_BAD_PAYLOAD;
    }
    json_decref(p);
    return code;
}

/* ---- config.update: MAJORITY of the admin principals ----------------------------------- */

/* Is org an org of cfg with at least one admin identity that is not revoked? */
static int org_has_admin(const ledger_config_t *cfg, const char *org) {
    for (size_t i = 0; i < cfg->n_ids; i++)
        if (cfg->ids[i].role == POLICY_ROLE_ADMIN && strcmp(cfg->ids[i].org, org) == 0 &&
            !ledger_config_is_revoked(cfg, cfg->ids[i].pk))
            return 1;
    return 0;
}

size_t ledger_config_admin_orgs(const ledger_config_t *cfg) {
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_orgs; i++)
        n += (size_t)org_has_admin(cfg, cfg->orgs[i].org);
    return n;
}

int ledger_config_update_policy(const ledger_config_t *cfg, char *policy, size_t cap) {
    ledger_config_t s;
    size_t len = 0, n = ledger_config_admin_orgs(cfg);
    if (n == 0 || config_clone(cfg, &s) != 0) return -1;
    if (s.n_orgs) qsort(s.orgs, s.n_orgs, sizeof *s.orgs, org_cmp);
    char head[40];
    snprintf(head, sizeof head, "OutOf(%zu", n / 2 + 1);
    policy[0] = 0;
    int rc = pol_add(policy, cap, &len, head);
    for (size_t i = 0; rc == 0 && i < s.n_orgs; i++) {
        if (!org_has_admin(&s, s.orgs[i].org)) continue;
        char one[POLICY_MAX_ORG + 16];
        snprintf(one, sizeof one, ", '%s.admin'", s.orgs[i].org);
        rc = pol_add(policy, cap, &len, one);
    }
    if (rc == 0) rc = pol_add(policy, cap, &len, ")");
    ledger_config_free(&s);
    return rc;
}

/* OutOf(floor(n/2)+1, 'o1.admin', ..., 'on.admin') over the n orgs of cfg that have an admin,
 * evaluated directly (the policy text can exceed POLICY_MAX_LEN for large networks): each
 * principal 'o.admin' is matched by a distinct signer, and signers of different orgs never
 * compete, so exact matching = counting the orgs with at least one admin signature. */
static int config_majority_ok(const ledger_config_t *cfg, const policy_sig_t *sigs, size_t ns) {
    size_t n = 0, got = 0;
    for (size_t i = 0; i < cfg->n_orgs; i++) {
        const char *org = cfg->orgs[i].org;
        if (!org_has_admin(cfg, org)) continue;
        n++;
        for (size_t j = 0; j < ns; j++)
            if (sigs[j].role == POLICY_ROLE_ADMIN && strcmp(sigs[j].org, org) == 0) {
                got++;
                break;
            }
    }
    return n > 0 && got >= n / 2 + 1;
}

/* ---- validation ------------------------------------------------------------------------ */

static int key_is_config(const uint8_t *k, size_t n) {
    size_t pl = strlen(LEDGER_CONFIG_PREFIX);
    return n >= pl && memcmp(k, LEDGER_CONFIG_PREFIX, pl) == 0;
}

/* The creator and endorsement checks of a tx against pcfg (the config in force; at genesis the
 * one the tx creates): LEDGER_VALID, BAD_CREATOR_SIGNATURE, ENDORSEMENT_POLICY_FAILURE or
 * BAD_PAYLOAD. ptext: the policy of a non-config tx. */
static int endorsed(const txcodec_tx_t *tx, const uint8_t *etx, size_t etx_len,
                    const ledger_endorsement_t *end, size_t n_end, const uint64_t *sig_ok,
                    const ledger_config_t *pcfg, int is_config, const char *ptext) {
    /* creator: a current identity of its org, not revoked, that endorsed */
    const ledger_ident_t *cid = ledger_config_ident(pcfg, tx->creator_pk);
    int creator_signed = 0;
    policy_sig_t sigs[LEDGER_MAX_ENDORSEMENTS];
    size_t ns = 0;
    for (size_t i = 0; i < n_end; i++) {
        const ledger_endorsement_t *en = &end[i];
        const ledger_ident_t *id = ledger_config_ident(pcfg, en->pk);
        if (!id || ledger_config_is_revoked(pcfg, en->pk)) continue;
        if (sig_ok ? !((*sig_ok >> i) & 1) : !ledger_endorsement_ok(etx, etx_len, en)) continue;
        if (memcmp(en->pk, tx->creator_pk, 32) == 0) creator_signed = 1;
        memset(&sigs[ns], 0, sizeof sigs[ns]);
        snprintf(sigs[ns].org, sizeof sigs[ns].org, "%s", id->org);
        sigs[ns].role = id->role;
        memcpy(sigs[ns].pk, en->pk, 32);
        ns++;
    }
    if (!cid || strcmp(cid->org, tx->creator_org) != 0 ||
        ledger_config_is_revoked(pcfg, tx->creator_pk) || !creator_signed)
        return LEDGER_BAD_CREATOR_SIGNATURE;
    int sat = 0;
    if (is_config) {
        /* MAJORITY of the admins of the config in force (at genesis: of the new config) */
        sat = config_majority_ok(pcfg, sigs, ns);
    } else {
        policy_t pol;
        err_t pe = {0};
        if (policy_parse(ptext, &pol, NULL, &pe) != 0) return LEDGER_BAD_PAYLOAD;
        if (policy_evaluate(&pol, sigs, ns, &sat, &pe) != 0) sat = 0;
        policy_free(&pol);
    }
    return sat ? LEDGER_VALID : LEDGER_ENDORSEMENT_POLICY_FAILURE;
}

/* The policy text and the write-set keys' kind (config keys only in a config.update). */
static int policy_and_keys(const txcodec_tx_t *tx, int is_config, char ptext[POLICY_MAX_LEN]) {
    int code = ledger_policy_for(tx, ptext, POLICY_MAX_LEN);
    if (code != LEDGER_VALID) return code;
    for (size_t i = 0; i < tx->n_writes; i++)
        if (key_is_config(tx->writes[i].key, tx->writes[i].key_len) != is_config)
            return is_config ? LEDGER_INVALID_CONFIG_TRANSACTION : LEDGER_ILLEGAL_WRITESET;
    return LEDGER_VALID;
}

int ledger_tx_precheck(const txcodec_tx_t *tx, const uint8_t *etx, size_t etx_len,
                       const ledger_endorsement_t *end, size_t n_end, const uint64_t *sig_ok,
                       const ledger_config_t *cfg) {
    if (strcmp(tx->type, "config.update") == 0) return -1;
    char ptext[POLICY_MAX_LEN];
    int code = policy_and_keys(tx, 0, ptext);
    return code != LEDGER_VALID ? code
                                : endorsed(tx, etx, etx_len, end, n_end, sig_ok, cfg, 0, ptext);
}

/* Validates one decoded tx (everything but duplicates); may replace *cfg on a valid config tx.
 * pre: ledger_tx_precheck's code against cfg, or -1 to check here. */
static int validate_tx(const txcodec_tx_t *tx, const uint8_t *etx, size_t etx_len,
                       const ledger_endorsement_t *end, size_t n_end, const uint64_t *sig_ok,
                       int pre, const uint8_t *mvcc, uint64_t block, ledger_config_t *cfg,
                       ledger_kvmap_t *versions, int *config_changed) {
    int is_config = strcmp(tx->type, "config.update") == 0;
    ledger_config_t next = {0};
    int code;
    if (!is_config && pre >= 0) {
        code = pre;
    } else {
        char ptext[POLICY_MAX_LEN];
        code = policy_and_keys(tx, is_config, ptext);
        if (code != LEDGER_VALID) return code;
        const ledger_config_t *pcfg = cfg;
        if (is_config) {
            if (config_clone(cfg, &next) != 0) return LEDGER_INVALID_CONFIG_TRANSACTION;
            if (config_apply(&next, tx, (int64_t)block) != 0) {
                ledger_config_free(&next);
                return LEDGER_INVALID_CONFIG_TRANSACTION;
            }
            if (cfg->n_orgs == 0) pcfg = &next; /* genesis: self-endorsed by the new admin */
        }
        code = endorsed(tx, etx, etx_len, end, n_end, sig_ok, pcfg, is_config, ptext);
    }
    if (code != LEDGER_VALID) goto done;
    if (mvcc && *mvcc) {
        code = LEDGER_MVCC_READ_CONFLICT;
        goto done;
    }
    for (size_t i = 0; !mvcc && i < tx->n_reads; i++)
        if (ledger_kvmap_get(versions, tx->reads[i].key, tx->reads[i].key_len, NULL) !=
            tx->reads[i].version) {
            code = LEDGER_MVCC_READ_CONFLICT;
            goto done;
        }
    if (is_config) {
        ledger_config_free(cfg);
        *cfg = next;
        memset(&next, 0, sizeof next);
        *config_changed = 1;
    }
done:
    ledger_config_free(&next);
    return code;
}

int ledger_validate_block(const ledger_block_msg_t *m, const uint8_t prev_hash[32],
                          uint64_t first_log_index, ledger_config_t *cfg, ledger_kvmap_t *versions,
                          ledger_kvmap_t *seen_txids, ledger_block_result_t *out, err_t *e) {
    memset(out, 0, sizeof *out);
    size_t n = m->n;
    out->n = n;
    out->tx = calloc(n, sizeof *out->tx);
    out->decoded = calloc(n, sizeof *out->decoded);
    out->decoded_ok = calloc(n, sizeof *out->decoded_ok);
    merkle_hash_t *leaves = calloc(n, sizeof *leaves);
    uint8_t *vcodes = malloc(n);
    ledger_buf_t ws = {0};
    size_t wcap = 0;
    if (!out->tx || !out->decoded || !out->decoded_ok || !leaves || !vcodes) goto oom;
    for (size_t i = 0; i < n; i++) {
        ledger_tx_result_t *r = &out->tx[i];
        ledger_envelope_t env;
        err_t de = {0};
        if (m->leaf)
            memcpy(r->leaf, m->leaf[i], 32);
        else
            merkle_leaf_hash(m->env[i], m->env_len[i], r->leaf, &de);
        memcpy(leaves[i], r->leaf, 32);
        const ledger_pretx_t *pre = m->pre ? &m->pre[i] : NULL;
        if (pre ? !pre->ok
                : ledger_envelope_decode(m->env[i], m->env_len[i], &env, &de) != 0 ||
                      txcodec_decode(env.tx, env.tx_len, &out->decoded[i], &de) != 0) {
            r->code = LEDGER_BAD_PAYLOAD;
            ledger_sha256(m->env[i], m->env_len[i], r->tx_id);
            snprintf(r->type, sizeof r->type, "?");
            snprintf(r->creator, sizeof r->creator, "?");
            vcodes[i] = (uint8_t)r->code;
            continue;
        }
        out->decoded_ok[i] = !pre; /* a pre-decoded tx stays the caller's */
        const txcodec_tx_t *tx = pre ? &pre->tx : &out->decoded[i];
        memcpy(r->tx_id, tx->tx_id, 32);
        snprintf(r->type, sizeof r->type, "%s", tx->type);
        snprintf(r->creator, sizeof r->creator, "%s", tx->creator_org);
        int seen = 0;
        if (m->dup)
            seen = m->dup[i];
        else
            ledger_kvmap_get(seen_txids, tx->tx_id, 32, &seen);
        if (seen) {
            r->code = LEDGER_DUPLICATE_TXID;
        } else {
            if (!m->dup && ledger_kvmap_set(seen_txids, tx->tx_id, 32, 1) != 0) goto oom;
            int pc = pre && m->pre_codes && !out->config_changed ? pre->code : -1;
            const uint64_t *so = m->sig_ok ? &m->sig_ok[i] : NULL;
            const uint8_t *mv = m->mvcc ? &m->mvcc[i] : NULL;
            r->code = pre ? validate_tx(tx, pre->etx, pre->etx_len, pre->end, pre->n_end, so, pc,
                                        mv, m->number, cfg, versions, &out->config_changed)
                          : validate_tx(tx, env.tx, env.tx_len, env.end, env.n_end, so, -1, mv,
                                        m->number, cfg, versions, &out->config_changed);
        }
        vcodes[i] = (uint8_t)r->code;
        if (r->code != LEDGER_VALID) continue;
        uint64_t ver = ledger_version(m->number, (uint32_t)i);
        ledger_buf_u32(&ws, (uint32_t)i);
        ledger_buf_varint(&ws, tx->n_writes);
        for (size_t j = 0; j < tx->n_writes; j++) {
            const txcodec_write_t *w = &tx->writes[j];
            ledger_buf_bytes(&ws, w->key, w->key_len);
            ledger_buf_u8(&ws, w->is_delete ? 1 : 0);
            ledger_buf_bytes(&ws, w->value, w->value_len);
            if (!m->mvcc &&
                ledger_kvmap_set(versions, w->key, w->key_len, w->is_delete ? 0 : ver) != 0)
                goto oom;
            if (out->n_writes == wcap) {
                size_t nc = wcap ? wcap * 2 : 64;
                void *p = realloc(out->writes, nc * sizeof *out->writes);
                if (!p) goto oom;
                out->writes = p;
                wcap = nc;
            }
            out->writes[out->n_writes++] = (struct ledger_eff_write){
                w->key, w->key_len, w->value, w->value_len, w->is_delete, (uint32_t)i};
        }
    }
    if (ws.oom) goto oom;
    ledger_header_t *h = &out->hdr;
    h->number = m->number;
    memcpy(h->prev_hash, prev_hash, 32);
    if (m->data_root)
        memcpy(h->data_root, m->data_root, 32);
    else if (merkle_root((const merkle_hash_t *)leaves, n, h->data_root, e) != 0)
        goto fail;
    ledger_sha256(vcodes, n, h->validation_root);
    ledger_sha256(ws.p ? ws.p : (const uint8_t *)"", ws.len, h->writeset_hash);
    h->timestamp_ms = m->timestamp_ms;
    h->tx_count = (uint32_t)n;
    h->first_log_index = first_log_index;
    ledger_header_hash(h, out->header_hash);
    free(leaves);
    free(vcodes);
    ledger_buf_free(&ws);
    return 0;
oom:
    err_set(e, 500, "internal", "", "out of memory");
fail:
    free(leaves);
    free(vcodes);
    ledger_buf_free(&ws);
    ledger_block_result_free(out);
    return -1;
}

void ledger_block_result_free(ledger_block_result_t *r) {
    if (r->decoded)
        for (size_t i = 0; i < r->n; i++)
            if (r->decoded_ok && r->decoded_ok[i]) txcodec_tx_free(&r->decoded[i]);
    free(r->decoded);
    free(r->decoded_ok);
    free(r->tx);
    free(r->writes);
    memset(r, 0, sizeof *r);
}
