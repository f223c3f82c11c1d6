/* gql_ast: see gql_ast.h. */
#include "lib/graphql/gql_ast.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[GQL_KIND_COUNT] = {
    [GQL_NAME] = "Name",
    [GQL_DOCUMENT] = "Document",
    [GQL_OPERATION_DEFINITION] = "OperationDefinition",
    [GQL_VARIABLE_DEFINITION] = "VariableDefinition",
    [GQL_VARIABLE] = "Variable",
    [GQL_SELECTION_SET] = "SelectionSet",
    [GQL_FIELD] = "Field",
    [GQL_ARGUMENT] = "Argument",
    [GQL_FRAGMENT_SPREAD] = "FragmentSpread",
    [GQL_INLINE_FRAGMENT] = "InlineFragment",
    [GQL_FRAGMENT_DEFINITION] = "FragmentDefinition",
    [GQL_INT_VALUE] = "IntValue",
    [GQL_FLOAT_VALUE] = "FloatValue",
    [GQL_STRING_VALUE] = "StringValue",
    [GQL_BOOLEAN_VALUE] = "BooleanValue",
    [GQL_NULL_VALUE] = "NullValue",
    [GQL_ENUM_VALUE] = "EnumValue",
    [GQL_LIST_VALUE] = "ListValue",
    [GQL_OBJECT_VALUE] = "ObjectValue",
    [GQL_OBJECT_FIELD] = "ObjectField",
    [GQL_DIRECTIVE] = "Directive",
    [GQL_NAMED_TYPE] = "NamedType",
    [GQL_LIST_TYPE] = "ListType",
    [GQL_NON_NULL_TYPE] = "NonNullType",
    [GQL_SCHEMA_DEFINITION] = "SchemaDefinition",
    [GQL_OPERATION_TYPE_DEFINITION] = "OperationTypeDefinition",
    [GQL_SCALAR_TYPE_DEFINITION] = "ScalarTypeDefinition",
    [GQL_OBJECT_TYPE_DEFINITION] = "ObjectTypeDefinition",
    [GQL_FIELD_DEFINITION] = "FieldDefinition",
    [GQL_INPUT_VALUE_DEFINITION] = "InputValueDefinition",
    [GQL_INTERFACE_TYPE_DEFINITION] = "InterfaceTypeDefinition",
    [GQL_UNION_TYPE_DEFINITION] = "UnionTypeDefinition",
    [GQL_ENUM_TYPE_DEFINITION] = "EnumTypeDefinition",
    [GQL_ENUM_VALUE_DEFINITION] = "EnumValueDefinition",
    [GQL_INPUT_OBJECT_TYPE_DEFINITION] = "InputObjectTypeDefinition",
    [GQL_DIRECTIVE_DEFINITION] = "DirectiveDefinition",
    [GQL_SCHEMA_EXTENSION] = "SchemaExtension",
    [GQL_SCALAR_TYPE_EXTENSION] = "ScalarTypeExtension",
    [GQL_OBJECT_TYPE_EXTENSION] = "ObjectTypeExtension",
    [GQL_INTERFACE_TYPE_EXTENSION] = "InterfaceTypeExtension",
    [GQL_UNION_TYPE_EXTENSION] = "UnionTypeExtension",
    [GQL_ENUM_TYPE_EXTENSION] = "EnumTypeExtension",
    [GQL_INPUT_OBJECT_TYPE_EXTENSION] = "InputObjectTypeExtension",
};

const char *gql_kind_name(gql_kind kind) {
    if ((unsigned)kind >= GQL_KIND_COUNT) return "?";
    return kind_names[kind];
}

const char *gql_operation_name(gql_operation op) {
    switch (op) {
    case GQL_OP_QUERY:
        return "query";
    case GQL_OP_MUTATION:
        return "mutation";
    case GQL_OP_SUBSCRIPTION:
        return "subscription";
    }
    return "?";
}

const char *gql_name_str(const gql_node *n) {
    if (!n) return "";
    if (n->kind == GQL_VARIABLE || n->kind == GQL_NAMED_TYPE) n = n->u.named.name;
    if (!n || n->kind != GQL_NAME) return "";
    return n->u.text.value;
}

gql_node *gql_node_new(gql_arena *a, gql_kind kind) {
    gql_node *n = gql_arena_alloc(a, sizeof *n);
    if (n) n->kind = kind;
    return n;
}

void gql_document_free(gql_document *doc) {
    if (!doc) return;
    gql_arena_free(&doc->arena);
    free(doc);
}

