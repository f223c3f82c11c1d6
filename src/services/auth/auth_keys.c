/* auth_keys: see auth_keys.h. */
#include "services/auth/auth_keys.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "core/outbox.h"
#include "core/rcache.h"
#include "services/auth/auth_util.h"
#include "lib/credentials/jwt.h"

#define RELOAD_S 60

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static jwt_key_t *g_active; /* private */
static jwt_keyset_t *g_set; /* published public keys */
static time_t g_loaded_at;

static void keys_changed(void);

/* The published key set's text (auth_keys_jwks_cached), dropped with the keys. */
static rcache_t *jwks_cache(void) {
    static _Atomic(rcache_t *) c;
    rcache_t *v = atomic_load(&c);
    if (!v) atomic_store(&c, v = rcache_named("jwks"));
    return v;
}

static void jwks_cache_clear(void) {
    rcache_t *c = jwks_cache();
    if (c) rcache_clear(c);
}

static int begin(db_pool_t *db, db_tx_t **tx, err_t *e) {
    db_scope_t s = {0};
    return db_begin(db, &s, tx, e);
}

/* Generates a key of the configured algorithm and inserts it; retires every other active key
 * (of any algorithm) when retire is set. */
static int insert_new_key(const auth_settings_t *as, db_tx_t *tx, int retire, char *kid_out,
                          err_t *e) {
    jwt_key_t *k = NULL;
    char *pem = NULL, *jwk_s = NULL, *enc_s = NULL;
    unsigned char *enc = NULL;
    size_t enc_len = 0;
    json_t *jwk = NULL;
    int rc = -1;
    if (jwt_key_generate_alg((jwt_alg_t)as->jwt_alg, &k, e) != 0) goto done;
    pem = jwt_key_private_pem(k, e);
    if (!pem) goto done;
    if (auth_seal(as, (const unsigned char *)pem, strlen(pem), &enc, &enc_len, e) != 0) goto done;
    jwk = jwt_key_public_jwk(k, e);
    if (!jwk) goto done;
    jwk_s = jsonx_dump(jwk);
    enc_s = auth_bytea_encode(enc, enc_len);
    if (!jwk_s || !enc_s) {
        err_set(e, 500, "internal", "", "out of memory");
        goto done;
    }
    const char *p[] = {jwt_key_kid(k), jwk_s, enc_s, jwt_alg_name(jwt_key_alg(k))};
    if (retire && db_exec_cmd(tx,
                              "UPDATE auth.signing_keys SET retired_at = now() WHERE retired_at "
                              "IS NULL",
                              0, NULL, e) < 0)
        goto done;
    if (db_exec_cmd(tx,
                    "INSERT INTO auth.signing_keys (kid, public_jwk, private_key_enc, alg) VALUES "
                    "($1, $2::jsonb, $3::bytea, $4)",
                    4, p, e) < 0)
        goto done;
    if (kid_out) snprintf(kid_out, JWT_KID_LEN + 1, "%s", jwt_key_kid(k));
    rc = 0;
done:
    jwt_key_free(k);
    jwt_secret_free(pem);
    free(jwk_s);
    free(enc_s);
    free(enc);
    json_decref(jwk);
    return rc;
}

/* auth.signing_keys_rotated into the outbox, in the transaction that made key kid: every
 * process running auth drops its keys and cached key set on it (auth_keys_follow), every
 * gateway may refetch at once (gateway/authn.c). */
static int keys_event(db_tx_t *tx, const char *kid, err_t *e) {
    json_t *data = json_pack("{s:s}", "kid", kid);
    if (!data) return err_set(e, 500, "internal", "", "out of memory");
    int rc = outbox_add(tx, "auth", "auth.signing_keys_rotated", "auth", NULL, data,
                        &(outbox_meta_t){0}, NULL, e);
    json_decref(data);
    return rc;
}

/* Reads the keys; with `create`, makes the first key when none is active. Called with the write
 * lock held. */
