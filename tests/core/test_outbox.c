/* test_outbox: the transactional outbox, relay and inbox against the PostgreSQL and nats-server
 * of tests/run.sh, in a scratch schema made with core.create_outbox. Envelope contents and
 * validation, RLS on insert, inbox claims, a failed publish rolling the batch back, NOTIFY
 * waking the relay, and the key property: many concurrent writers whose transactions commit
 * out of seq order while the relay runs, plus re-publications (a relay "crash" after publishing
 * and copies beyond the duplicate window), end with every event applied exactly once by an
 * inbox consumer. Last, the relay survives a PostgreSQL restart. */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/outbox.h"
#include "support/e2e.h"
#include "test.h"

/* test.h's REQUIRE evaluates its condition twice (CHECK, then if): these conditions have side
 * effects (a transaction, an insert), so evaluate once. */
#define REQUIRE_ONCE(cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stdout, "#   check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);          \
            test_current_failed_ = 1;                                                              \
            test_failed_checks_++;                                                                 \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define TENANT_A "6f1c2a4e-1d1b-4c55-9a0e-2b8f4d9e0a01"
#define TENANT_B "6f1c2a4e-1d1b-4c55-9a0e-2b8f4d9e0a02"

static const char *db_url, *owner_url, *nats_url, *pg_ctl;
static db_pool_t *pool;
static bus_t *bus;
static char schema[64]; /* outbox_test_<pid as letters>: schema names are [a-z_]+ */
static char tp[32];     /* event type prefix "test<pid>", unique per run */
static const db_scope_t relay_scope = {NULL, NULL, 0, 1};

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int owner_exec(const char *sql) {
    PGconn *c = PQconnectdb(owner_url);
    int ok = 0;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok) fprintf(stdout, "#   owner SQL failed: %s", PQerrorMessage(c));
        PQclear(r);
    } else {
        fprintf(stdout, "#   owner connect failed: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return ok ? 0 : -1;
}

/* A scalar query in a relay-scoped transaction (the relay scope may read the outbox). */
static long long relay_scalar(const char *sql, int n, const char *const *params) {
    err_t e = {0};
    db_tx_t *tx = NULL;
    long long v = -1;
    if (db_begin(pool, &relay_scope, &tx, &e) < 0) {
        fprintf(stdout, "#   db_begin: %s\n", e.message);
        return -1;
    }
    PGresult *r = db_exec(tx, sql, n, params, &e);
    if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) v = atoll(PQgetvalue(r, 0, 0));
    if (!r) fprintf(stdout, "#   query failed: %s\n", e.message);
    PQclear(r);
    db_rollback(tx);
    return v;
}

static long long pending(void) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\".outbox WHERE published_at IS NULL",
             schema);
    return relay_scalar(sql, 0, NULL);
}

/* One event in its own transaction. */
static int add_event(const char *club, const char *type, json_t *data, char *id) {
    err_t e = {0};
    db_tx_t *tx = NULL;
    db_scope_t sc = {club, NULL, 0, 0};
    if (db_begin(pool, &sc, &tx, &e) < 0) return -1;
    if (outbox_add(tx, schema, type, "test", club, data, NULL, id, &e) < 0) {
        fprintf(stdout, "#   outbox_add: %s\n", e.message);
        db_rollback(tx);
        return -1;
    }
    return db_commit(tx, &e);
}

/* ---- envelope -------------------------------------------------------------------------- */

typedef struct got {
    int n;
    char msg_id[64];
    char *payload;
} got_t;

static int keep_last(const char *subject, const char *msg_id, const char *data, size_t len,
                     void *ud) {
    (void)subject;
    got_t *g = ud;
    g->n++;
    snprintf(g->msg_id, sizeof g->msg_id, "%s", msg_id);
    free(g->payload);
    g->payload = strndup(data, len);
    return 0;
}

static void test_envelope(void) {
    err_t e = {0};
    db_tx_t *tx = NULL;
    char id[37] = "", type[96], durable[64], filter[96], sql[512];
    snprintf(type, sizeof type, "%s.env.created", tp);
    json_t *data =
        json_pack("{s:s, s:i, s:[i,i]}", "name", "Club \"A\" \xc3\xa9", "n", 3, "l", 1, 2);
    outbox_meta_t meta = {"req-1", NULL, "user-7", "10.0.0.1", "ua/1.0 \xff\xfe"};
    db_scope_t sc = {TENANT_A, NULL, 0, 0};
    REQUIRE_ONCE(db_begin(pool, &sc, &tx, &e) == 0);
    CHECK_EQ_INT(outbox_add(tx, schema, type, "member-service", TENANT_A, data, &meta, id, &e), 0);
    CHECK_EQ_INT(db_commit(tx, &e), 0);
    CHECK_EQ_INT(strlen(id), 36);
    CHECK(id[14] == '4');                            /* version 4 */
    CHECK(id[19] && strchr("89ab", id[19]) != NULL); /* RFC 4122 variant */
    CHECK_EQ_INT(data->refcount, 1); /* data is borrowed: the envelope let go of it */

    /* the stored row */
    snprintf(sql, sizeof sql,
             "SELECT type, subject, tenant_id::text AS tenant_id, payload::text AS payload, "
             "published_at FROM \"%s\".outbox WHERE id = $1",
             schema);
    const char *p1[1] = {id};
    REQUIRE_ONCE(db_begin(pool, &relay_scope, &tx, &e) == 0);
    PGresult *r = db_exec(tx, sql, 1, p1, &e);
    CHECK(r && PQntuples(r) == 1);
    if (r && PQntuples(r) == 1) {
        char subject[128];
        snprintf(subject, sizeof subject, "events.%s", type);
        CHECK_STR(db_val(r, 0, "type"), type);
        CHECK_STR(db_val(r, 0, "subject"), subject);
        CHECK_STR(db_val(r, 0, "tenant_id"), TENANT_A);
        CHECK(db_val(r, 0, "published_at") == NULL);
        json_t *env = json_loads(db_val(r, 0, "payload"), 0, NULL);
        CHECK(env != NULL);
        CHECK_STR(json_string_value(json_object_get(env, "id")), id);
        CHECK_STR(json_string_value(json_object_get(env, "type")), type);
        CHECK_STR(json_string_value(json_object_get(env, "source")), "member-service");
        CHECK_STR(json_string_value(json_object_get(env, "tenant_id")), TENANT_A);
        CHECK_EQ_INT(json_integer_value(json_object_get(env, "version")), 1);
        CHECK(json_equal(json_object_get(env, "data"), data));
        const char *ts = json_string_value(json_object_get(env, "timestamp"));
        /* 2026-01-02T03:04:05.678Z */
        CHECK(ts && strlen(ts) == 24 && ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' &&
              ts[23] == 'Z');
        json_t *md = json_object_get(env, "metadata");
        CHECK_STR(json_string_value(json_object_get(md, "correlation_id")), "req-1");
        CHECK(json_is_null(json_object_get(md, "causation_id")));
        CHECK_STR(json_string_value(json_object_get(md, "user_id")), "user-7");
        CHECK_STR(json_string_value(json_object_get(md, "ip_address")), "10.0.0.1");
        CHECK_STR(json_string_value(json_object_get(md, "user_agent")), "ua/1.0 ??");
        json_decref(env);
    }
    PQclear(r);
    db_rollback(tx);

    /* relay once: published and marked; nothing left */
    CHECK_EQ_INT(outbox_relay_once(pool, bus, schema, &e), 1);
    CHECK_EQ_INT(pending(), 0);
    CHECK_EQ_INT(outbox_relay_once(pool, bus, schema, &e), 0);

    snprintf(durable, sizeof durable, "env_%s", tp);
    snprintf(filter, sizeof filter, "events.%s.env.>", tp);
    got_t g = {0};
    for (int i = 0; i < 10 && g.n == 0; i++)
        CHECK(bus_js_fetch(bus, "EVENTS", durable, filter, 10, 300, keep_last, &g, &e) >= 0);
    CHECK_EQ_INT(g.n, 1);
    CHECK_STR(g.msg_id, id);
    json_t *env = g.payload ? json_loads(g.payload, 0, NULL) : NULL;
    CHECK_STR(json_string_value(json_object_get(env, "id")), id);
    CHECK(json_equal(json_object_get(env, "data"), data));
    json_decref(env);
    free(g.payload);

    /* without tenant, data, source or metadata; correlation id from the log context */
    log_set_context("req-ctx", NULL);
    char id2[37] = "";
    REQUIRE_ONCE(db_begin(pool, NULL, &tx, &e) == 0);
    CHECK_EQ_INT(outbox_add(tx, schema, type, NULL, NULL, NULL, NULL, id2, &e), 0);
    CHECK_EQ_INT(db_commit(tx, &e), 0);
    log_clear_context();
    const char *p2[1] = {id2};
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM \"%s\".outbox WHERE id = $1 AND tenant_id IS NULL AND "
             "payload->'tenant_id' = 'null' AND payload->'data' = '{}' AND "
             "payload->>'source' = '%s' AND "
             "payload->'metadata'->>'correlation_id' = 'req-ctx'",
             schema, schema);
    CHECK_EQ_INT(relay_scalar(sql, 1, p2), 1);
    CHECK_EQ_INT(outbox_relay_once(pool, bus, schema, &e), 1);

    /* RLS: a club cannot write an event of another club */
    REQUIRE_ONCE(db_begin(pool, &sc, &tx, &e) == 0);
    err_clear(&e);
    CHECK_EQ_INT(outbox_add(tx, schema, type, NULL, TENANT_B, data, NULL, NULL, &e), -1);
    CHECK_EQ_INT(e.status, 403);
    db_rollback(tx);

    /* validation happens before any SQL */
    const char *bad_schemas[] = {"Outbox", "x;drop", "a1", "", NULL};
    const char *bad_types[] = {"", "a..b", ".a", "a.", "a.*", "a.>", "a b", "A.b", NULL};
    REQUIRE_ONCE(db_begin(pool, &sc, &tx, &e) == 0);
    for (int i = 0; bad_schemas[i]; i++)
        CHECK_EQ_INT(outbox_add(tx, bad_schemas[i], type, NULL, TENANT_A, data, NULL, NULL, &e),
                     -1);
    for (int i = 0; bad_types[i]; i++)
        CHECK_EQ_INT(outbox_add(tx, schema, bad_types[i], NULL, TENANT_A, data, NULL, NULL, &e),
                     -1);
    err_clear(&e);
    CHECK_EQ_INT(outbox_add(tx, schema, type, NULL, "not-a-uuid", data, NULL, NULL, &e), -1);
    CHECK_EQ_INT(e.status, 422);
    CHECK_STR(e.field, "tenant_id");
    CHECK_EQ_INT(outbox_add(tx, schema, type, NULL, TENANT_A, data, NULL, NULL, &e), 0);
    db_rollback(tx); /* the transaction is still usable: nothing was sent for the bad ones */
    CHECK_EQ_INT(pending(), 0);
    json_decref(data);
}

