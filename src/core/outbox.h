/* outbox: transactional event publication. A service writes its domain event into
 * <schema>.outbox inside the same transaction as the change (outbox_add). The relay thread
 * publishes unpublished rows to JetStream stream EVENTS, subject "events.<type>", with
 * Nats-Msg-Id = event id, waits for the ack, then marks the row published. It selects rows by
 * "published_at IS NULL" (FOR UPDATE SKIP LOCKED), never by "id > last seen", so a transaction
 * that commits late is never skipped; LISTEN/NOTIFY wakes it, polling is the fallback.
 * The inbox helper lets a consumer apply each event once (<schema>.inbox primary key).
 * Envelope (the seed's DomainEvent): id, type, source, tenant_id, timestamp, version, data,
 * metadata{correlation_id, causation_id, user_id, ip_address, user_agent}. */
#ifndef CORE_OUTBOX_H
#define CORE_OUTBOX_H

#include <jansson.h>

#include "core/bus.h"
#include "core/db.h"
#include "core/err.h"

typedef struct outbox_meta {
    const char *correlation_id; /* usually the request id */
    const char *causation_id;   /* event id that caused this one, or NULL */
    const char *user_id;
    const char *ip_address;
    const char *user_agent;
} outbox_meta_t;

/* Inserts one event. schema: the service schema ("member"). type: "club.created".
 * data is borrowed. The new event id is written to id_out (37 bytes) when non-NULL. */
int outbox_add(db_tx_t *tx, const char *schema, const char *type, const char *source,
               const char *tenant_id, json_t *data, const outbox_meta_t *meta, char *id_out,
               err_t *e);

/* The same INSERT queued in a pipeline batch (core/db.h db_batch_*): it runs, in the batch's
 * transaction, when the batch does. data is borrowed. 0 or -1 + err. */
int outbox_add_batch(db_batch_t *b, const char *schema, const char *type, const char *source,
                     const char *tenant_id, json_t *data, const outbox_meta_t *meta, err_t *e);

/* One event's outbox row for a statement the caller writes (a data-modifying CTE beside the
 * change the event records, so the change and its event are one statement): sql, the INSERT
 * with its parameters numbered from first ($first .. $first+4); vals, the 5 parameter values
 * in that order (vals[4], the payload, is owned: outbox_row_free). The statement-level trigger
 * that wakes the relay fires for it as for outbox_add's. 0 or -1 + err. */
typedef struct outbox_row {
    char sql[256];
    char id[37];
    char subject[8 + 128 + 1];
    const char *vals[5]; /* id, type, subject, tenant_id, payload */
} outbox_row_t;
int outbox_row_make(outbox_row_t *row, int first, const char *schema, const char *type,
                    const char *source, const char *tenant_id, json_t *data,
                    const outbox_meta_t *meta, err_t *e);
void outbox_row_free(outbox_row_t *row);

/* Inserts n events of one type in ONE statement (a ledger block's per-transaction events);
 * data[i] borrowed. Same envelopes as n outbox_add calls. */
int outbox_add_many(db_tx_t *tx, const char *schema, const char *type, const char *source,
                    const char *tenant_id, json_t *const *data, size_t n, const outbox_meta_t *meta,
                    err_t *e);

/* The relay's recovery bound: an event the stream acknowledged but whose outbox row was not
 * marked published (a crash, or PostgreSQL down, between the ack and the commit) is published
 * again when the relay comes back; JetStream drops that copy (same Nats-Msg-Id) if it comes
 * within this many seconds of the first. The EVENTS stream's duplicate window (docs/security.md
 * N4; capped by the retention). */
#define OUTBOX_DUP_WINDOW_S 3600

/* Creates or updates the JetStream stream EVENTS (subjects events.>) with MaxAge =
 * retention_s seconds (RECIPROCAL_EVENTS_RETENTION_HOURS; >= 120) and a duplicate window of
 * min(OUTBOX_DUP_WINDOW_S, retention_s): an existing stream with another MaxAge or window (such
 * as the former 2 minutes) is updated. */
int outbox_ensure_stream(bus_t *bus, long long retention_s, err_t *e);

/* Passes woken by NOTIFY (or outbox_wake) start at least this far apart: an isolated event goes
 * out at once, a stream of them (a check-in or a vote per commit) is published in batches of
 * this many milliseconds' worth: one SELECT/UPDATE pair, one JetStream flight and one consumer
 * fetch per batch instead of per event (issue 15: 10 ms; issue 11, stop 24: 25 ms, at 300 to
 * 1,000 commits a second 7 to 25 events per pass instead of 3 to 10, docs/architecture.md "Fewer
 * relay passes and stream-info requests (stop 24)"). An event of a stream waits at most this
 * long more; the consumers that take the stream's events linger 200 ms anyway. */
#define OUTBOX_NOTIFY_SPACING_MS 25

