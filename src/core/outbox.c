/* outbox: see outbox.h. Transactional outbox writer, the relay thread that publishes pending rows
 * to JetStream, and the consumer-side inbox claim.
 * Owns: per relay, its thread, a wake-up pipe, a copy of the schema list and one dedicated
 * libpq connection used only for LISTEN outbox (never a pooled one: a pooled connection cannot
 * stay in LISTEN between transactions). The dedicated connection uses the same connection
 * parameters as the pool, read from a pooled connection with PQconninfo().
 * Exactly-once effects: the relay may publish a row more than once (crash or failure between
 * the JetStream ack and the UPDATE); JetStream drops a repeat with the same Nats-Msg-Id inside
 * the 2-minute duplicate window, and consumers apply each event id once through inbox_claim.
 * Retention: the EVENTS stream's MaxAge and the relay's purge of published outbox rows and old
 * inbox rows (outbox_purge_once; in the relay, a few batches per turn of its loop). */
#include "core/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/strbuf.h"
#include "core/uuid.h"

#define OUTBOX_BATCH 500
#define OUTBOX_MAX_SCHEMA 63
#define OUTBOX_MAX_TYPE 128
#define OUTBOX_MAX_SOURCE 128
#define OUTBOX_MAX_META 512
#define OUTBOX_MAX_SCHEMAS 64
#define OUTBOX_BACKOFF_MIN_MS 100
#define OUTBOX_BACKOFF_MAX_MS 5000
#define OUTBOX_GAUGE_EVERY_MS 2000
/* the full pass while the LISTEN connection works (NOTIFY wakes the relay for new rows; the pass
 * only finds rows another relay held locked or a lost notification): at least this apart, so an
 * idle process does not query every schema 5 times a second (issue 16 step 6) */
#define OUTBOX_LISTEN_FULL_MS 2000
#define OUTBOX_PURGE_BATCH 5000            /* rows per purge transaction */
#define OUTBOX_PURGE_STEP_BATCHES 4        /* purge batches per turn of the relay loop */
#define OUTBOX_PURGE_EVERY_MS 3600000      /* default purge interval: one hour */
#define OUTBOX_PURGE_FIRST_MS 10000        /* first purge after start (or the interval) */
#define OUTBOX_INBOX_EXTRA_S (24LL * 3600) /* inbox ids are kept a day past the retention */

/* ---- validation ------------------------------------------------------------------------ */

/* A schema name is an SQL identifier we splice into statements: [a-z_]+ only, then quoted. */
static int valid_schema(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > OUTBOX_MAX_SCHEMA) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_')) return 0;
    return 1;
}

/* Event type becomes NATS subject tokens: [a-z0-9_-]+ separated by single dots. */
static int valid_type(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > OUTBOX_MAX_TYPE || s[0] == '.' || s[n - 1] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (s[i + 1] == '.') return 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return 0;
    }
    return 1;
}

/* ---- envelope -------------------------------------------------------------------------- */

static void rfc3339_now(char out[32]) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

/* A metadata string as JSON: NULL/"" -> null; capped in length; bytes that do not form valid
 * UTF-8 (headers are attacker-controlled) are replaced so the envelope always serialises. */
static json_t *meta_str(const char *s) {
    if (!s || !*s) return json_null();
    size_t n = strnlen(s, OUTBOX_MAX_META);
    json_t *v = json_stringn(s, n);
    /* cutting at the length cap may split a multi-byte character: drop its lead bytes */
    for (int k = 1; !v && k <= 3 && n > (size_t)k && s[n] != '\0'; k++)
        v = json_stringn(s, n - k);
    if (v) return v;
    char buf[OUTBOX_MAX_META + 1];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
    }
    buf[n] = '\0';
    return json_string(buf);
}

/* The envelope of one event (id written to id_out, 37 bytes); NULL on failure. */
static json_t *make_envelope(const char *type, const char *source, const char *tenant_id,
                             json_t *data, const outbox_meta_t *meta, char id[37], err_t *e) {
    char ts[32];
    uuid_v4(id);
    rfc3339_now(ts);
    const char *corr = meta ? meta->correlation_id : NULL;
    if (!corr || !*corr) corr = log_request_id(); /* the request being served, if any */
    json_t *md = json_object(), *env = json_object();
    if (!md || !env) {
        json_decref(md);
        json_decref(env);
        err_set(e, 500, "internal", "", "out of memory");
        return NULL;
    }
    json_object_set_new(md, "correlation_id", meta_str(corr));
    json_object_set_new(md, "causation_id", meta_str(meta ? meta->causation_id : NULL));
    json_object_set_new(md, "user_id", meta_str(meta ? meta->user_id : NULL));
    json_object_set_new(md, "ip_address", meta_str(meta ? meta->ip_address : NULL));
    json_object_set_new(md, "user_agent", meta_str(meta ? meta->user_agent : NULL));
    json_object_set_new(env, "id", json_string(id));
    json_object_set_new(env, "type", json_string(type));
    json_object_set_new(env, "source", meta_str(source));
    json_object_set_new(env, "tenant_id", tenant_id ? json_string(tenant_id) : json_null());
    json_object_set_new(env, "timestamp", json_string(ts));
    json_object_set_new(env, "version", json_integer(1));
    if (data)
        json_object_set(env, "data", data); /* borrowed: the envelope takes its own reference */
    else
        json_object_set_new(env, "data", json_object());
    json_object_set_new(env, "metadata", md);
    return env;
}

