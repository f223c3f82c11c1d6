/* api: see api.h. */
#include "services/ledger/api.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "lib/ledger/checkpoint.h"
#include "lib/ledger/merkle.h"
#include "services/ledger/keys.h"
#include "services/ledger/orderer.h"
#include "services/ledger/runner.h"
#include "services/ledger/store.h"
#include "services/ledger/validate.h"
#include "services/ledger/verify.h"

#define WAIT_MAX_MS LEDGER_WAIT_MAX_MS
#define WAIT_DEFAULT_MS 5000

static const db_scope_t writer = {0}; /* with db_begin_ledger_writer */
static const db_scope_t reader = {0};

/* ---- small helpers --------------------------------------------------------------------- */

static char *b64(const uint8_t *d, size_t n) {
    size_t l = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(l);
    if (s) sodium_bin2base64(s, l, d, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}
static json_t *jb64(const uint8_t *d, size_t n) {
    char *s = b64(d, n);
    json_t *j = s ? json_string(s) : NULL;
    free(s);
    return j;
}
static json_t *jhex(const uint8_t *d, size_t n) {
    char *s = malloc(2 * n + 1);
    if (!s) return NULL;
    ledger_hex(d, n, s);
    json_t *j = json_string(s);
    free(s);
    return j;
}
static int unb64(const char *s, uint8_t **out, size_t *len, size_t max) {
    if (!s) return -1;
    size_t sl = strlen(s), cap = sl / 4 * 3 + 3;
    if (sl / 4 * 3 > max + 3) return -1;
    *out = malloc(cap ? cap : 1);
    if (!*out) return -1;
    if (sodium_base642bin(*out, cap, s, sl, NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Integer input (JSON integer or decimal string from a query). */
static int in_u64(json_t *in, const char *name, uint64_t def, uint64_t max, uint64_t *out,
                  err_t *e) {
    json_t *v = json_object_get(in, name);
    *out = def;
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return err_invalid(e, name, "%s must be a non-negative integer", name);
        *out = (uint64_t)json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        if (*s == '-') return err_invalid(e, name, "%s must be a non-negative integer", name);
        if (!*s || strlen(s) > 20 || *s == '+')
            return err_type(e, name, "%s must be a non-negative integer", name);
        *out = strtoull(s, &end, 10);
        if (*end) return err_type(e, name, "%s must be a non-negative integer", name);
    } else {
        return err_type(e, name, "%s must be a non-negative integer", name);
    }
    if (*out > max) return err_invalid(e, name, "%s is too large", name);
    return 0;
}

/* A required integer input: absent is 400 missing_field, else as in_u64. */
static int req_u64(json_t *in, const char *name, uint64_t max, uint64_t *out, err_t *e) {
    json_t *v = json_object_get(in, name);
    if (!v || json_is_null(v)) return err_missing(e, name);
    return in_u64(in, name, 0, max, out, e);
}

/* A required string input: 400 missing_field or invalid_type (core/err.h's rule). */
static int req_str(json_t *in, const char *name, const char **out, err_t *e) {
    json_t *v = json_object_get(in, name);
    if (!v || json_is_null(v)) return err_missing(e, name);
    if (!json_is_string(v)) return err_type(e, name, "%s must be a string", name);
    *out = json_string_value(v);
    return 0;
}

static int parse_id(json_t *in, const char *name, uint8_t id[32], err_t *e) {
    json_t *v = json_object_get(in, name);
    if (!v || json_is_null(v)) return err_missing(e, name);
    if (!json_is_string(v)) return err_type(e, name, "%s must be a string of 64 hex digits", name);
    if (ledger_unhex(json_string_value(v), id, 32) != 0)
        return err_invalid(e, name, "%s must be 64 hex digits", name);
    return 0;
}

/* ---- building and submitting ----------------------------------------------------------- */

int ledger_build_tx(json_t *spec, const uint8_t creator_pk[32], uint8_t **tx, size_t *len,
                    uint8_t id[32], err_t *e) {
    txcodec_tx_t t;
    memset(&t, 0, sizeof t);
    *tx = NULL;
    const char *type = NULL, *creator = NULL;
    json_t *payload = json_object_get(spec, "payload"), *reads = json_object_get(spec, "reads"),
           *writes = json_object_get(spec, "writes");
    const char *nonce = json_string_value(json_object_get(spec, "nonce"));
    char *ptext = NULL;
    int rc = -1;
    if (req_str(spec, "type", &type, e) != 0) return -1;
    if (strlen(type) > TXCODEC_MAX_TYPE)
        return err_invalid(e, "type", "type must be at most %d bytes", TXCODEC_MAX_TYPE);
    if (req_str(spec, "creator", &creator, e) != 0) return -1;
    if (strlen(creator) > TXCODEC_MAX_ORG)
        return err_invalid(e, "creator", "creator must be at most %d bytes", TXCODEC_MAX_ORG);
    if (reads && !json_is_array(reads)) return err_type(e, "reads", "reads must be an array");
    if (writes && !json_is_array(writes)) return err_type(e, "writes", "writes must be an array");
    if (json_array_size(reads) > TXCODEC_MAX_SET || json_array_size(writes) > TXCODEC_MAX_SET)
        return err_invalid(e, "writes", "too many reads or writes");
    t.version = TXCODEC_VERSION;
    snprintf(t.type, sizeof t.type, "%s", type);
    snprintf(t.creator_org, sizeof t.creator_org, "%s", creator);
    memcpy(t.creator_pk, creator_pk, 32);
    t.timestamp_ms = now_ms();
    if (nonce) {
        if (strlen(nonce) < TXCODEC_MIN_NONCE || strlen(nonce) > TXCODEC_MAX_NONCE)
            return err_invalid(e, "nonce", "nonce must be 8..64 bytes");
        memcpy(t.nonce, nonce, strlen(nonce));
        t.nonce_len = strlen(nonce);
    } else {
        randombytes_buf(t.nonce, 24);
        t.nonce_len = 24;
    }
    if (json_is_string(payload))
        ptext = strdup(json_string_value(payload));
    else if (payload)
        ptext = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    else
        ptext = strdup("");
    if (!ptext) return err_set(e, 500, "internal", "", "out of memory");
    t.payload = (const uint8_t *)ptext;
    t.payload_len = strlen(ptext);
    t.n_reads = json_array_size(reads);
    t.n_writes = json_array_size(writes);
    t.reads = calloc(t.n_reads ? t.n_reads : 1, sizeof *t.reads);
    t.writes = calloc(t.n_writes ? t.n_writes : 1, sizeof *t.writes);
    if (!t.reads || !t.writes) {
        err_set(e, 500, "internal", "", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < t.n_reads; i++) {
        json_t *r = json_array_get(reads, i);
        const char *k = json_string_value(json_object_get(r, "key"));
        json_t *v = json_object_get(r, "version");
        if (!k || !json_is_integer(v)) {
            err_type(e, "reads", "each read is {\"key\": string, \"version\": integer}");
            goto out;
        }
        if (!*k || json_integer_value(v) < 0) {
            err_invalid(e, "reads", "each read needs a non-empty key and a version >= 0");
            goto out;
        }
        t.reads[i] =
            (txcodec_read_t){(const uint8_t *)k, strlen(k), (uint64_t)json_integer_value(v)};
    }
    for (size_t i = 0; i < t.n_writes; i++) {
        json_t *w = json_array_get(writes, i);
        const char *k = json_string_value(json_object_get(w, "key"));
        const char *v = json_string_value(json_object_get(w, "value"));
        int del = json_is_true(json_object_get(w, "delete"));
        if (!k || (!del && !v)) {
            err_type(e, "writes",
                     "each write is {\"key\": string, \"value\": string} or "
                     "{\"key\": string, \"delete\": true}");
            goto out;
        }
        if (!*k) {
            err_invalid(e, "writes", "each write needs a non-empty key");
            goto out;
        }
        t.writes[i] = (txcodec_write_t){(const uint8_t *)k, strlen(k),
                                        del ? NULL : (const uint8_t *)v, del ? 0 : strlen(v), del};
    }
    if (txcodec_sort_sets(&t, e) != 0) goto out;
    if (txcodec_compute_id(&t, t.tx_id, e) != 0) goto out;
    if (txcodec_encode(&t, tx, len, e) != 0) goto out;
    memcpy(id, t.tx_id, 32);
    rc = 0;
out:
    /* txcodec refusing what the caller described (sizes, a key listed twice) is a value error */
    if (rc != 0 && strcmp(e->code, "invalid_transaction") == 0) {
        e->status = 422;
        snprintf(e->code, sizeof e->code, "invalid_field");
    }
    free(t.reads);
    free(t.writes);
    free(ptext);
    return rc;
}

int ledger_tx_status(db_pool_t *db, bus_t *b, const uint8_t id[32], int wait_ms, json_t **out,
                     err_t *e) {
    char hx[65];
    ledger_hex(id, 32, hx);
    const char *p[] = {hx};
    int64_t deadline = mono_ms() + wait_ms;
    uint64_t gen = ledger_commit_gen();
    *out = NULL;
    for (;;) {
        /* one round trip (db_read pipelines the read-only scope and the statement): this
         * runs once per submit; BEGIN, SELECT, ROLLBACK one after another were three */
        PGresult *r = db_read(db, &reader,
                              "SELECT block_number, position, log_index, validation_code FROM "
                              "ledger.txs WHERE tx_id = decode($1, 'hex') ORDER BY "
                              "(validation_code = 9), block_number LIMIT 1",
                              1, p, e);
        if (!r) return -1;
        if (PQntuples(r) == 1) {
            int code = atoi(db_val(r, 0, "validation_code"));
            *out = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "tx_id", hx, "status", "committed",
                             "validation_code", ledger_code_name(code), "block_number",
                             (json_int_t)strtoll(db_val(r, 0, "block_number"), NULL, 10),
                             "position", (json_int_t)atoi(db_val(r, 0, "position")), "log_index",
                             (json_int_t)strtoll(db_val(r, 0, "log_index"), NULL, 10));
            PQclear(r);
            return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
        }
        PQclear(r);
        int64_t left = deadline - mono_ms();
        if (left <= 0 || !b) break;
        if (ledger_runner_active()) {
            /* the background runner commits: wait for a commit here (or 50 ms, for commits
             * by another process's runner) */
            ledger_wait_commit(gen, left < 50 ? (int)left : 50);
            gen = ledger_commit_gen();
        } else if (ledger_pump(db, b, e) != 0) {
            return -1;
        }
    }
    *out = json_pack("{s:s,s:s}", "tx_id", hx, "status", "pending");
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
}

/* the streams are ensured once per connection, not per transaction (two stream-info round
 * trips per submit were most of its cost); a failed publish ensures them again */
static _Atomic(bus_t *) g_ensured;

int ledger_streams_ready(bus_t *b, err_t *e) {
    if (atomic_load(&g_ensured) == b) return 0;
    if (ledger_streams_ensure(b, e) != 0) return -1;
    atomic_store(&g_ensured, b);
    return 0;
}

void ledger_streams_unready(bus_t *b) {
    (void)b;
    atomic_store(&g_ensured, NULL);
}

int ledger_submit(db_pool_t *db, bus_t *b, const uint8_t *tx, size_t tx_len,
                  ledger_endorsement_t *end, size_t n_end, int wait_ms, json_t **status, err_t *e) {
    txcodec_tx_t t;
    uint8_t *env = NULL;
    size_t env_len = 0;
    *status = NULL;
    if (txcodec_decode(tx, tx_len, &t, e) != 0) {
        e->status = 422;
        snprintf(e->field, sizeof e->field, "tx");
        return -1;
    }
    uint8_t id[32];
    memcpy(id, t.tx_id, 32);
    txcodec_tx_free(&t);
    for (size_t i = 0; i < n_end; i++)
        if (!ledger_endorsement_ok(tx, tx_len, &end[i]))
            return err_set(e, 422, "invalid_signature", "endorsements",
                           "endorsement %zu does not verify", i);
    if (ledger_envelope_encode(tx, tx_len, end, n_end, &env, &env_len, e) != 0) return -1;
    int dup = 0;
    int rc = ledger_streams_ready(b, e);
    if (rc == 0) {
        rc = ledger_publish_envelope(b, env, env_len, id, &dup, e);
        if (rc != 0) {
            ledger_streams_unready(b);
            err_clear(e);
            rc = ledger_streams_ready(b, e);
            if (rc == 0) rc = ledger_publish_envelope(b, env, env_len, id, &dup, e);
        }
    }
    free(env);
    if (rc != 0) return -1;
    if (wait_ms <= 0 && !dup) {
        /* first publish of this tx id (JetStream did not de-duplicate it) and no wait: it was
         * just ordered, so the answer is "pending" without a PostgreSQL read (that read, once
         * per submit, was the largest PostgreSQL cost per transaction in bench/ledger.sh). The
         * one case where it is already on the chain: submitted again after the 2-minute
         * de-duplication window; this copy then lands as DUPLICATE_TXID and commit_status
         * reports the original commit. */
        char hx[65];
        ledger_hex(id, 32, hx);
        *status = json_pack("{s:s,s:s}", "tx_id", hx, "status", "pending");
        return *status ? 0 : err_set(e, 500, "internal", "", "out of memory");
    }
    err_t se = {0};
    if (ledger_tx_status(db, b, id, wait_ms, status, &se) == 0) return 0;
    /* JetStream acknowledged the publish, so the transaction IS ordered: a failed status read
     * (PostgreSQL down or busy, a failed pump) must not answer 5xx, which a client may take as
     * "not submitted" and build a NEW transaction, applied twice. It is pending; its status
     * comes from GET /transactions/{id}/status. */
    char hx[65];
    ledger_hex(id, 32, hx);
    log_warn("ledger: tx %.16s... ordered, its status could not be read: %s", hx, se.message);
    *status = json_pack("{s:s,s:s,s:s}", "tx_id", hx, "status", "pending", "detail",
                        "ordered; its commit status could not be read now: ask "
                        "GET /transactions/{tx_id}/status");
    return *status ? 0 : err_set(e, 500, "internal", "", "out of memory");
}

int ledger_org_key(db_pool_t *db, const char *org, const char *role, uint8_t sk[64], uint8_t pk[32],
                   err_t *e) {
    char name[POLICY_MAX_ORG + 16];
    snprintf(name, sizeof name, "%s/%s", org, role);
    db_tx_t *tx = NULL;
    int found = 0;
    if (db_begin_ledger_writer(db, &writer, &tx, e) != 0) return -1;
    int rc = ledger_key_load(tx, name, sk, pk, &found, e);
    db_rollback(tx);
    if (rc == 0 && !found) rc = err_set(e, 404, "not_found", "org", "no key %s", name);
    return rc;
}

/* Builds a config.update created by the network operator and endorses it with the admin keys
 * the server holds for the orgs of the current config (the network operator's first), until
 * one more than the majority is reached (slack for a concurrent config change). With a majority
 * it is submitted; otherwise *status = {"status":"needs_endorsements","tx_id","tx",
 * "endorsements","policy","have","need"}: the remaining admins (clubs that hold their own
 * keys) sign the tx and POST it with all endorsements to /transactions. */
static int submit_config(db_pool_t *db, bus_t *b, json_t *writes, const char *nonce, int wait_ms,
                         json_t **status, err_t *e) {
    uint8_t sk[64], pk[32], id[32], *tx = NULL;
    size_t len = 0, n_end = 0, have = 0;
    ledger_endorsement_t end[LEDGER_MAX_ENDORSEMENTS];
    ledger_config_t cur = {0};
    db_tx_t *rt = NULL;
    *status = NULL;
    if (db_begin(db, &reader, &rt, e) != 0) return -1;
    int rc = ledger_store_config(rt, &cur, e);
    db_rollback(rt);
    if (rc != 0) return -1;
    if (ledger_org_key(db, LEDGER_NETWORK_ORG, "admin", sk, pk, e) != 0) goto out;
    json_t *spec = json_pack("{s:s,s:s,s:O}", "type", "config.update", "creator",
                             LEDGER_NETWORK_ORG, "writes", writes);
    if (nonce) json_object_set_new(spec, "nonce", json_string(nonce));
    rc = ledger_build_tx(spec, pk, &tx, &len, id, e);
    json_decref(spec);
    if (rc != 0) goto out;
    rc = -1;
    ledger_endorse(tx, len, sk, &end[n_end++]);
    size_t n = ledger_config_admin_orgs(&cur), need = n / 2 + 1;
    const ledger_ident_t *nid = ledger_config_ident(&cur, pk);
    if (n == 0 || (nid && nid->role == POLICY_ROLE_ADMIN && !ledger_config_is_revoked(&cur, pk)))
        have = 1; /* genesis, or the operator is an admin of the config in force */
    for (size_t i = 0; i < cur.n_orgs && have < need + 1 && n_end < LEDGER_MAX_ENDORSEMENTS; i++) {
        const char *org = cur.orgs[i].org;
        err_t ke = {0};
        if (strcmp(org, LEDGER_NETWORK_ORG) == 0 || ledger_org_key(db, org, "admin", sk, pk, &ke))
            continue; /* not held here (the club keeps its key) */
        const ledger_ident_t *d = ledger_config_ident(&cur, pk);
        if (d && d->role == POLICY_ROLE_ADMIN && strcmp(d->org, org) == 0 &&
            !ledger_config_is_revoked(&cur, pk)) {
            ledger_endorse(tx, len, sk, &end[n_end++]);
            have++;
        }
    }
    if (have >= need) {
        rc = ledger_submit(db, b, tx, len, end, n_end, wait_ms, status, e);
        goto out;
    }
    char policy[POLICY_MAX_LEN];
    json_t *ends = json_array();
    for (size_t i = 0; i < n_end; i++)
        json_array_append_new(ends, json_pack("{s:o,s:o}", "public_key", jhex(end[i].pk, 32),
                                              "signature", jb64(end[i].sig, 64)));
    if (ledger_config_update_policy(&cur, policy, sizeof policy) != 0)
        snprintf(policy, sizeof policy, "MAJORITY of %zu admin principals", n);
    *status = json_pack("{s:s,s:o,s:o,s:o,s:s,s:I,s:I}", "status", "needs_endorsements", "tx_id",
                        jhex(id, 32), "tx", jb64(tx, len), "endorsements", ends, "policy", policy,
                        "have", (json_int_t)have, "need", (json_int_t)need);
    rc = *status ? 0 : err_set(e, 500, "internal", "", "out of memory");
out:
    sodium_memzero(sk, sizeof sk);
    ledger_config_free(&cur);
    free(tx);
    return rc;
}

static atomic_int bootstrapped;

int ledger_bootstrap(db_pool_t *db, bus_t *b, err_t *e) {
    if (atomic_load(&bootstrapped)) return 0;
    uint8_t kek[32];
    if (ledger_kek(kek, e) != 0) return -1;
    sodium_memzero(kek, sizeof kek);
    if (ledger_streams_ensure(b, e) != 0) return -1;
    /* the network's member identity creates the records the network writes itself (the
     * governance records, docs/governance.md "Ledger records"); its admin identity the config */
    const char *names[] = {LEDGER_LOG_KEY, LEDGER_NETWORK_ORG "/admin",
                           LEDGER_NETWORK_ORG "/member"};
    for (int i = 0; i < 3; i++) {
        db_tx_t *tx = NULL;
        uint8_t sk[64], pk[32];
        int found = 0;
        if (db_begin_ledger_writer(db, &writer, &tx, e) != 0) return -1;
        int rc = ledger_key_load(tx, names[i], sk, pk, &found, e);
        sodium_memzero(sk, sizeof sk);
        if (rc == 0 && !found) rc = ledger_key_create(tx, names[i], NULL, pk, e);
        if (rc == 0)
            rc = db_commit(tx, e);
        else
            db_rollback(tx);
        if (rc != 0 && e->status != 409) return -1; /* 409: created concurrently */
        err_clear(e);
    }
    /* genesis config; a network bootstrapped before it had a member identity gets one */
    db_tx_t *tx = NULL;
    if (db_begin(db, &reader, &tx, e) != 0) return -1;
    const char *p[] = {LEDGER_NETWORK_ORG};
    PGresult *r = db_exec(tx,
                          "SELECT (SELECT count(*) FROM ledger.orgs WHERE org = $1), (SELECT "
                          "count(*) FROM ledger.identities WHERE org = $1 AND role = 'member')",
                          1, p, e);
    db_rollback(tx);
    if (!r) return -1;
    int have = atoi(PQgetvalue(r, 0, 0)) > 0, have_member = atoi(PQgetvalue(r, 0, 1)) > 0;
    PQclear(r);
    if (!have || !have_member) {
        uint8_t sk[64], pk[2][32];
        const char *roles[] = {"admin", "member"};
        char hx[2][65];
        for (int i = 0; i < 2; i++) {
            if (ledger_org_key(db, LEDGER_NETWORK_ORG, roles[i], sk, pk[i], e) != 0) return -1;
            sodium_memzero(sk, sizeof sk);
            ledger_hex(pk[i], 32, hx[i]);
        }
        json_t *val = json_pack("{s:n,s:s,s:[{s:s,s:s},{s:s,s:s}]}", "club_id", "name",
                                "Network operator", "identities", "public_key", hx[0], "role",
                                "admin", "public_key", hx[1], "role", "member");
        char *vs = json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(val);
        json_t *writes = json_pack("[{s:s,s:s}]", "key", "config/org/" LEDGER_NETWORK_ORG, "value",
                                   vs ? vs : "");
        free(vs);
        json_t *st = NULL;
        int rc = submit_config(db, b, writes, have ? "network-member-identity" : "genesis-network",
                               WAIT_MAX_MS, &st, e);
        json_decref(writes);
        const char *code = json_string_value(json_object_get(st, "validation_code"));
        int ok =
            rc == 0 && code && (strcmp(code, "VALID") == 0 || strcmp(code, "DUPLICATE_TXID") == 0);
        json_decref(st);
        if (rc != 0) return -1;
        if (!ok) return err_set(e, 500, "internal", "", "genesis config was not committed");
    }
    atomic_store(&bootstrapped, 1);
    return 0;
}

int ledger_register_org(db_pool_t *db, bus_t *b, const char *org, const char *club_id,
                        const char *name, int wait_ms, json_t **status, err_t *e) {
    return ledger_register_org_keys(db, b, org, club_id, name, NULL, NULL, wait_ms, status, e);
}

int ledger_register_org_keys(db_pool_t *db, bus_t *b, const char *org, const char *club_id,
                             const char *name, const uint8_t *member_pk, const uint8_t *admin_pk,
                             int wait_ms, json_t **status, err_t *e) {
    if (ledger_bootstrap(db, b, e) != 0) return -1;
    if (!org || !*org || strlen(org) > POLICY_MAX_ORG || strcmp(org, LEDGER_NETWORK_ORG) == 0 ||
        strspn(org, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
            strlen(org))
        return err_invalid(e, "org", "org must be 1..64 of [A-Za-z0-9.-]");
    const char *roles[] = {"member", "admin"};
    const uint8_t *ext[2] = {member_pk, admin_pk};
    char hx[2][65];
    if ((member_pk == NULL) != (admin_pk == NULL) ||
        (member_pk && memcmp(member_pk, admin_pk, 32) == 0))
        return err_invalid(e, "public_keys",
                           "give both a member and an admin public key, and two different ones");
    for (int i = 0; i < 2; i++) {
        char kn[POLICY_MAX_ORG + 16];
        if (ext[i]) { /* held by the club: nothing stored here */
            ledger_hex(ext[i], 32, hx[i]);
            continue;
        }
        uint8_t sk[64], pk[32];
        int found = 0;
        db_tx_t *tx = NULL;
        snprintf(kn, sizeof kn, "%s/%s", org, roles[i]);
        if (db_begin_ledger_writer(db, &writer, &tx, e) != 0) return -1;
        int rc = ledger_key_load(tx, kn, sk, pk, &found, e);
        sodium_memzero(sk, sizeof sk);
        if (rc == 0 && !found) rc = ledger_key_create(tx, kn, club_id, pk, e);
        if (rc == 0)
            rc = db_commit(tx, e);
        else
            db_rollback(tx);
        if (rc != 0) return -1;
        ledger_hex(pk, 32, hx[i]);
    }
    json_t *val = json_pack("{s:o,s:s,s:[{s:s,s:s},{s:s,s:s}]}", "club_id",
                            club_id && *club_id ? json_string(club_id) : json_null(), "name",
                            name ? name : "", "identities", "public_key", hx[0], "role", "member",
                            "public_key", hx[1], "role", "admin");
    char *vs = val ? json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(val);
    if (!vs) return err_set(e, 500, "internal", "", "out of memory");
    char key[POLICY_MAX_ORG + 16];
    snprintf(key, sizeof key, "config/org/%s", org);
    json_t *writes = json_pack("[{s:s,s:s}]", "key", key, "value", vs);
    free(vs);
    int rc = submit_config(db, b, writes, NULL, wait_ms, status, e);
    json_decref(writes);
    if (rc == 0) {
        json_object_set_new(*status, "member_public_key", json_string(hx[0]));
        json_object_set_new(*status, "admin_public_key", json_string(hx[1]));
        json_object_set_new(*status, "keys", json_string(member_pk ? "external" : "server"));
    }
    return rc;
}

int ledger_revoke_key(db_pool_t *db, bus_t *b, const uint8_t pk[32], const char *reason,
                      int wait_ms, json_t **status, err_t *e) {
    if (ledger_bootstrap(db, b, e) != 0) return -1;
    char key[80], hx[65];
    ledger_hex(pk, 32, hx);
    snprintf(key, sizeof key, "config/revoke/%s", hx);
    json_t *val = json_pack("{s:s}", "reason", reason ? reason : "");
    char *vs = json_dumps(val, JSON_COMPACT);
    json_decref(val);
    json_t *writes = json_pack("[{s:s,s:s}]", "key", key, "value", vs ? vs : "{}");
    free(vs);
    int rc = submit_config(db, b, writes, NULL, wait_ms, status, e);
    json_decref(writes);
    return rc;
}

/* ---- checkpoints and witnesses --------------------------------------------------------- */

int ledger_latest_checkpoint(db_tx_t *tx, json_t **out, err_t *e) {
    *out = NULL;
    PGresult *r = db_row(db_exec(tx,
                                 "SELECT size, encode(root, 'hex') AS root, block_number, note "
                                 "FROM ledger.checkpoints ORDER BY size DESC LIMIT 1",
                                 0, NULL, e),
                         e, "", "no checkpoint yet");
    if (!r) return -1;
    const char *size = db_val(r, 0, "size");
    const char *p[] = {size};
    PGresult *c = db_exec(tx,
                          "SELECT org, sig_line FROM ledger.cosignatures WHERE size = $1 ORDER "
                          "BY org",
                          1, p, e);
    if (!c) {
        PQclear(r);
        return -1;
    }
    ledger_buf_t note = {0};
    const char *base = db_val(r, 0, "note");
    ledger_buf_put(&note, base, strlen(base));
    json_t *cos = json_array();
    for (int i = 0; i < PQntuples(c); i++) {
        const char *l = db_val(c, i, "sig_line");
        ledger_buf_put(&note, l, strlen(l));
        json_array_append_new(cos, json_string(db_val(c, i, "org")));
    }
    ledger_buf_put(&note, "", 1);
    *out = json_pack("{s:I,s:s,s:I,s:s,s:o}", "size", (json_int_t)strtoll(size, NULL, 10), "root",
                     db_val(r, 0, "root"), "block_number",
                     (json_int_t)strtoll(db_val(r, 0, "block_number"), NULL, 10), "note",
                     note.oom ? "" : (const char *)note.p, "cosigners", cos);
    ledger_buf_free(&note);
    PQclear(r);
    PQclear(c);
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
}

int ledger_cosign(db_pool_t *db, const char *org, const char *note, json_t **out, err_t *e) {
    db_tx_t *tx = NULL;
    json_t *cp = NULL;
    char *line = NULL;
    *out = NULL;
    if (db_begin_ledger_writer(db, &writer, &tx, e) != 0) return -1;
    if (!note) {
        if (ledger_latest_checkpoint(tx, &cp, e) != 0) goto fail;
        note = json_string_value(json_object_get(cp, "note"));
    }
    if (ledger_witness_cosign(tx, org, note, strlen(note), &line, e) != 0) goto fail;
    if (db_commit(tx, e) != 0) goto fail2;
    *out = json_pack("{s:s,s:s}", "org", org, "signature_line", line);
    free(line);
    json_decref(cp);
    return 0;
fail:
    db_rollback(tx);
fail2:
    free(line);
    json_decref(cp);
    return -1;
}

int ledger_block_final(db_pool_t *db, uint64_t number, int *final, int *cosigners, err_t *e) {
    int k = ledger_witness_k();
    char ns[32];
    snprintf(ns, sizeof ns, "%" PRIu64, number);
    const char *p[] = {ns};
    db_tx_t *tx = NULL;
    *final = 0;
    *cosigners = 0;
    if (db_begin(db, &reader, &tx, e) != 0) return -1;
    PGresult *r = db_row(db_exec(tx,
                                 "SELECT first_log_index + tx_count AS covered FROM ledger.blocks "
                                 "WHERE number = $1",
                                 1, p, e),
                         e, "number", "no block %s", ns);
    if (!r) goto fail;
    uint64_t covered = strtoull(db_val(r, 0, "covered"), NULL, 10);
    PQclear(r);
    if (ledger_witness_count(tx, covered, cosigners, e) != 0) goto fail;
    db_rollback(tx);
    *final = *cosigners >= k;
    return 0;
fail:
    db_rollback(tx);
    return -1;
}

/* ---- export ---------------------------------------------------------------------------- */

int ledger_export(db_pool_t *db, json_t **out, err_t *e) {
    db_tx_t *tx = NULL;
    json_t *blocks = json_array(), *cps = json_array();
    PGresult *r = NULL;
    *out = NULL;
    /* blocks and their transactions come from ONE statement (one snapshot of committed
     * blocks); the checkpoints are then bounded by the log size of those blocks (the
     * transaction is READ COMMITTED: a snapshot per statement) */
    if (db_begin_ledger_writer(db, &writer, &tx, e) != 0) goto fail0;
    checkpoint_signer_t s;
    if (ledger_log_signer(tx, &s, e) != 0) goto fail;
    char lpk[65];
    ledger_hex(s.pk, 32, lpk);
    checkpoint_signer_wipe(&s);
    r = db_exec(tx,
                "SELECT b.number, encode(b.prev_hash, 'hex') AS prev_hash, encode(b.data_root, "
                "'hex') AS data_root, encode(b.validation_root, 'hex') AS validation_root, "
                "encode(b.writeset_hash, 'hex') AS writeset_hash, b.timestamp_ms, b.tx_count, "
                "b.first_log_index, encode(b.header_hash, 'hex') AS header_hash, t.position, "
                "t.validation_code, encode(t.envelope, 'base64') AS env FROM ledger.blocks b JOIN "
                "ledger.txs t ON t.block_number = b.number ORDER BY b.number, t.position",
                0, NULL, e);
    if (!r) goto fail;
    json_t *cur = NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        if (atoi(db_val(r, i, "position")) == 0) {
            cur = json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:[]}", "number",
                            (json_int_t)strtoll(db_val(r, i, "number"), NULL, 10), "prev_hash",
                            db_val(r, i, "prev_hash"), "data_root", db_val(r, i, "data_root"),
                            "validation_root", db_val(r, i, "validation_root"), "writeset_hash",
                            db_val(r, i, "writeset_hash"), "timestamp_ms",
                            (json_int_t)strtoll(db_val(r, i, "timestamp_ms"), NULL, 10), "tx_count",
                            (json_int_t)atoi(db_val(r, i, "tx_count")), "first_log_index",
                            (json_int_t)strtoll(db_val(r, i, "first_log_index"), NULL, 10),
                            "header_hash", db_val(r, i, "header_hash"), "txs");
            json_array_append_new(blocks, cur);
        }
        /* PostgreSQL's base64 output wraps lines every 76 characters */
        const char *eb = db_val(r, i, "env");
        char *clean = malloc(strlen(eb) + 1);
        size_t k = 0;
        if (!clean) goto fail;
        for (const char *q = eb; *q; q++)
            if (*q != '\n') clean[k++] = *q;
        clean[k] = 0;
        json_t *jt = json_pack("{s:s,s:s}", "envelope", clean, "validation_code",
                               ledger_code_name(atoi(db_val(r, i, "validation_code"))));
        /* per-field digests: let the offline verifier name an altered field */
        uint8_t *bin = malloc(k + 1);
        size_t bl = 0;
        err_t de = {0};
        json_t *dg = bin && sodium_base642bin(bin, k + 1, clean, k, NULL, &bl, NULL,
                                              sodium_base64_VARIANT_ORIGINAL) == 0
                         ? ledger_tx_digests(bin, bl, &de)
                         : NULL;
        free(bin);
        if (dg) json_object_set_new(jt, "digests", dg);
        json_array_append_new(json_object_get(cur, "txs"), jt);
        free(clean);
    }
    PQclear(r);
    /* the checkpoints of at most the exported log size: blocks commit with their checkpoint
     * while this export runs, and a checkpoint beyond the exported blocks fails verify.
     * Checkpoint and cosignature rows are append-only, so this later statement adds only
     * cosignatures of exported checkpoints, which are as valid as the earlier ones. */
    json_t *lb = json_array_get(blocks, json_array_size(blocks) - 1);
    char end[32];
    snprintf(end, sizeof end, "%" JSON_INTEGER_FORMAT,
             lb ? json_integer_value(json_object_get(lb, "first_log_index")) +
                      json_integer_value(json_object_get(lb, "tx_count"))
                : (json_int_t)0);
    const char *cp_p[] = {end};
    r = db_exec(tx,
                "SELECT c.note || coalesce((SELECT string_agg(s.sig_line, '' ORDER BY s.org) FROM "
                "ledger.cosignatures s WHERE s.size = c.size), '') AS note FROM ledger.checkpoints "
                "c WHERE c.size <= $1 ORDER BY c.size",
                1, cp_p, e);
    if (!r) goto fail;
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(cps, json_string(db_val(r, i, "note")));
    PQclear(r);
    r = NULL;
    db_rollback(tx);
    *out = json_pack("{s:s,s:s,s:s,s:o,s:o}", "format", "reciprocal-ledger-export/v1", "origin",
                     ledger_origin(), "log_public_key", lpk, "blocks", blocks, "checkpoints", cps);
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
fail:
    PQclear(r);
    db_rollback(tx);
fail0:
    json_decref(blocks);
    json_decref(cps);
    return -1;
}

/* ---- handlers -------------------------------------------------------------------------- */

static int wait_of(json_t *in, int *wait_ms, err_t *e) {
    uint64_t w;
    if (in_u64(in, "wait_ms", WAIT_DEFAULT_MS, WAIT_MAX_MS, &w, e) != 0) return -1;
    *wait_ms = (int)w;
    return 0;
}

int ledger_h_bootstrap(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    (void)in;
    if (ledger_bootstrap(c->env->db, c->env->bus, e) != 0) return -1;
    *out = json_pack("{s:s,s:s}", "status", "bootstrapped", "origin", ledger_origin());
    return 0;
}

int ledger_h_register_org(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    int w;
    const char *org = NULL;
    if (wait_of(in, &w, e) != 0 || req_str(in, "org", &org, e) != 0) return -1;
    json_t *club = json_object_get(in, "club_id"), *name = json_object_get(in, "name");
    if (club && !json_is_string(club) && !json_is_null(club))
        return err_type(e, "club_id", "club_id must be a string");
    if (name && !json_is_string(name)) return err_type(e, "name", "name must be a string");
    json_t *keys = json_object_get(in, "public_keys");
    uint8_t mpk[32], apk[32];
    if (keys && !json_is_object(keys))
        return err_type(e, "public_keys", "public_keys: {\"member\": 64 hex, \"admin\": 64 hex}");
    if (keys && (parse_id(keys, "member", mpk, e) != 0 || parse_id(keys, "admin", apk, e) != 0)) {
        char f[sizeof e->field];
        snprintf(f, sizeof f, "public_keys.%.80s", e->field);
        snprintf(e->field, sizeof e->field, "%s", f);
        return -1;
    }
    return ledger_register_org_keys(c->env->db, c->env->bus, org, json_string_value(club),
                                    json_string_value(name), keys ? mpk : NULL, keys ? apk : NULL,
                                    w, out, e);
}

int ledger_h_revoke(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    int w;
    uint8_t pk[32];
    if (wait_of(in, &w, e) != 0 || parse_id(in, "public_key", pk, e) != 0) return -1;
    return ledger_revoke_key(c->env->db, c->env->bus, pk,
                             json_string_value(json_object_get(in, "reason")), w, out, e);
}

int ledger_h_config(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    (void)in;
    db_tx_t *tx = NULL;
    ledger_config_t cfg;
    if (db_begin(c->env->db, &reader, &tx, e) != 0) return -1;
    int rc = ledger_store_config(tx, &cfg, e);
    db_rollback(tx);
    if (rc != 0) return -1;
    *out = ledger_config_to_json(&cfg);
    ledger_config_free(&cfg);
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
}

int ledger_may_act_for(const svc_call_t *c, const char *org, err_t *e) {
    if (c->caller->network_admin) return 0;
    db_tx_t *tx = NULL;
    const char *p[] = {org};
    if (db_begin(c->env->db, &reader, &tx, e) != 0) return -1;
    PGresult *r = db_exec(tx, "SELECT club_id::text AS c FROM ledger.orgs WHERE org = $1", 1, p, e);
    db_rollback(tx);
    if (!r) return -1;
    int ok = PQntuples(r) == 1 && db_val(r, 0, "c") &&
             strcmp(db_val(r, 0, "c"), c->caller->club_id) == 0;
    PQclear(r);
    return ok ? 0 : err_set(e, 403, "forbidden", "org", "you may not sign for %s", org);
}

int ledger_member_identity(db_pool_t *db, const char *org, uint8_t pk[32], err_t *e) {
    db_tx_t *tx = NULL;
    const char *p[] = {org};
    if (db_begin(db, &reader, &tx, e) != 0) return -1;
    PGresult *r = db_exec(tx,
                          "SELECT encode(i.public_key, 'hex') AS pk FROM ledger.identities i "
                          "WHERE i.org = $1 AND i.role = 'member' AND NOT EXISTS (SELECT 1 FROM "
                          "ledger.revocations v WHERE v.public_key = i.public_key) ORDER BY "
                          "i.public_key LIMIT 1",
                          1, p, e);
    db_rollback(tx);
    if (!r) return -1;
    int ok = PQntuples(r) == 1 && ledger_unhex(db_val(r, 0, "pk"), pk, 32) == 0;
    PQclear(r);
    return ok ? 0 : err_set(e, 404, "not_found", "creator", "no member identity for %s", org);
}

int ledger_h_endorse(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    const char *creator = NULL;
    json_t *sign_as = json_object_get(in, "sign_as");
    uint8_t sk[64], pk[32], id[32], *tx = NULL;
    size_t len = 0;
    if (req_str(in, "creator", &creator, e) != 0) return -1;
    if (sign_as && !json_is_array(sign_as))
        return err_type(e, "sign_as", "sign_as must be a list of orgs");
    if (json_array_size(sign_as) > LEDGER_MAX_ENDORSEMENTS)
        return err_invalid(e, "sign_as", "sign_as lists at most %d orgs", LEDGER_MAX_ENDORSEMENTS);
    if (ledger_may_act_for(c, creator, e) != 0) return -1;
    if (ledger_org_key(c->env->db, creator, "member", sk, pk, e) != 0) {
        /* a club holding its own keys: build with its member identity; it signs itself */
        if (e->status != 404 || ledger_member_identity(c->env->db, creator, pk, e) != 0) return -1;
        err_clear(e);
    }
    sodium_memzero(sk, sizeof sk);
    if (ledger_build_tx(in, pk, &tx, &len, id, e) != 0) return -1;
    json_t *ends = json_array();
    for (size_t i = 0; i < json_array_size(sign_as); i++) {
        json_t *s = json_array_get(sign_as, i);
        const char *org =
            json_is_string(s) ? json_string_value(s) : json_string_value(json_object_get(s, "org"));
        const char *role = json_is_object(s) ? json_string_value(json_object_get(s, "role")) : NULL;
        if (!role) role = "member";
        if (!org) {
            err_type(e, "sign_as", "entries are an org or {org, role}");
            goto fail;
        }
        if (strcmp(role, "member") != 0 && strcmp(role, "admin") != 0) {
            err_invalid(e, "sign_as", "role must be member or admin");
            goto fail;
        }
        if (ledger_may_act_for(c, org, e) != 0 ||
            ledger_org_key(c->env->db, org, role, sk, pk, e) != 0)
            goto fail;
        ledger_endorsement_t en;
        ledger_endorse(tx, len, sk, &en);
        sodium_memzero(sk, sizeof sk);
        json_array_append_new(ends, json_pack("{s:o,s:o}", "public_key", jhex(en.pk, 32),
                                              "signature", jb64(en.sig, 64)));
    }
    *out = json_pack("{s:o,s:o,s:o}", "tx_id", jhex(id, 32), "tx", jb64(tx, len), "endorsements",
                     ends);
    free(tx);
    return 0;
fail:
    json_decref(ends);
    free(tx);
    return -1;
}

int ledger_h_submit(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    int w;
    uint8_t *tx = NULL;
    size_t len = 0;
    json_t *ends = json_object_get(in, "endorsements");
    ledger_endorsement_t end[LEDGER_MAX_ENDORSEMENTS];
    if (wait_of(in, &w, e) != 0) return -1;
    if (!ends || json_is_null(ends)) return err_missing(e, "endorsements");
    if (!json_is_array(ends)) return err_type(e, "endorsements", "endorsements must be an array");
    if (json_array_size(ends) < 1 || json_array_size(ends) > LEDGER_MAX_ENDORSEMENTS)
        return err_invalid(e, "endorsements", "1..64 endorsements needed");
    for (size_t i = 0; i < json_array_size(ends); i++) {
        json_t *x = json_array_get(ends, i);
        uint8_t *sig = NULL;
        size_t sl = 0;
        const char *pk = json_string_value(json_object_get(x, "public_key"));
        if (!pk || ledger_unhex(pk, end[i].pk, 32) != 0 ||
            unb64(json_string_value(json_object_get(x, "signature")), &sig, &sl, 64) != 0 ||
            sl != 64) {
            free(sig);
            return err_invalid(
                e, "endorsements",
                "each endorsement: public_key (hex) and signature (base64, 64 bytes)");
        }
        memcpy(end[i].sig, sig, 64);
        free(sig);
    }
    const char *txs = NULL;
    if (req_str(in, "tx", &txs, e) != 0) return -1;
    if (unb64(txs, &tx, &len, TXCODEC_MAX_ENCODED) != 0)
        return err_invalid(e, "tx", "tx must be base64");
    if (ledger_bootstrap(c->env->db, c->env->bus, e) != 0) {
        free(tx);
        return -1;
    }
    int rc = ledger_submit(c->env->db, c->env->bus, tx, len, end, json_array_size(ends), w, out, e);
    free(tx);
    return rc;
}

int ledger_h_status(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    int w;
    uint8_t id[32];
    if (parse_id(in, "tx_id", id, e) != 0 || wait_of(in, &w, e) != 0) return -1;
    return ledger_tx_status(c->env->db, c->env->bus, id, w, out, e);
}

int ledger_h_get_tx(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    uint8_t id[32];
    if (parse_id(in, "tx_id", id, e) != 0) return -1;
    if (ledger_tx_status(c->env->db, NULL, id, 0, out, e) != 0) return -1;
    if (strcmp(json_string_value(json_object_get(*out, "status")), "committed") != 0) {
        json_decref(*out);
        *out = NULL;
        return err_set(e, 404, "not_found", "tx_id", "no committed transaction with this id");
    }
    db_tx_t *tx = NULL;
    json_t *cp = NULL;
    char li[32];
    snprintf(li, sizeof li, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(*out, "log_index")));
    const char *p[] = {li};
    if (db_begin(c->env->db, &reader, &tx, e) != 0) goto fail;
    PGresult *r = db_exec(tx,
                          "SELECT encode(envelope, 'hex') AS env, encode(leaf_hash, 'hex') AS "
                          "leaf FROM ledger.txs WHERE log_index = $1",
                          1, p, e);
    if (!r) goto fail;
    size_t el = strlen(db_val(r, 0, "env")) / 2;
    uint8_t *env = malloc(el ? el : 1);
    if (env && ledger_unhex(db_val(r, 0, "env"), env, el) == 0)
        json_object_set_new(*out, "envelope", jb64(env, el));
    free(env);
    json_object_set_new(*out, "leaf_hash", json_string(db_val(r, 0, "leaf")));
    PQclear(r);
    if (ledger_latest_checkpoint(tx, &cp, e) != 0) goto fail;
    uint64_t size = (uint64_t)json_integer_value(json_object_get(cp, "size"));
    uint64_t idx = strtoull(li, NULL, 10);
    merkle_hash_t proof[MERKLE_MAX_PROOF];
    size_t pl = 0;
    if (ledger_tree_inclusion(tx, idx, size, proof, &pl, e) != 0) goto fail;
    json_t *pj = json_array();
    for (size_t i = 0; i < pl; i++)
        json_array_append_new(pj, jhex(proof[i], 32));
    json_object_set_new(*out, "inclusion_proof",
                        json_pack("{s:I,s:I,s:o,s:O}", "log_index", (json_int_t)idx, "tree_size",
                                  (json_int_t)size, "hashes", pj, "checkpoint",
                                  json_object_get(cp, "note")));
    db_rollback(tx);
    json_decref(cp);
    return 0;
fail:
    db_rollback(tx);
    json_decref(cp);
    json_decref(*out);
    *out = NULL;
    return -1;
}

