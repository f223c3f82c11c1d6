/* reports: the club and network reports over the rollups, the rebuild and the retention job
 * (see reports.h, docs/analytics.md). PostgreSQL builds each report document; the handler adds
 * the partner names (reciprocal's club_partners: the caller's own directory) and the flags that
 * need it. */
#include "services/analytics/reports.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/strbuf.h"
#include "lib/csv/csv.h"
#include "services/analytics/analytics.h"
#include "services/analytics/suppress.h"

int analytics_report_reference = 0;

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
    if (has_from != has_to) /* one end of a range without the other: a field is missing */
        return err_missing(e, has_from ? "to" : "from");
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

/* The club report over the daily rollups only (the reference the monthly path is tested
 * against, analytics_report_reference): $6 partner (NULL = all), $7 top. */
static const char k_sql_club_daily[] = RANGE_SQL
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
    "vm AS (SELECT date_trunc('month', day)::date AS m, coalesce(sum(visits) FILTER (WHERE "
    "host_club_id = $1::uuid), 0) AS vin, coalesce(sum(visits) FILTER (WHERE home_club_id = "
    "$1::uuid), 0) AS vout FROM v GROUP BY 1), "
    "seas AS (SELECT jsonb_agg(jsonb_build_object('month', to_char(mon.m, 'YYYY-MM'), "
    "'visits_in', coalesce(a.vin, 0), 'visits_out', coalesce(a.vout, 0), 'last_year_in', "
    "coalesce(b.vin, 0), 'last_year_out', coalesce(b.vout, 0)) ORDER BY mon.m) AS j FROM mon "
    "LEFT JOIN vm a ON a.m = mon.m LEFT JOIN vm b ON b.m = (mon.m - interval '1 year')::date), "
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
    "$1::uuid AND u.day BETWEEN r.f AND r.t), "
    "rm AS (SELECT (SELECT rooms FROM analytics.capacity WHERE club_id = $1::uuid) AS cap, "
    "(SELECT coalesce(sum(dr.rooms), 0) FROM analytics.daily_rooms dr WHERE dr.host_club_id = "
    "$1::uuid AND dr.night BETWEEN r.f AND r.t AND ($6::uuid IS NULL OR dr.home_club_id = "
    "$6::uuid)) AS used, r.t - r.f + 1 AS nights FROM r) "
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
    "'rooms', jsonb_build_object('capacity', rm.cap, 'room_nights', rm.used, "
    "'available_room_nights', rm.cap * rm.nights, 'utilisation', round(rm.used::numeric / "
    "nullif(rm.cap * rm.nights, 0), 4)), "
    "'trailing', coalesce((SELECT jsonb_agg(jsonb_build_object('partner_club_id', p, "
    "'visits_in', vin, 'visits_out', vout, 'requests', req) ORDER BY p) FROM trail), '[]'), "
    "'trailing_from', r.tf)::text "
    "FROM z, r, tin, tout, uin, uout, med, cur, seas, ly, lym, us, rm";

/* The club report: analytics.club_report (migration 0006): the monthly level for whole months,
 * the daily rows for split months and edge days (docs/analytics.md "Report speed: monthly
 * rollups"); $6 partner (NULL = all), $7 top. */
static const char k_sql_club[] = "SELECT analytics.club_report($1::uuid, $2::date, $3::date, $4, "
                                 "$5::date, $6::uuid, $7::int)";

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

