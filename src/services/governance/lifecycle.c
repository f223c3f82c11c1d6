/* lifecycle: see lifecycle.h. */
#include "services/governance/lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "services/governance/common.h"
#include "services/governance/execute.h"
#include "services/governance/gov_ledger.h"
#include "services/governance/tally.h"
#include "services/governance/types.h"

#define STALE_EXECUTION "interval '10 minutes'"

int gov_validate_sweep(json_t *in, err_t *e) {
    static const char *const keys[] = {"as_of", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return gov_valid_as_of(in, e);
}

/* ---- the eligible voters (through the member service) ---- */

/* Appends the ids of every page of op's list (items[].field) to ids. */
static int collect(const svc_call_t *call, const char *op, json_t *query, const char *field,
                   json_t *ids, err_t *e) {
    svc_caller_t sys;
    gov_system_caller(call, &sys);
    json_t *after = NULL;
    int rc = 0;
    for (int page = 0; rc == 0 && page < 100000; page++) {
        json_t *in = json_deep_copy(query), *res = NULL;
        json_object_set_new(in, "limit", json_integer(100));
        if (after) json_object_set(in, "after", after);
        int status = 0;
        rc = svc_call(call->env, "member", op, &sys, in, &status, &res, e);
        json_decref(in);
        if (rc != 0) break;
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(res, "items"), i, it) {
            json_t *v = json_object_get(it, field);
            if (json_is_string(v)) json_array_append(ids, v);
        }
        json_decref(after);
        after = json_incref(json_object_get(res, "next_cursor"));
        json_decref(res);
        if (!json_is_string(after)) break;
    }
    json_decref(after);
    return rc;
}

/* The voters of a proposal: the network's active clubs, or the club's active members with an
 * account (their user id). New array, or NULL + err. */
static json_t *eligible_ids(const svc_call_t *call, const char *scope, const char *club, err_t *e) {
    json_t *ids = json_array(), *q;
    int rc;
    if (strcmp(scope, "network") == 0) {
        q = json_pack("{s:s}", "status", "active");
        rc = collect(call, "list_clubs", q, "id", ids, e);
    } else {
        q = json_pack("{s:s, s:s}", "club_id", club, "status", "active");
        rc = collect(call, "list_members", q, "auth_user_id", ids, e);
    }
    json_decref(q);
    if (rc != 0) {
        json_decref(ids);
        return NULL;
    }
    return ids;
}

/* ---- the steps ---- */

typedef struct {
    const char *now;
    long long opened, reminded, defeated, queued, executed, failed, expired;
} sweep_t;

/* The ids (column 0) and columns of due rows of select_sql ($1 = now). */
static PGresult *due(const svc_call_t *call, const char *select_sql, const char *now, err_t *e) {
    db_scope_t scope = svc_scope(call, NULL);
    const char *p[] = {now};
    return db_read(call->env->db, &scope, select_sql, 1, p, e);
}

/* Locks id when its status is still `status` and the condition (SQL on p, $2 = now) holds:
 * 1 locked, 0 gone (another process took it). */
static int lock_due(db_tx_t *tx, const char *id, const char *status, const char *cond,
                    const char *now, err_t *e) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT 1 FROM governance.proposals p WHERE p.id = $1 AND p.status = $3 AND (%s) "
             "FOR UPDATE SKIP LOCKED",
             cond);
    const char *p[] = {id, now, status};
    PGresult *r = db_exec(tx, sql, 3, p, e);
    if (!r) return -1;
    int n = PQntuples(r);
    PQclear(r);
    return n;
}

