/* gql_lexer: see gql_lexer.h. Mirrors graphql-js 16.x language/lexer.js and blockString.js. */
#include "lib/graphql/gql_lexer.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[] = {
    [GQL_TOK_SOF] = "<SOF>",
    [GQL_TOK_EOF] = "<EOF>",
    [GQL_TOK_BANG] = "!",
    [GQL_TOK_DOLLAR] = "$",
    [GQL_TOK_AMP] = "&",
    [GQL_TOK_PAREN_L] = "(",
    [GQL_TOK_PAREN_R] = ")",
    [GQL_TOK_SPREAD] = "...",
    [GQL_TOK_COLON] = ":",
    [GQL_TOK_EQUALS] = "=",
    [GQL_TOK_AT] = "@",
    [GQL_TOK_BRACKET_L] = "[",
    [GQL_TOK_BRACKET_R] = "]",
    [GQL_TOK_BRACE_L] = "{",
    [GQL_TOK_PIPE] = "|",
    [GQL_TOK_BRACE_R] = "}",
    [GQL_TOK_NAME] = "Name",
    [GQL_TOK_INT] = "Int",
    [GQL_TOK_FLOAT] = "Float",
    [GQL_TOK_STRING] = "String",
    [GQL_TOK_BLOCK_STRING] = "BlockString",
    [GQL_TOK_COMMENT] = "Comment",
};

const char *gql_lex_kind_name(gql_token_kind kind) {
    if ((unsigned)kind >= sizeof kind_names / sizeof kind_names[0]) return "?";
    return kind_names[kind];
}

int gql_lex_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        *cp = c;
        return 0;
    }
    if ((size_t)len > n) {
        *cp = c;
        return 0;
    }
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = c;
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF) {
        *cp = c;
        return 0;
    }
    *cp = v;
    return len;
}

static bool is_scalar(uint32_t cp) {
    return cp <= 0xD7FF || (cp >= 0xE000 && cp <= 0x10FFFF);
}

/* UTF-16 code units of s[from..to): lead bytes count 1, 4-byte leads 2, continuations 0. */
static uint32_t utf16_units(const char *s, size_t from, size_t to) {
    uint32_t u = 0;
    for (size_t i = from; i < to; i++) {
        unsigned char b = (unsigned char)s[i];
        if ((b & 0xC0) != 0x80) u += b >= 0xF0 ? 2 : 1;
    }
    return u;
}

void gql_lex_location(const char *src, size_t len, size_t offset, uint32_t *line,
                      uint32_t *column) {
    if (offset > len) offset = len;
    uint32_t l = 1;
    size_t ls = 0;
    for (size_t i = 0; i < offset; i++) {
        if (src[i] == '\n') {
            l++;
            ls = i + 1;
        } else if (src[i] == '\r') {
            if (i + 1 < len && src[i + 1] == '\n') i++;
            l++;
            ls = i + 1;
        }
    }
    *line = l;
    /* graphql-js quirk kept: an offset on the \n of \r\n gets column 0 */
    *column = ls > offset ? 0 : 1 + utf16_units(src, ls, offset);
}

