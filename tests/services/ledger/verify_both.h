/* verify_both.h (tests of the offline verifier): every verification of a whole-document export
 * (reciprocal-ledger-export/v1) also runs on the same chain written as the streamed v2 format
 * (export.h, ledger_export_write_doc) and read back one line at a time by ledger_verify_stream:
 * both must give the same answer, the same message and the same report. So every tamper,
 * rewrite, rollback and witness test covers the format `reciprocal ledger export` writes.
 * Included after services/ledger/verify.h; replaces ledger_verify_export(_opts) by macros. */
#ifndef TESTS_LEDGER_VERIFY_BOTH_H
#define TESTS_LEDGER_VERIFY_BOTH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/ledger/export.h"
#include "services/ledger/verify.h"
#include "test.h"

/* The v2 lines of a v1 document, verified as a stream (rc; *e and *rep filled). */
static int vb_stream(json_t *ex, const ledger_verify_opts_t *o, ledger_verify_report_t *rep,
                     err_t *e) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return -1;
    err_t we = {0};
    int wrc = ledger_export_write_doc(f, ex, &we);
    fclose(f);
    FILE *in = wrc == 0 ? fmemopen(buf, len, "r") : NULL;
    int rc = in ? ledger_verify_stream(in, o, rep, e) : -1;
    if (in) fclose(in);
    free(buf);
    return rc;
}

static int vb_verify_opts(json_t *ex, const ledger_verify_opts_t *o, ledger_verify_report_t *rep,
                          err_t *e) {
    int rc = ledger_verify_export_opts(ex, o, rep, e);
    ledger_verify_report_t r2;
    err_t e2 = {0};
    int rc2 = vb_stream(ex, o, &r2, &e2);
    if (rc2 != rc || strcmp(e2.message, rc ? e->message : "") != 0)
        printf("#   v1 (document): %d %s\n#   v2 (stream):   %d %s\n", rc, rc ? e->message : "",
               rc2, e2.message);
    CHECK_EQ_INT(rc2, rc);
    CHECK_STR(e2.message, rc ? e->message : "");
    if (rc == 0 && rc2 == 0) CHECK(memcmp(rep, &r2, sizeof r2) == 0);
    return rc;
}

static int vb_verify(json_t *ex, const char *key, ledger_verify_report_t *rep, err_t *e) {
    ledger_verify_opts_t o = {.log_key_hex = key};
    return vb_verify_opts(ex, &o, rep, e);
}

#define ledger_verify_export(ex, key, rep, e) vb_verify(ex, key, rep, e)
#define ledger_verify_export_opts(ex, o, rep, e) vb_verify_opts(ex, o, rep, e)

#endif