static int open_one(const svc_call_t *call, const char *id, const char *scope, const char *club,
                    const char *type, sweep_t *s, err_t *e) {
    json_t *ids = eligible_ids(call, scope, club, e);
    if (!ids) return -1;
    char *ids_s = jsonx_dump(ids);
    json_decref(ids);
    db_tx_t *tx = NULL;
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) goto done;
    int got = lock_due(tx, id, "pending", "p.voting_starts_at <= $2::timestamptz", s->now, e);
    if (got <= 0) {
        rc = got;
        goto done;
    }
    const char *p[] = {id, ids_s, scope, type, club};
    if (db_exec_cmd(
            tx,
            "INSERT INTO governance.eligible (proposal_id, prop_scope, prop_club_id, voter_id, "
            "weight, delegate_all, delegate_type) SELECT $1, $3, $5::uuid, v.id::uuid, "
            "coalesce(w.weight, 1), da.delegate_id, "
            "dt.delegate_id FROM (SELECT DISTINCT x AS id FROM "
            "jsonb_array_elements_text($2::jsonb) x) v LEFT JOIN governance.weights w ON "
            "$3 = 'network' AND w.club_id = v.id::uuid LEFT JOIN governance.delegations da "
            "ON da.scope = $3 AND da.delegator_id = v.id::uuid AND da.type = '*' AND ($3 = "
            "'network' OR da.club_id = $5::uuid) LEFT JOIN governance.delegations dt ON "
            "dt.scope = $3 AND dt.delegator_id = v.id::uuid AND dt.type = $4 AND ($3 = "
            "'network' OR dt.club_id = $5::uuid)",
            5, p, e) < 0)
        goto done;
    const char *pc[] = {id};
    if (db_exec_cmd(tx,
                    "UPDATE governance.proposals SET eligible_count = (SELECT count(*) FROM "
                    "governance.eligible e WHERE e.proposal_id = $1), eligible_weight = (SELECT "
                    "coalesce(sum(weight), 0) FROM governance.eligible e WHERE e.proposal_id = "
                    "$1) WHERE id = $1",
                    1, pc, e) < 0)
        goto done;
    json_t *extra = json_pack("{s:s, s:s, s:s, s:s}", "scope", scope, "type", type, "club_id", club,
                              "proposer_club_id", club);
    /* the notification service tells every eligible club (rules.c "party_clubs") */
    if (strcmp(scope, "network") == 0)
        json_object_set_new(extra, "clubs", json_loads(ids_s, 0, NULL));
    if (gov_transition(call, tx, id, "pending", "active", s->now, NULL, "voting opened", "opened",
                       club, extra, e) != 0)
        goto done;
    if (strcmp(scope, "network") == 0 && gov_ledger_enqueue_opening(tx, id, e) != 0) goto done;
    s->opened++;
    rc = 0;
done:
    free(ids_s);
    return db_tx_finish(&tx, rc, NULL, e);
}

static int remind_one(const svc_call_t *call, const char *id, const char *club, sweep_t *s,
                      err_t *e) {
    db_tx_t *tx = NULL;
    int rc = -1;
    PGresult *r = NULL;
    if (svc_begin(call, &tx, e) != 0) goto done;
    int got = lock_due(tx, id, "active",
                       "p.reminded_at IS NULL AND p.voting_ends_at - interval '24 hours' <= "
                       "$2::timestamptz",
                       s->now, e);
    if (got <= 0) {
        rc = got;
        goto done;
    }
    const char *p[] = {id, s->now};
    r = db_exec(tx,
                "WITH b AS (SELECT voter_id FROM governance.ballots($1)) SELECT "
                "p.scope, governance.ts(p.voting_ends_at), coalesce((SELECT jsonb_agg(e.voter_id "
                "ORDER BY e.voter_id) FROM governance.eligible e WHERE e.proposal_id = $1 AND "
                "e.voter_id NOT IN (SELECT voter_id FROM b)), '[]')::text FROM "
                "governance.proposals p WHERE p.id = $1",
                1, p, e);
    if (!r) goto done;
    json_t *non_voters = db_json(r, 0, 2, e);
    if (!non_voters) goto done;
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "proposal_id", id, "scope",
                             PQgetvalue(r, 0, 0), "club_id", club, "proposer_club_id", club,
                             "voting_ends_at", PQgetvalue(r, 0, 1), "non_voters", non_voters);
    /* network: the clubs to remind (rules.c "party_clubs"); club scope: user ids, no mail */
    if (strcmp(PQgetvalue(r, 0, 0), "network") == 0) json_object_set(data, "clubs", non_voters);
    if (db_exec_cmd(tx,
                    "UPDATE governance.proposals SET reminded_at = $2::timestamptz WHERE id = $1",
                    2, p, e) < 0) {
        json_decref(data);
        goto done;
    }
    if (svc_emit(call, tx, "governance.proposal_closing", club, data, e) != 0) goto done;
    s->reminded++;
    rc = 0;
