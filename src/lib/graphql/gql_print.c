/* gql_print: see gql_print.h. gql_print() ports graphql-js 16.x language/printer.js (its
 * PrintBuffer rope: parts with indent/dedent marks, lengths in UTF-16 code units),
 * printString.js and blockString.js printBlockString(). Out of memory unwinds with longjmp to
 * the entry point, which frees the scratch arena and the output buffer. */
#include "lib/graphql/gql_print.h"

#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

typedef struct pb pb;
struct pb {
    const char *s; /* text of this part */
    size_t n;
    pb *next, *tail;
    size_t length;   /* UTF-16 units of the whole buffer (valid on its head) */
    size_t newlines; /* '\n' count of the whole buffer (valid on its head) */
    bool is_block, indent_before, dedent_after;
};

typedef struct printer {
    gql_arena a;
    sbuf out;
    jmp_buf jb;
    bool query_keyword; /* print the next operation with `query` even where shorthand would do */
} printer;

static _Noreturn void oom(printer *p) {
    longjmp(p->jb, 1);
}

static void sb_put(printer *p, const char *s, size_t n) {
    if (p->out.n + n + 1 > p->out.cap) {
        size_t cap = p->out.cap ? p->out.cap : 256;
        while (cap < p->out.n + n + 1)
            cap *= 2;
        char *ns = realloc(p->out.s, cap);
        if (!ns) oom(p);
        p->out.s = ns;
        p->out.cap = cap;
    }
    if (n) memcpy(p->out.s + p->out.n, s, n);
    p->out.n += n;
    p->out.s[p->out.n] = '\0';
}

static void sb_str(printer *p, const char *s) {
    sb_put(p, s, strlen(s));
}

static size_t utf16_len(const char *s, size_t n) {
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if ((b & 0xC0) != 0x80) u += b >= 0xF0 ? 2 : 1;
    }
    return u;
}

/* ---- the PrintBuffer rope; NULL is graphql-js's EMPTY ---- */

static size_t len(const pb *b) {
    return b ? b->length : 0;
}

static pb *mkn(printer *p, const char *s, size_t n, bool is_block) {
    if (n == 0) return NULL;
    pb *b = gql_arena_alloc(&p->a, sizeof *b);
    if (!b) oom(p);
    b->s = s;
    b->n = n;
    b->tail = b;
    b->length = utf16_len(s, n);
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n') b->newlines++;
    b->is_block = is_block;
    return b;
}

static pb *S(printer *p, const char *s) {
    return mkn(p, s, strlen(s), false);
}

static pb *append(pb *a, pb *b) {
    if (len(b) == 0) return a;
    a->tail->next = b;
    a->tail = b->tail;
    a->length += b->length;
    a->newlines += b->newlines;
    return a;
}

static pb *indent(pb *b) {
    if (len(b) == 0) return b;
    b->indent_before = true;
    b->tail->dedent_after = true;
    b->length += 2 * (b->newlines + 1);
    return b;
}

static pb *join(printer *p, pb **items, size_t n, const char *sep) {
    pb *r = NULL;
    for (size_t i = 0; i < n; i++) {
        if (len(items[i]) == 0) continue;
        if (len(r) == 0) {
            r = items[i];
        } else {
            if (*sep) append(r, S(p, sep));
            append(r, items[i]);
        }
    }
    return r;
}

#define JOIN(p, sep, ...)                                                                          \
    join((p), (pb *[]){__VA_ARGS__}, sizeof((pb *[]){__VA_ARGS__}) / sizeof(pb *), (sep))

static pb *wrap(printer *p, const char *start, pb *b, const char *end) {
    if (len(b) == 0) return NULL;
    if (!*start) return append(b, S(p, end));
    return append(append(S(p, start), b), S(p, end));
}

static pb *block(printer *p, pb **items, size_t n) {
    return wrap(p, "{\n", indent(join(p, items, n, "\n")), "\n}");
}

