/* bus: see bus.h. The NATS connections (nats.c 3.4.1) and the JetStream contexts.
 * Owns: the natsConnection, the jsCtx, the queue subscriptions made by bus_serve (and their
 * closures), the stream connection (opened on first use: the pull consumers' inbox
 * subscriptions, their pull requests and acks, bus_js_publish_batch's context) and its options.
 * bus_close drains the responders (in-flight requests finish), destroys everything and closes
 * the connections.
 * nats.c keeps process-wide state (threads, timers): call bus_shutdown_library() once at process
 * end, after the last bus_close. */
#include "core/bus.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

#define BUS_JS_WAIT_MS 5000 /* JetStream API and publish ack wait */
#define BUS_DRAIN_MS 5000   /* bus_close: time given to in-flight requests */
#define BUS_DUP_WINDOW_NS (2LL * 60 * 1000 * 1000 * 1000)
#define BUS_MAX_WORKERS 64
#define BUS_MAX_FETCH 1024
#define BUS_MAX_BATCH 4096
#define BUS_HDR_REQUEST_ID "X-Request-Id"
#define BUS_HDR_TRACE_ID "X-Trace-Id"
#define BUS_HDR_MSG_ID "Nats-Msg-Id"

typedef struct serve_ctx {
    bus_t *b;
    bus_handler_fn fn;
    void *ud;
    natsSubscription *sub;
    char broadcast[128]; /* bus_subscribe: its subject ("" for responders) */
    struct serve_ctx *next;
} serve_ctx_t;

/* Responder contexts of closed buses, freed by bus_shutdown_library (see bus_close). */
static serve_ctx_t *g_graveyard;
static pthread_mutex_t g_graveyard_mu = PTHREAD_MUTEX_INITIALIZER;

/* A durable pull consumer, read through a plain subscription on a private inbox rather than
 * nats.c's natsSubscription_Fetch: in nats.c 3.4.1 (Debian 12) a Fetch that finds messages of an
 * earlier pull request still queued on the subscription (they arrive after the Fetch that asked
 * for them returned, e.g. under load) can collect more messages than its batch and writes past
 * the array it allocated for them: heap corruption ("double free or corruption" in `serve` while
 * 10,000-row member imports fed the consumers; tests/core/test_bus.c test_pull_leftovers). Here
 * every pull request has its own reply subject <inbox>.<n>, collected messages go into an array
 * sized by the caller, a message that arrives for an earlier request stays queued and is taken
 * first by the next fetch, and a status message (404 no messages, 408 request expired, 409 ...)
 * ends only the request it answers. */
typedef struct pull_ctx {
    char *stream;
    char *durable;
    char *filter;
    char *inbox;              /* the subscription takes <inbox>.* */
    char *next_subject;       /* $JS.API.CONSUMER.MSG.NEXT.<stream>.<durable> */
    unsigned long long n_req; /* pull requests sent: the last part of their reply subject */
    natsSubscription *sub;
    unsigned long gen; /* conn_gen when the last fetch began (messages queued since may be older) */
    pthread_mutex_t mu; /* one fetch at a time per consumer */
    struct pull_ctx *next;
} pull_ctx_t;

/* Messages collected by one fetch: msgs has room for the fetch's max; owned, pull_list_free.
 * gen: conn_gen when the fetch began; the first `stale` messages were queued on the
 * subscription before a disconnect (taken from an earlier connection). */
typedef struct pull_list {
    natsMsg **msgs;
    int n;
    int stale;
    unsigned long gen;
} pull_list_t;

/* One connection's callback state (the closure of its nats.c callbacks). */
typedef struct conn_state {
    struct bus *b;
    const char *label;       /* "" for the main connection, " stream" for the stream one */
    atomic_ulong reconnects; /* bus_reconnects (main) */
    atomic_ulong disconnects;
    int closed; /* the closed callback came (bus.cb_mu) */
} conn_state_t;

struct bus {
    natsConnection *nc;
    jsCtx *js;
    /* The stream connection: JetStream's per-message traffic — the pull consumers' requests,
     * deliveries and acks, bus_js_publish_batch's publishes and their acks — on a connection of
     * its own WITHOUT nats.c's send-as-soon-as-possible, so that a batch's acks or publishes
     * leave in a few large writes (nats.c's flusher, within 1 ms, or when its 32 KB buffer
     * fills) instead of one send() each, and nats-server reads them in a few reads instead of
     * one wake-up each (docs/analytics.md "Ingest speed: acks and publishes in bulk"). The main
     * connection keeps it for request/reply latency. Opened on first use (stream_conn, under
     * mu) with stream_opts; stream_js its JetStream context (pull_get's API calls). */
    natsConnection *stream;
    natsOptions *stream_opts;
    conn_state_t main_cs, stream_cs;
    pthread_mutex_t mu; /* guards serves and pulls lists */
    serve_ctx_t *serves;
    pull_ctx_t *pulls;
    char inbox_prefix[96]; /* the connection's reply inboxes: "_INBOX" or "_INBOX.<user>" */
    atomic_int closing;    /* bus_close started: a disconnect is expected, not worth a warning */
    /* nats.c runs connection callbacks on its own thread, after natsConnection_Close returns:
     * bus_close waits for the closed callbacks before freeing what the callbacks point to. */
    pthread_mutex_t cb_mu;
    pthread_cond_t cb_cv;
    char name[128];
    /* bus_js_publish_batch: its own JetStream context (the asynchronous publish error handler
     * belongs to a context), one batch at a time (batch_mu); the handler marks failures in the
     * current batch under batch_state_mu. */
    pthread_mutex_t batch_mu;
    pthread_mutex_t batch_state_mu;
    jsCtx *js_async;
    const bus_batch_msg_t *batch_msgs;
    int *batch_ok;
    int batch_n;
    char batch_err[256];
    /* bus_set_stream_replicas: replica count of the streams ensured with the bus's setting
     * (0 = none set: 1 for a new stream, an existing one keeps its count); replicas_exact = 1
     * when it was given explicitly (applied up or down), 0 for auto (only ever raised) */
    int replicas;
    int replicas_exact;
};

/* ---- errors ---------------------------------------------------------------------------- */

static int nats_err(err_t *e, natsStatus s, const char *what) {
    if (s == NATS_TIMEOUT) return err_set(e, 504, "timeout", "", "%s: timed out", what);
    if (s == NATS_NO_RESPONDERS)
        return err_set(e, 503, "unavailable", "", "%s: no responders", what);
    return err_set(e, 503, "unavailable", "", "%s: %s", what, natsStatus_GetText(s));
}

static int js_err(err_t *e, natsStatus s, jsErrCode jerr, const char *what) {
    if (jerr != 0 && s != NATS_TIMEOUT && s != NATS_NO_RESPONDERS)
        return err_set(e, 503, "unavailable", "", "%s: %s (JetStream error %d)", what,
                       natsStatus_GetText(s), (int)jerr);
    return nats_err(e, s, what);
}

/* ---- connection ------------------------------------------------------------------------ */

static void on_disconnected(natsConnection *nc, void *closure) {
    (void)nc;
    conn_state_t *cs = closure;
    atomic_fetch_add(&cs->disconnects, 1);
    if (!atomic_load(&cs->b->closing))
        log_warn("nats: disconnected (%s%s), reconnecting", cs->b->name, cs->label);
}

static void on_reconnected(natsConnection *nc, void *closure) {
    conn_state_t *cs = closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    log_info("nats: reconnected (%s%s) to %s", cs->b->name, cs->label, url);
    atomic_fetch_add(&cs->reconnects, 1);
}

static void on_closed(natsConnection *nc, void *closure) {
    (void)nc;
    conn_state_t *cs = closure;
    bus_t *b = cs->b;
    if (!atomic_load(&b->closing)) log_warn("nats: connection closed (%s%s)", b->name, cs->label);
    pthread_mutex_lock(&b->cb_mu);
    cs->closed = 1;
    pthread_cond_broadcast(&b->cb_cv);
    pthread_mutex_unlock(&b->cb_mu);
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err,
                           void *closure) {
    (void)nc;
    (void)sub;
    conn_state_t *cs = closure;
    log_warn("nats: asynchronous error (%s%s): %s", cs->b->name, cs->label,
             natsStatus_GetText(err));
}

/* Waits (up to 10 s) for the closed callback of cs's connection; 0 if it did not come. */
static int wait_closed(conn_state_t *cs) {
    bus_t *b = cs->b;
    struct timespec ts;
    int rc = 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&b->cb_mu);
    while (!cs->closed && rc == 0)
        rc = pthread_cond_timedwait(&b->cb_cv, &b->cb_mu, &ts);
    int closed = cs->closed;
    pthread_mutex_unlock(&b->cb_mu);
    if (!closed)
        log_error("nats: no close notification for %s%s; leaking its state", b->name, cs->label);
    return closed;
}

