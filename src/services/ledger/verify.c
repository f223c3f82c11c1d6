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
#include "services/ledger/export.h"
#include "services/ledger/idcheck.h"
#include "services/ledger/statecheck.h"

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

/* The exported field digests, in this order. */
enum { D_N = 8 };
static const char *const dnames[D_N] = {"type",    "timestamp", "nonce",     "creator",
                                        "payload", "read_set",  "write_set", "endorsements"};

static void dig_raw(ledger_buf_t *b, uint8_t out[32]) {
    ledger_sha256(b->p ? b->p : (const uint8_t *)"", b->len, out);
    b->len = 0;
}

/* The field digests of a decoded envelope (en, t) into d, in dnames order; b is a scratch buffer
 * the caller reuses (and frees). */
static void digests_of(const ledger_envelope_t *en, const txcodec_tx_t *t, uint8_t d[D_N][32],
                       ledger_buf_t *b) {
    b->len = 0;
    ledger_buf_put(b, t->type, strlen(t->type));
    dig_raw(b, d[0]);
    ledger_buf_u64(b, (uint64_t)t->timestamp_ms);
    dig_raw(b, d[1]);
    ledger_buf_put(b, t->nonce, t->nonce_len);
    dig_raw(b, d[2]);
    ledger_buf_bytes(b, t->creator_org, strlen(t->creator_org));
    ledger_buf_put(b, t->creator_pk, sizeof t->creator_pk);
    dig_raw(b, d[3]);
    ledger_buf_put(b, t->payload, t->payload_len);
    dig_raw(b, d[4]);
    for (size_t i = 0; i < t->n_reads; i++) {
        ledger_buf_bytes(b, t->reads[i].key, t->reads[i].key_len);
        ledger_buf_u64(b, t->reads[i].version);
    }
    dig_raw(b, d[5]);
    for (size_t i = 0; i < t->n_writes; i++) {
        ledger_buf_bytes(b, t->writes[i].key, t->writes[i].key_len);
        ledger_buf_u8(b, (uint8_t)t->writes[i].is_delete);
        ledger_buf_bytes(b, t->writes[i].value, t->writes[i].value_len);
    }
    dig_raw(b, d[6]);
    for (size_t i = 0; i < en->n_end; i++) {
        ledger_buf_put(b, en->end[i].pk, 32);
        ledger_buf_put(b, en->end[i].sig, 64);
    }
    dig_raw(b, d[7]);
}

/* Decodes an envelope into en and t (the caller frees t; zeroed on failure): 0, or -1 with *e. */
static int decode_env(const uint8_t *env, size_t len, ledger_envelope_t *en, txcodec_tx_t *t,
                      err_t *e) {
    memset(t, 0, sizeof *t);
    if (ledger_envelope_decode(env, len, en, e) != 0) return -1;
    return txcodec_decode(en->tx, en->tx_len, t, e);
}

