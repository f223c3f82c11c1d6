/* store: see store.h. */
#include "services/ledger/store.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/outbox.h"
#include "services/ledger/keys.h"
#include "services/ledger/settings.h"

/* ---- array literals -------------------------------------------------------------------- */

static void arr_sep(ledger_buf_t *b) {
    if (b->len == 0)
        ledger_buf_put(b, "{", 1);
    else
        ledger_buf_put(b, ",", 1);
}
void ledger_arr_add(ledger_buf_t *b, const char *s) {
    arr_sep(b);
    ledger_buf_put(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') ledger_buf_put(b, "\\", 1);
        ledger_buf_put(b, s, 1);
    }
    ledger_buf_put(b, "\"", 1);
}
void ledger_arr_add_hex(ledger_buf_t *b, const uint8_t *d, size_t n) {
    static const char hx[] = "0123456789abcdef";
    char c[256]; /* hex in chunks: one ledger_buf_put per 128 bytes, not per byte */
    size_t k = 0;
    arr_sep(b);
    ledger_buf_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        c[k++] = hx[d[i] >> 4];
        c[k++] = hx[d[i] & 15];
        if (k == sizeof c) {
            ledger_buf_put(b, c, k);
            k = 0;
        }
    }
    ledger_buf_put(b, c, k);
    ledger_buf_put(b, "\"", 1);
}
const char *ledger_arr_end(ledger_buf_t *b) {
    if (b->len == 0) ledger_buf_put(b, "{", 1);
    ledger_buf_put(b, "}", 2); /* closing brace and NUL */
    return b->oom ? NULL : (const char *)b->p;
}

/* ---- head and config ------------------------------------------------------------------- */

int ledger_store_on_chain(db_pool_t *db, const uint8_t (*ids)[32], size_t n, int *on,
                          uint64_t *js_seq, err_t *e) {
    ledger_buf_t arr = {0};
    static const db_scope_t sc = {0};
    for (size_t i = 0; i < n; i++) {
        on[i] = 0;
        ledger_arr_add_hex(&arr, ids[i], 32);
    }
    const char *p[] = {ledger_arr_end(&arr)};
    if (!p[0]) {
        ledger_buf_free(&arr);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    /* one statement, one snapshot: the ids committed up to exactly that head */
    PGresult *r = db_read(db, &sc,
                          "SELECT h.js_seq, s.t FROM ledger.head h LEFT JOIN LATERAL (SELECT u.x "
                          "AS t FROM unnest($1::text[]) AS u(x) CROSS JOIN LATERAL (SELECT 1 FROM "
                          "ledger.txs WHERE tx_id = decode(u.x, 'hex') AND validation_code NOT "
                          "IN (2, 9) LIMIT 1) AS q) AS s ON true WHERE h.id = 1",
                          1, p, e);
    ledger_buf_free(&arr);
    if (!r) return -1;
    if (PQntuples(r) < 1) {
        PQclear(r);
        return err_set(e, 500, "internal", "", "ledger.head is missing");
    }
    *js_seq = strtoull(db_val(r, 0, "js_seq"), NULL, 10);
    for (int j = 0; j < PQntuples(r); j++) {
        uint8_t id[32];
        if (PQgetisnull(r, j, 1) || ledger_unhex(db_val(r, j, "t"), id, 32) != 0) continue;
        for (size_t i = 0; i < n; i++)
            if (memcmp(ids[i], id, 32) == 0) on[i] = 1;
    }
    PQclear(r);
    return 0;
}

int ledger_store_head(db_tx_t *tx, ledger_head_t *h, int for_update, err_t *e) {
    PGresult *r = db_exec(tx,
                          for_update ? "SELECT height, encode(header_hash, 'hex') AS h, log_size, "
                                       "js_seq FROM ledger.head WHERE id = 1 FOR UPDATE"
                                     : "SELECT height, encode(header_hash, 'hex') AS h, log_size, "
                                       "js_seq FROM ledger.head WHERE id = 1",
                          0, NULL, e);
    if (!r) return -1;
    if (PQntuples(r) != 1 || ledger_unhex(db_val(r, 0, "h"), h->hash, 32) != 0) {
        PQclear(r);
        return err_set(e, 500, "internal", "", "ledger.head is missing");
    }
    h->height = strtoll(db_val(r, 0, "height"), NULL, 10);
    h->log_size = strtoull(db_val(r, 0, "log_size"), NULL, 10);
    h->js_seq = strtoull(db_val(r, 0, "js_seq"), NULL, 10);
    PQclear(r);
    return 0;
}

int ledger_store_config(db_tx_t *tx, ledger_config_t *c, err_t *e) {
    memset(c, 0, sizeof *c);
    PGresult *r = db_exec(tx,
                          "SELECT org, coalesce(club_id::text, '') AS club, name FROM "
                          "ledger.orgs ORDER BY org",
                          0, NULL, e);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r); i++)
        ledger_config_add_org(c, db_val(r, i, "org"), db_val(r, i, "club"), db_val(r, i, "name"));
    PQclear(r);
    r = db_exec(tx,
                "SELECT encode(public_key, 'hex') AS pk, org, role, added_height FROM "
                "ledger.identities ORDER BY public_key",
                0, NULL, e);
    if (!r) goto fail;
    for (int i = 0; i < PQntuples(r); i++) {
        uint8_t pk[32];
        if (ledger_unhex(db_val(r, i, "pk"), pk, 32) != 0) continue;
        ledger_config_add_ident(c, pk, db_val(r, i, "org"),
                                strcmp(db_val(r, i, "role"), "admin") == 0 ? POLICY_ROLE_ADMIN
                                                                           : POLICY_ROLE_MEMBER,
                                strtoll(db_val(r, i, "added_height"), NULL, 10));
    }
    PQclear(r);
    r = db_exec(tx, "SELECT encode(public_key, 'hex') AS pk FROM ledger.revocations", 0, NULL, e);
    if (!r) goto fail;
    for (int i = 0; i < PQntuples(r); i++) {
        uint8_t pk[32];
        if (ledger_unhex(db_val(r, i, "pk"), pk, 32) == 0) ledger_config_add_revoked(c, pk);
    }
    PQclear(r);
    return 0;
