/* test_migrate: migrate_up/down/status on scratch databases (created through
 * RECIPROCAL_TEST_SUPER_URL, owned by reciprocal_owner, dropped at the end): fake migration
 * lists for ordering, idempotence, failures, locking; then the real embedded set up/down/up. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/migrate.h"
#include "test.h"

/* REQUIRE evaluates its condition twice: calls with side effects go through this. */
#define REQUIRE_OK(call)                                                                           \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        REQUIRE(rc_ == 0);                                                                         \
    } while (0)

static char g_scratch[64];
static char g_url[1024]; /* owner URL of the current scratch database */

/* Copies conninfo with dbname replaced (key='value' form). */
static int url_with_db(const char *conninfo, const char *db, char *out, size_t n) {
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    if (!opts) return -1;
    size_t len = 0;
    out[0] = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = strcmp(o->keyword, "dbname") == 0 ? db : o->val;
        if (!v) continue;
        len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s='", o->keyword);
        for (const char *c = v; *c && len + 3 < n; c++) {
            if (*c == '\'' || *c == '\\') out[len++] = '\\';
            out[len++] = *c;
        }
        len += (size_t)snprintf(out + len, len < n ? n - len : 0, "' ");
    }
    PQconninfoFree(opts);
    return len < n ? 0 : -1;
}

static int super_exec(const char *sql) {
    const char *su = getenv("RECIPROCAL_TEST_SUPER_URL");
    PGconn *c = PQconnectdb(su ? su : "");
    int ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) fprintf(stdout, "#   %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    } else {
        fprintf(stdout, "#   superuser connection failed: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return ok ? 0 : -1;
}

static void scratch_drop(void);

static int scratch_create(void) {
    static int seq;
    scratch_drop(); /* left over by a test that stopped early */
    const char *owner = getenv("RECIPROCAL_TEST_OWNER_URL");
    if (!owner) return -1;
    unsigned rnd = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    snprintf(g_scratch, sizeof g_scratch, "migtest_%08x_%d", rnd, ++seq);
    char sql[160];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s OWNER reciprocal_owner", g_scratch);
    if (super_exec(sql) < 0) return -1;
    return url_with_db(owner, g_scratch, g_url, sizeof g_url);
}

static void scratch_drop(void) {
    if (!g_scratch[0]) return;
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", g_scratch);
    super_exec(sql);
    g_scratch[0] = 0;
}

/* Single-value query on the scratch database as owner; returns a static copy or NULL. */
static const char *q1(const char *sql) {
    static char buf[512];
    PGconn *c = PQconnectdb(g_url);
    const char *ret = NULL;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            snprintf(buf, sizeof buf, "%s", PQgetvalue(r, 0, 0));
            ret = buf;
        } else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stdout, "#   %s: %s", sql, PQresultErrorMessage(r));
        }
        PQclear(r);
    }
    PQfinish(c);
    return ret;
}

static int table_exists(const char *name) {
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT to_regclass('%s') IS NOT NULL", name);
    const char *v = q1(sql);
    return v && strcmp(v, "t") == 0;
}

static int records(void) {
    const char *v = q1("SELECT count(*) FROM public.schema_migrations");
    return v ? atoi(v) : -1;
}

/* Captures what a call prints on `out`. */
typedef struct cap {
    char *buf;
    size_t len;
    FILE *f;
} cap_t;
static FILE *cap_open(cap_t *c) {
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    return c->f;
}
static const char *cap_text(cap_t *c) {
    fflush(c->f);
    return c->buf ? c->buf : "";
}
static void cap_close(cap_t *c) {
    fclose(c->f);
    free(c->buf);
}

