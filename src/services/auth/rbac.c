/* rbac: see rbac.h. */
#include "services/auth/rbac.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *role;
    const char *perms;
} k_roles[] = {
    {"network_admin", "*"},
    {"club_admin", "auth:self auth:admin auth:invite club:read club:write club:admin member:read "
                   "member:write member:admin visit:verify agreement:propose governance:vote"},
    {"club_staff", "auth:self club:read member:read member:write visit:verify"},
    {"member", "auth:self club:read"},
};

int rbac_is_role(const char *role) {
    return rbac_role_perms(role) != NULL;
}

const char *rbac_role_perms(const char *role) {
    if (!role) return NULL;
    for (size_t i = 0; i < sizeof k_roles / sizeof k_roles[0]; i++)
        if (strcmp(k_roles[i].role, role) == 0) return k_roles[i].perms;
    return NULL;
}

/* 1 when the space-separated list `list` holds `word` (length n). */
static int has_word(const char *list, const char *word, size_t n) {
    for (const char *p = list; *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len == n && memcmp(p, word, n) == 0) return 1;
        p += len;
    }
    return 0;
}

int rbac_perms_for_roles(const json_t *roles, char *out, size_t cap) {
    size_t len = 0;
    if (cap < 2) return -1;
    out[0] = 0;
    size_t i;
    const json_t *r;
    json_array_foreach(roles, i, r) {
        const char *perms = rbac_role_perms(json_string_value(r));
        if (perms && strcmp(perms, "*") == 0) {
            snprintf(out, cap, "*");
            return 0;
        }
    }
    const char *self = "auth:self";
    json_array_foreach(roles, i, r) {
        const char *perms = rbac_role_perms(json_string_value(r));
        if (!perms) continue;
        for (const char *p = perms; *p;) {
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, " ");
            if (n && !has_word(out, p, n)) {
                if (len + n + 2 > cap) return -1;
                if (len) out[len++] = ' ';
                memcpy(out + len, p, n);
                len += n;
                out[len] = 0;
            }
            p += n;
        }
    }
    if (!has_word(out, self, strlen(self))) {
        if (len + strlen(self) + 2 > cap) return -1;
        snprintf(out + len, cap - len, "%s%s", len ? " " : "", self);
    }
    return 0;
}
