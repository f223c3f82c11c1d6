/* tally: see tally.h. */
#include "services/governance/tally.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHOICE_NONE (-1)
#define CHOICE_FOR 0
#define CHOICE_AGAINST 1
#define CHOICE_ABSTAIN 2
#define CHOICE_OPTION0 3 /* plurality: option k is CHOICE_OPTION0 + k */

#define MAX_OPTIONS 10000
#define MAX_NUMDEN 1000000u

static const char *const kind_names[] = {"simple", "supermajority", "absolute", "unanimous",
                                         "plurality"};

const char *gov_rule_kind_name(gov_rule_kind_t k) {
    return (unsigned)k < sizeof kind_names / sizeof *kind_names ? kind_names[k] : "unknown";
}

const char *gov_outcome_name(gov_outcome_t o) {
    return o == GOV_SUCCEEDED ? "succeeded" : "defeated";
}

/* ---- the rule ---------------------------------------------------------------------------- */

static int rule_check(const gov_rule_t *r, err_t *e) {
    if ((unsigned)r->kind > GOV_RULE_PLURALITY)
        return err_set(e, 422, "invalid_rule", "rule.kind", "unknown rule kind");
    if (r->quorum_bp > GOV_BP)
        return err_set(e, 422, "invalid_rule", "rule.quorum_bp", "quorum_bp must be 0..10000");
    if (r->kind == GOV_RULE_SUPERMAJORITY && (r->num < 1 || r->den > MAX_NUMDEN || r->num > r->den))
        return err_set(e, 422, "invalid_rule", "rule.num",
                       "a supermajority needs 1 <= num <= den <= 1000000");
    if (r->kind == GOV_RULE_PLURALITY && (r->seats < 1 || r->seats > GOV_MAX_SEATS))
        return err_set(e, 422, "invalid_rule", "rule.seats", "seats must be 1..1000");
    return 0;
}

