/* authn: see authn.h. */
#include "gateway/authn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/json.h"
#include "core/log.h"
#include "gateway/authn_cache.h"
#include "lib/credentials/jwt.h"
#include "lib/credentials/revocation.h"
#include "lib/credentials/throttle.h"

#define KEYS_MAX_AGE_S 300
#define KEYS_MIN_REFETCH_S 10
#define LEEWAY_S 30
#define VERIFIED_CACHE_ENTRIES 4096 /* ~2.8 MB; tokens of 4096 sessions at a time */
#define REVOKED_ENTRIES 65536       /* ~4 MB: 65536 revocations within an access-token lifetime */
#define REVOKED_RESYNC_S 60         /* re-read the recent revocations at least this often */

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static jwt_keyset_t *g_keys;
static uint64_t g_keys_gen; /* bumped whenever g_keys changes: the verified cache's generation */
static time_t g_fetched_at;
static authn_cache_t *g_verified; /* verified tokens (authn_cache.h) */
static pthread_once_t g_verified_once = PTHREAD_ONCE_INIT;
#define AUTHN_KEYS_ROTATED_SUBJECT "events.auth.signing_keys_rotated"

static pthread_mutex_t g_fetch_mu = PTHREAD_MUTEX_INITIALIZER;
static time_t g_last_attempt;
/* set by auth.signing_keys_rotated: the next unknown kid refetches at once, whatever the 10 s
 * limit (a token of the new key would otherwise be refused until the limit passed) */
static _Atomic int g_keys_rotated;

/* The contract access tokens are issued under (auth's `token_contract` operation), fetched with
 * the keys and replaced with them (g_lock): the gateway reads no auth setting of its own. */
typedef struct authn_contract {
    char issuer[128];
    char audience[128];
    int access_ttl_s;
} authn_contract_t;
static authn_contract_t g_contract; /* g_lock; valid while g_keys != NULL */

/* Revocations (authn_cache.h): pushed on auth.revoked, read through the auth service's
 * `revocations` operation when this process starts verifying, after each NATS reconnect (a
 * message may have been missed) and every REVOKED_RESYNC_S. */
static authn_revset_t *g_revoked;
static pthread_mutex_t g_rev_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_rev_subscribed;            /* g_rev_mu */
static time_t g_rev_last_attempt;       /* g_rev_mu */
static unsigned long g_rev_attempt_gen; /* g_rev_mu: bus_reconnects() at the last attempt */
static _Atomic int g_rev_synced;        /* a full read succeeded once */
static _Atomic long long g_rev_synced_at;
static _Atomic unsigned long g_rev_bus_gen; /* bus_reconnects() at the last read */
static _Atomic int g_rev_ttl = 3600;        /* the access-token lifetime the entries must outlive */

/* One operation of the auth service as an anonymous caller (its public key set, the recent
 * revocations). 0 with *out (caller frees), or -1 + err (503 when auth is not linked in). */
