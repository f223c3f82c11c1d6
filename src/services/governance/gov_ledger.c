/* gov_ledger: see gov_ledger.h. */
#include "services/governance/gov_ledger.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "services/governance/presigned.h"
#include "services/governance/records.h"

#define MS(x) "(extract(epoch FROM " x ") * 1000)::bigint"

/* Records per ledger submit_batch call: GOV_LEDGER_BATCH (gov_ledger.h; the ledger's most,
 * LEDGER_BATCH_MAX); batches per pass at most (a pass submits up to 10,000 records) */
#define GOV_LEDGER_PASS_BATCHES 100

static void sha256_hex(const char *s, char out[65]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
    sodium_bin2hex(out, 65, h, sizeof h);
}

int gov_ledger_enqueue_opening(db_tx_t *tx, const char *id, err_t *e) {
    const char *p[] = {id};
    PGresult *r = db_exec(tx,
                          "SELECT jsonb_build_object('body', body, 'title', title)::text FROM "
                          "governance.proposals WHERE id = $1",
                          1, p, e);
    if (!r) return -1;
    json_t *content = db_json(r, 0, 0, e);
    PQclear(r);
    if (!content) return -1;
    char *canon = json_dumps(content, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(content);
    char hash[65];
    sha256_hex(canon ? canon : "", hash);
    free(canon);
    const char *pp[] = {id, hash};
    /* the counting rule as tally.h reads it (kind, num/den, seats, quorum_bp) */
    if (db_exec_cmd(
            tx,
            "INSERT INTO governance.ledger_records (proposal_id, prop_scope, prop_club_id, kind, "
            "payload) SELECT p.id, p.scope, p.club_id, "
            "'governance.proposal', jsonb_build_object('actions_sha256', p.actions_hash, "
            "'content_sha256', $2::text, 'created_at_ms', " MS(
                "p.created_at") ", 'options', "
                                "coalesce(p.options, '[]'), 'proposal', p.id, 'proposer', "
                                "p.club_id, 'rule', "
                                "jsonb_strip_nulls(jsonb_build_object('kind', p.rule->'kind', "
                                "'quorum_bp', "
                                "p.rule->'quorum_bp', 'num', CASE WHEN p.rule->>'kind' = "
                                "'supermajority' THEN "
                                "p.rule->'num' END, 'den', CASE WHEN p.rule->>'kind' = "
                                "'supermajority' THEN "
                                "p.rule->'den' END, 'seats', CASE WHEN p.rule->>'kind' = "
                                "'plurality' THEN "
                                "coalesce(p.rule->'seats', '1') END)), 'scope', p.scope, 'type', "
                                "p.type) FROM "
                                "governance.proposals p WHERE p.id = $1 ON CONFLICT DO NOTHING",
            2, pp, e) < 0)
        return -1;
    return db_exec_cmd(
               tx,
               "INSERT INTO governance.ledger_records (proposal_id, prop_scope, prop_club_id, "
               "kind, "
               "payload) SELECT p.id, p.scope, p.club_id, "
               "'governance.eligible_snapshot', jsonb_build_object('closes_at_ms', " MS(
                   "p.voting_ends_at") ", 'opened_at_ms', " MS("p.updated_at") ", 'proposal', "
                                                                               "p.id, 'voters', "
                                                                               "(SELECT "
                                                                               "coalesce(jsonb_agg("
                                                                               "jsonb_strip_nulls("
                                                                               "jsonb_build_object("
                                                                               "'voter', "
                                                                               "e.voter_id, "
                                                                               "'weight', "
                                                                               "e.weight, "
                                                                               "'delegate_all', "
                                                                               "e.delegate_all, "
                                                                               "'delegate_type', "
                                                                               "e.delegate_type)) "
                                                                               "ORDER BY "
                                                                               "e.voter_id), '[]') "
                                                                               "FROM "
                                                                               "governance."
                                                                               "eligible e WHERE "
                                                                               "e.proposal_id = "
                                                                               "p.id)) FROM "
                                                                               "governance."
                                                                               "proposals p WHERE "
                                                                               "p.id = $1 ON "
                                                                               "CONFLICT "
                                                                               "DO NOTHING",
               1, p, e) < 0
               ? -1
               : 0;
}

int gov_ledger_enqueue_result(db_tx_t *tx, const char *id, err_t *e) {
    const char *p[] = {id};
    return db_exec_cmd(
               tx,
               "INSERT INTO governance.ledger_records (proposal_id, prop_scope, prop_club_id, "
               "kind, payload) SELECT p.id, p.scope, p.club_id, 'governance.result', "
               "jsonb_build_object('closed_at_ms', " MS(
                   "p.voting_ends_at") ", 'proposal', p.id, 'tally', p.result) FROM "
                                       "governance.proposals p WHERE p.id = $1 ON "
                                       "CONFLICT DO NOTHING",
               1, p, e) < 0
               ? -1
               : 0;
}

/* ---- submission ---- */

/* The ledger organisation of club (a uuid string) in the ledger config, or NULL. */
static const char *org_of(json_t *config, const char *club) {
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(config, "orgs"), i, o) {
        if (json_is_string(json_object_get(o, "club_id")) &&
            strcmp(json_string_value(json_object_get(o, "club_id")), club) == 0)
            return json_string_value(json_object_get(o, "org"));
    }
    return NULL;
}

