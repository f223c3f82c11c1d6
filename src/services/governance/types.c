/* types: see types.h. */
#include "services/governance/types.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

const char *const gov_type_names[] = {
    "admit_club",     "suspend_club",   "expel_club", "amend_terms",
    "amend_bylaws",   "fees",           "budget",     "policy",
    "board_election", "reinstate_club", NULL};
const char *const gov_action_kinds[] = {
    "admit_club",          "suspend_club",   "expel_club", "set_network_term",
    "terminate_agreement", "reinstate_club", NULL};
static const char *const rule_names[] = {"simple",    "supermajority", "absolute",
                                         "unanimous", "plurality",     NULL};

typedef struct {
    const char *name, *rule;
    int num, den, quorum, notice_days, allow_change;
    const char *scopes, *actions; /* JSON arrays */
} type_row_t;

/* clang-format off */
static const type_row_t types[] = {
    {"admit_club",     "supermajority", 2, 3, 50, 0,  0, "[\"network\"]", "[\"admit_club\"]"},
    {"suspend_club",   "supermajority", 2, 3, 50, 20, 0, "[\"network\"]", "[\"suspend_club\"]"},
    {"expel_club",     "supermajority", 2, 3, 50, 20, 0, "[\"network\"]", "[\"expel_club\"]"},
    {"amend_terms",    "supermajority", 2, 3, 0,  0,  1, "[\"network\"]",
     "[\"set_network_term\", \"terminate_agreement\"]"},
    {"amend_bylaws",   "supermajority", 2, 3, 0,  0,  1, "[\"network\", \"club\"]", "[]"},
    {"fees",           "simple",        1, 2, 0,  0,  1, "[\"network\", \"club\"]",
     "[\"set_network_term\"]"},
    {"budget",         "simple",        1, 2, 0,  0,  1, "[\"network\", \"club\"]", "[]"},
    {"policy",         "simple",        1, 2, 0,  0,  1, "[\"network\", \"club\"]",
     "[\"set_network_term\", \"terminate_agreement\"]"},
    {"board_election", "plurality",     1, 2, 0,  0,  0, "[\"network\", \"club\"]", "[]"},
    /* lifts a suspension before its `until` (or one without): execute.c act_reinstate */
    {"reinstate_club", "supermajority", 2, 3, 50, 0,  0, "[\"network\"]", "[\"reinstate_club\"]"},
};
/* clang-format on */

json_t *gov_type_default(const char *type) {
    for (size_t i = 0; type && i < sizeof types / sizeof types[0]; i++) {
        const type_row_t *t = &types[i];
        if (strcmp(t->name, type) != 0) continue;
        json_t *r = json_pack(
            "{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:b, s:i, s:o, s:o}", "kind", t->rule, "quorum_bp",
            t->quorum * 100, "notice_days", t->notice_days, "voting_delay_s", 3600,
            "voting_period_s", 7 * 24 * 3600, "timelock_s", 2 * 24 * 3600, "grace_s",
            14 * 24 * 3600, "allow_change", t->allow_change, "sponsors", 1, "scopes",
            json_loads(t->scopes, 0, NULL), "actions", json_loads(t->actions, 0, NULL));
        if (strcmp(t->rule, "supermajority") == 0) {
            json_object_set_new(r, "num", json_integer(t->num));
            json_object_set_new(r, "den", json_integer(t->den));
        }
        if (strcmp(t->rule, "plurality") == 0) json_object_set_new(r, "seats", json_integer(1));
        return r;
    }
    return NULL;
}

json_t *gov_type_rule(db_tx_t *tx, const char *type, err_t *e) {
    json_t *rule = gov_type_default(type);
    if (!rule) {
        err_invalid(e, "type", "type: no such proposal type");
        return NULL;
    }
    const char *p[] = {type};
    PGresult *r =
        db_exec(tx, "SELECT rule::text FROM governance.type_rules WHERE type = $1", 1, p, e);
    if (!r) {
        json_decref(rule);
        return NULL;
    }
    if (PQntuples(r) == 1) {
        json_t *o = db_json(r, 0, 0, e);
        if (!o) {
            json_decref(rule);
            rule = NULL;
        } else {
            json_object_update(rule, o);
            json_decref(o);
        }
    }
    PQclear(r);
    return rule;
}

