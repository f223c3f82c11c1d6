/* rcache: see rcache.h. A cache is a chained hash table over (tenant, key) plus a doubly linked
 * list in recency order (head = most recent); every entry is one allocation. */
#include "core/rcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/metrics.h"

#define RCACHE_MAX 16
#define NAME_MAX_LEN 32

typedef struct entry {
    struct entry *next_hash;        /* bucket chain */
    struct entry *prev, *next;      /* recency list */
    uint64_t hash;                  /* of tenant + key */
    int64_t expires;                /* CLOCK_MONOTONIC milliseconds */
    size_t len;                     /* value bytes */
    char *tenant, *key, *tag, *val; /* all inside this allocation; tenant "" = directory */
} entry_t;

struct rcache {
    char name[NAME_MAX_LEN];
    pthread_mutex_t mu;
    entry_t **buckets;
    size_t n_buckets, n;
    entry_t *head, *tail;
    uint64_t epoch;
    atomic_int ttl_cap_s;     /* rcache_cap_ttl; 0 = the configured TTL alone */
    bus_t *bus;               /* followed: a reconnect clears */
    unsigned long bus_gen;    /* bus_reconnects() when last checked */
    rcache_event_fn on_event; /* rcache_follow */
    /* counted here, added to the metrics at render (no metrics lock on the request path) */
    unsigned long long hits, misses, invalidations, evictions;
    unsigned long long shown[4];
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static rcache_t *g_caches[RCACHE_MAX];
static int g_n;
static atomic_int g_ttl_s = 300;
static atomic_int g_max = 10000;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t hash_of(const char *tenant, const char *key) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a; the 0x1f separates tenant from key */
    for (const char *s = tenant; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    h = (h ^ 0x1f) * 1099511628211ULL;
    for (const char *s = key; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* ---- list and table, called with c->mu held ---- */

static void list_unlink(rcache_t *c, entry_t *x) {
    if (x->prev)
        x->prev->next = x->next;
    else
        c->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        c->tail = x->prev;
    x->prev = x->next = NULL;
}

static void list_push_front(rcache_t *c, entry_t *x) {
    x->prev = NULL;
    x->next = c->head;
    if (c->head) c->head->prev = x;
    c->head = x;
    if (!c->tail) c->tail = x;
}

static void remove_entry(rcache_t *c, entry_t *x) {
    entry_t **pp = &c->buckets[x->hash % c->n_buckets];
    while (*pp && *pp != x)
        pp = &(*pp)->next_hash;
    if (*pp) *pp = x->next_hash;
    list_unlink(c, x);
    c->n--;
    free(x);
}

static entry_t *find(rcache_t *c, uint64_t h, const char *tenant, const char *key) {
    for (entry_t *x = c->buckets[h % c->n_buckets]; x; x = x->next_hash)
        if (x->hash == h && strcmp(x->key, key) == 0 && strcmp(x->tenant, tenant) == 0) return x;
    return NULL;
}

static void clear_locked(rcache_t *c) {
    while (c->head) {
        remove_entry(c, c->head);
        c->invalidations++;
    }
    c->epoch++;
}

/* A reconnect of the followed bus may have lost events: start afresh. */
static void check_bus(rcache_t *c) {
    if (!c->bus) return;
    unsigned long gen = bus_reconnects(c->bus);
    if (gen == c->bus_gen) return;
    c->bus_gen = gen;
    clear_locked(c);
}

/* ---- metrics ---- */

static void render(void *ud) {
    (void)ud;
    static const char *const names[] = {"cache_hits_total", "cache_misses_total",
                                        "cache_invalidations_total", "cache_evictions_total"};
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_n; i++) {
        rcache_t *c = g_caches[i];
        const char *lv[] = {c->name, NULL};
        pthread_mutex_lock(&c->mu);
        unsigned long long now[4] = {c->hits, c->misses, c->invalidations, c->evictions};
        size_t n = c->n;
        double delta[4];
        for (int k = 0; k < 4; k++) {
            delta[k] = (double)(now[k] - c->shown[k]);
            c->shown[k] = now[k];
        }
        pthread_mutex_unlock(&c->mu);
        for (int k = 0; k < 4; k++)
            metrics_counter_add(names[k], lv, delta[k]);
        metrics_gauge_set("cache_entries", lv, (double)n);
    }
    pthread_mutex_unlock(&g_mu);
}

static void declare_metrics(void) {
    metrics_counter_declare("cache_hits_total", "Read cache lookups answered from the cache",
                            "cache");
    metrics_counter_declare("cache_misses_total", "Read cache lookups that went to the database",
                            "cache");
    metrics_counter_declare("cache_invalidations_total",
                            "Read cache entries dropped by an event, an expiry or a reconnect",
                            "cache");
    metrics_counter_declare(
        "cache_evictions_total",
        "Read cache entries dropped to stay within RECIPROCAL_CACHE_MAX_ENTRIES", "cache");
    metrics_gauge_declare("cache_entries", "Read cache entries held", "cache");
    metrics_on_render(render, NULL);
}

/* ---- public ---- */

void rcache_configure(int ttl_s, int max_entries) {
    atomic_store(&g_ttl_s, ttl_s < 0 ? 0 : ttl_s);
    atomic_store(&g_max, max_entries < 1 ? 1 : max_entries);
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_n; i++)
        rcache_clear(g_caches[i]);
    pthread_mutex_unlock(&g_mu);
}

rcache_t *rcache_named(const char *name) {
    rcache_t *c = NULL;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_n; i++)
        if (strcmp(g_caches[i]->name, name) == 0) {
            c = g_caches[i];
            goto done;
        }
    if (g_n == RCACHE_MAX || strlen(name) >= NAME_MAX_LEN) goto done;
    c = calloc(1, sizeof *c);
    if (!c) goto done;
    c->n_buckets = 1024;
    c->buckets = calloc(c->n_buckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        c = NULL;
        goto done;
    }
    pthread_mutex_init(&c->mu, NULL);
    strcpy(c->name, name);
    if (g_n == 0) declare_metrics();
    g_caches[g_n++] = c;
done:
    pthread_mutex_unlock(&g_mu);
    return c;
}

