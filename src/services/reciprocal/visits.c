/* visits: see visits.h. */
#include "services/reciprocal/visits.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cursor.h"
#include "core/json.h"
#include "core/outbox.h"
#include "core/uuid.h"
#include "services/reciprocal/lifecycle.h"
#include "services/reciprocal/restrictions.h"
#include "services/reciprocal/terms.h"
#include "services/reciprocal/visits_flow.h"

#define DOC_SQL "reciprocal.visit_doc(v)::text"
/* Visits that hold a place against the limits at request time: the ones the issue counts
 * (confirmed, checked in, completed, no-show) and the pending ones (requested, approved), so a
 * member cannot hold more requests than the host admits. */
#define HELD_SQL "('requested', 'approved', 'confirmed', 'checked_in', 'completed', 'no_show')"
#define COUNTED_SQL "('confirmed', 'checked_in', 'completed', 'no_show')"

static const char *const status_values[] = {"requested", "approved", "confirmed", "checked_in",
                                            "completed", "declined", "cancelled", "revoked",
                                            "expired",   "no_show",  NULL};

/* ---- validation ---- */

/* YYYY-MM-DDTHH:MM:SS, then fraction / zone characters only */
static int is_timestamp(const char *s) {
    if (!jsonx_is_timestamp(s)) return 0;
    char day[11];
    snprintf(day, sizeof day, "%.10s", s);
    return terms_is_date(day);
}

int visit_is_timestamp(const char *s) {
    return is_timestamp(s);
}

int visit_validate_create(json_t *in, err_t *e) {
    static const char *const keys[] = {"member_id", "host_club_id", "arrive_on",
                                       "depart_on", "guests",       "facilities",
                                       "club_id",   "as_of",        NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (jsonx_uuid(in, "member_id", 0, e) != 0) return -1;
    if (jsonx_uuid(in, "host_club_id", 1, e) != 0) return -1;
    if (jsonx_uuid(in, "club_id", 0, e) != 0) return -1;
    if (jsonx_date(in, "arrive_on", 1, e) != 0) return -1;
    if (jsonx_date(in, "depart_on", 1, e) != 0) return -1;
    if (strcmp(json_string_value(json_object_get(in, "depart_on")),
               json_string_value(json_object_get(in, "arrive_on"))) < 0)
        return err_set(e, 422, "invalid_field", "depart_on",
                       "depart_on must not be before arrive_on");
    long long guests;
    if (jsonx_int(in, "guests", 0, 0, 20, 0, &guests, e) != 0) return -1;
    json_object_set_new(in, "guests", json_integer(guests));
    json_t *fac = json_object_get(in, "facilities");
    if (fac && !json_is_null(fac)) {
        if (!json_is_array(fac) || json_array_size(fac) > 12)
            return err_set(e, 422, "invalid_field", "facilities",
                           "facilities must be an array of at most 12 facility names");
        for (size_t i = 0; i < json_array_size(fac); i++) {
            const char *f = json_string_value(json_array_get(fac, i));
            if (!f || !*f || strlen(f) > 31)
                return err_set(e, 422, "invalid_field", "facilities",
                               "facilities[%zu] must be a facility name", i);
        }
    } else {
        json_object_set_new(in, "facilities", json_array());
    }
    const char *as_of;
    if (jsonx_string(in, "as_of", 0, 1, 40, &as_of, e) != 0) return -1;
    if (as_of && !is_timestamp(as_of))
        return err_set(e, 422, "invalid_field", "as_of",
                       "as_of must be an ISO 8601 timestamp YYYY-MM-DDTHH:MM:SSZ");
    return 0;
}

int visit_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"side",      "status", "from",  "to",
                                       "member_id", "limit",  "after", NULL};
    static const char *const sides[] = {"home", "host", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_enum(in, "side", 0, sides, &s, e) != 0) return -1;
    if (jsonx_enum(in, "status", 0, status_values, &s, e) != 0) return -1;
    if (jsonx_date(in, "from", 0, e) != 0) return -1;
    if (jsonx_date(in, "to", 0, e) != 0) return -1;
    if (jsonx_uuid(in, "member_id", 0, e) != 0) return -1;
    return cursor_page_validate(in, e);
}

int visit_validate_ref(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return jsonx_uuid(in, "id", 1, e);
}

/* ---- the member service ---- */

/* The signed-in member's own member id (member.get_me). */
int visit_self_member(const svc_call_t *call, char id[40], err_t *e) {
    json_t *in = json_object(), *res = NULL;
    int status = 0;
    int rc = svc_call(call->env, "member", "get_me", call->caller, in, &status, &res, e);
    json_decref(in);
    if (rc != 0) return -1;
    const char *s = json_string_value(json_object_get(res, "id"));
    if (s) snprintf(id, 40, "%s", s);
    json_decref(res);
    return s ? 0 : err_set(e, 502, "bad_gateway", "", "the member service answered no member");
}

/* The member's standing at home (member.member_standing), asked in the home club's scope with
 * visit:verify: the reciprocal service checks a member's standing for every visit request,
 * whoever asks (the member themself holds no visit:verify). New reference or NULL + err. */
