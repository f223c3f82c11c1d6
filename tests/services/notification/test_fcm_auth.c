/* test_fcm_auth: the FCM access token minted from a service account (fcm_auth.c,
 * RECIPROCAL_PUSH_SERVICE_ACCOUNT_FILE) against a real HTTP token endpoint this test runs
 * (libmicrohttpd on a free loopback port, allow-listed like a development provider): the
 * endpoint checks the form (grant_type jwt-bearer), the assertion's RS256 signature with the
 * account's public key, its header (alg, typ, kid) and claims (iss, scope, aud, exp - iat =
 * 3600), then answers a new token. A token is reused until 60 s before it expires; a short-lived
 * one is minted again on every use; an endpoint failure or a broken key file is an error, never
 * a push without authorisation. */
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "services/notification/fcm_auth.h"
#include "test.h"

static EVP_PKEY *g_key;
static int g_requests, g_bad, g_status = 200, g_ttl = 3600;
static char g_file[400], g_uri[128];
static notification_settings_t g_s;

typedef struct upload {
    char buf[16384];
    size_t n;
} upload_t;

/* The assertion's header, claims and signature as the token endpoint must check them. */
static int assertion_ok(const char *jwt) {
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2) return 0;
    char seg[4096];
    size_t n1 = (size_t)(d1 - jwt), n2 = (size_t)(d2 - d1 - 1), hl = 0, cl = 0, sl = 0;
    if (n1 >= sizeof seg || n2 >= sizeof seg) return 0;
    memcpy(seg, jwt, n1), seg[n1] = '\0';
    unsigned char *h = jsonx_b64url_decode(seg, &hl);
    memcpy(seg, d1 + 1, n2), seg[n2] = '\0';
    unsigned char *c = jsonx_b64url_decode(seg, &cl);
    unsigned char *sig = jsonx_b64url_decode(d2 + 1, &sl);
    json_t *hj = h ? json_loadb((const char *)h, hl, 0, NULL) : NULL;
    json_t *cj = c ? json_loadb((const char *)c, cl, 0, NULL) : NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = hj && cj && sig && md &&
             EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, g_key) == 1 &&
             EVP_DigestVerify(md, sig, sl, (const unsigned char *)jwt, (size_t)(d2 - jwt)) == 1;
    ok = ok && strcmp(json_string_value(json_object_get(hj, "alg")), "RS256") == 0 &&
         strcmp(json_string_value(json_object_get(hj, "kid")), "key-1") == 0 &&
         strcmp(json_string_value(json_object_get(cj, "iss")), "push@example.iam") == 0 &&
         strcmp(json_string_value(json_object_get(cj, "aud")), g_uri) == 0 &&
         strcmp(json_string_value(json_object_get(cj, "scope")),
                "https://www.googleapis.com/auth/firebase.messaging") == 0 &&
         json_integer_value(json_object_get(cj, "exp")) -
                 json_integer_value(json_object_get(cj, "iat")) ==
             3600;
    EVP_MD_CTX_free(md);
    json_decref(hj), json_decref(cj);
    free(h), free(c), free(sig);
    return ok;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **state) {
    (void)cls, (void)version;
    upload_t *u = *state;
    if (!u) {
        *state = calloc(1, sizeof(upload_t));
        return *state ? MHD_YES : MHD_NO;
    }
    if (*size) {
        size_t k = *size < sizeof u->buf - 1 - u->n ? *size : sizeof u->buf - 1 - u->n;
        memcpy(u->buf + u->n, data, k);
        u->n += k;
        *size = 0;
        return MHD_YES;
    }
    g_requests++;
    const char *prefix = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                         "&assertion=";
    int good = strcmp(method, "POST") == 0 && strcmp(url, "/token") == 0 &&
               strncmp(u->buf, prefix, strlen(prefix)) == 0 &&
               assertion_ok(u->buf + strlen(prefix));
    if (!good) g_bad++;
    char body[256];
    snprintf(body, sizeof body,
             "{\"access_token\":\"tok-%d\",\"expires_in\":%d,\"token_type\":"
             "\"Bearer\"}",
             g_requests, g_ttl);
    int status = good ? g_status : 400;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode t) {
    (void)cls, (void)c, (void)t;
    free(*state);
    *state = NULL;
}

static struct MHD_Daemon *g_d;

