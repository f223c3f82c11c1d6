/* gql_exec: see gql_exec.h. Follows graphql-js 16.15.0 execute.js / values.js /
 * coerceInputValue.js / introspection.js closely (names in comments), for synchronous resolvers:
 * a propagated null stops the remaining siblings exactly as graphql-js's thrown error does. */
#include "lib/graphql/gql_exec.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/graphql/gql_print.h"

/* ---- resolver table ---- */

typedef struct res_entry {
    gql_resolve_fn fn;
    gql_prefetch_fn prefetch;
    void *ud;
} res_entry;

typedef struct type_entry {
    res_entry *fields; /* nfields of the type */
    gql_resolve_type_fn resolve_type;
    void *ud;
} type_entry;

struct gql_resolvers {
    const gql_schema *s;
    type_entry *types; /* s->ntypes */
};

gql_resolvers *gql_resolvers_new(const gql_schema *s) {
    gql_resolvers *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->s = s;
    r->types = calloc(s->ntypes ? s->ntypes : 1, sizeof *r->types);
    if (!r->types) {
        free(r);
        return NULL;
    }
    return r;
}

void gql_resolvers_free(gql_resolvers *r) {
    if (!r) return;
    for (size_t i = 0; i < r->s->ntypes; i++)
        free(r->types[i].fields);
    free(r->types);
    free(r);
}

int gql_resolvers_add(gql_resolvers *r, const char *type, const char *field, gql_resolve_fn fn,
                      gql_prefetch_fn prefetch, void *ud) {
    gql_type *t = gql_schema_type(r->s, type);
    if (!t || (t->kind != GQL_TYPE_OBJECT && t->kind != GQL_TYPE_INTERFACE)) return -1;
    const gql_field *f = gql_type_field(t, field);
    if (!f) return -1;
    type_entry *te = &r->types[t->index];
    if (!te->fields) {
        te->fields = calloc(t->nfields, sizeof *te->fields);
        if (!te->fields) return -1;
    }
    te->fields[f - t->fields] = (res_entry){fn, prefetch, ud};
    return 0;
}

int gql_resolvers_add_type(gql_resolvers *r, const char *abstract_type, gql_resolve_type_fn fn,
                           void *ud) {
    gql_type *t = gql_schema_type(r->s, abstract_type);
    if (!t || !gql_type_is_abstract(t)) return -1;
    r->types[t->index].resolve_type = fn;
    r->types[t->index].ud = ud;
    return 0;
}

static const res_entry *find_resolver(const gql_resolvers *r, const gql_type *t,
                                      const gql_field *f) {
    if (!r || !t || t->index >= r->s->ntypes || r->s->types[t->index] != t) return NULL;
    const type_entry *te = &r->types[t->index];
    if (!te->fields || f < t->fields || f >= t->fields + t->nfields) return NULL;
    const res_entry *e = &te->fields[f - t->fields];
    return e->fn ? e : NULL;
}

/* ---- graphql-js inspect() and number formatting ---- */

/* JavaScript Number.prototype.toString for finite doubles. */
static void js_number(char *buf, size_t cap, double d) {
    if (d == 0) {
        snprintf(buf, cap, "0");
        return;
    }
    if (d == floor(d) && fabs(d) < 1e21) {
        snprintf(buf, cap, "%.0f", d);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, d);
        if (strtod(buf, NULL) == d) break;
    }
    /* C writes e-07 / e+21; JavaScript e-7 / e+21 */
    char *e = strchr(buf, 'e');
    if (e) {
        char *digits = e + 2;
        char *z = digits;
        while (*z == '0' && z[1])
            z++;
        if (z != digits) memmove(digits, z, strlen(z) + 1);
    }
}

static void json_number_js(char *buf, size_t cap, const json_t *v) {
    if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else
        js_number(buf, cap, json_real_value(v));
}

static void sb_json_string(gql_sb *sb, const char *s, size_t n) {
    json_t *j = json_stringn(s, n);
    char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    gql_sb_add(sb, out ? out : "\"\"");
    free(out);
    json_decref(j);
}

static void inspect_rec(gql_sb *sb, const json_t *v, int depth) {
    char num[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        sb_json_string(sb, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        json_number_js(num, sizeof num, v);
        gql_sb_add(sb, num);
        break;
    case JSON_TRUE:
        gql_sb_add(sb, "true");
        break;
    case JSON_FALSE:
        gql_sb_add(sb, "false");
        break;
    case JSON_NULL:
        gql_sb_add(sb, "null");
        break;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (n == 0) {
            gql_sb_add(sb, "[]");
            break;
        }
        if (depth + 1 > 2) {
            gql_sb_add(sb, "[Array]");
            break;
        }
        gql_sb_add(sb, "[");
        size_t shown = n > 10 ? 10 : n;
        for (size_t i = 0; i < shown; i++) {
            if (i) gql_sb_add(sb, ", ");
            inspect_rec(sb, json_array_get(v, i), depth + 1);
        }
        if (n > 10) gql_sb_addf(sb, ", ... %zu more item%s", n - 10, n - 10 > 1 ? "s" : "");
        gql_sb_add(sb, "]");
        break;
    }
    case JSON_OBJECT: {
        if (json_object_size(v) == 0) {
            gql_sb_add(sb, "{}");
            break;
        }
        if (depth + 1 > 2) {
            gql_sb_add(sb, "[Object]");
            break;
        }
        gql_sb_add(sb, "{ ");
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach((json_t *)v, k, x) {
            if (!first) gql_sb_add(sb, ", ");
            first = 0;
            gql_sb_addf(sb, "%s: ", k);
            inspect_rec(sb, x, depth + 1);
        }
        gql_sb_add(sb, " }");
        break;
    }
    }
}

static void inspect(gql_sb *sb, const json_t *v) {
    inspect_rec(sb, v, 0);
}

static char *sb_take(gql_sb *sb) {
    if (sb->oom) {
        gql_sb_free(sb);
        return NULL;
    }
    if (!sb->p) return strdup("");
    return sb->p;
}

static char *tref_str(const gql_tref *t) {
    gql_sb sb = {0};
    gql_tref_print(&sb, t);
    return sb_take(&sb);
}

/* ---- execution context ---- */

typedef struct path_seg {
    const struct path_seg *prev;
    const char *key; /* NULL: index */
    size_t index;
} path_seg;

typedef struct exec_ctx {
    const gql_schema *s;
    const gql_resolvers *r;
    const gql_document *doc;
    const gql_node *op;
    const gql_exec_opts *o;
    json_t *vars;
    json_t *errors;
    size_t max_errors;
    gql_arena arena; /* scratch: field groups, type references */
    int oom;
    /* @skip/@include whose `if` could not be read: the first error of the current CollectFields
     * (graphql-js throws it), reported by the caller as a field error or dropped by prefetching */
    char *collect_msg;
    const gql_node *collect_node;
    /* runtime limits: once `cut` is set every remaining field is null without running */
    uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = none */
    size_t out_bytes;     /* estimate of the serialised data so far */
    size_t max_bytes;     /* 0 = no limit */
    int cut;              /* CUT_* */
    char *cut_msg;        /* CUT_SIZE: the error that replaces the response */
    json_t *cut_path;
} exec_ctx;

enum { CUT_NONE, CUT_DEADLINE, CUT_SIZE };

static json_t *path_json(const path_seg *p) {
    json_t *a = json_array();
    size_t n = 0;
    for (const path_seg *q = p; q; q = q->prev)
        n++;
    const path_seg **v = malloc((n ? n : 1) * sizeof *v);
    if (!v || !a) {
        free(v);
        return a;
    }
    size_t i = n;
    for (const path_seg *q = p; q; q = q->prev)
        v[--i] = q;
    for (i = 0; i < n; i++)
        json_array_append_new(a, v[i]->key ? json_string(v[i]->key)
                                           : json_integer((json_int_t)v[i]->index));
    free(v);
    return a;
}

static json_t *locations_json(const gql_node *const *nodes, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (nodes[i])
            json_array_append_new(a, json_pack("{s:i, s:i}", "line", (int)nodes[i]->loc.line,
                                               "column", (int)nodes[i]->loc.column));
    return a;
}

/* Adds {message, locations, path[, extensions: {code}]} (takes msg); locations: every node
 * (the field nodes merged under one response key, as graphql-js locatedError). */
static void field_error_code(exec_ctx *x, char *msg, const gql_node *const *nodes, size_t n,
                             const path_seg *path, const char *code) {
    if (!msg) {
        x->oom = 1;
        return;
    }
    if (json_array_size(x->errors) >= x->max_errors) {
        free(msg);
        return;
    }
    json_t *e = json_object();
    json_object_set_new(e, "message", json_string(msg));
    if (n) json_object_set_new(e, "locations", locations_json(nodes, n));
    if (path) json_object_set_new(e, "path", path_json(path));
    if (code && *code) json_object_set_new(e, "extensions", json_pack("{s:s}", "code", code));
    json_array_append_new(x->errors, e);
    free(msg);
}

/* A field error located at one node (an argument value, a directive's argument). */
static void field_error(exec_ctx *x, char *msg, const gql_node *node, const path_seg *path) {
    field_error_code(x, msg, &node, node ? 1 : 0, path, NULL);
}

