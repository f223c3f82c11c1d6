/* test_gql_parser: the GraphQL lexer, parser and printer (src/gateway/graphql).
 * graphql-js 16.15.0 is the oracle: tests/lib/graphql/fixtures/gql_parser_cases.json holds, for
 * every case, graphql-js's syntax error (message, line, column) or its AST (canonical dump with
 * every node's line:column) and print() output; gen_gql_fixtures.js beside it regenerates them.
 * Needs no database; reads fixtures from $RECIPROCAL_TEST_ROOT (or the current directory). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/graphql/gql_arena.h"
#include "lib/graphql/gql_ast.h"
#include "lib/graphql/gql_lexer.h"
#include "lib/graphql/gql_parser.h"
#include "lib/graphql/gql_print.h"
#include "test.h"

static char *fixture_path(const char *name) {
    const char *root = getenv("RECIPROCAL_TEST_ROOT");
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/tests/lib/graphql/fixtures/%s", root && *root ? root : ".", name);
    return buf;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    *len = n;
    return buf;
}

/* ---- helpers ---- */

typedef struct lexed {
    gql_arena arena;
    gql_lexer lx;
    err_t e;
} lexed;

/* Lexes src into toks (max n); returns the count (EOF included) or -1 on error. */
static int lex_all(lexed *L, const char *src, size_t len, gql_token *toks, int n) {
    gql_arena_init(&L->arena, 0);
    err_clear(&L->e);
    if (gql_lex_init(&L->lx, src, len, NULL, &L->arena, &L->e)) return -1;
    for (int i = 0; i < n; i++) {
        if (gql_lex_next(&L->lx, &toks[i], &L->e)) return -1;
        if (toks[i].kind == GQL_TOK_EOF) return i + 1;
    }
    return n;
}

/* The value of the single string token in src, or NULL with the error message in *msg. */
static int lex_one_string(const char *src, char *out, size_t cap, size_t *out_len, char *msg,
                          size_t msgcap, uint32_t *col) {
    lexed L;
    gql_token t[3];
    int n = lex_all(&L, src, strlen(src), t, 3);
    int rc = -1;
    if (n < 0) {
        snprintf(msg, msgcap, "%s", L.e.message);
        if (col) *col = L.lx.err_column;
    } else if (n == 2 && (t[0].kind == GQL_TOK_STRING || t[0].kind == GQL_TOK_BLOCK_STRING) &&
               t[0].value_len < cap) {
        memcpy(out, t[0].value, t[0].value_len);
        out[t[0].value_len] = '\0';
        *out_len = t[0].value_len;
        rc = 0;
    } else {
        snprintf(msg, msgcap, "not one string token");
    }
    gql_arena_free(&L.arena);
    return rc;
}

static int str_value_is(const char *src, const char *expect, size_t expect_len) {
    char out[256], msg[400];
    size_t n = 0;
    if (lex_one_string(src, out, sizeof out, &n, msg, sizeof msg, NULL)) {
        printf("#   %s: %s\n", src, msg);
        return 0;
    }
    if (n != expect_len || memcmp(out, expect, n) != 0) {
        printf("#   %s: got \"%s\" (%zu bytes)\n", src, out, n);
        return 0;
    }
    return 1;
}

static int lex_error_is(const char *src, size_t len, const char *message, uint32_t line,
                        uint32_t column) {
    lexed L;
    gql_token t[64];
    int n = lex_all(&L, src, len, t, 64);
    gql_arena_free(&L.arena);
    if (n >= 0) {
        printf("#   %s: lexed without error\n", src);
        return 0;
    }
    if (strcmp(L.e.message, message) != 0 || L.lx.err_line != line || L.lx.err_column != column) {
        printf("#   %s: got %u:%u %s\n", src, L.lx.err_line, L.lx.err_column, L.e.message);
        return 0;
    }
    return L.e.status == 400 && strcmp(L.e.code, "graphql_syntax") == 0;
}

static int parse_error_is(const char *src, size_t len, const gql_parse_opts *o, const char *message,
                          uint32_t line, uint32_t column) {
    err_t e;
    gql_loc loc;
    gql_document *d = gql_parse(src, len, o, &loc, &e);
    if (d) {
        gql_document_free(d);
        printf("#   parsed without error\n");
        return 0;
    }
    if (strcmp(e.message, message) != 0 || loc.line != line || loc.column != column) {
        printf("#   got %u:%u %s\n", loc.line, loc.column, e.message);
        return 0;
    }
    return 1;
}

/* ---- lexer ---- */

