/* throttle: see throttle.h. */
#include "lib/credentials/throttle.h"

#include <stdlib.h>
#include <string.h>

#define THROTTLE_PHRASE "Try again in "

int throttle_refuse(err_t *e, int wait_s) {
    return err_set(e, 429, "too_many_attempts", "",
                   "Too many attempts. " THROTTLE_PHRASE "%d seconds.", wait_s < 1 ? 1 : wait_s);
}

int throttle_retry_after(const err_t *e) {
    if (!e || e->status != 429) return 0;
    const char *p = strstr(e->message, THROTTLE_PHRASE);
    if (!p) return 0;
    int n = atoi(p + strlen(THROTTLE_PHRASE));
    return n > 0 ? n : 1;
}
