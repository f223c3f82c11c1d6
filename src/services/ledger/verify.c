/* verify: see verify.h. */
#include "services/ledger/verify.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/ledger/checkpoint.h"
#include "lib/ledger/merkle.h"
#include "services/ledger/engine.h"

static int hexfield(json_t *o, const char *name, uint8_t out[32]) {
    return ledger_unhex(json_string_value(json_object_get(o, name)), out, 32);
}

static void dig(json_t *o, const char *name, ledger_buf_t *b) {
    uint8_t h[32];
    char hex[65];
    ledger_sha256(b->p ? b->p : (const uint8_t *)"", b->len, h);
    ledger_hex(h, 32, hex);
    json_object_set_new(o, name, json_string(hex));
    ledger_buf_free(b);
}

json_t *ledger_tx_digests(const uint8_t *env, size_t len, err_t *e) {
    ledger_envelope_t en;
    txcodec_tx_t t;
    if (ledger_envelope_decode(env, len, &en, e) != 0) return NULL;
    if (txcodec_decode(en.tx, en.tx_len, &t, e) != 0) return NULL;
    json_t *o = json_object();
    ledger_buf_t b = {0};
    ledger_buf_put(&b, t.type, strlen(t.type));
    dig(o, "type", &b);
    ledger_buf_u64(&b, (uint64_t)t.timestamp_ms);
    dig(o, "timestamp", &b);
    ledger_buf_put(&b, t.nonce, t.nonce_len);
    dig(o, "nonce", &b);
    ledger_buf_bytes(&b, t.creator_org, strlen(t.creator_org));
    ledger_buf_put(&b, t.creator_pk, sizeof t.creator_pk);
    dig(o, "creator", &b);
    ledger_buf_put(&b, t.payload, t.payload_len);
    dig(o, "payload", &b);
    for (size_t i = 0; i < t.n_reads; i++) {
        ledger_buf_bytes(&b, t.reads[i].key, t.reads[i].key_len);
        ledger_buf_u64(&b, t.reads[i].version);
    }
    dig(o, "read_set", &b);
    for (size_t i = 0; i < t.n_writes; i++) {
        ledger_buf_bytes(&b, t.writes[i].key, t.writes[i].key_len);
        ledger_buf_u8(&b, (uint8_t)t.writes[i].is_delete);
        ledger_buf_bytes(&b, t.writes[i].value, t.writes[i].value_len);
    }
    dig(o, "write_set", &b);
    for (size_t i = 0; i < en.n_end; i++) {
        ledger_buf_put(&b, en.end[i].pk, 32);
        ledger_buf_put(&b, en.end[i].sig, 64);
    }
    dig(o, "endorsements", &b);
    txcodec_tx_free(&t);
    return o;
}

static int rd_var(const uint8_t *b, size_t len, size_t *off, uint64_t *v) {
    *v = 0;
    for (int sh = 0; sh < 64 && *off < len; sh += 7) {
        uint8_t c = b[(*off)++];
        *v |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) return 0;
    }
    return -1;
}

static int same_digest(json_t *want, const char *name, ledger_buf_t *b) {
    json_t *o = json_object();
    dig(o, name, b);
    const char *w = json_string_value(json_object_get(want, name));
    int same = w && strcmp(w, json_string_value(json_object_get(o, name))) == 0;
    json_decref(o);
    return same;
}

/* For an envelope whose transaction does not decode: reads the fixed prefix (version, tx id,
 * type, creator org + key, timestamp, nonce) leniently and returns the first of those fields
 * whose digest differs from the exported one, or NULL. */