static void test_lexer_token_kinds(void) {
    const char *src =
        "! $ & ( ) ... : = @ [ ] { | } name _x9 0 -12 3.5 -1e3 \"s\" \"\"\"b\"\"\" #c\n";
    static const gql_token_kind want[] = {
        GQL_TOK_BANG,    GQL_TOK_DOLLAR,       GQL_TOK_AMP,       GQL_TOK_PAREN_L,
        GQL_TOK_PAREN_R, GQL_TOK_SPREAD,       GQL_TOK_COLON,     GQL_TOK_EQUALS,
        GQL_TOK_AT,      GQL_TOK_BRACKET_L,    GQL_TOK_BRACKET_R, GQL_TOK_BRACE_L,
        GQL_TOK_PIPE,    GQL_TOK_BRACE_R,      GQL_TOK_NAME,      GQL_TOK_NAME,
        GQL_TOK_INT,     GQL_TOK_INT,          GQL_TOK_FLOAT,     GQL_TOK_FLOAT,
        GQL_TOK_STRING,  GQL_TOK_BLOCK_STRING, GQL_TOK_COMMENT,   GQL_TOK_EOF,
    };
    static const char *const values[] = {NULL, NULL,  NULL,  NULL,   NULL, NULL, NULL,   NULL,
                                         NULL, NULL,  NULL,  NULL,   NULL, NULL, "name", "_x9",
                                         "0",  "-12", "3.5", "-1e3", "s",  "b",  "c",    NULL};
    lexed L;
    gql_token t[40];
    int n = lex_all(&L, src, strlen(src), t, 40);
    CHECK_EQ_INT(n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < n && i < (int)(sizeof want / sizeof want[0]); i++) {
        CHECK_EQ_INT(t[i].kind, want[i]);
        if (values[i]) {
            CHECK(t[i].value && t[i].value_len == strlen(values[i]) &&
                  memcmp(t[i].value, values[i], t[i].value_len) == 0);
        } else {
            CHECK(t[i].value == NULL);
        }
    }
    /* positions: "..." starts at byte 10, column 11; the comment's token ends the line */
    CHECK_EQ_INT(t[5].start, 10);
    CHECK_EQ_INT(t[5].end, 13);
    CHECK_EQ_INT(t[5].column, 11);
    CHECK_EQ_INT(t[n - 1].line, 2);
    CHECK_EQ_INT(t[n - 1].column, 1);
    CHECK_STR(gql_lex_kind_name(GQL_TOK_BLOCK_STRING), "BlockString");
    CHECK_STR(gql_lex_kind_name(GQL_TOK_EOF), "<EOF>");
    /* EOF repeats */
    gql_token again;
    CHECK_EQ_INT(gql_lex_next(&L.lx, &again, &L.e), 0);
    CHECK_EQ_INT(again.kind, GQL_TOK_EOF);
    gql_arena_free(&L.arena);
}

static void test_lexer_ignored_and_locations(void) {
    /* BOM, tabs, commas, CR, CRLF, LF; columns count UTF-16 units (U+1F600 counts 2) */
    const char *src = "\xEF\xBB\xBF a,\tb\r c\r\n  d\n\"\xF0\x9F\x98\x80\xC3\xA9\" e";
    lexed L;
    gql_token t[10];
    int n = lex_all(&L, src, strlen(src), t, 10);
    REQUIRE(n == 7);
    CHECK_EQ_INT(t[0].line, 1); /* a after BOM (one UTF-16 unit) and a space */
    CHECK_EQ_INT(t[0].column, 3);
    CHECK_EQ_INT(t[1].column, 6); /* b after ",\t" */
    CHECK_EQ_INT(t[2].line, 2);
    CHECK_EQ_INT(t[2].column, 2);
    CHECK_EQ_INT(t[3].line, 3);
    CHECK_EQ_INT(t[3].column, 3);
    CHECK_EQ_INT(t[4].line, 4);
    CHECK_EQ_INT(t[4].column, 1);
    CHECK_EQ_INT(t[5].line, 4);
    CHECK_EQ_INT(t[5].column, 7); /* '"' + 2 units + 1 unit + '"' + ' ' */
    CHECK_EQ_INT(t[6].kind, GQL_TOK_EOF);
    gql_arena_free(&L.arena);
    /* a block string spanning lines moves the line counter */
    const char *b = "\"\"\"a\r\nb\rc\n\"\"\" x";
    n = lex_all(&L, b, strlen(b), t, 10);
    REQUIRE(n == 3);
    CHECK_EQ_INT(t[1].line, 4);
    CHECK_EQ_INT(t[1].column, 5);
    gql_arena_free(&L.arena);
    /* gql_lex_location agrees with the tokens */
    uint32_t line, col;
    gql_lex_location(src, strlen(src), (size_t)(strstr(src, "e") - src), &line, &col);
    CHECK_EQ_INT(line, 4);
    CHECK_EQ_INT(col, 7);
}

static void test_lexer_escapes(void) {
    CHECK(str_value_is("\"\\\"\"", "\"", 1));
    CHECK(str_value_is("\"\\\\\"", "\\", 1));
    CHECK(str_value_is("\"\\/\"", "/", 1));
    CHECK(str_value_is("\"\\b\"", "\b", 1));
    CHECK(str_value_is("\"\\f\"", "\f", 1));
    CHECK(str_value_is("\"\\n\"", "\n", 1));
    CHECK(str_value_is("\"\\r\"", "\r", 1));
    CHECK(str_value_is("\"\\t\"", "\t", 1));
    CHECK(str_value_is("\"\\u0041\"", "A", 1));
    CHECK(str_value_is("\"\\u00e9\"", "\xC3\xA9", 2));
    CHECK(str_value_is("\"\\u20AC\"", "\xE2\x82\xAC", 3));
    CHECK(str_value_is("\"\\uFFFF\"", "\xEF\xBF\xBF", 3));
    CHECK(str_value_is("\"\\u0000x\"", "\0x", 2));
    CHECK(str_value_is("\"\\uD83D\\uDE00\"", "\xF0\x9F\x98\x80", 4));
    CHECK(str_value_is("\"\\udbff\\udfff\"", "\xF4\x8F\xBF\xBF", 4));
    CHECK(str_value_is("\"\\u{1F600}\"", "\xF0\x9F\x98\x80", 4));
    CHECK(str_value_is("\"\\u{0}\"", "\0", 1));
    CHECK(str_value_is("\"\\u{10FFFF}\"", "\xF4\x8F\xBF\xBF", 4));
    CHECK(str_value_is("\"\\u{00000041}\"", "A", 1));
    CHECK(str_value_is("\"raw \xC3\xA9 \xF0\x9F\x98\x80\"", "raw \xC3\xA9 \xF0\x9F\x98\x80", 11));
    CHECK(str_value_is("\"ctl \x01\x7F\"", "ctl \x01\x7F", 6));
    CHECK(str_value_is("\"\"", "", 0));
}

