/* members_search: see members_search.h. */
#include "services/member/members_search.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cursor.h"
#include "core/json.h"
#include "services/member/members_lifecycle.h"

/* ---- validation ---- */

int members_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id",       "limit", "after", "status",
                                       "category",      "q",     "sort",  "expires_before",
                                       "expires_after", NULL};
    static const char *const sorts[] = {
        "created_at", "-created_at", "member_number", "-member_number", "name", "-name",
        "joined_on",  "-joined_on",  "expires_on",    "-expires_on",    NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (member_valid_club_ref(in, e) != 0) return -1;
    const char *s;
    if (cursor_page_validate(in, e) != 0) return -1;
    if (jsonx_enum(in, "status", 0, members_status_values, &s, e) != 0) return -1;
    if (jsonx_string(in, "category", 0, 1, 40, &s, e) != 0) return -1;
    if (jsonx_string(in, "q", 0, 1, 200, &s, e) != 0) return -1;
    if (jsonx_enum(in, "sort", 0, sorts, &s, e) != 0) return -1;
    if (member_valid_date(in, "expires_before", e) != 0) return -1;
    return member_valid_date(in, "expires_after", e);
}

int members_validate_directory(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", "limit", "after", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (cursor_page_validate(in, e) != 0) return -1;
    return member_valid_club_ref(in, e);
}

/* ---- list / search ---- */

/* key: the sort expression (its text is the cursor key); cast: the cursor key parameter as
 * the same type. created_at sorts on the column itself, so the default listing walks the index
 * (club_id, created_at, id) under RLS (timestamptz/uuid comparisons are leakproof) instead of
 * sorting the whole club; the others are text keys in the C collation. */
static const struct {
    const char *name;
    const char *key;
    const char *cast;
    const char *id; /* the member id beside the key in the order and the cursor */
} sort_keys[] = {
    {"created_at", "m.created_at", "::timestamptz", "m.id"},
    {"member_number", "lower(m.member_number) COLLATE \"C\"", "::text COLLATE \"C\"", "m.id"},
    /* = lower(p.last_name || ' ' || p.first_name) COLLATE "C" (a stored column, migration
     * 0006): with p.member_id, the order and the cursor of the index profiles_name_key_idx */
    {"name", "p.name_key", "::text COLLATE \"C\"", "p.member_id"},
    {"joined_on", "to_char(m.joined_on, 'YYYY-MM-DD') COLLATE \"C\"", "::text COLLATE \"C\"",
     "m.id"},
    {"expires_on", "coalesce(to_char(m.expires_on, 'YYYY-MM-DD'), '9999-12-31') COLLATE \"C\"",
     "::text COLLATE \"C\"", "m.id"},
};

#define MAX_SEARCH_WORDS 8

static int is_word_byte(char c) {
    unsigned char ch = (unsigned char)c;
    return isalnum(ch) || ch >= 0x80;
}

/* Splits q into its words (letters, digits, any non-ASCII byte; other characters split
 * words), at most MAX_SEARCH_WORDS (later ones are ignored). buf receives the NUL-terminated
 * copies and needs strlen(q) + 1 bytes. Returns the number of words. */
static int split_words(const char *q, char *buf, const char *words[MAX_SEARCH_WORDS]) {
    int n = 0;
    size_t o = 0;
    const char *p = q;
    while (*p && n < MAX_SEARCH_WORDS) {
        while (*p && !is_word_byte(*p))
            p++;
        if (!*p) break;
        words[n++] = buf + o;
        while (*p && is_word_byte(*p))
            buf[o++] = *p++;
        buf[o++] = '\0';
    }
    return n;
}

/* The page's documents: the stored staff view (M_DOC_STORED_JOIN, migration 0012) of m, joined
 * as d, or of a LATERAL row x; every list and search answers staff (member:read). */
static const char k_doc_m[] = "d.doc";
static const char k_doc_x[] = "x.doc";
#define M_JOIN_DOC M_DOC_STORED_JOIN("m.club_id", "m.id")

/* One list/search statement: its text and parameters (pointing into in, and into this). */
typedef struct list_sql {
    char sql[12288];
    const char *p[16 + MAX_SEARCH_WORDS];
    int np;
    cursor_t cur; /* the decoded in.after */
    char qbuf[1024];
} list_sql_t;