json_t *visit_standing(const svc_call_t *call, const char *home, const char *member, err_t *e) {
    svc_caller_t as = *call->caller;
    snprintf(as.perms, sizeof as.perms, "visit:verify");
    if (!as.network_admin) snprintf(as.club_id, sizeof as.club_id, "%s", home);
    json_t *in = json_pack("{s:s, s:s}", "member_id", member, "club_id", home), *res = NULL;
    int status = 0;
    int rc = svc_call(call->env, "member", "member_standing", &as, in, &status, &res, e);
    json_decref(in);
    return rc == 0 ? res : NULL;
}

/* The host club's document (member.get_club, asked with club:read whoever asks: answered from
 * the member service's club read cache when it holds the club, docs/security.md RC1) into
 * r->host_club, its time zone into r->tz when empty; 422 when there is no such active club. */
static int host_club(const svc_call_t *call, vreq_t *r, err_t *e) {
    svc_caller_t as = *call->caller;
    snprintf(as.perms, sizeof as.perms, "club:read");
    json_t *in = json_pack("{s:s}", "id", r->host), *club = NULL;
    int status = 0;
    int rc = svc_call(call->env, "member", "get_club", &as, in, &status, &club, e);
    json_decref(in);
    if (rc != 0)
        return e->status == 404
                   ? err_set(e, 422, "not_parties", "host_club_id", "no active club with this id")
                   : -1;
    const char *z = json_string_value(json_object_get(club, "timezone"));
    const char *st = json_string_value(json_object_get(club, "status"));
    if (!z || !st || strcmp(st, "active") != 0) {
        rc = err_set(e, 422, "not_parties", "host_club_id", "no active club with this id");
    } else {
        if (!r->tz[0]) snprintf(r->tz, sizeof r->tz, "%s", z);
        r->host_club = json_incref(club);
    }
    json_decref(club);
    return rc;
}

/* ---- the rules ---- */

void visit_rules_free(vreq_t *r) {
    json_decref(r->terms);
    json_decref(r->standing);
    json_decref(r->host_club);
    r->terms = r->standing = r->host_club = NULL;
}

int visit_rules_from_doc(const json_t *doc, vreq_t *r, err_t *e) {
    static const struct {
        const char *key;
        size_t off, cap;
    } k[] = {
        {"id", offsetof(vreq_t, id), sizeof r->id},
        {"home_club_id", offsetof(vreq_t, home), sizeof r->home},
        {"host_club_id", offsetof(vreq_t, host), sizeof r->host},
        {"member_id", offsetof(vreq_t, member), sizeof r->member},
        {"agreement_id", offsetof(vreq_t, agreement), sizeof r->agreement},
        {"host_timezone", offsetof(vreq_t, tz), sizeof r->tz},
        {"arrive_on", offsetof(vreq_t, arrive), sizeof r->arrive},
        {"depart_on", offsetof(vreq_t, depart), sizeof r->depart},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        const char *v = json_string_value(json_object_get(doc, k[i].key));
        if (!v) return err_set(e, 500, "internal", "", "the stored visit has no %s", k[i].key);
        snprintf((char *)r + k[i].off, k[i].cap, "%s", v);
    }
    r->guests = (long long)json_integer_value(json_object_get(doc, "guests"));
    r->days = (long long)json_integer_value(json_object_get(doc, "days"));
    r->facilities = json_object_get(doc, "facilities");
    return 0;
}

#define LOCK_MEMBER_HOST_SQL "SELECT " VISIT_LOCK_MEMBER_HOST_SQL("$1", "$2")

int visit_lock_member_host(db_tx_t *tx, const char *member, const char *host, err_t *e) {
    const char *p[] = {member, host};
    return db_exec_cmd(tx, LOCK_MEMBER_HOST_SQL, 2, p, e) < 0 ? -1 : 0;
}

int visit_lock_queue(db_batch_t *b, const char *member, const char *host) {
    const char *p[] = {member, host};
    return db_batch_add(b, LOCK_MEMBER_HOST_SQL, 2, p);
}

/* Home club and member: staff (member:write) name the member of their club; a member asks for
 * themself. A network administrator names the home club (club_id) and the member. */
static int resolve_actor(const svc_call_t *call, json_t *in, vreq_t *r, err_t *e) {
    const svc_caller_t *who = call->caller;
    const char *club = json_string_value(json_object_get(in, "club_id"));
    const char *member = json_string_value(json_object_get(in, "member_id"));
    r->as_of = json_string_value(json_object_get(in, "as_of"));
    if (r->as_of && !who->network_admin)
        return err_set(e, 403, "forbidden", "as_of", "only a network administrator sets as_of");
    if (who->club_id[0]) {
        if (club && strcasecmp(club, who->club_id) != 0)
            return err_set(e, 403, "forbidden", "club_id", "you act for your own club only");
        snprintf(r->home, sizeof r->home, "%s", who->club_id);
    } else if (who->network_admin && club) {
        snprintf(r->home, sizeof r->home, "%s", club);
    } else {
        return err_set(e, 400, "missing_field", "club_id",
                       "club_id is required: the home club a network administrator acts for");
    }
    if (svc_authorized(who, "member:write")) {
        if (!member)
            return err_set(e, 400, "missing_field", "member_id",
                           "member_id is required when staff request a visit for a member");
        snprintf(r->member, sizeof r->member, "%s", member);
        return 0;
    }
    if (visit_self_member(call, r->member, e) != 0) return -1;
    if (member && strcmp(member, r->member) != 0)
        return err_set(e, 404, "not_found", "member_id", "no member with this member_id");
    return 0;
}

