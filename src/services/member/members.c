/* members: see members.h. */
#include "services/member/members.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/json.h"

static const char *const status_values[] = {"pending",  "active",   "suspended", "lapsed",
                                            "resigned", "deceased", NULL};
static const char *const initial_status_values[] = {"pending", "active", NULL};
static const char *const relationship_values[] = {"spouse", "partner", "child", "other", NULL};

/* ---- validation ---- */

static const char *const member_keys[] = {"club_id",          "member_number",
                                          "category",         "status",
                                          "joined_on",        "expires_on",
                                          "home_club_id",     "auth_user_id",
                                          "directory_opt_in", "profile",
                                          "addresses",        "dependents",
                                          "invite",           NULL};
static const char *const dependent_keys[] = {"member_number",
                                             "category",
                                             "joined_on",
                                             "expires_on",
                                             "home_club_id",
                                             "auth_user_id",
                                             "directory_opt_in",
                                             "profile",
                                             "addresses",
                                             "relationship",
                                             NULL};

static int valid_dependent(json_t *d, const char *prefix, err_t *e) {
    char pre[96];
    snprintf(pre, sizeof pre, "%s", prefix);
    if (!json_is_object(d))
        return err_set(e, 422, "invalid_field", prefix, "%s must be an object", prefix);
    if (jsonx_only_keys(d, dependent_keys, pre, e) != 0) return -1;
    const char *s;
    if (jsonx_enum(d, "relationship", 1, relationship_values, &s, e) != 0) {
        m_join(e->field, sizeof e->field, prefix, "relationship");
        return -1;
    }
    return m_valid_member_fields(d, 1, prefix, e);
}

int members_validate_create(json_t *in, err_t *e) {
    if (jsonx_only_keys(in, member_keys, "", e) != 0) return -1;
    if (m_valid_club_ref(in, e) != 0) return -1;
    const char *s;
    if (jsonx_enum(in, "status", 0, initial_status_values, &s, e) != 0) return -1;
    if (m_valid_member_fields(in, 1, "", e) != 0) return -1;
    json_t *inv = json_object_get(in, "invite");
    if (inv && !json_is_boolean(inv))
        return err_set(e, 422, "invalid_field", "invite", "invite must be true or false");
    if (json_is_true(inv)) {
        if (!json_string_value(json_object_get(json_object_get(in, "profile"), "email")))
            return err_set(e, 422, "missing_field", "profile.email",
                           "an invitation needs profile.email");
        if (json_string_value(json_object_get(in, "auth_user_id")))
            return err_set(e, 422, "invalid_field", "invite",
                           "give either auth_user_id (an existing account) or invite, not both");
    }
    json_t *deps = json_object_get(in, "dependents");
    if (deps && !json_is_null(deps)) {
        if (!json_is_array(deps) || json_array_size(deps) > 20)
            return err_set(e, 422, "invalid_field", "dependents",
                           "dependents must be an array of at most 20 members");
        size_t i;
        json_t *d;
        json_array_foreach(deps, i, d) {
            char pre[64];
            snprintf(pre, sizeof pre, "dependents[%zu].", i);
            if (valid_dependent(d, pre, e) != 0) return -1;
        }
    }
    return 0;
}

int members_validate_ref(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "club_id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (m_valid_club_ref(in, e) != 0) return -1;
    return m_valid_id(in, "id", e);
}

int members_validate_club(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return m_valid_club_ref(in, e);
}

int members_validate_update(json_t *in, err_t *e) {
    static const char *const keys[] = {
        "id",           "club_id",      "member_number",    "category", "joined_on", "expires_on",
        "home_club_id", "auth_user_id", "directory_opt_in", "profile",  "addresses", NULL};
    if (json_object_get(in, "status"))
        return err_set(e, 422, "invalid_field", "status",
                       "status cannot be patched: use POST /api/v1/members/{id}/status");
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (m_valid_club_ref(in, e) != 0) return -1;
    if (m_valid_id(in, "id", e) != 0) return -1;
    size_t n = json_object_size(in) - 1 - (json_object_get(in, "club_id") ? 1 : 0);
    if (n == 0) return err_set(e, 400, "empty_patch", "", "the patch names no field to change");
    static const char *const not_null[] = {"member_number",    "category", "joined_on",
                                           "directory_opt_in", "profile",  NULL};
    for (const char *const *k = not_null; *k; k++)
        if (json_is_null(json_object_get(in, *k)))
            return err_set(e, 422, "invalid_field", *k, "%s cannot be null", *k);
    json_t *addrs = json_object_get(in, "addresses");
    if (json_is_object(addrs)) { /* null = remove that address */
        json_t *copy = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(addrs, k, v) if (!json_is_null(v)) json_object_set(copy, k, v);
        json_t *probe = json_pack("{s:o}", "addresses", copy);
        int rc = m_valid_member_fields(probe, 0, "", e);
        /* copy the normalised countries back */
        json_object_foreach(copy, k, v) json_object_set(addrs, k, v);
        json_decref(probe);
        if (rc != 0) return -1;
        json_t *without = json_deep_copy(in);
        json_object_del(without, "addresses");
        rc = m_valid_member_fields(without, 0, "", e);
        json_decref(without);
        return rc;
    }
    return m_valid_member_fields(in, 0, "", e);
}

int members_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id",       "limit", "after", "status",
                                       "category",      "q",     "sort",  "expires_before",
                                       "expires_after", NULL};
    static const char *const sorts[] = {
        "created_at", "-created_at", "member_number", "-member_number", "name", "-name",
        "joined_on",  "-joined_on",  "expires_on",    "-expires_on",    NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (m_valid_club_ref(in, e) != 0) return -1;
    long long limit;
    const char *s;
    if (jsonx_int(in, "limit", 0, 1, 100, 20, &limit, e) != 0) return -1;
    if (jsonx_string(in, "after", 0, 1, 600, &s, e) != 0) return -1;
    if (jsonx_enum(in, "status", 0, status_values, &s, e) != 0) return -1;
    if (jsonx_string(in, "category", 0, 1, 40, &s, e) != 0) return -1;
    if (jsonx_string(in, "q", 0, 1, 200, &s, e) != 0) return -1;
    if (jsonx_enum(in, "sort", 0, sorts, &s, e) != 0) return -1;
    if (m_valid_date(in, "expires_before", e) != 0) return -1;
    return m_valid_date(in, "expires_after", e);
}

int members_validate_status(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "club_id", "status", "reason", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (m_valid_club_ref(in, e) != 0) return -1;
    if (m_valid_id(in, "id", e) != 0) return -1;
    const char *s;
    if (jsonx_enum(in, "status", 1, status_values, &s, e) != 0) return -1;
    return jsonx_string(in, "reason", 0, 1, 500, &s, e);
}

int members_validate_dependent(json_t *in, err_t *e) {
    json_t *copy = json_deep_copy(in);
    json_object_del(copy, "id");
    json_object_del(copy, "club_id");
    int rc = valid_dependent(copy, "", e);
    /* keep normalisation (address countries) */
    if (rc == 0) json_object_update(in, copy);
    json_decref(copy);
    if (rc != 0) return -1;
    if (m_valid_club_ref(in, e) != 0) return -1;
    return m_valid_id(in, "id", e);
}

static const char *const address_kinds[] = {"home", "work", "billing", NULL};

int members_validate_address_ref(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "club_id", "kind", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (m_valid_club_ref(in, e) != 0) return -1;
    if (m_valid_id(in, "id", e) != 0) return -1;
    const char *s;
    return jsonx_enum(in, "kind", 1, address_kinds, &s, e);
}

int members_validate_address(json_t *in, err_t *e) {
    const char *s;
    if (jsonx_enum(in, "kind", 1, address_kinds, &s, e) != 0) return -1;
    if (m_valid_club_ref(in, e) != 0) return -1;
    if (m_valid_id(in, "id", e) != 0) return -1;
    json_t *a = json_deep_copy(in);
    json_object_del(a, "id");
    json_object_del(a, "club_id");
    json_object_del(a, "kind");
    int rc = m_valid_address(a, "address", e);
    if (rc == 0) json_object_update(in, a);
    json_decref(a);
    if (rc != 0 && strncmp(e->field, "address.", 8) == 0) {
        char f[96];
        snprintf(f, sizeof f, "%s", e->field + 8);
        snprintf(e->field, sizeof e->field, "%s", f);
    }
    return rc;
}

int members_validate_directory(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", "limit", "after", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    long long limit;
    const char *s;
    if (jsonx_int(in, "limit", 0, 1, 100, 20, &limit, e) != 0) return -1;
    if (jsonx_string(in, "after", 0, 1, 400, &s, e) != 0) return -1;
    return m_valid_club_ref(in, e);
}