/* ---- inbox ----------------------------------------------------------------------------- */

static int claim(const char *consumer, const char *id, int commit) {
    err_t e = {0};
    db_tx_t *tx = NULL;
    if (db_begin(pool, NULL, &tx, &e) < 0) return -2;
    int rc = inbox_claim(tx, schema, consumer, id, &e);
    if (rc < 0) fprintf(stdout, "#   inbox_claim: %d %s %s\n", e.status, e.code, e.message);
    if (commit && rc >= 0) {
        if (db_commit(tx, &e) < 0) return -3;
    } else {
        db_rollback(tx);
    }
    return rc;
}

static void test_inbox(void) {
    const char *id = "0b7e4f7c-3d1e-4b7a-8f0d-5a6b7c8d9e0f";
    CHECK_EQ_INT(claim("c1", id, 1), 1);
    CHECK_EQ_INT(claim("c1", id, 1), 0);
    CHECK_EQ_INT(claim("c2", id, 1), 1);
    /* rolled back with the consumer's change: the event is applied again later */
    const char *id2 = "0b7e4f7c-3d1e-4b7a-8f0d-5a6b7c8d9e10";
    CHECK_EQ_INT(claim("c1", id2, 0), 1);
    CHECK_EQ_INT(claim("c1", id2, 1), 1);
    CHECK_EQ_INT(claim("c1", id2, 1), 0);

    err_t e = {0};
    db_tx_t *tx = NULL;
    REQUIRE_ONCE(db_begin(pool, NULL, &tx, &e) == 0);
    CHECK_EQ_INT(inbox_claim(tx, schema, "c1", "nope", &e), -1);
    CHECK_EQ_INT(e.status, 422);
    CHECK_EQ_INT(inbox_claim(tx, "Bad", "c1", id, &e), -1);
    CHECK_EQ_INT(inbox_claim(tx, schema, "", id, &e), -1);
    db_rollback(tx);
}

/* ---- a failed publish rolls the whole batch back ---------------------------------------- */

static int count_msgs(const char *subject, const char *msg_id, const char *data, size_t len,
                      void *ud) {
    (void)subject;
    (void)msg_id;
    (void)data;
    (void)len;
    (*(int *)ud)++;
    return 0;
}

static void test_publish_failure(void) {
    err_t e = {0};
    char type[96], ids[3][37], sql[512];
    snprintf(type, sizeof type, "%s.fail.x", tp);
    for (int i = 0; i < 3; i++)
        REQUIRE_ONCE(add_event(TENANT_A, type, NULL, ids[i]) == 0);

    /* the second row goes to a subject no stream captures: JetStream cannot ack it */
    snprintf(sql, sizeof sql,
             "SET app.relay = 'on'; UPDATE \"%s\".outbox SET subject = 'nostream_%s.x' "
             "WHERE id = '%s'",
             schema, tp, ids[1]);
    REQUIRE_ONCE(owner_exec(sql) == 0);
    err_clear(&e);
    CHECK_EQ_INT(outbox_relay_once(pool, bus, schema, &e), -1);
    CHECK_EQ_INT(e.status, 503);
    /* the batch is published at once: the two events JetStream stored are marked published,
     * the refused one stays pending (and only it) */
    CHECK_EQ_INT(pending(), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM \"%s\".outbox WHERE id = $1 AND published_at IS NULL", schema);
    const char *still[1] = {ids[1]};
    CHECK_EQ_INT(relay_scalar(sql, 1, still), 1);

    snprintf(sql, sizeof sql,
             "SET app.relay = 'on'; UPDATE \"%s\".outbox SET subject = 'events.%s' "
             "WHERE id = '%s'",
             schema, type, ids[1]);
    REQUIRE_ONCE(owner_exec(sql) == 0);
    CHECK_EQ_INT(outbox_relay_once(pool, bus, schema, &e), 1);
    CHECK_EQ_INT(pending(), 0);

    /* the stream holds each event once */
    char durable[64], filter[96];
    snprintf(durable, sizeof durable, "fail_%s", tp);
    snprintf(filter, sizeof filter, "events.%s.fail.>", tp);
    int n = 0;
    long long deadline = now_ms() + 5000;
    while (n < 3 && now_ms() < deadline)
        CHECK(bus_js_fetch(bus, "EVENTS", durable, filter, 10, 300, count_msgs, &n, &e) >= 0);
    CHECK(bus_js_fetch(bus, "EVENTS", durable, filter, 10, 500, count_msgs, &n, &e) >= 0);
    CHECK_EQ_INT(n, 3);
}

/* ---- NOTIFY wakes the relay --------------------------------------------------------------- */

static int wait_published(const char *id, int timeout_ms) {
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM \"%s\".outbox WHERE id = $1 AND published_at IS NOT NULL",
             schema);
    const char *p[1] = {id};
    long long deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        if (relay_scalar(sql, 1, p) == 1) return 1;
        sleep_ms(20);
    }
    return 0;
}