typedef struct field_group field_group;
/* A field error located at every field node of the response key. */
static void group_error(exec_ctx *x, char *msg, const field_group *g, const path_seg *path);

void gql_resolve_error_code(const gql_resolve_info *info, const char *code) {
    if (info && info->error_code && code)
        snprintf(info->error_code, GQL_ERROR_CODE_MAX, "%s", code);
}

static void request_error(json_t *errors, const char *msg, const gql_node *node) {
    json_t *e = json_object();
    json_object_set_new(e, "message", json_string(msg));
    if (node) json_object_set_new(e, "locations", locations_json(&node, 1));
    json_array_append_new(errors, e);
}

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* ---- GetOperation ---- */

const gql_node *gql_exec_operation(const gql_document *doc, const char *name, const char **msg) {
    const gql_node *found = NULL;
    const gql_list *defs = &doc->root->u.document.definitions;
    for (size_t i = 0; i < defs->count; i++) {
        const gql_node *d = defs->items[i];
        if (d->kind != GQL_OPERATION_DEFINITION) continue;
        if (!name) {
            if (found) {
                *msg = "Must provide operation name if query contains multiple operations.";
                return NULL;
            }
            found = d;
        } else if (d->u.operation.name && strcmp(gql_name_str(d->u.operation.name), name) == 0) {
            found = d;
        }
    }
    if (!found) *msg = name ? "Unknown operation named \"%s\"." : "Must provide an operation.";
    return found;
}

static const gql_node *find_fragment(const gql_document *doc, const char *name) {
    const gql_list *defs = &doc->root->u.document.definitions;
    for (size_t i = 0; i < defs->count; i++) {
        const gql_node *d = defs->items[i];
        if (d->kind == GQL_FRAGMENT_DEFINITION &&
            strcmp(gql_name_str(d->u.fragment.name), name) == 0)
            return d;
    }
    return NULL;
}

/* ---- coerceInputValue ---- */

typedef struct coerce_err {
    json_t *errors;
    const char *var_name;
    const gql_node *node;
    int failed;
} coerce_err;

typedef struct ipath {
    const struct ipath *prev;
    const char *key;
    size_t index;
} ipath;

static void print_ipath(gql_sb *sb, const ipath *p) {
    if (!p) return;
    print_ipath(sb, p->prev);
    if (p->key)
        gql_sb_addf(sb, ".%s", p->key);
    else
        gql_sb_addf(sb, "[%zu]", p->index);
}

static void coerce_fail(coerce_err *ce, const ipath *path, const json_t *invalid, const char *msg) {
    ce->failed = 1;
    if (!ce->errors) return;
    gql_sb sb = {0};
    gql_sb_addf(&sb, "Variable \"$%s\" got invalid value ", ce->var_name);
    inspect(&sb, invalid);
    if (path) {
        gql_sb_addf(&sb, " at \"%s", ce->var_name);
        print_ipath(&sb, path);
        gql_sb_add(&sb, "\"");
    }
    gql_sb_addf(&sb, "; %s", msg);
    request_error(ce->errors, gql_sb_str(&sb), ce->node);
    gql_sb_free(&sb);
}

static int is_integral(const json_t *v, double *d) {
    if (json_is_integer(v)) {
        *d = (double)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        *d = json_real_value(v);
        return isfinite(*d) && *d == floor(*d);
    }
    return 0;
}

static void add_enum_suggestions(gql_sb *sb, const gql_type *t, const char *input) {
    const char **names = malloc((t->nvalues + 1) * sizeof *names);
    const char *sug[5];
    if (!names) return;
    for (size_t i = 0; i < t->nvalues; i++)
        names[i] = t->values[i].name;
    size_t ns = gql_suggestion_list(input, names, t->nvalues, sug, 5);
    gql_did_you_mean(sb, "the enum value", sug, ns);
    free(names);
}

/* Leaf parseValue. Returns a new reference or NULL with *msg malloc'd. */
static json_t *leaf_parse_value(const gql_type *t, const json_t *v, char **msg) {
    gql_sb sb = {0};
    *msg = NULL;
    if (t->kind == GQL_TYPE_ENUM) {
        if (!json_is_string(v)) {
            gql_sb_addf(&sb, "Enum \"%s\" cannot represent non-string value: ", t->name);
            inspect(&sb, v);
            gql_sb_add(&sb, ".");
            gql_sb sv = {0};
            inspect(&sv, v);
            add_enum_suggestions(&sb, t, gql_sb_str(&sv));
            gql_sb_free(&sv);
            *msg = sb_take(&sb);
            return NULL;
        }
        const char *s = json_string_value(v);
        if (gql_type_enum_value(t, s) && strlen(s) == json_string_length(v)) return json_string(s);
        gql_sb_addf(&sb, "Value \"%s\" does not exist in \"%s\" enum.", s, t->name);
        add_enum_suggestions(&sb, t, s);
        *msg = sb_take(&sb);
        return NULL;
    }
    if (!t->builtin) return json_deep_copy(v); /* custom scalar: identity */
    const char *n = t->name;
    double d;
    if (strcmp(n, "Int") == 0) {
        if (!is_integral(v, &d)) {
            gql_sb_add(&sb, "Int cannot represent non-integer value: ");
            inspect(&sb, v);
        } else if (d > 2147483647.0 || d < -2147483648.0) {
            gql_sb_add(&sb, "Int cannot represent non 32-bit signed integer value: ");
            inspect(&sb, v);
        } else {
            return json_integer((json_int_t)d);
        }
    } else if (strcmp(n, "Float") == 0) {
        if (json_is_number(v) && isfinite(json_number_value(v))) return json_deep_copy(v);
        gql_sb_add(&sb, "Float cannot represent non numeric value: ");
        inspect(&sb, v);
    } else if (strcmp(n, "String") == 0) {
        if (json_is_string(v)) return json_deep_copy(v);
        gql_sb_add(&sb, "String cannot represent a non string value: ");
        inspect(&sb, v);
    } else if (strcmp(n, "Boolean") == 0) {
        if (json_is_boolean(v)) return json_deep_copy(v);
        gql_sb_add(&sb, "Boolean cannot represent a non boolean value: ");
        inspect(&sb, v);
    } else if (strcmp(n, "ID") == 0) {
        if (json_is_string(v)) return json_deep_copy(v);
        if (is_integral(v, &d)) {
            char num[64];
            js_number(num, sizeof num, d);
            return json_string(num);
        }
        gql_sb_add(&sb, "ID cannot represent value: ");
        inspect(&sb, v);
    } else {
        return json_deep_copy(v);
    }
    *msg = sb_take(&sb);
    return NULL;
}

static json_t *coerce_input(const gql_schema *s, const json_t *v, const gql_tref *t, coerce_err *ce,
                            const ipath *path) {
    if (t->kind == GQL_REF_NON_NULL) {
        if (!json_is_null(v)) return coerce_input(s, v, t->of, ce, path);
        char *ts = tref_str(t);
        char *m = dupf("Expected non-nullable type \"%s\" not to be null.", ts ? ts : "?");
        coerce_fail(ce, path, v, m ? m : "");
        free(ts), free(m);
        return NULL;
    }
    if (json_is_null(v)) return json_null();
    if (t->kind == GQL_REF_LIST) {
        json_t *a = json_array();
        if (json_is_array(v)) {
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item) {
                ipath p = {path, NULL, i};
                json_t *c = coerce_input(s, item, t->of, ce, &p);
                json_array_append_new(a, c ? c : json_null());
            }
        } else {
            json_t *c = coerce_input(s, v, t->of, ce, path);
            json_array_append_new(a, c ? c : json_null());
        }
        return a;
    }
    const gql_type *nt = t->named;
    if (nt->kind == GQL_TYPE_INPUT_OBJECT) {
        if (!json_is_object(v)) {
            char *m = dupf("Expected type \"%s\" to be an object.", nt->name);
            coerce_fail(ce, path, v, m ? m : "");
            free(m);
            return NULL;
        }
        json_t *o = json_object();
        for (size_t i = 0; i < nt->ninput_fields; i++) {
            const gql_input_value *f = &nt->input_fields[i];
            json_t *fv = json_object_get(v, f->name);
            if (!fv) {
                if (f->default_value) {
                    json_t *d = NULL;
                    if (gql_value_from_ast(s, f->type, f->default_value, NULL, &d) == 0)
                        json_object_set_new(o, f->name, d);
                } else if (gql_tref_is_non_null(f->type)) {
                    char *ts = tref_str(f->type);
                    char *m = dupf("Field \"%s\" of required type \"%s\" was not provided.",
                                   f->name, ts ? ts : "?");
                    coerce_fail(ce, path, v, m ? m : "");
                    free(ts), free(m);
                }
                continue;
            }
            ipath p = {path, f->name, 0};
            json_t *c = coerce_input(s, fv, f->type, ce, &p);
            json_object_set_new(o, f->name, c ? c : json_null());
        }
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (gql_type_input_field(nt, k)) continue;
            gql_sb sb = {0};
            gql_sb_addf(&sb, "Field \"%s\" is not defined by type \"%s\".", k, nt->name);
            const char **names = malloc((nt->ninput_fields + 1) * sizeof *names);
            const char *sug[5];
            if (names) {
                for (size_t i = 0; i < nt->ninput_fields; i++)
                    names[i] = nt->input_fields[i].name;
                size_t ns = gql_suggestion_list(k, names, nt->ninput_fields, sug, 5);
                gql_did_you_mean(&sb, NULL, sug, ns);
                free(names);
            }
            coerce_fail(ce, path, v, gql_sb_str(&sb));
            gql_sb_free(&sb);
        }
        if (nt->one_of) {
            if (json_object_size(v) != 1) {
                char *m =
                    dupf("Exactly one key must be specified for OneOf type \"%s\".", nt->name);
                coerce_fail(ce, path, v, m ? m : "");
                free(m);
            } else {
                json_object_foreach((json_t *)v, k, x) {
                    if (json_is_null(x)) {
                        char *m = dupf("Field \"%s\" must be non-null.", k);
                        ipath p = {path, k, 0};
                        coerce_fail(ce, &p, x, m ? m : "");
                        free(m);
                    }
                }
            }
        }
        return o;
    }
    char *msg = NULL;
    json_t *r = leaf_parse_value(nt, v, &msg);
    if (!r) {
        if (msg) {
            coerce_fail(ce, path, v, msg);
        } else {
            char *m = dupf("Expected type \"%s\".", nt->name);
            coerce_fail(ce, path, v, m ? m : "");
            free(m);
        }
        free(msg);
    }
    return r;
}

