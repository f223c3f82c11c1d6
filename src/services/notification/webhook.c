/* webhook: see webhook.h. */
#include "services/notification/webhook.h"

#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/json.h"
#include "core/log.h"
#include "services/notification/idem.h"
#include "services/notification/notification.h"
#include "services/notification/webhook_http.h"
#include "services/notification/webhook_seal.h"

/* seconds before try n+1 after try n failed (n = 1..7) */
static const int k_backoff[WEBHOOK_MAX_TRIES] = {0, 5, 300, 1800, 7200, 18000, 36000, 36000};

static const db_scope_t k_system = {NULL, NULL, 0, 1};

#define WEBHOOK_DOC                                                                                \
    "json_build_object('id', id, 'club_id', club_id, 'url', url, 'event_types', event_types, "     \
    "'active', active, 'created_at', to_char(created_at AT TIME ZONE 'UTC', "                      \
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"

/* ---- validation ----------------------------------------------------------------------------- */

/* event_types: 1..32 event types like visit.confirmed, or "*". */
static int validate_types(json_t *types, err_t *e) {
    json_t *v;
    size_t i;
    if (!json_is_array(types))
        return err_set(e, 400, "invalid_type", "event_types", "event_types must be an array");
    if (json_array_size(types) < 1 || json_array_size(types) > 32)
        return err_invalid(e, "event_types", "event_types must hold 1 to 32 event types");
    json_array_foreach(types, i, v) {
        const char *t = json_string_value(v);
        size_t n = t ? strlen(t) : 0;
        int ok = n >= 1 && n <= 128;
        for (size_t k = 0; ok && k < n; k++)
            ok = (t[k] >= 'a' && t[k] <= 'z') || t[k] == '.' || t[k] == '_' || t[k] == '*';
        if (!ok)
            return err_invalid(e, "event_types",
                               "event_types must be event types like visit.confirmed, or *");
    }
    return 0;
}

int webhook_validate_create(json_t *in, err_t *e) {
    static const char *const keys[] = {"url", "event_types", "club_id", "idempotency_key", NULL};
    const char *url;
    json_t *types = json_object_get(in, "event_types");
    if (jsonx_only_keys(in, keys, "", e) != 0 ||
        jsonx_string(in, "url", 1, 8, 2048, &url, e) != 0 || notify_idem_validate(in, e) != 0)
        return -1;
    if (!types) return err_set(e, 400, "missing_field", "event_types", "event_types is required");
    return validate_types(types, e);
}

int webhook_validate_update(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "club_id", "active", "event_types", NULL};
    const char *id;
    int active;
    json_t *types = json_object_get(in, "event_types");
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_string(in, "id", 1, 1, 64, &id, e) != 0 ||
        jsonx_bool(in, "active", 0, 1, &active, e) != 0)
        return -1;
    if (!jsonx_is_uuid(id)) return err_invalid(e, "id", "id must be a uuid");
    if (types && validate_types(types, e) != 0) return -1;
    if (!types && !json_object_get(in, "active"))
        return err_set(e, 400, "missing_field", "active", "active or event_types is required");
    return 0;
}

int webhook_validate_id(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "club_id", "limit", NULL};
    const char *id;
    long long limit;
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_string(in, "id", 1, 1, 64, &id, e) != 0 ||
        jsonx_int(in, "limit", 0, 1, 100, 20, &limit, e) != 0)
        return -1;
    if (!jsonx_is_uuid(id)) return err_invalid(e, "id", "id must be a uuid");
    json_object_set_new(in, "limit", json_integer(limit));
    return 0;
}

int webhook_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", NULL};
    return jsonx_only_keys(in, keys, "", e);
}

/* ---- operations ------------------------------------------------------------------------------ */

static int require_club(const svc_call_t *call, err_t *e) {
    if (!call->caller->club_id[0])
        return err_set(e, 403, "forbidden", "", "webhooks belong to a club");
    return 0;
}

/* The answer to a replayed create (idempotency key): the remembered endpoint document with the
 * endpoint's current secret when it still exists (consumes replay). */
