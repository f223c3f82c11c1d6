/* pending: see pending.h. */
#include "services/ledger/pending.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "services/ledger/engine.h"
#include "services/ledger/orderer.h"

typedef struct pend_block {
    uint64_t seq;
    size_t n;
    uint8_t (*ids)[32];
} pend_block_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pend_block_t *blocks; /* by increasing seq */
static size_t n_blocks, cap_blocks;

static int held(uint64_t seq) {
    for (size_t i = 0; i < n_blocks; i++)
        if (blocks[i].seq == seq) return 1;
    return 0;
}

/* Takes ids (also on failure); a block already held is kept as it is. */
static int add_block(uint64_t seq, uint8_t (*ids)[32], size_t n) {
    if (held(seq)) {
        free(ids);
        return 0;
    }
    if (n_blocks == cap_blocks) {
        size_t cap = cap_blocks ? cap_blocks * 2 : 16;
        pend_block_t *nb = realloc(blocks, cap * sizeof *nb);
        if (!nb) {
            free(ids);
            return -1;
        }
        blocks = nb;
        cap_blocks = cap;
    }
    size_t at = n_blocks;
    while (at > 0 && blocks[at - 1].seq > seq)
        at--;
    memmove(&blocks[at + 1], &blocks[at], (n_blocks - at) * sizeof *blocks);
    blocks[at] = (pend_block_t){seq, n, ids};
    n_blocks++;
    return 0;
}

/* Drops the blocks committed in PostgreSQL (at or below head_seq). */
static void prune(uint64_t head_seq) {
    size_t k = 0;
    for (size_t i = 0; i < n_blocks; i++) {
        if (blocks[i].seq <= head_seq)
            free(blocks[i].ids);
        else
            blocks[k++] = blocks[i];
    }
    n_blocks = k;
}

void ledger_pending_put(uint64_t seq, const uint8_t (*ids)[32], size_t n) {
    uint8_t(*copy)[32] = malloc((n ? n : 1) * sizeof *copy);
    if (!copy) return; /* not cached: read back from the stream when needed */
    if (n) memcpy(copy, ids, n * sizeof *copy);
    pthread_mutex_lock(&mu);
    add_block(seq, copy, n);
    pthread_mutex_unlock(&mu);
}

/* Reads the block at seq from LEDGER_BLOCKS and caches the ids validation will take. */
static int load_block(bus_t *b, uint64_t seq, err_t *e) {
    char *data = NULL;
    size_t len = 0;
    int found = 0;
    if (bus_js_get_msg(b, LEDGER_BLOCK_STREAM, seq, &found, &data, &len, e) != 0) return -1;
    if (!found)
        return err_set(e, 503, "unavailable", "", "no block at %s sequence %llu",
                       LEDGER_BLOCK_STREAM, (unsigned long long)seq);
    ledger_block_msg_t m;
    if (ledger_block_msg_decode((const uint8_t *)data, len, &m, e) != 0) {
        free(data);
        return -1;
    }
    uint8_t(*ids)[32] = malloc(m.n * sizeof *ids);
    size_t k = 0;
    for (size_t i = 0; ids && i < m.n; i++)
        k += (size_t)ledger_envelope_tx_id(m.env[i], m.env_len[i], ids[k]);
    ledger_block_msg_free(&m);
    free(data);
    if (!ids || add_block(seq, ids, k) != 0)
        return err_set(e, 500, "internal", "", "out of memory");
    return 0;
}

static int cmp_id(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

int ledger_pending_find(bus_t *b, uint64_t head_seq, uint64_t last_seq, const uint8_t (*ids)[32],
                        size_t n, int *in, err_t *e) {
    memset(in, 0, n * sizeof *in);
    pthread_mutex_lock(&mu);
    prune(head_seq);
    int rc = 0;
    for (uint64_t s = head_seq + 1; rc == 0 && s <= last_seq; s++)
        if (!held(s)) rc = load_block(b, s, e);
    size_t total = 0;
    for (size_t i = 0; rc == 0 && i < n_blocks; i++)
        total += blocks[i].n;
    if (rc == 0 && total > 0 && n > 0) {
        /* every block held above the head: those up to last_seq, and any this process published
         * since (ordered too) */
        uint8_t(*all)[32] = malloc(total * sizeof *all);
        if (!all) {
            rc = err_set(e, 500, "internal", "", "out of memory");
        } else {
            size_t k = 0;
            for (size_t i = 0; i < n_blocks; i++) {
                memcpy(all[k], blocks[i].ids, blocks[i].n * sizeof *all);
                k += blocks[i].n;
            }
            qsort(all, total, sizeof *all, cmp_id);
            for (size_t i = 0; i < n; i++)
                in[i] = bsearch(ids[i], all, total, sizeof *all, cmp_id) != NULL;
            free(all);
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}