static bool has_multiline(pb **items, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (items[i] && items[i]->newlines) return true;
    return false;
}

static void render(printer *p, const pb *b) {
    size_t depth = 0;
    while (b) {
        if (b->indent_before) depth++;
        if (b->indent_before) sb_put(p, "  ", 2);
        const char *s = b->s, *end = b->s + b->n;
        for (;;) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            if (!nl) {
                sb_put(p, s, (size_t)(end - s));
                break;
            }
            sb_put(p, s, (size_t)(nl - s));
            sb_put(p, "\n", 1);
            for (size_t i = 0; i < depth; i++)
                sb_put(p, "  ", 2);
            s = nl + 1;
        }
        if (b->dedent_after) depth--;
        b = b->next;
    }
}

/* ---- strings ---- */

static pb *print_string(printer *p, const char *v, size_t n) {
    /* worst case every byte becomes \u00XX */
    if (n > (SIZE_MAX - 3) / 6) oom(p);
    char *o = gql_arena_alloc(&p->a, n * 6 + 3);
    if (!o) oom(p);
    size_t w = 0;
    o[w++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        unsigned code = c < 0x80 ? c : 0x100; /* 0x100: copied as is */
        size_t skip = 0;
        if (c == 0xC2 && i + 1 < n && (unsigned char)v[i + 1] >= 0x80 &&
            (unsigned char)v[i + 1] <= 0x9F) {
            code = (unsigned char)v[i + 1]; /* U+0080..U+009F */
            skip = 1;
        }
        if (code < 0x20 || code == 0x7F || (code >= 0x80 && code <= 0x9F)) {
            const char *e = code == 0x08   ? "\\b"
                            : code == 0x09 ? "\\t"
                            : code == 0x0A ? "\\n"
                            : code == 0x0C ? "\\f"
                            : code == 0x0D ? "\\r"
                                           : NULL;
            if (e) {
                memcpy(o + w, e, 2);
                w += 2;
            } else {
                w += (size_t)snprintf(o + w, 7, "\\u%04X", code);
            }
            i += skip;
        } else if (c == '"' || c == '\\') {
            o[w++] = '\\';
            o[w++] = (char)c;
        } else {
            o[w++] = (char)c;
        }
    }
    o[w++] = '"';
    return mkn(p, o, w, false);
}

static bool is_ws(char c) {
    return c == ' ' || c == '\t';
}

static pb *print_block_string(printer *p, const char *v, size_t n) {
    /* escaped = value with """ -> \""" */
    if (n > (SIZE_MAX - 16) / 2) oom(p);
    char *esc = gql_arena_alloc(&p->a, n * 2 + 16);
    if (!esc) oom(p);
    size_t en = 0;
    for (size_t i = 0; i < n;) {
        if (i + 2 < n && v[i] == '"' && v[i + 1] == '"' && v[i + 2] == '"') {
            memcpy(esc + en, "\\\"\"\"", 4);
            en += 4;
            i += 3;
        } else {
            esc[en++] = v[i++];
        }
    }
    /* lines of escaped split on \r\n, \n, \r */
    size_t nlines = 1;
    bool force_leading = true;
    for (size_t i = 0; i < en; i++) {
        if (esc[i] != '\n' && esc[i] != '\r') continue;
        if (esc[i] == '\r' && i + 1 < en && esc[i + 1] == '\n') i++;
        nlines++;
        /* the line after this terminator must be empty or start with white space */
        if (i + 1 < en && esc[i + 1] != '\n' && esc[i + 1] != '\r' && !is_ws(esc[i + 1]))
            force_leading = false;
    }
    bool single = nlines == 1;
    if (single) force_leading = false;
    bool trailing_triple = en >= 4 && memcmp(esc + en - 4, "\\\"\"\"", 4) == 0;
    bool trailing_quote = n > 0 && v[n - 1] == '"' && !trailing_triple;
    bool trailing_slash = n > 0 && v[n - 1] == '\\';
    bool force_trailing = trailing_quote || trailing_slash;
    bool multi =
        !single || utf16_len(v, n) > 70 || force_trailing || force_leading || trailing_triple;
    bool skip_leading = single && n > 0 && is_ws(v[0]);
    char *o = gql_arena_alloc(&p->a, en + 9);
    if (!o) oom(p);
    size_t w = 0;
    memcpy(o, "\"\"\"", 3);
    w = 3;
    if ((multi && !skip_leading) || force_leading) o[w++] = '\n';
    memcpy(o + w, esc, en);
    w += en;
    if (multi || force_trailing) o[w++] = '\n';
    memcpy(o + w, "\"\"\"", 3);
    w += 3;
    return mkn(p, o, w, true);
}