static void test_notify_wakes_relay(void) {
    err_t e = {0};
    const char *schemas[] = {schema, NULL};
    /* a 20 s poll interval: only a notification can make the relay publish within 2 s */
    outbox_relay_t *r =
        outbox_relay_start(pool, bus, schemas, &(outbox_relay_opts_t){.poll_ms = 20000}, &e);
    REQUIRE_ONCE(r != NULL);
    sleep_ms(500); /* first pass done, LISTEN established */
    char type[96], id[37];
    snprintf(type, sizeof type, "%s.notify.x", tp);
    REQUIRE_ONCE(add_event(TENANT_A, type, NULL, id) == 0);
    long long t0 = now_ms();
    CHECK(wait_published(id, 2000));
    fprintf(stdout, "# notify -> published in %lld ms\n", now_ms() - t0);

    /* an event written by the caller's own statement (outbox_row_make: a CTE beside another
     * value, parameters from $2) is the same row and wakes the relay the same way */
    outbox_row_t row;
    json_t *d = json_pack("{s:i}", "n", 7);
    REQUIRE_ONCE(outbox_row_make(&row, 2, schema, type, "test", TENANT_A, d, NULL, &e) == 0);
    json_decref(d);
    char sql[512];
    snprintf(sql, sizeof sql, "WITH o AS (%s) SELECT ($1::int + 1)::text", row.sql);
    const char *p[] = {"41", row.vals[0], row.vals[1], row.vals[2], row.vals[3], row.vals[4]};
    db_tx_t *tx = NULL;
    db_scope_t sc = {TENANT_A, NULL, 0, 0};
    REQUIRE_ONCE(db_begin(pool, &sc, &tx, &e) == 0);
    PGresult *q = db_exec(tx, sql, 6, p, &e);
    CHECK(q && PQntuples(q) == 1 && strcmp(PQgetvalue(q, 0, 0), "42") == 0);
    PQclear(q);
    CHECK_EQ_INT(db_commit(tx, &e), 0);
    outbox_row_free(&row);
    t0 = now_ms();
    CHECK(wait_published(row.id, 2000));
    fprintf(stdout, "# a CTE's event -> published in %lld ms\n", now_ms() - t0);
    const char *pid[1] = {row.id};
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM \"%s\".outbox WHERE id = $1 AND type = '%s' AND subject = "
             "'events.%s' AND tenant_id = '%s' AND payload->>'id' = id::text AND "
             "payload->'data'->>'n' = '7' AND payload->>'source' = 'test'",
             schema, type, type, TENANT_A);
    CHECK_EQ_INT(relay_scalar(sql, 1, pid), 1);
    outbox_relay_stop(r);

    const char *bad[] = {"Bad", NULL};
    CHECK(outbox_relay_start(pool, bus, bad, &(outbox_relay_opts_t){.poll_ms = 100}, &e) == NULL);
    const char *none[] = {NULL};
    CHECK(outbox_relay_start(pool, bus, none, &(outbox_relay_opts_t){.poll_ms = 100}, &e) == NULL);
    outbox_relay_stop(NULL);
}

/* ---- a pass from the previous pass's xmin (outbox_relay_from) ------------------------------ */

static void test_relay_from(void) {
    err_t e = {0};
    char type[96], late[37], early[37], locked[37], after[37], sql[256];
    snprintf(type, sizeof type, "%s.from.x", tp);
    CHECK(outbox_relay_once(pool, bus, schema, &e) >= 0); /* nothing left from earlier tests */
    /* a transaction writes its event before a pass and commits after it */
    db_tx_t *tx = NULL;
    db_scope_t sc = {TENANT_A, NULL, 0, 0};
    REQUIRE_ONCE(db_begin(pool, &sc, &tx, &e) == 0);
    REQUIRE_ONCE(outbox_add(tx, schema, type, "test", TENANT_A, NULL, NULL, late, &e) == 0);
    REQUIRE_ONCE(add_event(TENANT_A, type, NULL, early) == 0);
    unsigned long long from = 0;
    CHECK_EQ_INT(outbox_relay_from(pool, bus, schema, &from, &e), 1); /* the committed one */
    CHECK(wait_published(early, 10));
    CHECK(from > 0);
    unsigned long long first = from;
    CHECK_EQ_INT(db_commit(tx, &e), 0);
    /* the late one's transaction was running at that pass, so its id is at or above the xmin
     * kept: the next pass from there publishes it */
    CHECK_EQ_INT(outbox_relay_from(pool, bus, schema, &from, &e), 1);
    CHECK(wait_published(late, 10));
    CHECK_EQ_INT(pending(), 0);
    CHECK(from > first);
    CHECK_EQ_INT(outbox_relay_from(pool, bus, schema, &from, &e), 0); /* nothing pending */

    /* a row another relay holds locked is skipped (SKIP LOCKED) and the xmin kept passes it:
     * only a full pass (from 0, the relay's every OUTBOX_LISTEN_FULL_MS) publishes it */
    REQUIRE_ONCE(add_event(TENANT_A, type, NULL, locked) == 0);
    db_tx_t *other = NULL;
    REQUIRE_ONCE(db_begin(pool, &relay_scope, &other, &e) == 0);
    snprintf(sql, sizeof sql, "SELECT id FROM \"%s\".outbox WHERE id = $1 FOR UPDATE", schema);
    const char *lp[1] = {locked};
    PGresult *q = db_exec(other, sql, 1, lp, &e);
    CHECK(q && PQntuples(q) == 1);
    PQclear(q);
    REQUIRE_ONCE(add_event(TENANT_A, type, NULL, after) == 0);
    CHECK_EQ_INT(outbox_relay_from(pool, bus, schema, &from, &e), 1);
    CHECK(wait_published(after, 10));
    db_rollback(other);
    CHECK_EQ_INT(outbox_relay_from(pool, bus, schema, &from, &e), 0);
    CHECK_EQ_INT(pending(), 1);
    unsigned long long full = 0;
    CHECK_EQ_INT(outbox_relay_from(pool, bus, schema, &full, &e), 1);
    CHECK(wait_published(locked, 10));
    CHECK_EQ_INT(pending(), 0);

    /* the pass's plan starts at the cursor in the pending index (core migration 0007) */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_catalog.pg_indexes WHERE schemaname = '%s' AND indexname "
             "= 'outbox_pending_idx' AND indexdef LIKE '%%(xid) WHERE (published_at IS NULL)'",
             schema);
    CHECK_EQ_INT(relay_scalar(sql, 0, NULL), 1);
}

/* ---- a stream of commits without NOTIFY: the committing process wakes its relay ------------ */

static void test_wake_local(void) {
    err_t e = {0};
    const char *schemas[] = {schema, NULL};
    CHECK_EQ_INT(outbox_relay_local(schema), 0); /* no relay yet */
    outbox_relay_t *r =
        outbox_relay_start(pool, bus, schemas, &(outbox_relay_opts_t){.poll_ms = 20000}, &e);
    REQUIRE_ONCE(r != NULL);
    sleep_ms(500); /* first pass done, LISTEN established */
    CHECK_EQ_INT(outbox_relay_local(schema), 1);
    CHECK_EQ_INT(outbox_relay_local("no_such_schema"), 0);
    CHECK_EQ_INT(outbox_wake("no_such_schema"), 0);
    char type[96], id[37];
    snprintf(type, sizeof type, "%s.wake.x", tp);
    db_tx_t *tx = NULL;
    db_scope_t sc = {TENANT_A, NULL, 0, 0};
    REQUIRE_ONCE(db_begin(pool, &sc, &tx, &e) == 0);
    CHECK(db_exec_cmd(tx, OUTBOX_WAKE_LOCAL_SQL, 0, NULL, &e) >= 0);
    CHECK(outbox_add(tx, schema, type, "test", TENANT_A, NULL, NULL, id, &e) == 0);
    CHECK_EQ_INT(db_commit(tx, &e), 0);
    /* no NOTIFY (core 0005), the next full pass 20 s away: not published until woken */
    CHECK(!wait_published(id, 1500));
    long long t0 = now_ms();
    CHECK_EQ_INT(outbox_wake(schema), 1);
    CHECK(wait_published(id, 1000));
    fprintf(stdout, "# outbox_wake -> published in %lld ms\n", now_ms() - t0);
    /* a later commit without the setting still notifies */
    REQUIRE_ONCE(add_event(TENANT_A, type, NULL, id) == 0);
    CHECK(wait_published(id, 2000));
    outbox_relay_stop(r);
    CHECK_EQ_INT(outbox_relay_local(schema), 0);
    CHECK_EQ_INT(outbox_wake(schema), 0);
}

