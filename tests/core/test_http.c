/* test_http: the libmicrohttpd server driven with libcurl over loopback: bodies, 413, keep-alive,
 * request/trace ids, the JSON 500 for an empty response, access log and metrics, graceful stop
 * with a request in flight. Raw-socket tests for what curl cannot send: the request-head checks
 * answered with our JSON error (414, 431, 400 invalid_header, 501) and the malformed requests
 * libmicrohttpd 0.9.75 still answers itself (their status codes are pinned here so that a library
 * upgrade that changes them is noticed; docs/http-library.md lists them). Needs no database. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"
#include "test.h"

#define MAX_BODY 1024

static http_server_t *g_srv;
static char g_base[64];
static atomic_int g_slow_entered;
static char g_ctx_request_id[80]; /* log_request_id() seen inside the handler */
static char g_ctx_trace_id[80];

/* ---- the handler under test ------------------------------------------------------------------ */

static void collect_query(const char *k, const char *v, void *ud) {
    json_t *arr = ud;
    json_array_append_new(arr, json_pack("[s, s?]", k, v));
}

static void handler(const http_request_t *req, http_response_t *resp, void *ud) {
    (void)ud;
    snprintf(g_ctx_request_id, sizeof g_ctx_request_id, "%s", log_request_id());
    snprintf(g_ctx_trace_id, sizeof g_ctx_trace_id, "%s", log_trace_id());
    if (strcmp(req->path, "/hello") == 0) {
        resp->route = "/hello";
        http_add_header(resp, "X-Test", "yes");
        http_set_body(resp, 200, strdup("{\"hello\":\"world\"}"));
    } else if (strncmp(req->path, "/echo", 5) == 0) {
        resp->route = "/echo";
        json_t *q = json_array();
        http_query_each(req, collect_query, q);
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:I, s:s?, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:o}", "method",
                      req->method, "path", req->path, "body", req->body, "body_len",
                      (json_int_t)req->body_len, "content_type", req->content_type, "request_id",
                      req->request_id, "trace_id", req->trace_id, "client_ip", req->client_ip,
                      "user_agent", req->user_agent, "q", http_query(req, "q"), "x_custom",
                      http_header(req, "x-CUSTOM"), "query", q);
        http_set_body(resp, 200, json_dumps(o, JSON_COMPACT));
        json_decref(o);
    } else if (strcmp(req->path, "/slow") == 0) {
        resp->route = "/slow";
        atomic_store(&g_slow_entered, 1);
        sleep(1);
        http_set_body(resp, 200, strdup("{\"slow\":true}"));
    } else if (strcmp(req->path, "/nothing") == 0) {
        resp->route = "/nothing"; /* status left 0 */
    } else if (strcmp(req->path, "/nothing-but-body") == 0) {
        resp->body = strdup("leaked?"); /* status 0 with a body: must be freed, 500 sent */
    } else if (strcmp(req->path, "/error") == 0) {
        err_t e;
        err_set(&e, 422, "invalid_field", "name", "name must be 1..80 characters");
        http_set_error(resp, &e);
        resp->route = "/error";
    } else if (strcmp(req->path, "/cached") == 0) {
        http_add_header(resp, "cache-control", "public, max-age=60");
        http_set_body(resp, 200, strdup("{}"));
    } else if (strcmp(req->path, "/text") == 0) {
        resp->content_type = "text/plain; charset=utf-8";
        http_set_body(resp, 200, strdup("plain"));
    } else {
        err_t e;
        err_set(&e, 404, "not_found", NULL, "no such route");
        http_set_error(resp, &e);
    }
}

/* ---- curl helpers ---------------------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t n;
} buf_t;

typedef struct resp {
    long status;
    buf_t body, headers;
    json_t *json;
    long num_connects;
    CURLcode rc;
} resp_t;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud) {
    buf_t *b = ud;
    size_t n = size * nmemb;
    char *p = realloc(b->p, b->n + n + 1);
    if (!p) return 0;
    memcpy(p + b->n, ptr, n);
    b->p = p;
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

static void resp_free(resp_t *r) {
    free(r->body.p);
    free(r->headers.p);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* Case-insensitive lookup of a response header value (first occurrence), copied into out. */
static int resp_header(const resp_t *r, const char *name, char *out, size_t out_size) {
    if (!r->headers.p) return 0;
    size_t nl = strlen(name);
    for (const char *line = r->headers.p; line && *line;) {
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r\n");
            if (n >= out_size) n = out_size - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 1;
        }
        line = strchr(line, '\n');
        if (line) line++;
    }
    return 0;
}

typedef struct upload {
    const char *data;
    size_t len, pos;
} upload_t;

static size_t g_piece = 100; /* bytes per read callback: several upload calls on the server */

static size_t on_read(char *ptr, size_t size, size_t nmemb, void *ud) {
    upload_t *u = ud;
    size_t n = size * nmemb;
    if (n > g_piece) n = g_piece;
    if (n > u->len - u->pos) n = u->len - u->pos;
    memcpy(ptr, u->data + u->pos, n);
    u->pos += n;
    return n;
}

/* method NULL = GET. body != NULL -> sent with CURLOPT_POSTFIELDS (Content-Length) unless
 * chunked. headers: NULL-terminated list. */
static void do_request(CURL *h, const char *method, const char *path, const char *body, int chunked,
                       const char *const *headers, resp_t *out) {
    memset(out, 0, sizeof *out);
    char url[512];
    snprintf(url, sizeof url, "%s%s", g_base, path);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &out->headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "test_http/1");
    if (getenv("TEST_HTTP_VERBOSE")) curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    struct curl_slist *hl = NULL;
    for (int i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    upload_t up = {body, body ? strlen(body) : 0, 0};
    if (body && !chunked) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (body) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &up);
        hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
    }
    if (method && strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (method)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (hl) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    out->rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &out->num_connects);
    curl_slist_free_all(hl);
    if (out->body.p) out->json = json_loads(out->body.p, 0, NULL);
}

static const char *jstr(json_t *o, const char *path1, const char *path2) {
    json_t *v = json_object_get(o, path1);
    if (path2) v = json_object_get(v, path2);
    return json_string_value(v);
}

