/* config: see config.h. One static table (k_vars) lists every core RECIPROCAL_* variable with
 * its kind, bounds, default and meaning; it drives cfg_load (defaults first, then the
 * environment) and cfg_describe (`reciprocal config`), so adding a core variable is one line
 * here plus the cfg_t field. The same machinery (cfg_vars_load/describe) serves each service
 * module's own table (svc_module_t.config). Values of *_URL variables are never echoed in errors
 * (they may hold passwords). */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/service.h"

#define MEMBER(m) CFG_FIELD(cfg_t, m)

/* clang-format off */
static const cfg_var_t k_vars[] = {
    {"RECIPROCAL_DATABASE_URL", CFG_PG_URL, MEMBER(database_url), 0, 0,
     "postgresql://reciprocal_app@127.0.0.1:55432/reciprocal",
     "PostgreSQL URL (postgresql:// or postgres://) of the application role: not the owner of "
     "the database and without BYPASSRLS, so row-level security applies to every request.", 0},
    {"RECIPROCAL_MIGRATE_DATABASE_URL", CFG_PG_URL, MEMBER(migrate_database_url), 0, 0,
     "postgresql://reciprocal_owner@127.0.0.1:55432/reciprocal",
     "PostgreSQL URL of the role that owns the database; used only to apply migrations.", 0},
    {"RECIPROCAL_NATS_URL", CFG_NATS_URL, MEMBER(nats_url), 0, 0,
     "nats://127.0.0.1:54222",
     "NATS server URL (nats:// or tls://; a comma-separated list for a cluster) carrying "
     "requests and events between services.", 0},
    {"RECIPROCAL_LISTEN", CFG_LISTEN, MEMBER(listen_host), 0, 0,
     "127.0.0.1:8080",
     "Address the HTTP gateway listens on: host:port or [ipv6]:port. Port 0 picks a free port.", 0},
    {"RECIPROCAL_LOG_LEVEL", CFG_LOG_LEVEL, MEMBER(log_level), 0, 0,
     "info",
     "Lowest level written to the log: debug, info, warn or error.", 0},
    {"RECIPROCAL_LOG_FORMAT", CFG_LOG_FORMAT, MEMBER(log_json), 0, 0,
     "json",
     "json (one JSON object per line on stderr) or text (readable lines for a terminal).", 0},
    {"RECIPROCAL_SERVICES", CFG_SERVICES, MEMBER(services), 0, 0,
     "all",
     "Services this process runs: all, or a comma-separated list of the services linked in "
     "(`reciprocal services`; src/services/registry.c).", 0},
    {"RECIPROCAL_DB_POOL_SIZE", CFG_INT, MEMBER(db_pool_size), 1, 256,
     "8",
     "PostgreSQL connections held by the process.", 0},
    {"RECIPROCAL_HTTP_THREADS", CFG_INT, MEMBER(http_threads), 1, 256,
     "8",
     "HTTP worker threads.", 0},
    {"RECIPROCAL_HTTP_MAX_BODY_BYTES", CFG_SIZE, MEMBER(http_max_body), 1024, 67108864,
     "1048576",
     "Largest request body accepted, in bytes; larger bodies are refused with 413.", 0},
    {"RECIPROCAL_HTTP_TIMEOUT_SECONDS", CFG_INT, MEMBER(http_timeout_s), 1, 3600,
     "30",
     "Idle/read timeout of an HTTP connection, in seconds.", 0},
    {"RECIPROCAL_HTTP_MAX_CONNECTIONS", CFG_INT, MEMBER(http_max_connections), 16, 1000000,
     "1000",
     "Open HTTP connections at most; further ones are closed at once. Capped below the "
     "process's descriptor limit (RLIMIT_NOFILE; its soft value is raised to the hard one when "
     "needed). From 3/4 of it on, the connections waiting longest for a request head are closed "
     "first.", 0},
    {"RECIPROCAL_HTTP_MAX_CONNECTIONS_PER_IP", CFG_INT, MEMBER(http_max_connections_per_ip), 0,
     1000000,
     "64",
     "Open HTTP connections from one client address at most (0 = no limit; raise it, or set "
     "0, behind a reverse proxy, where every client has the proxy's address).", 0},
    {"RECIPROCAL_HTTP_HEAD_TIMEOUT_SECONDS", CFG_INT, MEMBER(http_head_timeout_s), 1, 3600,
     "10",
     "A connection must deliver a complete request head (request line and header fields) "
     "within this many seconds of being accepted or of the previous answer (so an idle "
     "keep-alive connection is closed after it too), else it is closed.", 0},
    {"RECIPROCAL_HTTP_BODY_TIMEOUT_SECONDS", CFG_INT, MEMBER(http_body_timeout_s), 1, 3600,
     "20",
     "A request body must arrive within this many seconds plus 1 s per "
     "RECIPROCAL_HTTP_BODY_MIN_RATE bytes received, else the connection is closed.", 0},
    {"RECIPROCAL_HTTP_BODY_MIN_RATE", CFG_INT, MEMBER(http_body_min_rate), 0, 1000000000,
     "500",
     "Minimum request body rate in bytes per second, see RECIPROCAL_HTTP_BODY_TIMEOUT_SECONDS "
     "(0 = the whole body within RECIPROCAL_HTTP_BODY_TIMEOUT_SECONDS).", 0},
    {"RECIPROCAL_NATS_REQUEST_TIMEOUT_MS", CFG_INT, MEMBER(nats_timeout_ms), 50, 120000,
     "5000",
     "How long a request to another service over NATS may take, in milliseconds.", 0},
    {"RECIPROCAL_NATS_REPLICAS", CFG_REPLICAS, MEMBER(nats_replicas), 1, 5,
     "auto",
     "Replicas of the JetStream streams `serve` creates (EVENTS, LEDGER_TX, LEDGER_BLOCKS), "
     "applied to existing streams too: 1 to 5, or auto = 3 when the NATS servers form a cluster "
     "of 3 or more, else 1 (auto never lowers an existing stream's count).", 0},
    {"RECIPROCAL_NATS_USER", CFG_STR, MEMBER(nats_user), 0, 0,
     "",
     "NATS user this process connects as (nats-server runs with authentication; each user may "
     "answer and publish only its services' subjects, see docs/security.md N1). `make run` "
     "uses `all`; a `--services member` process uses `member`. Empty = no credentials.", 0},
    {"RECIPROCAL_NATS_PASSWORD", CFG_STR, MEMBER(nats_password), 0, 0,
     "",
     "Password of RECIPROCAL_NATS_USER (a secret: never logged; `make run` generates one per "
     "user into var/secrets.env).", 0},
    {"RECIPROCAL_BUS_KEY", CFG_KEY, MEMBER(bus_key), 0, 0,
     "",
     "Key that signs the caller of every operation sent over NATS (HMAC-SHA256, bound to the "
     "subject, the input and a 30-second expiry; docs/security.md N2): 32 random bytes in "
     "base64, the same in every process of a deployment. No default: `serve` refuses to start "
     "without it; `make run` generates one into var/secrets.env.", 0},
    {"RECIPROCAL_SHUTDOWN_GRACE_SECONDS", CFG_INT, MEMBER(shutdown_grace_s), 0, 300,
     "10",
     "Time in-flight requests get to finish after SIGTERM/SIGINT, in seconds; 5 s later the "
     "process ends even if a request is stuck (exit status 1).", 0},
    {"RECIPROCAL_OUTBOX_POLL_MS", CFG_INT, MEMBER(outbox_poll_ms), 10, 60000,
     "200",
     "How often the outbox relay looks for unpublished events, in milliseconds.", 0},
    {"RECIPROCAL_EVENTS_RETENTION_HOURS", CFG_INT, MEMBER(events_retention_h), 1, 87600,
     "720",
     "How long events are kept, in hours (default 30 days): the JetStream stream EVENTS drops "
     "older messages (MaxAge), and the outbox relay deletes published outbox rows older than "
     "this and inbox rows older than this plus one day, about once an hour. Events not yet "
     "published are never deleted.", 0},
    {"RECIPROCAL_CACHE_TTL_SECONDS", CFG_INT, MEMBER(cache_ttl_s), 0, 86400,
     "300",
     "Longest time a row stays in the in-process read cache (clubs, the published signing "
     "keys; core/rcache.h), in seconds: the safety net behind the event invalidation, which "
     "reaches every process within the event delay. 0 = no read cache.", 0},
    {"RECIPROCAL_CACHE_MAX_ENTRIES", CFG_INT, MEMBER(cache_max_entries), 1, 10000000,
     "10000",
     "Entries each read cache holds at most; the least recently used one is evicted.", 0},
    {"RECIPROCAL_GRAPHQL_INTROSPECTION", CFG_GQL_INTRO, MEMBER(graphql_introspection), 0, 0,
     "signed_in",
     "GraphQL introspection (__schema, __type): signed_in (any caller with a valid access token; "
     "anonymous requests get a request error), admins (network administrators only), on "
     "(everyone) or off.", 0},
    {"RECIPROCAL_GRAPHQL_TIMEOUT_MS", CFG_INT, MEMBER(graphql_timeout_ms), 0, 600000,
     "10000",
     "Execution time limit of one GraphQL operation, in milliseconds: fields not started by then "
     "are null and the response carries a `deadline_exceeded` error with the path of the first "
     "(0 = no limit).", 0},
    {"RECIPROCAL_GRAPHQL_MAX_RESPONSE_BYTES", CFG_SIZE, MEMBER(graphql_max_response_bytes), 0,
     1073741824,
     "2097152",
     "Largest GraphQL response data, in bytes: past it execution stops and the response is one "
     "`response_too_large` error with data null (0 = no limit).", 0},
    {"RECIPROCAL_GRAPHQL_MAX_DEPTH", CFG_INT, MEMBER(graphql_max_depth), 0, 1000,
     "15",
     "Deepest field nesting a GraphQL operation may select (0 = no limit).", 0},
    {"RECIPROCAL_GRAPHQL_MAX_COST", CFG_INT, MEMBER(graphql_max_cost), 0, 100000000,
     "10000",
     "GitHub-style cost limit of a GraphQL operation: every selected list field (each alias "
     "counted) costs the product of the list sizes on its path, first/last or the argument's "
     "default for paginated fields (which then need first/last 1..100), 10 for other lists of "
     "objects (0 = no cost limit and no pagination requirement).", 0},
    {"RECIPROCAL_GRAPHQL_MAX_ALIASES", CFG_INT, MEMBER(graphql_max_aliases), 0, 100000000,
     "100",
     "Most aliased fields a GraphQL operation may select, a fragment counted at every spread "
     "(0 = no limit).", 0},
    {"RECIPROCAL_GRAPHQL_MAX_FIELDS", CFG_INT, MEMBER(graphql_max_fields), 0, 100000000,
     "1000",
     "Most fields a GraphQL operation may select, aliases included and a fragment counted at "
     "every spread (0 = no limit).", 0},
    {"RECIPROCAL_GRAPHQL_REQUIRE_PERSISTED_MUTATIONS", CFG_INT,
     MEMBER(graphql_require_persisted_mutations), 0, 1,
     "0",
     "1: GraphQL mutations run only from registered persisted documents (documentId).", 0},
};
/* clang-format on */