int gql_coerce_variables(const gql_schema *s, const gql_node *op, const json_t *inputs,
                         json_t **out, json_t *errors) {
    json_t *vars = json_object();
    gql_arena arena;
    gql_arena_init(&arena, 0);
    int failed = 0;
    const gql_list *defs = &op->u.operation.variable_definitions;
    for (size_t i = 0; i < defs->count; i++) {
        const gql_node *d = defs->items[i];
        const char *name = gql_name_str(d->u.variable_definition.variable);
        const gql_tref *t = gql_tref_from_ast(s, d->u.variable_definition.type, &arena);
        if (!t || !gql_tref_is_input(t)) {
            /* validation rejects this; keep graphql-js's message for direct callers */
            char *m = dupf("Variable \"$%s\" expected value of type \"%s\" which cannot be used "
                           "as an input type.",
                           name, "?");
            if (errors) request_error(errors, m ? m : "", d->u.variable_definition.type);
            free(m);
            failed = 1;
            continue;
        }
        json_t *v = inputs ? json_object_get(inputs, name) : NULL;
        if (!v) {
            if (d->u.variable_definition.default_value) {
                json_t *dv = NULL;
                if (gql_value_from_ast(s, t, d->u.variable_definition.default_value, NULL, &dv) ==
                    0)
                    json_object_set_new(vars, name, dv);
            } else if (gql_tref_is_non_null(t)) {
                char *ts = tref_str(t);
                char *m =
                    dupf("Variable \"$%s\" of required type \"%s\" was not provided.", name, ts);
                if (errors) request_error(errors, m ? m : "", d);
                free(ts), free(m);
                failed = 1;
            }
            continue;
        }
        if (json_is_null(v) && gql_tref_is_non_null(t)) {
            char *ts = tref_str(t);
            char *m = dupf("Variable \"$%s\" of non-null type \"%s\" must not be null.", name, ts);
            if (errors) request_error(errors, m ? m : "", d);
            free(ts), free(m);
            failed = 1;
            continue;
        }
        coerce_err ce = {errors, name, d, 0};
        json_t *c = coerce_input(s, v, t, &ce, NULL);
        if (ce.failed) {
            failed = 1;
            json_decref(c);
            continue;
        }
        json_object_set_new(vars, name, c ? c : json_null());
    }
    gql_arena_free(&arena);
    if (failed) {
        json_decref(vars);
        *out = NULL;
        return -1;
    }
    *out = vars;
    return 0;
}

/* ---- getArgumentValues ---- */

static const gql_node *find_arg_node(const gql_list *args, const char *name) {
    for (size_t i = 0; i < args->count; i++)
        if (strcmp(gql_name_str(args->items[i]->u.argument.name), name) == 0) return args->items[i];
    return NULL;
}

/* Returns a new object or NULL with *msg malloc'd (the error is at `at`). */
static json_t *argument_values(const gql_schema *s, const gql_input_value *defs, size_t ndefs,
                               const gql_list *nodes, const json_t *vars, char **msg,
                               const gql_node **at) {
    json_t *o = json_object();
    *msg = NULL;
    for (size_t i = 0; i < ndefs; i++) {
        const gql_input_value *a = &defs[i];
        const gql_node *an = find_arg_node(nodes, a->name);
        const gql_node *vn = an ? an->u.argument.value : NULL;
        int non_null = gql_tref_is_non_null(a->type);
        if (!an) {
            if (a->default_value) {
                json_t *d = NULL;
                if (gql_value_from_ast(s, a->type, a->default_value, NULL, &d) == 0)
                    json_object_set_new(o, a->name, d);
            } else if (non_null) {
                char *ts = tref_str(a->type);
                *msg =
                    dupf("Argument \"%s\" of required type \"%s\" was not provided.", a->name, ts);
                free(ts);
                goto fail;
            }
            continue;
        }
        int is_null = vn->kind == GQL_NULL_VALUE;
        if (vn->kind == GQL_VARIABLE) {
            const char *vname = gql_name_str(vn);
            json_t *vv = vars ? json_object_get(vars, vname) : NULL;
            if (!vv) {
                if (a->default_value) {
                    json_t *d = NULL;
                    if (gql_value_from_ast(s, a->type, a->default_value, NULL, &d) == 0)
                        json_object_set_new(o, a->name, d);
                } else if (non_null) {
                    char *ts = tref_str(a->type);
                    *msg = dupf("Argument \"%s\" of required type \"%s\" was provided the "
                                "variable \"$%s\" which was not provided a runtime value.",
                                a->name, ts, vname);
                    free(ts);
                    *at = vn;
                    goto fail;
                }
                continue;
            }
            is_null = json_is_null(vv);
        }
        if (is_null && non_null) {
            char *ts = tref_str(a->type);
            *msg = dupf("Argument \"%s\" of non-null type \"%s\" must not be null.", a->name, ts);
            free(ts);
            *at = vn;
            goto fail;
        }
        json_t *c = NULL;
        if (gql_value_from_ast(s, a->type, vn, vars, &c) != 0) {
            char *p = gql_print(vn, NULL);
            *msg = dupf("Argument \"%s\" has invalid value %s.", a->name, p ? p : "?");
            free(p);
            *at = vn;
            goto fail;
        }
        json_object_set_new(o, a->name, c);
    }
    return o;
fail:
    json_decref(o);
    if (!*msg) *msg = strdup("out of memory");
    return NULL;
}

/* ---- CollectFields ---- */

struct field_group {
    const char *key;
    const gql_node **nodes;
    size_t n, cap;
};

typedef struct field_groups {
    field_group *g;
    size_t n, cap;
} field_groups;

typedef struct name_set {
    const char **v;
    size_t n, cap;
} name_set;

static int grow(exec_ctx *x, void **p, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    void *np = gql_arena_alloc(&x->arena, nc * elem);
    if (!np) {
        x->oom = 1;
        return -1;
    }
    if (*p) memcpy(np, *p, *cap * elem);
    *p = np;
    *cap = nc;
    return 0;
}

static const gql_node *find_directive_node(const gql_list *dirs, const char *name) {
    for (size_t i = 0; i < dirs->count; i++)
        if (strcmp(gql_name_str(dirs->items[i]->u.directive.name), name) == 0)
            return dirs->items[i];
    return NULL;
}

/* graphql-js shouldIncludeNode: @skip first, then @include. 1 include, 0 skip, -1 when an `if`
 * cannot be read (e.g. null from a nullable variable): x->collect_msg/collect_node are set. */
static int should_include(exec_ctx *x, const gql_list *dirs) {
    static const char *const names[] = {"skip", "include"};
    for (int k = 0; k < 2; k++) {
        const gql_node *d = find_directive_node(dirs, names[k]);
        const gql_directive *dd = d ? gql_schema_directive(x->s, names[k]) : NULL;
        if (!dd) continue;
        char *msg = NULL;
        const gql_node *at = NULL;
        json_t *args = argument_values(x->s, dd->args, dd->nargs, &d->u.directive.arguments,
                                       x->vars, &msg, &at);
        if (!args) {
            if (!x->collect_msg) {
                x->collect_msg = msg;
                x->collect_node = at ? at : d;
            } else {
                free(msg);
            }
            return -1;
        }
        int v = json_is_true(json_object_get(args, "if"));
        json_decref(args);
        if (k == 0 && v) return 0;
        if (k == 1 && !v) return 0;
    }
    return 1;
}

/* Reports the CollectFields error (if any) as a field error at path; 1 when there was one. */
static int take_collect_error(exec_ctx *x, const path_seg *path) {
    if (!x->collect_msg) return 0;
    field_error(x, x->collect_msg, x->collect_node, path);
    x->collect_msg = NULL;
    x->collect_node = NULL;
    return 1;
}

