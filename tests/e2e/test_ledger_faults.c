/* test_ledger_faults: fault injection on the ledger as deployed (issue 17, "keep a
 * fault-injection test"). A 3-node nats-server JetStream cluster (tests/support/cluster.h, R3
 * streams: RECIPROCAL_NATS_REPLICAS=auto chooses 3), a scratch PostgreSQL database, and two
 * `reciprocal serve` processes, each running the ledger's background cutter/committer against
 * the same database and streams (they race). A client thread endorses and submits transactions
 * over HTTP to either process (the same signed bytes again after an indeterminate answer) while
 * the main thread, in turn: SIGKILLs the LEDGER_TX stream leader and restarts it, pauses it
 * (SIGSTOP for PAUSE_S, then SIGCONT), SIGKILLs one serve process (a cutter) and restarts it, and
 * restarts PostgreSQL (pg_ctl restart of the harness's server; tests run one binary at a time)
 * while transactions are submitted. With RECIPROCAL_TEST_FAULTS=full (`make test-faults`, run by
 * .ci/run) also: SIGKILL of the PostgreSQL postmaster and every backend, started again 2 s later,
 * and a second pause of the new stream leader. Asserts:
 *  - after every fault, commits resume within RECOVER_S (a transaction submitted after the fault
 *    began is committed: answered committed, or answered pending and found in the chain), and
 *    prints the stall (seconds from the fault to that commit); before the next fault, commits
 *    flow again (settle: a transaction submitted after the recovery commits), so a fault is not
 *    measured in the wake of the one before;
 *  - every transaction answered `committed` or `pending` is in the chain exactly once, VALID,
 *    and no tx id is in the chain twice (not even as DUPLICATE_TXID);
 *  - no fork: dense block numbers, prev-hash links, and both processes serve the same block
 *    hashes (GET /events from block 0);
 *  - `reciprocal ledger export` (the streamed v2 format) + `reciprocal ledger verify --min-size
 *    <log size>` pass;
 *  - both processes end cleanly (exit 0, no leaks).
 * The measured stalls are recorded in docs/ledger.md ("Fault injection"). */
#include <dirent.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/log.h"
#include "services/ledger/orderer.h"
#include "support/cluster.h"
#include "support/e2e.h"
#include "test.h"

#define MAX_TX 4000
#define PAUSE_S 12.0
#define RECOVER_S 60.0
#define DOWN_S 4.0

typedef struct sub {
    char id[65];
    double started, answered;
    int state; /* 0 not acknowledged, 1 pending, 2 committed */
} sub_t;

static cluster_t cl;
static e2e_proc_t P[2];
static int p_up[2];
static char scratch[64], app_url[1024], owner_url[1024], A[32], B[32];
static bus_t *bus;
static sub_t subs[MAX_TX];
static volatile int n_subs, stop_client;
static int indeterminate, endorse_failures;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int req(int k, const char *method, const char *path, const char *body, e2e_resp_t *r) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", P[k].base, path);
    return e2e_http(method, url, body ? "application/json" : NULL, body, r);
}

/* a serve process that is up, alternating */
static int pick(int turn) {
    pthread_mutex_lock(&mu);
    int k = p_up[turn & 1] ? turn & 1 : (turn + 1) & 1;
    pthread_mutex_unlock(&mu);
    return k;
}

/* endorse one data.put with both clubs' server-held keys; the submit body (caller frees) */
static char *endorse(int k, int i, char id[65]) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"type\":\"data.put\",\"creator\":\"%s\",\"writes\":[{\"key\":\"f/%d/%d\","
             "\"value\":\"v\"}],\"sign_as\":[\"%s\",\"%s\"]}",
             A, (int)getpid(), i, A, B);
    e2e_resp_t r;
    char *sb = NULL;
    if (req(k, "POST", "/api/v1/ledger/endorse", body, &r) == 0 && r.status == 200 && r.json) {
        json_t *sub =
            json_pack("{s:O,s:O,s:i}", "tx", json_object_get(r.json, "tx"), "endorsements",
                      json_object_get(r.json, "endorsements"), "wait_ms", 3000);
        snprintf(id, 65, "%s", json_string_value(json_object_get(r.json, "tx_id")));
        sb = sub ? json_dumps(sub, JSON_COMPACT) : NULL;
        json_decref(sub);
    }
    e2e_resp_free(&r);
    return sb;
}

