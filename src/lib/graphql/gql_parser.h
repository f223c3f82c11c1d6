/* gql_parser: recursive-descent parser for GraphQL documents: the executable grammar
 * (operations, variables, fragments, directives, values) and the type system (SDL) grammar
 * including extensions, as graphql-js 16.x parse() accepts them (default options).
 * Owns nothing past the call: the returned gql_document owns its arena (free it with
 * gql_document_free). Enforces byte, token and nesting-depth limits.
 * Syntax errors: NULL, err_t {400, "graphql_syntax", "Syntax Error: Expected Name, found <EOF>."}
 * worded as graphql-js words them, and *err_loc (when given) set to the line/column graphql-js
 * reports. Out of memory: NULL, err_t {500, "out_of_memory"}. */
#ifndef GATEWAY_GRAPHQL_GQL_PARSER_H
#define GATEWAY_GRAPHQL_GQL_PARSER_H

#include <stddef.h>

#include "core/err.h"
#include "lib/graphql/gql_ast.h"

#define GQL_PARSE_DEFAULT_MAX_DEPTH 64u
#define GQL_PARSE_HARD_MAX_DEPTH 1000u /* bounds C stack use whatever the options say */

typedef struct gql_parse_opts {
    size_t max_bytes;   /* 0 = GQL_LEX_DEFAULT_MAX_BYTES (1 MiB) */
    size_t max_tokens;  /* 0 = GQL_LEX_DEFAULT_MAX_TOKENS (100000) */
    unsigned max_depth; /* nesting of selection sets, list/object values and list types together;
                           0 = GQL_PARSE_DEFAULT_MAX_DEPTH, capped at GQL_PARSE_HARD_MAX_DEPTH */
    int spec_2021;      /* 1: October 2021 grammar only: no descriptions on operations, fragments
                           and variables, no \u{...} escapes, with graphql-js 16.0's messages */
} gql_parse_opts;

/* Parses src[0..len). opts may be NULL (defaults). err_loc may be NULL. */
gql_document *gql_parse(const char *src, size_t len, const gql_parse_opts *opts, gql_loc *err_loc,
                        err_t *e);

#endif