int members_validate_sweep(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", "as_of", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (m_valid_club_ref(in, e) != 0) return -1;
    return m_valid_date(in, "as_of", e);
}

int members_validate_settings(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", "number_pattern", "next_seq", "card_ttl_seconds",
                                       NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (m_valid_club_ref(in, e) != 0) return -1;
    const char *s;
    long long n;
    if (jsonx_string(in, "number_pattern", 0, 1, 40, &s, e) != 0) return -1;
    if (s) {
        char buf[64];
        int has_seq = strstr(s, "{seq") != NULL;
        for (const char *p = s; *p && has_seq; p++) {
            if (*p == '{') {
                const char *close = strchr(p, '}');
                size_t len = close ? (size_t)(close - p + 1) : 0;
                int ok = close && ((len == 6 && strncmp(p, "{yyyy}", 6) == 0) ||
                                   (len == 5 && strncmp(p, "{seq}", 5) == 0) ||
                                   (len >= 7 && len <= 8 && strncmp(p, "{seq:", 5) == 0 &&
                                    isdigit((unsigned char)p[5]) && p[5] != '0' &&
                                    (len == 7 || isdigit((unsigned char)p[6]))));
                if (!ok)
                    has_seq = 0;
                else
                    p = close;
            } else if (!isalnum((unsigned char)*p) && *p != '.' && *p != '/' && *p != '-') {
                has_seq = 0;
            }
        }
        if (!has_seq || m_format_number(s, 1, 2000, buf, sizeof buf) != 0 ||
            !isalnum((unsigned char)buf[0]))
            return err_set(e, 422, "invalid_field", "number_pattern",
                           "number_pattern must contain {seq} or {seq:N} and otherwise letters, "
                           "digits, '.', '/', '-' or {yyyy}, e.g. HC-{yyyy}-{seq:5}");
    }
    if (jsonx_int(in, "next_seq", 0, 1, 1000000000000LL, 1, &n, e) != 0) return -1;
    if (!json_is_null(json_object_get(in, "card_ttl_seconds")) && /* null = server default */
        jsonx_int(in, "card_ttl_seconds", 0, 60, 604800, 86400, &n, e) != 0)
        return -1;
    return 0;
}

int members_validate_category(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", "code", "name", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (m_valid_club_ref(in, e) != 0) return -1;
    const char *s;
    if (jsonx_string(in, "code", 1, 1, 40, &s, e) != 0) return -1;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-') ||
            !islower((unsigned char)s[0]))
            return err_set(e, 422, "invalid_field", "code",
                           "code must start with a lower-case letter and hold a-z, 0-9, _ or -");
    return jsonx_string(in, "name", 1, 1, 100, &s, e);
}

/* ---- create / get / me ---- */

static int fail_with(mctx_t *c, json_t **out) {
    if (*out) {
        json_decref(*out);
        *out = NULL;
    }
    m_rollback(c);
    return -1;
}

static json_t *created_event(const char *id, const char *primary, json_t *doc) {
    return json_pack("{s:s, s:s?, s:O?, s:O?}", "member_id", id, "primary_member_id", primary,
                     "category", json_object_get(doc, "category"), "status",
                     json_object_get(doc, "status"));
}

/* Invites the new member's email through the auth service (role member, the member's club)
 * and links the invited account: auth_user_id is the user the invitation creates, so the
 * member record is linked from the start and usable once the invitation is accepted
 * (POST /api/v1/auth/register). The caller needs auth:invite. The invitation commits in the
 * auth service before the member transaction does. */
static int invite_member(mctx_t *c, const char *id, json_t *doc, err_t *e) {
    const char *email =
        json_string_value(json_object_get(json_object_get(doc, "profile"), "email"));
    json_t *in = json_pack("{s:s, s:s, s:s}", "email", email ? email : "", "role", "member",
                           "club_id", c->club_id);
    json_t *res = NULL;
    int status = 0;
    err_t ie = {0};
    int rc =
        svc_call(c->call->env, "auth", "invite_member", c->call->caller, in, &status, &res, &ie);
    json_decref(in);
    if (rc != 0) {
        if (ie.status == 409)
            return err_set(e, 409, "conflict", "profile.email",
                           "an account with this email already exists in the club: link it "
                           "with auth_user_id instead of invite");
        if (ie.status == 403)
            return err_set(e, 403, "forbidden", "invite", "inviting needs auth:invite");
        *e = ie;
        if (!strcmp(e->field, "email")) snprintf(e->field, sizeof e->field, "profile.email");
        return -1;
    }
    const char *user = json_string_value(json_object_get(res, "user_id"));
    const char *p[] = {id, user};
    if (!user || db_exec_cmd(c->tx,
                             "UPDATE member.members SET auth_user_id = $2::uuid WHERE club_id = "
                             "core.current_club() AND id = $1::uuid",
                             2, p, e) < 0) {
        if (!user) err_set(e, 502, "bad_gateway", "", "the auth service sent no user id");
        if (e->status == 409) /* a pending invitation of this email, already linked */
            err_set(e, 409, "conflict", "profile.email",
                    "the account of this email is already linked to another member");
        json_decref(res);
        return -1;
    }
    json_object_set_new(doc, "auth_user_id", json_string(user));
    json_object_set_new(doc, "invitation",
                        json_pack("{s:s, s:s, s:O?}", "status", "sent", "user_id", user,
                                  "expires_at", json_object_get(res, "expires_at")));
    json_decref(res);
    return 0;
}

int members_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    char id[40];
    if (m_begin(call, in, &c, e) != 0) return -1;
    const char *status = json_string_value(json_object_get(in, "status"));
    if (!status) status = "pending";
    if (m_insert_member(&c, in, status, NULL, id, e) != 0) return fail_with(&c, out);
    *out = m_load(&c, id, 0, 1, NULL, NULL, e);
    if (!*out) return fail_with(&c, out);
    if (svc_emit(c.call, c.tx, "member.created", c.club_id, created_event(id, NULL, *out), e) != 0)
        return fail_with(&c, out);
    json_t *deps = json_object_get(in, "dependents");
    json_t *dep_docs = json_array();
    json_object_set_new(*out, "dependents", dep_docs);
    size_t i;
    json_t *d;
    json_array_foreach(deps, i, d) {
        char did[40];
        if (m_insert_member(&c, d, status, id, did, e) != 0) {
            char pre[48], f[96];
            snprintf(pre, sizeof pre, "dependents[%u].", (unsigned)(i % 100));
            m_join(f, sizeof f, pre, e->field);
            m_join(e->field, sizeof e->field, f, "");
            return fail_with(&c, out);
        }
        json_t *doc = m_load(&c, did, 0, 1, NULL, NULL, e);
        if (!doc) return fail_with(&c, out);
        json_array_append_new(dep_docs, doc);
        if (svc_emit(c.call, c.tx, "member.created", c.club_id, created_event(did, id, doc), e) !=
            0)
            return fail_with(&c, out);
    }
    if (json_is_true(json_object_get(in, "invite")) && invite_member(&c, id, *out, e) != 0)
        return fail_with(&c, out);
    if (m_commit(&c, e) != 0) return fail_with(&c, out);
    return 0;
}

int members_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    db_scope_t scope;
    int named = 0;
    char auth[40];
    if (m_prepare(call, in, &c, &scope, &named, e) != 0) return -1;
    /* one round trip: a read-only transaction with the one SELECT */
    *out = m_read(&c, &scope, named, json_string_value(json_object_get(in, "id")), c.can_read, auth,
                  e);
    if (!*out) return -1;
    if (m_require_read(&c, auth, e) != 0) {
        /* indistinguishable from absent for members probing other ids */
        if (e->status == 403) err_set(e, 404, "not_found", "id", "no member with this id");
        return fail_with(&c, out);
    }
    return 0;
}