int analytics_club_doc(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
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
    PGresult *r = db_read(call->env->db, &scope,
                          analytics_report_reference ? k_sql_club_daily : k_sql_club, 7, p, e);
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

/* ---- CSV (RFC 4180, CRLF records): one row per figure --------------------------------- */

static void csv_row(strbuf_t *b, const char *scope, const char *partner, const char *name,
                    const char *measure, const char *currency, const char *value) {
    csv_put_field(b, scope, 0);
    strbuf_puts(b, ",");
    csv_put_field(b, partner, 0);
    strbuf_puts(b, ",");
    csv_put_field(b, name, CSV_TEXT);
    strbuf_puts(b, ",");
    csv_put_field(b, measure, 0);
    strbuf_puts(b, ",");
    csv_put_field(b, currency, 0);
    strbuf_puts(b, ",");
    csv_put_field(b, value, 0);
    strbuf_puts(b, "\r\n");
}

/* The text of a JSON number or null ("" for null). */
static const char *num_text(json_t *v, char buf[48]) {
    if (json_is_integer(v))
        snprintf(buf, 48, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, 48, "%.4f", json_real_value(v));
    else if (json_is_string(v))
        snprintf(buf, 48, "%s", json_string_value(v));
    else
        buf[0] = '\0';
    return buf;
}

static char *club_csv(json_t *doc) {
    strbuf_t b = {0};
    char buf[48];
    strbuf_puts(&b, "scope,partner_club_id,partner_name,measure,currency,value\r\n");
    static const char *const k_club[] = {"visits_in",
                                         "visits_out",
                                         "unique_visitors_in",
                                         "unique_visitors_out",
                                         "visitor_days_in",
                                         "visitor_nights_in",
                                         "visitor_days_out",
                                         "visitor_nights_out",
                                         "guests_in",
                                         "guests_out",
                                         "requests_in",
                                         "requests_out",
                                         "no_show_rate",
                                         "cancellation_rate",
                                         "loi_approval_rate",
                                         "median_approve_seconds",
                                         NULL};
    for (const char *const *k = k_club; *k; k++)
        csv_row(&b, "club", NULL, NULL, *k, NULL, num_text(json_object_get(doc, *k), buf));
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(doc, "statuses_in"), key, v) {
        char m[64];
        snprintf(m, sizeof m, "%s_in", key);
        csv_row(&b, "club", NULL, NULL, m, NULL, num_text(v, buf));
    }
    json_object_foreach(json_object_get(doc, "lead_time"), key, v) {
        char m[64];
        snprintf(m, sizeof m, "lead_time_%s", key);
        csv_row(&b, "club", NULL, NULL, m, NULL, num_text(v, buf));
    }
    json_object_foreach(json_object_get(doc, "usage"), key, v)
        csv_row(&b, "club", NULL, NULL, key, NULL, num_text(v, buf));
    json_object_foreach(json_object_get(doc, "rooms"), key, v) {
        char m[64];
        snprintf(m, sizeof m, "rooms_%s", key);
        csv_row(&b, "club", NULL, NULL, m, NULL, num_text(v, buf));
    }
    static const char *const k_money[] = {"revenue", "spend_abroad", NULL};
    for (const char *const *k = k_money; *k; k++) {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(doc, *k), i, it)
            csv_row(&b, "club", NULL, NULL, *k, str_or_null(it, "currency"),
                    num_text(json_object_get(it, "amount_minor"), buf));
    }
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(doc, "partners"), i, p) {
        const char *id = str_or_null(p, "partner_club_id"), *name = str_or_null(p, "partner_name");
        static const char *const k_p[] = {"visits_in", "visits_out", "net_visits", NULL};
        for (const char *const *k = k_p; *k; k++)
            csv_row(&b, "partner", id, name, *k, NULL, num_text(json_object_get(p, *k), buf));
        size_t j;
        json_t *m;
        json_array_foreach(json_object_get(p, "money"), j, m) {
            static const char *const k_m[] = {"revenue_minor", "spend_minor", "net_minor", NULL};
            for (const char *const *k = k_m; *k; k++)
                csv_row(&b, "partner", id, name, *k, str_or_null(m, "currency"),
                        num_text(json_object_get(m, *k), buf));
        }
    }
    json_array_foreach(json_object_get(doc, "seasonality"), i, p) {
        static const char *const k_s[] = {"visits_in", "visits_out", "last_year_in",
                                          "last_year_out", NULL};
        for (const char *const *k = k_s; *k; k++) {
            char m[64];
            snprintf(m, sizeof m, "%s_%s", *k, str_or_null(p, "month") ?: "");
            csv_row(&b, "month", NULL, NULL, m, NULL, num_text(json_object_get(p, *k), buf));
        }
    }
    json_array_foreach(json_object_get(doc, "flags"), i, p)
        csv_row(&b, "flag", str_or_null(p, "partner_club_id"), str_or_null(p, "partner_name"),
                str_or_null(p, "flag"), NULL, "1");
    return strbuf_take(&b);
}

static int is_csv(json_t *in) {
    const char *f = str_or_null(in, "format");
    return f && strcmp(f, "csv") == 0;
}

int analytics_club_report(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    json_t *doc = NULL;
    if (analytics_club_doc(call, in, &doc, e) != 0) return -1;
    if (!is_csv(in)) {
        *out = doc;
        return 0;
    }
    char *body = club_csv(doc), name[96];
    snprintf(name, sizeof name, "analytics-%s-%s-%s.csv", str_or_null(in, "id"),
             str_or_null(doc, "from"), str_or_null(doc, "to"));
    json_decref(doc);
    *out = body ? svc_raw_output("text/csv; charset=utf-8", name, body) : NULL;
    free(body);
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
}

/* The network report's document after its month list (both paths): the weekday list, the
 * measures, the rates, the money and the host x home cells, from the CTEs uv, t, rn, us, md, mo,
 * v and sw. */
#define NET_DOC_TAIL                                                                               \
    "'weekday_cells', (SELECT jsonb_agg(coalesce(sw.n, 0) ORDER BY d) FROM generate_series(1, 7) " \
    "d LEFT JOIN sw USING (d)), "                                                                  \
    "'measures', (SELECT jsonb_build_object('unique_visitors', uv.n, 'visitor_days', t.vd, "       \
    "'visitor_nights', t.vn, 'guests', t.g, 'lois_issued', t.ap, 'lois_declined', t.de, "          \
    "'lead_time_0_1', t.l01, 'lead_time_2_7', t.l27, 'lead_time_8', t.l8, 'room_nights', rn.n, "   \
    "'sign_ins', us.si, 'active_members', us.act) FROM t, uv, rn, us), "                           \
    "'loi_approval_rate', (SELECT round(ap::numeric / nullif(ap + de, 0), 4) FROM t), "            \
    "'loi_decided', (SELECT ap + de FROM t), "                                                     \
    "'median_approve_seconds', (SELECT m FROM md), 'approvals', (SELECT n FROM md), "              \
    "'money', coalesce((SELECT j FROM mo), '[]'), "                                                \
    "'cells', coalesce((SELECT jsonb_agg(jsonb_build_array(host_club_id, home_club_id, n) ORDER "  \
    "BY host_club_id, home_club_id) FROM v WHERE n > 0), '[]'), "                                  \
    "'requests', (SELECT coalesce(sum(req), 0) FROM v), "                                          \
    "'held', (SELECT coalesce(sum(held), 0) FROM v), "                                             \
    "'no_show_rate', (SELECT round(sum(ns)::numeric / nullif(sum(held), 0), 4) FROM v), "          \
    "'cancellation_rate', (SELECT round(sum(canc)::numeric / nullif(sum(req), 0), 4) FROM v))"     \
    "::text"

