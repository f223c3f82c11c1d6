/* inbox: handlers of the in-app inbox (list, unread count, mark seen / read: the signed-in
 * caller's own messages) and of the failed list (network administrators). See inbox.c. */
#ifndef SERVICES_NOTIFICATION_INBOX_H
#define SERVICES_NOTIFICATION_INBOX_H

#include "core/service.h"

int inbox_validate_list(json_t *in, err_t *e); /* limit 1..100 (20), unread bool */
int inbox_validate_id(json_t *in, err_t *e);   /* id: uuid */
int inbox_validate_none(json_t *in, err_t *e);
int inbox_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int inbox_unread(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int inbox_mark_seen(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int inbox_mark_read(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int inbox_list_failed(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int inbox_retry_failed(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
