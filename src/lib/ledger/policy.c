/* policy: see policy.h. */
#include "lib/ledger/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- parser ---------- */

typedef struct parser {
    const char *s;
    size_t len, pos, n_nodes;
    size_t err_pos;
    err_t *e;
} parser_t;

static int perr_(parser_t *p, size_t pos, const char *fmt, const char *arg) {
    char msg[200];
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    p->err_pos = pos;
    return err_set(p->e, 400, "invalid_policy", "policy", "%s at offset %zu", msg, pos);
}

static void skip_ws_(parser_t *p) {
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int is_org_char_(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
}

static void node_free_(policy_node_t *n) {
    if (!n) return;
    for (size_t i = 0; i < n->n_children; i++)
        node_free_(n->children[i]);
    free(n->children);
    free(n);
}

static policy_node_t *node_new_(parser_t *p, size_t pos) {
    if (p->n_nodes >= POLICY_MAX_NODES) {
        perr_(p, pos, "policy has more than %s elements", "256");
        return NULL;
    }
    policy_node_t *n = calloc(1, sizeof *n);
    if (!n) {
        err_set(p->e, 500, "internal", "", "out of memory");
        p->err_pos = pos;
        return NULL;
    }
    n->pos = pos;
    p->n_nodes++;
    return n;
}

static int cmp_uint_(const void *a, const void *b) {
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

/* fewest signatures: sum of the `threshold` smallest children minima */
static void compute_min_(policy_node_t *n) {
    if (n->op == POLICY_PRINCIPAL) {
        n->min_sigs = 1;
        return;
    }
    unsigned mins[POLICY_MAX_CHILDREN];
    for (size_t i = 0; i < n->n_children; i++)
        mins[i] = n->children[i]->min_sigs;
    qsort(mins, n->n_children, sizeof mins[0], cmp_uint_);
    unsigned sum = 0;
    for (unsigned i = 0; i < n->threshold; i++)
        sum += mins[i];
    n->min_sigs = sum;
}

static policy_node_t *parse_expr_(parser_t *p, int depth);

static policy_node_t *parse_principal_(parser_t *p) {
    size_t start = p->pos; /* at the opening quote */
    p->pos++;
    size_t body = p->pos;
    while (p->pos < p->len && p->s[p->pos] != '\'') {
        if (!is_org_char_(p->s[p->pos])) {
            perr_(p, p->pos, "unexpected character in principal%s", NULL);
            return NULL;
        }
        p->pos++;
    }
    if (p->pos >= p->len) {
        perr_(p, start, "unterminated principal%s", NULL);
        return NULL;
    }
    size_t end = p->pos; /* closing quote */
    p->pos++;
    size_t dot = end;
    for (size_t i = end; i > body; i--)
        if (p->s[i - 1] == '.') {
            dot = i - 1;
            break;
        }
    if (dot == end) {
        perr_(p, start, "principal must be 'Org.role'%s", NULL);
        return NULL;
    }
    size_t org_len = dot - body, role_len = end - dot - 1;
    if (org_len == 0) {
        perr_(p, body, "empty organisation name%s", NULL);
        return NULL;
    }
    if (org_len > POLICY_MAX_ORG) {
        perr_(p, body, "organisation name longer than %s bytes", "64");
        return NULL;
    }
    policy_role_t role;
    if (role_len == 6 && memcmp(p->s + dot + 1, "member", 6) == 0) {
        role = POLICY_ROLE_MEMBER;
    } else if (role_len == 5 && memcmp(p->s + dot + 1, "admin", 5) == 0) {
        role = POLICY_ROLE_ADMIN;
    } else {
        char r[32];
        snprintf(r, sizeof r, "%.*s", (int)(role_len > 20 ? 20 : role_len), p->s + dot + 1);
        perr_(p, dot + 1, "unsupported role '%s' (member or admin)", r);
        return NULL;
    }
    policy_node_t *n = node_new_(p, start);
    if (!n) return NULL;
    n->op = POLICY_PRINCIPAL;
    n->threshold = 1;
    memcpy(n->org, p->s + body, org_len);
    n->org[org_len] = 0;
    n->role = role;
    n->min_sigs = 1;
    return n;
}

static policy_node_t *parse_function_(parser_t *p, int depth) {
    size_t start = p->pos;
    while (p->pos < p->len && ((p->s[p->pos] >= 'a' && p->s[p->pos] <= 'z') ||
                               (p->s[p->pos] >= 'A' && p->s[p->pos] <= 'Z')))
        p->pos++;
    size_t l = p->pos - start;
    const char *w = p->s + start;
    policy_op_t op;
    if ((l == 3 && (memcmp(w, "AND", 3) == 0 || memcmp(w, "and", 3) == 0))) {
        op = POLICY_AND;
    } else if (l == 2 && (memcmp(w, "OR", 2) == 0 || memcmp(w, "or", 2) == 0)) {
        op = POLICY_OR;
    } else if (l == 5 && (memcmp(w, "OutOf", 5) == 0 || memcmp(w, "outof", 5) == 0)) {
        op = POLICY_OUTOF;
    } else {
        perr_(p, start, "expected AND, OR, OutOf or a quoted principal%s", NULL);
        return NULL;
    }
    if (depth >= POLICY_MAX_DEPTH) {
        perr_(p, start, "policy nested deeper than %s levels", "16");
        return NULL;
    }
    skip_ws_(p);
    if (p->pos >= p->len || p->s[p->pos] != '(') {
        perr_(p, p->pos, "expected '('%s", NULL);
        return NULL;
    }
    p->pos++;
    policy_node_t *n = node_new_(p, start);
    if (!n) return NULL;
    n->op = op;
    unsigned want = 0;
    if (op == POLICY_OUTOF) {
        skip_ws_(p);
        size_t npos = p->pos;
        unsigned long v = 0;
        size_t digits = 0;
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            v = v * 10 + (unsigned long)(p->s[p->pos] - '0');
            if (v > POLICY_MAX_CHILDREN) v = POLICY_MAX_CHILDREN + 1;
            p->pos++;
            digits++;
        }
        if (digits == 0) {
            perr_(p, npos, "OutOf needs a number first%s", NULL);
            goto fail;
        }
        if (digits > 1 && p->s[npos] == '0') {
            perr_(p, npos, "number with a leading zero%s", NULL);
            goto fail;
        }
        want = (unsigned)v;
        if (want < 1) {
            perr_(p, npos, "OutOf needs at least 1%s", NULL);
            goto fail;
        }
        skip_ws_(p);
        if (p->pos >= p->len || p->s[p->pos] != ',') {
            perr_(p, p->pos, "expected ','%s", NULL);
            goto fail;
        }
        p->pos++;
        n->pos = npos; /* report threshold errors at the number */
    }
    policy_node_t *kids[POLICY_MAX_CHILDREN];
    size_t nk = 0;
    for (;;) {
        skip_ws_(p);
        if (nk == POLICY_MAX_CHILDREN) {
            perr_(p, p->pos, "more than %s arguments", "64");
            goto fail_kids;
        }
        policy_node_t *c = parse_expr_(p, depth + 1);
        if (!c) goto fail_kids;
        kids[nk++] = c;
        skip_ws_(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ')') {
            p->pos++;
            break;
        }
        perr_(p, p->pos, "expected ',' or ')'%s", NULL);
        goto fail_kids;
    }
    if (op == POLICY_OUTOF && want > nk) {
        char num[16];
        snprintf(num, sizeof num, "%zu", nk);
        perr_(p, n->pos, "OutOf threshold exceeds its %s arguments", num);
        goto fail_kids;
    }
    n->children = malloc(nk * sizeof *n->children);
    if (!n->children) {
        err_set(p->e, 500, "internal", "", "out of memory");
        goto fail_kids;
    }
    memcpy(n->children, kids, nk * sizeof *kids);
    n->n_children = nk;
    n->threshold = op == POLICY_AND ? (unsigned)nk : op == POLICY_OR ? 1u : want;
    n->pos = start;
    compute_min_(n);
    return n;
fail_kids:
    for (size_t i = 0; i < nk; i++)
        node_free_(kids[i]);
fail:
    node_free_(n);
    return NULL;
}

static policy_node_t *parse_expr_(parser_t *p, int depth) {
    skip_ws_(p);
    if (p->pos >= p->len) {
        perr_(p, p->pos, "unexpected end of policy%s", NULL);
        return NULL;
    }
    if (p->s[p->pos] == '\'') return parse_principal_(p);
    return parse_function_(p, depth);
}

int policy_parse(const char *text, policy_t *out, size_t *err_pos, err_t *e) {
    if (err_pos) *err_pos = 0;
    if (!text || !out) return err_set(e, 400, "invalid_policy", "policy", "missing policy");
    memset(out, 0, sizeof *out);
    size_t len = strnlen(text, POLICY_MAX_LEN + 1);
    if (len > POLICY_MAX_LEN)
        return err_set(e, 400, "invalid_policy", "policy", "policy longer than %d bytes",
                       POLICY_MAX_LEN);
    parser_t p = {.s = text, .len = len, .e = e};
    policy_node_t *root = parse_expr_(&p, 0);
    if (root) {
        skip_ws_(&p);
        if (p.pos != p.len) {
            perr_(&p, p.pos, "unexpected text after the policy%s", NULL);
            node_free_(root);
            root = NULL;
        }
    }
    if (!root) {
        if (err_pos) *err_pos = p.err_pos;
        return -1;
    }
    out->root = root;
    out->n_nodes = p.n_nodes;
    return 0;
}

void policy_free(policy_t *p) {
    if (!p) return;
    node_free_(p->root);
    memset(p, 0, sizeof *p);
}

/* ---------- formatting ---------- */

typedef struct sbuf {
    char *b;
    size_t cap, len;
    int overflow;
} sbuf_t;

static void sput_(sbuf_t *s, const char *fmt, const char *a, unsigned n) {
    if (s->overflow) return;
    int w = snprintf(s->b + s->len, s->cap - s->len, fmt, a ? a : "", n);
    if (w < 0 || (size_t)w >= s->cap - s->len) {
        s->overflow = 1;
        return;
    }
    s->len += (size_t)w;
}

static void format_node_(sbuf_t *s, const policy_node_t *n) {
    if (n->op == POLICY_PRINCIPAL) {
        sput_(s, "'%s", n->org, 0);
        sput_(s, "%s'", n->role == POLICY_ROLE_ADMIN ? ".admin" : ".member", 0);
        return;
    }
    if (n->op == POLICY_OUTOF)
        sput_(s, "%sOutOf(%u, ", NULL, n->threshold);
    else
        sput_(s, "%s(", n->op == POLICY_AND ? "AND" : "OR", 0);
    for (size_t i = 0; i < n->n_children; i++) {
        if (i) sput_(s, "%s, ", NULL, 0);
        format_node_(s, n->children[i]);
    }
    sput_(s, "%s)", NULL, 0);
}

int policy_format(const policy_t *p, char *buf, size_t cap, err_t *e) {
    if (!p || !p->root || !buf || cap == 0)
        return err_set(e, 400, "invalid_policy", "policy", "missing argument");
    sbuf_t s = {.b = buf, .cap = cap};
    buf[0] = 0;
    format_node_(&s, p->root);
    if (s.overflow) return err_set(e, 400, "invalid_policy", "policy", "buffer too small");
    return 0;
}

/* ---------- evaluation ---------- */

typedef struct search {
    const policy_sig_t *sigs[POLICY_MAX_SIGS];
    int cls[POLICY_MAX_SIGS]; /* equal (org, role) share a class: interchangeable */
    size_t n_sigs;
    int used[POLICY_MAX_SIGS];
    size_t n_unused;
    long steps;
    int exhausted;
    /* goal lists of all recursion levels, stacked: a level's list is arena[off..off+n) */
    const policy_node_t **arena;
    size_t arena_cap, top;
} search_t;

static int sig_matches_(const policy_sig_t *s, const policy_node_t *pr) {
    if (strcmp(s->org, pr->org) != 0) return 0;
    return pr->role == POLICY_ROLE_MEMBER || s->role == POLICY_ROLE_ADMIN;
}

/* Optimistic check ignoring that signatures are shared: can n be satisfied at all by the
 * unused signatures? Used to drop hopeless children before enumerating subsets. */
static int possible_(const search_t *st, const policy_node_t *n) {
    if (n->min_sigs > st->n_unused) return 0;
    if (n->op == POLICY_PRINCIPAL) {
        for (size_t i = 0; i < st->n_sigs; i++)
            if (!st->used[i] && sig_matches_(st->sigs[i], n)) return 1;
        return 0;
    }
    unsigned ok = 0;
    for (size_t i = 0; i < n->n_children && ok < n->threshold; i++)
        if (possible_(st, n->children[i])) ok++;
    return ok >= n->threshold;
}

static int step_(search_t *st) {
    if (st->exhausted) return 0;
    if (++st->steps > POLICY_MAX_STEPS) {
        st->exhausted = 1;
        return 0;
    }
    return 1;
}

static int solve_(search_t *st, size_t off, size_t ng);

/* The goal list at arena[off..off+nn) has room for `want` more; tries every subset of `want`
 * candidates from cand[from..nc) appended to it. */
static int choose_(search_t *st, const policy_node_t *const *cand, size_t nc, size_t from,
                   unsigned want, size_t off, size_t nn) {
    if (want == 0) return solve_(st, off, nn);
    for (size_t i = from; i + want <= nc; i++) {
        if (!step_(st)) return 0;
        st->arena[off + nn] = cand[i];
        if (choose_(st, cand, nc, i + 1, want - 1, off, nn + 1)) return 1;
        if (st->exhausted) return 0;
    }
    return 0;
}

/* Can all goals arena[off..off+ng) be satisfied with distinct unused signatures? */
static int solve_(search_t *st, size_t off, size_t ng) {
    if (!step_(st)) return 0;
    if (ng == 0) return 1;
    const policy_node_t **goals = st->arena + off;
    unsigned need = 0;
    for (size_t i = 0; i < ng; i++)
        need += goals[i]->min_sigs;
    if (need > st->n_unused) return 0;
    /* principals first: they are the most constrained */
    size_t pick = ng - 1;
    for (size_t i = 0; i < ng; i++)
        if (goals[i]->op == POLICY_PRINCIPAL) {
            pick = i;
            break;
        }
    const policy_node_t *g = goals[pick];
    /* the remaining goals start the next level's list */
    size_t noff = st->top, nr = 0, want = g->op == POLICY_PRINCIPAL ? 0 : g->threshold;
    if (noff + ng - 1 + want > st->arena_cap) {
        st->exhausted = 1; /* cannot happen with the arena sized in policy_evaluate */
        return 0;
    }
    for (size_t i = 0; i < ng; i++)
        if (i != pick) st->arena[noff + nr++] = goals[i];
    st->top = noff + nr + want;
    int ok = 0;
    if (g->op == POLICY_PRINCIPAL) {
        int tried[POLICY_MAX_SIGS];
        size_t nt = 0;
        for (size_t i = 0; i < st->n_sigs && !ok && !st->exhausted; i++) {
            if (st->used[i] || !sig_matches_(st->sigs[i], g)) continue;
            int seen = 0;
            for (size_t t = 0; t < nt; t++)
                if (tried[t] == st->cls[i]) seen = 1;
            if (seen) continue; /* an identical signature was already tried here */
            tried[nt++] = st->cls[i];
            st->used[i] = 1;
            st->n_unused--;
            ok = solve_(st, noff, nr);
            st->used[i] = 0;
            st->n_unused++;
        }
    } else {
        /* threshold: choose `threshold` of the children that could be satisfied at all */
        const policy_node_t *cand[POLICY_MAX_CHILDREN];
        size_t nc = 0;
        for (size_t i = 0; i < g->n_children; i++)
            if (possible_(st, g->children[i])) cand[nc++] = g->children[i];
        if (nc >= g->threshold) ok = choose_(st, cand, nc, 0, g->threshold, noff, nr);
    }
    st->top = noff;
    return ok;
}

int policy_evaluate(const policy_t *p, const policy_sig_t *sigs, size_t n_sigs, int *satisfied,
                    err_t *e) {
    if (!p || !p->root || !satisfied || (n_sigs && !sigs))
        return err_set(e, 500, "internal", "signatures", "missing argument");
    *satisfied = 0;
    if (n_sigs > POLICY_MAX_SIGS)
        return err_set(e, 413, "too_large", "signatures", "more than %d signatures",
                       POLICY_MAX_SIGS);
    search_t *st = calloc(1, sizeof *st);
    if (!st) return err_set(e, 500, "internal", "", "out of memory");
    /* de-duplicate signers by public key; one key cannot be two identities */
    for (size_t i = 0; i < n_sigs; i++) {
        const policy_sig_t *s = &sigs[i];
        if (s->role != POLICY_ROLE_MEMBER && s->role != POLICY_ROLE_ADMIN) {
            free(st);
            return err_invalid(e, "signatures", "signature %zu has no valid role", i);
        }
        if (strnlen(s->org, sizeof s->org) == sizeof s->org) {
            free(st);
            return err_invalid(e, "signatures", "signature %zu has an unterminated organisation",
                               i);
        }
        int dup = 0;
        for (size_t j = 0; j < st->n_sigs; j++) {
            const policy_sig_t *o = st->sigs[j];
            if (memcmp(o->pk, s->pk, sizeof s->pk) != 0) continue;
            if (strcmp(o->org, s->org) != 0 || o->role != s->role) {
                free(st);
                return err_invalid(
                    e, "signatures",
                    "one key signs as two identities (signatures %zu and an earlier one)", i);
            }
            dup = 1;
        }
        if (dup) continue;
        st->cls[st->n_sigs] = (int)st->n_sigs;
        for (size_t j = 0; j < st->n_sigs; j++)
            if (strcmp(st->sigs[j]->org, s->org) == 0 && st->sigs[j]->role == s->role) {
                st->cls[st->n_sigs] = st->cls[j];
                break;
            }
        st->sigs[st->n_sigs++] = s;
    }
    st->n_unused = st->n_sigs;
    /* each level holds at most n_nodes goals and there are at most n_nodes + 1 levels */
    size_t nn = p->n_nodes + 2;
    st->arena_cap = nn * nn;
    st->arena = malloc(st->arena_cap * sizeof *st->arena);
    if (!st->arena) {
        free(st);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    st->arena[0] = p->root;
    st->top = 1;
    int ok = solve_(st, 0, 1);
    int exhausted = st->exhausted;
    free(st->arena);
    free(st);
    if (exhausted)
        return err_set(e, 422, "policy_too_complex", "policy",
                       "endorsement policy search exceeded %d steps", POLICY_MAX_STEPS);
    *satisfied = ok;
    return 0;
}
