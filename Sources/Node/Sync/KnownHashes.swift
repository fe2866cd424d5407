import Primitives

/// The hashes one peer is known to have (it sent them, or we sent them to it), bounded: past
/// `capacity` the oldest is forgotten, so a forgotten transaction may be sent again once, and the
/// receiver's pool refuses it as already known. A lookup table only, never iterated.
struct KnownHashes {
    private let capacity: Int
    private var members: Set<Hash32> = []
    private var order: [Hash32] = []
    private var oldest = 0

    /// An empty set remembering up to `capacity` hashes.
    init(capacity: Int) {
        self.capacity = max(1, capacity)
        order.reserveCapacity(self.capacity)
    }

    /// Whether `hash` is remembered.
    func contains(_ hash: Hash32) -> Bool { members.contains(hash) }

    /// Remembers `hash`; returns false when it was already remembered.
    @discardableResult
    mutating func insert(_ hash: Hash32) -> Bool {
        guard members.insert(hash).inserted else { return false }
        if order.count < capacity {
            order.append(hash)
        } else {
            members.remove(order[oldest])
            order[oldest] = hash
            oldest = (oldest + 1) % capacity
        }
        return true
    }
}

/// A token bucket: `ratePerSecond` tokens a second up to `burst`, on a monotonic clock in
/// nanoseconds (a limit on what a peer may make this node do, never a consensus input).
struct TokenBucket {
    private let ratePerSecond: UInt64
    private let burst: UInt64
    private var tokens: UInt64
    private var updated: UInt64

    /// A full bucket at time `now`.
    init(ratePerSecond: UInt64, burst: UInt64, now: UInt64) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        tokens = burst
        updated = now
    }

    /// Takes `amount` tokens at time `now`; false (taking nothing) when there are too few.
    mutating func take(_ amount: UInt64, now: UInt64) -> Bool {
        if now > updated {
            let elapsed = now - updated
            // Past the time a refill from empty takes, the bucket is full (and the product below cannot overflow).
            let refill = elapsed >= 1_000_000_000 * (burst / max(ratePerSecond, 1) + 1) ? burst : elapsed * ratePerSecond / 1_000_000_000
            if refill > 0 {
                tokens = min(burst, tokens + refill)
                updated = now
            }
        }
        guard tokens >= amount else { return false }
        tokens -= amount
        return true
    }
}
