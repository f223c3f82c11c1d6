/* test_ledger_cluster: the ledger on a 3-node nats-server cluster (issue 5, "Tests"). Starts
 * three `nats-server -js -c <conf>` on free loopback ports with their own store dirs under
 * $RECIPROCAL_TEST_TMP, with authentication like every nats-server of the project (issue 9,
 * docs/security.md N1): the users and subject permissions of scripts/pg.sh rcp_nats_conf, and a
 * route user with a random password between the nodes; the test connects as the `ledger` user
 * and checks that a connection without credentials is refused. It creates the ledger streams
 * and EVENTS with one replica, then sets the replicas to auto (RECIPROCAL_NATS_REPLICAS, issue
 * 17 item 7), which must choose 3 on this cluster and update the existing streams to 3; uses a
 * scratch PostgreSQL database (migrated with $RECIPROCAL_TEST_BIN, so the shared ledger's stream
 * positions are not involved), drives load through the service functions (submit without waiting
 * while this thread cuts and commits), SIGKILLs the leader of LEDGER_TX and LEDGER_BLOCKS mid-load,
 * keeps going, and asserts one valid chain: dense block numbers, prev-hash links, the offline
 * verifier passes, every acknowledged transaction committed VALID exactly once. Stops the servers
 * and drops the database at the end. Fails (never skips) with a reason when the cluster cannot be
 * formed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "core/bus.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/outbox.h"
#include "services/ledger/api.h"
#include "services/ledger/engine.h"
#include "services/ledger/orderer.h"
#include "services/ledger/settings.h"
#include "services/ledger/store.h"
#include "services/ledger/verify.h"
#include "verify_both.h"
#include "support/cluster.h"
#include "support/e2e.h"
#include "test.h"

#define NODES CLUSTER_NODES
#define LOAD_N 300

static cluster_t cl;
static char scratch[64], app_url[1024], owner_url[1024];
static char ledger_pw[256];
static ledger_settings_t g_cfg;
static db_pool_t *pool;
static bus_t *bus;
static char A[32], B[32];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- load ------------------------------------------------------------------------------- */

typedef struct load {
    uint8_t ska[64], pka[32], skb[64], pkb[32];
    uint8_t ids[LOAD_N][32];
    volatile int acked, failed_attempts, done;
    int given_up;
} load_t;

static void *submitter(void *arg) {
    load_t *L = arg;
    for (int i = 0; i < LOAD_N; i++) {
        char k[64];
        snprintf(k, sizeof k, "cl/%d/%d", (int)getpid(), i);
        json_t *spec = json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "type", "data.put", "creator", A,
                                 "writes", "key", k, "value", "v");
        uint8_t *tx = NULL;
        size_t len = 0;
        err_t e = {0};
        int rc = ledger_build_tx(spec, L->pka, &tx, &len, L->ids[i], &e);
        json_decref(spec);
        if (rc != 0) {
            L->given_up++;
            continue;
        }
        ledger_endorsement_t end[2];
        ledger_endorse(tx, len, L->ska, &end[0]);
        ledger_endorse(tx, len, L->skb, &end[1]);
        int ok = 0;
        /* the same tx again until acknowledged (Nats-Msg-Id de-duplicates a lost ack) */
        for (int attempt = 0; attempt < 100 && !ok; attempt++) {
            json_t *st = NULL;
            err_clear(&e);
            if (ledger_submit(pool, bus, tx, len, end, 2, 0, &st, &e) == 0) {
                ok = 1;
            } else {
                if (L->failed_attempts++ < 5) printf("#   submit %d: %s\n", i, e.message);
                usleep(100000);
            }
            json_decref(st);
        }
        free(tx);
        if (ok)
            L->acked = i + 1;
        else
            L->given_up++;
    }
    L->done = 1;
    return NULL;
}

