/* test_json: strict body parsing, field validators (codes, fields, messages), format checks and
 * base64url. Needs no database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "test.h"

static int parse(const char *s, json_t **out, err_t *e) {
    err_clear(e);
    return jsonx_parse_object(s, strlen(s), out, e);
}

/* Parses `s`, expecting failure with 400 invalid_json; returns the message for further checks. */
static const char *parse_fails(const char *s, err_t *e) {
    json_t *v = NULL;
    int rc = parse(s, &v, e);
    if (rc != -1 || v != NULL) {
        fprintf(stdout, "#   expected parse failure for: %s\n", s);
        json_decref(v);
        return NULL;
    }
    if (e->status != 400 || strcmp(e->code, "invalid_json") != 0 || strcmp(e->field, "body") != 0) {
        fprintf(stdout, "#   wrong error %d %s for: %s\n", e->status, e->code, s);
        return NULL;
    }
    return e->message;
}

static void test_parse_ok(void) {
    json_t *v = NULL;
    err_t e;
    CHECK_EQ_INT(parse("{\"a\":1,\"b\":[true,null,\"x\"],\"c\":{\"d\":\"\\u00e9\"}}", &v, &e), 0);
    REQUIRE(v != NULL);
    CHECK(json_is_object(v));
    CHECK_STR(json_string_value(json_object_get(json_object_get(v, "c"), "d")), "\xc3\xa9");
    json_decref(v);
    CHECK_EQ_INT(parse("  {}  \n", &v, &e), 0);
    json_decref(v);
    /* length is honoured: bytes after len are not read */
    const char *s = "{\"a\":1}garbage";
    CHECK_EQ_INT(jsonx_parse_object(s, 7, &v, &e), 0);
    json_decref(v);
}

static void test_parse_rejects(void) {
    err_t e;
    const char *m;
    CHECK((m = parse_fails("{\"a\":1,\"a\":2}", &e)) != NULL);            /* duplicate key */
    CHECK((m = parse_fails("{\"a\":1} x", &e)) != NULL);                  /* trailing garbage */
    CHECK((m = parse_fails("{\"a\":1}{}", &e)) != NULL);                  /* two values */
    CHECK((m = parse_fails("{\"a\":\"\xff\"}", &e)) != NULL);             /* invalid UTF-8 */
    CHECK((m = parse_fails("{\"a\":\"\xc0\xaf\"}", &e)) != NULL);         /* overlong */
    CHECK((m = parse_fails("{\"a\":\"\xed\xa0\x80\"}", &e)) != NULL);     /* surrogate */
    CHECK((m = parse_fails("{\"a\":\"x\\u0000y\"}", &e)) != NULL);        /* \u0000 */
    CHECK((m = parse_fails("{\"a\":\"\\ud800\"}", &e)) != NULL);          /* lone surrogate */
    CHECK((m = parse_fails("{\"a\":1,}", &e)) != NULL);                   /* trailing comma */
    CHECK((m = parse_fails("{'a':1}", &e)) != NULL);                      /* single quotes */
    CHECK((m = parse_fails("{\"a\":NaN}", &e)) != NULL);                  /* NaN */
    CHECK((m = parse_fails("{\"a\":99999999999999999999}", &e)) != NULL); /* int overflow */
    CHECK((m = parse_fails("{\"a\":\"tab\there\"}", &e)) != NULL);        /* raw control char */
    CHECK((m = parse_fails("", &e)) != NULL);
    CHECK((m = parse_fails("   ", &e)) != NULL);

    /* line/column in the message, and the input is not echoed */
    m = parse_fails("{\n  \"password\": \"hunter2\n}", &e);
    REQUIRE(m != NULL);
    CHECK(strstr(m, "line 2") != NULL);
    CHECK(strstr(m, "column") != NULL);
    CHECK(strstr(m, "hunter2") == NULL);
    CHECK_STR(e.field, "body");

    /* non-object top level */
    const char *tops[] = {"[]", "[1,2]", "\"str\"", "1", "true", "null", NULL};
    for (int i = 0; tops[i]; i++) {
        m = parse_fails(tops[i], &e);
        CHECK(m != NULL);
        if (m) CHECK_STR(m, "body must be a JSON object");
    }
    json_t *v = (json_t *)1;
    CHECK_EQ_INT(jsonx_parse_object(NULL, 0, &v, &e), -1);
    CHECK(v == NULL);
}

