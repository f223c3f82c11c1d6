/* pending: the tx ids of the blocks ordered in LEDGER_BLOCKS but not yet committed in
 * PostgreSQL (stream sequences above ledger.head.js_seq), for the block cutter's duplicate check
 * (orderer.c). With ledger.txs they are the whole chain up to the stream's last sequence, so a
 * cutter that checks a batch against both and publishes fenced on that sequence never orders a
 * tx id twice: not after a block publish whose acknowledgement timed out (the block stored, its
 * envelopes nak'ed and redelivered), not when another process or a restarted cutter ordered
 * the block.
 * A process-wide cache by stream sequence, under one mutex: the cutter records each block it
 * publishes (ledger_pending_put); blocks it does not hold (published by another process or
 * before a restart) are read from the stream once and decoded; entries at or below the committed
 * head's sequence are dropped. Owns the cached id arrays. */
#ifndef SERVICES_LEDGER_PENDING_H
#define SERVICES_LEDGER_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/err.h"

/* Records the tx ids (copied) of the block this process published at stream sequence seq. */
void ledger_pending_put(uint64_t seq, const uint8_t (*ids)[32], size_t n);
/* For each of the n ids: in[i] = 1 when a block of LEDGER_BLOCKS at a sequence in (head_seq,
 * last_seq] (or a later one this process published) orders it (validation's id:
 * ledger_envelope_tx_id), else 0. Reads the blocks the cache does not hold. -1 + e when one
 * cannot be read (the cutter then orders nothing). */
int ledger_pending_find(bus_t *b, uint64_t head_seq, uint64_t last_seq, const uint8_t (*ids)[32],
                        size_t n, int *in, err_t *e);

#endif
