/* test_facts_text: the facts the analytics consumers write as text (ingest.c,
 * analytics_batch_add + analytics_batch_text, stop 22) are byte for byte what the jansson path
 * before them sent to analytics.ingest: each event's fact built as a jansson object, completed
 * by the batch's look-ups (the visit's attributes, the club's time zone, the member key only
 * get_visit's answer names), the pending fields removed and the array dumped by jsonx_dump.
 * That path is the reference (facts_reference.h: the code of s22's ingest.c without its database
 * look-ups, whose answers both paths get as the same `known` and `tzs`). Thousands of
 * random batches of every event type analytics reads, with fields present or missing, strings
 * with escapes, control characters and UTF-8 of every length, ids in upper and lower case or
 * not UUIDs at all; the events are chosen so that neither path asks another service (no bus
 * here). No database. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/service.h"
#include "core/strbuf.h"
#include "core/uuid.h"
#include "services/analytics/analytics.h"
#include "services/analytics/ingest.h"
#include "facts_reference.h"
#include "test.h"

static cfg_t g_cfg;
static svc_env_t g_env;
static svc_caller_t g_caller;
static const svc_call_t g_call = {.env = &g_env, .module = &analytics_module, .caller = &g_caller};

/* ---- random events ------------------------------------------------------------------------- */

static const char *const k_strings[] = {
    "requested",
    "",
    "a\"quote\"",
    "back\\slash",
    "tab\there",
    "new\nline\r\n",
    "\b\f",
    "ctl \x01\x02\x1f end",
    "del \x7f",
    "/slash/",
    "caf\xc3\xa9",
    "\xe2\x98\x83 snow",
    "\xf0\x9f\x98\x80 four bytes",
    "\xe2\x80\xa8 line sep",
    "Europe/London",
    "\\u0041 not one",
    "long "
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
#define N_STRINGS (sizeof k_strings / sizeof *k_strings)
static const char *const k_types[] = {
    "visit.requested",  "visit.approved",      "visit.checked_in", "loi.issued",
    "loi.declined",     "charge.posted",       "charge.reversed",  "statement.issued",
    "agreement.signed", "member.created",      "member.updated",   "club.created",
    "club.updated",     "auth.user_logged_in", "reciprocal.other", "member.deleted"};
#define N_TYPES (sizeof k_types / sizeof *k_types)
static char g_ids[6][40]; /* clubs, members, visits: a few, so that visits repeat in a batch */

static unsigned rnd(unsigned n) {
    return randombytes_uniform(n);
}

static const char *any_string(void) {
    return k_strings[rnd(N_STRINGS)];
}

/* One of the ids: lowercase, uppercase, or (rarely, when allowed) not a UUID. */
static const char *any_id(char buf[40], int allow_bad) {
    if (allow_bad && rnd(12) == 0) return rnd(2) ? "not-a-uuid" : "";
    snprintf(buf, 40, "%s", g_ids[rnd(6)]);
    if (rnd(5) == 0)
        for (char *c = buf; *c; c++)
            if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 'a' + 'A');
    return buf;
}

static void maybe_str(json_t *o, const char *k, const char *v) {
    if (rnd(3)) json_object_set_new(o, k, json_string(v));
}

/* A random envelope whose fact needs no other service: a visit event either carries its
 * attributes (dates, integer guests) or its visit is marked known; a member.updated never names
 * a changed category without carrying it. */
