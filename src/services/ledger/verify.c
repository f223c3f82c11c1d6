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

static void dig(json_t *o, const char *name, lbuf_t *b) {
    uint8_t h[32];
    char hex[65];
    ledger_sha256(b->p ? b->p : (const uint8_t *)"", b->len, h);
    ledger_hex(h, 32, hex);
    json_object_set_new(o, name, json_string(hex));
    lbuf_free(b);
}

json_t *ledger_tx_digests(const uint8_t *env, size_t len, err_t *e) {
    ledger_envelope_t en;
    txcodec_tx_t t;
    if (ledger_envelope_decode(env, len, &en, e) != 0) return NULL;
    if (txcodec_decode(en.tx, en.tx_len, &t, e) != 0) return NULL;
    json_t *o = json_object();
    lbuf_t b = {0};
    lbuf_put(&b, t.type, strlen(t.type));
    dig(o, "type", &b);
    lbuf_u64(&b, (uint64_t)t.timestamp_ms);
    dig(o, "timestamp", &b);
    lbuf_put(&b, t.nonce, t.nonce_len);
    dig(o, "nonce", &b);
    lbuf_bytes(&b, t.creator_org, strlen(t.creator_org));
    lbuf_put(&b, t.creator_pk, sizeof t.creator_pk);
    dig(o, "creator", &b);
    lbuf_put(&b, t.payload, t.payload_len);
    dig(o, "payload", &b);
    for (size_t i = 0; i < t.n_reads; i++) {
        lbuf_bytes(&b, t.reads[i].key, t.reads[i].key_len);
        lbuf_u64(&b, t.reads[i].version);
    }
    dig(o, "read_set", &b);
    for (size_t i = 0; i < t.n_writes; i++) {
        lbuf_bytes(&b, t.writes[i].key, t.writes[i].key_len);
        lbuf_u8(&b, (uint8_t)t.writes[i].is_delete);
        lbuf_bytes(&b, t.writes[i].value, t.writes[i].value_len);
    }
    dig(o, "write_set", &b);
    for (size_t i = 0; i < en.n_end; i++) {
        lbuf_put(&b, en.end[i].pk, 32);
        lbuf_put(&b, en.end[i].sig, 64);
    }
    dig(o, "endorsements", &b);
    txcodec_tx_free(&t);
    return o;
}

static int rd_var(const uint8_t *b, size_t len, size_t *off, uint64_t *v) {
    *v = 0;
    for (int sh = 0; sh < 64 && *off < len; sh += 7) {
        uint8_t c = b[(*off)++];
        *v |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) return 0;
    }
    return -1;
}

static int same_digest(json_t *want, const char *name, lbuf_t *b) {
    json_t *o = json_object();
    dig(o, name, b);
    const char *w = json_string_value(json_object_get(want, name));
    int same = w && strcmp(w, json_string_value(json_object_get(o, name))) == 0;
    json_decref(o);
    return same;
}

/* For an envelope whose transaction does not decode: reads the fixed prefix (version, tx id,
 * type, creator org + key, timestamp, nonce) leniently and returns the first of those fields
 * whose digest differs from the exported one, or NULL. */
static const char *prefix_field(const uint8_t *env, size_t len, json_t *want) {
    size_t off = 1;
    uint64_t tl, n;
    if (!json_is_object(want) || len < 2 || env[0] != 1 || rd_var(env, len, &off, &tl) != 0 ||
        tl > len - off)
        return NULL;
    const uint8_t *t = env + off;
    size_t o = 1 + 32, tlen = (size_t)tl;
    if (tlen < o || rd_var(t, tlen, &o, &n) != 0 || n > tlen - o) return NULL;
    lbuf_t b = {0};
    lbuf_put(&b, t + o, (size_t)n);
    o += (size_t)n;
    if (!same_digest(want, "type", &b)) return "type";
    if (rd_var(t, tlen, &o, &n) != 0 || n > tlen - o || tlen - o - (size_t)n < 32 + 8) return NULL;
    lbuf_bytes(&b, t + o, (size_t)n);
    lbuf_put(&b, t + o + n, 32);
    o += (size_t)n + 32;
    if (!same_digest(want, "creator", &b)) return "creator";
    lbuf_put(&b, t + o, 8);
    o += 8;
    if (!same_digest(want, "timestamp", &b)) return "timestamp";
    if (rd_var(t, tlen, &o, &n) != 0 || n > tlen - o) return NULL;
    lbuf_put(&b, t + o, (size_t)n);
    if (!same_digest(want, "nonce", &b)) return "nonce";
    return NULL;
}

/* The envelope of block `number` tx i must decode, and match its exported field digests (when
 * present): names the altered field. */
