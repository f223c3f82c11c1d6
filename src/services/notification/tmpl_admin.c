/* tmpl_admin: see tmpl_admin.h. */
#include "services/notification/tmpl_admin.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "services/notification/icu_fmt.h"
#include "services/notification/rules.h"

#define TMPL_DOC                                                                                   \
    "json_build_object('key', key, 'locale', locale, 'subject', subject, 'body', body, "           \
    "'updated_at', to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"

int tmpl_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", NULL};
    return jsonx_only_keys(in, keys, "", e);
}

/* key [a-z_]{1,64}; locale xx or xx-XX (the table's checks) */
static int check_id(json_t *in, err_t *e) {
    const char *key, *loc;
    if (jsonx_string(in, "key", 1, 1, 64, &key, e) != 0 ||
        jsonx_string(in, "locale", 1, 2, 5, &loc, e) != 0)
        return -1;
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
            return err_invalid(e, "key", "key must be lower-case letters and _");
    size_t n = strlen(loc);
    int ok = (n == 2 || (n == 5 && loc[2] == '-')) && loc[0] >= 'a' && loc[0] <= 'z' &&
             loc[1] >= 'a' && loc[1] <= 'z' &&
             (n == 2 || (loc[3] >= 'A' && loc[3] <= 'Z' && loc[4] >= 'A' && loc[4] <= 'Z'));
    if (!ok) return err_invalid(e, "locale", "locale must look like en or de-DE");
    return 0;
}

int tmpl_validate_id(json_t *in, err_t *e) {
    static const char *const keys[] = {"key", "locale", "club_id", NULL};
    return jsonx_only_keys(in, keys, "", e) != 0 ? -1 : check_id(in, e);
}

int tmpl_validate_put(json_t *in, err_t *e) {
    static const char *const keys[] = {"key", "locale", "subject", "body", "club_id", NULL};
    const char *subject, *body;
    if (jsonx_only_keys(in, keys, "", e) != 0 || check_id(in, e) != 0 ||
        jsonx_string(in, "subject", 1, 1, 300, &subject, e) != 0 ||
        jsonx_text(in, "body", 1, 1, 20000, &body, e) != 0)
        return -1;
    return 0;
}

static int require_club(const svc_call_t *call, err_t *e) {
    if (!call->caller->club_id[0])
        return err_set(e, 403, "forbidden", "", "template overrides belong to a club");
    return 0;
}

static const char *str(json_t *in, const char *k) {
    return json_string_value(json_object_get(in, k));
}

int tmpl_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    if (require_club(call, e) != 0) return -1;
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT json_build_object('items', coalesce(json_agg(" TMPL_DOC
                          " ORDER BY key, locale), '[]'))::text FROM notification.templates "
                          "WHERE club_id = core.current_club()",
                          0, NULL, e);
    if (!r) return -1;
    *out = db_json_raw(r, 0, 0, e); /* passed through: the document is answered as built */
    PQclear(r);
    return *out ? 0 : -1;
}

/* Runs sql ($1 key, $2 locale, answering TMPL_DOC) in the caller's club: 404 without a row. */
static int one(const svc_call_t *call, json_t *in, const char *sql, json_t **out, err_t *e) {
    if (require_club(call, e) != 0) return -1;
    const char *p[] = {str(in, "key"), str(in, "locale")};
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) goto done;
    r = db_exec(tx, sql, 2, p, e);
    if (!r) goto done;
    if (PQntuples(r) != 1) {
        err_set(e, 404, "not_found", "key", "the club has no override of %s in %s", p[0], p[1]);
        goto done;
    }
    *out = db_json(r, 0, 0, e);
    if (*out) rc = 0;
done:
    PQclear(r);
    return db_tx_finish(&tx, rc, out, e);
}

int tmpl_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return one(call, in,
               "SELECT " TMPL_DOC "::text FROM notification.templates WHERE club_id = "
               "core.current_club() AND key = $1 AND locale = $2",
               out, e);
}

int tmpl_delete(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return one(call, in,
               "DELETE FROM notification.templates WHERE club_id = core.current_club() AND key = "
               "$1 AND locale = $2 RETURNING " TMPL_DOC "::text",
               out, e);
}

int tmpl_put(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *key = str(in, "key"), *subject = str(in, "subject"), *body = str(in, "body");
    char *s = NULL, *t = NULL, *h = NULL;
    if (require_club(call, e) != 0) return -1;
    json_t *sample = notify_sample_vars(key);
    if (!sample)
        return err_set(e, 404, "not_found", "key", "no notification uses template \"%s\"", key);
    /* parses, and uses only variables the notification carries (strict mode, as at send; the
     * "_local" forms of its dates, times and money included) */
    int ok = notify_format_vars(sample, str(in, "locale"), "UTC", e) == 0 &&
             notify_render(subject, body, sample, &s, &t, &h, e) == 0;
    json_decref(sample);
    free(s), free(t), free(h);
    if (!ok) return -1;
    const char *p[] = {key, str(in, "locale"), subject, body};
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) goto done;
    r = db_exec(tx,
                "INSERT INTO notification.templates AS t (club_id, key, locale, subject, body) "
                "VALUES (core.current_club(), $1, $2, $3, $4) ON CONFLICT (club_id, key, locale) "
                "DO UPDATE SET subject = excluded.subject, body = excluded.body, updated_at = "
                "now() RETURNING " TMPL_DOC "::text, (xmax = 0)",
                4, p, e);
    if (!r) goto done;
    *out = db_json(r, 0, 0, e);
    if (!*out) goto done;
    json_object_set_new(*out, "created", json_boolean(PQgetvalue(r, 0, 1)[0] == 't'));
    rc = 0;
done:
    PQclear(r);
    return db_tx_finish(&tx, rc, out, e);
}