/* an integer member of j in [lo, hi] into *out: 0, 1 when absent (out untouched), -1 + 422 */
static int rule_uint(json_t *j, const char *key, uint32_t lo, uint32_t hi, uint32_t *out,
                     err_t *e) {
    json_t *v = json_object_get(j, key);
    if (!v) return 1;
    char field[32];
    snprintf(field, sizeof field, "rule.%s", key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return err_set(e, 422, "invalid_rule", field, "%s must be an integer %u..%u", field, lo,
                       hi);
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

int gov_rule_from_json(json_t *j, gov_rule_t *r, err_t *e) {
    memset(r, 0, sizeof *r);
    if (!json_is_object(j))
        return err_set(e, 422, "invalid_rule", "rule", "rule must be an object");
    const char *kind = json_string_value(json_object_get(j, "kind"));
    size_t k = 0;
    while (kind && k < sizeof kind_names / sizeof *kind_names && strcmp(kind, kind_names[k]) != 0)
        k++;
    if (!kind || k == sizeof kind_names / sizeof *kind_names)
        return err_set(e, 422, "invalid_rule", "rule.kind",
                       "rule.kind must be simple, supermajority, absolute, unanimous or plurality");
    r->kind = (gov_rule_kind_t)k;
    size_t want = 2; /* kind, quorum_bp */
    int rc = rule_uint(j, "quorum_bp", 0, GOV_BP, &r->quorum_bp, e);
    if (rc != 0)
        return rc < 0 ? -1 : err_set(e, 422, "invalid_rule", "rule.quorum_bp", "missing quorum_bp");
    if (r->kind == GOV_RULE_SUPERMAJORITY) {
        want += 2;
        rc = rule_uint(j, "num", 1, MAX_NUMDEN, &r->num, e);
        if (rc == 0) rc = rule_uint(j, "den", 1, MAX_NUMDEN, &r->den, e);
        if (rc != 0)
            return rc < 0 ? -1
                          : err_set(e, 422, "invalid_rule", "rule.num",
                                    "a supermajority needs num and den");
    }
    if (r->kind == GOV_RULE_PLURALITY) {
        want += 1;
        rc = rule_uint(j, "seats", 1, GOV_MAX_SEATS, &r->seats, e);
        if (rc != 0)
            return rc < 0 ? -1 : err_set(e, 422, "invalid_rule", "rule.seats", "missing seats");
    }
    if (json_object_size(j) != want)
        return err_set(e, 422, "invalid_rule", "rule",
                       "rule has members its kind does not take (kind, quorum_bp; num and den for "
                       "supermajority; seats for plurality)");
    return rule_check(r, e);
}

json_t *gov_rule_to_json(const gov_rule_t *r) {
    json_t *j = json_pack("{s:s, s:I}", "kind", gov_rule_kind_name(r->kind), "quorum_bp",
                          (json_int_t)r->quorum_bp);
    if (j && r->kind == GOV_RULE_SUPERMAJORITY) {
        json_object_set_new(j, "num", json_integer(r->num));
        json_object_set_new(j, "den", json_integer(r->den));
    }
    if (j && r->kind == GOV_RULE_PLURALITY) json_object_set_new(j, "seats", json_integer(r->seats));
    return j;
}

/* ---- lookups: a hash index of the ids (open addressing, linear probing) ---------------------- */

typedef struct ix {
    const char **ids; /* position -> id (borrowed strings) */
    uint32_t *slot;   /* 0 = empty, else position + 1 */
    size_t mask;
} ix_t;

static uint64_t ix_hash(const char *s) { /* FNV-1a */
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

/* position of id, or -1 */
static long ix_find(const ix_t *ix, const char *id) {
    if (!id) return -1;
    for (size_t i = ix_hash(id) & ix->mask;; i = (i + 1) & ix->mask) {
        uint32_t s = ix->slot[i];
        if (!s) return -1;
        if (strcmp(ix->ids[s - 1], id) == 0) return (long)s - 1;
    }
}

/* indexes the n ids already in ix->ids; fails on a duplicate, naming field */
static int ix_build(ix_t *ix, size_t n, const char *field, const char *what, err_t *e) {
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    ix->slot = calloc(cap, sizeof *ix->slot);
    if (!ix->slot) return err_set(e, 500, "internal", "", "out of memory");
    ix->mask = cap - 1;
    for (size_t p = 0; p < n; p++) {
        size_t i = ix_hash(ix->ids[p]) & ix->mask;
        for (; ix->slot[i]; i = (i + 1) & ix->mask)
            if (strcmp(ix->ids[ix->slot[i] - 1], ix->ids[p]) == 0)
                return err_set(e, 422, "duplicate", field, "%s %s appears twice", what, ix->ids[p]);
        ix->slot[i] = (uint32_t)p + 1;
    }
    return 0;
}

static void ix_free(ix_t *ix) {
    free(ix->ids);
    free(ix->slot);
}

/* ---- counting ------------------------------------------------------------------------------ */

typedef struct work {
    ix_t voters, options;
    int *direct; /* per voter: its direct choice or CHOICE_NONE */
    char *by;    /* per voter: 1 when its vote was cast by its delegate (gov_vote_t.by) */
} work_t;

static int check_input(const gov_voter_t *v, size_t nv, const char *const *opts, size_t no,
                       const gov_rule_t *r, err_t *e) {
    if (nv > GOV_MAX_VOTERS)
        return err_set(e, 422, "too_many_voters", "voters", "at most 10,000,000 eligible voters");
    for (size_t i = 0; i < nv; i++) {
        if (!v[i].id || !v[i].id[0])
            return err_set(e, 422, "invalid_voter", "voters", "voter %zu has no id", i);
        if (v[i].weight < 1 || v[i].weight > GOV_MAX_WEIGHT)
            return err_set(e, 422, "invalid_weight", "voters",
                           "voter %s: weight must be 1..1000000000", v[i].id);
    }
    if (r->kind != GOV_RULE_PLURALITY && no > 0)
        return err_set(e, 422, "invalid_options", "options", "only plurality takes options");
    if (r->kind == GOV_RULE_PLURALITY && (no < 1 || no > MAX_OPTIONS))
        return err_set(e, 422, "invalid_options", "options", "plurality needs 1..10000 options");
    for (size_t i = 0; i < no; i++)
        if (!opts[i] || !opts[i][0] || strcmp(opts[i], "abstain") == 0)
            return err_set(e, 422, "invalid_options", "options",
                           "option %zu must be a non-empty id other than \"abstain\"", i);
    return 0;
}

static int choice_code(const gov_rule_t *r, const work_t *w, const char *c) {
    if (!c) return CHOICE_NONE;
    if (strcmp(c, "abstain") == 0) return CHOICE_ABSTAIN;
    if (r->kind != GOV_RULE_PLURALITY) {
        if (strcmp(c, "for") == 0) return CHOICE_FOR;
        if (strcmp(c, "against") == 0) return CHOICE_AGAINST;
        return CHOICE_NONE;
    }
    long k = ix_find(&w->options, c);
    return k < 0 ? CHOICE_NONE : CHOICE_OPTION0 + (int)k;
}

/* records each direct vote in w->direct; votes by voters outside the snapshot are ignored */
static int take_votes(const gov_rule_t *r, work_t *w, const gov_vote_t *votes, size_t n,
                      gov_tally_t *t, err_t *e) {
    for (size_t i = 0; i < n; i++) {
        long p = ix_find(&w->voters, votes[i].voter);
        if (p < 0) {
            t->ignored++;
            continue;
        }
        int c = choice_code(r, w, votes[i].choice);
        if (c == CHOICE_NONE)
            return err_set(e, 422, "invalid_choice", "votes",
                           "vote of %s: choice \"%s\" is not one of this proposal's",
                           votes[i].voter, votes[i].choice ? votes[i].choice : "");
        if (w->direct[p] != CHOICE_NONE)
            return err_set(e, 422, "duplicate_vote", "votes", "voter %s voted twice",
                           votes[i].voter);
        w->direct[p] = c;
        w->by[p] = votes[i].by != NULL;
    }
    return 0;
}

static void add_choice(gov_tally_t *t, int c, int64_t weight) {
    if (c == CHOICE_FOR) {
        t->for_count++;
        t->for_weight += weight;
    } else if (c == CHOICE_AGAINST) {
        t->against_count++;
        t->against_weight += weight;
    } else if (c == CHOICE_ABSTAIN) {
        t->abstain_count++;
        t->abstain_weight += weight;
    } else {
        t->options[c - CHOICE_OPTION0].count++;
        t->options[c - CHOICE_OPTION0].weight += weight;
    }
}

/* the choice voter i counts with: its own, else its delegate's direct vote (one hop) */
static int effective_choice(const gov_voter_t *v, const work_t *w, size_t i, int *delegated) {
    *delegated = w->by[i];
    if (w->direct[i] != CHOICE_NONE) return w->direct[i];
    const char *to = v[i].delegate_type ? v[i].delegate_type : v[i].delegate_all;
    long d = ix_find(&w->voters, to);
    /* a vote the delegate cast on another's behalf is not its own: not passed on (one hop) */
    if (d < 0 || (size_t)d == i || w->direct[d] == CHOICE_NONE || w->by[d]) return CHOICE_NONE;
    *delegated = 1;
    return w->direct[d];
}

static int opt_rank_cmp(const void *a, const void *b) {
    const gov_option_result_t *x = *(gov_option_result_t *const *)a,
                              *y = *(gov_option_result_t *const *)b;
    if (x->weight != y->weight) return x->weight > y->weight ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int plurality(gov_tally_t *t) {
    size_t n = t->n_options, seats = t->rule.seats, with_votes = 0;
    gov_option_result_t **rank = malloc(n * sizeof *rank);
    if (!rank) return -1;
    for (size_t i = 0; i < n; i++) {
        rank[i] = &t->options[i];
        with_votes += t->options[i].weight > 0;
    }
    qsort(rank, n, sizeof *rank, opt_rank_cmp);
    if (with_votes < seats)
        t->reason = with_votes == 0 ? "no_votes" : "not_enough_candidates";
    else if (seats < n && rank[seats - 1]->weight == rank[seats]->weight)
        t->reason = "tie";
    else {
        for (size_t i = 0; i < seats; i++)
            rank[i]->elected = 1;
        t->outcome = GOV_SUCCEEDED;
    }
    free(rank);
    return 0;
}

typedef __int128 wide_t;

/* the rule's outcome once quorum is met */
static void decide(gov_tally_t *t) {
    int64_t f = t->for_weight, a = t->against_weight;
    int pass = 0;
    t->reason = "not_reached";
    switch (t->rule.kind) {
    case GOV_RULE_SIMPLE:
        pass = f > a;
        if (f == a && f > 0) t->reason = "tie";
        break;
    case GOV_RULE_SUPERMAJORITY:
        pass = f + a > 0 && (wide_t)f * t->rule.den >= (wide_t)t->rule.num * (f + a);
        break;
    case GOV_RULE_ABSOLUTE:
        pass = (wide_t)2 * f > t->eligible_weight;
        break;
    case GOV_RULE_UNANIMOUS:
        pass = a == 0 && f > 0;
        break;
    case GOV_RULE_PLURALITY:
        break;
    }
    if (pass) {
        t->outcome = GOV_SUCCEEDED;
        t->reason = "passed";
    }
}

static int count(const gov_voter_t *v, size_t nv, work_t *w, gov_tally_t *t) {
    for (size_t i = 0; i < nv; i++) {
        int delegated;
        t->eligible_count++;
        t->eligible_weight += v[i].weight;
        int c = effective_choice(v, w, i, &delegated);
        if (c == CHOICE_NONE) continue;
        add_choice(t, c, v[i].weight);
        t->delegated_count += delegated;
        t->delegated_weight += delegated ? v[i].weight : 0;
    }
    int64_t part = t->for_weight + t->against_weight + t->abstain_weight;
    for (size_t k = 0; k < t->n_options; k++)
        part += t->options[k].weight;
    wide_t need = (wide_t)t->rule.quorum_bp * t->eligible_weight;
    t->quorum_weight = (int64_t)((need + GOV_BP - 1) / GOV_BP);
    t->quorum_met = (wide_t)part * GOV_BP >= need;
    t->outcome = GOV_DEFEATED;
    if (!t->quorum_met) {
        t->reason = "quorum_not_met";
        return 0;
    }
    if (part == 0) {
        t->reason = "no_votes";
        return 0;
    }
    if (t->rule.kind == GOV_RULE_PLURALITY) return plurality(t);
    decide(t);
    return 0;
}

static int work_init(work_t *w, const gov_voter_t *v, size_t nv, const char *const *opts, size_t no,
                     err_t *e) {
    memset(w, 0, sizeof *w);
    w->voters.ids = malloc((nv ? nv : 1) * sizeof *w->voters.ids);
    w->options.ids = malloc((no ? no : 1) * sizeof *w->options.ids);
    w->direct = malloc((nv ? nv : 1) * sizeof *w->direct);
    w->by = calloc(nv ? nv : 1, 1);
    if (!w->voters.ids || !w->options.ids || !w->direct || !w->by)
        return err_set(e, 500, "internal", "", "out of memory");
    for (size_t i = 0; i < nv; i++) {
        w->voters.ids[i] = v[i].id;
        w->direct[i] = CHOICE_NONE;
    }
    for (size_t i = 0; i < no; i++)
        w->options.ids[i] = opts[i];
    if (ix_build(&w->voters, nv, "voters", "voter", e) != 0 ||
        ix_build(&w->options, no, "options", "option", e) != 0)
        return -1;
    return 0;
}

int gov_tally(const gov_rule_t *rule, const gov_voter_t *voters, size_t n_voters,
              const gov_vote_t *votes, size_t n_votes, const char *const *options, size_t n_options,
              gov_tally_t *t, err_t *e) {
    work_t w = {0};
    memset(t, 0, sizeof *t);
    t->rule = *rule;
    t->reason = "not_reached";
    int rc = -1;
    if (rule_check(rule, e) != 0 || check_input(voters, n_voters, options, n_options, rule, e) != 0)
        goto done;
    if (n_options) {
        t->options = calloc(n_options, sizeof *t->options);
        if (!t->options) {
            err_set(e, 500, "internal", "", "out of memory");
            goto done;
        }
        t->n_options = n_options;
        for (size_t i = 0; i < n_options; i++)
            t->options[i].id = options[i];
    }
    if (work_init(&w, voters, n_voters, options, n_options, e) != 0 ||
        take_votes(rule, &w, votes, n_votes, t, e) != 0)
        goto done;
    if (count(voters, n_voters, &w, t) != 0) {
        err_set(e, 500, "internal", "", "out of memory");
        goto done;
    }
    rc = 0;
done:
    ix_free(&w.voters);
    ix_free(&w.options);
    free(w.direct);
    free(w.by);
    return rc;
}

void gov_tally_free(gov_tally_t *t) {
    if (!t) return;
    free(t->options);
    t->options = NULL;
    t->n_options = 0;
}

/* ---- the canonical result -------------------------------------------------------------------- */

static json_t *cw(int64_t count, int64_t weight) {
    return json_pack("{s:I, s:I}", "count", (json_int_t)count, "weight", (json_int_t)weight);
}

json_t *gov_tally_json(const gov_tally_t *t) {
    json_t *j = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:I, s:s, s:{s:I, s:b, s:I}, s:s, s:o}", "abstain",
        cw(t->abstain_count, t->abstain_weight), "against", cw(t->against_count, t->against_weight),
        "delegated", cw(t->delegated_count, t->delegated_weight), "eligible",
        cw(t->eligible_count, t->eligible_weight), "for", cw(t->for_count, t->for_weight),
        "ignored", (json_int_t)t->ignored, "outcome", gov_outcome_name(t->outcome), "quorum",
        "basis_points", (json_int_t)t->rule.quorum_bp, "met", t->quorum_met, "required_weight",
        (json_int_t)t->quorum_weight, "reason", t->reason ? t->reason : "", "rule",
        gov_rule_to_json(&t->rule));
    if (!j || t->rule.kind != GOV_RULE_PLURALITY) return j;
    json_t *opts = json_array();
    for (size_t i = 0; opts && i < t->n_options; i++)
        json_array_append_new(opts, json_pack("{s:s, s:I, s:I, s:b}", "id", t->options[i].id,
                                              "count", (json_int_t)t->options[i].count, "weight",
                                              (json_int_t)t->options[i].weight, "elected",
                                              t->options[i].elected));
    json_object_set_new(j, "options", opts);
    return j;
}

char *gov_tally_canonical(const gov_tally_t *t) {
    json_t *j = gov_tally_json(t);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    return s;
}

/* ---- from the records' JSON ------------------------------------------------------------------ */

static const char *opt_str(json_t *o, const char *key, int *bad) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v) || !json_string_length(v)) *bad = 1;
    return json_string_value(v);
}

