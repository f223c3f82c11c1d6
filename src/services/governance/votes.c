/* votes: see votes.h. */
#include "services/governance/votes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cursor.h"
#include "core/json.h"
#include "services/governance/common.h"
#include "services/governance/gov_ledger.h"
#include "services/governance/presigned.h"
#include "services/governance/types.h"

int gov_validate_cast(json_t *in, err_t *e) {
    static const char *const keys[] = {"id",    "choice", "reason",    "club_id",
                                       "as_of", "tx",     "signature", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    /* a pre-signed vote: {tx, signature}, its choice is the record's (presigned.h) */
    int signed_vote = json_object_get(in, "tx") != NULL;
    if (signed_vote && json_object_get(in, "choice"))
        return err_invalid(e, "choice", "a pre-signed vote carries its choice in tx");
    if (jsonx_string(in, "tx", 0, 1, 1 << 20, &s, e) != 0) return -1;
    if (jsonx_string(in, "signature", signed_vote, 1, 200, &s, e) != 0) return -1;
    if (!signed_vote && json_object_get(in, "signature")) return err_missing(e, "tx");
    if (!signed_vote && jsonx_string(in, "choice", 1, 1, 200, &s, e) != 0) return -1;
    if (jsonx_text(in, "reason", 0, 1, 2000, &s, e) != 0) return -1;
    if (gov_valid_uuid(in, "club_id", 0, e) != 0) return -1;
    if (gov_valid_as_of(in, e) != 0) return -1;
    return gov_valid_uuid(in, "id", 1, e);
}

int gov_validate_votes_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "limit", "after", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (gov_valid_uuid(in, "id", 1, e) != 0) return -1;
    return cursor_page_validate(in, e);
}

int gov_validate_delegation(json_t *in, err_t *e) {
    static const char *const keys[] = {"scope", "delegate_id", "type", "club_id", NULL};
    static const char *const scopes[] = {"network", "club", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_enum(in, "scope", 0, scopes, &s, e) != 0) return -1;
    if (!s) json_object_set_new(in, "scope", json_string("network"));
    json_t *d = json_object_get(in, "delegate_id");
    if (!d) return err_missing(e, "delegate_id");
    if (!json_is_null(d) && gov_valid_uuid(in, "delegate_id", 1, e) != 0) return -1;
    const char *t = json_string_value(json_object_get(in, "type"));
    if (t && strcmp(t, "*") != 0 && jsonx_enum(in, "type", 0, gov_type_names, &s, e) != 0)
        return -1;
    return gov_valid_uuid(in, "club_id", 0, e);
}

typedef struct {
    char scope[12], club[40], status[24], kind[20];
    int open, allow_change, quorum_open;
    json_t *options;
} vote_prop_t;

/* The proposal, locked: 404 when the caller cannot see it. */
static int lock_for_vote(db_tx_t *tx, const char *id, const char *now, vote_prop_t *v, err_t *e) {
    const char *p[] = {id, now};
    PGresult *r = db_exec(
        tx,
        "SELECT scope, club_id, status, rule->>'kind', (status = 'active' AND voting_starts_at <= "
        "$2::timestamptz AND voting_ends_at > $2::timestamptz)::int, coalesce((rule->>"
        "'allow_change')::boolean, false)::int, (quorum_reached_at IS NULL AND coalesce((rule->>"
        "'quorum_bp')::int, 0) > 0)::int, coalesce(options, '[]')::text FROM "
        "governance.proposals WHERE id = $1 FOR UPDATE",
        2, p, e);
    if (!r) return -1;
    int rc = 0;
    if (PQntuples(r) == 0) {
        rc = err_set(e, 404, "not_found", "id", "no such proposal");
    } else {
        snprintf(v->scope, sizeof v->scope, "%s", PQgetvalue(r, 0, 0));
        snprintf(v->club, sizeof v->club, "%s", PQgetvalue(r, 0, 1));
        snprintf(v->status, sizeof v->status, "%s", PQgetvalue(r, 0, 2));
        snprintf(v->kind, sizeof v->kind, "%s", PQgetvalue(r, 0, 3));
        v->open = PQgetvalue(r, 0, 4)[0] == '1';
        v->allow_change = PQgetvalue(r, 0, 5)[0] == '1';
        v->quorum_open = PQgetvalue(r, 0, 6)[0] == '1';
        if (!(v->options = db_json(r, 0, 7, e))) rc = -1;
    }
    PQclear(r);
    return rc;
}