static void test_lexer_bad_escapes(void) {
#define LE(src, msg, col) CHECK(lex_error_is(src, strlen(src), "Syntax Error: " msg, 1, col))
    LE("\"\\x\"", "Invalid character escape sequence: \"\\x\".", 2);
    LE("\"\\\xC3\xA9\"", "Invalid character escape sequence: \"\\\xC3\xA9\".", 2);
    LE("\"\\", "Invalid character escape sequence: \"\\\".", 2);
    LE("\"\\u12\"", "Invalid Unicode escape sequence: \"\\u12\"\".", 2);
    LE("\"\\u12G4\"", "Invalid Unicode escape sequence: \"\\u12G4\".", 2);
    LE("\"\\uD800\"", "Invalid Unicode escape sequence: \"\\uD800\".", 2);
    LE("\"\\uDC00\"", "Invalid Unicode escape sequence: \"\\uDC00\".", 2);
    LE("\"\\uD800\\u0041\"", "Invalid Unicode escape sequence: \"\\uD800\".", 2);
    LE("\"\\uD800\\uD800\"", "Invalid Unicode escape sequence: \"\\uD800\".", 2);
    LE("\"x\\uDE00\\uD83D\"", "Invalid Unicode escape sequence: \"\\uDE00\".", 3);
    LE("\"\\u{}\"", "Invalid Unicode escape sequence: \"\\u{}\".", 2);
    LE("\"\\u{110000}\"", "Invalid Unicode escape sequence: \"\\u{110000}\".", 2);
    LE("\"\\u{DFFF}\"", "Invalid Unicode escape sequence: \"\\u{DFFF}\".", 2);
    LE("\"\\u{000000041}\"", "Invalid Unicode escape sequence: \"\\u{000000041\".", 2);
    LE("\"\\u{FFFFFFFF}\"", "Invalid Unicode escape sequence: \"\\u{FFFFFFFF\".", 2);
    LE("\"\\u{12", "Invalid Unicode escape sequence: \"\\u{12\".", 2);
    /* raw lone surrogates (CESU-style bytes) and malformed UTF-8 */
    LE("\"\xED\xA0\x80\"", "Invalid character within String: U+D800.", 2);
    LE("\"\"\"\xED\xBF\xBF\"\"\"", "Invalid character within String: U+DFFF.", 4);
    LE("\"\xFF\"", "Invalid character within String: invalid UTF-8 byte 0xFF.", 2);
    LE("\"\xC3\"", "Invalid character within String: invalid UTF-8 byte 0xC3.", 2);
    LE("\"\xC0\x80\"", "Invalid character within String: invalid UTF-8 byte 0xC0.", 2);
    LE("\"\xE0\x80\x80\"", "Invalid character within String: invalid UTF-8 byte 0xE0.", 2);
    LE("\"\xF4\x90\x80\x80\"", "Invalid character within String: invalid UTF-8 byte 0xF4.", 2);
    LE("\xED\xA0\x80", "Invalid character: U+D800.", 1);
    LE("\x80", "Invalid character: invalid UTF-8 byte 0x80.", 1);
    LE("# comment \xED\xA0\x80", "Invalid character: U+D800.", 11);
    LE("# comment \xFE", "Invalid character: invalid UTF-8 byte 0xFE.", 11);
    LE("\"abc", "Unterminated string.", 5);
    LE("\"abc\ndef\"", "Unterminated string.", 5);
    LE("\"\"\"abc\"\"", "Unterminated string.", 9);
    LE("'x'", "Unexpected single quote character ('), did you mean to use a double quote (\")?", 1);
    LE("\xC2\xA0", "Unexpected character: U+00A0.", 1);
    LE("\xF0\x9F\x98\x80", "Unexpected character: U+1F600.", 1);
    LE("\x01", "Unexpected character: U+0001.", 1);
    LE("?", "Unexpected character: \"?\".", 1);
    LE(".", "Unexpected character: \".\".", 1);
    LE("..", "Unexpected character: \".\".", 1);
    /* NUL outside a string */
    CHECK(lex_error_is("a \0", 3, "Syntax Error: Unexpected character: U+0000.", 1, 3));
#undef LE
}

