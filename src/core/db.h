/* db: a PostgreSQL connection pool on libpq. Owns the connections and, per connection, the set
 * of statements it has prepared (every query is prepared once per connection, keyed by its SQL
 * text). All data access goes through a transaction that first sets the tenant scope:
 *   set_config('app.club_id', <club uuid or ''>, true)      -- RLS: rows of this club only
 *   set_config('app.network_admin', 'on'|'off', true)       -- network-wide administration
 *   set_config('app.relay', 'on'|'off', true)               -- outbox relay reads all tenants
 *   set_config('app.user_id', <uuid or ''>, true)           -- actor, for audit columns
 *   set_config('app.ledger_writer', 'on'|'off', true)       -- the ledger's writer scope
 *                                      (on only through db_begin_ledger_writer)
 * A broken connection (server restart) is reset and the transaction retried once when nothing
 * was sent yet; otherwise the caller gets a 503 "unavailable" error. */
#ifndef CORE_DB_H
#define CORE_DB_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/err.h"

typedef struct db_pool db_pool_t;
typedef struct db_tx db_tx_t;

typedef struct db_scope {
    const char *club_id; /* tenant, NULL/"" = none */
    const char *user_id; /* actor, NULL/"" = none */
    int network_admin;
    int relay;
} db_scope_t;

db_pool_t *db_pool_open(const char *conninfo, int size, err_t *e);
void db_pool_close(db_pool_t *p);
/* A new connection outside the pool, to the pool's database with its connection settings (for
 * a session-scoped advisory lock held across transactions, core/periodic). The caller owns it
 * (PQfinish); NULL only when out of memory; check PQstatus. */
PGconn *db_pool_connect(db_pool_t *p);
/* Round trip "SELECT 1" on a pooled connection (used by /health/ready). */
int db_ping(db_pool_t *p, err_t *e);
void db_pool_stats(db_pool_t *p, int *size, int *in_use, long long *waits);
/* How long db_begin/db_ping wait for a free connection before 503 (default 5000 ms). */
void db_pool_set_wait_ms(db_pool_t *p, int ms);
/* Number of db_begin/db_ping calls that gave up waiting (pool exhausted), for metrics. */
long long db_pool_timeouts(db_pool_t *p);

/* Takes a connection (waits up to 5 s, then 503), BEGINs, applies the scope. */
int db_begin(db_pool_t *p, const db_scope_t *scope, db_tx_t **tx, err_t *e);
/* The same, with the ledger's writer scope on as well (core.is_ledger_writer(): the only
 * scope that may write the ledger schema). A separate entry point rather than a db_scope_t
 * member so that positional db_scope_t initialisers elsewhere stay complete. */
int db_begin_ledger_writer(db_pool_t *p, const db_scope_t *scope, db_tx_t **tx, err_t *e);
/* Runs a parameterised statement (prepared on first use on this connection). Returns a result
 * the caller PQclear()s, or NULL with *e set. SQLSTATE mapping: 23505 unique -> 409 "conflict",
 * 23503 fk -> 409 "conflict", 23514 check / 22xxx data -> 422 "invalid_field", 42501 / RLS ->
 * 403 "forbidden", connection loss -> 503 "unavailable", other -> 500 "internal".
 * For 23505 e->field is the column named in the constraint detail when it can be read. */
PGresult *db_exec(db_tx_t *tx, const char *sql, int nparams, const char *const *params, err_t *e);
/* Same, but for statements that return no rows; returns affected row count or -1. */
long long db_exec_cmd(db_tx_t *tx, const char *sql, int nparams, const char *const *params,
                      err_t *e);
/* One read in its own scoped read-only transaction, in ONE round trip of TWO statements: the
 * scope (with transaction_read_only on) and the statement, sent as one libpq pipeline and run
 * in its implicit transaction, which the sync ends (no BEGIN, no COMMIT; a statement new on the
 * connection is prepared in the same flight). Same scope checks and errors as db_begin +
 * db_exec + db_commit; a lost connection is reset and the read retried once. Returns the
 * statement's result (caller PQclear()s) or NULL with *e set. A write in it fails (25006 ->
 * 500). The statement runs outside a transaction block (SAVEPOINT is refused). For handlers
 * whose whole work is one SELECT. */
