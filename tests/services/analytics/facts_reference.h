/* facts_reference: s22's ingest.c path of an event to its fact, kept as the reference for the
 * facts written as text (stop 22): the fact built as a jansson object (ref_fact), completed by
 * the batch's look-ups whose answers are given (ref_resolve: known visits, clubs' time zones;
 * no get_visit, get_member or get_club: callers choose events that need none), then dumped with
 * jsonx_dump by the caller. Included by tests/services/analytics/test_facts_text.c (the bytes
 * compared) and bench/facts_text.c (the CPU compared); set g_ref_env first (its keys give the
 * member keys). Static functions: one copy per program. */
#ifndef TESTS_SERVICES_ANALYTICS_FACTS_REFERENCE_H
#define TESTS_SERVICES_ANALYTICS_FACTS_REFERENCE_H

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "core/service.h"
#include "services/analytics/ingest.h"

static const svc_env_t *g_ref_env;

#define PENDING_DATA "_data"
#define PENDING_CID "_cid"
#define PENDING_TZ "_tz_club"

static const char *ref_sget(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static int ref_set_key(json_t *f, const char *club, const char *id, err_t *e) {
    if (!club || !id) return 0;
    char key[65];
    if (analytics_member_key(g_ref_env, club, id, key, e) != 0) return -1;
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
    const char *arrive = ref_sget(doc, "arrive_on"), *depart = ref_sget(doc, "depart_on");
    if (arrive && depart) {
        json_object_set_new(facts, "arrive_on", json_string(arrive));
        json_object_set_new(facts, "depart_on", json_string(depart));
        json_object_set_new(facts, "guests",
                            json_integer(json_integer_value(json_object_get(doc, "guests"))));
        const char *fac = json_string_value(json_array_get(json_object_get(doc, "facilities"), 0));
        if (fac) json_object_set_new(facts, "facility", json_string(fac));
        if (ref_has_string(json_object_get(doc, "facilities"), "rooms"))
            json_object_set_new(facts, "rooms", json_true());
        const char *tz = ref_sget(doc, "host_timezone") ? ref_sget(doc, "host_timezone")
                                                        : ref_sget(doc, "timezone");
        if (tz) json_object_set_new(facts, "timezone", json_string(tz));
        const char *req = ref_sget(doc, "requested_at") ? ref_sget(doc, "requested_at")
                                                        : ref_sget(doc, "created_at");
        if (req) json_object_set_new(facts, "requested_at", json_string(req));
        if (!json_object_get(f, "member_key") &&
            ref_set_key(f, ref_sget(d, "home_club_id"), ref_sget(doc, "member_id"), e) != 0) {
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
    const char *club = ev->tenant_id, *member = ref_sget(d, "member_id");
    if (!club || !member || ref_set_key(f, club, member, e) != 0) return member ? -1 : 0;
    if (ref_sget(d, "category"))
        json_object_set_new(facts, "category", json_string(ref_sget(d, "category")));
    return 0; /* the events here never name a changed category without it (no get_member) */
}

static int ref_typed_facts(const svc_event_t *ev, json_t *f, json_t *facts, err_t *e) {
    const json_t *d = ev->data;
    const char *t = ev->type;
    if (ref_prefix(t, "visit.") || ref_prefix(t, "loi.")) {
        if (!ref_sget(d, "visit_id") || !ref_sget(d, "host_club_id") ||
            !ref_sget(d, "home_club_id"))
            return 0;
        if (ref_sget(d, "status"))
            json_object_set_new(facts, "status", json_string(ref_sget(d, "status")));
        if (!jsonx_is_uuid(ref_sget(d, "visit_id")))
            return err_invalid(e, "visit_id", "the event's visit_id is not a UUID");
        if (ref_set_key(f, ref_sget(d, "home_club_id"), ref_sget(d, "member_id"), e) != 0)
            return -1;
        json_object_set_new(f, PENDING_DATA, json_incref((json_t *)d));
        json_object_set_new(f, PENDING_CID, json_string(ev->correlation_id));
        return 1;
    }
    if (ref_prefix(t, "charge.")) {
        json_t *amount = json_object_get(d, "total_amount");
        if (!ref_sget(d, "currency") || !json_is_integer(amount) || !ref_sget(d, "host_club_id"))
            return 0;
        json_object_set_new(facts, "currency", json_string(ref_sget(d, "currency")));
        json_object_set_new(facts, "amount", json_integer(json_integer_value(amount)));
        if (ref_sget(d, "category"))
            json_object_set_new(facts, "facility", json_string(ref_sget(d, "category")));
        if (!jsonx_is_uuid(ref_sget(d, "host_club_id")))
            return err_invalid(e, "host_club_id", "the charge's host_club_id is not a UUID");
        json_object_set_new(f, PENDING_TZ, json_string(ref_sget(d, "host_club_id")));
        return 1;
    }
    if (ref_prefix(t, "statement.") || ref_prefix(t, "agreement.")) {
        if (ref_sget(d, "status"))
            json_object_set_new(facts, "status", json_string(ref_sget(d, "status")));
        return 1;
    }
    if (ref_prefix(t, "member.")) return ref_member_facts(ev, f, facts, e) == 0 ? 1 : -1;
    if (strcmp(t, "club.created") == 0 || strcmp(t, "club.updated") == 0) {
        json_t *c = json_object_get(d, "club");
        if (ref_sget(c, "timezone"))
            json_object_set_new(facts, "timezone", json_string(ref_sget(c, "timezone")));
        if (ref_sget(c, "name"))
            json_object_set_new(facts, "name", json_string(ref_sget(c, "name")));
        return 1;
    }
    if (strcmp(t, "auth.user_logged_in") == 0) {
        const char *club = ref_sget(d, "club_id") ? ref_sget(d, "club_id") : ev->tenant_id;
        if (!club || !jsonx_is_uuid(club)) return 0;
        json_object_set_new(f, "club", json_string(club));
        if (ref_set_key(f, club, ref_sget(d, "user_id"), e) != 0) return -1;
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
    const char *at = ref_sget(ev->envelope, "timestamp");
    if (!ev->type || !at || !ev->id) return 0;
    json_t *f = json_pack("{s:s, s:s, s:s}", "id", ev->id, "at", at, "type", ev->type);
    json_t *facts = json_object();
    ref_set_uuid(f, "club", ev->tenant_id);
    ref_set_uuid(f, "host", ref_sget(ev->data, "host_club_id"));
    ref_set_uuid(f, "home", ref_sget(ev->data, "home_club_id"));
    ref_set_uuid(f, "visit", ref_sget(ev->data, "visit_id"));
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
        if (d && ref_sget(f, "visit")) {
            char v[37];
            ref_lower(ref_sget(f, "visit"), v);
            if (!json_object_get(known, v)) {
                if (ref_visit_attrs(d, f, json_object_get(f, "facts"), e) != 0) return -1;
                if (json_object_get(json_object_get(f, "facts"), "arrive_on"))
                    json_object_set_new(known, v, json_string(""));
            }
        }
        const char *club = ref_sget(f, PENDING_TZ);
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

#endif
