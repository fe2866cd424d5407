import Crypto
import Primitives

/// The EIP-2718 transaction types opg accepts.
public enum TransactionType: UInt8, Sendable {
    /// Legacy (type 0); only with an EIP-155 chain id at admission.
    case legacy = 0
    /// EIP-2930 access-list transaction.
    case accessList = 1
    /// EIP-1559 dynamic-fee transaction.
    case dynamicFee = 2
}

/// One entry of an EIP-2930 access list.
public struct AccessListEntry: Equatable, Sendable {
    /// The account.
    public var address: Address
    /// Storage keys of that account.
    public var storageKeys: [Hash32]

    /// Creates an entry.
    public init(address: Address, storageKeys: [Hash32]) {
        self.address = address
        self.storageKeys = storageKeys
    }
}

/// The fields a sender signs. Legacy and EIP-2930 transactions carry one `gasPrice`,
/// exposed as both fee caps so the fee rules treat every type alike.
public struct Transaction: Equatable, Sendable {
    /// The type.
    public var type: TransactionType
    /// The chain id; nil only for a pre-EIP-155 legacy transaction.
    public var chainId: UInt64?
    /// The sender's nonce.
    public var nonce: UInt64
    /// Tip cap per gas (gasPrice for types 0 and 1).
    public var maxPriorityFeePerGas: UInt256
    /// Fee cap per gas (gasPrice for types 0 and 1).
    public var maxFeePerGas: UInt256
    /// Gas limit.
    public var gasLimit: UInt64
    /// Recipient; nil means contract creation.
    public var to: Address?
    /// Value in wei.
    public var value: UInt256
    /// Calldata.
    public var data: [UInt8]
    /// Access list (types 1 and 2).
    public var accessList: [AccessListEntry]

    /// Creates a transaction; for types 0 and 1 pass the gas price as both fee fields.
    public init(type: TransactionType, chainId: UInt64?, nonce: UInt64, maxPriorityFeePerGas: UInt256, maxFeePerGas: UInt256,
                gasLimit: UInt64, to: Address?, value: UInt256, data: [UInt8] = [], accessList: [AccessListEntry] = []) {
        self.type = type
        self.chainId = chainId
        self.nonce = nonce
        self.maxPriorityFeePerGas = maxPriorityFeePerGas
        self.maxFeePerGas = maxFeePerGas
        self.gasLimit = gasLimit
        self.to = to
        self.value = value
        self.data = data
        self.accessList = accessList
    }

    /// The gas price of a type 0 or 1 transaction.
    public var gasPrice: UInt256 { maxFeePerGas }

    /// Gas charged before execution: 21,000 (+32,000 and 2 per initcode word for a
    /// creation), 4/16 per zero/non-zero data byte, 2,400 per access-list address and
    /// 1,900 per storage key (Shanghai rules).
    public var intrinsicGas: UInt64 {
        var gas = GasSchedule.intrinsicGas(data: data, accessListAddresses: accessList.count,
                                           accessListStorageKeys: accessList.reduce(0) { $0 + $1.storageKeys.count })
        if to == nil { gas += 32_000 + 2 * UInt64((data.count + 31) / 32) }
        return gas
    }

    /// The RLP fields in signing order, without signature.
    func payloadFields() -> [RLPItem] {
        let toItem = RLPItem.bytes(to?.bytes ?? [])
        let list = RLPItem.list(accessList.map { .list([.bytes($0.address.bytes), .list($0.storageKeys.map { .bytes($0.bytes) })]) })
        switch type {
        case .legacy:
            return [.uint(nonce), .uint(gasPrice), .uint(gasLimit), toItem, .uint(value), .bytes(data)]
        case .accessList:
            return [.uint(chainId ?? 0), .uint(nonce), .uint(gasPrice), .uint(gasLimit), toItem, .uint(value), .bytes(data), list]
        case .dynamicFee:
            return [.uint(chainId ?? 0), .uint(nonce), .uint(maxPriorityFeePerGas), .uint(maxFeePerGas), .uint(gasLimit), toItem,
                    .uint(value), .bytes(data), list]
        }
    }

    /// The hash the sender signs: keccak of the type byte and the RLP payload (legacy:
    /// the six fields plus `chainId, 0, 0` under EIP-155, or just six without a chain id).
    public var signingHash: Hash32 {
        switch type {
        case .legacy:
            var fields = payloadFields()
            if let chainId { fields += [.uint(chainId), .empty, .empty] }
            return Keccak256.hash(RLP.encode(.list(fields)))
        case .accessList, .dynamicFee:
            return Keccak256.hash([type.rawValue] + RLP.encode(.list(payloadFields())))
        }
    }

    /// Signs with `key`, producing the signed transaction.
    public func signed(with key: PrivateKey) throws -> SignedTransaction {
        let signature = key.sign(signingHash)
        return try SignedTransaction(transaction: self, r: signature.r, s: signature.s, yParity: signature.recoveryID)
    }
}