json_t *ledger_tx_digests(const uint8_t *env, size_t len, err_t *e) {
    uint8_t d[D_N][32];
    ledger_buf_t b = {0};
    ledger_envelope_t en;
    txcodec_tx_t t;
    if (decode_env(env, len, &en, &t, e) != 0) return NULL;
    digests_of(&en, &t, d, &b);
    txcodec_tx_free(&t);
    ledger_buf_free(&b);
    json_t *o = json_object();
    for (size_t f = 0; f < D_N; f++) {
        char hex[65];
        ledger_hex(d[f], 32, hex);
        json_object_set_new(o, dnames[f], json_string(hex));
    }
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

/* Decodes the envelope of block `number` tx i once (into en and t; the caller frees t, also on
 * failure) and compares its exported field digests (when present): names the altered field. */
static int decode_check(uint64_t number, size_t i, json_t *jt, const uint8_t *env, size_t len,
                        ledger_envelope_t *en, txcodec_tx_t *t, ledger_buf_t *scratch, err_t *e) {
    err_t de = {0};
    json_t *want = json_object_get(jt, "digests");
    if (decode_env(env, len, en, t, &de) != 0) {
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
    uint8_t d[D_N][32];
    digests_of(en, t, d, scratch);
    for (size_t f = 0; json_is_object(want) && f < D_N; f++) {
        uint8_t w[32];
        if (ledger_unhex(json_string_value(json_object_get(want, dnames[f])), w, 32) != 0 ||
            memcmp(w, d[f], 32) != 0) {
            char hex[65];
            ledger_hex(t->tx_id, 32, hex);
            return err_set(e, 422, "invalid_chain", dnames[f],
                           "block %" PRIu64 " tx %zu (%.16s...): %s differs from the exported "
                           "digest (envelope altered)",
                           number, i, hex, dnames[f]);
        }
    }
    return 0;
}

/* The verifier's walk, in one pass: the replay state, the compact range of the log (no leaf is
 * kept: O(log n) per leaf, O(log n) memory), and the next checkpoint, checked when the replay
 * reaches its size. Two checkpoints whose roots both equal the replayed log's at their sizes are
 * consistent, so no consistency proof is needed. */
typedef struct vstate {
    const char *origin;
    json_t *cpq; /* checkpoints read and not yet checked, from cq (owned) */
    size_t cq;
    ledger_config_t cfg;
    uint64_t epoch;       /* bumped by every config change */
    ledger_config_t snap; /* a copy of cfg at snap_epoch, for the batch being prepared */
    uint64_t snap_epoch;
    int have_snap;
    ledger_statecheck_t *state; /* the reads and writes, checked at the end (statecheck.h) */
    ledger_idcheck_t *ids;      /* the tx ids, checked at the end (idcheck.h) */
    size_t threads;
    /* where the replay failed (block, position; LEDGER_MAX_BLOCK_TXS = after its txs), so that
     * an earlier duplicate-id fault is named instead */
    uint64_t fail_block;
    uint32_t fail_pos;
    merkle_range_t range;
    uint8_t prev[32]; /* header hash of the last replayed block */
    size_t ci;        /* index of the loaded checkpoint (= checkpoints loaded before it) */
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

/* Drops the loaded checkpoint (checked) and loads the next queued one, if any. */
static int cp_next(vstate_t *s, err_t *e) {
    if (s->have_cn) {
        checkpoint_note_free(&s->cn);
        s->have_cn = 0;
        s->ci++;
    }
    if (s->cq >= json_array_size(s->cpq)) {
        json_array_clear(s->cpq);
        s->cq = 0;
        return 0;
    }
    const char *note = json_string_value(json_array_get(s->cpq, s->cq++));
    err_t pe = {0};
    if (!note || checkpoint_parse(note, strlen(note), &s->cn, &pe) != 0)
        return err_set(e, 422, "invalid_chain", "checkpoint", "checkpoint %zu: note body: %.300s",
                       s->ci, note ? pe.message : "not a string");
    s->have_cn = 1;
    return 0;
}

/* A checkpoint read from the export joins the queue (checked when the replay reaches its size).
 * A streamed export has it right after its block; `ahead_max` bounds how many may wait there (0:
 * no bound, a v1 document already in memory). */
#define VCP_AHEAD_MAX 1024
static int cp_push(vstate_t *s, json_t *note, size_t ahead_max, err_t *e) {
    size_t waiting = json_array_size(s->cpq) - s->cq + (size_t)s->have_cn;
    if (ahead_max && waiting >= ahead_max)
        return err_set(e, 422, "invalid_chain", "checkpoint",
                       "checkpoint %zu: beyond the replayed log (more than %zu checkpoints ahead "
                       "of the blocks)",
                       s->ci + waiting, ahead_max);
    if (json_array_append(s->cpq, note) != 0) return oom(e);
    return s->have_cn ? 0 : cp_next(s, e);
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

/* The recorded validation code (rec, -1 = missing or unknown) of every tx of block `number`
 * against the replay (res); *at = the first that differs. */
static int check_codes(uint64_t number, json_t *txs, const int *rec,
                       const ledger_block_result_t *res, ledger_verify_report_t *rep, size_t *at,
                       err_t *e) {
    for (size_t i = 0; i < res->n; i++) {
        if (rec[i] != res->tx[i].code) {
            const char *code =
                json_string_value(json_object_get(json_array_get(txs, i), "validation_code"));
            char id[65];
            ledger_hex(res->tx[i].tx_id, 32, id);
            *at = i;
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

/* One exported transaction, prepared off the replay's thread: its envelope decoded from base64
 * and then decoded ONCE (the replay validates the decoded transaction: vbatch_t.pre), its field
 * digests compared, every endorsement signature checked (bit j of sig_ok: the Ed25519 checks are
 * most of the verifier's CPU; libsodium is thread-safe after sodium_init), its log leaf hashed,
 * and the checks that need only the config (ledger_tx_precheck) run against the config in force
 * when the batch was read. A failure is kept in err and reported when the replay reaches that
 * transaction, so the first bad block/tx is named whatever order the threads ran in. */
typedef struct vtx {
    json_t *jt;                /* the exported tx (borrowed) */
    uint64_t number;           /* its block's recorded number */
    size_t i;                  /* its position */
    uint8_t *env;              /* owned */
    ledger_endorsement_t *end; /* owned: the decoded endorsements */
    uint8_t (*kh)[32];         /* owned: SHA-256 of each read key, then of each write key */
    int bad;
    err_t err;
} vtx_t;

/* An item of the export in log order: a block (its JSON object) or a checkpoint (its note). */
enum { VITEM_BLOCK, VITEM_CP };
typedef struct vitem {
    int kind;
    json_t *j;        /* owned reference */
    size_t tx0;       /* a block: index of its first tx in the batch */
    size_t ntx;       /* a block: its transactions */
    size_t bytes;     /* streamed: the length of its line */
    uint8_t root[32]; /* a block: the data root of its leaves, computed ahead */
} vitem_t;

/* A line of a v2 file read ahead: parsed on the worker threads, its item (or its error) handed
 * out in file order. */
typedef struct vline {
    const char *raw; /* into vsrc_t.rb, until parsed */
    size_t off, len, lineno;
    vitem_t it;
    int bad;
    err_t err;
} vline_t;

/* Where the items come from: a v1 document (every checkpoint first, each checked when the replay
 * reaches its size, then the blocks), or a v2 file read a chunk of lines at a time (at most
 * VBATCH_ITEMS lines and VBATCH_BYTES bytes), the chunk's lines parsed on every CPU. One item
 * can be put back (the block that starts the next batch). */
typedef struct vsrc {
    json_t *blocks, *cps; /* v1 (borrowed) */
    size_t bi, ci;
    FILE *f; /* v2 */
    char *line;
    size_t cap, lineno;
    char *rb; /* the file read in large chunks: rb[rpos..rlen) not split into lines yet */
    size_t rcap, rlen, rpos, scan; /* scan: bytes after rpos known to hold no newline */
    vline_t *lq;                   /* the chunk read ahead: lq[li..ln) not handed out yet */
    size_t ln, li, lcap, lnext;
    int eof;
    int has_peek;
    vitem_t peek;
    size_t threads; /* ledger_verify_opts_t.threads */
} vsrc_t;

/* The items read together, at least one block, and blocks are added while the batch holds
 * fewer than VBATCH_TXS transactions (and, streamed, VBATCH_ITEMS items and VBATCH_BYTES bytes of
 * lines): bounded memory. Their transactions are prepared together. */
#define VBATCH_TXS 4096
#define VBATCH_ITEMS 8192
#define VBATCH_BYTES ((size_t)2 << 20)
#define VERIFY_MAX_THREADS 256
typedef struct vbatch {
    vtx_t *tx;
    /* per transaction, what the replay hands to ledger_validate_block (ledger_block_msg_t) */
    ledger_pretx_t *pre;
    const uint8_t **env;
    size_t *len;
    uint64_t *sig_ok;
    merkle_hash_t *leaf;
    uint8_t *dup;  /* recorded DUPLICATE_TXID (checked at the end: idcheck.h) */
    uint8_t *mvcc; /* recorded MVCC_READ_CONFLICT (checked at the end: statecheck.h) */
    int *rec;      /* the recorded code, -1 = missing or unknown */
    size_t n, cap;
    size_t held; /* slots [0, held) of tx and pre hold buffers (freed when a slot is reused) */
    vitem_t *it;
    size_t nit, itcap;
    vitem_t *dead; /* the previous batch's items, released by the workers */
    size_t ndead, deadcap, dnext;
    size_t next;                /* the next tx to prepare (threads take them with an atomic add) */
    const ledger_config_t *cfg; /* the config the prechecks ran against (NULL: none) */
    uint64_t epoch;             /* its epoch (vstate_t.epoch) */
} vbatch_t;

static void prepare_tx(vbatch_t *vb, size_t x, ledger_buf_t *scratch) {
    vtx_t *t = &vb->tx[x];
    ledger_pretx_t *p = &vb->pre[x];
    free(t->env); /* what the slot held in an earlier batch */
    free(t->end);
    free(t->kh);
    t->env = NULL;
    t->end = NULL;
    t->kh = NULL;
    txcodec_tx_free(&p->tx);
    *p = (ledger_pretx_t){.code = -1};
    vb->sig_ok[x] = 0;
    const char *code = json_string_value(json_object_get(t->jt, "validation_code"));
    vb->rec[x] = code ? ledger_code_from_name(code) : -1;
    vb->dup[x] = vb->rec[x] == LEDGER_DUPLICATE_TXID;
    vb->mvcc[x] = vb->rec[x] == LEDGER_MVCC_READ_CONFLICT;
    const char *str = json_string_value(json_object_get(t->jt, "envelope"));
    size_t sl = str ? strlen(str) : 0, len = 0;
    t->env = str ? malloc(sl + 1) : NULL;
    vb->env[x] = t->env;
    if (!str || !t->env ||
        sodium_base642bin(t->env, sl + 1, str, sl, NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        t->bad = 1;
        err_set(&t->err, 422, "invalid_chain", "envelope",
                "block %" PRIu64 " tx %zu: envelope is not base64", t->number, t->i);
        return;
    }
    vb->len[x] = len;
    ledger_envelope_t en;
    if (decode_check(t->number, t->i, t->jt, t->env, len, &en, &p->tx, scratch, &t->err) != 0) {
        t->bad = 1;
        return;
    }
    err_t le = {0};
    merkle_leaf_hash(t->env, len, vb->leaf[x], &le); /* cannot fail: the envelope is in memory */
    const txcodec_tx_t *tx = &p->tx;
    t->end = malloc(en.n_end * sizeof *t->end);
    t->kh = malloc((tx->n_reads + tx->n_writes + 1) * sizeof *t->kh);
    if (!t->end || !t->kh) {
        t->bad = 1;
        oom(&t->err);
        return;
    }
    memcpy(t->end, en.end, en.n_end * sizeof *t->end);
    for (size_t r = 0; r < tx->n_reads; r++)
        ledger_sha256(tx->reads[r].key, tx->reads[r].key_len, t->kh[r]);
    for (size_t w = 0; w < tx->n_writes; w++)
        ledger_sha256(tx->writes[w].key, tx->writes[w].key_len, t->kh[tx->n_reads + w]);
    p->ok = 1;
    p->etx = en.tx;
    p->etx_len = en.tx_len;
    p->n_end = en.n_end;
    p->end = t->end;
    for (size_t j = 0; j < en.n_end; j++)
        if (ledger_endorsement_ok(en.tx, en.tx_len, &en.end[j])) vb->sig_ok[x] |= (uint64_t)1 << j;
    if (vb->cfg)
        p->code = ledger_tx_precheck(&p->tx, p->etx, p->etx_len, p->end, p->n_end, &vb->sig_ok[x],
                                     vb->cfg);
}

static void *prepare_worker(void *arg) {
    vbatch_t *vb = arg;
    ledger_buf_t scratch = {0}; /* reused for every transaction of this thread */
    for (;;) {
        size_t k = __atomic_fetch_add(&vb->next, 8, __ATOMIC_RELAXED);
        if (k >= vb->n) break;
        for (size_t x = k; x < k + 8 && x < vb->n; x++)
            prepare_tx(vb, x, &scratch);
    }
    ledger_buf_free(&scratch);
    for (;;) { /* then the previous batch's parse trees */
        size_t k = __atomic_fetch_add(&vb->dnext, 1, __ATOMIC_RELAXED);
        if (k >= vb->ndead) break;
        json_decref(vb->dead[k].j);
    }
    return NULL;
}

/* --threads, else one per online CPU (at most VERIFY_MAX_THREADS). */
static size_t verify_threads(size_t want) {
    long n = want ? (long)want : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > VERIFY_MAX_THREADS ? VERIFY_MAX_THREADS : (size_t)n;
}

/* Empties the batch for the next fill: its items become the dead ones (the next fill's workers
 * release them); the transaction slots' buffers are freed as the slots are reused. */
static void batch_clear(vbatch_t *vb) {
    for (size_t x = vb->dnext; x < vb->ndead; x++)
        json_decref(vb->dead[x].j);
    vitem_t *d = vb->dead;
    size_t dc = vb->deadcap;
    vb->dead = vb->it;
    vb->deadcap = vb->itcap;
    vb->ndead = vb->nit;
    vb->dnext = 0;
    vb->it = d;
    vb->itcap = dc;
    vb->n = vb->nit = vb->next = 0;
}

static void batch_free(vbatch_t *vb) {
    batch_clear(vb);
    batch_clear(vb);
    for (size_t x = 0; x < vb->held; x++) {
        free(vb->tx[x].env);
        free(vb->tx[x].end);
        free(vb->tx[x].kh);
        txcodec_tx_free(&vb->pre[x].tx);
    }
    free(vb->dead);
    free(vb->tx);
    free(vb->pre);
    free(vb->env);
    free(vb->len);
    free(vb->sig_ok);
    free(vb->leaf);
    free(vb->dup);
    free(vb->mvcc);
    free(vb->rec);
    free(vb->it);
}

/* ---- reading the export ------------------------------------------------------------------ */

/* The longest line of a streamed export: one block (at most LEDGER_MAX_BLOCK_TXS transactions). */
#define VLINE_MAX ((size_t)1 << 30)

/* One line without its newline into *buf: 0, 1 at the end of the file, -1 when longer than max
 * or unreadable. */
static int read_line(FILE *f, char **buf, size_t *cap, size_t max, size_t *len) {
    size_t n = 0;
    for (;;) {
        if (n + 2 > *cap) {
            if (*cap >= max) return -1;
            size_t nc = *cap ? *cap * 2 : 1 << 16;
            char *p = realloc(*buf, nc > max ? max : nc);
            if (!p) return -1;
            *buf = p;
            *cap = nc > max ? max : nc;
        }
        size_t room = *cap - n;
        if (!fgets(*buf + n, room > INT32_MAX ? INT32_MAX : (int)room, f)) break;
        n += strlen(*buf + n);
        if (n && (*buf)[n - 1] == '\n') {
            (*buf)[--n] = 0;
            *len = n;
            return 0;
        }
    }
    if (ferror(f)) return -1;
    *len = n;
    return n ? 0 : 1;
}

/* Parses one line read ahead into its item (or its error); frees the raw text. */
static void parse_line(vline_t *l) {
    json_error_t je;
    json_t *o = json_loadb(l->raw, l->len, JSON_REJECT_DUPLICATES, &je);
    json_t *b = json_object_get(o, "block"), *c = json_object_get(o, "checkpoint");
    int one = json_object_size(o) == 1;
    if (one && json_is_object(b))
        l->it = (vitem_t){.kind = VITEM_BLOCK, .j = json_incref(b), .bytes = l->len};
    else if (one && json_is_string(c))
        l->it = (vitem_t){.kind = VITEM_CP, .j = json_incref(c), .bytes = l->len};
    json_decref(o);
    l->raw = NULL;
    if (!l->it.j) {
        l->bad = 1;
        err_set(&l->err, 422, "invalid_export", "line",
                "line %zu: neither {\"block\": {...}} nor {\"checkpoint\": \"...\"}%s%.200s",
                l->lineno, o ? "" : ": ", o ? "" : je.text);
    }
}

static void *parse_worker(void *arg) {
    vsrc_t *s = arg;
    for (;;) {
        size_t k = __atomic_fetch_add(&s->lnext, 1, __ATOMIC_RELAXED);
        if (k >= s->ln) return NULL;
        if (!s->lq[k].bad) parse_line(&s->lq[k]);
    }
}

/* Adds the line at rb[off..off+len) (or, with why, an error in its place) to the chunk. */
static int add_line(vsrc_t *s, size_t off, size_t len, const char *why, err_t *e) {
    if (s->ln == s->lcap) {
        size_t nc = s->lcap ? s->lcap * 2 : 256;
        vline_t *q = realloc(s->lq, nc * sizeof *q);
        if (!q) return oom(e);
        s->lq = q;
        s->lcap = nc;
    }
    vline_t *l = &s->lq[s->ln++];
    *l = (vline_t){.off = off, .len = len, .lineno = s->lineno};
    if (why) {
        l->bad = 1;
        err_set(&l->err, 422, "invalid_export", "line", "line %zu: %s", s->lineno, why);
    }
    return 0;
}

/* More of the file into rb (grown when full: the chunk's lines are offsets into it). 0, 1 at the
 * end of the file, -1 when unreadable, -2 out of memory (e). */
static int src_read(vsrc_t *s, err_t *e) {
    if (s->rlen == s->rcap) {
        size_t nc = s->rcap ? s->rcap * 2 : (size_t)4 << 20;
        char *p = realloc(s->rb, nc);
        if (!p) {
            oom(e);
            return -2;
        }
        s->rb = p;
        s->rcap = nc;
    }
    size_t got = fread(s->rb + s->rlen, 1, s->rcap - s->rlen, s->f);
    s->rlen += got;
    return got > 0 ? 0 : ferror(s->f) ? -1 : 1;
}

/* Reads the next chunk of lines (empty lines skipped) and parses them on the worker threads
 * (and this one). The file is read in large blocks and split at newlines in place (no copy per
 * line). A line that cannot be read ends the file, as an error in its place. */
static int src_refill(vsrc_t *s, err_t *e) {
    s->ln = s->li = s->lnext = 0;
    if (s->rpos > 0) { /* drop what the previous chunk consumed */
        memmove(s->rb, s->rb + s->rpos, s->rlen - s->rpos);
        s->rlen -= s->rpos;
        s->rpos = 0;
    }
    size_t bytes = 0;
    while (!s->eof && s->ln < VBATCH_ITEMS && bytes < VBATCH_BYTES) {
        size_t have = s->rlen - s->rpos;
        char *nl = have > s->scan ? memchr(s->rb + s->rpos + s->scan, '\n', have - s->scan) : NULL;
        size_t len = nl ? (size_t)(nl - (s->rb + s->rpos)) : have;
        if (!nl && len <= VLINE_MAX) {
            s->scan = have;
            int r = src_read(s, e);
            if (r == 0) continue;
            if (r == -2) return -1;
            s->lineno++;
            s->eof = 1;
            if (r < 0) {
                if (add_line(s, 0, 0, "unreadable", e) != 0) return -1;
            } else if (len > 0) { /* the last line, without its newline */
                if (add_line(s, s->rpos, len, NULL, e) != 0) return -1;
                s->rpos = s->rlen;
            }
            break;
        }
        s->lineno++;
        s->scan = 0;
        if (len > VLINE_MAX) {
            char why[64];
            snprintf(why, sizeof why, "longer than %zu bytes", VLINE_MAX);
            s->eof = 1;
            if (add_line(s, 0, 0, why, e) != 0) return -1;
            break;
        }
        if (len > 0 && add_line(s, s->rpos, len, NULL, e) != 0) return -1;
        s->rpos += len + 1;
        bytes += len;
    }
    for (size_t k = 0; k < s->ln; k++)
        if (!s->lq[k].bad) s->lq[k].raw = s->rb + s->lq[k].off;
    pthread_t th[VERIFY_MAX_THREADS];
    size_t nt = verify_threads(s->threads), started = 0;
    if (nt > s->ln) nt = s->ln ? s->ln : 1;
    for (size_t t = 1; t < nt; t++)
        if (pthread_create(&th[started], NULL, parse_worker, s) == 0) started++;
    parse_worker(s);
    for (size_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    return 0;
}

/* The next line of a v2 file as an item (it->j NULL at the end). */
static int src_line(vsrc_t *s, vitem_t *it, err_t *e) {
    if (s->li == s->ln && src_refill(s, e) != 0) return -1;
    if (s->li == s->ln) return 0;
    vline_t *l = &s->lq[s->li++];
    if (l->bad) {
        *e = l->err;
        return -1;
    }
    *it = l->it;
    l->it.j = NULL;
    return 0;
}

static void src_free(vsrc_t *s) {
    for (size_t x = s->li; x < s->ln; x++)
        json_decref(s->lq[x].it.j);
    free(s->lq);
    free(s->line);
    free(s->rb);
    if (s->has_peek) json_decref(s->peek.j);
    s->has_peek = 0;
}

/* The next item (it->j NULL at the end). */
static int src_next(vsrc_t *s, vitem_t *it, err_t *e) {
    *it = (vitem_t){0};
    if (s->has_peek) {
        *it = s->peek;
        s->has_peek = 0;
        return 0;
    }
    if (s->f) return src_line(s, it, e);
    if (s->ci < json_array_size(s->cps))
        *it = (vitem_t){.kind = VITEM_CP, .j = json_incref(json_array_get(s->cps, s->ci++))};
    else if (s->bi < json_array_size(s->blocks))
        *it = (vitem_t){.kind = VITEM_BLOCK, .j = json_incref(json_array_get(s->blocks, s->bi++))};
    return 0;
}

/* Grows the batch's per-transaction arrays to hold `need`. */
static int batch_reserve(vbatch_t *vb, size_t need, err_t *e) {
    if (need <= vb->cap) return 0;
    size_t nc = vb->cap ? vb->cap : VBATCH_TXS;
    while (nc < need)
        nc *= 2;
#define GROW(f)                                                                                    \
    do {                                                                                           \
        void *q = realloc(vb->f, nc * sizeof *vb->f);                                              \
        if (!q) return oom(e);                                                                     \
        vb->f = q;                                                                                 \
    } while (0)
    GROW(tx);
    GROW(pre);
    GROW(env);
    GROW(len);
    GROW(sig_ok);
    GROW(leaf);
    GROW(dup);
    GROW(mvcc);
    GROW(rec);
#undef GROW
    vb->cap = nc;
    return 0;
}

/* Adds a block's transactions to the batch. */
static int batch_add_txs(vbatch_t *vb, vitem_t *it, err_t *e) {
    json_t *txs = json_object_get(it->j, "txs");
    uint64_t number = (uint64_t)json_integer_value(json_object_get(it->j, "number"));
    size_t n = json_array_size(txs);
    if (batch_reserve(vb, vb->n + n, e) != 0) return -1;
    it->ntx = n;
    for (size_t i = 0; i < n; i++, vb->n++) {
        vtx_t *t = &vb->tx[vb->n];
        if (vb->n == vb->held) { /* a new slot: nothing to free */
            *t = (vtx_t){0};
            vb->pre[vb->n] = (ledger_pretx_t){.code = -1};
            vb->held++;
        }
        t->jt = json_array_get(txs, i);
        t->number = number;
        t->i = i;
        t->bad = 0;
    }
    return 0;
}

/* Reads the next batch of items (none at the end) and prepares its transactions on the worker
 * threads (and this one); then the data root of each block. */
static int batch_fill(vbatch_t *vb, vsrc_t *src, err_t *e) {
    batch_clear(vb);
    size_t nblocks = 0, bytes = 0;
    for (;;) {
        vitem_t it;
        if (src_next(src, &it, e) != 0) return -1;
        if (!it.j) break;
        if (nblocks > 0 && it.kind == VITEM_BLOCK &&
            (vb->n >= VBATCH_TXS || vb->nit >= VBATCH_ITEMS || bytes >= VBATCH_BYTES)) {
            src->peek = it;
            src->has_peek = 1;
            break;
        }
        if (vb->nit == vb->itcap) {
            size_t nc = vb->itcap ? vb->itcap * 2 : 64;
            vitem_t *p = realloc(vb->it, nc * sizeof *p);
            if (!p) {
                json_decref(it.j);
                return oom(e);
            }
            vb->it = p;
            vb->itcap = nc;
        }
        it.tx0 = vb->n;
        bytes += it.bytes;
        vb->it[vb->nit++] = it;
        if (it.kind == VITEM_BLOCK) {
            nblocks++;
            if (batch_add_txs(vb, &vb->it[vb->nit - 1], e) != 0) return -1;
        }
    }
    pthread_t th[VERIFY_MAX_THREADS];
    size_t nt = verify_threads(src->threads), started = 0;
    if (nt > 1 + vb->n / 64) nt = 1 + vb->n / 64; /* a few transactions: fewer threads */
    for (size_t t = 1; t < nt; t++)
        if (pthread_create(&th[started], NULL, prepare_worker, vb) == 0) started++;
    prepare_worker(vb);
    for (size_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    for (size_t k = 0; k < vb->nit; k++) {
        vitem_t *it = &vb->it[k];
        err_t re = {0};
        if (it->kind == VITEM_BLOCK && it->ntx > 0)
            merkle_root((const merkle_hash_t *)&vb->leaf[it->tx0], it->ntx, it->root, &re);
    }
    return 0;
}

/* The reads of a tx that reached the MVCC check and the writes of a VALID one, for the check
 * at the end (statecheck.h); kh: the keys' SHA-256, reads then writes. */
static int record_state(vstate_t *s, uint64_t number, size_t i, const txcodec_tx_t *tx,
                        uint8_t (*kh)[32], const ledger_tx_result_t *r, err_t *e) {
    int conflict = r->code == LEDGER_MVCC_READ_CONFLICT;
    if (r->code != LEDGER_VALID && !conflict) return 0;
    for (size_t k = 0; k < tx->n_reads; k++)
        if (ledger_statecheck_read(s->state, kh[k], number, (uint32_t)i, tx->reads[k].version,
                                   conflict, e) != 0)
            return -1;
    if (conflict) return ledger_statecheck_conflict(s->state, number, (uint32_t)i, r->tx_id, e);
    uint64_t ver = ledger_version(number, (uint32_t)i);
    for (size_t k = 0; k < tx->n_writes; k++)
        if (ledger_statecheck_write(s->state, kh[tx->n_reads + k], number, (uint32_t)i,
                                    tx->writes[k].is_delete ? 0 : ver, e) != 0)
            return -1;
    return 0;
}

/* Replays block bi (item it of batch vb; next = the following block or NULL): the prepared
 * envelopes and digests, validation against the state so far (the tx ids recorded for the
 * check at the end), every recorded code and header field; then folds its leaves into the
 * compact range. */
static int replay_block(vstate_t *s, size_t bi, const vitem_t *it, json_t *next, vbatch_t *vb,
                        ledger_verify_report_t *rep, err_t *e) {
    json_t *b = it->j, *txs = json_object_get(b, "txs");
    uint64_t number = (uint64_t)json_integer_value(json_object_get(b, "number"));
    size_t n = json_array_size(txs), x = it->tx0;
    s->fail_block = bi;
    s->fail_pos = 0;
    if (number != bi)
        return err_set(e, 422, "invalid_chain", "number", "block %zu: number is %" PRIu64, bi,
                       number);
    if (n == 0 || (json_int_t)n != json_integer_value(json_object_get(b, "tx_count")))
        return err_set(e, 422, "invalid_chain", "tx_count", "block %" PRIu64 ": tx_count", number);
    for (size_t i = 0; i < n; i++)
        if (vb->tx[x + i].bad) {
            *e = vb->tx[x + i].err;
            return -1;
        }
    ledger_block_msg_t m = {.number = number,
                            .timestamp_ms =
                                (int64_t)json_integer_value(json_object_get(b, "timestamp_ms")),
                            .n = n,
                            .env = &vb->env[x],
                            .env_len = &vb->len[x],
                            .sig_ok = &vb->sig_ok[x],
                            .leaf = (const merkle_hash_t *)&vb->leaf[x],
                            .pre = &vb->pre[x],
                            .pre_codes = vb->cfg && vb->epoch == s->epoch,
                            .dup = &vb->dup[x],
                            .mvcc = &vb->mvcc[x],
                            .data_root = it->root};
    ledger_block_result_t res = {0};
    if (ledger_validate_block(&m, s->prev, s->range.size, &s->cfg, NULL, NULL, &res, e) != 0)
        return -1;
    int bad = 0;
    for (size_t i = 0; !bad && i < n; i++)
        if (vb->pre[x + i].ok &&
            (ledger_idcheck_add(s->ids, res.tx[i].tx_id, number, (uint32_t)i, vb->rec[x + i], e) !=
                 0 ||
             record_state(s, number, i, &vb->pre[x + i].tx, vb->tx[x + i].kh, &res.tx[i], e) != 0))
            bad = 1;
    size_t at = LEDGER_MAX_BLOCK_TXS;
    if (!bad && check_codes(number, txs, &vb->rec[x], &res, rep, &at, e) != 0) bad = 1;
    s->fail_pos = (uint32_t)at;
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
        if (res.config_changed) {
            s->vs_stale = 1;
            s->epoch++;
        }
        memcpy(s->prev, res.header_hash, 32);
        rep->blocks++;
        rep->txs += n;
    }
    ledger_block_result_free(&res);
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

/* Step 1: the export's (or its header line's) format, origin and the log key (pinned, else the
 * export's). */
static int read_header(json_t *ex, const char *format, const ledger_verify_opts_t *o,
                       const char **origin, uint8_t lpk[32], err_t *e) {
    const char *fmt = json_string_value(json_object_get(ex, "format"));
    *origin = json_string_value(json_object_get(ex, "origin"));
    if (!fmt || strcmp(fmt, format) != 0 || !*origin)
        return err_set(e, 422, "invalid_export", "format", "not a %s", format);
    if (ledger_unhex(o->log_key_hex ? o->log_key_hex
                                    : json_string_value(json_object_get(ex, "log_public_key")),
                     lpk, 32) != 0)
        return err_set(e, 422, "invalid_export", "log_public_key", "bad log public key");
    if (sodium_init() < 0) return err_set(e, 500, "internal", "", "libsodium");
    return 0;
}

/* Step 2: the empty replay state, the log as the first verifier. */
static int vstate_init(vstate_t *s, const char *origin, const uint8_t lpk[32], err_t *e) {
    *s = (vstate_t){.origin = origin, .cap = 1, .nv = 1, .vs_stale = 1};
    merkle_range_init(&s->range);
    s->cpq = json_array();
    s->state = ledger_statecheck_new(0);
    s->ids = ledger_idcheck_new(0);
    s->vs = calloc(1, sizeof *s->vs);
    s->verified = calloc(1, sizeof *s->verified);
    if (!s->cpq || !s->state || !s->ids || !s->vs || !s->verified) return oom(e);
    return checkpoint_verifier_init(&s->vs[0], origin, lpk, e);
}

static void vstate_free(vstate_t *s) {
    if (s->have_cn) checkpoint_note_free(&s->cn);
    json_decref(s->cpq);
    free(s->vs);
    free(s->verified);
    ledger_config_free(&s->cfg);
    ledger_statecheck_free(s->state);
    ledger_config_free(&s->snap);
    ledger_idcheck_free(s->ids);
}

/* The block after item k of the batch, or NULL: `after` (the block that starts the next batch)
 * when k is its last block; only the diagnosis of an altered timestamp uses it. */
static json_t *next_block(const vbatch_t *vb, size_t k, json_t *after) {
    for (size_t x = k + 1; x < vb->nit; x++)
        if (vb->it[x].kind == VITEM_BLOCK) return vb->it[x].j;
    return after;
}

/* The next batch, read and prepared on its own thread while the replay works through the
 * current one (the preparation is most of the CPU, the replay must stay in order). */
typedef struct vfill {
    vbatch_t *vb;
    vsrc_t *src;
    int rc;
    err_t e;
} vfill_t;

static void *fill_thread(void *arg) {
    vfill_t *f = arg;
    f->rc = batch_fill(f->vb, f->src, &f->e);
    return NULL;
}

/* Replays the items of one prepared batch in order: blocks replayed, checkpoints queued, each
 * checkpoint checked when the replay reaches its size. */
static int replay_batch(vstate_t *s, const vsrc_t *src, vbatch_t *vb, json_t *after,
                        ledger_verify_report_t *rep, err_t *e) {
    for (size_t k = 0; k < vb->nit; k++) {
        vitem_t *it = &vb->it[k];
        int rc = it->kind == VITEM_CP
                     ? cp_push(s, it->j, src->f ? VCP_AHEAD_MAX : 0, e)
                     : replay_block(s, rep->blocks, it, next_block(vb, k, after), vb, rep, e);
        if (rc == 0) s->fail_pos = LEDGER_MAX_BLOCK_TXS; /* a later fault: after this block */
        while (rc == 0 && rep->blocks > 0 && s->have_cn && s->cn.cp.size <= s->range.size)
            if (cp_check(s, rep->blocks - 1, s->prev, rep, e) != 0 || cp_next(s, e) != 0) rc = -1;
        if (rc != 0) return -1;
    }
    return 0;
}

/* The checks deferred to the end (duplicate ids: idcheck.h; MVCC: statecheck.h) of the records
 * up to the replay's failure point (fault >= 0: s->fail_block, s->fail_pos) or all of them
 * (fault < 0). The replay took the recorded DUPLICATE_TXID and MVCC_READ_CONFLICT codes as true,
 * so the earliest violation before the failure point is the first fault: it replaces *e (or is
 * reported, at the end). */
static int deferred_check(vstate_t *s, int fault, err_t *e) {
    ledger_idcheck_bad_t ib;
    ledger_statecheck_bad_t sb;
    err_t ie = {0};
    uint64_t upto = fault >= 0 ? s->fail_block : UINT64_MAX;
    size_t nt = verify_threads(s->threads);
    int ri = ledger_idcheck_run(s->ids, upto, nt, &ib, &ie);
    int rs = ri < 0 ? -1 : ledger_statecheck_run(s->state, upto, nt, &sb, &ie);
    if (ri < 0 || rs < 0) {
        if (fault < 0) *e = ie;
        return -1;
    }
    uint64_t ai = ri ? ib.block << 12 | ib.position : UINT64_MAX;
    uint64_t as = rs ? sb.block << 12 | sb.position : UINT64_MAX;
    uint64_t at = ai < as ? ai : as;
    uint64_t lim = fault >= 0 ? (s->fail_block << 12) + s->fail_pos : UINT64_MAX;
    if (at == UINT64_MAX || at >= lim) return fault >= 0 ? -1 : 0;
    char id[65];
    if (ai <= as) {
        ledger_hex(ib.id, 32, id);
        return err_set(e, 422, "invalid_chain", "validation_code",
                       "block %" PRIu64 " tx %" PRIu32 " (%s): validation_code recorded %s, "
                       "replay gives %s",
                       ib.block, ib.position, id, ib.code == 255 ? "?" : ledger_code_name(ib.code),
                       ib.dup ? "DUPLICATE_TXID"
                              : "the first use of this tx id (not DUPLICATE_TXID)");
    }
    if (sb.conflict) {
        ledger_hex(sb.tx_id, 32, id);
        return err_set(e, 422, "invalid_chain", "validation_code",
                       "block %" PRIu64 " tx %" PRIu32 " (%s): validation_code recorded "
                       "MVCC_READ_CONFLICT, replay gives VALID (every read holds)",
                       sb.block, sb.position, id);
    }
    ledger_hex(sb.key, 32, id);
    return err_set(e, 422, "invalid_chain", "validation_code",
                   "block %" PRIu64 " tx %" PRIu32 ": validation_code recorded VALID, replay "
                   "gives MVCC_READ_CONFLICT (it read version %" PRIu64 " of the key with SHA-256 "
                   "%.16s..., the chain had version %" PRIu64 ")",
                   sb.block, sb.position, sb.want, id, sb.have);
}

/* The config the next batch's prechecks run against: the one in force now (a block of the batch
 * being replayed meanwhile may change it; the replay then checks those transactions itself). */
static int snapshot(vstate_t *s, vbatch_t *vb, err_t *e) {
    if (!s->have_snap || s->snap_epoch != s->epoch) {
        ledger_config_free(&s->snap);
        s->have_snap = 0;
        if (ledger_config_clone(&s->cfg, &s->snap) != 0) return oom(e);
        s->have_snap = 1;
        s->snap_epoch = s->epoch;
    }
    vb->cfg = &s->snap;
    vb->epoch = s->snap_epoch;
    return 0;
}

/* Step 3: every item in order. Two batches: while batch cur is replayed on this thread, the
 * next one is read and its transactions prepared (base64, digests, Ed25519) on the worker
 * threads, so the replay's sequential share overlaps the parallel part. The source is touched
 * only by the filling thread meanwhile; the block starting the next batch (the one the fill put
 * back) is taken before it starts. An error of the next batch is reported after the current
 * batch replays, so the first fault in file order is still the one named. */
static int replay_items(vstate_t *s, vsrc_t *src, ledger_verify_report_t *rep, err_t *e) {
    vbatch_t vb[2] = {{0}, {0}};
    size_t cur = 0;
    int rc = snapshot(s, &vb[cur], e) == 0 ? batch_fill(&vb[cur], src, e) : -1;
    while (rc == 0 && vb[cur].nit > 0) {
        json_t *after =
            src->has_peek && src->peek.kind == VITEM_BLOCK ? json_incref(src->peek.j) : NULL;
        vfill_t f = {.vb = &vb[cur ^ 1], .src = src};
        if (snapshot(s, f.vb, e) != 0) {
            json_decref(after);
            rc = -1;
            break;
        }
        pthread_t th;
        int threaded = pthread_create(&th, NULL, fill_thread, &f) == 0;
        rc = replay_batch(s, src, &vb[cur], after, rep, e);
        if (threaded)
            pthread_join(th, NULL);
        else if (rc == 0)
            fill_thread(&f);
        json_decref(after); /* vb[cur] is cleared by its next fill, on the filling thread */
        if (rc == 0 && f.rc != 0) {
            *e = f.e;
            rc = -1;
        }
        cur ^= 1;
    }
    batch_free(&vb[0]);
    batch_free(&vb[1]);
    if (src->has_peek) json_decref(src->peek.j);
    src->has_peek = 0;
    return rc;
}

/* Step 4: a checkpoint left over is beyond the replayed log (checked first, so that a bad
 * signature is named as such). */
static int check_leftover(vstate_t *s, ledger_verify_report_t *rep, err_t *e) {
    if (!s->have_cn) return 0;
    if (cp_check(s, rep->blocks ? rep->blocks - 1 : UINT64_MAX, s->prev, rep, e) == 0)
        err_set(e, 422, "invalid_chain", "checkpoint", "checkpoint %zu: beyond the replayed log",
                s->ci);
    return -1;
}

static int verify_src(vsrc_t *src, const char *origin, const uint8_t lpk[32],
                      const ledger_verify_opts_t *o, ledger_verify_report_t *rep, err_t *e) {
    vstate_t s;
    int rc = -1;
    if (vstate_init(&s, origin, lpk, e) != 0) {
        vstate_free(&s);
        return -1;
    }
    s.threads = o->threads;
    src->threads = o->threads;
    if (replay_items(&s, src, rep, e) != 0)
        deferred_check(&s, 1, e);
    else if (deferred_check(&s, -1, e) == 0 && check_leftover(&s, rep, e) == 0) {
        rep->unbound_blocks = rep->blocks - (size_t)s.bound;
        rc = check_bound(o, rep->blocks, s.bound, s.range.size, e);
    }
    vstate_free(&s);
    return rc;
}

int ledger_verify_export_opts(json_t *ex, const ledger_verify_opts_t *o,
                              ledger_verify_report_t *rep, err_t *e) {
    memset(rep, 0, sizeof *rep);
    const char *origin;
    uint8_t lpk[32];
    vsrc_t src = {.blocks = json_object_get(ex, "blocks"),
                  .cps = json_object_get(ex, "checkpoints")};
    if (read_header(ex, LEDGER_EXPORT_V1, o, &origin, lpk, e) != 0) return -1;
    if (!json_is_array(src.blocks) || !json_is_array(src.cps))
        return err_set(e, 422, "invalid_export", "format", "not a %s", LEDGER_EXPORT_V1);
    return verify_src(&src, origin, lpk, o, rep, e);
}

int ledger_verify_stream(FILE *f, const ledger_verify_opts_t *o, ledger_verify_report_t *rep,
                         err_t *e) {
    memset(rep, 0, sizeof *rep);
    vsrc_t src = {.f = f};
    json_t *hdr = NULL;
    const char *origin;
    uint8_t lpk[32];
    size_t len = 0;
    int rc = -1;
    if (read_line(f, &src.line, &src.cap, VLINE_MAX, &len) != 0 ||
        !(hdr = json_loadb(src.line, len, JSON_REJECT_DUPLICATES, NULL)))
        err_set(e, 422, "invalid_export", "format", "not a %s (line 1)", LEDGER_EXPORT_V2);
    else if (read_header(hdr, LEDGER_EXPORT_V2, o, &origin, lpk, e) == 0) {
        src.lineno = 1;
        rc = verify_src(&src, origin, lpk, o, rep, e);
    }
    json_decref(hdr);
    src_free(&src);
    return rc;
}

int ledger_verify_file(const char *path, const ledger_verify_opts_t *o, ledger_verify_report_t *rep,
                       err_t *e) {
    memset(rep, 0, sizeof *rep);
    FILE *f = fopen(path, "r");
    if (!f) return err_set(e, 400, "invalid_export", "file", "%s: cannot open", path);
    /* v2 starts with its header line; anything else is read as a v1 document */
    char head[64] = {0};
    size_t n = fread(head, 1, sizeof head - 1, f);
    static const char v2[] = "{\"format\":\"" LEDGER_EXPORT_V2 "\"";
    int rc;
    if (n >= sizeof v2 - 1 && memcmp(head, v2, sizeof v2 - 1) == 0) {
        rewind(f);
        rc = ledger_verify_stream(f, o, rep, e);
        fclose(f);
        return rc;
    }
    fclose(f);
    json_error_t je;
    json_t *ex = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!ex)
        return err_set(e, 400, "invalid_export", "file", "%s: %s (line %d)", path, je.text,
                       je.line);
    rc = ledger_verify_export_opts(ex, o, rep, e);
    json_decref(ex);
    return rc;
}