#define N_VARS (sizeof k_vars / sizeof k_vars[0])

size_t cfg_var_count(void) {
    return N_VARS;
}

const cfg_var_t *cfg_var(size_t i) {
    return i < N_VARS ? &k_vars[i] : NULL;
}

const char *cfg_var_name(size_t i) {
    return i < N_VARS ? k_vars[i].name : NULL;
}

const char *cfg_var_default(size_t i) {
    return i < N_VARS ? k_vars[i].def : NULL;
}

/* ---------------------------------------------------------------- parsers */

static int invalid(err_t *e, const char *name, const char *fmt_tail, const char *got) {
    /* fmt_tail is a constant from this file describing the accepted values */
    return err_set(e, 500, "invalid_config", name, "%s must be %s (got \"%.64s\")", name, fmt_tail,
                   got);
}

static int has_space_or_ctl(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7F) return 1;
    return 0;
}

static int set_pg_url(const cfg_var_t *v, const char *val, void *base, err_t *e) {
    char *dst = (char *)base + v->offset;
    size_t n = strlen(val);
    int ok =
        (strncasecmp(val, "postgresql://", 13) == 0 || strncasecmp(val, "postgres://", 11) == 0);
    if (!ok || n >= v->size || has_space_or_ctl(val))
        return err_set(e, 500, "invalid_config", v->name,
                       "%s must be a postgresql:// or postgres:// URL without spaces, shorter "
                       "than %zu bytes (value not shown)",
                       v->name, v->size);
    memcpy(dst, val, n + 1);
    return 0;
}

