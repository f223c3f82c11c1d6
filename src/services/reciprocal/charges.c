/* charges: see charges.h. */
#include "services/reciprocal/charges.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/cursor.h"
#include "core/json.h"
#include "core/strbuf.h"
#include "lib/csv/csv.h"
#include "services/reciprocal/fees.h"
#include "services/reciprocal/statements.h"
#include "services/reciprocal/terms.h"
#include "services/reciprocal/visits.h"

static const char *const k_categories[] = {
    "room",      "dining",           "bar",         "green_fee", "cart_fee", "guest_fee",
    "entry_fee", "cancellation_fee", "no_show_fee", "other",     NULL};

static int opt_timestamp(json_t *in, const char *k, err_t *e) {
    const char *s;
    if (jsonx_string(in, k, 0, 1, 40, &s, e) != 0) return -1;
    if (s && !jsonx_is_timestamp(s)) /* PostgreSQL checks the calendar */
        return err_set(e, 422, "invalid_field", k, "%s must be an ISO 8601 timestamp", k);
    return 0;
}

static int visit_ref(json_t *in, err_t *e) {
    return jsonx_ref(in, "id", 1, "no such visit", e);
}

/* One line's fields (a single-line body or an element of lines[]): an error names the field
 * after prefix ("lines[3].unit_amount"). */
static int validate_line(json_t *in, const char *prefix, err_t *e) {
    const char *s;
    long long n;
    int rc = jsonx_enum(in, "category", 1, k_categories, &s, e) != 0 ||
                     jsonx_string(in, "description", 1, 1, 200, &s, e) != 0 ||
                     jsonx_int(in, "quantity", 0, 1, 10000, 1, &n, e) != 0 ||
                     jsonx_int(in, "unit_amount", 1, 0, 100000000000LL, 0, &n, e) != 0 ||
                     jsonx_int(in, "tax_amount", 0, 0, 100000000000LL, 0, &n, e) != 0 ||
                     jsonx_int(in, "tax_rate_bp", 0, 0, 10000, 0, &n, e) != 0 ||
                     jsonx_string(in, "currency", 0, 3, 3, &s, e) != 0 ||
                     opt_timestamp(in, "at", e) != 0
                 ? -1
                 : 0;
    if (rc != 0 && prefix[0]) {
        char f[sizeof e->field];
        snprintf(f, sizeof f, "%s%s", prefix, e->field);
        snprintf(e->field, sizeof e->field, "%s", f);
    }
    return rc;
}

int charge_validate_post(json_t *in, err_t *e) {
    static const char *const keys[] = {"id",          "category",   "description", "quantity",
                                       "unit_amount", "tax_amount", "tax_rate_bp", "currency",
                                       "at",          "as_of",      NULL};
    static const char *const bill_keys[] = {"id", "lines", "as_of", NULL};
    static const char *const line_keys[] = {"category",    "description", "quantity",
                                            "unit_amount", "tax_amount",  "tax_rate_bp",
                                            "currency",    "at",          NULL};
    json_t *lines = json_object_get(in, "lines");
    if (!lines)
        return jsonx_only_keys(in, keys, "", e) != 0 || visit_ref(in, e) != 0 ||
                       validate_line(in, "", e) != 0 || opt_timestamp(in, "as_of", e) != 0
                   ? -1
                   : 0;
    if (jsonx_only_keys(in, bill_keys, "", e) != 0 || visit_ref(in, e) != 0 ||
        opt_timestamp(in, "as_of", e) != 0)
        return -1;
    if (!json_is_array(lines)) return err_type(e, "lines", "lines must be an array of lines");
    size_t n = json_array_size(lines);
    if (n < 1 || n > CHARGE_MAX_LINES)
        return err_invalid(e, "lines", "a bill has 1 to %d lines", CHARGE_MAX_LINES);
    for (size_t i = 0; i < n; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "lines[%zu].", i);
        json_t *l = json_array_get(lines, i);
        if (!json_is_object(l)) {
            snprintf(prefix, sizeof prefix, "lines[%zu]", i);
            return err_type(e, prefix, "%s must be an object", prefix);
        }
        if (jsonx_only_keys(l, line_keys, prefix, e) != 0 || validate_line(l, prefix, e) != 0)
            return -1;
    }
    return 0;
}

