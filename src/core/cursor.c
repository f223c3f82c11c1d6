/* cursor: see cursor.h. */
#include "core/cursor.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/json.h"
#include "core/strbuf.h"

static int valid_key(char type, const char *v) {
    size_t n = strlen(v);
    switch (type) {
    case 't':
        return 1;
    case 'u':
        return jsonx_is_uuid(v);
    case 'T':
        if (n < 10 || n > 40 || !isdigit((unsigned char)v[0])) return 0;
        for (const char *p = v; *p; p++)
            if (!isdigit((unsigned char)*p) && !strchr("-:.+ TZ", *p)) return 0;
        return 1;
    case 'i': {
        const char *p = v + (v[0] == '-');
        if (!*p || strlen(p) > 19) return 0;
        for (; *p; p++)
            if (!isdigit((unsigned char)*p)) return 0;
        return 1;
    }
    default:
        return 0;
    }
}

char *cursor_encode(const char *list, const char *types, const char *const *keys) {
    size_t nk = strlen(types);
    if (!list || nk > CURSOR_MAX_KEYS) return NULL;
    /* the compact JSON array [version, list, key...] written directly: the bytes jsonx_dump
     * prints for that array (test_cursor checks it), without building it (a page makes one
     * cursor per item) */
    strbuf_t b = {0};
    strbuf_printf(&b, "[%d,", CURSOR_VERSION);
    jsonx_put_string(&b, list, strlen(list));
    for (size_t i = 0; i < nk; i++) {
        if (!keys[i]) {
            strbuf_free(&b);
            return NULL;
        }
        strbuf_putn(&b, ",", 1);
        jsonx_put_string(&b, keys[i], strlen(keys[i]));
    }
    strbuf_putn(&b, "]", 1);
    size_t n = b.len;
    char *js = strbuf_take(&b);
    char *out = js ? jsonx_b64url_encode((const unsigned char *)js, n) : NULL;
    free(js);
    if (out && strlen(out) > CURSOR_MAX_LEN) {
        free(out);
        out = NULL;
    }
    return out;
}

json_t *cursor_rows(const PGresult *r, int n, int col, const char *list, const char *types) {
    json_t *a = json_array();
    int nk = (int)strlen(types);
    for (int i = 0; i < n; i++) {
        const char *k[CURSOR_MAX_KEYS] = {0};
        for (int j = 0; j < nk && j < CURSOR_MAX_KEYS; j++)
            k[j] = PQgetvalue(r, i, col + j);
        char *c = cursor_encode(list, types, k);
        json_array_append_new(a, c ? json_string(c) : json_null());
        free(c);
    }
    return a;
}

/* The checks of cursor_decode, on the decoded bytes; 1 when valid (keys copied into c). */
static int decode_json(const unsigned char *raw, size_t n, const char *list, const char *types,
                       cursor_t *c) {
    size_t nk = strlen(types);
    json_t *a = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
    char *again = a ? jsonx_dump(a) : NULL;
    /* canonical only: the bytes cursor_encode makes (no spaces, no escapes it would not use) */
    int ok = again && strlen(again) == n && memcmp(again, raw, n) == 0 && json_is_array(a) &&
             json_array_size(a) == nk + 2 && nk <= CURSOR_MAX_KEYS &&
             json_is_integer(json_array_get(a, 0)) &&
             json_integer_value(json_array_get(a, 0)) == CURSOR_VERSION &&
             json_is_string(json_array_get(a, 1)) &&
             strcmp(json_string_value(json_array_get(a, 1)), list) == 0;
    size_t o = 0;
    for (size_t i = 0; ok && i < nk; i++) {
        json_t *k = json_array_get(a, i + 2);
        const char *v = json_string_value(k);
        size_t len = v ? json_string_length(k) : 0;
        ok = v && strlen(v) == len && o + len < sizeof c->buf && valid_key(types[i], v);
        if (ok) {
            memcpy(c->buf + o, v, len + 1);
            c->key[i] = c->buf + o;
            o += len + 1;
        }
    }
    c->n = ok ? (int)nk : 0;
    free(again);
    json_decref(a);
    return ok;
}

int cursor_decode(const char *s, const char *list, const char *types, const char *field,
                  cursor_t *c, err_t *e) {
    memset(c, 0, sizeof *c);
    size_t n = 0;
    unsigned char *raw = s && strlen(s) <= CURSOR_MAX_LEN ? jsonx_b64url_decode(s, &n) : NULL;
    int ok = raw && decode_json(raw, n, list, types, c);
    free(raw);
    if (ok) return 0;
    memset(c, 0, sizeof *c);
    return err_set(e, 400, "invalid_cursor", field,
                   "%s must be a cursor returned by this list (with the same sort)", field);
}

/* ---- a list page ---- */

int cursor_page_validate(json_t *in, err_t *e) {
    long long limit;
    const char *s;
    if (jsonx_int(in, "limit", 0, 1, 100, 0, &limit, e) != 0) return -1;
    return jsonx_string(in, "after", 0, 1, CURSOR_MAX_LEN, &s, e);
}

int cursor_page_begin(json_t *in, long long deflt, const char *list, const char *types,
                      cursor_page_t *pg, err_t *e) {
    memset(pg, 0, sizeof *pg);
    pg->limit = deflt;
    jsonx_int(in, "limit", 0, 1, 100, deflt, &pg->limit, e); /* validated before */
    snprintf(pg->fetch, sizeof pg->fetch, "%lld", pg->limit + 1);
    const char *after = json_string_value(json_object_get(in, "after"));
    if (!after) return 0;
    pg->has_after = 1;
    return cursor_decode(after, list, types, "after", &pg->after, e);
}

const char *cursor_page_key(const cursor_page_t *pg, int i) {
    return pg->has_after && i >= 0 && i < pg->after.n ? pg->after.key[i] : NULL;
}

int cursor_page_failed(err_t *e) {
    if (e->status == 422) err_set(e, 400, "invalid_cursor", "after", "after is not a cursor");
    return -1;
}

json_t *cursor_page_output(const PGresult *r, long long limit, const char *list, const char *types,
                           err_t *e) {
    int n = PQntuples(r), shown = n > limit ? (int)limit : n;
    json_t *items = json_array();
    for (int i = 0; i < shown; i++) {
        /* the item as PostgreSQL built it, spliced into the answer unparsed (core/json.h) */
        json_t *doc = db_json_raw(r, i, 0, e);
        if (!doc) {
            json_decref(items);
            return NULL;
        }
        json_array_append_new(items, doc);
    }
    /* every item's cursor (GraphQL edges map them), the last shown one is next_cursor */
    json_t *cursors = cursor_rows(r, shown, 1, list, types);
    json_t *next =
        n > limit ? json_incref(json_array_get(cursors, (size_t)shown - 1)) : json_null();
    return json_pack("{s:o, s:o, s:o}", "items", items, "cursors", cursors, "next_cursor",
                     next ? next : json_null());
}
