/* graphql_agreements: the GraphQL binding of the reciprocal service's agreements:
 * `Query.agreement`, `Query.agreements` (a Relay connection over list_agreements' keyset
 * cursor), `Query.partners`, the fields that need a call (`AgreementParty.club`, batched into
 * ONE get_clubs_by_ids per list through the executor's prefetch hook; `Agreement.history` for
 * agreements read from a list), and the mutations proposeAgreement and
 * accept/reject/withdraw/suspend/resume/terminateAgreement with typed userErrors. The REST terms
 * map {<host club id>: {...}} is a list of AgreementTerms with `hostClubId` here. Every call
 * carries the caller, so REST's permissions and RLS apply. Owns nothing. */
#ifndef SERVICES_RECIPROCAL_GRAPHQL_AGREEMENTS_H
#define SERVICES_RECIPROCAL_GRAPHQL_AGREEMENTS_H

#include "lib/graphql/gql_exec.h"

/* Registers the resolvers; 0 or -1 when the schema lacks a type or field. */
int gql_agreements_bind(gql_resolvers *rs);

#endif
