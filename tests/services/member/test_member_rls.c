/* test_member_rls: tenant isolation of the member schema, straight on the app role (no
 * handler in between). For every member table (every table of schema member with a club_id)
 * and each of SELECT / INSERT / UPDATE / DELETE, a transaction scoped to club A cannot see or
 * change club B's rows, even addressing them by their primary key without a club filter; and
 * inserting a copy of B's row into A succeeds, so B's unique keys (ids, member numbers, kids)
 * cannot be probed from A. Documented exceptions: member.club_keys and member.card_registry
 * are readable network-wide (public keys; card status without personal data), never writable.
 * Plus the schema lint: every table in a tenant schema (each service's schema in svc_registry,
 * and core) has ENABLE and FORCE ROW LEVEL SECURITY. */
#include "services/member/member_test_util.h"

static char club_a[40], club_b[40];

/* Tables in dependency order (for the probe inserts). */
static const char *const tables[] = {"settings",      "categories",   "members",
                                     "profiles",      "addresses",    "status_history",
                                     "audit_log",     "club_keys",    "club_key_secrets",
                                     "card_registry", "search_words", NULL};

static int is_public_read(const char *t) {
    return !strcmp(t, "club_keys") || !strcmp(t, "card_registry");
}

static void seed_b(void) {
    char u[40], in[1024], id[40];
    mt_uuid(u);
    svc_caller_t b = mt_caller(club_b, u, 0, "member:read member:write member:admin");
    REQUIRE(mt_account(club_b, u) == 0); /* the member is linked to an account of B */
    snprintf(in, sizeof in,
             "{\"member_number\":\"SECRET-1\",\"category\":\"full\",\"status\":\"active\","
             "\"auth_user_id\":\"%s\",\"profile\":{\"first_name\":\"Bea\",\"last_name\":"
             "\"Bravo\",\"email\":\"bea@b.example\"},\"addresses\":{\"home\":{\"city\":\"Oslo\","
             "\"country\":\"NO\"}}}",
             u);
    json_t *o = NULL;
    REQUIRE(mt_call(&b, "create_member", in, &o) == 201);
    snprintf(id, sizeof id, "%s", mt_str(o, "id"));
    json_decref(o);
    snprintf(in, sizeof in, "{\"id\":\"%s\"}", id);
    REQUIRE(mt_call(&b, "export_member_data", in, NULL) == 200); /* audit_log */
    REQUIRE(mt_call(&b, "get_member_card", in, NULL) == 200);    /* club keys */
    REQUIRE(mt_call(&b, "create_member_category", "{\"code\":\"bonly\",\"name\":\"B only\"}",
                    NULL) == 201);
    REQUIRE(mt_call(&b, "update_member_settings", "{\"number_pattern\":\"B{seq:3}\"}", NULL) ==
            200);
}

static db_tx_t *begin(const char *club) {
    db_scope_t s = {club, NULL, 0, 0};
    db_tx_t *tx = NULL;
    err_t e = {0};
    if (db_begin(mt_pool, &s, &tx, &e) != 0) printf("#   begin: %s\n", e.message);
    return tx;
}

static int exec_raw(db_tx_t *tx, const char *sql) {
    PGresult *r = PQexec(db_tx_conn(tx), sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? 0 : -1;
}

/* B's rows of table t as one JSON array text (scope B), or NULL. */
static char *rows_of_b(const char *t) {
    db_tx_t *tx = begin(club_b);
    if (!tx) return NULL;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY to_jsonb(x)::text), '[]')::text, "
             "count(*) FROM member.%s x WHERE club_id = $1::uuid",
             t);
    const char *p[] = {club_b};
    err_t e = {0};
    PGresult *r = db_exec(tx, sql, 1, p, &e);
    char *out = NULL;
    if (r && atoi(PQgetvalue(r, 0, 1)) > 0) out = strdup(PQgetvalue(r, 0, 0));
    if (!r) printf("#   %s: %s\n", t, e.message);
    PQclear(r);
    db_rollback(tx);
    return out;
}

/* The INSERT of a row given as JSON ($1) into member.<t>; tables with generated columns
 * (profiles.name_key, search_words.word3) list the other columns. */
