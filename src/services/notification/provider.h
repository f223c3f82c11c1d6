/* provider: SMS and push through HTTP providers (docs/notification.md "SMS and push"). The
 * request of one message in the configured shape (RECIPROCAL_SMS_PROVIDER: generic JSON from a
 * Mustache body template, or Twilio's Messages API form; RECIPROCAL_PUSH_PROVIDER: generic JSON,
 * or FCM HTTP v1 messages:send), sent through webhook_http's checked, pinned POST (the SSRF guard
 * of the webhooks); the answer mapped for delivery.c's retry machinery: 2xx sent (the provider's
 * message id kept for its callbacks), 408/429/5xx and connection errors 503 (retried with
 * backoff), any other status 502 (permanent: undelivered), a device removed or an unusable
 * target 404/422 (not_sent); a push device the gateway answers 404/410 for (FCM UNREGISTERED) is
 * removed. The per-user rate limit (deferral) the worker applies before a send.
 * The providers' status callbacks (operations): authenticated by X-Twilio-Signature (HMAC-SHA1,
 * twilio) or X-Reciprocal-Signature (HMAC-SHA256 with the channel's shared secret, generic),
 * compared in constant time, at most NOTIFY_CALLBACK_MAX_BYTES, idempotent (one row per
 * provider, message and status in notification.provider_callbacks); statuses only move forward
 * (sent -> delivery_attempted -> delivered | undelivered); undelivered emits
 * notification.failed. Owns nothing between calls. */
#ifndef SERVICES_NOTIFICATION_PROVIDER_H
#define SERVICES_NOTIFICATION_PROVIDER_H

#include <jansson.h>

#include "core/service.h"
#include "services/notification/notification.h"

#define NOTIFY_CALLBACK_MAX_BYTES 8192
#define NOTIFY_REF_MAX 256

/* notification_start: the provider names are known ones and an enabled provider has a URL.
 * 0 or -1 + 500 invalid_config naming the variable. */
int notify_provider_check(const notification_settings_t *s, err_t *e);
/* 1 when channel ("sms", "push") has a provider configured (not "off"). */
int notify_provider_enabled(const notification_settings_t *s, const char *channel);

/* One queued SMS or push message, as the worker leased it (borrowed strings). */
typedef struct notify_provider_msg {
    const char *id, *club, *user, *channel, *template, *locale, *event_type;
    const char *recipient; /* sms: the E.164 number; push: the device id */
    json_t *vars;
} notify_provider_msg_t;

/* The rate limit of m's user on its channel: when the user already had the channel's maximum
 * (RECIPROCAL_SMS_MAX_PER_HOUR / RECIPROCAL_PUSH_MAX_PER_HOUR) sent in the last hour, m (critical
 * ones too: a limit, not an opt-out) is deferred, never dropped: next_attempt_at = the hour's
 * first send + 1 h, no try counted, and *deferred is 1. Otherwise m's slot is reserved (its
 * sent_at set) before the send, under a per-recipient advisory lock, so concurrent senders never
 * exceed the limit; a failed send's outcome clears it. 0 or -1 + e. */
int notify_provider_rate_limit(const svc_env_t *env, const notify_provider_msg_t *m, int *deferred,
                               err_t *e);

/* Renders m (template read in tx: subject = SMS text / push title, plain body = push text) and
 * sends it to the channel's provider; ref gets the provider's id of the message (its response's
 * sid / name / id, else m->id). 0, or -1 + e (status as above). */
int notify_provider_send(const svc_env_t *env, db_tx_t *tx, const notify_provider_msg_t *m,
                         char ref[NOTIFY_REF_MAX], err_t *e);

/* The status callback operations (PUBLIC; the signature is the authentication). */
int provider_validate_callback(json_t *in, err_t *e);
int provider_callback_twilio(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int provider_callback_sms(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int provider_callback_push(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* X-Twilio-Signature of url + the form's parameters sorted by name (name then value, each),
 * base64(HMAC-SHA1(auth_token, ...)) into out; form is the decoded {name: value} object. Tests
 * sign with it. 0 or -1. */
int notify_twilio_signature(const char *auth_token, const char *url, json_t *form, char out[64]);
/* "sha256=" + hex(HMAC-SHA256(secret, body)) into out. */
void notify_callback_signature(const char *secret, const char *body, size_t len, char out[80]);

/* given equals expected, in constant time (the lengths are not secret): 1 or 0. */
int notify_secret_equal(const char *given, const char *expected);

#endif
