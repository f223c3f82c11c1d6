/* mustache: see mustache.h. A template is first cut into tokens (text, variables, section
 * open/close, partials) with the standalone-line rule and delimiter changes applied, then
 * rendered against a context stack. Partials are tokenized when used (after indentation).
 * Owns, per call, the token arrays and the output buffer (handed to the caller). */
#include "lib/mustache/mustache.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MUSTACHE_MAX_DEPTH 64 /* section nesting, context stack and partial recursion */
#define MUSTACHE_MAX_DELIM 16

typedef enum { T_TEXT, T_VAR, T_RAW, T_SECTION, T_INVERTED, T_CLOSE, T_PARTIAL } tok_kind_t;

typedef struct tok {
    tok_kind_t kind;
    const char *s; /* text, or the tag's name (not NUL-terminated) */
    size_t n;
    const char *indent; /* T_PARTIAL standalone: its indentation */
    size_t indent_n;
    size_t end; /* T_SECTION / T_INVERTED: index of the matching T_CLOSE */
} tok_t;

typedef struct toks {
    tok_t *v;
    size_t n, cap;
} toks_t;

typedef struct buf {
    char *s;
    size_t n, cap;
    int oom;
} buf_t;

typedef struct ctx {
    json_t *stack[MUSTACHE_MAX_DEPTH + 1];
    int depth;
    json_t *partials;
    int flags;
    int partial_depth;
    char *err;
    size_t errcap;
} ctx_t;