static int is_hex(const char *s, size_t len) {
    if (!s || strlen(s) != len) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static http_server_t *start_server(int threads) {
    http_config_t cfg = {
        .host = "127.0.0.1", .port = 0, .threads = threads, .max_body = MAX_BODY, .timeout_s = 5};
    err_t e = {0};
    http_server_t *s = http_start(&cfg, handler, NULL, &e);
    if (!s) printf("# http_start failed: %s\n", e.message);
    return s;
}

/* ---- raw-socket helpers ---------------------------------------------------------------------- */

typedef struct raw_resp {
    int status; /* 0: the connection closed (or timed out) without a status line */
    char content_type[128];
    char *head, *body; /* malloc'd (NULL when nothing came) */
    json_t *json;
    double seconds; /* until the answer was complete or the connection closed */
} raw_resp_t;

static void raw_free(raw_resp_t *r) {
    free(r->head);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static const char *ci_find(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return hay;
    return NULL;
}

/* Sends len bytes on a fresh connection to port, then reads one response: up to the end of its
 * Content-Length body, or until the server closes, or timeout_s. */
static void raw_request_port(int port, const char *data, size_t len, int timeout_s,
                             raw_resp_t *out) {
    memset(out, 0, sizeof *out);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = timeout_s};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    double t0 = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return;
    }
    /* the server may answer and close before it has read everything: stop sending then */
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += (size_t)n;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    long want = -1; /* total bytes (head + body) once the head is complete */
    while (buf && (want < 0 || (long)n < want)) {
        if (n == cap) {
            char *b = realloc(buf, cap * 2 + 1);
            if (!b) break;
            buf = b;
            cap *= 2;
        }
        ssize_t got = recv(fd, buf + n, cap - n, 0);
        if (got <= 0) break;
        n += (size_t)got;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end && want < 0) {
            const char *cl = ci_find(buf, "\r\nContent-Length:");
            want = (long)(end + 4 - buf) + (cl && cl < end ? atol(cl + 17) : 0);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    out->seconds = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - t0;
    close(fd);
    if (!buf || n == 0) {
        free(buf);
        return;
    }
    buf[n] = '\0';
    out->head = buf;
    char *end = strstr(buf, "\r\n\r\n");
    if (end) {
        *end = '\0';
        out->body = end + 4;
        out->json = json_loads(out->body, 0, NULL);
    }
    if (strncmp(buf, "HTTP/1.", 7) == 0 && strlen(buf) > 12) out->status = atoi(buf + 9);
    const char *ct = ci_find(buf, "\r\nContent-Type:");
    if (ct) {
        ct += 15;
        while (*ct == ' ')
            ct++;
        size_t l = strcspn(ct, "\r\n");
        if (l >= sizeof out->content_type) l = sizeof out->content_type - 1;
        memcpy(out->content_type, ct, l);
    }
}

static void raw_request(const char *data, size_t len, raw_resp_t *out) {
    raw_request_port(http_port(g_srv), data, len, 5, out);
}

/* "<prefix><fill x n><suffix>" in a malloc'd buffer; *len gets its length. */
static char *build(const char *prefix, char fill, size_t n, const char *suffix, size_t *len) {
    size_t a = strlen(prefix), c = strlen(suffix);
    char *p = malloc(a + n + c + 1);
    if (!p) return NULL;
    memcpy(p, prefix, a);
    memset(p + a, fill, n);
    memcpy(p + a + n, suffix, c + 1);
    *len = a + n + c;
    return p;
}

/* n header lines "X-H<i>: v" (or the bare "a:" when tiny) after "GET path HTTP/1.1\r\nHost". */
static char *many_headers(const char *path, int n, int tiny, size_t *len) {
    size_t cap = 64 + strlen(path) + (size_t)n * 24, used = 0;
    char *p = malloc(cap);
    if (!p) return NULL;
    used += (size_t)snprintf(p, cap, "GET %s HTTP/1.1\r\nHost: x\r\n", path);
    for (int i = 0; i < n; i++)
        used += (size_t)(tiny ? snprintf(p + used, cap - used, "a:\r\n")
                              : snprintf(p + used, cap - used, "X-H%d: v\r\n", i));
    used += (size_t)snprintf(p + used, cap - used, "\r\n");
    *len = used;
    return p;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_start_port(void) {
    CHECK(g_srv != NULL);
    CHECK(http_port(g_srv) > 0 && http_port(g_srv) < 65536);
    /* the same port again fails with a message */
    http_config_t cfg = {.host = "127.0.0.1", .port = http_port(g_srv), .threads = 1};
    err_t e = {0};
    http_server_t *s = http_start(&cfg, handler, NULL, &e);
    CHECK(s == NULL);
    CHECK(e.message[0] != '\0');
    if (s) http_stop(s, 0);
    cfg.host = "no-such-host.invalid";
    cfg.port = 0;
    s = http_start(&cfg, handler, NULL, &e);
    CHECK(s == NULL);
    CHECK_STR(e.field, "host");
    if (s) http_stop(s, 0);
}

static void test_get_200(void) {
    CURL *h = curl_easy_init();
    resp_t r;
    do_request(h, NULL, "/hello", NULL, 0, NULL, &r);
    CHECK_EQ_INT(r.rc, CURLE_OK);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(r.body.p, "{\"hello\":\"world\"}");
    char v[128];
    CHECK(resp_header(&r, "Content-Type", v, sizeof v));
    CHECK_STR(v, "application/json");
    CHECK(resp_header(&r, "X-Test", v, sizeof v));
    CHECK_STR(v, "yes");
    CHECK(resp_header(&r, "X-Request-Id", v, sizeof v));
    CHECK(is_hex(v, 32));
    CHECK(!resp_header(&r, "Connection", v, sizeof v) || strcasecmp(v, "close") != 0);
    resp_free(&r);

    do_request(h, NULL, "/text", NULL, 0, NULL, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(r.body.p, "plain");
    CHECK(resp_header(&r, "Content-Type", v, sizeof v));
    CHECK_STR(v, "text/plain; charset=utf-8");
    resp_free(&r);

    do_request(h, "HEAD", "/hello", NULL, 0, NULL, &r);
    CHECK_EQ_INT(r.rc, CURLE_OK);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.body.p == NULL);
    resp_free(&r);
    curl_easy_cleanup(h);
}

static void test_post_echo(void) {
    CURL *h = curl_easy_init();
    resp_t r;
    const char *hdr[] = {"Content-Type: application/json", "X-Custom: abc", NULL};
    const char *body = "{\"name\":\"Club \\u00e9\",\"n\":1}";
    do_request(h, "POST", "/echo", body, 0, hdr, &r);
    CHECK_EQ_INT(r.status, 200);
    REQUIRE(r.json != NULL);
    CHECK_STR(jstr(r.json, "method", NULL), "POST");
    CHECK_STR(jstr(r.json, "body", NULL), body);
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "body_len")), strlen(body));
    CHECK_STR(jstr(r.json, "content_type", NULL), "application/json");
    CHECK_STR(jstr(r.json, "x_custom", NULL), "abc");
    CHECK_STR(jstr(r.json, "client_ip", NULL), "127.0.0.1");
    CHECK_STR(jstr(r.json, "user_agent", NULL), "test_http/1");
    resp_free(&r);

    /* chunked upload in 100-byte pieces, exactly max_body bytes */
    char *big = malloc(MAX_BODY + 1);
    REQUIRE(big != NULL);
    memset(big, 'a', MAX_BODY);
    big[MAX_BODY] = '\0';
    do_request(h, "PUT", "/echo", big, 1, NULL, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "body_len")), MAX_BODY);
    CHECK_STR(jstr(r.json, "body", NULL), big);
    CHECK_STR(jstr(r.json, "method", NULL), "PUT");
    resp_free(&r);
    free(big);

    /* no body: "" and 0 */
    do_request(h, NULL, "/echo", NULL, 0, NULL, &r);
    CHECK_STR(jstr(r.json, "body", NULL), "");
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "body_len")), 0);
    CHECK(json_is_null(json_object_get(r.json, "content_type")));
    resp_free(&r);
    curl_easy_cleanup(h);
}