static int valid_choice(const vote_prop_t *v, const char *choice, err_t *e) {
    if (strcmp(v->kind, "plurality") == 0) {
        if (strcmp(choice, "abstain") == 0) return 0;
        size_t i;
        json_t *o;
        json_array_foreach(v->options, i,
                           o) if (strcmp(json_string_value(o), choice) == 0) return 0;
        return err_invalid(e, "choice", "choice must be one of the options or abstain");
    }
    if (strcmp(choice, "for") && strcmp(choice, "against") && strcmp(choice, "abstain"))
        return err_invalid(e, "choice", "choice must be for, against or abstain");
    return 0;
}

/* The late-quorum rule after a cast at now: when the turnout now reaches the quorum for the
 * first time, quorum_reached_at = now, and within the last 24 h the deadline moves to now +
 * 24 h. *extended = 1 when it moved. */
static int late_quorum(db_tx_t *tx, const char *id, const char *now, int *extended, err_t *e) {
    const char *p[] = {id, now};
    PGresult *r = db_exec(
        tx,
        "UPDATE governance.proposals p SET quorum_reached_at = $2::timestamptz, voting_ends_at = "
        "CASE WHEN p.voting_ends_at - $2::timestamptz < interval '24 hours' THEN "
        "$2::timestamptz + interval '24 hours' ELSE p.voting_ends_at END, extended = p.extended "
        "OR p.voting_ends_at - $2::timestamptz < interval '24 hours' WHERE p.id = $1 AND "
        "p.quorum_reached_at IS NULL AND (SELECT coalesce(sum(weight), 0) FROM "
        "governance.ballots($1)) * 10000 >= (p.rule->>'quorum_bp')::bigint * p.eligible_weight "
        "RETURNING p.extended::int",
        2, p, e);
    if (!r) return -1;
    *extended = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == '1';
    PQclear(r);
    return 0;
}

/* ms since the epoch -> ISO 8601 UTC with milliseconds (out 40). */
static void ms_iso(int64_t ms, char out[40]) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char d[24];
    strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%03dZ", d, (int)(ms % 1000));
}

/* A pre-signed vote's time: within the voting window and not after now (422 naming tx). */
static int signed_in_window(db_tx_t *tx, const char *id, const char *cast_at, const char *now,
                            err_t *e) {
    const char *p[] = {id, cast_at, now};
    PGresult *r = db_exec(tx,
                          "SELECT ($2::timestamptz >= voting_starts_at AND $2::timestamptz < "
                          "voting_ends_at AND $2::timestamptz <= $3::timestamptz)::int FROM "
                          "governance.proposals WHERE id = $1",
                          3, p, e);
    if (!r) return -1;
    int ok = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == '1';
    PQclear(r);
    return ok ? 0
              : err_invalid(e, "tx",
                            "tx: its cast_at_ms is outside the voting window or in the future");
}

/* The voter of a network vote: governance:vote and the club acted for (403 / 400). */
static int network_voter(const svc_call_t *call, json_t *in, char voter[40], err_t *e) {
    if (!svc_authorized(call->caller, "governance:vote"))
        return err_set(e, 403, "forbidden", "",
                       "a network vote is cast by a club administrator (governance:vote)");
    return gov_acting_club(call, in, voter, e);
}

