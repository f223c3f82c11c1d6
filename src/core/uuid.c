/* uuid: see uuid.h. */
#include "core/uuid.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_setup(void) {
    if (sodium_init() < 0) abort(); /* no lock in libsodium: nothing random can be made */
}

void uuid_v4(char out[UUID_STR_LEN]) {
    unsigned char b[16];
    pthread_once(&sodium_once, sodium_setup);
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC variant (10xx) */
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}
