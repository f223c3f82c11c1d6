/* member: the member service's one operation table (see service.h for the pattern).
 * Permissions: member:read (staff: any member of the club), member:write (create/edit),
 * member:admin (status, erase, import, settings). Operations with a NULL permission here are
 * the ones a signed-in member may use on their OWN record (auth_user_id = caller's user): the
 * handler admits staff with the permission in brackets, or the member themself, else 401/403/404.
 * Every member operation acts in the caller's club; a network administrator names the club with
 * `club_id` (body field or query parameter). API: docs/member.md. */
#include "services/member/member.h"
#include "services/member/member_sweep.h"

#include "services/member/cards.h"
#include "services/member/clubs.h"
#include "services/member/clubs_batch.h"
#include "services/member/members_batch.h"
#include "services/member/member_csv.h"
#include "services/member/member_privacy.h"
#include "services/member/members.h"
#include "services/member/members_lifecycle.h"
#include "services/member/members_search.h"
#include "services/member/members_settings.h"

static const svc_op_t member_ops[] = {
    {"create_club", "POST", "/api/v1/clubs", 201, "club:create", clubs_validate_create,
     clubs_create},
    {"list_clubs", "GET", "/api/v1/clubs", 200, "club:read", clubs_validate_list, clubs_list},
    {"get_club", "GET", "/api/v1/clubs/{id}", 200, "club:read", clubs_validate_ref, clubs_get},
    {"get_clubs_by_ids", NULL, NULL, 200, "club:read", clubs_validate_batch, clubs_get_batch},
    {"member_relations_by_ids", NULL, NULL, 200, "member:read", members_validate_relations,
     members_relations_by_ids},
    {"update_club", "PATCH", "/api/v1/clubs/{id}", 200, "club:write", clubs_validate_update,
     clubs_update},
    {"deactivate_club", "POST", "/api/v1/clubs/{id}/deactivate", 200, "club:admin",
     clubs_validate_status, clubs_deactivate},
    {"activate_club", "POST", "/api/v1/clubs/{id}/activate", 200, "club:admin",
     clubs_validate_status, clubs_activate},
    /* members */
    {"create_member", "POST", "/api/v1/members", 201, "member:write", members_validate_create,
     members_create},
    {"list_members", "GET", "/api/v1/members", 200, "member:read", members_validate_list,
     members_list},
    {"get_member", "GET", "/api/v1/members/{id}", 200, NULL /* member:read or self */,
     members_validate_ref, members_get},
    {"get_me", "GET", "/api/v1/members/me", 200, NULL /* self */, members_validate_club,
     members_me},
    {"update_member", "PATCH", "/api/v1/members/{id}", 200, NULL /* member:write or self */,
     members_validate_update, members_update},
    {"change_member_status", "POST", "/api/v1/members/{id}/status", 200, "member:admin",
     members_validate_status, members_set_status},
    {"renew_member", "POST", "/api/v1/members/{id}/renew", 200, "member:admin",
     members_validate_renew, members_renew},
    {"member_status_history", "GET", "/api/v1/members/{id}/status", 200, "member:read",
     members_validate_ref, members_history},
    {"add_dependent", "POST", "/api/v1/members/{id}/dependents", 201, "member:write",
     members_validate_dependent, members_add_dependent},
    {"list_dependents", "GET", "/api/v1/members/{id}/dependents", 200, NULL /* read or self */,
     members_validate_ref, members_list_dependents},
    {"put_member_address", "PUT", "/api/v1/members/{id}/addresses/{kind}", 200,
     NULL /* member:write or self */, members_validate_address, members_put_address},
    {"delete_member_address", "DELETE", "/api/v1/members/{id}/addresses/{kind}", 200,
     NULL /* member:write or self */, members_validate_address_ref, members_delete_address},
    {"member_directory", "GET", "/api/v1/members/directory", 200,
     NULL /* member:read or a member of the club */, members_validate_directory, members_directory},
    {"lapse_sweep", "POST", "/api/v1/members/lapse-sweep", 200, "member:admin",
     members_validate_sweep, members_lapse_sweep},
    {"get_member_settings", "GET", "/api/v1/members/settings", 200, "member:admin",
     members_validate_club, members_get_settings},
    {"update_member_settings", "PATCH", "/api/v1/members/settings", 200, "member:admin",
     members_validate_settings, members_update_settings},
    {"list_member_categories", "GET", "/api/v1/members/categories", 200, "member:read",
     members_validate_club, members_list_categories},
    {"create_member_category", "POST", "/api/v1/members/categories", 201, "member:admin",
     members_validate_category, members_create_category},
    /* privacy */
    {"export_me", "GET", "/api/v1/members/me/export", 200, NULL /* self */, members_validate_club,
     privacy_export_me},
    {"export_member_data", "GET", "/api/v1/members/{id}/export", 200, "member:admin",
     members_validate_ref, privacy_export_member},
    {"erase_member", "POST", "/api/v1/members/{id}/erase", 200, "member:admin",
     members_validate_ref, privacy_erase},
    /* CSV */
    {"import_members", "POST", "/api/v1/members/import", 200, "member:admin", csv_validate_import,
     csv_import},
    {"export_members", "GET", "/api/v1/members/export", 200, "member:read", csv_validate_export,
     csv_export},
    /* cards */
    {"get_member_card", "GET", "/api/v1/members/{id}/card", 200, NULL /* member:read or self */,
     cards_validate_get, cards_get},
    {"verify_card", "POST", "/api/v1/cards/verify", 200, "visit:verify", cards_validate_verify,
     cards_verify},
    {"club_card_key", "GET", "/api/v1/clubs/{id}/card-key", 200, NULL /* public */,
     cards_validate_key, cards_public_key},
    {"rotate_card_key", "POST", "/api/v1/members/card-key/rotate", 200, "member:admin",
     cards_validate_rotate, cards_rotate_key},
};

/* REST extras: the CSV import also takes a raw text/csv body (query: club_id, dry_run) and up
 * to 8 MiB (50,000 rows) whatever RECIPROCAL_HTTP_MAX_BODY_BYTES says. */
#define MEMBER_IMPORT_MAX_BODY (8u * 1024u * 1024u)
static const svc_op_http_t member_http[] = {
    {"import_members", "text/csv", "csv", MEMBER_IMPORT_MAX_BODY},
    {NULL, NULL, NULL, 0},
};

const svc_module_t member_module = {
    .name = "member",
    .schema = "member",
    .http = member_http,
    .ops = member_ops,
    .n_ops = sizeof member_ops / sizeof member_ops[0],
    .start = member_sweep_start,
    .stop = member_sweep_stop,
};
