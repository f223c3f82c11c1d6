/* club_prefs: a club's notification defaults, the lowest of the three preference levels
 * (docs/notification.md "Club preference defaults"): the club's channel switches (email, in_app,
 * push) and per-category defaults, set by the club's administrators (club:admin) and applied by
 * the consumers below the user's own choices (notify_prefs_decide: user per category -> user
 * global -> club per category -> club global -> network default). Mandatory categories
 * (security) and critical messages cannot be switched off (422 categories). Owns nothing. */
#ifndef SERVICES_NOTIFICATION_CLUB_PREFS_H
#define SERVICES_NOTIFICATION_CLUB_PREFS_H

#include <jansson.h>

#include "core/service.h"

int club_prefs_validate_get(json_t *in, err_t *e);
/* {email?, in_app?, push? (bool, null = the network default), categories?: [{category, email?,
 * in_app?, push?}] (bool, null = unset)}: at least one field. */
int club_prefs_validate_set(json_t *in, err_t *e);
/* {email, in_app, push, categories: [{category, email, in_app, push, mandatory}]}: the club's
 * effective defaults (what a member who chose nothing gets). */
int club_prefs_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* Changes the named fields (others kept); answers club_prefs_get's document. */
int club_prefs_set(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
