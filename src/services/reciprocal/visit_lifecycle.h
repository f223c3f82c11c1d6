/* visit_lifecycle: the visit state machine as one table (pure; no I/O), and who may move it.
 *   requested  --approve (home)--> approved      (the home club issues the letter)
 *   approved   --confirm (host)--> confirmed
 *   confirmed  --check_in (host)--> checked_in   --check_out (host)--> completed
 *   requested|approved --decline (home or host, reason)--> declined
 *   requested|approved|confirmed --cancel (member or home)--> cancelled
 *   approved|confirmed --revoke (home)--> revoked
 *   scheduler: requested|approved --expire--> expired, confirmed --no_show--> no_show
 * completed, declined, cancelled, revoked, expired and no_show are terminal (a trigger on
 * reciprocal.visits says the same). */
#ifndef SERVICES_RECIPROCAL_VISIT_LIFECYCLE_H
#define SERVICES_RECIPROCAL_VISIT_LIFECYCLE_H

#include <stddef.h>

/* Who may request an action (bits). */
#define VLC_HOME 1   /* staff of the member's home club */
#define VLC_HOST 2   /* staff of the host club */
#define VLC_MEMBER 4 /* the visiting member */
#define VLC_SCHED 8  /* the scheduler */

/* The state `action` leads to from `from`, or NULL when the transition is illegal. */
const char *vlc_next(const char *action, const char *from);
/* The sides (VLC_* bits) that may request `action` from `from`; 0 when illegal. */
int vlc_sides(const char *action, const char *from);
/* The actions anyone but the scheduler may request in state `from`, comma separated into buf
 * ("none" when terminal). Returns buf. */
const char *vlc_allowed(const char *from, char *buf, size_t cap);
/* 1 for a known visit state / a known action (scheduler actions included). */
int vlc_is_state(const char *s);
int vlc_is_action(const char *s);
int vlc_is_terminal(const char *state);

#endif
