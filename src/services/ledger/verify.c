/* verify: see verify.h. */
#include "services/ledger/verify.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "services/ledger/engine.h"

static int hexfield(json_t *o, const char *name, uint8_t out[32]) {
    return ledger_unhex(json_string_value(json_object_get(o, name)), out, 32);
}

int ledger_verify_export(json_t *ex, const char *log_key_hex, ledger_verify_report_t *rep,
                         err_t *e) {
    memset(rep, 0, sizeof *rep);
    const char *fmt = json_string_value(json_object_get(ex, "format"));
    const char *origin = json_string_value(json_object_get(ex, "origin"));
    json_t *blocks = json_object_get(ex, "blocks"), *cps = json_object_get(ex, "checkpoints");
    uint8_t lpk[32];
    if (!fmt || strcmp(fmt, "reciprocal-ledger-export/v1") != 0 || !origin ||
        !json_is_array(blocks) || !json_is_array(cps))
        return err_set(e, 422, "invalid_export", "format", "not a reciprocal-ledger-export/v1");
    if (ledger_unhex(log_key_hex ? log_key_hex
                                 : json_string_value(json_object_get(ex, "log_public_key")),
                     lpk, 32) != 0)
        return err_set(e, 422, "invalid_export", "log_public_key", "bad log public key");
    if (sodium_init() < 0) return err_set(e, 500, "internal", "", "libsodium");

    ledger_config_t cfg = {0};
    /* the config in force after each block that changed it (end = log size after the block),
     * for the witness keys of each checkpoint */
    struct snap {
        uint64_t end;
        ledger_config_t cfg;
    } *snaps = NULL;
    size_t n_snaps = 0;
    kvmap_t *versions = kvmap_new(), *seen = kvmap_new();
    merkle_hash_t *leaves = NULL;
    size_t n_leaves = 0, cap = 0;
    uint8_t prev[32] = {0};
    int rc = -1;
    checkpoint_verifier_t *vs = NULL;
    int *verified = NULL;
    if (!versions || !seen) {
        err_set(e, 500, "internal", "", "out of memory");
        goto out;
    }
    for (size_t bi = 0; bi < json_array_size(blocks); bi++) {
        json_t *b = json_array_get(blocks, bi);
        json_t *txs = json_object_get(b, "txs");
        uint64_t number = (uint64_t)json_integer_value(json_object_get(b, "number"));
        size_t n = json_array_size(txs);
        if (number != bi) {
            err_set(e, 422, "invalid_chain", "number", "block %zu: number is %" PRIu64, bi, number);
            goto out;
        }
        if (n == 0 || (json_int_t)n != json_integer_value(json_object_get(b, "tx_count"))) {
            err_set(e, 422, "invalid_chain", "tx_count", "block %" PRIu64 ": tx_count", number);
            goto out;
        }
        uint8_t **env = calloc(n, sizeof *env);
        size_t *lens = calloc(n, sizeof *lens);
        int bad = !env || !lens;
        for (size_t i = 0; !bad && i < n; i++) {
            const char *s = json_string_value(json_object_get(json_array_get(txs, i), "envelope"));
            size_t sl = s ? strlen(s) : 0;
            env[i] = malloc(sl + 1);
            if (!s || !env[i] ||
                sodium_base642bin(env[i], sl + 1, s, sl, NULL, &lens[i], NULL,
                                  sodium_base64_VARIANT_ORIGINAL) != 0) {
                err_set(e, 422, "invalid_chain", "envelope",
                        "block %" PRIu64 " tx %zu: envelope is not base64", number, i);
                bad = 1;
            }
        }
        ledger_block_msg_t m = {.number = number,
                                .timestamp_ms =
                                    (int64_t)json_integer_value(json_object_get(b, "timestamp_ms")),
                                .n = n,
                                .env = (const uint8_t **)env,
                                .env_len = lens};
        ledger_block_result_t res = {0};
        if (!bad && ledger_validate_block(&m, prev, n_leaves, &cfg, versions, seen, &res, e) != 0)
            bad = 1;
        for (size_t i = 0; !bad && i < n; i++) {
            const char *code =
                json_string_value(json_object_get(json_array_get(txs, i), "validation_code"));
            if (!code || strcmp(code, ledger_code_name(res.tx[i].code)) != 0) {
                char id[65];
                ledger_hex(res.tx[i].tx_id, 32, id);
                err_set(e, 422, "invalid_chain", "validation_code",
                        "block %" PRIu64 " tx %zu (%s): recorded %s, replay gives %s", number, i,
                        id, code ? code : "?", ledger_code_name(res.tx[i].code));
                bad = 1;
            }
            if (res.tx[i].code == LEDGER_VALID) rep->valid_txs++;
        }
        struct {
            const char *name;
            const uint8_t *want;
        } fields[] = {{"prev_hash", res.hdr.prev_hash},
                      {"data_root", res.hdr.data_root},
                      {"validation_root", res.hdr.validation_root},
                      {"writeset_hash", res.hdr.writeset_hash},
                      {"header_hash", res.header_hash}};
        for (size_t f = 0; !bad && f < sizeof fields / sizeof fields[0]; f++) {
            uint8_t got[32];
            if (hexfield(b, fields[f].name, got) != 0 || memcmp(got, fields[f].want, 32) != 0) {
                err_set(e, 422, "invalid_chain", fields[f].name,
                        "block %" PRIu64 ": %s does not match the replay", number, fields[f].name);
                bad = 1;
            }
        }
        if (!bad &&
            json_integer_value(json_object_get(b, "first_log_index")) != (json_int_t)n_leaves) {
            err_set(e, 422, "invalid_chain", "first_log_index",
                    "block %" PRIu64 ": first_log_index", number);
            bad = 1;
        }
        if (!bad) {
            if (n_leaves + n > cap) {
                size_t nc = (n_leaves + n) * 2;
                merkle_hash_t *p = realloc(leaves, nc * sizeof *p);
                if (!p) {
                    err_set(e, 500, "internal", "", "out of memory");
                    bad = 1;
                } else {
                    leaves = p;
                    cap = nc;
                }
            }
            for (size_t i = 0; !bad && i < n; i++)
                memcpy(leaves[n_leaves++], res.tx[i].leaf, 32);
            if (!bad && res.config_changed) {
                struct snap *p = realloc(snaps, (n_snaps + 1) * sizeof *p);
                if (!p || ledger_config_clone(&cfg, &p[n_snaps].cfg) != 0) {
                    if (p) snaps = p;
                    err_set(e, 500, "internal", "", "out of memory");
                    bad = 1;
                } else {
                    snaps = p;
                    snaps[n_snaps++].end = n_leaves;
                }
            }
            memcpy(prev, res.header_hash, 32);
            rep->blocks++;
            rep->txs += n;
        }
        ledger_block_result_free(&res);
        for (size_t i = 0; env && i < n; i++)
            free(env[i]);
        free(env);
        free(lens);
        if (bad) goto out;
    }

    /* checkpoints */
    size_t nv = 0, maxv = CHECKPOINT_MAX_SIGS;
    vs = calloc(maxv, sizeof *vs);
    verified = calloc(maxv, sizeof *verified);
    if (!vs || !verified) {
        err_set(e, 500, "internal", "", "out of memory");
        goto out;
    }
    if (checkpoint_verifier_init(&vs[nv++], origin, lpk, e) != 0) goto out;
    uint64_t last_size = 0;
    uint8_t last_root[32];
    for (size_t ci = 0; ci < json_array_size(cps); ci++) {
        const char *note = json_string_value(json_array_get(cps, ci));
        checkpoint_note_t cn;
        size_t nver = 0;
        memset(verified, 0, maxv * sizeof *verified);
        int opened = note && checkpoint_parse(note, strlen(note), &cn, e) == 0;
        if (opened) {
            /* witnesses: the admin identities (not the network operator's) of the config in
             * force at this checkpoint's size, not of the final config */
            const ledger_config_t *at = NULL;
            for (size_t s = 0; s < n_snaps && snaps[s].end <= cn.cp.size; s++)
                at = &snaps[s].cfg;
            nv = 1;
            for (size_t i = 0; at && i < at->n_ids && nv < maxv; i++)
                if (at->ids[i].role == POLICY_ROLE_ADMIN &&
                    strcmp(at->ids[i].org, LEDGER_NETWORK_ORG) != 0 &&
                    !ledger_config_is_revoked(at, at->ids[i].pk))
                    if (checkpoint_verifier_init(&vs[nv], at->ids[i].org, at->ids[i].pk, e) == 0)
                        nv++;
            err_clear(e);
            if (checkpoint_verify(&cn, vs, nv, verified, &nver, e) != 0) {
                checkpoint_note_free(&cn);
                opened = 0;
            }
        }
        if (!opened) {
            char msg[sizeof e->message];
            memcpy(msg, e->message, sizeof msg);
            err_set(e, 422, "invalid_chain", "checkpoint", "checkpoint %zu: %.300s", ci, msg);
            goto out;
        }
        int ok = verified[0] && strcmp(cn.cp.origin, origin) == 0 && cn.cp.size <= n_leaves &&
                 cn.cp.size > 0;
        uint8_t root[32];
        if (ok)
            ok = merkle_root((const merkle_hash_t *)leaves, cn.cp.size, root, e) == 0 &&
                 memcmp(root, cn.cp.root, 32) == 0;
        if (ok && last_size > 0) {
            merkle_hash_t proof[MERKLE_MAX_PROOF];
            size_t pl = 0;
            ok = cn.cp.size > last_size &&
                 merkle_consistency_proof((const merkle_hash_t *)leaves, cn.cp.size, last_size,
                                          proof, MERKLE_MAX_PROOF, &pl, e) == 0 &&
                 merkle_verify_consistency(last_size, cn.cp.size, last_root, cn.cp.root,
                                           (const merkle_hash_t *)proof, pl, e) == 0;
        }
        uint64_t sz = cn.cp.size;
        if (ok) {
            last_size = sz;
            memcpy(last_root, cn.cp.root, 32);
        }
        checkpoint_note_free(&cn);
        if (!ok) {
            err_set(e, 422, "invalid_chain", "checkpoint",
                    "checkpoint %zu (size %" PRIu64 "): not signed by the log or inconsistent "
                    "with the replayed log",
                    ci, sz);
            goto out;
        }
        rep->checkpoints++;
        rep->cosignatures += nver - 1;
    }
    rc = 0;
out:
    free(vs);
    free(verified);
    for (size_t s = 0; s < n_snaps; s++)
        ledger_config_free(&snaps[s].cfg);
    free(snaps);
    ledger_config_free(&cfg);
    kvmap_free(versions);
    kvmap_free(seen);
    free(leaves);
    return rc;
}
