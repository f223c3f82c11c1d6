/* fees: see fees.h. */
#include "services/reciprocal/fees.h"

#include <stdio.h>
#include <string.h>

static const fee_tier_t k_default[] = {{168, 0}, {48, 25}, {0, 50}};

size_t fees_tiers(const json_t *tiers, fee_tier_t *t) {
    size_t n = 0, i;
    json_t *x;
    json_array_foreach(tiers, i, x) {
        json_t *h = json_object_get(x, "hours_before"), *p = json_object_get(x, "fee_percent");
        if (n == FEES_MAX_TIERS || !json_is_integer(h) || !json_is_integer(p)) continue;
        t[n].hours_before = (long long)json_integer_value(h);
        t[n].percent = (int)json_integer_value(p);
        n++;
    }
    if (n > 0) return n;
    memcpy(t, k_default, sizeof k_default);
    return sizeof k_default / sizeof k_default[0];
}

int fees_cancellation_percent(const fee_tier_t *t, size_t n, long long seconds_before) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (seconds_before > t[i].hours_before * 3600) return t[i].percent;
    return t[n - 1].percent;
}

long long fees_percent_of(long long base, int percent) {
    long long x = base * percent;
    return x >= 0 ? (x + 50) / 100 : -((-x + 50) / 100);
}

long long fees_day_fee(const json_t *fees) {
    long long room = (long long)json_integer_value(json_object_get(fees, "room_rate"));
    return room > 0 ? room : (long long)json_integer_value(json_object_get(fees, "entry"));
}

int fees_exponent(const char *currency) {
    static const char *const zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                       "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                                       "VND", "VUV", "XAF", "XOF", "XPF", NULL};
    static const char *const three[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND", NULL};
    static const char *const four[] = {"CLF", "UYW", NULL};
    if (!currency) return 2;
    for (const char *const *p = zero; *p; p++)
        if (strcmp(*p, currency) == 0) return 0;
    for (const char *const *p = three; *p; p++)
        if (strcmp(*p, currency) == 0) return 3;
    for (const char *const *p = four; *p; p++)
        if (strcmp(*p, currency) == 0) return 4;
    return 2;
}

char *fees_format(long long minor, const char *currency, char *buf, size_t cap) {
    int exp = fees_exponent(currency);
    unsigned long long a =
        minor < 0 ? (unsigned long long)(-(minor + 1)) + 1ULL : (unsigned long long)minor;
    unsigned long long div = 1;
    for (int i = 0; i < exp; i++)
        div *= 10;
    if (exp == 0)
        snprintf(buf, cap, "%s%llu", minor < 0 ? "-" : "", a);
    else
        snprintf(buf, cap, "%s%llu.%0*llu", minor < 0 ? "-" : "", a / div, exp, a % div);
    return buf;
}