static int count_committed(load_t *L, int n, int *valid, int *rows, int *distinct) {
    ledger_buf_t arr = {0};
    for (int i = 0; i < n; i++)
        ledger_arr_add_hex(&arr, L->ids[i], 32);
    const char *p[] = {ledger_arr_end(&arr)};
    db_tx_t *tx = NULL;
    err_t e = {0};
    int rc = -1;
    if (db_begin(pool, &(db_scope_t){0}, &tx, &e) == 0) {
        PGresult *r = db_exec(tx,
                              "SELECT count(*) AS n, count(DISTINCT tx_id) AS d, count(*) FILTER "
                              "(WHERE validation_code = 0) AS v FROM ledger.txs WHERE tx_id = "
                              "ANY (SELECT decode(x, 'hex') FROM unnest($1::text[]) AS x)",
                              1, p, &e);
        db_rollback(tx);
        if (r) {
            *rows = atoi(db_val(r, 0, "n"));
            *distinct = atoi(db_val(r, 0, "d"));
            *valid = atoi(db_val(r, 0, "v"));
            PQclear(r);
            rc = 0;
        }
    }
    ledger_buf_free(&arr);
    return rc;
}

static void test_cluster_leader_killed(void) {
    err_t e = {0};
    /* ---- three servers --------------------------------------------------------------- */
    REQUIRE(cluster_start(&cl, "ledger") == 0);
    REQUIRE(cluster_password(&cl, "ledger", ledger_pw, sizeof ledger_pw) == 0);
    /* one seed URL; the client learns the other two from the server's INFO (connect_urls) and
     * fails over to them */
    char seed[64];
    snprintf(seed, sizeof seed, "nats://127.0.0.1:%d", cl.cport[0]);
    for (int t = 0; t < 20 && !bus; t++) {
        err_clear(&e);
        bus = bus_connect_auth(seed, "test_ledger_cluster", "ledger", ledger_pw, &e);
        if (!bus) usleep(250000);
    }
    if (!bus) printf("# connect %s as ledger: %s (logs in %s)\n", seed, e.message, cl.dir);
    REQUIRE(bus != NULL);
    /* authentication is on: no credentials, no connection */
    err_clear(&e);
    bus_t *anon = bus_connect(seed, "test_ledger_cluster_anon", &e);
    CHECK(anon == NULL);
    if (anon) bus_close(anon);
    /* JetStream needs a meta leader before streams can be created; first with one replica, as
     * an older `serve` made them */
    const long long events_s = 720LL * 3600;
    int rc = -1;
    double t0 = now_s();
    while (rc != 0 && now_s() - t0 < 30) {
        err_clear(&e);
        rc = ledger_streams_ensure_replicas(bus, 1, &e);
        if (rc == 0) rc = outbox_ensure_stream(bus, events_s, &e);
        if (rc != 0) usleep(250000);
    }
    if (rc != 0)
        printf("# streams could not be created in 30 s (no JetStream cluster?): %s; logs in %s\n",
               e.message, cl.dir);
    REQUIRE(rc == 0);
    char leader[64] = "", bleader[64] = "";
    int reps = 0;
    REQUIRE(bus_js_stream_leader(bus, LEDGER_TX_STREAM, leader, sizeof leader, &reps, &e) == 0);
    CHECK_EQ_INT(reps, 1);
    /* RECIPROCAL_NATS_REPLICAS=auto, as `serve` applies it: 3 on this cluster, and the existing
     * streams are updated to 3 (issue 17 item 7) */
    int known = 0;
    for (int t = 0; t < 100 && (known = bus_cluster_size(bus)) < NODES; t++)
        usleep(100000);
    CHECK_EQ_INT(known, NODES);
    CHECK_EQ_INT(bus_set_stream_replicas(bus, 0, &e), 3);
    rc = -1;
    while (rc != 0 && now_s() - t0 < 60) {
        err_clear(&e);
        rc = ledger_streams_ensure(bus, &e);
        if (rc == 0) rc = outbox_ensure_stream(bus, events_s, &e);
        if (rc != 0) usleep(250000);
    }
    if (rc != 0) printf("# streams not updated to 3 replicas: %s; logs in %s\n", e.message, cl.dir);
    REQUIRE(rc == 0);
    const char *streams[] = {LEDGER_TX_STREAM, LEDGER_BLOCK_STREAM, "EVENTS"};
    for (int i = 0; i < 3; i++) {
        reps = 0;
        CHECK_EQ_INT(bus_js_stream_leader(bus, streams[i], leader, sizeof leader, &reps, &e), 0);
        if (reps != 3) printf("#   %s has %d replicas\n", streams[i], reps);
        CHECK_EQ_INT(reps, 3);
    }
    /* the scaled-up stream elects a leader in its new raft group */
    for (int t = 0; t < 100; t++) {
        REQUIRE(bus_js_stream_leader(bus, LEDGER_TX_STREAM, leader, sizeof leader, &reps, &e) == 0);
        if (leader[0]) break;
        usleep(100000);
    }
    printf("# cluster up in %.1f s (%d servers known): LEDGER_TX leader %s, replicas %d\n",
           now_s() - t0, known, leader, reps);
    CHECK_EQ_INT(reps, 3);
    CHECK(leader[0] != 0);

    /* ---- scratch database, ledger genesis -------------------------------------------- */
    REQUIRE(scratch_db_create("ledgercl", scratch, sizeof scratch, app_url, owner_url,
                              sizeof owner_url) == 0);
    REQUIRE(scratch_db_migrate(app_url, owner_url, seed) == 0);
    pool = db_pool_open(app_url, 4, &e);
    REQUIRE(pool != NULL);
    REQUIRE(ledger_bootstrap(pool, bus, &e) == 0);
    json_t *st = NULL;
    REQUIRE(ledger_register_org(pool, bus, A, NULL, "club", 10000, &st, &e) == 0);
    json_decref(st);
    REQUIRE(ledger_register_org(pool, bus, B, NULL, "club", 10000, &st, &e) == 0);
    json_decref(st);

    /* ---- load, leader killed at a third ------------------------------------------------ */
    load_t *L = calloc(1, sizeof *L);
    REQUIRE(L != NULL);
    REQUIRE(ledger_org_key(pool, A, "member", L->ska, L->pka, &e) == 0);
    REQUIRE(ledger_org_key(pool, B, "member", L->skb, L->pkb, &e) == 0);
    pthread_t th;
    pthread_create(&th, NULL, submitter, L);
    int killed = -1, killed_b = -1, pump_errors = 0;
    double tk = 0;
    while (!L->done) {
        if (killed < 0 && L->acked >= LOAD_N / 3) {
            err_t le = {0};
            if (bus_js_stream_leader(bus, LEDGER_TX_STREAM, leader, sizeof leader, NULL, &le) ==
                    0 &&
                bus_js_stream_leader(bus, LEDGER_BLOCK_STREAM, bleader, sizeof bleader, NULL,
                                     &le) == 0) {
                killed = cluster_node_of(leader);
                if (killed < 0) killed = 0;
                printf("# at %d acked: killing %s (LEDGER_TX leader; LEDGER_BLOCKS leader %s)\n",
                       L->acked, leader, bleader);
                cluster_node_signal(&cl, killed, SIGKILL);
                tk = now_s();
                killed_b = cluster_node_of(bleader);
            } else {
                printf("# leader lookup: %s\n", le.message);
            }
        }
        err_clear(&e);
        if (ledger_pump(pool, bus, &e) != 0) {
            if (pump_errors++ < 5) printf("#   pump: %s\n", e.message);
            usleep(100000);
        }
    }
    pthread_join(th, NULL);
    CHECK(killed >= 0);
    /* drain: everything acknowledged must commit */
    int valid = 0, rows = 0, distinct = 0;
    double td = now_s();
    while (now_s() - td < 60) {
        err_clear(&e);
        if (ledger_pump(pool, bus, &e) != 0) {
            if (pump_errors++ < 10) printf("#   pump: %s\n", e.message);
            usleep(100000);
        }
        if (count_committed(L, L->acked, &valid, &rows, &distinct) == 0 && valid >= L->acked) break;
    }
    if (killed >= 0) {
        char nl[64] = "";
        err_t le = {0};
        bus_js_stream_leader(bus, LEDGER_TX_STREAM, nl, sizeof nl, NULL, &le);
        printf("# new LEDGER_TX leader %s (%.1f s after the kill)\n", nl, now_s() - tk);
    }
    printf("# acked %d of %d (%d given up, %d failed attempts, %d pump errors); committed VALID "
           "%d, rows %d, distinct %d\n",
           L->acked, LOAD_N, L->given_up, L->failed_attempts, pump_errors, valid, rows, distinct);
    (void)killed_b;
    CHECK(L->acked > LOAD_N / 2);
    CHECK_EQ_INT(valid, L->acked);    /* every acknowledged tx committed ... */
    CHECK_EQ_INT(distinct, L->acked); /* ... exactly once (a redelivery is DUPLICATE_TXID) */

    /* ---- one valid chain --------------------------------------------------------------- */
    db_tx_t *tx = NULL;
    REQUIRE(db_begin(pool, &(db_scope_t){0}, &tx, &e) == 0);
    PGresult *r = db_exec(tx,
                          "SELECT (SELECT count(*) FROM ledger.blocks b LEFT JOIN ledger.blocks p "
                          "ON p.number = b.number - 1 WHERE b.number > 0 AND (p.number IS NULL OR "
                          "p.header_hash <> b.prev_hash)) AS bad, (SELECT max(number) + 1 - "
                          "count(*) FROM ledger.blocks) AS gaps, (SELECT count(*) FROM "
                          "ledger.blocks) AS blocks",
                          0, NULL, &e);
    db_rollback(tx);
    REQUIRE(r != NULL);
    CHECK_STR(db_val(r, 0, "bad"), "0");
    CHECK_STR(db_val(r, 0, "gaps"), "0");
    printf("# %s blocks\n", db_val(r, 0, "blocks"));
    PQclear(r);
    json_t *ex = NULL;
    REQUIRE(ledger_export(pool, &ex, &e) == 0);
    ledger_verify_report_t rep;
    rc = ledger_verify_export(ex, NULL, &rep, &e);
    if (rc != 0) printf("#   verify: %s\n", e.message);
    CHECK_EQ_INT(rc, 0);
    printf("# verified %zu blocks, %zu txs (%zu valid), %zu checkpoints\n", rep.blocks, rep.txs,
           rep.valid_txs, rep.checkpoints);
    json_decref(ex);
    free(L);
}

static void cleanup(void) {
    if (bus) bus_close(bus);
    bus = NULL;
    if (pool) db_pool_close(pool);
    pool = NULL;
    scratch_db_drop(scratch);
    cluster_stop(&cl);
}

int main(void) {
    log_init(LOG_ERROR, 0, "test_ledger_cluster");
    if (!TEST_ENV("RECIPROCAL_TEST_SUPER_URL") || !TEST_ENV("RECIPROCAL_TEST_BIN")) {
        RUN(test_cluster_leader_killed);
        TEST_DONE();
    }
    if (sodium_init() < 0) return 1;
    err_t ce = {0};
    if (ledger_settings_load(&g_cfg, NULL, &ce) != 0 || !g_cfg.kek.set) {
        printf("not ok 1 - RECIPROCAL_LEDGER_KEK from tests/run.sh: %s\n", ce.message);
        return 1;
    }
    ledger_configure(&g_cfg);
    snprintf(A, sizeof A, "ca%d", (int)getpid());
    snprintf(B, sizeof B, "cb%d", (int)getpid());
    RUN(test_cluster_leader_killed);
    cleanup();
    bus_shutdown_library();
    TEST_DONE();
}