/* target: the transaction (or the batch) the event goes into */
static int check_args(const void *target, const char *schema, const char *type, const char **source,
                      const char **tenant_id, err_t *e) {
    if (!target) return err_set(e, 500, "internal", "", "outbox_add: no transaction");
    if (!valid_schema(schema)) return err_set(e, 500, "internal", "schema", "invalid schema name");
    if (!valid_type(type)) return err_set(e, 500, "internal", "type", "invalid event type");
    if (*tenant_id && !**tenant_id) *tenant_id = NULL;
    if (*tenant_id && !jsonx_is_uuid(*tenant_id))
        return err_invalid(e, "tenant_id", "tenant_id must be a UUID");
    if (!*source || !**source) *source = schema;
    if (strlen(*source) > OUTBOX_MAX_SOURCE)
        return err_set(e, 500, "internal", "source", "event source too long");
    return 0;
}

/* The INSERT of one event into sql (256 bytes), its id into id, the payload (caller frees) into
 * *payload. 0 or -1 + err. */
static int outbox_row(const char *schema, const char *type, const char *source,
                      const char *tenant_id, json_t *data, const outbox_meta_t *meta, char sql[256],
                      char subject[8 + OUTBOX_MAX_TYPE + 1], char id[37], char **payload,
                      err_t *e) {
    snprintf(subject, 8 + OUTBOX_MAX_TYPE + 1, "events.%s", type);
    json_t *env = make_envelope(type, source, tenant_id, data, meta, id, e);
    if (!env) return -1;
    *payload = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    if (!*payload) return err_set(e, 500, "internal", "", "out of memory");
    snprintf(sql, 256,
             "INSERT INTO \"%s\".outbox (id, type, subject, tenant_id, payload) "
             "VALUES ($1::uuid, $2, $3, $4::uuid, $5::jsonb)",
             schema);
    return 0;
}

int outbox_add(db_tx_t *tx, const char *schema, const char *type, const char *source,
               const char *tenant_id, json_t *data, const outbox_meta_t *meta, char *id_out,
               err_t *e) {
    char id[37], subject[8 + OUTBOX_MAX_TYPE + 1], sql[256];
    char *payload = NULL;
    int rc = -1;
    if (check_args(tx, schema, type, &source, &tenant_id, e) != 0) return -1;
    if (outbox_row(schema, type, source, tenant_id, data, meta, sql, subject, id, &payload, e) != 0)
        goto done;
    const char *params[5] = {id, type, subject, tenant_id, payload};
    if (db_exec_cmd(tx, sql, 5, params, e) < 0) goto done;
    if (id_out) memcpy(id_out, id, 37);
    rc = 0;
done:
    free(payload);
    return rc;
}

int outbox_add_batch(db_batch_t *b, const char *schema, const char *type, const char *source,
                     const char *tenant_id, json_t *data, const outbox_meta_t *meta, err_t *e) {
    char id[37], subject[8 + OUTBOX_MAX_TYPE + 1], sql[256];
    char *payload = NULL;
    int rc = -1;
    if (check_args(b, schema, type, &source, &tenant_id, e) != 0) return -1;
    if (outbox_row(schema, type, source, tenant_id, data, meta, sql, subject, id, &payload, e) != 0)
        goto done;
    const char *params[5] = {id, type, subject, tenant_id, payload};
    if (db_batch_add(b, sql, 5, params) < 0) {
        err_set(e, 500, "internal", "", "outbox_add_batch: could not queue the event");
        goto done;
    }
    rc = 0;
done:
    free(payload);
    return rc;
}

int outbox_row_make(outbox_row_t *row, int first, const char *schema, const char *type,
                    const char *source, const char *tenant_id, json_t *data,
                    const outbox_meta_t *meta, err_t *e) {
    char sql[256], *payload = NULL;
    memset(row, 0, sizeof *row);
    if (first < 1 || first > 60000) return err_set(e, 500, "internal", "", "bad first parameter");
    if (check_args(row, schema, type, &source, &tenant_id, e) != 0) return -1;
    if (outbox_row(schema, type, source, tenant_id, data, meta, sql, row->subject, row->id,
                   &payload, e) != 0)
        return -1;
    snprintf(row->sql, sizeof row->sql,
             "INSERT INTO \"%s\".outbox (id, type, subject, tenant_id, payload) VALUES "
             "($%d::uuid, $%d, $%d, $%d::uuid, $%d::jsonb)",
             schema, first, first + 1, first + 2, first + 3, first + 4);
    row->vals[0] = row->id;
    row->vals[1] = type;
    row->vals[2] = row->subject;
    row->vals[3] = tenant_id;
    row->vals[4] = payload;
    return 0;
}

void outbox_row_free(outbox_row_t *row) {
    free((char *)row->vals[4]);
    row->vals[4] = NULL;
}

