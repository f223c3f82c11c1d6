/* bench/loi_verify: the offline check of letters of introduction (issue 11, "LOI verify alone
 * >= 3,000/s"; docs/reciprocal-loi.md): what a host's door device does without the server.
 * Signs N distinct letters (N from argv[1], default 2000) with one home-club key, then runs
 * loi_verify (decode, kid lookup in a set of 3 published keys, Ed25519 signature, host, window)
 * over them for argv[2] seconds (default 3) on one thread and prints
 *   loi-verify-bench letters=N verified=V secs=S per_s=R us_per_verify=U failed=F
 * Owns everything it allocates; exit status 1 when a letter fails to verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/credentials/signkey.h"
#include "services/reciprocal/loi.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    double secs = argc > 2 ? atof(argv[2]) : 3.0;
    if (n < 1 || secs <= 0) return 2;
    static const char host[] = "22222222-2222-4222-8222-222222222222";
    signkey_t keys[3];
    signkey_pub_t pub[3];
    for (int k = 0; k < 3; k++) {
        if (signkey_generate(&keys[k]) != 0) return 2;
        memcpy(pub[k].pk, keys[k].pk, sizeof pub[k].pk);
        memcpy(pub[k].kid, keys[k].kid, sizeof pub[k].kid);
    }
    char **tokens = calloc((size_t)n, sizeof *tokens);
    if (!tokens) return 2;
    long long t0 = (long long)time(NULL);
    for (int i = 0; i < n; i++) {
        loi_t l;
        memset(&l, 0, sizeof l);
        if (loi_new_code(l.code) != 0) return 2;
        snprintf(l.visit, sizeof l.visit, "44444444-4444-4444-8444-%012d", i);
        snprintf(l.home, sizeof l.home, "11111111-1111-4111-8111-111111111111");
        snprintf(l.host, sizeof l.host, "%s", host);
        l.nbf = t0 - 3600;
        l.exp = t0 + 86400;
        l.iat = t0 - 7200;
        snprintf(l.fac[0], LOI_FAC_LEN, "dining");
        l.n_fac = 1;
        snprintf(l.name, sizeof l.name, "Visitor Number%d", i);
        snprintf(l.num, sizeof l.num, "V-%06d", i);
        snprintf(l.cat, sizeof l.cat, "full");
        const char *field = NULL;
        if (loi_encode(&l, &keys[2], &tokens[i], &field) != 0) return 2;
    }
    long long verified = 0, failed = 0;
    double start = now_s(), el = 0;
    while ((el = now_s() - start) < secs) {
        for (int i = 0; i < n && i < 256; i++) {
            const char *t = tokens[(verified + i) % n];
            if (loi_verify(t, pub, 3, host, t0, NULL) != LOI_OK) failed++;
        }
        verified += n < 256 ? n : 256;
    }
    printf("loi-verify-bench letters=%d verified=%lld secs=%.2f per_s=%.0f us_per_verify=%.1f "
           "failed=%lld\n",
           n, verified, el, (double)verified / el, el * 1e6 / (double)verified, failed);
    for (int i = 0; i < n; i++)
        free(tokens[i]);
    free(tokens);
    for (int k = 0; k < 3; k++)
        signkey_wipe(&keys[k]);
    return failed ? 1 : 0;
}