/* ---- the reducer ---- */

static pb *pr(printer *p, const gql_node *n);

/* 1 when a definition could take a `{ ... }` body but has none, so a following `{` would be
 * read as its body. */
static bool lacks_body(const gql_node *d) {
    switch (d->kind) {
    case GQL_OBJECT_TYPE_DEFINITION:
    case GQL_OBJECT_TYPE_EXTENSION:
    case GQL_INTERFACE_TYPE_DEFINITION:
    case GQL_INTERFACE_TYPE_EXTENSION:
    case GQL_INPUT_OBJECT_TYPE_DEFINITION:
    case GQL_INPUT_OBJECT_TYPE_EXTENSION:
        return d->u.type_def.fields.count == 0;
    case GQL_ENUM_TYPE_DEFINITION:
    case GQL_ENUM_TYPE_EXTENSION:
        return d->u.type_def.values.count == 0;
    case GQL_SCHEMA_EXTENSION:
        return d->u.schema.operation_types.count == 0;
    default:
        return false;
    }
}

static pb **prl(printer *p, const gql_list *l) {
    pb **v = gql_arena_alloc(&p->a, (l->count ? l->count : 1) * sizeof *v);
    if (!v) oom(p);
    for (size_t i = 0; i < l->count; i++)
        v[i] = pr(p, l->items[i]);
    return v;
}

#define PRL(l) prl(p, &(l)), (l).count

static size_t joined_length(pb **items, size_t n, size_t sep) {
    size_t l = 0;
    for (size_t i = 0; i < n; i++)
        if (len(items[i])) l += (l == 0 ? 0 : sep) + len(items[i]);
    return l;
}

static pb *args_block(printer *p, pb **args, size_t n) {
    return has_multiline(args, n) ? wrap(p, "(\n", indent(join(p, args, n, "\n")), "\n)")
                                  : wrap(p, "(", join(p, args, n, ", "), ")");
}

static pb *type_def(printer *p, const gql_node *n, const char *keyword) {
    const gql_kind k = n->kind;
    pb *desc = wrap(p, "", pr(p, n->u.type_def.description), "\n");
    pb *name = pr(p, n->u.type_def.name);
    pb *ifaces = NULL, *tail = NULL;
    if (k == GQL_OBJECT_TYPE_DEFINITION || k == GQL_OBJECT_TYPE_EXTENSION ||
        k == GQL_INTERFACE_TYPE_DEFINITION || k == GQL_INTERFACE_TYPE_EXTENSION)
        ifaces = wrap(p, "implements ", join(p, PRL(n->u.type_def.interfaces), " & "), "");
    pb *dirs = join(p, PRL(n->u.type_def.directives), " ");
    if (k == GQL_UNION_TYPE_DEFINITION || k == GQL_UNION_TYPE_EXTENSION)
        tail = wrap(p, "= ", join(p, PRL(n->u.type_def.types), " | "), "");
    else if (k == GQL_ENUM_TYPE_DEFINITION || k == GQL_ENUM_TYPE_EXTENSION)
        tail = block(p, PRL(n->u.type_def.values));
    else if (k != GQL_SCALAR_TYPE_DEFINITION && k != GQL_SCALAR_TYPE_EXTENSION)
        tail = block(p, PRL(n->u.type_def.fields));
    return JOIN(p, "", desc, JOIN(p, " ", S(p, keyword), name, ifaces, dirs, tail));
}

