/* test_ledger_verify: tamper tests for the offline verifier (issue 5, "Tests"). Builds a small
 * chain on the harness PostgreSQL/nats-server (a config.update, a two-endorsement data.put with
 * payload, read set and write set, a witness cosignature), exports it, then flips one byte in
 * each field kind of the export: block header fields (number, prev_hash, data_root,
 * validation_root, writeset_hash, timestamp_ms, header_hash), a transaction's envelope bytes,
 * creator, payload, read set, write set, endorsement signature and validation code, a config
 * transaction's org config, a checkpoint's note body, its log signature and a witness
 * cosignature. Every variant must fail, and the message must name the block/tx (or checkpoint)
 * and the field. Table-driven. The chain is shared with other binaries: everything relative. */
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "services/ledger/api.h"
#include "services/ledger/engine.h"
#include "services/ledger/settings.h"
#include "services/ledger/verify.h"
#include "test.h"

static db_pool_t *pool;
static bus_t *bus;
static cfg_t g_cfg;
static char A[32], B[32], tag[16];

/* where the interesting transactions landed in the export */
static size_t cfg_blk, cfg_pos, put_blk, put_pos, cp_idx;
static uint8_t put_id[32], cfg_id[32];
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
    printf("# chain: %zu blocks; put at block %zu tx %zu, config at block %zu tx %zu, "
           "checkpoint %zu\n",
           rep.blocks, put_blk, put_pos, cfg_blk, cfg_pos, cp_idx);
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

int main(void) {
    log_init(LOG_WARN, 0, "test_ledger_verify");
    const char *db_url = TEST_ENV("RECIPROCAL_TEST_DATABASE_URL");
    const char *nats_url = TEST_ENV("RECIPROCAL_TEST_NATS_URL");
    if (!db_url || !nats_url) {
        RUN(test_build_chain);
        TEST_DONE();
    }
    if (sodium_init() < 0) return 1;
    err_t ce = {0};
    if (cfg_load(&g_cfg, NULL, &ce) != 0 || !g_cfg.ledger_kek_set) {
        printf("not ok 1 - RECIPROCAL_LEDGER_KEK from tests/run.sh: %s\n", ce.message);
        return 1;
    }
    ledger_configure(&g_cfg);
    snprintf(tag, sizeof tag, "v%d", (int)getpid());
    snprintf(A, sizeof A, "va%d", (int)getpid());
    snprintf(B, sizeof B, "vb%d", (int)getpid());
    err_t e = {0};
    pool = db_pool_open(db_url, 4, &e);
    bus = bus_connect(nats_url, "test_ledger_verify", &e);
    if (!pool || !bus) {
        printf("# setup: %s\n", e.message);
        return 1;
    }
    RUN(test_build_chain);
    RUN(test_tamper_table);
    RUN(test_consistent_alteration);
    json_decref(g_ex);
    bus_close(bus);
    db_pool_close(pool);
    bus_shutdown_library();
    TEST_DONE();
}
