/* delivery: see delivery.h. */
#include "services/notification/delivery.h"

#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/outbox.h"
#include "core/strbuf.h"
#include "services/notification/bounce.h"
#include "services/notification/ics.h"
#include "services/notification/notification.h"
#include "services/notification/icu_fmt.h"
#include "services/notification/provider.h"
#include "services/notification/rules.h"
#include "services/notification/smtp.h"
#include "services/notification/webhook.h"

#define DELIVERY_BATCH 200 /* rows a lease takes */
#define STR_(x) #x
#define STR(x) STR_(x)
#define DELIVERY_LEASE "5 minutes"
/* how long an outcome waits for PostgreSQL to come back (record_durably) */
#define DELIVERY_RECORD_WAIT_MS 60000

static atomic_int g_stop; /* the worker is stopping (notify_delivery_stop) */

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void (*notify_delivery_trace)(const char *message_id, const char *stage);

static const db_scope_t k_system = {NULL, NULL, 0, 1};

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;
static void declare_metrics(void) {
    metrics_counter_declare("notification_sent_total",
                            "messages sent (accepted by SMTP, "
                            "published in-app)",
                            "channel");
    metrics_counter_declare("notification_retries_total", "transient delivery failures retried",
                            "channel");
    metrics_counter_declare("notification_failed_total",
                            "messages given up on (undelivered, not_sent)", "channel");
}

static void count(const char *metric, const char *channel) {
    const char *labels[] = {channel, NULL};
    metrics_counter_add(metric, labels, 1);
}

typedef struct msg {
    char id[40], club[40], user[40], channel[16], template[72], locale[16], event_type[128];
    char recipient[330];
    int tries;
    json_t *vars;
    char *subject, *text;     /* in-app: rendered when queued */
    char ref[NOTIFY_REF_MAX]; /* sms, push: the provider's id of the sent message */
    int ok, deferred;         /* the attempt's outcome (deferred: rate limited, no try) */
    int recorded;             /* the outcome committed (or given up): its sender may go on */
    err_t why;                /* why it failed */
} msg_t;

/* ---- SMTP sessions kept between passes (one per sender at a time) ----------------------- */

#define SESSIONS_MAX 32
static pthread_mutex_t g_sessions_mu = PTHREAD_MUTEX_INITIALIZER;
static notify_smtp_session_t *g_sessions[SESSIONS_MAX];
static int g_n_sessions;

/* A session from the pool, else a new one (NULL: out of memory, the mail then fails as
 * transient). */
static notify_smtp_session_t *session_borrow(void) {
    notify_smtp_session_t *ss = NULL;
    pthread_mutex_lock(&g_sessions_mu);
    if (g_n_sessions > 0) ss = g_sessions[--g_n_sessions];
    pthread_mutex_unlock(&g_sessions_mu);
    return ss ? ss : notify_smtp_session_new();
}

static void session_return(notify_smtp_session_t *ss) {
    if (!ss) return;
    pthread_mutex_lock(&g_sessions_mu);
    if (g_n_sessions < SESSIONS_MAX) {
        g_sessions[g_n_sessions++] = ss;
        ss = NULL;
    }
    pthread_mutex_unlock(&g_sessions_mu);
    notify_smtp_session_free(ss);
}

static void sessions_close(void) {
    pthread_mutex_lock(&g_sessions_mu);
    while (g_n_sessions > 0)
        notify_smtp_session_free(g_sessions[--g_n_sessions]);
    pthread_mutex_unlock(&g_sessions_mu);
}

/* Where a token mail's link points (RECIPROCAL_NOTIFY_LINK_BASE + path + token). */
static const char *link_path(const char *purpose) {
    if (strcmp(purpose, "invite") == 0) return "/register?token=";
    if (strcmp(purpose, "reset_password") == 0) return "/password/reset?token=";
    return "/email/verify?token=";
}

/* Fetches the one-time token of vars.token_id and sets vars.link (the token lives only in
 * memory, is wiped after the send by the caller's json_decref). */
static int add_token_link(const svc_env_t *env, const notification_settings_t *s, msg_t *m,
                          err_t *e) {
    const char *token_id = json_string_value(json_object_get(m->vars, "token_id"));
    if (!token_id) return 0;
    svc_caller_t c = {0};
    snprintf(c.club_id, sizeof c.club_id, "%s", m->club);
    snprintf(c.perms, sizeof c.perms, "auth:deliver");
    json_t *in = json_pack("{s:s, s:s}", "club_id", m->club, "token_id", token_id), *out = NULL;
    int status = 0;
    int rc = svc_call(env, "auth", "delivery_token", &c, in, &status, &out, e);
    json_decref(in);
    if (rc == 0) {
        const char *tok = json_string_value(json_object_get(out, "token"));
        const char *purpose = json_string_value(json_object_get(out, "purpose"));
        char link[512];
        snprintf(link, sizeof link, "%s%s%s", s->link_base, link_path(purpose ? purpose : ""),
                 tok ? tok : "");
        json_object_set_new(m->vars, "link", json_string(link));
        sodium_memzero(link, sizeof link);
    }
    json_decref(out);
    return rc;
}

/* ---- the secondary relay (RECIPROCAL_SMTP_SECONDARY_*) ------------------------------------ */

#define PRIMARY_PROBE_S 60
static atomic_int g_primary_failures;   /* consecutive relay failures of the primary */
static atomic_llong g_primary_probe_at; /* failed over: when the primary is tried again */

/* mail through the primary relay, or through the secondary once the primary failed
 * smtp_failover_after times in a row (this mail's failure included); while failed over the
 * primary is tried again every PRIMARY_PROBE_S seconds, and one success there ends it. A mail
 * the secondary accepted has provider_ref "smtp:secondary:<message id>". */
