/* test_ledger_verify: tamper tests for the offline verifier (issue 5, "Tests"). Builds a small
 * chain on the harness PostgreSQL/nats-server (a config.update, a two-endorsement data.put with
 * payload, read set and write set, a witness cosignature), exports it, then flips one byte in
 * each field kind of the export: block header fields (number, prev_hash, data_root,
 * validation_root, writeset_hash, timestamp_ms, header_hash), a transaction's envelope bytes,
 * creator, payload, read set, write set, endorsement signature and validation code, a config
 * transaction's org config, a checkpoint's note body, its log signature and a witness
 * cosignature. Every variant must fail, and the message must name the block/tx (or checkpoint)
 * and the field. Table-driven. Then the witnesses of each checkpoint (the admin identities of
 * the config in force at its size): cosignature lines by an org registered after the checkpoint
 * or by a key revoked before it are ignored (not counted, not even checked), the same keys count
 * on checkpoints where they are in force, a key's cosignature made before its revocation still
 * counts, and a witness beyond the 31st admin identity counts. The chain is shared with other
 * binaries: everything relative. */
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "lib/ledger/checkpoint.h"
#include "services/ledger/api.h"
#include "services/ledger/engine.h"
#include "services/ledger/settings.h"
#include "services/ledger/verify.h"
#include "verify_both.h"
#include "test.h"

static db_pool_t *pool;
static bus_t *bus;
static const char *g_db_url;
static ledger_settings_t g_cfg;
static char A[32], B[32], C[32], tag[16];

/* where the interesting transactions landed in the export */
static size_t cfg_blk, cfg_pos, put_blk, put_pos, cp_idx;
static uint8_t put_id[32], cfg_id[32], first_id[32];
static char put_payload[64], put_read_key[64], put_value[64];

static const char *code_of(json_t *st) {
    const char *c = json_string_value(json_object_get(st, "validation_code"));
    return c ? c : json_string_value(json_object_get(st, "status"));
}

static json_t *submit(json_t *spec, const char *const *signers, uint8_t id[32]) {
    uint8_t sk[64], pk[32], *tx = NULL;
    size_t len = 0;
    err_t e = {0};
    json_t *st = NULL;
    const char *creator = json_string_value(json_object_get(spec, "creator"));
    if (ledger_org_key(pool, creator, "member", sk, pk, &e) != 0) goto out;
    if (ledger_build_tx(spec, pk, &tx, &len, id, &e) != 0) goto out;
    ledger_endorsement_t end[4];
    size_t n = 0;
    for (; signers[n]; n++) {
        char org[64];
        snprintf(org, sizeof org, "%s", signers[n]);
        char *slash = strchr(org, '/');
        *slash = 0;
        if (ledger_org_key(pool, org, slash + 1, sk, pk, &e) != 0) goto out;
        ledger_endorse(tx, len, sk, &end[n]);
    }
    if (ledger_submit(pool, bus, tx, len, end, n, 10000, &st, &e) != 0) st = NULL;
out:
    if (!st) printf("#   submit: %s\n", e.message);
    free(tx);
    return st;
}

/* ---- envelope helpers --------------------------------------------------------------------- */

static json_t *blk(json_t *ex, size_t b) {
    return json_array_get(json_object_get(ex, "blocks"), b);
}
static json_t *txj(json_t *ex, size_t b, size_t p) {
    return json_array_get(json_object_get(blk(ex, b), "txs"), p);
}

static size_t env_of(json_t *t, uint8_t *buf, size_t cap) {
    const char *s = json_string_value(json_object_get(t, "envelope"));
    size_t bl = 0;
    if (!s || sodium_base642bin(buf, cap, s, strlen(s), NULL, &bl, NULL,
                                sodium_base64_VARIANT_ORIGINAL) != 0)
        return 0;
    return bl;
}

