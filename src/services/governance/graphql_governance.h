/* graphql_governance: binds governance.graphql's fields (Query.proposal / proposals, the
 * proposal and vote mutations) to the governance operations with the gateway/graphql_bind.h
 * helpers. Owns nothing. */
#ifndef SERVICES_GOVERNANCE_GRAPHQL_GOVERNANCE_H
#define SERVICES_GOVERNANCE_GRAPHQL_GOVERNANCE_H

#include "gateway/graphql_bind.h"

int gql_governance_bind(gql_resolvers *rs);

#endif