/* ---- validation ---- */

static int bad(err_t *e, const char *prefix, const char *key, const char *what) {
    char f[96];
    snprintf(f, sizeof f, "%s%s", prefix, key);
    return err_invalid(e, f, "%s %s", f, what);
}

int gov_validate_rule_override(json_t *rule, err_t *e) {
    static const char *const keys[] = {"kind",
                                       "num",
                                       "den",
                                       "seats",
                                       "quorum_bp",
                                       "notice_days",
                                       "voting_delay_s",
                                       "voting_period_s",
                                       "timelock_s",
                                       "grace_s",
                                       "allow_change",
                                       "sponsors",
                                       NULL};
    if (!json_is_object(rule)) return err_type(e, "rule", "rule must be an object");
    if (jsonx_only_keys(rule, keys, "rule.", e) != 0) return -1;
    const char *s;
    if (jsonx_enum(rule, "kind", 0, rule_names, &s, e) != 0) {
        snprintf(e->field, sizeof e->field, "rule.kind");
        return -1;
    }
    static const struct {
        const char *key;
        long long lo, hi;
    } ints[] = {{"quorum_bp", 0, 10000},
                {"num", 1, 1000000},
                {"den", 1, 1000000},
                {"seats", 1, 1000},
                {"notice_days", 0, 365},
                {"voting_delay_s", 0, 30 * 24 * 3600},
                {"voting_period_s", GOV_PERIOD_MIN_S, GOV_PERIOD_MAX_S},
                {"timelock_s", GOV_TIMELOCK_MIN_S, GOV_TIMELOCK_MAX_S},
                {"grace_s", 24 * 3600, 90 * 24 * 3600},
                {"sponsors", 0, 1}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        json_t *v = json_object_get(rule, ints[i].key);
        if (!v) continue;
        if (!json_is_integer(v)) return bad(e, "rule.", ints[i].key, "must be an integer");
        if (json_integer_value(v) < ints[i].lo || json_integer_value(v) > ints[i].hi) {
            char what[96];
            snprintf(what, sizeof what, "must be between %lld and %lld", ints[i].lo, ints[i].hi);
            return bad(e, "rule.", ints[i].key, what);
        }
    }
    json_t *n = json_object_get(rule, "num"), *d = json_object_get(rule, "den");
    if (n && d && json_integer_value(n) > json_integer_value(d))
        return bad(e, "rule.", "num", "must not exceed rule.den");
    json_t *ac = json_object_get(rule, "allow_change");
    if (ac && !json_is_boolean(ac)) return bad(e, "rule.", "allow_change", "must be a boolean");
    return 0;
}

static int action_uuid(json_t *a, const char *prefix, const char *key, err_t *e) {
    const char *s = json_string_value(json_object_get(a, key));
    char f[96];
    snprintf(f, sizeof f, "%s%s", prefix, key);
    if (!json_object_get(a, key)) return err_missing(e, f);
    if (!s || !jsonx_is_uuid(s)) return err_invalid(e, f, "%s must be a uuid", f);
    return 0;
}

