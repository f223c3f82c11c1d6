/* bench/governance_tally.c: the time to tally a club-scope proposal (issue 15: "tallying a
 * proposal with 10,000 club-scope votes < 100 ms"). Builds what the service holds when voting
 * closes, as JSON: the proposal's counting rule, the eligible snapshot (VOTES + 20 % members
 * who did not vote, member uuids as ids, every fifth non-voter delegating to a voter) and VOTES
 * votes (for/against/abstain), then times RUNS tallies, each the whole path from those documents
 * to the canonical result (gov_tally_records: the snapshot and votes read into arrays, ids
 * sorted, delegation resolved, counted; gov_tally_canonical), and the count alone (gov_tally on
 * ready arrays). Prints one line: governance-tally-bench votes=N eligible=N runs=N p50_ms=..
 * min_ms=.. max_ms=.. (wall) cpu_p50_ms=.. (CPU of the process: the figure on a shared box)
 * core_p50_ms=.. (the count alone, wall) outcome=.. ok=1|0 (ok: the median run under 100 ms).
 * Usage: governance_tally [VOTES [RUNS]] (10000 50). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "services/governance/tally.h"

static double clock_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* a uuid-shaped id from i, scrambled so that the ids are not in order */
static void member_id(size_t i, char out[37]) {
    unsigned long long h = (unsigned long long)(i + 1) * 0x9E3779B97F4A7C15ULL;
    snprintf(out, 37, "%08llx-%04llx-4%03llx-8%03llx-%012llx", h >> 32, (h >> 16) & 0xffff,
             (h >> 4) & 0xfff, (unsigned long long)i & 0xfff,
             (unsigned long long)i & 0xffffffffffffULL);
}

int main(int argc, char **argv) {
    size_t votes_n = argc > 1 ? (size_t)atol(argv[1]) : 10000;
    int runs = argc > 2 ? atoi(argv[2]) : 50;
    size_t eligible = votes_n + votes_n / 5;
    if (votes_n < 1 || runs < 1) return 2;
    json_t *proposal = json_pack("{s:s, s:{s:s, s:i}, s:[]}", "type", "policy", "rule", "kind",
                                 "simple", "quorum_bp", 2000, "options");
    json_t *voters = json_array(), *votes = json_array();
    static const char *choices[] = {"for", "for", "against", "abstain", "for"};
    for (size_t i = 0; i < eligible; i++) {
        char id[37];
        member_id(i, id);
        json_t *v = json_pack("{s:s, s:i}", "voter", id, "weight", 1);
        if (i >= votes_n && i % 5 == 0) {
            char to[37];
            member_id(i % votes_n, to);
            json_object_set_new(v, "delegate_all", json_string(to));
        }
        json_array_append_new(voters, v);
        if (i < votes_n)
            json_array_append_new(votes,
                                  json_pack("{s:s, s:s}", "voter", id, "choice", choices[i % 5]));
    }
    json_t *snapshot = json_pack("{s:o}", "voters", voters);
    double *ms = calloc((size_t)runs, sizeof *ms), *core = calloc((size_t)runs, sizeof *core),
           *cpu = calloc((size_t)runs, sizeof *cpu);
    char outcome[32] = "";
    err_t e = {0};
    /* the arrays gov_tally_records builds, for the count alone */
    gov_voter_t *vs = calloc(eligible, sizeof *vs);
    gov_vote_t *vt = calloc(votes_n, sizeof *vt);
    for (size_t i = 0; i < eligible; i++) {
        json_t *o = json_array_get(voters, i);
        vs[i] = (gov_voter_t){json_string_value(json_object_get(o, "voter")), 1,
                              json_string_value(json_object_get(o, "delegate_all")), NULL};
    }
    for (size_t i = 0; i < votes_n; i++) {
        json_t *o = json_array_get(votes, i);
        vt[i] = (gov_vote_t){json_string_value(json_object_get(o, "voter")),
                             json_string_value(json_object_get(o, "choice")), NULL};
    }
    gov_rule_t rule;
    if (gov_rule_from_json(json_object_get(proposal, "rule"), &rule, &e) != 0) return 1;
    for (int r = 0; r < runs; r++) {
        gov_tally_t t;
        double t0 = clock_ms(CLOCK_MONOTONIC), c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (gov_tally_records(proposal, snapshot, votes, &t, &e) != 0) {
            fprintf(stderr, "governance_tally: %s\n", e.message);
            return 1;
        }
        char *canon = gov_tally_canonical(&t);
        ms[r] = clock_ms(CLOCK_MONOTONIC) - t0;
        cpu[r] = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
        snprintf(outcome, sizeof outcome, "%s", gov_outcome_name(t.outcome));
        free(canon);
        gov_tally_free(&t);
        t0 = clock_ms(CLOCK_MONOTONIC);
        if (gov_tally(&rule, vs, eligible, vt, votes_n, NULL, 0, &t, &e) != 0) return 1;
        core[r] = clock_ms(CLOCK_MONOTONIC) - t0;
        gov_tally_free(&t);
    }
    qsort(ms, (size_t)runs, sizeof *ms, dbl_cmp);
    qsort(core, (size_t)runs, sizeof *core, dbl_cmp);
    qsort(cpu, (size_t)runs, sizeof *cpu, dbl_cmp);
    printf("governance-tally-bench votes=%zu eligible=%zu runs=%d p50_ms=%.2f min_ms=%.2f "
           "max_ms=%.2f cpu_p50_ms=%.2f core_p50_ms=%.2f outcome=%s ok=%d\n",
           votes_n, eligible, runs, ms[runs / 2], ms[0], ms[runs - 1], cpu[runs / 2],
           core[runs / 2], outcome, ms[runs / 2] < 100.0);
    free(ms);
    free(core);
    free(cpu);
    free(vs);
    free(vt);
    json_decref(proposal);
    json_decref(snapshot);
    json_decref(votes);
    return 0;
}
