/* Unit tests of fees (src/services/reciprocal/fees.c): the cancellation tiers at every boundary
 * (defaults and an agreement's own), evaluated on the host's wall clock across time zones and
 * both DST changes (the instants are converted with the system tz database, TZ set per case:
 * this test is single-threaded), rounding of percentages, the day fee, and amounts in 0-, 2- and
 * 3-decimal currencies. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "services/reciprocal/fees.h"
#include "test.h"

#define H 3600LL

static time_t utc(int y, int mo, int d, int h, int mi, int s) {
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return timegm(&tm);
}

/* The wall-clock seconds of instant t in tz (what PostgreSQL's t AT TIME ZONE tz gives). */
static long long wall(time_t t, const char *tz) {
    struct tm tm;
    setenv("TZ", tz, 1);
    tzset();
    localtime_r(&t, &tm);
    return (long long)timegm(&tm);
}

/* The fee percent (default tiers) of a cancellation at instant t for arrival on y-mo-d in tz. */
static int pct_at(time_t t, const char *tz, int y, int mo, int d) {
    fee_tier_t tiers[FEES_MAX_TIERS];
    size_t n = fees_tiers(NULL, tiers);
    long long arrive = (long long)utc(y, mo, d, 0, 0, 0); /* local midnight as wall seconds */
    return fees_cancellation_percent(tiers, n, arrive - wall(t, tz));
}

static void test_default_boundaries(void) {
    fee_tier_t t[FEES_MAX_TIERS];
    size_t n = fees_tiers(NULL, t);
    CHECK_EQ_INT(n, 3);
    json_t *empty = json_array();
    CHECK_EQ_INT(fees_tiers(empty, t), 3);
    json_decref(empty);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 30 * 24 * H), 0);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 168 * H + 1), 0);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 168 * H), 25); /* 7 days exactly: 25 % */
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 168 * H - 1), 25);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 48 * H + 1), 25);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 48 * H), 50); /* not more than 48 h */
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 48 * H - 1), 50);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 1), 50);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 0), 50);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, -5 * H), 50); /* after arrival */
    CHECK_EQ_INT(fees_cancellation_percent(t, 0, 5), 0);
}

static void test_agreement_tiers(void) {
    json_t *j = json_loads("[{\"hours_before\":72,\"fee_percent\":10},{\"hours_before\":24,"
                           "\"fee_percent\":80},{\"hours_before\":0,\"fee_percent\":100}]",
                           0, NULL);
    fee_tier_t t[FEES_MAX_TIERS];
    size_t n = fees_tiers(j, t);
    json_decref(j);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 1000 * H), 10); /* first tier applies above */
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 72 * H + 1), 10);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 72 * H), 80);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 24 * H + 1), 80);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 24 * H), 100);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, -1), 100);
    /* one flat tier */
    j = json_loads("[{\"hours_before\":12,\"fee_percent\":30}]", 0, NULL);
    n = fees_tiers(j, t);
    json_decref(j);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 100 * H), 30);
    CHECK_EQ_INT(fees_cancellation_percent(t, n, 0), 30);
}

/* The same instant is a different number of hours before arrival at hosts in other zones. */
static void test_time_zones(void) {
    /* 2030-06-08T00:00Z; arrival 2030-06-10 local */
    time_t t = utc(2030, 6, 8, 0, 0, 0);
    CHECK_EQ_INT(pct_at(t, "UTC", 2030, 6, 10), 50);                 /* 48 h exactly */
    CHECK_EQ_INT(pct_at(t, "Asia/Tokyo", 2030, 6, 10), 50);          /* 09:00 local: 39 h */
    CHECK_EQ_INT(pct_at(t, "America/Los_Angeles", 2030, 6, 10), 25); /* 17:00 the 7th: 55 h */
    /* the 7-day edge one second apart, in Sydney (UTC+10 in June) */
    time_t seven = utc(2030, 6, 2, 14, 0, 0); /* 2030-06-03 00:00 AEST: 7 days before the 10th */
    CHECK_EQ_INT(pct_at(seven, "Australia/Sydney", 2030, 6, 10), 25);
    CHECK_EQ_INT(pct_at(seven - 1, "Australia/Sydney", 2030, 6, 10), 0);
}

