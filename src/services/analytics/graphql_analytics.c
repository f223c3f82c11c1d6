/* graphql_analytics: see graphql_analytics.h. */
#include "services/analytics/graphql_analytics.h"

#include "gateway/graphql_bind.h"

/* The range arguments into the REST input. */
static json_t *range_input(json_t *args) {
    json_t *in = json_object();
    gqlb_set_enum(in, "period", json_object_get(args, "period"));
    gqlb_set_str(in, "date", json_object_get(args, "date"));
    gqlb_set_str(in, "from", json_object_get(args, "from"));
    gqlb_set_str(in, "to", json_object_get(args, "to"));
    return in;
}

/* gqlb_output, and lead_time's keys ("0-1" ...) as GraphQL names. */
static json_t *report_output(json_t *rest) {
    json_t *out = gqlb_output(rest), *lt = json_object_get(rest, "lead_time");
    json_object_set_new(out, "leadTime",
                        json_pack("{s:O, s:O, s:O}", "upToOneDay", json_object_get(lt, "0-1"),
                                  "twoToSevenDays", json_object_get(lt, "2-7"), "eightDaysOrMore",
                                  json_object_get(lt, "8+")));
    return out;
}

static int r_report(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                    char **error) {
    (void)parent;
    json_t *in = range_input(args);
    gqlb_set_str(in, "id", json_object_get(args, "clubId"));
    gqlb_set_str(in, "partner", json_object_get(args, "partner"));
    json_t *top = json_object_get(args, "top");
    if (json_is_integer(top)) json_object_set(in, "top", top);
    int rc = gqlb_query(info, "analytics", "club_report", in, NULL, report_output, out, error);
    json_decref(in);
    return rc;
}

static int r_network(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                     char **error) {
    (void)parent;
    json_t *in = range_input(args);
    int rc = gqlb_query(info, "analytics", "network_report", in, NULL, NULL, out, error);
    json_decref(in);
    return rc;
}

/* clubId (club_id after gqlb_mutation_input) is the REST path's id. */
static void capacity_input(json_t *in) {
    json_t *id = json_object_get(in, "club_id");
    if (id) json_object_set(in, "id", id);
    json_object_del(in, "club_id");
}

static const gqlb_mutation_row_t k_mutations[] = {
    {"setAnalyticsCapacity", "analytics", "set_capacity", "capacity", NULL, capacity_input},
};

int gql_analytics_bind(struct gql_resolvers *rs) {
    int rc = 0;
    rc |= gqlb_add_mutations(rs, k_mutations, sizeof k_mutations / sizeof k_mutations[0]);
    rc |= gql_resolvers_add(rs, "Query", "analyticsReport", r_report, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Query", "analyticsNetworkReport", r_network, NULL, NULL);
    return rc;
}
