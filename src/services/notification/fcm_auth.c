/* fcm_auth: see fcm_auth.h. */
#include "services/notification/fcm_auth.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "services/notification/webhook_http.h"

#define FCM_SCOPE "https://www.googleapis.com/auth/firebase.messaging"
#define FCM_MARGIN_S 60

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_token[NOTIFY_FCM_TOKEN_MAX]; /* "Bearer ..." */
static long long g_expires_at;             /* unix seconds */

void notify_fcm_forget(void) {
    pthread_mutex_lock(&g_mu);
    sodium_memzero(g_token, sizeof g_token);
    g_expires_at = 0;
    pthread_mutex_unlock(&g_mu);
}

/* base64url(a) "." base64url(b) of two JSON objects, malloc'd. */
static char *signing_input(json_t *a, json_t *b) {
    char *ja = json_dumps(a, JSON_COMPACT), *jb = json_dumps(b, JSON_COMPACT);
    char *ea = ja ? jsonx_b64url_encode((const unsigned char *)ja, strlen(ja)) : NULL;
    char *eb = jb ? jsonx_b64url_encode((const unsigned char *)jb, strlen(jb)) : NULL;
    char *out = NULL;
    if (ea && eb && (out = malloc(strlen(ea) + strlen(eb) + 2))) sprintf(out, "%s.%s", ea, eb);
    free(ja), free(jb), free(ea), free(eb);
    return out;
}

/* The signed assertion of the account (RS256), malloc'd; NULL + e. */
static char *assertion(json_t *acct, err_t *e) {
    const char *email = json_string_value(json_object_get(acct, "client_email"));
    const char *pem = json_string_value(json_object_get(acct, "private_key"));
    const char *kid = json_string_value(json_object_get(acct, "private_key_id"));
    const char *aud = json_string_value(json_object_get(acct, "token_uri"));
    if (!email || !pem || !aud) {
        err_set(e, 500, "invalid_config", "RECIPROCAL_PUSH_SERVICE_ACCOUNT_FILE",
                "the service account file lacks client_email, private_key or token_uri");
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!key || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
        EVP_PKEY_free(key);
        err_set(e, 500, "invalid_config", "RECIPROCAL_PUSH_SERVICE_ACCOUNT_FILE",
                "the service account's private_key is not an RSA private key");
        return NULL;
    }
    long long now = (long long)time(NULL);
    json_t *hdr = json_pack("{s:s, s:s, s:s?}", "alg", "RS256", "typ", "JWT", "kid", kid);
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", email, "scope", FCM_SCOPE, "aud",
                               aud, "iat", (json_int_t)now, "exp", (json_int_t)(now + 3600));
    char *in = hdr && claims ? signing_input(hdr, claims) : NULL, *out = NULL;
    json_decref(hdr);
    json_decref(claims);
    unsigned char sig[1024];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (in && md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)in, strlen(in)) == 1) {
        char *s64 = jsonx_b64url_encode(sig, sig_len);
        if (s64 && (out = malloc(strlen(in) + strlen(s64) + 2))) sprintf(out, "%s.%s", in, s64);
        free(s64);
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    free(in);
    if (!out) err_set(e, 500, "internal", "", "cannot sign the FCM assertion");
    return out;
}

/* The token endpoint's answer for the assertion into g_token / g_expires_at (under g_mu). */
static int exchange(const notification_settings_t *s, const char *token_uri, const char *jwt,
                    err_t *e) {
    webhook_target_t t;
    if (webhook_check_url(token_uri, s->webhook_allow_hosts, &t, e) != 0) return -1;
    size_t cap = strlen(jwt) + 128;
    char *body = malloc(cap), *response = NULL;
    if (!body) return err_set(e, 500, "internal", "", "out of memory");
    snprintf(body, cap,
             "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer"
             "&assertion=%s",
             jwt);
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    const webhook_request_t rq = {.url = token_uri,
                                  .target = &t,
                                  .headers = headers,
                                  .body = body,
                                  .timeout_s = s->provider_timeout_s,
                                  .max_bytes = 65536,
                                  .user_agent = "reciprocal-notifications/1",
                                  .what = "FCM token endpoint"};
    long code = 0;
    int rc = webhook_http_post(&rq, &code, &response, e);
    free(body);
    json_t *j = rc == 0 && response ? json_loads(response, 0, NULL) : NULL;
    if (response) sodium_memzero(response, strlen(response));
    free(response);
    if (rc != 0) return -1;
    const char *tok = json_string_value(json_object_get(j, "access_token"));
    json_int_t ttl = json_integer_value(json_object_get(j, "expires_in"));
    if (code != 200 || !tok || !*tok || strlen(tok) + 8 >= sizeof g_token) {
        json_decref(j);
        return err_set(e, 503, "unavailable", "", "FCM token endpoint answered %ld without a token",
                       code);
    }
    snprintf(g_token, sizeof g_token, "Bearer %s", tok);
    g_expires_at = (long long)time(NULL) + (ttl > 0 ? ttl : 0);
    json_decref(j);
    return 0;
}

int notify_fcm_bearer(const notification_settings_t *s, char out[NOTIFY_FCM_TOKEN_MAX], err_t *e) {
    int rc = -1;
    pthread_mutex_lock(&g_mu);
    if (g_token[0] && (long long)time(NULL) < g_expires_at - FCM_MARGIN_S) {
        snprintf(out, NOTIFY_FCM_TOKEN_MAX, "%s", g_token);
        pthread_mutex_unlock(&g_mu);
        return 0;
    }
    json_error_t je;
    json_t *acct = json_load_file(s->push_service_account_file, 0, &je);
    char *jwt = NULL;
    const char *uri = json_string_value(json_object_get(acct, "token_uri"));
    if (!acct) {
        err_set(e, 500, "invalid_config", "RECIPROCAL_PUSH_SERVICE_ACCOUNT_FILE",
                "the service account file cannot be read as JSON");
    } else if ((jwt = assertion(acct, e)) && exchange(s, uri, jwt, e) == 0) {
        snprintf(out, NOTIFY_FCM_TOKEN_MAX, "%s", g_token);
        rc = 0;
    }
    if (jwt) sodium_memzero(jwt, strlen(jwt));
    free(jwt);
    if (acct) { /* the private key in memory */
        json_t *k = json_object_get(acct, "private_key");
        if (json_string_value(k))
            sodium_memzero((char *)json_string_value(k), strlen(json_string_value(k)));
    }
    json_decref(acct);
    pthread_mutex_unlock(&g_mu);
    return rc;
}