int gov_cast(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char now[40], voter[40], cast_at[40];
    if (gov_clock(call, in, now, e) != 0) return -1;
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *choice = json_string_value(json_object_get(in, "choice"));
    const char *reason = json_string_value(json_object_get(in, "reason"));
    int rc = -1, extended = 0;
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    vote_prop_t v = {0};
    gov_signed_vote_t sv = {0};
    char *ends = NULL;
    int is_signed = json_object_get(in, "tx") != NULL;
    snprintf(cast_at, sizeof cast_at, "%s", now);
    if (is_signed) {
        /* checked before any lock: the ledger's config is asked */
        if (network_voter(call, in, voter, e) != 0 ||
            gov_signed_vote_check(call, id, voter, in, &sv, e) != 0)
            return -1;
        choice = sv.choice;
        ms_iso(sv.cast_at_ms, cast_at);
        ends = jsonx_dump(sv.endorsements);
    }
    if (svc_begin(call, &tx, e) != 0) goto done;
    if (lock_for_vote(tx, id, now, &v, e) != 0) goto done;
    if (strcmp(v.scope, "network") == 0) {
        if (!is_signed && network_voter(call, in, voter, e) != 0) goto done;
    } else {
        if (!call->caller->user_id[0] || strcmp(call->caller->club_id, v.club) != 0) {
            err_set(e, 404, "not_found", "id", "no such proposal");
            goto done;
        }
        if (is_signed) {
            err_invalid(e, "tx", "tx: pre-signed votes are network votes");
            goto done;
        }
        snprintf(voter, sizeof voter, "%s", call->caller->user_id);
    }
    if (!v.open) {
        err_set(e, 409, "voting_closed", "status", "voting is not open (the proposal is %s)",
                v.status);
        goto done;
    }
    if (is_signed && signed_in_window(tx, id, cast_at, now, e) != 0) goto done;
    if (valid_choice(&v, choice, e) != 0) goto done;
    const char *pe[] = {id, voter};
    r = db_exec(tx, "SELECT 1 FROM governance.eligible WHERE proposal_id = $1 AND voter_id = $2", 2,
                pe, e);
    if (!r) goto done;
    if (PQntuples(r) == 0) {
        err_set(e, 403, "not_eligible", "", "you were not an eligible voter when voting opened");
        goto done;
    }
    PQclear(r);
    const char *vclub = strcmp(v.scope, "network") == 0 ? voter : v.club;
    const char *user = call->caller->user_id[0] ? call->caller->user_id : NULL;
    const char *pv[] = {id,
                        voter,
                        vclub,
                        choice,
                        reason,
                        user,
                        cast_at,
                        v.allow_change ? "1" : "0",
                        is_signed ? "1" : "0"};
    /* a pre-signed vote replaces an earlier one only when it was cast later (no replay of an
     * older signed vote over a change) */
    r = db_exec(tx,
                "INSERT INTO governance.votes AS v (proposal_id, voter_id, voter_club_id, choice, "
                "weight, reason, cast_by, cast_at, signed) SELECT $1, $2, $3, $4, e.weight, $5, "
                "$6, $7::timestamptz, $9 = '1' FROM governance.eligible e WHERE e.proposal_id = "
                "$1 AND e.voter_id = $2 ON CONFLICT (proposal_id, voter_id) DO UPDATE SET choice "
                "= EXCLUDED.choice, reason = EXCLUDED.reason, cast_by = EXCLUDED.cast_by, cast_at "
                "= EXCLUDED.cast_at, signed = EXCLUDED.signed, changed = v.changed + 1 WHERE $8 = "
                "'1' AND ($9 = '0' OR EXCLUDED.cast_at > v.cast_at) RETURNING "
                "jsonb_build_object('proposal_id', v.proposal_id, 'voter_id', v.voter_id, "
                "'choice', v.choice, 'weight', v.weight, 'reason', v.reason, 'cast_at', "
                "governance.ts(v.cast_at), 'changed', v.changed, 'signed', v.signed)::text",
                9, pv, e);
    if (!r) goto done;
    if (PQntuples(r) == 0) {
        err_set(e, 409, "vote_exists", "choice",
                "you have voted; this proposal type does not allow changing a vote");
        goto done;
    }
    json_t *vote = db_json(r, 0, 0, e);
    if (!vote) goto done;
    *out = vote;
    if (strcmp(v.scope, "network") == 0 &&
        gov_ledger_enqueue_vote(tx, id, voter, sv.tx, ends, e) != 0)
        goto done;
    if (v.quorum_open && late_quorum(tx, id, now, &extended, e) != 0) goto done;
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:b}", "proposal_id", id, "voter_id", voter,
                             "scope", v.scope, "club_id", v.club, "extended", extended);
    if (strcmp(v.scope, "network") == 0) json_object_set_new(data, "choice", json_string(choice));
    if (svc_emit(call, tx, "governance.vote_cast", v.club, data, e) != 0) goto done;
    PQclear(r);
    const char *pd[] = {id};
    r = db_exec(tx,
                "SELECT governance.ts(voting_ends_at), extended::int FROM governance.proposals "
                "WHERE id = $1",
                1, pd, e);
    if (!r) goto done;
    json_object_set_new(vote, "voting_ends_at", json_string(PQgetvalue(r, 0, 0)));
    json_object_set_new(vote, "extended", json_boolean(PQgetvalue(r, 0, 1)[0] == '1'));
    rc = 0;