#define NODE(k, x)                                                                                 \
    out[c++] = (gql_slot) {                                                                        \
        .key = (k), .node = (x)                                                                    \
    }
#define LIST(k, x)                                                                                 \
    out[c++] = (gql_slot) {                                                                        \
        .key = (k), .list = &(x)                                                                   \
    }

int gql_ast_slots(const gql_node *n, gql_slot *out) {
    int c = 0;
    switch (n->kind) {
    case GQL_NAME:
    case GQL_INT_VALUE:
    case GQL_FLOAT_VALUE:
    case GQL_STRING_VALUE:
    case GQL_BOOLEAN_VALUE:
    case GQL_NULL_VALUE:
    case GQL_ENUM_VALUE:
    case GQL_KIND_COUNT:
        break;
    case GQL_DOCUMENT:
        LIST("definitions", n->u.document.definitions);
        break;
    case GQL_OPERATION_DEFINITION:
        NODE("description", n->u.operation.description);
        NODE("name", n->u.operation.name);
        LIST("variableDefinitions", n->u.operation.variable_definitions);
        LIST("directives", n->u.operation.directives);
        NODE("selectionSet", n->u.operation.selection_set);
        break;
    case GQL_VARIABLE_DEFINITION:
        NODE("description", n->u.variable_definition.description);
        NODE("variable", n->u.variable_definition.variable);
        NODE("type", n->u.variable_definition.type);
        NODE("defaultValue", n->u.variable_definition.default_value);
        LIST("directives", n->u.variable_definition.directives);
        break;
    case GQL_VARIABLE:
    case GQL_NAMED_TYPE:
        NODE("name", n->u.named.name);
        break;
    case GQL_LIST_TYPE:
    case GQL_NON_NULL_TYPE:
        NODE("type", n->u.wrapped.type);
        break;
    case GQL_SELECTION_SET:
        LIST("selections", n->u.selection_set.selections);
        break;
    case GQL_FIELD:
        NODE("alias", n->u.field.alias);
        NODE("name", n->u.field.name);
        LIST("arguments", n->u.field.arguments);
        LIST("directives", n->u.field.directives);
        NODE("selectionSet", n->u.field.selection_set);
        break;
    case GQL_ARGUMENT:
    case GQL_OBJECT_FIELD:
        NODE("name", n->u.argument.name);
        NODE("value", n->u.argument.value);
        break;
    case GQL_FRAGMENT_SPREAD:
        NODE("name", n->u.fragment_spread.name);
        LIST("directives", n->u.fragment_spread.directives);
        break;
    case GQL_INLINE_FRAGMENT:
        NODE("typeCondition", n->u.inline_fragment.type_condition);
        LIST("directives", n->u.inline_fragment.directives);
        NODE("selectionSet", n->u.inline_fragment.selection_set);
        break;
    case GQL_FRAGMENT_DEFINITION:
        NODE("description", n->u.fragment.description);
        NODE("name", n->u.fragment.name);
        NODE("typeCondition", n->u.fragment.type_condition);
        LIST("directives", n->u.fragment.directives);
        NODE("selectionSet", n->u.fragment.selection_set);
        break;
    case GQL_LIST_VALUE:
        LIST("values", n->u.list.values);
        break;
    case GQL_OBJECT_VALUE:
        LIST("fields", n->u.object.fields);
        break;
    case GQL_DIRECTIVE:
        NODE("name", n->u.directive.name);
        LIST("arguments", n->u.directive.arguments);
        break;
    case GQL_SCHEMA_DEFINITION:
    case GQL_SCHEMA_EXTENSION:
        if (n->kind == GQL_SCHEMA_DEFINITION) NODE("description", n->u.schema.description);
        LIST("directives", n->u.schema.directives);
        LIST("operationTypes", n->u.schema.operation_types);
        break;
    case GQL_OPERATION_TYPE_DEFINITION:
        NODE("type", n->u.operation_type.type);
        break;
    case GQL_SCALAR_TYPE_DEFINITION:
    case GQL_SCALAR_TYPE_EXTENSION:
    case GQL_OBJECT_TYPE_DEFINITION:
    case GQL_OBJECT_TYPE_EXTENSION:
    case GQL_INTERFACE_TYPE_DEFINITION:
    case GQL_INTERFACE_TYPE_EXTENSION:
    case GQL_UNION_TYPE_DEFINITION:
    case GQL_UNION_TYPE_EXTENSION:
    case GQL_ENUM_TYPE_DEFINITION:
    case GQL_ENUM_TYPE_EXTENSION:
    case GQL_INPUT_OBJECT_TYPE_DEFINITION:
    case GQL_INPUT_OBJECT_TYPE_EXTENSION: {
        gql_kind k = n->kind;
        bool ext = k == GQL_SCALAR_TYPE_EXTENSION || k == GQL_OBJECT_TYPE_EXTENSION ||
                   k == GQL_INTERFACE_TYPE_EXTENSION || k == GQL_UNION_TYPE_EXTENSION ||
                   k == GQL_ENUM_TYPE_EXTENSION || k == GQL_INPUT_OBJECT_TYPE_EXTENSION;
        if (!ext) NODE("description", n->u.type_def.description);
        NODE("name", n->u.type_def.name);
        if (k == GQL_OBJECT_TYPE_DEFINITION || k == GQL_OBJECT_TYPE_EXTENSION ||
            k == GQL_INTERFACE_TYPE_DEFINITION || k == GQL_INTERFACE_TYPE_EXTENSION)
            LIST("interfaces", n->u.type_def.interfaces);
        LIST("directives", n->u.type_def.directives);
        if (k == GQL_UNION_TYPE_DEFINITION || k == GQL_UNION_TYPE_EXTENSION)
            LIST("types", n->u.type_def.types);
        else if (k == GQL_ENUM_TYPE_DEFINITION || k == GQL_ENUM_TYPE_EXTENSION)
            LIST("values", n->u.type_def.values);
        else if (k != GQL_SCALAR_TYPE_DEFINITION && k != GQL_SCALAR_TYPE_EXTENSION)
            LIST("fields", n->u.type_def.fields);
        break;
    }
    case GQL_FIELD_DEFINITION:
        NODE("description", n->u.field_def.description);
        NODE("name", n->u.field_def.name);
        LIST("arguments", n->u.field_def.arguments);
        NODE("type", n->u.field_def.type);
        LIST("directives", n->u.field_def.directives);
        break;
    case GQL_INPUT_VALUE_DEFINITION:
        NODE("description", n->u.field_def.description);
        NODE("name", n->u.field_def.name);
        NODE("type", n->u.field_def.type);
        NODE("defaultValue", n->u.field_def.default_value);
        LIST("directives", n->u.field_def.directives);
        break;
    case GQL_ENUM_VALUE_DEFINITION:
        NODE("description", n->u.enum_value_def.description);
        NODE("name", n->u.enum_value_def.name);
        LIST("directives", n->u.enum_value_def.directives);
        break;
    case GQL_DIRECTIVE_DEFINITION:
        NODE("description", n->u.directive_def.description);
        NODE("name", n->u.directive_def.name);
        LIST("arguments", n->u.directive_def.arguments);
        LIST("locations", n->u.directive_def.locations);
        break;
    }
    return c;
}

