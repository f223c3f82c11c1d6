/* votes: see votes.h. */
#include "services/governance/votes.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cursor.h"
#include "core/json.h"
#include "core/outbox.h"
#include "services/governance/common.h"
#include "services/governance/gov_ledger.h"
#include "services/governance/presigned.h"
#include "services/governance/types.h"

int gov_validate_cast(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "choice",    "reason",       "club_id", "as_of",
                                       "tx", "signature", "on_behalf_of", NULL};
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
    if (gov_valid_uuid(in, "on_behalf_of", 0, e) != 0) return -1;
    if (signed_vote && json_object_get(in, "on_behalf_of"))
        return err_invalid(e, "on_behalf_of", "on_behalf_of: a pre-signed vote is its club's own");
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
 * 24 h. *extended = 1 when it moved; ends (40) gets the deadline when the quorum was reached. */
static int late_quorum(db_tx_t *tx, const char *id, const char *now, int *extended, char *ends,
                       err_t *e) {
    const char *p[] = {id, now};
    PGresult *r = db_exec(
        tx,
        "UPDATE governance.proposals p SET quorum_reached_at = $2::timestamptz, voting_ends_at = "
        "CASE WHEN p.voting_ends_at - $2::timestamptz < interval '24 hours' THEN "
        "$2::timestamptz + interval '24 hours' ELSE p.voting_ends_at END, extended = p.extended "
        "OR p.voting_ends_at - $2::timestamptz < interval '24 hours' WHERE p.id = $1 AND "
        "p.quorum_reached_at IS NULL AND (SELECT coalesce(sum(weight), 0) FROM "
        "governance.ballots($1)) * 10000 >= (p.rule->>'quorum_bp')::bigint * p.eligible_weight "
        "RETURNING p.extended::int, governance.ts(p.voting_ends_at)",
        2, p, e);
    if (!r) return -1;
    *extended = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == '1';
    if (PQntuples(r) == 1) snprintf(ends, 40, "%s", PQgetvalue(r, 0, 1));
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

/* The voter of a network vote: governance:vote and the club acted for (403 / 400). */
static int network_voter(const svc_call_t *call, json_t *in, char voter[40], err_t *e) {
    if (!svc_authorized(call->caller, "governance:vote"))
        return err_set(e, 403, "forbidden", "",
                       "a network vote is cast by a club administrator (governance:vote)");
    return gov_acting_club(call, in, voter, e);
}

/* An unsigned network vote of a club that holds its own member key is refused (422 naming
 * signature): the service cannot sign its ledger record, which would stay pending and hold back
 * the proposal's result record. The ledger's club_signer answers (presigned.h); a club that is no
 * ledger organisation yet votes as before (its record waits until it is registered). Asked
 * before the cast's transaction: the ledger's reads take pool connections, and holding one (and
 * the proposal's lock) while waiting for others starved concurrent casts (test_concurrent_casts).
 */
static int plain_vote_signable(const svc_call_t *call, const char *club, err_t *e) {
    char org[72], pk[72];
    int held = 1;
    if (gov_ledger_signer(call, club, org, pk, &held, e) != 0) {
        if (e->status != 409) return -1;
        err_clear(e);
        return 0;
    }
    if (held) return 0;
    return err_set(e, 422, "signature_required", "signature",
                   "this club holds its own ledger key: prepare the vote (POST "
                   "/api/v1/governance/proposals/{id}/votes/prepare), sign its sign_bytes with "
                   "the club's member key and cast {tx, signature}");
}

/* ---- what a cast knows of its proposal before its transaction ----
 * A proposal's scope, club and rule never change once proposed, and its quorum, once reached
 * (quorum_reached_at set, or a rule without one), stays reached: both are kept per process, so a
 * cast reads nothing before its one statement but the first time (docs/governance.md "Bench").
 * A proposal not seen (or not visible to the caller) is not kept: the cast's statement decides. */
typedef struct {
    char id[40], scope[12], club[40];
    int allow_change, settled; /* settled: no late-quorum step can happen any more */
} cast_prop_t;

#define CAST_CACHE_SLOTS 256
static cast_prop_t g_cast_cache[CAST_CACHE_SLOTS];
static pthread_mutex_t g_cast_cache_mu = PTHREAD_MUTEX_INITIALIZER;

static size_t cast_slot(const char *id) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *c = id; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    return h % CAST_CACHE_SLOTS;
}

