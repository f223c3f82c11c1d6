/* bus: the NATS connections (nats.c) and JetStream contexts. Owns them. Provides request/reply
 * for the service operation transport, queue-group responders, and JetStream publishing with
 * message-id de-duplication for the event relay. Reconnects forever in the background. The
 * pull consumers (bus_js_fetch*: requests, deliveries, acks) and bus_js_publish_batch run on a
 * second connection of the same user, opened on first use, whose writes are buffered (a batch's
 * acks or publishes leave in a few writes); everything else on the main one, which sends each
 * message at once (request/reply latency). */
#ifndef CORE_BUS_H
#define CORE_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct bus bus_t;

/* Fails (503) when the first connection cannot be made; after that it reconnects forever.
 * Requests made while reconnecting fail at once with 503; JetStream publishes are buffered
 * and wait for their ack (5 s) across a short outage. */
bus_t *bus_connect(const char *url, const char *name, err_t *e);
/* The same as NATS user `user` (NULL or "" = none) with its password (never logged). Its
 * requests take their replies on `_INBOX.<user>.>` (the only inbox its permissions grant it);
 * a server that refuses the credentials fails the connection with 503. */
bus_t *bus_connect_auth(const char *url, const char *name, const char *user, const char *password,
                        err_t *e);
/* Drains the responders (in-flight requests finish, up to 5 s), then frees everything. */
void bus_close(bus_t *b);
/* Releases nats.c's process-wide state (threads, timers). Call once at process end, after the
 * last bus_close, so LeakSanitizer sees no leaks from the library. */
void bus_shutdown_library(void);
int bus_connected(bus_t *b);
/* Round trip to the server (flush with timeout) on the main connection and, once open, the
 * stream connection (pull consumers, acks, batch publishes: bus.c "struct bus"), for
 * /health/ready; what either had buffered (a batch's acks) is sent on return. */
int bus_ping(bus_t *b, int timeout_ms, err_t *e);

/* The number of distinct NATS servers the connection knows: the URLs it was given plus those
 * the server announced (a cluster's nodes, INFO connect_urls). 0 on error. */
int bus_cluster_size(bus_t *b);
/* Sets the replica count of the streams this bus ensures with bus_ensure_stream,
 * bus_ensure_stream_max_age and bus_ensure_stream_window (RECIPROCAL_NATS_REPLICAS, issue 17
 * item 7), applied to existing streams at their next ensure (stream update): 1..5 exactly (an
 * existing stream is scaled up or down to it), or 0 = auto: 3 when bus_cluster_size >= 3, else
 * 1, never lowering an existing stream, and 1 when the server cannot place 3 (no JetStream
 * cluster, too few servers). Resolved once, at this call; call it before the bus is shared
 * between threads (`serve` does right after connecting). Returns the count chosen, or -1 + e.
 * Without a call: 1 for a new stream, an existing one keeps its count. */
int bus_set_stream_replicas(bus_t *b, int replicas, err_t *e);
/* Creates or updates a JetStream stream (file storage, duplicate window 2 min, the bus's
 * replica count). subjects is a NULL-terminated list, e.g. {"events.>", NULL}. */
int bus_ensure_stream(bus_t *b, const char *stream, const char *const *subjects, err_t *e);
/* The same with `replicas` (1..5; > 1 needs a JetStream cluster) instead of the bus's setting.
 * replicas 1 keeps an existing stream's replica count (never scales it down). */
int bus_ensure_stream_replicas(bus_t *b, const char *stream, const char *const *subjects,
                               int replicas, err_t *e);
/* The same with a retention: messages older than max_age_ns (nanoseconds; 0 = unlimited, else at
 * least the 2-minute duplicate window) are removed by the server. An existing stream with another
 * MaxAge is updated. bus_ensure_stream and bus_ensure_stream_replicas mean MaxAge 0: the
 * ledger's streams stay unlimited. */
int bus_ensure_stream_max_age(bus_t *b, const char *stream, const char *const *subjects,
                              int64_t max_age_ns, err_t *e);
/* The same with a duplicate window (Nats-Msg-Id de-duplication) of dup_window_ns (>= 2 minutes,
 * <= max_age_ns when that is not 0) instead of 2 minutes; an existing stream with another window
 * is updated. For EVENTS (outbox_ensure_stream, docs/security.md N4). */
