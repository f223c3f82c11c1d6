/* terms: see terms.h. */
#include "services/reciprocal/terms.h"

#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char iso_currencies[] =
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
    "GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR "
    "KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK "
    "MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR "
    "SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS "
    "UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL";

static const char *const weekday_values[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};
static const char *const payment_values[] = {"pay_at_host", "bill_home_club", NULL};
static const char *const terms_keys[] = {"max_visits_month",
                                         "max_days_year",
                                         "max_days_per_stay",
                                         "max_guests",
                                         "allowed_facilities",
                                         "weekdays",
                                         "hours",
                                         "blackouts",
                                         "eligible_categories",
                                         "min_notice_hours",
                                         "max_advance_days",
                                         "residency_exclusion_km",
                                         "loi_validity_days",
                                         "auto_approve",
                                         "fees",
                                         "payment_mode",
                                         "cancellation_tiers",
                                         NULL};

int terms_is_currency(const char *code) {
    if (!code || strlen(code) != 3) return 0;
    for (int i = 0; i < 3; i++)
        if (code[i] < 'A' || code[i] > 'Z') return 0;
    for (size_t i = 0; i + 2 < sizeof iso_currencies; i += 4)
        if (memcmp(iso_currencies + i, code, 3) == 0) return 1;
    return 0;
}

int terms_is_date(const char *s) {
    return jsonx_is_date(s);
}

/* "HH:MM" with 00:00..24:00; minutes since midnight, or -1. */
static int parse_hhmm(const char *s) {
    if (!s || strlen(s) != 5 || s[2] != ':') return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9')) return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0)) return -1;
    return h * 60 + m;
}

/* e->field = <path>.<key> (truncated to the field's size). */
static void field_path(err_t *e, const char *path, const char *key) {
    size_t o = 0, cap = sizeof e->field;
    for (const char *s = path; *s && o + 1 < cap; s++)
        e->field[o++] = *s;
    if (o + 1 < cap) e->field[o++] = '.';
    for (const char *s = key; *s && o + 1 < cap; s++)
        e->field[o++] = *s;
    e->field[o] = 0;
}

/* 400 invalid_type naming <path>.<key>: the value has the wrong JSON type. */
static int bad_type(err_t *e, const char *path, const char *key, const char *what) {
    err_type(e, "", "%s.%s must be %s", path, key, what);
    field_path(e, path, key);
    return -1;
}

/* 422 invalid_field naming <path>.<key>. */
static int bad(err_t *e, const char *path, const char *key, const char *what) {
    err_set(e, 422, "invalid_field", "", "%s.%s must be %s", path, key, what);
    field_path(e, path, key);
    return -1;
}

/* 400 unknown_field naming <path>.<key>. */
static int unknown(err_t *e, const char *path, const char *key) {
    err_set(e, 400, "unknown_field", "", "%s.%.40s is not a known field", path, key);
    field_path(e, path, key);
    return -1;
}

/* An integer field: JSON integer in [min, max]. */
static int parse_int(const json_t *in, json_t *out, const char *path, const char *key,
                     long long min, long long max, err_t *e) {
    json_t *v = json_object_get(in, key);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        char what[96];
        snprintf(what, sizeof what, "an integer from %lld to %lld", min, max);
        return bad(e, path, key, what);
    }
    json_object_set_new(out, key, json_integer(json_integer_value(v)));
    return 0;
}

/* An array of distinct strings (1..max_len bytes, [a-z0-9_], at most max_items); allowed
 * (NULL = any such word) restricts the values. nullable: null keeps the default null. */
