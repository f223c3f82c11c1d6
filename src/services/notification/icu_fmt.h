/* icu_fmt: dates, times and money in notification variables formatted for the recipient's
 * locale and time zone with ICU (libicu, docs/notification.md "Localised dates, times and
 * money"). notify_format_vars adds, beside every value it recognises, a "<name>_local" string:
 *   "YYYY-MM-DD"                          -> the long date ("4 March 2030", "4. März 2030");
 *   "YYYY-MM-DDTHH:MM[:SS][.f](Z|+hh:mm)" -> the long date and short time in the time zone
 *                                            ("29 March 2026 at 02:30", "29. März 2026 um 03:30");
 *   {"amount": "1234.5" | 1234.5, "currency": "EUR"} -> the amount in that currency
 *                                            ("€1,234.50", "1.234,50 €"), exact decimal.
 * Objects are walked to depth 4; existing "*_local" values are replaced, never read. Templates
 * use {{arrive_on_local}}, {{charge.total_local}}. Owns nothing between calls. */
#ifndef SERVICES_NOTIFICATION_ICU_FMT_H
#define SERVICES_NOTIFICATION_ICU_FMT_H

#include <jansson.h>

#include "core/err.h"

/* locale: a BCP 47 tag ("de-DE", "en"; NULL or "" = "en"); tz: an IANA zone (NULL or "" =
 * "UTC"). 0, or -1 + 500 internal (ICU or memory). */
int notify_format_vars(json_t *vars, const char *locale, const char *tz, err_t *e);
/* The same, adding only the "_local" values that are missing (the worker, for rows queued
 * before the consumers formatted them). */
int notify_format_vars_fill(json_t *vars, const char *locale, const char *tz, err_t *e);

/* The single formatters (out: UTF-8, NUL-terminated): 0, or -1 when the input is not of the
 * shape above or ICU fails. */
int notify_format_date(const char *ymd, const char *locale, char *out, size_t cap);
int notify_format_instant(const char *iso, const char *locale, const char *tz, char *out,
                          size_t cap);
int notify_format_money(const char *amount, const char *currency, const char *locale, char *out,
                        size_t cap);

#endif
