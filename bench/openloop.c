/* openloop: an open-loop HTTP/1.1 load generator (issue 16 step 7; wrk2 is not in Debian).
 *
 *   openloop -u http://127.0.0.1:PORT/path -r RATE -d SECONDS [-c CONNS] [-t THREADS]
 *            [-H 'Name: value']... [-m METHOD] [-b BODY | -B FILE]
 *
 * -B FILE: one body a line (JSON); the run's n-th scheduled request (in schedule order, over all
 * connections) sends line n modulo the file's lines, so a file with at least RATE x SECONDS
 * lines sends each body at most once (e.g. each letter of a door pool checked in once).
 *
 * Requests are scheduled at a fixed arrival rate (RATE per second in all, spread evenly over
 * the connections: connection i of C sends its k-th request at t0 + (k*C + i) / RATE), whatever
 * the server does. Latency is measured from each request's SCHEDULED send time, not from when it
 * could be sent: a connection still waiting for its previous answer sends the next request as
 * soon as it can, and the wait counts (the coordinated-omission correction of wrk2). A server
 * that cannot keep up therefore shows growing latency and an achieved rate below the offered
 * one, instead of a closed-loop tool's quietly lowered load. The uncorrected latencies (from the
 * actual send) are printed beside them.
 *
 * Keep-alive connections, answers framed by Content-Length (what the service and
 * libmicrohttpd send); each thread runs its share of the connections with epoll. Every
 * request's latency is kept (RATE x SECONDS doubles) and sorted at the end. Prints one line:
 *   offered=R achieved=A sent=N done=N unsent=N errors=N p50=ms p99=ms p999=ms max=ms
 *   raw_p50=ms raw_p99=ms raw_p999=ms cpu_ms_per_req=ms
 * (cpu_ms_per_req: this generator's own CPU, user + system, per completed request: what the
 * load costs the box it shares with the server when neither is pinned);
 * (achieved: answers completed within the run's SECONDS, per second; unsent: requests scheduled
 * within the run that were never sent because their connection was still waiting when it
 * ended, i.e. missing from the percentiles, which would only have been worse; errors: answers
 * other than 2xx/3xx, and broken connections). Exit status 0, or 2 on bad
 * arguments, 1 when nothing could connect. Loopback only: it refuses any other host. */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADERS 8
#define RBUF 65536

typedef struct conn {
    int fd, idx, busy;
    long k;     /* requests this connection has sent: the next one is the run's k * conns + idx */
    double due; /* scheduled time of the next request (s since t0) */
    double sched, at; /* the request in flight: scheduled and actual send time */
    char rbuf[RBUF];
    size_t rlen;
} conn_t;

typedef struct worker {
    int first, n_conns; /* connection indexes first .. first + n_conns - 1 of total */
    pthread_t th;
    double *lat, *raw;
    size_t n_lat, cap;
    long sent, done, in_window, errors;
} worker_t;

static struct sockaddr_in g_addr;
static char **g_reqs; /* the requests: one, or one per line of -B FILE */
static size_t *g_req_lens, g_n_reqs;
static double g_rate, g_duration;
static int g_total_conns;
static struct timespec g_t0;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)(ts.tv_sec - g_t0.tv_sec) + (double)(ts.tv_nsec - g_t0.tv_nsec) / 1e9;
}

static int conn_open(conn_t *c) {
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&g_addr, sizeof g_addr) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->rlen = 0;
    c->busy = 0;
    return 0;
}

/* The length of a complete answer at the start of buf (head + Content-Length body), 0 when it
 * is not complete yet, -1 when it cannot be framed. *status gets the status code. */
static long answer_len(const char *buf, size_t n, int *status) {
    const char *end = memmem(buf, n, "\r\n\r\n", 4);
    if (!end) return n >= RBUF ? -1 : 0;
    size_t head = (size_t)(end - buf) + 4;
    *status = (n > 12) ? atoi(buf + 9) : 0;
    long body = -1;
    for (const char *p = buf; p < end;) {
        const char *eol = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
        if (!eol) break;
        if ((size_t)(eol - p) > 15 && strncasecmp(p, "Content-Length:", 15) == 0)
            body = strtol(p + 15, NULL, 10);
        p = eol + 2;
    }
    if (body < 0) return -1;
    if (head + (size_t)body > RBUF) return -1;
    return n >= head + (size_t)body ? (long)(head + (size_t)body) : 0;
}

static void record(worker_t *w, double sched, double at, double t) {
    if (w->n_lat == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        double *a = realloc(w->lat, cap * sizeof *a), *b = NULL;
        if (a) w->lat = a;
        if (a) b = realloc(w->raw, cap * sizeof *b);
        if (!a || !b) return;
        w->raw = b;
        w->cap = cap;
    }
    w->lat[w->n_lat] = t - sched;
    w->raw[w->n_lat++] = t - at;
}

