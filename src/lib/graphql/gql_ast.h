/* gql_ast: the GraphQL syntax tree (graphql-js's AST node kinds and fields, snake_case).
 * A gql_document owns an arena; every node, list and string of the tree lives in it and is
 * released by gql_document_free(). Nodes are never shared between documents. Each node keeps
 * the location of its first token (line/column as in gql_lexer.h) and its byte span.
 * Also: the structural comparison the tests use (equal ignoring locations). */
#ifndef GATEWAY_GRAPHQL_GQL_AST_H
#define GATEWAY_GRAPHQL_GQL_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/graphql/gql_arena.h"

typedef enum gql_kind {
    GQL_NAME,
    GQL_DOCUMENT,
    GQL_OPERATION_DEFINITION,
    GQL_VARIABLE_DEFINITION,
    GQL_VARIABLE,
    GQL_SELECTION_SET,
    GQL_FIELD,
    GQL_ARGUMENT,
    GQL_FRAGMENT_SPREAD,
    GQL_INLINE_FRAGMENT,
    GQL_FRAGMENT_DEFINITION,
    GQL_INT_VALUE,
    GQL_FLOAT_VALUE,
    GQL_STRING_VALUE,
    GQL_BOOLEAN_VALUE,
    GQL_NULL_VALUE,
    GQL_ENUM_VALUE,
    GQL_LIST_VALUE,
    GQL_OBJECT_VALUE,
    GQL_OBJECT_FIELD,
    GQL_DIRECTIVE,
    GQL_NAMED_TYPE,
    GQL_LIST_TYPE,
    GQL_NON_NULL_TYPE,
    GQL_SCHEMA_DEFINITION,
    GQL_OPERATION_TYPE_DEFINITION,
    GQL_SCALAR_TYPE_DEFINITION,
    GQL_OBJECT_TYPE_DEFINITION,
    GQL_FIELD_DEFINITION,
    GQL_INPUT_VALUE_DEFINITION,
    GQL_INTERFACE_TYPE_DEFINITION,
    GQL_UNION_TYPE_DEFINITION,
    GQL_ENUM_TYPE_DEFINITION,
    GQL_ENUM_VALUE_DEFINITION,
    GQL_INPUT_OBJECT_TYPE_DEFINITION,
    GQL_DIRECTIVE_DEFINITION,
    GQL_SCHEMA_EXTENSION,
    GQL_SCALAR_TYPE_EXTENSION,
    GQL_OBJECT_TYPE_EXTENSION,
    GQL_INTERFACE_TYPE_EXTENSION,
    GQL_UNION_TYPE_EXTENSION,
    GQL_ENUM_TYPE_EXTENSION,
    GQL_INPUT_OBJECT_TYPE_EXTENSION,
    GQL_KIND_COUNT
} gql_kind;

typedef enum gql_operation { GQL_OP_QUERY, GQL_OP_MUTATION, GQL_OP_SUBSCRIPTION } gql_operation;

typedef struct gql_node gql_node;

typedef struct gql_list {
    gql_node **items;
    size_t count;
} gql_list;

typedef struct gql_loc {
    uint32_t line, column; /* of the first token; column in UTF-16 code units, 1-based */
    size_t start, end;     /* byte span from the first token's start to the last token's end */
} gql_loc;

/* Which member of `u` a kind uses:
 *   NAME, INT/FLOAT/STRING/ENUM_VALUE: text (block only for STRING_VALUE)
 *   BOOLEAN_VALUE: boolean; NULL_VALUE: none
 *   DOCUMENT: document; OPERATION_DEFINITION: operation; VARIABLE_DEFINITION: variable_definition
 *   VARIABLE, NAMED_TYPE: named (name); LIST_TYPE, NON_NULL_TYPE: wrapped (type)
 *   SELECTION_SET: selection_set; FIELD: field; ARGUMENT, OBJECT_FIELD: argument (name, value)
 *   FRAGMENT_SPREAD: fragment_spread; INLINE_FRAGMENT: inline_fragment
 *   FRAGMENT_DEFINITION: fragment; LIST_VALUE: list; OBJECT_VALUE: object; DIRECTIVE: directive
 *   SCHEMA_DEFINITION, SCHEMA_EXTENSION: schema; OPERATION_TYPE_DEFINITION: operation_type
 *   the six *_TYPE_DEFINITION and six *_TYPE_EXTENSION kinds: type_def (description is NULL on
 *     extensions; object/interface use interfaces+fields, input uses fields (INPUT_VALUE_
 *     DEFINITION nodes), enum uses values, union uses types, scalar only directives)
 *   FIELD_DEFINITION, INPUT_VALUE_DEFINITION: field_def (arguments empty and default_value
 *     set only for input values)
 *   ENUM_VALUE_DEFINITION: enum_value_def; DIRECTIVE_DEFINITION: directive_def
 * Optional children are NULL when absent; lists are empty (count 0) when absent. */