fail:
    ledger_config_free(c);
    return -1;
}

/* ---- the log from stored subtrees ------------------------------------------------------ */

typedef struct tnode {
    int lvl;
    uint64_t idx;
    uint8_t h[32];
    int have;
} tnode_t;
typedef struct tnodes {
    int record;
    size_t n, cap;
    tnode_t *v;
    int missing, oom;
} tnodes_t;

static void tn_get(tnodes_t *t, int lvl, uint64_t idx, uint8_t out[32]) {
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].lvl == lvl && t->v[i].idx == idx) {
            if (t->v[i].have)
                memcpy(out, t->v[i].h, 32);
            else
                memset(out, 0, 32);
            if (!t->record && !t->v[i].have) t->missing = 1;
            return;
        }
    memset(out, 0, 32);
    if (!t->record) {
        t->missing = 1;
        return;
    }
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        tnode_t *p = realloc(t->v, nc * sizeof *p);
        if (!p) {
            t->oom = 1;
            return;
        }
        t->v = p;
        t->cap = nc;
    }
    t->v[t->n++] = (tnode_t){lvl, idx, {0}, 0};
}

static uint64_t pow2_below(uint64_t n) { /* largest power of two < n, n >= 2 */
    uint64_t k = 1;
    while ((k << 1) < n)
        k <<= 1;
    return k;
}

static void mth(tnodes_t *t, uint64_t lo, uint64_t hi, uint8_t out[32]) {
    uint64_t n = hi - lo;
    if ((n & (n - 1)) == 0) {
        int lvl = __builtin_ctzll(n);
        tn_get(t, lvl, lo >> lvl, out);
        return;
    }
    uint64_t k = pow2_below(n);
    uint8_t l[32], r[32];
    mth(t, lo, lo + k, l);
    mth(t, lo + k, hi, r);
    merkle_node_hash(l, r, out, NULL);
}

static void path(tnodes_t *t, uint64_t m, uint64_t lo, uint64_t hi, merkle_hash_t *proof,
                 size_t *len) {
    uint64_t n = hi - lo;
    if (n <= 1) return;
    uint64_t k = pow2_below(n);
    if (m < lo + k) {
        path(t, m, lo, lo + k, proof, len);
        mth(t, lo + k, hi, proof[(*len)++]);
    } else {
        path(t, m, lo + k, hi, proof, len);
        mth(t, lo, lo + k, proof[(*len)++]);
    }
}

static void subproof(tnodes_t *t, uint64_t m, uint64_t lo, uint64_t hi, int b, merkle_hash_t *proof,
                     size_t *len) {
    uint64_t n = hi - lo;
    if (m == n) {
        if (!b) mth(t, lo, hi, proof[(*len)++]);
        return;
    }
    uint64_t k = pow2_below(n);
    if (m <= k) {
        subproof(t, m, lo, lo + k, b, proof, len);
        mth(t, lo + k, hi, proof[(*len)++]);
    } else {
        subproof(t, m - k, lo + k, hi, 0, proof, len);
        mth(t, lo, lo + k, proof[(*len)++]);
    }
}

/* Fetches every recorded node in one query: one primary-key lookup per node (the LATERAL ...
 * LIMIT 1 keeps the planner from hashing the whole table: 34 ms -> sub-ms at 100k leaves). */
static int tn_fetch(db_tx_t *tx, tnodes_t *t, err_t *e) {
    if (t->oom) return err_set(e, 500, "internal", "", "out of memory");
    if (t->n == 0) return 0;
    ledger_buf_t ls = {0}, is = {0};
    for (size_t i = 0; i < t->n; i++) {
        char a[32];
        snprintf(a, sizeof a, "%d", t->v[i].lvl);
        ledger_arr_add(&ls, a);
        snprintf(a, sizeof a, "%" PRIu64, t->v[i].idx);
        ledger_arr_add(&is, a);
    }
    const char *p[] = {ledger_arr_end(&ls), ledger_arr_end(&is)};
    PGresult *r = NULL;
    if (!p[0] || !p[1])
        err_set(e, 500, "internal", "", "out of memory");
    else
        r = db_exec(tx,
                    "SELECT k.l AS level, k.i AS idx, x.h FROM unnest($1::int[], $2::bigint[]) AS "
                    "k(l, i) CROSS JOIN LATERAL (SELECT encode(n.hash, 'hex') AS h FROM "
                    "ledger.log_nodes n WHERE n.level = k.l AND n.idx = k.i LIMIT 1) AS x",
                    2, p, e);
    ledger_buf_free(&ls);
    ledger_buf_free(&is);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int lvl = atoi(db_val(r, i, "level"));
        uint64_t idx = strtoull(db_val(r, i, "idx"), NULL, 10);
        for (size_t j = 0; j < t->n; j++)
            if (t->v[j].lvl == lvl && t->v[j].idx == idx &&
                ledger_unhex(db_val(r, i, "h"), t->v[j].h, 32) == 0)
                t->v[j].have = 1;
    }
    PQclear(r);
    t->record = 0;
    return 0;
}

