import Foundation
import Inference
import Primitives

/// Compiled models by file hash (`RegisteredModel.fileHash`), least recently used first
/// out when the total weight passes the cap. One cache serves block execution and every
/// RPC thread: a lock guards the table and the recency order, and is never held while a
/// model compiles (two threads missing the same model may both compile it; the first
/// stored is kept). Sessions are immutable and safe to run concurrently. What a call
/// costs never depends on the cache: a miss compiles, a hit does not, the gas is the same.
/// Each entry also remembers the gas of the last input shapes it was asked for
/// (`InferenceGas.gas` is a pure function of the session and the shapes, and working it
/// out walks the whole graph: a block of inferences of one model asks for the same shapes
/// every time).
public final class SessionCache: @unchecked Sendable {
    /// The default cap: 512 MiB of model weight.
    public static let defaultCapacityBytes = 512 << 20

    /// Most total weight kept.
    public let capacityBytes: Int
    private let lock = NSLock()
    private var entries: [Hash32: (session: InferenceSession, weight: Int, lastUse: UInt64)] = [:]
    private var lastGas: [Hash32: (inputShapes: [String: [Int]], cost: ModelCost, gas: UInt64)] = [:]
    private var clock: UInt64 = 0
    private var totalWeight = 0

    /// Creates an empty cache holding at most `capacityBytes` of weight.
    public init(capacityBytes: Int = SessionCache.defaultCapacityBytes) {
        self.capacityBytes = capacityBytes
    }

    /// A session's weight: twice the file (its tensors, plus the packed copies of its
    /// matrix weights), an estimate of what it holds.
    public static func weight(fileSize: Int) -> Int { fileSize.saturatingProduct(2) }

    /// The session for `fileHash`, compiled by `compile` on a miss. A session heavier than
    /// the whole cap is returned without being kept.
    public func session(_ fileHash: Hash32, fileSize: Int, compile: () throws -> InferenceSession) rethrows -> InferenceSession {
        lock.lock()
        clock += 1
        if let hit = entries[fileHash] {
            entries[fileHash]!.lastUse = clock
            lock.unlock()
            return hit.session
        }
        lock.unlock()
        let session = try compile()
        let weight = Self.weight(fileSize: fileSize)
        guard weight <= capacityBytes else { return session }
        lock.lock()
        defer { lock.unlock() }
        clock += 1
        if let raced = entries[fileHash] {
            entries[fileHash]!.lastUse = clock
            return raced.session
        }
        while totalWeight + weight > capacityBytes, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            totalWeight -= oldest.value.weight
            entries[oldest.key] = nil
            lastGas[oldest.key] = nil
        }
        entries[fileHash] = (session, weight, clock)
        totalWeight += weight
        return session
    }

    /// `InferenceGas.gas(session, inputShapes:)` for the session cached as `fileHash`,
    /// remembered for the last shapes asked; a session not in the cache is worked out each time.
    public func gas(_ fileHash: Hash32, session: InferenceSession, inputShapes: [String: [Int]]) -> (cost: ModelCost, gas: UInt64) {
        lock.lock()
        if entries[fileHash]?.session === session, let last = lastGas[fileHash], last.inputShapes == inputShapes {
            lock.unlock()
            return (last.cost, last.gas)
        }
        lock.unlock()
        let (cost, gas) = InferenceGas.gas(session, inputShapes: inputShapes)
        lock.lock()
        if entries[fileHash]?.session === session { lastGas[fileHash] = (inputShapes, cost, gas) }
        lock.unlock()
        return (cost, gas)
    }

    /// The file hashes held, most recently used first.
    public var cachedHashes: [Hash32] {
        lock.lock()
        defer { lock.unlock() }
        return entries.sorted { $0.value.lastUse > $1.value.lastUse }.map(\.key)
    }
}