/* submit the same bytes until acknowledged (202): a 5xx or a lost answer is indeterminate and
 * resubmitting the same signed transaction is safe (docs/ledger.md) */
static void *client(void *arg) {
    (void)arg;
    for (int i = 0; !stop_client && i < MAX_TX; i++) {
        sub_t *s = &subs[i];
        char *sb = NULL;
        for (int t = 0; !sb && !stop_client; t++) {
            sb = endorse(pick(i + t), i, s->id);
            if (!sb) {
                endorse_failures++;
                usleep(200000);
            }
        }
        if (!sb) break;
        s->started = now_s();
        n_subs = i + 1;
        for (int t = 0; s->state == 0 && t < 200; t++) {
            e2e_resp_t r;
            if (req(pick(i + t), "POST", "/api/v1/ledger/transactions", sb, &r) == 0 &&
                r.status == 202) {
                const char *st = json_string_value(json_object_get(r.json, "status"));
                s->state = st && strcmp(st, "committed") == 0 ? 2 : 1;
                s->answered = now_s();
            } else {
                indeterminate++;
                usleep(200000);
            }
            e2e_resp_free(&r);
        }
        free(sb);
    }
    return NULL;
}

/* when the main thread found a transaction answered `pending` in the chain (0 = not yet) */
static double chained[MAX_TX];

/* Looks up in the chain the transactions submitted at or after t0 that were answered `pending`
 * (their commit came after the 3 s the submit waits): each found gets chained[i] = now. */
static void find_chained(PGconn **c, double t0) {
    if (PQstatus(*c) != CONNECTION_OK) PQreset(*c); /* PostgreSQL restarted */
    if (PQstatus(*c) != CONNECTION_OK) return;
    for (int i = 0; i < n_subs; i++) {
        if (subs[i].state != 1 || subs[i].started < t0 || chained[i] > 0) continue;
        const char *p[] = {subs[i].id};
        PGresult *r = PQexecParams(*c, "SELECT 1 FROM ledger.txs WHERE tx_id = decode($1, 'hex')",
                                   1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) chained[i] = now_s();
        PQclear(r);
    }
}

/* Seconds from t0 until a transaction submitted at or after t0 was committed, waiting until
 * `until`; -1 when commits did not resume by then. Committed: answered `committed`
 * (the answered time), or answered `pending` and found in the chain since (the time it was
 * found): a commit that came after the submit's 3 s wait counts too. On failure it prints what
 * the client did in the window (the client submits one transaction at a time). */
static double resumed_by(double t0, double until) {
    PGconn *c = PQconnectdb(app_url);
    double best = -1;
    while (best < 0 && now_s() < until) {
        find_chained(&c, t0);
        for (int i = 0; i < n_subs; i++) {
            if (subs[i].started < t0) continue;
            double at = subs[i].state == 2 ? subs[i].answered : chained[i];
            if (at > 0 && (best < 0 || at < best)) best = at;
        }
        if (best < 0) usleep(100000);
    }
    if (best < 0) {
        int after = 0, pend = 0, unack = 0;
        for (int i = 0; i < n_subs; i++) {
            after += subs[i].started >= t0;
            pend += subs[i].started >= t0 && subs[i].state == 1;
            unack += subs[i].started >= t0 && subs[i].state == 0;
        }
        printf("# no commit in %.0f s: %d transaction(s) submitted since (%d answered pending "
               "and not in the chain, %d not acknowledged yet)\n",
               until - t0, after, pend, unack);
    }
    PQfinish(c);
    return best < 0 ? -1 : best - t0;
}

/* resumed_by with the bound RECOVER_S after `from`: a generous bound, not a speed goal (it
 * covers a client request's own 30 s timeout twice; the stalls are printed and recorded in
 * docs/ledger.md) */
