/* recount: see recount.h. */
#include "services/governance/recount.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "lib/ledger/txcodec.h"

/* the export formats' names (docs/ledger.md "Streaming export and verify") */
#define EXPORT_V2 "reciprocal-ledger-export/v2"

typedef struct vote_rec {
    json_t *payload;
    int64_t cast_at_ms;
    size_t pos; /* transaction position in the log */
} vote_rec_t;

typedef struct collect {
    const char *proposal;
    gov_recount_t *r;
    vote_rec_t *votes;
    size_t n, cap;
    size_t pos;
} collect_t;

/* The transaction inside an envelope: u8 1 | varint length | tx | endorsements (engine.h). The
 * verifier has checked the whole envelope already; this only finds the transaction's bytes. */
static int envelope_tx(const uint8_t *b, size_t n, const uint8_t **tx, size_t *len) {
    if (n < 2 || b[0] != 1) return -1;
    uint64_t v = 0;
    for (size_t off = 1, shift = 0; off < n && shift < 64; shift += 7) {
        uint8_t c = b[off++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            if (v == 0 || v > n - off) return -1;
            *tx = b + off;
            *len = (size_t)v;
            return 0;
        }
    }
    return -1;
}

static int take_once(json_t **slot, json_t *payload, const char *type, const char *proposal,
                     err_t *e) {
    if (*slot)
        return err_set(e, 422, "duplicate_record", type,
                       "the export holds two valid %s records for proposal %s", type, proposal);
    *slot = json_incref(payload);
    return 0;
}

static int add_vote(collect_t *c, json_t *payload, err_t *e) {
    if (c->r->result) {
        c->r->after_result++;
        return 0;
    }
    json_t *at = json_object_get(payload, "cast_at_ms");
    if (!json_is_integer(at) || !json_is_string(json_object_get(payload, "voter")) ||
        !json_is_string(json_object_get(payload, "choice")))
        return err_set(e, 422, "invalid_record", "governance.vote_cast",
                       "a vote record (log position %zu) lacks voter, choice or cast_at_ms",
                       c->pos);
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        vote_rec_t *v = realloc(c->votes, cap * sizeof *v);
        if (!v) return err_set(e, 500, "internal", "", "out of memory");
        c->votes = v;
        c->cap = cap;
    }
    c->votes[c->n++] = (vote_rec_t){json_incref(payload), json_integer_value(at), c->pos};
    return 0;
}

/* one governance record of any proposal: keeps those of c->proposal */
static int on_record(collect_t *c, const txcodec_tx_t *tx, err_t *e) {
    json_t *p =
        json_loadb((const char *)tx->payload, tx->payload_len, JSON_REJECT_DUPLICATES, NULL);
    const char *id = json_string_value(json_object_get(p, "proposal"));
    int rc = 0;
    if (!id || strcmp(id, c->proposal) != 0) {
        json_decref(p);
        return 0;
    }
    if (strcmp(tx->type, "governance.proposal") == 0)
        rc = take_once(&c->r->proposal, p, tx->type, id, e);
    else if (strcmp(tx->type, "governance.eligible_snapshot") == 0)
        rc = take_once(&c->r->snapshot, p, tx->type, id, e);
    else if (strcmp(tx->type, "governance.result") == 0)
        rc = take_once(&c->r->result, p, tx->type, id, e);
    else if (strcmp(tx->type, "governance.vote_cast") == 0)
        rc = add_vote(c, p, e);
    json_decref(p);
    return rc;
}

/* the VALID transactions of one block object */
static int on_block(collect_t *c, json_t *block, err_t *e) {
    json_t *txs = json_object_get(block, "txs");
    if (!json_is_array(txs)) return err_set(e, 422, "invalid_export", "txs", "a block without txs");
    for (size_t i = 0; i < json_array_size(txs); i++, c->pos++) {
        json_t *t = json_array_get(txs, i);
        const char *b64 = json_string_value(json_object_get(t, "envelope"));
        const char *code = json_string_value(json_object_get(t, "validation_code"));
        if (!b64 || !code || strcmp(code, "VALID") != 0) continue;
        size_t blen = strlen(b64), len = 0, tl = 0;
        uint8_t *bin = malloc(blen + 1);
        const uint8_t *txb = NULL;
        txcodec_tx_t tx;
        int rc = 0;
        if (!bin) return err_set(e, 500, "internal", "", "out of memory");
        if (sodium_base642bin(bin, blen + 1, b64, blen, NULL, &len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            envelope_tx(bin, len, &txb, &tl) != 0 || txcodec_decode(txb, tl, &tx, NULL) != 0) {
            free(bin);
            return err_set(e, 422, "invalid_export", "envelope",
                           "transaction %zu of the log does not decode", c->pos);
        }
        if (strncmp(tx.type, "governance.", 11) == 0) rc = on_record(c, &tx, e);
        txcodec_tx_free(&tx);
        free(bin);
        if (rc != 0) return -1;
    }
    return 0;
}

/* v2: one JSON object a line after the header */
static int read_v2(FILE *f, collect_t *c, err_t *e) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    for (size_t ln = 2; rc == 0 && (len = getline(&line, &cap, f)) > 0; ln++) {
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)len, 0, &je), *b = json_object_get(o, "block");
        if (b)
            rc = on_block(c, b, e);
        else if (!json_is_string(json_object_get(o, "checkpoint")))
            rc = err_set(e, 422, "invalid_export", "line",
                         "line %zu: neither a block nor a "
                         "checkpoint",
                         ln);
        json_decref(o);
    }
    free(line);
    return rc;
}

