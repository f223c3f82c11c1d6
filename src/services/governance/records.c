/* records: see records.h. */
#include "services/governance/records.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {type, creator, nonce, payload, writes: [{key, value}], sign_as: [{org, role}]}; payload
 * stolen */
static json_t *spec(const char *type, const char *creator, const char *nonce, json_t *payload,
                    const char *key, const char *value) {
    if (!payload) return NULL;
    return json_pack("{s:s, s:s, s:s, s:o, s:[{s:s, s:s}], s:[{s:s, s:s}]}", "type", type,
                     "creator", creator, "nonce", nonce, "payload", payload, "writes", "key", key,
                     "value", value, "sign_as", "org", creator, "role", "member");
}

json_t *gov_record_proposal(const char *proposal, const char *type, const char *proposer,
                            json_t *rule, json_t *options, const char *content_sha256,
                            const char *actions_sha256, int64_t created_at_ms) {
    char nonce[80], key[160];
    if (!proposal || !type || !proposer || !json_is_object(rule) || !content_sha256 ||
        !actions_sha256 || (options && !json_is_array(options)))
        return NULL;
    snprintf(nonce, sizeof nonce, "gp:%s", proposal);
    snprintf(key, sizeof key, "governance/%s/proposal", proposal);
    json_t *p =
        json_pack("{s:s, s:s, s:I, s:o, s:s, s:s, s:O, s:s, s:s}", "actions_sha256", actions_sha256,
                  "content_sha256", content_sha256, "created_at_ms", (json_int_t)created_at_ms,
                  "options", options ? json_deep_copy(options) : json_array(), "proposal", proposal,
                  "proposer", proposer, "rule", rule, "scope", "network", "type", type);
    return spec("governance.proposal", GOV_NETWORK_ORG, nonce, p, key, "proposed");
}

static int voter_cmp(const void *a, const void *b) {
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "voter")),
                  json_string_value(json_object_get(*(json_t *const *)b, "voter")));
}

/* the voters sorted, each {voter, weight, delegate_all?, delegate_type?}; NULL when malformed */
static json_t *sorted_voters(json_t *voters) {
    size_t n = json_array_size(voters);
    json_t **v = calloc(n + 1, sizeof *v), *out = NULL;
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(voters, i), *w = json_object_get(o, "weight");
        if (!json_is_string(json_object_get(o, "voter")) || (w && !json_is_integer(w))) goto done;
        v[i] = json_pack("{s:O, s:I}", "voter", json_object_get(o, "voter"), "weight",
                         w ? json_integer_value(w) : (json_int_t)1);
        static const char *const dl[] = {"delegate_all", "delegate_type"};
        for (size_t k = 0; v[i] && k < 2; k++)
            if (json_is_string(json_object_get(o, dl[k])))
                json_object_set(v[i], dl[k], json_object_get(o, dl[k]));
        if (!v[i]) goto done;
    }
    qsort(v, n, sizeof *v, voter_cmp);
    out = json_array();
    for (size_t i = 0; out && i < n; i++) {
        json_array_append(out, v[i]);
    }
done:
    for (size_t i = 0; i < n; i++)
        json_decref(v[i]);
    free(v);
    return out;
}

json_t *gov_record_snapshot(const char *proposal, int64_t opened_at_ms, int64_t closes_at_ms,
                            json_t *voters) {
    char nonce[80], key[160];
    if (!proposal || !json_is_array(voters)) return NULL;
    json_t *sorted = sorted_voters(voters);
    if (!sorted) return NULL;
    snprintf(nonce, sizeof nonce, "gs:%s", proposal);
    snprintf(key, sizeof key, "governance/%s/snapshot", proposal);
    json_t *p =
        json_pack("{s:I, s:I, s:s, s:o}", "closes_at_ms", (json_int_t)closes_at_ms, "opened_at_ms",
                  (json_int_t)opened_at_ms, "proposal", proposal, "voters", sorted);
    return spec("governance.eligible_snapshot", GOV_NETWORK_ORG, nonce, p, key, "opened");
}

json_t *gov_record_vote(const char *proposal, const char *voter, const char *choice,
                        int64_t cast_at_ms, const char *reason_sha256) {
    char nonce[80], key[200], what[300];
    uint8_t h[crypto_hash_sha256_BYTES];
    if (!proposal || !voter || !choice) return NULL;
    int n = snprintf(what, sizeof what, "%s|%s|%lld", proposal, voter, (long long)cast_at_ms);
    if (n < 0 || (size_t)n >= sizeof what) return NULL;
    crypto_hash_sha256(h, (const uint8_t *)what, (size_t)n);
    memcpy(nonce, "gv:", 3);
    sodium_bin2hex(nonce + 3, sizeof nonce - 3, h, 16);
    snprintf(key, sizeof key, "governance/%s/vote/%s", proposal, voter);
    json_t *p = json_pack("{s:I, s:s, s:s, s:s}", "cast_at_ms", (json_int_t)cast_at_ms, "choice",
                          choice, "proposal", proposal, "voter", voter);
    if (p && reason_sha256) json_object_set_new(p, "reason_sha256", json_string(reason_sha256));
    json_t *s = spec("governance.vote_cast", voter, nonce, p, key, choice);
    return s;
}

json_t *gov_record_result(const char *proposal, int64_t closed_at_ms, const gov_tally_t *t) {
    char nonce[80], key[160];
    if (!proposal || !t) return NULL;
    snprintf(nonce, sizeof nonce, "gr:%s", proposal);
    snprintf(key, sizeof key, "governance/%s/result", proposal);
    json_t *p = json_pack("{s:I, s:s, s:o}", "closed_at_ms", (json_int_t)closed_at_ms, "proposal",
                          proposal, "tally", gov_tally_json(t));
    return spec("governance.result", GOV_NETWORK_ORG, nonce, p, key, gov_outcome_name(t->outcome));
}