static int fail(ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(ctx_t *c, const char *fmt, ...) {
    if (c->err && c->errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errcap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void put(buf_t *b, const char *s, size_t n) {
    if (b->oom || n == 0) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void put_escaped(buf_t *b, const char *s, size_t n) {
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        put(b, s + from, i - from);
        put(b, rep, strlen(rep));
        from = i + 1;
    }
    put(b, s + from, n - from);
}

static int add_tok(toks_t *t, tok_t k) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        tok_t *v = realloc(t->v, cap * sizeof *v);
        if (!v) return -1;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = k;
    return 0;
}

static int is_blank(char ch) {
    return ch == ' ' || ch == '\t';
}

/* Trims spaces around [*s, *s + *n). */
static void trim(const char **s, size_t *n) {
    while (*n && (is_blank(**s) || **s == '\n' || **s == '\r')) {
        (*s)++;
        (*n)--;
    }
    while (*n && (is_blank((*s)[*n - 1]) || (*s)[*n - 1] == '\n' || (*s)[*n - 1] == '\r'))
        (*n)--;
}

/* ---- tokenizer ----------------------------------------------------------------------------- */

/* Cuts tmpl into t. */
static int tokenize(ctx_t *c, const char *tmpl, toks_t *t) {
    char otag[MUSTACHE_MAX_DELIM + 1] = "{{", ctag[MUSTACHE_MAX_DELIM + 1] = "}}";
    const char *p = tmpl, *line_start = tmpl;
    size_t open[MUSTACHE_MAX_DEPTH];
    int n_open = 0;
    for (;;) {
        const char *tag = strstr(p, otag);
        if (!tag) {
            if (*p && add_tok(t, (tok_t){.kind = T_TEXT, .s = p, .n = strlen(p)}) != 0)
                return fail(c, "out of memory");
            break;
        }
        size_t text_n = (size_t)(tag - p);
        const char *inner = tag + strlen(otag);
        char sigil = *inner;
        const char *close_at;
        size_t close_len = strlen(ctag);
        if (sigil == '{') {
            char triple[MUSTACHE_MAX_DELIM + 2];
            snprintf(triple, sizeof triple, "}%s", ctag);
            close_at = strstr(inner + 1, triple);
            close_len = strlen(triple);
        } else if (sigil == '=') {
            char eq[MUSTACHE_MAX_DELIM + 2];
            snprintf(eq, sizeof eq, "=%s", ctag);
            close_at = strstr(inner + 1, eq);
            close_len = strlen(eq);
        } else {
            close_at = strstr(inner, ctag);
        }
        if (!close_at) return fail(c, "unclosed tag at offset %zu", (size_t)(tag - tmpl));
        const char *after = close_at + close_len;
        const char *name = inner;
        size_t name_n = (size_t)(close_at - inner);
        tok_kind_t kind = T_VAR;
        int can_stand = 1, is_comment = 0, is_delim = 0;
        switch (sigil) {
        case '#':
            kind = T_SECTION;
            break;
        case '^':
            kind = T_INVERTED;
            break;
        case '/':
            kind = T_CLOSE;
            break;
        case '>':
            kind = T_PARTIAL;
            break;
        case '!':
            is_comment = 1;
            break;
        case '=':
            is_delim = 1;
            break;
        case '{':
        case '&':
            kind = T_RAW, can_stand = 0;
            break;
        default:
            can_stand = 0;
            break;
        }
        if (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '>' || sigil == '!' ||
            sigil == '=' || sigil == '{' || sigil == '&') {
            name++;
            name_n--;
        }
        trim(&name, &name_n);
        /* standalone: only blanks before it on its line and after it up to the newline */
        for (const char *q = p; q < tag; q++)
            if (*q == '\n') line_start = q + 1;
        const char *line_begin = tag;
        while (line_begin > p && line_begin > line_start && is_blank(line_begin[-1]))
            line_begin--;
        const char *rest = after;
        while (is_blank(*rest))
            rest++;
        int standalone = can_stand && line_begin == line_start &&
                         (*rest == '\0' || *rest == '\n' || (rest[0] == '\r' && rest[1] == '\n'));
        if (standalone) {
            text_n = (size_t)(line_begin - p);
            after = *rest == '\0' ? rest : rest + (*rest == '\r' ? 2 : 1);
        }
        if (text_n && add_tok(t, (tok_t){.kind = T_TEXT, .s = p, .n = text_n}) != 0)
            return fail(c, "out of memory");
        if (is_delim) {
            /* "<% %>": two delimiters separated by blanks, without '=' or blanks inside */
            const char *sp = name;
            size_t a = 0;
            while (a < name_n && !is_blank(sp[a]))
                a++;
            size_t b = a;
            while (b < name_n && is_blank(sp[b]))
                b++;
            if (a == 0 || b == a || b == name_n || a > MUSTACHE_MAX_DELIM ||
                name_n - b > MUSTACHE_MAX_DELIM || memchr(sp + b, ' ', name_n - b))
                return fail(c, "bad delimiters at offset %zu", (size_t)(tag - tmpl));
            memcpy(otag, sp, a);
            otag[a] = '\0';
            memcpy(ctag, sp + b, name_n - b);
            ctag[name_n - b] = '\0';
        } else if (!is_comment) {
            tok_t k = {.kind = kind, .s = name, .n = name_n};
            if (kind == T_PARTIAL && standalone) {
                k.indent = line_begin;
                k.indent_n = (size_t)(tag - line_begin);
            }
            if (name_n == 0) return fail(c, "empty tag at offset %zu", (size_t)(tag - tmpl));
            if (kind == T_CLOSE) {
                if (n_open == 0) return fail(c, "unopened section \"%.*s\"", (int)name_n, name);
                tok_t *o = &t->v[open[n_open - 1]];
                if (o->n != name_n || memcmp(o->s, name, name_n) != 0)
                    return fail(c, "section \"%.*s\" closed by \"%.*s\"", (int)o->n, o->s,
                                (int)name_n, name);
                o->end = t->n;
                n_open--;
            }
            if (add_tok(t, k) != 0) return fail(c, "out of memory");
            if (kind == T_SECTION || kind == T_INVERTED) {
                if (n_open == MUSTACHE_MAX_DEPTH) return fail(c, "sections nested too deep");
                open[n_open++] = t->n - 1;
            }
        }
        /* a line starts after the newline a standalone tag consumed, or inside a tag */
        for (const char *q = tag; q < after; q++)
            if (*q == '\n') line_start = q + 1;
        p = after;
    }
    if (n_open) {
        tok_t *o = &t->v[open[n_open - 1]];
        return fail(c, "unclosed section \"%.*s\"", (int)o->n, o->s);
    }
    return 0;
}

/* ---- rendering ----------------------------------------------------------------------------- */

/* The value of name in the context stack (borrowed), or NULL when it does not resolve. */
static json_t *lookup(ctx_t *c, const char *name, size_t n) {
    if (n == 1 && name[0] == '.') return c->stack[c->depth - 1];
    size_t first = 0;
    while (first < n && name[first] != '.')
        first++;
    char key[256];
    if (first >= sizeof key) return NULL;
    memcpy(key, name, first);
    key[first] = '\0';
    json_t *v = NULL;
    for (int i = c->depth - 1; i >= 0 && !v; i--)
        if (json_is_object(c->stack[i])) v = json_object_get(c->stack[i], key);
    size_t at = first;
    while (v && at < n) {
        at++; /* the dot */
        size_t len = 0;
        while (at + len < n && name[at + len] != '.')
            len++;
        if (len == 0 || len >= sizeof key) return NULL;
        memcpy(key, name + at, len);
        key[len] = '\0';
        v = json_is_object(v) ? json_object_get(v, key) : NULL;
        at += len;
    }
    return v;
}

static int falsy(json_t *v) {
    return !v || json_is_null(v) || json_is_false(v) ||
           (json_is_array(v) && json_array_size(v) == 0) ||
           (json_is_string(v) && json_string_length(v) == 0);
}

/* Backslash before every ASCII punctuation character (CommonMark's escapable set). */
static void put_md_escaped(buf_t *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 0x21 && ch <= 0x2f) || (ch >= 0x3a && ch <= 0x40) ||
            (ch >= 0x5b && ch <= 0x60) || (ch >= 0x7b && ch <= 0x7e))
            put(b, "\\", 1);
        put(b, s + i, 1);
    }
}