static int send_with_failover(const notification_settings_t *s, const notify_smtp_t *primary,
                              notify_smtp_session_t *ss, const notify_mail_t *mail, msg_t *m,
                              err_t *e) {
    int have_secondary = s->smtp_secondary_url[0] != '\0';
    int failed_over = have_secondary &&
                      atomic_load(&g_primary_failures) >= s->smtp_failover_after &&
                      (long long)time(NULL) < atomic_load(&g_primary_probe_at);
    if (!failed_over) {
        if (notify_smtp_session_send(ss, primary, mail, e) == 0) {
            if (atomic_exchange(&g_primary_failures, 0) >= s->smtp_failover_after && have_secondary)
                log_info("notification: the primary SMTP relay accepts mail again");
            return 0;
        }
        if (!notify_smtp_relay_failed(e)) return -1;
        int n = atomic_fetch_add(&g_primary_failures, 1) + 1;
        if (!have_secondary || n < s->smtp_failover_after) return -1;
        atomic_store(&g_primary_probe_at, (long long)time(NULL) + PRIMARY_PROBE_S);
        log_warn("notification: the primary SMTP relay failed %d times in a row (%s); mail goes "
                 "to the secondary relay",
                 n, e->message);
    }
    notify_smtp_t secondary = *primary;
    secondary.url = s->smtp_secondary_url;
    secondary.user = s->smtp_secondary_user;
    secondary.password = s->smtp_secondary_password;
    err_t e2 = {0};
    if (notify_smtp_session_send(ss, &secondary, mail, &e2) != 0) {
        *e = e2;
        return -1;
    }
    snprintf(m->ref, sizeof m->ref, "smtp:secondary:%s", m->id); /* provider_ref is unique */
    return 0;
}

/* The primary relay's connection settings (RECIPROCAL_SMTP_*), for single mails and digests. */
static notify_smtp_t smtp_primary(const notification_settings_t *s) {
    return (notify_smtp_t){.url = s->smtp_url,
                           .user = s->smtp_user,
                           .password = s->smtp_password,
                           .tls = strcmp(s->smtp_tls, "required") == 0 ? NOTIFY_TLS_REQUIRED
                                  : strcmp(s->smtp_tls, "off") == 0    ? NOTIFY_TLS_OFF
                                                                       : NOTIFY_TLS_TRY,
                           .timeout_s = s->smtp_timeout_s,
                           .ca_file = s->smtp_ca_file};
}

/* ---- a sender's templates ------------------------------------------------------------------ */

/* The templates a sender read during its pass, once per (club, key, locale): one SELECT per
 * pass and template instead of one per mail. Set by sender() for its own thread (NULL elsewhere:
 * send_email then reads the template each time). A club override changed meanwhile applies from
 * the sender's next pass (at most PASS_MAX_MS of leasing later). */
#define TMPL_CACHE_MAX 16
typedef struct tmpl_entry {
    char club[40], key[72], locale[16];
    char *subject, *body;
} tmpl_entry_t;
typedef struct tmpl_cache {
    tmpl_entry_t e[TMPL_CACHE_MAX];
    int n;
} tmpl_cache_t;
static _Thread_local tmpl_cache_t *t_tmpl;

static void tmpl_cache_clear(tmpl_cache_t *c) {
    for (int i = 0; i < c->n; i++) {
        free(c->e[i].subject);
        free(c->e[i].body);
    }
    c->n = 0;
}

/* notify_template() for m, through the thread's cache when there is one. A miss reads it in a
 * transaction of its own (system scope: club overrides of any club), ended at once: a sender holds
 * no pooled connection while it talks SMTP (the pool is shared with the HTTP threads). */
static int msg_template(const svc_env_t *env, const msg_t *m, char **subject, char **body,
                        err_t *e) {
    tmpl_cache_t *c = t_tmpl;
    for (int i = 0; c && i < c->n; i++) {
        const tmpl_entry_t *t = &c->e[i];
        if (strcmp(t->club, m->club) != 0 || strcmp(t->key, m->template) != 0 ||
            strcmp(t->locale, m->locale) != 0)
            continue;
        *subject = strdup(t->subject);
        *body = strdup(t->body);
        if (*subject && *body) return 0;
        free(*subject);
        free(*body);
        *subject = *body = NULL;
        return err_set(e, 500, "internal", "", "out of memory");
    }
    db_tx_t *tx = NULL;
    int rc = db_begin(env->db, &k_system, &tx, e) == 0
                 ? notify_template(tx, m->club, m->template, m->locale, subject, body, e)
                 : -1;
    db_rollback(tx);
    if (rc != 0) return -1;
    if (c && c->n < TMPL_CACHE_MAX) {
        tmpl_entry_t *t = &c->e[c->n];
        snprintf(t->club, sizeof t->club, "%s", m->club);
        snprintf(t->key, sizeof t->key, "%s", m->template);
        snprintf(t->locale, sizeof t->locale, "%s", m->locale);
        t->subject = strdup(*subject);
        t->body = strdup(*body);
        if (t->subject && t->body)
            c->n++;
        else {
            free(t->subject);
            free(t->body);
        }
    }
    return 0;
}

static int send_email(const svc_env_t *env, notify_smtp_session_t *ss, msg_t *m, err_t *e) {
    const notification_settings_t *s = notification_settings(env);
    char *st = NULL, *bt = NULL, *subject = NULL, *text = NULL, *html = NULL, *ics = NULL;
    int rc = -1;
    if (msg_template(env, m, &st, &bt, e) != 0 || add_token_link(env, s, m, e) != 0 ||
        notify_format_vars_fill(m->vars, m->locale, "UTC", e) != 0 ||
        notify_render(st, bt, m->vars, &subject, &text, &html, e) != 0)
        goto done;
    const notify_smtp_t conf = smtp_primary(s);
    if (json_is_true(json_object_get(m->vars, "calendar"))) {
        const char *host =
            json_string_value(json_object_get(json_object_get(m->vars, "host_club"), "name"));
        char summary[400];
        snprintf(summary, sizeof summary, "Visit to %s", host ? host : "the host club");
        ics = notify_visit_ics(json_string_value(json_object_get(m->vars, "visit_id")), summary,
                               host, json_string_value(json_object_get(m->vars, "arrive_on")),
                               json_string_value(json_object_get(m->vars, "depart_on")));
    }
    /* a stable Message-ID, kept as provider_ref: the provider's status callbacks name it */
    notify_bounce_message_id(m->id, s->smtp_from, m->ref);
    const notify_mail_t mail = {s->smtp_from, m->recipient, subject, text, html, ics, m->ref};
    rc = ss ? send_with_failover(s, &conf, ss, &mail, m, e)
            : err_set(e, 503, "smtp_unavailable", "", "out of memory");
done:
    free(ics);
    free(st);
    free(bt);
    free(subject);
    if (text) sodium_memzero(text, strlen(text));
    if (html) sodium_memzero(html, strlen(html));
    free(text);
    free(html);
    return rc;
}

