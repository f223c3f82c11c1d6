/* visit_ledger: see visit_ledger.h. */
#include "services/reciprocal/visit_ledger.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

#include "lib/ledger/txcodec.h"
#include "services/reciprocal/ledger_record.h"

/* visit $1, salt and commitment the two parameters named */
#define LEDGER_RECORD_SQL(salt, commit)                                                            \
    "INSERT INTO reciprocal.visit_ledger_records (visit_id, member_salt, member_commitment) "      \
    "VALUES ($1::uuid, " salt "::bytea, " commit "::bytea) ON CONFLICT (visit_id) DO NOTHING"

/* The record's parameters: a fresh salt and the commitment to the member number (hex). */
_Static_assert(sizeof(((visit_ledger_row_t *)0)->salt) == 2 * TXCODEC_SALT_LEN + 3, "salt");
_Static_assert(sizeof(((visit_ledger_row_t *)0)->commit) == 2 * TXCODEC_COMMIT_LEN + 3, "commit");

static int record_params(const char *member_number, char salt_hex[2 * TXCODEC_SALT_LEN + 3],
                         char commit_hex[2 * TXCODEC_COMMIT_LEN + 3], err_t *e) {
    uint8_t salt[TXCODEC_SALT_LEN], commit[TXCODEC_COMMIT_LEN];
    const char *num = member_number ? member_number : "";
    if (txcodec_commit(num, strlen(num), salt, commit, e) != 0) return -1;
    memcpy(salt_hex, "\\x", 2);
    memcpy(commit_hex, "\\x", 2);
    sodium_bin2hex(salt_hex + 2, 2 * TXCODEC_SALT_LEN + 1, salt, sizeof salt);
    sodium_bin2hex(commit_hex + 2, 2 * TXCODEC_COMMIT_LEN + 1, commit, sizeof commit);
    sodium_memzero(salt, sizeof salt);
    return 0;
}

int visit_ledger_enqueue(db_tx_t *tx, const char *visit_id, const char *member_number, err_t *e) {
    char salt_hex[2 * TXCODEC_SALT_LEN + 3], commit_hex[2 * TXCODEC_COMMIT_LEN + 3];
    if (record_params(member_number, salt_hex, commit_hex, e) != 0) return -1;
    const char *p[] = {visit_id, salt_hex, commit_hex};
    return db_exec_cmd(tx, LEDGER_RECORD_SQL("$2", "$3"), 3, p, e) < 0 ? -1 : 0;
}

int visit_ledger_queue(db_batch_t *b, const char *visit_id, const char *member_number, err_t *e) {
    char salt_hex[2 * TXCODEC_SALT_LEN + 3], commit_hex[2 * TXCODEC_COMMIT_LEN + 3];
    if (record_params(member_number, salt_hex, commit_hex, e) != 0) return -1;
    const char *p[] = {visit_id, salt_hex, commit_hex};
    return db_batch_add(b, LEDGER_RECORD_SQL("$2", "$3"), 3, p) < 0
               ? err_set(e, 500, "internal", "", "the ledger record could not be queued")
               : 0;
}

int visit_ledger_row(visit_ledger_row_t *row, int first, const char *member_number, err_t *e) {
    char salt[16], commit[16];
    if (record_params(member_number, row->salt, row->commit, e) != 0) return -1;
    snprintf(salt, sizeof salt, "$%d", first);
    snprintf(commit, sizeof commit, "$%d", first + 1);
    int n = snprintf(row->sql, sizeof row->sql, LEDGER_RECORD_SQL("%s", "%s"), salt, commit);
    if (n < 0 || (size_t)n >= sizeof row->sql)
        return err_set(e, 500, "internal", "", "the ledger record's statement is too long");
    row->vals[0] = row->salt;
    row->vals[1] = row->commit;
    return 0;
}

