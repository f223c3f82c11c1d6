/* statement_doc: see statement_doc.h. */
#include "services/reciprocal/statement_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/strbuf.h"
#include "lib/csv/csv.h"
#include "services/reciprocal/fees.h"

/* One statement: the statement's columns (H_*) on the row of its first line (or alone when it
 * has none), then each line's columns (L_*, in jsonb's key order) in visit then posting order.
 * A line's currency, clubs, payment mode and statement are the statement's (open_statement
 * files a line under its own pair and currency; only bill_home_club lines have a statement):
 * written from the statement's columns, not sent once per line. */
#define DOC_SQL                                                                                    \
    "SELECT h.id, h.hash, h.ledger, h.number, h.period, h.status, h.paid_at, h.currency, "         \
    "h.disputes, h.issued_at, h.created_at, h.drafted_at, h.accepted_at, h.payment_ref, "          \
    "h.home_club_id, h.host_club_id, h.host_timezone, h.line_count, h.total_net, h.total_tax, "    \
    "h.total, l.at, l.id, l.reason, l.category, NULL, l.quantity, l.reverses, l.visit_id, "        \
    "l.member_id, l.created_at, l.net_amount, l.tax_amount, l.description, l.reversed_by, "        \
    "l.tax_rate_bp, l.unit_amount, NULL, NULL, NULL, NULL, l.total_amount, l.staff_user_id FROM "  \
    "(SELECT row_number() OVER (ORDER BY c.visit_id, c.seq) AS o, (c.at AT TIME ZONE "             \
    "'UTC')::text AS at, c.id, c.reason, c.category, c.quantity, c.reverses, c.visit_id, "         \
    "c.member_id, (c.created_at AT TIME ZONE 'UTC')::text AS created_at, c.net_amount, "           \
    "c.tax_amount, c.description, (SELECT r.id FROM reciprocal.charges r WHERE r.reverses = "      \
    "c.id) AS reversed_by, c.tax_rate_bp, c.unit_amount, c.total_amount, c.staff_user_id FROM "    \
    "reciprocal.charges c WHERE c.statement_id = $1::uuid) "                                       \
    "l FULL JOIN (SELECT 1 AS o, s.id, s.hash, CASE WHEN s.ledger_status IS NULL THEN NULL "       \
    "ELSE jsonb_build_object('status', s.ledger_status, 'tx_id', s.ledger_tx_id, 'error', "        \
    "s.ledger_error)::text END AS ledger, s.number, to_char(s.period, 'YYYY-MM') AS period, "      \
    "s.status, reciprocal.ts(s.paid_at) AS paid_at, s.currency, (SELECT "                          \
    "coalesce(jsonb_agg(jsonb_build_object('id', d.id, 'charge_id', d.charge_id, 'reason', "       \
    "d.reason, 'status', d.status, 'answer', d.answer, 'opened_at', reciprocal.ts(d.opened_at), "  \
    "'resolved_at', reciprocal.ts(d.resolved_at)) ORDER BY d.opened_at, d.id), '[]')::text FROM "  \
    "reciprocal.statement_disputes d WHERE d.statement_id = s.id) AS disputes, "                   \
    "reciprocal.ts(s.issued_at) AS issued_at, reciprocal.ts(s.created_at) AS created_at, "         \
    "reciprocal.ts(s.drafted_at) AS drafted_at, reciprocal.ts(s.accepted_at) AS accepted_at, "     \
    "s.payment_ref, s.home_club_id, s.host_club_id, s.host_timezone, s.line_count, s.total_net, "  \
    "s.total_tax, s.total FROM reciprocal.statements s WHERE s.id = $1::uuid) h ON h.o = l.o "     \
    "ORDER BY coalesce(l.o, 0)"

enum {
    H_ID,
    H_HASH,
    H_LEDGER,
    H_NUMBER,
    H_PERIOD,
    H_STATUS,
    H_PAID_AT,
    H_CURRENCY,
    H_DISPUTES,
    H_ISSUED_AT,
    H_CREATED_AT,
    H_DRAFTED_AT,
    H_ACCEPTED_AT,
    H_PAYMENT_REF,
    H_HOME,
    H_HOST,
    H_TZ,
    H_LINE_COUNT,
    H_TOTAL_NET,
    H_TOTAL_TAX,
    H_TOTAL,
    L_FIRST /* the line's columns follow, in k_line's order */
};

