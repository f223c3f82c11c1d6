/* provider: see provider.h. */
#include "services/notification/provider.h"

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "core/outbox.h"
#include "lib/mustache/mustache.h"
#include "services/notification/fcm_auth.h"
#include "services/notification/rules.h"
#include "services/notification/webhook_http.h"

static const db_scope_t k_system = {NULL, NULL, 0, 1};

#define CALLBACK_PATH "/api/v1/notifications/callbacks/"

/* ---- configuration -------------------------------------------------------------------------- */

int notify_provider_enabled(const notification_settings_t *s, const char *channel) {
    const char *p = strcmp(channel, "sms") == 0    ? s->sms_provider
                    : strcmp(channel, "push") == 0 ? s->push_provider
                                                   : "off";
    return strcmp(p, "off") != 0;
}

int notify_provider_check(const notification_settings_t *s, err_t *e) {
    if (strcmp(s->sms_provider, "off") != 0 && strcmp(s->sms_provider, "generic") != 0 &&
        strcmp(s->sms_provider, "twilio") != 0)
        return err_set(e, 500, "invalid_config", "RECIPROCAL_SMS_PROVIDER",
                       "RECIPROCAL_SMS_PROVIDER must be off, generic or twilio");
    if (strcmp(s->push_provider, "off") != 0 && strcmp(s->push_provider, "generic") != 0 &&
        strcmp(s->push_provider, "fcm") != 0)
        return err_set(e, 500, "invalid_config", "RECIPROCAL_PUSH_PROVIDER",
                       "RECIPROCAL_PUSH_PROVIDER must be off, generic or fcm");
    if (notify_provider_enabled(s, "sms") && !s->sms_url[0])
        return err_set(e, 500, "invalid_config", "RECIPROCAL_SMS_URL",
                       "RECIPROCAL_SMS_URL is required when RECIPROCAL_SMS_PROVIDER is not off");
    if (notify_provider_enabled(s, "push") && !s->push_url[0])
        return err_set(e, 500, "invalid_config", "RECIPROCAL_PUSH_URL",
                       "RECIPROCAL_PUSH_URL is required when RECIPROCAL_PUSH_PROVIDER is not off");
    if (strcmp(s->sms_provider, "twilio") == 0 && !strchr(s->sms_auth, ':'))
        return err_set(e, 500, "invalid_config", "RECIPROCAL_SMS_AUTH",
                       "RECIPROCAL_SMS_AUTH must be AccountSid:AuthToken for twilio");
    return 0;
}

/* ---- the request ---------------------------------------------------------------------------- */

/* s as the inside of a JSON string (no quotes), malloc'd; NULL when out of memory. */
static char *json_inner(const char *s) {
    json_t *j = json_string(s ? s : "");
    char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (!q) return NULL;
    size_t n = strlen(q);
    memmove(q, q + 1, n - 2);
    q[n - 2] = '\0';
    return q;
}

/* The generic provider's body: tmpl rendered with the NULL-terminated name/value pairs, each
 * value JSON-escaped first (a quote or line break in a name cannot break out of its string). */
static char *render_body(const char *tmpl, const char *const *kv, err_t *e) {
    json_t *vars = json_object();
    char *out = NULL, why[256];
    for (size_t i = 0; vars && kv[i]; i += 2) {
        char *v = json_inner(kv[i + 1]);
        if (!v || json_object_set_new(vars, kv[i], json_string(v)) != 0) {
            free(v);
            json_decref(vars);
            err_set(e, 500, "internal", "", "out of memory");
            return NULL;
        }
        free(v);
    }
    if (!vars) {
        err_set(e, 500, "internal", "", "out of memory");
        return NULL;
    }
    if (mustache_render(tmpl, vars, NULL, MUSTACHE_STRICT | MUSTACHE_NO_ESCAPE, &out, why,
                        sizeof why) != 0)
        err_set(e, 422, "template_error", "body_template", "provider body template: %s", why);
    json_decref(vars);
    return out;
}

