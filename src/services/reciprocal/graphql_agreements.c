/* graphql_agreements: see graphql_agreements.h. */
#include "services/reciprocal/graphql_agreements.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "gateway/graphql_bind.h"
#include "services/reciprocal/graphql_settlement.h"

/* REST agreement -> GraphQL: the terms map becomes a list in the order of `clubs`, each entry
 * with host_club_id; then camelCase keys and upper-case statuses. New reference. */
static json_t *agreement_out(json_t *rest) {
    json_t *copy = json_deep_copy(rest);
    json_t *terms = json_object_get(copy, "terms"), *list = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(copy, "clubs"), i, id) {
        json_t *t = json_object_get(terms, json_string_value(id));
        if (!json_is_object(t)) continue;
        json_t *entry = json_deep_copy(t);
        json_object_set(entry, "host_club_id", id);
        json_array_append_new(list, entry);
    }
    json_object_set_new(copy, "terms", list);
    json_t *out = gqlb_output(copy);
    json_decref(copy);
    return out;
}

static int r_agreement(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                       char **error) {
    (void)parent;
    json_t *input = json_object();
    gqlb_set_str(input, "id", json_object_get(args, "id"));
    int rc =
        gqlb_query(info, "reciprocal", "get_agreement", input, NULL, agreement_out, out, error);
    json_decref(input);
    return rc;
}

static int r_agreements(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                        char **error) {
    (void)parent;
    json_t *input = gqlb_page_input(info, args, error);
    if (!input) return -1;
    gqlb_set_str(input, "partner", json_object_get(args, "partner"));
    gqlb_set_enum(input, "status", json_object_get(args, "status"));
    int rc = gqlb_list(info, "reciprocal", "list_agreements", input, agreement_out, out, error);
    json_decref(input);
    return rc;
}

static int r_partners(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                      char **error) {
    (void)parent;
    json_t *input = json_object();
    gqlb_set_str(input, "id", json_object_get(args, "clubId"));
    gqlb_set_enum(input, "status", json_object_get(args, "status"));
    int rc = gqlb_query(info, "reciprocal", "club_partners", input, "items", NULL, out, error);
    json_decref(input);
    return rc;
}

/* Agreement.history: present when the agreement came from get_agreement (or a mutation answer
 * without it: one get_agreement call). */
static int r_history(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                     char **error) {
    (void)args;
    return gqlb_parent_or_get(info, parent, "history", "reciprocal", "get_agreement", out, error);
}

/* GraphQL terms list -> REST map {<host club id>: {...}}; null fields dropped (= defaults). */
static void terms_to_rest(json_t *input) {
    json_t *list = json_object_get(input, "terms");
    if (!json_is_array(list)) return;
    json_t *map = json_object();
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t) {
        const char *host = json_string_value(json_object_get(t, "host_club_id"));
        if (!host) continue;
        json_t *entry = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(t, k, v) {
            if (strcmp(k, "host_club_id") != 0 && !json_is_null(v)) json_object_set(entry, k, v);
        }
        json_object_set_new(map, host, entry);
    }
    json_object_set_new(input, "terms", map);
}

#define AG_MUTATION(f, o)                                                                          \
    {                                                                                              \
        .field = f, .module = "reciprocal", .op = o, .key = "agreement", .convert = agreement_out, \
        .prepare = terms_to_rest                                                                   \
    }
static const gqlb_mutation_row_t k_mutations[] = {
    AG_MUTATION("proposeAgreement", "create_agreement"),
    AG_MUTATION("acceptAgreement", "accept_agreement"),
    AG_MUTATION("rejectAgreement", "reject_agreement"),
    AG_MUTATION("withdrawAgreement", "withdraw_agreement"),
    AG_MUTATION("suspendAgreement", "suspend_agreement"),
    AG_MUTATION("resumeAgreement", "resume_agreement"),
    AG_MUTATION("terminateAgreement", "terminate_agreement"),
};

int gql_agreements_bind(gql_resolvers *rs) {
    int rc = 0;
    rc |= gql_resolvers_add(rs, "Query", "agreement", r_agreement, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Query", "agreements", r_agreements, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Query", "partners", r_partners, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Agreement", "history", r_history, NULL, NULL);
    /* AgreementParty.club: all parents' club ids in one batch */
    rc |= gql_resolvers_add(rs, "AgreementParty", "club", gqlb_parent_club,
                            gqlb_prefetch_parent_clubs, "clubId");
    rc |= gqlb_add_mutations(rs, k_mutations, sizeof k_mutations / sizeof k_mutations[0]);
    rc |= gql_settlement_bind(rs); /* charges and statements (issue 12) */
    return rc;
}
