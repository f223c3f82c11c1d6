/* member_standing: the internal operation (no REST route) another service calls over the
 * operation table to learn whether a member is in good standing at their club: the reciprocal
 * service before it issues a letter of introduction, confirms a visit or checks a visitor in.
 * Input {"member_id", "club_id"?} (club_id: the member's club; default the caller's club).
 * Answer to a caller of the member's own club (or a network administrator):
 *   {"member_id","club_id","active","status","restrictions":[...],"name","member_number",
 *    "category","valid_to","home":{"city","country","latitude","longitude"} | null,
 *    "club":{"name","city","country","latitude","longitude","timezone"}}
 * (name "" and home null once the member was erased). Answer to another club (a host at its
 * door): only {"member_id","club_id","active","status","restrictions","category","valid_to"},
 * from member.card_registry, the one member table readable network-wide: a host never learns
 * names, numbers or addresses here (the letter's snapshot carries what it may see).
 * restrictions: "membership_expired" (valid_to before today), "erased"; active = status active
 * and no restriction. 404 member_id when the club has no such member. */
#ifndef SERVICES_MEMBER_STANDING_H
#define SERVICES_MEMBER_STANDING_H

#include "core/service.h"

int standing_validate(json_t *in, err_t *e);
/* The home view comes from the process's standing read cache when it holds the member (see
 * member_standing.c and docs/member.md "Standing cache"). standing_cache_follow subscribes it
 * to the member and club events (serve); standing_changed drops a club's entries in this
 * process (after the commit of a member write). */
int standing_cache_follow(const svc_env_t *env, err_t *e);
void standing_changed(const char *club);
int standing_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
