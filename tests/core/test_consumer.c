/* test_consumer: the module kit's event consumers (core/consumer.h) against the PostgreSQL and
 * nats-server of tests/run.sh, with a scratch module whose schema is made with
 * core.create_outbox + core.create_dead_letter and whose handler counts what it applies in a
 * table. Events applied once; the whole stream replayed (durable deleted, every event delivered
 * again) applies nothing twice; a transient error (503) is retried until it passes; a permanent
 * error is retried max_tries times then dead-lettered; an unreadable message is dead-lettered at
 * once; a lingering consumer (linger_ms) gathers a trickle of events into one or two batches and
 * takes a full batch at once; the consumer thread applies new events and stops; bad consumer
 * rows are refused. */
#include <jansson.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/consumer.h"
#include "core/db.h"
#include "core/log.h"
#include "core/outbox.h"
#include "core/service.h"
#include "test.h"

#define TENANT_A "6f1c2a4e-1d1b-4c55-9a0e-2b8f4d9e0a01"
#define TENANT_B "6f1c2a4e-1d1b-4c55-9a0e-2b8f4d9e0a02"

static const char *db_url, *owner_url, *nats_url;
static db_pool_t *pool;
static bus_t *bus;
static char schema[64]; /* consumer_test_<pid as letters> */
static char tp[32];     /* event type prefix "ctest<pid>" */
static char filter[64]; /* events.<tp>.> */
static svc_env_t env;
static atomic_int flaky_left; /* 503 answers left for "flaky" events */
static const db_scope_t relay_scope = {NULL, NULL, 0, 1};

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int owner_exec(const char *sql) {
    PGconn *c = PQconnectdb(owner_url);
    int ok = 0;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok) fprintf(stdout, "#   owner SQL failed: %s", PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return ok ? 0 : -1;
}

static long long scalar(const char *fmt) {
    char sql[256];
    snprintf(sql, sizeof sql, fmt, schema);
    err_t e = {0};
    db_tx_t *tx = NULL;
    long long v = -1;
    if (db_begin(pool, &relay_scope, &tx, &e) < 0) return -1;
    PGresult *r = db_exec(tx, sql, 0, NULL, &e);
    if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) v = atoll(PQgetvalue(r, 0, 0));
    if (!r) fprintf(stdout, "#   query failed: %s\n", e.message);
    PQclear(r);
    db_rollback(tx);
    return v;
}

/* The handler: "poison" events fail with 422, "flaky" ones with 503 while flaky_left > 0; the
 * rest add one row (or one to its n) in <schema>.applied. */
static int handle(const svc_call_t *call, db_tx_t *tx, const svc_event_t *ev, err_t *e) {
    if (json_is_true(json_object_get(ev->data, "poison")))
        return err_invalid(e, "data", "poison event");
    if (json_is_true(json_object_get(ev->data, "flaky")) && atomic_fetch_sub(&flaky_left, 1) > 0)
        return err_set(e, 503, "unavailable", "", "dependency down");
    if (strcmp(call->caller->club_id, ev->tenant_id ? ev->tenant_id : "") != 0)
        return err_set(e, 500, "internal", "", "caller club is not the tenant");
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s\".applied (event_id, b, tenant) VALUES ($1::uuid, $2::boolean, $3) "
             "ON CONFLICT (event_id) DO UPDATE SET n = applied.n + 1",
             schema);
    const char *params[] = {ev->id, json_object_get(ev->data, "b") ? "t" : "f", ev->tenant_id};
    return db_exec_cmd(tx, sql, 3, params, e) < 0 ? -1 : 0;
}

static svc_consumer_t consumers[1];
static svc_module_t module;

static int add_event_of(const char *tenant, const char *suffix, json_t *data) {
    char type[64];
    snprintf(type, sizeof type, "%s.%s", tp, suffix);
    err_t e = {0};
    db_tx_t *tx = NULL;
    db_scope_t sc = {tenant, NULL, 0, 0};
    if (db_begin(pool, &sc, &tx, &e) < 0) return -1;
    int rc = outbox_add(tx, schema, type, "test", tenant, data, NULL, NULL, &e);
    json_decref(data);
    if (rc < 0) {
        fprintf(stdout, "#   outbox_add: %s\n", e.message);
        db_rollback(tx);
        return -1;
    }
    return db_commit(tx, &e);
}

static int add_event(const char *suffix, json_t *data) {
    return add_event_of(TENANT_A, suffix, data);
}

