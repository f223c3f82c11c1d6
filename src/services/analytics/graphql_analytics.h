/* graphql_analytics: binds analytics.graphql's fields to the analytics operations
 * (gateway/graphql_bind.h). */
#ifndef SERVICES_ANALYTICS_GRAPHQL_ANALYTICS_H
#define SERVICES_ANALYTICS_GRAPHQL_ANALYTICS_H

struct gql_resolvers;

int gql_analytics_bind(struct gql_resolvers *rs);

#endif