static int webhook_replay(db_tx_t *tx, const unsigned char kek[32], json_t *replay, json_t **out,
                          err_t *e) {
    const char *p[] = {json_string_value(json_object_get(replay, "id"))};
    char secret[WEBHOOK_SECRET_MAX];
    PGresult *r = db_exec(tx,
                          "SELECT encode(secret_enc, 'hex'), encode(secret_nonce, 'hex') FROM "
                          "notification.webhooks WHERE id = $1::uuid AND club_id = "
                          "core.current_club() AND secret_enc IS NOT NULL",
                          1, p, e);
    if (!r) {
        json_decref(replay);
        return -1;
    }
    if (PQntuples(r) == 1 &&
        webhook_unseal(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), kek, p[0], secret) == 0)
        json_object_set_new(replay, "secret", json_string(secret));
    sodium_memzero(secret, sizeof secret);
    PQclear(r);
    *out = replay;
    return 0;
}

int webhook_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const notification_settings_t *s = notification_settings(call->env);
    const char *url = json_string_value(json_object_get(in, "url"));
    webhook_target_t t;
    char secret[WEBHOOK_SECRET_MAX], id[40], enc[WEBHOOK_ENC_PARAM], nonce[WEBHOOK_NONCE_PARAM];
    unsigned char kek[32];
    if (require_club(call, e) != 0 || webhook_check_url(url, s->webhook_allow_hosts, &t, e) != 0 ||
        webhook_kek(call->env, kek, e) != 0)
        return -1;
    char *types = json_dumps(json_object_get(in, "event_types"), JSON_COMPACT);
    if (!types) {
        sodium_memzero(kek, sizeof kek);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    webhook_new_secret(secret);
    const char *p[] = {url, types, enc, nonce, id};
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    int rc = -1;
    json_t *replay = NULL;
    if (svc_begin(call, &tx, e) != 0 ||
        notify_idem_begin(tx, "create_webhook", in, NULL, &replay, e) != 0)
        goto done;
    if (replay) { /* the same request again: the same endpoint (and its secret) */
        rc = webhook_replay(tx, kek, replay, out, e);
        goto done;
    }
    /* the id first: the seal names its endpoint (associated data) */
    r = db_exec(tx, "SELECT gen_random_uuid()::text", 0, NULL, e);
    if (!r) goto done;
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    if (webhook_seal(secret, kek, id, enc, nonce) != 0) {
        err_set(e, 500, "internal", "", "webhook secret could not be sealed");
        goto done;
    }
    r = db_exec(
        tx,
        "INSERT INTO notification.webhooks (id, club_id, url, event_types, secret_enc, "
        "secret_nonce) VALUES ($5::uuid, core.current_club(), $1, ARRAY(SELECT "
        "jsonb_array_elements_text($2::jsonb)), $3::bytea, $4::bytea) RETURNING " WEBHOOK_DOC
        "::text",
        5, p, e);
    if (!r) goto done;
    *out = db_json(r, 0, 0, e);
    if (!*out || notify_idem_finish(tx, "create_webhook", in, *out, NULL, e) != 0) goto done;
    /* the secret is answered once, here (and to a replay of the same idempotent request) */
    json_object_set_new(*out, "secret", json_string(secret));
    rc = 0;
done:
    PQclear(r);
    free(types);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(kek, sizeof kek);
    return db_tx_finish(&tx, rc, out, e);
}

