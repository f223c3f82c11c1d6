/* icu_fmt: see icu_fmt.h. */
#include "services/notification/icu_fmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unicode/ucurr.h>
#include <unicode/udat.h>
#include <unicode/uloc.h>
#include <unicode/unum.h>
#include <unicode/ustring.h>

#define FMT_CAP 160

/* BCP 47 tag -> ICU locale id ("de-DE" -> "de_DE"). */
static void icu_locale(const char *tag, char out[ULOC_FULLNAME_CAPACITY]) {
    UErrorCode st = U_ZERO_ERROR;
    int32_t parsed = 0;
    uloc_forLanguageTag(tag && *tag ? tag : "en", out, ULOC_FULLNAME_CAPACITY, &parsed, &st);
    if (U_FAILURE(st) || !out[0]) snprintf(out, ULOC_FULLNAME_CAPACITY, "en");
}

static int to_utf8(const UChar *u, int32_t n, char *out, size_t cap) {
    UErrorCode st = U_ZERO_ERROR;
    int32_t len = 0;
    u_strToUTF8(out, (int32_t)cap, &len, u, n, &st);
    if (U_FAILURE(st) || len < 0 || (size_t)len >= cap) return -1;
    out[len] = '\0';
    return 0;
}

static int digits(const char *s, int n) {
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* "YYYY-MM-DD" at the start of s into tm (midnight); 0 or -1. */
static int parse_ymd(const char *s, struct tm *tm) {
    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
        return -1;
    memset(tm, 0, sizeof *tm);
    tm->tm_year = atoi(s) - 1900;
    tm->tm_mon = atoi(s + 5) - 1;
    tm->tm_mday = atoi(s + 8);
    return tm->tm_mon >= 0 && tm->tm_mon < 12 && tm->tm_mday >= 1 && tm->tm_mday <= 31 ? 0 : -1;
}

/* An ISO instant (date 'T' hh:mm[:ss][.fff] then Z or +hh:mm / -hh:mm) as Unix seconds. */
static int parse_instant(const char *s, time_t *out) {
    struct tm tm;
    if (strlen(s) < 17 || parse_ymd(s, &tm) != 0 || s[10] != 'T' || !digits(s + 11, 2) ||
        s[13] != ':' || !digits(s + 14, 2))
        return -1;
    tm.tm_hour = atoi(s + 11);
    tm.tm_min = atoi(s + 14);
    const char *p = s + 16;
    if (*p == ':') {
        if (!digits(p + 1, 2)) return -1;
        tm.tm_sec = atoi(p + 1);
        p += 3;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    long off = 0;
    if (*p == 'Z' && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) &&
               p[6] == '\0') {
        off = (atoi(p + 1) * 60 + atoi(p + 4)) * 60L * (*p == '-' ? -1 : 1);
    } else {
        return -1;
    }
    *out = timegm(&tm) - off;
    return 0;
}

/* date style, time style (UDAT_NONE = none) of the instant ms in zone tz. */
static int format_udate(UDate ms, UDateFormatStyle date, UDateFormatStyle time_style,
                        const char *locale, const char *tz, char *out, size_t cap) {
    char loc[ULOC_FULLNAME_CAPACITY];
    UChar utz[64], buf[FMT_CAP];
    UErrorCode st = U_ZERO_ERROR;
    icu_locale(locale, loc);
    u_uastrncpy(utz, tz && *tz ? tz : "UTC", 63);
    utz[63] = 0;
    UDateFormat *f = udat_open(time_style, date, loc, utz, -1, NULL, 0, &st);
    if (U_FAILURE(st)) return -1;
    int32_t n = udat_format(f, ms, buf, FMT_CAP, NULL, &st);
    udat_close(f);
    if (U_FAILURE(st)) return -1;
    return to_utf8(buf, n, out, cap);
}

int notify_format_date(const char *ymd, const char *locale, char *out, size_t cap) {
    struct tm tm;
    if (!ymd || strlen(ymd) != 10 || parse_ymd(ymd, &tm) != 0) return -1;
    /* a calendar date: noon UTC read in UTC, so no zone moves it to another day */
    tm.tm_hour = 12;
    return format_udate((UDate)timegm(&tm) * 1000.0, UDAT_LONG, UDAT_NONE, locale, "UTC", out, cap);
}

int notify_format_instant(const char *iso, const char *locale, const char *tz, char *out,
                          size_t cap) {
    time_t t;
    if (!iso || parse_instant(iso, &t) != 0) return -1;
    return format_udate((UDate)t * 1000.0, UDAT_LONG, UDAT_SHORT, locale, tz, out, cap);
}

int notify_format_money(const char *amount, const char *currency, const char *locale, char *out,
                        size_t cap) {
    char loc[ULOC_FULLNAME_CAPACITY];
    UChar cur[4], buf[FMT_CAP];
    UErrorCode st = U_ZERO_ERROR;
    if (!amount || !currency || strlen(currency) != 3) return -1;
    for (int i = 0; i < 3; i++)
        if (currency[i] < 'A' || currency[i] > 'Z') return -1;
    /* a plain decimal: digits, one optional point, an optional leading minus */
    const char *p = amount + (*amount == '-');
    int dots = 0, nd = 0;
    for (; *p; p++) {
        if (*p == '.')
            dots++;
        else if (*p >= '0' && *p <= '9')
            nd++;
        else
            return -1;
    }
    if (nd == 0 || dots > 1 || strlen(amount) > 40) return -1;
    icu_locale(locale, loc);
    u_uastrncpy(cur, currency, 3);
    cur[3] = 0;
    UNumberFormat *f = unum_open(UNUM_CURRENCY, NULL, 0, loc, NULL, &st);
    if (U_FAILURE(st)) return -1;
    unum_setTextAttribute(f, UNUM_CURRENCY_CODE, cur, 3, &st);
    int32_t n = U_SUCCESS(st) ? unum_formatDecimal(f, amount, -1, buf, FMT_CAP, NULL, &st) : 0;
    unum_close(f);
    if (U_FAILURE(st)) return -1;
    return to_utf8(buf, n, out, cap);
}

static int ends_with_local(const char *k) {
    size_t n = strlen(k);
    return n >= 6 && strcmp(k + n - 6, "_local") == 0;
}

/* The formatted form of value v into out: 1 formatted, 0 not a date/instant/money. */
static int format_value(json_t *v, const char *locale, const char *tz, char *out, size_t cap) {
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strlen(s) == 10) return notify_format_date(s, locale, out, cap) == 0;
        return notify_format_instant(s, locale, tz, out, cap) == 0;
    }
    json_t *a = json_object_get(v, "amount"), *c = json_object_get(v, "currency");
    if (!json_is_object(v) || !a || !json_is_string(c)) return 0;
    char num[48];
    if (json_is_string(a))
        snprintf(num, sizeof num, "%s", json_string_value(a));
    else if (json_is_integer(a))
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(a));
    else if (json_is_real(a))
        snprintf(num, sizeof num, "%.2f", json_real_value(a));
    else
        return 0;
    return notify_format_money(num, json_string_value(c), locale, out, cap) == 0;
}

