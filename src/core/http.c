/* http: see http.h.
 *
 * Request life cycle on libmicrohttpd 0.9.75:
 * - URI log callback (MHD_OPTION_URI_LOG_CALLBACK, once per request, before MHD parses the
 *   headers): allocates the per-request state, keeps the RAW request path (MHD would otherwise
 *   percent-decode it; the router does its own decoding), notes the client address and the start
 *   time, and increments the in-flight counter. The state becomes MHD's *con_cls.
 * - Access handler, first call: reads headers (ids, content type...) and checks the head
 *   (check_head: request target <= 8 KiB else 414, header fields <= 100 and <= 16 KiB else 431,
 *   field syntax, Host, Content-Length/Transfer-Encoding framing else 400/501). If that fails, or
 *   Content-Length announces more than max_body (413), it answers at once with the JSON error
 *   and `Connection: close` (MHD then closes the connection, the body is never read by MHD; the
 *   socket gets a lingering close, see HTTP_LINGER_MS). Otherwise it returns without a
 *   response: MHD 0.9.75 sends `Connection: close` when the response is queued on the first
 *   call, so everything else is answered on a later call. What MHD answers itself, before any
 *   callback of ours (malformed request line, head larger than the pool, bad chunked
 *   encoding...), is listed in docs/http-library.md.
 * - Access handler, upload calls: appends to the body buffer; past max_body (chunked bodies) the
 *   buffer is dropped and the rest is discarded, up to HTTP_DISCARD_LIMIT more bytes, then the
 *   connection is closed without an answer.
 * - Access handler, final call: sets the log context, calls the handler, sends its response,
 *   records metrics and the access log line.
 * - Completed notification (MHD_OPTION_NOTIFY_COMPLETED): frees the state and decrements the
 *   in-flight counter. http_stop waits on that counter. MHD 0.9.75 skips it in one error path
 *   (too many query arguments for the pool), so the connection-closed notification
 *   (MHD_OPTION_NOTIFY_CONNECTION) frees a state that is still attached to the connection.
 * Slow clients (docs/security.md H1): MHD's idle timeout restarts with every byte, so a client
 * trickling one header line every few seconds would hold its connection forever. Every
 * connection has a slot (the connection notification) in a list that a sweeper thread walks
 * every HTTP_SWEEP_MS: a connection waiting for a request head longer than head_timeout (from
 * accept or from the end of the previous answer: idle keep-alive counts), or receiving a body
 * slower than body_timeout + 1 s per body_min_rate bytes, is cut with shutdown(2) on its socket
 * (MHD then reads EOF and closes it; the descriptor stays valid while the slot is listed, as MHD
 * notifies the close before it closes the socket). When the open connections reach 3/4 of
 * max_connections, the connections that have waited longest for a head are cut first, down
 * to 5/8, so new clients find room. MHD enforces max_connections and the per-IP limit itself
 * (connections over them are closed at once). */
#include "core/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"

#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)
#define HTTP_DEFAULT_TIMEOUT_S 30
/* Our own limits on the request head, checked on the first handler call so that the answer is
 * our JSON error (414 uri_too_long, 431 headers_too_large). They must stay well inside MHD's
 * per-connection pool (HTTP_MEMORY_LIMIT): MHD keeps the request line, the header lines, one
 * 64-byte record per header field and per query argument, and the read buffer in it, and a head
 * that does not fit is answered by MHD itself with its HTML 414/431 before we see it. */
#define HTTP_MAX_URI 8192           /* request target, path + query, bytes */
#define HTTP_MAX_HEADER_BYTES 16384 /* sum of "name: value\r\n" over the header fields */
#define HTTP_MAX_HEADER_FIELDS 100
/* Per connection: request line + headers + read buffer. 64 KiB keeps MHD's own 414/431 out of
 * reach of anything up to ~4x our head limits (see docs/http-library.md, "Errors MHD answers
 * itself"). MHD zeroes the whole pool between requests and every page of it is touched:
 * measured 64.6 KiB RSS per keep-alive connection (32 KiB: 32.6) and ~1.8 us more CPU per
 * request than 32 KiB on a bare hello-world (9.3 vs 7.5 us). */
#define HTTP_MEMORY_LIMIT (64 * 1024)
#define HTTP_DISCARD_LIMIT (4 * 1024 * 1024)
/* Lingering close (like nginx's lingering_close), after an answer sent before the body was read:
 * the socket is kept (a dup of MHD's descriptor), shut for writing, and the sweeper reads and
 * discards what the client still sends, for at most HTTP_LINGER_MS or HTTP_DISCARD_LIMIT bytes,
 * until the client closes; then it is closed. Closing with unread input would send a TCP reset
 * that can make the client fail on its send before it reads our answer. At most HTTP_LINGER_MAX
 * connections linger at once (they hold a descriptor each, reserved in conn_cap); past that a
 * connection is closed at once, as before. */
#define HTTP_LINGER_MS 5000
#define HTTP_LINGER_MAX 32
#define HTTP_LINGER_READ (64 * 1024) /* bytes read per lingering connection per sweep pass */
#define HTTP_MAX_THREADS 256
#define HTTP_MAX_PATH HTTP_MAX_URI
/* slow clients, see the top of this file; defaults for the 0 fields of http_config_t */
#define HTTP_DEFAULT_MAX_CONNS 1000
#define HTTP_DEFAULT_PER_IP 64
#define HTTP_DEFAULT_HEAD_TIMEOUT_S 10
#define HTTP_DEFAULT_BODY_TIMEOUT_S 20
#define HTTP_DEFAULT_BODY_MIN_RATE 500
#define HTTP_DEFAULT_FD_RESERVE 64
#define HTTP_SWEEP_MS 100
#define HTTP_PRESSURE_GRACE_MS 500 /* under pressure, heads younger than this are spared */
#define HTTP_LIMIT_LOG_EVERY_S 10  /* "connection limit" messages of MHD: at most one per 10 s */

