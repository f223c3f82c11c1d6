/* test_metrics: the metrics registry and its Prometheus text rendering, checked against exact
 * text and against `promtool check metrics` (Debian package prometheus). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/metrics.h"
#include "test.h"

#define PROMTOOL "/usr/bin/promtool"

/* Pipes text to `promtool check metrics`; returns its exit status and puts its output (stdout and
 * stderr) in out (caller frees). */
static int promtool_check(const char *text, char **out) {
    char path[] = "/tmp/test_metrics_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, PROMTOOL " check metrics > %s 2>&1", path);
    FILE *p = popen(cmd, "w");
    if (!p) {
        unlink(path);
        return -1;
    }
    fputs(text, p);
    int st = pclose(p);
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 65536);
    if (f && buf) {
        size_t n = fread(buf, 1, 65535, f);
        buf[n] = '\0';
    }
    if (f) fclose(f);
    unlink(path);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_simple_counter_exact(void) {
    metrics_reset();
    metrics_counter_declare("app_jobs_total", "Jobs done.", NULL);
    char *t = metrics_render();
    CHECK_STR(t, "# HELP app_jobs_total Jobs done.\n"
                 "# TYPE app_jobs_total counter\n"
                 "app_jobs_total 0\n");
    free(t);
    metrics_counter_add("app_jobs_total", NULL, 2);
    metrics_counter_add("app_jobs_total", NULL, 1.5);
    metrics_counter_add("app_jobs_total", NULL, -4); /* counters never go down: ignored */
    t = metrics_render();
    CHECK_STR(t, "# HELP app_jobs_total Jobs done.\n"
                 "# TYPE app_jobs_total counter\n"
                 "app_jobs_total 3.5\n");
    free(t);
    metrics_reset();
}

static void test_labels_and_escaping(void) {
    metrics_reset();
    metrics_counter_declare("app_events_total", "Events with \\ and\nnewline in help.",
                            "kind, source");
    const char *lv1[] = {"a\"b\\c\nd", "x", NULL};
    const char *lv2[] = {"plain", "y", NULL};
    metrics_counter_add("app_events_total", lv1, 1);
    metrics_counter_add("app_events_total", lv2, 5);
    metrics_counter_add("app_events_total", lv1, 1);
    const char *too_few[] = {"only", NULL};
    const char *too_many[] = {"a", "b", "c", NULL};
    metrics_counter_add("app_events_total", too_few, 1);  /* ignored */
    metrics_counter_add("app_events_total", too_many, 1); /* ignored */
    metrics_counter_add("app_events_total", NULL, 1);     /* ignored */
    metrics_counter_add("app_undeclared_total", lv2, 1);  /* ignored */
    char *t = metrics_render();
    CHECK_STR(t, "# HELP app_events_total Events with \\\\ and\\nnewline in help.\n"
                 "# TYPE app_events_total counter\n"
                 "app_events_total{kind=\"a\\\"b\\\\c\\nd\",source=\"x\"} 2\n"
                 "app_events_total{kind=\"plain\",source=\"y\"} 5\n");
    free(t);
    metrics_reset();
}

static void test_gauge_and_callback(void) {
    metrics_reset();
    metrics_gauge_declare("app_pool_connections", "Open pool connections.", "state");
    const char *idle[] = {"idle", NULL};
    metrics_gauge_set("app_pool_connections", idle, 7);
    metrics_gauge_set("app_pool_connections", idle, -2.25);
    char *t = metrics_render();
    CHECK(t && strstr(t, "app_pool_connections{state=\"idle\"} -2.25\n"));
    CHECK(t && strstr(t, "# TYPE app_pool_connections gauge\n"));
    free(t);
    metrics_reset();
}

static int callback_calls;
static void refresh(void *ud) {
    callback_calls++;
    const char *busy[] = {"busy", NULL};
    metrics_gauge_set("app_pool_connections", busy, *(double *)ud);
}

static void test_on_render_runs_first(void) {
    metrics_reset();
    metrics_gauge_declare("app_pool_connections", "Open pool connections.", "state");
    static double value = 3;
    callback_calls = 0;
    metrics_on_render(refresh, &value);
    char *t = metrics_render();
    CHECK_EQ_INT(callback_calls, 1);
    CHECK(t && strstr(t, "app_pool_connections{state=\"busy\"} 3\n"));
    free(t);
    metrics_reset(); /* drops the callback too */
    metrics_gauge_declare("app_pool_connections", "Open pool connections.", "state");
    t = metrics_render();
    CHECK_EQ_INT(callback_calls, 1);
    free(t);
    metrics_reset();
}

static void test_histogram(void) {
    metrics_reset();
    metrics_histogram_declare("app_op_duration_seconds", "Operation time.", "op");
    const char *lv[] = {"read", NULL};
    metrics_histogram_observe("app_op_duration_seconds", lv, 0.003);
    metrics_histogram_observe("app_op_duration_seconds", lv, 0.005); /* le is inclusive */
    metrics_histogram_observe("app_op_duration_seconds", lv, 0.2);
    metrics_histogram_observe("app_op_duration_seconds", lv, 20);
    char *t = metrics_render();
    const char *expect = "# HELP app_op_duration_seconds Operation time.\n"
                         "# TYPE app_op_duration_seconds histogram\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"0.0005\"} 0\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"0.001\"} 0\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"0.0025\"} 0\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"0.005\"} 2\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"0.01\"} 2\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"0.025\"} 2\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"0.05\"} 2\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"0.1\"} 2\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"0.25\"} 3\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"0.5\"} 3\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"1\"} 3\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"2.5\"} 3\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"5\"} 3\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"10\"} 3\n"
                         "app_op_duration_seconds_bucket{op=\"read\",le=\"+Inf\"} 4\n"
                         "app_op_duration_seconds_sum{op=\"read\"} 20.208\n"
                         "app_op_duration_seconds_count{op=\"read\"} 4\n";
    CHECK_STR(t, expect);
    free(t);
    metrics_reset();
}

