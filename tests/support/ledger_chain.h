/* ledger_chain: synthetic ledger exports (reciprocal-ledger-export/v2) for tests, built with the
 * ledger's own engine (no PostgreSQL, no NATS): each block validated by ledger_validate_block,
 * written as it goes, followed by its signed checkpoint carrying the block line. Used by
 * test_ledger_stream (large chains, also as v1 documents) and test_recount (a proposal's records).
 * The chain owns its replay state, the log signer and its files; ledger_chain_close frees them. */
#ifndef TESTS_SUPPORT_LEDGER_CHAIN_H
#define TESTS_SUPPORT_LEDGER_CHAIN_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "lib/ledger/checkpoint.h"
#include "lib/ledger/merkle.h"
#include "services/ledger/engine.h"

typedef struct ledger_chain {
    ledger_config_t cfg;
    ledger_kvmap_t *versions, *seen;
    merkle_range_t range;
    uint8_t prev[32];
    uint64_t number;
    checkpoint_signer_t log;
    int64_t t0_ms, step_ms; /* block n's timestamp: t0_ms + n * step_ms */
    FILE *f;                /* v2, written as it goes */
    FILE *v1;               /* v1 document: its blocks written as they go, or NULL */
    json_t *cps;            /* v1: the notes, written after the blocks */
    int any_code; /* 1: a transaction the engine does not find VALID is recorded with its code
                     (chains that plant wrong codes); 0: it fails ledger_chain_add_block */
} ledger_chain_t;

/* Opens path (v2, its header written) and, when v1_path is not NULL, a v1 document beside it;
 * log_sk signs the checkpoints (log_pk its public key, named in the headers). 0 or -1 + err;
 * close the chain either way. */
int ledger_chain_open(ledger_chain_t *c, const char *path, const char *v1_path,
                      const uint8_t log_pk[32], const uint8_t log_sk[64], int64_t t0_ms,
                      int64_t step_ms, err_t *e);
/* Validates the n envelopes as the next block (every transaction must be VALID unless any_code:
 * another code is printed and fails), writes it and its signed checkpoint. 0 or -1 + err. */
int ledger_chain_add_block(ledger_chain_t *c, uint8_t **env, size_t *lens, size_t n, err_t *e);
/* The envelope of spec (a ledger_build_tx spec, created with pks[0]) endorsed by the nsig keys
 * (pks[i], sks[i]); *env (caller frees) and *len. 0 or -1 + err. */
int ledger_chain_envelope(json_t *spec, const uint8_t (*pks)[32], const uint8_t (*sks)[64],
                          size_t nsig, uint8_t **env, size_t *len, err_t *e);
/* One transaction of spec (consumed; NULL fails) created and endorsed by (pk, sk), as a block
 * of its own. 0 or -1 + err. */
int ledger_chain_add_tx(ledger_chain_t *c, json_t *spec, const uint8_t pk[32], const uint8_t sk[64],
                        err_t *e);
/* One config.update by the network, endorsed by (pk, sk) (the network's admin key): orgs[i]
 * with its admin identity pks[i], all in one transaction. 0 or -1 + err. */
int ledger_chain_config_orgs(ledger_chain_t *c, const char *const *orgs, const uint8_t (*pks)[32],
                             size_t n, const uint8_t pk[32], const uint8_t sk[64], err_t *e);
/* Ends the files (the v1 document's checkpoints when rc is 0) and frees the chain: rc, or -1
 * when a file could not be written. */
int ledger_chain_close(ledger_chain_t *c, int rc);

#endif