PGresult *db_read(db_pool_t *p, const db_scope_t *scope, const char *sql, int nparams,
                  const char *const *params, err_t *e);
/* The same for one statement that writes (a statement calling a plpgsql function that does
 * the whole operation): the scope and the statement in ONE round trip, committed by the sync
 * (an error at that commit, e.g. a deferred constraint, is the statement's error). Not
 * retried when the connection is lost (the commit may have run): 503 "unavailable" then, and
 * the caller's client retries. */
PGresult *db_write(db_pool_t *p, const db_scope_t *scope, const char *sql, int nparams,
                   const char *const *params, err_t *e);
int db_commit(db_tx_t *tx, err_t *e); /* releases the connection in all cases */
void db_rollback(db_tx_t *tx);        /* releases the connection; safe on NULL */
/* The commit/rollback idiom for handlers: each takes the handler's tx variable and leaves it
 * NULL, so a later db_rollback (or db_tx_finish) on the cleanup path is a no-op and nobody has
 * to remember "tx = NULL" after a failed commit.
 *   db_tx_commit:   db_commit(*tx); 0 or -1 + err.
 *   db_tx_rollback: db_rollback(*tx); safe on NULL.
 *   db_tx_finish:   one exit path ends the transaction: commits when rc == 0, else rolls back;
 *                   returns 0 only when it committed (-1 + err when the commit failed, -1 with
 *                   *e untouched when rc != 0). *tx == NULL with rc == 0: 0 (already ended).
 *                   out (may be NULL): the handler's output, dropped (decref'd, set NULL) when
 *                   it returns -1, so a failed commit answers no body. */
int db_tx_commit(db_tx_t **tx, err_t *e);
void db_tx_rollback(db_tx_t **tx);
int db_tx_finish(db_tx_t **tx, int rc, json_t **out, err_t *e);
/* Raw access for COPY and the like; do not close it. Session state changed through it (LISTEN,
 * SET without LOCAL) stays with the pooled connection: use a dedicated connection for LISTEN.
 * On a deferred transaction (db_begin_deferred) it first sends the BEGIN and the scope; NULL
 * when that fails. */
PGconn *db_tx_conn(db_tx_t *tx);

/* ---- pipelines: several statements of one transaction in ONE round trip (libpq pipeline
 * mode, PostgreSQL 14+ client).
 *
 * db_begin_deferred: like db_begin (takes a connection, checks the scope: pool exhaustion and a
 * bad scope fail here), but sends nothing yet: the BEGIN and the scope go to the server in the
 * same flight as the transaction's first statement (db_exec, db_batch_run), saving a round
 * trip; when that first flight also commits (DB_BATCH_COMMIT), the transaction is the flight's
 * implicit transaction: the scope and the statements, no BEGIN and no COMMIT (as db_write). A lost
 * connection found by that first flight is reset and the flight sent once more (nothing of the
 * transaction had run). db_commit of a deferred transaction in which nothing was sent sends
 * nothing.
 *
 * A batch (db_batch_t, on the stack, zero-initialised: `db_batch_t b = {0};`, members private)
 * queues up to DB_BATCH_MAX parameterised statements; the SQL and the parameters are copied, so
 * the caller's buffers may go away. db_batch_run sends them together (each prepared on first use
 * on the connection, in the same flight) and reads every result: the server still runs them one
 * after another, each with its own snapshot under READ COMMITTED, so a statement queued after a
 * lock statement sees every commit made before the lock was granted, exactly as step by step.
 * Queue together only statements whose parameters do not depend on an earlier one's result in
 * C; a check of a result in C that refuses the request makes the caller roll back, which undoes
 * what the later statements of the batch did.
 *
 * Errors: one path. The first failing statement's error is mapped like db_exec's (*e), the
 * statements after it did not run (PIPELINE_ABORTED) and the transaction is aborted: the caller
 * rolls back (db_tx_finish with rc -1). db_batch_failed names the failing statement's index
 * (-1: none, or the BEGIN / scope / COMMIT / the connection). A db_batch_add that could not
 * queue (out of memory, more than DB_BATCH_MAX) fails the next db_batch_run with 500. */