int charge_validate_reverse(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "reason", "as_of", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_string(in, "reason", 1, 1, 500, &s, e) ||
        opt_timestamp(in, "as_of", e) != 0)
        return -1;
    return jsonx_ref(in, "id", 1, "no such charge", e);
}

int charge_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"visit_id", "member_id", "category", "statement_id",
                                       "limit",    "after",     NULL};
    static const char *const uuids[] = {"visit_id", "member_id", "statement_id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    long long n;
    for (const char *const *k = uuids; *k; k++) {
        if (jsonx_string(in, *k, 0, 1, 64, &s, e) != 0) return -1;
        if (s && !jsonx_is_uuid(s)) return err_set(e, 422, "invalid_field", *k, "not a uuid");
    }
    if (jsonx_enum(in, "category", 0, k_categories, &s, e) != 0 ||
        jsonx_int(in, "limit", 0, 1, 100, 20, &n, e) != 0 ||
        jsonx_string(in, "after", 0, 1, CURSOR_MAX_LEN, &s, e) != 0)
        return -1;
    return 0;
}

int charge_validate_fee(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "at", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0 || visit_ref(in, e) != 0) return -1;
    return opt_timestamp(in, "at", e);
}

int charge_validate_member(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "format", NULL};
    static const char *const formats[] = {"json", "csv", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_enum(in, "format", 0, formats, &s, e) != 0)
        return -1;
    return jsonx_ref(in, "id", 1, "no such member", e);
}

/* ---- the visit and its agreement's terms at the host ---- */

typedef struct vctx {
    char id[40], status[16], host[40], home[40], member[40], tz[72], now[40];
    int guests, in_window;
    long long arrive_wall, now_wall;
    json_t *terms; /* owned: the host's terms of the agreement */
} vctx_t;

/* The visit (locked FOR SHARE) at `at` (timestamptz text; NULL = now). 404 when unseen. */
static int load_ctx(db_tx_t *tx, const char *id, const char *at, vctx_t *c, err_t *e) {
    const char *p[] = {id, at};
    PGresult *r = db_row(
        db_exec(
            tx,
            "SELECT v.status, v.host_club_id, v.home_club_id, v.member_id, v.host_timezone, "
            "v.guests, (a.terms -> v.host_club_id::text)::text, (v.checked_out_at IS NULL OR "
            "v.checked_out_at + interval '7 days' >= coalesce($2::timestamptz, now()))::int, "
            "extract(epoch FROM v.arrive_on::timestamp)::bigint, extract(epoch FROM "
            "(coalesce($2::timestamptz, now()) AT TIME ZONE v.host_timezone))::bigint, "
            "reciprocal.ts(coalesce($2::timestamptz, now())) FROM reciprocal.visits v JOIN "
            "reciprocal.agreements a ON a.id = v.agreement_id WHERE v.id = $1::uuid FOR SHARE OF v",
            2, p, e),
        e, "id", "no such visit");
    if (!r) return -1;
    snprintf(c->id, sizeof c->id, "%s", id);
    DB_TEXTS(r, 0, 0, DB_TEXT(c->status), DB_TEXT(c->host), DB_TEXT(c->home), DB_TEXT(c->member),
             DB_TEXT(c->tz));
    c->guests = atoi(PQgetvalue(r, 0, 5));
    c->terms = db_json(r, 0, 6, e);
    c->in_window = PQgetvalue(r, 0, 7)[0] == '1';
    c->arrive_wall = atoll(PQgetvalue(r, 0, 8));
    c->now_wall = atoll(PQgetvalue(r, 0, 9));
    snprintf(c->now, sizeof c->now, "%s", PQgetvalue(r, 0, 10));
    PQclear(r);
    if (!c->terms) return err_set(e, 500, "internal", "", "the agreement's terms are unreadable");
    return 0;
}

static const char *terms_currency(const vctx_t *c) {
    return json_string_value(json_object_get(json_object_get(c->terms, "fees"), "currency"));
}

static const char *terms_mode(const vctx_t *c) {
    const char *m = json_string_value(json_object_get(c->terms, "payment_mode"));
    return m ? m : "pay_at_host";
}