static void set_env(json_t *t, const uint8_t *buf, size_t len) {
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *enc = malloc(cap);
    sodium_bin2base64(enc, cap, buf, len, sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(t, "envelope", json_string(enc));
    free(enc);
}

static const uint8_t *find(const uint8_t *hay, size_t hl, const void *needle, size_t nl) {
    for (size_t i = 0; nl && i + nl <= hl; i++)
        if (memcmp(hay + i, needle, nl) == 0) return hay + i;
    return NULL;
}

/* flips one byte of the envelope of (b, p): at a fixed offset, or inside `needle` */
static int flip_env(json_t *ex, size_t b, size_t p, long off, const void *needle, size_t nl) {
    static uint8_t buf[1 << 20];
    json_t *t = txj(ex, b, p);
    size_t len = env_of(t, buf, sizeof buf);
    if (len == 0) return -1;
    size_t at;
    if (needle) {
        const uint8_t *q = find(buf, len, needle, nl);
        if (!q) return -1;
        at = (size_t)(q - buf) + nl / 2;
    } else {
        at = off >= 0 ? (size_t)off : len - (size_t)(-off);
    }
    buf[at] ^= 0x01;
    set_env(t, buf, len);
    return 0;
}

/* flips one character of a hex field of block b */
static int flip_hex(json_t *ex, size_t b, const char *field) {
    json_t *o = blk(ex, b);
    const char *s = json_string_value(json_object_get(o, field));
    if (!s) return -1;
    char *c = strdup(s);
    c[3] = c[3] == '0' ? '1' : '0';
    json_object_set_new(o, field, json_string(c));
    free(c);
    return 0;
}

static int flip_int(json_t *ex, size_t b, const char *field) {
    json_t *o = blk(ex, b);
    json_object_set_new(o, field, json_integer(json_integer_value(json_object_get(o, field)) ^ 1));
    return 0;
}

/* ---- the mutations -------------------------------------------------------------------------- */

static int m_number(json_t *ex) {
    return flip_int(ex, cfg_blk, "number");
}
static int m_prev(json_t *ex) {
    return flip_hex(ex, cfg_blk, "prev_hash");
}
static int m_data_root(json_t *ex) {
    return flip_hex(ex, cfg_blk, "data_root");
}
static int m_val_root(json_t *ex) {
    return flip_hex(ex, cfg_blk, "validation_root");
}
static int m_ws_hash(json_t *ex) {
    return flip_hex(ex, cfg_blk, "writeset_hash");
}
static int m_header_hash(json_t *ex) {
    return flip_hex(ex, cfg_blk, "header_hash");
}
static int m_timestamp(json_t *ex) {
    return flip_int(ex, cfg_blk, "timestamp_ms");
}
static int m_tx_count(json_t *ex) {
    return flip_int(ex, cfg_blk, "tx_count");
}
static int m_env_version(json_t *ex) {
    return flip_env(ex, put_blk, put_pos, 0, NULL, 0);
}
static int m_creator(json_t *ex) {
    uint8_t sk[64], pk[32];
    err_t e = {0};
    if (ledger_org_key(pool, A, "member", sk, pk, &e) != 0) return -1;
    /* the creator's public key inside the transaction (the first occurrence: endorsements
     * come after the transaction) */
    return flip_env(ex, put_blk, put_pos, 0, pk, 32);
}
static int m_payload(json_t *ex) {
    return flip_env(ex, put_blk, put_pos, 0, put_payload, strlen(put_payload));
}
static int m_read_set(json_t *ex) {
    return flip_env(ex, put_blk, put_pos, 0, put_read_key, strlen(put_read_key));
}
static int m_write_set(json_t *ex) {
    return flip_env(ex, put_blk, put_pos, 0, put_value, strlen(put_value));
}
static int m_signature(json_t *ex) {
    return flip_env(ex, put_blk, put_pos, -5, NULL, 0);
}
static int m_code(json_t *ex) {
    json_object_set_new(txj(ex, put_blk, put_pos), "validation_code",
                        json_string("MVCC_READ_CONFLICT"));
    return 0;
}
static int m_org_config(json_t *ex) {
    /* the org's config value written by its registration: {"club_id":..,"name":"club",..} */
    return flip_env(ex, cfg_blk, cfg_pos, 0, "\"identities\"", strlen("\"identities\""));
}
static int m_cp(json_t *ex, int which) {
    json_t *cps = json_object_get(ex, "checkpoints");
    char *note = strdup(json_string_value(json_array_get(cps, cp_idx)));
    size_t ol = strlen(ledger_origin());
    char *body_end = strstr(note, "\n\n");
    if (which == 0) {
        note[ol + 1] = note[ol + 1] == '9' ? '8' : '9'; /* the size line */
    } else {
        /* the signature lines: "— name base64\n"; 0 = log (first), 1 = the witness A */
        char pat[64];
        snprintf(pat, sizeof pat, " %s ", which == 1 ? ledger_origin() : A);
        char *l = body_end ? strstr(body_end, pat) : NULL;
        if (!l) {
            free(note);
            return -1;
        }
        char *sig = l + strlen(pat) + 10; /* inside the base64 signature */
        *sig = *sig == 'A' ? 'B' : 'A';
    }
    json_array_set_new(cps, cp_idx, json_string(note));
    free(note);
    return 0;
}
static int m_cp_body(json_t *ex) {
    return m_cp(ex, 0);
}
static int m_cp_logsig(json_t *ex) {
    return m_cp(ex, 1);
}
static int m_cp_cosig(json_t *ex) {
    return m_cp(ex, 2);
}

typedef struct tamper {
    const char *name;
    int (*mutate)(json_t *ex);
    const char *field; /* err_t.field */
    int where; /* 1 = the config block, 2 = the put's tx, 3 = the config tx, 4 = checkpoint */
    const char *words; /* must occur in the message */
} tamper_t;

static const tamper_t cases[] = {
    {"block number", m_number, "number", 1, "number"},
    {"previous hash", m_prev, "prev_hash", 1, "prev_hash"},
    {"data root", m_data_root, "data_root", 1, "data_root"},
    {"validation root", m_val_root, "validation_root", 1, "validation_root"},
    {"state (write-set) hash", m_ws_hash, "writeset_hash", 1, "writeset_hash"},
    {"timestamp", m_timestamp, "timestamp_ms", 1, "timestamp_ms"},
    {"header hash", m_header_hash, "header_hash", 1, "header_hash"},
    {"tx count", m_tx_count, "tx_count", 1, "tx_count"},
    {"envelope bytes", m_env_version, "envelope", 2, "envelope"},
    {"creator", m_creator, "creator", 2, "creator"},
    {"payload", m_payload, "payload", 2, "payload"},
    {"read set", m_read_set, "read_set", 2, "read_set"},
    {"write set", m_write_set, "write_set", 2, "write_set"},
    {"endorsement signature", m_signature, "endorsements", 2, "endorsements"},
    {"validation code", m_code, "validation_code", 2, "validation_code"},
    {"org config", m_org_config, "write_set", 3, "write_set"},
    {"checkpoint note body", m_cp_body, "checkpoint", 4, "body"},
    {"checkpoint log signature", m_cp_logsig, "checkpoint", 4, "signature"},
    {"checkpoint cosignature", m_cp_cosig, "checkpoint", 4, "signature"},
};

/* ---- building the chain ------------------------------------------------------------------- */

static int locate(json_t *ex, const uint8_t id[32], size_t *bo, size_t *po) {
    static uint8_t buf[1 << 20];
    json_t *blocks = json_object_get(ex, "blocks");
    for (size_t b = json_array_size(blocks); b-- > 0;) {
        json_t *txs = json_object_get(json_array_get(blocks, b), "txs");
        for (size_t p = 0; p < json_array_size(txs); p++) {
            size_t len = env_of(json_array_get(txs, p), buf, sizeof buf);
            ledger_envelope_t en;
            err_t e = {0};
            if (len && ledger_envelope_decode(buf, len, &en, &e) == 0 && en.tx_len > 33 &&
                memcmp(en.tx + 1, id, 32) == 0) {
                *bo = b;
                *po = p;
                return 0;
            }
        }
    }
    return -1;
}

static json_t *g_ex;

/* The chain streamed (`reciprocal ledger export`: ledger_export_stream, v2) into memory; *buf
 * malloc'd. */
static int export_stream(char **buf, size_t *len, ledger_export_stats_t *st, err_t *e) {
    FILE *f = open_memstream(buf, len);
    if (!f) return -1;
    int rc = ledger_export_stream(pool, g_db_url, f, st, e);
    fclose(f);
    return rc;
}

/* A v2 export read back as a v1 document (blocks and checkpoints in their order). */
static json_t *v2_to_doc(const char *buf, size_t len) {
    FILE *f = fmemopen((void *)buf, len, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    json_t *doc = NULL, *blocks = json_array(), *cps = json_array();
    while (f && (n = getline(&line, &cap, f)) > 0) {
        json_t *o = json_loadb(line, (size_t)n, 0, NULL);
        if (!doc) {
            doc = json_pack("{s:s,s:O,s:O}", "format", LEDGER_EXPORT_V1, "origin",
                            json_object_get(o, "origin"), "log_public_key",
                            json_object_get(o, "log_public_key"));
        } else if (json_object_get(o, "block")) {
            json_array_append(blocks, json_object_get(o, "block"));
        } else {
            json_array_append(cps, json_object_get(o, "checkpoint"));
        }
        json_decref(o);
    }
    free(line);
    if (f) fclose(f);
    if (doc) {
        json_object_set(doc, "blocks", blocks);
        json_object_set(doc, "checkpoints", cps);
    }
    json_decref(blocks);
    json_decref(cps);
    return doc;
}

/* The streamed export (v2, one REPEATABLE READ snapshot, cursors) holds exactly what the
 * whole-document export holds, in log order: each checkpoint right after the block it ends. */
static void check_stream_export(void) {
    char *buf = NULL;
    size_t len = 0;
    ledger_export_stats_t st;
    err_t e = {0};
    int rc = export_stream(&buf, &len, &st, &e);
    if (rc != 0) printf("#   stream export: %s\n", e.message);
    REQUIRE(rc == 0);
    static const char head[] = "{\"format\":\"" LEDGER_EXPORT_V2 "\"";
    CHECK(strncmp(buf, head, sizeof head - 1) == 0);
    json_t *doc = v2_to_doc(buf, len);
    json_t *v1 = NULL;
    REQUIRE(ledger_export(pool, &v1, &e) == 0);
    CHECK(doc != NULL && json_equal(doc, v1));
    CHECK_EQ_INT(st.blocks, json_array_size(json_object_get(v1, "blocks")));
    CHECK_EQ_INT(st.checkpoints, json_array_size(json_object_get(v1, "checkpoints")));
    /* log order: the line after a block is the checkpoint of its end (one per block) */
    const char *p = strstr(buf, "\n{\"block\":");
    CHECK(p && strstr(p + 1, "\n{\"checkpoint\":") == strchr(p + 1, '\n'));
    FILE *in = fmemopen(buf, len, "r");
    ledger_verify_opts_t o = {.log_key_hex =
                                  json_string_value(json_object_get(v1, "log_public_key"))};
    ledger_verify_report_t rep;
    rc = ledger_verify_stream(in, &o, &rep, &e);
    if (rc != 0) printf("#   stream verify: %s\n", e.message);
    CHECK(rc == 0);
    CHECK_EQ_INT(rep.txs, st.txs);
    fclose(in);
    json_decref(doc);
    json_decref(v1);
    free(buf);
}

static void test_build_chain(void) {
    err_t e = {0};
    REQUIRE(ledger_bootstrap(pool, bus, &e) == 0);
    json_t *st = NULL;
    REQUIRE(ledger_register_org(pool, bus, A, NULL, "club", 10000, &st, &e) == 0);
    CHECK_STR(code_of(st), "VALID");
    memset(cfg_id, 0, 32);
    ledger_unhex(json_string_value(json_object_get(st, "tx_id")), cfg_id, 32);
    json_decref(st);
    REQUIRE(ledger_register_org(pool, bus, B, NULL, "club", 10000, &st, &e) == 0);
    json_decref(st);

    /* a key to read, then a tx with payload, a read set, a write set, two endorsements */
    char k0[64], k1[64], am[48], bm[48];
    snprintf(k0, sizeof k0, "%s/read-me", tag);
    snprintf(k1, sizeof k1, "%s/write-me", tag);
    snprintf(am, sizeof am, "%s/member", A);
    snprintf(bm, sizeof bm, "%s/member", B);
    const char *sa[] = {am, NULL}, *sab[] = {am, bm, NULL};
    uint8_t id0[32];
    json_t *spec = json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "type", "data.put", "creator", A, "writes",
                             "key", k0, "value", "first");
    st = submit(spec, sa, id0);
    memcpy(first_id, id0, 32);
    json_decref(spec);
    REQUIRE(st != NULL);
    CHECK_STR(code_of(st), "VALID");
    json_int_t v = (json_int_t)ledger_version(
        (uint64_t)json_integer_value(json_object_get(st, "block_number")),
        (uint32_t)json_integer_value(json_object_get(st, "position")));
    json_decref(st);
    snprintf(put_payload, sizeof put_payload, "tamper-payload-%s", tag);
    snprintf(put_read_key, sizeof put_read_key, "%s", k0);
    snprintf(put_value, sizeof put_value, "tamper-value-%s", tag);
    spec = json_pack("{s:s,s:s,s:{s:s},s:[{s:s,s:I}],s:[{s:s,s:s}]}", "type", "data.put", "creator",
                     A, "payload", "note", put_payload, "reads", "key", k0, "version", v, "writes",
                     "key", k1, "value", put_value);
    st = submit(spec, sab, put_id);
    json_decref(spec);
    REQUIRE(st != NULL);
    CHECK_STR(code_of(st), "VALID");
    json_decref(st);
    /* the payload went on the ledger as JSON text */
    /* a witness cosignature on the latest checkpoint */
    json_t *co = NULL;
    REQUIRE(ledger_cosign(pool, A, NULL, &co, &e) == 0);
    json_decref(co);

    REQUIRE(ledger_export(pool, &g_ex, &e) == 0);
    ledger_verify_report_t rep;
    int rc = ledger_verify_export(g_ex, NULL, &rep, &e);
    if (rc != 0) printf("#   verify: %s\n", e.message);
    REQUIRE(rc == 0);
    REQUIRE(locate(g_ex, put_id, &put_blk, &put_pos) == 0);
    REQUIRE(locate(g_ex, cfg_id, &cfg_blk, &cfg_pos) == 0);
    /* the latest checkpoint that A cosigned */
    json_t *cps = json_object_get(g_ex, "checkpoints");
    char pat[64];
    snprintf(pat, sizeof pat, " %s ", A);
    int found = 0;
    for (size_t i = json_array_size(cps); i-- > 0 && !found;)
        if (strstr(json_string_value(json_array_get(cps, i)), pat)) {
            cp_idx = i;
            found = 1;
        }
    REQUIRE(found);
    CHECK(json_object_get(txj(g_ex, put_blk, put_pos), "digests") != NULL);
    check_stream_export();
    printf("# chain: %zu blocks; put at block %zu tx %zu, config at block %zu tx %zu, "
           "checkpoint %zu\n",
           rep.blocks, put_blk, put_pos, cfg_blk, cfg_pos, cp_idx);
}

/* The transactions are prepared on several threads ahead of the replay (verify.c): with the
 * envelopes of block 1 and of the last block both altered, the error still names block 1 (the
 * first bad one), whichever worker finished first. */
static void test_first_bad_named(void) {
    REQUIRE(g_ex != NULL);
    json_t *ex = json_deep_copy(g_ex);
    size_t nb = json_array_size(json_object_get(ex, "blocks"));
    REQUIRE(nb > 2);
    REQUIRE(flip_env(ex, nb - 1, 0, -1, NULL, 0) == 0);
    REQUIRE(flip_env(ex, 1, 0, -1, NULL, 0) == 0);
    ledger_verify_report_t rep;
    err_t e = {0};
    CHECK(ledger_verify_export(ex, NULL, &rep, &e) != 0);
    if (!strstr(e.message, "block 1 ")) printf("#   %s\n", e.message);
    CHECK(strstr(e.message, "block 1 ") != NULL);
    json_decref(ex);
}

static void test_tamper_table(void) {
    REQUIRE(g_ex != NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const tamper_t *c = &cases[i];
        json_t *ex = json_deep_copy(g_ex);
        int mrc = c->mutate(ex);
        CHECK(mrc == 0);
        err_t e = {0};
        ledger_verify_report_t rep;
        int rc = mrc == 0 ? ledger_verify_export(ex, NULL, &rep, &e) : -1;
        json_decref(ex);
        printf("# %-26s -> %s\n", c->name, e.message);
        CHECK(rc != 0);
        if (mrc != 0 || rc == 0) continue;
        char want[64];
        /* header fields: the config block, which has a successor (its prev_hash link tells a
         * forged timestamp from a forged header hash) */
        size_t b = c->where == 3 || c->where == 1 ? cfg_blk : put_blk,
               p = c->where == 3 ? cfg_pos : put_pos;
        if (c->where == 4)
            snprintf(want, sizeof want, "checkpoint %zu ", cp_idx);
        else if (c->where == 1)
            snprintf(want, sizeof want, "block %zu", b);
        else
            snprintf(want, sizeof want, "block %zu tx %zu", b, p);
        if (!strstr(e.message, want)) printf("#   wanted \"%s\"\n", want);
        CHECK(strstr(e.message, want) != NULL);
        CHECK_STR(e.field, c->field);
        CHECK(strstr(e.message, c->words) != NULL);
    }
}

/* digests are diagnostics: a consistent alteration (envelope + digests recomputed) still fails
 * on the cryptography and names the tx */
static void test_consistent_alteration(void) {
    REQUIRE(g_ex != NULL);
    json_t *ex = json_deep_copy(g_ex);
    REQUIRE(m_write_set(ex) == 0);
    json_t *t = txj(ex, put_blk, put_pos);
    static uint8_t buf[1 << 20];
    size_t len = env_of(t, buf, sizeof buf);
    err_t e = {0};
    json_t *d = ledger_tx_digests(buf, len, &e);
    REQUIRE(d != NULL);
    json_object_set_new(t, "digests", d);
    ledger_verify_report_t rep;
    CHECK(ledger_verify_export(ex, NULL, &rep, &e) != 0);
    printf("# consistent alteration -> %s\n", e.message);
    char want[64];
    snprintf(want, sizeof want, "block %zu tx %zu", put_blk, put_pos);
    CHECK(strstr(e.message, want) != NULL);
    json_decref(ex);
}

/* ---- witnesses: the config in force at each checkpoint ------------------------------------ */

/* The verifier's witnesses of a checkpoint are the admin identities of the config in force at
 * its size. A signature line by any other key (an org that joined later, a key revoked before
 * the checkpoint) is an unknown signer of the signed note: ignored, not counted, and its
 * signature not even checked (C2SP signed-note). */

static uint64_t cp_size(json_t *ex, size_t i) {
    const char *note = json_string_value(json_array_get(json_object_get(ex, "checkpoints"), i));
    checkpoint_note_t cn;
    err_t e = {0};
    if (!note || checkpoint_parse(note, strlen(note), &cn, &e) != 0) return 0;
    uint64_t sz = cn.cp.size;
    checkpoint_note_free(&cn);
    return sz;
}

/* the first checkpoint of at least `min` leaves; -1 when none */
static long cp_at_least(json_t *ex, uint64_t min) {
    json_t *cps = json_object_get(ex, "checkpoints");
    for (size_t i = 0; i < json_array_size(cps); i++)
        if (cp_size(ex, i) >= min) return (long)i;
    return -1;
}

/* log size after the block holding transaction id */
static uint64_t end_of_tx(json_t *ex, const uint8_t id[32]) {
    size_t b, p;
    if (locate(ex, id, &b, &p) != 0) return 0;
    return (uint64_t)json_integer_value(json_object_get(blk(ex, b), "first_log_index")) +
           (uint64_t)json_integer_value(json_object_get(blk(ex, b), "tx_count"));
}

/* Appends to checkpoint i a witness cosignature in the service's format (a signed-note
 * Ed25519 line named after the org) made with sk; corrupt: one character of the signature
 * flipped. */
static int add_cosig(json_t *ex, size_t i, const char *org, const uint8_t sk[64], int corrupt) {
    json_t *cps = json_object_get(ex, "checkpoints");
    const char *note = json_string_value(json_array_get(cps, i));
    checkpoint_signer_t s;
    err_t e = {0};
    char *out = NULL;
    size_t ol = 0;
    if (!note || checkpoint_signer_init(&s, org, sk, &e) != 0) return -1;
    int rc = checkpoint_sign(note, strlen(note), &s, &out, &ol, &e);
    checkpoint_signer_wipe(&s);
    if (rc != 0) {
        printf("#   cosign as %s: %s\n", org, e.message);
        return -1;
    }
    if (corrupt) {
        /* the new line, "\u2014 <org> <base64>\n", follows the old note */
        char *sig = out + strlen(note) + 3 + 1 + strlen(org) + 1 + 10;
        *sig = *sig == 'A' ? 'B' : 'A';
    }
    json_array_set_new(cps, i, json_string(out));
    free(out);
    return 0;
}

/* removes the signature line `line` from checkpoint i */
static int drop_cosig(json_t *ex, size_t i, const char *line) {
    json_t *cps = json_object_get(ex, "checkpoints");
    char *note = strdup(json_string_value(json_array_get(cps, i)));
    char *l = strstr(note, line), *nl = l ? strchr(l, '\n') : NULL;
    if (!nl) {
        free(note);
        return -1;
    }
    memmove(l, nl + 1, strlen(nl + 1) + 1);
    json_array_set_new(cps, i, json_string(note));
    free(note);
    return 0;
}

typedef struct witness_case {
    const char *name;
    int who;    /* 0 = org C (registered after checkpoint S), 1 = A's admin key (revoked) */
    int at;     /* 0 = S (before C joined), 1 = T (after C joined, before the revocation),
                 * 2 = R (after A's admin key was revoked) */
    int op;     /* 0 = add a valid line, 1 = add a line with a bad signature, 2 = remove A's */
    int fails;  /* verify must fail (a known witness key whose signature does not verify) */
    long delta; /* otherwise: the cosignature count minus the unaltered export's */
} witness_case_t;

static const witness_case_t witness_cases[] = {
    {"later org on a checkpoint before it joined", 0, 0, 0, 0, 0},
    {"later org, bad signature, before it joined", 0, 0, 1, 0, 0},
    {"later org on a checkpoint after it joined", 0, 1, 0, 0, 1},
    {"later org, bad signature, after it joined", 0, 1, 1, 1, 0},
    {"revoked key on a checkpoint after the revocation", 1, 2, 0, 0, 0},
    {"revoked key, bad signature, after the revocation", 1, 2, 1, 0, 0},
    {"same key on a checkpoint before the revocation", 1, 1, 0, 0, 1},
    {"same key, bad signature, before the revocation", 1, 1, 1, 1, 0},
    {"its real cosignature before the revocation removed", 1, 0, 2, 0, -1},
};

static void test_witness_config_in_force(void) {
    err_t e = {0};
    uint8_t c_id[32], r_id[32], a_sk[64], a_pk[32], c_sk[64], c_pk[32];
    json_t *st = NULL, *co = NULL, *ex = NULL;
    /* S: A cosigns the latest checkpoint; then C joins, then A's admin key is revoked */
    REQUIRE(ledger_cosign(pool, A, NULL, &co, &e) == 0);
    char a_line[256];
    snprintf(a_line, sizeof a_line, "%s", json_string_value(json_object_get(co, "signature_line")));
    json_decref(co);
    REQUIRE(ledger_register_org(pool, bus, C, NULL, "club", 10000, &st, &e) == 0);
    CHECK_STR(code_of(st), "VALID");
    REQUIRE(ledger_unhex(json_string_value(json_object_get(st, "tx_id")), c_id, 32) == 0);
    json_decref(st);
    REQUIRE(ledger_org_key(pool, A, "admin", a_sk, a_pk, &e) == 0);
    REQUIRE(ledger_org_key(pool, C, "admin", c_sk, c_pk, &e) == 0);
    REQUIRE(ledger_revoke_key(pool, bus, a_pk, "witness test", 10000, &st, &e) == 0);
    CHECK_STR(code_of(st), "VALID");
    REQUIRE(ledger_unhex(json_string_value(json_object_get(st, "tx_id")), r_id, 32) == 0);
    json_decref(st);

    REQUIRE(ledger_export(pool, &ex, &e) == 0);
    ledger_verify_report_t rep;
    int rc = ledger_verify_export(ex, NULL, &rep, &e);
    if (rc != 0) printf("#   verify: %s\n", e.message);
    CHECK(rc == 0);
    size_t base = rep.cosignatures;
    uint64_t c_end = end_of_tx(ex, c_id), r_end = end_of_tx(ex, r_id);
    long idx[3] = {-1, cp_at_least(ex, c_end), cp_at_least(ex, r_end)};
    json_t *cps = json_object_get(ex, "checkpoints");
    for (size_t i = 0; i < json_array_size(cps); i++)
        if (strstr(json_string_value(json_array_get(cps, i)), a_line)) idx[0] = (long)i;
    printf("# witnesses: %zu cosignatures; S = checkpoint %ld (size %" PRIu64
           "), C joined at %" PRIu64 ", T = %ld, A revoked at %" PRIu64 ", R = %ld\n",
           base, idx[0], idx[0] >= 0 ? cp_size(ex, (size_t)idx[0]) : 0, c_end, idx[1], r_end,
           idx[2]);
    /* S before C's config block, T between it and the revocation, R after that */
    REQUIRE(rc == 0 && c_end > 0 && r_end > c_end && idx[0] >= 0 && idx[1] >= 0 && idx[2] >= 0);
    REQUIRE(cp_size(ex, (size_t)idx[0]) < c_end && cp_size(ex, (size_t)idx[1]) < r_end);
    for (size_t i = 0; i < sizeof witness_cases / sizeof witness_cases[0]; i++) {
        const witness_case_t *c = &witness_cases[i];
        json_t *x = json_deep_copy(ex);
        size_t at = (size_t)idx[c->at];
        int mrc = c->op == 2 ? drop_cosig(x, at, a_line)
                             : add_cosig(x, at, c->who ? A : C, c->who ? a_sk : c_sk, c->op);
        CHECK(mrc == 0);
        err_t ve = {0};
        int vrc = mrc == 0 ? ledger_verify_export(x, NULL, &rep, &ve) : -1;
        json_decref(x);
        printf("# %-52s -> %s\n", c->name,
               vrc == 0        ? "valid"
               : ve.message[0] ? ve.message
                               : "(not built)");
        if (mrc != 0) continue;
        if (c->fails) {
            CHECK(vrc != 0);
            char want[64];
            snprintf(want, sizeof want, "checkpoint %zu ", at);
            CHECK(strstr(ve.message, want) != NULL);
            CHECK(strstr(ve.message, c->who ? A : C) != NULL);
            CHECK_STR(ve.field, "checkpoint");
        } else {
            CHECK(vrc == 0);
            if (vrc == 0) CHECK_EQ_INT((long)rep.cosignatures - (long)base, c->delta);
        }
    }
    sodium_memzero(a_sk, sizeof a_sk);
    sodium_memzero(c_sk, sizeof c_sk);
    json_decref(ex);
}

/* ---- rewrites a holder of the export can make without any key (issue 17, items 1-2) ------ */

static void set_hex(json_t *o, const char *field, const uint8_t h[32]) {
    char hex[65];
    ledger_hex(h, 32, hex);
    json_object_set_new(o, field, json_string(hex));
}

/* Rewrites the blocks of ex as a holder of the export could: every block timestamp shifted by
 * shift_ms and, when merge >= 0, blocks merge and merge + 1 made one block; then recomputes with
 * the engine everything the replay checks (validation codes, data/validation/write-set roots,
 * header hashes, prev-hash links, numbers, log indexes). Envelopes and checkpoints stay as
 * signed. *changed: the validation codes that changed. */
static int reforge(json_t *ex, int64_t shift_ms, long merge, size_t *changed) {
    json_t *old = json_object_get(ex, "blocks"), *nb = json_array();
    for (size_t b = 0; b < json_array_size(old); b++) {
        json_t *o = json_array_get(old, b);
        if ((long)b == merge + 1 && json_array_size(nb) > 0)
            json_array_extend(json_object_get(json_array_get(nb, json_array_size(nb) - 1), "txs"),
                              json_object_get(o, "txs"));
        else
            json_array_append_new(nb, json_deep_copy(o));
    }
    ledger_config_t cfg = {0};
    ledger_kvmap_t *versions = ledger_kvmap_new(), *seen = ledger_kvmap_new();
    uint8_t prev[32] = {0};
    uint64_t first = 0;
    int rc = versions && seen ? 0 : -1;
    *changed = 0;
    for (size_t b = 0; rc == 0 && b < json_array_size(nb); b++) {
        json_t *o = json_array_get(nb, b), *txs = json_object_get(o, "txs");
        size_t n = json_array_size(txs);
        uint8_t **env = calloc(n, sizeof *env);
        size_t *lens = calloc(n, sizeof *lens);
        for (size_t i = 0; i < n; i++) {
            json_t *t = json_array_get(txs, i);
            size_t cap = strlen(json_string_value(json_object_get(t, "envelope"))) + 1;
            env[i] = malloc(cap);
            lens[i] = env_of(t, env[i], cap);
        }
        int64_t ts = (int64_t)json_integer_value(json_object_get(o, "timestamp_ms")) + shift_ms;
        ledger_block_msg_t m = {
            .number = b, .timestamp_ms = ts, .n = n, .env = (const uint8_t **)env, .env_len = lens};
        ledger_block_result_t res = {0};
        err_t e = {0};
        if (ledger_validate_block(&m, prev, first, &cfg, versions, seen, &res, &e) != 0) {
            printf("#   reforge block %zu: %s\n", b, e.message);
            rc = -1;
        } else {
            json_object_set_new(o, "number", json_integer((json_int_t)b));
            json_object_set_new(o, "timestamp_ms", json_integer(ts));
            json_object_set_new(o, "tx_count", json_integer((json_int_t)n));
            json_object_set_new(o, "first_log_index", json_integer((json_int_t)first));
            set_hex(o, "prev_hash", res.hdr.prev_hash);
            set_hex(o, "data_root", res.hdr.data_root);
            set_hex(o, "validation_root", res.hdr.validation_root);
            set_hex(o, "writeset_hash", res.hdr.writeset_hash);
            set_hex(o, "header_hash", res.header_hash);
            for (size_t i = 0; i < n; i++) {
                json_t *t = json_array_get(txs, i);
                const char *was = json_string_value(json_object_get(t, "validation_code"));
                const char *now = ledger_code_name(res.tx[i].code);
                if (!was || strcmp(was, now) != 0) (*changed)++;
                json_object_set_new(t, "validation_code", json_string(now));
            }
            memcpy(prev, res.header_hash, 32);
            first += n;
        }
        ledger_block_result_free(&res);
        for (size_t i = 0; i < n; i++)
            free(env[i]);
        free(env);
        free(lens);
    }
    ledger_config_free(&cfg);
    ledger_kvmap_free(versions);
    ledger_kvmap_free(seen);
    json_object_set_new(ex, "blocks", nb);
    return rc;
}

/* Both rewrites of the fault-injection run recompute every hash the replay checks; only what
 * the log signed can tell: they must fail with the real log key pinned. */
static void test_rewrites_fail(void) {
    size_t first_blk = 0, first_pos = 0;
    REQUIRE(g_ex != NULL && locate(g_ex, first_id, &first_blk, &first_pos) == 0 && first_blk > 0);
    const char *key = json_string_value(json_object_get(g_ex, "log_public_key"));
    ledger_verify_report_t rep;
    err_t e = {0};
    int rc = ledger_verify_export(g_ex, key, &rep, &e);
    if (rc != 0) printf("#   verify: %s\n", e.message);
    CHECK(rc == 0);
    struct {
        const char *name;
        int64_t shift;
        long merge;
    } rw[] = {{"every block timestamp + 1 day", 86400000, -1},
              {"blocks merged (moving the write the put read), validation re-run", 0,
               (long)first_blk - 1}};
    for (size_t i = 0; i < sizeof rw / sizeof rw[0]; i++) {
        json_t *x = json_deep_copy(g_ex);
        size_t changed = 0;
        CHECK(reforge(x, rw[i].shift, rw[i].merge, &changed) == 0);
        err_t ve = {0};
        rc = ledger_verify_export(x, key, &rep, &ve);
        printf("# %s (%zu codes changed) -> %s\n", rw[i].name, changed,
               rc == 0 ? "ledger valid" : ve.message);
        CHECK(rc != 0);
        CHECK_STR(ve.field, "checkpoint");
        json_decref(x);
    }
    /* the merge moved the first write (new version), so the put that read it conflicts */
    json_t *x = json_deep_copy(g_ex);
    size_t changed = 0;
    CHECK(reforge(x, 0, (long)first_blk - 1, &changed) == 0);
    CHECK(changed > 0);
    json_decref(x);
}

/* keeps blocks [0, nb) and the checkpoints of at most their log size, dropping the one of
 * exactly that size when drop_head */
static void cut(json_t *ex, size_t nb, int drop_head) {
    json_t *blocks = json_object_get(ex, "blocks");
    while (json_array_size(blocks) > nb)
        json_array_remove(blocks, json_array_size(blocks) - 1);
    json_t *last = json_array_get(blocks, nb - 1);
    uint64_t end = (uint64_t)json_integer_value(json_object_get(last, "first_log_index")) +
                   (uint64_t)json_integer_value(json_object_get(last, "tx_count"));
    json_t *cps = json_object_get(ex, "checkpoints");
    for (size_t i = json_array_size(cps); i-- > 0;) {
        uint64_t sz = cp_size(ex, i);
        if (sz > end || (drop_head && sz == end)) json_array_remove(cps, i);
    }
}

/* With the log key pinned: an export without checkpoints, or cut short with its head
 * checkpoint dropped, fails; one cut cleanly at an earlier checkpoint (a rollback) verifies
 * unless --min-size asks for more. */
static void test_pinned_needs_head_checkpoint(void) {
    REQUIRE(g_ex != NULL);
    const char *key = json_string_value(json_object_get(g_ex, "log_public_key"));
    size_t nb = json_array_size(json_object_get(g_ex, "blocks"));
    REQUIRE(nb > 2);
    ledger_verify_report_t rep;
    err_t e = {0};
    json_t *x = json_deep_copy(g_ex);
    json_object_set_new(x, "checkpoints", json_array());
    int rc = ledger_verify_export(x, key, &rep, &e);
    printf("# no checkpoints -> %s\n", rc == 0 ? "ledger valid" : e.message);
    CHECK(rc != 0);
    /* an export made before checkpoints carried block lines: replayed only when asked to */
    ledger_verify_opts_t legacy = {.allow_unbound = 1};
    err_t e1 = {0};
    CHECK(ledger_verify_export_opts(x, &legacy, &rep, &e1) == 0);
    CHECK_EQ_INT(rep.unbound_blocks, nb);
    json_decref(x);

    x = json_deep_copy(g_ex);
    cut(x, nb - 1, 1);
    err_t e2 = {0};
    rc = ledger_verify_export(x, key, &rep, &e2);
    printf("# cut short, head checkpoint dropped -> %s\n", rc == 0 ? "ledger valid" : e2.message);
    CHECK(rc != 0);
    CHECK_STR(e2.field, "checkpoint");
    json_decref(x);

    x = json_deep_copy(g_ex);
    cut(x, nb - 1, 0);
    err_t e3 = {0};
    rc = ledger_verify_export(x, key, &rep, &e3);
    if (rc != 0) printf("#   verify: %s\n", e3.message);
    CHECK(rc == 0);
    json_t *last = json_array_get(json_object_get(g_ex, "blocks"), nb - 1);
    uint64_t full = (uint64_t)json_integer_value(json_object_get(last, "first_log_index")) +
                    (uint64_t)json_integer_value(json_object_get(last, "tx_count"));
    ledger_verify_opts_t o = {.log_key_hex = key, .min_size = full};
    err_t e4 = {0};
    rc = ledger_verify_export_opts(x, &o, &rep, &e4);
    printf("# rolled back, --min-size %" PRIu64 " -> %s\n", full,
           rc == 0 ? "ledger valid" : e4.message);
    CHECK(rc != 0);
    CHECK_STR(e4.field, "min_size");
    json_decref(x);
    err_t e5 = {0};
    CHECK(ledger_verify_export_opts(g_ex, &o, &rep, &e5) == 0);
}

/* More admin identities in force than lines a note may carry (CHECKPOINT_MAX_SIGS): a witness
 * registered after the first 31 still counts. */
static void test_many_witnesses(void) {
    err_t e = {0};
    char org[32] = "";
    for (int i = 0; i < CHECKPOINT_MAX_SIGS; i++) {
        json_t *st = NULL;
        snprintf(org, sizeof org, "vw%d-%d", (int)getpid(), i);
        REQUIRE(ledger_register_org(pool, bus, org, NULL, "club", 10000, &st, &e) == 0);
        CHECK_STR(code_of(st), "VALID");
        json_decref(st);
    }
    uint8_t sk[64], pk[32];
    REQUIRE(ledger_org_key(pool, org, "admin", sk, pk, &e) == 0);
    json_t *ex = NULL;
    REQUIRE(ledger_export(pool, &ex, &e) == 0);
    size_t last = json_array_size(json_object_get(ex, "checkpoints")) - 1;
    ledger_verify_report_t rep;
    int rc = ledger_verify_export(ex, NULL, &rep, &e);
    CHECK(rc == 0);
    size_t base = rep.cosignatures;
    json_t *x = json_deep_copy(ex);
    CHECK(add_cosig(x, last, org, sk, 0) == 0);
    rc = ledger_verify_export(x, NULL, &rep, &e);
    if (rc != 0) printf("#   verify: %s\n", e.message);
    CHECK(rc == 0);
    printf("# the %dth witness org: %zu -> %zu cosignatures\n", CHECKPOINT_MAX_SIGS + 2, base,
           rep.cosignatures);
    CHECK_EQ_INT(rep.cosignatures, base + 1);
    json_decref(x);
    x = json_deep_copy(ex);
    CHECK(add_cosig(x, last, org, sk, 1) == 0);
    CHECK(ledger_verify_export(x, NULL, &rep, &e) != 0);
    CHECK(strstr(e.message, org) != NULL);
    json_decref(x);
    sodium_memzero(sk, sizeof sk);
    json_decref(ex);
}

/* ---- an export of a running ledger (issue 17, item 3) ------------------------------------- */

static atomic_int load_done;
static int load_ok;

/* commits one-transaction blocks (each submit pumps its block) until told to stop */
static void *load_thread(void *arg) {
    (void)arg;
    char am[48], key[64];
    snprintf(am, sizeof am, "%s/member", A);
    const char *sa[] = {am, NULL};
    for (int i = 0; i < 40 && !atomic_load(&load_done); i++) {
        snprintf(key, sizeof key, "%s/load-%d", tag, i);
        json_t *spec = json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "type", "data.put", "creator", A,
                                 "writes", "key", key, "value", "under load");
        uint8_t id[32];
        json_t *st = submit(spec, sa, id);
        json_decref(spec);
        if (st && strcmp(code_of(st), "VALID") == 0) load_ok++;
        json_decref(st);
    }
    atomic_store(&load_done, 1);
    return NULL;
}

