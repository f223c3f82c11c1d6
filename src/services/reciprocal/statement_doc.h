/* statement_doc: a statement's JSON and CSV documents written in C, in one pass, from one
 * set-based read of the statement and its lines (issue 12, "issuing the month's statements for
 * 50 partner pairs with 100,000 lines total < 5 s"; docs/reciprocal.md "Statement documents
 * written from rows"). PostgreSQL only reads: the statement's own columns on the first row, each
 * line's columns as text (no JSON built per line, no function per line but the reversal's index
 * probe and the timestamps' text); the totals and the totals per tax rate are summed here from
 * the same rows. The JSON is byte for byte what statement_doc(s, true) printed by jansson gives
 * (the keys in jsonb's order; test_settlement_api test_documents), the CSV what the parsed
 * document gave (test_csv_rows). Owns nothing past a call; the caller frees the text. */
#ifndef SERVICES_RECIPROCAL_STATEMENT_DOC_H
#define SERVICES_RECIPROCAL_STATEMENT_DOC_H

#include "core/service.h"

typedef enum { STMT_DOC_JSON, STMT_DOC_CSV } stmt_doc_format_t;

/* The document of statement id as the caller sees it (read in tx when given, else in its own
 * scoped read): *text (malloc'd, NUL-terminated, *len bytes; the caller frees it) and the
 * statement's number into number (for a file name). 404 not_found "id" when unseen. */
int stmt_doc_text(const svc_call_t *call, db_tx_t *tx, const char *id, stmt_doc_format_t format,
                  char **text, size_t *len, char number[96], err_t *e);

/* The JSON document as a pass-through value (core/json.h jsonx_raw), or NULL + err. */
json_t *stmt_doc_json(const svc_call_t *call, db_tx_t *tx, const char *id, err_t *e);

#endif
