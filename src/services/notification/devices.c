/* devices: see devices.h. */
#include "services/notification/devices.h"

#include <libpq-fe.h>
#include <string.h>

#include "core/json.h"

#define DEVICE_DOC                                                                                 \
    "json_build_object('id', id, 'platform', platform, 'label', label, 'token_hint', "             \
    "right(token, 6), 'created_at', to_char(created_at AT TIME ZONE 'UTC', "                       \
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'last_seen_at', to_char(last_seen_at AT TIME ZONE 'UTC', " \
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"

int devices_validate_register(json_t *in, err_t *e) {
    static const char *const keys[] = {"token", "platform", "label", "club_id", NULL};
    static const char *const platforms[] = {"android", "ios", "web", NULL};
    const char *s;
    if (jsonx_only_keys(in, keys, "", e) != 0 ||
        jsonx_string(in, "token", 1, 16, 4096, &s, e) != 0 ||
        jsonx_enum(in, "platform", 1, platforms, &s, e) != 0 ||
        jsonx_string(in, "label", 0, 1, 100, &s, e) != 0)
        return -1;
    return 0;
}

int devices_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", NULL};
    return jsonx_only_keys(in, keys, "", e);
}

int devices_validate_id(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "club_id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return jsonx_uuid(in, "id", 1, e);
}

static int require_member(const svc_call_t *call, err_t *e) {
    if (!call->caller->club_id[0] || !call->caller->user_id[0])
        return err_set(e, 403, "forbidden", "", "push devices belong to a member of a club");
    return 0;
}

int devices_register(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    if (require_member(call, e) != 0) return -1;
    const char *p[] = {call->caller->user_id, json_string_value(json_object_get(in, "platform")),
                       json_string_value(json_object_get(in, "token")),
                       json_string_value(json_object_get(in, "label"))};
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) goto done;
    r = db_exec(
        tx,
        "INSERT INTO notification.devices (club_id, user_id, platform, token, label) "
        "VALUES (core.current_club(), $1, $2, $3, $4) ON CONFLICT (club_id, user_id, "
        "token) DO UPDATE SET platform = EXCLUDED.platform, label = "
        "coalesce(EXCLUDED.label, devices.label), last_seen_at = now() RETURNING " DEVICE_DOC
        "::text",
        4, p, e);
    if (!r) goto done;
    *out = db_json(r, 0, 0, e);
    rc = *out ? 0 : -1;
done:
    PQclear(r);
    return db_tx_finish(&tx, rc, out, e);
}

int devices_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    if (require_member(call, e) != 0) return -1;
    db_scope_t scope = svc_scope(call, NULL);
    const char *p[] = {call->caller->user_id};
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT json_build_object('items', coalesce(json_agg(" DEVICE_DOC
                          " ORDER BY created_at DESC), '[]'))::text FROM notification.devices "
                          "WHERE club_id = core.current_club() AND user_id = $1",
                          1, p, e);
    if (!r) return -1;
    *out = db_json_raw(r, 0, 0, e);
    PQclear(r);
    return *out ? 0 : -1;
}

int devices_delete(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    if (require_member(call, e) != 0) return -1;
    const char *p[] = {json_string_value(json_object_get(in, "id")), call->caller->user_id};
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) goto done;
    r = db_exec(tx,
                "DELETE FROM notification.devices WHERE id = $1::uuid AND club_id = "
                "core.current_club() AND user_id = $2 RETURNING " DEVICE_DOC "::text",
                2, p, e);
    if (!r) goto done;
    if (PQntuples(r) != 1) {
        err_set(e, 404, "not_found", "id", "no device with this id");
        goto done;
    }
    *out = db_json(r, 0, 0, e);
    rc = *out ? 0 : -1;
done:
    PQclear(r);
    return db_tx_finish(&tx, rc, out, e);
}