static int send_in_app(const svc_env_t *env, msg_t *m, err_t *e) {
    char subject[64];
    snprintf(subject, sizeof subject, "inbox.%s", m->user);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "id", m->id, "club_id", m->club,
                          "event_type", m->event_type, "subject", m->subject, "body", m->text);
    char *payload = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!payload) return err_set(e, 500, "internal", "", "out of memory");
    int rc = bus_publish(env->bus, subject, payload, strlen(payload), e);
    free(payload);
    return rc;
}

/* The status a finished attempt of m leads to, and whether it is final (no more tries). */
static const char *outcome(const notification_settings_t *s, const msg_t *m, int *final) {
    int transient = !m->ok && (m->why.status == 503 || m->why.status == 504);
    *final = !m->ok && (!transient || m->tries + 1 >= s->max_tries);
    return m->ok                                            ? "sent"
           : !*final                                        ? "queued"
           : (m->why.status == 422 || m->why.status == 404) ? "not_sent"
                                                            : "undelivered";
}

/* The outcomes of the attempts of ms[0..k-1], in one transaction: one UPDATE for all of
 * them (a retry's delay retry_base * 2^(tries-1), +-20% jitter), notification.failed for the
 * final failures; counted and logged once committed. */
static int record_batch(const svc_env_t *env, msg_t *const *ms, int k, err_t *e) {
    const notification_settings_t *s = notification_settings(env);
    json_t *rows = json_array();
    for (int j = 0; rows && j < k; j++) {
        const msg_t *m = ms[j];
        int final, tries_now = m->tries + 1;
        const char *status = outcome(s, m, &final);
        double d =
            (double)s->retry_base_s * (double)(1LL << (tries_now - 1 < 20 ? tries_now - 1 : 20));
        d *= 0.8 + 0.4 * (double)randombytes_uniform(1001) / 1000.0;
        json_array_append_new(rows, json_pack("{s:s, s:s, s:i, s:f, s:s?, s:s?}", "id", m->id,
                                              "status", status, "tries", tries_now, "delay", d,
                                              "error", m->ok ? NULL : m->why.message, "ref",
                                              m->ref[0] ? m->ref : NULL));
    }
    char *rows_txt = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
    json_decref(rows);
    /* the ids again as an array: `m.id = ANY(...)` lets the planner find the rows by primary
     * key (it estimates 100 rows for jsonb_to_recordset and, on a table of a few thousand rows,
     * hash-joined them with a sequential scan: 6.6 ms a commit in the e2e bench, growing with
     * the table) */
    strbuf_t ids = {0};
    strbuf_puts(&ids, "{");
    for (int j = 0; j < k; j++)
        strbuf_printf(&ids, "%s%s", j ? "," : "", ms[j]->id);
    strbuf_puts(&ids, "}");
    if (!rows_txt || ids.oom) {
        free(rows_txt);
        strbuf_free(&ids);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    /* one flight: BEGIN, the UPDATE, the events of the final failures and COMMIT (failures
     * beyond the batch's room follow one by one before the COMMIT) */
    db_tx_t *tx = NULL;
    db_batch_t b = {0};
    int rc = -1;
    const char *p[] = {rows_txt, ids.p};
    if (db_begin_deferred(env->db, &k_system, &tx, e) != 0) {
        free(rows_txt);
        strbuf_free(&ids);
        return -1;
    }
    /* the UPDATE from its generic plan (the primary key's index on ANY($2), hashed with the
     * outcomes): left to PostgreSQL's choice it was planned as a custom plan at every pass,
     * about as costly as running it (pg_stat_statements: 195 plans in 195 calls; docs/reciprocal.md
     * "Speed: the first check-in's shared costs (stop 23)") */
    /* set_config, not SET LOCAL: a first flight that commits has no BEGIN (the pipeline's
     * implicit transaction, where SET LOCAL warns), and set_config holds to its end either way */
    db_batch_add(&b, "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)", 0, NULL);
    db_batch_add(&b,
                 "UPDATE notification.messages m SET status = u.status, tries = u.tries, "
                 "last_error = u.error, next_attempt_at = now() + make_interval(secs => "
                 "u.delay), sent_at = CASE WHEN u.status = 'sent' THEN now() END, failed_at = "
                 "CASE WHEN u.status IN ('undelivered', 'not_sent') THEN now() END, "
                 "provider_ref = coalesce(u.ref, m.provider_ref), status_changed_at = now() "
                 "FROM jsonb_to_recordset($1::jsonb) AS u(id uuid, status text, tries int, "
                 "delay float8, error text, ref text) WHERE m.id = u.id AND m.id = ANY($2::uuid[])",
                 2, p);
    int queued = 0, ran = 0;
    for (int j = 0; j < k; j++) {
        const msg_t *m = ms[j];
        int final;
        const char *status = outcome(s, m, &final);
        if (!final) continue;
        if (queued == DB_BATCH_MAX - 2 && !ran) { /* the batch is full: run it, then one by one */
            if (db_batch_run(tx, &b, 0, e) != 0) goto done;
            ran = 1;
        }
        json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "message_id", m->id, "channel",
                                 m->channel, "template", m->template, "status", status,
                                 "event_type", m->event_type, "tries", m->tries + 1);
        const outbox_meta_t meta = {0};
        int erc = ran ? outbox_add(tx, "notification", "notification.failed", "notification",
                                   m->club, data, &meta, NULL, e)
                      : outbox_add_batch(&b, "notification", "notification.failed", "notification",
                                         m->club, data, &meta, e);
        json_decref(data);
        if (erc != 0) goto done;
        queued++;
    }
    if (!ran && db_batch_run(tx, &b, DB_BATCH_COMMIT, e) != 0) goto done;
    rc = 0;
done:
    db_batch_clear(&b);
    free(rows_txt);
    strbuf_free(&ids);
    rc = db_tx_finish(&tx, rc, NULL, e);
    for (int j = 0; rc == 0 && j < k; j++) {
        const msg_t *m = ms[j];
        int final;
        const char *status = outcome(s, m, &final);
        if (m->ok)
            count("notification_sent_total", m->channel);
        else if (final) {
            count("notification_failed_total", m->channel);
            log_warn("notification %s (%s to %s) %s after %d tries: %s", m->id, m->channel,
                     m->channel[0] == 'e' ? "an address" : m->user, status, m->tries + 1,
                     m->why.message);
        } else
            count("notification_retries_total", m->channel);
    }
    return rc;
}

