/* fuzz_gql_parser: libFuzzer target for the GraphQL lexer, parser and printer.
 * Build and run (from the repo root; clang 14 from Debian):
 *   clang -std=c17 -D_POSIX_C_SOURCE=200809L -DGQL_FUZZ -g -O1 -fsanitize=fuzzer,address,undefined
 * -fno-sanitize-recover=undefined -Isrc tests/lib/graphql/fuzz_gql_parser.c src/lib/graphql/gql_*.c
 * src/core/err.c -o build/fuzz_gql_parser && build/fuzz_gql_parser -max_total_time=60 -max_len=4096
 * For every input: lexes it to the end, parses it (graphql-js grammar and the strict October
 * 2021 one) and, when it parses, checks that print() output parses to the same tree and that
 * printing is a fixed point; aborts on any difference.
 * The Makefile links every tests/ file not named test_* into each test binary, so without
 * -DGQL_FUZZ this file compiles to nothing. */
#ifdef GQL_FUZZ
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/graphql/gql_lexer.h"
#include "lib/graphql/gql_parser.h"
#include "lib/graphql/gql_print.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lex_all(const char *src, size_t len) {
    gql_arena a;
    gql_arena_init(&a, 0);
    gql_lexer lx;
    err_t e;
    gql_token t;
    gql_lex_opts o = {.max_tokens = 5000};
    if (gql_lex_init(&lx, src, len, &o, &a, &e) == 0) {
        size_t last = 0;
        while (gql_lex_next(&lx, &t, &e) == 0 && t.kind != GQL_TOK_EOF) {
            if (t.start < last || t.end > len || t.end < t.start || t.line == 0 || t.column == 0)
                abort();
            last = t.end;
        }
    }
    gql_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *src = (const char *)data;
    lex_all(src, size);
    gql_parse_opts o = {.max_tokens = 5000, .max_depth = 200};
    for (int strict = 0; strict <= 1; strict++) {
        o.spec_2021 = strict;
        err_t e;
        gql_loc loc;
        gql_document *d = gql_parse(src, size, &o, &loc, &e);
        if (!d) {
            if (e.status == 400 && (loc.line == 0 || strncmp(e.message, "Syntax Error: ", 14) != 0))
                abort();
            continue;
        }
        size_t n1 = 0, n2 = 0;
        char *p1 = gql_print(d->root, &n1);
        char *dump = gql_print_dump(d->root, NULL);
        if (!p1 || !dump) abort();
        gql_parse_opts big = {
            .max_bytes = 1u << 24, .max_tokens = 1u << 20, .max_depth = 1000, .spec_2021 = strict};
        gql_document *d2 = gql_parse(p1, n1, &big, &loc, &e);
        if (!d2 || !gql_ast_equal(d->root, d2->root)) abort();
        char *p2 = gql_print(d2->root, &n2);
        if (!p2 || n1 != n2 || memcmp(p1, p2, n1) != 0) abort();
        free(p2);
        free(dump);
        free(p1);
        gql_document_free(d2);
        gql_document_free(d);
    }
    return 0;
}
#else
typedef int fuzz_gql_parser_disabled; /* see the header comment */
#endif