static int count_substr(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static const migrate_file_t k_a1 = {"svc_a", 1, "one", "CREATE TABLE a1 (x int);",
                                    "DROP TABLE a1;"};
static const migrate_file_t k_a2 = {
    "svc_a", 2, "two", "CREATE TABLE a2 (x int);\nINSERT INTO a2 VALUES (1);", "DROP TABLE a2;"};
static const migrate_file_t k_b1 = {"svc_b", 1, "one", "CREATE TABLE b1 (x int);",
                                    "DROP TABLE b1;"};

static void test_up_down_status(void) {
    err_t e;
    cap_t cap;
    REQUIRE_OK(scratch_create());
    migrate_file_t list[3] = {k_a1, k_a2, k_b1};

    /* status before anything: no table yet, everything pending, nothing created */
    cap_open(&cap);
    CHECK_EQ_INT(migrate_status_files(g_url, list, 3, cap.f, &e), 0);
    CHECK_EQ_INT(count_substr(cap_text(&cap), " pending\n"), 4); /* 3 rows + summary */
    CHECK(strstr(cap_text(&cap), "\nsvc_a            0002    two                              "
                                 "pending\n") != NULL);
    CHECK(strstr(cap_text(&cap), "0 applied, 3 pending") != NULL);
    cap_close(&cap);
    CHECK(!table_exists("public.schema_migrations"));

    cap_open(&cap);
    CHECK_EQ_INT(migrate_up_files(g_url, list, 3, cap.f, &e), 0);
    CHECK(strstr(cap_text(&cap), "applied svc_a 0001 one\napplied svc_a 0002 two\n"
                                 "applied svc_b 0001 one\n3 migrations applied") != NULL);
    cap_close(&cap);
    CHECK(table_exists("a1") && table_exists("a2") && table_exists("b1"));
    CHECK_EQ_INT(records(), 3);
    CHECK_STR(q1("SELECT name FROM public.schema_migrations WHERE service='svc_a' AND version=2"),
              "two");

    /* idempotent */
    cap_open(&cap);
    CHECK_EQ_INT(migrate_up_files(g_url, list, 3, cap.f, &e), 0);
    CHECK(strstr(cap_text(&cap), "nothing to apply") != NULL);
    cap_close(&cap);
    CHECK_EQ_INT(records(), 3);

    cap_open(&cap);
    CHECK_EQ_INT(migrate_status_files(g_url, list, 3, cap.f, &e), 0);
    CHECK_EQ_INT(count_substr(cap_text(&cap), " applied "), 3);
    CHECK(strstr(cap_text(&cap), "SERVICE") != NULL);
    CHECK(strstr(cap_text(&cap), "3 applied, 0 pending") != NULL);
    cap_close(&cap);

    /* down 1 undoes the last applied (b1), down 2 the rest in reverse order */
    cap_open(&cap);
    CHECK_EQ_INT(migrate_down_files(g_url, list, 3, 1, cap.f, &e), 0);
    CHECK(strstr(cap_text(&cap), "undone svc_b 0001 one\n1 migration undone") != NULL);
    cap_close(&cap);
    CHECK(!table_exists("b1"));
    CHECK(table_exists("a2"));
    CHECK_EQ_INT(records(), 2);

    cap_open(&cap);
    CHECK_EQ_INT(migrate_status_files(g_url, list, 3, cap.f, &e), 0);
    CHECK(strstr(cap_text(&cap), "2 applied, 1 pending") != NULL);
    cap_close(&cap);

    cap_open(&cap);
    CHECK_EQ_INT(migrate_down_files(g_url, list, 3, 5, cap.f, &e), 0);
    CHECK(strstr(cap_text(&cap), "undone svc_a 0002 two\nundone svc_a 0001 one\n") != NULL);
    cap_close(&cap);
    CHECK(!table_exists("a1") && !table_exists("a2"));
    CHECK_EQ_INT(records(), 0);

    cap_open(&cap);
    CHECK_EQ_INT(migrate_down_files(g_url, list, 3, 1, cap.f, &e), 0);
    CHECK(strstr(cap_text(&cap), "nothing to undo") != NULL);
    cap_close(&cap);

    CHECK_EQ_INT(migrate_down_files(g_url, list, 3, 0, NULL, &e), -1);
    CHECK_EQ_INT(e.status, 422); /* a count < 1 is an invalid value */
    scratch_drop();
}

/* down follows the order of application, not the order of the list */
static void test_down_order_by_applied_at(void) {
    err_t e;
    REQUIRE_OK(scratch_create());
    migrate_file_t first[2] = {k_a1, k_b1};
    CHECK_EQ_INT(migrate_up_files(g_url, first, 2, NULL, &e), 0);
    migrate_file_t all[3] = {k_a1, k_a2, k_b1}; /* a2 arrives later (e.g. a merged branch) */
    CHECK_EQ_INT(migrate_up_files(g_url, all, 3, NULL, &e), 0);
    CHECK(table_exists("a2"));
    CHECK_EQ_INT(migrate_down_files(g_url, all, 3, 1, NULL, &e), 0);
    CHECK(!table_exists("a2")); /* applied last, undone first */
    CHECK(table_exists("b1"));
    CHECK(table_exists("a1"));

    /* a migration applied by another build (not in the list) cannot be undone */
    migrate_file_t only_a1[1] = {k_a1};
    err_clear(&e);
    CHECK_EQ_INT(migrate_down_files(g_url, only_a1, 1, 1, NULL, &e), -1);
    CHECK(strstr(e.message, "svc_b 0001") != NULL);
    CHECK(table_exists("b1") && table_exists("a1")); /* nothing undone */
    cap_t cap;
    cap_open(&cap);
    CHECK_EQ_INT(migrate_status_files(g_url, only_a1, 1, cap.f, &e), 0);
    CHECK(strstr(cap_text(&cap), "not in this build") != NULL);
    cap_close(&cap);
    scratch_drop();
}

static void test_failures(void) {
    err_t e;
    REQUIRE_OK(scratch_create());
    migrate_file_t bad_up = {"svc_bad", 3, "broken",
                             "CREATE TABLE z1 (x int);\n-- comment\nCREATE TABLEE z2 (x int);\n",
                             "DROP TABLE z1;"};
    migrate_file_t list[2] = {k_a1, bad_up};
    err_clear(&e);
    CHECK_EQ_INT(migrate_up_files(g_url, list, 2, NULL, &e), -1);
    fprintf(stdout, "#   error: %s\n", e.message);
    CHECK(strstr(e.message, "src/services/svc_bad/migrations/0003_broken.up.sql") != NULL);
    CHECK(strstr(e.message, "syntax error") != NULL);
    CHECK(strstr(e.message, "line 3") != NULL);
    CHECK(strstr(e.message, "42601") != NULL);
    CHECK(table_exists("a1"));  /* the one before it stays applied */
    CHECK(!table_exists("z1")); /* its first statement was rolled back with it */
    CHECK_EQ_INT(records(), 1);

    /* a failing down script leaves the migration applied */
    migrate_file_t bad_down = {"svc_a", 1, "one", k_a1.up, "DROP TABLE does_not_exist;"};
    migrate_file_t l2[1] = {bad_down};
    err_clear(&e);
    CHECK_EQ_INT(migrate_down_files(g_url, l2, 1, 1, NULL, &e), -1);
    fprintf(stdout, "#   error: %s\n", e.message);
    CHECK(strstr(e.message, "src/services/svc_a/migrations/0001_one.down.sql") != NULL);
    CHECK(strstr(e.message, "does_not_exist") != NULL);
    CHECK(table_exists("a1"));
    CHECK_EQ_INT(records(), 1);

    /* a script that commits by itself is refused and rolled back */
    migrate_file_t commits = {"svc_c", 1, "commits", "CREATE TABLE c1 (x int); COMMIT;",
                              "DROP TABLE c1;"};
    migrate_file_t l3[1] = {commits};
    err_clear(&e);
    CHECK_EQ_INT(migrate_up_files(g_url, l3, 1, NULL, &e), -1);
    CHECK(strstr(e.message, "0001_commits.up.sql") != NULL);
    CHECK_EQ_INT(records(), 1);

    /* duplicate numbers in a list are refused before touching the database */
    migrate_file_t dup[2] = {k_a1, k_a1};
    err_clear(&e);
    CHECK_EQ_INT(migrate_up_files(g_url, dup, 2, NULL, &e), -1);
    CHECK(strstr(e.message, "two migrations") != NULL);

    /* core migration paths are named after src/core */
    migrate_file_t core_bad = {"core", 99, "nope", "SELECT * FROM nowhere;", ""};
    migrate_file_t l4[1] = {core_bad};
    err_clear(&e);
    CHECK_EQ_INT(migrate_up_files(g_url, l4, 1, NULL, &e), -1);
    CHECK(strstr(e.message, "src/core/migrations/0099_nope.up.sql") != NULL);

    /* an error inside a function names the function (CONTEXT) */
    migrate_file_t in_fn = {"svc_f", 1, "fn",
                            "DO $$ BEGIN EXECUTE 'CREATE TABLE nope.t (x int)'; END $$;", ""};
    migrate_file_t l5[1] = {in_fn};
    err_clear(&e);
    CHECK_EQ_INT(migrate_up_files(g_url, l5, 1, NULL, &e), -1);
    fprintf(stdout, "#   error: %s\n", e.message);
    CHECK(strstr(e.message, "PL/pgSQL") != NULL);

    /* unreachable database */
    err_clear(&e);
    CHECK_EQ_INT(migrate_up_files("postgresql://nobody@127.0.0.1:1/x", list, 1, NULL, &e), -1);
    CHECK_EQ_INT(e.status, 503);
    scratch_drop();
}

typedef struct up_arg {
    const migrate_file_t *files;
    int count;
    int rc;
    err_t e;
} up_arg_t;

static void *up_thread(void *p) {
    up_arg_t *a = p;
    a->rc = migrate_up_files(g_url, a->files, a->count, NULL, &a->e);
    return NULL;
}

/* Two concurrent runs: the slow, non-idempotent migration runs exactly once, both succeed. */
static void test_concurrent_up(void) {
    REQUIRE_OK(scratch_create());
    migrate_file_t slow = {"svc_s", 1, "slow",
                           "SELECT pg_sleep(0.5);\nCREATE TABLE s1 (x int);\n"
                           "INSERT INTO s1 VALUES (1);",
                           "DROP TABLE s1;"};
    migrate_file_t list[2] = {slow, k_a1};
    up_arg_t a = {list, 2, -2, {0}}, b = {list, 2, -2, {0}};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, up_thread, &a);
    pthread_create(&tb, NULL, up_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_EQ_INT(a.rc, 0);
    CHECK_EQ_INT(b.rc, 0);
    if (a.rc) fprintf(stdout, "#   a: %s\n", a.e.message);
    if (b.rc) fprintf(stdout, "#   b: %s\n", b.e.message);
    CHECK_STR(q1("SELECT count(*) FROM s1"), "1");
    CHECK_EQ_INT(records(), 2);
    scratch_drop();
}

/* The real migrations: every up and every down script works, in both directions, twice. */
static void test_embedded_roundtrip(void) {
    err_t e;
    REQUIRE(migrate_embedded_count >= 1);
    CHECK_STR(migrate_embedded[0].service, "core");
    REQUIRE_OK(scratch_create());
    const char *nonsys = "SELECT count(*) FROM pg_namespace WHERE nspname NOT IN "
                         "('public','information_schema') AND nspname NOT LIKE 'pg\\_%'";
    err_clear(&e);
    int rc = migrate_up(g_url, NULL, &e);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stdout, "#   up: %s\n", e.message);
    CHECK_EQ_INT(records(), migrate_embedded_count);
    CHECK_STR(q1("SELECT core.current_club() IS NULL AND NOT core.is_relay()"), "t");

    cap_t cap;
    cap_open(&cap);
    CHECK_EQ_INT(migrate_status(g_url, cap.f, &e), 0);
    CHECK_EQ_INT(count_substr(cap_text(&cap), " applied "), migrate_embedded_count);
    cap_close(&cap);

    err_clear(&e);
    rc = migrate_down(g_url, migrate_embedded_count, NULL, &e);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stdout, "#   down: %s\n", e.message);
    CHECK_EQ_INT(records(), 0);
    CHECK_STR(q1(nonsys), "0"); /* every schema the migrations created is gone */
    CHECK_STR(q1("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE n.nspname = 'public' AND c.relname <> 'schema_migrations' "
                 "AND c.relname NOT LIKE 'schema_migrations%'"),
              "0");

    err_clear(&e);
    rc = migrate_up(g_url, NULL, &e);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stdout, "#   up again: %s\n", e.message);
    CHECK_EQ_INT(records(), migrate_embedded_count);
    scratch_drop();
}

