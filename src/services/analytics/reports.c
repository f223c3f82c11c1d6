/* reports: the club and network reports over the rollups, the rebuild and the retention job
 * (see reports.h, docs/analytics.md). PostgreSQL builds each report document; the handler adds
 * the partner names (reciprocal's club_partners: the caller's own directory) and the flags that
 * need it. */
#include "services/analytics/reports.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "services/analytics/analytics.h"

static const char *const k_periods[] = {"day", "week", "month", "year", NULL};
static const char *const k_formats[] = {"json", "csv", NULL};

/* A date field YYYY-MM-DD (shape only; PostgreSQL checks the calendar: 422 below). */
static int date_field(json_t *in, const char *name, err_t *e) {
    const char *s;
    if (jsonx_string(in, name, 0, 10, 10, &s, e) != 0) return -1;
    if (!s) return 0;
    for (int i = 0; i < 10; i++) {
        int dash = i == 4 || i == 7;
        if (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return err_set(e, 422, "invalid_field", name, "%s must be a date YYYY-MM-DD", name);
    }
    int m = atoi(s + 5), d = atoi(s + 8);
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return err_set(e, 422, "invalid_field", name, "%s must be a date YYYY-MM-DD", name);
    return 0;
}

static int uuid_field(json_t *in, const char *name, int required, err_t *e) {
    const char *s;
    if (jsonx_string(in, name, required, 1, 64, &s, e) != 0) return -1;
    if (s && !jsonx_is_uuid(s))
        return err_set(e, 422, "invalid_field", name, "%s must be a uuid", name);
    if (s) {
        char low[40];
        snprintf(low, sizeof low, "%s", s);
        for (char *c = low; *c; c++)
            if (*c >= 'A' && *c <= 'F') *c = (char)(*c + 32);
        json_object_set_new(in, name, json_string(low));
    }
    return 0;
}

/* from/to (both or neither, from <= to, at most 3660 days apart: checked in SQL) or period +
 * date; top 1..50; format json|csv. Query values arrive as strings. */
static int range_fields(json_t *in, err_t *e) {
    long long top = 5;
    const char *period, *format;
    if (date_field(in, "from", e) != 0 || date_field(in, "to", e) != 0 ||
        date_field(in, "date", e) != 0 || jsonx_enum(in, "period", 0, k_periods, &period, e) != 0 ||
        jsonx_enum(in, "format", 0, k_formats, &format, e) != 0 ||
        jsonx_int(in, "top", 0, 1, 50, 5, &top, e) != 0)
        return -1;
    json_object_set_new(in, "top", json_integer(top));
    int has_from = json_object_get(in, "from") != NULL, has_to = json_object_get(in, "to") != NULL;
    if (has_from != has_to)
        return err_set(e, 400, "invalid_field", has_from ? "to" : "from",
                       "from and to go together");
    if (has_from && strcmp(json_string_value(json_object_get(in, "from")),
                           json_string_value(json_object_get(in, "to"))) > 0)
        return err_set(e, 422, "invalid_field", "to", "to must not be before from");
    return 0;
}

int analytics_validate_report(json_t *in, err_t *e) {
    if (uuid_field(in, "id", 1, e) != 0 || uuid_field(in, "partner", 0, e) != 0) return -1;
    return range_fields(in, e);
}

int analytics_validate_network(json_t *in, err_t *e) {
    return range_fields(in, e);
}

int analytics_validate_none(json_t *in, err_t *e) {
    (void)in;
    (void)e;
    return 0;
}

/* The range CTEs shared by both reports: z (time zone), r (f, t: the range; lf, lt: the same
 * period last year; yf: start of the trailing 12 months ending at t). $1 club (NULL: network,
 * UTC), $2 from, $3 to, $4 period, $5 date. */
#define RANGE_SQL                                                                                  \
    "WITH z AS (SELECT coalesce((SELECT timezone FROM analytics.clubs WHERE club_id = "            \
    "$1::uuid), 'UTC') AS tz), "                                                                   \
    "a AS (SELECT coalesce($5::date, (now() AT TIME ZONE z.tz)::date)::timestamp AS d FROM z), "   \
    "r0 AS (SELECT coalesce($2::date, date_trunc($4, a.d)::date) AS f, "                           \
    "coalesce($3::date, (date_trunc($4, a.d) + ('1 ' || $4)::interval)::date - 1) AS t FROM a), "  \
    "r AS (SELECT f, t, (f - interval '1 year')::date AS lf, (t - interval '1 year')::date AS "    \
    "lt, "                                                                                         \
    "(date_trunc('month', t) - interval '11 months')::date AS yf, "                                \
    "(t - interval '1 year')::date + 1 AS tf FROM r0), "

/* The club report: $6 partner (NULL = all), $7 top. */
static const char k_sql_club[] = RANGE_SQL
    "v AS (SELECT dv.* FROM analytics.daily_visits dv, r WHERE (dv.host_club_id = $1::uuid OR "
    "dv.home_club_id = $1::uuid) AND dv.day BETWEEN least(r.lf, (r.yf - interval '1 year')::date) "
    "AND r.t AND "
    "($6::uuid IS NULL OR dv.host_club_id = $6::uuid OR dv.home_club_id = $6::uuid)), "
    "vr AS (SELECT v.* FROM v, r WHERE v.day BETWEEN r.f AND r.t), "
    "mo AS (SELECT dm.* FROM analytics.daily_money dm, r WHERE (dm.host_club_id = $1::uuid OR "
    "dm.home_club_id = $1::uuid) AND dm.day BETWEEN r.lf AND r.t AND ($6::uuid IS NULL OR "
    "dm.host_club_id = $6::uuid OR dm.home_club_id = $6::uuid)), "
    "mr AS (SELECT mo.* FROM mo, r WHERE mo.day BETWEEN r.f AND r.t), "
    "tin AS (SELECT coalesce(sum(requested), 0) AS requested, coalesce(sum(approved), 0) AS "
    "approved, coalesce(sum(declined), 0) AS declined, coalesce(sum(confirmed), 0) AS confirmed, "
    "coalesce(sum(checked_in), 0) AS checked_in, coalesce(sum(completed), 0) AS completed, "
    "coalesce(sum(no_show), 0) AS no_show, coalesce(sum(cancelled), 0) AS cancelled, "
    "coalesce(sum(visits), 0) AS visits, coalesce(sum(visitor_days), 0) AS visitor_days, "
    "coalesce(sum(visitor_nights), 0) AS visitor_nights, coalesce(sum(guests), 0) AS guests, "
    "coalesce(sum(lead_0_1), 0) AS l01, coalesce(sum(lead_2_7), 0) AS l27, "
    "coalesce(sum(lead_8), 0) AS l8 FROM vr WHERE host_club_id = $1::uuid), "
    "tout AS (SELECT coalesce(sum(visits), 0) AS visits, coalesce(sum(visitor_days), 0) AS "
    "visitor_days, coalesce(sum(visitor_nights), 0) AS visitor_nights, coalesce(sum(guests), 0) "
    "AS guests, coalesce(sum(requested), 0) AS requested FROM vr WHERE home_club_id = $1::uuid), "
    "uin AS (SELECT count(DISTINCT k) AS n FROM vr, unnest(vr.member_keys) k WHERE "
    "vr.host_club_id = $1::uuid), "
    "uout AS (SELECT count(DISTINCT k) AS n FROM vr, unnest(vr.member_keys) k WHERE "
    "vr.home_club_id = $1::uuid), "
    "med AS (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY s) AS m FROM vr, "
    "unnest(vr.approve_secs) s WHERE vr.host_club_id = $1::uuid), "
    "cur AS (SELECT jsonb_agg(jsonb_build_object('currency', currency, 'amount_minor', amt) "
    "ORDER BY currency) FILTER (WHERE side = 'h') AS rev, jsonb_agg(jsonb_build_object("
    "'currency', currency, 'amount_minor', amt) ORDER BY currency) FILTER (WHERE side = 'o') AS "
    "spend FROM (SELECT CASE WHEN host_club_id = $1::uuid THEN 'h' ELSE 'o' END AS side, "
    "currency, sum(amount_minor) AS amt FROM mr GROUP BY 1, 2) s), "
    "pv AS (SELECT CASE WHEN host_club_id = $1::uuid THEN home_club_id ELSE host_club_id END AS "
    "p, coalesce(sum(visits) FILTER (WHERE host_club_id = $1::uuid), 0) AS vin, "
    "coalesce(sum(visits) FILTER (WHERE home_club_id = $1::uuid), 0) AS vout FROM vr GROUP BY 1), "
    "pm AS (SELECT CASE WHEN host_club_id = $1::uuid THEN home_club_id ELSE host_club_id END AS "
    "p, currency, coalesce(sum(amount_minor) FILTER (WHERE host_club_id = $1::uuid), 0) AS rev, "
    "coalesce(sum(amount_minor) FILTER (WHERE home_club_id = $1::uuid), 0) AS spend FROM mr "
    "GROUP BY 1, 2), "
    "pp AS (SELECT p FROM pv UNION SELECT p FROM pm), "
    "part AS (SELECT pp.p, coalesce(pv.vin, 0) AS vin, coalesce(pv.vout, 0) AS vout, "
    "coalesce((SELECT jsonb_agg(jsonb_build_object('currency', pm.currency, 'revenue_minor', "
    "pm.rev, 'spend_minor', pm.spend, 'net_minor', pm.rev - pm.spend) ORDER BY pm.currency) FROM "
    "pm WHERE pm.p = pp.p), '[]') AS money FROM pp LEFT JOIN pv ON pv.p = pp.p), "
    "trail AS (SELECT CASE WHEN host_club_id = $1::uuid THEN home_club_id ELSE host_club_id END "
    "AS p, coalesce(sum(visits) FILTER (WHERE host_club_id = $1::uuid), 0) AS vin, "
    "coalesce(sum(visits) FILTER (WHERE home_club_id = $1::uuid), 0) AS vout, "
    "coalesce(sum(requested), 0) AS req FROM v, r WHERE v.day BETWEEN r.tf AND r.t GROUP BY 1), "
    "mon AS (SELECT g::date AS m FROM r, generate_series(r.yf, r.t, interval '1 month') g), "
    "seas AS (SELECT jsonb_agg(jsonb_build_object('month', to_char(mon.m, 'YYYY-MM'), "
    "'visits_in', (SELECT coalesce(sum(visits), 0) FROM v WHERE host_club_id = $1::uuid AND "
    "date_trunc('month', day) = mon.m), 'visits_out', (SELECT coalesce(sum(visits), 0) FROM v "
    "WHERE home_club_id = $1::uuid AND date_trunc('month', day) = mon.m), 'last_year_in', "
    "(SELECT coalesce(sum(visits), 0) FROM v WHERE host_club_id = $1::uuid AND "
    "date_trunc('month', day) = mon.m - interval '1 year'), 'last_year_out', (SELECT "
    "coalesce(sum(visits), 0) FROM v WHERE home_club_id = $1::uuid AND date_trunc('month', day) "
    "= mon.m - interval '1 year')) ORDER BY mon.m) AS j FROM mon), "
    "ly AS (SELECT coalesce(sum(visits) FILTER (WHERE host_club_id = $1::uuid), 0) AS vin, "
    "coalesce(sum(visits) FILTER (WHERE home_club_id = $1::uuid), 0) AS vout, "
    "coalesce(sum(requested) FILTER (WHERE host_club_id = $1::uuid), 0) AS req FROM v, r WHERE "
    "v.day BETWEEN r.lf AND r.lt), "
    "lym AS (SELECT jsonb_agg(jsonb_build_object('currency', currency, 'revenue_minor', rev, "
    "'spend_minor', spend) ORDER BY currency) AS j FROM (SELECT currency, coalesce(sum("
    "amount_minor) FILTER (WHERE host_club_id = $1::uuid), 0) AS rev, coalesce(sum(amount_minor) "
    "FILTER (WHERE home_club_id = $1::uuid), 0) AS spend FROM mo, r WHERE mo.day BETWEEN r.lf "
    "AND r.lt GROUP BY 1) s), "
    "us AS (SELECT coalesce(sum(sign_ins), 0) AS sign_ins, (SELECT count(DISTINCT k) FROM "
    "analytics.daily_usage u2, r, unnest(u2.member_keys) k WHERE u2.club_id = $1::uuid AND "
    "u2.day BETWEEN r.f AND r.t) AS active FROM analytics.daily_usage u, r WHERE u.club_id = "
    "$1::uuid AND u.day BETWEEN r.f AND r.t) "
    "SELECT jsonb_build_object('club_id', $1::uuid, 'timezone', z.tz, 'from', r.f, 'to', r.t, "
    "'partner', $6::uuid, "
    "'visits_in', tin.visits, 'visits_out', tout.visits, 'unique_visitors_in', uin.n, "
    "'unique_visitors_out', uout.n, 'visitor_days_in', tin.visitor_days, 'visitor_nights_in', "
    "tin.visitor_nights, 'visitor_days_out', tout.visitor_days, 'visitor_nights_out', "
    "tout.visitor_nights, 'guests_in', tin.guests, 'guests_out', tout.guests, "
    "'requests_in', tin.requested, 'requests_out', tout.requested, "
    "'statuses_in', jsonb_build_object('approved', tin.approved, 'declined', tin.declined, "
    "'confirmed', tin.confirmed, 'checked_in', tin.checked_in, 'completed', tin.completed, "
    "'no_show', tin.no_show, 'cancelled', tin.cancelled), "
    "'no_show_rate', round(tin.no_show::numeric / nullif(tin.confirmed + tin.checked_in + "
    "tin.completed + tin.no_show, 0), 4), "
    "'cancellation_rate', round(tin.cancelled::numeric / nullif(tin.requested, 0), 4), "
    "'loi_approval_rate', round(tin.approved::numeric / nullif(tin.approved + tin.declined, 0), "
    "4), 'median_approve_seconds', med.m, "
    "'lead_time', jsonb_build_object('0-1', tin.l01, '2-7', tin.l27, '8+', tin.l8), "
    "'revenue', coalesce(cur.rev, '[]'), 'spend_abroad', coalesce(cur.spend, '[]'), "
    "'partners', coalesce((SELECT jsonb_agg(jsonb_build_object('partner_club_id', p, "
    "'visits_in', vin, 'visits_out', vout, 'net_visits', vin - vout, 'money', money) ORDER BY p) "
    "FROM part), '[]'), "
    "'top_by_visits', coalesce((SELECT jsonb_agg(jsonb_build_object('partner_club_id', p, "
    "'visits', vin + vout) ORDER BY vin + vout DESC, p) FROM (SELECT * FROM part WHERE vin + "
    "vout > 0 ORDER BY vin + vout DESC, p LIMIT $7::int) s), '[]'), "
    "'top_by_revenue', coalesce((SELECT jsonb_agg(jsonb_build_object('partner_club_id', p, "
    "'currency', currency, 'revenue_minor', rev) ORDER BY rev DESC, currency, p) FROM (SELECT * "
    "FROM pm WHERE rev > 0 ORDER BY rev DESC, currency, p LIMIT $7::int) s), '[]'), "
    "'seasonality', coalesce(seas.j, '[]'), "
    "'same_period_last_year', jsonb_build_object('from', r.lf, 'to', r.lt, 'visits_in', ly.vin, "
    "'visits_out', ly.vout, 'requests_in', ly.req, 'money', coalesce(lym.j, '[]')), "
    "'usage', jsonb_build_object('sign_ins', us.sign_ins, 'active_members', us.active), "
    "'trailing', coalesce((SELECT jsonb_agg(jsonb_build_object('partner_club_id', p, "
    "'visits_in', vin, 'visits_out', vout, 'requests', req) ORDER BY p) FROM trail), '[]'), "
    "'trailing_from', r.tf)::text "
    "FROM z, r, tin, tout, uin, uout, med, cur, seas, ly, lym, us";

/* The partner directory of the caller's club (reciprocal.club_partners): items or NULL when the
 * reciprocal service does not answer (names then stay null, and "unused" is not flagged). */
static json_t *directory(const svc_call_t *call, const char *club) {
    int status = 0;
    json_t *out = NULL;
    err_t e = {0};
    svc_caller_t c = *call->caller;
    if (c.network_admin) snprintf(c.club_id, sizeof c.club_id, "%s", club);
    json_t *in = json_pack("{s:s}", "id", club);
    int rc = svc_call(call->env, "reciprocal", "club_partners", &c, in, &status, &out, &e);
    json_decref(in);
    if (rc != 0) {
        json_decref(out);
        return NULL;
    }
    json_t *items = json_incref(json_object_get(out, "items"));
    json_decref(out);
    return items;
}

static json_t *find_partner(json_t *dir, const char *id) {
    size_t i;
    json_t *it;
    json_array_foreach(dir, i, it) {
        const char *p = json_string_value(json_object_get(it, "partner_club_id"));
        if (p && strcasecmp(p, id) == 0) return it;
    }
    return NULL;
}

static void name_items(json_t *items, json_t *dir) {
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        json_t *d =
            find_partner(dir, json_string_value(json_object_get(it, "partner_club_id")) ?: "");
        json_object_set(it, "partner_name", d ? json_object_get(d, "partner_name") : json_null());
    }
}