/* The sort a list uses: in.sort, else "match" for a search (the match order, below) and
 * "created_at" for a listing. */
static const char *list_sort(json_t *in) {
    const char *sort = json_string_value(json_object_get(in, "sort"));
    if (sort) return sort;
    return json_object_get(in, "q") ? "match" : "created_at";
}

/* A members cursor is valid with its own sort only: the list it names is "members:<sort>". */
static const char *cursor_list(char *buf, size_t cap, const char *sort) {
    snprintf(buf, cap, "members:%s", sort);
    return buf;
}

/* Its keys: the sort key (created_at: a timestamp, else text) and the member id. */
static const char *cursor_types(const char *sname) {
    return strcmp(sname, "created_at") == 0 ? "Tu" : "tu";
}

/* Adds a parameter; returns its number ($n). */
static int list_param(list_sql_t *s, const char *v) {
    s->p[s->np++] = v;
    return s->np;
}

/* Adds the words of q (kw[i]: the parameter of words[i]) and then q itself as parameters;
 * returns q's. Word i of q is a prefix of a word of the member w.member_id when its first word
 * >= the prefix is below the prefix's end (NULL: no such word): a scalar sub-select, so always a
 * per-row probe of search_words_member_word_idx (LIMIT 1 on the index): EXISTS was turned into a
 * hashed sub-plan or an anti-join that read the whole prefix range once. Writes into all every
 * word's probe joined by AND, into others "AND <probe> " for each word but d (the driving one). */
static int word_params(list_sql_t *s, const char *q, const char *const *words, int nw, int d,
                       int *kw, char *all, size_t acap, char *others, size_t ocap) {
    for (int i = 0; i < nw; i++)
        kw[i] = list_param(s, words[i]);
    int kq = list_param(s, q);
    size_t ao = 0, oo = 0;
    for (int i = 0; i < nw; i++) {
        char x[360];
        snprintf(x, sizeof x,
                 "(SELECT o.word FROM member.search_words o WHERE o.club_id = core.current_club() "
                 "AND o.member_id = w.member_id AND o.kind = 'w' AND o.word >= (SELECT lower($%d)) "
                 "COLLATE \"C\" ORDER BY o.word LIMIT 1) < (SELECT lower($%d) || chr(1114111)) "
                 "COLLATE \"C\"",
                 kw[i], kw[i]);
        ao += (size_t)snprintf(all + ao, acap - ao, "%s%s", i ? " AND " : "", x);
        if (i != d) oo += (size_t)snprintf(others + oo, ocap - oo, "AND %s ", x);
    }
    return kq;
}

/* The match order (a search without sort): the work is bounded by the page, not by the number
 * of matches. Each member is listed once, at (k, member id), k being the smallest word of the
 * member that the driving word of q is a prefix of (the longest word of q, the first of equal
 * ones: a fixed choice, so a cursor stays valid), or, for a member found only by its number,
 * its lower-case member number. Both are ranges of the primary key index of search_words
 * (club_id, kind, word, member_id), read in that order (a Merge Append of two index range
 * scans) and stopped once the page is full: the (k, member_id) order is the index's. Per row
 * read, index-only probes of search_words_member_word_idx (club_id, member_id, kind, word,
 * migration 0009; the first word of the member >= a prefix, LIMIT 1) drop a member's later
 * words (it is listed at its first), check the other words of q, and drop number matches that
 * the words already list. Then each row's member and
 * profile are read by primary key (LATERAL, OFFSET 0) until the filters have let the page
 * through. Every bound is an InitPlan (one generic plan per connection). */
