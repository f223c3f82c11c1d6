/* db: see db.h. Owns the pool (mutex + condition variable over a fixed array of connection
 * slots), each slot's PGconn (opened lazily, reset when found broken) and each slot's cache of
 * prepared statements (SQL text -> server-side name "s<N>"). A transaction owns its slot from
 * db_begin until db_commit/db_rollback; nothing else touches a slot while it is taken, so the
 * per-connection state needs no lock. Parameter values are never logged or copied into errors. */
#include "core/db.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "core/log.h"

#define DB_WAIT_MS_DEFAULT 5000
#define DB_STMT_MAX 512        /* per connection; past this, statements run unprepared */
#define DB_CONNECT_TIMEOUT "5" /* seconds, unless the conninfo says otherwise */

typedef struct db_stmt {
    uint64_t hash;
    char *sql; /* NULL = empty slot */
    char name[24];
} db_stmt_t;

typedef struct db_conn {
    struct db_pool *pool;
    PGconn *pg; /* NULL until first use */
    int taken;
    /* open-addressing table of prepared statements, capacity a power of two */
    db_stmt_t *stmts;
    int stmt_cap, stmt_count;
    unsigned next_id;
    /* names of statements to DEALLOCATE when the connection is next idle */
    char (*stale)[24];
    int stale_count, stale_cap;
    /* a constraint missing from the pool's key map, looked up when the connection is idle */
    char pending_key[200];
} db_conn_t;

/* Which input field a unique/foreign key constraint is about ("schema\ttable\tconstraint" ->
 * column), read from the catalog: with RLS on a table PostgreSQL leaves out the DETAIL that
 * names the key columns, so 23505/23503 could not name the field otherwise. */
typedef struct db_keycol {
    char *key;
    char field[96];
} db_keycol_t;

struct db_pool {
    char *conninfo;
    int size;
    db_conn_t *conns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int in_use;
    long long waits;
    long long timeouts;
    int wait_ms;
    pthread_mutex_t keys_mu;
    db_keycol_t *keys;
    int nkeys, keys_cap;
};

struct db_tx {
    db_pool_t *pool;
    db_conn_t *c;
    int pending; /* db_begin_deferred: BEGIN and scope not sent yet */
    int ended;   /* committed by db_batch_run(DB_BATCH_COMMIT) */
    int aborted; /* a one-flight (implicit) transaction failed: rolled back at the sync, so the
                  * connection is outside any transaction; later statements must not run */
    /* the scope's parameters, for a deferred BEGIN */
    char club[40], user[132];
    const char *sp[5];
};

/* ---------------------------------------------------------------- statement cache */

