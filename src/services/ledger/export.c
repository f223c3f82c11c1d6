/* export: see export.h. */
#include "services/ledger/export.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "services/ledger/engine.h"
#include "services/ledger/settings.h"
#include "services/ledger/store.h"
#include "services/ledger/verify.h"

static int wr_err(err_t *e) {
    return err_set(e, 500, "internal", "file", "cannot write the export");
}

/* one object as one line */
static int put_line(FILE *f, json_t *o, err_t *e) {
    int rc = o && json_dumpf(o, f, JSON_COMPACT | JSON_SORT_KEYS) == 0 && fputc('\n', f) != EOF
                 ? 0
                 : wr_err(e);
    json_decref(o);
    return rc;
}

int ledger_export_write_header(FILE *f, const char *origin, const char *log_pk_hex, err_t *e) {
    return put_line(f,
                    json_pack("{s:s,s:s,s:s}", "format", LEDGER_EXPORT_V2, "log_public_key",
                              log_pk_hex, "origin", origin),
                    e);
}

int ledger_export_write_block(FILE *f, json_t *block, err_t *e) {
    return put_line(f, json_pack("{s:O}", "block", block), e);
}

int ledger_export_write_checkpoint(FILE *f, const char *note, err_t *e) {
    return put_line(f, json_pack("{s:s}", "checkpoint", note), e);
}

/* the size line of a note ("origin\nsize\n..."), or UINT64_MAX when it does not parse */
static uint64_t note_size(const char *note) {
    const char *nl = note ? strchr(note, '\n') : NULL;
    char *end = NULL;
    if (!nl || nl[1] < '0' || nl[1] > '9') return UINT64_MAX;
    uint64_t v = strtoull(nl + 1, &end, 10);
    return end && *end == '\n' ? v : UINT64_MAX;
}

int ledger_export_write_doc(FILE *f, json_t *doc, err_t *e) {
    json_t *blocks = json_object_get(doc, "blocks"), *cps = json_object_get(doc, "checkpoints");
    const char *origin = json_string_value(json_object_get(doc, "origin"));
    const char *lpk = json_string_value(json_object_get(doc, "log_public_key"));
    if (ledger_export_write_header(f, origin ? origin : "", lpk ? lpk : "", e) != 0) return -1;
    size_t ci = 0, nc = json_array_size(cps);
    uint64_t end = 0;
    for (size_t bi = 0; bi < json_array_size(blocks); bi++) {
        json_t *b = json_array_get(blocks, bi);
        if (ledger_export_write_block(f, b, e) != 0) return -1;
        end += json_array_size(json_object_get(b, "txs"));
        for (; ci < nc; ci++) {
            const char *note = json_string_value(json_array_get(cps, ci));
            uint64_t sz = note_size(note);
            if (sz != UINT64_MAX && sz > end) break;
            if (ledger_export_write_checkpoint(f, note ? note : "", e) != 0) return -1;
        }
    }
    for (; ci < nc; ci++) {
        const char *note = json_string_value(json_array_get(cps, ci));
        if (ledger_export_write_checkpoint(f, note ? note : "", e) != 0) return -1;
    }
    return fflush(f) == 0 ? 0 : wr_err(e);
}

/* ---- the database side ------------------------------------------------------------------- */

/* A server-side cursor read in batches: row() answers the current row (fetching the next batch
 * when needed), -1 at the end, -2 with *e on an error. */
typedef struct xcur {
    PGconn *pg;
    const char *fetch; /* "FETCH 1000 FROM <name>" */
    PGresult *r;
    int row, done;
} xcur_t;

static int pg_fail(PGconn *pg, const char *what, err_t *e) {
    return err_set(e, 503, "unavailable", "", "ledger export: %s: %.300s", what,
                   PQerrorMessage(pg));
}

