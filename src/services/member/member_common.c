/* member_common: see member_common.h. */
#include "services/member/member_common.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "services/member/member_standing.h"

int member_prepare(const svc_call_t *call, json_t *in, mctx_t *c, db_scope_t *scope, int *named_out,
                   err_t *e) {
    const svc_caller_t *k = call->caller;
    memset(c, 0, sizeof *c);
    c->call = call;
    c->can_read = svc_authorized(k, "member:read");
    c->can_write = svc_authorized(k, "member:write");
    c->can_admin = svc_authorized(k, "member:admin");
    const char *named = in ? json_string_value(json_object_get(in, "club_id")) : NULL;
    if (named && !*named) named = NULL;
    if (named && k->club_id[0] && strcmp(named, k->club_id) != 0 && !k->network_admin)
        return err_set(e, 403, "forbidden", "club_id", "club_id must be your own club");
    if (named && !k->network_admin && !k->club_id[0])
        return err_set(e, 403, "forbidden", "club_id", "only a network administrator names a club");
    const char *club = named ? named : k->club_id;
    if (!club[0]) {
        if (k->network_admin)
            return err_set(
                e, 400, "missing_field", "club_id",
                "club_id is required: a network administrator names the club it acts in");
        return err_set(e, 403, "forbidden", "", "the caller belongs to no club");
    }
    snprintf(c->club_id, sizeof c->club_id, "%s", club);
    *scope = svc_scope(call, c->club_id);
    *named_out = named != NULL;
    return 0;
}

static const char k_club_exists_sql[] = "SELECT 1 FROM member.clubs WHERE id = $1::uuid";

static int club_missing(const PGresult *r, err_t *e) {
    if (PQntuples(r) > 0) return 0;
    return err_set(e, 404, "not_found", "club_id", "no club with this club_id");
}

int member_begin(const svc_call_t *call, json_t *in, mctx_t *c, err_t *e) {
    db_scope_t scope;
    int named = 0;
    if (member_prepare(call, in, c, &scope, &named, e) != 0) return -1;
    if (db_begin(call->env->db, &scope, &c->tx, e) != 0) return -1;
    if (named) {
        const char *p[] = {c->club_id};
        PGresult *r = db_exec(c->tx, k_club_exists_sql, 1, p, e);
        if (!r) goto fail;
        int missing = club_missing(r, e);
        PQclear(r);
        if (missing) goto fail;
    }
    return 0;
fail:
    member_rollback(c);
    return -1;
}

int member_require_club(mctx_t *c, const db_scope_t *scope, err_t *e) {
    err_t e2 = {0};
    const char *p[] = {c->club_id};
    PGresult *r = db_read(c->call->env->db, scope, k_club_exists_sql, 1, p, &e2);
    if (!r) return -1; /* keep the caller's error */
    int missing = club_missing(r, e);
    PQclear(r);
    return missing ? -1 : 0;
}

int member_emit(mctx_t *c, const char *type, json_t *data, err_t *e) {
    c->emitted = 1;
    return svc_emit(c->call, c->tx, type, c->club_id, data, e);
}

int member_commit(mctx_t *c, err_t *e) {
    if (db_tx_commit(&c->tx, e) != 0) return -1;
    if (c->emitted)
        standing_changed(c->club_id); /* this process at once, the others on the event */
    return 0;
}

void member_rollback(mctx_t *c) {
    db_tx_rollback(&c->tx);
}

int member_is_self(const mctx_t *c, const char *auth_user_id) {
    const char *u = c->call->caller->user_id;
    return u[0] && auth_user_id && auth_user_id[0] && strcmp(u, auth_user_id) == 0;
}

int member_require_read(const mctx_t *c, const char *auth_user_id, err_t *e) {
    if (c->can_read || member_is_self(c, auth_user_id)) return 0;
    return err_set(e, 403, "forbidden", "", "members may only see their own record (member:read)");
}

