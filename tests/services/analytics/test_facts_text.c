/* test_facts_text: the facts the analytics consumers write as text (ingest.c,
 * analytics_batch_add + analytics_batch_text, stop 22) are byte for byte what the jansson path
 * before them sent to analytics.ingest: each event's fact built as a jansson object, completed
 * by the batch's look-ups (the visit's attributes, the club's time zone, the member key only
 * get_visit's answer names), the pending fields removed and the array dumped by jsonx_dump.
 * That path is kept here as the reference (ref_*, the code of s22's ingest.c without its
 * database look-ups, whose answers both paths get as the same `known` and `tzs`). Thousands of
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
#include "test.h"

static cfg_t g_cfg;
static svc_env_t g_env;
static svc_caller_t g_caller;
static const svc_call_t g_call = {.env = &g_env, .module = &analytics_module, .caller = &g_caller};

/* ---- the reference: s22's ingest.c, jansson objects and jsonx_dump ------------------------- */

#define PENDING_DATA "_data"
#define PENDING_CID "_cid"
#define PENDING_TZ "_tz_club"

static const char *sget(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static int ref_set_key(json_t *f, const char *club, const char *id, err_t *e) {
    if (!club || !id) return 0;
    char key[65];
    if (analytics_member_key(&g_env, club, id, key, e) != 0) return -1;
    json_object_set_new(f, "member_key", json_string(key));
    return 0;
}

static int ref_has_string(const json_t *a, const char *v) {
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        if (json_is_string(x) && strcmp(json_string_value(x), v) == 0) return 1;
    }
    return 0;
}

/* s22's visit_attrs for an event that carries the attributes (no get_visit here). */
static int ref_visit_attrs(const json_t *d, json_t *f, json_t *facts, err_t *e) {
    json_t *doc = json_incref((json_t *)d);
    const char *arrive = sget(doc, "arrive_on"), *depart = sget(doc, "depart_on");
    if (arrive && depart) {
        json_object_set_new(facts, "arrive_on", json_string(arrive));
        json_object_set_new(facts, "depart_on", json_string(depart));
        json_object_set_new(facts, "guests",
                            json_integer(json_integer_value(json_object_get(doc, "guests"))));
        const char *fac = json_string_value(json_array_get(json_object_get(doc, "facilities"), 0));
        if (fac) json_object_set_new(facts, "facility", json_string(fac));
        if (ref_has_string(json_object_get(doc, "facilities"), "rooms"))
            json_object_set_new(facts, "rooms", json_true());
        const char *tz =
            sget(doc, "host_timezone") ? sget(doc, "host_timezone") : sget(doc, "timezone");
        if (tz) json_object_set_new(facts, "timezone", json_string(tz));
        const char *req =
            sget(doc, "requested_at") ? sget(doc, "requested_at") : sget(doc, "created_at");
        if (req) json_object_set_new(facts, "requested_at", json_string(req));
        if (!json_object_get(f, "member_key") &&
            ref_set_key(f, sget(d, "home_club_id"), sget(doc, "member_id"), e) != 0) {
            json_decref(doc);
            return -1;
        }
    }
    json_decref(doc);
    return 0;
}

static int ref_prefix(const char *type, const char *p) {
    return strncmp(type, p, strlen(p)) == 0;
}

static int ref_member_facts(const svc_event_t *ev, json_t *f, json_t *facts, err_t *e) {
    const json_t *d = ev->data;
    const char *club = ev->tenant_id, *member = sget(d, "member_id");
    if (!club || !member || ref_set_key(f, club, member, e) != 0) return member ? -1 : 0;
    if (sget(d, "category"))
        json_object_set_new(facts, "category", json_string(sget(d, "category")));
    return 0; /* the events here never name a changed category without it (no get_member) */
}