static void free_bus(bus_t *b) {
    natsOptions_Destroy(b->stream_opts);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->cb_mu);
    pthread_mutex_destroy(&b->batch_mu);
    pthread_mutex_destroy(&b->batch_state_mu);
    pthread_cond_destroy(&b->cb_cv);
    free(b);
}

/* url: one URL, or a comma-separated list (RECIPROCAL_NATS_URL="nats://a:4222,nats://b:4222"),
 * given to natsOptions_SetServers: the connect tries every listed server, so a process starts
 * while any one of them is up (natsOptions_SetURL takes exactly one URL). */
static natsStatus set_servers(natsOptions *opts, const char *url) {
    if (!strchr(url, ',')) return natsOptions_SetURL(opts, url);
    char *copy = strdup(url), *save = NULL;
    const char *list[64];
    int n = 0;
    if (!copy) return NATS_NO_MEMORY;
    for (char *t = strtok_r(copy, ", ", &save); t && n < 64; t = strtok_r(NULL, ", ", &save))
        list[n++] = t;
    natsStatus s = n > 0 ? natsOptions_SetServers(opts, list, n) : NATS_INVALID_ARG;
    free(copy); /* natsOptions_SetServers copies the strings */
    return s;
}

bus_t *bus_connect(const char *url, const char *name, err_t *e) {
    return bus_connect_auth(url, name, NULL, NULL, e);
}

/* The reply inbox of a user's requests: `_INBOX.<user>.` (user reduced to subject-token
 * characters), so its NATS permissions grant it its own replies only (docs/security.md N1). */
static void inbox_prefix(const char *user, char *out, size_t cap) {
    size_t n = (size_t)snprintf(out, cap, "_INBOX.");
    for (const char *p = user; *p && n + 2 < cap; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_';
        out[n++] = ok ? ch : '_';
    }
    out[n] = '\0';
}

/* The options of one of b's connections (cs: its callbacks' closure; asap: nats.c's
 * send-as-soon-as-possible, else its flusher thread writes what accumulated within 1 ms). */
static natsStatus conn_options(bus_t *b, conn_state_t *cs, const char *url, const char *user,
                               const char *password, int asap, natsOptions **out) {
    natsOptions *opts = NULL;
    char name[160];
    snprintf(name, sizeof name, "%s%s", b->name, asap ? "" : "-stream");
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK) s = set_servers(opts, url);
    if (s == NATS_OK) s = natsOptions_SetName(opts, name);
    if (s == NATS_OK && user && *user) {
        s = natsOptions_SetUserInfo(opts, user, password ? password : "");
        if (s == NATS_OK) s = natsOptions_SetCustomInboxPrefix(opts, b->inbox_prefix);
    }
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, true);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1); /* forever */
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 500);
    /* A paused (connected but silent) server is noticed after MaxPingsOut unanswered pings:
     * 2 x 2 s, then failover, instead of 2 x 20 s during which every request and publish
     * stalled (issue 17 item 9; measured in test_gray_failure). Cost: one PING/PONG per
     * connection every 2 s. */
    if (s == NATS_OK) s = natsOptions_SetPingInterval(opts, 2000);
    if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts, 2);
    /* Measured: request latency 1 ms -> 130 us p50 with send-as-soon-as-possible (a reply is a
     * plain publish: without it nats.c's flusher sends it up to 1 ms later). */
    if (s == NATS_OK) s = natsOptions_SetSendAsap(opts, asap ? true : false);
    /* While disconnected, requests fail at once instead of waiting for their timeout. */
    if (s == NATS_OK) s = natsOptions_SetFailRequestsOnDisconnect(opts, true);
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, on_disconnected, cs);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, on_reconnected, cs);
    if (s == NATS_OK) s = natsOptions_SetClosedCB(opts, on_closed, cs);
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts, on_async_error, cs);
    if (s != NATS_OK) {
        natsOptions_Destroy(opts);
        return s;
    }
    *out = opts;
    return NATS_OK;
}

static void conn_state_init(conn_state_t *cs, bus_t *b, const char *label) {
    cs->b = b;
    cs->label = label;
    atomic_init(&cs->reconnects, 0);
    atomic_init(&cs->disconnects, 0);
    cs->closed = 0;
}