int bus_ensure_stream_window(bus_t *b, const char *stream, const char *const *subjects,
                             int64_t max_age_ns, int64_t dup_window_ns, err_t *e);
/* The stream's duplicate window in nanoseconds. */
int bus_js_stream_dup_window(bus_t *b, const char *stream, int64_t *dup_window_ns, err_t *e);
/* The stream's MaxAge in nanoseconds (0 = unlimited). */
int bus_js_stream_max_age(bus_t *b, const char *stream, int64_t *max_age_ns, err_t *e);
/* The server name of the stream's current leader ("" when not clustered) and its replicas. */
int bus_js_stream_leader(bus_t *b, const char *stream, char *leader, size_t cap, int *replicas,
                         err_t *e);
/* One message of a batch: published together (bus_js_publish_batch) or fetched together
 * (bus_js_fetch_batch). */
typedef struct bus_batch_msg {
    const char *subject;
    const char *msg_id;
    const char *data;
    size_t len;
} bus_batch_msg_t;

/* Publishes and waits for the JetStream ack. msg_id goes in the Nats-Msg-Id header; a duplicate
 * within the window is acknowledged as such and still counts as success (*duplicate = 1). */
int bus_js_publish(bus_t *b, const char *subject, const char *msg_id, const void *data, size_t len,
                   int *duplicate, err_t *e);

/* Publishes n messages (each with a non-empty, distinct msg_id in Nats-Msg-Id) without waiting
 * between them, then waits once for all JetStream acks: far faster than n bus_js_publish calls.
 * ok[i] = 1 for every message the stream stored (or already had). Returns 0 when all were
 * stored, -1 + e when some were not (ok says which; a timeout counts the whole batch as not
 * stored). At most 4096 messages; one batch at a time per bus (callers are serialised). */
int bus_js_publish_batch(bus_t *b, const bus_batch_msg_t *msgs, int n, int *ok, err_t *e);

/* Request/reply. *reply is malloc'd (NUL-terminated), caller frees. Timeout or no responders
 * -> 503 "unavailable" / 504 "timeout". */
int bus_request(bus_t *b, const char *subject, const void *data, size_t len, int timeout_ms,
                char **reply, size_t *reply_len, err_t *e);

/* A responder: handler gets the request payload and returns a malloc'd reply (or NULL for an
 * empty reply). Runs `workers` subscriptions in queue group `queue` so requests are handled
 * concurrently and load balanced across processes. */
typedef char *(*bus_handler_fn)(const char *subject, const char *data, size_t len,
                                size_t *reply_len, void *ud);
int bus_serve(bus_t *b, const char *subject, const char *queue, int workers, bus_handler_fn fn,
              void *ud, err_t *e);

/* ---- broadcast (core NATS, no JetStream) ---------------------------------------------- */

/* Publishes one message to every current subscriber of subject and flushes (a round trip to
 * the server, up to 1 s), so the server has it before the caller goes on. No persistence: a
 * subscriber that is disconnected misses it. Subscribers of this bus (bus_subscribe) get it
 * synchronously before the publish, and once more from the server: handlers must be
 * idempotent. */
int bus_publish(bus_t *b, const char *subject, const void *data, size_t len, err_t *e);
/* Every message on subject (a literal subject; no queue group: each subscribing process gets
 * each message) is handed to fn on nats.c's delivery thread; fn's return value is freed and not
 * sent. The subscription lives until bus_close. */
int bus_subscribe(bus_t *b, const char *subject, bus_handler_fn fn, void *ud, err_t *e);
/* How many times the main connection was re-established since bus_connect (a subscriber compares it
 * with the value it last saw to learn that it may have missed broadcasts). */
unsigned long bus_reconnects(bus_t *b);

/* Push-free consumption for tests and consumers: fetch up to `max` messages from a durable pull
 * consumer on `stream` filtered by `filter`; fn is called per message, the message is acked when
 * fn returns 0 and nak'ed otherwise (buffered: sent within 1 ms with the fetch's other acks, or
 * at once by bus_ping; neither when it came on a connection before a disconnect:
 * the ack goes to its reply subject, which nats-server lets only the connection that received
 * it use; JetStream redelivers it after the AckWait, 30 s). Returns number of messages handled
 * or -1. The same holds for every bus_js_fetch_* below. */
