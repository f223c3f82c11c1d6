/* delivery: the worker that sends queued messages (notification.messages, status queued and
 * due). One pass leases up to 20 due rows (next_attempt_at moved 5 min ahead, committed), then
 * for each: email is rendered (template resolution, Mustache + cmark; a one-time token fetched
 * from auth.delivery_token right then and put in the link) and sent over SMTP; in-app is
 * published on NATS inbox.<user>. Outcome: sent; a permanent failure (SMTP 5xx, render error,
 * token gone) -> undelivered / not_sent; a transient one (SMTP 4xx, connection) -> retried after
 * retry_base * 2^(tries-1) +-20% jitter, undelivered after max_tries. Every final failure emits
 * notification.failed and counts in notification_failed_total{channel}; the failed list is
 * GET /api/v1/notifications/failed. A crash between send and update sends again when the lease
 * expires (at least once). The worker sleeps between passes until a message is queued (LISTEN
 * notification_queued on a connection of its own, notified at the commit of every INSERT into
 * notification.messages: migration 0017) or RECIPROCAL_NOTIFY_POLL_MS passed (rows due later).
 * Owns the worker thread and its LISTEN connection (delivery_start / delivery_stop). */
#ifndef SERVICES_NOTIFICATION_DELIVERY_H
#define SERVICES_NOTIFICATION_DELIVERY_H

#include "core/service.h"

/* One pass: returns the number of messages handled (sent or failed), -1 + e on a database
 * error. Tests call it directly. */
int notify_deliver_once(const svc_env_t *env, err_t *e);

/* One digest pass: for up to 20 recipients with due digest rows (digest = true, queued, due),
 * one mail "Your daily digest" (or hourly) listing every waiting message's subject (rendered in
 * strict mode), all of them marked sent with it; a failed send retries the group after retry_base *
 * 2^tries, undelivered after max_tries. The rows stay locked during the send. The mail goes the
 * single mails' way: a pooled SMTP session, the secondary relay after the primary's failures,
 * and the stable Message-ID of its first row, kept as that row's provider_ref (the others get
 * digest_of = that row). Returns the number of digests handled, -1 + e. */
int notify_digest_once(const svc_env_t *env, err_t *e);
/* The same with the clock as an argument (at: ISO instant, NULL = now()): rows due at `at` are
 * sent, grouped by category (a heading per category, its subjects below); the subject says
 * "daily" when any row waited for 08:00, else "hourly" (docs "Hourly digests"). */
int notify_digest_pass(const svc_env_t *env, const char *at, err_t *e);

int notify_delivery_start(const svc_env_t *env, err_t *e);
/* Bench seam (bench/mail_e2e.c): when set, called with a message id at each stage of its
 * delivery: "leased" (its lease committed, a sender may take it), "accepted" (the SMTP server
 * or provider accepted it, before its outcome is recorded). NULL in the service. */
extern void (*notify_delivery_trace)(const char *message_id, const char *stage);
void notify_delivery_stop(void);

#endif