static json_t *any_event(json_t *known) {
    char b[6][40];
    const char *type = k_types[rnd(N_TYPES)];
    char eid[40];
    uuid_v4(eid);
    json_t *d = json_object();
    maybe_str(d, "host_club_id", any_id(b[0], 1));
    maybe_str(d, "home_club_id", any_id(b[1], 1));
    maybe_str(d, "visit_id", any_id(b[2], 1));
    maybe_str(d, "member_id", any_id(b[3], 0));
    maybe_str(d, "status", any_string());
    maybe_str(d, "category", any_string());
    maybe_str(d, "currency", rnd(2) ? "EUR" : any_string());
    if (rnd(3))
        json_object_set_new(d, "total_amount",
                            rnd(4) ? json_integer((json_int_t)rnd(100000) - 50000)
                                   : json_string("12"));
    maybe_str(d, "club_id", any_id(b[4], 1));
    maybe_str(d, "user_id", any_id(b[5], 0));
    if (rnd(2)) {
        json_t *c = json_object();
        maybe_str(c, "timezone", any_string());
        maybe_str(c, "name", any_string());
        json_object_set_new(d, "club", c);
    }
    int attrs = rnd(3);
    if (attrs) {
        json_object_set_new(d, "arrive_on", json_string(rnd(5) ? "2027-01-02" : any_string()));
        maybe_str(d, "depart_on", "2027-01-05");
        if (attrs == 2) json_object_set_new(d, "guests", json_integer(rnd(9)));
        json_t *fac = json_array();
        for (unsigned k = rnd(4); k > 0; k--)
            json_array_append_new(fac, rnd(3) ? json_string(rnd(2) ? "rooms" : "golf")
                                              : json_string(any_string()));
        if (rnd(4))
            json_object_set_new(d, "facilities", fac);
        else
            json_decref(fac);
        maybe_str(d, "host_timezone", any_string());
        maybe_str(d, "timezone", any_string());
        maybe_str(d, "requested_at", any_string());
        maybe_str(d, "created_at", any_string());
    }
    if (strcmp(type, "member.updated") == 0 && rnd(2)) {
        json_t *ch = json_pack("[s]", "name");
        if (json_object_get(d, "category")) json_array_append_new(ch, json_string("category"));
        json_object_set_new(d, "changed_fields", ch);
    }
    const char *vid = ref_sget(d, "visit_id");
    if ((attrs != 2) && vid && jsonx_is_uuid(vid)) {
        char v[37];
        ref_lower(vid, v);
        json_object_set_new(known, v, json_string(""));
    }
    json_t *env = json_pack("{s:s, s:s, s:s, s:o, s:{s:s}}", "id", eid, "type", type, "source",
                            "test", "data", d, "metadata", "correlation_id", "c-1");
    if (rnd(6))
        json_object_set_new(env, "timestamp",
                            json_string(rnd(3) ? "2027-01-02T10:00:00Z" : any_string()));
    char tb[40];
    if (rnd(4)) json_object_set_new(env, "tenant_id", json_string(any_id(tb, 1)));
    return env;
}

static svc_event_t event_of(json_t *env) {
    const char *tenant = ref_sget(env, "tenant_id");
    return (svc_event_t){.id = ref_sget(env, "id"),
                         .type = ref_sget(env, "type"),
                         .tenant_id = tenant && jsonx_is_uuid(tenant) ? tenant : NULL,
                         .correlation_id = "c-1",
                         .data = json_object_get(env, "data"),
                         .envelope = env};
}

/* Both paths over batches of random events: the same facts kept, the same errors, the same
 * bytes. */
