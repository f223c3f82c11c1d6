/* mail e2e bench (issue 13): event published -> mail accepted by the SMTP server, at a steady
 * RATE events/s for SECS seconds. In process, against the bench (or test) PostgreSQL, NATS and a
 * local aiosmtpd on SMTP_PORT: two clubs are created (member.create_club, the home club's
 * contact address unique to this run), the notification consumers (svc_consumers_start) and
 * delivery worker (notify_delivery_start) run as in `reciprocal serve`, and the bench publishes
 * one statement.issued envelope per tick on JetStream (events.statement.issued, as the outbox
 * relay does), each mailing the home club's contact address (member.get_club through svc_call).
 * Latency of a mail = messages.sent_at (committed right after the SMTP server accepted it) -
 * the wall-clock instant its event was published. Waits for every mail as long as mails keep
 * being accepted (a stall of STALL_S seconds with mails missing ends the wait: exit status 1, the
 * one "real error"; a slow run is reported, not failed). Prints one line:
 * mail-e2e-bench events= sent= rate= (offered, events/s) mps= (mails accepted per second, first
 * publish -> last accept) sustained_mps= (accepted during the second half of the publishing
 * window, per second: the dispatcher's rate once it runs, below the offered rate when a backlog
 * grows) drain_ms= (last accept - last publish) p50_ms= p99_ms= max_ms= late_p99_ms= (p99 of the
 * mails published in the last quarter: grows with a backlog) queued_p50_ms= queued_p99_ms=
 * (queued: event published -> its message row committed by the consumer), the stages' p50/p99 and
 * cpu_ms_per_mail (the bench process, up to the last mail recorded).
 * Needs RECIPROCAL_DATABASE_URL (or RECIPROCAL_TEST_DATABASE_URL) and RECIPROCAL_NATS_URL (or
 * RECIPROCAL_TEST_NATS_URL), migrated. Usage: bench-mail-e2e SMTP_PORT [RATE [SECS]] (200 10) */
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/config.h"
#include "core/consumer.h"
#include "core/db.h"
#include "core/log.h"
#include "core/outbox.h"
#include "core/uuid.h"
#include "core/service.h"
#include "services/member/member.h"
#include "services/notification/delivery.h"
#include "services/notification/notification.h"

/* the wait for the mails ends when none was accepted (or recorded) for this long */
#define STALL_S 30

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- stage timestamps (the delivery worker's and the consumer's seams) ---------------------- */

typedef struct mark {
    char id[40];
    char stage; /* 'l' leased, 'a' accepted */
    double t;
} mark_t;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static mark_t *g_marks;
static int g_n_marks, g_cap_marks, g_n_accepted;
static double *g_commits; /* instants the statements consumer committed a batch */
static int g_n_commits, g_cap_commits;

static void on_trace(const char *id, const char *stage) {
    double t = wall_s();
    pthread_mutex_lock(&g_mu);
    if (g_n_marks < g_cap_marks) {
        mark_t *mk = &g_marks[g_n_marks++];
        snprintf(mk->id, sizeof mk->id, "%s", id);
        mk->stage = stage[0];
        mk->t = t;
    }
    if (stage[0] == 'a') g_n_accepted++;
    pthread_mutex_unlock(&g_mu);
}

static int on_commit(const char *durable) {
    double t = wall_s();
    pthread_mutex_lock(&g_mu);
    if (strcmp(durable, "notification_statements") == 0 && g_n_commits < g_cap_commits)
        g_commits[g_n_commits++] = t;
    pthread_mutex_unlock(&g_mu);
    return 0;
}

static int dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* marks by message id, stage, instant (sorted once the run is over, then searched) */
static int mark_key_cmp(const mark_t *x, const char *id, char stage) {
    int c = strcmp(x->id, id);
    return c ? c : (x->stage > stage) - (x->stage < stage);
}

static int mark_cmp(const void *a, const void *b) {
    const mark_t *x = a, *y = b;
    int c = mark_key_cmp(x, y->id, y->stage);
    return c ? c : dbl_cmp(&x->t, &y->t);
}

