/* graphql_settlement: see graphql_settlement.h. */
#include "services/reciprocal/graphql_settlement.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "gateway/graphql_bind.h"

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

static int r_charges(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                     char **error) {
    (void)parent;
    json_t *input = gqlb_page_input(info, args, error);
    if (!input) return -1;
    gqlb_set_str(input, "visit_id", json_object_get(args, "visitId"));
    gqlb_set_str(input, "member_id", json_object_get(args, "memberId"));
    gqlb_set_str(input, "statement_id", json_object_get(args, "statementId"));
    gqlb_set_enum(input, "category", json_object_get(args, "category"));
    int rc = gqlb_list(info, "reciprocal", "list_charges", input, charge_out, out, error);
    json_decref(input);
    return rc;
}

static int r_statements(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                        char **error) {
    (void)parent;
    json_t *input = gqlb_page_input(info, args, error);
    if (!input) return -1;
    gqlb_set_str(input, "period", json_object_get(args, "period"));
    gqlb_set_enum(input, "side", json_object_get(args, "side"));
    gqlb_set_enum(input, "status", json_object_get(args, "status"));
    int rc = gqlb_list(info, "reciprocal", "list_statements", input, statement_out, out, error);
    json_decref(input);
    return rc;
}

static int r_one(const gql_resolve_info *info, json_t *args, const char *op, const char *arg,
                 json_t *(*convert)(json_t *), json_t **out, char **error) {
    json_t *input = json_object();
    gqlb_set_str(input, "id", json_object_get(args, arg));
    int rc = gqlb_query(info, "reciprocal", op, input, NULL, convert, out, error);
    json_decref(input);
    return rc;
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

/* A charge's REST input: the category in lower case, the visit as "id". */
static void charge_in(json_t *input) {
    json_t *cat = lower(json_object_get(input, "category"));
    if (cat) json_object_set_new(input, "category", cat);
    json_t *visit = json_object_get(input, "visit_id");
    if (visit) {
        json_object_set(input, "id", visit);
        json_object_del(input, "visit_id");
    }
}

/* A bill's REST input: charge_in, and each line's category in lower case. */
static void charges_in(json_t *input) {
    charge_in(input);
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(input, "lines"), i, l) {
        json_t *cat = lower(json_object_get(l, "category"));
        if (cat) json_object_set_new(l, "category", cat);
    }
}

/* A bill's REST answer {items} -> the list of its charges. */
static json_t *charges_out(json_t *rest) {
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(rest, "items"), i, c)
        json_array_append_new(out, charge_out(c));
    return out;
}

#define CHARGE_MUTATION(f, o)                                                                      \
    {                                                                                              \
        .field = f, .module = "reciprocal", .op = o, .key = "charge", .convert = charge_out,       \
        .prepare = charge_in                                                                       \
    }
#define STATEMENT_MUTATION(f, o)                                                                   \
    { .field = f, .module = "reciprocal", .op = o, .key = "statement", .convert = statement_out }
static const gqlb_mutation_row_t k_mutations[] = {
    CHARGE_MUTATION("postCharge", "post_charge"),
    CHARGE_MUTATION("reverseCharge", "reverse_charge"),
    STATEMENT_MUTATION("issueStatement", "issue_statement"),
    STATEMENT_MUTATION("disputeStatement", "dispute_statement"),
    STATEMENT_MUTATION("disputeStatementLine", "dispute_statement_line"),
    STATEMENT_MUTATION("rejectStatementDispute", "reject_statement_dispute"),
    STATEMENT_MUTATION("acceptStatement", "accept_statement"),
    STATEMENT_MUTATION("payStatement", "pay_statement"),
    /* whole bills (docs/reciprocal.md "Posting charges: whole bills, fewer round trips") */
    {.field = "postCharges",
     .module = "reciprocal",
     .op = "post_charge",
     .key = "charges",
     .convert = charges_out,
     .prepare = charges_in},
};

int gql_settlement_bind(gql_resolvers *rs) {
    int rc = 0;
    rc |= gql_resolvers_add(rs, "Query", "charges", r_charges, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Query", "statement", r_statement, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Query", "statements", r_statements, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Query", "cancellationFee", r_fee, NULL, NULL);
    rc |= gqlb_add_mutations(rs, k_mutations, sizeof k_mutations / sizeof k_mutations[0]);
    return rc;
}