static uint64_t hash_sql(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void cache_clear(db_conn_t *c) {
    for (int i = 0; i < c->stmt_cap; i++) {
        free(c->stmts[i].sql);
        c->stmts[i].sql = NULL;
    }
    c->stmt_count = 0;
    c->stale_count = 0;
}

static void cache_free(db_conn_t *c) {
    cache_clear(c);
    free(c->stmts);
    c->stmts = NULL;
    c->stmt_cap = 0;
    free(c->stale);
    c->stale = NULL;
    c->stale_cap = 0;
}

static db_stmt_t *cache_find(db_conn_t *c, const char *sql, uint64_t h) {
    if (!c->stmt_cap) return NULL;
    for (int i = (int)(h & (uint64_t)(c->stmt_cap - 1));; i = (i + 1) & (c->stmt_cap - 1)) {
        db_stmt_t *s = &c->stmts[i];
        if (!s->sql) return NULL;
        if (s->hash == h && strcmp(s->sql, sql) == 0) return s;
    }
}

/* Rebuilds the table at capacity `cap` (also used to delete: entries are re-inserted). */
static int cache_rehash(db_conn_t *c, int cap, const db_stmt_t *skip) {
    db_stmt_t *n = calloc((size_t)cap, sizeof *n);
    if (!n) return -1;
    int count = 0;
    for (int i = 0; i < c->stmt_cap; i++) {
        db_stmt_t *s = &c->stmts[i];
        if (!s->sql) continue;
        if (s == skip) {
            free(s->sql);
            continue;
        }
        int j = (int)(s->hash & (uint64_t)(cap - 1));
        while (n[j].sql)
            j = (j + 1) & (cap - 1);
        n[j] = *s;
        count++;
    }
    free(c->stmts);
    c->stmts = n;
    c->stmt_cap = cap;
    c->stmt_count = count;
    return 0;
}

static db_stmt_t *cache_add(db_conn_t *c, const char *sql, uint64_t h) {
    if ((c->stmt_count + 1) * 2 > c->stmt_cap) {
        if (cache_rehash(c, c->stmt_cap ? c->stmt_cap * 2 : 32, NULL) < 0) return NULL;
    }
    char *copy = strdup(sql);
    if (!copy) return NULL;
    int j = (int)(h & (uint64_t)(c->stmt_cap - 1));
    while (c->stmts[j].sql)
        j = (j + 1) & (c->stmt_cap - 1);
    db_stmt_t *s = &c->stmts[j];
    s->hash = h;
    s->sql = copy;
    snprintf(s->name, sizeof s->name, "s%u", c->next_id++);
    c->stmt_count++;
    return s;
}

/* Forgets a statement whose cached plan went stale; it is DEALLOCATEd when the connection is
 * returned (nothing but ROLLBACK runs in an aborted transaction). */
static void cache_drop(db_conn_t *c, db_stmt_t *s) {
    if (c->stale_count == c->stale_cap) {
        int cap = c->stale_cap ? c->stale_cap * 2 : 8;
        char(*n)[24] = realloc(c->stale, (size_t)cap * sizeof *n);
        if (n) {
            c->stale = n;
            c->stale_cap = cap;
        }
    }
    if (c->stale_count < c->stale_cap) {
        snprintf(c->stale[c->stale_count], sizeof c->stale[0], "%s", s->name);
        c->stale_count++;
    }
    cache_rehash(c, c->stmt_cap, s);
}

/* ---------------------------------------------------------------- errors */

/* Copies a libpq message onto one line (for logs and startup errors). */
static void chomp_copy(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%s", src ? src : "");
    for (char *q = dst; *q; q++)
        if (*q == '\n' || *q == '\t' || *q == '\r') *q = ' ';
    size_t l = strlen(dst);
    while (l && (dst[l - 1] == '\n' || dst[l - 1] == '\r' || dst[l - 1] == ' '))
        dst[--l] = 0;
}

static int sqlstate_is_conn(const char *st) {
    if (!st) return 0;
    return strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
           strcmp(st, "57P03") == 0;
}

/* True when the failure means the connection is gone (reset it before reuse). */
static int conn_lost(PGconn *pg, const PGresult *r) {
    if (!pg || PQstatus(pg) == CONNECTION_BAD) return 1;
    if (!r) return 1;
    return sqlstate_is_conn(PQresultErrorField(r, PG_DIAG_SQLSTATE));
}

/* From a key column list like `club_id, slug` or `lower(email)` takes the last column that is
 * not club_id (expressions are reduced to the name inside the parentheses). */
static void cols_field(const char *list, char *out, size_t n) {
    out[0] = 0;
    char cols[256];
    if (strlen(list) >= sizeof cols) return;
    snprintf(cols, sizeof cols, "%s", list);
    char *save = NULL, *best = NULL;
    int only_club = 0;
    for (char *tok = strtok_r(cols, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        char *open = strrchr(tok, '(');
        if (open) {
            tok = open + 1;
            char *close = strchr(tok, ')');
            if (close) *close = 0;
        }
        char *cast = strstr(tok, "::");
        if (cast) *cast = 0;
        size_t tl = strlen(tok);
        while (tl && tok[tl - 1] == ' ')
            tok[--tl] = 0;
        if (tl >= 2 && tok[0] == '"' && tok[tl - 1] == '"') {
            tok[tl - 1] = 0;
            tok++;
        }
        if (strcmp(tok, "club_id") == 0) only_club = 1;
        if (!*tok || strcmp(tok, "club_id") == 0) continue;
        best = tok;
    }
    if (!best) {
        if (only_club) snprintf(out, n, "club_id");
        return;
    }
    /* a column name is an identifier: keep it only if it looks like one */
    for (const char *c = best; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_'))
            return;
    }
    snprintf(out, n, "%s", best);
}

/* From a DETAIL like `Key (club_id, slug)=(..., x) already exists.`: only the part before
 * ")=(" is read, so the values never reach *out. */
static void detail_column(const char *detail, char *out, size_t n) {
    out[0] = 0;
    if (!detail) return;
    const char *p = strstr(detail, "Key (");
    if (!p) return;
    p += 5;
    const char *end = strstr(p, ")=(");
    if (!end || end <= p) return;
    char cols[256];
    size_t len = (size_t)(end - p);
    if (len >= sizeof cols) return;
    memcpy(cols, p, len);
    cols[len] = 0;
    cols_field(cols, out, n);
}

/* Column list of every unique index and foreign key (optionally of one of them). */
static const char k_keys_sql[] =
    "SELECT nsp, tab, con, cols FROM ("
    " SELECT n.nspname AS nsp, t.relname AS tab, ic.relname AS con,"
    "  (SELECT string_agg(pg_get_indexdef(i.indexrelid, k, true), ', ' ORDER BY k)"
    "     FROM generate_series(1, i.indnkeyatts::int) AS k) AS cols"
    " FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
    " JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace"
    " WHERE i.indisunique"
    " UNION ALL"
    " SELECT n.nspname, t.relname, c.conname,"
    "  (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord)"
    "     FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)"
    "     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum)"
    " FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
    " JOIN pg_namespace n ON n.oid = t.relnamespace"
    " WHERE c.contype = 'f') x"
    " WHERE nsp NOT IN ('pg_catalog', 'information_schema') AND nsp NOT LIKE 'pg\\_toast%'"
    " AND ($1 = '' OR (nsp = $1 AND tab = $2 AND con = $3))";

static void keys_put(db_pool_t *p, const char *key, const char *cols) {
    char field[96];
    cols_field(cols ? cols : "", field, sizeof field);
    pthread_mutex_lock(&p->keys_mu);
    for (int i = 0; i < p->nkeys; i++) {
        if (strcmp(p->keys[i].key, key) == 0) {
            snprintf(p->keys[i].field, sizeof p->keys[i].field, "%s", field);
            goto out;
        }
    }
    if (p->nkeys == p->keys_cap) {
        int cap = p->keys_cap ? p->keys_cap * 2 : 64;
        if (cap > 100000) goto out;
        db_keycol_t *n = realloc(p->keys, (size_t)cap * sizeof *n);
        if (!n) goto out;
        p->keys = n;
        p->keys_cap = cap;
    }
    char *k = strdup(key);
    if (!k) goto out;
    p->keys[p->nkeys].key = k;
    snprintf(p->keys[p->nkeys].field, sizeof p->keys[0].field, "%s", field);
    p->nkeys++;
out:
    pthread_mutex_unlock(&p->keys_mu);
}

static int keys_get(db_pool_t *p, const char *key, char *field, size_t n) {
    int found = 0;
    pthread_mutex_lock(&p->keys_mu);
    for (int i = 0; i < p->nkeys && !found; i++) {
        if (strcmp(p->keys[i].key, key) == 0) {
            snprintf(field, n, "%s", p->keys[i].field);
            found = 1;
        }
    }
    pthread_mutex_unlock(&p->keys_mu);
    return found;
}

/* Loads the map (all keys, or the one in "schema\ttable\tconstraint") on an idle connection. */
static void keys_load(db_pool_t *p, PGconn *pg, const char *only) {
    char buf[200] = "";
    const char *params[3] = {"", "", ""};
    if (only) {
        snprintf(buf, sizeof buf, "%s", only);
        char *t1 = strchr(buf, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2) return;
        *t1 = *t2 = 0;
        params[0] = buf;
        params[1] = t1 + 1;
        params[2] = t2 + 1;
    }
    PGresult *r = PQexecParams(pg, k_keys_sql, 3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(r); i++) {
            char key[200];
            snprintf(key, sizeof key, "%s\t%s\t%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                     PQgetvalue(r, i, 2));
            keys_put(p, key, PQgetvalue(r, i, 3));
        }
        if (only && PQntuples(r) == 0) keys_put(p, only, ""); /* don't ask again */
    }
    PQclear(r);
}

/* Field from PostgreSQL's default constraint names, `<table>_<column>_key|_fkey|_idx|...` (or
 * `_check` when check is set); "" when the name does not follow that pattern. */
static void name_field(const char *tab, const char *con, int check, char *field, size_t n) {
    field[0] = 0;
    if (!tab || !con) return;
    char name[128];
    size_t tl = strlen(tab);
    if (strncmp(con, tab, tl) != 0 || con[tl] != '_') return;
    snprintf(name, sizeof name, "%s", con + tl + 1);
    static const char *const keys[] = {"_pkey", "_fkey", "_key", "_idx", "_uniq", "_unique", NULL};
    static const char *const checks[] = {"_check", NULL};
    int conventional = 0;
    for (const char *const *sfx = check ? checks : keys; *sfx && !conventional; sfx++) {
        size_t nl = strlen(name), sl = strlen(*sfx);
        if (nl > sl && strcmp(name + nl - sl, *sfx) == 0) {
            name[nl - sl] = 0;
            conventional = 1;
        }
    }
    if (!conventional) return;
    const char *col = name;
    if (strncmp(col, "club_id_", 8) == 0 && col[8]) col += 8;
    cols_field(col, field, n);
}

/* Field for a 23505/23503 error: the DETAIL when PostgreSQL gave one, else the catalog map,
 * else the default constraint name `<table>_<cols>_key|_fkey|_idx` (and the connection looks
 * the constraint up once it is idle again, for next time). */
static void key_field(db_conn_t *c, const PGresult *r, char *field, size_t n) {
    detail_column(PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL), field, n);
    if (field[0] || !c) return;
    const char *nsp = PQresultErrorField(r, PG_DIAG_SCHEMA_NAME);
    const char *tab = PQresultErrorField(r, PG_DIAG_TABLE_NAME);
    const char *con = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    if (!nsp || !tab || !con) return;
    char key[200];
    snprintf(key, sizeof key, "%s\t%s\t%s", nsp, tab, con);
    if (keys_get(c->pool, key, field, n)) return;
    snprintf(c->pending_key, sizeof c->pending_key, "%s", key);
    name_field(tab, con, 0, field, n);
}

/* Fills *e from a failed result (r may be NULL) and returns -1. Never copies DETAIL or values. */
static int map_error(db_conn_t *c, PGconn *pg, const PGresult *r, const char *what, err_t *e) {
    if (conn_lost(pg, r)) {
        char msg[256];
        chomp_copy(msg, sizeof msg, r ? PQresultErrorMessage(r) : (pg ? PQerrorMessage(pg) : ""));
        log_warn("db: connection lost during %s: %s", what, msg);
        return err_set(e, 503, "unavailable", NULL,
                       "the database is unavailable (connection lost); try again shortly");
    }
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (!st) st = "";
    char field[96] = "";
    if (strcmp(st, "23505") == 0) {
        key_field(c, r, field, sizeof field);
        if (field[0])
            return err_set(e, 409, "conflict", field, "a record with this %s already exists",
                           field);
        return err_set(e, 409, "conflict", NULL, "a record with these values already exists");
    }
    if (strcmp(st, "23503") == 0) {
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        if (msg && strncmp(msg, "update or delete", 16) == 0)
            return err_set(e, 409, "conflict", NULL,
                           "the record is still referenced by other records");
        key_field(c, r, field, sizeof field);
        if (field[0])
            return err_set(e, 409, "conflict", field, "the referenced %s does not exist", field);
        return err_set(e, 409, "conflict", NULL, "a referenced record does not exist");
    }
    if (strcmp(st, "23502") == 0) {
        const char *col = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);
        return err_invalid(e, col, "%s is required", col ? col : "a value");
    }
    if (strcmp(st, "23514") == 0) {
        const char *con = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
        name_field(PQresultErrorField(r, PG_DIAG_TABLE_NAME), con, 1, field, sizeof field);
        if (field[0]) return err_invalid(e, field, "%s has a value that is not allowed", field);
        return err_invalid(e, NULL, "a value is not allowed (constraint %s)", con ? con : "check");
    }
    if (strncmp(st, "22", 2) == 0) {
        /* messages of class 22 often quote the offending input: do not pass them on */
        const char *col = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);
        return err_invalid(e, col, "a value has an invalid format or is out of range (SQLSTATE %s)",
                           st);
    }
    if (strcmp(st, "42501") == 0)
        return err_set(e, 403, "forbidden", NULL, "not allowed for this club or role");
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0 ||
        strcmp(st, "57014") == 0)
        return err_set(e, 503, "unavailable", NULL,
                       "the database could not complete the request (SQLSTATE %s); try again", st);
    /* 23xxx/22xxx are handled above, so the primary message carries no input values here */
    char msg[256];
    chomp_copy(msg, sizeof msg, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
    log_error("db: %s failed: SQLSTATE %s: %s", what, st, msg);
    return err_set(e, 500, "internal", NULL, "database error (SQLSTATE %s)", st[0] ? st : "?");
}

