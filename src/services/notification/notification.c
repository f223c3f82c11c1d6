/* notification: its operation table, settings, consumers and worker (see notification.h and
 * core/service.h). */
#include "services/notification/notification.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#include "services/notification/bounce.h"
#include "services/notification/club_prefs.h"
#include "services/notification/delivery.h"
#include "services/notification/devices.h"
#include "services/notification/graphql_notification.h"
#include "services/notification/inbox.h"
#include "services/notification/prefs.h"
#include "services/notification/provider.h"
#include "services/notification/preview.h"
#include "services/notification/rules.h"
#include "services/notification/tmpl_admin.h"
#include "services/notification/webhook.h"
#include "services/notification/webhook_seal.h"

static const svc_op_t notification_ops[] = {
    {.name = "get_preferences",
     .method = "GET",
     .route = "/api/v1/notifications/preferences",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = prefs_validate_get,
     .handle = prefs_get},
    /* the in-app inbox (issue 13) */
    {.name = "list_inbox",
     .method = "GET",
     .route = "/api/v1/notifications/inbox",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = inbox_validate_list,
     .handle = inbox_list},
    {.name = "inbox_unread_count",
     .method = "GET",
     .route = "/api/v1/notifications/inbox/unread-count",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = inbox_validate_none,
     .handle = inbox_unread},
    {.name = "mark_inbox_seen",
     .method = "POST",
     .route = "/api/v1/notifications/inbox/{id}/seen",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = inbox_validate_id,
     .handle = inbox_mark_seen},
    {.name = "mark_inbox_read",
     .method = "POST",
     .route = "/api/v1/notifications/inbox/{id}/read",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = inbox_validate_id,
     .handle = inbox_mark_read},
    {.name = "list_failed_notifications",
     .method = "GET",
     .route = "/api/v1/notifications/failed",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = inbox_validate_list,
     .handle = inbox_list_failed},
    {.name = "retry_failed_notification",
     .method = "POST",
     .route = "/api/v1/notifications/failed/{id}/retry",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = inbox_validate_id,
     .handle = inbox_retry_failed},
    /* preferences and quiet hours (issue 13) */
    {.name = "update_preferences",
     .method = "PUT",
     .route = "/api/v1/notifications/preferences",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = prefs_validate_update,
     .handle = prefs_update},
    /* webhooks per club (issue 13): a club's administrators */
    {.name = "create_webhook",
     .method = "POST",
     .route = "/api/v1/notifications/webhooks",
     .status = 201,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = webhook_validate_create,
     .handle = webhook_create},
    {.name = "list_webhooks",
     .method = "GET",
     .route = "/api/v1/notifications/webhooks",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = webhook_validate_list,
     .handle = webhook_list},
    {.name = "rotate_webhook_secret",
     .method = "POST",
     .route = "/api/v1/notifications/webhooks/{id}/rotate-secret",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = webhook_validate_id,
     .handle = webhook_rotate},
    {.name = "list_webhook_deliveries",
     .method = "GET",
     .route = "/api/v1/notifications/webhooks/{id}/deliveries",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = webhook_validate_id,
     .handle = webhook_deliveries},
    /* template preview (issue 13): a club's administrators */
    {.name = "preview_template",
     .method = "POST",
     .route = "/api/v1/notifications/templates/preview",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = preview_validate,
     .handle = preview_template},
    /* webhooks: disable/enable, change, delete (issue 13) */
    {.name = "update_webhook",
     .method = "PATCH",
     .route = "/api/v1/notifications/webhooks/{id}",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = webhook_validate_update,
     .handle = webhook_update},
    {.name = "delete_webhook",
     .method = "DELETE",
     .route = "/api/v1/notifications/webhooks/{id}",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = webhook_validate_id,
     .handle = webhook_delete},
    /* notification-rest (issue 13): club preference defaults, template overrides */
    {.name = "get_club_notification_defaults",
     .method = "GET",
     .route = "/api/v1/notifications/club-defaults",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = club_prefs_validate_get,
     .handle = club_prefs_get},
    {.name = "set_club_notification_defaults",
     .method = "PUT",
     .route = "/api/v1/notifications/club-defaults",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = club_prefs_validate_set,
     .handle = club_prefs_set},
    {.name = "list_template_overrides",
     .method = "GET",
     .route = "/api/v1/notifications/templates",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = tmpl_validate_list,
     .handle = tmpl_list},
    {.name = "get_template_override",
     .method = "GET",
     .route = "/api/v1/notifications/templates/{key}/{locale}",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = tmpl_validate_id,
     .handle = tmpl_get},
    {.name = "put_template_override",
     .method = "PUT",
     .route = "/api/v1/notifications/templates/{key}/{locale}",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = tmpl_validate_put,
     .handle = tmpl_put},
    {.name = "delete_template_override",
     .method = "DELETE",
     .route = "/api/v1/notifications/templates/{key}/{locale}",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = tmpl_validate_id,
     .handle = tmpl_delete},
    /* SMS and push (issue 13): a member's push devices; the providers' status callbacks, public
     * and authenticated by their signature header (provider.c) */
    {.name = "register_push_device",
     .method = "POST",
     .route = "/api/v1/notifications/devices",
     .status = 201,
     .access = SVC_SIGNED_IN,
     .validate = devices_validate_register,
     .handle = devices_register},
    {.name = "list_push_devices",
     .method = "GET",
     .route = "/api/v1/notifications/devices",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = devices_validate_list,
     .handle = devices_list},
    {.name = "delete_push_device",
     .method = "DELETE",
     .route = "/api/v1/notifications/devices/{id}",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .validate = devices_validate_id,
     .handle = devices_delete},
    {.name = "twilio_status_callback",
     .method = "POST",
     .route = "/api/v1/notifications/callbacks/twilio",
     .status = 200,
     .access = SVC_PUBLIC,
     .validate = provider_validate_callback,
     .handle = provider_callback_twilio,
     .body_type = "application/x-www-form-urlencoded",
     .body_field = "form",
     .header = "X-Twilio-Signature",
     .header_field = "signature"},
    {.name = "sms_status_callback",
     .method = "POST",
     .route = "/api/v1/notifications/callbacks/sms",
     .status = 200,
     .access = SVC_PUBLIC,
     .validate = provider_validate_callback,
     .handle = provider_callback_sms,
     .body_type = "application/json",
     .body_field = "body",
     .header = "X-Reciprocal-Signature",
     .header_field = "signature"},
    {.name = "push_status_callback",
     .method = "POST",
     .route = "/api/v1/notifications/callbacks/push",
     .status = 200,
     .access = SVC_PUBLIC,
     .validate = provider_validate_callback,
     .handle = provider_callback_push,
     .body_type = "application/json",
     .body_field = "body",
     .header = "X-Reciprocal-Signature",
     .header_field = "signature"},
    /* e-mail delivery statuses and bounces (issue 13, bounce.c): the provider's status callback,
     * public and authenticated by its signature header; a club's suppression list */
    {.name = "email_status_callback",
     .method = "POST",
     .route = "/api/v1/notifications/callbacks/email",
     .status = 200,
     .access = SVC_PUBLIC,
     .validate = provider_validate_callback,
     .handle = bounce_email_callback,
     .body_type = "application/json",
     .body_field = "body",
     .header = "X-Reciprocal-Signature",
     .header_field = "signature"},
    {.name = "list_email_suppressions",
     .method = "GET",
     .route = "/api/v1/notifications/suppressions",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = bounce_validate_list,
     .handle = bounce_list},
    {.name = "delete_email_suppression",
     .method = "DELETE",
     .route = "/api/v1/notifications/suppressions/{id}",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:admin",
     .validate = bounce_validate_id,
     .handle = bounce_delete},
};