/* The staff view is the stored document (M_DOC_STORED_JOIN); a member's own view (no staff
 * notes), or a member without a profile, is built. */
#define M_LOAD_SQL                                                                                 \
    "SELECT coalesce(CASE WHEN $2::boolean THEN d.doc END, " M_DOC_TEXT_SQL(                       \
        "$2::boolean") "::text), coalesce(m.auth_user_id::text, ''), m.status::text FROM "         \
                       "member.members m LEFT JOIN member.profiles p ON p.club_id = m.club_id "    \
                       "AND p.member_id = m.id LEFT " M_DOC_STORED_JOIN(                           \
                           "m.club_id", "m.id") "WHERE m.club_id = core.current_club() AND m.id "  \
                                                "= $1::uuid"

/* The first row of a member read into the outputs of member_load; NULL with *e (404 when none).
 * raw: the document as a pass-through value (db_json_raw), else parsed. */
static json_t *loaded(PGresult *r, char *auth_out, char *status_out, int raw, err_t *e) {
    if (PQntuples(r) == 0) {
        err_set(e, 404, "not_found", "id", "no member with this id");
        return NULL;
    }
    if (auth_out) snprintf(auth_out, 40, "%s", PQgetvalue(r, 0, 1));
    if (status_out) snprintf(status_out, 16, "%s", PQgetvalue(r, 0, 2));
    return raw ? db_json_raw(r, 0, 0, e) : db_json(r, 0, 0, e);
}

json_t *member_load(mctx_t *c, const char *id, int lock, int staff, char *auth_out,
                    char *status_out, err_t *e) {
    if (!jsonx_is_uuid(id)) {
        err_set(e, 404, "not_found", "id", "no member with this id");
        return NULL;
    }
    const char *p[] = {id, staff ? "t" : "f"};
    PGresult *r = db_exec(c->tx, lock ? M_LOAD_SQL " FOR UPDATE OF m" : M_LOAD_SQL, 2, p, e);
    if (!r) return NULL;
    json_t *j = loaded(r, auth_out, status_out, 0, e);
    PQclear(r);
    return j;
}

json_t *member_read(mctx_t *c, const db_scope_t *scope, int named, const char *id, int staff,
                    char *auth_out, err_t *e) {
    PGresult *r = NULL;
    if (jsonx_is_uuid(id)) {
        const char *p[] = {id, staff ? "t" : "f"};
        r = db_read(c->call->env->db, scope, M_LOAD_SQL, 2, p, e);
        if (!r) {
            if (named) member_require_club(c, scope, e);
            return NULL;
        }
    }
    json_t *j = NULL;
    if (!r || PQntuples(r) == 0) {
        /* as member_begin: an unknown club named by the caller is 404 club_id before anything */
        if (!named || member_require_club(c, scope, e) == 0)
            err_set(e, 404, "not_found", "id", "no member with this id");
    } else {
        j = loaded(r, auth_out, NULL, 1, e);
    }
    PQclear(r);
    return j;
}

/* ---- validation ---- */

int member_valid_club_ref(json_t *in, err_t *e) {
    const char *s;
    if (jsonx_string(in, "club_id", 0, 1, 40, &s, e) != 0) return -1;
    if (s && !jsonx_is_uuid(s)) return err_invalid(e, "club_id", "club_id must be a club uuid");
    return 0;
}

int member_valid_id(json_t *in, const char *name, err_t *e) {
    const char *s;
    if (jsonx_string(in, name, 1, 1, 40, &s, e) != 0) return -1;
    if (!jsonx_is_uuid(s))
        return err_set(e, 404, "not_found", name, "no member with this %s", name);
    return 0;
}