static int parse_words(const json_t *in, json_t *out, const char *path, const char *key,
                       const char *const *allowed, size_t max_items, int min_items, int nullable,
                       err_t *e) {
    json_t *v = json_object_get(in, key);
    if (!v) return 0;
    if (json_is_null(v) && nullable) {
        json_object_set_new(out, key, json_null());
        return 0;
    }
    char what[128];
    snprintf(what, sizeof what, "an array of %d to %zu distinct codes", min_items, max_items);
    if (!json_is_array(v) || json_array_size(v) > max_items ||
        json_array_size(v) < (size_t)min_items)
        return bad(e, path, key, what);
    size_t i;
    json_t *w;
    json_array_foreach(v, i, w) {
        const char *s = json_string_value(w);
        char k[64];
        snprintf(k, sizeof k, "%s[%zu]", key, i);
        size_t n = s ? strlen(s) : 0;
        int ok = n >= 1 && n <= 40;
        for (size_t j = 0; ok && j < n; j++)
            ok = (s[j] >= 'a' && s[j] <= 'z') || (s[j] >= '0' && s[j] <= '9') || s[j] == '_';
        if (ok && allowed) {
            ok = 0;
            for (const char *const *p = allowed; *p; p++)
                if (strcmp(*p, s) == 0) ok = 1;
        }
        if (!ok)
            return bad(e, path, k,
                       allowed ? "one of mon, tue, wed, thu, fri, sat, sun"
                               : "a code of 1 to 40 characters a-z, 0-9, _");
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_array_get(v, j)), s) == 0)
                return bad(e, path, k, "listed once");
    }
    json_object_set(out, key, v);
    return 0;
}

static int parse_hours(const json_t *in, json_t *out, const char *path, err_t *e) {
    static const char *const keys[] = {"from", "to", NULL};
    json_t *v = json_object_get(in, "hours");
    if (!v) return 0;
    if (!json_is_object(v)) return bad_type(e, path, "hours", "an object {\"from\",\"to\"}");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        int known = 0;
        for (const char *const *p = keys; *p; p++)
            if (strcmp(*p, k) == 0) known = 1;
        if (!known) {
            char hpath[96];
            snprintf(hpath, sizeof hpath, "%s.hours", path);
            return unknown(e, hpath, k);
        }
    }
    int from = parse_hhmm(json_string_value(json_object_get(v, "from")));
    int to = parse_hhmm(json_string_value(json_object_get(v, "to")));
    if (from < 0 || from == 24 * 60) return bad(e, path, "hours.from", "a time HH:MM");
    if (to < 0) return bad(e, path, "hours.to", "a time HH:MM (24:00 = end of day)");
    if (to <= from) return bad(e, path, "hours.to", "later than hours.from");
    json_object_set_new(out, "hours",
                        json_pack("{s:O, s:O}", "from", json_object_get(v, "from"), "to",
                                  json_object_get(v, "to")));
    return 0;
}

static int parse_blackouts(const json_t *in, json_t *out, const char *path, err_t *e) {
    json_t *v = json_object_get(in, "blackouts");
    if (!v) return 0;
    if (!json_is_array(v) || json_array_size(v) > 100)
        return bad(e, path, "blackouts", "an array of at most 100 date ranges");
    json_t *list = json_array();
    size_t i;
    json_t *b;
    json_array_foreach(v, i, b) {
        char k[64];
        snprintf(k, sizeof k, "blackouts[%zu]", i);
        const char *from = json_string_value(json_object_get(b, "from"));
        const char *to = json_string_value(json_object_get(b, "to"));
        json_t *reason = json_object_get(b, "reason");
        int rc = 0;
        if (!json_is_object(b) || json_object_size(b) > 3 ||
            json_object_size(b) != 2u + (reason != NULL))
            rc = bad(e, path, k, "an object {\"from\",\"to\",\"reason\"?}");
        else if (!terms_is_date(from))
            rc = (snprintf(k, sizeof k, "blackouts[%zu].from", i), bad(e, path, k, "a date"));
        else if (!terms_is_date(to) || strcmp(to, from) < 0)
            rc = (snprintf(k, sizeof k, "blackouts[%zu].to", i),
                  bad(e, path, k, "a date not before from"));
        else if (reason && (!json_is_string(reason) || json_string_length(reason) < 1 ||
                            json_string_length(reason) > 200))
            rc = (snprintf(k, sizeof k, "blackouts[%zu].reason", i),
                  bad(e, path, k, "1 to 200 characters"));
        if (rc != 0) {
            json_decref(list);
            return -1;
        }
        json_t *one = json_pack("{s:s, s:s}", "from", from, "to", to);
        if (reason) json_object_set(one, "reason", reason);
        json_array_append_new(list, one);
    }
    json_object_set_new(out, "blackouts", list);
    return 0;
}

