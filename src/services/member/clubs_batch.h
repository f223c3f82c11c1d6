/* clubs_batch: get_clubs_by_ids, the batch read GraphQL's loader uses (one call for many clubs
 * instead of one get_club each). Owns no state; reads member.clubs like clubs.c. */
#ifndef SERVICES_MEMBER_CLUBS_BATCH_H
#define SERVICES_MEMBER_CLUBS_BATCH_H

#include "core/service.h"

/* Input {"ids": [id or slug, ...]} (1..100 strings). */
int clubs_validate_batch(json_t *in, err_t *e);
/* Output {"items": [club or null, ...]} in the order of "ids" (null: no such club). */
int clubs_get_batch(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