static double resumed_after(double t0, double from) {
    return resumed_by(t0, from + RECOVER_S);
}

/* Before the next fault: commits flow again (a transaction submitted from now on commits), so
 * each fault is measured from a working cluster and not in the wake of the one before. */
static void settle(const char *after) {
    double t = now_s(), s = resumed_after(t, t);
    printf("# settled after the %s: a new transaction committed %.1f s later\n", after, s);
    CHECK(s >= 0);
}

static int tx_leader(void) {
    char leader[64] = "";
    for (int t = 0; t < 100; t++) {
        err_t e = {0};
        if (bus_js_stream_leader(bus, LEDGER_TX_STREAM, leader, sizeof leader, NULL, &e) == 0 &&
            cluster_node_of(leader) >= 0)
            return cluster_node_of(leader);
        usleep(100000);
    }
    return -1;
}

static void fault_kill_node(void) {
    int n = tx_leader();
    REQUIRE(n >= 0);
    double t0 = now_s();
    cluster_node_signal(&cl, n, SIGKILL);
    usleep((useconds_t)(DOWN_S * 1e6));
    REQUIRE(cluster_node_start(&cl, n) == 0);
    double s = resumed_after(t0, now_s());
    printf("# SIGKILL of LEDGER_TX leader n%d, restarted after %.0f s: commits resumed %.1f s "
           "after the kill\n",
           n + 1, DOWN_S, s);
    CHECK(s >= 0);
}

static void fault_pause_leader(const char *which) {
    int n = tx_leader();
    REQUIRE(n >= 0);
    double t0 = now_s();
    cluster_node_signal(&cl, n, SIGSTOP);
    double s = resumed_by(t0, t0 + PAUSE_S);
    while (now_s() - t0 < PAUSE_S)
        usleep(100000);
    cluster_node_signal(&cl, n, SIGCONT);
    if (s < 0) s = resumed_after(t0, now_s());
    printf("# %s pause (SIGSTOP %.0f s) of LEDGER_TX leader n%d: commits resumed %.1f s after "
           "the pause began%s\n",
           which, PAUSE_S, n + 1, s, s >= 0 && s < PAUSE_S ? " (during the pause)" : "");
    CHECK(s >= 0);
}

/* ---- PostgreSQL faults (the harness's server: tests run one binary at a time) ------------- */

static int pg_ctl(const char *cmd) {
    const char *ctl = getenv("RECIPROCAL_TEST_PG_CTL");
    char buf[1200];
    if (!ctl) return -1;
    snprintf(buf, sizeof buf, "%s %s >/dev/null 2>&1", ctl, cmd);
    return system(buf) == 0 ? 0 : -1;
}

/* the parent pid of pid (from /proc), or -1 */
static long ppid_of(long pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    const char *q = strrchr(buf, ')'); /* "pid (comm) state ppid" */
    long pp = -1;
    char st;
    if (!q || sscanf(q + 1, " %c %ld", &st, &pp) != 2) return -1;
    return pp;
}

/* the postmaster: the parent of a backend of ours */
static long postmaster_pid(void) {
    PGconn *c = PQconnectdb(app_url);
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, "SELECT pg_backend_pid()") : NULL;
    long pid = r && PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    PQfinish(c);
    return pid > 0 ? ppid_of(pid) : -1;
}

/* SIGKILL of the postmaster and every process it started (a crash of the whole server) */
static int pg_kill9(void) {
    long pm = postmaster_pid();
    if (pm <= 1) return -1;
    long kids[256];
    int nk = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d)) && nk < 256) {
        long pid = atol(de->d_name);
        if (pid > 0 && ppid_of(pid) == pm) kids[nk++] = pid;
    }
    if (d) closedir(d);
    kill((pid_t)pm, SIGKILL);
    for (int i = 0; i < nk; i++)
        kill((pid_t)kids[i], SIGKILL);
    for (int t = 0; t < 100 && kill((pid_t)pm, 0) == 0; t++)
        usleep(50000);
    return 0;
}