/* application/x-www-form-urlencoded value of s appended to buf (cap bytes). */
static void form_add(char *buf, size_t cap, const char *name, const char *value) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = strlen(buf);
    if (o && o + 1 < cap) buf[o++] = '&';
    for (const char *p = name; *p && o + 1 < cap; p++)
        buf[o++] = *p;
    if (o + 1 < cap) buf[o++] = '=';
    for (const unsigned char *p = (const unsigned char *)value; *p && o + 3 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            buf[o++] = (char)*p;
        } else {
            buf[o++] = '%';
            buf[o++] = hex[*p >> 4];
            buf[o++] = hex[*p & 15];
        }
    }
    buf[o < cap ? o : cap - 1] = '\0';
}

/* The provider's id of the message in its JSON answer (twilio sid, FCM name, generic id or
 * message_id), else fallback. */
static void answer_ref(const char *response, const char *fallback, char ref[NOTIFY_REF_MAX]) {
    static const char *const keys[] = {"sid", "name", "id", "message_id", NULL};
    json_t *j = response ? json_loads(response, 0, NULL) : NULL;
    snprintf(ref, NOTIFY_REF_MAX, "%s", fallback);
    for (const char *const *k = keys; j && *k; k++) {
        const char *v = json_string_value(json_object_get(j, *k));
        if (v && *v && strlen(v) < NOTIFY_REF_MAX) {
            snprintf(ref, NOTIFY_REF_MAX, "%s", v);
            break;
        }
    }
    json_decref(j);
}

/* 2xx: 0; 408, 429, 5xx: 503 (retried); any other: 502 (permanent). */
static int map_status(const char *channel, long code, err_t *e) {
    if (code >= 200 && code < 300) return 0;
    if (code == 408 || code == 429 || code >= 500)
        return err_set(e, 503, "unavailable", "", "%s provider answered %ld", channel, code);
    return err_set(e, 502, "bad_gateway", "", "%s provider refused the message (%ld)", channel,
                   code);
}

/* The push device's token (push recipient = device id) into *token (malloc'd): 404 when the
 * device was removed since the message was queued. */
static int device_token(db_tx_t *tx, const notify_provider_msg_t *m, char **token, err_t *e) {
    const char *p[] = {m->recipient, m->club, m->user};
    *token = NULL;
    if (!jsonx_is_uuid(m->recipient)) return err_set(e, 404, "not_found", "device", "no device");
    PGresult *r = db_exec(tx,
                          "SELECT token FROM notification.devices WHERE id = $1::uuid AND "
                          "club_id = $2::uuid AND user_id = $3",
                          3, p, e);
    if (!r) return -1;
    if (PQntuples(r) == 1) *token = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!*token) return err_set(e, 404, "not_found", "device", "the device was removed");
    return 0;
}

typedef struct req {
    char *body;
    char auth[NOTIFY_FCM_TOKEN_MAX + 32]; /* "Authorization: " + value */
    const char *content_type, *userpwd, *url;
} req_t;

static int build_sms(const notification_settings_t *s, const notify_provider_msg_t *m,
                     const char *text, req_t *q, err_t *e) {
    char cb[400];
    q->url = s->sms_url;
    if (!jsonx_is_e164(m->recipient))
        return err_invalid(e, "phone", "phone must be in E.164 form, e.g. +442071234567");
    if (strcmp(s->sms_provider, "twilio") == 0) {
        snprintf(cb, sizeof cb, "%s" CALLBACK_PATH "twilio", s->provider_callback_base);
        size_t cap = 3 * (strlen(text) + strlen(cb) + strlen(s->sms_from) + 64) + 64;
        q->body = calloc(1, cap);
        if (!q->body) return err_set(e, 500, "internal", "", "out of memory");
        form_add(q->body, cap, "To", m->recipient);
        form_add(q->body, cap, "From", s->sms_from);
        form_add(q->body, cap, "Body", text);
        form_add(q->body, cap, "StatusCallback", cb);
        q->content_type = "Content-Type: application/x-www-form-urlencoded";
        q->userpwd = s->sms_auth;
        return 0;
    }
    snprintf(cb, sizeof cb, "%s" CALLBACK_PATH "sms", s->provider_callback_base);
    const char *kv[] = {"to", m->recipient, "from",         s->sms_from, "text", text,
                        "id", m->id,        "callback_url", cb,          NULL};
    q->body = render_body(s->sms_body_template, kv, e);
    q->content_type = "Content-Type: application/json";
    if (s->sms_auth[0]) snprintf(q->auth, sizeof q->auth, "Authorization: %s", s->sms_auth);
    return q->body ? 0 : -1;
}

