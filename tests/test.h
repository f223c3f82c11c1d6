/* test: a tiny unit-test framework. Each test binary prints one line per check that fails
 * ("not ok ...") and one line per test ("ok N - name" / "not ok N - name"); tests/run.sh counts
 * the test lines of every binary and prints the closing "N passed, N failed" line. */
#ifndef TESTS_TEST_H
#define TESTS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed_checks_;
static int test_current_failed_;
static int test_count_, test_passes_, test_fails_;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stdout, "#   check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);          \
            test_current_failed_ = 1;                                                              \
            test_failed_checks_++;                                                                 \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stdout, "#   check failed: %s == %s (%lld != %lld) (%s:%d)\n", #a, #b, a_, b_, \
                    __FILE__, __LINE__);                                                           \
            test_current_failed_ = 1;                                                              \
            test_failed_checks_++;                                                                 \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            fprintf(stdout, "#   check failed: %s == %s (\"%s\" != \"%s\") (%s:%d)\n", #a, #b,     \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)", __FILE__, __LINE__);                   \
            test_current_failed_ = 1;                                                              \
            test_failed_checks_++;                                                                 \
        }                                                                                          \
    } while (0)

/* Stops the current test function (use after a check whose failure makes the rest moot). */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stdout, "#   required: %s (%s:%d)\n", #cond, __FILE__, __LINE__);              \
            test_current_failed_ = 1;                                                              \
            test_failed_checks_++;                                                                 \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        test_current_failed_ = 0;                                                                  \
        test_count_++;                                                                             \
        fflush(stdout);                                                                            \
        fn();                                                                                      \
        if (test_current_failed_) {                                                                \
            test_fails_++;                                                                         \
            fprintf(stdout, "not ok %d - %s\n", test_count_, #fn);                                 \
        } else {                                                                                   \
            test_passes_++;                                                                        \
            fprintf(stdout, "ok %d - %s\n", test_count_, #fn);                                     \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

/* Skip a test when its environment is missing; counts as a failure so CI can't go green by
 * skipping (tests/run.sh always provides the environment). */
#define TEST_ENV(name) test_env_(name)
static inline const char *test_env_(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stdout, "#   missing environment variable %s (run through tests/run.sh)\n", name);
        test_current_failed_ = 1;
        test_failed_checks_++;
        return NULL;
    }
    return v;
}

#define TEST_DONE()                                                                                \
    do {                                                                                           \
        fprintf(stdout, "# %d passed, %d failed\n", test_passes_, test_fails_);                    \
        return test_fails_ ? 1 : 0;                                                                \
    } while (0)

#endif