static void drop_collect_error(exec_ctx *x) {
    free(x->collect_msg);
    x->collect_msg = NULL;
    x->collect_node = NULL;
}

static int fragment_applies(exec_ctx *x, const gql_node *cond, const gql_type *t) {
    if (!cond) return 1;
    const gql_type *ct = gql_schema_type(x->s, gql_name_str(cond));
    if (!ct) return 0;
    if (ct == t) return 1;
    if (gql_type_is_abstract(ct)) return gql_schema_is_sub_type(x->s, ct, t);
    return 0;
}

static void collect_fields(exec_ctx *x, const gql_type *t, const gql_node *sel_set,
                           field_groups *out, name_set *visited) {
    const gql_list *sels = &sel_set->u.selection_set.selections;
    for (size_t i = 0; i < sels->count && !x->oom && !x->collect_msg; i++) {
        const gql_node *sel = sels->items[i];
        switch (sel->kind) {
        case GQL_FIELD: {
            if (should_include(x, &sel->u.field.directives) != 1) continue;
            const char *key =
                gql_name_str(sel->u.field.alias ? sel->u.field.alias : sel->u.field.name);
            field_group *g = NULL;
            for (size_t k = 0; k < out->n; k++)
                if (strcmp(out->g[k].key, key) == 0) g = &out->g[k];
            if (!g) {
                if (grow(x, (void **)&out->g, &out->cap, out->n, sizeof *out->g)) return;
                g = &out->g[out->n++];
                *g = (field_group){key, NULL, 0, 0};
            }
            if (grow(x, (void **)&g->nodes, &g->cap, g->n, sizeof *g->nodes)) return;
            g->nodes[g->n++] = sel;
            break;
        }
        case GQL_INLINE_FRAGMENT:
            if (should_include(x, &sel->u.inline_fragment.directives) != 1) continue;
            if (!fragment_applies(x, sel->u.inline_fragment.type_condition, t)) continue;
            collect_fields(x, t, sel->u.inline_fragment.selection_set, out, visited);
            break;
        case GQL_FRAGMENT_SPREAD: {
            const char *name = gql_name_str(sel->u.fragment_spread.name);
            int seen = 0;
            for (size_t k = 0; k < visited->n; k++)
                if (strcmp(visited->v[k], name) == 0) seen = 1;
            if (seen || should_include(x, &sel->u.fragment_spread.directives) != 1) continue;
            if (grow(x, (void **)&visited->v, &visited->cap, visited->n, sizeof *visited->v))
                return;
            visited->v[visited->n++] = name;
            const gql_node *frag = find_fragment(x->doc, name);
            if (!frag || !fragment_applies(x, frag->u.fragment.type_condition, t)) continue;
            collect_fields(x, t, frag->u.fragment.selection_set, out, visited);
            break;
        }
        default:
            break;
        }
    }
}

static void group_error(exec_ctx *x, char *msg, const field_group *g, const path_seg *path) {
    field_error_code(x, msg, g->nodes, g->n, path, NULL);
}

/* Sub-fields of all nodes of a group, for object type t. */
static void collect_subfields(exec_ctx *x, const gql_type *t, const field_group *g,
                              field_groups *out) {
    name_set visited = {0};
    for (size_t i = 0; i < g->n; i++)
        if (g->nodes[i]->u.field.selection_set)
            collect_fields(x, t, g->nodes[i]->u.field.selection_set, out, &visited);
}

/* ---- introspection values ---- */

enum { IV_SCHEMA = 1, IV_TYPE, IV_FIELD, IV_INPUT, IV_ENUM, IV_DIRECTIVE };

static json_t *iv(int kind, const void *p) {
    json_t *o = json_object();
    json_object_set_new(o, "__iv", json_integer(kind));
    json_object_set_new(o, "__ip", json_integer((json_int_t)(intptr_t)p));
    return o;
}

static int iv_get(json_t *v, const void **p) {
    json_t *k = json_object_get(v, "__iv");
    if (!json_is_integer(k)) return 0;
    *p = (const void *)(intptr_t)json_integer_value(json_object_get(v, "__ip"));
    return (int)json_integer_value(k);
}

static json_t *str_or_null(const char *s) {
    return s ? json_string(s) : json_null();
}

/* print(astFromValue(value, type)) for default values. */
static void print_gql_string(gql_sb *sb, const char *s, size_t n) {
    gql_sb_add(sb, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            gql_sb_add(sb, "\\\"");
            break;
        case '\\':
            gql_sb_add(sb, "\\\\");
            break;
        case '\b':
            gql_sb_add(sb, "\\b");
            break;
        case '\f':
            gql_sb_add(sb, "\\f");
            break;
        case '\n':
            gql_sb_add(sb, "\\n");
            break;
        case '\r':
            gql_sb_add(sb, "\\r");
            break;
        case '\t':
            gql_sb_add(sb, "\\t");
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                gql_sb_addf(sb, "\\u%04X", c);
            else if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                     (unsigned char)s[i + 1] <= 0x9f) {
                gql_sb_addf(sb, "\\u%04X", (unsigned char)s[i + 1]);
                i++;
            } else
                gql_sb_addn(sb, (const char *)&s[i], 1);
        }
    }
    gql_sb_add(sb, "\"");
}

static int is_int_string(const char *s) {
    if (*s == '-') s++;
    if (*s == '0') return s[1] == 0;
    if (*s < '1' || *s > '9') return 0;
    while (*s >= '0' && *s <= '9')
        s++;
    return *s == 0;
}

/* Returns 0 when something was printed, -1 for "undefined". */
static int ast_from_value(gql_sb *sb, const json_t *v, const gql_tref *t) {
    if (t->kind == GQL_REF_NON_NULL) {
        if (json_is_null(v)) return -1;
        return ast_from_value(sb, v, t->of);
    }
    if (json_is_null(v)) {
        gql_sb_add(sb, "null");
        return 0;
    }
    if (t->kind == GQL_REF_LIST) {
        if (!json_is_array(v)) return ast_from_value(sb, v, t->of);
        gql_sb_add(sb, "[");
        size_t i;
        json_t *item;
        int first = 1;
        json_array_foreach(v, i, item) {
            gql_sb tmp = {0};
            if (ast_from_value(&tmp, item, t->of) == 0) {
                if (!first) gql_sb_add(sb, ", ");
                first = 0;
                gql_sb_add(sb, gql_sb_str(&tmp));
            }
            gql_sb_free(&tmp);
        }
        gql_sb_add(sb, "]");
        return 0;
    }
    const gql_type *nt = t->named;
    if (nt->kind == GQL_TYPE_INPUT_OBJECT) {
        if (!json_is_object(v)) return -1;
        gql_sb_add(sb, "{");
        int first = 1;
        for (size_t i = 0; i < nt->ninput_fields; i++) {
            json_t *fv = json_object_get(v, nt->input_fields[i].name);
            if (!fv) continue;
            gql_sb tmp = {0};
            if (ast_from_value(&tmp, fv, nt->input_fields[i].type) == 0) {
                if (!first) gql_sb_add(sb, ", ");
                first = 0;
                gql_sb_addf(sb, "%s: %s", nt->input_fields[i].name, gql_sb_str(&tmp));
            }
            gql_sb_free(&tmp);
        }
        gql_sb_add(sb, "}");
        return 0;
    }
    char num[64];
    if (json_is_boolean(v)) {
        gql_sb_add(sb, json_is_true(v) ? "true" : "false");
    } else if (json_is_number(v)) {
        json_number_js(num, sizeof num, v);
        gql_sb_add(sb, num);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (nt->kind == GQL_TYPE_ENUM)
            gql_sb_add(sb, s);
        else if (strcmp(nt->name, "ID") == 0 && is_int_string(s))
            gql_sb_add(sb, s);
        else
            print_gql_string(sb, s, json_string_length(v));
    } else if (json_is_object(v) || json_is_array(v)) {
        /* custom scalar with a structured default: print it as a GraphQL literal */
        if (json_is_array(v)) {
            gql_sb_add(sb, "[");
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item) {
                if (i) gql_sb_add(sb, ", ");
                ast_from_value(sb, item, t);
            }
            gql_sb_add(sb, "]");
        } else {
            gql_sb_add(sb, "{");
            const char *k;
            json_t *item;
            int first = 1;
            json_object_foreach((json_t *)v, k, item) {
                if (!first) gql_sb_add(sb, ", ");
                first = 0;
                gql_sb_addf(sb, "%s: ", k);
                ast_from_value(sb, item, t);
            }
            gql_sb_add(sb, "}");
        }
    } else {
        return -1;
    }
    return 0;
}

static json_t *default_value_str(const gql_schema *s, const gql_input_value *iv_) {
    if (!iv_->default_value) return json_null();
    json_t *v = NULL;
    if (gql_value_from_ast(s, iv_->type, iv_->default_value, NULL, &v) != 0) {
        char *p = gql_print(iv_->default_value, NULL);
        json_t *r = p ? json_string(p) : json_null();
        free(p);
        return r;
    }
    gql_sb sb = {0};
    json_t *r = ast_from_value(&sb, v, iv_->type) == 0 ? json_string(gql_sb_str(&sb)) : json_null();
    gql_sb_free(&sb);
    json_decref(v);
    return r;
}

