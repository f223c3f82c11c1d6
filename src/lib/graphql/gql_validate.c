/* gql_validate: see gql_validate.h. The structure follows graphql-js: a TypeInfo that tracks
 * types while walking the AST (enter before the rules, leave after them), the rules as enter/leave
 * handlers called in specifiedRules order with per-rule subtree skipping (a rule that "returns
 * false" does not see the subtree), and the ValidationContext helpers (fragment spreads,
 * recursively referenced fragments, variable usages with their expected types). */
#include "lib/graphql/gql_validate.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/graphql/gql_print.h"

enum {
    R_EXEC,
    R_UNIQUE_OP,
    R_LONE_ANON,
    R_SINGLE_SUB,
    R_KNOWN_TYPES,
    R_FRAG_COMPOSITE,
    R_VARS_INPUT,
    R_SCALAR_LEAFS,
    R_FIELDS_CORRECT,
    R_UNIQUE_FRAG,
    R_KNOWN_FRAG,
    R_NO_UNUSED_FRAG,
    R_POSSIBLE_SPREADS,
    R_NO_FRAG_CYCLES,
    R_UNIQUE_VARS,
    R_NO_UNDEF_VARS,
    R_NO_UNUSED_VARS,
    R_KNOWN_DIRS,
    R_UNIQUE_DIRS,
    R_KNOWN_ARGS,
    R_UNIQUE_ARGS,
    R_VALUES,
    R_PROVIDED_ARGS,
    R_VARS_ALLOWED,
    R_OVERLAP,
    R_UNIQUE_INPUT,
    R_MAX_INTRO,
    R_COUNT
};

#define STACK_MAX 1100 /* parser nesting is capped at 1000 */

typedef struct ptr_vec {
    const void **items;
    size_t count, cap;
} ptr_vec;

typedef struct smap { /* name -> value; keys are not owned */
    const char **keys;
    uintptr_t *vals;
    size_t count, cap;
} smap;

typedef struct pslot {
    uintptr_t a, b, val;
    bool used;
} pslot;

typedef struct pmap { /* (a, b) -> value */
    pslot *slots;
    size_t count, cap;
} pmap;

typedef struct tinfo {
    const gql_schema *s;
    const gql_tref *type_stack[STACK_MAX];
    size_t ntype;
    const gql_type *parent_stack[STACK_MAX];
    size_t nparent;
    const gql_tref *input_stack[STACK_MAX];
    size_t ninput;
    const gql_field *field_stack[STACK_MAX];
    size_t nfield;
    const gql_node *default_stack[STACK_MAX];
    size_t ndefault;
    const gql_directive *directive;
    const gql_input_value *argument;
} tinfo;

typedef struct usage {
    const gql_node *node; /* VARIABLE */
    const gql_tref *type;
    const gql_node *default_value;
    const gql_tref *parent_type;
} usage;

typedef struct usage_vec {
    usage *items;
    size_t count, cap;
} usage_vec;

typedef struct vctx vctx;

typedef struct walker {
    vctx *v;
    tinfo *ti;
    int (*enter)(struct walker *w, const gql_node *n, const gql_node *parent);
    void (*leave)(struct walker *w, const gql_node *n, const gql_node *parent);
    usage_vec *usages; /* variable-usage walks */
    const gql_node *skip[R_COUNT];
    const gql_node *topdef;
    const gql_node *ancestors[STACK_MAX]; /* nodes only, root first */
    size_t nanc;
} walker;

struct vctx {
    const gql_schema *s;
    const gql_document *doc;
    const gql_validate_opts *o;
    gql_errors *errs;
    size_t start_count;
    unsigned max_errors;
    gql_arena arena;
    jmp_buf abort;
    bool oom;
    long fragment_work;
    long complexity;
    tinfo ti;
    /* fragments */
    const gql_node **frags;
    size_t nfrags;
    smap frag_by_name; /* name -> the last FRAGMENT_DEFINITION of that name */
    pmap memo;         /* (node, MEMO_*) -> the helpers' memoised results */
    smap refs_memo;    /* sorted spread names -> ptr_vec* of fragments (graphql-js SetMap) */
    /* rule state */
    size_t operation_count;
    smap known_ops, known_frags; /* name -> its first NAME node */
    ptr_vec op_defs, frag_defs;  /* NoUnusedFragments */
    ptr_vec var_defined;         /* NoUndefinedVariables: VARIABLE_DEFINITION nodes */
    ptr_vec var_defs_unused;     /* NoUnusedVariables */
    ptr_vec var_defs_allowed;    /* VariablesInAllowedPosition */
    smap cycle_visited;          /* NoFragmentCycles: names visited */
    ptr_vec spread_path;         /* NoFragmentCycles */
    smap spread_path_index;      /* name on the current DFS path -> its start index + 1 (0: none) */
    ptr_vec input_names_stack;   /* UniqueInputFieldNames: per object value, smap* name -> NAME */
    ptr_vec type_dir_seen;       /* UniqueDirectivesPerLocation for SDL nodes: DIRECTIVE nodes */
    ptr_vec type_dir_owner;      /* parallel: type name (const char*) */
    const gql_node *sub_fragments_ready;
    smap intro_checked, intro_exceeded; /* MaxIntrospectionDepth: name -> entry depth + 1 */
    /* OverlappingFields */
    struct ofc *of;
    struct walker *usage_walker; /* variable_usages() */
    /* our limits */
    unsigned limit_nesting;
};

enum {                   /* second key of vctx.memo */
       MEMO_SPREADS = 1, /* selection set -> ptr_vec* of its spreads */
       MEMO_USAGES,      /* operation or fragment -> usage_vec* (own variable usages) */
       MEMO_REC_USAGES,  /* operation -> usage_vec* (recursive) */
       MEMO_FRAG_USAGES, /* ptr_vec* of fragments -> usage_vec* */
       MEMO_LIMITS,      /* fragment -> frag_memo* (our limits) */
};

/* ---- memory helpers ---- */

static void *V_alloc(vctx *v, size_t n) {
    void *p = gql_arena_alloc(&v->arena, n ? n : 1);
    if (!p) {
        v->oom = true;
        longjmp(v->abort, 2);
    }
    return p;
}

static void pv_push(vctx *v, ptr_vec *pv, const void *p) {
    if (pv->count == pv->cap) {
        size_t nc = pv->cap ? pv->cap * 2 : 16;
        const void **ni = V_alloc(v, nc * sizeof *ni);
        if (pv->count) memcpy(ni, pv->items, pv->count * sizeof *ni);
        pv->items = ni;
        pv->cap = nc;
    }
    pv->items[pv->count++] = p;
}

static void uv_push(vctx *v, usage_vec *uv, usage u) {
    if (uv->count == uv->cap) {
        size_t nc = uv->cap ? uv->cap * 2 : 16;
        usage *ni = V_alloc(v, nc * sizeof *ni);
        if (uv->count) memcpy(ni, uv->items, uv->count * sizeof *ni);
        uv->items = ni;
        uv->cap = nc;
    }
    uv->items[uv->count++] = u;
}

/* ---- hash maps in the arena (no removal): names -> value, pointer pairs -> value ----
 * Every lookup a rule does per fragment, name or selection set goes through these, so no rule is
 * quadratic in the number of fragments, spreads or aliases of a document. */

static uint64_t str_hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static uint64_t pair_hash(uintptr_t a, uintptr_t b) {
    uint64_t h = (uint64_t)a * 0x9E3779B97F4A7C15ull ^ ((uint64_t)b + 0x632BE59BD9B4E019ull);
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}

static void sm_grow(vctx *v, smap *m);

/* The value slot of key, created (0) when create is set; NULL when absent. */
static uintptr_t *sm_slot(vctx *v, smap *m, const char *key, bool create) {
    if (create && (m->count + 1) * 2 > m->cap) sm_grow(v, m);
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)str_hash(key) & mask;; i = (i + 1) & mask) {
        if (!m->keys[i]) {
            if (!create) return NULL;
            m->keys[i] = key;
            m->vals[i] = 0;
            m->count++;
            return &m->vals[i];
        }
        if (strcmp(m->keys[i], key) == 0) return &m->vals[i];
    }
}

static void sm_grow(vctx *v, smap *m) {
    smap old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->count = 0;
    m->keys = V_alloc(v, m->cap * sizeof *m->keys);
    m->vals = V_alloc(v, m->cap * sizeof *m->vals);
    memset(m->keys, 0, m->cap * sizeof *m->keys);
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i]) *sm_slot(v, m, old.keys[i], true) = old.vals[i];
}

static bool sm_get(const smap *m, const char *key, uintptr_t *val) {
    uintptr_t *p = sm_slot(NULL, (smap *)m, key, false);
    if (p && val) *val = *p;
    return p != NULL;
}

static void pm_grow(vctx *v, pmap *m);

static uintptr_t *pm_slot(vctx *v, pmap *m, uintptr_t a, uintptr_t b, bool create) {
    if (create && (m->count + 1) * 2 > m->cap) pm_grow(v, m);
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)pair_hash(a, b) & mask;; i = (i + 1) & mask) {
        pslot *s = &m->slots[i];
        if (!s->used) {
            if (!create) return NULL;
            *s = (pslot){a, b, 0, true};
            m->count++;
            return &s->val;
        }
        if (s->a == a && s->b == b) return &s->val;
    }
}

static void pm_grow(vctx *v, pmap *m) {
    pmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->count = 0;
    m->slots = V_alloc(v, m->cap * sizeof *m->slots);
    memset(m->slots, 0, m->cap * sizeof *m->slots);
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].used)
            *pm_slot(v, m, old.slots[i].a, old.slots[i].b, true) = old.slots[i].val;
}

static uintptr_t pm_get(const pmap *m, uintptr_t a, uintptr_t b) {
    uintptr_t *p = pm_slot(NULL, (pmap *)m, a, b, false);
    return p ? *p : 0;
}

/* ---- errors ---- */

static void report_msg(vctx *v, const gql_node *const *nodes, size_t n, const char *msg) {
    if (v->errs->count - v->start_count >= v->max_errors) {
        gql_errors_add_msg(v->errs, NULL, 0,
                           "Too many validation errors, error limit reached. Validation aborted.");
        longjmp(v->abort, 1);
    }
    if (gql_errors_add_msg(v->errs, nodes, n, msg)) {
        v->oom = true;
        longjmp(v->abort, 2);
    }
}

__attribute__((format(printf, 4, 5))) static void report(vctx *v, const gql_node *const *nodes,
                                                         size_t n, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (len < 0) return;
    if ((size_t)len < sizeof small) {
        report_msg(v, nodes, n, small);
        return;
    }
    char *big = V_alloc(v, (size_t)len + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)len + 1, fmt, ap);
    va_end(ap);
    report_msg(v, nodes, n, big);
}

static void report1(vctx *v, const gql_node *node, const char *msg) {
    report_msg(v, &node, 1, msg);
}

static void aborted(vctx *v) {
    gql_errors_add_msg(v->errs, NULL, 0, "Validation aborted.");
    longjmp(v->abort, 1);
}

static void spend_fragment_work(vctx *v, long cost) {
    v->fragment_work -= cost;
    if (v->fragment_work < 0) aborted(v);
}

static void spend_complexity(vctx *v, long cost) {
    v->complexity -= cost;
    if (v->complexity < 0) aborted(v);
}

/* strings owned by the arena */
static const char *sb_keep(vctx *v, gql_sb *sb) {
    if (sb->oom) {
        gql_sb_free(sb);
        v->oom = true;
        longjmp(v->abort, 2);
    }
    size_t n = sb->len;
    char *p = V_alloc(v, n + 1);
    if (n) memcpy(p, sb->p, n);
    gql_sb_free(sb);
    return p;
}

static const char *tref_str(vctx *v, const gql_tref *t) {
    gql_sb sb = {0};
    gql_tref_print(&sb, t);
    return sb_keep(v, &sb);
}

static const char *print_node(vctx *v, const gql_node *n) {
    char *p = gql_print(n, NULL);
    if (!p) {
        v->oom = true;
        longjmp(v->abort, 2);
    }
    size_t len = strlen(p);
    char *q = V_alloc(v, len + 1);
    memcpy(q, p, len + 1);
    free(p);
    return q;
}

/* ---- AST helpers ---- */

static const char *nm(const gql_node *name) {
    return gql_name_str(name);
}

static const gql_node *get_fragment(vctx *v, const char *name) {
    uintptr_t f = 0; /* graphql-js: the last definition of a name wins */
    return sm_get(&v->frag_by_name, name, &f) ? (const gql_node *)f : NULL;
}

/* graphql-js getFragmentSpreads(): a stack of selection sets, spreads in its order; memoised per
 * selection set as graphql-js does. */
