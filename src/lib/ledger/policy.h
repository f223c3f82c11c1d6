/* policy: Fabric endorsement policies: parse the policy language and decide whether a set of
 * endorsement signatures satisfies a policy, with EXACT matching.
 * Owns the parsed tree (policy_t, released with policy_free).
 *
 * Grammar (whitespace between tokens is ignored; function names as in Fabric's policydsl):
 *   policy    := expr
 *   expr      := ("AND" | "and" | "OR" | "or") "(" expr ("," expr)* ")"
 *              | ("OutOf" | "outof") "(" N "," expr ("," expr)* ")"     1 <= N <= #exprs
 *              | "'" org "." role "'"        org = [A-Za-z0-9.-]+, role = member | admin
 * The role is after the LAST dot, so org names may contain dots (as MSP ids may).
 *
 * Evaluation: an admin signature satisfies 'Org.admin' and 'Org.member' (admins are members), a
 * member signature only 'Org.member'. Each signature may satisfy at most one principal, and the
 * search for an assignment is complete (backtracking over children subsets and signatures),
 * unlike Fabric's greedy first-fit: AND('A.member','A.admin') is satisfied by [A.admin,
 * A.member] in either order. Signers are de-duplicated by public key before matching; the
 * caller filters out revoked keys and checks the signatures themselves. */
#ifndef LEDGER_POLICY_H
#define LEDGER_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define POLICY_MAX_LEN 4096      /* bytes of policy text */
#define POLICY_MAX_DEPTH 16      /* nesting of AND/OR/OutOf */
#define POLICY_MAX_NODES 256     /* functions + principals */
#define POLICY_MAX_CHILDREN 64   /* arguments of one function */
#define POLICY_MAX_ORG 64        /* bytes of an organisation name */
#define POLICY_MAX_SIGS 64       /* signatures given to one evaluation */
#define POLICY_MAX_STEPS 1000000 /* search budget of one evaluation */

typedef enum policy_role { POLICY_ROLE_MEMBER = 1, POLICY_ROLE_ADMIN = 2 } policy_role_t;
typedef enum policy_op { POLICY_PRINCIPAL, POLICY_AND, POLICY_OR, POLICY_OUTOF } policy_op_t;

typedef struct policy_node {
    policy_op_t op;
    unsigned threshold; /* children needed: AND = all, OR = 1, OutOf = N; principal: 1 */
    size_t n_children;
    struct policy_node **children;
    char org[POLICY_MAX_ORG + 1]; /* principal only */
    policy_role_t role;           /* principal only */
    unsigned min_sigs;            /* fewest signatures that can satisfy this node */
    size_t pos;                   /* byte offset in the policy text */
} policy_node_t;

typedef struct policy {
    policy_node_t *root;
    size_t n_nodes;
} policy_t;

typedef struct policy_sig {
    char org[POLICY_MAX_ORG + 1];
    policy_role_t role;
    uint8_t pk[32]; /* signer identity, used for de-duplication */
} policy_sig_t;

/* Parses text into *out. On error returns -1 with e (400 "invalid_policy", field "policy") and
 * *err_pos (may be NULL) set to the byte offset of the fault. */
int policy_parse(const char *text, policy_t *out, size_t *err_pos, err_t *e);
void policy_free(policy_t *p);

/* Canonical text of the tree ("AND('A.member', OutOf(1, 'B.admin', 'C.member'))"). */
int policy_format(const policy_t *p, char *buf, size_t cap, err_t *e);

/* *satisfied = 1 if the signatures satisfy the policy, else 0. Returns -1 only on bad input
 * (too many signatures, the same key claiming two identities) or an exhausted search budget. */
int policy_evaluate(const policy_t *p, const policy_sig_t *sigs, size_t n_sigs, int *satisfied,
                    err_t *e);

#endif