/* {"a":{"a":{...}}} with `depth` objects */
static char *nested_objects(int depth) {
    char *s = malloc((size_t)depth * 6 + 8);
    size_t o = 0;
    for (int i = 1; i < depth; i++) {
        memcpy(s + o, "{\"a\":", 5);
        o += 5;
    }
    s[o++] = '{';
    for (int i = 0; i < depth; i++)
        s[o++] = '}';
    s[o] = '\0';
    return s;
}

/* {"a":[[[...]]]} with 1 object and depth-1 arrays */
static char *nested_arrays(int depth) {
    char *s = malloc((size_t)depth * 2 + 16);
    size_t o = 0;
    memcpy(s, "{\"a\":", 5);
    o = 5;
    for (int i = 1; i < depth; i++)
        s[o++] = '[';
    for (int i = 1; i < depth; i++)
        s[o++] = ']';
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

static void test_depth_limit(void) {
    err_t e;
    json_t *v = NULL;
    for (int kind = 0; kind < 2; kind++) {
        char *ok = kind ? nested_arrays(32) : nested_objects(32);
        CHECK_EQ_INT(parse(ok, &v, &e), 0);
        json_decref(v);
        v = NULL;
        free(ok);
        char *deep = kind ? nested_arrays(33) : nested_objects(33);
        const char *m = parse_fails(deep, &e);
        CHECK(m != NULL && strstr(m, "32") != NULL);
        free(deep);
    }
    /* brackets inside strings do not count, escaped quotes do not end the string */
    char buf[512] = "{\"s\":\"";
    for (int i = 0; i < 100; i++)
        strcat(buf, "[{");
    strcat(buf, "\\\"\"}");
    CHECK_EQ_INT(parse(buf, &v, &e), 0);
    json_decref(v);
    /* very deep input is refused by the pre-scan, before jansson recurses */
    size_t n = 200000;
    char *huge = malloc(n + 2);
    huge[0] = '{';
    memset(huge + 1, '[', n);
    huge[n + 1] = '\0';
    CHECK(parse_fails(huge, &e) != NULL);
    free(huge);
}

static void test_dump(void) {
    err_t e;
    json_t *v = NULL;
    int rc = parse("{ \"z\": 1, \"a\": [1, 2], \"m\": \"\\\"q\\\"\" }", &v, &e);
    REQUIRE(rc == 0); /* REQUIRE evaluates its argument twice */
    char *s = jsonx_dump(v);
    CHECK_STR(s, "{\"z\":1,\"a\":[1,2],\"m\":\"\\\"q\\\"\"}");
    free(s);
    json_decref(v);
    json_t *arr = json_pack("[i,s]", 1, "x");
    s = jsonx_dump(arr);
    CHECK_STR(s, "[1,\"x\"]");
    free(s);
    json_decref(arr);
}

#define EXPECT_ERR(call, st, cd, fld)                                                              \
    do {                                                                                           \
        err_clear(&e);                                                                             \
        CHECK_EQ_INT((call), -1);                                                                  \
        CHECK_EQ_INT(e.status, st);                                                                \
        CHECK_STR(e.code, cd);                                                                     \
        CHECK_STR(e.field, fld);                                                                   \
    } while (0)

static void test_string(void) {
    err_t e;
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:n, s:s, s:s, s:s}", "name", "Ann", "num", 5,
                          "empty", "", "accent", "\xc3\xa9\xc3\xa9\xc3\xa9", "nl", "a\nb", "nul",
                          "tab", "a\tb", "del", "a\x7f", "c1", "a\xc2\x85");
    const char *out = "x";
    CHECK_EQ_INT(jsonx_string(o, "name", 1, 1, 10, &out, &e), 0);
    CHECK_STR(out, "Ann");
    CHECK_EQ_INT(jsonx_string(o, "absent", 0, 1, 10, &out, &e), 0);
    CHECK(out == NULL);
    CHECK_EQ_INT(jsonx_string(o, "nul", 0, 1, 10, &out, &e), 0); /* null = absent */
    CHECK(out == NULL);
    EXPECT_ERR(jsonx_string(o, "absent", 1, 1, 10, &out, &e), 400, "missing_field", "absent");
    CHECK_STR(e.message, "absent is required");
    EXPECT_ERR(jsonx_string(o, "nul", 1, 1, 10, &out, &e), 400, "missing_field", "nul");
    EXPECT_ERR(jsonx_string(o, "num", 1, 1, 10, &out, &e), 400, "invalid_type", "num");
    CHECK_STR(e.message, "num must be a string");
    EXPECT_ERR(jsonx_string(o, "empty", 1, 1, 10, &out, &e), 422, "invalid_field", "empty");
    CHECK_STR(e.message, "empty must not be empty");
    EXPECT_ERR(jsonx_string(o, "name", 1, 4, 10, &out, &e), 422, "invalid_field", "name");
    CHECK(strstr(e.message, "from 4 to 10") != NULL);
    /* 3 code points, 6 bytes */
    CHECK_EQ_INT(jsonx_string(o, "accent", 1, 3, 3, &out, &e), 0);
    EXPECT_ERR(jsonx_string(o, "accent", 1, 6, 6, &out, &e), 422, "invalid_field", "accent");
    CHECK_EQ_INT(jsonx_string(o, "accent", 1, 1, 3, &out, &e), 0);
    /* control characters */
    EXPECT_ERR(jsonx_string(o, "nl", 1, 1, 10, &out, &e), 422, "invalid_field", "nl");
    CHECK(strstr(e.message, "control") != NULL);
    EXPECT_ERR(jsonx_string(o, "tab", 1, 1, 10, &out, &e), 422, "invalid_field", "tab");
    EXPECT_ERR(jsonx_string(o, "del", 1, 1, 10, &out, &e), 422, "invalid_field", "del");
    EXPECT_ERR(jsonx_string(o, "c1", 1, 1, 10, &out, &e), 422, "invalid_field", "c1");
    CHECK_EQ_INT(jsonx_text(o, "nl", 1, 1, 10, &out, &e), 0);
    CHECK_STR(out, "a\nb");
    CHECK_EQ_INT(jsonx_text(o, "tab", 1, 1, 10, &out, &e), 0);
    EXPECT_ERR(jsonx_text(o, "del", 1, 1, 10, &out, &e), 422, "invalid_field", "del");
    /* embedded NUL (only possible when built in code, jansson's parser refuses \u0000) */
    json_object_set_new(o, "zero", json_stringn("a\0b", 3));
    EXPECT_ERR(jsonx_string(o, "zero", 1, 1, 10, &out, &e), 422, "invalid_field", "zero");
    EXPECT_ERR(jsonx_text(o, "zero", 1, 1, 10, &out, &e), 422, "invalid_field", "zero");
    /* not an object at all: everything is absent */
    CHECK_EQ_INT(jsonx_string(NULL, "name", 0, 1, 10, &out, &e), 0);
    EXPECT_ERR(jsonx_string(NULL, "name", 1, 1, 10, &out, &e), 400, "missing_field", "name");
    json_decref(o);
}