/* ---- lines ---- */

typedef struct line {
    const char *category, *description, *currency, *at;
    long long quantity, unit, tax, rate;
} line_t;

/* What the lines of one insert share: the staff member, and for a reversing line its original,
 * the reason and the original's statement (NULL = the open statement of the line's month). */
typedef struct posting {
    const char *staff, *reverses, *reason, *statement;
} posting_t;

/* One statement for all the lines (docs/reciprocal.md "Posting charges: whole bills, fewer
 * round trips"): the lines as a JSON array; for bill_home_club the open statement of each month
 * they fall in (reciprocal.open_statement, once per month); the rows inserted in the lines'
 * order; each charge's document (charge_doc's keys; reversed_by is null for a new line). */
#define INSERT_SQL                                                                                 \
    "WITH l AS MATERIALIZED (SELECT a.o, x.category, x.description, x.quantity, x.unit_amount, "   \
    "x.tax_amount, x.tax_rate_bp, x.currency, x.at, date_trunc('month', x.at AT TIME ZONE "        \
    "$5)::date AS p "                                                                              \
    "FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS a(j, o), jsonb_to_record(a.j) AS "    \
    "x(category text, description text, quantity int, unit_amount bigint, tax_amount bigint, "     \
    "tax_rate_bp int, currency text, at timestamptz)), s AS MATERIALIZED (SELECT q.p, "            \
    "q.currency, CASE WHEN $6 = "                                                                  \
    "'bill_home_club' THEN coalesce($10::uuid, reciprocal.open_statement($2::uuid, $3::uuid, "     \
    "q.currency, $5, q.p)) END AS id FROM (SELECT DISTINCT p, currency FROM l) q), i AS (INSERT "  \
    "INTO "                                                                                        \
    "reciprocal.charges AS c (visit_id, host_club_id, home_club_id, member_id, category, "         \
    "description, quantity, unit_amount, tax_amount, tax_rate_bp, currency, payment_mode, "        \
    "staff_user_id, at, reverses, reason, statement_id) SELECT $4::uuid, $2::uuid, $3::uuid, "     \
    "$11::uuid, l.category, l.description, l.quantity, l.unit_amount, l.tax_amount, "              \
    "l.tax_rate_bp, l.currency, $6, $7::uuid, l.at, $8::uuid, $9, s.id FROM l JOIN s ON s.p = "    \
    "l.p AND s.currency = l.currency "                                                             \
    "ORDER BY l.o RETURNING c.*) SELECT jsonb_build_object('id', i.id, 'visit_id', i.visit_id, "   \
    "'host_club_id', i.host_club_id, 'home_club_id', i.home_club_id, 'member_id', i.member_id, "   \
    "'category', i.category, 'description', i.description, 'quantity', i.quantity, "               \
    "'unit_amount', i.unit_amount, 'tax_amount', i.tax_amount, 'tax_rate_bp', i.tax_rate_bp, "     \
    "'net_amount', i.net_amount, 'total_amount', i.total_amount, 'currency', i.currency, "         \
    "'payment_mode', i.payment_mode, 'staff_user_id', i.staff_user_id, 'at', "                     \
    "reciprocal.ts(i.at), 'reverses', i.reverses, 'reversed_by', NULL, 'reason', i.reason, "       \
    "'statement_id', i.statement_id, 'created_at', reciprocal.ts(i.created_at))::text FROM i "     \
    "ORDER BY i.seq"