int outbox_add_many(db_tx_t *tx, const char *schema, const char *type, const char *source,
                    const char *tenant_id, json_t *const *data, size_t n, const outbox_meta_t *meta,
                    err_t *e) {
    char subject[8 + OUTBOX_MAX_TYPE + 1], sql[320];
    if (check_args(tx, schema, type, &source, &tenant_id, e) != 0) return -1;
    if (n == 0) return 0;
    snprintf(subject, sizeof subject, "events.%s", type);
    json_t *arr = json_array();
    char *payload = NULL;
    int rc = -1;
    if (!arr) return err_set(e, 500, "internal", "", "out of memory");
    for (size_t i = 0; i < n; i++) {
        char id[37];
        json_t *env = make_envelope(type, source, tenant_id, data[i], meta, id, e);
        if (!env || json_array_append_new(arr, env) != 0) goto done;
    }
    payload = json_dumps(arr, JSON_COMPACT);
    if (!payload) {
        err_set(e, 500, "internal", "", "out of memory");
        goto done;
    }
    /* one statement for the whole batch; ordinality keeps the insertion order */
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s\".outbox (id, type, subject, tenant_id, payload) SELECT "
             "(x->>'id')::uuid, $1, $2, $3::uuid, x FROM jsonb_array_elements($4::jsonb) WITH "
             "ORDINALITY AS a(x, o) ORDER BY o",
             schema);
    const char *params[4] = {type, subject, tenant_id, payload};
    if (db_exec_cmd(tx, sql, 4, params, e) < 0) goto done;
    rc = 0;
done:
    free(payload);
    json_decref(arr);
    return rc;
}

/* ---- inbox ----------------------------------------------------------------------------- */

int inbox_claim_batch(db_tx_t *tx, const char *schema, const char *consumer,
                      const char *const *event_ids, size_t n, int *claimed, err_t *e) {
    char sql[320];
    if (!tx) return err_set(e, 500, "internal", "", "inbox_claim_batch: no transaction");
    if (!valid_schema(schema)) return err_set(e, 500, "internal", "schema", "invalid schema name");
    if (!consumer || !*consumer || strlen(consumer) > 128)
        return err_set(e, 500, "internal", "consumer", "invalid consumer name");
    strbuf_t arr = {0};
    strbuf_puts(&arr, "{");
    for (size_t i = 0; i < n; i++) {
        claimed[i] = 0;
        if (!jsonx_is_uuid(event_ids[i])) {
            strbuf_free(&arr);
            return err_invalid(e, "event_id", "event id must be a UUID");
        }
        strbuf_printf(&arr, "%s%s", i ? "," : "", event_ids[i]);
    }
    strbuf_puts(&arr, "}");
    if (arr.oom) {
        strbuf_free(&arr);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s\".inbox (consumer, event_id) SELECT DISTINCT $1, unnest($2::uuid[]) "
             "ON CONFLICT DO NOTHING RETURNING event_id::text",
             schema);
    const char *params[2] = {consumer, arr.p};
    PGresult *r = db_exec(tx, sql, 2, params, e);
    strbuf_free(&arr);
    if (!r) return -1;
    /* the first occurrence of a returned id is new; a later one in the same batch a duplicate */
    for (int row = 0; row < PQntuples(r); row++)
        for (size_t i = 0; i < n; i++)
            if (strcasecmp(event_ids[i], PQgetvalue(r, row, 0)) == 0) {
                claimed[i] = 1;
                break;
            }
    PQclear(r);
    return 0;
}

int inbox_claim(db_tx_t *tx, const char *schema, const char *consumer, const char *event_id,
                err_t *e) {
    char sql[256];
    if (!tx) return err_set(e, 500, "internal", "", "inbox_claim: no transaction");
    if (!valid_schema(schema)) return err_set(e, 500, "internal", "schema", "invalid schema name");
    if (!consumer || !*consumer || strlen(consumer) > 128)
        return err_set(e, 500, "internal", "consumer", "invalid consumer name");
    if (!jsonx_is_uuid(event_id)) return err_invalid(e, "event_id", "event id must be a UUID");
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s\".inbox (consumer, event_id) VALUES ($1, $2::uuid) "
             "ON CONFLICT DO NOTHING",
             schema);
    const char *params[2] = {consumer, event_id};
    long long n = db_exec_cmd(tx, sql, 2, params, e);
    if (n < 0) return -1;
    return n > 0 ? 1 : 0;
}

/* ---- relay: one pass ------------------------------------------------------------------- */

static const db_scope_t relay_scope = {NULL, NULL, 0, 1};

int outbox_relay_once(db_pool_t *db, bus_t *bus, const char *schema, err_t *e) {
    return outbox_relay_from(db, bus, schema, NULL, e);
}