static const ptr_vec *fragment_spreads(vctx *v, const gql_node *set) {
    const ptr_vec *memo = (const ptr_vec *)pm_get(&v->memo, (uintptr_t)set, MEMO_SPREADS);
    if (memo) return memo;
    ptr_vec *out = V_alloc(v, sizeof *out);
    memset(out, 0, sizeof *out);
    ptr_vec stack = {0};
    pv_push(v, &stack, set);
    while (stack.count) {
        const gql_node *s = stack.items[--stack.count];
        for (size_t i = 0; i < s->u.selection_set.selections.count; i++) {
            const gql_node *sel = s->u.selection_set.selections.items[i];
            if (sel->kind == GQL_FRAGMENT_SPREAD)
                pv_push(v, out, sel);
            else if (sel->kind == GQL_FIELD && sel->u.field.selection_set)
                pv_push(v, &stack, sel->u.field.selection_set);
            else if (sel->kind == GQL_INLINE_FRAGMENT)
                pv_push(v, &stack, sel->u.inline_fragment.selection_set);
        }
    }
    *pm_slot(v, &v->memo, (uintptr_t)set, MEMO_SPREADS, true) = (uintptr_t)out;
    return out;
}

static const char *spread_name(const void *spread) {
    return nm(((const gql_node *)spread)->u.fragment_spread.name);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* graphql-js getRecursivelyReferencedFragmentsForOperations(): memoised by the SET of names the
 * operations spread (graphql-js's SetMap), spending fragment work only when computed, so many
 * operations spreading the same fragments cost the work once. */
static const ptr_vec *referenced_fragments(vctx *v, const gql_node *const *ops, size_t nops) {
    ptr_vec names = {0};
    smap seen = {0};
    for (size_t i = 0; i < nops; i++) {
        const gql_node *set = ops[i]->kind == GQL_OPERATION_DEFINITION
                                  ? ops[i]->u.operation.selection_set
                                  : ops[i]->u.fragment.selection_set;
        const ptr_vec *sp = fragment_spreads(v, set);
        for (size_t k = 0; k < sp->count; k++) {
            uintptr_t *slot = sm_slot(v, &seen, spread_name(sp->items[k]), true);
            if (!*slot) {
                *slot = 1;
                pv_push(v, &names, spread_name(sp->items[k]));
            }
        }
    }
    const char **sorted = V_alloc(v, (names.count + 1) * sizeof *sorted);
    if (names.count) memcpy(sorted, names.items, names.count * sizeof *sorted);
    qsort(sorted, names.count, sizeof *sorted, cmp_str);
    gql_sb key = {0};
    for (size_t i = 0; i < names.count; i++)
        gql_sb_addf(&key, "%s%s", i ? "," : "", sorted[i]);
    const char *k = sb_keep(v, &key);
    uintptr_t memo = 0;
    if (sm_get(&v->refs_memo, k, &memo)) return (const ptr_vec *)memo;
    ptr_vec *out = V_alloc(v, sizeof *out);
    memset(out, 0, sizeof *out);
    spend_fragment_work(v, (long)names.count);
    for (size_t i = 0; i < names.count; i++) {
        const gql_node *f = get_fragment(v, names.items[i]);
        if (!f) continue;
        pv_push(v, out, f);
        const ptr_vec *sp = fragment_spreads(v, f->u.fragment.selection_set);
        spend_fragment_work(v, (long)sp->count);
        for (size_t k = 0; k < sp->count; k++) {
            uintptr_t *slot = sm_slot(v, &seen, spread_name(sp->items[k]), true);
            if (!*slot) {
                *slot = 1;
                pv_push(v, &names, spread_name(sp->items[k]));
            }
        }
    }
    *sm_slot(v, &v->refs_memo, k, true) = (uintptr_t)out;
    return out;
}

/* ---- TypeInfo ---- */

#define PUSH(arr, n, val)                                                                          \
    do {                                                                                           \
        if ((n) < STACK_MAX) (arr)[(n)] = (val);                                                   \
        (n)++;                                                                                     \
    } while (0)
#define TOP(arr, n) ((n) > 0 && (n) <= STACK_MAX ? (arr)[(n)-1] : NULL)
#define POP(n)                                                                                     \
    do {                                                                                           \
        if ((n) > 0) (n)--;                                                                        \
    } while (0)

static const gql_tref *ti_type(tinfo *t) {
    return TOP(t->type_stack, t->ntype);
}
static const gql_type *ti_parent(tinfo *t) {
    return TOP(t->parent_stack, t->nparent);
}
static const gql_tref *ti_input(tinfo *t) {
    return TOP(t->input_stack, t->ninput);
}
static const gql_tref *ti_parent_input(tinfo *t) {
    return t->ninput >= 2 && t->ninput - 1 <= STACK_MAX ? t->input_stack[t->ninput - 2] : NULL;
}
static const gql_field *ti_field(tinfo *t) {
    return TOP(t->field_stack, t->nfield);
}
static const gql_node *ti_default(tinfo *t) {
    return TOP(t->default_stack, t->ndefault);
}

static const gql_tref *type_from_ast(vctx *v, const gql_node *n) {
    return gql_tref_from_ast(v->s, n, &v->arena);
}

static void ti_enter(vctx *v, tinfo *t, const gql_node *n) {
    const gql_schema *s = t->s;
    switch (n->kind) {
    case GQL_SELECTION_SET: {
        const gql_type *named = gql_tref_named(ti_type(t));
        PUSH(t->parent_stack, t->nparent, gql_type_is_composite(named) ? named : NULL);
        break;
    }
    case GQL_FIELD: {
        const gql_type *parent = ti_parent(t);
        const gql_field *fd = parent ? gql_schema_field(s, parent, nm(n->u.field.name)) : NULL;
        PUSH(t->field_stack, t->nfield, fd);
        PUSH(t->type_stack, t->ntype, fd && gql_tref_is_output(fd->type) ? fd->type : NULL);
        break;
    }
    case GQL_DIRECTIVE:
        t->directive = gql_schema_directive(s, nm(n->u.directive.name));
        break;
    case GQL_OPERATION_DEFINITION: {
        gql_type *root = gql_schema_root(s, n->u.operation.operation);
        PUSH(t->type_stack, t->ntype, root && root->kind == GQL_TYPE_OBJECT ? &root->ref : NULL);
        break;
    }
    case GQL_INLINE_FRAGMENT:
    case GQL_FRAGMENT_DEFINITION: {
        const gql_node *tc = n->kind == GQL_INLINE_FRAGMENT ? n->u.inline_fragment.type_condition
                                                            : n->u.fragment.type_condition;
        const gql_tref *ot;
        if (tc) {
            ot = type_from_ast(v, tc);
        } else {
            gql_type *named = gql_tref_named(ti_type(t));
            ot = named ? &named->ref : NULL;
        }
        PUSH(t->type_stack, t->ntype, gql_tref_is_output(ot) ? ot : NULL);
        break;
    }
    case GQL_VARIABLE_DEFINITION: {
        const gql_tref *it = type_from_ast(v, n->u.variable_definition.type);
        PUSH(t->input_stack, t->ninput, gql_tref_is_input(it) ? it : NULL);
        break;
    }
    case GQL_ARGUMENT: {
        const gql_input_value *ad = NULL;
        const char *an = nm(n->u.argument.name);
        if (t->directive)
            ad = gql_directive_arg(t->directive, an);
        else if (ti_field(t))
            ad = gql_field_arg(ti_field(t), an);
        t->argument = ad;
        PUSH(t->default_stack, t->ndefault, ad ? ad->default_value : NULL);
        PUSH(t->input_stack, t->ninput, ad && gql_tref_is_input(ad->type) ? ad->type : NULL);
        break;
    }
    case GQL_LIST_VALUE: {
        const gql_tref *lt = gql_tref_nullable(ti_input(t));
        const gql_tref *item = lt && lt->kind == GQL_REF_LIST ? lt->of : lt;
        PUSH(t->default_stack, t->ndefault, NULL);
        PUSH(t->input_stack, t->ninput, gql_tref_is_input(item) ? item : NULL);
        break;
    }
    case GQL_OBJECT_FIELD: {
        const gql_type *ot = gql_tref_named(ti_input(t));
        const gql_input_value *f = NULL;
        if (ot && ot->kind == GQL_TYPE_INPUT_OBJECT)
            f = gql_type_input_field(ot, nm(n->u.argument.name));
        PUSH(t->default_stack, t->ndefault, f ? f->default_value : NULL);
        PUSH(t->input_stack, t->ninput, f && gql_tref_is_input(f->type) ? f->type : NULL);
        break;
    }
    default:
        break;
    }
}

static void ti_leave(tinfo *t, const gql_node *n) {
    switch (n->kind) {
    case GQL_SELECTION_SET:
        POP(t->nparent);
        break;
    case GQL_FIELD:
        POP(t->nfield);
        POP(t->ntype);
        break;
    case GQL_DIRECTIVE:
        t->directive = NULL;
        break;
    case GQL_OPERATION_DEFINITION:
    case GQL_INLINE_FRAGMENT:
    case GQL_FRAGMENT_DEFINITION:
        POP(t->ntype);
        break;
    case GQL_VARIABLE_DEFINITION:
        POP(t->ninput);
        break;
    case GQL_ARGUMENT:
        t->argument = NULL;
        POP(t->ndefault);
        POP(t->ninput);
        break;
    case GQL_LIST_VALUE:
    case GQL_OBJECT_FIELD:
        POP(t->ndefault);
        POP(t->ninput);
        break;
    default:
        break;
    }
}

/* visit(): enter returns 1 to skip the subtree (leave is then not called for it). */
static void walk(walker *w, const gql_node *n, const gql_node *parent) {
    if (!n) return;
    ti_enter(w->v, w->ti, n);
    int skip = w->enter(w, n, parent);
    if (!skip) {
        if (w->nanc < STACK_MAX) w->ancestors[w->nanc] = n;
        w->nanc++;
        gql_slot slots[GQL_AST_MAX_SLOTS];
        int ns = gql_ast_slots(n, slots);
        for (int i = 0; i < ns; i++) {
            if (slots[i].node) walk(w, slots[i].node, n);
            if (slots[i].list)
                for (size_t k = 0; k < slots[i].list->count; k++)
                    walk(w, slots[i].list->items[k], n);
        }
        w->nanc--;
        w->leave(w, n, parent);
    }
    ti_leave(w->ti, n);
}

/* ---- variable usages (graphql-js getVariableUsages / getRecursiveVariableUsages) ---- */

static int usage_enter(walker *w, const gql_node *n, const gql_node *parent) {
    (void)parent;
    if (n->kind == GQL_VARIABLE_DEFINITION) return 1;
    if (n->kind == GQL_VARIABLE) {
        usage u = {n, ti_input(w->ti), ti_default(w->ti), ti_parent_input(w->ti)};
        uv_push(w->v, w->usages, u);
    }
    return 0;
}
static void usage_leave(walker *w, const gql_node *n, const gql_node *parent) {
    (void)w;
    (void)n;
    (void)parent;
}

static usage_vec *variable_usages(vctx *v, const gql_node *node) {
    usage_vec *memo = (usage_vec *)pm_get(&v->memo, (uintptr_t)node, MEMO_USAGES);
    if (memo) return memo;
    usage_vec *out = V_alloc(v, sizeof *out);
    if (!v->usage_walker) { /* one TypeInfo and walker (~60 KB) for every usage walk: a walk
                               leaves their stacks empty */
        walker *w = V_alloc(v, sizeof *w);
        w->ti = V_alloc(v, sizeof *w->ti);
        w->ti->s = v->s;
        w->v = v;
        w->enter = usage_enter;
        w->leave = usage_leave;
        v->usage_walker = w;
    }
    v->usage_walker->usages = out;
    walk(v->usage_walker, node, NULL);
    *pm_slot(v, &v->memo, (uintptr_t)node, MEMO_USAGES, true) = (uintptr_t)out;
    return out;
}

/* graphql-js getRecursiveVariableUsages(): memoised per operation, and the fragments' part per
 * set of referenced fragments, with graphql-js's fragment-work spending. */
static const usage_vec *recursive_usages(vctx *v, const gql_node *op) {
    const usage_vec *memo = (const usage_vec *)pm_get(&v->memo, (uintptr_t)op, MEMO_REC_USAGES);
    if (memo) return memo;
    const ptr_vec *frags = referenced_fragments(v, &op, 1);
    usage_vec *fu = (usage_vec *)pm_get(&v->memo, (uintptr_t)frags, MEMO_FRAG_USAGES);
    if (!fu) {
        fu = V_alloc(v, sizeof *fu);
        spend_fragment_work(v, (long)frags->count);
        for (size_t i = 0; i < frags->count; i++) {
            usage_vec *u = variable_usages(v, frags->items[i]);
            spend_fragment_work(v, (long)u->count);
            for (size_t k = 0; k < u->count; k++)
                uv_push(v, fu, u->items[k]);
        }
        *pm_slot(v, &v->memo, (uintptr_t)frags, MEMO_FRAG_USAGES, true) = (uintptr_t)fu;
    }
    spend_fragment_work(v, (long)fu->count);
    usage_vec *out = V_alloc(v, sizeof *out);
    usage_vec *own = variable_usages(v, op);
    for (size_t k = 0; k < own->count; k++)
        uv_push(v, out, own->items[k]);
    for (size_t k = 0; k < fu->count; k++)
        uv_push(v, out, fu->items[k]);
    *pm_slot(v, &v->memo, (uintptr_t)op, MEMO_REC_USAGES, true) = (uintptr_t)out;
    return out;
}

/* ---- suggestions ---- */

static const char *with_suggestions(vctx *v, const char *head, const char *sub, const char *input,
                                    const char *const *options, size_t n) {
    gql_sb sb = {0};
    gql_sb_add(&sb, head);
    if (!v->o->hide_suggestions && n) {
        const char *sug[5];
        size_t ns = gql_suggestion_list(input, options, n, sug, 5);
        gql_did_you_mean(&sb, sub, sug, ns);
    }
    return sb_keep(v, &sb);
}

/* ---- directive locations ---- */

static bool is_type_def_kind(gql_kind k) {
    return k == GQL_SCALAR_TYPE_DEFINITION || k == GQL_OBJECT_TYPE_DEFINITION ||
           k == GQL_INTERFACE_TYPE_DEFINITION || k == GQL_UNION_TYPE_DEFINITION ||
           k == GQL_ENUM_TYPE_DEFINITION || k == GQL_INPUT_OBJECT_TYPE_DEFINITION;
}
static bool is_type_ext_kind(gql_kind k) {
    return k >= GQL_SCALAR_TYPE_EXTENSION && k <= GQL_INPUT_OBJECT_TYPE_EXTENSION;
}
static bool is_sdl_kind(gql_kind k) {
    return k >= GQL_SCHEMA_DEFINITION;
}

/* Directive definitions in the document (graphql-js lets them shadow the schema's). */
static const gql_node *doc_directive_def(vctx *v, const char *name) {
    const gql_node *found = NULL;
    const gql_list *defs = &v->doc->root->u.document.definitions;
    for (size_t i = 0; i < defs->count; i++)
        if (defs->items[i]->kind == GQL_DIRECTIVE_DEFINITION &&
            strcmp(nm(defs->items[i]->u.directive_def.name), name) == 0)
            found = defs->items[i];
    return found;
}

static const gql_list *directives_of(const gql_node *n) {
    switch (n->kind) {
    case GQL_OPERATION_DEFINITION:
        return &n->u.operation.directives;
    case GQL_VARIABLE_DEFINITION:
        return &n->u.variable_definition.directives;
    case GQL_FIELD:
        return &n->u.field.directives;
    case GQL_FRAGMENT_SPREAD:
        return &n->u.fragment_spread.directives;
    case GQL_INLINE_FRAGMENT:
        return &n->u.inline_fragment.directives;
    case GQL_FRAGMENT_DEFINITION:
        return &n->u.fragment.directives;
    case GQL_SCHEMA_DEFINITION:
    case GQL_SCHEMA_EXTENSION:
        return &n->u.schema.directives;
    case GQL_FIELD_DEFINITION:
    case GQL_INPUT_VALUE_DEFINITION:
        return &n->u.field_def.directives;
    case GQL_ENUM_VALUE_DEFINITION:
        return &n->u.enum_value_def.directives;
    default:
        if (is_type_def_kind(n->kind) || is_type_ext_kind(n->kind))
            return &n->u.type_def.directives;
        return NULL;
    }
}

/* ---- SingleFieldSubscriptions: collectFields with no variables ---- */

typedef struct group {
    const char *key;
    ptr_vec nodes;
} group;

typedef struct groups {
    group *items;
    size_t count, cap;
} groups;

static bool include_node(const gql_list *dirs) {
    for (size_t i = 0; i < dirs->count; i++) {
        const gql_node *d = dirs->items[i];
        const char *n = nm(d->u.directive.name);
        bool skip = strcmp(n, "skip") == 0;
        if (!skip && strcmp(n, "include") != 0) continue;
        for (size_t k = 0; k < d->u.directive.arguments.count; k++) {
            const gql_node *a = d->u.directive.arguments.items[k];
            if (strcmp(nm(a->u.argument.name), "if") != 0) continue;
            const gql_node *val = a->u.argument.value;
            if (val->kind == GQL_BOOLEAN_VALUE && val->u.boolean == skip) return false;
        }
    }
    return true;
}

static bool condition_matches(vctx *v, const gql_node *tc, const gql_type *type) {
    if (!tc) return true;
    const gql_type *ct = gql_schema_type(v->s, nm(tc));
    if (ct == type) return true;
    if (gql_type_is_abstract(ct)) return gql_schema_is_sub_type(v->s, ct, type);
    return false;
}

static void sub_collect(vctx *v, const gql_type *type, const gql_node *set, groups *g,
                        smap *visited) {
    const gql_list *sels = &set->u.selection_set.selections;
    spend_fragment_work(v, (long)sels->count);
    for (size_t i = 0; i < sels->count; i++) {
        const gql_node *sel = sels->items[i];
        const gql_list *dirs = directives_of(sel);
        spend_fragment_work(v, (long)dirs->count);
        for (size_t k = 0; k < dirs->count; k++) {
            const char *dn = nm(dirs->items[k]->u.directive.name);
            if (strcmp(dn, "skip") == 0 || strcmp(dn, "include") == 0)
                spend_fragment_work(v, (long)dirs->items[k]->u.directive.arguments.count);
        }
    }
    for (size_t i = 0; i < sels->count; i++) {
        const gql_node *sel = sels->items[i];
        if (sel->kind == GQL_FIELD) {
            if (!include_node(&sel->u.field.directives)) continue;
            const char *key = nm(sel->u.field.alias ? sel->u.field.alias : sel->u.field.name);
            group *gr = NULL;
            for (size_t k = 0; k < g->count; k++)
                if (strcmp(g->items[k].key, key) == 0) gr = &g->items[k];
            if (!gr) {
                if (g->count == g->cap) {
                    size_t nc = g->cap ? g->cap * 2 : 8;
                    group *ni = V_alloc(v, nc * sizeof *ni);
                    if (g->count) memcpy(ni, g->items, g->count * sizeof *ni);
                    g->items = ni;
                    g->cap = nc;
                }
                gr = &g->items[g->count++];
                memset(gr, 0, sizeof *gr);
                gr->key = key;
            }
            pv_push(v, &gr->nodes, sel);
        } else if (sel->kind == GQL_INLINE_FRAGMENT) {
            if (!include_node(&sel->u.inline_fragment.directives) ||
                !condition_matches(v, sel->u.inline_fragment.type_condition, type))
                continue;
            sub_collect(v, type, sel->u.inline_fragment.selection_set, g, visited);
        } else if (sel->kind == GQL_FRAGMENT_SPREAD) {
            const char *fname = nm(sel->u.fragment_spread.name);
            if (sm_get(visited, fname, NULL) || !include_node(&sel->u.fragment_spread.directives))
                continue;
            *sm_slot(v, visited, fname, true) = 1;
            const gql_node *f = get_fragment(v, fname);
            if (!f || !condition_matches(v, f->u.fragment.type_condition, type)) continue;
            sub_collect(v, type, f->u.fragment.selection_set, g, visited);
        }
    }
}

static void rule_single_sub(vctx *v, const gql_node *n) {
    if (n->u.operation.operation != GQL_OP_SUBSCRIPTION || !v->s->subscription) return;
    if (!v->sub_fragments_ready) {
        v->sub_fragments_ready = n;
        spend_fragment_work(v, (long)v->doc->root->u.document.definitions.count);
    }
    groups g = {0};
    smap visited = {0};
    sub_collect(v, v->s->subscription, n->u.operation.selection_set, &g, &visited);
    const char *opname = n->u.operation.name ? nm(n->u.operation.name) : NULL;
    if (g.count > 1) {
        ptr_vec extra = {0};
        for (size_t i = 1; i < g.count; i++)
            for (size_t k = 0; k < g.items[i].nodes.count; k++)
                pv_push(v, &extra, g.items[i].nodes.items[k]);
        if (opname)
            report(v, (const gql_node *const *)extra.items, extra.count,
                   "Subscription \"%s\" must select only one top level field.", opname);
        else
            report(v, (const gql_node *const *)extra.items, extra.count,
                   "Anonymous Subscription must select only one top level field.");
    }
    for (size_t i = 0; i < g.count; i++) {
        const gql_node *f = g.items[i].nodes.items[0];
        if (strncmp(nm(f->u.field.name), "__", 2) != 0) continue;
        if (opname)
            report(v, (const gql_node *const *)g.items[i].nodes.items, g.items[i].nodes.count,
                   "Subscription \"%s\" must not select an introspection top level field.", opname);
        else
            report(v, (const gql_node *const *)g.items[i].nodes.items, g.items[i].nodes.count,
                   "Anonymous Subscription must not select an introspection top level field.");
    }
}

/* ---- NoFragmentCycles ---- */

static void detect_cycle(vctx *v, const gql_node *frag) {
    const char *fname = nm(frag->u.fragment.name);
    if (sm_get(&v->cycle_visited, fname, NULL)) return;
    *sm_slot(v, &v->cycle_visited, fname, true) = 1;
    const ptr_vec *spreads = fragment_spreads(v, frag->u.fragment.selection_set);
    if (!spreads->count) return;
    *sm_slot(v, &v->spread_path_index, fname, true) = v->spread_path.count + 1;
    for (size_t i = 0; i < spreads->count; i++) {
        const gql_node *sp = spreads->items[i];
        const char *sname = nm(sp->u.fragment_spread.name);
        uintptr_t ci = 0;
        sm_get(&v->spread_path_index, sname, &ci);
        pv_push(v, &v->spread_path, sp);
        if (!ci) {
            const gql_node *sf = get_fragment(v, sname);
            if (sf) detect_cycle(v, sf);
        } else {
            ci--;
            gql_sb sb = {0};
            for (size_t k = (size_t)ci; k + 1 < v->spread_path.count; k++)
                gql_sb_addf(
                    &sb, "%s\"%s\"", k > (size_t)ci ? ", " : "",
                    nm(((const gql_node *)v->spread_path.items[k])->u.fragment_spread.name));
            const char *via = sb_keep(v, &sb);
            if (*via)
                report(v, (const gql_node *const *)v->spread_path.items + ci,
                       v->spread_path.count - (size_t)ci,
                       "Cannot spread fragment \"%s\" within itself via %s.", sname, via);
            else
                report(v, (const gql_node *const *)v->spread_path.items + ci,
                       v->spread_path.count - (size_t)ci,
                       "Cannot spread fragment \"%s\" within itself.", sname);
        }
        v->spread_path.count--;
    }
    /* graphql-js sets the index to undefined: drop the name from the path */
    *sm_slot(v, &v->spread_path_index, fname, true) = 0;
}

/* ---- MaxIntrospectionDepth ---- */

/* name -> entry depth (-1: none); stored as depth + 1 */
static int dm_get(const smap *m, const char *name) {
    uintptr_t d = 0;
    return sm_get(m, name, &d) ? (int)d - 1 : -1;
}

static void dm_set(vctx *v, smap *m, const char *name, int depth) {
    *sm_slot(v, m, name, true) = (uintptr_t)(depth + 1);
}

static bool check_intro_depth(vctx *v, const gql_node *n, smap *visited, int depth) {
    if (n->kind == GQL_FRAGMENT_SPREAD) {
        const char *fname = nm(n->u.fragment_spread.name);
        int ex = dm_get(&v->intro_exceeded, fname);
        if (ex >= 0 && ex <= depth) return true;
        int vis = dm_get(visited, fname), chk = dm_get(&v->intro_checked, fname);
        if ((vis >= 0 && vis >= depth) || (chk >= 0 && chk >= depth)) return false;
        const gql_node *f = get_fragment(v, fname);
        if (!f) return false;
        dm_set(v, visited, fname, depth);
        if (check_intro_depth(v, f, visited, depth)) {
            dm_set(v, &v->intro_exceeded, fname, depth);
            return true;
        }
        dm_set(v, &v->intro_checked, fname, depth);
        return false;
    }
    if (n->kind == GQL_FIELD) {
        const char *fname = nm(n->u.field.name);
        if (strcmp(fname, "fields") == 0 || strcmp(fname, "interfaces") == 0 ||
            strcmp(fname, "possibleTypes") == 0 || strcmp(fname, "inputFields") == 0) {
            depth++;
            if (depth >= 3) return true;
        }
    }
    const gql_node *set = n->kind == GQL_FIELD                 ? n->u.field.selection_set
                          : n->kind == GQL_INLINE_FRAGMENT     ? n->u.inline_fragment.selection_set
                          : n->kind == GQL_FRAGMENT_DEFINITION ? n->u.fragment.selection_set
                                                               : NULL;
    if (set)
        for (size_t i = 0; i < set->u.selection_set.selections.count; i++)
            if (check_intro_depth(v, set->u.selection_set.selections.items[i], visited, depth))
                return true;
    return false;
}

/* ---- OverlappingFieldsCanBeMerged (graphql-js 16.15 algorithm) ---- */

#define MAX_CONFLICT_DETAIL 1000
#define MAX_CONFLICT_NODES 20

typedef struct fdetail {
    const gql_type *parent;
    const gql_node *node;
    const gql_field *def;
    bool simple_leaf;
} fdetail;

typedef struct fgroup {
    const char *name;
    ptr_vec fields; /* fdetail* */
} fgroup;

typedef struct cfr {
    const gql_type *parent;
    const gql_node *set;
    fgroup *groups;
    size_t ngroups, capgroups;
    smap group_index; /* response name -> index + 1 */
    ptr_vec fragment_names;
    smap fragment_seen;
    smap cmp; /* comparedFragments: name -> 1 = true (exclusive), 2 = false */
} cfr;

typedef struct ofc {
    pmap cache;        /* (parent, selection set) -> cfr* */
    pmap overlap_done; /* (cfr*, cfr*) -> 1 */
    smap name_ids;     /* fragment name -> id (1..) for the pair set */
    uintptr_t next_id;
    pmap pairs; /* (id, id) -> 1 + are-mutually-exclusive */
} ofc;

typedef struct conflict {
    const char *response_name, *reason;
    ptr_vec f1, f2;
} conflict;

typedef struct conflicts {
    conflict *items;
    size_t count, cap;
} conflicts;

static void cf_push(vctx *v, conflicts *c, conflict x) {
    if (c->count == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 8;
        conflict *ni = V_alloc(v, nc * sizeof *ni);
        if (c->count) memcpy(ni, c->items, c->count * sizeof *ni);
        c->items = ni;
        c->cap = nc;
    }
    c->items[c->count++] = x;
}

static const char *abbrev(vctx *v, const char *text) {
    size_t n = strlen(text);
    if (n <= MAX_CONFLICT_DETAIL) return text;
    char *p = V_alloc(v, MAX_CONFLICT_DETAIL + 4);
    memcpy(p, text, MAX_CONFLICT_DETAIL);
    memcpy(p + MAX_CONFLICT_DETAIL, "...", 4);
    return p;
}

static void collect_impl(vctx *v, const gql_type *parent, const gql_node *set, cfr *r) {
    const gql_list *sels = &set->u.selection_set.selections;
    for (size_t i = 0; i < sels->count; i++) {
        const gql_node *sel = sels->items[i];
        if (sel->kind == GQL_FIELD) {
            const char *fname = nm(sel->u.field.name);
            const gql_field *def = NULL;
            if (parent && (parent->kind == GQL_TYPE_OBJECT || parent->kind == GQL_TYPE_INTERFACE))
                def = gql_type_field(parent, fname);
            const char *key = sel->u.field.alias ? nm(sel->u.field.alias) : fname;
            fgroup *g = NULL;
            uintptr_t gi = 0;
            if (sm_get(&r->group_index, key, &gi)) g = &r->groups[gi - 1];
            if (!g) {
                if (r->ngroups == r->capgroups) {
                    size_t nc = r->capgroups ? r->capgroups * 2 : 8;
                    fgroup *ni = V_alloc(v, nc * sizeof *ni);
                    if (r->ngroups) memcpy(ni, r->groups, r->ngroups * sizeof *ni);
                    r->groups = ni;
                    r->capgroups = nc;
                }
                g = &r->groups[r->ngroups++];
                memset(g, 0, sizeof *g);
                g->name = key;
                *sm_slot(v, &r->group_index, key, true) = r->ngroups;
            }
            fdetail *d = V_alloc(v, sizeof *d);
            d->parent = parent;
            d->node = sel;
            d->def = def;
            d->simple_leaf = sel->u.field.arguments.count == 0 && !sel->u.field.selection_set;
            pv_push(v, &g->fields, d);
        } else if (sel->kind == GQL_FRAGMENT_SPREAD) {
            const char *fname = nm(sel->u.fragment_spread.name);
            if (!sm_get(&r->fragment_seen, fname, NULL)) {
                *sm_slot(v, &r->fragment_seen, fname, true) = 1;
                pv_push(v, &r->fragment_names, fname);
            }
        } else if (sel->kind == GQL_INLINE_FRAGMENT) {
            const gql_node *tc = sel->u.inline_fragment.type_condition;
            const gql_type *t = tc ? gql_schema_type(v->s, nm(tc)) : parent;
            collect_impl(v, t, sel->u.inline_fragment.selection_set, r);
        }
    }
}

static cfr *collect(vctx *v, const gql_type *parent, const gql_node *set) {
    cfr *c = (cfr *)pm_get(&v->of->cache, (uintptr_t)parent, (uintptr_t)set);
    if (c) return c;
    cfr *r = V_alloc(v, sizeof *r);
    r->parent = parent;
    r->set = set;
    collect_impl(v, parent, set, r);
    *pm_slot(v, &v->of->cache, (uintptr_t)parent, (uintptr_t)set, true) = (uintptr_t)r;
    return r;
}

static cfr *collect_fragment(vctx *v, const gql_node *frag) {
    const gql_type *t = gql_schema_type(v->s, nm(frag->u.fragment.type_condition));
    return collect(v, t, frag->u.fragment.selection_set);
}

static bool values_same(const gql_node *a, const gql_node *b);

static int cmp_field_names(const void *x, const void *y) {
    const gql_node *a = *(const gql_node *const *)x, *b = *(const gql_node *const *)y;
    return strcmp(nm(a->u.argument.name), nm(b->u.argument.name));
}

static bool values_same(const gql_node *a, const gql_node *b) {
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case GQL_VARIABLE:
        return strcmp(gql_name_str(a), gql_name_str(b)) == 0;
    case GQL_NULL_VALUE:
        return true;
    case GQL_BOOLEAN_VALUE:
        return a->u.boolean == b->u.boolean;
    case GQL_STRING_VALUE:
        return a->u.text.len == b->u.text.len && a->u.text.block == b->u.text.block &&
               memcmp(a->u.text.value, b->u.text.value, a->u.text.len) == 0;
    case GQL_INT_VALUE:
    case GQL_FLOAT_VALUE:
    case GQL_ENUM_VALUE:
        return strcmp(a->u.text.value, b->u.text.value) == 0;
    case GQL_LIST_VALUE:
        if (a->u.list.values.count != b->u.list.values.count) return false;
        for (size_t i = 0; i < a->u.list.values.count; i++)
            if (!values_same(a->u.list.values.items[i], b->u.list.values.items[i])) return false;
        return true;
    case GQL_OBJECT_VALUE: {
        size_t n = a->u.object.fields.count;
        if (n != b->u.object.fields.count) return false;
        if (n == 0) return true;
        const gql_node **sa = malloc(n * sizeof *sa), **sb = malloc(n * sizeof *sb);
        bool same = sa && sb;
        if (same) {
            memcpy(sa, a->u.object.fields.items, n * sizeof *sa);
            memcpy(sb, b->u.object.fields.items, n * sizeof *sb);
            /* graphql-js sorts with a stable sort; insertion sort is stable */
            for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && cmp_field_names(&sa[j - 1], &sa[j]) > 0; j--) {
                    const gql_node *t = sa[j];
                    sa[j] = sa[j - 1];
                    sa[j - 1] = t;
                }
            for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && cmp_field_names(&sb[j - 1], &sb[j]) > 0; j--) {
                    const gql_node *t = sb[j];
                    sb[j] = sb[j - 1];
                    sb[j - 1] = t;
                }
            for (size_t i = 0; i < n && same; i++)
                same = strcmp(nm(sa[i]->u.argument.name), nm(sb[i]->u.argument.name)) == 0 &&
                       values_same(sa[i]->u.argument.value, sb[i]->u.argument.value);
        }
        free(sa);
        free(sb);
        return same;
    }
    default:
        return false;
    }
}