static void test_lexer_numbers(void) {
    static const struct {
        const char *src;
        gql_token_kind kind;
    } good[] = {
        {"0", GQL_TOK_INT},          {"-0", GQL_TOK_INT},       {"9", GQL_TOK_INT},
        {"1234567890", GQL_TOK_INT}, {"-42", GQL_TOK_INT},      {"0.0", GQL_TOK_FLOAT},
        {"1.5", GQL_TOK_FLOAT},      {"-1.5", GQL_TOK_FLOAT},   {"1e5", GQL_TOK_FLOAT},
        {"1E5", GQL_TOK_FLOAT},      {"1e+5", GQL_TOK_FLOAT},   {"1e-5", GQL_TOK_FLOAT},
        {"0e0", GQL_TOK_FLOAT},      {"1.5e10", GQL_TOK_FLOAT}, {"-0.0e-0", GQL_TOK_FLOAT},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        lexed L;
        gql_token t[3];
        int n = lex_all(&L, good[i].src, strlen(good[i].src), t, 3);
        CHECK_EQ_INT(n, 2);
        if (n == 2) {
            CHECK_EQ_INT(t[0].kind, good[i].kind);
            CHECK_EQ_INT(t[0].value_len, strlen(good[i].src));
        }
        gql_arena_free(&L.arena);
    }
    /* a number followed by a non-name character ends there */
    lexed L;
    gql_token t[4];
    CHECK_EQ_INT(lex_all(&L, "1)", 2, t, 4), 3);
    gql_arena_free(&L.arena);
#define NE(src, msg, col) CHECK(lex_error_is(src, strlen(src), "Syntax Error: " msg, 1, col))
    NE("00", "Invalid number, unexpected digit after 0: \"0\".", 2);
    NE("01", "Invalid number, unexpected digit after 0: \"1\".", 2);
    NE("-01", "Invalid number, unexpected digit after 0: \"1\".", 3);
    NE("1.", "Invalid number, expected digit but got: <EOF>.", 3);
    NE("1.a", "Invalid number, expected digit but got: \"a\".", 3);
    NE(".5", "Unexpected character: \".\".", 1);
    NE("1e", "Invalid number, expected digit but got: <EOF>.", 3);
    NE("1e+", "Invalid number, expected digit but got: <EOF>.", 4);
    NE("1.e1", "Invalid number, expected digit but got: \"e\".", 3);
    NE("0x10", "Invalid number, expected digit but got: \"x\".", 2);
    NE("1.5.3", "Invalid number, expected digit but got: \".\".", 4);
    NE("123abc", "Invalid number, expected digit but got: \"a\".", 4);
    NE("1_000", "Invalid number, expected digit but got: \"_\".", 2);
    NE("-", "Invalid number, expected digit but got: <EOF>.", 2);
    NE("-a", "Invalid number, expected digit but got: \"a\".", 2);
    NE("1\"", "Unterminated string.", 3); /* a number, then a string */
    NE("1e\"", "Invalid number, expected digit but got: '\"'.", 3);
#undef NE
}

/* BlockStringValue cases from the spec and graphql-js's blockString tests */
static void test_block_string_algorithm(void) {
#define BS(src, want) CHECK(str_value_is("\"\"\"" src "\"\"\"", want, sizeof want - 1))
    BS("", "");
    BS("simple", "simple");
    BS("\n    Hello,\n      World!\n\n    Yours,\n      GraphQL.\n  ",
       "Hello,\n  World!\n\nYours,\n  GraphQL.");
    BS("  first\n    second\n      third", "  first\nsecond\n  third");
    BS("\n\n   \n  a\n\n  b\n  \n\t\n", "a\n\nb");
    BS("  \n   \n  ", "");
    BS("\n\t\ta\n\t\t\tb\n\t", "a\n\tb");
    BS("a \\\"\"\" b", "a \"\"\" b");
    BS("\\\"\" x", "\\\"\" x"); /* \"" is not an escape */
    BS("\\n \\u0041", "\\n \\u0041");
    BS("\r\n  a\r\n    b\r  c\r\n", "a\n  b\nc");
    BS("\n    x\n  y\n", "  x\ny");
    BS("x\n        \n  y", "x\n      \ny"); /* whitespace-only lines do not set the indent */
    BS("\n  \xC3\xA9\n   \xF0\x9F\x98\x80", "\xC3\xA9\n \xF0\x9F\x98\x80");
#undef BS
}

/* ---- fixtures: graphql-js differential ---- */

static json_t *load_cases(void) {
    json_error_t je;
    json_t *cases = json_load_file(fixture_path("gql_parser_cases.json"), JSON_ALLOW_NUL, &je);
    if (!cases) printf("#   cannot load cases: %s (line %d)\n", je.text, je.line);
    return cases;
}

static void test_graphql_js_cases(void) {
    json_t *cases = load_cases();
    REQUIRE(cases && json_is_array(cases));
    CHECK(json_array_size(cases) >= 200);
    size_t i, n_ok = 0, n_err = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *src = json_object_get(c, "source");
        REQUIRE(name && json_is_string(src));
        const char *s = json_string_value(src);
        size_t len = json_string_length(src);
        err_t e;
        gql_loc loc;
        gql_document *d = gql_parse(s, len, NULL, &loc, &e);
        const char *want_msg = json_string_value(json_object_get(c, "message"));
        if (want_msg) {
            n_err++;
            long line = (long)json_integer_value(json_object_get(c, "line"));
            long col = (long)json_integer_value(json_object_get(c, "column"));
            if (d || strcmp(e.message, want_msg) != 0 || loc.line != line || loc.column != col) {
                printf("#   case '%s': want %ld:%ld %s, got %s %u:%u %s\n", name, line, col,
                       want_msg, d ? "success" : "error", loc.line, loc.column, d ? "" : e.message);
                CHECK(!"error differs from graphql-js");
            }
            gql_document_free(d);
            continue;
        }
        n_ok++;
        if (!d) {
            printf("#   case '%s': unexpected error %u:%u %s\n", name, loc.line, loc.column,
                   e.message);
            CHECK(!"graphql-js parsed it");
            continue;
        }
        char *dump = gql_print_dump(d->root, NULL);
        const char *want_dump = json_string_value(json_object_get(c, "dump"));
        if (!dump || !want_dump || strcmp(dump, want_dump) != 0) {
            printf("#   case '%s': AST differs\n#   got  %s\n#   want %s\n", name,
                   dump ? dump : "(null)", want_dump ? want_dump : "(null)");
            CHECK(!"AST differs from graphql-js");
        }
        size_t plen = 0;
        char *printed = gql_print(d->root, &plen);
        json_t *want_print = json_object_get(c, "print");
        if (!printed || !json_is_string(want_print) || plen != json_string_length(want_print) ||
            memcmp(printed, json_string_value(want_print), plen) != 0) {
            printf("#   case '%s': print differs\n#   got:\n%s\n#   want:\n%s\n", name,
                   printed ? printed : "(null)", json_string_value(want_print));
            CHECK(!"print differs from graphql-js");
        }
        /* round trip: parse(print(x)) has the same tree as parse(x) */
        if (printed) {
            gql_document *d2 = gql_parse(printed, plen, NULL, &loc, &e);
            if (!d2 || !gql_ast_equal(d->root, d2->root)) {
                printf("#   case '%s': round trip differs (%s)\n", name, d2 ? "tree" : e.message);
                CHECK(!"round trip");
            }
            if (d2) {
                /* print is a fixed point */
                size_t plen2 = 0;
                char *p2 = gql_print(d2->root, &plen2);
                CHECK(p2 && plen2 == plen && memcmp(p2, printed, plen) == 0);
                free(p2);
            }
            gql_document_free(d2);
        }
        free(printed);
        free(dump);
        gql_document_free(d);
    }
    printf("#   %zu graphql-js cases: %zu parsed, %zu errors\n", i, n_ok, n_err);
    CHECK(n_ok >= 100 && n_err >= 100);
    json_decref(cases);
}