int outbox_relay_from(db_pool_t *db, bus_t *bus, const char *schema, unsigned long long *from,
                      err_t *e) {
    char sql[384];
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    char *ids = NULL;
    bus_batch_msg_t *msgs = NULL;
    int *ok = NULL;
    int published = 0;
    if (!valid_schema(schema)) return err_set(e, 500, "internal", "schema", "invalid schema name");
    /* Two round trips per batch: BEGIN, the scope and the SELECT in one flight (a deferred
     * transaction), then the UPDATE and COMMIT in another (a batch with DB_BATCH_COMMIT); the
     * locks of the SELECT are held while JetStream acknowledges the batch. */
    if (db_begin_deferred(db, &relay_scope, &tx, e) < 0) return -1;
    /* Pending rows by state, not by position: a transaction that commits late (lower seq than
     * rows already published) is still picked up. SKIP LOCKED lets several relays share work.
     * From *from: the rows of transactions with an id at or above it (outbox_pending_idx, core
     * migration 0007), so the index entries the relay's earlier UPDATEs left behind, whose
     * transactions all lie below, are not walked again; column 3 is the xmin of this
     * statement's snapshot, every transaction below which had ended when it read. */
    char fromv[24];
    snprintf(fromv, sizeof fromv, "%llu", from ? *from : 0ULL);
    const char *fp[1] = {fromv};
    snprintf(sql, sizeof sql,
             "SELECT o.*, pg_snapshot_xmin(pg_current_snapshot())::text AS xmin FROM (SELECT 1) "
             "one LEFT JOIN LATERAL (SELECT id::text AS id, subject, payload::text AS payload "
             "FROM \"%s\".outbox WHERE published_at IS NULL AND xid >= $1::xid8 ORDER BY seq "
             "LIMIT %d FOR UPDATE SKIP LOCKED) o ON true",
             schema, OUTBOX_BATCH);
    r = db_exec(tx, sql, 1, fp, e);
    if (!r) goto fail;
    int n = PQntuples(r);
    unsigned long long xmin = n ? strtoull(PQgetvalue(r, 0, 3), NULL, 10) : 0;
    if (n == 1 && PQgetisnull(r, 0, 0)) n = 0; /* the one row of an empty pass */
    if (n == 0) {
        PQclear(r);
        if (db_commit(tx, e) < 0) return -1;
        if (from && xmin) *from = xmin;
        return 0;
    }
    /* all rows in one batch: one wait for every JetStream ack instead of one per event */
    msgs = calloc((size_t)n, sizeof *msgs);
    ok = calloc((size_t)n, sizeof *ok);
    ids = malloc((size_t)n * 37 + 3); /* "{id,id,...}" for = ANY($1::uuid[]) */
    if (!msgs || !ok || !ids) {
        err_set(e, 500, "internal", "", "out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        const char *id = db_val(r, i, "id");
        const char *subject = db_val(r, i, "subject");
        const char *payload = db_val(r, i, "payload");
        if (!id || !subject || !payload || strlen(id) != 36) {
            err_set(e, 500, "internal", "", "outbox row with NULL column");
            goto fail;
        }
        msgs[i] = (bus_batch_msg_t){subject, id, payload, strlen(payload)};
    }
    err_t pub_err = {0};
    int pub_rc = bus_js_publish_batch(bus, msgs, n, ok, &pub_err);
    size_t off = 0;
    ids[off++] = '{';
    for (int i = 0; i < n; i++) {
        if (!ok[i]) continue;
        if (published) ids[off++] = ',';
        memcpy(ids + off, msgs[i].msg_id, 36);
        off += 36;
        published++;
    }
    if (published == 0) {
        *e = pub_err;
        goto fail;
    }
    ids[off++] = '}';
    ids[off] = '\0';
    PQclear(r);
    r = NULL;
    snprintf(sql, sizeof sql,
             "UPDATE \"%s\".outbox SET published_at = now() WHERE id = ANY($1::uuid[])", schema);
    const char *params[1] = {ids};
    /* The generic plan of the UPDATE (an index scan of the primary key whatever the array):
     * with the default plan_cache_mode, PostgreSQL planned it again on every run (a custom plan
     * for the array at hand always looks cheaper than the generic one, which assumes 10
     * elements), so the statement's plan was built per batch although it is prepared. */
    db_batch_t b = {0};
    db_batch_add(&b, "SET LOCAL plan_cache_mode = force_generic_plan", 0, NULL);
    db_batch_add(&b, sql, 1, params);
    int brc = db_batch_run(tx, &b, DB_BATCH_COMMIT, e);
    db_batch_clear(&b);
    free(ids);
    ids = NULL;
    if (brc != 0) goto fail;             /* rows stay pending; republishing is deduplicated */
    if (db_commit(tx, e) < 0) return -1; /* committed by the batch: releases the connection */
    /* every row this pass could see went out: the next one starts at its snapshot's xmin */
    if (from && pub_rc >= 0 && published == n && n < OUTBOX_BATCH) *from = xmin;
    metrics_counter_add("outbox_published_total", (const char *const[]){schema, NULL},
                        (double)published);
    metrics_counter_add("outbox_batches_total", (const char *const[]){schema, NULL}, 1);
    free(msgs);
    free(ok);
    if (pub_rc < 0) { /* the rest stays pending and is retried after a back-off */
        *e = pub_err;
        return -1;
    }
    return published;
fail:
    PQclear(r);
    free(msgs);
    free(ok);
    free(ids);
    db_rollback(tx);
    return -1;
}

/* ---- retention ------------------------------------------------------------------------- */

int outbox_ensure_stream(bus_t *bus, long long retention_s, err_t *e) {
    if (retention_s < 120 || retention_s > 100LL * 366 * 24 * 3600)
        return err_set(e, 500, "internal", "retention", "events retention out of range");
    const char *const subjects[] = {"events.>", NULL};
    /* the relay's recovery bound (docs/security.md N4): JetStream drops a re-published copy of
     * an acknowledged event whose outbox commit was lost for this long, not only 2 minutes */
    long long dup_s = retention_s < OUTBOX_DUP_WINDOW_S ? retention_s : OUTBOX_DUP_WINDOW_S;
    return bus_ensure_stream_window(bus, "EVENTS", subjects,
                                    (int64_t)retention_s * 1000 * 1000 * 1000,
                                    (int64_t)dup_s * 1000 * 1000 * 1000, e);
}

/* Deletes one batch of expired rows from <schema>.outbox (table 0) or .inbox (table 1) in its
 * own short transaction; returns the rows deleted or -1. The ctid array makes it a TID scan over
 * at most OUTBOX_PURGE_BATCH rows; the outer condition is re-checked on a row updated meanwhile
 * (published_at reset to republish it: then it is kept). `published_at < cutoff` is false for
 * NULL, and the delete policy admits published rows only, so a pending event is never deleted. */
static long long purge_batch(db_pool_t *db, const char *schema, int table, long long retention_s,
                             err_t *e) {
    char sql[512], secs[32];
    db_tx_t *tx = NULL;
    if (table == 0)
        snprintf(sql, sizeof sql,
                 "DELETE FROM \"%s\".outbox WHERE ctid = ANY(ARRAY(SELECT ctid FROM \"%s\".outbox "
                 "WHERE published_at < now() - $1::bigint * interval '1 second' LIMIT %d)) "
                 "AND published_at < now() - $1::bigint * interval '1 second'",
                 schema, schema, OUTBOX_PURGE_BATCH);
    else
        snprintf(sql, sizeof sql,
                 "DELETE FROM \"%s\".inbox WHERE ctid = ANY(ARRAY(SELECT ctid FROM \"%s\".inbox "
                 "WHERE applied_at < now() - $1::bigint * interval '1 second' LIMIT %d)) "
                 "AND applied_at < now() - $1::bigint * interval '1 second'",
                 schema, schema, OUTBOX_PURGE_BATCH);
    snprintf(secs, sizeof secs, "%lld",
             table == 0 ? retention_s : retention_s + OUTBOX_INBOX_EXTRA_S);
    const char *params[1] = {secs};
    if (db_begin(db, &relay_scope, &tx, e) < 0) return -1;
    long long n = db_exec_cmd(tx, sql, 1, params, e);
    if (n < 0) {
        db_rollback(tx);
        return -1;
    }
    if (db_commit(tx, e) < 0) return -1;
    return n;
}

static void count_purged(const char *schema, int table, long long n) {
    char label[OUTBOX_MAX_SCHEMA + 8];
    if (n <= 0) return;
    snprintf(label, sizeof label, "%s.%s", schema, table == 0 ? "outbox" : "inbox");
    metrics_counter_add("outbox_purged_total", (const char *const[]){label, NULL}, (double)n);
}

int outbox_purge_once(db_pool_t *db, const char *schema, long long retention_s,
                      outbox_purged_t *removed, err_t *e) {
    if (!valid_schema(schema)) return err_set(e, 500, "internal", "schema", "invalid schema name");
    if (retention_s <= 0)
        return err_set(e, 500, "internal", "retention", "retention must be positive");
    for (int table = 0; table < 2; table++) {
        long long n;
        do {
            n = purge_batch(db, schema, table, retention_s, e);
            if (n < 0) return -1;
            count_purged(schema, table, n);
            if (removed) *(table == 0 ? &removed->outbox : &removed->inbox) += n;
        } while (n == OUTBOX_PURGE_BATCH);
    }
    return 0;
}

/* ---- relay thread ---------------------------------------------------------------------- */

struct outbox_relay {
    db_pool_t *db;
    bus_t *bus;
    char **schemas;
    int n;
    int poll_ms;
    int wake[2]; /* self-pipe: outbox_relay_stop and outbox_wake write one byte */
    atomic_int kicked[OUTBOX_MAX_SCHEMAS]; /* outbox_wake's schemas, taken by the loop */
    atomic_int stop;
    pthread_t thread;
    int started;
    /* connection parameters for the LISTEN connection, copied from a pooled connection */
    char **keys, **vals; /* NULL-terminated, nparams entries */
    int nparams;
    PGconn *listen;
    long long listen_retry_at;
    int listen_backoff;
    /* retention: a purge pass walks (schema, table) a few batches per turn of the loop */
    long long retention_s; /* 0 = no purging */
    int purge_every_ms;
    long long next_purge; /* now_ms() when the next pass starts */
    int purging, purge_i, purge_table;
    outbox_purged_t purged; /* this pass */
};

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void free_params(outbox_relay_t *r) {
    for (int i = 0; i < r->nparams; i++) {
        free(r->keys[i]);
        free(r->vals[i]);
    }
    free(r->keys);
    free(r->vals);
    r->keys = r->vals = NULL;
    r->nparams = 0;
}

static int add_param(outbox_relay_t *r, const char *k, const char *v) {
    char *kk = strdup(k), *vv = strdup(v);
    if (!kk || !vv) {
        free(kk);
        free(vv);
        return -1;
    }
    r->keys[r->nparams] = kk;
    r->vals[r->nparams] = vv;
    r->nparams++;
    return 0;
}

/* Reads the pool's connection parameters (host, port, user, password, dbname, ssl...) from a
 * pooled connection, so the LISTEN connection authenticates exactly like the pool. */
static int load_params(outbox_relay_t *r, err_t *e) {
    db_tx_t *tx = NULL;
    if (db_begin(r->db, &relay_scope, &tx, e) < 0) return -1;
    PQconninfoOption *opts = PQconninfo(db_tx_conn(tx));
    int cap = 2, has_timeout = 0;
    if (!opts) {
        db_rollback(tx);
        return err_set(e, 500, "internal", "", "PQconninfo failed");
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        cap++;
    r->keys = calloc((size_t)cap, sizeof *r->keys);
    r->vals = calloc((size_t)cap, sizeof *r->vals);
    if (!r->keys || !r->vals) goto oom;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val) continue;
        if (strcmp(o->keyword, "connect_timeout") == 0) has_timeout = 1;
        if (add_param(r, o->keyword, o->val) < 0) goto oom;
    }
    if (!has_timeout && add_param(r, "connect_timeout", "5") < 0) goto oom;
    PQconninfoFree(opts);
    db_rollback(tx);
    return 0;
oom:
    PQconninfoFree(opts);
    db_rollback(tx);
    free_params(r);
    return err_set(e, 500, "internal", "", "out of memory");
}