static int tree_size_ok(db_tx_t *tx, uint64_t size, err_t *e) {
    ledger_head_t h;
    if (ledger_store_head(tx, &h, 0, e) != 0) return -1;
    if (size > h.log_size)
        return err_set(e, 404, "not_found", "size", "the log has only %" PRIu64 " entries",
                       h.log_size);
    return 0;
}

int ledger_tree_root(db_tx_t *tx, uint64_t size, uint8_t root[32], err_t *e) {
    if (size == 0) return merkle_empty_root(root, e);
    if (tree_size_ok(tx, size, e) != 0) return -1;
    tnodes_t t = {.record = 1};
    mth(&t, 0, size, root);
    int rc = tn_fetch(tx, &t, e);
    if (rc == 0) mth(&t, 0, size, root);
    if (rc == 0 && t.missing) rc = err_set(e, 500, "internal", "", "log nodes missing");
    free(t.v);
    return rc;
}

int ledger_tree_inclusion(db_tx_t *tx, uint64_t index, uint64_t size, merkle_hash_t *proof,
                          size_t *len, err_t *e) {
    *len = 0;
    if (index >= size) return err_invalid(e, "index", "index beyond the size");
    if (tree_size_ok(tx, size, e) != 0) return -1;
    tnodes_t t = {.record = 1};
    path(&t, index, 0, size, proof, len);
    int rc = tn_fetch(tx, &t, e);
    *len = 0;
    if (rc == 0) path(&t, index, 0, size, proof, len);
    if (rc == 0 && t.missing) rc = err_set(e, 500, "internal", "", "log nodes missing");
    free(t.v);
    return rc;
}

int ledger_tree_consistency(db_tx_t *tx, uint64_t m, uint64_t n, merkle_hash_t *proof, size_t *len,
                            err_t *e) {
    *len = 0;
    if (m == 0 || m > n) return err_invalid(e, "first", "need 0 < first <= second");
    if (tree_size_ok(tx, n, e) != 0) return -1;
    if (m == n) return 0;
    tnodes_t t = {.record = 1};
    subproof(&t, m, 0, n, 1, proof, len);
    int rc = tn_fetch(tx, &t, e);
    *len = 0;
    if (rc == 0) subproof(&t, m, 0, n, 1, proof, len);
    if (rc == 0 && t.missing) rc = err_set(e, 500, "internal", "", "log nodes missing");
    free(t.v);
    return rc;
}

int ledger_log_signer(db_tx_t *tx, checkpoint_signer_t *s, err_t *e) {
    uint8_t sk[64], pk[32];
    int found = 0;
    if (ledger_key_load(tx, LEDGER_LOG_KEY, sk, pk, &found, e) != 0) return -1;
    if (!found) return err_set(e, 503, "unavailable", "", "the ledger is not bootstrapped");
    int rc = checkpoint_signer_init(s, ledger_origin(), sk, e);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

/* ---- commit ---------------------------------------------------------------------------- */

static int exec_cmd(db_tx_t *tx, const char *sql, int n, const char *const *p, err_t *e) {
    return db_exec_cmd(tx, sql, n, p, e) < 0 ? -1 : 0;
}

static int save_config(db_tx_t *tx, const ledger_config_t *c, uint64_t height, err_t *e) {
    char hs[32];
    snprintf(hs, sizeof hs, "%" PRIu64, height);
    if (exec_cmd(tx, "DELETE FROM ledger.identities", 0, NULL, e) != 0 ||
        exec_cmd(tx, "DELETE FROM ledger.orgs", 0, NULL, e) != 0)
        return -1;
    for (size_t i = 0; i < c->n_orgs; i++) {
        const char *p[] = {c->orgs[i].org, c->orgs[i].club_id[0] ? c->orgs[i].club_id : NULL,
                           c->orgs[i].name, hs};
        if (exec_cmd(tx,
                     "INSERT INTO ledger.orgs (org, club_id, name, updated_height) VALUES ($1, "
                     "$2::uuid, $3, $4)",
                     4, p, e) != 0)
            return -1;
    }
    for (size_t i = 0; i < c->n_ids; i++) {
        char pk[65], ah[32];
        ledger_hex(c->ids[i].pk, 32, pk);
        snprintf(ah, sizeof ah, "%" PRId64, c->ids[i].added_height);
        const char *p[] = {pk, c->ids[i].org,
                           c->ids[i].role == POLICY_ROLE_ADMIN ? "admin" : "member", ah};
        if (exec_cmd(tx,
                     "INSERT INTO ledger.identities (public_key, org, role, added_height) VALUES "
                     "(decode($1, 'hex'), $2, $3, $4)",
                     4, p, e) != 0)
            return -1;
    }
    for (size_t i = 0; i < c->n_revoked; i++) {
        char pk[65];
        ledger_hex(c->revoked[i], 32, pk);
        const char *p[] = {pk, hs};
        if (exec_cmd(tx,
                     "INSERT INTO ledger.revocations (public_key, height) VALUES (decode($1, "
                     "'hex'), $2) ON CONFLICT DO NOTHING",
                     2, p, e) != 0)
            return -1;
    }
    json_t *j = ledger_config_to_json(c);
    char *js = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!js) return err_set(e, 500, "internal", "", "out of memory");
    const char *p[] = {hs, js};
    int rc =
        exec_cmd(tx, "INSERT INTO ledger.config_history (height, config) VALUES ($1, $2)", 2, p, e);
    free(js);
    return rc;
}

