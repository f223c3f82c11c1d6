/* lifecycle: see lifecycle.h. */
#include "services/reciprocal/lifecycle.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *action, *from, *to;
    int party; /* 1: requested by a party over the API; 0: the scheduler's */
} k_rules[] = {
    {"accept", "proposed", "proposed", 1},      {"reject", "proposed", "rejected", 1},
    {"withdraw", "proposed", "withdrawn", 1},   {"suspend", "active", "suspended", 1},
    {"resume", "suspended", "active", 1},       {"terminate", "active", "active", 1},
    {"terminate", "suspended", "suspended", 1}, {"activate", "proposed", "active", 0},
    {"expire", "active", "expired", 0},         {"expire", "suspended", "expired", 0},
    {"enact", "active", "terminated", 0},       {"enact", "suspended", "terminated", 0},
};
#define N_RULES (sizeof k_rules / sizeof k_rules[0])

static const char *const k_states[] = {"proposed", "active",    "suspended", "terminated",
                                       "rejected", "withdrawn", "expired",   NULL};

const char *lc_next(const char *action, const char *from) {
    if (!action || !from) return NULL;
    for (size_t i = 0; i < N_RULES; i++)
        if (strcmp(k_rules[i].action, action) == 0 && strcmp(k_rules[i].from, from) == 0)
            return k_rules[i].to;
    return NULL;
}

const char *lc_allowed(const char *from, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < N_RULES && from; i++) {
        if (!k_rules[i].party || strcmp(k_rules[i].from, from) != 0) continue;
        int w = snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", k_rules[i].action);
        if (w < 0 || (size_t)w >= cap - n) break;
        n += (size_t)w;
    }
    if (n == 0) snprintf(buf, cap, "none");
    return buf;
}

int lc_is_state(const char *s) {
    for (const char *const *p = k_states; s && *p; p++)
        if (strcmp(*p, s) == 0) return 1;
    return 0;
}

int lc_is_action(const char *s) {
    for (size_t i = 0; s && i < N_RULES; i++)
        if (k_rules[i].party && strcmp(k_rules[i].action, s) == 0) return 1;
    return 0;
}

int lc_is_terminal(const char *state) {
    for (size_t i = 0; state && i < N_RULES; i++)
        if (strcmp(k_rules[i].from, state) == 0) return 0;
    return lc_is_state(state);
}
