/* member: the member service's one operation table (see service.h for the pattern). */
#include "services/member/member.h"

#include "services/member/clubs.h"

static const svc_op_t member_ops[] = {
    {"create_club", "POST", "/api/v1/clubs", 201, "club:create", clubs_validate_create,
     clubs_create},
    {"list_clubs", "GET", "/api/v1/clubs", 200, "club:read", clubs_validate_list, clubs_list},
    {"get_club", "GET", "/api/v1/clubs/{id}", 200, "club:read", clubs_validate_ref, clubs_get},
    {"update_club", "PATCH", "/api/v1/clubs/{id}", 200, "club:write", clubs_validate_update,
     clubs_update},
    {"deactivate_club", "POST", "/api/v1/clubs/{id}/deactivate", 200, "club:admin",
     clubs_validate_status, clubs_deactivate},
    {"activate_club", "POST", "/api/v1/clubs/{id}/activate", 200, "club:admin",
     clubs_validate_status, clubs_activate},
};

const svc_module_t member_module = {
    .name = "member",
    .schema = "member",
    .ops = member_ops,
    .n_ops = sizeof member_ops / sizeof member_ops[0],
};