/* ---- the facts of the rules: ONE statement (one round trip) after the (member, host) lock ----
 * Columns 0-4 the agreement between home and host that admits the dates (at request the best one
 * between the clubs, later the visit's own; all NULL when there is none): id, status, whether it
 * covers every date, whether termination refuses the visit, the host's terms. Columns 5-9 the
 * clock in the host's time zone (at request the injected as_of or now): today, seconds from now
 * to the arrival day's start, days from today to arrival, the stay's weekdays, the check-in's
 * local HH:MM. Columns 10-16 the limits (LIMITS_SQL below). It runs after the lock statement, so
 * its snapshot counts every visit committed before the lock was granted.
 * $1 home, $2 host, $3 arrive, $4 depart, $5 the visit's agreement (NULL at request), $6 as_of,
 * $7 time zone, $8 check-in time (unix seconds), $9 member, $10 the visit itself (NULL at
 * request). */
#define AGREEMENT_SQL                                                                              \
    "SELECT a.id, a.status, (a.starts_on <= $3::date AND (a.ends_on IS NULL OR a.ends_on >= "      \
    "$4::date))::int AS covers, (CASE WHEN $5::uuid IS NULL THEN a.notice_given_at IS NOT NULL "   \
    "ELSE a.terminates_on IS NOT NULL AND a.terminates_on <= $4::date END)::int AS ending, "       \
    "(a.terms -> ($2::uuid)::text)::text AS terms FROM reciprocal.agreements a WHERE $1::uuid = "  \
    "ANY (a.club_ids) AND $2::uuid = ANY (a.club_ids) AND ($5::uuid IS NULL OR a.id = $5::uuid) "  \
    "ORDER BY (a.status = 'active') DESC, (a.starts_on <= $3::date AND (a.ends_on IS NULL OR "     \
    "a.ends_on >= $4::date)) DESC, (a.notice_given_at IS NULL) DESC, a.created_at DESC LIMIT 1"
#define CLOCK_SQL                                                                                  \
    "SELECT (t AT TIME ZONE $7)::date::text AS today, floor(extract(epoch FROM "                   \
    "($3::date::timestamp AT TIME ZONE $7) - t))::bigint AS secs, $3::date - (t AT TIME ZONE "     \
    "$7)::date AS ahead, (SELECT string_agg(lower(to_char(d, 'Dy')), ',' ORDER BY d) FROM "        \
    "generate_series($3::date, $4::date, interval '1 day') AS d) AS weekdays, "                    \
    "to_char(to_timestamp($8::bigint) AT TIME ZONE $7, 'HH24:MI') AS loc FROM (SELECT "            \
    "coalesce($6::timestamptz, now()) AS t) c"
/* Visits that hold a place against the limits (see check_limits), per (member, host). */
#define YEAR_DAYS_SQL(d)                                                                           \
    "coalesce(sum(greatest(0, least(v.depart_on, (date_trunc('year', " d "::date) + interval "     \
    "'1 year - 1 day')::date) - greatest(v.arrive_on, date_trunc('year', " d                       \
    "::date)::date) + 1)), 0)"
#define LIMITS_SQL(statuses)                                                                       \
    "SELECT count(*) FILTER (WHERE date_trunc('month', v.arrive_on) = date_trunc('month', "        \
    "$3::date)) AS month, " YEAR_DAYS_SQL("$3") " AS used0, " YEAR_DAYS_SQL(                       \
        "$4") " AS used1, count(*) FILTER (WHERE v.status IN ('requested', 'approved', "           \
              "'confirmed', 'checked_in') AND v.arrive_on <= $4::date AND v.depart_on >= "         \
              "$3::date) AS overlap, extract(year FROM $3::date)::int AS year0, extract(year "     \
              "FROM $4::date)::int AS year1, (date_trunc('year', $4::date)::date - $3::date) AS "  \
              "pre FROM reciprocal.visits v WHERE v.member_id = $9::uuid AND v.host_club_id "      \
              "= $2::uuid AND ($10::uuid IS NULL OR v.id <> $10::uuid) AND v.status IN " statuses
#define FACTS_SQL(statuses)                                                                        \
    "SELECT a.id, a.status, a.covers, a.ending, a.terms, c.today, c.secs, c.ahead, c.weekdays, "   \
    "c.loc, l.month, l.used0, l.used1, l.overlap, l.year0, l.year1, l.pre FROM (SELECT 1) "        \
    "one LEFT JOIN LATERAL (" AGREEMENT_SQL ") a ON true CROSS JOIN LATERAL (" CLOCK_SQL           \
    ") c CROSS JOIN LATERAL (" LIMITS_SQL(statuses) ") l"