typedef struct outbox_relay_opts {
    int poll_ms;           /* fallback poll interval (RECIPROCAL_OUTBOX_POLL_MS); <= 0: 200;
                            * at least 2 s while the LISTEN connection works */
    long long retention_s; /* events retention in seconds (RECIPROCAL_EVENTS_RETENTION_HOURS *
                            * 3600); 0 = never purge */
    int purge_every_ms;    /* purge interval; <= 0: one hour (tests set less). The first purge
                            * runs min(10 s, interval) after start. */
} outbox_relay_opts_t;

typedef struct outbox_relay outbox_relay_t;
/* Starts one relay thread serving the given NULL-terminated list of schemas ([a-z_]+). Besides
 * the pool it opens one dedicated connection for LISTEN outbox, with the connection parameters
 * of a pooled connection (PQconninfo). Survives PostgreSQL and NATS outages (retries with
 * backoff up to 5 s). With opts->retention_s > 0 it also purges (outbox_purge_once) every
 * purge interval, a few batches per turn of its loop so publishing is never held up.
 * Declares the metrics outbox_pending{schema} (gauge, refreshed every 2 s),
 * outbox_published_total{schema}, outbox_batches_total{schema} (passes that published) and
 * outbox_purged_total{table} ("member.outbox"). Passes woken by NOTIFY start at least
 * OUTBOX_NOTIFY_SPACING_MS apart: a stream of commits is published in batches. */
outbox_relay_t *outbox_relay_start(db_pool_t *db, bus_t *bus, const char *const *schemas,
                                   const outbox_relay_opts_t *opts, err_t *e);
/* Publishes everything pending once, synchronously (used by tests and the relay loop).
 * Returns number published or -1. */
int outbox_relay_once(db_pool_t *db, bus_t *bus, const char *schema, err_t *e);
/* One pass (up to 500 rows) over the rows of transactions with an id >= *from (0: every pending
 * row); when it published every row it could see, *from becomes the xmin of its snapshot (every
 * transaction below had ended, so its committed rows were seen), so the next pass skips the
 * index entries of rows published before. A row another relay held locked (SKIP LOCKED) may lie
 * below the new *from: the relay's full passes start at 0. NULL from: a full pass. Returns the
 * number published or -1. */
int outbox_relay_from(db_pool_t *db, bus_t *bus, const char *schema, unsigned long long *from,
                      err_t *e);
void outbox_relay_stop(outbox_relay_t *r);

/* A stream of commits without a NOTIFY each (core migration 0005): a transaction that runs
 * OUTBOX_WAKE_LOCAL_SQL skips its outbox trigger's NOTIFY, and its caller calls outbox_wake after
 * the COMMIT, which wakes this process's relay of that schema; other processes' relays find the
 * rows on their full passes (OUTBOX_LISTEN_FULL_MS) as any they missed. NOTIFY costs PostgreSQL
 * a lock per database held from the notifying commit's queue insertion to its end, so
 * concurrent notifying commits wait on each other (docs/governance.md "Speed: the cast wakes its
 * own relay"). outbox_relay_local: 1 when a running relay of this process serves schema (only
 * then may a transaction skip the NOTIFY), else 0; outbox_wake: the same, and wakes it (its next
 * pass within OUTBOX_NOTIFY_SPACING_MS of the last, like a notification). Thread-safe. */
#define OUTBOX_WAKE_LOCAL_SQL "SET LOCAL app.outbox_wake = 'local'"
/* The same setting as an expression over the parameter p ('local' or ''), for a statement that
 * takes it with other work (one statement fewer in the flight). */
#define OUTBOX_WAKE_SET_SQL(p) "set_config('app.outbox_wake', " p ", true)"
int outbox_relay_local(const char *schema);
int outbox_wake(const char *schema);

/* Retention: deletes <schema>.outbox rows published more than retention_s seconds ago and
 * <schema>.inbox rows applied more than retention_s + 1 day ago (an event older than the
 * stream's MaxAge cannot be delivered again, so its inbox id is no longer needed), in
 * transactions of at most 5000 rows each. Rows not yet published are never deleted. Runs in the
 * relay scope (app.relay on): the app role's DELETE grant and relay-only delete policies come
 * from core migration 0003. Adds the rows deleted to *removed when non-NULL. 0 or -1. */
typedef struct outbox_purged {
    long long outbox, inbox;
} outbox_purged_t;
int outbox_purge_once(db_pool_t *db, const char *schema, long long retention_s,
                      outbox_purged_t *removed, err_t *e);

/* inbox_claim for n events in ONE statement: claimed[i] = 1 for each id new for `consumer`
 * (recorded now; of an id given twice, its first occurrence), 0 for one already applied.
 * 0, or -1 + e (422 for an id that is not a UUID, nothing claimed). */
int inbox_claim_batch(db_tx_t *tx, const char *schema, const char *consumer,
                      const char *const *event_ids, size_t n, int *claimed, err_t *e);
/* In a consumer's transaction: returns 1 if event_id is new for `consumer` (and records it),
 * 0 if it was already applied, -1 on error. */
int inbox_claim(db_tx_t *tx, const char *schema, const char *consumer, const char *event_id,
                err_t *e);

#endif