static json_t *lines_param(const line_t *l, size_t n, const char *now) {
    json_t *a = json_array();
    for (size_t k = 0; a && k < n; k++)
        if (json_array_append_new(
                a, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "category", l[k].category,
                             "currency", l[k].currency, "description", l[k].description, "quantity",
                             (json_int_t)l[k].quantity, "unit_amount", (json_int_t)l[k].unit,
                             "tax_amount", (json_int_t)l[k].tax, "tax_rate_bp",
                             (json_int_t)l[k].rate, "at", l[k].at ? l[k].at : now)) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* charge.posted / charge.reversed of each document, one outbox statement for all; with b (a
 * single line) the event is queued in b instead, to go with the COMMIT in one flight. */
static int emit_lines(const svc_call_t *call, db_tx_t *tx, const vctx_t *c, const posting_t *p,
                      json_t *docs, db_batch_t *b, err_t *e) {
    size_t n = json_array_size(docs), k;
    json_t **data = calloc(n ? n : 1, sizeof *data), *d;
    if (!data) return err_set(e, 500, "internal", "", "out of memory");
    json_array_foreach(docs, k, d) data[k] = json_pack(
        "{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "charge_id", json_object_get(d, "id"),
        "visit_id", json_object_get(d, "visit_id"), "host_club_id",
        json_object_get(d, "host_club_id"), "home_club_id", json_object_get(d, "home_club_id"),
        "category", json_object_get(d, "category"), "total_amount",
        json_object_get(d, "total_amount"), "currency", json_object_get(d, "currency"),
        "statement_id", json_object_get(d, "statement_id"));
    const char *type = p->reverses ? "charge.reversed" : "charge.posted";
    int rc = b && n == 1 ? svc_emit_batch(call, b, type, c->host, json_incref(data[0]), e)
                         : svc_emit_many(call, tx, type, c->host, data, n, e);
    for (k = 0; k < n; k++)
        json_decref(data[k]);
    free(data);
    return rc;
}

/* Inserts the n lines for visit c (in the scope of c's host) in one statement, emits
 * charge.posted / charge.reversed for each (into b when given and n == 1: emit_lines); *docs gets
 * the charges' documents (an array, in the lines' order). */
static int insert_lines(const svc_call_t *call, db_tx_t *tx, const vctx_t *c, const line_t *l,
                        size_t n, const posting_t *p, json_t **docs, db_batch_t *b, err_t *e) {
    json_t *arr = lines_param(l, n, c->now);
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!text) return err_set(e, 500, "internal", "", "out of memory");
    const char *q[] = {text,     c->host,     c->home,   c->id,        c->tz,    terms_mode(c),
                       p->staff, p->reverses, p->reason, p->statement, c->member};
    PGresult *r = db_exec(tx, INSERT_SQL, 11, q, e);
    free(text);
    if (!r) {
        if (e->status == 500 && strstr(e->message, "P0001"))
            err_set(e, 409, "no_open_statement", "at", "no statement open for this charge");
        return -1;
    }
    json_t *out = json_array();
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        json_t *d = db_json(r, i, 0, e);
        rc = d ? json_array_append_new(out, d) : -1;
    }
    PQclear(r);
    if (rc == 0) rc = emit_lines(call, tx, c, p, out, b, e);
    if (rc != 0) {
        json_decref(out);
        return -1;
    }
    *docs = out;
    return 0;
}

/* One line (the hooks, a reversal): its document into *doc (may be NULL). */
static int insert_line(const svc_call_t *call, db_tx_t *tx, const vctx_t *c, const line_t *l,
                       const posting_t *p, json_t **doc, err_t *e) {
    json_t *docs = NULL;
    if (insert_lines(call, tx, c, l, 1, p, &docs, NULL, e) != 0) return -1;
    if (doc) *doc = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    return 0;
}

/* The caller acts for c's host (or is a network administrator): else 403 for the home club,
 * 404 for anyone else. */
static int host_only(const svc_call_t *call, const char *host, const char *home, err_t *e) {
    const svc_caller_t *k = call->caller;
    if (k->network_admin || strcasecmp(k->club_id, host) == 0) return 0;
    if (strcasecmp(k->club_id, home) == 0)
        return err_set(e, 403, "forbidden", "id", "only the host club posts and reverses charges");
    return err_set(e, 404, "not_found", "id", "no such visit");
}

static const char *user_of(const svc_call_t *call) {
    return call->caller->user_id[0] ? call->caller->user_id : NULL;
}

static int admin_clock(const svc_call_t *call, json_t *in, const char *k, err_t *e) {
    if (json_object_get(in, k) && !call->caller->network_admin)
        return err_set(e, 403, "forbidden", k, "only a network administrator sets %s", k);
    return 0;
}