static bool same_arguments(vctx *v, const gql_node *f1, const gql_node *f2) {
    const gql_list *a1 = &f1->u.field.arguments, *a2 = &f2->u.field.arguments;
    if (a1->count == 0) return a2->count == 0;
    if (a1->count != a2->count) return false;
    for (size_t i = 0; i < a1->count; i++) {
        spend_complexity(v, 1);
        const gql_node *x = a1->items[i];
        const gql_node *val2 = NULL;
        for (size_t k = 0; k < a2->count; k++) /* Map keeps the last value of a name */
            if (strcmp(nm(a2->items[k]->u.argument.name), nm(x->u.argument.name)) == 0)
                val2 = a2->items[k]->u.argument.value;
        if (!val2 || !values_same(x->u.argument.value, val2)) return false;
    }
    return true;
}

static bool types_conflict(vctx *v, const gql_tref *t1, const gql_tref *t2) {
    if (t1 == t2) return false;
    spend_complexity(v, 1);
    if (t1->kind == GQL_REF_LIST)
        return t2->kind == GQL_REF_LIST ? types_conflict(v, t1->of, t2->of) : true;
    if (t2->kind == GQL_REF_LIST) return true;
    if (t1->kind == GQL_REF_NON_NULL)
        return t2->kind == GQL_REF_NON_NULL ? types_conflict(v, t1->of, t2->of) : true;
    if (t2->kind == GQL_REF_NON_NULL) return true;
    if (gql_type_is_leaf(t1->named) || gql_type_is_leaf(t2->named)) return t1->named != t2->named;
    return false;
}