int member_is_date(const char *s) {
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return 0;
    int y = atoi(s), mo = atoi(s + 5), d = atoi(s + 8);
    if (y < 1850 || y > 2200 || mo < 1 || mo > 12 || d < 1) return 0;
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int max = days[mo - 1] + (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    return d <= max;
}

int member_valid_date(json_t *in, const char *name, err_t *e) {
    const char *s;
    if (jsonx_string(in, name, 0, 10, 10, &s, e) != 0) {
        if (e->status == 422) err_invalid(e, name, "%s must be a date YYYY-MM-DD", name);
        return -1;
    }
    if (s && !member_is_date(s)) return err_invalid(e, name, "%s must be a date YYYY-MM-DD", name);
    return 0;
}

static int is_language(const char *s) {
    size_t n = strlen(s), i = 0;
    while (i < n && s[i] >= 'a' && s[i] <= 'z')
        i++;
    if (i < 2 || i > 3) return 0;
    while (i < n) {
        if (s[i] != '-') return 0;
        size_t j = ++i;
        while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                         (s[i] >= '0' && s[i] <= '9')))
            i++;
        if (i - j < 2 || i - j > 8) return 0;
    }
    return 1;
}

static int is_number(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 40) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                 (i > 0 && (ch == '.' || ch == '/' || ch == '-'));
        if (!ok) return 0;
    }
    return 1;
}

static int is_category_code(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 40 || s[0] < 'a' || s[0] > 'z') return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return 1;
}

char *member_join(char *dst, size_t cap, const char *a, const char *b) {
    size_t o = 0;
    for (const char *s = a ? a : ""; *s && o + 1 < cap; s++)
        dst[o++] = *s;
    for (const char *s = b ? b : ""; *s && o + 1 < cap; s++)
        dst[o++] = *s;
    if (cap) dst[o] = 0;
    return dst;
}

#define PREFIXED(buf, prefix, name) member_join(buf, sizeof buf, prefix, name)

static int fix_field(err_t *e, const char *prefix) {
    if (prefix && *prefix && e->field[0]) {
        char f[sizeof e->field];
        member_join(f, sizeof f, prefix, e->field);
        member_join(e->field, sizeof e->field, f, "");
    }
    return -1;
}

int member_valid_address(json_t *a, const char *prefix, err_t *e) {
    static const char *const keys[] = {"lines",   "city",     "region",    "postal_code",
                                       "country", "latitude", "longitude", NULL};
    char f[96];
    if (!json_is_object(a)) return err_type(e, prefix, "%s must be an object", prefix);
    snprintf(f, sizeof f, "%s.", prefix);
    if (jsonx_only_keys(a, keys, f, e) != 0) return -1;
    json_t *lines = json_object_get(a, "lines");
    if (lines && !json_is_null(lines)) {
        snprintf(f, sizeof f, "%s.lines", prefix);
        if (!json_is_array(lines)) return err_type(e, f, "%s must be an array of strings", f);
        if (json_array_size(lines) > 4)
            return err_invalid(e, f, "%s must be an array of at most 4 strings", f);
        size_t i;
        json_t *v;
        json_array_foreach(lines, i, v) {
            const char *s = json_string_value(v);
            if (!s) return err_type(e, f, "%s must hold strings", f);
            if (!*s || strlen(s) > 200)
                return err_invalid(e, f, "%s must hold 1 to 200 characters", f);
        }
    }
    const char *s;
    static const struct {
        const char *k;
        size_t max;
    } parts[] = {{"city", 100}, {"region", 100}, {"postal_code", 20}};
    for (size_t i = 0; i < 3; i++)
        if (jsonx_string(a, parts[i].k, 0, 1, parts[i].max, &s, e) != 0) {
            snprintf(f, sizeof f, "%s.", prefix);
            return fix_field(e, f);
        }
    snprintf(f, sizeof f, "%s.country", prefix);
    s = json_string_value(json_object_get(a, "country"));
    if (!s) return err_set(e, 400, "missing_field", f, "%s is required (ISO 3166-1 alpha-2)", f);
    char up[3] = {0};
    if (strlen(s) == 2) {
        up[0] = (char)(s[0] >= 'a' && s[0] <= 'z' ? s[0] - 32 : s[0]);
        up[1] = (char)(s[1] >= 'a' && s[1] <= 'z' ? s[1] - 32 : s[1]);
    }
    if (!(up[0] >= 'A' && up[0] <= 'Z' && up[1] >= 'A' && up[1] <= 'Z'))
        return err_invalid(e, f, "%s must be an ISO 3166-1 alpha-2 code", f);
    json_object_set_new(a, "country", json_string(up));
    /* optional coordinates (degrees), both or neither */
    double lat = 0, lon = 0;
    int has_lat = 0, has_lon = 0;
    snprintf(f, sizeof f, "%s.", prefix);
    if (jsonx_number(a, "latitude", 0, -90, 90, &lat, &has_lat, e) != 0 ||
        jsonx_number(a, "longitude", 0, -180, 180, &lon, &has_lon, e) != 0)
        return fix_field(e, f);
    if (has_lat != has_lon) {
        snprintf(f, sizeof f, "%s.%s", prefix, has_lat ? "longitude" : "latitude");
        return err_invalid(e, f, "latitude and longitude must be given together");
    }
    if (has_lat) {
        json_object_set_new(a, "latitude", json_real(lat));
        json_object_set_new(a, "longitude", json_real(lon));
    }
    return 0;
}

