/* club_prefs: see club_prefs.h. */
#include "services/notification/club_prefs.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "services/notification/prefs.h"

static const char *const k_channels[] = {"email", "in_app", "push", NULL};

static int known_category(const char *c) {
    for (const char *const *k = notify_categories; *k; k++)
        if (strcmp(*k, c) == 0) return 1;
    return 0;
}

int club_prefs_validate_get(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", NULL};
    return jsonx_only_keys(in, keys, "", e);
}

/* a channel value: true, false or null (unset) */
static int tri_bool(json_t *o, const char *k, const char *field, err_t *e) {
    json_t *v = json_object_get(o, k);
    if (v && !json_is_boolean(v) && !json_is_null(v))
        return err_set(e, 400, "invalid_type", field, "%s must be true, false or null", field);
    return 0;
}

/* categories [{category, email?, in_app?, push?}] -> {category: {channel: bool | null}}. */
static int validate_categories(json_t *in, err_t *e) {
    static const char *const keys[] = {"category", "email", "in_app", "push", NULL};
    json_t *a = json_object_get(in, "categories"), *v;
    size_t i;
    if (!a) return 0;
    if (!json_is_array(a) || json_array_size(a) > 16)
        return err_set(e, 400, "invalid_type", "categories",
                       "categories must be an array of at most 16 {category, email, in_app, push}");
    json_t *obj = json_object();
    if (!obj) return err_set(e, 500, "internal", "", "out of memory");
    json_array_foreach(a, i, v) {
        const char *c;
        if (!json_is_object(v)) {
            json_decref(obj);
            return err_set(e, 400, "invalid_type", "categories", "categories[] must be objects");
        }
        if (jsonx_only_keys(v, keys, "categories.", e) != 0 ||
            jsonx_string(v, "category", 1, 1, 32, &c, e) != 0) {
            json_decref(obj);
            return -1;
        }
        if (!known_category(c)) {
            json_decref(obj);
            return err_invalid(e, "categories", "unknown category \"%s\"", c);
        }
        json_t *ch = json_object();
        json_object_set_new(obj, c, ch);
        for (const char *const *k = k_channels; *k; k++) {
            json_t *x = json_object_get(v, *k);
            char field[48];
            snprintf(field, sizeof field, "categories.%s", *k);
            if (!x) continue;
            if (tri_bool(v, *k, field, e) != 0) {
                json_decref(obj);
                return -1;
            }
            if (json_is_false(x) && notify_category_mandatory(c)) {
                json_decref(obj);
                return err_invalid(e, "categories",
                                   "%s notifications are mandatory: a club cannot switch them off",
                                   c);
            }
            json_object_set(ch, *k, x);
        }
    }
    json_object_set_new(in, "categories", obj);
    return 0;
}