#define DB_BATCH_MAX 16
#define DB_BATCH_COMMIT 1 /* db_batch_run: COMMIT in the same flight; the transaction is over */

typedef struct db_batch_q {
    char *sql;
    int nparams;
    char **params;
    PGresult *res;
} db_batch_q_t;

typedef struct db_batch {
    int n;
    int broken; /* a db_batch_add failed */
    int failed; /* 1 + index of the statement that failed in db_batch_run, 0 none */
    db_batch_q_t q[DB_BATCH_MAX];
} db_batch_t;

int db_begin_deferred(db_pool_t *p, const db_scope_t *scope, db_tx_t **tx, err_t *e);
/* Queues a statement; returns its index (0, 1, ...) for db_batch_result, or -1 (remembered:
 * the next db_batch_run fails). params[i] may be NULL (SQL NULL). */
int db_batch_add(db_batch_t *b, const char *sql, int nparams, const char *const *params);
/* Sends the queued statements of tx in one flight (with the BEGIN and the scope in front when
 * tx is deferred and nothing was sent yet; with COMMIT behind when flags has DB_BATCH_COMMIT:
 * the transaction is then over, db_commit / db_tx_finish only release it). 0 with every result
 * kept in b, or -1 + err (see above). A lost connection: 503 (with COMMIT in the flight: "may
 * not have been saved"). */
int db_batch_run(db_tx_t *tx, db_batch_t *b, int flags, err_t *e);
/* The result of statement i after a successful db_batch_run (owned by b: do not PQclear). */
PGresult *db_batch_result(const db_batch_t *b, int i);
int db_batch_failed(const db_batch_t *b);
/* Frees the copies and the results; b is empty and reusable. Safe on an empty batch. */
void db_batch_clear(db_batch_t *b);

/* The JSON text in row, col of r (a jsonb/json column, or ::text of one), parsed: a new
 * reference, or NULL with 500 internal "database returned unreadable JSON". The one row
 * parser: handlers do not call json_loads on a result themselves. */
json_t *db_json(const PGresult *r, int row, int col, err_t *e);
/* The same document as a pass-through raw value (core/json.h jsonx_raw): for read paths that
 * answer PostgreSQL's document as it is (a get, a page of items), with no parse and no print.
 * New reference, or NULL with 500 internal. Use db_json where the handler reads or changes
 * fields. */
json_t *db_json_raw(const PGresult *r, int row, int col, err_t *e);
/* Runs a statement whose first row's first column is JSON text (e.g. coalesce(jsonb_agg(..),
 * '[]')::text) and returns it parsed (new reference), or NULL with *e set. */
json_t *db_query_json(db_tx_t *tx, const char *sql, int nparams, const char *const *params,
                      err_t *e);

/* The one-row read (a get by id): r is a statement's result, NULL when it failed (*e set, passed
 * through). db_row: r itself when it has a row (the caller PQclear()s it), else NULL with 404
 * "not_found" naming field, the message fmt (r cleared). db_row_json: consumes r; its first
 * row's first column parsed (db_json), or NULL with that 404 (or db_json's 500). */
PGresult *db_row(PGresult *r, err_t *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
json_t *db_row_json(PGresult *r, err_t *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Helpers on results. */
const char *db_val(const PGresult *r, int row, const char *col); /* NULL if SQL NULL */

/* A row's text columns into fixed buffers (a row loaded into a struct, e.g. after db_row):
 * DB_TEXTS(r, row, first, DB_TEXT(s->host), DB_TEXT(s->home), ...) copies columns first,
 * first + 1, ... of row into the buffers in that order, each truncated to fit ("" for SQL NULL).
 * DB_TEXT takes an array (its size is sizeof the array). */
typedef struct db_text {
    char *dst;
    size_t size;
} db_text_t;
void db_texts(const PGresult *r, int row, int first, const db_text_t *cols, size_t n);
#define DB_TEXT(arr)                                                                               \
    { (arr), sizeof(arr) }
#define DB_TEXTS(r, row, first, ...)                                                               \
    db_texts((r), (row), (first), (const db_text_t[]){__VA_ARGS__},                                \
             sizeof((const db_text_t[]){__VA_ARGS__}) / sizeof(db_text_t))

#endif
