/* graphql_restrictions: the GraphQL binding of reciprocity suspensions and visitor bans:
 * `Query.reciprocitySuspensions` and `Query.visitorBans` (Relay connections over the REST keyset
 * cursors) and the mutations suspendReciprocity, liftReciprocitySuspension, banVisitor and
 * liftVisitorBan with typed userErrors. Every call carries the caller, so REST's permission
 * (visit:restrict) and row-level security apply. Owns nothing. */
#ifndef SERVICES_RECIPROCAL_GRAPHQL_RESTRICTIONS_H
#define SERVICES_RECIPROCAL_GRAPHQL_RESTRICTIONS_H

#include "lib/graphql/gql_exec.h"

/* Registers the resolvers; 0 or -1 when the schema lacks a type or field. */
int gql_restrictions_bind(gql_resolvers *rs);

#endif
