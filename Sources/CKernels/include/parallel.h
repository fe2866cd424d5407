#ifndef OPG_PARALLEL_H
#define OPG_PARALLEL_H
#include <stddef.h>

/// One part of a parallel job: task(context, part).
typedef void (*opg_parallel_task)(void *context, size_t part);

/// Runs task(context, p) once for every p in [0, parts), on the calling thread and on up to
/// `threads` − 1 workers of a process-wide pool, and returns when every part has finished.
/// Parts are handed out one at a time from a shared counter, so which thread runs a part
/// depends on timing (more parts than threads balance a thread that starts late); a task's
/// result must not (the kernels' parts write disjoint outputs, each computed the same way
/// whoever runs it). Workers keep polling for the next job for
/// a short while after one ends (a model's products follow each other within
/// microseconds), then sleep until woken, so a job in a run of jobs starts without a
/// thread wake-up. Returns 1 when the job ran; 0, having run nothing, when another thread's
/// job holds the pool or `parts` is over 65,535 (the caller then runs the parts some other way).
int opg_parallel_for(size_t parts, size_t threads, opg_parallel_task task, void *context);
#endif
