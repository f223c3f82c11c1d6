/* members: the member operations of the member service: create (with dependents), get, me,
 * update, list/search, status transitions (lifecycle, cascade to dependents, history),
 * dependents, addresses, the club directory, the lapse sweep, per-club settings and
 * categories. Owns the SQL over member.members/profiles/addresses/status_history/settings/
 * categories and the member.created/updated/status_changed events. API: docs/member.md. */
#ifndef SERVICES_MEMBER_MEMBERS_H
#define SERVICES_MEMBER_MEMBERS_H

#include <libpq-fe.h>

#include "core/db.h"
#include "core/service.h"
#include "services/member/member_common.h"

int members_validate_create(json_t *in, err_t *e);
int members_validate_ref(json_t *in, err_t *e);
int members_validate_club(json_t *in, err_t *e);
int members_validate_update(json_t *in, err_t *e);
int members_validate_list(json_t *in, err_t *e);
int members_validate_status(json_t *in, err_t *e);
int members_validate_dependent(json_t *in, err_t *e);
int members_validate_address(json_t *in, err_t *e);
int members_validate_address_ref(json_t *in, err_t *e);
int members_validate_directory(json_t *in, err_t *e);
int members_validate_sweep(json_t *in, err_t *e);
int members_validate_settings(json_t *in, err_t *e);
int members_validate_category(json_t *in, err_t *e);

int members_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_me(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_update(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_set_status(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_history(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_add_dependent(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_list_dependents(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_put_address(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_delete_address(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_directory(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_lapse_sweep(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_get_settings(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_update_settings(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_list_categories(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_create_category(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* Renewal: a new expires_on (later than the current one, not in the past); a lapsed member
 * becomes active again (cascade), dependents' earlier expiries follow; audited, events
 * member.renewed (+ member.status_changed). */
int members_validate_renew(json_t *in, err_t *e);
int members_renew(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* Shared with member_csv.c: the filter/sort part of a list, as validated input. Builds the
 * WHERE/ORDER query over member.members m JOIN member.profiles p (cursor from in.after; all
 * rows when limit <= 0) selecting member.member_doc(m, staff) in column 0 and the cursor
 * key in column 1; the PGresult is the caller's. */
PGresult *members_query(db_tx_t *tx, json_t *in, int staff, long long limit, err_t *e);
/* The plan of that query (EXPLAIN (FORMAT JSON), one row, one column), for the test that the
 * search stays an index range scan under RLS. */
PGresult *members_query_plan(db_tx_t *tx, json_t *in, long long limit, err_t *e);

/* Changes one member's status inside the caller's transaction (lifecycle check, cascade,
 * history, events). changes (may be NULL) receives the array of changes. */
int members_transition(mctx_t *c, const char *id, const char *to, const char *reason,
                       json_t **changes, err_t *e);

#endif
