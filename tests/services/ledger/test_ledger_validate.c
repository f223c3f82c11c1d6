/* test_ledger_validate: the input validators of every ledger operation (validate.h), table
 * driven: for each operation a valid input passes, and each missing, mistyped, malformed or
 * out-of-range field fails with the status of the rule (400 missing/malformed, 422 well-formed
 * but invalid) and names the field. No servers. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "services/ledger/validate.h"
#include "test.h"

#define HEX "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* base64 of 64 zero bytes */
#define SIG                                                                                        \
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="

typedef int (*vfn)(json_t *, err_t *);
typedef struct vcase {
    const char *op;
    vfn fn;
    const char *input; /* JSON */
    int status;        /* 0 = passes */
    const char *field; /* the field the error names */
} vcase_t;

static const vcase_t cases[] = {
    {"bootstrap", ledger_v_none, "{}", 0, ""},
    {"bootstrap", ledger_v_none, "[]", 400, ""},
    {"register_org", ledger_v_register_org, "{\"org\":\"club-a.1\",\"name\":\"A\"}", 0, ""},
    {"register_org", ledger_v_register_org, "{\"name\":\"A\"}", 400, "org"},
    {"register_org", ledger_v_register_org, "{\"org\":7}", 400, "org"},
    {"register_org", ledger_v_register_org, "{\"org\":\"a b\"}", 422, "org"},
    {"register_org", ledger_v_register_org, "{\"org\":\"network\"}", 422, "org"},
    {"register_org", ledger_v_register_org, "{\"org\":\"" HEX HEX "\"}", 422, "org"},
    {"register_org", ledger_v_register_org, "{\"org\":\"a\",\"club_id\":\"x\"}", 422, "club_id"},
    {"register_org", ledger_v_register_org, "{\"org\":\"a\",\"wait_ms\":-1}", 422, "wait_ms"},
    {"register_org", ledger_v_register_org, "{\"org\":\"a\",\"wait_ms\":30001}", 422, "wait_ms"},
    {"register_org", ledger_v_register_org, "{\"org\":\"a\",\"public_keys\":{\"member\":\"ab\"}}",
     422, "public_keys"},
    {"register_org", ledger_v_register_org,
     "{\"org\":\"a\",\"public_keys\":{\"member\":\"" HEX "\",\"admin\":\"" HEX "\"}}", 422,
     "public_keys"},
    {"revoke_key", ledger_v_revoke, "{\"public_key\":\"" HEX "\",\"reason\":\"lost\"}", 0, ""},
    {"revoke_key", ledger_v_revoke, "{}", 400, "public_key"},
    {"revoke_key", ledger_v_revoke, "{\"public_key\":\"zz\"}", 422, "public_key"},
    {"revoke_key", ledger_v_revoke, "{\"public_key\":\"" HEX "\",\"reason\":5}", 400, "reason"},
    {"config", ledger_v_none, "{}", 0, ""},
    {"endorse", ledger_v_endorse,
     "{\"type\":\"data.put\",\"creator\":\"a\",\"writes\":[{\"key\":\"k\",\"value\":\"v\"},"
     "{\"key\":\"d\",\"delete\":true}],\"reads\":[{\"key\":\"k\",\"version\":0}],"
     "\"sign_as\":[\"a\",{\"org\":\"b\",\"role\":\"admin\"}],\"payload\":{\"x\":1}}",
     0, ""},
    {"endorse", ledger_v_endorse, "{\"creator\":\"a\"}", 400, "type"},
    {"endorse", ledger_v_endorse, "{\"type\":\"t\"}", 400, "creator"},
    {"endorse", ledger_v_endorse, "{\"type\":\"t\",\"creator\":\"a\",\"nonce\":\"short\"}", 422,
     "nonce"},
    {"endorse", ledger_v_endorse, "{\"type\":\"t\",\"creator\":\"a\",\"writes\":{}}", 400,
     "writes"},
    {"endorse", ledger_v_endorse, "{\"type\":\"t\",\"creator\":\"a\",\"writes\":[{\"key\":\"k\"}]}",
     400, "writes"},
    {"endorse", ledger_v_endorse, "{\"type\":\"t\",\"creator\":\"a\",\"reads\":[{\"key\":\"k\"}]}",
     400, "reads"},
    {"endorse", ledger_v_endorse, "{\"type\":\"t\",\"creator\":\"a\",\"sign_as\":\"a\"}", 400,
     "sign_as"},
    {"endorse", ledger_v_endorse, "{\"type\":\"t\",\"creator\":\"a\",\"sign_as\":[5]}", 400,
     "sign_as"},
    {"endorse", ledger_v_endorse,
     "{\"type\":\"t\",\"creator\":\"a\",\"sign_as\":[{\"org\":\"a\",\"role\":\"peer\"}]}", 422,
     "sign_as"},
    {"submit", ledger_v_submit,
     "{\"tx\":\"AQID\",\"endorsements\":[{\"public_key\":\"" HEX "\",\"signature\":\"" SIG
     "\"}],\"wait_ms\":0}",
     0, ""},
    {"submit", ledger_v_submit, "{\"endorsements\":[]}", 400, "tx"},
    {"submit", ledger_v_submit, "{\"tx\":\"not base64!\",\"endorsements\":[]}", 422, "tx"},
    {"submit", ledger_v_submit, "{\"tx\":\"AQID\"}", 400, "endorsements"},
    {"submit", ledger_v_submit, "{\"tx\":\"AQID\",\"endorsements\":[]}", 422, "endorsements"},
    {"submit", ledger_v_submit,
     "{\"tx\":\"AQID\",\"endorsements\":[{\"public_key\":\"" HEX "\",\"signature\":\"AQID\"}]}",
     422, "endorsements"},
    {"commit_status", ledger_v_status, "{\"tx_id\":\"" HEX "\",\"wait_ms\":\"100\"}", 0, ""},
    {"commit_status", ledger_v_status, "{\"tx_id\":\"" HEX "\",\"wait_ms\":\"1e3\"}", 400,
     "wait_ms"},
    {"commit_status", ledger_v_status, "{\"tx_id\":\"nothex\"}", 422, "tx_id"},
    {"transaction", ledger_v_get_tx, "{\"tx_id\":\"" HEX "\"}", 0, ""},
    {"transaction", ledger_v_get_tx, "{}", 400, "tx_id"},
    {"block", ledger_v_get_block, "{\"number\":\"12\"}", 0, ""},
    {"block", ledger_v_get_block, "{\"number\":\"-1\"}", 400, "number"},
    {"block", ledger_v_get_block, "{\"number\":\"x\"}", 400, "number"},
    {"checkpoint", ledger_v_none, "{}", 0, ""},
    {"proof_consistency", ledger_v_consistency, "{\"first\":\"1\",\"second\":\"2\"}", 0, ""},
    {"proof_consistency", ledger_v_consistency, "{\"second\":\"2\"}", 400, "first"},
    {"proof_consistency", ledger_v_consistency, "{\"first\":\"0\",\"second\":\"2\"}", 422, "first"},
    {"proof_consistency", ledger_v_consistency, "{\"first\":\"3\",\"second\":\"2\"}", 422, "first"},
    {"proof_inclusion", ledger_v_inclusion, "{\"index\":\"0\",\"size\":\"1\"}", 0, ""},
    {"proof_inclusion", ledger_v_inclusion, "{\"index\":\"1\",\"size\":\"1\"}", 422, "index"},
    {"proof_inclusion", ledger_v_inclusion, "{\"index\":\"0\"}", 400, "size"},
    {"evaluate", ledger_v_evaluate, "{\"key\":\"visit/a\"}", 0, ""},
    {"evaluate", ledger_v_evaluate, "{\"key\":\"\"}", 422, "key"},
    {"evaluate", ledger_v_evaluate, "{}", 400, "key"},
    {"cosign", ledger_v_cosign, "{\"org\":\"a\"}", 0, ""},
    {"cosign", ledger_v_cosign, "{\"org\":\"a\",\"note\":7}", 400, "note"},
    {"cosign", ledger_v_cosign, "{\"org\":\"a/b\"}", 422, "org"},
    {"export", ledger_v_none, "{}", 0, ""},
    {"events", ledger_v_events, "{\"from_block\":\"3\",\"limit\":\"100\",\"wait_ms\":\"0\"}", 0,
     ""},
    {"events", ledger_v_events, "{\"limit\":\"0\"}", 422, "limit"},
    {"events", ledger_v_events, "{\"limit\":\"101\"}", 422, "limit"},
    {"events", ledger_v_events, "{\"from_position\":\"99999\"}", 422, "from_position"},
    {"events", ledger_v_events, "{\"from_block\":true}", 400, "from_block"},
};

static void test_validators(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const vcase_t *c = &cases[i];
        json_error_t je;
        json_t *in = json_loads(c->input, JSON_DECODE_ANY, &je);
        if (!in) printf("#   case %zu: bad JSON: %s\n", i, je.text);
        REQUIRE(in != NULL);
        err_t e = {0};
        int rc = c->fn(in, &e);
        int ok = c->status == 0 ? rc == 0 : rc != 0 && e.status == c->status;
        if (ok && c->status) ok = strcmp(e.field, c->field) == 0 && e.message[0];
        if (!ok)
            printf("#   %s %s: want %d (%s), got rc %d status %d field '%s': %s\n", c->op, c->input,
                   c->status, c->field, rc, e.status, e.field, e.message);
        CHECK(ok);
        json_decref(in);
    }
}

int main(void) {
    if (sodium_init() < 0) return 1;
    RUN(test_validators);
    TEST_DONE();
}