/* Replaces the club id in obj.key by its org: 0, or 1 + why when the club has none. */
static int to_org(json_t *obj, const char *key, json_t *config, char *why, size_t cap) {
    const char *club = json_string_value(json_object_get(obj, key));
    if (!club) return 0;
    const char *org = org_of(config, club);
    if (!org) {
        snprintf(why, cap, "club %s is not an organisation on the ledger", club);
        return 1;
    }
    json_object_set_new(obj, key, json_string(org));
    return 0;
}

static const char *str(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}
static int64_t num(json_t *o, const char *k) {
    return (int64_t)json_integer_value(json_object_get(o, k));
}

/* The transaction spec of record (kind, payload with club ids): the clubs become their ledger
 * organisations, then records.c builds the spec the offline recount reads (the result: its
 * stored tally as is, in the same shape). 0 + *spec, or 1 + why. */
static int record_spec(const char *kind, const char *proposal, json_t *payload, json_t *config,
                       json_t **spec, char *why, size_t cap) {
    int rc = 0;
    *spec = NULL;
    if (strcmp(kind, "governance.proposal") == 0) {
        if ((rc = to_org(payload, "proposer", config, why, cap)) == 0)
            *spec = gov_record_proposal(
                proposal, str(payload, "type"), str(payload, "proposer"),
                json_object_get(payload, "rule"), json_object_get(payload, "options"),
                str(payload, "content_sha256"), str(payload, "actions_sha256"),
                num(payload, "created_at_ms"));
    } else if (strcmp(kind, "governance.eligible_snapshot") == 0) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(payload, "voters"), i, v) {
            if (rc == 0) rc = to_org(v, "voter", config, why, cap);
            if (rc == 0) rc = to_org(v, "delegate_all", config, why, cap);
            if (rc == 0) rc = to_org(v, "delegate_type", config, why, cap);
        }
        if (rc == 0)
            *spec = gov_record_snapshot(proposal, num(payload, "opened_at_ms"),
                                        num(payload, "closes_at_ms"),
                                        json_object_get(payload, "voters"));
    } else if (strcmp(kind, "governance.vote_cast") == 0) {
        if ((rc = to_org(payload, "voter", config, why, cap)) == 0)
            *spec = gov_record_vote(proposal, str(payload, "voter"), str(payload, "choice"),
                                    num(payload, "cast_at_ms"), str(payload, "reason_sha256"));
    } else {
        char nonce[128], key[160];
        snprintf(nonce, sizeof nonce, "gr:%s", proposal);
        snprintf(key, sizeof key, "governance/%s/result", proposal);
        *spec = json_pack("{s:s, s:s, s:s, s:O, s:[{s:s, s:s?}], s:[{s:s, s:s}]}", "type", kind,
                          "creator", GOV_NETWORK_ORG, "nonce", nonce, "payload", payload, "writes",
                          "key", key, "value", str(json_object_get(payload, "tally"), "outcome"),
                          "sign_as", "org", GOV_NETWORK_ORG, "role", "member");
    }
    if (rc != 0) return 1;
    if (!*spec) {
        snprintf(why, cap, "the %s record of %s is malformed", kind, proposal);
        return 1;
    }
    return 0;
}

