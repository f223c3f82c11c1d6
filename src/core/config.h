/* config: the process configuration, read once at startup from RECIPROCAL_* environment
 * variables (each documented in README.md). Owns the cfg_t values (plain arrays, no heap).
 * A bad value is reported through err_t with `field` set to the variable name. */
#ifndef CORE_CONFIG_H
#define CORE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "core/err.h"

/* A 32-byte secret key variable (CFG_KEY): base64 in the environment, no default. */
typedef struct cfg_key {
    int set;               /* the variable was given */
    unsigned char key[32]; /* the decoded bytes */
} cfg_key_t;

/* The process's core variables. A service's own RECIPROCAL_* variables live in its module
 * (svc_module_t.config, core/service.h), loaded by the same table machinery below. */
typedef struct cfg {
    char database_url[512];         /* RECIPROCAL_DATABASE_URL: app role (non-owner) */
    char migrate_database_url[512]; /* RECIPROCAL_MIGRATE_DATABASE_URL: owner role, migrations */
    char nats_url[512];             /* RECIPROCAL_NATS_URL */
    char listen_host[128];          /* RECIPROCAL_LISTEN=host:port (default 127.0.0.1:8080) */
    int listen_port;
    int log_level;            /* RECIPROCAL_LOG_LEVEL: debug|info|warn|error -> LOG_* */
    int log_json;             /* RECIPROCAL_LOG_FORMAT: json|text */
    char services[256];       /* RECIPROCAL_SERVICES: "all" or comma list, e.g. "gateway,member" */
    int db_pool_size;         /* RECIPROCAL_DB_POOL_SIZE (1..256, default 8) */
    int http_threads;         /* RECIPROCAL_HTTP_THREADS (1..256, default 8) */
    size_t http_max_body;     /* RECIPROCAL_HTTP_MAX_BODY_BYTES (default 1048576) */
    int http_timeout_s;       /* RECIPROCAL_HTTP_TIMEOUT_SECONDS idle/read timeout (default 30) */
    int http_max_connections; /* RECIPROCAL_HTTP_MAX_CONNECTIONS (1000) */
    int http_max_connections_per_ip; /* RECIPROCAL_HTTP_MAX_CONNECTIONS_PER_IP (64; 0 = none) */
    int http_head_timeout_s;         /* RECIPROCAL_HTTP_HEAD_TIMEOUT_SECONDS (10) */
    int http_body_timeout_s;         /* RECIPROCAL_HTTP_BODY_TIMEOUT_SECONDS (20) */
    int http_body_min_rate;          /* RECIPROCAL_HTTP_BODY_MIN_RATE bytes/s (500; 0 = none) */
    int nats_timeout_ms;             /* RECIPROCAL_NATS_REQUEST_TIMEOUT_MS (default 5000) */
    int nats_replicas;               /* RECIPROCAL_NATS_REPLICAS: 1..5, 0 = auto (default) */
    char nats_user[64];        /* RECIPROCAL_NATS_USER: NATS user of this process ("" = none) */
    char nats_password[256];   /* RECIPROCAL_NATS_PASSWORD: its password (secret, never logged) */
    cfg_key_t bus_key;         /* RECIPROCAL_BUS_KEY: signs the caller assertion on svc.* calls */
    int shutdown_grace_s;      /* RECIPROCAL_SHUTDOWN_GRACE_SECONDS (default 10) */
    int outbox_poll_ms;        /* RECIPROCAL_OUTBOX_POLL_MS (default 200) */
    int events_retention_h;    /* RECIPROCAL_EVENTS_RETENTION_HOURS (720 = 30 days, 1..87600) */
    int cache_ttl_s;           /* RECIPROCAL_CACHE_TTL_SECONDS (300; 0 = no read cache) */
    int cache_max_entries;     /* RECIPROCAL_CACHE_MAX_ENTRIES per cache (10000) */
    int graphql_introspection; /* RECIPROCAL_GRAPHQL_INTROSPECTION: CFG_GQL_INTROSPECTION_* */
    int graphql_max_depth;     /* RECIPROCAL_GRAPHQL_MAX_DEPTH (0 = off, default 15) */
    int graphql_max_cost;      /* RECIPROCAL_GRAPHQL_MAX_COST (0 = off, default 10000) */
    int graphql_max_aliases;   /* RECIPROCAL_GRAPHQL_MAX_ALIASES (0 = off, default 100) */
    int graphql_max_fields;    /* RECIPROCAL_GRAPHQL_MAX_FIELDS (0 = off, default 1000) */
    int graphql_require_persisted_mutations; /* RECIPROCAL_GRAPHQL_REQUIRE_PERSISTED_MUTATIONS */
    int graphql_timeout_ms;                  /* RECIPROCAL_GRAPHQL_TIMEOUT_MS (0 = off) */
    size_t graphql_max_response_bytes;       /* RECIPROCAL_GRAPHQL_MAX_RESPONSE_BYTES (0 = off) */
} cfg_t;