static int build_push(const notification_settings_t *s, const notify_provider_msg_t *m,
                      const char *token, const char *title, const char *text, req_t *q, err_t *e) {
    q->url = s->push_url;
    q->content_type = "Content-Type: application/json";
    if (s->push_auth[0]) snprintf(q->auth, sizeof q->auth, "Authorization: %s", s->push_auth);
    if (strcmp(s->push_provider, "fcm") == 0 && s->push_service_account_file[0]) {
        char bearer[NOTIFY_FCM_TOKEN_MAX];
        if (notify_fcm_bearer(s, bearer, e) != 0) return -1;
        snprintf(q->auth, sizeof q->auth, "Authorization: %s", bearer);
        sodium_memzero(bearer, sizeof bearer);
    }
    if (strcmp(s->push_provider, "fcm") == 0) {
        json_t *j = json_pack("{s:{s:s, s:{s:s, s:s}, s:{s:s, s:s}}}", "message", "token", token,
                              "notification", "title", title, "body", text, "data", "message_id",
                              m->id, "event_type", m->event_type);
        q->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        return q->body ? 0 : err_set(e, 500, "internal", "", "out of memory");
    }
    const char *kv[] = {"token", token, "title",      title,         "text", text,
                        "id",    m->id, "event_type", m->event_type, NULL};
    q->body = render_body(s->push_body_template, kv, e);
    return q->body ? 0 : -1;
}

/* The push gateway no longer knows the device's token (404, 410: FCM UNREGISTERED): the device
 * is removed, so later events queue nothing for it. Best effort (a failure is logged). */
static void forget_device(const svc_env_t *env, const notify_provider_msg_t *m) {
    db_tx_t *tx = NULL;
    err_t e = {0};
    const char *p[] = {m->recipient, m->club};
    if (db_begin(env->db, &k_system, &tx, &e) != 0 ||
        db_tx_finish(&tx,
                     db_exec_cmd(tx,
                                 "DELETE FROM notification.devices WHERE id = $1::uuid AND "
                                 "club_id = $2::uuid",
                                 2, p, &e) < 0
                         ? -1
                         : 0,
                     NULL, &e) != 0)
        log_warn("notification: forgetting push device %s: %s", m->recipient, e.message);
}

