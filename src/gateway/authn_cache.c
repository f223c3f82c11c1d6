/* authn_cache: see authn_cache.h. */
#include "gateway/authn_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#define WAYS 4

typedef struct entry {
    unsigned char key[AUTHN_CACHE_KEY_LEN];
    int used;
    uint64_t gen;
    int64_t valid_from, valid_until;
    authn_ident_t id;
} entry_t;

struct authn_cache {
    pthread_mutex_t mu;
    size_t cap; /* power of two, multiple of WAYS */
    entry_t *slots;
};

authn_cache_t *authn_cache_new(size_t capacity) {
    size_t cap = WAYS;
    while (cap < capacity && cap < ((size_t)1 << 24))
        cap <<= 1;
    authn_cache_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->slots = calloc(cap, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    c->cap = cap;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void authn_cache_free(authn_cache_t *c) {
    if (!c) return;
    pthread_mutex_destroy(&c->mu);
    sodium_memzero(c->slots, c->cap * sizeof *c->slots);
    free(c->slots);
    free(c);
}

/* The key is SHA-256 over len(issuer) issuer len(audience) audience token (lengths as 8
 * little-endian bytes). Computed with OpenSSL, whose SHA-256 uses the CPU's SHA instructions
 * (libsodium's is portable C): ~4-5x faster on a 850-byte token (docs/architecture.md,
 * "Performance notes"). The SHA256 implementation is fetched once; libsodium computes the same
 * digest if OpenSSL cannot (no provider, out of memory). */
static EVP_MD *g_sha256;
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;
static void sha256_fetch(void) {
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void le64(unsigned char out[8], size_t n) {
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)n >> (8 * i));
}

static int key_openssl(const char *issuer, const char *audience, const char *token, size_t len,
                       unsigned char key[AUTHN_CACHE_KEY_LEN]) {
    pthread_once(&g_sha256_once, sha256_fetch);
    EVP_MD_CTX *ctx = g_sha256 ? EVP_MD_CTX_new() : NULL;
    unsigned char li[8], la[8];
    size_t ni = issuer ? strlen(issuer) : 0, na = audience ? strlen(audience) : 0;
    le64(li, ni), le64(la, na);
    int ok = ctx && EVP_DigestInit_ex2(ctx, g_sha256, NULL) && EVP_DigestUpdate(ctx, li, 8) &&
             EVP_DigestUpdate(ctx, issuer ? issuer : "", ni) && EVP_DigestUpdate(ctx, la, 8) &&
             EVP_DigestUpdate(ctx, audience ? audience : "", na) &&
             EVP_DigestUpdate(ctx, token, len) && EVP_DigestFinal_ex(ctx, key, NULL);
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

static void hash_str(crypto_hash_sha256_state *st, const char *s) {
    size_t n = s ? strlen(s) : 0;
    unsigned char len[8];
    le64(len, n);
    crypto_hash_sha256_update(st, len, sizeof len);
    crypto_hash_sha256_update(st, (const unsigned char *)(s ? s : ""), n);
}

void authn_cache_key_portable(const char *issuer, const char *audience, const char *token,
                              size_t len, unsigned char key[AUTHN_CACHE_KEY_LEN]) {
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    hash_str(&st, issuer);
    hash_str(&st, audience);
    crypto_hash_sha256_update(&st, (const unsigned char *)token, len);
    crypto_hash_sha256_final(&st, key);
}

void authn_cache_key(const char *issuer, const char *audience, const char *token, size_t len,
                     unsigned char key[AUTHN_CACHE_KEY_LEN]) {
    if (key_openssl(issuer, audience, token, len, key) != 0)
        authn_cache_key_portable(issuer, audience, token, len, key);
}

/* The set (WAYS consecutive slots) a key belongs to. */
static entry_t *set_of(authn_cache_t *c, const unsigned char *key) {
    uint64_t h = 0;
    memcpy(&h, key, sizeof h);
    size_t sets = c->cap / WAYS;
    return &c->slots[(size_t)(h & (uint64_t)(sets - 1)) * WAYS];
}

static int live(const entry_t *x, uint64_t gen, int64_t now) {
    return x->used && x->gen == gen && x->valid_from <= now && now < x->valid_until;
}

int authn_cache_get(authn_cache_t *c, const unsigned char key[AUTHN_CACHE_KEY_LEN],
                    uint64_t keyset_gen, int64_t now, authn_ident_t *out) {
    if (!c) return 0;
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    entry_t *s = set_of(c, key);
    for (int i = 0; i < WAYS && !hit; i++) {
        /* constant time: the digest of a bearer token is as good as the token for a lookup */
        if (s[i].used && sodium_memcmp(s[i].key, key, AUTHN_CACHE_KEY_LEN) == 0 &&
            live(&s[i], keyset_gen, now)) {
            *out = s[i].id;
            hit = 1;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void authn_cache_put(authn_cache_t *c, const unsigned char key[AUTHN_CACHE_KEY_LEN],
                     uint64_t keyset_gen, int64_t valid_from, int64_t valid_until,
                     const authn_ident_t *id) {
    if (!c || valid_from >= valid_until) return;
    pthread_mutex_lock(&c->mu);
    entry_t *s = set_of(c, key), *victim = NULL;
    for (int i = 0; i < WAYS && !victim; i++)
        if (s[i].used && sodium_memcmp(s[i].key, key, AUTHN_CACHE_KEY_LEN) == 0) victim = &s[i];
    for (int i = 0; i < WAYS && !victim; i++)
        if (!s[i].used || s[i].gen != keyset_gen) victim = &s[i]; /* free, or an old key set */
    if (!victim) { /* full: evict the entry that expires first (an expired one, if any) */
        victim = &s[0];
        for (int i = 1; i < WAYS; i++)
            if (s[i].valid_until < victim->valid_until) victim = &s[i];
    }
    memcpy(victim->key, key, AUTHN_CACHE_KEY_LEN);
    victim->used = 1;
    victim->gen = keyset_gen;
    victim->valid_from = valid_from;
    victim->valid_until = valid_until;
    victim->id = *id;
    pthread_mutex_unlock(&c->mu);
}

void authn_cache_clear(authn_cache_t *c) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    sodium_memzero(c->slots, c->cap * sizeof *c->slots);
    pthread_mutex_unlock(&c->mu);
}

size_t authn_cache_count(authn_cache_t *c, uint64_t keyset_gen, int64_t now) {
    if (!c) return 0;
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->cap; i++)
        n += (size_t)live(&c->slots[i], keyset_gen, now);
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* ---- revoked sessions and suspended clubs ---------------------------------------------- */

#define REV_WAYS 8
#define REV_ID_LEN 40

typedef struct rev_entry {
    int kind; /* 0 = free */
    char id[REV_ID_LEN];
    int64_t at, until;
} rev_entry_t;

struct authn_revset {
    pthread_mutex_t mu;
    size_t cap; /* power of two, multiple of REV_WAYS */
    rev_entry_t *slots;
    int64_t floor_at, floor_until; /* tokens with iat <= floor_at refused while now < until */
};

authn_revset_t *authn_revset_new(size_t capacity) {
    size_t cap = REV_WAYS;
    while (cap < capacity && cap < ((size_t)1 << 24))
        cap <<= 1;
    authn_revset_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->slots = calloc(cap, sizeof *r->slots);
    if (!r->slots) {
        free(r);
        return NULL;
    }
    r->cap = cap;
    r->floor_at = INT64_MIN;
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

void authn_revset_free(authn_revset_t *r) {
    if (!r) return;
    pthread_mutex_destroy(&r->mu);
    free(r->slots);
    free(r);
}

static rev_entry_t *rev_set_of(authn_revset_t *r, int kind, const char *id) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind; /* FNV-1a */
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    size_t sets = r->cap / REV_WAYS;
    return &r->slots[(size_t)(h & (uint64_t)(sets - 1)) * REV_WAYS];
}

static void raise_floor(authn_revset_t *r, int64_t at, int64_t until) {
    if (at > r->floor_at) r->floor_at = at;
    if (until > r->floor_until) r->floor_until = until;
}

void authn_revset_add(authn_revset_t *r, int kind, const char *id, int64_t at, int64_t until) {
    if (!r || !id || strlen(id) >= REV_ID_LEN || kind <= 0) return;
    pthread_mutex_lock(&r->mu);
    rev_entry_t *s = rev_set_of(r, kind, id), *victim = NULL;
    for (int i = 0; i < REV_WAYS && !victim; i++)
        if (s[i].kind == kind && strcmp(s[i].id, id) == 0) {
            victim = &s[i];
            if (victim->at > at) at = victim->at;
            if (victim->until > until) until = victim->until;
        }
    for (int i = 0; i < REV_WAYS && !victim; i++)
        if (!s[i].kind) victim = &s[i];
    if (!victim) { /* full: the oldest revocation goes, and the floor covers its tokens */
        victim = &s[0];
        for (int i = 1; i < REV_WAYS; i++)
            if (s[i].at < victim->at) victim = &s[i];
        raise_floor(r, victim->at, victim->until);
    }
    victim->kind = kind;
    snprintf(victim->id, sizeof victim->id, "%s", id);
    victim->at = at;
    victim->until = until;
    pthread_mutex_unlock(&r->mu);
}

void authn_revset_floor(authn_revset_t *r, int64_t at, int64_t until) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    raise_floor(r, at, until);
    pthread_mutex_unlock(&r->mu);
}

/* The live entry of (kind, id), or NULL; expired ones are freed on the way. mu held. */
static rev_entry_t *rev_find(authn_revset_t *r, int kind, const char *id, int64_t now) {
    rev_entry_t *s = rev_set_of(r, kind, id);
    for (int i = 0; i < REV_WAYS; i++) {
        if (s[i].kind && now >= s[i].until) s[i].kind = 0;
        if (s[i].kind == kind && strcmp(s[i].id, id) == 0) return &s[i];
    }
    return NULL;
}

int authn_revset_revoked(authn_revset_t *r, const char *sid, const char *club, int64_t iat,
                         int64_t now) {
    if (!r) return 0;
    int revoked = 0;
    pthread_mutex_lock(&r->mu);
    if (now < r->floor_until && iat <= r->floor_at) revoked = 1;
    if (!revoked && sid && *sid && rev_find(r, AUTHN_REVOKED_SESSION, sid, now)) revoked = 1;
    if (!revoked && club && *club) {
        rev_entry_t *c = rev_find(r, AUTHN_REVOKED_CLUB, club, now);
        revoked = c && iat <= c->at;
    }
    pthread_mutex_unlock(&r->mu);
    return revoked;
}

size_t authn_revset_count(authn_revset_t *r, int64_t now) {
    if (!r) return 0;
    size_t n = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->cap; i++)
        n += r->slots[i].kind && now < r->slots[i].until;
    pthread_mutex_unlock(&r->mu);
    return n;
}
