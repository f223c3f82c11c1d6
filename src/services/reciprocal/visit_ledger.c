/* visit_ledger: see visit_ledger.h. */
#include "services/reciprocal/visit_ledger.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "lib/ledger/txcodec.h"
#include "services/reciprocal/ledger_record.h"

int visit_ledger_enqueue(db_tx_t *tx, const char *visit_id, const char *member_number, err_t *e) {
    uint8_t salt[TXCODEC_SALT_LEN], commit[TXCODEC_COMMIT_LEN];
    char salt_hex[2 * TXCODEC_SALT_LEN + 3] = "\\x", commit_hex[2 * TXCODEC_COMMIT_LEN + 3] = "\\x";
    const char *num = member_number ? member_number : "";
    if (txcodec_commit(num, strlen(num), salt, commit, e) != 0) return -1;
    sodium_bin2hex(salt_hex + 2, sizeof salt_hex - 2, salt, sizeof salt);
    sodium_bin2hex(commit_hex + 2, sizeof commit_hex - 2, commit, sizeof commit);
    sodium_memzero(salt, sizeof salt);
    const char *p[] = {visit_id, salt_hex, commit_hex};
    return db_exec_cmd(tx,
                       "INSERT INTO reciprocal.visit_ledger_records (visit_id, member_salt, "
                       "member_commitment) VALUES ($1, $2::bytea, $3::bytea) ON CONFLICT "
                       "(visit_id) DO NOTHING",
                       3, p, e) < 0
               ? -1
               : 0;
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

static const ag_ledger_kind_t visit_kind = {
    .pending_sql = "SELECT l.visit_id, v.host_club_id, v.home_club_id, "
                   "encode(l.member_commitment, 'hex'), (v.checked_in_at AT TIME ZONE "
                   "v.host_timezone)::date::text FROM reciprocal.visit_ledger_records l "
                   "JOIN reciprocal.visits v ON v.id = l.visit_id WHERE l.status = "
                   "'pending' ORDER BY l.created_at LIMIT 20",
    .store_sql = "UPDATE reciprocal.visit_ledger_records SET attempts = attempts + 1, "
                 "status = CASE WHEN $2::text IS NULL THEN 'pending' ELSE 'submitted' "
                 "END, tx_id = $2, last_error = left($3, 400), updated_at = now() WHERE "
                 "visit_id = $1 AND status = 'pending'",
    .spec = visit_spec,
};

int visit_ledger_pass(const svc_call_t *call, long long *submitted, long long *pending, err_t *e) {
    return ag_ledger_record_pass(call, &visit_kind, submitted, pending, e);
}

int visit_ledger_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *p[] = {json_string_value(json_object_get(in, "id"))};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT jsonb_build_object('visit_id', l.visit_id, 'type', l.type, "
                          "'status', l.status, 'tx_id', l.tx_id, 'attempts', l.attempts, "
                          "'last_error', l.last_error, 'commitment', encode(l.member_commitment, "
                          "'hex'), 'salt', encode(l.member_salt, 'hex'), 'created_at', "
                          "reciprocal.ts(l.created_at), 'updated_at', "
                          "reciprocal.ts(l.updated_at))::text FROM "
                          "reciprocal.visit_ledger_records l WHERE l.visit_id = $1::uuid",
                          1, p, e);
    *out = db_row_json(r, e, "id", "no ledger record for this visit");
    return *out ? 0 : -1;
}