static void listen_close(outbox_relay_t *r) {
    if (r->listen) PQfinish(r->listen);
    r->listen = NULL;
}

/* Opens the LISTEN connection; on failure schedules the next attempt with backoff. Returns 1
 * when a (new) connection is listening. */
static int listen_open(outbox_relay_t *r) {
    err_t e = {0};
    if (r->listen || now_ms() < r->listen_retry_at) return 0;
    if (!r->keys && load_params(r, &e) < 0) goto retry;
    r->listen = PQconnectdbParams((const char *const *)r->keys, (const char *const *)r->vals, 0);
    if (!r->listen || PQstatus(r->listen) != CONNECTION_OK) {
        err_set(&e, 503, "unavailable", "", "%s",
                r->listen ? PQerrorMessage(r->listen) : "out of memory");
        listen_close(r);
        goto retry;
    }
    PGresult *res = PQexec(r->listen, "LISTEN outbox");
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok || PQsetnonblocking(r->listen, 1) != 0) {
        err_set(&e, 503, "unavailable", "", "LISTEN failed: %s", PQerrorMessage(r->listen));
        listen_close(r);
        goto retry;
    }
    if (r->listen_backoff > 0) log_info("outbox relay: LISTEN connection restored");
    r->listen_backoff = 0;
    return 1;