bus_t *bus_connect_auth(const char *url, const char *name, const char *user, const char *password,
                        err_t *e) {
    if (!url || !*url) {
        err_set(e, 500, "internal", "", "NATS URL is empty");
        return NULL;
    }
    bus_t *b = calloc(1, sizeof *b);
    natsOptions *opts = NULL;
    natsStatus s;
    if (!b) {
        err_set(e, 500, "internal", "", "out of memory");
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->cb_mu, NULL);
    pthread_mutex_init(&b->batch_mu, NULL);
    pthread_mutex_init(&b->batch_state_mu, NULL);
    pthread_cond_init(&b->cb_cv, NULL);
    snprintf(b->name, sizeof b->name, "%s", name && *name ? name : "reciprocal");
    snprintf(b->inbox_prefix, sizeof b->inbox_prefix, "_INBOX");
    if (user && *user) inbox_prefix(user, b->inbox_prefix, sizeof b->inbox_prefix);
    conn_state_init(&b->main_cs, b, "");
    conn_state_init(&b->stream_cs, b, " stream");

    s = conn_options(b, &b->main_cs, url, user, password, 1, &opts);
    if (s == NATS_OK) s = conn_options(b, &b->stream_cs, url, user, password, 0, &b->stream_opts);
    if (s != NATS_OK) {
        err_set(e, 500, "internal", "", "NATS options: %s", natsStatus_GetText(s));
        goto fail;
    }
    s = natsConnection_Connect(&b->nc, opts);
    if (s != NATS_OK) {
        err_set(e, 503, "unavailable", "", "cannot connect to NATS: %s", natsStatus_GetText(s));
        goto fail;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = BUS_JS_WAIT_MS;
    s = natsConnection_JetStream(&b->js, b->nc, &jo);
    if (s != NATS_OK) {
        err_set(e, 503, "unavailable", "", "JetStream context: %s", natsStatus_GetText(s));
        goto fail;
    }
    natsOptions_Destroy(opts);
    return b;
fail:
    natsOptions_Destroy(opts);
    if (b->nc) {
        atomic_store(&b->closing, 1);
        natsConnection_Close(b->nc);
        if (!wait_closed(&b->main_cs)) return NULL; /* callbacks may still use b: leak it */
        natsConnection_Destroy(b->nc);
    }
    free_bus(b);
    return NULL;
}

/* The stream connection (struct bus), connected on first use. Called with b->mu held. */
static natsConnection *stream_conn(bus_t *b, err_t *e) {
    if (b->stream) return b->stream;
    natsStatus s = natsConnection_Connect(&b->stream, b->stream_opts);
    if (s != NATS_OK) {
        b->stream = NULL;
        err_set(e, 503, "unavailable", "", "cannot connect to NATS (stream connection): %s",
                natsStatus_GetText(s));
        return NULL;
    }
    return b->stream;
}

void bus_close(bus_t *b) {
    if (!b) return;
    atomic_store(&b->closing, 1);
    pthread_mutex_lock(&b->mu);
    serve_ctx_t *serves = b->serves;
    pull_ctx_t *pulls = b->pulls;
    b->serves = NULL;
    b->pulls = NULL;
    pthread_mutex_unlock(&b->mu);

    /* Responders: stop taking requests, let queued ones finish (all subscriptions drain in
     * parallel), then free. */
    for (serve_ctx_t *c = serves; c; c = c->next)
        if (natsSubscription_DrainTimeout(c->sub, BUS_DRAIN_MS) != NATS_OK)
            natsSubscription_Unsubscribe(c->sub);
    for (serve_ctx_t *c = serves; c; c = c->next)
        natsSubscription_WaitForDrainCompletion(c->sub, BUS_DRAIN_MS + 1000);
    /* Then drain the whole connection instead of closing it at once: nats.c 3.4.1 (Debian 12)
     * frees a subscription in natsConnection_Close while its read loop may be about to lock it
     * for a message that just arrived (nats.c issue #637, fixed in 3.6), e.g. a late reply to a
     * request that timed out, which lands on the connection's shared reply subscription. A drain
     * unsubscribes everything and waits for the server to confirm (PING/PONG) before closing, so
     * no message for a live subscription can arrive during the close. Pull subscriptions are
     * unsubscribed first (a drain of a pull subscription waits for its timeout) and destroyed
     * only after the close, so the read loop never sees them freed. Their durable consumers were
     * created explicitly and are kept by the server: the next process resumes where this one
     * stopped. */
    for (pull_ctx_t *p = pulls; p; p = p->next)
        natsSubscription_Unsubscribe(p->sub);
    jsCtx_Destroy(b->js);
    pthread_mutex_lock(&b->batch_mu); /* waits for a batch in progress */
    jsCtx_Destroy(b->js_async);
    b->js_async = NULL;
    pthread_mutex_unlock(&b->batch_mu);
    if (natsConnection_DrainTimeout(b->nc, BUS_DRAIN_MS) != NATS_OK) natsConnection_Close(b->nc);
    int closed = wait_closed(&b->main_cs);
    /* the stream connection the same way (its pull subscriptions unsubscribed above; the
     * asynchronous publish context's reply subscription drained) */
    if (b->stream) {
        if (natsConnection_DrainTimeout(b->stream, BUS_DRAIN_MS) != NATS_OK)
            natsConnection_Close(b->stream);
        closed = wait_closed(&b->stream_cs) && closed;
    }
    for (pull_ctx_t *p = pulls; p; p = p->next)
        natsSubscription_Destroy(p->sub);
    for (serve_ctx_t *c = serves; c; c = c->next)
        natsSubscription_Destroy(c->sub);
    natsConnection_Destroy(b->nc);
    natsConnection_Destroy(b->stream);

    /* A delivery thread of nats.c may still be inside (or about to enter) on_request with a
     * serve_ctx_t when a drain timed out under load; free them only after nats_CloseAndWait has
     * joined the library's threads (bus_shutdown_library). */
    if (serves) {
        serve_ctx_t *last = serves;
        while (last->next)
            last = last->next;
        pthread_mutex_lock(&g_graveyard_mu);
        last->next = g_graveyard;
        g_graveyard = serves;
        pthread_mutex_unlock(&g_graveyard_mu);
    }
    while (pulls) {
        pull_ctx_t *n = pulls->next;
        pthread_mutex_destroy(&pulls->mu);
        free(pulls->inbox);
        free(pulls->next_subject);
        free(pulls->stream);
        free(pulls->durable);
        free(pulls->filter);
        free(pulls);
        pulls = n;
    }
    if (closed) free_bus(b);
}

void bus_shutdown_library(void) {
    nats_CloseAndWait(5000);
    pthread_mutex_lock(&g_graveyard_mu);
    serve_ctx_t *c = g_graveyard;
    g_graveyard = NULL;
    pthread_mutex_unlock(&g_graveyard_mu);
    while (c) {
        serve_ctx_t *n = c->next;
        free(c);
        c = n;
    }
}

int bus_connected(bus_t *b) {
    return b && natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED;
}

int bus_ping(bus_t *b, int timeout_ms, err_t *e) {
    if (!b) return err_set(e, 503, "unavailable", "", "NATS is not configured");
    natsStatus s = natsConnection_FlushTimeout(b->nc, timeout_ms > 0 ? timeout_ms : 1000);
    /* the stream connection too, once open: what it buffered (acks) is out on return */
    pthread_mutex_lock(&b->mu);
    natsConnection *sc = b->stream;
    pthread_mutex_unlock(&b->mu);
    if (s == NATS_OK && sc) s = natsConnection_FlushTimeout(sc, timeout_ms > 0 ? timeout_ms : 1000);
    if (s != NATS_OK) return nats_err(e, s, "NATS ping");
    return 0;
}

/* ---- JetStream ------------------------------------------------------------------------- */

static int subjects_equal(const jsStreamConfig *c, const char *const *subjects, int n) {
    if (c->SubjectsLen != n) return 0;
    for (int i = 0; i < n; i++)
        if (!c->Subjects[i] || strcmp(c->Subjects[i], subjects[i]) != 0) return 0;
    return 1;
}

/* JetStream's answers when a stream cannot have the replicas asked for: no cluster, or fewer
 * servers than replicas */
static int placement_refused(jsErrCode jerr) {
    return jerr == JSClusterNoPeersErr || jerr == JSInsufficientResourcesErr ||
           jerr == JSStreamReplicasNotSupportedErr;
}

/* The replica count a stream is ensured with: `arg` > 0 from the caller (exact when > 1, 1 =
 * keep an existing stream's count), else the bus's setting (bus_set_stream_replicas). *exact = 0
 * means: a new stream gets *want, an existing one is raised to it, never lowered. */
static void wanted_replicas(const bus_t *b, int arg, int *want, int *exact) {
    if (arg > 0) {
        *want = arg;
        *exact = arg > 1;
    } else if (b->replicas > 0) {
        *want = b->replicas;
        *exact = b->replicas_exact;
    } else {
        *want = 1;
        *exact = 0;
    }
}

/* Creates the stream, or updates it when its subjects, storage, duplicate window, MaxAge (0 =
 * unlimited) or replica count (wanted_replicas) differ from the wanted ones. `replicas` 0 = the
 * bus's setting. With auto replicas (not exact, > 1) a server that cannot place them (no
 * cluster, too few servers) gets 1 for a new stream and leaves an existing one as it is. */
static int ensure_stream(bus_t *b, const char *stream, const char *const *subjects, int replicas,
                         int64_t max_age_ns, int64_t dup_ns, err_t *e) {
    if (replicas < 0 || replicas > 5)
        return err_set(e, 500, "internal", "replicas", "replicas must be 1..5");
    if (dup_ns < BUS_DUP_WINDOW_NS)
        return err_set(e, 500, "internal", "duplicate_window",
                       "the duplicate window must be at least 2 minutes");
    /* JetStream requires the duplicate window to fit in MaxAge */
    if (max_age_ns < 0 || (max_age_ns > 0 && max_age_ns < dup_ns))
        return err_set(e, 500, "internal", "max_age",
                       "MaxAge must be 0 or >= the duplicate window");
    if (!b || !stream || !*stream || strpbrk(stream, ". *>\t\r\n"))
        return err_set(e, 500, "internal", "stream", "invalid stream name");
    int n = 0;
    while (subjects && subjects[n])
        n++;
    if (n == 0) return err_set(e, 500, "internal", "subjects", "stream needs subjects");
    int want = 1, exact = 0;
    wanted_replicas(b, replicas, &want, &exact);

    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream;
    cfg.Subjects = (const char **)subjects;
    cfg.SubjectsLen = n;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_LimitsPolicy;
    cfg.Duplicates = dup_ns;
    cfg.Replicas = want;
    cfg.MaxAge = max_age_ns;

    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, b->js, stream, NULL, &jerr);
    if (s == NATS_NOT_FOUND) {
        jerr = 0;
        s = js_AddStream(NULL, b->js, &cfg, NULL, &jerr);
        if (s != NATS_OK && !exact && want > 1 && placement_refused(jerr)) {
            log_warn("nats: stream %s: %d replicas cannot be placed (JetStream error %d), "
                     "creating it with 1",
                     stream, want, (int)jerr);
            cfg.Replicas = 1;
            jerr = 0;
            s = js_AddStream(NULL, b->js, &cfg, NULL, &jerr);
        }
        if (s != NATS_OK && jerr == JSStreamNameExistErr) return 0; /* another process won */
        if (s != NATS_OK) return js_err(e, s, jerr, "JetStream add stream");
        log_info("nats: created stream %s (%d replicas)", stream, (int)cfg.Replicas);
        return 0;
    }
    if (s != NATS_OK) return js_err(e, s, jerr, "JetStream stream info");
    int same = si->Config && subjects_equal(si->Config, subjects, n) &&
               si->Config->Storage == js_FileStorage && si->Config->Duplicates == dup_ns &&
               si->Config->MaxAge == max_age_ns;
    int have = si->Config && si->Config->Replicas > 0 ? (int)si->Config->Replicas : 1;
    if (!exact && have > want) cfg.Replicas = have; /* never lowered unless asked exactly */
    if (have != (int)cfg.Replicas) same = 0;
    jsStreamInfo_Destroy(si);
    if (same) return 0;
    jerr = 0;
    s = js_UpdateStream(NULL, b->js, &cfg, NULL, &jerr);
    if (s != NATS_OK && !exact && (int)cfg.Replicas > have && placement_refused(jerr)) {
        log_warn("nats: stream %s: %d replicas cannot be placed (JetStream error %d), keeping %d",
                 stream, (int)cfg.Replicas, (int)jerr, have);
        cfg.Replicas = have;
        jerr = 0;
        s = js_UpdateStream(NULL, b->js, &cfg, NULL, &jerr);
    }
    if (s != NATS_OK) return js_err(e, s, jerr, "JetStream update stream");
    log_info("nats: updated stream %s (%d replicas)", stream, (int)cfg.Replicas);
    return 0;
}

