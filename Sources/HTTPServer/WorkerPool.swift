import CMicroHTTPD
import Foundation

/// A fixed set of named threads running submitted work in arrival order. The RPC layer's
/// heavy lane is one, so that slow work queues behind slow work only.
public final class WorkerPool {
    /// The pool's name (thread names are `name-0`, `name-1`, …).
    public let name: String
    private let condition = NSCondition()
    /// Submitted work; a slot is emptied as its work is taken, so finished work (and the
    /// request bodies its closure captured) is freed at once, not when the queue compacts.
    private var queue: [(() -> Void)?] = []
    private var head = 0
    private var stopping = false
    private var running = 0

    /// Starts `threads` threads (at least one), each at `niceness` (Linux per-thread
    /// nice value: 0 is normal, up to 19 yields the CPU to everything else).
    public init(name: String, threads: Int, niceness: Int32 = 0) {
        self.name = name
        let count = max(1, threads)
        running = count
        for i in 0..<count {
            let thread = Thread { [self] in
                if niceness != 0 { _ = opg_set_thread_niceness(niceness) }
                work()
            }
            thread.name = "\(name)-\(i)"
            thread.start()
        }
    }

    deinit { shutdown() }

    /// Queues `work`; it runs on one of the pool's threads. Work submitted after
    /// `shutdown()` runs on the caller's thread, so nothing submitted is ever lost.
    public func submit(_ work: @escaping () -> Void) {
        condition.lock()
        if stopping {
            condition.unlock()
            work()
            return
        }
        queue.append(work)
        condition.signal()
        condition.unlock()
    }

    /// Runs what is queued, then stops the threads and waits for them.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private func work() {
        condition.lock()
        while true {
            if head < queue.count {
                let next = queue[head]!
                queue[head] = nil
                head += 1
                if head > 1024 && head * 2 > queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                condition.unlock()
                next()
                condition.lock()
            } else if stopping {
                break
            } else {
                condition.wait()
            }
        }
        running -= 1
        condition.broadcast()
        condition.unlock()
    }
}