static int valid_profile(json_t *p, int required, const char *prefix, err_t *e) {
    static const char *const keys[] = {
        "first_name",    "last_name", "preferred_name", "email",       "phone",
        "date_of_birth", "photo_url", "language",       "staff_notes", NULL};
    char pre[96], f[128];
    snprintf(pre, sizeof pre, "%sprofile.", prefix);
    if (!json_is_object(p))
        return err_type(e, PREFIXED(f, prefix, "profile"), "%sprofile must be an object", prefix);
    if (jsonx_only_keys(p, keys, pre, e) != 0) return -1;
    const char *s;
    if (jsonx_string(p, "first_name", required, 1, 100, &s, e) != 0) return fix_field(e, pre);
    if (jsonx_string(p, "last_name", required, 1, 100, &s, e) != 0) return fix_field(e, pre);
    if (jsonx_string(p, "preferred_name", 0, 1, 100, &s, e) != 0) return fix_field(e, pre);
    if (jsonx_string(p, "email", 0, 3, 254, &s, e) != 0) return fix_field(e, pre);
    if (s && !jsonx_is_email(s))
        return err_invalid(e, PREFIXED(f, pre, "email"), "email must be an email address");
    if (jsonx_string(p, "phone", 0, 8, 16, &s, e) != 0) return fix_field(e, pre);
    if (s && !jsonx_is_e164(s))
        return err_invalid(e, PREFIXED(f, pre, "phone"),
                           "phone must be in E.164 form, e.g. +442071234567");
    if (member_valid_date(p, "date_of_birth", e) != 0) return fix_field(e, pre);
    if (jsonx_string(p, "photo_url", 0, 8, 2048, &s, e) != 0) return fix_field(e, pre);
    if (s && !jsonx_is_http_url(s))
        return err_invalid(e, PREFIXED(f, pre, "photo_url"),
                           "photo_url must be an http:// or https:// URL");
    if (jsonx_string(p, "language", 0, 2, 35, &s, e) != 0) return fix_field(e, pre);
    if (s && !is_language(s))
        return err_invalid(e, PREFIXED(f, pre, "language"),
                           "language must be a language tag such as en or en-GB");
    if (jsonx_text(p, "staff_notes", 0, 0, 4000, &s, e) != 0) return fix_field(e, pre);
    if (!required) {
        static const char *const not_null[] = {"first_name", "last_name", NULL};
        for (const char *const *k = not_null; *k; k++)
            if (json_is_null(json_object_get(p, *k)))
                return err_invalid(e, PREFIXED(f, pre, *k), "%s cannot be null", *k);
    }
    return 0;
}