static char *on_message(const char *subject, const char *data, size_t len, size_t *reply_len,
                        void *ud) {
    (void)reply_len;
    rcache_t *c = ud;
    json_t *env = json_loadb(data, len, 0, NULL);
    if (!env) log_warn("rcache %s: unreadable event on %s", c->name, subject);
    c->on_event(c, subject, env);
    json_decref(env);
    return NULL;
}

rcache_t *rcache_at(rcache_slot_t *slot, const char *name) {
    rcache_t *v = atomic_load(slot);
    if (!v) atomic_store(slot, v = rcache_named(name)); /* rcache_named: one cache per name */
    return v;
}

void rcache_drop_tenant(rcache_t *c, const char *subject, const json_t *envelope) {
    (void)subject;
    const char *tenant = json_string_value(json_object_get(envelope, "tenant_id"));
    if (tenant)
        rcache_invalidate(c, tenant, NULL);
    else
        rcache_clear(c); /* unreadable: any tenant may have changed */
}

int rcache_follow(rcache_t *c, bus_t *bus, const char *const *subjects, rcache_event_fn fn,
                  err_t *e) {
    if (!c || !fn) return err_set(e, 500, "internal", "", "rcache_follow: a cache and a handler");
    if (!bus) return 0;
    pthread_mutex_lock(&c->mu);
    int already = c->bus != NULL;
    if (!already) {
        c->bus = bus;
        c->on_event = fn;
        c->bus_gen = bus_reconnects(bus);
    }
    pthread_mutex_unlock(&c->mu);
    if (already) return 0;
    for (const char *const *s = subjects; s && *s; s++)
        if (bus_subscribe(bus, *s, on_message, c, e) != 0) return -1;
    return 0;
}

uint64_t rcache_epoch(rcache_t *c) {
    pthread_mutex_lock(&c->mu);
    check_bus(c);
    uint64_t ep = c->epoch;
    pthread_mutex_unlock(&c->mu);
    return ep;
}