done:
    PQclear(r);
    return db_tx_finish(&tx, rc, NULL, e);
}

int gov_count(db_tx_t *tx, const char *id, json_t **result, int *succeeded, err_t *e) {
    *result = NULL;
    *succeeded = 0;
    const char *p[] = {id};
    PGresult *r = db_exec(
        tx,
        "SELECT p.rule::text, coalesce(p.options, '[]')::text, (SELECT coalesce(jsonb_agg("
        "jsonb_strip_nulls(jsonb_build_object('voter', e.voter_id, 'weight', e.weight, "
        "'delegate_all', e.delegate_all, 'delegate_type', e.delegate_type)) ORDER BY e.voter_id), "
        "'[]') FROM governance.eligible e WHERE e.proposal_id = p.id)::text, (SELECT "
        "coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('voter', v.voter_id, 'choice', "
        "v.choice, 'by', v.delegate_id)) ORDER BY v.voter_id), '[]') FROM governance.votes v "
        "WHERE v.proposal_id = p.id)::text FROM "
        "governance.proposals p WHERE p.id = $1",
        1, p, e);
    if (!r) return -1;
    int rc = -1;
    json_t *rule = NULL, *options = NULL, *voters = NULL, *votes = NULL, *prop = NULL, *snap = NULL;
    gov_tally_t t;
    memset(&t, 0, sizeof t);
    if (PQntuples(r) == 0) {
        err_set(e, 404, "not_found", "id", "no such proposal");
        goto done;
    }
    if (!(rule = db_json(r, 0, 0, e)) || !(options = db_json(r, 0, 1, e)) ||
        !(voters = db_json(r, 0, 2, e)) || !(votes = db_json(r, 0, 3, e)))
        goto done;
    prop = json_pack("{s:o, s:O}", "rule", gov_counting_rule(rule), "options", options);
    snap = json_pack("{s:O}", "voters", voters);
    if (gov_tally_records(prop, snap, votes, &t, e) != 0) goto done;
    *result = gov_tally_json(&t);
    *succeeded = t.outcome == GOV_SUCCEEDED;
    rc = *result ? 0 : err_set(e, 500, "internal", "", "out of memory");
done:
    gov_tally_free(&t);
    json_decref(rule), json_decref(options), json_decref(voters), json_decref(votes);
    json_decref(prop), json_decref(snap);
    PQclear(r);
    return rc;
}

/* The eligible voters of network proposal id as summary.clubs (who hears the result). */
static int eligible_clubs(db_tx_t *tx, const char *id, json_t *summary, err_t *e) {
    const char *p[] = {id};
    PGresult *r = db_exec(tx,
                          "SELECT coalesce(jsonb_agg(voter_id ORDER BY voter_id), '[]')::text FROM "
                          "governance.eligible WHERE proposal_id = $1",
                          1, p, e);
    if (!r) return -1;
    json_t *clubs = db_json(r, 0, 0, e);
    PQclear(r);
    if (!clubs) return -1;
    json_object_set_new(summary, "clubs", clubs);
    return 0;
}