/* Publishes the outbox, then polls until a fetch times out with nothing. Returns handled. */
static int drain(void) {
    err_t e = {0};
    int total = 0;
    while (outbox_relay_once(pool, bus, schema, &e) > 0) {
    }
    for (int i = 0; i < 200; i++) {
        int failed = 0;
        int n = svc_consumer_poll(&env, &module, &consumers[0], 50, 300, &failed, &e);
        if (n < 0) {
            fprintf(stdout, "#   poll: %s\n", e.message);
            return -1;
        }
        total += n;
        if (n == 0) break;
    }
    return total;
}

static void test_applied_once(void) {
    for (int i = 0; i < 20; i++)
        REQUIRE(add_event("plain", json_pack("{si}", "i", i)) == 0);
    CHECK_EQ_INT(drain(), 20);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".applied"), 20);
    CHECK_EQ_INT(scalar("SELECT max(n) FROM \"%s\".applied"), 1);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".inbox"), 20);
}

/* Deleting the durable and starting again delivers the whole stream once more (DeliverAll):
 * every event is a duplicate. */
static void test_replay_whole_stream(void) {
    char durable[64];
    svc_consumer_durable(&module, &consumers[0], durable);
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsErrCode jerr = 0;
    REQUIRE(natsConnection_ConnectTo(&nc, nats_url) == NATS_OK);
    CHECK(natsConnection_JetStream(&js, nc, NULL) == NATS_OK);
    CHECK(js && js_DeleteConsumer(js, "EVENTS", durable, NULL, &jerr) == NATS_OK);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    /* the bus caches the deleted consumer's subscription: start afresh as a new process would */
    err_t e = {0};
    bus_close(bus);
    bus = env.bus = bus_connect(nats_url, "test_consumer", &e);
    REQUIRE(bus);
    long long before = scalar("SELECT count(*) FROM \"%s\".applied");
    CHECK(before >= 20);
    CHECK(drain() >= before); /* everything delivered again */
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".applied"), before);
    CHECK_EQ_INT(scalar("SELECT max(n) FROM \"%s\".applied"), 1);
}

static void test_transient_retried(void) {
    atomic_store(&flaky_left, 2);
    REQUIRE(add_event("flaky", json_pack("{sb}", "flaky", 1)) == 0);
    long long before = scalar("SELECT count(*) FROM \"%s\".applied");
    for (int i = 0; i < 10 && scalar("SELECT count(*) FROM \"%s\".applied") == before; i++)
        CHECK(drain() >= 0);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".applied"), before + 1);
    CHECK_EQ_INT(atomic_load(&flaky_left), -1);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".dead_letter"), 0);
}

static void test_poison_dead_lettered(void) {
    REQUIRE(add_event("poison", json_pack("{sb}", "poison", 1)) == 0);
    long long applied = scalar("SELECT count(*) FROM \"%s\".applied");
    for (int i = 0; i < 10 && scalar("SELECT count(*) FROM \"%s\".dead_letter WHERE dead") < 1; i++)
        CHECK(drain() >= 0);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".dead_letter WHERE dead"), 1);
    CHECK_EQ_INT(scalar("SELECT tries FROM \"%s\".dead_letter WHERE dead"), 3);
    CHECK_EQ_INT(
        scalar("SELECT count(*) FROM \"%s\".dead_letter WHERE error LIKE '422 invalid_field%%'"),
        1);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".applied"), applied);
    /* acked: nothing is delivered any more */
    CHECK_EQ_INT(drain(), 0);
}

static void test_unreadable_dead_lettered(void) {
    char subject[96], id[40];
    snprintf(subject, sizeof subject, "events.%s.garbage", tp);
    snprintf(id, sizeof id, "%s", "0b7c8c3e-9a7e-4f0e-8a55-5d6c1e2f3a4b");
    err_t e = {0};
    int dup = 0;
    REQUIRE(bus_js_publish(bus, subject, id, "not json", 8, &dup, &e) == 0);
    CHECK_EQ_INT(drain(), 1);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".dead_letter WHERE dead AND payload = 'not "
                        "json' AND error LIKE '422 invalid_event%%'"),
                 1);
    CHECK_EQ_INT(drain(), 0);
}

/* A fetch of many events is applied in one transaction (their rows share a transaction id)
 * with each event's handler in its own tenant's scope; replaying the batch changes nothing. */
