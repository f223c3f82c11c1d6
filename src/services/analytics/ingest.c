/* ingest: events -> facts -> analytics.ingest (see ingest.h). Only whitelisted, non-personal
 * fields leave an event: ids of clubs and visits, statuses, dates, counts, amounts, categories;
 * members and users become analytics_member_key. */
#include "services/analytics/ingest.h"

#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/json.h"
#include "core/strbuf.h"
#include "services/analytics/analytics.h"

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

/* ---- the facts as text ----------------------------------------------------------------------
 * A fact is written as the JSON text analytics.ingest reads, byte for byte what jsonx_dump wrote
 * for the jansson object it was built as before stop 22 (its keys in the order they were set:
 * id, at, type, club, host, home, visit, member_key, facts {...}, then what resolve adds:
 * member_key when only get_visit named the member, tz): no jansson object per fact, no dump of
 * the batch, no frees of its members (docs/analytics.md "Ingest speed: facts as text";
 * test_facts_text compares the bytes with the jansson path's). */

/* One fact of a batch: its text in the batch's buffer up to the last member of its "facts"
 * object, which is left open (resolve may add the visit's attributes), and what resolve needs. */
typedef struct pending {
    size_t off, len;
    int facts_n;  /* members written in "facts" */
    int has_key;  /* member_key written */
    json_t *data; /* visit and LOI events: the event's data (a reference) for visit_attrs */
    char cid[sizeof((svc_caller_t *)0)->request_id]; /* ...and its correlation id */
    char visit[37];                                  /* "visit" of the fact, or "" */
    char tz[37]; /* the club whose time zone gives the local day (charges, sign-ins), or "" */
} pending_t;

struct analytics_batch {
    strbuf_t text;
    pending_t *p;
    size_t n, cap;
};

void *analytics_batch_new(void) {
    return calloc(1, sizeof(analytics_batch_t));
}

void analytics_batch_free(void *acc) {
    analytics_batch_t *b = acc;
    if (!b) return;
    for (size_t i = 0; i < b->n; i++)
        json_decref(b->p[i].data);
    free(b->p);
    strbuf_free(&b->text);
    free(b);
}

/* "k": after a comma unless it is the first member (*n counts the open object's members). */
static void put_key(strbuf_t *s, int *n, const char *k) {
    if ((*n)++) strbuf_putn(s, ",", 1);
    strbuf_putn(s, "\"", 1);
    strbuf_puts(s, k);
    strbuf_putn(s, "\":", 2);
}

static void put_str(strbuf_t *s, int *n, const char *k, const char *v) {
    put_key(s, n, k);
    jsonx_put_string(s, v, strlen(v));
}

static void put_int(strbuf_t *s, int *n, const char *k, json_int_t v) {
    char num[32];
    int len = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, v);
    put_key(s, n, k);
    strbuf_putn(s, num, (size_t)len);
}

static void put_uuid(strbuf_t *s, int *n, const char *k, const char *v) {
    if (v && jsonx_is_uuid(v)) put_str(s, n, k, v);
}

/* "member_key" of (club, id) when both are known (*written = 1). 0 or -1 + e. */
static int put_member_key(const svc_call_t *call, strbuf_t *s, int *n, const char *club,
                          const char *id, int *written, err_t *e) {
    if (!club || !id) return 0;
    char key[65];
    if (analytics_member_key(call->env, club, id, key, e) != 0) return -1;
    put_str(s, n, "member_key", key);
    *written = 1;
    return 0;
}