int notify_provider_send(const svc_env_t *env, db_tx_t *tx, const notify_provider_msg_t *m,
                         char ref[NOTIFY_REF_MAX], err_t *e) {
    const notification_settings_t *s = notification_settings(env);
    int sms = strcmp(m->channel, "sms") == 0, rc = -1;
    char *st = NULL, *bt = NULL, *subject = NULL, *text = NULL, *token = NULL, *response = NULL;
    req_t q = {0};
    webhook_target_t t;
    long code = 0;
    ref[0] = '\0';
    if (!notify_provider_enabled(s, m->channel)) {
        err_set(e, 422, "invalid_field", "channel", "no %s provider is configured", m->channel);
        goto done;
    }
    if (notify_template(tx, m->club, m->template, m->locale, &st, &bt, e) != 0 ||
        notify_render(st, bt, m->vars, &subject, &text, NULL, e) != 0)
        goto done;
    if (sms ? build_sms(s, m, subject, &q, e) != 0
            : (device_token(tx, m, &token, e) != 0 ||
               build_push(s, m, token, subject, text, &q, e) != 0))
        goto done;
    /* the SSRF guard of the webhooks: https, public addresses (allow list for development) */
    if (webhook_check_url(q.url, s->webhook_allow_hosts, &t, e) != 0) goto done;
    const char *headers[] = {q.content_type, q.auth[0] ? q.auth : NULL, NULL};
    const webhook_request_t rq = {.url = q.url,
                                  .target = &t,
                                  .headers = headers,
                                  .userpwd = q.userpwd,
                                  .body = q.body,
                                  .timeout_s = s->provider_timeout_s,
                                  .max_bytes = 65536,
                                  .user_agent = "reciprocal-notifications/1",
                                  .what = sms ? "sms provider" : "push provider"};
    if (webhook_http_post(&rq, &code, &response, e) != 0) goto done;
    if (map_status(m->channel, code, e) != 0) {
        if (!sms && (code == 404 || code == 410)) forget_device(env, m);
        goto done;
    }
    answer_ref(response, m->id, ref);
    rc = 0;
done:
    sodium_memzero(q.auth, sizeof q.auth);
    if (q.body) sodium_memzero(q.body, strlen(q.body));
    if (token) sodium_memzero(token, strlen(token));
    free(q.body);
    free(token);
    free(response);
    free(st);
    free(bt);
    free(subject);
    free(text);
    return rc;
}

/* ---- the rate limit ------------------------------------------------------------------------- */

int notify_provider_rate_limit(const svc_env_t *env, const notify_provider_msg_t *m, int *deferred,
                               err_t *e) {
    const notification_settings_t *s = notification_settings(env);
    char max[16];
    *deferred = 0;
    snprintf(max, sizeof max, "%d",
             strcmp(m->channel, "sms") == 0 ? s->sms_max_per_hour : s->push_max_per_hour);
    const char *p[] = {m->channel, m->club, m->user[0] ? m->user : m->recipient, m->id, max};
    db_tx_t *tx = NULL;
    if (db_begin(env->db, &k_system, &tx, e) != 0) return -1;
    /* concurrent senders (RECIPROCAL_NOTIFY_SENDERS) check one recipient's limit in turn: the
     * lock is taken in its own statement, so the count's snapshot sees the slot the previous
     * holder reserved */
    long long n = db_exec_cmd(tx,
                              "SELECT pg_advisory_xact_lock(hashtextextended('notify-rate:' || $1 "
                              "|| ':' || $2 || ':' || $3, 0))",
                              3, p, e);
    if (n >= 0)
        n = db_exec_cmd(
            tx,
            "WITH w AS (SELECT count(*) AS n, min(sent_at) AS first FROM notification.messages "
            "WHERE channel = $1 AND club_id = $2::uuid AND coalesce(user_id::text, recipient) = "
            "$3 AND sent_at > now() - interval '1 hour' AND id <> $4::uuid) UPDATE "
            "notification.messages m SET next_attempt_at = w.first + interval '1 hour', "
            "last_error = 'rate limited: ' || $5 || ' per hour' FROM w WHERE m.id = $4::uuid AND "
            "w.n >= $5::int",
            5, p, e);
    /* not deferred: the slot is reserved (sent_at) before the send, since the outcome is
     * recorded later in a batch; a failed send's outcome clears it (record_batch) */
    if (n == 0 &&
        db_exec_cmd(tx, "UPDATE notification.messages SET sent_at = now() WHERE id = $1::uuid", 1,
                    (const char *[]){m->id}, e) < 0)
        n = -1;
    if (db_tx_finish(&tx, n < 0 ? -1 : 0, NULL, e) != 0) return -1;
    *deferred = n > 0;
    return 0;
}