/* The visit.verified spec of pending row i (visit id, host, home, commitment hex, day). */
static int visit_spec(PGresult *r, int i, json_t *config, json_t **spec, char *why, size_t cap,
                      err_t *e) {
    (void)e;
    const char *id = PQgetvalue(r, i, 0);
    json_t *clubs = json_pack("[s, s]", PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
    json_t *orgs = ag_ledger_orgs(clubs, config, why, cap);
    json_decref(clubs);
    if (!orgs) return 1;
    char nonce[80], key[80];
    snprintf(nonce, sizeof nonce, "visit.verified:%s", id);
    snprintf(key, sizeof key, "visit/%s", id);
    json_t *host = json_array_get(orgs, 0), *home = json_array_get(orgs, 1);
    *spec = json_pack(
        "{s:s, s:O, s:s, s:{s:s, s:O, s:O, s:s, s:s}, s:[{s:s, s:s}], s:[{s:O, s:s}, {s:O, s:s}]}",
        "type", "visit.verified", "creator", host, "nonce", nonce, "payload", "visit_id", id,
        "host", host, "home", home, "member", PQgetvalue(r, i, 3), "checked_in_on",
        PQgetvalue(r, i, 4), "writes", "key", key, "value", "verified", "sign_as", "org", host,
        "role", "member", "org", home, "role", "member");
    json_decref(orgs);
    return 0;
}

/* ---- the pass: batches of pending records, one ledger call and one store each ---- */

/* Records per ledger submit_batch call (the ledger's most, LEDGER_BATCH_MAX) and batches per
 * pass at most (a sweep submits up to 10,000 records) */
#define VISIT_LEDGER_BATCH 100
#define VISIT_LEDGER_BATCH_S "100"
#define VISIT_LEDGER_PASS_BATCHES 100

#define PENDING_SQL                                                                                \
    "SELECT l.visit_id, v.host_club_id, v.home_club_id, encode(l.member_commitment, 'hex'), "      \
    "(v.checked_in_at AT TIME ZONE v.host_timezone)::date::text FROM "                             \
    "reciprocal.visit_ledger_records l JOIN reciprocal.visits v ON v.id = l.visit_id WHERE "       \
    "l.status = 'pending' ORDER BY l.attempts, l.updated_at LIMIT " VISIT_LEDGER_BATCH_S

/* every outcome {id, tx_id?, why?} of a batch in ONE statement */
#define STORE_SQL                                                                                  \
    "UPDATE reciprocal.visit_ledger_records l SET attempts = l.attempts + 1, status = CASE WHEN "  \
    "x.tx_id IS NULL THEN 'pending' ELSE 'submitted' END, tx_id = x.tx_id, last_error = "          \
    "left(x.why, 400), updated_at = now() FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, tx_id " \
    "text, why text) WHERE l.visit_id = x.id AND l.status = 'pending'"

/* The items (endorse specs) in ONE ledger call (submit_batch: the batch's keys in one read, no
 * second check of the signatures the server just made, one JetStream flight); each answer's
 * tx_id, or why, set on its outcome (outcomes[at[k]]). A refusal for a key the ledger does not
 * hold reads "ledger endorse: no key <org>/<role>", as endorse's (hold_pass looks for it). */
static void submit_items(const svc_call_t *call, json_t *items, json_t *outcomes,
                         const size_t *at) {
    size_t n = json_array_size(items);
    if (n == 0) return;
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
        const char *msg = json_string_value(json_object_get(err, "message"));
        char why[400];
        if (rc == 0 && r && !err && tx_id) {
            json_object_set_new(o, "tx_id", json_string(tx_id));
            continue;
        }
        if (rc != 0 || !r)
            snprintf(why, sizeof why, "ledger submit_batch: %.300s",
                     rc != 0 ? e.message : "no answer for this record");
        else
            snprintf(why, sizeof why, "ledger %s: %.300s",
                     msg && strncmp(msg, "no key ", 7) == 0 ? "endorse" : "submit",
                     msg ? msg : "refused");
        json_object_set_new(o, "why", json_string(why));
    }
    json_decref(res);
}