/* The rule table (rules.c), then the clubs' webhooks (webhook.c), in the event's transaction. */
static int on_event(const svc_call_t *call, db_tx_t *tx, const svc_event_t *ev, err_t *e) {
    if (notify_on_event(call, tx, ev, e) != 0) return -1;
    return notify_webhooks_queue(tx, ev, e);
}

/* The messages (rules.c), then the webhook deliveries (webhook.c) of a consumer transaction's
 * events, one statement each. */
static int on_flush(const svc_call_t *call, db_tx_t *tx, void *acc, err_t *e) {
    (void)call;
    if (notify_messages_flush(tx, acc, e) != 0) return -1;
    return notify_webhooks_flush(tx, acc, e);
}

/* How long a fetch of the visits consumer keeps gathering events after its first one
 * (svc_consumer_t.linger_ms). Every POST /api/v1/visits writes a visit.requested, which no rule
 * mails and only a club's webhook may take; without it, under steady requests each fetch took
 * the handful of events that had arrived meanwhile and every few events paid a batch's fixed
 * cost: the fetch, a transaction, the inbox claim, the flush, the acks (docs/reciprocal.md
 * "Speed: POST /visits, the notification consumer's batches (stop 23)"). A mail or a webhook
 * of a visit event is queued at most this much later; a full batch is not delayed. */
