/* ledger_chain: see ledger_chain.h. */
#include "support/ledger_chain.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "services/ledger/api.h"
#include "services/ledger/export.h"
#include "services/ledger/settings.h"
#include "services/ledger/verify.h"

static json_t *jhex(const uint8_t *d) {
    char hx[65];
    ledger_hex(d, 32, hx);
    return json_string(hx);
}

int ledger_chain_open(ledger_chain_t *c, const char *path, const char *v1_path,
                      const uint8_t log_pk[32], const uint8_t log_sk[64], int64_t t0_ms,
                      int64_t step_ms, err_t *e) {
    char hx[65];
    *c = (ledger_chain_t){.versions = ledger_kvmap_new(),
                          .seen = ledger_kvmap_new(),
                          .t0_ms = t0_ms,
                          .step_ms = step_ms};
    merkle_range_init(&c->range);
    ledger_hex(log_pk, 32, hx);
    c->f = fopen(path, "w");
    if (v1_path) {
        c->v1 = fopen(v1_path, "w");
        c->cps = json_array();
        if (c->v1)
            fprintf(c->v1,
                    "{\"format\":\"%s\",\"origin\":\"%s\",\"log_public_key\":\"%s\","
                    "\"blocks\":[",
                    LEDGER_EXPORT_V1, ledger_origin(), hx);
    }
    if (!c->f || (v1_path && !c->v1))
        return err_set(e, 500, "internal", "", "cannot create the export file");
    if (checkpoint_signer_init(&c->log, ledger_origin(), log_sk, e) != 0) return -1;
    return ledger_export_write_header(c->f, ledger_origin(), hx, e);
}

/* the block as the export writes it */
static json_t *block_json(const ledger_chain_t *c, const ledger_block_result_t *res, json_t *txs,
                          size_t n) {
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:o,s:o}", "number", (json_int_t)c->number,
                     "prev_hash", jhex(res->hdr.prev_hash), "data_root", jhex(res->hdr.data_root),
                     "validation_root", jhex(res->hdr.validation_root), "writeset_hash",
                     jhex(res->hdr.writeset_hash), "timestamp_ms",
                     (json_int_t)res->hdr.timestamp_ms, "tx_count", (json_int_t)n,
                     "first_log_index", (json_int_t)res->hdr.first_log_index, "header_hash",
                     jhex(res->header_hash), "txs", txs);
}

/* writes the block and its signed checkpoint (v2, and v1 when open) */
static int write_block(ledger_chain_t *c, const ledger_block_result_t *res, json_t *blk, err_t *e) {
    uint8_t root[32];
    char line[LEDGER_BLOCK_LINE_MAX], *body = NULL, *note = NULL;
    const char *ext[] = {line};
    size_t bl = 0, nl = 0;
    ledger_checkpoint_block_line(c->number, res->header_hash, line);
    int rc = merkle_range_root(&c->range, root, e) == 0 &&
                     checkpoint_format_body(c->log.name, c->range.size, root, ext, 1, &body, &bl,
                                            e) == 0 &&
                     checkpoint_sign(body, bl, &c->log, &note, &nl, e) == 0 &&
                     ledger_export_write_block(c->f, blk, e) == 0 &&
                     ledger_export_write_checkpoint(c->f, note, e) == 0
                 ? 0
                 : -1;
    if (rc == 0 && c->v1) {
        if ((c->number > 0 && fputc(',', c->v1) == EOF) ||
            json_dumpf(blk, c->v1, JSON_COMPACT) != 0)
            rc = err_set(e, 500, "internal", "", "cannot write the v1 document");
        json_array_append_new(c->cps, json_string(note));
    }
    free(body);
    free(note);
    return rc;
}

