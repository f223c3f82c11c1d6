/* consumer: runs the event consumers a module declares (svc_module_t.consumers, core/service.h):
 * one thread per consumer pulling from its durable JetStream consumer "<module>_<name>" on the
 * EVENTS stream (bus_js_fetch_each, created on first use with DeliverAll; with
 * svc_consumer_t.linger_ms, bus_js_fetch_each_linger: after the first event the fetch keeps
 * gathering until it is full or linger_ms have passed), and for each fetched batch of up to
 * svc_consumer_t.batch events (default SVC_CONSUMER_BATCH):
 *   BEGIN (relay on) -> inbox_claim_batch(<schema>, durable, ids; with
 *   svc_consumer_t.inbox_needed only the ids it names, none = no statement) -> for each new
 *   (or unclaimed) event: scope =
 *   its tenant (not for a relay_only consumer), handler (ev->acc: the batch's accumulator) ->
 *   flush(acc) -> COMMIT -> ack all.
 * An id already claimed is skipped and acked (a redelivery or a replay). When the batch fails
 * (any handler, the flush or the commit), it is rolled back whole and its events are applied
 * one by one, each in its own transaction:
 *   BEGIN (scope: the event's tenant, relay on) -> inbox_claim -> handler -> flush -> COMMIT
 *   -> ack, so one failing event does not hold back the others. A batch of 1 (batch = 1, or a
 * fetch that brought one event) takes the one-by-one path directly.
 * A handler error 503/504 (dependency down) naks the message and the thread backs off (100 ms
 * doubling to 5 s), without limit. Any other error is a failed try: counted in
 * <schema>.dead_letter (relay scope, its own transaction) and nak'ed; at the consumer's
 * max_tries the row is marked dead, the id claimed and the message acked (never applied).
 * An unreadable message (not a JSON envelope with a UUID id) is dead-lettered at once.
 * Metrics (label consumer = durable): consumer_applied_total, consumer_duplicates_total,
 * consumer_failures_total, consumer_dead_letter_total.
 * Owns: per started module, its threads and their state; svc_consumers_stop joins and frees. */
#ifndef CORE_CONSUMER_H
#define CORE_CONSUMER_H

#include "core/service.h"

typedef struct svc_consumers svc_consumers_t;

/* Starts a thread per consumer of m (NULL with no error when m has none). env must outlive the
 * threads. NULL + e on failure (nothing left running). */
svc_consumers_t *svc_consumers_start(const svc_env_t *env, const svc_module_t *m, err_t *e);
/* Tells the threads to stop without waiting (NULL: no-op): a process with several modules
 * signals every group first, so their fetch timeouts run out together, then stops each. */
void svc_consumers_signal(svc_consumers_t *g);
/* Stops and joins the threads (each notices within its fetch timeout, 1 s, plus its linger_ms),
 * frees. NULL: no-op. */
void svc_consumers_stop(svc_consumers_t *g);

/* One fetch of consumer c of m, synchronously (tests; the threads loop on it): up to max events
 * waited for up to timeout_ms (with c->linger_ms: the first one, then gathering as above), each
 * applied as above. Returns the number of messages handled
 * (0 on timeout) or -1 + e when the fetch itself failed. *failed (may be NULL) gets the number
 * nak'ed for a retry. */
int svc_consumer_poll(const svc_env_t *env, const svc_module_t *m, const svc_consumer_t *c, int max,
                      int timeout_ms, int *failed, err_t *e);

/* Test seam: when set, called after each batch's commit and before its acks; nonzero skips
 * the acks (the messages are nak'ed and redelivered, as after a crash at that point). */
extern int (*svc_consumer_after_commit)(const char *durable);

/* The durable name of consumer c of m, "<module>_<name>", into out (64 bytes). */
void svc_consumer_durable(const svc_module_t *m, const svc_consumer_t *c, char out[64]);

#endif