static void test_same_bytes_as_jansson(void) {
    int batches = 0, facts = 0, errors = 0, differ = 0;
    for (int round = 0; round < 3000 && differ < 3; round++) {
        json_t *known = json_object(), *tzs = json_object(), *ref = json_array();
        for (int i = 0; i < 6; i++)
            if (rnd(2)) json_object_set_new(tzs, g_ids[i], json_string(any_string()));
        for (int i = 0; i < 6; i++) /* every club has a time zone (no get_club here) */
            if (!json_object_get(tzs, g_ids[i]))
                json_object_set_new(tzs, g_ids[i], json_string("UTC"));
        analytics_batch_t *b = analytics_batch_new();
        REQUIRE(b);
        int n = 1 + (int)rnd(24), bad = 0;
        json_t *envs = json_array();
        for (int i = 0; i < n; i++) {
            json_t *env = any_event(known);
            json_array_append_new(envs, env);
            svc_event_t ev = event_of(env);
            err_t e1 = {0}, e2 = {0};
            json_t *fact = NULL;
            int r1 = ref_fact(&ev, &fact, &e1);
            int r2 = analytics_batch_add(&g_call, b, &ev, &e2);
            CHECK_EQ_INT(r2, r1);
            if (r1 < 0) errors++;
            if (r1 < 0 && e1.status) CHECK_EQ_INT(e2.status, e1.status);
            if (r1 != r2) bad = 1;
            if (fact) json_array_append_new(ref, fact);
        }
        json_t *known2 = json_deep_copy(known), *tzs2 = json_deep_copy(tzs);
        err_t e1 = {0}, e2 = {0};
        strbuf_t out = {0};
        CHECK_EQ_INT(ref_resolve(ref, known, tzs, &e1), 0);
        CHECK_EQ_INT(analytics_batch_text(&g_call, b, known2, tzs2, &out, &e2), 0);
        char *want = jsonx_dump(ref), *got = strbuf_take(&out);
        if (!bad && (!want || !got || strcmp(want, got) != 0)) {
            differ++;
            CHECK_STR(got, want);
        }
        CHECK(json_equal(known, known2)); /* the same visits learnt */
        batches++;
        facts += (int)json_array_size(ref);
        free(want);
        free(got);
        json_decref(known);
        json_decref(known2);
        json_decref(tzs);
        json_decref(tzs2);
        json_decref(ref);
        json_decref(envs);
        analytics_batch_free(b);
    }
    printf("#   %d batches, %d facts, %d events refused\n", batches, facts, errors);
    CHECK(facts > 10000);
    CHECK(errors > 10);
}

/* The comparison can fail: one byte of the text changed is a difference. */
static void test_a_changed_byte_differs(void) {
    json_t *known = json_object(), *tzs = json_object();
    json_t *env = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "id", g_ids[0], "type",
                            "statement.issued", "timestamp", "2027-01-01T00:00:00Z", "tenant_id",
                            g_ids[1], "data", "status", "issued", "home_club_id", g_ids[2]);
    svc_event_t ev = event_of(env);
    analytics_batch_t *b = analytics_batch_new();
    json_t *fact = NULL, *ref = json_array();
    err_t e = {0};
    REQUIRE(b && ref_fact(&ev, &fact, &e) == 0 && fact);
    json_array_append_new(ref, fact);
    CHECK_EQ_INT(analytics_batch_add(&g_call, b, &ev, &e), 0);
    strbuf_t out = {0};
    CHECK_EQ_INT(analytics_batch_text(&g_call, b, known, tzs, &out, &e), 0);
    CHECK_EQ_INT(ref_resolve(ref, known, tzs, &e), 0);
    char *want = jsonx_dump(ref), *got = strbuf_take(&out);
    REQUIRE(want && got);
    CHECK_STR(got, want);
    json_object_set_new(json_object_get(fact, "facts"), "status", json_string("issuee"));
    char *changed = jsonx_dump(ref);
    CHECK(changed && strlen(changed) == strlen(got) && strcmp(changed, got) != 0);
    free(changed);
    free(want);
    free(got);
    json_decref(ref);
    json_decref(env);
    json_decref(known);
    json_decref(tzs);
    analytics_batch_free(b);
}

int main(void) {
    log_init(LOG_ERROR, 0, "test_facts_text");
    if (sodium_init() < 0) return 1;
    g_cfg.bus_key.set = 1;
    randombytes_buf(g_cfg.bus_key.key, sizeof g_cfg.bus_key.key);
    g_env.cfg = &g_cfg;
    g_ref_env = &g_env;
    for (int i = 0; i < 6; i++)
        uuid_v4(g_ids[i]);
    RUN(test_same_bytes_as_jansson);
    RUN(test_a_changed_byte_differs);
    TEST_DONE();
}