static const char *prefix_field(const uint8_t *env, size_t len, json_t *want) {
    size_t off = 1;
    uint64_t tl, n;
    if (!json_is_object(want) || len < 2 || env[0] != 1 || rd_var(env, len, &off, &tl) != 0 ||
        tl > len - off)
        return NULL;
    const uint8_t *t = env + off;
    size_t o = 1 + 32, tlen = (size_t)tl;
    if (tlen < o || rd_var(t, tlen, &o, &n) != 0 || n > tlen - o) return NULL;
    ledger_buf_t b = {0};
    ledger_buf_put(&b, t + o, (size_t)n);
    o += (size_t)n;
    if (!same_digest(want, "type", &b)) return "type";
    if (rd_var(t, tlen, &o, &n) != 0 || n > tlen - o || tlen - o - (size_t)n < 32 + 8) return NULL;
    ledger_buf_bytes(&b, t + o, (size_t)n);
    ledger_buf_put(&b, t + o + n, 32);
    o += (size_t)n + 32;
    if (!same_digest(want, "creator", &b)) return "creator";
    ledger_buf_put(&b, t + o, 8);
    o += 8;
    if (!same_digest(want, "timestamp", &b)) return "timestamp";
    if (rd_var(t, tlen, &o, &n) != 0 || n > tlen - o) return NULL;
    ledger_buf_put(&b, t + o, (size_t)n);
    if (!same_digest(want, "nonce", &b)) return "nonce";
    return NULL;
}

/* The envelope of block `number` tx i must decode, and match its exported field digests (when
 * present): names the altered field. */
static int check_tx_fields(uint64_t number, size_t i, json_t *jt, const uint8_t *env, size_t len,
                           err_t *e) {
    err_t de = {0};
    json_t *d = ledger_tx_digests(env, len, &de);
    json_t *want = json_object_get(jt, "digests");
    if (!d) {
        /* the transaction's id covers creator and nonce, so altering them fails the strict
         * decode: name the field from the raw prefix against the exported digests */
        const char *f = prefix_field(env, len, want);
        if (f)
            return err_set(e, 422, "invalid_chain", f,
                           "block %" PRIu64 " tx %zu: %s differs from the exported digest "
                           "(envelope altered; %.200s)",
                           number, i, f, de.message);
        return err_set(e, 422, "invalid_chain", "envelope",
                       "block %" PRIu64 " tx %zu: envelope does not decode (%.200s)", number, i,
                       de.message);
    }
    static const char *names[] = {"type",    "timestamp", "nonce",     "creator",
                                  "payload", "read_set",  "write_set", "endorsements"};
    int rc = 0;
    for (size_t f = 0; json_is_object(want) && f < sizeof names / sizeof names[0]; f++) {
        const char *w = json_string_value(json_object_get(want, names[f]));
        const char *g = json_string_value(json_object_get(d, names[f]));
        if (!w || !g || strcmp(w, g) != 0) {
            ledger_envelope_t en;
            uint8_t id[32] = {0};
            char hex[65];
            err_t ie = {0};
            if (ledger_envelope_decode(env, len, &en, &ie) == 0 && en.tx_len > 1 + 32)
                memcpy(id, en.tx + 1, 32);
            ledger_hex(id, 32, hex);
            rc = err_set(e, 422, "invalid_chain", names[f],
                         "block %" PRIu64 " tx %zu (%.16s...): %s differs from the exported "
                         "digest (envelope altered)",
                         number, i, hex, names[f]);
            break;
        }
    }
    json_decref(d);
    return rc;
}

/* The verifier's walk, in one pass: the replay state, the compact range of the log (no leaf is
 * kept: O(log n) per leaf, O(log n) memory), and the next checkpoint, checked when the replay
 * reaches its size. Two checkpoints whose roots both equal the replayed log's at their sizes are
 * consistent, so no consistency proof is needed. */
typedef struct vstate {
    const char *origin;
    json_t *cps;
    ledger_config_t cfg;
    ledger_kvmap_t *versions, *seen;
    merkle_range_t range;
    uint8_t prev[32]; /* header hash of the last replayed block */
    size_t ci;        /* index of the loaded checkpoint */
    int have_cn;      /* cn holds checkpoint ci */
    checkpoint_note_t cn;
    uint64_t last_size; /* size of the last verified checkpoint */
    uint64_t bound;     /* blocks [0, bound) are bound by a verified checkpoint's block line */
    checkpoint_verifier_t *vs; /* vs[0] = the log; then the witnesses of the config in force */
    int *verified;
    size_t nv, cap;
    int vs_stale; /* the config changed since vs was built */
} vstate_t;

static int oom(err_t *e) {
    return err_set(e, 500, "internal", "", "out of memory");
}