#define FACTS_PARAMS(r, stage, at)                                                                 \
    {                                                                                              \
        (r)->home, (r)->host, (r)->arrive, (r)->depart,                                            \
            (stage) == VISIT_AT_REQUEST ? NULL : (r)->agreement, (r)->as_of, (r)->tz, (at),        \
            (r)->member, (r)->id[0] ? (r)->id : NULL                                               \
    }
#define FACTS_STAGE_SQL(stage)                                                                     \
    ((stage) == VISIT_AT_REQUEST ? FACTS_SQL(HELD_SQL) : FACTS_SQL(COUNTED_SQL))

/* The facts with the restriction's code too (column FACTS_RESTRICTION; NULL when none), at
 * request (HELD_SQL) and at the door (COUNTED_SQL): one statement instead of two. It runs after
 * the lock statement like the facts, and restriction_of (VOLATILE) reads with a snapshot of its
 * own taken then, as its own statement did, so a restriction committed before the restriction
 * lock was granted is seen. */
#define FACTS_RESTRICTION 17
#define RESTRICTED_FACTS_SQL(statuses)                                                             \
    "SELECT f.*, " RESTRICTIONS_CALL_SQL("$9", "$1", "$2", "$3") " FROM (" FACTS_SQL(statuses) ")" \
                                                                                               " " \
                                                                                               "f"

static PGresult *rules_facts(db_tx_t *tx, vreq_t *r, visit_stage_t stage, err_t *e) {
    char at[24];
    snprintf(at, sizeof at, "%lld", r->at);
    const char *p[] = FACTS_PARAMS(r, stage, at);
    return db_exec(tx, FACTS_STAGE_SQL(stage), 10, p, e);
}

/* The facts' statement sql (FACTS_STAGE_SQL or RESTRICTED_FACTS_SQL) queued in b. */
static int rules_queue(db_batch_t *b, const vreq_t *r, visit_stage_t stage, const char *sql) {
    char at[24];
    snprintf(at, sizeof at, "%lld", r->at);
    const char *p[] = FACTS_PARAMS(r, stage, at);
    return db_batch_add(b, sql, 10, p);
}

int visit_rules_queue(db_batch_t *b, const vreq_t *r, visit_stage_t stage) {
    return rules_queue(b, r, stage,
                       stage == VISIT_AT_REQUEST ? RESTRICTED_FACTS_SQL(HELD_SQL)
                                                 : RESTRICTED_FACTS_SQL(COUNTED_SQL));
}

int visit_rules_restriction(const PGresult *q, const char *field, err_t *e) {
    return restrictions_code(
        PQgetisnull(q, 0, FACTS_RESTRICTION) ? NULL : PQgetvalue(q, 0, FACTS_RESTRICTION), field,
        e);
}

/* The agreement of the facts q (columns 0-4); each failure its own 422. Notice of termination
 * refuses a request; a visit already accepted stands unless the termination takes effect by its
 * last day. */
static int find_agreement(const PGresult *q, vreq_t *r, visit_stage_t stage, err_t *e) {
    if (PQgetisnull(q, 0, 0))
        return err_set(e, 422, "not_parties", "host_club_id",
                       "the home club and the host club have no agreement");
    if (strcmp(PQgetvalue(q, 0, 1), "active") != 0)
        return err_set(e, 422, "agreement_not_active", "host_club_id",
                       "the agreement with the host club is %s", PQgetvalue(q, 0, 1));
    if (PQgetvalue(q, 0, 2)[0] != '1')
        return err_set(e, 422, "agreement_not_active", "arrive_on",
                       "the agreement is not active on every requested date");
    if (PQgetvalue(q, 0, 3)[0] == '1')
        return err_set(e, 422, "agreement_terminating", "host_club_id",
                       stage == VISIT_AT_REQUEST
                           ? "notice of termination has been given: new visits are refused"
                           : "the agreement terminates before the last day of the visit");
    if (!(r->terms = db_json(q, 0, 4, e)))
        return err_set(e, 500, "internal", "", "the agreement holds no terms for the host club");
    snprintf(r->agreement, sizeof r->agreement, "%s", PQgetvalue(q, 0, 0));
    return 0;
}

static long long term_int(const vreq_t *r, const char *k) {
    return (long long)json_integer_value(json_object_get(r->terms, k));
}

static int in_list(const json_t *list, const char *s) {
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return 1;
    }
    return 0;
}