static int ref_typed_facts(const svc_event_t *ev, json_t *f, json_t *facts, err_t *e) {
    const json_t *d = ev->data;
    const char *t = ev->type;
    if (ref_prefix(t, "visit.") || ref_prefix(t, "loi.")) {
        if (!sget(d, "visit_id") || !sget(d, "host_club_id") || !sget(d, "home_club_id")) return 0;
        if (sget(d, "status")) json_object_set_new(facts, "status", json_string(sget(d, "status")));
        if (!jsonx_is_uuid(sget(d, "visit_id")))
            return err_invalid(e, "visit_id", "the event's visit_id is not a UUID");
        if (ref_set_key(f, sget(d, "home_club_id"), sget(d, "member_id"), e) != 0) return -1;
        json_object_set_new(f, PENDING_DATA, json_incref((json_t *)d));
        json_object_set_new(f, PENDING_CID, json_string(ev->correlation_id));
        return 1;
    }
    if (ref_prefix(t, "charge.")) {
        json_t *amount = json_object_get(d, "total_amount");
        if (!sget(d, "currency") || !json_is_integer(amount) || !sget(d, "host_club_id")) return 0;
        json_object_set_new(facts, "currency", json_string(sget(d, "currency")));
        json_object_set_new(facts, "amount", json_integer(json_integer_value(amount)));
        if (sget(d, "category"))
            json_object_set_new(facts, "facility", json_string(sget(d, "category")));
        if (!jsonx_is_uuid(sget(d, "host_club_id")))
            return err_invalid(e, "host_club_id", "the charge's host_club_id is not a UUID");
        json_object_set_new(f, PENDING_TZ, json_string(sget(d, "host_club_id")));
        return 1;
    }
    if (ref_prefix(t, "statement.") || ref_prefix(t, "agreement.")) {
        if (sget(d, "status")) json_object_set_new(facts, "status", json_string(sget(d, "status")));
        return 1;
    }
    if (ref_prefix(t, "member.")) return ref_member_facts(ev, f, facts, e) == 0 ? 1 : -1;
    if (strcmp(t, "club.created") == 0 || strcmp(t, "club.updated") == 0) {
        json_t *c = json_object_get(d, "club");
        if (sget(c, "timezone"))
            json_object_set_new(facts, "timezone", json_string(sget(c, "timezone")));
        if (sget(c, "name")) json_object_set_new(facts, "name", json_string(sget(c, "name")));
        return 1;
    }
    if (strcmp(t, "auth.user_logged_in") == 0) {
        const char *club = sget(d, "club_id") ? sget(d, "club_id") : ev->tenant_id;
        if (!club || !jsonx_is_uuid(club)) return 0;
        json_object_set_new(f, "club", json_string(club));
        if (ref_set_key(f, club, sget(d, "user_id"), e) != 0) return -1;
        json_object_set_new(f, PENDING_TZ, json_string(club));
        return 1;
    }
    return 0;
}

static void ref_set_uuid(json_t *f, const char *name, const char *v) {
    if (v && jsonx_is_uuid(v)) json_object_set_new(f, name, json_string(v));
}

static int ref_fact(const svc_event_t *ev, json_t **fact, err_t *e) {
    *fact = NULL;
    const char *at = sget(ev->envelope, "timestamp");
    if (!ev->type || !at || !ev->id) return 0;
    json_t *f = json_pack("{s:s, s:s, s:s}", "id", ev->id, "at", at, "type", ev->type);
    json_t *facts = json_object();
    ref_set_uuid(f, "club", ev->tenant_id);
    ref_set_uuid(f, "host", sget(ev->data, "host_club_id"));
    ref_set_uuid(f, "home", sget(ev->data, "home_club_id"));
    ref_set_uuid(f, "visit", sget(ev->data, "visit_id"));
    int rc = ref_typed_facts(ev, f, facts, e);
    json_object_set_new(f, "facts", facts);
    if (rc == 1)
        *fact = f;
    else
        json_decref(f);
    return rc < 0 ? -1 : 0;
}

static void ref_lower(const char *in, char out[37]) {
    snprintf(out, 37, "%s", in);
    for (char *c = out; *c; c++)
        if (*c >= 'A' && *c <= 'F') *c = (char)(*c - 'A' + 'a');
}

/* s22's resolve after its two look-ups (known, tzs: the same answers the new path gets). */
static int ref_resolve(json_t *facts, json_t *known, json_t *tzs, err_t *e) {
    size_t i;
    json_t *f;
    json_array_foreach(facts, i, f) {
        const json_t *d = json_object_get(f, PENDING_DATA);
        if (d && sget(f, "visit")) {
            char v[37];
            ref_lower(sget(f, "visit"), v);
            if (!json_object_get(known, v)) {
                if (ref_visit_attrs(d, f, json_object_get(f, "facts"), e) != 0) return -1;
                if (json_object_get(json_object_get(f, "facts"), "arrive_on"))
                    json_object_set_new(known, v, json_string(""));
            }
        }
        const char *club = sget(f, PENDING_TZ);
        if (club) {
            char c[37];
            ref_lower(club, c);
            json_object_set(f, "tz", json_object_get(tzs, c));
        }
        json_object_del(f, PENDING_DATA);
        json_object_del(f, PENDING_CID);
        json_object_del(f, PENDING_TZ);
    }
    return 0;
}

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
    const char *vid = sget(d, "visit_id");
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
    const char *tenant = sget(env, "tenant_id");
    return (svc_event_t){.id = sget(env, "id"),
                         .type = sget(env, "type"),
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
    for (int i = 0; i < 6; i++)
        uuid_v4(g_ids[i]);
    RUN(test_same_bytes_as_jansson);
    RUN(test_a_changed_byte_differs);
    TEST_DONE();
}
