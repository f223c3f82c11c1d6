/* uuid: the random (version 4, RFC 9562) UUIDs the process makes itself, when an id must be
 * known before its row is written (event ids, visit ids, one-time token ids) and in tests and
 * benches that make rows of their own. 122 random bits from libsodium's randombytes_buf
 * (sodium_init once, here), the version nibble 4 and the RFC variant bits 10, as canonical
 * lower-case text 8-4-4-4-12 (what PostgreSQL prints, so an id read back compares equal).
 * Owns nothing: the text goes into the caller's buffer. */
#ifndef CORE_UUID_H
#define CORE_UUID_H

/* 36 characters and the NUL. */
#define UUID_STR_LEN 37

/* Writes a new random UUID into out. It cannot fail: libsodium starts once (sodium_init can fail
 * only when a mutex cannot be taken; the process is then aborted) and its random source aborts
 * the process itself when the system has none, so no id is ever made from anything weaker. */
void uuid_v4(char out[UUID_STR_LEN]);

#endif