/* Bidirectional controls (docs/security.md D2): refused in single-line strings (every person
 * and club name), each of the 12 code points, anywhere in the string; lookalike neighbours
 * (U+200D zero-width joiner, U+2028, U+202F, U+2065, U+206A, U+061B) are not. */
static void test_string_bidi(void) {
    static const char *const bidi[] = {"\u202A", "\u202B", "\u202C", "\u202D", "\u202E",
                                       "\u2066", "\u2067", "\u2068", "\u2069", "\u200E",
                                       "\u200F", "\u061C", NULL};
    static const char *const fine[] = {"\u200D", "\u202F", "\u2065", "\u206A",
                                       "\u061B", "\u00E9", NULL};
    err_t e = {0};
    const char *out;
    char doc[128];
    for (int i = 0; bidi[i]; i++) {
        snprintf(doc, sizeof doc, "{\"first_name\":\"Ann%sgnp.exe\",\"t\":\"%sx\"}", bidi[i],
                 bidi[i]);
        json_t *o = json_loads(doc, 0, NULL);
        REQUIRE(o != NULL);
        EXPECT_ERR(jsonx_string(o, "first_name", 1, 1, 100, &out, &e), 422, "invalid_field",
                   "first_name");
        CHECK(strstr(e.message, "bidirectional") != NULL);
        EXPECT_ERR(jsonx_string(o, "t", 1, 1, 100, &out, &e), 422, "invalid_field", "t");
        CHECK_EQ_INT(jsonx_text(o, "t", 1, 1, 100, &out, &e), 0); /* multi-line text: allowed */
        json_decref(o);
    }
    for (int i = 0; fine[i]; i++) {
        snprintf(doc, sizeof doc, "{\"n\":\"a%sb\"}", fine[i]);
        json_t *o = json_loads(doc, 0, NULL);
        REQUIRE(o != NULL);
        CHECK_EQ_INT(jsonx_string(o, "n", 1, 1, 100, &out, &e), 0);
        json_decref(o);
    }
}