enum { STAGE_HEAD, STAGE_BODY, STAGE_BUSY }; /* conn_slot_t.stage */

typedef struct req_state req_state_t;
/* Per connection (MHD's socket_context): the request whose state is allocated. MHD 0.9.75 does
 * not always call the completed notification (a request line with more query arguments than the
 * pool holds), so the connection-closed notification frees what is left. The rest is for the
 * sweeper: stage, since_ms and body_bytes are written by the connection's MHD thread and read by
 * the sweeper; links and cut belong to the server's conns_mu. */
typedef struct conn_slot {
    req_state_t *cur;
    struct conn_slot *prev, *next;
    int fd;
    int cut;               /* shut down by the sweeper, not yet closed by MHD */
    int linger;            /* answered before the body was read: lingering close */
    atomic_int stage;      /* STAGE_* */
    atomic_llong since_ms; /* when the stage began (monotonic ms) */
    atomic_llong body_bytes;
} conn_slot_t;

struct http_server {
    struct MHD_Daemon *d;
    http_handler_fn handler;
    void *ud;
    size_t max_body;
    http_body_limit_fn body_limit;
    int port;
    atomic_int inflight;
    atomic_int stopping;
    /* slow clients */
    int max_conns;
    long long head_timeout_ms, body_timeout_ms, body_min_rate; /* min rate 0: none */
    pthread_mutex_t conns_mu;
    pthread_cond_t sweep_cv;
    conn_slot_t *conns; /* every open connection */
    int n_conns, n_cut; /* listed, and of those cut */
    int sweep_stop, sweeper_running;
    pthread_t sweeper;
    atomic_llong limit_logged_s; /* last "connection limit" log line (monotonic s) */
    /* lingering closes, under conns_mu: descriptors owned here (dups of MHD's) */
    struct {
        int fd;
        long long deadline_ms;
        size_t bytes;
    } lingering[HTTP_LINGER_MAX];
    int n_lingering;
};

struct req_state {
    conn_slot_t *slot;
    http_server_t *srv;
    http_request_t req;
    int phase; /* 0: first call pending, 1: receiving, 2: answered */
    int too_large;
    int early;       /* answered on the first call, before the body was read */
    size_t max_body; /* this request's limit: srv->max_body or the route's (body_limit) */
    char *body;
    size_t body_len, body_cap, discarded;
    char *raw_path;
    size_t uri_len; /* request target as received, path + query */
    char request_id[65];
    char trace_id[33];
    char client_ip[INET6_ADDRSTRLEN];
    struct timespec t0;
};

/* ---- ids ------------------------------------------------------------------------------------- */

/* Ids are not secrets: a thread-local pool refilled from libsodium saves one getrandom(2) per id.*/
static _Thread_local unsigned char t_rand[4096];
static _Thread_local size_t t_rand_used = sizeof t_rand;

static void random_hex(char *out, size_t n_bytes) {
    unsigned char buf[32];
    if (n_bytes > sizeof buf) n_bytes = sizeof buf;
    if (t_rand_used + n_bytes > sizeof t_rand) {
        randombytes_buf(t_rand, sizeof t_rand);
        t_rand_used = 0;
    }
    memcpy(buf, t_rand + t_rand_used, n_bytes);
    sodium_memzero(t_rand + t_rand_used, n_bytes);
    t_rand_used += n_bytes;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n_bytes; i++) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 15];
    }
    out[2 * n_bytes] = '\0';
}

static int valid_request_id(const char *s) {
    if (!s) return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= 64) return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n >= 1;
}

static int lhex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* W3C trace context: "vv-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", lowercase; version
 * ff is invalid; version 00 is exactly 55 chars, later versions may append "-...". Trace and
 * parent ids must not be all zeros. */
static int parse_traceparent(const char *tp, char out[33]) {
    if (!tp) return -1;
    size_t len = strlen(tp);
    if (len < 55 || len > 512) return -1;
    if (!lhex(tp[0]) || !lhex(tp[1]) || (tp[0] == 'f' && tp[1] == 'f')) return -1;
    if (tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return -1;
    int nz_trace = 0, nz_parent = 0;
    for (int i = 3; i < 35; i++) {
        if (!lhex(tp[i])) return -1;
        nz_trace |= tp[i] != '0';
    }
    for (int i = 36; i < 52; i++) {
        if (!lhex(tp[i])) return -1;
        nz_parent |= tp[i] != '0';
    }
    if (!lhex(tp[53]) || !lhex(tp[54]) || !nz_trace || !nz_parent) return -1;
    if (tp[0] == '0' && tp[1] == '0' && len != 55) return -1;
    if (len > 55 && tp[55] != '-') return -1;
    memcpy(out, tp + 3, 32);
    out[32] = '\0';
    return 0;
}

/* ---- response helpers ------------------------------------------------------------------------ */

void http_set_body(http_response_t *resp, int status, char *body) {
    if (!resp) {
        free(body);
        return;
    }
    if (resp->body != body) free(resp->body);
    resp->status = status;
    resp->body = body;
}

void http_add_header(http_response_t *resp, const char *name, const char *value) {
    if (!resp || !name || !value || resp->n_headers >= HTTP_MAX_HEADERS) return;
    char *v = strdup(value);
    if (!v) return;
    resp->header_names[resp->n_headers] = name;
    resp->header_values[resp->n_headers] = v;
    resp->n_headers++;
}

/* json_string, but never NULL for text that isn't valid UTF-8 (the error must still go out). */
static json_t *json_text(const char *s, const char *fallback) {
    json_t *v = json_string(s ? s : "");
    return v ? v : json_string(fallback);
}

static char *error_body(const char *code, const char *field, const char *message) {
    json_t *inner = json_object();
    json_object_set_new(inner, "code", json_text(code && *code ? code : "error", "error"));
    json_object_set_new(inner, "message", json_text(message, "(message not valid UTF-8)"));
    if (field && *field) json_object_set_new(inner, "field", json_text(field, "(invalid)"));
    json_t *root = json_object();
    json_object_set_new(root, "error", inner);
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s) s = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
    return s;
}

