import Consensus

/// A WAL storage in memory that remembers which bytes were synced: a crash keeps the synced
/// bytes and, sometimes, a prefix of the unsynced ones (a torn tail).
final class SimDisk: WALStorage {
    private(set) var synced: [UInt8] = []
    private(set) var unsynced: [UInt8] = []

    func readAll() throws -> [UInt8] { synced + unsynced }
    func append(_ bytes: [UInt8]) throws { unsynced += bytes }
    func sync() throws {
        synced += unsynced
        unsynced = []
    }
    func truncate(to length: Int) throws {
        let all = synced + unsynced
        synced = Array(all.prefix(length))
        unsynced = []
    }
    func replace(with bytes: [UInt8]) throws {
        synced = bytes
        unsynced = []
    }

    /// Loses what was not synced, keeping a random prefix of it half of the time.
    func crash(_ random: inout SimRandom) {
        if !unsynced.isEmpty, random.chance(500) {
            synced += unsynced.prefix(random.below(unsynced.count))
        }
        unsynced = []
    }
}

/// Signer state in memory; `store` is atomic, as the file version is, and durable at `sync`.
final class SimSignerStorage: SignerStateStorage {
    private(set) var durable: [UInt8]?
    private(set) var stored: [UInt8]?
    func load() throws -> [UInt8]? { stored }
    func store(_ bytes: [UInt8]) throws { stored = bytes }
    func sync() throws { durable = stored }

    /// Loses the stores made since the last sync half of the time (a process crash keeps the
    /// page cache; a power cut does not).
    func crash(_ random: inout SimRandom) {
        if random.chance(500) { stored = durable }
        durable = stored
    }
}
