/* consumer: see consumer.h. The module kit's event consumer runner.
 * Owns: per svc_consumers_start, an array of runs (one thread each) freed by
 * svc_consumers_stop. Each run keeps the ids of its last failed events (a small ring) so that a
 * later success removes their retry row from <schema>.dead_letter. */
#include "core/consumer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/outbox.h"

#define CONSUMER_FETCH_MIN 64 /* messages per fetch at least (batch or not) */
#define CONSUMER_FETCH_WAIT_MS 1000
#define CONSUMER_BACKOFF_MIN_MS 100
#define CONSUMER_BACKOFF_MAX_MS 5000
#define CONSUMER_RECENT 32 /* failed ids remembered per run */

/* One consumer being applied: what on_msg needs. */
typedef struct run {
    const svc_env_t *env;
    const svc_module_t *m;
    const svc_consumer_t *c;
    char durable[64];
    int failed; /* messages nak'ed in the current fetch */
    int batch;  /* events per transaction (c->batch or SVC_CONSUMER_BATCH) */
    char recent[CONSUMER_RECENT][37];
    int recent_next;
    pthread_mutex_t mu; /* guards recent: svc_consumer_poll may run beside the thread in tests */
} run_t;

typedef struct thread_run {
    run_t run;
    pthread_t th;
    int started;
    atomic_int *stop;
} thread_run_t;

struct svc_consumers {
    thread_run_t *runs;
    size_t n;
    atomic_int stop;
};

static const db_scope_t k_relay_scope = {NULL, NULL, 0, 1};

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;
static void declare_metrics(void) {
    metrics_counter_declare("consumer_applied_total", "events applied by a consumer", "consumer");
    metrics_counter_declare("consumer_duplicates_total",
                            "events a consumer had already applied (redelivery, replay)",
                            "consumer");
    metrics_counter_declare("consumer_failures_total",
                            "failed tries of a consumer's handler (retried)", "consumer");
    metrics_counter_declare("consumer_dead_letter_total",
                            "events a consumer gave up on (<schema>.dead_letter)", "consumer");
}

static void count(const run_t *r, const char *metric) {
    const char *labels[] = {r->durable, NULL};
    metrics_counter_add(metric, labels, 1);
}

void svc_consumer_durable(const svc_module_t *m, const svc_consumer_t *c, char out[64]) {
    snprintf(out, 64, "%s_%s", m->name, c->name);
}

static int is_uuid(const char *s) {
    if (!s || strlen(s) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

static void recent_add(run_t *r, const char *id) {
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < CONSUMER_RECENT; i++)
        if (strcmp(r->recent[i], id) == 0) {
            pthread_mutex_unlock(&r->mu);
            return;
        }
    snprintf(r->recent[r->recent_next], 37, "%s", id);
    r->recent_next = (r->recent_next + 1) % CONSUMER_RECENT;
    pthread_mutex_unlock(&r->mu);
}

/* 1 when id was in the ring (and removes it). */
static int recent_take(run_t *r, const char *id) {
    int found = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < CONSUMER_RECENT && !found; i++)
        if (r->recent[i][0] && strcmp(r->recent[i], id) == 0) {
            r->recent[i][0] = '\0';
            found = 1;
        }
    pthread_mutex_unlock(&r->mu);
    return found;
}

/* ---- dead-letter bookkeeping (relay scope, own transaction) ------------------------------ */

/* Records one failed try of event id; *dead = 1 when it reached max_tries (or permanent), in
 * which case the row is marked dead and the id claimed in the inbox in the same transaction. */
static int record_failure(run_t *r, const char *id, const char *subject, const char *tenant_id,
                          const char *payload, size_t len, const err_t *why, int permanent,
                          int *dead, err_t *e) {
    char sql[768], error[480], tries_max[16], perm[2] = {permanent ? 't' : 'f', '\0'};
    db_tx_t *tx = NULL;
    int rc = -1;
    *dead = 0;
    int max = r->c->max_tries > 0 ? r->c->max_tries : SVC_CONSUMER_MAX_TRIES;
    snprintf(tries_max, sizeof tries_max, "%d", max);
    snprintf(error, sizeof error, "%d %s: %s", why->status, why->code, why->message);
    char *body = strndup(payload, len);
    if (!body) return err_set(e, 500, "internal", "", "out of memory");
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s\".dead_letter AS d (consumer, event_id, subject, tenant_id, "
             "payload, error, dead) VALUES ($1, $2::uuid, $3, NULLIF($4, '')::uuid, $5, $6, "
             "$8::boolean OR 1 >= $7::int) ON CONFLICT (consumer, event_id) DO UPDATE SET "
             "tries = d.tries + 1, error = EXCLUDED.error, last_failed_at = now(), "
             "dead = d.dead OR $8::boolean OR d.tries + 1 >= $7::int RETURNING dead",
             r->m->schema);
    const char *params[8] = {r->durable, id,    subject,   tenant_id ? tenant_id : "",
                             body,       error, tries_max, perm};
    if (db_begin(r->env->db, &k_relay_scope, &tx, e) < 0) goto done;
    PGresult *res = db_exec(tx, sql, 8, params, e);
    if (!res) goto done;
    *dead = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (*dead && inbox_claim(tx, r->m->schema, r->durable, id, e) < 0) goto done;
    rc = 0;