int member_valid_member_fields(json_t *in, int required, const char *prefix, err_t *e) {
    const char *s;
    char f[128];
    if (jsonx_string(in, "member_number", 0, 1, 40, &s, e) != 0) return fix_field(e, prefix);
    if (s && !is_number(s))
        return err_invalid(e, PREFIXED(f, prefix, "member_number"),
                           "member_number must be 1 to 40 letters, digits, '.', '/' or '-'");
    if (jsonx_string(in, "category", required, 1, 40, &s, e) != 0) return fix_field(e, prefix);
    if (s && !is_category_code(s))
        return err_invalid(e, PREFIXED(f, prefix, "category"),
                           "category must be a category code such as full or junior");
    if (member_valid_date(in, "joined_on", e) != 0) return fix_field(e, prefix);
    if (member_valid_date(in, "expires_on", e) != 0) return fix_field(e, prefix);
    const char *j = json_string_value(json_object_get(in, "joined_on"));
    const char *x = json_string_value(json_object_get(in, "expires_on"));
    if (j && x && strcmp(x, j) < 0)
        return err_invalid(e, PREFIXED(f, prefix, "expires_on"),
                           "expires_on must not be before joined_on");
    static const char *const uuids[] = {"home_club_id", "auth_user_id", NULL};
    for (const char *const *k = uuids; *k; k++) {
        if (jsonx_string(in, *k, 0, 1, 40, &s, e) != 0) return fix_field(e, prefix);
        if (s && !jsonx_is_uuid(s))
            return err_invalid(e, PREFIXED(f, prefix, *k), "%s must be a uuid", *k);
    }
    int b;
    if (jsonx_bool(in, "directory_opt_in", 0, 0, &b, e) != 0) return fix_field(e, prefix);
    json_t *p = json_object_get(in, "profile");
    if (required && !p)
        return err_set(e, 400, "missing_field", PREFIXED(f, prefix, "profile"),
                       "%sprofile is required (first_name, last_name)", prefix);
    if (p && valid_profile(p, required, prefix, e) != 0) return -1;
    json_t *addrs = json_object_get(in, "addresses");
    if (addrs && !json_is_null(addrs)) {
        if (!json_is_object(addrs))
            return err_type(e, PREFIXED(f, prefix, "addresses"),
                            "addresses must be an object keyed home, work or billing");
        const char *k;
        json_t *a;
        json_object_foreach(addrs, k, a) {
            char an[128];
            snprintf(an, sizeof an, "%saddresses.%s", prefix, k);
            if (strcmp(k, "home") && strcmp(k, "work") && strcmp(k, "billing"))
                return err_set(e, 400, "unknown_field", an,
                               "address kinds are home, work and billing");
            if (member_valid_address(a, an, e) != 0) return -1;
        }
    }
    return 0;
}

/* ---- member numbers ---- */

int member_format_number(const char *pattern, long long seq, int year, char *buf, size_t cap) {
    size_t o = 0;
    for (const char *p = pattern; *p;) {
        char tmp[32];
        const char *piece = NULL;
        size_t plen = 0;
        if (strncmp(p, "{yyyy}", 6) == 0) {
            snprintf(tmp, sizeof tmp, "%04d", year);
            piece = tmp, plen = strlen(tmp), p += 6;
        } else if (strncmp(p, "{seq", 4) == 0) {
            int width = 1;
            const char *q = p + 4;
            if (*q == ':') width = atoi(q + 1);
            const char *close = strchr(q, '}');
            if (!close || width < 1 || width > 20) return -1;
            snprintf(tmp, sizeof tmp, "%0*lld", width, seq);
            piece = tmp, plen = strlen(tmp), p = close + 1;
        } else {
            piece = p, plen = 1, p++;
        }
        if (o + plen + 1 > cap) return -1;
        memcpy(buf + o, piece, plen);
        o += plen;
    }
    buf[o] = 0;
    return o > 0 && o <= 40 ? 0 : -1;
}

