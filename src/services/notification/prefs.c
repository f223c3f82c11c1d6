/* prefs: see prefs.h. */
#include "services/notification/prefs.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "core/json.h"

const char *const notify_categories[] = {"security", "visits", "agreements", NULL};

int notify_category_mandatory(const char *category) {
    return category && strcmp(category, "security") == 0;
}

static int known_category(const char *c) {
    for (const char *const *k = notify_categories; *k; k++)
        if (strcmp(*k, c) == 0) return 1;
    return 0;
}

/* "HH:MM", 00:00..23:59 */
static int valid_hhmm(const char *s) {
    return s && strlen(s) == 5 && s[0] >= '0' && s[0] <= '2' && s[1] >= '0' && s[1] <= '9' &&
           s[2] == ':' && s[3] >= '0' && s[3] <= '5' && s[4] >= '0' && s[4] <= '9' &&
           (s[0] < '2' || s[1] <= '3');
}

int prefs_validate_get(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", NULL};
    return jsonx_only_keys(in, keys, "", e);
}

static int validate_quiet(json_t *q, err_t *e) {
    static const char *const keys[] = {"start", "end", NULL};
    const char *s, *t;
    if (!json_is_object(q))
        return err_set(e, 400, "invalid_type", "quiet_hours",
                       "quiet_hours must be an object {start, end} or null");
    if (jsonx_only_keys(q, keys, "quiet_hours.", e) != 0) return -1;
    s = json_string_value(json_object_get(q, "start"));
    t = json_string_value(json_object_get(q, "end"));
    if (!json_object_get(q, "start"))
        return err_set(e, 400, "missing_field", "quiet_hours.start",
                       "quiet_hours.start is required");
    if (!json_object_get(q, "end"))
        return err_set(e, 400, "missing_field", "quiet_hours.end", "quiet_hours.end is required");
    if (!valid_hhmm(s))
        return err_invalid(e, "quiet_hours.start", "quiet_hours.start must be HH:MM");
    if (!valid_hhmm(t)) return err_invalid(e, "quiet_hours.end", "quiet_hours.end must be HH:MM");
    if (strcmp(s, t) == 0)
        return err_invalid(e, "quiet_hours.end", "quiet_hours.end must differ from start");
    return 0;
}

/* [{category, email?, in_app?, push?}] -> {category: {channel: bool}} in place of the array. */
static int validate_categories(json_t *in, err_t *e) {
    static const char *const keys[] = {"category", "email", "in_app", "push",
                                       "digest",   "sms",   NULL};
    static const char *const chans[] = {"email", "in_app", "push", "digest", "sms", NULL};
    json_t *a = json_object_get(in, "categories"), *v;
    size_t i;
    if (!a) return 0;
    if (!json_is_array(a) || json_array_size(a) > 16)
        return err_set(e, 400, "invalid_type", "categories",
                       "categories must be an array of at most 16 {category, email, in_app}");
    json_t *obj = json_object();
    if (!obj) return err_set(e, 500, "internal", "", "out of memory");
    json_array_foreach(a, i, v) {
        const char *c;
        if (!json_is_object(v)) {
            json_decref(obj);
            return err_set(e, 400, "invalid_type", "categories", "categories[] must be objects");
        }
        if (jsonx_only_keys(v, keys, "categories.", e) != 0 ||
            jsonx_string(v, "category", 1, 1, 32, &c, e) != 0) {
            json_decref(obj);
            return -1;
        }
        if (!known_category(c)) {
            json_decref(obj);
            return err_invalid(e, "categories",
                               "unknown category \"%s\" (security, visits, "
                               "agreements)",
                               c);
        }
        json_t *ch = json_object();
        json_object_set_new(obj, c, ch);
        for (const char *const *k = chans; *k; k++) {
            int b;
            json_t *x = json_object_get(v, *k);
            if (!x || json_is_null(x)) continue;
            /* digest: true (= "daily"), false, "daily" (08:00 local) or "hourly" */
            if (strcmp(*k, "digest") == 0 && json_is_string(x)) {
                const char *w = json_string_value(x);
                if (strcmp(w, "daily") != 0 && strcmp(w, "hourly") != 0) {
                    json_decref(obj);
                    return err_invalid(e, "categories.digest",
                                       "digest must be true, false, \"daily\" or \"hourly\"");
                }
                json_object_set_new(ch, *k, json_string(w));
                continue;
            }
            if (jsonx_bool(v, *k, 1, 1, &b, e) != 0) {
                json_decref(obj);
                return -1;
            }
            if (!b && notify_category_mandatory(c) && strcmp(*k, "digest") != 0) {
                json_decref(obj);
                return err_invalid(e, "categories",
                                   "%s notifications are mandatory: they cannot be switched off",
                                   c);
            }
            json_object_set_new(ch, *k, json_boolean(b));
        }
    }
    json_object_set_new(in, "categories", obj);
    return 0;
}

