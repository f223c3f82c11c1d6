/* gov_e2e: test support shared by the governance end-to-end tests (tests/e2e/
 * test_governance_api.c, test_governance_ledger.c): a fresh network on a bootstrapped ledger,
 * clubs registered as ledger organisations, and the proposal's ledger records drained through
 * the sweep. The REST calls go to p as the global bearer (e2e_login_admin's network
 * administrator); the database reads and writes as the owner (RECIPROCAL_TEST_OWNER_URL). */
#ifndef TESTS_SUPPORT_GOV_E2E_H
#define TESTS_SUPPORT_GOV_E2E_H

#include <jansson.h>

#include "support/e2e.h"

/* Suspends every active club (as the database owner): a network snapshot then holds only the
 * clubs the test creates afterwards. 0 or -1. */
int gov_e2e_fresh_network(void);
/* gov_e2e_fresh_network, then POST /api/v1/ledger/bootstrap (200; a ledger bootstrapped before
 * answers 200 too). 0 or -1 (printing the refused answer). */
int gov_e2e_ledger_network(const e2e_proc_t *p);
/* A club created over REST (e2e_club: name, slug; id gets its id, 64 bytes) and registered as
 * ledger organisation org (POST /api/v1/ledger/orgs; public_keys: NULL = the server holds its
 * keys, else the JSON object text {"member": hex, "admin": hex} of a club holding its own).
 * *out (out may be NULL) gets the registration's answer (new reference). 0 or -1. */
int gov_e2e_ledger_club(const e2e_proc_t *p, const char *name, const char *slug, const char *org,
                        const char *public_keys, char *id, json_t **out);
/* The number of ledger records of proposal still pending (-1 when the database cannot be read);
 * print: each with its last error. Scoped to the proposal: a run's earlier tests leave records
 * that never reach the ledger (their clubs are no ledger organisations). */
long long gov_e2e_pending(const char *proposal, int print);
/* POST /api/v1/governance/sweep {as_of} until none of proposal's ledger records is pending (at
 * most tries passes, 250 ms apart: the result record waits for the votes' records): the number
 * still pending, each printed with its error when not 0. */
long long gov_e2e_drain(const e2e_proc_t *p, const char *proposal, const char *as_of, int tries);

#endif