/* The network report over the daily rollups only (the reference the monthly path is tested
 * against, analytics_report_reference): per host club x home club, the visits (checked in or
 * completed) over the range, with the club totals; network administrators only (RLS: every
 * row). */
static const char k_sql_network_daily[] = RANGE_SQL
    "v AS (SELECT host_club_id, home_club_id, sum(visits) AS n, sum(requested) AS req, "
    "sum(no_show) AS ns, sum(confirmed + checked_in + completed + no_show) AS held, "
    "sum(cancelled) AS canc FROM analytics.daily_visits dv, r WHERE dv.day BETWEEN r.f AND r.t "
    "GROUP BY 1, 2), "
    "t AS (SELECT coalesce(sum(visitor_days), 0) AS vd, coalesce(sum(visitor_nights), 0) AS vn, "
    "coalesce(sum(guests), 0) AS g, coalesce(sum(approved), 0) AS ap, coalesce(sum(declined), 0) "
    "AS de, coalesce(sum(lead_0_1), 0) AS l01, coalesce(sum(lead_2_7), 0) AS l27, "
    "coalesce(sum(lead_8), 0) AS l8 FROM analytics.daily_visits dv, r WHERE dv.day BETWEEN r.f "
    "AND r.t), "
    "uv AS (SELECT count(DISTINCT k) AS n FROM analytics.daily_visits dv, r, "
    "unnest(dv.member_keys) k WHERE dv.day BETWEEN r.f AND r.t), "
    "md AS (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY s) AS m, count(*) AS n FROM "
    "analytics.daily_visits dv, r, unnest(dv.approve_secs) s WHERE dv.day BETWEEN r.f AND r.t), "
    "mo AS (SELECT jsonb_agg(jsonb_build_array(currency, amt, n) ORDER BY currency) AS j FROM "
    "(SELECT currency, sum(amount_minor) AS amt, sum(charges) AS n FROM analytics.daily_money "
    "dm, r WHERE dm.day BETWEEN r.f AND r.t GROUP BY 1) s), "
    "rn AS (SELECT coalesce(sum(rooms), 0) AS n FROM analytics.daily_rooms d, r WHERE d.night "
    "BETWEEN r.f AND r.t), "
    "us AS (SELECT coalesce(sum(sign_ins), 0) AS si, (SELECT count(DISTINCT k) FROM "
    "analytics.daily_usage u2, r, unnest(u2.member_keys) k WHERE u2.day BETWEEN r.f AND r.t) AS "
    "act FROM analytics.daily_usage u, r WHERE u.day BETWEEN r.f AND r.t), "
    /* per host club; per month of the range and per ISO weekday of the arrival day */
    "bc AS (SELECT host_club_id AS c, sum(requested) AS req, sum(guests) AS g, "
    "sum(visitor_days) AS vd FROM analytics.daily_visits dv, r WHERE dv.day BETWEEN r.f AND r.t "
    "GROUP BY 1), "
    "sm AS (SELECT to_char(date_trunc('month', dv.day), 'YYYY-MM') AS m, sum(visits) AS n FROM "
    "analytics.daily_visits dv, r WHERE dv.day BETWEEN r.f AND r.t GROUP BY 1), "
    "sw AS (SELECT extract(isodow FROM dv.day)::int AS d, sum(visits) AS n FROM "
    "analytics.daily_visits dv, r WHERE dv.day BETWEEN r.f AND r.t GROUP BY 1) "
    "SELECT jsonb_build_object('from', r.f, 'to', r.t, "
    "'by_club_cells', coalesce((SELECT jsonb_agg(jsonb_build_array(c, req, g, vd) ORDER BY c) "
    "FROM bc), '[]'), "
    "'month_cells', (SELECT jsonb_agg(jsonb_build_array(to_char(g, 'YYYY-MM'), coalesce(sm.n, "
    "0)) ORDER BY g) FROM generate_series(date_trunc('month', r.f), r.t, interval '1 month') g "
    "LEFT JOIN sm ON sm.m = to_char(g, 'YYYY-MM')), " NET_DOC_TAIL " FROM r";

/* The network report's range: from, to and the whole months wf .. we (exclusive) inside it
 * (wf >= we: none), the network in UTC; params as RANGE_SQL. */
static const char k_sql_network_range[] = RANGE_SQL
    "w AS (SELECT CASE WHEN f = date_trunc('month', f)::date THEN f ELSE (date_trunc('month', f) "
    "+ interval '1 month')::date END AS wf, CASE WHEN t + 1 = date_trunc('month', t + 1)::date "
    "THEN t + 1 ELSE date_trunc('month', t)::date END AS we FROM r) "
    "SELECT r.f, r.t, w.wf, w.we FROM r, w";