/* ---------------------------------------------------------------- connections */

static PGconn *conn_open(const char *conninfo) {
    /* keywords before "dbname" are defaults that the expanded conninfo overrides */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {DB_CONNECT_TIMEOUT, "reciprocal", conninfo, NULL};
    return PQconnectdbParams(keys, vals, 1);
}

PGconn *db_pool_connect(db_pool_t *p) {
    return conn_open(p->conninfo);
}

static void conn_forget_session(db_conn_t *c) {
    cache_clear(c);
}

/* Makes sure c->pg is connected, resetting a broken connection. 0 or -1 with 503. */
static int conn_ensure(db_pool_t *p, db_conn_t *c, err_t *e) {
    if (!c->pg) {
        c->pg = conn_open(p->conninfo);
        conn_forget_session(c);
        if (!c->pg)
            return err_set(e, 503, "unavailable", NULL, "database connection: out of memory");
    } else if (PQstatus(c->pg) != CONNECTION_BAD) {
        return 0;
    } else {
        conn_forget_session(c);
        PQreset(c->pg);
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char msg[256];
        chomp_copy(msg, sizeof msg, PQerrorMessage(c->pg));
        log_warn("db: cannot connect: %s", msg);
        return err_set(e, 503, "unavailable", NULL,
                       "the database is unavailable (cannot connect); try again shortly");
    }
    return 0;
}

/* Forces a reset before the next use. */
static void conn_reset(db_pool_t *p, db_conn_t *c, err_t *e) {
    conn_forget_session(c);
    if (!c->pg) {
        conn_ensure(p, c, e);
        return;
    }
    PQreset(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char msg[256];
        chomp_copy(msg, sizeof msg, PQerrorMessage(c->pg));
        log_warn("db: reconnect failed: %s", msg);
        err_set(e, 503, "unavailable", NULL,
                "the database is unavailable (cannot reconnect); try again shortly");
    }
}

/* Leaves the connection idle (outside any transaction) or marked for reset. */
static void conn_make_idle(db_conn_t *c) {
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_forget_session(c);
        return;
    }
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);
    if (ts == PQTRANS_ACTIVE) {
        /* a command is still running (raw use through db_tx_conn): cancel and drain */
        PGcancel *cn = PQgetCancel(c->pg);
        if (cn) {
            char buf[256];
            PQcancel(cn, buf, sizeof buf);
            PQfreeCancel(cn);
        }
        PGresult *r;
        while ((r = PQgetResult(c->pg)))
            PQclear(r);
        ts = PQtransactionStatus(c->pg);
    }
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
        PGresult *r = PQexec(c->pg, "ROLLBACK");
        PQclear(r);
        ts = PQtransactionStatus(c->pg);
    }
    if (ts == PQTRANS_IDLE && c->pending_key[0]) {
        keys_load(c->pool, c->pg, c->pending_key);
        c->pending_key[0] = 0;
    }
    if (ts == PQTRANS_IDLE) {
        while (c->stale_count > 0) {
            char sql[48];
            snprintf(sql, sizeof sql, "DEALLOCATE %s", c->stale[--c->stale_count]);
            PQclear(PQexec(c->pg, sql));
        }
    }
    if (PQstatus(c->pg) == CONNECTION_BAD || ts != PQTRANS_IDLE) {
        /* unknown state: start over with a fresh session next time */
        conn_forget_session(c);
        PQfinish(c->pg);
        c->pg = NULL;
    }
}

/* ---------------------------------------------------------------- pool */