struct gql_node {
    gql_kind kind;
    gql_loc loc;
    union {
        struct {
            const char *value; /* NUL-terminated; STRING_VALUE may also contain NUL */
            size_t len;
            bool block; /* STRING_VALUE written as a block string */
        } text;
        bool boolean;
        struct {
            gql_list definitions;
        } document;
        struct {
            gql_operation operation;
            gql_node *description, *name; /* both optional */
            gql_list variable_definitions, directives;
            gql_node *selection_set;
        } operation;
        struct {
            gql_node *description, *variable, *type, *default_value;
            gql_list directives;
        } variable_definition;
        struct {
            gql_node *name;
        } named;
        struct {
            gql_node *type;
        } wrapped;
        struct {
            gql_list selections;
        } selection_set;
        struct {
            gql_node *alias, *name; /* alias optional */
            gql_list arguments, directives;
            gql_node *selection_set; /* optional */
        } field;
        struct {
            gql_node *name, *value;
        } argument;
        struct {
            gql_node *name;
            gql_list directives;
        } fragment_spread;
        struct {
            gql_node *type_condition; /* optional NAMED_TYPE */
            gql_list directives;
            gql_node *selection_set;
        } inline_fragment;
        struct {
            gql_node *description, *name, *type_condition;
            gql_list directives;
            gql_node *selection_set;
        } fragment;
        struct {
            gql_list values;
        } list;
        struct {
            gql_list fields;
        } object;
        struct {
            gql_node *name;
            gql_list arguments;
        } directive;
        struct {
            gql_node *description;
            gql_list directives, operation_types;
        } schema;
        struct {
            gql_operation operation;
            gql_node *type;
        } operation_type;
        struct {
            gql_node *description, *name;
            gql_list interfaces, directives, fields, values, types;
        } type_def;
        struct {
            gql_node *description, *name;
            gql_list arguments;
            gql_node *type, *default_value;
            gql_list directives;
        } field_def;
        struct {
            gql_node *description, *name;
            gql_list directives;
        } enum_value_def;
        struct {
            gql_node *description, *name;
            gql_list arguments;
            bool repeatable;
            gql_list locations; /* NAME nodes */
        } directive_def;
    } u;
};

typedef struct gql_document {
    gql_arena arena;
    gql_node *root;     /* GQL_DOCUMENT */
    size_t token_count; /* non-comment tokens, as graphql-js's tokenCount */
} gql_document;

/* graphql-js Kind string: "Name", "OperationDefinition", ... */
const char *gql_kind_name(gql_kind kind);
const char *gql_operation_name(gql_operation op); /* "query", "mutation", "subscription" */
/* Name string of a NAME node (or of a node's `name` for VARIABLE/NAMED_TYPE); "" for NULL. */
const char *gql_name_str(const gql_node *n);

gql_node *gql_node_new(gql_arena *a, gql_kind kind);
void gql_document_free(gql_document *doc);

/* The child slots of a node in graphql-js key order (scalars such as values, `operation`,
 * `block` and `repeatable` are not slots). Returns how many were filled (at most
 * GQL_AST_MAX_SLOTS); absent optional children come back with node == NULL. */
#define GQL_AST_MAX_SLOTS 6
typedef struct gql_slot {
    const char *key;      /* graphql-js field name, e.g. "selectionSet" */
    const gql_node *node; /* single child, or NULL */
    const gql_list *list; /* list child, or NULL */
} gql_slot;
int gql_ast_slots(const gql_node *n, gql_slot *out);

/* True when both trees have the same kinds, values and shape (locations ignored). */
bool gql_ast_equal(const gql_node *a, const gql_node *b);

#endif