/* The visit takes charges now: 409 / 422 as documented. */
static int billable(const vctx_t *c, err_t *e) {
    if (strcmp(c->status, "checked_in") != 0 && strcmp(c->status, "completed") != 0)
        return err_set(e, 409, "visit_not_billable", "id",
                       "charges are posted against a checked-in or completed visit, not a %s one",
                       c->status);
    if (!c->in_window)
        return err_set(e, 422, "posting_window_closed", "id",
                       "charges are posted up to 7 days after check-out");
    return 0;
}

/* Line in (validated) as l, its currency the host's: the agreement's (cur_in, when given, must
 * be it) or, when the agreement names none, cur_in. An error names prefix + "currency". */
static int line_of(const vctx_t *c, json_t *in, const char *prefix, line_t *l, err_t *e) {
    const char *cur = terms_currency(c);
    const char *cur_in = json_string_value(json_object_get(in, "currency"));
    char field[40];
    snprintf(field, sizeof field, "%scurrency", prefix);
    if (cur && cur_in && strcmp(cur, cur_in) != 0)
        return err_set(e, 422, "currency_mismatch", field, "the host's currency is %s", cur);
    if (!cur) cur = cur_in;
    if (!cur || !terms_is_currency(cur))
        return err_set(e, 422, "invalid_field", field,
                       "currency: the host's ISO 4217 code (the agreement names none)");
    long long n;
    *l = (line_t){.category = json_string_value(json_object_get(in, "category")),
                  .description = json_string_value(json_object_get(in, "description")),
                  .currency = cur,
                  .at = json_string_value(json_object_get(in, "at"))};
    jsonx_int(in, "quantity", 0, 1, 10000, 1, &l->quantity, e);
    jsonx_int(in, "unit_amount", 1, 0, 100000000000LL, 0, &l->unit, e);
    jsonx_int(in, "tax_amount", 0, 0, 100000000000LL, 0, &l->tax, e);
    jsonx_int(in, "tax_rate_bp", 0, 0, 10000, 0, &n, e);
    l->rate = n;
    return 0;
}

/* A single-line body answers the charge, a bill ({lines: [...]}) {items: [charges]}. */
int charge_post(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *as_of = json_string_value(json_object_get(in, "as_of"));
    json_t *bill = json_object_get(in, "lines");
    size_t n = bill ? json_array_size(bill) : 1;
    if (admin_clock(call, in, "as_of", e) != 0) return -1;
    line_t *lines = calloc(n ? n : 1, sizeof *lines);
    if (!lines) return err_set(e, 500, "internal", "", "out of memory");
    db_tx_t *tx = NULL;
    db_batch_t b = {0};
    vctx_t c = {0};
    json_t *docs = NULL;
    int rc = -1;
    /* round trips: BEGIN, the scope and the visit in one flight; the INSERT; a single line's
     * event with the COMMIT in one flight (a bill's events in one statement, then COMMIT) */
    if (svc_begin_deferred(call, NULL, &tx, e) != 0) {
        free(lines);
        return -1;
    }
    if (load_ctx(tx, json_string_value(json_object_get(in, "id")), as_of, &c, e) != 0 ||
        host_only(call, c.host, c.home, e) != 0 || billable(&c, e) != 0)
        goto done;
    for (size_t k = 0; k < n; k++) {
        char prefix[32] = "";
        if (bill) snprintf(prefix, sizeof prefix, "lines[%zu].", k);
        if (line_of(&c, bill ? json_array_get(bill, k) : in, prefix, &lines[k], e) != 0) goto done;
    }
    posting_t p = {.staff = user_of(call)};
    if (insert_lines(call, tx, &c, lines, n, &p, &docs, &b, e) != 0 ||
        (b.n > 0 && db_batch_run(tx, &b, DB_BATCH_COMMIT, e) != 0))
        goto done;
    if (bill)
        *out = json_pack("{s:o}", "items", docs);
    else
        *out = json_incref(json_array_get(docs, 0)), json_decref(docs);
    docs = NULL;
    rc = *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
done:
    db_batch_clear(&b);
    json_decref(docs);
    json_decref(c.terms);
    free(lines);
    return db_tx_finish(&tx, rc, out, e);
}