/* The network report from the monthly level (docs/analytics.md "Network report: monthly
 * level"): the whole months $3 .. $4 from the monthly rows, the edge days ($1 .. $3 - 1 and
 * $4 .. $2) from the daily rows (skipped by the planner when there are none: the range values
 * are parameters). Distinct visitors and active members are sums over home clubs and clubs of
 * the per-club scopes of key_month_counts (a member key belongs to one club), plus the edge
 * days' keys absent from every whole month at any host (key_months holds (host, home) visitor
 * rows only since analytics 0014; the probe gives the same answer with the (every host, home)
 * rows of before); the median from approve_buckets / approve_months at
 * (host, every home club). The same JSON as k_sql_network_daily. */
#define NET_NIL "'00000000-0000-0000-0000-000000000000'::uuid"
#define NET_WHOLE "(month >= $3::date AND month < $4::date)"
#define NET_EDGES(c)                                                                               \
    "($1::date < $3::date OR $4::date <= $2::date) AND ((" c " >= $1::date AND " c " < "           \
    "least($3::date, $2::date + 1)) OR (" c " >= greatest($4::date, $3::date) AND " c              \
    " <= $2::date))"
#define NET_EDGE NET_EDGES("day")
#define NET_EDGE_NIGHT NET_EDGES("night")
#define NET_VISIT_COLS                                                                             \
    "requested, approved, declined, confirmed, checked_in, completed, no_show, cancelled, "        \
    "visits, visitor_days, visitor_nights, guests, lead_0_1, lead_2_7, lead_8"