typedef int (*bus_msg_fn)(const char *subject, const char *msg_id, const char *data, size_t len,
                          void *ud);
int bus_js_fetch(bus_t *b, const char *stream, const char *durable, const char *filter, int max,
                 int timeout_ms, bus_msg_fn fn, void *ud, err_t *e);

/* ---- added for the ledger (ordering with fencing) ---------------------------------------- */

/* Publishes like bus_js_publish but only if the stream's last sequence is expected_last_seq
 * (header Nats-Expected-Last-Sequence; 0 = the stream must be empty). On success *seq (may be
 * NULL) gets the stream sequence of the message. A publisher that lost the race gets 409
 * "conflict" (code "fenced"). A duplicate Nats-Msg-Id is acknowledged as success with
 * *duplicate = 1 and the sequence of the original message. */
int bus_js_publish_expect(bus_t *b, const char *subject, const char *msg_id, const void *data,
                          size_t len, unsigned long long expected_last_seq, unsigned long long *seq,
                          int *duplicate, err_t *e);

/* Reads the message at stream sequence seq (no consumer). *found = 0 when there is none
 * (deleted or beyond the end). *data is malloc'd (NUL-terminated) when found; caller frees. */
int bus_js_get_msg(bus_t *b, const char *stream, unsigned long long seq, int *found, char **data,
                   size_t *len, err_t *e);

/* Last sequence of a stream (0 when empty). */
int bus_js_last_seq(bus_t *b, const char *stream, unsigned long long *last_seq, err_t *e);

/* Like bus_js_fetch but hands the whole batch to one callback; all messages are acked when it
 * returns 0 and nak'ed otherwise (so a batch that cannot be used is redelivered as a whole).
 * Returns the number of messages in the batch (0 on timeout) or -1. */
typedef int (*bus_batch_fn)(const bus_batch_msg_t *msgs, int n, void *ud);
int bus_js_fetch_batch(bus_t *b, const char *stream, const char *durable, const char *filter,
                       int max, int timeout_ms, bus_batch_fn fn, void *ud, err_t *e);
/* The same for an idle consumer: waits up to idle_ms for a first message without polling (one
 * pull request for one message, held by the server until a message arrives or it expires), then
 * takes up to max - 1 more, waiting at most fill_ms for them, and hands them all to fn as one
 * batch. idle_ms 0 = bus_js_fetch_batch(..., fill_ms, ...). Returns the batch size (0 when
 * nothing came within idle_ms) or -1. */
int bus_js_fetch_batch_idle(bus_t *b, const char *stream, const char *durable, const char *filter,
                            int max, int idle_ms, int fill_ms, bus_batch_fn fn, void *ud, err_t *e);
/* Like bus_js_fetch_batch, but fn decides per message: it sets ack[i] (n entries, all 0 on
 * entry) to 1 for each message to ack; the others are nak'ed (redelivered). Returns the number
 * of messages in the batch (0 on timeout) or -1. */
typedef void (*bus_each_fn)(const bus_batch_msg_t *msgs, int n, int *ack, void *ud);
int bus_js_fetch_each(bus_t *b, const char *stream, const char *durable, const char *filter,
                      int max, int timeout_ms, bus_each_fn fn, void *ud, err_t *e);
/* The same for a consumer that gathers its batches (svc_consumer_t.linger_ms): waits up to
 * wait_ms for a first message (a request held by the server: no polling), then keeps taking
 * messages until it holds max or linger_ms have passed since that first one (one more request
 * held by the server, answered at once with what is there: a full batch is not delayed).
 * linger_ms 0 = bus_js_fetch_each(..., wait_ms, ...). Returns the number of messages or -1. */
int bus_js_fetch_each_linger(bus_t *b, const char *stream, const char *durable, const char *filter,
                             int max, int wait_ms, int linger_ms, bus_each_fn fn, void *ud,
                             err_t *e);

/* State of a durable JetStream consumer (for metrics): ack floor (stream sequence up to which
 * everything is acked), messages not yet delivered, delivered but not acked, redelivered. */
typedef struct bus_consumer_state {
    unsigned long long ack_floor, delivered, num_pending;
    long long num_ack_pending, num_redelivered;
} bus_consumer_state_t;
int bus_js_consumer_state(bus_t *b, const char *stream, const char *durable,
                          bus_consumer_state_t *st, err_t *e);

#endif
