/* visits_sweep: see visits_sweep.h. */
#include "services/reciprocal/visits_sweep.h"

#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "services/reciprocal/charges.h"
#include "services/reciprocal/reciprocal.h"
#include "services/reciprocal/visit_lifecycle.h"
#include "services/reciprocal/visits.h"

int visit_validate_sweep(json_t *in, err_t *e) {
    static const char *const keys[] = {"as_of", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *as_of;
    if (jsonx_string(in, "as_of", 0, 1, 40, &as_of, e) != 0) return -1;
    if (as_of && !visit_is_timestamp(as_of))
        return err_set(e, 422, "invalid_field", "as_of",
                       "as_of must be an ISO 8601 timestamp YYYY-MM-DDTHH:MM:SSZ");
    return 0;
}

/* Moves every visit the query selects (id, status, home, host, member; np parameters of p:
 * as_of, the floor, grace minutes) by `action`: status, transition row (no club: the scheduler),
 * event. *n: the count. */
static int sweep_step(const svc_call_t *call, db_tx_t *tx, const char *select_sql, int np,
                      const char *const *p, const char *action, const char *event, long long *n,
                      err_t *e) {
    PGresult *r = db_exec(tx, select_sql, np, p, e);
    if (!r) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0), *from = PQgetvalue(r, i, 1);
        const char *to = vlc_next(action, from);
        if (!to) continue;
        const char *pu[] = {id, to};
        if (db_exec_cmd(tx,
                        "UPDATE reciprocal.visits SET status = $2, updated_at = now() WHERE id = "
                        "$1",
                        2, pu, e) < 0 ||
            visit_transition_add(tx, id, NULL, NULL, action, from, to, NULL, e) != 0)
            rc = -1;
        if (rc == 0)
            rc = svc_emit(call, tx, event, PQgetvalue(r, i, 2),
                          json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "visit_id", id, "member_id",
                                    PQgetvalue(r, i, 4), "home_club_id", PQgetvalue(r, i, 2),
                                    "host_club_id", PQgetvalue(r, i, 3), "status", to,
                                    "from_status", from),
                          e);
        if (rc == 0 && strcmp(to, "no_show") == 0) rc = charge_on_no_show(call, tx, id, e);
        if (rc == 0) (*n)++;
    }
    PQclear(r);
    return rc;
}

/* The end of the departure day in the host's time zone (DST-aware: PostgreSQL's zone rules). */
#define END_SQL "((v.depart_on + 1)::timestamp AT TIME ZONE v.host_timezone)"

/* The window of arrivals a sweep reads (visits_arrive_idx; migration 0019): from the floor ($2:
 * no visit in requested, approved or confirmed arrives before it) to the sweep's UTC date + 2
 * days (every visit the sweep can move has arrived: its letter or its departure day has ended).
 * No index names `status`, so the moves (the door's check-in first) are HOT. */
#define WINDOW_SQL                                                                                 \
    "v.arrive_on >= $2::date AND v.arrive_on <= ($1::timestamptz AT TIME ZONE 'UTC')::date + 2 "

/* The floor after the moves: the earliest arrival of a visit still in requested, approved or
 * confirmed (read from the old floor up by visits_arrive_idx), never above two days before
 * today (UTC): a visit written later with an earlier arrival lowers it (the trigger of 0019). */
#define FLOOR_SQL                                                                                  \
    "UPDATE reciprocal.visit_sweep_floor SET floor = least((now() AT TIME ZONE 'UTC')::date - 2, " \
    "coalesce((SELECT min(v.arrive_on) FROM reciprocal.visits v WHERE v.arrive_on >= $1::date "    \
    "AND v.status IN ('requested', 'approved', 'confirmed')), 'infinity'::date))"

int visit_sweep(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *as_of_in = json_string_value(json_object_get(in, "as_of"));
    long long expired = 0, no_show = 0;
    int rc = -1, locked = 0;
    char as_of[48], grace[24], floor[16] = "";
    snprintf(grace, sizeof grace, "%d", reciprocal_settings(call->env)->no_show_grace_min);
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    if (svc_begin(call, &tx, e) != 0) goto done;
    const char *pa[] = {as_of_in};
    r = db_exec(tx,
                "SELECT reciprocal.ts(coalesce($1::timestamptz, now())), "
                "pg_try_advisory_xact_lock(hashtext('reciprocal.visit_sweep'))::int",
                1, pa, e);
    if (!r) goto done;
    snprintf(as_of, sizeof as_of, "%s", PQgetvalue(r, 0, 0));
    locked = PQgetvalue(r, 0, 1)[0] == '1';
    PQclear(r);
    r = NULL;
    if (locked) {
        /* the floor's row stays locked to the COMMIT: a writer lowering it waits for the new one */
        r = db_row(db_exec(tx, "SELECT floor::text FROM reciprocal.visit_sweep_floor FOR UPDATE", 0,
                           NULL, e),
                   e, "", "no sweep floor");
        if (!r) goto done;
        snprintf(floor, sizeof floor, "%s", PQgetvalue(r, 0, 0));
    }
    const char *p[] = {as_of, floor, grace}, *pf[] = {floor};
    if (locked &&
        (sweep_step(call, tx,
                    "SELECT v.id, v.status, v.home_club_id, v.host_club_id, v.member_id FROM "
                    "reciprocal.visits v LEFT JOIN reciprocal.lois l ON l.visit_id = v.id "
                    "WHERE " WINDOW_SQL "AND v.status IN ('requested', 'approved') AND "
                    "coalesce(l.valid_to, " END_SQL ") <= $1::timestamptz ORDER BY v.id FOR "
                    "UPDATE OF v SKIP LOCKED",
                    2, p, "expire", "loi.expired", &expired, e) != 0 ||
         sweep_step(call, tx,
                    "SELECT v.id, v.status, v.home_club_id, v.host_club_id, v.member_id FROM "
                    "reciprocal.visits v WHERE " WINDOW_SQL
                    "AND v.status = 'confirmed' AND " END_SQL
                    " + make_interval(mins => $3::int) <= $1::timestamptz ORDER BY v.id FOR "
                    "UPDATE SKIP LOCKED",
                    3, p, "no_show", "visit.no_show", &no_show, e) != 0 ||
         db_exec_cmd(tx, FLOOR_SQL, 1, pf, e) < 0))
        goto done;
    *out = json_pack("{s:I, s:I, s:s, s:b}", "expired", (json_int_t)expired, "no_show",
                     (json_int_t)no_show, "as_of", as_of, "ran", locked);
    rc = *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
done:
    PQclear(r);
    return db_tx_finish(&tx, rc, out, e);
}
