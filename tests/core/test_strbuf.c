/* Unit tests for core/strbuf. */
#include "core/strbuf.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

static void test_append_and_take(void) {
    strbuf_t b = {0};
    strbuf_puts(&b, "abc");
    strbuf_putn(&b, "defXYZ", 3);
    strbuf_printf(&b, "-%d-%s", 42, "x");
    CHECK_EQ_INT(b.len, strlen("abcdef-42-x"));
    char *s = strbuf_take(&b);
    CHECK_STR(s, "abcdef-42-x");
    CHECK(b.p == NULL && b.len == 0);
    free(s);
}

static void test_grows_past_initial_capacity(void) {
    strbuf_t b = {0};
    for (int i = 0; i < 10000; i++)
        strbuf_printf(&b, "%04d", i % 10000);
    CHECK_EQ_INT(b.len, 40000);
    CHECK(memcmp(b.p + 39996, "9999", 4) == 0);
    CHECK_EQ_INT(b.p[b.len], '\0');
    strbuf_free(&b);
    CHECK(b.p == NULL);
}

static void test_empty_take_is_empty_string(void) {
    strbuf_t b = {0};
    char *s = strbuf_take(&b);
    CHECK_STR(s, "");
    free(s);
}

static void test_oom_is_sticky(void) {
    strbuf_t b = {0};
    strbuf_puts(&b, "ok");
    b.oom = 1; /* as after a failed realloc */
    strbuf_puts(&b, "ignored");
    CHECK_EQ_INT(b.len, 2);
    CHECK(strbuf_take(&b) == NULL);
}

int main(void) {
    RUN(test_append_and_take);
    RUN(test_grows_past_initial_capacity);
    RUN(test_empty_take_is_empty_string);
    RUN(test_oom_is_sticky);
    TEST_DONE();
}