int ledger_h_get_block(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    uint64_t n;
    if (in_u64(in, "number", 0, INT64_MAX, &n, e) != 0) return -1;
    char ns[32];
    snprintf(ns, sizeof ns, "%" PRIu64, n);
    const char *p[] = {ns};
    db_tx_t *tx = NULL;
    if (db_begin(c->env->db, &reader, &tx, e) != 0) return -1;
    PGresult *r = db_exec(tx,
                          "SELECT encode(prev_hash, 'hex') AS prev_hash, encode(data_root, 'hex') "
                          "AS data_root, encode(validation_root, 'hex') AS validation_root, "
                          "encode(writeset_hash, 'hex') AS writeset_hash, timestamp_ms, tx_count, "
                          "first_log_index, encode(header_hash, 'hex') AS header_hash FROM "
                          "ledger.blocks WHERE number = $1",
                          1, p, e);
    PGresult *t = r ? db_exec(tx,
                              "SELECT position, encode(tx_id, 'hex') AS id, type, creator_org, "
                              "validation_code FROM ledger.txs WHERE block_number = $1 ORDER BY "
                              "position",
                              1, p, e)
                    : NULL;
    db_rollback(tx);
    if (!r || !t) {
        PQclear(r);
        return -1;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        PQclear(t);
        return err_set(e, 404, "not_found", "number", "no block %s", ns);
    }
    json_t *txs = json_array();
    for (int i = 0; i < PQntuples(t); i++)
        json_array_append_new(
            txs, json_pack("{s:i,s:s,s:s,s:s,s:s}", "position", atoi(db_val(t, i, "position")),
                           "tx_id", db_val(t, i, "id"), "type", db_val(t, i, "type"), "creator",
                           db_val(t, i, "creator_org"), "validation_code",
                           ledger_code_name(atoi(db_val(t, i, "validation_code")))));
    *out = json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:i,s:I,s:s,s:o}", "number", (json_int_t)n,
                     "prev_hash", db_val(r, 0, "prev_hash"), "data_root", db_val(r, 0, "data_root"),
                     "validation_root", db_val(r, 0, "validation_root"), "writeset_hash",
                     db_val(r, 0, "writeset_hash"), "timestamp_ms",
                     (json_int_t)strtoll(db_val(r, 0, "timestamp_ms"), NULL, 10), "tx_count",
                     atoi(db_val(r, 0, "tx_count")), "first_log_index",
                     (json_int_t)strtoll(db_val(r, 0, "first_log_index"), NULL, 10), "header_hash",
                     db_val(r, 0, "header_hash"), "txs", txs);
    PQclear(r);
    PQclear(t);
    int final = 0, cos = 0;
    err_t fe = {0};
    if (*out && ledger_block_final(c->env->db, n, &final, &cos, &fe) == 0) {
        json_object_set_new(*out, "final", json_boolean(final));
        json_object_set_new(*out, "cosigners", json_integer(cos));
    }
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
}