/* "facts":{ (left open; its members counted in p->facts_n). */
static void open_facts(strbuf_t *s, int *n) {
    put_key(s, n, "facts");
    strbuf_putn(s, "{", 1);
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

/* Writes the visit's dates, guests, facility, time zone and request time into the open "facts"
 * object (*n its members) from the event data d: from d when it carries them all
 * (visit.requested does), else from reciprocal's get_visit, else the dates d carries (the flow
 * events carry dates and time zone, not guests); *got = 1 when it wrote them. key (NULL when
 * the fact has a member key already) gets the member key of the visit's member when only
 * get_visit names it. Called by resolve for the first event of a visit whose attributes are not
 * known yet (the earliest such event is the visit's). 0 or -1 + e. */
static int visit_attrs(const svc_call_t *call, const json_t *d, strbuf_t *s, int *n, char *key,
                       int *got, err_t *e) {
    const char *visit = sget(d, "visit_id"), *host = sget(d, "host_club_id");
    json_t *doc = NULL;
    int rc = 0;
    *got = 0;
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
        put_str(s, n, "arrive_on", arrive);
        put_str(s, n, "depart_on", depart);
        put_int(s, n, "guests", json_integer_value(json_object_get(doc, "guests")));
        const char *fac = json_string_value(json_array_get(json_object_get(doc, "facilities"), 0));
        if (fac) put_str(s, n, "facility", fac);
        if (has_string(json_object_get(doc, "facilities"), "rooms")) {
            put_key(s, n, "rooms");
            strbuf_putn(s, "true", 4);
        }
        const char *tz =
            sget(doc, "host_timezone") ? sget(doc, "host_timezone") : sget(doc, "timezone");
        if (tz) put_str(s, n, "timezone", tz);
        const char *req =
            sget(doc, "requested_at") ? sget(doc, "requested_at") : sget(doc, "created_at");
        if (req) put_str(s, n, "requested_at", req);
        *got = 1;
        const char *home = sget(d, "home_club_id"), *member = sget(doc, "member_id");
        if (key && home && member) rc = analytics_member_key(call->env, home, member, key, e);
    }
    json_decref(doc);
    return rc;
}

/* A member event's member key and "facts" (its category: from the event, else from member's
 * get_member after a member.updated naming it). 0 or -1 + e. */
static int member_facts(const svc_call_t *call, const svc_event_t *ev, strbuf_t *s, int *n,
                        pending_t *p, err_t *e) {
    const json_t *d = ev->data;
    const char *club = ev->tenant_id, *member = sget(d, "member_id");
    if (member && !club) return err_invalid(e, "tenant_id", "a member event without its club");
    if (put_member_key(call, s, n, club, member, &p->has_key, e) != 0) return -1;
    open_facts(s, n);
    if (!member) return 0;
    if (sget(d, "category")) {
        put_str(s, &p->facts_n, "category", sget(d, "category"));
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
    if (sget(doc, "category")) put_str(s, &p->facts_n, "category", sget(doc, "category"));
    json_decref(doc);
    return 0;
}

static int prefix(const char *type, const char *p) {
    return strncmp(type, p, strlen(p)) == 0;
}

/* The per-type part of a fact after its ids: its member key and its "facts" members (the object
 * left open); sign_in: the club of an auth.user_logged_in. 1 = keep, 0 = ignore, -1 + e. */
static int typed_facts(const svc_call_t *call, const svc_event_t *ev, const char *sign_in,
                       strbuf_t *s, int *n, pending_t *p, err_t *e) {
    const json_t *d = ev->data;
    const char *t = ev->type;
    if (prefix(t, "visit.") || prefix(t, "loi.")) {
        if (!sget(d, "visit_id") || !sget(d, "host_club_id") || !sget(d, "home_club_id")) return 0;
        if (!jsonx_is_uuid(sget(d, "visit_id")))
            return err_invalid(e, "visit_id", "the event's visit_id is not a UUID");
        if (put_member_key(call, s, n, sget(d, "home_club_id"), sget(d, "member_id"), &p->has_key,
                           e) != 0)
            return -1;
        open_facts(s, n);
        if (sget(d, "status")) put_str(s, &p->facts_n, "status", sget(d, "status"));
        /* the visit's attributes: decided by resolve once the batch is known */
        p->data = json_incref((json_t *)d);
        snprintf(p->cid, sizeof p->cid, "%s", ev->correlation_id ? ev->correlation_id : "");
        return 1;
    }
    if (prefix(t, "charge.")) {
        json_t *amount = json_object_get(d, "total_amount");
        const char *host = sget(d, "host_club_id");
        if (!sget(d, "currency") || !json_is_integer(amount) || !host) return 0;
        if (!jsonx_is_uuid(host))
            return err_invalid(e, "host_club_id", "the charge's host_club_id is not a UUID");
        open_facts(s, n);
        put_str(s, &p->facts_n, "currency", sget(d, "currency"));
        put_int(s, &p->facts_n, "amount", json_integer_value(amount));
        if (sget(d, "category")) put_str(s, &p->facts_n, "facility", sget(d, "category"));
        snprintf(p->tz, sizeof p->tz, "%s", host);
        return 1;
    }
    if (prefix(t, "statement.") || prefix(t, "agreement.")) {
        open_facts(s, n);
        if (sget(d, "status")) put_str(s, &p->facts_n, "status", sget(d, "status"));
        return 1;
    }
    if (prefix(t, "member.")) return member_facts(call, ev, s, n, p, e) == 0 ? 1 : -1;
    if (strcmp(t, "club.created") == 0 || strcmp(t, "club.updated") == 0) {
        json_t *c = json_object_get(d, "club");
        open_facts(s, n);
        if (sget(c, "timezone")) put_str(s, &p->facts_n, "timezone", sget(c, "timezone"));
        if (sget(c, "name")) put_str(s, &p->facts_n, "name", sget(c, "name"));
        return 1;
    }
    if (sign_in) {
        if (put_member_key(call, s, n, sign_in, sget(d, "user_id"), &p->has_key, e) != 0) return -1;
        open_facts(s, n);
        snprintf(p->tz, sizeof p->tz, "%s", sign_in);
        return 1;
    }
    return 0;
}

/* The next pending entry of b (zeroed), NULL when out of memory. */
static pending_t *next_pending(analytics_batch_t *b) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        pending_t *p = realloc(b->p, cap * sizeof *p);
        if (!p) return NULL;
        b->p = p;
        b->cap = cap;
    }
    pending_t *p = &b->p[b->n];
    memset(p, 0, sizeof *p);
    return p;
}

