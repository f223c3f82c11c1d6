/* ingest: events -> facts -> analytics.ingest (see ingest.h). Only whitelisted, non-personal
 * fields leave an event: ids of clubs and visits, statuses, dates, counts, amounts, categories;
 * members and users become analytics_member_key. */
#include "services/analytics/ingest.h"

#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/strbuf.h"
#include "services/analytics/analytics.h"

/* Look-ups a fact waits for until the batch is known (resolve), removed before analytics.ingest:
 * the visit event's data (its attributes, once per visit) with its correlation id, and the club
 * whose time zone gives the fact's local day. */
#define PENDING_DATA "_data"
#define PENDING_CID "_cid"
#define PENDING_TZ "_tz_club"

static const char *sget(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

int analytics_member_key(const svc_env_t *env, const char *club, const char *id, char out[65],
                         err_t *e) {
    const analytics_settings_t *s = analytics_settings(env);
    const cfg_key_t *k = s && s->key.set ? &s->key : env->cfg ? &env->cfg->bus_key : NULL;
    if (!k || !k->set)
        return err_set(e, 500, "invalid_config", "RECIPROCAL_ANALYTICS_KEY",
                       "RECIPROCAL_ANALYTICS_KEY (or RECIPROCAL_BUS_KEY) is not set");
    /* the HMAC keyed with the subkey, derived once per thread and key (not per event: the
     * derivation and the keying were ~4 % of the consumer's CPU; docs/analytics.md "Ingest
     * speed: the server's share") */
    static _Thread_local struct {
        int set;
        unsigned char key[32];
        crypto_auth_hmacsha256_state keyed;
    } cache;
    if (!cache.set || sodium_memcmp(cache.key, k->key, sizeof cache.key) != 0) {
        unsigned char sub[32];
        crypto_kdf_derive_from_key(sub, sizeof sub, 1, "anmember", k->key);
        crypto_auth_hmacsha256_init(&cache.keyed, sub, sizeof sub);
        sodium_memzero(sub, sizeof sub);
        memcpy(cache.key, k->key, sizeof cache.key);
        cache.set = 1;
    }
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st = cache.keyed;
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)club, strlen(club));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"/", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
    sodium_bin2hex(out, 65, mac, sizeof mac);
    return 0;
}

/* Calls svc.op as the service itself in `club` with `perms`; *out a new reference or NULL.
 * 1 found, 0 not found (404/403: the fact goes without it), -1 + e (503: retried). */
static int ask(const svc_call_t *call, const char *svc, const char *op, const char *club,
               const char *perms, json_t *in, json_t **out, err_t *e) {
    svc_caller_t c = *call->caller;
    c.user_id[0] = '\0';
    c.network_admin = 0;
    snprintf(c.club_id, sizeof c.club_id, "%s", club);
    snprintf(c.perms, sizeof c.perms, "%s", perms);
    int status = 0;
    *out = NULL;
    err_t e2 = {0};
    int rc = svc_call(call->env, svc, op, &c, in, &status, out, &e2);
    json_decref(in);
    if (rc == 0) return 1;
    json_decref(*out);
    *out = NULL;
    if (status == 404 || status == 403 || status == 400 || status == 422) return 0;
    *e = e2;
    if (e->status != 503 && e->status != 504) e->status = 503; /* a dependency: try again */
    return -1;
}

static int set_key(const svc_call_t *call, json_t *f, const char *club, const char *id, err_t *e) {
    if (!club || !id) return 0;
    char key[65];
    if (analytics_member_key(call->env, club, id, key, e) != 0) return -1;
    json_object_set_new(f, "member_key", json_string(key));
    return 0;
}

/* 1 when the array a holds the string v. */
static int has_string(const json_t *a, const char *v) {
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        if (json_is_string(x) && strcmp(json_string_value(x), v) == 0) return 1;
    }
    return 0;
}

/* Adds the visit's dates, guests, facility, time zone and request time to the fact f (facts:
 * its "facts") from the event data d: from d when it carries them all (visit.requested does),
 * else from reciprocal's get_visit, else the dates d carries (the flow events carry dates and
 * time zone, not guests). Called by resolve for the first event of a visit whose attributes are
 * not known yet (the earliest such event is the visit's). */