static void test_query_and_raw_path(void) {
    CURL *h = curl_easy_init();
    resp_t r;
    do_request(h, NULL, "/echo/a%2Fb%20c?q=x%20y+z&flag&e=%C3%A9", NULL, 0, NULL, &r);
    CHECK_EQ_INT(r.status, 200);
    REQUIRE(r.json != NULL);
    CHECK_STR(jstr(r.json, "path", NULL), "/echo/a%2Fb%20c"); /* raw: the router decodes */
    CHECK_STR(jstr(r.json, "q", NULL), "x y z");
    char *q = json_dumps(json_object_get(r.json, "query"), JSON_COMPACT | JSON_ENSURE_ASCII);
    CHECK_STR(q, "[[\"q\",\"x y z\"],[\"flag\",null],[\"e\",\"\\u00E9\"]]");
    free(q);
    resp_free(&r);
    curl_easy_cleanup(h);
}

static void check_413(resp_t *r) {
    CHECK_EQ_INT(r->rc, CURLE_OK);
    CHECK_EQ_INT(r->status, 413);
    REQUIRE(r->json != NULL);
    CHECK_STR(jstr(r->json, "error", "code"), "payload_too_large");
    CHECK(jstr(r->json, "error", "message") != NULL);
    CHECK(json_object_get(json_object_get(r->json, "error"), "field") == NULL);
    char v[80];
    CHECK(resp_header(r, "X-Request-Id", v, sizeof v));
}

static void test_413(void) {
    char *big = malloc(4 * MAX_BODY + 1);
    REQUIRE(big != NULL);
    memset(big, 'b', 4 * MAX_BODY);
    big[4 * MAX_BODY] = '\0';
    CURL *h = curl_easy_init();
    resp_t r;
    /* Content-Length announces too much, client waits for 100-continue: answered at once */
    const char *expect[] = {"Expect: 100-continue", NULL};
    do_request(h, "POST", "/echo", big, 0, expect, &r);
    check_413(&r);
    resp_free(&r);
    /* Content-Length too large, body sent right away */
    const char *no_expect[] = {"Expect:", NULL};
    do_request(h, "POST", "/echo", big, 0, no_expect, &r);
    check_413(&r);
    resp_free(&r);
    /* chunked: only noticed while reading; the rest is discarded, the connection survives */
    do_request(h, "POST", "/echo", big, 1, no_expect, &r);
    check_413(&r);
    resp_free(&r);
    do_request(h, NULL, "/hello", NULL, 0, NULL, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.num_connects, 0);
    resp_free(&r);
    /* a chunked body far over the limit: discarded up to 4 MiB more, then the connection is
     * dropped without an answer */
    size_t huge_len = 6 * 1024 * 1024;
    char *huge = malloc(huge_len + 1);
    REQUIRE(huge != NULL);
    memset(huge, 'h', huge_len);
    huge[huge_len] = '\0';
    g_piece = 64 * 1024;
    do_request(h, "POST", "/echo", huge, 1, no_expect, &r);
    g_piece = 100;
    CHECK(r.rc != CURLE_OK);
    CHECK(r.status != 200);
    resp_free(&r);
    free(huge);
    /* one byte over, exactly */
    big[MAX_BODY + 1] = '\0';
    do_request(h, "POST", "/echo", big, 0, no_expect, &r);
    check_413(&r);
    resp_free(&r);
    curl_easy_cleanup(h);
    free(big);
}

/* Regression (lingering close): an oversized body sent in pieces, much more than the socket
 * buffers hold, after the server has answered 413 on the head. The server must keep reading and
 * discarding (lingering close) so that every send succeeds and the client reads the 413; a server
 * that closes at once with unread input resets the connection and the sends fail. */
static void test_413_lingering_close(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port(g_srv))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    REQUIRE(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    size_t body_len = (size_t)3 * 1024 * 1024; /* under the 4 MiB discard bound */
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      body_len);
    CHECK(send(fd, head, (size_t)hn, MSG_NOSIGNAL) == hn);
    static char piece[32 * 1024];
    memset(piece, 'x', sizeof piece);
    size_t sent = 0;
    int send_failed = 0;
    while (sent < body_len) {
        ssize_t n = send(fd, piece, sizeof piece, MSG_NOSIGNAL);
        if (n <= 0) {
            send_failed = 1;
            break;
        }
        sent += (size_t)n;
        struct timespec ts = {0, 1000 * 1000}; /* 1 ms: the answer arrives meanwhile */
        nanosleep(&ts, NULL);
    }
    CHECK_EQ_INT(send_failed, 0);
    char buf[4096];
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0) break;
        got += (size_t)n;
        if (got == sizeof buf - 1) break;
    }
    buf[got] = '\0';
    close(fd);
    CHECK(strncmp(buf, "HTTP/1.1 413", 12) == 0);
    CHECK(ci_find(buf, "\r\nConnection: close") != NULL);
    CHECK(strstr(buf, "payload_too_large") != NULL);
}

static void test_keepalive(void) {
    CURL *h = curl_easy_init();
    resp_t r;
    do_request(h, NULL, "/hello", NULL, 0, NULL, &r);
    CHECK_EQ_INT(r.status, 200);
    resp_free(&r);
    do_request(h, NULL, "/hello", NULL, 0, NULL, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.num_connects, 0); /* reused the connection */
    char v[64];
    CHECK(!resp_header(&r, "Connection", v, sizeof v) || strcasecmp(v, "close") != 0);
    resp_free(&r);
    const char *hdr[] = {"Content-Type: application/json", NULL};
    do_request(h, "POST", "/echo", "{\"a\":1}", 0, hdr, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.num_connects, 0);
    resp_free(&r);
    do_request(h, NULL, "/nothing", NULL, 0, NULL, &r); /* error responses keep it too */
    CHECK_EQ_INT(r.status, 500);
    resp_free(&r);
    do_request(h, NULL, "/hello", NULL, 0, NULL, &r);
    CHECK_EQ_INT(r.num_connects, 0);
    resp_free(&r);
    curl_easy_cleanup(h);
}

