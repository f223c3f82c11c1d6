/* statements: see statements.h. */
#include "services/reciprocal/statements.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cursor.h"
#include "core/json.h"
#include "core/periodic.h"
#include "services/reciprocal/statement_doc.h"
#include "services/reciprocal/statement_ledger.h"
#include "services/reciprocal/statement_pdf.h"

static const char *const k_status[] = {"draft", "issued", "disputed", "accepted", "paid", NULL};

static int is_period(const char *s) {
    return strlen(s) == 7 && s[0] >= '1' && s[0] <= '9' && strspn(s, "0123456789-") == 7 &&
           s[4] == '-' &&
           ((s[5] == '0' && s[6] >= '1' && s[6] <= '9') ||
            (s[5] == '1' && s[6] >= '0' && s[6] <= '2'));
}

static int stmt_ref(json_t *in, err_t *e) {
    return jsonx_ref(in, "id", 1, "no such statement", e);
}

int stmt_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"side", "period", "status", "limit", "after", NULL};
    static const char *const sides[] = {"host", "home", NULL};
    const char *s;
    long long n;
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_enum(in, "side", 0, sides, &s, e) != 0 ||
        jsonx_enum(in, "status", 0, k_status, &s, e) != 0 ||
        jsonx_int(in, "limit", 0, 1, 100, 20, &n, e) != 0 ||
        jsonx_string(in, "after", 0, 1, CURSOR_MAX_LEN, &s, e) != 0 ||
        jsonx_string(in, "period", 0, 7, 7, &s, e) != 0)
        return -1;
    if (s && !is_period(s)) return err_set(e, 422, "invalid_field", "period", "period is YYYY-MM");
    return 0;
}

int stmt_validate_get(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "format", NULL};
    static const char *const formats[] = {"json", "csv", "pdf", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_enum(in, "format", 0, formats, &s, e) != 0)
        return -1;
    return stmt_ref(in, e);
}

int stmt_validate_action(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "reason", "answer", "line", "payment_ref", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_string(in, "reason", 0, 1, 500, &s, e) ||
        jsonx_string(in, "answer", 0, 1, 500, &s, e) ||
        jsonx_string(in, "payment_ref", 0, 1, 200, &s, e) ||
        jsonx_ref(in, "line", 0, "no such line", e) != 0)
        return -1;
    return stmt_ref(in, e);
}

int stmt_validate_line(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "line", "reason", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_string(in, "reason", 1, 1, 500, &s, e) ||
        jsonx_string(in, "line", 1, 1, 64, &s, e) != 0)
        return -1;
    if (!jsonx_is_uuid(s)) return err_set(e, 404, "not_found", "line", "no such line");
    return stmt_ref(in, e);
}

int stmt_validate_sweep(json_t *in, err_t *e) {
    static const char *const keys[] = {"as_of", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_string(in, "as_of", 0, 10, 40, &s, e) != 0)
        return -1;
    if (s && (strlen(s) < 10 || s[4] != '-' || s[7] != '-'))
        return err_set(e, 422, "invalid_field", "as_of", "as_of is an ISO 8601 timestamp");
    return 0;
}

/* ---- shared with charges ---- */

int stmt_lock_open(db_tx_t *tx, const char *id, int *open, err_t *e) {
    const char *p[] = {id};
    PGresult *r = db_exec(tx,
                          "SELECT status IN ('draft', 'disputed') FROM reciprocal.statements "
                          "WHERE id = $1::uuid FOR SHARE",
                          1, p, e);
    if (!r) return -1;
    *open = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return 0;
}

/* Fixes the totals from the lines and marks the statement issued (the row locked FOR UPDATE). */
static int fix_issued(db_tx_t *tx, const char *id, err_t *e) {
    const char *p[] = {id};
    return db_exec_cmd(tx,
                       "UPDATE reciprocal.statements s SET status = 'issued', issued_at = "
                       "coalesce(s.issued_at, now()), drafted_at = coalesce(s.drafted_at, now()), "
                       "updated_at = now(), line_count = t.n, total_net = t.net, total_tax = "
                       "t.tax, total = t.total FROM (SELECT count(*) AS n, "
                       "coalesce(sum(net_amount), 0) AS net, coalesce(sum(tax_amount), 0) AS tax, "
                       "coalesce(sum(total_amount), 0) AS total FROM reciprocal.charges WHERE "
                       "statement_id = $1::uuid) t WHERE s.id = $1::uuid",
                       1, p, e) < 0
               ? -1
               : 0;
}

