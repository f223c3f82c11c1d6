/* json: helpers on top of jansson for parsing request bodies strictly and validating input
 * fields with errors that name the field. Owns nothing beyond what each function documents. */
#ifndef CORE_JSON_H
#define CORE_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"

/* Parses a request body: must be a JSON object, no duplicate keys, valid UTF-8, no trailing
 * garbage, depth <= 32. On success *out is a new reference. Errors are 400 "invalid_json" with
 * field "body". */
int jsonx_parse_object(const char *buf, size_t len, json_t **out, err_t *e);

/* Compact, key-order-preserving serialisation; caller frees. Raw values (below) anywhere in v
 * are written as their text, spliced in unparsed. */
char *jsonx_dump(const json_t *v);

/* Pass-through of JSON someone else built (PostgreSQL's jsonb documents; db_json_raw): a raw
 * value carries the document's text instead of its parsed tree, so that a read answers it
 * without jansson parsing it and printing it again. jsonx_raw rewrites the text once, in one
 * linear pass with no allocation per node, into exactly the bytes json_loads + jsonx_dump
 * would have produced (compact; jansson's string escapes; integers and reals printed as jansson
 * prints them), and fails (500 internal) wherever json_loads would fail; the text must have no
 * duplicate keys (jsonb never has). The value is an ordinary jansson object holding one key
 * that no parsed JSON can contain (it starts with a NUL byte), so it goes wherever a json_t
 * goes: put it in arrays and objects (a page envelope: items, cursors, next), return it from a
 * handler. Only two things look inside: jsonx_dump (splices the text) and jsonx_materialize
 * (parses it, for callers that read fields: svc_dispatch does it for every caller but the
 * gateway's REST answer and the bus responder, which only serialise). Do not json_deep_copy or
 * json_object_update a raw value (jansson copies keys as C strings, which drops the marker):
 * materialize first. jsonx_raw returns a new reference, or NULL + 500 internal "unreadable JSON
 * document". */
json_t *jsonx_raw(const char *text, size_t len, err_t *e);
/* A raw value of text that is canonical already (written by jsonx_put_string,
 * jsonx_put_canonical and numbers as jansson prints them, e.g. a document written from rows by C):
 * no pass over it. New reference, or NULL + 500 internal. */
json_t *jsonx_raw_canonical(const char *text, size_t len, err_t *e);
/* Appends the canonical text of the JSON text[0..len) (what jsonx_raw would hold: a document
 * PostgreSQL printed, spliced into a document C writes); -1 (nothing appended) when it is not
 * JSON json_loads would accept. */
struct strbuf;
int jsonx_put_canonical(struct strbuf *b, const char *text, size_t len);
/* Appends s[0..n) as a JSON string, quoted and escaped exactly as jsonx_dump writes it (s must
 * be valid UTF-8): for code that writes small JSON texts without building a tree (cursors). */
void jsonx_put_string(struct strbuf *b, const char *s, size_t n);
/* 1 when v is a raw value. */
int jsonx_is_raw(const json_t *v);
/* The canonical text of raw value v (borrowed, NUL-terminated, *len bytes), or NULL when v is
 * not raw. */
const char *jsonx_raw_text(const json_t *v, size_t *len);
/* Takes v (its reference) and returns it with every raw value in it, at any depth, replaced by
 * its parsed tree (a raw v itself becomes the parsed value); NULL when v is NULL or out of
 * memory. */
json_t *jsonx_materialize(json_t *v);

/* Field validators. `obj` is the input object; `name` the key (also used as the error field).
 * required: 1 = must be present and non-null (JSON null counts as absent). On success *out is
 * borrowed from obj (or NULL when absent and not required). Errors follow err.h's rule: 400
 * "missing_field" ("<name> is required"), 400 "invalid_type" when the JSON type is wrong (for
 * integers and numbers a decimal string is the right type, since query parameters arrive as
 * strings; 1.5 or "abc" for an integer is not), 422 "invalid_field" ("<name> must be ...") when
 * the value is out of length/range or not in the enum. */
/* Single-line string: min_len/max_len count Unicode code points, not bytes; rejects control
 * characters (U+0000..U+001F, U+007F, U+0080..U+009F), including newlines and tabs, and the
 * bidirectional controls (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C) that let a
 * name display as another (every name, person or club, is a single-line string). */
