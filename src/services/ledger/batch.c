/* batch: see batch.h. */
#include "services/ledger/batch.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "services/ledger/api.h"
#include "services/ledger/keys.h"
#include "services/ledger/orderer.h"
#include "services/ledger/validate.h"

static const db_scope_t writer = {0}; /* with db_begin_ledger_writer */

/* One item on its way: its transaction, endorsements and envelope, or why it stopped. */
typedef struct item {
    json_t *spec; /* borrowed from the input */
    uint8_t *tx, *env;
    size_t len, env_len, n_end;
    uint8_t id[32];
    int has_id, failed;
    err_t err;
    ledger_endorsement_t end[LEDGER_MAX_ENDORSEMENTS];
} item_t;

int ledger_v_submit_batch(json_t *in, err_t *e) {
    static const char *const keys[] = {"items", NULL};
    if (!json_is_object(in)) return err_type(e, "", "the body must be a JSON object");
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    json_t *items = json_object_get(in, "items"), *x;
    if (!items || json_is_null(items)) return err_missing(e, "items");
    if (!json_is_array(items)) return err_type(e, "items", "items must be an array");
    if (json_array_size(items) < 1 || json_array_size(items) > LEDGER_BATCH_MAX)
        return err_invalid(e, "items", "1..%d items", LEDGER_BATCH_MAX);
    size_t i;
    json_array_foreach(items, i, x) {
        if (!json_is_object(x))
            return err_type(e, "items", "items[%zu]: an endorse spec or {tx, endorsements}", i);
        int rc = json_object_get(x, "tx") ? ledger_v_submit(x, e) : ledger_v_endorse(x, e);
        if (rc != 0) {
            char f[sizeof e->field];
            snprintf(f, sizeof f, "items[%zu]%s%.60s", i % 1000, e->field[0] ? "." : "", e->field);
            snprintf(e->field, sizeof e->field, "%s", f);
            return -1;
        }
    }
    return 0;
}

static void fail(item_t *it, const err_t *e) {
    it->failed = 1;
    it->err = *e;
}

/* base64 (standard) s into out (at most max bytes): 0 + *len, or -1. */
static int unb64(const char *s, uint8_t *out, size_t max, size_t *len) {
    return s && sodium_base642bin(out, max, s, strlen(s), NULL, len, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) == 0
               ? 0
               : -1;
}

/* The "<org>/<role>" names every spec item needs (its creator's member key, its sign_as keys),
 * each once; the caller may act for each org (else the item fails, 403). *n = names used. */
static int key_names(const svc_call_t *c, item_t *items, size_t n_items, ledger_loaded_key_t *keys,
                     size_t cap, size_t *n) {
    *n = 0;
    for (size_t i = 0; i < n_items; i++) {
        item_t *it = &items[i];
        if (json_object_get(it->spec, "tx")) continue;
        json_t *sign_as = json_object_get(it->spec, "sign_as");
        for (size_t k = 0; !it->failed && k <= json_array_size(sign_as); k++) {
            json_t *s = k == 0 ? NULL : json_array_get(sign_as, k - 1);
            const char *org = k == 0 ? json_string_value(json_object_get(it->spec, "creator"))
                              : json_is_string(s) ? json_string_value(s)
                                                  : json_string_value(json_object_get(s, "org"));
            const char *role = json_string_value(json_object_get(s, "role"));
            char name[96];
            err_t e = {0};
            snprintf(name, sizeof name, "%s/%s", org, role ? role : "member");
            if (ledger_may_act_for(c, org, &e) != 0) {
                fail(it, &e);
                break;
            }
            size_t j = 0;
            while (j < *n && strcmp(keys[j].name, name) != 0)
                j++;
            if (j < *n) continue;
            if (*n == cap) return -1;
            snprintf(keys[(*n)++].name, sizeof keys[0].name, "%s", name);
        }
    }
    return 0;
}