/* host:port of a server URL: without scheme and credentials */
static const char *server_hostport(const char *url) {
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    const char *at = strrchr(h, '@');
    return at ? at + 1 : h;
}

int bus_cluster_size(bus_t *b) {
    char **servers = NULL;
    int count = 0;
    if (!b || natsConnection_GetServers(b->nc, &servers, &count) != NATS_OK) return 0;
    /* distinct host:port: the listed URLs plus those the server announced */
    int distinct = 0;
    for (int i = 0; i < count; i++) {
        int dup = 0;
        for (int j = 0; j < i && !dup; j++)
            dup = strcmp(server_hostport(servers[i]), server_hostport(servers[j])) == 0;
        distinct += !dup;
    }
    for (int i = 0; i < count; i++)
        free(servers[i]);
    free(servers);
    return distinct;
}

int bus_set_stream_replicas(bus_t *b, int replicas, err_t *e) {
    if (!b) return err_set(e, 500, "internal", "bus", "missing bus");
    if (replicas < 0 || replicas > 5)
        return err_set(e, 500, "internal", "replicas", "replicas must be auto (0) or 1..5");
    if (replicas > 0) {
        b->replicas = replicas;
        b->replicas_exact = 1;
        return replicas;
    }
    int n = bus_cluster_size(b);
    b->replicas = n >= 3 ? 3 : 1;
    b->replicas_exact = 0;
    log_info("nats: %d server(s) known, streams get %d replica(s) (auto)", n, b->replicas);
    return b->replicas;
}

int bus_ensure_stream(bus_t *b, const char *stream, const char *const *subjects, err_t *e) {
    return ensure_stream(b, stream, subjects, 0, 0, BUS_DUP_WINDOW_NS, e);
}

int bus_ensure_stream_replicas(bus_t *b, const char *stream, const char *const *subjects,
                               int replicas, err_t *e) {
    if (replicas < 1) return err_set(e, 500, "internal", "replicas", "replicas must be 1..5");
    return ensure_stream(b, stream, subjects, replicas, 0, BUS_DUP_WINDOW_NS, e);
}

int bus_ensure_stream_max_age(bus_t *b, const char *stream, const char *const *subjects,
                              int64_t max_age_ns, err_t *e) {
    return ensure_stream(b, stream, subjects, 0, max_age_ns, BUS_DUP_WINDOW_NS, e);
}

int bus_ensure_stream_window(bus_t *b, const char *stream, const char *const *subjects,
                             int64_t max_age_ns, int64_t dup_window_ns, err_t *e) {
    return ensure_stream(b, stream, subjects, 0, max_age_ns, dup_window_ns, e);
}

/* The configuration of a stream through `get` (one field of it). */
static int stream_config_value(bus_t *b, const char *stream, int64_t *v,
                               int64_t (*get)(const jsStreamConfig *), err_t *e) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    if (!b || !stream || !v) return err_set(e, 500, "internal", "stream", "missing argument");
    natsStatus s = js_GetStreamInfo(&si, b->js, stream, NULL, &jerr);
    if (s != NATS_OK) return js_err(e, s, jerr, "JetStream stream info");
    *v = si->Config ? get(si->Config) : 0;
    jsStreamInfo_Destroy(si);
    return 0;
}
static int64_t cfg_duplicates(const jsStreamConfig *c) {
    return c->Duplicates;
}
static int64_t cfg_max_age(const jsStreamConfig *c) {
    return c->MaxAge;
}

int bus_js_stream_dup_window(bus_t *b, const char *stream, int64_t *dup_window_ns, err_t *e) {
    return stream_config_value(b, stream, dup_window_ns, cfg_duplicates, e);
}

int bus_js_stream_max_age(bus_t *b, const char *stream, int64_t *max_age_ns, err_t *e) {
    return stream_config_value(b, stream, max_age_ns, cfg_max_age, e);
}

int bus_js_stream_leader(bus_t *b, const char *stream, char *leader, size_t cap, int *replicas,
                         err_t *e) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    if (!b || !stream || !leader || cap == 0)
        return err_set(e, 500, "internal", "stream", "missing argument");
    leader[0] = 0;
    natsStatus s = js_GetStreamInfo(&si, b->js, stream, NULL, &jerr);
    if (s != NATS_OK) return js_err(e, s, jerr, "JetStream stream info");
    if (si->Cluster && si->Cluster->Leader) snprintf(leader, cap, "%s", si->Cluster->Leader);
    if (replicas) *replicas = si->Config ? (int)si->Config->Replicas : 0;
    jsStreamInfo_Destroy(si);
    return 0;
}

int bus_js_publish(bus_t *b, const char *subject, const char *msg_id, const void *data, size_t len,
                   int *duplicate, err_t *e) {
    natsMsg *m = NULL;
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    natsStatus s;
    if (duplicate) *duplicate = 0;
    if (!b) return err_set(e, 503, "unavailable", "", "NATS is not configured");
    if (!subject || !*subject || len > (size_t)64 * 1024 * 1024)
        return err_set(e, 500, "internal", "subject", "invalid publish");
    s = natsMsg_Create(&m, subject, NULL, (const char *)data, (int)len);
    if (s == NATS_OK && msg_id && *msg_id) s = natsMsgHeader_Set(m, BUS_HDR_MSG_ID, msg_id);
    if (s == NATS_OK && *log_request_id())
        s = natsMsgHeader_Set(m, BUS_HDR_REQUEST_ID, log_request_id());
    if (s == NATS_OK && *log_trace_id()) s = natsMsgHeader_Set(m, BUS_HDR_TRACE_ID, log_trace_id());
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return err_set(e, 500, "internal", "", "NATS message: %s", natsStatus_GetText(s));
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = BUS_JS_WAIT_MS;
    s = js_PublishMsg(&pa, b->js, m, &po, &jerr);
    natsMsg_Destroy(m);
    if (s != NATS_OK) {
        jsPubAck_Destroy(pa);
        return js_err(e, s, jerr, "JetStream publish");
    }
    if (duplicate) *duplicate = pa && pa->Duplicate ? 1 : 0;
    jsPubAck_Destroy(pa);
    return 0;
}

/* ---- batched publish ------------------------------------------------------------------- */

/* nats.c calls this (before it counts the message as no longer pending) for every message of
 * an asynchronous publish that JetStream refused or that found no stream. */
