/* orderer: ordering on NATS JetStream and the path from stream to PostgreSQL.
 * - Submitted envelopes go to stream LEDGER_TX (subject ledger.tx, Nats-Msg-Id = tx id hex).
 * - The block cutter pulls up to N envelopes (durable consumer "ledger-cutter", waits up to
 *   T ms), encodes the ordered block and publishes it to LEDGER_BLOCKS (subject ledger.blocks)
 *   with Nats-Expected-Last-Sequence = the stream's last sequence and Nats-Msg-Id =
 *   "blk-<number>-<digest>": a second cutter racing for the same number is fenced (409) and its
 *   envelopes are nak'ed, so they go into a later block; the chain never forks.
 * - Envelopes whose tx id is already ordered are acked and dropped by the cutter, not ordered
 *   again: committed (a consumer re-delivering an acked message), in a block of LEDGER_BLOCKS not
 *   yet committed (pending.h: e.g. a block publish whose acknowledgement timed out though the
 *   block was stored, its batch nak'ed and redelivered), or earlier in the same batch. The
 *   check covers the chain up to the sequence the block is published fenced on, so a tx id is
 *   ordered once, across processes and restarts. When PostgreSQL or the stream cannot answer,
 *   nothing is ordered (the batch is nak'ed).
 * - The committer reads LEDGER_BLOCKS by sequence (head.js_seq + 1, no consumer state) and
 *   commits each block in PostgreSQL in order (store.c). A transaction is final only then.
 * Owns a small process-wide cache (last block number per stream sequence) and the pump mutex. */
#ifndef SERVICES_LEDGER_ORDERER_H
#define SERVICES_LEDGER_ORDERER_H

#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/db.h"
#include "core/err.h"

#define LEDGER_TX_STREAM "LEDGER_TX"
#define LEDGER_TX_SUBJECT "ledger.tx"
#define LEDGER_BLOCK_STREAM "LEDGER_BLOCKS"
#define LEDGER_BLOCK_SUBJECT "ledger.blocks"
#define LEDGER_CUTTER_DURABLE "ledger-cutter"

/* Block size and time: ledger_block_max_txs(), ledger_block_ms() in settings.h. */
#include "services/ledger/settings.h"

int ledger_streams_ensure(bus_t *b, err_t *e);
/* Creates the two streams with `replicas` (3 on a JetStream cluster); ledger_streams_ensure
 * afterwards keeps that count. */
int ledger_streams_ensure_replicas(bus_t *b, int replicas, err_t *e);
int ledger_publish_envelope(bus_t *b, const uint8_t *env, size_t len, const uint8_t tx_id[32],
                            int *duplicate, err_t *e);
/* One cut: *n_txs = envelopes ordered into a new block (0 = nothing waiting). 409 "fenced"
 * when another cutter won the race (the envelopes are redelivered). */
int ledger_cut_once(bus_t *b, db_pool_t *db, int max_txs, int wait_ms, size_t *n_txs, err_t *e);
/* The same for the background runner: first waits up to idle_ms for an envelope without
 * polling (a JetStream pull request the server holds), then fills the block for up to wait_ms.
 * With nothing submitted it returns after idle_ms with *n_txs = 0. */
int ledger_cut_idle(bus_t *b, db_pool_t *db, int max_txs, int wait_ms, int idle_ms, size_t *n_txs,
                    err_t *e);
/* Refreshes the gauges of the cutter's durable consumer (ledger_cutter_ack_floor, _delivered,
 * _pending, _ack_pending, _redelivered); the runner calls it every few seconds. Envelopes
 * dropped because their tx id was already committed: ledger_cutter_dropped_committed_total. */
int ledger_cutter_metrics(bus_t *b, err_t *e);
/* Commits every block ordered but not yet in PostgreSQL; *n_blocks = how many. */
int ledger_commit_pending(db_pool_t *db, bus_t *b, int *n_blocks, err_t *e);
/* cut once + commit pending, one pump at a time per process. */
int ledger_pump(db_pool_t *db, bus_t *b, err_t *e);
/* commit pending under the same per-process pump lock (the background runner). */
int ledger_pump_commit(db_pool_t *db, bus_t *b, int *n_blocks, err_t *e);

/* Commit notification within the process: a counter bumped after every block committed here.
 * ledger_wait_commit waits until the counter differs from `seen` or ms elapse; returns the
 * counter. */
uint64_t ledger_commit_gen(void);
uint64_t ledger_wait_commit(uint64_t seen, int ms);

#endif