static void test_ast_equal_detects_differences(void) {
    static const char *const pairs[][2] = {
        {"{ a }", "{ b }"},
        {"{ a }", "{ a b }"},
        {"{ a(x: 1) }", "{ a(x: 2) }"},
        {"{ a(x: 1) }", "{ a(x: 1.0) }"},
        {"{ a(x: \"s\") }", "{ a(x: \"\"\"s\"\"\") }"},
        {"{ x: a }", "{ a }"},
        {"query { a }", "mutation { a }"},
        {"directive @d on FIELD", "directive @d repeatable on FIELD"},
        {"{ a(x: \"a\\u0000b\") }", "{ a(x: \"a\\u0000c\") }"},
        {"type T { a: Int }", "type T { a: Int! }"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        err_t e;
        gql_document *a = gql_parse(pairs[i][0], strlen(pairs[i][0]), NULL, NULL, &e);
        gql_document *b = gql_parse(pairs[i][1], strlen(pairs[i][1]), NULL, NULL, &e);
        REQUIRE(a && b);
        CHECK(gql_ast_equal(a->root, a->root));
        CHECK(!gql_ast_equal(a->root, b->root));
        gql_document_free(a);
        gql_document_free(b);
    }
}

/* print() round-trips a shorthand query that follows a type-system definition without a body:
 * `enum E` then `{ a }` printed as "enum E\n\n{ a }" would read back as the enum's values (found
 * by fuzz_gql_parser), so the query keeps its keyword there; elsewhere the shorthand stays. */
static void test_print_shorthand_after_bodiless_definition(void) {
    static const char *const docs[][2] = {
        {"enum um\n,,,,query{e,z}", "enum um\n\nquery {\n  e\n  z\n}"},
        {"extend schema @d query { a }", "extend schema @d\n\nquery {\n  a\n}"},
        {"type T query { a }", "type T\n\nquery {\n  a\n}"},
        {"{ a } { b }", "{\n  a\n}\n\n{\n  b\n}"},
        {"fragment F on T { a } query { b }", "fragment F on T {\n  a\n}\n\n{\n  b\n}"},
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        err_t e;
        gql_document *a = gql_parse(docs[i][0], strlen(docs[i][0]), NULL, NULL, &e);
        REQUIRE(a);
        size_t n = 0;
        char *printed = gql_print(a->root, &n);
        REQUIRE(printed);
        CHECK_STR(printed, docs[i][1]);
        gql_document *b = gql_parse(printed, n, NULL, NULL, &e);
        CHECK(b && gql_ast_equal(a->root, b->root));
        gql_document_free(b);
        free(printed);
        gql_document_free(a);
    }
}

/* The struct API, read the way the validator and executor will read it. */
static void test_ast_accessors(void) {
    const char *src = "query Q($id: ID! = \"x\") @live {\n"
                      "  c: club(id: $id, n: [1, {k: ENUM}]) { ...F ... on Club { name } }\n"
                      "}\n"
                      "fragment F on Club { id }\n";
    err_t e;
    gql_loc loc;
    gql_document *d = gql_parse(src, strlen(src), NULL, &loc, &e);
    REQUIRE(d);
    CHECK_EQ_INT(d->root->kind, GQL_DOCUMENT);
    CHECK_EQ_INT(d->root->u.document.definitions.count, 2);
    CHECK(d->token_count > 30);
    const gql_node *op = d->root->u.document.definitions.items[0];
    REQUIRE(op->kind == GQL_OPERATION_DEFINITION);
    CHECK_EQ_INT(op->u.operation.operation, GQL_OP_QUERY);
    CHECK_STR(gql_name_str(op->u.operation.name), "Q");
    CHECK_EQ_INT(op->loc.start, 0);
    CHECK_EQ_INT(op->loc.end, (size_t)(strstr(src, "fragment") - src - 1));
    const gql_node *vd = op->u.operation.variable_definitions.items[0];
    CHECK_STR(gql_name_str(vd->u.variable_definition.variable), "id");
    CHECK_EQ_INT(vd->u.variable_definition.type->kind, GQL_NON_NULL_TYPE);
    CHECK_STR(gql_name_str(vd->u.variable_definition.type->u.wrapped.type), "ID");
    CHECK_STR(vd->u.variable_definition.default_value->u.text.value, "x");
    CHECK_STR(gql_name_str(op->u.operation.directives.items[0]->u.directive.name), "live");
    const gql_node *f = op->u.operation.selection_set->u.selection_set.selections.items[0];
    REQUIRE(f->kind == GQL_FIELD);
    CHECK_STR(gql_name_str(f->u.field.alias), "c");
    CHECK_STR(gql_name_str(f->u.field.name), "club");
    CHECK_EQ_INT(f->loc.line, 2);
    CHECK_EQ_INT(f->loc.column, 3);
    CHECK_EQ_INT(f->u.field.arguments.count, 2);
    const gql_node *n = f->u.field.arguments.items[1]->u.argument.value;
    REQUIRE(n->kind == GQL_LIST_VALUE && n->u.list.values.count == 2);
    CHECK_STR(n->u.list.values.items[0]->u.text.value, "1");
    const gql_node *obj = n->u.list.values.items[1];
    REQUIRE(obj->kind == GQL_OBJECT_VALUE);
    CHECK_EQ_INT(obj->u.object.fields.items[0]->u.argument.value->kind, GQL_ENUM_VALUE);
    const gql_list *sels = &f->u.field.selection_set->u.selection_set.selections;
    REQUIRE(sels->count == 2);
    CHECK_EQ_INT(sels->items[0]->kind, GQL_FRAGMENT_SPREAD);
    CHECK_EQ_INT(sels->items[1]->kind, GQL_INLINE_FRAGMENT);
    CHECK_STR(gql_name_str(sels->items[1]->u.inline_fragment.type_condition), "Club");
    const gql_node *fr = d->root->u.document.definitions.items[1];
    CHECK_EQ_INT(fr->kind, GQL_FRAGMENT_DEFINITION);
    CHECK_EQ_INT(fr->loc.line, 4);
    CHECK_STR(gql_kind_name(fr->kind), "FragmentDefinition");
    gql_document_free(d);
}

static void test_realistic_schema(void) {
    size_t len = 0, plen = 0, wlen = 0;
    char *src = read_file(fixture_path("gql_schema.graphql"), &len);
    char *want = read_file(fixture_path("gql_schema.printed.graphql"), &wlen);
    REQUIRE(src && want);
    err_t e;
    gql_loc loc;
    gql_document *d = gql_parse(src, len, NULL, &loc, &e);
    if (!d) printf("#   %u:%u %s\n", loc.line, loc.column, e.message);
    REQUIRE(d);
    int counts[GQL_KIND_COUNT] = {0};
    const gql_list *defs = &d->root->u.document.definitions;
    for (size_t i = 0; i < defs->count; i++)
        counts[defs->items[i]->kind]++;
    CHECK_EQ_INT(counts[GQL_SCHEMA_DEFINITION], 1);
    CHECK_EQ_INT(counts[GQL_SCALAR_TYPE_DEFINITION], 2);
    CHECK_EQ_INT(counts[GQL_DIRECTIVE_DEFINITION], 2);
    CHECK_EQ_INT(counts[GQL_ENUM_TYPE_DEFINITION], 1);
    CHECK_EQ_INT(counts[GQL_INTERFACE_TYPE_DEFINITION], 2);
    CHECK_EQ_INT(counts[GQL_OBJECT_TYPE_DEFINITION], 10);
    CHECK_EQ_INT(counts[GQL_UNION_TYPE_DEFINITION], 1);
    CHECK_EQ_INT(counts[GQL_INPUT_OBJECT_TYPE_DEFINITION], 2);
    CHECK_EQ_INT(counts[GQL_SCHEMA_EXTENSION], 1);
    CHECK_EQ_INT(counts[GQL_SCALAR_TYPE_EXTENSION], 1);
    CHECK_EQ_INT(counts[GQL_OBJECT_TYPE_EXTENSION], 1);
    CHECK_EQ_INT(counts[GQL_INTERFACE_TYPE_EXTENSION], 1);
    CHECK_EQ_INT(counts[GQL_UNION_TYPE_EXTENSION], 1);
    CHECK_EQ_INT(counts[GQL_ENUM_TYPE_EXTENSION], 1);
    CHECK_EQ_INT(counts[GQL_INPUT_OBJECT_TYPE_EXTENSION], 1);
    /* the cost directive is repeatable with two locations */
    for (size_t i = 0; i < defs->count; i++) {
        const gql_node *n = defs->items[i];
        if (n->kind == GQL_DIRECTIVE_DEFINITION &&
            strcmp(gql_name_str(n->u.directive_def.name), "cost") == 0) {
            CHECK(n->u.directive_def.repeatable);
            CHECK_EQ_INT(n->u.directive_def.locations.count, 2);
            CHECK_STR(gql_name_str(n->u.directive_def.locations.items[1]), "ARGUMENT_DEFINITION");
        }
        if (n->kind == GQL_OBJECT_TYPE_DEFINITION &&
            strcmp(gql_name_str(n->u.type_def.name), "Club") == 0) {
            CHECK_EQ_INT(n->u.type_def.interfaces.count, 2);
            CHECK(n->u.type_def.description && n->u.type_def.description->u.text.block);
            CHECK(strstr(n->u.type_def.description->u.text.value, "\n\n  Indented lines keep") !=
                  NULL);
        }
    }
    char *printed = gql_print(d->root, &plen);
    /* the fixture file is print() output plus a final newline */
    CHECK(printed && plen + 1 == wlen && memcmp(printed, want, plen) == 0);
    free(printed);
    gql_document_free(d);
    free(src);
    free(want);
}

/* ---- limits ---- */

static void test_limits(void) {
    gql_parse_opts o = {0};
    /* size */
    o.max_bytes = 10;
    CHECK(parse_error_is("{ abcdefgh }", 12, &o,
                         "Syntax Error: Document contains more than 10 bytes. Parsing aborted.", 1,
                         11));
    CHECK(parse_error_is("{ abcdefg }", 11, &o,
                         "Syntax Error: Document contains more than 10 bytes. Parsing aborted.", 1,
                         11));
    err_t e;
    gql_document *d = gql_parse("{ abcdef }", 10, &o, NULL, &e);
    CHECK(d != NULL);
    gql_document_free(d);
    /* tokens: "{ a b c }" has 5 */
    o = (gql_parse_opts){.max_tokens = 4};
    CHECK(parse_error_is("{ a b c }", 9, &o,
                         "Syntax Error: Document contains more than 4 tokens. Parsing aborted.", 1,
                         9));
    o.max_tokens = 5;
    d = gql_parse("{ a b c } # comments are not tokens", 35, &o, NULL, &e);
    CHECK(d != NULL);
    if (d) CHECK_EQ_INT(d->token_count, 5);
    gql_document_free(d);
    /* depth: selection sets */
    o = (gql_parse_opts){.max_depth = 3};
    d = gql_parse("{ a { b { c } } }", 17, &o, NULL, &e);
    CHECK(d != NULL);
    gql_document_free(d);
    CHECK(parse_error_is("{ a { b { c { d } } } }", 23, &o,
                         "Syntax Error: Document is nested more than 3 levels deep. Parsing "
                         "aborted.",
                         1, 13));
    /* values and types count too */
    CHECK(parse_error_is("{ a(x: [[[1]]]) }", 17, &o,
                         "Syntax Error: Document is nested more than 3 levels deep. Parsing "
                         "aborted.",
                         1, 10));
    CHECK(parse_error_is("{ a(x: {a: {b: {c: 1}}}) }", 26, &o,
                         "Syntax Error: Document is nested more than 3 levels deep. Parsing "
                         "aborted.",
                         1, 16));
    CHECK(parse_error_is("query ($a: [[[[Int]]]]) { a }", 29, &o,
                         "Syntax Error: Document is nested more than 3 levels deep. Parsing "
                         "aborted.",
                         1, 15));
    CHECK(parse_error_is("type T { f: [[[[Int]]]] }", 25, &o,
                         "Syntax Error: Document is nested more than 3 levels deep. Parsing "
                         "aborted.",
                         1, 16));
    /* the default depth stops a deep document long before the C stack is at risk */
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    REQUIRE(deep);
    for (size_t i = 0; i < n; i++) {
        deep[i] = '[';
        deep[n + i] = ']';
    }
    deep[2 * n] = '\0';
    char *q = malloc(2 * n + 32);
    REQUIRE(q);
    int ql = snprintf(q, 2 * n + 32, "{ a(x: %s) }", deep);
    CHECK(parse_error_is(q, (size_t)ql, NULL,
                         "Syntax Error: Document is nested more than 64 levels deep. Parsing "
                         "aborted.",
                         1, 8 + 63)); /* the selection set is level 1 */
    /* a huge max_depth is capped */
    o = (gql_parse_opts){.max_depth = 4000000000u, .max_bytes = 1u << 22};
    CHECK(parse_error_is(q, (size_t)ql, &o,
                         "Syntax Error: Document is nested more than 1000 levels deep. Parsing "
                         "aborted.",
                         1, 8 + 999));
    free(q);
    free(deep);
    /* default size limit is 1 MiB */
    size_t big = ((size_t)1 << 20) + 1;
    char *huge = malloc(big);
    REQUIRE(huge);
    memset(huge, ' ', big);
    huge[0] = '{';
    CHECK(parse_error_is(huge, big, NULL,
                         "Syntax Error: Document contains more than 1048576 bytes. Parsing "
                         "aborted.",
                         1, 1048577));
    free(huge);
    /* the limit errors carry status 400 and the syntax code */
    o = (gql_parse_opts){.max_tokens = 1};
    d = gql_parse("{ a }", 5, &o, NULL, &e);
    CHECK(d == NULL);
    CHECK_EQ_INT(e.status, 400);
    CHECK_STR(e.code, "graphql_syntax");
}

static void test_spec_2021_mode(void) {
    gql_parse_opts o = {.spec_2021 = 1};
    CHECK(parse_error_is("{ a(s: \"\\u{41}\") }", 18, &o,
                         "Syntax Error: Invalid Unicode escape sequence: \"\\u{41}\".", 1, 9));
    CHECK(parse_error_is("\"d\" query { a }", 15, &o,
                         "Syntax Error: Unexpected description, descriptions are supported only "
                         "on type definitions.",
                         1, 1));
    CHECK(parse_error_is("\"d\" { a }", 9, &o, "Syntax Error: Unexpected \"{\".", 1, 5));
    CHECK(parse_error_is("query (\"d\" $a: Int) { a }", 25, &o,
                         "Syntax Error: Expected \"$\", found String \"d\".", 1, 8));
    err_t e;
    const char *ok = "\"d\" type T { a(\"x\" b: Int): String } { a(s: \"\\uD83D\\uDE00\") }";
    gql_document *d = gql_parse(ok, strlen(ok), &o, NULL, &e);
    CHECK(d != NULL);
    gql_document_free(d);
}

/* ---- robustness ---- */

static void test_error_message_is_bounded(void) {
    /* a long token value in a message is cut, at a character boundary */
    size_t n = 5000;
    char *src = malloc(n + 16);
    REQUIRE(src);
    memcpy(src, "{ a(x: 1) \"", 11);
    for (size_t i = 0; i < n; i += 2)
        memcpy(src + 11 + i, "\xC3\xA9", 2);
    memcpy(src + 11 + n, "\" }", 3);
    err_t e;
    gql_loc loc;
    gql_document *d = gql_parse(src, n + 14, NULL, &loc, &e);
    CHECK(d == NULL);
    CHECK(strncmp(e.message, "Syntax Error: Expected Name, found String \"\xC3\xA9", 45) == 0);
    CHECK(strstr(e.message, "...\".") != NULL);
    CHECK(strlen(e.message) < sizeof e.message - 1);
    free(src);
}

static void test_truncations_and_mutations(void) {
    size_t len = 0;
    char *src = read_file(fixture_path("gql_schema.graphql"), &len);
    REQUIRE(src);
    const char *q = "query Q($a: [Int!]! = [1, 2], $s: String = \"\"\"x\"\"\") @d(a: {b: [$a]}) "
                    "{ f: g(x: -1.5e3, y: \"\\u{1F600}\\uD83D\\uDE00\") { ...F ... on T { h } } }"
                    " fragment F on T { i }";
    size_t ql = strlen(q);
    /* every prefix either parses or fails cleanly */
    size_t parsed = 0;
    for (size_t cut = 0; cut <= ql; cut++) {
        err_t e;
        gql_document *d = gql_parse(q, cut, NULL, NULL, &e);
        if (d) parsed++;
        gql_document_free(d);
    }
    CHECK_EQ_INT(parsed, 3); /* the query alone, plus a space, and all */
    for (size_t cut = 0; cut <= len; cut += 7) {
        err_t e;
        gql_document *d = gql_parse(src, cut, NULL, NULL, &e);
        gql_document_free(d);
    }
    /* deterministic byte mutations: whatever parses must print and reparse to the same tree */
    char *m = malloc(len + 1);
    REQUIRE(m);
    uint32_t x = 12345;
    size_t ok = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(m, src, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            x = x * 1103515245u + 12345u;
            size_t pos = (x >> 8) % len;
            x = x * 1103515245u + 12345u;
            static const char alphabet[] = "{}[]()!$&:=@|\"\\#., \n\ra0-_.e\xC3\xA9\xED\xFF";
            m[pos] = alphabet[(x >> 16) % (sizeof alphabet - 1)];
        }
        err_t e;
        gql_document *d = gql_parse(m, len, NULL, NULL, &e);
        if (!d) {
            CHECK(strncmp(e.message, "Syntax Error: ", 14) == 0);
            continue;
        }
        ok++;
        size_t pl;
        char *p = gql_print(d->root, &pl);
        gql_document *d2 = p ? gql_parse(p, pl, NULL, NULL, &e) : NULL;
        CHECK(d2 && gql_ast_equal(d->root, d2->root));
        gql_document_free(d2);
        free(p);
        gql_document_free(d);
    }
    printf("#   %zu of 3000 mutated schemas still parsed\n", ok);
    free(m);
    free(src);
    /* NULL source */
    err_t e;
    gql_loc loc;
    CHECK(gql_parse(NULL, 0, NULL, &loc, &e) == NULL);
    CHECK_STR(e.message, "Syntax Error: Unexpected <EOF>.");
    CHECK_EQ_INT(loc.line, 1);
    CHECK_EQ_INT(loc.column, 1);
}