done:
    free(body);
    rc = db_tx_finish(&tx, rc, NULL, e);
    if (rc != 0) *dead = 0;
    return rc;
}

/* After a success: the retry row of an event that failed before is removed (best effort). */
static void clear_failure(run_t *r, const char *id) {
    char sql[256];
    db_tx_t *tx = NULL;
    err_t e = {0};
    snprintf(sql, sizeof sql,
             "DELETE FROM \"%s\".dead_letter WHERE consumer = $1 AND event_id = $2::uuid "
             "AND NOT dead",
             r->m->schema);
    const char *params[2] = {r->durable, id};
    if (db_begin(r->env->db, &k_relay_scope, &tx, &e) < 0 ||
        db_exec_cmd(tx, sql, 2, params, &e) < 0)
        log_warn("consumer %s: cannot clear the retry row of %s: %s", r->durable, id, e.message);
    db_tx_finish(&tx, 0, NULL, &e);
}

/* ---- applying one event ------------------------------------------------------------------ */

static const char *str_or(json_t *o, const char *key, const char *def) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : def;
}

/* Calls the handler of ev in tx as the service itself in the event's club. */
static int handle_one(run_t *r, db_tx_t *tx, const svc_event_t *ev, err_t *e) {
    svc_caller_t caller = {0};
    snprintf(caller.club_id, sizeof caller.club_id, "%s", ev->tenant_id ? ev->tenant_id : "");
    snprintf(caller.request_id, sizeof caller.request_id, "%s", ev->correlation_id);
    const svc_call_t call = {.env = r->env, .module = r->m, .op = NULL, .caller = &caller};
    return r->c->handle(&call, tx, ev, e);
}

/* A new accumulator for a transaction (svc_consumer_t.acc_new, or a JSON array); NULL when out
 * of memory. */
static void *acc_make(const run_t *r) {
    return r->c->acc_new ? r->c->acc_new() : (void *)json_array();
}

static void acc_drop(const run_t *r, void *acc) {
    if (!acc) return;
    if (r->c->acc_free)
        r->c->acc_free(acc);
    else
        json_decref(acc);
}

/* The consumer's flush of what the transaction's handlers accumulated (nothing without one). */
static int flush(run_t *r, db_tx_t *tx, void *acc, err_t *e) {
    if (!r->c->flush) return 0;
    svc_caller_t caller = {0};
    const svc_call_t call = {.env = r->env, .module = r->m, .op = NULL, .caller = &caller};
    return r->c->flush(&call, tx, acc, e);
}

/* Applies ev in one transaction after the inbox claim. 0 applied or duplicate (*dup), -1 + e. */
static int apply(run_t *r, svc_event_t *ev, int *dup, err_t *e) {
    db_tx_t *tx = NULL;
    int rc = -1;
    *dup = 0;
    void *acc = acc_make(r);
    const db_scope_t scope = {ev->tenant_id, NULL, 0, 1}; /* a system process: relay scope */
    if (!acc) return err_set(e, 500, "internal", "", "out of memory");
    if (db_begin(r->env->db, &scope, &tx, e) < 0) {
        acc_drop(r, acc);
        return -1;
    }
    int claimed = inbox_claim(tx, r->m->schema, r->durable, ev->id, e);
    if (claimed < 0) goto done;
    if (claimed == 0) {
        *dup = 1;
        rc = 0;
        goto done;
    }
    ev->acc = acc;
    rc = handle_one(r, tx, ev, e);
    ev->acc = NULL;
    if (rc == 0) rc = flush(r, tx, acc, e);
done:
    acc_drop(r, acc);
    return db_tx_finish(&tx, rc, NULL, e);
}

/* The event of message data (env: its parsed envelope, a new reference, NULL when unreadable).
 * 1 when it is an event envelope with a UUID id, a type and a data object. */
