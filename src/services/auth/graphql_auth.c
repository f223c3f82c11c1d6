/* graphql_auth: see graphql_auth.h. */
#include "services/auth/graphql_auth.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/graphql_bind.h"

static int r_me(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                char **error) {
    (void)parent, (void)args, (void)error;
    api_req *r = info->ctx;
    /* the Viewer's fields load what they need, only when selected */
    *out = r->caller.user_id[0] ? json_object() : json_null();
    return 0;
}

static json_t *words(const char *s) {
    json_t *a = json_array();
    while (s && *s) {
        while (*s == ' ')
            s++;
        size_t n = strcspn(s, " ");
        if (n) json_array_append_new(a, json_stringn(s, n));
        s += n;
    }
    return a;
}

/* auth.me -> User: perms (space-separated) becomes the permissions list. New reference. */
static json_t *user_out(json_t *me) {
    json_t *user = gqlb_output(me);
    json_object_del(user, "perms");
    json_object_set_new(user, "permissions",
                        words(json_string_value(json_object_get(me, "perms"))));
    return user;
}

static int r_user(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                  char **error) {
    (void)parent, (void)args;
    json_t *input = json_object();
    int rc = gqlb_query(info, "auth", "me", input, NULL, user_out, out, error);
    json_decref(input);
    return rc;
}

static int r_sessions(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                      char **error) {
    (void)parent, (void)args;
    json_t *input = json_object();
    int rc = gqlb_query(info, "auth", "sessions_list", input, "items", NULL, out, error);
    json_decref(input);
    return rc;
}

static int r_viewer_club(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                         char **error) {
    (void)parent, (void)args;
    api_req *r = info->ctx;
    if (!r->caller.club_id[0]) {
        *out = json_null();
        return 0;
    }
    err_t e = {0};
    if (gqlb_club(r, r->caller.club_id, out, &e) != 0) return gqlb_fail(info, &e, error);
    return 0;
}

/* grantRole / revokeRole input {userId, role} -> the REST operations' {id, role}. */
static void role_input(json_t *input) {
    json_t *id = json_object_get(input, "user_id");
    if (id) {
        json_object_set(input, "id", id);
        json_object_del(input, "user_id");
    }
}

static const gqlb_mutation_row_t k_mutations[] = {
    {"grantRole", "auth", "user_role_grant", "assignment", NULL, role_input},
    {"revokeRole", "auth", "user_role_revoke", "assignment", NULL, role_input},
};

int gql_auth_bind(gql_resolvers *rs) {
    int rc = gqlb_add_mutations(rs, k_mutations, sizeof k_mutations / sizeof k_mutations[0]);
    rc |= gql_resolvers_add(rs, "Query", "me", r_me, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Viewer", "user", r_user, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Viewer", "sessions", r_sessions, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Viewer", "club", r_viewer_club, NULL, NULL);
    return rc;
}
