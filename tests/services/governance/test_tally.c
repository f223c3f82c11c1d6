/* test_tally: the counting rules of services/governance/tally.c at every boundary (issue 15):
 * simple majority (tie fails, abstentions excluded), supermajority 2/3 exactly and just under,
 * absolute majority at 50 % of the eligible weight, unanimous with abstentions, quorum exactly
 * met and one short (also a quorum that is not a whole number of voters), zero votes, abstain
 * only, weights, one-hop delegation (override, per type over all types, no chains, delegation to
 * a non-eligible voter or to itself), plurality (ties for the last seat), the canonical result
 * JSON, the rule's JSON and the 422s of bad input. Pure: no database. */
#include "services/governance/tally.h"

#include "test.h"

#define NV 400
static char ids[NV][16];
static gov_voter_t voters[NV];
static gov_vote_t votes[NV];

/* n eligible voters v0..v(n-1) of weight 1, no delegations */
static void snapshot(size_t n) {
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "v%zu", i);
        voters[i] = (gov_voter_t){.id = ids[i], .weight = 1};
    }
}

/* the first f voters vote for, the next a against, the next ab abstain */
static size_t cast(size_t f, size_t a, size_t ab) {
    size_t n = 0;
    for (size_t i = 0; i < f + a + ab; i++)
        votes[n++] = (gov_vote_t){ids[i], i < f ? "for" : i < f + a ? "against" : "abstain", NULL};
    return n;
}

static gov_rule_t rule(gov_rule_kind_t k, uint32_t quorum_bp) {
    gov_rule_t r = {.kind = k, .quorum_bp = quorum_bp};
    if (k == GOV_RULE_SUPERMAJORITY) r.num = 2, r.den = 3;
    if (k == GOV_RULE_PLURALITY) r.seats = 1;
    return r;
}

/* outcome of rule r over `eligible` voters of weight 1 voting f / a / ab; reason into *why */
static int outcome(gov_rule_t r, size_t eligible, size_t f, size_t a, size_t ab, const char **why) {
    gov_tally_t t;
    err_t e;
    snapshot(eligible);
    size_t n = cast(f, a, ab);
    if (gov_tally(&r, voters, eligible, votes, n, NULL, 0, &t, &e) != 0) {
        printf("#   gov_tally: %s\n", e.message);
        return -1;
    }
    int o = t.outcome == GOV_SUCCEEDED;
    if (why) *why = t.reason;
    gov_tally_free(&t);
    return o;
}

static void test_simple_majority(void) {
    const char *why = NULL;
    gov_rule_t r = rule(GOV_RULE_SIMPLE, 0);
    CHECK_EQ_INT(outcome(r, 10, 3, 2, 0, &why), 1);
    CHECK_STR(why, "passed");
    CHECK_EQ_INT(outcome(r, 10, 2, 2, 0, &why), 0); /* a tie fails */
    CHECK_STR(why, "tie");
    CHECK_EQ_INT(outcome(r, 10, 2, 3, 0, &why), 0);
    CHECK_STR(why, "not_reached");
    CHECK_EQ_INT(outcome(r, 20, 2, 1, 15, NULL), 1); /* abstentions excluded */
    CHECK_EQ_INT(outcome(r, 20, 1, 1, 15, &why), 0);
    CHECK_STR(why, "tie");
}

static void test_supermajority_two_thirds(void) {
    const char *why = NULL;
    gov_rule_t r = rule(GOV_RULE_SUPERMAJORITY, 0);
    CHECK_EQ_INT(outcome(r, 10, 2, 1, 0, NULL), 1);       /* exactly 2/3 passes */
    CHECK_EQ_INT(outcome(r, 400, 200, 100, 50, NULL), 1); /* exactly, abstentions excluded */
    CHECK_EQ_INT(outcome(r, 400, 199, 100, 0, &why), 0);  /* 199/299 = 0.6655: just under */
    CHECK_STR(why, "not_reached");
    CHECK_EQ_INT(outcome(r, 400, 66, 34, 0, NULL), 0); /* 66 % */
    CHECK_EQ_INT(outcome(r, 400, 67, 33, 0, NULL), 1); /* 67 % */
    CHECK_EQ_INT(outcome(r, 10, 0, 0, 5, &why), 0);    /* no for/against: nothing to divide */
    CHECK_STR(why, "not_reached");
    r.num = 3, r.den = 4; /* another fraction: 3/4 */
    CHECK_EQ_INT(outcome(r, 10, 3, 1, 0, NULL), 1);
    CHECK_EQ_INT(outcome(r, 400, 149, 50, 0, NULL), 0);
}