static int parse(const char *subject, const char *data, size_t len, json_t **env, svc_event_t *ev) {
    *env = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *md = json_object_get(*env, "metadata");
    const char *tenant = json_string_value(json_object_get(*env, "tenant_id"));
    *ev = (svc_event_t){
        .id = str_or(*env, "id", ""),
        .type = str_or(*env, "type", ""),
        .subject = subject,
        .tenant_id = is_uuid(tenant) ? tenant : NULL,
        .correlation_id = str_or(md, "correlation_id", ""),
        .data = json_object_get(*env, "data"),
        .envelope = *env,
    };
    return json_is_object(*env) && is_uuid(ev->id) && *ev->type && json_is_object(ev->data);
}

/* One message in its own transaction: 0 = ack, -1 = nak (redelivered). */
static int on_msg(const char *subject, const char *msg_id, const char *data, size_t len, void *ud) {
    run_t *r = ud;
    err_t e = {0};
    json_t *env = NULL;
    svc_event_t ev;
    int readable = parse(subject, data, len, &env, &ev);
    int rc = 0, dead = 0, dup = 0;
    log_set_context(ev.correlation_id, "");
    if (!readable) {
        /* poison: it can never be applied; dead-letter it under its message id */
        const char *id = is_uuid(ev.id) ? ev.id : msg_id;
        err_t why = {0};
        err_set(&why, 422, "invalid_event", "", "not an event envelope");
        count(r, "consumer_dead_letter_total");
        if (!is_uuid(id)) {
            log_error("consumer %s: dropped an unreadable message without an id on %s", r->durable,
                      subject);
        } else if (record_failure(r, id, subject, NULL, data, len, &why, 1, &dead, &e) != 0) {
            log_error("consumer %s: cannot dead-letter %s: %s", r->durable, id, e.message);
            r->failed++;
            rc = -1;
        }
        goto done;
    }
    if (apply(r, &ev, &dup, &e) == 0) {
        count(r, dup ? "consumer_duplicates_total" : "consumer_applied_total");
        if (recent_take(r, ev.id)) clear_failure(r, ev.id);
        goto done;
    }
    r->failed++;
    rc = -1;
    if (e.status == 503 || e.status == 504) {
        log_warn("consumer %s: %s %s not applied, will retry: %s", r->durable, ev.type, ev.id,
                 e.message);
        goto done;
    }
    count(r, "consumer_failures_total");
    err_t why = e;
    if (record_failure(r, ev.id, subject, ev.tenant_id, data, len, &why, 0, &dead, &e) != 0) {
        log_error("consumer %s: %s %s failed (%s) and cannot be recorded: %s", r->durable, ev.type,
                  ev.id, why.message, e.message);
        goto done;
    }
    recent_add(r, ev.id);
    if (dead) {
        count(r, "consumer_dead_letter_total");
        log_error("consumer %s: %s %s dead-lettered after its last try: %d %s: %s", r->durable,
                  ev.type, ev.id, why.status, why.code, why.message);
        r->failed--;
        rc = 0; /* claimed and recorded: ack */
    } else {
        log_warn("consumer %s: %s %s failed, will retry: %d %s: %s", r->durable, ev.type, ev.id,
                 why.status, why.code, why.message);
    }
done:
    log_clear_context();
    json_decref(env);
    return rc;
}

/* ---- applying a batch -------------------------------------------------------------------- */

/* Sets the tenant of the batch's transaction to ev's (as apply's scope), when it changes. */
static int rescope(db_tx_t *tx, const svc_event_t *ev, const char **current, err_t *e) {
    const char *club = ev->tenant_id ? ev->tenant_id : "";
    if (*current && strcmp(*current, club) == 0) return 0;
    const char *p[] = {club};
    PGresult *res = db_exec(tx, "SELECT set_config('app.club_id', $1, true)", 1, p, e);
    if (!res) return -1;
    PQclear(res);
    *current = club;
    return 0;
}

/* Claims in the inbox, by one statement, the ids of the n events evs that need it (every one,
 * or those svc_consumer_t.inbox_needed names); new_[i] = 1 for an event to apply (new, or not
 * claimed), 0 for a duplicate. 0 or -1 + e. */
