/* Unit tests for core/cursor: round trips (non-ASCII, every key type) and every malformed
 * cursor rejected as 400 invalid_cursor naming the field. */
#include "core/cursor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "test.h"

#define ID "0b7e6a52-2c7e-4b8e-9a53-1f0e5d8c9a10"

static void test_round_trip_text_uuid(void) {
    static const char *const names[] = {"élodie dupont", "straße", "日本 太郎",   "anne",
                                        "Anne",          "",       "a\"b\\c\x1f", "🙂 emoji"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *k[] = {names[i], ID};
        char *s = cursor_encode("members:name", "tu", k);
        CHECK(s != NULL);
        for (const char *p = s; p && *p; p++) /* opaque and URL-safe */
            CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
        cursor_t c;
        err_t e = {0};
        CHECK_EQ_INT(cursor_decode(s, "members:name", "tu", "after", &c, &e), 0);
        CHECK_EQ_INT(c.n, 2);
        CHECK_STR(c.key[0], names[i]);
        CHECK_STR(c.key[1], ID);
        free(s);
    }
}

static void test_round_trip_types(void) {
    const char *k[] = {"2026-12-05T23:11:52.123456Z", ID};
    char *s = cursor_encode("clubs", "Tu", k);
    cursor_t c;
    err_t e = {0};
    CHECK_EQ_INT(cursor_decode(s, "clubs", "Tu", "after", &c, &e), 0);
    CHECK_STR(c.key[0], k[0]);
    free(s);
    const char *k2[] = {"2026-12-05 23:11:52.123456+00", ID};
    s = cursor_encode("members:created_at", "Tu", k2);
    CHECK_EQ_INT(cursor_decode(s, "members:created_at", "Tu", "after", &c, &e), 0);
    CHECK_STR(c.key[0], k2[0]);
    free(s);
    const char *k3[] = {"1733440312123456", ID};
    s = cursor_encode("audit", "iu", k3);
    CHECK_EQ_INT(cursor_decode(s, "audit", "iu", "after", &c, &e), 0);
    CHECK_STR(c.key[0], k3[0]);
    CHECK_STR(c.key[1], ID);
    free(s);
}

static void test_encode_refuses(void) {
    const char *k[] = {NULL, ID};
    CHECK(cursor_encode("clubs", "tu", k) == NULL);
    char big[900];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    const char *k2[] = {big, ID};
    CHECK(cursor_encode("clubs", "tu", k2) == NULL); /* longer than CURSOR_MAX_LEN encoded */
}

/* Expects s to be rejected for list "clubs", types "tu", naming field "after". */
static void rejected(const char *s, int line) {
    cursor_t c;
    err_t e = {0};
    int rc = cursor_decode(s, "clubs", "tu", "after", &c, &e);
    if (rc != -1 || e.status != 400 || strcmp(e.code, "invalid_cursor") != 0 ||
        strcmp(e.field, "after") != 0 || c.n != 0) {
        printf("#   cursor of line %d accepted or wrong error (%d %d %s %s)\n", line, rc, e.status,
               e.code, e.field);
        CHECK(0);
    }
}

/* base64url of raw JSON text. */
static char *b64(const char *json) {
    return jsonx_b64url_encode((const unsigned char *)json, strlen(json));
}

static void test_malformed(void) {
    static const char *const bad_json[] = {
        "[2,\"clubs\",\"anne\",\"" ID "\"]",       /* wrong version */
        "[0,\"clubs\",\"anne\",\"" ID "\"]",       /* wrong version */
        "[\"1\",\"clubs\",\"anne\",\"" ID "\"]",   /* version not a number */
        "[1,\"members\",\"anne\",\"" ID "\"]",     /* another list */
        "[1,\"clubs\",\"anne\"]",                  /* too few keys */
        "[1,\"clubs\",\"anne\",\"" ID "\",\"x\"]", /* too many keys */
        "[1,\"clubs\",\"anne\",\"not-a-uuid\"]",   /* wrong type */
        "[1,\"clubs\",7,\"" ID "\"]",              /* a number for a text key */
        "[1,\"clubs\",null,\"" ID "\"]",           /* null key */
        "[1, \"clubs\",\"anne\",\"" ID "\"]",      /* not canonical (a space) */
        "[1,\"clubs\",\"\\u0061nne\",\"" ID "\"]", /* not canonical (an escape) */
        "[1,\"clubs\",\"a\\u0000b\",\"" ID "\"]",  /* an embedded NUL */
        "{\"v\":1}",                               /* not an array */
        "[1,\"clubs\",\"anne\",\"" ID "\"] ",      /* trailing bytes */
        "[1,\"clubs\",\"anne\",\"" ID "\"",        /* truncated */
        "",                                        /* empty */
    };
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        char *s = b64(bad_json[i]);
        rejected(s, (int)i);
        free(s);
    }
    /* not base64url / tampered bytes */
    const char *k[] = {"anne", ID};
    char *good = cursor_encode("clubs", "tu", k);
    char *t = strdup(good);
    t[3] = t[3] == 'A' ? 'B' : 'A'; /* a changed byte breaks the JSON or the key */
    rejected(t, 100);
    t[3] = '+'; /* base64, not base64url */
    rejected(t, 101);
    t[3] = '=';
    rejected(t, 102);
    snprintf(t, strlen(good) + 1, "%s", good);
    t[strlen(t) - 1] = 0; /* truncated */
    rejected(t, 103);
    rejected("", 104);
    rejected("a", 105);
    rejected(NULL, 106);
    free(t);
    /* oversize, even if otherwise valid */
    char big[CURSOR_MAX_LEN + 8];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = 0;
    rejected(big, 107);
    /* the good one is accepted, and only with its own list and types */
    cursor_t c;
    err_t e = {0};
    CHECK_EQ_INT(cursor_decode(good, "clubs", "tu", "after", &c, &e), 0);
    CHECK_EQ_INT(cursor_decode(good, "clubs", "Tu", "after", &c, &e), -1);
    CHECK_EQ_INT(cursor_decode(good, "clubs", "tuu", "after", &c, &e), -1);
    CHECK_EQ_INT(cursor_decode(good, "clubs", "tu", "cursor", &c, &e), 0);
    e = (err_t){0};
    CHECK_EQ_INT(cursor_decode("!!", "clubs", "tu", "cursor", &c, &e), -1);
    CHECK_STR(e.field, "cursor");
    free(good);
}