static void test_request_id(void) {
    CURL *h = curl_easy_init();
    resp_t r;
    char v[128];
    const char *given[] = {"X-Request-Id: abc-123_X.y", NULL};
    do_request(h, NULL, "/echo", NULL, 0, given, &r);
    CHECK_STR(jstr(r.json, "request_id", NULL), "abc-123_X.y");
    CHECK(resp_header(&r, "X-Request-Id", v, sizeof v));
    CHECK_STR(v, "abc-123_X.y");
    CHECK_STR(g_ctx_request_id, "abc-123_X.y"); /* log context inside the handler */
    resp_free(&r);

    char long_id[100] = "X-Request-Id: ";
    memset(long_id + strlen(long_id), 'a', 64);
    do_request(h, NULL, "/echo", NULL, 0, (const char *[]){long_id, NULL}, &r);
    CHECK_EQ_INT(strlen(jstr(r.json, "request_id", NULL)), 64); /* 64 is fine */
    resp_free(&r);

    strcat(long_id, "a");
    const char *bad[][2] = {{"X-Request-Id: has space", NULL},
                            {"X-Request-Id: semi;colon", NULL},
                            {"X-Request-Id: \xc3\xa9t\xc3\xa9", NULL},
                            {long_id, NULL}};
    char prev[80] = "";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        do_request(h, NULL, "/echo", NULL, 0, bad[i], &r);
        const char *id = jstr(r.json, "request_id", NULL);
        CHECK(is_hex(id, 32));
        CHECK(id && strcmp(id, prev) != 0);
        CHECK(resp_header(&r, "X-Request-Id", v, sizeof v));
        CHECK_STR(v, id);
        snprintf(prev, sizeof prev, "%s", id ? id : "");
        resp_free(&r);
    }
    /* none given: generated */
    do_request(h, NULL, "/echo", NULL, 0, NULL, &r);
    CHECK(is_hex(jstr(r.json, "request_id", NULL), 32));
    CHECK(strcmp(jstr(r.json, "request_id", NULL), prev) != 0);
    resp_free(&r);
    curl_easy_cleanup(h);
}

static void test_traceparent(void) {
    CURL *h = curl_easy_init();
    resp_t r;
    const char *tid = "4bf92f3577b34da6a3ce929d0e0e4736";
    do_request(h, NULL, "/echo", NULL, 0,
               (const char *[]){
                   "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL},
               &r);
    CHECK_STR(jstr(r.json, "trace_id", NULL), tid);
    CHECK_STR(g_ctx_trace_id, tid);
    resp_free(&r);
    /* a future version may carry more fields */
    do_request(
        h, NULL, "/echo", NULL, 0,
        (const char *[]){
            "traceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", NULL},
        &r);
    CHECK_STR(jstr(r.json, "trace_id", NULL), tid);
    resp_free(&r);
    const char *bad[] = {
        "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01",   /* zero trace */
        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   /* zero parent */
        "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   /* uppercase */
        "traceparent: ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* version ff */
        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", /* v00 long */
        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",    /* short id */
        "traceparent: garbage",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        do_request(h, NULL, "/echo", NULL, 0, (const char *[]){bad[i], NULL}, &r);
        const char *got = jstr(r.json, "trace_id", NULL);
        CHECK(is_hex(got, 32));
        CHECK(got && strcmp(got, tid) != 0);
        if (got && strcmp(got, tid) == 0) printf("#   accepted: %s\n", bad[i]);
        resp_free(&r);
    }
    do_request(h, NULL, "/echo", NULL, 0, NULL, &r);
    CHECK(is_hex(jstr(r.json, "trace_id", NULL), 32));
    resp_free(&r);
    curl_easy_cleanup(h);
}

static void test_status0_500_and_errors(void) {
    CURL *h = curl_easy_init();
    resp_t r;
    do_request(h, NULL, "/nothing", NULL, 0, NULL, &r);
    CHECK_EQ_INT(r.status, 500);
    REQUIRE(r.json != NULL);
    CHECK_STR(jstr(r.json, "error", "code"), "internal");
    CHECK(jstr(r.json, "error", "message") != NULL);
    char v[64];
    CHECK(resp_header(&r, "Content-Type", v, sizeof v));
    CHECK_STR(v, "application/json");
    resp_free(&r);
    do_request(h, NULL, "/nothing-but-body", NULL, 0, NULL, &r);
    CHECK_EQ_INT(r.status, 500);
    CHECK_STR(jstr(r.json, "error", "code"), "internal");
    resp_free(&r);
    do_request(h, NULL, "/error", NULL, 0, NULL, &r);
    CHECK_EQ_INT(r.status, 422);
    CHECK_STR(r.body.p, "{\"error\":{\"code\":\"invalid_field\",\"message\":\"name must be 1..80 "
                        "characters\",\"field\":\"name\"}}");
    resp_free(&r);
    curl_easy_cleanup(h);
}

static void test_response_helpers(void) {
    http_response_t resp = {0};
    err_t e;
    err_set(&e, 404, "not_found", "", "club \"x\" not found");
    http_set_error(&resp, &e);
    CHECK_EQ_INT(resp.status, 404);
    CHECK_STR(resp.body,
              "{\"error\":{\"code\":\"not_found\",\"message\":\"club \\\"x\\\" not found\"}}");
    err_set(&e, 400, "bad", "f\xff", "bad \xc3 utf-8");
    http_set_error(&resp, &e);
    CHECK_EQ_INT(resp.status, 400);
    CHECK_STR(resp.body, "{\"error\":{\"code\":\"bad\",\"message\":\"(message not valid UTF-8)\","
                         "\"field\":\"(invalid)\"}}");
    err_set(&e, 0, "weird", NULL, "no status");
    http_set_error(&resp, &e); /* replaces (and frees) the previous body */
    CHECK_EQ_INT(resp.status, 500);
    for (int i = 0; i < HTTP_MAX_HEADERS + 3; i++)
        http_add_header(&resp, "X-N", "v");
    CHECK_EQ_INT(resp.n_headers, HTTP_MAX_HEADERS);
    http_response_free(&resp);
    CHECK(resp.body == NULL && resp.n_headers == 0);
    http_request_t fake = {.method = "GET", .path = "/"}; /* impl NULL: accessors return NULL */
    CHECK(http_header(&fake, "Host") == NULL);
    CHECK(http_query(&fake, "q") == NULL);
}

static void test_access_log_and_metrics(void) {
    FILE *f = tmpfile();
    REQUIRE(f != NULL);
    log_init(LOG_INFO, 1, "test");
    log_set_stream(f);
    CURL *h = curl_easy_init();
    resp_t r;
    do_request(h, NULL, "/hello", NULL, 0, (const char *[]){"X-Request-Id: log-test-1", NULL}, &r);
    CHECK_EQ_INT(r.status, 200);
    resp_free(&r);
    do_request(h, "BREW", "/unknown", NULL, 0, NULL, &r);
    CHECK_EQ_INT(r.status, 404);
    resp_free(&r);
    curl_easy_cleanup(h);
    usleep(50 * 1000);
    log_set_stream(NULL);
    log_init(LOG_WARN, 1, "test_http");
    rewind(f);
    char line[2048];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        if (o && json_is_string(json_object_get(o, "request_id")) &&
            strcmp(jstr(o, "request_id", NULL), "log-test-1") == 0) {
            found = 1;
            CHECK_STR(jstr(o, "level", NULL), "info");
            CHECK_STR(jstr(o, "method", NULL), "GET");
            CHECK_STR(jstr(o, "route", NULL), "/hello");
            CHECK_EQ_INT(json_integer_value(json_object_get(o, "status")), 200);
            CHECK(json_is_number(json_object_get(o, "duration_ms")));
            CHECK(json_number_value(json_object_get(o, "duration_ms")) >= 0);
        }
        json_decref(o);
    }
    CHECK(found);
    fclose(f);

    char *m = metrics_render();
    REQUIRE(m != NULL);
    CHECK(strstr(m, "# TYPE http_requests_total counter") != NULL);
    CHECK(strstr(m, "http_requests_total{method=\"GET\",route=\"/hello\",status=\"200\"} ") !=
          NULL);
    CHECK(strstr(m, "http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"404\"} ") !=
          NULL);
    CHECK(strstr(m, "http_requests_total{method=\"POST\",route=\"unmatched\",status=\"413\"} ") !=
          NULL);
    CHECK(strstr(m, "http_request_duration_seconds_bucket{method=\"GET\",route=\"/hello\","
                    "le=\"+Inf\"} ") != NULL);
    CHECK(strstr(m, "http_request_duration_seconds_count{method=\"GET\",route=\"/hello\"} ") !=
          NULL);
    free(m);
}

