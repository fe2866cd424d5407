/// A byte-ordered key-value store. Keys and values are byte strings; iteration is in
/// unsigned lexicographic key order. Implementations are safe for concurrent readers
/// and writers; a `WriteBatch` is applied atomically (all of it or none of it).
public protocol KeyValueStore: AnyObject {
    /// The value stored under `key`, or nil.
    func get(_ key: [UInt8]) throws -> [UInt8]?
    /// Stores `value` under `key`.
    func put(_ key: [UInt8], _ value: [UInt8]) throws
    /// Removes `key` (absent keys are fine).
    func delete(_ key: [UInt8]) throws
    /// Applies every operation of `batch` atomically. With `sync`, the write is on
    /// stable storage (fsync) before this returns.
    func write(_ batch: WriteBatch, sync: Bool) throws
    /// Calls `body` for each key with `prefix`, in key order, until it returns false.
    func scan(prefix: [UInt8], _ body: ([UInt8], [UInt8]) throws -> Bool) throws
}

extension KeyValueStore {
    /// True when `key` has a value.
    public func has(_ key: [UInt8]) throws -> Bool { try get(key) != nil }
}

/// An ordered list of puts and deletes, applied atomically by `KeyValueStore.write`.
/// Later operations on the same key win.
public struct WriteBatch {
    /// One operation.
    public enum Operation: Equatable {
        /// Store the value under the key.
        case put([UInt8], [UInt8])
        /// Remove the key.
        case delete([UInt8])
    }

    /// The operations in the order they were added.
    public private(set) var operations: [Operation] = []

    /// Creates an empty batch.
    public init() {}

    /// Adds a put.
    public mutating func put(_ key: [UInt8], _ value: [UInt8]) { operations.append(.put(key, value)) }

    /// Adds a delete.
    public mutating func delete(_ key: [UInt8]) { operations.append(.delete(key)) }

    /// Reserves room for `count` operations.
    public mutating func reserveCapacity(_ count: Int) { operations.reserveCapacity(count) }

    /// Appends every operation of `other`.
    public mutating func append(_ other: WriteBatch) { operations += other.operations }

    /// The number of operations.
    public var count: Int { operations.count }
}