/* Loads checkpoint ci (none past the last). */
static int cp_load(vstate_t *s, size_t ci, err_t *e) {
    if (s->have_cn) checkpoint_note_free(&s->cn);
    s->have_cn = 0;
    s->ci = ci;
    if (ci >= json_array_size(s->cps)) return 0;
    const char *note = json_string_value(json_array_get(s->cps, ci));
    err_t pe = {0};
    if (!note || checkpoint_parse(note, strlen(note), &s->cn, &pe) != 0)
        return err_set(e, 422, "invalid_chain", "checkpoint", "checkpoint %zu: note body: %.300s",
                       ci, note ? pe.message : "not a string");
    s->have_cn = 1;
    return 0;
}

/* The witnesses of a checkpoint are the admin identities (not the network operator's, not
 * revoked) of the config in force at its size, i.e. after the block ending there; rebuilt only
 * when a block changed the config. */
static int witnesses(vstate_t *s, err_t *e) {
    if (!s->vs_stale) return 0;
    size_t need = s->cfg.n_ids + 1;
    if (need > s->cap) {
        checkpoint_verifier_t *v = realloc(s->vs, need * sizeof *v);
        if (!v) return oom(e);
        s->vs = v;
        int *f = realloc(s->verified, need * sizeof *f);
        if (!f) return oom(e);
        s->verified = f;
        s->cap = need;
    }
    s->nv = 1;
    for (size_t i = 0; i < s->cfg.n_ids; i++) {
        const ledger_ident_t *id = &s->cfg.ids[i];
        err_t ie = {0};
        if (id->role == POLICY_ROLE_ADMIN && strcmp(id->org, LEDGER_NETWORK_ORG) != 0 &&
            !ledger_config_is_revoked(&s->cfg, id->pk) &&
            checkpoint_verifier_init(&s->vs[s->nv], id->org, id->pk, &ie) == 0)
            s->nv++;
    }
    s->vs_stale = 0;
    return 0;
}

/* Checks the loaded checkpoint against the replay so far: the log's signature (and every known
 * witness's), the origin, a size that ends the last replayed block (`block`, header hash hh;
 * UINT64_MAX = none) and grows, the compact range's root, and its block line ("block N
 * <header hash>", which must name that block and hash: it binds it and, through prev_hash,
 * every earlier block). Other extension lines are opaque (C2SP). */
static int cp_check(vstate_t *s, uint64_t block, const uint8_t hh[32], ledger_verify_report_t *rep,
                    err_t *e) {
    const checkpoint_t *cp = &s->cn.cp;
    size_t ci = s->ci, nver = 0;
    uint8_t root[32];
    int at = block != UINT64_MAX && cp->size == s->range.size && cp->size > 0;
    if (at && merkle_range_root(&s->range, root, e) != 0) return -1;
    int body_ok = at && strcmp(cp->origin, s->origin) == 0 && memcmp(root, cp->root, 32) == 0;
    if (witnesses(s, e) != 0) return -1;
    memset(s->verified, 0, s->nv * sizeof *s->verified);
    if (checkpoint_verify(&s->cn, s->vs, s->nv, s->verified, &nver, e) != 0) {
        /* name the part: a body that still matches the replayed log means a signature line was
         * altered; otherwise the body (origin, size, root) was */
        char msg[sizeof e->message];
        memcpy(msg, e->message, sizeof msg);
        return err_set(e, 422, "invalid_chain", "checkpoint",
                       body_ok ? "checkpoint %zu (size %" PRIu64 "): signature altered: %.300s"
                               : "checkpoint %zu (size %" PRIu64
                                 "): note body altered (origin/size/root do not match the "
                                 "replayed log; %.300s)",
                       ci, cp->size, msg);
    }
    if (!s->verified[0] || !body_ok || cp->size <= s->last_size)
        return err_set(e, 422, "invalid_chain", "checkpoint",
                       "checkpoint %zu (size %" PRIu64 "): not signed by the log or inconsistent "
                       "with the replayed log (checkpoints end a block, sizes increasing)",
                       ci, cp->size);
    for (size_t x = 0; x < cp->n_ext; x++) {
        uint64_t num;
        uint8_t h[32];
        if (!ledger_checkpoint_block_parse(cp->ext[x], &num, h)) continue;
        if (num != block || memcmp(h, hh, 32) != 0)
            return err_set(e, 422, "invalid_chain", "checkpoint",
                           "checkpoint %zu (size %" PRIu64 "): the log signed block %" PRIu64
                           " with another header hash or size than the replay gives (block "
                           "boundaries, timestamps, roots or validation codes rewritten)",
                           ci, cp->size, num);
        s->bound = block + 1;
    }
    s->last_size = cp->size;
    rep->checkpoints++;
    rep->cosignatures += nver - 1;
    return 0;
}

