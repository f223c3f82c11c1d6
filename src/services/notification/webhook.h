/* webhook: outbound webhooks per club (docs/notification.md "Webhooks"): the operations a club
 * administrator (club:admin) uses on its club's endpoints (create: the secret answered once;
 * list; disable or change (update); delete; rotate the secret, the previous one still signing for
 * 24 h; the delivery log), the consumers' part (notify_webhooks_queue: one delivery per subscribed
 * endpoint of every club the event concerns) and the worker's (notify_webhooks_deliver_once: sign
 * per Standard Webhooks, check the target again (SSRF), POST, record; retries 0 s, 5 s, 5 min, 30
 * min, 2 h, 5 h, 10 h, 10 h; 4xx other than 408/429 and a redirect are permanent). webhook_http.c
 * does the HTTP side. Owns nothing between calls. */
#ifndef SERVICES_NOTIFICATION_WEBHOOK_H
#define SERVICES_NOTIFICATION_WEBHOOK_H

#include <jansson.h>

#include "core/service.h"

#define WEBHOOK_MAX_TRIES 8

int webhook_validate_create(json_t *in, err_t *e);
int webhook_validate_id(json_t *in, err_t *e);
int webhook_validate_list(json_t *in, err_t *e);
int webhook_validate_update(json_t *in, err_t *e);
int webhook_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int webhook_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int webhook_rotate(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int webhook_deliveries(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* PATCH: active (disable/enable) and/or event_types; a disabled endpoint's queued deliveries
 * end undelivered. DELETE: the endpoint and its log. Both answer the endpoint; 404 another's. */
int webhook_update(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int webhook_delete(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* In the consumer's transaction: a delivery for every active endpoint subscribed to ev->type
 * (or "*") of the clubs the event concerns (its tenant, home_club_id, host_club_id, clubs[]). */
int notify_webhooks_queue(db_tx_t *tx, const svc_event_t *ev, err_t *e);
/* In a consumer's batch (ev->acc set) notify_webhooks_queue only appends the event (its clubs,
 * type, id, time and data) to the accumulator; this flush (the consumers' svc_consumer_t.flush,
 * before the commit) reads the subscriptions of the batch's clubs in one statement and queues
 * the deliveries of the events they name in one INSERT (none when no webhook wants any). */
int notify_webhooks_flush(db_tx_t *tx, json_t *acc, err_t *e);

/* One pass of the worker over due deliveries: the number handled, or -1 + e. */
int notify_webhooks_deliver_once(const svc_env_t *env, err_t *e);

#endif