/* The rules that need neither the clock nor other visits. */
static int check_static(const vreq_t *r, err_t *e) {
    if (!json_is_true(json_object_get(r->standing, "active")))
        return err_set(e, 422, "member_not_active", "member_id",
                       "the member is not active at the home club (status %s)",
                       json_string_value(json_object_get(r->standing, "status")));
    json_t *cats = json_object_get(r->terms, "eligible_categories");
    const char *cat = json_string_value(json_object_get(r->standing, "category"));
    if (json_is_array(cats) && !(cat && in_list(cats, cat)))
        return err_set(e, 422, "category_not_eligible", "member_id",
                       "the member's category is not eligible at the host club");
    if (r->days > term_int(r, "max_days_per_stay"))
        return err_set(e, 422, "stay_limit", "depart_on",
                       "a stay at the host club is at most %lld days",
                       term_int(r, "max_days_per_stay"));
    if (r->guests > term_int(r, "max_guests"))
        return err_set(e, 422, "guest_limit", "guests", "the host club admits at most %lld guests",
                       term_int(r, "max_guests"));
    json_t *allowed = json_object_get(r->terms, "allowed_facilities");
    for (size_t i = 0; json_is_array(allowed) && i < json_array_size(r->facilities); i++) {
        const char *f = json_string_value(json_array_get(r->facilities, i));
        if (!in_list(allowed, f)) {
            err_set(e, 422, "facility_not_allowed", "", "facility %s is not open to visitors", f);
            snprintf(e->field, sizeof e->field, "facilities[%zu]", i);
            return -1;
        }
    }
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(r->terms, "blackouts"), i, b) {
        const char *from = json_string_value(json_object_get(b, "from"));
        const char *to = json_string_value(json_object_get(b, "to"));
        if (from && to && strcmp(r->arrive, to) <= 0 && strcmp(r->depart, from) >= 0)
            return err_set(e, 422, "blackout", "arrive_on",
                           "the host club admits no visitors from %s to %s", from, to);
    }
    return 0;
}

/* The rules of the clock, in the host's time zone (facts q, columns 5-9): at request not in the
 * past, notice and advance; at every stage the weekdays of the stay; at check-in the opening
 * hours (`hours`, the host's local time of the check-in, from inclusive, to exclusive). */
static int check_clock(const PGresult *q, vreq_t *r, visit_stage_t stage, err_t *e) {
    snprintf(r->today, sizeof r->today, "%s", PQgetvalue(q, 0, 5));
    long long secs = atoll(PQgetvalue(q, 0, 6)), ahead = atoll(PQgetvalue(q, 0, 7));
    char days[128], local[8];
    snprintf(days, sizeof days, "%s", PQgetvalue(q, 0, 8));
    snprintf(local, sizeof local, "%s", PQgetvalue(q, 0, 9));
    json_t *week = json_object_get(r->terms, "weekdays");
    char *save = NULL;
    for (char *d = strtok_r(days, ",", &save); d && json_is_array(week);
         d = strtok_r(NULL, ",", &save))
        if (!in_list(week, d))
            return err_set(e, 422, "weekday", "arrive_on", "the host club admits visitors on no %s",
                           d);
    if (stage == VISIT_AT_CHECK_IN) {
        json_t *h = json_object_get(r->terms, "hours");
        const char *from = json_string_value(json_object_get(h, "from"));
        const char *to = json_string_value(json_object_get(h, "to"));
        if (from && to && (strcmp(local, from) < 0 || strcmp(local, to) >= 0))
            return err_set(e, 422, "hours", "token",
                           "the host club admits visitors from %s to %s (it is %s there)", from, to,
                           local);
    }
    if (stage != VISIT_AT_REQUEST) return 0;
    if (ahead < 0)
        return err_set(e, 422, "in_the_past", "arrive_on",
                       "arrive_on is before today (%s) at the host", r->today);
    /* 0 hours of notice admits arrival today (the start of today is already past) */
    if (term_int(r, "min_notice_hours") > 0 && secs < term_int(r, "min_notice_hours") * 3600)
        return err_set(e, 422, "notice", "arrive_on",
                       "the host club needs %lld hours of notice before arrival",
                       term_int(r, "min_notice_hours"));
    if (ahead > term_int(r, "max_advance_days"))
        return err_set(e, 422, "advance", "arrive_on",
                       "the host club accepts requests at most %lld days ahead",
                       term_int(r, "max_advance_days"));
    return 0;
}

/* The limits (facts q, columns 10-16), counted under the per (member, host) lock: visits this
 * calendar month (of arrival, host dates), days in each calendar year the stay touches (a stay
 * across the year's end counts its days in the year each falls in, the other visits' days
 * likewise), and no overlapping live visit; the visit itself excluded. At request the pending
 * visits hold a place too (HELD_SQL); later only the ones the issue counts (COUNTED_SQL). */