#define NOTIFICATION_VISITS_LINGER_MS 200

/* svc_consumer_t.inbox_needed: an event of a type some rule mails (the rule table, rules.c) is
 * claimed in notification.inbox; an event no rule names (visit.checked_in, visit.requested, …)
 * only reaches the webhooks, whose deliveries are keyed by (webhook_id, event_id) and kept for
 * as long as their webhook (never pruned): applying it again queues nothing twice, so it needs
 * no inbox row. A replay after a webhook was created offers the event to the new webhook. */
int notification_inbox_needed(const svc_env_t *env, const svc_event_t *ev) {
    (void)env;
    for (size_t k = 0; k < notify_n_rules; k++)
        if (ev->type && strcmp(notify_rules[k].event, ev->type) == 0) return 1;
    return 0;
}

/* One consumer per concern; every one applies the rule table and the webhooks. relay_only: the
 * handlers and flush write and read notification's tables in the relay scope (every policy
 * they meet has core.is_relay(); clubs are named by parameters, never by core.current_club()),
 * so a batch is not re-scoped to each event's club (a round trip per change of tenant: about
 * one per check-in, the check-ins of a batch being at many clubs). */
#define NOTIFICATION_CONSUMER                                                                      \
    .handle = on_event, .flush = on_flush, .inbox_needed = notification_inbox_needed,              \
    .relay_only = 1
static const svc_consumer_t notification_consumers[] = {
    {.name = "auth", .filter = "events.auth.>", NOTIFICATION_CONSUMER},
    {.name = "visits",
     .filter = "events.visit.>",
     NOTIFICATION_CONSUMER,
     .linger_ms = NOTIFICATION_VISITS_LINGER_MS},
    {.name = "lois", .filter = "events.loi.>", NOTIFICATION_CONSUMER},
    {.name = "agreements", .filter = "events.reciprocal.>", NOTIFICATION_CONSUMER},
    {.name = "statements", .filter = "events.statement.>", NOTIFICATION_CONSUMER},
    {.name = "governance", .filter = "events.governance.>", NOTIFICATION_CONSUMER},
};
#undef NOTIFICATION_CONSUMER