static void test_batch_one_transaction(void) {
    long long before = scalar("SELECT count(*) FROM \"%s\".applied");
    for (int i = 0; i < 30; i++)
        REQUIRE(add_event_of(i % 3 ? TENANT_A : TENANT_B, "batch", json_pack("{si}", "b", i)) == 0);
    CHECK_EQ_INT(drain(), 30);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".applied"), before + 30);
    CHECK(scalar("SELECT count(DISTINCT tx) FROM \"%s\".applied WHERE b") <= 2);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".applied WHERE b AND club = tenant"), 30);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".applied WHERE b AND club = '" TENANT_B "'"),
                 10);
    CHECK_EQ_INT(scalar("SELECT max(n) FROM \"%s\".applied"), 1);
}

/* A relay_only consumer's batch is not re-scoped per event: the transaction keeps the tenant
 * of the batch's first event (no set_config round trip at each change of tenant), while each
 * handler's caller is still its event's tenant. */
static void test_batch_relay_only(void) {
    long long before = scalar("SELECT count(*) FROM \"%s\".applied");
    long long other = scalar("SELECT count(*) FROM \"%s\".applied WHERE club <> tenant");
    consumers[0].relay_only = 1;
    for (int i = 0; i < 30; i++)
        REQUIRE(add_event_of(i % 3 ? TENANT_A : TENANT_B, "relay", json_pack("{si}", "r", i)) == 0);
    CHECK_EQ_INT(drain(), 30);
    consumers[0].relay_only = 0;
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".applied"), before + 30);
    CHECK(scalar("SELECT count(*) FROM \"%s\".applied WHERE club <> tenant") > other);
    CHECK_EQ_INT(scalar("SELECT max(n) FROM \"%s\".applied"), 1);
}

/* A poison event in the middle of a batch: the batch falls back to one transaction per event,
 * the others are applied, the poison one is retried and dead-lettered alone. */
static void test_batch_poison(void) {
    long long before = scalar("SELECT count(*) FROM \"%s\".applied");
    long long dead = scalar("SELECT count(*) FROM \"%s\".dead_letter WHERE dead");
    for (int i = 0; i < 21; i++)
        REQUIRE(add_event(i == 10 ? "poison" : "plain", i == 10 ? json_pack("{sb}", "poison", 1)
                                                                : json_pack("{si}", "p", i)) == 0);
    for (int i = 0; i < 10 && scalar("SELECT count(*) FROM \"%s\".dead_letter WHERE dead") == dead;
         i++)
        CHECK(drain() >= 0);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".applied"), before + 20);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".dead_letter WHERE dead"), dead + 1);
    CHECK_EQ_INT(scalar("SELECT max(n) FROM \"%s\".applied"), 1);
    CHECK_EQ_INT(drain(), 0);
}

static atomic_int crash_left;
static int crash_after_commit(const char *durable) {
    (void)durable;
    return atomic_fetch_sub(&crash_left, 1) > 0;
}

/* A crash after a batch's commit and before its acks: the messages come again, every one a
 * duplicate, and nothing changes. */
static void test_batch_crash_before_ack(void) {
    long long before = scalar("SELECT count(*) FROM \"%s\".applied");
    for (int i = 0; i < 12; i++)
        REQUIRE(add_event("plain", json_pack("{si}", "c", i)) == 0);
    atomic_store(&crash_left, 1);
    svc_consumer_after_commit = crash_after_commit;
    err_t e = {0};
    while (outbox_relay_once(pool, bus, schema, &e) > 0) {
    }
    CHECK_EQ_INT(svc_consumer_poll(&env, &module, &consumers[0], 50, 1000, NULL, &e), 12);
    CHECK_EQ_INT(atomic_load(&crash_left), 0);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".applied"), before + 12);
    CHECK_EQ_INT(drain(), 12); /* redelivered */
    svc_consumer_after_commit = NULL;
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".applied"), before + 12);
    CHECK_EQ_INT(scalar("SELECT max(n) FROM \"%s\".applied"), 1);
    CHECK_EQ_INT(drain(), 0);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A trickle of n events, one every gap_ms, each published as soon as it is written. */
typedef struct trickle {
    int n, gap_ms;
} trickle_t;

static void *trickle_main(void *arg) {
    const trickle_t *t = arg;
    err_t e = {0};
    for (int i = 0; i < t->n; i++) {
        if (i) sleep_ms(t->gap_ms);
        if (add_event("trickle", json_pack("{si}", "t", i)) != 0) break;
        while (outbox_relay_once(pool, bus, schema, &e) > 0) {
        }
    }
    return NULL;
}