static void test_declare_idempotent_and_invalid(void) {
    metrics_reset();
    metrics_counter_declare("app_x_total", "X.", "a");
    metrics_counter_declare("app_x_total", "Other help.", "a,b"); /* ignored */
    metrics_gauge_declare("bad name", "Bad.", NULL);              /* invalid metric name */
    metrics_gauge_declare("app_bad_labels", "Bad.", "ok,__reserved");
    metrics_histogram_declare("app_bad_seconds", "Bad.", "le");
    const char *lv[] = {"1", NULL};
    metrics_counter_add("app_x_total", lv, 1);
    char *t = metrics_render();
    CHECK_STR(t, "# HELP app_x_total X.\n# TYPE app_x_total counter\napp_x_total{a=\"1\"} 1\n");
    free(t);
    metrics_reset();
    t = metrics_render();
    CHECK_STR(t, "");
    free(t);
}

#define N_THREADS 4
#define N_ADDS 20000
static void *adder(void *arg) {
    (void)arg;
    const char *lv[] = {"t", NULL};
    for (int i = 0; i < N_ADDS; i++) {
        metrics_counter_add("app_ops_total", lv, 1);
        metrics_histogram_observe("app_op_seconds", lv, 0.001);
    }
    return NULL;
}

static void test_threads(void) {
    metrics_reset();
    metrics_counter_declare("app_ops_total", "Ops.", "k");
    metrics_histogram_declare("app_op_seconds", "Op time.", "k");
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        pthread_create(&th[i], NULL, adder, NULL);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    char *t = metrics_render();
    char want[128];
    snprintf(want, sizeof want, "app_ops_total{k=\"t\"} %d\n", N_THREADS * N_ADDS);
    CHECK(t && strstr(t, want));
    snprintf(want, sizeof want, "app_op_seconds_count{k=\"t\"} %d\n", N_THREADS * N_ADDS);
    CHECK(t && strstr(t, want));
    free(t);
    metrics_reset();
}

static void test_promtool_accepts(void) {
    REQUIRE(access(PROMTOOL, X_OK) == 0);
    metrics_reset();
    metrics_counter_declare("http_requests_total", "HTTP requests served.", "method,route,status");
    metrics_counter_declare("app_started_total", "Starts.", NULL);
    metrics_gauge_declare("app_pool_connections", "Open pool connections.", "state");
    metrics_gauge_declare("app_temperature_celsius", "Unlabelled gauge.", NULL);
    metrics_histogram_declare("http_request_duration_seconds", "Request latency.", "method,route");
    metrics_histogram_declare("app_idle_seconds", "Histogram without observations.", NULL);
    const char *c1[] = {"GET", "/api/v1/clubs/{id}", "200", NULL};
    const char *c2[] = {"POST", "weird \"route\"\\\nx", "500", NULL};
    metrics_counter_add("http_requests_total", c1, 3);
    metrics_counter_add("http_requests_total", c2, 1);
    metrics_counter_add("app_started_total", NULL, 1);
    const char *g[] = {"idle", NULL};
    metrics_gauge_set("app_pool_connections", g, 4);
    metrics_gauge_set("app_temperature_celsius", NULL, -3.5);
    const char *h1[] = {"GET", "/api/v1/clubs/{id}", NULL};
    for (int i = 0; i < 100; i++)
        metrics_histogram_observe("http_request_duration_seconds", h1, i * 0.001);
    char *t = metrics_render();
    REQUIRE(t != NULL);
    char *out = NULL;
    int rc = promtool_check(t, &out);
    CHECK_EQ_INT(rc, 0);
    CHECK_STR(out, "");
    if (rc != 0) printf("# promtool said: %s\n# text was:\n%s", out ? out : "", t);
    free(out);
    free(t);
    metrics_reset();
}

/* The checker itself must be able to fail: a counter without _total is a lint finding. */
static void test_promtool_rejects_bad_text(void) {
    REQUIRE(access(PROMTOOL, X_OK) == 0);
    char *out = NULL;
    int rc = promtool_check("# HELP app_jobs Jobs.\n# TYPE app_jobs counter\napp_jobs 1\n", &out);
    CHECK(rc != 0);
    CHECK(out && strlen(out) > 0);
    free(out);
    rc = promtool_check("app_jobs{a=\"unterminated} 1\n", &out);
    CHECK(rc != 0);
    free(out);
}

int main(void) {
    RUN(test_simple_counter_exact);
    RUN(test_labels_and_escaping);
    RUN(test_gauge_and_callback);
    RUN(test_on_render_runs_first);
    RUN(test_histogram);
    RUN(test_declare_idempotent_and_invalid);
    RUN(test_threads);
    RUN(test_promtool_accepts);
    RUN(test_promtool_rejects_bad_text);
    TEST_DONE();
}