int rcache_get(rcache_t *c, const char *tenant, const char *key, char **val, size_t *len) {
    uint64_t h = hash_of(tenant ? tenant : "", key);
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    check_bus(c);
    entry_t *x = find(c, h, tenant ? tenant : "", key);
    if (x && x->expires <= now_ms()) {
        remove_entry(c, x);
        c->invalidations++;
        x = NULL;
    }
    if (x && (*val = malloc(x->len + 1)) != NULL) {
        memcpy(*val, x->val, x->len + 1);
        *len = x->len;
        list_unlink(c, x);
        list_push_front(c, x);
        hit = 1;
    }
    if (hit)
        c->hits++;
    else
        c->misses++;
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void rcache_put(rcache_t *c, const char *tenant, const char *key, const char *tag, const char *val,
                size_t len, uint64_t epoch) {
    int ttl = atomic_load(&g_ttl_s), max = atomic_load(&g_max), cap = atomic_load(&c->ttl_cap_s);
    if (ttl == 0) return;
    if (cap > 0 && cap < ttl) ttl = cap;
    tenant = tenant ? tenant : "";
    tag = tag ? tag : key;
    size_t lt = strlen(tenant) + 1, lk = strlen(key) + 1, lg = strlen(tag) + 1;
    entry_t *x = malloc(sizeof *x + lt + lk + lg + len + 1);
    if (!x) return;
    *x = (entry_t){
        .hash = hash_of(tenant, key), .expires = now_ms() + (int64_t)ttl * 1000, .len = len};
    x->tenant = (char *)(x + 1);
    x->key = x->tenant + lt;
    x->tag = x->key + lk;
    x->val = x->tag + lg;
    memcpy(x->tenant, tenant, lt);
    memcpy(x->key, key, lk);
    memcpy(x->tag, tag, lg);
    memcpy(x->val, val, len);
    x->val[len] = 0;
    pthread_mutex_lock(&c->mu);
    check_bus(c);
    if (c->epoch != epoch) { /* invalidated while the caller read the row: it may be stale */
        pthread_mutex_unlock(&c->mu);
        free(x);
        return;
    }
    entry_t *old = find(c, x->hash, tenant, key);
    if (old) remove_entry(c, old);
    while (c->n >= (size_t)max && c->tail) {
        remove_entry(c, c->tail);
        c->evictions++;
    }
    x->next_hash = c->buckets[x->hash % c->n_buckets];
    c->buckets[x->hash % c->n_buckets] = x;
    list_push_front(c, x);
    c->n++;
    pthread_mutex_unlock(&c->mu);
}

void rcache_invalidate(rcache_t *c, const char *tenant, const char *tag) {
    tenant = tenant ? tenant : "";
    pthread_mutex_lock(&c->mu);
    for (entry_t *x = c->head, *next; x; x = next) {
        next = x->next;
        if (strcmp(x->tenant, tenant) == 0 && (!tag || strcmp(x->tag, tag) == 0)) {
            remove_entry(c, x);
            c->invalidations++;
        }
    }
    c->epoch++;
    pthread_mutex_unlock(&c->mu);
}

void rcache_clear(rcache_t *c) {
    pthread_mutex_lock(&c->mu);
    clear_locked(c);
    pthread_mutex_unlock(&c->mu);
}

void rcache_cap_ttl(rcache_t *c, int ttl_s) {
    atomic_store(&c->ttl_cap_s, ttl_s < 0 ? 0 : ttl_s);
}

size_t rcache_size(rcache_t *c) {
    pthread_mutex_lock(&c->mu);
    size_t n = c->n;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void rcache_free_all(void) {
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_n; i++) {
        rcache_t *c = g_caches[i];
        clear_locked(c);
        free(c->buckets);
        pthread_mutex_destroy(&c->mu);
        free(c);
        g_caches[i] = NULL;
    }
    g_n = 0;
    pthread_mutex_unlock(&g_mu);
}
