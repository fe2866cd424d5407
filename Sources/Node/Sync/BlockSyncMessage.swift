import Chain
import Consensus
import Network
import Primitives

/// The messages of the blocks channel (docs/p2p.md, "Block sync"); integers big-endian.
///
/// | type | message | body |
/// | --- | --- | --- |
/// | `0x0001` | status | height (8) ‖ head hash (32) |
/// | `0x0002` | status request | empty |
/// | `0x0003` | get blocks | first height (8) ‖ count (2), 1…`maximumRequestCount` |
/// | `0x0004` | block | certificate (4 + n) ‖ header RLP (4 + n) ‖ count (4) ‖ count × transaction (4 + n) ‖ count (4) ‖ count × evidence item (4 + n) |
/// | `0x0005` | no block | height (8): the first requested block the sender does not hold |
/// | `0x00FF` | part | a block longer than one envelope, split (`MessageParts`) |
enum BlockSyncMessage: Equatable {
    case status(height: UInt64, headHash: Hash32)
    case statusRequest
    case getBlocks(from: UInt64, count: Int)
    case block(SyncedBlock)
    case noBlock(height: UInt64)

    static let statusType: UInt16 = 0x0001
    static let statusRequestType: UInt16 = 0x0002
    static let getBlocksType: UInt16 = 0x0003
    static let blockType: UInt16 = 0x0004
    static let noBlockType: UInt16 = 0x0005
    static let channelName = "blocks"
    /// The most blocks one request may ask for.
    static let maximumRequestCount = 64
    /// The longest block message after reassembly (4 MiB: a 30M-gas block of calldata is under 2 MiB).
    static let maximumBlockBytes = 4 << 20

    /// The message type and body.
    var encoded: (type: UInt16, body: [UInt8]) {
        var w = SyncWriter()
        switch self {
        case .status(let height, let headHash):
            w.u64(height)
            w.raw(headHash.bytes)
            return (Self.statusType, w.bytes)
        case .statusRequest:
            return (Self.statusRequestType, [])
        case .getBlocks(let from, let count):
            w.u64(from)
            w.u16(UInt16(count))
            return (Self.getBlocksType, w.bytes)
        case .block(let block):
            return (Self.blockType, block.encoded)
        case .noBlock(let height):
            w.u64(height)
            return (Self.noBlockType, w.bytes)
        }
    }

    /// The envelopes that carry this message (a large block in parts).
    var envelopes: [Envelope] {
        let (type, body) = encoded
        return MessageParts.envelopes(channel: .blocks, kind: type, body: body)
    }

    /// Decodes a whole (reassembled) message of `type`.
    init(type: UInt16, body: [UInt8]) throws {
        var r = SyncReader(body, channel: Self.channelName)
        switch type {
        case Self.statusType:
            self = .status(height: try r.u64("status height"), headHash: try Hash32(r.take(32, "status head hash")))
        case Self.statusRequestType:
            self = .statusRequest
        case Self.getBlocksType:
            let from = try r.u64("first height"), count = Int(try r.u16("block count"))
            guard from >= 1 else { throw SyncMessageError.invalidRequest("block 0 has no certificate and is never synced") }
            guard count >= 1 else { throw SyncMessageError.empty(Self.channelName, field: "block count") }
            guard count <= Self.maximumRequestCount else {
                throw SyncMessageError.tooLarge(Self.channelName, field: "block count", got: count, max: Self.maximumRequestCount)
            }
            guard from <= UInt64.max - UInt64(count) else { throw SyncMessageError.invalidRequest("heights past 2^64") }
            self = .getBlocks(from: from, count: count)
        case Self.blockType:
            self = .block(try SyncedBlock(decoding: body))
            return
        case Self.noBlockType:
            self = .noBlock(height: try r.u64("height"))
        default:
            throw SyncMessageError.unknownMessageType(Self.channelName, type)
        }
        try r.finish()
    }
}

