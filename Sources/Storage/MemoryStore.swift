import Foundation

/// An in-memory `KeyValueStore` for unit tests, with the same ordering and atomicity
/// as `LevelDBStore`. Guarded by one lock.
public final class MemoryStore: KeyValueStore {
    private var items: [[UInt8]: [UInt8]] = [:]
    private let lock = NSLock()

    /// Creates an empty store.
    public init() {}

    public func get(_ key: [UInt8]) throws -> [UInt8]? { lock.withLock { items[key] } }

    public func put(_ key: [UInt8], _ value: [UInt8]) throws { lock.withLock { items[key] = value } }

    public func delete(_ key: [UInt8]) throws { _ = lock.withLock { items.removeValue(forKey: key) } }

    public func write(_ batch: WriteBatch, sync: Bool) throws {
        lock.withLock {
            for op in batch.operations {
                switch op {
                case let .put(k, v): items[k] = v
                case let .delete(k): items[k] = nil
                }
            }
        }
    }

    public func scan(prefix: [UInt8], _ body: ([UInt8], [UInt8]) throws -> Bool) throws {
        let matching = lock.withLock {
            items.filter { $0.key.starts(with: prefix) }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        }
        for (k, v) in matching where try !body(k, v) { return }
    }

    /// The number of keys held.
    public var count: Int { lock.withLock { items.count } }
}