static const char *type_kind_name(const gql_tref *t) {
    if (t->kind == GQL_REF_LIST) return "LIST";
    if (t->kind == GQL_REF_NON_NULL) return "NON_NULL";
    switch (t->named->kind) {
    case GQL_TYPE_SCALAR:
        return "SCALAR";
    case GQL_TYPE_OBJECT:
        return "OBJECT";
    case GQL_TYPE_INTERFACE:
        return "INTERFACE";
    case GQL_TYPE_UNION:
        return "UNION";
    case GQL_TYPE_ENUM:
        return "ENUM";
    case GQL_TYPE_INPUT_OBJECT:
        return "INPUT_OBJECT";
    }
    return "SCALAR";
}

static json_t *input_values_json(const gql_input_value *v, size_t n, int include_deprecated) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (include_deprecated || !v[i].deprecation_reason)
            json_array_append_new(a, iv(IV_INPUT, &v[i]));
    return a;
}

static json_t *types_json(gql_type *const *t, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, iv(IV_TYPE, &t[i]->ref));
    return a;
}

/* Resolves a field of an introspection type. */
static json_t *introspect_field(exec_ctx *x, json_t *parent, const char *fname, json_t *args) {
    const void *p = NULL;
    int kind = iv_get(parent, &p);
    int incl = json_is_true(json_object_get(args, "includeDeprecated"));
    const gql_schema *s = x->s;
    switch (kind) {
    case IV_SCHEMA:
        if (!strcmp(fname, "description")) return str_or_null(s->description);
        if (!strcmp(fname, "types")) return types_json(s->intro_types, s->ntypes);
        if (!strcmp(fname, "queryType"))
            return s->query ? iv(IV_TYPE, &s->query->ref) : json_null();
        if (!strcmp(fname, "mutationType"))
            return s->mutation ? iv(IV_TYPE, &s->mutation->ref) : json_null();
        if (!strcmp(fname, "subscriptionType"))
            return s->subscription ? iv(IV_TYPE, &s->subscription->ref) : json_null();
        if (!strcmp(fname, "directives")) {
            json_t *a = json_array();
            for (size_t i = 0; i < s->ndirectives; i++)
                json_array_append_new(a, iv(IV_DIRECTIVE, s->intro_directives[i]));
            return a;
        }
        break;
    case IV_TYPE: {
        const gql_tref *t = p;
        const gql_type *nt = t->kind == GQL_REF_NAMED ? t->named : NULL;
        if (!strcmp(fname, "kind")) return json_string(type_kind_name(t));
        if (!strcmp(fname, "ofType"))
            return t->kind == GQL_REF_NAMED ? json_null() : iv(IV_TYPE, t->of);
        if (!nt) return json_null();
        if (!strcmp(fname, "name")) return json_string(nt->name);
        if (!strcmp(fname, "description")) return str_or_null(nt->description);
        if (!strcmp(fname, "specifiedByURL"))
            return nt->kind == GQL_TYPE_SCALAR ? str_or_null(nt->specified_by_url) : json_null();
        if (!strcmp(fname, "isOneOf"))
            return nt->kind == GQL_TYPE_INPUT_OBJECT ? json_boolean(nt->one_of) : json_null();
        if (!strcmp(fname, "fields")) {
            if (nt->kind != GQL_TYPE_OBJECT && nt->kind != GQL_TYPE_INTERFACE) return json_null();
            json_t *a = json_array();
            for (size_t i = 0; i < nt->nfields; i++)
                if (incl || !nt->fields[i].deprecation_reason)
                    json_array_append_new(a, iv(IV_FIELD, &nt->fields[i]));
            return a;
        }
        if (!strcmp(fname, "interfaces")) {
            if (nt->kind != GQL_TYPE_OBJECT && nt->kind != GQL_TYPE_INTERFACE) return json_null();
            return types_json(nt->interfaces, nt->ninterfaces);
        }
        if (!strcmp(fname, "possibleTypes")) {
            if (!gql_type_is_abstract(nt)) return json_null();
            size_t n = 0;
            gql_type *const *pt = gql_schema_possible_types(s, nt, &n);
            return types_json(pt, n);
        }
        if (!strcmp(fname, "enumValues")) {
            if (nt->kind != GQL_TYPE_ENUM) return json_null();
            json_t *a = json_array();
            for (size_t i = 0; i < nt->nvalues; i++)
                if (incl || !nt->values[i].deprecation_reason)
                    json_array_append_new(a, iv(IV_ENUM, &nt->values[i]));
            return a;
        }
        if (!strcmp(fname, "inputFields")) {
            if (nt->kind != GQL_TYPE_INPUT_OBJECT) return json_null();
            return input_values_json(nt->input_fields, nt->ninput_fields, incl);
        }
        break;
    }
    case IV_FIELD: {
        const gql_field *f = p;
        if (!strcmp(fname, "name")) return json_string(f->name);
        if (!strcmp(fname, "description")) return str_or_null(f->description);
        if (!strcmp(fname, "args")) return input_values_json(f->args, f->nargs, incl);
        if (!strcmp(fname, "type")) return iv(IV_TYPE, f->type);
        if (!strcmp(fname, "isDeprecated")) return json_boolean(f->deprecation_reason != NULL);
        if (!strcmp(fname, "deprecationReason")) return str_or_null(f->deprecation_reason);
        break;
    }
    case IV_INPUT: {
        const gql_input_value *v = p;
        if (!strcmp(fname, "name")) return json_string(v->name);
        if (!strcmp(fname, "description")) return str_or_null(v->description);
        if (!strcmp(fname, "type")) return iv(IV_TYPE, v->type);
        if (!strcmp(fname, "defaultValue")) return default_value_str(s, v);
        if (!strcmp(fname, "isDeprecated")) return json_boolean(v->deprecation_reason != NULL);
        if (!strcmp(fname, "deprecationReason")) return str_or_null(v->deprecation_reason);
        break;
    }
    case IV_ENUM: {
        const gql_enum_value *v = p;
        if (!strcmp(fname, "name")) return json_string(v->name);
        if (!strcmp(fname, "description")) return str_or_null(v->description);
        if (!strcmp(fname, "isDeprecated")) return json_boolean(v->deprecation_reason != NULL);
        if (!strcmp(fname, "deprecationReason")) return str_or_null(v->deprecation_reason);
        break;
    }
    case IV_DIRECTIVE: {
        const gql_directive *d = p;
        if (!strcmp(fname, "name")) return json_string(d->name);
        if (!strcmp(fname, "description")) return str_or_null(d->description);
        if (!strcmp(fname, "isRepeatable")) return json_boolean(d->repeatable);
        if (!strcmp(fname, "locations")) {
            json_t *a = json_array();
            if (d->ast && d->ast->kind == GQL_DIRECTIVE_DEFINITION) { /* as written */
                const gql_list *l = &d->ast->u.directive_def.locations;
                for (size_t i = 0; i < l->count; i++)
                    json_array_append_new(a, json_string(gql_name_str(l->items[i])));
                /* graphql-js 16.15 declares @deprecated on DIRECTIVE_DEFINITION too, a location
                 * our parser (like the 2021 specification) does not know: listed here only */
                if (d->builtin && strcmp(d->name, "deprecated") == 0)
                    json_array_append_new(a, json_string("DIRECTIVE_DEFINITION"));
                return a;
            }
            for (int i = 0; i < GQL_DL_COUNT; i++)
                if (d->locations & (1u << i))
                    json_array_append_new(
                        a, json_string(gql_directive_location_name((gql_directive_location)i)));
            return a;
        }
        if (!strcmp(fname, "args")) return input_values_json(d->args, d->nargs, incl);
        break;
    }
    default:
        break;
    }
    return json_null();
}

/* ---- leaf serialisation (graphql-js serialize) ---- */

