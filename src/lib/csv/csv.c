/* csv: see csv.h. Moved from services/reciprocal/statements.c (stmt_csv_cell) unchanged, so that
 * every service writes the same dialect. */
#include "lib/csv/csv.h"

#include <string.h>

void csv_put_field(strbuf_t *b, const char *v, int flags) {
    if (!v) v = "";
    int risky = (flags & CSV_TEXT) && v[0] && strchr("=+-@\t\r", v[0]);
    int quote = risky || strpbrk(v, ",\"\r\n") != NULL;
    if (!quote) {
        strbuf_puts(b, v);
        return;
    }
    strbuf_puts(b, risky ? "\"'" : "\"");
    for (const char *p = v; *p; p++) {
        if (*p == '"') strbuf_puts(b, "\"");
        strbuf_putn(b, p, 1);
    }
    strbuf_puts(b, "\"");
}