static const char k_sql_network[] =
    "WITH vv AS (SELECT host_club_id, home_club_id, month AS mon, " NET_VISIT_COLS
    " FROM analytics.monthly_visits WHERE " NET_WHOLE " UNION ALL SELECT host_club_id, "
    "home_club_id, date_trunc('month', day)::date, " NET_VISIT_COLS
    " FROM analytics.daily_visits WHERE " NET_EDGE "), "
    "v AS (SELECT "
    "host_club_id, "
    "home_club_id, "
    "sum(visits) AS n, "
    "sum(requested) AS "
    "req, "
    "sum(no_show) AS "
    "ns, sum(confirmed "
    "+ checked_in + "
    "completed + "
    "no_show) AS held, "
    "sum(cancelled) AS "
    "canc FROM vv GROUP "
    "BY 1, 2), "
    "t AS (SELECT "
    "coalesce(sum("
    "visitor_days), 0) "
    "AS vd, "
    "coalesce(sum("
    "visitor_nights), "
    "0) AS vn, "
    "coalesce(sum("
    "guests), 0) AS g, "
    "coalesce(sum("
    "approved), 0) AS "
    "ap, "
    "coalesce(sum("
    "declined), 0) "
    "AS de, "
    "coalesce(sum(lead_"
    "0_1), 0) AS l01, "
    "coalesce(sum(lead_"
    "2_7), 0) AS l27, "
    "coalesce(sum(lead_"
    "8), 0) AS l8 FROM "
    "vv), "
    "ek AS (SELECT "
    "DISTINCT "
    "home_club_id AS h, "
    "k FROM "
    "analytics.daily_"
    "visits, "
    "unnest(member_keys)"
    " k WHERE " NET_EDGE "), "
    "uv AS "
    "(SELECT "
    "(SELECT "
    "coalesce"
    "(sum(c."
    "keys), "
    "0) FROM "
    "analytic"
    "s.key_"
    "month_"
    "counts "
    "c WHERE "
    "c.kind "
    "= 'v' "
    "AND "
    "c.host_"
    "club_id "
    "="
    " " NET_NIL " AND"
    " " NET_WHOLE " AND c.prev < "
    "$3::date) + (SELECT count(*) FROM ek WHERE "
    "NOT EXISTS (SELECT 1 FROM "
    "analytics.key_months km "
    "WHERE km.kind = 'v' AND km.home_club_id = ek.h AND "
    "km.member_key = ek.k AND " NET_WHOLE ")) AS n), "
    "ea AS (SELECT s FROM "
    "analytics.daily_visits, "
    "unnest(approve_secs) s "
    "WHERE " NET_EDGE "), "
    "hb AS (SELECT b, "
    "sum(n) AS n FROM "
    "(SELECT bucket "
    "AS b, n FROM "
    "analytics."
    "approve_buckets "
    "WHERE "
    "home_club_id "
    "= " NET_NIL " AND " NET_WHOLE " UNI"
    "ON "
    "ALL "
    "SELE"
    "CT "
    "floo"
    "r(s "
    "/ "
    "1024"
    ".0):"
    ":int"
    "eger"
    ", 1 "
    "FROM"
    " ea)"
    " x "
    "GROU"
    "P "
    "BY "
    "b), "
    "hk "
    "AS "
    "(SEL"
    "ECT "
    "b, "
    "n, "
    "(sum"
    "(n) "
    "OVER"
    " ("
    "ORDE"
    "R "
    "BY "
    "b)):"
    ":big"
    "int "
    "AS "
    "cum,"
    " ("
    "sum("
    "n) "
    "OVER"
    " ())"
    "::"
    "bigi"
    "nt "
    "AS "
    "tot "
    "FROM"
    " hb)"
    ", "
    "pk "
    "AS "
    "(SEL"
    "ECT "
    "b, "
    "(tot"
    " + "
    "1) "
    "/ 2 "
    "- "
    "(cum"
    " - "
    "n) "
    "AS "
    "rk "
    "FROM"
    " hk "
    "WHER"
    "E "
    "cum "
    ">= "
    "(tot"
    " + "
    "1) "
    "/ 2 "
    "ORDE"
    "R "
    "BY "
    "b "
    "LIMI"
    "T "
    "1), "
    "hm "
    "AS "
    "(SEL"
    "ECT "
    "DIST"
    "INCT"
    " ab."
    "host"
    "_clu"
    "b_"
    "id "
    "AS "
    "h, "
    "ab."
    "mont"
    "h "
    "AS "
    "m "
    "FROM"
    " ana"
    "lyti"
    "cs."
    "appr"
    "ove_"
    "buck"
    "ets "
    "ab, "
    "pk "
    "WHER"
    "E "
    "ab."
    "home"
    "_clu"
    "b_"
    "id "
    "="
    " " NET_NIL " AND ab.bucket = pk.b AND " NET_WHOLE "), "
    "fv AS (SELECT x.s, sum(x.n) AS n FROM (SELECT am.s, am.n FROM hm, pk, LATERAL (SELECT "
    "a.secs AS s, a.n FROM analytics.approve_months a WHERE a.host_club_id = hm.h AND "
    "a.home_club_id = " NET_NIL " AND a.month = hm.m AND a.secs >= pk.b * 1024 AND a.secs < pk.b "
    "* 1024 + 1024) am UNION ALL SELECT ea.s, 1 FROM ea, pk WHERE floor(ea.s / 1024.0) = pk.b) x "
    "GROUP BY x.s), "
    "md AS (SELECT (SELECT y.s FROM (SELECT s, (sum(n) OVER (ORDER BY s))::bigint AS cum FROM fv) "
    "y, pk WHERE y.cum >= pk.rk ORDER BY y.s LIMIT 1) AS m, (SELECT coalesce(sum(n), 0) FROM "
    "hb)::bigint AS n), "
    "mo AS (SELECT jsonb_agg(jsonb_build_array(currency, amt, n) ORDER BY currency) AS j FROM "
    "(SELECT currency, sum(amount_minor) AS amt, sum(charges) AS n FROM (SELECT currency, "
    "amount_minor, charges FROM analytics.monthly_money WHERE " NET_WHOLE " UNION ALL "
    "SELECT currency, amount_minor, charges FROM analytics.daily_money WHERE " NET_EDGE
    ") x GROUP BY 1) s), "
    "rn AS (SELECT coalesce(sum(rooms), 0) AS n FROM (SELECT rooms FROM analytics.monthly_rooms "
    "WHERE " NET_WHOLE " UNION ALL SELECT rooms FROM analytics.daily_rooms WHERE " NET_EDGE_NIGHT
    ") x), "
    "ku AS (SELECT DISTINCT club_id AS c, k FROM analytics.daily_usage, unnest(member_keys) k "
    "WHERE " NET_EDGE "), "
    "us AS (SELECT (SELECT coalesce(sum(sign_ins), 0) FROM (SELECT sign_ins FROM "
    "analytics.monthly_usage WHERE " NET_WHOLE " UNION ALL SELECT sign_ins FROM "
    "analytics.daily_usage WHERE " NET_EDGE ") x) AS si, (SELECT coalesce(sum(c.keys), 0) "
    "FROM analytics.key_month_counts c WHERE c.kind = 'u' AND c.home_club_id = " NET_NIL
    " AND " NET_WHOLE " AND c.prev < $3::date) + (SELECT count(*) FROM ku WHERE NOT "
    "EXISTS (SELECT 1 FROM analytics.key_months km WHERE km.kind = 'u' AND km.host_club_id = ku.c "
    "AND km.home_club_id = " NET_NIL " AND km.member_key = ku.k AND " NET_WHOLE ")) AS act), "
    /* per host club; per month of the range and per ISO weekday of the arrival day */
    "bc AS (SELECT host_club_id AS c, sum(requested) AS req, sum(guests) AS g, "
    "sum(visitor_days) AS vd FROM vv GROUP BY 1), "
    "sm AS (SELECT to_char(mon, 'YYYY-MM') AS m, sum(visits) AS n FROM vv GROUP BY 1), "
    "sw AS (SELECT d, sum(n) AS n FROM (SELECT i AS d, mv.dow_visits[i] AS n FROM "
    "analytics.monthly_visits mv, generate_series(1, 7) i WHERE " NET_WHOLE
    " UNION ALL SELECT extract(isodow FROM day)::int, visits FROM analytics.daily_visits "
    "WHERE " NET_EDGE ") x GROUP BY 1) "
    "SELECT jsonb_build_object('from', $1::date, 'to', $2::date, "
    "'by_club_cells', coalesce((SELECT jsonb_agg(jsonb_build_array(c, req, g, vd) ORDER BY c) "
    "FROM bc), '[]'), "
    "'month_cells', (SELECT jsonb_agg(jsonb_build_array(to_char(g, 'YYYY-MM'), coalesce(sm.n, "
    "0)) ORDER BY g) FROM generate_series(date_trunc('month', $1::date), $2::date, interval '1 "
    "month') g LEFT JOIN sm ON sm.m = to_char(g, 'YYYY-MM')), " NET_DOC_TAIL;

/* The network report's document before suppression: the range resolved, then the monthly query
 * (or the daily reference) in one read-only transaction. NULL + e on failure. */
