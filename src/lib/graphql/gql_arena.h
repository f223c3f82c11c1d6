/* gql_arena: a bump allocator for GraphQL documents.
 * Owns a chain of malloc'd chunks; everything allocated from it (AST nodes, decoded strings,
 * list arrays) is released by one gql_arena_free(). Allocations are zeroed and 16-byte aligned.
 * An optional byte cap bounds the total; an allocation past it fails (returns NULL). */
#ifndef GATEWAY_GRAPHQL_GQL_ARENA_H
#define GATEWAY_GRAPHQL_GQL_ARENA_H

#include <stddef.h>

typedef struct gql_arena_chunk gql_arena_chunk;

typedef struct gql_arena {
    gql_arena_chunk *head; /* newest chunk first */
    size_t used;           /* bytes handed out, all chunks */
    size_t cap;            /* 0 = unlimited */
} gql_arena;

void gql_arena_init(gql_arena *a, size_t cap);
/* Zeroed, 16-byte aligned; NULL when out of memory, past the cap, or size overflows. */
void *gql_arena_alloc(gql_arena *a, size_t size);
/* Copies len bytes and appends a NUL; NULL on failure. */
char *gql_arena_strndup(gql_arena *a, const char *s, size_t len);
void gql_arena_free(gql_arena *a);

#endif