/* a restart (fast shutdown, then start) or a SIGKILL and a start down_s later, while
 * transactions flow: acknowledged transactions (published to JetStream) wait for PostgreSQL and
 * commit once. The stall is counted from the moment PostgreSQL is down (the shutdown or the kill
 * done), so a commit that slipped in during a slow shutdown does not count as a resumption. */
static void fault_pg(int kill9, double down_s) {
    double t0 = now_s();
    REQUIRE((kill9 ? pg_kill9() : pg_ctl("stop")) == 0);
    double down = now_s();
    if (kill9) usleep((useconds_t)(down_s * 1e6));
    REQUIRE(pg_ctl("start") == 0);
    double up = now_s() - down, s = resumed_after(down, now_s());
    printf("# PostgreSQL %s (%.1f s to go down): up again %.1f s after it was down, commits "
           "resumed %.1f s after it was down\n",
           kill9 ? "SIGKILLed (postmaster and backends), started 2 s later" : "stopped and started",
           down - t0, up, s);
    CHECK(s >= 0);
}

static void fault_kill_cutter(const char *const *env) {
    double t0 = now_s();
    pthread_mutex_lock(&mu);
    p_up[1] = 0;
    pthread_mutex_unlock(&mu);
    kill(P[1].pid, SIGKILL);
    waitpid(P[1].pid, NULL, 0);
    P[1].pid = 0;
    usleep(2000000);
    REQUIRE(e2e_start(&P[1], NULL, P[1].port, 1, env) == 0);
    pthread_mutex_lock(&mu);
    p_up[1] = 1;
    pthread_mutex_unlock(&mu);
    double s = resumed_after(t0, now_s());
    printf("# SIGKILL of serve process 2 (a cutter), restarted: commits resumed %.1f s after the "
           "kill\n",
           s);
    CHECK(s >= 0);
}

/* "number:hash\n" for every block served by process k (GET /events from block 0) */
static char *chain_of(int k) {
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    out[0] = 0;
    long long fb = 0, fp = 0, last = -1;
    for (int pages = 0; pages < 10000; pages++) {
        char path[160];
        snprintf(path, sizeof path,
                 "/api/v1/ledger/events?from_block=%lld&from_position=%lld&limit=100", fb, fp);
        e2e_resp_t r;
        if (req(k, "GET", path, NULL, &r) != 0 || r.status != 200 || !r.json) {
            e2e_resp_free(&r);
            free(out);
            return NULL;
        }
        json_t *blocks = json_object_get(r.json, "blocks"), *b;
        size_t i;
        json_array_foreach(blocks, i, b) {
            long long no = (long long)json_integer_value(json_object_get(b, "block_number"));
            if (no == last) continue;
            last = no;
            const char *hh = json_string_value(json_object_get(b, "header_hash"));
            if (len + 128 > cap) {
                char *n = realloc(out, cap *= 2);
                if (!n) break;
                out = n;
            }
            len += (size_t)snprintf(out + len, cap - len, "%lld:%s\n", no, hh ? hh : "?");
        }
        json_t *next = json_object_get(r.json, "next");
        long long nfb = (long long)json_integer_value(json_object_get(next, "from_block"));
        long long nfp = (long long)json_integer_value(json_object_get(next, "from_position"));
        int empty = json_array_size(blocks) == 0;
        e2e_resp_free(&r);
        if (empty || (nfb == fb && nfp == fp)) break;
        fb = nfb;
        fp = nfp;
    }
    return out;
}

