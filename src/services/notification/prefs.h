/* prefs: people's wishes about their notifications (docs/notification.md "Preferences and quiet
 * hours"): per channel (email, in_app, push: the user's global switches), per category
 * (overrides of those switches), quiet hours in the user's time zone (wrapping midnight), and
 * the decision the consumers take for one recipient, channel and message: send or drop (opt-out;
 * critical messages and mandatory categories are always sent) and when (non-critical email is
 * deferred to the end of the quiet window; in-app is stored at once). The operations act on the
 * signed-in caller's own row in its club (RLS policy preferences_own). Owns nothing between
 * calls. */
#ifndef SERVICES_NOTIFICATION_PREFS_H
#define SERVICES_NOTIFICATION_PREFS_H

#include <jansson.h>

#include "core/service.h"

/* The categories of the rule table, NULL-terminated; security is mandatory. */
extern const char *const notify_categories[];
int notify_category_mandatory(const char *category);

int prefs_validate_get(json_t *in, err_t *e);
int prefs_validate_update(json_t *in, err_t *e);
/* {email, in_app, push, timezone, quiet_hours: {start, end} | null,
 *  categories: [{category, email, in_app, digest, digest_window, mandatory}]} (the effective
 * values: user per category -> user global -> club per category -> club global -> network). */
int prefs_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* Changes the given fields (absent = unchanged; timezone null = the club's, quiet_hours null or
 * clear_quiet_hours = none; a category entry changes the channels it names); answers prefs_get's
 * document. 422 timezone for a name PostgreSQL does not know, 422 categories for a mandatory
 * category switched off. */
int prefs_update(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* The consumers' decision for recipient user (its account; "" = none: always send, now) of club
 * for a message of category on channel: *send 0 when the recipient opted out (never for a
 * critical message or a mandatory category); deliver_at gets the end of the quiet window that
 * `at` (ISO instant; NULL = now) falls in, in the user's time zone (default_tz when the user set
 * none), for a non-critical message on a channel other than in_app, else "". The channel switch
 * is the user's per-category choice, else the user's global one, else the club's per-category
 * default, else the club's global default (club_prefs.h), else the network's. *digest 1 for a
 * non-critical email of a category the user takes as a daily digest (deliver_at: the next 08:00
 * in the user's zone), 2 as an hourly one (deliver_at: the next full local hour,
 * notification.next_hour); at is the clock of both. 0 or -1 + e. */
int notify_prefs_decide(db_tx_t *tx, const char *club, const char *user, const char *category,
                        const char *channel, int critical, const char *default_tz, const char *at,
                        int *send, char deliver_at[40], int *digest, err_t *e);

/* notification.quiet_until: the end of the quiet window [qs, qe) ("HH:MM", local in tz) that
 * `at` falls in as "YYYY-MM-DDTHH:MM:SSZ" into out, or "" outside it. 0 or -1 + e. */
int notify_quiet_until(db_tx_t *tx, const char *at, const char *tz, const char *qs, const char *qe,
                       char out[40], err_t *e);

#endif
