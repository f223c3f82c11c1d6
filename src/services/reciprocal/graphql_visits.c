/* graphql_visits: see graphql_visits.h. */
#include "services/reciprocal/graphql_visits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "gateway/graphql_bind.h"

/* The request's cache of batched members (api_req.relations): id -> member or null. */
#define MEMBER_CACHE "get_member"

/* ---- queries ---- */

static int r_visit(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                   char **error) {
    (void)parent;
    json_t *input = json_object();
    gqlb_set_str(input, "id", json_object_get(args, "id"));
    int rc = gqlb_query(info, "reciprocal", "get_visit", input, NULL, NULL, out, error);
    json_decref(input);
    return rc;
}

static int r_visits(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                    char **error) {
    (void)parent;
    json_t *input = gqlb_page_input(info, args, error);
    if (!input) return -1;
    static const char *const plain[][2] = {
        {"from", "from"}, {"to", "to"}, {"memberId", "member_id"}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        gqlb_set_str(input, plain[i][1], json_object_get(args, plain[i][0]));
    gqlb_set_enum(input, "side", json_object_get(args, "side"));
    gqlb_set_enum(input, "status", json_object_get(args, "status"));
    int rc = gqlb_list(info, "reciprocal", "list_visits", input, gqlb_output, out, error);
    json_decref(input);
    return rc;
}

/* ---- Visit fields that need a call ---- */

/* Visit.history: present when the visit came from get_visit (else one get_visit call). */
static int r_history(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                     char **error) {
    (void)args;
    return gqlb_parent_or_get(info, parent, "history", "reciprocal", "get_visit", out, error);
}

/* Visit.homeClub / Visit.hostClub: all parents' home AND host club ids in one batch (the
 * other field then finds its clubs in the cache). */
static void pf_club(const gql_resolve_info *info, json_t *calls) {
    json_t *ids = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c) {
        static const char *const keys[] = {"homeClubId", "hostClubId"};
        for (size_t k = 0; k < 2; k++) {
            json_t *id = json_object_get(json_array_get(c, 0), keys[k]);
            if (json_is_string(id)) json_array_append(ids, id);
        }
    }
    gqlb_prefetch_clubs(info->ctx, ids);
    json_decref(ids);
}

/* The caller may see the member of a visit with home club `home` through the member service:
 * the home club's staff or a network administrator (the member themself too: get_member
 * answers them). The host may not: no call. */
static int may_see_member(const api_req *r, const char *home) {
    return r->caller.network_admin || (home && strcmp(r->caller.club_id, home) == 0);
}

/* Visit.member of a list: the members of one home club (the caller's, or the first named for a
 * network administrator) in ONE member_relations_by_ids call (staff holding member:read); every
 * id asked is cached, null when the member service did not answer it. Other parents fall back
 * to their own get_member (or null for the host). */
/* a member already cached, or one the caller may not see */
static int member_skip(const gql_resolve_info *info, json_t *parent, const char *id,
                       const char *home) {
    api_req *r = info->ctx;
    (void)parent;
    return json_object_get(gqlb_relations_cache(r, MEMBER_CACHE), id) || !may_see_member(r, home);
}

static void pf_member(const gql_resolve_info *info, json_t *calls) {
    api_req *r = info->ctx;
    if (!svc_authorized(&r->caller, "member:read")) return;
    const char *club;
    json_t *ids = gqlb_batch_ids(info, calls, "memberId", "homeClubId", member_skip, &club);
    json_t *output = gqlb_member_relations(r, ids, r->caller.network_admin ? club : NULL);
    if (output) {
        json_t *members = json_object_get(output, "members"), *id;
        json_t *cache = gqlb_relations_cache(r, MEMBER_CACHE);
        size_t i;
        json_array_foreach(ids, i, id) {
            json_t *m = json_object_get(members, json_string_value(id));
            json_object_set(cache, json_string_value(id), m ? m : json_null());
        }
        json_decref(output);
    }
    json_decref(ids);
}

static int r_member(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                    char **error) {
    (void)args;
    api_req *r = info->ctx;
    const char *id = json_string_value(json_object_get(parent, "memberId"));
    const char *home = json_string_value(json_object_get(parent, "homeClubId"));
    *out = NULL;
    if (!id || !may_see_member(r, home)) return 0; /* the host: the letter's snapshot only */
    json_t *cached = json_object_get(gqlb_relations_cache(r, MEMBER_CACHE), id);
    if (cached) {
        *out = json_is_null(cached) ? NULL : gqlb_output(cached);
        return 0;
    }
    json_t *input = json_pack("{s:s, s:s}", "id", id, "club_id", home), *output = NULL;
    err_t e = {0};
    int rc = gqlb_call(r, "member", "get_member", input, &output, &e);
    json_decref(input);
    if (rc != 0) {
        if (e.status == 404 || e.status == 403) return 0; /* not visible: null */
        return gqlb_fail(info, &e, error);
    }
    json_object_set(gqlb_relations_cache(r, MEMBER_CACHE), id, output);
    *out = gqlb_output(output);
    json_decref(output);
    return 0;
}

/* ---- mutations ---- */

#define VISIT_MUTATION(f, o, k)                                                                    \
    { .field = f, .module = "reciprocal", .op = o, .key = k }
static const gqlb_mutation_row_t k_mutations[] = {
    VISIT_MUTATION("requestVisit", "create_visit", "visit"),
    VISIT_MUTATION("approveVisit", "approve_visit", "visit"),
    VISIT_MUTATION("confirmVisit", "confirm_visit", "visit"),
    VISIT_MUTATION("declineVisit", "decline_visit", "visit"),
    VISIT_MUTATION("cancelVisit", "cancel_visit", "visit"),
    VISIT_MUTATION("revokeVisit", "revoke_visit", "visit"),
    VISIT_MUTATION("checkInVisit", "check_in_visit", "visit"),
    VISIT_MUTATION("checkOutVisit", "check_out_visit", "visit"),
    VISIT_MUTATION("verifyLoi", "verify_loi", "verification"),
};

int gql_visits_bind(gql_resolvers *rs) {
    int rc = 0;
    rc |= gql_resolvers_add(rs, "Query", "visit", r_visit, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Query", "visits", r_visits, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Visit", "history", r_history, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Visit", "homeClub", gqlb_parent_club, pf_club, "homeClubId");
    rc |= gql_resolvers_add(rs, "Visit", "hostClub", gqlb_parent_club, pf_club, "hostClubId");
    rc |= gql_resolvers_add(rs, "Visit", "member", r_member, pf_member, NULL);
    rc |= gqlb_add_mutations(rs, k_mutations, sizeof k_mutations / sizeof k_mutations[0]);
    return rc;
}
