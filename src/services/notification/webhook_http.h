/* webhook_http: the outbound side of a webhook, without the database: the target check (SSRF:
 * https only, the host resolved and every address refused when it is loopback, private,
 * link-local (cloud metadata 169.254.169.254, fd00:ec2::254), CGNAT, multicast, unspecified or
 * reserved, unless the host is in the development allow list), the Standard Webhooks signature
 * (v1: HMAC-SHA256 over "<id>.<timestamp>.<body>" with the base64 key after "whsec_"), and the
 * POST itself with libcurl pinned to the checked address (no second resolution: no DNS
 * rebinding), no redirects, a total timeout and a cap on the response read. Owns nothing. */
#ifndef SERVICES_NOTIFICATION_WEBHOOK_HTTP_H
#define SERVICES_NOTIFICATION_WEBHOOK_HTTP_H

#include <stddef.h>

#include "core/err.h"

#define WEBHOOK_SECRET_MAX 96
#define WEBHOOK_SIG_MAX 64 /* "v1," + base64 of 32 bytes */

/* A checked target: the URL's host and port and the one address the POST connects to. */
typedef struct webhook_target {
    char host[256];
    int port;
    char addr[64]; /* numeric, the first allowed address */
    int https;
} webhook_target_t;

/* 1 when host is in allow (comma-separated host names or addresses, case-insensitive). */
int webhook_host_allowed(const char *allow, const char *host);
/* 1 when the numeric address (IPv4 or IPv6 text) may be a webhook target. */
int webhook_addr_public(const char *addr);
/* Parses and checks url (https, no user info; http and private addresses only for a host in
 * allow) and resolves its host: every resolved address must be public. 0, or -1 + 422
 * invalid_field "url" naming the reason. */
int webhook_check_url(const char *url, const char *allow, webhook_target_t *t, err_t *e);

/* A new secret "whsec_" + base64(32 random bytes). */
void webhook_new_secret(char out[WEBHOOK_SECRET_MAX]);
/* "v1,<base64 HMAC-SHA256(key, id.ts.body)>" for secret ("whsec_..."). 0 or -1 (bad secret). */
int webhook_sign(const char *secret, const char *id, long long ts, const char *body,
                 char out[WEBHOOK_SIG_MAX]);

/* One POST to a checked target, shared by the webhooks and the SMS and push providers
 * (provider.c): connected to t->addr only (no second resolution), http/https only, no
 * redirects, connect and total timeout, at most max_bytes of response. headers: NULL-terminated
 * "Name: value" lines; userpwd: HTTP basic credentials "user:password" or NULL; what: the
 * sender named in errors ("webhook", "sms provider"). */
typedef struct webhook_request {
    const char *url;
    const webhook_target_t *target;
    const char *const *headers;
    const char *userpwd;
    const char *body;
    int timeout_s;
    size_t max_bytes;
    const char *user_agent;
    const char *what;
} webhook_request_t;

/* *http_status gets the response status (0 when there was none); *response (NULL = discarded)
 * the response body, malloc'd and NUL-terminated (the caller frees it; NULL on failure). 0 when
 * a response arrived (any status), -1 + e on a connection, TLS or timeout error (503) or when
 * more than max_bytes came back (502). */
int webhook_http_post(const webhook_request_t *rq, long *http_status, char **response, err_t *e);

/* POSTs body (JSON) to url pinned to t->addr with the three Standard Webhooks headers;
 * signature is the header value (one or two space-separated signatures). *http_status gets the
 * response status (0 when there was none). 0 when a response arrived (any status), -1 + e on a
 * connection, TLS or timeout error (503) or when more than max_bytes came back (502). */
int webhook_post(const char *url, const webhook_target_t *t, const char *id, long long ts,
                 const char *signature, const char *body, int timeout_s, size_t max_bytes,
                 long *http_status, err_t *e);

#endif
