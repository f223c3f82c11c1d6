/* graphql_documents: persisted GraphQL documents. A document is stored under its id
 * "sha256:<hex of SHA-256 of the exact text>", so a client sends {"documentId": id} instead of
 * the text, and with RECIPROCAL_GRAPHQL_REQUIRE_PERSISTED_MUTATIONS=1 only registered mutations
 * run. Owns the SQL over gateway.graphql_documents. */
#ifndef SERVICES_DOCUMENTS_GRAPHQL_DOCUMENTS_H
#define SERVICES_DOCUMENTS_GRAPHQL_DOCUMENTS_H

#include "core/service.h"

/* {"document": text (1..102400 bytes, must parse as GraphQL), "name": optional} -> 201
 * {"id","name","created_at"}; registering the same text again answers the same id. */
int gqldocs_validate_register(json_t *in, err_t *e);
int gqldocs_register(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* {} -> {"items":[{"id","name","created_at"}]} (newest first, at most 1000). */
int gqldocs_validate_list(json_t *in, err_t *e);
int gqldocs_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* {"id"} -> {"id","document"} or 404. */
int gqldocs_validate_get(json_t *in, err_t *e);
int gqldocs_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