/* One batch: up to 100 pending records read, submitted in one ledger call, their outcomes
 * stored in one statement. *read = records read, *sent = submitted now. *config: the ledger's
 * configuration, asked once per pass (NULL + cfg_why when it could not be). */
static int pass_batch(const svc_call_t *call, json_t **config, char cfg_why[400], int *read,
                      long long *sent, long long *pending, err_t *e) {
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope, PENDING_SQL, 0, NULL, e);
    if (!r) return -1;
    int n = PQntuples(r), rc = 0;
    *read = n;
    *sent = 0;
    if (n > 0 && !*config && !cfg_why[0]) {
        json_t *in = json_object();
        err_t ce = {0};
        int status = 0;
        if (svc_call(call->env, "ledger", "config", call->caller, in, &status, config, &ce) != 0)
            snprintf(cfg_why, 400, "ledger config: %s", ce.message);
        json_decref(in);
    }
    json_t *outcomes = json_array(), *items = json_array();
    size_t at[VISIT_LEDGER_BATCH], n_items = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        char why[400] = "";
        json_t *spec = NULL, *o = json_pack("{s:s}", "id", PQgetvalue(r, i, 0));
        json_array_append_new(outcomes, o);
        if (cfg_why[0])
            json_object_set_new(o, "why", json_string(cfg_why));
        else if ((rc = visit_spec(r, i, *config, &spec, why, sizeof why, e)) == 1) {
            json_object_set_new(o, "why", json_string(why));
            rc = 0;
        } else if (rc == 0) {
            at[n_items++] = (size_t)i;
            json_array_append_new(items, spec);
        }
    }
    PQclear(r);
    if (rc == 0) submit_items(call, items, outcomes, at);
    char *doc = rc == 0 && n > 0 ? jsonx_dump(outcomes) : NULL;
    if (doc) {
        const char *p[] = {doc};
        PGresult *w = db_write(call->env->db, &scope, STORE_SQL, 1, p, e);
        rc = w ? 0 : -1;
        PQclear(w);
        free(doc);
    } else if (rc == 0 && n > 0)
        rc = err_set(e, 500, "internal", "", "out of memory");
    for (size_t k = 0; rc == 0 && k < json_array_size(outcomes); k++) {
        if (json_object_get(json_array_get(outcomes, k), "tx_id"))
            (*sent)++;
        else
            (*pending)++;
    }
    json_decref(outcomes), json_decref(items);
    return rc;
}

/* Batches until the pending records run out, a batch leaves one pending (the ledger cannot take
 * it now: the next sweep retries it after the records never tried, ORDER BY attempts; each
 * record is counted once) or VISIT_LEDGER_PASS_BATCHES were sent. */
static int submit_pass(const svc_call_t *call, long long *submitted, long long *pending, err_t *e) {
    json_t *config = NULL;
    char cfg_why[400] = "";
    int read = 0, rc = 0;
    long long sent = 0;
    *submitted = *pending = 0;
    for (int k = 0; rc == 0 && k < VISIT_LEDGER_PASS_BATCHES; k++) {
        rc = pass_batch(call, &config, cfg_why, &read, &sent, pending, e);
        *submitted += sent;
        if (read < VISIT_LEDGER_BATCH || sent < read) break;
    }
    json_decref(config);
    return rc;
}

/* ---- clubs that hold their own keys ---- */

/* spec's sign_as without the signers in skip ("<org>/<role>"). */
static void drop_signers(json_t *spec, const json_t *skip) {
    json_t *sign_as = json_object_get(spec, "sign_as");
    char name[160];
    for (size_t k = json_array_size(sign_as); k-- > 0;) {
        json_t *s = json_array_get(sign_as, k);
        snprintf(name, sizeof name, "%s/%s", json_string_value(json_object_get(s, "org")),
                 json_string_value(json_object_get(s, "role")));
        for (size_t j = 0; j < json_array_size(skip); j++)
            if (strcmp(json_string_value(json_array_get(skip, j)), name) == 0) {
                json_array_remove(sign_as, k);
                break;
            }
    }
}

