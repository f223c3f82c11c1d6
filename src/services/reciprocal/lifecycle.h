/* lifecycle: the agreement state machine as one table (pure; no I/O).
 *   proposed  --accept (last party, starts_on come)--> active   (else stays proposed)
 *   proposed  --reject--> rejected      proposed --withdraw--> withdrawn
 *   active    --suspend--> suspended    suspended --resume--> active
 *   active|suspended --terminate--> (same state, notice given; terminated after the notice)
 *   scheduler: proposed --activate--> active, active|suspended --expire--> expired,
 *              active|suspended --enact--> terminated
 * rejected, withdrawn, terminated and expired are terminal. */
#ifndef SERVICES_RECIPROCAL_LIFECYCLE_H
#define SERVICES_RECIPROCAL_LIFECYCLE_H

#include <stddef.h>

/* The state `action` leads to from `from`, or NULL when the transition is illegal. For accept
 * and terminate the state is unchanged (activation and termination happen when their condition
 * holds: lc_next("activate"/"enact", ...)). */
const char *lc_next(const char *action, const char *from);
/* The actions a party may request in state `from`, comma separated into buf ("none" when
 * terminal). Returns buf. */
const char *lc_allowed(const char *from, char *buf, size_t cap);
/* 1 for a known state / a party action (accept, reject, withdraw, suspend, resume, terminate). */
int lc_is_state(const char *s);
int lc_is_action(const char *s);
int lc_is_terminal(const char *state);

/* The "history" of a get (agreements and visits alike): a SQL expression, the jsonb array of the
 * rows of reciprocal.<transitions> whose <fk> is <owner>.id, oldest first, each {action, from,
 * to, club_id, actor_user_id, reason, at}. */
#define LC_HISTORY_SQL(transitions, fk, owner)                                                     \
    "(SELECT coalesce(jsonb_agg(jsonb_build_object('action', t.action, 'from', t.from_status, "    \
    "'to', t.to_status, 'club_id', t.club_id, 'actor_user_id', t.actor_user_id, 'reason', "        \
    "t.reason, 'at', reciprocal.ts(t.at)) ORDER BY t.id), '[]') FROM reciprocal." transitions      \
    " t WHERE t." fk " = " owner ".id)"

#endif
