/* Unit tests for core/uuid: the canonical lower-case 8-4-4-4-12 form, the version nibble 4 and
 * the RFC variant bits in every id, every other bit taking both values, no repeat over many ids
 * (also from several threads at once). */
#include "core/uuid.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "test.h"

#define MANY 100000
#define THREADS 4
#define PER_THREAD 5000

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 1 when s is canonical lower-case text of a version 4, RFC variant UUID */
static int is_v4(const char *s) {
    if (strlen(s) != 36 || !jsonx_is_uuid(s)) return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) continue;
        if (hexval(s[i]) < 0) return 0; /* lower case only */
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

static void test_format_version_variant(void) {
    char id[UUID_STR_LEN];
    memset(id, 'x', sizeof id);
    uuid_v4(id);
    CHECK_EQ_INT(strlen(id), UUID_STR_LEN - 1);
    CHECK(id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-');
    for (int i = 0; i < 1000; i++) {
        uuid_v4(id);
        if (!is_v4(id)) {
            printf("#   not a canonical v4 uuid: %s\n", id);
            CHECK(0);
            break;
        }
    }
}

/* Over many ids each of the 122 random bits is seen both 0 and 1; the 6 fixed ones never move. */
static void test_random_bits(void) {
    unsigned char seen0[16] = {0}, seen1[16] = {0};
    char id[UUID_STR_LEN];
    for (int n = 0; n < 2000; n++) {
        uuid_v4(id);
        for (int i = 0, o = 0; i < 16; i++, o += 2) {
            if (id[o] == '-') o++;
            unsigned char b = (unsigned char)(hexval(id[o]) << 4 | hexval(id[o + 1]));
            seen1[i] |= b;
            seen0[i] |= (unsigned char)~b;
        }
    }
    for (int i = 0; i < 16; i++) {
        unsigned char fixed = i == 6 ? 0xf0 : i == 8 ? 0xc0 : 0;
        CHECK_EQ_INT(seen1[i] & seen0[i], 0xff & ~fixed); /* the others took both values */
    }
    CHECK_EQ_INT(seen1[6] & 0xf0, 0x40);
    CHECK_EQ_INT(seen0[6] & 0xf0, 0xb0);
    CHECK_EQ_INT(seen1[8] & 0xc0, 0x80);
    CHECK_EQ_INT(seen0[8] & 0xc0, 0x40);
}

static int cmp_id(const void *a, const void *b) {
    return memcmp(a, b, UUID_STR_LEN);
}

static void test_unique_over_many(void) {
    char(*ids)[UUID_STR_LEN] = malloc((size_t)MANY * UUID_STR_LEN);
    CHECK(ids != NULL);
    if (!ids) return;
    for (int i = 0; i < MANY; i++)
        uuid_v4(ids[i]);
    qsort(ids, MANY, UUID_STR_LEN, cmp_id);
    int repeats = 0;
    for (int i = 1; i < MANY; i++)
        repeats += memcmp(ids[i - 1], ids[i], UUID_STR_LEN) == 0;
    CHECK_EQ_INT(repeats, 0);
    free(ids);
}

static char t_ids[THREADS * PER_THREAD][UUID_STR_LEN];

static void *make_ids(void *arg) {
    char(*out)[UUID_STR_LEN] = arg;
    for (int i = 0; i < PER_THREAD; i++)
        uuid_v4(out[i]);
    return NULL;
}

/* The first calls race (libsodium starts once); every id still valid and distinct. */
static void test_threads(void) {
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ_INT(pthread_create(&t[i], NULL, make_ids, t_ids[i * PER_THREAD]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    int bad = 0, repeats = 0;
    for (int i = 0; i < THREADS * PER_THREAD; i++)
        bad += !is_v4(t_ids[i]);
    qsort(t_ids, THREADS * PER_THREAD, UUID_STR_LEN, cmp_id);
    for (int i = 1; i < THREADS * PER_THREAD; i++)
        repeats += memcmp(t_ids[i - 1], t_ids[i], UUID_STR_LEN) == 0;
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(repeats, 0);
}

int main(void) {
    RUN(test_threads); /* first: the racing first calls start libsodium */
    RUN(test_format_version_variant);
    RUN(test_random_bits);
    RUN(test_unique_over_many);
    TEST_DONE();
}
