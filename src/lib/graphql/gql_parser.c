/* gql_parser: see gql_parser.h. Mirrors graphql-js 16.x language/parser.js function by function
 * so that the same input fails at the same token with the same message.
 * Errors unwind with longjmp to gql_parse(): everything allocated lives in the document arena,
 * which gql_parse() frees, so there is nothing else to clean up on the way out. */
#include "lib/graphql/gql_parser.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/graphql/gql_lexer.h"

typedef struct parser {
    gql_lexer lx;
    gql_arena *a;
    err_t *e;
    gql_token tok;   /* current token */
    gql_token ahead; /* one token of lookahead, valid when has_ahead */
    int has_ahead;
    size_t last_end; /* end of the last consumed token */
    unsigned depth, max_depth;
    int spec_2021;
    jmp_buf jb;
} parser;

static _Noreturn void fail(parser *p) {
    longjmp(p->jb, 1);
}

static _Noreturn void oom(parser *p) {
    p->lx.err_offset = p->tok.start;
    p->lx.err_line = p->tok.line;
    p->lx.err_column = p->tok.column;
    err_set(p->e, 500, "out_of_memory", "", "Out of memory while parsing the document.");
    fail(p);
}

static _Noreturn void __attribute__((format(printf, 3, 4)))
error_at(parser *p, size_t offset, const char *fmt, ...) {
    char buf[sizeof(((err_t *)0)->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    gql_lex_error(&p->lx, p->e, offset, "%s", buf);
    fail(p);
}

/* ---- tokens ---- */

static void next_significant(parser *p, gql_token *t) {
    do {
        if (gql_lex_next(&p->lx, t, p->e)) fail(p);
    } while (t->kind == GQL_TOK_COMMENT);
}

static void advance(parser *p) {
    p->last_end = p->tok.end;
    if (p->has_ahead) {
        p->tok = p->ahead;
        p->has_ahead = 0;
        return;
    }
    if (p->tok.kind == GQL_TOK_EOF) return;
    next_significant(p, &p->tok);
}

static const gql_token *lookahead(parser *p) {
    if (p->tok.kind == GQL_TOK_EOF) return &p->tok;
    if (!p->has_ahead) {
        next_significant(p, &p->ahead);
        p->has_ahead = 1;
    }
    return &p->ahead;
}

static int is_punctuator(gql_token_kind k) {
    return k >= GQL_TOK_BANG && k <= GQL_TOK_BRACE_R;
}

/* graphql-js getTokenKindDesc */
static const char *kind_desc(gql_token_kind k, char *buf, size_t n) {
    if (is_punctuator(k))
        snprintf(buf, n, "\"%s\"", gql_lex_kind_name(k));
    else
        snprintf(buf, n, "%s", gql_lex_kind_name(k));
    return buf;
}

/* graphql-js getTokenDesc; long values are cut (at a character boundary) with "...". */
static const char *token_desc(const gql_token *t, char *buf, size_t n) {
    char kd[16];
    kind_desc(t->kind, kd, sizeof kd);
    if (!t->value) {
        snprintf(buf, n, "%s", kd);
        return buf;
    }
    size_t vl = t->value_len, cut = 200;
    const char *more = "";
    if (vl > cut) {
        vl = cut;
        while (vl > 0 && ((unsigned char)t->value[vl] & 0xC0) == 0x80)
            vl--;
        more = "...";
    }
    snprintf(buf, n, "%s \"%.*s%s\"", kd, (int)vl, t->value, more);
    return buf;
}

static int peek(parser *p, gql_token_kind k) {
    return p->tok.kind == k;
}

static int token_is(const gql_token *t, const char *value) {
    size_t n = strlen(value);
    return t->value && t->value_len == n && memcmp(t->value, value, n) == 0;
}

static int name_is(const gql_token *t, const char *kw) {
    return t->kind == GQL_TOK_NAME && token_is(t, kw);
}

static _Noreturn void unexpected(parser *p, const gql_token *t) {
    char d[320];
    if (!t) t = &p->tok;
    error_at(p, t->start, "Unexpected %s.", token_desc(t, d, sizeof d));
}

static gql_token expect(parser *p, gql_token_kind k) {
    gql_token t = p->tok;
    if (t.kind == k) {
        advance(p);
        return t;
    }
    char kd[16], d[320];
    error_at(p, t.start, "Expected %s, found %s.", kind_desc(k, kd, sizeof kd),
             token_desc(&t, d, sizeof d));
}

static int expect_optional(parser *p, gql_token_kind k) {
    if (p->tok.kind != k) return 0;
    advance(p);
    return 1;
}

static void expect_keyword(parser *p, const char *kw) {
    if (name_is(&p->tok, kw)) {
        advance(p);
        return;
    }
    char d[320];
    error_at(p, p->tok.start, "Expected \"%s\", found %s.", kw, token_desc(&p->tok, d, sizeof d));
}

static int expect_optional_keyword(parser *p, const char *kw) {
    if (!name_is(&p->tok, kw)) return 0;
    advance(p);
    return 1;
}

static void enter(parser *p, const gql_token *t) {
    if (++p->depth > p->max_depth)
        error_at(p, t->start, "Document is nested more than %u levels deep. Parsing aborted.",
                 p->max_depth);
}

static void leave(parser *p) {
    p->depth--;
}

/* ---- nodes and lists ---- */

static gql_node *mk(parser *p, gql_kind k, const gql_token *start) {
    gql_node *n = gql_node_new(p->a, k);
    if (!n) oom(p);
    n->loc.line = start->line;
    n->loc.column = start->column;
    n->loc.start = start->start;
    n->loc.end = p->last_end;
    return n;
}

typedef struct vec {
    gql_list l;
    size_t cap;
} vec;

static void push(parser *p, vec *v, gql_node *n) {
    if (v->l.count == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        gql_node **items = gql_arena_alloc(p->a, cap * sizeof *items);
        if (!items) oom(p);
        if (v->l.count) memcpy(items, v->l.items, v->l.count * sizeof *items);
        v->l.items = items;
        v->cap = cap;
    }
    v->l.items[v->l.count++] = n;
}

typedef gql_node *(*parse_fn)(parser *p, int arg);

/* graphql-js any(): open, zero or more items, close */
static gql_list any(parser *p, gql_token_kind open, parse_fn fn, int arg, gql_token_kind close) {
    vec v = {0};
    expect(p, open);
    while (!expect_optional(p, close))
        push(p, &v, fn(p, arg));
    return v.l;
}

/* graphql-js many(): open, one or more items, close */
static gql_list many(parser *p, gql_token_kind open, parse_fn fn, int arg, gql_token_kind close) {
    vec v = {0};
    expect(p, open);
    do
        push(p, &v, fn(p, arg));
    while (!expect_optional(p, close));
    return v.l;
}

/* graphql-js optionalMany(): nothing, or open, one or more items, close */
static gql_list optional_many(parser *p, gql_token_kind open, parse_fn fn, int arg,
                              gql_token_kind close) {
    vec v = {0};
    if (expect_optional(p, open)) {
        do
            push(p, &v, fn(p, arg));
        while (!expect_optional(p, close));
    }
    return v.l;
}

/* graphql-js delimitedMany(): optional leading delimiter, items separated by it */
static gql_list delimited_many(parser *p, gql_token_kind delim, parse_fn fn, int arg) {
    vec v = {0};
    expect_optional(p, delim);
    do
        push(p, &v, fn(p, arg));
    while (expect_optional(p, delim));
    return v.l;
}

/* ---- names, values, types ---- */

static gql_node *parse_name(parser *p, int unused) {
    (void)unused;
    gql_token t = expect(p, GQL_TOK_NAME);
    gql_node *n = mk(p, GQL_NAME, &t);
    n->u.text.value = gql_arena_strndup(p->a, t.value, t.value_len);
    if (!n->u.text.value) oom(p);
    n->u.text.len = t.value_len;
    return n;
}

static gql_node *parse_named_type(parser *p, int unused) {
    (void)unused;
    gql_token start = p->tok;
    gql_node *name = parse_name(p, 0);
    gql_node *n = mk(p, GQL_NAMED_TYPE, &start);
    n->u.named.name = name;
    return n;
}

static gql_node *parse_type_reference(parser *p) {
    gql_token start = p->tok;
    gql_node *type;
    if (expect_optional(p, GQL_TOK_BRACKET_L)) {
        enter(p, &start);
        gql_node *inner = parse_type_reference(p);
        expect(p, GQL_TOK_BRACKET_R);
        leave(p);
        type = mk(p, GQL_LIST_TYPE, &start);
        type->u.wrapped.type = inner;
    } else {
        type = parse_named_type(p, 0);
    }
    if (expect_optional(p, GQL_TOK_BANG)) {
        gql_node *nn = mk(p, GQL_NON_NULL_TYPE, &start);
        nn->u.wrapped.type = type;
        return nn;
    }
    return type;
}

static gql_node *parse_variable(parser *p) {
    gql_token start = p->tok;
    expect(p, GQL_TOK_DOLLAR);
    gql_node *name = parse_name(p, 0);
    gql_node *n = mk(p, GQL_VARIABLE, &start);
    n->u.named.name = name;
    return n;
}

static gql_node *parse_string_literal(parser *p) {
    gql_token t = p->tok;
    advance(p);
    gql_node *n = mk(p, GQL_STRING_VALUE, &t);
    n->u.text.value = t.value; /* already decoded into the document arena by the lexer */
    n->u.text.len = t.value_len;
    n->u.text.block = t.kind == GQL_TOK_BLOCK_STRING;
    return n;
}

static gql_node *parse_value(parser *p, int is_const);

static gql_node *parse_object_field(parser *p, int is_const) {
    gql_token start = p->tok;
    gql_node *name = parse_name(p, 0);
    expect(p, GQL_TOK_COLON);
    gql_node *value = parse_value(p, is_const);
    gql_node *n = mk(p, GQL_OBJECT_FIELD, &start);
    n->u.argument.name = name;
    n->u.argument.value = value;
    return n;
}

static gql_node *parse_value(parser *p, int is_const) {
    gql_token t = p->tok;
    gql_node *n;
    switch (t.kind) {
    case GQL_TOK_BRACKET_L: {
        enter(p, &t);
        gql_list values = any(p, GQL_TOK_BRACKET_L, parse_value, is_const, GQL_TOK_BRACKET_R);
        leave(p);
        n = mk(p, GQL_LIST_VALUE, &t);
        n->u.list.values = values;
        return n;
    }
    case GQL_TOK_BRACE_L: {
        enter(p, &t);
        gql_list fields = any(p, GQL_TOK_BRACE_L, parse_object_field, is_const, GQL_TOK_BRACE_R);
        leave(p);
        n = mk(p, GQL_OBJECT_VALUE, &t);
        n->u.object.fields = fields;
        return n;
    }
    case GQL_TOK_INT:
    case GQL_TOK_FLOAT:
    case GQL_TOK_NAME:
        advance(p);
        if (t.kind == GQL_TOK_NAME && (token_is(&t, "true") || token_is(&t, "false"))) {
            n = mk(p, GQL_BOOLEAN_VALUE, &t);
            n->u.boolean = token_is(&t, "true");
            return n;
        }
        if (t.kind == GQL_TOK_NAME && token_is(&t, "null")) return mk(p, GQL_NULL_VALUE, &t);
        n = mk(p,
               t.kind == GQL_TOK_INT     ? GQL_INT_VALUE
               : t.kind == GQL_TOK_FLOAT ? GQL_FLOAT_VALUE
                                         : GQL_ENUM_VALUE,
               &t);
        n->u.text.value = gql_arena_strndup(p->a, t.value, t.value_len);
        if (!n->u.text.value) oom(p);
        n->u.text.len = t.value_len;
        return n;
    case GQL_TOK_STRING:
    case GQL_TOK_BLOCK_STRING:
        return parse_string_literal(p);
    case GQL_TOK_DOLLAR:
        if (is_const) {
            expect(p, GQL_TOK_DOLLAR);
            if (p->tok.kind == GQL_TOK_NAME)
                error_at(p, t.start, "Unexpected variable \"$%.*s\" in constant value.",
                         (int)p->tok.value_len, p->tok.value);
            unexpected(p, &t);
        }
        return parse_variable(p);
    default:
        unexpected(p, NULL);
    }
}

static gql_node *parse_argument(parser *p, int is_const) {
    gql_token start = p->tok;
    gql_node *name = parse_name(p, 0);
    expect(p, GQL_TOK_COLON);
    gql_node *value = parse_value(p, is_const);
    gql_node *n = mk(p, GQL_ARGUMENT, &start);
    n->u.argument.name = name;
    n->u.argument.value = value;
    return n;
}

static gql_list parse_arguments(parser *p, int is_const) {
    return optional_many(p, GQL_TOK_PAREN_L, parse_argument, is_const, GQL_TOK_PAREN_R);
}

static gql_node *parse_directive(parser *p, int is_const) {
    gql_token start = p->tok;
    expect(p, GQL_TOK_AT);
    gql_node *name = parse_name(p, 0);
    gql_list args = parse_arguments(p, is_const);
    gql_node *n = mk(p, GQL_DIRECTIVE, &start);
    n->u.directive.name = name;
    n->u.directive.arguments = args;
    return n;
}

static gql_list parse_directives(parser *p, int is_const) {
    vec v = {0};
    while (peek(p, GQL_TOK_AT))
        push(p, &v, parse_directive(p, is_const));
    return v.l;
}

/* ---- executable definitions ---- */

static int peek_description(parser *p) {
    return peek(p, GQL_TOK_STRING) || peek(p, GQL_TOK_BLOCK_STRING);
}

static gql_node *parse_description(parser *p) {
    return peek_description(p) ? parse_string_literal(p) : NULL;
}

static gql_node *parse_selection_set(parser *p, int unused);

static gql_operation parse_operation_type(parser *p) {
    gql_token t = expect(p, GQL_TOK_NAME);
    if (token_is(&t, "query")) return GQL_OP_QUERY;
    if (token_is(&t, "mutation")) return GQL_OP_MUTATION;
    if (token_is(&t, "subscription")) return GQL_OP_SUBSCRIPTION;
    unexpected(p, &t);
}

static gql_node *parse_variable_definition(parser *p, int unused) {
    (void)unused;
    gql_token start = p->tok;
    gql_node *desc = p->spec_2021 ? NULL : parse_description(p);
    gql_node *var = parse_variable(p);
    expect(p, GQL_TOK_COLON);
    gql_node *type = parse_type_reference(p);
    gql_node *def = expect_optional(p, GQL_TOK_EQUALS) ? parse_value(p, 1) : NULL;
    gql_list dirs = parse_directives(p, 1);
    gql_node *n = mk(p, GQL_VARIABLE_DEFINITION, &start);
    n->u.variable_definition.description = desc;
    n->u.variable_definition.variable = var;
    n->u.variable_definition.type = type;
    n->u.variable_definition.default_value = def;
    n->u.variable_definition.directives = dirs;
    return n;
}

static gql_node *parse_operation_definition(parser *p) {
    gql_token start = p->tok;
    gql_node *n;
    if (peek(p, GQL_TOK_BRACE_L)) {
        gql_node *sel = parse_selection_set(p, 0);
        n = mk(p, GQL_OPERATION_DEFINITION, &start);
        n->u.operation.operation = GQL_OP_QUERY;
        n->u.operation.selection_set = sel;
        return n;
    }
    gql_node *desc = p->spec_2021 ? NULL : parse_description(p);
    gql_operation op = parse_operation_type(p);
    gql_node *name = peek(p, GQL_TOK_NAME) ? parse_name(p, 0) : NULL;
    gql_list vars =
        optional_many(p, GQL_TOK_PAREN_L, parse_variable_definition, 0, GQL_TOK_PAREN_R);
    gql_list dirs = parse_directives(p, 0);
    gql_node *sel = parse_selection_set(p, 0);
    n = mk(p, GQL_OPERATION_DEFINITION, &start);
    n->u.operation.operation = op;
    n->u.operation.description = desc;
    n->u.operation.name = name;
    n->u.operation.variable_definitions = vars;
    n->u.operation.directives = dirs;
    n->u.operation.selection_set = sel;
    return n;
}

static gql_node *parse_fragment_name(parser *p) {
    if (token_is(&p->tok, "on")) unexpected(p, NULL);
    return parse_name(p, 0);
}

static gql_node *parse_fragment(parser *p) {
    gql_token start = p->tok;
    expect(p, GQL_TOK_SPREAD);
    int has_tc = expect_optional_keyword(p, "on");
    gql_node *n;
    if (!has_tc && peek(p, GQL_TOK_NAME)) {
        gql_node *name = parse_fragment_name(p);
        gql_list dirs = parse_directives(p, 0);
        n = mk(p, GQL_FRAGMENT_SPREAD, &start);
        n->u.fragment_spread.name = name;
        n->u.fragment_spread.directives = dirs;
        return n;
    }
    gql_node *tc = has_tc ? parse_named_type(p, 0) : NULL;
    gql_list dirs = parse_directives(p, 0);
    gql_node *sel = parse_selection_set(p, 0);
    n = mk(p, GQL_INLINE_FRAGMENT, &start);
    n->u.inline_fragment.type_condition = tc;
    n->u.inline_fragment.directives = dirs;
    n->u.inline_fragment.selection_set = sel;
    return n;
}

static gql_node *parse_field(parser *p) {
    gql_token start = p->tok;
    gql_node *alias = NULL, *name = parse_name(p, 0);
    if (expect_optional(p, GQL_TOK_COLON)) {
        alias = name;
        name = parse_name(p, 0);
    }
    gql_list args = parse_arguments(p, 0);
    gql_list dirs = parse_directives(p, 0);
    gql_node *sel = peek(p, GQL_TOK_BRACE_L) ? parse_selection_set(p, 0) : NULL;
    gql_node *n = mk(p, GQL_FIELD, &start);
    n->u.field.alias = alias;
    n->u.field.name = name;
    n->u.field.arguments = args;
    n->u.field.directives = dirs;
    n->u.field.selection_set = sel;
    return n;
}

static gql_node *parse_selection(parser *p, int unused) {
    (void)unused;
    return peek(p, GQL_TOK_SPREAD) ? parse_fragment(p) : parse_field(p);
}

static gql_node *parse_selection_set(parser *p, int unused) {
    (void)unused;
    gql_token start = p->tok;
    enter(p, &start);
    gql_list sels = many(p, GQL_TOK_BRACE_L, parse_selection, 0, GQL_TOK_BRACE_R);
    leave(p);
    gql_node *n = mk(p, GQL_SELECTION_SET, &start);
    n->u.selection_set.selections = sels;
    return n;
}

static gql_node *parse_fragment_definition(parser *p) {
    gql_token start = p->tok;
    gql_node *desc = p->spec_2021 ? NULL : parse_description(p);
    expect_keyword(p, "fragment");
    gql_node *name = parse_fragment_name(p);
    expect_keyword(p, "on");
    gql_node *tc = parse_named_type(p, 0);
    gql_list dirs = parse_directives(p, 0);
    gql_node *sel = parse_selection_set(p, 0);
    gql_node *n = mk(p, GQL_FRAGMENT_DEFINITION, &start);
    n->u.fragment.description = desc;
    n->u.fragment.name = name;
    n->u.fragment.type_condition = tc;
    n->u.fragment.directives = dirs;
    n->u.fragment.selection_set = sel;
    return n;
}

/* ---- type system definitions ---- */

static gql_node *parse_operation_type_definition(parser *p, int unused) {
    (void)unused;
    gql_token start = p->tok;
    gql_operation op = parse_operation_type(p);
    expect(p, GQL_TOK_COLON);
    gql_node *type = parse_named_type(p, 0);
    gql_node *n = mk(p, GQL_OPERATION_TYPE_DEFINITION, &start);
    n->u.operation_type.operation = op;
    n->u.operation_type.type = type;
    return n;
}

static gql_node *parse_schema_definition(parser *p) {
    gql_token start = p->tok;
    gql_node *desc = parse_description(p);
    expect_keyword(p, "schema");
    gql_list dirs = parse_directives(p, 1);
    gql_list ops = many(p, GQL_TOK_BRACE_L, parse_operation_type_definition, 0, GQL_TOK_BRACE_R);
    gql_node *n = mk(p, GQL_SCHEMA_DEFINITION, &start);
    n->u.schema.description = desc;
    n->u.schema.directives = dirs;
    n->u.schema.operation_types = ops;
    return n;
}

static gql_node *parse_input_value_def(parser *p, int unused) {
    (void)unused;
    gql_token start = p->tok;
    gql_node *desc = parse_description(p);
    gql_node *name = parse_name(p, 0);
    expect(p, GQL_TOK_COLON);
    gql_node *type = parse_type_reference(p);
    gql_node *def = expect_optional(p, GQL_TOK_EQUALS) ? parse_value(p, 1) : NULL;
    gql_list dirs = parse_directives(p, 1);
    gql_node *n = mk(p, GQL_INPUT_VALUE_DEFINITION, &start);
    n->u.field_def.description = desc;
    n->u.field_def.name = name;
    n->u.field_def.type = type;
    n->u.field_def.default_value = def;
    n->u.field_def.directives = dirs;
    return n;
}

static gql_list parse_argument_defs(parser *p) {
    return optional_many(p, GQL_TOK_PAREN_L, parse_input_value_def, 0, GQL_TOK_PAREN_R);
}

static gql_node *parse_field_definition(parser *p, int unused) {
    (void)unused;
    gql_token start = p->tok;
    gql_node *desc = parse_description(p);
    gql_node *name = parse_name(p, 0);
    gql_list args = parse_argument_defs(p);
    expect(p, GQL_TOK_COLON);
    gql_node *type = parse_type_reference(p);
    gql_list dirs = parse_directives(p, 1);
    gql_node *n = mk(p, GQL_FIELD_DEFINITION, &start);
    n->u.field_def.description = desc;
    n->u.field_def.name = name;
    n->u.field_def.arguments = args;
    n->u.field_def.type = type;
    n->u.field_def.directives = dirs;
    return n;
}

static gql_node *parse_enum_value_definition(parser *p, int unused) {
    (void)unused;
    gql_token start = p->tok;
    gql_node *desc = parse_description(p);
    if (token_is(&p->tok, "true") || token_is(&p->tok, "false") || token_is(&p->tok, "null")) {
        char d[320];
        error_at(p, p->tok.start, "%s is reserved and cannot be used for an enum value.",
                 token_desc(&p->tok, d, sizeof d));
    }
    gql_node *name = parse_name(p, 0);
    gql_list dirs = parse_directives(p, 1);
    gql_node *n = mk(p, GQL_ENUM_VALUE_DEFINITION, &start);
    n->u.enum_value_def.description = desc;
    n->u.enum_value_def.name = name;
    n->u.enum_value_def.directives = dirs;
    return n;
}

/* scalar, type, interface, union, enum, input: definitions (ext == 0) and extensions */
static gql_node *parse_type_def(parser *p, gql_kind kind, const char *keyword, int ext) {
    gql_token start = p->tok;
    gql_node *desc = NULL;
    if (ext)
        expect_keyword(p, "extend");
    else
        desc = parse_description(p);
    expect_keyword(p, keyword);
    gql_node *name = parse_name(p, 0);
    gql_list ifaces = {0}, fields = {0}, values = {0}, types = {0}, dirs;
    int has_fields = kind == GQL_OBJECT_TYPE_DEFINITION || kind == GQL_OBJECT_TYPE_EXTENSION ||
                     kind == GQL_INTERFACE_TYPE_DEFINITION || kind == GQL_INTERFACE_TYPE_EXTENSION;
    if (has_fields && expect_optional_keyword(p, "implements"))
        ifaces = delimited_many(p, GQL_TOK_AMP, parse_named_type, 0);
    dirs = parse_directives(p, 1);
    if (has_fields)
        fields = optional_many(p, GQL_TOK_BRACE_L, parse_field_definition, 0, GQL_TOK_BRACE_R);
    else if (kind == GQL_INPUT_OBJECT_TYPE_DEFINITION || kind == GQL_INPUT_OBJECT_TYPE_EXTENSION)
        fields = optional_many(p, GQL_TOK_BRACE_L, parse_input_value_def, 0, GQL_TOK_BRACE_R);
    else if (kind == GQL_ENUM_TYPE_DEFINITION || kind == GQL_ENUM_TYPE_EXTENSION)
        values = optional_many(p, GQL_TOK_BRACE_L, parse_enum_value_definition, 0, GQL_TOK_BRACE_R);
    else if ((kind == GQL_UNION_TYPE_DEFINITION || kind == GQL_UNION_TYPE_EXTENSION) &&
             expect_optional(p, GQL_TOK_EQUALS))
        types = delimited_many(p, GQL_TOK_PIPE, parse_named_type, 0);
    if (ext && !ifaces.count && !dirs.count && !fields.count && !values.count && !types.count)
        unexpected(p, NULL);
    gql_node *n = mk(p, kind, &start);
    n->u.type_def.description = desc;
    n->u.type_def.name = name;
    n->u.type_def.interfaces = ifaces;
    n->u.type_def.directives = dirs;
    n->u.type_def.fields = fields;
    n->u.type_def.values = values;
    n->u.type_def.types = types;
    return n;
}

static const char *const directive_locations[] = {
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
};

static gql_node *parse_directive_location(parser *p, int unused) {
    (void)unused;
    gql_token start = p->tok;
    gql_node *name = parse_name(p, 0);
    for (size_t i = 0; i < sizeof directive_locations / sizeof directive_locations[0]; i++)
        if (strcmp(name->u.text.value, directive_locations[i]) == 0) return name;
    unexpected(p, &start);
}

static gql_node *parse_directive_definition(parser *p) {
    gql_token start = p->tok;
    gql_node *desc = parse_description(p);
    expect_keyword(p, "directive");
    expect(p, GQL_TOK_AT);
    gql_node *name = parse_name(p, 0);
    gql_list args = parse_argument_defs(p);
    int repeatable = expect_optional_keyword(p, "repeatable");
    expect_keyword(p, "on");
    gql_list locs = delimited_many(p, GQL_TOK_PIPE, parse_directive_location, 0);
    gql_node *n = mk(p, GQL_DIRECTIVE_DEFINITION, &start);
    n->u.directive_def.description = desc;
    n->u.directive_def.name = name;
    n->u.directive_def.arguments = args;
    n->u.directive_def.repeatable = repeatable != 0;
    n->u.directive_def.locations = locs;
    return n;
}

static gql_node *parse_schema_extension(parser *p) {
    gql_token start = p->tok;
    expect_keyword(p, "extend");
    expect_keyword(p, "schema");
    gql_list dirs = parse_directives(p, 1);
    gql_list ops =
        optional_many(p, GQL_TOK_BRACE_L, parse_operation_type_definition, 0, GQL_TOK_BRACE_R);
    if (!dirs.count && !ops.count) unexpected(p, NULL);
    gql_node *n = mk(p, GQL_SCHEMA_EXTENSION, &start);
    n->u.schema.directives = dirs;
    n->u.schema.operation_types = ops;
    return n;
}

static const struct {
    const char *keyword;
    gql_kind def, ext;
} type_keywords[] = {
    {"scalar", GQL_SCALAR_TYPE_DEFINITION, GQL_SCALAR_TYPE_EXTENSION},
    {"type", GQL_OBJECT_TYPE_DEFINITION, GQL_OBJECT_TYPE_EXTENSION},
    {"interface", GQL_INTERFACE_TYPE_DEFINITION, GQL_INTERFACE_TYPE_EXTENSION},
    {"union", GQL_UNION_TYPE_DEFINITION, GQL_UNION_TYPE_EXTENSION},
    {"enum", GQL_ENUM_TYPE_DEFINITION, GQL_ENUM_TYPE_EXTENSION},
    {"input", GQL_INPUT_OBJECT_TYPE_DEFINITION, GQL_INPUT_OBJECT_TYPE_EXTENSION},
};
#define N_TYPE_KEYWORDS (sizeof type_keywords / sizeof type_keywords[0])

static gql_node *parse_type_system_extension(parser *p) {
    gql_token kw = *lookahead(p);
    if (kw.kind == GQL_TOK_NAME) {
        if (token_is(&kw, "schema")) return parse_schema_extension(p);
        for (size_t i = 0; i < N_TYPE_KEYWORDS; i++)
            if (token_is(&kw, type_keywords[i].keyword))
                return parse_type_def(p, type_keywords[i].ext, type_keywords[i].keyword, 1);
    }
    unexpected(p, &kw);
}

static gql_node *parse_definition(parser *p, int unused) {
    (void)unused;
    if (peek(p, GQL_TOK_BRACE_L)) return parse_operation_definition(p);
    int has_desc = peek_description(p);
    gql_token kw = has_desc ? *lookahead(p) : p->tok;
    if (has_desc && kw.kind == GQL_TOK_BRACE_L && !p->spec_2021)
        error_at(p, p->tok.start,
                 "Unexpected description, descriptions are not supported on shorthand queries.");
    if (kw.kind == GQL_TOK_NAME) {
        if (token_is(&kw, "schema")) return parse_schema_definition(p);
        for (size_t i = 0; i < N_TYPE_KEYWORDS; i++)
            if (token_is(&kw, type_keywords[i].keyword))
                return parse_type_def(p, type_keywords[i].def, type_keywords[i].keyword, 0);
        if (token_is(&kw, "directive")) return parse_directive_definition(p);
        if (has_desc && p->spec_2021)
            error_at(p, p->tok.start,
                     "Unexpected description, descriptions are supported only on type "
                     "definitions.");
        if (token_is(&kw, "query") || token_is(&kw, "mutation") || token_is(&kw, "subscription"))
            return parse_operation_definition(p);
        if (token_is(&kw, "fragment")) return parse_fragment_definition(p);
        if (has_desc)
            error_at(p, p->tok.start,
                     "Unexpected description, only GraphQL definitions support descriptions.");
        if (token_is(&kw, "extend")) return parse_type_system_extension(p);
    }
    unexpected(p, &kw);
}

/* ---- entry ---- */

static void run(parser *p, gql_document *doc);

static int guarded(parser *p, gql_document *doc, const gql_lex_opts *lo, const char *src,
                   size_t len) {
    if (setjmp(p->jb) != 0) return -1;
    if (gql_lex_init(&p->lx, src, len, lo, p->a, p->e)) return -1;
    run(p, doc);
    return 0;
}

static void run(parser *p, gql_document *doc) {
    gql_token start = p->tok; /* SOF: line 0, column 0, as graphql-js */
    expect(p, GQL_TOK_SOF);
    vec v = {0};
    do
        push(p, &v, parse_definition(p, 0));
    while (!expect_optional(p, GQL_TOK_EOF));
    doc->root = mk(p, GQL_DOCUMENT, &start);
    doc->root->u.document.definitions = v.l;
    doc->token_count = p->lx.tokens;
}

gql_document *gql_parse(const char *src, size_t len, const gql_parse_opts *opts, gql_loc *err_loc,
                        err_t *e) {
    gql_document *doc = calloc(1, sizeof *doc);
    parser *p = calloc(1, sizeof *p);
    if (!doc || !p) {
        free(doc);
        free(p);
        if (err_loc) memset(err_loc, 0, sizeof *err_loc);
        err_set(e, 500, "out_of_memory", "", "Out of memory while parsing the document.");
        return NULL;
    }
    gql_arena_init(&doc->arena, 0);
    p->a = &doc->arena;
    p->e = e;
    unsigned md = opts && opts->max_depth ? opts->max_depth : GQL_PARSE_DEFAULT_MAX_DEPTH;
    p->max_depth = md > GQL_PARSE_HARD_MAX_DEPTH ? GQL_PARSE_HARD_MAX_DEPTH : md;
    p->spec_2021 = opts ? opts->spec_2021 : 0;
    gql_lex_opts lo = {0};
    if (opts) {
        lo.max_bytes = opts->max_bytes;
        lo.max_tokens = opts->max_tokens;
        lo.spec_2021 = opts->spec_2021;
    }
    p->tok.kind = GQL_TOK_SOF;
    if (guarded(p, doc, &lo, src, len)) goto fail;
    free(p);
    if (err_loc) memset(err_loc, 0, sizeof *err_loc);
    return doc;
fail:
    if (err_loc) {
        memset(err_loc, 0, sizeof *err_loc);
        err_loc->line = p->lx.err_line;
        err_loc->column = p->lx.err_column;
        err_loc->start = err_loc->end = p->lx.err_offset;
    }
    free(p);
    gql_document_free(doc);
    return NULL;
}