static int set_nats_url(const cfg_var_t *v, const char *val, void *base, err_t *e) {
    char *dst = (char *)base + v->offset;
    size_t n = strlen(val);
    int ok = n < v->size;
    /* each comma-separated entry: optional spaces, scheme, non-empty rest, no inner spaces */
    const char *p = val;
    while (ok) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        size_t scheme = 0;
        if (len > 7 && strncasecmp(p, "nats://", 7) == 0) scheme = 7;
        if (len > 6 && strncasecmp(p, "tls://", 6) == 0) scheme = 6;
        if (!scheme) ok = 0;
        for (size_t i = 0; ok && i < len; i++)
            if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] == 0x7F) ok = 0;
        if (!end) break;
        p = end + 1;
    }
    if (!ok)
        return err_set(e, 500, "invalid_config", v->name,
                       "%s must be a nats:// or tls:// URL (or a comma-separated list of them), "
                       "shorter than %zu bytes (value not shown)",
                       v->name, v->size);
    memcpy(dst, val, n + 1);
    return 0;
}

/* Strict decimal: optional '-', digits only, no overflow. */
static int parse_ll(const char *s, long long *out) {
    const char *p = s;
    if (*p == '-') p++;
    if (!*p) return -1;
    for (; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end) return -1;
    *out = v;
    return 0;
}