static void between(vctx *v, conflicts *out, bool excl, cfr *r1, cfr *r2);
static void fields_and_fragment(vctx *v, conflicts *out, bool excl, cfr *r1, const char *fname);
static void between_fragments(vctx *v, conflicts *out, bool excl, const char *n1, const char *n2);

static void sub_selection_conflicts(vctx *v, conflicts *out, bool excl, const gql_type *p1,
                                    const gql_node *s1, const gql_type *p2, const gql_node *s2) {
    cfr *r1 = collect(v, p1, s1), *r2 = collect(v, p2, s2);
    between(v, out, excl, r1, r2);
    for (size_t i = 0; i < r2->fragment_names.count; i++)
        fields_and_fragment(v, out, excl, r1, r2->fragment_names.items[i]);
    for (size_t i = 0; i < r1->fragment_names.count; i++)
        fields_and_fragment(v, out, excl, r2, r1->fragment_names.items[i]);
    for (size_t i = 0; i < r1->fragment_names.count; i++)
        for (size_t k = 0; k < r2->fragment_names.count; k++)
            between_fragments(v, out, excl, r1->fragment_names.items[i],
                              r2->fragment_names.items[k]);
}

static bool find_conflict(vctx *v, bool parent_excl, const char *rname, const fdetail *d1,
                          const fdetail *d2, conflict *res) {
    bool excl =
        parent_excl || (d1->parent != d2->parent && d1->parent && d2->parent &&
                        d1->parent->kind == GQL_TYPE_OBJECT && d2->parent->kind == GQL_TYPE_OBJECT);
    spend_complexity(v, 2);
    const gql_tref *t1 = d1->def ? d1->def->type : NULL, *t2 = d2->def ? d2->def->type : NULL;
    const char *n1 = nm(d1->node->u.field.name), *n2 = nm(d2->node->u.field.name);
    if (d1->simple_leaf && d2->simple_leaf && t1 == t2 && strcmp(n1, n2) == 0) return false;
    memset(res, 0, sizeof *res);
    res->response_name = rname;
    if (!excl) {
        const char *reason = NULL;
        if (strcmp(n1, n2) != 0) {
            gql_sb sb = {0};
            gql_sb_addf(&sb, "\"%s\" and \"%s\" are different fields", abbrev(v, n1),
                        abbrev(v, n2));
            reason = sb_keep(v, &sb);
        } else if (!same_arguments(v, d1->node, d2->node)) {
            reason = "they have differing arguments";
        }
        if (reason) {
            res->reason = reason;
            pv_push(v, &res->f1, d1->node);
            pv_push(v, &res->f2, d2->node);
            return true;
        }
    }
    if (t1 && t2 && types_conflict(v, t1, t2)) {
        gql_sb sb = {0};
        gql_sb_add(&sb, "they return conflicting types \"");
        gql_tref_print(&sb, t1);
        gql_sb_add(&sb, "\" and \"");
        gql_tref_print(&sb, t2);
        gql_sb_add(&sb, "\"");
        res->reason = sb_keep(v, &sb);
        pv_push(v, &res->f1, d1->node);
        pv_push(v, &res->f2, d2->node);
        return true;
    }
    const gql_node *s1 = d1->node->u.field.selection_set, *s2 = d2->node->u.field.selection_set;
    if (s1 && s2) {
        conflicts sub = {0};
        sub_selection_conflicts(v, &sub, excl, gql_tref_named(t1), s1, gql_tref_named(t2), s2);
        if (!sub.count) return false;
        gql_sb sb = {0};
        for (size_t i = 0; i < sub.count; i++) {
            gql_sb_addf(&sb, "%ssubfields \"%s\" conflict because %s", sb.len ? " and " : "",
                        abbrev(v, sub.items[i].response_name), sub.items[i].reason);
            if (sb.len > MAX_CONFLICT_DETAIL) break;
        }
        res->reason = abbrev(v, sb_keep(v, &sb));
        pv_push(v, &res->f1, d1->node);
        pv_push(v, &res->f2, d2->node);
        for (int side = 0; side < 2; side++) {
            ptr_vec *dst = side ? &res->f2 : &res->f1;
            for (size_t i = 0; i < sub.count; i++) {
                const ptr_vec *src = side ? &sub.items[i].f2 : &sub.items[i].f1;
                size_t remaining = MAX_CONFLICT_NODES - dst->count;
                size_t from = src->count > remaining ? src->count - remaining : 0;
                for (size_t k = from; k < src->count; k++)
                    pv_push(v, dst, src->items[k]);
                if (dst->count == MAX_CONFLICT_NODES) break;
            }
        }
        return true;
    }
    return false;
}