static json_t *network_doc(const svc_call_t *call, json_t *in, err_t *e) {
    const char *period = str_or_null(in, "period") ? str_or_null(in, "period") : "month";
    const char *p[] = {NULL, str_or_null(in, "from"), str_or_null(in, "to"), period,
                       str_or_null(in, "date")};
    db_scope_t scope = svc_scope(call, NULL);
    if (analytics_report_reference) {
        PGresult *r = db_read(call->env->db, &scope, k_sql_network_daily, 5, p, e);
        json_t *doc = r ? db_json(r, 0, 0, e) : NULL;
        PQclear(r);
        return doc;
    }
    db_tx_t *tx = NULL;
    if (db_begin(call->env->db, &scope, &tx, e) != 0) return NULL;
    json_t *doc = NULL;
    PGresult *r = db_exec(tx, k_sql_network_range, 5, p, e);
    if (r) {
        const char *q[] = {PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
                           PQgetvalue(r, 0, 3)};
        PGresult *d = db_exec(tx, k_sql_network, 4, q, e);
        doc = d ? db_json(d, 0, 0, e) : NULL;
        PQclear(d);
        PQclear(r);
    }
    return db_tx_finish(&tx, doc ? 0 : -1, &doc, e) == 0 ? doc : NULL;
}

/* Index of id in the sorted array ids (n entries), or -1. */
static long find_id(const char *const *ids, size_t n, const char *id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(ids[mid], id);
        if (c == 0) return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct values of column col of cells ([host, home, n] arrays), sorted; *n their count. */
static const char **distinct_ids(json_t *cells, int col, size_t *n) {
    size_t m = json_array_size(cells), k = 0;
    const char **ids = calloc(m ? m : 1, sizeof *ids);
    if (!ids) return NULL;
    for (size_t i = 0; i < m; i++)
        ids[i] = json_string_value(json_array_get(json_array_get(cells, i), col));
    qsort(ids, m, sizeof *ids, cmp_str);
    for (size_t i = 0; i < m; i++)
        if (ids[i] && (k == 0 || strcmp(ids[k - 1], ids[i]) != 0)) ids[k++] = ids[i];
    *n = k;
    return ids;
}

/* The host x home table of doc's cells, suppressed with k, as the published JSON: rows (host
 * clubs), cols (home clubs), cells, row_totals, col_totals and total as texts ("<k" hidden). */
static int suppressed_table(json_t *doc, int k, err_t *e) {
    json_t *cells = json_object_get(doc, "cells");
    size_t nr = 0, nc = 0;
    const char **rows = distinct_ids(cells, 0, &nr), **cols = distinct_ids(cells, 1, &nc);
    int64_t *v = rows && cols ? calloc(nr * nc + 1, sizeof *v) : NULL;
    suppress_table_t t = {0};
    int rc = -1;
    if (!v) {
        err_set(e, 500, "internal", "", "out of memory");
        goto done;
    }
    size_t i;
    json_t *c;
    json_array_foreach(cells, i, c) {
        long r = find_id(rows, nr, json_string_value(json_array_get(c, 0)));
        long q = find_id(cols, nc, json_string_value(json_array_get(c, 1)));
        if (r >= 0 && q >= 0)
            v[(size_t)r * nc + (size_t)q] = json_integer_value(json_array_get(c, 2));
    }
    json_t *jr = json_array(), *jc = json_array(), *jcells = json_array(), *rt = json_array(),
           *ct = json_array();
    json_object_set_new(doc, "rows", jr);
    json_object_set_new(doc, "cols", jc);
    json_object_set_new(doc, "table", jcells);
    json_object_set_new(doc, "row_totals", rt);
    json_object_set_new(doc, "col_totals", ct);
    json_object_set_new(doc, "k", json_integer(k));
    if (nr == 0 || nc == 0) {
        json_object_set_new(doc, "total", json_string("0"));
        rc = 0;
        goto done;
    }
    if (nr > SUPPRESS_MAX_DIM || nc > SUPPRESS_MAX_DIM) {
        err_set(e, 422, "invalid_field", "from", "too many clubs in the range for one table");
        goto done;
    }
    if (suppress_apply(v, nr, nc, k, &t, e) != 0) goto done;
    char buf[24];
    for (size_t r = 0; r < nr; r++) {
        json_array_append_new(jr, json_string(rows[r]));
        json_t *row = json_array();
        for (size_t q = 0; q < nc; q++)
            json_array_append_new(row, json_string(suppress_text(&t, r, q, buf, sizeof buf)));
        json_array_append_new(jcells, row);
        json_array_append_new(rt, json_string(suppress_text(&t, r, nc, buf, sizeof buf)));
    }
    for (size_t q = 0; q < nc; q++) {
        json_array_append_new(jc, json_string(cols[q]));
        json_array_append_new(ct, json_string(suppress_text(&t, nr, q, buf, sizeof buf)));
    }
    json_object_set_new(doc, "total", json_string(suppress_text(&t, nr, nc, buf, sizeof buf)));
    rc = 0;
done:
    json_object_del(doc, "cells");
    suppress_table_free(&t);
    free(v);
    free(rows);
    free(cols);
    return rc;
}

static char *network_csv(json_t *doc) {
    strbuf_t b = {0};
    json_t *cols = json_object_get(doc, "cols"), *rows = json_object_get(doc, "rows");
    strbuf_puts(&b, "host_club_id");
    size_t i, j;
    json_t *v;
    json_array_foreach(cols, i, v) {
        strbuf_puts(&b, ",");
        csv_put_field(&b, json_string_value(v), 0);
    }
    strbuf_puts(&b, ",total\r\n");
    json_array_foreach(rows, i, v) {
        csv_put_field(&b, json_string_value(v), 0);
        json_t *x;
        json_array_foreach(json_array_get(json_object_get(doc, "table"), i), j, x) {
            strbuf_puts(&b, ",");
            csv_put_field(&b, json_string_value(x), 0);
        }
        strbuf_puts(&b, ",");
        csv_put_field(&b, json_string_value(json_array_get(json_object_get(doc, "row_totals"), i)),
                      0);
        strbuf_puts(&b, "\r\n");
    }
    strbuf_puts(&b, "total");
    json_array_foreach(json_object_get(doc, "col_totals"), i, v) {
        strbuf_puts(&b, ",");
        csv_put_field(&b, json_string_value(v), 0);
    }
    strbuf_puts(&b, ",");
    csv_put_field(&b, str_or_null(doc, "total"), 0);
    strbuf_puts(&b, "\r\n");
    return strbuf_take(&b);
}

/* The published text of a network count: "<k" for 1..k-1, else the number. */
static json_t *count_text(long long n, int k) {
    char buf[32];
    if (n > 0 && n < k)
        snprintf(buf, sizeof buf, "<%d", k);
    else
        snprintf(buf, sizeof buf, "%lld", n);
    return json_string(buf);
}

/* The network's measures beyond the host x home table, each a single count over every club
 * (no row/column equations tie them to each other or to the table: primary suppression):
 * counts as texts ("<k" for 1..k-1), amounts per currency hidden when fewer than k charges,
 * a rate or median only when its base holds at least k visits (else null). */
static void network_measures(json_t *doc, int k) {
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(doc, "measures"), key, v) {
        json_object_set_new(json_object_get(doc, "measures"), key,
                            count_text(json_integer_value(v), k));
    }
    static const char *const k_rates[][2] = {{"no_show_rate", "held"},
                                             {"cancellation_rate", "requests"},
                                             {"loi_approval_rate", "loi_decided"},
                                             {"median_approve_seconds", "approvals"}};
    for (size_t i = 0; i < sizeof k_rates / sizeof k_rates[0]; i++) {
        if (json_integer_value(json_object_get(doc, k_rates[i][1])) < k)
            json_object_set_new(doc, k_rates[i][0], json_null());
    }
    json_object_set_new(doc, "requests",
                        count_text(json_integer_value(json_object_get(doc, "requests")), k));
    json_object_del(doc, "held");
    json_object_del(doc, "loi_decided");
    json_object_del(doc, "approvals");
    json_t *money = json_array();
    size_t i;
    json_array_foreach(json_object_get(doc, "money"), i, v) {
        long long n = json_integer_value(json_array_get(v, 2));
        char amt[32];
        if (n < k)
            snprintf(amt, sizeof amt, "<%d charges", k);
        else
            snprintf(amt, sizeof amt, "%lld", json_integer_value(json_array_get(v, 1)));
        json_array_append_new(money, json_pack("{s:O, s:s, s:o}", "currency", json_array_get(v, 0),
                                               "amount_minor", amt, "charges", count_text(n, k)));
    }
    json_object_set_new(doc, "money", money);
}