static int one_action(json_t *a, const char *prefix, json_t *allowed, err_t *e) {
    char f[96];
    snprintf(f, sizeof f, "%stype", prefix);
    if (!json_is_object(a)) {
        f[strlen(prefix) - 1] = 0;
        return err_type(e, f, "%s must be an object {type, ...}", f);
    }
    const char *kind = json_string_value(json_object_get(a, "type"));
    if (!json_object_get(a, "type")) return err_missing(e, f);
    int ok = 0;
    size_t i;
    json_t *k;
    json_array_foreach(allowed, i, k) ok |= kind && strcmp(json_string_value(k), kind) == 0;
    if (!ok) return err_invalid(e, f, "%s: this proposal type does not carry that action", f);
    if (strcmp(kind, "admit_club") == 0) {
        static const char *const keys[] = {"type", "club", NULL};
        if (jsonx_only_keys(a, keys, prefix, e) != 0) return -1;
        json_t *club = json_object_get(a, "club");
        snprintf(f, sizeof f, "%sclub", prefix);
        if (!club) return err_missing(e, f);
        if (!json_is_object(club))
            return err_type(e, f, "%s must be the new club {name, slug, timezone, address}", f);
        const char *s;
        char sub[96];
        snprintf(sub, sizeof sub, "%sclub.", prefix);
        static const char *const req[] = {"name", "slug", NULL};
        for (const char *const *r = req; *r; r++)
            if (jsonx_string(club, *r, 1, 1, 200, &s, e) != 0) {
                char ff[96];
                snprintf(ff, sizeof ff, "%s%s", sub, *r);
                snprintf(e->field, sizeof e->field, "%s", ff);
                return -1;
            }
        return 0;
    }
    if (strcmp(kind, "suspend_club") == 0) {
        static const char *const keys[] = {"type", "club_id", "until", NULL};
        if (jsonx_only_keys(a, keys, prefix, e) != 0) return -1;
        const char *until = json_string_value(json_object_get(a, "until"));
        snprintf(f, sizeof f, "%suntil", prefix);
        if (json_object_get(a, "until") && !json_is_null(json_object_get(a, "until")) &&
            (!until || strlen(until) != 10 || until[4] != '-' || until[7] != '-'))
            return err_invalid(e, f, "%s must be a date YYYY-MM-DD", f);
        return action_uuid(a, prefix, "club_id", e);
    }
    if (strcmp(kind, "expel_club") == 0 || strcmp(kind, "reinstate_club") == 0) {
        static const char *const keys[] = {"type", "club_id", NULL};
        if (jsonx_only_keys(a, keys, prefix, e) != 0) return -1;
        return action_uuid(a, prefix, "club_id", e);
    }
    if (strcmp(kind, "terminate_agreement") == 0) {
        static const char *const keys[] = {"type", "id", NULL};
        if (jsonx_only_keys(a, keys, prefix, e) != 0) return -1;
        return action_uuid(a, prefix, "id", e);
    }
    /* set_network_term */
    static const char *const keys[] = {"type", "key", "value", NULL};
    if (jsonx_only_keys(a, keys, prefix, e) != 0) return -1;
    const char *key;
    char fk[96];
    snprintf(fk, sizeof fk, "%skey", prefix);
    if (jsonx_string(a, "key", 1, 1, 64, &key, e) != 0) {
        snprintf(e->field, sizeof e->field, "%s", fk);
        return -1;
    }
    for (const char *c = key; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.') ||
            (c == key && !(*c >= 'a' && *c <= 'z')))
            return err_invalid(e, fk, "%s must match [a-z][a-z0-9_.]*", fk);
    snprintf(f, sizeof f, "%svalue", prefix);
    if (!json_object_get(a, "value")) return err_missing(e, f);
    return 0;
}

int gov_validate_actions(json_t *actions, json_t *rule, err_t *e) {
    if (!json_is_array(actions)) return err_type(e, "actions", "actions must be an array");
    if (json_array_size(actions) > 20)
        return err_invalid(e, "actions", "actions: at most 20 per proposal");
    json_t *allowed = json_object_get(rule, "actions");
    for (size_t i = 0; i < json_array_size(actions); i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "actions[%zu].", i);
        if (one_action(json_array_get(actions, i), prefix, allowed, e) != 0) return -1;
    }
    return 0;
}

void gov_actions_hash(json_t *actions, char out[65]) {
    char *s = json_dumps(actions, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)(s ? s : ""), s ? strlen(s) : 0);
    sodium_bin2hex(out, 65, h, sizeof h);
    free(s);
}

/* ---- operations ---- */

int gov_validate_types_list(json_t *in, err_t *e) {
    static const char *const keys[] = {NULL};
    return jsonx_only_keys(in, keys, "", e);
}

