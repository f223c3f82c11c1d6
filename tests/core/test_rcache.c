/* test_rcache: core/rcache — hits and misses, tenancy (one club's entry never answers another
 * club's lookup), invalidation by tag and tenant, the bound (least recently used evicted), the
 * TTL, the fill/invalidation race (epoch), concurrent use, and the metrics. No database. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/metrics.h"
#include "core/rcache.h"
#include "test.h"

#define CLUB_A "00000000-0000-4000-8000-00000000000a"
#define CLUB_B "00000000-0000-4000-8000-00000000000b"

static int get_str(rcache_t *c, const char *tenant, const char *key, char *buf, size_t cap) {
    char *v = NULL;
    size_t n = 0;
    if (!rcache_get(c, tenant, key, &v, &n)) return 0;
    snprintf(buf, cap, "%s", v);
    int ok = strlen(v) == n;
    free(v);
    return ok ? 1 : -1;
}

static void put_str(rcache_t *c, const char *tenant, const char *key, const char *tag,
                    const char *v) {
    rcache_put(c, tenant, key, tag, v, strlen(v), rcache_epoch(c));
}

static void test_hit_and_miss(void) {
    rcache_t *c = rcache_named("t_basic");
    REQUIRE(c != NULL);
    CHECK(rcache_named("t_basic") == c);
    char buf[64];
    CHECK_EQ_INT(get_str(c, NULL, "k", buf, sizeof buf), 0);
    put_str(c, NULL, "k", NULL, "{\"a\":1}");
    CHECK_EQ_INT(get_str(c, NULL, "k", buf, sizeof buf), 1);
    CHECK_STR(buf, "{\"a\":1}");
    put_str(c, NULL, "k", NULL, "{\"a\":2}"); /* replaces */
    CHECK_EQ_INT(get_str(c, NULL, "k", buf, sizeof buf), 1);
    CHECK_STR(buf, "{\"a\":2}");
    CHECK_EQ_INT(rcache_size(c), 1);
    rcache_clear(c);
    CHECK_EQ_INT(get_str(c, NULL, "k", buf, sizeof buf), 0);
}

/* The same key stored for club A is never found by club B's (or a directory) lookup. */
static void test_tenancy(void) {
    rcache_t *c = rcache_named("t_tenancy");
    REQUIRE(c != NULL);
    char buf[64];
    put_str(c, CLUB_A, "terms:x", NULL, "A's row");
    CHECK_EQ_INT(get_str(c, CLUB_B, "terms:x", buf, sizeof buf), 0);
    CHECK_EQ_INT(get_str(c, NULL, "terms:x", buf, sizeof buf), 0);
    CHECK_EQ_INT(get_str(c, "", "terms:x", buf, sizeof buf), 0);
    CHECK_EQ_INT(get_str(c, CLUB_A, "terms:x", buf, sizeof buf), 1);
    CHECK_STR(buf, "A's row");
    put_str(c, CLUB_B, "terms:x", NULL, "B's row");
    CHECK_EQ_INT(get_str(c, CLUB_B, "terms:x", buf, sizeof buf), 1);
    CHECK_STR(buf, "B's row");
    CHECK_EQ_INT(get_str(c, CLUB_A, "terms:x", buf, sizeof buf), 1);
    CHECK_STR(buf, "A's row");
    /* a tenant that is a prefix of tenant + key does not collide ("a" + "bc" vs "ab" + "c") */
    put_str(c, "a", "bc", NULL, "1");
    CHECK_EQ_INT(get_str(c, "ab", "c", buf, sizeof buf), 0);
    /* invalidating B leaves A */
    rcache_invalidate(c, CLUB_B, NULL);
    CHECK_EQ_INT(get_str(c, CLUB_B, "terms:x", buf, sizeof buf), 0);
    CHECK_EQ_INT(get_str(c, CLUB_A, "terms:x", buf, sizeof buf), 1);
}

