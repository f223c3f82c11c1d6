/* runner: the ledger's background block cutter and committer, one thread per process where the
 * ledger service runs (started by the service's start hook in `reciprocal serve`). Several
 * processes may run it at once: the JetStream fencing in orderer.c keeps one chain (a losing
 * cutter's envelopes are redelivered), and commits are serialised by the ledger.head row lock.
 * With a runner active, submit/commit_status only wait for commits (no pumping); without one
 * they pump the orderer themselves. Owns the thread and its stop flag. */
#ifndef SERVICES_LEDGER_RUNNER_H
#define SERVICES_LEDGER_RUNNER_H

#include "core/bus.h"
#include "core/db.h"
#include "core/err.h"

/* Longest the runner waits for an envelope when nothing is submitted (one JetStream pull
 * request the server holds, no polling), and so also how soon it sees blocks another process
 * cut but did not commit (one stream-info request per pass). An idle runner makes one pass per
 * period: 2 NATS requests a second instead of ~100 (docs/ledger.md "Idle CPU"). */
#define LEDGER_RUNNER_IDLE_MS 1000

/* Starts the thread (409 "conflict" when one already runs in this process). The pool and the
 * bus must outlive ledger_runner_stop(). */
int ledger_runner_start(db_pool_t *db, bus_t *b, err_t *e);
/* Stops and joins the thread (at most LEDGER_RUNNER_IDLE_MS or one cut period, plus one
 * commit); safe when not running. */
void ledger_runner_stop(void);
/* 1 while a runner thread is active in this process. */
int ledger_runner_active(void);
/* Passes the runner made since the process started (one fetch + one stream info each). */
unsigned long ledger_runner_passes(void);

#endif
