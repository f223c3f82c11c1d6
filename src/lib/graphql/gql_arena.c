/* gql_arena: see gql_arena.h. */
#include "lib/graphql/gql_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GQL_ARENA_ALIGN 16u
#define GQL_ARENA_CHUNK 16384u

struct gql_arena_chunk {
    gql_arena_chunk *next;
    size_t size; /* usable bytes in data */
    size_t off;  /* bytes used in data */
    _Alignas(16) unsigned char data[];
};

void gql_arena_init(gql_arena *a, size_t cap) {
    a->head = NULL;
    a->used = 0;
    a->cap = cap;
}

void *gql_arena_alloc(gql_arena *a, size_t size) {
    if (size == 0) size = 1;
    if (size > SIZE_MAX / 2) return NULL;
    size_t need = (size + GQL_ARENA_ALIGN - 1) & ~(size_t)(GQL_ARENA_ALIGN - 1);
    if (a->cap && (need > a->cap || a->used > a->cap - need)) return NULL;
    gql_arena_chunk *c = a->head;
    if (!c || c->size - c->off < need) {
        size_t sz = need > GQL_ARENA_CHUNK ? need : GQL_ARENA_CHUNK;
        c = malloc(sizeof *c + sz);
        if (!c) return NULL;
        c->size = sz;
        c->off = 0;
        /* A big one-off allocation goes behind the current chunk so its free space stays usable. */
        if (a->head && need > GQL_ARENA_CHUNK) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->data + c->off;
    c->off += need;
    a->used += need;
    memset(p, 0, need);
    return p;
}

char *gql_arena_strndup(gql_arena *a, const char *s, size_t len) {
    if (len == SIZE_MAX) return NULL;
    char *p = gql_arena_alloc(a, len + 1);
    if (!p) return NULL;
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void gql_arena_free(gql_arena *a) {
    gql_arena_chunk *c = a->head;
    while (c) {
        gql_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
    a->used = 0;
}