/* ledger.config_changed {block_number}: the block changed the configuration (an organisation
 * registered or replaced, a key revoked). Whoever keeps what the configuration says (governance
 * keeps the clubs' signers, presigned.h) drops it; published by the outbox after the commit. */
static int config_changed_event(db_tx_t *tx, uint64_t number, err_t *e) {
    json_t *d = json_pack("{s:I}", "block_number", (json_int_t)number);
    if (!d) return err_set(e, 500, "internal", "", "out of memory");
    int rc =
        outbox_add(tx, "ledger", LEDGER_CONFIG_CHANGED_EVENT, "ledger", NULL, d, NULL, NULL, e);
    json_decref(d);
    return rc;
}

/* Loads the versions of every key the block reads and the tx ids already on the chain. */
static int prefetch(db_tx_t *tx, const ledger_block_msg_t *m, ledger_kvmap_t *versions,
                    ledger_kvmap_t *seen, err_t *e) {
    ledger_buf_t keys = {0}, ids = {0};
    int rc = -1;
    PGresult *r = NULL;
    for (size_t i = 0; i < m->n; i++) {
        ledger_envelope_t env;
        txcodec_tx_t t;
        err_t de = {0};
        if (ledger_envelope_decode(m->env[i], m->env_len[i], &env, &de) != 0 ||
            txcodec_decode(env.tx, env.tx_len, &t, &de) != 0)
            continue;
        ledger_arr_add_hex(&ids, t.tx_id, 32);
        for (size_t j = 0; j < t.n_reads; j++)
            ledger_arr_add_hex(&keys, t.reads[j].key, t.reads[j].key_len);
        txcodec_tx_free(&t);
    }
    const char *pk[] = {ledger_arr_end(&keys)}, *pi[] = {ledger_arr_end(&ids)};
    if (!pk[0] || !pi[0]) {
        err_set(e, 500, "internal", "", "out of memory");
        goto out;
    }
    /* one primary-key lookup per key and per tx id (LATERAL ... LIMIT 1): with "= ANY (ARRAY(
     * SELECT ...))" the planner, on a not yet analysed table, filtered a sequential scan of
     * ledger.txs with the whole array per row (byteaeq/memcmp were most of the committer's
     * PostgreSQL time; the cost grew with the chain) */
    r = db_exec(tx,
                "SELECT u.x AS k, s.version FROM unnest($1::text[]) AS u(x) CROSS JOIN LATERAL "
                "(SELECT version FROM ledger.state WHERE key = decode(u.x, 'hex') LIMIT 1) AS s",
                1, pk, e);
    if (!r) goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *kh = db_val(r, i, "k");
        size_t kl = strlen(kh) / 2;
        uint8_t *kb = malloc(kl ? kl : 1);
        if (!kb || ledger_unhex(kh, kb, kl) != 0 ||
            ledger_kvmap_set(versions, kb, kl, strtoull(db_val(r, i, "version"), NULL, 10)) != 0) {
            free(kb);
            err_set(e, 500, "internal", "", "out of memory");
            goto out;
        }
        free(kb);
    }
    PQclear(r);
    r = db_exec(tx,
                "SELECT u.x AS t FROM unnest($1::text[]) AS u(x) CROSS JOIN LATERAL (SELECT 1 FROM "
                "ledger.txs WHERE tx_id = decode(u.x, 'hex') AND validation_code NOT IN (2, 9) "
                "LIMIT 1) AS s",
                1, pi, e);
    if (!r) goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        uint8_t id[32];
        if (ledger_unhex(db_val(r, i, "t"), id, 32) == 0) ledger_kvmap_set(seen, id, 32, 1);
    }
    rc = 0;
out:
    PQclear(r);
    ledger_buf_free(&keys);
    ledger_buf_free(&ids);
    return rc;
}

/* Appends leaves to the log: loads the frontier of size n, inserts every new complete node and
 * returns the new root. */
static int log_append(db_tx_t *tx, uint64_t n, const ledger_tx_result_t *txs, size_t k,
                      uint8_t root[32], err_t *e) {
    uint8_t front[64][32];
    tnodes_t t = {.record = 1};
    for (int b = 0; b < 64; b++)
        if ((n >> b) & 1) tn_get(&t, b, (n >> b) - 1, front[b]);
    if (tn_fetch(tx, &t, e) != 0) {
        free(t.v);
        return -1;
    }
    for (int b = 0; b < 64; b++)
        if ((n >> b) & 1) tn_get(&t, b, (n >> b) - 1, front[b]);
    int missing = t.missing;
    free(t.v);
    if (missing) return err_set(e, 500, "internal", "", "log frontier missing");
    ledger_buf_t ls = {0}, is = {0}, hs = {0};
    for (size_t i = 0; i < k; i++) {
        uint64_t size = n + i;
        uint8_t h[32];
        int lvl = 0;
        char a[32];
        memcpy(h, txs[i].leaf, 32);
        for (;;) {
            snprintf(a, sizeof a, "%d", lvl);
            ledger_arr_add(&ls, a);
            snprintf(a, sizeof a, "%" PRIu64, size >> lvl);
            ledger_arr_add(&is, a);
            ledger_arr_add_hex(&hs, h, 32);
            if (!(((size >> lvl) & 1))) break;
            merkle_node_hash(front[lvl], h, h, NULL);
            lvl++;
        }
        memcpy(front[lvl], h, 32);
    }
    uint64_t total = n + k;
    int have = 0;
    for (int b = 0; b < 64; b++) {
        if (!((total >> b) & 1)) continue;
        if (!have)
            memcpy(root, front[b], 32);
        else
            merkle_node_hash(front[b], root, root, NULL);
        have = 1;
    }
    const char *p[] = {ledger_arr_end(&ls), ledger_arr_end(&is), ledger_arr_end(&hs)};
    int rc = -1;
    if (!p[0] || !p[1] || !p[2])
        err_set(e, 500, "internal", "", "out of memory");
    else
        rc = exec_cmd(tx,
                      "INSERT INTO ledger.log_nodes (level, idx, hash) SELECT l, i, decode(h, "
                      "'hex') FROM unnest($1::int[], $2::bigint[], $3::text[]) AS u(l, i, h)",
                      3, p, e);
    ledger_buf_free(&ls);
    ledger_buf_free(&is);
    ledger_buf_free(&hs);
    return rc;
}