static int set_int(const cfg_var_t *v, const char *val, void *base, err_t *e) {
    long long n;
    if (parse_ll(val, &n) != 0 || n < v->min || n > v->max)
        return err_set(e, 500, "invalid_config", v->name,
                       "%s must be an integer from %lld to %lld (got \"%.64s\")", v->name, v->min,
                       v->max, val);
    if (v->kind == CFG_SIZE)
        *(size_t *)((char *)base + v->offset) = (size_t)n;
    else
        *(int *)((char *)base + v->offset) = (int)n;
    return 0;
}

static int valid_hostname(const char *h) {
    size_t n = strlen(h), label = 0;
    if (n == 0 || n > 253) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        if (ch == '.') {
            if (label == 0 || h[i - 1] == '-') return 0;
            label = 0;
            continue;
        }
        int alnum =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && ch != '-') return 0;
        if (ch == '-' && label == 0) return 0;
        if (++label > 63) return 0;
    }
    return label > 0 && h[n - 1] != '-';
}

static int set_listen(const cfg_var_t *v, const char *val, void *base, err_t *e) {
    cfg_t *c = base; /* a core-only kind */
    static const char want[] =
        "host:port, e.g. 127.0.0.1:8080 or [::1]:8080, with a port from 0 to 65535";
    char host[sizeof c->listen_host];
    const char *port;
    if (val[0] == '[') {
        const char *close = strchr(val, ']');
        if (!close || close[1] != ':') return invalid(e, v->name, want, val);
        size_t hl = (size_t)(close - val - 1);
        if (hl == 0 || hl >= sizeof host) return invalid(e, v->name, want, val);
        memcpy(host, val + 1, hl);
        host[hl] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1) return invalid(e, v->name, want, val);
        port = close + 2;
    } else {
        const char *colon = strrchr(val, ':');
        if (!colon || memchr(val, ':', (size_t)(colon - val))) /* bare IPv6 needs brackets */
            return invalid(e, v->name, want, val);
        size_t hl = (size_t)(colon - val);
        if (hl == 0 || hl >= sizeof host) return invalid(e, v->name, want, val);
        memcpy(host, val, hl);
        host[hl] = '\0';
        struct in_addr a4;
        if (inet_pton(AF_INET, host, &a4) != 1) {
            /* not an IPv4 address: a host name, but not something that looks like a bad IPv4 */
            int digits_dots = 1;
            for (const char *q = host; *q; q++)
                if (!((*q >= '0' && *q <= '9') || *q == '.')) digits_dots = 0;
            if (digits_dots || !valid_hostname(host)) return invalid(e, v->name, want, val);
        }
        port = colon + 1;
    }
    long long p;
    if (strlen(port) > 5 || parse_ll(port, &p) != 0 || p < 0 || p > 65535 || port[0] == '-')
        return invalid(e, v->name, want, val);
    snprintf(c->listen_host, sizeof c->listen_host, "%s", host);
    c->listen_port = (int)p;
    return 0;
}