/* ---- exactly once under concurrency --------------------------------------------------- */

enum { WRITERS = 8, PER_WRITER = 50, CRASHED = 20, REPLAYED = 15 };
#define MAX_IDS (CRASHED + 1 + WRITERS * PER_WRITER)

static pthread_mutex_t ids_mu = PTHREAD_MUTEX_INITIALIZER;
static char all_ids[MAX_IDS][37];
static int n_ids;
static atomic_int writer_errors;

static void record_id(const char *id) {
    pthread_mutex_lock(&ids_mu);
    if (n_ids < MAX_IDS) memcpy(all_ids[n_ids++], id, 37);
    pthread_mutex_unlock(&ids_mu);
}

static void *writer(void *arg) {
    int t = (int)(long)arg;
    unsigned seed = (unsigned)(t * 7919 + getpid());
    char type[96];
    snprintf(type, sizeof type, "%s.key.w", tp);
    for (int i = 0; i < PER_WRITER; i++) {
        err_t e = {0};
        db_tx_t *tx = NULL;
        char id[37];
        const char *club = (i + t) % 2 ? TENANT_A : TENANT_B;
        db_scope_t sc = {club, NULL, 0, 0};
        json_t *data = json_pack("{s:i, s:i}", "writer", t, "n", i);
        if (db_begin(pool, &sc, &tx, &e) < 0 ||
            outbox_add(tx, schema, type, "test", club, data, NULL, id, &e) < 0) {
            fprintf(stdout, "#   writer %d: %s\n", t, e.message);
            atomic_fetch_add(&writer_errors, 1);
            db_rollback(tx);
            json_decref(data);
            continue;
        }
        json_decref(data);
        /* hold some transactions open: their seq is lower than rows committed meanwhile */
        if (i % 5 == t % 5) sleep_ms(10 + (int)(rand_r(&seed) % 90));
        if (db_commit(tx, &e) < 0) {
            atomic_fetch_add(&writer_errors, 1);
            continue;
        }
        record_id(id);
    }
    return NULL;
}

typedef struct straggler {
    char id[37];
    atomic_int inserted;
    int ok;
} straggler_t;

/* Inserts first (lowest seq of the run), then commits only after the relay has published rows
 * inserted later: its row must still be published. */
static void *straggler(void *arg) {
    straggler_t *s = arg;
    err_t e = {0};
    db_tx_t *tx = NULL;
    char type[96], sql[256];
    snprintf(type, sizeof type, "%s.key.s", tp);
    db_scope_t sc = {TENANT_B, NULL, 0, 0};
    if (db_begin(pool, &sc, &tx, &e) < 0 ||
        outbox_add(tx, schema, type, "test", TENANT_B, NULL, NULL, s->id, &e) < 0) {
        db_rollback(tx);
        atomic_store(&s->inserted, -1);
        return NULL;
    }
    atomic_store(&s->inserted, 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM \"%s\".outbox WHERE type = '%s.key.w' AND "
             "published_at IS NOT NULL",
             schema, tp);
    long long deadline = now_ms() + 20000;
    while (now_ms() < deadline && relay_scalar(sql, 0, NULL) < 10)
        sleep_ms(20);
    s->ok = db_commit(tx, &e) == 0;
    if (s->ok) record_id(s->id);
    return NULL;
}

typedef struct consumer {
    int received, applied, duplicates, errors, bad_msg_id;
    unsigned char seen[MAX_IDS]; /* applied count per index in all_ids */
    int unknown;
} consumer_t;

static int find_id(const char *id) {
    for (int i = 0; i < n_ids; i++)
        if (strcmp(all_ids[i], id) == 0) return i;
    return -1;
}

static int apply_event(const char *subject, const char *msg_id, const char *data, size_t len,
                       void *ud) {
    (void)subject;
    consumer_t *c = ud;
    c->received++;
    json_t *env = json_loadb(data, len, 0, NULL);
    const char *id = json_string_value(json_object_get(env, "id"));
    const char *tenant = json_string_value(json_object_get(env, "tenant_id"));
    if (!id) {
        c->errors++;
        json_decref(env);
        return 0;
    }
    if (*msg_id && strcmp(msg_id, id) != 0) c->bad_msg_id++;
    err_t e = {0};
    db_tx_t *tx = NULL;
    db_scope_t sc = {tenant, NULL, 0, 0}; /* the consumer works in the event's tenant */
    int rc = -1;
    if (db_begin(pool, &sc, &tx, &e) == 0) {
        rc = inbox_claim(tx, schema, "key-consumer", id, &e);
        /* (a real consumer applies its change here, in the same transaction) */
        if (rc < 0)
            db_rollback(tx);
        else if (db_commit(tx, &e) < 0)
            rc = -1;
    }
    if (rc < 0) {
        c->errors++;
        fprintf(stdout, "#   apply %s: %s\n", id, e.message);
        json_decref(env);
        return -1; /* nak: redelivered */
    }
    if (rc == 1) {
        c->applied++;
        int k = find_id(id);
        if (k < 0)
            c->unknown++;
        else
            c->seen[k]++;
    } else {
        c->duplicates++;
    }
    json_decref(env);
    return 0;
}

/* The relay's passes that published, for this run's schema (outbox_batches_total). */
static long long batches(void) {
    char key[128];
    snprintf(key, sizeof key, "outbox_batches_total{schema=\"%s\"} ", schema);
    char *m = metrics_render();
    const char *at = m ? strstr(m, key) : NULL;
    long long n = at ? atoll(at + strlen(key)) : 0;
    free(m);
    return n;
}

/* A stream of commits, each with its NOTIFY, is published in batches: passes woken by a
 * notification start at least OUTBOX_NOTIFY_SPACING_MS (25) apart, so N events committed one by
 * one over T ms take at most T / 25 + a few passes, not one pass each (with the former 10 ms,
 * ~16 passes over ~200 ms: more than 200 / 25 + 3). */
static void test_notify_batches(void) {
    enum { N = 60 };
    err_t e = {0};
    const char *schemas[] = {schema, NULL};
    outbox_relay_t *r =
        outbox_relay_start(pool, bus, schemas, &(outbox_relay_opts_t){.poll_ms = 20000}, &e);
    REQUIRE_ONCE(r != NULL);
    sleep_ms(500); /* first pass done, LISTEN established */
    char type[96], id[37];
    snprintf(type, sizeof type, "%s.stream.x", tp);
    long long b0 = batches(), t0 = now_ms();
    for (int i = 0; i < N; i++) {
        REQUIRE_ONCE(add_event(TENANT_A, type, NULL, id) == 0);
        sleep_ms(1);
    }
    long long t1 = now_ms();
    CHECK(wait_published(id, 2000));
    long long passes = batches() - b0;
    fprintf(stdout, "# %d commits over %lld ms published in %lld passes\n", N, t1 - t0, passes);
    CHECK(passes >= 1);
    CHECK(passes <= (t1 - t0) / OUTBOX_NOTIFY_SPACING_MS + 3);
    CHECK_EQ_INT(pending(), 0);
    outbox_relay_stop(r);
}

