/* router: see router.h. A flat table scanned once per match (O(routes)).
 *
 * Rules (tested in tests/core/test_router.c):
 * - Templates start with '/', segments are non-empty; a segment is either a literal (no '{', '}'
 *   or '%') or a whole-segment parameter "{name}" with name [A-Za-z0-9_]{1,31}; at most
 *   ROUTER_MAX_PARAMS parameters. "/" alone is the root route.
 * - The path is the raw request path (still percent-encoded, no query string). Each segment is
 *   percent-decoded before comparison; invalid %-encoding, an encoded NUL, or a decoded segment
 *   longer than 255 bytes makes the path match nothing (404). An encoded slash ("%2F") stays
 *   inside its segment, so a parameter value may contain '/'.
 * - No normalisation: an empty segment ("//", or a trailing slash as in "/api/v1/clubs/") matches
 *   nothing, so "/api/v1/clubs/" is 404 when only "/api/v1/clubs" exists.
 * - Among templates that match the path and the method, the most specific wins: compared segment
 *   by segment from the left, a literal beats a parameter at the first position where they differ.
 * - HEAD falls back to GET when no HEAD route matches.
 * - If templates match the path but none for the method: 405 and *allow gets the distinct
 *   methods of those templates, ", "-separated in registration order (plus HEAD when GET is
 *   allowed). */
#include "core/router.h"

#include <stdlib.h>
#include <string.h>

#define ROUTER_MAX_SEGS 32
#define ROUTER_MAX_TEMPLATE 512
#define ROUTER_MAX_PATH 4096

typedef struct segment {
    char *text; /* literal text, or the parameter name */
    int is_param;
} segment_t;

typedef struct route {
    char *method;
    char *template;
    void *target;
    int n_segs;
    segment_t segs[ROUTER_MAX_SEGS];
} route_t;

struct router {
    route_t *routes;
    int n, cap;
};

router_t *router_new(void) {
    return calloc(1, sizeof(router_t));
}

static void route_clear(route_t *rt) {
    free(rt->method);
    free(rt->template);
    for (int i = 0; i < rt->n_segs; i++)
        free(rt->segs[i].text);
    memset(rt, 0, sizeof *rt);
}

void router_free(router_t *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++)
        route_clear(&r->routes[i]);
    free(r->routes);
    free(r);
}

static int is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int parse_template(const char *t, route_t *rt) {
    size_t len = strlen(t);
    if (len == 0 || len > ROUTER_MAX_TEMPLATE || t[0] != '/') return -1;
    if (len == 1) return 0; /* root */
    int n_params = 0;
    const char *p = t + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || rt->n_segs == ROUTER_MAX_SEGS) return -1;
        segment_t *s = &rt->segs[rt->n_segs];
        if (p[0] == '{') {
            if (n < 3 || p[n - 1] != '}' || n - 2 > 31) return -1;
            for (size_t i = 1; i < n - 1; i++)
                if (!is_name_char(p[i])) return -1;
            if (++n_params > ROUTER_MAX_PARAMS) return -1;
            s->is_param = 1;
            s->text = strndup(p + 1, n - 2);
        } else {
            for (size_t i = 0; i < n; i++)
                if (p[i] == '{' || p[i] == '}' || p[i] == '%' || p[i] == '?' || p[i] == '#')
                    return -1;
            s->text = strndup(p, n);
        }
        if (!s->text) return -1;
        rt->n_segs++;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

/* Same shape: same literals and parameters in the same positions (names don't matter). */
static int same_shape(const route_t *a, const route_t *b) {
    if (a->n_segs != b->n_segs) return 0;
    for (int i = 0; i < a->n_segs; i++) {
        if (a->segs[i].is_param != b->segs[i].is_param) return 0;
        if (!a->segs[i].is_param && strcmp(a->segs[i].text, b->segs[i].text) != 0) return 0;
    }
    return 1;
}

int router_add(router_t *r, const char *method, const char *template, void *target) {
    if (!r || !method || !*method || strlen(method) > 16 || !template) return -1;
    route_t rt = {0};
    if (parse_template(template, &rt) != 0) goto fail;
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->routes[i].method, method) == 0 && same_shape(&r->routes[i], &rt)) goto fail;
    rt.method = strdup(method);
    rt.template = strdup(template);
    rt.target = target;
    if (!rt.method || !rt.template) goto fail;
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        route_t *nr = realloc(r->routes, (size_t)cap * sizeof *nr);
        if (!nr) goto fail;
        r->routes = nr;
        r->cap = cap;
    }
    r->routes[r->n++] = rt;
    return 0;
