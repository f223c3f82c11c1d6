/* mail bench (issue 13): mails per second from the notification service's SMTP client
 * (multipart text + HTML) to a local aiosmtpd writing a Maildir
 * (tests/services/notification/smtp_server.py, started by bench/run.sh). THREADS senders share
 * N mails, like the delivery worker's senders; MODE reuse (default): each sender keeps one SMTP
 * session (notify_smtp_session_send, the worker's path), fresh: one connection per mail
 * (notify_smtp_send, the path before the session). Prints one line:
 * mail-bench mode= sent= failed= threads= secs= rate= p50_ms= p99_ms=
 * Usage: bench-mail PORT N THREADS [reuse|fresh] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "services/notification/smtp.h"

static char g_url[64];
static int g_n;
static atomic_int g_next, g_failed;
static int g_reuse = 1;
static double *g_lat;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *sender(void *ud) {
    (void)ud;
    const notify_smtp_t conf = {.url = g_url, .tls = NOTIFY_TLS_OFF, .timeout_s = 10};
    const notify_mail_t m = {"Reciprocal Clubs <no-reply@reciprocal.example>",
                             "member@example.org",
                             "Your visit to Sample Host Club is confirmed",
                             "Hello Ada,\n\nSample Host Club confirmed your visit.\n",
                             "<p>Hello Ada,</p><p><strong>Sample Host Club</strong> confirmed "
                             "your visit.</p>",
                             NULL,
                             NULL};
    notify_smtp_session_t *ss = g_reuse ? notify_smtp_session_new() : NULL;
    for (int i; (i = atomic_fetch_add(&g_next, 1)) < g_n;) {
        err_t e = {0};
        double t0 = now_ms();
        int rc = ss ? notify_smtp_session_send(ss, &conf, &m, &e) : notify_smtp_send(&conf, &m, &e);
        if (rc != 0) atomic_fetch_add(&g_failed, 1);
        g_lat[i] = now_ms() - t0;
    }
    notify_smtp_session_free(ss);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: bench-mail PORT N THREADS [reuse|fresh]\n");
        return 2;
    }
    snprintf(g_url, sizeof g_url, "smtp://127.0.0.1:%d", atoi(argv[1]));
    g_n = atoi(argv[2]);
    int threads = atoi(argv[3]);
    if (argc == 5) g_reuse = strcmp(argv[4], "fresh") != 0;
    if (g_n < 1 || threads < 1 || threads > 64) return 2;
    g_lat = calloc((size_t)g_n, sizeof *g_lat);
    pthread_t th[64];
    if (!g_lat) return 1;
    double t0 = now_ms();
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, sender, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double secs = (now_ms() - t0) / 1e3;
    qsort(g_lat, (size_t)g_n, sizeof *g_lat, cmp);
    int failed = atomic_load(&g_failed);
    printf("mail-bench mode=%s sent=%d failed=%d threads=%d secs=%.2f rate=%.0f p50_ms=%.1f "
           "p99_ms=%.1f\n",
           g_reuse ? "reuse" : "fresh", g_n - failed, failed, threads, secs, (g_n - failed) / secs,
           g_lat[g_n / 2], g_lat[(size_t)(g_n * 0.99)]);
    free(g_lat);
    return failed ? 1 : 0;
}