done:
    PQclear(r);
    json_decref(v.options);
    gov_signed_vote_free(&sv);
    free(ends);
    return db_tx_finish(&tx, rc, out, e);
}

int gov_validate_prepare(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "choice", "reason", "club_id", "as_of", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_string(in, "choice", 1, 1, 200, &s, e) != 0) return -1;
    if (jsonx_text(in, "reason", 0, 1, 2000, &s, e) != 0) return -1;
    if (gov_valid_uuid(in, "club_id", 0, e) != 0) return -1;
    if (gov_valid_as_of(in, e) != 0) return -1;
    return gov_valid_uuid(in, "id", 1, e);
}

/* What a cast would check, without storing: the network proposal open, the choice valid, the
 * club eligible, no vote it may not change. *ms = now in ms. */
static int prepare_check(const svc_call_t *call, const char *id, const char *voter,
                         const char *choice, const char *now, long long *ms, err_t *e) {
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    vote_prop_t v = {0};
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) goto done;
    if (lock_for_vote(tx, id, now, &v, e) != 0) goto done;
    if (strcmp(v.scope, "network") != 0) {
        err_invalid(e, "id", "id: pre-signed votes are network votes");
        goto done;
    }
    if (!v.open) {
        err_set(e, 409, "voting_closed", "status", "voting is not open (the proposal is %s)",
                v.status);
        goto done;
    }
    if (valid_choice(&v, choice, e) != 0) goto done;
    const char *p[] = {id, voter, now};
    r = db_exec(tx,
                "SELECT (SELECT count(*) FROM governance.eligible WHERE proposal_id = $1 AND "
                "voter_id = $2), (SELECT count(*) FROM governance.votes WHERE proposal_id = $1 "
                "AND voter_id = $2), (extract(epoch FROM $3::timestamptz) * 1000)::bigint",
                3, p, e);
    if (!r) goto done;
    if (PQgetvalue(r, 0, 0)[0] == '0') {
        err_set(e, 403, "not_eligible", "", "you were not an eligible voter when voting opened");
        goto done;
    }
    if (PQgetvalue(r, 0, 1)[0] != '0' && !v.allow_change) {
        err_set(e, 409, "vote_exists", "choice",
                "you have voted; this proposal type does not allow changing a vote");
        goto done;
    }
    *ms = atoll(PQgetvalue(r, 0, 2));
    rc = 0;
done:
    PQclear(r);
    json_decref(v.options);
    db_tx_rollback(&tx); /* nothing written */
    return rc;
}

int gov_prepare_vote(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char now[40], voter[40];
    if (gov_clock(call, in, now, e) != 0) return -1;
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *choice = json_string_value(json_object_get(in, "choice"));
    const char *reason = json_string_value(json_object_get(in, "reason"));
    long long ms = 0;
    if (network_voter(call, in, voter, e) != 0) return -1;
    if (prepare_check(call, id, voter, choice, now, &ms, e) != 0) return -1;
    json_t *tx = NULL;
    if (gov_prepare_tx(call, id, voter, choice, (int64_t)ms, reason, &tx, e) != 0) return -1;
    char cast_at[40];
    ms_iso((int64_t)ms, cast_at);
    json_object_set_new(tx, "proposal_id", json_string(id));
    json_object_set_new(tx, "voter_id", json_string(voter));
    json_object_set_new(tx, "choice", json_string(choice));
    json_object_set_new(tx, "cast_at", json_string(cast_at));
    json_object_set_new(tx, "cast_at_ms", json_integer((json_int_t)ms));
    *out = tx;
    return 0;
}