static void test_absolute_majority(void) {
    gov_rule_t r = rule(GOV_RULE_ABSOLUTE, 0);
    CHECK_EQ_INT(outcome(r, 10, 5, 0, 0, NULL), 0); /* 50 % of eligible is not more than half */
    CHECK_EQ_INT(outcome(r, 10, 6, 4, 0, NULL), 1);
    CHECK_EQ_INT(outcome(r, 9, 5, 0, 0, NULL), 1); /* 5 > 4.5 */
    CHECK_EQ_INT(outcome(r, 9, 4, 0, 5, NULL), 0);
}

static void test_unanimous(void) {
    const char *why = NULL;
    gov_rule_t r = rule(GOV_RULE_UNANIMOUS, 0);
    CHECK_EQ_INT(outcome(r, 10, 3, 0, 2, NULL), 1); /* abstentions do not break unanimity */
    CHECK_EQ_INT(outcome(r, 10, 3, 1, 0, NULL), 0);
    CHECK_EQ_INT(outcome(r, 10, 0, 0, 4, &why), 0); /* needs at least one for */
    CHECK_STR(why, "not_reached");
    CHECK_EQ_INT(outcome(r, 10, 1, 0, 0, NULL), 1);
}

static void test_quorum_boundary(void) {
    const char *why = NULL;
    gov_rule_t r = rule(GOV_RULE_SIMPLE, 5000);
    CHECK_EQ_INT(outcome(r, 10, 3, 1, 1, NULL), 1); /* 5 of 10: exactly met */
    CHECK_EQ_INT(outcome(r, 10, 3, 1, 0, &why), 0); /* 4 of 10: one short */
    CHECK_STR(why, "quorum_not_met");
    /* 50 % of 7 = 3.5: 4 needed, exact integer arithmetic */
    gov_tally_t t;
    err_t e;
    snapshot(7);
    size_t n = cast(2, 1, 0);
    CHECK_EQ_INT(gov_tally(&r, voters, 7, votes, n, NULL, 0, &t, &e), 0);
    CHECK_EQ_INT(t.quorum_met, 0);
    CHECK_EQ_INT(t.quorum_weight, 4);
    gov_tally_free(&t);
    CHECK_EQ_INT(outcome(r, 7, 2, 1, 1, NULL), 1);
    /* 33.33 %: 3333 bp of 3 voters = 0.9999 -> 1 voter meets it */
    r.quorum_bp = 3333;
    CHECK_EQ_INT(outcome(r, 3, 1, 0, 0, NULL), 1);
    r.quorum_bp = 3334; /* 1.0002 -> 2 needed */
    CHECK_EQ_INT(outcome(r, 3, 1, 0, 0, &why), 0);
    CHECK_STR(why, "quorum_not_met");
    r.quorum_bp = 10000;
    CHECK_EQ_INT(outcome(r, 3, 2, 0, 1, NULL), 1);
    CHECK_EQ_INT(outcome(r, 3, 2, 0, 0, NULL), 0);
}

static void test_zero_votes_and_abstain_only(void) {
    const char *why = NULL;
    for (int k = GOV_RULE_SIMPLE; k <= GOV_RULE_UNANIMOUS; k++) {
        CHECK_EQ_INT(outcome(rule((gov_rule_kind_t)k, 0), 10, 0, 0, 0, &why), 0);
        CHECK_STR(why, "no_votes");
        CHECK_EQ_INT(outcome(rule((gov_rule_kind_t)k, 5000), 10, 0, 0, 0, &why), 0);
        CHECK_STR(why, "quorum_not_met");
        /* abstain only: the quorum is met by abstentions, the proposal is still defeated */
        CHECK_EQ_INT(outcome(rule((gov_rule_kind_t)k, 5000), 10, 0, 0, 6, &why), 0);
        CHECK_STR(why, "not_reached");
    }
    CHECK_EQ_INT(outcome(rule(GOV_RULE_SIMPLE, 0), 0, 0, 0, 0, &why), 0); /* nobody eligible */
    CHECK_STR(why, "no_votes");
}