static json_t *serialize_leaf(const gql_type *t, json_t *v, char **msg) {
    gql_sb sb = {0};
    *msg = NULL;
    if (t->kind == GQL_TYPE_ENUM) {
        if (json_is_string(v) && gql_type_enum_value(t, json_string_value(v)))
            return json_incref(v);
        gql_sb_addf(&sb, "Enum \"%s\" cannot represent value: ", t->name);
        inspect(&sb, v);
        *msg = sb_take(&sb);
        return NULL;
    }
    if (!t->builtin) return json_incref(v);
    const char *n = t->name;
    double d = 0;
    int num = 0;
    if (json_is_boolean(v)) {
        d = json_is_true(v) ? 1 : 0;
        num = 1;
    } else if (json_is_number(v)) {
        d = json_number_value(v);
        num = 1;
    } else if (json_is_string(v) && json_string_length(v) > 0) {
        char *end;
        const char *s = json_string_value(v);
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        d = strtod(s, &end);
        while (*end == ' ' || *end == '\t' || *end == '\n')
            end++;
        num = *end == 0 && end != s && !strpbrk(s, "xXnN") ? 1 : -1; /* -1: NaN */
    }
    if (strcmp(n, "Int") == 0) {
        if (num != 1 || !isfinite(d) || d != floor(d)) {
            gql_sb_add(&sb, "Int cannot represent non-integer value: ");
            inspect(&sb, v);
        } else if (d > 2147483647.0 || d < -2147483648.0) {
            gql_sb_add(&sb, "Int cannot represent non 32-bit signed integer value: ");
            inspect(&sb, v);
        } else {
            return json_integer((json_int_t)d);
        }
    } else if (strcmp(n, "Float") == 0) {
        if (num == 1 && isfinite(d)) return json_is_integer(v) ? json_incref(v) : json_real(d);
        gql_sb_add(&sb, "Float cannot represent non numeric value: ");
        inspect(&sb, v);
    } else if (strcmp(n, "String") == 0) {
        if (json_is_string(v)) return json_incref(v);
        if (json_is_boolean(v)) return json_string(json_is_true(v) ? "true" : "false");
        if (json_is_number(v) && isfinite(json_number_value(v))) {
            char buf[64];
            json_number_js(buf, sizeof buf, v);
            return json_string(buf);
        }
        gql_sb_add(&sb, "String cannot represent value: ");
        inspect(&sb, v);
    } else if (strcmp(n, "Boolean") == 0) {
        if (json_is_boolean(v)) return json_incref(v);
        if (json_is_number(v) && isfinite(json_number_value(v)))
            return json_boolean(json_number_value(v) != 0);
        gql_sb_add(&sb, "Boolean cannot represent a non boolean value: ");
        inspect(&sb, v);
    } else if (strcmp(n, "ID") == 0) {
        if (json_is_string(v)) return json_incref(v);
        double dd;
        if (is_integral(v, &dd)) {
            char buf[64];
            js_number(buf, sizeof buf, dd);
            return json_string(buf);
        }
        gql_sb_add(&sb, "ID cannot represent value: ");
        inspect(&sb, v);
    } else {
        return json_incref(v);
    }
    *msg = sb_take(&sb);
    return NULL;
}

/* ---- runtime limits: deadline and response size ---- */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* 1 when the field at path must not run: the deadline passed now (the first such field gets the
 * error, with extensions.code "deadline_exceeded") or earlier, or the response grew too large. */
static int cut_here(exec_ctx *x, const field_group *g, const path_seg *path) {
    if (x->cut) return 1;
    if (!x->deadline_ns || now_ns() < x->deadline_ns) return 0;
    x->cut = CUT_DEADLINE;
    if (json_array_size(x->errors) >= x->max_errors) x->max_errors = json_array_size(x->errors) + 1;
    field_error_code(x,
                     dupf("Execution time limit of %u ms exceeded: this field and the fields after "
                          "it were not executed.",
                          x->o->timeout_ms),
                     g->nodes, g->n, path, "deadline_exceeded");
    return 1;
}

/* Adds n bytes to the estimate of the serialised data; past the limit, execution stops and the
 * response becomes a single error (gql_execute). */
static void account(exec_ctx *x, size_t n, const path_seg *path) {
    x->out_bytes += n;
    if (!x->max_bytes || x->out_bytes <= x->max_bytes || x->cut == CUT_SIZE) return;
    x->cut = CUT_SIZE;
    x->cut_msg = dupf("The response exceeds the size limit of %zu bytes: ask for fewer fields or "
                      "smaller pages.",
                      x->max_bytes);
    x->cut_path = path ? path_json(path) : NULL;
}

/* Serialised size of a leaf value (strings without their escapes). */
static size_t leaf_bytes(const json_t *v) {
    if (json_is_string(v)) return json_string_length(v) + 2;
    if (json_is_number(v)) return 12;
    return 5;
}

/* ---- execution ---- */

static json_t *execute_fields(exec_ctx *x, const gql_type *t, json_t *parent, field_groups *fg,
                              const path_seg *path, int prefetched);

static void fill_info(exec_ctx *x, gql_resolve_info *info, const gql_type *t, const gql_field *f,
                      const gql_node *node, const res_entry *re) {
    info->schema = x->s;
    info->parent_type = t;
    info->field = f;
    info->field_node = node;
    info->variables = x->vars;
    info->operation = x->op->u.operation.operation;
    info->ctx = x->o->ctx;
    info->ud = re ? re->ud : NULL;
    info->error_code = NULL;
}

/* Prefetch: every (parent, args) pair of each field with a hook, over `parents`. */
static void prefetch_fields(exec_ctx *x, const gql_type *t, json_t *const *parents, size_t np,
                            field_groups *fg) {
    if (x->op->u.operation.operation == GQL_OP_MUTATION && t == x->s->mutation) return;
    if (x->cut) return;
    for (size_t i = 0; i < fg->n; i++) {
        const char *fname = gql_name_str(fg->g[i].nodes[0]->u.field.name);
        const gql_field *f = gql_type_field(t, fname);
        const res_entry *re = f ? find_resolver(x->r, t, f) : NULL;
        if (!re || !re->prefetch) continue;
        /* only once per field definition: the first group naming it takes all aliases */
        int earlier = 0;
        for (size_t k = 0; k < i; k++)
            if (strcmp(gql_name_str(fg->g[k].nodes[0]->u.field.name), fname) == 0) earlier = 1;
        if (earlier) continue;
        json_t *calls = json_array();
        for (size_t k = i; k < fg->n; k++) {
            if (strcmp(gql_name_str(fg->g[k].nodes[0]->u.field.name), fname) != 0) continue;
            char *msg = NULL;
            const gql_node *at = NULL;
            json_t *args = argument_values(
                x->s, f->args, f->nargs, &fg->g[k].nodes[0]->u.field.arguments, x->vars, &msg, &at);
            free(msg);
            if (!args) continue;
            for (size_t p = 0; p < np; p++)
                json_array_append_new(calls, json_pack("[O,O]", parents[p], args));
            json_decref(args);
        }
        gql_resolve_info info;
        fill_info(x, &info, t, f, fg->g[i].nodes[0], re);
        if (json_array_size(calls) > 0) re->prefetch(&info, calls);
        json_decref(calls);
    }
}

/* prefetch_fields, then through the sub-fields that simply read an object property (no
 * resolver, a non-list object type: e.g. a Relay edge's `node`): the children of all parents are
 * prefetched together too, so `edges { node { homeClub } }` batches over the whole page. */
static void prefetch_deep(exec_ctx *x, const gql_type *t, json_t *const *parents, size_t np,
                          field_groups *fg, int depth) {
    prefetch_fields(x, t, parents, np, fg);
    if (depth >= 4 || np < 2) return;
    for (size_t i = 0; i < fg->n; i++) {
        const char *fname = gql_name_str(fg->g[i].nodes[0]->u.field.name);
        const gql_field *f = gql_type_field(t, fname);
        if (!f || find_resolver(x->r, t, f)) continue;
        const gql_tref *ft = f->type->kind == GQL_REF_NON_NULL ? f->type->of : f->type;
        if (ft->kind != GQL_REF_NAMED || ft->named->kind != GQL_TYPE_OBJECT) continue;
        json_t **kids = calloc(np, sizeof *kids);
        if (!kids) return;
        size_t nk = 0;
        for (size_t p = 0; p < np; p++) {
            json_t *c = json_is_object(parents[p]) ? json_object_get(parents[p], f->name) : NULL;
            if (json_is_object(c)) kids[nk++] = c;
        }
        if (nk > 1) {
            field_groups sub = {0};
            collect_subfields(x, ft->named, &fg->g[i], &sub);
            drop_collect_error(x); /* reported when each value completes */
            prefetch_deep(x, ft->named, kids, nk, &sub, depth + 1);
        }
        free(kids);
    }
}

static const gql_type *resolve_abstract(exec_ctx *x, const gql_type *abstract, json_t *v,
                                        const gql_field *f, const field_group *g,
                                        const path_seg *path) {
    const gql_node *node = g->nodes[0];
    const char *name = NULL;
    const type_entry *te = x->r ? &x->r->types[abstract->index] : NULL;
    if (te && te->resolve_type) {
        gql_resolve_info info;
        fill_info(x, &info, f->owner, f, node, NULL);
        info.ud = te->ud;
        name = te->resolve_type(&info, v, te->ud);
    } else {
        name = json_string_value(json_object_get(v, "__typename"));
    }
    if (!name) {
        group_error(x,
                    dupf("Abstract type \"%s\" must resolve to an Object type at runtime for "
                         "field \"%s.%s\". Either the \"%s\" type should provide a \"resolveType\" "
                         "function or each possible type should provide an \"isTypeOf\" function.",
                         abstract->name, f->owner->name, f->name, abstract->name),
                    g, path);
        return NULL;
    }
    const gql_type *rt = gql_schema_type(x->s, name);
    if (!rt) {
        group_error(x,
                    dupf("Abstract type \"%s\" was resolved to a type \"%s\" that does not exist "
                         "inside the schema.",
                         abstract->name, name),
                    g, path);
        return NULL;
    }
    if (rt->kind != GQL_TYPE_OBJECT) {
        group_error(x,
                    dupf("Abstract type \"%s\" was resolved to a non-object type \"%s\".",
                         abstract->name, name),
                    g, path);
        return NULL;
    }
    if (!gql_schema_is_sub_type(x->s, abstract, rt)) {
        group_error(x,
                    dupf("Runtime Object type \"%s\" is not a possible type for \"%s\".", name,
                         abstract->name),
                    g, path);
        return NULL;
    }
    return rt;
}

