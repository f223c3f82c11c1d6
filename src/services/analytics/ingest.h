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

#include "core/db.h"
#include "core/service.h"

/* The consumers' handler: builds the event's fact (no database access) and appends it to
 * ev->acc (applied by analytics_flush), or applies it in tx at once when ev->acc is NULL. 0 (also
 * for an event it ignores) or -1 + e (422 for an event whose visit or club id is not a UUID; 503
 * when a service it asks is unavailable: retried). */
int analytics_on_event(const svc_call_t *call, db_tx_t *tx, const svc_event_t *ev, err_t *e);

/* The consumers' flush: resolves what the accumulated facts wait for, in one statement each for
 * the batch (which visits already have attributes, the clubs' time zones; reciprocal's get_visit
 * and member's get_club only for what the tables lack), then applies them with one
 * analytics_ingest. 0 or -1 + e. */
int analytics_flush(const svc_call_t *call, db_tx_t *tx, json_t *acc, err_t *e);

/* The fact of ev (new reference) in *fact, NULL for an event analytics ignores; it may carry
 * pending look-ups (fields starting with '_') that analytics_flush resolves. 0 or -1 + e. */
int analytics_fact(const svc_call_t *call, const svc_event_t *ev, json_t **fact, err_t *e);

/* Applies an array of facts in tx (analytics.ingest) under a transaction-scoped advisory lock:
 * one ingest at a time across consumers and processes, held until tx ends (concurrent
 * recomputes of one rollup row or partition would collide). *added (may be NULL): new raw rows.
 * 0 or -1 + e. */
int analytics_ingest(db_tx_t *tx, json_t *facts, long *added, err_t *e);

/* The pseudonymous key of member or user `id` of club `club`: lowercase hex of
 * HMAC-SHA-256(K, "<club>/<id>"), K a subkey of RECIPROCAL_ANALYTICS_KEY (or of the bus key).
 * 0, or -1 + 500 when no key is configured. */
int analytics_member_key(const svc_env_t *env, const char *club, const char *id, char out[65],
                         err_t *e);

#endif
