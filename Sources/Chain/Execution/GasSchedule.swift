/// Gas costs of execution. Transfers cost what they cost on Ethereum; native handlers
/// pay for storage and logs at Ethereum's (post-Berlin) prices so that gas means the
/// same work it does there. Documented in docs/execution.md.
public enum GasSchedule {
    /// Every transaction.
    public static let transaction: UInt64 = 21_000
    /// Per zero byte of calldata.
    public static let zeroByte: UInt64 = 4
    /// Per non-zero byte of calldata.
    public static let nonZeroByte: UInt64 = 16
    /// Per access-list address.
    public static let accessListAddress: UInt64 = 2_400
    /// Per access-list storage key.
    public static let accessListStorageKey: UInt64 = 1_900
    /// Entering a native handler (like a call to a warm account).
    public static let nativeCall: UInt64 = 100
    /// Reading a storage slot (cold SLOAD).
    public static let storageRead: UInt64 = 2_100
    /// Writing a non-zero value to an empty slot (SSTORE set).
    public static let storageSet: UInt64 = 20_000
    /// Changing or clearing a set slot (SSTORE reset).
    public static let storageUpdate: UInt64 = 5_000
    /// A log record.
    public static let log: UInt64 = 375
    /// Per log topic.
    public static let logTopic: UInt64 = 375
    /// Per byte of log data.
    public static let logDataByte: UInt64 = 8
    /// Per 32-byte word hashed by a handler (KECCAK256 word cost).
    public static let hashWord: UInt64 = 6
    /// A handler reading an account's balance (cold BALANCE, EIP-2929).
    public static let balanceRead: UInt64 = 2_600
    /// A handler moving $OPG out of its account, or a module-to-module call with value
    /// (CALL's value-transfer cost).
    public static let valueTransfer: UInt64 = 9_000
    /// Gas each begin-block and end-block hook may use; not counted against the block's
    /// gas limit. A hook that needs more fails and its changes are undone.
    public static let blockHook: UInt64 = 10_000_000
}

extension GasSchedule {
    /// Intrinsic gas of a call with `data` and an access list of `addresses` entries
    /// holding `storageKeys` keys in all: what a transaction pays before it runs.
    public static func intrinsicGas(data: [UInt8], accessListAddresses: Int = 0, accessListStorageKeys: Int = 0) -> UInt64 {
        let zeros = data.withUnsafeBufferPointer(zeroByteCount)
        let dataGas = zeroByte * UInt64(zeros) + nonZeroByte * UInt64(data.count - zeros)
        return transaction + dataGas + accessListAddress * UInt64(accessListAddresses) + accessListStorageKey * UInt64(accessListStorageKeys)
    }

    /// The number of zero bytes in `bytes`, eight at a time: in each 64-bit word,
    /// ((w & 0x7F…) + 0x7F…) | w | 0x7F… has a byte's top bit clear exactly when that byte
    /// is zero (the sum cannot carry across bytes), so the complement's popcount counts them.
    static func zeroByteCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        var zeros = 0, i = 0
        if let base = bytes.baseAddress {
            let raw = UnsafeRawPointer(base)
            while i + 8 <= bytes.count {
                let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                zeros += (~(((w & low7) &+ low7) | w | low7)).nonzeroBitCount
                i += 8
            }
        }
        while i < bytes.count {
            if bytes[i] == 0 { zeros += 1 }
            i += 1
        }
        return zeros
    }
}
