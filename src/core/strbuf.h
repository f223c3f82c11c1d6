/* strbuf: a growable NUL-terminated string builder. The strbuf_t owns its buffer `p` until the
 * caller takes it (strbuf_take) or frees it (strbuf_free). Allocation failure is sticky: `oom` is
 * set, later appends are ignored, and strbuf_take returns NULL. */
#ifndef CORE_STRBUF_H
#define CORE_STRBUF_H

#include <stddef.h>

typedef struct strbuf {
    char *p;
    size_t len, cap;
    int oom;
} strbuf_t;

/* Makes room for `need` more bytes (plus the NUL). */
void strbuf_reserve(strbuf_t *b, size_t need);
void strbuf_putn(strbuf_t *b, const char *s, size_t n);
void strbuf_puts(strbuf_t *b, const char *s);
void strbuf_printf(strbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the string (caller frees; "" when nothing was appended) or NULL after an allocation
 * failure; the strbuf is reset either way. */
char *strbuf_take(strbuf_t *b);
void strbuf_free(strbuf_t *b);

#endif