retry:
    if (r->listen_backoff == 0)
        log_warn("outbox relay: no LISTEN connection, polling: %s", e.message);
    r->listen_backoff = r->listen_backoff ? r->listen_backoff * 2 : OUTBOX_BACKOFF_MIN_MS;
    if (r->listen_backoff > OUTBOX_BACKOFF_MAX_MS) r->listen_backoff = OUTBOX_BACKOFF_MAX_MS;
    r->listen_retry_at = now_ms() + r->listen_backoff;
    return 0;
}

static void update_gauges(outbox_relay_t *r) {
    for (int i = 0; i < r->n; i++) {
        char sql[160];
        err_t e = {0};
        db_tx_t *tx = NULL;
        if (db_begin(r->db, &relay_scope, &tx, &e) < 0) return;
        snprintf(sql, sizeof sql,
                 "SELECT count(*) AS n FROM \"%s\".outbox WHERE published_at IS NULL",
                 r->schemas[i]);
        PGresult *res = db_exec(tx, sql, 0, NULL, &e);
        if (res && PQntuples(res) == 1) {
            const char *v = db_val(res, 0, "n");
            metrics_gauge_set("outbox_pending", (const char *const[]){r->schemas[i], NULL},
                              v ? atof(v) : 0);
        }
        PQclear(res);
        db_rollback(tx);
    }
}

/* One turn of a purge pass: up to OUTBOX_PURGE_STEP_BATCHES batches, so that a large backlog
 * (the first purge after an upgrade) is spread over many turns and publishing goes on between
 * them. Ends the pass (next one in purge_every_ms) when every schema's tables are done or on an
 * error (logged; publishing is unaffected). */
static void purge_step(outbox_relay_t *r) {
    err_t e = {0};
    if (!r->purging) {
        if (now_ms() < r->next_purge) return;
        r->purging = 1;
        r->purge_i = r->purge_table = 0;
        r->purged = (outbox_purged_t){0, 0};
    }
    for (int b = 0; b < OUTBOX_PURGE_STEP_BATCHES && r->purge_i < r->n; b++) {
        const char *schema = r->schemas[r->purge_i];
        long long n = purge_batch(r->db, schema, r->purge_table, r->retention_s, &e);
        if (n < 0) {
            log_warn("outbox relay: purging %s.%s failed, next attempt in %d s: %s", schema,
                     r->purge_table == 0 ? "outbox" : "inbox", r->purge_every_ms / 1000, e.message);
            break;
        }
        count_purged(schema, r->purge_table, n);
        *(r->purge_table == 0 ? &r->purged.outbox : &r->purged.inbox) += n;
        if (n < OUTBOX_PURGE_BATCH && ++r->purge_table == 2) {
            r->purge_table = 0;
            r->purge_i++;
        }
        if (b + 1 == OUTBOX_PURGE_STEP_BATCHES && r->purge_i < r->n) return; /* next turn */
    }
    if (r->purged.outbox || r->purged.inbox)
        log_info("outbox relay: retention %lld h: deleted %lld published outbox rows and %lld "
                 "inbox rows",
                 r->retention_s / 3600, r->purged.outbox, r->purged.inbox);
    r->purging = 0;
    r->next_purge = now_ms() + r->purge_every_ms;
}

/* Marks the schemas named by the LISTEN connection's pending notifications dirty. On a lost
 * connection: closes it, schedules its reopening, marks every schema dirty and returns -1. */
static int take_notifies(outbox_relay_t *r, int *dirty) {
    if (!PQconsumeInput(r->listen)) {
        log_warn("outbox relay: LISTEN connection lost: %s", PQerrorMessage(r->listen));
        listen_close(r);
        r->listen_backoff = OUTBOX_BACKOFF_MIN_MS;
        r->listen_retry_at = now_ms() + OUTBOX_BACKOFF_MIN_MS;
        for (int i = 0; i < r->n; i++)
            dirty[i] = 1;
        return -1;
    }
    PGnotify *nt;
    while ((nt = PQnotifies(r->listen)) != NULL) {
        for (int i = 0; i < r->n; i++)
            if (!nt->extra || !*nt->extra || strcmp(nt->extra, r->schemas[i]) == 0) dirty[i] = 1;
        PQfreemem(nt);
    }
    return 0;
}

