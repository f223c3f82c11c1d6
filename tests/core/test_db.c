/* test_db: the connection pool against the test PostgreSQL: transactions and scope, prepared
 * statement reuse, RLS with core.current_club() and the outbox policies of core.create_outbox,
 * SQLSTATE mapping, pool exhaustion, and recovery across a server restart/stop/start (through
 * RECIPROCAL_TEST_PG_CTL, so this binary must not run alongside other database tests). */
#include <libpq-fe.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/migrate.h"
#include "test.h"

/* REQUIRE evaluates its condition twice: calls with side effects go through this. */
#define REQUIRE_OK(call)                                                                           \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        REQUIRE(rc_ == 0);                                                                         \
    } while (0)

#define CLUB_A "11111111-1111-4111-8111-111111111111"
#define CLUB_B "22222222-2222-4222-8222-222222222222"

static const char *g_app;   /* RECIPROCAL_TEST_DATABASE_URL */
static const char *g_owner; /* RECIPROCAL_TEST_OWNER_URL */
static char g_schema[64];   /* scratch schema in the test database */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs SQL as the owner role (schema setup). %s in sql is replaced by the scratch schema. */
static int owner_exec(const char *fmt) {
    char sql[4096];
    snprintf(sql, sizeof sql, fmt, g_schema, g_schema, g_schema, g_schema, g_schema, g_schema);
    PGconn *c = PQconnectdb(g_owner);
    int ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PQclear(PQexec(c, "SET client_min_messages = warning"));
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok) fprintf(stdout, "#   owner sql failed: %s", PQresultErrorMessage(r));
        PQclear(r);
    } else {
        fprintf(stdout, "#   owner connection failed: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return ok ? 0 : -1;
}

static db_pool_t *open_pool(int size) {
    err_t e;
    db_pool_t *p = db_pool_open(g_app, size, &e);
    if (!p) fprintf(stdout, "#   db_pool_open: %d %s\n", e.status, e.message);
    return p;
}

/* One-value query in its own transaction with the given scope; returns a static copy. */
static const char *tx_value(db_pool_t *p, const db_scope_t *s, const char *sql, err_t *e) {
    static char buf[256];
    db_tx_t *tx;
    if (db_begin(p, s, &tx, e) < 0) return NULL;
    PGresult *r = db_exec(tx, sql, 0, NULL, e);
    const char *ret = NULL;
    if (r && PQntuples(r) == 1) {
        snprintf(buf, sizeof buf, "%s", PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
        ret = buf;
    }
    PQclear(r);
    if (db_commit(tx, e) < 0) return NULL;
    return ret;
}

static void test_open_errors(void) {
    err_t e;
    err_clear(&e);
    double t0 = now_ms();
    db_pool_t *p = db_pool_open("postgresql://nobody@127.0.0.1:1/x", 2, &e);
    CHECK(p == NULL);
    CHECK_EQ_INT(e.status, 503);
    CHECK_STR(e.code, "unavailable");
    CHECK(strstr(e.message, "cannot connect") != NULL);
    CHECK(now_ms() - t0 < 3000);
    err_clear(&e);
    CHECK(db_pool_open(g_app, 0, &e) == NULL);
    CHECK_EQ_INT(e.status, 500);
    db_rollback(NULL); /* safe */
    db_pool_close(NULL);
}

static void test_basics(void) {
    err_t e;
    db_pool_t *p = open_pool(2);
    REQUIRE(p);
    int size = -1, in_use = -1;
    long long waits = -1;
    db_pool_stats(p, &size, &in_use, &waits);
    CHECK_EQ_INT(size, 2);
    CHECK_EQ_INT(in_use, 0);
    CHECK_EQ_INT(waits, 0);
    CHECK_EQ_INT(db_ping(p, &e), 0);

    db_tx_t *tx;
    REQUIRE_OK(db_begin(p, NULL, &tx, &e));
    db_pool_stats(p, &size, &in_use, &waits);
    CHECK_EQ_INT(in_use, 1);
    CHECK(db_tx_conn(tx) != NULL);
    const char *params[2] = {"40", NULL};
    PGresult *r = db_exec(tx, "SELECT $1::int + 2 AS v, $2::text AS n", 2, params, &e);
    REQUIRE(r);
    CHECK_STR(db_val(r, 0, "v"), "42");
    CHECK(db_val(r, 0, "n") == NULL);       /* SQL NULL */
    CHECK(db_val(r, 0, "missing") == NULL); /* no such column */
    CHECK(db_val(r, 1, "v") == NULL);       /* no such row */
    PQclear(r);
    /* the one-row read: a row, no row (404 naming the field), a failed statement passed through */
    r = db_row(db_exec(tx, "SELECT 1 WHERE $1::int = 40", 1, params, &e), &e, "id", "none");
    CHECK(r != NULL);
    PQclear(r);
    CHECK(db_row(db_exec(tx, "SELECT 1 WHERE false", 0, NULL, &e), &e, "id", "no %s", "x") == NULL);
    CHECK_EQ_INT(e.status, 404);
    CHECK_STR(e.code, "not_found");
    CHECK_STR(e.field, "id");
    CHECK_STR(e.message, "no x");
    json_t *j =
        db_row_json(db_exec(tx, "SELECT '{\"a\":1}'::jsonb::text", 0, NULL, &e), &e, "id", "none");
    CHECK(j && json_integer_value(json_object_get(j, "a")) == 1);
    json_decref(j);
    CHECK(db_row_json(db_exec(tx, "SELECT '{}'::text WHERE false", 0, NULL, &e), &e, "key",
                      "no such thing") == NULL);
    CHECK_EQ_INT(e.status, 404);
    CHECK_STR(e.field, "key");
    err_t keep = {.status = 503};
    CHECK(db_row_json(NULL, &keep, "id", "none") == NULL);
    CHECK_EQ_INT(keep.status, 503);
    CHECK_EQ_INT(db_exec_cmd(tx, "CREATE TEMP TABLE t_basic (x int) ON COMMIT DROP", 0, NULL, &e),
                 0);
    CHECK_EQ_INT(db_exec_cmd(tx, "INSERT INTO t_basic SELECT generate_series(1, 3)", 0, NULL, &e),
                 3);
    CHECK_EQ_INT(db_exec_cmd(tx, "UPDATE t_basic SET x = x + 1 WHERE x >= 2", 0, NULL, &e), 2);
    CHECK_EQ_INT(db_commit(tx, &e), 0);
    db_pool_stats(p, &size, &in_use, &waits);
    CHECK_EQ_INT(in_use, 0);

    /* a statement error leaves the transaction aborted: COMMIT must report it */
    REQUIRE_OK(db_begin(p, NULL, &tx, &e));
    err_clear(&e);
    CHECK(db_exec(tx, "SELECT * FROM no_such_table_xyz", 0, NULL, &e) == NULL);
    CHECK_EQ_INT(e.status, 500);
    err_clear(&e);
    CHECK_EQ_INT(db_commit(tx, &e), -1);
    CHECK_EQ_INT(e.status, 500);
    CHECK(strstr(e.message, "rolled back") != NULL);

    /* rollback returns an idle connection: the temp table is gone */
    db_pool_close(p);
    p = open_pool(1);
    REQUIRE(p);
    REQUIRE_OK(db_begin(p, NULL, &tx, &e));
    CHECK_EQ_INT(db_exec_cmd(tx, "CREATE TEMP TABLE t_rb (x int)", 0, NULL, &e), 0);
    db_rollback(tx);
    CHECK_STR(tx_value(p, NULL, "SELECT to_regclass('pg_temp.t_rb') IS NULL", &e), "t");
    db_pool_close(p);
}

static void test_prepared_reuse(void) {
    err_t e;
    db_pool_t *p = open_pool(1);
    REQUIRE(p);
    const char *sql = "SELECT $1::int * 2 AS v";
    const char *count_sql =
        "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT $1::int * 2 AS v'";
    long long total[3] = {0};
    for (int t = 0; t < 3; t++) {
        db_tx_t *tx;
        REQUIRE_OK(db_begin(p, NULL, &tx, &e));
        for (int i = 0; i < 4; i++) {
            char v[16];
            snprintf(v, sizeof v, "%d", i);
            const char *params[1] = {v};
            PGresult *r = db_exec(tx, sql, 1, params, &e);
            REQUIRE(r);
            CHECK_EQ_INT(atoi(db_val(r, 0, "v")), i * 2);
            PQclear(r);
        }
        PGresult *r = db_exec(tx, count_sql, 0, NULL, &e);
        REQUIRE(r);
        CHECK_STR(PQgetvalue(r, 0, 0), "1"); /* prepared once on this connection */
        PQclear(r);
        r = db_exec(tx,
                    "SELECT count(*), count(*) FILTER (WHERE name ~ '^s[0-9]+$') "
                    "FROM pg_prepared_statements",
                    0, NULL, &e);
        REQUIRE(r);
        total[t] = atoll(PQgetvalue(r, 0, 0));
        CHECK_STR(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
        PQclear(r);
        CHECK_EQ_INT(db_commit(tx, &e), 0);
    }
    /* scope + test statement + 2 count statements, no growth across transactions */
    CHECK_EQ_INT(total[0], 4);
    CHECK_EQ_INT(total[2], total[1]);
    db_pool_close(p);
}

static void test_scope(void) {
    err_t e;
    db_pool_t *p = open_pool(1);
    REQUIRE(p);
    db_scope_t s = {CLUB_A, "33333333-3333-4333-8333-333333333333", 1, 0};
    db_tx_t *tx;
    REQUIRE_OK(db_begin(p, &s, &tx, &e));
    PGresult *r = db_exec(tx,
                          "SELECT current_setting('app.club_id') AS club, "
                          "current_setting('app.user_id') AS usr, "
                          "current_setting('app.network_admin') AS admin, "
                          "current_setting('app.relay') AS relay, core.current_club() AS cc, "
                          "core.is_network_admin() AS na, core.is_relay() AS rl",
                          0, NULL, &e);
    REQUIRE(r);
    CHECK_STR(db_val(r, 0, "club"), CLUB_A);
    CHECK_STR(db_val(r, 0, "usr"), "33333333-3333-4333-8333-333333333333");
    CHECK_STR(db_val(r, 0, "admin"), "on");
    CHECK_STR(db_val(r, 0, "relay"), "off");
    CHECK_STR(db_val(r, 0, "cc"), CLUB_A);
    CHECK_STR(db_val(r, 0, "na"), "t");
    CHECK_STR(db_val(r, 0, "rl"), "f");
    PQclear(r);
    CHECK_EQ_INT(db_commit(tx, &e), 0);

    /* the settings are transaction-local: the next transaction on the same connection has the
     * new scope only */
    db_scope_t relay = {NULL, NULL, 0, 1};
    CHECK_STR(tx_value(p, &relay,
                       "SELECT coalesce(core.current_club()::text, 'none') || ' ' || "
                       "core.is_network_admin() || ' ' || core.is_relay() || ' [' || "
                       "current_setting('app.user_id') || ']'",
                       &e),
              "none false true []");
    CHECK_STR(tx_value(p, NULL, "SELECT core.current_club() IS NULL AND NOT core.is_relay()", &e),
              "t");

    db_scope_t bad = {"not-a-uuid", NULL, 0, 0};
    err_clear(&e);
    CHECK_EQ_INT(db_begin(p, &bad, &tx, &e), -1);
    CHECK(tx == NULL);
    CHECK_EQ_INT(e.status, 422); /* a string, not a UUID: an invalid value */
    CHECK_STR(e.field, "club_id");
    int in_use = -1;
    db_pool_stats(p, NULL, &in_use, NULL);
    CHECK_EQ_INT(in_use, 0);
    db_pool_close(p);
}

static int setup_schema(void) {
    snprintf(g_schema, sizeof g_schema, "dbtest_%d", (int)getpid());
    return owner_exec(
        "DROP SCHEMA IF EXISTS %s CASCADE;"
        "CREATE SCHEMA %s;"
        "GRANT USAGE ON SCHEMA %s TO reciprocal_app;"
        "SET search_path = %s;"
        "CREATE TABLE items (id bigserial PRIMARY KEY, club_id uuid NOT NULL, slug text NOT NULL,"
        " email text, parent bigint REFERENCES items (id), qty int CHECK (qty >= 0), code text,"
        " UNIQUE (club_id, slug));"
        "CREATE UNIQUE INDEX items_email_idx ON items (lower(email));"
        "ALTER TABLE items ENABLE ROW LEVEL SECURITY;"
        "ALTER TABLE items FORCE ROW LEVEL SECURITY;"
        "CREATE POLICY tenant ON items USING (club_id = core.current_club())"
        " WITH CHECK (club_id = core.current_club());"
        "GRANT SELECT, INSERT, UPDATE, DELETE ON items TO reciprocal_app;"
        "GRANT USAGE ON SEQUENCE items_id_seq TO reciprocal_app;"
        "SELECT core.create_outbox('%s');");
}

static int insert_item(db_pool_t *p, const char *club, const char *slug, const char *email,
                       err_t *e) {
    char sql[256];
    snprintf(sql, sizeof sql, "INSERT INTO %s.items (club_id, slug, email) VALUES ($1, $2, $3)",
             g_schema);
    db_scope_t s = {club, NULL, 0, 0};
    db_tx_t *tx;
    if (db_begin(p, &s, &tx, e) < 0) return -1;
    const char *params[3] = {club, slug, email};
    if (db_exec_cmd(tx, sql, 3, params, e) != 1) {
        db_rollback(tx);
        return -1;
    }
    return db_commit(tx, e);
}

static void test_rls(void) {
    err_t e;
    db_pool_t *p = open_pool(2);
    REQUIRE(p);
    CHECK_EQ_INT(insert_item(p, CLUB_A, "a-one", NULL, &e), 0);
    CHECK_EQ_INT(insert_item(p, CLUB_A, "a-two", NULL, &e), 0);
    CHECK_EQ_INT(insert_item(p, CLUB_B, "b-one", NULL, &e), 0);

    char sql[256];
    snprintf(sql, sizeof sql, "SELECT string_agg(slug, ',' ORDER BY slug) FROM %s.items", g_schema);
    db_scope_t a = {CLUB_A, NULL, 0, 0}, b = {CLUB_B, NULL, 0, 0}, none = {0};
    CHECK_STR(tx_value(p, &a, sql, &e), "a-one,a-two");
    CHECK_STR(tx_value(p, &b, sql, &e), "b-one");
    CHECK_STR(tx_value(p, &none, sql, &e), "(null)"); /* no club: no rows */
    db_scope_t admin = {NULL, NULL, 1, 0};
    CHECK_STR(tx_value(p, &admin, sql, &e), "(null)"); /* this policy has no admin bypass */

    /* club A writing a row of club B: refused by the policy */
    db_tx_t *tx;
    REQUIRE_OK(db_begin(p, &a, &tx, &e));
    snprintf(sql, sizeof sql, "INSERT INTO %s.items (club_id, slug) VALUES ($1, 'x')", g_schema);
    const char *params[1] = {CLUB_B};
    err_clear(&e);
    CHECK_EQ_INT(db_exec_cmd(tx, sql, 1, params, &e), -1);
    CHECK_EQ_INT(e.status, 403);
    CHECK_STR(e.code, "forbidden");
    db_rollback(tx);

    /* club A cannot change club B's rows (they are invisible: 0 rows) */
    REQUIRE_OK(db_begin(p, &a, &tx, &e));
    snprintf(sql, sizeof sql, "UPDATE %s.items SET qty = 1 WHERE slug = 'b-one'", g_schema);
    CHECK_EQ_INT(db_exec_cmd(tx, sql, 0, NULL, &e), 0);
    CHECK_EQ_INT(db_commit(tx, &e), 0);
    db_pool_close(p);
}

/* db_read: one statement in a scoped read-only transaction, one pipeline (the first use of a
 * statement on a connection goes step by step and prepares it; the next ones are pipelined). */
static const char *read_value(db_pool_t *p, const db_scope_t *s, const char *sql, int n,
                              const char *const *params, err_t *e) {
    static char buf[256];
    PGresult *r = db_read(p, s, sql, n, params, e);
    if (!r) return NULL;
    snprintf(buf, sizeof buf, "%s",
             PQntuples(r) != 1      ? "(rows)"
             : PQgetisnull(r, 0, 0) ? "(null)"
                                    : PQgetvalue(r, 0, 0));
    PQclear(r);
    return buf;
}

static void test_read(void) {
    err_t e;
    db_pool_t *p = open_pool(1); /* one connection: every call below reuses it */
    REQUIRE(p);
    CHECK_EQ_INT(insert_item(p, CLUB_A, "r-a", NULL, &e), 0);
    CHECK_EQ_INT(insert_item(p, CLUB_B, "r-b", NULL, &e), 0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(slug, ',' ORDER BY slug) || ' ' || current_setting('app.user_id')"
             " || ' ' || current_setting('transaction_read_only') FROM %s.items"
             " WHERE slug LIKE $1",
             g_schema);
    const char *like[] = {"r-%"};
    char like_sql[256];
    snprintf(like_sql, sizeof like_sql, "%s", sql);
    db_scope_t a = {CLUB_A, "44444444-4444-4444-8444-444444444444", 0, 0}, b = {CLUB_B, NULL, 0, 0};
    for (int i = 0; i < 3; i++) { /* 1st: step by step; then pipelined */
        CHECK_STR(read_value(p, &a, sql, 1, like, &e),
                  "r-a 44444444-4444-4444-8444-444444444444 on");
        CHECK_STR(read_value(p, &b, sql, 1, like, &e), "r-b  on");
    }
    /* the scope was transaction-local: a later transaction on the connection has none of it */
    CHECK_STR(tx_value(p, NULL,
                       "SELECT coalesce(core.current_club()::text, 'none') || "
                       "current_setting('app.user_id') || current_setting('transaction_read_only')",
                       &e),
              "noneoff");
    /* read only: a write fails and leaves nothing behind */
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.items (club_id, slug) VALUES ($1, 'r-w') RETURNING id", g_schema);
    const char *club_a[] = {CLUB_A};
    for (int i = 0; i < 2; i++) {
        err_clear(&e);
        CHECK(db_read(p, &a, sql, 1, club_a, &e) == NULL);
        CHECK(e.status >= 400);
    }
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.items WHERE slug = 'r-w'", g_schema);
    CHECK_STR(read_value(p, &a, sql, 0, NULL, &e), "0");
    /* a failing statement (pipelined, after its first use): mapped error, connection usable */
    snprintf(sql, sizeof sql, "SELECT 1 / $1::int FROM %s.items LIMIT 1", g_schema);
    const char *one[] = {"1"}, *zero[] = {"0"};
    CHECK_STR(read_value(p, &a, sql, 1, one, &e), "1");
    err_clear(&e);
    CHECK(read_value(p, &a, sql, 1, zero, &e) == NULL);
    CHECK_EQ_INT(e.status, 422);
    CHECK_STR(read_value(p, &a, sql, 1, one, &e), "1");
    /* the statement cannot make the transaction read-write again (the scope made it read
     * only, and a statement has run) */
    err_clear(&e);
    CHECK(read_value(p, &a, "SELECT set_config('transaction_read_only', 'off', true)", 0, NULL,
                     &e) == NULL);
    CHECK(e.status >= 400);
    err_clear(&e);
    CHECK(read_value(p, &a,
                     "WITH w AS (SELECT set_config('transaction_read_only', 'off', true))"
                     " SELECT * FROM w",
                     0, NULL, &e) == NULL);
    /* two statements (the scope and the read) in the pipeline's implicit transaction: no
     * BEGIN READ ONLY and no COMMIT, so the read runs outside a transaction block (a SAVEPOINT
     * is refused there; in a BEGIN ... COMMIT block it would succeed), and every scope setting
     * still reaches it (above) and ends with it (tx_value above) */
    for (int i = 0; i < 2; i++) {
        err_clear(&e);
        CHECK(db_read(p, &a, "SAVEPOINT s", 0, NULL, &e) == NULL);
        CHECK_EQ_INT(e.status, 500);
        CHECK(strstr(e.message, "25P01") != NULL);
    }
    CHECK_STR(read_value(p, &b, like_sql, 1, like, &e), "r-b  on");
    /* scope checks as db_begin */
    db_scope_t bad = {"not-a-uuid", NULL, 0, 0};
    err_clear(&e);
    CHECK(db_read(p, &bad, "SELECT 1", 0, NULL, &e) == NULL);
    CHECK_EQ_INT(e.status, 422);
    CHECK_STR(e.field, "club_id");
    int in_use = -1;
    db_pool_stats(p, NULL, &in_use, NULL);
    CHECK_EQ_INT(in_use, 0);
    db_pool_close(p);
}

/* db_write (issue 16): one writing statement in a scoped transaction, one pipeline: it commits
 * (visible to the next transaction), runs in the scope (RLS: another club's row is not written),
 * a failing statement leaves nothing behind and the connection usable. */
static void test_write(void) {
    err_t e;
    db_pool_t *p = open_pool(1);
    REQUIRE(p);
    char sql[256], count[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.items (club_id, slug) VALUES ($1, $2) RETURNING "
             "current_setting('transaction_read_only')",
             g_schema);
    snprintf(count, sizeof count, "SELECT count(*) FROM %s.items WHERE slug LIKE 'w-%%'", g_schema);
    db_scope_t a = {CLUB_A, NULL, 0, 0};
    for (int i = 0; i < 3; i++) { /* 1st: step by step; then pipelined */
        char slug[16];
        snprintf(slug, sizeof slug, "w-%d", i);
        const char *pv[] = {CLUB_A, slug};
        err_clear(&e);
        PGresult *r = db_write(p, &a, sql, 2, pv, &e);
        CHECK(r != NULL);
        if (r) CHECK_STR(PQgetvalue(r, 0, 0), "off");
        PQclear(r);
    }
    CHECK_STR(read_value(p, &a, count, 0, NULL, &e), "3"); /* committed */
    /* RLS: club A's scope cannot write a club B row */
    const char *other[] = {CLUB_B, "w-b"};
    err_clear(&e);
    CHECK(db_write(p, &a, sql, 2, other, &e) == NULL);
    CHECK_EQ_INT(e.status, 403);
    /* a failing statement rolls back; the connection stays usable */
    const char *dup[] = {CLUB_A, NULL};
    err_clear(&e);
    CHECK(db_write(p, &a, sql, 2, dup, &e) == NULL);
    CHECK(e.status >= 400);
    CHECK_STR(read_value(p, &a, count, 0, NULL, &e), "3");
    /* no BEGIN/COMMIT: the sync commits; an error at that commit (a deferred constraint) is the
     * statement's error, nothing is saved and the connection stays usable */
    CHECK_EQ_INT(owner_exec("CREATE TABLE %s.deferred (club_id uuid NOT NULL, k text, "
                            "UNIQUE (k) DEFERRABLE INITIALLY DEFERRED);"
                            "GRANT SELECT, INSERT ON %s.deferred TO reciprocal_app"),
                 0);
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.deferred (club_id, k) VALUES ($1, $2), ($1, $2) RETURNING k",
             g_schema);
    const char *twice[] = {CLUB_A, "d"};
    for (int i = 0; i < 2; i++) {
        err_clear(&e);
        PGresult *r = db_write(p, &a, sql, 2, twice, &e);
        CHECK(r == NULL);
        PQclear(r);
        CHECK_EQ_INT(e.status, 409);
        CHECK_STR(e.code, "conflict");
    }
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.deferred", g_schema);
    CHECK_STR(read_value(p, &a, sql, 0, NULL, &e), "0");
    CHECK_STR(read_value(p, &a, count, 0, NULL, &e), "3");
    int in_use = -1;
    db_pool_stats(p, NULL, &in_use, NULL);
    CHECK_EQ_INT(in_use, 0);
    db_pool_close(p);
}

/* Pipelines (issue 11): db_begin_deferred sends BEGIN and the scope with the first statement;
 * a batch runs several statements in one flight and answers every result in order; an error in
 * the middle names the statement, runs none after it and leaves nothing behind; a statement
 * whose PREPARE was aborted is prepared again next time; COMMIT in the flight ends the
 * transaction. */
static void test_pipeline(void) {
    err_t e;
    db_pool_t *p = open_pool(1);
    REQUIRE(p);
    char ins[256], cnt[256];
    snprintf(ins, sizeof ins,
             "INSERT INTO %s.items (club_id, slug) VALUES (core.current_club(), $1) RETURNING slug",
             g_schema);
    snprintf(cnt, sizeof cnt, "SELECT count(*) FROM %s.items WHERE slug LIKE 'p-%%'", g_schema);
    db_scope_t a = {CLUB_A, NULL, 0, 0};
    for (int round = 0; round < 2; round++) { /* 1st: prepared in the flight; 2nd: cached */
        db_tx_t *tx = NULL;
        db_batch_t b = {0};
        err_clear(&e);
        REQUIRE_OK(db_begin_deferred(p, &a, &tx, &e));
        char s1[16], s2[16];
        snprintf(s1, sizeof s1, "p-%d-1", round);
        snprintf(s2, sizeof s2, "p-%d-2", round);
        const char *p1[] = {s1}, *p2[] = {s2};
        CHECK_EQ_INT(db_batch_add(&b, "SELECT current_setting('app.club_id')", 0, NULL), 0);
        CHECK_EQ_INT(db_batch_add(&b, ins, 1, p1), 1);
        CHECK_EQ_INT(db_batch_add(&b, ins, 1, p2), 2);
        CHECK_EQ_INT(db_batch_add(&b, cnt, 0, NULL), 3);
        CHECK_EQ_INT(db_batch_run(tx, &b, DB_BATCH_COMMIT, &e), 0);
        CHECK_EQ_INT(db_batch_failed(&b), -1);
        CHECK_STR(PQgetvalue(db_batch_result(&b, 0), 0, 0), CLUB_A); /* the scope came first */
        CHECK_STR(PQgetvalue(db_batch_result(&b, 1), 0, 0), s1);
        CHECK_STR(PQgetvalue(db_batch_result(&b, 2), 0, 0), s2);
        CHECK_STR(PQgetvalue(db_batch_result(&b, 3), 0, 0), round ? "4" : "2"); /* sees both */
        CHECK(db_batch_result(&b, 4) == NULL);
        db_batch_clear(&b);
        CHECK_EQ_INT(db_commit(tx, &e), 0); /* committed in the flight: only releases */
    }
    CHECK_STR(read_value(p, &a, cnt, 0, NULL, &e), "4");
    db_tx_t *tx = NULL;
    db_batch_t b = {0};
    /* a transaction that is one flight with its COMMIT runs in the pipeline's implicit
     * transaction (no BEGIN, no COMMIT statement): a SAVEPOINT is refused there; in a later
     * flight of a transaction begun in an earlier one it is not */
    for (int later = 0; later < 2; later++) {
        err_clear(&e);
        REQUIRE_OK(db_begin_deferred(p, &a, &tx, &e));
        if (later) {
            db_batch_add(&b, cnt, 0, NULL);
            CHECK_EQ_INT(db_batch_run(tx, &b, 0, &e), 0);
            db_batch_clear(&b);
        }
        db_batch_add(&b, "SAVEPOINT s", 0, NULL);
        db_batch_add(&b, cnt, 0, NULL);
        CHECK_EQ_INT(db_batch_run(tx, &b, DB_BATCH_COMMIT, &e), later ? 0 : -1);
        if (!later) CHECK(strstr(e.message, "25P01") != NULL);
        db_batch_clear(&b);
        CHECK_EQ_INT(db_tx_finish(&tx, later ? 0 : -1, NULL, &e), later ? 0 : -1);
    }
    /* an error in the middle: 409 naming the statement, nothing after it ran, nothing kept */
    err_clear(&e);
    REQUIRE_OK(db_begin_deferred(p, &a, &tx, &e));
    const char *fresh[] = {"p-x"}, *dup[] = {"p-0-1"};
    char boom[128];
    snprintf(boom, sizeof boom,
             "SELECT 1 FROM %s.items WHERE slug = $1 OR 1 / (length($1) - 3) = 1", g_schema);
    db_batch_add(&b, ins, 1, fresh);
    db_batch_add(&b, ins, 1, dup);
    db_batch_add(&b, boom, 1, fresh); /* new on the connection: its PREPARE is aborted */
    CHECK_EQ_INT(db_batch_run(tx, &b, DB_BATCH_COMMIT, &e), -1);
    CHECK_EQ_INT(e.status, 409);
    CHECK_EQ_INT(db_batch_failed(&b), 1);
    CHECK(db_batch_result(&b, 0) == NULL);
    db_batch_clear(&b);
    /* that one-flight transaction is over (rolled back at the sync): a later statement does
     * not run outside it, and the commit reports the rollback */
    err_clear(&e);
    CHECK(db_exec(tx, cnt, 0, NULL, &e) == NULL);
    CHECK_EQ_INT(e.status, 500);
    CHECK(db_tx_conn(tx) == NULL);
    err_clear(&e);
    CHECK_EQ_INT(db_commit(tx, &e), -1);
    CHECK_EQ_INT(e.status, 500);
    CHECK_STR(read_value(p, &a, cnt, 0, NULL, &e), "4");
    /* the aborted PREPARE was forgotten: the statement is prepared (and fails) on its own now */
    err_clear(&e);
    REQUIRE_OK(db_begin_deferred(p, &a, &tx, &e));
    db_batch_add(&b, boom, 1, fresh);
    CHECK_EQ_INT(db_batch_run(tx, &b, 0, &e), -1);
    CHECK_EQ_INT(e.status, 422); /* 22012 division by zero, not "prepared statement missing" */
    CHECK_EQ_INT(db_batch_failed(&b), 0);
    db_batch_clear(&b);
    /* an aborted transaction: a later batch fails, the COMMIT reports the rollback */
    db_batch_add(&b, cnt, 0, NULL);
    err_clear(&e);
    CHECK_EQ_INT(db_batch_run(tx, &b, 0, &e), -1);
    CHECK_EQ_INT(e.status, 500);
    db_batch_clear(&b);
    err_clear(&e);
    CHECK_EQ_INT(db_commit(tx, &e), -1);
    /* db_exec on a deferred transaction: BEGIN and the scope go with it; then step by step */
    err_clear(&e);
    REQUIRE_OK(db_begin_deferred(p, &a, &tx, &e));
    PGresult *r = db_exec(tx, "SELECT current_setting('app.club_id')", 0, NULL, &e);
    CHECK(r && strcmp(PQgetvalue(r, 0, 0), CLUB_A) == 0);
    PQclear(r);
    r = db_exec(tx, "SELECT current_setting('transaction_isolation')", 0, NULL, &e);
    CHECK(r != NULL);
    PQclear(r);
    CHECK_EQ_INT(db_tx_finish(&tx, 0, NULL, &e), 0);
    /* nothing sent: the commit sends nothing; a full batch fails the run */
    REQUIRE_OK(db_begin_deferred(p, &a, &tx, &e));
    CHECK_EQ_INT(db_commit(tx, &e), 0);
    for (int i = 0; i <= DB_BATCH_MAX; i++)
        db_batch_add(&b, cnt, 0, NULL);
    REQUIRE_OK(db_begin_deferred(p, &a, &tx, &e));
    err_clear(&e);
    CHECK_EQ_INT(db_batch_run(tx, &b, 0, &e), -1);
    CHECK_EQ_INT(e.status, 500);
    db_batch_clear(&b);
    db_rollback(tx);
    int in_use = -1;
    db_pool_stats(p, NULL, &in_use, NULL);
    CHECK_EQ_INT(in_use, 0);
    db_pool_close(p);
}

static void test_error_mapping(void) {
    err_t e;
    db_pool_t *p = open_pool(1);
    REQUIRE(p);
    CHECK_EQ_INT(insert_item(p, CLUB_A, "dup-slug", "Someone@Example.org", &e), 0);

    err_clear(&e);
    CHECK_EQ_INT(insert_item(p, CLUB_A, "dup-slug", NULL, &e), -1);
    CHECK_EQ_INT(e.status, 409);
    CHECK_STR(e.code, "conflict");
    CHECK_STR(e.field, "slug"); /* (club_id, slug): the column that is not club_id */
    CHECK(strstr(e.message, "dup-slug") == NULL);
    CHECK(strstr(e.message, CLUB_A) == NULL);

    err_clear(&e);
    CHECK_EQ_INT(insert_item(p, CLUB_A, "other", "someone@example.org", &e), -1);
    CHECK_EQ_INT(e.status, 409);
    CHECK_STR(e.field, "email"); /* expression index lower(email) */
    CHECK(strstr(e.message, "example") == NULL);

    db_scope_t a = {CLUB_A, NULL, 0, 0};
    db_tx_t *tx;
    char sql[256];
    struct {
        const char *sql;
        const char *param;
        int status;
        const char *code;
        const char *field;
    } cases[] = {
        {"INSERT INTO %s.items (club_id, slug, parent) VALUES ('" CLUB_A "', 'fk', $1::bigint)",
         "999999999", 409, "conflict", "parent"},
        {"INSERT INTO %s.items (club_id, slug, qty) VALUES ('" CLUB_A "', 'neg', $1::int)", "-5",
         422, "invalid_field", "qty"},
        {"INSERT INTO %s.items (club_id, slug, qty) VALUES ('" CLUB_A "', 'bad', $1::int)",
         "secret-value", 422, "invalid_field", ""},
        {"INSERT INTO %s.items (club_id, slug) VALUES ('" CLUB_A "', $1)", NULL, 422,
         "invalid_field", "slug"},
        {"SELECT $1::text FROM %s.nonexistent", "x", 500, "internal", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        REQUIRE_OK(db_begin(p, &a, &tx, &e));
        snprintf(sql, sizeof sql, cases[i].sql, g_schema);
        const char *params[1] = {cases[i].param};
        err_clear(&e);
        CHECK_EQ_INT(db_exec_cmd(tx, sql, 1, params, &e), -1);
        CHECK_EQ_INT(e.status, cases[i].status);
        CHECK_STR(e.code, cases[i].code);
        CHECK_STR(e.field, cases[i].field);
        if (cases[i].param) CHECK(strstr(e.message, cases[i].param) == NULL);
        if (test_current_failed_) fprintf(stdout, "#   case %zu: %s\n", i, e.message);
        db_rollback(tx);
    }
    /* the connection is fine afterwards */
    CHECK_STR(tx_value(p, &a, "SELECT 7", &e), "7");

    /* a unique index created after the pool opened, not named <table>_<cols>_key: the first
     * conflict cannot name the field (RLS hides the DETAIL), the connection then looks the
     * index up, and the next conflict names it */
    CHECK_EQ_INT(owner_exec("CREATE UNIQUE INDEX items_by_code ON %s.items (club_id, code)"), 0);
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.items (club_id, slug, code) VALUES ('" CLUB_A "', $1, 'C1')",
             g_schema);
    for (int i = 0; i < 3; i++) {
        REQUIRE_OK(db_begin(p, &a, &tx, &e));
        char slug[16];
        snprintf(slug, sizeof slug, "code-%d", i);
        const char *params[1] = {slug};
        err_clear(&e);
        long long n = db_exec_cmd(tx, sql, 1, params, &e);
        if (i == 0) {
            CHECK_EQ_INT(n, 1);
            CHECK_EQ_INT(db_commit(tx, &e), 0);
            continue;
        }
        CHECK_EQ_INT(n, -1);
        CHECK_EQ_INT(e.status, 409);
        CHECK_STR(e.field, i == 1 ? "" : "code");
        db_rollback(tx);
    }
    db_pool_close(p);
}

static void test_outbox_rls(void) {
    err_t e;
    db_pool_t *p = open_pool(2);
    REQUIRE(p);
    PGconn *listener = PQconnectdb(g_app);
    REQUIRE(PQstatus(listener) == CONNECTION_OK);
    PQclear(PQexec(listener, "LISTEN outbox"));

    char ins[256], sel[256], upd[256];
    snprintf(ins, sizeof ins,
             "INSERT INTO %s.outbox (id, type, subject, tenant_id, payload) "
             "VALUES (gen_random_uuid(), 'item.created', 'events.item.created', $1, '{}')",
             g_schema);
    snprintf(sel, sizeof sel, "SELECT count(*) FROM %s.outbox WHERE published_at IS NULL",
             g_schema);
    snprintf(upd, sizeof upd, "UPDATE %s.outbox SET published_at = now()", g_schema);
    db_scope_t a = {CLUB_A, NULL, 0, 0}, admin = {NULL, NULL, 1, 0}, relay = {NULL, NULL, 0, 1};
    db_tx_t *tx;

    REQUIRE_OK(db_begin(p, &a, &tx, &e));
    const char *pa[1] = {CLUB_A};
    CHECK_EQ_INT(db_exec_cmd(tx, ins, 1, pa, &e), 1);
    CHECK_EQ_INT(db_commit(tx, &e), 0);

    /* the relay was woken with the schema name */
    int got = 0;
    for (int i = 0; i < 50 && !got; i++) {
        PQconsumeInput(listener);
        PGnotify *n;
        while ((n = PQnotifies(listener))) {
            if (strcmp(n->relname, "outbox") == 0 && strcmp(n->extra, g_schema) == 0) got = 1;
            PQfreemem(n);
        }
        if (!got) sleep_ms(20);
    }
    CHECK(got);
    PQfinish(listener);

    REQUIRE_OK(db_begin(p, &a, &tx, &e)); /* another club's event: refused */
    const char *pb[1] = {CLUB_B};
    err_clear(&e);
    CHECK_EQ_INT(db_exec_cmd(tx, ins, 1, pb, &e), -1);
    CHECK_EQ_INT(e.status, 403);
    db_rollback(tx);

    REQUIRE_OK(db_begin(p, &a, &tx, &e)); /* a network-wide event needs admin */
    const char *pnull[1] = {NULL};
    err_clear(&e);
    CHECK_EQ_INT(db_exec_cmd(tx, ins, 1, pnull, &e), -1);
    CHECK_EQ_INT(e.status, 403);
    db_rollback(tx);
    REQUIRE_OK(db_begin(p, &admin, &tx, &e));
    CHECK_EQ_INT(db_exec_cmd(tx, ins, 1, pnull, &e), 1);
    CHECK_EQ_INT(db_exec_cmd(tx, ins, 1, pb, &e), 1);
    CHECK_EQ_INT(db_commit(tx, &e), 0);

    CHECK_STR(tx_value(p, &a, sel, &e), "0"); /* services cannot read the outbox */
    CHECK_STR(tx_value(p, &admin, sel, &e), "0");
    CHECK_STR(tx_value(p, &relay, sel, &e), "3");
    REQUIRE_OK(db_begin(p, &a, &tx, &e));
    CHECK_EQ_INT(db_exec_cmd(tx, upd, 0, NULL, &e), 0);
    CHECK_EQ_INT(db_commit(tx, &e), 0);
    REQUIRE_OK(db_begin(p, &relay, &tx, &e));
    CHECK_EQ_INT(db_exec_cmd(tx, upd, 0, NULL, &e), 3);
    CHECK_EQ_INT(db_commit(tx, &e), 0);
    CHECK_STR(tx_value(p, &relay, sel, &e), "0");

    /* only published_at may be updated */
    REQUIRE_OK(db_begin(p, &relay, &tx, &e));
    snprintf(upd, sizeof upd, "UPDATE %s.outbox SET type = 'x'", g_schema);
    err_clear(&e);
    CHECK_EQ_INT(db_exec_cmd(tx, upd, 0, NULL, &e), -1);
    CHECK_EQ_INT(e.status, 403);
    db_rollback(tx);

    /* inbox: any scope may claim and read; a second claim conflicts */
    char inbox[256];
    snprintf(inbox, sizeof inbox,
             "INSERT INTO %s.inbox (consumer, event_id) VALUES ('c1', "
             "'44444444-4444-4444-8444-444444444444') ON CONFLICT DO NOTHING",
             g_schema);
    REQUIRE_OK(db_begin(p, &a, &tx, &e));
    CHECK_EQ_INT(db_exec_cmd(tx, inbox, 0, NULL, &e), 1);
    CHECK_EQ_INT(db_exec_cmd(tx, inbox, 0, NULL, &e), 0);
    CHECK_EQ_INT(db_commit(tx, &e), 0);
    snprintf(sel, sizeof sel, "SELECT count(*) FROM %s.inbox", g_schema);
    CHECK_STR(tx_value(p, &relay, sel, &e), "1");
    db_pool_close(p);
}

static void test_exhaustion(void) {
    err_t e;
    db_pool_t *p = open_pool(1);
    REQUIRE(p);
    db_pool_set_wait_ms(p, 300);
    db_tx_t *t1, *t2 = NULL;
    REQUIRE_OK(db_begin(p, NULL, &t1, &e));
    double t0 = now_ms();
    err_clear(&e);
    CHECK_EQ_INT(db_begin(p, NULL, &t2, &e), -1);
    double el = now_ms() - t0;
    CHECK(t2 == NULL);
    CHECK_EQ_INT(e.status, 503);
    CHECK_STR(e.code, "unavailable");
    CHECK(strstr(e.message, "pool exhausted") != NULL);
    CHECK(el >= 280 && el < 2000);
    err_clear(&e);
    CHECK_EQ_INT(db_ping(p, &e), -1);
    CHECK_EQ_INT(e.status, 503);
    int in_use = -1;
    long long waits = -1;
    db_pool_stats(p, NULL, &in_use, &waits);
    CHECK_EQ_INT(in_use, 1);
    CHECK_EQ_INT(waits, 2);
    CHECK_EQ_INT(db_pool_timeouts(p), 2);
    db_rollback(t1);
    CHECK_EQ_INT(db_begin(p, NULL, &t2, &e), 0);
    db_rollback(t2);
    db_pool_close(p);
}

typedef struct holder {
    db_tx_t *tx;
    int ms;
} holder_t;

static void *release_later(void *arg) {
    holder_t *h = arg;
    sleep_ms(h->ms);
    err_t e;
    db_commit(h->tx, &e);
    return NULL;
}

static void test_wait_for_free(void) {
    err_t e;
    db_pool_t *p = open_pool(1);
    REQUIRE(p);
    db_pool_set_wait_ms(p, 3000);
    holder_t h = {NULL, 200};
    REQUIRE_OK(db_begin(p, NULL, &h.tx, &e));
    pthread_t th;
    pthread_create(&th, NULL, release_later, &h);
    double t0 = now_ms();
    db_tx_t *tx;
    CHECK_EQ_INT(db_begin(p, NULL, &tx, &e), 0);
    double el = now_ms() - t0;
    CHECK(el >= 150 && el < 2500);
    pthread_join(th, NULL);
    if (tx) db_rollback(tx);
    db_pool_close(p);
}

typedef struct worker {
    db_pool_t *p;
    int id, errors, mismatches;
} worker_t;

static void *worker_run(void *arg) {
    worker_t *w = arg;
    char club[40];
    snprintf(club, sizeof club, "%08d-0000-4000-8000-000000000000", w->id);
    db_scope_t s = {club, NULL, 0, 0};
    for (int i = 0; i < 100; i++) {
        err_t e;
        db_tx_t *tx;
        if (db_begin(w->p, &s, &tx, &e) < 0) {
            w->errors++;
            continue;
        }
        PGresult *r = db_exec(tx, "SELECT core.current_club()::text AS c", 0, NULL, &e);
        if (!r)
            w->errors++;
        else if (strcmp(PQgetvalue(r, 0, 0), club) != 0)
            w->mismatches++;
        PQclear(r);
        if (db_commit(tx, &e) < 0) w->errors++;
    }
    return NULL;
}

static void test_concurrency(void) {
    db_pool_t *p = open_pool(3);
    REQUIRE(p);
    worker_t w[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker_t){p, i + 1, 0, 0};
        pthread_create(&th[i], NULL, worker_run, &w[i]);
    }
    int errors = 0, mism = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        errors += w[i].errors;
        mism += w[i].mismatches;
    }
    CHECK_EQ_INT(errors, 0);
    CHECK_EQ_INT(mism, 0);
    int in_use = -1;
    db_pool_stats(p, NULL, &in_use, NULL);
    CHECK_EQ_INT(in_use, 0);
    db_pool_close(p);
}