static int close_one(const svc_call_t *call, const char *id, const char *scope, const char *club,
                     sweep_t *s, err_t *e) {
    db_tx_t *tx = NULL;
    int rc = -1, ok = 0;
    json_t *result = NULL;
    char *result_s = NULL;
    if (svc_begin(call, &tx, e) != 0) goto done;
    int got = lock_due(tx, id, "active", "p.voting_ends_at <= $2::timestamptz", s->now, e);
    if (got <= 0) {
        rc = got;
        goto done;
    }
    if (gov_count(tx, id, &result, &ok, e) != 0) goto done;
    result_s = jsonx_dump(result);
    const char *p[] = {id, result_s};
    if (db_exec_cmd(tx, "UPDATE governance.proposals SET result = $2::jsonb WHERE id = $1", 2, p,
                    e) < 0)
        goto done;
    json_t *summary = json_pack(
        "{s:s, s:s, s:s, s:O, s:O}", "scope", scope, "club_id", club, "proposer_club_id", club,
        "outcome", json_object_get(result, "outcome"), "reason", json_object_get(result, "reason"));
    if (strcmp(scope, "network") == 0 && eligible_clubs(tx, id, summary, e) != 0) {
        json_decref(summary);
        goto done;
    }
    if (!ok) {
        if (gov_transition(call, tx, id, "active", "defeated", s->now, NULL,
                           json_string_value(json_object_get(result, "reason")), "defeated", club,
                           summary, e) != 0)
            goto done;
        s->defeated++;
    } else {
        if (gov_transition(call, tx, id, "active", "succeeded", s->now, NULL, "passed", "succeeded",
                           club, summary, e) != 0)
            goto done;
        /* the timelock and grace come from the rule snapshotted when proposed */
        if (gov_transition(call, tx, id, "succeeded", "queued", s->now,
                           ", executable_at = $4::timestamptz + make_interval(secs => "
                           "(rule->>'timelock_s')::int), expires_at = $4::timestamptz + "
                           "make_interval(secs => (rule->>'timelock_s')::int + "
                           "(rule->>'grace_s')::int)",
                           "timelock", "queued", club, NULL, e) != 0)
            goto done;
        s->queued++;
    }
    if (strcmp(scope, "network") == 0 && gov_ledger_enqueue_result(tx, id, e) != 0) goto done;
    rc = 0;
done:
    json_decref(result);
    free(result_s);
    return db_tx_finish(&tx, rc, NULL, e);
}

static int simple_one(const svc_call_t *call, const char *id, const char *from, const char *cond,
                      const char *to, const char *extra, const char *reason, const char *event,
                      const char *club, long long *n, const char *now, err_t *e) {
    db_tx_t *tx = NULL;
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) goto done;
    int got = lock_due(tx, id, from, cond, now, e);
    if (got <= 0) {
        rc = got;
        goto done;
    }
    if (gov_transition(call, tx, id, from, to, now, extra, reason, event, club, NULL, e) != 0)
        goto done;
    (*n)++;
    rc = 0;
done:
    return db_tx_finish(&tx, rc, NULL, e);
}

/* Runs step over the due rows (id, scope, club_id, type): a failure of one proposal is logged
 * and the others go on; only a failed read fails the pass. */
static int each_due(const svc_call_t *call, sweep_t *s, const char *select_sql,
                    int (*step)(const svc_call_t *, PGresult *, int, sweep_t *, err_t *),
                    err_t *e) {
    PGresult *r = due(call, select_sql, s->now, e);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        err_t pe = {0};
        if (step(call, r, i, s, &pe) != 0)
            log_warn("governance sweep: proposal %s: %s", PQgetvalue(r, i, 0), pe.message);
    }
    PQclear(r);
    return 0;
}