static bool scalars_equal(const gql_node *a, const gql_node *b) {
    switch (a->kind) {
    case GQL_NAME:
    case GQL_INT_VALUE:
    case GQL_FLOAT_VALUE:
    case GQL_ENUM_VALUE:
    case GQL_STRING_VALUE:
        if (a->kind == GQL_STRING_VALUE && a->u.text.block != b->u.text.block) return false;
        return a->u.text.len == b->u.text.len &&
               memcmp(a->u.text.value, b->u.text.value, a->u.text.len) == 0;
    case GQL_BOOLEAN_VALUE:
        return a->u.boolean == b->u.boolean;
    case GQL_OPERATION_DEFINITION:
        return a->u.operation.operation == b->u.operation.operation;
    case GQL_OPERATION_TYPE_DEFINITION:
        return a->u.operation_type.operation == b->u.operation_type.operation;
    case GQL_DIRECTIVE_DEFINITION:
        return a->u.directive_def.repeatable == b->u.directive_def.repeatable;
    default:
        return true;
    }
}

bool gql_ast_equal(const gql_node *a, const gql_node *b) {
    if (!a || !b) return a == b;
    if (a->kind != b->kind || !scalars_equal(a, b)) return false;
    gql_slot sa[GQL_AST_MAX_SLOTS], sb[GQL_AST_MAX_SLOTS];
    int na = gql_ast_slots(a, sa), nb = gql_ast_slots(b, sb);
    if (na != nb) return false;
    for (int i = 0; i < na; i++) {
        if (sa[i].list) {
            if (sa[i].list->count != sb[i].list->count) return false;
            for (size_t j = 0; j < sa[i].list->count; j++)
                if (!gql_ast_equal(sa[i].list->items[j], sb[i].list->items[j])) return false;
        } else if (!gql_ast_equal(sa[i].node, sb[i].node)) {
            return false;
        }
    }
    return true;
}
