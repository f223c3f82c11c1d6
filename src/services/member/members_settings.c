/* members_settings: see members_settings.h. */
#include "services/member/members_settings.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"

/* ---- validation ---- */

int members_validate_settings(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", "number_pattern", "next_seq", "card_ttl_seconds",
                                       NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (member_valid_club_ref(in, e) != 0) return -1;
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
        if (!has_seq || member_format_number(s, 1, 2000, buf, sizeof buf) != 0 ||
            !isalnum((unsigned char)buf[0]))
            return err_invalid(
                e, "number_pattern",
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
    if (member_valid_club_ref(in, e) != 0) return -1;
    const char *s;
    if (jsonx_string(in, "code", 1, 1, 40, &s, e) != 0) return -1;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-') ||
            !islower((unsigned char)s[0]))
            return err_invalid(
                e, "code", "code must start with a lower-case letter and hold a-z, 0-9, _ or -");
    return jsonx_string(in, "name", 1, 1, 100, &s, e);
}

/* ---- settings and categories ---- */

int members_get_settings(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    if (member_begin(call, in, &c, e) != 0) return -1;
    PGresult *r = db_exec(c.tx,
                          "SELECT jsonb_build_object('club_id', core.current_club(), "
                          "'number_pattern', coalesce(s.number_pattern, 'M{seq:6}'), 'next_seq', "
                          "coalesce(s.next_seq, 1), 'card_ttl_seconds', s.card_ttl_seconds)::text "
                          "FROM (SELECT 1) x LEFT JOIN "
                          "member.settings s ON s.club_id = core.current_club()",
                          0, NULL, e);
    if (!r) return members_fail(&c, out);
    *out = db_json(r, 0, 0, e);
    PQclear(r);
    if (!*out) return members_fail(&c, out);
    return member_commit(&c, e) == 0 ? 0 : members_fail(&c, out);
}

int members_update_settings(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    if (member_begin(call, in, &c, e) != 0) return -1;
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
    if (n < 0) return members_fail(&c, out);
    if (member_commit(&c, e) != 0) return members_fail(&c, out);
    return members_get_settings(call, in, out, e);
}

int members_list_categories(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    if (member_begin(call, in, &c, e) != 0) return -1;
    PGresult *r = db_exec(
        c.tx,
        "SELECT ((SELECT jsonb_agg(jsonb_build_object('code', b, 'name', initcap(replace(b, '-', "
        "' ')), 'builtin', true)) FROM unnest(member.builtin_categories()) b) || "
        "coalesce((SELECT jsonb_agg(jsonb_build_object('code', code, 'name', name, 'builtin', "
        "false) ORDER BY code) FROM member.categories WHERE club_id = core.current_club()), "
        "'[]'))::text",
        0, NULL, e);
    if (!r) return members_fail(&c, out);
    json_t *items = db_json(r, 0, 0, e);
    PQclear(r);
    if (!items) return members_fail(&c, out);
    *out = json_pack("{s:o}", "items", items);
    return member_commit(&c, e) == 0 ? 0 : members_fail(&c, out);
}

int members_create_category(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    const char *code = json_string_value(json_object_get(in, "code"));
    if (member_begin(call, in, &c, e) != 0) return -1;
    const char *p[] = {code, json_string_value(json_object_get(in, "name"))};
    PGresult *r = db_exec(c.tx,
                          "INSERT INTO member.categories (club_id, code, name) SELECT "
                          "core.current_club(), $1, $2 WHERE NOT $1 = ANY "
                          "(member.builtin_categories()) RETURNING jsonb_build_object('code', "
                          "code, 'name', name, 'builtin', false)::text",
                          2, p, e);
    if (!r) {
        if (e->status == 409) err_set(e, 409, "conflict", "code", "this category already exists");
        return members_fail(&c, out);
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        err_set(e, 409, "conflict", "code", "%s is a built-in category", code);
        return members_fail(&c, out);
    }
    *out = db_json(r, 0, 0, e);
    PQclear(r);
    if (!*out) return members_fail(&c, out);
    return member_commit(&c, e) == 0 ? 0 : members_fail(&c, out);
}