int webhook_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    if (require_club(call, e) != 0) return -1;
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT json_build_object('items', coalesce(json_agg(" WEBHOOK_DOC
                          " ORDER BY created_at), '[]'))::text FROM notification.webhooks WHERE "
                          "club_id = core.current_club()",
                          0, NULL, e);
    if (!r) return -1;
    /* answered as PostgreSQL built it (db_json_raw: no parse, no print; json_build_object with
     * fixed, distinct keys, so no duplicate keys) */
    *out = db_json_raw(r, 0, 0, e);
    PQclear(r);
    return *out ? 0 : -1;
}

/* One statement on a webhook of the caller's club that answers its document (RETURNING
 * WEBHOOK_DOC::text), in its own transaction: 0 + *out, or -1 (404 naming id when no row). */
static int webhook_write(const svc_call_t *call, const char *sql, int n, const char *const *p,
                         json_t **out, err_t *e) {
    db_tx_t *tx = NULL;
    if (svc_begin(call, &tx, e) != 0) return -1;
    *out = db_row_json(db_exec(tx, sql, n, p, e), e, "id", "no webhook with this id");
    return db_tx_finish(&tx, *out ? 0 : -1, out, e);
}

int webhook_rotate(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char secret[WEBHOOK_SECRET_MAX], enc[WEBHOOK_ENC_PARAM], nonce[WEBHOOK_NONCE_PARAM];
    unsigned char kek[32];
    const char *id = json_string_value(json_object_get(in, "id"));
    if (require_club(call, e) != 0 || webhook_kek(call->env, kek, e) != 0) return -1;
    webhook_new_secret(secret);
    int sealed = webhook_seal(secret, kek, id, enc, nonce) == 0;
    sodium_memzero(kek, sizeof kek);
    if (!sealed) {
        sodium_memzero(secret, sizeof secret);
        return err_set(e, 500, "internal", "", "webhook secret could not be sealed");
    }
    const char *p[] = {id, enc, nonce};
    /* the old secret keeps signing (a second signature) for 24 h; both sealed */
    int rc = webhook_write(
        call,
        "UPDATE notification.webhooks SET previous_enc = secret_enc, previous_nonce = "
        "secret_nonce, previous_secret = NULL, previous_expires_at = now() + interval "
        "'24 hours', secret_enc = $2::bytea, secret_nonce = $3::bytea, secret = NULL, "
        "updated_at = now() WHERE id = $1::uuid AND club_id = core.current_club() "
        "RETURNING " WEBHOOK_DOC "::text",
        3, p, out, e);
    if (rc == 0) json_object_set_new(*out, "secret", json_string(secret));
    sodium_memzero(secret, sizeof secret);
    return rc;
}

int webhook_deliveries(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char limit[16];
    if (require_club(call, e) != 0) return -1;
    snprintf(limit, sizeof limit, "%lld",
             (long long)json_integer_value(json_object_get(in, "limit")));
    const char *p[] = {json_string_value(json_object_get(in, "id")), limit};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(
        call->env->db, &scope,
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM notification.webhooks WHERE id = $1::uuid AND "
        "club_id = core.current_club()) THEN json_build_object('items', coalesce((SELECT "
        "json_agg(json_build_object('id', 'msg_' || replace(d.id::text, '-', ''), 'event_id', "
        "d.event_id, 'event_type', d.event_type, 'status', d.status, 'tries', d.tries, "
        "'last_status_code', d.last_status_code, 'last_error', d.last_error, 'created_at', "
        "to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'sent_at', "
        "to_char(d.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
        "'next_attempt_at', CASE WHEN d.status = 'queued' THEN to_char(d.next_attempt_at AT "
        "TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END) ORDER BY d.created_at DESC) "
        "FROM (SELECT * FROM notification.webhook_deliveries WHERE webhook_id = $1::uuid ORDER "
        "BY created_at DESC LIMIT $2::int) d), '[]'))::text END",
        2, p, e);
    if (!r) return -1;
    if (PQgetisnull(r, 0, 0)) {
        PQclear(r);
        return err_set(e, 404, "not_found", "id", "no webhook with this id");
    }
    *out = db_json_raw(r, 0, 0, e); /* pass-through, as webhook_list */
    PQclear(r);
    return *out ? 0 : -1;
}

/* Disables/enables an endpoint or changes its event types. A disabled endpoint is queued no
 * new delivery, and the worker ends its queued ones as undelivered ("webhook disabled"). */
int webhook_update(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    if (require_club(call, e) != 0) return -1;
    json_t *a = json_object_get(in, "active"), *types = json_object_get(in, "event_types");
    char *tj = types ? json_dumps(types, JSON_COMPACT) : NULL;
    if (types && !tj) return err_set(e, 500, "internal", "", "out of memory");
    const char *p[] = {json_string_value(json_object_get(in, "id")),
                       a ? (json_is_true(a) ? "true" : "false") : NULL, tj};
    int rc = webhook_write(
        call,
        "UPDATE notification.webhooks SET active = coalesce($2::boolean, active), event_types = "
        "CASE WHEN $3::jsonb IS NULL THEN event_types ELSE ARRAY(SELECT "
        "jsonb_array_elements_text($3::jsonb)) END, updated_at = now() WHERE id = $1::uuid AND "
        "club_id = core.current_club() RETURNING " WEBHOOK_DOC "::text",
        3, p, out, e);
    free(tj);
    return rc;
}

/* Deletes an endpoint, its secrets and its delivery log (ON DELETE CASCADE); answers it. */
int webhook_delete(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    if (require_club(call, e) != 0) return -1;
    const char *p[] = {json_string_value(json_object_get(in, "id"))};
    return webhook_write(call,
                         "DELETE FROM notification.webhooks WHERE id = $1::uuid AND club_id = "
                         "core.current_club() RETURNING " WEBHOOK_DOC "::text",
                         1, p, out, e);
}

/* ---- the consumers' part --------------------------------------------------------------------- */

/* The clubs an event concerns (its tenant, home/host/club ids, the "clubs" list): a new array
 * of uuid strings, NULL when out of memory. */
static json_t *event_clubs(const svc_event_t *ev) {
    json_t *clubs = json_array();
    static const char *const keys[] = {"home_club_id", "host_club_id", "club_id", NULL};
    if (!clubs) return NULL;
    if (ev->tenant_id && *ev->tenant_id) json_array_append_new(clubs, json_string(ev->tenant_id));
    for (const char *const *k = keys; *k; k++) {
        json_t *v = json_object_get(ev->data, *k);
        if (json_is_string(v) && jsonx_is_uuid(json_string_value(v))) json_array_append(clubs, v);
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(ev->data, "clubs"), i, v) {
        if (json_is_string(v) && jsonx_is_uuid(json_string_value(v))) json_array_append(clubs, v);
    }
    return clubs;
}

/* The delivery's payload, compact JSON (malloc'd; NULL when out of memory). */
static char *payload_text(const char *type, const char *ts, json_t *data) {
    json_t *payload = json_pack("{s:s, s:s, s:O}", "type", type, "timestamp", ts, "data", data);
    char *body = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    return body;
}

int notify_webhooks_queue(db_tx_t *tx, const svc_event_t *ev, err_t *e) {
    json_t *clubs = event_clubs(ev);
    if (!clubs) return err_set(e, 500, "internal", "", "out of memory");
    time_t now = time(NULL);
    struct tm tm;
    char ts[32];
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (ev->acc) { /* the consumer's batch: at its flush (notify_webhooks_flush), the payload is
                    * written only for an event some active webhook of its clubs subscribes to */
        json_t *row = json_pack("{s:o, s:s, s:s, s:s, s:O}", "clubs", clubs, "event_type", ev->type,
                                "event_id", ev->id, "timestamp", ts, "data", ev->data);
        return row && json_array_append_new(ev->acc, row) == 0
                   ? 0
                   : err_set(e, 500, "internal", "", "out of memory");
    }
    char *body = payload_text(ev->type, ts, ev->data);
    char *ids = json_dumps(clubs, JSON_COMPACT);
    json_decref(clubs);
    long long n = -1;
    if (body && ids) {
        const char *p[] = {ids, ev->type, ev->id, body};
        n = db_exec_cmd(tx,
                        "INSERT INTO notification.webhook_deliveries (club_id, webhook_id, "
                        "event_id, event_type, payload) SELECT w.club_id, w.id, $3::uuid, $2, $4 "
                        "FROM notification.webhooks w WHERE w.active AND w.club_id IN (SELECT "
                        "jsonb_array_elements_text($1::jsonb)::uuid) AND ($2 = ANY (w.event_types) "
                        "OR '*' = ANY (w.event_types)) ON CONFLICT (webhook_id, event_id) DO "
                        "NOTHING",
                        4, p, e);
    } else {
        err_set(e, 500, "internal", "", "out of memory");
    }
    free(body);
    free(ids);
    return n < 0 ? -1 : 0;
}

/* Whether the subscriptions subs (rows club, event type of the active webhooks of the batch's
 * clubs) name an event of type for one of clubs: the INSERT's own condition, in C. */
static int subscribed(PGresult *subs, json_t *clubs, const char *type) {
    for (int k = 0; k < PQntuples(subs); k++) {
        const char *t = PQgetvalue(subs, k, 1);
        if (strcmp(t, type) != 0 && strcmp(t, "*") != 0) continue;
        size_t i;
        json_t *v;
        json_array_foreach(clubs, i, v) {
            if (strcasecmp(json_string_value(v), PQgetvalue(subs, k, 0)) == 0) return 1;
        }
    }
    return 0;
}

/* A batch of a consumer's events, most of which no club has a webhook for (every check-in's
 * visit.checked_in, every visit.requested): one statement reads the subscriptions of the
 * batch's clubs (the active webhooks' club and event types, by webhooks_club_idx); the events
 * none of them names cost no payload, no JSON to PostgreSQL and no INSERT. The INSERT of the
 * others keeps its own condition and ON CONFLICT: a webhook created or changed between the two
 * statements is seen by the INSERT or not at all, as it was by the one INSERT before. */
int notify_webhooks_flush(db_tx_t *tx, json_t *acc, err_t *e) {
    if (!acc || json_array_size(acc) == 0) return 0;
    json_t *seen = json_object(), *rows = json_array(), *row, *v;
    char *list = NULL;
    PGresult *subs = NULL;
    int rc = -1;
    size_t i, k, len = 2, at = 0;
    if (!seen || !rows) goto oom;
    json_array_foreach(acc, i, row) {
        json_array_foreach(json_object_get(row, "clubs"), k, v) {
            if (!json_object_get(seen, json_string_value(v))) {
                json_object_set_new(seen, json_string_value(v), json_true());
                len += strlen(json_string_value(v)) + 1;
            }
        }
    }
    if (json_object_size(seen) == 0) {
        rc = 0;
        goto done;
    }
    if (!(list = malloc(len + 1))) goto oom;
    list[at++] = '{';
    const char *key;
    json_object_foreach(seen, key, v) {
        at += (size_t)snprintf(list + at, len + 1 - at, "%s%s", at > 1 ? "," : "", key);
    }
    list[at++] = '}';
    list[at] = '\0';
    const char *p[] = {list};
    subs = db_exec(tx,
                   "SELECT DISTINCT w.club_id::text, t FROM notification.webhooks w, unnest "
                   "(w.event_types) t WHERE w.active AND w.club_id = ANY ($1::uuid[])",
                   1, p, e);
    if (!subs) goto done;
    json_array_foreach(acc, i, row) {
        const char *type = json_string_value(json_object_get(row, "event_type"));
        if (!type || !subscribed(subs, json_object_get(row, "clubs"), type)) continue;
        char *body = payload_text(type, json_string_value(json_object_get(row, "timestamp")),
                                  json_object_get(row, "data"));
        json_t *r = body ? json_pack("{s:O, s:s, s:O, s:s}", "clubs", json_object_get(row, "clubs"),
                                     "event_type", type, "event_id",
                                     json_object_get(row, "event_id"), "payload", body)
                         : NULL;
        free(body);
        if (!r || json_array_append_new(rows, r) != 0) goto oom;
    }
    rc = json_array_size(rows) == 0
             ? 0
             : notify_exec_json(
                   tx,
                   "INSERT INTO notification.webhook_deliveries (club_id, webhook_id, event_id, "
                   "event_type, payload) SELECT w.club_id, w.id, x.event_id, x.event_type, "
                   "x.payload FROM jsonb_to_recordset($1::jsonb) AS x(clubs jsonb, event_type "
                   "text, event_id uuid, payload text) JOIN notification.webhooks w ON w.active "
                   "AND w.club_id IN (SELECT jsonb_array_elements_text(x.clubs)::uuid) AND "
                   "(x.event_type = ANY (w.event_types) OR '*' = ANY (w.event_types)) ON "
                   "CONFLICT (webhook_id, event_id) DO NOTHING",
                   rows, e);
    goto done;
oom:
    err_set(e, 500, "internal", "", "out of memory");
done:
    PQclear(subs);
    free(list);
    json_decref(seen);
    json_decref(rows);
    return rc;
}

/* ---- the worker's part ----------------------------------------------------------------------- */

typedef struct wdel {
    char id[40], club[40], url[2100], secret[WEBHOOK_SECRET_MAX], previous[WEBHOOK_SECRET_MAX];
    char webhook[40]; /* the endpoint: the seals' associated data */
    char enc[2 * WEBHOOK_ENC_BYTES + 1], nonce[2 * WEBHOOK_NONCE_BYTES + 1];
    char penc[2 * WEBHOOK_ENC_BYTES + 1], pnonce[2 * WEBHOOK_NONCE_BYTES + 1];
    int tries;
    char *payload;
} wdel_t;

/* The delivery's secrets opened from their seals (a previous one only while it still signs). */
static int open_secrets(const svc_env_t *env, wdel_t *d, err_t *e) {
    unsigned char kek[32];
    if (webhook_kek(env, kek, e) != 0) return -1;
    int ok = webhook_unseal(d->enc, d->nonce, kek, d->webhook, d->secret) == 0;
    if (ok && d->penc[0] && webhook_unseal(d->penc, d->pnonce, kek, d->webhook, d->previous) != 0)
        d->previous[0] = '\0';
    sodium_memzero(kek, sizeof kek);
    return ok ? 0 : err_set(e, 500, "internal", "", "webhook secret could not be opened");
}

/* Sends one delivery; *permanent when it must not be retried; *code the HTTP status (0 none). */
static int send_one(const notification_settings_t *s, const wdel_t *d, int *permanent, long *code,
                    err_t *e) {
    webhook_target_t t;
    char msg_id[48], sig[2 * WEBHOOK_SIG_MAX + 2], one[WEBHOOK_SIG_MAX];
    *permanent = 0;
    *code = 0;
    if (strlen(d->payload) > (size_t)s->webhook_max_bytes) {
        *permanent = 1;
        return err_set(e, 413, "payload_too_large", "", "payload larger than %d bytes",
                       s->webhook_max_bytes);
    }
    /* the target again at every try: DNS may now answer a private address */
    if (webhook_check_url(d->url, s->webhook_allow_hosts, &t, e) != 0) {
        *permanent = 1;
        return -1;
    }
    snprintf(msg_id, sizeof msg_id, "msg_");
    for (const char *p = d->id; *p && strlen(msg_id) < sizeof msg_id - 1; p++)
        if (*p != '-') strncat(msg_id, p, 1);
    long long ts = (long long)time(NULL);
    if (webhook_sign(d->secret, msg_id, ts, d->payload, sig) != 0) {
        *permanent = 1;
        return err_set(e, 500, "internal", "", "unreadable webhook secret");
    }
    if (d->previous[0] && webhook_sign(d->previous, msg_id, ts, d->payload, one) == 0) {
        strcat(sig, " ");
        strcat(sig, one);
    }
    if (webhook_post(d->url, &t, msg_id, ts, sig, d->payload, s->webhook_timeout_s,
                     (size_t)s->webhook_max_bytes, code, e) != 0)
        return -1;
    if (*code >= 200 && *code < 300) return 0;
    if (*code >= 300 && *code < 400) {
        *permanent = 1; /* redirects are not followed */
        return err_set(e, 502, "redirect_refused", "", "HTTP %ld: redirects are not followed",
                       *code);
    }
    *permanent = *code >= 400 && *code < 500 && *code != 408 && *code != 429;
    return err_set(e, 502, "http_error", "", "HTTP %ld", *code);
}

static int record(const svc_env_t *env, const wdel_t *d, int ok, int permanent, long code,
                  const err_t *why, err_t *e) {
    int tries = d->tries + 1;
    int final = !ok && (permanent || tries >= WEBHOOK_MAX_TRIES);
    char t[16], c[16], delay[16];
    snprintf(t, sizeof t, "%d", tries);
    snprintf(c, sizeof c, "%ld", code);
    snprintf(delay, sizeof delay, "%d", tries < WEBHOOK_MAX_TRIES ? k_backoff[tries] : 0);
    const char *status = ok ? "sent" : final ? "undelivered" : "queued";
    const char *p[] = {d->id, status, t, code ? c : NULL, ok ? NULL : why->message, delay};
    db_tx_t *tx = NULL;
    if (db_begin(env->db, &k_system, &tx, e) != 0) return -1;
    long long n = db_exec_cmd(
        tx,
        "UPDATE notification.webhook_deliveries SET status = $2, tries = $3::int, "
        "last_status_code = $4::int, last_error = $5, next_attempt_at = now() + "
        "make_interval(secs => $6::int), sent_at = CASE WHEN $2 = 'sent' THEN now() END, "
        "failed_at = CASE WHEN $2 = 'undelivered' THEN now() END WHERE id = $1::uuid",
        6, p, e);
    if (final && n >= 0)
        log_warn("webhook delivery %s undelivered after %d tries: %s", d->id, tries, why->message);
    return db_tx_finish(&tx, n < 0 ? -1 : 0, NULL, e);
}

int notify_webhooks_deliver_once(const svc_env_t *env, err_t *e) {
    const notification_settings_t *s = notification_settings(env);
    db_tx_t *tx = NULL;
    if (db_begin(env->db, &k_system, &tx, e) != 0) return -1;
    /* a disabled endpoint's queued deliveries end here */
    if (db_exec_cmd(tx,
                    "UPDATE notification.webhook_deliveries d SET status = 'undelivered', "
                    "last_error = 'webhook disabled', failed_at = now() FROM "
                    "notification.webhooks w WHERE w.id = d.webhook_id AND NOT w.active AND "
                    "d.status = 'queued'",
                    0, NULL, e) < 0) {
        db_rollback(tx);
        return -1;
    }
    /* lease like the messages: at least once after a crash; the due ids as an array, found by
     * primary key (delivery.c notify_deliver_once) */
    PGresult *r = db_exec(
        tx,
        "UPDATE notification.webhook_deliveries d SET next_attempt_at = now() + interval '5 "
        "minutes' FROM notification.webhooks w WHERE d.id = ANY (ARRAY(SELECT x.id FROM "
        "notification.webhook_deliveries x WHERE x.status = 'queued' AND x.next_attempt_at <= "
        "now() ORDER BY x.next_attempt_at LIMIT 20 FOR UPDATE SKIP LOCKED)) AND w.id = "
        "d.webhook_id "
        "RETURNING d.id::text, d.club_id::text, w.url, w.id::text, encode(w.secret_enc, 'hex'), "
        "encode(w.secret_nonce, 'hex'), CASE WHEN w.previous_expires_at > now() THEN "
        "encode(w.previous_enc, 'hex') END, encode(w.previous_nonce, 'hex'), d.tries, d.payload",
        0, NULL, e);
    if (!r) {
        db_rollback(tx);
        return -1;
    }
    int n = PQntuples(r);
    wdel_t *ds = calloc((size_t)(n ? n : 1), sizeof *ds);
    for (int i = 0; ds && i < n; i++) {
        snprintf(ds[i].id, sizeof ds[i].id, "%s", PQgetvalue(r, i, 0));
        snprintf(ds[i].club, sizeof ds[i].club, "%s", PQgetvalue(r, i, 1));
        snprintf(ds[i].url, sizeof ds[i].url, "%s", PQgetvalue(r, i, 2));
        snprintf(ds[i].webhook, sizeof ds[i].webhook, "%s", PQgetvalue(r, i, 3));
        snprintf(ds[i].enc, sizeof ds[i].enc, "%s", PQgetvalue(r, i, 4));
        snprintf(ds[i].nonce, sizeof ds[i].nonce, "%s", PQgetvalue(r, i, 5));
        snprintf(ds[i].penc, sizeof ds[i].penc, "%s", PQgetvalue(r, i, 6));
        snprintf(ds[i].pnonce, sizeof ds[i].pnonce, "%s", PQgetvalue(r, i, 7));
        ds[i].tries = atoi(PQgetvalue(r, i, 8));
        ds[i].payload = strdup(PQgetvalue(r, i, 9));
    }
    PQclear(r);
    if (!ds || db_commit(tx, e) != 0) {
        for (int i = 0; ds && i < n; i++)
            free(ds[i].payload);
        free(ds);
        return ds ? -1 : err_set(e, 500, "internal", "", "out of memory");
    }
    int handled = 0;
    for (int i = 0; i < n; i++) {
        err_t why = {0};
        int permanent = 0;
        long code = 0;
        int ok = ds[i].payload && open_secrets(env, &ds[i], &why) == 0 &&
                 send_one(s, &ds[i], &permanent, &code, &why) == 0;
        if (!ds[i].payload) err_set(&why, 500, "internal", "", "out of memory");
        if (record(env, &ds[i], ok, permanent, code, &why, e) == 0) handled++;
        free(ds[i].payload);
        sodium_memzero(ds[i].secret, sizeof ds[i].secret);
        sodium_memzero(ds[i].previous, sizeof ds[i].previous);
    }
    free(ds);
    return handled;
}
