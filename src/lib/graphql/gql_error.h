/* gql_error: GraphQL errors as graphql-js reports them (message + source locations), collected
 * into a growable list, plus a tiny string builder the type system and validator use to word
 * their messages. A gql_errors owns its items (malloc'd); gql_errors_free() releases them.
 * When memory runs out the list sets `oom` and drops the error, so callers can still finish. */
#ifndef GATEWAY_GRAPHQL_GQL_ERROR_H
#define GATEWAY_GRAPHQL_GQL_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "lib/graphql/gql_ast.h"

typedef struct gql_error_loc {
    uint32_t line, column;
} gql_error_loc;

typedef struct gql_error {
    char *message;
    gql_error_loc *locations;
    size_t nlocations;
} gql_error;

typedef struct gql_errors {
    gql_error *items;
    size_t count, cap;
    bool oom;
} gql_errors;

/* Appends an error located at the given nodes (NULL entries skipped). Returns 0, or -1 when out
 * of memory (oom set). */
int gql_errors_add(gql_errors *errs, const gql_node *const *nodes, size_t nnodes, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
/* Same with a ready message (copied). */
int gql_errors_add_msg(gql_errors *errs, const gql_node *const *nodes, size_t nnodes,
                       const char *msg);
void gql_errors_free(gql_errors *errs);

/* Growable NUL-terminated string: core/strbuf under the engine's names. On allocation failure
 * `oom` is set and appends are dropped. */
typedef strbuf_t gql_sb;
static inline void gql_sb_add(gql_sb *sb, const char *s) {
    strbuf_puts(sb, s);
}
static inline void gql_sb_addn(gql_sb *sb, const char *s, size_t n) {
    strbuf_putn(sb, s, n);
}
#define gql_sb_addf strbuf_printf
const char *gql_sb_str(gql_sb *sb); /* "" when empty; valid until the next append */
static inline void gql_sb_free(gql_sb *sb) {
    strbuf_free(sb);
}

/* graphql-js's suggestionList(): the options within lexical distance of input, closest first
 * (ties in natural order). Fills out[] (pointers into options) and returns how many (<= max). */
size_t gql_suggestion_list(const char *input, const char *const *options, size_t noptions,
                           const char **out, size_t max);
/* graphql-js's didYouMean(): appends " Did you mean [sub ]"a", "b", or "c"?" (at most five) to sb,
 * nothing when n == 0. sub may be NULL. */
void gql_did_you_mean(gql_sb *sb, const char *sub, const char *const *suggestions, size_t n);
/* graphql-js's naturalCompare(). */
int gql_natural_compare(const char *a, const char *b);

#endif
