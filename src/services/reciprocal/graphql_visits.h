/* graphql_visits: the GraphQL binding of the reciprocal service's visits and letters of
 * introduction: `Query.visit`, `Query.visits` (a Relay connection over list_visits' keyset
 * cursor, the REST filters side/status/from/to/memberId), the fields that need a call
 * (`Visit.homeClub` / `Visit.hostClub`, batched into ONE get_clubs_by_ids per list;
 * `Visit.member`, batched into ONE member.member_relations_by_ids per list for the home club's
 * staff, one get_member for the member themself, null without a call for the host, which sees
 * only the letter's snapshot; `Visit.history` for visits read from a list), and one mutation per
 * transition (requestVisit, approve/confirm/decline/cancel/revoke/checkIn/checkOutVisit) and
 * verifyLoi, each calling the same operation as REST with the caller (same permissions and
 * row-level security), a 400/404/409/422 being a typed userError with the REST code. Owns
 * nothing. */
#ifndef SERVICES_RECIPROCAL_GRAPHQL_VISITS_H
#define SERVICES_RECIPROCAL_GRAPHQL_VISITS_H

#include "lib/graphql/gql_exec.h"

/* Registers the resolvers; 0 or -1 when the schema lacks a type or field. */
int gql_visits_bind(gql_resolvers *rs);

#endif
