/* common: see common.h. */
#include "services/governance/common.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/json.h"

int gov_valid_as_of(json_t *in, err_t *e) {
    const char *s;
    if (jsonx_string(in, "as_of", 0, 10, 40, &s, e) != 0) return -1;
    if (!s) return 0;
    if (strlen(s) < 10 || s[4] != '-' || s[7] != '-')
        return err_invalid(e, "as_of", "as_of must be an ISO 8601 timestamp");
    for (const char *c = s; *c; c++)
        if (!strchr("0123456789-:.+TZ ", *c))
            return err_invalid(e, "as_of", "as_of must be an ISO 8601 timestamp");
    return 0;
}

int gov_valid_uuid(json_t *in, const char *name, int required, err_t *e) {
    const char *s;
    if (jsonx_string(in, name, required, 1, 64, &s, e) != 0) return -1;
    if (!s) return 0;
    if (!jsonx_is_uuid(s)) return err_invalid(e, name, "%s must be a uuid", name);
    char buf[40];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *c = buf; *c; c++)
        if (*c >= 'A' && *c <= 'F') *c = (char)(*c + 32);
    json_object_set_new(in, name, json_string(buf));
    return 0;
}

int gov_clock(const svc_call_t *call, json_t *in, char now[40], err_t *e) {
    const char *as_of = json_string_value(json_object_get(in, "as_of"));
    if (as_of) {
        if (!call->caller->network_admin)
            return err_set(e, 403, "forbidden", "as_of",
                           "only a network administrator sets the clock (as_of)");
        snprintf(now, 40, "%s", as_of);
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(now, 40, "%.19s.%06dZ", base, (int)((ts.tv_nsec / 1000) % 1000000));
    return 0;
}

int gov_acting_club(const svc_call_t *call, json_t *in, char club[40], err_t *e) {
    const char *named = json_string_value(json_object_get(in, "club_id"));
    if (call->caller->club_id[0]) {
        if (named && strcasecmp(named, call->caller->club_id) != 0)
            return err_set(e, 403, "forbidden", "club_id", "you act for your own club only");
        snprintf(club, 40, "%s", call->caller->club_id);
        return 0;
    }
    if (!call->caller->network_admin || !named)
        return err_set(e, 400, "missing_field", "club_id",
                       "club_id is required: the club a network administrator acts for");
    snprintf(club, 40, "%s", named);
    return 0;
}

void gov_system_caller(const svc_call_t *call, svc_caller_t *sys) {
    memset(sys, 0, sizeof *sys);
    sys->network_admin = 1;
    snprintf(sys->perms, sizeof sys->perms, "*");
    snprintf(sys->request_id, sizeof sys->request_id, "%s",
             call->caller->request_id[0] ? call->caller->request_id : "governance");
}

json_t *gov_load_doc(db_tx_t *tx, const char *id, err_t *e) {
    const char *p[] = {id};
    PGresult *r =
        db_exec(tx, "SELECT " GOV_DOC_SQL " FROM governance.proposals p WHERE p.id = $1", 1, p, e);
    if (!r) return NULL;
    json_t *doc = NULL;
    if (PQntuples(r) == 0)
        err_set(e, 404, "not_found", "id", "no such proposal");
    else
        doc = db_json(r, 0, 0, e);
    PQclear(r);
    return doc;
}

int gov_transition(const svc_call_t *call, db_tx_t *tx, const char *id, const char *from,
                   const char *to, const char *at, const char *extra_sql, const char *reason,
                   const char *event, const char *tenant, json_t *event_extra, err_t *e) {
    char sql[1024];
    snprintf(sql, sizeof sql,
             "UPDATE governance.proposals SET status = $2, updated_at = $4::timestamptz%s WHERE "
             "id = $1 AND status = $3",
             extra_sql ? extra_sql : "");
    const char *p[] = {id, to, from, at};
    long long n = db_exec_cmd(tx, sql, 4, p, e);
    if (n < 0) goto fail;
    if (n == 0) {
        err_set(e, 409, "invalid_transition", "status", "the proposal is no longer %s", from);
        goto fail;
    }
    const char *club = call->caller->club_id[0] ? call->caller->club_id : NULL;
    const char *user = call->caller->user_id[0] ? call->caller->user_id : NULL;
    const char *ph[] = {id, club, user, from, to, reason, at};
    if (db_exec_cmd(tx,
                    "INSERT INTO governance.transitions (proposal_id, club_id, actor_user_id, "
                    "from_status, to_status, reason, at) VALUES ($1, $2, $3, $4, $5, $6, "
                    "$7::timestamptz)",
                    7, ph, e) < 0)
        goto fail;
    if (!event) {
        json_decref(event_extra);
        return 0;
    }
    json_t *data =
        json_pack("{s:s, s:s, s:s}", "proposal_id", id, "status", to, "from_status", from);
    if (event_extra) {
        json_object_update(data, event_extra);
        json_decref(event_extra);
    }
    char type[64];
    snprintf(type, sizeof type, "governance.proposal_%s", event);
    return svc_emit(call, tx, type, tenant, data, e);
fail:
    json_decref(event_extra);
    return -1;
}