static int match_sql(list_sql_t *s, const char *q, const char *filters, int after, const char *lim,
                     int explain) {
    const char *words[MAX_SEARCH_WORDS];
    int nw = strlen(q) < sizeof s->qbuf ? split_words(q, s->qbuf, words) : 0;
    int d = 0;
    for (int i = 1; i < nw; i++)
        if (strlen(words[i]) > strlen(words[d])) d = i;
    int kw[MAX_SEARCH_WORDS];
    /* all: every word of q; others: every word but the driving one */
    char all[4096] = "", others[4096] = "";
    int kq = word_params(s, q, words, nw, d, kw, all, sizeof all, others, sizeof others);
    char cur[160] = "";
    if (after) {
        int k = list_param(s, s->cur.key[0]), ki = list_param(s, s->cur.key[1]);
        snprintf(cur, sizeof cur,
                 "AND (w.word, w.member_id) > ($%d::text COLLATE \"C\", $%d::uuid) ", k, ki);
    }
    char hits[8192] = "";
    size_t o = 0;
    if (nw) {
        /* the driving word's range, the member's first such word, the other words */
        o += (size_t)snprintf(
            hits + o, sizeof hits - o,
            "(SELECT w.word AS k, w.member_id FROM member.search_words w WHERE w.club_id = "
            "core.current_club() AND w.kind = 'w' AND w.word >= (SELECT lower($%d)) COLLATE \"C\" "
            "AND w.word < (SELECT lower($%d) || chr(1114111)) COLLATE \"C\" %sAND w.word = "
            "(SELECT e.word FROM member.search_words e WHERE e.club_id = core.current_club() AND "
            "e.member_id = w.member_id AND e.kind = 'w' AND e.word >= (SELECT lower($%d)) COLLATE "
            "\"C\" ORDER BY e.word LIMIT 1) %sORDER BY 1, 2) UNION ALL ",
            kw[d], kw[d], cur, kw[d], others);
    }
    /* the member numbers q is a prefix of, of members the words do not list */
    char excl[4200] = "";
    if (nw) snprintf(excl, sizeof excl, "AND NOT coalesce(%s, false) ", all);
    snprintf(hits + o, sizeof hits - o,
             "(SELECT w.word AS k, w.member_id FROM member.search_words w WHERE w.club_id = "
             "core.current_club() AND w.kind = 'n' AND w.word >= (SELECT lower($%d)) COLLATE \"C\" "
             "AND w.word < (SELECT lower($%d) || chr(1114111)) COLLATE \"C\" %s%sORDER BY 1, 2)",
             kq, kq, cur, excl);
    size_t so = (size_t)snprintf(s->sql, sizeof s->sql, "%s",
                                 explain ? "EXPLAIN (ANALYZE, FORMAT JSON) " : "");
    snprintf(s->sql + so, sizeof s->sql - so,
             "SELECT %s, x.k, x.id "
             "FROM (SELECT h.k, h.member_id FROM (%s) h ORDER BY h.k, h.member_id%s%s) h "
             "CROSS JOIN LATERAL (SELECT d.doc, h.k AS k, m.id FROM member.members m " M_JOIN_DOC
             "WHERE m.club_id = core.current_club() AND m.id = h.member_id %sOFFSET 0) x "
             "ORDER BY h.k, h.member_id LIMIT %s",
             k_doc_x, hits, filters[0] ? "" : " LIMIT ", filters[0] ? "" : lim, filters, lim);
    return 0;
}

/* Number of UTF-8 characters of w (bytes other than continuation bytes). */
static size_t utf8_chars(const char *w) {
    size_t n = 0;
    for (; *w; w++)
        n += ((unsigned char)*w & 0xC0) != 0x80;
    return n;
}

/* A search sorted by name (name / -name): the work is bounded by the page, not by the number of
 * matches. The driving word is the longest word of q (in characters, the first of equal ones).
 * The name rows (kind 'w') of one word3 (a word's first three characters, migration 0011) are
 * one range of search_words_name_prefix_idx (club_id, word3, name_key, member_id, word) WHERE
 * kind = 'w', in name order:
 * - a driving word of 3+ characters: the range of its first three characters, walked in name
 *   order with the whole prefix checked on each index tuple (word >= p AND word < p ||
 *   U+10FFFF, an index condition), a member's several matching words merged by a Unique over
 *   that order (they are adjacent), the other words of q probed per row (word_params), stopped
 *   once the page is full;
 * - a driving word of 1-2 characters (without filters): the word3 values it is a prefix of
 *   (a loose index scan: a recursive CTE, one index descent per value: ORDER BY word3 LIMIT 1,
 *   not min(), which on a small or freshly analyzed club was planned as an aggregate over the
 *   whole range), the first page of each
 *   one's range (its distinct members, as above), then the page of all those: a member on the
 *   page is among the first limit members of every range it is in. The work is bounded by the
 *   page times the number of such word3 values (at most a few hundred after one character).
 * Member number matches (kind 'n', no name key) of members the words do not list are looked up
 * in profiles and sorted, as before, and merged in (they are few unless q is mostly a member
 * number). The rows, order and cursors are those of the sorting search in list_sql (same set:
 * the words' rows UNION the number rows; same key: the profile's name_key, which the name rows
 * carry). Returns 0 when it does not apply (no word; a short one with filters), else 1 with
 * s->sql written. */