/* Flags: one_sided (trailing 12 months: in > 3 x out and in + out >= 20), unused (a partner of
 * the directory with an active agreement and no request either way in the trailing 12 months).
 * The trailing figures are dropped from the answer afterwards. */
static void add_flags(json_t *doc, json_t *dir) {
    json_t *flags = json_array(), *trail = json_object_get(doc, "trailing");
    size_t i;
    json_t *it;
    json_array_foreach(trail, i, it) {
        long long in = json_integer_value(json_object_get(it, "visits_in"));
        long long out = json_integer_value(json_object_get(it, "visits_out"));
        if (in > 3 * out && in + out >= 20)
            json_array_append_new(flags, json_pack("{s:s, s:O, s:I, s:I}", "flag", "one_sided",
                                                   "partner_club_id",
                                                   json_object_get(it, "partner_club_id"),
                                                   "visits_in", in, "visits_out", out));
    }
    json_array_foreach(dir, i, it) {
        const char *p = json_string_value(json_object_get(it, "partner_club_id"));
        const char *st = json_string_value(json_object_get(it, "status"));
        if (!p || (st && strcmp(st, "active") != 0)) continue;
        json_t *t = NULL;
        size_t j;
        json_t *x;
        json_array_foreach(trail, j, x) {
            const char *q = json_string_value(json_object_get(x, "partner_club_id"));
            if (q && strcasecmp(q, p) == 0 && json_integer_value(json_object_get(x, "requests")))
                t = x;
        }
        if (!t)
            json_array_append_new(flags,
                                  json_pack("{s:s, s:s}", "flag", "unused", "partner_club_id", p));
    }
    name_items(flags, dir);
    json_object_set_new(doc, "flags", flags);
    json_object_del(doc, "trailing");
}