static void put_value(buf_t *b, json_t *v, int escape) {
    char num[64];
    const char *s = NULL;
    size_t n = 0;
    if (json_is_string(v)) {
        s = json_string_value(v);
        n = json_string_length(v);
    } else if (json_is_integer(v)) {
        n = (size_t)snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        s = num;
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        snprintf(num, sizeof num, "%.15g", d);
        if (strtod(num, NULL) != d) snprintf(num, sizeof num, "%.17g", d);
        s = num;
        n = strlen(num);
    } else if (json_is_true(v) || json_is_false(v)) {
        s = json_is_true(v) ? "true" : "false";
        n = strlen(s);
    } else {
        return; /* null, objects and arrays render nothing */
    }
    if (escape == MUSTACHE_ESCAPE_MARKDOWN)
        put_md_escaped(b, s, n);
    else if (escape)
        put_escaped(b, s, n);
    else
        put(b, s, n);
}

static int render_range(ctx_t *c, const toks_t *t, size_t from, size_t to, buf_t *b);

static int push(ctx_t *c, json_t *v) {
    if (c->depth > MUSTACHE_MAX_DEPTH) return fail(c, "context nested too deep");
    c->stack[c->depth++] = v;
    return 0;
}

/* The partial's text with indent after every newline that is followed by more text. */
static char *indented(const char *src, const char *indent, size_t indent_n) {
    buf_t b = {0};
    put(&b, indent, indent_n);
    for (const char *p = src; *p; p++) {
        put(&b, p, 1);
        if (*p == '\n' && p[1]) put(&b, indent, indent_n);
    }
    if (b.oom || !b.s) {
        free(b.s);
        return b.oom ? NULL : strdup("");
    }
    return b.s;
}