static int emit(const svc_call_t *call, db_tx_t *tx, const char *type, const char *tenant,
                const char *id, const char *host, const char *home, const char *status,
                const char *hash, err_t *e) {
    return svc_emit(call, tx, type, tenant,
                    json_pack("{s:s, s:s, s:s, s:s, s:s?}", "statement_id", id, "host_club_id",
                              host, "home_club_id", home, "status", status, "hash", hash),
                    e);
}

int stmt_line_reversed(const svc_call_t *call, db_tx_t *tx, const char *statement_id,
                       const char *charge_id, err_t *e) {
    const char *p[] = {statement_id, charge_id};
    if (db_exec_cmd(tx,
                    "UPDATE reciprocal.statement_disputes SET status = 'reversed', resolved_at = "
                    "now() WHERE statement_id = $1::uuid AND charge_id = $2::uuid AND status = "
                    "'open'",
                    2, p, e) < 0)
        return -1;
    PGresult *r = db_exec(tx,
                          "SELECT s.status = 'disputed' AND NOT EXISTS (SELECT 1 FROM "
                          "reciprocal.statement_disputes d WHERE d.statement_id = s.id AND "
                          "d.status = 'open'), s.host_club_id, s.home_club_id FROM "
                          "reciprocal.statements s WHERE s.id = $1::uuid",
                          1, p, e);
    if (!r) return -1;
    int back = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    char host[40], home[40];
    snprintf(host, sizeof host, "%s", back ? PQgetvalue(r, 0, 1) : "");
    snprintf(home, sizeof home, "%s", back ? PQgetvalue(r, 0, 2) : "");
    PQclear(r);
    if (!back) return 0;
    if (fix_issued(tx, statement_id, e) != 0) return -1;
    return emit(call, tx, "statement.issued", host, statement_id, host, home, "issued", NULL, e);
}

/* ---- reading ---- */

int stmt_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    cursor_page_t pg;
    if (cursor_page_begin(in, 20, "statements", "tu", &pg, e) != 0) return -1;
    const char *p[] = {json_string_value(json_object_get(in, "side")),
                       json_string_value(json_object_get(in, "period")),
                       json_string_value(json_object_get(in, "status")),
                       cursor_page_key(&pg, 0),
                       cursor_page_key(&pg, 1),
                       pg.fetch};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r =
        db_read(call->env->db, &scope,
                /* the list answers each statement without its lines */
                "SELECT (reciprocal.statement_doc(s, false) - 'lines')::text, to_char(s.period, "
                "'YYYY-MM'), s.id FROM "
                "reciprocal.statements s WHERE ($1::text IS NULL OR ($1 = "
                "'host' AND s.host_club_id = core.current_club()) OR ($1 = "
                "'home' AND s.home_club_id = core.current_club())) AND "
                "($2::text IS NULL OR to_char(s.period, 'YYYY-MM') = $2) AND "
                "($3::text IS NULL OR s.status = $3) AND ($4::text IS NULL OR "
                "(to_char(s.period, 'YYYY-MM'), s.id) > ($4, $5::uuid)) ORDER "
                "BY to_char(s.period, 'YYYY-MM'), s.id LIMIT $6::int",
                6, p, e);
    if (!r) return cursor_page_failed(e);
    *out = cursor_page_output(r, pg.limit, "statements", "tu", e);
    PQclear(r);
    return *out ? 0 : -1;
}

/* The statement document of id (with lines) as the caller sees it, parsed (for the PDF and the
 * acceptance's hash; statement_doc.c writes it). 404 when unseen. */
static json_t *load_doc(const svc_call_t *call, db_tx_t *tx, const char *id, err_t *e) {
    json_t *raw = stmt_doc_json(call, tx, id, e);
    if (!raw) return NULL;
    json_t *doc = jsonx_materialize(raw);
    if (!doc) err_set(e, 500, "internal", "", "out of memory reading a statement");
    return doc;
}