static int auth_call_anon(const svc_env_t *env, const char *op_name, json_t **out, err_t *e) {
    const svc_module_t *m = svc_find_module("auth");
    const svc_op_t *op = m ? svc_find_op(m, op_name) : NULL;
    *out = NULL;
    if (!op) return err_set(e, 503, "unavailable", "", "the auth service is not linked in");
    svc_caller_t anon;
    memset(&anon, 0, sizeof anon);
    snprintf(anon.request_id, sizeof anon.request_id, "%s", log_request_id());
    json_t *in = json_object();
    int status = 0;
    int rc = svc_invoke(env, m, op, &anon, in, &status, out, e);
    json_decref(in);
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* Asks the auth service for the token contract (issuer, audience, lifetime) into *c. */
static int fetch_contract(const svc_env_t *env, authn_contract_t *c, err_t *e) {
    json_t *out = NULL;
    if (auth_call_anon(env, "token_contract", &out, e) != 0) {
        if (e->status < 500) err_set(e, 503, "unavailable", "", "cannot obtain the token contract");
        return -1;
    }
    const char *iss = json_string_value(json_object_get(out, "issuer"));
    const char *aud = json_string_value(json_object_get(out, "audience"));
    json_t *ttl = json_object_get(out, "access_ttl_s");
    int rc = 0;
    if (!iss || !aud || !json_is_integer(ttl) || json_integer_value(ttl) <= 0 ||
        json_integer_value(ttl) > 86400 * 366)
        rc = err_set(e, 503, "unavailable", "", "the auth service sent an unusable token contract");
    else {
        snprintf(c->issuer, sizeof c->issuer, "%s", iss);
        snprintf(c->audience, sizeof c->audience, "%s", aud);
        c->access_ttl_s = (int)json_integer_value(ttl);
    }
    json_decref(out);
    return rc;
}

/* Asks the auth service for its JWKS and builds a key set. */
static jwt_keyset_t *fetch_keyset(const svc_env_t *env, err_t *e) {
    json_t *out = NULL;
    if (auth_call_anon(env, "jwks", &out, e) != 0) {
        if (e->status < 500) err_set(e, 503, "unavailable", "", "cannot obtain the token keys");
        return NULL;
    }
    jwt_keyset_t *ks = jwt_keyset_new();
    json_t *keys = json_object_get(out, "keys");
    size_t i;
    json_t *jwk;
    json_array_foreach(keys, i, jwk) {
        jwt_key_t *k = NULL;
        err_t ke = {0};
        if (jwt_key_from_jwk(jwk, &k, &ke) == 0) jwt_keyset_add(ks, k, &ke);
        jwt_key_free(k);
    }
    json_decref(out);
    if (!ks || jwt_keyset_count(ks) == 0) {
        jwt_keyset_free(ks);
        err_set(e, 503, "unavailable", "", "the auth service published no usable key");
        return NULL;
    }
    return ks;
}

/* Refetches unless another thread did so within min_age seconds. 0 when a key set is there. */
static int refresh_keys(const svc_env_t *env, int min_age, err_t *e) {
    pthread_mutex_lock(&g_fetch_mu);
    time_t now = time(NULL);
    int have;
    pthread_rwlock_rdlock(&g_lock);
    have = g_keys != NULL;
    pthread_rwlock_unlock(&g_lock);
    if (have && now - g_last_attempt < min_age && !atomic_exchange(&g_keys_rotated, 0)) {
        pthread_mutex_unlock(&g_fetch_mu);
        return 0;
    }
    g_last_attempt = now;
    authn_contract_t c;
    jwt_keyset_t *ks = fetch_contract(env, &c, e) == 0 ? fetch_keyset(env, e) : NULL;
    if (ks) {
        pthread_rwlock_wrlock(&g_lock);
        jwt_keyset_free(g_keys);
        g_keys = ks;
        g_contract = c;
        g_keys_gen++;
        g_fetched_at = now;
        pthread_rwlock_unlock(&g_lock);
        atomic_store(&g_rev_ttl, c.access_ttl_s);
    } else if (have) {
        log_warn("authn: keeping the cached token keys: %s", e->message);
    }
    pthread_mutex_unlock(&g_fetch_mu);
    return ks || have ? 0 : -1;
}

static void verified_init(void) {
    g_verified = authn_cache_new(VERIFIED_CACHE_ENTRIES); /* NULL: no caching, still correct */
    g_revoked = authn_revset_new(REVOKED_ENTRIES);
}

/* Adds {"items":[{"kind","id","at"}...], "complete_since"?} to the revoked set. */
static void apply_revocations(json_t *msg) {
    int64_t keep = (int64_t)atomic_load(&g_rev_ttl) + AUTH_REVOKED_SLACK_S;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(msg, "items"), i, it) {
        const char *kind = json_string_value(json_object_get(it, "kind"));
        const char *id = json_string_value(json_object_get(it, "id"));
        json_t *at = json_object_get(it, "at");
        if (!kind || !id || !jsonx_is_uuid(id) || !json_is_integer(at)) continue;
        int k = strcmp(kind, "session") == 0 ? AUTHN_REVOKED_SESSION
                : strcmp(kind, "club") == 0  ? AUTHN_REVOKED_CLUB
                                             : 0;
        int64_t a = (int64_t)json_integer_value(at);
        if (k && a > 0 && a < INT64_MAX - keep) authn_revset_add(g_revoked, k, id, a, a + keep);
    }
    json_t *since = json_object_get(msg, "complete_since");
    if (json_is_integer(since) && json_integer_value(since) < INT64_MAX - keep)
        authn_revset_floor(g_revoked, (int64_t)json_integer_value(since),
                           (int64_t)json_integer_value(since) + keep);
}

