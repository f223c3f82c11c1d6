/* graphql_api: the /graphql endpoint. Owns the API schema (built once from docs/schema.graphql,
 * embedded in the binary as graphql_schema_sdl), its resolver table, and a small in-process
 * cache of persisted documents. Serves GraphQL over HTTP (POST application/json, GET for
 * queries, media type negotiated from Accept with q-values, the spec's status codes), checks
 * limits (document size, depth, cost: gql_parse + gql_validate; introspection for signed-in
 * callers by default), runs gql_execute under the execution deadline and response-size limit
 * (returning memory with malloc_trim after a large request; gql_api_new sets glibc's mmap
 * threshold for the whole process) with the resolvers below and the caller identity of the request
 * (gateway/authn.c), so every field goes through the same operation (svc_dispatch in process,
 * svc_call_remote over NATS) and thus the same permissions and row-level security as REST.
 * Behaviour: docs/graphql-exec.md. */
#ifndef GATEWAY_GRAPHQL_API_H
#define GATEWAY_GRAPHQL_API_H

#include "core/http.h"
#include "core/service.h"

typedef struct gql_api gql_api_t;

/* env is borrowed and must outlive the api. */
gql_api_t *gql_api_new(const svc_env_t *env, err_t *e);
void gql_api_free(gql_api_t *api);
/* Answers one request to /graphql. */
void gql_api_handle(gql_api_t *api, const http_request_t *req, http_response_t *resp);

/* The SDL embedded by tools/embed_text.sh (build/gen/graphql_schema_sdl.c). */
extern const char graphql_schema_sdl[];
extern const unsigned long graphql_schema_sdl_len;

#endif