static void test_int(void) {
    err_t e;
    json_t *o = json_pack("{s:i, s:s, s:s, s:f, s:b, s:s, s:s, s:s, s:s, s:I, s:s}", "n", 42, "sn",
                          "17", "neg", "-5", "real", 1.0, "b", 1, "junk", "12a", "space", " 12",
                          "plus", "+3", "big", "99999999999999999999", "max",
                          (json_int_t)9223372036854775807LL, "empty", "");
    long long v = 0;
    CHECK_EQ_INT(jsonx_int(o, "n", 1, 0, 100, 0, &v, &e), 0);
    CHECK_EQ_INT(v, 42);
    CHECK_EQ_INT(jsonx_int(o, "sn", 1, 0, 100, 0, &v, &e), 0);
    CHECK_EQ_INT(v, 17);
    CHECK_EQ_INT(jsonx_int(o, "neg", 1, -10, 100, 0, &v, &e), 0);
    CHECK_EQ_INT(v, -5);
    CHECK_EQ_INT(jsonx_int(o, "absent", 0, 0, 100, 25, &v, &e), 0);
    CHECK_EQ_INT(v, 25);
    EXPECT_ERR(jsonx_int(o, "absent", 1, 0, 100, 25, &v, &e), 400, "missing_field", "absent");
    EXPECT_ERR(jsonx_int(o, "n", 1, 0, 10, 0, &v, &e), 422, "invalid_field", "n");
    CHECK_STR(e.message, "n must be an integer from 0 to 10");
    EXPECT_ERR(jsonx_int(o, "neg", 1, 0, 10, 0, &v, &e), 422, "invalid_field", "neg");
    const char *bad[] = {"real", "b", "junk", "space", "plus", "big", "empty", NULL};
    for (int i = 0; bad[i]; i++) {
        EXPECT_ERR(jsonx_int(o, bad[i], 1, 0, 100, 0, &v, &e), 400, "invalid_type", bad[i]);
        CHECK(strstr(e.message, "must be an integer") != NULL);
    }
    CHECK_EQ_INT(jsonx_int(o, "max", 1, 0, 9223372036854775807LL, 0, &v, &e), 0);
    CHECK(v == 9223372036854775807LL);
    long long p = 0;
    CHECK_EQ_INT(jsonx_parse_ll("-9223372036854775808", &p), 0);
    CHECK(p == (-9223372036854775807LL - 1));
    CHECK_EQ_INT(jsonx_parse_ll("9223372036854775808", &p), -1);
    CHECK_EQ_INT(jsonx_parse_ll("-", &p), -1);
    CHECK_EQ_INT(jsonx_parse_ll("0x10", &p), -1);
    CHECK_EQ_INT(jsonx_parse_ll("1 ", &p), -1);
    json_decref(o);
}

static void test_number(void) {
    err_t e;
    json_t *o = json_pack("{s:f, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "r", 1.5, "i", 3, "s",
                          "-2.25", "exp", "1e2", "hex", "0x10", "inf", "inf", "nan", "nan", "dot",
                          "1.", "huge", "1e999");
    double d = -1;
    int present = -1;
    CHECK_EQ_INT(jsonx_number(o, "r", 1, 0, 10, &d, &present, &e), 0);
    CHECK(d == 1.5 && present == 1);
    CHECK_EQ_INT(jsonx_number(o, "i", 1, 0, 10, &d, &present, &e), 0);
    CHECK(d == 3.0);
    CHECK_EQ_INT(jsonx_number(o, "s", 1, -10, 10, &d, &present, &e), 0);
    CHECK(d == -2.25);
    CHECK_EQ_INT(jsonx_number(o, "exp", 1, 0, 1000, &d, NULL, &e), 0);
    CHECK(d == 100.0);
    d = 7;
    CHECK_EQ_INT(jsonx_number(o, "absent", 0, 0, 10, &d, &present, &e), 0);
    CHECK(present == 0 && d == 7);
    EXPECT_ERR(jsonx_number(o, "absent", 1, 0, 10, &d, &present, &e), 400, "missing_field",
               "absent");
    EXPECT_ERR(jsonx_number(o, "r", 1, 2, 10, &d, &present, &e), 422, "invalid_field", "r");
    CHECK_STR(e.message, "r must be a number from 2 to 10");
    CHECK(present == 0);
    const char *bad[] = {"hex", "inf", "nan", "dot", "huge", NULL};
    for (int i = 0; bad[i]; i++)
        EXPECT_ERR(jsonx_number(o, bad[i], 1, -1e300, 1e300, &d, &present, &e), 400, "invalid_type",
                   bad[i]);
    json_decref(o);
}