static pb *pr(printer *p, const gql_node *n) {
    if (!n) return NULL;
    switch (n->kind) {
    case GQL_NAME:
    case GQL_INT_VALUE:
    case GQL_FLOAT_VALUE:
    case GQL_ENUM_VALUE:
        return mkn(p, n->u.text.value, n->u.text.len, false);
    case GQL_STRING_VALUE:
        return n->u.text.block ? print_block_string(p, n->u.text.value, n->u.text.len)
                               : print_string(p, n->u.text.value, n->u.text.len);
    case GQL_BOOLEAN_VALUE:
        return S(p, n->u.boolean ? "true" : "false");
    case GQL_NULL_VALUE:
        return S(p, "null");
    case GQL_VARIABLE:
        return JOIN(p, "", S(p, "$"), pr(p, n->u.named.name));
    case GQL_DOCUMENT: {
        /* A shorthand query `{...}` after a definition whose optional body is absent (`enum E`,
         * `extend schema @d`) would be read back as that body: the query keeps `query` there
         * (graphql-js prints the shorthand, which does not round-trip; found by the fuzzer). */
        const gql_list *l = &n->u.document.definitions;
        pb **v = gql_arena_alloc(&p->a, (l->count ? l->count : 1) * sizeof *v);
        if (!v) oom(p);
        for (size_t i = 0; i < l->count; i++) {
            p->query_keyword = i > 0 && lacks_body(l->items[i - 1]);
            v[i] = pr(p, l->items[i]);
        }
        p->query_keyword = false;
        return join(p, v, l->count, "\n\n");
    }
    case GQL_OPERATION_DEFINITION: {
        const gql_list *vl = &n->u.operation.variable_definitions;
        pb **vars = prl(p, vl);
        pb *var_defs = has_multiline(vars, vl->count)
                           ? wrap(p, "(\n", join(p, vars, vl->count, "\n"), "\n)")
                           : wrap(p, "(", join(p, vars, vl->count, ", "), ")");
        const char *op = gql_operation_name(n->u.operation.operation);
        pb *desc = wrap(p, "", pr(p, n->u.operation.description), "\n");
        pb *name = pr(p, n->u.operation.name);
        pb *dirs = join(p, PRL(n->u.operation.directives), " ");
        pb *sel = pr(p, n->u.operation.selection_set);
        pb *prefix = JOIN(p, "", desc, JOIN(p, " ", S(p, op), JOIN(p, "", name, var_defs), dirs));
        bool bare = !p->query_keyword && n->u.operation.operation == GQL_OP_QUERY &&
                    len(prefix) == strlen(op);
        return JOIN(p, "", bare ? NULL : JOIN(p, "", prefix, S(p, " ")), sel);
    }
    case GQL_VARIABLE_DEFINITION: {
        pb *desc = wrap(p, "", pr(p, n->u.variable_definition.description), "\n");
        pb *var = pr(p, n->u.variable_definition.variable);
        pb *type = pr(p, n->u.variable_definition.type);
        pb *def = wrap(p, " = ", pr(p, n->u.variable_definition.default_value), "");
        pb *dirs = wrap(p, " ", join(p, PRL(n->u.variable_definition.directives), " "), "");
        return JOIN(p, "", desc, var, S(p, ": "), type, def, dirs);
    }
    case GQL_SELECTION_SET:
        return block(p, PRL(n->u.selection_set.selections));
    case GQL_FIELD: {
        pb *alias = wrap(p, "", pr(p, n->u.field.alias), ": ");
        pb *prefix = JOIN(p, "", alias, pr(p, n->u.field.name));
        const gql_list *al = &n->u.field.arguments;
        pb **args = prl(p, al);
        pb *dirs = wrap(p, " ", join(p, PRL(n->u.field.directives), " "), "");
        pb *sel = wrap(p, " ", pr(p, n->u.field.selection_set), "");
        pb *line = prefix;
        if (al->count) {
            bool wide = len(prefix) + joined_length(args, al->count, 2) + 2 > 80;
            line = JOIN(p, "", prefix,
                        wide ? wrap(p, "(\n", indent(join(p, args, al->count, "\n")), "\n)")
                             : wrap(p, "(", join(p, args, al->count, ", "), ")"));
        }
        return JOIN(p, "", line, dirs, sel);
    }
    case GQL_ARGUMENT:
    case GQL_OBJECT_FIELD: {
        pb *name = pr(p, n->u.argument.name);
        pb *value = pr(p, n->u.argument.value);
        return JOIN(p, "", name, S(p, ": "), value);
    }
    case GQL_FRAGMENT_SPREAD: {
        pb *name = pr(p, n->u.fragment_spread.name);
        pb *dirs = wrap(p, " ", join(p, PRL(n->u.fragment_spread.directives), " "), "");
        return JOIN(p, "", S(p, "..."), name, dirs);
    }
    case GQL_INLINE_FRAGMENT: {
        pb *tc = wrap(p, "on ", pr(p, n->u.inline_fragment.type_condition), "");
        pb *dirs = join(p, PRL(n->u.inline_fragment.directives), " ");
        pb *sel = pr(p, n->u.inline_fragment.selection_set);
        return JOIN(p, " ", S(p, "..."), tc, dirs, sel);
    }
    case GQL_FRAGMENT_DEFINITION: {
        pb *desc = wrap(p, "", pr(p, n->u.fragment.description), "\n");
        pb *name = pr(p, n->u.fragment.name);
        pb *tc = pr(p, n->u.fragment.type_condition);
        pb *dirs = wrap(p, "", join(p, PRL(n->u.fragment.directives), " "), " ");
        pb *sel = pr(p, n->u.fragment.selection_set);
        return JOIN(p, "", desc, S(p, "fragment "), name, S(p, " on "), tc, S(p, " "), dirs, sel);
    }
    case GQL_LIST_VALUE:
        return JOIN(p, "", S(p, "["), join(p, PRL(n->u.list.values), ", "), S(p, "]"));
    case GQL_OBJECT_VALUE:
        return JOIN(p, "", S(p, "{"), join(p, PRL(n->u.object.fields), ", "), S(p, "}"));
    case GQL_DIRECTIVE: {
        pb *name = pr(p, n->u.directive.name);
        pb *args = wrap(p, "(", join(p, PRL(n->u.directive.arguments), ", "), ")");
        return JOIN(p, "", S(p, "@"), name, args);
    }
    case GQL_NAMED_TYPE:
        return pr(p, n->u.named.name);
    case GQL_LIST_TYPE:
        return JOIN(p, "", S(p, "["), pr(p, n->u.wrapped.type), S(p, "]"));
    case GQL_NON_NULL_TYPE:
        return JOIN(p, "", pr(p, n->u.wrapped.type), S(p, "!"));
    case GQL_SCHEMA_DEFINITION: {
        pb *desc = wrap(p, "", pr(p, n->u.schema.description), "\n");
        pb *dirs = join(p, PRL(n->u.schema.directives), " ");
        pb *ops = block(p, PRL(n->u.schema.operation_types));
        return JOIN(p, "", desc, JOIN(p, " ", S(p, "schema"), dirs, ops));
    }
    case GQL_SCHEMA_EXTENSION: {
        pb *dirs = join(p, PRL(n->u.schema.directives), " ");
        pb *ops = block(p, PRL(n->u.schema.operation_types));
        return JOIN(p, " ", S(p, "extend schema"), dirs, ops);
    }
    case GQL_OPERATION_TYPE_DEFINITION: {
        pb *type = pr(p, n->u.operation_type.type);
        return JOIN(p, "", S(p, gql_operation_name(n->u.operation_type.operation)), S(p, ": "),
                    type);
    }
    case GQL_SCALAR_TYPE_DEFINITION:
        return type_def(p, n, "scalar");
    case GQL_OBJECT_TYPE_DEFINITION:
        return type_def(p, n, "type");
    case GQL_INTERFACE_TYPE_DEFINITION:
        return type_def(p, n, "interface");
    case GQL_UNION_TYPE_DEFINITION:
        return type_def(p, n, "union");
    case GQL_ENUM_TYPE_DEFINITION:
        return type_def(p, n, "enum");
    case GQL_INPUT_OBJECT_TYPE_DEFINITION:
        return type_def(p, n, "input");
    case GQL_SCALAR_TYPE_EXTENSION:
        return type_def(p, n, "extend scalar");
    case GQL_OBJECT_TYPE_EXTENSION:
        return type_def(p, n, "extend type");
    case GQL_INTERFACE_TYPE_EXTENSION:
        return type_def(p, n, "extend interface");
    case GQL_UNION_TYPE_EXTENSION:
        return type_def(p, n, "extend union");
    case GQL_ENUM_TYPE_EXTENSION:
        return type_def(p, n, "extend enum");
    case GQL_INPUT_OBJECT_TYPE_EXTENSION:
        return type_def(p, n, "extend input");
    case GQL_FIELD_DEFINITION: {
        pb *desc = wrap(p, "", pr(p, n->u.field_def.description), "\n");
        pb *name = pr(p, n->u.field_def.name);
        pb *args = args_block(p, PRL(n->u.field_def.arguments));
        pb *type = pr(p, n->u.field_def.type);
        pb *dirs = wrap(p, " ", join(p, PRL(n->u.field_def.directives), " "), "");
        return JOIN(p, "", desc, name, args, S(p, ": "), type, dirs);
    }
    case GQL_INPUT_VALUE_DEFINITION: {
        pb *desc = wrap(p, "", pr(p, n->u.field_def.description), "\n");
        pb *name = pr(p, n->u.field_def.name);
        pb *type = pr(p, n->u.field_def.type);
        pb *def = wrap(p, " = ", pr(p, n->u.field_def.default_value), "");
        pb *dirs = wrap(p, " ", join(p, PRL(n->u.field_def.directives), " "), "");
        return JOIN(p, "", desc, name, S(p, ": "), type, def, dirs);
    }
    case GQL_ENUM_VALUE_DEFINITION: {
        pb *desc = wrap(p, "", pr(p, n->u.enum_value_def.description), "\n");
        pb *name = pr(p, n->u.enum_value_def.name);
        pb *dirs = join(p, PRL(n->u.enum_value_def.directives), " ");
        return JOIN(p, "", desc, JOIN(p, " ", name, dirs));
    }
    case GQL_DIRECTIVE_DEFINITION: {
        pb *desc = wrap(p, "", pr(p, n->u.directive_def.description), "\n");
        pb *name = pr(p, n->u.directive_def.name);
        pb *args = args_block(p, PRL(n->u.directive_def.arguments));
        pb *locs = join(p, PRL(n->u.directive_def.locations), " | ");
        return JOIN(p, "", desc, S(p, "directive @"), name, args,
                    n->u.directive_def.repeatable ? S(p, " repeatable") : NULL, S(p, " on "), locs);
    }
    case GQL_KIND_COUNT:
        break;
    }
    return NULL;
}