static void test_setup(void) {
    const char *tmp = TEST_ENV("RECIPROCAL_TEST_TMP");
    REQUIRE(tmp);
    mkdir(tmp, 0700);
    g_d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, NULL,
                           MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    REQUIRE(g_d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(g_d, MHD_DAEMON_INFO_BIND_PORT);
    REQUIRE(info && info->port);
    snprintf(g_uri, sizeof g_uri, "http://127.0.0.1:%u/token", (unsigned)info->port);
    g_key = EVP_RSA_gen(2048);
    REQUIRE(g_key);
    BIO *b = BIO_new(BIO_s_mem());
    REQUIRE(b && PEM_write_bio_PrivateKey(b, g_key, NULL, NULL, 0, NULL, NULL) == 1);
    char *pem = NULL;
    long n = BIO_get_mem_data(b, &pem);
    json_t *acct = json_pack("{s:s, s:s, s:s, s:s%, s:s}", "type", "service_account",
                             "client_email", "push@example.iam", "private_key_id", "key-1",
                             "private_key", pem, (size_t)n, "token_uri", g_uri);
    BIO_free(b);
    snprintf(g_file, sizeof g_file, "%s/fcm-account-%d.json", tmp, (int)getpid());
    REQUIRE(acct && json_dump_file(acct, g_file, 0) == 0);
    json_decref(acct);
    snprintf(g_s.push_service_account_file, sizeof g_s.push_service_account_file, "%s", g_file);
    snprintf(g_s.webhook_allow_hosts, sizeof g_s.webhook_allow_hosts, "127.0.0.1");
    g_s.provider_timeout_s = 5;
}

/* Minted once from a verified assertion, then reused. */
static void test_minted_and_cached(void) {
    char a[NOTIFY_FCM_TOKEN_MAX], b[NOTIFY_FCM_TOKEN_MAX];
    err_t e = {0};
    notify_fcm_forget();
    int before = g_requests;
    g_ttl = 3600;
    CHECK_EQ_INT(notify_fcm_bearer(&g_s, a, &e), 0);
    CHECK_EQ_INT(notify_fcm_bearer(&g_s, b, &e), 0);
    CHECK_EQ_INT(g_requests - before, 1);
    CHECK_EQ_INT(g_bad, 0);
    CHECK(strncmp(a, "Bearer tok-", 11) == 0);
    CHECK_STR(a, b);
}

/* A token valid for less than the 60 s margin is minted again for every use. */
static void test_expiry_refreshes(void) {
    char a[NOTIFY_FCM_TOKEN_MAX], b[NOTIFY_FCM_TOKEN_MAX];
    err_t e = {0};
    notify_fcm_forget();
    g_ttl = 30;
    int before = g_requests;
    CHECK_EQ_INT(notify_fcm_bearer(&g_s, a, &e), 0);
    CHECK_EQ_INT(notify_fcm_bearer(&g_s, b, &e), 0);
    CHECK_EQ_INT(g_requests - before, 2);
    CHECK(strcmp(a, b) != 0);
    CHECK_EQ_INT(g_bad, 0);
    g_ttl = 3600;
}

/* The endpoint failing is 503 (the push is retried); an unreadable key file 500 invalid_config. */
static void test_failures(void) {
    char a[NOTIFY_FCM_TOKEN_MAX];
    err_t e = {0};
    notify_fcm_forget();
    g_status = 500;
    CHECK_EQ_INT(notify_fcm_bearer(&g_s, a, &e), -1);
    CHECK_EQ_INT(e.status, 503);
    g_status = 200;
    notification_settings_t broken = g_s;
    snprintf(broken.push_service_account_file, sizeof broken.push_service_account_file,
             "%s.missing", g_file);
    err_t e2 = {0};
    CHECK_EQ_INT(notify_fcm_bearer(&broken, a, &e2), -1);
    CHECK_EQ_INT(e2.status, 500);
    CHECK_STR(e2.field, "RECIPROCAL_PUSH_SERVICE_ACCOUNT_FILE");
}

int main(void) {
    RUN(test_setup);
    if (g_d && g_key) {
        RUN(test_minted_and_cached);
        RUN(test_expiry_refreshes);
        RUN(test_failures);
    }
    notify_fcm_forget();
    if (g_d) MHD_stop_daemon(g_d);
    EVP_PKEY_free(g_key);
    if (g_file[0]) unlink(g_file);
    TEST_DONE();
}