/* record_batch() until PostgreSQL takes it. The outcomes of sends the SMTP server or provider
 * already accepted must survive a database restart: left unrecorded, the leased rows would be
 * sent again when their lease ends. Waits (100 ms doubling to 2 s) only while the database is
 * unavailable (503), at most DELIVERY_RECORD_WAIT_MS, and not once the worker is stopping; after
 * that the lease sends them again (at least once). */
static int record_durably(const svc_env_t *env, msg_t *const *ms, int k, err_t *e) {
    int waited = 0, step = 100;
    while (record_batch(env, ms, k, e) != 0) {
        if (e->status != 503 || waited >= DELIVERY_RECORD_WAIT_MS || atomic_load(&g_stop))
            return -1;
        if (waited == 0)
            log_warn("notification: %s; waiting to record the outcome of %d messages", e->message,
                     k);
        for (int slept = 0; slept < step && !atomic_load(&g_stop); slept += 50) {
            struct timespec ts = {0, 50L * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        waited += step;
        step = step < 2000 ? step * 2 : 2000;
        *e = (err_t){0};
    }
    if (waited) log_info("notification: %d outcomes recorded after %d ms", k, waited);
    return 0;
}

static void msg_free(msg_t *m) {
    json_decref(m->vars);
    free(m->subject);
    free(m->text);
}

/* One leased message attempted (outcome in m->ok, m->why, m->deferred) on the sender's SMTP
 * session ss. */
static void attempt(const svc_env_t *env, notify_smtp_session_t *ss, msg_t *m) {
    err_t *why = &m->why;
    if (!m->vars) {
        err_set(why, 422, "invalid_field", "vars", "unreadable variables");
        m->ok = 0;
    } else if (strcmp(m->channel, "in_app") == 0) {
        m->ok = send_in_app(env, m, why) == 0;
    } else if (strcmp(m->channel, "sms") == 0 || strcmp(m->channel, "push") == 0) {
        /* SMS and push (provider.c): the user's hourly limit first (deferral, no try) */
        const notify_provider_msg_t pm = {m->id,         m->club,      m->user,
                                          m->channel,    m->template,  m->locale,
                                          m->event_type, m->recipient, m->vars};
        if (notify_provider_rate_limit(env, &pm, &m->deferred, why) == 0 && m->deferred) return;
        db_tx_t *ptx = NULL;
        m->ok = why->status == 0 && db_begin(env->db, &k_system, &ptx, why) == 0 &&
                notify_provider_send(env, ptx, &pm, m->ref, why) == 0;
        db_rollback(ptx);
    } else {
        m->ok = send_email(env, ss, m, why) == 0;
    }
    if (m->ok && notify_delivery_trace) notify_delivery_trace(m->id, "accepted");
}

/* The lease (one flight: BEGIN, the expired rows, the lease with the suppressed rows, COMMIT): up
 * to DELIVERY_BATCH due rows into *out (an array of DELIVERY_BATCH, the caller's; NULL when none).
 * Returns the rows leased, or -1 + err. The leased ids as an array (`m.id = ANY (ARRAY(...))`):
 * the rows are found by primary key (joined to the subquery, the planner hash-joined a
 * sequential scan of notification.messages: 90 ms for 200 rows of a 5,000-row table, growing
 * with it). */
static int lease_batch(const svc_env_t *env, msg_t **out, err_t *e) {
    *out = NULL;
    db_tx_t *tx = NULL;
    db_batch_t b = {0};
    if (db_begin_deferred(env->db, &k_system, &tx, e) != 0) return -1;
    /* queued past expires_at: not sent (a reminder whose day has begun) */
    db_batch_add(&b,
                 "UPDATE notification.messages SET status = 'not_sent', last_error = 'expired', "
                 "failed_at = now() WHERE status = 'queued' AND expires_at <= now()",
                 0, NULL);
    /* the due rows, locked; those to a suppressed address not_sent (bounce.c), the rest leased */
    int lease = db_batch_add(
        &b,
        "WITH due AS MATERIALIZED (SELECT id, club_id, recipient, channel, critical FROM "
        "notification.messages WHERE status = 'queued' AND NOT digest AND next_attempt_at <= "
        "now() ORDER BY next_attempt_at LIMIT " STR(
            DELIVERY_BATCH) " FOR UPDATE SKIP LOCKED), "
                            "gone AS (" NOTIFY_BOUNCE_SUPPRESS_SQL(
                                "due",
                                "now()") ") "
                                         "UPDATE notification.messages m SET next_attempt_at = "
                                         "now() + interval '" DELIVERY_LEASE
                                         "' WHERE m.id = ANY (ARRAY(SELECT id FROM due WHERE id "
                                         "NOT IN (SELECT id FROM gone))) "
                                         "RETURNING m.id::text, m.club_id::text, "
                                         "coalesce(m.user_id::text, ''), m.channel, "
                                         "m.template, m.locale, m.event_type, m.recipient, "
                                         "m.tries, m.vars::text, m.subject, "
                                         "m.body_text",
        0, NULL);
    if (db_batch_run(tx, &b, DB_BATCH_COMMIT, e) != 0) {
        db_batch_clear(&b);
        db_rollback(tx);
        return -1;
    }
    db_commit(tx, e); /* committed in the flight: releases the connection */
    PGresult *r = db_batch_result(&b, lease);
    int n = PQntuples(r);
    msg_t *msgs = n ? calloc(DELIVERY_BATCH, sizeof *msgs) : NULL;
    for (int i = 0; msgs && i < n; i++) {
        msg_t *m = &msgs[i];
        snprintf(m->id, sizeof m->id, "%s", PQgetvalue(r, i, 0));
        snprintf(m->club, sizeof m->club, "%s", PQgetvalue(r, i, 1));
        snprintf(m->user, sizeof m->user, "%s", PQgetvalue(r, i, 2));
        snprintf(m->channel, sizeof m->channel, "%s", PQgetvalue(r, i, 3));
        snprintf(m->template, sizeof m->template, "%s", PQgetvalue(r, i, 4));
        snprintf(m->locale, sizeof m->locale, "%s", PQgetvalue(r, i, 5));
        snprintf(m->event_type, sizeof m->event_type, "%s", PQgetvalue(r, i, 6));
        snprintf(m->recipient, sizeof m->recipient, "%s", PQgetvalue(r, i, 7));
        m->tries = atoi(PQgetvalue(r, i, 8));
        m->vars = db_json(r, i, 9, e);
        m->subject = PQgetisnull(r, i, 10) ? NULL : strdup(PQgetvalue(r, i, 10));
        m->text = PQgetisnull(r, i, 11) ? NULL : strdup(PQgetvalue(r, i, 11));
    }
    db_batch_clear(&b);
    /* out of memory: the rows leased are sent when their lease ends */
    if (n && !msgs) return err_set(e, 500, "internal", "", "out of memory");
    for (int i = 0; notify_delivery_trace && i < n; i++)
        notify_delivery_trace(msgs[i].id, "leased");
    *out = msgs;
    return n;
}

/* One pass over leased messages: `senders` threads (RECIPROCAL_NOTIFY_SENDERS) take them in
 * turn, each with its own SMTP session (kept between passes), and hand every outcome to the
 * calling thread, which records whatever has accumulated in one transaction (group commit): one
 * UPDATE per round trip, however many mails finished meanwhile. A sender starts its next mail
 * only once the previous one's outcome is committed, so a crash repeats at most one mail per
 * sender (the one in flight or awaiting the commit).
 * A backlog (a lease came back full: more rows are probably due) does not end the pass: the
 * sender that finds at most `low` (2 per sender) rows left untaken leases the next batch into
 * the same pass while the others send the last rows, so no sender waits for the pass's slowest
 * mail, the recorder's last commit and a new pass's lease and threads. A pass leases for at most
 * PASS_MAX_MS (and PASS_CHUNKS batches), then ends as before: the webhook and digest passes run
 * between mail passes. */
#define PASS_CHUNKS 16
#define PASS_MAX_MS 1000
#define PASS_ROWS (PASS_CHUNKS * DELIVERY_BATCH)
typedef struct pass {
    const svc_env_t *env;
    msg_t *chunk[PASS_CHUNKS]; /* the leased batches: row i is chunk[i / DELIVERY_BATCH] */
    int n_chunks, n;           /* batches and rows leased (only the last batch is not full) */
    int next;                  /* the next row to take */
    int low;                   /* rows left untaken at which the next batch is leased */
    int leasing, exhausted;    /* a sender is leasing; the pass leases no more */
    long long started_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* recorder: outcomes to record, or a sender finished */
    pthread_cond_t rcv; /* senders: outcomes recorded */
    pthread_cond_t lcv; /* senders: a lease ended */
    int wait_records;   /* senders wait for their outcome's commit (0: no sender thread) */
    int *done;          /* indexes of finished attempts not yet recorded */
    int n_done, senders_left;
} pass_t;

static msg_t *pass_msg(const pass_t *p, int i) {
    return &p->chunk[i / DELIVERY_BATCH][i % DELIVERY_BATCH];
}

/* The next batch leased into p by a sender (which set p->leasing; p->mu not held). */
static void pass_extend(pass_t *p) {
    msg_t *msgs = NULL;
    err_t e = {0};
    int got = lease_batch(p->env, &msgs, &e);
    if (got < 0) log_warn("notification delivery: %s", e.message);
    pthread_mutex_lock(&p->mu);
    if (got > 0) {
        p->chunk[p->n_chunks++] = msgs;
        p->n += got;
    }
    if (got < DELIVERY_BATCH || p->n_chunks == PASS_CHUNKS ||
        mono_ms() - p->started_ms >= PASS_MAX_MS)
        p->exhausted = 1;
    p->leasing = 0;
    pthread_cond_broadcast(&p->lcv);
    pthread_mutex_unlock(&p->mu);
}

/* The next row for a sender (p->mu held): its index, or -1 when the pass is over for it. A
 * stop ends the pass early: the rows not taken get their lease back (release_untried). */
static int pass_take(pass_t *p) {
    for (;;) {
        if (atomic_load(&g_stop)) return -1;
        int left = p->n - p->next;
        if (left <= p->low && !p->leasing && !p->exhausted) {
            p->leasing = 1;
            pthread_mutex_unlock(&p->mu);
            pass_extend(p);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        if (left > 0) return p->next++;
        if (p->exhausted) return -1;
        pthread_cond_wait(&p->lcv, &p->mu); /* another sender is leasing */
    }
}

static void *sender(void *arg) {
    pass_t *p = arg;
    log_thread_name("notif", "send");
    notify_smtp_session_t *ss = session_borrow();
    tmpl_cache_t templates = {0};
    t_tmpl = &templates;
    pthread_mutex_lock(&p->mu);
    for (int i; (i = pass_take(p)) >= 0;) {
        msg_t *m = pass_msg(p, i);
        pthread_mutex_unlock(&p->mu);
        attempt(p->env, ss, m);
        pthread_mutex_lock(&p->mu);
        p->done[p->n_done++] = i;
        pthread_cond_signal(&p->cv);
        while (p->wait_records && !m->recorded)
            pthread_cond_wait(&p->rcv, &p->mu);
    }
    p->senders_left--;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    session_return(ss);
    t_tmpl = NULL;
    tmpl_cache_clear(&templates);
    return NULL;
}

/* The recorder (calling thread): until every sender is done, the accumulated outcomes in one
 * transaction each. Returns the messages handled (recorded or deferred). */
static int record_outcomes(pass_t *p, err_t *e) {
    int handled = 0;
    msg_t **take = malloc(sizeof(msg_t *) * PASS_ROWS);
    pthread_mutex_lock(&p->mu);
    while (p->senders_left > 0 || p->n_done > 0) {
        while (p->n_done == 0 && p->senders_left > 0)
            pthread_cond_wait(&p->cv, &p->mu);
        int k = 0;
        for (int j = 0; j < p->n_done; j++) {
            msg_t *m = pass_msg(p, p->done[j]);
            if (m->deferred || !take) {
                handled += m->deferred;
                m->recorded = 1;
            } else
                take[k++] = m;
        }
        p->n_done = 0;
        pthread_cond_broadcast(&p->rcv);
        pthread_mutex_unlock(&p->mu);
        if (k > 0 && record_durably(p->env, take, k, e) == 0)
            handled += k;
        else /* one row's failure must not hold back the others: each on its own */
            for (int j = 0; k > 1 && j < k; j++)
                if (record_durably(p->env, &take[j], 1, e) == 0) handled++;
        pthread_mutex_lock(&p->mu);
        for (int j = 0; j < k; j++) /* recorded, or given up on (the lease sends it again) */
            take[j]->recorded = 1;
        pthread_cond_broadcast(&p->rcv);
    }
    pthread_mutex_unlock(&p->mu);
    free(take);
    return handled;
}

static int pass_run(pass_t *p, err_t *e) {
    int senders = notification_settings(p->env)->senders;
    if (senders > p->n) senders = p->n;
    if (senders < 1) senders = 1;
    p->senders_left = senders;
    p->low = 2 * senders;
    p->done = malloc(sizeof(int) * PASS_ROWS);
    if (!p->done) return err_set(e, 500, "internal", "", "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->rcv, NULL);
    pthread_cond_init(&p->lcv, NULL);
    p->wait_records = 1;
    pthread_t th[SESSIONS_MAX];
    int started = 0;
    for (; started < senders && started < SESSIONS_MAX; started++)
        if (pthread_create(&th[started], NULL, sender, p) != 0) break;
    if (started == 0) { /* no thread: this one sends, then records */
        p->senders_left = 1;
        p->wait_records = 0;
        sender(p);
    } else if (started < senders) {
        pthread_mutex_lock(&p->mu);
        p->senders_left -= senders - started;
        pthread_mutex_unlock(&p->mu);
    }
    int handled = record_outcomes(p, e);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->rcv);
    pthread_cond_destroy(&p->lcv);
    pthread_mutex_destroy(&p->mu);
    free(p->done);
    return handled;
}

/* A stop (SIGTERM) ends a pass before its last rows: those never tried (not `recorded`) are
 * due again at once, so the next process sends them without waiting for DELIVERY_LEASE, and a
 * pass of leased mails no longer holds the shutdown. When this fails they wait for the lease (at
 * least once either way). */
static void release_untried(const pass_t *p) {
    strbuf_t ids = {0};
    int k = 0;
    strbuf_puts(&ids, "{");
    for (int i = 0; i < p->n; i++)
        if (!pass_msg(p, i)->recorded)
            strbuf_printf(&ids, "%s%s", k++ ? "," : "", pass_msg(p, i)->id);
    strbuf_puts(&ids, "}");
    db_tx_t *tx = NULL;
    err_t e = {0};
    const char *params[] = {ids.p};
    if (k > 0 && !ids.oom && db_begin(p->env->db, &k_system, &tx, &e) == 0) {
        int rc = db_exec_cmd(tx,
                             "UPDATE notification.messages SET next_attempt_at = now() WHERE id "
                             "= ANY($1::uuid[]) AND status = 'queued'",
                             1, params, &e) < 0
                     ? -1
                     : 0;
        if (db_tx_finish(&tx, rc, NULL, &e) == 0)
            log_info("notification delivery: stopping, %d leased messages released", k);
    }
    if (e.status) log_warn("notification delivery: stopping: %s", e.message);
    strbuf_free(&ids);
}

int notify_deliver_once(const svc_env_t *env, err_t *e) {
    pthread_once(&metrics_once, declare_metrics);
    msg_t *msgs = NULL;
    int n = lease_batch(env, &msgs, e);
    if (n <= 0) return n;
    pass_t p = {.env = env, .chunk = {msgs}, .n_chunks = 1, .n = n, .started_ms = mono_ms()};
    p.exhausted = n < DELIVERY_BATCH; /* no backlog: this batch is the pass */
    int handled = pass_run(&p, e);
    if (atomic_load(&g_stop)) release_untried(&p);
    for (int i = 0; i < p.n; i++)
        msg_free(pass_msg(&p, i));
    for (int c = 0; c < p.n_chunks; c++)
        free(p.chunk[c]);
    return handled;
}

/* ---- digests ----------------------------------------------------------------------------- */

static const char k_digest_subject[] = "Your {{window}} digest: {{count}} notifications";
/* grouped by category; the section tags stand alone on their lines (their line breaks dropped) */
static const char k_digest_body[] =
    "Hello,\n\nHere is what happened since your last digest:\n\n{{#groups}}\n{{name}}:\n\n"
    "{{#items}}\n- {{subject}}\n{{/items}}\n\n{{/groups}}\nYou chose to receive these as a "
    "digest ({{window}}); change it in your notification preferences.\n";

/* The category of template key (its rule's), "other" when no rule uses it. */
static const char *category_of(const char *key) {
    for (size_t i = 0; i < notify_n_rules; i++)
        if (strcmp(notify_rules[i].template, key) == 0) return notify_rules[i].category;
    return "other";
}

/* The item {subject} appended to the group of category in groups ([{category, name, items}],
 * in the order the categories first appear). */
static int add_to_group(json_t *groups, const char *category, const char *subject) {
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g) {
        if (strcmp(json_string_value(json_object_get(g, "category")), category) == 0)
            return json_array_append_new(json_object_get(g, "items"),
                                         json_pack("{s:s}", "subject", subject));
    }
    char name[64];
    snprintf(name, sizeof name, "%s", category);
    if (name[0] >= 'a' && name[0] <= 'z') name[0] = (char)(name[0] - 'a' + 'A');
    return json_array_append_new(groups, json_pack("{s:s, s:s, s:[{s:s}]}", "category", category,
                                                   "name", name, "items", "subject", subject));
}

/* The digest of one recipient: its rows to a suppressed address not_sent (bounce.c), the waiting
 * rows locked in tx, rendered, sent, marked. */
static int digest_one(const svc_env_t *env, db_tx_t *tx, const char *club, const char *to,
                      const char *at, err_t *e) {
    const notification_settings_t *s = notification_settings(env);
    const char *p[] = {club, to, at};
    if (notify_bounce_suppress_recipient(tx, club, to, at, e) < 0) return -1;
    PGresult *r =
        db_exec(tx,
                "SELECT id::text, template, locale, vars::text, tries, digest_window FROM "
                "notification.messages WHERE club_id = $1::uuid AND recipient = $2 AND "
                "channel = 'email' AND digest AND status = 'queued' AND "
                "next_attempt_at <= coalesce($3::timestamptz, now()) ORDER BY created_at, id "
                "FOR UPDATE SKIP LOCKED",
                3, p, e);
    if (!r) return -1;
    int n = PQntuples(r), rc = -1, tries = 0, daily = 0;
    json_t *items = json_array(), *ids = json_array(), *vars = NULL;
    char *subject = NULL, *text = NULL, *html = NULL;
    err_t why = {0};
    for (int i = 0; items && ids && i < n; i++) {
        char *st = NULL, *bt = NULL, *subj = NULL, *txt = NULL;
        json_t *v = db_json(r, i, 3, e);
        if (v &&
            notify_template(tx, club, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), &st, &bt, &why) ==
                0 &&
            notify_render(st, bt, v, &subj, &txt, NULL, &why) == 0)
            add_to_group(items, category_of(PQgetvalue(r, i, 1)), subj);
        if (strcmp(PQgetvalue(r, i, 5), "daily") == 0) daily = 1;
        json_array_append_new(ids, json_string(PQgetvalue(r, i, 0)));
        if (atoi(PQgetvalue(r, i, 4)) > tries) tries = atoi(PQgetvalue(r, i, 4));
        json_decref(v);
        free(st), free(bt), free(subj), free(txt);
    }
    PQclear(r);
    if (!items || !ids) {
        err_set(e, 500, "internal", "", "out of memory");
        goto done;
    }
    if (n == 0) {
        rc = 0;
        goto done;
    }
    size_t k, listed = 0;
    json_t *g;
    json_array_foreach(items, k, g) listed += json_array_size(json_object_get(g, "items"));
    /* one mail for what is due: "daily" when any row waited for 08:00, else "hourly" */
    vars = json_pack("{s:i, s:O, s:s}", "count", (int)listed, "groups", items, "window",
                     daily ? "daily" : "hourly");
    int ok = vars && notify_render(k_digest_subject, k_digest_body, vars, &subject, &text, &html,
                                   &why) == 0;
    /* the single mails' path: a pooled session, the secondary relay, and the stable Message-ID
     * of the first row (lead), kept as its provider_ref for the status callbacks (bounce.c) */
    msg_t lead = {0};
    snprintf(lead.id, sizeof lead.id, "%s", json_string_value(json_array_get(ids, 0)));
    notify_bounce_message_id(lead.id, s->smtp_from, lead.ref);
    if (ok) {
        const notify_smtp_t conf = smtp_primary(s);
        const notify_mail_t mail = {s->smtp_from, to, subject, text, html, NULL, lead.ref};
        notify_smtp_session_t *ss = session_borrow();
        ok = ss ? send_with_failover(s, &conf, ss, &mail, &lead, &why) == 0
                : (err_set(&why, 503, "smtp_unavailable", "", "out of memory"), 0);
        session_return(ss);
    }
    char *idtxt = json_dumps(ids, JSON_COMPACT), delay[32], t[16];
    int final = !ok && (why.status != 503 || tries + 1 >= s->max_tries);
    snprintf(delay, sizeof delay, "%d", s->retry_base_s * (1 << (tries < 16 ? tries : 16)));
    snprintf(t, sizeof t, "%d", tries + 1);
    const char *u[] = {idtxt,
                       ok ? "sent" : final ? "undelivered" : "queued",
                       t,
                       delay,
                       ok ? NULL : why.message,
                       lead.id,
                       lead.ref};
    /* sent: every row points at the lead, whose provider_ref names the mail */
    if (idtxt &&
        db_exec_cmd(tx,
                    "UPDATE notification.messages SET status = $2, tries = $3::int, last_error = "
                    "$5, sent_at = CASE WHEN $2 = 'sent' THEN now() END, failed_at = CASE WHEN $2 "
                    "= 'undelivered' THEN now() END, next_attempt_at = now() + make_interval(secs "
                    "=> $4::int), status_changed_at = now(), digest_of = CASE WHEN $2 = 'sent' "
                    "THEN $6::uuid END, provider_ref = CASE WHEN $2 = 'sent' AND id = $6::uuid "
                    "THEN $7 ELSE provider_ref END WHERE id IN (SELECT "
                    "jsonb_array_elements_text($1::jsonb)::uuid)",
                    7, u, e) >= 0) {
        rc = 0;
        count(ok      ? "notification_sent_total"
              : final ? "notification_failed_total"
                      : "notification_retries_total",
              "email");
    }
    free(idtxt);
done:
    json_decref(items);
    json_decref(ids);
    json_decref(vars);
    free(subject);
    free(text);
    free(html);
    return rc;
}

int notify_digest_once(const svc_env_t *env, err_t *e) {
    return notify_digest_pass(env, NULL, e);
}

int notify_digest_pass(const svc_env_t *env, const char *at, err_t *e) {
    pthread_once(&metrics_once, declare_metrics);
    db_tx_t *tx = NULL;
    if (db_begin(env->db, &k_system, &tx, e) != 0) return -1;
    PGresult *r = db_exec(tx,
                          "SELECT DISTINCT club_id::text, recipient FROM notification.messages "
                          "WHERE status = 'queued' AND digest AND channel = 'email' AND "
                          "next_attempt_at <= coalesce($1::timestamptz, now()) LIMIT 20",
                          1, &at, e);
    db_rollback(tx);
    if (!r) return -1;
    int handled = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        db_tx_t *gtx = NULL;
        err_t ge = {0};
        int rc = db_begin(env->db, &k_system, &gtx, &ge);
        if (rc == 0)
            rc = db_tx_finish(
                &gtx, digest_one(env, gtx, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), at, &ge), NULL,
                &ge);
        if (rc == 0)
            handled++;
        else
            log_warn("notification digest: %s", ge.message);
    }
    PQclear(r);
    return handled;
}