/* auth.revoked: the auth service's broadcast. */
static char *on_revoked(const char *subject, const char *data, size_t len, size_t *reply_len,
                        void *ud) {
    (void)subject, (void)ud, (void)reply_len;
    json_t *msg = json_loadb(data, len, 0, NULL);
    if (msg)
        apply_revocations(msg);
    else
        log_warn("authn: unreadable message on %s", AUTH_REVOKED_SUBJECT);
    json_decref(msg);
    return NULL;
}

/* events.auth.signing_keys_rotated: a rotation was committed (auth_keys.h). */
static char *on_keys_rotated(const char *subject, const char *data, size_t len, size_t *reply_len,
                             void *ud) {
    (void)subject, (void)data, (void)len, (void)reply_len, (void)ud;
    atomic_store(&g_keys_rotated, 1);
    return NULL;
}

/* Reads the recent revocations from the auth service (subscribing first, so nothing published
 * meanwhile is lost). g_rev_mu held. */
static int read_revocations(const svc_env_t *env, err_t *e) {
    if (!svc_find_module("auth"))
        return err_set(e, 503, "unavailable", "", "the auth service is not linked in");
    if (!g_rev_subscribed && env->bus) {
        if (bus_subscribe(env->bus, AUTH_REVOKED_SUBJECT, on_revoked, NULL, e) != 0 ||
            bus_subscribe(env->bus, AUTHN_KEYS_ROTATED_SUBJECT, on_keys_rotated, NULL, e) != 0)
            return -1;
        g_rev_subscribed = 1;
    }
    unsigned long gen = bus_reconnects(env->bus); /* a reconnect from now on means a new read */
    json_t *out = NULL;
    int rc = auth_call_anon(env, "revocations", &out, e);
    if (rc == 0) {
        apply_revocations(out);
        atomic_store(&g_rev_bus_gen, gen);
        atomic_store(&g_rev_synced_at, (long long)time(NULL));
        atomic_store(&g_rev_synced, 1);
    }
    json_decref(out);
    return rc;
}

/* Makes sure the revoked set is current: read once before the first token is accepted (503
 * while that is impossible, as for the keys), again after a NATS reconnect and every
 * REVOKED_RESYNC_S (a failure then keeps the set, which still has every pushed revocation). */
static int revocations_current(const svc_env_t *env, err_t *e) {
    time_t now = time(NULL);
    int synced = atomic_load(&g_rev_synced);
    if (synced && atomic_load(&g_rev_bus_gen) == bus_reconnects(env->bus) &&
        now - (time_t)atomic_load(&g_rev_synced_at) < REVOKED_RESYNC_S)
        return 0;
    pthread_mutex_lock(&g_rev_mu);
    int rc = 0;
    synced = atomic_load(&g_rev_synced);
    unsigned long gen = bus_reconnects(env->bus);
    int reconnected = atomic_load(&g_rev_bus_gen) != gen && g_rev_attempt_gen != gen;
    /* at most one read per KEYS_MIN_REFETCH_S unless nothing was read yet or NATS reconnected
     * since the last attempt (a failing auth service is not asked on every request) */
    if (!synced || reconnected || now - g_rev_last_attempt >= KEYS_MIN_REFETCH_S) {
        g_rev_last_attempt = now;
        g_rev_attempt_gen = gen;
        err_t re = {0};
        if (read_revocations(env, &re) != 0) {
            if (!synced) {
                rc = err_set(e, 503, "unavailable", "", "cannot obtain the revoked sessions");
                log_warn("authn: cannot read the revoked sessions: %s", re.message);
            } else {
                log_warn("authn: keeping the known revocations: %s", re.message);
            }
        }
    }
    pthread_mutex_unlock(&g_rev_mu);
    return rc;
}

