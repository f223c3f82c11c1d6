/* tally: the counting rules of governance proposals (issue 15), a pure module: no database, no
 * clock, no I/O. The service counts a proposal with it when voting closes and stores the result;
 * `reciprocal governance tally <export> <proposal>` (governance_cli.c) recounts from a ledger
 * export with the same code, so both sides agree byte for byte on the canonical result JSON.
 * docs/governance.md "Counting rules" states every rule; this header is the contract.
 *
 * Input: the rule, the eligible voters snapshotted when voting opened (id, weight, delegations)
 * and at most one vote per voter (the last one before close: choosing it is the caller's job).
 * All arithmetic is on integers, exactly:
 *   simple         for > against (abstentions excluded; a tie fails)
 *   supermajority  for + against > 0 and for*den >= num*(for + against)   (2/3: num 2, den 3)
 *   absolute       2*for > eligible weight
 *   unanimous      against == 0 and for > 0
 *   plurality      each vote names one option (or abstains); the `seats` options with the most
 *                  weight win; a tie for the last seat, or fewer options with weight > 0 than
 *                  seats, is no result (defeated, reason "tie" / "not_enough_candidates")
 *   quorum         (for + against + abstain) * 10000 >= quorum_bp * eligible weight (plurality:
 *                  every option's weight + abstain); eligible = the snapshot, never the votes
 * A vote by a voter who is not in the snapshot is ignored (counted in "ignored"). Delegation, one
 * hop, resolved from the snapshot: a voter who did not vote counts with the choice of its
 * delegate (the delegation for the proposal's type, else the one for all types) when that
 * delegate is eligible and voted directly; a direct vote overrides the delegation; a delegate
 * who did not vote passes nothing on (its own delegation does not carry its delegators' weight:
 * no chains); a delegation to a voter outside the snapshot, or to itself, is ignored.
 * Weights are integers 1..GOV_MAX_WEIGHT (default 1); sums fit in int64 and products are done
 * in 128 bits, so no rule can overflow.
 *
 * Ownership: gov_tally fills a gov_tally_t whose options array it allocates (gov_tally_free);
 * the input arrays and strings stay the caller's and are not kept. */
#ifndef SERVICES_GOVERNANCE_TALLY_H
#define SERVICES_GOVERNANCE_TALLY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define GOV_MAX_WEIGHT 1000000000LL /* one voter's weight */
#define GOV_MAX_VOTERS 10000000     /* eligible voters of one proposal */
#define GOV_MAX_SEATS 1000
#define GOV_BP 10000 /* basis points of 100 % */

typedef enum gov_rule_kind {
    GOV_RULE_SIMPLE = 0,    /* "simple" */
    GOV_RULE_SUPERMAJORITY, /* "supermajority" */
    GOV_RULE_ABSOLUTE,      /* "absolute" */
    GOV_RULE_UNANIMOUS,     /* "unanimous" */
    GOV_RULE_PLURALITY,     /* "plurality" */
} gov_rule_kind_t;

/* A counting rule. JSON (gov_rule_from_json / gov_rule_to_json, canonical, keys sorted):
 *   {"kind":"supermajority","num":2,"den":3,"quorum_bp":5000}
 *   {"kind":"plurality","seats":1,"quorum_bp":0}
 * num/den only for supermajority (1 <= num <= den <= 1000000), seats only for plurality
 * (1..GOV_MAX_SEATS), quorum_bp 0..10000 for every kind (0 = no quorum). */
typedef struct gov_rule {
    gov_rule_kind_t kind;
    uint32_t num, den;  /* supermajority: the fraction p = num/den */
    uint32_t seats;     /* plurality: seats to fill */
    uint32_t quorum_bp; /* quorum in basis points of the eligible weight: 5000 = 50 % */
} gov_rule_t;

/* One eligible voter of the snapshot. id: a ledger org (network scope) or a member id (club
 * scope); unique in the snapshot. delegate_type: the voter's delegation for this proposal's type,
 * delegate_all: for all types; NULL = none. */
typedef struct gov_voter {
    const char *id;
    int64_t weight; /* 1..GOV_MAX_WEIGHT */
    const char *delegate_all;
    const char *delegate_type;
} gov_voter_t;