/* ---- signatures ----------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int notify_twilio_signature(const char *auth_token, const char *url, json_t *form, char out[64]) {
    size_t n = json_object_size(form), i = 0, len = strlen(url) + 1;
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    const char *k;
    json_t *v;
    if (!keys) return -1;
    json_object_foreach(form, k, v) {
        keys[i++] = k;
        len += strlen(k) + strlen(json_string_value(v) ? json_string_value(v) : "");
    }
    qsort(keys, n, sizeof *keys, cmp_str);
    char *data = malloc(len);
    if (!data) {
        free(keys);
        return -1;
    }
    size_t o = (size_t)snprintf(data, len, "%s", url);
    for (i = 0; i < n; i++) {
        const char *val = json_string_value(json_object_get(form, keys[i]));
        o += (size_t)snprintf(data + o, len - o, "%s%s", keys[i], val ? val : "");
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    int ok = HMAC(EVP_sha1(), auth_token, (int)strlen(auth_token), (const unsigned char *)data, o,
                  mac, &mlen) != NULL;
    free(data);
    free(keys);
    if (!ok) return -1;
    sodium_bin2base64(out, 64, mac, mlen, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

void notify_callback_signature(const char *secret, const char *body, size_t len, char out[80]) {
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "sha256=", 7);
    sodium_bin2hex(out + 7, 80 - 7, mac, sizeof mac);
}

int notify_secret_equal(const char *given, const char *expected) {
    size_t n = strlen(expected);
    return strlen(given) == n && sodium_memcmp(given, expected, n) == 0;
}

/* ---- the callbacks -------------------------------------------------------------------------- */

int provider_validate_callback(json_t *in, err_t *e) {
    static const char *const keys[] = {"form", "body", "signature", NULL};
    const char *raw = json_string_value(json_object_get(in, "form"));
    if (!raw) raw = json_string_value(json_object_get(in, "body"));
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (!raw) return err_set(e, 400, "missing_field", "body", "the callback has no body");
    if (strlen(raw) > NOTIFY_CALLBACK_MAX_BYTES)
        return err_set(e, 413, "payload_too_large", "body", "a callback is at most %d bytes",
                       NOTIFY_CALLBACK_MAX_BYTES);
    return 0;
}

static int rank(const char *status) {
    return strcmp(status, "sent") == 0                 ? 1
           : strcmp(status, "delivery_attempted") == 0 ? 2
           : strcmp(status, "delivered") == 0          ? 3
           : strcmp(status, "undelivered") == 0        ? 3
                                                       : 0;
}

/* Records the provider's report that message ref (channel) is now status, once. */
static int apply(const svc_env_t *env, const char *provider, const char *channel, const char *ref,
                 const char *status, const char *error, json_t **out, err_t *e) {
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    int rc = -1, applied = 0;
    char id[40] = "", club[40] = "", current[32] = "", template[72] = "", type[128] = "";
    int tries = 0;
    if (db_begin(env->db, &k_system, &tx, e) != 0) return -1;
    const char *p[] = {channel, ref};
    r = db_exec(tx,
                "SELECT id::text, club_id::text, status, template, event_type, tries FROM "
                "notification.messages WHERE channel = $1 AND provider_ref = $2 FOR UPDATE",
                2, p, e);
    if (!r) goto done;
    if (PQntuples(r) != 1) {
        err_set(e, 404, "not_found", "id", "no %s message with this provider id", channel);
        goto done;
    }
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    snprintf(club, sizeof club, "%s", PQgetvalue(r, 0, 1));
    snprintf(current, sizeof current, "%s", PQgetvalue(r, 0, 2));
    snprintf(template, sizeof template, "%s", PQgetvalue(r, 0, 3));
    snprintf(type, sizeof type, "%s", PQgetvalue(r, 0, 4));
    tries = atoi(PQgetvalue(r, 0, 5));
    PQclear(r);
    r = NULL;
    /* once per provider, message and status: a repeated callback changes nothing */
    const char *c[] = {provider, ref, status, id};
    long long fresh = db_exec_cmd(tx,
                                  "INSERT INTO notification.provider_callbacks (provider, "
                                  "provider_ref, status, message_id) VALUES ($1, $2, $3, "
                                  "$4::uuid) ON CONFLICT DO NOTHING",
                                  4, c, e);
    if (fresh < 0) goto done;
    /* forward only: sent -> delivery_attempted -> delivered | undelivered */
    if (fresh > 0 && rank(current) >= 1 && rank(current) < 3 && rank(status) > rank(current)) {
        const char *u[] = {id, status, error};
        if (db_exec_cmd(tx,
                        "UPDATE notification.messages SET status = $2, status_changed_at = now(), "
                        "delivered_at = CASE WHEN $2 = 'delivered' THEN now() END, failed_at = "
                        "CASE WHEN $2 = 'undelivered' THEN now() END, last_error = coalesce($3, "
                        "last_error) WHERE id = $1::uuid",
                        3, u, e) < 0)
            goto done;
        applied = 1;
        snprintf(current, sizeof current, "%s", status);
        if (strcmp(status, "undelivered") == 0) {
            json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "message_id", id,
                                     "channel", channel, "template", template, "status", status,
                                     "event_type", type, "tries", tries, "reason", "provider");
            const outbox_meta_t meta = {0};
            int erc = data ? outbox_add(tx, "notification", "notification.failed", "notification",
                                        club, data, &meta, NULL, e)
                           : err_set(e, 500, "internal", "", "out of memory");
            json_decref(data);
            if (erc != 0) goto done;
            log_warn("notification %s (%s) undelivered, reported by %s", id, channel, provider);
        }
    }
    *out = json_pack("{s:s, s:b}", "status", current, "applied", applied);
    rc = *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