/* Core migration 0003 (events retention) on a database whose services already have their
 * outbox/inbox tables (the upgrade case: it is applied last, after the services' migrations):
 * it grants DELETE and adds the relay-only delete policies to every existing table, FORCE RLS
 * stays on, a schema created afterwards gets them from core.create_outbox; `migrate down 1`
 * takes them all off again and restores 0001's core.create_outbox; up again re-applies. */
static const char *k_tables =
    "SELECT count(*) FROM pg_tables WHERE tablename IN ('outbox','inbox')";
static const char *k_deletable =
    "SELECT count(*) FROM pg_tables WHERE tablename IN ('outbox','inbox') AND "
    "has_table_privilege('reciprocal_app', format('%I.%I', schemaname, tablename), 'DELETE')";
static const char *k_policies =
    "SELECT count(*) FROM pg_policies WHERE (tablename = 'outbox' AND policyname = "
    "'outbox_relay_delete' AND cmd = 'DELETE' AND permissive = 'PERMISSIVE') OR (tablename = "
    "'inbox' AND policyname = 'inbox_relay_delete' AND cmd = 'DELETE' AND permissive = "
    "'RESTRICTIVE')";
static const char *k_unforced =
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
    "c.relkind = 'r' AND c.relname IN ('outbox','inbox') AND NOT (c.relrowsecurity AND "
    "c.relforcerowsecurity)";

