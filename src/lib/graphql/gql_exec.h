/* gql_exec: execution of a validated GraphQL document (October 2021 specification, section 6,
 * as graphql-js 16.x executes synchronous resolvers) and introspection (__schema, __type,
 * __typename) answered from the gql_schema structures.
 *
 * - CoerceVariableValues (JSON variables -> coerced values, graphql-js messages),
 *   CoerceArgumentValues, CollectFields (@skip/@include, fragments, inline fragments, type
 *   conditions on interfaces and unions), ExecuteSelectionSet (mutations strictly serial),
 *   CompleteValue (lists, non-null, leaves serialised as graphql-js serialises them, abstract
 *   types via a registered resolveType hook or the value's `__typename`), null propagation as
 *   specified, field errors with `message`, `locations` and `path`; the response keeps field
 *   order (jansson objects keep insertion order).
 * - Resolvers are C callbacks registered per (type, field); a field without one reads the
 *   property of the same name from its parent JSON object (graphql-js defaultFieldResolver).
 * - Batching: a resolver may have a prefetch hook. Before the fields of a selection set are
 *   resolved for a set of parent values (all items of a list, or the one parent of a selection
 *   set with aliased copies of the field), the hook gets every (parent, args) pair of that field
 *   at once, so it can load them with one call and prime a per-request cache the resolver reads
 *   (see graphql_api.c). Mutation root fields are never prefetched (they run serially). Items
 *   of a list of an interface or union are grouped by their runtime object type (resolveType
 *   is asked once more per item for this) and each group is prefetched at once; each item's
 *   own selection set then prefetches again for its single parent, so hooks must skip what is
 *   already in their cache.
 *
 * Owns: a gql_resolvers table (heap, one per schema; read-only once built, shareable between
 * threads). gql_execute allocates nothing that outlives the call except the returned response. */
#ifndef GATEWAY_GRAPHQL_GQL_EXEC_H
#define GATEWAY_GRAPHQL_GQL_EXEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/graphql/gql_ast.h"
#include "lib/graphql/gql_schema.h"

typedef struct gql_resolvers gql_resolvers;

typedef struct gql_resolve_info {
    const gql_schema *schema;
    const gql_type *parent_type;
    const gql_field *field;
    const gql_node *field_node; /* first FIELD node of the response key */
    const json_t *variables;    /* coerced variable values */
    gql_operation operation;
    void *ctx; /* gql_exec_opts.ctx: the request (caller identity, caches) */
    void *ud;  /* the user data given when the resolver was registered */
    /* Out (resolvers only, may be NULL elsewhere): a resolver that returns -1 may write a
     * machine-readable code here (gql_resolve_error_code); the field error then carries
     * "extensions": {"code": ...}. */
    char *error_code;
} gql_resolve_info;

#define GQL_ERROR_CODE_MAX 48
/* Sets the extensions.code of the field error a resolver is about to return (-1). */
void gql_resolve_error_code(const gql_resolve_info *info, const char *code);

/* Resolves one field. Returns 0 with *out = a new reference (NULL or json null = null), or -1
 * with *error = a malloc'd message (a field error at this field). parent and args are borrowed. */
typedef int (*gql_resolve_fn)(const gql_resolve_info *info, json_t *parent, json_t *args,
                              json_t **out, char **error);
/* Batch hook: `calls` is an array of [parent, args] pairs (borrowed) for the same field. */
typedef void (*gql_prefetch_fn)(const gql_resolve_info *info, json_t *calls);
/* Names the object type of a value of an abstract type; NULL = unknown. */
typedef const char *(*gql_resolve_type_fn)(const gql_resolve_info *info, json_t *value, void *ud);

gql_resolvers *gql_resolvers_new(const gql_schema *s);
void gql_resolvers_free(gql_resolvers *r);
/* -1 when the type or field does not exist (or out of memory). */
int gql_resolvers_add(gql_resolvers *r, const char *type, const char *field, gql_resolve_fn fn,
                      gql_prefetch_fn prefetch, void *ud);
int gql_resolvers_add_type(gql_resolvers *r, const char *abstract_type, gql_resolve_type_fn fn,
                           void *ud);

typedef enum gql_introspection { GQL_INTROSPECTION_ON, GQL_INTROSPECTION_OFF } gql_introspection;

typedef struct gql_exec_opts {
    const char *operation_name; /* NULL = the only operation */
    const json_t *variables;    /* raw JSON object from the request; NULL = none */
    json_t *root_value;         /* parent of root fields; NULL = {} */
    void *ctx;
    gql_introspection introspection; /* OFF: __schema/__type are a request error */
    /* Operation kinds allowed (GET must not run mutations): bit (1u << gql_operation);
     * 0 = all. A disallowed kind gives *status GQL_EXEC_NOT_ALLOWED. */
    unsigned allowed_operations;
    size_t max_errors; /* field errors kept; 0 = 100 */
    /* Execution time limit from the start of gql_execute, in ms (0 = none). Checked before each
     * field: once passed, that field gets the error "Execution time limit of N ms exceeded..."
     * with its path and extensions.code "deadline_exceeded", and it and every field after it
     * are null without running (null propagation as for any field error). */
    unsigned timeout_ms;
    /* Limit of the serialised data, in bytes (an estimate kept while completing values; 0 =
     * none). Past it execution stops and the response is {"errors": [{message, path (where it
     * was crossed), extensions: {code: "response_too_large"}}], "data": null}. */
    size_t max_response_bytes;
    /* Out (optional): the estimate of the data built, parts later dropped (a cut, null
     * propagation) included: what the request allocated, for the caller's memory decisions. */
    size_t *built_bytes;
} gql_exec_opts;

typedef enum gql_exec_status {
    GQL_EXEC_OK = 0,        /* executed: response has data (and maybe errors) */
    GQL_EXEC_REQUEST_ERROR, /* no operation, variable coercion, introspection off: no data */
    GQL_EXEC_NOT_ALLOWED,   /* operation kind not in allowed_operations */
    GQL_EXEC_INTERNAL,      /* out of memory */
} gql_exec_status;

/* Finds the operation (GetOperation). NULL + *msg (static string, graphql-js wording) when
 * missing or ambiguous. */
const gql_node *gql_exec_operation(const gql_document *doc, const char *name, const char **msg);

/* Executes doc (already validated against s). Returns the response object
 * {"errors": [...], "data": ...} (a new reference; never NULL unless out of memory). */
json_t *gql_execute(const gql_schema *s, const gql_resolvers *r, const gql_document *doc,
                    const gql_exec_opts *o, gql_exec_status *status);

/* graphql-js coerceVariableValues on its own (tests): 0 and *out, or -1 with errors appended
 * to `errors` (a JSON array of {message, locations}). */
int gql_coerce_variables(const gql_schema *s, const gql_node *operation, const json_t *inputs,
                         json_t **out, json_t *errors);

/* 1 when the operation selects __schema or __type at its root level (through inline fragments
 * and fragment spreads, each fragment visited once). */
int gql_uses_introspection(const gql_document *doc, const gql_node *operation);

#endif
