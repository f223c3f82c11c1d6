/* notification (service module): turns other services' events into messages people receive
 * (docs/notification.md). Consumers (svc_module_t.consumers) on auth, visit, LOI and agreement
 * events apply the rule table (rules.c: event type -> audience -> template -> channels, critical
 * flag) and queue one row per recipient and channel in notification.messages, once per event
 * (inbox_claim). The delivery worker (delivery.c) renders email at send time (Mustache +
 * Markdown -> text + HTML; one-time tokens fetched from auth's delivery_token then), sends it
 * over SMTP (smtp.c) with retries and backoff, and publishes in-app messages on NATS
 * inbox.<user>. Operations (notification.c): the caller's preferences, their in-app inbox
 * (list, unread count, mark seen/read) and the network's failed list (inspect, retry).
 * Its data: schema `notification` (migrations/). Owns nothing global but the worker thread
 * (notification_start/stop). Guide to this layout: docs/adding-a-service.md. */
#ifndef SERVICES_NOTIFICATION_NOTIFICATION_H
#define SERVICES_NOTIFICATION_NOTIFICATION_H

#include "core/service.h"

extern const svc_module_t notification_module;

/* RECIPROCAL_SMTP_* and RECIPROCAL_NOTIFY_* (README.md "Notifications"). */
typedef struct notification_settings {
    char smtp_url[512];
    char smtp_user[256];
    char smtp_password[256];
    char smtp_from[320];
    char smtp_tls[16]; /* try | required | off */
    int smtp_timeout_s;
    char smtp_ca_file[512]; /* "" = the system's CA store */
    char link_base[256];    /* links in mails: <link_base>/register?token=... */
    int poll_ms;            /* delivery worker interval */
    int max_tries;          /* email tries before undelivered */
    int retry_base_s;       /* first retry delay; doubles per try, +-20% jitter */
    /* webhooks (webhook.c) */
    char webhook_allow_hosts[512]; /* development: hosts allowed over http and on private IPs */
    int webhook_timeout_s;         /* one POST */
    int webhook_max_bytes;         /* payload sent, response read */
    /* notification-rest: webhook secrets sealed at rest (webhook_seal.c) */
    cfg_key_t webhook_kek; /* RECIPROCAL_WEBHOOK_KEK */
    /* SMS and push through HTTP providers (provider.c, issue 13) */
    char sms_provider[16]; /* off | generic | twilio */
    char sms_url[256];
    char sms_auth[256]; /* generic: Authorization value; twilio: AccountSid:AuthToken */
    char sms_from[32];
    char sms_body_template[320];
    char sms_callback_secret[128];
    int sms_max_per_hour;
    char push_provider[16]; /* off | generic | fcm */
    char push_url[256];
    char push_auth[512]; /* Authorization value, e.g. "Bearer <access token>" */
    char push_body_template[320];
    char push_callback_secret[128];
    int push_max_per_hour;
    char provider_callback_base[256]; /* public base URL of the callback endpoints */
    int provider_timeout_s;
    /* notif-speed (issue 13): concurrent senders of the delivery worker (delivery.c) */
    int senders;
    /* the secondary SMTP relay, after smtp_failover_after consecutive relay failures of the
     * primary (delivery.c); "" = none. TLS policy, CA file, timeout and From: are shared. */
    char smtp_secondary_url[512];
    char smtp_secondary_user[256];
    char smtp_secondary_password[256];
    int smtp_failover_after;
    /* fcm: the service account whose OAuth 2 token authorises pushes (fcm_auth.c); "" = the
     * static push_auth */
    char push_service_account_file[512];
    /* e-mail delivery statuses from the provider (bounce.c, issue 13) */
    char email_callback_secret[128];
    /* mailfx (issue 13): how long a complaint or soft-bounce suppression lasts (bounce.c) */
    int suppression_days;
} notification_settings_t;

const notification_settings_t *notification_settings(const svc_env_t *env);
/* The consumers' svc_consumer_t.inbox_needed: 1 for an event of a type some rule of the rule
 * table names (claimed in notification.inbox), 0 for one only webhooks may take (their
 * deliveries' key (webhook_id, event_id) makes a second application queue nothing). */
int notification_inbox_needed(const svc_env_t *env, const svc_event_t *ev);

/* A set-based write of the consumers' batch flushes (rules.c, webhook.c): sql run with doc as
 * compact JSON text in $1 (`... FROM jsonb_to_recordset($1::jsonb) ...`). 0, or -1 + e (500
 * when doc cannot be serialised). */
int notify_exec_json(db_tx_t *tx, const char *sql, const json_t *doc, err_t *e);

#endif