/// A block as block sync carries it: header, raw transactions, evidence items and the commit
/// certificate that decided it. Decoding checks the encoding and that the certificate names this block; the
/// signatures and the transactions are checked when the block is applied.
struct SyncedBlock: Equatable {
    let header: Header
    let rawTransactions: [[UInt8]]
    /// The evidence the block carries (docs/chain.md, "Evidence"); empty for most blocks.
    let evidence: [[UInt8]]
    let certificate: CommitCertificate
    /// The certificate as received (what the chain stores).
    let certificateBytes: [UInt8]

    /// A block with its certificate.
    init(header: Header, rawTransactions: [[UInt8]], evidence: [[UInt8]] = [], certificateBytes: [UInt8]) throws {
        self.header = header
        self.rawTransactions = rawTransactions
        self.evidence = evidence
        self.certificateBytes = certificateBytes
        do {
            certificate = try CommitCertificate(decoding: certificateBytes)
        } catch {
            throw SyncMessageError.invalidField(BlockSyncMessage.channelName, field: "commit certificate", error)
        }
        guard certificate.height == header.number, certificate.blockHash == header.hash else {
            throw SyncMessageError(
                "blocks: commit certificate for block \(certificate.height) \(certificate.blockHash) sent with block \(header.number) \(header.hash)")
        }
    }

    var encoded: [UInt8] { Self.encode(header: header, rawTransactions: rawTransactions, evidence: evidence, certificateBytes: certificateBytes) }

    /// The body of a block message with these parts (whether or not they belong together).
    static func encode(header: Header, rawTransactions: [[UInt8]], evidence: [[UInt8]] = [], certificateBytes: [UInt8]) -> [UInt8] {
        let headerRLP = header.rlp
        var w = SyncWriter(capacity: 16 + certificateBytes.count + headerRLP.count + (rawTransactions + evidence).reduce(0) { $0 + 4 + $1.count })
        w.lengthPrefixed(certificateBytes)
        w.lengthPrefixed(headerRLP)
        w.u32(UInt32(rawTransactions.count))
        for raw in rawTransactions { w.lengthPrefixed(raw) }
        w.u32(UInt32(evidence.count))
        for item in evidence { w.lengthPrefixed(item) }
        return w.bytes
    }

    init(decoding body: [UInt8]) throws {
        let channel = BlockSyncMessage.channelName, limit = BlockSyncMessage.maximumBlockBytes
        var r = SyncReader(body, channel: channel)
        let certificateBytes = try r.lengthPrefixed("commit certificate", max: limit)
        let headerRLP = try r.lengthPrefixed("header", max: limit)
        let header: Header
        do { header = try Header(rlp: headerRLP) } catch { throw SyncMessageError.invalidField(channel, field: "header", error) }
        let count = Int(try r.u32("transaction count"))
        // Each transaction takes at least its 4-byte length and one byte.
        guard count <= r.remaining / 5 else { throw SyncMessageError.truncated(channel, field: "transactions", needed: count * 5, available: r.remaining) }
        var raws: [[UInt8]] = []
        raws.reserveCapacity(count)
        for _ in 0..<count {
            let raw = try r.lengthPrefixed("transaction", max: MempoolLimits.maxTransactionBytes)
            guard !raw.isEmpty else { throw SyncMessageError.empty(channel, field: "transaction") }
            raws.append(raw)
        }
        let evidenceCount = Int(try r.u32("evidence count"))
        guard evidenceCount <= Block.maxEvidence else {
            throw SyncMessageError.tooLarge(channel, field: "evidence count", got: evidenceCount, max: Block.maxEvidence)
        }
        var evidence: [[UInt8]] = []
        for _ in 0..<evidenceCount {
            let item = try r.lengthPrefixed("evidence item", max: Block.maxEvidenceBytes)
            guard !item.isEmpty else { throw SyncMessageError.empty(channel, field: "evidence item") }
            evidence.append(item)
        }
        try r.finish()
        try self.init(header: header, rawTransactions: raws, evidence: evidence, certificateBytes: certificateBytes)
    }
}