void http_set_error(http_response_t *resp, const err_t *e) {
    if (!resp) return;
    if (!e) {
        http_set_body(resp, 500, error_body("internal", NULL, "internal error"));
        return;
    }
    int status = e->status >= 400 && e->status <= 599 ? e->status : 500;
    http_set_body(resp, status, error_body(e->code, e->field, e->message));
}

void http_response_free(http_response_t *resp) {
    if (!resp) return;
    free(resp->body);
    for (int i = 0; i < resp->n_headers && i < HTTP_MAX_HEADERS; i++)
        free(resp->header_values[i]);
    memset(resp, 0, sizeof *resp);
}

/* ---- request accessors ----------------------------------------------------------------------- */

const char *http_header(const http_request_t *req, const char *name) {
    if (!req || !req->impl || !name) return NULL;
    return MHD_lookup_connection_value(req->impl, MHD_HEADER_KIND, name);
}

const char *http_query(const http_request_t *req, const char *name) {
    if (!req || !req->impl || !name) return NULL;
    return MHD_lookup_connection_value(req->impl, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct query_iter {
    void (*fn)(const char *k, const char *v, void *ud);
    void *ud;
} query_iter_t;

static enum MHD_Result query_iter_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
    (void)kind;
    query_iter_t *it = cls;
    it->fn(key, value, it->ud);
    return MHD_YES;
}

void http_query_each(const http_request_t *req, void (*fn)(const char *k, const char *v, void *ud),
                     void *ud) {
    if (!req || !req->impl || !fn) return;
    query_iter_t it = {fn, ud};
    MHD_get_connection_values(req->impl, MHD_GET_ARGUMENT_KIND, query_iter_cb, &it);
}

/* ---- sending --------------------------------------------------------------------------------- */

static double elapsed_s(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void slot_stage(conn_slot_t *slot, int stage) {
    if (!slot) return;
    atomic_store(&slot->since_ms, now_ms());
    atomic_store(&slot->body_bytes, 0);
    atomic_store(&slot->stage, stage);
}

/* Metric label for the method: known methods as is, anything else "OTHER" (bounded cardinality).*/
static const char *method_label(const char *m) {
    static const char *const known[] = {"GET",    "HEAD",    "POST",  "PUT", "PATCH",
                                        "DELETE", "OPTIONS", "TRACE", NULL};
    for (int i = 0; m && known[i]; i++)
        if (strcmp(m, known[i]) == 0) return known[i];
    return "OTHER";
}

static void record(req_state_t *st, int status, const char *route) {
    double dur = elapsed_s(&st->t0);
    const char *method = method_label(st->req.method);
    if (!route || !*route) route = "unmatched";
    char status_s[8];
    snprintf(status_s, sizeof status_s, "%d", status);
    const char *counter_labels[] = {method, route, status_s, NULL};
    metrics_counter_add("http_requests_total", counter_labels, 1);
    const char *hist_labels[] = {method, route, NULL};
    metrics_histogram_observe("http_request_duration_seconds", hist_labels, dur);
    if (!log_enabled(LOG_INFO)) return;
    json_t *fields = json_pack("{s:s, s:s, s:i, s:f}", "method", method, "route", route, "status",
                               status, "duration_ms", dur * 1000.0);
    log_fields(LOG_INFO, fields, "%s %s %d", method, route, status);
    json_decref(fields);
}

static int header_value_ok(const char *v) {
    for (; *v; v++)
        if (*v == '\r' || *v == '\n' || *v == '\0') return 0;
    return 1;
}

/* Queues resp (consumed) on the connection; records metrics and the access log. */
static enum MHD_Result send_response(struct MHD_Connection *c, req_state_t *st,
                                     http_response_t *resp) {
    if (resp->status < 100 || resp->status > 599) {
        const char *route = resp->route;
        http_response_free(resp);
        resp->route = route;
        http_set_body(resp, 500,
                      error_body("internal", NULL, "the request handler produced no response"));
    }
    size_t len = resp->body ? strlen(resp->body) : 0;
    struct MHD_Response *r;
    if (resp->body) {
        r = MHD_create_response_from_buffer(len, resp->body, MHD_RESPMEM_MUST_FREE);
        if (r) resp->body = NULL; /* MHD frees it */
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!r) {
        http_response_free(resp);
        return MHD_NO;
    }
    if (resp->status != 204 && resp->status != 304)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type : "application/json");
    MHD_add_response_header(r, "X-Request-Id", st->request_id);
    int cache_set = 0;
    for (int i = 0; i < resp->n_headers && i < HTTP_MAX_HEADERS; i++) {
        const char *n = resp->header_names[i], *v = resp->header_values[i];
        if (n && v && header_value_ok(n) && header_value_ok(v)) {
            MHD_add_response_header(r, n, v);
            cache_set |= strcasecmp(n, "Cache-Control") == 0;
        }
    }
    /* docs/security.md H3: answers (tokens, personal data) are never stored by a browser or a
     * shared cache unless the handler says otherwise; the Content-Type is never sniffed */
    if (!cache_set) MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (atomic_load(&st->srv->stopping) || st->early)
        MHD_add_response_header(r, "Connection", "close");
    if (st->early && st->slot) st->slot->linger = 1; /* the body is not read: lingering close */
    enum MHD_Result ret = MHD_queue_response(c, (unsigned int)resp->status, r);
    MHD_destroy_response(r);
    st->phase = 2;
    slot_stage(st->slot, STAGE_BUSY);
    record(st, resp->status, resp->route);
    http_response_free(resp);
    return ret;
}

/* An error produced by this file (not the handler): the usual JSON error body. */
static enum MHD_Result send_error(struct MHD_Connection *c, req_state_t *st, const err_t *e) {
    http_response_t resp = {0};
    http_set_error(&resp, e);
    log_set_context(st->request_id, st->trace_id);
    enum MHD_Result ret = send_response(c, st, &resp);
    log_clear_context();
    return ret;
}

static enum MHD_Result send_413(struct MHD_Connection *c, req_state_t *st) {
    err_t e;
    err_set(&e, 413, "payload_too_large", NULL, "request body exceeds %zu bytes", st->max_body);
    return send_error(c, st, &e);
}

/* ---- request head checks --------------------------------------------------------------------- */

typedef struct head_scan {
    size_t fields, bytes, hosts, content_lengths, transfer_encodings;
    const char *te;       /* first Transfer-Encoding value */
    const char *bad_name; /* first field with a bad name or value */
    size_t bad_name_len;
} head_scan_t;

/* RFC 9110 token characters (a field name is a token). */
static int tchar(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static enum MHD_Result scan_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size) {
    (void)kind;
    head_scan_t *h = cls;
    h->fields++;
    h->bytes += key_size + value_size + 4; /* ": " and CRLF */
    int ok = key_size > 0;
    for (size_t i = 0; ok && i < key_size; i++)
        ok = tchar((unsigned char)key[i]);
    /* field values: no control characters except HTAB (a bare CR, NUL, ...); obs-text is fine */
    for (size_t i = 0; ok && value && i < value_size; i++) {
        unsigned char ch = (unsigned char)value[i];
        ok = !((ch < 0x20 && ch != '\t') || ch == 0x7f);
    }
    if (!ok && !h->bad_name) {
        h->bad_name = key;
        h->bad_name_len = key_size;
    }
    if (strcasecmp(key, "Host") == 0) h->hosts++;
    if (strcasecmp(key, "Content-Length") == 0) h->content_lengths++;
    if (strcasecmp(key, "Transfer-Encoding") == 0 && h->transfer_encodings++ == 0) h->te = value;
    return MHD_YES;
}

/* The request head, beyond what libmicrohttpd 0.9.75 checks itself: size limits, field syntax,
 * Host (RFC 9112 3.2), message framing (RFC 9112 6.1, 6.3: no request smuggling through
 * duplicate Content-Length or Content-Length plus Transfer-Encoding). 0, or -1 with e set. */
static int check_head(struct MHD_Connection *c, const char *version, const req_state_t *st,
                      err_t *e) {
    if (st->uri_len > HTTP_MAX_URI) {
        err_set(e, 414, "uri_too_long", NULL, "request target exceeds %d bytes", HTTP_MAX_URI);
        return -1;
    }
    head_scan_t h = {0};
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, scan_field, &h);
    if (h.fields > HTTP_MAX_HEADER_FIELDS || h.bytes > HTTP_MAX_HEADER_BYTES) {
        err_set(e, 431, "headers_too_large", NULL,
                "request header fields exceed %d fields or %d bytes", HTTP_MAX_HEADER_FIELDS,
                HTTP_MAX_HEADER_BYTES);
        return -1;
    }
    if (h.bad_name) {
        char name[64];
        size_t n = h.bad_name_len < sizeof name - 1 ? h.bad_name_len : sizeof name - 1;
        memcpy(name, h.bad_name, n);
        name[n] = '\0';
        err_set(e, 400, "invalid_header", n ? name : "(empty)",
                "malformed header field (name must be a token, value without control "
                "characters)");
        return -1;
    }
    /* MHD answers every version but HTTP/1.x with 505; 1.1 and later 1.x need exactly one Host */
    int http10 = version && strcmp(version, MHD_HTTP_VERSION_1_0) == 0;
    if (h.hosts > 1 || (h.hosts == 0 && !http10)) {
        err_set(e, 400, "invalid_header", "Host",
                h.hosts ? "more than one Host header" : "HTTP/1.1 request without Host header");
        return -1;
    }
    if (h.content_lengths > 1) {
        err_set(e, 400, "invalid_header", "Content-Length", "more than one Content-Length header");
        return -1;
    }
    if (h.transfer_encodings > 0 && h.content_lengths > 0) {
        err_set(e, 400, "invalid_header", "Transfer-Encoding",
                "both Transfer-Encoding and Content-Length");
        return -1;
    }
    if (h.transfer_encodings > 1 || (h.te && strcasecmp(h.te, "chunked") != 0)) {
        err_set(e, 501, "not_implemented", "Transfer-Encoding",
                "only Transfer-Encoding: chunked is supported");
        return -1;
    }
    return 0;
}