static int load(const auth_settings_t *as, db_pool_t *db, err_t *e) {
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    jwt_key_t *active = NULL;
    jwt_keyset_t *set = NULL;
    char kid[JWT_KID_LEN + 1];
    if (auth_conf_require(as, e) != 0) return -1;
    char ttl[16];
    const char *alg = jwt_alg_name((jwt_alg_t)as->jwt_alg);
    snprintf(ttl, sizeof ttl, "%d", as->access_ttl_s + 300);
    const char *p[] = {ttl, alg};
    /* row 0: the newest active key of the configured algorithm, when there is one */
    static const char q[] =
        "SELECT kid, public_jwk::text, private_key_enc, retired_at IS NULL AND alg = $2 FROM "
        "auth.signing_keys WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs "
        "=> $1::int) ORDER BY (retired_at IS NULL AND alg = $2) DESC, created_at DESC";
    for (int attempt = 0; attempt < 2; attempt++) {
        if (begin(db, &tx, e) != 0) return -1;
        r = db_exec(tx, q, 2, p, e);
        if (!r) goto fail;
        if (PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 3), "t") == 0) break;
        /* no active key yet: make one (one process wins the lock, the others see its key) */
        PQclear(r);
        r = NULL;
        if (db_exec_cmd(tx, "SELECT pg_advisory_xact_lock(hashtext('auth.signing_keys'))", 0, NULL,
                        e) < 0)
            goto fail;
        r = db_exec(tx, "SELECT 1 FROM auth.signing_keys WHERE retired_at IS NULL AND alg = $1", 1,
                    p + 1, e);
        if (!r) goto fail;
        int have = PQntuples(r) > 0;
        PQclear(r);
        r = NULL;
        if (!have && (insert_new_key(as, tx, 0, kid, e) != 0 || keys_event(tx, kid, e) != 0))
            goto fail;
        if (db_tx_commit(&tx, e) != 0) goto fail;
        if (!have) jwks_cache_clear(); /* a set cached before this key lacks it */
    }
    if (!r) return err_set(e, 500, "internal", "", "no signing key");
    set = jwt_keyset_new();
    if (!set) goto oom;
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *jwk = json_loads(PQgetvalue(r, i, 1), 0, NULL);
        jwt_key_t *pub = NULL;
        int ok = jwk && jwt_key_from_jwk(jwk, &pub, e) == 0 && jwt_keyset_add(set, pub, e) == 0;
        json_decref(jwk);
        jwt_key_free(pub);
        if (!ok) goto fail;
    }
    {
        size_t n = 0, pn = 0;
        unsigned char *enc = auth_bytea_decode(PQgetvalue(r, 0, 2), &n), *pem = NULL;
        int ok = enc && auth_open(as, enc, n, &pem, &pn, e) == 0 &&
                 jwt_key_from_private_pem((const char *)pem, pn, &active, e) == 0;
        free(enc);
        if (pem) jwt_secret_free((char *)pem);
        if (!ok) {
            if (!e->status) err_set(e, 500, "internal", "", "stored signing key is unreadable");
            goto fail;
        }
    }
    PQclear(r);
    db_commit(tx, e);
    jwt_key_free(g_active);
    jwt_keyset_free(g_set);
    g_active = active;
    g_set = set;
    g_loaded_at = time(NULL);
    return 0;
oom:
    err_set(e, 500, "internal", "", "out of memory");
fail:
    PQclear(r);
    db_rollback(tx);
    jwt_key_free(active);
    jwt_keyset_free(set);
    return -1;
}

/* Takes the read lock with fresh keys loaded; returns -1 (no lock held) on failure. A rotation
 * event (auth_keys_forget, from any thread) may drop the keys between the reload and the read
 * lock: the keys are then loaded again (a few times at most). */