/* The pass's outcomes (a JSON array of {id, tx_id?, why?}) stored in one statement: each record
 * submitted (its transaction id) or still pending (attempts + 1, why). A pass that stops before
 * storing leaves its records pending: the next resubmits them, and the ledger's DUPLICATE_TXID
 * answer marks them submitted (the nonce makes a resubmission the same transaction).
 * "status <> 'submitted'" is "still pending" (the column's CHECK allows the two) in a form the
 * planner cannot match with ledger_records_next_idx's predicate: "status = 'pending'" let it
 * scan that whole index for each batch's 100 ids (43.7 ms a batch with 7,300 pending, on stale
 * statistics that counted none; 7.8 ms a batch on main, 2.2 ms so). */
static int store(const svc_call_t *call, json_t *outcomes, err_t *e) {
    if (json_array_size(outcomes) == 0) return 0;
    char *doc = jsonx_dump(outcomes);
    if (!doc) return err_set(e, 500, "internal", "", "out of memory");
    const char *p[] = {doc};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_write(
        call->env->db, &scope,
        "UPDATE governance.ledger_records l SET attempts = l.attempts + 1, status = CASE WHEN "
        "x.tx_id IS NULL THEN 'pending' ELSE 'submitted' END, tx_id = x.tx_id, last_error = "
        "left(x.why, 400), updated_at = now() FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, "
        "tx_id text, why text) WHERE l.id = x.id AND l.status <> 'submitted'",
        1, p, e);
    free(doc);
    if (!r) return -1;
    PQclear(r);
    return 0;
}

/* The pass's items submitted in one ledger call (submit_batch: one key read, one JetStream
 * flight); the answer's tx_id (or why) set on each outcome {id, tx_id?, why?} in order. A failed
 * call leaves every item pending with its reason. */
static void submit_all(const svc_call_t *call, json_t *items, json_t *outcomes, size_t *at,
                       size_t n) {
    if (json_array_size(items) == 0) return;
    json_t *in = json_pack("{s:O}", "items", items), *res = NULL;
    int status = 0;
    err_t e = {0};
    int rc = svc_call(call->env, "ledger", "submit_batch", call->caller, in, &status, &res, &e);
    json_decref(in);
    json_t *results = json_object_get(res, "results");
    for (size_t k = 0; k < n; k++) {
        json_t *o = json_array_get(outcomes, at[k]), *r = json_array_get(results, k);
        json_t *err = json_object_get(r, "error");
        const char *tx_id = json_string_value(json_object_get(r, "tx_id"));
        char why[400];
        if (rc != 0 || !r)
            snprintf(why, sizeof why, "ledger submit_batch: %.300s",
                     rc != 0 ? e.message : "no answer for this record");
        else if (err)
            snprintf(why, sizeof why, "ledger: %.300s",
                     json_string_value(json_object_get(err, "message")));
        if (rc == 0 && r && !err && tx_id)
            json_object_set_new(o, "tx_id", json_string(tx_id));
        else
            json_object_set_new(o, "why", json_string(why));
    }
    json_decref(res);
}

/* One batch of the pass: up to GOV_LEDGER_BATCH pending records read, submitted in one ledger
 * call and their outcomes stored; *read = how many were read. */
