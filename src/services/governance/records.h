/* records: the ledger transactions of a network proposal (docs/governance.md "Ledger records"),
 * built in one place so that what the service submits is what `reciprocal governance tally`
 * (recount.c) reads. Each builder returns the transaction spec the ledger's `endorse` operation
 * takes (and ledger_build_tx builds): {"type", "creator", "nonce", "payload", "writes":[{key,
 * value}], "sign_as":[{"org", "role":"member"}]} — a new reference, NULL on a bad argument or
 * out of memory. Arguments are borrowed (JSON ones are copied or referenced, never stolen). The
 * payload's members are exactly the documented ones; the ledger stores it as canonical JSON
 * (sorted keys, compact). Pure: no I/O. */
#ifndef SERVICES_GOVERNANCE_RECORDS_H
#define SERVICES_GOVERNANCE_RECORDS_H

#include <jansson.h>
#include <stdint.h>

#include "services/governance/tally.h"

#define GOV_NETWORK_ORG "network" /* the ledger org that writes proposal, snapshot, result */

/* governance.proposal. rule: the counting rule (gov_rule_to_json); options: array of option ids
 * (plurality) or NULL for []; the two digests: hex SHA-256 (types.c gov_actions_hash, and of the
 * canonical {"body","title"}). */
json_t *gov_record_proposal(const char *proposal, const char *type, const char *proposer,
                            json_t *rule, json_t *options, const char *content_sha256,
                            const char *actions_sha256, int64_t created_at_ms);
/* governance.eligible_snapshot. voters: [{voter, weight, delegate_all?, delegate_type?}] in any
 * order (written sorted by voter; a null delegate is left out). */
json_t *gov_record_snapshot(const char *proposal, int64_t opened_at_ms, int64_t closes_at_ms,
                            json_t *voters);
/* governance.vote_cast, endorsed by the voter's member identity. reason_sha256: NULL = none. */
json_t *gov_record_vote(const char *proposal, const char *voter, const char *choice,
                        int64_t cast_at_ms, const char *reason_sha256);
/* governance.result: the tally as gov_tally_json. */
json_t *gov_record_result(const char *proposal, int64_t closed_at_ms, const gov_tally_t *t);

#endif