/* "fr" or "fr-CA" (the templates' locale format, migration 0018's CHECK). */
static int locale_ok(const char *s) {
    size_t n = strlen(s);
    if ((n != 2 && n != 5) || !islower((unsigned char)s[0]) || !islower((unsigned char)s[1]))
        return 0;
    return n == 2 || (s[2] == '-' && isupper((unsigned char)s[3]) && isupper((unsigned char)s[4]));
}

int prefs_validate_update(json_t *in, err_t *e) {
    static const char *const keys[] = {
        "email",      "in_app",  "push", "timezone", "quiet_hours", "clear_quiet_hours",
        "categories", "club_id", "sms",  "locale",   NULL};
    static const char *const bools[] = {"email", "in_app", "push", "clear_quiet_hours",
                                        "sms",   NULL};
    const char *tz;
    int b;
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    for (const char *const *k = bools; *k; k++)
        if (jsonx_bool(in, *k, 0, 0, &b, e) != 0) return -1;
    if (jsonx_string(in, "timezone", 0, 1, 64, &tz, e) != 0) return -1;
    const char *loc = NULL; /* null clears it */
    if (!json_is_null(json_object_get(in, "locale")) &&
        jsonx_string(in, "locale", 0, 2, 5, &loc, e) != 0)
        return -1;
    if (loc && !locale_ok(loc))
        return err_invalid(e, "locale", "locale must be a language tag like fr or fr-CA");
    json_t *q = json_object_get(in, "quiet_hours");
    if (q && !json_is_null(q) && validate_quiet(q, e) != 0) return -1;
    return validate_categories(in, e);
}

/* ---- the caller's row ------------------------------------------------------------------------ */

static const char k_sql_row[] =
    "SELECT p.email, p.in_app, p.push, p.timezone, to_char(p.quiet_start, 'HH24:MI'), "
    "to_char(p.quiet_end, 'HH24:MI'), p.categories::text, c.email, c.in_app, c.push, "
    "c.categories::text, p.sms, p.locale FROM (SELECT 1) x LEFT JOIN notification.preferences p ON "
    "p.club_id = core.current_club() AND p.user_id = $1 LEFT JOIN notification.club_defaults c "
    "ON c.club_id = core.current_club()";

/* A boolean column, -1 when NULL (unset). */
static int tri(PGresult *r, int col) {
    return PQgetisnull(r, 0, col) ? -1 : PQgetvalue(r, 0, col)[0] == 't';
}

/* The first set value of the levels (-1 = unset; JSON booleans via jbool), else def. */
static int jbool(json_t *v) {
    return json_is_boolean(v) ? json_is_true(v) : -1;
}
static int first_set(int a, int b, int c, int d, int def) {
    return a >= 0 ? a : b >= 0 ? b : c >= 0 ? c : d >= 0 ? d : def;
}