static int name_prefix_sql(list_sql_t *s, const char *q, const char *filters, int after,
                           const char *lim, int desc, int explain) {
    const char *words[MAX_SEARCH_WORDS];
    int nw = strlen(q) < sizeof s->qbuf ? split_words(q, s->qbuf, words) : 0;
    int d = 0;
    for (int i = 1; i < nw; i++)
        if (utf8_chars(words[i]) > utf8_chars(words[d])) d = i;
    if (nw == 0) return 0;
    int walk = utf8_chars(words[d]) >= 3;
    if (!walk && filters[0]) return 0;
    int kw[MAX_SEARCH_WORDS];
    char all[4096] = "", others[4096] = "";
    int kq = word_params(s, q, words, nw, d, kw, all, sizeof all, others, sizeof others);
    const char *dir = desc ? "DESC" : "ASC", *cmp = desc ? "<" : ">";
    char cur[200] = "", ncur[360] = "";
    if (after) {
        int k = list_param(s, s->cur.key[0]), ki = list_param(s, s->cur.key[1]);
        snprintf(cur, sizeof cur,
                 "AND (w.name_key, w.member_id) %s ($%d::text COLLATE \"C\", $%d::uuid) ", cmp, k,
                 ki);
        snprintf(ncur, sizeof ncur,
                 "WHERE (n.k, n.member_id) %s ($%d::text COLLATE \"C\", $%d::uuid) ", cmp, k, ki);
    }
    /* the driving word's prefix range (lo, hi) and its name rows of one word3 (%s: its value) */
    char lo[48], hi[64], rows[4800 + 512];
    snprintf(lo, sizeof lo, "(SELECT lower($%d))", kw[d]);
    snprintf(hi, sizeof hi, "(SELECT lower($%d) || chr(1114111))", kw[d]);
    char w3[48];
    snprintf(w3, sizeof w3, walk ? "(SELECT left(lower($%d), 3))" : "t.p", kw[d]);
    snprintf(rows, sizeof rows,
             "SELECT DISTINCT w.name_key AS k, w.member_id FROM member.search_words w WHERE "
             "w.club_id = core.current_club() AND w.kind = 'w' AND w.word3 = %s COLLATE \"C\" AND "
             "w.word >= %s COLLATE \"C\" AND w.word < %s COLLATE \"C\" %s%sORDER BY 1 %s, 2 %s",
             w3, lo, hi, cur, others, dir, dir);
    char hits[6400];
    if (walk)
        snprintf(hits, sizeof hits, "(%s)", rows);
    else
        snprintf(hits, sizeof hits,
                 "(SELECT DISTINCT s.k, s.member_id FROM (WITH RECURSIVE t(p) AS ("
                 "SELECT (SELECT w.word3 FROM member.search_words w WHERE w.club_id = "
                 "core.current_club() AND w.kind = 'w' AND w.word3 >= %s COLLATE \"C\" AND "
                 "w.word3 < %s COLLATE \"C\" ORDER BY w.word3 LIMIT 1) UNION ALL SELECT (SELECT "
                 "w.word3 FROM member.search_words w WHERE w.club_id = core.current_club() AND "
                 "w.kind = 'w' AND w.word3 > t.p AND w.word3 < %s COLLATE \"C\" ORDER BY w.word3 "
                 "LIMIT 1) FROM t WHERE t.p IS NOT NULL) "
                 "SELECT t.p FROM t WHERE t.p IS NOT NULL) t CROSS JOIN LATERAL (%s LIMIT %s) s "
                 "ORDER BY 1 %s, 2 %s)",
                 lo, hi, hi, rows, lim, dir, dir);
    static const char lookup[] = "(SELECT p.name_key FROM member.profiles p WHERE p.club_id = "
                                 "core.current_club() AND p.member_id = w.member_id)";
    size_t so = (size_t)snprintf(s->sql, sizeof s->sql, "%s",
                                 explain ? "EXPLAIN (ANALYZE, FORMAT JSON) " : "");
    snprintf(
        s->sql + so, sizeof s->sql - so,
        "SELECT %s, x.k, x.id "
        "FROM (SELECT h.k, h.member_id FROM (%s UNION ALL "
        "(SELECT n.k, n.member_id FROM (SELECT %s AS k, w.member_id FROM member.search_words w "
        "WHERE w.club_id = core.current_club() AND w.kind = 'n' AND w.word >= (SELECT "
        "lower($%d)) COLLATE \"C\" AND w.word < (SELECT lower($%d) || chr(1114111)) COLLATE "
        "\"C\" AND NOT coalesce(%s, false) OFFSET 0) n %sORDER BY 1 %s, 2 %s)) h "
        "ORDER BY h.k %s, h.member_id %s%s%s) h "
        "CROSS JOIN LATERAL (SELECT d.doc, h.k AS k, m.id FROM member.members m " M_JOIN_DOC
        "WHERE m.club_id = core.current_club() AND m.id = h.member_id %sOFFSET 0) x "
        "ORDER BY h.k %s, h.member_id %s LIMIT %s",
        k_doc_x, hits, lookup, kq, kq, all, ncur, dir, dir, dir, dir, filters[0] ? "" : " LIMIT ",
        filters[0] ? "" : lim, filters, dir, dir, lim);
    return 1;
}