typedef struct slow_call {
    resp_t r;
} slow_call_t;

static void *slow_thread(void *arg) {
    slow_call_t *c = arg;
    CURL *h = curl_easy_init();
    do_request(h, NULL, "/slow", NULL, 0, NULL, &c->r);
    curl_easy_cleanup(h);
    return NULL;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_graceful_stop(void) {
    REQUIRE(g_srv != NULL);
    atomic_store(&g_slow_entered, 0);
    slow_call_t call;
    pthread_t th;
    int prc =
        pthread_create(&th, NULL, slow_thread, &call); /* not inside REQUIRE: evaluated twice */
    REQUIRE(prc == 0);
    for (int i = 0; i < 500 && !atomic_load(&g_slow_entered); i++)
        usleep(10 * 1000);
    CHECK(atomic_load(&g_slow_entered));
    double t0 = now_s();
    http_stop(g_srv, 5); /* the request is in its 1 s handler */
    double took = now_s() - t0;
    g_srv = NULL;
    pthread_join(th, NULL);
    CHECK_EQ_INT(call.r.rc, CURLE_OK);
    CHECK_EQ_INT(call.r.status, 200);
    CHECK_STR(call.r.body.p, "{\"slow\":true}");
    char v[32];
    CHECK(resp_header(&call.r, "Connection", v, sizeof v));
    CHECK_STR(v, "close");
    CHECK(took > 0.5 && took < 4.0);
    printf("#   http_stop waited %.3f s for the in-flight request\n", took);
    resp_free(&call.r);
    /* nobody listens any more */
    CURL *h = curl_easy_init();
    resp_t r;
    do_request(h, NULL, "/hello", NULL, 0, NULL, &r);
    CHECK(r.rc != CURLE_OK);
    resp_free(&r);
    curl_easy_cleanup(h);
}

/* grace 0 with a request in flight: stops without waiting for it (and without leaking). */
static void test_stop_no_grace(void) {
    g_srv = start_server(1);
    REQUIRE(g_srv != NULL);
    snprintf(g_base, sizeof g_base, "http://127.0.0.1:%d", http_port(g_srv));
    atomic_store(&g_slow_entered, 0);
    slow_call_t call;
    pthread_t th;
    int prc =
        pthread_create(&th, NULL, slow_thread, &call); /* not inside REQUIRE: evaluated twice */
    REQUIRE(prc == 0);
    for (int i = 0; i < 500 && !atomic_load(&g_slow_entered); i++)
        usleep(10 * 1000);
    double t0 = now_s();
    http_stop(g_srv, 0);
    g_srv = NULL;
    double took = now_s() - t0;
    pthread_join(th, NULL);
    /* MHD_stop_daemon joins the worker, so the handler finished; the client may or may not
     * have received the answer */
    CHECK(took < 2.0);
    resp_free(&call.r);
}

#define S(lit) lit, sizeof lit - 1

/* docs/security.md H3: every answer (JSON, errors, text; ours and the handler's) carries
 * X-Content-Type-Options: nosniff and Cache-Control: no-store, unless the handler set its own
 * Cache-Control. */
static void test_security_headers(void) {
    REQUIRE(g_srv != NULL);
    CURL *h = curl_easy_init();
    static const char *const paths[] = {"/hello", "/error", "/nothing", "/text", "/no-such", NULL};
    for (int i = 0; paths[i]; i++) {
        resp_t r;
        char v[64];
        do_request(h, NULL, paths[i], NULL, 0, NULL, &r);
        CHECK(resp_header(&r, "Cache-Control", v, sizeof v));
        CHECK_STR(v, "no-store");
        CHECK(resp_header(&r, "X-Content-Type-Options", v, sizeof v));
        CHECK_STR(v, "nosniff");
        resp_free(&r);
    }
    resp_t r;
    char v[64];
    do_request(h, NULL, "/cached", NULL, 0, NULL, &r);
    CHECK(resp_header(&r, "Cache-Control", v, sizeof v));
    CHECK_STR(v, "public, max-age=60");
    CHECK(strstr(r.headers.p, "no-store") == NULL);
    resp_free(&r);
    curl_easy_cleanup(h);
    /* our own early errors too (431 before any handler) */
    char *p = NULL;
    size_t len;
    p = many_headers("/hello", 100, 0, &len);
    REQUIRE(p != NULL);
    raw_resp_t rr;
    raw_request(p, len, &rr);
    CHECK_EQ_INT(rr.status, 431);
    CHECK(rr.head && ci_find(rr.head, "\r\nCache-Control: no-store") != NULL);
    CHECK(rr.head && ci_find(rr.head, "\r\nX-Content-Type-Options: nosniff") != NULL);
    raw_free(&rr);
    free(p);
}

/* ---- slow clients (docs/security.md H1) ------------------------------------------------------ */

/* A socket from source address 127.0.0.<host> connected to port (non-blocking after connect),
 * or -1. */
static int dial_from(int host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000000u | (unsigned)host);
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0 ||
        connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Seconds until the server closes fd (EOF or reset), or -1 after limit_s. */
static double seconds_until_closed(int fd, double limit_s) {
    double t0 = now_s();
    char b[256];
    while (now_s() - t0 < limit_s) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 100) <= 0) continue;
        ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (n <= 0) return now_s() - t0;
    }
    return -1;
}

