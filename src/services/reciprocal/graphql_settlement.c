/* graphql_settlement: see graphql_settlement.h. */
#include "services/reciprocal/graphql_settlement.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "gateway/graphql_bind.h"

static void set_str(json_t *o, const char *key, json_t *v) {
    if (json_is_string(v)) json_object_set(o, key, v);
}

/* v in lower case ("GREEN_FEE" -> "green_fee") as a new string, or NULL. */
static json_t *lower(json_t *v) {
    const char *s = json_string_value(v);
    if (!s) return NULL;
    char buf[64];
    size_t o = 0;
    for (; s[o] && o + 1 < sizeof buf; o++)
        buf[o] = (char)tolower((unsigned char)s[o]);
    buf[o] = 0;
    return json_string(buf);
}

static void upper_key(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    if (json_is_string(v)) json_object_set_new(o, k, gqlb_upper(v));
}

static json_t *charge_out(json_t *rest) {
    json_t *out = gqlb_output(rest);
    upper_key(out, "category");
    return out;
}

static json_t *statement_out(json_t *rest) {
    json_t *out = gqlb_output(rest);
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(out, "lines"), i, l) upper_key(l, "category");
    return out;
}

static int connection(const gql_resolve_info *info, json_t *output, json_t *(*node)(json_t *),
                      json_t **out) {
    (void)info;
    *out = gqlb_connection(output, node);
    return 0;
}

static int r_charges(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                     char **error) {
    (void)parent;
    json_t *input = json_object(), *output = NULL;
    if (gqlb_first(info, args, input, error) != 0) {
        json_decref(input);
        return -1;
    }
    set_str(input, "after", json_object_get(args, "after"));
    set_str(input, "visit_id", json_object_get(args, "visitId"));
    set_str(input, "member_id", json_object_get(args, "memberId"));
    set_str(input, "statement_id", json_object_get(args, "statementId"));
    json_t *cat = lower(json_object_get(args, "category"));
    if (cat) json_object_set_new(input, "category", cat);
    err_t e = {0};
    int rc = gqlb_call(info->ctx, "reciprocal", "list_charges", input, &output, &e);
    json_decref(input);
    if (rc != 0) return gqlb_fail(info, &e, error);
    connection(info, output, charge_out, out);
    json_decref(output);
    return 0;
}

static int r_statements(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                        char **error) {
    (void)parent;
    json_t *input = json_object(), *output = NULL;
    if (gqlb_first(info, args, input, error) != 0) {
        json_decref(input);
        return -1;
    }
    set_str(input, "after", json_object_get(args, "after"));
    set_str(input, "period", json_object_get(args, "period"));
    json_t *side = lower(json_object_get(args, "side")),
           *status = lower(json_object_get(args, "status"));
    if (side) json_object_set_new(input, "side", side);
    if (status) json_object_set_new(input, "status", status);
    err_t e = {0};
    int rc = gqlb_call(info->ctx, "reciprocal", "list_statements", input, &output, &e);
    json_decref(input);
    if (rc != 0) return gqlb_fail(info, &e, error);
    connection(info, output, statement_out, out);
    json_decref(output);
    return 0;
}

static int r_one(const gql_resolve_info *info, json_t *args, const char *op, const char *arg,
                 json_t *(*convert)(json_t *), json_t **out, char **error) {
    json_t *input = json_object(), *output = NULL;
    set_str(input, "id", json_object_get(args, arg));
    err_t e = {0};
    int rc = gqlb_call(info->ctx, "reciprocal", op, input, &output, &e);
    json_decref(input);
    if (rc != 0) return gqlb_fail(info, &e, error);
    *out = convert(output);
    json_decref(output);
    return 0;
}

static int r_statement(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                       char **error) {
    (void)parent;
    return r_one(info, args, "get_statement", "id", statement_out, out, error);
}

static int r_fee(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                 char **error) {
    (void)parent;
    return r_one(info, args, "visit_cancellation_fee", "visitId", gqlb_output, out, error);
}

static int r_charge_mutation(const gql_resolve_info *info, json_t *parent, json_t *args,
                             json_t **out, char **error) {
    (void)parent;
    json_t *input = gqlb_rest_input(json_object_get(args, "input"));
    json_t *cat = lower(json_object_get(input, "category"));
    if (cat) json_object_set_new(input, "category", cat);
    json_t *visit = json_object_get(input, "visit_id");
    if (visit) {
        json_object_set(input, "id", visit);
        json_object_del(input, "visit_id");
    }
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(input, tmp, k, v) {
        if (json_is_null(v)) json_object_del(input, k);
    }
    int rc = gqlb_mutation(info, "reciprocal", info->ud, input, "charge", charge_out, out, error);
    json_decref(input);
    return rc;
}

static int r_statement_mutation(const gql_resolve_info *info, json_t *parent, json_t *args,
                                json_t **out, char **error) {
    (void)parent;
    json_t *input = gqlb_rest_input(json_object_get(args, "input"));
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(input, tmp, k, v) {
        if (json_is_null(v)) json_object_del(input, k);
    }
    int rc =
        gqlb_mutation(info, "reciprocal", info->ud, input, "statement", statement_out, out, error);
    json_decref(input);
    return rc;
}

int gql_settlement_bind(gql_resolvers *rs) {
    static const char *const charges[][2] = {{"postCharge", "post_charge"},
                                             {"reverseCharge", "reverse_charge"}};
    static const char *const statements[][2] = {
        {"issueStatement", "issue_statement"},
        {"disputeStatement", "dispute_statement"},
        {"disputeStatementLine", "dispute_statement_line"},
        {"rejectStatementDispute", "reject_statement_dispute"},
        {"acceptStatement", "accept_statement"},
        {"payStatement", "pay_statement"}};
    int rc = 0;
    rc |= gql_resolvers_add(rs, "Query", "charges", r_charges, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Query", "statement", r_statement, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Query", "statements", r_statements, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Query", "cancellationFee", r_fee, NULL, NULL);
    for (size_t i = 0; i < sizeof charges / sizeof charges[0]; i++)
        rc |= gql_resolvers_add(rs, "Mutation", charges[i][0], r_charge_mutation, NULL,
                                (void *)charges[i][1]);
    for (size_t i = 0; i < sizeof statements / sizeof statements[0]; i++)
        rc |= gql_resolvers_add(rs, "Mutation", statements[i][0], r_statement_mutation, NULL,
                                (void *)statements[i][1]);
    return rc;
}