static int cast_cache_get(const char *id, cast_prop_t *out) {
    pthread_mutex_lock(&g_cast_cache_mu);
    const cast_prop_t *c = &g_cast_cache[cast_slot(id)];
    int hit = strcmp(c->id, id) == 0;
    if (hit) *out = *c;
    pthread_mutex_unlock(&g_cast_cache_mu);
    return hit;
}

static void cast_cache_put(const cast_prop_t *p) {
    pthread_mutex_lock(&g_cast_cache_mu);
    g_cast_cache[cast_slot(p->id)] = *p;
    pthread_mutex_unlock(&g_cast_cache_mu);
}

/* The proposal's fixed facts (cache, else one read): 0, or 1 when the caller sees no such
 * proposal (the cast's statement answers 404), or -1. */
static int cast_prop(const svc_call_t *call, const char *id, cast_prop_t *cp, err_t *e) {
    if (cast_cache_get(id, cp)) return 0;
    const char *p[] = {id};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT scope, club_id, coalesce((rule->>'allow_change')::boolean, "
                          "false)::int, (quorum_reached_at IS NOT NULL OR coalesce((rule->>"
                          "'quorum_bp')::int, 0) = 0)::int FROM governance.proposals WHERE id = $1",
                          1, p, e);
    if (!r) return -1;
    int rc = 1;
    if (PQntuples(r) == 1) {
        memset(cp, 0, sizeof *cp);
        snprintf(cp->id, sizeof cp->id, "%s", id);
        snprintf(cp->scope, sizeof cp->scope, "%s", PQgetvalue(r, 0, 0));
        snprintf(cp->club, sizeof cp->club, "%s", PQgetvalue(r, 0, 1));
        cp->allow_change = PQgetvalue(r, 0, 2)[0] == '1';
        cp->settled = PQgetvalue(r, 0, 3)[0] == '1';
        cast_cache_put(cp);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

/* The voter of a cast on a proposal of scope (network: the club acted for; club: the member,
 * who must belong to the proposal's club, else 404) and the delegator it votes for (club scope,
 * on_behalf_of: docs/governance.md "Delegated club votes"). */
static int cast_voter(const svc_call_t *call, json_t *in, const cast_prop_t *cp, int is_signed,
                      char voter[40], err_t *e) {
    int delegated = json_object_get(in, "on_behalf_of") != NULL;
    if (strcmp(cp->scope, "network") == 0) {
        if (delegated)
            return err_invalid(e, "on_behalf_of",
                               "on_behalf_of: a network delegation counts through the snapshot "
                               "(the delegate's own vote); it is not cast on the delegator's "
                               "behalf");
        return is_signed ? 0 : network_voter(call, in, voter, e);
    }
    if (!call->caller->user_id[0] || strcmp(call->caller->club_id, cp->club) != 0)
        return err_set(e, 404, "not_found", "id", "no such proposal");
    if (is_signed) return err_invalid(e, "tx", "tx: pre-signed votes are network votes");
    snprintf(voter, 40, "%s", call->caller->user_id);
    return 0;
}

/* One statement casts: it locks the proposal while voting is open (FOR SHARE once its quorum is
 * settled, so casts run side by side and only a close or a cancel waits; FOR UPDATE while a cast
 * may still be the one that first reaches the quorum, late_quorum), reads what the checks need
 * (the voter's and, for a delegated vote, the delegate's snapshot rows, the delegation in force,
 * an earlier vote), inserts or changes the vote only when every check passes, and queues a
 * network vote's ledger record from the stored row. $1 proposal, $2 the caller's voter id, $3
 * now, $4 choice, $5 reason, $6 cast_by, $7 cast_at, $8 allow_change, $9 signed, $10 signed tx,
 * $11 endorsements, $12 on_behalf_of (the DELEGATED variant only). The answer: one row of facts
 * (none: not open, or not visible) and the stored vote (NULL when nothing was stored). */
/* The two variants' fragments: DELEGATED ($12 on_behalf_of: the member's snapshot row and vote,
 * the caller's own snapshot row, the delegation in force) and PLAIN (the caller's own vote, 11
 * parameters: a plain cast's plan has neither the second snapshot row nor the delegation,
 * whose joins every plain cast initialised and probed for nothing). */
#define DELEGATED_WHO "coalesce($12::uuid, $2::uuid)"
#define DELEGATED_COLS "me.voter_id AS me, dl.id AS delegation_id"
#define DELEGATED_JOINS                                                                            \
    " LEFT JOIN governance.eligible me ON me.proposal_id = p.id AND me.voter_id = $2::uuid LEFT "  \
    "JOIN governance.delegations dl ON dl.scope = p.scope AND dl.club_id = p.club_id AND "         \
    "dl.delegator_id = $12::uuid AND dl.delegate_id = $2::uuid AND dl.type = CASE WHEN "           \
    "w.delegate_type IS NOT NULL THEN p.type ELSE '*' END"
#define DELEGATED_BY "$2::uuid"
#define DELEGATED_MAY                                                                              \
    "f.me IS NOT NULL AND f.snap_delegate = $2::uuid AND f.delegation_id IS NOT NULL"
#define PLAIN_WHO "$2::uuid"
#define PLAIN_COLS "NULL::uuid AS me, NULL::uuid AS delegation_id"
#define PLAIN_JOINS ""
#define PLAIN_BY "NULL::uuid"
#define PLAIN_MAY "true"
/* The cast's governance.vote_cast event as a CTE of the statement (EVENT; NO_EVENT: queued
 * after it by svc_emit_batch): the outbox row core's svc_event_row makes ($12..$16), inserted
 * only when the vote was stored, with the proposal's `extended` from the locked row. For a
 * plain cast on a settled proposal (no late-quorum step after the statement), so the whole cast
 * is one flight: BEGIN, the scope, the statement, COMMIT. */
#define EVENT                                                                                      \
    ", ev AS (INSERT INTO governance.outbox (id, type, subject, tenant_id, payload) SELECT "       \
    "$12::uuid, $13, $14, $15::uuid, jsonb_set($16::jsonb, '{data,extended}', "                    \
    "to_jsonb(p.extended)) FROM ins, p)"
#define NO_EVENT ""
/* clang-format off */
#define CAST_SQL(lock, D, EV)                                                                      \
    "WITH p AS (SELECT id, scope, club_id, type, rule, options, voting_starts_at, "                \
    "voting_ends_at, extended, (quorum_reached_at IS NULL AND "                                    \
    "coalesce((rule->>'quorum_bp')::int, 0) > 0) AS quorum_open FROM governance.proposals "        \
    "WHERE id = $1 AND status = 'active' AND voting_starts_at <= $3::timestamptz AND "             \
    "voting_ends_at > $3::timestamptz "                                                            \
    lock                                                                                           \
    "), f AS (SELECT p.*, w.weight, w.voter_id AS who, "                                           \
    D##_COLS                                                                                       \
    ", coalesce(w.delegate_type, w.delegate_all) AS snap_delegate, ov.voter_id AS prev, "          \
    "ov.delegate_id AS prev_delegate, CASE WHEN p.rule->>'kind' = 'plurality' THEN $4 = "          \
    "'abstain' OR jsonb_exists(coalesce(p.options, '[]'), $4) ELSE $4 IN ('for', 'against', "      \
    "'abstain') END AS choice_ok, ($10::text IS NULL OR ($7::timestamptz >= "                      \
    "p.voting_starts_at AND $7::timestamptz < p.voting_ends_at AND $7::timestamptz <= "            \
    "$3::timestamptz)) AS in_window FROM p LEFT JOIN governance.eligible w ON w.proposal_id "      \
    "= p.id AND w.voter_id = "                                                                     \
    D##_WHO                                                                                        \
    D##_JOINS                                                                                      \
    " LEFT JOIN governance.votes ov ON ov.proposal_id = p.id AND ov.voter_id = "                   \
    D##_WHO                                                                                        \
    "), ins AS (INSERT INTO governance.votes AS v (proposal_id, prop_scope, prop_club_id, "        \
    "voter_id, voter_club_id, choice, weight, reason, cast_by, cast_at, signed, delegate_id, "     \
    "delegation_id) SELECT f.id, f.scope, f.club_id, f.who, CASE WHEN f.scope = 'network' THEN "   \
    "$2::uuid ELSE f.club_id END, $4, f.weight, $5, $6, $7::timestamptz, $9 = '1', "               \
    D##_BY                                                                                         \
    ", f.delegation_id FROM f WHERE f.who IS NOT NULL AND f.choice_ok AND f.in_window AND "        \
    D##_MAY                                                                                        \
    " ON CONFLICT (proposal_id, voter_id) DO UPDATE SET choice = EXCLUDED.choice, reason = "       \
    "EXCLUDED.reason, cast_by = EXCLUDED.cast_by, cast_at = EXCLUDED.cast_at, signed = "           \
    "EXCLUDED.signed, delegate_id = NULL, delegation_id = NULL, changed = v.changed + 1 "          \
    "WHERE EXCLUDED.delegate_id IS NULL AND ($8 = '1' OR v.delegate_id IS NOT NULL) AND ($9 "      \
    "= '0' OR EXCLUDED.cast_at > v.cast_at) RETURNING v.*), led AS (INSERT INTO "                  \
    "governance.ledger_records (proposal_id, prop_scope, prop_club_id, kind, voter_id, seq, "      \
    "payload, tx, endorsements) SELECT ins.proposal_id, p.scope, p.club_id, "                      \
    "'governance.vote_cast', ins.voter_id, ins.changed, "                                          \
    "jsonb_strip_nulls(jsonb_build_object('cast_at_ms', (extract(epoch FROM ins.cast_at) * "       \
    "1000)::bigint, 'choice', ins.choice, 'proposal', ins.proposal_id, 'reason_sha256', CASE "     \
    "WHEN ins.reason IS NOT NULL THEN encode(sha256(convert_to(ins.reason, 'UTF8')), 'hex') "      \
    "END, 'voter', ins.voter_id)), $10, $11::jsonb FROM ins, p WHERE p.scope = 'network' ON "      \
    "CONFLICT DO NOTHING RETURNING 1)"                                                             \
    EV                                                                                             \
    " SELECT (f.who IS NOT NULL)::int AS eligible, "                                               \
    "f.choice_ok::int AS choice_ok, f.in_window::int AS in_window, (f.me IS NOT NULL)::int "       \
    "AS me, (f.snap_delegate IS NOT DISTINCT FROM $2::uuid)::int AS snap_ok, "                     \
    "(f.delegation_id IS NOT NULL)::int AS live, (f.prev IS NOT NULL)::int AS prev, "              \
    "f.prev_delegate::text AS prev_delegate, f.quorum_open::int AS quorum_open, "                  \
    "governance.ts(f.voting_ends_at) AS ends, f.extended::int AS extended, (SELECT "               \
    "jsonb_build_object('proposal_id', i.proposal_id, 'voter_id', i.voter_id, 'choice', "          \
    "i.choice, 'weight', i.weight, 'reason', i.reason, 'cast_at', governance.ts(i.cast_at), "      \
    "'changed', i.changed, 'signed', i.signed, 'delegate_id', i.delegate_id, "                     \
    "'delegation_id', i.delegation_id)::text FROM ins i) AS vote FROM f"
/* clang-format on */

/* The cast's refusal when its statement stored nothing, in the order the checks are documented:
 * not open (or not visible: 404), a pre-signed vote's time outside the window, the choice, the
 * snapshot, the delegation, an earlier vote. */
#define STATUS_SQL "SELECT status FROM governance.proposals WHERE id = $1"
static int cast_refused(const svc_call_t *call, db_tx_t *tx, const char *id, PGresult *r,
                        int delegated, err_t *e) {
    if (PQntuples(r) == 0) {
        /* tx NULL: the cast's transaction is over (one flight with its COMMIT), a read */
        const char *p[] = {id};
        db_scope_t scope = svc_scope(call, NULL);
        PGresult *s = tx ? db_exec(tx, STATUS_SQL, 1, p, e)
                         : db_read(call->env->db, &scope, STATUS_SQL, 1, p, e);
        if (!s) return -1;
        if (PQntuples(s) == 0) {
            PQclear(s);
            return err_set(e, 404, "not_found", "id", "no such proposal");
        }
        err_set(e, 409, "voting_closed", "status", "voting is not open (the proposal is %s)",
                PQgetvalue(s, 0, 0));
        PQclear(s);
        return -1;
    }
    if (db_val(r, 0, "in_window")[0] != '1')
        return err_invalid(e, "tx",
                           "tx: its cast_at_ms is outside the voting window or in the "
                           "future");
    if (db_val(r, 0, "choice_ok")[0] != '1')
        return err_invalid(e, "choice",
                           "choice must be for, against or abstain (plurality: one "
                           "of the options or abstain)");
    if (delegated && db_val(r, 0, "me")[0] != '1')
        return err_set(e, 403, "not_eligible", "",
                       "you were not an eligible voter when voting opened");
    if (db_val(r, 0, "eligible")[0] != '1')
        return delegated ? err_set(e, 403, "not_delegate", "on_behalf_of",
                                   "on_behalf_of: not an eligible voter of this proposal")
                         : err_set(e, 403, "not_eligible", "",
                                   "you were not an eligible voter when voting opened");
    if (delegated && db_val(r, 0, "snap_ok")[0] != '1')
        return err_set(e, 403, "not_delegate", "on_behalf_of",
                       "on_behalf_of: this member had not delegated this proposal's vote to you "
                       "when voting opened");
    if (delegated && db_val(r, 0, "live")[0] != '1')
        return err_set(e, 409, "delegation_revoked", "on_behalf_of",
                       "on_behalf_of: the delegation has been revoked or changed since voting "
                       "opened");
    if (delegated && db_val(r, 0, "prev")[0] == '1')
        return err_set(e, 409, "vote_exists", "on_behalf_of",
                       db_val(r, 0, "prev_delegate")
                           ? "on_behalf_of: you have cast this member's vote already"
                           : "on_behalf_of: the member has voted directly, which overrides the "
                             "delegation");
    return err_set(e, 409, "vote_exists", "choice",
                   "you have voted; this proposal type does not allow changing a vote");
}

/* The data of a cast's governance.vote_cast event (docs/governance.md "Events and
 * notifications"): a network vote's choice is public, a club vote's is not. New reference. */
static json_t *cast_event(const char *id, const char *voter_id, const cast_prop_t *cp, int extended,
                          const char *choice) {
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:b}", "proposal_id", id, "voter_id", voter_id,
                             "scope", cp->scope, "club_id", cp->club, "extended", extended);
    if (data && strcmp(cp->scope, "network") == 0)
        json_object_set_new(data, "choice", json_string(choice));
    return data;
}

