/* test_log: JSON and text log lines, escaping, level filtering, thread-local context and whole
 * lines under concurrency. Needs no database. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "core/log.h"
#include "test.h"

/* Reads every line of f (from the start) into a NULL-terminated array; caller frees. */
static char **read_lines(FILE *f, size_t *n_out) {
    fflush(f);
    rewind(f);
    size_t n = 0, cap = 16;
    char **lines = calloc(cap, sizeof *lines);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        if (n + 1 >= cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof *lines);
        }
        lines[n++] = strdup(line);
    }
    free(line);
    lines[n] = NULL;
    *n_out = n;
    return lines;
}

static void free_lines(char **lines) {
    for (size_t i = 0; lines[i]; i++)
        free(lines[i]);
    free(lines);
}

static FILE *capture(int level, int json) {
    FILE *f = tmpfile();
    log_init(level, json, "svc");
    log_set_stream(f);
    log_clear_context();
    return f;
}

static void release(FILE *f) {
    log_set_stream(NULL);
    log_clear_context();
    fclose(f);
}

static json_t *parse_line(const char *line) {
    json_error_t je;
    return json_loads(line, JSON_REJECT_DUPLICATES, &je);
}

static const char *sfield(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static void test_json_fields(void) {
    FILE *f = capture(LOG_DEBUG, 1);
    log_set_context("req-1", "trace-1");
    log_info("hello %d", 42);
    size_t n;
    char **lines = read_lines(f, &n);
    release(f);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        size_t len = strlen(lines[0]);
        CHECK(len > 0 && lines[0][len - 1] == '\n');
        json_t *o = parse_line(lines[0]);
        CHECK(o != NULL);
        CHECK_STR(sfield(o, "level"), "info");
        CHECK_STR(sfield(o, "service"), "svc");
        CHECK_STR(sfield(o, "request_id"), "req-1");
        CHECK_STR(sfield(o, "trace_id"), "trace-1");
        CHECK_STR(sfield(o, "message"), "hello 42");
        const char *t = sfield(o, "time");
        CHECK(t && strlen(t) == 24 && t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[23] == 'Z');
        /* documented key order: time, level, service, request_id, trace_id, message */
        CHECK(strncmp(lines[0], "{\"time\":", 8) == 0);
        json_decref(o);
    }
    free_lines(lines);
}

static void test_ids_omitted_when_empty(void) {
    FILE *f = capture(LOG_DEBUG, 1);
    log_set_context("", NULL);
    log_warn("no ids");
    log_set_context(NULL, "only-trace");
    log_error("trace only");
    size_t n;
    char **lines = read_lines(f, &n);
    release(f);
    REQUIRE(n == 2);
    json_t *a = parse_line(lines[0]), *b = parse_line(lines[1]);
    CHECK(a && b);
    CHECK(json_object_get(a, "request_id") == NULL);
    CHECK(json_object_get(a, "trace_id") == NULL);
    CHECK_STR(sfield(a, "level"), "warn");
    CHECK(json_object_get(b, "request_id") == NULL);
    CHECK_STR(sfield(b, "trace_id"), "only-trace");
    CHECK_STR(sfield(b, "level"), "error");
    json_decref(a);
    json_decref(b);
    free_lines(lines);
}

static void test_escaping(void) {
    FILE *f = capture(LOG_DEBUG, 1);
    log_info("quote \" backslash \\ newline \n tab \t ctl \x01 bad \xff utf8 \xc3\xa9");
    size_t n;
    char **lines = read_lines(f, &n);
    release(f);
    CHECK_EQ_INT(n, 1); /* the newline in the message did not split the line */
    if (n == 1) {
        json_t *o = parse_line(lines[0]);
        CHECK(o != NULL);
        CHECK_STR(sfield(o, "message"),
                  "quote \" backslash \\ newline \n tab \t ctl \x01 bad ? utf8 \xc3\xa9");
        json_decref(o);
    }
    free_lines(lines);
}

static void test_extra_fields(void) {
    FILE *f = capture(LOG_DEBUG, 1);
    json_t *fields = json_pack("{s:s, s:i, s:s, s:b}", "route", "/v1/\"x\"", "status", 201,
                               "message", "must not override", "ok", 1);
    log_fields(LOG_INFO, fields, "request done");
    log_fields(LOG_INFO, NULL, "no fields");
    size_t n;
    char **lines = read_lines(f, &n);
    release(f);
    CHECK_EQ_INT(json_object_size(fields), 4); /* borrowed, unchanged */
    CHECK_EQ_INT(fields->refcount, 1);
    json_decref(fields);
    REQUIRE(n == 2);
    json_t *o = parse_line(lines[0]);
    CHECK(o != NULL);
    CHECK_STR(sfield(o, "message"), "request done");
    CHECK_STR(sfield(o, "route"), "/v1/\"x\"");
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "status")), 201);
    CHECK(json_is_true(json_object_get(o, "ok")));
    json_decref(o);
    free_lines(lines);
}

static void test_level_filter(void) {
    FILE *f = capture(LOG_WARN, 1);
    log_debug("d");
    log_info("i");
    log_warn("w");
    log_error("e");
    CHECK(!log_enabled(LOG_INFO));
    CHECK(log_enabled(LOG_WARN));
    size_t n;
    char **lines = read_lines(f, &n);
    release(f);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK(strstr(lines[0], "\"message\":\"w\"") != NULL);
        CHECK(strstr(lines[1], "\"message\":\"e\"") != NULL);
    }
    free_lines(lines);

    f = capture(LOG_ERROR, 1);
    log_warn("w");
    log_error("e");
    lines = read_lines(f, &n);
    release(f);
    CHECK_EQ_INT(n, 1);
    free_lines(lines);

    f = capture(LOG_DEBUG, 1);
    log_debug("d");
    lines = read_lines(f, &n);
    release(f);
    CHECK_EQ_INT(n, 1);
    free_lines(lines);
}