/* A list of n counts with their total, suppressed as a 1 x n table (docs/analytics.md "Lists"):
 * texts[q] (new references) and *total get the published texts. 0 or -1 + e. */
static int suppressed_list(const int64_t *v, size_t n, int k, json_t **texts, json_t **total,
                           err_t *e) {
    char buf[24];
    if (n == 0) {
        *total = json_string("0");
        return 0;
    }
    if (n > SUPPRESS_MAX_DIM)
        return err_set(e, 422, "invalid_field", "from",
                       "too many clubs in the range for one table");
    suppress_table_t t = {0};
    if (suppress_apply(v, 1, n, k, &t, e) != 0) return -1;
    for (size_t q = 0; q < n; q++)
        texts[q] = json_string(suppress_text(&t, 0, q, buf, sizeof buf));
    *total = json_string(suppress_text(&t, 0, n, buf, sizeof buf));
    suppress_table_free(&t);
    return 0;
}

/* by_club: per host club its requests, guests and visitor days, each measure one list over the
 * clubs suppressed with its total (by_club_totals). The network's `requests` is that list's
 * published total, so the two never disagree. */
static int network_by_club(json_t *doc, int k, err_t *e) {
    static const char *const k_cols[] = {"requests", "guests", "visitor_days"};
    json_t *cells = json_object_get(doc, "by_club_cells");
    size_t n = json_array_size(cells);
    int64_t *v = calloc(n ? n : 1, sizeof *v);
    json_t **texts = calloc(n ? n : 1, sizeof *texts);
    json_t *rows = json_array(), *totals = json_object();
    int rc = -1;
    if (!v || !texts || !rows || !totals) {
        err_set(e, 500, "internal", "", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            rows, json_pack("{s:O}", "club_id", json_array_get(json_array_get(cells, i), 0)));
    for (size_t c = 0; c < 3; c++) {
        json_t *total = NULL;
        for (size_t i = 0; i < n; i++)
            v[i] = json_integer_value(json_array_get(json_array_get(cells, i), c + 1));
        if (suppressed_list(v, n, k, texts, &total, e) != 0) goto done;
        for (size_t i = 0; i < n; i++)
            json_object_set_new(json_array_get(rows, i), k_cols[c], texts[i]);
        json_object_set_new(totals, k_cols[c], total);
    }
    json_object_set(doc, "requests", json_object_get(totals, "requests"));
    json_object_set(doc, "by_club", rows);
    json_object_set(doc, "by_club_totals", totals);
    rc = 0;
done:
    json_object_del(doc, "by_club_cells");
    json_decref(rows);
    json_decref(totals);
    free(v);
    free(texts);
    return rc;
}

/* seasonality: the network's visits per month of the range and per ISO weekday of arrival
 * (Mon..Sun), each a list suppressed with its total. */
static int network_seasonality(json_t *doc, int k, err_t *e) {
    static const char *const k_days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    json_t *months = json_object_get(doc, "month_cells"),
           *days = json_object_get(doc, "weekday_cells");
    size_t nm = json_array_size(months), nd = json_array_size(days);
    int64_t *v = calloc(nm > 7 ? nm : 7, sizeof *v);
    json_t **texts = calloc(nm > 7 ? nm : 7, sizeof *texts);
    json_t *season = json_object(), *bm = json_array(), *bw = json_array(), *total = NULL;
    int rc = -1;
    if (!v || !texts || !season || !bm || !bw || nd != 7) {
        err_set(e, 500, "internal", "", "no memory for the seasonality lists");
        goto done;
    }
    for (size_t i = 0; i < nm; i++)
        v[i] = json_integer_value(json_array_get(json_array_get(months, i), 1));
    if (suppressed_list(v, nm, k, texts, &total, e) != 0) goto done;
    for (size_t i = 0; i < nm; i++)
        json_array_append_new(bm, json_pack("{s:O, s:o}", "month",
                                            json_array_get(json_array_get(months, i), 0), "visits",
                                            texts[i]));
    json_object_set_new(season, "month_total", total);
    for (size_t i = 0; i < 7; i++)
        v[i] = json_integer_value(json_array_get(days, i));
    if (suppressed_list(v, 7, k, texts, &total, e) != 0) goto done;
    for (size_t i = 0; i < 7; i++)
        json_array_append_new(bw,
                              json_pack("{s:s, s:o}", "weekday", k_days[i], "visits", texts[i]));
    json_object_set_new(season, "weekday_total", total);
    json_object_set(season, "by_month", bm);
    json_object_set(season, "by_weekday", bw);
    json_object_set(doc, "seasonality", season);
    rc = 0;
done:
    json_object_del(doc, "month_cells");
    json_object_del(doc, "weekday_cells");
    json_decref(season);
    json_decref(bm);
    json_decref(bw);
    free(v);
    free(texts);
    return rc;
}

int analytics_network_report(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    json_t *doc = network_doc(call, in, e);
    if (!doc) return -1;
    if (suppressed_table(doc, analytics_settings(call->env)->k, e) != 0) {
        json_decref(doc);
        return -1;
    }
    network_measures(doc, analytics_settings(call->env)->k);
    if (network_by_club(doc, analytics_settings(call->env)->k, e) != 0 ||
        network_seasonality(doc, analytics_settings(call->env)->k, e) != 0) {
        json_decref(doc);
        return -1;
    }
    if (!is_csv(in)) {
        *out = doc;
        return 0;
    }
    char *body = network_csv(doc), name[64];
    snprintf(name, sizeof name, "analytics-network-%s-%s.csv", str_or_null(doc, "from"),
             str_or_null(doc, "to"));
    json_decref(doc);
    *out = body ? svc_raw_output("text/csv; charset=utf-8", name, body) : NULL;
    free(body);
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
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
                           "SELECT analytics.rebuild_all(), (SELECT count(*) FROM "
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

int analytics_validate_capacity(json_t *in, err_t *e) {
    long long rooms = 0;
    if (uuid_field(in, "id", 1, e) != 0 || jsonx_int(in, "rooms", 1, 0, 100000, 0, &rooms, e) != 0)
        return -1;
    json_object_set_new(in, "rooms", json_integer(rooms));
    return 0;
}

/* Sets the club's bookable rooms (0: none configured, utilisation null) in the club's scope:
 * RLS lets a club write its own row only. */
int analytics_set_capacity(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = str_or_null(in, "id");
    if (!call->caller->network_admin && strcasecmp(club, call->caller->club_id) != 0)
        return err_set(e, 403, "forbidden", "id", "a club sets its own capacity only");
    char rooms[24];
    snprintf(rooms, sizeof rooms, "%lld", json_integer_value(json_object_get(in, "rooms")));
    const char *p[] = {club, rooms};
    db_scope_t scope = svc_scope(call, club);
    db_tx_t *tx = NULL;
    if (db_begin(call->env->db, &scope, &tx, e) != 0) return -1;
    long long n = db_exec_cmd(tx,
                              "INSERT INTO analytics.capacity (club_id, rooms) VALUES ($1::uuid, "
                              "$2::int) ON CONFLICT (club_id) DO UPDATE SET rooms = "
                              "EXCLUDED.rooms, updated_at = now()",
                              2, p, e);
    if (db_tx_finish(&tx, n < 0 ? -1 : 0, NULL, e) != 0) return -1;
    *out = json_pack("{s:s, s:I}", "club_id", club, "rooms",
                     json_integer_value(json_object_get(in, "rooms")));
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
}
