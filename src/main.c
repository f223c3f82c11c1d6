/* main: the `reciprocal` command line: serve, migrate, seed, config, version, and each service
 * module's own commands (`reciprocal <service> ...`, svc_module_t.cli). Names no service: what a
 * service adds (variables, commands, demo data) comes from its module in the registry.
 * Owns the process: configuration, signal handling, and the lifetime of the database pool,
 * the NATS connection, the service responders, the outbox relay and the HTTP server. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/config.h"
#include "core/consumer.h"
#include "core/db.h"
#include "core/http.h"
#include "core/log.h"
#include "core/migrate.h"
#include "core/outbox.h"
#include "core/rcache.h"
#include "core/service.h"
#include "gateway/gateway.h"

#define RECIPROCAL_VERSION "0.1.0"
/* Shutdown is bounded (docs/security.md H2): this long after the grace period the process ends
 * even when a request handler never returns (MHD_stop_daemon joins the worker threads). */
#define SHUTDOWN_MARGIN_S 5

static void usage(FILE *out) {
    fprintf(out, "usage: reciprocal <command>\n"
                 "  serve [--services a,b]   run the services (default: all, incl. gateway)\n"
                 "  migrate up               apply pending migrations (owner role)\n"
                 "  migrate down [N]         undo the N latest migrations (default 1)\n"
                 "  migrate status           list migrations and whether they are applied\n"
                 "  seed                     create the demo network (3 clubs), idempotent\n"
                 "  config                   list the RECIPROCAL_* environment variables\n"
                 "  services                 list the services linked into this binary\n"
                 "  nats-permissions USER    print the NATS subject permissions of USER (all,\n"
                 "                           a service, or services joined by -: member-auth)\n"
                 "  version                  print the version\n");
    for (const svc_module_t *const *m = svc_registry; *m; m++)
        if ((*m)->cli.usage) fputs((*m)->cli.usage, out);
}

static int fail_with(const char *what, const err_t *e) {
    if (e->field[0])
        fprintf(stderr, "reciprocal: %s: %s (%s)\n", what, e->message, e->field);
    else
        fprintf(stderr, "reciprocal: %s: %s\n", what, e->message);
    return e->status == 400 || e->status == 422 ? 2 : 1;
}

static int cmd_migrate(const cfg_t *cfg, int argc, char **argv) {
    err_t e = {0};
    if (argc < 1) {
        fprintf(stderr, "reciprocal: migrate needs up, down [N] or status\n");
        return 2;
    }
    int rc;
    if (strcmp(argv[0], "up") == 0 && argc == 1) {
        rc = migrate_up(cfg->migrate_database_url, stdout, &e);
    } else if (strcmp(argv[0], "down") == 0 && argc <= 2) {
        long n = 1;
        if (argc == 2) {
            char *end;
            errno = 0;
            n = strtol(argv[1], &end, 10);
            if (errno || *end || n < 1 || n > 10000) {
                fprintf(stderr, "reciprocal: migrate down N: N must be a positive integer\n");
                return 2;
            }
        }
        rc = migrate_down(cfg->migrate_database_url, (int)n, stdout, &e);
    } else if (strcmp(argv[0], "status") == 0 && argc == 1) {
        rc = migrate_status(cfg->migrate_database_url, stdout, &e);
    } else {
        fprintf(stderr, "reciprocal: migrate needs up, down [N] or status\n");
        return 2;
    }
    return rc == 0 ? 0 : fail_with("migrate", &e);
}

/* The demo network: each module's seed hook, in registry order, on a pool of four connections
 * (an operation calling another module's operation inside its transaction, as the reciprocal
 * seed's visit history does through approve_visit -> member.member_standing, needs two). */
static int cmd_seed(const svc_env_t *base) {
    err_t e = {0};
    db_pool_t *db = db_pool_open(base->cfg->database_url, 4, &e);
    if (!db) return fail_with("seed", &e);
    svc_env_t env = *base;
    env.db = db;
    int rc = 0;
    for (const svc_module_t *const *m = svc_registry; *m && rc == 0; m++)
        if ((*m)->seed && (*m)->seed(&env, &e) != 0) rc = fail_with("seed", &e);
    db_pool_close(db);
    return rc;
}

/* Started on SIGTERM/SIGINT: http_stop waits up to the grace period for in-flight requests, but
 * a handler that never returns (a stuck dependency, a runaway query) would keep the HTTP
 * library's worker threads, and so the process, alive forever. After grace + margin seconds
 * this ends the process at once (_exit: the stuck thread still uses what a normal exit would
 * free); PostgreSQL rolls back what the stuck request had not committed. */
