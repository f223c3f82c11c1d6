/* auth_me: see auth_me.h. */
#include "services/auth/auth_me.h"

#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/json.h"
#include "core/rcache.h"
#include "core/strbuf.h"
#include "services/auth/auth_util.h"

static const char *const me_events[] = {AUTH_ME_EVENTS, NULL};

static rcache_t *me_cache(void) {
    static rcache_slot_t slot;
    return rcache_at(&slot, "auth_me");
}

/* An event of AUTH_ME_EVENTS: tenant_id is the account's club (AUTH_NETWORK_CLUB for a network
 * account), data.user_id the account. */
static void on_me_event(rcache_t *c, const char *subject, const json_t *envelope) {
    (void)subject;
    const char *club = json_string_value(json_object_get(envelope, "tenant_id"));
    const char *user =
        json_string_value(json_object_get(json_object_get(envelope, "data"), "user_id"));
    if (club)
        rcache_invalidate(c, club, user); /* no user_id: every account of the club */
    else
        rcache_clear(c); /* unreadable: any account may have changed */
}

int auth_me_follow(const svc_env_t *env, err_t *e) {
    rcache_t *c = me_cache();
    if (!c) return err_set(e, 500, "internal", "", "out of memory");
    return rcache_follow(c, env->bus, me_events, on_me_event, e);
}

void auth_me_changed(const char *club, const char *user_id) {
    rcache_t *c = me_cache();
    if (c) rcache_invalidate(c, club, user_id);
}

json_t *auth_me_event_data(const char *club, const char *user_id) {
    int network = strcmp(club, AUTH_NETWORK_CLUB) == 0;
    return json_pack("{s:s, s:o}", "user_id", user_id, "club_id",
                     network ? json_null() : json_string(club));
}

/* The answer: the account's document with the caller's token's perms as its last member, the
 * bytes jansson printed when the handler parsed the document and set "perms" on it. */
static json_t *with_perms(const char *doc, size_t len, const char *perms, err_t *e) {
    if (len < 2 || doc[0] != '{' || doc[len - 1] != '}')
        return err_set(e, 500, "internal", "", "unreadable account document"), NULL;
    strbuf_t b = {0};
    strbuf_putn(&b, doc, len - 1);
    strbuf_puts(&b, len > 2 ? ",\"perms\":" : "\"perms\":");
    jsonx_put_string(&b, perms, strlen(perms));
    strbuf_puts(&b, "}");
    json_t *j = b.oom ? NULL : jsonx_raw(b.p, b.len, e);
    if (b.oom) err_set(e, 500, "internal", "", "out of memory");
    strbuf_free(&b);
    return j;
}

/* From the cache when it holds the account; else one statement in one round trip (db_read:
 * the caller's read-only scope and the SELECT as one pipeline), the document kept as
 * PostgreSQL built it (db_json_raw) for the next request. */
int auth_me(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    const char *club = auth_caller_club(call->caller);
    const char *user = call->caller->user_id;
    rcache_t *c = me_cache();
    char *text = NULL;
    size_t len = 0;
    if (c && rcache_get(c, club, user, &text, &len)) {
        *out = with_perms(text, len, call->caller->perms, e);
        free(text);
        return *out ? 0 : -1;
    }
    uint64_t epoch = c ? rcache_epoch(c) : 0;
    db_scope_t s = {.club_id = club, .user_id = user};
    const char *p[] = {club, user};
    PGresult *r = db_read(
        call->env->db, &s,
        "SELECT jsonb_build_object('id', u.id, 'email', u.email, 'club_id', CASE WHEN u.club_id "
        "= '" AUTH_NETWORK_CLUB "' THEN NULL ELSE u.club_id END, 'status', u.status, "
        "'email_verified', u.email_verified_at IS NOT NULL, 'roles', coalesce((SELECT "
        "jsonb_agg(role ORDER BY role) FROM auth.user_roles r WHERE r.club_id = u.club_id AND "
        "r.user_id = u.id), '[]'), 'mfa_enabled', EXISTS (SELECT 1 FROM auth.mfa_totp m WHERE "
        "m.club_id = u.club_id AND m.user_id = u.id AND m.confirmed_at IS NOT NULL), "
        "'created_at', u.created_at)::text FROM auth.users u WHERE u.club_id = $1::uuid AND u.id "
        "= $2::uuid",
        2, p, e);
    if (!r) return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_set(e, 401, "unauthenticated", "", "the signed-in account no longer exists");
    }
    json_t *doc = db_json_raw(r, 0, 0, e);
    PQclear(r);
    if (!doc) return -1;
    const char *raw = jsonx_raw_text(doc, &len);
    if (c) rcache_put(c, club, user, NULL, raw, len, epoch);
    *out = with_perms(raw, len, call->caller->perms, e);
    json_decref(doc);
    return *out ? 0 : -1;
}