/* A lingering consumer (linger_ms) applies a trickle of 20 events, one every 25 ms, fetched by
 * polls that wait 20 ms for a first event, in one or two batches (transactions): after the first
 * event a fetch keeps gathering; without the linger each poll takes the one or two there are. */
static void test_linger_trickle(void) {
    long long tx0 = scalar("SELECT coalesce(max(tx), 0) FROM \"%s\".applied");
    long long before = scalar("SELECT count(*) FROM \"%s\".applied");
    trickle_t t = {.n = 20, .gap_ms = 25};
    pthread_t th;
    consumers[0].linger_ms = 3000;
    REQUIRE(pthread_create(&th, NULL, trickle_main, &t) == 0);
    int batches = 0, got = 0;
    long long until = now_ms() + 20000;
    while (got < t.n && now_ms() < until) {
        err_t e = {0};
        int n = svc_consumer_poll(&env, &module, &consumers[0], t.n, 20, NULL, &e);
        if (n < 0) fprintf(stdout, "#   poll: %s\n", e.message);
        if (n < 0) break;
        batches += n > 0;
        got += n;
    }
    pthread_join(th, NULL);
    consumers[0].linger_ms = 0;
    fprintf(stdout, "#   %d events in %d fetches\n", got, batches);
    CHECK_EQ_INT(got, t.n);
    CHECK(batches >= 1 && batches <= 3);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(DISTINCT tx) FROM \"%%s\".applied WHERE tx > %lld",
             tx0);
    long long txs = scalar(sql);
    CHECK(txs >= 1 && txs <= 3);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".applied"), before + t.n);
    CHECK_EQ_INT(drain(), 0);
}

/* The linger does not delay a full batch (30 events waiting, a fetch of 30: at once although
 * the linger is 5 s), and a fetch that is not full lingers (5 events waiting, a fetch of 30
 * returns them after its 500 ms linger; at once without it). */
static void test_linger_full_batch(void) {
    err_t e = {0};
    for (int i = 0; i < 30; i++)
        REQUIRE(add_event("full", json_pack("{si}", "f", i)) == 0);
    while (outbox_relay_once(pool, bus, schema, &e) > 0) {
    }
    consumers[0].linger_ms = 5000;
    long long t0 = now_ms();
    CHECK_EQ_INT(svc_consumer_poll(&env, &module, &consumers[0], 30, 1000, NULL, &e), 30);
    long long full_ms = now_ms() - t0;
    for (int i = 0; i < 5; i++)
        REQUIRE(add_event("part", json_pack("{si}", "p", i)) == 0);
    while (outbox_relay_once(pool, bus, schema, &e) > 0) {
    }
    consumers[0].linger_ms = 500;
    t0 = now_ms();
    CHECK_EQ_INT(svc_consumer_poll(&env, &module, &consumers[0], 30, 1000, NULL, &e), 5);
    long long part_ms = now_ms() - t0;
    consumers[0].linger_ms = 0;
    fprintf(stdout, "#   full batch in %lld ms, 5 of 30 in %lld ms\n", full_ms, part_ms);
    CHECK(full_ms < 2500);
    CHECK(part_ms >= 450);
    CHECK_EQ_INT(drain(), 0);
}

/* The thread applies new events and stops, lingering too: its stop waits at most its fetch's
 * wait (1 s) plus the linger (300 ms), here with room for the loaded box. */
static void test_thread_runs_and_stops(void) {
    err_t e = {0};
    consumers[0].linger_ms = 300;
    svc_consumers_t *g = svc_consumers_start(&env, &module, &e);
    REQUIRE(g);
    long long before = scalar("SELECT count(*) FROM \"%s\".applied");
    for (int i = 0; i < 5; i++)
        CHECK(add_event("plain", json_pack("{si}", "i", 100 + i)) == 0);
    while (outbox_relay_once(pool, bus, schema, &e) > 0) {
    }
    for (int i = 0; i < 100 && scalar("SELECT count(*) FROM \"%s\".applied") < before + 5; i++)
        sleep_ms(100);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM \"%s\".applied"), before + 5);
    long long t0 = now_ms();
    svc_consumers_stop(g);
    consumers[0].linger_ms = 0;
    CHECK(now_ms() - t0 < 4000);
}

static int noop(const svc_call_t *c, db_tx_t *tx, const svc_event_t *ev, err_t *e) {
    (void)c, (void)tx, (void)ev, (void)e;
    return 0;
}