/* The two clubs (member.get_clubs_by_ids, as the caller): {id: club} or NULL + err. */
static json_t *clubs_of(const svc_call_t *call, const json_t *doc, err_t *e) {
    json_t *in = json_pack("{s:[O, O]}", "ids", json_object_get(doc, "host_club_id"),
                           json_object_get(doc, "home_club_id")),
           *res = NULL;
    int status = 0;
    int rc = svc_call(call->env, "member", "get_clubs_by_ids", call->caller, in, &status, &res, e);
    json_decref(in);
    if (rc != 0) return NULL;
    json_t *by = json_object();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(res, "items"), i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        if (id) json_object_set(by, id, c);
    }
    json_decref(res);
    return by;
}

int stmt_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *format = json_string_value(json_object_get(in, "format"));
    const char *id = json_string_value(json_object_get(in, "id"));
    char name[112], number[96];
    if (!format || strcmp(format, "json") == 0) {
        /* written from the rows and answered as it is: no parse, no print (a 2,000-line
         * statement is ~1.4 MB; docs/reciprocal.md "Statement documents written from rows") */
        *out = stmt_doc_json(call, NULL, id, e);
        return *out ? 0 : -1;
    }
    char *body = NULL;
    if (strcmp(format, "csv") == 0) {
        size_t len;
        if (stmt_doc_text(call, NULL, id, STMT_DOC_CSV, &body, &len, number, e) != 0) return -1;
        snprintf(name, sizeof name, "%s.csv", number);
        *out = svc_raw_output("text/csv; charset=utf-8", name, body);
        free(body);
        return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
    }
    json_t *doc = load_doc(call, NULL, id, e);
    if (!doc) return -1;
    snprintf(name, sizeof name, "%s.%s", json_string_value(json_object_get(doc, "number")), format);
    json_t *clubs = clubs_of(call, doc, e);
    if (!clubs) {
        json_decref(doc);
        return -1;
    }
    size_t len = 0;
    body = stmt_pdf(doc, clubs, &len);
    json_decref(clubs);
    json_decref(doc);
    if (!body) return err_set(e, 500, "pdf_failed", "", "the PDF could not be made");
    *out = svc_raw_output("application/pdf", name, body);
    free(body);
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
}

/* ---- transitions ---- */

typedef struct srow {
    char id[40], host[40], home[40], status[16];
} srow_t;

static int lock_stmt(db_tx_t *tx, const char *id, srow_t *s, err_t *e) {
    const char *p[] = {id};
    PGresult *r = db_row(db_exec(tx,
                                 "SELECT host_club_id, home_club_id, status FROM "
                                 "reciprocal.statements WHERE id = $1::uuid FOR UPDATE",
                                 1, p, e),
                         e, "id", "no such statement");
    if (!r) return -1;
    snprintf(s->id, sizeof s->id, "%s", id);
    DB_TEXTS(r, 0, 0, DB_TEXT(s->host), DB_TEXT(s->home), DB_TEXT(s->status));
    PQclear(r);
    return 0;
}

enum { SIDE_HOST = 1, SIDE_HOME = 2 };

typedef struct action {
    const char *name, *from1, *from2, *to, *event;
    int side;
} action_t;

static const action_t k_actions[] = {
    {"issue", "draft", NULL, "issued", "statement.issued", SIDE_HOST},
    {"dispute", "issued", "disputed", "disputed", "statement.disputed", SIDE_HOME},
    {"dispute_line", "issued", "disputed", "disputed", "statement.disputed", SIDE_HOME},
    {"reject_dispute", "disputed", NULL, "issued", "statement.issued", SIDE_HOST},
    {"accept", "issued", NULL, "accepted", "statement.accepted", SIDE_HOME},
    {"pay", "accepted", NULL, "paid", "statement.paid", SIDE_HOST},
};

/* SHA-256 (hex) of the compact, key-sorted JSON of the statement's content: number, clubs,
 * currency, period, lines and totals (docs/reciprocal.md: verifying a statement offline). */