/* The member linked to the signed-in caller in the club, into id (40 bytes). */
static int find_self(mctx_t *c, char *id, err_t *e) {
    const char *u = c->call->caller->user_id;
    if (!u[0])
        return err_set(e, 401, "unauthenticated", "", "this operation needs a signed-in caller");
    const char *p[] = {u};
    PGresult *r = db_exec(c->tx,
                          "SELECT id FROM member.members WHERE club_id = core.current_club() AND "
                          "auth_user_id = $1::uuid",
                          1, p, e);
    if (!r) return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(e, 404, "not_found", "", "you are not a member of this club");
    }
    snprintf(id, 40, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int members_me(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    char id[40];
    if (m_begin(call, in, &c, e) != 0) return -1;
    if (find_self(&c, id, e) != 0) return fail_with(&c, out);
    *out = m_load(&c, id, 0, 0, NULL, NULL, e);
    if (!*out) return fail_with(&c, out);
    return m_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}

/* ---- update ---- */

static void diff_object(json_t *before, json_t *after, const char *prefix, json_t *changed) {
    const char *k;
    json_t *v;
    json_object_foreach(after, k, v) {
        if (strcmp(k, "updated_at") == 0) continue;
        json_t *old = json_object_get(before, k);
        char name[96];
        m_join(name, sizeof name, prefix, k);
        if (!*prefix && (strcmp(k, "profile") == 0 || strcmp(k, "addresses") == 0) &&
            json_is_object(v)) {
            char pre[32];
            snprintf(pre, sizeof pre, "%s.", k);
            diff_object(old, v, pre, changed);
            /* addresses removed */
            const char *ok;
            json_t *ov;
            json_object_foreach(old, ok, ov) if (!json_object_get(v, ok)) {
                char pre2[40];
                m_join(name, sizeof name, m_join(pre2, sizeof pre2, k, "."), ok);
                json_array_append_new(changed, json_string(name));
            }
        } else if (!json_equal(old, v)) {
            json_array_append_new(changed, json_string(name));
        }
    }
}

static int self_may_patch(json_t *in, err_t *e) {
    static const char *const top[] = {"id",      "club_id",   "directory_opt_in",
                                      "profile", "addresses", NULL};
    static const char *const prof[] = {"preferred_name", "email",    "phone",
                                       "photo_url",      "language", NULL};
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v) {
        int ok = 0;
        for (const char *const *t = top; *t; t++)
            ok |= strcmp(*t, k) == 0;
        if (!ok)
            return err_set(e, 403, "forbidden", k, "members cannot change %s (member:write)", k);
    }
    json_object_foreach(json_object_get(in, "profile"), k, v) {
        int ok = 0;
        for (const char *const *t = prof; *t; t++)
            ok |= strcmp(*t, k) == 0;
        if (!ok)
            return err_set(e, 403, "forbidden", "profile", "members cannot change profile.%s", k);
    }
    return 0;
}

static int apply_addresses(mctx_t *c, const char *id, json_t *addrs, err_t *e) {
    const char *kind;
    json_t *a;
    json_object_foreach(addrs, kind, a) {
        if (json_is_null(a)) {
            const char *p[] = {id, kind};
            if (db_exec_cmd(c->tx,
                            "DELETE FROM member.addresses WHERE club_id = core.current_club() "
                            "AND member_id = $1::uuid AND kind = $2",
                            2, p, e) < 0)
                return -1;
            continue;
        }
        char *js = jsonx_dump(a);
        const char *p[] = {id, kind, js};
        long long n = db_exec_cmd(
            c->tx,
            "INSERT INTO member.addresses AS t (club_id, member_id, kind, lines, city, region, "
            "postal_code, country) SELECT core.current_club(), $1::uuid, $2, ARRAY(SELECT "
            "jsonb_array_elements_text(coalesce(nullif(x->'lines', 'null'), '[]'))), "
            "x->>'city', x->>'region', x->>'postal_code', x->>'country' FROM (SELECT $3::jsonb "
            "AS x) s ON CONFLICT (club_id, member_id, kind) DO UPDATE SET lines = "
            "EXCLUDED.lines, city = EXCLUDED.city, region = EXCLUDED.region, postal_code = "
            "EXCLUDED.postal_code, country = EXCLUDED.country, updated_at = now()",
            3, p, e);
        free(js);
        if (n < 0) return -1;
    }
    return 0;
}

/* Applies a validated patch to member id (already locked); emits member.updated. */
static int apply_patch(mctx_t *c, const char *id, json_t *in, json_t *before, json_t **out,
                       err_t *e) {
    json_t *patch = json_deep_copy(in);
    json_object_del(patch, "id");
    json_object_del(patch, "club_id");
    json_object_del(patch, "addresses");
    char *ps = jsonx_dump(patch);
    json_decref(patch);
    const char *p[] = {id, ps};
    long long n = db_exec_cmd(
        c->tx,
        "UPDATE member.members SET "
        "member_number = CASE WHEN p ? 'member_number' THEN p->>'member_number' ELSE "
        "member_number END, "
        "category = CASE WHEN p ? 'category' THEN p->>'category' ELSE category END, "
        "joined_on = CASE WHEN p ? 'joined_on' THEN (p->>'joined_on')::date ELSE joined_on END, "
        "expires_on = CASE WHEN p ? 'expires_on' THEN (p->>'expires_on')::date ELSE expires_on "
        "END, "
        "home_club_id = CASE WHEN p ? 'home_club_id' THEN coalesce((p->>'home_club_id')::uuid, "
        "club_id) ELSE home_club_id END, "
        "auth_user_id = CASE WHEN p ? 'auth_user_id' THEN (p->>'auth_user_id')::uuid ELSE "
        "auth_user_id END, "
        "directory_opt_in = CASE WHEN p ? 'directory_opt_in' THEN "
        "(p->>'directory_opt_in')::boolean "
        "ELSE directory_opt_in END, updated_at = now() "
        "FROM (SELECT $2::jsonb AS p) x WHERE club_id = core.current_club() AND id = $1::uuid",
        2, p, e);
    if (n >= 0 && json_object_get(in, "profile"))
        n = db_exec_cmd(
            c->tx,
            "UPDATE member.profiles SET "
            "first_name = CASE WHEN q ? 'first_name' THEN q->>'first_name' ELSE first_name END, "
            "last_name = CASE WHEN q ? 'last_name' THEN q->>'last_name' ELSE last_name END, "
            "preferred_name = CASE WHEN q ? 'preferred_name' THEN q->>'preferred_name' ELSE "
            "preferred_name END, "
            "email = CASE WHEN q ? 'email' THEN q->>'email' ELSE email END, "
            "phone = CASE WHEN q ? 'phone' THEN q->>'phone' ELSE phone END, "
            "date_of_birth = CASE WHEN q ? 'date_of_birth' THEN (q->>'date_of_birth')::date ELSE "
            "date_of_birth END, "
            "photo_url = CASE WHEN q ? 'photo_url' THEN q->>'photo_url' ELSE photo_url END, "
            "language = CASE WHEN q ? 'language' THEN q->>'language' ELSE language END, "
            "staff_notes = CASE WHEN q ? 'staff_notes' THEN q->>'staff_notes' ELSE staff_notes "
            "END, updated_at = now() "
            "FROM (SELECT $2::jsonb->'profile' AS q) x WHERE club_id = core.current_club() AND "
            "member_id = $1::uuid",
            2, p, e);
    free(ps);
    if (n < 0) {
        if (e->status == 409 && strstr(e->field, "auth_user"))
            err_set(e, 409, "conflict", "auth_user_id", "this auth user is already a member");
        else if (e->status == 409 && strstr(e->field, "number"))
            err_set(e, 409, "conflict", "member_number", "this member_number is already taken");
        else if (e->status == 409)
            err_set(e, 409, "conflict", "home_club_id", "home_club_id is not a club");
        else if (e->status == 422 && strstr(e->message, "category"))
            err_set(e, 422, "invalid_field", "category", "category is not a category of this club");
        return -1;
    }
    json_t *addrs = json_object_get(in, "addresses");
    if (json_is_object(addrs) && apply_addresses(c, id, addrs, e) != 0) return -1;
    *out = m_load(c, id, 0, 1, NULL, NULL, e);
    if (!*out) return -1;
    json_t *changed = json_array();
    diff_object(before, *out, "", changed);
    if (json_array_size(changed) == 0) {
        json_decref(changed);
        return 0;
    }
    return svc_emit(c->call, c->tx, "member.updated", c->club_id,
                    json_pack("{s:s, s:o}", "member_id", id, "changed_fields", changed), e);
}

int members_update(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    char auth[40];
    const char *id = json_string_value(json_object_get(in, "id"));
    if (m_begin(call, in, &c, e) != 0) return -1;
    json_t *before = m_load(&c, id, 1, 1, auth, NULL, e);
    if (!before) return fail_with(&c, out);
    int rc = -1;
    if (!c.can_write) {
        if (!m_is_self(&c, auth)) {
            if (m_require_read(&c, auth, e) == 0 || e->status == 403)
                err_set(e, c.can_read ? 403 : 404, c.can_read ? "forbidden" : "not_found",
                        c.can_read ? "" : "id",
                        c.can_read ? "changing members needs member:write"
                                   : "no member with this id");
            goto done;
        }
        if (self_may_patch(in, e) != 0) goto done;
    }
    if (json_is_true(json_object_get(before, "erased"))) {
        err_set(e, 409, "erased", "id", "this member was erased and cannot be changed");
        goto done;
    }
    json_t *link = json_object_get(in, "auth_user_id");
    if (link) { /* a new link (or unlinking) is an admin's, to an account of the club */
        const char *want = json_string_value(link);
        if (strcasecmp(want ? want : "", auth) != 0 && m_check_link(&c, want, e) != 0) goto done;
    }
    rc = apply_patch(&c, id, in, before, out, e);
done:
    json_decref(before);
    if (rc != 0) return fail_with(&c, out);
    return m_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}

