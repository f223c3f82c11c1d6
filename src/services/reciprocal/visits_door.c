/* visits_door: see visits_door.h. */
#include "services/reciprocal/visits_door.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "core/outbox.h"
#include "services/reciprocal/charges.h"
#include "services/reciprocal/loi.h"
#include "services/reciprocal/visit_ledger.h"
#include "services/reciprocal/visit_lifecycle.h"
#include "services/reciprocal/visits.h"

int visit_validate_token(json_t *in, err_t *e) {
    static const char *const keys[] = {"token", "at", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    long long at;
    if (jsonx_string(in, "token", 1, 1, LOI_TOKEN_MAX, &s, e) != 0) return -1;
    return jsonx_int(in, "at", 0, 0, 32503680000LL, 0, &at, e);
}

typedef struct door {
    loi_t l;
    int decoded;
    int parse; /* the check-in's rules read the visit's fields: parse its document */
    const char *reason;
    json_t *visit;    /* owned; the stored visit when the letter is known (a raw value, core/json.h,
                         unless parse and not a same-day repeat: then only the rules' fields) */
    json_t *standing; /* owned */
    long long now;
    int repeat; /* the letter read found the visit checked in on now's day (host time zone) */
    int local;  /* this process's relay publishes the reciprocal outbox: no NOTIFY, woken after
                   the COMMIT (core/outbox.h outbox_wake) */
} door_t;

static void door_free(door_t *d) {
    json_decref(d->visit);
    json_decref(d->standing);
}

/* The letter's facts in ONE read (one round trip): the home club's public key the letter
 * names (its kid; none when the club has no such key), the stored visit, whether the letter is
 * revoked or superseded (no row of the visit: unknown) and whether the visit is checked in on
 * the day of $5 (unix seconds) in the host's time zone (the check-in answers such a same-day
 * repeat from this read, without a transaction). The visit is its document when $6 (the letter
 * check's answer) or for a same-day repeat (the check-in's answer), else only the fields the
 * check-in's rules read (visit_rules_from_doc: a first check-in answers the moved row's document,
 * so the letter read does not build one). The visit is read whether or not the signature holds,
 * and used only when it does. */
#define SAME_DAY_SQL                                                                               \
    "(v.status = 'checked_in' AND (v.checked_in_at AT TIME ZONE v.host_timezone)::date = "         \
    "(to_timestamp($5::bigint) AT TIME ZONE v.host_timezone)::date)"
#define LETTER_SQL                                                                                 \
    "SELECT encode(k.public_key, 'hex'), d.doc, d.revoked, d.repeat, d.member_id FROM (SELECT 1) " \
    "one LEFT JOIN reciprocal.loi_keys k ON k.club_id = $1::uuid AND k.kid = $2 LEFT JOIN "        \
    "LATERAL (SELECT v.member_id, CASE WHEN $6::bool OR " SAME_DAY_SQL " THEN "                    \
    "reciprocal.visit_doc(v, reciprocal.loi_json(l)) ELSE jsonb_build_object('id', v.id, "         \
    "'member_id', v.member_id, "                                                                   \
    "'home_club_id', v.home_club_id, 'host_club_id', v.host_club_id, 'agreement_id', "             \
    "v.agreement_id, 'arrive_on', v.arrive_on, 'depart_on', v.depart_on, 'days', v.days, "         \
    "'guests', v.guests, 'facilities', to_jsonb(v.facilities), 'host_timezone', "                  \
    "v.host_timezone) END::text AS doc, (l.revoked_at IS NOT NULL OR l.token <> $4)::int AS "      \
    "revoked, " SAME_DAY_SQL "::int AS repeat FROM reciprocal.lois l JOIN reciprocal.visits v ON " \
    "v.id = l.visit_id WHERE l.visit_id = $3::uuid) d ON true"

/* Every check of the letter; d->reason names the first failure ("ok" when none). -1 only for
 * errors of the service itself. */
static int check_letter(const svc_call_t *call, const char *token, door_t *d, err_t *e) {
    d->reason = "ok";
    if (loi_decode(token, &d->l) != 0) {
        d->reason = "malformed";
        return 0;
    }
    d->decoded = 1;
    char at[24];
    snprintf(at, sizeof at, "%lld", d->now);
    const char *p[] = {d->l.home, d->l.kid, d->l.visit, token, at, d->parse ? "false" : "true"};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *q = db_read(call->env->db, &scope, LETTER_SQL, 6, p, e);
    if (!q) return -1;
    signkey_pub_t key;
    size_t n = 0, len = 0;
    const char *hex = PQgetisnull(q, 0, 0) ? NULL : PQgetvalue(q, 0, 0);
    snprintf(key.kid, sizeof key.kid, "%s", d->l.kid);
    if (hex && sodium_hex2bin(key.pk, sizeof key.pk, hex, strlen(hex), NULL, &len, NULL) == 0 &&
        len == sizeof key.pk)
        n = 1;
    const char *host = call->caller->network_admin ? NULL : call->caller->club_id;
    loi_reason_t r = loi_verify(token, &key, n, host, d->now, &d->l);
    int known = !PQgetisnull(q, 0, 1), revoked = known && PQgetvalue(q, 0, 2)[0] == '1';
    d->repeat = known && PQgetvalue(q, 0, 3)[0] == '1';
    if (r != LOI_OK) {
        PQclear(q);
        d->reason = loi_reason_name(r);
        return 0;
    }
    /* answered as PostgreSQL printed it (no parse, no print) unless the rules read it */
    if (known &&
        !(d->visit = d->parse && !d->repeat ? db_json(q, 0, 1, e) : db_json_raw(q, 0, 1, e))) {
        PQclear(q);
        return -1;
    }
    char member[40];
    snprintf(member, sizeof member, "%s", known ? PQgetvalue(q, 0, 4) : "");
    PQclear(q);
    if (!known) {
        d->reason = "unknown_letter";
        return 0;
    }
    if (revoked) {
        d->reason = "revoked";
        return 0;
    }
    d->standing = visit_standing(call, d->l.home, member, e);
    if (!d->standing) return -1;
    if (!json_is_true(json_object_get(d->standing, "active"))) d->reason = "member_not_active";
    return 0;
}

/* now: `at` (unix seconds; network administrators only, for tests) or the clock. */
static int door_now(const svc_call_t *call, json_t *in, door_t *d, err_t *e) {
    json_t *at = json_object_get(in, "at");
    if (at && !call->caller->network_admin)
        return err_set(e, 403, "forbidden", "at", "only a network administrator sets at");
    d->now = at ? (long long)json_integer_value(at) : (long long)time(NULL);
    return 0;
}

int visit_verify_loi(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    door_t d = {0};
    if (door_now(call, in, &d, e) != 0) return -1;
    if (check_letter(call, json_string_value(json_object_get(in, "token")), &d, e) != 0) {
        door_free(&d);
        return -1;
    }
    json_t *letter = d.decoded ? loi_to_json(&d.l) : NULL;
    json_t *restrictions = json_object_get(d.standing, "restrictions");
    *out =
        json_pack("{s:b, s:s, s:O?, s:O?, s:O?, s:O}", "valid", strcmp(d.reason, "ok") == 0,
                  "reason", d.reason, "visit", d.visit, "member", json_object_get(letter, "member"),
                  "facilities", json_object_get(letter, "facilities"), "restrictions",
                  restrictions ? restrictions : json_array());
    if (!restrictions) json_decref(json_object_get(*out, "restrictions"));
    json_decref(letter);
    door_free(&d);
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
}

/* The visit's row lock, with its status and host, whether it is checked in on the check-in's
 * day (host time zone) and then its document (a same-day repeat's answer); then, above the row
 * lock (the sub-select's FOR UPDATE keeps it from being flattened, so its rows come out of the
 * lock), the (member, host) lock of $3, $4 (VISIT_LOCK_MEMBER_HOST_SQL): both locks in ONE
 * statement, taken in the order of the two statements they were (row, then member and host).
 * And app.outbox_wake for the rest of the transaction: $5 'local' (core migration 0005: the
 * outbox trigger then sends no NOTIFY, the caller wakes its relay after the COMMIT) or ''; and
 * plan_cache_mode force_generic_plan for the statements after it (the rules' facts, the move,
 * the fees): each pool connection planned each of them for its parameters five times before
 * the generic plan PostgreSQL then keeps (pg_stat_statements: 47 plans over 211 check-ins); now
 * once (docs/reciprocal.md "Speed: the move without loi_doc (stop 22)"). */
#define DOOR_ROW_SQL                                                                               \
    "SELECT v.status, v.host_club_id, s.same_day::int, CASE WHEN v.status = 'checked_in' AND "     \
    "s.same_day THEN reciprocal.visit_doc(v)::text END AS doc FROM reciprocal.visits v CROSS "     \
    "JOIN LATERAL (SELECT v.checked_in_at IS NOT NULL AND (v.checked_in_at AT TIME ZONE "          \
    "v.host_timezone)::date = (to_timestamp($2::bigint) AT TIME ZONE v.host_timezone)::date AS "   \
    "same_day) s WHERE v.id = $1 FOR UPDATE OF v"
#define GENERIC_PLANS_SQL "set_config('plan_cache_mode', 'force_generic_plan', true)"
#define DOOR_LOCK_SQL                                                                              \
    "SELECT k.status, k.host_club_id, k.same_day, k.doc, " VISIT_LOCK_MEMBER_HOST_SQL(             \
        "$3", "$4") ", " OUTBOX_WAKE_SET_SQL("$5") ", " GENERIC_PLANS_SQL " FROM (" DOOR_ROW_SQL   \
                                                   ") k"

/* What the row lock found: 0 to go on with the check-in (status and host copied), 1 when it is
 * a same-day repeat (*out: the locked row's document), -1 + err (404, 409 naming the allowed
 * actions). */
static int door_locked(const PGresult *r, char status[16], char host[40], json_t **out, err_t *e) {
    char allowed[128];
    if (PQntuples(r) == 0) return err_set(e, 404, "not_found", "token", "no such visit");
    snprintf(status, 16, "%s", PQgetvalue(r, 0, 0));
    snprintf(host, 40, "%s", PQgetvalue(r, 0, 1));
    if (strcmp(status, "checked_in") == 0 && PQgetvalue(r, 0, 2)[0] == '1')
        return (*out = db_json(r, 0, 3, e)) ? 1 : -1;
    if (!vlc_next("check_in", status))
        return err_set(e, 409, "invalid_transition", "status",
                       "cannot check in a visit that is %s; allowed: %s", status,
                       vlc_allowed(status, allowed, sizeof allowed));
    return 0;
}

/* The row lock and every rule of the request again at the door (the rules of
 * visit_rules_check) under the (member, host) lock, with the standing check_letter fetched and
 * the check-in time for the opening hours: BEGIN + scope, the row lock with the (member, host)
 * lock (one statement, DOOR_LOCK_SQL) and the rules' facts with the restriction (one statement,
 * visit_rules_queue) in ONE flight (they run one after another, each
 * after the locks before it are granted; the rules' inputs are the letter read's document, whose
 * member, host, dates, guests and facilities a visit never changes), then judged in that order:
 * the row lock's status first, so a visit moved since the letter read is refused (or answered)
 * as before, then the restriction, then the rules. 1 when the lock found a same-day repeat (*out
 * its document). *fees: 1 when the host's terms charge an entry fee, or a guest fee for the visit's
 * guests (charge_on_check_in has lines to post), else 0 (it would post none: not asked). */
static int door_rules(const svc_call_t *call, db_tx_t *tx, door_t *d, char status[16],
                      char host[40], int *fees, json_t **out, err_t *e) {
    vreq_t r = {0};
    db_batch_t b = {0};
    char at[24];
    snprintf(at, sizeof at, "%lld", d->now);
    int rc = visit_rules_from_doc(d->visit, &r, e);
    const char *pl[] = {d->l.visit, at, r.member, r.host, d->local ? "local" : ""};
    r.at = d->now;
    r.standing = json_incref(d->standing);
    if (rc == 0) {
        db_batch_add(&b, DOOR_LOCK_SQL, 5, pl);
        visit_rules_queue(&b, &r, VISIT_AT_CHECK_IN);
        rc = db_batch_run(tx, &b, 0, e);
    }
    if (rc == 0) rc = door_locked(db_batch_result(&b, 0), status, host, out, e);
    if (rc == 0) rc = visit_rules_restriction(db_batch_result(&b, 1), "token", e);
    if (rc == 0)
        rc = visit_rules_check_facts(call, tx, &r, VISIT_AT_CHECK_IN, db_batch_result(&b, 1), e);
    json_t *f = json_object_get(r.terms, "fees");
    *fees = json_string_value(json_object_get(f, "currency")) &&
            (json_integer_value(json_object_get(f, "entry")) > 0 ||
             (r.guests > 0 && json_integer_value(json_object_get(f, "guest")) > 0));
    db_batch_clear(&b);
    visit_rules_free(&r);
    return rc;
}

/* The move and its history row, answering the new document; more: further CTEs (the event's
 * outbox row and the ledger record when they go in the same statement). */
#define CHECK_IN_SQL(more)                                                                         \
    "WITH up AS (UPDATE reciprocal.visits AS v SET status = 'checked_in', checked_in_at = "        \
    "to_timestamp($2::bigint), checked_in_by = $3, updated_at = now() WHERE v.id = $1 RETURNING "  \
    "v), hist AS (INSERT INTO reciprocal.visit_transitions (visit_id, club_id, actor_user_id, "    \
    "action, from_status, to_status, reason) SELECT (up.v).id, $4, $3, 'check_in', $5, "           \
    "'checked_in', NULL FROM up)" more " SELECT reciprocal.visit_doc(up.v, "                       \
    "reciprocal.loi_json(lo))::text FROM up LEFT JOIN reciprocal.lois lo ON lo.visit_id = "        \
    "(up.v).id"

/* The `visit.checked_in` event's payload. */
static json_t *checked_in_event(const door_t *d, const char *host) {
    return json_pack("{s:s, s:s, s:s, s:s}", "visit_id", d->l.visit, "home_club_id", d->l.home,
                     "host_club_id", host, "status", "checked_in");
}

/* No fees to post: the move, its history row, the `visit.checked_in` event (outbox row) and the
 * ledger record in ONE statement (CTEs: the record's policy and foreign key see the visit, which
 * exists before the statement), then the COMMIT: one flight of two statements. */
static int door_check_in_one(const svc_call_t *call, db_tx_t *tx, const door_t *d,
                             const char *const pu[5], const char *host, json_t **out, err_t *e) {
    outbox_row_t ev;
    visit_ledger_row_t lr;
    db_batch_t b = {0};
    char sql[sizeof CHECK_IN_SQL(", o AS (), l AS ()") + sizeof ev.sql + sizeof lr.sql];
    if (visit_ledger_row(&lr, 11, d->l.num, e) != 0 ||
        svc_event_row(call, &ev, 6, "visit.checked_in", host, checked_in_event(d, host), e) != 0)
        return -1;
    snprintf(sql, sizeof sql, CHECK_IN_SQL(", o AS (%s), l AS (%s)"), ev.sql, lr.sql);
    const char *p[] = {pu[0],      pu[1],      pu[2],      pu[3],      pu[4],      ev.vals[0],
                       ev.vals[1], ev.vals[2], ev.vals[3], ev.vals[4], lr.vals[0], lr.vals[1]};
    int rc = db_batch_add(&b, sql, 12, p) < 0
                 ? err_set(e, 500, "internal", "", "the check-in could not be queued")
                 : db_batch_run(tx, &b, DB_BATCH_COMMIT, e);
    outbox_row_free(&ev);
    sodium_memzero(&lr, sizeof lr);
    if (rc == 0 && !(*out = db_json(db_batch_result(&b, 0), 0, 0, e))) rc = -1;
    db_batch_clear(&b);
    return rc;
}

/* The move and its history row (one statement answering the new document into *out), the
 * entry/guest fees (charge_on_check_in, only when there are any to post), the event, the ledger
 * record and the COMMIT: ONE flight of two statements when there are no fees
 * (door_check_in_one), else the fees between two flights. */
static int door_check_in(const svc_call_t *call, db_tx_t *tx, const door_t *d, const char *host,
                         const char *status, int fees, json_t **out, err_t *e) {
    db_batch_t b = {0};
    char at[24];
    snprintf(at, sizeof at, "%lld", d->now);
    const char *user = call->caller->user_id[0] ? call->caller->user_id : NULL;
    const char *pu[] = {d->l.visit, at, user, host, status};
    if (!fees) return door_check_in_one(call, tx, d, pu, host, out, e);
    int rc = -1;
    db_batch_add(&b, CHECK_IN_SQL(""), 5, pu);
    if (db_batch_run(tx, &b, 0, e) != 0 || !(*out = db_json(db_batch_result(&b, 0), 0, 0, e)) ||
        charge_on_check_in(call, tx, d->l.visit, d->now, e) != 0)
        goto done;
    db_batch_clear(&b);
    if (svc_emit_batch(call, &b, "visit.checked_in", host, checked_in_event(d, host), e) != 0 ||
        visit_ledger_queue(&b, d->l.visit, d->l.num, e) != 0 ||
        db_batch_run(tx, &b, DB_BATCH_COMMIT, e) != 0)
        goto done;
    rc = 0;
done:
    db_batch_clear(&b);
    return rc;
}

int visit_check_in(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    door_t d = {.parse = 1};
    db_tx_t *tx = NULL;
    int rc = -1;
    if (door_now(call, in, &d, e) != 0) return -1;
    if (check_letter(call, json_string_value(json_object_get(in, "token")), &d, e) != 0) goto done;
    if (strcmp(d.reason, "ok") != 0) {
        char code[48];
        snprintf(code, sizeof code, "loi_%s", d.reason);
        err_set(e, 422, code, "token", "the letter is not valid here and now: %s", d.reason);
        goto done;
    }
    if (d.repeat) { /* a same-day repeat: the letter read's document, no transaction */
        *out = json_incref(d.visit);
        rc = 0;
        goto done;
    }
    /* deferred: the BEGIN and the scope go with the row lock and the rules. No NOTIFY when this
     * process's relay publishes the outbox: PostgreSQL serialises notifying commits under one
     * lock per database (core/outbox.h; docs/reciprocal.md "Speed: the first check-in wakes its
     * own relay") */
    d.local = outbox_relay_local("reciprocal");
    if (svc_begin_deferred(call, NULL, &tx, e) != 0) goto done;
    char status[16], host[40];
    int fees = 0;
    rc = door_rules(call, tx, &d, status, host, &fees, out, e);
    if (rc == 0) rc = door_check_in(call, tx, &d, host, status, fees, out, e);
    if (rc == 1) rc = 0; /* a same-day repeat found under the lock: *out is its document */
done:
    door_free(&d);
    rc = db_tx_finish(&tx, rc, out, e);
    if (rc == 0 && d.local) outbox_wake("reciprocal"); /* committed */
    return rc;
}
