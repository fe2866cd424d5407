import Foundation

/// Committed blocks on their way to the block listeners (RPC filters, …), delivered in
/// order on a thread of their own so that a slow listener never holds up the thread
/// that produces or commits blocks (the consensus thread, later). The queue is bounded:
/// when `capacity` blocks are waiting, the oldest is dropped and `notice` says how many
/// were dropped.
final class BlockNotifications: @unchecked Sendable {
    /// Blocks that may wait for delivery before the oldest is dropped.
    let capacity: Int
    private let condition = NSCondition()
    private var waiting: [Block] = []
    private var listeners: [(Block) -> Void] = []
    private var delivering = false
    private var started = false
    private let notice: @Sendable (String) -> Void

    /// A queue that drops beyond `capacity` waiting blocks and reports drops to `notice`.
    init(capacity: Int, notice: @escaping @Sendable (String) -> Void) {
        self.capacity = max(1, capacity)
        self.notice = notice
    }

    /// Adds a listener; it sees blocks enqueued from now on.
    func add(_ listener: @escaping (Block) -> Void) { condition.withLock { listeners.append(listener) } }

    /// Queues `block` for the listeners and returns at once.
    func enqueue(_ block: Block) {
        var dropped: Block?
        condition.withLock {
            guard !listeners.isEmpty else { return }
            if waiting.count >= capacity { dropped = waiting.removeFirst() }
            waiting.append(block)
            if !started {
                started = true
                let thread = Thread { [self] in deliver() }
                thread.name = "block-listeners"
                thread.start()
            }
            condition.broadcast()
        }
        if let dropped {
            notice("block listeners are \(capacity) blocks behind: block \(dropped.number) was not delivered to them")
        }
    }

    /// Returns once every block queued before the call has been delivered.
    func waitUntilDelivered() {
        condition.withLock { while !waiting.isEmpty || delivering { condition.wait() } }
    }

    /// The delivery thread's loop: it ends when the queue is empty (the next `enqueue`
    /// starts another), so an idle chain holds no thread.
    private func deliver() {
        while true {
            let next: (block: Block, listeners: [(Block) -> Void])? = condition.withLock {
                guard !waiting.isEmpty else {
                    started = false
                    delivering = false
                    condition.broadcast()
                    return nil
                }
                delivering = true
                return (waiting.removeFirst(), listeners)
            }
            guard let next else { return }
            for listener in next.listeners { listener(next.block) }
        }
    }
}
