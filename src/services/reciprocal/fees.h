/* fees: the money arithmetic of settlement (issue 12), pure: no I/O, no globals, no floats.
 *
 * Cancellation and no-show fees. The agreement's cancellation_tiers ({hours_before,
 * fee_percent}, hours_before strictly decreasing; [] = the defaults below) are evaluated in the
 * host club's local wall-clock time: "hours before arrival" is the distance from the moment of
 * cancellation, read on the host's clock, to 00:00 of the arrival day on the host's clock (so a
 * day with a DST change counts 24 local hours like any other; callers give both moments as
 * local wall-clock seconds, e.g. PostgreSQL's extract(epoch FROM ts AT TIME ZONE tz)). The fee is
 * that of the first tier whose hours_before the cancellation is MORE than; at or below every
 * tier (including after arrival) the last tier's. Defaults: more than 168 h (7 days) 0 %, more
 * than 48 h 25 %, else 50 %; a no-show 100 %. The percentage applies to one night/day fee of the
 * agreement (fees.room_rate, or fees.entry when the room rate is 0), rounded half away from
 * zero to the minor unit.
 *
 * Currencies: ISO 4217 minor-unit exponents (0 for JPY, 3 for BHD, 2 for most) and the one
 * decimal text of an amount in minor units ("-1234.567"), as CSV and the PDF print it. */
#ifndef SERVICES_RECIPROCAL_FEES_H
#define SERVICES_RECIPROCAL_FEES_H

#include <jansson.h>
#include <stddef.h>

#define FEES_MAX_TIERS 10

typedef struct fee_tier {
    long long hours_before;
    int percent;
} fee_tier_t;

/* The tiers of an agreement's cancellation_tiers array (NULL or [] = the defaults) into t (room
 * for FEES_MAX_TIERS); returns how many. Entries that are not {hours_before, fee_percent}
 * integers are skipped (terms.c validated them on the way in). */
size_t fees_tiers(const json_t *tiers, fee_tier_t *t);

/* The fee percent of a cancellation seconds_before the arrival (local wall-clock seconds;
 * negative after arrival) under tiers t[0..n). */
int fees_cancellation_percent(const fee_tier_t *t, size_t n, long long seconds_before);

/* base * percent / 100 rounded half away from zero. */
long long fees_percent_of(long long base, int percent);

/* One night/day fee of the agreement's normalised fees object: room_rate, else entry. */
long long fees_day_fee(const json_t *fees);

/* The minor-unit exponent of an ISO 4217 code (0, 2, 3 or 4); 2 for an unknown code. */
int fees_exponent(const char *currency);

/* minor as decimal text in currency ("1234.50" GBP, "1234" JPY, "-1.234" BHD) into buf; returns
 * buf. cap >= 32 always suffices. */
char *fees_format(long long minor, const char *currency, char *buf, size_t cap);

#endif