static int visit_attrs(const svc_call_t *call, const json_t *d, json_t *f, json_t *facts,
                       err_t *e) {
    const char *visit = sget(d, "visit_id"), *host = sget(d, "host_club_id");
    json_t *doc = NULL;
    if (sget(d, "arrive_on") && json_is_integer(json_object_get(d, "guests"))) {
        doc = json_incref((json_t *)d);
    } else {
        if (ask(call, "reciprocal", "get_visit", host, "member:read",
                json_pack("{s:s}", "id", visit), &doc, e) < 0)
            return -1;
        if (!doc && sget(d, "arrive_on")) doc = json_incref((json_t *)d);
        if (!doc) return 0;
    }
    const char *arrive = sget(doc, "arrive_on"), *depart = sget(doc, "depart_on");
    if (arrive && depart) {
        json_object_set_new(facts, "arrive_on", json_string(arrive));
        json_object_set_new(facts, "depart_on", json_string(depart));
        json_object_set_new(facts, "guests",
                            json_integer(json_integer_value(json_object_get(doc, "guests"))));
        const char *fac = json_string_value(json_array_get(json_object_get(doc, "facilities"), 0));
        if (fac) json_object_set_new(facts, "facility", json_string(fac));
        if (has_string(json_object_get(doc, "facilities"), "rooms"))
            json_object_set_new(facts, "rooms", json_true());
        const char *tz =
            sget(doc, "host_timezone") ? sget(doc, "host_timezone") : sget(doc, "timezone");
        if (tz) json_object_set_new(facts, "timezone", json_string(tz));
        const char *req =
            sget(doc, "requested_at") ? sget(doc, "requested_at") : sget(doc, "created_at");
        if (req) json_object_set_new(facts, "requested_at", json_string(req));
        if (!json_object_get(f, "member_key") &&
            set_key(call, f, sget(d, "home_club_id"), sget(doc, "member_id"), e) != 0) {
            json_decref(doc);
            return -1;
        }
    }
    json_decref(doc);
    return 0;
}

static int member_facts(const svc_call_t *call, const svc_event_t *ev, json_t *f, json_t *facts,
                        err_t *e) {
    const json_t *d = ev->data;
    const char *club = ev->tenant_id, *member = sget(d, "member_id");
    if (!club || !member || set_key(call, f, club, member, e) != 0) return member ? -1 : 0;
    if (sget(d, "category")) {
        json_object_set_new(facts, "category", json_string(sget(d, "category")));
        return 0;
    }
    if (strcmp(ev->type, "member.updated") != 0) return 0;
    int changed = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(d, "changed_fields"), i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), "category") == 0) changed = 1;
    }
    if (!changed) return 0;
    json_t *doc = NULL;
    if (ask(call, "member", "get_member", club, "member:read", json_pack("{s:s}", "id", member),
            &doc, e) < 0)
        return -1;
    if (sget(doc, "category"))
        json_object_set_new(facts, "category", json_string(sget(doc, "category")));
    json_decref(doc);
    return 0;
}

static int prefix(const char *type, const char *p) {
    return strncmp(type, p, strlen(p)) == 0;
}

/* The per-type part of the fact; 1 = keep, 0 = ignore the event, -1 + e. */
static int typed_facts(const svc_call_t *call, const svc_event_t *ev, json_t *f, json_t *facts,
                       err_t *e) {
    const json_t *d = ev->data;
    const char *t = ev->type;
    if (prefix(t, "visit.") || prefix(t, "loi.")) {
        if (!sget(d, "visit_id") || !sget(d, "host_club_id") || !sget(d, "home_club_id")) return 0;
        if (sget(d, "status")) json_object_set_new(facts, "status", json_string(sget(d, "status")));
        if (!jsonx_is_uuid(sget(d, "visit_id")))
            return err_invalid(e, "visit_id", "the event's visit_id is not a UUID");
        if (set_key(call, f, sget(d, "home_club_id"), sget(d, "member_id"), e) != 0) return -1;
        /* the visit's attributes: decided by resolve once the batch is known */
        json_object_set_new(f, PENDING_DATA, json_incref((json_t *)d));
        json_object_set_new(f, PENDING_CID, json_string(ev->correlation_id));
        return 1;
    }
    if (prefix(t, "charge.")) {
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
    if (prefix(t, "statement.") || prefix(t, "agreement.")) {
        if (sget(d, "status")) json_object_set_new(facts, "status", json_string(sget(d, "status")));
        return 1;
    }
    if (prefix(t, "member.")) return member_facts(call, ev, f, facts, e) == 0 ? 1 : -1;
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
        if (set_key(call, f, club, sget(d, "user_id"), e) != 0) return -1;
        json_object_set_new(f, PENDING_TZ, json_string(club));
        return 1;
    }
    return 0;
}