/* Endorses spec with every key the ledger holds: 0 + *endorsed {tx_id, tx, endorsements} and
 * *skip (the signers it holds no key for, non-empty), or 1 when there is nothing to hold (the
 * ledger holds every key, refuses for another reason, or holds none of them). */
static int endorse_held(const svc_call_t *call, json_t *spec, json_t **endorsed, json_t **skip) {
    *skip = json_array();
    *endorsed = NULL;
    for (int round = 0; round < 3; round++) {
        json_t *one = json_deep_copy(spec);
        drop_signers(one, *skip);
        int none = json_array_size(json_object_get(one, "sign_as")) == 0;
        err_t e = {0};
        int status = 0;
        int rc = none ? -1
                      : svc_call(call->env, "ledger", "endorse", call->caller, one, &status,
                                 endorsed, &e);
        json_decref(one);
        if (rc == 0 && json_array_size(*skip) > 0) return 0;
        if (rc == 0 || none || e.status != 404 || strcmp(e.field, "org") != 0 ||
            strncmp(e.message, "no key ", 7) != 0)
            break;
        json_array_append_new(*skip, json_string(e.message + 7));
    }
    json_decref(*endorsed);
    json_decref(*skip);
    *endorsed = *skip = NULL;
    return 1;
}

/* Row i of HELD_SQL: its spec endorsed with the server's keys and stored needs_endorsements
 * (tx_id, tx, endorsements, policy, last_error naming the missing signers). 0 held, 1 not
 * (stays pending), -1 error. */
static int hold_one(const svc_call_t *call, PGresult *r, int i, json_t *config, err_t *e) {
    json_t *spec = NULL, *endorsed = NULL, *skip = NULL;
    char why[400], policy[400];
    int rc = visit_spec(r, i, config, &spec, why, sizeof why, e);
    if (rc != 0) return rc;
    rc = endorse_held(call, spec, &endorsed, &skip);
    if (rc == 0) {
        json_t *sign_as = json_object_get(spec, "sign_as");
        snprintf(policy, sizeof policy, "AND('%s.member', '%s.member')",
                 json_string_value(json_object_get(json_array_get(sign_as, 0), "org")),
                 json_string_value(json_object_get(json_array_get(sign_as, 1), "org")));
        char *ends = jsonx_dump(json_object_get(endorsed, "endorsements"));
        char *skipped = jsonx_dump(skip);
        const char *p[] = {PQgetvalue(r, i, 0),
                           json_string_value(json_object_get(endorsed, "tx_id")),
                           json_string_value(json_object_get(endorsed, "tx")),
                           ends,
                           policy,
                           skipped};
        db_tx_t *tx = NULL;
        rc = svc_begin(call, &tx, e);
        if (rc == 0) {
            rc = db_exec_cmd(tx,
                             "UPDATE reciprocal.visit_ledger_records SET status = "
                             "'needs_endorsements', tx_id = $2, tx = $3, endorsements = "
                             "$4::jsonb, policy = $5, attempts = attempts + 1, last_error = "
                             "left('waiting for the endorsements of ' || $6, 400), updated_at = "
                             "now() WHERE visit_id = $1 AND status = 'pending'",
                             6, p, e) < 0
                     ? -1
                     : 0;
            rc = db_tx_finish(&tx, rc, NULL, e);
        }
        free(ends);
        free(skipped);
    }
    json_decref(spec), json_decref(endorsed), json_decref(skip);
    return rc;
}

