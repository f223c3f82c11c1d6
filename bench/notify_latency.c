/* notification end-to-end latency bench (issue 13): event -> mail accepted by the SMTP server, at
 * a steady rate, through the running service (bench/run.sh's `reciprocal serve`, its SMTP URL
 * pointed at a local aiosmtpd). RATE statement.paid events per second for SECS seconds are
 * written to the reciprocal outbox (each in its own transaction, as the service writes them);
 * the relay publishes them on JetStream, the notification consumer resolves the home club's
 * contact address (member.get_club over NATS) and queues one mail each, the delivery worker
 * sends them over SMTP and records sent_at right after the server accepted the mail. Latency =
 * sent_at - the event's insert (one host clock). Prints one line:
 * notify-latency-bench events= sent= rate= secs= send_rate= p50_ms= p99_ms= max_ms= unsent=
 * Usage: bench-notify-latency RATE SECS (environment: RECIPROCAL_DATABASE_URL, as run.sh exports)
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/outbox.h"
#include "core/service.h"
#include "services/member/member.h"

static double wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_until(double ms) {
    double d = ms - wall_ms();
    if (d <= 0) return;
    struct timespec ts = {(time_t)(d / 1000),
                          (long)((d - (double)(time_t)(d / 1000) * 1000) * 1e6)};
    nanosleep(&ts, NULL);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A club with a contact address (the statement mails' recipient), created as the member service
 * does (create_club as a network administrator). */
static int make_club(const svc_env_t *env, const char *tag, char id[40], err_t *e) {
    svc_caller_t na = {.network_admin = 1};
    snprintf(na.perms, sizeof na.perms, "*");
    snprintf(na.user_id, sizeof na.user_id, "00000000-0000-4000-8000-0000000000be");
    char slug[64], mail[96];
    snprintf(slug, sizeof slug, "bench-notify-%s-%d", tag, (int)getpid());
    snprintf(mail, sizeof mail, "treasurer-%s-%d@bench.example", tag, (int)getpid());
    json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "name", slug, "slug", slug, "timezone",
                           "UTC", "contact_email", mail, "address", "country", "GB");
    json_t *out = NULL;
    int status = 0;
    svc_dispatch(env, &member_module, svc_find_op(&member_module, "create_club"), &na, in, &status,
                 &out, e);
    json_decref(in);
    if (status == 201) snprintf(id, 40, "%s", json_string_value(json_object_get(out, "id")));
    json_decref(out);
    return status == 201 ? 0 : -1;
}

int main(int argc, char **argv) {
    int rate = argc > 1 ? atoi(argv[1]) : 200, secs = argc > 2 ? atoi(argv[2]) : 10;
    log_init(LOG_ERROR, 0, "bench-notify-latency");
    const char *url = getenv("RECIPROCAL_DATABASE_URL");
    err_t e = {0};
    cfg_t cfg;
    svc_settings_t set;
    if (!url || rate < 1 || secs < 1 || sodium_init() < 0 || cfg_load(&cfg, NULL, &e) != 0 ||
        svc_settings_load(&set, NULL, &e) != 0) {
        fprintf(stderr, "notify latency bench: no database or configuration: %s\n", e.message);
        return 1;
    }
    db_pool_t *db = db_pool_open(url, 2, &e);
    if (!db) {
        fprintf(stderr, "notify latency bench: %s\n", e.message);
        return 1;
    }
    svc_env_t env = {.cfg = &cfg, .db = db, .settings = &set};
    char home[40], host[40];
    if (make_club(&env, "home", home, &e) != 0 || make_club(&env, "host", host, &e) != 0) {
        fprintf(stderr, "notify latency bench: create_club: %s\n", e.message);
        return 1;
    }
    int n = rate * secs;
    char(*ids)[40] = calloc((size_t)n, sizeof *ids);
    double *t0 = calloc((size_t)n, sizeof *t0), *lat = calloc((size_t)n, sizeof *lat);
    if (!ids || !t0 || !lat) return 1;
    db_scope_t scope = {.club_id = host, .network_admin = 1, .relay = 1};
    double start = wall_ms();
    for (int i = 0; i < n; i++) {
        sleep_until(start + 1000.0 * i / rate);
        char sid[40];
        uint32_t r = randombytes_random();
        snprintf(sid, sizeof sid, "5e000000-0000-4000-8000-%04x%08x", (unsigned)(i & 0xffff), r);
        json_t *data = json_pack("{s:s, s:s, s:s, s:s}", "statement_id", sid, "home_club_id", home,
                                 "host_club_id", host, "status", "paid");
        db_tx_t *tx = NULL;
        t0[i] = wall_ms();
        int rc = db_begin(db, &scope, &tx, &e);
        if (rc == 0)
            rc = db_tx_finish(&tx,
                              outbox_add(tx, "reciprocal", "statement.paid", "bench", host, data,
                                         NULL, ids[i], &e),
                              NULL, &e);
        json_decref(data);
        if (rc != 0) {
            fprintf(stderr, "notify latency bench: outbox: %s\n", e.message);
            return 1;
        }
    }
    double send_secs = (wall_ms() - start) / 1000.0;
    /* wait for every mail (at most 300 s after the last event) */
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_string(ids[i]));
    char *idlist = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    const char *p[] = {idlist};
    db_scope_t na = {.network_admin = 1, .relay = 1};
    long long sent = 0;
    for (int w = 0; w < 3000 && sent < n; w++) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
        PGresult *r = db_read(db, &na,
                              "SELECT count(*) FROM notification.messages WHERE status = 'sent' "
                              "AND event_id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)",
                              1, p, &e);
        if (r) sent = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PGresult *r = db_read(db, &na,
                          "SELECT event_id::text, extract(epoch FROM sent_at) * 1000 FROM "
                          "notification.messages WHERE status = 'sent' AND event_id IN (SELECT "
                          "jsonb_array_elements_text($1::jsonb)::uuid)",
                          1, p, &e);
    int m = 0;
    for (int k = 0; r && k < PQntuples(r); k++) {
        for (int i = 0; i < n; i++)
            if (strcmp(ids[i], PQgetvalue(r, k, 0)) == 0) {
                lat[m++] = atof(PQgetvalue(r, k, 1)) - t0[i];
                break;
            }
    }
    PQclear(r);
    free(idlist);
    qsort(lat, (size_t)m, sizeof *lat, cmp);
    double p50 = m ? lat[m / 2] : 0, p99 = m ? lat[(size_t)((m - 1) * 0.99)] : 0,
           mx = m ? lat[m - 1] : 0;
    printf("notify-latency-bench events=%d sent=%d rate=%d secs=%d send_rate=%.0f p50_ms=%.0f "
           "p99_ms=%.0f max_ms=%.0f unsent=%d\n",
           n, m, rate, secs, n / send_secs, p50, p99, mx, n - m);
    free(ids);
    free(t0);
    free(lat);
    db_pool_close(db);
    return m == n ? 0 : 1;
}