static http_server_t *start_guarded(int max_conns, int per_ip, int head_s, int body_s, int rate) {
    http_config_t cfg = {.host = "127.0.0.1",
                         .port = 0,
                         .threads = 4,
                         .max_body = MAX_BODY,
                         .timeout_s = 30,
                         .max_connections = max_conns,
                         .max_connections_per_ip = per_ip,
                         .head_timeout_s = head_s,
                         .body_timeout_s = body_s,
                         .body_min_rate = rate};
    err_t e = {0};
    http_server_t *s = http_start(&cfg, handler, NULL, &e);
    if (!s) printf("# http_start failed: %s\n", e.message);
    return s;
}

/* The head deadline: a client trickling header lines (each byte restarts MHD's idle timeout,
 * 30 s here) is cut 2 s after connecting; an idle keep-alive connection too; a body slower
 * than 2 s + 1 s per 100 bytes is cut; a normal request on the same server is answered. */
static void test_slow_head_and_body_cut(void) {
    http_server_t *s = start_guarded(64, 0, 2, 2, 100);
    REQUIRE(s != NULL);
    int port = http_port(s);
    int fd = dial_from(1, port);
    REQUIRE(fd >= 0);
    CHECK(send(fd, S("GET /hello HTTP/1.1\r\nHost: x\r\n"), MSG_NOSIGNAL) == 30);
    double t0 = now_s(), closed = -1;
    for (int i = 0; i < 40 && closed < 0; i++) { /* one header line every 250 ms */
        if (send(fd, "X-A: b\r\n", 8, MSG_NOSIGNAL) != 8) {
            closed = now_s() - t0;
            break;
        }
        double c = seconds_until_closed(fd, 0.25);
        if (c >= 0) closed = now_s() - t0;
    }
    printf("#   trickling head cut after %.2f s (head deadline 2 s)\n", closed);
    CHECK(closed >= 1.8 && closed < 3.5);
    close(fd);

    /* keep-alive: one answered request, then silence: cut 2 s after the answer */
    fd = dial_from(1, port);
    REQUIRE(fd >= 0);
    CHECK(send(fd, S("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"), MSG_NOSIGNAL) == 32);
    char b[1024];
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    CHECK(poll(&pf, 1, 3000) == 1 && recv(fd, b, sizeof b, 0) > 0);
    closed = seconds_until_closed(fd, 10);
    printf("#   idle keep-alive connection closed %.2f s after its answer\n", closed);
    CHECK(closed >= 1.5 && closed < 3.5);
    close(fd);

    /* body: 300 bytes announced, 10 bytes a second: allowed 2 s + 10 bytes per 100 bytes/s */
    fd = dial_from(1, port);
    REQUIRE(fd >= 0);
    const char *head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n";
    CHECK(send(fd, head, strlen(head), MSG_NOSIGNAL) == (ssize_t)strlen(head));
    t0 = now_s();
    closed = -1;
    for (int i = 0; i < 30 && closed < 0; i++) {
        if (send(fd, "aaaaaaaaaa", 10, MSG_NOSIGNAL) != 10) break;
        if (seconds_until_closed(fd, 1.0) >= 0) closed = now_s() - t0;
    }
    printf("#   slow body cut after %.2f s\n", closed);
    CHECK(closed >= 1.8 && closed < 5.0);
    close(fd);

    raw_resp_t r;
    raw_request_port(port, S("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"), 5, &r);
    CHECK_EQ_INT(r.status, 200);
    raw_free(&r);
    char *m = metrics_render();
    CHECK(m && strstr(m, "http_connections_cut_total{reason=\"head_timeout\"}") != NULL);
    CHECK(m && strstr(m, "http_connections_cut_total{reason=\"body_timeout\"}") != NULL);
    free(m);
    http_stop(s, 0);
}

/* The per-IP limit: of 20 connections from one address, 6 stay open, the rest are closed at
 * once; another address still gets in. */
static void test_per_ip_limit(void) {
    http_server_t *s = start_guarded(64, 6, 10, 10, 0);
    REQUIRE(s != NULL);
    int port = http_port(s), fds[20], open_n = 0;
    for (int i = 0; i < 20; i++) {
        fds[i] = dial_from(20, port);
        if (fds[i] >= 0) send(fds[i], S("GET / HTTP/1.1\r\n"), MSG_NOSIGNAL);
    }
    usleep(300 * 1000);
    for (int i = 0; i < 20; i++)
        if (fds[i] >= 0 && seconds_until_closed(fds[i], 0.05) < 0) open_n++;
    printf("#   20 connections from 127.0.0.20, per-IP limit 6: %d stay open\n", open_n);
    CHECK_EQ_INT(open_n, 6);
    raw_resp_t r;
    raw_request_port(port, S("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"), 5, &r);
    CHECK_EQ_INT(r.status, 200);
    raw_free(&r);
    for (int i = 0; i < 20; i++)
        if (fds[i] >= 0) close(fds[i]);
    http_stop(s, 0);
}

/* Slowloris from 12 addresses, each holding as many trickling connections as the per-IP limit
 * allows and reconnecting whenever cut: 96 wanted, connection cap 64. */
typedef struct attack {
    int port;
    atomic_int stop;
    int connects, cut; /* successful connects, connections the server closed */
} attack_t;

#define ATTACK_HOSTS 12
#define ATTACK_PER_HOST 8