static int check_tx_fields(uint64_t number, size_t i, json_t *jt, const uint8_t *env, size_t len,
                           err_t *e) {
    err_t de = {0};
    json_t *d = ledger_tx_digests(env, len, &de);
    json_t *want = json_object_get(jt, "digests");
    if (!d) {
        /* the transaction's id covers creator and nonce, so altering them fails the strict
         * decode: name the field from the raw prefix against the exported digests */
        const char *f = prefix_field(env, len, want);
        if (f)
            return err_set(e, 422, "invalid_chain", f,
                           "block %" PRIu64 " tx %zu: %s differs from the exported digest "
                           "(envelope altered; %.200s)",
                           number, i, f, de.message);
        return err_set(e, 422, "invalid_chain", "envelope",
                       "block %" PRIu64 " tx %zu: envelope does not decode (%.200s)", number, i,
                       de.message);
    }
    static const char *names[] = {"type",    "timestamp", "nonce",     "creator",
                                  "payload", "read_set",  "write_set", "endorsements"};
    int rc = 0;
    for (size_t f = 0; json_is_object(want) && f < sizeof names / sizeof names[0]; f++) {
        const char *w = json_string_value(json_object_get(want, names[f]));
        const char *g = json_string_value(json_object_get(d, names[f]));
        if (!w || !g || strcmp(w, g) != 0) {
            ledger_envelope_t en;
            uint8_t id[32] = {0};
            char hex[65];
            err_t ie = {0};
            if (ledger_envelope_decode(env, len, &en, &ie) == 0 && en.tx_len > 1 + 32)
                memcpy(id, en.tx + 1, 32);
            ledger_hex(id, 32, hex);
            rc = err_set(e, 422, "invalid_chain", names[f],
                         "block %" PRIu64 " tx %zu (%.16s...): %s differs from the exported "
                         "digest (envelope altered)",
                         number, i, hex, names[f]);
            break;
        }
    }
    json_decref(d);
    return rc;
}

/* The block lines of checkpoint ci (ledger_checkpoint_block_parse): block N must be replayed,
 * with that header hash, and end exactly at the checkpoint's size. Each binds blocks [0, N]
 * (prev_hash links): *bound grows to N + 1. Other extension lines are opaque (C2SP). */
static int bind_blocks(size_t ci, const checkpoint_t *cp, const merkle_hash_t *hh,
                       const uint64_t *ends, size_t n_blocks, uint64_t *bound, err_t *e) {
    for (size_t x = 0; x < cp->n_ext; x++) {
        uint64_t num;
        uint8_t h[32];
        if (!ledger_checkpoint_block_parse(cp->ext[x], &num, h)) continue;
        if (num >= n_blocks || ends[num] != cp->size || memcmp(hh[num], h, 32) != 0)
            return err_set(e, 422, "invalid_chain", "checkpoint",
                           "checkpoint %zu (size %" PRIu64 "): the log signed block %" PRIu64
                           " with another header hash or size than the replay gives (block "
                           "boundaries, timestamps, roots or validation codes rewritten)",
                           ci, cp->size, num);
        if (num + 1 > *bound) *bound = num + 1;
    }
    return 0;
}

/* Every block must be bound by a signed checkpoint (the last one is enough: prev_hash links
 * the others), unless o->allow_unbound; with a pinned key an empty export proves nothing; and
 * the log must reach o->min_size (against a rollback to an older, consistent export). */
static int check_bound(const ledger_verify_opts_t *o, size_t n_blocks, uint64_t bound,
                       uint64_t n_leaves, err_t *e) {
    if (n_blocks == 0 && o->log_key_hex)
        return err_set(e, 422, "invalid_chain", "checkpoint",
                       "no blocks and no checkpoint signed by the pinned log key");
    if (n_blocks > 0 && bound < n_blocks && !o->allow_unbound)
        return err_set(e, 422, "invalid_chain", "checkpoint",
                       "block %zu is not bound by a signed checkpoint: none of size %" PRIu64
                       " carries its header hash (an export cut short, checkpoints removed, or "
                       "made before checkpoints carried block lines; --allow-unbound replays "
                       "it without that guarantee)",
                       n_blocks - 1, n_leaves);
    if (n_leaves < o->min_size)
        return err_set(e, 422, "invalid_chain", "min_size",
                       "the log has %" PRIu64 " leaves, fewer than --min-size %" PRIu64
                       " (rolled back?)",
                       n_leaves, o->min_size);
    return 0;
}

int ledger_verify_export(json_t *ex, const char *log_key_hex, ledger_verify_report_t *rep,
                         err_t *e) {
    ledger_verify_opts_t o = {.log_key_hex = log_key_hex};
    return ledger_verify_export_opts(ex, &o, rep, e);
}