/* A line's keys in jsonb's order (shorter first, then bytewise), each written as `,"key":`
 * (the first without its comma), and how its value is written: its column as a string, a
 * number or a timestamp; the statement's column hcol (V_HEAD); "bill_home_club" (V_MODE). */
enum { V_STR, V_NUM, V_TS, V_HEAD, V_MODE };
#define LKEY(k, how, hcol)                                                                         \
    { ",\"" k "\":", sizeof(",\"" k "\":") - 1, how, hcol }
static const struct {
    const char *key;
    size_t len;
    int how, hcol;
} k_line[] = {LKEY("at", V_TS, 0),
              LKEY("id", V_STR, 0),
              LKEY("reason", V_STR, 0),
              LKEY("category", V_STR, 0),
              LKEY("currency", V_HEAD, H_CURRENCY),
              LKEY("quantity", V_NUM, 0),
              LKEY("reverses", V_STR, 0),
              LKEY("visit_id", V_STR, 0),
              LKEY("member_id", V_STR, 0),
              LKEY("created_at", V_TS, 0),
              LKEY("net_amount", V_NUM, 0),
              LKEY("tax_amount", V_NUM, 0),
              LKEY("description", V_STR, 0),
              LKEY("reversed_by", V_STR, 0),
              LKEY("tax_rate_bp", V_NUM, 0),
              LKEY("unit_amount", V_NUM, 0),
              LKEY("home_club_id", V_HEAD, H_HOME),
              LKEY("host_club_id", V_HEAD, H_HOST),
              LKEY("payment_mode", V_MODE, 0),
              LKEY("statement_id", V_HEAD, H_ID),
              LKEY("total_amount", V_NUM, 0),
              LKEY("staff_user_id", V_STR, 0)};
enum {
    L_AT,
    L_ID,
    L_REASON,
    L_CATEGORY,
    L_CURRENCY,
    L_QUANTITY,
    L_REVERSES,
    L_VISIT,
    L_MEMBER,
    L_CREATED,
    L_NET,
    L_TAX,
    L_DESCRIPTION,
    L_REVERSED_BY,
    L_RATE,
    L_UNIT,
    L_HOME,
    L_HOST,
    L_MODE,
    L_STATEMENT,
    L_TOTAL,
    L_STAFF,
    L_COUNT
};

#define MAX_RATES 64 /* distinct tax rates in one statement (more: 500) */

typedef struct sums {
    long long n, net, tax, total;
} sums_t;

typedef struct rate_sum {
    long long rate;
    sums_t s;
} rate_sum_t;

static long long num(const PGresult *r, int row, int col) {
    return atoll(PQgetvalue(r, row, col));
}