db_pool_t *db_pool_open(const char *conninfo, int size, err_t *e) {
    if (!conninfo || !*conninfo) {
        err_set(e, 500, "internal", NULL, "database URL is not configured");
        return NULL;
    }
    if (size < 1 || size > 1024) {
        err_set(e, 500, "internal", NULL, "database pool size must be 1..1024 (got %d)", size);
        return NULL;
    }
    db_pool_t *p = calloc(1, sizeof *p);
    if (!p) goto oom;
    p->conninfo = strdup(conninfo);
    p->conns = calloc((size_t)size, sizeof *p->conns);
    if (!p->conninfo || !p->conns) goto oom;
    p->size = size;
    p->wait_ms = DB_WAIT_MS_DEFAULT;
    for (int i = 0; i < size; i++)
        p->conns[i].pool = p;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->keys_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* one connection now, so a wrong URL or password is reported at startup; the others are
     * opened on first use */
    p->conns[0].pg = conn_open(conninfo);
    if (!p->conns[0].pg || PQstatus(p->conns[0].pg) != CONNECTION_OK) {
        char msg[256];
        chomp_copy(msg, sizeof msg, p->conns[0].pg ? PQerrorMessage(p->conns[0].pg) : "no memory");
        err_set(e, 503, "unavailable", NULL, "cannot connect to the database: %s", msg);
        db_pool_close(p);
        return NULL;
    }
    keys_load(p, p->conns[0].pg, NULL);
    return p;
oom:
    if (p) {
        free(p->conninfo);
        free(p->conns);
        free(p);
    }
    err_set(e, 500, "internal", NULL, "out of memory");
    return NULL;
}

void db_pool_close(db_pool_t *p) {
    if (!p) return;
    for (int i = 0; i < p->size; i++) {
        if (p->conns[i].pg) PQfinish(p->conns[i].pg);
        cache_free(&p->conns[i]);
    }
    for (int i = 0; i < p->nkeys; i++)
        free(p->keys[i].key);
    free(p->keys);
    pthread_mutex_destroy(&p->keys_mu);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->conns);
    free(p->conninfo);
    free(p);
}

void db_pool_set_wait_ms(db_pool_t *p, int ms) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->wait_ms = ms < 0 ? 0 : ms;
    pthread_mutex_unlock(&p->mu);
}

void db_pool_stats(db_pool_t *p, int *size, int *in_use, long long *waits) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    if (size) *size = p->size;
    if (in_use) *in_use = p->in_use;
    if (waits) *waits = p->waits;
    pthread_mutex_unlock(&p->mu);
}

long long db_pool_timeouts(db_pool_t *p) {
    if (!p) return 0;
    pthread_mutex_lock(&p->mu);
    long long t = p->timeouts;
    pthread_mutex_unlock(&p->mu);
    return t;
}

/* Picks a free slot, preferring one that is already connected. Called with p->mu held. */
static db_conn_t *pick_free(db_pool_t *p) {
    db_conn_t *unopened = NULL;
    for (int i = 0; i < p->size; i++) {
        db_conn_t *c = &p->conns[i];
        if (c->taken) continue;
        if (c->pg) return c;
        if (!unopened) unopened = c;
    }
    return unopened;
}

