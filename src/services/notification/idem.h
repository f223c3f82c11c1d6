/* idem: client idempotency keys of the notification operations that create something from the
 * API (docs/notification.md "Client idempotency keys"). A key (1..255 chars, chosen by the
 * client) is remembered per club and operation for 24 h with the request (canonical JSON: compact,
 * sorted keys, without idempotency_key and club_id) and the answer. The same key with the same
 * request replays the answer; with a different request it is 409 idempotency_conflict naming the
 * first field that differs; after 24 h the key is free again. Calls run in the operation's
 * transaction (the caller's club scope, RLS on the club), serialised per key by a transaction
 * advisory lock, so two concurrent requests with one key create one thing. The clock is an
 * argument (`at`, ISO instant; NULL = now()). Owns nothing between calls. */
#ifndef SERVICES_NOTIFICATION_IDEM_H
#define SERVICES_NOTIFICATION_IDEM_H

#include <jansson.h>

#include "core/db.h"
#include "core/err.h"

#define NOTIFY_IDEM_MAX 255
#define NOTIFY_IDEM_HOURS 24

/* Validation of the optional "idempotency_key" field of in: a string of 1..255 characters. */
int notify_idem_validate(json_t *in, err_t *e);

/* Before the operation's work, when in has an idempotency_key: *replay receives the remembered
 * answer (a new reference, the caller's) when the same request was made within 24 h of at, or
 * NULL (a new key, or an expired one: removed). -1 + 409 idempotency_conflict (field
 * idempotency_key, the message naming the differing field) for another request; -1 + db error. */
int notify_idem_begin(db_tx_t *tx, const char *op, json_t *in, const char *at, json_t **replay,
                      err_t *e);

/* After the work, in the same transaction: remembers the request and answer (out; the caller
 * strips secrets before). A no-op without idempotency_key. 0 or -1 + e. */
int notify_idem_finish(db_tx_t *tx, const char *op, json_t *in, json_t *out, const char *at,
                       err_t *e);

#endif