int ledger_h_checkpoint(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    (void)in;
    db_tx_t *tx = NULL;
    if (db_begin(c->env->db, &reader, &tx, e) != 0) return -1;
    int rc = ledger_latest_checkpoint(tx, out, e);
    db_rollback(tx);
    return rc;
}

int ledger_h_consistency(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    uint64_t a, b;
    if (req_u64(in, "first", INT64_MAX, &a, e) != 0 || req_u64(in, "second", INT64_MAX, &b, e) != 0)
        return -1;
    merkle_hash_t proof[MERKLE_MAX_PROOF];
    size_t pl = 0;
    db_tx_t *tx = NULL;
    if (db_begin(c->env->db, &reader, &tx, e) != 0) return -1;
    int rc = ledger_tree_consistency(tx, a, b, proof, &pl, e);
    db_rollback(tx);
    if (rc != 0) return -1;
    json_t *pj = json_array();
    for (size_t i = 0; i < pl; i++)
        json_array_append_new(pj, jhex(proof[i], 32));
    *out =
        json_pack("{s:I,s:I,s:o}", "first", (json_int_t)a, "second", (json_int_t)b, "hashes", pj);
    return 0;
}

int ledger_h_inclusion(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    uint64_t idx, size;
    if (req_u64(in, "index", INT64_MAX, &idx, e) != 0 ||
        req_u64(in, "size", INT64_MAX, &size, e) != 0)
        return -1;
    merkle_hash_t proof[MERKLE_MAX_PROOF];
    size_t pl = 0;
    db_tx_t *tx = NULL;
    if (db_begin(c->env->db, &reader, &tx, e) != 0) return -1;
    int rc = ledger_tree_inclusion(tx, idx, size, proof, &pl, e);
    db_rollback(tx);
    if (rc != 0) return -1;
    json_t *pj = json_array();
    for (size_t i = 0; i < pl; i++)
        json_array_append_new(pj, jhex(proof[i], 32));
    *out = json_pack("{s:I,s:I,s:o}", "index", (json_int_t)idx, "size", (json_int_t)size, "hashes",
                     pj);
    return 0;
}

