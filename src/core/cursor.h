/* cursor: the one keyset-pagination cursor codec. A cursor is opaque to clients: base64url
 * (no padding) of the compact JSON array [version, list, key...], where list names the listing
 * (and whatever else must match for the cursor to be valid, e.g. "members:-name") and the keys
 * are the sort key values of the last row of a page, as text (JSON keeps any UTF-8 exact).
 * Each key has a type, checked on decode: 't' text, 'u' uuid, 'T' timestamp (digits and
 * "-:.+ TZ"), 'i' integer. Decoding is strict: anything but a canonical version-1 cursor of the
 * same list with exactly the expected keys is 400 invalid_cursor naming the input field.
 * A cursor is a position, not a secret nor a capability: it is not signed, the query it feeds
 * keeps every filter and row-level check. Owns nothing: cursor_encode's string is the
 * caller's (free), a cursor_t holds its keys in itself (no free). */
#ifndef CORE_CURSOR_H
#define CORE_CURSOR_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/err.h"

#define CURSOR_VERSION 1
/* longest accepted cursor (encoded characters); also the bound input validators use */
#define CURSOR_MAX_LEN 1024
#define CURSOR_MAX_KEYS 4

typedef struct cursor {
    int n;                                /* number of keys */
    const char *key[CURSOR_MAX_KEYS];     /* NUL-terminated, pointing into buf */
    char buf[CURSOR_MAX_LEN / 4 * 3 + 1]; /* the decoded keys */
} cursor_t;

/* The cursor of list with the keys (strlen(types) of them, types as above). Returns a malloc'd
 * string, or NULL when a key is NULL, the cursor would be longer than CURSOR_MAX_LEN, or out of
 * memory. */
char *cursor_encode(const char *list, const char *types, const char *const *keys);
/* The cursors of the first n rows of a page (list, types as above; key i in column col + i),
 * as a new JSON array (a row whose cursor cannot be made gets null): the per-item cursors a list
 * operation returns beside its items. */
json_t *cursor_rows(const PGresult *r, int n, int col, const char *list, const char *types);
/* Decodes s, a cursor of list with keys of types, into *c. 0, or -1 with e = 400
 * invalid_cursor naming field (too long, not base64url, not canonical JSON, wrong version,
 * another list, wrong number or type of keys). */
int cursor_decode(const char *s, const char *list, const char *types, const char *field,
                  cursor_t *c, err_t *e);

/* ---- a list page: what every keyset-paginated list operation shares ----
 * Input: `limit` (1..100, default per list) and `after` (a cursor of the list); output
 * {"items": [...], "cursors": [...], "next_cursor": <the last item's cursor, or null>}: the
 * query fetches limit + 1 rows (the extra one says that a next page exists) whose column 0 is
 * the item as JSON text and columns 1.. its sort keys (types as above). */
typedef struct cursor_page {
    long long limit; /* in.limit, or the list's default */
    char fetch[24];  /* limit + 1 as text: the query's LIMIT parameter */
    int has_after;   /* 1 when in.after was given (and decoded into after) */
    cursor_t after;
} cursor_page_t;

/* The validator part: limit an integer 1..100 and after a string of at most CURSOR_MAX_LEN
 * characters, each optional (422 naming the field). */
int cursor_page_validate(json_t *in, err_t *e);
/* Reads in.limit (default deflt) and decodes in.after (a cursor of list with keys of types)
 * into *pg. 0, or -1 with e = 400 invalid_cursor naming "after". */
int cursor_page_begin(json_t *in, long long deflt, const char *list, const char *types,
                      cursor_page_t *pg, err_t *e);
/* Key i of the decoded after cursor, or NULL on a first page: the keyset query parameter. */
const char *cursor_page_key(const cursor_page_t *pg, int i);
/* The page query failed (e set by db_read/db_exec): a 422 there is a cursor key the database
 * cannot read (e.g. a timestamp out of range), answered 400 invalid_cursor naming "after".
 * Returns -1. */
int cursor_page_failed(err_t *e);
/* The page's envelope from the fetched rows r (not cleared: the caller's), showing at most limit
 * of them; the items are pass-through values (db_json_raw: answered as PostgreSQL built them,
 * docs/architecture.md "JSON pass-through (reads)"), so the rows' column 0 must be the item
 * answered unchanged. New reference, or NULL with e = 500 when an item is not JSON. */
json_t *cursor_page_output(const PGresult *r, long long limit, const char *list, const char *types,
                           err_t *e);

#endif