/* ---- MHD callbacks --------------------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    http_server_t *srv = cls;
    req_state_t *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->srv = srv;
    clock_gettime(CLOCK_MONOTONIC, &st->t0);
    /* absolute-form ("http://host/path") -> path */
    const char *p = uri ? uri : "";
    st->uri_len = strlen(p);
    if (p[0] != '/' && p[0] != '*') {
        const char *s = strstr(p, "://");
        if (s) {
            s = strchr(s + 3, '/');
            p = s ? s : "/";
        }
    }
    size_t n = strcspn(p, "?#");
    if (n > HTTP_MAX_PATH) n = HTTP_MAX_PATH; /* such a path matches no route anyway */
    st->raw_path = strndup(p, n);
    if (!st->raw_path) {
        free(st);
        return NULL;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                      st->client_ip, sizeof st->client_ip);
        else if (sa->sa_family == AF_INET6) {
            const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
            if (IN6_IS_ADDR_V4MAPPED(a6)) /* dual-stack socket: report "1.2.3.4" */
                inet_ntop(AF_INET, &a6->s6_addr[12], st->client_ip, sizeof st->client_ip);
            else
                inet_ntop(AF_INET6, a6, st->client_ip, sizeof st->client_ip);
        }
    }
    const union MHD_ConnectionInfo *sc =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (sc && sc->socket_context) {
        st->slot = sc->socket_context;
        st->slot->cur = st;
    }
    atomic_fetch_add(&srv->inflight, 1);
    return st;
}