static int pg_ctl(const char *cmd) {
    const char *ctl = getenv("RECIPROCAL_TEST_PG_CTL");
    if (!ctl) return -1;
    char buf[1200];
    snprintf(buf, sizeof buf, "%s %s >/dev/null", ctl, cmd);
    int rc = system(buf);
    if (rc != 0) fprintf(stdout, "#   '%s' exited with %d\n", buf, rc);
    return rc == 0 ? 0 : -1;
}

/* One transaction using a statement prepared before (stale cache would fail) and the scope. */
static int probe_with(db_pool_t *p, int deferred, err_t *e) {
    db_scope_t s = {CLUB_A, NULL, 0, 0};
    db_tx_t *tx;
    if ((deferred ? db_begin_deferred(p, &s, &tx, e) : db_begin(p, &s, &tx, e)) < 0) return -1;
    const char *params[1] = {"5"};
    PGresult *r = db_exec(tx, "SELECT $1::int + 1 AS v, core.current_club() AS c", 1, params, e);
    if (!r) {
        db_rollback(tx);
        return -1;
    }
    int ok = strcmp(PQgetvalue(r, 0, 0), "6") == 0 && strcmp(PQgetvalue(r, 0, 1), CLUB_A) == 0;
    PQclear(r);
    if (db_commit(tx, e) < 0) return -1;
    return ok ? 0 : -1;
}

