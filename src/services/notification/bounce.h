/* bounce: e-mail delivery statuses from the provider and the clubs' suppression lists
 * (docs/notification.md "E-mail delivery statuses and bounces"). Each mail the worker sends
 * carries a stable Message-ID derived from its row (<message uuid>@<From domain>), kept as the
 * row's provider_ref; a digest mail carries its first row's, and its other rows point at that
 * row (digest_of), so a callback moves every row the digest listed. The provider's status callback
 * (operation email_status_callback, PUBLIC: X-Reciprocal-Signature = sha256=<hex HMAC-SHA256 of the
 * body> with RECIPROCAL_EMAIL_CALLBACK_SECRET, compared in constant time) names that Message-ID and
 * one of delivered | soft_bounce | hard_bounce, moving the mail forward only (sent ->
 * delivery_attempted -> delivered | bounced), once per Message-ID and status
 * (notification.provider_callbacks, provider 'email': a replay changes nothing). The first hard
 * bounce of an address puts it on its club's suppression list (notification.suppressions) for
 * good and emits notification.failed; a spam complaint, or the third soft bounce within
 * RECIPROCAL_NOTIFY_SUPPRESSION_DAYS, puts it there until expires_at (that many days); the worker
 * then marks the club's queued non-critical mails to it not_sent with last_error 'suppressed'
 * (critical mails still go). A club's administrators list and remove their suppressions
 * (operations). Owns nothing between calls. */
#ifndef SERVICES_NOTIFICATION_BOUNCE_H
#define SERVICES_NOTIFICATION_BOUNCE_H

#include <jansson.h>

#include "core/service.h"
#include "services/notification/provider.h"

/* The Message-ID of message id (a uuid) sent from from ("Name <addr>" or "addr"), without
 * angle brackets: "<id>@<the From domain, at most 40 bytes>" into out. */
void notify_bounce_message_id(const char *id, const char *from, char out[NOTIFY_REF_MAX]);

/* The delivery worker, in its lease transaction: queued, due, non-critical e-mails (digest rows
 * too) to an address on their club's suppression list, whose entry has not expired, become
 * not_sent ('suppressed'). at: the clock (ISO instant, NULL = now()). The number of rows
 * marked, or -1 + e. */
long long notify_bounce_suppress_queued(db_tx_t *tx, const char *at, err_t *e);
/* The same UPDATE queued in a pipeline batch (core/db.h): its index in b, or -1. */
int notify_bounce_suppress_queue(db_batch_t *b, const char *at);

/* Operations: the provider's status callback (PUBLIC, the signature authenticates; validated by
 * provider_validate_callback) and a club's suppression list (club:admin). */
int bounce_email_callback(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int bounce_validate_list(json_t *in, err_t *e);
int bounce_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int bounce_validate_id(json_t *in, err_t *e);
int bounce_delete(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