int gov_cast(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char now[40], voter[40] = "", cast_at[40];
    if (gov_clock(call, in, now, e) != 0) return -1;
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *choice = json_string_value(json_object_get(in, "choice"));
    const char *reason = json_string_value(json_object_get(in, "reason"));
    const char *behalf = json_string_value(json_object_get(in, "on_behalf_of"));
    int rc = -1, extended = 0;
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    db_batch_t first = {0}, b = {0};
    gov_signed_vote_t sv = {0};
    outbox_row_t ev = {0};
    cast_prop_t cp;
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
    int seen = cast_prop(call, id, &cp, e);
    if (seen < 0) goto done;
    if (seen == 1) {
        err_set(e, 404, "not_found", "id", "no such proposal");
        goto done;
    }
    if (cast_voter(call, in, &cp, is_signed, voter, e) != 0) goto done;
    if (!is_signed && strcmp(cp.scope, "network") == 0 && plain_vote_signable(call, voter, e) != 0)
        goto done;
    const char *user = call->caller->user_id[0] ? call->caller->user_id : NULL;
    const char *voter_id = behalf ? behalf : voter; /* whose vote it is */
    /* one flight (the event a CTE of the statement, COMMIT behind it) for a plain cast once
     * the quorum is settled; else the late-quorum step and the event follow the statement */
    int one = cp.settled && !behalf;
    if (one && svc_event_row(call, &ev, 12, "governance.vote_cast", cp.club,
                             cast_event(id, voter_id, &cp, 0, choice), e) != 0)
        goto done;
    const char *pv[] = {id,
                        voter,
                        now,
                        choice,
                        reason,
                        user,
                        cast_at,
                        cp.allow_change ? "1" : "0",
                        is_signed ? "1" : "0",
                        sv.tx,
                        ends,
                        one ? ev.vals[0] : behalf,
                        ev.vals[1],
                        ev.vals[2],
                        ev.vals[3],
                        ev.vals[4]};
    /* deferred: BEGIN and the scope go in the cast statement's flight (docs/architecture.md
     * "Pipelines"). The statement asks for the generic plan: left to PostgreSQL's choice it was
     * planned as a custom plan at every cast, which cost more than running it
     * (pg_stat_statements, docs/governance.md "Bench: two flights per cast, the cast planned
     * once") */
    if (svc_begin_deferred(call, NULL, &tx, e) != 0) goto done;
    db_batch_add(&first, "SET LOCAL plan_cache_mode = force_generic_plan", 0, NULL);
    /* no NOTIFY per cast when this process's relay publishes the governance outbox: woken
     * after the COMMIT below (core/outbox.h outbox_wake; docs/governance.md "Speed: the cast
     * wakes its own relay") */
    int local = outbox_relay_local("governance");
    if (local) db_batch_add(&first, OUTBOX_WAKE_LOCAL_SQL, 0, NULL);
    int ci = one      ? db_batch_add(&first, CAST_SQL("FOR SHARE", PLAIN, EVENT), 16, pv)
             : behalf ? db_batch_add(&first,
                                     cp.settled ? CAST_SQL("FOR SHARE", DELEGATED, NO_EVENT)
                                                : CAST_SQL("FOR UPDATE", DELEGATED, NO_EVENT),
                                     12, pv)
                      : db_batch_add(&first, CAST_SQL("FOR UPDATE", PLAIN, NO_EVENT), 11, pv);
    if (db_batch_run(tx, &first, one ? DB_BATCH_COMMIT : 0, e) != 0) goto done;
    r = db_batch_result(&first, ci); /* the batch's */
    if (PQntuples(r) == 0 || !db_val(r, 0, "vote")) {
        cast_refused(call, one ? NULL : tx, id, r, behalf != NULL, e);
        goto done;
    }
    json_t *vote = db_json(r, 0, PQfnumber(r, "vote"), e);
    if (!vote) goto done;
    *out = vote;
    char ends_at[40];
    snprintf(ends_at, sizeof ends_at, "%s", db_val(r, 0, "ends"));
    extended = db_val(r, 0, "extended")[0] == '1';
    if (!one) {
        if (db_val(r, 0, "quorum_open")[0] == '1') {
            int moved = 0;
            if (late_quorum(tx, id, now, &moved, ends_at, e) != 0) goto done;
            extended = extended || moved;
        } else if (!cp.settled) {
            cp.settled = 1; /* reached before this cast (or no quorum): for ever */
            cast_cache_put(&cp);
        }
        json_t *data = cast_event(id, voter_id, &cp, extended, choice);
        if (behalf) {
            /* the audit trail of a delegated vote: who cast it, under which delegation */
            json_object_set(data, "delegate_id", json_object_get(vote, "delegate_id"));
            json_object_set(data, "delegation_id", json_object_get(vote, "delegation_id"));
        }
        if (svc_emit_batch(call, &b, "governance.vote_cast", cp.club, data, e) != 0 ||
            db_batch_run(tx, &b, DB_BATCH_COMMIT, e) != 0)
            goto done;
    }
    json_object_set_new(vote, "voting_ends_at", json_string(ends_at));
    json_object_set_new(vote, "extended", json_boolean(extended));
    if (local) outbox_wake("governance"); /* committed */
    rc = 0;
done:
    db_batch_clear(&b);
    db_batch_clear(&first);
    gov_signed_vote_free(&sv);
    outbox_row_free(&ev);
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
                "v.changed, 'signed', v.signed, 'delegate_id', v.delegate_id, 'delegation_id', "
                "v.delegation_id)::text, governance.ts(v.cast_at), v.voter_id FROM "
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
    PGresult *r = NULL;
    if (svc_begin_in(call, club, &tx, e) != 0) goto done;
    /* a delegation to another delegate is a new delegation (new id): the votes cast under the
     * old one keep naming it, and it no longer resolves (docs "Delegated club votes") */
    r = db_exec(tx,
                delegate ? "INSERT INTO governance.delegations AS d (scope, club_id, delegator_id, "
                           "type, delegate_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, "
                           "delegator_id, type) DO UPDATE SET delegate_id = EXCLUDED.delegate_id, "
                           "id = CASE WHEN d.delegate_id = EXCLUDED.delegate_id THEN d.id ELSE "
                           "gen_random_uuid() END, updated_at = now() RETURNING d.id::text"
                         : "DELETE FROM governance.delegations WHERE scope = $1 AND club_id = $2 "
                           "AND delegator_id = $3 AND type = $4 RETURNING NULL::text",
                delegate ? 5 : 4, p, e);
    if (!r) goto done;
    *out = json_pack("{s:s, s:s, s:s, s:s?}", "scope", scope, "delegator_id", delegator, "type",
                     type, "delegate_id", delegate);
    if (delegate && PQntuples(r) == 1)
        json_object_set_new(*out, "id", json_string(PQgetvalue(r, 0, 0)));
    rc = 0;
done:
    PQclear(r);
    return db_tx_finish(&tx, rc, out, e);
}
