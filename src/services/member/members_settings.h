/* members_settings: a club's member settings (member number pattern and next sequence, card
 * lifetime) and its member categories (built-in ones plus the club's own). Owns the SQL over
 * member.settings and member.categories. Handlers set *out (the caller's, json_decref) only on
 * success. API: docs/member.md. */
#ifndef SERVICES_MEMBER_MEMBERS_SETTINGS_H
#define SERVICES_MEMBER_MEMBERS_SETTINGS_H

#include "core/service.h"
#include "services/member/members.h"

int members_validate_settings(json_t *in, err_t *e);
int members_validate_category(json_t *in, err_t *e);
int members_get_settings(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_update_settings(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_list_categories(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int members_create_category(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
