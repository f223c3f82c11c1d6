/* reciprocal_seed_history: a year of visit history for the demo network (`reciprocal seed`,
 * `make run`), called by reciprocal_seed after the demo agreement. Every visit goes through the
 * service's own operations as a network administrator, with the clocks they accept injected
 * (create_visit `as_of`, check_in_visit `at`, post_charge `at`/`as_of`), so the normal outbox
 * events (visit.requested, loi.issued, visit.confirmed, visit.checked_in, charge.posted,
 * visit.checked_out, visit.cancelled, loi.declined, visit.no_show, statement.drafted/issued)
 * are emitted as for real traffic.
 *
 * What it makes, for the 12 calendar months (UTC) before the current one, from a fixed seed
 * (SEED_HISTORY_SEED: the same numbers on every fresh database):
 *   - six history members per demo club (DEMO-3 .. DEMO-8), active;
 *   - per directed pair of clubs a number of visits per month weighted by the host's season
 *     (sailing summer at harbour-yacht, spring and autumn at union-university, the southern
 *     summer at highveld-country); harbour-yacht's members never visit highveld-country (a
 *     one-sided partnership); stays of 1 to 3 days, guests, facilities from the host's terms;
 *   - outcomes: cancelled by the member while requested, declined by the home club, no-show
 *     (confirmed, never checked in: the final visit_sweep marks them and posts the no-show
 *     fee), completed (checked in on the arrival day, charges posted on the day: dining, bar,
 *     rooms per night, green fees, then checked out);
 *   - statements: statement_sweep drafts every past month and issues those past day 5; last
 *     month's drafts are then issued at once, so `make run` holds last month's issued
 *     statements (the PDF opens).
 * A request the rules refuse (a limit, an overlapping stay) is skipped and counted. Idempotent:
 * nothing when a visit arriving before the current month exists. Prints one summary line
 * ("seeded visit history: ..."). Owns nothing. */
#ifndef SERVICES_RECIPROCAL_RECIPROCAL_SEED_HISTORY_H
#define SERVICES_RECIPROCAL_RECIPROCAL_SEED_HISTORY_H

#include "core/service.h"

#define SEED_HISTORY_SEED 20261206u
#define SEED_HISTORY_MEMBERS 6 /* DEMO-3 .. DEMO-8 per club */

/* ids: the three demo clubs (harbour-yacht, union-university, highveld-country). 0 or -1. */
int reciprocal_seed_history(const svc_env_t *env, char ids[3][40], err_t *e);

/* The first day (UTC) of the month `back` months before the current one, as YYYY-MM-DD. */
void reciprocal_seed_month_start(int back, char out[16]);

#endif
