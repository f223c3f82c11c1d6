/* bounce: see bounce.h. */
#include "services/notification/bounce.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "core/outbox.h"
#include "services/notification/notification.h"

static const db_scope_t k_system = {NULL, NULL, 0, 1};

#define SUPPRESSION_DOC                                                                            \
    "json_build_object('id', id, 'address', address, 'reason', reason, 'detail', detail, "         \
    "'message_id', message_id, 'created_at', to_char(created_at AT TIME ZONE 'UTC', "              \
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'expires_at', to_char(expires_at AT TIME ZONE 'UTC', "     \
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'active', expires_at IS NULL OR expires_at > now())"

/* ---- the Message-ID ----------------------------------------------------------------------- */

void notify_bounce_message_id(const char *id, const char *from, char out[NOTIFY_REF_MAX]) {
    const char *at = from ? strrchr(from, '@') : NULL;
    size_t n = 0;
    if (at)
        for (const char *p = at + 1; p[n] && p[n] != '>' && !isspace((unsigned char)p[n]); n++) {
        }
    if (n > 40) n = 40;
    snprintf(out, NOTIFY_REF_MAX, "%s@%.*s", id, (int)(n ? n : 9), n ? at + 1 : "localhost");
}

/* ---- the worker's part -------------------------------------------------------------------- */

long long notify_bounce_suppress_recipient(db_tx_t *tx, const char *club, const char *to,
                                           const char *at, err_t *e) {
    const char *p[] = {club, to, at};
    return db_exec_cmd(tx,
                       "WITH d AS (SELECT id, club_id, recipient, channel, critical FROM "
                       "notification.messages WHERE club_id = $1::uuid AND recipient = $2 AND "
                       "channel = 'email' AND status = 'queued' AND next_attempt_at <= "
                       "coalesce($3::timestamptz, now())) " NOTIFY_BOUNCE_SUPPRESS_SQL(
                           "d", "coalesce($3::timestamptz, now())"),
                       3, p, e);
}

/* ---- the status callback ------------------------------------------------------------------ */

static int rank(const char *status) {
    return strcmp(status, "sent") == 0                 ? 1
           : strcmp(status, "delivery_attempted") == 0 ? 2
           : strcmp(status, "delivered") == 0          ? 3
           : strcmp(status, "bounced") == 0            ? 3
                                                       : 0;
}

typedef struct email_msg {
    char id[40], club[40], status[32], template[72], type[128], recipient[330];
    int tries;
} email_msg_t;

/* The e-mail whose Message-ID is ref, locked; 404 naming message_id when none. A mail the
 * secondary relay accepted keeps provider_ref "smtp:secondary:<id>" (delivery.c): found by the
 * Message-ID's <id> part. */
static int lock_message(db_tx_t *tx, const char *ref, email_msg_t *m, err_t *e) {
    const char *p[] = {ref};
    PGresult *r = db_exec(tx,
                          "SELECT id::text, club_id::text, status, template, event_type, tries, "
                          "recipient FROM notification.messages WHERE channel = 'email' AND "
                          "provider_ref IN ($1, 'smtp:secondary:' || split_part($1, '@', 1)) "
                          "FOR UPDATE",
                          1, p, e);
    if (!r) return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_set(e, 404, "not_found", "message_id", "no e-mail with this Message-ID");
    }
    snprintf(m->id, sizeof m->id, "%s", PQgetvalue(r, 0, 0));
    snprintf(m->club, sizeof m->club, "%s", PQgetvalue(r, 0, 1));
    snprintf(m->status, sizeof m->status, "%s", PQgetvalue(r, 0, 2));
    snprintf(m->template, sizeof m->template, "%s", PQgetvalue(r, 0, 3));
    snprintf(m->type, sizeof m->type, "%s", PQgetvalue(r, 0, 4));
    m->tries = atoi(PQgetvalue(r, 0, 5));
    snprintf(m->recipient, sizeof m->recipient, "%s", PQgetvalue(r, 0, 6));
    PQclear(r);
    return 0;
}