static void free_state(req_state_t *st) {
    if (st->slot) st->slot->cur = NULL;
    free(st->body);
    free(st->raw_path);
    free(st);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    (void)toe;
    http_server_t *srv = cls;
    req_state_t *st = con_cls ? *con_cls : NULL;
    if (!st) return;
    *con_cls = NULL;
    slot_stage(st->slot, STAGE_HEAD); /* keep-alive: the next head has head_timeout from now */
    free_state(st);
    atomic_fetch_sub(&srv->inflight, 1);
}

static void linger_locked(http_server_t *srv, int fd);

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    http_server_t *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        /* NULL: no clean-up and no deadlines for this connection, nothing worse */
        conn_slot_t *slot = calloc(1, sizeof *slot);
        *socket_context = slot;
        if (!slot) return;
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        slot->fd = fi ? (int)fi->connect_fd : -1;
        slot_stage(slot, STAGE_HEAD);
        pthread_mutex_lock(&srv->conns_mu);
        slot->next = srv->conns;
        if (srv->conns) srv->conns->prev = slot;
        srv->conns = slot;
        srv->n_conns++;
        pthread_mutex_unlock(&srv->conns_mu);
        return;
    }
    conn_slot_t *slot = *socket_context;
    *socket_context = NULL;
    if (!slot) return;
    /* MHD closes the socket after this notification: the sweeper may use slot->fd until the
     * slot leaves the list */
    pthread_mutex_lock(&srv->conns_mu);
    if (slot->prev)
        slot->prev->next = slot->next;
    else
        srv->conns = slot->next;
    if (slot->next) slot->next->prev = slot->prev;
    srv->n_conns--;
    if (slot->cut) srv->n_cut--;
    if (slot->linger && !slot->cut) linger_locked(srv, slot->fd);
    pthread_mutex_unlock(&srv->conns_mu);
    if (slot->cur) { /* MHD never reported this request completed */
        free_state(slot->cur);
        atomic_fetch_sub(&srv->inflight, 1);
    }
    free(slot);
}

/* ---- slow clients: the sweeper ----------------------------------------------------------------
 */

/* Starts the lingering close of fd (MHD closes fd itself right after): see HTTP_LINGER_MS. Under
 * conns_mu. Nothing happens when the table is full or the server is stopping. */
static void linger_locked(http_server_t *srv, int fd) {
    if (fd < 0 || srv->n_lingering >= HTTP_LINGER_MAX || srv->sweep_stop ||
        atomic_load(&srv->stopping))
        return;
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return;
    shutdown(d, SHUT_WR); /* the answer is complete: FIN once the socket is ours alone */
    srv->lingering[srv->n_lingering].fd = d;
    srv->lingering[srv->n_lingering].deadline_ms = now_ms() + HTTP_LINGER_MS;
    srv->lingering[srv->n_lingering].bytes = 0;
    srv->n_lingering++;
}

/* Reads and discards what the lingering clients sent; closes those that closed, failed, passed
 * their deadline or HTTP_DISCARD_LIMIT bytes (all of them when all is set). Under conns_mu. */
static void linger_sweep_locked(http_server_t *srv, int all) {
    char sink[16384]; /* discarded input */
    long long now = now_ms();
    for (int i = 0; i < srv->n_lingering;) {
        int done = all || now >= srv->lingering[i].deadline_ms;
        size_t pass = 0;
        while (!done && pass < HTTP_LINGER_READ) {
            ssize_t n = recv(srv->lingering[i].fd, sink, sizeof sink, MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                done = 1; /* the client closed, or the connection failed */
                break;
            }
            pass += (size_t)n;
            srv->lingering[i].bytes += (size_t)n;
            if (srv->lingering[i].bytes > HTTP_DISCARD_LIMIT) done = 1;
        }
        if (!done) {
            i++;
            continue;
        }
        close(srv->lingering[i].fd);
        srv->lingering[i] = srv->lingering[--srv->n_lingering];
    }
}

