/* http: the HTTP/1.1 server on libmicrohttpd (chosen by measurement, see docs/http-library.md).
 * Owns the MHD daemon, per-request body buffers and the in-flight counter used for graceful
 * shutdown. It reads the whole body (up to max_body, or the larger limit body_limit gives a
 * route, else 413), assigns a request id (from
 * X-Request-Id when sane, else generated) and a trace id (from W3C `traceparent`, else
 * generated), sets the log context, calls ONE handler, and sends what the handler put in the
 * http_response_t. It also records per-route metrics (the handler names the route template):
 * http_requests_total{method,route,status} and http_request_duration_seconds{method,route}, with
 * route "unmatched" when the handler names none and method "OTHER" for non-standard methods, and
 * writes one access log line (info) per request. Errors produced here (413 payload_too_large,
 * 414 uri_too_long, 431 headers_too_large, 400 invalid_header, 501 not_implemented, 500 internal
 * when the handler leaves status 0) use the JSON error body of http_set_error; errors
 * libmicrohttpd produces itself (malformed request line or chunked encoding, a head over the
 * 64 KiB connection pool; docs/http-library.md lists them) don't. Every answer carries
 * X-Content-Type-Options: nosniff and Cache-Control: no-store (unless the handler set one). Slow
 * clients are bounded (docs/security.md H1): per-IP and total connection limits, a deadline for
 * the request head and a minimum body rate, enforced by a sweeper thread. */
#ifndef CORE_HTTP_H
#define CORE_HTTP_H

#include <stddef.h>

#include "core/err.h"

typedef struct http_server http_server_t;

typedef struct http_request {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* RAW path (still percent-encoded), without query string or
                                 fragment; router_match decodes it segment by segment */
    const char *content_type; /* may be NULL */
    const char *body;         /* NUL-terminated copy of the body, "" when none */
    size_t body_len;
    const char *request_id;
    const char *trace_id;
    const char *client_ip;
    const char *user_agent; /* may be NULL */
    void *impl;             /* MHD connection; use the accessors below */
} http_request_t;

#define HTTP_MAX_HEADERS 8
typedef struct http_response {
    int status;
    char *body;               /* malloc'd, owned by the response; sent then freed */
    const char *content_type; /* static string; default "application/json" */
    const char *header_names[HTTP_MAX_HEADERS];
    char *header_values[HTTP_MAX_HEADERS]; /* malloc'd copies */
    int n_headers;
    const char *route; /* route template for metrics, e.g. "/api/v1/clubs/{id}"; static */
} http_response_t;

typedef void (*http_handler_fn)(const http_request_t *req, http_response_t *resp, void *ud);
/* Optional: a larger body limit for one request, asked before the body is read (method and
 * raw path known, ud = the handler's ud). 0 or anything <= max_body keeps max_body. */
typedef size_t (*http_body_limit_fn)(const char *method, const char *path, void *ud);

/* Slow clients (docs/security.md H1): 0 in a field picks the default in parentheses. */
typedef struct http_config {
    const char *host;
    int port; /* 0 = pick a free port (see http_port) */
    int threads;
    size_t max_body;
    int timeout_s;
    http_body_limit_fn body_limit; /* may be NULL */
    /* connections at once (1000); capped below the descriptor limit (RLIMIT_NOFILE, whose soft
     * value is raised to the hard one when needed) minus fd_reserve and MHD's own descriptors */
    int max_connections;
    int max_connections_per_ip; /* (64); -1 = no per-IP limit */
    int head_timeout_s;         /* whole request head, from accept or the previous answer (10) */
    int body_timeout_s;         /* body: this long plus 1 s per body_min_rate bytes (20) */
    int body_min_rate;          /* bytes/s (500); -1 = none: the whole body within body_timeout */
    int fd_reserve;             /* descriptors the rest of the process needs (64) */
} http_config_t;

http_server_t *http_start(const http_config_t *cfg, http_handler_fn handler, void *ud, err_t *e);
int http_port(const http_server_t *s);
/* The connection limit in force (after the descriptor cap), for logs and tests. */
int http_max_connections(const http_server_t *s);
/* Stops accepting, waits up to grace_s for in-flight requests to finish, then stops. */
void http_stop(http_server_t *s, int grace_s);

const char *http_header(const http_request_t *req, const char *name);
const char *http_query(const http_request_t *req, const char *name);
/* Calls fn for every query argument (key, value may be NULL). */
void http_query_each(const http_request_t *req, void (*fn)(const char *k, const char *v, void *ud),
                     void *ud);

/* Response helpers: set status and body. json_body takes ownership of the string. */
void http_set_body(http_response_t *resp, int status, char *body);
void http_add_header(http_response_t *resp, const char *name, const char *value);
/* {"error":{"code":..,"message":..,"field":..}} from an err_t (field omitted when empty). */
void http_set_error(http_response_t *resp, const err_t *e);
void http_response_free(http_response_t *resp);

#endif