/* DST: the hours are the host's wall-clock hours, not elapsed hours. */
static void test_dst(void) {
    /* London springs forward 2030-03-31 01:00Z. Arrival 2030-04-01 (00:00 BST = 03-31T23:00Z).
     * At 2030-03-30T00:00Z (00:00 GMT) the wall clock says 48 h before (50 %) though 47 h
     * elapse; one second earlier it is more than 48 h (25 %). */
    CHECK_EQ_INT(pct_at(utc(2030, 3, 30, 0, 0, 0), "Europe/London", 2030, 4, 1), 50);
    CHECK_EQ_INT(pct_at(utc(2030, 3, 29, 23, 59, 59), "Europe/London", 2030, 4, 1), 25);
    /* London falls back 2030-10-27 01:00Z. Arrival 2030-10-28 (00:00 GMT = 00:00Z). At
     * 2030-10-25T23:00Z (00:00 BST on the 26th) the wall clock says 48 h (50 %) though 49 h
     * elapse; at 22:59:59Z more than 48 h (25 %). */
    CHECK_EQ_INT(pct_at(utc(2030, 10, 25, 23, 0, 0), "Europe/London", 2030, 10, 28), 50);
    CHECK_EQ_INT(pct_at(utc(2030, 10, 25, 22, 59, 59), "Europe/London", 2030, 10, 28), 25);
    /* New York springs forward 2030-03-10 07:00Z; arrival 2030-03-17: 7 days of wall clock
     * before is 2030-03-10 00:00 EST = 05:00Z (167 elapsed hours) */
    CHECK_EQ_INT(pct_at(utc(2030, 3, 10, 5, 0, 0), "America/New_York", 2030, 3, 17), 25);
    CHECK_EQ_INT(pct_at(utc(2030, 3, 10, 4, 59, 59), "America/New_York", 2030, 3, 17), 0);
    /* an arrival on the changeover day itself: midnight exists on both changes in London */
    CHECK_EQ_INT(pct_at(utc(2030, 3, 29, 0, 0, 0), "Europe/London", 2030, 3, 31), 50);
    CHECK_EQ_INT(pct_at(utc(2030, 3, 28, 23, 59, 59), "Europe/London", 2030, 3, 31), 25);
}

static void test_amounts(void) {
    CHECK_EQ_INT(fees_percent_of(10000, 25), 2500);
    CHECK_EQ_INT(fees_percent_of(333, 50), 167); /* 166.5 rounds up */
    CHECK_EQ_INT(fees_percent_of(331, 50), 166); /* 165.5 rounds up */
    CHECK_EQ_INT(fees_percent_of(-333, 50), -167);
    CHECK_EQ_INT(fees_percent_of(12345, 100), 12345);
    CHECK_EQ_INT(fees_percent_of(12345, 0), 0);
    json_t *f =
        json_loads("{\"currency\":\"GBP\",\"entry\":1500,\"guest\":500,\"room_rate\":0}", 0, NULL);
    CHECK_EQ_INT(fees_day_fee(f), 1500);
    json_object_set_new(f, "room_rate", json_integer(12000));
    CHECK_EQ_INT(fees_day_fee(f), 12000);
    json_decref(f);
    char b[40];
    CHECK_EQ_INT(fees_exponent("JPY"), 0);
    CHECK_EQ_INT(fees_exponent("BHD"), 3);
    CHECK_EQ_INT(fees_exponent("GBP"), 2);
    CHECK_EQ_INT(fees_exponent("CLF"), 4);
    CHECK_STR(fees_format(123450, "GBP", b, sizeof b), "1234.50");
    CHECK_STR(fees_format(5, "GBP", b, sizeof b), "0.05");
    CHECK_STR(fees_format(-5, "GBP", b, sizeof b), "-0.05");
    CHECK_STR(fees_format(0, "EUR", b, sizeof b), "0.00");
    CHECK_STR(fees_format(1500, "JPY", b, sizeof b), "1500");
    CHECK_STR(fees_format(-1500, "JPY", b, sizeof b), "-1500");
    CHECK_STR(fees_format(1234567, "BHD", b, sizeof b), "1234.567");
    CHECK_STR(fees_format(-7, "BHD", b, sizeof b), "-0.007");
    CHECK_STR(fees_format(-9223372036854775807LL - 1, "GBP", b, sizeof b), "-92233720368547758.08");
}

int main(void) {
    RUN(test_default_boundaries);
    RUN(test_agreement_tiers);
    RUN(test_time_zones);
    RUN(test_dst);
    RUN(test_amounts);
    TEST_DONE();
}
