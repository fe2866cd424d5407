import Chain

/// libFuzzer entry: any bytes are either a signed transaction whose canonical encoding
/// is exactly the input, or an error; never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTransaction(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let raw = Array(UnsafeBufferPointer(start: data, count: size))
    if let tx = try? SignedTransaction(raw: raw) {
        guard tx.raw == raw else { fatalError("decoded transaction re-encodes differently") }
        _ = try? tx.transaction.validateStateless()
    }
    return 0
}