static int content_hash(const json_t *doc, char hex[65]) {
    static const char *const keys[] = {"number", "host_club_id", "home_club_id", "currency",
                                       "period", "lines",        "totals",       NULL};
    json_t *c = json_object();
    for (const char *const *k = keys; *k; k++)
        json_object_set(c, *k, json_object_get(doc, *k));
    char *text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(c);
    if (!text) return -1;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
    free(text);
    sodium_bin2hex(hex, 65, h, sizeof h);
    return 0;
}

/* The action's own change once the statement is locked and the side checked. */
static int apply(const svc_call_t *call, db_tx_t *tx, const action_t *a, const srow_t *s,
                 json_t *in, char hash[65], err_t *e) {
    const char *reason = json_string_value(json_object_get(in, "reason"));
    const char *line = json_string_value(json_object_get(in, "line"));
    const char *user = call->caller->user_id[0] ? call->caller->user_id : NULL;
    if (strcmp(a->name, "issue") == 0) return fix_issued(tx, s->id, e);
    if (strcmp(a->name, "dispute") == 0 || strcmp(a->name, "dispute_line") == 0) {
        if (!reason) return err_set(e, 400, "missing_field", "reason", "reason is required");
        if (line) {
            const char *pl[] = {line, s->id};
            PGresult *r = db_exec(tx,
                                  "SELECT c.reverses IS NULL AND NOT EXISTS (SELECT 1 FROM "
                                  "reciprocal.charges x WHERE x.reverses = c.id) FROM "
                                  "reciprocal.charges c WHERE c.id = $1::uuid AND c.statement_id "
                                  "= $2::uuid",
                                  2, pl, e);
            if (!r) return -1;
            int found = PQntuples(r) == 1, ok = found && PQgetvalue(r, 0, 0)[0] == 't';
            PQclear(r);
            if (!found) return err_set(e, 404, "not_found", "line", "no such line here");
            if (!ok)
                return err_set(e, 409, "line_not_disputable", "line",
                               "a reversing or reversed line is not disputed");
        }
        const char *p[] = {s->id, line, reason, user};
        long long n = db_exec_cmd(tx,
                                  "INSERT INTO reciprocal.statement_disputes (statement_id, "
                                  "charge_id, reason, opened_by) VALUES ($1, $2, $3, $4) ON "
                                  "CONFLICT DO NOTHING",
                                  4, p, e);
        if (n < 0) return -1;
        if (n == 0)
            return err_set(e, 409, "already_disputed", line ? "line" : "id",
                           "an open dispute already exists");
        const char *ps[] = {s->id};
        return db_exec_cmd(tx,
                           "UPDATE reciprocal.statements SET status = 'disputed', updated_at = "
                           "now() WHERE id = $1::uuid",
                           1, ps, e) < 0
                   ? -1
                   : 0;
    }
    if (strcmp(a->name, "reject_dispute") == 0) {
        const char *answer = json_string_value(json_object_get(in, "answer"));
        if (!answer) return err_set(e, 400, "missing_field", "answer", "answer is required");
        const char *p[] = {s->id, line, answer};
        long long n = db_exec_cmd(tx,
                                  "UPDATE reciprocal.statement_disputes SET status = 'rejected', "
                                  "answer = $3, resolved_at = now() WHERE statement_id = $1::uuid "
                                  "AND status = 'open' AND ($2::uuid IS NULL OR charge_id = "
                                  "$2::uuid)",
                                  3, p, e);
        if (n < 0) return -1;
        if (n == 0) return err_set(e, 404, "not_found", "line", "no open dispute of this line");
        PGresult *r = db_exec(tx,
                              "SELECT count(*) FROM reciprocal.statement_disputes WHERE "
                              "statement_id = $1::uuid AND status = 'open'",
                              1, p, e);
        if (!r) return -1;
        long long open = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        return open > 0 ? 1 : fix_issued(tx, s->id, e); /* 1: stays disputed */
    }
    if (strcmp(a->name, "accept") == 0) {
        json_t *doc = load_doc(call, tx, s->id, e);
        if (!doc) return -1;
        json_t *t = json_object_get(doc, "totals"), *it = json_object_get(doc, "issued_totals");
        int same = json_equal(json_object_get(t, "total"), json_object_get(it, "total")) &&
                   json_equal(json_object_get(t, "lines"), json_object_get(it, "lines"));
        int rc = same ? content_hash(doc, hash) : 0;
        json_decref(doc);
        if (!same)
            return err_set(e, 409, "totals_changed", "id",
                           "the lines no longer add up to the issued totals");
        if (rc != 0) return err_set(e, 500, "internal", "", "out of memory");
        const char *p[] = {s->id, hash};
        return db_exec_cmd(tx,
                           "UPDATE reciprocal.statements SET status = 'accepted', accepted_at = "
                           "now(), hash = $2, ledger_status = 'pending', updated_at = now() "
                           "WHERE id = $1::uuid",
                           2, p, e) < 0
                   ? -1
                   : 0;
    }
    const char *p[] = {s->id, json_string_value(json_object_get(in, "payment_ref"))};
    return db_exec_cmd(tx,
                       "UPDATE reciprocal.statements SET status = 'paid', paid_at = now(), "
                       "payment_ref = $2, updated_at = now() WHERE id = $1::uuid",
                       2, p, e) < 0
               ? -1
               : 0;
}