/* The recorded header fields of block b against the replay (res); names the altered one. */
static int check_header(json_t *b, json_t *next, uint64_t number, const ledger_block_result_t *res,
                        err_t *e) {
    struct {
        const char *name;
        const uint8_t *want;
    } fields[] = {{"prev_hash", res->hdr.prev_hash},
                  {"data_root", res->hdr.data_root},
                  {"validation_root", res->hdr.validation_root},
                  {"writeset_hash", res->hdr.writeset_hash},
                  {"header_hash", res->header_hash}};
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        uint8_t got[32];
        if (hexfield(b, fields[f].name, got) == 0 && memcmp(got, fields[f].want, 32) == 0) continue;
        /* everything else in the header matched: either the timestamp or the recorded header
         * hash was altered; the next block's prev_hash tells which */
        uint8_t next_prev[32];
        if (f == 4 && next && hexfield(next, "prev_hash", next_prev) == 0 &&
            memcmp(got, next_prev, 32) == 0)
            return err_set(e, 422, "invalid_chain", "timestamp_ms",
                           "block %" PRIu64 ": timestamp_ms does not match the header hash "
                           "(the next block links to the recorded header_hash)",
                           number);
        return err_set(e, 422, "invalid_chain", fields[f].name,
                       "block %" PRIu64 ": %s does not match the replay%s", number, fields[f].name,
                       f == 4 ? " (header_hash or timestamp_ms altered)" : "");
    }
    return 0;
}

/* The recorded validation code of every tx of block `number` against the replay (res). */
static int check_codes(uint64_t number, json_t *txs, const ledger_block_result_t *res,
                       ledger_verify_report_t *rep, err_t *e) {
    for (size_t i = 0; i < res->n; i++) {
        const char *code =
            json_string_value(json_object_get(json_array_get(txs, i), "validation_code"));
        if (!code || strcmp(code, ledger_code_name(res->tx[i].code)) != 0) {
            char id[65];
            ledger_hex(res->tx[i].tx_id, 32, id);
            return err_set(e, 422, "invalid_chain", "validation_code",
                           "block %" PRIu64 " tx %zu (%s): validation_code recorded %s, replay "
                           "gives %s",
                           number, i, id, code ? code : "?", ledger_code_name(res->tx[i].code));
        }
        if (res->tx[i].code == LEDGER_VALID) rep->valid_txs++;
    }
    return 0;
}

/* ---- transactions prepared ahead of the replay, on several threads ----------------------- */

/* One exported transaction, prepared off the replay's thread: its envelope decoded from base64,
 * its field digests compared, and every endorsement signature checked (bit j of sig_ok: the
 * Ed25519 checks are most of the verifier's CPU; libsodium is thread-safe after sodium_init).
 * A failure is kept in err and reported when the replay reaches that transaction, so the first
 * bad block/tx is named whatever order the threads ran in. */
typedef struct vtx {
    json_t *jt;      /* the exported tx (borrowed) */
    uint64_t number; /* its block's recorded number */
    size_t i;        /* its position */
    uint8_t *env;    /* owned */
    size_t len;
    uint64_t sig_ok;
    int bad;
    err_t err;
} vtx_t;

/* The transactions of blocks [b0, b0 + nb), prepared together: at least one block, and blocks
 * are added while the batch holds fewer than VBATCH_TXS transactions (bounded memory). */
#define VBATCH_TXS 4096
#define VERIFY_MAX_THREADS 16
typedef struct vbatch {
    vtx_t *tx;
    size_t n, cap;
    size_t *first; /* per block of the batch: index of its first tx in tx[]; first[nb] = n */
    size_t b0, nb, bcap;
    size_t next; /* the next tx to prepare (threads take them with an atomic add) */
} vbatch_t;