int charge_reverse(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *as_of = json_string_value(json_object_get(in, "as_of"));
    if (admin_clock(call, in, "as_of", e) != 0) return -1;
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    vctx_t c = {0};
    int rc = -1;
    const char *p[] = {id};
    if (svc_begin(call, &tx, e) != 0) return -1;
    r = db_exec(
        tx,
        "SELECT c.visit_id, c.host_club_id, c.home_club_id, c.category, c.description, "
        "c.quantity, c.unit_amount, c.tax_amount, c.tax_rate_bp, c.currency, "
        "c.reverses IS NOT NULL, EXISTS (SELECT 1 FROM reciprocal.charges x WHERE "
        "x.reverses = c.id), c.statement_id FROM reciprocal.charges c WHERE c.id = $1::uuid",
        1, p, e);
    if (!r) goto done;
    if (PQntuples(r) == 0) {
        err_set(e, 404, "not_found", "id", "no such charge");
        goto done;
    }
    if (host_only(call, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), e) != 0) goto done;
    if (PQgetvalue(r, 0, 10)[0] == 't') {
        err_set(e, 409, "reversal_of_reversal", "id", "a reversing line is not reversed");
        goto done;
    }
    if (PQgetvalue(r, 0, 11)[0] == 't') {
        err_set(e, 409, "already_reversed", "id", "this charge is already reversed");
        goto done;
    }
    if (load_ctx(tx, PQgetvalue(r, 0, 0), as_of, &c, e) != 0) goto done;
    int same = 0;
    if (!PQgetisnull(r, 0, 12) && stmt_lock_open(tx, PQgetvalue(r, 0, 12), &same, e) != 0)
        goto done;
    line_t l = {.category = PQgetvalue(r, 0, 3),
                .description = PQgetvalue(r, 0, 4),
                .quantity = -atoll(PQgetvalue(r, 0, 5)),
                .unit = atoll(PQgetvalue(r, 0, 6)),
                .tax = -atoll(PQgetvalue(r, 0, 7)),
                .rate = atoll(PQgetvalue(r, 0, 8)),
                .currency = PQgetvalue(r, 0, 9)};
    posting_t post = {.staff = user_of(call),
                      .reverses = id,
                      .reason = json_string_value(json_object_get(in, "reason")),
                      .statement = same ? PQgetvalue(r, 0, 12) : NULL};
    if (insert_line(call, tx, &c, &l, &post, out, e) != 0) {
        if (e->status == 409) /* the unique reverses: a reversal won the race */
            err_set(e, 409, "already_reversed", "id", "this charge is already reversed");
        goto done;
    }
    if (same && stmt_line_reversed(call, tx, post.statement, id, e) != 0) goto done;
    rc = 0;
done:
    PQclear(r);
    json_decref(c.terms);
    return db_tx_finish(&tx, rc, out, e);
}

int charge_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    cursor_page_t pg;
    if (cursor_page_begin(in, 20, "charges", "i", &pg, e) != 0) return -1;
    const char *p[] = {json_string_value(json_object_get(in, "visit_id")),
                       json_string_value(json_object_get(in, "member_id")),
                       json_string_value(json_object_get(in, "category")),
                       json_string_value(json_object_get(in, "statement_id")),
                       cursor_page_key(&pg, 0),
                       pg.fetch};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(
        call->env->db, &scope,
        "SELECT reciprocal.charge_doc(c)::text, c.seq FROM "
        "reciprocal.charges c WHERE ($1::uuid IS NULL OR c.visit_id = $1::uuid) AND ($2::uuid IS "
        "NULL OR c.member_id = $2::uuid) AND ($3::text IS NULL OR c.category = $3) AND ($4::uuid "
        "IS NULL OR c.statement_id = $4::uuid) AND ($5::bigint IS NULL OR c.seq > $5::bigint) "
        "ORDER BY c.seq LIMIT $6::int",
        6, p, e);
    if (!r) return cursor_page_failed(e);
    *out = cursor_page_output(r, pg.limit, "charges", "i", e);
    PQclear(r);
    return *out ? 0 : -1;
}

/* ---- cancellation fee ---- */

typedef struct quote {
    long long seconds_before, day_fee, amount;
    int percent;
} quote_t;