static const ledger_loaded_key_t *key_of(const ledger_loaded_key_t *keys, size_t n, const char *org,
                                         const char *role) {
    char name[96];
    snprintf(name, sizeof name, "%s/%s", org, role);
    for (size_t i = 0; i < n; i++)
        if (keys[i].found && strcmp(keys[i].name, name) == 0) return &keys[i];
    return NULL;
}

/* A spec item built and endorsed with the loaded keys (as ledger_h_endorse does one by one). */
static void endorse_item(const svc_call_t *c, item_t *it, const ledger_loaded_key_t *keys,
                         size_t n_keys) {
    err_t e = {0};
    const char *creator = json_string_value(json_object_get(it->spec, "creator"));
    const ledger_loaded_key_t *k = key_of(keys, n_keys, creator, "member");
    uint8_t pk[32];
    if (k)
        memcpy(pk, k->pk, 32);
    else if (ledger_member_identity(c->env->db, creator, pk, &e) != 0) /* the club signs */
        return fail(it, &e);
    if (ledger_build_tx(it->spec, pk, &it->tx, &it->len, it->id, &e) != 0) return fail(it, &e);
    it->has_id = 1;
    json_t *sign_as = json_object_get(it->spec, "sign_as");
    for (size_t i = 0; i < json_array_size(sign_as); i++) {
        json_t *s = json_array_get(sign_as, i);
        const char *org =
            json_is_string(s) ? json_string_value(s) : json_string_value(json_object_get(s, "org"));
        const char *role = json_string_value(json_object_get(s, "role"));
        if (!role) role = "member";
        if (!(k = key_of(keys, n_keys, org, role))) {
            err_set(&e, 404, "not_found", "org", "no key %s/%s", org, role);
            return fail(it, &e);
        }
        ledger_endorse(it->tx, it->len, k->sk, &it->end[it->n_end++]);
    }
}

/* An endorsed item decoded, its id taken from the transaction and its endorsements checked (as
 * ledger_submit does). */
static void signed_item(item_t *it) {
    err_t e = {0};
    json_t *ends = json_object_get(it->spec, "endorsements"), *x;
    const char *txs = json_string_value(json_object_get(it->spec, "tx"));
    size_t cap = strlen(txs) / 4 * 3 + 3, i, sl = 0;
    if (!(it->tx = malloc(cap))) {
        err_set(&e, 500, "internal", "", "out of memory");
        return fail(it, &e);
    }
    if (unb64(txs, it->tx, cap, &it->len) != 0) {
        err_invalid(&e, "tx", "tx must be base64");
        return fail(it, &e);
    }
    json_array_foreach(ends, i, x) {
        uint8_t sig[66];
        if (ledger_unhex(json_string_value(json_object_get(x, "public_key")), it->end[i].pk, 32) !=
                0 ||
            unb64(json_string_value(json_object_get(x, "signature")), sig, sizeof sig, &sl) != 0 ||
            sl != 64) {
            err_invalid(&e, "endorsements",
                        "each endorsement: public_key (hex) and signature (base64, 64 bytes)");
            return fail(it, &e);
        }
        memcpy(it->end[i].sig, sig, 64);
    }
    it->n_end = json_array_size(ends);
    txcodec_tx_t t;
    if (txcodec_decode(it->tx, it->len, &t, &e) != 0) {
        e.status = 422;
        snprintf(e.field, sizeof e.field, "tx");
        return fail(it, &e);
    }
    memcpy(it->id, t.tx_id, 32);
    it->has_id = 1;
    txcodec_tx_free(&t);
    for (i = 0; i < it->n_end; i++)
        if (!ledger_endorsement_ok(it->tx, it->len, &it->end[i])) {
            err_set(&e, 422, "invalid_signature", "endorsements", "endorsement %zu does not verify",
                    i);
            return fail(it, &e);
        }
}

/* The envelopes not failed, published in one flight; a failure ensures the streams again and
 * publishes what was not stored once more (JetStream drops copies by tx id). */