#define F(m) CFG_FIELD(notification_settings_t, m)
/* clang-format off */
static const cfg_var_t notification_vars[] = {
    {"RECIPROCAL_SMTP_URL", CFG_STR, F(smtp_url), 0, 0, "smtp://127.0.0.1:2525",
     "SMTP server of outgoing mail: smtp://host:port (STARTTLS per RECIPROCAL_SMTP_TLS) or "
     "smtps://host:port (TLS from the start). make run starts a local aiosmtpd on 2525 writing "
     "into var/mail.", 0},
    {"RECIPROCAL_SMTP_USER", CFG_STR, F(smtp_user), 0, 0, "",
     "SMTP AUTH user (empty = no AUTH).", 0},
    {"RECIPROCAL_SMTP_PASSWORD", CFG_STR, F(smtp_password), 0, 0, "",
     "SMTP AUTH password (secret, never logged).", 0},
    {"RECIPROCAL_SMTP_FROM", CFG_STR, F(smtp_from), 0, 0,
     "Reciprocal Clubs <no-reply@reciprocal.example>",
     "From: of every mail, \"Name <address>\" or an address.", 0},
    {"RECIPROCAL_SMTP_TLS", CFG_STR, F(smtp_tls), 0, 0, "try",
     "STARTTLS on smtp://: try (when the server offers it), required (refuse to send in clear), "
     "off.", 0},
    {"RECIPROCAL_SMTP_TIMEOUT_SECONDS", CFG_INT, F(smtp_timeout_s), 1, 300, "10",
     "Connect and send timeout of one mail; a timeout is retried.", 0},
    {"RECIPROCAL_NOTIFY_LINK_BASE", CFG_STR, F(link_base), 0, 0, "http://127.0.0.1:8080",
     "Base URL of the links in mails (invitation, password reset, email verification).", 0},
    {"RECIPROCAL_NOTIFY_POLL_MS", CFG_INT, F(poll_ms), 50, 60000, "500",
     "Delivery worker interval when nothing is due; a newly queued message wakes it at once "
     "(PostgreSQL LISTEN/NOTIFY).", 0},
    {"RECIPROCAL_NOTIFY_MAX_TRIES", CFG_INT, F(max_tries), 1, 20, "8",
     "Tries of a mail before it is undelivered (transient failures: SMTP 4xx, connection).", 0},
    {"RECIPROCAL_NOTIFY_RETRY_BASE_SECONDS", CFG_INT, F(retry_base_s), 1, 3600, "10",
     "First retry delay; doubled per try with +-20% jitter (10: 8 tries within about 25 min).",
     0},
    /* webhooks (issue 13) */
    {"RECIPROCAL_WEBHOOK_ALLOW_HOSTS", CFG_STR, F(webhook_allow_hosts), 0, 0, "",
     "Development only: comma-separated webhook hosts allowed over http:// and on loopback or "
     "private addresses (e.g. 127.0.0.1). Empty in production: https and public addresses only.",
     0},
    {"RECIPROCAL_WEBHOOK_TIMEOUT_SECONDS", CFG_INT, F(webhook_timeout_s), 1, 60, "10",
     "Connect and total timeout of one webhook POST; a timeout is retried.", 0},
    {"RECIPROCAL_WEBHOOK_MAX_BYTES", CFG_INT, F(webhook_max_bytes), 1024, 1048576, "65536",
     "Largest webhook payload sent and largest response read (bytes).", 0},
    /* SMTP TLS trust (issue 13) */
    {"RECIPROCAL_SMTP_CA_FILE", CFG_STR, F(smtp_ca_file), 0, 0, "",
     "PEM file of the CA(s) that sign the SMTP server's certificate (STARTTLS and smtps://); "
     "empty = the system's CA store. The certificate and host name are always verified.", 0},
    /* notification-rest: webhook secrets sealed at rest */
    {"RECIPROCAL_WEBHOOK_KEK", CFG_KEY, F(webhook_kek), 0, 0, "",
     "Key-encryption key of the webhook signing secrets: 32 random bytes in base64 "
     "(head -c 32 /dev/urandom | base64). Seals each endpoint's secret in PostgreSQL; secrets "
     "stored in clear before are sealed at start. No default: without it creating or rotating a "
     "webhook answers 503 webhook_secrets_unconfigured and deliveries wait.", 0},
    /* SMS and push through HTTP providers (issue 13, provider.c) */
    {"RECIPROCAL_SMS_PROVIDER", CFG_STR, F(sms_provider), 0, 0, "off",
     "SMS provider: off (no SMS queued), generic (JSON POST of RECIPROCAL_SMS_BODY_TEMPLATE) or "
     "twilio (the Messages API form: To, From, Body, StatusCallback; basic auth).", 0},
    {"RECIPROCAL_SMS_URL", CFG_STR, F(sms_url), 0, 0, "",
     "URL the SMS requests are POSTed to (https; http and private addresses only for hosts in "
     "RECIPROCAL_WEBHOOK_ALLOW_HOSTS), e.g. "
     "https://api.twilio.com/2010-04-01/Accounts/<sid>/Messages.json.", 0},
    {"RECIPROCAL_SMS_AUTH", CFG_STR, F(sms_auth), 0, 0, "",
     "Secret, never logged. generic: the Authorization header value (e.g. \"Bearer <key>\"); "
     "twilio: AccountSid:AuthToken (basic auth; the AuthToken also verifies X-Twilio-Signature "
     "of status callbacks).", 0},
    {"RECIPROCAL_SMS_FROM", CFG_STR, F(sms_from), 0, 0, "",
     "Sender of the SMS: an E.164 number or an alphanumeric sender id.", 0},
    {"RECIPROCAL_SMS_BODY_TEMPLATE", CFG_STR, F(sms_body_template), 0, 0,
     "{\"to\":\"{{to}}\",\"from\":\"{{from}}\",\"text\":\"{{text}}\",\"reference\":"
     "\"{{id}}\",\"status_callback\":\"{{callback_url}}\"}",
     "generic: the JSON body, a Mustache template of to, from, text, id, callback_url (values "
     "JSON-escaped).", 0},
    {"RECIPROCAL_SMS_CALLBACK_SECRET", CFG_STR, F(sms_callback_secret), 0, 0, "",
     "generic: the shared secret of the status callbacks POST /api/v1/notifications/callbacks/sms "
     "(X-Reciprocal-Signature: sha256=<hex HMAC-SHA256 of the body>); empty = refused. Secret.",
     0},
    {"RECIPROCAL_SMS_MAX_PER_HOUR", CFG_INT, F(sms_max_per_hour), 1, 1000, "5",
     "SMS per user per rolling hour; more (critical ones too) are deferred until the hour "
     "allows, never dropped.", 0},
    {"RECIPROCAL_PUSH_PROVIDER", CFG_STR, F(push_provider), 0, 0, "off",
     "Push gateway: off (no push queued), generic (JSON POST of RECIPROCAL_PUSH_BODY_TEMPLATE) "
     "or fcm (the FCM HTTP v1 messages:send shape).", 0},
    {"RECIPROCAL_PUSH_URL", CFG_STR, F(push_url), 0, 0, "",
     "URL the push requests are POSTed to, e.g. "
     "https://fcm.googleapis.com/v1/projects/<project>/messages:send.", 0},
    {"RECIPROCAL_PUSH_AUTH", CFG_STR, F(push_auth), 0, 0, "",
     "Secret, never logged: the Authorization header value of push requests (fcm: \"Bearer "
     "<OAuth 2 access token>\").", 0},
    {"RECIPROCAL_PUSH_BODY_TEMPLATE", CFG_STR, F(push_body_template), 0, 0,
     "{\"token\":\"{{token}}\",\"title\":\"{{title}}\",\"body\":\"{{text}}\",\"reference\":"
     "\"{{id}}\",\"event_type\":\"{{event_type}}\"}",
     "generic: the JSON body, a Mustache template of token, title, text, id, event_type (values "
     "JSON-escaped).", 0},
    {"RECIPROCAL_PUSH_CALLBACK_SECRET", CFG_STR, F(push_callback_secret), 0, 0, "",
     "The shared secret of the push status callbacks POST "
     "/api/v1/notifications/callbacks/push (as for SMS); empty = refused. Secret.", 0},
    {"RECIPROCAL_PUSH_MAX_PER_HOUR", CFG_INT, F(push_max_per_hour), 1, 10000, "30",
     "Push messages per user per rolling hour; more are deferred.", 0},
    {"RECIPROCAL_PROVIDER_CALLBACK_BASE", CFG_STR, F(provider_callback_base), 0, 0,
     "http://127.0.0.1:8080",
     "Public base URL of this API as the providers reach it: the status callback URL sent with "
     "each SMS (and, for twilio, the URL X-Twilio-Signature signs).", 0},
    {"RECIPROCAL_PROVIDER_TIMEOUT_SECONDS", CFG_INT, F(provider_timeout_s), 1, 60, "10",
     "Connect and total timeout of one SMS or push request; a timeout is retried.", 0},
    /* notif-speed (issue 13): mail throughput, secondary SMTP relay, FCM service account */
    {"RECIPROCAL_NOTIFY_SENDERS", CFG_INT, F(senders), 1, 32, "8",
     "Concurrent senders of the delivery worker, each with its own SMTP connection kept open "
     "between mails (no PostgreSQL connection while it talks SMTP); a crash repeats at most one "
     "mail per sender.", 0},
    {"RECIPROCAL_SMTP_SECONDARY_URL", CFG_STR, F(smtp_secondary_url), 0, 0, "",
     "Secondary SMTP relay (smtp:// or smtps://, same TLS policy, CA file and timeout as the "
     "primary): mail goes there after RECIPROCAL_SMTP_FAILOVER_AFTER consecutive failures of "
     "the primary (connection refused, timeout, TLS, 4xx, 5xx other than 550-553), and the "
     "primary is tried again every 60 s. Empty = none.", 0},
    {"RECIPROCAL_SMTP_SECONDARY_USER", CFG_STR, F(smtp_secondary_user), 0, 0, "",
     "SMTP AUTH user of the secondary relay (empty = no AUTH).", 0},
    {"RECIPROCAL_SMTP_SECONDARY_PASSWORD", CFG_STR, F(smtp_secondary_password), 0, 0, "",
     "SMTP AUTH password of the secondary relay (secret, never logged).", 0},
    {"RECIPROCAL_SMTP_FAILOVER_AFTER", CFG_INT, F(smtp_failover_after), 1, 100, "3",
     "Consecutive relay failures of the primary SMTP server after which mail goes to the "
     "secondary (when one is set).", 0},
    {"RECIPROCAL_PUSH_SERVICE_ACCOUNT_FILE", CFG_STR, F(push_service_account_file), 0, 0, "",
     "fcm: the Google service account JSON key file (client_email, private_key, token_uri); "
     "the OAuth 2 access token of each push is minted from it (RS256 JWT assertion exchanged at "
     "token_uri, cached until 60 s before it expires) instead of RECIPROCAL_PUSH_AUTH. The "
     "file is a secret. Empty = RECIPROCAL_PUSH_AUTH as given.", 0},
    /* e-mail delivery statuses and bounces (issue 13, bounce.c) */
    {"RECIPROCAL_EMAIL_CALLBACK_SECRET", CFG_STR, F(email_callback_secret), 0, 0, "",
     "The shared secret of the e-mail provider's status callbacks POST "
     "/api/v1/notifications/callbacks/email (X-Reciprocal-Signature: sha256=<hex HMAC-SHA256 of "
     "the body>; delivered, soft_bounce, hard_bounce by Message-ID); empty = refused (404). "
     "Secret, never logged.", 0},
    /* mailfx (issue 13): suppression expiry (bounce.c) */
    {"RECIPROCAL_NOTIFY_SUPPRESSION_DAYS", CFG_INT, F(suppression_days), 1, 3650, "30",
     "Days an address stays on its club's e-mail suppression list after a spam complaint or "
     "its third soft bounce within that many days; a hard bounce suppresses it for good.", 0},
};
/* clang-format on */
#undef F

