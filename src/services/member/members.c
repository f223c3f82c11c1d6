/* members: see members.h. */
#include "services/member/members.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"

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
    if (!json_is_object(d)) return err_type(e, prefix, "%s must be an object", prefix);
    if (jsonx_only_keys(d, dependent_keys, pre, e) != 0) return -1;
    const char *s;
    if (jsonx_enum(d, "relationship", 1, relationship_values, &s, e) != 0) {
        member_join(e->field, sizeof e->field, prefix, "relationship");
        return -1;
    }
    return member_valid_member_fields(d, 1, prefix, e);
}

int members_validate_create(json_t *in, err_t *e) {
    if (jsonx_only_keys(in, member_keys, "", e) != 0) return -1;
    if (member_valid_club_ref(in, e) != 0) return -1;
    const char *s;
    if (jsonx_enum(in, "status", 0, initial_status_values, &s, e) != 0) return -1;
    if (member_valid_member_fields(in, 1, "", e) != 0) return -1;
    json_t *inv = json_object_get(in, "invite");
    if (inv && !json_is_boolean(inv)) return err_type(e, "invite", "invite must be true or false");
    if (json_is_true(inv)) {
        if (!json_string_value(json_object_get(json_object_get(in, "profile"), "email")))
            return err_set(e, 400, "missing_field", "profile.email",
                           "an invitation needs profile.email");
        if (json_string_value(json_object_get(in, "auth_user_id")))
            return err_invalid(
                e, "invite", "give either auth_user_id (an existing account) or invite, not both");
    }
    json_t *deps = json_object_get(in, "dependents");
    if (deps && !json_is_null(deps)) {
        if (!json_is_array(deps))
            return err_type(e, "dependents", "dependents must be an array of members");
        if (json_array_size(deps) > 20)
            return err_invalid(e, "dependents",
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
    if (member_valid_club_ref(in, e) != 0) return -1;
    return member_valid_id(in, "id", e);
}

int members_validate_club(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return member_valid_club_ref(in, e);
}

int members_validate_update(json_t *in, err_t *e) {
    static const char *const keys[] = {
        "id",           "club_id",      "member_number",    "category", "joined_on", "expires_on",
        "home_club_id", "auth_user_id", "directory_opt_in", "profile",  "addresses", NULL};
    if (json_object_get(in, "status"))
        return err_invalid(e, "status",
                           "status cannot be patched: use POST /api/v1/members/{id}/status");
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (member_valid_club_ref(in, e) != 0) return -1;
    if (member_valid_id(in, "id", e) != 0) return -1;
    size_t n = json_object_size(in) - 1 - (json_object_get(in, "club_id") ? 1 : 0);
    if (n == 0) return err_set(e, 400, "empty_patch", "", "the patch names no field to change");
    static const char *const not_null[] = {"member_number",    "category", "joined_on",
                                           "directory_opt_in", "profile",  NULL};
    for (const char *const *k = not_null; *k; k++)
        if (json_is_null(json_object_get(in, *k)))
            return err_invalid(e, *k, "%s cannot be null", *k);
    json_t *addrs = json_object_get(in, "addresses");
    if (json_is_object(addrs)) { /* null = remove that address */
        json_t *copy = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(addrs, k, v) if (!json_is_null(v)) json_object_set(copy, k, v);
        json_t *probe = json_pack("{s:o}", "addresses", copy);
        int rc = member_valid_member_fields(probe, 0, "", e);
        /* copy the normalised countries back */
        json_object_foreach(copy, k, v) json_object_set(addrs, k, v);
        json_decref(probe);
        if (rc != 0) return -1;
        json_t *without = json_deep_copy(in);
        json_object_del(without, "addresses");
        rc = member_valid_member_fields(without, 0, "", e);
        json_decref(without);
        return rc;
    }
    return member_valid_member_fields(in, 0, "", e);
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
    if (member_valid_club_ref(in, e) != 0) return -1;
    return member_valid_id(in, "id", e);
}

static const char *const address_kinds[] = {"home", "work", "billing", NULL};

int members_validate_address_ref(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "club_id", "kind", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (member_valid_club_ref(in, e) != 0) return -1;
    if (member_valid_id(in, "id", e) != 0) return -1;
    const char *s;
    return jsonx_enum(in, "kind", 1, address_kinds, &s, e);
}

int members_validate_address(json_t *in, err_t *e) {
    const char *s;
    if (jsonx_enum(in, "kind", 1, address_kinds, &s, e) != 0) return -1;
    if (member_valid_club_ref(in, e) != 0) return -1;
    if (member_valid_id(in, "id", e) != 0) return -1;
    json_t *a = json_deep_copy(in);
    json_object_del(a, "id");
    json_object_del(a, "club_id");
    json_object_del(a, "kind");
    int rc = member_valid_address(a, "address", e);
    if (rc == 0) json_object_update(in, a);
    json_decref(a);
    if (rc != 0 && strncmp(e->field, "address.", 8) == 0) {
        char f[96];
        snprintf(f, sizeof f, "%s", e->field + 8);
        snprintf(e->field, sizeof e->field, "%s", f);
    }
    return rc;
}

/* ---- create / get / me ---- */

int members_fail(mctx_t *c, json_t **out) {
    if (*out) {
        json_decref(*out);
        *out = NULL;
    }
    member_rollback(c);
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
    if (member_begin(call, in, &c, e) != 0) return -1;
    const char *status = json_string_value(json_object_get(in, "status"));
    if (!status) status = "pending";
    if (member_insert_member(&c, in, status, NULL, id, e) != 0) return members_fail(&c, out);
    *out = member_load(&c, id, 0, 1, NULL, NULL, e);
    if (!*out) return members_fail(&c, out);
    if (member_emit(&c, "member.created", created_event(id, NULL, *out), e) != 0)
        return members_fail(&c, out);
    json_t *deps = json_object_get(in, "dependents");
    json_t *dep_docs = json_array();
    json_object_set_new(*out, "dependents", dep_docs);
    size_t i;
    json_t *d;
    json_array_foreach(deps, i, d) {
        char did[40];
        if (member_insert_member(&c, d, status, id, did, e) != 0) {
            char pre[48], f[96];
            snprintf(pre, sizeof pre, "dependents[%u].", (unsigned)(i % 100));
            member_join(f, sizeof f, pre, e->field);
            member_join(e->field, sizeof e->field, f, "");
            return members_fail(&c, out);
        }
        json_t *doc = member_load(&c, did, 0, 1, NULL, NULL, e);
        if (!doc) return members_fail(&c, out);
        json_array_append_new(dep_docs, doc);
        if (member_emit(&c, "member.created", created_event(did, id, doc), e) != 0)
            return members_fail(&c, out);
    }
    if (json_is_true(json_object_get(in, "invite")) && invite_member(&c, id, *out, e) != 0)
        return members_fail(&c, out);
    if (member_commit(&c, e) != 0) return members_fail(&c, out);
    return 0;
}

int members_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    db_scope_t scope;
    int named = 0;
    char auth[40];
    if (member_prepare(call, in, &c, &scope, &named, e) != 0) return -1;
    /* one round trip: a read-only transaction with the one SELECT */
    *out = member_read(&c, &scope, named, json_string_value(json_object_get(in, "id")), c.can_read,
                       auth, e);
    if (!*out) return -1;
    if (member_require_read(&c, auth, e) != 0) {
        /* indistinguishable from absent for members probing other ids */
        if (e->status == 403) err_set(e, 404, "not_found", "id", "no member with this id");
        return members_fail(&c, out);
    }
    return 0;
}

/* see members.h */
int members_find_self(mctx_t *c, char *id, err_t *e) {
    const char *p[] = {c->call->caller->user_id};
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
    if (member_begin(call, in, &c, e) != 0) return -1;
    if (members_find_self(&c, id, e) != 0) return members_fail(&c, out);
    *out = member_load(&c, id, 0, 0, NULL, NULL, e);
    if (!*out) return members_fail(&c, out);
    return member_commit(&c, e) == 0 ? 0 : members_fail(&c, out);
}

/* ---- update ---- */

static void diff_object(json_t *before, json_t *after, const char *prefix, json_t *changed) {
    const char *k;
    json_t *v;
    json_object_foreach(after, k, v) {
        if (strcmp(k, "updated_at") == 0) continue;
        json_t *old = json_object_get(before, k);
        char name[96];
        member_join(name, sizeof name, prefix, k);
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
                member_join(name, sizeof name, member_join(pre2, sizeof pre2, k, "."), ok);
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
            "postal_code, country, latitude, longitude) SELECT core.current_club(), $1::uuid, $2, "
            "ARRAY(SELECT jsonb_array_elements_text(coalesce(nullif(x->'lines', 'null'), "
            "'[]'))), x->>'city', x->>'region', x->>'postal_code', x->>'country', "
            "(x->>'latitude')::float8, (x->>'longitude')::float8 FROM (SELECT $3::jsonb AS x) s "
            "ON CONFLICT (club_id, member_id, kind) DO UPDATE SET lines = EXCLUDED.lines, city = "
            "EXCLUDED.city, region = EXCLUDED.region, postal_code = EXCLUDED.postal_code, "
            "country = EXCLUDED.country, latitude = EXCLUDED.latitude, longitude = "
            "EXCLUDED.longitude, updated_at = now()",
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
            err_invalid(e, "category", "category is not a category of this club");
        return -1;
    }
    json_t *addrs = json_object_get(in, "addresses");
    if (json_is_object(addrs) && apply_addresses(c, id, addrs, e) != 0) return -1;
    *out = member_load(c, id, 0, 1, NULL, NULL, e);
    if (!*out) return -1;
    json_t *changed = json_array();
    diff_object(before, *out, "", changed);
    if (json_array_size(changed) == 0) {
        json_decref(changed);
        return 0;
    }
    return member_emit(c, "member.updated",
                       json_pack("{s:s, s:o}", "member_id", id, "changed_fields", changed), e);
}

int members_update(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    char auth[40];
    const char *id = json_string_value(json_object_get(in, "id"));
    if (member_begin(call, in, &c, e) != 0) return -1;
    json_t *before = member_load(&c, id, 1, 1, auth, NULL, e);
    if (!before) return members_fail(&c, out);
    int rc = -1;
    if (!c.can_write) {
        if (!member_is_self(&c, auth)) {
            if (member_require_read(&c, auth, e) == 0 || e->status == 403)
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
        if (strcasecmp(want ? want : "", auth) != 0 && member_check_link(&c, want, e) != 0)
            goto done;
    }
    rc = apply_patch(&c, id, in, before, out, e);
done:
    json_decref(before);
    if (rc != 0) return members_fail(&c, out);
    return member_commit(&c, e) == 0 ? 0 : members_fail(&c, out);
}

/* ---- dependents ---- */

int members_add_dependent(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    char did[40], status[16];
    const char *id = json_string_value(json_object_get(in, "id"));
    if (member_begin(call, in, &c, e) != 0) return -1;
    json_t *primary = member_load(&c, id, 1, 1, NULL, status, e);
    if (!primary) return members_fail(&c, out);
    int is_dep = !json_is_null(json_object_get(primary, "primary_member_id"));
    json_decref(primary);
    if (is_dep) {
        err_set(e, 409, "conflict", "id", "a dependent cannot have dependents");
        return members_fail(&c, out);
    }
    if (strcmp(status, "pending") != 0 && strcmp(status, "active") != 0) {
        err_set(e, 409, "conflict", "id",
                "the primary member is %s: dependents need a pending or "
                "active primary member",
                status);
        return members_fail(&c, out);
    }
    json_t *d = json_deep_copy(in);
    json_object_del(d, "id");
    json_object_del(d, "club_id");
    int rc = member_insert_member(&c, d, status, id, did, e);
    json_decref(d);
    if (rc != 0) return members_fail(&c, out);
    *out = member_load(&c, did, 0, 1, NULL, NULL, e);
    if (!*out) return members_fail(&c, out);
    if (member_emit(&c, "member.created", created_event(did, id, *out), e) != 0)
        return members_fail(&c, out);
    return member_commit(&c, e) == 0 ? 0 : members_fail(&c, out);
}

int members_list_dependents(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    char auth[40];
    const char *id = json_string_value(json_object_get(in, "id"));
    if (member_begin(call, in, &c, e) != 0) return -1;
    json_t *primary = member_load(&c, id, 0, 0, auth, NULL, e);
    if (!primary) return members_fail(&c, out);
    json_decref(primary);
    if (member_require_read(&c, auth, e) != 0) {
        if (e->status == 403) err_set(e, 404, "not_found", "id", "no member with this id");
        return members_fail(&c, out);
    }
    const char *p[] = {id, c.can_read ? "t" : "f"};
    json_t *items = db_query_json(
        c.tx,
        "SELECT coalesce(jsonb_agg(" M_DOC_SQL(
            "$2::boolean") " ORDER BY "
                           "m.created_at, m.id), '[]')::text FROM member.members m LEFT JOIN "
                           "member.profiles p ON p.club_id = m.club_id AND p.member_id = m.id "
                           "WHERE m.club_id = core.current_club() AND m.primary_member_id = "
                           "$1::uuid",
        2, p, e);
    if (!items) return members_fail(&c, out);
    *out = json_pack("{s:o}", "items", items);
    return member_commit(&c, e) == 0 ? 0 : members_fail(&c, out);
}

/* ---- addresses ---- */

static int address_change(const svc_call_t *call, json_t *in, int remove, json_t **out, err_t *e) {
    mctx_t c;
    char auth[40];
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *kind = json_string_value(json_object_get(in, "kind"));
    if (member_begin(call, in, &c, e) != 0) return -1;
    json_t *before = member_load(&c, id, 1, 1, auth, NULL, e);
    if (!before) return members_fail(&c, out);
    int rc = -1;
    if (!c.can_write && !member_is_self(&c, auth)) {
        if (c.can_read)
            err_set(e, 403, "forbidden", "", "changing members needs member:write");
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
    if (rc != 0) return members_fail(&c, out);
    return member_commit(&c, e) == 0 ? 0 : members_fail(&c, out);
}

int members_put_address(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return address_change(call, in, 0, out, e);
}

int members_delete_address(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return address_change(call, in, 1, out, e);
}