static void test_weights(void) {
    gov_tally_t t;
    err_t e;
    snapshot(5);
    voters[0].weight = 3; /* one heavy voter for, two light against */
    voters[1].weight = 1;
    voters[2].weight = 1;
    votes[0] = (gov_vote_t){"v0", "for", NULL};
    votes[1] = (gov_vote_t){"v1", "against", NULL};
    votes[2] = (gov_vote_t){"v2", "against", NULL};
    gov_rule_t r = rule(GOV_RULE_SIMPLE, 5000);
    CHECK_EQ_INT(gov_tally(&r, voters, 5, votes, 3, NULL, 0, &t, &e), 0);
    CHECK_EQ_INT(t.for_count, 1);
    CHECK_EQ_INT(t.for_weight, 3);
    CHECK_EQ_INT(t.against_count, 2);
    CHECK_EQ_INT(t.against_weight, 2);
    CHECK_EQ_INT(t.eligible_count, 5);
    CHECK_EQ_INT(t.eligible_weight, 7);
    CHECK_EQ_INT(t.quorum_weight, 4); /* 3.5 of 7 */
    CHECK_EQ_INT(t.quorum_met, 1);
    CHECK_EQ_INT(t.outcome, GOV_SUCCEEDED);
    gov_tally_free(&t);
    /* absolute on weights: 3 of 7 is not more than half */
    r = rule(GOV_RULE_ABSOLUTE, 0);
    CHECK_EQ_INT(gov_tally(&r, voters, 5, votes, 1, NULL, 0, &t, &e), 0);
    CHECK_EQ_INT(t.outcome, GOV_DEFEATED);
    gov_tally_free(&t);
    /* the largest weights do not overflow: 2/3 of 10^6 voters of weight 10^9 */
    static gov_voter_t big[3];
    big[0] = (gov_voter_t){.id = "a", .weight = GOV_MAX_WEIGHT};
    big[1] = (gov_voter_t){.id = "b", .weight = GOV_MAX_WEIGHT};
    big[2] = (gov_voter_t){.id = "c", .weight = GOV_MAX_WEIGHT};
    gov_vote_t bv[] = {{"a", "for", NULL}, {"b", "for", NULL}, {"c", "against", NULL}};
    r = rule(GOV_RULE_SUPERMAJORITY, 10000);
    r.num = 999999, r.den = 1000000;
    CHECK_EQ_INT(gov_tally(&r, big, 3, bv, 3, NULL, 0, &t, &e), 0);
    CHECK_EQ_INT(t.outcome, GOV_DEFEATED);
    gov_tally_free(&t);
}