/* ---- list / search ---- */

/* key: the sort expression (its text is the cursor key); cast: the cursor key parameter as
 * the same type. created_at sorts on the column itself, so the default listing walks the index
 * (club_id, created_at, id) under RLS (timestamptz/uuid comparisons are leakproof) instead of
 * sorting the whole club; the others are text keys in the C collation. */
static const struct {
    const char *name;
    const char *key;
    const char *cast;
    const char *id; /* the member id beside the key in the order and the cursor */
} sort_keys[] = {
    {"created_at", "m.created_at", "::timestamptz", "m.id"},
    {"member_number", "lower(m.member_number) COLLATE \"C\"", "::text COLLATE \"C\"", "m.id"},
    /* = lower(p.last_name || ' ' || p.first_name) COLLATE "C" (a stored column, migration
     * 0006): with p.member_id, the order and the cursor of the index profiles_name_key_idx */
    {"name", "p.name_key", "::text COLLATE \"C\"", "p.member_id"},
    {"joined_on", "to_char(m.joined_on, 'YYYY-MM-DD') COLLATE \"C\"", "::text COLLATE \"C\"",
     "m.id"},
    {"expires_on", "coalesce(to_char(m.expires_on, 'YYYY-MM-DD'), '9999-12-31') COLLATE \"C\"",
     "::text COLLATE \"C\"", "m.id"},
};

#define MAX_SEARCH_WORDS 8

static int is_word_byte(char c) {
    unsigned char ch = (unsigned char)c;
    return isalnum(ch) || ch >= 0x80;
}

/* Splits q into its words (letters, digits, any non-ASCII byte; other characters split
 * words), at most MAX_SEARCH_WORDS (later ones are ignored). buf receives the NUL-terminated
 * copies and needs strlen(q) + 1 bytes. Returns the number of words. */
static int split_words(const char *q, char *buf, const char *words[MAX_SEARCH_WORDS]) {
    int n = 0;
    size_t o = 0;
    const char *p = q;
    while (*p && n < MAX_SEARCH_WORDS) {
        while (*p && !is_word_byte(*p))
            p++;
        if (!*p) break;
        words[n++] = buf + o;
        while (*p && is_word_byte(*p))
            buf[o++] = *p++;
        buf[o++] = '\0';
    }
    return n;
}

/* The page's documents: of m and p (joined), and of the whole rows x.m and x.p. */
static const char k_doc_m[] = M_DOC_SQL("$1::boolean") "::text";
static const char k_doc_x[] = M_DOC_EXPR("x.m", "x.p", "x.club_id", "x.id", "$1::boolean") "::text";

/* One list/search statement: its text and parameters (pointing into in, and into this). */
typedef struct list_sql {
    char sql[12288];
    const char *p[16 + MAX_SEARCH_WORDS];
    int np;
    char ck[512], cid[40], qbuf[1024];
} list_sql_t;

/* Adds a parameter; returns its number ($n). */
static int list_param(list_sql_t *s, const char *v) {
    s->p[s->np++] = v;
    return s->np;
}

/* Builds the statement of a list/search (explain: EXPLAIN (FORMAT JSON) of it). Only the
 * filters present are in the text, and the limit is a literal: a prepared statement then gets
 * a generic plan (planned once per connection) instead of a custom plan per execution, which
 * PostgreSQL otherwise keeps choosing because "$n IS NULL OR ..." conditions and a parameter
 * LIMIT make the generic plan look expensive. 0, or -1 with *e (invalid cursor). */
