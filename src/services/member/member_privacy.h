/* member_privacy: GDPR operations of the member service: a member's data export (self:
 * GET /api/v1/members/me/export; admin: GET /api/v1/members/{id}/export) and erasure by an
 * admin (anonymises personal fields, keeps ids/number/category/status/dates needed by club
 * accounting and the ledger, audited in member.audit_log, event member.erased). */
#ifndef SERVICES_MEMBER_PRIVACY_H
#define SERVICES_MEMBER_PRIVACY_H

#include "core/service.h"

int privacy_export_me(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int privacy_export_member(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int privacy_erase(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
