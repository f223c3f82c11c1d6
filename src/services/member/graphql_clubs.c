/* graphql_clubs: see graphql_clubs.h. */
#include "services/member/graphql_clubs.h"

#include "gateway/graphql_bind.h"

/* Reads a REST key (snake_case) named by ud from the parent; the GraphQL name when absent
 * (objects already converted by gqlb_output, e.g. a member's addresses). */
static int r_key(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                 char **error) {
    (void)args, (void)error;
    json_t *v = json_object_get(parent, info->ud);
    if (!v) v = json_object_get(parent, info->field->name);
    *out = v ? json_incref(v) : NULL;
    return 0;
}

static int r_upper(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                   char **error) {
    (void)args, (void)error;
    *out = gqlb_upper(json_object_get(parent, info->ud));
    return 0;
}

/* Query.club: batch hook loads every id of the selection set with one get_clubs_by_ids. */
static void pf_club(const gql_resolve_info *info, json_t *calls) {
    json_t *ids = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c) {
        json_t *id = json_object_get(json_array_get(c, 1), "id");
        if (json_is_string(id)) json_array_append(ids, id);
    }
    gqlb_prefetch_clubs(info->ctx, ids);
    json_decref(ids);
}

static int r_club(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                  char **error) {
    (void)parent;
    err_t e = {0};
    if (gqlb_club(info->ctx, json_string_value(json_object_get(args, "id")), out, &e) != 0)
        return gqlb_fail(info, &e, error);
    return 0;
}

static int r_clubs(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                   char **error) {
    (void)parent;
    api_req *r = info->ctx;
    json_t *input = gqlb_page_input(info, args, error);
    if (!input) return -1;
    gqlb_set_str(input, "country", json_object_get(args, "country"));
    gqlb_set_enum(input, "status", json_object_get(args, "status"));
    gqlb_set_enum(input, "facility", json_object_get(args, "facility"));
    json_t *output = NULL;
    err_t e = {0};
    int rc = gqlb_call(r, "member", "list_clubs", input, &output, &e);
    json_decref(input);
    if (rc != 0) return gqlb_fail(info, &e, error);
    json_t *items = json_object_get(output, "items");
    size_t i;
    json_t *club;
    json_array_foreach(items, i, club) {
        const char *cid = json_string_value(json_object_get(club, "id"));
        if (cid) json_object_set(r->clubs, cid, club);
    }
    /* the service's cursors, one per item (the last one is REST's next_cursor) */
    *out = gqlb_connection(output, NULL);
    json_decref(output);
    return 0;
}

static int r_mutation(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                      char **error) {
    (void)parent;
    json_t *input = gqlb_rest_input(json_object_get(args, "input"));
    int rc = gqlb_mutation(info, "member", info->ud, input, "club", NULL, out, error);
    json_decref(input);
    return rc;
}

int gql_clubs_bind(gql_resolvers *rs) {
    int rc = 0;
    rc |= gql_resolvers_add(rs, "Query", "club", r_club, pf_club, NULL);
    rc |= gql_resolvers_add(rs, "Query", "clubs", r_clubs, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Club", "status", r_upper, NULL, "status");
    rc |= gql_resolvers_add(rs, "Club", "facilities", r_upper, NULL, "facilities");
    static const char *const club_keys[][2] = {{"contactEmail", "contact_email"},
                                               {"contactPhone", "contact_phone"},
                                               {"createdAt", "created_at"},
                                               {"updatedAt", "updated_at"}};
    for (size_t i = 0; i < sizeof club_keys / sizeof club_keys[0]; i++)
        rc |= gql_resolvers_add(rs, "Club", club_keys[i][0], r_key, NULL, (void *)club_keys[i][1]);
    rc |= gql_resolvers_add(rs, "Address", "postalCode", r_key, NULL, "postal_code");
    rc |= gql_resolvers_add(rs, "Mutation", "createClub", r_mutation, NULL, "create_club");
    rc |= gql_resolvers_add(rs, "Mutation", "updateClub", r_mutation, NULL, "update_club");
    rc |= gql_resolvers_add(rs, "Mutation", "deactivateClub", r_mutation, NULL, "deactivate_club");
    rc |= gql_resolvers_add(rs, "Mutation", "activateClub", r_mutation, NULL, "activate_club");
    return rc;
}