static void quote_of(const vctx_t *c, quote_t *q) {
    fee_tier_t t[FEES_MAX_TIERS];
    size_t n = fees_tiers(json_object_get(c->terms, "cancellation_tiers"), t);
    q->seconds_before = c->arrive_wall - c->now_wall;
    q->percent = fees_cancellation_percent(t, n, q->seconds_before);
    q->day_fee = fees_day_fee(json_object_get(c->terms, "fees"));
    q->amount = fees_percent_of(q->day_fee, q->percent);
}

int charge_cancellation_fee(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *at = json_string_value(json_object_get(in, "at"));
    char self[40] = "";
    if (admin_clock(call, in, "at", e) != 0) return -1;
    if (!svc_authorized(call->caller, "member:read") && visit_self_member(call, self, e) != 0)
        return -1;
    db_tx_t *tx = NULL;
    vctx_t c = {0};
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) return -1;
    if (load_ctx(tx, json_string_value(json_object_get(in, "id")), at, &c, e) != 0) goto done;
    if (self[0] && strcmp(self, c.member) != 0) {
        err_set(e, 404, "not_found", "id", "no such visit");
        goto done;
    }
    quote_t q;
    quote_of(&c, &q);
    int cancellable = strcmp(c.status, "requested") == 0 || strcmp(c.status, "approved") == 0 ||
                      strcmp(c.status, "confirmed") == 0;
    int charged = strcmp(c.status, "approved") == 0 || strcmp(c.status, "confirmed") == 0;
    const char *cur = terms_currency(&c);
    long long amount = charged && cur ? q.amount : 0;
    char text[40];
    *out = json_pack("{s:s, s:s, s:b, s:s, s:I, s:i, s:I, s:I, s:s?, s:s?, s:O, s:s}", "visit_id",
                     c.id, "status", c.status, "cancellable", cancellable, "kind",
                     "cancellation_fee", "hours_before", (json_int_t)(q.seconds_before / 3600),
                     "fee_percent", charged ? q.percent : 0, "day_fee", (json_int_t)q.day_fee,
                     "amount", (json_int_t)amount, "currency", cur, "amount_text",
                     cur ? fees_format(amount, cur, text, sizeof text) : NULL, "tiers",
                     json_object_get(c.terms, "cancellation_tiers"), "at", c.now);
    rc = *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
done:
    json_decref(c.terms);
    return db_tx_finish(&tx, rc, out, e);
}

/* ---- hooks ---- */

static int post_fee(const svc_call_t *call, db_tx_t *tx, const vctx_t *c, const char *category,
                    const char *description, long long quantity, long long unit, const char *at,
                    err_t *e) {
    const char *cur = terms_currency(c);
    if (unit <= 0 || quantity <= 0 || !cur) return 0;
    line_t l = {.category = category,
                .description = description,
                .currency = cur,
                .at = at,
                .quantity = quantity,
                .unit = unit};
    posting_t p = {.staff = user_of(call)};
    return insert_line(call, tx, c, &l, &p, NULL, e);
}

int charge_on_check_in(const svc_call_t *call, db_tx_t *tx, const char *visit_id, long long at,
                       err_t *e) {
    char ts[40];
    time_t t = (time_t)at;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    vctx_t c = {0};
    int rc = load_ctx(tx, visit_id, ts, &c, e);
    if (rc == 0) {
        json_t *fees = json_object_get(c.terms, "fees");
        rc = post_fee(call, tx, &c, "entry_fee", "Entry fee", 1,
                      (long long)json_integer_value(json_object_get(fees, "entry")), ts, e);
        if (rc == 0)
            rc = post_fee(call, tx, &c, "guest_fee", "Guest fee", c.guests,
                          (long long)json_integer_value(json_object_get(fees, "guest")), ts, e);
    }
    json_decref(c.terms);
    return rc;
}

