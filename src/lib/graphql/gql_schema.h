/* gql_schema: the GraphQL type system. Builds an immutable schema from SDL (the document is
 * parsed with gql_parse and kept alive inside the schema): built-in scalars (Int, Float, String,
 * Boolean, ID; a built-in scalar is in the schema when something references it, as in
 * graphql-js), custom scalars (@specifiedBy), objects, interfaces (also implementing interfaces),
 * unions, enums, input objects (@oneOf), directives (built-in @include, @skip, @deprecated,
 * @specifiedBy, @oneOf + custom), type extensions, a schema definition or the default root names,
 * and the introspection types (__Schema, __Type, ...). Then validates it: the SDL rules graphql-js
 * runs in buildASTSchema (unique names, known types/directives, possible extensions, ...) and
 * graphql-js's validateSchema() (root types, naming, interface implementation, union members,
 * input object non-null cycles, ...), reporting every problem with its SDL location.
 *
 * Owns: one arena holding every type, field, argument and type reference, plus the parsed SDL
 * documents (default values and directive nodes point into them); gql_schema_free() releases all.
 * A built schema is read-only and may be shared between threads.
 *
 * Type references (gql_tref) follow graphql-js identity semantics: every named type has one
 * canonical reference (type->ref); each list/non-null wrapper written in the SDL is its own
 * object, so two fields share a type pointer exactly when graphql-js's `===` would hold. */
#ifndef GATEWAY_GRAPHQL_GQL_SCHEMA_H
#define GATEWAY_GRAPHQL_GQL_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "lib/graphql/gql_arena.h"
#include "lib/graphql/gql_ast.h"
#include "lib/graphql/gql_error.h"

typedef enum gql_type_kind {
    GQL_TYPE_SCALAR,
    GQL_TYPE_OBJECT,
    GQL_TYPE_INTERFACE,
    GQL_TYPE_UNION,
    GQL_TYPE_ENUM,
    GQL_TYPE_INPUT_OBJECT,
} gql_type_kind;

typedef enum gql_tref_kind { GQL_REF_NAMED, GQL_REF_LIST, GQL_REF_NON_NULL } gql_tref_kind;

/* graphql-js DirectiveLocation, in its order. */
typedef enum gql_directive_location {
    GQL_DL_QUERY,
    GQL_DL_MUTATION,
    GQL_DL_SUBSCRIPTION,
    GQL_DL_FIELD,
    GQL_DL_FRAGMENT_DEFINITION,
    GQL_DL_FRAGMENT_SPREAD,
    GQL_DL_INLINE_FRAGMENT,
    GQL_DL_VARIABLE_DEFINITION,
    GQL_DL_SCHEMA,
    GQL_DL_SCALAR,
    GQL_DL_OBJECT,
    GQL_DL_FIELD_DEFINITION,
    GQL_DL_ARGUMENT_DEFINITION,
    GQL_DL_INTERFACE,
    GQL_DL_UNION,
    GQL_DL_ENUM,
    GQL_DL_ENUM_VALUE,
    GQL_DL_INPUT_OBJECT,
    GQL_DL_INPUT_FIELD_DEFINITION,
    GQL_DL_DIRECTIVE_DEFINITION,
    GQL_DL_COUNT
} gql_directive_location;

typedef struct gql_type gql_type;
typedef struct gql_tref gql_tref;

struct gql_tref {
    gql_tref_kind kind;
    const gql_tref *of; /* LIST, NON_NULL */
    gql_type *named;    /* NAMED */
};

typedef struct gql_input_value { /* argument or input field */
    const char *name, *description;
    const gql_tref *type;
    const gql_node *default_value;  /* const value literal, NULL when none */
    const char *deprecation_reason; /* NULL when not deprecated */
    const gql_node *ast;            /* INPUT_VALUE_DEFINITION */
} gql_input_value;

typedef struct gql_field {
    const char *name, *description;
    const gql_tref *type;
    gql_input_value *args;
    size_t nargs;
    const char *deprecation_reason;
    const gql_node *ast; /* FIELD_DEFINITION */
    const gql_type *owner;
} gql_field;

typedef struct gql_enum_value {
    const char *name, *description, *deprecation_reason;
    const gql_node *ast;
} gql_enum_value;

struct gql_type {
    gql_type_kind kind;
    const char *name, *description;
    const char *specified_by_url; /* scalars */
    bool builtin;                 /* a specified scalar or an introspection type */
    bool one_of;                  /* input objects with @oneOf */
    gql_field *fields;            /* object, interface */
    size_t nfields;
    gql_type **interfaces; /* object, interface */
    size_t ninterfaces;
    gql_type **possible; /* union: members; interface: implementing object types (type order) */
    size_t npossible;
    gql_enum_value *values;
    size_t nvalues;
    gql_input_value *input_fields;
    size_t ninput_fields;
    gql_tref ref;        /* canonical named reference to this type */
    const gql_node *ast; /* the definition node (NULL for built-in scalars) */
    size_t index;        /* position in schema->types */
};

typedef struct gql_directive {
    const char *name, *description;
    gql_input_value *args;
    size_t nargs;
    uint32_t locations; /* bit (1u << gql_directive_location) */
    bool repeatable, builtin;
    const gql_node *ast;
} gql_directive;

typedef struct gql_schema {
    gql_arena arena;
    gql_document *prelude, *sdl; /* introspection + built-in directives; the user's SDL */
    const char *description;
    gql_type **types; /* type map order: user types as defined, referenced built-ins, __ types */
    size_t ntypes;
    gql_directive **directives;
    size_t ndirectives;
    /* introspection order (graphql-js buildSchema): __schema.types lists intro_types (ntypes),
     * __schema.directives intro_directives (ndirectives) */
    gql_type **intro_types;
    gql_directive **intro_directives;
    gql_type *query, *mutation, *subscription;
    gql_field schema_meta, type_meta, typename_meta; /* __schema, __type(name:), __typename */
    gql_type **hash;                                 /* open addressing, hash_cap slots */
    size_t hash_cap;
} gql_schema;