static int read_export(FILE *f, collect_t *c, err_t *e) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, f);
    json_t *head = len > 0 ? json_loadb(line, (size_t)len, 0, NULL) : NULL;
    const char *fmt = json_string_value(json_object_get(head, "format"));
    int v2 = fmt && strcmp(fmt, EXPORT_V2) == 0, rc;
    json_decref(head);
    free(line);
    if (len <= 0) return err_set(e, 400, "invalid_export", "file", "the export is empty");
    if (v2) return read_v2(f, c, e);
    rewind(f);
    json_error_t je;
    json_t *doc = json_loadf(f, 0, &je), *blocks = json_object_get(doc, "blocks");
    rc = json_is_array(blocks) ? 0
                               : err_set(e, 422, "invalid_export", "file",
                                         "neither a v2 export nor a v1 document with blocks");
    for (size_t i = 0; rc == 0 && i < json_array_size(blocks); i++)
        rc = on_block(c, json_array_get(blocks, i), e);
    json_decref(doc);
    return rc;
}

static int vote_cmp(const void *a, const void *b) {
    const vote_rec_t *x = a, *y = b;
    int s = strcmp(json_string_value(json_object_get(x->payload, "voter")),
                   json_string_value(json_object_get(y->payload, "voter")));
    if (s) return s;
    if (x->cast_at_ms != y->cast_at_ms) return x->cast_at_ms < y->cast_at_ms ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* the last vote of each voter cast before the close, into r->votes */
static int last_votes(collect_t *c, int64_t closed_at_ms, err_t *e) {
    gov_recount_t *r = c->r;
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->votes[i].cast_at_ms < closed_at_ms)
            c->votes[n++] = c->votes[i];
        else {
            r->after_close++;
            json_decref(c->votes[i].payload);
        }
    }
    c->n = n;
    qsort(c->votes, n, sizeof *c->votes, vote_cmp);
    r->votes = json_array();
    for (size_t i = 0; r->votes && i < n; i++) {
        json_t *p = c->votes[i].payload;
        if (i + 1 < n &&
            strcmp(json_string_value(json_object_get(p, "voter")),
                   json_string_value(json_object_get(c->votes[i + 1].payload, "voter"))) == 0) {
            r->superseded++;
            continue;
        }
        json_array_append_new(r->votes,
                              json_pack("{s:O, s:O, s:O}", "voter", json_object_get(p, "voter"),
                                        "choice", json_object_get(p, "choice"), "cast_at_ms",
                                        json_object_get(p, "cast_at_ms")));
    }
    return r->votes ? 0 : err_set(e, 500, "internal", "", "out of memory");
}

static int missing(const char *type, const char *proposal, const char *why, err_t *e) {
    return err_set(e, 422, "missing_record", type,
                   "the export holds no valid %s record for "
                   "proposal %s%s",
                   type, proposal, why);
}

int gov_recount_stream(FILE *f, const char *proposal, gov_recount_t *r, err_t *e) {
    collect_t c = {.proposal = proposal, .r = r};
    memset(r, 0, sizeof *r);
    int rc = -1;
    if (read_export(f, &c, e) != 0) goto done;
    r->vote_records = c.n;
    if (!r->proposal) {
        missing("governance.proposal", proposal, "", e);
        goto done;
    }
    if (!r->snapshot) {
        missing("governance.eligible_snapshot", proposal, " (voting never opened?)", e);
        goto done;
    }
    if (!r->result) {
        missing("governance.result", proposal, " (not finalised yet?)", e);
        goto done;
    }
    json_t *closed = json_object_get(r->result, "closed_at_ms"),
           *tally = json_object_get(r->result, "tally");
    if (!json_is_integer(closed) || !json_is_object(tally)) {
        err_set(e, 422, "invalid_record", "governance.result",
                "the result record lacks closed_at_ms or tally");
        goto done;
    }
    if (last_votes(&c, json_integer_value(closed), e) != 0 ||
        gov_tally_records(r->proposal, r->snapshot, r->votes, &r->tally, e) != 0)
        goto done;
    r->recount = gov_tally_canonical(&r->tally);
    r->recorded = json_dumps(tally, JSON_COMPACT | JSON_SORT_KEYS);
    if (!r->recount || !r->recorded) {
        err_set(e, 500, "internal", "", "out of memory");
        goto done;
    }
    r->equal = strcmp(r->recount, r->recorded) == 0;
    rc = 0;
done:
    for (size_t i = 0; i < c.n; i++)
        json_decref(c.votes[i].payload);
    free(c.votes);
    return rc;
}