/* Builds the statement of a list/search (explain: EXPLAIN (ANALYZE, FORMAT JSON) of it). Only the
 * filters present are in the text, and the limit is a literal: a prepared statement then gets
 * a generic plan (planned once per connection) instead of a custom plan per execution, which
 * PostgreSQL otherwise keeps choosing because "$n IS NULL OR ..." conditions and a parameter
 * LIMIT make the generic plan look expensive. 0, or -1 with *e (invalid cursor). */
static int list_sql(list_sql_t *s, json_t *in, long long limit, int explain, err_t *e) {
    const char *sort = list_sort(in);
    int desc = sort[0] == '-';
    const char *sname = desc ? sort + 1 : sort;
    const char *key = sort_keys[0].key, *cast = sort_keys[0].cast, *kid = sort_keys[0].id;
    for (size_t i = 0; i < sizeof sort_keys / sizeof sort_keys[0]; i++)
        if (strcmp(sort_keys[i].name, sname) == 0)
            key = sort_keys[i].key, cast = sort_keys[i].cast, kid = sort_keys[i].id;
    s->np = 0;
    const char *after = json_string_value(json_object_get(in, "after"));
    char clist[48];
    if (after && cursor_decode(after, cursor_list(clist, sizeof clist, sort), cursor_types(sname),
                               "after", &s->cur, e) != 0)
        return -1;
    const char *q = json_string_value(json_object_get(in, "q"));
    /* the filters present, on m */
    char filters[1024] = "";
    size_t fo = 0;
    static const struct {
        const char *field, *fmt;
    } fs[] = {
        {"status", "AND m.status = $%d::member.member_status_enum "},
        {"category", "AND m.category = $%d::text "},
        {"expires_before", "AND m.expires_on < $%d::date "},
        {"expires_after", "AND m.expires_on > $%d::date "},
    };
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        const char *v = json_string_value(json_object_get(in, fs[i].field));
        if (v)
            fo += (size_t)snprintf(filters + fo, sizeof filters - fo, fs[i].fmt, list_param(s, v));
    }
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", limit > 0 ? limit : 1000000000LL);
    if (q && strcmp(sname, "match") == 0)
        return match_sql(s, q, filters, after != NULL, lim, explain);
    if (q && strcmp(sname, "name") == 0 &&
        name_prefix_sql(s, q, filters, after != NULL, lim, desc, explain))
        return 0;
    /* Text search on member.search_words (migrations 0004, 0005): under RLS only leakproof
     * comparisons of plain columns can be index conditions. Every word of q must be a prefix
     * of a word of the member's names/email (one range per word, INTERSECT), or q a prefix of
     * the member number (UNION). A prefix p is [lower(p), lower(p) || U+10FFFF) in the C
     * collation. The set yields (member_id, created_at) or (member_id, name_key): the word
     * rows carry their member's created_at (0005) and the name rows (kind w) their profile's
     * name_key (0007) in the primary key index. */
    char hits[4096] = ""; /* q: <= 200 code points = 800 bytes */
    const char *words[MAX_SEARCH_WORDS];
    int nw = 0, by_created = q && strcmp(sname, "created_at") == 0;
    int by_name = q && strcmp(sname, "name") == 0;
    const char *cols = by_created ? "member_id, w.created_at"
                       : by_name  ? "member_id, w.name_key"
                                  : "member_id";
    /* member number rows carry no name key (0007): looked up in profiles per match */
    const char *ncols = by_name ? "member_id, (SELECT p.name_key FROM member.profiles p WHERE "
                                  "p.club_id = core.current_club() AND p.member_id = w.member_id)"
                                : cols;
    if (q) {
        nw = strlen(q) < sizeof s->qbuf ? split_words(q, s->qbuf, words) : 0;
        /* Prefixes of 3+ bytes: the bounds are uncorrelated sub-selects (InitPlans), so the
         * planner estimates them without their values in every plan, custom or generic, and
         * the prepared statement keeps one generic plan (a custom plan per execution was a
         * third of the database time of a search). Such prefixes are selective and the plan
         * is the same either way. Shorter ones (`s`, `m0`) can match most of the club: there
         * the values are plain parameters, planned with the word statistics each time. */
        int selective = strlen(q) >= 3;
        for (int i = 0; i < nw; i++)
            if (strlen(words[i]) < 3) selective = 0;
        char lo_k[64], hi_k[64];
        size_t o = 0;
        for (int i = 0; i <= nw; i++) {
            int k = list_param(s, i < nw ? words[i] : q);
            snprintf(lo_k, sizeof lo_k, selective ? "(SELECT lower($%d))" : "lower($%d)", k);
            snprintf(hi_k, sizeof hi_k,
                     selective ? "(SELECT lower($%d) || chr(1114111))"
                               : "(lower($%d) || chr(1114111))",
                     k);
            if (i < nw)
                o += (size_t)snprintf(hits + o, sizeof hits - o,
                                      "%s(SELECT w.%s FROM member.search_words w WHERE w.club_id = "
                                      "core.current_club() AND w.kind = 'w' AND w.word >= %s "
                                      "COLLATE \"C\" AND w.word < %s COLLATE \"C\") ",
                                      i ? "INTERSECT " : "", cols, lo_k, hi_k);
            else
                snprintf(hits + o, sizeof hits - o,
                         "%sSELECT w.%s FROM member.search_words w WHERE w.club_id = "
                         "core.current_club() AND w.kind = 'n' AND w.word >= %s COLLATE \"C\" AND "
                         "w.word < %s COLLATE \"C\"",
                         nw ? "UNION " : "", ncols, lo_k, hi_k);
        }
    }
    char cur[256] = "";
    if (after) {
        int k = list_param(s, s->cur.key[0]), ki = list_param(s, s->cur.key[1]);
        snprintf(cur, sizeof cur, "AND (%s, %s) %s ($%d%s, $%d::uuid) ",
                 by_created ? "h.created_at"
                 : by_name  ? "h.name_key"
                 : q        ? "x.k"
                            : key,
                 by_created || by_name ? "h.member_id"
                 : q                   ? "x.id"
                                       : kid,
                 desc ? "<" : ">", k, by_created ? "::timestamptz" : cast, ki);
    }
    const char *dir = desc ? "DESC" : "ASC";
    size_t so = (size_t)snprintf(s->sql, sizeof s->sql, "%s",
                                 explain ? "EXPLAIN (ANALYZE, FORMAT JSON) " : "");
    if (by_created)
        /* Search in the default order: the matches and their sort key come from the index
         * alone (no member row is read to sort them); sorted there, they drive primary-key
         * lookups of members (and profiles) in that order until the page is full, so a page
         * reads its own members plus the ones the filters reject, not every match. The order
         * (h.created_at, h.member_id) is (m.created_at, m.id): the triggers keep the copy.
         * Without filters every match is on the page in that order (every word row has its
         * member, foreign key, and every member its profile, inserted together, never
         * deleted), so the matches are cut to the page before the join too: a bounded (top-N)
         * sort instead of sorting them all. */
        snprintf(s->sql + so, sizeof s->sql - so,
                 "SELECT %s, m.created_at, m.id "
                 "FROM (SELECT h.member_id, h.created_at FROM (%s) h WHERE TRUE %s"
                 "ORDER BY h.created_at %s, h.member_id %s%s%s) h "
                 "JOIN member.members m ON m.club_id = core.current_club() AND m.id = "
                 "h.member_id " M_JOIN_DOC
                 "WHERE TRUE %sORDER BY h.created_at %s, h.member_id %s LIMIT %s",
                 k_doc_m, hits, cur, dir, dir, filters[0] ? "" : " LIMIT ", filters[0] ? "" : lim,
                 filters, dir, dir, lim);
    else if (by_name)
        /* Search by name: the same with the name key the word rows carry (0007): the matches
         * sorted on (name_key, member_id) from the index alone, then each one's member and
         * profile read by primary key in that order (LATERAL, OFFSET 0: always a
         * parameterised nested loop, whatever the statistics) until the filters have let the
         * page through; without filters the matches are cut to the page first. The order and
         * the cursor (h.name_key, h.member_id) are (p.name_key, p.member_id): the profiles
         * trigger keeps the copy in the name rows, number matches look it up (ncols). */
        snprintf(s->sql + so, sizeof s->sql - so,
                 "SELECT %s, x.k, x.id "
                 "FROM (SELECT h.member_id, h.name_key FROM (%s) h WHERE TRUE %s"
                 "ORDER BY h.name_key %s, h.member_id %s%s%s) h "
                 "CROSS JOIN LATERAL (SELECT d.doc, h.name_key AS k, m.id FROM member.members "
                 "m " M_JOIN_DOC "WHERE m.club_id = core.current_club() AND m.id = h.member_id "
                 "%sOFFSET 0) x "
                 "ORDER BY h.name_key %s, h.member_id %s LIMIT %s",
                 k_doc_x, hits, cur, dir, dir, filters[0] ? "" : " LIMIT ", filters[0] ? "" : lim,
                 filters, dir, dir, lim);
    else if (q)
        /* Search in another order: each match's member and profile are read by primary key
         * (a LATERAL subquery kept apart by OFFSET 0, so always a parameterised nested loop:
         * joined as sets, PostgreSQL chose a sequential scan of every member of the club and
         * a hash join, evaluating the RLS condition per row: ~45 ms at 100,000 members), the
         * matches sorted on their key, and the documents built for the page only (the
         * document expression is evaluated after the sort and limit). x.m and x.p are whole
         * rows. */
        snprintf(s->sql + so, sizeof s->sql - so,
                 "SELECT %s, x.k, x.id FROM (%s) h "
                 "CROSS JOIN LATERAL (SELECT d.doc, %s AS k, m.id FROM member.members m " M_JOIN_DOC
                 "WHERE m.club_id = core.current_club() AND m.id = h.member_id %sOFFSET 0) x "
                 "WHERE TRUE %sORDER BY 2 %s, 3 %s LIMIT %s",
                 k_doc_x, hits, key, filters, cur, dir, dir, lim);
    else if (strcmp(sname, "name") == 0)
        /* The list by name walks profiles_name_key_idx (club_id, name_key, member_id) and reads
         * each profile's member by primary key (LATERAL, OFFSET 0: always a parameterised
         * nested loop) until the filters have let the page through. As a plain join the plan
         * depended on the statistics: right after a bulk import, before autovacuum had
         * analyzed the tables, PostgreSQL estimated a few hundred members in the club,
         * materialised all of them (100,000) and compared every page row with each: ~170 ms
         * per page (p99 over 1 s in make bench) instead of ~1 ms. Every profile has its member
         * (foreign key), so the rows are those of the join. */
        snprintf(s->sql + so, sizeof s->sql - so,
                 "SELECT %s, p.name_key, p.member_id FROM member.profiles p "
                 "CROSS JOIN LATERAL (SELECT d.doc FROM member.members m " M_JOIN_DOC
                 "WHERE m.club_id = core.current_club() AND m.id = p.member_id %sOFFSET 0) x "
                 "WHERE p.club_id = core.current_club() %sORDER BY 2 %s, 3 %s LIMIT %s",
                 k_doc_x, filters, cur, dir, dir, lim);
    else
        snprintf(s->sql + so, sizeof s->sql - so,
                 "SELECT %s, %s, m.id FROM member.members m " M_JOIN_DOC "WHERE m.club_id = "
                 "core.current_club() %s%sORDER BY 2 %s, %s %s LIMIT %s",
                 k_doc_m, key, filters, cur, dir, kid, dir, lim);
    return 0;
}

