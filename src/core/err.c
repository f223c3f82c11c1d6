/* err: see err.h. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* err_set with a va_list and a fixed status/code. */
static int err_vset(err_t *e, int status, const char *code, const char *field, const char *fmt,
                    va_list ap) {
    if (!e) return -1;
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    return -1;
}

int err_set(err_t *e, int status, const char *code, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, status, code ? code : "error", field, fmt, ap);
    va_end(ap);
    return -1;
}

int err_missing(err_t *e, const char *field) {
    return err_set(e, 400, "missing_field", field, "%s is required", field ? field : "a field");
}

int err_type(err_t *e, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, 400, "invalid_type", field, fmt, ap);
    va_end(ap);
    return -1;
}

int err_invalid(err_t *e, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, 422, "invalid_field", field, fmt, ap);
    va_end(ap);
    return -1;
}

void err_clear(err_t *e) {
    if (e) memset(e, 0, sizeof *e);
}
