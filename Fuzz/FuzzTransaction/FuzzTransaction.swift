import Chain

/// libFuzzer entry: any bytes are either a signed transaction whose canonical encoding
/// is exactly the input, or an error; never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTransaction(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let raw = Array(UnsafeBufferPointer(start: data, count: size))
    if let tx = try? SignedTransaction(raw: raw) {
        guard tx.canonicalEncoding == raw else { fatalError("decoded transaction re-encodes differently") }
        // The signing hash taken from slices of `raw` recovers the same sender as the one
        // built by re-encoding the fields.
        guard let rebuilt = try? SignedTransaction(transaction: tx.transaction, r: tx.r, s: tx.s, yParity: tx.yParity),
              rebuilt.sender == tx.sender, rebuilt.hash == tx.hash else { fatalError("signing hash from raw differs") }
        _ = try? TransactionRules.checkStateless(tx)
    }
    return 0
}