/* Cuts a connection: MHD reads EOF on its next pass and closes it. Under conns_mu. */
static void cut_locked(http_server_t *srv, conn_slot_t *slot, const char *reason) {
    if (slot->cut || slot->fd < 0) return;
    shutdown(slot->fd, SHUT_RDWR);
    slot->cut = 1;
    srv->n_cut++;
    const char *labels[] = {reason, NULL};
    metrics_counter_add("http_connections_cut_total", labels, 1);
}

typedef struct waiting {
    long long since;
    conn_slot_t *slot;
} waiting_t;

static int by_since(const void *a, const void *b) {
    long long x = ((const waiting_t *)a)->since, y = ((const waiting_t *)b)->since;
    return (x > y) - (x < y);
}

/* One pass over the connections. Under conns_mu. */
static void sweep_locked(http_server_t *srv) {
    long long now = now_ms();
    for (conn_slot_t *slot = srv->conns; slot; slot = slot->next) {
        if (slot->cut) continue;
        int stage = atomic_load(&slot->stage);
        long long age = now - atomic_load(&slot->since_ms);
        if (stage == STAGE_HEAD && age > srv->head_timeout_ms) {
            cut_locked(srv, slot, "head_timeout");
        } else if (stage == STAGE_BODY) {
            long long allowed = srv->body_timeout_ms;
            if (srv->body_min_rate > 0)
                allowed += atomic_load(&slot->body_bytes) * 1000 / srv->body_min_rate;
            if (age > allowed) cut_locked(srv, slot, "body_timeout");
        }
    }
    /* pressure: make room for new clients by cutting the longest waits for a head */
    int high = srv->max_conns - srv->max_conns / 4, low = srv->max_conns - srv->max_conns * 3 / 8;
    int live = srv->n_conns - srv->n_cut;
    if (live < high || live <= 1) return;
    waiting_t *w = malloc((size_t)srv->n_conns * sizeof *w);
    if (!w) return;
    int n = 0;
    for (conn_slot_t *slot = srv->conns; slot; slot = slot->next) {
        long long since = atomic_load(&slot->since_ms);
        if (!slot->cut && atomic_load(&slot->stage) == STAGE_HEAD &&
            now - since >= HTTP_PRESSURE_GRACE_MS)
            w[n++] = (waiting_t){since, slot};
    }
    qsort(w, (size_t)n, sizeof *w, by_since);
    for (int i = 0; i < n && live > low; i++, live--)
        cut_locked(srv, w[i].slot, "pressure");
    free(w);
}

static void *sweeper_main(void *arg) {
    http_server_t *srv = arg;
    log_thread_name("http", "sweeper");
    pthread_mutex_lock(&srv->conns_mu);
    while (!srv->sweep_stop) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_nsec += HTTP_SWEEP_MS * 1000000L;
        t.tv_sec += t.tv_nsec / 1000000000L;
        t.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&srv->sweep_cv, &srv->conns_mu, &t);
        if (!srv->sweep_stop) {
            sweep_locked(srv);
            linger_sweep_locked(srv, 0);
        }
    }
    linger_sweep_locked(srv, 1);
    pthread_mutex_unlock(&srv->conns_mu);
    return NULL;
}

static void on_mhd_log(void *cls, const char *fm, va_list ap) {
    http_server_t *srv = cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fm, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    /* one line per refused connection would let a flood flood the log too: count them all,
     * log one line per HTTP_LIMIT_LOG_EVERY_S */
    if (strstr(buf, "connection limit")) {
        metrics_counter_add("http_connections_refused_total", NULL, 1);
        long long now = now_ms() / 1000, last = atomic_load(&srv->limit_logged_s);
        if (last && now - last < HTTP_LIMIT_LOG_EVERY_S) return;
        if (!atomic_compare_exchange_strong(&srv->limit_logged_s, &last, now)) return;
        log_msg(LOG_WARN,
                "libmicrohttpd: %s (connection or per-IP limit; counted in "
                "http_connections_refused_total, logged at most every %d s)",
                buf, HTTP_LIMIT_LOG_EVERY_S);
        return;
    }
    log_msg(LOG_WARN, "libmicrohttpd: %s", buf);
}

static int first_call(struct MHD_Connection *c, const char *method, req_state_t *st) {
    http_server_t *srv = st->srv;
    st->phase = 1;
    slot_stage(st->slot, STAGE_BODY); /* the head is complete; the body deadline starts */
    st->max_body = srv->max_body;
    const char *rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (valid_request_id(rid))
        snprintf(st->request_id, sizeof st->request_id, "%s", rid);
    else
        random_hex(st->request_id, 16);
    if (parse_traceparent(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "traceparent"),
                          st->trace_id) != 0)
        random_hex(st->trace_id, 16);
    http_request_t *r = &st->req;
    r->method = method;
    r->path = st->raw_path;
    r->content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    r->user_agent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    r->request_id = st->request_id;
    r->trace_id = st->trace_id;
    r->client_ip = st->client_ip;
    r->impl = c;
    r->body = "";
    if (srv->body_limit) {
        size_t lim = srv->body_limit(method, st->raw_path, srv->ud);
        if (lim > st->max_body && lim <= SIZE_MAX / 2) st->max_body = lim;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        errno = 0;
        char *end;
        unsigned long long v = strtoull(cl, &end, 10);
        if (errno || end == cl || v > st->max_body) {
            st->too_large = 1;
            return -1;
        }
        if (v > 0) {
            st->body = malloc((size_t)v + 1);
            if (st->body) st->body_cap = (size_t)v + 1;
        }
    }
    return 0;
}