/* ---- the worker thread ---------------------------------------------------------------------- */

static pthread_t g_thread;
static int g_running;
static const svc_env_t *g_env;

/* Waking the worker when a message is queued: a connection of its own (never a pooled one: a
 * pooled connection cannot stay in LISTEN between transactions) listening on
 * notification_queued, which the messages table's insert trigger notifies at each commit that
 * queued rows (migration 0017). Used by the worker thread only. Without it (PostgreSQL down) the
 * worker polls every poll_ms; it is opened again at most every LISTEN_RETRY_MS. */
#define LISTEN_RETRY_MS 5000
static PGconn *g_listen;
static long long g_listen_retry_at;

static void listen_close(void) {
    if (g_listen) PQfinish(g_listen);
    g_listen = NULL;
}

/* 1 when the LISTEN connection is up (opened now if needed and not failed recently). */
static int listen_ready(void) {
    if (g_listen && PQstatus(g_listen) == CONNECTION_OK) return 1;
    listen_close();
    if (mono_ms() < g_listen_retry_at) return 0;
    g_listen = db_pool_connect(g_env->db);
    PGresult *r = g_listen && PQstatus(g_listen) == CONNECTION_OK
                      ? PQexec(g_listen, "LISTEN notification_queued")
                      : NULL;
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK && PQsetnonblocking(g_listen, 1) == 0;
    PQclear(r);
    if (ok) {
        g_listen_retry_at = 0;
        return 1;
    }
    if (g_listen_retry_at == 0)
        log_warn("notification delivery: no LISTEN connection, polling every %d ms",
                 notification_settings(g_env)->poll_ms);
    listen_close();
    g_listen_retry_at = mono_ms() + LISTEN_RETRY_MS;
    return 0;
}

