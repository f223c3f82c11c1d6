/* gql_lexer: the GraphQL lexical grammar (October 2021 edition, as graphql-js 16.x reads it).
 * Turns a UTF-8 document into tokens: punctuators, names, numbers, strings (escapes decoded,
 * surrogate pairs joined, lone surrogates rejected), block strings (BlockStringValue applied),
 * comments. Ignores BOM, white space, line terminators and commas. Enforces the document byte
 * limit and the token limit. Owns nothing: decoded string values live in the caller's arena;
 * Name, Int, Float and Comment values point into the source, which must outlive the tokens.
 *
 * Locations follow graphql-js: line and column are 1-based and the column counts UTF-16 code
 * units from the start of the line (a character outside the BMP counts 2), so our locations
 * equal graphql-js's for the same text. Byte offsets (start/end) are offsets into the UTF-8
 * source. Errors fill err_t (status 400, code "graphql_syntax", message "Syntax Error: ...", as
 * graphql-js words it) and lx->err_line / lx->err_column. */
#ifndef GATEWAY_GRAPHQL_GQL_LEXER_H
#define GATEWAY_GRAPHQL_GQL_LEXER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "lib/graphql/gql_arena.h"

#define GQL_LEX_DEFAULT_MAX_BYTES ((size_t)1 << 20)
#define GQL_LEX_DEFAULT_MAX_TOKENS ((size_t)100000)

typedef enum gql_token_kind {
    GQL_TOK_SOF,
    GQL_TOK_EOF,
    GQL_TOK_BANG,
    GQL_TOK_DOLLAR,
    GQL_TOK_AMP,
    GQL_TOK_PAREN_L,
    GQL_TOK_PAREN_R,
    GQL_TOK_SPREAD,
    GQL_TOK_COLON,
    GQL_TOK_EQUALS,
    GQL_TOK_AT,
    GQL_TOK_BRACKET_L,
    GQL_TOK_BRACKET_R,
    GQL_TOK_BRACE_L,
    GQL_TOK_PIPE,
    GQL_TOK_BRACE_R,
    GQL_TOK_NAME,
    GQL_TOK_INT,
    GQL_TOK_FLOAT,
    GQL_TOK_STRING,
    GQL_TOK_BLOCK_STRING,
    GQL_TOK_COMMENT,
} gql_token_kind;

typedef struct gql_token {
    gql_token_kind kind;
    size_t start, end;     /* byte offsets, end exclusive */
    uint32_t line, column; /* of start; 1-based, column in UTF-16 code units */
    const char *value;     /* NULL for punctuators, SOF and EOF */
    size_t value_len;      /* strings may contain NUL (from \u0000) */
} gql_token;

typedef struct gql_lex_opts {
    size_t max_bytes;  /* document size limit; 0 = GQL_LEX_DEFAULT_MAX_BYTES */
    size_t max_tokens; /* non-comment tokens before EOF; 0 = GQL_LEX_DEFAULT_MAX_TOKENS */
    int spec_2021;     /* 1: only the October 2021 escapes (reject \u{...}); 0: graphql-js 16 */
} gql_lex_opts;

typedef struct gql_lexer {
    const char *src;
    size_t len;
    size_t pos;
    uint32_t line;
    size_t line_start;
    size_t col_pos; /* column cache: UTF-16 units from line_start to col_pos */
    uint32_t col_units;
    size_t tokens; /* non-comment, non-EOF tokens returned so far */
    size_t max_tokens;
    int spec_2021;
    gql_arena *arena;
    uint32_t err_line, err_column; /* location of the last error */
    size_t err_offset;
} gql_lexer;

/* Checks the size limit. The arena receives decoded string values. */
int gql_lex_init(gql_lexer *lx, const char *src, size_t len, const gql_lex_opts *opts,
                 gql_arena *arena, err_t *e);
/* Next token, comments included; after the end it returns EOF again. */
int gql_lex_next(gql_lexer *lx, gql_token *tok, err_t *e);
/* Description of a kind as graphql-js prints it: "<EOF>", "!", "Name", "BlockString", ... */
const char *gql_lex_kind_name(gql_token_kind kind);
/* Line and column (graphql-js rules) of a byte offset. */
void gql_lex_location(const char *src, size_t len, size_t offset, uint32_t *line, uint32_t *column);
/* Fills e and lx->err_* with "Syntax Error: <message>" located at a byte offset. */
int gql_lex_error(gql_lexer *lx, err_t *e, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Decodes one UTF-8 character at s[0..n). Returns its length (1..4) and sets *cp, or 0 when the
 * bytes are malformed (overlong, truncated, > U+10FFFF). Surrogates (ED A0..BF xx) decode, so a
 * caller can report them. */
int gql_lex_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif
