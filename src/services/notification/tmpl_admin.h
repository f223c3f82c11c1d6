/* tmpl_admin: a club administrator's management of the club's template overrides
 * (docs/notification.md "Template overrides"): list, get, put (create or replace) and delete the
 * override of one template key and locale (notification.templates, RLS on the club). A put is
 * checked before it is stored: the key must be one a rule uses (404 key), the subject and body
 * must parse and render in strict mode with the key's sample variables (notify_sample_vars), so
 * a syntax error or a variable the notification does not carry is 422 template_error naming
 * subject or body. Resolution at send time is notify_template's (rules.h). Owns nothing. */
#ifndef SERVICES_NOTIFICATION_TMPL_ADMIN_H
#define SERVICES_NOTIFICATION_TMPL_ADMIN_H

#include <jansson.h>

#include "core/service.h"

int tmpl_validate_list(json_t *in, err_t *e);
/* {key, locale}: key [a-z_]{1,64}, locale xx or xx-XX. */
int tmpl_validate_id(json_t *in, err_t *e);
/* {key, locale, subject (1..300), body (1..20000)}. */
int tmpl_validate_put(json_t *in, err_t *e);
/* {items: [{key, locale, subject, body, updated_at}]} of the caller's club, by key and locale. */
int tmpl_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* The override {key, locale, subject, body, updated_at}; 404 when the club has none. */
int tmpl_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* Creates or replaces it after the checks above: the override plus created (bool). */
int tmpl_put(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* Removes it (the resolution falls back to the next level): the removed override; 404 none. */
int tmpl_delete(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
