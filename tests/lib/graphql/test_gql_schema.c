/* test_gql_schema: the type system (src/lib/graphql/gql_schema.c): building from SDL,
 * extensions, root types, lookups (fields, meta fields, possible types, sub-typing), the SDL and
 * schema validation errors (worded as graphql-js 16.15.0 words them), literal coercion, and the
 * validator's extra limits on a connection schema. Needs no database. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/graphql/gql_parser.h"
#include "lib/graphql/gql_schema.h"
#include "lib/graphql/gql_validate.h"
#include "test.h"

static gql_schema *build(const char *sdl, gql_errors *errs) {
    err_t e;
    return gql_schema_build(sdl, strlen(sdl), errs, &e);
}

/* The first error message building sdl gives ("" when it builds). */
static char first_error[1024];
static const char *schema_error(const char *sdl) {
    gql_errors errs = {0};
    gql_schema *s = build(sdl, &errs);
    snprintf(first_error, sizeof first_error, "%s", errs.count ? errs.items[0].message : "");
    gql_errors_free(&errs);
    gql_schema_free(s);
    return first_error;
}

static void test_build_and_lookup(void) {
    const char *sdl =
        "\"\"\"The root\"\"\"\n"
        "type Query { node(id: ID!): Node pets: [Pet!]! search(q: String = \"x\"): [Result] "
        "when: Date }\n"
        "scalar Date @specifiedBy(url: \"https://example.com/date\")\n"
        "interface Node { id: ID! }\n"
        "interface Pet implements Node { id: ID! name: String }\n"
        "type Dog implements Pet & Node { id: ID! name: String barks: Boolean }\n"
        "type Cat implements Pet & Node { id: ID! name: String }\n"
        "union Result = Dog | Cat\n"
        "enum Color { RED GREEN BLUE @deprecated(reason: \"gone\") }\n"
        "input Filter { color: Color = RED, names: [String!] }\n"
        "extend type Cat { lives: Int @deprecated }\n"
        "extend union Result = Human\n"
        "type Human { id: ID! }\n"
        "directive @cost(weight: Int!) repeatable on FIELD_DEFINITION\n";
    gql_errors errs = {0};
    gql_schema *s = build(sdl, &errs);
    for (size_t i = 0; i < errs.count; i++)
        printf("#   %s\n", errs.items[i].message);
    REQUIRE(s);
    CHECK_STR(s->query->name, "Query");
    CHECK(s->mutation == NULL);
    CHECK_STR(s->query->description, "The root");
    gql_type *cat = gql_schema_type(s, "Cat"), *pet = gql_schema_type(s, "Pet");
    gql_type *node = gql_schema_type(s, "Node"), *res = gql_schema_type(s, "Result");
    REQUIRE(cat && pet && node && res);
    const gql_field *lives = gql_type_field(cat, "lives");
    REQUIRE(lives);
    CHECK_STR(lives->deprecation_reason, "No longer supported");
    CHECK_EQ_INT(res->npossible, 3);
    CHECK(gql_schema_is_sub_type(s, pet, cat));
    CHECK(gql_schema_is_sub_type(s, node, pet)); /* interface implementing interface */
    CHECK(!gql_schema_is_sub_type(s, pet, gql_schema_type(s, "Human")));
    CHECK(gql_schema_types_overlap(s, res, pet));
    size_t n;
    gql_type *const *pt = gql_schema_possible_types(s, pet, &n);
    CHECK_EQ_INT(n, 2);
    CHECK(pt && (pt[0] == gql_schema_type(s, "Dog")));
    /* meta fields */
    CHECK(gql_schema_field(s, s->query, "__schema") == &s->schema_meta);
    CHECK(gql_schema_field(s, cat, "__schema") == NULL);
    CHECK(gql_schema_field(s, res, "__typename") == &s->typename_meta);
    /* type references */
    const gql_field *pets = gql_type_field(s->query, "pets");
    gql_sb sb = {0};
    gql_tref_print(&sb, pets->type);
    CHECK_STR(gql_sb_str(&sb), "[Pet!]!");
    gql_sb_free(&sb);
    CHECK_STR(gql_schema_type(s, "Date")->specified_by_url, "https://example.com/date");
    CHECK(gql_schema_type(s, "Float") == NULL); /* not referenced: not in the schema */
    CHECK(gql_schema_type(s, "Boolean") != NULL);
    CHECK(gql_schema_type(s, "__Type") != NULL);
    const gql_enum_value *blue = gql_type_enum_value(gql_schema_type(s, "Color"), "BLUE");
    REQUIRE(blue);
    CHECK_STR(blue->deprecation_reason, "gone");
    gql_directive *cost = gql_schema_directive(s, "cost");
    REQUIRE(cost);
    CHECK(cost->repeatable);
    CHECK(gql_schema_directive(s, "skip") && gql_schema_directive(s, "oneOf"));
    /* literal coercion */
    err_t e;
    const char *q = "{ f(a: {names: \"x\"}, b: BLUE, c: [1, 2], d: 7) }";
    gql_document *doc = gql_parse(q, strlen(q), NULL, NULL, &e);
    if (!doc) gql_schema_free(s);
    REQUIRE(doc);
    const gql_node *f = doc->root->u.document.definitions.items[0]
                            ->u.operation.selection_set->u.selection_set.selections.items[0];
    const gql_node *a = f->u.field.arguments.items[0]->u.argument.value;
    json_t *out = NULL;
    gql_type *filter = gql_schema_type(s, "Filter");
    CHECK_EQ_INT(gql_value_from_ast(s, &filter->ref, a, NULL, &out), 0);
    char *js = out ? json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    CHECK_STR(js, "{\"color\":\"RED\",\"names\":[\"x\"]}");
    free(js);
    json_decref(out);
    const gql_node *d = f->u.field.arguments.items[3]->u.argument.value;
    gql_type *id = gql_schema_type(s, "ID");
    CHECK_EQ_INT(gql_value_from_ast(s, &id->ref, d, NULL, &out), 0);
    CHECK(json_is_string(out) && strcmp(json_string_value(out), "7") == 0);
    json_decref(out);
    const gql_node *b = f->u.field.arguments.items[1]->u.argument.value;
    CHECK_EQ_INT(gql_value_from_ast(s, &id->ref, b, NULL, &out), -1);
    char *msg = NULL;
    CHECK_EQ_INT(gql_leaf_parse_literal(gql_schema_type(s, "Color"), d, false, &msg), -1);
    CHECK_STR(msg, "Enum \"Color\" cannot represent non-enum value: 7.");
    free(msg);
    gql_document_free(doc);
    gql_schema_free(s);
}

