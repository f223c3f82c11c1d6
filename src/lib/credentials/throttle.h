/* throttle: the client contract of login throttling. A refused attempt is 429
 * "too_many_attempts" whose message ends with "Try again in N seconds."; the auth service makes
 * it (throttle_refuse), and whoever answers HTTP turns it into `Retry-After: N`
 * (throttle_retry_after). Pure; owns no state. */
#ifndef LIB_CREDENTIALS_THROTTLE_H
#define LIB_CREDENTIALS_THROTTLE_H

#include "core/err.h"

/* Sets e to 429 too_many_attempts naming wait_s (at least 1) seconds; returns -1. */
int throttle_refuse(err_t *e, int wait_s);
/* Seconds named by a 429 error's message ("... Try again in N seconds."), 0 if none. */
int throttle_retry_after(const err_t *e);

#endif
