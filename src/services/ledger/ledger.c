/* ledger: the ledger service's one operation table and its command line (see ledger.h). */
#include "services/ledger/ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/ledger/api.h"
#include "services/ledger/batch.h"
#include "services/ledger/export.h"
#include "services/ledger/runner.h"
#include "services/ledger/settings.h"
#include "services/ledger/signer.h"
#include "services/ledger/validate.h"
#include "services/ledger/verify.h"

static const svc_op_t ledger_ops[] = {
    {.name = "bootstrap",
     .method = "POST",
     .route = "/api/v1/ledger/bootstrap",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = ledger_v_none,
     .handle = ledger_h_bootstrap},
    {.name = "register_org",
     .method = "POST",
     .route = "/api/v1/ledger/orgs",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = ledger_v_register_org,
     .handle = ledger_h_register_org},
    {.name = "revoke_key",
     .method = "POST",
     .route = "/api/v1/ledger/revocations",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = ledger_v_revoke,
     .handle = ledger_h_revoke},
    {.name = "config",
     .method = "GET",
     .route = "/api/v1/ledger/config",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:read",
     .validate = ledger_v_none,
     .handle = ledger_h_config},
    {.name = "endorse",
     .method = "POST",
     .route = "/api/v1/ledger/endorse",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:write",
     .validate = ledger_v_endorse,
     .handle = ledger_h_endorse},
    {.name = "submit",
     .method = "POST",
     .route = "/api/v1/ledger/transactions",
     .status = 202,
     .access = SVC_PERM,
     .permission = "ledger:write",
     .validate = ledger_v_submit,
     .handle = ledger_h_submit},
    {.name = "commit_status",
     .method = "GET",
     .route = "/api/v1/ledger/transactions/{tx_id}/status",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:read",
     .validate = ledger_v_status,
     .handle = ledger_h_status},
    {.name = "transaction",
     .method = "GET",
     .route = "/api/v1/ledger/transactions/{tx_id}",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:read",
     .validate = ledger_v_get_tx,
     .handle = ledger_h_get_tx},
    {.name = "block",
     .method = "GET",
     .route = "/api/v1/ledger/blocks/{number}",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:read",
     .validate = ledger_v_get_block,
     .handle = ledger_h_get_block},
    {.name = "checkpoint",
     .method = "GET",
     .route = "/api/v1/ledger/checkpoint",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:read",
     .validate = ledger_v_none,
     .handle = ledger_h_checkpoint},
    {.name = "proof_consistency",
     .method = "GET",
     .route = "/api/v1/ledger/proof/consistency",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:read",
     .validate = ledger_v_consistency,
     .handle = ledger_h_consistency},
    {.name = "proof_inclusion",
     .method = "GET",
     .route = "/api/v1/ledger/proof/inclusion",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:read",
     .validate = ledger_v_inclusion,
     .handle = ledger_h_inclusion},
    {.name = "evaluate",
     .method = "GET",
     .route = "/api/v1/ledger/state",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:read",
     .validate = ledger_v_evaluate,
     .handle = ledger_h_evaluate},
    {.name = "cosign",
     .method = "POST",
     .route = "/api/v1/ledger/witnesses/{org}/cosign",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:write",
     .validate = ledger_v_cosign,
     .handle = ledger_h_cosign},
    {.name = "export",
     .method = "GET",
     .route = "/api/v1/ledger/export",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:read",
     .validate = ledger_v_none,
     .handle = ledger_h_export},
    {.name = "events",
     .method = "GET",
     .route = "/api/v1/ledger/events",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:read",
     .validate = ledger_v_events,
     .handle = ledger_h_events},
    /* governance: who signs for a club and whether the ledger holds that key (signer.h) */
    {.name = "club_signer",
     .method = "GET",
     .route = "/api/v1/ledger/clubs/{id}/signer",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:read",
     .validate = ledger_v_club_signer,
     .handle = ledger_h_club_signer},
    /* governance votes: N transactions endorsed and submitted in one call (batch.h) */
    {.name = "submit_batch",
     .method = "POST",
     .route = "/api/v1/ledger/transactions/batch",
     .status = 200,
     .access = SVC_PERM,
     .permission = "ledger:write",
     .validate = ledger_v_submit_batch,
     .handle = ledger_h_submit_batch},
};

