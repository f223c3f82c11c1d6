/* orderer: see orderer.h. */
#include "services/ledger/orderer.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/metrics.h"
#include "services/ledger/engine.h"
#include "services/ledger/pending.h"
#include "services/ledger/settings.h"
#include "services/ledger/store.h"

int ledger_streams_ensure(bus_t *b, err_t *e) {
    const char *const tx[] = {LEDGER_TX_SUBJECT, NULL};
    const char *const bl[] = {LEDGER_BLOCK_SUBJECT, NULL};
    if (bus_ensure_stream(b, LEDGER_TX_STREAM, tx, e) != 0) return -1;
    return bus_ensure_stream(b, LEDGER_BLOCK_STREAM, bl, e);
}

int ledger_streams_ensure_replicas(bus_t *b, int replicas, err_t *e) {
    const char *const tx[] = {LEDGER_TX_SUBJECT, NULL};
    const char *const bl[] = {LEDGER_BLOCK_SUBJECT, NULL};
    if (bus_ensure_stream_replicas(b, LEDGER_TX_STREAM, tx, replicas, e) != 0) return -1;
    return bus_ensure_stream_replicas(b, LEDGER_BLOCK_STREAM, bl, replicas, e);
}

int ledger_publish_envelope(bus_t *b, const uint8_t *env, size_t len, const uint8_t tx_id[32],
                            int *duplicate, err_t *e) {
    char id[65];
    ledger_hex(tx_id, 32, id);
    return bus_js_publish(b, LEDGER_TX_SUBJECT, id, env, len, duplicate, e);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Cache: stream sequence -> block number of the last block seen there. */
static pthread_mutex_t tip_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t tip_seq, tip_number;

/* Next block number and the sequence it must follow. */
static int chain_tip(bus_t *b, db_pool_t *db, uint64_t *next, uint64_t *last_seq, err_t *e) {
    unsigned long long s = 0;
    if (bus_js_last_seq(b, LEDGER_BLOCK_STREAM, &s, e) != 0) return -1;
    *last_seq = s;
    if (s == 0) {
        /* empty stream: continue after the chain in PostgreSQL */
        db_tx_t *tx = NULL;
        ledger_head_t h;
        db_scope_t sc = {0};
        if (db_begin(db, &sc, &tx, e) != 0) return -1;
        int rc = ledger_store_head(tx, &h, 0, e);
        db_rollback(tx);
        if (rc != 0) return -1;
        *next = (uint64_t)(h.height + 1);
        return 0;
    }
    pthread_mutex_lock(&tip_mu);
    int cached = tip_seq == s;
    uint64_t num = tip_number;
    pthread_mutex_unlock(&tip_mu);
    if (!cached) {
        char *data = NULL;
        size_t len = 0;
        int found = 0;
        if (bus_js_get_msg(b, LEDGER_BLOCK_STREAM, s, &found, &data, &len, e) != 0) return -1;
        ledger_block_msg_t m;
        if (!found || ledger_block_msg_decode((const uint8_t *)data, len, &m, e) != 0) {
            free(data);
            return err_set(e, 500, "internal", "", "last block in %s unreadable",
                           LEDGER_BLOCK_STREAM);
        }
        num = m.number;
        ledger_block_msg_free(&m);
        free(data);
    }
    *next = num + 1;
    return 0;
}

/* The last block this process published (owned bytes) and its stream sequence: the committer
 * of the same process takes it instead of reading it back from JetStream (one STREAM.MSG.GET
 * per block, the whole block base64-encoded in JSON). Only a publish JetStream acknowledged as
 * new (not de-duplicated) fills it, so the bytes are exactly the message at that sequence. */
static pthread_mutex_t last_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *last_msg;
static size_t last_len;
static unsigned long long last_msg_seq;

static void last_block_put(unsigned long long seq, uint8_t *msg, size_t len) {
    pthread_mutex_lock(&last_mu);
    free(last_msg);
    last_msg = msg;
    last_len = len;
    last_msg_seq = seq;
    pthread_mutex_unlock(&last_mu);
}

/* The cached block if it is the one at seq (ownership passes to the caller), else NULL; a
 * cached block at an earlier sequence is dropped (committed, here or by another process). */
static uint8_t *last_block_take(unsigned long long seq, size_t *len) {
    uint8_t *m = NULL;
    pthread_mutex_lock(&last_mu);
    if (!last_msg || last_msg_seq > seq) {
        pthread_mutex_unlock(&last_mu);
        return NULL;
    }
    if (last_msg_seq == seq) {
        m = last_msg;
        *len = last_len;
    } else {
        free(last_msg);
    }
    last_msg = NULL;
    last_len = 0;
    last_msg_seq = 0;
    pthread_mutex_unlock(&last_mu);
    return m;
}

typedef struct cut_ctx {
    bus_t *b;
    db_pool_t *db;
    size_t n;
    int failed;
    err_t *e;
} cut_ctx_t;

static void declare_metrics(void) {
    metrics_counter_declare("ledger_cutter_dropped_committed_total",
                            "Envelopes the cutter acked without ordering them: their tx id was "
                            "already committed (re-deliveries)",
                            NULL);
    metrics_counter_declare("ledger_cutter_dropped_ordered_total",
                            "Envelopes the cutter acked without ordering them: their tx id was "
                            "already ordered in a block not yet committed, or earlier in the batch",
                            NULL);
    metrics_gauge_declare("ledger_cutter_ack_floor",
                          "LEDGER_TX stream sequence up to which the ledger-cutter consumer "
                          "has acked everything",
                          NULL);
    metrics_gauge_declare("ledger_cutter_delivered",
                          "LEDGER_TX stream sequence last delivered to the ledger-cutter consumer",
                          NULL);
    metrics_gauge_declare("ledger_cutter_pending",
                          "LEDGER_TX envelopes not yet delivered to "
                          "the ledger-cutter consumer",
                          NULL);
    metrics_gauge_declare("ledger_cutter_ack_pending",
                          "Envelopes delivered to the ledger-cutter consumer and not acked yet",
                          NULL);
    metrics_gauge_declare("ledger_cutter_redelivered",
                          "Envelopes the ledger-cutter consumer has redelivered (not acked in "
                          "time)",
                          NULL);
}

int ledger_cutter_metrics(bus_t *b, err_t *e) {
    bus_consumer_state_t st;
    if (bus_js_consumer_state(b, LEDGER_TX_STREAM, LEDGER_CUTTER_DURABLE, &st, e) != 0) return -1;
    declare_metrics();
    metrics_gauge_set("ledger_cutter_ack_floor", NULL, (double)st.ack_floor);
    metrics_gauge_set("ledger_cutter_delivered", NULL, (double)st.delivered);
    metrics_gauge_set("ledger_cutter_pending", NULL, (double)st.num_pending);
    metrics_gauge_set("ledger_cutter_ack_pending", NULL, (double)st.num_ack_pending);
    metrics_gauge_set("ledger_cutter_redelivered", NULL, (double)st.num_redelivered);
    return 0;
}

typedef struct batch_id {
    uint8_t id[32];
    size_t i;
} batch_id_t;

static int cmp_batch_id(const void *a, const void *b) {
    const batch_id_t *x = a, *y = b;
    int c = memcmp(x->id, y->id, 32);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* dup[i] = 1 for every envelope whose tx id an earlier envelope of the batch has. */
static int mark_batch_dups(const uint8_t (*ids)[32], const int *has, size_t k, int *dup) {
    batch_id_t *s = malloc((k ? k : 1) * sizeof *s);
    if (!s) return -1;
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        dup[i] = 0;
        if (!has[i]) continue;
        memcpy(s[m].id, ids[i], 32);
        s[m++].i = i;
    }
    qsort(s, m, sizeof *s, cmp_batch_id);
    for (size_t j = 1; j < m; j++)
        if (memcmp(s[j].id, s[j - 1].id, 32) == 0) dup[s[j].i] = 1;
    free(s);
    return 0;
}

/* Drops (the batch is acked) every envelope whose tx id is already ordered: committed
 * (ledger.txs: a consumer re-delivering an acked envelope, seen with nats-server 2.9.10 after
 * faults, every AckWait), in a block of LEDGER_BLOCKS above the committed head (pending.h: a
 * block whose publish acknowledgement timed out though JetStream stored it, a block of another
 * process or of this cutter before a restart), or earlier in the same batch. The committed head
 * is read with the ids (one snapshot) and the chain tip after it, so the check covers the whole
 * chain up to *last, on which the block is then published fenced: an id is never ordered twice.
 * An envelope whose transaction does not decode has no id (BAD_PAYLOAD) and is kept. -1 + e
 * when PostgreSQL or the stream cannot answer: nothing is ordered (the batch is nak'ed and
 * redelivered). Compacts env/lens in place to the *k envelopes kept, ids to their ids (has[i]:
 * an id) for ledger_pending_put. */
static int drop_ordered(cut_ctx_t *c, const uint8_t **env, size_t *lens, size_t *k,
                        uint8_t (*ids)[32], int *has, uint64_t *next, uint64_t *last) {
    size_t n = *k, nq = 0, n_committed = 0, n_ordered = 0;
    uint8_t(*q)[32] = malloc((n ? n : 1) * sizeof *q);
    int *dup = calloc(n ? n : 1, sizeof *dup), *on = calloc(n ? n : 1, sizeof *on),
        *in = calloc(n ? n : 1, sizeof *in);
    uint64_t head_seq = 0;
    int rc = -1;
    if (!q || !dup || !on || !in) {
        err_set(c->e, 500, "internal", "", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        has[i] = ledger_envelope_tx_id(env[i], lens[i], ids[i]);
    if (mark_batch_dups((const uint8_t(*)[32])ids, has, n, dup) != 0) {
        err_set(c->e, 500, "internal", "", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (has[i]) memcpy(q[nq++], ids[i], 32);
    if (ledger_store_on_chain(c->db, (const uint8_t(*)[32])q, nq, on, &head_seq, c->e) != 0)
        goto out;
    if (chain_tip(c->b, c->db, next, last, c->e) != 0) goto out;
    if (ledger_pending_find(c->b, head_seq, *last, (const uint8_t(*)[32])q, nq, in, c->e) != 0)
        goto out;
    size_t kept = 0;
    for (size_t i = 0, j = 0; i < n; i++) {
        int committed = has[i] && on[j], ordered = has[i] && (in[j] || dup[i]);
        j += (size_t)has[i];
        n_committed += (size_t)committed;
        n_ordered += (size_t)(!committed && ordered);
        if (committed || ordered) continue;
        env[kept] = env[i];
        lens[kept] = lens[i];
        has[kept] = has[i];
        memmove(ids[kept], ids[i], 32);
        kept++;
    }
    *k = kept;
    if (n_committed + n_ordered > 0) {
        declare_metrics();
        metrics_counter_add("ledger_cutter_dropped_committed_total", NULL, (double)n_committed);
        metrics_counter_add("ledger_cutter_dropped_ordered_total", NULL, (double)n_ordered);
        log_info("ledger: cutter acked %zu re-delivered envelope(s) already committed, %zu "
                 "already ordered and not yet committed",
                 n_committed, n_ordered);
    }
    rc = 0;
out:
    free(q);
    free(dup);
    free(on);
    free(in);
    return rc;
}

static int cut_batch(const bus_batch_msg_t *msgs, int n, void *ud) {
    cut_ctx_t *c = ud;
    const uint8_t **env = calloc((size_t)n, sizeof *env);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    uint8_t(*ids)[32] = calloc((size_t)n, sizeof *ids);
    int *has = calloc((size_t)n, sizeof *has);
    uint8_t *msg = NULL;
    size_t mlen = 0, k = 0;
    int rc = -1;
    if (!env || !lens || !ids || !has) {
        err_set(c->e, 500, "internal", "", "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        ledger_envelope_t ev;
        err_t de = {0};
        if (msgs[i].len == 0 || msgs[i].len > LEDGER_MAX_ENVELOPE ||
            ledger_envelope_decode((const uint8_t *)msgs[i].data, msgs[i].len, &ev, &de) != 0) {
            log_warn("ledger: dropping an undecodable envelope from %s", LEDGER_TX_STREAM);
            continue;
        }
        env[k] = (const uint8_t *)msgs[i].data;
        lens[k++] = msgs[i].len;
    }
    uint64_t next = 0, last = 0;
    if (drop_ordered(c, env, lens, &k, ids, has, &next, &last) != 0) goto out;
    if (k == 0) {
        rc = 0; /* everything acked: nothing to order */
        goto out;
    }
    if (ledger_block_msg_encode(next, now_ms(), env, lens, k, &msg, &mlen, c->e) != 0) goto out;
    uint8_t d[32];
    char dh[65], id[96];
    ledger_sha256(msg, mlen, d);
    ledger_hex(d, 16, dh);
    snprintf(id, sizeof id, "blk-%" PRIu64 "-%s", next, dh);
    unsigned long long seq = 0;
    int dup = 0;
    if (bus_js_publish_expect(c->b, LEDGER_BLOCK_SUBJECT, id, msg, mlen, last, &seq, &dup, c->e) !=
        0)
        goto out;
    pthread_mutex_lock(&tip_mu);
    tip_seq = seq;
    tip_number = next;
    pthread_mutex_unlock(&tip_mu);
    if (seq > 0) { /* the next cut's check holds this block's ids until it is committed */
        size_t m = 0;
        for (size_t i = 0; i < k; i++)
            if (has[i]) memmove(ids[m++], ids[i], 32);
        ledger_pending_put(seq, (const uint8_t(*)[32])ids, m);
    }
    if (!dup && seq > 0) {
        last_block_put(seq, msg, mlen);
        msg = NULL;
    }
    c->n = k;
    rc = 0;
out:
    free(env);
    free(lens);
    free(ids);
    free(has);
    free(msg);
    if (rc != 0) c->failed = 1;
    return rc;
}

int ledger_cut_once(bus_t *b, db_pool_t *db, int max_txs, int wait_ms, size_t *n_txs, err_t *e) {
    return ledger_cut_idle(b, db, max_txs, wait_ms, 0, n_txs, e);
}

int ledger_cut_idle(bus_t *b, db_pool_t *db, int max_txs, int wait_ms, int idle_ms, size_t *n_txs,
                    err_t *e) {
    cut_ctx_t c = {b, db, 0, 0, e};
    *n_txs = 0;
    int n = bus_js_fetch_batch_idle(b, LEDGER_TX_STREAM, LEDGER_CUTTER_DURABLE, LEDGER_TX_SUBJECT,
                                    max_txs, idle_ms, wait_ms, cut_batch, &c, e);
    if (n < 0) return -1;
    if (c.failed) return -1; /* the batch was nak'ed and will be redelivered */
    *n_txs = c.n;
    return 0;
}

static pthread_mutex_t gen_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gen_cv = PTHREAD_COND_INITIALIZER;
static uint64_t commit_gen;

static void commit_notify(void) {
    pthread_mutex_lock(&gen_mu);
    commit_gen++;
    pthread_cond_broadcast(&gen_cv);
    pthread_mutex_unlock(&gen_mu);
}

uint64_t ledger_commit_gen(void) {
    pthread_mutex_lock(&gen_mu);
    uint64_t g = commit_gen;
    pthread_mutex_unlock(&gen_mu);
    return g;
}

uint64_t ledger_wait_commit(uint64_t seen, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&gen_mu);
    while (commit_gen == seen)
        if (pthread_cond_timedwait(&gen_cv, &gen_mu, &ts) != 0) break;
    uint64_t g = commit_gen;
    pthread_mutex_unlock(&gen_mu);
    return g;
}

int ledger_commit_pending(db_pool_t *db, bus_t *b, int *n_blocks, err_t *e) {
    *n_blocks = 0;
    for (;;) {
        db_tx_t *tx = NULL;
        db_scope_t sc = {0};
        ledger_head_t h;
        char *data = NULL;
        size_t len = 0;
        int found = 0;
        if (db_begin_ledger_writer(db, &sc, &tx, e) != 0) return -1;
        if (ledger_store_head(tx, &h, 1, e) != 0) goto fail;
        data = (char *)last_block_take(h.js_seq + 1, &len);
        if (data)
            found = 1;
        else if (bus_js_get_msg(b, LEDGER_BLOCK_STREAM, h.js_seq + 1, &found, &data, &len, e) != 0)
            goto fail;
        if (!found) {
            db_rollback(tx);
            return 0;
        }
        ledger_commit_info_t info;
        int rc = ledger_commit_block(tx, &h, (const uint8_t *)data, len, h.js_seq + 1, &info, e);
        free(data);
        if (rc != 0) goto fail;
        if (db_commit(tx, e) != 0) return -1;
        (*n_blocks)++;
        commit_notify();
        log_debug("ledger: committed block %" PRIu64 " (%zu txs, %zu valid)", info.number,
                  info.n_txs, info.n_valid);
        continue;
    fail:
        db_rollback(tx);
        return -1;
    }
}

static pthread_mutex_t pump_mu = PTHREAD_MUTEX_INITIALIZER;

int ledger_pump(db_pool_t *db, bus_t *b, err_t *e) {
    pthread_mutex_lock(&pump_mu);
    size_t n = 0;
    int nb = 0;
    int rc = ledger_cut_once(b, db, ledger_block_max_txs(), ledger_block_ms(), &n, e);
    if (rc != 0 && e->status == 409) { /* fenced by another cutter: commit what it ordered */
        err_clear(e);
        rc = 0;
    }
    if (rc == 0) rc = ledger_commit_pending(db, b, &nb, e);
    pthread_mutex_unlock(&pump_mu);
    return rc;
}

int ledger_pump_commit(db_pool_t *db, bus_t *b, int *n_blocks, err_t *e) {
    pthread_mutex_lock(&pump_mu);
    int rc = ledger_commit_pending(db, b, n_blocks, e);
    pthread_mutex_unlock(&pump_mu);
    return rc;
}
