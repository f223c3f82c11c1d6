/* err: the error struct every fallible function fills.
 * Owns nothing; an err_t lives on the caller's stack. `status` is the HTTP status the error maps
 * to, `code` a stable machine code, `field` the input field at fault (may be empty), `message` a
 * sentence a user can act on. Functions return 0 on success and -1 after filling the err_t. */
#ifndef CORE_ERR_H
#define CORE_ERR_H

typedef struct err {
    int status;        /* HTTP status: 400, 404, 409, 413, 415, 422, 500, 503 ... */
    char code[48];     /* e.g. "invalid_field", "not_found", "conflict", "unavailable" */
    char field[96];    /* offending field name, "" if none */
    char message[384]; /* human-readable, never contains secrets */
} err_t;

/* Fills *e (if e != NULL) and returns -1, so callers can `return err_set(...)`. */
int err_set(err_t *e, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void err_clear(err_t *e);

/* The request-error rule (README "HTTP API", docs/architecture.md "Errors"): 400 when the input
 * cannot be read as the operation's input (not JSON, wrong JSON type, unknown key, required field
 * absent), 422 when it can be read but a value is not acceptable (length, range, format such as
 * uuid/email/date/URL, enum, a business rule). Each code has one status. Validators call these
 * instead of choosing a status per call; all return -1 (fill *e when e != NULL). */
/* 400 "missing_field": "<field> is required". */
int err_missing(err_t *e, const char *field);
/* 400 "invalid_type": the value has the wrong JSON type, e.g. "<field> must be a string". */
int err_type(err_t *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 422 "invalid_field": the value is of the right type but not acceptable. */
int err_invalid(err_t *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