int gov_votes_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    cursor_page_t pg;
    if (cursor_page_begin(in, 50, "votes", "Tu", &pg, e) != 0) return -1;
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *p[] = {id, cursor_page_key(&pg, 0), cursor_page_key(&pg, 1), pg.fetch};
    db_scope_t scope = svc_scope(call, NULL);
    /* the proposal must be visible (RLS): a hidden one is 404, not an empty page */
    PGresult *r =
        db_read(call->env->db, &scope, "SELECT 1 FROM governance.proposals WHERE id = $1", 1, p, e);
    if (!r) return -1;
    int seen = PQntuples(r) == 1;
    PQclear(r);
    if (!seen) return err_set(e, 404, "not_found", "id", "no such proposal");
    r = db_read(call->env->db, &scope,
                "SELECT jsonb_build_object('voter_id', v.voter_id, 'choice', v.choice, 'weight', "
                "v.weight, 'reason', v.reason, 'cast_at', governance.ts(v.cast_at), 'changed', "
                "v.changed, 'signed', v.signed)::text, governance.ts(v.cast_at), v.voter_id FROM "
                "governance.votes v "
                "WHERE v.proposal_id = $1 AND ($2::timestamptz IS NULL OR (v.cast_at, "
                "v.voter_id) > ($2::timestamptz, $3::uuid)) ORDER BY v.cast_at, v.voter_id LIMIT "
                "$4::int",
                4, p, e);
    if (!r) return cursor_page_failed(e);
    *out = cursor_page_output(r, pg.limit, "votes", "Tu", e);
    PQclear(r);
    return *out ? 0 : -1;
}

int gov_delegate(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *scope = json_string_value(json_object_get(in, "scope"));
    const char *delegate = json_string_value(json_object_get(in, "delegate_id"));
    const char *type = json_string_value(json_object_get(in, "type"));
    if (!type) type = "*";
    char club[40], delegator[40];
    if (strcmp(scope, "network") == 0) {
        if (!svc_authorized(call->caller, "governance:vote"))
            return err_set(e, 403, "forbidden", "scope",
                           "a club's network delegation is set by its administrators "
                           "(governance:vote)");
        if (gov_acting_club(call, in, club, e) != 0) return -1;
        snprintf(delegator, sizeof delegator, "%s", club);
    } else {
        if (!call->caller->user_id[0] || !call->caller->club_id[0])
            return err_set(e, 403, "forbidden", "scope", "a club delegation is a member's own");
        snprintf(club, sizeof club, "%s", call->caller->club_id);
        snprintf(delegator, sizeof delegator, "%s", call->caller->user_id);
    }
    if (delegate && strcmp(delegate, delegator) == 0)
        return err_invalid(e, "delegate_id", "delegate_id: you cannot delegate to yourself");
    db_tx_t *tx = NULL;
    int rc = -1;
    const char *p[] = {scope, club, delegator, type, delegate};
    if (svc_begin_in(call, club, &tx, e) != 0) goto done;
    if (db_exec_cmd(tx,
                    delegate ? "INSERT INTO governance.delegations (scope, club_id, delegator_id, "
                               "type, delegate_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT "
                               "(scope, delegator_id, type) DO UPDATE SET delegate_id = "
                               "EXCLUDED.delegate_id, updated_at = now()"
                             : "DELETE FROM governance.delegations WHERE scope = $1 AND club_id = "
                               "$2 AND delegator_id = $3 AND type = $4",
                    delegate ? 5 : 4, p, e) < 0)
        goto done;
    *out = json_pack("{s:s, s:s, s:s, s:s?}", "scope", scope, "delegator_id", delegator, "type",
                     type, "delegate_id", delegate);
    rc = 0;
done:
    return db_tx_finish(&tx, rc, out, e);
}