/* A direct vote. choice: "for" | "against" | "abstain", or (plurality) an option id or
 * "abstain". At most one per voter (a second one: 422 duplicate_vote). by: the delegate who cast
 * it on the voter's behalf (club scope, docs/governance.md "Delegated club votes"), NULL = the
 * voter itself: such a vote counts once, as the voter's, in `delegated` too, and is not passed on
 * to the voter's own delegators (one hop). */
typedef struct gov_vote {
    const char *voter;
    const char *choice;
    const char *by;
} gov_vote_t;

/* The result of one option (plurality): its id (points into the caller's options), the voters
 * and weight for it (delegated included), and whether it won a seat. */
typedef struct gov_option_result {
    const char *id;
    int64_t count, weight;
    int elected;
} gov_option_result_t;

typedef enum gov_outcome {
    GOV_DEFEATED = 0, /* "defeated" */
    GOV_SUCCEEDED,    /* "succeeded" */
} gov_outcome_t;

typedef struct gov_tally {
    gov_rule_t rule;
    /* voters and their weight by choice; delegated votes included */
    int64_t for_count, for_weight, against_count, against_weight, abstain_count, abstain_weight;
    int64_t delegated_count, delegated_weight; /* of the above, counted through a delegate */
    int64_t eligible_count, eligible_weight;   /* the snapshot */
    int64_t ignored;                           /* votes by voters outside the snapshot */
    int64_t quorum_weight;                     /* the participation the quorum needs */
    int quorum_met;
    gov_outcome_t outcome;
    /* why: "passed", "quorum_not_met", "no_votes", "tie", "not_reached",
     * "not_enough_candidates" */
    const char *reason;
    gov_option_result_t *options; /* plurality: in the order given; NULL otherwise */
    size_t n_options;
} gov_tally_t;

/* Counts. options: plurality's option ids (unique, 1..n), NULL/0 for the other kinds. 0, or -1 +
 * 422 naming the input (a bad rule, weight, duplicate voter or vote, unknown choice). t is always
 * safe to gov_tally_free afterwards. */
int gov_tally(const gov_rule_t *rule, const gov_voter_t *voters, size_t n_voters,
              const gov_vote_t *votes, size_t n_votes, const char *const *options, size_t n_options,
              gov_tally_t *t, err_t *e);
void gov_tally_free(gov_tally_t *t);

/* The tally of a proposal from the JSON of its ledger records (docs/governance.md "Ledger
 * records"), so the service and the offline recount read them alike: proposal = the
 * governance.proposal payload (its "rule" and "options"; other members ignored), snapshot = the
 * governance.eligible_snapshot payload ("voters": [{voter, weight, delegate_all?,
 * delegate_type?}]), votes = an array of {voter, choice, by?} (one per voter: the caller picked the
 * last one before close). 0, or -1 + 422 naming the record's field. The option ids of t point
 * into proposal: keep it until gov_tally_free(t). */
int gov_tally_records(json_t *proposal, json_t *snapshot, json_t *votes, gov_tally_t *t, err_t *e);

/* The result as a JSON object (new reference), every number an integer, so that
 * json_dumps(.., JSON_COMPACT | JSON_SORT_KEYS) (gov_tally_canonical) is deterministic:
 *   {"abstain":{"count","weight"}, "against":{...}, "delegated":{...}, "eligible":{...},
 *    "for":{...}, "ignored", "outcome":"succeeded"|"defeated", "quorum":{"basis_points","met",
 *    "required_weight"}, "reason", "rule":{...}, ["options":[{"id","count","weight","elected"}]]}
 * This object is the "tally" of the ledger record governance.result (docs/governance.md
 * "Ledger records"). */
json_t *gov_tally_json(const gov_tally_t *t);
/* The canonical text of gov_tally_json (malloc'd, caller frees); NULL on allocation failure. */
char *gov_tally_canonical(const gov_tally_t *t);

/* Rule <-> JSON (the rule of the governance.proposal record). from_json: 0, or -1 + 422 naming
 * "rule.<field>". to_json: a new reference. */
int gov_rule_from_json(json_t *j, gov_rule_t *rule, err_t *e);
json_t *gov_rule_to_json(const gov_rule_t *rule);
const char *gov_rule_kind_name(gov_rule_kind_t k);
const char *gov_outcome_name(gov_outcome_t o);

#endif
