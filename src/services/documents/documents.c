/* documents (service module, runtime name "gateway"): its one operation table (see service.h
 * for the pattern). The register/list operations need a network administrator (checked in the
 * handler); get is public (anyone may run a registered document; it is still subject to the
 * operations it calls). */
#include "services/documents/documents.h"

#include "services/documents/graphql_documents.h"

static const svc_op_t documents_ops[] = {
    {"register_graphql_document", "POST", "/api/v1/graphql/documents", 201, NULL,
     gqldocs_validate_register, gqldocs_register},
    {"list_graphql_documents", "GET", "/api/v1/graphql/documents", 200, NULL, gqldocs_validate_list,
     gqldocs_list},
    {"get_graphql_document", NULL, NULL, 200, NULL, gqldocs_validate_get, gqldocs_get},
};

const svc_module_t documents_module = {
    .name = "gateway",
    .schema = "gateway",
    .ops = documents_ops,
    .n_ops = sizeof documents_ops / sizeof documents_ops[0],
};
