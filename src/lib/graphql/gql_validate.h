/* gql_validate: validation of executable documents against a gql_schema.
 * Runs every rule of graphql-js 16.15.0's specifiedRules (which includes the introspection depth
 * limit, MaxIntrospectionDepthRule) in graphql-js's order, as one parallel visit with graphql-js's
 * TypeInfo, so errors come out with graphql-js's messages, locations and order; stops after
 * max_errors like graphql-js ("Too many validation errors, error limit reached. Validation
 * aborted."). When enabled, our own limits run first (a document over them is refused without
 * the spec rules' work): maximum selection depth, aliased fields, total fields, and a
 * GitHub-style cost (each selected list field, every alias counted, costs the product of the
 * list sizes on its path, itself included: `first`/`last` of paginated fields, else their
 * schema default; GQL_VALIDATE_LIST_SIZE for other lists of objects). Every metric is computed
 * once per fragment (memoised), so the work is linear in the document however often fragments
 * are spread, and every rule's fragment walk is memoised the same way.
 * Owns nothing past the call (a scratch arena lives inside gql_validate). */
#ifndef GATEWAY_GRAPHQL_GQL_VALIDATE_H
#define GATEWAY_GRAPHQL_GQL_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/graphql/gql_ast.h"
#include "lib/graphql/gql_error.h"
#include "lib/graphql/gql_schema.h"

#define GQL_VALIDATE_DEFAULT_MAX_ERRORS 100u
#define GQL_VALIDATE_PAGE_MAX 100u
#define GQL_VALIDATE_LIST_SIZE 10u /* cost of a list of objects without first/last */

typedef struct gql_validate_opts {
    bool skip_spec_rules;          /* true: only our limits below */
    bool skip_introspection_depth; /* true: leave out MaxIntrospectionDepthRule */
    unsigned max_errors;           /* 0 = GQL_VALIDATE_DEFAULT_MAX_ERRORS */
    unsigned max_depth;            /* field nesting per operation (fragments followed); 0 = off */
    unsigned long max_aliases;     /* aliased fields per operation, every spread counted; 0 = off */
    unsigned long max_fields;      /* fields per operation, every spread counted; 0 = off */
    bool require_pagination;       /* paginated fields need first/last in 1..100 (or a default) */
    unsigned long max_cost;        /* 0 = off */
    bool hide_suggestions;         /* no "Did you mean ...?" */
} gql_validate_opts;

/* Validates doc (which must outlive errs' use of nothing: messages are copied). opts may be NULL:
 * spec rules only, no extra limits. Appends the errors to errs. Returns the number of errors
 * added, or -1 when out of memory. */
int gql_validate(const gql_schema *s, const gql_document *doc, const gql_validate_opts *opts,
                 gql_errors *errs);

#endif