static void test_exactly_once(void) {
    err_t e = {0};
    char type[96], sql[512];
    n_ids = 0;

    /* A: a relay that "crashes" after publishing and before marking: publish, roll back. */
    snprintf(type, sizeof type, "%s.key.c", tp);
    for (int i = 0; i < CRASHED; i++) {
        char id[37];
        REQUIRE_ONCE(add_event(i % 2 ? TENANT_A : TENANT_B, type, NULL, id) == 0);
        record_id(id);
    }
    db_tx_t *tx = NULL;
    REQUIRE_ONCE(db_begin(pool, &relay_scope, &tx, &e) == 0);
    snprintf(sql, sizeof sql,
             "SELECT id::text AS id, subject, payload::text AS payload FROM \"%s\".outbox "
             "WHERE published_at IS NULL ORDER BY seq FOR UPDATE SKIP LOCKED",
             schema);
    PGresult *r = db_exec(tx, sql, 0, NULL, &e);
    CHECK(r && PQntuples(r) == CRASHED);
    for (int i = 0; r && i < PQntuples(r); i++) {
        int dup = -1;
        const char *p = db_val(r, i, "payload");
        CHECK_EQ_INT(bus_js_publish(bus, db_val(r, i, "subject"), db_val(r, i, "id"), p, strlen(p),
                                    &dup, &e),
                     0);
        CHECK_EQ_INT(dup, 0);
    }
    PQclear(r);
    db_rollback(tx);
    CHECK_EQ_INT(pending(), CRASHED);

    /* B: the relay runs while writers and a straggler commit out of seq order. */
    const char *schemas[] = {schema, NULL};
    outbox_relay_t *relay =
        outbox_relay_start(pool, bus, schemas, &(outbox_relay_opts_t){.poll_ms = 100}, &e);
    REQUIRE_ONCE(relay != NULL);
    straggler_t st = {0};
    pthread_t sth, wth[WRITERS];
    pthread_create(&sth, NULL, straggler, &st);
    while (atomic_load(&st.inserted) == 0)
        sleep_ms(5);
    CHECK_EQ_INT(atomic_load(&st.inserted), 1);
    long long t0 = now_ms();
    for (long t = 0; t < WRITERS; t++)
        pthread_create(&wth[t], NULL, writer, (void *)t);
    for (int t = 0; t < WRITERS; t++)
        pthread_join(wth[t], NULL);
    fprintf(stdout, "# %d writers x %d events committed in %lld ms\n", WRITERS, PER_WRITER,
            now_ms() - t0);
    pthread_join(sth, NULL);
    CHECK(st.ok);
    CHECK_EQ_INT(atomic_load(&writer_errors), 0);
    CHECK_EQ_INT(n_ids, MAX_IDS);

    long long deadline = now_ms() + 30000;
    while (pending() != 0 && now_ms() < deadline)
        sleep_ms(50);
    CHECK_EQ_INT(pending(), 0);
    fprintf(stdout, "# %d events: pending 0 after %lld ms from the writers' start\n", n_ids,
            now_ms() - t0);
    outbox_relay_stop(relay);

    /* The straggler committed after rows with a higher seq were published, and still was. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM \"%s\".outbox w, \"%s\".outbox s WHERE s.id = $1 AND "
             "w.type = '%s.key.w' AND w.seq > s.seq AND w.published_at < s.published_at",
             schema, schema, tp);
    const char *ps[1] = {st.id};
    long long inversions = relay_scalar(sql, 1, ps);
    fprintf(stdout, "# rows with a higher seq published before the straggler: %lld\n", inversions);
    CHECK(inversions > 0);

    /* C: copies beyond the duplicate window (no Nats-Msg-Id): only the inbox can catch them. */
    REQUIRE_ONCE(db_begin(pool, &relay_scope, &tx, &e) == 0);
    snprintf(sql, sizeof sql,
             "SELECT subject, payload::text AS payload FROM \"%s\".outbox WHERE type = "
             "'%s.key.w' ORDER BY random() LIMIT %d",
             schema, tp, REPLAYED);
    r = db_exec(tx, sql, 0, NULL, &e);
    CHECK(r && PQntuples(r) == REPLAYED);
    for (int i = 0; r && i < PQntuples(r); i++) {
        int dup = -1;
        const char *p = db_val(r, i, "payload");
        CHECK_EQ_INT(bus_js_publish(bus, db_val(r, i, "subject"), NULL, p, strlen(p), &dup, &e), 0);
        CHECK_EQ_INT(dup, 0);
    }
    PQclear(r);
    db_rollback(tx);

    /* D: a consumer applies each message in its own transaction through the inbox. */
    consumer_t *c = calloc(1, sizeof *c);
    char durable[64], filter[96];
    snprintf(durable, sizeof durable, "key_%s", tp);
    snprintf(filter, sizeof filter, "events.%s.key.>", tp);
    int expected_msgs = MAX_IDS + REPLAYED; /* the crashed ones were de-duplicated */
    deadline = now_ms() + 60000;
    while (c->received < expected_msgs && now_ms() < deadline) {
        if (bus_js_fetch(bus, "EVENTS", durable, filter, 100, 500, apply_event, c, &e) < 0) {
            fprintf(stdout, "#   fetch: %s\n", e.message);
            sleep_ms(100);
        }
    }
    /* nothing more arrives */
    CHECK(bus_js_fetch(bus, "EVENTS", durable, filter, 100, 1000, apply_event, c, &e) >= 0);
    CHECK_EQ_INT(c->errors, 0);
    CHECK_EQ_INT(c->received, expected_msgs);
    CHECK_EQ_INT(c->applied, MAX_IDS);
    CHECK_EQ_INT(c->duplicates, REPLAYED);
    CHECK_EQ_INT(c->unknown, 0);
    CHECK_EQ_INT(c->bad_msg_id, 0);
    int missing = 0, twice = 0;
    for (int i = 0; i < n_ids; i++) {
        if (c->seen[i] == 0) missing++;
        if (c->seen[i] > 1) twice++;
    }
    CHECK_EQ_INT(missing, 0);
    CHECK_EQ_INT(twice, 0);
    free(c);

    /* the inbox holds exactly one row per event */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\".inbox WHERE consumer = 'key-consumer'",
             schema);
    CHECK_EQ_INT(relay_scalar(sql, 0, NULL), MAX_IDS);
}

/* ---- PostgreSQL restart ---------------------------------------------------------------- */

static void test_relay_survives_pg_restart(void) {
    err_t e = {0};
    REQUIRE_ONCE(pg_ctl != NULL);
    const char *schemas[] = {schema, NULL};
    /* long poll interval: after the restart the relay must re-LISTEN (or its backoff retry
     * must find the rows) well before a poll would */
    outbox_relay_t *relay =
        outbox_relay_start(pool, bus, schemas, &(outbox_relay_opts_t){.poll_ms = 20000}, &e);
    REQUIRE_ONCE(relay != NULL);
    sleep_ms(300);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s restart >/dev/null 2>&1", pg_ctl);
    CHECK_EQ_INT(system(cmd), 0);

    char type[96], id[37] = "";
    snprintf(type, sizeof type, "%s.restart.x", tp);
    int ok = 0;
    long long deadline = now_ms() + 15000;
    while (!ok && now_ms() < deadline) { /* the pool reconnects; a first attempt may fail */
        ok = add_event(TENANT_A, type, NULL, id) == 0;
        if (!ok) sleep_ms(200);
    }
    CHECK(ok);
    long long t0 = now_ms();
    CHECK(wait_published(id, 10000));
    fprintf(stdout, "# after a PostgreSQL restart: published in %lld ms\n", now_ms() - t0);

    /* and the LISTEN connection is back: a new event is published at once */
    sleep_ms(6000); /* longer than the relay's longest LISTEN reconnect backoff (5 s) */
    REQUIRE_ONCE(add_event(TENANT_A, type, NULL, id) == 0);
    t0 = now_ms();
    CHECK(wait_published(id, 2000));
    fprintf(stdout, "# next event published in %lld ms\n", now_ms() - t0);
    outbox_relay_stop(relay);
}