static db_conn_t *acquire(db_pool_t *p, err_t *e) {
    pthread_mutex_lock(&p->mu);
    db_conn_t *c = pick_free(p);
    if (!c) {
        p->waits++;
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += p->wait_ms / 1000;
        dl.tv_nsec += (long)(p->wait_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        while (!(c = pick_free(p))) {
            int rc = pthread_cond_timedwait(&p->cv, &p->mu, &dl);
            if (rc == ETIMEDOUT) {
                c = pick_free(p);
                break;
            }
        }
        if (!c) {
            p->timeouts++;
            int ms = p->wait_ms;
            pthread_mutex_unlock(&p->mu);
            log_warn("db: pool exhausted (no free connection within %d ms)", ms);
            err_set(e, 503, "unavailable", NULL, "database pool exhausted; try again shortly");
            return NULL;
        }
    }
    c->taken = 1;
    p->in_use++;
    pthread_mutex_unlock(&p->mu);
    return c;
}

static void release(db_pool_t *p, db_conn_t *c) {
    conn_make_idle(c);
    pthread_mutex_lock(&p->mu);
    c->taken = 0;
    p->in_use--;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* ---------------------------------------------------------------- statements */

static int result_ok(const PGresult *r) {
    if (!r) return 0;
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE;
}

static int plan_is_stale(const PGresult *r) {
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    return st && strcmp(st, "0A000") == 0 && m && strstr(m, "cached plan must not change");
}

static PGresult *conn_exec(db_conn_t *c, const char *sql, int nparams, const char *const *params,
                           err_t *e) {
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_forget_session(c);
        err_set(e, 503, "unavailable", NULL,
                "the database is unavailable (connection lost); try again shortly");
        return NULL;
    }
    uint64_t h = hash_sql(sql);
    db_stmt_t *s = cache_find(c, sql, h);
    PGresult *r;
    if (!s && c->stmt_count < DB_STMT_MAX) {
        s = cache_add(c, sql, h);
        if (s) {
            r = PQprepare(c->pg, s->name, sql, nparams, NULL);
            if (!result_ok(r)) {
                map_error(c, c->pg, r, "prepare", e);
                PQclear(r);
                if (PQstatus(c->pg) == CONNECTION_BAD)
                    conn_forget_session(c);
                else
                    cache_rehash(c, c->stmt_cap, s); /* not prepared: forget the entry */
                return NULL;
            }
            PQclear(r);
        }
    }
    if (s) {
        r = PQexecPrepared(c->pg, s->name, nparams, params, NULL, NULL, 0);
    } else {
        /* cache full (or out of memory): dynamically built SQL must not grow the server's
         * prepared statements without bound */
        r = PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
    }
    if (!result_ok(r)) {
        map_error(c, c->pg, r, "statement", e);
        if (PQstatus(c->pg) == CONNECTION_BAD)
            conn_forget_session(c);
        else if (s && r && plan_is_stale(r))
            cache_drop(c, s);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* A statement of a flight: the caller's SQL and parameters (not copied). */
struct pipe_stmt {
    const char *sql;
    int nparams;
    const char *const *params;
};

typedef struct pipe_stmt pipe_stmt_t;
static int tx_flight(db_tx_t *tx, const pipe_stmt_t *st, int n, int commit, PGresult **res,
                     int *failed, err_t *e);

PGresult *db_exec(db_tx_t *tx, const char *sql, int nparams, const char *const *params, err_t *e) {
    if (!tx || !tx->c || !sql) {
        err_set(e, 500, "internal", NULL, "db_exec outside a transaction");
        return NULL;
    }
    if (nparams < 0 || nparams > 65535 || (nparams > 0 && !params)) {
        err_set(e, 500, "internal", NULL, "db_exec: bad parameter count");
        return NULL;
    }
    if (tx->pending || tx->ended || tx->aborted) { /* BEGIN and scope go with it (or: over) */
        const pipe_stmt_t st = {sql, nparams, params};
        PGresult *r = NULL;
        int failed;
        return tx_flight(tx, &st, 1, 0, &r, &failed, e) == 0 ? r : NULL;
    }
    return conn_exec(tx->c, sql, nparams, params, e);
}

long long db_exec_cmd(db_tx_t *tx, const char *sql, int nparams, const char *const *params,
                      err_t *e) {
    PGresult *r = db_exec(tx, sql, nparams, params, e);
    if (!r) return -1;
    const char *n = PQcmdTuples(r);
    long long v = (n && *n) ? strtoll(n, NULL, 10) : 0;
    PQclear(r);
    return v;
}

/* ---------------------------------------------------------------- transactions */

static int is_uuid(const char *s) {
    static const int dash[] = {8, 13, 18, 23};
    if (strlen(s) != 36) return 0;
    for (int i = 0, d = 0; i < 36; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-') return 0;
            d++;
            continue;
        }
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
            return 0;
    }
    return 1;
}

static const char k_scope_sql[] =
    "SELECT set_config('app.club_id',$1,true), set_config('app.user_id',$2,true), "
    "set_config('app.network_admin',$3,true), set_config('app.relay',$4,true), "
    "set_config('app.ledger_writer',$5,true)";

/* BEGIN + scope on a connected slot. Returns 0, or -1 with *e and *lost (connection gone). */
/* BEGIN and the scope in ONE round trip (libpq pipeline mode): returns 0, -1 + e (with *lost
 * when the connection is gone), or 1 when pipeline mode is unavailable (use the serial path). */
static int begin_pipelined(db_conn_t *c, const char *const params[5], int *lost, err_t *e) {
    PGconn *pg = c->pg;
    /* the scope statement must already be prepared on this connection (the serial path
     * prepares it on a connection's first transaction) */
    const db_stmt_t *scope = cache_find(c, k_scope_sql, hash_sql(k_scope_sql));
    if (!pg || !scope || PQpipelineStatus(pg) != PQ_PIPELINE_OFF || PQenterPipelineMode(pg) != 1)
        return 1;
    int sent = PQsendQueryParams(pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) == 1 &&
               PQsendQueryPrepared(pg, scope->name, 5, params, NULL, NULL, 0) == 1 &&
               PQpipelineSync(pg) == 1;
    PGresult *bad = NULL;
    int broken = !sent;
    /* results: BEGIN, NULL, scope, NULL, PIPELINE_SYNC (an aborted query gives PIPELINE_ABORTED) */
    for (int nulls = 0; sent && nulls < 4;) {
        PGresult *r = PQgetResult(pg);
        if (!r) {
            if (PQstatus(pg) == CONNECTION_BAD) {
                broken = 1;
                break;
            }
            nulls++;
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !bad) {
            bad = r;
            continue;
        }
        PQclear(r);
    }
    if (!broken && PQexitPipelineMode(pg) != 1) broken = 1;
    if (bad || broken) {
        *lost = conn_lost(pg, bad);
        if (bad && PQresultStatus(bad) != PGRES_PIPELINE_ABORTED)
            map_error(c, pg, bad, "BEGIN", e);
        else
            err_set(e, 503, "unavailable", NULL, "the database connection was lost");
        PQclear(bad);
        return -1;
    }
    return 0;
}

static int begin_on(db_conn_t *c, const char *const params[5], int *lost, err_t *e) {
    *lost = 0;
    int rc = begin_pipelined(c, params, lost, e);
    if (rc <= 0) return rc;
    PGresult *r = PQexec(c->pg, "BEGIN");
    if (!result_ok(r)) {
        *lost = conn_lost(c->pg, r);
        map_error(c, c->pg, r, "BEGIN", e);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    r = conn_exec(c, k_scope_sql, 5, params, e);
    if (!r) {
        *lost = !c->pg || PQstatus(c->pg) == CONNECTION_BAD;
        return -1;
    }
    PQclear(r);
    return 0;
}

static int begin_scoped(db_pool_t *p, const db_scope_t *scope, int ledger_writer, db_tx_t **tx,
                        err_t *e);

int db_begin(db_pool_t *p, const db_scope_t *scope, db_tx_t **tx, err_t *e) {
    return begin_scoped(p, scope, 0, tx, e);
}

int db_begin_ledger_writer(db_pool_t *p, const db_scope_t *scope, db_tx_t **tx, err_t *e) {
    return begin_scoped(p, scope, 1, tx, e);
}

/* The scope statement's parameters, checked: 0, or -1 with *e. */
static int scope_params(const db_scope_t *scope, int ledger_writer, const char *params[5],
                        err_t *e) {
    const char *club = scope && scope->club_id ? scope->club_id : "";
    const char *user = scope && scope->user_id ? scope->user_id : "";
    if (*club && !is_uuid(club)) return err_invalid(e, "club_id", "club id must be a UUID");
    if (strlen(user) > 128) return err_invalid(e, "user_id", "user id is too long");
    params[0] = club;
    params[1] = user;
    params[2] = scope && scope->network_admin ? "on" : "off";
    params[3] = scope && scope->relay ? "on" : "off";
    params[4] = ledger_writer ? "on" : "off";
    return 0;
}

static int begin_scoped(db_pool_t *p, const db_scope_t *scope, int ledger_writer, db_tx_t **tx,
                        err_t *e) {
    if (tx) *tx = NULL;
    if (!p || !tx) return err_set(e, 500, "internal", NULL, "db_begin: no pool");
    const char *params[5];
    if (scope_params(scope, ledger_writer, params, e) != 0) return -1;
    db_tx_t *t = calloc(1, sizeof *t);
    if (!t) return err_set(e, 500, "internal", NULL, "out of memory");
    db_conn_t *c = acquire(p, e);
    if (!c) goto fail;
    if (conn_ensure(p, c, e) < 0) goto fail;
    int lost = 0;
    if (begin_on(c, params, &lost, e) == 0) goto ok;
    if (!lost) goto fail;
    /* the server went away since this connection was last used (restart, failover): nothing
     * was done yet, so reconnect and try once more */
    err_clear(e);
    conn_reset(p, c, e);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) goto fail;
    if (begin_on(c, params, &lost, e) < 0) goto fail;
ok:
    t->pool = p;
    t->c = c;
    *tx = t;
    return 0;
fail:
    if (c) release(p, c);
    free(t);
    return -1;
}

/* ---------------------------------------------------------------- pipelines */

/* One command sent in a flight, to read its results back in order. */
typedef enum { PIPE_BEGIN, PIPE_PREPARE, PIPE_STMT, PIPE_COMMIT } pipe_kind_t;

typedef struct pipe_op {
    pipe_kind_t kind;
    int idx;         /* PIPE_PREPARE / PIPE_STMT: the statement's index, -1 the scope */
    const char *sql; /* PIPE_PREPARE / PIPE_STMT */
    int ok;          /* its result was COMMAND_OK / TUPLES_OK */
} pipe_op_t;

/* What goes in front of a flight's statements: `begin` (NULL: none, the flight runs in the
 * pipeline's implicit transaction, which the sync ends) and the scope statement scope_sql with
 * its parameters sp. */
typedef struct pipe_head {
    const char *begin;
    const char *scope_sql;
    const char *const *sp;
} pipe_head_t;

/* BEGIN, the scope and COMMIT, and a PREPARE and an execution per statement */
#define PIPE_OPS_MAX (2 * (DB_BATCH_MAX + 1) + 2)

/* Sends one statement, prepared on this connection first (in the same flight) when it is new
 * here; a full cache runs it unprepared. 0, or -1 when libpq could not queue it. */
static int pipe_send(db_conn_t *c, const pipe_stmt_t *st, int idx, pipe_op_t *ops, int *nops) {
    uint64_t h = hash_sql(st->sql);
    db_stmt_t *s = cache_find(c, st->sql, h);
    if (!s && c->stmt_count < DB_STMT_MAX && (s = cache_add(c, st->sql, h))) {
        if (PQsendPrepare(c->pg, s->name, st->sql, st->nparams, NULL) != 1) return -1;
        ops[(*nops)++] = (pipe_op_t){PIPE_PREPARE, idx, st->sql, 0};
    }
    int ok = s ? PQsendQueryPrepared(c->pg, s->name, st->nparams, st->params, NULL, NULL, 0)
               : PQsendQueryParams(c->pg, st->sql, st->nparams, NULL, st->params, NULL, NULL, 0);
    if (ok != 1) return -1;
    ops[(*nops)++] = (pipe_op_t){PIPE_STMT, idx, st->sql, 0};
    return 0;
}

/* Sends the commands of a flight and the sync. 0, or -1 when libpq could not queue one. */
static int pipe_send_all(db_conn_t *c, const pipe_head_t *head, const pipe_stmt_t *st, int n,
                         int commit, pipe_op_t *ops, int *nops) {
    PGconn *pg = c->pg;
    if (head && head->begin) {
        if (PQsendQueryParams(pg, head->begin, 0, NULL, NULL, NULL, NULL, 0) != 1) return -1;
        ops[(*nops)++] = (pipe_op_t){PIPE_BEGIN, -1, NULL, 0};
    }
    if (head) {
        const pipe_stmt_t scope = {head->scope_sql, 5, head->sp};
        if (pipe_send(c, &scope, -1, ops, nops) != 0) return -1;
    }
    for (int i = 0; i < n; i++)
        if (pipe_send(c, &st[i], i, ops, nops) != 0) return -1;
    if (commit && !(head && !head->begin)) { /* an implicit transaction: the sync commits */
        if (PQsendQueryParams(pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) != 1) return -1;
        ops[(*nops)++] = (pipe_op_t){PIPE_COMMIT, -1, NULL, 0};
    }
    return PQpipelineSync(pg) == 1 ? 0 : -1;
}

/* Reads the results of nops commands and the sync: each command gives its result(s) then
 * NULL, a command after a failed one PIPELINE_ABORTED. res[i] gets statement i's result, *bad
 * the first error and *bad_op its command (-1: the commit of an implicit transaction at the
 * sync, e.g. a deferred constraint: an error after the last command's NULL). 0, or -1 when the
 * connection broke or the results did not match the commands (the connection is then in an
 * unknown state). */
static int pipe_read(PGconn *pg, pipe_op_t *ops, int nops, PGresult **res, PGresult **bad,
                     int *bad_op) {
    int at_sync = 0; /* 1: the sync's error was read, 2: and its NULL */
    for (int k = 0;;) {
        PGresult *r = PQgetResult(pg);
        if (!r) {
            if (PQstatus(pg) == CONNECTION_BAD) return -1;
            if (k < nops)
                k++;
            else if (at_sync == 1)
                at_sync = 2;
            else
                return -1;
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return k == nops ? 0 : -1;
        }
        if (k >= nops) {
            if (!at_sync && !*bad && st == PGRES_FATAL_ERROR) {
                *bad = r;
                *bad_op = -1;
                at_sync = 1;
                continue;
            }
            PQclear(r);
            return -1;
        }
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            ops[k].ok = 1;
            if (ops[k].kind == PIPE_STMT && ops[k].idx >= 0 && !res[ops[k].idx]) {
                res[ops[k].idx] = r;
                continue;
            }
        } else if (st != PGRES_PIPELINE_ABORTED && !*bad) {
            *bad = r;
            *bad_op = k;
            continue;
        }
        PQclear(r);
    }
}

/* Forgets the statements whose PREPARE did not run (an earlier command failed): they are not
 * prepared on the server. */
static void pipe_forget_unprepared(db_conn_t *c, const pipe_op_t *ops, int nops) {
    for (int k = 0; k < nops; k++) {
        if (ops[k].kind != PIPE_PREPARE || ops[k].ok) continue;
        db_stmt_t *s = cache_find(c, ops[k].sql, hash_sql(ops[k].sql));
        if (s) cache_rehash(c, c->stmt_cap, s);
    }
}

/* ONE flight on c: [head: its BEGIN, its scope] the n statements [COMMIT], then the sync (a
 * head without BEGIN: the flight is one implicit transaction, which the sync commits; commit
 * then sends no COMMIT and only words the lost-connection error). 0 with res[i] set (the caller
 * PQclear()s them), or -1 with *e, *lost (the connection is gone) and *failed (1 + the index of the
 * failing statement, 0 when something else failed); every res[i] NULL then. The one error path of
 * every pipeline. */
static int pipe_flight(db_conn_t *c, const pipe_head_t *head, const pipe_stmt_t *st, int n,
                       int commit, PGresult **res, int *lost, int *failed, err_t *e) {
    pipe_op_t ops[PIPE_OPS_MAX];
    int nops = 0, bad_op = -1, broken = 0;
    PGresult *bad = NULL;
    PGconn *pg = c->pg;
    *lost = 0;
    *failed = 0;
    for (int i = 0; i < n; i++)
        res[i] = NULL;
    if (!pg || PQstatus(pg) != CONNECTION_OK || PQpipelineStatus(pg) != PQ_PIPELINE_OFF ||
        PQenterPipelineMode(pg) != 1) {
        broken = 1;
    } else {
        broken = pipe_send_all(c, head, st, n, commit, ops, &nops) != 0 ||
                 pipe_read(pg, ops, nops, res, &bad, &bad_op) != 0 || PQexitPipelineMode(pg) != 1;
    }
    for (int i = 0; i < n && !bad && !broken; i++)
        if (!res[i]) broken = 1; /* a statement gave no result: should not happen */
    if (!bad && !broken) return 0;
    for (int i = 0; i < n; i++) {
        PQclear(res[i]);
        res[i] = NULL;
    }
    *lost = broken || conn_lost(pg, bad);
    if (bad && !*lost) {
        const pipe_op_t sync = {PIPE_COMMIT, -1, NULL, 0};
        const pipe_op_t *op = bad_op >= 0 ? &ops[bad_op] : &sync;
        map_error(c, pg, bad, op->kind == PIPE_STMT && op->idx >= 0 ? "statement" : "pipeline", e);
        if (op->kind == PIPE_STMT && op->idx >= 0) *failed = op->idx + 1;
        if (op->kind == PIPE_STMT && plan_is_stale(bad)) {
            db_stmt_t *s = cache_find(c, op->sql, hash_sql(op->sql));
            if (s) cache_drop(c, s);
        }
        pipe_forget_unprepared(c, ops, nops);
    } else if (commit) {
        err_set(e, 503, "unavailable", NULL,
                "the database connection was lost during commit; the change may not have been "
                "saved");
    } else {
        err_set(e, 503, "unavailable", NULL, "the database connection was lost");
    }
    PQclear(bad);
    if (*lost && c->pg) {
        /* state unknown (results may be pending): start over with a new connection */
        conn_forget_session(c);
        PQfinish(c->pg);
        c->pg = NULL;
    }
    return -1;
}

/* A flight of tx: with the BEGIN and the scope in front while the transaction is deferred
 * (when that first flight also commits, the whole transaction is the flight: the scope and the
 * statements in the pipeline's implicit transaction, no BEGIN and no COMMIT, the sync commits);
 * a lost connection then (nothing of the transaction ran, no COMMIT in the flight) is reset and
 * the flight sent once more. */
static int tx_aborted(err_t *e) {
    return err_set(e, 500, "internal", NULL,
                   "the transaction was rolled back because a statement in it failed");
}

static int tx_flight(db_tx_t *tx, const pipe_stmt_t *st, int n, int commit, PGresult **res,
                     int *failed, err_t *e) {
    *failed = 0;
    if (tx->ended) return err_set(e, 500, "internal", NULL, "the transaction is already over");
    if (tx->aborted) return tx_aborted(e);
    const pipe_head_t head = {commit ? NULL : "BEGIN", k_scope_sql, tx->sp};
    const pipe_head_t *h = tx->pending ? &head : NULL;
    int lost = 0;
    int rc = pipe_flight(tx->c, h, st, n, commit, res, &lost, failed, e);
    if (rc != 0 && lost && h && !commit) {
        err_clear(e);
        conn_reset(tx->pool, tx->c, e);
        if (tx->c->pg && PQstatus(tx->c->pg) == CONNECTION_OK)
            rc = pipe_flight(tx->c, h, st, n, commit, res, &lost, failed, e);
    }
    tx->pending = 0; /* sent: a COMMIT after a failure reports it (or finds the connection gone) */
    if (rc == 0) tx->ended = commit;
    if (rc != 0 && h && commit) tx->aborted = 1; /* the sync rolled it back */
    return rc;
}

int db_begin_deferred(db_pool_t *p, const db_scope_t *scope, db_tx_t **tx, err_t *e) {
    if (tx) *tx = NULL;
    if (!p || !tx) return err_set(e, 500, "internal", NULL, "db_begin: no pool");
    const char *params[5];
    if (scope_params(scope, 0, params, e) != 0) return -1;
    db_tx_t *t = calloc(1, sizeof *t);
    if (!t) return err_set(e, 500, "internal", NULL, "out of memory");
    db_conn_t *c = acquire(p, e);
    if (!c || conn_ensure(p, c, e) < 0) {
        if (c) release(p, c);
        free(t);
        return -1;
    }
    snprintf(t->club, sizeof t->club, "%s", params[0]);
    snprintf(t->user, sizeof t->user, "%s", params[1]);
    t->sp[0] = t->club;
    t->sp[1] = t->user;
    for (int i = 2; i < 5; i++)
        t->sp[i] = params[i]; /* "on" / "off" literals */
    t->pool = p;
    t->c = c;
    t->pending = 1;
    *tx = t;
    return 0;
}

int db_batch_add(db_batch_t *b, const char *sql, int nparams, const char *const *params) {
    if (!b) return -1;
    if (b->broken || !sql || b->n >= DB_BATCH_MAX || nparams < 0 || nparams > 65535 ||
        (nparams > 0 && !params))
        goto fail;
    db_batch_q_t *q = &b->q[b->n];
    *q = (db_batch_q_t){0};
    q->sql = strdup(sql);
    q->params = nparams ? calloc((size_t)nparams, sizeof *q->params) : NULL;
    q->nparams = nparams;
    int ok = q->sql && (!nparams || q->params);
    for (int i = 0; ok && i < nparams; i++)
        if (params[i] && !(q->params[i] = strdup(params[i]))) ok = 0;
    b->n++; /* db_batch_clear frees a partial copy */
    if (ok) return b->n - 1;
fail:
    b->broken = 1;
    return -1;
}

int db_batch_run(db_tx_t *tx, db_batch_t *b, int flags, err_t *e) {
    if (!tx || !tx->c || !b) return err_set(e, 500, "internal", NULL, "db_batch_run: no batch");
    b->failed = 0;
    if (b->broken)
        return err_set(e, 500, "internal", NULL,
                       "a statement could not be queued (out of memory or more than %d)",
                       DB_BATCH_MAX);
    pipe_stmt_t st[DB_BATCH_MAX];
    PGresult *res[DB_BATCH_MAX];
    for (int i = 0; i < b->n; i++) {
        PQclear(b->q[i].res);
        b->q[i].res = NULL;
        st[i] = (pipe_stmt_t){b->q[i].sql, b->q[i].nparams, (const char *const *)b->q[i].params};
    }
    if (tx_flight(tx, st, b->n, flags & DB_BATCH_COMMIT, res, &b->failed, e) != 0) return -1;
    for (int i = 0; i < b->n; i++)
        b->q[i].res = res[i];
    return 0;
}

PGresult *db_batch_result(const db_batch_t *b, int i) {
    return b && i >= 0 && i < b->n ? b->q[i].res : NULL;
}

int db_batch_failed(const db_batch_t *b) {
    return b ? b->failed - 1 : -1;
}

void db_batch_clear(db_batch_t *b) {
    if (!b) return;
    for (int i = 0; i < b->n; i++) {
        free(b->q[i].sql);
        for (int j = 0; b->q[i].params && j < b->q[i].nparams; j++)
            free(b->q[i].params[j]);
        free(b->q[i].params);
        PQclear(b->q[i].res);
    }
    *b = (db_batch_t){0};
}

/* ---------------------------------------------------------------- one-statement reads */

/* The scope of a db_read: the same settings with the transaction made read only, so that the
 * read needs no BEGIN READ ONLY (setting transaction_read_only on is allowed at any point of a
 * transaction; setting it off again is refused once a statement has run). */
static const char k_scope_ro_sql[] =
    "SELECT set_config('transaction_read_only','on',true), set_config('app.club_id',$1,true), "
    "set_config('app.user_id',$2,true), set_config('app.network_admin',$3,true), "
    "set_config('app.relay',$4,true), set_config('app.ledger_writer',$5,true)";

/* db_read and db_write: the scope and the statement in ONE flight with no BEGIN and no COMMIT:
 * the statements between two syncs of the extended query protocol run in one implicit
 * transaction, which the sync commits (or rolls back after an error), so the scope's
 * transaction-local settings hold for the statement and end with it. Each is prepared on first
 * use in the same flight. `retry` resets a lost connection and runs the statement once more
 * (only for reads: a write may have committed before the connection broke). */
static PGresult *one_statement(db_pool_t *p, const db_scope_t *scope, const char *scope_sql,
                               int retry, const char *sql, int nparams, const char *const *params,
                               err_t *e) {
    const char *sp[5];
    if (!p || !sql) {
        err_set(e, 500, "internal", NULL, "db_read: no pool or statement");
        return NULL;
    }
    if (nparams < 0 || nparams > 65535 || (nparams > 0 && !params)) {
        err_set(e, 500, "internal", NULL, "db_read: bad parameter count");
        return NULL;
    }
    if (scope_params(scope, 0, sp, e) != 0) return NULL;
    db_conn_t *c = acquire(p, e);
    if (!c) return NULL;
    const pipe_head_t head = {NULL, scope_sql, sp};
    const pipe_stmt_t st = {sql, nparams, params};
    PGresult *res = NULL;
    for (int attempt = 0; attempt < 1 + retry && !res; attempt++) {
        int lost = 0, failed;
        if (attempt) {
            err_clear(e);
            conn_reset(p, c, e);
            if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) break;
        } else if (conn_ensure(p, c, e) < 0) {
            break;
        }
        if (pipe_flight(c, &head, &st, 1, !retry, &res, &lost, &failed, e) != 0 && !lost) break;
    }
    release(p, c);
    return res;
}