static int list_sql(list_sql_t *s, json_t *in, int staff, long long limit, int explain, err_t *e) {
    const char *sort = json_string_value(json_object_get(in, "sort"));
    if (!sort) sort = "created_at";
    int desc = sort[0] == '-';
    const char *sname = desc ? sort + 1 : sort;
    const char *key = sort_keys[0].key, *cast = sort_keys[0].cast, *kid = sort_keys[0].id;
    for (size_t i = 0; i < sizeof sort_keys / sizeof sort_keys[0]; i++)
        if (strcmp(sort_keys[i].name, sname) == 0)
            key = sort_keys[i].key, cast = sort_keys[i].cast, kid = sort_keys[i].id;
    s->np = 0;
    s->ck[0] = s->cid[0] = '\0';
    const char *after = json_string_value(json_object_get(in, "after"));
    if (after) {
        size_t n = 0;
        unsigned char *raw = jsonx_b64url_decode(after, &n);
        json_t *cj = raw ? json_loadb((const char *)raw, n, 0, NULL) : NULL;
        free(raw);
        const char *cs = json_string_value(json_array_get(cj, 0));
        const char *kv = json_string_value(json_array_get(cj, 1));
        const char *iv = json_string_value(json_array_get(cj, 2));
        int ok = cs && kv && iv && strcmp(cs, sort) == 0 && jsonx_is_uuid(iv) &&
                 strlen(kv) < sizeof s->ck;
        if (ok) snprintf(s->ck, sizeof s->ck, "%s", kv), snprintf(s->cid, sizeof s->cid, "%s", iv);
        json_decref(cj);
        if (!ok)
            return err_set(e, 400, "invalid_cursor", "after",
                           "after must be a next_cursor value returned by this list with the "
                           "same sort");
    }
    const char *q = json_string_value(json_object_get(in, "q"));
    list_param(s, staff ? "t" : "f"); /* $1 */
    /* the filters present, on m */
    char filters[1024] = "";
    size_t fo = 0;
    static const struct {
        const char *field, *fmt;
    } fs[] = {
        {"status", "AND m.status = $%d::member.member_status_enum "},
        {"category", "AND m.category = $%d::text "},
        {"expires_before", "AND m.expires_on < $%d::date "},
        {"expires_after", "AND m.expires_on > $%d::date "},
    };
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        const char *v = json_string_value(json_object_get(in, fs[i].field));
        if (v)
            fo += (size_t)snprintf(filters + fo, sizeof filters - fo, fs[i].fmt, list_param(s, v));
    }
    /* Text search on member.search_words (migrations 0004, 0005): under RLS only leakproof
     * comparisons of plain columns can be index conditions. Every word of q must be a prefix
     * of a word of the member's names/email (one range per word, INTERSECT), or q a prefix of
     * the member number (UNION). A prefix p is [lower(p), lower(p) || U+10FFFF) in the C
     * collation. The set yields (member_id, created_at) or (member_id, name_key): the word
     * rows carry their member's created_at (0005) and the name rows (kind w) their profile's
     * name_key (0007) in the primary key index. */
    char hits[4096] = ""; /* q: <= 200 code points = 800 bytes */
    const char *words[MAX_SEARCH_WORDS];
    int nw = 0, by_created = q && strcmp(sname, "created_at") == 0;
    int by_name = q && strcmp(sname, "name") == 0;
    const char *cols = by_created ? "member_id, w.created_at"
                       : by_name  ? "member_id, w.name_key"
                                  : "member_id";
    /* member number rows carry no name key (0007): looked up in profiles per match */
    const char *ncols = by_name ? "member_id, (SELECT p.name_key FROM member.profiles p WHERE "
                                  "p.club_id = core.current_club() AND p.member_id = w.member_id)"
                                : cols;
    if (q) {
        nw = strlen(q) < sizeof s->qbuf ? split_words(q, s->qbuf, words) : 0;
        /* Prefixes of 3+ bytes: the bounds are uncorrelated sub-selects (InitPlans), so the
         * planner estimates them without their values in every plan, custom or generic, and
         * the prepared statement keeps one generic plan (a custom plan per execution was a
         * third of the database time of a search). Such prefixes are selective and the plan
         * is the same either way. Shorter ones (`s`, `m0`) can match most of the club: there
         * the values are plain parameters, planned with the word statistics each time. */
        int selective = strlen(q) >= 3;
        for (int i = 0; i < nw; i++)
            if (strlen(words[i]) < 3) selective = 0;
        char lo_k[64], hi_k[64];
        size_t o = 0;
        for (int i = 0; i <= nw; i++) {
            int k = list_param(s, i < nw ? words[i] : q);
            snprintf(lo_k, sizeof lo_k, selective ? "(SELECT lower($%d))" : "lower($%d)", k);
            snprintf(hi_k, sizeof hi_k,
                     selective ? "(SELECT lower($%d) || chr(1114111))"
                               : "(lower($%d) || chr(1114111))",
                     k);
            if (i < nw)
                o += (size_t)snprintf(hits + o, sizeof hits - o,
                                      "%s(SELECT w.%s FROM member.search_words w WHERE w.club_id = "
                                      "core.current_club() AND w.kind = 'w' AND w.word >= %s "
                                      "COLLATE \"C\" AND w.word < %s COLLATE \"C\") ",
                                      i ? "INTERSECT " : "", cols, lo_k, hi_k);
            else
                snprintf(hits + o, sizeof hits - o,
                         "%sSELECT w.%s FROM member.search_words w WHERE w.club_id = "
                         "core.current_club() AND w.kind = 'n' AND w.word >= %s COLLATE \"C\" AND "
                         "w.word < %s COLLATE \"C\"",
                         nw ? "UNION " : "", ncols, lo_k, hi_k);
        }
    }
    char cur[256] = "";
    if (after) {
        int k = list_param(s, s->ck), ki = list_param(s, s->cid);
        snprintf(cur, sizeof cur, "AND (%s, %s) %s ($%d%s, $%d::uuid) ",
                 by_created ? "h.created_at"
                 : by_name  ? "h.name_key"
                 : q        ? "x.k"
                            : key,
                 by_created || by_name ? "h.member_id"
                 : q                   ? "x.id"
                                       : kid,
                 desc ? "<" : ">", k, by_created ? "::timestamptz" : cast, ki);
    }
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", limit > 0 ? limit : 1000000000LL);
    const char *dir = desc ? "DESC" : "ASC";
    size_t so =
        (size_t)snprintf(s->sql, sizeof s->sql, "%s", explain ? "EXPLAIN (FORMAT JSON) " : "");
    if (by_created)
        /* Search in the default order: the matches and their sort key come from the index
         * alone (no member row is read to sort them); sorted there, they drive primary-key
         * lookups of members (and profiles) in that order until the page is full, so a page
         * reads its own members plus the ones the filters reject, not every match. The order
         * (h.created_at, h.member_id) is (m.created_at, m.id): the triggers keep the copy.
         * Without filters every match is on the page in that order (every word row has its
         * member, foreign key, and every member its profile, inserted together, never
         * deleted), so the matches are cut to the page before the join too: a bounded (top-N)
         * sort instead of sorting them all. */
        snprintf(s->sql + so, sizeof s->sql - so,
                 "SELECT %s, m.created_at, m.id "
                 "FROM (SELECT h.member_id, h.created_at FROM (%s) h WHERE TRUE %s"
                 "ORDER BY h.created_at %s, h.member_id %s%s%s) h "
                 "JOIN member.members m ON m.club_id = core.current_club() AND m.id = h.member_id "
                 "JOIN member.profiles p ON p.club_id = m.club_id AND p.member_id = m.id "
                 "WHERE TRUE %sORDER BY h.created_at %s, h.member_id %s LIMIT %s",
                 k_doc_m, hits, cur, dir, dir, filters[0] ? "" : " LIMIT ", filters[0] ? "" : lim,
                 filters, dir, dir, lim);
    else if (by_name)
        /* Search by name: the same with the name key the word rows carry (0007): the matches
         * sorted on (name_key, member_id) from the index alone, then each one's member and
         * profile read by primary key in that order (LATERAL, OFFSET 0: always a
         * parameterised nested loop, whatever the statistics) until the filters have let the
         * page through; without filters the matches are cut to the page first. The order and
         * the cursor (h.name_key, h.member_id) are (p.name_key, p.member_id): the profiles
         * trigger keeps the copy in the name rows, number matches look it up (ncols). */
        snprintf(s->sql + so, sizeof s->sql - so,
                 "SELECT %s, x.k, x.id "
                 "FROM (SELECT h.member_id, h.name_key FROM (%s) h WHERE TRUE %s"
                 "ORDER BY h.name_key %s, h.member_id %s%s%s) h "
                 "CROSS JOIN LATERAL (SELECT m, p, p.name_key AS k, m.id, m.club_id "
                 "FROM member.members m "
                 "JOIN member.profiles p ON p.club_id = m.club_id AND p.member_id = m.id "
                 "WHERE m.club_id = core.current_club() AND m.id = h.member_id %sOFFSET 0) x "
                 "ORDER BY h.name_key %s, h.member_id %s LIMIT %s",
                 k_doc_x, hits, cur, dir, dir, filters[0] ? "" : " LIMIT ", filters[0] ? "" : lim,
                 filters, dir, dir, lim);
    else if (q)
        /* Search in another order: each match's member and profile are read by primary key
         * (a LATERAL subquery kept apart by OFFSET 0, so always a parameterised nested loop:
         * joined as sets, PostgreSQL chose a sequential scan of every member of the club and
         * a hash join, evaluating the RLS condition per row: ~45 ms at 100,000 members), the
         * matches sorted on their key, and the documents built for the page only (the
         * document expression is evaluated after the sort and limit). x.m and x.p are whole
         * rows. */
        snprintf(s->sql + so, sizeof s->sql - so,
                 "SELECT %s, x.k, x.id FROM (%s) h "
                 "CROSS JOIN LATERAL (SELECT m, p, %s AS k, m.id, m.club_id FROM member.members m "
                 "JOIN member.profiles p ON p.club_id = m.club_id AND p.member_id = m.id "
                 "WHERE m.club_id = core.current_club() AND m.id = h.member_id %sOFFSET 0) x "
                 "WHERE TRUE %sORDER BY 2 %s, 3 %s LIMIT %s",
                 k_doc_x, hits, key, filters, cur, dir, dir, lim);
    else if (strcmp(sname, "name") == 0)
        /* The list by name walks profiles_name_key_idx (club_id, name_key, member_id) and reads
         * each profile's member by primary key (LATERAL, OFFSET 0: always a parameterised
         * nested loop) until the filters have let the page through. As a plain join the plan
         * depended on the statistics: right after a bulk import, before autovacuum had
         * analyzed the tables, PostgreSQL estimated a few hundred members in the club,
         * materialised all of them (100,000) and compared every page row with each: ~170 ms
         * per page (p99 over 1 s in make bench) instead of ~1 ms. Every profile has its member
         * (foreign key), so the rows are those of the join. */
        snprintf(s->sql + so, sizeof s->sql - so,
                 "SELECT %s, p.name_key, p.member_id FROM member.profiles p "
                 "CROSS JOIN LATERAL (SELECT m, p, m.id, m.club_id FROM member.members m "
                 "WHERE m.club_id = core.current_club() AND m.id = p.member_id %sOFFSET 0) x "
                 "WHERE p.club_id = core.current_club() %sORDER BY 2 %s, 3 %s LIMIT %s",
                 k_doc_x, filters, cur, dir, dir, lim);
    else
        snprintf(s->sql + so, sizeof s->sql - so,
                 "SELECT %s, %s, m.id FROM member.members m JOIN member.profiles p ON "
                 "p.club_id = m.club_id AND p.member_id = m.id WHERE m.club_id = "
                 "core.current_club() %s%sORDER BY 2 %s, %s %s LIMIT %s",
                 k_doc_m, key, filters, cur, dir, kid, dir, lim);
    return 0;
}

static PGresult *list_query(db_tx_t *tx, json_t *in, int staff, long long limit, int explain,
                            err_t *e) {
    list_sql_t *s = malloc(sizeof *s);
    if (!s) {
        err_set(e, 500, "internal", "", "out of memory");
        return NULL;
    }
    PGresult *r =
        list_sql(s, in, staff, limit, explain, e) == 0 ? db_exec(tx, s->sql, s->np, s->p, e) : NULL;
    free(s);
    return r;
}

PGresult *members_query(db_tx_t *tx, json_t *in, int staff, long long limit, err_t *e) {
    return list_query(tx, in, staff, limit, 0, e);
}

PGresult *members_query_plan(db_tx_t *tx, json_t *in, long long limit, err_t *e) {
    return list_query(tx, in, 1, limit, 1, e);
}