static void on_async_publish_error(jsCtx *js, jsPubAckErr *pae, void *closure) {
    (void)js;
    bus_t *b = closure;
    const char *id = NULL;
    if (pae->Msg) natsMsgHeader_Get(pae->Msg, BUS_HDR_MSG_ID, &id);
    pthread_mutex_lock(&b->batch_state_mu);
    for (int i = 0; id && i < b->batch_n; i++)
        if (strcmp(b->batch_msgs[i].msg_id, id) == 0) {
            b->batch_ok[i] = 0;
            break;
        }
    if (!b->batch_err[0])
        snprintf(b->batch_err, sizeof b->batch_err, "%s",
                 pae->ErrText && *pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
    pthread_mutex_unlock(&b->batch_state_mu);
}

/* The asynchronous publish context, on the stream connection (its publishes leave in large
 * writes). Called with b->batch_mu held. */
static int batch_ctx(bus_t *b, err_t *e) {
    if (b->js_async) return 0;
    pthread_mutex_lock(&b->mu);
    natsConnection *sc = stream_conn(b, e);
    pthread_mutex_unlock(&b->mu);
    if (!sc) return -1;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = BUS_JS_WAIT_MS;
    jo.PublishAsync.MaxPending = BUS_MAX_BATCH;
    jo.PublishAsync.ErrHandler = on_async_publish_error;
    jo.PublishAsync.ErrHandlerClosure = b;
    natsStatus s = natsConnection_JetStream(&b->js_async, sc, &jo);
    if (s != NATS_OK) return nats_err(e, s, "JetStream context");
    return 0;
}

int bus_js_publish_batch(bus_t *b, const bus_batch_msg_t *msgs, int n, int *ok, err_t *e) {
    if (!b) return err_set(e, 503, "unavailable", "", "NATS is not configured");
    if (n < 0 || n > BUS_MAX_BATCH || (n > 0 && (!msgs || !ok)))
        return err_set(e, 500, "internal", "", "bus_js_publish_batch: 0..%d messages",
                       BUS_MAX_BATCH);
    for (int i = 0; i < n; i++) {
        ok[i] = 0;
        if (!msgs[i].subject || !*msgs[i].subject || !msgs[i].msg_id || !*msgs[i].msg_id ||
            msgs[i].len > (size_t)64 * 1024 * 1024)
            return err_set(e, 500, "internal", "", "bus_js_publish_batch: message %d invalid", i);
    }
    if (n == 0) return 0;
    pthread_mutex_lock(&b->batch_mu);
    if (batch_ctx(b, e) < 0) {
        pthread_mutex_unlock(&b->batch_mu);
        return -1;
    }
    pthread_mutex_lock(&b->batch_state_mu);
    for (int i = 0; i < n; i++)
        ok[i] = 1;
    b->batch_msgs = msgs;
    b->batch_ok = ok;
    b->batch_n = n;
    b->batch_err[0] = '\0';
    pthread_mutex_unlock(&b->batch_state_mu);

    natsStatus s = NATS_OK;
    int sent = 0;
    for (; sent < n && s == NATS_OK; sent++) {
        natsMsg *m = NULL;
        s = natsMsg_Create(&m, msgs[sent].subject, NULL, msgs[sent].data, (int)msgs[sent].len);
        if (s == NATS_OK) s = natsMsgHeader_Set(m, BUS_HDR_MSG_ID, msgs[sent].msg_id);
        if (s == NATS_OK) s = js_PublishMsgAsync(b->js_async, &m, NULL); /* takes m on success */
        natsMsg_Destroy(m);
        if (s != NATS_OK) break;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = BUS_JS_WAIT_MS;
    natsStatus w = js_PublishAsyncComplete(b->js_async, &po);
    if (w != NATS_OK) {
        /* Acks still missing: forget them (a late ack then finds nothing) and count the whole
         * batch as failed; republishing is harmless, JetStream drops the copies by msg id. */
        natsMsgList pending = {0};
        if (js_PublishAsyncGetPendingList(&pending, b->js_async) == NATS_OK)
            natsMsgList_Destroy(&pending);
    }

    pthread_mutex_lock(&b->batch_state_mu);
    int good = 0;
    for (int i = 0; i < n; i++) {
        if (i >= sent || w != NATS_OK) ok[i] = 0;
        good += ok[i];
    }
    char why[256];
    snprintf(why, sizeof why, "%s", b->batch_err);
    b->batch_msgs = NULL;
    b->batch_ok = NULL;
    b->batch_n = 0;
    pthread_mutex_unlock(&b->batch_state_mu);
    pthread_mutex_unlock(&b->batch_mu);

    if (good == n) return 0;
    if (s != NATS_OK) return nats_err(e, s, "JetStream publish");
    if (w != NATS_OK)
        return err_set(e, 503, "unavailable", "",
                       "JetStream did not acknowledge %d message(s) in time", n - good);
    return err_set(e, 503, "unavailable", "", "JetStream refused %d of %d message(s): %s", n - good,
                   n, why);
}

/* ---- request / reply ------------------------------------------------------------------- */

int bus_request(bus_t *b, const char *subject, const void *data, size_t len, int timeout_ms,
                char **reply, size_t *reply_len, err_t *e) {
    natsMsg *m = NULL, *r = NULL;
    natsStatus s;
    *reply = NULL;
    if (reply_len) *reply_len = 0;
    if (!b) return err_set(e, 503, "unavailable", "", "NATS is not configured");
    if (!subject || !*subject || len > (size_t)64 * 1024 * 1024)
        return err_set(e, 500, "internal", "subject", "invalid request");
    /* While reconnecting nats.c would buffer the request and the caller would wait for the
     * whole timeout: answer at once instead (requests in flight at the moment of a disconnect
     * fail at once too, natsOptions_SetFailRequestsOnDisconnect). */
    if (natsConnection_Status(b->nc) != NATS_CONN_STATUS_CONNECTED)
        return err_set(e, 503, "unavailable", "", "messaging is not connected (reconnecting)");
    s = natsMsg_Create(&m, subject, NULL, (const char *)data, (int)len);
    if (s == NATS_OK && *log_request_id())
        s = natsMsgHeader_Set(m, BUS_HDR_REQUEST_ID, log_request_id());
    if (s == NATS_OK && *log_trace_id()) s = natsMsgHeader_Set(m, BUS_HDR_TRACE_ID, log_trace_id());
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return err_set(e, 500, "internal", "", "NATS message: %s", natsStatus_GetText(s));
    }
    s = natsConnection_RequestMsg(&r, b->nc, m, timeout_ms > 0 ? timeout_ms : 5000);
    natsMsg_Destroy(m);
    if (s != NATS_OK) {
        natsMsg_Destroy(r);
        if (s == NATS_TIMEOUT)
            return err_set(e, 504, "timeout", "", "no reply from %s in time", subject);
        if (s == NATS_NO_RESPONDERS)
            return err_set(e, 503, "unavailable", "", "no service is answering %s", subject);
        return nats_err(e, s, "NATS request");
    }
    int n = natsMsg_GetDataLength(r);
    char *out = malloc((size_t)n + 1);
    if (!out) {
        natsMsg_Destroy(r);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    if (n > 0) memcpy(out, natsMsg_GetData(r), (size_t)n);
    out[n] = '\0';
    natsMsg_Destroy(r);
    *reply = out;
    if (reply_len) *reply_len = (size_t)n;
    return 0;
}

/* Copies a header into the log context only when it is short and printable. */
static const char *safe_header(natsMsg *m, const char *key) {
    const char *v = NULL;
    if (natsMsgHeader_Get(m, key, &v) != NATS_OK || !v) return NULL;
    size_t n = strlen(v);
    if (n == 0 || n > 128) return NULL;
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0x21 || v[i] > 0x7e) return NULL;
    return v;
}

static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)sub;
    serve_ctx_t *c = closure;
    const char *reply_to = natsMsg_GetReply(msg);
    if (!reply_to || !*reply_to) {
        log_debug("nats: request on %s without reply subject dropped", natsMsg_GetSubject(msg));
        natsMsg_Destroy(msg);
        return;
    }
    log_set_context(safe_header(msg, BUS_HDR_REQUEST_ID), safe_header(msg, BUS_HDR_TRACE_ID));
    size_t out_len = 0;
    const char *data = natsMsg_GetData(msg); /* nats.c NUL-terminates received payloads */
    char *out = c->fn(natsMsg_GetSubject(msg), data ? data : "", (size_t)natsMsg_GetDataLength(msg),
                      &out_len, c->ud);
    if (!out) out_len = 0;
    natsStatus s = natsConnection_Publish(nc, reply_to, out, (int)out_len);
    if (s != NATS_OK) log_warn("nats: cannot send reply: %s", natsStatus_GetText(s));
    free(out);
    log_clear_context();
    natsMsg_Destroy(msg);
}

int bus_serve(bus_t *b, const char *subject, const char *queue, int workers, bus_handler_fn fn,
              void *ud, err_t *e) {
    if (!b) return err_set(e, 503, "unavailable", "", "NATS is not configured");
    if (!subject || !*subject || !queue || !*queue || !fn)
        return err_set(e, 500, "internal", "", "bus_serve: subject, queue and handler needed");
    if (workers < 1) workers = 1;
    if (workers > BUS_MAX_WORKERS) workers = BUS_MAX_WORKERS;
    for (int i = 0; i < workers; i++) {
        serve_ctx_t *c = calloc(1, sizeof *c);
        if (!c) return err_set(e, 500, "internal", "", "out of memory");
        c->b = b;
        c->fn = fn;
        c->ud = ud;
        /* Each async subscription gets its own delivery thread in nats.c. */
        natsStatus s = natsConnection_QueueSubscribe(&c->sub, b->nc, subject, queue, on_request, c);
        if (s != NATS_OK) {
            free(c);
            return nats_err(e, s, "NATS subscribe");
        }
        pthread_mutex_lock(&b->mu);
        c->next = b->serves;
        b->serves = c;
        pthread_mutex_unlock(&b->mu);
    }
    /* Make sure the server has registered the interest before the caller announces itself. */
    natsStatus s = natsConnection_FlushTimeout(b->nc, 5000);
    if (s != NATS_OK) return nats_err(e, s, "NATS flush");
    return 0;
}

/* ---- broadcast ------------------------------------------------------------------------- */

