/* graphql_governance: see graphql_governance.h. */
#include "services/governance/graphql_governance.h"

#include <stdio.h>
#include <string.h>

#include "core/json.h"

static int r_proposal(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                      char **error) {
    (void)parent;
    json_t *input = json_object();
    gqlb_set_str(input, "id", json_object_get(args, "id"));
    int rc = gqlb_query(info, "governance", "get_proposal", input, NULL, NULL, out, error);
    json_decref(input);
    return rc;
}

static int r_proposals(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                       char **error) {
    (void)parent;
    json_t *input = json_object();
    if (gqlb_first(info, args, input, error) != 0) {
        json_decref(input);
        return -1;
    }
    gqlb_set_str(input, "after", json_object_get(args, "after"));
    gqlb_set_str(input, "scope", json_object_get(args, "scope"));
    gqlb_set_str(input, "type", json_object_get(args, "type"));
    gqlb_set_enum(input, "status", json_object_get(args, "status"));
    int rc = gqlb_list(info, "governance", "list_proposals", input, gqlb_output, out, error);
    json_decref(input);
    return rc;
}

/* Proposal.votes: the direct votes (list_votes), a connection. */
static int r_votes(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                   char **error) {
    json_t *input = gqlb_page_input(info, args, error);
    if (!input) return -1;
    json_object_set(input, "id", json_object_get(parent, "id"));
    int rc = gqlb_list(info, "governance", "list_votes", input, gqlb_output, out, error);
    json_decref(input);
    return rc;
}

/* GraphQL action items -> REST: value_json (JSON text) becomes value. */
static void actions_to_rest(json_t *input) {
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(input, "actions"), i, a) {
        const char *v = json_string_value(json_object_get(a, "value_json"));
        if (!v) continue;
        json_t *value = json_loads(v, JSON_DECODE_ANY, NULL);
        /* unreadable JSON stays a string: the service then answers about it */
        json_object_set_new(a, "value", value ? value : json_string(v));
        json_object_del(a, "value_json");
    }
}

static int r_mutation(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                      char **error) {
    (void)parent;
    const char *op = info->ud;
    json_t *input = gqlb_mutation_input(args);
    actions_to_rest(input);
    const char *key = strcmp(op, "cast_vote") == 0        ? "vote"
                      : strcmp(op, "put_delegation") == 0 ? "delegation"
                      : strcmp(op, "prepare_vote") == 0   ? "ballot"
                                                          : "proposal";
    /* setDelegation: an explicit null delegateId clears (absent fields are dropped) */
    if (strcmp(op, "put_delegation") == 0 && !json_object_get(input, "delegate_id"))
        json_object_set_new(input, "delegate_id", json_null());
    /* keys camelCase and statuses upper case, as the queries answer them */
    int rc = gqlb_mutation(info, "governance", op, input, key, gqlb_output, out, error);
    json_decref(input);
    return rc;
}

int gql_governance_bind(gql_resolvers *rs) {
    static const char *const mutations[][2] = {{"createProposal", "create_proposal"},
                                               {"sponsorProposal", "sponsor_proposal"},
                                               {"cancelProposal", "cancel_proposal"},
                                               {"executeProposal", "execute_proposal"},
                                               {"castVote", "cast_vote"},
                                               {"setDelegation", "put_delegation"},
                                               {"prepareVote", "prepare_vote"}};
    int rc = 0;
    rc |= gql_resolvers_add(rs, "Query", "proposal", r_proposal, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Query", "proposals", r_proposals, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Proposal", "votes", r_votes, NULL, NULL);
    for (size_t i = 0; i < sizeof mutations / sizeof mutations[0]; i++)
        rc |= gql_resolvers_add(rs, "Mutation", mutations[i][0], r_mutation, NULL,
                                (void *)mutations[i][1]);
    return rc;
}