static int snapshot_voters(json_t *snapshot, gov_voter_t **out, size_t *n, err_t *e) {
    json_t *arr = json_object_get(snapshot, "voters");
    *out = NULL;
    *n = 0;
    if (!json_is_array(arr))
        return err_set(e, 422, "invalid_snapshot", "snapshot.voters", "voters must be an array");
    gov_voter_t *v = calloc(json_array_size(arr) + 1, sizeof *v);
    if (!v) return err_set(e, 500, "internal", "", "out of memory");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i), *w = json_object_get(o, "weight");
        int bad = !json_is_object(o) || !json_is_string(json_object_get(o, "voter")) ||
                  (w && !json_is_integer(w));
        v[i].id = json_string_value(json_object_get(o, "voter"));
        v[i].weight = w ? (int64_t)json_integer_value(w) : 1;
        v[i].delegate_all = opt_str(o, "delegate_all", &bad);
        v[i].delegate_type = opt_str(o, "delegate_type", &bad);
        if (bad) {
            free(v);
            return err_set(e, 422, "invalid_snapshot", "snapshot.voters",
                           "voters[%zu] must be {voter, weight, delegate_all?, delegate_type?}", i);
        }
    }
    *out = v;
    *n = json_array_size(arr);
    return 0;
}

static int record_votes(json_t *votes, gov_vote_t **out, err_t *e) {
    *out = NULL;
    if (!json_is_array(votes)) return err_set(e, 422, "invalid_votes", "votes", "not an array");
    gov_vote_t *v = calloc(json_array_size(votes) + 1, sizeof *v);
    if (!v) return err_set(e, 500, "internal", "", "out of memory");
    for (size_t i = 0; i < json_array_size(votes); i++) {
        json_t *o = json_array_get(votes, i);
        v[i].voter = json_string_value(json_object_get(o, "voter"));
        v[i].choice = json_string_value(json_object_get(o, "choice"));
        v[i].by = json_string_value(json_object_get(o, "by"));
        if (!v[i].voter || !v[i].choice) {
            free(v);
            return err_set(e, 422, "invalid_votes", "votes", "votes[%zu] must be {voter, choice}",
                           i);
        }
    }
    *out = v;
    return 0;
}

