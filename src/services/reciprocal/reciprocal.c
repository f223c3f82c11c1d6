/* reciprocal: the reciprocal service's one operation table (see service.h for the pattern).
 * Permissions: agreement:propose (club administrators) for every agreement change, club:read
 * for reading the agreements of the caller's own club (row-level security shows a club only the
 * agreements it is a party to), agreement:sweep (network administrators only: "*") for the
 * scheduler's operations (agreement_sweep, visit_sweep). A network administrator changes an
 * agreement on behalf of a party by naming it with `club_id`. Visits: member:write (staff) or the
 * member themself to request, member:read (staff) or the member themself to read (their own only);
 * member:write (staff of the side the lifecycle names) for approve, confirm, decline, revoke, and
 * the member themself too for cancel; the clubs' public LOI keys are public. API:
 * docs/reciprocal.md. */
#include "services/reciprocal/reciprocal.h"

#include "services/reciprocal/graphql_agreements.h"
#include "services/reciprocal/graphql_visits.h"

#include "services/reciprocal/agreements.h"
#include "services/reciprocal/reciprocal_seed.h"
#include "services/reciprocal/sweep.h"
#include "services/reciprocal/visits.h"
#include "services/reciprocal/visits_door.h"
#include "services/reciprocal/visits_flow.h"
#include "services/reciprocal/visits_sweep.h"

static const svc_op_t reciprocal_ops[] = {
    {.name = "create_agreement",
     .method = "POST",
     .route = "/api/v1/agreements",
     .status = 201,
     .access = SVC_PERM,
     .permission = "agreement:propose",
     .validate = ag_validate_create,
     .handle = ag_create},
    {.name = "list_agreements",
     .method = "GET",
     .route = "/api/v1/agreements",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:read",
     .validate = ag_validate_list,
     .handle = ag_list},
    {.name = "agreement_sweep",
     .method = "POST",
     .route = "/api/v1/agreements/sweep",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = ag_validate_sweep,
     .handle = ag_sweep},
    {.name = "get_agreement",
     .method = "GET",
     .route = "/api/v1/agreements/{id}",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:read",
     .validate = ag_validate_ref,
     .handle = ag_get},
    {.name = "accept_agreement",
     .method = "POST",
     .route = "/api/v1/agreements/{id}/accept",
     .status = 200,
     .access = SVC_PERM,
     .permission = "agreement:propose",
     .validate = ag_validate_transition,
     .handle = ag_accept},
    {.name = "reject_agreement",
     .method = "POST",
     .route = "/api/v1/agreements/{id}/reject",
     .status = 200,
     .access = SVC_PERM,
     .permission = "agreement:propose",
     .validate = ag_validate_transition,
     .handle = ag_reject},
    {.name = "withdraw_agreement",
     .method = "POST",
     .route = "/api/v1/agreements/{id}/withdraw",
     .status = 200,
     .access = SVC_PERM,
     .permission = "agreement:propose",
     .validate = ag_validate_transition,
     .handle = ag_withdraw},
    {.name = "suspend_agreement",
     .method = "POST",
     .route = "/api/v1/agreements/{id}/suspend",
     .status = 200,
     .access = SVC_PERM,
     .permission = "agreement:propose",
     .validate = ag_validate_transition,
     .handle = ag_suspend},
    {.name = "resume_agreement",
     .method = "POST",
     .route = "/api/v1/agreements/{id}/resume",
     .status = 200,
     .access = SVC_PERM,
     .permission = "agreement:propose",
     .validate = ag_validate_transition,
     .handle = ag_resume},
    {.name = "terminate_agreement",
     .method = "POST",
     .route = "/api/v1/agreements/{id}/terminate",
     .status = 200,
     .access = SVC_PERM,
     .permission = "agreement:propose",
     .validate = ag_validate_transition,
     .handle = ag_terminate},
    {.name = "club_partners",
     .method = "GET",
     .route = "/api/v1/clubs/{id}/partners",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:read",
     .validate = ag_validate_partners,
     .handle = ag_partners},
    /* visits: staff (member:write / member:read) for their club's members and guests; a
     * member for themself (SVC_PERM_OR_SELF: visits.c narrows a member to their own) */
    {.name = "create_visit",
     .method = "POST",
     .route = "/api/v1/visits",
     .status = 201,
     .access = SVC_PERM_OR_SELF,
     .permission = "member:write",
     .validate = visit_validate_create,
     .handle = visit_create},
    {.name = "list_visits",
     .method = "GET",
     .route = "/api/v1/visits",
     .status = 200,
     .access = SVC_PERM_OR_SELF,
     .permission = "member:read",
     .validate = visit_validate_list,
     .handle = visit_list},
    {.name = "get_visit",
     .method = "GET",
     .route = "/api/v1/visits/{id}",
     .status = 200,
     .access = SVC_PERM_OR_SELF,
     .permission = "member:read",
     .validate = visit_validate_ref,
     .handle = visit_get},
    {.name = "approve_visit",
     .method = "POST",
     .route = "/api/v1/visits/{id}/approve",
     .status = 200,
     .access = SVC_PERM,
     .permission = "member:write",
     .validate = visit_validate_transition,
     .handle = visit_approve},
    {.name = "confirm_visit",
     .method = "POST",
     .route = "/api/v1/visits/{id}/confirm",
     .status = 200,
     .access = SVC_PERM,
     .permission = "member:write",
     .validate = visit_validate_transition,
     .handle = visit_confirm},
    {.name = "decline_visit",
     .method = "POST",
     .route = "/api/v1/visits/{id}/decline",
     .status = 200,
     .access = SVC_PERM,
     .permission = "member:write",
     .validate = visit_validate_transition,
     .handle = visit_decline},
    {.name = "cancel_visit",
     .method = "POST",
     .route = "/api/v1/visits/{id}/cancel",
     .status = 200,
     .access = SVC_PERM_OR_SELF,
     .permission = "member:write",
     .validate = visit_validate_transition,
     .handle = visit_cancel},
    {.name = "revoke_visit",
     .method = "POST",
     .route = "/api/v1/visits/{id}/revoke",
     .status = 200,
     .access = SVC_PERM,
     .permission = "member:write",
     .validate = visit_validate_transition,
     .handle = visit_revoke},
    {.name = "check_out_visit",
     .method = "POST",
     .route = "/api/v1/visits/{id}/check-out",
     .status = 200,
     .access = SVC_PERM,
     .permission = "visit:verify",
     .validate = visit_validate_transition,
     .handle = visit_check_out},
    {.name = "check_in_visit",
     .method = "POST",
     .route = "/api/v1/visits/check-in",
     .status = 200,
     .access = SVC_PERM,
     .permission = "visit:verify",
     .validate = visit_validate_token,
     .handle = visit_check_in},
    {.name = "verify_loi",
     .method = "POST",
     .route = "/api/v1/lois/verify",
     .status = 200,
     .access = SVC_PERM,
     .permission = "visit:verify",
     .validate = visit_validate_token,
     .handle = visit_verify_loi},
    {.name = "club_loi_keys",
     .method = "GET",
     .route = "/api/v1/clubs/{id}/loi-keys",
     .status = 200,
     .access = SVC_PUBLIC,
     .validate = visit_validate_keys,
     .handle = visit_loi_keys},
    /* visits' scheduled work (vsched): the periodic job's operation, run-now with as_of */
    {.name = "visit_sweep",
     .method = "POST",
     .route = "/api/v1/visits/sweep",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = visit_validate_sweep,
     .handle = visit_sweep},
};

