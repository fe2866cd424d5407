import Primitives

/// A block header: Ethereum's London fields, then this chain's two validator-set hashes
/// appended at the end of the RLP list, then — only in a block that carries evidence —
/// the evidence hash; the block hash is keccak256(rlp(header)) over all its fields (18,
/// or 19 with evidence). Fields with no meaning on this chain (ommers, difficulty, mixHash,
/// nonce) hold Ethereum's post-merge constants (`HeaderRules` enforces them); no
/// consensus data goes into `extraData`.
public struct Header: Equatable, Sendable {
    /// keccak256(rlp([])): the ommers hash of a block without ommers.
    public static let emptyOmmersHash = Keccak256.hash([0xC0])

    public var parentHash: Hash32
    public var ommersHash: Hash32 = Header.emptyOmmersHash
    /// The proposer; receives tips and the block reward.
    public var coinbase: Address
    public var stateRoot: Hash32
    public var transactionsRoot: Hash32
    public var receiptsRoot: Hash32
    public var logsBloom: Bloom
    public var difficulty: UInt256 = .zero
    public var number: UInt64
    public var gasLimit: UInt64
    public var gasUsed: UInt64
    public var timestamp: UInt64
    public var extraData: [UInt8] = []
    public var mixHash: Hash32 = .zero
    public var nonce: [UInt8] = [UInt8](repeating: 0, count: 8)
    public var baseFeePerGas: UInt256
    /// `ValidatorSet.hash` of the validators that sign this block.
    public var validatorsHash: Hash32
    /// `ValidatorSet.hash` of the validators that sign the next block.
    public var nextValidatorsHash: Hash32
    /// `Block.evidenceHash` of the block's evidence; nil — and absent from the RLP list —
    /// when the block carries none, so a block without evidence encodes exactly as before
    /// evidence existed (docs/chain.md, "Evidence").
    public var evidenceHash: Hash32?

    /// The number of RLP fields: Ethereum's 16 (London) and the two validator-set hashes.
    public static let fieldCount = 18
    /// The number of RLP fields of a block that carries evidence: one more, the evidence hash.
    public static let fieldCountWithEvidence = 19

    /// Creates a header; the post-merge constant fields take their defaults.
    public init(parentHash: Hash32, coinbase: Address, stateRoot: Hash32, transactionsRoot: Hash32, receiptsRoot: Hash32,
                logsBloom: Bloom, number: UInt64, gasLimit: UInt64, gasUsed: UInt64, timestamp: UInt64, baseFeePerGas: UInt256,
                validatorsHash: Hash32, nextValidatorsHash: Hash32, extraData: [UInt8] = [], evidenceHash: Hash32? = nil) {
        self.parentHash = parentHash
        self.coinbase = coinbase
        self.stateRoot = stateRoot
        self.transactionsRoot = transactionsRoot
        self.receiptsRoot = receiptsRoot
        self.logsBloom = logsBloom
        self.number = number
        self.gasLimit = gasLimit
        self.gasUsed = gasUsed
        self.timestamp = timestamp
        self.baseFeePerGas = baseFeePerGas
        self.validatorsHash = validatorsHash
        self.nextValidatorsHash = nextValidatorsHash
        self.extraData = extraData
        self.evidenceHash = evidenceHash
    }

    /// The RLP encoding.
    public var rlp: [UInt8] {
        var fields: [RLPItem] = [
            .bytes(parentHash.bytes), .bytes(ommersHash.bytes), .bytes(coinbase.bytes), .bytes(stateRoot.bytes),
            .bytes(transactionsRoot.bytes), .bytes(receiptsRoot.bytes), .bytes(logsBloom.bytes), .uint(difficulty),
            .uint(number), .uint(gasLimit), .uint(gasUsed), .uint(timestamp), .bytes(extraData), .bytes(mixHash.bytes),
            .bytes(nonce), .uint(baseFeePerGas), .bytes(validatorsHash.bytes), .bytes(nextValidatorsHash.bytes),
        ]
        if let evidenceHash { fields.append(.bytes(evidenceHash.bytes)) }
        return RLP.encode(.list(fields))
    }

    /// keccak256(rlp(header)).
    public var hash: Hash32 { Keccak256.hash(rlp) }