int gov_validate_type_put(json_t *in, err_t *e) {
    static const char *const keys[] = {"type", "rule", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_enum(in, "type", 1, gov_type_names, &s, e) != 0) return -1;
    json_t *rule = json_object_get(in, "rule");
    if (!rule) return err_missing(e, "rule");
    if (json_is_null(rule)) return 0;
    return gov_validate_rule_override(rule, e);
}

int gov_types_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    db_tx_t *tx = NULL;
    int rc = -1;
    json_t *items = json_array();
    if (svc_begin(call, &tx, e) != 0) goto done;
    for (const char *const *t = gov_type_names; *t; t++) {
        json_t *rule = gov_type_rule(tx, *t, e);
        if (!rule) goto done;
        json_object_set_new(rule, "type", json_string(*t));
        json_array_append_new(items, rule);
    }
    *out = json_pack("{s:O}", "items", items);
    rc = 0;
done:
    json_decref(items);
    return db_tx_finish(&tx, rc, out, e);
}

int gov_type_put(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *type = json_string_value(json_object_get(in, "type"));
    json_t *rule = json_object_get(in, "rule");
    db_tx_t *tx = NULL;
    int rc = -1;
    char *s = json_is_null(rule) ? NULL : jsonx_dump(rule);
    const char *p[] = {type, s};
    if (svc_begin(call, &tx, e) != 0) goto done;
    if (db_exec_cmd(tx,
                    s ? "INSERT INTO governance.type_rules (type, rule) VALUES ($1, $2::jsonb) ON "
                        "CONFLICT (type) DO UPDATE SET rule = EXCLUDED.rule, updated_at = now()"
                      : "UPDATE governance.type_rules SET rule = '{}', updated_at = now() WHERE "
                        "type = $1",
                    s ? 2 : 1, p, e) < 0)
        goto done;
    json_t *r = gov_type_rule(tx, type, e);
    if (!r) goto done;
    json_object_set_new(r, "type", json_string(type));
    *out = r;
    rc = 0;
done:
    free(s);
    return db_tx_finish(&tx, rc, out, e);
}

json_t *gov_counting_rule(json_t *rule) {
    json_t *c = json_pack("{s:O, s:O}", "kind", json_object_get(rule, "kind"), "quorum_bp",
                          json_object_get(rule, "quorum_bp"));
    const char *kind = json_string_value(json_object_get(rule, "kind"));
    if (kind && strcmp(kind, "supermajority") == 0) {
        json_object_set(c, "num", json_object_get(rule, "num"));
        json_object_set(c, "den", json_object_get(rule, "den"));
    }
    if (kind && strcmp(kind, "plurality") == 0) {
        json_t *seats = json_object_get(rule, "seats");
        json_object_set_new(c, "seats", seats ? json_incref(seats) : json_integer(1));
    }
    return c;
}

int gov_validate_weight_put(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "weight", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    json_t *w = json_object_get(in, "weight");
    if (!w) return err_missing(e, "weight");
    if (!json_is_integer(w)) return err_type(e, "weight", "weight must be an integer");
    if (json_integer_value(w) < 1 || json_integer_value(w) > 1000000000)
        return err_invalid(e, "weight", "weight must be between 1 and 1000000000");
    const char *id = json_string_value(json_object_get(in, "id"));
    if (!id || !jsonx_is_uuid(id)) return err_invalid(e, "id", "id must be a club's uuid");
    return 0;
}

int gov_weight_put(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    char w[24];
    snprintf(w, sizeof w, "%lld", (long long)json_integer_value(json_object_get(in, "weight")));
    const char *p[] = {json_string_value(json_object_get(in, "id")), w};
    db_tx_t *tx = NULL;
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) goto done;
    if (db_exec_cmd(tx,
                    "INSERT INTO governance.weights (club_id, weight) VALUES ($1, $2::bigint) ON "
                    "CONFLICT (club_id) DO UPDATE SET weight = EXCLUDED.weight, updated_at = now()",
                    2, p, e) < 0)
        goto done;
    *out = json_pack("{s:O, s:O}", "club_id", json_object_get(in, "id"), "weight",
                     json_object_get(in, "weight"));
    rc = 0;
done:
    return db_tx_finish(&tx, rc, out, e);
}
