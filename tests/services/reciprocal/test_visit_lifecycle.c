/* Unit tests of the visit lifecycle table (visit_lifecycle.h): every legal transition written
 * out independently of the table, every other (action, state) pair illegal, who may request
 * each, the allowed-action lists the 409 names, and the terminal states. */
#include <string.h>

#include "services/reciprocal/visit_lifecycle.h"
#include "test.h"

static const struct {
    const char *action, *from, *to;
    int sides;
} k_legal[] = {
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
#define N_LEGAL (sizeof k_legal / sizeof k_legal[0])

static const char *const k_actions[] = {"approve", "confirm", "check_in", "check_out", "decline",
                                        "cancel",  "revoke",  "expire",   "no_show",   NULL};
static const char *const k_states[] = {"requested", "approved", "confirmed", "checked_in",
                                       "completed", "declined", "cancelled", "revoked",
                                       "expired",   "no_show",  NULL};

static void test_legal(void) {
    for (size_t i = 0; i < N_LEGAL; i++) {
        CHECK_STR(vlc_next(k_legal[i].action, k_legal[i].from), k_legal[i].to);
        CHECK_EQ_INT(vlc_sides(k_legal[i].action, k_legal[i].from), k_legal[i].sides);
    }
}

static void test_illegal(void) {
    /* every (action, state) pair not listed above is illegal */
    for (const char *const *a = k_actions; *a; a++)
        for (const char *const *s = k_states; *s; s++) {
            int listed = 0;
            for (size_t i = 0; i < N_LEGAL; i++)
                if (strcmp(k_legal[i].action, *a) == 0 && strcmp(k_legal[i].from, *s) == 0)
                    listed = 1;
            if (listed) continue;
            if (vlc_next(*a, *s)) printf("#   %s from %s should be illegal\n", *a, *s);
            CHECK(vlc_next(*a, *s) == NULL);
            CHECK_EQ_INT(vlc_sides(*a, *s), 0);
        }
    CHECK(vlc_next("bogus", "requested") == NULL);
    CHECK(vlc_next(NULL, "requested") == NULL);
    CHECK(vlc_next("approve", NULL) == NULL);
}

static void test_allowed_and_terminal(void) {
    char buf[128];
    CHECK_STR(vlc_allowed("requested", buf, sizeof buf), "approve, decline, cancel");
    CHECK_STR(vlc_allowed("approved", buf, sizeof buf), "confirm, decline, cancel, revoke");
    CHECK_STR(vlc_allowed("confirmed", buf, sizeof buf), "check_in, cancel, revoke");
    CHECK_STR(vlc_allowed("checked_in", buf, sizeof buf), "check_out");
    for (const char *const *s = k_states; *s; s++) {
        int open = !strcmp(*s, "requested") || !strcmp(*s, "approved") ||
                   !strcmp(*s, "confirmed") || !strcmp(*s, "checked_in");
        CHECK_EQ_INT(vlc_is_terminal(*s), !open);
        if (!open) CHECK_STR(vlc_allowed(*s, buf, sizeof buf), "none");
        /* terminal states never change: no action leads out of them */
        for (const char *const *a = k_actions; !open && *a; a++)
            CHECK(vlc_next(*a, *s) == NULL);
    }
    CHECK(vlc_is_state("no_show") && !vlc_is_state("active") && !vlc_is_terminal("bogus"));
    CHECK(vlc_is_action("check_out") && vlc_is_action("no_show") && !vlc_is_action("accept"));
}

int main(void) {
    RUN(test_legal);
    RUN(test_illegal);
    RUN(test_allowed_and_terminal);
    TEST_DONE();
}