/* The document of prefs_get from k_sql_row's result. */
static json_t *prefs_doc(PGresult *r, err_t *e) {
    json_t *cats = PQgetisnull(r, 0, 6) ? json_object() : json_loads(PQgetvalue(r, 0, 6), 0, NULL);
    json_t *ccats =
        PQgetisnull(r, 0, 10) ? json_object() : json_loads(PQgetvalue(r, 0, 10), 0, NULL);
    json_t *doc = json_object(), *list = json_array();
    if (!cats || !ccats || !doc || !list) goto oom;
    /* user global -> club default -> network default (docs "Club preference defaults") */
    int user_g[3] = {tri(r, 0), tri(r, 1), tri(r, 2)};
    int club_g[3] = {tri(r, 7), tri(r, 8), tri(r, 9)};
    json_object_set_new(doc, "email", json_boolean(first_set(user_g[0], club_g[0], -1, -1, 1)));
    json_object_set_new(doc, "in_app", json_boolean(first_set(user_g[1], club_g[1], -1, -1, 1)));
    json_object_set_new(doc, "push", json_boolean(first_set(user_g[2], club_g[2], -1, -1, 0)));
    json_object_set_new(doc, "sms", json_boolean(first_set(tri(r, 11), -1, -1, -1, 0)));
    json_object_set_new(doc, "timezone",
                        PQgetisnull(r, 0, 3) ? json_null() : json_string(PQgetvalue(r, 0, 3)));
    json_object_set_new(doc, "locale",
                        PQgetisnull(r, 0, 12) ? json_null() : json_string(PQgetvalue(r, 0, 12)));
    json_object_set_new(doc, "quiet_hours",
                        PQgetisnull(r, 0, 4) ? json_null()
                                             : json_pack("{s:s, s:s}", "start", PQgetvalue(r, 0, 4),
                                                         "end", PQgetvalue(r, 0, 5)));
    for (const char *const *c = notify_categories; *c; c++) {
        json_t *o = json_object_get(cats, *c);
        int m = notify_category_mandatory(*c);
        json_t *co = json_object_get(ccats, *c);
        /* user per category -> user global -> club per category -> club global -> network */
        int email = m || first_set(jbool(json_object_get(o, "email")), user_g[0],
                                   jbool(json_object_get(co, "email")), club_g[0], 1);
        int in_app = m || first_set(jbool(json_object_get(o, "in_app")), user_g[1],
                                    jbool(json_object_get(co, "in_app")), club_g[1], 1);
        json_t *dg = json_object_get(o, "digest");
        const char *window = m                    ? NULL
                             : json_is_true(dg)   ? "daily"
                             : json_is_string(dg) ? json_string_value(dg)
                                                  : NULL;
        /* SMS and push (issue 13): the category's override, else the user's switch (push: else
         * the club's defaults) */
        json_t *sm = json_object_get(o, "sms");
        int push = m || first_set(jbool(json_object_get(o, "push")), user_g[2],
                                  jbool(json_object_get(co, "push")), club_g[2], 0);
        int sms = m || (sm ? json_is_true(sm) : json_is_true(json_object_get(doc, "sms")));
        json_array_append_new(list, json_pack("{s:s, s:b, s:b, s:b, s:s?, s:b, s:b, s:b}",
                                              "category", *c, "email", email, "in_app", in_app,
                                              "digest", window != NULL, "digest_window", window,
                                              "mandatory", m, "push", push, "sms", sms));
    }
    json_object_set_new(doc, "categories", list);
    json_decref(cats);
    json_decref(ccats);
    return doc;
oom:
    json_decref(cats);
    json_decref(ccats);
    json_decref(doc);
    json_decref(list);
    err_set(e, 500, "internal", "", "out of memory");
    return NULL;
}

static int require_club(const svc_call_t *call, err_t *e) {
    if (!call->caller->club_id[0])
        return err_set(e, 403, "forbidden", "", "preferences belong to a member of a club");
    return 0;
}