static void test_delegation(void) {
    gov_tally_t t;
    err_t e;
    gov_rule_t r = rule(GOV_RULE_SIMPLE, 0);
    snapshot(6);
    voters[0].delegate_all = "v2";   /* v0 -> v2, v2 votes for: v0 counts for */
    voters[1].delegate_all = "v2";   /* v1 -> v2 but votes against itself: override */
    voters[3].delegate_all = "v4";   /* v3 -> v4 -> v5: v4 did not vote, no chain */
    voters[4].delegate_all = "v5";   /* v4 -> v5, v5 votes against: v4 counts against */
    voters[5].delegate_all = "nope"; /* not eligible: ignored (and v5 voted anyway) */
    votes[0] = (gov_vote_t){"v2", "for", NULL};
    votes[1] = (gov_vote_t){"v1", "against", NULL};
    votes[2] = (gov_vote_t){"v5", "against", NULL};
    CHECK_EQ_INT(gov_tally(&r, voters, 6, votes, 3, NULL, 0, &t, &e), 0);
    CHECK_EQ_INT(t.for_count, 2);     /* v2, v0 */
    CHECK_EQ_INT(t.against_count, 3); /* v1, v5, v4 */
    CHECK_EQ_INT(t.delegated_count, 2);
    CHECK_EQ_INT(t.delegated_weight, 2);
    CHECK_EQ_INT(t.outcome, GOV_DEFEATED);
    gov_tally_free(&t);

    /* per type over all types; delegated weight is the delegator's; self and non-eligible */
    snapshot(5);
    voters[0].delegate_all = "v1";
    voters[0].delegate_type = "v2"; /* the proposal's type: v2's choice */
    voters[0].weight = 5;
    voters[3].delegate_all = "v3";  /* itself: ignored */
    voters[4].delegate_type = "zz"; /* not eligible: ignored, no fallback to all types */
    voters[4].delegate_all = "v2";
    votes[0] = (gov_vote_t){"v1", "against", NULL};
    votes[1] = (gov_vote_t){"v2", "for", NULL};
    CHECK_EQ_INT(gov_tally(&r, voters, 5, votes, 2, NULL, 0, &t, &e), 0);
    CHECK_EQ_INT(t.for_weight, 6);
    CHECK_EQ_INT(t.against_weight, 1);
    CHECK_EQ_INT(t.delegated_count, 1);
    CHECK_EQ_INT(t.delegated_weight, 5);
    CHECK_EQ_INT(t.outcome, GOV_SUCCEEDED);
    gov_tally_free(&t);

    /* delegated weight counts for the quorum; a vote by a delegator who is not eligible is
     * ignored, and eligibility never comes from the votes */
    snapshot(4);
    voters[1].delegate_all = "v0";
    votes[0] = (gov_vote_t){"v0", "for", NULL};
    votes[1] = (gov_vote_t){"outsider", "against", NULL};
    r.quorum_bp = 5000;
    CHECK_EQ_INT(gov_tally(&r, voters, 4, votes, 2, NULL, 0, &t, &e), 0);
    CHECK_EQ_INT(t.quorum_met, 1);
    CHECK_EQ_INT(t.ignored, 1);
    CHECK_EQ_INT(t.eligible_count, 4);
    CHECK_EQ_INT(t.against_count, 0);
    CHECK_EQ_INT(t.outcome, GOV_SUCCEEDED);
    gov_tally_free(&t);

    /* a vote a delegate cast on a voter's behalf (by): counted once, as the voter's, among the
     * delegated, and not passed on to the voter's own delegators (one hop) */
    snapshot(4);
    voters[1].delegate_all = "v0"; /* v1 -> v0: v0 cast v1's vote (by) */
    voters[2].delegate_all = "v1"; /* v2 -> v1, whose vote is not its own: nobody's */
    voters[3].delegate_all = "v0"; /* v3 -> v0's own vote */
    votes[0] = (gov_vote_t){"v0", "for", NULL};
    votes[1] = (gov_vote_t){"v1", "against", "v0"};
    CHECK_EQ_INT(gov_tally(&r, voters, 4, votes, 2, NULL, 0, &t, &e), 0);
    CHECK_EQ_INT(t.for_count, 2);     /* v0, v3 */
    CHECK_EQ_INT(t.against_count, 1); /* v1 once */
    CHECK_EQ_INT(t.delegated_count, 2);
    gov_tally_free(&t);
}