/* m's address on its club's suppression list for reason: for good (hard_bounce) or for `days`
 * days. An entry already there is replaced only when it is temporary and the new one lasts
 * longer (a hard bounce after a complaint; a complaint after the old one expired). *suppressed
 * = 1 when the address was added or its entry extended. */
static int suppress(db_tx_t *tx, const email_msg_t *m, const char *reason, const char *error,
                    int days, int *suppressed, err_t *e) {
    char d[16];
    snprintf(d, sizeof d, "%d", strcmp(reason, "hard_bounce") == 0 ? 0 : days);
    const char *p[] = {m->club, m->recipient, error, m->id, reason, d};
    long long n = db_exec_cmd(
        tx,
        "INSERT INTO notification.suppressions AS s (club_id, address, detail, message_id, "
        "reason, expires_at) VALUES ($1::uuid, lower($2), $3, $4::uuid, $5, CASE WHEN $6::int > 0 "
        "THEN now() + make_interval(days => $6::int) END) ON CONFLICT (club_id, address) DO "
        "UPDATE SET reason = EXCLUDED.reason, detail = EXCLUDED.detail, message_id = "
        "EXCLUDED.message_id, expires_at = EXCLUDED.expires_at, created_at = now() WHERE "
        "s.expires_at IS NOT NULL AND (EXCLUDED.expires_at IS NULL OR s.expires_at < "
        "EXCLUDED.expires_at)",
        6, p, e);
    if (n < 0) return -1;
    *suppressed = n > 0;
    return 0;
}

/* A soft bounce of m: the address is suppressed for `days` days once it is the
 * NOTIFY_SOFT_BOUNCES-th soft-bounce report of the address in the club within that many days. */
#define NOTIFY_SOFT_BOUNCES 3
static int soft_bounce(db_tx_t *tx, const email_msg_t *m, const char *error, int days,
                       int *suppressed, err_t *e) {
    char d[16], v[32] = "";
    snprintf(d, sizeof d, "%d", days);
    const char *p[] = {m->club, m->recipient, d};
    PGresult *r = db_exec(tx,
                          "SELECT count(*) FROM notification.provider_callbacks c JOIN "
                          "notification.messages m ON m.id = c.message_id WHERE c.provider = "
                          "'email' AND c.status = 'delivery_attempted' AND c.received_at > now() "
                          "- make_interval(days => $3::int) AND m.club_id = $1::uuid AND "
                          "lower(m.recipient) = lower($2)",
                          3, p, e);
    if (!r) return -1;
    snprintf(v, sizeof v, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (atoi(v) < NOTIFY_SOFT_BOUNCES) return 0;
    return suppress(tx, m, "soft_bounce", error, days, suppressed, e);
}

/* The hard bounce of m: its address on its club's suppression list for good (once),
 * notification.failed when the mail became bounced. *suppressed = 1 when the address was added. */
static int hard_bounce(db_tx_t *tx, const email_msg_t *m, const char *error, int applied,
                       int *suppressed, err_t *e) {
    if (suppress(tx, m, "hard_bounce", error, 0, suppressed, e) != 0) return -1;
    if (!applied) return 0;
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "message_id", m->id, "channel",
                             "email", "template", m->template, "status", "bounced", "event_type",
                             m->type, "tries", m->tries, "reason", "provider");
    const outbox_meta_t meta = {0};
    int rc = data ? outbox_add(tx, "notification", "notification.failed", "notification", m->club,
                               data, &meta, NULL, e)
                  : err_set(e, 500, "internal", "", "out of memory");
    json_decref(data);
    if (rc == 0) log_warn("notification %s (email) bounced, reported by the provider", m->id);
    return rc;
}

/* Records the provider's report (delivered, delivery_attempted, bounced, complaint) that the
 * mail of Message-ID ref is now status, once. */
