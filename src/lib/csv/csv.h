/* csv: the RFC 4180 field writer the services' CSV exports share (reciprocal's statements and
 * charges, analytics' reports). Owns nothing: it appends to the caller's strbuf_t. The caller
 * writes the separators and the CRLF record ends itself.
 * A field is quoted when it holds a comma, a double quote, CR or LF, its quotes doubled. With
 * CSV_TEXT (free text from people: names, descriptions) a field starting like a spreadsheet
 * formula (= + - @ tab CR) is quoted and prefixed with ' (formula injection, docs/security.md
 * D1); numbers and identifiers are written without that flag, so "-12" stays a number. */
#ifndef LIB_CSV_H
#define LIB_CSV_H

#include "core/strbuf.h"

#define CSV_TEXT 1 /* flags: neutralise a leading formula character */

/* Appends field v (NULL is the empty field) to b. */
void csv_put_field(strbuf_t *b, const char *v, int flags);

#endif
