/* graphql_notification: binds the fields of notification.graphql (Viewer.notifications,
 * markNotificationSeen, markNotificationRead) to the inbox operations through
 * gateway/graphql_bind.h: same permissions and RLS as REST. Owns nothing. */
#ifndef SERVICES_NOTIFICATION_GRAPHQL_NOTIFICATION_H
#define SERVICES_NOTIFICATION_GRAPHQL_NOTIFICATION_H

#include "lib/graphql/gql_exec.h"

int gql_notification_bind(gql_resolvers *rs);

#endif