static void test_bool(void) {
    err_t e;
    json_t *o = json_pack("{s:b, s:b, s:s, s:s, s:i, s:s}", "t", 1, "f", 0, "st", "true", "sf",
                          "false", "one", 1, "yes", "yes");
    int b = -1;
    CHECK_EQ_INT(jsonx_bool(o, "t", 1, 0, &b, &e), 0);
    CHECK_EQ_INT(b, 1);
    CHECK_EQ_INT(jsonx_bool(o, "f", 1, 1, &b, &e), 0);
    CHECK_EQ_INT(b, 0);
    CHECK_EQ_INT(jsonx_bool(o, "st", 1, 0, &b, &e), 0);
    CHECK_EQ_INT(b, 1);
    CHECK_EQ_INT(jsonx_bool(o, "sf", 1, 1, &b, &e), 0);
    CHECK_EQ_INT(b, 0);
    CHECK_EQ_INT(jsonx_bool(o, "absent", 0, 1, &b, &e), 0);
    CHECK_EQ_INT(b, 1);
    EXPECT_ERR(jsonx_bool(o, "absent", 1, 1, &b, &e), 400, "missing_field", "absent");
    EXPECT_ERR(jsonx_bool(o, "one", 1, 1, &b, &e), 400, "invalid_type", "one");
    CHECK_STR(e.message, "one must be true or false");
    EXPECT_ERR(jsonx_bool(o, "yes", 1, 1, &b, &e), 400, "invalid_type", "yes");
    json_decref(o);
}

static void test_enum(void) {
    err_t e;
    static const char *const allowed[] = {"gold", "silver", "bronze", NULL};
    json_t *o = json_pack("{s:s, s:s, s:i}", "tier", "silver", "bad", "Gold", "num", 1);
    const char *out = NULL;
    CHECK_EQ_INT(jsonx_enum(o, "tier", 1, allowed, &out, &e), 0);
    CHECK_STR(out, "silver");
    CHECK(out == allowed[1]); /* points at the static list */
    CHECK_EQ_INT(jsonx_enum(o, "absent", 0, allowed, &out, &e), 0);
    CHECK(out == NULL);
    EXPECT_ERR(jsonx_enum(o, "absent", 1, allowed, &out, &e), 400, "missing_field", "absent");
    EXPECT_ERR(jsonx_enum(o, "bad", 1, allowed, &out, &e), 422, "invalid_field", "bad");
    CHECK_STR(e.message, "bad must be one of: gold, silver, bronze");
    EXPECT_ERR(jsonx_enum(o, "num", 1, allowed, &out, &e), 400, "invalid_type", "num");
    json_decref(o);
}

/* core/err.h's rule: each code has one status, and the helpers fill the field. */
static void test_error_rule(void) {
    err_t e;
    EXPECT_ERR(err_missing(&e, "name"), 400, "missing_field", "name");
    CHECK_STR(e.message, "name is required");
    EXPECT_ERR(err_type(&e, "limit", "%s must be an integer", "limit"), 400, "invalid_type",
               "limit");
    CHECK_STR(e.message, "limit must be an integer");
    EXPECT_ERR(err_invalid(&e, "email", "%s must be an email address", "email"), 422,
               "invalid_field", "email");
    CHECK_STR(e.message, "email must be an email address");
    CHECK_EQ_INT(err_invalid(NULL, "x", "y"), -1);
}

static void test_only_keys(void) {
    err_t e;
    static const char *const known[] = {"name", "address", NULL};
    static const char *const addr_known[] = {"city", NULL};
    json_t *o = json_pack("{s:s, s:{s:s}}", "name", "x", "address", "city", "Paris");
    CHECK_EQ_INT(jsonx_only_keys(o, known, "", &e), 0);
    CHECK_EQ_INT(jsonx_only_keys(json_object_get(o, "address"), addr_known, "address.", &e), 0);
    json_object_set_new(json_object_get(o, "address"), "zip", json_string("1"));
    EXPECT_ERR(jsonx_only_keys(json_object_get(o, "address"), addr_known, "address.", &e), 400,
               "unknown_field", "address.zip");
    CHECK(strstr(e.message, "address.zip") != NULL);
    json_object_set_new(o, "role", json_string("admin"));
    EXPECT_ERR(jsonx_only_keys(o, known, "", &e), 400, "unknown_field", "role");
    EXPECT_ERR(jsonx_only_keys(o, known, NULL, &e), 400, "unknown_field", "role");
    json_decref(o);
}

typedef struct {
    const char *s;
    int want;
} fmt_case_t;