static void *attack_main(void *arg) {
    attack_t *a = arg;
    int fds[ATTACK_HOSTS * ATTACK_PER_HOST];
    double next_line[ATTACK_HOSTS * ATTACK_PER_HOST];
    int n = ATTACK_HOSTS * ATTACK_PER_HOST;
    for (int i = 0; i < n; i++)
        fds[i] = -1, next_line[i] = 0;
    while (!atomic_load(&a->stop)) {
        double now = now_s();
        for (int i = 0; i < n; i++) {
            if (fds[i] < 0) {
                fds[i] = dial_from(100 + i / ATTACK_PER_HOST, a->port);
                if (fds[i] < 0) continue;
                a->connects++;
                send(fds[i], S("GET /hello HTTP/1.1\r\nHost: x\r\n"), MSG_NOSIGNAL);
                next_line[i] = now + 0.3;
            }
            char b[64];
            ssize_t got = recv(fds[i], b, sizeof b, MSG_DONTWAIT);
            int dead = got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
            if (!dead && now >= next_line[i]) {
                dead = send(fds[i], "X-A: b\r\n", 8, MSG_NOSIGNAL) != 8;
                next_line[i] = now + 0.3;
            }
            if (dead) {
                close(fds[i]);
                fds[i] = -1;
                a->cut++;
            }
        }
        usleep(20 * 1000);
    }
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) close(fds[i]);
    return NULL;
}

static void test_slowloris_attack(void) {
    http_server_t *s = start_guarded(64, ATTACK_PER_HOST, 3, 3, 100);
    REQUIRE(s != NULL);
    CHECK_EQ_INT(http_max_connections(s), 64);
    attack_t a = {.port = http_port(s)};
    atomic_init(&a.stop, 0);
    pthread_t th;
    int prc = pthread_create(&th, NULL, attack_main, &a);
    REQUIRE(prc == 0);
    usleep(1000 * 1000); /* the attack fills the server */
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", http_port(s));
    CURL *h = curl_easy_init();
    int asked = 0, answered = 0;
    double worst = 0, t_end = now_s() + 8;
    while (now_s() < t_end) {
        char url[128];
        snprintf(url, sizeof url, "%s/hello", base);
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        buf_t body = {0};
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        double t0 = now_s();
        long status = 0;
        asked++;
        if (curl_easy_perform(h) == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            if (status == 200) answered++;
        }
        double took = now_s() - t0;
        if (took > worst) worst = took;
        free(body.p);
        usleep(100 * 1000);
    }
    curl_easy_cleanup(h);
    atomic_store(&a.stop, 1);
    pthread_join(th, NULL);
    printf("#   slowloris from %d addresses (%d connects, %d cut): %d of %d normal requests "
           "answered, slowest %.2f s\n",
           ATTACK_HOSTS, a.connects, a.cut, answered, asked, worst);
    CHECK(asked >= 20);
    CHECK(answered >= asked - 1);
    CHECK(a.cut > 0);
    http_stop(s, 0);
}

/* Our JSON error from a raw request: status, Content-Type, error.code (and field). */
static void check_json_error(const char *what, const char *data, size_t len, int status,
                             const char *code, const char *field) {
    raw_resp_t r;
    raw_request(data, len, &r);
    CHECK_EQ_INT(r.status, status);
    CHECK_STR(r.content_type, "application/json");
    REQUIRE(r.json != NULL);
    CHECK_STR(jstr(r.json, "error", "code"), code);
    CHECK(jstr(r.json, "error", "message") != NULL);
    if (field) CHECK_STR(jstr(r.json, "error", "field"), field);
    CHECK(r.head && ci_find(r.head, "\r\nX-Request-Id:") != NULL);
    if (r.status != status || !r.json) printf("#   case: %s\n", what);
    raw_free(&r);
}

static void check_raw_status(const char *what, const char *data, size_t len, int status) {
    raw_resp_t r;
    raw_request(data, len, &r);
    CHECK_EQ_INT(r.status, status);
    if (r.status != status) printf("#   case: %s\n", what);
    raw_free(&r);
}

