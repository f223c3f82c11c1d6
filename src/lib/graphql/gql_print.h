/* gql_print: text renderings of a GraphQL AST.
 * gql_print() is graphql-js 16.x print(): normalised GraphQL source (two-space indentation,
 * graphql-js's block string and argument wrapping rules), so the output equals graphql-js's for
 * the same tree. gql_print_dump() is a canonical one-line form of the tree with every node's
 * line:column, for tests and debugging:
 *   (Kind@line:column attr=value key=(child ...) key=[(child ...) ...])
 * with absent children and empty lists left out and strings in JSON notation.
 * Both return a malloc'd NUL-terminated string the caller frees (NULL when out of memory) and
 * own nothing else; *len (when given) receives the length. */
#ifndef GATEWAY_GRAPHQL_GQL_PRINT_H
#define GATEWAY_GRAPHQL_GQL_PRINT_H

#include <stddef.h>

#include "lib/graphql/gql_ast.h"

char *gql_print(const gql_node *node, size_t *len);
char *gql_print_dump(const gql_node *node, size_t *len);

#endif