static int act(const svc_call_t *call, json_t *in, const char *name, json_t **out, err_t *e) {
    const action_t *a = NULL;
    for (size_t i = 0; i < sizeof k_actions / sizeof k_actions[0]; i++)
        if (strcmp(k_actions[i].name, name) == 0) a = &k_actions[i];
    db_tx_t *tx = NULL;
    srow_t s = {0};
    char hash[65] = "";
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) return -1;
    if (lock_stmt(tx, json_string_value(json_object_get(in, "id")), &s, e) != 0) goto done;
    const svc_caller_t *k = call->caller;
    int mine = k->network_admin ? SIDE_HOST | SIDE_HOME
                                : (strcasecmp(k->club_id, s.host) == 0 ? SIDE_HOST : 0) |
                                      (strcasecmp(k->club_id, s.home) == 0 ? SIDE_HOME : 0);
    if (!(mine & a->side)) {
        err_set(e, 403, "forbidden", "id", "only the %s club may %s this statement",
                a->side == SIDE_HOST ? "host" : "home", a->name);
        goto done;
    }
    if (strcmp(s.status, a->from1) != 0 && (!a->from2 || strcmp(s.status, a->from2) != 0)) {
        err_set(e, 409, "invalid_transition", "status", "cannot %s a statement that is %s", a->name,
                s.status);
        goto done;
    }
    int r = apply(call, tx, a, &s, in, hash, e);
    if (r < 0) goto done;
    const char *tenant = a->side == SIDE_HOST ? s.host : s.home;
    if (r == 0 && emit(call, tx, a->event, tenant, s.id, s.host, s.home, a->to,
                       hash[0] ? hash : NULL, e) != 0)
        goto done;
    if (!out) { /* the schedule: no document to answer */
        rc = 0;
        goto done;
    }
    *out = stmt_doc_json(call, tx, s.id, e); /* answered only: pass-through */
    rc = *out ? 0 : -1;
done:
    return db_tx_finish(&tx, rc, out, e);
}

int stmt_issue(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return act(call, in, "issue", out, e);
}
int stmt_dispute(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return act(call, in, "dispute", out, e);
}
int stmt_dispute_line(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return act(call, in, "dispute_line", out, e);
}
int stmt_reject_dispute(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return act(call, in, "reject_dispute", out, e);
}
int stmt_accept(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return act(call, in, "accept", out, e);
}
int stmt_pay(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return act(call, in, "pay", out, e);
}

/* ---- the schedule ---- */

/* The events of rows (id, host_club_id, home_club_id, ordered by host): one outbox statement per
 * host (the event's tenant), the same envelopes as one emit per row. */
static int emit_rows(const svc_call_t *call, db_tx_t *tx, const char *type, const char *status,
                     const PGresult *r, err_t *e) {
    int n = PQntuples(r), rc = 0;
    json_t **data = calloc(n ? (size_t)n : 1, sizeof *data);
    if (!data) return err_set(e, 500, "internal", "", "out of memory");
    for (int i = 0, from = 0; rc == 0 && i < n; i++) {
        data[i] =
            json_pack("{s:s, s:s, s:s, s:s}", "statement_id", PQgetvalue(r, i, 0), "host_club_id",
                      PQgetvalue(r, i, 1), "home_club_id", PQgetvalue(r, i, 2), "status", status);
        if (!data[i])
            rc = err_set(e, 500, "internal", "", "out of memory");
        else if (i + 1 == n || strcmp(PQgetvalue(r, i + 1, 1), PQgetvalue(r, i, 1)) != 0) {
            rc = svc_emit_many(call, tx, type, PQgetvalue(r, i, 1), data + from,
                               (size_t)(i + 1 - from), e);
            from = i + 1;
        }
    }
    for (int i = 0; i < n; i++)
        json_decref(data[i]);
    free(data);
    return rc;
}