static const char *str_or_null(json_t *in, const char *k) {
    return json_string_value(json_object_get(in, k));
}

int analytics_club_report(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = str_or_null(in, "id");
    if (!call->caller->network_admin && strcasecmp(club, call->caller->club_id) != 0)
        return err_set(e, 403, "forbidden", "id", "a club sees its own reports only");
    char top[16];
    json_t *t = json_object_get(in, "top");
    snprintf(top, sizeof top, "%lld", json_is_integer(t) ? json_integer_value(t) : 5LL);
    const char *period = str_or_null(in, "period") ? str_or_null(in, "period") : "month";
    const char *p[] = {club,   str_or_null(in, "from"), str_or_null(in, "to"),
                       period, str_or_null(in, "date"), str_or_null(in, "partner"),
                       top};
    db_scope_t scope = svc_scope(call, club);
    PGresult *r = db_read(call->env->db, &scope, k_sql_club, 7, p, e);
    if (!r) {
        if (e->status == 500 && strstr(e->message, "date"))
            err_set(e, 422, "invalid_field", "from", "not a valid date range");
        return -1;
    }
    json_t *doc = db_json(r, 0, 0, e);
    PQclear(r);
    if (!doc) return -1;
    json_t *dir = directory(call, club);
    name_items(json_object_get(doc, "partners"), dir);
    name_items(json_object_get(doc, "top_by_visits"), dir);
    name_items(json_object_get(doc, "top_by_revenue"), dir);
    add_flags(doc, dir);
    json_decref(dir);
    *out = doc;
    return 0;
}

