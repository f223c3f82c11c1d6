/* bench/analytics.c: the analytics service's two goals (issue 14). (1) Ingest: EVENTS facts (a
 * visit.requested and a visit.checked_out per visit, one club and 50 partners over 12 months)
 * applied into the raw store and the rollups by analytics_ingest in transactions of BATCH facts
 * (the path of the consumers minus NATS and the inbox): events/s, goal >= 20,000. (2) Report: a
 * club with VISITS recorded visits (rows of analytics.visits generated in SQL and rolled up with
 * analytics.recompute_visit_days) and its 12-month report (club_report, period year, in process:
 * svc_dispatch) timed RUNS times: p50/p99, goal p99 < 200 ms. Prints one line:
 * analytics-bench events=.. ingest_eps=.. visits=.. runs=.. p50_ms=.. p99_ms=.. ok=1|0.
 * Needs RECIPROCAL_DATABASE_URL (the app role, migrated). Usage: analytics [EVENTS [VISITS
 * [RUNS [BATCH [DAYS]]]]] (100000 1000000 50 1000 365: the ingest's arrivals spread over the
 * first DAYS days of 2025; 1 puts every visit on one day, the day rows growing with every
 * batch); VISITS 0 runs the ingest alone (bench/analytics_ab.sh)
 * and prints analytics-ingest events=.. batch=.. ingest_eps=.. client_cpu_us_per_event=..
 * backend_cpu_us_per_event=.. (the CPU of the pool's two PostgreSQL backends, from /proc: the
 * server must run on this machine; -1 when it does not). */
#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/service.h"
#include "core/uuid.h"
#include "services/analytics/analytics.h"
#include "services/analytics/ingest.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int relay_exec(db_pool_t *db, const char *sql, int n, const char *const *p, err_t *e) {
    db_scope_t s = {.relay = 1};
    db_tx_t *tx = NULL;
    if (db_begin(db, &s, &tx, e) != 0) return -1;
    long long rc = db_exec_cmd(tx, sql, n, p, e);
    return db_tx_finish(&tx, rc < 0 ? -1 : 0, NULL, e);
}

/* The CPU ticks (utime + stime) so far of the backends of the pool's two connections (pids found
 * once, holding both connections at a time), -1 when their /proc entries cannot be read. */
static long long backend_ticks(db_pool_t *db) {
    static int pid[2];
    if (!pid[0]) {
        db_scope_t s = {.relay = 1};
        db_tx_t *tx[2] = {NULL, NULL};
        err_t e = {0};
        for (int i = 0; i < 2; i++) {
            PGresult *r = db_begin(db, &s, &tx[i], &e) == 0
                              ? db_exec(tx[i], "SELECT pg_backend_pid()", 0, NULL, &e)
                              : NULL;
            pid[i] = r ? atoi(PQgetvalue(r, 0, 0)) : -1;
            PQclear(r);
        }
        db_tx_rollback(&tx[0]);
        db_tx_rollback(&tx[1]);
    }
    long long t = 0;
    for (int i = 0; i < 2; i++) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", pid[i]);
        FILE *f = pid[i] > 0 ? fopen(path, "r") : NULL;
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f) fclose(f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')'); /* fields after the command name: 3 = state */
        unsigned long long ut = 0, st = 0;
        if (!p ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
            return -1;
        t += (long long)(ut + st);
    }
    return t;
}

/* n facts for club host and 50 partners; 2 per visit. */
static double ingest(const svc_env_t *env, const char *host, char partners[50][40], long n,
                     int batch, int days, err_t *e) {
    const analytics_settings_t *s = analytics_settings(env);
    (void)s;
    double t0 = now_ms();
    for (long i = 0; i < n;) {
        db_scope_t sc = {.relay = 1};
        db_tx_t *tx = NULL;
        if (db_begin(env->db, &sc, &tx, e) != 0) return -1;
        json_t *facts = json_array();
        for (int k = 0; k < batch && i < n; k += 2, i += 2) {
            char id1[40], id2[40], v[40], key[65], member[40], arrive[16], at[40];
            uuid_v4(id1);
            uuid_v4(id2);
            uuid_v4(v);
            uuid_v4(member);
            const char *home = partners[i % 50];
            if (analytics_member_key(env, home, member, key, e) != 0) return -1;
            int day = (int)(i / 2 % days);
            struct tm tm = {.tm_year = 125, .tm_mon = 0, .tm_mday = 1 + day};
            timegm(&tm);
            strftime(arrive, sizeof arrive, "%Y-%m-%d", &tm);
            snprintf(at, sizeof at, "%sT10:00:00Z", arrive);
            json_array_append_new(
                facts,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:i, s:s, "
                          "s:s}}",
                          "id", id1, "at", at, "type", "visit.requested", "club", home, "host",
                          host, "home", home, "visit", v, "member_key", key, "facts", "status",
                          "requested", "arrive_on", arrive, "depart_on", arrive, "guests", 1,
                          "facility", "dining", "timezone", "UTC"));
            json_array_append_new(facts,
                                  json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}}",
                                            "id", id2, "at", at, "type", "visit.checked_out",
                                            "club", host, "host", host, "home", home, "visit", v,
                                            "member_key", key, "facts", "status", "completed"));
        }
        int rc = analytics_ingest(tx, facts, NULL, e);
        json_decref(facts);
        if (db_tx_finish(&tx, rc, NULL, e) != 0) return -1;
    }
    return (double)n / ((now_ms() - t0) / 1e3);
}

