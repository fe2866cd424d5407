// The kernels' worker pool (contract in parallel.h). One job at a time: its caller writes
// the job's task and context, then publishes the word `claims` (job number, part count,
// next part) with a release store, and bumps `generation` to wake the workers. A part is
// taken by a compare-and-swap of that whole word, so a worker never takes a part of a job
// other than the one whose count it compared against, and seeing the word it swapped
// means seeing that job's task. The caller takes parts too and returns when all are done;
// the finished word (next = count) lets no late worker take anything.
#include "parallel.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum {
    MAX_WORKERS = 63,
    // Pause instructions a worker spends polling for the next job before it sleeps
    // (some hundreds of microseconds; timing only, never a result).
    SPIN_PAUSES = 1 << 14,
    // Pauses a caller spends polling for its last parts before it sleeps until they end.
    WAIT_PAUSES = 1 << 10,
    // While polling, a thread offers its core to others this often, so on a busy machine
    // a polling thread does not hold the core a part needs.
    YIELD_EVERY = 64,
};

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;  // held by the caller of the current job
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static atomic_int caller_sleeping;
static atomic_size_t generation;
static atomic_int sleepers;
// claims = job << 32 | parts << 16 | next part.
static _Atomic unsigned long long claims;
static atomic_size_t parts_done;
static opg_parallel_task job_task;
static void *job_context;
static int workers;  // started so far (guarded by job_lock)

// One step of a polling loop: a pause, and every YIELD_EVERY steps a sched_yield.
static inline void relax(int step) {
#if defined(__x86_64__)
    _mm_pause();
#endif
    if (step % YIELD_EVERY == YIELD_EVERY - 1) sched_yield();
}

static void run_parts(void) {
    unsigned long long word = atomic_load(&claims);
    for (;;) {
        unsigned long long part = word & 0xFFFF, parts = word >> 16 & 0xFFFF;
        if (part >= parts) return;
        if (!atomic_compare_exchange_weak(&claims, &word, word + 1)) continue;
        job_task(job_context, (size_t)part);
        // The last part wakes a caller that has stopped polling (it set caller_sleeping
        // before its last look at parts_done, so one of the two sees the other).
        if (atomic_fetch_add(&parts_done, 1) + 1 == parts && atomic_load(&caller_sleeping)) {
            pthread_mutex_lock(&done_lock);
            pthread_cond_signal(&done);
            pthread_mutex_unlock(&done_lock);
        }
        word = atomic_load(&claims);
    }
}

// The generation after `seen`: polled, then slept for.
static size_t next_generation(size_t seen) {
    for (int i = 0; i < SPIN_PAUSES; i++) {
        size_t g = atomic_load(&generation);
        if (g != seen) return g;
        relax(i);
    }
    pthread_mutex_lock(&sleep_lock);
    atomic_fetch_add(&sleepers, 1);
    size_t g;
    while ((g = atomic_load(&generation)) == seen) pthread_cond_wait(&wake, &sleep_lock);
    atomic_fetch_sub(&sleepers, 1);
    pthread_mutex_unlock(&sleep_lock);
    return g;
}

static void *worker_main(void *unused) {
    (void)unused;
    size_t seen = atomic_load(&generation);
    for (;;) {
        seen = next_generation(seen);
        run_parts();
    }
    return NULL;
}

int opg_parallel_for(size_t parts, size_t threads, opg_parallel_task task, void *context) {
    if (parts <= 1 || threads <= 1) {
        for (size_t p = 0; p < parts; p++) task(context, p);
        return 1;
    }
    if (parts > 0xFFFF || pthread_mutex_trylock(&job_lock) != 0) return 0;
    while (workers < MAX_WORKERS && (size_t)workers < threads - 1) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attr, worker_main, NULL);
        pthread_attr_destroy(&attr);
        if (failed) break;
        workers++;
    }
    job_task = task;
    job_context = context;
    atomic_store(&parts_done, 0);
    unsigned long long job = (atomic_load(&claims) >> 32) + 1;
    atomic_store(&claims, job << 32 | (unsigned long long)parts << 16);
    atomic_fetch_add(&generation, 1);
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    run_parts();
    for (int i = 0; i < WAIT_PAUSES && atomic_load(&parts_done) < parts; i++) relax(i);
    if (atomic_load(&parts_done) < parts) {
        pthread_mutex_lock(&done_lock);
        atomic_store(&caller_sleeping, 1);
        while (atomic_load(&parts_done) < parts) pthread_cond_wait(&done, &done_lock);
        atomic_store(&caller_sleeping, 0);
        pthread_mutex_unlock(&done_lock);
    }
    pthread_mutex_unlock(&job_lock);
    return 1;
}