/* start hook: settings from the process configuration, the KEK check (no default: required
 * where the ledger runs), the streams, and the background cutter/committer. */
static int ledger_start(const svc_env_t *env, err_t *e) {
    ledger_configure(ledger_settings(env));
    if (ledger_require_kek(e) != 0) return -1;
    return ledger_runner_start(env->db, env->bus, e);
}

static void ledger_stop(void) {
    ledger_runner_stop();
}

#define F(m) CFG_FIELD(ledger_settings_t, m)
/* clang-format off */
static const cfg_var_t ledger_vars[] = {
    {"RECIPROCAL_LEDGER_KEK", CFG_KEY, F(kek), 0, 0,
     "",
     "Key-encryption key of the ledger: 32 random bytes in base64 (head -c 32 /dev/urandom | "
     "base64). Seals the clubs' Ed25519 ledger keys and the log's checkpoint key in PostgreSQL. "
     "No default: required where the ledger service runs (serve with ledger, `reciprocal "
     "ledger ...`).", CFG_REQUIRED},
    {"RECIPROCAL_LEDGER_ORIGIN", CFG_STR, F(origin), 0, 0,
     "reciprocal-clubs.example/ledger",
     "Origin line of the ledger's signed checkpoints (C2SP tlog-checkpoint); fixed for the life "
     "of a chain.", 0},
    {"RECIPROCAL_LEDGER_BLOCK_MAX_TXS", CFG_INT, F(block_max_txs), 1, 4096,
     "500",
     "Most transactions the ledger's block cutter puts in one block.", 0},
    {"RECIPROCAL_LEDGER_BLOCK_MS", CFG_INT, F(block_ms), 1, 10000,
     "20",
     "Longest the block cutter waits to fill a block, in milliseconds.", 0},
    {"RECIPROCAL_LEDGER_WITNESS_K", CFG_INT, F(witness_k), 1, 1024,
     "1",
     "Witness cosignatures a checkpoint needs before the blocks it covers count as final "
     "across clubs (k of n).", 0},
};
/* clang-format on */
#undef F

int ledger_settings_load(ledger_settings_t *out, cfg_getenv_fn get, err_t *e) {
    memset(out, 0, sizeof *out);
    return cfg_vars_load(ledger_vars, sizeof ledger_vars / sizeof ledger_vars[0], out, get, e);
}

const ledger_settings_t *ledger_settings(const svc_env_t *env) {
    return svc_settings(env, &ledger_module);
}

const svc_module_t ledger_module = {
    .name = "ledger",
    .schema = "ledger",
    .ops = ledger_ops,
    .n_ops = sizeof ledger_ops / sizeof ledger_ops[0],
    .start = ledger_start,
    .stop = ledger_stop,
    .config = {ledger_vars, sizeof ledger_vars / sizeof ledger_vars[0], sizeof(ledger_settings_t)},
    .cli = {"  ledger export FILE       stream the ledger chain to FILE (database; NDJSON v2)\n"
            "  ledger verify FILE [--log-key HEX]  check an exported chain offline\n",
            ledger_cli},
    /* its two streams (orderer.h: subjects ledger.tx, ledger.blocks); events "blockchain.*" */
    .nats = {.publishes = (const char *const[]){"events.blockchain.>", "ledger.>", NULL},
             .streams = (const char *const[]){"LEDGER_TX", "LEDGER_BLOCKS", NULL}},
};

/* export FILE: the chain streamed as reciprocal-ledger-export/v2 (export.h) from one snapshot;
 * written to FILE.tmp and renamed, so FILE is never a partial export */