/* The first mark of message id at stage (g_marks sorted), or -1. */
static double mark_of(const char *id, char stage) {
    int lo = 0, hi = g_n_marks;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (mark_key_cmp(&g_marks[mid], id, stage) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g_n_marks && mark_key_cmp(&g_marks[lo], id, stage) == 0 ? g_marks[lo].t : -1;
}

/* The first commit of the statements consumer at or after t (its transaction began at t;
 * g_commits sorted). */
static double commit_after(double t) {
    int lo = 0, hi = g_n_commits;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (g_commits[mid] < t - 0.002)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g_n_commits ? g_commits[lo] : -1;
}

/* the published events by id: its index in publishing order */
typedef struct event_ref {
    char id[40];
    int i;
} event_ref_t;

static int event_cmp(const void *a, const void *b) {
    return strcmp(((const event_ref_t *)a)->id, ((const event_ref_t *)b)->id);
}

static int create_club(const svc_env_t *env, const svc_caller_t *na, const char *name,
                       const char *contact, char id[40]) {
    char slug[64];
    snprintf(slug, sizeof slug, "mail-e2e-%d-%s", (int)getpid(), name);
    json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "name", name, "slug", slug, "timezone",
                           "UTC", "contact_email", contact, "address", "country", "GB"),
           *out = NULL;
    int status = 0;
    err_t e = {0};
    svc_dispatch(env, &member_module, svc_find_op(&member_module, "create_club"), na, in, &status,
                 &out, &e);
    json_decref(in);
    if (status == 201) snprintf(id, 40, "%s", json_string_value(json_object_get(out, "id")));
    json_decref(out);
    if (status != 201) fprintf(stderr, "create_club: %d %s\n", status, e.message);
    return status == 201 ? 0 : -1;
}

/* The mails of this run sent so far (lat NULL), or their latencies (sent_at - published) into
 * lat, the stages into st and the instant each one's event was published into at. refs: the
 * events by id (sorted). */