static void test_plurality(void) {
    gov_tally_t t;
    err_t e;
    const char *opts[] = {"x", "y", "z"};
    gov_rule_t r = rule(GOV_RULE_PLURALITY, 0);
    snapshot(10);
    const char *pick[] = {"x", "x", "x", "y", "y", "z", "abstain"};
    for (size_t i = 0; i < 7; i++)
        votes[i] = (gov_vote_t){ids[i], pick[i], NULL};
    CHECK_EQ_INT(gov_tally(&r, voters, 10, votes, 7, opts, 3, &t, &e), 0);
    CHECK_EQ_INT(t.outcome, GOV_SUCCEEDED);
    CHECK_EQ_INT(t.options[0].elected, 1);
    CHECK_EQ_INT(t.options[0].weight, 3);
    CHECK_EQ_INT(t.options[1].elected, 0);
    CHECK_EQ_INT(t.abstain_count, 1);
    gov_tally_free(&t);
    /* two seats, x 3, y 2, z 1: x and y */
    r.seats = 2;
    CHECK_EQ_INT(gov_tally(&r, voters, 10, votes, 7, opts, 3, &t, &e), 0);
    CHECK_EQ_INT(t.outcome, GOV_SUCCEEDED);
    CHECK(t.options[0].elected && t.options[1].elected && !t.options[2].elected);
    gov_tally_free(&t);
    /* z gets one more: y and z tie for the last seat -> no result */
    votes[6].choice = "z";
    CHECK_EQ_INT(gov_tally(&r, voters, 10, votes, 7, opts, 3, &t, &e), 0);
    CHECK_EQ_INT(t.outcome, GOV_DEFEATED);
    CHECK_STR(t.reason, "tie");
    CHECK(!t.options[0].elected && !t.options[1].elected && !t.options[2].elected);
    gov_tally_free(&t);
    /* one seat, x 2 y 2: tie; a tie below the last seat does not matter (3 seats of 3) */
    r.seats = 1;
    CHECK_EQ_INT(gov_tally(&r, voters, 10, votes + 1, 4, opts, 3, &t, &e), 0);
    CHECK_STR(t.reason, "tie");
    gov_tally_free(&t);
    r.seats = 3;
    CHECK_EQ_INT(gov_tally(&r, voters, 10, votes, 7, opts, 3, &t, &e), 0);
    CHECK_EQ_INT(t.outcome, GOV_SUCCEEDED);
    gov_tally_free(&t);
    /* more seats than options with votes */
    CHECK_EQ_INT(gov_tally(&r, voters, 10, votes, 3, opts, 3, &t, &e), 0);
    CHECK_STR(t.reason, "not_enough_candidates");
    gov_tally_free(&t);
    CHECK_EQ_INT(gov_tally(&r, voters, 10, votes, 0, opts, 3, &t, &e), 0);
    CHECK_STR(t.reason, "no_votes");
    gov_tally_free(&t);
    /* "for" is not an option of an election */
    votes[0].choice = "for";
    CHECK_EQ_INT(gov_tally(&r, voters, 10, votes, 1, opts, 3, &t, &e), -1);
    CHECK_STR(e.code, "invalid_choice");
    gov_tally_free(&t);
}

static void test_bad_input(void) {
    gov_tally_t t;
    err_t e;
    gov_rule_t r = rule(GOV_RULE_SIMPLE, 0);
    snapshot(3);
    voters[2].id = "v0";
    CHECK_EQ_INT(gov_tally(&r, voters, 3, votes, 0, NULL, 0, &t, &e), -1);
    CHECK_STR(e.code, "duplicate");
    CHECK_STR(e.field, "voters");
    snapshot(3);
    voters[1].weight = 0;
    CHECK_EQ_INT(gov_tally(&r, voters, 3, votes, 0, NULL, 0, &t, &e), -1);
    CHECK_STR(e.code, "invalid_weight");
    snapshot(3);
    votes[0] = (gov_vote_t){"v0", "for", NULL};
    votes[1] = (gov_vote_t){"v0", "against", NULL};
    CHECK_EQ_INT(gov_tally(&r, voters, 3, votes, 2, NULL, 0, &t, &e), -1);
    CHECK_STR(e.code, "duplicate_vote");
    votes[1] = (gov_vote_t){"v1", "maybe", NULL};
    CHECK_EQ_INT(gov_tally(&r, voters, 3, votes, 2, NULL, 0, &t, &e), -1);
    CHECK_STR(e.code, "invalid_choice");
    const char *opts[] = {"x"};
    CHECK_EQ_INT(gov_tally(&r, voters, 3, votes, 1, opts, 1, &t, &e), -1);
    CHECK_STR(e.field, "options");
    r = rule(GOV_RULE_SUPERMAJORITY, 0);
    r.num = 4;
    CHECK_EQ_INT(gov_tally(&r, voters, 3, votes, 1, NULL, 0, &t, &e), -1);
    CHECK_STR(e.field, "rule.num");
    r = rule(GOV_RULE_SIMPLE, 10001);
    CHECK_EQ_INT(gov_tally(&r, voters, 3, votes, 1, NULL, 0, &t, &e), -1);
    CHECK_STR(e.field, "rule.quorum_bp");
    gov_tally_free(&t);
}

