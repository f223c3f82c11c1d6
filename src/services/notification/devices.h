/* devices: a member's push devices (docs/notification.md "SMS and push"): register (the push
 * gateway's token for this app installation; registering the same token again refreshes it),
 * list and remove, always the signed-in caller's own in its club (RLS policy devices_own: another
 * member's or club's device is invisible, 404). The token is answered only as its last 6
 * characters. The consumers queue one push message per registered device (rules.c). Owns nothing
 * between calls. */
#ifndef SERVICES_NOTIFICATION_DEVICES_H
#define SERVICES_NOTIFICATION_DEVICES_H

#include <jansson.h>

#include "core/service.h"

int devices_validate_register(json_t *in, err_t *e);
int devices_validate_list(json_t *in, err_t *e);
int devices_validate_id(json_t *in, err_t *e);
/* {id, platform, label, token_hint, created_at, last_seen_at}; 201 */
int devices_register(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* {items: [device...]} newest first */
int devices_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
/* the removed device; 404 for an id that is not the caller's */
int devices_delete(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