static void test_invalidate_by_tag(void) {
    rcache_t *c = rcache_named("t_tag");
    REQUIRE(c != NULL);
    char buf[64];
    put_str(c, NULL, "id:1", "club1", "one");
    put_str(c, NULL, "slug:one", "club1", "one");
    put_str(c, NULL, "id:2", "club2", "two");
    rcache_invalidate(c, NULL, "club1");
    CHECK_EQ_INT(get_str(c, NULL, "id:1", buf, sizeof buf), 0);
    CHECK_EQ_INT(get_str(c, NULL, "slug:one", buf, sizeof buf), 0);
    CHECK_EQ_INT(get_str(c, NULL, "id:2", buf, sizeof buf), 1);
    CHECK_EQ_INT(rcache_size(c), 1);
}

/* A fill that read its row before an invalidation stores nothing. */
static void test_epoch_race(void) {
    rcache_t *c = rcache_named("t_epoch");
    REQUIRE(c != NULL);
    char buf[64];
    uint64_t ep = rcache_epoch(c);
    rcache_invalidate(c, NULL, "club1"); /* the change commits while the reader is in SQL */
    rcache_put(c, NULL, "id:1", "club1", "old", 3, ep);
    CHECK_EQ_INT(get_str(c, NULL, "id:1", buf, sizeof buf), 0);
    ep = rcache_epoch(c);
    rcache_put(c, NULL, "id:1", "club1", "new", 3, ep);
    CHECK_EQ_INT(get_str(c, NULL, "id:1", buf, sizeof buf), 1);
    CHECK_STR(buf, "new");
}

static void test_bound_lru(void) {
    rcache_configure(300, 3);
    rcache_t *c = rcache_named("t_bound");
    REQUIRE(c != NULL);
    char buf[64];
    put_str(c, NULL, "a", NULL, "1");
    put_str(c, NULL, "b", NULL, "2");
    put_str(c, NULL, "c", NULL, "3");
    CHECK_EQ_INT(get_str(c, NULL, "a", buf, sizeof buf), 1); /* a is now the most recent */
    put_str(c, NULL, "d", NULL, "4");                        /* evicts b */
    CHECK_EQ_INT(rcache_size(c), 3);
    CHECK_EQ_INT(get_str(c, NULL, "b", buf, sizeof buf), 0);
    CHECK_EQ_INT(get_str(c, NULL, "a", buf, sizeof buf), 1);
    CHECK_EQ_INT(get_str(c, NULL, "c", buf, sizeof buf), 1);
    CHECK_EQ_INT(get_str(c, NULL, "d", buf, sizeof buf), 1);
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        put_str(c, NULL, k, NULL, k);
    }
    CHECK_EQ_INT(rcache_size(c), 3);
    rcache_configure(300, 10000);
}

static void test_ttl(void) {
    rcache_configure(1, 10000);
    rcache_t *c = rcache_named("t_ttl");
    REQUIRE(c != NULL);
    char buf[64];
    put_str(c, NULL, "k", NULL, "v");
    CHECK_EQ_INT(get_str(c, NULL, "k", buf, sizeof buf), 1);
    usleep(1200 * 1000);
    CHECK_EQ_INT(get_str(c, NULL, "k", buf, sizeof buf), 0);
    CHECK_EQ_INT(rcache_size(c), 0);
    rcache_configure(0, 10000); /* 0 = off: nothing is stored */
    put_str(c, NULL, "k", NULL, "v");
    CHECK_EQ_INT(get_str(c, NULL, "k", buf, sizeof buf), 0);
    rcache_configure(300, 10000);
}

/* rcache_cap_ttl: one cache's entries live at most its cap (the others the configured TTL);
 * rcache_drop_tenant drops the event's tenant only, everything on an unreadable event;
 * rcache_at answers the named cache. */