static int apply(const svc_env_t *env, const char *ref, const char *report, const char *status,
                 const char *error, json_t **out, err_t *e) {
    int days = notification_settings(env)->suppression_days;
    db_tx_t *tx = NULL;
    email_msg_t m = {0};
    int rc = -1, applied = 0, suppressed = 0;
    if (db_begin(env->db, &k_system, &tx, e) != 0) return -1;
    if (lock_message(tx, ref, &m, e) != 0) goto done;
    /* once per Message-ID and status: a repeated callback changes nothing */
    const char *c[] = {ref, report, m.id};
    long long fresh = db_exec_cmd(tx,
                                  "INSERT INTO notification.provider_callbacks (provider, "
                                  "provider_ref, status, message_id) VALUES ('email', $1, $2, "
                                  "$3::uuid) ON CONFLICT DO NOTHING",
                                  3, c, e);
    if (fresh < 0) goto done;
    /* forward only: sent -> delivery_attempted -> delivered | bounced */
    if (fresh > 0 && rank(m.status) >= 1 && rank(m.status) < 3 && rank(status) > rank(m.status)) {
        /* a digest mail: every row it listed (digest_of = its first row) moves with it */
        const char *u[] = {m.id, status, error, m.status};
        if (db_exec_cmd(tx,
                        "UPDATE notification.messages SET status = $2, status_changed_at = now(), "
                        "delivered_at = CASE WHEN $2 = 'delivered' THEN now() END, failed_at = "
                        "CASE WHEN $2 = 'bounced' THEN now() END, last_error = coalesce($3, "
                        "last_error) WHERE (id = $1::uuid OR digest_of = $1::uuid) AND status = $4",
                        4, u, e) < 0)
            goto done;
        applied = 1;
        snprintf(m.status, sizeof m.status, "%s", status);
    }
    /* the address is undeliverable whatever the mail's status was: suppressed (first report) */
    if (fresh > 0 && strcmp(report, "bounced") == 0 &&
        hard_bounce(tx, &m, error, applied, &suppressed, e) != 0)
        goto done;
    /* a spam complaint, or repeated soft bounces: suppressed for suppression_days */
    if (fresh > 0 && strcmp(report, "complaint") == 0 &&
        suppress(tx, &m, "complaint", error, days, &suppressed, e) != 0)
        goto done;
    if (fresh > 0 && strcmp(report, "delivery_attempted") == 0 &&
        soft_bounce(tx, &m, error, days, &suppressed, e) != 0)
        goto done;
    *out = json_pack("{s:s, s:b, s:b}", "status", m.status, "applied", applied, "suppressed",
                     suppressed);
    rc = *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
done:
    return db_tx_finish(&tx, rc, out, e);
}

/* "<ref>" or "ref" (surrounding blanks ignored) into out without brackets; 422 when empty. */
static int bare_ref(const char *given, char out[NOTIFY_REF_MAX], err_t *e) {
    while (isspace((unsigned char)*given))
        given++;
    size_t n = strlen(given);
    while (n && isspace((unsigned char)given[n - 1]))
        n--;
    if (n >= 2 && given[0] == '<' && given[n - 1] == '>') {
        given++;
        n -= 2;
    }
    if (n == 0 || n >= NOTIFY_REF_MAX)
        return err_invalid(e, "message_id", "message_id must be the mail's Message-ID");
    memcpy(out, given, n);
    out[n] = '\0';
    return 0;
}

