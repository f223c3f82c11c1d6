/* governance: the governance service's one operation table (see service.h for the pattern).
 * Permissions: governance:vote (club administrators) proposes, sponsors, cancels its own and
 * casts its club's network vote; a signed-in member of a club reads and votes on its club's
 * proposals (the handler checks the eligible snapshot); the rule overrides, the clock-injected
 * sweep and a guardian's cancel are the network administrator's. API: docs/governance.md. */
#include "services/governance/governance.h"

#include "services/governance/execute.h"
#include "services/governance/gov_ledger.h"
#include "services/governance/graphql_governance.h"
#include "services/governance/lifecycle.h"
#include "services/governance/presigned.h"
#include "services/governance/proposals.h"
#include "services/governance/recount.h"
#include "services/governance/sweep.h"
#include "services/governance/types.h"
#include "services/governance/votes.h"

static const svc_op_t governance_ops[] = {
    {.name = "create_proposal",
     .method = "POST",
     .route = "/api/v1/governance/proposals",
     .status = 201,
     .access = SVC_PERM,
     .permission = "governance:vote",
     .validate = gov_validate_create,
     .handle = gov_create},
    {.name = "list_proposals",
     .method = "GET",
     .route = "/api/v1/governance/proposals",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = gov_validate_list,
     .handle = gov_list},
    {.name = "get_proposal",
     .method = "GET",
     .route = "/api/v1/governance/proposals/{id}",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = gov_validate_ref,
     .handle = gov_get},
    {.name = "sponsor_proposal",
     .method = "POST",
     .route = "/api/v1/governance/proposals/{id}/sponsor",
     .status = 200,
     .access = SVC_PERM,
     .permission = "governance:vote",
     .validate = gov_validate_action,
     .handle = gov_sponsor},
    {.name = "cancel_proposal",
     .method = "POST",
     .route = "/api/v1/governance/proposals/{id}/cancel",
     .status = 200,
     .access = SVC_PERM,
     .permission = "governance:vote",
     .validate = gov_validate_action,
     .handle = gov_cancel},
    {.name = "execute_proposal",
     .method = "POST",
     .route = "/api/v1/governance/proposals/{id}/execute",
     .status = 200,
     .access = SVC_PERM,
     .permission = "governance:vote",
     .validate = gov_validate_action,
     .handle = gov_execute},
    {.name = "cast_vote",
     .method = "POST",
     .route = "/api/v1/governance/proposals/{id}/votes",
     .status = 201,
     .access = SVC_SIGNED_IN,
     .validate = gov_validate_cast,
     .handle = gov_cast},
    {.name = "list_votes",
     .method = "GET",
     .route = "/api/v1/governance/proposals/{id}/votes",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = gov_validate_votes_list,
     .handle = gov_votes_list},
    {.name = "put_delegation",
     .method = "PUT",
     .route = "/api/v1/governance/delegations",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = gov_validate_delegation,
     .handle = gov_delegate},
    {.name = "governance_sweep",
     .method = "POST",
     .route = "/api/v1/governance/sweep",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = gov_validate_sweep,
     .handle = gov_sweep},
    /* the ledger records job's pass (sweep.c), no REST route: POST /sweep runs it too */
    {.name = "governance_ledger_pass",
     .access = SVC_NETWORK_ADMIN,
     .validate = gov_validate_ledger_pass,
     .handle = gov_ledger_pass_op},
    {.name = "list_network_terms",
     .method = "GET",
     .route = "/api/v1/governance/network-terms",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = gov_validate_terms,
     .handle = gov_network_terms},
    {.name = "list_proposal_types",
     .method = "GET",
     .route = "/api/v1/governance/types",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = gov_validate_types_list,
     .handle = gov_types_list},
    {.name = "set_proposal_type_rule",
     .method = "PUT",
     .route = "/api/v1/governance/types/{type}",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = gov_validate_type_put,
     .handle = gov_type_put},
    /* pre-signed votes of clubs holding their own ledger keys (presigned.h) */
    {.name = "prepare_vote",
     .method = "POST",
     .route = "/api/v1/governance/proposals/{id}/votes/prepare",
     .status = 200,
     .access = SVC_PERM,
     .permission = "governance:vote",
     .validate = gov_validate_prepare,
     .handle = gov_prepare_vote},
    /* a club's weight in network votes ("one club one vote by default, optional weights") */
    {.name = "set_club_weight",
     .method = "PUT",
     .route = "/api/v1/governance/weights/{id}",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = gov_validate_weight_put,
     .handle = gov_weight_put},
};

#define F(m) CFG_FIELD(governance_settings_t, m)
/* clang-format off */
static const cfg_var_t governance_vars[] = {
    {"RECIPROCAL_GOVERNANCE_SWEEP_SECONDS", CFG_INT, F(sweep_s), 0, 86400, "60",
     "How often the governance service opens, closes, queues, executes and expires proposals "
     "whose time came, in seconds (0 = never; then call POST /api/v1/governance/sweep).", 0},
    {"RECIPROCAL_GOVERNANCE_LEDGER_SECONDS", CFG_INT, F(ledger_s), 0, 3600, "1",
     "How often the governance service submits its pending ledger records (votes, proposals, "
     "snapshots, results) to the ledger, in seconds; each run drains the backlog in batches of "
     "100 (0 = only with the sweep).", 0},
};
/* clang-format on */
#undef F

/* serve: the kept signers follow the ledger's configuration changes, then the sweep */
static int governance_start(const svc_env_t *env, err_t *e) {
    if (gov_signers_follow(env, e) != 0) return -1;
    return governance_sweep_start(env, e);
}

const svc_module_t governance_module = {
    .name = "governance",
    .schema = "governance",
    .ops = governance_ops,
    .n_ops = sizeof governance_ops / sizeof governance_ops[0],
    .graphql = gql_governance_bind,
    .start = governance_start,
    .stop = governance_sweep_stop,
    .cli = {GOV_RECOUNT_CLI_USAGE, gov_recount_cli}, /* reciprocal governance tally ... */
    .config = {governance_vars, sizeof governance_vars / sizeof governance_vars[0],
               sizeof(governance_settings_t)},
    /* eligible clubs and members and the actions through member and reciprocal, the network's
     * records on the ledger (docs/governance.md) */
    .nats = {.calls = (const char *const[]){"member", "reciprocal", "ledger", NULL},
             /* the ledger's configuration changes drop the kept signers (presigned.h) */
             .subscribes = (const char *const[]){"events." GOV_LEDGER_CONFIG_EVENT, NULL}},
};

const governance_settings_t *governance_settings(const svc_env_t *env) {
    return svc_settings(env, &governance_module);
}