int ledger_h_evaluate(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    const char *key = NULL;
    if (req_str(in, "key", &key, e) != 0) return -1;
    if (!*key || strlen(key) > TXCODEC_MAX_KEY)
        return err_invalid(e, "key", "key must be 1..256 bytes");
    const char *p[] = {key};
    db_tx_t *tx = NULL;
    if (db_begin(c->env->db, &reader, &tx, e) != 0) return -1;
    PGresult *r = db_exec(tx,
                          "SELECT convert_from(value, 'UTF8') AS v, block, position, version FROM "
                          "ledger.state WHERE key = convert_to($1, 'UTF8')",
                          1, p, e);
    db_rollback(tx);
    if (!r) return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        *out = json_pack("{s:s,s:n,s:i}", "key", key, "value", "version", 0);
        return 0;
    }
    *out = json_pack("{s:s,s:s,s:I,s:I,s:i}", "key", key, "value", db_val(r, 0, "v"), "version",
                     (json_int_t)strtoll(db_val(r, 0, "version"), NULL, 10), "block",
                     (json_int_t)strtoll(db_val(r, 0, "block"), NULL, 10), "position",
                     atoi(db_val(r, 0, "position")));
    PQclear(r);
    return 0;
}

int ledger_h_cosign(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    const char *org = NULL;
    json_t *note = json_object_get(in, "note");
    if (req_str(in, "org", &org, e) != 0) return -1;
    if (note && !json_is_string(note)) return err_type(e, "note", "note must be a string");
    if (ledger_may_act_for(c, org, e) != 0) return -1;
    return ledger_cosign(c->env->db, org, json_string_value(note), out, e);
}