static int set_log_level(const cfg_var_t *v, const char *val, void *base, err_t *e) {
    cfg_t *c = base; /* a core-only kind */
    static const char *const names[] = {"debug", "info", "warn", "error"};
    static const int levels[] = {LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(val, names[i]) == 0) {
            c->log_level = levels[i];
            return 0;
        }
    }
    return invalid(e, v->name, "one of debug, info, warn, error", val);
}

static int set_log_format(const cfg_var_t *v, const char *val, void *base, err_t *e) {
    cfg_t *c = base; /* a core-only kind */
    if (strcasecmp(val, "json") == 0) {
        c->log_json = 1;
        return 0;
    }
    if (strcasecmp(val, "text") == 0) {
        c->log_json = 0;
        return 0;
    }
    return invalid(e, v->name, "json or text", val);
}

/* The names RECIPROCAL_SERVICES accepts: every module of the registry (src/services/registry.c),
 * so a new service is accepted by its registry line alone, and "all". */
static int known_service(const char *s, size_t n) {
    if (n == 3 && strncmp(s, "all", 3) == 0) return 1;
    for (size_t i = 0; svc_registry[i]; i++)
        if (strlen(svc_registry[i]->name) == n && strncmp(svc_registry[i]->name, s, n) == 0)
            return 1;
    return 0;
}

/* "member, auth, ..." (the registry's names, in its order) into buf. */
static const char *service_names(char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; svc_registry[i] && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", svc_registry[i]->name);
    return buf;
}

static int set_services(const cfg_var_t *v, const char *val, void *base, err_t *e) {
    cfg_t *c = base; /* a core-only kind */
    char out[sizeof c->services];
    size_t o = 0;
    const char *p = val;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        char names[256];
        if (len == 0)
            return err_set(e, 500, "invalid_config", v->name,
                           "%s must be all or a comma-separated list of %s (found an empty entry)",
                           v->name, service_names(names, sizeof names));
        if (!known_service(p, len))
            return err_set(e, 500, "invalid_config", v->name,
                           "%s must be all or a comma-separated list of %s (unknown service "
                           "\"%.*s\")",
                           v->name, service_names(names, sizeof names), (int)(len > 32 ? 32 : len),
                           p);
        if (o + len + 2 > sizeof out)
            return err_set(e, 500, "invalid_config", v->name, "%s is too long (at most %zu bytes)",
                           v->name, sizeof out - 1);
        if (o) out[o++] = ',';
        memcpy(out + o, p, len);
        o += len;
        if (!end) break;
        p = end + 1;
    }
    out[o] = '\0';
    memcpy(c->services, out, o + 1);
    return 0;
}