static int rdlock_fresh(const auth_settings_t *as, db_pool_t *db, err_t *e) {
    for (int attempt = 0; attempt < 3; attempt++) {
        pthread_rwlock_rdlock(&g_lock);
        if (g_active && (attempt > 0 || time(NULL) - g_loaded_at < RELOAD_S)) return 0;
        pthread_rwlock_unlock(&g_lock);
        pthread_rwlock_wrlock(&g_lock);
        int rc = 0;
        if (!g_active || time(NULL) - g_loaded_at >= RELOAD_S) {
            rc = load(as, db, e);
            if (rc != 0 && g_active) rc = 0; /* keep serving with the keys we have */
        }
        pthread_rwlock_unlock(&g_lock);
        if (rc != 0) return -1;
    }
    return err_set(e, 503, "unavailable", "", "no signing key available");
}

char *auth_keys_sign(const auth_settings_t *as, db_pool_t *db, const json_t *claims, err_t *e) {
    if (rdlock_fresh(as, db, e) != 0) return NULL;
    char *t = jwt_sign(g_active, claims, e);
    pthread_rwlock_unlock(&g_lock);
    return t;
}

int auth_keys_ready(const auth_settings_t *as, db_pool_t *db, err_t *e) {
    if (rdlock_fresh(as, db, e) != 0) return -1;
    pthread_rwlock_unlock(&g_lock);
    return 0;
}

json_t *auth_keys_jwks(const auth_settings_t *as, db_pool_t *db, err_t *e) {
    if (rdlock_fresh(as, db, e) != 0) return NULL;
    json_t *j = jwt_keyset_jwks(g_set, e);
    pthread_rwlock_unlock(&g_lock);
    return j;
}

/* ---- the published key set in the read cache (core/rcache.h) ---- */

/* A rotation committed (here or, through the event, elsewhere): reload the keys on next use. */
static void keys_changed(void) {
    auth_keys_forget();
}

static void on_keys_event(rcache_t *c, const char *subject, const json_t *envelope) {
    (void)c, (void)subject, (void)envelope;
    keys_changed();
}

int auth_keys_follow(const svc_env_t *env, err_t *e) {
    static const char *const subjects[] = {"events.auth.signing_keys_rotated", NULL};
    rcache_t *c = jwks_cache();
    if (!c) return err_set(e, 500, "internal", "", "out of memory");
    return rcache_follow(c, env->bus, subjects, on_keys_event, e);
}

json_t *auth_keys_jwks_cached(const auth_settings_t *as, db_pool_t *db, err_t *e) {
    rcache_t *c = jwks_cache();
    char *text = NULL;
    size_t len = 0;
    if (c && rcache_get(c, NULL, "jwks", &text, &len)) {
        json_t *j = jsonx_raw(text, len, e);
        free(text);
        return j;
    }
    uint64_t epoch = c ? rcache_epoch(c) : 0;
    json_t *j = auth_keys_jwks(as, db, e);
    if (!j) return NULL;
    text = jsonx_dump(j);
    if (c && text) rcache_put(c, NULL, "jwks", NULL, text, strlen(text), epoch);
    free(text);
    return j;
}

int auth_keys_rotate(const auth_settings_t *as, db_pool_t *db, char *kid_out, err_t *e) {
    db_tx_t *tx = NULL;
    if (auth_conf_require(as, e) != 0) return -1;
    if (begin(db, &tx, e) != 0) return -1;
    char kid[JWT_KID_LEN + 1];
    if (db_exec_cmd(tx, "SELECT pg_advisory_xact_lock(hashtext('auth.signing_keys'))", 0, NULL, e) <
            0 ||
        insert_new_key(as, tx, 1, kid, e) != 0 || keys_event(tx, kid, e) != 0) {
        db_rollback(tx);
        return -1;
    }
    if (db_commit(tx, e) != 0) return -1;
    if (kid_out) snprintf(kid_out, JWT_KID_LEN + 1, "%s", kid);
    keys_changed();
    return 0;
}

void auth_keys_forget(void) {
    jwks_cache_clear();
    pthread_rwlock_wrlock(&g_lock);
    jwt_key_free(g_active);
    jwt_keyset_free(g_set);
    g_active = NULL;
    g_set = NULL;
    g_loaded_at = 0;
    pthread_rwlock_unlock(&g_lock);
}
