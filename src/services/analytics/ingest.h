/* ingest: events -> analytics facts -> analytics.ingest (the SQL function of migrations/0001,
 * replaced by later ones). A fact is {id, at, type, club, host, home, visit, member_key, tz,
 * facts}: the event's id and time, its clubs and visit, the member as an HMAC-SHA-256 key
 * (analytics_member_key), the time zone its local day is taken in (charges, sign-ins) and a
 * whitelist of non-personal fields (status, dates, guest count, first facility, `rooms` when
 * the facilities include rooms, currency, amount, category). Events without a visit's
 * dates are completed from the reciprocal service's get_visit operation (once per visit), a
 * club's time zone from member's get_club when the club dimension lacks it; both decided once
 * per batch (analytics_flush), not per event. */
#ifndef SERVICES_ANALYTICS_INGEST_H
#define SERVICES_ANALYTICS_INGEST_H

#include <time.h>

#include "core/db.h"
#include "core/service.h"

struct strbuf;

/* The accumulator of a consumer's transaction (svc_consumer_t.acc_new / acc_free): its facts
 * as the JSON text analytics.ingest reads, written directly (no jansson object per fact), each
 * up to its "facts" object's last member, with what analytics_flush resolves for it. */
typedef struct analytics_batch analytics_batch_t;
void *analytics_batch_new(void); /* NULL when out of memory */
void analytics_batch_free(void *acc);

/* Adds the fact of ev to b (no database access; member's get_member for a member.updated naming
 * the category), nothing for an event analytics ignores. 0 or -1 + e (422 for an event whose
 * visit or club id is not a UUID, or a member event without a club; 503 when a service it asks
 * is unavailable: retried). */
int analytics_batch_add(const svc_call_t *call, analytics_batch_t *b, const svc_event_t *ev,
                        err_t *e);

/* The batch's JSON array of facts into out, each completed from the look-ups: known {visit id
 * (lowercase): ""} the visits whose attributes an earlier event carried, tzs {club id
 * (lowercase): time zone} (both updated as it goes: the first event of an unknown visit gets
 * its attributes, from the event or reciprocal's get_visit; a club without one is asked of
 * member's get_club once). analytics_flush's second half, a seam for tests. 0 or -1 + e. */
int analytics_batch_text(const svc_call_t *call, const analytics_batch_t *b, json_t *known,
                         json_t *tzs, struct strbuf *out, err_t *e);

/* The consumers' handler: adds the event's fact to ev->acc (an analytics_batch_t, applied by
 * analytics_flush), or applies it in tx at once when ev->acc is NULL. 0 (also for an event it
 * ignores) or -1 + e (as analytics_batch_add). */
int analytics_on_event(const svc_call_t *call, db_tx_t *tx, const svc_event_t *ev, err_t *e);

/* The consumers' flush of acc (an analytics_batch_t): resolves what its facts wait for, in one
 * statement each for the batch (which visits already have attributes, the clubs' time zones;
 * reciprocal's get_visit and member's get_club only for what the tables lack), then applies
 * them with one analytics_ingest_text. 0 or -1 + e. */
int analytics_flush(const svc_call_t *call, db_tx_t *tx, void *acc, err_t *e);

/* Applies a JSON array of facts (the text, or the jansson array dumped) in tx (analytics.ingest)
 * under a transaction-scoped advisory lock: one ingest at a time across consumers and
 * processes, held until tx ends (concurrent recomputes of one rollup row or partition would
 * collide). *added (may be NULL): new raw rows. 0 or -1 + e. */
int analytics_ingest_text(db_tx_t *tx, const char *facts, long *added, err_t *e);
int analytics_ingest(db_tx_t *tx, json_t *facts, long *added, err_t *e);

/* svc_consumer_t.inbox_needed of the analytics consumers: 1 when ev must be claimed in the
 * inbox, 0 when the raw store's key (event id and time) makes applying it twice a no-op for as
 * long as the stream can deliver it again: its day (the timestamp's date) plus the raw store's
 * retention (RECIPROCAL_ANALYTICS_RETENTION_DAYS) reaches past today plus the stream's
 * retention (RECIPROCAL_EVENTS_RETENTION_HOURS, in days rounded up) plus two days (the inbox's
 * day past the stream, a day for time zones and clocks). 1 for an event without a readable
 * date or without settings. _at: at time now (tests). */
int analytics_inbox_needed(const svc_env_t *env, const svc_event_t *ev);
int analytics_inbox_needed_at(const svc_env_t *env, const svc_event_t *ev, time_t now);

/* The pseudonymous key of member or user `id` of club `club`: lowercase hex of
 * HMAC-SHA-256(K, "<club>/<id>"), K a subkey of RECIPROCAL_ANALYTICS_KEY (or of the bus key).
 * 0, or -1 + 500 when no key is configured. */
int analytics_member_key(const svc_env_t *env, const char *club, const char *id, char out[65],
                         err_t *e);

#endif