/* Builds and validates a schema from SDL text. On failure returns NULL, fills `errors` (when
 * given) with every problem (message + SDL locations, graphql-js wording) and e with
 * {400, "graphql_schema", first message}. Out of memory: e {500, "out_of_memory"}. */
gql_schema *gql_schema_build(const char *sdl, size_t len, gql_errors *errors, err_t *e);
void gql_schema_free(gql_schema *s);

/* ---- lookups ---- */
gql_type *gql_schema_type(const gql_schema *s, const char *name);
gql_directive *gql_schema_directive(const gql_schema *s, const char *name);
gql_type *gql_schema_root(const gql_schema *s, gql_operation op);
/* A type's own field (object/interface), NULL otherwise. */
const gql_field *gql_type_field(const gql_type *t, const char *name);
/* graphql-js getFieldDef(): also the meta fields __typename (composite types) and __schema /
 * __type (on the query type). */
const gql_field *gql_schema_field(const gql_schema *s, const gql_type *parent, const char *name);
const gql_input_value *gql_field_arg(const gql_field *f, const char *name);
const gql_input_value *gql_directive_arg(const gql_directive *d, const char *name);
const gql_input_value *gql_type_input_field(const gql_type *t, const char *name);
const gql_enum_value *gql_type_enum_value(const gql_type *t, const char *name);
const char *gql_directive_location_name(gql_directive_location loc);

/* Possible concrete types of an abstract type (union members / interface implementations). */
gql_type *const *gql_schema_possible_types(const gql_schema *s, const gql_type *abstract,
                                           size_t *n);
bool gql_schema_is_possible_type(const gql_schema *s, const gql_type *abstract,
                                 const gql_type *object);
/* graphql-js schema.isSubType(): object/interface `maybe_sub` is a member/implementation of
 * abstract type `abstract` (interfaces implementing interfaces included). */
bool gql_schema_is_sub_type(const gql_schema *s, const gql_type *abstract,
                            const gql_type *maybe_sub);
/* graphql-js doTypesOverlap() for composite types. */
bool gql_schema_types_overlap(const gql_schema *s, const gql_type *a, const gql_type *b);

/* ---- type references ---- */
gql_type *gql_tref_named(const gql_tref *t); /* innermost named type; NULL for NULL */
const gql_tref *gql_tref_nullable(const gql_tref *t);
bool gql_tref_is_non_null(const gql_tref *t);
bool gql_type_is_input(const gql_type *t);  /* scalar, enum, input object */
bool gql_type_is_output(const gql_type *t); /* not input object */
bool gql_type_is_leaf(const gql_type *t);
bool gql_type_is_composite(const gql_type *t);
bool gql_type_is_abstract(const gql_type *t);
bool gql_tref_is_input(const gql_tref *t);
bool gql_tref_is_output(const gql_tref *t);
/* graphql-js isEqualType / isTypeSubTypeOf. */
bool gql_tref_equal(const gql_tref *a, const gql_tref *b);
bool gql_tref_is_sub_type(const gql_schema *s, const gql_tref *maybe_sub, const gql_tref *super);
/* Appends the type as graphql-js inspect() prints it, e.g. "[Int!]!". */
void gql_tref_print(gql_sb *sb, const gql_tref *t);
/* graphql-js typeFromAST(): a reference for a type AST node (NAMED_TYPE/LIST_TYPE/NON_NULL_TYPE)
 * allocated in `arena`; NULL when the named type is unknown or memory runs out. */
const gql_tref *gql_tref_from_ast(const gql_schema *s, const gql_node *type_ast, gql_arena *arena);

/* ---- input coercion ---- */

/* graphql-js leaf parseLiteral() used by validation: 0 when the literal is valid for the scalar
 * or enum type t, else -1 with *msg = NULL ("undefined": the caller words "Expected value of
 * type ...") or a malloc'd graphql-js message (e.g. "Int cannot represent non-integer value:
 * 1.5"). Custom scalars accept every literal. Used by validation and, through
 * gql_value_from_ast, by execution: both read literals the same way. */
int gql_leaf_parse_literal(const gql_type *t, const gql_node *value, bool hide_suggestions,
                           char **msg);

/* The one reading of a Float (or Int used as Float) literal's text: 0 and *out, or -1 when the
 * value is not a finite double (e.g. 1e400; the GraphQL spec's Float holds finite values only;
 * graphql-js 16 accepts it as Infinity, which JSON cannot carry). */
int gql_float_literal(const char *text, double *out);

/* graphql-js valueFromAST(): coerces a literal (variables taken from `vars`, a JSON object of
 * already coerced variable values, may be NULL) to JSON for input type t. Returns 0 and *out
 * (a new reference; json null for null), or -1 when the literal is invalid ("undefined"). */
int gql_value_from_ast(const gql_schema *s, const gql_tref *t, const gql_node *value,
                       const json_t *vars, json_t **out);

/* Not yet here (the executor's part): coerceInputValue()/getVariableValues() for JSON variables. */

/* The directive location (GQL_DL_*) of the node that carries a directive, given its parent node
 * `grand` when the node is an input value definition; -1 when directives are not allowed there.
 * sdl_build = 1 follows graphql-js's buildASTSchema (input fields of input object extensions are
 * INPUT_FIELD_DEFINITION; executable nodes are not SDL); 0 follows the KnownDirectives rule. */
int gql_directive_location_of(const gql_node *n, const gql_node *grand, bool sdl_build);

#endif