/* The request-head checks of core/http (check_head): each answered with our JSON error. */
static void test_head_errors_json(void) {
    REQUIRE(g_srv != NULL);
    /* Host (RFC 9112 3.2): HTTP/1.1 needs exactly one; HTTP/1.0 may omit it */
    check_json_error("no Host", S("GET /hello HTTP/1.1\r\n\r\n"), 400, "invalid_header", "Host");
    check_json_error("two Host", S("GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400,
                     "invalid_header", "Host");
    check_raw_status("HTTP/1.0 without Host", S("GET /hello HTTP/1.0\r\n\r\n"), 200);
    check_raw_status("HTTP/1.1 with Host", S("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"), 200);

    /* request target: 8192 bytes pass, 8193 are 414; 40 KiB used to be MHD's HTML 414 */
    size_t len;
    char *p = build("GET /hello?q=", 'a', 8192 - strlen("/hello?q="),
                    " HTTP/1.1\r\nHost: x\r\n\r\n", &len);
    REQUIRE(p != NULL);
    check_raw_status("8192-byte target", p, len, 200);
    free(p);
    p = build("GET /hello?q=", 'a', 8193 - strlen("/hello?q="), " HTTP/1.1\r\nHost: x\r\n\r\n",
              &len);
    REQUIRE(p != NULL);
    check_json_error("8193-byte target", p, len, 414, "uri_too_long", NULL);
    free(p);
    p = build("GET /", 'a', 40000, " HTTP/1.1\r\nHost: x\r\n\r\n", &len);
    REQUIRE(p != NULL);
    check_json_error("40 KB target", p, len, 414, "uri_too_long", NULL);
    free(p);

    /* header fields: <= 100 fields and <= 16384 bytes; 40 KiB used to be MHD's HTML 431 */
    p = many_headers("/hello", 99, 0, &len); /* + Host = 100 */
    REQUIRE(p != NULL);
    check_raw_status("100 fields", p, len, 200);
    free(p);
    p = many_headers("/hello", 100, 0, &len);
    REQUIRE(p != NULL);
    check_json_error("101 fields", p, len, 431, "headers_too_large", NULL);
    free(p);
    p = many_headers("/hello", 500, 1, &len); /* 500 tiny fields: MHD's HTML 431 with 32 KiB */
    REQUIRE(p != NULL);
    check_json_error("500 tiny fields", p, len, 431, "headers_too_large", NULL);
    free(p);
    /* counted as name + value + 4 (": " and CRLF): "Host: x" is 9 bytes, "X-B: " 7 + the value */
    p = build("GET /hello HTTP/1.1\r\nHost: x\r\nX-B: ", 'v', 16384 - 9 - 7, "\r\n\r\n", &len);
    REQUIRE(p != NULL);
    check_raw_status("16384 header bytes", p, len, 200);
    free(p);
    p = build("GET /hello HTTP/1.1\r\nHost: x\r\nX-B: ", 'v', 16384 - 9 - 7 + 1, "\r\n\r\n", &len);
    REQUIRE(p != NULL);
    check_json_error("16385 header bytes", p, len, 431, "headers_too_large", NULL);
    free(p);
    p = build("GET /hello HTTP/1.1\r\nHost: x\r\nX-B: ", 'v', 40000, "\r\n\r\n", &len);
    REQUIRE(p != NULL);
    check_json_error("40 KB header", p, len, 431, "headers_too_large", NULL);
    free(p);

    /* field syntax: a name is a token; a value has no control characters but HTAB */
    check_json_error("space before colon", S("GET /hello HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n"),
                     400, "invalid_header", "X-A ");
    check_json_error("bare CR in value", S("GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"),
                     400, "invalid_header", "X-A");
    check_json_error("control char", S("GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\x01\r\n\r\n"), 400,
                     "invalid_header", "X-A");
    check_raw_status("HTAB and obs-text",
                     S("GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\tb\xc3\xa9\r\n\r\n"), 200);

    /* framing (RFC 9112 6.1, 6.3): no smuggling through ambiguous body lengths */
    check_json_error("two Content-Length",
                     S("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                       "Content-Length: 2\r\n\r\nab"),
                     400, "invalid_header", "Content-Length");
    check_json_error("Content-Length and chunked",
                     S("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
                     400, "invalid_header", "Transfer-Encoding");
    check_json_error("Transfer-Encoding gzip",
                     S("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"), 501,
                     "not_implemented", "Transfer-Encoding");
    check_json_error("Transfer-Encoding gzip, chunked",
                     S("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                       "3\r\nabc\r\n0\r\n\r\n"),
                     501, "not_implemented", "Transfer-Encoding");
    check_raw_status("chunked with a small trailer",
                     S("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"),
                     200);
    /* trailer fields have the header limits */
    p = build(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
        "X-T: ",
        't', 20000, "\r\n\r\n", &len);
    REQUIRE(p != NULL);
    check_json_error("20 KB trailer", p, len, 431, "headers_too_large", NULL);
    free(p);
}

/* What libmicrohttpd 0.9.75 still answers itself, with its own HTML body (or nothing), before
 * any callback of ours can answer: the status codes are pinned so that an upgrade that changes
 * them is noticed (then update docs/http-library.md and README "HTTP API"). */
static void test_mhd_own_errors(void) {
    REQUIRE(g_srv != NULL);
    raw_resp_t r;
    raw_request(S("GET /hello HTTP/2.0\r\nHost: x\r\n\r\n"), &r);
    CHECK_EQ_INT(r.status, 505);
    CHECK(strcmp(r.content_type, "application/json") != 0); /* MHD's HTML, no Content-Type */
    CHECK(r.json == NULL);
    raw_free(&r);
    check_raw_status("version FOO/1.1", S("GET /hello FOO/1.1\r\nHost: x\r\n\r\n"), 400);
    check_raw_status("no version (HTTP/0.9)", S("GET /hello\r\n\r\n"), 400);
    check_raw_status("header line without colon",
                     S("GET /hello HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"), 400);
    check_raw_status("Content-Length abc",
                     S("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"), 400);
    check_raw_status("Content-Length overflow",
                     S("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999"
                       "\r\n\r\n"),
                     413);
    check_raw_status("bad chunk size",
                     S("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "zz\r\nabc\r\n0\r\n\r\n"),
                     400);
    check_raw_status("huge chunk size",
                     S("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
                     413);
    check_raw_status("trailer line without colon",
                     S("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n0\r\nnocolon\r\n\r\n"),
                     400);
    /* a request head larger than the 64 KiB connection pool */
    size_t len;
    char *p = build("GET /", 'a', 70000, " HTTP/1.1\r\nHost: x\r\n\r\n", &len);
    REQUIRE(p != NULL);
    check_raw_status("70 KB request line", p, len, 414);
    free(p);
    p = build("GET /hello HTTP/1.1\r\nHost: x\r\nX-B: ", 'v', 70000, "\r\n\r\n", &len);
    REQUIRE(p != NULL);
    check_raw_status("70 KB header", p, len, 431);
    free(p);
    p = many_headers("/hello", 1200, 1, &len); /* 1200 tiny fields: 64 bytes of pool each */
    REQUIRE(p != NULL);
    check_raw_status("1200 header fields", p, len, 431);
    free(p);
    /* no request line to answer: MHD closes the connection without a response */
    raw_request(S("garbage\r\n\r\n"), &r);
    CHECK_EQ_INT(r.status, 0);
    CHECK(r.head == NULL);
    raw_free(&r);

    /* more query arguments than the pool holds (~990, 64 bytes each): MHD 0.9.75 queues a 431
     * but never sends it; the connection hangs until the connection timeout (1 s here) */
    http_config_t cfg = {.host = "127.0.0.1", .port = 0, .threads = 1, .timeout_s = 1};
    err_t e = {0};
    http_server_t *s = http_start(&cfg, handler, NULL, &e);
    REQUIRE(s != NULL);
    size_t cap = 16 + 1200 * 2 + 32;
    p = malloc(cap);
    REQUIRE(p != NULL);
    len = (size_t)snprintf(p, cap, "GET /hello?a");
    for (int i = 1; i < 1200; i++)
        p[len++] = '&', p[len++] = 'a';
    len += (size_t)snprintf(p + len, cap - len, " HTTP/1.1\r\nHost: x\r\n\r\n");
    raw_request_port(http_port(s), p, len, 10, &r);
    CHECK_EQ_INT(r.status, 0);
    CHECK(r.seconds >= 0.5 && r.seconds < 9.0); /* closed by the 1 s timeout, not by us */
    printf("#   1200 query arguments: no answer, closed after %.1f s\n", r.seconds);
    raw_free(&r);
    free(p);
    http_stop(s, 0);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_init(LOG_WARN, 1, "test_http");
    g_srv = start_server(4);
    if (g_srv) snprintf(g_base, sizeof g_base, "http://127.0.0.1:%d", http_port(g_srv));
    RUN(test_start_port);
    RUN(test_get_200);
    RUN(test_post_echo);
    RUN(test_query_and_raw_path);
    RUN(test_413);
    RUN(test_413_lingering_close);
    RUN(test_keepalive);
    RUN(test_request_id);
    RUN(test_traceparent);
    RUN(test_status0_500_and_errors);
    RUN(test_head_errors_json);
    RUN(test_mhd_own_errors);
    RUN(test_response_helpers);
    RUN(test_security_headers);
    RUN(test_access_log_and_metrics);
    RUN(test_graceful_stop);
    RUN(test_stop_no_grace);
    RUN(test_slow_head_and_body_cut);
    RUN(test_per_ip_limit);
    RUN(test_slowloris_attack);
    if (g_srv) http_stop(g_srv, 0);
    metrics_reset();
    curl_global_cleanup();
    TEST_DONE();
}