static void insert_row_sql(char *sql, size_t cap, const char *t) {
    if (!strcmp(t, "profiles"))
        snprintf(sql, cap,
                 "INSERT INTO member.profiles (club_id, member_id, first_name, last_name) "
                 "SELECT club_id, member_id, first_name, last_name FROM "
                 "jsonb_populate_record(NULL::member.profiles, $1::jsonb)");
    else if (!strcmp(t, "search_words"))
        snprintf(sql, cap,
                 "INSERT INTO member.search_words (club_id, member_id, kind, word, created_at, "
                 "name_key) SELECT club_id, member_id, kind, word, created_at, name_key FROM "
                 "jsonb_populate_record(NULL::member.search_words, $1::jsonb)");
    else
        snprintf(sql, cap,
                 "INSERT INTO member.%s SELECT (jsonb_populate_record(NULL::member.%s, "
                 "$1::jsonb)).*",
                 t, t);
}

/* Runs sql in a savepoint; returns affected rows (or tuples), or -SQLSTATE-class marker:
 * -403 for RLS/permission errors, -409 for unique/fk, -1 other. */
static long long try_sql(db_tx_t *tx, const char *sql, int n, const char *const *p, char *state) {
    exec_raw(tx, "SAVEPOINT probe");
    err_t e = {0};
    PGresult *r = db_exec(tx, sql, n, p, &e);
    long long rc;
    if (r) {
        rc = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 0))
                                                  : atoll(PQcmdTuples(r));
        PQclear(r);
        exec_raw(tx, "RELEASE SAVEPOINT probe");
    } else {
        rc = e.status == 403 ? -403 : e.status == 409 ? -409 : -1;
        if (state) snprintf(state, 512, "%.40s: %.400s", e.code, e.message);
        exec_raw(tx, "ROLLBACK TO SAVEPOINT probe");
    }
    return rc;
}

static void test_isolation_matrix(void) {
    int checked = 0;
    for (const char *const *t = tables; *t; t++) {
        char *rows = rows_of_b(*t);
        if (!rows) printf("#   no club B rows in member.%s (seed)\n", *t);
        REQUIRE(rows != NULL);
        json_t *arr = json_loads(rows, 0, NULL);
        char *row = jsonx_dump(json_array_get(arr, 0));
        json_decref(arr);
        db_tx_t *tx = begin(club_a);
        REQUIRE(tx != NULL);
        char sql[1024], why[512] = "";
        const char *pb[] = {club_b};
        const char *pr[] = {row};
        int pub = is_public_read(*t);
        /* the primary key of B's row, without club_id: "guessing ids" */
#define KEY_OF_ROW                                                                                 \
    "(SELECT jsonb_object_agg(a.attname, $1::jsonb->a.attname) FROM pg_index i JOIN "              \
    "pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indrelid = "  \
    "'member.%s'::regclass AND i.indisprimary AND a.attname <> 'club_id')"

        /* SELECT */
        snprintf(sql, sizeof sql, "SELECT count(*) FROM member.%s WHERE club_id = $1::uuid", *t);
        long long n = try_sql(tx, sql, 1, pb, why);
        if (pub)
            CHECK(n > 0);
        else
            CHECK_EQ_INT(n, 0);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM member.%s x WHERE to_jsonb(x) @> " KEY_OF_ROW, *t, *t);
        n = try_sql(tx, sql, 1, pr, why);
        if (pub)
            CHECK(n == 1);
        else
            CHECK_EQ_INT(n, 0);
        /* INSERT B's row as is: refused by the policy (or the grant), never a unique error */
        insert_row_sql(sql, sizeof sql, *t);
        n = try_sql(tx, sql, 1, pr, why);
        if (n != -403) printf("#   insert into %s as A: %lld %s\n", *t, n, why);
        CHECK_EQ_INT(n, -403);
        /* UPDATE by club and by guessed key: nothing (or no privilege) */
        snprintf(sql, sizeof sql, "UPDATE member.%s SET club_id = club_id WHERE club_id = $1::uuid",
                 *t);
        n = try_sql(tx, sql, 1, pb, why);
        CHECK(n == 0 || n == -403);
        snprintf(sql, sizeof sql,
                 "UPDATE member.%s x SET club_id = club_id WHERE to_jsonb(x) @> " KEY_OF_ROW, *t,
                 *t);
        n = try_sql(tx, sql, 1, pr, why);
        CHECK(n == 0 || n == -403);
        /* DELETE likewise */
        snprintf(sql, sizeof sql, "DELETE FROM member.%s WHERE club_id = $1::uuid", *t);
        n = try_sql(tx, sql, 1, pb, why);
        CHECK(n == 0 || n == -403);
        snprintf(sql, sizeof sql, "DELETE FROM member.%s x WHERE to_jsonb(x) @> " KEY_OF_ROW, *t,
                 *t);
        n = try_sql(tx, sql, 1, pr, why);
        CHECK(n == 0 || n == -403);
        db_rollback(tx);
        /* B's rows are untouched */
        char *after = rows_of_b(*t);
        CHECK(after && strcmp(after, rows) == 0);
        free(after);
        free(rows);
        free(row);
        checked++;
    }
    CHECK_EQ_INT(checked, 11);
}