int gov_tally_records(json_t *proposal, json_t *snapshot, json_t *votes, gov_tally_t *t, err_t *e) {
    gov_rule_t rule;
    gov_voter_t *voters = NULL;
    gov_vote_t *vs = NULL;
    const char **opts = NULL;
    size_t nv = 0;
    int rc = -1;
    memset(t, 0, sizeof *t);
    json_t *o = json_object_get(proposal, "options");
    if (gov_rule_from_json(json_object_get(proposal, "rule"), &rule, e) != 0) goto done;
    if (o && !json_is_array(o)) {
        err_set(e, 422, "invalid_options", "proposal.options", "options must be an array");
        goto done;
    }
    opts = calloc(json_array_size(o) + 1, sizeof *opts);
    if (!opts) {
        err_set(e, 500, "internal", "", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < json_array_size(o); i++)
        if (!(opts[i] = json_string_value(json_array_get(o, i)))) {
            err_set(e, 422, "invalid_options", "proposal.options", "options must be strings");
            goto done;
        }
    if (snapshot_voters(snapshot, &voters, &nv, e) != 0 || record_votes(votes, &vs, e) != 0)
        goto done;
    rc = gov_tally(&rule, voters, nv, vs, json_array_size(votes), opts, json_array_size(o), t, e);
done:
    free(voters);
    free(vs);
    free(opts);
    return rc;
}