static int sent_latencies(db_pool_t *db, const char *to, const event_ref_t *refs, const double *pub,
                          int n, double *lat, double *qlat, double (*st)[3], double *at) {
    static const db_scope_t sys = {NULL, NULL, 0, 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    if (db_begin(db, &sys, &tx, &e) != 0) return -1;
    const char *p[] = {to};
    PGresult *r = db_exec(tx,
                          lat ? "SELECT event_id::text, extract(epoch FROM sent_at), extract(epoch "
                                "FROM created_at), id::text FROM notification.messages WHERE "
                                "recipient = $1 AND status = 'sent'"
                              : "SELECT count(*) FROM notification.messages WHERE recipient = $1 "
                                "AND status = 'sent'",
                          1, p, &e);
    db_rollback(tx);
    if (!r) return -1;
    int k = lat ? 0 : atoi(PQgetvalue(r, 0, 0));
    for (int i = 0; lat && i < PQntuples(r); i++) {
        event_ref_t key = {.i = 0};
        snprintf(key.id, sizeof key.id, "%s", PQgetvalue(r, i, 0));
        const event_ref_t *ev = bsearch(&key, refs, (size_t)n, sizeof *refs, event_cmp);
        if (!ev) continue;
        double t = pub[ev->i], created = atof(PQgetvalue(r, i, 2));
        const char *mid = PQgetvalue(r, i, 3);
        st[k][0] = (commit_after(created) - t) * 1e3;
        st[k][1] = (mark_of(mid, 'l') - t) * 1e3;
        st[k][2] = (mark_of(mid, 'a') - t) * 1e3;
        qlat[k] = (created - t) * 1e3;
        at[k] = t;
        lat[k++] = (atof(PQgetvalue(r, i, 1)) - t) * 1e3;
    }
    PQclear(r);
    return k;
}

/* The q-quantile of v[0..k-1] (sorted in place), 0 when empty. */
static double quantile(double *v, int k, double q) {
    if (k < 1) return 0;
    qsort(v, (size_t)k, sizeof *v, dbl_cmp);
    int i = (int)(k * q);
    return v[i < k ? i : k - 1];
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench-mail-e2e SMTP_PORT [RATE [SECS]]\n");
        return 2;
    }
    int rate = argc > 2 ? atoi(argv[2]) : 200, secs = argc > 3 ? atoi(argv[3]) : 10;
    const char *url = getenv("RECIPROCAL_DATABASE_URL");
    if (!url) url = getenv("RECIPROCAL_TEST_DATABASE_URL");
    const char *nats = getenv("RECIPROCAL_NATS_URL");
    if (!nats) nats = getenv("RECIPROCAL_TEST_NATS_URL");
    log_init(LOG_ERROR, 0, "bench-mail-e2e");
    err_t e = {0};
    cfg_t cfg;
    svc_settings_t set;
    if (!url || !nats || rate < 1 || rate > 5000 || secs < 1 || sodium_init() < 0 ||
        cfg_load(&cfg, NULL, &e) != 0 || svc_settings_load(&set, NULL, &e) != 0) {
        fprintf(stderr, "bench-mail-e2e: setup: %s\n", e.message);
        return 2;
    }
    notification_settings_t *ns = svc_settings_edit(&set, &notification_module);
    snprintf(ns->smtp_url, sizeof ns->smtp_url, "smtp://127.0.0.1:%d", atoi(argv[1]));
    snprintf(ns->smtp_tls, sizeof ns->smtp_tls, "off");
    db_pool_t *db = db_pool_open(url, 12, &e);
    bus_t *bus =
        db ? bus_connect_auth(nats, "bench-mail-e2e", cfg.nats_user, cfg.nats_password, &e) : NULL;
    if (!bus || outbox_ensure_stream(bus, 720LL * 3600, &e) != 0) {
        fprintf(stderr, "bench-mail-e2e: %s\n", e.message);
        return 1;
    }
    svc_env_t env = {.cfg = &cfg, .db = db, .bus = bus, .settings = &set};
    svc_caller_t na = {.network_admin = 1};
    snprintf(na.perms, sizeof na.perms, "*");
    char home[40], host[40], to[128];
    snprintf(to, sizeof to, "treasurer-%d-%ld@mail-e2e.example", (int)getpid(), (long)time(NULL));
    if (create_club(&env, &na, "home", to, home) != 0 ||
        create_club(&env, &na, "host", "host@mail-e2e.example", host) != 0)
        return 1;
    g_cap_marks = 4 * rate * secs + 1000;
    g_cap_commits = 4 * rate * secs + 1000;
    g_marks = calloc((size_t)g_cap_marks, sizeof *g_marks);
    g_commits = calloc((size_t)g_cap_commits, sizeof *g_commits);
    if (!g_marks || !g_commits) return 1;
    notify_delivery_trace = on_trace;
    svc_consumer_after_commit = on_commit;
    svc_consumers_t *cons = svc_consumers_start(&env, &notification_module, &e);
    if (!cons || notify_delivery_start(&env, &e) != 0) {
        fprintf(stderr, "bench-mail-e2e: start: %s\n", e.message);
        return 1;
    }
    int n = rate * secs;
    char(*eids)[40] = calloc((size_t)n, sizeof *eids);
    double *pub = calloc((size_t)n, sizeof *pub), *lat = calloc((size_t)n, sizeof *lat),
           *qlat = calloc((size_t)n, sizeof *qlat);
    double(*stages)[3] = calloc((size_t)n, sizeof *stages);
    if (!eids || !pub || !lat || !qlat || !stages) return 1;
    double t0 = wall_s();
    for (int i = 0; i < n; i++) {
        double due = t0 + (double)i / rate, now = wall_s();
        if (due > now) {
            struct timespec ts = {(time_t)(due - now),
                                  (long)((due - now - (time_t)(due - now)) * 1e9)};
            nanosleep(&ts, NULL);
        }
        char sid[40];
        uuid_v4(eids[i]);
        uuid_v4(sid);
        json_t *env_j =
            json_pack("{s:s, s:s, s:s, s:s, s:i, s:{s:s, s:s, s:s, s:s}, s:{}}", "id", eids[i],
                      "type", "statement.issued", "source", "bench", "tenant_id", host, "version",
                      1, "data", "statement_id", sid, "host_club_id", host, "home_club_id", home,
                      "status", "issued", "metadata");
        char *payload = json_dumps(env_j, JSON_COMPACT);
        json_decref(env_j);
        pub[i] = wall_s();
        if (!payload || bus_js_publish(bus, "events.statement.issued", eids[i], payload,
                                       strlen(payload), NULL, &e) != 0)
            fprintf(stderr, "publish: %s\n", e.message);
        free(payload);
    }
    double pub_s = wall_s() - t0, t_end = wall_s();
    /* the accepts as they happen (no query: polling the messages table would add its own load
     * to PostgreSQL's CPU per mail), then the rows until every outcome is recorded; as long as
     * mails keep being accepted (or recorded), however slowly: only a stall ends the wait */
    int sent = 0, last = -1, idle = 0;
    for (int accepted = 0; accepted < n && idle < STALL_S * 10; idle++) {
        pthread_mutex_lock(&g_mu);
        accepted = g_n_accepted;
        pthread_mutex_unlock(&g_mu);
        if (accepted != last) idle = 0;
        last = accepted;
        if (accepted < n) usleep(100 * 1000);
    }
    for (last = -1, idle = 0; idle < STALL_S * 10; idle++) {
        sent = sent_latencies(db, to, NULL, NULL, n, NULL, NULL, NULL, NULL);
        if (sent >= n) break;
        if (sent != last) idle = 0;
        last = sent;
        usleep(100 * 1000);
    }
    /* the bench's CPU up to here: the service's work, not the analysis below */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_ms = (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3 +
                    (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
    notify_delivery_stop();
    svc_consumers_stop(cons);
    event_ref_t *refs = calloc((size_t)n, sizeof *refs);
    double *at = calloc((size_t)n, sizeof *at);
    if (!refs || !at) return 1;
    for (int i = 0; i < n; i++) {
        snprintf(refs[i].id, sizeof refs[i].id, "%s", eids[i]);
        refs[i].i = i;
    }
    qsort(refs, (size_t)n, sizeof *refs, event_cmp);
    qsort(g_marks, (size_t)g_n_marks, sizeof *g_marks, mark_cmp);
    qsort(g_commits, (size_t)g_n_commits, sizeof *g_commits, dbl_cmp);
    int k = sent_latencies(db, to, refs, pub, n, lat, qlat, stages, at);
    if (k < 1) k = 0;
    /* the accepts: the first and last, and how many in the second half of the publishing */
    double first_a = 0, last_a = 0, half = t0 + pub_s / 2;
    int in_half = 0;
    for (int i = 0; i < g_n_marks; i++) {
        if (g_marks[i].stage != 'a') continue;
        double t = g_marks[i].t;
        if (first_a == 0 || t < first_a) first_a = t;
        if (t > last_a) last_a = t;
        if (t >= half && t < t_end) in_half++;
    }
    /* the mails published in the last quarter of the run */
    double *late = calloc((size_t)(k ? k : 1), sizeof *late);
    int n_late = 0;
    for (int i = 0; late && i < k; i++)
        if (at[i] >= t0 + pub_s * 0.75) late[n_late++] = lat[i];
    printf("mail-e2e-bench events=%d sent=%d rate=%.0f mps=%.0f sustained_mps=%.0f drain_ms=%.0f "
           "p50_ms=%.0f p99_ms=%.0f max_ms=%.0f late_p99_ms=%.0f queued_p50_ms=%.0f "
           "queued_p99_ms=%.0f",
           n, k, n / pub_s, last_a > t0 ? g_n_accepted / (last_a - t0) : 0,
           t_end > half ? in_half / (t_end - half) : 0, last_a > t_end ? (last_a - t_end) * 1e3 : 0,
           quantile(lat, k, 0.5), quantile(lat, k, 0.99), quantile(lat, k, 1),
           late ? quantile(late, n_late, 0.99) : 0, quantile(qlat, k, 0.5),
           quantile(qlat, k, 0.99));
    free(late);
    /* the stages: consumer's commit, the lease, the SMTP accept (missing marks are < 0) */
    static const char *names[3] = {"committed", "leased", "accepted"};
    for (int s = 0; s < 3 && k > 0; s++) {
        for (int i = 0; i < k; i++)
            qlat[i] = stages[i][s];
        printf(" %s_p50_ms=%.0f %s_p99_ms=%.0f", names[s], quantile(qlat, k, 0.5), names[s],
               quantile(qlat, k, 0.99));
    }
    printf(" cpu_ms_per_mail=%.2f\n", k ? cpu_ms / k : 0);
    if (k < n)
        fprintf(stderr, "bench-mail-e2e: %d of %d mails sent, none for %d s\n", k, n, STALL_S);
    free(refs);
    free(at);
    free(eids);
    free(pub);
    free(lat);
    free(qlat);
    free(stages);
    free(g_marks);
    free(g_commits);
    bus_close(bus);
    db_pool_close(db);
    return k == n ? 0 : 1;
}