/* Copies of B's rows (same ids, member number, kid) inserted into A succeed: B's unique keys
 * are not observable from A. One transaction, rolled back. */
static void test_unique_keys_not_probeable(void) {
    db_tx_t *tx = begin(club_a);
    REQUIRE(tx != NULL);
    for (const char *const *t = tables; *t; t++) {
        if (!strcmp(*t, "card_registry") || !strcmp(*t, "settings")) continue; /* derived / 1 row */
        char *rows = rows_of_b(*t);
        REQUIRE(rows != NULL);
        json_t *arr = json_loads(rows, 0, NULL);
        json_t *row = json_array_get(arr, 0);
        json_object_set_new(row, "club_id", json_string(club_a));
        char *rs = jsonx_dump(row);
        json_decref(arr);
        char sql[512], why[512] = "";
        insert_row_sql(sql, sizeof sql, *t);
        const char *p[] = {rs};
        if (!strcmp(*t, "search_words")) /* the copied profile's trigger made A's own rows */
            try_sql(tx,
                    "DELETE FROM member.search_words WHERE club_id = core.current_club() AND "
                    "member_id = ($1::jsonb->>'member_id')::uuid",
                    1, p, NULL);
        long long n = try_sql(tx, sql, 1, p, why);
        if (n != 1) printf("#   copy of B's %s row into A: %lld %s\n", *t, n, why);
        CHECK_EQ_INT(n, 1);
        free(rs);
        free(rows);
    }
    db_rollback(tx);
}

/* Without any club in scope nothing of a tenant table is visible (besides the public two). */
static void test_no_scope_sees_nothing(void) {
    db_tx_t *tx = begin(NULL);
    REQUIRE(tx != NULL);
    for (const char *const *t = tables; *t; t++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM member.%s", *t);
        long long n = try_sql(tx, sql, 0, NULL, NULL);
        if (is_public_read(*t))
            CHECK(n > 0);
        else
            CHECK_EQ_INT(n, 0);
    }
    db_rollback(tx);
}

static void test_schema_lint_force_rls(void) {
    /* tenant schemas: every service module's schema, and core */
    json_t *schemas = json_array();
    json_array_append_new(schemas, json_string("core"));
    for (const svc_module_t *const *m = svc_registry; *m; m++)
        json_array_append_new(schemas, json_string((*m)->schema));
    char *sj = jsonx_dump(schemas);
    json_decref(schemas);
    db_tx_t *tx = begin(NULL);
    REQUIRE(tx != NULL);
    const char *p[] = {sj};
    err_t e = {0};
    PGresult *r = db_exec(tx,
                          "SELECT n.nspname || '.' || c.relname, c.relrowsecurity, "
                          "c.relforcerowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = "
                          "c.relnamespace WHERE n.nspname IN (SELECT jsonb_array_elements_text("
                          "$1::jsonb)) AND c.relkind IN ('r', 'p') ORDER BY 1",
                          1, p, &e);
    free(sj);
    REQUIRE(r != NULL);
    int tables_seen = PQntuples(r);
    for (int i = 0; i < tables_seen; i++) {
        int ok = !strcmp(PQgetvalue(r, i, 1), "t") && !strcmp(PQgetvalue(r, i, 2), "t");
        if (!ok) printf("#   %s lacks ENABLE/FORCE ROW LEVEL SECURITY\n", PQgetvalue(r, i, 0));
        CHECK(ok);
    }
    PQclear(r);
    db_rollback(tx);
    CHECK(tables_seen >= 13); /* clubs, outbox, inbox + the ten member tables at least */
}

int main(void) {
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    if (mt_open() != 0 || mt_club("ra", club_a) != 0 || mt_club("rb", club_b) != 0) {
        RUN(test_isolation_matrix);
        TEST_DONE();
    }
    RUN(seed_b);
    RUN(test_isolation_matrix);
    RUN(test_unique_keys_not_probeable);
    RUN(test_no_scope_sees_nothing);
    RUN(test_schema_lint_force_rls);
    mt_close();
    TEST_DONE();
}