/* Items of a list of an abstract type: group them by runtime object type (asking resolveType /
 * __typename once more, silently: errors are reported when each item completes) and prefetch
 * each group of 2+ items at once. Returns a malloc'd array: per item the object type whose group
 * was prefetched, or NULL (NULL when out of memory). */
static const gql_type **prefetch_abstract_items(exec_ctx *x, const gql_type *abstract,
                                                const gql_field *f, const field_group *g,
                                                json_t *items) {
    size_t n = json_array_size(items);
    json_t **parents = calloc(n ? n : 1, sizeof *parents);
    const gql_type **types = calloc(n, sizeof *types);
    unsigned char *done = calloc(n, 1);
    if (!parents || !types || !done) goto fail;
    const type_entry *te = &x->r->types[abstract->index];
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(items, i);
        const char *name = NULL;
        if (json_is_null(v)) continue;
        if (te->resolve_type) {
            gql_resolve_info info;
            fill_info(x, &info, f->owner, f, g->nodes[0], NULL);
            info.ud = te->ud;
            name = te->resolve_type(&info, v, te->ud);
        } else {
            name = json_string_value(json_object_get(v, "__typename"));
        }
        const gql_type *rt = name ? gql_schema_type(x->s, name) : NULL;
        if (rt && rt->kind == GQL_TYPE_OBJECT && gql_schema_is_sub_type(x->s, abstract, rt))
            types[i] = rt;
    }
    for (size_t i = 0; i < n; i++) {
        const gql_type *rt = types[i];
        if (!rt || done[i]) continue;
        size_t np = 0;
        for (size_t k = i; k < n; k++)
            if (types[k] == rt) {
                parents[np++] = json_array_get(items, k);
                done[k] = 1;
            }
        if (np > 1) {
            field_groups sub = {0};
            collect_subfields(x, rt, g, &sub);
            drop_collect_error(x);
            prefetch_deep(x, rt, parents, np, &sub, 0);
        } else {
            types[i] = NULL; /* alone: prefetched as usual when it completes */
        }
    }
    free(parents);
    free(done);
    return types;
fail:
    free(parents);
    free((void *)types);
    free(done);
    return NULL;
}

/* CompleteValue. Returns a new reference; NULL = null because of an error already recorded
 * (propagates through non-null). */
static json_t *complete_value(exec_ctx *x, const gql_tref *t, const gql_field *f,
                              const field_group *g, const path_seg *path, json_t *v);

static json_t *complete_list(exec_ctx *x, const gql_tref *t, const gql_field *f,
                             const field_group *g, const path_seg *path, json_t *v) {
    if (!json_is_array(v)) {
        group_error(x,
                    dupf("Expected Iterable, but did not find one for field \"%s.%s\".",
                         f->owner->name, f->name),
                    g, path);
        return NULL;
    }
    const gql_tref *item_t = t->of;
    const gql_type *nt = gql_tref_named(item_t);
    account(x, 2 + json_array_size(v), path);
    /* batch: prefetch the sub-fields of all items at once (concrete object item types) */
    int prefetched = 0;
    const gql_type **grouped = NULL;
    if (gql_type_is_abstract(nt) && json_array_size(v) > 1 && x->r)
        grouped = prefetch_abstract_items(x, nt, f, g, v);
    if (nt->kind == GQL_TYPE_OBJECT && json_array_size(v) > 1 && x->r) {
        field_groups sub = {0};
        collect_subfields(x, nt, g, &sub);
        drop_collect_error(x);
        size_t n = json_array_size(v);
        json_t **parents = calloc(n ? n : 1, sizeof *parents);
        if (parents) {
            size_t np = 0;
            for (size_t i = 0; i < n; i++)
                if (!json_is_null(json_array_get(v, i))) parents[np++] = json_array_get(v, i);
            prefetch_deep(x, nt, parents, np, &sub, 0);
            prefetched = 1;
            free(parents);
        }
    }
    json_t *out = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        path_seg p = {path, NULL, i};
        json_t *c;
        if (prefetched && nt->kind == GQL_TYPE_OBJECT && !json_is_null(item) &&
            (item_t->kind == GQL_REF_NAMED ||
             (item_t->kind == GQL_REF_NON_NULL && item_t->of->kind == GQL_REF_NAMED))) {
            field_groups sub = {0};
            collect_subfields(x, nt, g, &sub);
            c = take_collect_error(x, &p) ? NULL : execute_fields(x, nt, item, &sub, &p, 1);
        } else if (grouped && grouped[i] &&
                   (item_t->kind == GQL_REF_NAMED ||
                    (item_t->kind == GQL_REF_NON_NULL && item_t->of->kind == GQL_REF_NAMED))) {
            /* CompleteValue for an abstract item whose group was prefetched */
            const gql_type *rt = resolve_abstract(x, nt, item, f, g, &p);
            c = NULL;
            if (rt) {
                field_groups sub = {0};
                collect_subfields(x, rt, g, &sub);
                if (!take_collect_error(x, &p))
                    c = execute_fields(x, rt, item, &sub, &p, rt == grouped[i]);
            }
        } else {
            c = complete_value(x, item_t, f, g, &p, item);
        }
        if (!c) {
            if (item_t->kind == GQL_REF_NON_NULL) {
                free((void *)grouped);
                json_decref(out);
                return NULL;
            }
            c = json_null();
        }
        json_array_append_new(out, c);
    }
    free((void *)grouped);
    return out;
}

static json_t *complete_value(exec_ctx *x, const gql_tref *t, const gql_field *f,
                              const field_group *g, const path_seg *path, json_t *v) {
    if (x->oom) return NULL;
    if (t->kind == GQL_REF_NON_NULL) {
        json_t *c = complete_value(x, t->of, f, g, path, v);
        if (!c) return NULL;
        if (json_is_null(c)) {
            json_decref(c);
            group_error(
                x,
                dupf("Cannot return null for non-nullable field %s.%s.", f->owner->name, f->name),
                g, path);
            return NULL;
        }
        return c;
    }
    if (!v || json_is_null(v)) return json_null();
    if (t->kind == GQL_REF_LIST) return complete_list(x, t, f, g, path, v);
    const gql_type *nt = t->named;
    if (gql_type_is_leaf(nt)) {
        char *msg = NULL;
        json_t *r = serialize_leaf(nt, v, &msg);
        if (!r) group_error(x, msg ? msg : strdup("cannot serialize"), g, path);
        if (r) account(x, leaf_bytes(r), path);
        return r;
    }
    const gql_type *rt = nt;
    if (gql_type_is_abstract(nt)) {
        rt = resolve_abstract(x, nt, v, f, g, path);
        if (!rt) return NULL;
    }
    field_groups sub = {0};
    collect_subfields(x, rt, g, &sub);
    if (take_collect_error(x, path)) return NULL;
    return execute_fields(x, rt, v, &sub, path, 0);
}

/* ExecuteField: returns the completed value, json null, or NULL when the field is non-null and
 * failed (the parent must become null). */
static json_t *execute_field(exec_ctx *x, const gql_type *t, json_t *parent, const field_group *g,
                             const path_seg *path) {
    const gql_node *node = g->nodes[0];
    const char *fname = gql_name_str(node->u.field.name);
    const gql_field *f = gql_schema_field(x->s, t, fname);
    if (!f) return json_null(); /* validation prevents this; graphql-js returns undefined */
    if (cut_here(x, g, path)) return gql_tref_is_non_null(f->type) ? NULL : json_null();
    if (strcmp(fname, "__typename") == 0) return json_string(t->name);
    if ((strcmp(fname, "__schema") == 0 || strcmp(fname, "__type") == 0) && t == x->s->query &&
        x->o->introspection == GQL_INTROSPECTION_OFF) {
        group_error(x, strdup("GraphQL introspection is not allowed here."), g, path);
        return gql_tref_is_non_null(f->type) ? NULL : json_null();
    }
    char *msg = NULL;
    const gql_node *at = NULL;
    json_t *args =
        argument_values(x->s, f->args, f->nargs, &node->u.field.arguments, x->vars, &msg, &at);
    json_t *resolved = NULL;
    if (!args) {
        /* graphql-js getArgumentValues: at the argument value (or the first field node) */
        field_error(x, msg, at ? at : node, path);
        return gql_tref_is_non_null(f->type) ? NULL : json_null();
    }
    if (strcmp(fname, "__schema") == 0 && t == x->s->query) {
        resolved = iv(IV_SCHEMA, x->s);
    } else if (strcmp(fname, "__type") == 0 && t == x->s->query) {
        const gql_type *nt =
            gql_schema_type(x->s, json_string_value(json_object_get(args, "name")));
        resolved = nt ? iv(IV_TYPE, &nt->ref) : json_null();
    } else if (t->name[0] == '_' && t->name[1] == '_' && t->builtin) {
        resolved = introspect_field(x, parent, fname, args);
    } else {
        const res_entry *re = find_resolver(x->r, t, f);
        if (re) {
            gql_resolve_info info;
            fill_info(x, &info, t, f, node, re);
            char *err = NULL, code[GQL_ERROR_CODE_MAX] = "";
            info.error_code = code;
            if (re->fn(&info, parent, args, &resolved, &err) != 0) {
                json_decref(resolved);
                json_decref(args);
                field_error_code(x, err ? err : strdup("resolver failed"), g->nodes, g->n, path,
                                 code);
                return gql_tref_is_non_null(f->type) ? NULL : json_null();
            }
            free(err);
        } else {
            json_t *pv = json_is_object(parent) ? json_object_get(parent, f->name) : NULL;
            resolved = pv ? json_incref(pv) : NULL;
        }
    }
    json_decref(args);
    json_t *c = complete_value(x, f->type, f, g, path, resolved);
    json_decref(resolved);
    if (!c) return gql_tref_is_non_null(f->type) ? NULL : json_null();
    return c;
}

