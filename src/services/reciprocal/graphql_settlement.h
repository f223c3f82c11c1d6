/* graphql_settlement: the GraphQL resolvers of charges and statements (issue 12), each a call of
 * the REST operation (charges.h, statements.h) through gqlb_call: same permissions, row-level
 * security and errors. Types in reciprocal.graphql ("charges and settlement"); amounts are the
 * MinorUnits scalar (JSON integers). Owns no state. */
#ifndef SERVICES_RECIPROCAL_GRAPHQL_SETTLEMENT_H
#define SERVICES_RECIPROCAL_GRAPHQL_SETTLEMENT_H

#include "lib/graphql/gql_exec.h"

/* Registers the resolvers; 0 or -1 when the schema lacks a type or field. */
int gql_settlement_bind(gql_resolvers *rs);

#endif