static int set_gql_intro(const cfg_var_t *v, const char *val, void *base, err_t *e) {
    static const char *const names[] = {"on", "admins", "off", "signed_in"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(val, names[i]) == 0) {
            *(int *)((char *)base + v->offset) = i;
            return 0;
        }
    return invalid(e, v->name, "signed_in, admins, on or off", val);
}

static int set_jwt_alg(const cfg_var_t *v, const char *val, void *base, err_t *e) {
    static const char *const names[] = {"RS256", "EdDSA", "ES256"}; /* jwt_alg_t order */
    for (int i = 0; i < 3; i++)
        if (strcasecmp(val, names[i]) == 0) {
            *(int *)((char *)base + v->offset) = i;
            return 0;
        }
    return invalid(e, v->name, "RS256, EdDSA or ES256", val);
}

static int set_replicas(const cfg_var_t *v, const char *val, void *base, err_t *e) {
    if (strcasecmp(val, "auto") == 0) {
        *(int *)((char *)base + v->offset) = 0;
        return 0;
    }
    long long n;
    if (parse_ll(val, &n) != 0 || n < v->min || n > v->max)
        return err_set(e, 500, "invalid_config", v->name,
                       "%s must be auto or an integer from %lld to %lld (got \"%.64s\")", v->name,
                       v->min, v->max, val);
    *(int *)((char *)base + v->offset) = (int)n;
    return 0;
}

static int set_str(const cfg_var_t *v, const char *val, void *base, err_t *e) {
    size_t n = strlen(val);
    for (const char *p = val; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7F)
            return err_set(e, 500, "invalid_config", v->name,
                           "%s must be one line of printable text", v->name);
    if (n == 0 && !v->def[0]) return 0; /* optional text whose default is empty: unset */
    if (n == 0 || n >= v->size)
        return err_set(e, 500, "invalid_config", v->name, "%s must be 1 to %zu bytes long", v->name,
                       v->size - 1);
    memcpy((char *)base + v->offset, val, n + 1);
    return 0;
}

/* Standard base64 (with or without '=' padding, surrounding spaces/newlines ignored) of exactly
 * 32 bytes. The value is a secret: never echoed. */
