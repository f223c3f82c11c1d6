/* gateway (service module): its one operation table (see service.h for the pattern). The
 * register/list operations need a network administrator; get is public (anyone may run a
 * registered document; it is still subject to the operations it calls). */
#include "services/gateway/gateway.h"

#include "services/gateway/graphql_documents.h"

static const svc_op_t gateway_ops[] = {
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

const svc_module_t gateway_module = {
    .name = "gateway",
    .schema = "gateway",
    .ops = gateway_ops,
    .n_ops = sizeof gateway_ops / sizeof gateway_ops[0],
};