static int pass_batch(const svc_call_t *call, int *read, long long *submitted, long long *pending,
                      err_t *e) {
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope, GOV_LEDGER_NEXT_SQL, 0, NULL, e);
    if (!r) return -1;
    int n = PQntuples(r), rc = 0;
    *read = n;
    json_t *config = NULL, *outcomes = json_array(), *items = json_array();
    size_t *at = calloc(n > 0 ? (size_t)n : 1, sizeof *at), n_items = 0;
    char cfg_why[400] = "";
    if (!at) {
        rc = err_set(e, 500, "internal", "", "out of memory");
        goto done;
    }
    if (n > 0) {
        json_t *in = json_object();
        err_t ce = {0};
        int status = 0;
        if (svc_call(call->env, "ledger", "config", call->caller, in, &status, &config, &ce) != 0)
            snprintf(cfg_why, sizeof cfg_why, "ledger config: %s", ce.message);
        json_decref(in);
    }
    for (int i = 0; i < n; i++) {
        char why[400] = "";
        json_t *spec = NULL, *payload = db_json(r, i, 3, e);
        if (!payload) {
            rc = -1;
            break;
        }
        if (!PQgetisnull(r, i, 4)) {
            /* pre-signed by the voting club (presigned.h): submitted as it is */
            json_t *ends = db_json(r, i, 5, e);
            if (!ends) {
                json_decref(payload);
                rc = -1;
                break;
            }
            spec = json_pack("{s:s, s:o}", "tx", PQgetvalue(r, i, 4), "endorsements", ends);
        } else if (cfg_why[0]) {
            snprintf(why, sizeof why, "%s", cfg_why);
        } else {
            record_spec(PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), payload, config, &spec, why,
                        sizeof why);
        }
        json_decref(payload);
        json_array_append_new(outcomes,
                              json_pack("{s:I, s:s?}", "id", (json_int_t)atoll(PQgetvalue(r, i, 0)),
                                        "why", why[0] ? why : NULL));
        if (spec) {
            at[n_items++] = json_array_size(outcomes) - 1;
            json_array_append_new(items, spec);
        }
    }
    if (rc == 0) submit_all(call, items, outcomes, at, n_items);
    size_t k;
    json_t *o;
    json_array_foreach(outcomes, k, o) {
        if (json_object_get(o, "tx_id"))
            (*submitted)++;
        else
            (*pending)++;
    }
    if (rc == 0) {
        rc = store(call, outcomes, e);
    } else {
        err_t se = {0}; /* the first error is the pass's; nothing was submitted: still pending */
        store(call, outcomes, &se);
    }
done:
    free(at);
    json_decref(items);
    json_decref(outcomes);
    json_decref(config);
    PQclear(r);
    return rc;
}

int gov_ledger_pass(const svc_call_t *call, long long *submitted, long long *pending, err_t *e) {
    *submitted = *pending = 0;
    /* full batches that submitted something are followed by another: a backlog of votes drains
     * in one pass (bounded), not 50 records per sweep */
    for (int k = 0; k < GOV_LEDGER_PASS_BATCHES; k++) {
        int read = 0;
        long long sub = 0, pend = 0;
        if (pass_batch(call, &read, &sub, &pend, e) != 0) return -1;
        *submitted += sub;
        *pending = pend; /* what the last batch left: the stuck ones, retried next pass */
        if (read < GOV_LEDGER_BATCH || sub == 0) break;
    }
    return 0;
}

int gov_validate_ledger_pass(json_t *in, err_t *e) {
    static const char *const keys[] = {NULL};
    return jsonx_only_keys(in, keys, "", e);
}

int gov_ledger_pass_op(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    long long submitted = 0, pending = 0;
    if (gov_ledger_pass(call, &submitted, &pending, e) != 0) return -1;
    *out = json_pack("{s:I, s:I}", "ledger_submitted", (json_int_t)submitted, "ledger_pending",
                     (json_int_t)pending);
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
}