int charge_on_cancel(const svc_call_t *call, db_tx_t *tx, const char *visit_id,
                     const char *from_status, err_t *e) {
    if (strcmp(from_status, "approved") != 0 && strcmp(from_status, "confirmed") != 0) return 0;
    vctx_t c = {0};
    PGresult *r = NULL;
    int rc = -1;
    if (load_ctx(tx, visit_id, NULL, &c, e) != 0) goto done;
    quote_t q;
    quote_of(&c, &q);
    if (q.amount <= 0 || !terms_currency(&c)) {
        rc = 0;
        goto done;
    }
    /* the fee is the host's line: post it in the host's scope, then restore the caller's */
    const char *ph[] = {c.host};
    r = db_exec(tx,
                "SELECT current_setting('app.club_id', true), set_config('app.club_id', $1, "
                "true)",
                1, ph, e);
    if (!r) goto done;
    char description[64];
    snprintf(description, sizeof description, "Cancellation fee (%d %%)", q.percent);
    rc = post_fee(call, tx, &c, "cancellation_fee", description, 1, q.amount, NULL, e);
    const char *pr[] = {PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0)};
    if (rc == 0 && db_exec_cmd(tx, "SELECT set_config('app.club_id', $1, true)", 1, pr, e) < 0)
        rc = -1;
done:
    PQclear(r);
    json_decref(c.terms);
    return rc;
}

int charge_on_no_show(const svc_call_t *call, db_tx_t *tx, const char *visit_id, err_t *e) {
    vctx_t c = {0};
    int rc = load_ctx(tx, visit_id, NULL, &c, e);
    if (rc == 0)
        rc =
            post_fee(call, tx, &c, "no_show_fee", "No-show fee (100 %)", 1,
                     fees_percent_of(fees_day_fee(json_object_get(c.terms, "fees")), 100), NULL, e);
    json_decref(c.terms);
    return rc;
}

/* ---- the home club's re-billing list ---- */

int charge_member_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *member = json_string_value(json_object_get(in, "id"));
    const char *format = json_string_value(json_object_get(in, "format"));
    const char *p[] = {member};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(
        call->env->db, &scope,
        "SELECT reciprocal.charge_doc(c)::text, s.number, to_char(s.period, 'YYYY-MM'), c.id, "
        "c.visit_id, reciprocal.ts(c.at), c.category, c.description, c.quantity, "
        "c.unit_amount, c.tax_amount, c.total_amount, c.currency, c.host_club_id FROM "
        "reciprocal.charges c JOIN reciprocal.statements s ON s.id = c.statement_id WHERE "
        "c.member_id = $1::uuid AND s.status <> 'draft' AND (core.is_network_admin() OR "
        "s.home_club_id = core.current_club()) ORDER BY s.period, s.number, c.seq",
        1, p, e);
    if (!r) return -1;
    int n = PQntuples(r);
    if (format && strcmp(format, "csv") == 0) {
        strbuf_t b = {0};
        strbuf_puts(&b, "statement_number,period,charge_id,visit_id,host_club_id,at,category,"
                        "description,quantity,unit_amount_minor,tax_minor,total_minor,currency,"
                        "total\r\n");
        for (int i = 0; i < n; i++) {
            char text[40];
            static const int cols[] = {1, 2, 3, 4, 13, 5, 6, 7, 8, 9, 10, 11, 12};
            for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
                csv_put_field(&b, PQgetvalue(r, i, cols[k]), cols[k] == 7 ? CSV_TEXT : 0);
                strbuf_puts(&b, ",");
            }
            csv_put_field(
                &b,
                fees_format(atoll(PQgetvalue(r, i, 11)), PQgetvalue(r, i, 12), text, sizeof text),
                0);
            strbuf_puts(&b, "\r\n");
        }
        PQclear(r);
        char *body = strbuf_take(&b), name[80];
        snprintf(name, sizeof name, "reciprocal-charges-%.36s.csv", member);
        *out = body ? svc_raw_output("text/csv; charset=utf-8", name, body) : NULL;
        free(body);
        return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
    }
    json_t *items = json_array();
    for (int i = 0; i < n; i++) {
        json_t *doc = db_json(r, i, 0, e);
        if (!doc) {
            json_decref(items);
            PQclear(r);
            return -1;
        }
        json_object_set_new(doc, "statement_number", json_string(PQgetvalue(r, i, 1)));
        json_object_set_new(doc, "period", json_string(PQgetvalue(r, i, 2)));
        json_array_append_new(items, doc);
    }
    PQclear(r);
    *out = json_pack("{s:s, s:o}", "member_id", member, "items", items);
    return 0;
}