static void between(vctx *v, conflicts *out, bool excl, cfr *r1, cfr *r2) {
    if (!r1->ngroups || !r2->ngroups) return;
    uintptr_t *done = pm_slot(v, &v->of->overlap_done, (uintptr_t)r1, (uintptr_t)r2, true);
    if (!*done) {
        *done = 1;
        spend_complexity(v, (long)r1->ngroups);
    }
    for (size_t i = 0; i < r1->ngroups; i++) {
        fgroup *g1 = &r1->groups[i];
        uintptr_t gi = 0;
        if (!sm_get(&r2->group_index, g1->name, &gi)) continue;
        fgroup *g2 = &r2->groups[gi - 1];
        for (size_t a = 0; a < g1->fields.count; a++)
            for (size_t b = 0; b < g2->fields.count; b++) {
                conflict c;
                if (find_conflict(v, excl, g1->name, g1->fields.items[a], g2->fields.items[b], &c))
                    cf_push(v, out, c);
            }
    }
}

static void fields_and_fragment(vctx *v, conflicts *out, bool excl, cfr *r1, const char *fname) {
    spend_complexity(v, 1);
    if (!r1->ngroups) return;
    uintptr_t *val = sm_slot(v, &r1->cmp, fname, true);
    if (*val == 2 || (excl && *val == 1)) return;
    *val = excl ? 1 : 2;
    const gql_node *f = get_fragment(v, fname);
    if (!f) return;
    cfr *r2 = collect_fragment(v, f);
    if (r1 == r2) return;
    between(v, out, excl, r1, r2);
    for (size_t i = 0; i < r2->fragment_names.count; i++)
        fields_and_fragment(v, out, excl, r1, r2->fragment_names.items[i]);
}

static uintptr_t name_id(vctx *v, ofc *o, const char *name) {
    uintptr_t *id = sm_slot(v, &o->name_ids, name, true);
    if (!*id) *id = ++o->next_id;
    return *id;
}

/* graphql-js PairSet: pairs stored in the order added; a pair recorded as mutually exclusive
 * satisfies only an exclusive query, one recorded as not exclusive satisfies both. */
static bool pair_has1(ofc *o, uintptr_t a, uintptr_t b, bool excl) {
    uintptr_t x = pm_get(&o->pairs, a, b);
    if (!x) return false;
    return excl ? true : (x - 1) == excl;
}

static bool pair_has(vctx *v, ofc *o, const char *a, const char *b, bool excl) {
    uintptr_t ia = name_id(v, o, a), ib = name_id(v, o, b);
    return pair_has1(o, ia, ib, excl) || pair_has1(o, ib, ia, excl);
}

static void pair_add(vctx *v, ofc *o, const char *a, const char *b, bool excl) {
    uintptr_t ia = name_id(v, o, a), ib = name_id(v, o, b);
    *pm_slot(v, &o->pairs, ia, ib, true) = 1 + (uintptr_t)excl;
}

static void between_fragments(vctx *v, conflicts *out, bool excl, const char *n1, const char *n2) {
    spend_complexity(v, 2);
    if (strcmp(n1, n2) == 0) return;
    if (pair_has(v, v->of, n1, n2, excl)) return;
    pair_add(v, v->of, n1, n2, excl);
    const gql_node *f1 = get_fragment(v, n1), *f2 = get_fragment(v, n2);
    if (!f1 || !f2) return;
    cfr *r1 = collect_fragment(v, f1), *r2 = collect_fragment(v, f2);
    between(v, out, excl, r1, r2);
    for (size_t i = 0; i < r2->fragment_names.count; i++)
        between_fragments(v, out, excl, n1, r2->fragment_names.items[i]);
    for (size_t i = 0; i < r1->fragment_names.count; i++)
        between_fragments(v, out, excl, r1->fragment_names.items[i], n2);
}

static void rule_overlap(vctx *v, const gql_node *set, const gql_node *parent) {
    if (parent && parent->kind == GQL_INLINE_FRAGMENT) return;
    const gql_list *sels = &set->u.selection_set.selections;
    if (sels->count <= 1 && !(sels->count == 1 && sels->items[0]->kind == GQL_INLINE_FRAGMENT))
        return;
    conflicts out = {0};
    cfr *r = collect(v, ti_parent(&v->ti), set);
    for (size_t i = 0; i < r->ngroups; i++) {
        fgroup *g = &r->groups[i];
        for (size_t a = 0; a < g->fields.count; a++)
            for (size_t b = a + 1; b < g->fields.count; b++) {
                conflict c;
                if (find_conflict(v, false, g->name, g->fields.items[a], g->fields.items[b], &c))
                    cf_push(v, &out, c);
            }
    }
    size_t nf = r->fragment_names.count;
    if (nf && (r->ngroups || nf > 1))
        for (size_t i = 0; i < nf; i++) {
            fields_and_fragment(v, &out, false, r, r->fragment_names.items[i]);
            for (size_t k = i + 1; k < nf; k++)
                between_fragments(v, &out, false, r->fragment_names.items[i],
                                  r->fragment_names.items[k]);
        }
    for (size_t i = 0; i < out.count; i++) {
        conflict *c = &out.items[i];
        ptr_vec all = {0};
        for (size_t k = 0; k < c->f1.count; k++)
            pv_push(v, &all, c->f1.items[k]);
        for (size_t k = 0; k < c->f2.count; k++)
            pv_push(v, &all, c->f2.items[k]);
        report(v, (const gql_node *const *)all.items, all.count,
               "Fields \"%s\" conflict because %s. Use different aliases on the fields to fetch "
               "both if this was intentional.",
               abbrev(v, c->response_name), c->reason);
    }
}

/* ---- the rules ---- */

typedef struct name_groups {
    ptr_vec *items; /* per distinct name, in order of first occurrence: its nodes in order */
    size_t count;
} name_groups;

/* Groups nodes[i] by names[i] in linear time (UniqueArgumentNames, UniqueVariableNames). */
static name_groups group_names(vctx *v, const char *const *names, const gql_node *const *nodes,
                               size_t n) {
    name_groups g = {V_alloc(v, (n + 1) * sizeof *g.items), 0};
    smap index = {0}; /* name -> group index + 1 */
    for (size_t i = 0; i < n; i++) {
        uintptr_t *gi = sm_slot(v, &index, names[i], true);
        if (!*gi) *gi = ++g.count;
        pv_push(v, &g.items[*gi - 1], nodes[i]);
    }
    return g;
}

static void values_is_valid(vctx *v, const gql_node *n) {
    const gql_tref *loc = ti_input(&v->ti);
    if (!loc) return;
    const gql_type *t = gql_tref_named(loc);
    if (!gql_type_is_leaf(t)) {
        report(v, &n, 1, "Expected value of type \"%s\", found %s.", tref_str(v, loc),
               print_node(v, n));
        return;
    }
    char *msg = NULL;
    if (gql_leaf_parse_literal(t, n, v->o->hide_suggestions, &msg) == 0) return;
    if (!msg) {
        report(v, &n, 1, "Expected value of type \"%s\", found %s.", tref_str(v, loc),
               print_node(v, n));
        return;
    }
    const char *m =
        sb_keep(v, &(gql_sb){.p = (char *)msg, .len = strlen(msg), .cap = strlen(msg) + 1});
    report1(v, n, m);
}

static bool variable_allowed(vctx *v, const gql_tref *var_type, const gql_node *var_default,
                             const gql_tref *loc_type, const gql_node *loc_default) {
    if (loc_type->kind == GQL_REF_NON_NULL && var_type->kind != GQL_REF_NON_NULL) {
        bool var_has = var_default && var_default->kind != GQL_NULL_VALUE;
        if (!var_has && !loc_default) return false;
        return gql_tref_is_sub_type(v->s, var_type, loc_type->of);
    }
    return gql_tref_is_sub_type(v->s, var_type, loc_type);
}

