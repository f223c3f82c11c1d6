/* gql_schema: see gql_schema.h. */
#include "lib/graphql/gql_schema.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/graphql/gql_parser.h"
#include "lib/graphql/gql_print.h"

/* graphql-js printIntrospectionSchema() of 16.15.0 (DIRECTIVE_DEFINITION dropped from
 * @deprecated: our parser follows the October 2021 location list). */
static const char prelude_sdl[] =
    "\"\"\"\n"
    "Directs the executor to include this field or fragment only when the `if` argument is true.\n"
    "\"\"\"\n"
    "directive @include(\n"
    "  \"\"\"Included when true.\"\"\"\n"
    "  if: Boolean!\n"
    ") on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT\n"
    "\n"
    "\"\"\"\n"
    "Directs the executor to skip this field or fragment when the `if` argument is true.\n"
    "\"\"\"\n"
    "directive @skip(\n"
    "  \"\"\"Skipped when true.\"\"\"\n"
    "  if: Boolean!\n"
    ") on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT\n"
    "\n"
    "\"\"\"Marks an element of a GraphQL schema as no longer supported.\"\"\"\n"
    "directive @deprecated(\n"
    "  \"\"\"\n"
    "  Explains why this element was deprecated, usually also including a suggestion for how to "
    "access supported similar data. Formatted using the Markdown syntax, as specified by "
    "[CommonMark](https://commonmark.org/).\n"
    "  \"\"\"\n"
    "  reason: String = \"No longer supported\"\n"
    ") on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE\n"
    "\n"
    "\"\"\"Exposes a URL that specifies the behavior of this scalar.\"\"\"\n"
    "directive @specifiedBy(\n"
    "  \"\"\"The URL that specifies the behavior of this scalar.\"\"\"\n"
    "  url: String!\n"
    ") on SCALAR\n"
    "\n"
    "\"\"\"\n"
    "Indicates exactly one field must be supplied and this field must not be `null`.\n"
    "\"\"\"\n"
    "directive @oneOf on INPUT_OBJECT\n"
    "\n"
    "\"\"\"\n"
    "A GraphQL Schema defines the capabilities of a GraphQL server. It exposes all available types "
    "and directives on the server, as well as the entry points for query, mutation, and "
    "subscription operations.\n"
    "\"\"\"\n"
    "type __Schema {\n"
    "  description: String\n"
    "\n"
    "  \"\"\"A list of all types supported by this server.\"\"\"\n"
    "  types: [__Type!]!\n"
    "\n"
    "  \"\"\"The type that query operations will be rooted at.\"\"\"\n"
    "  queryType: __Type!\n"
    "\n"
    "  \"\"\"\n"
    "  If this server supports mutation, the type that mutation operations will be rooted at.\n"
    "  \"\"\"\n"
    "  mutationType: __Type\n"
    "\n"
    "  \"\"\"\n"
    "  If this server support subscription, the type that subscription operations will be rooted "
    "at.\n"
    "  \"\"\"\n"
    "  subscriptionType: __Type\n"
    "\n"
    "  \"\"\"A list of all directives supported by this server.\"\"\"\n"
    "  directives(includeDeprecated: Boolean! = false): [__Directive!]!\n"
    "}\n"
    "\n"
    "\"\"\"\n"
    "The fundamental unit of any GraphQL Schema is the type. There are many kinds of types in "
    "GraphQL as represented by the `__TypeKind` enum.\n"
    "\n"
    "Depending on the kind of a type, certain fields describe information about that type. Scalar "
    "types provide no information beyond a name, description and optional `specifiedByURL`, while "
    "Enum types provide their values. Object and Interface types provide the fields they describe. "
    "Abstract types, Union and Interface, provide the Object types possible at runtime. List and "
    "NonNull types compose other types.\n"
    "\"\"\"\n"
    "type __Type {\n"
    "  kind: __TypeKind!\n"
    "  name: String\n"
    "  description: String\n"
    "  specifiedByURL: String\n"
    "  fields(includeDeprecated: Boolean = false): [__Field!]\n"
    "  interfaces: [__Type!]\n"
    "  possibleTypes: [__Type!]\n"
    "  enumValues(includeDeprecated: Boolean = false): [__EnumValue!]\n"
    "  inputFields(includeDeprecated: Boolean = false): [__InputValue!]\n"
    "  ofType: __Type\n"
    "  isOneOf: Boolean\n"
    "}\n"
    "\n"
    "\"\"\"An enum describing what kind of type a given `__Type` is.\"\"\"\n"
    "enum __TypeKind {\n"
    "  \"\"\"Indicates this type is a scalar.\"\"\"\n"
    "  SCALAR\n"
    "\n"
    "  \"\"\"\n"
    "  Indicates this type is an object. `fields` and `interfaces` are valid fields.\n"
    "  \"\"\"\n"
    "  OBJECT\n"
    "\n"
    "  \"\"\"\n"
    "  Indicates this type is an interface. `fields`, `interfaces`, and `possibleTypes` are valid "
    "fields.\n"
    "  \"\"\"\n"
    "  INTERFACE\n"
    "\n"
    "  \"\"\"Indicates this type is a union. `possibleTypes` is a valid field.\"\"\"\n"
    "  UNION\n"
    "\n"
    "  \"\"\"Indicates this type is an enum. `enumValues` is a valid field.\"\"\"\n"
    "  ENUM\n"
    "\n"
    "  \"\"\"\n"
    "  Indicates this type is an input object. `inputFields` is a valid field.\n"
    "  \"\"\"\n"
    "  INPUT_OBJECT\n"
    "\n"
    "  \"\"\"Indicates this type is a list. `ofType` is a valid field.\"\"\"\n"
    "  LIST\n"
    "\n"
    "  \"\"\"Indicates this type is a non-null. `ofType` is a valid field.\"\"\"\n"
    "  NON_NULL\n"
    "}\n"
    "\n"
    "\"\"\"\n"
    "Object and Interface types are described by a list of Fields, each of which has a name, "
    "potentially a list of arguments, and a return type.\n"
    "\"\"\"\n"
    "type __Field {\n"
    "  name: String!\n"
    "  description: String\n"
    "  args(includeDeprecated: Boolean = false): [__InputValue!]!\n"
    "  type: __Type!\n"
    "  isDeprecated: Boolean!\n"
    "  deprecationReason: String\n"
    "}\n"
    "\n"
    "\"\"\"\n"
    "Arguments provided to Fields or Directives and the input fields of an InputObject are "
    "represented as Input Values which describe their type and optionally a default value.\n"
    "\"\"\"\n"
    "type __InputValue {\n"
    "  name: String!\n"
    "  description: String\n"
    "  type: __Type!\n"
    "\n"
    "  \"\"\"\n"
    "  A GraphQL-formatted string representing the default value for this input value.\n"
    "  \"\"\"\n"
    "  defaultValue: String\n"
    "  isDeprecated: Boolean!\n"
    "  deprecationReason: String\n"
    "}\n"
    "\n"
    "\"\"\"\n"
    "One possible value for a given Enum. Enum values are unique values, not a placeholder for a "
    "string or numeric value. However an Enum value is returned in a JSON response as a string.\n"
    "\"\"\"\n"
    "type __EnumValue {\n"
    "  name: String!\n"
    "  description: String\n"
    "  isDeprecated: Boolean!\n"
    "  deprecationReason: String\n"
    "}\n"
    "\n"
    "\"\"\"\n"
    "A Directive provides a way to describe alternate runtime execution and type validation "
    "behavior in a GraphQL document.\n"
    "\n"
    "In some cases, you need to provide options to alter GraphQL's execution behavior in ways "
    "field arguments will not suffice, such as conditionally including or skipping a field. "
    "Directives provide this by describing additional information to the executor.\n"
    "\"\"\"\n"
    "type __Directive {\n"
    "  name: String!\n"
    "  description: String\n"
    "  isRepeatable: Boolean!\n"
    "  locations: [__DirectiveLocation!]!\n"
    "  args(includeDeprecated: Boolean = false): [__InputValue!]!\n"
    "  isDeprecated: Boolean!\n"
    "  deprecationReason: String\n"
    "}\n"
    "\n"
    "\"\"\"\n"
    "A Directive can be adjacent to many parts of the GraphQL language, a __DirectiveLocation "
    "describes one such possible adjacencies.\n"
    "\"\"\"\n"
    "enum __DirectiveLocation {\n"
    "  \"\"\"Location adjacent to a query operation.\"\"\"\n"
    "  QUERY\n"
    "\n"
    "  \"\"\"Location adjacent to a mutation operation.\"\"\"\n"
    "  MUTATION\n"
    "\n"
    "  \"\"\"Location adjacent to a subscription operation.\"\"\"\n"
    "  SUBSCRIPTION\n"
    "\n"
    "  \"\"\"Location adjacent to a field.\"\"\"\n"
    "  FIELD\n"
    "\n"
    "  \"\"\"Location adjacent to a fragment definition.\"\"\"\n"
    "  FRAGMENT_DEFINITION\n"
    "\n"
    "  \"\"\"Location adjacent to a fragment spread.\"\"\"\n"
    "  FRAGMENT_SPREAD\n"
    "\n"
    "  \"\"\"Location adjacent to an inline fragment.\"\"\"\n"
    "  INLINE_FRAGMENT\n"
    "\n"
    "  \"\"\"Location adjacent to a variable definition.\"\"\"\n"
    "  VARIABLE_DEFINITION\n"
    "\n"
    "  \"\"\"Location adjacent to a schema definition.\"\"\"\n"
    "  SCHEMA\n"
    "\n"
    "  \"\"\"Location adjacent to a scalar definition.\"\"\"\n"
    "  SCALAR\n"
    "\n"
    "  \"\"\"Location adjacent to an object type definition.\"\"\"\n"
    "  OBJECT\n"
    "\n"
    "  \"\"\"Location adjacent to a field definition.\"\"\"\n"
    "  FIELD_DEFINITION\n"
    "\n"
    "  \"\"\"Location adjacent to an argument definition.\"\"\"\n"
    "  ARGUMENT_DEFINITION\n"
    "\n"
    "  \"\"\"Location adjacent to an interface definition.\"\"\"\n"
    "  INTERFACE\n"
    "\n"
    "  \"\"\"Location adjacent to a union definition.\"\"\"\n"
    "  UNION\n"
    "\n"
    "  \"\"\"Location adjacent to an enum definition.\"\"\"\n"
    "  ENUM\n"
    "\n"
    "  \"\"\"Location adjacent to an enum value definition.\"\"\"\n"
    "  ENUM_VALUE\n"
    "\n"
    "  \"\"\"Location adjacent to an input object type definition.\"\"\"\n"
    "  INPUT_OBJECT\n"
    "\n"
    "  \"\"\"Location adjacent to an input object field definition.\"\"\"\n"
    "  INPUT_FIELD_DEFINITION\n"
    "\n"
    "  \"\"\"Location adjacent to a directive definition.\"\"\"\n"
    "  DIRECTIVE_DEFINITION\n"
    "}\n"
    "\n";