PGresult *db_read(db_pool_t *p, const db_scope_t *scope, const char *sql, int nparams,
                  const char *const *params, err_t *e) {
    /* read only, so a connection found gone (server restart) is reset and the read retried */
    return one_statement(p, scope, k_scope_ro_sql, 1, sql, nparams, params, e);
}

PGresult *db_write(db_pool_t *p, const db_scope_t *scope, const char *sql, int nparams,
                   const char *const *params, err_t *e) {
    return one_statement(p, scope, k_scope_sql, 0, sql, nparams, params, e);
}

int db_commit(db_tx_t *tx, err_t *e) {
    if (!tx) return err_set(e, 500, "internal", NULL, "db_commit: no transaction");
    db_conn_t *c = tx->c;
    int rc = 0;
    if (tx->aborted) {
        rc = tx_aborted(e);
        goto done;
    }
    if (tx->pending || tx->ended) goto done; /* nothing sent, or committed in a batch */
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        rc = err_set(e, 503, "unavailable", NULL,
                     "the database connection was lost; the change was not saved");
        goto done;
    }
    PGresult *r = PQexec(c->pg, "COMMIT");
    if (!result_ok(r)) {
        if (conn_lost(c->pg, r)) {
            rc = err_set(e, 503, "unavailable", NULL,
                         "the database connection was lost during commit; the change may not "
                         "have been saved");
        } else {
            rc = map_error(c, c->pg, r, "COMMIT", e); /* e.g. deferred constraint */
        }
    } else if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0) {
        /* COMMIT of a transaction in which a statement failed rolls back */
        rc = tx_aborted(e);
    }
    PQclear(r);
