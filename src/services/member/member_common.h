/* member_common: what the member operations share: the club a call acts in (the caller's club,
 * or the club a network administrator names with `club_id`), the transaction scoped to it,
 * the caller's member permissions, self-access checks, event emission and small parsers.
 * Owns nothing beyond the mctx_t a handler keeps on its stack. */
#ifndef SERVICES_MEMBER_COMMON_H
#define SERVICES_MEMBER_COMMON_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/db.h"
#include "core/err.h"
#include "core/service.h"

typedef struct mctx {
    const svc_call_t *call;
    char club_id[40]; /* the club the call acts in */
    int can_read;     /* member:read  (staff: any member of the club) */
    int can_write;    /* member:write (staff: create and edit members) */
    int can_admin;    /* member:admin (status, erase, import, settings) */
    db_tx_t *tx;
} mctx_t;

/* Resolves the club (caller's club_id; a network administrator names one with in.club_id,
 * which must exist) and begins a transaction scoped to it. */
int m_begin(const svc_call_t *call, json_t *in, mctx_t *c, err_t *e);
/* Commits (and forgets the tx) or rolls back. */
int m_commit(mctx_t *c, err_t *e);
void m_rollback(mctx_t *c);

/* 1 when the caller is the signed-in user linked to the member (auth_user_id). */
int m_is_self(const mctx_t *c, const char *auth_user_id);
/* Staff read, or self: else 403 (401 for anonymous callers). */
int m_require_read(const mctx_t *c, const char *auth_user_id, err_t *e);

/* Writes an event into member.outbox in the transaction; data is consumed. */
int m_emit(mctx_t *c, const char *type, json_t *data, err_t *e);

/* The member row as JSON (member.member_doc), locked when lock != 0; 404 when absent.
 * auth_out (may be NULL) receives auth_user_id ("" when none), status_out (may be NULL) the
 * status. Returns a new reference or NULL. */
json_t *m_load(mctx_t *c, const char *id, int lock, int staff, char *auth_out, char *status_out,
               err_t *e);

/* Input helpers shared by the validators. */
int m_valid_club_ref(json_t *in, err_t *e);             /* optional club_id: uuid */
int m_valid_id(json_t *in, const char *name, err_t *e); /* required uuid */
int m_is_date(const char *s);                           /* YYYY-MM-DD, a real date */
int m_valid_date(json_t *in, const char *name, err_t *e);
json_t *m_parse_json(const char *text, err_t *e);

/* Validates the member/profile fields of a create (required = 1) or patch input.
 * prefix names nested objects in errors ("dependents[0]."). */
int m_valid_member_fields(json_t *in, int required, const char *prefix, err_t *e);
int m_valid_address(json_t *a, const char *prefix, err_t *e);

/* dst = a + b, truncated to cap (no format-truncation warnings); returns dst. */
char *m_join(char *dst, size_t cap, const char *a, const char *b);

/* Formats the next member number from a pattern; buf >= 48 bytes. Returns 0 or -1. */
int m_format_number(const char *pattern, long long seq, int year, char *buf, size_t cap);
/* Reserves n numbers of the club's counter; writes the pattern and the first seq. */
int m_reserve_numbers(mctx_t *c, long long n, char *pattern, size_t cap, long long *first,
                      err_t *e);

/* Inserts one member (+ profile + addresses) from validated input; returns the member id in
 * id_out (40 bytes). status: initial status; primary: primary member id or NULL. */
int m_insert_member(mctx_t *c, json_t *in, const char *status, const char *primary, char *id_out,
                    err_t *e);

#endif