/* Pending records the ledger refused for a missing key: held for the club's own signature. */
static int hold_pass(const svc_call_t *call, err_t *e) {
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT l.visit_id, v.host_club_id, v.home_club_id, "
                          "encode(l.member_commitment, 'hex'), (v.checked_in_at AT TIME ZONE "
                          "v.host_timezone)::date::text FROM reciprocal.visit_ledger_records l "
                          "JOIN reciprocal.visits v ON v.id = l.visit_id WHERE l.status = "
                          "'pending' AND l.last_error LIKE 'ledger endorse: no key %' ORDER BY "
                          "l.created_at LIMIT 20",
                          0, NULL, e);
    if (!r) return -1;
    json_t *config = NULL;
    int rc = 0;
    if (PQntuples(r) > 0) {
        json_t *in = json_object();
        err_t ce = {0};
        int status = 0;
        if (svc_call(call->env, "ledger", "config", call->caller, in, &status, &config, &ce) != 0)
            config = NULL;
        json_decref(in);
    }
    for (int i = 0; config && rc == 0 && i < PQntuples(r); i++)
        rc = hold_one(call, r, i, config, e) < 0 ? -1 : 0;
    json_decref(config);
    PQclear(r);
    return rc;
}

/* needs_endorsements records: committed VALID on the ledger -> submitted; committed otherwise
 * -> last_error names the code (the transaction id is spent). */
static int commits_pass(const svc_call_t *call, err_t *e) {
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT visit_id, tx_id FROM reciprocal.visit_ledger_records WHERE "
                          "status = 'needs_endorsements' ORDER BY updated_at LIMIT 50",
                          0, NULL, e);
    if (!r) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        json_t *in = json_pack("{s:s, s:i}", "tx_id", PQgetvalue(r, i, 1), "wait_ms", 0),
               *st = NULL;
        err_t se = {0};
        int status = 0;
        int asked =
            svc_call(call->env, "ledger", "commit_status", call->caller, in, &status, &st, &se);
        json_decref(in);
        const char *s = json_string_value(json_object_get(st, "status"));
        const char *code = json_string_value(json_object_get(st, "validation_code"));
        if (asked == 0 && s && strcmp(s, "committed") == 0) {
            char why[200];
            snprintf(why, sizeof why, "the transaction committed %s", code ? code : "?");
            const char *p[] = {PQgetvalue(r, i, 0),
                               code && strcmp(code, "VALID") == 0 ? NULL : why};
            db_tx_t *tx = NULL;
            if ((rc = svc_begin(call, &tx, e)) == 0) {
                rc = db_exec_cmd(tx,
                                 "UPDATE reciprocal.visit_ledger_records SET status = CASE "
                                 "WHEN $2::text IS NULL THEN 'submitted' ELSE status END, "
                                 "last_error = $2, updated_at = now() WHERE visit_id = $1 AND "
                                 "status = 'needs_endorsements'",
                                 2, p, e) < 0
                         ? -1
                         : 0;
                rc = db_tx_finish(&tx, rc, NULL, e);
            }
        }
        json_decref(st);
    }
    PQclear(r);
    return rc;
}

int visit_ledger_pass(const svc_call_t *call, long long *submitted, long long *pending, err_t *e) {
    if (commits_pass(call, e) != 0 || submit_pass(call, submitted, pending, e) != 0) return -1;
    return hold_pass(call, e);
}

int visit_ledger_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *p[] = {json_string_value(json_object_get(in, "id"))};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT jsonb_build_object('visit_id', l.visit_id, 'type', l.type, "
                          "'status', l.status, 'tx_id', l.tx_id, 'attempts', l.attempts, "
                          "'last_error', l.last_error, 'tx', l.tx, 'endorsements', "
                          "l.endorsements, 'policy', l.policy, 'commitment', "
                          "encode(l.member_commitment, "
                          "'hex'), 'salt', encode(l.member_salt, 'hex'), 'created_at', "
                          "reciprocal.ts(l.created_at), 'updated_at', "
                          "reciprocal.ts(l.updated_at))::text FROM "
                          "reciprocal.visit_ledger_records l WHERE l.visit_id = $1::uuid",
                          1, p, e);
    *out = db_row_json(r, e, "id", "no ledger record for this visit");
    return *out ? 0 : -1;
}