static void test_retention_migration_on_existing_tables(void) {
    err_t e;
    REQUIRE_OK(scratch_create());
    migrate_file_t *without = calloc((size_t)migrate_embedded_count, sizeof *without);
    REQUIRE(without != NULL);
    int n = 0, found = 0;
    for (int i = 0; i < migrate_embedded_count; i++) {
        if (strcmp(migrate_embedded[i].service, "core") == 0 && migrate_embedded[i].version == 3) {
            CHECK_STR(migrate_embedded[i].name, "events_retention");
            found = 1;
            continue;
        }
        without[n++] = migrate_embedded[i];
    }
    CHECK(found);
    err_clear(&e);
    int rc = migrate_up_files(g_url, without, n, NULL, &e);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stdout, "#   up without 0003: %s\n", e.message);
    const char *v = q1(k_tables);
    int tables = v ? atoi(v) : -1;
    CHECK(tables >= 4); /* at least two services with an outbox and an inbox */
    CHECK_STR(q1(k_deletable), "0");
    CHECK_STR(q1(k_policies), "0");

    /* 0003 arrives: applied last, to the tables that exist */
    err_clear(&e);
    rc = migrate_up(g_url, NULL, &e);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stdout, "#   up: %s\n", e.message);
    CHECK_EQ_INT(records(), migrate_embedded_count);
    char want[16];
    snprintf(want, sizeof want, "%d", tables);
    CHECK_STR(q1(k_deletable), want);
    CHECK_STR(q1(k_policies), want);
    CHECK_STR(q1(k_unforced), "0");
    /* a schema created now gets them from core.create_outbox */
    CHECK(q1("CREATE SCHEMA retention_new; SELECT core.create_outbox('retention_new')::text") !=
          NULL);
    CHECK_STR(q1("SELECT has_table_privilege('reciprocal_app', 'retention_new.outbox', 'DELETE') "
                 "AND has_table_privilege('reciprocal_app', 'retention_new.inbox', 'DELETE')"),
              "t");
    snprintf(want, sizeof want, "%d", tables + 2);
    CHECK_STR(q1(k_policies), want);
    CHECK_STR(q1(k_unforced), "0");

    /* migrate down 1 undoes 0003 while the tables exist */
    err_clear(&e);
    rc = migrate_down(g_url, 1, NULL, &e);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stdout, "#   down 1: %s\n", e.message);
    CHECK_EQ_INT(records(), migrate_embedded_count - 1);
    CHECK_STR(q1(k_deletable), "0");
    CHECK_STR(q1(k_policies), "0");
    CHECK_STR(q1(k_unforced), "0");
    CHECK_STR(q1("SELECT to_regprocedure('core.outbox_retention(text)') IS NULL AND "
                 "to_regprocedure('core.create_outbox(text)') IS NOT NULL"),
              "t");
    CHECK_STR(q1("SELECT count(*) FROM pg_proc WHERE proname = 'create_outbox' AND prosrc LIKE "
                 "'%outbox_retention%'"),
              "0");

    err_clear(&e);
    rc = migrate_up(g_url, NULL, &e);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stdout, "#   up again: %s\n", e.message);
    snprintf(want, sizeof want, "%d", tables + 2);
    CHECK_STR(q1(k_deletable), want);
    CHECK_STR(q1(k_policies), want);
    free(without);
    scratch_drop();
}