void gov_recount_free(gov_recount_t *r) {
    json_decref(r->proposal);
    json_decref(r->snapshot);
    json_decref(r->result);
    json_decref(r->votes);
    gov_tally_free(&r->tally);
    free(r->recount);
    free(r->recorded);
    memset(r, 0, sizeof *r);
}

/* ---- the command ------------------------------------------------------------------------------
 */

static void print_tally(const char *proposal, const gov_recount_t *r) {
    const gov_tally_t *t = &r->tally;
    printf("proposal %s (%s, rule %s, quorum %u bp)\n", proposal,
           json_string_value(json_object_get(r->proposal, "type"))
               ? json_string_value(json_object_get(r->proposal, "type"))
               : "?",
           gov_rule_kind_name(t->rule.kind), t->rule.quorum_bp);
    printf("  vote records %zu: counted %zu, superseded %zu, cast after the close %zu, after the "
           "result %zu\n",
           r->vote_records, json_array_size(r->votes), r->superseded, r->after_close,
           r->after_result);
    printf("  for %" PRId64 " (weight %" PRId64 "), against %" PRId64 " (%" PRId64
           "), abstain %" PRId64 " (%" PRId64 "); delegated %" PRId64 " (%" PRId64
           "); eligible %" PRId64 " (%" PRId64 "); not eligible %" PRId64 "\n",
           t->for_count, t->for_weight, t->against_count, t->against_weight, t->abstain_count,
           t->abstain_weight, t->delegated_count, t->delegated_weight, t->eligible_count,
           t->eligible_weight, t->ignored);
    for (size_t i = 0; i < t->n_options; i++)
        printf("  option %s: %" PRId64 " (weight %" PRId64 ")%s\n", t->options[i].id,
               t->options[i].count, t->options[i].weight, t->options[i].elected ? " elected" : "");
    printf("  quorum %s (required weight %" PRId64 ")\n", t->quorum_met ? "met" : "not met",
           t->quorum_weight);
    printf("  outcome %s (%s)\n", gov_outcome_name(t->outcome), t->reason);
}

int gov_recount_cli(const svc_env_t *env, int argc, char **argv) {
    if (argc < 3 || strcmp(argv[0], "tally") != 0) {
        fprintf(stderr, "usage: reciprocal governance tally EXPORT PROPOSAL [--log-key HEX] "
                        "[--min-size N] [--allow-unbound]\n");
        return 2;
    }
    const char *path = argv[1], *proposal = argv[2];
    const svc_module_t *ledger = svc_find_module("ledger");
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "reciprocal: governance tally: cannot open %s\n", path);
        return 2;
    }
    if (!ledger || !ledger->cli.main) {
        fprintf(stderr, "reciprocal: governance tally: this binary has no ledger verifier\n");
        fclose(f);
        return 1;
    }
    /* ledger verify on the file already open: verify FD-PATH [options...] */
    char fdpath[32];
    snprintf(fdpath, sizeof fdpath, "/dev/fd/%d", fileno(f));
    char **vargv = calloc((size_t)argc, sizeof *vargv);
    int rc = 1;
    if (!vargv) goto done;
    vargv[0] = "verify";
    vargv[1] = fdpath;
    for (int i = 3; i < argc; i++)
        vargv[i - 1] = argv[i];
    rc = ledger->cli.main(env, argc - 1, vargv);
    free(vargv);
    if (rc != 0) {
        fprintf(stderr, "reciprocal: governance tally: the export does not verify; nothing "
                        "recounted\n");
        goto done;
    }
    gov_recount_t r;
    err_t e = {0};
    if (gov_recount_stream(f, proposal, &r, &e) != 0) {
        fprintf(stderr, "reciprocal: governance tally: %s (%s)\n", e.message, e.field);
        rc = e.status == 400 ? 2 : 1;
    } else {
        print_tally(proposal, &r);
        if (r.equal) {
            printf("recount equals the recorded result: %s\n", r.recount);
            rc = 0;
        } else {
            fprintf(stderr,
                    "reciprocal: governance tally: MISMATCH: the recorded result of proposal %s "
                    "differs from the recount of its ledger records\n  recorded: %s\n  "
                    "recount:  %s\n",
                    proposal, r.recorded, r.recount);
            rc = 1;
        }
    }
    gov_recount_free(&r);
done:
    fclose(f);
    return rc;
}