static void test_text_mode(void) {
    FILE *f = capture(LOG_DEBUG, 0);
    log_set_context("abcd", NULL);
    json_t *fields = json_pack("{s:s, s:i, s:s}", "key", "value", "n", 7, "spaced", "a b");
    log_fields(LOG_INFO, fields, "hello\nworld");
    json_decref(fields);
    log_clear_context();
    log_error("plain");
    size_t n;
    char **lines = read_lines(f, &n);
    release(f);
    REQUIRE(n == 2);
    /* "HH:MM:SS.mmm " prefix */
    const char *l = lines[0];
    CHECK(strlen(l) > 13 && l[2] == ':' && l[5] == ':' && l[8] == '.' && l[12] == ' ');
    CHECK_STR(l + 13, "INFO  [svc] hello\\nworld key=value n=7 spaced=\"a b\" (req=abcd)\n");
    CHECK_STR(lines[1] + 13, "ERROR [svc] plain\n");
    free_lines(lines);
}

typedef struct {
    int id;
    char seen_req[64];
} ctx_arg_t;

static void *ctx_thread(void *p) {
    ctx_arg_t *a = p;
    snprintf(a->seen_req, sizeof a->seen_req, "%s", log_request_id());
    log_set_context("thread-req", "thread-trace");
    return NULL;
}

static void test_context_thread_local(void) {
    log_set_context("main-req", "main-trace");
    ctx_arg_t a = {.id = 1};
    pthread_t t;
    pthread_create(&t, NULL, ctx_thread, &a);
    pthread_join(t, NULL);
    CHECK_STR(a.seen_req, ""); /* the new thread starts without context */
    CHECK_STR(log_request_id(), "main-req");
    CHECK_STR(log_trace_id(), "main-trace");
    log_clear_context();
    CHECK_STR(log_request_id(), "");
    CHECK_STR(log_trace_id(), "");
    /* long ids are truncated, not overflowed */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_set_context(big, big);
    CHECK(strlen(log_request_id()) < 200 && strlen(log_request_id()) > 0);
    log_clear_context();
}

#define PER_THREAD 1000

static void *spam_thread(void *p) {
    int id = *(int *)p;
    char req[32];
    snprintf(req, sizeof req, "req-%d", id);
    log_set_context(req, NULL);
    char pad[3000];
    memset(pad, 'a' + id, sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < PER_THREAD; i++)
        log_info("t%d line %d %s", id, i, pad);
    log_clear_context();
    return NULL;
}

static void test_threads_whole_lines(void) {
    FILE *f = capture(LOG_DEBUG, 1);
    pthread_t t[2];
    int ids[2] = {0, 1};
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, spam_thread, &ids[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    size_t n;
    char **lines = read_lines(f, &n);
    release(f);
    CHECK_EQ_INT(n, 2 * PER_THREAD);
    int count[2] = {0, 0}, bad = 0;
    int next[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        json_t *o = parse_line(lines[i]);
        if (!o) {
            bad++;
            continue;
        }
        const char *msg = sfield(o, "message");
        const char *req = sfield(o, "request_id");
        int id = -1, seq = -1;
        if (msg && sscanf(msg, "t%d line %d", &id, &seq) == 2 && (id == 0 || id == 1)) {
            char want[32];
            snprintf(want, sizeof want, "req-%d", id);
            if (!req || strcmp(req, want) != 0) bad++;
            if (seq != next[id]) bad++; /* per-thread order preserved */
            next[id] = seq + 1;
            count[id]++;
        } else {
            bad++;
        }
        json_decref(o);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(count[0], PER_THREAD);
    CHECK_EQ_INT(count[1], PER_THREAD);
    free_lines(lines);
}

static void test_long_message(void) {
    FILE *f = capture(LOG_DEBUG, 1);
    size_t big = 100000;
    char *s = malloc(big + 1);
    memset(s, 'z', big);
    s[big] = '\0';
    log_info("%s", s);
    free(s);
    size_t n;
    char **lines = read_lines(f, &n);
    release(f);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        json_t *o = parse_line(lines[0]);
        CHECK(o != NULL);
        const char *m = sfield(o, "message");
        CHECK(m && strlen(m) > 1000 && strlen(m) < big); /* truncated, still valid */
        json_decref(o);
    }
    free_lines(lines);
}

/* log_thread_name: "kind:name" as the thread's name (what ps -L, /proc and perf show), cut to
 * the kernel's 15 characters; another thread's name is untouched. */
static void *named_thread(void *p) {
    char *out = p;
    log_thread_name("c", "analytics_visits");
    prctl(PR_GET_NAME, out, 0, 0, 0);
    return NULL;
}

static void test_thread_name(void) {
    char mine[17] = "", seen[17] = "", after[17] = "";
    prctl(PR_GET_NAME, mine, 0, 0, 0);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, named_thread, seen) == 0);
    pthread_join(t, NULL);
    CHECK_STR(seen, "c:analytics_vis");
    prctl(PR_GET_NAME, after, 0, 0, 0);
    CHECK_STR(after, mine);
}

int main(void) {
    RUN(test_json_fields);
    RUN(test_ids_omitted_when_empty);
    RUN(test_escaping);
    RUN(test_extra_fields);
    RUN(test_level_filter);
    RUN(test_text_mode);
    RUN(test_context_thread_local);
    RUN(test_threads_whole_lines);
    RUN(test_long_message);
    RUN(test_thread_name);
    log_init(LOG_INFO, 1, "reciprocal");
    TEST_DONE();
}
