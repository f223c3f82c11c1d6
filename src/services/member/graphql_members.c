/* graphql_members: see graphql_members.h. */
#include "services/member/graphql_members.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "gateway/graphql_bind.h"
#include "services/member/graphql_clubs.h"

/* ---- queries ---- */

static int r_member(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                    char **error) {
    (void)parent;
    json_t *input = json_object();
    gqlb_set_str(input, "id", json_object_get(args, "id"));
    gqlb_set_str(input, "club_id", json_object_get(args, "clubId"));
    /* another club's member, or one the caller may not read, is 404 as over REST: null + error */
    int rc = gqlb_query(info, "member", "get_member", input, NULL, NULL, out, error);
    json_decref(input);
    return rc;
}

/* GraphQL MemberSort -> REST sort: NAME_DESC -> "-name". */
static void rest_sort(const char *v, char *out, size_t cap) {
    size_t n = strlen(v);
    int desc = n > 5 && strcmp(v + n - 5, "_DESC") == 0;
    size_t o = 0;
    if (desc && o + 1 < cap) out[o++] = '-';
    for (size_t i = 0; i < n - (desc ? 5 : 0) && o + 1 < cap; i++)
        out[o++] = (char)tolower((unsigned char)v[i]);
    out[o] = 0;
}

static int r_members(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                     char **error) {
    (void)parent;
    json_t *input = gqlb_page_input(info, args, error);
    if (!input) return -1;
    static const char *const map[][2] = {{"clubId", "club_id"},
                                         {"category", "category"},
                                         {"expiresBefore", "expires_before"},
                                         {"expiresAfter", "expires_after"},
                                         {"q", "q"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        gqlb_set_str(input, map[i][1], json_object_get(args, map[i][0]));
    char buf[64];
    const char *status = json_string_value(json_object_get(args, "status"));
    if (status) {
        rest_sort(status, buf, sizeof buf); /* lower case (no _DESC suffix in statuses) */
        json_object_set_new(input, "status", json_string(buf));
    }
    /* no sort: the REST default (CREATED_AT; with q the match order, docs/member.md) */
    const char *sort = json_string_value(json_object_get(args, "sort"));
    if (sort) {
        rest_sort(sort, buf, sizeof buf);
        json_object_set_new(input, "sort", json_string(buf));
    }
    /* the service's cursors, one per item: the same as REST's, whatever the names */
    int rc = gqlb_list(info, "member", "list_members", input, gqlb_output, out, error);
    json_decref(input);
    return rc;
}

static int r_viewer_member(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                           char **error) {
    (void)parent, (void)args;
    api_req *r = info->ctx;
    if (!r->caller.club_id[0]) { /* a network administrator has no member record */
        *out = json_null();
        return 0;
    }
    json_t *input = json_object(), *output = NULL;
    err_t e = {0};
    int rc = gqlb_call(r, "member", "get_me", input, &output, &e);
    json_decref(input);
    if (rc != 0) {
        if (e.status == 404) { /* signed in, but not a member of the club */
            *out = json_null();
            return 0;
        }
        return gqlb_fail(info, &e, error);
    }
    *out = gqlb_output(output);
    json_decref(output);
    return 0;
}

/* ---- Member fields that need a call ---- */

/* Member.dependents / Member.statusHistory of a list of members: one member_relations_by_ids
 * call fills the request's cache for both fields (staff only; without member:read, or for a
 * single parent, each field falls back to its own call). */
static int relations_known(const gql_resolve_info *info, json_t *parent, const char *id,
                           const char *club) {
    api_req *r = info->ctx;
    (void)club;
    return json_object_get(json_object_get(r->relations, info->ud), id) ||
           json_is_array(json_object_get(parent, "dependents"));
}

static void pf_member_relations(const gql_resolve_info *info, json_t *calls) {
    api_req *r = info->ctx;
    const char *club;
    json_t *ids = gqlb_batch_ids(info, calls, "id", "clubId", relations_known, &club);
    json_t *output = gqlb_member_relations(r, ids, club);
    if (output) {
        static const char *const keys[][2] = {{"list_dependents", "dependents"},
                                              {"member_status_history", "status_history"}};
        for (size_t k = 0; k < 2; k++)
            json_object_update(gqlb_relations_cache(r, keys[k][0]),
                               json_object_get(output, keys[k][1]));
        json_decref(output);
    }
    json_decref(ids);
}

/* Member.dependents (list_dependents) and Member.statusHistory (member_status_history): ud =
 * the operation; the items converted. Create answers with the dependents: used as they are. */
static int r_member_list(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                         char **error) {
    (void)args;
    const char *op = info->ud;
    json_t *have = json_object_get(parent, "dependents");
    if (strcmp(op, "list_dependents") == 0 && json_is_array(have)) {
        *out = json_incref(have);
        return 0;
    }
    api_req *r = info->ctx;
    const char *id = json_string_value(json_object_get(parent, "id"));
    json_t *batched = id ? json_object_get(json_object_get(r->relations, op), id) : NULL;
    if (json_is_array(batched)) {
        *out = gqlb_output(batched);
        return 0;
    }
    json_t *input = json_object();
    gqlb_set_str(input, "id", json_object_get(parent, "id"));
    gqlb_set_str(input, "club_id", json_object_get(parent, "clubId"));
    int rc = gqlb_query(info, "member", op, input, "items", NULL, out, error);
    json_decref(input);
    return rc;
}

/* ---- mutations ---- */

static int r_mutation(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                      char **error) {
    (void)parent;
    json_t *input = gqlb_rest_input(json_object_get(args, "input"));
    const char *op = info->ud;
    if (strcmp(op, "add_dependent") == 0) { /* the primary is the path's {id} */
        json_t *pid = json_object_get(input, "primary_member_id");
        if (pid) {
            json_object_set(input, "id", pid);
            json_object_del(input, "primary_member_id");
        }
    }
    int rc = gqlb_mutation(info, "member", op, input, "member", gqlb_output, out, error);
    json_decref(input);
    if (rc == 0 && strcmp(op, "change_member_status") == 0) {
        /* the changes (member's and cascaded dependents') go beside the member */
        json_t *m = json_object_get(*out, "member");
        json_t *changes = json_object_get(m, "changes");
        json_object_set(*out, "changes", changes ? changes : json_null());
        if (changes) json_object_del(m, "changes");
    }
    return rc;
}

int gql_members_bind(gql_resolvers *rs) {
    int rc = 0;
    rc |= gql_resolvers_add(rs, "Query", "member", r_member, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Query", "members", r_members, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Viewer", "member", r_viewer_member, NULL, NULL);
    /* Member.club / Member.homeClub: all parents' club ids in one batch */
    rc |= gql_resolvers_add(rs, "Member", "club", gqlb_parent_club, gqlb_prefetch_parent_clubs,
                            "clubId");
    rc |= gql_resolvers_add(rs, "Member", "homeClub", gqlb_parent_club, gqlb_prefetch_parent_clubs,
                            "homeClubId");
    rc |= gql_resolvers_add(rs, "Member", "dependents", r_member_list, pf_member_relations,
                            "list_dependents");
    rc |= gql_resolvers_add(rs, "Member", "statusHistory", r_member_list, pf_member_relations,
                            "member_status_history");
    rc |= gql_resolvers_add(rs, "Mutation", "createMember", r_mutation, NULL, "create_member");
    rc |= gql_resolvers_add(rs, "Mutation", "updateMember", r_mutation, NULL, "update_member");
    rc |= gql_resolvers_add(rs, "Mutation", "changeMemberStatus", r_mutation, NULL,
                            "change_member_status");
    rc |= gql_resolvers_add(rs, "Mutation", "addDependent", r_mutation, NULL, "add_dependent");
    rc |= gql_clubs_bind(rs); /* clubs: graphql_clubs.c */
    return rc;
}