fail:
    route_clear(&rt);
    return -1;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes src[0..n) into out (size out_size, NUL-terminated). -1 on bad encoding, encoded NUL,
 * or overflow. */
static int pct_decode(const char *src, size_t n, char *out, size_t out_size) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = hexval(src[i + 1]), lo = hi < 0 ? -1 : hexval(src[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi * 16 + lo);
            if (c == '\0') return -1;
            i += 2;
        }
        if (o + 1 >= out_size) return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

typedef struct path_segs {
    int n;
    char seg[ROUTER_MAX_SEGS][256];
} path_segs_t;

static int split_path(const char *path, path_segs_t *ps) {
    ps->n = 0;
    size_t len = strlen(path);
    if (len == 0 || len > ROUTER_MAX_PATH || path[0] != '/') return -1;
    if (len == 1) return 0;
    const char *p = path + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || ps->n == ROUTER_MAX_SEGS) return -1;
        if (pct_decode(p, n, ps->seg[ps->n], sizeof ps->seg[0]) != 0) return -1;
        ps->n++;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

static int route_matches(const route_t *rt, const path_segs_t *ps) {
    if (rt->n_segs != ps->n) return 0;
    for (int i = 0; i < ps->n; i++)
        if (!rt->segs[i].is_param && strcmp(rt->segs[i].text, ps->seg[i]) != 0) return 0;
    return 1;
}

/* >0 when a is more specific than b. */
static int more_specific(const route_t *a, const route_t *b) {
    for (int i = 0; i < a->n_segs; i++)
        if (a->segs[i].is_param != b->segs[i].is_param) return a->segs[i].is_param ? -1 : 1;
    return 0;
}

static void allow_append(char *allow, int allow_len, const char *method) {
    if (!allow || allow_len <= 0) return;
    size_t used = strlen(allow);
    /* already listed? */
    size_t ml = strlen(method);
    for (const char *p = allow; *p;) {
        const char *e = strstr(p, ", ");
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == ml && strncmp(p, method, ml) == 0) return;
        if (!e) break;
        p = e + 2;
    }
    size_t need = used + (used ? 2 : 0) + ml + 1;
    if (need > (size_t)allow_len) return; /* doesn't fit: leave it out whole */
    if (used) memcpy(allow + used, ", ", 2), used += 2;
    memcpy(allow + used, method, ml + 1);
}

static const route_t *best_for_method(const router_t *r, const char *method,
                                      const path_segs_t *ps) {
    const route_t *best = NULL;
    for (int i = 0; i < r->n; i++) {
        const route_t *rt = &r->routes[i];
        if (strcmp(rt->method, method) != 0 || !route_matches(rt, ps)) continue;
        if (!best || more_specific(rt, best) > 0) best = rt;
    }
    return best;
}

int router_match(const router_t *r, const char *method, const char *path, router_match_t *m,
                 char *allow, int allow_len) {
    if (m) memset(m, 0, sizeof *m);
    if (allow && allow_len > 0) allow[0] = '\0';
    if (!r || !method || !path) return 404;
    path_segs_t segs; /* 8 KiB on the stack */
    path_segs_t *ps = &segs;
    int status = 404;
    if (split_path(path, ps) != 0) goto out;
    const route_t *best = best_for_method(r, method, ps);
    if (!best && strcmp(method, "HEAD") == 0) best = best_for_method(r, "GET", ps);
    if (best) {
        status = 200;
        if (m) {
            m->route = best->template;
            m->target = best->target;
            for (int i = 0; i < best->n_segs; i++) {
                if (!best->segs[i].is_param) continue;
                int k = m->n_params++;
                strcpy(m->names[k], best->segs[i].text); /* <= 31 bytes, checked at add */
                strcpy(m->values[k], ps->seg[i]);        /* < 256 bytes, checked at decode */
            }
        }
        goto out;
    }
    for (int i = 0; i < r->n; i++) {
        const route_t *rt = &r->routes[i];
        if (!route_matches(rt, ps)) continue;
        status = 405;
        allow_append(allow, allow_len, rt->method);
        if (strcmp(rt->method, "GET") == 0) allow_append(allow, allow_len, "HEAD");
    }
out:
    return status;
}