int bounce_email_callback(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    static const char *const statuses[] = {"delivered", "soft_bounce", "hard_bounce", "complaint",
                                           NULL};
    static const char *const keys[] = {"message_id", "status", "error", NULL};
    const notification_settings_t *s = notification_settings(call->env);
    const char *sig = json_string_value(json_object_get(in, "signature"));
    const char *raw = json_string_value(json_object_get(in, "body"));
    const char *id = NULL, *status = NULL, *error = NULL;
    char expected[80], ref[NOTIFY_REF_MAX];
    if (!s->email_callback_secret[0])
        return err_set(e, 404, "not_found", "", "no e-mail status callbacks are configured");
    if (!raw)
        return err_set(e, 415, "unsupported_media_type", "content-type",
                       "send the body as application/json");
    if (!sig)
        return err_set(e, 401, "unauthenticated", "signature", "X-Reciprocal-Signature missing");
    notify_callback_signature(s->email_callback_secret, raw, strlen(raw), expected);
    int ok = notify_secret_equal(sig, expected);
    sodium_memzero(expected, sizeof expected);
    if (!ok)
        return err_set(e, 401, "invalid_signature", "signature",
                       "the callback signature is invalid");
    json_t *doc = NULL;
    int rc = -1;
    if (jsonx_parse_object(raw, strlen(raw), &doc, e) != 0) return -1;
    if (jsonx_only_keys(doc, keys, "", e) == 0 &&
        jsonx_string(doc, "message_id", 1, 1, 1000, &id, e) == 0 &&
        jsonx_enum(doc, "status", 1, statuses, &status, e) == 0 &&
        jsonx_string(doc, "error", 0, 1, 300, &error, e) == 0 && bare_ref(id, ref, e) == 0) {
        /* the report as recorded, and the mail's status it leads to (a complaint: delivered) */
        const char *report = strcmp(status, "delivered") == 0     ? "delivered"
                             : strcmp(status, "soft_bounce") == 0 ? "delivery_attempted"
                             : strcmp(status, "complaint") == 0   ? "complaint"
                                                                  : "bounced";
        rc = apply(call->env, ref, report, strcmp(report, "complaint") == 0 ? "delivered" : report,
                   error, out, e);
    }
    json_decref(doc);
    return rc;
}

/* ---- a club's suppression list ------------------------------------------------------------ */

static int require_club(const svc_call_t *call, err_t *e) {
    if (!call->caller->club_id[0])
        return err_set(e, 403, "forbidden", "", "suppressions belong to a club");
    return 0;
}

int bounce_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", "limit", NULL};
    long long limit;
    if (jsonx_only_keys(in, keys, "", e) != 0 ||
        jsonx_int(in, "limit", 0, 1, 200, 50, &limit, e) != 0)
        return -1;
    json_object_set_new(in, "limit", json_integer(limit));
    return 0;
}

int bounce_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    if (require_club(call, e) != 0) return -1;
    char limit[16];
    snprintf(limit, sizeof limit, "%lld", json_integer_value(json_object_get(in, "limit")));
    const char *p[] = {limit};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT json_build_object('items', coalesce(json_agg(" SUPPRESSION_DOC
                          " ORDER BY created_at DESC, id), '[]'))::text FROM (SELECT * FROM "
                          "notification.suppressions WHERE club_id = core.current_club() ORDER "
                          "BY created_at DESC, id LIMIT $1::int) s",
                          1, p, e);
    if (!r) return -1;
    *out = db_json_raw(r, 0, 0, e);
    PQclear(r);
    return *out ? 0 : -1;
}

int bounce_validate_id(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "club_id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return jsonx_uuid(in, "id", 1, e);
}

/* Removes a suppression of the caller's club (the address receives mail again); answers it. */
int bounce_delete(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    if (require_club(call, e) != 0) return -1;
    const char *p[] = {json_string_value(json_object_get(in, "id"))};
    db_tx_t *tx = NULL;
    if (svc_begin(call, &tx, e) != 0) return -1;
    *out = db_row_json(db_exec(tx,
                               "DELETE FROM notification.suppressions WHERE id = $1::uuid AND "
                               "club_id = core.current_club() RETURNING " SUPPRESSION_DOC "::text",
                               1, p, e),
                       e, "id", "no suppression with this id");
    return db_tx_finish(&tx, *out ? 0 : -1, out, e);
}