static void run_cases(const char *what, int (*fn)(const char *), const fmt_case_t *c) {
    for (int i = 0; c[i].s; i++) {
        int got = fn(c[i].s);
        if (got != c[i].want) {
            fprintf(stdout, "#   %s(\"%s\") = %d, want %d\n", what, c[i].s, got, c[i].want);
            CHECK(got == c[i].want);
        }
    }
}

static void test_uuid(void) {
    static const fmt_case_t c[] = {
        {"123e4567-e89b-12d3-a456-426614174000", 1},
        {"123E4567-E89B-12D3-A456-426614174000", 1},
        {"00000000-0000-0000-0000-000000000000", 1},
        {"123e4567e89b12d3a456426614174000", 0},
        {"{123e4567-e89b-12d3-a456-426614174000}", 0},
        {"123e4567-e89b-12d3-a456-42661417400", 0},
        {"123e4567-e89b-12d3-a456-4266141740000", 0},
        {"123e4567-e89b-12d3-a456_426614174000", 0},
        {"g23e4567-e89b-12d3-a456-426614174000", 0},
        {"123e4567-e89b-12d3-a456-42661417400 ", 0},
        {"", 0},
        {NULL, 0},
    };
    run_cases("uuid", jsonx_is_uuid, c);
    CHECK_EQ_INT(jsonx_is_uuid(NULL), 0);
}

static void test_email(void) {
    static const fmt_case_t c[] = {
        {"a@b.co", 1},
        {"first.last+tag@example.com", 1},
        {"o'neil@sub.example.org", 1},
        {"x@xn--p1ai.xn--p1ai", 1},
        {"user_1-2@my-domain.co.uk", 1},
        {"a@b", 0},
        {"@b.com", 0},
        {"a@", 0},
        {"a@@b.com", 0},
        {"a@b@c.com", 0},
        {".a@b.com", 0},
        {"a.@b.com", 0},
        {"a..b@c.com", 0},
        {"a b@c.com", 0},
        {"a@b .com", 0},
        {"a@-b.com", 0},
        {"a@b-.com", 0},
        {"a@b..com", 0},
        {"a@.b.com", 0},
        {"a@b.com.", 0},
        {"a@1.2.3.4", 0},
        {"a@[1.2.3.4]", 0},
        {"\"quoted\"@b.com", 0},
        {"a(comment)@b.com", 0},
        {"\xc3\xa9@b.com", 0},
        {"a@b.com\n", 0},
        {"a@b_c.com", 0},
        {"", 0},
        {NULL, 0},
    };
    run_cases("email", jsonx_is_email, c);
    /* local part 64 ok, 65 not; total 254 ok, 255 not */
    char buf[400];
    memset(buf, 'a', 64);
    strcpy(buf + 64, "@b.com");
    CHECK_EQ_INT(jsonx_is_email(buf), 1);
    memset(buf, 'a', 65);
    strcpy(buf + 65, "@b.com");
    CHECK_EQ_INT(jsonx_is_email(buf), 0);
    /* a@ + 4 labels of 61 + "." separators + ".com" -> build exact lengths */
    strcpy(buf, "a@");
    for (int i = 0; i < 4; i++) {
        size_t o = strlen(buf);
        memset(buf + o, 'd', 60);
        buf[o + 60] = '.';
        buf[o + 61] = '\0';
    }
    strcat(buf, "com"); /* 2 + 244 + 3 = 249 */
    CHECK_EQ_INT(strlen(buf), 249);
    CHECK_EQ_INT(jsonx_is_email(buf), 1);
    memmove(buf + 5, buf, strlen(buf) + 1);
    memset(buf, 'a', 6); /* local "aaaaaa"+"a" ... total 254 */
    CHECK_EQ_INT(strlen(buf), 254);
    CHECK_EQ_INT(jsonx_is_email(buf), 1);
    memmove(buf + 1, buf, strlen(buf) + 1);
    CHECK_EQ_INT(strlen(buf), 255);
    CHECK_EQ_INT(jsonx_is_email(buf), 0);
    /* label of 64 */
    memset(buf, 0, sizeof buf);
    strcpy(buf, "a@");
    memset(buf + 2, 'd', 64);
    strcat(buf, ".com");
    CHECK_EQ_INT(jsonx_is_email(buf), 0);
    CHECK_EQ_INT(jsonx_is_email(NULL), 0);
}

static void test_e164(void) {
    static const fmt_case_t c[] = {
        {"+14155552671", 1},
        {"+4420794601", 1},
        {"+1234567", 1},
        {"+123456789012345", 1},
        {"+123456", 0},
        {"+1234567890123456", 0},
        {"14155552671", 0},
        {"+04155552671", 0},
        {"+1 415 555 2671", 0},
        {"+1-415-555-2671", 0},
        {"+", 0},
        {"", 0},
        {"+1415555267a", 0},
        {"++14155552671", 0},
        {NULL, 0},
    };
    run_cases("e164", jsonx_is_e164, c);
    CHECK_EQ_INT(jsonx_is_e164(NULL), 0);
}