static int check_limits(const PGresult *q, vreq_t *r, err_t *e) {
    long long month = atoll(PQgetvalue(q, 0, 10)),
              used[2] = {atoll(PQgetvalue(q, 0, 11)), atoll(PQgetvalue(q, 0, 12))},
              overlap = atoll(PQgetvalue(q, 0, 13)),
              year[2] = {atoll(PQgetvalue(q, 0, 14)), atoll(PQgetvalue(q, 0, 15))},
              before = atoll(PQgetvalue(q, 0, 16)); /* the stay's days before its last year */
    if (overlap > 0)
        return err_set(e, 422, "overlapping_visit", "arrive_on",
                       "the member already has a visit to this club on these dates");
    if (month + 1 > term_int(r, "max_visits_month"))
        return err_set(e, 422, "monthly_limit", "arrive_on",
                       "at most %lld visits a month at the host club",
                       term_int(r, "max_visits_month"));
    /* the stay's days in its first and its last calendar year (the same year: all of them) */
    long long days[2] = {r->days, r->days};
    if (year[0] != year[1]) {
        days[0] = before;
        days[1] = r->days - before;
    }
    for (int i = 0; i < 2; i++)
        if (used[i] + days[i] > term_int(r, "max_days_year"))
            return err_set(e, 422, "yearly_limit", "depart_on",
                           "at most %lld days a year at the host club (%lld used in %lld)",
                           term_int(r, "max_days_year"), used[i], year[i]);
    return 0;
}

/* A number of o (latitude / longitude) as text, or 0 when absent. */
static int coord(const json_t *o, const char *k, char out[32]) {
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v)) return 0;
    snprintf(out, 32, "%.7f", json_number_value(v));
    return 1;
}

/* residency_exclusion_km: a member whose home lies within that distance of the host may not
 * visit it under reciprocity. The distance is the great-circle (haversine, mean earth radius
 * 6371.0088 km) between the member's home address coordinates (member_standing's `home`) and
 * the host club's; without both coordinates, the same city and country (case-insensitive)
 * counts as within. No home address, or 0 km: the rule does not apply. */
static int check_residency(const svc_call_t *call, db_tx_t *tx, vreq_t *r, err_t *e) {
    long long km = term_int(r, "residency_exclusion_km");
    json_t *home = json_object_get(r->standing, "home");
    if (km <= 0 || !json_is_object(home)) return 0;
    if (!r->host_club && host_club(call, r, e) != 0) return -1;
    char hlat[32], hlon[32], mlat[32], mlon[32], kms[24];
    snprintf(kms, sizeof kms, "%lld", km);
    int near = 0;
    if (coord(r->host_club, "latitude", hlat) && coord(r->host_club, "longitude", hlon) &&
        coord(home, "latitude", mlat) && coord(home, "longitude", mlon)) {
        const char *p[] = {hlat, hlon, mlat, mlon, kms};
        PGresult *q =
            db_exec(tx,
                    "SELECT (2 * 6371.0088 * asin(least(1, sqrt(power(sin(radians($3::float8 - "
                    "$1::float8) / 2), 2) + cos(radians($1::float8)) * cos(radians($3::float8)) * "
                    "power(sin(radians($4::float8 - $2::float8) / 2), 2)))) < $5::float8)::int",
                    5, p, e);
        if (!q) return -1;
        near = PQgetvalue(q, 0, 0)[0] == '1';
        PQclear(q);
    } else {
        json_t *addr = json_object_get(r->host_club, "address");
        const char *hc = json_string_value(json_object_get(addr, "city"));
        const char *hn = json_string_value(json_object_get(addr, "country"));
        const char *mc = json_string_value(json_object_get(home, "city"));
        const char *mn = json_string_value(json_object_get(home, "country"));
        near = hc && hn && mc && mn && *hc && *hn && strcasecmp(hc, mc) == 0 &&
               strcasecmp(hn, mn) == 0;
    }
    return near ? err_set(e, 422, "residency", "member_id",
                          "the member lives within %lld km of the host club: reciprocity is for "
                          "visitors",
                          km)
                : 0;
}

int visit_rules_check_facts(const svc_call_t *call, db_tx_t *tx, vreq_t *r, visit_stage_t stage,
                            const PGresult *q, err_t *e) {
    if (find_agreement(q, r, stage, e) != 0) return -1;
    if (!r->standing && !(r->standing = visit_standing(call, r->home, r->member, e))) return -1;
    if (check_static(r, e) != 0 || check_residency(call, tx, r, e) != 0 ||
        check_clock(q, r, stage, e) != 0 || check_limits(q, r, e) != 0)
        return -1;
    return 0;
}

int visit_rules_check(const svc_call_t *call, db_tx_t *tx, vreq_t *r, visit_stage_t stage,
                      err_t *e) {
    PGresult *q = rules_facts(tx, r, stage, e);
    if (!q) return -1;
    int rc = visit_rules_check_facts(call, tx, r, stage, q, e);
    PQclear(q);
    return rc;
}

/* The visit row and its `visit.requested` event: ONE statement (the event's outbox row a CTE
 * beside the INSERT, which answers the visit's document *doc as visit_load_doc would: a visit
 * that this statement inserts has no letter yet, so its document is visit_doc(v, NULL) with no
 * loi_doc call and query for the letter); its first history row; then the COMMIT when commit
 * (the transaction is then over): one flight. */