static int save_state(db_tx_t *tx, const ledger_block_result_t *res, uint64_t number, err_t *e) {
    if (res->n_writes == 0) return 0;
    ledger_kvmap_t *done = ledger_kvmap_new();
    ledger_buf_t pk = {0}, pv = {0}, pp = {0}, dk = {0};
    int rc = -1;
    if (!done) return err_set(e, 500, "internal", "", "out of memory");
    /* the last write of a key in the block wins */
    for (size_t i = res->n_writes; i-- > 0;) {
        const struct ledger_eff_write *w = &res->writes[i];
        int seen = 0;
        ledger_kvmap_get(done, w->key, w->key_len, &seen);
        if (seen) continue;
        ledger_kvmap_set(done, w->key, w->key_len, 1);
        if (w->is_delete) {
            ledger_arr_add_hex(&dk, w->key, w->key_len);
            continue;
        }
        char a[16];
        ledger_arr_add_hex(&pk, w->key, w->key_len);
        ledger_arr_add_hex(&pv, w->value, w->value_len);
        snprintf(a, sizeof a, "%u", w->position);
        ledger_arr_add(&pp, a);
    }
    char ns[32];
    snprintf(ns, sizeof ns, "%" PRIu64, number);
    if (pk.len) {
        const char *p[] = {ns, ledger_arr_end(&pk), ledger_arr_end(&pv), ledger_arr_end(&pp)};
        if (!p[1] || !p[2] || !p[3]) goto oom;
        if (exec_cmd(tx,
                     "INSERT INTO ledger.state (key, value, block, position, version) SELECT "
                     "decode(k, 'hex'), decode(v, 'hex'), $1::bigint, p, $1::bigint * 16777216 + "
                     "p + 1 FROM unnest($2::text[], $3::text[], $4::int[]) AS u(k, v, p) ON "
                     "CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, block = EXCLUDED.block, "
                     "position = EXCLUDED.position, version = EXCLUDED.version",
                     4, p, e) != 0)
            goto out;
    }
    if (dk.len) {
        const char *p[] = {ledger_arr_end(&dk)};
        if (!p[0]) goto oom;
        if (exec_cmd(tx,
                     "DELETE FROM ledger.state WHERE ctid = ANY (ARRAY(SELECT s.ctid FROM "
                     "unnest($1::text[]) AS u(x) CROSS JOIN LATERAL (SELECT ctid FROM "
                     "ledger.state WHERE key = decode(u.x, 'hex') LIMIT 1) AS s))",
                     1, p, e) != 0)
            goto out;
    }
    rc = 0;
    goto out;
oom:
    err_set(e, 500, "internal", "", "out of memory");
out:
    ledger_kvmap_free(done);
    ledger_buf_free(&pk);
    ledger_buf_free(&pv);
    ledger_buf_free(&pp);
    ledger_buf_free(&dk);
    return rc;
}

static int save_txs(db_tx_t *tx, const ledger_block_msg_t *m, const ledger_block_result_t *res,
                    uint64_t first, err_t *e) {
    ledger_buf_t ids = {0}, types = {0}, cr = {0}, codes = {0}, envs = {0}, leaves = {0};
    for (size_t i = 0; i < res->n; i++) {
        char a[16];
        ledger_arr_add_hex(&ids, res->tx[i].tx_id, 32);
        ledger_arr_add(&types, res->tx[i].type);
        ledger_arr_add(&cr, res->tx[i].creator);
        snprintf(a, sizeof a, "%d", res->tx[i].code);
        ledger_arr_add(&codes, a);
        ledger_arr_add_hex(&envs, m->env[i], m->env_len[i]);
        ledger_arr_add_hex(&leaves, res->tx[i].leaf, 32);
    }
    char ns[32], fs[32];
    snprintf(ns, sizeof ns, "%" PRIu64, m->number);
    snprintf(fs, sizeof fs, "%" PRIu64, first);
    const char *p[] = {ns,
                       fs,
                       ledger_arr_end(&ids),
                       ledger_arr_end(&types),
                       ledger_arr_end(&cr),
                       ledger_arr_end(&codes),
                       ledger_arr_end(&envs),
                       ledger_arr_end(&leaves)};
    int rc = -1;
    int ok = 1;
    for (int i = 2; i < 8; i++)
        ok = ok && p[i];
    if (!ok)
        err_set(e, 500, "internal", "", "out of memory");
    else
        rc = exec_cmd(
            tx,
            "INSERT INTO ledger.txs (block_number, position, log_index, tx_id, type, creator_org, "
            "validation_code, envelope, leaf_hash) SELECT $1::bigint, (o - 1)::int, $2::bigint + "
            "o - 1, decode(t, 'hex'), ty, c, v::smallint, decode(en, 'hex'), decode(l, 'hex') FROM "
            "unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[]) WITH "
            "ORDINALITY AS u(t, ty, c, v, en, l, o)",
            8, p, e);
    ledger_buf_free(&ids);
    ledger_buf_free(&types);
    ledger_buf_free(&cr);
    ledger_buf_free(&codes);
    ledger_buf_free(&envs);
    ledger_buf_free(&leaves);
    return rc;
}