static json_t *execute_fields(exec_ctx *x, const gql_type *t, json_t *parent, field_groups *fg,
                              const path_seg *path, int prefetched) {
    if (!prefetched && x->r) prefetch_fields(x, t, &parent, 1, fg);
    json_t *out = json_object();
    account(x, 2, path);
    for (size_t i = 0; i < fg->n; i++) {
        path_seg p = {path, fg->g[i].key, 0};
        account(x, strlen(fg->g[i].key) + 4, &p);
        json_t *v = execute_field(x, t, parent, &fg->g[i], &p);
        if (v && json_is_null(v)) account(x, 4, &p);
        if (!v || x->oom) {
            json_decref(v);
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, fg->g[i].key, v);
    }
    return out;
}

/* ---- introspection detection ---- */

typedef struct frag_index {
    const gql_node **defs; /* fragment definitions sorted by name */
    unsigned char *seen;
    size_t n;
    int oom;
} frag_index;

static int cmp_frag(const void *a, const void *b) {
    const gql_node *x = *(const gql_node *const *)a, *y = *(const gql_node *const *)b;
    return strcmp(gql_name_str(x->u.fragment.name), gql_name_str(y->u.fragment.name));
}

static long frag_find(const frag_index *fi, const char *name) {
    size_t lo = 0, hi = fi->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(gql_name_str(fi->defs[mid]->u.fragment.name), name);
        if (c == 0) return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Root-level __schema/__type in this selection set, through inline fragments and fragment
 * spreads (every fragment visited once: linear in the document, whatever the spreads). */
static int sel_uses_introspection(frag_index *fi, const gql_node *set) {
    const gql_list *sels = &set->u.selection_set.selections;
    for (size_t i = 0; i < sels->count; i++) {
        const gql_node *s = sels->items[i];
        if (s->kind == GQL_FIELD) {
            const char *n = gql_name_str(s->u.field.name);
            if (strcmp(n, "__schema") == 0 || strcmp(n, "__type") == 0) return 1;
        } else if (s->kind == GQL_INLINE_FRAGMENT) {
            if (sel_uses_introspection(fi, s->u.inline_fragment.selection_set)) return 1;
        } else if (s->kind == GQL_FRAGMENT_SPREAD) {
            long k = frag_find(fi, gql_name_str(s->u.fragment_spread.name));
            if (k < 0 || fi->seen[k]) continue;
            fi->seen[k] = 1;
            if (sel_uses_introspection(fi, fi->defs[k]->u.fragment.selection_set)) return 1;
        }
    }
    return 0;
}

int gql_uses_introspection(const gql_document *doc, const gql_node *operation) {
    const gql_list *defs = &doc->root->u.document.definitions;
    frag_index fi = {0};
    fi.defs = malloc((defs->count ? defs->count : 1) * sizeof *fi.defs);
    fi.seen = calloc(defs->count ? defs->count : 1, 1);
    if (!fi.defs || !fi.seen) {
        free(fi.defs), free(fi.seen);
        return 1; /* out of memory: treat as introspection (refused when not allowed) */
    }
    for (size_t i = 0; i < defs->count; i++)
        if (defs->items[i]->kind == GQL_FRAGMENT_DEFINITION) fi.defs[fi.n++] = defs->items[i];
    qsort(fi.defs, fi.n, sizeof *fi.defs, cmp_frag);
    int r = sel_uses_introspection(&fi, operation->u.operation.selection_set);
    free(fi.defs), free(fi.seen);
    return r;
}

/* ---- execute ---- */

json_t *gql_execute(const gql_schema *s, const gql_resolvers *r, const gql_document *doc,
                    const gql_exec_opts *o, gql_exec_status *status) {
    static const gql_exec_opts defaults = {0};
    if (!o) o = &defaults;
    json_t *resp = json_object();
    json_t *errors = json_array();
    *status = GQL_EXEC_OK;
    if (!resp || !errors) {
        json_decref(resp), json_decref(errors);
        *status = GQL_EXEC_INTERNAL;
        return NULL;
    }
    const char *msg = NULL;
    const gql_node *op = gql_exec_operation(doc, o->operation_name, &msg);
    if (!op) {
        char *m = dupf(msg, o->operation_name ? o->operation_name : "");
        request_error(errors, m ? m : msg, NULL);
        free(m);
        *status = GQL_EXEC_REQUEST_ERROR;
        goto done_no_data;
    }
    gql_operation kind = op->u.operation.operation;
    if (o->allowed_operations && !(o->allowed_operations & (1u << kind))) {
        char *m =
            dupf("Can only perform a %s operation from a POST request.", gql_operation_name(kind));
        request_error(errors, m ? m : "operation not allowed", op);
        free(m);
        *status = GQL_EXEC_NOT_ALLOWED;
        goto done_no_data;
    }
    const gql_type *root = gql_schema_root(s, kind);
    if (!root) {
        char *m =
            dupf("Schema is not configured to execute %s operation.", gql_operation_name(kind));
        request_error(errors, m ? m : "no root type", op);
        free(m);
        *status = GQL_EXEC_REQUEST_ERROR;
        goto done_no_data;
    }
    if (o->introspection == GQL_INTROSPECTION_OFF && gql_uses_introspection(doc, op)) {
        request_error(errors,
                      "GraphQL introspection has been disabled, but the requested query "
                      "contained the field \"__schema\" or \"__type\".",
                      op);
        *status = GQL_EXEC_REQUEST_ERROR;
        goto done_no_data;
    }
    json_t *vars = NULL;
    if (o->variables && !json_is_object(o->variables)) {
        request_error(errors,
                      "Variables must be provided as an Object where each property is a "
                      "variable value.",
                      NULL);
        *status = GQL_EXEC_REQUEST_ERROR;
        goto done_no_data;
    }
    if (gql_coerce_variables(s, op, o->variables, &vars, errors) != 0) {
        *status = GQL_EXEC_REQUEST_ERROR;
        goto done_no_data;
    }
    exec_ctx x = {.s = s, .r = r, .doc = doc, .op = op, .o = o, .vars = vars, .errors = errors};
    x.max_errors = o->max_errors ? o->max_errors : 100;
    x.max_bytes = o->max_response_bytes;
    if (o->timeout_ms) x.deadline_ns = now_ns() + (uint64_t)o->timeout_ms * 1000000u;
    gql_arena_init(&x.arena, 0);
    json_t *root_value = o->root_value ? json_incref(o->root_value) : json_object();
    field_groups fg = {0};
    name_set visited = {0};
    collect_fields(&x, root, op->u.operation.selection_set, &fg, &visited);
    json_t *data = NULL;
    if (!take_collect_error(&x, NULL) && !x.oom) /* root: data null (graphql-js) */
        data = execute_fields(&x, root, root_value, &fg, NULL, 0);
    json_decref(root_value);
    gql_arena_free(&x.arena);
    json_decref(vars);
    if (o->built_bytes) *o->built_bytes = x.out_bytes;
    if (x.oom || (x.cut == CUT_SIZE && !x.cut_msg)) {
        json_decref(data);
        json_decref(x.cut_path);
        json_decref(resp), json_decref(errors);
        *status = GQL_EXEC_INTERNAL;
        return NULL;
    }
    if (x.cut == CUT_SIZE) { /* nothing of the oversized data is sent: one error, data null */
        json_decref(data);
        data = NULL;
        json_array_clear(errors);
        json_t *e = json_pack("{s:s}", "message", x.cut_msg);
        if (x.cut_path) json_object_set_new(e, "path", x.cut_path);
        json_object_set_new(e, "extensions", json_pack("{s:s}", "code", "response_too_large"));
        json_array_append_new(errors, e);
        free(x.cut_msg);
    }
    if (json_array_size(errors) > 0)
        json_object_set_new(resp, "errors", errors);
    else
        json_decref(errors);
    json_object_set_new(resp, "data", data ? data : json_null());
    return resp;
done_no_data:
    json_object_set_new(resp, "errors", errors);
    return resp;
}