int jsonx_string(json_t *obj, const char *name, int required, size_t min_len, size_t max_len,
                 const char **out, err_t *e);
/* Multi-line text (descriptions, messages): same as jsonx_string but allows \n, \r and \t. */
int jsonx_text(json_t *obj, const char *name, int required, size_t min_len, size_t max_len,
               const char **out, err_t *e);
/* Integers: accepts JSON integers, and decimal strings (query parameters arrive as strings). */
/* Absent and not required: *out = def. Real numbers (1.0) are rejected. */
int jsonx_int(json_t *obj, const char *name, int required, long long min, long long max,
              long long def, long long *out, err_t *e);
/* Accepts JSON numbers and decimal strings ("1.5", "-2e3"; no hex, inf or nan). *present (may be
 * NULL) is set to 1 when a value was read; *out is left alone when absent. */
int jsonx_number(json_t *obj, const char *name, int required, double min, double max, double *out,
                 int *present, err_t *e);
/* Accepts true/false and the strings "true"/"false"; absent and not required: *out = def. */
int jsonx_bool(json_t *obj, const char *name, int required, int def, int *out, err_t *e);
/* String that must be one of the NULL-terminated `allowed` list. */
int jsonx_enum(json_t *obj, const char *name, int required, const char *const *allowed,
               const char **out, err_t *e);
/* Rejects any key not in the NULL-terminated `known` list (400 "unknown_field", field =
 * prefix + key; prefix is e.g. "address." for a nested object, "" or NULL at the top). */
int jsonx_only_keys(json_t *obj, const char *const *known, const char *prefix, err_t *e);

/* Strict decimal integer ("-12"; no spaces, '+', hex or overflow). 0, or -1 when invalid. */
int jsonx_parse_ll(const char *s, long long *out);

/* Format checks (return 1 when valid).
 * uuid: canonical 8-4-4-4-12 hex, any case. email: pragmatic ASCII check (one '@', local part
 * 1..64 of atext and non-leading/trailing/double dots, domain of >= 2 alnum/hyphen labels, total
 * <= 254). e164: ^\+[1-9][0-9]{6,14}$. http url: http:// or https:// + host name, IPv4 or
 * [IPv6], optional port, no userinfo, only RFC 3986 characters (no spaces, non-ASCII must be
 * percent-encoded), <= 2048 bytes. */
int jsonx_is_uuid(const char *s);
int jsonx_is_email(const char *s);
int jsonx_is_e164(const char *s);
int jsonx_is_http_url(const char *s);
/* date: YYYY-MM-DD, a day of the calendar (year 1900 on, the month's length, leap years). */
int jsonx_is_date(const char *s);

/* Reference and date fields, validated the one way every service answers them (required as
 * jsonx_string; 422 "invalid_field" naming the field otherwise):
 * uuid: 1..64 characters and a uuid ("<name> must be a uuid"); stored back into obj in lower
 *   case (the form PostgreSQL prints), so a later comparison with an id read back holds.
 * date: a 10-character string ("<name> must be a date") that jsonx_is_date accepts ("<name> must
 *   be a date YYYY-MM-DD"). */
int jsonx_uuid(json_t *obj, const char *name, int required, err_t *e);
int jsonx_date(json_t *obj, const char *name, int required, err_t *e);
/* A reference to a record (an id in the path): 1..64 characters as jsonx_string; a string that
 * is not a uuid names no record: 404 "not_found" naming the field, message `missing`. */
int jsonx_ref(json_t *obj, const char *name, int required, const char *missing, err_t *e);
/* timestamp shape: YYYY-MM-DDTHH:MM:SS, then only fraction and zone characters
 * (0-9 . : + - Z), at most 40 characters; the calendar is PostgreSQL's (or the caller's) to check.
 */
int jsonx_is_timestamp(const char *s);

/* base64url without padding; caller frees the result. decode returns NULL on bad input
 * (characters outside the alphabet, '=' padding, impossible length, non-zero unused bits); its
 * result is NUL-terminated for convenience (not counted in *out_len). */
char *jsonx_b64url_encode(const unsigned char *data, size_t len);
unsigned char *jsonx_b64url_decode(const char *s, size_t *out_len);

#endif