#define INSERT_VISIT_SQL(outbox)                                                                   \
    "WITH v AS (INSERT INTO reciprocal.visits AS v (id, home_club_id, host_club_id, member_id, "   \
    "agreement_id, arrive_on, depart_on, guests, facilities, host_timezone, requested_by) VALUES " \
    "($11::uuid, $1, $2, $3, $4, $5, $6, $7::int, ARRAY(SELECT "                                   \
    "jsonb_array_elements_text($8::jsonb)), $9, $10) RETURNING "                                   \
    "reciprocal.visit_doc(v, NULL::jsonb)::text AS doc), o AS (" outbox ") SELECT doc FROM v"

static int insert_visit(const svc_call_t *call, db_tx_t *tx, const vreq_t *r, char id[40],
                        int commit, json_t **doc, err_t *e) {
    db_batch_t b = {0};
    outbox_row_t ev;
    char guests[24], sql[sizeof INSERT_VISIT_SQL("") + sizeof ev.sql],
        *fac = jsonx_dump(r->facilities);
    int rc = -1;
    snprintf(guests, sizeof guests, "%lld", r->guests);
    uuid_v4(id); /* made here: the row, its history and the event go in one flight */
    const char *user = call->caller->user_id[0] ? call->caller->user_id : NULL;
    if (svc_event_row(call, &ev, 12, "visit.requested", r->home,
                      json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:O?}", "visit_id",
                                id, "member_id", r->member, "home_club_id", r->home, "host_club_id",
                                r->host, "status", "requested", "arrive_on", r->arrive, "depart_on",
                                r->depart, "host_timezone", r->tz, "guests", (json_int_t)r->guests,
                                "facilities", r->facilities),
                      e) != 0) {
        free(fac);
        return -1;
    }
    const char *p[] = {r->home,    r->host,    r->member,  r->agreement, r->arrive, r->depart,
                       guests,     fac,        r->tz,      user,         id,        ev.vals[0],
                       ev.vals[1], ev.vals[2], ev.vals[3], ev.vals[4]};
    snprintf(sql, sizeof sql, INSERT_VISIT_SQL("%s"), ev.sql);
    db_batch_add(&b, sql, 16, p);
    free(fac);
    outbox_row_free(&ev);
    /* its own statement: the row policy of visit_transitions looks the visit up, which a
     * statement that inserts both would not see */
    visit_transition_queue(&b, id, r->home, user, "request", NULL, "requested", NULL);
    if (db_batch_run(tx, &b, commit ? DB_BATCH_COMMIT : 0, e) != 0) goto done;
    *doc = db_json(db_batch_result(&b, 0), 0, 0, e);
    rc = *doc ? 0 : -1;
done:
    db_batch_clear(&b);
    return rc;
}

#define TRANSITION_SQL                                                                             \
    "INSERT INTO reciprocal.visit_transitions (visit_id, club_id, actor_user_id, action, "         \
    "from_status, to_status, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)"

int visit_transition_add(db_tx_t *tx, const char *id, const char *club, const char *user,
                         const char *action, const char *from, const char *to, const char *reason,
                         err_t *e) {
    const char *p[] = {id, club, user, action, from, to, reason};
    return db_exec_cmd(tx, TRANSITION_SQL, 7, p, e) < 0 ? -1 : 0;
}

int visit_transition_queue(db_batch_t *b, const char *id, const char *club, const char *user,
                           const char *action, const char *from, const char *to,
                           const char *reason) {
    const char *p[] = {id, club, user, action, from, to, reason};
    return db_batch_add(b, TRANSITION_SQL, 7, p);
}

json_t *visit_load_doc(db_tx_t *tx, const char *id, err_t *e) {
    const char *p[] = {id};
    PGresult *q =
        db_exec(tx, "SELECT " DOC_SQL " FROM reciprocal.visits v WHERE v.id = $1", 1, p, e);
    if (!q) return NULL;
    json_t *doc = NULL;
    if (PQntuples(q) == 0)
        err_set(e, 404, "not_found", "id", "no such visit");
    else
        doc = db_json(q, 0, 0, e);
    PQclear(q);
    return doc;
}

