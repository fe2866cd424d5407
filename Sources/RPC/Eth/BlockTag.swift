import Chain
import JSON
import Primitives

/// A block named in a request: a tag, a number, or (EIP-1898) a hash.
enum BlockTag: Equatable {
    case latest, earliest, pending, safe, finalized
    case number(UInt64)
    case hash(Hash32)

    /// Parses a block parameter; `allowHash` admits EIP-1898 objects and bare hashes.
    static func parse(_ value: JSONValue, _ what: String, allowHash: Bool = true) throws -> BlockTag {
        switch value {
        case .string(let text):
            switch text {
            case "latest": return .latest
            case "earliest": return .earliest
            case "pending": return .pending
            case "safe": return .safe
            case "finalized": return .finalized
            default:
                if allowHash, text.count == 66, let h = try? Hash32(hex: text) { return .hash(h) }
                do { return .number(try Hex.decodeQuantity(text)) } catch {
                    throw RPCError.invalidParams("\(what): block must be a tag (latest, earliest, pending, safe, finalized) or a hex quantity: \(error)")
                }
            }
        case .object(let o) where allowHash:
            if let h = o["blockHash"] {
                guard o["blockNumber"] == nil else { throw RPCError.invalidParams("\(what): give blockHash or blockNumber, not both") }
                guard case .string(let s) = h else { throw RPCError.invalidParams("\(what): blockHash must be a string") }
                return .hash(try RPCParams.hash(s, "\(what).blockHash"))
            }
            if let n = o["blockNumber"] { return try parse(n, "\(what).blockNumber", allowHash: false) }
            throw RPCError.invalidParams("\(what): a block object needs blockHash or blockNumber")
        default:
            throw RPCError.invalidParams("\(what): block must be a string or an EIP-1898 object")
        }
    }

    /// The block number this names, or nil when no such block exists.
    func resolve(in db: ChainDatabase) throws -> UInt64? {
        guard let head = db.head else { return nil }
        switch self {
        case .latest, .pending, .safe, .finalized: return head.number
        case .earliest: return 0
        case .number(let n): return n <= head.number ? n : nil
        case .hash(let h): return try db.number(of: h).flatMap { n in try db.hash(number: n) == h ? n : nil }
        }
    }
}
