/* graphql_auth: the GraphQL binding of the auth service: `Query.me` (a Viewer for a signed-in
 * caller, null when anonymous), `Viewer.user` (operation auth.me), `Viewer.sessions`
 * (auth.sessions_list) and `Viewer.club` (the caller's club, through the club cache). Signing
 * in stays on REST (no login/refresh mutations: tokens are not handed out through GraphQL).
 * `Viewer.member` is bound by graphql_members. Owns nothing. */
#ifndef SERVICES_AUTH_GRAPHQL_AUTH_H
#define SERVICES_AUTH_GRAPHQL_AUTH_H

#include "lib/graphql/gql_exec.h"

/* Registers the resolvers; 0 or -1 when the schema lacks a type or field. */
int gql_auth_bind(gql_resolvers *rs);

#endif