int bus_publish(bus_t *b, const char *subject, const void *data, size_t len, err_t *e) {
    if (!b) return err_set(e, 503, "unavailable", "", "NATS is not configured");
    /* this process's own subscribers first, synchronously (the copy the server sends back
     * arrives later on the delivery thread) */
    char *text = malloc(len + 1);
    if (!text) return err_set(e, 500, "internal", "", "out of memory");
    memcpy(text, data, len);
    text[len] = 0;
    pthread_mutex_lock(&b->mu);
    for (serve_ctx_t *c = b->serves; c; c = c->next) {
        size_t out_len = 0;
        if (c->broadcast[0] && strcmp(c->broadcast, subject) == 0)
            free(c->fn(subject, text, len, &out_len, c->ud));
    }
    pthread_mutex_unlock(&b->mu);
    free(text);
    natsStatus s = natsConnection_Publish(b->nc, subject, data, (int)len);
    if (s == NATS_OK) s = natsConnection_FlushTimeout(b->nc, 1000);
    return s == NATS_OK ? 0 : nats_err(e, s, "NATS publish");
}

static void on_broadcast(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)nc;
    (void)sub;
    serve_ctx_t *c = closure;
    size_t out_len = 0;
    const char *data = natsMsg_GetData(msg); /* NUL-terminated by nats.c */
    free(c->fn(natsMsg_GetSubject(msg), data ? data : "", (size_t)natsMsg_GetDataLength(msg),
               &out_len, c->ud));
    natsMsg_Destroy(msg);
}

int bus_subscribe(bus_t *b, const char *subject, bus_handler_fn fn, void *ud, err_t *e) {
    if (!b) return err_set(e, 503, "unavailable", "", "NATS is not configured");
    if (!subject || !*subject || !fn || strlen(subject) >= sizeof((serve_ctx_t){0}.broadcast) ||
        strpbrk(subject, "*>"))
        return err_set(e, 500, "internal", "", "bus_subscribe: a literal subject and a handler");
    serve_ctx_t *c = calloc(1, sizeof *c); /* kept with the responders: bus_close frees it */
    if (!c) return err_set(e, 500, "internal", "", "out of memory");
    c->b = b;
    c->fn = fn;
    c->ud = ud;
    snprintf(c->broadcast, sizeof c->broadcast, "%s", subject);
    natsStatus s = natsConnection_Subscribe(&c->sub, b->nc, subject, on_broadcast, c);
    if (s != NATS_OK) {
        free(c);
        return nats_err(e, s, "NATS subscribe");
    }
    pthread_mutex_lock(&b->mu);
    c->next = b->serves;
    b->serves = c;
    pthread_mutex_unlock(&b->mu);
    s = natsConnection_FlushTimeout(b->nc, 5000); /* the interest is registered on return */
    return s == NATS_OK ? 0 : nats_err(e, s, "NATS flush");
}

unsigned long bus_reconnects(bus_t *b) {
    return b ? atomic_load(&b->main_cs.reconnects) : 0;
}

/* Changes at every disconnect and reconnect of the stream connection, which carries the pull
 * consumers (both callbacks run on nats.c's thread, a little after the fact). */
static unsigned long conn_gen(bus_t *b) {
    return atomic_load(&b->stream_cs.disconnects) + atomic_load(&b->stream_cs.reconnects);
}

/* ---- pull consumers -------------------------------------------------------------------- */

static int valid_durable(const char *s) {
    if (!s || !*s || strlen(s) > 128) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* Finds or creates the cached pull subscription (on the stream connection); the durable
 * consumer is created explicitly (not by js_PullSubscribe) so unsubscribing never deletes it.
 * Called with b->mu held. */
static pull_ctx_t *pull_get(bus_t *b, const char *stream, const char *durable, const char *filter,
                            err_t *e) {
    for (pull_ctx_t *p = b->pulls; p; p = p->next)
        if (strcmp(p->stream, stream) == 0 && strcmp(p->durable, durable) == 0) {
            if (strcmp(p->filter, filter) != 0) {
                err_set(e, 500, "internal", "filter",
                        "consumer %s already bound with another filter", durable);
                return NULL;
            }
            return p;
        }
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, b->js, stream, durable, NULL, &jerr);
    if (s == NATS_OK && ci->Config && ci->Config->FilterSubject &&
        strcmp(ci->Config->FilterSubject, filter) != 0) {
        jsConsumerInfo_Destroy(ci);
        err_set(e, 500, "internal", "filter", "consumer %s exists with another filter", durable);
        return NULL;
    }
    jsConsumerInfo_Destroy(ci);
    ci = NULL;
    if (s == NATS_NOT_FOUND) {
        jsConsumerConfig cc;
        jsConsumerConfig_Init(&cc);
        cc.Durable = durable;
        cc.FilterSubject = filter;
        cc.AckPolicy = js_AckExplicit;
        cc.DeliverPolicy = js_DeliverAll;
        cc.AckWait = 30LL * 1000 * 1000 * 1000;
        jerr = 0;
        s = js_AddConsumer(NULL, b->js, stream, &cc, NULL, &jerr);
        /* Another process may have created it meanwhile: that is fine. */
        if (s != NATS_OK && jerr != JSConsumerNameExistErr && jerr != JSConsumerExistingActiveErr) {
            js_err(e, s, jerr, "JetStream add consumer");
            return NULL;
        }
        s = NATS_OK;
    }
    if (s != NATS_OK) {
        js_err(e, s, jerr, "JetStream consumer info");
        return NULL;
    }
    if (!stream_conn(b, e)) return NULL;
    pull_ctx_t *p = calloc(1, sizeof *p);
    if (!p) {
        err_set(e, 500, "internal", "", "out of memory");
        return NULL;
    }
    p->stream = strdup(stream);
    p->durable = strdup(durable);
    p->filter = strdup(filter);
    if (!p->stream || !p->durable || !p->filter) {
        err_set(e, 500, "internal", "", "out of memory");
        goto fail;
    }
    /* natsInbox_Create gives "_INBOX.<nuid>"; the connection's own prefix replaces "_INBOX", so
     * the NATS permissions of a user (its own _INBOX.<user>.> only) cover it. */
    natsInbox *inbox = NULL;
    s = natsInbox_Create(&inbox);
    if (s == NATS_OK) {
        const char *nuid = strrchr(inbox, '.');
        nuid = nuid ? nuid + 1 : inbox;
        size_t cap = strlen(b->inbox_prefix) + strlen(nuid) + 4;
        size_t ncap = strlen(stream) + strlen(durable) + 40;
        p->inbox = malloc(cap);
        char *wild = malloc(cap);
        p->next_subject = malloc(ncap);
        if (!p->inbox || !wild || !p->next_subject) {
            natsInbox_Destroy(inbox);
            free(wild);
            err_set(e, 500, "internal", "", "out of memory");
            goto fail;
        }
        snprintf(p->inbox, cap, "%s.%s", b->inbox_prefix, nuid);
        snprintf(wild, cap, "%s.*", p->inbox);
        snprintf(p->next_subject, ncap, "$JS.API.CONSUMER.MSG.NEXT.%s.%s", stream, durable);
        s = natsConnection_SubscribeSync(&p->sub, b->stream, wild);
        free(wild);
    }
    natsInbox_Destroy(inbox);
    if (s != NATS_OK) {
        nats_err(e, s, "JetStream pull subscription");
        goto fail;
    }
    pthread_mutex_init(&p->mu, NULL);
    p->gen = conn_gen(b);
    p->next = b->pulls;
    b->pulls = p;
    return p;
fail:
    free(p->inbox);
    free(p->next_subject);
    free(p->stream);
    free(p->durable);
    free(p->filter);
    free(p);
    return NULL;
}

static long long pull_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pull_list_free(pull_list_t *l) {
    for (int i = 0; l->msgs && i < l->n; i++)
        natsMsg_Destroy(l->msgs[i]);
    free(l->msgs);
    l->msgs = NULL;
    l->n = 0;
}

/* The status code of a JetStream status message ("404", "408", "409", ...), NULL for a message. */
static const char *pull_status(natsMsg *m) {
    const char *st = NULL;
    if (natsMsg_GetDataLength(m) > 0) return NULL;
    if (natsMsgHeader_Get(m, "Status", &st) != NATS_OK || !st) return NULL;
    return st;
}

/* Sends one pull request for want messages with reply subject <inbox>.<n> (written to reply):
 * no_wait asks for what is there now (a 404 when nothing is), else the server holds the request
 * up to expires_ms. */
static natsStatus pull_request(bus_t *b, pull_ctx_t *p, int want, long long expires_ms, int no_wait,
                               char *reply, size_t cap) {
    char body[128];
    if (expires_ms < 1) expires_ms = 1;
    long long ns = (expires_ms >= 20 ? expires_ms - 10 : expires_ms) * 1000000LL;
    snprintf(reply, cap, "%s.%llu", p->inbox, ++p->n_req);
    snprintf(body, sizeof body, "{\"batch\":%d,\"expires\":%lld%s}", want, ns,
             no_wait ? ",\"no_wait\":true" : "");
    return natsConnection_PublishRequestString(b->stream, p->next_subject, reply, body);
}