int prefs_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    if (require_club(call, e) != 0) return -1;
    db_scope_t scope = svc_scope(call, NULL);
    const char *p[] = {call->caller->user_id};
    PGresult *r = db_read(call->env->db, &scope, k_sql_row, 1, p, e);
    if (!r) return -1;
    *out = prefs_doc(r, e);
    PQclear(r);
    return *out ? 0 : -1;
}

static const char k_sql_upsert[] =
    "INSERT INTO notification.preferences AS p (club_id, user_id, email, in_app, push, timezone, "
    "quiet_start, quiet_end, categories, sms, locale) VALUES (core.current_club(), $1, "
    "$2::boolean, $3::boolean, $4::boolean, $5, $6::time, $7::time, coalesce($8::jsonb, '{}'), "
    "coalesce($11::boolean, false), $12) ON CONFLICT (club_id, user_id) DO UPDATE SET email = "
    "coalesce($2::boolean, p.email), in_app = coalesce($3::boolean, p.in_app), push = "
    "coalesce($4::boolean, p.push), timezone = CASE WHEN $9::boolean THEN $5 ELSE p.timezone END, "
    "quiet_start = CASE WHEN $10::boolean THEN $6::time ELSE p.quiet_start END, quiet_end = CASE "
    "WHEN $10::boolean THEN $7::time ELSE p.quiet_end END, sms = coalesce($11::boolean, p.sms), "
    "locale = CASE WHEN $13::boolean THEN $12 ELSE p.locale END, "
    "categories = (SELECT "
    "coalesce(jsonb_object_agg(k, coalesce(p.categories -> k, '{}') || coalesce($8::jsonb -> k, "
    "'{}')), '{}') FROM (SELECT jsonb_object_keys(p.categories) UNION SELECT "
    "jsonb_object_keys(coalesce($8::jsonb, '{}'))) ks(k)), updated_at = now()";

static const char *opt_bool(json_t *in, const char *k) {
    json_t *v = json_object_get(in, k);
    if (!v || json_is_null(v)) return NULL;
    if (json_is_string(v)) return strcmp(json_string_value(v), "true") == 0 ? "t" : "f";
    return json_is_true(v) ? "t" : "f";
}

int prefs_update(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    if (require_club(call, e) != 0) return -1;
    json_t *tzv = json_object_get(in, "timezone"), *q = json_object_get(in, "quiet_hours");
    const char *tz = json_string_value(tzv);
    const char *clear = opt_bool(in, "clear_quiet_hours");
    int quiet_given = q != NULL || (clear && *clear == 't');
    const char *qs = json_is_object(q) ? json_string_value(json_object_get(q, "start")) : NULL;
    const char *qe = json_is_object(q) ? json_string_value(json_object_get(q, "end")) : NULL;
    char *cats = json_object_get(in, "categories")
                     ? json_dumps(json_object_get(in, "categories"), JSON_COMPACT)
                     : NULL;
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) goto done;
    if (tz) {
        r = db_exec(tx, "SELECT 1 FROM pg_timezone_names WHERE name = $1", 1, &tz, e);
        if (!r) goto done;
        int ok = PQntuples(r) > 0;
        PQclear(r);
        r = NULL;
        if (!ok) {
            err_invalid(e, "timezone",
                        "timezone must be an IANA time zone name, e.g. "
                        "Europe/London");
            goto done;
        }
    }
    const char *p[] = {call->caller->user_id,
                       opt_bool(in, "email"),
                       opt_bool(in, "in_app"),
                       opt_bool(in, "push"),
                       tz,
                       qs,
                       qe,
                       cats,
                       tzv ? "t" : "f",
                       quiet_given ? "t" : "f",
                       opt_bool(in, "sms"),
                       json_string_value(json_object_get(in, "locale")),
                       json_object_get(in, "locale") ? "t" : "f"};
    if (db_exec_cmd(tx, k_sql_upsert, 13, p, e) < 0) goto done;
    r = db_exec(tx, k_sql_row, 1, p, e);
    if (!r) goto done;
    *out = prefs_doc(r, e);
    if (*out) rc = 0;
