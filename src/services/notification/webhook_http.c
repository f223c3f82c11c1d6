/* webhook_http: see webhook_http.h. */
#include "services/notification/webhook_http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

int webhook_host_allowed(const char *allow, const char *host) {
    size_t n = strlen(host);
    for (const char *p = allow; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && *p == ' ')
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        if (len == n && n && strncasecmp(p, host, n) == 0) return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static int v4_public(const unsigned char *a) {
    if (a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224)
        return 0;                                                       /* this, private,
                                                                           loopback, multicast,
                                                                           reserved, broadcast */
    if (a[0] == 100 && (a[1] & 0xC0) == 64) return 0;                   /* CGNAT 100.64/10 */
    if (a[0] == 169 && a[1] == 254) return 0;                           /* link-local, metadata */
    if (a[0] == 172 && (a[1] & 0xF0) == 16) return 0;                   /* 172.16/12 */
    if (a[0] == 192 && a[1] == 168) return 0;                           /* 192.168/16 */
    if (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2)) return 0; /* IETF, TEST-NET-1 */
    if (a[0] == 198 && (a[1] & 0xFE) == 18) return 0;                   /* benchmarking */
    if (a[0] == 198 && a[1] == 51 && a[2] == 100) return 0;             /* TEST-NET-2 */
    if (a[0] == 203 && a[1] == 0 && a[2] == 113) return 0;              /* TEST-NET-3 */
    return 1;
}

static int v6_public(const unsigned char *a) {
    static const unsigned char zero[16] = {0};
    if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1)) return 0; /* ::, ::1 */
    if (memcmp(a, zero, 10) == 0 && a[10] == 0xFF && a[11] == 0xFF)
        return v4_public(a + 12);           /* ::ffff:a.b.c.d */
    if (memcmp(a, zero, 12) == 0) return 0; /* ::a.b.c.d (deprecated) */
    if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xFF && a[3] == 0x9B)
        return v4_public(a + 12);                        /* NAT64 64:ff9b::/96 */
    if ((a[0] & 0xFE) == 0xFC) return 0;                 /* unique local fc00::/7 (fd00:ec2::254) */
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) return 0; /* link-local fe80::/10 */
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0) return 0; /* site-local fec0::/10 */
    if (a[0] == 0xFF) return 0;                          /* multicast */
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8) return 0; /* documentation */
    if (a[0] == 0x20 && a[1] == 0x02) return 0; /* 6to4: may embed a private v4 */
    return 1;
}

int webhook_addr_public(const char *addr) {
    unsigned char b[16];
    if (inet_pton(AF_INET, addr, b) == 1) return v4_public(b);
    if (inet_pton(AF_INET6, addr, b) == 1) return v6_public(b);
    return 0;
}

static int refuse(err_t *e, const char *why) {
    return err_invalid(e, "url", "url %s", why);
}

/* host and port of url into t, the scheme checked; 0 or -1 + e */
static int parse(const char *url, const char *allow, webhook_target_t *t, err_t *e) {
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
    int rc = -1;
    if (!u) return err_set(e, 500, "internal", "", "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        refuse(e, "must be an absolute http(s) URL");
        goto done;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK && user) {
        refuse(e, "must not carry user information");
        goto done;
    }
    const char *h = host;
    size_t hn = strlen(h);
    if (hn > 2 && h[0] == '[' && h[hn - 1] == ']') h++, hn -= 2; /* [v6] */
    if (hn == 0 || hn >= sizeof t->host) {
        refuse(e, "has no valid host");
        goto done;
    }
    memcpy(t->host, h, hn);
    t->host[hn] = '\0';
    t->port = atoi(port);
    t->https = strcasecmp(scheme, "https") == 0;
    if (!t->https && !(strcasecmp(scheme, "http") == 0 && webhook_host_allowed(allow, t->host))) {
        refuse(e, "must use https");
        goto done;
    }
    rc = 0;
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}

int webhook_check_url(const char *url, const char *allow, webhook_target_t *t, err_t *e) {
    memset(t, 0, sizeof *t);
    if (!url || strlen(url) > 2048) return refuse(e, "must be at most 2048 characters");
    if (parse(url, allow, t, e) != 0) return -1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(t->host, NULL, &hints, &res) != 0 || !res)
        return refuse(e, "host does not resolve");
    int allowed = webhook_host_allowed(allow, t->host), rc = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        char text[64] = "";
        const void *src = a->ai_family == AF_INET
                              ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                              : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
        if (!inet_ntop(a->ai_family, src, text, sizeof text)) continue;
        /* every address must be public: a name resolving to one private address is refused */
        if (!allowed && !webhook_addr_public(text)) {
            rc = refuse(e, "resolves to a private, loopback, link-local or reserved address");
            break;
        }
        if (!t->addr[0]) snprintf(t->addr, sizeof t->addr, "%s", text);
    }
    freeaddrinfo(res);
    if (rc == 0 && !t->addr[0]) rc = refuse(e, "host does not resolve");
    return rc;
}

