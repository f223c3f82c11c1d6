/* graphql_restrictions: see graphql_restrictions.h. */
#include "services/reciprocal/graphql_restrictions.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "gateway/graphql_bind.h"

/* Query.reciprocitySuspensions / Query.visitorBans (info->ud: the list operation). */
static int r_list(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                  char **error) {
    (void)parent;
    json_t *input = json_object(), *output = NULL;
    if (gqlb_first(info, args, input, error) != 0) {
        json_decref(input);
        return -1;
    }
    static const char *const keys[][2] = {{"after", "after"}, {"memberId", "member_id"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(args, keys[i][0]);
        if (json_is_string(v)) json_object_set(input, keys[i][1], v);
    }
    const char *status = json_string_value(json_object_get(args, "status"));
    if (status) {
        char low[16];
        size_t n = 0;
        for (; status[n] && n + 1 < sizeof low; n++)
            low[n] = (char)tolower((unsigned char)status[n]);
        low[n] = 0;
        json_object_set_new(input, "status", json_string(low));
    }
    err_t e = {0};
    int rc = gqlb_call(info->ctx, "reciprocal", info->ud, input, &output, &e);
    json_decref(input);
    if (rc != 0) return gqlb_fail(info, &e, error);
    *out = gqlb_connection(output, gqlb_output);
    json_decref(output);
    return 0;
}

/* The mutations (info->ud: the row of k_mutations). */
typedef struct {
    const char *field, *op, *key;
} mutation_t;

static const mutation_t k_mutations[] = {
    {"suspendReciprocity", "create_reciprocity_suspension", "suspension"},
    {"liftReciprocitySuspension", "lift_reciprocity_suspension", "suspension"},
    {"banVisitor", "create_visitor_ban", "ban"},
    {"liftVisitorBan", "lift_visitor_ban", "ban"},
};

static int r_mutation(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                      char **error) {
    (void)parent;
    const mutation_t *m = info->ud;
    json_t *input = gqlb_rest_input(json_object_get(args, "input"));
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(input, tmp, k, v) { /* absent, as over REST */
        if (json_is_null(v)) json_object_del(input, k);
    }
    int rc = gqlb_mutation(info, "reciprocal", m->op, input, m->key, gqlb_output, out, error);
    json_decref(input);
    return rc;
}

int gql_restrictions_bind(gql_resolvers *rs) {
    int rc = 0;
    rc |= gql_resolvers_add(rs, "Query", "reciprocitySuspensions", r_list, NULL,
                            (void *)"list_reciprocity_suspensions");
    rc |= gql_resolvers_add(rs, "Query", "visitorBans", r_list, NULL, (void *)"list_visitor_bans");
    for (size_t i = 0; i < sizeof k_mutations / sizeof k_mutations[0]; i++)
        rc |= gql_resolvers_add(rs, "Mutation", k_mutations[i].field, r_mutation, NULL,
                                (void *)&k_mutations[i]);
    return rc;
}
