import Crypto
import Primitives

/// A signed transaction whose encoding, hash and sender are known. Built by decoding
/// raw bytes (`init(raw:)`) or by signing (`Transaction.signed(with:)`); either way the
/// signature has been checked (EIP-2 low s) and the sender recovered once.
public struct SignedTransaction: ExecutableTransaction, Equatable, Sendable {
    /// The signed fields.
    public let transaction: Transaction
    /// Signature r (32 bytes).
    public let r: [UInt8]
    /// Signature s (32 bytes).
    public let s: [UInt8]
    /// The recovery id (y parity).
    public let yParity: UInt8
    /// The raw encoding (EIP-2718 envelope for typed transactions).
    public let raw: [UInt8]
    /// keccak256 of `raw`.
    public let hash: Hash32
    /// The recovered sender.
    public let sender: Address

    /// Signs nothing: assembles a transaction from its fields and signature, then
    /// recovers and checks the sender.
    public init(transaction: Transaction, r: [UInt8], s: [UInt8], yParity: UInt8) throws {
        let signature = RecoverableSignature(r: r, s: s, recoveryID: yParity)
        self.transaction = transaction
        self.r = signature.r
        self.s = signature.s
        self.yParity = yParity
        let raw = Self.encode(transaction, signature: signature)
        self.raw = raw
        self.hash = Keccak256.hash(raw)
        do {
            self.sender = try signature.recoverAddress(transaction.signingHash)
        } catch {
            throw TransactionError("invalid sender: \(error)")
        }
    }

    /// Decodes and checks a raw signed transaction (legacy RLP or an EIP-2718 envelope).
    ///
    /// The decoder accepts only canonical RLP and canonical integers, so a transaction
    /// has exactly one accepted encoding and `raw` is kept as given; the signing hash is
    /// taken from slices of `raw` rather than by re-encoding (sender recovery is the
    /// hot path of block import). `canonicalEncoding` re-encodes from the fields, and
    /// the tests and Fuzz/FuzzTransaction check that it always equals `raw`.
    public init(raw: [UInt8]) throws {
        let (transaction, r, s, yParity, fields) = try Self.decodeWithFields(raw)
        let signature = RecoverableSignature(r: r, s: s, recoveryID: yParity)
        self.transaction = transaction
        self.r = signature.r
        self.s = signature.s
        self.yParity = yParity
        self.raw = raw
        self.hash = Keccak256.hash(raw)
        let signingHash = Self.signingHash(raw: raw, transaction, fields: fields)
        do {
            self.sender = try signature.recoverAddress(signingHash)
        } catch {
            throw TransactionError("invalid sender: \(error)")
        }
    }

    /// The encoding rebuilt from the decoded fields and signature (equal to `raw`).
    public var canonicalEncoding: [UInt8] {
        Self.encode(transaction, signature: RecoverableSignature(r: r, s: s, recoveryID: yParity))
    }

    /// The signing hash of a decoded `raw` transaction, from its bytes: the payload
    /// fields (all but v, r, s) are a prefix of the signed list's content, so the signing
    /// list is that prefix under a new header, plus chainId, 0, 0 for EIP-155 legacy.
    private static func signingHash(raw: [UInt8], _ tx: Transaction, fields: [RLPItem]) -> Hash32 {
        let contentLength = fields.reduce(0) { $0 + RLP.encodedSize($1) }
        let payloadStart = raw.count - contentLength
        let payloadLength = fields.dropLast(3).reduce(0) { $0 + RLP.encodedSize($1) }
        let eip155 = tx.type == .legacy ? tx.chainId : nil
        let suffixLength = eip155.map { RLP.uintSize($0) + 2 } ?? 0
        var preimage: [UInt8] = []
        preimage.reserveCapacity(1 + 9 + payloadLength + suffixLength)
        if tx.type != .legacy { preimage.append(tx.type.rawValue) }
        RLP.appendListHeader(payloadLength: payloadLength + suffixLength, to: &preimage)
        raw.withUnsafeBufferPointer { preimage.append(contentsOf: UnsafeBufferPointer(rebasing: $0[payloadStart..<payloadStart + payloadLength])) }
        if let chainId = eip155 {
            RLP.appendUInt(chainId, to: &preimage)
            preimage += [0x80, 0x80]
        }
        return Keccak256.hash(preimage)
    }