enum {
    CFG_GQL_INTROSPECTION_ON,
    CFG_GQL_INTROSPECTION_ADMINS,
    CFG_GQL_INTROSPECTION_OFF,
    CFG_GQL_INTROSPECTION_SIGNED_IN, /* the default */
};

/* Looks a variable up; the default is getenv. Tests pass their own. */
typedef const char *(*cfg_getenv_fn)(const char *name);

/* ---- variable tables (nginx-style directives) ----
 * One row per RECIPROCAL_* variable: its name, kind, the struct member it fills (offset, size),
 * bounds, default and meaning. The same row drives loading (defaults first, then the
 * environment), validation (errors name the variable) and `reciprocal config`. core/config
 * holds the core table (cfg_t); each service module holds its own (svc_module_t.config). */
typedef enum {
    CFG_PG_URL,     /* postgresql:// or postgres:// -> char[] (never echoed) */
    CFG_NATS_URL,   /* nats:// or tls://, comma-separated list allowed -> char[] */
    CFG_LISTEN,     /* host:port -> cfg_t listen_host, listen_port (core only) */
    CFG_LOG_LEVEL,  /* debug|info|warn|error -> int LOG_* */
    CFG_LOG_FORMAT, /* json|text -> int (1 = json) */
    CFG_SERVICES,   /* all | comma list -> char[] (normalised, no spaces) */
    CFG_INT,        /* integer in [min, max] -> int */
    CFG_SIZE,       /* integer in [min, max] -> size_t */
    CFG_GQL_INTRO,  /* on|admins|off|signed_in -> int CFG_GQL_INTROSPECTION_* */
    CFG_STR,      /* single-line printable text, 1..size-1 bytes -> char[] ("" default: optional) */
    CFG_KEY,      /* base64 of 32 bytes -> cfg_key_t; "" = unset; never echoed */
    CFG_REPLICAS, /* auto | integer in [min, max] -> int (0 = auto) */
    CFG_JWT_ALG,  /* RS256|EdDSA|ES256 (any case) -> int 0|1|2, the order of lib/credentials/jwt.h
                     jwt_alg_t */
} cfg_kind_t;

/* flags of a row */
#define CFG_REQUIRED 1 /* no default: `serve` refuses to start where its module runs without it */

typedef struct cfg_var {
    const char *name; /* RECIPROCAL_... */
    cfg_kind_t kind;
    size_t offset, size; /* the member filled: CFG_FIELD(struct type, member) */
    long long min, max;  /* CFG_INT, CFG_SIZE, CFG_REPLICAS */
    const char *def;     /* default, parsed like a value from the environment */
    const char *help;    /* one paragraph: what it does, units, what 0 means */
    int flags;           /* CFG_REQUIRED */
} cfg_var_t;

#define CFG_FIELD(type, member) offsetof(type, member), sizeof(((type *)0)->member)

/* Fills the struct at dst (zeroed by the caller) from vars[0..n): every default, then each set
 * variable (an empty value counts as unset). 0, or -1 with e->code "invalid_config", e->status 500,
 * e->field = the variable name and a message naming the accepted values (URL and key values are
 * never echoed). get == NULL means getenv. */
int cfg_vars_load(const cfg_var_t *vars, size_t n, void *dst, cfg_getenv_fn get, err_t *e);
/* Prints each row as NAME=default and its meaning (with its integer range). */
void cfg_vars_describe(FILE *out, const cfg_var_t *vars, size_t n);

/* The one check of a key variable: 0 when k is set, else -1 with e->status = status, e->code =
 * code (e.g. 500 "invalid_config" at startup, 503 "<service>_not_configured" at use), e->field =
 * name and how to make one (head -c 32 /dev/urandom | base64). */
int cfg_key_require(const cfg_key_t *k, const char *name, int status, const char *code, err_t *e);
/* The CFG_REQUIRED rows of vars: 0 when each is set (a CFG_KEY row's key, a text row non-empty),
 * else -1 with 500 invalid_config naming the first missing one. */
int cfg_vars_require(const cfg_var_t *vars, size_t n, const void *src, err_t *e);

/* Fills *c (core variables) with defaults, then applies each set variable, as cfg_vars_load.
 * Names in log level/format are matched case-insensitively; c->services is stored normalised
 * ("gateway,member", no spaces); c->listen_host holds an IPv6 address without its brackets. */
int cfg_load(cfg_t *c, cfg_getenv_fn get, err_t *e);

/* 1 if `service` is selected by c->services ("all" selects everything, including "gateway"). */
int cfg_service_enabled(const cfg_t *c, const char *service);

/* RECIPROCAL_BUS_KEY has no default and is required by every process that serves or calls
 * operations over NATS (serve): 0, or -1 with 500 invalid_config naming the variable. */
int cfg_require_bus_key(const cfg_t *c, err_t *e);

/* Prints every core variable as NAME=default and its meaning (`reciprocal config` adds each
 * module's table after it). */
void cfg_describe(FILE *out);

/* The core variable table, for tools/tests that keep README.md honest: count, i-th row. */
size_t cfg_var_count(void);
const cfg_var_t *cfg_var(size_t i);
const char *cfg_var_name(size_t i);
const char *cfg_var_default(size_t i);

#endif