/* ---- the process's running relays (outbox_relay_local, outbox_wake) ---------------------- */

#define OUTBOX_MAX_RELAYS 8
static pthread_mutex_t g_relays_mu = PTHREAD_MUTEX_INITIALIZER;
static outbox_relay_t *g_relays[OUTBOX_MAX_RELAYS];

static void relays_set(outbox_relay_t *r, outbox_relay_t *to) {
    pthread_mutex_lock(&g_relays_mu);
    for (int i = 0; i < OUTBOX_MAX_RELAYS; i++)
        if (g_relays[i] == r) {
            g_relays[i] = to;
            break;
        }
    pthread_mutex_unlock(&g_relays_mu);
}

/* the running relay's index of schema, -1 if it does not serve it */
static int relay_schema(const outbox_relay_t *r, const char *schema) {
    for (int i = 0; r && schema && i < r->n; i++)
        if (strcmp(r->schemas[i], schema) == 0) return i;
    return -1;
}

/* kick: 1 = wake the relays serving schema; 0 = only say whether one runs */
static int relays_find(const char *schema, int kick) {
    int found = 0;
    pthread_mutex_lock(&g_relays_mu);
    for (int k = 0; k < OUTBOX_MAX_RELAYS; k++) {
        outbox_relay_t *r = g_relays[k];
        int i = relay_schema(r, schema);
        if (i < 0 || atomic_load(&r->stop)) continue;
        found = 1;
        /* one byte per pass, not per commit: the flag was clear, the loop has not seen it */
        if (kick && !atomic_exchange(&r->kicked[i], 1)) {
            ssize_t w = write(r->wake[1], "k", 1);
            (void)w; /* a full pipe: the relay has bytes to read already */
        }
    }
    pthread_mutex_unlock(&g_relays_mu);
    return found;
}

int outbox_relay_local(const char *schema) {
    return relays_find(schema, 0);
}

int outbox_wake(const char *schema) {
    return relays_find(schema, 1);
}

/* The wake pipe's bytes read, the schemas outbox_wake named marked dirty. */
static void take_kicks(outbox_relay_t *r, int *dirty) {
    char buf[64];
    while (read(r->wake[0], buf, sizeof buf) > 0) {
    }
    for (int i = 0; i < r->n; i++)
        if (atomic_exchange(&r->kicked[i], 0)) dirty[i] = 1;
}

static void *relay_main(void *arg) {
    outbox_relay_t *r = arg;
    log_thread_name("relay", r->n == 1 ? r->schemas[0] : "");
    int dirty[OUTBOX_MAX_SCHEMAS];
    /* per schema, where a pass woken by a notification starts (outbox_relay_from); a full pass
     * starts at 0: rows another relay held locked (SKIP LOCKED) lie below */
    unsigned long long from[OUTBOX_MAX_SCHEMAS] = {0};
    int backoff = 0, failing = 0;
    char last_err[384] = "";
    long long last_err_log = 0, next_gauge = 0, next_full = 0, last_pass = 0;

    while (!atomic_load(&r->stop)) {
        /* every schema at least once per poll interval (OUTBOX_LISTEN_FULL_MS while LISTEN
         * works), whatever the notifications: rows skipped while another relay held them
         * locked, or a notification missed, are found then */
        int all = listen_open(r) || now_ms() >= next_full;
        if (all) {
            for (int i = 0; i < r->n; i++) {
                dirty[i] = 1;
                from[i] = 0;
            }
            int every = r->poll_ms;
            if (r->listen && every < OUTBOX_LISTEN_FULL_MS) every = OUTBOX_LISTEN_FULL_MS;
            next_full = now_ms() + every;
        }

        int failed = 0;
        err_t e = {0};
        last_pass = now_ms();
        for (int i = 0; i < r->n && !atomic_load(&r->stop); i++) {
            if (!dirty[i]) continue;
            int n;
            do {
                n = outbox_relay_from(r->db, r->bus, r->schemas[i], &from[i], &e);
            } while (n == OUTBOX_BATCH && !atomic_load(&r->stop));
            if (n < 0) {
                failed = 1;
                break; /* same outage for every schema, most likely: back off */
            }
            dirty[i] = 0;
        }
        if (failed) {
            long long t = now_ms();
            if (strcmp(last_err, e.message) != 0 || t - last_err_log >= 30000) {
                log_warn("outbox relay: publishing failed, retrying: %s", e.message);
                snprintf(last_err, sizeof last_err, "%s", e.message);
                last_err_log = t;
            }
            failing = 1;
            backoff = backoff ? backoff * 2 : OUTBOX_BACKOFF_MIN_MS;
            if (backoff > OUTBOX_BACKOFF_MAX_MS) backoff = OUTBOX_BACKOFF_MAX_MS;
        } else {
            if (failing) log_info("outbox relay: publishing again");
            failing = 0;
            backoff = 0;
            last_err[0] = '\0';
        }
        if (now_ms() >= next_gauge) {
            update_gauges(r);
            next_gauge = now_ms() + OUTBOX_GAUGE_EVERY_MS;
        }
        if (r->retention_s > 0 && !failed && !atomic_load(&r->stop)) purge_step(r);

        long long t = now_ms();
        long long until = failed ? t + backoff : next_full;
        if (r->retention_s > 0 && !failed && (r->purging || r->next_purge < until))
            until = r->purging ? t : r->next_purge;
        if (!r->listen && r->listen_retry_at > t && r->listen_retry_at < until)
            until = r->listen_retry_at;
        int wait = until > t ? (int)(until - t) : 0;
        struct pollfd pfd[2] = {{.fd = r->wake[0], .events = POLLIN},
                                {.fd = r->listen ? PQsocket(r->listen) : -1, .events = POLLIN}};
        int pr = poll(pfd, 2, wait);
        if (pr < 0 && errno != EINTR) {
            log_error("outbox relay: poll: %s", strerror(errno));
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (pr <= 0) continue; /* poll interval elapsed: a full pass follows */
        if (pfd[0].revents) {
            take_kicks(r, dirty); /* outbox_wake's, or outbox_relay_stop's byte */
            if (atomic_load(&r->stop)) continue;
        }
        if (r->listen && pfd[1].revents && take_notifies(r, dirty) < 0) {
            next_full = 0; /* without LISTEN: full passes every poll_ms from now */
            continue;
        }
        /* a notification or a wake soon after the last pass waits for the rest of the spacing,
         * so the commits of those milliseconds are published together */
        for (long long t = now_ms(), until = last_pass + OUTBOX_NOTIFY_SPACING_MS;
             t < until && !atomic_load(&r->stop); t = now_ms()) {
            struct pollfd wp = {.fd = r->wake[0], .events = POLLIN};
            if (poll(&wp, 1, (int)(until - t)) > 0) take_kicks(r, dirty);
        }
        if (r->listen && !atomic_load(&r->stop) && take_notifies(r, dirty) < 0) next_full = 0;
    }
    listen_close(r);
    return NULL;
}

static void relay_free(outbox_relay_t *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++)
        free(r->schemas[i]);
    free(r->schemas);
    if (r->wake[0] >= 0) close(r->wake[0]);
    if (r->wake[1] >= 0) close(r->wake[1]);
    free_params(r);
    free(r);
}