    /// Rebuilds a transaction this node stored after checking it, with the sender it
    /// recovered then (no second recovery). Only for the node's own database.
    public init(stored raw: [UInt8], sender: Address) throws {
        let (transaction, r, s, yParity) = try Self.decode(raw)
        self.transaction = transaction
        self.r = r
        self.s = s
        self.yParity = yParity
        self.raw = raw
        self.hash = Keccak256.hash(raw)
        self.sender = sender
    }

    /// The legacy `v` (`chainId·2 + 35 + yParity`, or 27 + yParity without a chain id);
    /// for typed transactions, the y parity.
    public var v: UInt256 {
        guard transaction.type == .legacy else { return UInt256(UInt64(yParity)) }
        guard let chainId = transaction.chainId else { return UInt256(27 + UInt64(yParity)) }
        return UInt256(chainId) * 2 + UInt256(35 + UInt64(yParity))
    }

    // ExecutableTransaction
    public var nonce: UInt64 { transaction.nonce }
    public var gasLimit: UInt64 { transaction.gasLimit }
    public var maxFeePerGas: UInt256 { transaction.maxFeePerGas }
    public var maxPriorityFeePerGas: UInt256 { transaction.maxPriorityFeePerGas }
    public var value: UInt256 { transaction.value }
    public var encodedSize: Int { raw.count }
    public var to: Address? { transaction.to }
    public var chainId: UInt64? { transaction.chainId }
    public var data: [UInt8] { transaction.data }
    public var intrinsicGas: UInt64 { transaction.intrinsicGas }

    static func encode(_ tx: Transaction, signature: RecoverableSignature) -> [UInt8] {
        let r = RLPItem.uint(signature.rValue), s = RLPItem.uint(signature.sValue)
        switch tx.type {
        case .legacy:
            let v: UInt256 = tx.chainId.map { UInt256($0) * 2 + UInt256(35 + UInt64(signature.recoveryID)) }
                ?? UInt256(27 + UInt64(signature.recoveryID))
            return RLP.encode(.list(tx.payloadFields() + [.uint(v), r, s]))
        case .accessList, .dynamicFee:
            return [tx.type.rawValue] + RLP.encode(.list(tx.payloadFields() + [.uint(UInt64(signature.recoveryID)), r, s]))
        }
    }

    static func decode(_ raw: [UInt8]) throws -> (Transaction, [UInt8], [UInt8], UInt8) {
        let (tx, r, s, parity, _) = try decodeWithFields(raw)
        return (tx, r, s, parity)
    }

    /// Decodes `raw`, also returning the RLP items of the signed list.
    private static func decodeWithFields(_ raw: [UInt8]) throws -> (Transaction, [UInt8], [UInt8], UInt8, [RLPItem]) {
        guard let first = raw.first else { throw TransactionError("transaction is empty") }
        do {
            if first >= 0xC0 {
                let fields = try RLP.decode(raw).list("transaction")
                let (tx, r, s, parity) = try decodeLegacy(fields)
                return (tx, r, s, parity, fields)
            }
            guard let type = TransactionType(rawValue: first), type != .legacy else {
                throw TransactionError("transaction type \(first) not supported (accepted: 0, 1 and 2)")
            }
            let fields = try RLP.decode(Array(raw[1...])).list("transaction")
            let (tx, r, s, parity) = try decodeTyped(type, fields)
            return (tx, r, s, parity, fields)
        } catch let error as PrimitivesError {
            throw TransactionError("rlp: \(error.message)")
        }
    }