int main(int argc, char **argv) {
    long events = argc > 1 ? atol(argv[1]) : 100000, visits = argc > 2 ? atol(argv[2]) : 1000000;
    int runs = argc > 3 ? atoi(argv[3]) : 50, batch = argc > 4 ? atoi(argv[4]) : 1000;
    int days = argc > 5 && atoi(argv[5]) > 0 ? atoi(argv[5]) : 365;
    log_init(LOG_ERROR, 0, "bench-analytics");
    const char *url = getenv("RECIPROCAL_DATABASE_URL");
    if (!url) url = getenv("RECIPROCAL_TEST_DATABASE_URL");
    err_t e = {0};
    cfg_t cfg;
    svc_settings_t set;
    if (!url || sodium_init() < 0 || cfg_load(&cfg, NULL, &e) != 0 ||
        svc_settings_load(&set, NULL, &e) != 0) {
        fprintf(stderr, "analytics bench: no database or configuration: %s\n", e.message);
        return 1;
    }
    analytics_settings_t *as = svc_settings_edit(&set, &analytics_module);
    as->key.set = 1;
    randombytes_buf(as->key.key, sizeof as->key.key);
    db_pool_t *db = db_pool_open(url, 2, &e);
    if (!db) {
        fprintf(stderr, "analytics bench: %s\n", e.message);
        return 1;
    }
    svc_env_t env = {.cfg = &cfg, .db = db, .settings = &set};
    char host[40], big[40], partners[50][40];
    uuid_v4(host);
    uuid_v4(big);
    for (int i = 0; i < 50; i++)
        uuid_v4(partners[i]);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    long long bt0 = backend_ticks(db);
    double eps = ingest(&env, host, partners, events, batch, days, &e);
    long long bt1 = backend_ticks(db);
    if (eps < 0) {
        fprintf(stderr, "analytics bench: ingest: %s\n", e.message);
        return 1;
    }
    getrusage(RUSAGE_SELF, &ru1);
    if (visits == 0) { /* the ingest alone: its rate and the client's CPU per event */
        double us = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                             ru0.ru_stime.tv_sec) *
                        1e6 +
                    (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
                             ru0.ru_stime.tv_usec);
        double bus = bt0 < 0 || bt1 < 0 ? -1
                                        : (double)(bt1 - bt0) * 1e6 / (double)sysconf(_SC_CLK_TCK) /
                                              (double)events;
        printf("analytics-ingest events=%ld batch=%d ingest_eps=%.0f client_cpu_us_per_event=%.1f "
               "backend_cpu_us_per_event=%.1f\n",
               events, batch, eps, us / (double)events, bus);
        db_pool_close(db);
        return 0;
    }
    /* VISITS visits at club `big` from 200 partners over 2025, rolled up */
    char nv[24];
    snprintf(nv, sizeof nv, "%ld", visits);
    const char *p[] = {big, nv};
    if (relay_exec(
            db,
            "INSERT INTO analytics.visits (visit_id, host_club_id, home_club_id, member_key, "
            "category, facility, arrive_on, depart_on, guests, status, requested_at, "
            "approved_at, lead_days) SELECT gen_random_uuid(), $1::uuid, "
            "('00000000-0000-4000-8000-' || lpad((g % 200)::text, 12, '0'))::uuid, "
            "md5(g::text) || md5((g % 5000)::text), (ARRAY['full','junior'])[1 + g % 2], "
            "(ARRAY['dining','rooms','golf'])[1 + g % 3], DATE '2025-01-01' + (g % 365), "
            "DATE '2025-01-01' + (g % 365) + (g % 3), g % 3, (ARRAY['completed', "
            "'checked_in','no_show','cancelled','declined'])[1 + g % 5], TIMESTAMPTZ "
            "'2024-12-01' + (g % 365) * interval '1 day', TIMESTAMPTZ '2024-12-01' + (g % "
            "365) * interval '1 day' + (g % 7200) * interval '1 second', g % 20 FROM "
            "generate_series(1, $2::int) g",
            2, p, &e) != 0 ||
        relay_exec(db,
                   "SELECT analytics.recompute_visit_days((SELECT jsonb_agg(DISTINCT "
                   "jsonb_build_array(host_club_id, home_club_id, arrive_on)) FROM "
                   "analytics.visits WHERE host_club_id = $1::uuid))",
                   1, p, &e) != 0) {
        fprintf(stderr, "analytics bench: load: %s\n", e.message);
        return 1;
    }
    svc_caller_t c = {0};
    uuid_v4(c.user_id);
    snprintf(c.club_id, sizeof c.club_id, "%s", big);
    snprintf(c.perms, sizeof c.perms, "club:read member:read");
    const svc_op_t *op = svc_find_op(&analytics_module, "club_report");
    double *ms = calloc((size_t)runs, sizeof *ms);
    int ok = 1;
    for (int i = 0; i < runs; i++) {
        json_t *in =
                   json_pack("{s:s, s:s, s:s}", "id", big, "period", "year", "date", "2025-06-30"),
               *out = NULL;
        int status = 0;
        double t0 = now_ms();
        svc_dispatch(&env, &analytics_module, op, &c, in, &status, &out, &e);
        ms[i] = now_ms() - t0;
        if (status != 200 || json_integer_value(json_object_get(out, "requests_in")) != visits)
            ok = 0;
        json_decref(in);
        json_decref(out);
    }
    qsort(ms, (size_t)runs, sizeof *ms, dbl_cmp);
    double p50 = ms[runs / 2], p99 = ms[(runs * 99) / 100 < runs ? (runs * 99) / 100 : runs - 1];
    printf("analytics-bench events=%ld ingest_eps=%.0f batch=%d visits=%ld runs=%d p50_ms=%.1f "
           "p99_ms=%.1f ok=%d\n",
           events, eps, batch, visits, runs, p50, p99, ok && eps >= 20000 && p99 < 200);
    free(ms);
    db_pool_close(db);
    return 0;
}
