/* graphql_clubs: the GraphQL binding of the member service's clubs (SDL in member.graphql):
 * `Query.club` (batched: the executor's prefetch hook loads every id of a selection set with ONE
 * get_clubs_by_ids), `Query.clubs` (a Relay connection over list_clubs' per-item cursors), the
 * Club and Address fields renamed from REST (contactEmail, postalCode, upper-case enums), and the
 * mutations createClub, updateClub, deactivateClub and activateClub with typed userErrors. Every
 * call carries the caller, so REST's permissions and RLS apply. Called by gql_members_bind (the
 * member module's one .graphql hook). Owns nothing. */
#ifndef SERVICES_MEMBER_GRAPHQL_CLUBS_H
#define SERVICES_MEMBER_GRAPHQL_CLUBS_H

#include "lib/graphql/gql_exec.h"

/* Registers the resolvers; 0 or -1 when the schema lacks a type or field. */
int gql_clubs_bind(gql_resolvers *rs);

#endif
