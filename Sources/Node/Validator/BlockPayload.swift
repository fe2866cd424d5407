import Chain
import Primitives

/// A block as the engine's opaque proposal payload: `rlp([header, [rawTransaction, …], [evidence, …]])`,
/// the header as its own RLP list, each transaction as a byte string of its signed encoding and
/// each piece of evidence as a byte string of its encoding (`Block.evidence`, docs/chain.md,
/// "Evidence"). The value's identity is the header hash, so the payload is bound to it by
/// `decode`'s check; the header commits to the transactions and (field 19, `evidenceHash`) to the
/// evidence, which the chain checks when it executes the block.
enum BlockPayload {
    /// The payload of `block`.
    static func encode(_ block: Block) -> [UInt8] {
        RLP.encodeList(encodedItems: [block.header.rlp, RLP.encode(.list(block.transactions.map { .bytes($0.raw) })),
                                      RLP.encode(.list(block.evidence.map { .bytes($0) }))])
    }

    /// The header, raw transactions and evidence of a payload; throws `BlockPayloadError` naming the problem.
    static func decode(_ payload: [UInt8], expectedHash: Hash32) throws -> (header: Header, rawTransactions: [[UInt8]], evidence: [[UInt8]]) {
        let header: Header
        let raws: [[UInt8]]
        let evidence: [[UInt8]]
        do {
            let parts = try RLP.decode(payload).list("block")
            guard parts.count == 3 else { throw BlockPayloadError.malformed("block must have 3 parts (header, transactions, evidence), got \(parts.count)") }
            header = try Header(rlp: RLP.encode(parts[0]))
            raws = try parts[1].list("transactions").enumerated().map { try $1.bytes("transactions[\($0)]") }
            evidence = try parts[2].list("evidence").enumerated().map { try $1.bytes("evidence[\($0)]") }
        } catch let e as BlockPayloadError {
            throw e
        } catch {
            throw BlockPayloadError.malformed("\(error)")
        }
        guard header.hash == expectedHash else { throw BlockPayloadError.hashMismatch(got: header.hash, expected: expectedHash) }
        return (header, raws, evidence)
    }
}

/// A proposal payload that is not the block it claims to be.
enum BlockPayloadError: Error, Equatable, CustomStringConvertible {
    /// Not `rlp([header, [tx, …], [evidence, …]])`.
    case malformed(String)
    /// The header hashes to another block than the one signed.
    case hashMismatch(got: Hash32, expected: Hash32)

    var description: String {
        switch self {
        case .malformed(let m): return "invalid block payload: \(m)"
        case .hashMismatch(let g, let e): return "invalid block payload: header hashes to \(g.hex), the proposal names \(e.hex)"
        }
    }
}