int ledger_verify_export_opts(json_t *ex, const ledger_verify_opts_t *o,
                              ledger_verify_report_t *rep, err_t *e) {
    const char *log_key_hex = o->log_key_hex;
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
    /* per block: header hash and log size after it, for the checkpoints' block lines */
    merkle_hash_t *hh = NULL;
    uint64_t *ends = NULL;
    size_t nb = json_array_size(blocks);
    uint64_t bound = 0; /* blocks [0, bound) are bound by a signed checkpoint */
    uint8_t prev[32] = {0};
    int rc = -1;
    checkpoint_verifier_t *vs = NULL;
    int *verified = NULL;
    hh = malloc((nb ? nb : 1) * sizeof *hh);
    ends = malloc((nb ? nb : 1) * sizeof *ends);
    if (!versions || !seen || !hh || !ends) {
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
            } else if (check_tx_fields(number, i, json_array_get(txs, i), env[i], lens[i], e) !=
                       0) {
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
                        "block %" PRIu64
                        " tx %zu (%s): validation_code recorded %s, replay gives %s",
                        number, i, id, code ? code : "?", ledger_code_name(res.tx[i].code));
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
                /* everything else in the header matched: either the timestamp or the recorded
                 * header hash was altered; the next block's prev_hash tells which */
                uint8_t next_prev[32];
                json_t *nb = json_array_get(blocks, bi + 1);
                if (f == 4 && nb && hexfield(nb, "prev_hash", next_prev) == 0 &&
                    memcmp(got, next_prev, 32) == 0)
                    err_set(e, 422, "invalid_chain", "timestamp_ms",
                            "block %" PRIu64 ": timestamp_ms does not match the header hash "
                            "(the next block links to the recorded header_hash)",
                            number);
                else
                    err_set(e, 422, "invalid_chain", fields[f].name,
                            "block %" PRIu64 ": %s does not match the replay%s", number,
                            fields[f].name, f == 4 ? " (header_hash or timestamp_ms altered)" : "");
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
            memcpy(hh[bi], res.header_hash, 32);
            ends[bi] = n_leaves;
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

    /* checkpoints: verifiers = the log + every identity of the largest config (a note carries
     * at most CHECKPOINT_MAX_SIGS lines, but any of the admins in force may have signed them) */
    size_t nv = 0, maxv = 1;
    for (size_t s = 0; s < n_snaps; s++)
        if (snaps[s].cfg.n_ids + 1 > maxv) maxv = snaps[s].cfg.n_ids + 1;
    vs = calloc(maxv, sizeof *vs);
    verified = calloc(maxv, sizeof *verified);
    if (!vs || !verified) {
        err_set(e, 500, "internal", "", "out of memory");
        goto out;
    }
    if (checkpoint_verifier_init(&vs[nv++], origin, lpk, e) != 0) goto out;
    const ledger_config_t *vs_cfg = NULL; /* the config vs[1..nv) were built from */
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
            if (at != vs_cfg) { /* rebuilt only when the config in force changes */
                nv = 1;
                for (size_t i = 0; at && i < at->n_ids && nv < maxv; i++)
                    if (at->ids[i].role == POLICY_ROLE_ADMIN &&
                        strcmp(at->ids[i].org, LEDGER_NETWORK_ORG) != 0 &&
                        !ledger_config_is_revoked(at, at->ids[i].pk) &&
                        checkpoint_verifier_init(&vs[nv], at->ids[i].org, at->ids[i].pk, e) == 0)
                        nv++;
                vs_cfg = at;
                err_clear(e);
            }
            if (checkpoint_verify(&cn, vs, nv, verified, &nver, e) != 0) {
                /* name the part: a body that still matches the replayed log means a signature
                 * line was altered; otherwise the body (origin, size, root) was */
                uint8_t r[32];
                int body_ok =
                    strcmp(cn.cp.origin, origin) == 0 && cn.cp.size > 0 && cn.cp.size <= n_leaves;
                err_t re = {0};
                if (body_ok)
                    body_ok = merkle_root((const merkle_hash_t *)leaves, cn.cp.size, r, &re) == 0 &&
                              memcmp(r, cn.cp.root, 32) == 0;
                char msg[sizeof e->message];
                memcpy(msg, e->message, sizeof msg);
                uint64_t sz = cn.cp.size;
                checkpoint_note_free(&cn);
                err_set(e, 422, "invalid_chain", "checkpoint",
                        body_ok ? "checkpoint %zu (size %" PRIu64 "): signature altered: %.300s"
                                : "checkpoint %zu (size %" PRIu64
                                  "): note body altered (origin/size/root do not match the "
                                  "replayed log; %.300s)",
                        ci, sz, msg);
                goto out;
            }
        }
        if (!opened) {
            char msg[sizeof e->message];
            memcpy(msg, e->message, sizeof msg);
            err_set(e, 422, "invalid_chain", "checkpoint", "checkpoint %zu: note body: %.300s", ci,
                    msg);
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
        if (ok && bind_blocks(ci, &cn.cp, hh, ends, rep->blocks, &bound, e) != 0) {
            checkpoint_note_free(&cn);
            goto out;
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
    rep->unbound_blocks = rep->blocks - (size_t)bound;
    if (check_bound(o, rep->blocks, bound, n_leaves, e) != 0) goto out;
    rc = 0;
out:
    free(hh);
    free(ends);
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