done:
    PQclear(r);
    return db_tx_finish(&tx, rc, out, e);
}

/* %XX and + decoded in place */
static void url_decode(char *s) {
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '+') {
            *o++ = ' ';
        } else if (*p == '%' && p[1] && p[2]) {
            char h[3] = {p[1], p[2], 0};
            char *end = NULL;
            long v = strtol(h, &end, 16);
            if (end && !*end && v > 0) {
                *o++ = (char)v;
                p += 2;
            } else {
                *o++ = *p;
            }
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

/* a=b&c=d -> {"a": "b", "c": "d"}; NULL + 400 for a repeated or non-UTF-8 parameter */
static json_t *form_decode(const char *raw, err_t *e) {
    json_t *o = json_object();
    char *copy = strdup(raw), *save = NULL;
    if (!o || !copy) goto oom;
    for (char *kv = strtok_r(copy, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq) *eq = '\0';
        url_decode(kv);
        if (eq) url_decode(eq + 1);
        json_t *v = json_string(eq ? eq + 1 : "");
        if (!v || !*kv || json_object_get(o, kv)) {
            json_decref(v);
            json_decref(o);
            free(copy);
            err_set(e, 400, "invalid_body", "form", "the form has a repeated or unreadable field");
            return NULL;
        }
        json_object_set_new(o, kv, v);
    }
    free(copy);
    return o;
oom:
    json_decref(o);
    free(copy);
    err_set(e, 500, "internal", "", "out of memory");
    return NULL;
}

static int bad_signature(err_t *e) {
    return err_set(e, 401, "invalid_signature", "signature", "the callback signature is invalid");
}

/* Twilio's MessageStatus in our terms ("" = unknown). */
static const char *twilio_status(const char *s) {
    static const char *const sent[] = {"accepted", "scheduled", "queued", "sending", "sent", NULL};
    for (const char *const *k = sent; *k; k++)
        if (strcmp(s, *k) == 0) return "sent";
    if (strcmp(s, "delivered") == 0 || strcmp(s, "read") == 0) return "delivered";
    if (strcmp(s, "undelivered") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "canceled") == 0)
        return "undelivered";
    return "";
}