/* Blocks commit (with their checkpoints) while the export runs: every export must verify with
 * the log key pinned, and the load must have moved the chain between exports. */
static void test_export_under_load(void) {
    pthread_t th;
    atomic_store(&load_done, 0);
    REQUIRE(pthread_create(&th, NULL, load_thread, NULL) == 0);
    int exports = 0, bad = 0, stream_exports = 0;
    size_t first = 0, last = 0;
    while (!atomic_load(&load_done) || exports < 3) {
        json_t *ex = NULL;
        err_t e = {0};
        ledger_verify_report_t rep;
        if (exports % 2 == 1) { /* the streamed export (v2), verified as a stream */
            char *buf = NULL;
            size_t len = 0;
            ledger_export_stats_t st;
            FILE *in = NULL;
            if (export_stream(&buf, &len, &st, &e) != 0 || !(in = fmemopen(buf, len, "r")) ||
                ledger_verify_stream(in, &(ledger_verify_opts_t){0}, &rep, &e) != 0)
                if (bad++ == 0) printf("#   stream export %d: %s\n", exports, e.message);
            if (in) fclose(in);
            free(buf);
            stream_exports++;
            exports++;
            continue;
        }
        if (ledger_export(pool, &ex, &e) != 0) {
            printf("#   export: %s\n", e.message);
            bad++;
            break;
        }
        const char *key = json_string_value(json_object_get(ex, "log_public_key"));
        if (ledger_verify_export(ex, key, &rep, &e) != 0) {
            if (bad++ == 0) printf("#   export %d: %s\n", exports, e.message);
        }
        size_t nb = json_array_size(json_object_get(ex, "blocks"));
        if (exports == 0) first = nb;
        last = nb;
        json_decref(ex);
        exports++;
    }
    atomic_store(&load_done, 1);
    pthread_join(th, NULL);
    printf("# %d exports under load (%d streamed; blocks %zu -> %zu, %d txs committed), %d failed "
           "verify\n",
           exports, stream_exports, first, last, load_ok, bad);
    CHECK(stream_exports > 0);
    CHECK_EQ_INT(bad, 0);
    CHECK(load_ok > 0 && last > first);
}