static void test_arena(void) {
    gql_arena a;
    gql_arena_init(&a, 1000);
    char *p = gql_arena_alloc(&a, 10);
    CHECK(p != NULL && ((uintptr_t)p % 16) == 0);
    CHECK(gql_arena_alloc(&a, 2000) == NULL); /* over the cap */
    char *s = gql_arena_strndup(&a, "abc", 3);
    CHECK_STR(s, "abc");
    gql_arena_free(&a);
    gql_arena_init(&a, 0);
    for (int i = 0; i < 100; i++) {
        unsigned char *b = gql_arena_alloc(&a, (size_t)(i * 997 % 40000) + 1);
        REQUIRE(b);
        CHECK(b[0] == 0);
        b[0] = 1;
    }
    CHECK(gql_arena_alloc(&a, SIZE_MAX - 8) == NULL);
    gql_arena_free(&a);
}

int main(void) {
    RUN(test_lexer_token_kinds);
    RUN(test_lexer_ignored_and_locations);
    RUN(test_lexer_escapes);
    RUN(test_lexer_bad_escapes);
    RUN(test_lexer_numbers);
    RUN(test_block_string_algorithm);
    RUN(test_graphql_js_cases);
    RUN(test_ast_equal_detects_differences);
    RUN(test_print_shorthand_after_bodiless_definition);
    RUN(test_ast_accessors);
    RUN(test_realistic_schema);
    RUN(test_limits);
    RUN(test_spec_2021_mode);
    RUN(test_error_message_is_bounded);
    RUN(test_truncations_and_mutations);
    RUN(test_arena);
    TEST_DONE();
}