outbox_relay_t *outbox_relay_start(db_pool_t *db, bus_t *bus, const char *const *schemas,
                                   const outbox_relay_opts_t *opts, err_t *e) {
    const outbox_relay_opts_t none = {0};
    if (!opts) opts = &none;
    int n = 0;
    while (schemas && schemas[n]) {
        if (!valid_schema(schemas[n])) {
            err_set(e, 500, "internal", "schema", "invalid schema name");
            return NULL;
        }
        n++;
    }
    if (!db || !bus || n == 0 || n > OUTBOX_MAX_SCHEMAS || opts->retention_s < 0) {
        err_set(e, 500, "internal", "", "outbox relay: pool, bus and 1..%d schemas needed",
                OUTBOX_MAX_SCHEMAS);
        return NULL;
    }
    outbox_relay_t *r = calloc(1, sizeof *r);
    if (!r) {
        err_set(e, 500, "internal", "", "out of memory");
        return NULL;
    }
    r->wake[0] = r->wake[1] = -1;
    r->db = db;
    r->bus = bus;
    r->poll_ms = opts->poll_ms <= 0 ? 200 : opts->poll_ms > 60000 ? 60000 : opts->poll_ms;
    r->retention_s = opts->retention_s;
    r->purge_every_ms = opts->purge_every_ms > 0 ? opts->purge_every_ms : OUTBOX_PURGE_EVERY_MS;
    r->next_purge = now_ms() + (r->purge_every_ms < OUTBOX_PURGE_FIRST_MS ? r->purge_every_ms
                                                                          : OUTBOX_PURGE_FIRST_MS);
    r->schemas = calloc((size_t)n, sizeof *r->schemas);
    if (!r->schemas) goto oom;
    for (r->n = 0; r->n < n; r->n++) {
        r->schemas[r->n] = strdup(schemas[r->n]);
        if (!r->schemas[r->n]) goto oom;
    }
    if (pipe(r->wake) != 0) {
        err_set(e, 500, "internal", "", "pipe: %s", strerror(errno));
        goto fail;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(r->wake[i], F_SETFD, FD_CLOEXEC);
        fcntl(r->wake[i], F_SETFL, fcntl(r->wake[i], F_GETFL) | O_NONBLOCK);
    }
    metrics_gauge_declare("outbox_pending", "Outbox events not yet published to JetStream.",
                          "schema");
    metrics_counter_declare("outbox_published_total",
                            "Outbox events published to JetStream (including re-publications).",
                            "schema");
    metrics_counter_declare("outbox_batches_total",
                            "Relay passes that published outbox events to JetStream (one "
                            "SELECT/UPDATE pair and one JetStream flight each).",
                            "schema");
    metrics_counter_declare(
        "outbox_purged_total",
        "Rows deleted by the events retention (RECIPROCAL_EVENTS_RETENTION_HOURS) "
        "from <schema>.outbox and <schema>.inbox.",
        "table");
    if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
        err_set(e, 500, "internal", "", "cannot start the outbox relay thread");
        goto fail;
    }
    r->started = 1;
    relays_set(NULL, r); /* a free slot; with none, outbox_wake does not know it (NOTIFY does) */
    return r;
oom:
    err_set(e, 500, "internal", "", "out of memory");
fail:
    relay_free(r);
    return NULL;
}

void outbox_relay_stop(outbox_relay_t *r) {
    if (!r) return;
    relays_set(r, NULL); /* outbox_wake holds the lock while it writes to the pipe */
    atomic_store(&r->stop, 1);
    if (r->started) {
        ssize_t w = write(r->wake[1], "x", 1);
        (void)w;
        pthread_join(r->thread, NULL);
    }
    relay_free(r);
}