static int append_body(req_state_t *st, const char *data, size_t n) {
    size_t max = st->max_body;
    if (st->too_large || n > max - st->body_len) {
        if (!st->too_large) {
            st->too_large = 1;
            free(st->body);
            st->body = NULL;
            st->body_len = st->body_cap = 0;
        }
        st->discarded += n;
        return st->discarded > HTTP_DISCARD_LIMIT ? -1 : 0;
    }
    if (st->body_len + n + 1 > st->body_cap) {
        size_t cap = st->body_cap ? st->body_cap : 4096;
        while (cap < st->body_len + n + 1)
            cap *= 2;
        if (cap > max + 1) cap = max + 1;
        char *b = realloc(st->body, cap);
        if (!b) return -1;
        st->body = b;
        st->body_cap = cap;
    }
    memcpy(st->body + st->body_len, data, n);
    st->body_len += n;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)url;
    http_server_t *srv = cls;
    req_state_t *st = *con_cls;
    if (!st) return MHD_NO; /* allocation failed in on_uri */
    if (st->phase == 0) {
        err_t e;
        /* errors on the first call: MHD closes the connection after them (body never read) */
        if (first_call(c, method, st) != 0) {
            st->early = 1;
            if (check_head(c, version, st, &e) != 0) return send_error(c, st, &e);
            return send_413(c, st);
        }
        if (check_head(c, version, st, &e) != 0) {
            st->early = 1;
            return send_error(c, st, &e);
        }
        return MHD_YES; /* answer on a later call, see the top of this file */
    }
    if (*upload_data_size > 0) {
        if (st->slot) atomic_fetch_add(&st->slot->body_bytes, (long long)*upload_data_size);
        int rc = st->phase == 1 ? append_body(st, upload_data, *upload_data_size) : 0;
        *upload_data_size = 0;
        return rc == 0 ? MHD_YES : MHD_NO;
    }
    if (st->phase != 1) return MHD_YES;
    if (st->too_large) return send_413(c, st);
    head_scan_t trailer = {0}; /* chunked trailer fields: the same limits as the header */
    MHD_get_connection_values_n(c, MHD_FOOTER_KIND, scan_field, &trailer);
    if (trailer.fields > HTTP_MAX_HEADER_FIELDS || trailer.bytes > HTTP_MAX_HEADER_BYTES) {
        err_t e;
        err_set(&e, 431, "headers_too_large", NULL,
                "request trailer fields exceed %d fields or %d bytes", HTTP_MAX_HEADER_FIELDS,
                HTTP_MAX_HEADER_BYTES);
        return send_error(c, st, &e);
    }
    if (st->body) {
        st->body[st->body_len] = '\0';
        st->req.body = st->body;
    }
    st->req.body_len = st->body_len;
    slot_stage(st->slot, STAGE_BUSY); /* the handler's time is not the client's */

    log_set_context(st->request_id, st->trace_id);
    http_response_t resp = {0};
    srv->handler(&st->req, &resp, srv->ud);
    enum MHD_Result ret = send_response(c, st, &resp);
    log_clear_context();
    return ret;
}

/* ---- server ---------------------------------------------------------------------------------- */

/* The connection limit under the descriptor limit: raises the soft RLIMIT_NOFILE towards the
 * hard one when want + reserve does not fit, then caps want at soft - reserve. -1 (e set) when
 * not even a few connections fit. */
static int conn_cap(int want, int reserve, err_t *e) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return want;
    rlim_t need = (rlim_t)want + (rlim_t)reserve;
    if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    long long room = (long long)rl.rlim_cur - reserve;
    if (room < 8) {
        err_set(e, 500, "invalid_config", "RLIMIT_NOFILE",
                "descriptor limit %llu leaves no room for HTTP connections (%d reserved): raise "
                "it (ulimit -n)",
                (unsigned long long)rl.rlim_cur, reserve);
        return -1;
    }
    if (room < want) {
        log_warn("http: at most %lld connections, not %d: the descriptor limit is %llu (ulimit -n)",
                 room, want, (unsigned long long)rl.rlim_cur);
        return (int)room;
    }
    return want;
}

