/* presigned: see presigned.h. */
#include "services/governance/presigned.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/rcache.h"
#include "lib/ledger/txcodec.h"
#include "services/governance/common.h"
#include "services/governance/records.h"

void gov_reason_sha256(const char *reason, char out[65]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)reason, strlen(reason));
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* ---- the clubs' signers, kept per process ----
 * club id -> "org public_key held" (the ledger's club_signer answer), asked once per club and
 * process instead of once per vote (~8 statements and a key unsealing each); dropped whole when
 * the ledger commits a configuration change (event ledger.config_changed: an organisation
 * registered or replaced, a key revoked), by every process (gov_signers_follow), and after the
 * cache's TTL. Only answers naming a signer are kept: a club that is no organisation yet is
 * asked again each time. */
static const char *const signer_events[] = {"events." GOV_LEDGER_CONFIG_EVENT, NULL};

static rcache_t *signer_cache(void) {
    static _Atomic(rcache_t *) c;
    rcache_t *v = atomic_load(&c);
    if (!v) atomic_store(&c, v = rcache_named("gov_signers"));
    return v;
}

static void on_config_event(rcache_t *c, const char *subject, const json_t *envelope) {
    (void)subject, (void)envelope;
    rcache_clear(c); /* any club's identities may have changed */
}

int gov_signers_follow(const svc_env_t *env, err_t *e) {
    rcache_t *c = signer_cache();
    if (!c) return err_set(e, 500, "internal", "", "out of memory");
    return rcache_follow(c, env->bus, signer_events, on_config_event, e);
}

/* A kept answer for club: 1 + org, pk, *held; 0 when none. */
static int signer_kept(rcache_t *c, const char *club, char org[72], char pk[72], int *held) {
    char *val = NULL, o[72], k[72];
    size_t len = 0;
    int h = 0;
    if (!c || !rcache_get(c, NULL, club, &val, &len)) return 0;
    int ok = sscanf(val, "%71s %71s %d", o, k, &h) == 3;
    free(val);
    if (!ok) return 0;
    snprintf(org, 72, "%s", o);
    snprintf(pk, 72, "%s", k);
    if (held) *held = h;
    return 1;
}

int gov_ledger_signer(const svc_call_t *call, const char *club, char org[72], char pk[72],
                      int *held, err_t *e) {
    rcache_t *c = signer_cache();
    if (signer_kept(c, club, org, pk, held)) return 0;
    uint64_t epoch = c ? rcache_epoch(c) : 0;
    svc_caller_t sys;
    gov_system_caller(call, &sys);
    json_t *in = json_pack("{s:s}", "id", club), *res = NULL;
    int status = 0;
    org[0] = pk[0] = 0;
    int rc = svc_call(call->env, "ledger", "club_signer", &sys, in, &status, &res, e);
    json_decref(in);
    if (rc != 0) {
        if (e->status == 404)
            err_set(e, 409, "not_on_ledger", "club_id",
                    "the club is not an organisation with a member identity on the ledger");
        return -1;
    }
    const char *o = json_string_value(json_object_get(res, "org"));
    const char *k = json_string_value(json_object_get(res, "public_key"));
    if (o && k && strlen(o) < 72 && strlen(k) < 72 && !strpbrk(o, " ") && !strpbrk(k, " ")) {
        snprintf(org, 72, "%s", o);
        snprintf(pk, 72, "%s", k);
    }
    int h = json_is_true(json_object_get(res, "held"));
    if (held) *held = h;
    json_decref(res);
    if (!org[0] || !pk[0])
        return err_set(e, 502, "ledger_error", "club_id", "the ledger answered no club signer");
    if (c) {
        char val[160];
        int n = snprintf(val, sizeof val, "%s %s %d", org, pk, h);
        rcache_put(c, NULL, club, NULL, val, (size_t)n, epoch);
    }
    return 0;
}

/* base64 (original variant) of b (n bytes): a new string, or NULL. */
static char *b64(const unsigned char *b, size_t n) {
    size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    if (s) sodium_bin2base64(s, cap, b, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

/* Decodes base64 s (at most max bytes): a new buffer + *n, or NULL. */
static unsigned char *unb64(const char *s, size_t max, size_t *n) {
    size_t len = s ? strlen(s) : 0;
    if (!s || len == 0 || len / 4 * 3 > max + 3) return NULL;
    unsigned char *b = malloc(len);
    if (b &&
        sodium_base642bin(b, len, s, len, NULL, n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(b);
        b = NULL;
    }
    return b;
}

/* prefix || tx: a new buffer of *n bytes, or NULL. */
static unsigned char *signed_bytes(const unsigned char *tx, size_t len, size_t *n) {
    size_t pl = strlen(GOV_ENDORSE_PREFIX);
    unsigned char *m = malloc(pl + len);
    if (!m) return NULL;
    memcpy(m, GOV_ENDORSE_PREFIX, pl);
    memcpy(m + pl, tx, len);
    *n = pl + len;
    return m;
}

int gov_prepare_tx(const svc_call_t *call, const char *id, const char *club, const char *choice,
                   int64_t cast_at_ms, const char *reason, json_t **out, err_t *e) {
    char org[72], pk[72], rs[65];
    if (gov_ledger_signer(call, club, org, pk, NULL, e) != 0) return -1;
    if (reason) gov_reason_sha256(reason, rs);
    json_t *spec = gov_record_vote(id, org, choice, cast_at_ms, reason ? rs : NULL), *end = NULL;
    if (!spec) return err_set(e, 500, "internal", "", "out of memory");
    json_object_set_new(spec, "sign_as", json_array()); /* the club signs */
    svc_caller_t sys;
    gov_system_caller(call, &sys);
    int status = 0;
    int rc = svc_call(call->env, "ledger", "endorse", &sys, spec, &status, &end, e);
    json_decref(spec);
    if (rc != 0) return -1;
    size_t len = 0, n = 0;
    unsigned char *tx =
        unb64(json_string_value(json_object_get(end, "tx")), TXCODEC_MAX_ENCODED, &len);
    unsigned char *m = tx ? signed_bytes(tx, len, &n) : NULL;
    char *sb = m ? b64(m, n) : NULL;
    if (sb)
        *out =
            json_pack("{s:O, s:O, s:s, s:{s:s, s:s, s:s}}", "tx_id", json_object_get(end, "tx_id"),
                      "tx", json_object_get(end, "tx"), "sign_bytes", sb, "signer", "org", org,
                      "role", "member", "public_key", pk);
    else
        err_set(e, 502, "ledger_error", "", "the ledger answered no transaction");
    free(tx), free(m), free(sb);
    json_decref(end);
    return sb ? 0 : -1;
}

static int not_the_record(err_t *e, const char *why) {
    return err_invalid(e, "tx",
                       "tx is not this club's governance.vote_cast record of the "
                       "proposal: %s",
                       why);
}

/* The decoded t against what records.c builds for (id, org, its payload): 0 + choice/ms, or -1. */
static int same_record(const txcodec_tx_t *t, const char *id, const char *org, const char *pk,
                       const char *reason, gov_signed_vote_t *v, err_t *e) {
    if (strcmp(t->type, "governance.vote_cast") != 0) return not_the_record(e, "type");
    char pkx[65];
    sodium_bin2hex(pkx, sizeof pkx, t->creator_pk, TXCODEC_PK_LEN);
    if (strcmp(t->creator_org, org) != 0 || strcmp(pkx, pk) != 0)
        return not_the_record(e, "another creator or key");
    json_t *p = json_loadb((const char *)t->payload, t->payload_len, 0, NULL);
    const char *choice = json_string_value(json_object_get(p, "choice"));
    json_t *ms = json_object_get(p, "cast_at_ms");
    const char *rsha = json_string_value(json_object_get(p, "reason_sha256"));
    int rc = -1;
    char want_rs[65];
    if (reason) gov_reason_sha256(reason, want_rs);
    json_t *spec = NULL;
    const char *prop = json_string_value(json_object_get(p, "proposal"));
    if (!choice || !json_is_integer(ms) || !prop || strcmp(prop, id) != 0) {
        not_the_record(e, "payload");
        goto done;
    }
    if ((reason == NULL) != (rsha == NULL) || (reason && strcmp(rsha, want_rs) != 0)) {
        err_invalid(e, "reason", "reason does not match the record's reason_sha256");
        goto done;
    }
    spec = gov_record_vote(id, org, choice, (int64_t)json_integer_value(ms), rsha);
    char *canon =
        spec ? json_dumps(json_object_get(spec, "payload"), JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    const char *nonce = json_string_value(json_object_get(spec, "nonce"));
    json_t *w = json_array_get(json_object_get(spec, "writes"), 0);
    const char *wk = json_string_value(json_object_get(w, "key"));
    const char *wv = json_string_value(json_object_get(w, "value"));
    int same = canon && nonce && wk && wv && strlen(canon) == t->payload_len &&
               memcmp(canon, t->payload, t->payload_len) == 0 && strlen(nonce) == t->nonce_len &&
               memcmp(nonce, t->nonce, t->nonce_len) == 0 && t->n_reads == 0 && t->n_writes == 1 &&
               !t->writes[0].is_delete && strlen(wk) == t->writes[0].key_len &&
               memcmp(wk, t->writes[0].key, t->writes[0].key_len) == 0 &&
               strlen(wv) == t->writes[0].value_len &&
               memcmp(wv, t->writes[0].value, t->writes[0].value_len) == 0;
    free(canon);
    if (!same) {
        not_the_record(e, "payload, nonce or writes differ from the record of its choice");
        goto done;
    }
    v->choice = strdup(choice);
    v->cast_at_ms = (int64_t)json_integer_value(ms);
    rc = v->choice ? 0 : err_set(e, 500, "internal", "", "out of memory");
done:
    json_decref(spec);
    json_decref(p);
    return rc;
}

int gov_signed_vote_check(const svc_call_t *call, const char *id, const char *club, json_t *in,
                          gov_signed_vote_t *v, err_t *e) {
    memset(v, 0, sizeof *v);
    const char *txs = json_string_value(json_object_get(in, "tx"));
    const char *sigs = json_string_value(json_object_get(in, "signature"));
    const char *reason = json_string_value(json_object_get(in, "reason"));
    char org[72], pk[72];
    size_t len = 0, sl = 0, n = 0;
    unsigned char *tx = unb64(txs, TXCODEC_MAX_ENCODED, &len), *sig = NULL, *m = NULL;
    unsigned char pkb[crypto_sign_PUBLICKEYBYTES];
    txcodec_tx_t t;
    int decoded = 0, rc = -1;
    if (!tx) {
        err_invalid(e, "tx", "tx must be the transaction (base64) prepare_vote answered");
        goto done;
    }
    if (!(sig = unb64(sigs, 64, &sl)) || sl != crypto_sign_BYTES) {
        err_invalid(e, "signature", "signature must be 64 bytes in base64");
        goto done;
    }
    err_t de = {0};
    if (txcodec_decode(tx, len, &t, &de) != 0) {
        err_invalid(e, "tx", "tx does not decode: %s", de.message);
        goto done;
    }
    decoded = 1;
    if (gov_ledger_signer(call, club, org, pk, NULL, e) != 0) goto done;
    if (same_record(&t, id, org, pk, reason, v, e) != 0) goto done;
    if (sodium_hex2bin(pkb, sizeof pkb, pk, strlen(pk), NULL, NULL, NULL) != 0 ||
        !(m = signed_bytes(tx, len, &n)) || crypto_sign_verify_detached(sig, m, n, pkb) != 0) {
        err_set(e, 422, "invalid_signature", "signature",
                "signature does not verify under the club's member identity on the ledger");
        goto done;
    }
    v->tx = strdup(txs);
    v->endorsements = json_pack("[{s:s, s:s}]", "public_key", pk, "signature", sigs);
    rc = v->tx && v->endorsements ? 0 : err_set(e, 500, "internal", "", "out of memory");
done:
    if (decoded) txcodec_tx_free(&t);
    free(tx), free(sig), free(m);
    if (rc != 0) gov_signed_vote_free(v);
    return rc;
}

void gov_signed_vote_free(gov_signed_vote_t *v) {
    free(v->choice);
    free(v->tx);
    json_decref(v->endorsements);
    memset(v, 0, sizeof *v);
}
