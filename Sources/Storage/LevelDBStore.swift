import CLevelDB

/// A `KeyValueStore` in a LevelDB database directory. Owns the `leveldb_t` handle and
/// its options, cache and bloom filter, and frees them in `deinit` (which closes the
/// database). LevelDB is internally synchronized, so one instance serves all threads.
public final class LevelDBStore: KeyValueStore {
    private let db: OpaquePointer
    private let options: OpaquePointer
    private let cache: OpaquePointer
    private let filter: OpaquePointer
    private let readOptions: OpaquePointer
    private let writeOptions: OpaquePointer
    private let syncWriteOptions: OpaquePointer

    /// Opens (creating if missing) the database at `path`
    /// (`leveldb_open`, with a `cacheBytes` LRU block cache and a 10-bit bloom filter).
    public init(path: String, cacheBytes: Int = 64 << 20) throws {
        options = leveldb_options_create()
        cache = leveldb_cache_create_lru(cacheBytes)
        filter = leveldb_filterpolicy_create_bloom(10)
        leveldb_options_set_create_if_missing(options, 1)
        leveldb_options_set_cache(options, cache)
        leveldb_options_set_filter_policy(options, filter)
        leveldb_options_set_write_buffer_size(options, 32 << 20)
        leveldb_options_set_max_open_files(options, 512)
        readOptions = leveldb_readoptions_create()
        writeOptions = leveldb_writeoptions_create()
        syncWriteOptions = leveldb_writeoptions_create()
        leveldb_writeoptions_set_sync(syncWriteOptions, 1)
        var error: UnsafeMutablePointer<CChar>?
        let handle = leveldb_open(options, path, &error)
        if let message = Self.take(error) {
            Self.free(options: options, cache: cache, filter: filter, read: readOptions, write: writeOptions, sync: syncWriteOptions)
            throw StorageError("open", message)
        }
        guard let handle else {
            Self.free(options: options, cache: cache, filter: filter, read: readOptions, write: writeOptions, sync: syncWriteOptions)
            throw StorageError("open", "leveldb_open returned no handle for \(path)")
        }
        db = handle
    }

    deinit {
        leveldb_close(db)
        Self.free(options: options, cache: cache, filter: filter, read: readOptions, write: writeOptions, sync: syncWriteOptions)
    }

    /// Reads `key` (`leveldb_get`).
    public func get(_ key: [UInt8]) throws -> [UInt8]? {
        var length = 0
        var error: UnsafeMutablePointer<CChar>?
        let value = key.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { leveldb_get(db, readOptions, $0.baseAddress, k.count, &length, &error) }
        }
        if let message = Self.take(error) { throw StorageError("get", message) }
        guard let value else { return nil }
        defer { leveldb_free(value) }
        return Array(UnsafeRawBufferPointer(start: value, count: length).bindMemory(to: UInt8.self))
    }

    /// Writes one key (`leveldb_put`).
    public func put(_ key: [UInt8], _ value: [UInt8]) throws {
        var batch = WriteBatch()
        batch.put(key, value)
        try write(batch, sync: false)
    }

    /// Removes one key (`leveldb_delete`).
    public func delete(_ key: [UInt8]) throws {
        var batch = WriteBatch()
        batch.delete(key)
        try write(batch, sync: false)
    }

    /// Applies `batch` atomically (`leveldb_write`), fsync'd when `sync` is true.
    public func write(_ batch: WriteBatch, sync: Bool) throws {
        let native = leveldb_writebatch_create()!
        defer { leveldb_writebatch_destroy(native) }
        for op in batch.operations {
            switch op {
            case let .put(k, v):
                k.withUnsafeBufferPointer { kp in
                    v.withUnsafeBufferPointer { vp in
                        kp.withMemoryRebound(to: CChar.self) { kc in
                            vp.withMemoryRebound(to: CChar.self) { vc in
                                leveldb_writebatch_put(native, kc.baseAddress, kp.count, vc.baseAddress, vp.count)
                            }
                        }
                    }
                }
            case let .delete(k):
                k.withUnsafeBufferPointer { kp in
                    kp.withMemoryRebound(to: CChar.self) { leveldb_writebatch_delete(native, $0.baseAddress, kp.count) }
                }
            }
        }
        var error: UnsafeMutablePointer<CChar>?
        leveldb_write(db, sync ? syncWriteOptions : writeOptions, native, &error)
        if let message = Self.take(error) { throw StorageError("write", message) }
    }

    /// Iterates keys with `prefix` in order (`leveldb_create_iterator`, `leveldb_iter_seek`).
    public func scan(prefix: [UInt8], _ body: ([UInt8], [UInt8]) throws -> Bool) throws {
        let iterator = leveldb_create_iterator(db, readOptions)!
        defer { leveldb_iter_destroy(iterator) }
        prefix.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { leveldb_iter_seek(iterator, $0.baseAddress, p.count) }
        }
        while leveldb_iter_valid(iterator) != 0 {
            var keyLength = 0, valueLength = 0
            let keyPointer = leveldb_iter_key(iterator, &keyLength)!
            let key = Array(UnsafeRawBufferPointer(start: keyPointer, count: keyLength).bindMemory(to: UInt8.self))
            guard key.starts(with: prefix) else { break }
            let valuePointer = leveldb_iter_value(iterator, &valueLength)
            let value = valuePointer.map { Array(UnsafeRawBufferPointer(start: $0, count: valueLength).bindMemory(to: UInt8.self)) } ?? []
            guard try body(key, value) else { break }
            leveldb_iter_next(iterator)
        }
        var error: UnsafeMutablePointer<CChar>?
        leveldb_iter_get_error(iterator, &error)
        if let message = Self.take(error) { throw StorageError("scan", message) }
    }

    /// Converts and frees a LevelDB error string.
    private static func take(_ error: UnsafeMutablePointer<CChar>?) -> String? {
        guard let error else { return nil }
        defer { leveldb_free(error) }
        return String(cString: error)
    }

    private static func free(options: OpaquePointer, cache: OpaquePointer, filter: OpaquePointer,
                             read: OpaquePointer, write: OpaquePointer, sync: OpaquePointer) {
        leveldb_options_destroy(options)
        leveldb_cache_destroy(cache)
        leveldb_filterpolicy_destroy(filter)
        leveldb_readoptions_destroy(read)
        leveldb_writeoptions_destroy(write)
        leveldb_writeoptions_destroy(sync)
    }
}