static void send_next(worker_t *w, conn_t *c, double t) {
    c->sched = c->due;
    c->at = t;
    c->due += (double)g_total_conns / g_rate;
    size_t which = (size_t)(c->k++ * g_total_conns + c->idx) % g_n_reqs;
    const char *req = g_reqs[which];
    size_t off = 0, len = g_req_lens[which];
    while (off < len) {
        ssize_t k = send(c->fd, req + off, len - off, MSG_NOSIGNAL);
        if (k <= 0) {
            if (k < 0 && errno == EINTR) continue;
            w->errors++;
            close(c->fd);
            c->fd = -1;
            return;
        }
        off += (size_t)k;
    }
    c->busy = 1;
    w->sent++;
}

static void *run(void *ud) {
    worker_t *w = ud;
    conn_t *cs = calloc((size_t)w->n_conns, sizeof *cs);
    int ep = epoll_create1(0);
    if (!cs || ep < 0) return NULL;
    for (int i = 0; i < w->n_conns; i++) {
        conn_t *c = &cs[i];
        c->idx = w->first + i;
        c->due = (double)c->idx / g_rate;
        if (conn_open(c) != 0) {
            w->errors++;
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    struct epoll_event evs[256];
    for (;;) {
        double t = now_s();
        int sending = t < g_duration, busy = 0;
        double next = t + 0.01;
        for (int i = 0; i < w->n_conns; i++) {
            conn_t *c = &cs[i];
            if (c->fd < 0 && sending && c->due <= t) { /* broken: reconnect, keep the schedule */
                if (conn_open(c) == 0) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
                } else {
                    c->due += (double)g_total_conns / g_rate;
                    w->errors++;
                    continue;
                }
            }
            if (c->fd >= 0 && !c->busy && sending && c->due <= t && c->due < g_duration)
                send_next(w, c, t);
            if (c->busy) busy = 1;
            if (!c->busy && c->due < next) next = c->due;
        }
        if (!sending && (!busy || t > g_duration + 2.0)) break;
        int timeout_ms = (int)ceil((next - now_s()) * 1000.0);
        if (timeout_ms < 0) timeout_ms = 0;
        if (timeout_ms > 10) timeout_ms = 10;
        int n = epoll_wait(ep, evs, 256, timeout_ms);
        for (int k = 0; k < n; k++) {
            conn_t *c = evs[k].data.ptr;
            ssize_t got = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
            if (got <= 0) {
                if (got < 0 && errno == EINTR) continue;
                if (c->busy) w->errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                c->busy = 0;
                continue;
            }
            c->rlen += (size_t)got;
            int status = 0;
            long len = answer_len(c->rbuf, c->rlen, &status);
            if (len == 0) continue;
            double done_at = now_s();
            if (len < 0 || !c->busy) { /* unframable or unasked: drop the connection */
                w->errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                c->busy = 0;
                continue;
            }
            memmove(c->rbuf, c->rbuf + len, c->rlen - (size_t)len);
            c->rlen -= (size_t)len;
            c->busy = 0;
            w->done++;
            if (done_at <= g_duration) w->in_window++;
            if (status < 200 || status >= 400) w->errors++;
            record(w, c->sched, c->at, done_at);
        }
    }
    for (int i = 0; i < w->n_conns; i++)
        if (cs[i].fd >= 0) close(cs[i].fd);
    close(ep);
    free(cs);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p) {
    if (n == 0) return 0;
    size_t i = (size_t)ceil(p * (double)n) - 1;
    return v[i >= n ? n - 1 : i] * 1000.0;
}

/* One more request (method, path, headers and body: NULL for none) into g_reqs; 0 or -1. */
static int add_request(const char *method, const char *path, const char *host, int port,
                       const char *const *headers, int n_headers, const char *body) {
    size_t cap = 1024 + strlen(path) + (body ? strlen(body) : 0);
    for (int i = 0; i < n_headers; i++)
        cap += strlen(headers[i]) + 2;
    char *req = malloc(cap), **reqs = realloc(g_reqs, (g_n_reqs + 1) * sizeof *reqs);
    if (reqs) g_reqs = reqs;
    size_t *lens = reqs ? realloc(g_req_lens, (g_n_reqs + 1) * sizeof *lens) : NULL;
    if (lens) g_req_lens = lens;
    if (!req || !lens) {
        free(req);
        return -1;
    }
    int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n", method, path, host, port);
    for (int i = 0; i < n_headers; i++)
        n += snprintf(req + n, cap - (size_t)n, "%s\r\n", headers[i]);
    if (body)
        n += snprintf(req + n, cap - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                      strlen(body), body);
    else
        n += snprintf(req + n, cap - (size_t)n, "\r\n");
    g_reqs[g_n_reqs] = req;
    g_req_lens[g_n_reqs++] = (size_t)n;
    return 0;
}

/* One request per non-empty line of FILE (the line its body); 0, or -1 (none, or unreadable). */
static int load_bodies(const char *file, const char *method, const char *path, const char *host,
                       int port, const char *const *headers, int n_headers) {
    FILE *f = fopen(file, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (len > 0) rc = add_request(method, path, host, port, headers, n_headers, line);
    }
    free(line);
    fclose(f);
    return rc == 0 && g_n_reqs > 0 ? 0 : -1;
}

static int usage(void) {
    fprintf(stderr, "usage: openloop -u http://127.0.0.1:PORT/path -r RATE -d SECONDS [-c CONNS] "
                    "[-t THREADS] [-H 'Name: value']... [-m METHOD] [-b BODY | -B FILE]\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *url = NULL, *method = "GET", *body = NULL, *bodies = NULL, *headers[MAX_HEADERS];
    int n_headers = 0, threads = 1, opt;
    g_total_conns = 64;
    while ((opt = getopt(argc, argv, "u:r:d:c:t:H:m:b:B:")) != -1) {
        switch (opt) {
        case 'u':
            url = optarg;
            break;
        case 'r':
            g_rate = atof(optarg);
            break;
        case 'd':
            g_duration = atof(optarg);
            break;
        case 'c':
            g_total_conns = atoi(optarg);
            break;
        case 't':
            threads = atoi(optarg);
            break;
        case 'H':
            if (n_headers == MAX_HEADERS) return usage();
            headers[n_headers++] = optarg;
            break;
        case 'm':
            method = optarg;
            break;
        case 'b':
            body = optarg;
            break;
        case 'B':
            bodies = optarg;
            break;
        default:
            return usage();
        }
    }
    char host[64];
    int port = 0, off = 0;
    if (!url || g_rate <= 0 || g_duration <= 0 || g_total_conns < 1 || threads < 1 ||
        threads > g_total_conns || sscanf(url, "http://%63[0-9.]:%d%n", host, &port, &off) != 2 ||
        port <= 0 || port > 65535 || strncmp(host, "127.", 4) != 0)
        return usage();
    const char *path = url[off] ? url + off : "/";
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &g_addr.sin_addr) != 1) return usage();
    if (body && bodies) return usage();
    if (bodies ? load_bodies(bodies, method, path, host, port, headers, n_headers) != 0
               : add_request(method, path, host, port, headers, n_headers, body) != 0)
        return 1;

    worker_t *ws = calloc((size_t)threads, sizeof *ws);
    if (!ws) return 1;
    clock_gettime(CLOCK_MONOTONIC, &g_t0);
    for (int i = 0, first = 0; i < threads; i++) {
        ws[i].first = first;
        ws[i].n_conns = g_total_conns / threads + (i < g_total_conns % threads);
        first += ws[i].n_conns;
        pthread_create(&ws[i].th, NULL, run, &ws[i]);
    }
    long sent = 0, done = 0, in_window = 0, errors = 0;
    size_t total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ws[i].th, NULL);
        sent += ws[i].sent, done += ws[i].done, errors += ws[i].errors;
        in_window += ws[i].in_window;
        total += ws[i].n_lat;
    }
    double elapsed = now_s();
    double *lat = malloc((total + 1) * sizeof *lat), *raw = malloc((total + 1) * sizeof *raw);
    size_t k = 0;
    for (int i = 0; i < threads && lat && raw; i++) {
        memcpy(lat + k, ws[i].lat, ws[i].n_lat * sizeof *lat);
        memcpy(raw + k, ws[i].raw, ws[i].n_lat * sizeof *raw);
        k += ws[i].n_lat;
        free(ws[i].lat);
        free(ws[i].raw);
    }
    if (!lat || !raw) return 1;
    qsort(lat, total, sizeof *lat, cmp);
    qsort(raw, total, sizeof *raw, cmp);
    (void)elapsed;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
                    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
    long scheduled = (long)ceil(g_rate * g_duration);
    printf("offered=%.0f achieved=%.0f sent=%ld done=%ld unsent=%ld errors=%ld p50=%.2f "
           "p99=%.2f p999=%.2f max=%.2f raw_p50=%.2f raw_p99=%.2f raw_p999=%.2f "
           "cpu_ms_per_req=%.4f\n",
           g_rate, (double)in_window / g_duration, sent, done,
           scheduled > sent ? scheduled - sent : 0, errors, pct(lat, total, 0.50),
           pct(lat, total, 0.99), pct(lat, total, 0.999), total ? lat[total - 1] * 1000.0 : 0.0,
           pct(raw, total, 0.50), pct(raw, total, 0.99), pct(raw, total, 0.999),
           done > 0 ? cpu_ms / (double)done : 0.0);
    free(lat);
    free(raw);
    free(ws);
    for (size_t i = 0; i < g_n_reqs; i++)
        free(g_reqs[i]);
    free(g_reqs);
    free(g_req_lens);
    return done > 0 ? 0 : 1;
}