done:
    PQclear(r);
    free(cats);
    rc = db_tx_finish(&tx, rc, out, e);
    return rc;
}

/* ---- the consumers' decision ------------------------------------------------------------------
 */

static const char k_sql_decide[] =
    "SELECT coalesce((p.categories -> $3 ->> $4)::boolean, CASE $4 WHEN 'email' THEN p.email WHEN "
    "'in_app' THEN p.in_app WHEN 'push' THEN p.push WHEN 'sms' THEN p.sms END, (c.categories -> "
    "$3 ->> $4)::boolean, CASE $4 WHEN 'email' THEN c.email WHEN 'in_app' THEN c.in_app WHEN "
    "'push' THEN c.push END, $4 NOT IN ('push', 'sms')), coalesce(to_char("
    "notification.quiet_until(coalesce($5::timestamptz, now()), coalesce(p.timezone, $6), "
    "p.quiet_start, p.quiet_end) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "CASE p.categories -> $3 ->> 'digest' WHEN 'true' THEN 'd' WHEN 'daily' THEN 'd' WHEN "
    "'hourly' THEN 'h' ELSE 'f' END, to_char(CASE p.categories -> $3 ->> 'digest' WHEN 'hourly' "
    "THEN notification.next_hour(coalesce($5::timestamptz, now()), coalesce(p.timezone, $6)) "
    "ELSE notification.next_local(coalesce($5::timestamptz, now()), coalesce(p.timezone, $6), "
    "time '08:00') END AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM (SELECT 1) x "
    "LEFT JOIN "
    "notification.preferences p ON p.club_id = $1::uuid AND p.user_id = $2 LEFT JOIN "
    "notification.club_defaults c ON c.club_id = $1::uuid";

int notify_prefs_decide(db_tx_t *tx, const char *club, const char *user, const char *category,
                        const char *channel, int critical, const char *default_tz, const char *at,
                        int *send, char deliver_at[40], int *digest, err_t *e) {
    *send = 1;
    *digest = 0;
    deliver_at[0] = '\0';
    if (!user || !*user) return 0;
    const char *p[] = {club,    user, category,
                       channel, at,   default_tz && *default_tz ? default_tz : "UTC"};
    PGresult *r = db_exec(tx, k_sql_decide, 6, p, e);
    if (!r) return -1;
    if (!critical && !notify_category_mandatory(category)) *send = PQgetvalue(r, 0, 0)[0] == 't';
    if (!critical && strcmp(channel, "in_app") != 0)
        snprintf(deliver_at, 40, "%s", PQgetvalue(r, 0, 1));
    /* a daily digest: the email waits for the next 08:00 in the user's zone */
    if (!critical && !notify_category_mandatory(category) && strcmp(channel, "email") == 0 &&
        PQgetvalue(r, 0, 2)[0] != 'f') {
        *digest = PQgetvalue(r, 0, 2)[0] == 'h' ? 2 : 1;
        snprintf(deliver_at, 40, "%s", PQgetvalue(r, 0, 3));
    }
    PQclear(r);
    return 0;
}

int notify_quiet_until(db_tx_t *tx, const char *at, const char *tz, const char *qs, const char *qe,
                       char out[40], err_t *e) {
    const char *p[] = {at, tz, qs, qe};
    out[0] = '\0';
    PGresult *r = db_exec(tx,
                          "SELECT coalesce(to_char(notification.quiet_until($1::timestamptz, $2, "
                          "$3::time, $4::time) AT TIME ZONE 'UTC', "
                          "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')",
                          4, p, e);
    if (!r) return -1;
    snprintf(out, 40, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}