http_server_t *http_start(const http_config_t *cfg, http_handler_fn handler, void *ud, err_t *e) {
    if (!cfg || !handler) {
        err_set(e, 500, "internal", NULL, "http_start: missing configuration or handler");
        return NULL;
    }
    if (cfg->port < 0 || cfg->port > 65535) {
        err_set(e, 500, "invalid_config", "port", "HTTP port %d is out of range", cfg->port);
        return NULL;
    }
    if (sodium_init() < 0) {
        err_set(e, 500, "internal", NULL, "libsodium initialisation failed");
        return NULL;
    }
    metrics_counter_declare("http_requests_total", "HTTP requests served, by route and status.",
                            "method,route,status");
    metrics_histogram_declare("http_request_duration_seconds",
                              "Time from request line to response queued, in seconds.",
                              "method,route");
    metrics_counter_declare("http_connections_cut_total",
                            "Connections closed for a slow client: head_timeout, body_timeout, "
                            "or pressure (near the connection limit).",
                            "reason");
    metrics_counter_declare("http_connections_refused_total",
                            "Connections refused at once: connection or per-IP limit reached.", "");

    http_server_t *srv = calloc(1, sizeof *srv);
    struct addrinfo *ai = NULL;
    if (!srv) {
        err_set(e, 500, "internal", NULL, "out of memory");
        return NULL;
    }
    srv->handler = handler;
    srv->ud = ud;
    srv->max_body = cfg->max_body ? cfg->max_body : HTTP_DEFAULT_MAX_BODY;
    if (srv->max_body > SIZE_MAX / 2) srv->max_body = SIZE_MAX / 2;
    srv->body_limit = cfg->body_limit;
    atomic_init(&srv->inflight, 0);
    atomic_init(&srv->stopping, 0);
    atomic_init(&srv->limit_logged_s, 0);
    srv->head_timeout_ms =
        1000LL * (cfg->head_timeout_s > 0 ? cfg->head_timeout_s : HTTP_DEFAULT_HEAD_TIMEOUT_S);
    srv->body_timeout_ms =
        1000LL * (cfg->body_timeout_s > 0 ? cfg->body_timeout_s : HTTP_DEFAULT_BODY_TIMEOUT_S);
    srv->body_min_rate = cfg->body_min_rate > 0    ? cfg->body_min_rate
                         : cfg->body_min_rate == 0 ? HTTP_DEFAULT_BODY_MIN_RATE
                                                   : 0;
    unsigned int per_ip = cfg->max_connections_per_ip > 0    ? (unsigned)cfg->max_connections_per_ip
                          : cfg->max_connections_per_ip == 0 ? HTTP_DEFAULT_PER_IP
                                                             : 0u;
    pthread_mutex_init(&srv->conns_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->sweep_cv, &ca);
    pthread_condattr_destroy(&ca);

    const char *host = cfg->host && *cfg->host ? cfg->host : "0.0.0.0";
    char port_s[8];
    snprintf(port_s, sizeof port_s, "%d", cfg->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    int gai = getaddrinfo(host, port_s, &hints, &ai);
    if (gai != 0 || !ai) {
        err_set(e, 500, "invalid_config", "host", "cannot resolve HTTP host \"%s\": %s", host,
                gai_strerror(gai));
        goto fail;
    }
    unsigned int threads = cfg->threads < 1                  ? 1u
                           : cfg->threads > HTTP_MAX_THREADS ? HTTP_MAX_THREADS
                                                             : (unsigned int)cfg->threads;
    unsigned int timeout =
        cfg->timeout_s > 0 ? (unsigned int)cfg->timeout_s : HTTP_DEFAULT_TIMEOUT_S;
    /* MHD's descriptors: an epoll set and an ITC pipe per thread, the listening socket */
    int reserve = (cfg->fd_reserve > 0 ? cfg->fd_reserve : HTTP_DEFAULT_FD_RESERVE) +
                  2 * (int)threads + 8 + HTTP_LINGER_MAX;
    srv->max_conns = conn_cap(
        cfg->max_connections > 0 ? cfg->max_connections : HTTP_DEFAULT_MAX_CONNS, reserve, e);
    if (srv->max_conns < 0) goto fail;
    if ((unsigned int)srv->max_conns < threads) threads = (unsigned int)srv->max_conns;
    unsigned int flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    srv->d = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, srv, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_TIMEOUT, timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)srv->max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        /* a pool of 1 is just the internal thread: end the list there */
        threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, MHD_OPTION_END);
    if (!srv->d) {
        err_set(e, 500, "unavailable", "port", "cannot listen on %s:%d (in use or not permitted)",
                host, cfg->port);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? (int)di->port : cfg->port;
    freeaddrinfo(ai);
    ai = NULL;
    if (pthread_create(&srv->sweeper, NULL, sweeper_main, srv) != 0) {
        err_set(e, 500, "internal", NULL, "cannot start the HTTP connection sweeper thread");
        MHD_stop_daemon(srv->d);
        goto fail;
    }
    srv->sweeper_running = 1;
    log_info("http: at most %d connections, %u per client address (0 = no limit); request head "
             "within %lld s, body within %lld s + 1 s per %lld bytes",
             srv->max_conns, per_ip, srv->head_timeout_ms / 1000, srv->body_timeout_ms / 1000,
             srv->body_min_rate);
    return srv;
fail:
    if (ai) freeaddrinfo(ai);
    pthread_cond_destroy(&srv->sweep_cv);
    pthread_mutex_destroy(&srv->conns_mu);
    free(srv);
    return NULL;
}

int http_port(const http_server_t *s) {
    return s ? s->port : -1;
}

int http_max_connections(const http_server_t *s) {
    return s ? s->max_conns : -1;
}

void http_stop(http_server_t *s, int grace_s) {
    if (!s) return;
    atomic_store(&s->stopping, 1);
    MHD_socket lfd = MHD_quiesce_daemon(s->d); /* no new connections from here on */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load(&s->inflight) > 0 && elapsed_s(&t0) < (double)(grace_s > 0 ? grace_s : 0)) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int left = atomic_load(&s->inflight);
    if (left > 0) log_warn("http: stopping with %d request(s) still in flight", left);
    if (s->sweeper_running) {
        pthread_mutex_lock(&s->conns_mu);
        s->sweep_stop = 1;
        pthread_cond_signal(&s->sweep_cv);
        pthread_mutex_unlock(&s->conns_mu);
        pthread_join(s->sweeper, NULL);
    }
    MHD_stop_daemon(s->d);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    pthread_cond_destroy(&s->sweep_cv);
    pthread_mutex_destroy(&s->conns_mu);
    free(s);
}
