/* bench/ingest_e2e.c: the analytics ingest end to end through JetStream (issue 14: "ingest >=
 * 20,000 events/s into rollups"), the publisher and the clock of bench/ingest_e2e.sh. Publishes
 * EVENTS visit events on the EVENTS stream (events.visit.requested with every attribute — dates,
 * guests, facility, host time zone, request time, so no get_visit is asked — then
 * events.visit.checked_out of the same visit, as the reciprocal service's outbox relay does; one
 * host club and 50 partners, the arrivals spread over the 365 days before today) in JetStream
 * batches of 1,000 (bus_js_publish_batch: asynchronous publishes, at most 1,000 acks pending, no
 * round trip per event), while a running `reciprocal serve` (RECIPROCAL_SERVICES=analytics)
 * consumes them, then waits until the raw store holds all of them (the raw rows and the rollups are
 * committed in one transaction, so the count is the events rolled up). Prints one line: ingest-e2e
 * events=.. publish_s=.. total_s=.. eps=.. (eps = EVENTS / (first publish -> last event
 * committed)), pub_us=.. (this publisher's own CPU per event while it publishes, getrusage: not
 * part of the server's figures) and "ok=1" when the rollups count every visit once
 * (daily_visits.requested = EVENTS / 2, visits = EVENTS / 2), else ok=0. Needs
 * RECIPROCAL_DATABASE_URL (a migrated database, polled with the relay scope every 0.25 s) and
 * RECIPROCAL_NATS_URL (+ _USER / _PASSWORD). INGEST_E2E_RATE (events/s, 0 = as fast as it can):
 * paced publishing, a slice of RATE / 100 events every 10 ms, as a service's outbox relay feeds
 * the consumers under steady load (their batches then hold what arrives, not a backlog). Usage:
 * bench-ingest-e2e [EVENTS [TIMEOUT_S]] (20000 300). */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/db.h"
#include "core/log.h"
#include "core/outbox.h"
#include "core/uuid.h"

#define CHUNK 1000

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This process's CPU time so far (user + system), seconds. */
static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The first column of the one-row answer of sql (relay scope) as a number, -1 on error. */
static long long count(db_pool_t *db, const char *sql, int col, const char *host) {
    db_scope_t s = {.relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    const char *p[] = {host};
    long long n = -1;
    if (db_begin(db, &s, &tx, &e) != 0) return -1;
    PGresult *r = db_exec(tx, sql, host ? 1 : 0, host ? p : NULL, &e);
    if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, col)) n = atoll(PQgetvalue(r, 0, col));
    PQclear(r);
    db_tx_finish(&tx, 0, NULL, &e);
    return n;
}