/* the acknowledged transactions: every one committed (polls status up to 60 s) exactly once */
static void check_acknowledged(void) {
    int acked = 0, answered_committed = 0, committed = 0, valid = 0;
    double t0 = now_s();
    for (int i = 0; i < n_subs; i++) {
        if (subs[i].state == 0) continue;
        acked++;
        answered_committed += subs[i].state == 2;
        char path[200];
        snprintf(path, sizeof path, "/api/v1/ledger/transactions/%s/status?wait_ms=2000",
                 subs[i].id);
        const char *v = NULL;
        while (!v && now_s() - t0 < 60) {
            e2e_resp_t r;
            if (req(0, "GET", path, NULL, &r) == 0 && r.status == 200) {
                v = json_string_value(json_object_get(r.json, "validation_code"));
                if (v) {
                    committed++;
                    valid += strcmp(v, "VALID") == 0;
                }
            }
            e2e_resp_free(&r);
        }
    }
    printf("# %d submitted, %d acknowledged (%d answered committed), %d indeterminate answers "
           "retried, %d endorse failures; committed %d, VALID %d\n",
           n_subs, acked, answered_committed, indeterminate, endorse_failures, committed, valid);
    CHECK(acked >= 10); /* load flowed (a loaded CI machine commits a few per second) */
    /* no duplicates: no tx id twice in the chain (a copy would be DUPLICATE_TXID, harmless, but
     * the cutter drops re-delivered envelopes of committed ids) */
    PGconn *c = PQconnectdb(app_url);
    PGresult *r = PQexec(c, "SELECT count(*) - count(DISTINCT tx_id), count(*) FILTER (WHERE "
                            "validation_code = 0) - count(DISTINCT tx_id) FILTER (WHERE "
                            "validation_code = 0) FROM ledger.txs");
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    printf("# chain: %s extra copies of a tx id, %s extra VALID copies\n", PQgetvalue(r, 0, 0),
           PQgetvalue(r, 0, 1));
    CHECK_STR(PQgetvalue(r, 0, 1), "0");
    CHECK_STR(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    PQfinish(c);
    CHECK_EQ_INT(committed, acked);
    CHECK_EQ_INT(valid, acked);
}

/* exactly once in the chain and no fork, through `reciprocal ledger export` + `verify` and the
 * two processes' block lists */
static void check_chain(void) {
    char *c0 = chain_of(0), *c1 = chain_of(1);
    REQUIRE(c0 != NULL && c1 != NULL);
    CHECK(strlen(c0) > 0);
    CHECK_STR(c0, c1);
    int blocks = 0;
    for (const char *p = c0; *p; p++)
        blocks += *p == '\n';
    free(c0);
    free(c1);
    char file[480];
    const char *tmp = getenv("RECIPROCAL_TEST_TMP");
    snprintf(file, sizeof file, "%s/ledger-faults-%d.json", tmp ? tmp : "/tmp", (int)getpid());
    char *out = NULL;
    const char *ex[] = {"ledger", "export", file, NULL};
    CHECK_EQ_INT(e2e_run(ex, NULL, &out), 0);
    /* the streamed export (v2) says how many transactions it wrote: the log size, which pins
     * the verify against a rollback */
    const char *says = out ? strstr(out, " blocks, ") : NULL;
    size_t n_tx = says ? strtoull(says + 9, NULL, 10) : 0;
    CHECK(n_tx > 0);
    free(out);
    out = NULL;
    char min[32];
    snprintf(min, sizeof min, "%zu", n_tx);
    const char *vf[] = {"ledger", "verify", file, "--min-size", min, NULL};
    int rc = e2e_run(vf, NULL, &out);
    CHECK_EQ_INT(rc, 0);
    CHECK(out && strstr(out, "ledger valid"));
    if (rc != 0 && out) printf("# %s\n", out);
    printf("# one chain: %d blocks served identically by both processes, %zu log leaves, "
           "verify: %s",
           blocks, n_tx, out ? out : "\n");
    free(out);
    unlink(file);
}

static void test_faults(void) {
    REQUIRE(cluster_start(&cl, "all ledger") == 0);
    char pw[256], seed[64];
    REQUIRE(cluster_password(&cl, "ledger", pw, sizeof pw) == 0);
    snprintf(seed, sizeof seed, "nats://127.0.0.1:%d", cl.cport[0]);
    err_t e = {0};
    for (int t = 0; t < 40 && !bus; t++) {
        err_clear(&e);
        bus = bus_connect_auth(cl.urls, "test_ledger_faults", "ledger", pw, &e);
        if (!bus) usleep(250000);
    }
    REQUIRE(bus != NULL);
    REQUIRE(scratch_db_create("ledgerft", scratch, sizeof scratch, app_url, owner_url,
                              sizeof owner_url) == 0);
    REQUIRE(scratch_db_migrate(app_url, owner_url, seed) == 0);
    /* the serve processes, `auth create-admin` and the ledger CLI use the scratch database and
     * the cluster (tests/support/e2e.c takes them from these variables) */
    char all_pw[256];
    REQUIRE(cluster_password(&cl, "all", all_pw, sizeof all_pw) == 0);
    setenv("RECIPROCAL_TEST_DATABASE_URL", app_url, 1);
    setenv("RECIPROCAL_TEST_OWNER_URL", owner_url, 1);
    setenv("RECIPROCAL_TEST_NATS_SERVER_URL", cl.urls, 1);
    setenv("RECIPROCAL_TEST_NATS_PASSWORD_ALL", all_pw, 1);
    const char *env[] = {"RECIPROCAL_NATS_REPLICAS=auto", NULL};
    /* JetStream needs a meta leader before `serve` can create its streams */
    for (int k = 0; k < 2; k++) {
        int rc = -1;
        for (int t = 0; t < 3 && rc != 0; t++)
            rc = e2e_start(&P[k], NULL, e2e_free_port(), 1, env);
        REQUIRE(rc == 0);
        p_up[k] = 1;
    }
    REQUIRE(e2e_login_admin(&P[0], NULL, NULL) == 0);
    e2e_resp_t r;
    REQUIRE(req(0, "POST", "/api/v1/ledger/bootstrap", "{}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    const char *orgs[] = {A, B};
    for (int i = 0; i < 2; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"org\":\"%s\",\"name\":\"Club %s\"}", orgs[i], orgs[i]);
        REQUIRE(req(i, "POST", "/api/v1/ledger/orgs", body, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        e2e_resp_free(&r);
    }
    char leader[64] = "";
    int reps = 0;
    REQUIRE(bus_js_stream_leader(bus, LEDGER_TX_STREAM, leader, sizeof leader, &reps, &e) == 0);
    CHECK_EQ_INT(reps, 3);

    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, client, NULL) == 0);
    double t0 = now_s();
    CHECK(resumed_after(t0, t0) >= 0); /* load flows */
    /* `make test`: one fault of each kind; `make test-faults` (RECIPROCAL_TEST_FAULTS=full, run
     * by .ci/run): a second pause and a SIGKILL of PostgreSQL as well */
    const char *mode = getenv("RECIPROCAL_TEST_FAULTS");
    int full = mode && strcmp(mode, "full") == 0;
    fault_kill_node();
    settle("node kill");
    fault_pause_leader("first");
    settle("pause");
    fault_kill_cutter(env);
    settle("cutter kill");
    if (getenv("RECIPROCAL_TEST_PG_CTL")) {
        fault_pg(0, 0);
        settle("PostgreSQL restart");
        if (full) {
            fault_pg(1, 2.0);
            settle("PostgreSQL kill");
        }
    }
    if (full) fault_pause_leader("second");
    sleep(2);
    stop_client = 1;
    pthread_join(th, NULL);
    printf("# load and faults: %.0f s\n", now_s() - t0);
    check_acknowledged();
    check_chain();
    for (int k = 0; k < 2; k++)
        CHECK_EQ_INT(e2e_stop(&P[k]), 0);
}

int main(void) {
    log_init(LOG_ERROR, 0, "test_ledger_faults");
    if (!TEST_ENV("RECIPROCAL_TEST_SUPER_URL") || !TEST_ENV("RECIPROCAL_TEST_BIN")) {
        RUN(test_faults);
        TEST_DONE();
    }
    if (sodium_init() < 0) return 1;
    snprintf(A, sizeof A, "fa%d", (int)getpid());
    snprintf(B, sizeof B, "fb%d", (int)getpid());
    RUN(test_faults);
    stop_client = 1;
    for (int k = 0; k < 2; k++)
        if (P[k].pid > 0) e2e_stop(&P[k]);
    if (bus) bus_close(bus);
    scratch_db_drop(scratch);
    cluster_stop(&cl);
    bus_shutdown_library();
    TEST_DONE();
}