static int notification_start(const svc_env_t *env, err_t *e) {
    const notification_settings_t *s = notification_settings(env);
    if (strcmp(s->smtp_tls, "try") != 0 && strcmp(s->smtp_tls, "required") != 0 &&
        strcmp(s->smtp_tls, "off") != 0)
        return err_set(e, 500, "invalid_config", "RECIPROCAL_SMTP_TLS",
                       "RECIPROCAL_SMTP_TLS must be try, required or off");
    if (strncmp(s->smtp_url, "smtp://", 7) != 0 && strncmp(s->smtp_url, "smtps://", 8) != 0)
        return err_set(e, 500, "invalid_config", "RECIPROCAL_SMTP_URL",
                       "RECIPROCAL_SMTP_URL must start with smtp:// or smtps://");
    if (s->smtp_secondary_url[0] && strncmp(s->smtp_secondary_url, "smtp://", 7) != 0 &&
        strncmp(s->smtp_secondary_url, "smtps://", 8) != 0)
        return err_set(e, 500, "invalid_config", "RECIPROCAL_SMTP_SECONDARY_URL",
                       "RECIPROCAL_SMTP_SECONDARY_URL must start with smtp:// or smtps://");
    if (s->webhook_kek.set) {
        int sealed = notify_webhooks_seal_legacy(env, e);
        if (sealed < 0) return -1;
        if (sealed > 0) log_info("notification: sealed %d webhook secrets stored in clear", sealed);
    }
    if (notify_provider_check(s, e) != 0) return -1;
    return notify_delivery_start(env, e);
}