static void test_schema_errors(void) {
    CHECK_STR(schema_error("type Query { a: Int }"), "");
    CHECK_STR(schema_error("type Foo { a: Int }"), "Query root type must be provided.");
    CHECK_STR(schema_error("type Query { a: Missing }"), "Unknown type \"Missing\".");
    CHECK_STR(schema_error("type Query { a: Int } type Query { b: Int }"),
              "There can be only one type named \"Query\".");
    CHECK_STR(schema_error("type Query { a: Int a: String }"),
              "Field \"Query.a\" can only be defined once.");
    CHECK_STR(schema_error("type Query { a: Int } extend type Nope { b: Int }"),
              "Cannot extend type \"Nope\" because it is not defined.");
    CHECK_STR(schema_error("type Query { a: Int } extend input Query { b: Int }"),
              "Cannot extend non-object type \"Query\".");
    CHECK_STR(schema_error("type Query { a: Int @unknown }"), "Unknown directive \"@unknown\".");
    CHECK_STR(schema_error("type Query { a: Int @skip(if: true) }"),
              "Directive \"@skip\" may not be used on FIELD_DEFINITION.");
    CHECK_STR(schema_error("type Query { a(x: In): Int } input In { f: Query }"),
              "The type of In.f must be Input Type but got: Query.");
    CHECK_STR(schema_error("type Query { a: In } input In { f: Int }"),
              "The type of Query.a must be Output Type but got: In.");
    CHECK_STR(schema_error("type Query { __a: Int }"),
              "Name \"__a\" must not begin with \"__\", which is reserved by GraphQL "
              "introspection.");
    CHECK_STR(schema_error("type Query { a: I } interface I { x: Int } type T implements I { y: "
                           "Int }"),
              "Interface field I.x expected but T does not provide it.");
    CHECK_STR(schema_error("type Query { a: I } interface I { x: Int } type T implements I { x: "
                           "String }"),
              "Interface field I.x expects type Int but T.x is type String.");
    CHECK_STR(schema_error("type Query { a: I } interface I { x(a: Int): Int } type T implements "
                           "I { x: Int }"),
              "Interface field argument I.x(a:) expected but T.x does not provide it.");
    CHECK_STR(schema_error("type Query { a: I } interface I { x: Int } type T implements I { x(b: "
                           "Int!): Int }"),
              "Object field T.x includes required argument b that is missing from the Interface "
              "field I.x.");
    CHECK_STR(schema_error("type Query { a: J } interface I { x: Int } interface J implements I "
                           "{ x: Int } type T implements J { x: Int }"),
              "Type T must implement I because it is implemented by J.");
    CHECK_STR(schema_error("type Query { a: U } union U = Query | In input In { f: Int }"),
              "Union type U can only include Object types, it cannot include In.");
    CHECK_STR(schema_error("type Query { a(x: A): Int } input A { b: B! } input B { a: A! }"),
              "Cannot reference Input Object \"A\" within itself through a series of non-null "
              "fields: \"b.a\".");
    CHECK_STR(schema_error("type Query { a(x: O): Int } input O @oneOf { a: Int! b: Int }"),
              "OneOf input field O.a must be nullable.");
    CHECK_STR(schema_error("type Query { a(x: Int! @deprecated): Int }"),
              "Required argument Query.a(x:) cannot be deprecated.");
    CHECK_STR(schema_error("schema { query: Q } schema { query: Q } type Q { a: Int }"),
              "Must provide only one schema definition.");
    CHECK_STR(schema_error("schema { query: I } interface I { a: Int }"),
              "Query root type must be Object type, it cannot be I.");
    CHECK_STR(schema_error("type Query { a: Int"), "Syntax Error: Expected Name, found <EOF>.");
    /* every problem is reported, with a location */
    gql_errors errs = {0};
    gql_schema *s = build("type Query { a: X b: Y }", &errs);
    CHECK(s == NULL);
    CHECK_EQ_INT(errs.count, 2);
    if (errs.count == 2) {
        CHECK_EQ_INT(errs.items[1].nlocations, 1);
        CHECK_EQ_INT(errs.items[1].locations[0].column, 22);
    }
    gql_errors_free(&errs);
}

