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
    int bus_key_set;           /* RECIPROCAL_BUS_KEY was given (no default) */
    unsigned char bus_key[32]; /* RECIPROCAL_BUS_KEY: signs the caller assertion on svc.* calls */
    int shutdown_grace_s;      /* RECIPROCAL_SHUTDOWN_GRACE_SECONDS (default 10) */
    int outbox_poll_ms;        /* RECIPROCAL_OUTBOX_POLL_MS (default 200) */
    int events_retention_h;    /* RECIPROCAL_EVENTS_RETENTION_HOURS (720 = 30 days, 1..87600) */
    int graphql_introspection; /* RECIPROCAL_GRAPHQL_INTROSPECTION: CFG_GQL_INTROSPECTION_* */
    int graphql_max_depth;     /* RECIPROCAL_GRAPHQL_MAX_DEPTH (0 = off, default 15) */
    int graphql_max_cost;      /* RECIPROCAL_GRAPHQL_MAX_COST (0 = off, default 10000) */
    int graphql_max_aliases;   /* RECIPROCAL_GRAPHQL_MAX_ALIASES (0 = off, default 100) */
    int graphql_max_fields;    /* RECIPROCAL_GRAPHQL_MAX_FIELDS (0 = off, default 1000) */
    int graphql_require_persisted_mutations; /* RECIPROCAL_GRAPHQL_REQUIRE_PERSISTED_MUTATIONS */
    int graphql_timeout_ms;                  /* RECIPROCAL_GRAPHQL_TIMEOUT_MS (0 = off) */
    size_t graphql_max_response_bytes;       /* RECIPROCAL_GRAPHQL_MAX_RESPONSE_BYTES (0 = off) */
    /* auth service and the gateway's token check (docs/auth.md) */
    char auth_issuer[128];      /* RECIPROCAL_AUTH_ISSUER: `iss` of access tokens */
    char auth_audience[128];    /* RECIPROCAL_AUTH_AUDIENCE: `aud` of access tokens */
    int auth_access_ttl_s;      /* RECIPROCAL_AUTH_ACCESS_TTL_SECONDS (900) */
    int auth_session_max_s;     /* RECIPROCAL_AUTH_SESSION_MAX_SECONDS (30 days) */
    int auth_session_idle_s;    /* RECIPROCAL_AUTH_SESSION_IDLE_SECONDS (7 days) */
    int auth_invite_ttl_s;      /* RECIPROCAL_AUTH_INVITE_TTL_SECONDS (7 days) */
    int auth_reset_ttl_s;       /* RECIPROCAL_AUTH_RESET_TTL_SECONDS (3600) */
    int auth_max_failures;      /* RECIPROCAL_AUTH_MAX_FAILURES (5) */
    int auth_ip_max_failures;   /* RECIPROCAL_AUTH_IP_MAX_FAILURES (50) */
    int auth_kek_set;           /* RECIPROCAL_AUTH_KEK was given (no default) */
    unsigned char auth_kek[32]; /* RECIPROCAL_AUTH_KEK: 32 bytes, base64 in the variable */
    /* member service: membership cards (docs/member.md) */
    int card_kek_set;           /* RECIPROCAL_CARD_KEK was given (no default) */
    unsigned char card_kek[32]; /* RECIPROCAL_CARD_KEK: 32 bytes, base64 in the variable */
    int card_ttl_s;             /* RECIPROCAL_CARD_TTL_SECONDS (86400) */
    int member_sweep_s;         /* RECIPROCAL_MEMBER_SWEEP_SECONDS (3600; 0 = off) */
    /* ledger service (docs/ledger.md) */
    int ledger_kek_set;           /* RECIPROCAL_LEDGER_KEK was given (no default) */
    unsigned char ledger_kek[32]; /* RECIPROCAL_LEDGER_KEK: 32 bytes, base64 in the variable */
    char ledger_origin[128];      /* RECIPROCAL_LEDGER_ORIGIN: checkpoint origin line */
    int ledger_block_max_txs;     /* RECIPROCAL_LEDGER_BLOCK_MAX_TXS (500) */
    int ledger_block_ms;          /* RECIPROCAL_LEDGER_BLOCK_MS (20) */
    int ledger_witness_k;         /* RECIPROCAL_LEDGER_WITNESS_K (1) */
} cfg_t;

enum {
    CFG_GQL_INTROSPECTION_ON,
    CFG_GQL_INTROSPECTION_ADMINS,
    CFG_GQL_INTROSPECTION_OFF,
    CFG_GQL_INTROSPECTION_SIGNED_IN, /* the default */
};

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

/* RECIPROCAL_BUS_KEY has no default and is required by every process that serves or calls
 * operations over NATS (serve): 0, or -1 with 500 invalid_config naming the variable. */
int cfg_require_bus_key(const cfg_t *c, err_t *e);

/* RECIPROCAL_AUTH_KEK has no default and is required only where the auth service runs (serve
 * with auth enabled, `reciprocal auth ...`, seeding accounts): 0 when set, else -1 with
 * e->status 500, code "invalid_config", field "RECIPROCAL_AUTH_KEK" and how to make one. */
int cfg_require_auth_kek(const cfg_t *c, err_t *e);

/* Prints every variable as NAME=default and its meaning (`reciprocal help config`). */
void cfg_describe(FILE *out);

/* The variable table, for tools/tests that keep README.md honest: count, i-th name, default. */
size_t cfg_var_count(void);
const char *cfg_var_name(size_t i);
const char *cfg_var_default(size_t i);

#endif