static const char *const location_names[GQL_DL_COUNT] = {
    "QUERY",
    "MUTATION",
    "SUBSCRIPTION",
    "FIELD",
    "FRAGMENT_DEFINITION",
    "FRAGMENT_SPREAD",
    "INLINE_FRAGMENT",
    "VARIABLE_DEFINITION",
    "SCHEMA",
    "SCALAR",
    "OBJECT",
    "FIELD_DEFINITION",
    "ARGUMENT_DEFINITION",
    "INTERFACE",
    "UNION",
    "ENUM",
    "ENUM_VALUE",
    "INPUT_OBJECT",
    "INPUT_FIELD_DEFINITION",
    "DIRECTIVE_DEFINITION",
};

const char *gql_directive_location_name(gql_directive_location loc) {
    return (unsigned)loc < GQL_DL_COUNT ? location_names[loc] : "?";
}

static int location_from_name(const char *name) {
    for (int i = 0; i < GQL_DL_COUNT; i++)
        if (strcmp(location_names[i], name) == 0) return i;
    return -1;
}

static const char *const std_scalars[] = {"Int", "Float", "String", "Boolean", "ID"};
#define N_STD_SCALARS 5
/* graphql-js 16 specifiedScalarTypes descriptions (introspection shows them) */
static const char *const std_scalar_descriptions[] = {
    "The `Int` scalar type represents non-fractional signed whole numeric values. Int can "
    "represent values between -(2^31) and 2^31 - 1.",
    "The `Float` scalar type represents signed double-precision fractional values as specified "
    "by [IEEE 754](https://en.wikipedia.org/wiki/IEEE_floating_point).",
    "The `String` scalar type represents textual data, represented as UTF-8 character sequences. "
    "The String type is most often used by GraphQL to represent free-form human-readable text.",
    "The `Boolean` scalar type represents `true` or `false`.",
    "The `ID` scalar type represents a unique identifier, often used to refetch an object or as "
    "key for a cache. The ID type appears in a JSON response as a String; however, it is not "
    "intended to be human-readable. When expected as an input type, any string (such as `\"4\"`) "
    "or integer (such as `4`) input value will be accepted as an ID.",
};

/* ---- kinds of AST nodes ---- */

static bool is_type_def(gql_kind k) {
    return k >= GQL_SCALAR_TYPE_DEFINITION && k <= GQL_INPUT_OBJECT_TYPE_DEFINITION &&
           k != GQL_FIELD_DEFINITION && k != GQL_INPUT_VALUE_DEFINITION &&
           k != GQL_ENUM_VALUE_DEFINITION;
}
static bool is_type_ext(gql_kind k) {
    return k >= GQL_SCALAR_TYPE_EXTENSION && k <= GQL_INPUT_OBJECT_TYPE_EXTENSION;
}
static gql_type_kind kind_of_node(gql_kind k) {
    switch (k) {
    case GQL_SCALAR_TYPE_DEFINITION:
    case GQL_SCALAR_TYPE_EXTENSION:
        return GQL_TYPE_SCALAR;
    case GQL_OBJECT_TYPE_DEFINITION:
    case GQL_OBJECT_TYPE_EXTENSION:
        return GQL_TYPE_OBJECT;
    case GQL_INTERFACE_TYPE_DEFINITION:
    case GQL_INTERFACE_TYPE_EXTENSION:
        return GQL_TYPE_INTERFACE;
    case GQL_UNION_TYPE_DEFINITION:
    case GQL_UNION_TYPE_EXTENSION:
        return GQL_TYPE_UNION;
    case GQL_ENUM_TYPE_DEFINITION:
    case GQL_ENUM_TYPE_EXTENSION:
        return GQL_TYPE_ENUM;
    default:
        return GQL_TYPE_INPUT_OBJECT;
    }
}
static const char *kind_word(gql_type_kind k) {
    static const char *const w[] = {"scalar", "object", "interface",
                                    "union",  "enum",   "input object"};
    return w[k];
}

/* ---- hashing ---- */