static void test_canonical_json(void) {
    gov_tally_t t;
    err_t e;
    gov_rule_t r = rule(GOV_RULE_SUPERMAJORITY, 5000);
    snapshot(6);
    voters[5].delegate_all = "v0";
    size_t n = cast(2, 1, 1);
    votes[n++] = (gov_vote_t){"ghost", "for", NULL};
    CHECK_EQ_INT(gov_tally(&r, voters, 6, votes, n, NULL, 0, &t, &e), 0);
    char *s = gov_tally_canonical(&t);
    CHECK_STR(s, "{\"abstain\":{\"count\":1,\"weight\":1},\"against\":{\"count\":1,\"weight\":1},"
                 "\"delegated\":{\"count\":1,\"weight\":1},\"eligible\":{\"count\":6,\"weight\":6},"
                 "\"for\":{\"count\":3,\"weight\":3},\"ignored\":1,\"outcome\":\"succeeded\","
                 "\"quorum\":{\"basis_points\":5000,\"met\":true,\"required_weight\":3},"
                 "\"reason\":\"passed\",\"rule\":{\"den\":3,\"kind\":\"supermajority\",\"num\":2,"
                 "\"quorum_bp\":5000}}");
    /* the same votes in another order give the same bytes */
    gov_vote_t rev[5];
    for (size_t i = 0; i < n; i++)
        rev[i] = votes[n - 1 - i];
    gov_tally_t t2;
    CHECK_EQ_INT(gov_tally(&r, voters, 6, rev, n, NULL, 0, &t2, &e), 0);
    char *s2 = gov_tally_canonical(&t2);
    CHECK_STR(s2, s);
    free(s);
    free(s2);
    gov_tally_free(&t);
    gov_tally_free(&t2);

    const char *opts[] = {"b", "a"};
    r = rule(GOV_RULE_PLURALITY, 0);
    snapshot(2);
    votes[0] = (gov_vote_t){"v0", "a", NULL};
    CHECK_EQ_INT(gov_tally(&r, voters, 2, votes, 1, opts, 2, &t, &e), 0);
    s = gov_tally_canonical(&t);
    CHECK(s && strstr(s, ",\"options\":[{\"count\":0,\"elected\":false,\"id\":\"b\",\"weight\":0},"
                         "{\"count\":1,\"elected\":true,\"id\":\"a\",\"weight\":1}],"));
    free(s);
    gov_tally_free(&t);
}