static int step_open(const svc_call_t *call, PGresult *r, int i, sweep_t *s, err_t *e) {
    return open_one(call, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                    PQgetvalue(r, i, 3), s, e);
}
static int step_remind(const svc_call_t *call, PGresult *r, int i, sweep_t *s, err_t *e) {
    return remind_one(call, PQgetvalue(r, i, 0), PQgetvalue(r, i, 2), s, e) < 0 ? -1 : 0;
}
static int step_close(const svc_call_t *call, PGresult *r, int i, sweep_t *s, err_t *e) {
    return close_one(call, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), s, e) < 0
               ? -1
               : 0;
}
static int step_stale(const svc_call_t *call, PGresult *r, int i, sweep_t *s, err_t *e) {
    return simple_one(call, PQgetvalue(r, i, 0), "executing",
                      "p.executing_since <= $2::timestamptz - " STALE_EXECUTION, "execution_failed",
                      ", last_error = 'the execution was interrupted'", "interrupted",
                      "execution_failed", PQgetvalue(r, i, 2), &s->failed, s->now, e) < 0
               ? -1
               : 0;
}
static int step_expire(const svc_call_t *call, PGresult *r, int i, sweep_t *s, err_t *e) {
    const char *from = PQgetvalue(r, i, 4);
    return simple_one(call, PQgetvalue(r, i, 0), from, "p.expires_at <= $2::timestamptz", "expired",
                      NULL, "grace period over", "expired", PQgetvalue(r, i, 2), &s->expired,
                      s->now, e) < 0
               ? -1
               : 0;
}
static int step_execute(const svc_call_t *call, PGresult *r, int i, sweep_t *s, err_t *e) {
    int ok = 0;
    int rc = gov_execute_run(call, PQgetvalue(r, i, 0), s->now, &ok, e);
    if (rc == 1) {
        if (ok)
            s->executed++;
        else
            s->failed++;
    }
    return rc < 0 ? -1 : 0;
}

#define DUE_COLS "SELECT p.id, p.scope, p.club_id, p.type, p.status FROM governance.proposals p "

int gov_sweep(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char now[40];
    if (gov_clock(call, in, now, e) != 0) return -1;
    sweep_t s = {.now = now};
    if (each_due(call, &s,
                 DUE_COLS "WHERE p.status = 'pending' AND p.voting_starts_at <= $1::timestamptz "
                          "ORDER BY p.voting_starts_at, p.id LIMIT 100",
                 step_open, e) != 0 ||
        each_due(call, &s,
                 DUE_COLS "WHERE p.status = 'active' AND p.voting_ends_at <= $1::timestamptz "
                          "ORDER BY p.voting_ends_at, p.id LIMIT 100",
                 step_close, e) != 0 ||
        each_due(call, &s,
                 DUE_COLS "WHERE p.status = 'active' AND p.reminded_at IS NULL AND "
                          "p.voting_ends_at - interval '24 hours' <= $1::timestamptz ORDER BY "
                          "p.voting_ends_at, p.id LIMIT 100",
                 step_remind, e) != 0 ||
        each_due(call, &s,
                 DUE_COLS "WHERE p.status = 'executing' AND p.executing_since <= "
                          "$1::timestamptz - " STALE_EXECUTION " ORDER BY p.id LIMIT 100",
                 step_stale, e) != 0 ||
        each_due(call, &s,
                 DUE_COLS "WHERE p.status IN ('queued', 'execution_failed') AND p.expires_at <= "
                          "$1::timestamptz ORDER BY p.expires_at, p.id LIMIT 100",
                 step_expire, e) != 0 ||
        each_due(call, &s,
                 DUE_COLS "WHERE p.status = 'queued' AND p.executable_at <= $1::timestamptz AND "
                          "p.expires_at > $1::timestamptz ORDER BY p.executable_at, p.id LIMIT 100",
                 step_execute, e) != 0)
        return -1;
    long long resumed = 0;
    if (gov_execute_resume(call, now, &resumed, e) != 0) return -1;
    long long submitted = 0, pending = 0;
    err_t le = {0};
    if (gov_ledger_pass(call, &submitted, &pending, &le) != 0)
        log_warn("governance ledger records: %s (retried next sweep)", le.message);
    *out = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "resumed",
                     (json_int_t)resumed, "opened", (json_int_t)s.opened, "reminded",
                     (json_int_t)s.reminded, "defeated", (json_int_t)s.defeated, "queued",
                     (json_int_t)s.queued, "executed", (json_int_t)s.executed, "execution_failed",
                     (json_int_t)s.failed, "expired", (json_int_t)s.expired, "ledger_submitted",
                     (json_int_t)submitted, "ledger_pending", (json_int_t)pending, "as_of", now);
    return 0;
}