/* A fetched page: rows (JSON, created_at, id), as a list query returns them. */
static PGresult *page_rows(int n) {
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[3] = {{.name = "doc", .format = 0}, {.name = "at"}, {.name = "id"}};
    PQsetResultAttrs(r, 3, att);
    for (int i = 0; i < n; i++) {
        char doc[32], at[40];
        snprintf(doc, sizeof doc, "{\"n\": %d}", i);
        snprintf(at, sizeof at, "2026-12-05T10:00:0%d.000000Z", i);
        PQsetvalue(r, i, 0, doc, (int)strlen(doc));
        PQsetvalue(r, i, 1, at, (int)strlen(at));
        PQsetvalue(r, i, 2, ID, (int)strlen(ID));
    }
    return r;
}

/* cursor_page_*: limit/after read and validated, limit + 1 fetched, the envelope with one
 * cursor per shown item and next_cursor = the last shown item's when a row more was fetched;
 * that next_cursor decodes into the keys of the next page. */
static void test_page(void) {
    err_t e = {0};
    json_t *in = json_pack("{s:i}", "limit", 2);
    CHECK_EQ_INT(cursor_page_validate(in, &e), 0);
    cursor_page_t pg;
    CHECK_EQ_INT(cursor_page_begin(in, 20, "visits", "Tu", &pg, &e), 0);
    CHECK_EQ_INT((int)pg.limit, 2);
    CHECK_STR(pg.fetch, "3");
    CHECK(cursor_page_key(&pg, 0) == NULL && cursor_page_key(&pg, 1) == NULL);
    PGresult *r = page_rows(3);
    json_t *out = cursor_page_output(r, pg.limit, "visits", "Tu", &e);
    CHECK(out != NULL);
    CHECK_EQ_INT((int)json_array_size(json_object_get(out, "items")), 2);
    CHECK_EQ_INT((int)json_array_size(json_object_get(out, "cursors")), 2);
    CHECK(json_equal(json_object_get(out, "next_cursor"),
                     json_array_get(json_object_get(out, "cursors"), 1)));
    json_object_set(in, "after", json_object_get(out, "next_cursor"));
    CHECK_EQ_INT(cursor_page_begin(in, 20, "visits", "Tu", &pg, &e), 0);
    CHECK_STR(cursor_page_key(&pg, 0), "2026-12-05T10:00:01.000000Z");
    CHECK_STR(cursor_page_key(&pg, 1), ID);
    CHECK(cursor_page_key(&pg, 2) == NULL);
    json_decref(out);
    PQclear(r);
    /* the last page: no next_cursor; the default limit */
    json_object_del(in, "limit");
    CHECK_EQ_INT(cursor_page_begin(in, 20, "visits", "Tu", &pg, &e), 0);
    CHECK_EQ_INT((int)pg.limit, 20);
    r = page_rows(1);
    out = cursor_page_output(r, pg.limit, "visits", "Tu", &e);
    CHECK(json_is_null(json_object_get(out, "next_cursor")));
    CHECK_EQ_INT((int)json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
    PQclear(r);
    /* another list's cursor, a bad limit, an overlong after */
    e = (err_t){0};
    CHECK_EQ_INT(cursor_page_begin(in, 20, "agreements", "Tu", &pg, &e), -1);
    CHECK_EQ_INT(e.status, 400);
    CHECK_STR(e.field, "after");
    json_object_set_new(in, "limit", json_integer(101));
    e = (err_t){0};
    CHECK_EQ_INT(cursor_page_validate(in, &e), -1);
    CHECK_STR(e.field, "limit");
    char big[CURSOR_MAX_LEN + 2];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = 0;
    json_object_set_new(in, "limit", json_integer(5));
    json_object_set_new(in, "after", json_string(big));
    e = (err_t){0};
    CHECK_EQ_INT(cursor_page_validate(in, &e), -1);
    CHECK_STR(e.field, "after");
    /* a database 422 on the page query is the cursor's */
    e = (err_t){0};
    err_invalid(&e, "", "out of range");
    CHECK_EQ_INT(cursor_page_failed(&e), -1);
    CHECK_EQ_INT(e.status, 400);
    CHECK_STR(e.code, "invalid_cursor");
    json_decref(in);
}

int main(void) {
    RUN(test_round_trip_text_uuid);
    RUN(test_round_trip_types);
    RUN(test_encode_refuses);
    RUN(test_malformed);
    RUN(test_page);
    TEST_DONE();
}