static PGresult *list_query(db_tx_t *tx, json_t *in, long long limit, int explain, err_t *e) {
    list_sql_t *s = malloc(sizeof *s);
    if (!s) {
        err_set(e, 500, "internal", "", "out of memory");
        return NULL;
    }
    PGresult *r =
        list_sql(s, in, limit, explain, e) == 0 ? db_exec(tx, s->sql, s->np, s->p, e) : NULL;
    free(s);
    return r;
}

PGresult *members_query(db_tx_t *tx, json_t *in, long long limit, err_t *e) {
    return list_query(tx, in, limit, 0, e);
}

PGresult *members_query_plan(db_tx_t *tx, json_t *in, long long limit, err_t *e) {
    return list_query(tx, in, limit, 1, e);
}

int members_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    db_scope_t scope;
    int named = 0;
    long long limit = 20;
    jsonx_int(in, "limit", 0, 1, 100, 20, &limit, e);
    if (member_prepare(call, in, &c, &scope, &named, e) != 0) return -1;
    /* One round trip (db_read: the read-only scope and the statement). A club named by
     * the caller is checked only when the answer could depend on it (no rows, or an error):
     * in a club that does not exist RLS shows no rows, and member_begin answered 404 club_id. */
    list_sql_t *s = malloc(sizeof *s);
    if (!s) return err_set(e, 500, "internal", "", "out of memory");
    PGresult *r = list_sql(s, in, limit + 1, 0, e) == 0
                      ? db_read(call->env->db, &scope, s->sql, s->np, s->p, e)
                      : NULL;
    free(s);
    if ((!r || PQntuples(r) == 0) && named && member_require_club(&c, &scope, e) != 0) {
        PQclear(r);
        return -1;
    }
    if (!r) return -1;
    const char *sort = list_sort(in);
    const char *sname = sort[0] == '-' ? sort + 1 : sort;
    char clist[48];
    *out = cursor_page_output(r, limit, cursor_list(clist, sizeof clist, sort), cursor_types(sname),
                              e);
    PQclear(r);
    return *out ? 0 : members_fail(&c, out);
}