static char *finish(printer *p, size_t *outlen) {
    if (!p->out.s) sb_put(p, "", 0);
    gql_arena_free(&p->a);
    if (outlen) *outlen = p->out.n;
    return p->out.s;
}

static char *abort_print(printer *p) {
    gql_arena_free(&p->a);
    free(p->out.s);
    return NULL;
}

static int print_guarded(printer *p, const gql_node *node) {
    if (setjmp(p->jb) != 0) return -1;
    render(p, pr(p, node));
    return 0;
}

char *gql_print(const gql_node *node, size_t *outlen) {
    printer *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    gql_arena_init(&p->a, 0);
    char *r = print_guarded(p, node) ? abort_print(p) : finish(p, outlen);
    free(p);
    return r;
}

/* ---- canonical dump ---- */

static void dump_json(printer *p, const char *s, size_t n) {
    sb_put(p, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            sb_put(p, e, 2);
        } else if (c < 0x20) {
            const char *x = c == '\b'   ? "\\b"
                            : c == '\f' ? "\\f"
                            : c == '\n' ? "\\n"
                            : c == '\r' ? "\\r"
                            : c == '\t' ? "\\t"
                                        : NULL;
            if (x) {
                sb_str(p, x);
            } else {
                snprintf(e, sizeof e, "\\u%04x", c);
                sb_str(p, e);
            }
        } else {
            sb_put(p, (const char *)&s[i], 1);
        }
    }
    sb_put(p, "\"", 1);
}

