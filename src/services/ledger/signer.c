/* signer: see signer.h. */
#include "services/ledger/signer.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "services/ledger/api.h"

static const db_scope_t reader = {0};

int ledger_v_club_signer(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return jsonx_uuid(in, "id", 1, e);
}

int ledger_h_club_signer(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    const char *club = json_string_value(json_object_get(in, "id"));
    const char *p[] = {club};
    PGresult *r = db_read(c->env->db, &reader,
                          "SELECT o.org AS org, (SELECT encode(i.public_key, 'hex') FROM "
                          "ledger.identities i WHERE i.org = o.org AND i.role = 'member' AND NOT "
                          "EXISTS (SELECT 1 FROM ledger.revocations v WHERE v.public_key = "
                          "i.public_key) ORDER BY i.public_key LIMIT 1) AS pk FROM ledger.orgs o "
                          "WHERE o.club_id = $1::uuid ORDER BY o.org LIMIT 1",
                          1, p, e);
    if (!r) return -1;
    char org[POLICY_MAX_ORG + 1] = "", pk[65] = "";
    if (PQntuples(r) == 1 && db_val(r, 0, "pk")) {
        snprintf(org, sizeof org, "%s", db_val(r, 0, "org"));
        snprintf(pk, sizeof pk, "%s", db_val(r, 0, "pk"));
    }
    PQclear(r);
    if (!pk[0])
        return err_set(e, 404, "not_on_ledger", "id",
                       "the club is not an organisation with a member identity on the ledger");
    uint8_t sk[64], kpk[32];
    err_t ke = {0};
    int held = 1;
    if (ledger_org_key(c->env->db, org, "member", sk, kpk, &ke) != 0) {
        if (ke.status != 404) {
            *e = ke;
            return -1;
        }
        held = 0; /* the club keeps its own key */
    } else {
        /* a key kept from before the club replaced its identities with its own: not its
         * signer any more (endorse would build with a key the configuration no longer has) */
        char hk[65];
        ledger_hex(kpk, 32, hk);
        held = strcmp(hk, pk) == 0;
    }
    sodium_memzero(sk, sizeof sk);
    *out = json_pack("{s:s, s:s, s:s, s:s, s:b}", "club_id", club, "org", org, "role", "member",
                     "public_key", pk, "held", held);
    return *out ? 0 : err_set(e, 500, "internal", "", "out of memory");
}
