/* gql_validate: validation of executable documents against a gql_schema.
 * Runs every rule of graphql-js 16.15.0's specifiedRules (which includes the introspection depth
 * limit, MaxIntrospectionDepthRule) in graphql-js's order, as one parallel visit with graphql-js's
 * TypeInfo, so errors come out with graphql-js's messages, locations and order; stops after
 * max_errors like graphql-js ("Too many validation errors, error limit reached. Validation
 * aborted."). Then, when enabled, our own limits: maximum selection depth and a GitHub-style cost
 * (list fields of composite type and *Connection fields need `first` or `last` between 1 and
 * 100; cost = sum over selected fields of the product of the page sizes above them).
 * Owns nothing past the call (a scratch arena lives inside gql_validate). */
#ifndef GATEWAY_GRAPHQL_GQL_VALIDATE_H
#define GATEWAY_GRAPHQL_GQL_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/graphql/gql_ast.h"
#include "gateway/graphql/gql_error.h"
#include "gateway/graphql/gql_schema.h"

#define GQL_VALIDATE_DEFAULT_MAX_ERRORS 100u
#define GQL_VALIDATE_PAGE_MAX 100u

typedef struct gql_validate_opts {
    bool skip_spec_rules;          /* true: only our limits below */
    bool skip_introspection_depth; /* true: leave out MaxIntrospectionDepthRule */
    unsigned max_errors;           /* 0 = GQL_VALIDATE_DEFAULT_MAX_ERRORS */
    unsigned max_depth;            /* field nesting per operation (fragments followed); 0 = off */
    bool require_pagination;       /* list/connection fields need first/last in 1..100 */
    unsigned long max_cost;        /* 0 = off; needs require_pagination's page sizes */
    bool hide_suggestions;         /* no "Did you mean ...?" */
} gql_validate_opts;

/* Validates doc (which must outlive errs' use of nothing: messages are copied). opts may be NULL:
 * spec rules only, no extra limits. Appends the errors to errs. Returns the number of errors
 * added, or -1 when out of memory. */
int gql_validate(const gql_schema *s, const gql_document *doc, const gql_validate_opts *opts,
                 gql_errors *errs);

#endif