static int rule_enter(vctx *v, int r, const gql_node *n, const gql_node *parent, walker *w) {
    tinfo *ti = &v->ti;
    switch (r) {
    case R_EXEC:
        if (n->kind == GQL_DOCUMENT) {
            const gql_list *d = &n->u.document.definitions;
            for (size_t i = 0; i < d->count; i++) {
                const gql_node *def = d->items[i];
                if (def->kind == GQL_OPERATION_DEFINITION || def->kind == GQL_FRAGMENT_DEFINITION)
                    continue;
                if (def->kind == GQL_SCHEMA_DEFINITION || def->kind == GQL_SCHEMA_EXTENSION)
                    report(v, &def, 1, "The schema definition is not executable.");
                else
                    report(v, &def, 1, "The \"%s\" definition is not executable.",
                           def->kind == GQL_DIRECTIVE_DEFINITION ? nm(def->u.directive_def.name)
                                                                 : nm(def->u.type_def.name));
            }
            return 1;
        }
        return 0;
    case R_UNIQUE_OP:
        if (n->kind == GQL_OPERATION_DEFINITION) {
            if (n->u.operation.name) {
                const char *name = nm(n->u.operation.name);
                uintptr_t *prev = sm_slot(v, &v->known_ops, name, true);
                if (*prev) {
                    const gql_node *ns[2] = {(const gql_node *)*prev, n->u.operation.name};
                    report(v, ns, 2, "There can be only one operation named \"%s\".", name);
                } else {
                    *prev = (uintptr_t)n->u.operation.name;
                }
            }
            return 1;
        }
        return n->kind == GQL_FRAGMENT_DEFINITION;
    case R_LONE_ANON:
        if (n->kind == GQL_DOCUMENT) {
            v->operation_count = 0;
            for (size_t i = 0; i < n->u.document.definitions.count; i++)
                if (n->u.document.definitions.items[i]->kind == GQL_OPERATION_DEFINITION)
                    v->operation_count++;
        } else if (n->kind == GQL_OPERATION_DEFINITION && !n->u.operation.name &&
                   v->operation_count > 1) {
            report1(v, n, "This anonymous operation must be the only defined operation.");
        }
        return 0;
    case R_SINGLE_SUB:
        if (n->kind == GQL_OPERATION_DEFINITION) rule_single_sub(v, n);
        return 0;
    case R_KNOWN_TYPES:
        if (n->kind == GQL_NAMED_TYPE) {
            const char *name = gql_name_str(n);
            if (gql_schema_type(v->s, name)) return 0;
            const gql_list *defs = &v->doc->root->u.document.definitions;
            for (size_t i = 0; i < defs->count; i++)
                if (is_type_def_kind(defs->items[i]->kind) &&
                    strcmp(nm(defs->items[i]->u.type_def.name), name) == 0)
                    return 0;
            const gql_node *top = w->nanc >= 2 ? w->ancestors[1] : parent;
            bool sdl = top && is_sdl_kind(top->kind);
            static const char *const std[] = {
                "String",    "Int",      "Float",        "Boolean",
                "ID",        "__Schema", "__Directive",  "__DirectiveLocation",
                "__Type",    "__Field",  "__InputValue", "__EnumValue",
                "__TypeKind"};
            if (sdl)
                for (size_t i = 0; i < sizeof std / sizeof std[0]; i++)
                    if (strcmp(std[i], name) == 0) return 0;
            size_t nopt = v->s->ntypes + defs->count + (sdl ? 13 : 0);
            const char **opts = V_alloc(v, nopt * sizeof *opts);
            size_t k = 0;
            if (sdl)
                for (size_t i = 0; i < 13; i++)
                    opts[k++] = std[i];
            for (size_t i = 0; i < v->s->ntypes; i++)
                opts[k++] = v->s->types[i]->name;
            for (size_t i = 0; i < defs->count; i++)
                if (is_type_def_kind(defs->items[i]->kind))
                    opts[k++] = nm(defs->items[i]->u.type_def.name);
            gql_sb head = {0};
            gql_sb_addf(&head, "Unknown type \"%s\".", name);
            report1(v, n, with_suggestions(v, sb_keep(v, &head), NULL, name, opts, k));
        }
        return 0;
    case R_FRAG_COMPOSITE:
        if (n->kind == GQL_INLINE_FRAGMENT && n->u.inline_fragment.type_condition) {
            const gql_node *tc = n->u.inline_fragment.type_condition;
            const gql_type *t = gql_schema_type(v->s, nm(tc));
            if (t && !gql_type_is_composite(t))
                report(v, &tc, 1, "Fragment cannot condition on non composite type \"%s\".",
                       print_node(v, tc));
        } else if (n->kind == GQL_FRAGMENT_DEFINITION) {
            const gql_node *tc = n->u.fragment.type_condition;
            const gql_type *t = gql_schema_type(v->s, nm(tc));
            if (t && !gql_type_is_composite(t))
                report(v, &tc, 1, "Fragment \"%s\" cannot condition on non composite type \"%s\".",
                       nm(n->u.fragment.name), print_node(v, tc));
        }
        return 0;
    case R_VARS_INPUT:
        if (n->kind == GQL_VARIABLE_DEFINITION) {
            const gql_tref *t = type_from_ast(v, n->u.variable_definition.type);
            if (t && !gql_tref_is_input(t))
                report(v, (const gql_node *const *)&n->u.variable_definition.type, 1,
                       "Variable \"$%s\" cannot be non-input type \"%s\".",
                       gql_name_str(n->u.variable_definition.variable),
                       print_node(v, n->u.variable_definition.type));
        }
        return 0;
    case R_SCALAR_LEAFS:
        if (n->kind == GQL_FIELD) {
            const gql_tref *t = ti_type(ti);
            const gql_node *set = n->u.field.selection_set;
            const char *fname = nm(n->u.field.name);
            if (!t) return 0;
            if (gql_type_is_leaf(gql_tref_named(t))) {
                if (set)
                    report(v, &set, 1,
                           "Field \"%s\" must not have a selection since type \"%s\" has no "
                           "subfields.",
                           fname, tref_str(v, t));
            } else if (!set) {
                report(v, &n, 1,
                       "Field \"%s\" of type \"%s\" must have a selection of subfields. Did you "
                       "mean \"%s { ... }\"?",
                       fname, tref_str(v, t), fname);
            } else if (set->u.selection_set.selections.count == 0) {
                report(v, &n, 1,
                       "Field \"%s\" of type \"%s\" must have at least one field selected.", fname,
                       tref_str(v, t));
            }
        }
        return 0;
    case R_FIELDS_CORRECT:
        if (n->kind == GQL_FIELD) {
            const gql_type *t = ti_parent(ti);
            if (!t || ti_field(ti)) return 0;
            const char *fname = nm(n->u.field.name);
            gql_sb sb = {0};
            gql_sb_addf(&sb, "Cannot query field \"%s\" on type \"%s\".", fname, t->name);
            size_t before = sb.len;
            if (!v->o->hide_suggestions && gql_type_is_abstract(t)) {
                /* getSuggestedTypeNames */
                size_t np;
                gql_type *const *pt = gql_schema_possible_types(v->s, t, &np);
                const gql_type **sug = V_alloc(v, (v->s->ntypes + 1) * sizeof *sug);
                int *count = V_alloc(v, (v->s->ntypes + 1) * sizeof *count);
                size_t ns = 0;
                for (size_t i = 0; i < np; i++) {
                    if (!gql_type_field(pt[i], fname)) continue;
                    bool seen = false;
                    for (size_t k = 0; k < ns; k++)
                        if (sug[k] == pt[i]) seen = true;
                    if (!seen) sug[ns++] = pt[i];
                    count[pt[i]->index] = 1;
                    for (size_t j = 0; j < pt[i]->ninterfaces; j++) {
                        const gql_type *it = pt[i]->interfaces[j];
                        if (!gql_type_field(it, fname)) continue;
                        seen = false;
                        for (size_t k = 0; k < ns; k++)
                            if (sug[k] == it) seen = true;
                        if (!seen) sug[ns++] = it;
                        count[it->index]++;
                    }
                }
                /* insertion sort with graphql-js's comparator (stable) */
                for (size_t i = 1; i < ns; i++)
                    for (size_t j = i; j > 0; j--) {
                        const gql_type *a = sug[j - 1], *b = sug[j];
                        int c = count[b->index] - count[a->index];
                        int cmp;
                        if (c != 0)
                            cmp = c;
                        else if (a->kind == GQL_TYPE_INTERFACE &&
                                 gql_schema_is_sub_type(v->s, a, b))
                            cmp = -1;
                        else if (b->kind == GQL_TYPE_INTERFACE &&
                                 gql_schema_is_sub_type(v->s, b, a))
                            cmp = 1;
                        else
                            cmp = gql_natural_compare(a->name, b->name);
                        if (cmp <= 0) break;
                        sug[j - 1] = b;
                        sug[j] = a;
                    }
                const char **names = V_alloc(v, (ns + 1) * sizeof *names);
                for (size_t i = 0; i < ns; i++)
                    names[i] = sug[i]->name;
                gql_did_you_mean(&sb, "to use an inline fragment on", names, ns);
            }
            if (sb.len == before && !v->o->hide_suggestions &&
                (t->kind == GQL_TYPE_OBJECT || t->kind == GQL_TYPE_INTERFACE)) {
                const char **names = V_alloc(v, (t->nfields + 1) * sizeof *names);
                for (size_t i = 0; i < t->nfields; i++)
                    names[i] = t->fields[i].name;
                const char *sug[5];
                size_t ns = gql_suggestion_list(fname, names, t->nfields, sug, 5);
                gql_did_you_mean(&sb, NULL, sug, ns);
            }
            report1(v, n, sb_keep(v, &sb));
        }
        return 0;
    case R_UNIQUE_FRAG:
        if (n->kind == GQL_OPERATION_DEFINITION) return 1;
        if (n->kind == GQL_FRAGMENT_DEFINITION) {
            const char *name = nm(n->u.fragment.name);
            uintptr_t *prev = sm_slot(v, &v->known_frags, name, true);
            if (*prev) {
                const gql_node *ns[2] = {(const gql_node *)*prev, n->u.fragment.name};
                report(v, ns, 2, "There can be only one fragment named \"%s\".", name);
            } else {
                *prev = (uintptr_t)n->u.fragment.name;
            }
            return 1;
        }
        return 0;
    case R_KNOWN_FRAG:
        if (n->kind == GQL_FRAGMENT_SPREAD && !get_fragment(v, nm(n->u.fragment_spread.name)))
            report(v, (const gql_node *const *)&n->u.fragment_spread.name, 1,
                   "Unknown fragment \"%s\".", nm(n->u.fragment_spread.name));
        return 0;
    case R_NO_UNUSED_FRAG:
        if (n->kind == GQL_OPERATION_DEFINITION) {
            pv_push(v, &v->op_defs, n);
            return 1;
        }
        if (n->kind == GQL_FRAGMENT_DEFINITION) {
            pv_push(v, &v->frag_defs, n);
            return 1;
        }
        return 0;
    case R_POSSIBLE_SPREADS:
        if (n->kind == GQL_INLINE_FRAGMENT) {
            const gql_type *ft = gql_tref_named(ti_type(ti));
            if (ti_type(ti) && ti_type(ti)->kind != GQL_REF_NAMED) ft = NULL;
            const gql_type *pt = ti_parent(ti);
            if (gql_type_is_composite(ft) && gql_type_is_composite(pt) &&
                !gql_schema_types_overlap(v->s, ft, pt))
                report(v, &n, 1,
                       "Fragment cannot be spread here as objects of type \"%s\" can never be of "
                       "type \"%s\".",
                       pt->name, ft->name);
        } else if (n->kind == GQL_FRAGMENT_SPREAD) {
            const char *fname = nm(n->u.fragment_spread.name);
            const gql_node *f = get_fragment(v, fname);
            const gql_type *ft = f ? gql_schema_type(v->s, nm(f->u.fragment.type_condition)) : NULL;
            if (!gql_type_is_composite(ft)) ft = NULL;
            const gql_type *pt = ti_parent(ti);
            if (ft && pt && !gql_schema_types_overlap(v->s, ft, pt))
                report(v, &n, 1,
                       "Fragment \"%s\" cannot be spread here as objects of type \"%s\" can never "
                       "be of type \"%s\".",
                       fname, pt->name, ft->name);
        }
        return 0;
    case R_NO_FRAG_CYCLES:
        if (n->kind == GQL_OPERATION_DEFINITION) return 1;
        if (n->kind == GQL_FRAGMENT_DEFINITION) {
            detect_cycle(v, n);
            return 1;
        }
        return 0;
    case R_UNIQUE_VARS:
        if (n->kind == GQL_OPERATION_DEFINITION) {
            const gql_list *vd = &n->u.operation.variable_definitions;
            const char **names = V_alloc(v, (vd->count + 1) * sizeof *names);
            const gql_node **nodes = V_alloc(v, (vd->count + 1) * sizeof *nodes);
            for (size_t i = 0; i < vd->count; i++) {
                names[i] = gql_name_str(vd->items[i]->u.variable_definition.variable);
                nodes[i] = vd->items[i]->u.variable_definition.variable->u.named.name;
            }
            name_groups g = group_names(v, names, nodes, vd->count);
            for (size_t i = 0; i < g.count; i++)
                if (g.items[i].count > 1)
                    report(v, (const gql_node *const *)g.items[i].items, g.items[i].count,
                           "There can be only one variable named \"$%s\".",
                           nm(g.items[i].items[0]));
        }
        return 0;
    case R_NO_UNDEF_VARS:
        if (n->kind == GQL_OPERATION_DEFINITION) v->var_defined.count = 0;
        if (n->kind == GQL_VARIABLE_DEFINITION) pv_push(v, &v->var_defined, n);
        return 0;
    case R_NO_UNUSED_VARS:
        if (n->kind == GQL_OPERATION_DEFINITION) v->var_defs_unused.count = 0;
        if (n->kind == GQL_VARIABLE_DEFINITION) pv_push(v, &v->var_defs_unused, n);
        return 0;
    case R_KNOWN_DIRS:
        if (n->kind == GQL_DIRECTIVE) {
            const char *name = nm(n->u.directive.name);
            const gql_node *dd = doc_directive_def(v, name);
            uint32_t locs = 0;
            if (dd) {
                for (size_t i = 0; i < dd->u.directive_def.locations.count; i++) {
                    const char *ln = gql_name_str(dd->u.directive_def.locations.items[i]);
                    for (int l = 0; l < GQL_DL_COUNT; l++)
                        if (strcmp(gql_directive_location_name((gql_directive_location)l), ln) == 0)
                            locs |= 1u << l;
                }
            } else {
                const gql_directive *d = gql_schema_directive(v->s, name);
                if (!d) {
                    report(v, &n, 1, "Unknown directive \"@%s\".", name);
                    return 0;
                }
                locs = d->locations;
            }
            const gql_node *grand = w->nanc >= 2 ? w->ancestors[w->nanc - 2] : NULL;
            /* for INPUT_VALUE_DEFINITION graphql-js looks 3 ancestors up (past the list) */
            int loc = gql_directive_location_of(parent, grand, false);
            if (loc >= 0 && !(locs & (1u << loc)))
                report(v, &n, 1, "Directive \"@%s\" may not be used on %s.", name,
                       gql_directive_location_name((gql_directive_location)loc));
        }
        return 0;
    case R_UNIQUE_DIRS: {
        const gql_list *dirs = directives_of(n);
        if (!dirs) return 0;
        bool typed = is_type_def_kind(n->kind) || is_type_ext_kind(n->kind);
        bool schema = n->kind == GQL_SCHEMA_DEFINITION || n->kind == GQL_SCHEMA_EXTENSION;
        const char *owner = typed ? nm(n->u.type_def.name) : schema ? "" : NULL;
        ptr_vec local = {0};
        for (size_t i = 0; i < dirs->count; i++) {
            const gql_node *d = dirs->items[i];
            const char *name = nm(d->u.directive.name);
            const gql_node *dd = doc_directive_def(v, name);
            bool unique;
            if (dd)
                unique = !dd->u.directive_def.repeatable;
            else {
                const gql_directive *sd = gql_schema_directive(v->s, name);
                unique = sd && !sd->repeatable;
            }
            if (!unique) continue;
            const gql_node *prev = NULL;
            if (owner) {
                for (size_t k = 0; k < v->type_dir_seen.count; k++)
                    if (strcmp(v->type_dir_owner.items[k], owner) == 0 &&
                        strcmp(nm(((const gql_node *)v->type_dir_seen.items[k])->u.directive.name),
                               name) == 0)
                        prev = v->type_dir_seen.items[k];
            } else {
                for (size_t k = 0; k < local.count; k++)
                    if (strcmp(nm(((const gql_node *)local.items[k])->u.directive.name), name) == 0)
                        prev = local.items[k];
            }
            if (prev) {
                const gql_node *ns[2] = {prev, d};
                report(v, ns, 2, "The directive \"@%s\" can only be used once at this location.",
                       name);
            } else if (owner) {
                pv_push(v, &v->type_dir_seen, d);
                pv_push(v, &v->type_dir_owner, owner);
            } else {
                pv_push(v, &local, d);
            }
        }
        return 0;
    }
    case R_KNOWN_ARGS:
        if (n->kind == GQL_DIRECTIVE) {
            const char *name = nm(n->u.directive.name);
            const gql_node *dd = doc_directive_def(v, name);
            const gql_directive *sd = dd ? NULL : gql_schema_directive(v->s, name);
            if (!dd && !sd) return 1;
            size_t nk = dd ? dd->u.directive_def.arguments.count : sd->nargs;
            const char **known = V_alloc(v, (nk + 1) * sizeof *known);
            size_t k2 = 0;
            for (size_t i = 0; i < nk; i++) {
                const char *an = dd ? nm(dd->u.directive_def.arguments.items[i]->u.field_def.name)
                                    : sd->args[i].name;
                bool dup = false;
                for (size_t q = 0; q < k2; q++)
                    if (strcmp(known[q], an) == 0) dup = true;
                if (!dup) known[k2++] = an;
            }
            for (size_t i = 0; i < n->u.directive.arguments.count; i++) {
                const gql_node *a = n->u.directive.arguments.items[i];
                const char *an = nm(a->u.argument.name);
                bool ok = false;
                for (size_t q = 0; q < k2; q++)
                    if (strcmp(known[q], an) == 0) ok = true;
                if (ok) continue;
                gql_sb head = {0};
                gql_sb_addf(&head, "Unknown argument \"%s\" on directive \"@%s\".", an, name);
                report1(v, a, with_suggestions(v, sb_keep(v, &head), NULL, an, known, k2));
            }
            return 1;
        }
        if (n->kind == GQL_ARGUMENT) {
            const gql_field *fd = ti_field(ti);
            const gql_type *pt = ti_parent(ti);
            if (!ti->argument && fd && pt) {
                const char *an = nm(n->u.argument.name);
                const char **names = V_alloc(v, (fd->nargs + 1) * sizeof *names);
                for (size_t i = 0; i < fd->nargs; i++)
                    names[i] = fd->args[i].name;
                gql_sb head = {0};
                gql_sb_addf(&head, "Unknown argument \"%s\" on field \"%s.%s\".", an, pt->name,
                            fd->name);
                report1(v, n, with_suggestions(v, sb_keep(v, &head), NULL, an, names, fd->nargs));
            }
        }
        return 0;
    case R_UNIQUE_ARGS:
        if (n->kind == GQL_FIELD || n->kind == GQL_DIRECTIVE) {
            const gql_list *args =
                n->kind == GQL_FIELD ? &n->u.field.arguments : &n->u.directive.arguments;
            if (args->count < 2) return 0;
            const char **names = V_alloc(v, (args->count + 1) * sizeof *names);
            const gql_node **nodes = V_alloc(v, (args->count + 1) * sizeof *nodes);
            for (size_t i = 0; i < args->count; i++) {
                names[i] = nm(args->items[i]->u.argument.name);
                nodes[i] = args->items[i]->u.argument.name;
            }
            name_groups g = group_names(v, names, nodes, args->count);
            for (size_t i = 0; i < g.count; i++)
                if (g.items[i].count > 1)
                    report(v, (const gql_node *const *)g.items[i].items, g.items[i].count,
                           "There can be only one argument named \"%s\".", nm(g.items[i].items[0]));
        }
        return 0;
    case R_VALUES:
        switch (n->kind) {
        case GQL_LIST_VALUE: {
            const gql_tref *t = gql_tref_nullable(ti_parent_input(ti));
            if (!t || t->kind != GQL_REF_LIST) {
                values_is_valid(v, n);
                return 1;
            }
            return 0;
        }
        case GQL_OBJECT_VALUE: {
            const gql_type *t = gql_tref_named(ti_input(ti));
            if (!t || t->kind != GQL_TYPE_INPUT_OBJECT) {
                values_is_valid(v, n);
                return 1;
            }
            for (size_t i = 0; i < t->ninput_fields; i++) {
                const gql_input_value *f = &t->input_fields[i];
                bool given = false;
                for (size_t k = 0; k < n->u.object.fields.count; k++)
                    if (strcmp(nm(n->u.object.fields.items[k]->u.argument.name), f->name) == 0)
                        given = true;
                if (!given && gql_tref_is_non_null(f->type) && !f->default_value)
                    report(v, &n, 1, "Field \"%s.%s\" of required type \"%s\" was not provided.",
                           t->name, f->name, tref_str(v, f->type));
            }
            if (t->one_of) {
                /* keyMap: distinct names, the last node of a name wins */
                size_t distinct = 0;
                const gql_node *last = NULL;
                for (size_t k = 0; k < n->u.object.fields.count; k++) {
                    const char *fn = nm(n->u.object.fields.items[k]->u.argument.name);
                    bool seen = false;
                    for (size_t q = 0; q < k; q++)
                        if (strcmp(nm(n->u.object.fields.items[q]->u.argument.name), fn) == 0)
                            seen = true;
                    if (!seen) distinct++;
                    last = n->u.object.fields.items[k];
                }
                if (distinct != 1) {
                    report(v, &n, 1, "OneOf Input Object \"%s\" must specify exactly one key.",
                           t->name);
                } else if (last->u.argument.value->kind == GQL_NULL_VALUE) {
                    report(v, &n, 1, "Field \"%s.%s\" must be non-null.", t->name,
                           nm(last->u.argument.name));
                }
            }
            return 0;
        }
        case GQL_OBJECT_FIELD: {
            const gql_type *pt = gql_tref_named(ti_parent_input(ti));
            if (!ti_input(ti) && pt && pt->kind == GQL_TYPE_INPUT_OBJECT) {
                const char *fn = nm(n->u.argument.name);
                const char **names = V_alloc(v, (pt->ninput_fields + 1) * sizeof *names);
                for (size_t i = 0; i < pt->ninput_fields; i++)
                    names[i] = pt->input_fields[i].name;
                gql_sb head = {0};
                gql_sb_addf(&head, "Field \"%s\" is not defined by type \"%s\".", fn, pt->name);
                report1(v, n,
                        with_suggestions(v, sb_keep(v, &head), NULL, fn, names, pt->ninput_fields));
            }
            return 0;
        }
        case GQL_NULL_VALUE:
            if (gql_tref_is_non_null(ti_input(ti)))
                report(v, &n, 1, "Expected value of type \"%s\", found null.",
                       tref_str(v, ti_input(ti)));
            return 0;
        case GQL_ENUM_VALUE:
        case GQL_INT_VALUE:
        case GQL_FLOAT_VALUE:
        case GQL_STRING_VALUE:
        case GQL_BOOLEAN_VALUE:
            values_is_valid(v, n);
            return 0;
        default:
            return 0;
        }
    case R_VARS_ALLOWED:
        if (n->kind == GQL_OPERATION_DEFINITION) v->var_defs_allowed.count = 0;
        if (n->kind == GQL_VARIABLE_DEFINITION) pv_push(v, &v->var_defs_allowed, n);
        return 0;
    case R_OVERLAP:
        if (n->kind == GQL_SELECTION_SET) rule_overlap(v, n, parent);
        return 0;
    case R_UNIQUE_INPUT:
        if (n->kind == GQL_OBJECT_VALUE) {
            pv_push(v, &v->input_names_stack, V_alloc(v, sizeof(smap)));
        } else if (n->kind == GQL_OBJECT_FIELD && v->input_names_stack.count) {
            const char *fn = nm(n->u.argument.name);
            smap *known = (smap *)v->input_names_stack.items[v->input_names_stack.count - 1];
            uintptr_t *prev = sm_slot(v, known, fn, true);
            if (*prev) {
                const gql_node *ns[2] = {(const gql_node *)*prev, n->u.argument.name};
                report(v, ns, 2, "There can be only one input field named \"%s\".", fn);
            } else {
                *prev = (uintptr_t)n->u.argument.name;
            }
        }
        return 0;
    case R_MAX_INTRO:
        if (n->kind == GQL_FIELD) {
            const char *fname = nm(n->u.field.name);
            if (strcmp(fname, "__schema") == 0 || strcmp(fname, "__type") == 0) {
                smap visited = {0};
                if (check_intro_depth(v, n, &visited, 0)) {
                    report1(v, n, "Maximum introspection depth exceeded");
                    return 1;
                }
            }
        }
        return 0;
    default:
        return 0;
    }
}

