/* notification: its operation table and handlers (see notification.h and core/service.h). */
#include "services/notification/notification.h"

#include <libpq-fe.h>

/* The caller's row, or the defaults (email on, push off), as one JSON object. RLS limits the
 * table to the caller's club and user; the WHERE repeats the user for the index. */
static const char k_sql_get[] =
    "SELECT coalesce((SELECT json_build_object('email', email, 'push', push)"
    " FROM notification.preferences WHERE user_id = $1),"
    " json_build_object('email', true, 'push', false))::text";

static int notification_get_preferences(const svc_call_t *call, json_t *input, json_t **output,
                                        err_t *e) {
    (void)input;
    db_scope_t scope = svc_scope(call, NULL);
    const char *params[] = {call->caller->user_id};
    PGresult *r = db_read(call->env->db, &scope, k_sql_get, 1, params, e);
    if (!r) return -1;
    *output = db_json(r, 0, 0, e);
    PQclear(r);
    return *output ? 0 : -1;
}

static const svc_op_t notification_ops[] = {
    {.name = "get_preferences",
     .method = "GET",
     .route = "/api/v1/notifications/preferences",
     .status = 200,
     .access = SVC_SIGNED_IN,
     .handle = notification_get_preferences},
};

const svc_module_t notification_module = {
    .name = "notification",
    .schema = "notification",
    .ops = notification_ops,
    .n_ops = sizeof notification_ops / sizeof notification_ops[0],
};