    private static func decodeLegacy(_ f: [RLPItem]) throws -> (Transaction, [UInt8], [UInt8], UInt8) {
        guard f.count == 9 else { throw TransactionError("legacy transaction must have 9 fields, got \(f.count)") }
        let v = try f[6].uint256("v")
        let chainId: UInt64?, parity: UInt8
        if v == 27 || v == 28 {
            chainId = nil
            parity = UInt8(v.uint64! - 27)
        } else if v >= 35 {
            let (q, r) = (v - 35).quotientAndRemainder(dividingBy: UInt64(2))
            guard let id = q.uint64 else { throw TransactionError("chain id in v does not fit 64 bits") }
            chainId = id
            parity = UInt8(r)
        } else {
            throw TransactionError("invalid v \(v): must be 27, 28 or chainId·2+35/36 (EIP-155)")
        }
        let gasPrice = try f[1].uint256("gasPrice")
        let tx = Transaction(type: .legacy, chainId: chainId, nonce: try f[0].uint64("nonce"), maxPriorityFeePerGas: gasPrice,
                             maxFeePerGas: gasPrice, gasLimit: try f[2].uint64("gas"), to: try recipient(f[3]),
                             value: try f[4].uint256("value"), data: try f[5].bytes("data"))
        return (tx, try f[7].uint256Bytes("r"), try f[8].uint256Bytes("s"), parity)
    }

    private static func decodeTyped(_ type: TransactionType, _ f: [RLPItem]) throws -> (Transaction, [UInt8], [UInt8], UInt8) {
        let expected = type == .accessList ? 11 : 12
        guard f.count == expected else { throw TransactionError("type \(type.rawValue) transaction must have \(expected) fields, got \(f.count)") }
        let chainId = try f[0].uint64("chainId")
        let nonce = try f[1].uint64("nonce")
        let tip: UInt256, cap: UInt256
        var i = 2
        if type == .accessList {
            tip = try f[2].uint256("gasPrice")
            cap = tip
            i = 3
        } else {
            tip = try f[2].uint256("maxPriorityFeePerGas")
            cap = try f[3].uint256("maxFeePerGas")
            i = 4
        }
        let tx = Transaction(type: type, chainId: chainId, nonce: nonce, maxPriorityFeePerGas: tip, maxFeePerGas: cap,
                             gasLimit: try f[i].uint64("gas"), to: try recipient(f[i + 1]), value: try f[i + 2].uint256("value"),
                             data: try f[i + 3].bytes("data"), accessList: try accessList(f[i + 4]))
        let parity = try f[i + 5].uint64("yParity")
        guard parity <= 1 else { throw TransactionError("yParity must be 0 or 1, got \(parity)") }
        return (tx, try f[i + 6].uint256Bytes("r"), try f[i + 7].uint256Bytes("s"), UInt8(parity))
    }

    private static func recipient(_ item: RLPItem) throws -> Address? {
        let bytes = try item.bytes("to")
        if bytes.isEmpty { return nil }
        guard bytes.count == 20 else { throw TransactionError("to must be empty or 20 bytes, got \(bytes.count)") }
        return try Address(bytes)
    }

    private static func accessList(_ item: RLPItem) throws -> [AccessListEntry] {
        try item.list("accessList").map { entry in
            let pair = try entry.list("access list entry")
            guard pair.count == 2 else { throw TransactionError("access list entry must be [address, storageKeys]") }
            let address = try pair[0].bytes("access list address")
            guard address.count == 20 else { throw TransactionError("access list address must be 20 bytes, got \(address.count)") }
            let keys = try pair[1].list("access list storage keys").map { key -> Hash32 in
                let bytes = try key.bytes("storage key")
                guard bytes.count == 32 else { throw TransactionError("access list storage key must be 32 bytes, got \(bytes.count)") }
                return try Hash32(bytes)
            }
            return AccessListEntry(address: try Address(address), storageKeys: keys)
        }
    }
}
