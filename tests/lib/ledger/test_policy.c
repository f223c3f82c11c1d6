/* test_policy: endorsement policy grammar (errors with positions, limits, canonical form) and
 * exact evaluation: a table of policies x signature sets including the greedy first-fit trap,
 * de-duplication of signers, and a brute-force cross-check on random small cases. */
#include "lib/ledger/policy.h"

#include "test.h"

static policy_sig_t sig(const char *org, policy_role_t role, uint8_t key) {
    policy_sig_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.org, sizeof s.org, "%s", org);
    s.role = role;
    memset(s.pk, key, sizeof s.pk);
    return s;
}

#define M POLICY_ROLE_MEMBER
#define A POLICY_ROLE_ADMIN

static void test_parse_ok(void) {
    static const struct {
        const char *in, *canon;
    } cases[] = {
        {"'A.member'", "'A.member'"},
        {"AND('A.member','A.admin')", "AND('A.member', 'A.admin')"},
        {"  OR ( 'Org1MSP.member' ,\n\t'Org2MSP.admin' )  ",
         "OR('Org1MSP.member', 'Org2MSP.admin')"},
        {"OutOf(2, 'A.member', 'B.member', 'C.member')",
         "OutOf(2, 'A.member', 'B.member', 'C.member')"},
        {"and('a.b-c.member', or('x.admin'))", "AND('a.b-c.member', OR('x.admin'))"},
        {"outof(1,'A.member')", "OutOf(1, 'A.member')"},
        {"AND('A.member', OR('B.admin', OutOf(2, 'C.member', 'D.member', AND('E.admin', "
         "'F.member'))))",
         "AND('A.member', OR('B.admin', OutOf(2, 'C.member', 'D.member', AND('E.admin', "
         "'F.member'))))"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        policy_t p;
        err_t e;
        size_t pos = 99;
        int rc = policy_parse(cases[i].in, &p, &pos, &e);
        if (rc != 0) fprintf(stdout, "#   %s: %s\n", cases[i].in, e.message);
        CHECK_EQ_INT(rc, 0);
        if (rc != 0) continue;
        char buf[512];
        CHECK_EQ_INT(policy_format(&p, buf, sizeof buf, &e), 0);
        CHECK_STR(buf, cases[i].canon);
        /* canonical text parses to the same canonical text */
        policy_t q;
        CHECK_EQ_INT(policy_parse(buf, &q, NULL, &e), 0);
        char buf2[512];
        CHECK_EQ_INT(policy_format(&q, buf2, sizeof buf2, &e), 0);
        CHECK_STR(buf2, buf);
        policy_free(&q);
        policy_free(&p);
    }
    /* org name with dots: the role is after the last dot */
    policy_t p;
    err_t e;
    int rc = policy_parse("'club.example.org.admin'", &p, NULL, &e); /* REQUIRE evaluates twice */
    REQUIRE(rc == 0);
    CHECK_STR(p.root->org, "club.example.org");
    CHECK_EQ_INT(p.root->role, A);
    policy_free(&p);
    /* the formatted buffer must fit */
    rc = policy_parse("AND('A.member','B.member')", &p, NULL, &e);
    REQUIRE(rc == 0);
    char small[8];
    CHECK_EQ_INT(policy_format(&p, small, sizeof small, &e), -1);
    policy_free(&p);
}

static void test_parse_errors(void) {
    static const struct {
        const char *in;
        size_t pos;
        const char *msg_part;
    } cases[] = {
        {"", 0, "unexpected end"},
        {"   ", 3, "unexpected end"},
        {"AND(", 4, "unexpected end"},
        {"AND('A.member'", 14, "expected ',' or ')'"},
        {"AND('A.member' 'B.member')", 15, "expected ',' or ')'"},
        {"AND('A.member',)", 15, "expected AND"},
        {"AND()", 4, "expected AND"},
        {"XOR('A.member')", 0, "expected AND"},
        {"And('A.member')", 0, "expected AND"},
        {"AND 'A.member'", 4, "expected '('"},
        {"'A.member", 0, "unterminated"},
        {"'Amember'", 0, "'Org.role'"},
        {"'.member'", 1, "empty organisation"},
        {"'A.peer'", 3, "unsupported role 'peer'"},
        {"'A.Member'", 3, "unsupported role"},
        {"'A B.member'", 2, "unexpected character"},
        {"\"A.member\"", 0, "expected AND"},
        {"OutOf('A.member')", 6, "needs a number"},
        {"OutOf(0, 'A.member')", 6, "at least 1"},
        {"OutOf(01, 'A.member')", 6, "leading zero"},
        {"OutOf(2, 'A.member')", 6, "exceeds"},
        {"OutOf(1 'A.member')", 8, "expected ','"},
        {"OutOf(99999999999999999999, 'A.member')", 6, "exceeds"},
        {"'A.member' x", 11, "unexpected text"},
        {"'A.member''B.member'", 10, "unexpected text"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        policy_t p;
        err_t e;
        size_t pos = 12345;
        err_clear(&e);
        int rc = policy_parse(cases[i].in, &p, &pos, &e);
        CHECK_EQ_INT(rc, -1);
        if (rc == 0) {
            fprintf(stdout, "#   accepted bad policy [%s]\n", cases[i].in);
            policy_free(&p);
            continue;
        }
        if (pos != cases[i].pos || !strstr(e.message, cases[i].msg_part))
            fprintf(stdout, "#   [%s]: pos %zu (want %zu), message \"%s\"\n", cases[i].in, pos,
                    cases[i].pos, e.message);
        CHECK_EQ_INT(pos, cases[i].pos);
        CHECK(strstr(e.message, cases[i].msg_part) != NULL);
        CHECK_STR(e.code, "invalid_policy");
        CHECK(p.root == NULL);
    }
}

static void test_limits(void) {
    policy_t p;
    err_t e;
    size_t pos;
    char buf[POLICY_MAX_LEN + 64];
    /* nesting: 16 levels of functions are allowed, 17 are not */
    for (int depth = 16; depth <= 17; depth++) {
        size_t off = 0;
        for (int i = 0; i < depth; i++)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "OR(");
        off += (size_t)snprintf(buf + off, sizeof buf - off, "'A.member'");
        for (int i = 0; i < depth; i++)
            buf[off++] = ')';
        buf[off] = 0;
        int rc = policy_parse(buf, &p, &pos, &e);
        CHECK_EQ_INT(rc, depth <= POLICY_MAX_DEPTH ? 0 : -1);
        if (rc == 0)
            policy_free(&p);
        else
            CHECK(strstr(e.message, "nested") != NULL && pos == 16 * 3);
    }
    /* arguments of one function */
    for (int n = 64; n <= 65; n++) {
        size_t off = (size_t)snprintf(buf, sizeof buf, "OR(");
        for (int i = 0; i < n; i++)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s'O%d.member'", i ? "," : "", i);
        snprintf(buf + off, sizeof buf - off, ")");
        int rc = policy_parse(buf, &p, &pos, &e);
        CHECK_EQ_INT(rc, n <= POLICY_MAX_CHILDREN ? 0 : -1);
        if (rc == 0) policy_free(&p);
    }
    /* total length */
    memset(buf, ' ', POLICY_MAX_LEN + 1);
    memcpy(buf, "'A.member'", 10);
    buf[POLICY_MAX_LEN + 1] = 0;
    CHECK_EQ_INT(policy_parse(buf, &p, &pos, &e), -1);
    buf[POLICY_MAX_LEN] = 0;
    CHECK_EQ_INT(policy_parse(buf, &p, &pos, &e), 0);
    policy_free(&p);
    /* node count: 4 x OR(63 principals) + AND = 257 nodes > 256 */
    size_t off = (size_t)snprintf(buf, sizeof buf, "AND(");
    for (int k = 0; k < 4; k++) {
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%sOR(", k ? "," : "");
        for (int i = 0; i < 63; i++)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s'O.member'", i ? "," : "");
        off += (size_t)snprintf(buf + off, sizeof buf - off, ")");
    }
    snprintf(buf + off, sizeof buf - off, ")");
    CHECK_EQ_INT(policy_parse(buf, &p, &pos, &e), -1);
    CHECK(strstr(e.message, "more than") != NULL);
    /* organisation name length */
    char org[80];
    memset(org, 'x', 65);
    org[65] = 0;
    snprintf(buf, sizeof buf, "'%s.member'", org);
    CHECK_EQ_INT(policy_parse(buf, &p, &pos, &e), -1);
    org[64] = 0;
    snprintf(buf, sizeof buf, "'%s.member'", org);
    CHECK_EQ_INT(policy_parse(buf, &p, &pos, &e), 0);
    policy_free(&p);
}

static int eval(const char *policy, const policy_sig_t *sigs, size_t n, err_t *e) {
    policy_t p;
    if (policy_parse(policy, &p, NULL, e) != 0) {
        fprintf(stdout, "#   parse failed: %s: %s\n", policy, e->message);
        return -2;
    }
    int sat = -1;
    int rc = policy_evaluate(&p, sigs, n, &sat, e);
    policy_free(&p);
    return rc == 0 ? sat : -1;
}

static void test_table(void) {
    policy_sig_t aA = sig("A", A, 1), aM = sig("A", M, 2), aM2 = sig("A", M, 3),
                 bM = sig("B", M, 4), bA = sig("B", A, 5), cM = sig("C", M, 6), dM = sig("D", M, 7);
    static const char *P_TRAP = "AND('A.member', 'A.admin')";
    const struct {
        const char *policy;
        policy_sig_t sigs[6];
        size_t n;
        int want;
    } rows[] = {
        /* the greedy trap: admin first must still pass */
        {P_TRAP, {aA, aM}, 2, 1},
        {P_TRAP, {aM, aA}, 2, 1},
        {P_TRAP, {aA}, 1, 0},      /* one signature cannot fill two principals */
        {P_TRAP, {aA, aA}, 2, 0},  /* the same key twice counts once */
        {P_TRAP, {aM, aM2}, 2, 0}, /* no admin */
        {P_TRAP, {aA, bM}, 2, 0},
        {"AND('A.member', 'A.member')", {aA, aM}, 2, 1},
        {"AND('A.member', 'A.member')", {aM, aM}, 2, 0},
        {"AND('A.member', 'A.member')", {aM, aM2}, 2, 1},
        {"'A.admin'", {aM}, 1, 0},
        {"'A.admin'", {aA}, 1, 1},
        {"'A.member'", {aA}, 1, 1},
        {"'A.member'", {bM, bA}, 2, 0},
        {"'A.member'", {aM}, 0, 0}, /* no signatures */
        {"OR('A.admin', 'B.member')", {bA}, 1, 1},
        {"OR('A.admin', 'B.member')", {aM, cM}, 2, 0},
        {"OutOf(2, 'A.member', 'B.member', 'C.member')", {cM, aM}, 2, 1},
        {"OutOf(2, 'A.member', 'B.member', 'C.member')", {cM, dM}, 2, 0},
        {"OutOf(3, 'A.member', 'B.member', 'C.member')", {aA, bA, cM}, 3, 1},
        /* nested trap: the OR must not take the admin that the AND needs */
        {"AND(OR('A.member', 'B.member'), 'A.admin')", {aA, bM}, 2, 1},
        {"AND(OR('A.member', 'B.member'), 'A.admin')", {aA}, 1, 0},
        {"AND(OR('A.member', 'B.member'), 'A.admin')", {aA, aM}, 2, 1},
        /* OutOf picking the right subset */
        {"AND(OutOf(2, 'A.member', 'B.admin', 'C.member'), 'A.admin', 'C.member')",
         {aA, cM, bA, aM},
         4,
         1},
        {"AND(OutOf(2, 'A.member', 'B.admin', 'C.member'), 'A.admin', 'C.member')",
         {aA, cM, bM, aM},
         4,
         0},
        /* the visit policy shape: host and home club */
        {"AND(OR('Host.member', 'Host.admin'), OR('Home.member', 'Home.admin'))",
         {sig("Host", A, 9), sig("Home", M, 10)},
         2,
         1},
        {"AND(OR('Host.member', 'Host.admin'), OR('Home.member', 'Home.admin'))",
         {sig("Host", A, 9), sig("Host", M, 11)},
         2,
         0},
        /* org names are case-sensitive and exact */
        {"'A.member'", {sig("a", M, 12), sig("AA", M, 13)}, 2, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        err_t e;
        int got = eval(rows[i].policy, rows[i].sigs, rows[i].n, &e);
        if (got != rows[i].want)
            fprintf(stdout, "#   row %zu: %s got %d want %d\n", i, rows[i].policy, got,
                    rows[i].want);
        CHECK_EQ_INT(got, rows[i].want);
    }
    fprintf(stdout, "#   %zu policy rows\n", sizeof rows / sizeof rows[0]);
}

static void test_bad_signatures(void) {
    err_t e;
    policy_sig_t s[2] = {sig("A", A, 1), sig("B", M, 1)}; /* one key, two identities */
    CHECK_EQ_INT(eval("'A.member'", s, 2, &e), -1);
    policy_sig_t r = sig("A", (policy_role_t)7, 2);
    CHECK_EQ_INT(eval("'A.member'", &r, 1, &e), -1);
    policy_sig_t many[POLICY_MAX_SIGS + 1];
    for (int i = 0; i < POLICY_MAX_SIGS + 1; i++)
        many[i] = sig("A", M, (uint8_t)i);
    CHECK_EQ_INT(eval("'A.member'", many, POLICY_MAX_SIGS + 1, &e), -1);
    CHECK_EQ_INT(eval("'A.member'", many, POLICY_MAX_SIGS, &e), 1);
}

/* Brute force: try every assignment of signatures to principals (each signature to one
 * principal or to none) and evaluate the tree with the principals that received a matching
 * signature. Exponential, only for tiny cases. */
static int bf_eval(const policy_node_t *n, const int *got, size_t *idx) {
    if (n->op == POLICY_PRINCIPAL) return got[(*idx)++];
    unsigned ok = 0;
    for (size_t i = 0; i < n->n_children; i++)
        ok += (unsigned)bf_eval(n->children[i], got, idx);
    return ok >= n->threshold;
}

static void bf_collect(const policy_node_t *n, const policy_node_t **out, size_t *k) {
    if (n->op == POLICY_PRINCIPAL)
        out[(*k)++] = n;
    else
        for (size_t i = 0; i < n->n_children; i++)
            bf_collect(n->children[i], out, k);
}

static int bf(const policy_t *p, const policy_sig_t *sigs, size_t ns) {
    const policy_node_t *pr[32];
    size_t np = 0;
    bf_collect(p->root, pr, &np);
    /* assignment: sig i -> principal a[i] in [0, np] (np = unused) */
    size_t a[8] = {0};
    for (;;) {
        int got[32] = {0}, clash = 0;
        for (size_t i = 0; i < ns && !clash; i++) {
            if (a[i] == np) continue;
            const policy_node_t *q = pr[a[i]];
            int match = strcmp(sigs[i].org, q->org) == 0 && (q->role == M || sigs[i].role == A);
            if (!match || got[a[i]])
                clash = 1;
            else
                got[a[i]] = 1;
        }
        size_t idx = 0;
        if (!clash && bf_eval(p->root, got, &idx)) return 1;
        size_t i = 0;
        while (i < ns && ++a[i] > np)
            a[i++] = 0;
        if (i == ns) return 0;
    }
}

static uint32_t rng = 12345;
static uint32_t rnd(uint32_t n) {
    rng = rng * 1103515245u + 12345u;
    return (rng >> 8) % n;
}

static void gen_policy(char *buf, size_t cap, size_t *off, int depth, int *principals) {
    static const char *orgs[] = {"A", "B", "C"};
    int kind = depth >= 2 || *principals >= 5 ? 3 : (int)rnd(4);
    if (kind == 3) {
        (*principals)++;
        *off += (size_t)snprintf(buf + *off, cap - *off, "'%s.%s'", orgs[rnd(3)],
                                 rnd(2) ? "admin" : "member");
        return;
    }
    int k = 1 + (int)rnd(3);
    if (kind == 0)
        *off += (size_t)snprintf(buf + *off, cap - *off, "AND(");
    else if (kind == 1)
        *off += (size_t)snprintf(buf + *off, cap - *off, "OR(");
    else
        *off += (size_t)snprintf(buf + *off, cap - *off, "OutOf(%d,", 1 + (int)rnd((uint32_t)k));
    for (int i = 0; i < k; i++) {
        if (i) *off += (size_t)snprintf(buf + *off, cap - *off, ",");
        gen_policy(buf, cap, off, depth + 1, principals);
    }
    *off += (size_t)snprintf(buf + *off, cap - *off, ")");
}

static void test_against_brute_force(void) {
    static const char *orgs[] = {"A", "B", "C"};
    int agree = 0, sat = 0;
    for (int iter = 0; iter < 1500; iter++) {
        char buf[1024];
        size_t off = 0;
        int principals = 0;
        gen_policy(buf, sizeof buf, &off, 0, &principals);
        policy_t p;
        err_t e;
        if (policy_parse(buf, &p, NULL, &e) != 0) {
            fprintf(stdout, "#   generated bad policy %s: %s\n", buf, e.message);
            CHECK(0);
            continue;
        }
        size_t ns = rnd(5);
        policy_sig_t sigs[5];
        for (size_t i = 0; i < ns; i++)
            sigs[i] = sig(orgs[rnd(3)], rnd(2) ? A : M, (uint8_t)(i + 1));
        int got = -1;
        CHECK_EQ_INT(policy_evaluate(&p, sigs, ns, &got, &e), 0);
        int want = bf(&p, sigs, ns);
        if (got != want)
            fprintf(stdout, "#   %s with %zu sigs: got %d want %d\n", buf, ns, got, want);
        CHECK_EQ_INT(got, want);
        agree += got == want;
        sat += want;
        policy_free(&p);
    }
    fprintf(stdout, "#   %d random cases agree with brute force (%d satisfiable)\n", agree, sat);
}

/* A policy that cannot be satisfied but offers many subsets stays bounded. */
static void test_search_bounded(void) {
    char buf[POLICY_MAX_LEN];
    size_t off = (size_t)snprintf(buf, sizeof buf, "OutOf(20");
    for (int i = 0; i < 40; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, ",'A.member'");
    snprintf(buf + off, sizeof buf - off, ")");
    policy_sig_t sigs[19];
    for (int i = 0; i < 19; i++)
        sigs[i] = sig("A", M, (uint8_t)(i + 1));
    err_t e;
    CHECK_EQ_INT(eval(buf, sigs, 19, &e), 0); /* pruned by counting, no enumeration */
    policy_sig_t more[20];
    for (int i = 0; i < 20; i++)
        more[i] = sig("A", M, (uint8_t)(i + 1));
    CHECK_EQ_INT(eval(buf, more, 20, &e), 1);
    /* adversarial: 16 of 32 identical ANDs, one A signature short: C(32,16) subsets all fail
     * late; the search gives up with an error after POLICY_MAX_STEPS instead of spinning */
    off = (size_t)snprintf(buf, sizeof buf, "OutOf(16");
    for (int i = 0; i < 32; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, ",AND('A.member','B.member')");
    snprintf(buf + off, sizeof buf - off, ")");
    policy_sig_t adv[32];
    for (int i = 0; i < 32; i++)
        adv[i] = sig(i < 15 ? "A" : "B", M, (uint8_t)(i + 1));
    err_clear(&e);
    CHECK_EQ_INT(eval(buf, adv, 32, &e), -1);
    CHECK_STR(e.code, "policy_too_complex");
}

int main(void) {
    RUN(test_parse_ok);
    RUN(test_parse_errors);
    RUN(test_limits);
    RUN(test_table);
    RUN(test_bad_signatures);
    RUN(test_against_brute_force);
    RUN(test_search_bounded);
    TEST_DONE();
}