int member_reserve_numbers(mctx_t *c, long long n, char *pattern, size_t cap, long long *first,
                           err_t *e) {
    char ns[24];
    snprintf(ns, sizeof ns, "%lld", n);
    const char *p[] = {ns};
    PGresult *r = db_exec(c->tx,
                          "INSERT INTO member.settings AS s (club_id, next_seq) VALUES "
                          "(core.current_club(), 1 + $1::bigint) ON CONFLICT (club_id) DO UPDATE "
                          "SET next_seq = s.next_seq + $1::bigint RETURNING number_pattern, "
                          "next_seq - $1::bigint",
                          1, p, e);
    if (!r) return -1;
    snprintf(pattern, cap, "%s", PQgetvalue(r, 0, 0));
    *first = atoll(PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

static int current_year(void) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    return tm.tm_year + 1900;
}

static int next_free_number(mctx_t *c, char *out, size_t cap, err_t *e) {
    for (int attempt = 0; attempt < 50; attempt++) {
        char pattern[64];
        long long seq;
        if (member_reserve_numbers(c, 1, pattern, sizeof pattern, &seq, e) != 0) return -1;
        if (member_format_number(pattern, seq, current_year(), out, cap) != 0)
            return err_invalid(e, "member_number",
                               "the club's member-number pattern gives an invalid number");
        const char *p[] = {out};
        PGresult *r = db_exec(c->tx,
                              "SELECT 1 FROM member.members WHERE club_id = core.current_club() "
                              "AND member_number = $1",
                              1, p, e);
        if (!r) return -1;
        int taken = PQntuples(r) > 0;
        PQclear(r);
        if (!taken) return 0;
    }
    return err_set(e, 409, "conflict", "member_number",
                   "could not find a free member number: set the club's number pattern");
}

int member_accounts_in_club(mctx_t *c, json_t *ids, json_t **found, err_t *e) {
    json_t *in = json_pack("{s:O, s:s}", "user_ids", ids, "club_id", c->club_id), *res = NULL;
    int status = 0;
    *found = NULL;
    int rc = svc_call(c->call->env, "auth", "users_in_club", c->call->caller, in, &status, &res, e);
    json_decref(in);
    if (rc == 0) {
        *found = json_object();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(res, "found"), i, v) {
            if (json_is_string(v)) json_object_set_new(*found, json_string_value(v), json_true());
        }
    }
    json_decref(res);
    return rc;
}

int member_check_link(mctx_t *c, const char *user, err_t *e) {
    if (!c->can_admin)
        return err_set(e, 403, "forbidden", "auth_user_id",
                       "linking a member to an account needs member:admin (or an invitation)");
    if (!user || !user[0]) return 0; /* unlinking */
    json_t *ids = json_pack("[s]", user), *found = NULL;
    int rc = member_accounts_in_club(c, ids, &found, e);
    json_decref(ids);
    if (rc != 0) {
        snprintf(e->field, sizeof e->field, "auth_user_id");
        return -1;
    }
    /* the database returns ids in lower case */
    char low[40];
    size_t i = 0;
    for (; user[i] && i + 1 < sizeof low; i++)
        low[i] = (char)tolower((unsigned char)user[i]);
    low[i] = 0;
    int ok = json_object_get(found, low) != NULL;
    json_decref(found);
    if (!ok) return err_invalid(e, "auth_user_id", "auth_user_id is not an account of this club");
    return 0;
}