static void prepare_tx(vtx_t *t) {
    const char *str = json_string_value(json_object_get(t->jt, "envelope"));
    size_t sl = str ? strlen(str) : 0;
    t->env = str ? malloc(sl + 1) : NULL;
    if (!str || !t->env ||
        sodium_base642bin(t->env, sl + 1, str, sl, NULL, &t->len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        t->bad = 1;
        err_set(&t->err, 422, "invalid_chain", "envelope",
                "block %" PRIu64 " tx %zu: envelope is not base64", t->number, t->i);
        return;
    }
    if (check_tx_fields(t->number, t->i, t->jt, t->env, t->len, &t->err) != 0) {
        t->bad = 1;
        return;
    }
    ledger_envelope_t en;
    err_t de = {0};
    if (ledger_envelope_decode(t->env, t->len, &en, &de) != 0) return; /* BAD_PAYLOAD later */
    for (size_t j = 0; j < en.n_end; j++)
        if (ledger_endorsement_ok(en.tx, en.tx_len, &en.end[j])) t->sig_ok |= (uint64_t)1 << j;
}

static void *prepare_worker(void *arg) {
    vbatch_t *vb = arg;
    for (;;) {
        size_t k = __atomic_fetch_add(&vb->next, 8, __ATOMIC_RELAXED);
        if (k >= vb->n) return NULL;
        for (size_t x = k; x < k + 8 && x < vb->n; x++)
            prepare_tx(&vb->tx[x]);
    }
}

static size_t verify_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > VERIFY_MAX_THREADS ? VERIFY_MAX_THREADS : (size_t)n;
}

static void batch_clear(vbatch_t *vb) {
    for (size_t x = 0; x < vb->n; x++)
        free(vb->tx[x].env);
    vb->n = vb->nb = vb->next = 0;
}

static void batch_free(vbatch_t *vb) {
    batch_clear(vb);
    free(vb->tx);
    free(vb->first);
}

/* Collects the transactions of the blocks from b0 and prepares them on the worker threads (and
 * this one). */