int members_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    db_scope_t scope;
    int named = 0;
    long long limit = 20;
    jsonx_int(in, "limit", 0, 1, 100, 20, &limit, e);
    if (m_prepare(call, in, &c, &scope, &named, e) != 0) return -1;
    /* One round trip (db_read: BEGIN READ ONLY, scope, the statement, COMMIT). A club named by
     * the caller is checked only when the answer could depend on it (no rows, or an error):
     * in a club that does not exist RLS shows no rows, and m_begin answered 404 club_id. */
    list_sql_t *s = malloc(sizeof *s);
    if (!s) return err_set(e, 500, "internal", "", "out of memory");
    PGresult *r = list_sql(s, in, 1, limit + 1, 0, e) == 0
                      ? db_read(call->env->db, &scope, s->sql, s->np, s->p, e)
                      : NULL;
    free(s);
    if ((!r || PQntuples(r) == 0) && named && m_require_club(&c, &scope, e) != 0) {
        PQclear(r);
        return -1;
    }
    if (!r) return -1;
    int n = PQntuples(r), shown = n > limit ? (int)limit : n;
    json_t *items = json_array();
    for (int i = 0; i < shown; i++) {
        json_t *doc = db_json(r, i, 0, e);
        if (!doc) {
            json_decref(items);
            PQclear(r);
            return fail_with(&c, out);
        }
        json_array_append_new(items, doc);
    }
    json_t *next = json_null();
    if (n > limit) {
        const char *sort = json_string_value(json_object_get(in, "sort"));
        json_t *cj = json_pack("[s, s, s]", sort ? sort : "created_at", PQgetvalue(r, shown - 1, 1),
                               PQgetvalue(r, shown - 1, 2));
        char *cs = jsonx_dump(cj);
        char *b = jsonx_b64url_encode((const unsigned char *)cs, strlen(cs));
        next = json_string(b);
        free(cs), free(b);
        json_decref(cj);
    }
    PQclear(r);
    *out = json_pack("{s:o, s:o}", "items", items, "next_cursor", next);
    return 0;
}

/* ---- status ---- */

int members_transition(mctx_t *c, const char *id, const char *to, const char *reason,
                       json_t **changes, err_t *e) {
    const char *p0[] = {id, to};
    PGresult *r = db_exec(c->tx,
                          "SELECT m.status::text, $2::member.member_status_enum = ANY "
                          "(member.allowed_next(m.status)), array_to_string(member.allowed_next("
                          "m.status), ', '), coalesce(m.expires_on < current_date, false), "
                          "coalesce(to_char(m.expires_on, 'YYYY-MM-DD'), '') FROM member.members "
                          "m WHERE m.club_id = core.current_club() AND m.id = $1::uuid FOR UPDATE",
                          2, p0, e);
    if (!r) return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(e, 404, "not_found", "id", "no member with this id");
    }
    if (strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
        const char *allowed = PQgetvalue(r, 0, 2);
        err_set(e, 409, "invalid_transition", "status", "a %s member cannot become %s; allowed: %s",
                PQgetvalue(r, 0, 0), to, *allowed ? allowed : "none (final status)");
        PQclear(r);
        return -1;
    }
    if (strcmp(PQgetvalue(r, 0, 0), "lapsed") == 0 && strcmp(to, "active") == 0 &&
        strcmp(PQgetvalue(r, 0, 3), "t") == 0) {
        err_set(e, 409, "renewal_required", "expires_on",
                "the membership expired on %s: renew it with POST /api/v1/members/{id}/renew "
                "and a new expires_on",
                PQgetvalue(r, 0, 4));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    const svc_caller_t *k = c->call->caller;
    const char *p[] = {id, to, reason, k->user_id[0] ? k->user_id : NULL,
                       k->request_id[0] ? k->request_id : NULL};
    r = db_exec(c->tx,
                "SELECT member_id, from_status::text, to_status::text, cascade_of FROM "
                "member.change_status($1::uuid, $2::member.member_status_enum, $3, $4::uuid, $5)",
                5, p, e);
    if (!r) return -1;
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *ch = json_pack("{s:s, s:s, s:s, s:s?}", "member_id", PQgetvalue(r, i, 0), "from",
                               PQgetvalue(r, i, 1), "to", PQgetvalue(r, i, 2), "cascade_of",
                               PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3));
        json_array_append(list, ch);
        if (svc_emit(c->call, c->tx, "member.status_changed", c->club_id, ch, e) != 0) {
            PQclear(r);
            json_decref(list);
            return -1;
        }
    }
    PQclear(r);
    if (changes)
        *changes = list;
    else
        json_decref(list);
    return 0;
}

int members_set_status(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    json_t *changes = NULL;
    const char *id = json_string_value(json_object_get(in, "id"));
    if (m_begin(call, in, &c, e) != 0) return -1;
    if (members_transition(&c, id, json_string_value(json_object_get(in, "status")),
                           json_string_value(json_object_get(in, "reason")), &changes, e) != 0)
        return fail_with(&c, out);
    *out = m_load(&c, id, 0, 1, NULL, NULL, e);
    if (!*out) {
        json_decref(changes);
        return fail_with(&c, out);
    }
    json_object_set_new(*out, "changes", changes);
    return m_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}

/* ---- renewal ---- */

int members_validate_renew(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "club_id", "expires_on", "reason", "dependents", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (m_valid_club_ref(in, e) != 0) return -1;
    if (m_valid_id(in, "id", e) != 0) return -1;
    const char *s;
    if (jsonx_string(in, "expires_on", 1, 10, 10, &s, e) != 0) return -1;
    if (m_valid_date(in, "expires_on", e) != 0) return -1;
    if (jsonx_string(in, "reason", 0, 1, 500, &s, e) != 0) return -1;
    json_t *d = json_object_get(in, "dependents");
    if (d && !json_is_boolean(d))
        return err_set(e, 422, "invalid_field", "dependents", "dependents must be true or false");
    return 0;
}

static json_t *renewed_event(const char *id, const char *with, const char *prev, const char *to) {
    return json_pack("{s:s, s:s?, s:s?, s:s}", "member_id", id, "renewed_with", with,
                     "previous_expires_on", prev && *prev ? prev : NULL, "expires_on", to);
}

int members_renew(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    char status[16];
    json_t *changes = NULL, *extended = json_array();
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *until = json_string_value(json_object_get(in, "expires_on"));
    const char *reason = json_string_value(json_object_get(in, "reason"));
    int with_deps = !json_is_false(json_object_get(in, "dependents"));
    const svc_caller_t *k = call->caller;
    char why[600];
    if (m_begin(call, in, &c, e) != 0) {
        json_decref(extended);
        return -1;
    }
    json_t *before = m_load(&c, id, 1, 1, NULL, status, e);
    if (!before) goto fail;
    const char *prev = json_string_value(json_object_get(before, "expires_on"));
    if (json_is_true(json_object_get(before, "erased")) || !strcmp(status, "resigned") ||
        !strcmp(status, "deceased")) {
        err_set(e, 409, "conflict", "status", "a %s membership cannot be renewed",
                json_is_true(json_object_get(before, "erased")) ? "erased" : status);
        goto fail;
    }
    if (!json_is_null(json_object_get(before, "primary_member_id"))) {
        err_set(e, 409, "conflict", "id",
                "dependents are renewed with their primary member (POST "
                "/api/v1/members/{primary}/renew)");
        goto fail;
    }
    char today[16];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    if (strcmp(until, today) < 0 || (prev && strcmp(until, prev) <= 0)) {
        err_set(e, 422, "invalid_field", "expires_on",
                "expires_on must be today or later and later than the current expiry%s%s",
                prev ? " " : "", prev ? prev : "");
        goto fail;
    }
    const char *p[] = {id, until};
    if (db_exec_cmd(c.tx,
                    "UPDATE member.members SET expires_on = $2::date, updated_at = now() WHERE "
                    "club_id = core.current_club() AND id = $1::uuid",
                    2, p, e) < 0)
        goto fail;
    if (svc_emit(c.call, c.tx, "member.renewed", c.club_id, renewed_event(id, NULL, prev, until),
                 e) != 0)
        goto fail;
    if (with_deps) { /* dependents with an earlier expiry follow (not ended ones) */
        PGresult *r = db_exec(c.tx,
                              "WITH d AS (SELECT id, to_char(expires_on, 'YYYY-MM-DD') AS prev "
                              "FROM member.members WHERE club_id = core.current_club() AND "
                              "primary_member_id = $1::uuid AND expires_on < $2::date AND status "
                              "NOT IN ('resigned', 'deceased') AND erased_at IS NULL FOR UPDATE) "
                              "UPDATE member.members m SET expires_on = $2::date, updated_at = "
                              "now() FROM d WHERE m.club_id = core.current_club() AND m.id = d.id "
                              "RETURNING m.id, d.prev",
                              2, p, e);
        if (!r) goto fail;
        for (int i = 0; i < PQntuples(r); i++) {
            json_array_append_new(extended, json_string(PQgetvalue(r, i, 0)));
            if (svc_emit(c.call, c.tx, "member.renewed", c.club_id,
                         renewed_event(PQgetvalue(r, i, 0), id, PQgetvalue(r, i, 1), until),
                         e) != 0) {
                PQclear(r);
                goto fail;
            }
        }
        PQclear(r);
    }
    snprintf(why, sizeof why, "%s", reason ? reason : "renewed");
    if (!strcmp(status, "lapsed") && members_transition(&c, id, "active", why, &changes, e) != 0)
        goto fail;
    const char *pa[] = {id, k->user_id[0] ? k->user_id : NULL,
                        k->request_id[0] ? k->request_id : NULL,
                        changes ? "{expires_on,status}" : "{expires_on}"};
    if (db_exec_cmd(c.tx,
                    "INSERT INTO member.audit_log (club_id, member_id, action, actor, request_id, "
                    "fields) VALUES (core.current_club(), $1::uuid, 'renew', $2::uuid, $3, "
                    "$4::text[])",
                    4, pa, e) < 0)
        goto fail;
    *out = m_load(&c, id, 0, 1, NULL, NULL, e);
    if (!*out) goto fail;
    json_object_set_new(*out, "changes", changes ? changes : json_array());
    changes = NULL;
    json_object_set_new(*out, "extended_dependents", extended);
    extended = NULL;
    json_decref(before);
    return m_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
fail:
    json_decref(before);
    json_decref(changes);
    json_decref(extended);
    return fail_with(&c, out);
}