/* "key": then the column as a JSON string (or null) */
static void put_str(strbuf_t *b, const char *key, const PGresult *r, int row, int col) {
    strbuf_putn(b, "\"", 1);
    strbuf_puts(b, key);
    strbuf_putn(b, "\":", 2);
    if (PQgetisnull(r, row, col))
        strbuf_putn(b, "null", 4);
    else
        jsonx_put_string(b, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

/* "key": then the column's JSON (PostgreSQL's text of a json value) in canonical form, or null;
 * -3 when it is not JSON */
static int put_json(strbuf_t *b, const char *key, const PGresult *r, int row, int col) {
    strbuf_putn(b, "\"", 1);
    strbuf_puts(b, key);
    strbuf_putn(b, "\":", 2);
    if (PQgetisnull(r, row, col)) {
        strbuf_putn(b, "null", 4);
        return 0;
    }
    return jsonx_put_canonical(b, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col)) == 0
               ? 0
               : -3;
}

/* A line's timestamp column: PostgreSQL's text of the UTC timestamp ("YYYY-MM-DD HH:MM:SS", then
 * "." and 1 to 6 digits unless they are all 0; DateStyle ISO) written as reciprocal.ts writes it,
 * "YYYY-MM-DDTHH:MM:SS.ffffffZ" (to_char's 'US' is always 6 digits); -1 on any other shape. */
static int put_ts(strbuf_t *b, const PGresult *r, int row, int col) {
    const char *v = PQgetvalue(r, row, col);
    size_t n = (size_t)PQgetlength(r, row, col);
    char out[27];
    if (n < 19 || n > 26 || v[10] != ' ' || (n > 19 && (v[19] != '.' || n == 20))) return -1;
    memcpy(out, v, 19);
    out[10] = 'T', out[19] = '.';
    for (size_t k = 0; k < 6; k++)
        out[20 + k] = 20 + k < n ? v[20 + k] : '0';
    out[26] = 'Z';
    strbuf_putn(b, out, sizeof out);
    return 0;
}

static int rate_cmp(const void *a, const void *b) {
    long long x = ((const rate_sum_t *)a)->rate, y = ((const rate_sum_t *)b)->rate;
    return (x > y) - (x < y);
}

/* Adds row's line to the totals and to its rate's; -1 when there are more rates than kept. */
static int add_line(const PGresult *r, int row, sums_t *t, rate_sum_t *rates, size_t *nrates) {
    long long rate = num(r, row, L_FIRST + L_RATE), net = num(r, row, L_FIRST + L_NET),
              tax = num(r, row, L_FIRST + L_TAX), total = num(r, row, L_FIRST + L_TOTAL);
    t->n++, t->net += net, t->tax += tax, t->total += total;
    size_t k = 0;
    while (k < *nrates && rates[k].rate != rate)
        k++;
    if (k == *nrates) {
        if (k == MAX_RATES) return -1;
        rates[k] = (rate_sum_t){.rate = rate};
        (*nrates)++;
    }
    rates[k].s.n++, rates[k].s.net += net, rates[k].s.tax += tax, rates[k].s.total += total;
    return 0;
}

static int has_lines(const PGresult *r) {
    return PQntuples(r) > 0 && !PQgetisnull(r, 0, L_FIRST + L_ID);
}

static int write_json(const PGresult *r, strbuf_t *b) {
    sums_t t = {0};
    rate_sum_t rates[MAX_RATES];
    size_t nrates = 0;
    int n = has_lines(r) ? PQntuples(r) : 0;
    strbuf_putn(b, "{", 1);
    put_str(b, "id", r, 0, H_ID);
    strbuf_putn(b, ",", 1);
    put_str(b, "hash", r, 0, H_HASH);
    strbuf_puts(b, ",\"lines\":[");
    for (int i = 0; i < n; i++) {
        strbuf_putn(b, i ? ",{" : "{", i ? 2 : 1);
        for (int k = 0; k < L_COUNT; k++) {
            int col = L_FIRST + k;
            strbuf_putn(b, k_line[k].key + !k, k_line[k].len - !k);
            if (k_line[k].how == V_HEAD) {
                int h = k_line[k].hcol;
                jsonx_put_string(b, PQgetvalue(r, 0, h), (size_t)PQgetlength(r, 0, h));
            } else if (k_line[k].how == V_MODE) {
                strbuf_puts(b, "\"bill_home_club\"");
            } else if (PQgetisnull(r, i, col)) {
                strbuf_putn(b, "null", 4);
            } else if (k_line[k].how == V_NUM) {
                strbuf_putn(b, PQgetvalue(r, i, col), (size_t)PQgetlength(r, i, col));
            } else if (k_line[k].how == V_STR) {
                jsonx_put_string(b, PQgetvalue(r, i, col), (size_t)PQgetlength(r, i, col));
            } else {
                strbuf_putn(b, "\"", 1);
                if (put_ts(b, r, i, col) != 0) return -2;
                strbuf_putn(b, "\"", 1);
            }
        }
        strbuf_putn(b, "}", 1);
        if (add_line(r, i, &t, rates, &nrates) != 0) return -1;
    }
    strbuf_puts(b, "],");
    if (put_json(b, "ledger", r, 0, H_LEDGER) != 0) return -3;
    strbuf_putn(b, ",", 1);
    put_str(b, "number", r, 0, H_NUMBER);
    strbuf_putn(b, ",", 1);
    put_str(b, "period", r, 0, H_PERIOD);
    strbuf_putn(b, ",", 1);
    put_str(b, "status", r, 0, H_STATUS);
    strbuf_printf(b, ",\"totals\":{\"net\":%lld,\"tax\":%lld,\"lines\":%lld,\"total\":%lld},",
                  t.net, t.tax, t.n, t.total);
    put_str(b, "paid_at", r, 0, H_PAID_AT);
    strbuf_putn(b, ",", 1);
    put_str(b, "currency", r, 0, H_CURRENCY);
    strbuf_putn(b, ",", 1);
    if (put_json(b, "disputes", r, 0, H_DISPUTES) != 0) return -3;
    static const struct {
        const char *key;
        int col;
    } stamps[] = {{"issued_at", H_ISSUED_AT},
                  {"created_at", H_CREATED_AT},
                  {"drafted_at", H_DRAFTED_AT},
                  {"accepted_at", H_ACCEPTED_AT}};
    for (size_t k = 0; k < sizeof stamps / sizeof stamps[0]; k++) {
        strbuf_putn(b, ",", 1);
        put_str(b, stamps[k].key, r, 0, stamps[k].col);
    }
    qsort(rates, nrates, sizeof rates[0], rate_cmp);
    strbuf_puts(b, ",\"by_tax_rate\":[");
    for (size_t k = 0; k < nrates; k++)
        strbuf_printf(b, "%s{\"net\":%lld,\"tax\":%lld,\"total\":%lld,\"tax_rate_bp\":%lld}",
                      k ? "," : "", rates[k].s.net, rates[k].s.tax, rates[k].s.total,
                      rates[k].rate);
    strbuf_puts(b, "],");
    put_str(b, "payment_ref", r, 0, H_PAYMENT_REF);
    strbuf_putn(b, ",", 1);
    put_str(b, "home_club_id", r, 0, H_HOME);
    strbuf_putn(b, ",", 1);
    put_str(b, "host_club_id", r, 0, H_HOST);
    strbuf_putn(b, ",", 1);
    put_str(b, "host_timezone", r, 0, H_TZ);
    if (PQgetisnull(r, 0, H_TOTAL))
        strbuf_puts(b, ",\"issued_totals\":null}");
    else
        strbuf_printf(
            b, ",\"issued_totals\":{\"net\":%lld,\"tax\":%lld,\"lines\":%lld,\"total\":%lld}}",
            num(r, 0, H_TOTAL_NET), num(r, 0, H_TOTAL_TAX), num(r, 0, H_LINE_COUNT),
            num(r, 0, H_TOTAL));
    return 0;
}

/* RFC 4180: the header, one record per line, the total record (docs/reciprocal.md
 * "Documents"); -2 on a timestamp of another shape. */
static int write_csv(const PGresult *r, strbuf_t *b) {
    enum { C_STR, C_TEXT, C_NUM, C_TS };
    static const struct {
        int col, how;
    } cols[] = {{L_ID, C_STR},       {L_VISIT, C_STR},    {L_MEMBER, C_STR},
                {L_AT, C_TS},        {L_CATEGORY, C_STR}, {L_DESCRIPTION, C_TEXT},
                {L_QUANTITY, C_NUM}, {L_UNIT, C_NUM},     {L_RATE, C_NUM},
                {L_TAX, C_NUM},      {L_TOTAL, C_NUM},    {L_REVERSES, C_STR}};
    static const int head[] = {H_NUMBER, H_PERIOD, H_HOST, H_HOME, H_CURRENCY};
    const char *cur = PQgetvalue(r, 0, H_CURRENCY);
    char text[40];
    long long tax = 0, total = 0;
    int n = has_lines(r) ? PQntuples(r) : 0;
    strbuf_t pre = {0}; /* the statement's fields, the same on every record */
    for (size_t k = 0; k < sizeof head / sizeof head[0]; k++) {
        csv_put_field(&pre, PQgetvalue(r, 0, head[k]), 0);
        strbuf_putn(&pre, ",", 1);
    }
    strbuf_puts(b, "statement_number,period,host_club_id,home_club_id,currency,line,charge_id,"
                   "visit_id,member_id,at,category,description,quantity,unit_amount_minor,"
                   "tax_rate_bp,tax_minor,total_minor,reverses,total\r\n");
    for (int i = 0; i < n; i++) {
        strbuf_putn(b, pre.p, pre.len);
        int w = snprintf(text, sizeof text, "%d,", i + 1);
        strbuf_putn(b, text, (size_t)w);
        for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
            int col = L_FIRST + cols[k].col;
            const char *v = PQgetvalue(r, i, col); /* "" when null */
            if (cols[k].how == C_NUM)
                strbuf_putn(b, v, (size_t)PQgetlength(r, i, col));
            else if (cols[k].how != C_TS)
                csv_put_field(b, v, cols[k].how == C_TEXT ? CSV_TEXT : 0);
            else if (put_ts(b, r, i, col) != 0) {
                strbuf_free(&pre);
                return -2;
            }
            strbuf_putn(b, ",", 1);
        }
        long long line_total = num(r, i, L_FIRST + L_TOTAL);
        tax += num(r, i, L_FIRST + L_TAX), total += line_total;
        strbuf_puts(b, fees_format(line_total, cur, text, sizeof text));
        strbuf_putn(b, "\r\n", 2);
    }
    strbuf_free(&pre);
    strbuf_printf(b, "%s,%s,%s,%s,%s,total,,,,,,,,,,%lld,%lld,,%s\r\n", PQgetvalue(r, 0, H_NUMBER),
                  PQgetvalue(r, 0, H_PERIOD), PQgetvalue(r, 0, H_HOST), PQgetvalue(r, 0, H_HOME),
                  cur, tax, total, fees_format(total, cur, text, sizeof text));
    return 0;
}