int ledger_h_export(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    (void)in;
    return ledger_export(c->env->db, out, e);
}

/* ---- events: committed blocks and transactions from a position -------------------------- */

#define EVENTS_MAX_TXS 2000

int ledger_events(db_pool_t *db, bus_t *b, uint64_t from_block, uint32_t from_pos, uint64_t limit,
                  int wait_ms, json_t **out, err_t *e) {
    char fb[32], lb[32], fp[16], lim[16];
    snprintf(fb, sizeof fb, "%" PRIu64, from_block);
    snprintf(lb, sizeof lb, "%" PRIu64, from_block + limit);
    snprintf(fp, sizeof fp, "%" PRIu32, from_pos);
    snprintf(lim, sizeof lim, "%d", EVENTS_MAX_TXS + 1);
    const char *p[] = {fb, lb, fp, lim};
    int64_t deadline = mono_ms() + wait_ms;
    uint64_t gen = ledger_commit_gen();
    *out = NULL;
    for (;;) {
        db_tx_t *tx = NULL;
        if (db_begin(db, &reader, &tx, e) != 0) return -1;
        PGresult *r = db_exec(tx,
                              "SELECT b.number, encode(b.header_hash, 'hex') AS hh, "
                              "b.timestamp_ms, b.tx_count, t.position, encode(t.tx_id, 'hex') AS "
                              "id, t.type, t.creator_org, t.validation_code, t.log_index FROM "
                              "ledger.blocks b JOIN ledger.txs t ON t.block_number = b.number "
                              "WHERE b.number >= $1::bigint AND b.number < $2::bigint AND "
                              "(b.number > $1::bigint OR t.position >= $3::int) ORDER BY "
                              "b.number, t.position LIMIT $4::int",
                              4, p, e);
        PGresult *h = r ? db_exec(tx, "SELECT height FROM ledger.head", 0, NULL, e) : NULL;
        db_rollback(tx);
        if (!r || !h) {
            PQclear(r);
            return -1;
        }
        int64_t height = PQntuples(h) == 1 ? strtoll(db_val(h, 0, "height"), NULL, 10) : -1;
        PQclear(h);
        int rows = PQntuples(r);
        int64_t left = deadline - mono_ms();
        if (rows == 0 && left > 0 && b) {
            PQclear(r);
            if (ledger_runner_active()) {
                ledger_wait_commit(gen, left < 50 ? (int)left : 50);
                gen = ledger_commit_gen();
            } else if (ledger_pump(db, b, e) != 0) {
                return -1;
            }
            continue;
        }
        /* more rows than the cap: end at the last complete block, or inside the first one */
        int keep = rows;
        if (rows > EVENTS_MAX_TXS) {
            keep = EVENTS_MAX_TXS;
            const char *last = db_val(r, keep, "number");
            int k = keep;
            while (k > 0 && strcmp(db_val(r, k - 1, "number"), last) == 0)
                k--;
            if (k > 0) keep = k;
        }
        json_t *blocks = json_array(), *cur = NULL, *txs = NULL;
        uint64_t next_block = from_block, cur_no = 0;
        uint32_t next_pos = from_pos;
        for (int i = 0; i < keep; i++) {
            uint64_t no = strtoull(db_val(r, i, "number"), NULL, 10);
            if (!cur || no != cur_no) {
                txs = json_array();
                cur = json_pack("{s:I,s:s,s:I,s:i,s:o}", "block_number", (json_int_t)no,
                                "header_hash", db_val(r, i, "hh"), "timestamp_ms",
                                (json_int_t)strtoll(db_val(r, i, "timestamp_ms"), NULL, 10),
                                "tx_count", atoi(db_val(r, i, "tx_count")), "txs", txs);
                json_array_append_new(blocks, cur);
                cur_no = no;
            }
            uint32_t pos = (uint32_t)atoi(db_val(r, i, "position"));
            json_array_append_new(
                txs, json_pack("{s:i,s:s,s:s,s:s,s:s,s:I}", "position", (int)pos, "tx_id",
                               db_val(r, i, "id"), "type", db_val(r, i, "type"), "creator",
                               db_val(r, i, "creator_org"), "validation_code",
                               ledger_code_name(atoi(db_val(r, i, "validation_code"))), "log_index",
                               (json_int_t)strtoll(db_val(r, i, "log_index"), NULL, 10)));
            int block_done = pos + 1 >= (uint32_t)atoi(db_val(r, i, "tx_count"));
            next_block = block_done ? no + 1 : no;
            next_pos = block_done ? 0 : pos + 1;
        }
        PQclear(r);
        *out = json_pack("{s:o,s:{s:I,s:i},s:I}", "blocks", blocks, "next", "from_block",
                         (json_int_t)next_block, "from_position", (int)next_pos, "height",
                         (json_int_t)height);
        return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
    }
}

int ledger_h_events(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    uint64_t fb, fp, lim, w;
    if (in_u64(in, "from_block", 0, INT64_MAX / 2, &fb, e) != 0 ||
        in_u64(in, "from_position", 0, LEDGER_MAX_BLOCK_TXS, &fp, e) != 0 ||
        in_u64(in, "limit", 10, 100, &lim, e) != 0 || in_u64(in, "wait_ms", 0, WAIT_MAX_MS, &w, e))
        return -1;
    if (lim == 0) return err_invalid(e, "limit", "limit must be 1..100");
    return ledger_events(c->env->db, c->env->bus, fb, (uint32_t)fp, lim, (int)w, out, e);
}