/* Takes the messages queued on the inbox without waiting (late answers to earlier requests), up
 * to max in l; their status messages are dropped. */
static void pull_leftovers(pull_ctx_t *p, pull_list_t *l, int max) {
    while (l->n < max) {
        int queued = 0, bytes = 0;
        if (natsSubscription_GetPending(p->sub, &queued, &bytes) != NATS_OK || queued <= 0) return;
        natsMsg *m = NULL;
        if (natsSubscription_NextMsg(&m, p->sub, 1) != NATS_OK) return;
        if (pull_status(m))
            natsMsg_Destroy(m);
        else
            l->msgs[l->n++] = m;
    }
}

/* Reads the answer to the request with reply subject reply into l until l holds max messages,
 * the request is over (its status message) or deadline_ms passes. *status gets the request's
 * status code ("" when none came). 0, or -1 + e when NATS fails. */
static int pull_read(pull_ctx_t *p, pull_list_t *l, int max, const char *reply,
                     long long deadline_ms, char status[8], err_t *e) {
    status[0] = '\0';
    while (l->n < max) {
        long long left = deadline_ms - pull_now_ms();
        if (left <= 0) return 0;
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_NextMsg(&m, p->sub, left);
        if (s == NATS_TIMEOUT) return 0;
        if (s != NATS_OK) return nats_err(e, s, "JetStream pull");
        const char *st = pull_status(m);
        if (!st) {
            l->msgs[l->n++] = m;
            continue;
        }
        int mine = strcmp(natsMsg_GetSubject(m), reply) == 0;
        if (mine) {
            snprintf(status, 8, "%s", st);
            if (strcmp(st, "404") != 0 && strcmp(st, "408") != 0) {
                const char *desc = NULL;
                natsMsgHeader_Get(m, "Description", &desc);
                log_debug("nats: pull request of %s answered %s %s", p->durable, st,
                          desc ? desc : "");
            }
        }
        natsMsg_Destroy(m);
        if (mine) return 0;
    }
    return 0;
}

/* One round: a no_wait request for the rest of max (answered at once); when l then still holds
 * only base messages, a request held by the server until deadline_ms. 0 or -1 + e. */
static int pull_round(bus_t *b, pull_ctx_t *p, pull_list_t *l, int max, int base,
                      long long deadline_ms, err_t *e) {
    char reply[256], status[8];
    long long left = deadline_ms - pull_now_ms();
    natsStatus s = pull_request(b, p, max - l->n, left, 1, reply, sizeof reply);
    if (s != NATS_OK) return nats_err(e, s, "JetStream pull request");
    if (pull_read(p, l, max, reply, deadline_ms, status, e) != 0) return -1;
    if (l->n > base || strcmp(status, "404") != 0) return 0;
    left = deadline_ms - pull_now_ms();
    if (left <= 0) return 0;
    s = pull_request(b, p, max - l->n, left, 0, reply, sizeof reply);
    if (s != NATS_OK) return nats_err(e, s, "JetStream pull request");
    return pull_read(p, l, max, reply, deadline_ms, status, e);
}

/* Lingering: once l holds a message, one request for the rest of max held by the server until
 * deadline_ms (it answers at once with what is there, then with what comes), read until l holds
 * max, the request ends or deadline_ms passes. 0 or -1 + e. */
static int pull_gather(bus_t *b, pull_ctx_t *p, pull_list_t *l, int max, long long deadline_ms,
                       err_t *e) {
    char reply[256], status[8];
    long long left = deadline_ms - pull_now_ms();
    if (l->n >= max || left <= 0) return 0;
    natsStatus s = pull_request(b, p, max - l->n, left, 0, reply, sizeof reply);
    if (s != NATS_OK) return nats_err(e, s, "JetStream pull request");
    return pull_read(p, l, max, reply, deadline_ms, status, e);
}

/* Fetches from the durable pull consumer (created on first use) into l (allocated here, room for
 * max; free with pull_list_free). idle_ms 0: up to max messages within timeout_ms (what is there
 * at once, else what comes until timeout_ms). idle_ms > 0: waits up to idle_ms for one message
 * (a request held by the server: no traffic while nothing comes), then takes up to max - 1 more,
 * waiting at most timeout_ms for them. linger (with idle_ms > 0): after that first message,
 * keeps taking messages until l holds max or timeout_ms have passed since it (pull_gather), even
 * when more came at once. 1 when messages came, 0 when none, -1 + e. */
static int pull_fetch(bus_t *b, const char *stream, const char *durable, const char *filter,
                      int max, int idle_ms, int timeout_ms, int linger, pull_list_t *l, err_t *e) {
    l->msgs = NULL;
    l->n = 0;
    l->stale = 0;
    if (!b) return err_set(e, 503, "unavailable", "", "NATS is not configured");
    if (!stream || !*stream || !valid_durable(durable) || !filter || !*filter)
        return err_set(e, 500, "internal", "", "JetStream fetch: stream, durable, filter needed");
    if (max < 1) max = 1;
    if (max > BUS_MAX_FETCH) max = BUS_MAX_FETCH;
    if (timeout_ms < 1) timeout_ms = 1;

    pthread_mutex_lock(&b->mu);
    pull_ctx_t *p = pull_get(b, stream, durable, filter, e);
    pthread_mutex_unlock(&b->mu);
    if (!p) return -1;
    l->msgs = calloc((size_t)max, sizeof *l->msgs);
    if (!l->msgs) return err_set(e, 500, "internal", "", "out of memory");

    int rc = 0;
    pthread_mutex_lock(&p->mu);
    l->gen = conn_gen(b);
    pull_leftovers(p, l, max);
    if (p->gen != l->gen) l->stale = l->n; /* a disconnect since the last fetch began */
    p->gen = l->gen;
    if (linger && idle_ms > 0) {
        if (l->n == 0) rc = pull_round(b, p, l, 1, 0, pull_now_ms() + idle_ms, e);
        if (rc == 0 && l->n > 0) rc = pull_gather(b, p, l, max, pull_now_ms() + timeout_ms, e);
    } else if (idle_ms > 0 && l->n == 0) {
        rc = pull_round(b, p, l, 1, 0, pull_now_ms() + idle_ms, e);
        /* the first message came: wait up to timeout_ms for more when none is there at once */
        if (rc == 0 && l->n == 1 && max > 1)
            rc = pull_round(b, p, l, max, 1, pull_now_ms() + timeout_ms, e);
    } else if (l->n < max && (idle_ms <= 0 || l->n > 0)) {
        rc = pull_round(b, p, l, max, 0, pull_now_ms() + timeout_ms, e);
    }
    pthread_mutex_unlock(&p->mu);
    if (rc != 0 && l->n == 0) {
        pull_list_free(l);
        return -1;
    }
    if (l->n == 0) {
        pull_list_free(l);
        return 0;
    }
    return 1;
}

/* Acknowledges (+ACK) or rejects for redelivery (-NAK) message i of l (pull_fetch). A service's
 * NATS user acks through nats-server's reply permissions (allow_responses: only the reply
 * subject of a message delivered on this connection, once; docs/architecture.md "Event consumers"),
 * so after a disconnect nothing is sent for a message of an earlier connection: nats-server
 * would refuse it ("Not Permitted"). Such a message is delivered again after the consumer's
 * AckWait (30 s) and its consumer's inbox skips it when it was applied. */
static void pull_ack(bus_t *b, const pull_list_t *l, int i, int ok) {
    const char *reply = natsMsg_GetReply(l->msgs[i]);
    if (!reply || !*reply) return;
    if (i < l->stale || conn_gen(b) != l->gen ||
        natsConnection_Status(b->stream) != NATS_CONN_STATUS_CONNECTED) {
        log_debug("nats: %s of a message of an earlier connection not sent", ok ? "ack" : "nak");
        return;
    }
    /* buffered: the stream connection's flusher sends a batch's acks in a few writes */
    natsStatus s = natsConnection_PublishString(b->stream, reply, ok ? "+ACK" : "-NAK");
    if (s != NATS_OK) log_warn("nats: cannot ack/nak message: %s", natsStatus_GetText(s));
}