/* 401 token_revoked when the token's session ended or its club was suspended after issue. */
static int check_revoked(const authn_ident_t *id, int64_t now, err_t *e) {
    if (authn_revset_revoked(g_revoked, id->session_id, id->club_id, id->issued_at, now))
        return err_set(e, 401, "token_revoked", "",
                       "the session of this access token has ended; sign in again");
    return 0;
}

static int claims_to_ident(json_t *claims, authn_ident_t *c, err_t *e) {
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    json_t *club = json_object_get(claims, "club_id");
    const char *perms = json_string_value(json_object_get(claims, "perms"));
    json_t *roles = json_object_get(claims, "roles");
    const char *sid = json_string_value(json_object_get(claims, "sid"));
    memset(c, 0, sizeof *c);
    if (!sub || !jsonx_is_uuid(sub) || !perms || strlen(perms) >= sizeof c->perms ||
        !json_is_array(roles) || !(json_is_null(club) || json_is_string(club)) ||
        (json_is_string(club) && !jsonx_is_uuid(json_string_value(club))))
        return err_set(e, 401, "token_malformed", "", "the access token is malformed");
    snprintf(c->user_id, sizeof c->user_id, "%s", sub);
    snprintf(c->club_id, sizeof c->club_id, "%s",
             json_is_string(club) ? json_string_value(club) : "");
    snprintf(c->perms, sizeof c->perms, "%s", perms);
    /* the session the token was issued for (tokens of this service always carry one) */
    if (sid && jsonx_is_uuid(sid)) snprintf(c->session_id, sizeof c->session_id, "%s", sid);
    c->issued_at = (int64_t)json_integer_value(json_object_get(claims, "iat")); /* checked */
    size_t i;
    json_t *r;
    json_array_foreach(roles, i, r) {
        const char *s = json_string_value(r);
        if (s && strcmp(s, "network_admin") == 0) c->network_admin = 1;
    }
    if (!c->network_admin && !c->club_id[0])
        return err_set(e, 401, "token_malformed", "", "the access token names no club");
    return 0;
}

/* The window in which jwt_verify accepts a token whose signature and claims it has checked:
 * not before nbf/iat - leeway, until exp + leeway (exclusive). */
static void claims_window(json_t *claims, int64_t *from, int64_t *until) {
    json_t *nbf = json_object_get(claims, "nbf"), *iat = json_object_get(claims, "iat");
    int64_t exp = (int64_t)json_integer_value(json_object_get(claims, "exp"));
    int64_t f = INT64_MIN;
    if (json_is_integer(nbf)) f = (int64_t)json_integer_value(nbf);
    if (json_is_integer(iat) && (int64_t)json_integer_value(iat) > f)
        f = (int64_t)json_integer_value(iat);
    *from = f >= INT64_MIN + LEEWAY_S ? f - LEEWAY_S : INT64_MIN;
    *until = exp <= INT64_MAX - LEEWAY_S ? exp + LEEWAY_S : INT64_MAX;
}