int analytics_batch_add(const svc_call_t *call, analytics_batch_t *b, const svc_event_t *ev,
                        err_t *e) {
    const json_t *d = ev->data;
    const char *at = sget(ev->envelope, "timestamp"), *sign_in = NULL;
    if (!ev->type || !at || !ev->id) return 0;
    if (strcmp(ev->type, "auth.user_logged_in") == 0) {
        sign_in = sget(d, "club_id") ? sget(d, "club_id") : ev->tenant_id;
        if (!sign_in || !jsonx_is_uuid(sign_in)) return 0;
    }
    pending_t *p = next_pending(b);
    if (!p) return err_set(e, 500, "internal", "", "out of memory");
    strbuf_t *s = &b->text;
    int n = 0;
    p->off = s->len;
    strbuf_putn(s, "{", 1);
    put_str(s, &n, "id", ev->id);
    put_str(s, &n, "at", at);
    put_str(s, &n, "type", ev->type);
    const char *club = ev->tenant_id && jsonx_is_uuid(ev->tenant_id) ? ev->tenant_id : NULL;
    if (club) put_str(s, &n, "club", sign_in ? sign_in : club); /* a sign-in's club in its place */
    put_uuid(s, &n, "host", sget(d, "host_club_id"));
    put_uuid(s, &n, "home", sget(d, "home_club_id"));
    const char *visit = sget(d, "visit_id");
    if (visit && jsonx_is_uuid(visit)) {
        put_str(s, &n, "visit", visit);
        snprintf(p->visit, sizeof p->visit, "%s", visit);
    }
    if (sign_in && !club) put_str(s, &n, "club", sign_in);
    int rc = typed_facts(call, ev, sign_in, s, &n, p, e);
    if (rc == 1 && s->oom) rc = err_set(e, 500, "internal", "", "out of memory");
    if (rc != 1) { /* nothing of it stays */
        json_decref(p->data);
        s->len = p->off;
        if (s->p) s->p[s->len] = '\0';
        return rc < 0 ? -1 : 0;
    }
    p->len = s->len - p->off;
    b->n++;
    return 0;
}