static void set_uuid(json_t *f, const char *name, const char *v) {
    if (v && jsonx_is_uuid(v)) json_object_set_new(f, name, json_string(v));
}

int analytics_fact(const svc_call_t *call, const svc_event_t *ev, json_t **fact, err_t *e) {
    *fact = NULL;
    const char *at = sget(ev->envelope, "timestamp");
    if (!ev->type || !at || !ev->id) return 0;
    json_t *f = json_pack("{s:s, s:s, s:s}", "id", ev->id, "at", at, "type", ev->type);
    json_t *facts = json_object();
    if (!f || !facts) {
        json_decref(f);
        json_decref(facts);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    set_uuid(f, "club", ev->tenant_id);
    set_uuid(f, "host", sget(ev->data, "host_club_id"));
    set_uuid(f, "home", sget(ev->data, "home_club_id"));
    set_uuid(f, "visit", sget(ev->data, "visit_id"));
    int rc = typed_facts(call, ev, f, facts, e);
    json_object_set_new(f, "facts", facts);
    if (rc == 1)
        *fact = f;
    else
        json_decref(f);
    return rc < 0 ? -1 : 0;
}

int analytics_ingest(db_tx_t *tx, json_t *facts, long *added, err_t *e) {
    char *text = jsonx_dump(facts);
    if (!text) return err_set(e, 500, "internal", "", "out of memory");
    const char *p[] = {text};
    /* one ingest at a time across consumers and processes: two transactions recomputing the same
     * rollup row (DELETE + INSERT of a (host, home, day)) or creating the same month's partition
     * would collide (unique violation / duplicate table, a whole batch retried); the lock is its
     * own statement, so the ingest's snapshot sees what the previous holder committed */
    PGresult *r =
        db_exec(tx, "SELECT pg_advisory_xact_lock(hashtext('analytics.ingest'))", 0, NULL, e);
    if (r) {
        PQclear(r);
        r = db_exec(tx, "SELECT analytics.ingest($1::jsonb)", 1, p, e);
    }
    free(text);
    if (!r) return -1;
    if (added) *added = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

/* The text array literal {a,b,...} of the distinct UUID strings under key k of the facts that
 * have one (UUIDs only: no quoting needed), "" when none; a new string (free) or NULL when out
 * of memory. */
static char *uuid_array(const json_t *facts, const char *k) {
    strbuf_t b = {0};
    json_t *seen = json_object(), *f;
    size_t i;
    int n = 0;
    if (!seen) return NULL;
    json_array_foreach(facts, i, f) {
        const char *v = sget(f, k);
        if (!v || !jsonx_is_uuid(v) || json_object_get(seen, v)) continue;
        json_object_set_new(seen, v, json_true());
        strbuf_puts(&b, n++ ? "," : "{");
        strbuf_puts(&b, v);
    }
    json_decref(seen);
    if (n) strbuf_puts(&b, "}");
    return strbuf_take(&b);
}

/* Runs sql with the UUID array of key k of the facts and keeps its rows (text, lowercase id
 * first, value second) in *out {id: value}; *out empty when no fact has one. 0 or -1 + e. */
static int lookup(db_tx_t *tx, const json_t *facts, const char *k, const char *sql, json_t **out,
                  err_t *e) {
    *out = json_object();
    char *arr = uuid_array(facts, k);
    if (!*out || !arr) {
        free(arr);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    if (!*arr) {
        free(arr);
        return 0;
    }
    const char *p[] = {arr};
    PGresult *r = db_exec(tx, sql, 1, p, e);
    free(arr);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r); i++)
        json_object_set_new(*out, PQgetvalue(r, i, 0), json_string(PQgetvalue(r, i, 1)));
    PQclear(r);
    return 0;
}

static void lower_uuid(const char *in, char out[37]) {
    snprintf(out, 37, "%s", in);
    for (char *c = out; *c; c++)
        if (*c >= 'A' && *c <= 'F') *c = (char)(*c - 'A' + 'a');
}

/* The look-ups the facts of a batch wait for, in a statement each for the whole batch (not one
 * per event): which of their visits already have attributes (visit_folds: an earlier event
 * carried them) and the time zones of their clubs (the club dimension). Then in batch order: the
 * first event of a visit without attributes gets them (visit_attrs: from the event, else
 * reciprocal's get_visit), later ones of the same visit nothing; a club without a row in the
 * dimension is asked of member's get_club once. The pending fields are removed. 0 or -1 + e. */
static int resolve(const svc_call_t *call, db_tx_t *tx, json_t *facts, err_t *e) {
    json_t *known = NULL, *tzs = NULL, *f;
    int rc = -1;
    size_t i;
    /* one primary-key probe per id (analytics 0011): `visit_id = ANY ($1)` planned with the
     * batch's ~130 ids scanned the whole of visit_folds per batch (docs/analytics.md "Ingest
     * speed: the visits before the batch by probes") */
    if (lookup(tx, facts, "visit",
               "SELECT v::text, '' FROM analytics.folds_with_attrs($1::uuid[]) v", &known,
               e) != 0 ||
        lookup(tx, facts, PENDING_TZ,
               "SELECT club_id::text, timezone FROM analytics.clubs "
               "WHERE club_id = ANY ($1::uuid[])",
               &tzs, e) != 0)
        goto done;
    json_array_foreach(facts, i, f) {
        const json_t *d = json_object_get(f, PENDING_DATA);
        if (d && sget(f, "visit")) {
            char v[37];
            lower_uuid(sget(f, "visit"), v);
            if (!json_object_get(known, v)) {
                svc_caller_t c = *call->caller;
                snprintf(c.request_id, sizeof c.request_id, "%s", sget(f, PENDING_CID));
                const svc_call_t one = {.env = call->env, .module = call->module, .caller = &c};
                if (visit_attrs(&one, d, f, json_object_get(f, "facts"), e) != 0) goto done;
                if (json_object_get(json_object_get(f, "facts"), "arrive_on"))
                    json_object_set_new(known, v, json_string(""));
            }
        }
        const char *club = sget(f, PENDING_TZ);
        if (club) {
            char c[37];
            lower_uuid(club, c);
            if (!json_object_get(tzs, c)) {
                json_t *doc = NULL;
                if (ask(call, "member", "get_club", club, "club:read",
                        json_pack("{s:s}", "id", club), &doc, e) < 0)
                    goto done;
                json_object_set_new(
                    tzs, c, json_string(sget(doc, "timezone") ? sget(doc, "timezone") : "UTC"));
                json_decref(doc);
            }
            json_object_set(f, "tz", json_object_get(tzs, c));
        }
        json_object_del(f, PENDING_DATA);
        json_object_del(f, PENDING_CID);
        json_object_del(f, PENDING_TZ);
    }
    rc = 0;
done:
    json_decref(known);
    json_decref(tzs);
    return rc;
}

int analytics_on_event(const svc_call_t *call, db_tx_t *tx, const svc_event_t *ev, err_t *e) {
    json_t *fact = NULL;
    if (analytics_fact(call, ev, &fact, e) != 0) return -1;
    if (!fact) return 0;
    if (ev->acc) /* the consumer's transaction: resolved and applied by analytics_flush */
        return json_array_append_new(ev->acc, fact) == 0
                   ? 0
                   : err_set(e, 500, "internal", "", "out of memory");
    json_t *batch = json_pack("[o]", fact);
    int rc = analytics_flush(call, tx, batch, e);
    json_decref(batch);
    return rc;
}

int analytics_flush(const svc_call_t *call, db_tx_t *tx, json_t *acc, err_t *e) {
    if (!json_array_size(acc)) return 0;
    return resolve(call, tx, acc, e) == 0 ? analytics_ingest(tx, acc, NULL, e) : -1;
}