/* The network report: per host club x home club, the visits (checked in or completed) over the
 * range, with the club totals; network administrators only (RLS: every row). */
static const char k_sql_network[] = RANGE_SQL
    "v AS (SELECT host_club_id, home_club_id, sum(visits) AS n, sum(requested) AS req, "
    "sum(no_show) AS ns, sum(confirmed + checked_in + completed + no_show) AS held, "
    "sum(cancelled) AS canc FROM analytics.daily_visits dv, r WHERE dv.day BETWEEN r.f AND r.t "
    "GROUP BY 1, 2) "
    "SELECT jsonb_build_object('from', r.f, 'to', r.t, "
    "'cells', coalesce((SELECT jsonb_agg(jsonb_build_array(host_club_id, home_club_id, n) ORDER "
    "BY host_club_id, home_club_id) FROM v WHERE n > 0), '[]'), "
    "'requests', (SELECT coalesce(sum(req), 0) FROM v), "
    "'no_show_rate', (SELECT round(sum(ns)::numeric / nullif(sum(held), 0), 4) FROM v), "
    "'cancellation_rate', (SELECT round(sum(canc)::numeric / nullif(sum(req), 0), 4) FROM v))"
    "::text FROM r";

int analytics_network_report(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *period = str_or_null(in, "period") ? str_or_null(in, "period") : "month";
    const char *p[] = {NULL, str_or_null(in, "from"), str_or_null(in, "to"), period,
                       str_or_null(in, "date")};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope, k_sql_network, 5, p, e);
    if (!r) return -1;
    json_t *doc = db_json(r, 0, 0, e);
    PQclear(r);
    if (!doc) return -1;
    *out = doc;
    return 0;
}