static int publish(bus_t *b, item_t *items, size_t n, err_t *e) {
    bus_batch_msg_t *msgs = calloc(n, sizeof *msgs);
    int *ok = calloc(n, sizeof *ok);
    size_t *of = calloc(n, sizeof *of);
    char(*ids)[65] = calloc(n, sizeof *ids);
    int rc = msgs && ok && of && ids ? 0 : err_set(e, 500, "internal", "", "out of memory");
    for (int attempt = 0; rc == 0 && attempt < 2; attempt++) {
        int m = 0;
        for (size_t i = 0; i < n; i++) {
            if (items[i].failed || items[i].env == NULL) continue;
            ledger_hex(items[i].id, 32, ids[m]);
            msgs[m] = (bus_batch_msg_t){LEDGER_TX_SUBJECT, ids[m], (const char *)items[i].env,
                                        items[i].env_len};
            of[m++] = i;
        }
        if (m == 0) break;
        err_t pe = {0};
        int prc = ledger_streams_ready(b, &pe);
        if (prc == 0) prc = bus_js_publish_batch(b, msgs, m, ok, &pe);
        for (int j = 0; j < m; j++)
            if (ok[j]) {
                free(items[of[j]].env); /* published: not again */
                items[of[j]].env = NULL;
            } else if (attempt == 1) {
                fail(&items[of[j]], &pe);
            }
        if (prc == 0) break;
        ledger_streams_unready(b);
    }
    free(msgs), free(ok), free(of), free(ids);
    return rc;
}

static json_t *result_of(const item_t *it) {
    char hx[65];
    if (it->has_id) ledger_hex(it->id, 32, hx);
    if (!it->failed) return json_pack("{s:s, s:s}", "tx_id", hx, "status", "pending");
    return json_pack("{s:s?, s:{s:i, s:s, s:s, s:s}}", "tx_id", it->has_id ? hx : NULL, "error",
                     "status", it->err.status, "code", it->err.code, "field", it->err.field,
                     "message", it->err.message);
}

int ledger_h_submit_batch(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    json_t *arr = json_object_get(in, "items");
    size_t n = json_array_size(arr), cap = n * (LEDGER_MAX_ENDORSEMENTS + 1), n_keys = 0;
    if (ledger_bootstrap(c->env->db, c->env->bus, e) != 0) return -1;
    item_t *items = calloc(n, sizeof *items);
    ledger_loaded_key_t *keys = calloc(cap, sizeof *keys);
    db_tx_t *tx = NULL;
    int rc = -1;
    if (!items || !keys) {
        err_set(e, 500, "internal", "", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        items[i].spec = json_array_get(arr, i);
    if (key_names(c, items, n, keys, cap, &n_keys) != 0) {
        err_set(e, 500, "internal", "", "too many keys");
        goto done;
    }
    if (n_keys > 0) { /* every key of the batch in one read */
        if (db_begin_ledger_writer(c->env->db, &writer, &tx, e) != 0) goto done;
        int krc = ledger_keys_load_many(tx, keys, n_keys, e);
        db_rollback(tx);
        if (krc != 0) goto done;
    }
    for (size_t i = 0; i < n; i++) {
        item_t *it = &items[i];
        if (!it->failed) {
            if (json_object_get(it->spec, "tx"))
                signed_item(it);
            else
                endorse_item(c, it, keys, n_keys);
        }
        err_t ee = {0};
        if (!it->failed && ledger_envelope_encode(it->tx, it->len, it->end, it->n_end, &it->env,
                                                  &it->env_len, &ee) != 0)
            fail(it, &ee);
    }
    ledger_keys_wipe(keys, n_keys);
    if (publish(c->env->bus, items, n, e) != 0) goto done;
    json_t *results = json_array();
    for (size_t i = 0; results && i < n; i++)
        json_array_append_new(results, result_of(&items[i]));
    *out = results ? json_pack("{s:o}", "results", results) : NULL;
    rc = *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
done:
    if (keys) ledger_keys_wipe(keys, n_keys);
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].tx);
        free(items[i].env);
    }
    free(items);
    free(keys);
    return rc;
}
