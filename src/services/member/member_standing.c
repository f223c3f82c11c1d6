/* member_standing: see member_standing.h. */
#include "services/member/member_standing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "core/rcache.h"
#include "services/member/member_common.h"

/* The home club's view: the letter-of-introduction snapshot. $1 member id; the transaction is
 * scoped to the member's club (row-level security admits no other club's rows). */
static const char k_home_sql[] =
    "SELECT jsonb_build_object('member_id', m.id, 'club_id', m.club_id, 'status', m.status, "
    "'restrictions', to_jsonb(array_remove(ARRAY[CASE WHEN m.expires_on < current_date THEN "
    "'membership_expired' END, CASE WHEN m.erased_at IS NOT NULL THEN 'erased' END], NULL)), "
    "'name', CASE WHEN m.erased_at IS NULL THEN coalesce(p.first_name || ' ' || p.last_name, '') "
    "ELSE '' END, 'member_number', m.member_number, 'category', m.category, 'valid_to', "
    "to_char(m.expires_on, 'YYYY-MM-DD'), 'home', CASE WHEN a.country IS NULL OR m.erased_at IS "
    "NOT NULL THEN NULL ELSE jsonb_build_object('city', a.city, 'country', a.country, "
    "'latitude', a.latitude, 'longitude', a.longitude) END, "
    "'club', jsonb_build_object('name', c.name, 'city', c.city, 'country', c.country, "
    "'latitude', c.latitude, 'longitude', c.longitude, 'timezone', c.timezone))::text "
    "FROM member.members m JOIN member.clubs c ON c.id = m.club_id "
    "LEFT JOIN member.profiles p ON p.club_id = m.club_id AND p.member_id = m.id "
    "LEFT JOIN member.addresses a ON a.club_id = m.club_id AND a.member_id = m.id AND a.kind = "
    "'home' WHERE m.club_id = core.current_club() AND m.id = $1::uuid";

/* Another club's view: status, category and expiry only (member.card_registry). */
static const char k_host_sql[] =
    "SELECT jsonb_build_object('member_id', r.member_id, 'club_id', r.club_id, 'status', "
    "r.status, 'restrictions', to_jsonb(array_remove(ARRAY[CASE WHEN r.expires_on < current_date "
    "THEN 'membership_expired' END], NULL)), 'category', r.category, 'valid_to', "
    "to_char(r.expires_on, 'YYYY-MM-DD'))::text FROM member.card_registry r "
    "WHERE r.club_id = $1::uuid AND r.member_id = $2::uuid";

int standing_validate(json_t *in, err_t *e) {
    static const char *const keys[] = {"member_id", "club_id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (member_valid_club_ref(in, e) != 0) return -1;
    return member_valid_id(in, "member_id", e);
}

/* active = status active and no restriction; added to the answer. */
static void add_active(json_t *o) {
    const char *st = json_string_value(json_object_get(o, "status"));
    int active =
        st && strcmp(st, "active") == 0 && json_array_size(json_object_get(o, "restrictions")) == 0;
    json_object_set_new(o, "active", json_boolean(active));
}

/* ---- the standing read cache (core/rcache.h, docs/member.md "Standing cache") ----
 * The home view of a member (k_home_sql's document) under the tenant of the member's club, key
 * and tag the member id. Dropped: in this process right after the commit of any member write that
 * emitted an event (member_commit: the whole club), in every process on the member and club
 * events (the whole club named by the event's tenant_id), on a NATS reconnect (everything), and
 * at most STANDING_TTL_S after it was read. A document whose valid_to is within a day of today
 * (either side) is not kept: its "membership_expired" flips at a midnight of the database's time
 * zone, which an entry keyed by the member alone would not see. */

#define STANDING_TTL_S 60

static const char *const standing_events[] = {"events.member.updated",
                                              "events.member.status_changed",
                                              "events.member.renewed",
                                              "events.member.erased",
                                              "events.club.updated",
                                              "events.club.status_changed",
                                              NULL};

static rcache_t *standing_cache(void) {
    static rcache_slot_t slot;
    rcache_t *c = rcache_at(&slot, "standings");
    if (c) rcache_cap_ttl(c, STANDING_TTL_S);
    return c;
}

int standing_cache_follow(const svc_env_t *env, err_t *e) {
    rcache_t *c = standing_cache();
    if (!c) return err_set(e, 500, "internal", "", "out of memory");
    return rcache_follow(c, env->bus, standing_events, rcache_drop_tenant, e);
}

void standing_changed(const char *club) {
    rcache_t *c = standing_cache();
    if (c) rcache_invalidate(c, club, NULL);
}

/* 1 when the document may be kept: valid_to absent, or at least 2 days from today (UTC) either
 * way, so no time zone's midnight changes its restrictions within the entry's life. */
static int standing_cacheable(const json_t *doc) {
    const char *to = json_string_value(json_object_get(doc, "valid_to"));
    if (!to) return 1;
    struct tm tm = {0};
    if (sscanf(to, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3) return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    long long days = (long long)timegm(&tm) / 86400, today = (long long)time(NULL) / 86400;
    return days - today >= 2 || today - days >= 2;
}

/* The home view from the cache (1: *out), else 0. */
static int standing_cached(const char *club, const char *mid, json_t **out) {
    rcache_t *c = standing_cache();
    char *text = NULL;
    size_t len = 0;
    if (!c || !rcache_get(c, club, mid, &text, &len)) return 0;
    *out = json_loadb(text, len, 0, NULL);
    free(text);
    return *out != NULL;
}

/* One read either way (db_read: one round trip). A named club that does not exist answers 404
 * club_id (member_require_club, read only when no member came back). */
int standing_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *mid = json_string_value(json_object_get(in, "member_id"));
    const char *club = json_string_value(json_object_get(in, "club_id"));
    const svc_caller_t *who = call->caller;
    int own = who->network_admin || !club || strcmp(club, who->club_id) == 0;
    mctx_t c = {0};
    db_scope_t scope;
    int named = 0;
    PGresult *r = NULL;
    if (own) {
        if (member_prepare(call, in, &c, &scope, &named, e) != 0) return -1;
        if (standing_cached(c.club_id, mid, out)) {
            add_active(*out);
            return 0;
        }
        rcache_t *cache = standing_cache();
        uint64_t epoch = cache ? rcache_epoch(cache) : 0;
        const char *p[] = {mid};
        r = db_read(call->env->db, &scope, k_home_sql, 1, p, e);
        if (r && PQntuples(r) == 1) { /* kept for the next request */
            *out = db_json(r, 0, 0, e);
            if (*out && cache && standing_cacheable(*out))
                rcache_put(cache, c.club_id, mid, NULL, PQgetvalue(r, 0, 0),
                           (size_t)PQgetlength(r, 0, 0), epoch);
            PQclear(r);
            if (!*out) return -1;
            add_active(*out);
            return 0;
        }
    } else {
        scope = svc_scope(call, NULL);
        const char *p[] = {club, mid};
        r = db_read(call->env->db, &scope, k_host_sql, 2, p, e);
    }
    if (r && PQntuples(r) == 0 && named && member_require_club(&c, &scope, e) != 0) {
        PQclear(r);
        return -1;
    }
    *out = db_row_json(r, e, "member_id", "no member with this member_id in the club");
    if (!*out) return -1;
    add_active(*out);
    return 0;
}
