/* rbac: see rbac.h. */
#include "services/auth/rbac.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *role;
    const char *perms;
} k_roles[] = {
    {"network_admin", "*"},
    {"club_admin",
     "auth:self auth:admin auth:invite club:read club:write club:admin member:read "
     "member:write member:admin visit:verify agreement:propose governance:vote ledger:read "
     "ledger:write visit:restrict settlement:read settlement:write charge:write"},
    {"club_staff",
     "auth:self club:read member:read member:write visit:verify ledger:read settlement:read "
     "charge:write"},
    /* the club's money between clubs (docs/reciprocal.md "Charges and settlement"): reads the
     * charges and statements, issues, disputes, answers, accepts and pays them, posts and
     * reverses lines (a correction is a reversal and a new line); no member, club or agreement
     * administration */
    {"club_treasurer",
     "auth:self club:read ledger:read settlement:read settlement:write charge:write"},
    {"member", "auth:self club:read ledger:read"},
};

const char *rbac_role_at(size_t i) {
    return i < sizeof k_roles / sizeof k_roles[0] ? k_roles[i].role : NULL;
}

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

int rbac_is_grantable(const char *perm) {
    if (!perm || !*perm || strchr(perm, ' ')) return 0;
    return has_word(rbac_role_perms("club_admin"), perm, strlen(perm));
}

int rbac_is_custom_name(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n < 2 || n > 40 || name[0] < 'a' || name[0] > 'z' || rbac_is_role(name)) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_'))
            return 0;
    return 1;
}

/* Appends the words of list not yet in out (only grantable ones when `grantable_only`). */
static int add_words(const char *list, int grantable_only, char *out, size_t *len, size_t cap) {
    for (const char *p = list; p && *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n && !has_word(out, p, n)) {
            char w[64];
            int ok = 1;
            if (grantable_only) {
                ok = n < sizeof w;
                if (ok) {
                    memcpy(w, p, n);
                    w[n] = 0;
                    ok = rbac_is_grantable(w);
                }
            }
            if (ok) {
                if (*len + n + 2 > cap) return -1;
                if (*len) out[(*len)++] = ' ';
                memcpy(out + *len, p, n);
                *len += n;
                out[*len] = 0;
            }
        }
        p += n;
    }
    return 0;
}

int rbac_perms_for_roles_ex(const json_t *roles, const char *extra, char *out, size_t cap) {
    if (rbac_perms_for_roles(roles, out, cap) != 0) return -1;
    if (strcmp(out, "*") == 0 || !extra) return 0;
    size_t len = strlen(out);
    return add_words(extra, 1, out, &len, cap);
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