static int xcur_row(xcur_t *c, err_t *e) {
    if (c->r && c->row < PQntuples(c->r)) return c->row;
    PQclear(c->r);
    c->r = NULL;
    if (c->done) return -1;
    c->r = PQexec(c->pg, c->fetch);
    if (PQresultStatus(c->r) != PGRES_TUPLES_OK) {
        pg_fail(c->pg, c->fetch, e);
        PQclear(c->r);
        c->r = NULL;
        return -2;
    }
    c->row = 0;
    if (PQntuples(c->r) == 0) c->done = 1;
    return c->done ? -1 : 0;
}

static const char *xv(const xcur_t *c, int col) {
    return PQgetvalue(c->r, c->row, col);
}

static int pg_cmd(PGconn *pg, const char *sql, err_t *e) {
    PGresult *r = PQexec(pg, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_fail(pg, sql, e);
    PQclear(r);
    return rc;
}

/* The transaction at the tx cursor's row: {envelope (base64), validation_code, digests}. Columns:
 * block_number, position, validation_code, envelope (hex). */
typedef struct xbuf {
    uint8_t *p;
    size_t cap;
} xbuf_t; /* reused for every envelope */

static json_t *tx_json(const xcur_t *t, xbuf_t *bin, err_t *e) {
    const char *hx = xv(t, 3);
    size_t hl = strlen(hx), bl = 0;
    if (hl / 2 + 1 > bin->cap) {
        uint8_t *p = realloc(bin->p, hl / 2 + 1);
        if (!p) {
            err_set(e, 500, "internal", "", "out of memory");
            return NULL;
        }
        bin->p = p;
        bin->cap = hl / 2 + 1;
    }
    if (sodium_hex2bin(bin->p, bin->cap, hx, hl, NULL, &bl, NULL) != 0) {
        err_set(e, 500, "internal", "", "ledger export: unreadable envelope");
        return NULL;
    }
    size_t cap = sodium_base64_ENCODED_LEN(bl, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap);
    if (!b64) {
        err_set(e, 500, "internal", "", "out of memory");
        return NULL;
    }
    sodium_bin2base64(b64, cap, bin->p, bl, sodium_base64_VARIANT_ORIGINAL);
    json_t *jt = json_pack("{s:s,s:s}", "envelope", b64, "validation_code",
                           ledger_code_name(atoi(xv(t, 2))));
    free(b64);
    err_t de = {0};
    json_t *dg = ledger_tx_digests(bin->p, bl, &de);
    if (dg) json_object_set_new(jt, "digests", dg);
    return jt;
}

/* The block at the block cursor's row with its transactions (from the tx cursor). */
static json_t *block_json(const xcur_t *b, xcur_t *t, xbuf_t *bin, err_t *e) {
    const char *num = xv(b, 0);
    json_t *txs = json_array();
    json_t *blk = json_pack(
        "{s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:o}", "number", (json_int_t)strtoll(num, NULL, 10),
        "prev_hash", xv(b, 1), "data_root", xv(b, 2), "validation_root", xv(b, 3), "writeset_hash",
        xv(b, 4), "timestamp_ms", (json_int_t)strtoll(xv(b, 5), NULL, 10), "tx_count",
        (json_int_t)atoi(xv(b, 6)), "first_log_index", (json_int_t)strtoll(xv(b, 7), NULL, 10),
        "header_hash", xv(b, 8), "txs", txs);
    if (!blk) {
        err_set(e, 500, "internal", "", "out of memory");
        return NULL;
    }
    int r;
    while ((r = xcur_row(t, e)) >= 0 && strcmp(xv(t, 0), num) == 0) {
        json_t *jt = tx_json(t, bin, e);
        if (!jt) break;
        json_array_append_new(txs, jt);
        t->row++;
    }
    if (r == -2 || (r >= 0 && strcmp(xv(t, 0), num) == 0)) {
        json_decref(blk);
        return NULL;
    }
    return blk;
}

/* Every checkpoint of size <= end (UINT64_MAX: all left). */
static int write_cps(FILE *f, xcur_t *c, uint64_t end, ledger_export_stats_t *st, err_t *e) {
    int r;
    while ((r = xcur_row(c, e)) >= 0 && strtoull(xv(c, 0), NULL, 10) <= end) {
        if (ledger_export_write_checkpoint(f, xv(c, 1), e) != 0) return -1;
        st->checkpoints++;
        c->row++;
    }
    return r == -2 ? -1 : 0;
}

static int stream_chain(PGconn *pg, FILE *f, ledger_export_stats_t *st, err_t *e) {
    static const char *decl[] = {
        "DECLARE xb NO SCROLL CURSOR FOR SELECT number, encode(prev_hash, 'hex'), "
        "encode(data_root, 'hex'), encode(validation_root, 'hex'), encode(writeset_hash, 'hex'), "
        "timestamp_ms, tx_count, first_log_index, encode(header_hash, 'hex') FROM ledger.blocks "
        "ORDER BY number",
        "DECLARE xt NO SCROLL CURSOR FOR SELECT block_number, position, validation_code, "
        "encode(envelope, 'hex') FROM ledger.txs ORDER BY block_number, position",
        "DECLARE xc NO SCROLL CURSOR FOR SELECT c.size, c.note || coalesce((SELECT "
        "string_agg(s.sig_line, '' ORDER BY s.org) FROM ledger.cosignatures s WHERE s.size = "
        "c.size), '') FROM ledger.checkpoints c ORDER BY c.size"};
    for (size_t i = 0; i < 3; i++)
        if (pg_cmd(pg, decl[i], e) != 0) return -1;
    xcur_t b = {pg, "FETCH 1000 FROM xb", NULL, 0, 0}, t = {pg, "FETCH 1000 FROM xt", NULL, 0, 0},
           c = {pg, "FETCH 1000 FROM xc", NULL, 0, 0};
    xbuf_t bin = {0};
    int r, rc = 0;
    while (rc == 0 && (r = xcur_row(&b, e)) >= 0) {
        json_t *blk = block_json(&b, &t, &bin, e);
        uint64_t end = strtoull(xv(&b, 7), NULL, 10) + strtoull(xv(&b, 6), NULL, 10);
        rc = blk && ledger_export_write_block(f, blk, e) == 0 ? 0 : -1;
        if (rc == 0) {
            st->blocks++;
            st->txs += json_array_size(json_object_get(blk, "txs"));
            rc = write_cps(f, &c, end, st, e);
        }
        json_decref(blk);
        b.row++;
    }
    if (rc == 0 && r == -2) rc = -1;
    if (rc == 0) rc = write_cps(f, &c, UINT64_MAX, st, e);
    free(bin.p);
    PQclear(b.r);
    PQclear(t.r);
    PQclear(c.r);
    return rc;
}

static int log_pk_hex(db_pool_t *db, char hex[65], err_t *e) {
    static const db_scope_t none = {0};
    db_tx_t *tx = NULL;
    checkpoint_signer_t s;
    if (db_begin_ledger_writer(db, &none, &tx, e) != 0) return -1;
    int rc = ledger_log_signer(tx, &s, e);
    db_rollback(tx);
    if (rc != 0) return -1;
    ledger_hex(s.pk, 32, hex);
    checkpoint_signer_wipe(&s);
    return 0;
}

int ledger_export_stream(db_pool_t *db, const char *conninfo, FILE *f, ledger_export_stats_t *st,
                         err_t *e) {
    char lpk[65];
    *st = (ledger_export_stats_t){0};
    if (log_pk_hex(db, lpk, e) != 0) return -1;
    PGconn *pg = PQconnectdb(conninfo);
    int rc = -1;
    if (PQstatus(pg) != CONNECTION_OK) {
        pg_fail(pg, "connect", e);
        goto out;
    }
    /* one snapshot for every cursor: blocks, transactions and checkpoints agree */
    if (pg_cmd(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", e) != 0) goto out;
    if (ledger_export_write_header(f, ledger_origin(), lpk, e) != 0 ||
        stream_chain(pg, f, st, e) != 0)
        goto out;
    if (pg_cmd(pg, "COMMIT", e) != 0) goto out;
    rc = fflush(f) == 0 ? 0 : wr_err(e);
out:
    PQfinish(pg);
    return rc;
}