static int parse_fees(const json_t *in, json_t *out, const char *path, err_t *e) {
    static const char *const amounts[] = {"entry", "guest", "room_rate", NULL};
    json_t *v = json_object_get(in, "fees");
    if (!v) return 0;
    if (!json_is_object(v)) return bad_type(e, path, "fees", "an object");
    json_t *fees = json_object_get(out, "fees");
    char fpath[96];
    snprintf(fpath, sizeof fpath, "%s.fees", path);
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        int known = strcmp(k, "currency") == 0;
        for (const char *const *p = amounts; *p; p++)
            if (strcmp(*p, k) == 0) known = 1;
        if (!known) return unknown(e, fpath, k);
    }
    for (const char *const *p = amounts; *p; p++)
        if (parse_int(v, fees, fpath, *p, 0, 1000000000, e) != 0) return -1;
    json_t *cur = json_object_get(v, "currency");
    if (cur && !json_is_null(cur)) {
        if (!terms_is_currency(json_string_value(cur)))
            return bad(e, fpath, "currency", "an ISO 4217 currency code such as GBP");
        json_object_set(fees, "currency", cur);
    }
    int priced = 0;
    for (const char *const *p = amounts; *p; p++)
        if (json_integer_value(json_object_get(fees, *p)) != 0) priced = 1;
    if (priced && json_is_null(json_object_get(fees, "currency")))
        return bad(e, fpath, "currency",
                   "given (the host's ISO 4217 currency) when a fee is not 0");
    return 0;
}

static int parse_tiers(const json_t *in, json_t *out, const char *path, err_t *e) {
    json_t *v = json_object_get(in, "cancellation_tiers");
    if (!v) return 0;
    if (!json_is_array(v) || json_array_size(v) > 10)
        return bad(e, path, "cancellation_tiers", "an array of at most 10 tiers");
    json_t *list = json_array();
    long long prev = -1;
    size_t i;
    json_t *t;
    json_array_foreach(v, i, t) {
        char k[64];
        json_t *h = json_object_get(t, "hours_before"), *f = json_object_get(t, "fee_percent");
        int rc = 0;
        snprintf(k, sizeof k, "cancellation_tiers[%zu]", i);
        if (!json_is_object(t) || json_object_size(t) != 2 || !h || !f)
            rc = bad(e, path, k, "an object {\"hours_before\",\"fee_percent\"}");
        else if (!json_is_integer(h) || json_integer_value(h) < 0 || json_integer_value(h) > 8760 ||
                 (prev >= 0 && json_integer_value(h) >= prev))
            rc = (snprintf(k, sizeof k, "cancellation_tiers[%zu].hours_before", i),
                  bad(e, path, k, "an integer from 0 to 8760, smaller than the tier before"));
        else if (!json_is_integer(f) || json_integer_value(f) < 0 || json_integer_value(f) > 100)
            rc = (snprintf(k, sizeof k, "cancellation_tiers[%zu].fee_percent", i),
                  bad(e, path, k, "an integer from 0 to 100"));
        if (rc != 0) {
            json_decref(list);
            return -1;
        }
        prev = json_integer_value(h);
        json_array_append_new(list, json_pack("{s:I, s:I}", "hours_before", (json_int_t)prev,
                                              "fee_percent", json_integer_value(f)));
    }
    json_object_set_new(out, "cancellation_tiers", list);
    return 0;
}

static json_t *defaults(void) {
    return json_pack("{s:i, s:i, s:i, s:i, s:n, s:[s,s,s,s,s,s,s], s:{s:s, s:s}, s:[], s:n, s:i, "
                     "s:i, s:i, s:i, s:b, s:{s:n, s:i, s:i, s:i}, s:s, s:[]}",
                     "max_visits_month", 4, "max_days_year", 30, "max_days_per_stay", 14,
                     "max_guests", 0, "allowed_facilities", "weekdays", "mon", "tue", "wed", "thu",
                     "fri", "sat", "sun", "hours", "from", "00:00", "to", "24:00", "blackouts",
                     "eligible_categories", "min_notice_hours", 48, "max_advance_days", 365,
                     "residency_exclusion_km", 150, "loi_validity_days", 30, "auto_approve", 0,
                     "fees", "currency", "entry", 0, "guest", 0, "room_rate", 0, "payment_mode",
                     "pay_at_host", "cancellation_tiers");
}