int bus_js_fetch(bus_t *b, const char *stream, const char *durable, const char *filter, int max,
                 int timeout_ms, bus_msg_fn fn, void *ud, err_t *e) {
    if (!fn) return err_set(e, 500, "internal", "", "bus_js_fetch: a message function is needed");
    pull_list_t list;
    int got = pull_fetch(b, stream, durable, filter, max, 0, timeout_ms, 0, &list, e);
    if (got <= 0) return got;

    int handled = 0;
    for (int i = 0; i < list.n; i++) {
        natsMsg *m = list.msgs[i];
        const char *id = NULL;
        if (natsMsgHeader_Get(m, BUS_HDR_MSG_ID, &id) != NATS_OK || !id) id = "";
        const char *data = natsMsg_GetData(m);
        int rc =
            fn(natsMsg_GetSubject(m), id, data ? data : "", (size_t)natsMsg_GetDataLength(m), ud);
        handled++;
        pull_ack(b, &list, i, rc == 0);
    }
    pull_list_free(&list);
    return handled;
}

/* ---- ledger ordering helpers (fenced publish, direct get, batch fetch) ------------------ */

int bus_js_publish_expect(bus_t *b, const char *subject, const char *msg_id, const void *data,
                          size_t len, unsigned long long expected_last_seq, unsigned long long *seq,
                          int *duplicate, err_t *e) {
    natsMsg *m = NULL;
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    natsStatus s;
    if (duplicate) *duplicate = 0;
    if (seq) *seq = 0;
    if (!b) return err_set(e, 503, "unavailable", "", "NATS is not configured");
    if (!subject || !*subject || len > (size_t)64 * 1024 * 1024)
        return err_set(e, 500, "internal", "subject", "invalid publish");
    s = natsMsg_Create(&m, subject, NULL, (const char *)data, (int)len);
    if (s == NATS_OK && msg_id && *msg_id) s = natsMsgHeader_Set(m, BUS_HDR_MSG_ID, msg_id);
    /* ExpectLastSeq == 0 means "no expectation" in nats.c: set the header ourselves so that
     * "the stream must be empty" can be expressed too. */
    if (s == NATS_OK) {
        char v[32];
        snprintf(v, sizeof v, "%llu", expected_last_seq);
        s = natsMsgHeader_Set(m, "Nats-Expected-Last-Sequence", v);
    }
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return err_set(e, 500, "internal", "", "NATS message: %s", natsStatus_GetText(s));
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = BUS_JS_WAIT_MS;
    s = js_PublishMsg(&pa, b->js, m, &po, &jerr);
    natsMsg_Destroy(m);
    if (s != NATS_OK) {
        jsPubAck_Destroy(pa);
        if (jerr == JSStreamWrongLastSequenceErr)
            return err_set(e, 409, "fenced", "", "JetStream publish fenced: the stream moved on");
        return js_err(e, s, jerr, "JetStream publish");
    }
    if (duplicate) *duplicate = pa && pa->Duplicate ? 1 : 0;
    if (seq && pa) *seq = pa->Sequence;
    jsPubAck_Destroy(pa);
    return 0;
}

int bus_js_get_msg(bus_t *b, const char *stream, unsigned long long seq, int *found, char **data,
                   size_t *len, err_t *e) {
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    *found = 0;
    *data = NULL;
    if (len) *len = 0;
    if (!b) return err_set(e, 503, "unavailable", "", "NATS is not configured");
    if (seq == 0) return 0;
    natsStatus s = js_GetMsg(&m, b->js, stream, seq, NULL, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
        natsMsg_Destroy(m);
        return 0;
    }
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return js_err(e, s, jerr, "JetStream get message");
    }
    int n = natsMsg_GetDataLength(m);
    char *out = malloc((size_t)n + 1);
    if (!out) {
        natsMsg_Destroy(m);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    if (n > 0) memcpy(out, natsMsg_GetData(m), (size_t)n);
    out[n] = '\0';
    natsMsg_Destroy(m);
    *data = out;
    if (len) *len = (size_t)n;
    *found = 1;
    return 0;
}

int bus_js_last_seq(bus_t *b, const char *stream, unsigned long long *last_seq, err_t *e) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    *last_seq = 0;
    if (!b) return err_set(e, 503, "unavailable", "", "NATS is not configured");
    natsStatus s = js_GetStreamInfo(&si, b->js, stream, NULL, &jerr);
    if (s != NATS_OK) return js_err(e, s, jerr, "JetStream stream info");
    *last_seq = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return 0;
}

/* Hands the messages of l to fn (whole batch) or each_fn (per-message acks), then acks or naks
 * each; frees l. Returns the number of messages or -1 + e. */
static int batch_run(bus_t *b, pull_list_t *l, bus_batch_fn fn, bus_each_fn each_fn, void *ud,
                     err_t *e) {
    int n = l->n;
    bus_batch_msg_t *msgs = calloc((size_t)(n > 0 ? n : 1), sizeof *msgs);
    int *ack = calloc((size_t)(n > 0 ? n : 1), sizeof *ack);
    if (!msgs || !ack) {
        free(msgs);
        free(ack);
        pull_list_free(l);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    for (int i = 0; i < n; i++) {
        natsMsg *m = l->msgs[i];
        const char *id = NULL;
        if (natsMsgHeader_Get(m, BUS_HDR_MSG_ID, &id) != NATS_OK || !id) id = "";
        const char *data = natsMsg_GetData(m);
        msgs[i] = (bus_batch_msg_t){natsMsg_GetSubject(m), id, data ? data : "",
                                    (size_t)natsMsg_GetDataLength(m)};
    }
    if (fn) {
        int rc = fn(msgs, n, ud);
        for (int i = 0; i < n; i++)
            ack[i] = rc == 0;
    } else {
        each_fn(msgs, n, ack, ud);
    }
    for (int i = 0; i < n; i++)
        pull_ack(b, l, i, ack[i]);
    free(msgs);
    free(ack);
    pull_list_free(l);
    return n;
}

int bus_js_fetch_batch(bus_t *b, const char *stream, const char *durable, const char *filter,
                       int max, int timeout_ms, bus_batch_fn fn, void *ud, err_t *e) {
    if (!fn)
        return err_set(e, 500, "internal", "", "bus_js_fetch_batch: a batch function is needed");
    pull_list_t list;
    int got = pull_fetch(b, stream, durable, filter, max, 0, timeout_ms, 0, &list, e);
    if (got <= 0) return got;
    return batch_run(b, &list, fn, NULL, ud, e);
}

int bus_js_fetch_each(bus_t *b, const char *stream, const char *durable, const char *filter,
                      int max, int timeout_ms, bus_each_fn fn, void *ud, err_t *e) {
    if (!fn) return err_set(e, 500, "internal", "", "bus_js_fetch_each: a function is needed");
    pull_list_t list;
    int got = pull_fetch(b, stream, durable, filter, max, 0, timeout_ms, 0, &list, e);
    if (got <= 0) return got;
    return batch_run(b, &list, NULL, fn, ud, e);
}

int bus_js_fetch_each_linger(bus_t *b, const char *stream, const char *durable, const char *filter,
                             int max, int wait_ms, int linger_ms, bus_each_fn fn, void *ud,
                             err_t *e) {
    if (linger_ms <= 0)
        return bus_js_fetch_each(b, stream, durable, filter, max, wait_ms, fn, ud, e);
    if (!fn) return err_set(e, 500, "internal", "", "bus_js_fetch_each: a function is needed");
    pull_list_t list;
    int got = pull_fetch(b, stream, durable, filter, max, wait_ms > 0 ? wait_ms : 1, linger_ms, 1,
                         &list, e);
    if (got <= 0) return got;
    return batch_run(b, &list, NULL, fn, ud, e);
}

int bus_js_fetch_batch_idle(bus_t *b, const char *stream, const char *durable, const char *filter,
                            int max, int idle_ms, int fill_ms, bus_batch_fn fn, void *ud,
                            err_t *e) {
    if (!fn)
        return err_set(e, 500, "internal", "", "bus_js_fetch_batch: a batch function is needed");
    pull_list_t list;
    int got = pull_fetch(b, stream, durable, filter, max, idle_ms > 0 ? idle_ms : 0, fill_ms, 0,
                         &list, e);
    if (got <= 0) return got;
    return batch_run(b, &list, fn, NULL, ud, e);
}

int bus_js_consumer_state(bus_t *b, const char *stream, const char *durable,
                          bus_consumer_state_t *st, err_t *e) {
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    memset(st, 0, sizeof *st);
    if (!b) return err_set(e, 503, "unavailable", "", "NATS is not configured");
    natsStatus s = js_GetConsumerInfo(&ci, b->js, stream, durable, NULL, &jerr);
    if (s != NATS_OK) return js_err(e, s, jerr, "JetStream consumer info");
    st->ack_floor = ci->AckFloor.Stream;
    st->delivered = ci->Delivered.Stream;
    st->num_pending = ci->NumPending;
    st->num_ack_pending = ci->NumAckPending;
    st->num_redelivered = ci->NumRedelivered;
    jsConsumerInfo_Destroy(ci);
    return 0;
}