int gql_lex_error(gql_lexer *lx, err_t *e, size_t offset, const char *fmt, ...) {
    char buf[sizeof(((err_t *)0)->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lx->err_offset = offset;
    gql_lex_location(lx->src, lx->len, offset, &lx->err_line, &lx->err_column);
    return err_set(e, 400, "graphql_syntax", "", "Syntax Error: %s", buf);
}

int gql_lex_init(gql_lexer *lx, const char *src, size_t len, const gql_lex_opts *opts,
                 gql_arena *arena, err_t *e) {
    memset(lx, 0, sizeof *lx);
    lx->src = src ? src : "";
    lx->len = src ? len : 0;
    lx->line = 1;
    lx->arena = arena;
    size_t max_bytes = opts && opts->max_bytes ? opts->max_bytes : GQL_LEX_DEFAULT_MAX_BYTES;
    lx->max_tokens = opts && opts->max_tokens ? opts->max_tokens : GQL_LEX_DEFAULT_MAX_TOKENS;
    lx->spec_2021 = opts ? opts->spec_2021 : 0;
    if (lx->len > max_bytes || lx->len > UINT32_MAX)
        return gql_lex_error(lx, e, max_bytes,
                             "Document contains more than %zu bytes. Parsing aborted.", max_bytes);
    return 0;
}

/* ---- character helpers ---- */

static int at(const gql_lexer *lx, size_t pos) {
    return pos < lx->len ? (unsigned char)lx->src[pos] : -1;
}
static bool is_digit(int c) {
    return c >= '0' && c <= '9';
}
static bool is_name_start(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_name_continue(int c) {
    return is_name_start(c) || is_digit(c);
}
static int hex_digit(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* graphql-js printCodePointAt: "<EOF>", "c" for printable ASCII ('"' for a quote), else U+XXXX. */
static const char *describe_at(const gql_lexer *lx, size_t pos, char *buf, size_t n) {
    if (pos >= lx->len) return "<EOF>";
    uint32_t cp;
    int l = gql_lex_utf8_decode((const unsigned char *)lx->src + pos, lx->len - pos, &cp);
    if (l == 0)
        snprintf(buf, n, "invalid UTF-8 byte 0x%02X", (unsigned)(unsigned char)lx->src[pos]);
    else if (cp == '"')
        snprintf(buf, n, "'\"'");
    else if (cp >= 0x20 && cp <= 0x7E)
        snprintf(buf, n, "\"%c\"", (char)cp);
    else
        snprintf(buf, n, "U+%04X", (unsigned)cp);
    return buf;
}

/* Byte end of `units` UTF-16 code units from pos (whole characters), capped at the end. */
static size_t units_end(const gql_lexer *lx, size_t pos, size_t units) {
    while (units > 0 && pos < lx->len) {
        uint32_t cp;
        int l = gql_lex_utf8_decode((const unsigned char *)lx->src + pos, lx->len - pos, &cp);
        if (l == 0) l = 1;
        units -= (l == 4 && units >= 2) ? 2 : 1;
        pos += (size_t)l;
    }
    return pos;
}

static int make_token(gql_lexer *lx, gql_token *t, gql_token_kind kind, size_t start, size_t end,
                      const char *value, size_t value_len, err_t *e) {
    if (lx->col_pos < lx->line_start || lx->col_pos > start) {
        lx->col_pos = lx->line_start;
        lx->col_units = 0;
    }
    lx->col_units += utf16_units(lx->src, lx->col_pos, start);
    lx->col_pos = start;
    t->kind = kind;
    t->start = start;
    t->end = end;
    t->line = lx->line;
    t->column = 1 + lx->col_units;
    t->value = value;
    t->value_len = value_len;
    if (kind != GQL_TOK_COMMENT && kind != GQL_TOK_EOF) {
        if (lx->tokens >= lx->max_tokens)
            return gql_lex_error(lx, e, start,
                                 "Document contains more than %zu tokens. Parsing aborted.",
                                 lx->max_tokens);
        lx->tokens++;
    }
    lx->pos = end;
    return 0;
}

/* ---- numbers ---- */

static int read_digits(gql_lexer *lx, size_t *pos, err_t *e) {
    char d[48];
    if (!is_digit(at(lx, *pos)))
        return gql_lex_error(lx, e, *pos, "Invalid number, expected digit but got: %s.",
                             describe_at(lx, *pos, d, sizeof d));
    (*pos)++;
    while (is_digit(at(lx, *pos)))
        (*pos)++;
    return 0;
}

static int read_number(gql_lexer *lx, size_t start, gql_token *t, err_t *e) {
    char d[48];
    size_t pos = start;
    bool is_float = false;
    int c = at(lx, pos);
    if (c == '-') c = at(lx, ++pos);
    if (c == '0') {
        c = at(lx, ++pos);
        if (is_digit(c))
            return gql_lex_error(lx, e, pos, "Invalid number, unexpected digit after 0: %s.",
                                 describe_at(lx, pos, d, sizeof d));
    } else {
        if (read_digits(lx, &pos, e)) return -1;
        c = at(lx, pos);
    }
    if (c == '.') {
        is_float = true;
        pos++;
        if (read_digits(lx, &pos, e)) return -1;
        c = at(lx, pos);
    }
    if (c == 'e' || c == 'E') {
        is_float = true;
        c = at(lx, ++pos);
        if (c == '+' || c == '-') pos++;
        if (read_digits(lx, &pos, e)) return -1;
        c = at(lx, pos);
    }
    if (c == '.' || is_name_start(c))
        return gql_lex_error(lx, e, pos, "Invalid number, expected digit but got: %s.",
                             describe_at(lx, pos, d, sizeof d));
    return make_token(lx, t, is_float ? GQL_TOK_FLOAT : GQL_TOK_INT, start, pos, lx->src + start,
                      pos - start, e);
}

/* ---- strings ---- */

static size_t utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int32_t read_hex4(const gql_lexer *lx, size_t pos) {
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_digit(at(lx, pos + (size_t)i));
        if (h < 0) return -1;
        v = (v << 4) | h;
    }
    return v;
}

static int bad_unicode_escape(gql_lexer *lx, err_t *e, size_t pos, size_t units) {
    size_t end = units_end(lx, pos, units);
    return gql_lex_error(lx, e, pos, "Invalid Unicode escape sequence: \"%.*s\".", (int)(end - pos),
                         lx->src + pos);
}

/* Reads the escape at pos (a backslash); sets *size and *cp. */
static int read_escape(gql_lexer *lx, size_t pos, size_t *size, uint32_t *cp, err_t *e) {
    int c = at(lx, pos + 1);
    if (c == 'u' && at(lx, pos + 2) == '{' && !lx->spec_2021) {
        uint32_t point = 0;
        size_t sz = 3;
        while (sz < 12) {
            int ch = at(lx, pos + sz++);
            if (ch == '}') {
                if (sz < 5 || !is_scalar(point)) break;
                *size = sz;
                *cp = point;
                return 0;
            }
            int h = hex_digit(ch);
            if (h < 0) break;
            point = (point << 4) | (uint32_t)h;
            if (point & 0x80000000u) break;
        }
        return bad_unicode_escape(lx, e, pos, sz);
    }
    if (c == 'u') {
        int32_t code = read_hex4(lx, pos + 2);
        if (code >= 0 && is_scalar((uint32_t)code)) {
            *size = 6;
            *cp = (uint32_t)code;
            return 0;
        }
        if (code >= 0xD800 && code <= 0xDBFF && at(lx, pos + 6) == '\\' && at(lx, pos + 7) == 'u') {
            int32_t trail = read_hex4(lx, pos + 8);
            if (trail >= 0xDC00 && trail <= 0xDFFF) {
                *size = 12;
                *cp = 0x10000 + (((uint32_t)code - 0xD800) << 10) + ((uint32_t)trail - 0xDC00);
                return 0;
            }
        }
        return bad_unicode_escape(lx, e, pos, 6);
    }
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char *p = c > 0 ? strchr(from, c) : NULL;
    if (p && *p) {
        *size = 2;
        *cp = (uint32_t)(unsigned char)to[p - from];
        return 0;
    }
    size_t end = units_end(lx, pos, 2);
    return gql_lex_error(lx, e, pos, "Invalid character escape sequence: \"%.*s\".",
                         (int)(end - pos), lx->src + pos);
}

/* One source character inside a string or comment at pos: its byte length, or 0 if it is not a
 * source character (lone surrogate, malformed UTF-8). */
static int source_char(const gql_lexer *lx, size_t pos) {
    uint32_t cp;
    int l = gql_lex_utf8_decode((const unsigned char *)lx->src + pos, lx->len - pos, &cp);
    if (l == 0 || !is_scalar(cp)) return 0;
    return l;
}

/* Reads a "..." string starting at start. With out == NULL it only validates and sets *end;
 * otherwise it writes the value to out and sets *out_len. */
static int read_string(gql_lexer *lx, size_t start, char *out, size_t *out_len, size_t *end,
                       err_t *e) {
    char d[48];
    size_t pos = start + 1, n = 0;
    while (pos < lx->len) {
        int c = at(lx, pos);
        if (c == '"') {
            *end = pos + 1;
            if (out_len) *out_len = n;
            return 0;
        }
        if (c == '\\') {
            size_t size = 0;
            uint32_t cp = 0;
            if (read_escape(lx, pos, &size, &cp, e)) return -1;
            if (out) n += utf8_encode(cp, out + n);
            pos += size;
            continue;
        }
        if (c == '\n' || c == '\r') break;
        int l = source_char(lx, pos);
        if (l == 0)
            return gql_lex_error(lx, e, pos, "Invalid character within String: %s.",
                                 describe_at(lx, pos, d, sizeof d));
        if (out) memcpy(out + n, lx->src + pos, (size_t)l);
        n += (size_t)l;
        pos += (size_t)l;
    }
    return gql_lex_error(lx, e, pos, "Unterminated string.");
}

static bool is_triple_quote(const gql_lexer *lx, size_t pos) {
    return at(lx, pos) == '"' && at(lx, pos + 1) == '"' && at(lx, pos + 2) == '"';
}

/* Reads a """...""" block string: validates, sets *end, *lines (raw line count) and *last_line
 * (offset where its last line starts). With out != NULL writes the raw lines joined with \n
 * (\""" unescaped) and sets *out_len. */
static int read_block_raw(gql_lexer *lx, size_t start, char *out, size_t *out_len, size_t *end,
                          uint32_t *lines, size_t *last_line, err_t *e) {
    char d[48];
    size_t pos = start + 3, n = 0, ls = lx->line_start;
    uint32_t nl = 1;
    while (pos < lx->len) {
        int c = at(lx, pos);
        if (c == '"' && is_triple_quote(lx, pos)) {
            *end = pos + 3;
            *lines = nl;
            *last_line = ls;
            if (out_len) *out_len = n;
            return 0;
        }
        if (c == '\\' && is_triple_quote(lx, pos + 1)) {
            if (out) memcpy(out + n, "\"\"\"", 3);
            n += 3;
            pos += 4;
            continue;
        }
        if (c == '\n' || c == '\r') {
            if (out) out[n] = '\n';
            n++;
            pos += (c == '\r' && at(lx, pos + 1) == '\n') ? 2 : 1;
            nl++;
            ls = pos;
            continue;
        }
        int l = source_char(lx, pos);
        if (l == 0)
            return gql_lex_error(lx, e, pos, "Invalid character within String: %s.",
                                 describe_at(lx, pos, d, sizeof d));
        if (out) memcpy(out + n, lx->src + pos, (size_t)l);
        n += (size_t)l;
        pos += (size_t)l;
    }
    return gql_lex_error(lx, e, pos, "Unterminated string.");
}

/* BlockStringValue (graphql-js dedentBlockStringLines) in place on \n-joined raw lines. */
static size_t block_dedent(char *b, size_t n) {
    size_t common = SIZE_MAX;
    long first = -1, last = -1, i = 0;
    for (size_t p = 0; p <= n; i++) {
        size_t q = p;
        while (q < n && b[q] != '\n')
            q++;
        size_t indent = 0;
        while (p + indent < q && (b[p + indent] == ' ' || b[p + indent] == '\t'))
            indent++;
        if (indent < q - p) {
            if (first < 0) first = i;
            last = i;
            if (i != 0 && indent < common) common = indent;
        }
        p = q + 1;
    }
    if (first < 0) return 0;
    size_t w = 0;
    i = 0;
    for (size_t p = 0; p <= n; i++) {
        size_t q = p;
        while (q < n && b[q] != '\n')
            q++;
        if (i >= first && i <= last) {
            size_t from = p;
            if (i != 0) from = (q - p) < common ? q : p + common;
            if (i > first) b[w++] = '\n';
            memmove(b + w, b + from, q - from);
            w += q - from;
        }
        p = q + 1;
    }
    return w;
}

static int read_comment(gql_lexer *lx, size_t start, gql_token *t, err_t *e) {
    size_t pos = start + 1;
    while (pos < lx->len) {
        int c = at(lx, pos);
        if (c == '\n' || c == '\r') break;
        int l = source_char(lx, pos);
        if (l == 0) break;
        pos += (size_t)l;
    }
    return make_token(lx, t, GQL_TOK_COMMENT, start, pos, lx->src + start + 1, pos - start - 1, e);
}

static int oom(gql_lexer *lx, err_t *e, size_t pos) {
    lx->err_offset = pos;
    gql_lex_location(lx->src, lx->len, pos, &lx->err_line, &lx->err_column);
    return err_set(e, 500, "out_of_memory", "", "Out of memory while parsing the document.");
}

int gql_lex_next(gql_lexer *lx, gql_token *t, err_t *e) {
    char d[48];
    size_t pos = lx->pos;
    while (pos < lx->len) {
        int c = at(lx, pos);
        gql_token_kind k;
        switch (c) {
        case '\t':
        case ' ':
        case ',':
            pos++;
            continue;
        case 0xEF:
            if (at(lx, pos + 1) == 0xBB && at(lx, pos + 2) == 0xBF) { /* BOM */
                pos += 3;
                continue;
            }
            goto other;
        case '\n':
            pos++;
            lx->line++;
            lx->line_start = pos;
            continue;
        case '\r':
            pos += at(lx, pos + 1) == '\n' ? 2 : 1;
            lx->line++;
            lx->line_start = pos;
            continue;
        case '#':
            return read_comment(lx, pos, t, e);
        case '!':
            k = GQL_TOK_BANG;
            goto punct;
        case '$':
            k = GQL_TOK_DOLLAR;
            goto punct;
        case '&':
            k = GQL_TOK_AMP;
            goto punct;
        case '(':
            k = GQL_TOK_PAREN_L;
            goto punct;
        case ')':
            k = GQL_TOK_PAREN_R;
            goto punct;
        case ':':
            k = GQL_TOK_COLON;
            goto punct;
        case '=':
            k = GQL_TOK_EQUALS;
            goto punct;
        case '@':
            k = GQL_TOK_AT;
            goto punct;
        case '[':
            k = GQL_TOK_BRACKET_L;
            goto punct;
        case ']':
            k = GQL_TOK_BRACKET_R;
            goto punct;
        case '{':
            k = GQL_TOK_BRACE_L;
            goto punct;
        case '|':
            k = GQL_TOK_PIPE;
            goto punct;
        case '}':
            k = GQL_TOK_BRACE_R;
            goto punct;
        case '.':
            if (at(lx, pos + 1) == '.' && at(lx, pos + 2) == '.')
                return make_token(lx, t, GQL_TOK_SPREAD, pos, pos + 3, NULL, 0, e);
            goto other;
        case '"':
            if (at(lx, pos + 1) == '"' && at(lx, pos + 2) == '"') {
                size_t end, last_line, n;
                uint32_t lines;
                if (read_block_raw(lx, pos, NULL, NULL, &end, &lines, &last_line, e)) return -1;
                char *buf = lx->arena ? gql_arena_alloc(lx->arena, end - pos) : NULL;
                if (!buf) return oom(lx, e, pos);
                read_block_raw(lx, pos, buf, &n, &end, &lines, &last_line, e);
                n = block_dedent(buf, n);
                buf[n] = '\0';
                if (make_token(lx, t, GQL_TOK_BLOCK_STRING, pos, end, buf, n, e)) return -1;
                lx->line += lines - 1;
                lx->line_start = last_line;
                return 0;
            } else {
                size_t end, n;
                if (read_string(lx, pos, NULL, NULL, &end, e)) return -1;
                char *buf = lx->arena ? gql_arena_alloc(lx->arena, end - pos) : NULL;
                if (!buf) return oom(lx, e, pos);
                read_string(lx, pos, buf, &n, &end, e);
                buf[n] = '\0';
                return make_token(lx, t, GQL_TOK_STRING, pos, end, buf, n, e);
            }
        default:
            goto other;
        }
    punct:
        return make_token(lx, t, k, pos, pos + 1, NULL, 0, e);
    other:
        if (is_digit(c) || c == '-') return read_number(lx, pos, t, e);
        if (is_name_start(c)) {
            size_t end = pos + 1;
            while (end < lx->len && is_name_continue(at(lx, end)))
                end++;
            return make_token(lx, t, GQL_TOK_NAME, pos, end, lx->src + pos, end - pos, e);
        }
        if (c == '\'')
            return gql_lex_error(
                lx, e, pos,
                "Unexpected single quote character ('), did you mean to use a double quote (\")?");
        uint32_t cp;
        int l = gql_lex_utf8_decode((const unsigned char *)lx->src + pos, lx->len - pos, &cp);
        if (l == 0 || !is_scalar(cp))
            return gql_lex_error(lx, e, pos, "Invalid character: %s.",
                                 describe_at(lx, pos, d, sizeof d));
        return gql_lex_error(lx, e, pos, "Unexpected character: %s.",
                             describe_at(lx, pos, d, sizeof d));
    }
    lx->pos = pos;
    return make_token(lx, t, GQL_TOK_EOF, lx->len, lx->len, NULL, 0, e);
}