/* The checkpoint after block `block` binds the block to the log: its extension line
 * (ledger_checkpoint_block_line) carries the block's number and header hash, which covers the
 * block's boundaries, timestamp, roots and validation codes and, through the prev_hash links,
 * every block before it. */
static int sign_checkpoint(db_tx_t *tx, uint64_t size, const uint8_t root[32], uint64_t block,
                           const uint8_t header_hash[32], err_t *e) {
    checkpoint_signer_t s;
    char *body = NULL, *note = NULL, ext[LEDGER_BLOCK_LINE_MAX];
    const char *exts[] = {ext};
    size_t bl = 0, nl = 0;
    int rc = -1;
    ledger_checkpoint_block_line(block, header_hash, ext);
    if (ledger_log_signer(tx, &s, e) != 0) return -1;
    if (checkpoint_format_body(ledger_origin(), size, root, exts, 1, &body, &bl, e) != 0) goto out;
    if (checkpoint_sign(body, bl, &s, &note, &nl, e) != 0) goto out;
    char ss[32], bs[32], rh[65];
    snprintf(ss, sizeof ss, "%" PRIu64, size);
    snprintf(bs, sizeof bs, "%" PRIu64, block);
    ledger_hex(root, 32, rh);
    const char *p[] = {ss, rh, bs, note};
    rc = exec_cmd(tx,
                  "INSERT INTO ledger.checkpoints (size, root, block_number, note) VALUES ($1, "
                  "decode($2, 'hex'), $3, $4)",
                  4, p, e);
out:
    checkpoint_signer_wipe(&s);
    free(body);
    free(note);
    return rc;
}

static int emit_events(db_tx_t *tx, const ledger_block_result_t *res, uint64_t number,
                       uint64_t first, err_t *e) {
    /* one INSERT for the block's events (one per transaction was a round trip per tx) */
    json_t **d = calloc(res->n ? res->n : 1, sizeof *d);
    int rc = d ? 0 : err_set(e, 500, "internal", "", "out of memory");
    for (size_t i = 0; rc == 0 && i < res->n; i++) {
        char id[65];
        ledger_hex(res->tx[i].tx_id, 32, id);
        d[i] =
            json_pack("{s:s,s:I,s:I,s:I,s:s,s:s,s:s}", "tx_id", id, "block_number",
                      (json_int_t)number, "position", (json_int_t)i, "log_index",
                      (json_int_t)(first + i), "validation_code", ledger_code_name(res->tx[i].code),
                      "type", res->tx[i].type, "creator", res->tx[i].creator);
        if (!d[i]) rc = err_set(e, 500, "internal", "", "out of memory");
    }
    if (rc == 0)
        rc = outbox_add_many(tx, "ledger", "blockchain.transaction_committed", "ledger", NULL, d,
                             res->n, NULL, e);
    for (size_t i = 0; d && i < res->n; i++)
        json_decref(d[i]);
    free(d);
    return rc;
}

/* ---- endorsement signatures, checked ahead on every core -------------------------------- */

/* Blocks with fewer envelopes are checked on the committer's thread alone. */
#define SIG_PARALLEL_MIN 16
#define SIG_MAX_THREADS 4

typedef struct sig_job {
    const ledger_block_msg_t *m;
    uint64_t *ok;
    size_t from, step;
} sig_job_t;

/* Envelopes from, from + step, ...: bit j of ok[i] = endorsement j of envelope i holds. Every
 * endorsement is checked (not only those of known identities: a config transaction earlier in
 * the block may add the key), so the bits are a pure function of the bytes, as in the offline
 * verifier; an envelope that does not decode keeps 0 (validation marks it BAD_PAYLOAD). */
static void *sig_work(void *arg) {
    sig_job_t *j = arg;
    ledger_envelope_t *env = malloc(sizeof *env);
    if (!env) return NULL; /* its bits stay 0: ledger_commit_block checks the flag below */
    for (size_t i = j->from; i < j->m->n; i += j->step) {
        err_t e = {0};
        if (ledger_envelope_decode(j->m->env[i], j->m->env_len[i], env, &e) != 0) continue;
        for (size_t k = 0; k < env->n_end && k < 64; k++)
            if (ledger_endorsement_ok(env->tx, env->tx_len, &env->end[k]))
                j->ok[i] |= (uint64_t)1 << k;
    }
    free(env);
    j->m = NULL; /* done */
    return NULL;
}

/* The block's signature bits (ledger_block_msg_t.sig_ok), checked on up to SIG_MAX_THREADS
 * threads (the online cores): libsodium's Ed25519 verify (~50 µs on this box, two per
 * transaction) was the committer's largest cost, on one core. NULL when memory or a worker
 * failed: validation then checks each signature itself. Caller frees. */
