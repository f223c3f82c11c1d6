/* preview: see preview.h. */
#include "services/notification/preview.h"

#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "services/notification/icu_fmt.h"
#include "services/notification/rules.h"

int preview_validate(json_t *in, err_t *e) {
    static const char *const keys[] = {"key", "locale", "subject", "body", "vars", "club_id", NULL};
    const char *key, *locale, *subject, *body;
    if (jsonx_only_keys(in, keys, "", e) != 0 || jsonx_string(in, "key", 1, 1, 64, &key, e) != 0 ||
        jsonx_string(in, "locale", 0, 2, 5, &locale, e) != 0 ||
        jsonx_string(in, "subject", 0, 1, 300, &subject, e) != 0 ||
        jsonx_text(in, "body", 0, 1, 20000, &body, e) != 0)
        return -1;
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
            return err_invalid(e, "key", "key must be lower-case letters and _");
    if (locale && !(strlen(locale) == 2 || (strlen(locale) == 5 && locale[2] == '-')))
        return err_invalid(e, "locale", "locale must look like en or fr-CH");
    if (!subject != !body)
        return err_invalid(e, subject ? "body" : "subject", "a draft needs both subject and body");
    json_t *vars = json_object_get(in, "vars");
    if (vars && !json_is_object(vars))
        return err_set(e, 400, "invalid_type", "vars", "vars must be an object");
    return 0;
}

int preview_template(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *key = json_string_value(json_object_get(in, "key"));
    const char *locale = json_string_value(json_object_get(in, "locale"));
    const char *ds = json_string_value(json_object_get(in, "subject"));
    const char *db = json_string_value(json_object_get(in, "body"));
    json_t *vars = json_object_get(in, "vars");
    char *st = NULL, *bt = NULL, *subject = NULL, *text = NULL, *html = NULL;
    db_tx_t *tx = NULL;
    int rc = -1;
    json_t *sample = notify_sample_vars(key);
    if (!sample)
        return err_set(e, 404, "not_found", "key", "no notification uses template \"%s\"", key);
    if (!locale) locale = "en";
    /* the sample's dates, times and money in the preview's locale (icu_fmt.h) */
    if (notify_format_vars(sample, locale, "UTC", e) != 0 ||
        (vars && notify_format_vars(vars, locale, "UTC", e) != 0)) {
        json_decref(sample);
        return -1;
    }
    const char *source = "draft";
    if (!ds) {
        /* the club's resolution (its overrides under RLS: its own club only) */
        if (svc_begin(call, &tx, e) != 0 ||
            notify_template(tx, call->caller->club_id, key, locale, &st, &bt, e) != 0)
            goto done;
        source = "resolved";
    }
    if (notify_render(ds ? ds : st, ds ? db : bt, vars ? vars : sample, &subject, &text, &html,
                      e) != 0)
        goto done;
    *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "key", key, "locale", locale, "source",
                     source, "subject", subject, "text", text, "html", html);
    rc = *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
done:
    db_rollback(tx);
    json_decref(sample);
    free(st);
    free(bt);
    free(subject);
    free(text);
    free(html);
    return rc;
}
