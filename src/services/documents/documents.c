/* documents (service module, runtime name "gateway"): its one operation table (see service.h
 * for the pattern). The register/list operations need a network administrator; get is public
 * (anyone may run a registered document; it is still subject to the operations it calls). */
#include "services/documents/documents.h"

#include "services/documents/graphql_documents.h"

static const svc_op_t documents_ops[] = {
    {.name = "register_graphql_document",
     .method = "POST",
     .route = "/api/v1/graphql/documents",
     .status = 201,
     .access = SVC_NETWORK_ADMIN,
     .validate = gqldocs_validate_register,
     .handle = gqldocs_register},
    {.name = "list_graphql_documents",
     .method = "GET",
     .route = "/api/v1/graphql/documents",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = gqldocs_validate_list,
     .handle = gqldocs_list},
    {.name = "get_graphql_document",
     .status = 200,
     .access = SVC_PUBLIC,
     .validate = gqldocs_validate_get,
     .handle = gqldocs_get},
};

const svc_module_t documents_module = {
    .name = "gateway",
    .schema = "gateway",
    .ops = documents_ops,
    .n_ops = sizeof documents_ops / sizeof documents_ops[0],
    /* the gateway process: calls every service, hears session revocations and key rotations
     * (gateway/authn.h) */
    .nats = {.calls = (const char *const[]){"*", NULL},
             .subscribes =
                 (const char *const[]){"auth.revoked", "events.auth.signing_keys_rotated", NULL}},
};