static int probe(db_pool_t *p, err_t *e) {
    return probe_with(p, 0, e);
}

/* Retries probe until it works; returns the number of attempts or -1 after ~5 s. */
static int probe_until_ok(db_pool_t *p, err_t *e) {
    for (int i = 1; i <= 20; i++) {
        if (probe(p, e) == 0) return i;
        fprintf(stdout, "#   attempt %d: %d %s\n", i, e->status, e->message);
        sleep_ms(250);
    }
    return -1;
}

static void test_restart_recovery(void) {
    err_t e;
    db_pool_t *p = open_pool(2);
    REQUIRE(p);
    /* open and use both connections */
    db_tx_t *t1, *t2;
    REQUIRE_OK(db_begin(p, NULL, &t1, &e));
    REQUIRE_OK(db_begin(p, NULL, &t2, &e));
    db_commit(t1, &e);
    db_commit(t2, &e);
    CHECK_EQ_INT(probe(p, &e), 0);

    REQUIRE_OK(pg_ctl("restart"));
    double t0 = now_ms();
    int n = probe_until_ok(p, &e);
    fprintf(stdout, "#   after restart: ok after %d attempt(s), %.0f ms\n", n, now_ms() - t0);
    CHECK_EQ_INT(n, 1); /* the dead connection is reset and BEGIN retried within the call */
    /* the other connection was dead too: hold two at once */
    CHECK_EQ_INT(db_begin(p, NULL, &t1, &e), 0);
    CHECK_EQ_INT(db_begin(p, NULL, &t2, &e), 0);
    if (t1) db_rollback(t1);
    if (t2) db_rollback(t2);
    CHECK_EQ_INT(probe(p, &e), 0);
    /* a deferred transaction: its first flight (BEGIN, scope, statement) finds the connection
     * dead, resets it and is sent again within the call */
    REQUIRE_OK(pg_ctl("restart"));
    err_clear(&e);
    CHECK_EQ_INT(probe_with(p, 1, &e), 0);
    CHECK_EQ_INT(probe_with(p, 1, &e), 0);

    /* connection lost in the middle of a transaction: 503, then recovery */
    REQUIRE_OK(db_begin(p, NULL, &t1, &e));
    REQUIRE_OK(pg_ctl("restart"));
    err_clear(&e);
    CHECK(db_exec(t1, "SELECT 1", 0, NULL, &e) == NULL);
    CHECK_EQ_INT(e.status, 503);
    CHECK_STR(e.code, "unavailable");
    db_rollback(t1);
    CHECK(probe_until_ok(p, &e) >= 1);

    /* server down: quick 503, no hang */
    REQUIRE_OK(pg_ctl("stop"));
    t0 = now_ms();
    err_clear(&e);
    CHECK_EQ_INT(probe(p, &e), -1);
    double el = now_ms() - t0;
    fprintf(stdout, "#   while stopped: %d %s (%.0f ms)\n", e.status, e.message, el);
    CHECK_EQ_INT(e.status, 503);
    CHECK_STR(e.code, "unavailable");
    CHECK(el < 2000);
    err_clear(&e);
    CHECK_EQ_INT(db_ping(p, &e), -1);
    CHECK_EQ_INT(e.status, 503);
    int in_use = -1;
    db_pool_stats(p, NULL, &in_use, NULL);
    CHECK_EQ_INT(in_use, 0); /* failed begins give their connection back */

    REQUIRE_OK(pg_ctl("start"));
    t0 = now_ms();
    n = probe_until_ok(p, &e);
    fprintf(stdout, "#   after start: ok after %d attempt(s), %.0f ms\n", n, now_ms() - t0);
    CHECK(n >= 1 && n <= 3);
    CHECK_EQ_INT(db_ping(p, &e), 0);

    /* db_read on connections the server dropped: reset and read again within the one call */
    const char *sql = "SELECT 'read-' || $1::text";
    const char *pv[] = {"ok"};
    for (int i = 0; i < 2; i++) { /* prepare it on both connections */
        PGresult *r = db_read(p, NULL, sql, 1, pv, &e);
        CHECK(r != NULL);
        PQclear(r);
    }
    REQUIRE_OK(pg_ctl("restart"));
    err_clear(&e);
    PGresult *r = db_read(p, NULL, sql, 1, pv, &e);
    if (!r) fprintf(stdout, "#   db_read after restart: %d %s\n", e.status, e.message);
    CHECK(r != NULL);
    if (r) CHECK_STR(PQgetvalue(r, 0, 0), "read-ok");
    PQclear(r);
    db_pool_close(p);
}