static int claim_batch(run_t *r, db_tx_t *tx, const svc_event_t *evs, int n, int *new_, err_t *e) {
    const char **ids = calloc((size_t)n, sizeof *ids);
    int *pos = calloc((size_t)n, sizeof *pos), *got = calloc((size_t)n, sizeof *got), m = 0;
    int rc = -1;
    if (!ids || !pos || !got) {
        err_set(e, 500, "internal", "", "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        new_[i] = 1;
        if (r->c->inbox_needed && !r->c->inbox_needed(r->env, &evs[i])) continue;
        pos[m] = i;
        ids[m++] = evs[i].id;
    }
    rc = m ? inbox_claim_batch(tx, r->m->schema, r->durable, ids, (size_t)m, got, e) : 0;
    for (int j = 0; rc == 0 && j < m; j++)
        new_[pos[j]] = got[j];
done:
    free(ids);
    free(pos);
    free(got);
    return rc;
}

/* Applies the n readable events evs in ONE transaction: their ids claimed in the inbox by one
 * statement (claim_batch), the handler of each new one (in its tenant's scope), the flush, the
 * commit. new_[i] = 1 for an event applied now, 0 for a duplicate. 0, or -1 + e with nothing
 * applied. */
static int apply_batch(run_t *r, svc_event_t *evs, int n, int *new_, err_t *e) {
    db_tx_t *tx = NULL;
    int rc = -1;
    const char *current = NULL;
    void *acc = acc_make(r);
    const db_scope_t scope = {evs[0].tenant_id, NULL, 0, 1};
    if (!acc) {
        err_set(e, 500, "internal", "", "out of memory");
        goto out;
    }
    if (db_begin(r->env->db, &scope, &tx, e) < 0) goto out;
    current = evs[0].tenant_id ? evs[0].tenant_id : "";
    if (claim_batch(r, tx, evs, n, new_, e) < 0) goto done;
    for (int i = 0; i < n; i++) {
        if (!new_[i]) continue;
        log_set_context(evs[i].correlation_id, "");
        evs[i].acc = acc;
        int h = r->c->relay_only || rescope(tx, &evs[i], &current, e) == 0
                    ? handle_one(r, tx, &evs[i], e)
                    : -1;
        evs[i].acc = NULL;
        if (h != 0) goto done;
    }
    rc = flush(r, tx, acc, e);
done:
    rc = db_tx_finish(&tx, rc, NULL, e);
out:
    log_clear_context();
    acc_drop(r, acc);
    return rc;
}

/* Test seam (consumer.h): after a batch's commit, before its acks. */
int (*svc_consumer_after_commit)(const char *durable);

/* bus_js_fetch_each callback: the readable events of the fetch applied as one batch and acked
 * after its commit; when the batch fails (one event's handler failed, a dependency is down),
 * nothing of it is kept and every message goes one by one through on_msg, so one poison event
 * is retried and dead-lettered alone while the others are applied. Unreadable messages go
 * through on_msg (dead-lettered at once). */
static void on_chunk(run_t *r, const bus_batch_msg_t *msgs, int n, int *ack) {
    svc_event_t *evs = calloc((size_t)n, sizeof *evs);
    json_t **envs = calloc((size_t)n, sizeof *envs);
    int *idx = calloc((size_t)n, sizeof *idx), *new_ = calloc((size_t)n, sizeof *new_);
    int k = 0, batched = 0;
    if (evs && envs && idx && new_ && r->batch > 1 && n > 1) {
        for (int i = 0; i < n; i++) {
            svc_event_t ev;
            json_t *env = NULL;
            if (parse(msgs[i].subject, msgs[i].data, msgs[i].len, &env, &ev)) {
                envs[k] = env;
                evs[k] = ev;
                idx[k++] = i;
            } else {
                json_decref(env);
            }
        }
        err_t e = {0};
        if (k > 1 && apply_batch(r, evs, k, new_, &e) == 0) {
            batched = 1;
            int stop = svc_consumer_after_commit && svc_consumer_after_commit(r->durable);
            for (int j = 0; j < k; j++) {
                count(r, new_[j] ? "consumer_applied_total" : "consumer_duplicates_total");
                if (recent_take(r, evs[j].id)) clear_failure(r, evs[j].id);
                ack[idx[j]] = !stop;
            }
        } else if (k > 1) {
            log_info("consumer %s: a batch of %d events failed (%d %s), applying them one by one",
                     r->durable, k, e.status, e.message);
        }
    }
    for (int i = 0, j = 0; i < n; i++) {
        if (batched && j < k && idx[j] == i) {
            j++;
            continue;
        }
        ack[i] = on_msg(msgs[i].subject, msgs[i].msg_id, msgs[i].data, msgs[i].len, r) == 0;
    }
    for (int j = 0; envs && j < k; j++)
        json_decref(envs[j]);
    free(evs);
    free(envs);
    free(idx);
    free(new_);
}

static void on_fetch(const bus_batch_msg_t *msgs, int n, int *ack, void *ud) {
    run_t *r = ud;
    for (int off = 0; off < n; off += r->batch)
        on_chunk(r, msgs + off, n - off < r->batch ? n - off : r->batch, ack + off);
}

static void run_init(run_t *r, const svc_env_t *env, const svc_module_t *m,
                     const svc_consumer_t *c) {
    memset(r, 0, sizeof *r);
    r->env = env;
    r->m = m;
    r->c = c;
    r->batch = c->batch > 0 ? c->batch : SVC_CONSUMER_BATCH;
    svc_consumer_durable(m, c, r->durable);
    pthread_mutex_init(&r->mu, NULL);
}

static int run_poll(run_t *r, int max, int timeout_ms, int *failed, err_t *e) {
    char filter[256];
    snprintf(filter, sizeof filter, "%s", r->c->filter);
    r->failed = 0;
    int n = bus_js_fetch_each_linger(r->env->bus, "EVENTS", r->durable, filter, max, timeout_ms,
                                     r->c->linger_ms, on_fetch, r, e);
    if (failed) *failed = r->failed;
    return n;
}

int svc_consumer_poll(const svc_env_t *env, const svc_module_t *m, const svc_consumer_t *c, int max,
                      int timeout_ms, int *failed, err_t *e) {
    run_t r;
    pthread_once(&metrics_once, declare_metrics);
    run_init(&r, env, m, c);
    int n = run_poll(&r, max, timeout_ms, failed, e);
    pthread_mutex_destroy(&r.mu);
    return n;
}

/* ---- threads ----------------------------------------------------------------------------- */

/* Sleeps ms in steps of 50 ms, returning early when stop is set. */
static void nap(atomic_int *stop, int ms) {
    for (int slept = 0; slept < ms && !atomic_load(stop); slept += 50) {
        struct timespec ts = {0, 50L * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void *consumer_main(void *arg) {
    thread_run_t *t = arg;
    run_t *r = &t->run;
    int backoff = 0;
    log_thread_name("c", r->durable);
    log_info("consumer %s pulling %s", r->durable, r->c->filter);
    while (!atomic_load(t->stop)) {
        err_t e = {0};
        int failed = 0;
        int n = run_poll(r, r->batch > CONSUMER_FETCH_MIN ? r->batch : CONSUMER_FETCH_MIN,
                         CONSUMER_FETCH_WAIT_MS, &failed, &e);
        if (n >= 0 && failed == 0) {
            backoff = 0;
            continue;
        }
        if (n < 0 && backoff == 0)
            log_warn("consumer %s: fetch failed, retrying: %s", r->durable, e.message);
        backoff = backoff ? backoff * 2 : CONSUMER_BACKOFF_MIN_MS;
        if (backoff > CONSUMER_BACKOFF_MAX_MS) backoff = CONSUMER_BACKOFF_MAX_MS;
        nap(t->stop, backoff);
    }
    return NULL;
}

svc_consumers_t *svc_consumers_start(const svc_env_t *env, const svc_module_t *m, err_t *e) {
    if (!m->consumers || m->n_consumers == 0) return NULL;
    pthread_once(&metrics_once, declare_metrics);
    svc_consumers_t *g = calloc(1, sizeof *g);
    thread_run_t *runs = calloc(m->n_consumers, sizeof *runs);
    if (!g || !runs) {
        free(g);
        free(runs);
        err_set(e, 500, "internal", "", "out of memory");
        return NULL;
    }
    g->runs = runs;
    atomic_init(&g->stop, 0);
    for (size_t i = 0; i < m->n_consumers; i++) {
        thread_run_t *t = &runs[i];
        run_init(&t->run, env, m, &m->consumers[i]);
        t->stop = &g->stop;
        g->n = i + 1;
        if (pthread_create(&t->th, NULL, consumer_main, t) != 0) {
            err_set(e, 500, "internal", "", "cannot start consumer %s", t->run.durable);
            svc_consumers_stop(g);
            return NULL;
        }
        t->started = 1;
    }
    return g;
}

void svc_consumers_signal(svc_consumers_t *g) {
    if (g) atomic_store(&g->stop, 1);
}

void svc_consumers_stop(svc_consumers_t *g) {
    if (!g) return;
    atomic_store(&g->stop, 1);
    for (size_t i = 0; i < g->n; i++) {
        if (g->runs[i].started) pthread_join(g->runs[i].th, NULL);
        pthread_mutex_destroy(&g->runs[i].run.mu);
    }
    free(g->runs);
    free(g);
}