int main(void) {
    log_init(LOG_WARN, 0, "test_ledger_verify");
    const char *db_url = g_db_url = TEST_ENV("RECIPROCAL_TEST_DATABASE_URL");
    const char *nats_url = TEST_ENV("RECIPROCAL_TEST_NATS_URL");
    if (!db_url || !nats_url) {
        RUN(test_build_chain);
        TEST_DONE();
    }
    if (sodium_init() < 0) return 1;
    err_t ce = {0};
    if (ledger_settings_load(&g_cfg, NULL, &ce) != 0 || !g_cfg.kek.set) {
        printf("not ok 1 - RECIPROCAL_LEDGER_KEK from tests/run.sh: %s\n", ce.message);
        return 1;
    }
    ledger_configure(&g_cfg);
    snprintf(tag, sizeof tag, "v%d", (int)getpid());
    snprintf(A, sizeof A, "va%d", (int)getpid());
    snprintf(B, sizeof B, "vb%d", (int)getpid());
    snprintf(C, sizeof C, "vc%d", (int)getpid());
    err_t e = {0};
    pool = db_pool_open(db_url, 4, &e);
    bus = bus_connect(nats_url, "test_ledger_verify", &e);
    if (!pool || !bus) {
        printf("# setup: %s\n", e.message);
        return 1;
    }
    RUN(test_build_chain);
    RUN(test_tamper_table);
    RUN(test_first_bad_named);
    RUN(test_consistent_alteration);
    RUN(test_rewrites_fail);
    RUN(test_pinned_needs_head_checkpoint);
    RUN(test_witness_config_in_force);
    RUN(test_many_witnesses);
    RUN(test_export_under_load);
    json_decref(g_ex);
    bus_close(bus);
    db_pool_close(pool);
    bus_shutdown_library();
    TEST_DONE();
}
