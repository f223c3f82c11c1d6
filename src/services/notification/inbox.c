/* inbox: the operations on messages: the caller's in-app inbox (list, unread count, mark seen /
 * read; RLS policy messages_own limits every statement to the caller's club and user, so
 * another member's id is 404) and the network administrators' failed list (inspect, retry).
 * Owns nothing between calls. */
#include "services/notification/inbox.h"

#include <libpq-fe.h>
#include <stdio.h>

#include "core/json.h"

#define INBOX_DOC                                                                                  \
    "json_build_object('id', id, 'event_type', event_type, 'template', template, 'subject', "      \
    "subject, 'body', body_text, 'critical', critical, 'status', status, 'created_at', "           \
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'seen_at', "     \
    "to_char(seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'read_at', "        \
    "to_char(read_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))"

int inbox_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"limit", "unread", "club_id", NULL};
    long long limit;
    int unread;
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_int(in, "limit", 0, 1, 100, 20, &limit, e) ||
        jsonx_bool(in, "unread", 0, 0, &unread, e))
        return -1;
    json_object_set_new(in, "limit", json_integer(limit));
    json_object_set_new(in, "unread", json_boolean(unread));
    return 0;
}

int inbox_validate_id(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", NULL};
    const char *id;
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_string(in, "id", 1, 1, 64, &id, e) != 0)
        return -1;
    if (!jsonx_is_uuid(id)) return err_invalid(e, "id", "id must be a uuid");
    return 0;
}

int inbox_validate_none(json_t *in, err_t *e) {
    static const char *const keys[] = {NULL};
    return jsonx_only_keys(in, keys, "", e);
}

static int unread_of(const svc_call_t *call, long long *n, err_t *e) {
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT count(*) FROM notification.messages WHERE channel = 'in_app' "
                          "AND user_id::text = $1 AND read_at IS NULL AND status <> 'not_sent'",
                          1, (const char *[]){call->caller->user_id}, e);
    if (!r) return -1;
    *n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int inbox_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char limit[16];
    snprintf(limit, sizeof limit, "%lld",
             (long long)json_integer_value(json_object_get(in, "limit")));
    const char *p[] = {call->caller->user_id, limit,
                       json_is_true(json_object_get(in, "unread")) ? "t" : "f"};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT coalesce(json_agg(d ORDER BY c DESC, i DESC), '[]')::text FROM "
                          "(SELECT " INBOX_DOC " AS d, created_at AS c, id AS i FROM "
                          "notification.messages WHERE channel = 'in_app' AND user_id::text = $1 "
                          "AND status <> 'not_sent' AND (NOT $3::boolean OR read_at IS NULL) "
                          "ORDER BY created_at DESC, id DESC LIMIT $2::int) x",
                          3, p, e);
    if (!r) return -1;
    /* the items as PostgreSQL built them (db_json_raw: no parse, no print; json_build_object with
     * fixed, distinct keys, so no duplicate keys), in the envelope with the unread count */
    json_t *items = db_json_raw(r, 0, 0, e);
    PQclear(r);
    long long unread = 0;
    if (!items || unread_of(call, &unread, e) != 0) {
        json_decref(items);
        return -1;
    }
    *out = json_pack("{s:o, s:I}", "items", items, "unread", (json_int_t)unread);
    return 0;
}

int inbox_unread(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    long long n = 0;
    if (unread_of(call, &n, e) != 0) return -1;
    *out = json_pack("{s:I}", "unread", (json_int_t)n);
    return 0;
}

/* seen: seen_at once; read: read_at once (and seen_at). The in-app status follows. */
static int mark(const svc_call_t *call, json_t *in, json_t **out, int read, err_t *e) {
    db_tx_t *tx = NULL;
    const char *p[] = {json_string_value(json_object_get(in, "id")), read ? "t" : "f"};
    if (svc_begin(call, &tx, e) != 0) return -1;
    int rc = -1;
    PGresult *r = db_exec(
        tx,
        "UPDATE notification.messages SET seen_at = coalesce(seen_at, now()), read_at = CASE WHEN "
        "$2::boolean THEN coalesce(read_at, now()) ELSE read_at END, status = CASE WHEN "
        "$2::boolean OR read_at IS NOT NULL THEN 'read' ELSE 'seen' END WHERE id = $1::uuid AND "
        "channel = 'in_app' AND status IN ('sent', 'seen', 'read', 'queued') RETURNING " INBOX_DOC
        "::text",
        2, p, e);
    if (!r) goto done;
    if (PQntuples(r) != 1) {
        err_set(e, 404, "not_found", "id", "no such message in your inbox");
        goto done;
    }
    *out = db_json(r, 0, 0, e);
    rc = *out ? 0 : -1;
done:
    PQclear(r);
    return db_tx_finish(&tx, rc, out, e);
}

int inbox_mark_seen(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return mark(call, in, out, 0, e);
}

int inbox_mark_read(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return mark(call, in, out, 1, e);
}

/* ---- the failed list (network administrators) ----------------------------------------------- */

int inbox_list_failed(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char limit[16];
    snprintf(limit, sizeof limit, "%lld",
             (long long)json_integer_value(json_object_get(in, "limit")));
    db_scope_t scope = svc_scope(call, "");
    PGresult *r = db_read(
        call->env->db, &scope,
        "SELECT coalesce(json_agg(json_build_object('id', id, 'club_id', club_id, 'channel', "
        "channel, 'event_type', event_type, 'event_id', event_id, 'template', template, 'status', "
        "status, 'tries', tries, 'last_error', last_error, 'failed_at', to_char(failed_at AT TIME "
        "ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) ORDER BY failed_at DESC), '[]')::text "
        "FROM (SELECT * FROM notification.messages WHERE status IN ('undelivered', 'not_sent') "
        "AND cancelled_at IS NULL ORDER BY failed_at DESC LIMIT $1::int) x",
        1, (const char *[]){limit}, e);
    if (!r) return -1;
    json_t *items = db_json_raw(r, 0, 0, e); /* pass-through, as inbox_list */
    PQclear(r);
    if (!items) return -1;
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

/* Queues a failed message again (tries reset). Runs in the system scope after dispatch checked
 * that the caller is a network administrator. */
int inbox_retry_failed(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    static const db_scope_t system = {NULL, NULL, 0, 1};
    db_tx_t *tx = NULL;
    const char *p[] = {json_string_value(json_object_get(in, "id"))};
    if (db_begin(call->env->db, &system, &tx, e) != 0) return -1;
    int rc = -1;
    PGresult *r = db_exec(tx,
                          "UPDATE notification.messages SET status = 'queued', tries = 0, "
                          "next_attempt_at = now(), failed_at = NULL WHERE id = $1::uuid AND "
                          "status IN ('undelivered', 'not_sent') RETURNING json_build_object('id', "
                          "id, 'status', status)::text",
                          1, p, e);
    if (!r) goto done;
    if (PQntuples(r) != 1) {
        err_set(e, 404, "not_found", "id", "no failed message with this id");
        goto done;
    }
    *out = db_json(r, 0, 0, e);
    rc = *out ? 0 : -1;
done:
    PQclear(r);
    return db_tx_finish(&tx, rc, out, e);
}
