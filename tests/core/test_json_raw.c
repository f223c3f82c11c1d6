/* test_json_raw: the JSON pass-through (core/json.h jsonx_raw, jsonx_dump, jsonx_materialize).
 * Every check compares with the old path, jansson itself: a text's raw value must print exactly
 * what json_loads + jsonx_dump print, and be refused wherever json_loads refuses it. Fixed
 * cases in PostgreSQL's jsonb output style (", " and ": ", lower-case \u escapes, non-ASCII as
 * UTF-8, numeric text), then random documents printed in jansson's other styles (spaces,
 * indentation, \u escapes of everything non-ASCII incl. surrogate pairs). Needs no database
 * (tests/services/member/test_members.c test_passthrough_identical compares the member and club
 * reads answered both ways on real PostgreSQL documents). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "test.h"

#define FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

/* 1 when the raw value of text prints what json_loads + jsonx_dump print, or both refuse it. */
static int same_as_jansson(const char *text, size_t len) {
    err_t e = {0};
    json_t *old = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    char *want = old ? json_dumps(old, FLAGS) : NULL;
    json_t *raw = jsonx_raw(text, len, &e);
    size_t n = 0;
    const char *got = raw ? jsonx_raw_text(raw, &n) : NULL;
    int ok = want ? got && n == strlen(want) && memcmp(got, want, n) == 0
                  : !raw && e.status == 500 && strcmp(e.code, "internal") == 0;
    if (!ok)
        fprintf(stdout, "#   text   %.*s\n#   jansson %s\n#   raw     %s\n", (int)len, text,
                want ? want : "(refused)", got ? got : "(refused)");
    free(want);
    json_decref(old);
    json_decref(raw);
    return ok;
}

static void test_fixed(void) {
    static const char *const cases[] = {
        /* PostgreSQL's jsonb::text style */
        "{\"id\": \"x\", \"erased\": false, \"profile\": {\"email\": null, \"lines\": [\"1\", "
        "\"2\"]}}",
        "[]",
        "{}",
        " [ 1 , 2 ] ",
        "\"Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80\"",
        "\"tab\\there\\nnl\\r\\b\\f\\\\ \\\" \\/\"",
        "\"ctl \\u0001 \\u001f \\u007f \\u00e9 \\u00E9 \\ud83d\\ude00\"",
        "\"\x7f\"",
        "{\"lat\": 51.5074, \"lon\": -0.1278, \"z\": 0.0, \"one\": 1.0, \"e\": 1e5, \"E\": 2.5E-3}",
        "{\"n\": -0, \"big\": 9223372036854775807, \"small\": -9223372036854775808}",
        "[1.7976931348623157e308, 5e-324, 0.1, 123456789012345678, 1.23456789012345678]",
        "[true, false, null, \"\", [[]], {\"\": {}}]",
        "{\"dup\": 1, \"dup2\": 2}",
        "  \"scalar\"  ",
        "42",
        /* refused by both */
        "",
        " ",
        "{",
        "[1,]",
        "{\"a\" 1}",
        "{\"a\": 1,}",
        "[01]",
        "[1.]",
        "[.5]",
        "[1e]",
        "[+1]",
        "[-]",
        "[9223372036854775808]",
        "[1e400]",
        "\"\\u0000\"",
        "{\"\\u0000jsonx-raw\": \"[]\"}",
        "\"\\ud83d\"",
        "\"\\ude00\"",
        "\"\\ud83d\\u0041\"",
        "\"\\x\"",
        "\"\\u12\"",
        "\"raw \x01 control\"",
        "\"bad \xc3\"",
        "\"overlong \xc0\xaf\"",
        "\"surrogate \xed\xa0\x80\"",
        "\"too big \xf4\x90\x80\x80\"",
        "\"unterminated",
        "[1] [2]",
        "tru",
        "nul",
        "[true false]",
        NULL,
    };
    for (int i = 0; cases[i]; i++)
        CHECK(same_as_jansson(cases[i], strlen(cases[i])));
    /* deeper than jansson's 2048 levels: both refuse */
    char deep[2 * 2100 + 1];
    memset(deep, '[', 2100);
    memset(deep + 2100, ']', 2100);
    deep[4200] = '\0';
    CHECK(same_as_jansson(deep, 4200));
    CHECK(same_as_jansson(deep + 100, 4000)); /* 2000 levels: both accept */
}

/* ---- random documents */

static unsigned g_seed = 12345;
static unsigned rnd(void) {
    g_seed = g_seed * 1103515245u + 12345u;
    return (g_seed >> 8) & 0xffffff;
}

static json_t *rnd_string(void) {
    static const char *const parts[] = {"a",
                                        "Z",
                                        " ",
                                        "\"",
                                        "\\",
                                        "/",
                                        "\n",
                                        "\t",
                                        "\x01",
                                        "\x1f",
                                        "\x7f",
                                        "\xc3\xa9",
                                        "\xe2\x80\xae",
                                        "\xf0\x9f\x98\x80",
                                        "\xe6\x9d\xb1",
                                        "'",
                                        "<",
                                        "\xc2\x80"};
    char buf[256] = "";
    int n = (int)(rnd() % 12);
    for (int i = 0; i < n; i++)
        strcat(buf, parts[rnd() % (sizeof parts / sizeof parts[0])]);
    return json_string(buf);
}

