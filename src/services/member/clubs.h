/* clubs: the club operations of the member service (create, list, get, update, activate,
 * deactivate). Owns the SQL over member.clubs and the club.* events it writes to the outbox.
 * Input shapes and errors are documented in README.md (API: clubs). */
#ifndef SERVICES_MEMBER_CLUBS_H
#define SERVICES_MEMBER_CLUBS_H

#include "core/service.h"

int clubs_validate_create(json_t *in, err_t *e);
int clubs_validate_update(json_t *in, err_t *e);
int clubs_validate_list(json_t *in, err_t *e);
int clubs_validate_ref(json_t *in, err_t *e);
int clubs_validate_status(json_t *in, err_t *e);

int clubs_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int clubs_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int clubs_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int clubs_update(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int clubs_deactivate(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int clubs_activate(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* 1 if code is an assigned ISO 3166-1 alpha-2 country code (upper case). */
int clubs_is_country(const char *code);

#endif