int member_insert_member(mctx_t *c, json_t *in, const char *status, const char *primary,
                         char *id_out, err_t *e) {
    char number[64];
    const char *link = json_string_value(json_object_get(in, "auth_user_id"));
    if (link && member_check_link(c, link, e) != 0) return -1;
    const char *given = json_string_value(json_object_get(in, "member_number"));
    if (given) {
        snprintf(number, sizeof number, "%s", given);
    } else if (next_free_number(c, number, sizeof number, e) != 0) {
        return -1;
    }
    json_t *pr = json_object_get(in, "profile");
    json_t *addrs = json_object_get(in, "addresses");
    char *addr_s = addrs && !json_is_null(addrs) ? jsonx_dump(addrs) : NULL;
    json_t *opt = json_object_get(in, "directory_opt_in");
    const char *optv = opt ? ((json_is_true(opt) ||
                               (json_is_string(opt) && strcmp(json_string_value(opt), "true") == 0))
                                  ? "t"
                                  : "f")
                           : NULL;
    const svc_caller_t *k = c->call->caller;
#define S(o, n) json_string_value(json_object_get(o, n))
    const char *p[] = {
        number,
        S(in, "category"),
        status,
        S(in, "joined_on"),
        S(in, "expires_on"),
        S(in, "home_club_id"),
        S(in, "auth_user_id"),
        primary,
        primary ? (S(in, "relationship") ? S(in, "relationship") : "other") : NULL,
        optv,
        S(pr, "first_name"),
        S(pr, "last_name"),
        S(pr, "preferred_name"),
        S(pr, "email"),
        S(pr, "phone"),
        S(pr, "date_of_birth"),
        S(pr, "photo_url"),
        S(pr, "language"),
        S(pr, "staff_notes"),
        k->user_id[0] ? k->user_id : NULL,
        k->request_id[0] ? k->request_id : NULL,
        addr_s,
    };
#undef S
    PGresult *r = db_exec(
        c->tx,
        "WITH m AS (INSERT INTO member.members (club_id, member_number, category, status, "
        "joined_on, expires_on, home_club_id, auth_user_id, primary_member_id, relationship, "
        "directory_opt_in) VALUES (core.current_club(), $1, $2, $3::member.member_status_enum, "
        "coalesce($4::date, current_date), $5::date, coalesce($6::uuid, core.current_club()), "
        "$7::uuid, $8::uuid, $9, coalesce($10::boolean, false)) RETURNING club_id, id), "
        "p AS (INSERT INTO member.profiles (club_id, member_id, first_name, last_name, "
        "preferred_name, email, phone, date_of_birth, photo_url, language, staff_notes) SELECT "
        "club_id, id, $11, $12, $13, $14, $15, $16::date, $17, $18, $19 FROM m), "
        "h AS (INSERT INTO member.status_history (club_id, member_id, from_status, to_status, "
        "reason, changed_by, request_id) SELECT club_id, id, NULL, $3::member.member_status_enum, "
        "'created', $20::uuid, $21 FROM m), "
        "a AS (INSERT INTO member.addresses (club_id, member_id, kind, lines, city, region, "
        "postal_code, country, latitude, longitude) SELECT m.club_id, m.id, x.key, ARRAY(SELECT "
        "jsonb_array_elements_text(coalesce(nullif(x.value->'lines', 'null'), '[]'))), "
        "x.value->>'city', x.value->>'region', x.value->>'postal_code', x.value->>'country', "
        "(x.value->>'latitude')::float8, (x.value->>'longitude')::float8 "
        "FROM m, jsonb_each(coalesce($22::jsonb, '{}')) x) "
        "SELECT id FROM m",
        22, p, e);
    free(addr_s);
    if (!r) {
        if (e->status == 409 && strstr(e->field, "auth_user"))
            err_set(e, 409, "conflict", "auth_user_id", "this auth user is already a member");
        else if (e->status == 409 && strstr(e->field, "member_number"))
            err_set(e, 409, "conflict", "member_number", "member_number %s is already taken",
                    number);
        else if (e->status == 409)
            err_set(e, 409, "conflict", "home_club_id", "home_club_id is not a club");
        else if (e->status == 422 && strstr(e->message, "category"))
            err_invalid(e, "category",
                        "category is neither built in (full, social, junior, senior, non-resident, "
                        "corporate, honorary) nor one of the club's categories");
        return -1;
    }
    snprintf(id_out, 40, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}