static void *shutdown_watchdog(void *arg) {
    int limit_s = *(const int *)arg;
    struct timespec ts = {limit_s, 0};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    log_error("shutdown: still running %d s after the stop signal (grace %d s + %d s): a request "
              "or service is stuck; exiting now",
              limit_s, limit_s - SHUTDOWN_MARGIN_S, SHUTDOWN_MARGIN_S);
    _exit(1);
    return NULL;
}

static void start_shutdown_watchdog(int grace_s) {
    static int limit_s;
    limit_s = (grace_s > 0 ? grace_s : 0) + SHUTDOWN_MARGIN_S;
    pthread_attr_t a;
    pthread_t th;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &a, shutdown_watchdog, &limit_s) != 0)
        log_warn("shutdown: no watchdog thread; a stuck request may delay the exit");
    pthread_attr_destroy(&a);
}

static int cmd_serve(cfg_t *cfg, const svc_settings_t *settings, int argc, char **argv) {
    err_t e = {0};
    int rc = 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--services") == 0 && i + 1 < argc) {
            snprintf(cfg->services, sizeof cfg->services, "%s", argv[++i]);
        } else {
            fprintf(stderr, "reciprocal: serve: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    /* Large answers (a statement's ~1.4 MB document: written, held as the answer and sent, 2-3
     * buffers of that size per request) come from the heap and stay there for the next one.
     * glibc's defaults mmap each such buffer and unmap it when freed (and trim a thread arena's
     * top with madvise), so every answer paid a page fault per 4 KB it touched: half the server's
     * CPU per statement document (docs/reciprocal.md "Speed: settlement"). Freed memory is kept
     * for reuse up to 64 MB per arena. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    /* Re-validate the service list through the same rules as the environment variable. */
    {
        char value[256];
        snprintf(value, sizeof value, "%s", cfg->services);
        setenv("RECIPROCAL_SERVICES", value, 1);
        if (cfg_load(cfg, NULL, &e) != 0) return fail_with("configuration", &e);
    }
    /* the enabled services' variables without a default (their keys, e.g. RECIPROCAL_AUTH_KEK) */
    if (svc_settings_require(settings, cfg, &e) != 0) return fail_with("configuration", &e);
    log_init(cfg->log_level, cfg->log_json, "reciprocal");
    /* every operation of every linked service names who may call it (core/service.h) */
    if (svc_check_registry(&e) != 0) return fail_with("operation table", &e);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    db_pool_t *db = NULL;
    bus_t *bus = NULL;
    outbox_relay_t *relay = NULL;
    gateway_t *gw = NULL;
    http_server_t *http = NULL;
    const char *schemas[16] = {0};
    int n_schemas = 0;
    const svc_module_t *started[16] = {0}; /* modules whose start hook ran, for stop */
    int n_started = 0;
    svc_consumers_t *consumers[16] = {0}; /* the enabled modules' event consumers */
    int n_consumers = 0;

    /* every NATS call is signed and verified with RECIPROCAL_BUS_KEY (docs/security.md N2) */
    if (cfg_require_bus_key(cfg, &e) != 0) goto fail;
    db = db_pool_open(cfg->database_url, cfg->db_pool_size, &e);
    if (!db) goto fail;
    bus = bus_connect_auth(cfg->nats_url, "reciprocal", cfg->nats_user, cfg->nats_password, &e);
    if (!bus) goto fail;
    /* EVENTS and the ledger's streams get RECIPROCAL_NATS_REPLICAS (auto: 3 on a cluster of >= 3
     * servers), existing ones updated to it: one node down stops neither (issue 17 item 7) */
    if (bus_set_stream_replicas(bus, cfg->nats_replicas, &e) < 0) goto fail;
    /* events are kept RECIPROCAL_EVENTS_RETENTION_HOURS: the stream's MaxAge, the relay's purge */
    const long long retention_s = (long long)cfg->events_retention_h * 3600;
    if (outbox_ensure_stream(bus, retention_s, &e) != 0) goto fail;
    static svc_env_t env;
    env = (svc_env_t){.cfg = cfg, .db = db, .bus = bus, .settings = settings};

    for (const svc_module_t *const *m = svc_registry; *m; m++) {
        if (!cfg_service_enabled(cfg, (*m)->name)) continue;
        if (svc_serve_bus(&env, *m, 4, &e) != 0) goto fail;
        if (n_schemas < 15) schemas[n_schemas++] = (*m)->schema;
        log_info("service %s answering on svc.%s.*", (*m)->name, (*m)->name);
    }
    if (n_schemas > 0) {
        const outbox_relay_opts_t ro = {.poll_ms = cfg->outbox_poll_ms, .retention_s = retention_s};
        relay = outbox_relay_start(db, bus, schemas, &ro, &e);
        if (!relay) goto fail;
    }
    /* background work of the services (e.g. the ledger's block cutter and committer) */
    for (const svc_module_t *const *m = svc_registry; *m; m++) {
        if (!cfg_service_enabled(cfg, (*m)->name) || !(*m)->start) continue;
        if (n_started == 16) {
            err_set(&e, 500, "internal", "", "too many services with a start hook");
            goto fail;
        }
        if ((*m)->start(&env, &e) != 0) goto fail;
        started[n_started++] = *m;
    }
    /* the services' event consumers (svc_module_t.consumers, core/consumer.h) */
    for (const svc_module_t *const *m = svc_registry; *m; m++) {
        if (!cfg_service_enabled(cfg, (*m)->name) || (*m)->n_consumers == 0) continue;
        if (n_consumers == 16) {
            err_set(&e, 500, "internal", "", "too many services with consumers");
            goto fail;
        }
        consumers[n_consumers] = svc_consumers_start(&env, *m, &e);
        if (!consumers[n_consumers]) goto fail;
        n_consumers++;
    }
    if (cfg_service_enabled(cfg, "gateway")) {
        gw = gw_new(&env, &e);
        if (!gw) goto fail;
        http_config_t hc = {
            .host = cfg->listen_host,
            .port = cfg->listen_port,
            .threads = cfg->http_threads,
            .max_body = cfg->http_max_body,
            .timeout_s = cfg->http_timeout_s,
            .body_limit = gw_body_limit,
            .max_connections = cfg->http_max_connections,
            .max_connections_per_ip =
                cfg->http_max_connections_per_ip > 0 ? cfg->http_max_connections_per_ip : -1,
            .head_timeout_s = cfg->http_head_timeout_s,
            .body_timeout_s = cfg->http_body_timeout_s,
            .body_min_rate = cfg->http_body_min_rate > 0 ? cfg->http_body_min_rate : -1,
            /* PostgreSQL pool, NATS, logs and files */
            .fd_reserve = cfg->db_pool_size + 64};
        http = http_start(&hc, gw_handle, gw, &e);
        if (!http) goto fail;
        log_info("gateway listening on http://%s:%d", cfg->listen_host, http_port(http));
    }
    log_info("reciprocal %s serving (%s)", RECIPROCAL_VERSION, cfg->services);

    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    start_shutdown_watchdog(cfg->shutdown_grace_s);
    rc = 0;
    goto cleanup;
