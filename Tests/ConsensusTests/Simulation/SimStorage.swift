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

/// Signer state in memory; `store` is atomic and durable by construction, as the file version is.
final class SimSignerStorage: SignerStateStorage {
    private var bytes: [UInt8]?
    func load() throws -> [UInt8]? { bytes }
    func store(_ bytes: [UInt8]) throws { self.bytes = bytes }
}