/* ---- NATS outage: a private nats-server this test stops and starts again ------------------ */

static pid_t nats_start(int port, const char *dir) {
    char portstr[16], log[600];
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(log, sizeof log, "%s/nats.log", dir);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("nats-server", "nats-server", "-js", "-sd", dir, "-a", "127.0.0.1", "-p", portstr,
               "-l", log, (char *)NULL);
        _exit(127);
    }
    long long deadline = now_ms() + 10000;
    while (pid > 0 && now_ms() < deadline) {
        if (e2e_port_open(port)) return pid;
        sleep_ms(50);
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return -1;
}

static void nats_stop(pid_t pid) {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static void test_relay_survives_nats_outage(void) {
    err_t e = {0};
    const char *tmp = getenv("RECIPROCAL_TEST_TMP");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/nats_outage_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE_ONCE(mkdtemp(dir) != NULL);
    int port = e2e_free_port();
    pid_t pid = nats_start(port, dir);
    REQUIRE_ONCE(pid > 0);
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    const char *subjects[] = {"events.>", NULL};
    bus_t *b = bus_connect(url, "test_outbox_outage", &e);
    CHECK(b != NULL);
    CHECK(b && bus_ensure_stream(b, "EVENTS", subjects, &e) == 0);
    const char *schemas[] = {schema, NULL};
    outbox_relay_t *relay =
        b ? outbox_relay_start(pool, b, schemas, &(outbox_relay_opts_t){.poll_ms = 100}, &e) : NULL;
    CHECK(relay != NULL);
    char type[96], ids[3][37];
    snprintf(type, sizeof type, "%s.outage.x", tp);
    if (!relay) goto done;

    CHECK_EQ_INT(add_event(TENANT_A, type, NULL, ids[0]), 0);
    CHECK(wait_published(ids[0], 3000));

    nats_stop(pid);
    pid = -1;
    CHECK_EQ_INT(add_event(TENANT_A, type, NULL, ids[1]), 0);
    CHECK_EQ_INT(add_event(TENANT_B, type, NULL, ids[2]), 0);
    CHECK(!wait_published(ids[1], 1500)); /* nowhere to publish: the rows stay pending */
    CHECK(!bus_connected(b));

    pid = nats_start(port, dir); /* same store: the stream is still there */
    CHECK(pid > 0);
    long long t0 = now_ms();
    CHECK(wait_published(ids[1], 15000));
    CHECK(wait_published(ids[2], 5000));
    fprintf(stdout, "# after nats-server came back: published in %lld ms\n", now_ms() - t0);

    got_t g = {0};
    char durable[64], filter[96];
    snprintf(durable, sizeof durable, "outage_%s", tp);
    snprintf(filter, sizeof filter, "events.%s.outage.>", tp);
    long long deadline = now_ms() + 5000;
    while (g.n < 3 && now_ms() < deadline)
        CHECK(bus_js_fetch(b, "EVENTS", durable, filter, 10, 300, keep_last, &g, &e) >= 0);
    CHECK(bus_js_fetch(b, "EVENTS", durable, filter, 10, 300, keep_last, &g, &e) >= 0);
    CHECK_EQ_INT(g.n, 3);
    free(g.payload);
done:
    outbox_relay_stop(relay);
    bus_close(b);
    nats_stop(pid);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* ---- retention ----------------------------------------------------------------------------- */

/* A statement in its own transaction with the given scope: affected rows, or -1. */
static long long scoped_cmd(const db_scope_t *sc, const char *sql, int n, const char *const *p) {
    err_t e = {0};
    db_tx_t *tx = NULL;
    if (db_begin(pool, sc, &tx, &e) < 0) {
        fprintf(stdout, "#   db_begin: %s\n", e.message);
        return -1;
    }
    long long rows = db_exec_cmd(tx, sql, n, p, &e);
    if (rows < 0) {
        fprintf(stdout, "#   statement failed: %s\n", e.message);
        db_rollback(tx);
        return -1;
    }
    return db_commit(tx, &e) < 0 ? -1 : rows;
}

/* Marks an event published `ago` (an interval, "3 hours") ago, as the relay would have. */
static long long set_published(const char *id, const char *ago) {
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE \"%s\".outbox SET published_at = now() - $2::interval WHERE id = $1::uuid",
             schema);
    const char *p[2] = {id, ago};
    return scoped_cmd(&relay_scope, sql, 2, p);
}

static long long outbox_has(const char *id) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\".outbox WHERE id = $1::uuid", schema);
    const char *p[1] = {id};
    return relay_scalar(sql, 1, p);
}

static long long inbox_has(const char *consumer, const char *id) {
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM \"%s\".inbox WHERE consumer = $1 AND event_id = $2::uuid",
             schema);
    const char *p[2] = {consumer, id};
    return relay_scalar(sql, 2, p);
}

static long long inbox_add(const char *consumer, const char *id, const char *ago) {
    char sql[200];
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s\".inbox (consumer, event_id, applied_at) "
             "VALUES ($1, $2::uuid, now() - $3::interval)",
             schema);
    const char *p[3] = {consumer, id, ago};
    return scoped_cmd(NULL, sql, 3, p);
}

static int publish_all(void) {
    err_t e = {0};
    int n;
    while ((n = outbox_relay_once(pool, bus, schema, &e)) > 0) {
    }
    if (n < 0) fprintf(stdout, "#   relay: %s\n", e.message);
    return n;
}

/* Retention 1 h: the row published 3 h ago goes; rows published 30 and 50 minutes ago and a
 * pending row created 10 days ago stay. Inbox: retention + 1 day, so 26 h goes, 24 h stays.
 * Only the relay scope may delete, and even it never a pending row. All as the app role. */