/* Runs sql in the relay scope (the consumers' writer rights) for a network administrator. */
static PGresult *as_relay(const svc_call_t *call, const char *sql, int n, const char *const *p,
                          err_t *e) {
    db_scope_t scope = svc_scope(call, NULL);
    scope.relay = 1;
    db_tx_t *tx = NULL;
    if (db_begin(call->env->db, &scope, &tx, e) != 0) return NULL;
    PGresult *r = db_exec(tx, sql, n, p, e);
    if (!r) {
        db_rollback(tx);
        return NULL;
    }
    if (db_commit(tx, e) != 0) {
        PQclear(r);
        return NULL;
    }
    return r;
}

int analytics_rebuild(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    PGresult *r = as_relay(call,
                           "SELECT analytics.rebuild(), (SELECT count(*) FROM "
                           "analytics.daily_visits), (SELECT count(*) FROM analytics.daily_money), "
                           "(SELECT count(*) FROM analytics.daily_usage)",
                           0, NULL, e);
    if (!r) return -1;
    *out = json_pack("{s:I, s:I, s:I}", "daily_visits", atoll(PQgetvalue(r, 0, 1)), "daily_money",
                     atoll(PQgetvalue(r, 0, 2)), "daily_usage", atoll(PQgetvalue(r, 0, 3)));
    PQclear(r);
    return 0;
}

static int drop_old(const svc_env_t *env, const svc_call_t *call, long long *n, err_t *e) {
    char days[24];
    snprintf(days, sizeof days, "%d", analytics_settings(env)->retention_days);
    const char *p[] = {days};
    static const char sql[] =
        "SELECT analytics.drop_months_before(now() - make_interval(days => $1::int))";
    PGresult *r;
    if (call) {
        r = as_relay(call, sql, 1, p, e);
    } else {
        db_scope_t scope = {.relay = 1};
        db_tx_t *tx = NULL;
        if (db_begin(env->db, &scope, &tx, e) != 0) return -1;
        r = db_exec(tx, sql, 1, p, e);
        if (!r) db_rollback(tx);
        if (r && db_commit(tx, e) != 0) {
            PQclear(r);
            r = NULL;
        }
    }
    if (!r) return -1;
    *n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int analytics_retention(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    long long n = 0;
    if (drop_old(call->env, call, &n, e) != 0) return -1;
    *out = json_pack("{s:I}", "dropped_partitions", n);
    return 0;
}

int analytics_retention_run(const svc_env_t *env, void *arg, err_t *e) {
    (void)arg;
    long long n = 0;
    return drop_old(env, NULL, &n, e);
}