/* The envelope of one visit event (a new string). */
static char *envelope(const char *id, const char *type, const char *tenant, const char *host,
                      const char *home, const char *visit, const char *member, int day) {
    char arrive[16], at[40];
    /* the 365 days before today: fresh events, as a deployment's (none is older than the raw
     * store's retention, so the consumers claim none in the inbox) */
    time_t t = time(NULL) / 86400 * 86400 - (time_t)(366 - day) * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(arrive, sizeof arrive, "%Y-%m-%d", &tm);
    /* the check-out later than the request: a visit's status is its latest event's */
    snprintf(at, sizeof at, "%sT%s:00:00Z", arrive,
             strcmp(type, "visit.requested") == 0 ? "10" : "18");
    json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "visit_id", visit, "host_club_id", host,
                          "home_club_id", home, "member_id", member);
    if (strcmp(type, "visit.requested") == 0) {
        json_object_set_new(d, "status", json_string("requested"));
        json_object_set_new(d, "arrive_on", json_string(arrive));
        json_object_set_new(d, "depart_on", json_string(arrive));
        json_object_set_new(d, "guests", json_integer(1));
        json_object_set_new(d, "facilities", json_pack("[s]", "dining"));
        json_object_set_new(d, "host_timezone", json_string("UTC"));
        json_object_set_new(d, "requested_at", json_string(at));
    } else {
        json_object_set_new(d, "status", json_string("completed"));
    }
    json_t *env = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:{}}", "id", id, "type", type,
                            "source", "bench", "tenant_id", tenant, "timestamp", at, "version", 1,
                            "data", d, "metadata");
    char *s = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    return s;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 20000;
    int timeout = argc > 2 ? atoi(argv[2]) : 300;
    n -= n % 2;
    const char *url = getenv("RECIPROCAL_DATABASE_URL"), *nats = getenv("RECIPROCAL_NATS_URL");
    log_init(LOG_ERROR, 0, "bench-ingest-e2e");
    err_t e = {0};
    if (!url || !nats || n < 2) {
        fprintf(stderr, "bench-ingest-e2e: RECIPROCAL_DATABASE_URL and RECIPROCAL_NATS_URL\n");
        return 2;
    }
    db_pool_t *db = db_pool_open(url, 1, &e);
    bus_t *bus = db ? bus_connect_auth(nats, "bench-ingest-e2e", getenv("RECIPROCAL_NATS_USER"),
                                       getenv("RECIPROCAL_NATS_PASSWORD"), &e)
                    : NULL;
    if (!bus || outbox_ensure_stream(bus, 720LL * 3600, &e) != 0) {
        fprintf(stderr, "bench-ingest-e2e: %s\n", e.message);
        return 1;
    }
    char host[40], partners[50][40];
    uuid_v4(host);
    for (int i = 0; i < 50; i++)
        uuid_v4(partners[i]);
    static const char *types[2] = {"visit.requested", "visit.checked_out"};
    char(*ids)[40] = calloc((size_t)n, sizeof *ids);
    char **data = calloc((size_t)n, sizeof *data);
    bus_batch_msg_t *msgs = calloc(CHUNK, sizeof *msgs);
    int *ok = calloc(CHUNK, sizeof *ok);
    if (!ids || !data || !msgs || !ok) return 1;
    for (long i = 0; i < n; i += 2) { /* built before the clock starts */
        char visit[40], member[40];
        uuid_v4(visit);
        uuid_v4(member);
        const char *home = partners[(i / 2) % 50];
        for (int k = 0; k < 2; k++) {
            uuid_v4(ids[i + k]);
            data[i + k] = envelope(ids[i + k], types[k], k ? host : home, host, home, visit, member,
                                   (int)(i / 2 % 365));
            if (!data[i + k]) return 1;
        }
    }
    const char *sql_raw = "SELECT count(*) FROM analytics.raw_events WHERE host_club_id = $1";
    const char *rate_s = getenv("INGEST_E2E_RATE");
    long rate = rate_s ? atol(rate_s) : 0, chunk = rate > 0 ? rate / 100 : CHUNK;
    if (chunk < 1) chunk = 1;
    if (chunk > CHUNK) chunk = CHUNK;
    double t0 = wall_s(), c0 = cpu_s();
    for (long i = 0; i < n; i += chunk) {
        int m = (int)(n - i < chunk ? n - i : chunk);
        double due = rate > 0 ? t0 + (double)i / (double)rate - wall_s() : 0;
        if (due > 0) usleep((useconds_t)(due * 1e6));
        for (int k = 0; k < m; k++)
            msgs[k] = (bus_batch_msg_t){.subject = (i + k) % 2 ? "events.visit.checked_out"
                                                               : "events.visit.requested",
                                        .msg_id = ids[i + k],
                                        .data = data[i + k],
                                        .len = strlen(data[i + k])};
        if (bus_js_publish_batch(bus, msgs, m, ok, &e) != 0) {
            fprintf(stderr, "bench-ingest-e2e: publish: %s\n", e.message);
            return 1;
        }
    }
    double t_pub = wall_s(), t1 = t_pub, pub_us = (cpu_s() - c0) * 1e6 / (double)n;
    long long got = 0;
    while ((got = count(db, sql_raw, 0, host)) < n && wall_s() - t0 < timeout) {
        usleep(250 * 1000);
        t1 = wall_s();
    }
    t1 = wall_s();
    long long req = count(db,
                          "SELECT sum(requested), sum(visits) FROM analytics.daily_visits "
                          "WHERE host_club_id = $1",
                          0, host),
              vis = count(db,
                          "SELECT sum(requested), sum(visits) FROM analytics.daily_visits "
                          "WHERE host_club_id = $1",
                          1, host);
    printf("ingest-e2e events=%ld committed=%lld requested=%lld visits=%lld publish_s=%.2f "
           "total_s=%.2f eps=%.0f pub_us=%.1f ok=%d\n",
           n, got, req, vis, t_pub - t0, t1 - t0, (double)got / (t1 - t0), pub_us,
           got == n && req == n / 2 && vis == n / 2);
    for (long i = 0; i < n; i++)
        free(data[i]);
    free(data);
    free(ids);
    free(msgs);
    free(ok);
    bus_close(bus);
    db_pool_close(db);
    bus_shutdown_library();
    return got == n ? 0 : 1;
}