int analytics_ingest_text(db_tx_t *tx, const char *facts, long *added, err_t *e) {
    const char *p[] = {facts};
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
    if (!r) return -1;
    if (added) *added = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int analytics_ingest(db_tx_t *tx, json_t *facts, long *added, err_t *e) {
    char *text = jsonx_dump(facts);
    if (!text) return err_set(e, 500, "internal", "", "out of memory");
    int rc = analytics_ingest_text(tx, text, added, e);
    free(text);
    return rc;
}

/* The text array literal {a,b,...} of the distinct UUID strings of the batch's facts' visits
 * (tz = 0) or time-zone clubs (tz = 1) (UUIDs only: no quoting needed), "" when none; a new
 * string (free) or NULL when out of memory. */
static char *uuid_array(const analytics_batch_t *b, int tz) {
    strbuf_t s = {0};
    json_t *seen = json_object();
    int n = 0;
    if (!seen) return NULL;
    for (size_t i = 0; i < b->n; i++) {
        const char *v = tz ? b->p[i].tz : b->p[i].visit;
        if (!*v || json_object_get(seen, v)) continue;
        json_object_set_new(seen, v, json_true());
        strbuf_puts(&s, n++ ? "," : "{");
        strbuf_puts(&s, v);
    }
    json_decref(seen);
    if (n) strbuf_puts(&s, "}");
    return strbuf_take(&s);
}

/* Runs sql with the UUID array of the batch's visits or clubs (uuid_array) and keeps its rows
 * (text, lowercase id first, value second) in *out {id: value}; *out empty when no fact has
 * one. 0 or -1 + e. */
static int lookup(db_tx_t *tx, const analytics_batch_t *b, int tz, const char *sql, json_t **out,
                  err_t *e) {
    *out = json_object();
    char *arr = uuid_array(b, tz);
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

/* The rest of fact p after its text (resolve's part, see analytics_batch_text) into out. */
static int finish_fact(const svc_call_t *call, const pending_t *p, json_t *known, json_t *tzs,
                       strbuf_t *out, err_t *e) {
    int n = p->facts_n;
    char key[65] = "";
    if (p->data && p->visit[0]) {
        char v[37];
        lower_uuid(p->visit, v);
        if (!json_object_get(known, v)) {
            svc_caller_t c = *call->caller;
            snprintf(c.request_id, sizeof c.request_id, "%s", p->cid);
            const svc_call_t one = {.env = call->env, .module = call->module, .caller = &c};
            int got = 0;
            if (visit_attrs(&one, p->data, out, &n, p->has_key ? NULL : key, &got, e) != 0)
                return -1;
            if (got) json_object_set_new(known, v, json_string(""));
        }
    }
    strbuf_putn(out, "}", 1);
    n = 1; /* the fact's own members: id and more before */
    if (key[0]) put_str(out, &n, "member_key", key);
    if (p->tz[0]) {
        char c[37];
        lower_uuid(p->tz, c);
        if (!json_object_get(tzs, c)) {
            json_t *doc = NULL;
            if (ask(call, "member", "get_club", p->tz, "club:read", json_pack("{s:s}", "id", p->tz),
                    &doc, e) < 0)
                return -1;
            json_object_set_new(tzs, c,
                                json_string(sget(doc, "timezone") ? sget(doc, "timezone") : "UTC"));
            json_decref(doc);
        }
        const char *tz = json_string_value(json_object_get(tzs, c));
        if (tz) put_str(out, &n, "tz", tz);
    }
    strbuf_putn(out, "}", 1);
    return 0;
}

int analytics_batch_text(const svc_call_t *call, const analytics_batch_t *b, json_t *known,
                         json_t *tzs, strbuf_t *out, err_t *e) {
    strbuf_putn(out, "[", 1);
    for (size_t i = 0; i < b->n; i++) {
        const pending_t *p = &b->p[i];
        if (i) strbuf_putn(out, ",", 1);
        strbuf_putn(out, b->text.p + p->off, p->len);
        if (finish_fact(call, p, known, tzs, out, e) != 0) return -1;
    }
    strbuf_putn(out, "]", 1);
    return out->oom ? err_set(e, 500, "internal", "", "out of memory") : 0;
}

/* The look-ups the facts of a batch wait for, in a statement each for the whole batch (not one
 * per event): which of their visits already have attributes (visit_folds: an earlier event
 * carried them) and the time zones of their clubs (the club dimension); then the batch's text
 * (analytics_batch_text). 0 or -1 + e. */
static int resolve(const svc_call_t *call, db_tx_t *tx, const analytics_batch_t *b, strbuf_t *out,
                   err_t *e) {
    json_t *known = NULL, *tzs = NULL;
    int rc = -1;
    /* one primary-key probe per id (analytics 0011): `visit_id = ANY ($1)` planned with the
     * batch's ~130 ids scanned the whole of visit_folds per batch (docs/analytics.md "Ingest
     * speed: the visits before the batch by probes") */
    if (lookup(tx, b, 0, "SELECT v::text, '' FROM analytics.folds_with_attrs($1::uuid[]) v", &known,
               e) != 0 ||
        lookup(tx, b, 1,
               "SELECT club_id::text, timezone FROM analytics.clubs "
               "WHERE club_id = ANY ($1::uuid[])",
               &tzs, e) != 0)
        goto done;
    rc = analytics_batch_text(call, b, known, tzs, out, e);
done:
    json_decref(known);
    json_decref(tzs);
    return rc;
}

/* Days since 1970-01-01 of the date "YYYY-MM-DD" s starts with, -1 when it does not. */
static long epoch_day(const char *s) {
    char date[11];
    if (!s || strlen(s) < 10) return -1;
    memcpy(date, s, 10);
    date[10] = '\0';
    if (!jsonx_is_date(date)) return -1;
    struct tm tm = {
        .tm_year = atoi(date) - 1900, .tm_mon = atoi(date + 5) - 1, .tm_mday = atoi(date + 8)};
    return (long)(timegm(&tm) / 86400);
}

int analytics_inbox_needed_at(const svc_env_t *env, const svc_event_t *ev, time_t now) {
    const analytics_settings_t *s = analytics_settings(env);
    long day = epoch_day(sget(ev->envelope, "timestamp"));
    if (!s || !env->cfg || day < 0) return 1;
    /* the raw row stays until its month's partition ends more than retention_days ago: at least
     * day + 1 + retention_days; the stream delivers it again until at most its store time (before
     * now) + the stream's retention */
    long stream_days = (env->cfg->events_retention_h + 23) / 24;
    return day + s->retention_days < (long)(now / 86400) + stream_days + 2;
}

int analytics_inbox_needed(const svc_env_t *env, const svc_event_t *ev) {
    return analytics_inbox_needed_at(env, ev, time(NULL));
}

int analytics_on_event(const svc_call_t *call, db_tx_t *tx, const svc_event_t *ev, err_t *e) {
    if (ev->acc) /* the consumer's transaction: resolved and applied by analytics_flush */
        return analytics_batch_add(call, ev->acc, ev, e);
    analytics_batch_t *b = analytics_batch_new();
    if (!b) return err_set(e, 500, "internal", "", "out of memory");
    int rc = analytics_batch_add(call, b, ev, e);
    if (rc == 0) rc = analytics_flush(call, tx, b, e);
    analytics_batch_free(b);
    return rc;
}

int analytics_flush(const svc_call_t *call, db_tx_t *tx, void *acc, err_t *e) {
    const analytics_batch_t *b = acc;
    if (!b || !b->n) return 0;
    strbuf_t out = {0};
    strbuf_reserve(&out, b->text.len + b->n * 64 + 2);
    int rc = resolve(call, tx, b, &out, e);
    char *text = strbuf_take(&out);
    if (rc == 0 && !text) rc = err_set(e, 500, "internal", "", "out of memory");
    if (rc == 0) rc = analytics_ingest_text(tx, text, NULL, e);
    free(text);
    return rc;
}