/* fill: only the "_local" keys that are not there yet */
static int walk(json_t *obj, const char *locale, const char *tz, int depth, int fill, err_t *e) {
    const char *k;
    json_t *v, *add = json_object();
    char out[FMT_CAP * 4], name[160];
    if (!add) return err_set(e, 500, "internal", "", "out of memory");
    json_object_foreach(obj, k, v) {
        if (ends_with_local(k) || strlen(k) > sizeof name - 7) continue;
        snprintf(name, sizeof name, "%s_local", k);
        if (fill && json_object_get(obj, name)) continue;
        if (format_value(v, locale, tz, out, sizeof out)) {
            json_object_set_new(add, name, json_string(out));
        } else if (json_is_object(v) && depth < 4 && walk(v, locale, tz, depth + 1, fill, e) != 0) {
            json_decref(add);
            return -1;
        }
    }
    int rc = json_object_update(obj, add);
    json_decref(add);
    return rc == 0 ? 0 : err_set(e, 500, "internal", "", "out of memory");
}

int notify_format_vars(json_t *vars, const char *locale, const char *tz, err_t *e) {
    if (!json_is_object(vars)) return 0;
    return walk(vars, locale, tz, 0, 0, e);
}

int notify_format_vars_fill(json_t *vars, const char *locale, const char *tz, err_t *e) {
    if (!json_is_object(vars)) return 0;
    return walk(vars, locale, tz, 0, 1, e);
}