/* Verifies the token (or finds it verified in the cache) and says whom it names. */
static int verify(const svc_env_t *env, const char *tok, authn_ident_t *id, err_t *e) {
    int64_t now = (int64_t)time(NULL);
    pthread_rwlock_rdlock(&g_lock);
    int none = !g_keys, stale = none || time(NULL) - g_fetched_at >= KEYS_MAX_AGE_S;
    pthread_rwlock_unlock(&g_lock);
    if (stale && refresh_keys(env, none ? 0 : KEYS_MIN_REFETCH_S, e) != 0) return -1;
    authn_contract_t contract, *cf = &contract; /* the token contract auth issues under */
    pthread_rwlock_rdlock(&g_lock);
    contract = g_contract;
    pthread_rwlock_unlock(&g_lock);
    jwt_verify_opts_t o = {.issuer = cf->issuer,
                           .audience = cf->audience,
                           .now = now,
                           .leeway = LEEWAY_S,
                           .max_lifetime = cf->access_ttl_s};
    pthread_once(&g_verified_once, verified_init);
    if (revocations_current(env, e) != 0) return -1;
    size_t len = strlen(tok);
    unsigned char key[AUTHN_CACHE_KEY_LEN];
    int cacheable = len > 0 && len <= JWT_MAX_TOKEN_LEN;
    if (cacheable) {
        authn_cache_key(cf->issuer, cf->audience, tok, len, key);
        pthread_rwlock_rdlock(&g_lock);
        uint64_t gen = g_keys_gen;
        pthread_rwlock_unlock(&g_lock);
        if (authn_cache_get(g_verified, key, gen, now, id)) return check_revoked(id, now, e);
    }
    json_t *claims = NULL;
    uint64_t gen = 0;
    for (int attempt = 0;; attempt++) {
        pthread_rwlock_rdlock(&g_lock);
        int rc = jwt_verify(g_keys, tok, len, &o, &claims, e);
        gen = g_keys_gen;
        pthread_rwlock_unlock(&g_lock);
        if (rc == 0) break;
        if (attempt || strcmp(e->code, "token_kid_unknown") != 0) return -1;
        err_t fe = {0};
        refresh_keys(env, KEYS_MIN_REFETCH_S, &fe); /* a rotation we have not seen yet? */
    }
    int rc = claims_to_ident(claims, id, e);
    if (rc == 0 && cacheable) {
        int64_t from, until;
        claims_window(claims, &from, &until);
        authn_cache_put(g_verified, key, gen, from, until, id);
    }
    json_decref(claims);
    return rc == 0 ? check_revoked(id, now, e) : rc;
}

int authn_caller(const svc_env_t *env, const http_request_t *req, svc_caller_t *c, err_t *e) {
    memset(c, 0, sizeof *c);
    snprintf(c->request_id, sizeof c->request_id, "%s", req->request_id ? req->request_id : "");
    snprintf(c->trace_id, sizeof c->trace_id, "%s", req->trace_id ? req->trace_id : "");
    snprintf(c->ip, sizeof c->ip, "%s", req->client_ip ? req->client_ip : "");
    snprintf(c->user_agent, sizeof c->user_agent, "%s", req->user_agent ? req->user_agent : "");
    const char *h = http_header(req, "Authorization");
    if (!h || !*h) return 0;
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return err_set(e, 401, "invalid_token", "", "use Authorization: Bearer <access token>");
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    authn_ident_t id;
    if (verify(env, tok, &id, e) != 0) return -1;
    snprintf(c->user_id, sizeof c->user_id, "%s", id.user_id);
    snprintf(c->club_id, sizeof c->club_id, "%s", id.club_id);
    snprintf(c->perms, sizeof c->perms, "%s", id.perms);
    snprintf(c->session_id, sizeof c->session_id, "%s", id.session_id);
    c->network_admin = id.network_admin;
    return 0;
}

void authn_error_headers(http_response_t *resp, const err_t *e) {
    if (e->status == 401) {
        char v[160];
        if (strncmp(e->code, "token_", 6) == 0 || strcmp(e->code, "invalid_token") == 0)
            snprintf(v, sizeof v, "Bearer realm=\"reciprocal\", error=\"invalid_token\"");
        else
            snprintf(v, sizeof v, "Bearer realm=\"reciprocal\"");
        http_add_header(resp, "WWW-Authenticate", v);
    } else if (e->status == 429) {
        char v[16];
        int s = throttle_retry_after(e);
        snprintf(v, sizeof v, "%d", s > 0 ? s : 1);
        http_add_header(resp, "Retry-After", v);
    }
}

void authn_forget_keys(void) {
    pthread_rwlock_wrlock(&g_lock);
    jwt_keyset_free(g_keys);
    g_keys = NULL;
    g_keys_gen++;
    g_fetched_at = 0;
    pthread_rwlock_unlock(&g_lock);
    authn_cache_clear(g_verified);
}
