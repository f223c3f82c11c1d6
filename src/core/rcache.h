/* rcache: the in-process read cache of hot, rarely changing rows (issue 16 step 3): a club's
 * document (services/member), the auth service's published key set (services/auth). Owns every
 * cache it creates (process lifetime: a cache is never freed while the process serves, since
 * the NATS subscriptions that invalidate it point at it; rcache_free_all() for tests and tools)
 * and every entry's bytes; rcache_get hands the caller a malloc'd copy the caller frees.
 *
 * Entries are byte strings (a JSON document's text) keyed by (tenant, key): the tenant is the
 * club whose request may see the row (NULL = a row everyone may read, e.g. the club directory),
 * and a lookup only ever finds an entry stored under the same tenant, so one club's row is never
 * answered to another club's request (docs/security.md C1). Each entry also carries a tag (the
 * id of the row it was built from: a club read by slug and by id are two entries with one tag)
 * so that an invalidation by id drops every form.
 *
 * Bounded: at most RECIPROCAL_CACHE_MAX_ENTRIES entries per cache (the least recently used one
 * is evicted) and each entry at most RECIPROCAL_CACHE_TTL_SECONDS old (the safety net for an
 * invalidation that never arrives). Invalidated by the owning service's events: rcache_follow
 * subscribes (core NATS, no queue group: every process gets every event) to the literal event
 * subjects that change the cached rows (`events.club.updated`); the relay publishes them right
 * after the commit, so a change made by one process reaches the others' caches within the
 * event delay (the relay's wake-up and one NATS hop, milliseconds). The process that made the
 * change also invalidates at once after its commit (rcache_invalidate). A NATS reconnect may
 * have lost events, so the first lookup after one clears the whole cache. A fill races an
 * invalidation safely: take rcache_epoch() before reading the row and pass it to rcache_put,
 * which stores nothing if any invalidation happened in between.
 *
 * Metrics (GET /metrics, label cache): cache_hits_total, cache_misses_total,
 * cache_invalidations_total (entries dropped by invalidation, expiry or a reconnect clear),
 * cache_evictions_total (dropped for room), cache_entries (gauge). Thread-safe (one mutex per
 * cache; the critical sections copy bytes, never do I/O). */
#ifndef CORE_RCACHE_H
#define CORE_RCACHE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/err.h"

typedef struct rcache rcache_t;

/* Applies RECIPROCAL_CACHE_TTL_SECONDS and RECIPROCAL_CACHE_MAX_ENTRIES to every cache, those
 * that exist and those created later (defaults 300 s and 10,000 before any call). ttl_s 0
 * disables caching (every lookup misses, nothing is stored). */
void rcache_configure(int ttl_s, int max_entries);

/* The process's cache called name ([a-z_]+, the metrics label), created on first use; NULL
 * only when out of memory. */
rcache_t *rcache_named(const char *name);

/* A module's handle on its cache (`static rcache_slot_t slot;`): rcache_at(&slot, name) looks
 * the cache up by name once (rcache_named), then answers it with one atomic load, the same cache
 * in every thread; NULL only when out of memory. */
typedef _Atomic(rcache_t *) rcache_slot_t;
rcache_t *rcache_at(rcache_slot_t *slot, const char *name);

/* Called for each event on a followed subject with the envelope (the outbox's JSON: id, type,
 * tenant_id, data, ...; NULL when unreadable: then drop what may be affected, e.g. everything). */
typedef void (*rcache_event_fn)(rcache_t *c, const char *subject, const json_t *envelope);

/* An rcache_event_fn for caches whose entries are stored under the tenant that the events name:
 * drops every entry of the envelope's tenant_id (everything when the envelope is unreadable). */
void rcache_drop_tenant(rcache_t *c, const char *subject, const json_t *envelope);

/* Subscribes c to each literal subject of the NULL-terminated list on bus (the module's NATS
 * user must be allowed to subscribe to them: svc_nats_t.subscribes), calling fn for each event,
 * and remembers the bus so that a reconnect clears c. Once per cache and bus; a second call for
 * the same cache is a no-op returning 0. NULL bus (tests, tools): nothing to follow, 0. */
int rcache_follow(rcache_t *c, bus_t *bus, const char *const *subjects, rcache_event_fn fn,
                  err_t *e);

/* The invalidation epoch, to pass to rcache_put (read it before reading the row). */
uint64_t rcache_epoch(rcache_t *c);
/* 1 = hit: *val is a malloc'd copy (NUL-terminated, *len bytes without the NUL), caller frees;
 * 0 = miss (absent, expired, or another tenant's). tenant may be NULL (directory rows). */
int rcache_get(rcache_t *c, const char *tenant, const char *key, char **val, size_t *len);
/* Stores a copy of val[0..len) under (tenant, key) with tag (NULL = key), unless the cache was
 * invalidated since epoch (then nothing is stored). Replaces an entry with the same key. */
void rcache_put(rcache_t *c, const char *tenant, const char *key, const char *tag, const char *val,
                size_t len, uint64_t epoch);
/* Drops every entry of tenant whose tag is tag; tenant NULL = the directory rows; tag NULL =
 * every entry of that tenant. Advances the epoch. */
void rcache_invalidate(rcache_t *c, const char *tenant, const char *tag);
/* Drops every entry (a reconnect, an unreadable event, tests). Advances the epoch. */
void rcache_clear(rcache_t *c);
/* Caps the life of c's entries stored from now on at ttl_s seconds (when shorter than the
 * configured TTL; 0 = no cap): for rows whose safety net must be shorter than the others'. */
void rcache_cap_ttl(rcache_t *c, int ttl_s);
/* Entries held now. */
size_t rcache_size(rcache_t *c);

/* Tests and tools: frees every cache (no subscription may still point at one: close the bus
 * first). */
void rcache_free_all(void);

#endif