static uint64_t *sig_check(const ledger_block_msg_t *m) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = m->n < SIG_PARALLEL_MIN || cores < 2 ? 1 : (size_t)cores;
    if (nt > SIG_MAX_THREADS) nt = SIG_MAX_THREADS;
    uint64_t *ok = calloc(m->n ? m->n : 1, sizeof *ok);
    sig_job_t jobs[SIG_MAX_THREADS];
    pthread_t th[SIG_MAX_THREADS];
    int started[SIG_MAX_THREADS] = {0}, failed = 0;
    if (!ok) return NULL;
    for (size_t t = 0; t < nt; t++)
        jobs[t] = (sig_job_t){m, ok, t, nt};
    for (size_t t = 1; t < nt; t++)
        started[t] = pthread_create(&th[t], NULL, sig_work, &jobs[t]) == 0;
    for (size_t t = 1; t < nt; t++)
        if (!started[t]) sig_work(&jobs[t]); /* no thread: do its share here */
    sig_work(&jobs[0]);
    for (size_t t = 1; t < nt; t++)
        if (started[t]) pthread_join(th[t], NULL);
    for (size_t t = 0; t < nt; t++)
        if (jobs[t].m) failed = 1; /* out of memory in a worker */
    if (failed) {
        free(ok);
        return NULL;
    }
    return ok;
}

int ledger_commit_block(db_tx_t *tx, const ledger_head_t *head, const uint8_t *msg, size_t len,
                        uint64_t js_seq, ledger_commit_info_t *info, err_t *e) {
    ledger_block_msg_t m;
    ledger_block_result_t res = {0};
    ledger_config_t cfg = {0};
    ledger_kvmap_t *versions = NULL, *seen = NULL;
    uint64_t *sig_ok = NULL;
    int rc = -1;
    if (ledger_block_msg_decode(msg, len, &m, e) != 0) return -1;
    if ((int64_t)m.number != head->height + 1) {
        err_set(e, 409, "conflict", "block", "block %" PRIu64 " does not follow height %" PRId64,
                m.number, head->height);
        goto out;
    }
    versions = ledger_kvmap_new();
    seen = ledger_kvmap_new();
    if (!versions || !seen) {
        err_set(e, 500, "internal", "", "out of memory");
        goto out;
    }
    if (ledger_store_config(tx, &cfg, e) != 0) goto out;
    if (prefetch(tx, &m, versions, seen, e) != 0) goto out;
    sig_ok = sig_check(&m);
    m.sig_ok = sig_ok;
    if (ledger_validate_block(&m, head->hash, head->log_size, &cfg, versions, seen, &res, e) != 0)
        goto out;

    char ns[32], hs[4][65], ts[32], cnt[16], first[32], seq[32], hh[65], ls[32];
    snprintf(ns, sizeof ns, "%" PRIu64, m.number);
    ledger_hex(res.hdr.prev_hash, 32, hs[0]);
    ledger_hex(res.hdr.data_root, 32, hs[1]);
    ledger_hex(res.hdr.validation_root, 32, hs[2]);
    ledger_hex(res.hdr.writeset_hash, 32, hs[3]);
    ledger_hex(res.header_hash, 32, hh);
    snprintf(ts, sizeof ts, "%" PRId64, res.hdr.timestamp_ms);
    snprintf(cnt, sizeof cnt, "%u", res.hdr.tx_count);
    snprintf(first, sizeof first, "%" PRIu64, res.hdr.first_log_index);
    snprintf(seq, sizeof seq, "%" PRIu64, js_seq);
    {
        const char *p[] = {ns, hs[0], hs[1], hs[2], hs[3], ts, cnt, first, hh, seq};
        if (exec_cmd(tx,
                     "INSERT INTO ledger.blocks (number, prev_hash, data_root, validation_root, "
                     "writeset_hash, timestamp_ms, tx_count, first_log_index, header_hash, js_seq) "
                     "VALUES ($1, decode($2, 'hex'), decode($3, 'hex'), decode($4, 'hex'), "
                     "decode($5, 'hex'), $6, $7, $8, decode($9, 'hex'), $10)",
                     10, p, e) != 0)
            goto out;
    }
    if (save_txs(tx, &m, &res, head->log_size, e) != 0) goto out;
    uint8_t root[32];
    if (log_append(tx, head->log_size, res.tx, res.n, root, e) != 0) goto out;
    if (save_state(tx, &res, m.number, e) != 0) goto out;
    if (res.config_changed &&
        (save_config(tx, &cfg, m.number, e) != 0 || config_changed_event(tx, m.number, e) != 0))
        goto out;
    uint64_t size = head->log_size + res.n;
    snprintf(ls, sizeof ls, "%" PRIu64, size);
    {
        const char *p[] = {ns, hh, ls, seq};
        if (exec_cmd(tx,
                     "UPDATE ledger.head SET height = $1, header_hash = decode($2, 'hex'), "
                     "log_size = $3, js_seq = $4 WHERE id = 1",
                     4, p, e) != 0)
            goto out;
    }
    if (sign_checkpoint(tx, size, root, m.number, res.header_hash, e) != 0) goto out;
    if (emit_events(tx, &res, m.number, head->log_size, e) != 0) goto out;
    if (info) {
        info->number = m.number;
        info->n_txs = res.n;
        info->n_valid = 0;
        for (size_t i = 0; i < res.n; i++)
            if (res.tx[i].code == LEDGER_VALID) info->n_valid++;
        info->log_size = size;
    }
    rc = 0;
out:
    ledger_block_result_free(&res);
    ledger_config_free(&cfg);
    ledger_kvmap_free(versions);
    ledger_kvmap_free(seen);
    free(sig_ok);
    ledger_block_msg_free(&m);
    return rc;
}