static int set_kek(const cfg_var_t *v, const char *val, void *base, err_t *e) {
    unsigned char out[48];
    size_t n = 0;
    unsigned bits = 0, acc = 0;
    if (!*val) return 0; /* the default: unset */
    for (const char *p = val; *p; p++) {
        int d;
        char ch = *p;
        if (ch >= 'A' && ch <= 'Z')
            d = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
            d = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
            d = ch - '0' + 52;
        else if (ch == '+')
            d = 62;
        else if (ch == '/')
            d = 63;
        else if (ch == '=' || ch == ' ' || ch == '\n' || ch == '\r')
            continue;
        else
            goto bad;
        acc = (acc << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= sizeof out) goto bad;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (n != 32 || v->size != sizeof(cfg_key_t) || acc != 0) goto bad;
    cfg_key_t *k = (cfg_key_t *)((char *)base + v->offset);
    memcpy(k->key, out, 32);
    k->set = 1;
    memset(out, 0, sizeof out);
    return 0;
bad:
    memset(out, 0, sizeof out);
    return err_set(e, 500, "invalid_config", v->name,
                   "%s must be 32 bytes in base64, e.g. from `head -c 32 /dev/urandom | base64` "
                   "(value not shown)",
                   v->name);
}

int cfg_key_require(const cfg_key_t *k, const char *name, int status, const char *code, err_t *e) {
    if (k && k->set) return 0;
    return err_set(e, status, code, name,
                   "%s is not set: it needs 32 random bytes in base64 (head -c 32 /dev/urandom "
                   "| base64); keep it with your other secrets, it has no default",
                   name);
}

int cfg_vars_require(const cfg_var_t *vars, size_t n, const void *src, err_t *e) {
    for (size_t i = 0; i < n; i++) {
        const cfg_var_t *v = &vars[i];
        if (!(v->flags & CFG_REQUIRED)) continue;
        const char *at = (const char *)src + v->offset;
        if (v->kind == CFG_KEY) {
            if (cfg_key_require((const cfg_key_t *)at, v->name, 500, "invalid_config", e) != 0)
                return -1;
        } else if ((v->kind == CFG_STR || v->kind == CFG_PG_URL || v->kind == CFG_NATS_URL) &&
                   !at[0]) {
            return err_set(e, 500, "invalid_config", v->name, "%s is not set", v->name);
        }
    }
    return 0;
}

int cfg_require_bus_key(const cfg_t *c, err_t *e) {
    return cfg_key_require(&c->bus_key, "RECIPROCAL_BUS_KEY", 500, "invalid_config", e);
}

static int apply(const cfg_var_t *v, const char *val, void *base, err_t *e) {
    switch (v->kind) {
    case CFG_PG_URL:
        return set_pg_url(v, val, base, e);
    case CFG_NATS_URL:
        return set_nats_url(v, val, base, e);
    case CFG_LISTEN:
        return set_listen(v, val, base, e);
    case CFG_LOG_LEVEL:
        return set_log_level(v, val, base, e);
    case CFG_LOG_FORMAT:
        return set_log_format(v, val, base, e);
    case CFG_SERVICES:
        return set_services(v, val, base, e);
    case CFG_INT:
    case CFG_SIZE:
        return set_int(v, val, base, e);
    case CFG_GQL_INTRO:
        return set_gql_intro(v, val, base, e);
    case CFG_STR:
        return set_str(v, val, base, e);
    case CFG_KEY:
        return set_kek(v, val, base, e);
    case CFG_REPLICAS:
        return set_replicas(v, val, base, e);
    case CFG_JWT_ALG:
        return set_jwt_alg(v, val, base, e);
    }
    return err_set(e, 500, "invalid_config", v->name, "%s has an unknown kind", v->name);
}

static const char *default_getenv(const char *name) {
    return getenv(name);
}

int cfg_vars_load(const cfg_var_t *vars, size_t n, void *dst, cfg_getenv_fn get, err_t *e) {
    if (!get) get = default_getenv;
    for (size_t i = 0; i < n; i++)
        if (apply(&vars[i], vars[i].def, dst, e) != 0) return -1; /* a bug in the table */
    for (size_t i = 0; i < n; i++) {
        const char *val = get(vars[i].name);
        if (!val || !*val) continue; /* unset or empty: keep the default */
        if (apply(&vars[i], val, dst, e) != 0) return -1;
    }
    return 0;
}

int cfg_load(cfg_t *c, cfg_getenv_fn get, err_t *e) {
    memset(c, 0, sizeof *c);
    return cfg_vars_load(k_vars, N_VARS, c, get, e);
}

int cfg_service_enabled(const cfg_t *c, const char *service) {
    if (!service) return 0;
    size_t sn = strlen(service);
    const char *p = c->services;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if ((len == 3 && strncmp(p, "all", 3) == 0) || (len == sn && strncmp(p, service, sn) == 0))
            return 1;
        if (!end) return 0;
        p = end + 1;
    }
}

void cfg_vars_describe(FILE *out, const cfg_var_t *vars, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const cfg_var_t *v = &vars[i];
        fprintf(out, "%s=%s\n    %s", v->name, v->def, v->help);
        if (v->kind == CFG_INT || v->kind == CFG_SIZE)
            fprintf(out, " Integer from %lld to %lld.", v->min, v->max);
        if (v->kind == CFG_SERVICES) {
            char names[256];
            fprintf(out, " Linked: %s.", service_names(names, sizeof names));
        }
        fprintf(out, "\n");
    }
}

void cfg_describe(FILE *out) {
    fprintf(out, "Configuration is read from the environment at startup. An unset or empty\n"
                 "variable takes the default shown (NAME=default).\n\n");
    cfg_vars_describe(out, k_vars, N_VARS);
}
