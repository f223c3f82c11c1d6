/* config: the process configuration, read once at startup from RECIPROCAL_* environment
 * variables (each documented in README.md). Owns the cfg_t values (plain arrays, no heap).
 * A bad value is reported through err_t with `field` set to the variable name. */
#ifndef CORE_CONFIG_H
#define CORE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "core/err.h"

typedef struct cfg {
    char database_url[512];         /* RECIPROCAL_DATABASE_URL: app role (non-owner) */
    char migrate_database_url[512]; /* RECIPROCAL_MIGRATE_DATABASE_URL: owner role, migrations */
    char nats_url[512];             /* RECIPROCAL_NATS_URL */
    char listen_host[128];          /* RECIPROCAL_LISTEN=host:port (default 127.0.0.1:8080) */
    int listen_port;
    int log_level;        /* RECIPROCAL_LOG_LEVEL: debug|info|warn|error -> LOG_* */
    int log_json;         /* RECIPROCAL_LOG_FORMAT: json|text */
    char services[256];   /* RECIPROCAL_SERVICES: "all" or comma list, e.g. "gateway,member" */
    int db_pool_size;     /* RECIPROCAL_DB_POOL_SIZE (1..256, default 8) */
    int http_threads;     /* RECIPROCAL_HTTP_THREADS (1..256, default 8) */
    size_t http_max_body; /* RECIPROCAL_HTTP_MAX_BODY_BYTES (default 1048576) */
    int http_timeout_s;   /* RECIPROCAL_HTTP_TIMEOUT_SECONDS idle/read timeout (default 30) */
    int nats_timeout_ms;  /* RECIPROCAL_NATS_REQUEST_TIMEOUT_MS (default 5000) */
    int shutdown_grace_s; /* RECIPROCAL_SHUTDOWN_GRACE_SECONDS (default 10) */
    int outbox_poll_ms;   /* RECIPROCAL_OUTBOX_POLL_MS (default 200) */
} cfg_t;

/* Looks a variable up; the default is getenv. Tests pass their own. */
typedef const char *(*cfg_getenv_fn)(const char *name);

/* Fills *c with defaults, then applies each set variable (an empty value counts as unset).
 * Returns 0, or -1 with e->code "invalid_config", e->status 500, e->field = the variable name
 * and a message naming the accepted values (the value of a *_URL variable is never echoed).
 * get == NULL means getenv. Names in log level/format are matched case-insensitively;
 * c->services is stored normalised ("gateway,member", no spaces); c->listen_host holds an IPv6
 * address without its brackets. */
int cfg_load(cfg_t *c, cfg_getenv_fn get, err_t *e);

/* 1 if `service` is selected by c->services ("all" selects everything, including "gateway"). */
int cfg_service_enabled(const cfg_t *c, const char *service);

/* Prints every variable as NAME=default and its meaning (`reciprocal help config`). */
void cfg_describe(FILE *out);

/* The variable table, for tools/tests that keep README.md honest: count, i-th name, default. */
size_t cfg_var_count(void);
const char *cfg_var_name(size_t i);
const char *cfg_var_default(size_t i);

#endif