static int parse_fields(const json_t *in, json_t *out, const char *path, err_t *e) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v) {
        int known = 0;
        for (const char *const *p = terms_keys; *p; p++)
            if (strcmp(*p, k) == 0) known = 1;
        if (!known) return unknown(e, path, k);
    }
    if (parse_int(in, out, path, "max_visits_month", 0, 31, e) != 0 ||
        parse_int(in, out, path, "max_days_year", 0, 366, e) != 0 ||
        parse_int(in, out, path, "max_days_per_stay", 1, 366, e) != 0 ||
        parse_int(in, out, path, "max_guests", 0, 20, e) != 0 ||
        parse_int(in, out, path, "min_notice_hours", 0, 8760, e) != 0 ||
        parse_int(in, out, path, "max_advance_days", 1, 1095, e) != 0 ||
        parse_int(in, out, path, "residency_exclusion_km", 0, 20000, e) != 0 ||
        parse_int(in, out, path, "loi_validity_days", 1, 365, e) != 0)
        return -1;
    if (parse_words(in, out, path, "allowed_facilities", NULL, 30, 0, 1, e) != 0 ||
        parse_words(in, out, path, "weekdays", weekday_values, 7, 1, 0, e) != 0 ||
        parse_words(in, out, path, "eligible_categories", NULL, 50, 1, 1, e) != 0)
        return -1;
    if (parse_hours(in, out, path, e) != 0 || parse_blackouts(in, out, path, e) != 0 ||
        parse_fees(in, out, path, e) != 0 || parse_tiers(in, out, path, e) != 0)
        return -1;
    json_t *aa = json_object_get(in, "auto_approve");
    if (aa && !json_is_boolean(aa)) return bad(e, path, "auto_approve", "true or false");
    if (aa) json_object_set(out, "auto_approve", aa);
    json_t *pm = json_object_get(in, "payment_mode");
    if (pm) {
        int ok = 0;
        for (const char *const *p = payment_values; *p; p++)
            if (json_is_string(pm) && strcmp(*p, json_string_value(pm)) == 0) ok = 1;
        if (!ok) return bad(e, path, "payment_mode", "pay_at_host or bill_home_club");
        json_object_set(out, "payment_mode", pm);
    }
    if (json_integer_value(json_object_get(out, "max_days_per_stay")) >
            json_integer_value(json_object_get(out, "max_days_year")) &&
        json_integer_value(json_object_get(out, "max_days_year")) > 0)
        return bad(e, path, "max_days_per_stay", "at most max_days_year");
    return 0;
}

json_t *terms_parse(const json_t *in, const char *path, err_t *e) {
    if (in && !json_is_null(in) && !json_is_object(in)) {
        err_type(e, "", "%s must be an object", path);
        snprintf(e->field, sizeof e->field, "%s", path);
        return NULL;
    }
    json_t *out = defaults();
    if (in && json_is_object(in) && parse_fields(in, out, path, e) != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

int terms_apply_facilities(json_t *terms, const json_t *club_facilities, const char *path,
                           err_t *e) {
    json_t *allowed = json_object_get(terms, "allowed_facilities");
    if (json_is_null(allowed) || !allowed) {
        json_object_set_new(terms, "allowed_facilities",
                            json_is_array(club_facilities) ? json_deep_copy(club_facilities)
                                                           : json_array());
        return 0;
    }
    size_t i, j;
    json_t *f, *c;
    json_array_foreach(allowed, i, f) {
        int offered = 0;
        json_array_foreach(club_facilities, j, c) {
            if (json_equal(c, f)) offered = 1;
        }
        if (!offered) {
            char k[64];
            snprintf(k, sizeof k, "allowed_facilities[%zu]", i);
            return bad(e, path, k, "a facility the host club offers");
        }
    }
    return 0;
}

json_t *terms_summary(const json_t *t) {
    json_t *fees = json_object_get(t, "fees");
    return json_pack(
        "{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "max_visits_month",
        json_object_get(t, "max_visits_month"), "max_days_year",
        json_object_get(t, "max_days_year"), "max_days_per_stay",
        json_object_get(t, "max_days_per_stay"), "max_guests", json_object_get(t, "max_guests"),
        "allowed_facilities", json_object_get(t, "allowed_facilities"), "auto_approve",
        json_object_get(t, "auto_approve"), "payment_mode", json_object_get(t, "payment_mode"),
        "currency", json_object_get(fees, "currency"), "entry_fee", json_object_get(fees, "entry"));
}