done:
    release(tx->pool, c);
    free(tx);
    return rc;
}

void db_rollback(db_tx_t *tx) {
    if (!tx) return;
    release(tx->pool, tx->c); /* ROLLBACK happens there */
    free(tx);
}

int db_tx_commit(db_tx_t **tx, err_t *e) {
    db_tx_t *t = *tx;
    *tx = NULL;
    return db_commit(t, e);
}

void db_tx_rollback(db_tx_t **tx) {
    db_rollback(*tx);
    *tx = NULL;
}

int db_tx_finish(db_tx_t **tx, int rc, json_t **out, err_t *e) {
    if (rc != 0)
        db_tx_rollback(tx);
    else if (*tx)
        rc = db_tx_commit(tx, e);
    if (rc != 0 && out) {
        json_decref(*out);
        *out = NULL;
    }
    return rc != 0 ? -1 : 0;
}

PGconn *db_tx_conn(db_tx_t *tx) {
    if (!tx || !tx->c || tx->aborted) return NULL;
    if (tx->pending) {
        err_t e;
        int failed;
        if (tx_flight(tx, NULL, 0, 0, NULL, &failed, &e) != 0) return NULL;
    }
    return tx->c->pg;
}

int db_ping(db_pool_t *p, err_t *e) {
    if (!p) return err_set(e, 500, "internal", NULL, "db_ping: no pool");
    db_conn_t *c = acquire(p, e);
    if (!c) return -1;
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt) {
            err_clear(e);
            conn_reset(p, c, e);
        }
        if (conn_ensure(p, c, e) < 0) break;
        PGresult *r = PQexec(c->pg, "SELECT 1");
        int ok = result_ok(r);
        int lost = !ok && conn_lost(c->pg, r);
        if (!ok) map_error(c, c->pg, r, "ping", e);
        PQclear(r);
        if (ok) {
            rc = 0;
            break;
        }
        if (!lost) break;
    }
    release(p, c);
    return rc;
}