    /// Decodes a header; errors name the field.
    public init(rlp bytes: [UInt8]) throws {
        let f = try RLP.decode(bytes).list("header")
        guard f.count == Self.fieldCount || f.count == Self.fieldCountWithEvidence else {
            throw PrimitivesError(.rlp, "header must have \(Self.fieldCount) fields (\(Self.fieldCountWithEvidence) with evidence), got \(f.count)")
        }
        parentHash = try Hash32(f[0].bytes("parentHash"))
        ommersHash = try Hash32(f[1].bytes("ommersHash"))
        coinbase = try Address(f[2].bytes("miner"))
        stateRoot = try Hash32(f[3].bytes("stateRoot"))
        transactionsRoot = try Hash32(f[4].bytes("transactionsRoot"))
        receiptsRoot = try Hash32(f[5].bytes("receiptsRoot"))
        logsBloom = try Bloom(f[6].bytes("logsBloom"))
        difficulty = try f[7].uint256("difficulty")
        number = try f[8].uint64("number")
        gasLimit = try f[9].uint64("gasLimit")
        gasUsed = try f[10].uint64("gasUsed")
        timestamp = try f[11].uint64("timestamp")
        extraData = try f[12].bytes("extraData")
        mixHash = try Hash32(f[13].bytes("mixHash"))
        nonce = try f[14].bytes("nonce")
        baseFeePerGas = try f[15].uint256("baseFeePerGas")
        validatorsHash = try Hash32(f[16].bytes("validatorsHash"))
        nextValidatorsHash = try Hash32(f[17].bytes("nextValidatorsHash"))
        evidenceHash = f.count == Self.fieldCountWithEvidence ? try Hash32(f[18].bytes("evidenceHash")) : nil
    }

    /// EIP-1559: the base fee of the block after `self`. The target is half the gas
    /// limit; the fee moves by at most 1/8 per block toward the target.
    public var nextBaseFee: UInt256 {
        let target = UInt256(gasLimit / 2)
        guard !target.isZero else { return baseFeePerGas }
        let used = UInt256(gasUsed)
        if used == target { return baseFeePerGas }
        if used > target {
            let delta = baseFeePerGas * (used - target) / target / UInt256(8)
            return baseFeePerGas + Swift.max(delta, .one)
        }
        let delta = baseFeePerGas * (target - used) / target / UInt256(8)
        return baseFeePerGas - delta
    }
}

/// A 2048-bit log bloom filter (Yellow Paper 4.3.1).
public struct Bloom: Equatable, Sendable {
    /// The filter's size in bytes.
    public static let byteCount = 256
    /// 256 bytes.
    public private(set) var bytes: [UInt8]

    /// The 256 zero bytes every empty filter shares (copied on first write): most
    /// receipts have no logs.
    private static let zeroBytes = [UInt8](repeating: 0, count: byteCount)

    /// The empty filter.
    public init() { bytes = Self.zeroBytes }

    /// A filter from its 256 bytes.
    public init(_ bytes: [UInt8]) throws {
        guard bytes.count == 256 else { throw PrimitivesError(.length, "logsBloom must be 256 bytes, got \(bytes.count)") }
        self.bytes = bytes
    }

    /// Adds `value` (an address or topic): three bits chosen by keccak(value).
    public mutating func insert(_ value: [UInt8]) {
        let h = Keccak256.digest(value)
        for i in stride(from: 0, to: 6, by: 2) {
            let bit = (Int(h[i]) << 8 | Int(h[i + 1])) & 2047
            bytes[255 - bit / 8] |= 1 << UInt8(bit % 8)
        }
    }

    /// True when every bit `value` sets is set (it may be present).
    public func mightContain(_ value: [UInt8]) -> Bool {
        var probe = Bloom()
        probe.insert(value)
        for i in 0..<256 where probe.bytes[i] & bytes[i] != probe.bytes[i] { return false }
        return true
    }

    /// Merges another filter into this one.
    public mutating func formUnion(_ other: Bloom) {
        if other.bytes == Self.zeroBytes { return }
        for i in 0..<256 { bytes[i] |= other.bytes[i] }
    }

    /// The filter of a set of logs.
    public init(logs: [Log]) {
        self.init()
        for log in logs {
            insert(log.address.bytes)
            for t in log.topics { insert(t.bytes) }
        }
    }
}
