/* The peer for sender-recovery benchmarks: libsecp256k1's own recover in a tight C loop
 * (see include/recover_peer.h). Each thread takes every `threads`-th signature; the
 * time is from starting the first thread to joining the last. */
#include "recover_peer.h"

#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opg_recover_peer {
    secp256k1_context *ctx;
    int count;
    unsigned char (*msgs)[32];
    secp256k1_ecdsa_recoverable_signature *sigs;
};

struct worker {
    const opg_recover_peer *peer;
    int first, stride, failed;
    unsigned checksum;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

opg_recover_peer *opg_recover_peer_create(int count) {
    opg_recover_peer *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    p->count = count;
    p->msgs = malloc((size_t)count * 32);
    p->sigs = malloc((size_t)count * sizeof *p->sigs);
    if (!p->ctx || !p->msgs || !p->sigs) {
        opg_recover_peer_destroy(p);
        return NULL;
    }
    unsigned char key[32];
    for (int i = 0; i < 32; i++) key[i] = (unsigned char)(i + 1);
    for (int i = 0; i < count; i++) {
        memset(p->msgs[i], 0, 32);
        memcpy(p->msgs[i], &i, sizeof i);
        p->msgs[i][31] = 0x5a;
        if (!secp256k1_ecdsa_sign_recoverable(p->ctx, &p->sigs[i], p->msgs[i], key, NULL, NULL)) {
            opg_recover_peer_destroy(p);
            return NULL;
        }
    }
    return p;
}

static void *recover_share(void *arg) {
    struct worker *w = arg;
    const opg_recover_peer *p = w->peer;
    unsigned char out[65];
    for (int i = w->first; i < p->count; i += w->stride) {
        secp256k1_pubkey pk;
        size_t len = sizeof out;
        if (!secp256k1_ecdsa_recover(p->ctx, &pk, &p->sigs[i], p->msgs[i])) {
            w->failed = 1;
            return NULL;
        }
        secp256k1_ec_pubkey_serialize(p->ctx, out, &len, &pk, SECP256K1_EC_UNCOMPRESSED);
        w->checksum += out[1];
    }
    return NULL;
}

double opg_recover_peer_rate(opg_recover_peer *p, int threads) {
    if (!p || threads < 1 || threads > 256) return -1;
    struct worker workers[256];
    pthread_t ids[256];
    for (int t = 0; t < threads; t++) workers[t] = (struct worker){p, t, threads, 0, 0};
    double start = now();
    int started = 0;
    for (int t = 1; t < threads; t++, started++) {
        if (pthread_create(&ids[t], NULL, recover_share, &workers[t]) != 0) break;
    }
    recover_share(&workers[0]);
    for (int t = 1; t <= started; t++) pthread_join(ids[t], NULL);
    double elapsed = now() - start;
    if (started != threads - 1) return -1;
    for (int t = 0; t < threads; t++) if (workers[t].failed) return -1;
    return p->count / elapsed;
}

void opg_recover_peer_destroy(opg_recover_peer *p) {
    if (!p) return;
    if (p->ctx) secp256k1_context_destroy(p->ctx);
    free(p->msgs);
    free(p->sigs);
    free(p);
}
