/* The peer for sender-recovery benchmarks: libsecp256k1's own recover in a tight C loop.
 * Signs N distinct 32-byte messages once, then times recovering all public keys
 * (including serialization, as sender recovery needs it). Prints recoveries per second. */
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    unsigned char key[32];
    for (int i = 0; i < 32; i++) key[i] = (unsigned char)(i + 1);
    unsigned char (*msgs)[32] = malloc((size_t)n * 32);
    secp256k1_ecdsa_recoverable_signature *sigs = malloc((size_t)n * sizeof *sigs);
    for (int i = 0; i < n; i++) {
        memset(msgs[i], 0, 32);
        memcpy(msgs[i], &i, sizeof i);
        msgs[i][31] = 0x5a;
        if (!secp256k1_ecdsa_sign_recoverable(ctx, &sigs[i], msgs[i], key, NULL, NULL)) return 1;
    }
    unsigned char out[65];
    size_t len;
    unsigned acc = 0;
    double t0 = now();
    for (int i = 0; i < n; i++) {
        secp256k1_pubkey pk;
        if (!secp256k1_ecdsa_recover(ctx, &pk, &sigs[i], msgs[i])) return 1;
        len = sizeof out;
        secp256k1_ec_pubkey_serialize(ctx, out, &len, &pk, SECP256K1_EC_UNCOMPRESSED);
        acc += out[1];
    }
    double dt = now() - t0;
    printf("%.0f\n", n / dt);
    fprintf(stderr, "checksum %u\n", acc);
    secp256k1_context_destroy(ctx);
    free(msgs);
    free(sigs);
    return 0;
}