static void rule_leave(vctx *v, int r, const gql_node *n) {
    tinfo *ti = &v->ti;
    switch (r) {
    case R_NO_UNUSED_FRAG:
        if (n->kind == GQL_DOCUMENT) {
            const ptr_vec *used = referenced_fragments(v, (const gql_node *const *)v->op_defs.items,
                                                       v->op_defs.count);
            smap used_names = {0};
            for (size_t k = 0; k < used->count; k++)
                *sm_slot(v, &used_names, nm(((const gql_node *)used->items[k])->u.fragment.name),
                         true) = 1;
            for (size_t i = 0; i < v->frag_defs.count; i++) {
                const gql_node *f = v->frag_defs.items[i];
                const char *fname = nm(f->u.fragment.name);
                if (!sm_get(&used_names, fname, NULL))
                    report(v, &f, 1, "Fragment \"%s\" is never used.", fname);
            }
        }
        break;
    case R_NO_UNDEF_VARS:
        if (n->kind == GQL_OPERATION_DEFINITION) {
            const usage_vec u = *recursive_usages(v, n);
            smap defined = {0};
            for (size_t k = 0; k < v->var_defined.count; k++)
                *sm_slot(v, &defined,
                         gql_name_str(((const gql_node *)v->var_defined.items[k])
                                          ->u.variable_definition.variable),
                         true) = 1;
            for (size_t i = 0; i < u.count; i++) {
                const char *vn = gql_name_str(u.items[i].node);
                if (sm_get(&defined, vn, NULL)) continue;
                const gql_node *ns[2] = {u.items[i].node, n};
                if (n->u.operation.name)
                    report(v, ns, 2, "Variable \"$%s\" is not defined by operation \"%s\".", vn,
                           nm(n->u.operation.name));
                else
                    report(v, ns, 2, "Variable \"$%s\" is not defined.", vn);
            }
        }
        break;
    case R_NO_UNUSED_VARS:
        if (n->kind == GQL_OPERATION_DEFINITION) {
            const usage_vec u = *recursive_usages(v, n);
            smap used_vars = {0};
            for (size_t k = 0; k < u.count; k++)
                *sm_slot(v, &used_vars, gql_name_str(u.items[k].node), true) = 1;
            for (size_t i = 0; i < v->var_defs_unused.count; i++) {
                const gql_node *d = v->var_defs_unused.items[i];
                const char *vn = gql_name_str(d->u.variable_definition.variable);
                if (sm_get(&used_vars, vn, NULL)) continue;
                if (n->u.operation.name)
                    report(v, &d, 1, "Variable \"$%s\" is never used in operation \"%s\".", vn,
                           nm(n->u.operation.name));
                else
                    report(v, &d, 1, "Variable \"$%s\" is never used.", vn);
            }
        }
        break;
    case R_PROVIDED_ARGS:
        if (n->kind == GQL_FIELD) {
            const gql_field *fd = ti_field(ti);
            if (!fd) break;
            for (size_t i = 0; i < fd->nargs; i++) {
                const gql_input_value *a = &fd->args[i];
                if (!gql_tref_is_non_null(a->type) || a->default_value) continue;
                bool given = false;
                for (size_t k = 0; k < n->u.field.arguments.count; k++)
                    if (strcmp(nm(n->u.field.arguments.items[k]->u.argument.name), a->name) == 0)
                        given = true;
                if (!given)
                    report(v, &n, 1,
                           "Field \"%s\" argument \"%s\" of type \"%s\" is required, but it was "
                           "not provided.",
                           fd->name, a->name, tref_str(v, a->type));
            }
        } else if (n->kind == GQL_DIRECTIVE) {
            const char *name = nm(n->u.directive.name);
            const gql_node *dd = doc_directive_def(v, name);
            const gql_directive *sd = dd ? NULL : gql_schema_directive(v->s, name);
            if (!dd && !sd) break;
            size_t na = dd ? dd->u.directive_def.arguments.count : sd->nargs;
            for (size_t i = 0; i < na; i++) {
                const char *an;
                const char *ts;
                if (dd) {
                    const gql_node *ad = dd->u.directive_def.arguments.items[i];
                    if (ad->u.field_def.type->kind != GQL_NON_NULL_TYPE ||
                        ad->u.field_def.default_value)
                        continue;
                    an = nm(ad->u.field_def.name);
                    ts = print_node(v, ad->u.field_def.type);
                } else {
                    const gql_input_value *a = &sd->args[i];
                    if (!gql_tref_is_non_null(a->type) || a->default_value) continue;
                    an = a->name;
                    ts = tref_str(v, a->type);
                }
                bool given = false;
                for (size_t k = 0; k < n->u.directive.arguments.count; k++)
                    if (strcmp(nm(n->u.directive.arguments.items[k]->u.argument.name), an) == 0)
                        given = true;
                if (!given)
                    report(v, &n, 1,
                           "Directive \"@%s\" argument \"%s\" of type \"%s\" is required, but it "
                           "was not provided.",
                           name, an, ts);
            }
        }
        break;
    case R_VARS_ALLOWED:
        if (n->kind == GQL_OPERATION_DEFINITION) {
            const usage_vec u = *recursive_usages(v, n);
            smap defs = {0}; /* name -> the last definition of it */
            for (size_t k = 0; k < v->var_defs_allowed.count; k++) {
                const gql_node *d = v->var_defs_allowed.items[k];
                *sm_slot(v, &defs, gql_name_str(d->u.variable_definition.variable), true) =
                    (uintptr_t)d;
            }
            for (size_t i = 0; i < u.count; i++) {
                const usage *us = &u.items[i];
                const char *vn = gql_name_str(us->node);
                uintptr_t vdp = 0;
                sm_get(&defs, vn, &vdp);
                const gql_node *vd = (const gql_node *)vdp;
                if (!vd || !us->type) continue;
                const gql_tref *vt = type_from_ast(v, vd->u.variable_definition.type);
                const gql_node *ns[2] = {vd, us->node};
                if (vt && !variable_allowed(v, vt, vd->u.variable_definition.default_value,
                                            us->type, us->default_value))
                    report(v, ns, 2,
                           "Variable \"$%s\" of type \"%s\" used in position expecting type "
                           "\"%s\".",
                           vn, tref_str(v, vt), tref_str(v, us->type));
                const gql_type *pt = us->parent_type && us->parent_type->kind == GQL_REF_NAMED
                                         ? us->parent_type->named
                                         : NULL;
                if (pt && pt->kind == GQL_TYPE_INPUT_OBJECT && pt->one_of &&
                    !gql_tref_is_non_null(vt))
                    report(v, ns, 2,
                           "Variable \"$%s\" is of type \"%s\" but must be non-nullable to be used "
                           "for OneOf Input Object \"%s\".",
                           vn, vt ? tref_str(v, vt) : "undefined", pt->name);
            }
        }
        break;
    case R_UNIQUE_INPUT:
        if (n->kind == GQL_OBJECT_VALUE) {
            if (v->input_names_stack.count) v->input_names_stack.count--;
        }
        break;
    default:
        break;
    }
}

