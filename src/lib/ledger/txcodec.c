/* txcodec: see txcodec.h. */
#include "lib/ledger/txcodec.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

static int bad_(err_t *e, const char *field, const char *what) {
    return err_set(e, 400, "invalid_transaction", field, "invalid transaction: %s", what);
}

static int type_ok_(const char *s) {
    size_t n = strnlen(s, TXCODEC_MAX_TYPE + 1);
    if (n == 0 || n > TXCODEC_MAX_TYPE) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int org_ok_(const char *s) {
    size_t n = strnlen(s, TXCODEC_MAX_ORG + 1);
    if (n == 0 || n > TXCODEC_MAX_ORG) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static int key_cmp_(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return al < bl ? -1 : al > bl;
}

/* ---------- writer ---------- */

typedef struct wbuf {
    uint8_t *b;
    size_t len, cap;
    int fail;
} wbuf_t;

static void put_(wbuf_t *w, const void *p, size_t n) {
    if (w->fail) return;
    if (n > TXCODEC_MAX_ENCODED - w->len) {
        w->fail = 2;
        return;
    }
    if (w->len + n > w->cap) {
        size_t nc = w->cap ? w->cap : 256;
        while (nc < w->len + n)
            nc *= 2;
        uint8_t *nb = realloc(w->b, nc);
        if (!nb) {
            w->fail = 1;
            return;
        }
        w->b = nb;
        w->cap = nc;
    }
    if (n) memcpy(w->b + w->len, p, n);
    w->len += n;
}

static size_t varint_(uint64_t v, uint8_t out[10]) {
    size_t n = 0;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        out[n++] = c | (v ? 0x80 : 0);
    } while (v);
    return n;
}

static void put_varint_(wbuf_t *w, uint64_t v) {
    uint8_t b[10];
    put_(w, b, varint_(v, b));
}

static void put_bytes_(wbuf_t *w, const void *p, size_t n) {
    put_varint_(w, n);
    put_(w, p, n);
}

/* ---------- id, validation ---------- */

static pthread_once_t sha_once_ = PTHREAD_ONCE_INIT;
static EVP_MD *sha_md_;

static void sha_init_(void) {
    sha_md_ = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* SHA-256 fetched once (EVP_sha256() makes EVP_Digest look the implementation up per call). */
static const EVP_MD *sha256_md_(void) {
    pthread_once(&sha_once_, sha_init_);
    return sha_md_ ? sha_md_ : EVP_sha256();
}

int txcodec_compute_id(const txcodec_tx_t *tx, uint8_t out[TXCODEC_ID_LEN], err_t *e) {
    if (!tx || !out) return bad_(e, "tx", "missing argument");
    if (!org_ok_(tx->creator_org))
        return bad_(e, "creator_org", "creator org must be 1-64 of [A-Za-z0-9.-]");
    if (tx->nonce_len < TXCODEC_MIN_NONCE || tx->nonce_len > TXCODEC_MAX_NONCE)
        return bad_(e, "nonce", "nonce must be 8-64 bytes");
    uint8_t buf[10 + TXCODEC_MAX_ORG + TXCODEC_PK_LEN + TXCODEC_MAX_NONCE];
    size_t ol = strlen(tx->creator_org);
    size_t n = varint_(ol, buf);
    memcpy(buf + n, tx->creator_org, ol);
    n += ol;
    memcpy(buf + n, tx->creator_pk, TXCODEC_PK_LEN);
    n += TXCODEC_PK_LEN;
    memcpy(buf + n, tx->nonce, tx->nonce_len);
    n += tx->nonce_len;
    unsigned int hl = 0;
    if (EVP_Digest(buf, n, out, &hl, sha256_md_(), NULL) != 1 || hl != TXCODEC_ID_LEN)
        return err_set(e, 500, "internal", "", "SHA-256 failed");
    return 0;
}

static int validate_(const txcodec_tx_t *tx, err_t *e) {
    if (tx->version != TXCODEC_VERSION) return bad_(e, "version", "unsupported version");
    if (!type_ok_(tx->type)) return bad_(e, "type", "type must be 1-64 of [a-z0-9._-]");
    uint8_t id[TXCODEC_ID_LEN];
    if (txcodec_compute_id(tx, id, e) != 0) return -1;
    if (CRYPTO_memcmp(id, tx->tx_id, TXCODEC_ID_LEN) != 0)
        return bad_(e, "tx_id", "tx id is not SHA-256(creator || nonce)");
    if (tx->payload_len > TXCODEC_MAX_PAYLOAD) return bad_(e, "payload", "payload too large");
    if (tx->payload_len && !tx->payload) return bad_(e, "payload", "payload missing");
    if (tx->n_reads > TXCODEC_MAX_SET) return bad_(e, "reads", "read set too large");
    if (tx->n_writes > TXCODEC_MAX_SET) return bad_(e, "writes", "write set too large");
    if ((tx->n_reads && !tx->reads) || (tx->n_writes && !tx->writes))
        return bad_(e, "reads", "read or write set missing");
    for (size_t i = 0; i < tx->n_reads; i++) {
        const txcodec_read_t *r = &tx->reads[i];
        if (!r->key || r->key_len == 0 || r->key_len > TXCODEC_MAX_KEY)
            return bad_(e, "reads", "read key must be 1-256 bytes");
        if (i && key_cmp_(tx->reads[i - 1].key, tx->reads[i - 1].key_len, r->key, r->key_len) >= 0)
            return bad_(e, "reads", "read set is not sorted or has a duplicate key");
    }
    for (size_t i = 0; i < tx->n_writes; i++) {
        const txcodec_write_t *w = &tx->writes[i];
        if (!w->key || w->key_len == 0 || w->key_len > TXCODEC_MAX_KEY)
            return bad_(e, "writes", "write key must be 1-256 bytes");
        if (i &&
            key_cmp_(tx->writes[i - 1].key, tx->writes[i - 1].key_len, w->key, w->key_len) >= 0)
            return bad_(e, "writes", "write set is not sorted or has a duplicate key");
        if (w->is_delete != 0 && w->is_delete != 1) return bad_(e, "writes", "bad delete flag");
        if (w->is_delete && w->value_len) return bad_(e, "writes", "a delete carries no value");
        if (w->value_len > TXCODEC_MAX_VALUE) return bad_(e, "writes", "value too large");
        if (w->value_len && !w->value) return bad_(e, "writes", "value missing");
    }
    return 0;
}

static int read_cmp_(const void *a, const void *b) {
    const txcodec_read_t *x = a, *y = b;
    return key_cmp_(x->key, x->key_len, y->key, y->key_len);
}

static int write_cmp_(const void *a, const void *b) {
    const txcodec_write_t *x = a, *y = b;
    return key_cmp_(x->key, x->key_len, y->key, y->key_len);
}

int txcodec_sort_sets(txcodec_tx_t *tx, err_t *e) {
    if (!tx) return bad_(e, "tx", "missing argument");
    if (tx->n_reads > TXCODEC_MAX_SET || tx->n_writes > TXCODEC_MAX_SET)
        return bad_(e, "reads", "read or write set too large");
    if ((tx->n_reads && !tx->reads) || (tx->n_writes && !tx->writes))
        return bad_(e, "reads", "read or write set missing");
    for (size_t i = 0; i < tx->n_reads; i++)
        if (!tx->reads[i].key && tx->reads[i].key_len) return bad_(e, "reads", "read key missing");
    for (size_t i = 0; i < tx->n_writes; i++)
        if (!tx->writes[i].key && tx->writes[i].key_len)
            return bad_(e, "writes", "write key missing");
    if (tx->n_reads) qsort(tx->reads, tx->n_reads, sizeof *tx->reads, read_cmp_);
    if (tx->n_writes) qsort(tx->writes, tx->n_writes, sizeof *tx->writes, write_cmp_);
    for (size_t i = 1; i < tx->n_reads; i++)
        if (read_cmp_(&tx->reads[i - 1], &tx->reads[i]) == 0)
            return bad_(e, "reads", "duplicate key in the read set");
    for (size_t i = 1; i < tx->n_writes; i++)
        if (write_cmp_(&tx->writes[i - 1], &tx->writes[i]) == 0)
            return bad_(e, "writes", "duplicate key in the write set");
    return 0;
}

/* ---------- encode ---------- */

int txcodec_encode(const txcodec_tx_t *tx, uint8_t **out, size_t *out_len, err_t *e) {
    if (!tx || !out || !out_len) return bad_(e, "tx", "missing argument");
    *out = NULL;
    *out_len = 0;
    if (validate_(tx, e) != 0) return -1;
    wbuf_t w = {0};
    uint8_t v = tx->version;
    put_(&w, &v, 1);
    put_(&w, tx->tx_id, TXCODEC_ID_LEN);
    put_bytes_(&w, tx->type, strlen(tx->type));
    put_bytes_(&w, tx->creator_org, strlen(tx->creator_org));
    put_(&w, tx->creator_pk, TXCODEC_PK_LEN);
    uint64_t ts = (uint64_t)tx->timestamp_ms;
    uint8_t tsb[8];
    for (int i = 0; i < 8; i++)
        tsb[i] = (uint8_t)(ts >> (56 - 8 * i));
    put_(&w, tsb, 8);
    put_bytes_(&w, tx->nonce, tx->nonce_len);
    put_bytes_(&w, tx->payload, tx->payload_len);
    put_varint_(&w, tx->n_reads);
    for (size_t i = 0; i < tx->n_reads; i++) {
        put_bytes_(&w, tx->reads[i].key, tx->reads[i].key_len);
        put_varint_(&w, tx->reads[i].version);
    }
    put_varint_(&w, tx->n_writes);
    for (size_t i = 0; i < tx->n_writes; i++) {
        const txcodec_write_t *wr = &tx->writes[i];
        uint8_t flags = wr->is_delete ? 1 : 0;
        put_bytes_(&w, wr->key, wr->key_len);
        put_(&w, &flags, 1);
        put_bytes_(&w, wr->value, wr->value_len);
    }
    if (w.fail) {
        free(w.b);
        if (w.fail == 2)
            return err_set(e, 413, "too_large", "tx", "encoded transaction exceeds %u bytes",
                           TXCODEC_MAX_ENCODED);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    *out = w.b;
    *out_len = w.len;
    return 0;
}

/* ---------- decode ---------- */

typedef struct rbuf {
    const uint8_t *b;
    size_t len, pos;
} rbuf_t;

static int get_(rbuf_t *r, size_t n, const uint8_t **p) {
    if (n > r->len - r->pos) return -1;
    *p = r->b + r->pos;
    r->pos += n;
    return 0;
}

/* Shortest-form unsigned LEB128, at most 10 bytes, no overflow. */
static int get_varint_(rbuf_t *r, uint64_t *v) {
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->pos >= r->len) return -1;
        uint8_t c = r->b[r->pos++];
        if (i == 9 && c > 1) return -1; /* would overflow 64 bits */
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            if (c == 0 && i > 0) return -1; /* not the shortest form */
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int get_bytes_(rbuf_t *r, size_t min, size_t max, const uint8_t **p, size_t *n) {
    uint64_t l;
    if (get_varint_(r, &l) != 0 || l < min || l > max) return -1;
    *n = (size_t)l;
    return get_(r, (size_t)l, p);
}

void txcodec_tx_free(txcodec_tx_t *tx) {
    if (!tx) return;
    if (tx->owned_) {
        free(tx->owned_);
        free(tx->reads);
        free(tx->writes);
    }
    memset(tx, 0, sizeof *tx);
}

int txcodec_decode(const uint8_t *buf, size_t len, txcodec_tx_t *tx, err_t *e) {
    if (!tx || (!buf && len)) return bad_(e, "tx", "missing argument");
    memset(tx, 0, sizeof *tx);
    if (len > TXCODEC_MAX_ENCODED)
        return err_set(e, 413, "too_large", "tx", "encoded transaction exceeds %u bytes",
                       TXCODEC_MAX_ENCODED);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return err_set(e, 500, "internal", "", "out of memory");
    if (len) memcpy(copy, buf, len);
    tx->owned_ = copy;
    rbuf_t r = {.b = copy, .len = len};
    const uint8_t *p;
    size_t n;
    const char *field = "tx", *why = "truncated";
    if (get_(&r, 1, &p) != 0) goto fail;
    tx->version = p[0];
    if (tx->version != TXCODEC_VERSION) {
        field = "version", why = "unsupported version";
        goto fail;
    }
    if (get_(&r, TXCODEC_ID_LEN, &p) != 0) goto fail;
    memcpy(tx->tx_id, p, TXCODEC_ID_LEN);
    field = "type", why = "bad type";
    if (get_bytes_(&r, 1, TXCODEC_MAX_TYPE, &p, &n) != 0) goto fail;
    memcpy(tx->type, p, n);
    tx->type[n] = 0;
    if (memchr(p, 0, n) || !type_ok_(tx->type)) goto fail;
    field = "creator_org", why = "bad creator org";
    if (get_bytes_(&r, 1, TXCODEC_MAX_ORG, &p, &n) != 0) goto fail;
    memcpy(tx->creator_org, p, n);
    tx->creator_org[n] = 0;
    if (memchr(p, 0, n) || !org_ok_(tx->creator_org)) goto fail;
    field = "creator_pk", why = "truncated";
    if (get_(&r, TXCODEC_PK_LEN, &p) != 0) goto fail;
    memcpy(tx->creator_pk, p, TXCODEC_PK_LEN);
    field = "timestamp";
    if (get_(&r, 8, &p) != 0) goto fail;
    uint64_t ts = 0;
    for (int i = 0; i < 8; i++)
        ts = ts << 8 | p[i];
    tx->timestamp_ms = (int64_t)ts; /* two's complement (C23-defined; all targets agree) */
    field = "nonce", why = "bad nonce";
    if (get_bytes_(&r, TXCODEC_MIN_NONCE, TXCODEC_MAX_NONCE, &p, &n) != 0) goto fail;
    memcpy(tx->nonce, p, n);
    tx->nonce_len = n;
    field = "payload", why = "bad payload";
    if (get_bytes_(&r, 0, TXCODEC_MAX_PAYLOAD, &tx->payload, &tx->payload_len) != 0) goto fail;
    uint64_t count;
    field = "reads", why = "bad read set";
    /* each read takes at least 3 bytes: bound the count before allocating */
    if (get_varint_(&r, &count) != 0 || count > TXCODEC_MAX_SET || count * 3 > r.len - r.pos)
        goto fail;
    if (count) {
        tx->reads = calloc((size_t)count, sizeof *tx->reads);
        if (!tx->reads) goto oom;
    }
    for (size_t i = 0; i < count; i++) {
        txcodec_read_t *rd = &tx->reads[i];
        if (get_bytes_(&r, 1, TXCODEC_MAX_KEY, &rd->key, &rd->key_len) != 0) goto fail;
        if (get_varint_(&r, &rd->version) != 0) goto fail;
        tx->n_reads = i + 1;
    }
    field = "writes", why = "bad write set";
    /* each write takes at least 4 bytes */
    if (get_varint_(&r, &count) != 0 || count > TXCODEC_MAX_SET || count * 4 > r.len - r.pos)
        goto fail;
    if (count) {
        tx->writes = calloc((size_t)count, sizeof *tx->writes);
        if (!tx->writes) goto oom;
    }
    for (size_t i = 0; i < count; i++) {
        txcodec_write_t *wr = &tx->writes[i];
        if (get_bytes_(&r, 1, TXCODEC_MAX_KEY, &wr->key, &wr->key_len) != 0) goto fail;
        if (get_(&r, 1, &p) != 0 || p[0] > 1) goto fail;
        wr->is_delete = p[0];
        if (get_bytes_(&r, 0, TXCODEC_MAX_VALUE, &wr->value, &wr->value_len) != 0) goto fail;
        tx->n_writes = i + 1;
    }
    if (r.pos != r.len) {
        field = "tx", why = "trailing bytes";
        goto fail;
    }
    /* sorted sets, delete without value, tx id */
    if (validate_(tx, e) != 0) {
        txcodec_tx_free(tx);
        return -1;
    }
    return 0;
oom:
    txcodec_tx_free(tx);
    return err_set(e, 500, "internal", "", "out of memory");
fail:
    txcodec_tx_free(tx);
    return bad_(e, field, why);
}

/* ---------- commitments ---------- */

int txcodec_commit_with_salt(const uint8_t salt[TXCODEC_SALT_LEN], const void *value, size_t len,
                             uint8_t commit[TXCODEC_COMMIT_LEN], err_t *e) {
    if (!salt || !commit || (!value && len)) return bad_(e, "value", "missing argument");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int hl = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, salt, TXCODEC_SALT_LEN) == 1 &&
             (len == 0 || EVP_DigestUpdate(ctx, value, len) == 1) &&
             EVP_DigestFinal_ex(ctx, commit, &hl) == 1 && hl == TXCODEC_COMMIT_LEN;
    EVP_MD_CTX_free(ctx);
    if (!ok) return err_set(e, 500, "internal", "", "SHA-256 failed");
    return 0;
}

int txcodec_commit(const void *value, size_t len, uint8_t salt[TXCODEC_SALT_LEN],
                   uint8_t commit[TXCODEC_COMMIT_LEN], err_t *e) {
    if (!salt || !commit) return bad_(e, "value", "missing argument");
    if (sodium_init() < 0) return err_set(e, 500, "internal", "", "libsodium failed to start");
    randombytes_buf(salt, TXCODEC_SALT_LEN);
    return txcodec_commit_with_salt(salt, value, len, commit, e);
}

int txcodec_commit_verify(const uint8_t salt[TXCODEC_SALT_LEN], const void *value, size_t len,
                          const uint8_t commit[TXCODEC_COMMIT_LEN], err_t *e) {
    uint8_t c[TXCODEC_COMMIT_LEN];
    if (!commit) return bad_(e, "commit", "missing argument");
    if (txcodec_commit_with_salt(salt, value, len, c, e) != 0) return -1;
    if (CRYPTO_memcmp(c, commit, TXCODEC_COMMIT_LEN) != 0)
        return err_set(e, 422, "commitment_mismatch", "commit",
                       "value does not match the commitment");
    return 0;
}