void webhook_new_secret(char out[WEBHOOK_SECRET_MAX]) {
    unsigned char key[32];
    randombytes_buf(key, sizeof key);
    memcpy(out, "whsec_", 6);
    sodium_bin2base64(out + 6, WEBHOOK_SECRET_MAX - 6, key, sizeof key,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof key);
}

int webhook_sign(const char *secret, const char *id, long long ts, const char *body,
                 char out[WEBHOOK_SIG_MAX]) {
    unsigned char key[64], mac[crypto_auth_hmacsha256_BYTES];
    size_t klen = 0;
    char tss[24];
    if (strncmp(secret, "whsec_", 6) != 0 ||
        sodium_base642bin(key, sizeof key, secret + 6, strlen(secret + 6), NULL, &klen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        klen == 0)
        return -1;
    snprintf(tss, sizeof tss, "%lld", ts);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, klen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)tss, strlen(tss));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(key, sizeof key);
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, WEBHOOK_SIG_MAX - 3, mac, sizeof mac,
                      sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

typedef struct sink {
    size_t got, max;
    char *buf; /* NULL = discard */
} sink_t;

static size_t collect(char *p, size_t size, size_t n, void *ud) {
    sink_t *s = ud;
    size_t len = size * n;
    if (s->got + len > s->max) {
        s->got += len;
        return 0; /* 0 aborts the transfer */
    }
    if (s->buf) memcpy(s->buf + s->got, p, len);
    s->got += len;
    return len;
}

int webhook_http_post(const webhook_request_t *rq, long *http_status, char **response, err_t *e) {
    const webhook_target_t *t = rq->target;
    char pin[400];
    *http_status = 0;
    if (response) *response = NULL;
    sink_t sink = {0, rq->max_bytes, response ? calloc(1, rq->max_bytes + 1) : NULL};
    CURL *c = curl_easy_init();
    if (!c || (response && !sink.buf)) {
        if (c) curl_easy_cleanup(c);
        free(sink.buf);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    /* connect to the checked address only: no second DNS answer (rebinding) */
    snprintf(pin, sizeof pin, strchr(t->addr, ':') ? "%s:%d:[%s]" : "%s:%d:%s", t->host, t->port,
             t->addr);
    struct curl_slist *hdr = NULL;
    for (const char *const *h = rq->headers; h && *h; h++)
        hdr = curl_slist_append(hdr, *h);
    struct curl_slist *resolve = curl_slist_append(NULL, pin);
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
    if (rq->userpwd) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, rq->userpwd);
    }
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)rq->timeout_s);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)rq->timeout_s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_USERAGENT, rq->user_agent);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http_status);
    curl_slist_free_all(hdr);
    curl_slist_free_all(resolve);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        free(sink.buf);
        if (rc == CURLE_WRITE_ERROR && sink.got > sink.max)
            return err_set(e, 502, "bad_gateway", "", "response larger than %zu bytes",
                           rq->max_bytes);
        return err_set(e, 503, "unavailable", "", "%s: %s", rq->what, curl_easy_strerror(rc));
    }
    if (response) *response = sink.buf;
    return 0;
}

int webhook_post(const char *url, const webhook_target_t *t, const char *id, long long ts,
                 const char *signature, const char *body, int timeout_s, size_t max_bytes,
                 long *http_status, err_t *e) {
    char h_id[128], h_ts[64], h_sig[256];
    snprintf(h_id, sizeof h_id, "webhook-id: %s", id);
    snprintf(h_ts, sizeof h_ts, "webhook-timestamp: %lld", ts);
    snprintf(h_sig, sizeof h_sig, "webhook-signature: %s", signature);
    const char *const headers[] = {"Content-Type: application/json", h_id, h_ts, h_sig, NULL};
    const webhook_request_t rq = {.url = url,
                                  .target = t,
                                  .headers = headers,
                                  .body = body,
                                  .timeout_s = timeout_s,
                                  .max_bytes = max_bytes,
                                  .user_agent = "reciprocal-webhooks/1",
                                  .what = "webhook"};
    return webhook_http_post(&rq, http_status, NULL, e);
}