/* Issues every draft statement due at as_of (NULL = now: the 5th of the next month in the
 * host's time zone), up to 1,000, in ONE transaction: the due drafts locked FOR UPDATE (each
 * waits for the postings in flight, which hold it FOR SHARE), then ONE statement fixes every
 * one's totals from its lines (its own snapshot, taken once the locks are held, so it counts
 * every line committed before them) and marks it issued; statement.issued per statement. What
 * `issue` does per statement, set-based (docs/reciprocal.md "Speed: settlement"). */
static int issue_due(const svc_call_t *call, const char *as_of, long long *issued, err_t *e) {
    const char *p[] = {as_of};
    db_tx_t *tx = NULL;
    int rc = -1;
    db_batch_t b = {0};
    if (svc_begin_deferred(call, NULL, &tx, e) != 0) return -1;
    /* the totals' plan is costed per statement (one index scan of its lines each): above
     * jit_above_cost for a few dozen, where compiling it costs more than running it */
    db_batch_add(&b, "SELECT set_config('jit', 'off', true)", 0, NULL);
    int lock = db_batch_add(&b,
                            "SELECT coalesce(array_agg(id), '{}')::text FROM (SELECT id FROM "
                            "reciprocal.statements WHERE status = 'draft' AND (period + interval "
                            "'1 month 4 days')::date <= (coalesce($1::timestamptz, now()) AT "
                            "TIME ZONE host_timezone)::date ORDER BY period, id LIMIT 1000 FOR "
                            "UPDATE) d",
                            1, p);
    if (db_batch_run(tx, &b, 0, e) != 0) goto done;
    const char *ids[] = {PQgetvalue(db_batch_result(&b, lock), 0, 0)};
    PGresult *u = db_exec(
        tx,
        "WITH u AS (UPDATE reciprocal.statements s SET status = 'issued', issued_at = "
        "coalesce(s.issued_at, now()), drafted_at = coalesce(s.drafted_at, now()), updated_at = "
        "now(), line_count = t.n, total_net = t.net, total_tax = t.tax, total = t.total FROM "
        "unnest($1::uuid[]) AS x(id) CROSS JOIN LATERAL (SELECT count(*) AS n, "
        "coalesce(sum(c.net_amount), 0) AS net, coalesce(sum(c.tax_amount), 0) AS tax, "
        "coalesce(sum(c.total_amount), 0) AS total FROM reciprocal.charges c WHERE "
        "c.statement_id = x.id) t WHERE s.id = x.id RETURNING s.id, s.host_club_id, "
        "s.home_club_id) SELECT id, host_club_id, home_club_id FROM u ORDER BY host_club_id, id",
        1, ids, e);
    if (!u) goto done;
    *issued = PQntuples(u);
    rc = emit_rows(call, tx, "statement.issued", "issued", u, e);
    PQclear(u);
done:
    db_batch_clear(&b);
    return db_tx_finish(&tx, rc, NULL, e);
}

