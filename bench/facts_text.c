/* bench/facts_text.c: the analytics consumers' CPU per event in process, without PostgreSQL and
 * NATS (docs/analytics.md "Ingest speed: facts as text"): EVENTS envelopes as bench/ingest_e2e.c
 * publishes them (visit.requested with every attribute and visit.checked_out of the same visit,
 * 50 partner clubs) taken in batches of 256 the way a consumer takes them: each envelope parsed
 * (json_loadb, as core/consumer.c), its fact made, the batch's JSON text for analytics.ingest
 * written, everything freed. Two paths, interleaved ROUNDS times: "jansson" (s22's: a jansson
 * object per fact, completed by the look-ups, jsonx_dump; tests/services/analytics/
 * facts_reference.h) and "text" (analytics_batch_add + analytics_batch_text); plus the parse
 * alone with and without JSON_REJECT_DUPLICATES. Thread CPU time. Prints per round:
 * facts-text round=.. jansson_us=.. text_us=.. parse_us=.. parse_nodup_us=.. (µs per event).
 * Usage: facts_text [EVENTS [ROUNDS]] (20000 5); exit status 1 when the two texts' lengths
 * differ. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/services/analytics/facts_reference.h"
#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/service.h"
#include "core/strbuf.h"
#include "core/uuid.h"
#include "services/analytics/analytics.h"
#include "services/analytics/ingest.h"

#define BATCH 256

static double cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static char *envelope(const char *type, const char *host, const char *home, const char *visit,
                      const char *member, int day) {
    char id[40], arrive[16], at[40];
    uuid_v4(id);
    struct tm tm = {.tm_year = 125, .tm_mon = 0, .tm_mday = 1 + day};
    timegm(&tm);
    strftime(arrive, sizeof arrive, "%Y-%m-%d", &tm);
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
    json_t *env =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:{}}", "id", id, "type", type, "source",
                  "bench", "tenant_id", home, "timestamp", at, "version", 1, "data", d, "metadata");
    char *s = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    return s;
}

/* The consumer's view of a parsed envelope (core/consumer.c parse). */
static svc_event_t event_of(json_t *env) {
    const char *tenant = json_string_value(json_object_get(env, "tenant_id"));
    return (svc_event_t){.id = json_string_value(json_object_get(env, "id")),
                         .type = json_string_value(json_object_get(env, "type")),
                         .tenant_id = tenant,
                         .correlation_id = "",
                         .data = json_object_get(env, "data"),
                         .envelope = env};
}

/* One pass over the n envelopes: mode 0 jansson, 1 text, 2 parse only, 3 parse without the
 * duplicate check. Returns µs of CPU per event; *bytes the texts' total length (a check). */
static double pass(const svc_call_t *call, char **msgs, long n, int mode, size_t *bytes) {
    double t0 = cpu_us();
    *bytes = 0;
    for (long off = 0; off < n; off += BATCH) {
        long m = n - off < BATCH ? n - off : BATCH;
        json_t *envs[BATCH], *known = json_object(), *tzs = json_object(), *facts = json_array();
        analytics_batch_t *b = mode == 1 ? analytics_batch_new() : NULL;
        err_t e = {0};
        for (long i = 0; i < m; i++) {
            const char *t = msgs[off + i];
            envs[i] = json_loadb(t, strlen(t), mode == 3 ? 0 : JSON_REJECT_DUPLICATES, NULL);
            svc_event_t ev = event_of(envs[i]);
            json_t *fact = NULL;
            if (mode == 0 && ref_fact(&ev, &fact, &e) == 0 && fact)
                json_array_append_new(facts, fact);
            if (mode == 1 && analytics_batch_add(call, b, &ev, &e) != 0) fprintf(stderr, "add\n");
        }
        char *text = NULL;
        if (mode == 0 && ref_resolve(facts, known, tzs, &e) == 0) text = jsonx_dump(facts);
        if (mode == 1) {
            strbuf_t out = {0};
            if (analytics_batch_text(call, b, known, tzs, &out, &e) == 0) text = strbuf_take(&out);
            strbuf_free(&out);
        }
        if (text) *bytes += strlen(text);
        free(text);
        analytics_batch_free(b);
        json_decref(facts);
        json_decref(known);
        json_decref(tzs);
        for (long i = 0; i < m; i++)
            json_decref(envs[i]);
    }
    return (cpu_us() - t0) / (double)n;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 20000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    log_init(LOG_ERROR, 0, "bench-facts-text");
    if (sodium_init() < 0) return 1;
    static cfg_t cfg;
    static svc_env_t env;
    svc_caller_t caller = {0};
    cfg.bus_key.set = 1;
    randombytes_buf(cfg.bus_key.key, sizeof cfg.bus_key.key);
    env.cfg = &cfg;
    g_ref_env = &env;
    const svc_call_t call = {.env = &env, .module = &analytics_module, .caller = &caller};
    char host[40], partners[50][40];
    uuid_v4(host);
    for (int i = 0; i < 50; i++)
        uuid_v4(partners[i]);
    char **msgs = calloc((size_t)n, sizeof *msgs);
    if (!msgs) return 1;
    for (long i = 0; i + 1 < n; i += 2) {
        char v[40], m[40];
        uuid_v4(v);
        uuid_v4(m);
        msgs[i] = envelope("visit.requested", host, partners[i / 2 % 50], v, m, (int)(i / 2 % 365));
        msgs[i + 1] =
            envelope("visit.checked_out", host, partners[i / 2 % 50], v, m, (int)(i / 2 % 365));
    }
    n -= n % 2;
    int ok = 1;
    for (int r = 0; r < rounds; r++) {
        size_t b0, b1, b2;
        double a, t; /* the order alternates: A B, B A, ... */
        if (r % 2) {
            t = pass(&call, msgs, n, 1, &b1);
            a = pass(&call, msgs, n, 0, &b0);
        } else {
            a = pass(&call, msgs, n, 0, &b0);
            t = pass(&call, msgs, n, 1, &b1);
        }
        double p = pass(&call, msgs, n, 2, &b2), q = pass(&call, msgs, n, 3, &b2);
        if (b0 != b1) ok = 0; /* the same bytes: the same lengths at least */
        printf("facts-text round=%d events=%ld jansson_us=%.2f text_us=%.2f parse_us=%.2f "
               "parse_nodup_us=%.2f same_len=%d\n",
               r + 1, n, a, t, p, q, b0 == b1);
        fflush(stdout);
    }
    for (long i = 0; i < n; i++)
        free(msgs[i]);
    free(msgs);
    return ok ? 0 : 1;
}