static int render_partial(ctx_t *c, const tok_t *k, buf_t *b) {
    char key[256];
    if (k->n >= sizeof key) return fail(c, "partial name too long");
    memcpy(key, k->s, k->n);
    key[k->n] = '\0';
    const char *src = json_string_value(json_object_get(c->partials, key));
    if (!src) {
        if (c->flags & MUSTACHE_STRICT) return fail(c, "missing partial \"%s\"", key);
        return 0;
    }
    if (c->partial_depth >= MUSTACHE_MAX_DEPTH) return fail(c, "partials nested too deep");
    char *text = k->indent_n ? indented(src, k->indent, k->indent_n) : strdup(src);
    if (!text) return fail(c, "out of memory");
    toks_t pt = {0};
    int rc = tokenize(c, text, &pt);
    if (rc == 0) {
        c->partial_depth++;
        rc = render_range(c, &pt, 0, pt.n, b);
        c->partial_depth--;
    }
    free(pt.v);
    free(text);
    return rc;
}

static int render_section(ctx_t *c, const toks_t *t, size_t i, buf_t *b) {
    const tok_t *k = &t->v[i];
    json_t *v = lookup(c, k->s, k->n);
    if (k->kind == T_INVERTED) return falsy(v) ? render_range(c, t, i + 1, k->end, b) : 0;
    if (falsy(v)) return 0;
    if (json_is_array(v)) {
        size_t idx;
        json_t *item;
        json_array_foreach(v, idx, item) {
            if (push(c, item) != 0) return -1;
            int rc = render_range(c, t, i + 1, k->end, b);
            c->depth--;
            if (rc != 0) return -1;
        }
        return 0;
    }
    if (push(c, v) != 0) return -1;
    int rc = render_range(c, t, i + 1, k->end, b);
    c->depth--;
    return rc;
}

static int render_range(ctx_t *c, const toks_t *t, size_t from, size_t to, buf_t *b) {
    for (size_t i = from; i < to; i++) {
        const tok_t *k = &t->v[i];
        switch (k->kind) {
        case T_TEXT:
            put(b, k->s, k->n);
            break;
        case T_VAR:
        case T_RAW: {
            json_t *v = lookup(c, k->s, k->n);
            if (!v && (c->flags & MUSTACHE_STRICT))
                return fail(c, "missing variable \"%.*s\"", (int)k->n, k->s);
            int escape = k->kind != T_VAR                        ? 0
                         : (c->flags & MUSTACHE_NO_ESCAPE)       ? 0
                         : (c->flags & MUSTACHE_ESCAPE_MARKDOWN) ? MUSTACHE_ESCAPE_MARKDOWN
                                                                 : 1;
            if (v) put_value(b, v, escape);
            break;
        }
        case T_SECTION:
        case T_INVERTED:
            if (render_section(c, t, i, b) != 0) return -1;
            i = k->end;
            break;
        case T_PARTIAL:
            if (render_partial(c, k, b) != 0) return -1;
            break;
        case T_CLOSE:
            break;
        }
        if (b->oom) return fail(c, "out of memory");
    }
    return 0;
}

int mustache_render(const char *tmpl, json_t *data, json_t *partials, int flags, char **out,
                    char *err, size_t errcap) {
    ctx_t c = {.partials = partials, .flags = flags, .err = err, .errcap = errcap};
    toks_t t = {0};
    buf_t b = {0};
    *out = NULL;
    if (err && errcap) err[0] = '\0';
    if (!tmpl) return fail(&c, "no template");
    c.stack[c.depth++] = data ? data : json_null();
    int rc = tokenize(&c, tmpl, &t);
    if (rc == 0) rc = render_range(&c, &t, 0, t.n, &b);
    free(t.v);
    if (rc == 0 && b.oom) rc = fail(&c, "out of memory");
    if (rc != 0) {
        free(b.s);
        return -1;
    }
    *out = b.s ? b.s : strdup("");
    return *out ? 0 : fail(&c, "out of memory");
}