/* ---- witnesses ------------------------------------------------------------------------- */

int ledger_witness_cosign(db_tx_t *tx, const char *org, const char *note, size_t note_len,
                          char **line, err_t *e) {
    checkpoint_note_t cn;
    checkpoint_verifier_t v;
    checkpoint_signer_t log, w;
    int have_log = 0, have_w = 0, rc = -1;
    PGresult *r = NULL;
    if (line) *line = NULL;
    memset(&cn, 0, sizeof cn);
    if (ledger_log_signer(tx, &log, e) != 0) return -1;
    have_log = 1;
    if (checkpoint_verifier_init(&v, log.name, log.pk, e) != 0) goto out;
    if (checkpoint_open(note, note_len, &v, 1, &cn, NULL, NULL, e) != 0) goto out;
    if (strcmp(cn.cp.origin, ledger_origin()) != 0) {
        err_invalid(e, "note", "checkpoint of another log");
        goto out;
    }
    const char *p1[] = {org};
    r = db_exec(tx,
                "SELECT size, encode(root, 'hex') AS root FROM ledger.witness_state WHERE org = "
                "$1 FOR UPDATE",
                1, p1, e);
    if (!r) goto out;
    uint64_t old = 0;
    uint8_t old_root[32];
    if (PQntuples(r) == 1) {
        old = strtoull(db_val(r, 0, "size"), NULL, 10);
        ledger_unhex(db_val(r, 0, "root"), old_root, 32);
    }
    PQclear(r);
    r = NULL;
    if (cn.cp.size < old) {
        err_set(e, 409, "rollback", "size",
                "refusing to go backwards: cosigned size %" PRIu64 ", offered %" PRIu64, old,
                cn.cp.size);
        goto out;
    }
    if (old > 0 && cn.cp.size == old && memcmp(old_root, cn.cp.root, 32) != 0) {
        err_set(e, 409, "fork", "root", "a different root for the cosigned size %" PRIu64, old);
        goto out;
    }
    if (old > 0 && cn.cp.size > old) {
        merkle_hash_t proof[MERKLE_MAX_PROOF];
        size_t pl = 0;
        if (ledger_tree_consistency(tx, old, cn.cp.size, proof, &pl, e) != 0) goto out;
        if (merkle_verify_consistency(old, cn.cp.size, old_root, cn.cp.root,
                                      (const merkle_hash_t *)proof, pl, e) != 0)
            goto out;
    } else if (old == 0 && cn.cp.size > 0) {
        /* first cosignature: the root must be the log's at that size */
        uint8_t root[32];
        if (ledger_tree_root(tx, cn.cp.size, root, e) != 0) goto out;
        if (memcmp(root, cn.cp.root, 32) != 0) {
            err_set(e, 422, "invalid_proof", "root", "root differs from the log");
            goto out;
        }
    }
    /* persist, then sign */
    char ss[32], rh[65], kn[POLICY_MAX_ORG + 8];
    snprintf(ss, sizeof ss, "%" PRIu64, cn.cp.size);
    ledger_hex(cn.cp.root, 32, rh);
    {
        const char *p[] = {org, ss, rh};
        if (exec_cmd(tx,
                     "INSERT INTO ledger.witness_state (org, size, root) VALUES ($1, $2, "
                     "decode($3, 'hex')) ON CONFLICT (org) DO UPDATE SET size = EXCLUDED.size, "
                     "root = EXCLUDED.root, updated_at = now()",
                     3, p, e) != 0)
            goto out;
    }
    uint8_t sk[64], pk[32];
    int found = 0;
    snprintf(kn, sizeof kn, "%s/admin", org);
    if (ledger_key_load(tx, kn, sk, pk, &found, e) != 0) goto out;
    if (!found) {
        err_set(e, 404, "not_found", "org", "no witness key for %s", org);
        goto out;
    }
    rc = checkpoint_signer_init(&w, org, sk, e);
    sodium_memzero(sk, sizeof sk);
    if (rc != 0) goto out;
    have_w = 1;
    rc = -1;
    char sl[512];
    size_t sll = 0;
    if (checkpoint_sig_line(cn.text, cn.text_len, &w, sl, sizeof sl, &sll, e) != 0) goto out;
    {
        const char *p[] = {ss, org, sl};
        if (exec_cmd(tx,
                     "INSERT INTO ledger.cosignatures (size, org, sig_line) VALUES ($1, $2, $3) "
                     "ON CONFLICT DO NOTHING",
                     3, p, e) != 0)
            goto out;
    }
    if (line && !(*line = strdup(sl))) {
        err_set(e, 500, "internal", "", "out of memory");
        goto out;
    }
    rc = 0;
out:
    PQclear(r);
    if (have_log) checkpoint_signer_wipe(&log);
    if (have_w) checkpoint_signer_wipe(&w);
    checkpoint_note_free(&cn);
    return rc;
}

int ledger_witness_count(db_tx_t *tx, uint64_t size, int *count, err_t *e) {
    char ss[32];
    snprintf(ss, sizeof ss, "%" PRIu64, size);
    const char *p[] = {ss};
    PGresult *r =
        db_exec(tx, "SELECT count(*) AS n FROM ledger.witness_state WHERE size >= $1", 1, p, e);
    if (!r) return -1;
    *count = atoi(db_val(r, 0, "n"));
    PQclear(r);
    return 0;
}
