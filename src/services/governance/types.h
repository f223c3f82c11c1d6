/* types: the governance proposal types, their default rules (counting rule, threshold, quorum,
 * notice, timing, whether a vote may change), the network's overrides of them
 * (governance.type_rules, set by a network administrator) and the typed actions a proposal may
 * carry, validated when proposed. Owns the SQL over governance.type_rules. Rules:
 * docs/governance.md "Types and rules". */
#ifndef SERVICES_GOVERNANCE_TYPES_H
#define SERVICES_GOVERNANCE_TYPES_H

#include "core/service.h"

/* bounds of the timing rules, seconds */
#define GOV_PERIOD_MIN_S (24 * 3600)
#define GOV_PERIOD_MAX_S (14 * 24 * 3600)
#define GOV_TIMELOCK_MIN_S (2 * 24 * 3600)
#define GOV_TIMELOCK_MAX_S (30 * 24 * 3600)
#define GOV_LATE_QUORUM_S (24 * 3600)

/* The type names, NULL-terminated (validators' enum). */
extern const char *const gov_type_names[];
/* The action kinds, NULL-terminated. */
extern const char *const gov_action_kinds[];

/* The default rule of type as a new object {kind, num?, den? (supermajority), seats?
 * (plurality), quorum_bp (the counting rule of tally.h), notice_days, voting_delay_s,
 * voting_period_s, timelock_s, grace_s, allow_change, sponsors, scopes: [...], actions: [...]}, or
 * NULL for an unknown type. */
json_t *gov_type_default(const char *type);
/* The rule of type in force: the default with the network's override (type_rules) merged over
 * it, read in tx. New reference, or NULL + err (404 for an unknown type). */
json_t *gov_type_rule(db_tx_t *tx, const char *type, err_t *e);

/* Validates an override {kind?, num?, den?, seats?, quorum_bp?, ...} in place (bounds above): 0 or
 * -1 + 400/422 naming "rule.<key>". */
int gov_validate_rule_override(json_t *rule, err_t *e);
/* Validates the actions array of a proposal of type (each {type, ...} of a kind the type allows,
 * its fields): 0 or -1 + 400/422 naming "actions[i].<field>". */
int gov_validate_actions(json_t *actions, json_t *rule, err_t *e);
/* The SHA-256 hex of the canonical JSON (sorted keys, compact) of actions into out[65]. */
void gov_actions_hash(json_t *actions, char out[65]);
/* The counting part of rule (tally.h gov_rule_t JSON: kind, num/den, seats, quorum_bp): new
 * reference. */
json_t *gov_counting_rule(json_t *rule);

/* operations: GET /governance/types (every type's rule in force), PUT /governance/types/{type}
 * (a network administrator's override; {"rule": {...}}, null clears) */
int gov_validate_types_list(json_t *in, err_t *e);
int gov_validate_type_put(json_t *in, err_t *e);
int gov_types_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int gov_type_put(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* PUT /governance/weights/{id} {weight: 1..10^9} (a network administrator): a member club's
 * weight in network votes (governance.weights; default 1), read when a proposal opens. */
int gov_validate_weight_put(json_t *in, err_t *e);
int gov_weight_put(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

#endif
