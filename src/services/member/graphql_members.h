/* graphql_members: the GraphQL binding of the member service's members (clubs are bound in
 * graphql_api.c): `Query.member`, `Query.members` (a Relay connection over list_members' keyset
 * cursor), `Viewer.member` (get_me), the Member fields that need a call (`club` and `homeClub`
 * batched into ONE get_clubs_by_ids per list through the executor's prefetch hook, `dependents`,
 * `statusHistory`), and the mutations createMember, updateMember, changeMemberStatus and
 * addDependent with typed userErrors. Every call carries the caller, so REST's permissions and
 * RLS apply. Owns nothing. */
#ifndef SERVICES_MEMBER_GRAPHQL_MEMBERS_H
#define SERVICES_MEMBER_GRAPHQL_MEMBERS_H

#include "lib/graphql/gql_exec.h"

/* Registers the resolvers; 0 or -1 when the schema lacks a type or field. */
int gql_members_bind(gql_resolvers *rs);

#endif