int ledger_chain_add_block(ledger_chain_t *c, uint8_t **env, size_t *lens, size_t n, err_t *e) {
    ledger_block_msg_t m = {.number = c->number,
                            .timestamp_ms = c->t0_ms + (int64_t)c->number * c->step_ms,
                            .n = n,
                            .env = (const uint8_t **)env,
                            .env_len = lens};
    ledger_block_result_t res = {0};
    if (ledger_validate_block(&m, c->prev, c->range.size, &c->cfg, c->versions, c->seen, &res, e) !=
        0)
        return -1;
    json_t *txs = json_array();
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (res.tx[i].code != LEDGER_VALID && !c->any_code) {
            printf("#   block %llu tx %zu: %s\n", (unsigned long long)c->number, i,
                   ledger_code_name(res.tx[i].code));
            rc = err_set(e, 500, "internal", "", "a transaction of the block is not valid");
        }
        size_t cap = sodium_base64_ENCODED_LEN(lens[i], sodium_base64_VARIANT_ORIGINAL);
        char *b = malloc(cap);
        sodium_bin2base64(b, cap, env[i], lens[i], sodium_base64_VARIANT_ORIGINAL);
        json_array_append_new(txs, json_pack("{s:s,s:s,s:o}", "envelope", b, "validation_code",
                                             ledger_code_name(res.tx[i].code), "digests",
                                             ledger_tx_digests(env[i], lens[i], e)));
        free(b);
        merkle_range_append(&c->range, res.tx[i].leaf, e);
    }
    json_t *blk = block_json(c, &res, txs, n);
    if (rc == 0) rc = write_block(c, &res, blk, e);
    json_decref(blk);
    memcpy(c->prev, res.header_hash, 32);
    c->number++;
    ledger_block_result_free(&res);
    return rc;
}

int ledger_chain_envelope(json_t *spec, const uint8_t (*pks)[32], const uint8_t (*sks)[64],
                          size_t nsig, uint8_t **env, size_t *len, err_t *e) {
    uint8_t *tx = NULL, id[32];
    size_t tl = 0;
    ledger_endorsement_t end[4];
    if (nsig < 1 || nsig > 4) return err_set(e, 500, "internal", "", "1 to 4 endorsements");
    if (ledger_build_tx(spec, pks[0], &tx, &tl, id, e) != 0) return -1;
    for (size_t i = 0; i < nsig; i++)
        ledger_endorse(tx, tl, sks[i], &end[i]);
    int rc = ledger_envelope_encode(tx, tl, end, nsig, env, len, e);
    free(tx);
    return rc;
}

int ledger_chain_add_tx(ledger_chain_t *c, json_t *spec, const uint8_t pk[32], const uint8_t sk[64],
                        err_t *e) {
    uint8_t *env = NULL;
    size_t len = 0;
    if (!spec) return err_set(e, 500, "internal", "", "no spec");
    int rc = ledger_chain_envelope(spec, (const uint8_t(*)[32])pk, (const uint8_t(*)[64])sk, 1,
                                   &env, &len, e);
    if (rc == 0) rc = ledger_chain_add_block(c, &env, &len, 1, e);
    free(env);
    json_decref(spec);
    return rc;
}

int ledger_chain_config_orgs(ledger_chain_t *c, const char *const *orgs, const uint8_t (*pks)[32],
                             size_t n, const uint8_t pk[32], const uint8_t sk[64], err_t *e) {
    json_t *writes = json_array();
    for (size_t i = 0; i < n; i++) {
        char hx[65], key[80];
        ledger_hex(pks[i], 32, hx);
        json_t *val = json_pack("{s:n,s:s,s:[{s:s,s:s}]}", "club_id", "name", orgs[i], "identities",
                                "public_key", hx, "role", "admin");
        char *vs = json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(val);
        snprintf(key, sizeof key, "config/org/%s", orgs[i]);
        json_array_append_new(writes, json_pack("{s:s,s:s}", "key", key, "value", vs));
        free(vs);
    }
    json_t *spec = json_pack("{s:s,s:s,s:o}", "type", "config.update", "creator",
                             LEDGER_NETWORK_ORG, "writes", writes);
    return ledger_chain_add_tx(c, spec, pk, sk, e);
}

int ledger_chain_close(ledger_chain_t *c, int rc) {
    if (c->f && fclose(c->f) != 0) rc = -1;
    if (c->v1) {
        if (rc == 0 && (fputs("],\"checkpoints\":", c->v1) == EOF ||
                        json_dumpf(c->cps, c->v1, JSON_COMPACT) != 0 || fputs("}", c->v1) == EOF))
            rc = -1;
        if (fclose(c->v1) != 0) rc = -1;
    }
    json_decref(c->cps);
    checkpoint_signer_wipe(&c->log);
    ledger_config_free(&c->cfg);
    ledger_kvmap_free(c->versions);
    ledger_kvmap_free(c->seen);
    *c = (ledger_chain_t){0};
    return rc;
}