/* The service's GraphQL fields: agreements and partners, visits and letters. */
static int reciprocal_graphql(gql_resolvers *rs) {
    int rc = gql_agreements_bind(rs);
    rc |= gql_visits_bind(rs);
    return rc;
}

#define F(m) CFG_FIELD(reciprocal_settings_t, m)
/* clang-format off */
static const cfg_var_t reciprocal_vars[] = {
    {"RECIPROCAL_LOI_KEK", CFG_KEY, F(loi_kek), 0, 0,
     "",
     "Key-encryption key of the home clubs' letter-of-introduction signing keys: 32 random bytes "
     "in base64 (head -c 32 /dev/urandom | base64). Encrypts each club's Ed25519 private key "
     "stored in PostgreSQL. No default: without it approving a visit answers 503 "
     "loi_signing_unconfigured (everything else works).", 0},
    {"RECIPROCAL_VISIT_NO_SHOW_GRACE_MINUTES", CFG_INT, F(no_show_grace_min), 0, 10080,
     "120",
     "Minutes after the end of a visit's last day (host time zone) before a confirmed visit "
     "without check-in becomes no_show (the scheduled visit sweep).", 0},
};
/* clang-format on */
#undef F

const svc_module_t reciprocal_module = {
    .name = "reciprocal",
    .schema = "reciprocal",
    .ops = reciprocal_ops,
    .n_ops = sizeof reciprocal_ops / sizeof reciprocal_ops[0],
    .start = reciprocal_sweep_start,
    .stop = reciprocal_sweep_stop,
    .graphql = reciprocal_graphql,
    .seed = reciprocal_seed, /* the demo agreement and members (reciprocal_seed.h) */
    /* party clubs through member, activations on the ledger (docs/reciprocal.md) */
    .nats = {.calls = (const char *const[]){"member", "ledger", NULL},
             .publishes = (const char *const[]){"events.agreement.>", "events.loi.>",
                                                "events.visit.>", NULL}},
    .config = {reciprocal_vars, sizeof reciprocal_vars / sizeof reciprocal_vars[0],
               sizeof(reciprocal_settings_t)},
};

const reciprocal_settings_t *reciprocal_settings(const svc_env_t *env) {
    return svc_settings(env, &reciprocal_module);
}
