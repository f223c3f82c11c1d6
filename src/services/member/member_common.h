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
    int emitted; /* member_emit wrote an event: member_commit drops the club's cached standings */
} mctx_t;

/* Resolves the club (caller's club_id; a network administrator names one with in.club_id,
 * which must exist) and begins a transaction scoped to it. */
int member_begin(const svc_call_t *call, json_t *in, mctx_t *c, err_t *e);
/* member_begin's checks without the transaction, for handlers whose work is one read (db_read):
 * fills c (no tx), the scope (pointing into c and the caller) and *named (1 when in.club_id
 * named the club: the handler must then answer 404 club_id when the club does not exist,
 * member_require_club, before any other database outcome). */
int member_prepare(const svc_call_t *call, json_t *in, mctx_t *c, db_scope_t *scope, int *named,
                   err_t *e);
/* 0 when the club c acts in exists; else -1 with 404 club_id (or, when the read itself fails,
 * -1 with *e unchanged). One read. */
int member_require_club(mctx_t *c, const db_scope_t *scope, err_t *e);
/* Commits (and forgets the tx) or rolls back. */
/* An event of the member's club (svc_emit in c's transaction), marking c so that
 * member_commit drops the club's cached standings (member_standing.c) after the commit. */
int member_emit(mctx_t *c, const char *type, json_t *data, err_t *e);
int member_commit(mctx_t *c, err_t *e);
void member_rollback(mctx_t *c);

/* 1 when the caller is the signed-in user linked to the member (auth_user_id). */
int member_is_self(const mctx_t *c, const char *auth_user_id);
/* Staff read, or self: else 403 (anonymous callers never get here: svc_dispatch answers them
 * 401 for the SVC_PERM_OR_SELF operations that use it). */
int member_require_read(const mctx_t *c, const char *auth_user_id, err_t *e);

/* Linking a member to an account (auth_user_id = user, "" or NULL = unlinking): needs
 * member:admin (403 auth_user_id otherwise; staff could link their own account to any member
 * and read that member's data as "self"), and the account must exist in the club the call
 * acts in, which the auth service answers (operation users_in_club, as the same caller): 422
 * auth_user_id when it does not. Linking an account that another member of the club holds is
 * 409 auth_user_id (the unique key). */
int member_check_link(mctx_t *c, const char *user, err_t *e);
/* The accounts among ids (array of uuid strings, 1..10000) that exist in the club c acts in:
 * *found is a new object used as a set (id -> true). 0 or -1 + e (the auth service's error). */
int member_accounts_in_club(mctx_t *c, json_t *ids, json_t **found, err_t *e);

/* The member document, the same as member.member_doc(m, staff) (migrations 0002, 0006), as
 * an expression for a statement in which m is a member.members row and p its member.profiles
 * row (joined; NULL when absent): member_doc_of and address_doc are inlined by the planner, so
 * a prepared statement plans the document once instead of member_doc's body being parsed and
 * planned on every execution and run by its own executor per row. staff: SQL text of a
 * boolean expression ("$1::boolean"). */
#define M_DOC_SQL(staff) M_DOC_EXPR("m", "p", "m.club_id", "m.id", staff)
/* The same for rows under other names: m, p the member and profile rows, club and id the
 * member's club_id and id. */
#define M_DOC_EXPR(m, p, club, id, staff)                                                          \
    "member.member_doc_of(" m ", " p ", (SELECT jsonb_object_agg(a.kind, member.address_doc(a)) "  \
    "FROM member.addresses a WHERE a.club_id = " club " AND a.member_id = " id "), " staff ")"

/* The same document as json text (member.member_doc_text, migration 0010: json_build_object
 * with the keys in jsonb's order, so the text is what member_doc_of's ::text prints, key for
 * key): for reads that answer it through the pass-through (db_json_raw) or parse it, never for
 * SQL that works on it as jsonb. Writing the text directly saves building jsonb's binary form
 * only to print it. */
#define M_DOC_TEXT_EXPR(m, p, club, id, staff)                                                     \
    "member.member_doc_text(" m ", " p ", (SELECT json_object_agg(a.kind, "                        \
    "member.address_doc_text(a) ORDER BY length(a.kind), a.kind COLLATE \"C\") FROM "              \
    "member.addresses a WHERE a.club_id = " club " AND a.member_id = " id "), " staff ")"
#define M_DOC_TEXT_SQL(staff) M_DOC_TEXT_EXPR("m", "p", "m.club_id", "m.id", staff)

/* The stored document (member.member_docs, migration 0012): the staff view, the text
 * M_DOC_TEXT_EXPR(..., true) prints, rewritten by triggers whenever a statement changes the
 * member, its profile or its addresses; every member with a profile has one. A join of it as d
 * for the member whose club and id are the SQL expressions club and id: reads that answer the
 * staff view send d.doc instead of building the document per row. */
#define M_DOC_STORED_JOIN(club, id)                                                                \
    "JOIN member.member_docs d ON d.club_id = " club " AND d.member_id = " id " "

/* The member row as JSON (member.member_doc), locked when lock != 0; 404 when absent.
 * auth_out (may be NULL) receives auth_user_id ("" when none), status_out (may be NULL) the
 * status. Returns a new reference or NULL. */
json_t *member_load(mctx_t *c, const char *id, int lock, int staff, char *auth_out,
                    char *status_out, err_t *e);

/* member_load (not locked) in its own read-only transaction, one round trip (db_read), after
 * member_prepare: the same document and errors as member_begin + member_load (404 club_id first
 * when named), as a pass-through value (db_json_raw: a get answers it unparsed). */
json_t *member_read(mctx_t *c, const db_scope_t *scope, int named, const char *id, int staff,
                    char *auth_out, err_t *e);

/* Input helpers shared by the validators. */
int member_valid_club_ref(json_t *in, err_t *e);             /* optional club_id: uuid */
int member_valid_id(json_t *in, const char *name, err_t *e); /* required uuid */
int member_is_date(const char *s);                           /* YYYY-MM-DD, a real date */
int member_valid_date(json_t *in, const char *name, err_t *e);

/* Validates the member/profile fields of a create (required = 1) or patch input.
 * prefix names nested objects in errors ("dependents[0]."). */
int member_valid_member_fields(json_t *in, int required, const char *prefix, err_t *e);
int member_valid_address(json_t *a, const char *prefix, err_t *e);

/* dst = a + b, truncated to cap (no format-truncation warnings); returns dst. */
char *member_join(char *dst, size_t cap, const char *a, const char *b);

/* Formats the next member number from a pattern; buf >= 48 bytes. Returns 0 or -1. */
int member_format_number(const char *pattern, long long seq, int year, char *buf, size_t cap);
/* Reserves n numbers of the club's counter; writes the pattern and the first seq. */
int member_reserve_numbers(mctx_t *c, long long n, char *pattern, size_t cap, long long *first,
                           err_t *e);

/* Inserts one member (+ profile + addresses) from validated input; returns the member id in
 * id_out (40 bytes). status: initial status; primary: primary member id or NULL. */
int member_insert_member(mctx_t *c, json_t *in, const char *status, const char *primary,
                         char *id_out, err_t *e);

#endif
