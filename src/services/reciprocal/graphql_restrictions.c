/* graphql_restrictions: see graphql_restrictions.h. */
#include "services/reciprocal/graphql_restrictions.h"

#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "gateway/graphql_bind.h"

/* Query.reciprocitySuspensions / Query.visitorBans (info->ud: the list operation). */
static int r_list(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                  char **error) {
    (void)parent;
    json_t *input = gqlb_page_input(info, args, error);
    if (!input) return -1;
    gqlb_set_str(input, "member_id", json_object_get(args, "memberId"));
    gqlb_set_enum(input, "status", json_object_get(args, "status"));
    int rc = gqlb_list(info, "reciprocal", info->ud, input, gqlb_output, out, error);
    json_decref(input);
    return rc;
}

#define RESTRICTION_MUTATION(f, o, k)                                                              \
    { .field = f, .module = "reciprocal", .op = o, .key = k }
static const gqlb_mutation_row_t k_mutations[] = {
    RESTRICTION_MUTATION("suspendReciprocity", "create_reciprocity_suspension", "suspension"),
    RESTRICTION_MUTATION("liftReciprocitySuspension", "lift_reciprocity_suspension", "suspension"),
    RESTRICTION_MUTATION("banVisitor", "create_visitor_ban", "ban"),
    RESTRICTION_MUTATION("liftVisitorBan", "lift_visitor_ban", "ban"),
};

int gql_restrictions_bind(gql_resolvers *rs) {
    int rc = 0;
    rc |= gql_resolvers_add(rs, "Query", "reciprocitySuspensions", r_list, NULL,
                            (void *)"list_reciprocity_suspensions");
    rc |= gql_resolvers_add(rs, "Query", "visitorBans", r_list, NULL, (void *)"list_visitor_bans");
    rc |= gqlb_add_mutations(rs, k_mutations, sizeof k_mutations / sizeof k_mutations[0]);
    return rc;
}