const svc_module_t notification_module = {
    .name = "notification",
    .schema = "notification",
    .ops = notification_ops,
    .n_ops = sizeof notification_ops / sizeof notification_ops[0],
    .start = notification_start,
    .stop = notify_delivery_stop,
    .config = {notification_vars, sizeof notification_vars / sizeof notification_vars[0],
               sizeof(notification_settings_t)},
    .graphql = gql_notification_bind,
    .consumers = notification_consumers,
    .n_consumers = sizeof notification_consumers / sizeof notification_consumers[0],
    /* audiences and tokens through the owning services; in-app messages on inbox.<user> */
    .nats = {.calls = (const char *const[]){"auth.delivery_token", "auth.role_holders",
                                            "member.member_contact", "member.get_club", NULL},
             .publishes = (const char *const[]){"inbox.>", NULL}},
};

const notification_settings_t *notification_settings(const svc_env_t *env) {
    return svc_settings(env, &notification_module);
}

int notify_exec_json(db_tx_t *tx, const char *sql, const json_t *doc, err_t *e) {
    char *txt = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (!txt) return err_set(e, 500, "internal", "", "out of memory");
    const char *p[] = {txt};
    long long n = db_exec_cmd(tx, sql, 1, p, e);
    free(txt);
    return n < 0 ? -1 : 0;
}