fail:
    log_error("startup failed: %s%s%s", e.message, e.field[0] ? " " : "", e.field);
    fail_with("serve", &e);
cleanup:
    /* the consumers notice within their fetch timeout: all groups told first, so they wait it
     * out together rather than one after another */
    for (int i = 0; i < n_consumers; i++)
        svc_consumers_signal(consumers[i]);
    if (http) http_stop(http, cfg->shutdown_grace_s);
    while (n_consumers > 0)
        svc_consumers_stop(consumers[--n_consumers]);
    while (n_started > 0) {
        const svc_module_t *m = started[--n_started];
        if (m->stop) m->stop();
    }
    if (relay) outbox_relay_stop(relay);
    gw_free(gw);
    bus_close(bus);
    db_pool_close(db);
    bus_shutdown_library();
    if (rc == 0) log_info("stopped");
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("reciprocal %s\n", RECIPROCAL_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "config") == 0) {
        svc_config_describe(stdout);
        return 0;
    }
    if (strcmp(argv[1], "services") == 0) {
        svc_services_list(stdout);
        return 0;
    }
    if (strcmp(argv[1], "nats-permissions") == 0) {
        err_t pe = {0};
        if (argc != 3) {
            usage(stderr);
            return 2;
        }
        if (svc_nats_permissions(argv[2], stdout, &pe) != 0)
            return fail_with("nats-permissions", &pe);
        return 0;
    }
    static cfg_t cfg;
    static svc_settings_t settings;
    err_t e = {0};
    if (cfg_load(&cfg, NULL, &e) != 0 || svc_settings_load(&settings, NULL, &e) != 0)
        return fail_with("configuration", &e);
    log_init(cfg.log_level, cfg.log_json, "reciprocal");
    rcache_configure(cfg.cache_ttl_s, cfg.cache_max_entries);
    const svc_env_t env = {.cfg = &cfg, .settings = &settings};
    if (strcmp(argv[1], "serve") == 0) return cmd_serve(&cfg, &settings, argc - 2, argv + 2);
    if (strcmp(argv[1], "migrate") == 0) return cmd_migrate(&cfg, argc - 2, argv + 2);
    if (strcmp(argv[1], "seed") == 0) return cmd_seed(&env);
    for (const svc_module_t *const *m = svc_registry; *m; m++)
        if ((*m)->cli.main && strcmp(argv[1], (*m)->name) == 0)
            return (*m)->cli.main(&env, argc - 2, argv + 2);
    fprintf(stderr, "reciprocal: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
