/* terms: the terms of a reciprocal agreement at one host club (what visiting members of the
 * other parties get there): parsing with the defaults of issue 11, validation naming the field
 * path (terms.<host club id>.<field>), the normalised JSON the agreement stores, and the short
 * summary the partner directory shows. Pure functions: no I/O, no globals. Every returned
 * json_t is a new reference the caller owns.
 *
 * Normalised terms (every field present):
 *   max_visits_month 4, max_days_year 30, max_days_per_stay 14, max_guests 0,
 *   allowed_facilities null (= every facility of the host club; filled at create),
 *   weekdays ["mon".."sun"], hours {"from":"00:00","to":"24:00"}, blackouts [],
 *   eligible_categories null (= every category), min_notice_hours 48, max_advance_days 365,
 *   residency_exclusion_km 150, loi_validity_days 30, auto_approve false,
 *   fees {"currency": null, "entry": 0, "guest": 0, "room_rate": 0} (ISO 4217, integer minor
 *   units; currency required once an amount is not 0), payment_mode "pay_at_host",
 *   cancellation_tiers [] ({"hours_before","fee_percent"}, hours_before strictly decreasing). */
#ifndef SERVICES_RECIPROCAL_TERMS_H
#define SERVICES_RECIPROCAL_TERMS_H

#include <jansson.h>

#include "core/err.h"

/* Parses in (an object, or NULL / JSON null = all defaults) into normalised terms. path names
 * the object in errors ("terms.<club id>"): unknown keys 422 unknown_field, bad values 422
 * invalid_field, each with field "<path>.<key>[...]". Returns a new object or NULL + err. */
json_t *terms_parse(const json_t *in, const char *path, err_t *e);

/* Checks allowed_facilities against the host club's facility list (array of strings): each must
 * be offered by the host (422 <path>.allowed_facilities[i]); null becomes a copy of the host's
 * list. 0 or -1 + err. */
int terms_apply_facilities(json_t *terms, const json_t *club_facilities, const char *path,
                           err_t *e);

/* The directory summary of normalised terms: max_visits_month, max_days_year,
 * max_days_per_stay, max_guests, allowed_facilities, auto_approve, payment_mode, currency,
 * entry_fee. New object. */
json_t *terms_summary(const json_t *terms);

/* 1 if code is an active ISO 4217 currency code (upper case). */
int terms_is_currency(const char *code);
/* 1 if s is a real calendar date YYYY-MM-DD. */
int terms_is_date(const char *s);

#endif