int stmt_sweep(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *as_of = json_string_value(json_object_get(in, "as_of"));
    const char *p[] = {as_of};
    db_tx_t *tx = NULL;
    long long drafted = 0, issued = 0;
    if (svc_begin(call, &tx, e) != 0) return -1;
    PGresult *r = db_exec(tx,
                          "WITH d AS (UPDATE reciprocal.statements SET drafted_at = now(), "
                          "updated_at = now() WHERE status = 'draft' AND drafted_at IS NULL AND "
                          "(period + interval '1 month')::date <= (coalesce($1::timestamptz, "
                          "now()) AT TIME ZONE host_timezone)::date RETURNING id, host_club_id, "
                          "home_club_id) SELECT id, host_club_id, home_club_id FROM d ORDER BY "
                          "host_club_id, id",
                          1, p, e);
    int rc = r ? emit_rows(call, tx, "statement.drafted", "draft", r, e) : -1;
    drafted = r ? PQntuples(r) : 0;
    PQclear(r);
    if (db_tx_finish(&tx, rc, NULL, e) != 0 || issue_due(call, as_of, &issued, e) != 0) return -1;
    long long submitted = 0, pending = 0;
    if (stmt_ledger_pass(call, &submitted, &pending, e) != 0) return -1;
    *out = json_pack("{s:I, s:I, s:I, s:I}", "drafted", (json_int_t)drafted, "issued",
                     (json_int_t)issued, "ledger_submitted", (json_int_t)submitted,
                     "ledger_pending", (json_int_t)pending);
    return 0;
}

int stmt_sweep_once(const svc_env_t *env, err_t *e) {
    return periodic_call(env, "reciprocal", "statement_sweep", "statement-sweep", NULL, NULL, e);
}

/* ---- netting ---- */

int stmt_validate_netting(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "partner", "period", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_string(in, "id", 1, 1, 64, &s, e) != 0)
        return -1;
    if (!jsonx_is_uuid(s)) return err_set(e, 404, "not_found", "id", "no such club");
    if (jsonx_string(in, "partner", 1, 1, 64, &s, e) != 0) return -1;
    if (!jsonx_is_uuid(s)) return err_set(e, 422, "invalid_field", "partner", "not a club id");
    if (jsonx_string(in, "period", 1, 7, 7, &s, e) != 0) return -1;
    return is_period(s) ? 0 : err_set(e, 422, "invalid_field", "period", "period is YYYY-MM");
}

int stmt_netting(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = json_string_value(json_object_get(in, "id"));
    const char *partner = json_string_value(json_object_get(in, "partner"));
    const char *period = json_string_value(json_object_get(in, "period"));
    if (!call->caller->network_admin && strcasecmp(club, call->caller->club_id) != 0)
        return err_set(e, 403, "forbidden", "id", "a club nets its own statements only");
    const char *p[] = {club, partner, period};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(
        call->env->db, &scope,
        "SELECT s.currency, coalesce(jsonb_agg(jsonb_build_object('id', s.id, 'number', "
        "s.number, 'side', CASE WHEN s.host_club_id = $1::uuid THEN 'host' ELSE 'home' END, "
        "'status', s.status, 'total', s.total) ORDER BY s.number), '[]')::text, "
        "coalesce(sum(s.total) FILTER (WHERE s.host_club_id = $1::uuid), 0)::bigint, "
        "coalesce(sum(s.total) FILTER (WHERE s.home_club_id = $1::uuid), 0)::bigint FROM "
        "reciprocal.statements s WHERE ((s.host_club_id = $1::uuid AND s.home_club_id = "
        "$2::uuid) OR (s.host_club_id = $2::uuid AND s.home_club_id = $1::uuid)) AND "
        "to_char(s.period, 'YYYY-MM') = $3 AND s.status IN ('issued', 'accepted') GROUP BY "
        "s.currency ORDER BY s.currency",
        3, p, e);
    if (!r) return -1;
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *list = db_json(r, i, 1, e);
        if (!list) {
            json_decref(items);
            PQclear(r);
            return -1;
        }
        long long rec = atoll(PQgetvalue(r, i, 2)), pay = atoll(PQgetvalue(r, i, 3));
        long long net = rec - pay;
        json_array_append_new(items, json_pack("{s:s, s:I, s:I, s:I, s:s?, s:s?, s:o}", "currency",
                                               PQgetvalue(r, i, 0), "receivable", (json_int_t)rec,
                                               "payable", (json_int_t)pay, "net", (json_int_t)net,
                                               "payer_club_id",
                                               net > 0   ? partner
                                               : net < 0 ? club
                                                         : NULL,
                                               "payee_club_id",
                                               net > 0   ? club
                                               : net < 0 ? partner
                                                         : NULL,
                                               "statements", list));
    }
    PQclear(r);
    *out = json_pack("{s:s, s:s, s:s, s:o}", "club_id", club, "partner_club_id", partner, "period",
                     period, "items", items);
    return 0;
}