static size_t hash_str(const char *s) {
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

gql_type *gql_schema_type(const gql_schema *s, const char *name) {
    if (!s || !name || !s->hash_cap) return NULL;
    size_t m = s->hash_cap - 1;
    for (size_t i = hash_str(name) & m;; i = (i + 1) & m) {
        gql_type *t = s->hash[i];
        if (!t) return NULL;
        if (strcmp(t->name, name) == 0) return t;
    }
}

/* ---- builder ---- */

typedef struct tnodes { /* definition + extensions of one type */
    const gql_node **items;
    size_t count, cap;
} tnodes;

typedef struct builder {
    gql_schema *s;
    gql_errors *errs;
    size_t cap_types;
    tnodes *nodes; /* parallel to s->types */
    bool failed;
} builder;

static void *A(builder *b, size_t n) {
    void *p = gql_arena_alloc(&b->s->arena, n ? n : 1);
    if (!p) {
        b->failed = true;
        b->errs->oom = true;
    }
    return p;
}

static int tnodes_push(builder *b, tnodes *tn, const gql_node *n) {
    if (tn->count == tn->cap) {
        size_t nc = tn->cap ? tn->cap * 2 : 4;
        const gql_node **ni = realloc(tn->items, nc * sizeof *ni);
        if (!ni) {
            b->errs->oom = true;
            b->failed = true;
            return -1;
        }
        tn->items = ni;
        tn->cap = nc;
    }
    tn->items[tn->count++] = n;
    return 0;
}

static int hash_insert(builder *b, gql_type *t) {
    gql_schema *s = b->s;
    if ((s->ntypes + 1) * 2 > s->hash_cap) {
        size_t nc = s->hash_cap ? s->hash_cap * 2 : 64;
        gql_type **nh = A(b, nc * sizeof *nh);
        if (!nh) return -1;
        for (size_t i = 0; i < s->hash_cap; i++) {
            if (!s->hash[i]) continue;
            size_t j = hash_str(s->hash[i]->name) & (nc - 1);
            while (nh[j])
                j = (j + 1) & (nc - 1);
            nh[j] = s->hash[i];
        }
        s->hash = nh;
        s->hash_cap = nc;
    }
    size_t j = hash_str(t->name) & (s->hash_cap - 1);
    while (s->hash[j])
        j = (j + 1) & (s->hash_cap - 1);
    s->hash[j] = t;
    return 0;
}

static gql_type *add_type(builder *b, gql_type_kind kind, const char *name, const gql_node *ast) {
    gql_schema *s = b->s;
    if (s->ntypes == b->cap_types) {
        size_t nc = b->cap_types ? b->cap_types * 2 : 32;
        gql_type **nt = A(b, nc * sizeof *nt);
        tnodes *nn = realloc(b->nodes, nc * sizeof *nn);
        if (!nt || !nn) {
            if (nn) b->nodes = nn;
            b->failed = true;
            b->errs->oom = true;
            return NULL;
        }
        memset(nn + b->cap_types, 0, (nc - b->cap_types) * sizeof *nn);
        if (s->ntypes) memcpy(nt, s->types, s->ntypes * sizeof *nt);
        s->types = nt;
        b->nodes = nn;
        b->cap_types = nc;
    }
    gql_type *t = A(b, sizeof *t);
    if (!t) return NULL;
    t->kind = kind;
    t->name = name;
    t->ast = ast;
    t->ref.kind = GQL_REF_NAMED;
    t->ref.named = t;
    t->index = s->ntypes;
    if (hash_insert(b, t)) return NULL;
    s->types[s->ntypes++] = t;
    if (ast && tnodes_push(b, &b->nodes[t->index], ast)) return NULL;
    return t;
}

/* A named type by name; materialises a referenced built-in scalar. */
static gql_type *resolve_named(builder *b, const char *name) {
    gql_type *t = gql_schema_type(b->s, name);
    if (t) return t;
    for (int i = 0; i < N_STD_SCALARS; i++) {
        if (strcmp(name, std_scalars[i]) == 0) {
            t = add_type(b, GQL_TYPE_SCALAR, std_scalars[i], NULL);
            if (t) {
                t->builtin = true;
                t->description = std_scalar_descriptions[i];
            }
            return t;
        }
    }
    return NULL;
}

static const gql_tref *build_tref(builder *b, const gql_node *n) {
    if (!n) return NULL;
    if (n->kind == GQL_NAMED_TYPE) {
        gql_type *t = resolve_named(b, gql_name_str(n));
        if (!t) {
            if (!b->errs->oom)
                gql_errors_add(b->errs, &n, 1, "Unknown type \"%s\".", gql_name_str(n));
            b->failed = true;
            return NULL;
        }
        return &t->ref;
    }
    gql_tref *r = A(b, sizeof *r);
    if (!r) return NULL;
    r->kind = n->kind == GQL_LIST_TYPE ? GQL_REF_LIST : GQL_REF_NON_NULL;
    r->of = build_tref(b, n->u.wrapped.type);
    if (!r->of) return NULL;
    return r;
}

static const char *desc_of(const gql_node *d) {
    return d ? d->u.text.value : NULL;
}

static const gql_node *find_directive(const gql_list *dirs, const char *name) {
    for (size_t i = 0; i < dirs->count; i++)
        if (strcmp(gql_name_str(dirs->items[i]->u.directive.name), name) == 0)
            return dirs->items[i];
    return NULL;
}

static const gql_node *directive_arg(const gql_node *d, const char *name) {
    for (size_t i = 0; i < d->u.directive.arguments.count; i++) {
        const gql_node *a = d->u.directive.arguments.items[i];
        if (strcmp(gql_name_str(a->u.argument.name), name) == 0) return a->u.argument.value;
    }
    return NULL;
}

static const char *deprecation_of(const gql_list *dirs) {
    const gql_node *d = find_directive(dirs, "deprecated");
    if (!d) return NULL;
    const gql_node *r = directive_arg(d, "reason");
    if (r && r->kind == GQL_STRING_VALUE) return r->u.text.value;
    return "No longer supported";
}

static int build_input_values(builder *b, const gql_list *defs, gql_input_value **out, size_t *n) {
    *n = defs->count;
    *out = NULL;
    if (!defs->count) return 0;
    gql_input_value *v = A(b, defs->count * sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < defs->count; i++) {
        const gql_node *d = defs->items[i];
        v[i].name = gql_name_str(d->u.field_def.name);
        v[i].description = desc_of(d->u.field_def.description);
        v[i].type = build_tref(b, d->u.field_def.type);
        v[i].default_value = d->u.field_def.default_value;
        v[i].deprecation_reason = deprecation_of(&d->u.field_def.directives);
        v[i].ast = d;
    }
    *out = v;
    return 0;
}

static void fill_type(builder *b, gql_type *t) {
    /* copy: resolving a built-in scalar may grow b->nodes */
    tnodes tn_copy = b->nodes[t->index];
    const tnodes *tn = &tn_copy;
    size_t nf = 0, ni = 0, nv = 0, nm = 0;
    for (size_t k = 0; k < tn->count; k++) {
        const gql_node *n = tn->items[k];
        nf += n->u.type_def.fields.count;
        ni += n->u.type_def.interfaces.count;
        nv += n->u.type_def.values.count;
        nm += n->u.type_def.types.count;
        if (!t->description) t->description = desc_of(n->u.type_def.description);
    }
    switch (t->kind) {
    case GQL_TYPE_SCALAR:
        for (size_t k = 0; k < tn->count; k++) {
            const gql_node *d = find_directive(&tn->items[k]->u.type_def.directives, "specifiedBy");
            const gql_node *u = d ? directive_arg(d, "url") : NULL;
            if (u && u->kind == GQL_STRING_VALUE) t->specified_by_url = u->u.text.value;
        }
        break;
    case GQL_TYPE_OBJECT:
    case GQL_TYPE_INTERFACE:
        t->fields = A(b, nf * sizeof *t->fields);
        t->interfaces = A(b, ni * sizeof *t->interfaces);
        if (!t->fields || !t->interfaces) return;
        for (size_t k = 0; k < tn->count; k++) {
            const gql_node *n = tn->items[k];
            for (size_t i = 0; i < n->u.type_def.interfaces.count; i++) {
                const gql_node *in = n->u.type_def.interfaces.items[i];
                gql_type *it = resolve_named(b, gql_name_str(in));
                if (!it) {
                    build_tref(b, in); /* reports */
                    continue;
                }
                t->interfaces[t->ninterfaces++] = it;
            }
            for (size_t i = 0; i < n->u.type_def.fields.count; i++) {
                const gql_node *fd = n->u.type_def.fields.items[i];
                const char *name = gql_name_str(fd->u.field_def.name);
                if (gql_type_field(t, name)) continue; /* duplicate: reported by SDL rules */
                gql_field *f = &t->fields[t->nfields++];
                f->name = name;
                f->description = desc_of(fd->u.field_def.description);
                f->type = build_tref(b, fd->u.field_def.type);
                f->deprecation_reason = deprecation_of(&fd->u.field_def.directives);
                f->ast = fd;
                f->owner = t;
                build_input_values(b, &fd->u.field_def.arguments, &f->args, &f->nargs);
            }
        }
        break;
    case GQL_TYPE_UNION:
        t->possible = A(b, nm * sizeof *t->possible);
        if (!t->possible) return;
        for (size_t k = 0; k < tn->count; k++) {
            const gql_node *n = tn->items[k];
            for (size_t i = 0; i < n->u.type_def.types.count; i++) {
                const gql_node *mn = n->u.type_def.types.items[i];
                gql_type *mt = resolve_named(b, gql_name_str(mn));
                if (!mt) {
                    build_tref(b, mn);
                    continue;
                }
                t->possible[t->npossible++] = mt;
            }
        }
        break;
    case GQL_TYPE_ENUM:
        t->values = A(b, nv * sizeof *t->values);
        if (!t->values) return;
        for (size_t k = 0; k < tn->count; k++) {
            const gql_node *n = tn->items[k];
            for (size_t i = 0; i < n->u.type_def.values.count; i++) {
                const gql_node *vd = n->u.type_def.values.items[i];
                const char *name = gql_name_str(vd->u.enum_value_def.name);
                if (gql_type_enum_value(t, name)) continue;
                gql_enum_value *v = &t->values[t->nvalues++];
                v->name = name;
                v->description = desc_of(vd->u.enum_value_def.description);
                v->deprecation_reason = deprecation_of(&vd->u.enum_value_def.directives);
                v->ast = vd;
            }
        }
        break;
    case GQL_TYPE_INPUT_OBJECT:
        t->input_fields = A(b, nf * sizeof *t->input_fields);
        if (!t->input_fields) return;
        for (size_t k = 0; k < tn->count; k++) {
            const gql_node *n = tn->items[k];
            if (find_directive(&n->u.type_def.directives, "oneOf")) t->one_of = true;
            for (size_t i = 0; i < n->u.type_def.fields.count; i++) {
                const gql_node *fd = n->u.type_def.fields.items[i];
                const char *name = gql_name_str(fd->u.field_def.name);
                if (gql_type_input_field(t, name)) continue;
                gql_input_value *v = &t->input_fields[t->ninput_fields++];
                v->name = name;
                v->description = desc_of(fd->u.field_def.description);
                v->type = build_tref(b, fd->u.field_def.type);
                v->default_value = fd->u.field_def.default_value;
                v->deprecation_reason = deprecation_of(&fd->u.field_def.directives);
                v->ast = fd;
            }
        }
        break;
    }
}

static gql_directive *build_directive(builder *b, const gql_node *n, bool builtin) {
    gql_directive *d = A(b, sizeof *d);
    if (!d) return NULL;
    d->name = gql_name_str(n->u.directive_def.name);
    d->description = desc_of(n->u.directive_def.description);
    d->repeatable = n->u.directive_def.repeatable;
    d->builtin = builtin;
    d->ast = n;
    for (size_t i = 0; i < n->u.directive_def.locations.count; i++) {
        int l = location_from_name(gql_name_str(n->u.directive_def.locations.items[i]));
        if (l >= 0) d->locations |= 1u << l;
    }
    build_input_values(b, &n->u.directive_def.arguments, &d->args, &d->nargs);
    return d;
}

/* ---- SDL validation (the rules graphql-js's buildASTSchema asserts) ---- */

static const gql_node *first_def_named(const gql_node *doc, const char *name, bool directive,
                                       const gql_node *before) {
    for (size_t i = 0; i < doc->u.document.definitions.count; i++) {
        const gql_node *d = doc->u.document.definitions.items[i];
        if (d == before) return NULL;
        if (directive ? d->kind == GQL_DIRECTIVE_DEFINITION : is_type_def(d->kind)) {
            const gql_node *nm = directive ? d->u.directive_def.name : d->u.type_def.name;
            if (strcmp(gql_name_str(nm), name) == 0) return d;
        }
    }
    return NULL;
}

int gql_directive_location_of(const gql_node *n, const gql_node *grand, bool sdl_build) {
    if (sdl_build && (n->kind == GQL_OPERATION_DEFINITION || n->kind == GQL_FIELD ||
                      n->kind == GQL_FRAGMENT_SPREAD || n->kind == GQL_INLINE_FRAGMENT ||
                      n->kind == GQL_FRAGMENT_DEFINITION || n->kind == GQL_VARIABLE_DEFINITION))
        return -1;
    switch (n->kind) {
    case GQL_OPERATION_DEFINITION:
        return n->u.operation.operation == GQL_OP_QUERY      ? GQL_DL_QUERY
               : n->u.operation.operation == GQL_OP_MUTATION ? GQL_DL_MUTATION
                                                             : GQL_DL_SUBSCRIPTION;
    case GQL_FIELD:
        return GQL_DL_FIELD;
    case GQL_FRAGMENT_SPREAD:
        return GQL_DL_FRAGMENT_SPREAD;
    case GQL_INLINE_FRAGMENT:
        return GQL_DL_INLINE_FRAGMENT;
    case GQL_FRAGMENT_DEFINITION:
        return GQL_DL_FRAGMENT_DEFINITION;
    case GQL_VARIABLE_DEFINITION:
        return GQL_DL_VARIABLE_DEFINITION;
    case GQL_SCHEMA_DEFINITION:
    case GQL_SCHEMA_EXTENSION:
        return GQL_DL_SCHEMA;
    case GQL_SCALAR_TYPE_DEFINITION:
    case GQL_SCALAR_TYPE_EXTENSION:
        return GQL_DL_SCALAR;
    case GQL_OBJECT_TYPE_DEFINITION:
    case GQL_OBJECT_TYPE_EXTENSION:
        return GQL_DL_OBJECT;
    case GQL_FIELD_DEFINITION:
        return GQL_DL_FIELD_DEFINITION;
    case GQL_INTERFACE_TYPE_DEFINITION:
    case GQL_INTERFACE_TYPE_EXTENSION:
        return GQL_DL_INTERFACE;
    case GQL_UNION_TYPE_DEFINITION:
    case GQL_UNION_TYPE_EXTENSION:
        return GQL_DL_UNION;
    case GQL_ENUM_TYPE_DEFINITION:
    case GQL_ENUM_TYPE_EXTENSION:
        return GQL_DL_ENUM;
    case GQL_ENUM_VALUE_DEFINITION:
        return GQL_DL_ENUM_VALUE;
    case GQL_INPUT_OBJECT_TYPE_DEFINITION:
    case GQL_INPUT_OBJECT_TYPE_EXTENSION:
        return GQL_DL_INPUT_OBJECT;
    case GQL_INPUT_VALUE_DEFINITION:
        return grand && (grand->kind == GQL_INPUT_OBJECT_TYPE_DEFINITION ||
                         (sdl_build && grand->kind == GQL_INPUT_OBJECT_TYPE_EXTENSION))
                   ? GQL_DL_INPUT_FIELD_DEFINITION
                   : GQL_DL_ARGUMENT_DEFINITION;
    case GQL_DIRECTIVE_DEFINITION:
        return sdl_build ? -1 : GQL_DL_DIRECTIVE_DEFINITION;
    default:
        return -1;
    }
}

typedef struct sdl_ctx {
    builder *b;
    const gql_node *doc;
} sdl_ctx;

/* Finds a directive definition: the user's SDL first, then the built-ins. */
static const gql_node *sdl_directive_def(sdl_ctx *c, const char *name) {
    const gql_node *d = first_def_named(c->doc, name, true, NULL);
    if (!d) d = first_def_named(c->b->s->prelude->root, name, true, NULL);
    return d;
}

static void sdl_check_directives(sdl_ctx *c, const gql_list *dirs, const gql_node *owner,
                                 const gql_node *grand) {
    gql_errors *E = c->b->errs;
    for (size_t i = 0; i < dirs->count; i++) {
        const gql_node *d = dirs->items[i];
        const char *name = gql_name_str(d->u.directive.name);
        const gql_node *def = sdl_directive_def(c, name);
        if (!def) {
            gql_errors_add(E, &d, 1, "Unknown directive \"@%s\".", name);
            continue;
        }
        int loc = gql_directive_location_of(owner, grand, true);
        bool ok = false;
        for (size_t k = 0; k < def->u.directive_def.locations.count; k++)
            if (location_from_name(gql_name_str(def->u.directive_def.locations.items[k])) == loc)
                ok = true;
        if (!ok && loc >= 0)
            gql_errors_add(E, &d, 1, "Directive \"@%s\" may not be used on %s.", name,
                           location_names[loc]);
        if (!def->u.directive_def.repeatable) {
            for (size_t j = 0; j < i; j++) {
                if (strcmp(gql_name_str(dirs->items[j]->u.directive.name), name) == 0) {
                    const gql_node *ns[2] = {dirs->items[j], d};
                    gql_errors_add(E, ns, 2,
                                   "The directive \"@%s\" can only be used once at this location.",
                                   name);
                    break;
                }
            }
        }
        for (size_t k = 0; k < d->u.directive.arguments.count; k++) {
            const gql_node *a = d->u.directive.arguments.items[k];
            const char *an = gql_name_str(a->u.argument.name);
            bool known = false;
            for (size_t j = 0; j < def->u.directive_def.arguments.count; j++)
                if (strcmp(gql_name_str(def->u.directive_def.arguments.items[j]->u.field_def.name),
                           an) == 0)
                    known = true;
            if (!known)
                gql_errors_add(E, &a, 1, "Unknown argument \"%s\" on directive \"@%s\".", an, name);
        }
        for (size_t j = 0; j < def->u.directive_def.arguments.count; j++) {
            const gql_node *ad = def->u.directive_def.arguments.items[j];
            if (ad->u.field_def.type->kind != GQL_NON_NULL_TYPE || ad->u.field_def.default_value)
                continue;
            const char *an = gql_name_str(ad->u.field_def.name);
            if (!directive_arg(d, an)) {
                char *ts = gql_print(ad->u.field_def.type, NULL);
                gql_errors_add(E, &d, 1,
                               "Directive \"@%s\" argument \"%s\" of type \"%s\" is required, but "
                               "it was not provided.",
                               name, an, ts ? ts : "?");
                free(ts);
            }
        }
    }
}

static void sdl_check_type_ref(sdl_ctx *c, const gql_node *t) {
    while (t->kind != GQL_NAMED_TYPE)
        t = t->u.wrapped.type;
    const char *name = gql_name_str(t);
    if (first_def_named(c->doc, name, false, NULL)) return;
    if (first_def_named(c->b->s->prelude->root, name, false, NULL)) return; /* __Type, ... */
    for (int i = 0; i < N_STD_SCALARS; i++)
        if (strcmp(std_scalars[i], name) == 0) return;
    gql_errors_add(c->b->errs, &t, 1, "Unknown type \"%s\".", name);
}

static void sdl_check_input_values(sdl_ctx *c, const gql_list *vals, const gql_node *owner,
                                   const char *what) {
    for (size_t i = 0; i < vals->count; i++) {
        const gql_node *v = vals->items[i];
        const char *vn = gql_name_str(v->u.field_def.name);
        for (size_t j = 0; j < i; j++) {
            const gql_node *w = vals->items[j];
            if (strcmp(gql_name_str(w->u.field_def.name), vn) == 0) {
                const gql_node *ns[2] = {w->u.field_def.name, v->u.field_def.name};
                gql_errors_add(c->b->errs, ns, 2, "Argument \"%s(%s:)\" can only be defined once.",
                               what, vn);
                break;
            }
        }
        sdl_check_type_ref(c, v->u.field_def.type);
        sdl_check_directives(c, &v->u.field_def.directives, v, owner);
    }
}

static void sdl_validate(sdl_ctx *c) {
    builder *b = c->b;
    gql_errors *E = b->errs;
    const gql_list *defs = &c->doc->u.document.definitions;
    const gql_node *schema_def = NULL;
    const gql_node *op_types[3] = {0};
    for (size_t i = 0; i < defs->count; i++) {
        const gql_node *d = defs->items[i];
        switch (d->kind) {
        case GQL_OPERATION_DEFINITION:
        case GQL_FRAGMENT_DEFINITION:
            gql_errors_add(E, &d, 1, "%s",
                           d->kind == GQL_OPERATION_DEFINITION
                               ? "An SDL document may only define types and directives, not "
                                 "operations."
                               : "An SDL document may only define types and directives, not "
                                 "fragments.");
            break;
        case GQL_SCHEMA_DEFINITION:
        case GQL_SCHEMA_EXTENSION:
            if (d->kind == GQL_SCHEMA_DEFINITION) {
                if (schema_def)
                    gql_errors_add(E, &d, 1, "Must provide only one schema definition.");
                schema_def = d;
            }
            for (size_t k = 0; k < d->u.schema.operation_types.count; k++) {
                const gql_node *ot = d->u.schema.operation_types.items[k];
                int op = (int)ot->u.operation_type.operation;
                if (op_types[op]) {
                    const gql_node *ns[2] = {op_types[op], ot};
                    gql_errors_add(E, ns, 2, "There can be only one %s type in schema.",
                                   gql_operation_name((gql_operation)op));
                } else {
                    op_types[op] = ot;
                }
                sdl_check_type_ref(c, ot->u.operation_type.type);
            }
            sdl_check_directives(c, &d->u.schema.directives, d, NULL);
            break;
        case GQL_DIRECTIVE_DEFINITION: {
            const char *name = gql_name_str(d->u.directive_def.name);
            const gql_node *first = first_def_named(c->doc, name, true, d);
            if (first) {
                const gql_node *ns[2] = {first->u.directive_def.name, d->u.directive_def.name};
                gql_errors_add(E, ns, 2, "There can be only one directive named \"@%s\".", name);
            }
            char what[300];
            snprintf(what, sizeof what, "@%s", name);
            sdl_check_input_values(c, &d->u.directive_def.arguments, d, what);
            break;
        }
        default:
            if (is_type_def(d->kind) || is_type_ext(d->kind)) {
                const char *name = gql_name_str(d->u.type_def.name);
                if (is_type_def(d->kind)) {
                    const gql_node *first = first_def_named(c->doc, name, false, d);
                    if (first) {
                        const gql_node *ns[2] = {first->u.type_def.name, d->u.type_def.name};
                        gql_errors_add(E, ns, 2, "There can be only one type named \"%s\".", name);
                    }
                    if (first_def_named(b->s->prelude->root, name, false, NULL)) {
                        /* redefining an introspection type: graphql-js's UniqueTypeNames */
                        gql_errors_add(E, (const gql_node *const *)&d->u.type_def.name, 1,
                                       "Type \"%s\" already exists in the schema. It cannot also "
                                       "be defined in this type definition.",
                                       name);
                    }
                } else {
                    const gql_node *def = first_def_named(c->doc, name, false, NULL);
                    bool std = false;
                    for (int k = 0; k < N_STD_SCALARS; k++)
                        if (strcmp(std_scalars[k], name) == 0) std = true;
                    if (!def && !std)
                        gql_errors_add(E, (const gql_node *const *)&d->u.type_def.name, 1,
                                       "Cannot extend type \"%s\" because it is not defined.",
                                       name);
                    else if ((def && kind_of_node(def->kind) != kind_of_node(d->kind)) ||
                             (!def && d->kind != GQL_SCALAR_TYPE_EXTENSION))
                        gql_errors_add(E, &d, 1, "Cannot extend non-%s type \"%s\".",
                                       kind_word(def ? kind_of_node(def->kind) : GQL_TYPE_SCALAR),
                                       name);
                }
                sdl_check_directives(c, &d->u.type_def.directives, d, NULL);
                for (size_t k = 0; k < d->u.type_def.interfaces.count; k++)
                    sdl_check_type_ref(c, d->u.type_def.interfaces.items[k]);
                for (size_t k = 0; k < d->u.type_def.types.count; k++)
                    sdl_check_type_ref(c, d->u.type_def.types.items[k]);
                /* field / value uniqueness across the definition and its extensions */
                const gql_list *fl = &d->u.type_def.fields;
                bool input = kind_of_node(d->kind) == GQL_TYPE_INPUT_OBJECT;
                for (size_t k = 0; k < fl->count; k++) {
                    const gql_node *f = fl->items[k];
                    const char *fname = gql_name_str(f->u.field_def.name);
                    const gql_node *prev = NULL;
                    for (size_t j = 0; j <= i && !prev; j++) {
                        const gql_node *o = defs->items[j];
                        if (!(is_type_def(o->kind) || is_type_ext(o->kind)) ||
                            strcmp(gql_name_str(o->u.type_def.name), name) != 0)
                            continue;
                        size_t lim = o == d ? k : o->u.type_def.fields.count;
                        for (size_t q = 0; q < lim; q++)
                            if (strcmp(
                                    gql_name_str(o->u.type_def.fields.items[q]->u.field_def.name),
                                    fname) == 0)
                                prev = o->u.type_def.fields.items[q];
                    }
                    if (prev) {
                        const gql_node *ns[2] = {prev->u.field_def.name, f->u.field_def.name};
                        gql_errors_add(E, ns, 2, "Field \"%s.%s\" can only be defined once.", name,
                                       fname);
                    }
                    sdl_check_type_ref(c, f->u.field_def.type);
                    sdl_check_directives(c, &f->u.field_def.directives, f, d);
                    if (!input) {
                        char what[300];
                        snprintf(what, sizeof what, "%s.%s", name, fname);
                        sdl_check_input_values(c, &f->u.field_def.arguments, d, what);
                    }
                }
                const gql_list *vl = &d->u.type_def.values;
                for (size_t k = 0; k < vl->count; k++) {
                    const gql_node *v = vl->items[k];
                    const char *vname = gql_name_str(v->u.enum_value_def.name);
                    const gql_node *prev = NULL;
                    for (size_t j = 0; j <= i && !prev; j++) {
                        const gql_node *o = defs->items[j];
                        if (!(is_type_def(o->kind) || is_type_ext(o->kind)) ||
                            strcmp(gql_name_str(o->u.type_def.name), name) != 0)
                            continue;
                        size_t lim = o == d ? k : o->u.type_def.values.count;
                        for (size_t q = 0; q < lim; q++)
                            if (strcmp(gql_name_str(
                                           o->u.type_def.values.items[q]->u.enum_value_def.name),
                                       vname) == 0)
                                prev = o->u.type_def.values.items[q];
                    }
                    if (prev) {
                        const gql_node *ns[2] = {prev->u.enum_value_def.name,
                                                 v->u.enum_value_def.name};
                        gql_errors_add(E, ns, 2, "Enum value \"%s.%s\" can only be defined once.",
                                       name, vname);
                    }
                    sdl_check_directives(c, &v->u.enum_value_def.directives, v, d);
                }
            }
            break;
        }
    }
}

/* ---- schema validation (graphql-js validateSchema) ---- */

static void tref_str(const gql_tref *t, char *buf, size_t cap) {
    gql_sb sb = {0};
    gql_tref_print(&sb, t);
    snprintf(buf, cap, "%s", gql_sb_str(&sb));
    gql_sb_free(&sb);
}

static const gql_node *name_node(const gql_node *n) {
    if (!n) return NULL;
    switch (n->kind) {
    case GQL_FIELD_DEFINITION:
    case GQL_INPUT_VALUE_DEFINITION:
        return n->u.field_def.name;
    case GQL_ENUM_VALUE_DEFINITION:
        return n->u.enum_value_def.name;
    case GQL_DIRECTIVE_DEFINITION:
        return n->u.directive_def.name;
    default:
        return n->u.type_def.name;
    }
}

static void validate_name(builder *b, const char *name, const gql_node *ast) {
    if (strncmp(name, "__", 2) == 0) {
        const gql_node *n = name_node(ast);
        gql_errors_add(b->errs, &n, 1,
                       "Name \"%s\" must not begin with \"__\", which is reserved by GraphQL "
                       "introspection.",
                       name);
    }
}

static bool tref_ok(const gql_tref *t) {
    return t && gql_tref_named(t);
}

static const gql_node *type_node_of(const gql_node *def_ast) {
    return def_ast ? def_ast->u.field_def.type : NULL;
}

static void validate_args(builder *b, const char *owner, const gql_input_value *args, size_t n) {
    char ts[256];
    for (size_t i = 0; i < n; i++) {
        const gql_input_value *a = &args[i];
        validate_name(b, a->name, a->ast);
        if (!tref_ok(a->type)) continue;
        if (!gql_tref_is_input(a->type)) {
            tref_str(a->type, ts, sizeof ts);
            const gql_node *tn = type_node_of(a->ast);
            gql_errors_add(b->errs, &tn, 1, "The type of %s(%s:) must be Input Type but got: %s.",
                           owner, a->name, ts);
        }
        if (gql_tref_is_non_null(a->type) && !a->default_value && a->deprecation_reason) {
            const gql_node *dn = find_directive(&a->ast->u.field_def.directives, "deprecated");
            const gql_node *ns[2] = {dn, type_node_of(a->ast)};
            gql_errors_add(b->errs, ns, 2, "Required argument %s(%s:) cannot be deprecated.", owner,
                           a->name);
        }
    }
}

static void implements_nodes(builder *b, const gql_type *t, const gql_type *iface,
                             const gql_node **out, size_t *n, size_t cap) {
    tnodes *tn = &b->nodes[t->index];
    for (size_t k = 0; k < tn->count; k++)
        for (size_t i = 0; i < tn->items[k]->u.type_def.interfaces.count; i++) {
            const gql_node *in = tn->items[k]->u.type_def.interfaces.items[i];
            if (strcmp(gql_name_str(in), iface->name) == 0 && *n < cap) out[(*n)++] = in;
        }
}

static void validate_implements(builder *b, gql_type *t) {
    char t1[256], t2[256];
    for (size_t i = 0; i < t->ninterfaces; i++) {
        gql_type *iface = t->interfaces[i];
        const gql_node *ns[16];
        size_t nn = 0;
        if (iface->kind != GQL_TYPE_INTERFACE) {
            implements_nodes(b, t, iface, ns, &nn, 16);
            gql_errors_add(b->errs, ns, nn,
                           "Type %s must only implement Interface types, it cannot implement %s.",
                           t->name, iface->name);
            continue;
        }
        if (iface == t) {
            implements_nodes(b, t, iface, ns, &nn, 16);
            gql_errors_add(b->errs, ns, nn,
                           "Type %s cannot implement itself because it would create a circular "
                           "reference.",
                           t->name);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            if (t->interfaces[j] == iface) dup = true;
        if (dup) {
            implements_nodes(b, t, iface, ns, &nn, 16);
            gql_errors_add(b->errs, ns, nn, "Type %s can only implement %s once.", t->name,
                           iface->name);
            continue;
        }
        /* ancestors */
        for (size_t k = 0; k < iface->ninterfaces; k++) {
            gql_type *tr = iface->interfaces[k];
            bool has = false;
            for (size_t j = 0; j < t->ninterfaces; j++)
                if (t->interfaces[j] == tr) has = true;
            if (has) continue;
            nn = 0;
            implements_nodes(b, iface, tr, ns, &nn, 8);
            implements_nodes(b, t, iface, ns, &nn, 16);
            if (tr == t)
                gql_errors_add(b->errs, ns, nn,
                               "Type %s cannot implement %s because it would create a circular "
                               "reference.",
                               t->name, iface->name);
            else
                gql_errors_add(b->errs, ns, nn,
                               "Type %s must implement %s because it is implemented by %s.",
                               t->name, tr->name, iface->name);
        }
        /* fields */
        for (size_t k = 0; k < iface->nfields; k++) {
            const gql_field *ifld = &iface->fields[k];
            const gql_field *tf = gql_type_field(t, ifld->name);
            if (!tf) {
                const gql_node *fn[2] = {ifld->ast, t->ast};
                gql_errors_add(b->errs, fn, 2,
                               "Interface field %s.%s expected but %s does not provide it.",
                               iface->name, ifld->name, t->name);
                continue;
            }
            if (tref_ok(ifld->type) && tref_ok(tf->type) &&
                !gql_tref_is_sub_type(b->s, tf->type, ifld->type)) {
                tref_str(ifld->type, t1, sizeof t1);
                tref_str(tf->type, t2, sizeof t2);
                const gql_node *fn[2] = {type_node_of(ifld->ast), type_node_of(tf->ast)};
                gql_errors_add(b->errs, fn, 2,
                               "Interface field %s.%s expects type %s but %s.%s is type %s.",
                               iface->name, ifld->name, t1, t->name, ifld->name, t2);
            }
            for (size_t a = 0; a < ifld->nargs; a++) {
                const gql_input_value *ia = &ifld->args[a];
                const gql_input_value *ta = gql_field_arg(tf, ia->name);
                if (!ta) {
                    const gql_node *fn[2] = {ia->ast, tf->ast};
                    gql_errors_add(b->errs, fn, 2,
                                   "Interface field argument %s.%s(%s:) expected but %s.%s does "
                                   "not provide it.",
                                   iface->name, ifld->name, ia->name, t->name, ifld->name);
                    continue;
                }
                if (tref_ok(ia->type) && tref_ok(ta->type) && !gql_tref_equal(ia->type, ta->type)) {
                    tref_str(ia->type, t1, sizeof t1);
                    tref_str(ta->type, t2, sizeof t2);
                    const gql_node *fn[2] = {type_node_of(ia->ast), type_node_of(ta->ast)};
                    gql_errors_add(b->errs, fn, 2,
                                   "Interface field argument %s.%s(%s:) expects type %s but "
                                   "%s.%s(%s:) is type %s.",
                                   iface->name, ifld->name, ia->name, t1, t->name, ifld->name,
                                   ia->name, t2);
                }
            }
            for (size_t a = 0; a < tf->nargs; a++) {
                const gql_input_value *ta = &tf->args[a];
                if (gql_field_arg(ifld, ta->name)) continue;
                if (gql_tref_is_non_null(ta->type) && !ta->default_value) {
                    const gql_node *fn[2] = {ta->ast, ifld->ast};
                    gql_errors_add(b->errs, fn, 2,
                                   "Object field %s.%s includes required argument %s that is "
                                   "missing from the Interface field %s.%s.",
                                   t->name, ifld->name, ta->name, iface->name, ifld->name);
                }
            }
        }
    }
}

typedef struct cycle_ctx {
    builder *b;
    bool *visited;
    long *index_of; /* per type, -1 when not on the path */
    const gql_input_value **path;
    size_t depth;
} cycle_ctx;

static void input_cycles(cycle_ctx *c, const gql_type *t) {
    if (c->visited[t->index]) return;
    c->visited[t->index] = true;
    c->index_of[t->index] = (long)c->depth;
    for (size_t i = 0; i < t->ninput_fields; i++) {
        const gql_input_value *f = &t->input_fields[i];
        if (!f->type || f->type->kind != GQL_REF_NON_NULL || f->type->of->kind != GQL_REF_NAMED ||
            f->type->of->named->kind != GQL_TYPE_INPUT_OBJECT)
            continue;
        const gql_type *ft = f->type->of->named;
        long ci = c->index_of[ft->index];
        c->path[c->depth++] = f;
        if (ci < 0) {
            input_cycles(c, ft);
        } else {
            gql_sb sb = {0};
            const gql_node *ns[64];
            size_t nn = 0;
            for (size_t k = (size_t)ci; k < c->depth; k++) {
                gql_sb_addf(&sb, "%s%s", k > (size_t)ci ? "." : "", c->path[k]->name);
                if (nn < 64) ns[nn++] = c->path[k]->ast;
            }
            gql_errors_add(c->b->errs, ns, nn,
                           "Cannot reference Input Object \"%s\" within itself through a series "
                           "of non-null fields: \"%s\".",
                           ft->name, gql_sb_str(&sb));
            gql_sb_free(&sb);
        }
        c->depth--;
    }
    c->index_of[t->index] = -1;
}

static void validate_schema(builder *b) {
    gql_schema *s = b->s;
    gql_errors *E = b->errs;
    char ts[256];
    const gql_node *sd = NULL;
    for (size_t i = 0; i < s->sdl->root->u.document.definitions.count; i++)
        if (s->sdl->root->u.document.definitions.items[i]->kind == GQL_SCHEMA_DEFINITION)
            sd = s->sdl->root->u.document.definitions.items[i];
    if (!s->query) {
        gql_errors_add(E, &sd, 1, "Query root type must be provided.");
    } else if (s->query->kind != GQL_TYPE_OBJECT) {
        gql_errors_add(E, &s->query->ast, 1,
                       "Query root type must be Object type, it cannot be %s.", s->query->name);
    }
    if (s->mutation && s->mutation->kind != GQL_TYPE_OBJECT)
        gql_errors_add(E, &s->mutation->ast, 1,
                       "Mutation root type must be Object type if provided, it cannot be %s.",
                       s->mutation->name);
    if (s->subscription && s->subscription->kind != GQL_TYPE_OBJECT)
        gql_errors_add(E, &s->subscription->ast, 1,
                       "Subscription root type must be Object type if provided, it cannot be %s.",
                       s->subscription->name);

    for (size_t i = 0; i < s->ndirectives; i++) {
        gql_directive *d = s->directives[i];
        if (d->builtin) continue;
        validate_name(b, d->name, d->ast);
        char owner[300];
        snprintf(owner, sizeof owner, "@%s", d->name);
        validate_args(b, owner, d->args, d->nargs);
    }

    for (size_t i = 0; i < s->ntypes; i++) {
        gql_type *t = s->types[i];
        if (t->builtin) continue;
        validate_name(b, t->name, t->ast);
        switch (t->kind) {
        case GQL_TYPE_OBJECT:
        case GQL_TYPE_INTERFACE:
            if (t->nfields == 0) {
                tnodes *tn = &b->nodes[t->index];
                gql_errors_add(E, tn->items, tn->count, "Type %s must define one or more fields.",
                               t->name);
            }
            for (size_t k = 0; k < t->nfields; k++) {
                gql_field *f = &t->fields[k];
                validate_name(b, f->name, f->ast);
                if (tref_ok(f->type) && !gql_tref_is_output(f->type)) {
                    tref_str(f->type, ts, sizeof ts);
                    const gql_node *tn = type_node_of(f->ast);
                    gql_errors_add(E, &tn, 1, "The type of %s.%s must be Output Type but got: %s.",
                                   t->name, f->name, ts);
                }
                char owner[300];
                snprintf(owner, sizeof owner, "%s.%s", t->name, f->name);
                validate_args(b, owner, f->args, f->nargs);
            }
            validate_implements(b, t);
            break;
        case GQL_TYPE_UNION: {
            tnodes *tn = &b->nodes[t->index];
            if (t->npossible == 0)
                gql_errors_add(E, tn->items, tn->count,
                               "Union type %s must define one or more member types.", t->name);
            for (size_t k = 0; k < t->npossible; k++) {
                gql_type *m = t->possible[k];
                const gql_node *ns[16];
                size_t nn = 0;
                for (size_t q = 0; q < tn->count; q++)
                    for (size_t r = 0; r < tn->items[q]->u.type_def.types.count; r++)
                        if (strcmp(gql_name_str(tn->items[q]->u.type_def.types.items[r]),
                                   m->name) == 0 &&
                            nn < 16)
                            ns[nn++] = tn->items[q]->u.type_def.types.items[r];
                bool dup = false;
                for (size_t j = 0; j < k; j++)
                    if (t->possible[j] == m) dup = true;
                if (dup) {
                    gql_errors_add(E, ns, nn, "Union type %s can only include type %s once.",
                                   t->name, m->name);
                    continue;
                }
                if (m->kind != GQL_TYPE_OBJECT)
                    gql_errors_add(E, ns, nn,
                                   "Union type %s can only include Object types, it cannot "
                                   "include %s.",
                                   t->name, m->name);
            }
            break;
        }
        case GQL_TYPE_ENUM:
            if (t->nvalues == 0) {
                tnodes *tn = &b->nodes[t->index];
                gql_errors_add(E, tn->items, tn->count,
                               "Enum type %s must define one or more values.", t->name);
            }
            for (size_t k = 0; k < t->nvalues; k++)
                validate_name(b, t->values[k].name, t->values[k].ast);
            break;
        case GQL_TYPE_INPUT_OBJECT:
            if (t->ninput_fields == 0) {
                tnodes *tn = &b->nodes[t->index];
                gql_errors_add(E, tn->items, tn->count,
                               "Input Object type %s must define one or more fields.", t->name);
            }
            for (size_t k = 0; k < t->ninput_fields; k++) {
                gql_input_value *f = &t->input_fields[k];
                validate_name(b, f->name, f->ast);
                if (tref_ok(f->type) && !gql_tref_is_input(f->type)) {
                    tref_str(f->type, ts, sizeof ts);
                    const gql_node *tn = type_node_of(f->ast);
                    gql_errors_add(E, &tn, 1, "The type of %s.%s must be Input Type but got: %s.",
                                   t->name, f->name, ts);
                }
                if (gql_tref_is_non_null(f->type) && !f->default_value && f->deprecation_reason) {
                    const gql_node *ns[2] = {
                        find_directive(&f->ast->u.field_def.directives, "deprecated"),
                        type_node_of(f->ast)};
                    gql_errors_add(E, ns, 2, "Required input field %s.%s cannot be deprecated.",
                                   t->name, f->name);
                }
                if (t->one_of) {
                    if (gql_tref_is_non_null(f->type)) {
                        const gql_node *tn = type_node_of(f->ast);
                        gql_errors_add(E, &tn, 1, "OneOf input field %s.%s must be nullable.",
                                       t->name, f->name);
                    }
                    if (f->default_value)
                        gql_errors_add(E, &f->ast, 1,
                                       "OneOf input field %s.%s cannot have a default value.",
                                       t->name, f->name);
                }
            }
            break;
        default:
            break;
        }
    }
    /* input object cycles */
    cycle_ctx cc = {.b = b};
    cc.visited = calloc(s->ntypes, sizeof *cc.visited);
    cc.index_of = malloc(s->ntypes * sizeof *cc.index_of);
    cc.path = calloc(s->ntypes * 8 + 1, sizeof *cc.path);
    if (!cc.visited || !cc.index_of || !cc.path) {
        E->oom = true;
    } else {
        for (size_t i = 0; i < s->ntypes; i++)
            cc.index_of[i] = -1;
        for (size_t i = 0; i < s->ntypes; i++)
            if (s->types[i]->kind == GQL_TYPE_INPUT_OBJECT) input_cycles(&cc, s->types[i]);
    }
    free(cc.visited);
    free(cc.index_of);
    free(cc.path);
}

/* ---- build ---- */

static void add_docs_types(builder *b, const gql_node *doc, bool builtin) {
    const gql_list *defs = &doc->u.document.definitions;
    for (size_t i = 0; i < defs->count && !b->failed; i++) {
        const gql_node *d = defs->items[i];
        if (!is_type_def(d->kind)) continue;
        const char *name = gql_name_str(d->u.type_def.name);
        if (gql_schema_type(b->s, name)) continue; /* duplicate, reported */
        bool std = false;
        for (int k = 0; k < N_STD_SCALARS; k++)
            if (strcmp(std_scalars[k], name) == 0) std = true;
        if (std) continue; /* graphql-js keeps the specified scalar */
        gql_type *t = add_type(b, kind_of_node(d->kind), name, d);
        if (t) t->builtin = builtin;
    }
}

static void add_extensions(builder *b, const gql_node *doc) {
    const gql_list *defs = &doc->u.document.definitions;
    for (size_t i = 0; i < defs->count && !b->failed; i++) {
        const gql_node *d = defs->items[i];
        if (!is_type_ext(d->kind)) continue;
        gql_type *t = resolve_named(b, gql_name_str(d->u.type_def.name));
        if (t && t->kind == kind_of_node(d->kind)) tnodes_push(b, &b->nodes[t->index], d);
    }
}

static gql_field meta_field(builder *b, const char *name, const gql_tref *type) {
    gql_field f = {0};
    f.name = name;
    f.type = type;
    (void)b;
    return f;
}

static const gql_tref *non_null(builder *b, const gql_tref *of) {
    gql_tref *r = A(b, sizeof *r);
    if (!r) return NULL;
    r->kind = GQL_REF_NON_NULL;
    r->of = of;
    return r;
}

/* ---- graphql-js type map order (GraphQLSchema constructor, collectReferencedTypes) ---- */

typedef struct order_ctx {
    gql_schema *s;
    bool *in_set;
    size_t n;
} order_ctx;

static void order_visit(order_ctx *c, gql_type *t);

static void order_ref(order_ctx *c, const gql_tref *r) {
    const gql_type *t = r ? gql_tref_named(r) : NULL;
    if (!t || c->in_set[t->index]) return;
    c->in_set[t->index] = true;
    order_visit(c, (gql_type *)t);
}

/* Appends t, then (depth first) every type it references that is not in the set yet. */
static void order_visit(order_ctx *c, gql_type *t) {
    c->s->intro_types[c->n++] = t;
    if (t->kind == GQL_TYPE_UNION) {
        for (size_t i = 0; i < t->npossible; i++)
            order_ref(c, &t->possible[i]->ref);
    } else if (t->kind == GQL_TYPE_OBJECT || t->kind == GQL_TYPE_INTERFACE) {
        for (size_t i = 0; i < t->ninterfaces; i++)
            order_ref(c, &t->interfaces[i]->ref);
        for (size_t i = 0; i < t->nfields; i++) {
            order_ref(c, t->fields[i].type);
            for (size_t k = 0; k < t->fields[i].nargs; k++)
                order_ref(c, t->fields[i].args[k].type);
        }
    } else if (t->kind == GQL_TYPE_INPUT_OBJECT) {
        for (size_t i = 0; i < t->ninput_fields; i++)
            order_ref(c, t->input_fields[i].type);
    }
}

/* s->intro_types: the order of graphql-js buildSchema's type map (what __schema.types lists):
 * the SDL's type definitions in document order, each followed by the specified scalars it is the
 * first to reference; then the types referenced only by the roots and the directives'
 * arguments (user directives, then the specified ones); then the introspection types from
 * __Schema. s->intro_directives: graphql-js's directive order (the SDL's, then the missing
 * specified ones: include, skip, deprecated, specifiedBy, oneOf). */
static int build_intro_order(builder *b) {
    gql_schema *s = b->s;
    order_ctx c = {.s = s};
    s->intro_types = A(b, (s->ntypes ? s->ntypes : 1) * sizeof *s->intro_types);
    s->intro_directives = A(b, (s->ndirectives ? s->ndirectives : 1) * sizeof *s->intro_directives);
    c.in_set = calloc(s->ntypes ? s->ntypes : 1, sizeof *c.in_set);
    if (!s->intro_types || !s->intro_directives || !c.in_set) {
        free(c.in_set);
        b->failed = true;
        return -1;
    }
    size_t nd = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < s->ndirectives; i++)
            if (s->directives[i]->builtin == (pass == 1))
                s->intro_directives[nd++] = s->directives[i];
    const gql_list *defs = &s->sdl->root->u.document.definitions;
    for (size_t i = 0; i < defs->count; i++) /* config.types: all in the set at first */
        if (is_type_def(defs->items[i]->kind)) {
            gql_type *t = gql_schema_type(s, gql_name_str(defs->items[i]->u.type_def.name));
            if (t) c.in_set[t->index] = true;
        }
    for (size_t i = 0; i < defs->count; i++) {
        if (!is_type_def(defs->items[i]->kind)) continue;
        gql_type *t = gql_schema_type(s, gql_name_str(defs->items[i]->u.type_def.name));
        bool listed = false; /* a duplicate definition is listed once */
        for (size_t k = 0; t && k < c.n; k++)
            if (s->intro_types[k] == t) listed = true;
        if (t && !listed) order_visit(&c, t);
    }
    gql_type *roots[] = {s->query, s->mutation, s->subscription};
    for (int i = 0; i < 3; i++)
        if (roots[i]) order_ref(&c, &roots[i]->ref);
    for (size_t i = 0; i < nd; i++)
        for (size_t k = 0; k < s->intro_directives[i]->nargs; k++)
            order_ref(&c, s->intro_directives[i]->args[k].type);
    gql_type *sch = gql_schema_type(s, "__Schema");
    if (sch) order_ref(&c, &sch->ref);
    for (size_t i = 0; i < s->ntypes; i++) /* anything else (none expected) at the end */
        if (!c.in_set[i]) {
            c.in_set[i] = true;
            s->intro_types[c.n++] = s->types[i];
        }
    free(c.in_set);
    return 0;
}

static int fail_with(err_t *e, gql_errors *errs) {
    if (errs->oom) return err_set(e, 500, "out_of_memory", "", "out of memory building the schema");
    return err_set(e, 400, "graphql_schema", "", "%s%s",
                   errs->count ? errs->items[0].message : "invalid schema",
                   errs->count > 1 ? " (and more errors)" : "");
}

gql_schema *gql_schema_build(const char *sdl, size_t len, gql_errors *errors, err_t *e) {
    gql_errors local = {0};
    gql_errors *errs = errors ? errors : &local;
    builder b = {0};
    gql_schema *s = calloc(1, sizeof *s);
    if (!s) {
        err_set(e, 500, "out_of_memory", "", "out of memory building the schema");
        return NULL;
    }
    gql_arena_init(&s->arena, 0);
    b.s = s;
    b.errs = errs;
    size_t before = errs->count;
    err_t pe;
    gql_parse_opts po = {.max_bytes = 16u << 20, .max_tokens = 4000000};
    s->prelude = gql_parse(prelude_sdl, sizeof prelude_sdl - 1, &po, NULL, &pe);
    if (!s->prelude) {
        gql_errors_add(errs, NULL, 0, "internal: prelude does not parse: %s", pe.message);
        goto fail;
    }
    gql_loc loc = {0};
    s->sdl = gql_parse(sdl, len, &po, &loc, &pe);
    if (!s->sdl) {
        if (pe.status == 500) {
            errs->oom = true;
        } else {
            gql_node fake = {.kind = GQL_NAME, .loc = loc};
            const gql_node *fp = &fake;
            gql_errors_add_msg(errs, &fp, 1, pe.message);
        }
        goto fail;
    }
    sdl_ctx sc = {.b = &b, .doc = s->sdl->root};
    sdl_validate(&sc);
    if (errs->count > before || b.failed) goto fail;
    add_docs_types(&b, s->sdl->root, false);
    add_docs_types(&b, s->prelude->root, true);
    add_extensions(&b, s->sdl->root);
    for (size_t i = 0; i < s->ntypes && !b.failed; i++)
        fill_type(&b, s->types[i]);
    if (b.failed) goto fail;

    /* directives: built-ins unless redefined, then the user's */
    {
        const gql_list *pd = &s->prelude->root->u.document.definitions;
        const gql_list *ud = &s->sdl->root->u.document.definitions;
        size_t cap = pd->count + ud->count;
        s->directives = A(&b, cap * sizeof *s->directives);
        if (!s->directives) goto fail;
        for (size_t i = 0; i < pd->count; i++) {
            const gql_node *d = pd->items[i];
            if (d->kind != GQL_DIRECTIVE_DEFINITION) continue;
            if (first_def_named(s->sdl->root, gql_name_str(d->u.directive_def.name), true, NULL))
                continue;
            gql_directive *dd = build_directive(&b, d, true);
            if (dd) s->directives[s->ndirectives++] = dd;
        }
        for (size_t i = 0; i < ud->count; i++) {
            const gql_node *d = ud->items[i];
            if (d->kind != GQL_DIRECTIVE_DEFINITION) continue;
            gql_directive *dd = build_directive(&b, d, false);
            if (dd) s->directives[s->ndirectives++] = dd;
        }
    }
    /* roots */
    {
        bool have_schema = false;
        const gql_list *ud = &s->sdl->root->u.document.definitions;
        for (size_t i = 0; i < ud->count; i++) {
            const gql_node *d = ud->items[i];
            if (d->kind != GQL_SCHEMA_DEFINITION && d->kind != GQL_SCHEMA_EXTENSION) continue;
            if (d->kind == GQL_SCHEMA_DEFINITION) {
                have_schema = true;
                s->description = desc_of(d->u.schema.description);
            }
            for (size_t k = 0; k < d->u.schema.operation_types.count; k++) {
                const gql_node *ot = d->u.schema.operation_types.items[k];
                gql_type *t = resolve_named(&b, gql_name_str(ot->u.operation_type.type));
                if (ot->u.operation_type.operation == GQL_OP_QUERY) s->query = t;
                if (ot->u.operation_type.operation == GQL_OP_MUTATION) s->mutation = t;
                if (ot->u.operation_type.operation == GQL_OP_SUBSCRIPTION) s->subscription = t;
            }
        }
        if (!have_schema && !s->query && !s->mutation && !s->subscription) {
            s->query = gql_schema_type(s, "Query");
            s->mutation = gql_schema_type(s, "Mutation");
            s->subscription = gql_schema_type(s, "Subscription");
        }
    }
    /* interface implementations */
    {
        size_t *cnt = calloc(s->ntypes ? s->ntypes : 1, sizeof *cnt);
        if (!cnt) {
            errs->oom = true;
            goto fail;
        }
        for (size_t i = 0; i < s->ntypes; i++) {
            gql_type *t = s->types[i];
            if (t->kind != GQL_TYPE_OBJECT) continue;
            for (size_t k = 0; k < t->ninterfaces; k++)
                cnt[t->interfaces[k]->index]++;
        }
        for (size_t i = 0; i < s->ntypes; i++) {
            gql_type *t = s->types[i];
            if (t->kind == GQL_TYPE_INTERFACE) t->possible = A(&b, cnt[i] * sizeof *t->possible);
        }
        free(cnt);
        if (b.failed) goto fail;
        for (size_t i = 0; i < s->ntypes; i++) {
            gql_type *t = s->types[i];
            if (t->kind != GQL_TYPE_OBJECT) continue;
            for (size_t k = 0; k < t->ninterfaces; k++) {
                gql_type *it = t->interfaces[k];
                if (it->kind != GQL_TYPE_INTERFACE) continue;
                bool dup = false;
                for (size_t j = 0; j < it->npossible; j++)
                    if (it->possible[j] == t) dup = true;
                if (!dup) it->possible[it->npossible++] = t;
            }
        }
    }
    /* meta fields */
    {
        gql_type *sch = gql_schema_type(s, "__Schema"), *typ = gql_schema_type(s, "__Type");
        gql_type *str = resolve_named(&b, "String");
        if (!sch || !typ || !str) goto fail;
        s->schema_meta = meta_field(&b, "__schema", non_null(&b, &sch->ref));
        s->schema_meta.description = "Access the current type schema of this server.";
        s->type_meta = meta_field(&b, "__type", &typ->ref);
        s->type_meta.description = "Request the type information of a single type.";
        gql_input_value *arg = A(&b, sizeof *arg);
        if (!arg) goto fail;
        arg->name = "name";
        arg->type = non_null(&b, &str->ref);
        s->type_meta.args = arg;
        s->type_meta.nargs = 1;
        s->typename_meta = meta_field(&b, "__typename", non_null(&b, &str->ref));
        s->typename_meta.description = "The name of the current Object type at runtime.";
        if (b.failed) goto fail;
    }
    validate_schema(&b);
    if (errs->count > before || errs->oom) goto fail;
    if (build_intro_order(&b) != 0) goto fail;
    for (size_t i = 0; i < b.cap_types; i++)
        free(b.nodes[i].items);
    free(b.nodes);
    gql_errors_free(&local);
    return s;
fail:
    if (b.failed && errs->count == before && !errs->oom) errs->oom = true;
    fail_with(e, errs);
    for (size_t i = 0; i < b.cap_types; i++)
        free(b.nodes[i].items);
    free(b.nodes);
    gql_errors_free(&local);
    gql_schema_free(s);
    return NULL;
}

void gql_schema_free(gql_schema *s) {
    if (!s) return;
    if (s->prelude) gql_document_free(s->prelude);
    if (s->sdl) gql_document_free(s->sdl);
    gql_arena_free(&s->arena);
    free(s);
}

/* ---- lookups ---- */

gql_directive *gql_schema_directive(const gql_schema *s, const char *name) {
    for (size_t i = 0; i < s->ndirectives; i++)
        if (strcmp(s->directives[i]->name, name) == 0) return s->directives[i];
    return NULL;
}

gql_type *gql_schema_root(const gql_schema *s, gql_operation op) {
    return op == GQL_OP_QUERY ? s->query : op == GQL_OP_MUTATION ? s->mutation : s->subscription;
}

const gql_field *gql_type_field(const gql_type *t, const char *name) {
    if (!t || (t->kind != GQL_TYPE_OBJECT && t->kind != GQL_TYPE_INTERFACE)) return NULL;
    for (size_t i = 0; i < t->nfields; i++)
        if (strcmp(t->fields[i].name, name) == 0) return &t->fields[i];
    return NULL;
}

const gql_field *gql_schema_field(const gql_schema *s, const gql_type *parent, const char *name) {
    if (!parent) return NULL;
    if (name[0] == '_' && name[1] == '_') {
        if (strcmp(name, "__schema") == 0 && parent == s->query) return &s->schema_meta;
        if (strcmp(name, "__type") == 0 && parent == s->query) return &s->type_meta;
        if (strcmp(name, "__typename") == 0 && gql_type_is_composite(parent))
            return &s->typename_meta;
    }
    return gql_type_field(parent, name);
}

const gql_input_value *gql_field_arg(const gql_field *f, const char *name) {
    for (size_t i = 0; f && i < f->nargs; i++)
        if (strcmp(f->args[i].name, name) == 0) return &f->args[i];
    return NULL;
}

const gql_input_value *gql_directive_arg(const gql_directive *d, const char *name) {
    for (size_t i = 0; d && i < d->nargs; i++)
        if (strcmp(d->args[i].name, name) == 0) return &d->args[i];
    return NULL;
}

const gql_input_value *gql_type_input_field(const gql_type *t, const char *name) {
    for (size_t i = 0; t && i < t->ninput_fields; i++)
        if (strcmp(t->input_fields[i].name, name) == 0) return &t->input_fields[i];
    return NULL;
}

const gql_enum_value *gql_type_enum_value(const gql_type *t, const char *name) {
    for (size_t i = 0; t && i < t->nvalues; i++)
        if (strcmp(t->values[i].name, name) == 0) return &t->values[i];
    return NULL;
}

gql_type *const *gql_schema_possible_types(const gql_schema *s, const gql_type *abstract,
                                           size_t *n) {
    (void)s;
    if (!abstract || !gql_type_is_abstract(abstract)) {
        *n = 0;
        return NULL;
    }
    *n = abstract->npossible;
    return abstract->possible;
}

bool gql_schema_is_possible_type(const gql_schema *s, const gql_type *abstract,
                                 const gql_type *object) {
    size_t n;
    gql_type *const *p = gql_schema_possible_types(s, abstract, &n);
    for (size_t i = 0; i < n; i++)
        if (p[i] == object) return true;
    return false;
}

bool gql_schema_is_sub_type(const gql_schema *s, const gql_type *abstract,
                            const gql_type *maybe_sub) {
    if (!abstract || !maybe_sub) return false;
    if (abstract->kind == GQL_TYPE_UNION)
        return gql_schema_is_possible_type(s, abstract, maybe_sub);
    if (abstract->kind != GQL_TYPE_INTERFACE) return false;
    if (maybe_sub->kind == GQL_TYPE_OBJECT)
        return gql_schema_is_possible_type(s, abstract, maybe_sub);
    if (maybe_sub->kind == GQL_TYPE_INTERFACE)
        for (size_t i = 0; i < maybe_sub->ninterfaces; i++)
            if (maybe_sub->interfaces[i] == abstract) return true;
    return false;
}

bool gql_schema_types_overlap(const gql_schema *s, const gql_type *a, const gql_type *b) {
    if (a == b) return true;
    if (gql_type_is_abstract(a)) {
        if (gql_type_is_abstract(b)) {
            size_t n;
            gql_type *const *p = gql_schema_possible_types(s, b, &n);
            for (size_t i = 0; i < n; i++)
                if (gql_schema_is_sub_type(s, a, p[i])) return true;
            return false;
        }
        return gql_schema_is_sub_type(s, a, b);
    }
    if (gql_type_is_abstract(b)) return gql_schema_is_sub_type(s, b, a);
    return false;
}

/* ---- type references ---- */

gql_type *gql_tref_named(const gql_tref *t) {
    while (t && t->kind != GQL_REF_NAMED)
        t = t->of;
    return t ? t->named : NULL;
}
const gql_tref *gql_tref_nullable(const gql_tref *t) {
    return t && t->kind == GQL_REF_NON_NULL ? t->of : t;
}
bool gql_tref_is_non_null(const gql_tref *t) {
    return t && t->kind == GQL_REF_NON_NULL;
}
bool gql_type_is_input(const gql_type *t) {
    return t && (t->kind == GQL_TYPE_SCALAR || t->kind == GQL_TYPE_ENUM ||
                 t->kind == GQL_TYPE_INPUT_OBJECT);
}
bool gql_type_is_output(const gql_type *t) {
    return t && t->kind != GQL_TYPE_INPUT_OBJECT;
}
bool gql_type_is_leaf(const gql_type *t) {
    return t && (t->kind == GQL_TYPE_SCALAR || t->kind == GQL_TYPE_ENUM);
}
bool gql_type_is_composite(const gql_type *t) {
    return t && (t->kind == GQL_TYPE_OBJECT || t->kind == GQL_TYPE_INTERFACE ||
                 t->kind == GQL_TYPE_UNION);
}
bool gql_type_is_abstract(const gql_type *t) {
    return t && (t->kind == GQL_TYPE_INTERFACE || t->kind == GQL_TYPE_UNION);
}
bool gql_tref_is_input(const gql_tref *t) {
    return gql_type_is_input(gql_tref_named(t));
}
bool gql_tref_is_output(const gql_tref *t) {
    return gql_type_is_output(gql_tref_named(t));
}

bool gql_tref_equal(const gql_tref *a, const gql_tref *b) {
    if (a == b) return true;
    if (!a || !b || a->kind != b->kind) return false;
    if (a->kind == GQL_REF_NAMED) return a->named == b->named;
    return gql_tref_equal(a->of, b->of);
}

bool gql_tref_is_sub_type(const gql_schema *s, const gql_tref *sub, const gql_tref *super) {
    if (gql_tref_equal(sub, super)) return true;
    if (super->kind == GQL_REF_NON_NULL) {
        if (sub->kind == GQL_REF_NON_NULL) return gql_tref_is_sub_type(s, sub->of, super->of);
        return false;
    }
    if (sub->kind == GQL_REF_NON_NULL) return gql_tref_is_sub_type(s, sub->of, super);
    if (super->kind == GQL_REF_LIST) {
        if (sub->kind == GQL_REF_LIST) return gql_tref_is_sub_type(s, sub->of, super->of);
        return false;
    }
    if (sub->kind == GQL_REF_LIST) return false;
    return gql_type_is_abstract(super->named) &&
           (sub->named->kind == GQL_TYPE_INTERFACE || sub->named->kind == GQL_TYPE_OBJECT) &&
           gql_schema_is_sub_type(s, super->named, sub->named);
}

void gql_tref_print(gql_sb *sb, const gql_tref *t) {
    if (!t) return;
    switch (t->kind) {
    case GQL_REF_NAMED:
        gql_sb_add(sb, t->named->name);
        break;
    case GQL_REF_LIST:
        gql_sb_add(sb, "[");
        gql_tref_print(sb, t->of);
        gql_sb_add(sb, "]");
        break;
    case GQL_REF_NON_NULL:
        gql_tref_print(sb, t->of);
        gql_sb_add(sb, "!");
        break;
    }
}

const gql_tref *gql_tref_from_ast(const gql_schema *s, const gql_node *n, gql_arena *arena) {
    if (!n) return NULL;
    if (n->kind == GQL_NAMED_TYPE) {
        gql_type *t = gql_schema_type(s, gql_name_str(n));
        return t ? &t->ref : NULL;
    }
    const gql_tref *of = gql_tref_from_ast(s, n->u.wrapped.type, arena);
    if (!of) return NULL;
    gql_tref *r = gql_arena_alloc(arena, sizeof *r);
    if (!r) return NULL;
    r->kind = n->kind == GQL_LIST_TYPE ? GQL_REF_LIST : GQL_REF_NON_NULL;
    r->of = of;
    return r;
}

/* ---- input coercion ---- */

static char *print_value(const gql_node *v) {
    char *p = gql_print(v, NULL);
    return p ? p : strdup("?");
}

static char *msgf(const char *fmt, const char *a, const char *b) {
    size_t n = strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + 1;
    char *m = malloc(n);
    if (m) snprintf(m, n, fmt, a, b ? b : "");
    return m;
}

/* parseInt of an IntValue's text: does it fit a signed 32-bit integer? */
static bool int_fits32(const char *text, long long *out) {
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (errno == ERANGE || v > 2147483647LL || v < -2147483648LL) return false;
    *out = v;
    return true;
}

int gql_float_literal(const char *text, double *out) {
    double d = strtod(text, NULL);
    if (!isfinite(d)) return -1;
    *out = d;
    return 0;
}

int gql_leaf_parse_literal(const gql_type *t, const gql_node *v, bool hide_suggestions,
                           char **msg) {
    *msg = NULL;
    if (!t->builtin || t->kind == GQL_TYPE_ENUM) {
        if (t->kind == GQL_TYPE_SCALAR) return 0; /* custom scalar: valueFromASTUntyped */
        char *vs = print_value(v);
        if (!vs) return -1;
        gql_sb sb = {0};
        if (v->kind != GQL_ENUM_VALUE)
            gql_sb_addf(&sb, "Enum \"%s\" cannot represent non-enum value: %s.", t->name, vs);
        else if (!gql_type_enum_value(t, v->u.text.value))
            gql_sb_addf(&sb, "Value \"%s\" does not exist in \"%s\" enum.", vs, t->name);
        else {
            free(vs);
            return 0;
        }
        if (!hide_suggestions) {
            const char **names = malloc((t->nvalues + 1) * sizeof *names);
            const char *sug[5];
            if (names) {
                for (size_t i = 0; i < t->nvalues; i++)
                    names[i] = t->values[i].name;
                size_t ns = gql_suggestion_list(vs, names, t->nvalues, sug, 5);
                gql_did_you_mean(&sb, "the enum value", sug, ns);
                free(names);
            }
        }
        free(vs);
        *msg = sb.oom ? NULL : sb.p;
        if (sb.oom) gql_sb_free(&sb);
        return -1;
    }
    const char *n = t->name;
    if (strcmp(n, "Int") == 0) {
        long long x;
        if (v->kind != GQL_INT_VALUE) {
            char *vs = print_value(v);
            *msg = msgf("Int cannot represent non-integer value: %s%s", vs ? vs : "?", NULL);
            free(vs);
            return -1;
        }
        if (!int_fits32(v->u.text.value, &x)) {
            *msg = msgf("Int cannot represent non 32-bit signed integer value: %s%s",
                        v->u.text.value, NULL);
            return -1;
        }
        return 0;
    }
    const char *fmt = NULL;
    if (strcmp(n, "Float") == 0) {
        double d;
        if (v->kind == GQL_INT_VALUE || v->kind == GQL_FLOAT_VALUE) {
            if (gql_float_literal(v->u.text.value, &d) == 0) return 0;
            *msg = msgf("Float cannot represent non-finite value: %s%s", v->u.text.value, NULL);
            return -1;
        }
        fmt = "Float cannot represent non numeric value: %s%s";
    } else if (strcmp(n, "String") == 0) {
        if (v->kind == GQL_STRING_VALUE) return 0;
        fmt = "String cannot represent a non string value: %s%s";
    } else if (strcmp(n, "Boolean") == 0) {
        if (v->kind == GQL_BOOLEAN_VALUE) return 0;
        fmt = "Boolean cannot represent a non boolean value: %s%s";
    } else if (strcmp(n, "ID") == 0) {
        if (v->kind == GQL_STRING_VALUE || v->kind == GQL_INT_VALUE) return 0;
        fmt = "ID cannot represent a non-string and non-integer value: %s%s";
    } else {
        return 0;
    }
    char *vs = print_value(v);
    *msg = msgf(fmt, vs ? vs : "?", NULL);
    free(vs);
    return -1;
}

static json_t *number_json(const char *text, bool is_int) {
    if (is_int) {
        errno = 0;
        char *end;
        long long v = strtoll(text, &end, 10);
        if (errno != ERANGE) return json_integer(v);
    }
    return json_real(strtod(text, NULL));
}

static json_t *untyped(const gql_node *v, const json_t *vars) {
    switch (v->kind) {
    case GQL_NULL_VALUE:
        return json_null();
    case GQL_INT_VALUE:
        return number_json(v->u.text.value, true);
    case GQL_FLOAT_VALUE:
        return number_json(v->u.text.value, false);
    case GQL_STRING_VALUE:
        return json_stringn(v->u.text.value, v->u.text.len);
    case GQL_ENUM_VALUE:
        return json_string(v->u.text.value);
    case GQL_BOOLEAN_VALUE:
        return json_boolean(v->u.boolean);
    case GQL_LIST_VALUE: {
        json_t *a = json_array();
        for (size_t i = 0; a && i < v->u.list.values.count; i++) {
            json_t *x = untyped(v->u.list.values.items[i], vars);
            if (x) json_array_append_new(a, x);
        }
        return a;
    }
    case GQL_OBJECT_VALUE: {
        json_t *o = json_object();
        for (size_t i = 0; o && i < v->u.object.fields.count; i++) {
            const gql_node *f = v->u.object.fields.items[i];
            json_t *x = untyped(f->u.argument.value, vars);
            if (x) json_object_set_new(o, gql_name_str(f->u.argument.name), x);
        }
        return o;
    }
    case GQL_VARIABLE: {
        json_t *x = vars ? json_object_get(vars, gql_name_str(v)) : NULL;
        return x ? json_incref(x) : NULL;
    }
    default:
        return NULL;
    }
}

static bool missing_var(const gql_node *v, const json_t *vars) {
    return v->kind == GQL_VARIABLE && (!vars || !json_object_get(vars, gql_name_str(v)));
}

int gql_value_from_ast(const gql_schema *s, const gql_tref *t, const gql_node *v,
                       const json_t *vars, json_t **out) {
    *out = NULL;
    if (!v || !t) return -1;
    if (v->kind == GQL_VARIABLE) {
        json_t *x = vars ? json_object_get(vars, gql_name_str(v)) : NULL;
        if (!x) return -1;
        if (json_is_null(x) && t->kind == GQL_REF_NON_NULL) return -1;
        *out = json_incref(x);
        return 0;
    }
    if (t->kind == GQL_REF_NON_NULL) {
        if (v->kind == GQL_NULL_VALUE) return -1;
        return gql_value_from_ast(s, t->of, v, vars, out);
    }
    if (v->kind == GQL_NULL_VALUE) {
        *out = json_null();
        return 0;
    }
    if (t->kind == GQL_REF_LIST) {
        json_t *a = json_array();
        if (!a) return -1;
        if (v->kind == GQL_LIST_VALUE) {
            for (size_t i = 0; i < v->u.list.values.count; i++) {
                const gql_node *item = v->u.list.values.items[i];
                json_t *x = NULL;
                if (missing_var(item, vars)) {
                    if (t->of->kind == GQL_REF_NON_NULL) goto list_fail;
                    x = json_null();
                } else if (gql_value_from_ast(s, t->of, item, vars, &x)) {
                    goto list_fail;
                }
                json_array_append_new(a, x);
            }
            *out = a;
            return 0;
        list_fail:
            json_decref(a);
            return -1;
        }
        json_t *x = NULL;
        if (gql_value_from_ast(s, t->of, v, vars, &x)) {
            json_decref(a);
            return -1;
        }
        json_array_append_new(a, x);
        *out = a;
        return 0;
    }
    const gql_type *nt = t->named;
    if (nt->kind == GQL_TYPE_INPUT_OBJECT) {
        if (v->kind != GQL_OBJECT_VALUE) return -1;
        json_t *o = json_object();
        if (!o) return -1;
        for (size_t i = 0; i < nt->ninput_fields; i++) {
            const gql_input_value *f = &nt->input_fields[i];
            const gql_node *fv = NULL;
            for (size_t k = 0; k < v->u.object.fields.count; k++)
                if (strcmp(gql_name_str(v->u.object.fields.items[k]->u.argument.name), f->name) ==
                    0)
                    fv = v->u.object.fields.items[k]->u.argument.value;
            if (!fv || missing_var(fv, vars)) {
                if (f->default_value) {
                    json_t *d = NULL;
                    if (gql_value_from_ast(s, f->type, f->default_value, NULL, &d)) goto obj_fail;
                    json_object_set_new(o, f->name, d);
                } else if (gql_tref_is_non_null(f->type)) {
                    goto obj_fail;
                }
                continue;
            }
            json_t *x = NULL;
            if (gql_value_from_ast(s, f->type, fv, vars, &x)) goto obj_fail;
            json_object_set_new(o, f->name, x);
        }
        if (nt->one_of) {
            if (json_object_size(o) != 1) goto obj_fail;
            const char *k;
            json_t *x;
            json_object_foreach(o, k, x) if (json_is_null(x)) goto obj_fail;
        }
        *out = o;
        return 0;
    obj_fail:
        json_decref(o);
        return -1;
    }
    char *msg = NULL;
    if (gql_leaf_parse_literal(nt, v, true, &msg)) {
        free(msg);
        return -1;
    }
    if (nt->kind == GQL_TYPE_ENUM) {
        *out = json_string(v->u.text.value);
    } else if (!nt->builtin) {
        *out = untyped(v, vars);
    } else if (strcmp(nt->name, "ID") == 0) {
        *out = json_stringn(v->u.text.value, v->u.text.len);
    } else if (strcmp(nt->name, "Float") == 0) {
        double d;
        if (gql_float_literal(v->u.text.value, &d)) return -1;
        *out = json_real(d);
    } else {
        *out = untyped(v, vars);
    }
    return *out ? 0 : -1;
}