static void test_purge(void) {
    err_t e = {0};
    char type[96], old_pub[37], recent_pub[37], edge_pub[37], old_pending[37], sql[300];
    snprintf(type, sizeof type, "%s.purge.x", tp);
    REQUIRE_ONCE(add_event(TENANT_A, type, NULL, old_pub) == 0);
    REQUIRE_ONCE(add_event(TENANT_A, type, NULL, recent_pub) == 0);
    REQUIRE_ONCE(add_event(TENANT_B, type, NULL, edge_pub) == 0);
    REQUIRE_ONCE(publish_all() == 0);
    REQUIRE_ONCE(add_event(TENANT_A, type, NULL, old_pending) == 0);
    CHECK_EQ_INT(set_published(old_pub, "3 hours"), 1);
    CHECK_EQ_INT(set_published(recent_pub, "30 minutes"), 1);
    CHECK_EQ_INT(set_published(edge_pub, "50 minutes"), 1);
    /* an acknowledged write that never got published (NATS down for days): however old */
    snprintf(sql, sizeof sql,
             "SELECT set_config('app.relay', 'on', false); UPDATE \"%s\".outbox SET "
             "created_at = now() - interval '10 days' WHERE id = '%s'",
             schema, old_pending);
    CHECK_EQ_INT(owner_exec(sql), 0);

    const char *consumer = "purge-test";
    const char *i_old = "5b0e8d1a-0c6f-4d7e-9a1b-2c3d4e5f6a01";
    const char *i_mid = "5b0e8d1a-0c6f-4d7e-9a1b-2c3d4e5f6a02";
    const char *i_new = "5b0e8d1a-0c6f-4d7e-9a1b-2c3d4e5f6a03";
    CHECK_EQ_INT(inbox_add(consumer, i_old, "26 hours"), 1);
    CHECK_EQ_INT(inbox_add(consumer, i_mid, "24 hours"), 1);
    CHECK_EQ_INT(inbox_add(consumer, i_new, "0 seconds"), 1);

    /* the app role, not a superuser nor BYPASSRLS: row-level security applies */
    CHECK_EQ_INT(relay_scalar("SELECT count(*) FROM pg_roles WHERE rolname = current_user AND "
                              "NOT rolsuper AND NOT rolbypassrls",
                              0, NULL),
                 1);

    /* outside the relay scope nothing can be deleted; in it, never a pending row */
    const db_scope_t tenant = {TENANT_A, NULL, 0, 0}, admin = {NULL, NULL, 1, 0};
    char del_outbox[160], del_inbox[160];
    snprintf(del_outbox, sizeof del_outbox, "DELETE FROM \"%s\".outbox WHERE id = $1::uuid",
             schema);
    snprintf(del_inbox, sizeof del_inbox, "DELETE FROM \"%s\".inbox WHERE consumer = $1", schema);
    const char *p_old[1] = {old_pub}, *p_pending[1] = {old_pending}, *p_cons[1] = {consumer};
    CHECK_EQ_INT(scoped_cmd(&tenant, del_outbox, 1, p_old), 0);
    CHECK_EQ_INT(scoped_cmd(&admin, del_outbox, 1, p_old), 0);
    CHECK_EQ_INT(scoped_cmd(&relay_scope, del_outbox, 1, p_pending), 0);
    CHECK_EQ_INT(scoped_cmd(&tenant, del_inbox, 1, p_cons), 0);
    CHECK_EQ_INT(scoped_cmd(&admin, del_inbox, 1, p_cons), 0);
    CHECK_EQ_INT(scoped_cmd(NULL, del_inbox, 1, p_cons), 0);
    CHECK_EQ_INT(outbox_has(old_pub), 1);
    CHECK_EQ_INT(outbox_has(old_pending), 1);
    CHECK_EQ_INT(inbox_has(consumer, i_old), 1);

    outbox_purged_t rm = {0, 0};
    int rc = outbox_purge_once(pool, schema, 3600, &rm, &e);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stdout, "#   purge: %s\n", e.message);
    CHECK_EQ_INT(rm.outbox, 1);
    CHECK_EQ_INT(rm.inbox, 1);
    CHECK_EQ_INT(outbox_has(old_pub), 0);
    CHECK_EQ_INT(outbox_has(recent_pub), 1);
    CHECK_EQ_INT(outbox_has(edge_pub), 1);
    CHECK_EQ_INT(outbox_has(old_pending), 1);
    CHECK_EQ_INT(inbox_has(consumer, i_old), 0);
    CHECK_EQ_INT(inbox_has(consumer, i_mid), 1);
    CHECK_EQ_INT(inbox_has(consumer, i_new), 1);
    /* nothing more to do; counts add up */
    CHECK_EQ_INT(outbox_purge_once(pool, schema, 3600, &rm, &e), 0);
    CHECK_EQ_INT(rm.outbox, 1);
    CHECK_EQ_INT(rm.inbox, 1);
    /* a shorter retention reaches further */
    CHECK_EQ_INT(outbox_purge_once(pool, schema, 40 * 60, NULL, &e), 0);
    CHECK_EQ_INT(outbox_has(edge_pub), 0);
    CHECK_EQ_INT(outbox_has(recent_pub), 1);
    CHECK_EQ_INT(outbox_has(old_pending), 1);

    /* the pending row, once published, is kept for the retention from then on */
    CHECK_EQ_INT(publish_all(), 0);
    CHECK_EQ_INT(outbox_purge_once(pool, schema, 3600, NULL, &e), 0);
    CHECK_EQ_INT(outbox_has(old_pending), 1);

    err_clear(&e);
    CHECK_EQ_INT(outbox_purge_once(pool, "Bad", 3600, NULL, &e), -1);
    CHECK_EQ_INT(outbox_purge_once(pool, schema, 0, NULL, &e), -1);
}

/* More expired rows than one batch: the purge loops (5000 rows per transaction) to the end. */
static void test_purge_batches(void) {
    enum { N = 12001 };
    err_t e = {0};
    char sql[400], n_s[16];
    snprintf(n_s, sizeof n_s, "%d", N);
    const char *p[1] = {n_s};
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s\".outbox (type, subject, payload, created_at, published_at) "
             "SELECT 'bulk.old', 'events.bulk.old', '{}'::jsonb, now() - interval '3 days', "
             "now() - interval '3 days' FROM generate_series(1, $1::int)",
             schema);
    CHECK_EQ_INT(scoped_cmd(&relay_scope, sql, 1, p), N);
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s\".inbox (consumer, event_id, applied_at) SELECT 'bulk', "
             "gen_random_uuid(), now() - interval '3 days' FROM generate_series(1, $1::int)",
             schema);
    CHECK_EQ_INT(scoped_cmd(NULL, sql, 1, p), N);
    outbox_purged_t rm = {0, 0};
    long long t0 = now_ms();
    CHECK_EQ_INT(outbox_purge_once(pool, schema, 86400, &rm, &e), 0);
    fprintf(stdout, "# purge: %lld outbox + %lld inbox rows in %lld ms\n", rm.outbox, rm.inbox,
            now_ms() - t0);
    CHECK_EQ_INT(rm.outbox, N);
    CHECK_EQ_INT(rm.inbox, N);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\".outbox WHERE type = 'bulk.old'", schema);
    CHECK_EQ_INT(relay_scalar(sql, 0, NULL), 0);
}

static int wait_gone(const char *id, int timeout_ms) {
    long long deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        if (outbox_has(id) == 0) return 1;
        sleep_ms(50);
    }
    return 0;
}

/* The relay thread purges by itself: shortly after start, then every purge interval (300 ms
 * here); a relay without a retention never does. */
static void test_relay_purges(void) {
    err_t e = {0};
    const char *schemas[] = {schema, NULL};
    char type[96], a[37], b[37], c[37];
    snprintf(type, sizeof type, "%s.purge.relay", tp);
    REQUIRE_ONCE(add_event(TENANT_A, type, NULL, a) == 0);
    REQUIRE_ONCE(publish_all() == 0);
    CHECK_EQ_INT(set_published(a, "2 hours"), 1);

    /* no retention: nothing is deleted */
    outbox_relay_t *r = outbox_relay_start(
        pool, bus, schemas, &(outbox_relay_opts_t){.poll_ms = 100, .purge_every_ms = 100}, &e);
    REQUIRE_ONCE(r != NULL);
    sleep_ms(600);
    outbox_relay_stop(r);
    CHECK_EQ_INT(outbox_has(a), 1);

    const outbox_relay_opts_t opts = {.poll_ms = 20000, .retention_s = 3600, .purge_every_ms = 300};
    r = outbox_relay_start(pool, bus, schemas, &opts, &e);
    REQUIRE_ONCE(r != NULL);
    CHECK(wait_gone(a, 5000));
    /* a later event: published by the relay (NOTIFY), aged, purged by a later pass */
    CHECK_EQ_INT(add_event(TENANT_B, type, NULL, b), 0);
    CHECK(wait_published(b, 3000));
    CHECK_EQ_INT(add_event(TENANT_B, type, NULL, c), 0);
    CHECK(wait_published(c, 3000));
    CHECK_EQ_INT(set_published(b, "2 hours"), 1);
    CHECK(wait_gone(b, 5000));
    CHECK_EQ_INT(outbox_has(c), 1);
    outbox_relay_stop(r);
    CHECK_EQ_INT(outbox_has(c), 1);
    CHECK(outbox_relay_start(pool, bus, schemas, &(outbox_relay_opts_t){.retention_s = -1}, &e) ==
          NULL);
}

/* EVENTS gets MaxAge = the retention; a stream made without one (as earlier versions did) is
 * updated, and so is one with another retention. Below the duplicate window is refused. */
