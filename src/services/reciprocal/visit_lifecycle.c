/* visit_lifecycle: see visit_lifecycle.h. */
#include "services/reciprocal/visit_lifecycle.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *action, *from, *to;
    int sides;
} k_rules[] = {
    {"approve", "requested", "approved", VLC_HOME},
    {"confirm", "approved", "confirmed", VLC_HOST},
    {"check_in", "confirmed", "checked_in", VLC_HOST},
    {"check_out", "checked_in", "completed", VLC_HOST},
    {"decline", "requested", "declined", VLC_HOME | VLC_HOST},
    {"decline", "approved", "declined", VLC_HOME | VLC_HOST},
    {"cancel", "requested", "cancelled", VLC_MEMBER | VLC_HOME},
    {"cancel", "approved", "cancelled", VLC_MEMBER | VLC_HOME},
    {"cancel", "confirmed", "cancelled", VLC_MEMBER | VLC_HOME},
    {"revoke", "approved", "revoked", VLC_HOME},
    {"revoke", "confirmed", "revoked", VLC_HOME},
    {"expire", "requested", "expired", VLC_SCHED},
    {"expire", "approved", "expired", VLC_SCHED},
    {"no_show", "confirmed", "no_show", VLC_SCHED},
};
#define N_RULES (sizeof k_rules / sizeof k_rules[0])

static const char *const k_states[] = {"requested", "approved", "confirmed", "checked_in",
                                       "completed", "declined", "cancelled", "revoked",
                                       "expired",   "no_show",  NULL};

static int find(const char *action, const char *from) {
    for (size_t i = 0; action && from && i < N_RULES; i++)
        if (strcmp(k_rules[i].action, action) == 0 && strcmp(k_rules[i].from, from) == 0)
            return (int)i;
    return -1;
}

const char *vlc_next(const char *action, const char *from) {
    int i = find(action, from);
    return i < 0 ? NULL : k_rules[i].to;
}

int vlc_sides(const char *action, const char *from) {
    int i = find(action, from);
    return i < 0 ? 0 : k_rules[i].sides;
}

const char *vlc_allowed(const char *from, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < N_RULES && from; i++) {
        if (k_rules[i].sides == VLC_SCHED || strcmp(k_rules[i].from, from) != 0) continue;
        int w = snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", k_rules[i].action);
        if (w < 0 || (size_t)w >= cap - n) break;
        n += (size_t)w;
    }
    if (n == 0) snprintf(buf, cap, "none");
    return buf;
}

int vlc_is_state(const char *s) {
    for (const char *const *p = k_states; s && *p; p++)
        if (strcmp(*p, s) == 0) return 1;
    return 0;
}

int vlc_is_action(const char *s) {
    for (size_t i = 0; s && i < N_RULES; i++)
        if (strcmp(k_rules[i].action, s) == 0) return 1;
    return 0;
}

int vlc_is_terminal(const char *state) {
    for (size_t i = 0; state && i < N_RULES; i++)
        if (strcmp(k_rules[i].from, state) == 0) return 0;
    return vlc_is_state(state);
}
