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

/* The suppression check as one data-modifying statement for a WITH list: of the rows of ROWS (a
 * CTE or table with columns id, club_id, recipient, channel, critical), the non-critical e-mails
 * to an address on their club's suppression list whose entry has not expired at AT (an SQL
 * expression) become not_sent ('suppressed'); RETURNING their id. The rows are found by primary
 * key (`m.id = ANY (ARRAY(...))`) and the list by its unique (club_id, address), so the cost is
 * that of ROWS, not of the queue or of the list: the delivery worker checks the rows it leases
 * (delivery.c), not every queued row (a sweep of the whole queue per pass cost ~10 us per
 * queued row: 30 ms a pass at 3,000 queued mails). */
#define NOTIFY_BOUNCE_SUPPRESS_SQL(ROWS, AT)                                                       \
    "UPDATE notification.messages m SET status = 'not_sent', last_error = 'suppressed', "          \
    "failed_at = now(), status_changed_at = now() WHERE m.id = ANY (ARRAY(SELECT d.id FROM " ROWS  \
    " d JOIN notification.suppressions s ON s.club_id = d.club_id AND s.address = "                \
    "lower(d.recipient) WHERE d.channel = 'email' AND NOT d.critical AND (s.expires_at IS NULL "   \
    "OR s.expires_at > " AT "))) RETURNING m.id"

/* The digest worker, in the transaction that sends club's digest to address to: that
 * recipient's queued, due (at: the clock, ISO instant, NULL = now()) e-mails suppressed as
 * above. The number of rows marked, or -1 + e. */
long long notify_bounce_suppress_recipient(db_tx_t *tx, const char *club, const char *to,
                                           const char *at, err_t *e);

/* Operations: the provider's status callback (PUBLIC, the signature authenticates; validated by
 * provider_validate_callback) and a club's suppression list (club:admin). */
int bounce_email_callback(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int bounce_validate_list(json_t *in, err_t *e);
int bounce_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int bounce_validate_id(json_t *in, err_t *e);
int bounce_delete(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