static void test_cap_and_drop(void) {
    static rcache_slot_t slot;
    rcache_t *c = rcache_at(&slot, "t_cap"), *other = rcache_named("t_cap_other");
    REQUIRE(c != NULL && other != NULL);
    CHECK(rcache_at(&slot, "t_cap") == rcache_named("t_cap"));
    char buf[64];
    rcache_cap_ttl(c, 1);
    put_str(c, "a", "k", NULL, "v");
    put_str(other, "a", "k", NULL, "v");
    usleep(1200 * 1000);
    CHECK_EQ_INT(get_str(c, "a", "k", buf, sizeof buf), 0);
    CHECK_EQ_INT(get_str(other, "a", "k", buf, sizeof buf), 1);
    rcache_cap_ttl(c, 0);
    put_str(c, "a", "k", NULL, "v");
    put_str(c, "b", "k", NULL, "v");
    json_t *ev = json_pack("{s:s}", "tenant_id", "a");
    rcache_drop_tenant(c, "events.x", ev);
    json_decref(ev);
    CHECK_EQ_INT(get_str(c, "a", "k", buf, sizeof buf), 0);
    CHECK_EQ_INT(get_str(c, "b", "k", buf, sizeof buf), 1);
    rcache_drop_tenant(c, "events.x", NULL);
    CHECK_EQ_INT(rcache_size(c), 0);
}

static void *hammer(void *ud) {
    rcache_t *c = ud;
    char k[32], *v;
    size_t n;
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof k, "k%d", i % 64);
        if (rcache_get(c, (i & 1) ? CLUB_A : CLUB_B, k, &v, &n)) {
            /* an entry of club A holds "A...", of club B "B..." */
            if (v[0] != ((i & 1) ? 'A' : 'B')) abort();
            free(v);
        } else {
            char val[40];
            snprintf(val, sizeof val, "%c%s", (i & 1) ? 'A' : 'B', k);
            rcache_put(c, (i & 1) ? CLUB_A : CLUB_B, k, NULL, val, strlen(val), rcache_epoch(c));
        }
        if (i % 1000 == 0) rcache_invalidate(c, CLUB_A, NULL);
    }
    return NULL;
}

static void test_threads(void) {
    rcache_configure(300, 100);
    rcache_t *c = rcache_named("t_threads");
    REQUIRE(c != NULL);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, c);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK(rcache_size(c) <= 100);
    rcache_configure(300, 10000);
}

static void test_metrics(void) {
    rcache_t *c = rcache_named("t_metrics");
    REQUIRE(c != NULL);
    char buf[64];
    put_str(c, NULL, "k", NULL, "v");
    get_str(c, NULL, "k", buf, sizeof buf);
    get_str(c, NULL, "k", buf, sizeof buf);
    get_str(c, NULL, "missing", buf, sizeof buf);
    rcache_invalidate(c, NULL, "k");
    char *text = metrics_render();
    REQUIRE(text != NULL);
    CHECK(strstr(text, "cache_hits_total{cache=\"t_metrics\"} 2\n") != NULL);
    CHECK(strstr(text, "cache_misses_total{cache=\"t_metrics\"} 1\n") != NULL);
    CHECK(strstr(text, "cache_invalidations_total{cache=\"t_metrics\"} 1\n") != NULL);
    CHECK(strstr(text, "cache_entries{cache=\"t_metrics\"} 0\n") != NULL);
    free(text);
    get_str(c, NULL, "k", buf, sizeof buf); /* counters only grow: +1 miss */
    text = metrics_render();
    REQUIRE(text != NULL);
    CHECK(strstr(text, "cache_misses_total{cache=\"t_metrics\"} 2\n") != NULL);
    CHECK(strstr(text, "cache_hits_total{cache=\"t_metrics\"} 2\n") != NULL);
    free(text);
}

int main(void) {
    RUN(test_hit_and_miss);
    RUN(test_tenancy);
    RUN(test_invalidate_by_tag);
    RUN(test_epoch_race);
    RUN(test_bound_lru);
    RUN(test_ttl);
    RUN(test_cap_and_drop);
    RUN(test_threads);
    RUN(test_metrics);
    rcache_free_all();
    TEST_DONE();
}
