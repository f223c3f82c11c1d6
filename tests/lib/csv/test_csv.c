/* test_csv: lib/csv's RFC 4180 field writer: plain fields as they are, quoting of comma, quote,
 * CR and LF with quotes doubled, NULL as the empty field, the formula guard only with CSV_TEXT,
 * non-ASCII bytes untouched. */
#include <stdlib.h>

#include "lib/csv/csv.h"
#include "test.h"

static char *field(const char *v, int flags) {
    strbuf_t b = {0};
    csv_put_field(&b, v, flags);
    return strbuf_take(&b);
}

#define CHECK_FIELD(v, flags, want)                                                                \
    do {                                                                                           \
        char *got_ = field(v, flags);                                                              \
        CHECK_STR(got_, want);                                                                     \
        free(got_);                                                                                \
    } while (0)

static void test_plain_and_quoted(void) {
    CHECK_FIELD("abc", 0, "abc");
    CHECK_FIELD("", 0, "");
    CHECK_FIELD(NULL, 0, "");
    CHECK_FIELD("a,b", 0, "\"a,b\"");
    CHECK_FIELD("say \"hi\"", 0, "\"say \"\"hi\"\"\"");
    CHECK_FIELD("two\r\nlines", 0, "\"two\r\nlines\"");
    CHECK_FIELD("Zürich & <Co>", 0, "Zürich & <Co>");
}

static void test_formula_guard(void) {
    CHECK_FIELD("-12", 0, "-12");
    CHECK_FIELD("=1+1", 0, "=1+1");
    CHECK_FIELD("=1+1", CSV_TEXT, "\"'=1+1\"");
    CHECK_FIELD("+31 20", CSV_TEXT, "\"'+31 20\"");
    CHECK_FIELD("@SUM(A1)", CSV_TEXT, "\"'@SUM(A1)\"");
    CHECK_FIELD("-x,y", CSV_TEXT, "\"'-x,y\"");
    CHECK_FIELD("\tTab", CSV_TEXT, "\"'\tTab\"");
    CHECK_FIELD("Club = fun", CSV_TEXT, "Club = fun");
}

int main(void) {
    RUN(test_plain_and_quoted);
    RUN(test_formula_guard);
    TEST_DONE();
}