static void dump(printer *p, const gql_node *n) {
    char head[96];
    snprintf(head, sizeof head, "(%s@%u:%u", gql_kind_name(n->kind), (unsigned)n->loc.line,
             (unsigned)n->loc.column);
    sb_str(p, head);
    switch (n->kind) {
    case GQL_NAME:
    case GQL_INT_VALUE:
    case GQL_FLOAT_VALUE:
    case GQL_ENUM_VALUE:
    case GQL_STRING_VALUE:
        sb_str(p, " value=");
        dump_json(p, n->u.text.value, n->u.text.len);
        if (n->kind == GQL_STRING_VALUE)
            sb_str(p, n->u.text.block ? " block=true" : " block=false");
        break;
    case GQL_BOOLEAN_VALUE:
        sb_str(p, n->u.boolean ? " value=true" : " value=false");
        break;
    case GQL_OPERATION_DEFINITION:
        sb_str(p, " operation=");
        sb_str(p, gql_operation_name(n->u.operation.operation));
        break;
    case GQL_OPERATION_TYPE_DEFINITION:
        sb_str(p, " operation=");
        sb_str(p, gql_operation_name(n->u.operation_type.operation));
        break;
    default:
        break;
    }
    gql_slot s[GQL_AST_MAX_SLOTS];
    int c = gql_ast_slots(n, s);
    for (int i = 0; i < c; i++) {
        if (n->kind == GQL_DIRECTIVE_DEFINITION && strcmp(s[i].key, "locations") == 0)
            sb_str(p, n->u.directive_def.repeatable ? " repeatable=true" : " repeatable=false");
        if (s[i].list) {
            if (!s[i].list->count) continue;
            sb_str(p, " ");
            sb_str(p, s[i].key);
            sb_str(p, "=[");
            for (size_t j = 0; j < s[i].list->count; j++) {
                if (j) sb_str(p, " ");
                dump(p, s[i].list->items[j]);
            }
            sb_str(p, "]");
        } else if (s[i].node) {
            sb_str(p, " ");
            sb_str(p, s[i].key);
            sb_str(p, "=");
            dump(p, s[i].node);
        }
    }
    sb_str(p, ")");
}

static int dump_guarded(printer *p, const gql_node *node) {
    if (setjmp(p->jb) != 0) return -1;
    if (node) dump(p, node);
    return 0;
}

char *gql_print_dump(const gql_node *node, size_t *outlen) {
    printer *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    gql_arena_init(&p->a, 0);
    char *r = dump_guarded(p, node) ? abort_print(p) : finish(p, outlen);
    free(p);
    return r;
}