static void test_events_stream_retention(void) {
    err_t e = {0};
    const char *subjects[] = {"events.>", NULL};
    const int64_t sec = 1000LL * 1000 * 1000;
    int64_t age = -1;
    CHECK_EQ_INT(bus_ensure_stream(bus, "EVENTS", subjects, &e), 0);
    CHECK_EQ_INT(bus_js_stream_max_age(bus, "EVENTS", &age, &e), 0);
    CHECK(age == 0);
    CHECK_EQ_INT(outbox_ensure_stream(bus, 720LL * 3600, &e), 0);
    CHECK_EQ_INT(bus_js_stream_max_age(bus, "EVENTS", &age, &e), 0);
    CHECK(age == 720LL * 3600 * sec);
    fprintf(stdout, "# EVENTS MaxAge %lld ns\n", (long long)age);
    CHECK_EQ_INT(outbox_ensure_stream(bus, 3600, &e), 0);
    CHECK_EQ_INT(bus_js_stream_max_age(bus, "EVENTS", &age, &e), 0);
    CHECK(age == 3600 * sec);
    /* events still flow */
    char type[96], id[37];
    snprintf(type, sizeof type, "%s.retention.x", tp);
    CHECK_EQ_INT(add_event(TENANT_A, type, NULL, id), 0);
    CHECK_EQ_INT(publish_all(), 0);
    CHECK_EQ_INT(outbox_ensure_stream(bus, 60, &e), -1);
    CHECK_EQ_INT(outbox_ensure_stream(bus, 720LL * 3600, &e), 0);
    CHECK_EQ_INT(bus_js_stream_max_age(bus, "EVENTS", &age, &e), 0);
    CHECK(age == 720LL * 3600 * sec);
}

/* N4 (issue 9, defect 10): the relay republishes an event the stream acknowledged when its
 * outbox commit was lost (a crash or PostgreSQL outage between the ack and the commit); the copy
 * must be dropped even when the relay comes back after more than JetStream's default 2 minutes.
 * EVENTS gets a duplicate window of OUTBOX_DUP_WINDOW_S (1 hour), also applied to an existing
 * stream made with the old 2-minute window, and a copy within it is not stored twice. */
static void test_events_stream_duplicate_window(void) {
    err_t e = {0};
    const char *subjects[] = {"events.>", NULL};
    const int64_t sec = 1000LL * 1000 * 1000;
    int64_t dup = 0;
    CHECK_EQ_INT(bus_ensure_stream(bus, "EVENTS", subjects, &e), 0); /* the old 2-minute one */
    CHECK_EQ_INT(bus_js_stream_dup_window(bus, "EVENTS", &dup, &e), 0);
    CHECK(dup == 120 * sec);
    CHECK_EQ_INT(outbox_ensure_stream(bus, 720LL * 3600, &e), 0);
    CHECK_EQ_INT(bus_js_stream_dup_window(bus, "EVENTS", &dup, &e), 0);
    CHECK(dup == (int64_t)OUTBOX_DUP_WINDOW_S * sec);
    CHECK(OUTBOX_DUP_WINDOW_S >= 3600);
    fprintf(stdout, "# EVENTS duplicate window %lld s\n", (long long)(dup / sec));
    /* the window never exceeds the retention (JetStream requires it to fit in MaxAge) */
    CHECK_EQ_INT(outbox_ensure_stream(bus, 1800, &e), 0);
    CHECK_EQ_INT(bus_js_stream_dup_window(bus, "EVENTS", &dup, &e), 0);
    CHECK(dup == 1800 * sec);
    CHECK_EQ_INT(outbox_ensure_stream(bus, 720LL * 3600, &e), 0);
    /* the crash: the event reached the stream (published under its id) but its row still says
     * unpublished; the relay publishes it again and the stream keeps one copy */
    char type[96], subject[128], id[37];
    snprintf(type, sizeof type, "%s.dupwin.x", tp);
    snprintf(subject, sizeof subject, "events.%s", type);
    CHECK_EQ_INT(add_event(TENANT_A, type, NULL, id), 0);
    int duplicate = -1;
    CHECK_EQ_INT(bus_js_publish(bus, subject, id, "{}", 2, &duplicate, &e), 0);
    CHECK_EQ_INT(duplicate, 0);
    CHECK_EQ_INT(publish_all(), 0);
    char durable[64];
    snprintf(durable, sizeof durable, "dupwin_%s", tp);
    int n = 0;
    CHECK(bus_js_fetch(bus, "EVENTS", durable, subject, 10, 500, count_msgs, &n, &e) >= 0);
    CHECK(bus_js_fetch(bus, "EVENTS", durable, subject, 10, 300, count_msgs, &n, &e) >= 0);
    CHECK_EQ_INT(n, 1);
}

/* ---- relay throughput (a measurement, printed) -------------------------------------------- */

static void test_relay_throughput(void) {
    enum { N = 2000 };
    err_t e = {0};
    db_tx_t *tx = NULL;
    char type[96];
    snprintf(type, sizeof type, "%s.bulk.x", tp);
    json_t *data = json_pack("{s:s, s:i}", "name", "a typical small payload", "n", 1);
    REQUIRE_ONCE(db_begin(pool, NULL, &tx, &e) == 0);
    long long t0 = now_ms();
    for (int i = 0; i < N; i++)
        if (outbox_add(tx, schema, type, NULL, NULL, data, NULL, NULL, &e) < 0) break;
    CHECK_EQ_INT(db_commit(tx, &e), 0);
    long long t1 = now_ms();
    int total = 0, n;
    while ((n = outbox_relay_once(pool, bus, schema, &e)) > 0)
        total += n;
    long long t2 = now_ms();
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(total, N);
    fprintf(stdout, "# outbox_add: %d events in %lld ms; relay: %d published in %lld ms (%.0f/s)\n",
            N, t1 - t0, total, t2 - t1, t2 > t1 ? total * 1000.0 / (double)(t2 - t1) : 0.0);
    json_decref(data);
}

int main(void) {
    log_init(LOG_WARN, 0, "test_outbox");
    db_url = getenv("RECIPROCAL_TEST_DATABASE_URL");
    owner_url = getenv("RECIPROCAL_TEST_OWNER_URL");
    nats_url = getenv("RECIPROCAL_TEST_NATS_URL");
    pg_ctl = getenv("RECIPROCAL_TEST_PG_CTL");
    if (!db_url || !owner_url || !nats_url || !*db_url || !*owner_url || !*nats_url) {
        fprintf(stdout, "#   test environment missing (run through tests/run.sh)\n");
        fprintf(stdout, "not ok 1 - environment\n");
        return 1;
    }
    long pid = (long)getpid();
    snprintf(tp, sizeof tp, "test%ld", pid);
    char letters[24];
    int n = snprintf(letters, sizeof letters, "%ld", pid);
    for (int i = 0; i < n; i++)
        letters[i] = (char)('a' + (letters[i] - '0'));
    snprintf(schema, sizeof schema, "outbox_test_%s", letters);

    char sql[512];
    snprintf(sql, sizeof sql,
             "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s; "
             "SELECT core.create_outbox('%s'); GRANT USAGE ON SCHEMA %s TO reciprocal_app",
             schema, schema, schema, schema);
    err_t e = {0};
    if (owner_exec(sql) < 0 || !(pool = db_pool_open(db_url, 12, &e)) ||
        !(bus = bus_connect(nats_url, "test_outbox", &e)) ||
        outbox_ensure_stream(bus, 720LL * 3600, &e) < 0) {
        fprintf(stdout, "#   setup failed: %s\n", e.message);
        fprintf(stdout, "not ok 1 - setup\n");
        db_pool_close(pool);
        bus_close(bus);
        bus_shutdown_library();
        return 1;
    }

    RUN(test_envelope);
    RUN(test_inbox);
    RUN(test_publish_failure);
    RUN(test_notify_wakes_relay);
    RUN(test_relay_from);
    RUN(test_wake_local);
    RUN(test_notify_batches);
    RUN(test_exactly_once);
    RUN(test_relay_survives_pg_restart);
    RUN(test_relay_survives_nats_outage);
    RUN(test_relay_throughput);
    RUN(test_events_stream_retention);
    RUN(test_events_stream_duplicate_window);
    RUN(test_purge);
    RUN(test_purge_batches);
    RUN(test_relay_purges);

    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    owner_exec(sql);
    db_pool_close(pool);
    bus_close(bus);
    bus_shutdown_library();
    TEST_DONE();
}
