/* gql_error: see gql_error.h. */
#include "lib/graphql/gql_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gql_errors_add_msg(gql_errors *errs, const gql_node *const *nodes, size_t nnodes,
                       const char *msg) {
    if (errs->count == errs->cap) {
        size_t ncap = errs->cap ? errs->cap * 2 : 8;
        gql_error *ni = realloc(errs->items, ncap * sizeof *ni);
        if (!ni) goto fail;
        errs->items = ni;
        errs->cap = ncap;
    }
    gql_error *er = &errs->items[errs->count];
    memset(er, 0, sizeof *er);
    er->message = strdup(msg);
    if (!er->message) goto fail;
    size_t n = 0;
    for (size_t i = 0; i < nnodes; i++)
        if (nodes[i]) n++;
    if (n) {
        er->locations = calloc(n, sizeof *er->locations);
        if (!er->locations) {
            free(er->message);
            goto fail;
        }
        for (size_t i = 0; i < nnodes; i++) {
            if (!nodes[i]) continue;
            er->locations[er->nlocations].line = nodes[i]->loc.line;
            er->locations[er->nlocations].column = nodes[i]->loc.column;
            er->nlocations++;
        }
    }
    errs->count++;
    return 0;
fail:
    errs->oom = true;
    return -1;
}

int gql_errors_add(gql_errors *errs, const gql_node *const *nodes, size_t nnodes, const char *fmt,
                   ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n < sizeof small) return gql_errors_add_msg(errs, nodes, nnodes, small);
    char *big = malloc((size_t)n + 1);
    if (!big) {
        errs->oom = true;
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = gql_errors_add_msg(errs, nodes, nnodes, big);
    free(big);
    return rc;
}

void gql_errors_free(gql_errors *errs) {
    if (!errs) return;
    for (size_t i = 0; i < errs->count; i++) {
        free(errs->items[i].message);
        free(errs->items[i].locations);
    }
    free(errs->items);
    memset(errs, 0, sizeof *errs);
}

/* ---- string builder ---- */

const char *gql_sb_str(gql_sb *sb) {
    return sb->p ? sb->p : "";
}

/* ---- suggestions ---- */

static int is_digit(int c) {
    return c >= '0' && c <= '9';
}

int gql_natural_compare(const char *a, const char *b) {
    size_t ai = 0, bi = 0, al = strlen(a), bl = strlen(b);
    while (ai < al && bi < bl) {
        int ac = (unsigned char)a[ai], bc = (unsigned char)b[bi];
        if (is_digit(ac) && is_digit(bc)) {
            unsigned long long an = 0, bn = 0;
            do {
                ++ai;
                an = an * 10 + (unsigned)(ac - '0');
                ac = ai < al ? (unsigned char)a[ai] : -1;
            } while (is_digit(ac) && an > 0);
            do {
                ++bi;
                bn = bn * 10 + (unsigned)(bc - '0');
                bc = bi < bl ? (unsigned char)b[bi] : -1;
            } while (is_digit(bc) && bn > 0);
            if (an < bn) return -1;
            if (an > bn) return 1;
        } else {
            if (ac < bc) return -1;
            if (ac > bc) return 1;
            ++ai;
            ++bi;
        }
    }
    return al < bl ? -1 : (al > bl ? 1 : 0);
}

static void lower(const char *s, char *out, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
}

/* Damerau-Levenshtein (optimal string alignment) over lower-cased names, as graphql-js; names are
 * ASCII so bytes equal UTF-16 units. Returns -1 when above threshold. */
static int lexical_distance(const char *input, const char *option, int threshold) {
    if (strcmp(input, option) == 0) return 0;
    size_t il = strlen(input), ol = strlen(option);
    if (il > 256 || ol > 256) return -1;
    char li[257], lo[257];
    lower(input, li, il);
    lower(option, lo, ol);
    if (il == ol && memcmp(li, lo, il) == 0) return 1;
    const char *a = lo, *b = li;
    size_t an = ol, bn = il;
    if (an < bn) {
        a = li;
        an = il;
        b = lo;
        bn = ol;
    }
    if ((int)(an - bn) > threshold) return -1;
    int rows[3][258];
    for (size_t j = 0; j <= bn; j++)
        rows[0][j] = (int)j;
    for (size_t i = 1; i <= an; i++) {
        int *up = rows[(i - 1) % 3], *cur = rows[i % 3];
        int smallest = cur[0] = (int)i;
        for (size_t j = 1; j <= bn; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int c = up[j] + 1;
            if (cur[j - 1] + 1 < c) c = cur[j - 1] + 1;
            if (up[j - 1] + cost < c) c = up[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                int d = rows[(i - 2) % 3][j - 2] + 1;
                if (d < c) c = d;
            }
            if (c < smallest) smallest = c;
            cur[j] = c;
        }
        if (smallest > threshold) return -1;
    }
    int d = rows[an % 3][bn];
    return d <= threshold ? d : -1;
}

size_t gql_suggestion_list(const char *input, const char *const *options, size_t noptions,
                           const char **out, size_t max) {
    int threshold = (int)(strlen(input) * 4 / 10) + 1;
    /* small insertion sort into a bounded candidate array; keep all, then truncate */
    size_t n = 0;
    int dist_buf[64];
    const char *cand[64];
    for (size_t i = 0; i < noptions; i++) {
        /* skip duplicates (graphql-js keys an object by option) */
        int dup = 0;
        for (size_t k = 0; k < n; k++)
            if (strcmp(cand[k], options[i]) == 0) dup = 1;
        if (dup) continue;
        int d = lexical_distance(input, options[i], threshold);
        if (d < 0) continue;
        size_t pos = n;
        while (pos > 0 &&
               (dist_buf[pos - 1] > d ||
                (dist_buf[pos - 1] == d && gql_natural_compare(cand[pos - 1], options[i]) > 0)))
            pos--;
        if (n == 64) {
            if (pos == 64) continue;
            n--;
        }
        memmove(&cand[pos + 1], &cand[pos], (n - pos) * sizeof cand[0]);
        memmove(&dist_buf[pos + 1], &dist_buf[pos], (n - pos) * sizeof dist_buf[0]);
        cand[pos] = options[i];
        dist_buf[pos] = d;
        n++;
    }
    if (n > max) n = max;
    for (size_t i = 0; i < n; i++)
        out[i] = cand[i];
    return n;
}

void gql_did_you_mean(gql_sb *sb, const char *sub, const char *const *s, size_t n) {
    if (n == 0) return;
    gql_sb_add(sb, " Did you mean ");
    if (sub) {
        gql_sb_add(sb, sub);
        gql_sb_add(sb, " ");
    }
    if (n == 1) {
        gql_sb_addf(sb, "\"%s\"?", s[0]);
        return;
    }
    if (n == 2) {
        gql_sb_addf(sb, "\"%s\" or \"%s\"?", s[0], s[1]);
        return;
    }
    if (n > 5) n = 5;
    for (size_t i = 0; i + 1 < n; i++)
        gql_sb_addf(sb, "%s\"%s\"", i ? ", " : "", s[i]);
    gql_sb_addf(sb, ", or \"%s\"?", s[n - 1]);
}