int visit_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    vreq_t r = {0};
    db_tx_t *tx = NULL;
    db_batch_t b = {0};
    int rc = -1, local = 0;
    char id[40];
    snprintf(r.host, sizeof r.host, "%s", json_string_value(json_object_get(in, "host_club_id")));
    snprintf(r.arrive, sizeof r.arrive, "%s", json_string_value(json_object_get(in, "arrive_on")));
    snprintf(r.depart, sizeof r.depart, "%s", json_string_value(json_object_get(in, "depart_on")));
    r.guests = (long long)json_integer_value(json_object_get(in, "guests"));
    r.facilities = json_object_get(in, "facilities");
    if (resolve_actor(call, in, &r, e) != 0) goto done;
    if (strcmp(r.home, r.host) == 0) {
        err_set(e, 422, "not_parties", "host_club_id", "a member visits another club");
        goto done;
    }
    if (!(r.standing = visit_standing(call, r.home, r.member, e))) goto done;
    if (host_club(call, &r, e) != 0) goto done;
    /* ONE flight (core/db.h pipelines): BEGIN and the scope; one request at a time per
     * (member, host), the same statement taking restrictions_check's shared lock (in that order)
     * and counting the stay's days; then the rules' facts with the restriction (one statement),
     * which run after the locks are granted, so the limits count what committed before. When
     * this process's relay publishes the reciprocal outbox, the same statement sets
     * app.outbox_wake (OUTBOX_WAKE_SET_SQL): the commit queues no NOTIFY (PostgreSQL
     * serialises those under one lock per database) and the relay is woken after it */
    if (svc_begin_deferred(call, r.home, &tx, e) != 0) goto done;
    local = outbox_relay_local("reciprocal");
    {
        const char *pl[] = {r.member, r.host, r.arrive, r.depart, local ? "local" : ""};
        db_batch_add(&b,
                     "SELECT " VISIT_LOCK_MEMBER_HOST_SQL(
                         "$1", "$2") ", "
                                     "pg_advisory_xact_lock_shared(hashtextextended("
                                     "'reciprocal.restriction:' || $1, 11)), ($4::date - $3::date "
                                     "+ 1), " OUTBOX_WAKE_SET_SQL("$5"),
                     5, pl);
    }
    visit_rules_queue(&b, &r, VISIT_AT_REQUEST);
    if (db_batch_run(tx, &b, 0, e) != 0) goto done;
    r.days = atoll(PQgetvalue(db_batch_result(&b, 0), 0, 2));
    const PGresult *facts = db_batch_result(&b, 1);
    if (visit_rules_restriction(facts, "member_id", e) != 0 ||
        visit_rules_check_facts(call, tx, &r, VISIT_AT_REQUEST, facts, e) != 0)
        goto done;
    /* auto_approve: the home club issues the letter at once, in the request's transaction;
     * otherwise the row, its history, the event and the COMMIT go in one flight */
    int approve = json_is_true(json_object_get(r.terms, "auto_approve"));
    if (insert_visit(call, tx, &r, id, !approve, out, e) != 0) goto done;
    if (approve) {
        json_decref(*out);
        *out = NULL;
        if (visit_auto_approve(call, tx, id, e) != 0) goto done;
        *out = visit_load_doc(tx, id, e);
    }
    rc = *out ? 0 : -1;
done:
    db_batch_clear(&b);
    visit_rules_free(&r);
    rc = db_tx_finish(&tx, rc, out, e);
    if (rc == 0 && local) outbox_wake("reciprocal"); /* committed */
    if (rc == 0) visit_add_qr(*out);
    return rc;
}

/* ---- reading ---- */

/* A caller without member:read is a member: they see only their own visits (*self). */
static int reader(const svc_call_t *call, char self[40], err_t *e) {
    self[0] = 0;
    if (svc_authorized(call->caller, "member:read")) return 0;
    return visit_self_member(call, self, e);
}

int visit_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char self[40];
    if (reader(call, self, e) != 0) return -1;
    const char *p[] = {json_string_value(json_object_get(in, "id")), self[0] ? self : NULL};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r =
        db_read(call->env->db, &scope,
                "SELECT (reciprocal.visit_doc(v) || jsonb_build_object('history', " LC_HISTORY_SQL(
                    "visit_transitions", "visit_id",
                    "v") "))::text FROM "
                         "reciprocal.visits v WHERE v.id = $1 AND ($2::uuid IS NULL OR "
                         "v.member_id = $2::uuid)",
                2, p, e);
    *out = db_row_json(r, e, "id", "no such visit");
    return *out ? 0 : -1;
}

int visit_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char self[40];
    cursor_page_t pg;
    if (reader(call, self, e) != 0) return -1;
    if (cursor_page_begin(in, 20, "visits", "Tu", &pg, e) != 0) return -1;
    const char *member = self[0] ? self : json_string_value(json_object_get(in, "member_id"));
    const char *p[] = {json_string_value(json_object_get(in, "side")),
                       json_string_value(json_object_get(in, "status")),
                       json_string_value(json_object_get(in, "from")),
                       json_string_value(json_object_get(in, "to")),
                       member,
                       cursor_page_key(&pg, 0),
                       cursor_page_key(&pg, 1),
                       pg.fetch};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(
        call->env->db, &scope,
        "SELECT " DOC_SQL ", reciprocal.ts(v.created_at), v.id FROM reciprocal.visits v WHERE "
        "($1::text IS NULL OR ($1 = 'home' AND v.home_club_id = core.current_club()) OR ($1 = "
        "'host' AND v.host_club_id = core.current_club())) AND ($2::text IS NULL OR v.status = "
        "$2) AND ($3::date IS NULL OR v.depart_on >= $3::date) AND ($4::date IS NULL OR "
        "v.arrive_on <= $4::date) AND ($5::uuid IS NULL OR v.member_id = $5::uuid) AND "
        "($6::timestamptz IS NULL OR (v.created_at, v.id) > ($6::timestamptz, $7::uuid)) ORDER "
        "BY v.created_at, v.id LIMIT $8::int",
        8, p, e);
    if (!r) return cursor_page_failed(e);
    *out = cursor_page_output(r, pg.limit, "visits", "Tu", e);
    PQclear(r);
    return *out ? 0 : -1;
}