/* Reads what arrived on the LISTEN connection: 1 when a message was queued meanwhile (or the
 * connection broke, so that the caller looks at the table rather than wait), else 0. */
static int listen_drain(void) {
    if (!g_listen) return 0;
    if (!PQconsumeInput(g_listen)) {
        listen_close();
        return 1;
    }
    int got = 0;
    for (PGnotify *n; (n = PQnotifies(g_listen)) != NULL; got = 1)
        PQfreemem(n);
    return got;
}

/* Sleeps up to ms, in steps of 50 ms (a stop is noticed), returning as soon as a message is
 * queued. */
static void wait_queued(int ms) {
    int listening = listen_ready();
    for (int slept = 0; slept < ms && !atomic_load(&g_stop); slept += 50) {
        if (listening && g_listen) {
            struct pollfd pfd = {.fd = PQsocket(g_listen), .events = POLLIN};
            if (poll(&pfd, 1, 50) > 0 && listen_drain()) return;
        } else {
            struct timespec ts = {0, 50L * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static void *worker(void *arg) {
    (void)arg;
    log_thread_name("notif", "worker");
    int poll_ms = notification_settings(g_env)->poll_ms;
    while (!atomic_load(&g_stop)) {
        err_t e = {0};
        /* what was queued until now is leased below; a later commit wakes wait_queued */
        listen_drain();
        int n = notify_deliver_once(g_env, &e);
        if (n < 0) log_warn("notification delivery: %s", e.message);
        err_t we = {0};
        int w = notify_webhooks_deliver_once(g_env, &we);
        if (w < 0) log_warn("webhook delivery: %s", we.message);
        if (w > 0 && n >= 0) n += w;
        int d = notify_digest_once(g_env, &we);
        if (d < 0) log_warn("notification digest: %s", we.message);
        if (d > 0 && n >= 0) n += d;
        if (n > 0) continue; /* more may be due */
        wait_queued(poll_ms);
    }
    listen_close();
    return NULL;
}

int notify_delivery_start(const svc_env_t *env, err_t *e) {
    g_env = env;
    g_listen_retry_at = 0;
    atomic_store(&g_stop, 0);
    if (pthread_create(&g_thread, NULL, worker, NULL) != 0)
        return err_set(e, 500, "internal", "", "cannot start the notification worker");
    g_running = 1;
    return 0;
}

void notify_delivery_stop(void) {
    if (!g_running) return;
    atomic_store(&g_stop, 1);
    pthread_join(g_thread, NULL);
    atomic_store(&g_stop, 0); /* direct passes (tests) try every leased row again */
    g_running = 0;
    sessions_close();
}