int main(void) {
    g_app = TEST_ENV("RECIPROCAL_TEST_DATABASE_URL");
    g_owner = TEST_ENV("RECIPROCAL_TEST_OWNER_URL");
    if (!g_app || !g_owner || !TEST_ENV("RECIPROCAL_TEST_PG_CTL")) {
        printf("not ok 1 - environment (run through tests/run.sh)\n");
        return 1;
    }
    /* the harness applies all migrations; make sure at least core is there */
    err_t e;
    migrate_file_t core[8];
    int ncore = 0;
    for (int i = 0; i < migrate_embedded_count && ncore < 8; i++)
        if (strcmp(migrate_embedded[i].service, "core") == 0) core[ncore++] = migrate_embedded[i];
    if (migrate_up_files(g_owner, core, ncore, NULL, &e) < 0) {
        printf("not ok 1 - core migrations: %s\n", e.message);
        return 1;
    }
    RUN(test_open_errors);
    RUN(test_basics);
    RUN(test_prepared_reuse);
    RUN(test_scope);
    RUN(test_exhaustion);
    RUN(test_wait_for_free);
    RUN(test_concurrency);
    if (setup_schema() == 0) {
        RUN(test_rls);
        RUN(test_read);
        RUN(test_write);
        RUN(test_pipeline);
        RUN(test_error_mapping);
        RUN(test_outbox_rls);
        owner_exec("DROP SCHEMA %s CASCADE");
    } else {
        printf("not ok - scratch schema setup failed\n");
        test_fails_++;
    }
    RUN(test_restart_recovery); /* last: it restarts the server */
    TEST_DONE();
}