static int cli_export(const cfg_t *cfg, const char *path) {
    err_t e = {0};
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    db_pool_t *db = db_pool_open(cfg->database_url, 1, &e);
    FILE *f = db ? fopen(tmp, "w") : NULL;
    ledger_export_stats_t st;
    int rc = 1;
    if (db && !f) err_set(&e, 500, "internal", "file", "cannot write %s", tmp);
    if (f && ledger_export_stream(db, cfg->database_url, f, &st, &e) == 0) rc = 0;
    if (f && fclose(f) != 0 && rc == 0) {
        err_set(&e, 500, "internal", "file", "cannot write %s", tmp);
        rc = 1;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        err_set(&e, 500, "internal", "file", "cannot rename %s to %s", tmp, path);
        rc = 1;
    }
    db_pool_close(db);
    if (rc != 0) {
        if (f) remove(tmp);
        fprintf(stderr, "reciprocal: ledger export: %s\n", e.message);
        return 1;
    }
    printf("exported the ledger to %s: %" PRIu64 " blocks, %" PRIu64 " transactions, %" PRIu64
           " checkpoints (" LEDGER_EXPORT_V2 ")\n",
           path, st.blocks, st.txs, st.checkpoints);
    return 0;
}

static int cli_verify(const char *path, const ledger_verify_opts_t *o) {
    err_t e = {0};
    ledger_verify_report_t rep;
    int rc = ledger_verify_file(path, o, &rep, &e);
    if (rc != 0 && strcmp(e.field, "file") == 0) {
        fprintf(stderr, "reciprocal: ledger verify: %s\n", e.message);
        return 2;
    }
    if (rc != 0) {
        fprintf(stderr, "reciprocal: ledger verify: INVALID: %s (%s)\n", e.message, e.field);
        return 1;
    }
    printf("ledger valid: %zu blocks, %zu transactions (%zu valid), %zu checkpoints, %zu "
           "witness cosignatures%s\n",
           rep.blocks, rep.txs, rep.valid_txs, rep.checkpoints, rep.cosignatures,
           o->log_key_hex ? "" : " (log key taken from the export; pass --log-key HEX to pin it)");
    if (rep.unbound_blocks)
        printf("WARNING: the last %zu blocks are not bound by a signed checkpoint "
               "(--allow-unbound)\n",
               rep.unbound_blocks);
    return 0;
}

/* verify FILE [--log-key HEX] [--min-size N] [--allow-unbound] [--threads N]: 0 with *o
 * filled, else -1 */
static int verify_args(int argc, char **argv, ledger_verify_opts_t *o) {
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--allow-unbound") == 0) {
            o->allow_unbound = 1;
        } else if (i + 1 < argc && strcmp(argv[i], "--log-key") == 0) {
            o->log_key_hex = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) {
            char *end = NULL;
            const char *v = argv[++i];
            unsigned long long t = strtoull(v, &end, 10);
            if (!*v || *v == '-' || *end || t < 1 || t > 256) return -1;
            o->threads = (size_t)t;
        } else if (i + 1 < argc && strcmp(argv[i], "--min-size") == 0) {
            char *end = NULL;
            const char *v = argv[++i];
            o->min_size = strtoull(v, &end, 10);
            if (!*v || *v == '-' || *end) return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

int ledger_cli(const svc_env_t *env, int argc, char **argv) {
    ledger_configure(ledger_settings(env));
    if (argc == 2 && strcmp(argv[0], "export") == 0) return cli_export(env->cfg, argv[1]);
    ledger_verify_opts_t o;
    if (argc >= 2 && strcmp(argv[0], "verify") == 0 && verify_args(argc, argv, &o) == 0)
        return cli_verify(argv[1], &o);
    fprintf(stderr, "usage: reciprocal ledger export FILE | reciprocal ledger verify FILE "
                    "[--log-key HEX] [--min-size N] [--allow-unbound] [--threads N]\n");
    return 2;
}
