/* members_search: the member list/search (filters, text search on member.search_words, five
 * sort orders and the match order of a search without sort, keyset paging) and the club directory
 * (opted-in active members, visible to the club's members). Owns the list SQL builder (its
 * index-walking plans are documented inline) and both cursors. Handlers set *out (the caller's,
 * json_decref) only on success. API: docs/member.md. */
#ifndef SERVICES_MEMBER_MEMBERS_SEARCH_H
#define SERVICES_MEMBER_MEMBERS_SEARCH_H

#include <libpq-fe.h>

#include "core/db.h"
#include "core/service.h"
#include "services/member/members.h"

int members_validate_list(json_t *in, err_t *e);
int members_validate_directory(json_t *in, err_t *e);
int members_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_directory(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* Shared with member_csv.c: the filter/sort part of a list, as validated input. Builds the
 * WHERE/ORDER query over member.members m (cursor from in.after; all rows when limit <= 0)
 * selecting the member's document, staff view (the stored member.member_docs text, migration
 * 0012), in column 0 and the cursor key in column 1; the PGresult is the caller's. */
PGresult *members_query(db_tx_t *tx, json_t *in, long long limit, err_t *e);
/* The plan of that query as run (EXPLAIN (ANALYZE, FORMAT JSON), one row, one column), for the
 * tests that the search stays an index range scan under RLS and reads rows per page, not per
 * match. */
PGresult *members_query_plan(db_tx_t *tx, json_t *in, long long limit, err_t *e);

#endif