int stmt_doc_text(const svc_call_t *call, db_tx_t *tx, const char *id, stmt_doc_format_t format,
                  char **text, size_t *len, char number[96], err_t *e) {
    const char *p[] = {id};
    PGresult *r;
    if (tx) {
        r = db_exec(tx, DOC_SQL, 1, p, e);
    } else {
        db_scope_t scope = svc_scope(call, NULL);
        r = db_read(call->env->db, &scope, DOC_SQL, 1, p, e);
    }
    if (!r) return -1;
    if (PQntuples(r) == 0 || PQgetisnull(r, 0, H_ID)) {
        PQclear(r);
        return err_set(e, 404, "not_found", "id", "no such statement");
    }
    strbuf_t b = {0};
    strbuf_reserve(&b, (size_t)PQntuples(r) * 720 + 1024);
    int rc = format == STMT_DOC_CSV ? write_csv(r, &b) : write_json(r, &b);
    snprintf(number, 96, "%s", PQgetvalue(r, 0, H_NUMBER));
    PQclear(r);
    if (rc != 0) {
        strbuf_free(&b);
        if (rc == -2) return err_set(e, 500, "internal", "", "a line's time is unreadable");
        if (rc == -3) return err_set(e, 500, "internal", "", "unreadable JSON document");
        return err_set(e, 500, "internal", "", "more than %d tax rates in one statement",
                       MAX_RATES);
    }
    *len = b.len;
    *text = strbuf_take(&b);
    return *text ? 0 : err_set(e, 500, "internal", "", "out of memory");
}

json_t *stmt_doc_json(const svc_call_t *call, db_tx_t *tx, const char *id, err_t *e) {
    char *text = NULL, number[96];
    size_t len = 0;
    if (stmt_doc_text(call, tx, id, STMT_DOC_JSON, &text, &len, number, e) != 0) return NULL;
    json_t *doc = jsonx_raw_canonical(text, len, e); /* written canonical: no second pass */
    free(text);
    return doc;
}
