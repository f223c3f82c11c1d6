/* preview: the template preview operation (docs/notification.md "Template preview"): a club's
 * administrator renders a template key, as the club's resolution gives it or as a draft
 * subject/body, with sample data (or given variables), in strict mode, without sending
 * anything. Owns nothing. */
#ifndef SERVICES_NOTIFICATION_PREVIEW_H
#define SERVICES_NOTIFICATION_PREVIEW_H

#include <jansson.h>

#include "core/service.h"

/* {key, locale?, subject?, body?, vars?}: key [a-z_]{1,64}, locale xx or xx-XX, subject 1..300
 * and body 1..20000 (both or neither), vars an object. */
int preview_validate(json_t *in, err_t *e);
/* {key, locale, source: "draft" | "resolved", subject, text, html}; 404 key for a key no
 * rule uses, 422 template_error naming a missing variable. */
int preview_template(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
