import CKernels
import Dispatch

/// The kernels' threads: `perform(parts:)` runs a job's parts on the caller and the C
/// worker pool (parallel.h), whose workers poll briefly between jobs, so the matrix
/// products of one run hand over to the second thread without waking it each time. When
/// another run holds the pool, libdispatch runs the parts instead. Which thread runs a
/// part never changes a result: parts write disjoint outputs, each computed the same way.
enum WorkerPool {
    /// Calls `body(part)` once for every part in 0..<parts, on up to `threads` threads of the
    /// pool (libdispatch's, as many as it chooses, when the pool is busy), and returns when
    /// all have finished.
    static func perform(parts: Int, threads: Int, _ body: (Int) -> Void) {
        guard parts > 1, threads > 1 else {
            for part in 0..<max(parts, 0) { body(part) }
            return
        }
        withoutActuallyEscaping(body) { body in
            var job = body
            let ran = withUnsafeMutablePointer(to: &job) { job in
                opg_parallel_for(parts, threads, { context, part in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(part))
                }, job)
            }
            if ran == 0 {
                nonisolated(unsafe) let body = body
                DispatchQueue.concurrentPerform(iterations: parts) { body($0) }
            }
        }
    }
}