int club_prefs_validate_set(json_t *in, err_t *e) {
    static const char *const keys[] = {"email", "in_app", "push", "categories", "club_id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    for (const char *const *k = k_channels; *k; k++)
        if (tri_bool(in, *k, *k, e) != 0) return -1;
    if (!json_object_get(in, "email") && !json_object_get(in, "in_app") &&
        !json_object_get(in, "push") && !json_object_get(in, "categories"))
        return err_set(e, 400, "missing_field", "categories",
                       "email, in_app, push or categories is required");
    return validate_categories(in, e);
}

static int require_club(const svc_call_t *call, err_t *e) {
    if (!call->caller->club_id[0])
        return err_set(e, 403, "forbidden", "", "notification defaults belong to a club");
    return 0;
}

static const char k_sql_row[] = "SELECT c.email, c.in_app, c.push, c.categories::text FROM "
                                "(SELECT 1) x LEFT JOIN notification.club_defaults c ON "
                                "c.club_id = core.current_club()";

/* A switch: the value of column col, else the network default. */
static int col_bool(PGresult *r, int col, int def) {
    return PQgetisnull(r, 0, col) ? def : PQgetvalue(r, 0, col)[0] == 't';
}

static json_t *club_doc(PGresult *r, err_t *e) {
    json_t *cats = PQgetisnull(r, 0, 3) ? json_object() : json_loads(PQgetvalue(r, 0, 3), 0, NULL);
    json_t *list = json_array();
    int g[3] = {col_bool(r, 0, 1), col_bool(r, 1, 1), col_bool(r, 2, 0)};
    json_t *doc = json_pack("{s:b, s:b, s:b}", "email", g[0], "in_app", g[1], "push", g[2]);
    if (!cats || !list || !doc) {
        json_decref(cats), json_decref(list), json_decref(doc);
        err_set(e, 500, "internal", "", "out of memory");
        return NULL;
    }
    for (const char *const *c = notify_categories; *c; c++) {
        json_t *o = json_object_get(cats, *c);
        int m = notify_category_mandatory(*c), v[3];
        for (int k = 0; k < 3; k++) {
            json_t *x = json_object_get(o, k_channels[k]);
            v[k] = m || (json_is_boolean(x) ? json_is_true(x) : g[k]);
        }
        json_array_append_new(list, json_pack("{s:s, s:b, s:b, s:b, s:b}", "category", *c, "email",
                                              v[0], "in_app", v[1], "push", v[2], "mandatory", m));
    }
    json_object_set_new(doc, "categories", list);
    json_decref(cats);
    return doc;
}

int club_prefs_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    if (require_club(call, e) != 0) return -1;
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope, k_sql_row, 0, NULL, e);
    if (!r) return -1;
    *out = club_doc(r, e);
    PQclear(r);
    return *out ? 0 : -1;
}

/* $1..$3: given (t/f) or absent (NULL: kept); $4..$6 "t" when given as null (reset);
 * $7 the categories to merge (a null channel removes the club's value). */
static const char k_sql_upsert[] =
    "INSERT INTO notification.club_defaults AS c (club_id, email, in_app, push, categories) "
    "VALUES (core.current_club(), $1::boolean, $2::boolean, $3::boolean, jsonb_strip_nulls("
    "coalesce($7::jsonb, '{}'))) ON CONFLICT (club_id) DO UPDATE SET email = CASE WHEN "
    "$4::boolean THEN NULL ELSE coalesce($1::boolean, c.email) END, in_app = CASE WHEN "
    "$5::boolean THEN NULL ELSE coalesce($2::boolean, c.in_app) END, push = CASE WHEN "
    "$6::boolean THEN NULL ELSE coalesce($3::boolean, c.push) END, categories = (SELECT "
    "coalesce(jsonb_object_agg(k, jsonb_strip_nulls(coalesce(c.categories -> k, '{}') || "
    "coalesce($7::jsonb -> k, '{}'))), '{}') FROM (SELECT jsonb_object_keys(c.categories) UNION "
    "SELECT jsonb_object_keys(coalesce($7::jsonb, '{}'))) ks(k)), updated_at = now()";

static const char *given(json_t *in, const char *k) {
    json_t *v = json_object_get(in, k);
    return json_is_boolean(v) ? (json_is_true(v) ? "t" : "f") : NULL;
}

static const char *reset(json_t *in, const char *k) {
    return json_is_null(json_object_get(in, k)) ? "t" : "f";
}

int club_prefs_set(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    if (require_club(call, e) != 0) return -1;
    json_t *cats = json_object_get(in, "categories");
    char *ctext = cats ? json_dumps(cats, JSON_COMPACT) : NULL;
    const char *p[] = {given(in, "email"),
                       given(in, "in_app"),
                       given(in, "push"),
                       reset(in, "email"),
                       reset(in, "in_app"),
                       reset(in, "push"),
                       ctext};
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0 || db_exec_cmd(tx, k_sql_upsert, 7, p, e) < 0) goto done;
    r = db_exec(tx, k_sql_row, 0, NULL, e);
    if (!r) goto done;
    *out = club_doc(r, e);
    if (*out) rc = 0;
done:
    PQclear(r);
    free(ctext);
    return db_tx_finish(&tx, rc, out, e);
}