static json_t *rnd_value(int depth) {
    unsigned k = rnd() % (depth > 4 ? 6 : 8);
    switch (k) {
    case 0:
        return json_true();
    case 1:
        return json_null();
    case 2:
        return rnd_string();
    case 3:
        return json_integer((json_int_t)rnd() - 8000000);
    case 4:
        return json_real(((double)rnd() - 8000000.0) / (double)(1 + rnd() % 1000));
    case 5:
        return json_real((double)rnd() * 1e300 * (rnd() % 2 ? 1 : 1e-300));
    case 6: {
        json_t *a = json_array();
        int n = (int)(rnd() % 5);
        for (int i = 0; i < n; i++)
            json_array_append_new(a, rnd_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        int n = (int)(rnd() % 5);
        for (int i = 0; i < n; i++) {
            json_t *key = rnd_string();
            json_object_set_new(o, json_string_value(key), rnd_value(depth + 1));
            json_decref(key);
        }
        return o;
    }
    }
}

static void test_random(void) {
    static const size_t styles[] = {0, JSON_ENSURE_ASCII, JSON_INDENT(2),
                                    JSON_INDENT(1) | JSON_ENSURE_ASCII, JSON_COMPACT};
    int bad = 0;
    for (int i = 0; i < 3000 && bad < 5; i++) {
        json_t *v = rnd_value(0);
        for (size_t s = 0; s < sizeof styles / sizeof styles[0]; s++) {
            char *text = json_dumps(v, styles[s] | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
            if (text && !same_as_jansson(text, strlen(text))) bad++;
            free(text);
        }
        json_decref(v);
    }
    CHECK_EQ_INT(bad, 0);
}

/* jsonx_dump writes every tree itself (not through json_dumps): the same bytes as jansson's
 * compact dump for random trees (escapes, UTF-8, integers, reals, nesting, empty containers). */
static void test_dump_is_janssons(void) {
    int bad = 0;
    for (int i = 0; i < 3000 && bad < 5; i++) {
        json_t *v = rnd_value(0);
        char *want = json_dumps(v, FLAGS), *got = jsonx_dump(v);
        if (!want || !got || strcmp(want, got) != 0) {
            fprintf(stdout, "#   jansson %s\n#   dump    %s\n", want ? want : "(null)",
                    got ? got : "(null)");
            bad++;
        }
        free(want);
        free(got);
        json_decref(v);
    }
    CHECK_EQ_INT(bad, 0);
}

/* A page envelope holding raw items prints like the same envelope holding the parsed items
 * (jsonx_materialize), which prints like jansson; materialize leaves no raw value behind. */
static json_t *make_page(void) {
    err_t e = {0};
    const char *docs[] = {"{\"id\": \"1\", \"name\": \"Zo\xc3\xab\", \"lat\": 51.5074}",
                          "{\"id\": \"2\", \"tags\": [\"a\", \"\\u0007\"]}", "[1, 2.50]", "null"};
    json_t *items = json_array();
    for (int i = 0; i < 4; i++) {
        json_t *r = jsonx_raw(docs[i], strlen(docs[i]), &e);
        if (!r || !jsonx_is_raw(r)) return NULL;
        json_array_append_new(items, r);
    }
    return json_pack("{s:o, s:[s, s], s:n, s:f, s:I, s:s, s:o}", "items", items, "cursors", "c1",
                     "c\xc3\xa9\"2", "next_cursor", "real", 0.1, "int", (json_int_t)-7, "q",
                     "\x01\t", "one", jsonx_raw("{\"a\": 1}", 8, &e));
}

static void test_splice(void) {
    err_t e = {0};
    json_t *page = make_page();
    REQUIRE(page != NULL);
    char *spliced = jsonx_dump(page);
    json_t *parsed = jsonx_materialize(make_page());
    REQUIRE(parsed != NULL);
    CHECK(!jsonx_is_raw(json_array_get(json_object_get(parsed, "items"), 0)));
    CHECK_STR(json_string_value(
                  json_object_get(json_array_get(json_object_get(parsed, "items"), 0), "name")),
              "Zo\xc3\xab");
    CHECK(json_is_null(json_array_get(json_object_get(parsed, "items"), 3)));
    char *plain = json_dumps(parsed, FLAGS);
    CHECK_STR(spliced, plain);
    char *again = jsonx_dump(parsed); /* no raw value left */
    CHECK_STR(again, plain);
    free(spliced), free(plain), free(again);
    json_decref(parsed);
    /* a raw top-level value */
    json_t *one = jsonx_raw(" {\"b\" : [ ] } ", 14, &e);
    char *s = jsonx_dump(one);
    CHECK_STR(s, "{\"b\":[]}");
    free(s);
    one = jsonx_materialize(one);
    CHECK(json_is_array(json_object_get(one, "b")));
    json_decref(one);
    json_decref(page);
}

/* Nothing parsed can pose as a raw value: the key starts with a NUL byte. */
static void test_no_injection(void) {
    json_t *v = json_loads("{\"jsonx-raw\":\"]\"}", 0, NULL);
    REQUIRE(v != NULL);
    CHECK(!jsonx_is_raw(v));
    char *s = jsonx_dump(v);
    CHECK_STR(s, "{\"jsonx-raw\":\"]\"}");
    free(s);
    json_decref(v);
    CHECK(json_loads("{\"\\u0000jsonx-raw\":\"]\"}", 0, NULL) == NULL);
    json_t *body = NULL;
    err_t e = {0};
    CHECK_EQ_INT(jsonx_parse_object("{\"\\u0000jsonx-raw\":\"]\"}", 22, &body, &e), -1);
    CHECK(jsonx_raw_text(NULL, NULL) == NULL);
    CHECK(!jsonx_is_raw(NULL));
    CHECK(jsonx_materialize(NULL) == NULL);
}

int main(void) {
    RUN(test_fixed);
    RUN(test_random);
    RUN(test_dump_is_janssons);
    RUN(test_splice);
    RUN(test_no_injection);
    TEST_DONE();
}