/* ---- directory ---- */

int members_directory(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    cursor_page_t pg;
    if (member_begin(call, in, &c, e) != 0) return -1;
    if (!c.can_read) { /* members of the club only: an active member linked to the caller */
        char id[40];
        if (members_find_self(&c, id, e) != 0) {
            if (e->status == 404)
                err_set(e, 403, "forbidden", "", "the directory is for members of this club");
            return members_fail(&c, out);
        }
    }
    if (cursor_page_begin(in, 20, "directory", "tu", &pg, e) != 0) return members_fail(&c, out);
    const char *p[] = {cursor_page_key(&pg, 0), cursor_page_key(&pg, 1), pg.fetch};
    PGresult *r = db_exec(
        c.tx,
        "SELECT jsonb_build_object('id', m.id, 'member_number', m.member_number, 'display_name', "
        "coalesce(p.preferred_name, p.first_name) || ' ' || p.last_name, 'category', m.category, "
        "'photo_url', p.photo_url)::text, lower(p.last_name || ' ' || p.first_name) COLLATE \"C\", "
        "m.id FROM member.members m JOIN member.profiles p ON p.club_id = m.club_id AND "
        "p.member_id = m.id WHERE m.club_id = core.current_club() AND m.directory_opt_in AND "
        "m.status = 'active' AND m.erased_at IS NULL AND ($1::text IS NULL OR "
        "(lower(p.last_name || ' ' || p.first_name) COLLATE \"C\", m.id) > ($1::text COLLATE "
        "\"C\", $2::uuid)) ORDER BY 2, m.id LIMIT $3::bigint",
        3, p, e);
    if (!r) return members_fail(&c, out);
    *out = cursor_page_output(r, pg.limit, "directory", "tu", e);
    PQclear(r);
    if (!*out) return members_fail(&c, out);
    return member_commit(&c, e) == 0 ? 0 : members_fail(&c, out);
}