int provider_callback_twilio(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const notification_settings_t *s = notification_settings(call->env);
    const char *sig = json_string_value(json_object_get(in, "signature"));
    const char *raw = json_string_value(json_object_get(in, "form"));
    const char *colon = strchr(s->sms_auth, ':');
    char url[400], expected[64];
    if (strcmp(s->sms_provider, "twilio") != 0 || !colon)
        return err_set(e, 404, "not_found", "", "no twilio provider is configured");
    if (!raw)
        return err_set(e, 415, "unsupported_media_type", "content-type",
                       "send the body as application/x-www-form-urlencoded");
    if (!sig) return err_set(e, 401, "unauthenticated", "signature", "X-Twilio-Signature missing");
    json_t *form = form_decode(raw, e);
    if (!form) return -1;
    snprintf(url, sizeof url, "%s" CALLBACK_PATH "twilio", s->provider_callback_base);
    int rc = -1;
    if (notify_twilio_signature(colon + 1, url, form, expected) != 0 ||
        !notify_secret_equal(sig, expected)) {
        bad_signature(e);
        goto done;
    }
    const char *sid = json_string_value(json_object_get(form, "MessageSid"));
    const char *st = json_string_value(json_object_get(form, "MessageStatus"));
    const char *code = json_string_value(json_object_get(form, "ErrorCode"));
    if (!sid || !*sid || strlen(sid) >= NOTIFY_REF_MAX) {
        err_set(e, 400, "missing_field", "MessageSid", "MessageSid is required");
        goto done;
    }
    if (!st || !*twilio_status(st)) {
        err_invalid(e, "MessageStatus", "MessageStatus is not a known Twilio message status");
        goto done;
    }
    char error[64];
    snprintf(error, sizeof error, "twilio error %.20s", code ? code : "");
    rc = apply(call->env, "twilio", "sms", sid, twilio_status(st), code && *code ? error : NULL,
               out, e);
done:
    json_decref(form);
    return rc;
}

/* The generic providers' callback of channel: body {"id", "status", "error"?} signed with the
 * channel's shared secret. */
static int generic_callback(const svc_call_t *call, const char *channel, const char *secret,
                            json_t *in, json_t **out, err_t *e) {
    static const char *const statuses[] = {"sent", "delivered", "delivery_attempted", "undelivered",
                                           NULL};
    static const char *const keys[] = {"id", "status", "error", NULL};
    const char *sig = json_string_value(json_object_get(in, "signature"));
    const char *raw = json_string_value(json_object_get(in, "body"));
    const char *id = NULL, *status = NULL, *error = NULL;
    char expected[80];
    if (!secret[0])
        return err_set(e, 404, "not_found", "", "no %s status callbacks are configured", channel);
    if (!raw)
        return err_set(e, 415, "unsupported_media_type", "content-type",
                       "send the body as application/json");
    if (!sig)
        return err_set(e, 401, "unauthenticated", "signature", "X-Reciprocal-Signature missing");
    notify_callback_signature(secret, raw, strlen(raw), expected);
    int ok = notify_secret_equal(sig, expected);
    sodium_memzero(expected, sizeof expected);
    if (!ok) return bad_signature(e);
    json_t *doc = NULL;
    int rc = -1;
    if (jsonx_parse_object(raw, strlen(raw), &doc, e) != 0) return -1;
    if (jsonx_only_keys(doc, keys, "", e) == 0 &&
        jsonx_string(doc, "id", 1, 1, NOTIFY_REF_MAX - 1, &id, e) == 0 &&
        jsonx_enum(doc, "status", 1, statuses, &status, e) == 0 &&
        jsonx_string(doc, "error", 0, 1, 300, &error, e) == 0)
        rc = apply(call->env, channel, channel, id, status, error, out, e);
    json_decref(doc);
    return rc;
}

int provider_callback_sms(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const notification_settings_t *s = notification_settings(call->env);
    if (strcmp(s->sms_provider, "generic") != 0)
        return err_set(e, 404, "not_found", "", "no generic sms provider is configured");
    return generic_callback(call, "sms", s->sms_callback_secret, in, out, e);
}

int provider_callback_push(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const notification_settings_t *s = notification_settings(call->env);
    return generic_callback(call, "push", s->push_callback_secret, in, out, e);
}