/* src/services/documents was src/services/gateway: its migrations keep the key "gateway"
 * (migrations/SERVICE), so a database that applied them does not see them as new, and messages
 * name the folder they are in now. */
static void test_renamed_folder_keeps_key(void) {
    int found = 0;
    for (int i = 0; i < migrate_embedded_count; i++) {
        CHECK(strcmp(migrate_embedded[i].service, "documents") != 0);
        if (strcmp(migrate_embedded[i].service, "gateway") == 0 &&
            migrate_embedded[i].version == 1 &&
            strcmp(migrate_embedded[i].name, "graphql_documents") == 0)
            found = 1;
    }
    CHECK(found);
    CHECK_STR(migrate_service_dir("gateway"), "documents");
    CHECK_STR(migrate_service_dir("member"), "member");
}

int main(void) {
    if (!TEST_ENV("RECIPROCAL_TEST_SUPER_URL") || !TEST_ENV("RECIPROCAL_TEST_OWNER_URL")) {
        RUN(test_up_down_status); /* reports the missing environment as a failure */
        TEST_DONE();
    }
    RUN(test_up_down_status);
    RUN(test_renamed_folder_keeps_key);
    RUN(test_down_order_by_applied_at);
    RUN(test_failures);
    RUN(test_concurrent_up);
    RUN(test_embedded_roundtrip);
    RUN(test_retention_migration_on_existing_tables);
    scratch_drop();
    TEST_DONE();
}