int members_history(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    const char *id = json_string_value(json_object_get(in, "id"));
    if (m_begin(call, in, &c, e) != 0) return -1;
    const char *p[] = {id};
    PGresult *r = db_exec(
        c.tx,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('from', h.from_status, 'to', h.to_status, "
        "'reason', h.reason, 'changed_by', h.changed_by, 'request_id', h.request_id, "
        "'cascade_of', h.cascade_of, 'changed_at', to_char(h.changed_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) ORDER BY h.changed_at), '[]')::text, "
        "EXISTS (SELECT 1 FROM member.members m WHERE m.club_id = core.current_club() AND m.id = "
        "$1::uuid) FROM member.status_history h WHERE h.club_id = core.current_club() AND "
        "h.member_id = $1::uuid",
        1, p, e);
    if (!r) return fail_with(&c, out);
    if (strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
        PQclear(r);
        err_set(e, 404, "not_found", "id", "no member with this id");
        return fail_with(&c, out);
    }
    json_t *items = db_json(r, 0, 0, e);
    PQclear(r);
    if (!items) return fail_with(&c, out);
    *out = json_pack("{s:o}", "items", items);
    return m_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}

/* ---- dependents ---- */

int members_add_dependent(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    char did[40], status[16];
    const char *id = json_string_value(json_object_get(in, "id"));
    if (m_begin(call, in, &c, e) != 0) return -1;
    json_t *primary = m_load(&c, id, 1, 1, NULL, status, e);
    if (!primary) return fail_with(&c, out);
    int is_dep = !json_is_null(json_object_get(primary, "primary_member_id"));
    json_decref(primary);
    if (is_dep) {
        err_set(e, 409, "conflict", "id", "a dependent cannot have dependents");
        return fail_with(&c, out);
    }
    if (strcmp(status, "pending") != 0 && strcmp(status, "active") != 0) {
        err_set(e, 409, "conflict", "id",
                "the primary member is %s: dependents need a pending or "
                "active primary member",
                status);
        return fail_with(&c, out);
    }
    json_t *d = json_deep_copy(in);
    json_object_del(d, "id");
    json_object_del(d, "club_id");
    int rc = m_insert_member(&c, d, status, id, did, e);
    json_decref(d);
    if (rc != 0) return fail_with(&c, out);
    *out = m_load(&c, did, 0, 1, NULL, NULL, e);
    if (!*out) return fail_with(&c, out);
    if (svc_emit(c.call, c.tx, "member.created", c.club_id, created_event(did, id, *out), e) != 0)
        return fail_with(&c, out);
    return m_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}

int members_list_dependents(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    char auth[40];
    const char *id = json_string_value(json_object_get(in, "id"));
    if (m_begin(call, in, &c, e) != 0) return -1;
    json_t *primary = m_load(&c, id, 0, 0, auth, NULL, e);
    if (!primary) return fail_with(&c, out);
    json_decref(primary);
    if (m_require_read(&c, auth, e) != 0) {
        if (e->status == 403) err_set(e, 404, "not_found", "id", "no member with this id");
        return fail_with(&c, out);
    }
    const char *p[] = {id, c.can_read ? "t" : "f"};
    PGresult *r = db_exec(
        c.tx,
        "SELECT coalesce(jsonb_agg(" M_DOC_SQL(
            "$2::boolean") " ORDER BY "
                           "m.created_at, m.id), '[]')::text FROM member.members m LEFT JOIN "
                           "member.profiles p ON p.club_id = m.club_id AND p.member_id = m.id "
                           "WHERE m.club_id = core.current_club() AND m.primary_member_id = "
                           "$1::uuid",
        2, p, e);
    if (!r) return fail_with(&c, out);
    json_t *items = db_json(r, 0, 0, e);
    PQclear(r);
    if (!items) return fail_with(&c, out);
    *out = json_pack("{s:o}", "items", items);
    return m_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}

/* ---- addresses ---- */

static int address_change(const svc_call_t *call, json_t *in, int remove, json_t **out, err_t *e) {
    mctx_t c;
    char auth[40];
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *kind = json_string_value(json_object_get(in, "kind"));
    if (m_begin(call, in, &c, e) != 0) return -1;
    json_t *before = m_load(&c, id, 1, 1, auth, NULL, e);
    if (!before) return fail_with(&c, out);
    int rc = -1;
    if (!c.can_write && !m_is_self(&c, auth)) {
        if (c.can_read)
            err_set(e, 403, "forbidden", "", "changing members needs member:write");
        else if (!call->caller->user_id[0])
            err_set(e, 401, "unauthenticated", "", "this operation needs a signed-in caller");
        else
            err_set(e, 404, "not_found", "id", "no member with this id");
        goto done;
    }
    if (json_is_true(json_object_get(before, "erased"))) {
        err_set(e, 409, "erased", "id", "this member was erased and cannot be changed");
        goto done;
    }
    json_t *a = json_deep_copy(in);
    json_object_del(a, "id");
    json_object_del(a, "club_id");
    json_object_del(a, "kind");
    json_t *patch =
        json_pack("{s:s, s:{s:o}}", "id", id, "addresses", kind, remove ? json_null() : a);
    if (remove) json_decref(a);
    rc = apply_patch(&c, id, patch, before, out, e);
    json_decref(patch);
done:
    json_decref(before);
    if (rc != 0) return fail_with(&c, out);
    return m_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}

int members_put_address(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return address_change(call, in, 0, out, e);
}

int members_delete_address(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return address_change(call, in, 1, out, e);
}

/* ---- directory ---- */

int members_directory(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    long long limit = 20;
    jsonx_int(in, "limit", 0, 1, 100, 20, &limit, e);
    if (m_begin(call, in, &c, e) != 0) return -1;
    if (!c.can_read) { /* members of the club only: an active member linked to the caller */
        char id[40];
        if (find_self(&c, id, e) != 0) {
            if (e->status == 404)
                err_set(e, 403, "forbidden", "", "the directory is for members of this club");
            return fail_with(&c, out);
        }
    }
    char ck[256] = "", cid[40] = "", lim[24];
    const char *after = json_string_value(json_object_get(in, "after"));
    if (after) {
        size_t n = 0;
        unsigned char *raw = jsonx_b64url_decode(after, &n);
        char *bar = raw ? memchr(raw, '\x1f', n) : NULL;
        size_t kl = bar ? (size_t)(bar - (char *)raw) : 0;
        if (bar && kl < sizeof ck && n - kl - 1 < sizeof cid) {
            memcpy(ck, raw, kl);
            memcpy(cid, bar + 1, n - kl - 1);
        }
        free(raw);
        if (!jsonx_is_uuid(cid)) {
            err_set(e, 400, "invalid_cursor", "after", "after must be a next_cursor value");
            return fail_with(&c, out);
        }
    }
    snprintf(lim, sizeof lim, "%lld", limit + 1);
    const char *p[] = {after ? ck : NULL, after ? cid : NULL, lim};
    PGresult *r = db_exec(
        c.tx,
        "SELECT jsonb_build_object('id', m.id, 'member_number', m.member_number, 'display_name', "
        "coalesce(p.preferred_name, p.first_name) || ' ' || p.last_name, 'category', m.category, "
        "'photo_url', p.photo_url)::text, lower(p.last_name || ' ' || p.first_name) COLLATE \"C\", "
        "m.id FROM member.members m JOIN member.profiles p ON p.club_id = m.club_id AND "
        "p.member_id = m.id WHERE m.club_id = core.current_club() AND m.directory_opt_in AND "
        "m.status = 'active' AND m.erased_at IS NULL AND ($1::text IS NULL OR "
        "(lower(p.last_name || ' ' || p.first_name) COLLATE \"C\", m.id) > ($1::text COLLATE "
        "\"C\", $2::uuid)) ORDER BY 2, m.id LIMIT $3::bigint",
        3, p, e);
    if (!r) return fail_with(&c, out);
    int n = PQntuples(r), shown = n > limit ? (int)limit : n;
    json_t *items = json_array();
    for (int i = 0; i < shown; i++) {
        json_t *doc = db_json(r, i, 0, e);
        if (doc) json_array_append_new(items, doc);
    }
    json_t *next = json_null();
    if (n > limit) {
        char key[320];
        int kl = snprintf(key, sizeof key, "%s\x1f%s", PQgetvalue(r, shown - 1, 1),
                          PQgetvalue(r, shown - 1, 2));
        char *b = jsonx_b64url_encode((const unsigned char *)key,
                                      (size_t)(kl < (int)sizeof key ? kl : (int)sizeof key - 1));
        next = json_string(b);
        free(b);
    }
    PQclear(r);
    *out = json_pack("{s:o, s:o}", "items", items, "next_cursor", next);
    return m_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}

/* ---- lapse sweep ---- */

static int sweep_club(const svc_call_t *call, const char *club, const char *as_of, long long *n,
                      err_t *e) {
    json_t *in = json_pack("{s:s}", "club_id", club);
    svc_caller_t k = *call->caller;
    k.network_admin = 1; /* the sweep names each club it visits */
    svc_call_t sub = *call;
    sub.caller = &k;
    mctx_t c;
    int rc = m_begin(&sub, in, &c, e);
    json_decref(in);
    if (rc != 0) return -1;
    const char *p[] = {as_of};
    PGresult *r = db_exec(c.tx,
                          "SELECT id FROM member.members WHERE club_id = core.current_club() AND "
                          "status = 'active' AND expires_on < coalesce($1::date, current_date) "
                          "ORDER BY (primary_member_id IS NOT NULL), id",
                          1, p, e);
    if (!r) goto fail;
    for (int i = 0; i < PQntuples(r); i++) {
        char reason[64];
        snprintf(reason, sizeof reason, "membership expired (sweep as of %s)",
                 as_of ? as_of : "today");
        /* an earlier primary may have lapsed this dependent by cascade already */
        const char *q[] = {PQgetvalue(r, i, 0)};
        PGresult *s = db_exec(c.tx,
                              "SELECT status = 'active' FROM member.members WHERE club_id = "
                              "core.current_club() AND id = $1::uuid",
                              1, q, e);
        if (!s) goto fail_r;
        int still = strcmp(PQgetvalue(s, 0, 0), "t") == 0;
        PQclear(s);
        if (!still) continue;
        json_t *changes = NULL;
        if (members_transition(&c, PQgetvalue(r, i, 0), "lapsed", reason, &changes, e) != 0)
            goto fail_r;
        *n += (long long)json_array_size(changes);
        json_decref(changes);
    }
    PQclear(r);
    return m_commit(&c, e);
fail_r:
    PQclear(r);
fail:
    m_rollback(&c);
    return -1;
}

int members_lapse_sweep(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = json_string_value(json_object_get(in, "club_id"));
    const char *as_of = json_string_value(json_object_get(in, "as_of"));
    long long n = 0;
    int clubs = 0;
    if (club || call->caller->club_id[0] || !call->caller->network_admin) {
        mctx_t c; /* resolves and checks the club exactly like every other operation */
        if (m_begin(call, in, &c, e) != 0) return -1;
        char resolved[40];
        snprintf(resolved, sizeof resolved, "%s", c.club_id);
        m_rollback(&c);
        if (sweep_club(call, resolved, as_of, &n, e) != 0) return -1;
        clubs = 1;
    } else { /* a network administrator without club_id: every club, one transaction each */
        db_tx_t *tx = NULL;
        if (svc_begin(call, &tx, e) != 0) return -1;
        PGresult *r = db_exec(tx, "SELECT id FROM member.clubs ORDER BY id", 0, NULL, e);
        if (!r) {
            db_rollback(tx);
            return -1;
        }
        if (db_commit(tx, e) != 0) {
            PQclear(r);
            return -1;
        }
        for (int i = 0; i < PQntuples(r); i++, clubs++)
            if (sweep_club(call, PQgetvalue(r, i, 0), as_of, &n, e) != 0) {
                PQclear(r);
                return -1;
            }
        PQclear(r);
    }
    *out = json_pack("{s:I, s:i}", "lapsed", (json_int_t)n, "clubs", clubs);
    return 0;
}

/* ---- settings and categories ---- */

int members_get_settings(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    if (m_begin(call, in, &c, e) != 0) return -1;
    PGresult *r = db_exec(c.tx,
                          "SELECT jsonb_build_object('club_id', core.current_club(), "
                          "'number_pattern', coalesce(s.number_pattern, 'M{seq:6}'), 'next_seq', "
                          "coalesce(s.next_seq, 1), 'card_ttl_seconds', s.card_ttl_seconds)::text "
                          "FROM (SELECT 1) x LEFT JOIN "
                          "member.settings s ON s.club_id = core.current_club()",
                          0, NULL, e);
    if (!r) return fail_with(&c, out);
    *out = db_json(r, 0, 0, e);
    PQclear(r);
    if (!*out) return fail_with(&c, out);
    return m_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}

int members_update_settings(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    if (m_begin(call, in, &c, e) != 0) return -1;
    json_t *ns = json_object_get(in, "next_seq");
    char seq[32] = "";
    if (ns) {
        long long v = 1;
        jsonx_int(in, "next_seq", 0, 1, 1000000000000LL, 1, &v, e);
        snprintf(seq, sizeof seq, "%lld", v);
    }
    json_t *ct = json_object_get(in, "card_ttl_seconds");
    char ttl[32] = "";
    if (ct && !json_is_null(ct)) {
        long long v = 86400;
        jsonx_int(in, "card_ttl_seconds", 0, 60, 604800, 86400, &v, e);
        snprintf(ttl, sizeof ttl, "%lld", v);
    }
    const char *p[] = {json_string_value(json_object_get(in, "number_pattern")), ns ? seq : NULL,
                       ct ? "t" : "f", ttl[0] ? ttl : NULL};
    long long n =
        db_exec_cmd(c.tx,
                    "INSERT INTO member.settings AS s (club_id, number_pattern, next_seq, "
                    "card_ttl_seconds) VALUES (core.current_club(), coalesce($1, 'M{seq:6}'), "
                    "coalesce($2::bigint, 1), $4::integer) ON CONFLICT (club_id) DO UPDATE SET "
                    "number_pattern = coalesce($1, s.number_pattern), next_seq = "
                    "coalesce($2::bigint, s.next_seq), card_ttl_seconds = CASE WHEN $3::boolean "
                    "THEN $4::integer ELSE s.card_ttl_seconds END, updated_at = now()",
                    4, p, e);
    if (n < 0) return fail_with(&c, out);
    if (m_commit(&c, e) != 0) return fail_with(&c, out);
    return members_get_settings(call, in, out, e);
}

int members_list_categories(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    if (m_begin(call, in, &c, e) != 0) return -1;
    PGresult *r = db_exec(
        c.tx,
        "SELECT ((SELECT jsonb_agg(jsonb_build_object('code', b, 'name', initcap(replace(b, '-', "
        "' ')), 'builtin', true)) FROM unnest(member.builtin_categories()) b) || "
        "coalesce((SELECT jsonb_agg(jsonb_build_object('code', code, 'name', name, 'builtin', "
        "false) ORDER BY code) FROM member.categories WHERE club_id = core.current_club()), "
        "'[]'))::text",
        0, NULL, e);
    if (!r) return fail_with(&c, out);
    json_t *items = db_json(r, 0, 0, e);
    PQclear(r);
    if (!items) return fail_with(&c, out);
    *out = json_pack("{s:o}", "items", items);
    return m_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}

int members_create_category(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    const char *code = json_string_value(json_object_get(in, "code"));
    if (m_begin(call, in, &c, e) != 0) return -1;
    const char *p[] = {code, json_string_value(json_object_get(in, "name"))};
    PGresult *r = db_exec(c.tx,
                          "INSERT INTO member.categories (club_id, code, name) SELECT "
                          "core.current_club(), $1, $2 WHERE NOT $1 = ANY "
                          "(member.builtin_categories()) RETURNING jsonb_build_object('code', "
                          "code, 'name', name, 'builtin', false)::text",
                          2, p, e);
    if (!r) {
        if (e->status == 409) err_set(e, 409, "conflict", "code", "this category already exists");
        return fail_with(&c, out);
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        err_set(e, 409, "conflict", "code", "%s is a built-in category", code);
        return fail_with(&c, out);
    }
    *out = db_json(r, 0, 0, e);
    PQclear(r);
    if (!*out) return fail_with(&c, out);
    return m_commit(&c, e) == 0 ? 0 : fail_with(&c, out);
}