const char *db_val(const PGresult *r, int row, const char *col) {
    if (!r || !col) return NULL;
    int f = PQfnumber(r, col);
    if (f < 0 || row < 0 || row >= PQntuples(r) || PQgetisnull(r, row, f)) return NULL;
    return PQgetvalue(r, row, f);
}

void db_texts(const PGresult *r, int row, int first, const db_text_t *cols, size_t n) {
    for (size_t i = 0; i < n; i++)
        snprintf(cols[i].dst, cols[i].size, "%s", PQgetvalue(r, row, first + (int)i));
}

json_t *db_query_json(db_tx_t *tx, const char *sql, int nparams, const char *const *params,
                      err_t *e) {
    PGresult *r = db_exec(tx, sql, nparams, params, e);
    if (!r) return NULL;
    json_t *j = NULL;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        j = db_json(r, 0, 0, e);
    else
        err_set(e, 500, "internal", "", "database returned no JSON");
    PQclear(r);
    return j;
}

/* r when it has a row, else NULL with 404 (fmt, ap) and r cleared. */
static PGresult *row_or_404(PGresult *r, err_t *e, const char *field, const char *fmt, va_list ap) {
    if (!r || PQntuples(r) > 0) return r;
    PQclear(r);
    char msg[sizeof e->message];
    vsnprintf(msg, sizeof msg, fmt, ap);
    err_set(e, 404, "not_found", field, "%s", msg);
    return NULL;
}

PGresult *db_row(PGresult *r, err_t *e, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    r = row_or_404(r, e, field, fmt, ap);
    va_end(ap);
    return r;
}

json_t *db_row_json(PGresult *r, err_t *e, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    r = row_or_404(r, e, field, fmt, ap);
    va_end(ap);
    if (!r) return NULL;
    json_t *j = db_json(r, 0, 0, e);
    PQclear(r);
    return j;
}

json_t *db_json_raw(const PGresult *r, int row, int col, err_t *e) {
    json_t *v = jsonx_raw(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col), e);
    if (!v) err_set(e, 500, "internal", "", "database returned unreadable JSON");
    return v;
}

json_t *db_json(const PGresult *r, int row, int col, err_t *e) {
    json_error_t je;
    json_t *j = json_loads(PQgetvalue(r, row, col), JSON_DECODE_ANY, &je);
    if (!j) err_set(e, 500, "internal", "", "database returned unreadable JSON");
    return j;
}
