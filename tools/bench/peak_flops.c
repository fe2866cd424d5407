// Measured peak float32 FLOP/s with AVX2/FMA: on each of THREADS threads (default 1), 10
// independent chains of 8-lane fused multiply-adds (2 FLOPs per lane), enough to hide the
// FMA latency on two FMA pipes. Prints the GFLOP/s of all threads together by the wall
// clock (so the 2-thread figure over the 1-thread one is the scaling the machine itself
// allows), then by the process's CPU time per thread (which leaves out the time other
// processes held the cores: the rate of a core while this ran on it).
// Build: gcc -O2 -mavx2 -mfma -pthread peak_flops.c -o peak_flops
// Usage: peak_flops [THREADS [ITERATIONS]]
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long iterations = 100000000;
static pthread_barrier_t start;
static float sink[64][8];

static void *chains(void *arg) {
    long id = (long)arg;
    __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    __m256 c0 = _mm256_set1_ps(1), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0;
    pthread_barrier_wait(&start);
    for (long i = 0; i < iterations; i++) {
        c0 = _mm256_fmadd_ps(c0, a, b); c1 = _mm256_fmadd_ps(c1, a, b); c2 = _mm256_fmadd_ps(c2, a, b);
        c3 = _mm256_fmadd_ps(c3, a, b); c4 = _mm256_fmadd_ps(c4, a, b); c5 = _mm256_fmadd_ps(c5, a, b);
        c6 = _mm256_fmadd_ps(c6, a, b); c7 = _mm256_fmadd_ps(c7, a, b); c8 = _mm256_fmadd_ps(c8, a, b);
        c9 = _mm256_fmadd_ps(c9, a, b);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)), _mm256_add_ps(c8, c9)));
    _mm256_storeu_ps(sink[id], s);
    return NULL;
}

int main(int argc, char **argv) {
    long threads = argc > 1 ? atol(argv[1]) : 1;
    if (argc > 2) iterations = atol(argv[2]);
    if (threads < 1 || threads > 64 || iterations < 1) {
        fprintf(stderr, "usage: peak_flops [THREADS (1-64) [ITERATIONS]]\n");
        return 2;
    }
    pthread_t ids[64];
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (long t = 0; t < threads; t++) pthread_create(&ids[t], NULL, chains, (void *)t);
    struct timespec t0, t1, c0, c1;
    pthread_barrier_wait(&start);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    for (long t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    double cpu = (c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9;
    double flops = threads * iterations * 10.0 * 8 * 2;
    fprintf(stderr, "(checksum %g)\n", sink[0][0]);
    printf("%.1f %.1f\n", flops / seconds / 1e9, flops / (cpu / threads) / 1e9);
    return 0;
}