static void test_connection_limits(void) {
    const char *sdl = "type Query { clubs(first: Int, last: Int, after: String): ClubConnection! "
                      "club(id: ID!): Club }\n"
                      "type ClubConnection { edges: [ClubEdge!]! pageInfo: PageInfo! }\n"
                      "type ClubEdge { cursor: String! node: Club! }\n"
                      "type PageInfo { hasNextPage: Boolean! }\n"
                      "type Club { id: ID! name: String! tags: [String!]! "
                      "members(first: Int, last: Int): MemberConnection! }\n"
                      "type MemberConnection { edges: [MemberEdge!]! }\n"
                      "type MemberEdge { node: Member! }\n"
                      "type Member { id: ID! }\n";
    gql_errors errs = {0};
    gql_schema *s = build(sdl, &errs);
    REQUIRE(s);
    gql_validate_opts o = {.require_pagination = true, .max_cost = 500, .max_depth = 8};
    struct {
        const char *q;
        int errors;
    } cases[] = {
        {"{ club(id: 1) { name tags } }", 0},
        {"{ clubs(first: 10) { edges { node { name tags } } pageInfo { hasNextPage } } }", 0},
        {"{ clubs { edges { node { name } } } }", 1},
        {"{ clubs(first: 10) { edges { node { members { edges { node { id } } } } } } }", 1},
        {"{ clubs(first: 10) { edges { node { members(last: 40) { edges { node { id } } } } } } }",
         0},
        {"{ clubs(first: 10) { edges { node { members(last: 50) { edges { node { id } } } } } } }",
         1}, /* 10 + 10*50 = 510 > 500 */
        {"{ clubs(first: 100, last: 5) { edges { cursor } } }", 0},
        {"{ clubs(first: 101) { edges { cursor } } }", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err_t e;
        gql_document *doc = gql_parse(cases[i].q, strlen(cases[i].q), NULL, NULL, &e);
        REQUIRE(doc);
        int n = gql_validate(s, doc, &o, &errs);
        if (n != cases[i].errors) {
            printf("#   case %zu: %d errors, expected %d\n", i, n, cases[i].errors);
            for (size_t k = 0; k < errs.count; k++)
                printf("#     %s\n", errs.items[k].message);
        }
        CHECK_EQ_INT(n, cases[i].errors);
        gql_errors_free(&errs);
        gql_document_free(doc);
    }
    gql_schema_free(s);
}

int main(void) {
    RUN(test_build_and_lookup);
    RUN(test_schema_errors);
    RUN(test_connection_limits);
    TEST_DONE();
}