static void test_http_url(void) {
    static const fmt_case_t c[] = {
        {"https://example.com", 1},
        {"http://example.com/", 1},
        {"HTTPS://Example.COM/Path?q=1&r=%20#frag", 1},
        {"https://sub.example.co.uk:8443/a/b", 1},
        {"http://localhost:8080", 1},
        {"http://127.0.0.1/x", 1},
        {"http://[::1]:8080/", 1},
        {"https://example.com./", 1},
        {"https://example.com/a(b)/~c", 1},
        {"ftp://example.com", 0},
        {"javascript:alert(1)", 0},
        {"https://", 0},
        {"https:///path", 0},
        {"https://exa mple.com", 0},
        {"https://example.com/a b", 0},
        {"https://example.com/\x01", 0},
        {"https://example.com/\xc3\xa9", 0},
        {"https://example.com/%zz", 0},
        {"https://example.com/%2", 0},
        {"https://user:pass@example.com", 0},
        {"https://bank.example@evil.example/", 0},
        {"https://example.com:0", 0},
        {"https://example.com:65536", 0},
        {"https://example.com:", 0},
        {"https://example.com:80a", 0},
        {"https://-example.com", 0},
        {"https://ex..ample.com", 0},
        {"https://[::1", 0},
        {"https://[zz::1]/", 0},
        {"https://[::1]x/", 0},
        {"https://example.com/<script>", 0},
        {"https://example.com\\@evil.com", 0},
        {"https://999.1.1.1/", 0},
        {" https://example.com", 0},
        {"", 0},
        {NULL, 0},
    };
    run_cases("http_url", jsonx_is_http_url, c);
    char *big = malloc(2100);
    strcpy(big, "https://example.com/");
    size_t o = strlen(big);
    memset(big + o, 'a', 2048 - o);
    big[2048] = '\0';
    CHECK_EQ_INT(jsonx_is_http_url(big), 1);
    big[2048] = 'a';
    big[2049] = '\0';
    CHECK_EQ_INT(jsonx_is_http_url(big), 0);
    free(big);
    CHECK_EQ_INT(jsonx_is_http_url(NULL), 0);
}

