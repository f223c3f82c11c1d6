/* member_standing: see member_standing.h. */
#include "services/member/member_standing.h"

#include <string.h>

#include "core/json.h"
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

int standing_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *mid = json_string_value(json_object_get(in, "member_id"));
    const char *club = json_string_value(json_object_get(in, "club_id"));
    const svc_caller_t *who = call->caller;
    int own = who->network_admin || !club || strcmp(club, who->club_id) == 0;
    mctx_t c = {0};
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    int rc = -1;
    if (own) {
        if (member_begin(call, in, &c, e) != 0) return -1;
        const char *p[] = {mid};
        r = db_exec(c.tx, k_home_sql, 1, p, e);
    } else {
        if (svc_begin(call, &tx, e) != 0) return -1;
        const char *p[] = {club, mid};
        r = db_exec(tx, k_host_sql, 2, p, e);
    }
    *out = db_row_json(r, e, "member_id", "no member with this member_id in the club");
    if (!*out) goto done;
    add_active(*out);
    rc = 0;
done:
    return db_tx_finish(own ? &c.tx : &tx, rc, out, e);
}