static int main_enter(walker *w, const gql_node *n, const gql_node *parent) {
    vctx *v = w->v;
    if (n->kind == GQL_DOCUMENT) w->topdef = NULL;
    for (int r = 0; r < R_COUNT; r++) {
        if (w->skip[r]) continue;
        if (r == R_MAX_INTRO && v->o->skip_introspection_depth) continue;
        if (rule_enter(v, r, n, parent, w)) w->skip[r] = n;
    }
    return 0;
}

static void main_leave(walker *w, const gql_node *n, const gql_node *parent) {
    (void)parent;
    vctx *v = w->v;
    for (int r = 0; r < R_COUNT; r++) {
        if (w->skip[r]) {
            if (w->skip[r] == n) w->skip[r] = NULL;
            continue;
        }
        rule_leave(v, r, n);
    }
}

/* ---- our limits: depth, aliases, fields, pagination arguments, cost ----
 * One walk per operation computes every metric; a fragment's metrics are computed once and
 * reused at every spread (memoised in vctx.memo), so the work is linear in the document however
 * often fragments are spread (a document spreading two fragments per level 40 levels deep stands
 * for 2^40 fields: its numbers saturate, its analysis takes microseconds). */

typedef struct metrics {
    unsigned long depth, fields, aliases, cost;
    bool varying; /* the cost read a page size from a variable: it depends on the operation */
} metrics;

typedef struct frag_memo {
    int state; /* 1: being computed (a spread cycle: cut), 2: done */
    metrics m;
    const gql_node *op; /* the operation whose variables m.cost used, when m.varying */
} frag_memo;

static unsigned long sat_add(unsigned long a, unsigned long b) {
    return a > ULONG_MAX - b ? ULONG_MAX : a + b;
}

static unsigned long sat_mul(unsigned long a, unsigned long b) {
    return b && a > ULONG_MAX / b ? ULONG_MAX : a * b;
}

static const char *op_label(vctx *v, const gql_node *op) {
    gql_sb sb = {0};
    if (op->u.operation.name)
        gql_sb_addf(&sb, "Operation \"%s\"", nm(op->u.operation.name));
    else
        gql_sb_add(&sb, "Anonymous operation");
    return sb_keep(v, &sb);
}

/* The page size a paginated field asks for: its first/last argument (a variable counts as its
 * default, or as the maximum without one: the executor re-checks the runtime value), else the
 * argument's default in the schema. With require_pagination a missing or out-of-range value is
 * reported (and counts as 1); without, a missing one counts as the maximum. */
static unsigned long page_size(vctx *v, const gql_node *op, const gql_node *field,
                               const gql_type *parent, const gql_field *fd, bool *varying) {
    const gql_node *val = NULL;
    const char *which = NULL;
    bool require = v->o->require_pagination;
    for (size_t i = 0; i < field->u.field.arguments.count; i++) {
        const gql_node *a = field->u.field.arguments.items[i];
        const char *an = nm(a->u.argument.name);
        if (strcmp(an, "first") == 0 || strcmp(an, "last") == 0) {
            val = a->u.argument.value;
            which = an;
        }
    }
    if (val && val->kind == GQL_VARIABLE) {
        *varying = true;
        const gql_node *dv = NULL;
        for (size_t i = 0; i < op->u.operation.variable_definitions.count; i++) {
            const gql_node *d = op->u.operation.variable_definitions.items[i];
            if (strcmp(gql_name_str(d->u.variable_definition.variable), gql_name_str(val)) == 0)
                dv = d->u.variable_definition.default_value;
        }
        if (!dv) return GQL_VALIDATE_PAGE_MAX; /* checked at execution: assume the maximum */
        val = dv;
    }
    if (!val) {
        const gql_input_value *a = gql_field_arg(fd, "first");
        if (!a || !a->default_value) a = gql_field_arg(fd, "last");
        if (a && a->default_value && a->default_value->kind == GQL_INT_VALUE) {
            val = a->default_value;
            which = a->name;
        }
    }
    if (!val || val->kind == GQL_NULL_VALUE) {
        if (!require) return GQL_VALIDATE_PAGE_MAX;
        report(v, &field, 1,
               "Field \"%s.%s\" is a list: it requires a \"first\" or \"last\" argument between 1 "
               "and %u.",
               parent->name, nm(field->u.field.name), GQL_VALIDATE_PAGE_MAX);
        return 1;
    }
    long long x = val->kind == GQL_INT_VALUE ? strtoll(val->u.text.value, NULL, 10) : -1;
    if (x < 1 || x > (long long)GQL_VALIDATE_PAGE_MAX) {
        if (!require) return x < 1 ? 1 : (unsigned long)x;
        report(v, &field, 1, "Argument \"%s\" of field \"%s.%s\" must be between 1 and %u.", which,
               parent->name, nm(field->u.field.name), GQL_VALIDATE_PAGE_MAX);
        return 1;
    }
    return (unsigned long)x;
}

static bool is_connection(const gql_type *t) {
    size_t n = t ? strlen(t->name) : 0;
    return n > 10 && strcmp(t->name + n - 10, "Connection") == 0;
}

/* A field takes part in pagination when it returns a list of a composite type or a *Connection
 * type and declares a `first` or `last` argument. */
static bool is_paginated(const gql_field *fd) {
    if (!gql_field_arg(fd, "first") && !gql_field_arg(fd, "last")) return false;
    const gql_tref *t = gql_tref_nullable(fd->type);
    const gql_type *named = gql_tref_named(t);
    if (!gql_type_is_composite(named)) return false;
    return t->kind == GQL_REF_LIST || is_connection(named);
}

/* How many items a field stands for in the cost: its page size when paginated; a list of a
 * composite type without first/last counts GQL_VALIDATE_LIST_SIZE, except inside a *Connection
 * (its edges/nodes are bounded by the connection's page size); 0 for anything else. */
static unsigned long list_size(vctx *v, const gql_node *op, const gql_node *field,
                               const gql_type *parent, const gql_field *fd, bool *varying) {
    if (is_paginated(fd)) return page_size(v, op, field, parent, fd, varying);
    const gql_tref *t = gql_tref_nullable(fd->type);
    if (t->kind != GQL_REF_LIST || !gql_type_is_composite(gql_tref_named(t))) return 0;
    return is_connection(parent) ? 0 : GQL_VALIDATE_LIST_SIZE;
}

static metrics frag_metrics(vctx *v, const gql_node *op, const gql_node *f);

static metrics set_metrics(vctx *v, const gql_node *op, const gql_type *parent,
                           const gql_node *set) {
    metrics r = {0};
    if (!set) return r;
    if (++v->limit_nesting > STACK_MAX) {
        report(v, &op, 1, "%s nests selections more than %d deep (fragments followed).",
               op_label(v, op), STACK_MAX);
        longjmp(v->abort, 1);
    }
    for (size_t i = 0; i < set->u.selection_set.selections.count; i++) {
        const gql_node *sel = set->u.selection_set.selections.items[i];
        metrics m = {0};
        if (sel->kind == GQL_FIELD) {
            const gql_field *fd =
                parent ? gql_schema_field(v->s, parent, nm(sel->u.field.name)) : NULL;
            metrics c = set_metrics(v, op, fd ? gql_tref_named(fd->type) : NULL,
                                    sel->u.field.selection_set);
            m.depth = c.depth + 1;
            m.fields = sat_add(c.fields, 1);
            m.aliases = sat_add(c.aliases, sel->u.field.alias ? 1 : 0);
            m.varying = c.varying;
            unsigned long p = fd ? list_size(v, op, sel, parent, fd, &m.varying) : 0;
            m.cost = !fd ? 0 : p ? sat_add(p, sat_mul(p, c.cost)) : c.cost;
        } else if (sel->kind == GQL_INLINE_FRAGMENT) {
            const gql_node *tc = sel->u.inline_fragment.type_condition;
            const gql_type *t = tc ? gql_schema_type(v->s, nm(tc)) : parent;
            m = set_metrics(v, op, t, sel->u.inline_fragment.selection_set);
        } else {
            const gql_node *f = get_fragment(v, nm(sel->u.fragment_spread.name));
            if (!f) continue;
            m = frag_metrics(v, op, f);
        }
        if (m.depth > r.depth) r.depth = m.depth;
        r.fields = sat_add(r.fields, m.fields);
        r.aliases = sat_add(r.aliases, m.aliases);
        r.cost = sat_add(r.cost, m.cost);
        r.varying = r.varying || m.varying;
    }
    if (!parent) r.cost = 0; /* unknown types: the spec rules report them */
    v->limit_nesting--;
    return r;
}

/* A fragment's metrics, computed once (again per operation only when its cost read variables). */
static metrics frag_metrics(vctx *v, const gql_node *op, const gql_node *f) {
    frag_memo *fm = (frag_memo *)pm_get(&v->memo, (uintptr_t)f, MEMO_LIMITS);
    if (fm && fm->state == 1) return (metrics){0}; /* NoFragmentCycles reports the cycle */
    if (fm && (!fm->m.varying || fm->op == op)) return fm->m;
    if (!fm) {
        fm = V_alloc(v, sizeof *fm);
        *pm_slot(v, &v->memo, (uintptr_t)f, MEMO_LIMITS, true) = (uintptr_t)fm;
    }
    fm->state = 1;
    metrics m = set_metrics(v, op, gql_schema_type(v->s, nm(f->u.fragment.type_condition)),
                            f->u.fragment.selection_set);
    fm->state = 2;
    fm->m = m;
    fm->op = op;
    return m;
}

static bool limits_on(const gql_validate_opts *o) {
    return o->max_depth || o->max_aliases || o->max_fields || o->max_cost || o->require_pagination;
}

static void extra_limits(vctx *v) {
    const gql_validate_opts *o = v->o;
    const gql_list *defs = &v->doc->root->u.document.definitions;
    for (size_t i = 0; i < defs->count; i++) {
        const gql_node *op = defs->items[i];
        if (op->kind != GQL_OPERATION_DEFINITION) continue;
        v->limit_nesting = 0;
        metrics m = set_metrics(v, op, gql_schema_root(v->s, op->u.operation.operation),
                                op->u.operation.selection_set);
        if (o->max_depth && m.depth > o->max_depth)
            report(v, &op, 1, "%s has depth %lu, which exceeds the maximum depth of %u.",
                   op_label(v, op), m.depth, o->max_depth);
        if (o->max_aliases && m.aliases > o->max_aliases)
            report(v, &op, 1,
                   "%s has %lu aliased fields, which exceeds the maximum of %lu aliases "
                   "(fragments counted at every spread).",
                   op_label(v, op), m.aliases, o->max_aliases);
        if (o->max_fields && m.fields > o->max_fields)
            report(v, &op, 1,
                   "%s selects %lu fields, which exceeds the maximum of %lu fields (fragments "
                   "counted at every spread).",
                   op_label(v, op), m.fields, o->max_fields);
        if (o->max_cost && m.cost > o->max_cost)
            report(v, &op, 1, "%s has cost %lu, which exceeds the maximum cost of %lu.",
                   op_label(v, op), m.cost, o->max_cost);
    }
}

/* ---- entry ---- */

int gql_validate(const gql_schema *s, const gql_document *doc, const gql_validate_opts *opts,
                 gql_errors *errs) {
    static const gql_validate_opts defaults = {0};
    vctx *v = calloc(1, sizeof *v);
    if (!v) return -1;
    walker *w = calloc(1, sizeof *w);
    ofc *of = calloc(1, sizeof *of);
    if (!w || !of) {
        free(w);
        free(of);
        free(v);
        return -1;
    }
    v->s = s;
    v->doc = doc;
    v->o = opts ? opts : &defaults;
    v->errs = errs;
    v->start_count = errs->count;
    v->max_errors = v->o->max_errors ? v->o->max_errors : GQL_VALIDATE_DEFAULT_MAX_ERRORS;
    v->fragment_work = 50000;
    v->complexity = 500000;
    v->ti.s = s;
    v->of = of;
    gql_arena_init(&v->arena, 0);
    int rc = setjmp(v->abort);
    if (rc == 0) {
        const gql_list *defs = &doc->root->u.document.definitions;
        v->frags = V_alloc(v, (defs->count + 1) * sizeof *v->frags);
        for (size_t i = 0; i < defs->count; i++)
            if (defs->items[i]->kind == GQL_FRAGMENT_DEFINITION)
                v->frags[v->nfrags++] = defs->items[i];
        for (size_t i = 0; i < v->nfrags; i++)
            *sm_slot(v, &v->frag_by_name, nm(v->frags[i]->u.fragment.name), true) =
                (uintptr_t)v->frags[i];
        /* our limits first: linear, and a document over them is refused without the spec
         * rules' work */
        if (limits_on(v->o)) extra_limits(v);
        if (!v->o->skip_spec_rules && errs->count == v->start_count) {
            w->v = v;
            w->ti = &v->ti;
            w->enter = main_enter;
            w->leave = main_leave;
            walk(w, doc->root, NULL);
        }
    }
    bool oom = v->oom || errs->oom;
    int added = (int)(errs->count - v->start_count);
    gql_arena_free(&v->arena);
    free(w);
    free(of);
    free(v);
    return oom ? -1 : added;
}