static void test_bad_rows_refused(void) {
    const svc_consumer_t bad[][1] = {
        {{.name = "Bad", .filter = "events.a.>", .handle = noop}},
        {{.name = "a", .filter = "club.>", .handle = noop}},
        {{.name = "a", .filter = "events.a.>", .handle = NULL}},
        {{.name = "", .filter = "events.a.>", .handle = noop}},
        {{.name = "a", .filter = "events.a.>", .handle = noop, .linger_ms = -1}},
        {{.name = "a", .filter = "events.a.>", .handle = noop, .linger_ms = 10001}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        svc_module_t m = {.name = "m", .schema = "m", .consumers = bad[i], .n_consumers = 1};
        err_t e = {0};
        CHECK_EQ_INT(svc_check_module(&m, &e), -1);
        CHECK_STR(e.code, "invalid_operation_table");
    }
    const svc_consumer_t twice[] = {{.name = "a", .filter = "events.a.>", .handle = noop},
                                    {.name = "a", .filter = "events.b.>", .handle = noop}};
    svc_module_t m = {.name = "m", .schema = "m", .consumers = twice, .n_consumers = 2};
    err_t e = {0};
    CHECK_EQ_INT(svc_check_module(&m, &e), -1);
    m.n_consumers = 1;
    CHECK_EQ_INT(svc_check_module(&m, &e), 0);
}

int main(void) {
    log_init(LOG_ERROR, 0, "test_consumer");
    db_url = getenv("RECIPROCAL_TEST_DATABASE_URL");
    owner_url = getenv("RECIPROCAL_TEST_OWNER_URL");
    nats_url = getenv("RECIPROCAL_TEST_NATS_URL");
    if (!db_url || !owner_url || !nats_url || !*db_url || !*owner_url || !*nats_url) {
        fprintf(stdout, "#   test environment missing (run through tests/run.sh)\n");
        fprintf(stdout, "not ok 1 - environment\n");
        return 1;
    }
    long pid = (long)getpid();
    snprintf(tp, sizeof tp, "ctest%ld", pid);
    snprintf(filter, sizeof filter, "events.%s.>", tp);
    char letters[24];
    int n = snprintf(letters, sizeof letters, "%ld", pid);
    for (int i = 0; i < n; i++)
        letters[i] = (char)('a' + (letters[i] - '0'));
    snprintf(schema, sizeof schema, "consumer_test_%s", letters);
    consumers[0] =
        (svc_consumer_t){.name = "all", .filter = filter, .handle = handle, .max_tries = 3};
    module = (svc_module_t){.name = tp, .schema = schema, .consumers = consumers, .n_consumers = 1};

    char sql[1024];
    snprintf(sql, sizeof sql,
             "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s; "
             "SELECT core.create_outbox('%s'); SELECT core.create_dead_letter('%s'); "
             "CREATE TABLE %s.applied (event_id uuid PRIMARY KEY, n int NOT NULL DEFAULT 1, "
             "b boolean NOT NULL DEFAULT false, tenant text, club text NOT NULL DEFAULT "
             "current_setting('app.club_id', true), tx bigint NOT NULL DEFAULT txid_current()); "
             "GRANT USAGE ON SCHEMA %s TO reciprocal_app; "
             "GRANT SELECT, INSERT, UPDATE ON %s.applied TO reciprocal_app",
             schema, schema, schema, schema, schema, schema, schema);
    err_t e = {0};
    if (owner_exec(sql) < 0 || !(pool = db_pool_open(db_url, 8, &e)) ||
        !(bus = bus_connect(nats_url, "test_consumer", &e)) ||
        outbox_ensure_stream(bus, 720LL * 3600, &e) < 0) {
        fprintf(stdout, "#   setup failed: %s\n", e.message);
        fprintf(stdout, "not ok 1 - setup\n");
        db_pool_close(pool);
        bus_close(bus);
        bus_shutdown_library();
        return 1;
    }
    env = (svc_env_t){.cfg = NULL, .db = pool, .bus = bus, .settings = NULL};

    RUN(test_applied_once);
    RUN(test_replay_whole_stream);
    RUN(test_transient_retried);
    RUN(test_poison_dead_lettered);
    RUN(test_unreadable_dead_lettered);
    RUN(test_batch_one_transaction);
    RUN(test_batch_relay_only);
    RUN(test_batch_poison);
    RUN(test_batch_crash_before_ack);
    RUN(test_linger_trickle);
    RUN(test_linger_full_batch);
    RUN(test_thread_runs_and_stops);
    RUN(test_bad_rows_refused);

    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    owner_exec(sql);
    db_pool_close(pool);
    bus_close(bus);
    bus_shutdown_library();
    TEST_DONE();
}
