/* mustache: a Mustache renderer (https://mustache.github.io/mustache.5.html) over jansson
 * values, pure C, passing the official spec's required modules (comments, delimiters,
 * interpolation, inverted, partials, sections: tests/lib/mustache/test_mustache.c runs every file
 * of ../shared/notification/mustache-spec/). No lambdas (the optional ~lambdas module).
 *   {{name}} HTML-escaped (& " < > and '), {{{name}}} / {{&name}} raw, dotted names, {{.}},
 *   {{#s}}..{{/s}} (false, null, "", [] and a missing name skip it; a list repeats it),
 *   {{^s}}..{{/s}}, {{! comment}}, {{> partial}} (from `partials`, indented when standalone),
 *   {{=<% %>=}}; standalone tag lines are removed.
 * Strict mode (MUSTACHE_STRICT, what the notification service uses): an interpolated name that
 * does not resolve, or a partial that does not exist, is an error naming it, never a blank; in
 * the spec's default mode both render as "". A malformed template (unclosed tag or section,
 * mismatched close, bad delimiters, nesting deeper than 64) is always an error.
 * Owns nothing between calls: *out is malloc'd for the caller to free. */
#ifndef LIB_MUSTACHE_H
#define LIB_MUSTACHE_H

#include <jansson.h>
#include <stddef.h>

#define MUSTACHE_STRICT 1 /* flags: missing names and partials are errors */
/* {{name}} backslash-escapes ASCII punctuation instead of HTML-escaping: for a Markdown source
 * whose renderer (cmark) escapes the HTML itself, so a value can add no Markdown (links,
 * emphasis) and no HTML */
#define MUSTACHE_ESCAPE_MARKDOWN 2
#define MUSTACHE_NO_ESCAPE 4 /* {{name}} renders raw, like {{{name}}} (plain-text output) */

/* Renders tmpl with data (any JSON value: the bottom of the context stack) and partials (an
 * object name -> template string, or NULL). 0 and *out (malloc'd, NUL-terminated), or -1 with a
 * sentence in err (e.g. "missing variable \"member.name\"", "unclosed section \"items\"") and
 * *out NULL. */
int mustache_render(const char *tmpl, json_t *data, json_t *partials, int flags, char **out,
                    char *err, size_t errcap);

#endif