static int batch_prepare(vbatch_t *vb, json_t *blocks, size_t b0, err_t *e) {
    batch_clear(vb);
    vb->b0 = b0;
    size_t nblocks = json_array_size(blocks);
    for (size_t bi = b0; bi < nblocks && (bi == b0 || vb->n < VBATCH_TXS); bi++) {
        json_t *b = json_array_get(blocks, bi), *txs = json_object_get(b, "txs");
        uint64_t number = (uint64_t)json_integer_value(json_object_get(b, "number"));
        size_t n = json_array_size(txs);
        if (vb->nb + 2 > vb->bcap) {
            size_t nc = vb->bcap ? vb->bcap * 2 : 64;
            size_t *f = realloc(vb->first, nc * sizeof *f);
            if (!f) return oom(e);
            vb->first = f;
            vb->bcap = nc;
        }
        if (vb->n + n > vb->cap) {
            size_t nc = vb->cap ? vb->cap : VBATCH_TXS;
            while (nc < vb->n + n)
                nc *= 2;
            vtx_t *t = realloc(vb->tx, nc * sizeof *t);
            if (!t) return oom(e);
            vb->tx = t;
            vb->cap = nc;
        }
        vb->first[vb->nb++] = vb->n;
        for (size_t i = 0; i < n; i++)
            vb->tx[vb->n++] = (vtx_t){.jt = json_array_get(txs, i), .number = number, .i = i};
    }
    vb->first[vb->nb] = vb->n;
    pthread_t th[VERIFY_MAX_THREADS];
    size_t nt = verify_threads(), started = 0;
    if (nt > 1 + vb->n / 64) nt = 1 + vb->n / 64; /* a few transactions: fewer threads */
    for (size_t t = 1; t < nt; t++)
        if (pthread_create(&th[started], NULL, prepare_worker, vb) == 0) started++;
    prepare_worker(vb);
    for (size_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    return 0;
}

/* Replays block bi (its json b; next = the following block or NULL; its transactions prepared
 * in t[0..]): the prepared envelopes and digests, validation against the state so far, every
 * recorded code and header field; then folds its leaves into the compact range. */
static int replay_block(vstate_t *s, size_t bi, json_t *b, json_t *next, vtx_t *t,
                        ledger_verify_report_t *rep, err_t *e) {
    json_t *txs = json_object_get(b, "txs");
    uint64_t number = (uint64_t)json_integer_value(json_object_get(b, "number"));
    size_t n = json_array_size(txs);
    if (number != bi)
        return err_set(e, 422, "invalid_chain", "number", "block %zu: number is %" PRIu64, bi,
                       number);
    if (n == 0 || (json_int_t)n != json_integer_value(json_object_get(b, "tx_count")))
        return err_set(e, 422, "invalid_chain", "tx_count", "block %" PRIu64 ": tx_count", number);
    for (size_t i = 0; i < n; i++)
        if (t[i].bad) {
            *e = t[i].err;
            return -1;
        }
    const uint8_t **env = calloc(n, sizeof *env);
    size_t *lens = calloc(n, sizeof *lens);
    uint64_t *sig_ok = calloc(n, sizeof *sig_ok);
    int bad = !env || !lens || !sig_ok ? oom(e) : 0;
    for (size_t i = 0; !bad && i < n; i++) {
        env[i] = t[i].env;
        lens[i] = t[i].len;
        sig_ok[i] = t[i].sig_ok;
    }
    ledger_block_msg_t m = {.number = number,
                            .timestamp_ms =
                                (int64_t)json_integer_value(json_object_get(b, "timestamp_ms")),
                            .n = n,
                            .env = env,
                            .env_len = lens,
                            .sig_ok = sig_ok};
    ledger_block_result_t res = {0};
    if (!bad && ledger_validate_block(&m, s->prev, s->range.size, &s->cfg, s->versions, s->seen,
                                      &res, e) != 0)
        bad = 1;
    if (!bad && check_codes(number, txs, &res, rep, e) != 0) bad = 1;
    if (!bad && check_header(b, next, number, &res, e) != 0) bad = 1;
    if (!bad &&
        json_integer_value(json_object_get(b, "first_log_index")) != (json_int_t)s->range.size) {
        err_set(e, 422, "invalid_chain", "first_log_index", "block %" PRIu64 ": first_log_index",
                number);
        bad = 1;
    }
    for (size_t i = 0; !bad && i < n; i++)
        if (merkle_range_append(&s->range, res.tx[i].leaf, e) != 0) bad = 1;
    if (!bad) {
        if (res.config_changed) s->vs_stale = 1;
        memcpy(s->prev, res.header_hash, 32);
        rep->blocks++;
        rep->txs += n;
    }
    ledger_block_result_free(&res);
    free(env);
    free(lens);
    free(sig_ok);
    return bad ? -1 : 0;
}

/* Every block must be bound by a signed checkpoint (the last one is enough: prev_hash links
 * the others), unless o->allow_unbound; with a pinned key an empty export proves nothing; and
 * the log must reach o->min_size (against a rollback to an older, consistent export). */
static int check_bound(const ledger_verify_opts_t *o, size_t n_blocks, uint64_t bound,
                       uint64_t n_leaves, err_t *e) {
    if (n_blocks == 0 && o->log_key_hex)
        return err_set(e, 422, "invalid_chain", "checkpoint",
                       "no blocks and no checkpoint signed by the pinned log key");
    if (n_blocks > 0 && bound < n_blocks && !o->allow_unbound)
        return err_set(e, 422, "invalid_chain", "checkpoint",
                       "block %zu is not bound by a signed checkpoint: none of size %" PRIu64
                       " carries its header hash (an export cut short, checkpoints removed, or "
                       "made before checkpoints carried block lines; --allow-unbound replays "
                       "it without that guarantee)",
                       n_blocks - 1, n_leaves);
    if (n_leaves < o->min_size)
        return err_set(e, 422, "invalid_chain", "min_size",
                       "the log has %" PRIu64 " leaves, fewer than --min-size %" PRIu64
                       " (rolled back?)",
                       n_leaves, o->min_size);
    return 0;
}

int ledger_verify_export(json_t *ex, const char *log_key_hex, ledger_verify_report_t *rep,
                         err_t *e) {
    ledger_verify_opts_t o = {.log_key_hex = log_key_hex};
    return ledger_verify_export_opts(ex, &o, rep, e);
}

/* Step 1: the export's format, origin, arrays and the log key (pinned, else the export's). */
static int read_export(json_t *ex, const ledger_verify_opts_t *o, const char **origin,
                       json_t **blocks, json_t **cps, uint8_t lpk[32], err_t *e) {
    const char *fmt = json_string_value(json_object_get(ex, "format"));
    *origin = json_string_value(json_object_get(ex, "origin"));
    *blocks = json_object_get(ex, "blocks");
    *cps = json_object_get(ex, "checkpoints");
    if (!fmt || strcmp(fmt, "reciprocal-ledger-export/v1") != 0 || !*origin ||
        !json_is_array(*blocks) || !json_is_array(*cps))
        return err_set(e, 422, "invalid_export", "format", "not a reciprocal-ledger-export/v1");
    if (ledger_unhex(o->log_key_hex ? o->log_key_hex
                                    : json_string_value(json_object_get(ex, "log_public_key")),
                     lpk, 32) != 0)
        return err_set(e, 422, "invalid_export", "log_public_key", "bad log public key");
    if (sodium_init() < 0) return err_set(e, 500, "internal", "", "libsodium");
    return 0;
}

/* Step 2: the empty replay state, the log as the first verifier, the first checkpoint loaded. */
static int vstate_init(vstate_t *s, const char *origin, json_t *cps, const uint8_t lpk[32],
                       err_t *e) {
    *s = (vstate_t){.origin = origin, .cps = cps, .cap = 1, .nv = 1, .vs_stale = 1};
    merkle_range_init(&s->range);
    s->versions = ledger_kvmap_new();
    s->seen = ledger_kvmap_new();
    s->vs = calloc(1, sizeof *s->vs);
    s->verified = calloc(1, sizeof *s->verified);
    if (!s->versions || !s->seen || !s->vs || !s->verified) return oom(e);
    if (checkpoint_verifier_init(&s->vs[0], origin, lpk, e) != 0) return -1;
    return cp_load(s, 0, e);
}

static void vstate_free(vstate_t *s) {
    if (s->have_cn) checkpoint_note_free(&s->cn);
    free(s->vs);
    free(s->verified);
    ledger_config_free(&s->cfg);
    ledger_kvmap_free(s->versions);
    ledger_kvmap_free(s->seen);
}

/* Step 3: every block in order (transactions prepared a batch ahead, in parallel), each
 * checkpoint checked when the replay reaches its size. */
static int replay_blocks(vstate_t *s, json_t *blocks, ledger_verify_report_t *rep, err_t *e) {
    vbatch_t vb = {0};
    size_t nb = json_array_size(blocks);
    int rc = 0;
    for (size_t bi = 0; rc == 0 && bi < nb; bi++) {
        if (bi == vb.b0 + vb.nb && batch_prepare(&vb, blocks, bi, e) != 0) {
            rc = -1;
            break;
        }
        rc = replay_block(s, bi, json_array_get(blocks, bi), json_array_get(blocks, bi + 1),
                          &vb.tx[vb.first[bi - vb.b0]], rep, e);
        while (rc == 0 && s->have_cn && s->cn.cp.size <= s->range.size)
            if (cp_check(s, bi, s->prev, rep, e) != 0 || cp_load(s, s->ci + 1, e) != 0) rc = -1;
    }
    batch_free(&vb);
    return rc;
}

/* Step 4: a checkpoint left over is beyond the replayed log (checked first, so that a bad
 * signature is named as such). */
static int check_leftover(vstate_t *s, size_t nb, ledger_verify_report_t *rep, err_t *e) {
    if (!s->have_cn) return 0;
    if (cp_check(s, nb ? nb - 1 : UINT64_MAX, s->prev, rep, e) == 0)
        err_set(e, 422, "invalid_chain", "checkpoint", "checkpoint %zu: beyond the replayed log",
                s->ci);
    return -1;
}

int ledger_verify_export_opts(json_t *ex, const ledger_verify_opts_t *o,
                              ledger_verify_report_t *rep, err_t *e) {
    memset(rep, 0, sizeof *rep);
    const char *origin;
    json_t *blocks, *cps;
    uint8_t lpk[32];
    if (read_export(ex, o, &origin, &blocks, &cps, lpk, e) != 0) return -1;
    vstate_t s;
    int rc = -1;
    if (vstate_init(&s, origin, cps, lpk, e) == 0 && replay_blocks(&s, blocks, rep, e) == 0 &&
        check_leftover(&s, json_array_size(blocks), rep, e) == 0) {
        rep->unbound_blocks = rep->blocks - (size_t)s.bound;
        rc = check_bound(o, rep->blocks, s.bound, s.range.size, e);
    }
    vstate_free(&s);
    return rc;
}
