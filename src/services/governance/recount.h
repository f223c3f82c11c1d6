/* recount: `reciprocal governance tally <export> <proposal>`, the offline recount of a network
 * proposal from a ledger export (docs/governance.md "Offline recount"). No database, no network.
 * First the export is verified exactly as `reciprocal ledger verify` does it: the ledger
 * module's own command, reached through the module contract (svc_find_module("ledger")->cli),
 * on the same open file (/dev/fd/N, so a file renamed in between cannot be swapped in). Then the
 * export (reciprocal-ledger-export/v2 read a line at a time, or a v1 document) is read once more
 * for the proposal's VALID governance records (docs/governance.md "Ledger records"): its
 * governance.proposal, governance.eligible_snapshot and governance.result, and the
 * governance.vote_cast records in log order before the result; the last vote per voter cast
 * before closed_at_ms (latest cast_at_ms, then latest in the log) is counted with tally.c and
 * the canonical result compared with the recorded one. Owns the strings and JSON it collects
 * (gov_recount_free). */
#ifndef SERVICES_GOVERNANCE_RECOUNT_H
#define SERVICES_GOVERNANCE_RECOUNT_H

#include <stdio.h>

#include "core/err.h"
#include "core/service.h"
#include "services/governance/tally.h"

typedef struct gov_recount {
    json_t *proposal, *snapshot, *result; /* the records' payloads */
    json_t *votes;                        /* the counted votes [{voter, choice, cast_at_ms}] */
    size_t vote_records;                  /* VALID vote records of the proposal before the result */
    size_t superseded;                    /* of those, replaced by a later vote of the same voter */
    size_t after_close;                   /* cast at or after closed_at_ms: not counted */
    size_t after_result;                  /* in the log after the result record: not counted */
    gov_tally_t tally;                    /* the recount */
    char *recount, *recorded;             /* canonical JSON of the recount and of the record */
    int equal;                            /* recount == recorded, byte for byte */
} gov_recount_t;

/* Reads the export from f (v2 streamed or a v1 document; f at its start) and recounts proposal
 * into *r. Does NOT verify the export (gov_recount_cli does, first). 0 (r->equal tells the
 * verdict), or -1 + err: 422 naming the missing or malformed record, 400 "file" for an
 * unreadable export. *r is safe to gov_recount_free either way. */
int gov_recount_stream(FILE *f, const char *proposal, gov_recount_t *r, err_t *e);
void gov_recount_free(gov_recount_t *r);

/* `reciprocal governance tally EXPORT PROPOSAL [--log-key HEX] [--min-size N]
 * [--allow-unbound]` (the options go to the verification): exit status 0 when the export verifies
 * and the recount equals the recorded result (the tally printed), 1 when the export does not
 * verify, a record is missing or malformed, or the results differ (both printed), 2 for a usage
 * error or an unreadable file. argv[0] is "tally"; EXPORT must be a regular file (it is read
 * twice). The governance module's command: .cli = {GOV_RECOUNT_CLI_USAGE, gov_recount_cli}. */
int gov_recount_cli(const svc_env_t *env, int argc, char **argv);
#define GOV_RECOUNT_CLI_USAGE                                                                      \
    "  governance tally EXPORT PROPOSAL [--log-key HEX]  verify a ledger export and recount the "  \
    "proposal offline (exit 0 = equals the recorded result)\n"

#endif