static void test_b64url(void) {
    /* RFC 4648 vectors, without padding, url alphabet */
    static const struct {
        const char *in, *out;
    } v[] = {{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
             {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {NULL, NULL}};
    for (int i = 0; v[i].in; i++) {
        char *enc = jsonx_b64url_encode((const unsigned char *)v[i].in, strlen(v[i].in));
        CHECK_STR(enc, v[i].out);
        size_t n = 99;
        unsigned char *dec = jsonx_b64url_decode(v[i].out, &n);
        CHECK(dec != NULL);
        if (dec) {
            CHECK_EQ_INT(n, strlen(v[i].in));
            CHECK(memcmp(dec, v[i].in, n) == 0);
        }
        free(enc);
        free(dec);
    }
    /* url alphabet: 0xfb 0xff -> "-_8" */
    unsigned char bytes[] = {0xfb, 0xff};
    char *enc = jsonx_b64url_encode(bytes, 2);
    CHECK_STR(enc, "-_8");
    free(enc);
    /* round trip all lengths 0..300 of all byte values */
    unsigned char data[300];
    for (int i = 0; i < 300; i++)
        data[i] = (unsigned char)(i * 37 + 11);
    int bad = 0;
    for (size_t len = 0; len <= sizeof data; len++) {
        char *s = jsonx_b64url_encode(data, len);
        size_t n = 0;
        unsigned char *d = s ? jsonx_b64url_decode(s, &n) : NULL;
        if (!s || !d || n != len || memcmp(d, data, len) != 0 || strchr(s, '=') || strchr(s, '+') ||
            strchr(s, '/'))
            bad++;
        free(s);
        free(d);
    }
    CHECK_EQ_INT(bad, 0);
    /* invalid input */
    const char *invalid[] = {"Zg==",  "Zm8=", "Z",   "Zm9vY",  "Zm+v",  "Zm/v", "Zm9v\n",
                             " Zm9v", "Zh",   "Zm9", "Zm9vYh", "Zm9v!", NULL};
    /* "Zh": unused bits set (non-canonical form of "Zg"); "Zm9" canonical is "Zm8" */
    for (int i = 0; invalid[i]; i++) {
        size_t n;
        unsigned char *d = jsonx_b64url_decode(invalid[i], &n);
        if (d) fprintf(stdout, "#   decode accepted \"%s\"\n", invalid[i]);
        CHECK(d == NULL);
        free(d);
    }
    CHECK(jsonx_b64url_decode(NULL, NULL) == NULL);
}

/* jsonx_uuid / jsonx_date: the one reference and date validators (lower-cased uuid back in the
 * object; 400 for a wrong type or an absent required field, 422 naming the field otherwise). */
static void test_uuid_date_fields(void) {
    err_t e = {0};
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "id",
                          "123E4567-E89B-12D3-A456-426614174000", "bad", "123e4567", "num", 7,
                          "day", "2024-02-29", "feb", "2023-02-29", "short", "2024-2-1");
    CHECK_EQ_INT(jsonx_uuid(o, "id", 1, &e), 0);
    CHECK_STR(json_string_value(json_object_get(o, "id")), "123e4567-e89b-12d3-a456-426614174000");
    CHECK_EQ_INT(jsonx_uuid(o, "absent", 0, &e), 0);
    CHECK(json_object_get(o, "absent") == NULL);
    CHECK_EQ_INT(jsonx_uuid(o, "absent", 1, &e), -1);
    CHECK_EQ_INT(e.status, 400);
    CHECK_EQ_INT(jsonx_uuid(o, "num", 1, &e), -1);
    CHECK_EQ_INT(e.status, 400);
    CHECK_EQ_INT(jsonx_uuid(o, "bad", 1, &e), -1);
    CHECK_EQ_INT(e.status, 422);
    CHECK_STR(e.field, "bad");
    CHECK_STR(e.message, "bad must be a uuid");
    CHECK_EQ_INT(jsonx_date(o, "day", 1, &e), 0);
    CHECK_EQ_INT(jsonx_date(o, "absent", 0, &e), 0);
    CHECK_EQ_INT(jsonx_date(o, "feb", 1, &e), -1);
    CHECK_EQ_INT(e.status, 422);
    CHECK_STR(e.message, "feb must be a date YYYY-MM-DD");
    CHECK_EQ_INT(jsonx_date(o, "short", 1, &e), -1);
    CHECK_EQ_INT(e.status, 422);
    CHECK_STR(e.message, "short must be a date");
    CHECK_EQ_INT(jsonx_date(o, "num", 1, &e), -1);
    CHECK_EQ_INT(e.status, 400);
    CHECK_EQ_INT(jsonx_ref(o, "id", 1, "no such thing", &e), 0);
    CHECK_EQ_INT(jsonx_ref(o, "absent", 0, "no such thing", &e), 0);
    CHECK_EQ_INT(jsonx_ref(o, "bad", 1, "no such thing", &e), -1);
    CHECK_EQ_INT(e.status, 404);
    CHECK_STR(e.code, "not_found");
    CHECK_STR(e.field, "bad");
    CHECK_STR(e.message, "no such thing");
    CHECK_EQ_INT(jsonx_ref(o, "num", 1, "no such thing", &e), -1);
    CHECK_EQ_INT(e.status, 400);
    CHECK(jsonx_is_timestamp("2030-01-01T00:00:00Z") &&
          jsonx_is_timestamp("2030-01-01T00:00:00.123+02:00") &&
          !jsonx_is_timestamp("2030-01-01 00:00:00") && !jsonx_is_timestamp("2030-01-01T00:00") &&
          !jsonx_is_timestamp("2030-01-01T00:00:00 UTC") && !jsonx_is_timestamp(NULL));
    CHECK(jsonx_is_date("2000-02-29") && !jsonx_is_date("1900-02-29") &&
          !jsonx_is_date("1899-12-31") && !jsonx_is_date("2024-13-01") &&
          !jsonx_is_date("2024-04-31") && !jsonx_is_date(NULL));
    json_decref(o);
}

int main(void) {
    RUN(test_parse_ok);
    RUN(test_parse_rejects);
    RUN(test_depth_limit);
    RUN(test_dump);
    RUN(test_string);
    RUN(test_string_bidi);
    RUN(test_int);
    RUN(test_number);
    RUN(test_bool);
    RUN(test_enum);
    RUN(test_error_rule);
    RUN(test_only_keys);
    RUN(test_uuid);
    RUN(test_uuid_date_fields);
    RUN(test_email);
    RUN(test_e164);
    RUN(test_http_url);
    RUN(test_b64url);
    TEST_DONE();
}