static void test_rule_json(void) {
    static const char *ok[] = {
        "{\"kind\":\"simple\",\"quorum_bp\":0}",
        "{\"den\":3,\"kind\":\"supermajority\",\"num\":2,\"quorum_bp\":5000}",
        "{\"kind\":\"absolute\",\"quorum_bp\":10000}",
        "{\"kind\":\"unanimous\",\"quorum_bp\":1}",
        "{\"kind\":\"plurality\",\"quorum_bp\":2500,\"seats\":3}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        json_t *j = json_loads(ok[i], 0, NULL);
        gov_rule_t r;
        err_t e;
        CHECK_EQ_INT(gov_rule_from_json(j, &r, &e), 0);
        json_t *back = gov_rule_to_json(&r);
        char *s = json_dumps(back, JSON_COMPACT | JSON_SORT_KEYS);
        CHECK_STR(s, ok[i]);
        free(s);
        json_decref(back);
        json_decref(j);
    }
    static const struct {
        const char *in, *field;
    } bad[] = {
        {"[]", "rule"},
        {"{\"kind\":\"most\",\"quorum_bp\":0}", "rule.kind"},
        {"{\"kind\":\"simple\"}", "rule.quorum_bp"},
        {"{\"kind\":\"simple\",\"quorum_bp\":10001}", "rule.quorum_bp"},
        {"{\"kind\":\"simple\",\"quorum_bp\":0,\"num\":1}", "rule"},
        {"{\"kind\":\"supermajority\",\"quorum_bp\":0,\"num\":3,\"den\":2}", "rule.num"},
        {"{\"kind\":\"supermajority\",\"quorum_bp\":0,\"num\":2}", "rule.num"},
        {"{\"kind\":\"supermajority\",\"quorum_bp\":0,\"num\":2,\"den\":2.5}", "rule.den"},
        {"{\"kind\":\"plurality\",\"quorum_bp\":0}", "rule.seats"},
        {"{\"kind\":\"plurality\",\"quorum_bp\":0,\"seats\":0}", "rule.seats"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j = json_loads(bad[i].in, 0, NULL);
        gov_rule_t r;
        err_t e;
        CHECK_EQ_INT(gov_rule_from_json(j, &r, &e), -1);
        CHECK_EQ_INT(e.status, 422);
        CHECK_STR(e.field, bad[i].field);
        json_decref(j);
    }
}

/* the records' JSON (docs/governance.md "Ledger records") count like the structs */
static void test_records(void) {
    json_t *prop = json_loads("{\"proposal\":\"p\",\"options\":[],\"rule\":{\"kind\":"
                              "\"supermajority\",\"num\":2,\"den\":3,\"quorum_bp\":5000},"
                              "\"type\":\"admit_club\"}",
                              0, NULL);
    json_t *snap = json_loads("{\"voters\":[{\"voter\":\"a\",\"weight\":2},{\"voter\":\"b\","
                              "\"weight\":1,\"delegate_all\":\"a\"},{\"voter\":\"c\",\"weight\":"
                              "1,\"delegate_type\":\"d\"},{\"voter\":\"d\",\"weight\":1}]}",
                              0, NULL);
    json_t *votes = json_loads("[{\"voter\":\"a\",\"choice\":\"for\"},{\"voter\":\"d\","
                               "\"choice\":\"against\"}]",
                               0, NULL);
    gov_tally_t t;
    err_t e;
    CHECK_EQ_INT(gov_tally_records(prop, snap, votes, &t, &e), 0);
    CHECK_EQ_INT(t.for_weight, 3);         /* a 2 + b through a */
    CHECK_EQ_INT(t.against_weight, 2);     /* d + c through d */
    CHECK_EQ_INT(t.outcome, GOV_DEFEATED); /* 3 of 5 < 2/3 */
    gov_tally_free(&t);
    json_array_append_new(votes, json_pack("{s:s,s:s}", "voter", "b", "choice", "for"));
    CHECK_EQ_INT(gov_tally_records(prop, snap, votes, &t, &e), 0);
    CHECK_EQ_INT(t.outcome, GOV_DEFEATED); /* b overrides: still 3 of 5 */
    gov_tally_free(&t);
    json_array_append_new(votes, json_pack("{s:s,s:s}", "voter", "c", "choice", "for"));
    CHECK_EQ_INT(gov_tally_records(prop, snap, votes, &t, &e), 0);
    CHECK_EQ_INT(t.outcome, GOV_SUCCEEDED); /* 4 of 5 */
    gov_tally_free(&t);
    json_object_set_new(json_array_get(json_object_get(snap, "voters"), 0), "weight",
                        json_string("2"));
    CHECK_EQ_INT(gov_tally_records(prop, snap, votes, &t, &e), -1);
    CHECK_STR(e.field, "snapshot.voters");
    gov_tally_free(&t);
    json_object_del(prop, "rule");
    CHECK_EQ_INT(gov_tally_records(prop, snap, votes, &t, &e), -1);
    CHECK_STR(e.field, "rule");
    gov_tally_free(&t);
    json_decref(prop);
    json_decref(snap);
    json_decref(votes);
}

int main(void) {
    RUN(test_simple_majority);
    RUN(test_supermajority_two_thirds);
    RUN(test_absolute_majority);
    RUN(test_unanimous);
    RUN(test_quorum_boundary);
    RUN(test_zero_votes_and_abstain_only);
    RUN(test_weights);
    RUN(test_delegation);
    RUN(test_plurality);
    RUN(test_bad_input);
    RUN(test_canonical_json);
    RUN(test_rule_json);
    RUN(test_records);
    TEST_DONE();
}
