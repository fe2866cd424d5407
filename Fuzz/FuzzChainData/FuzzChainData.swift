import Chain

/// libFuzzer entry for the chain's stored binary formats: the first byte picks the
/// decoder (block header, typed receipt, state account, stored receipt); the rest is its input. Each
/// either fails with an error or decodes to a value whose encoding is the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChainData(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 4 {
    case 0:
        if let header = try? Header(rlp: body), header.rlp != body { fatalError("header re-encodes differently") }
    case 1:
        if let receipt = try? Receipt(encoded: body), receipt.encoded != body { fatalError("receipt re-encodes differently") }
    case 3:
        if let receipt = try? Receipt(stored: body), receipt.storedEncoding != body { fatalError("stored receipt re-encodes differently") }
    default:
        if let account = try? Account(rlp: body), account.rlp != body { fatalError("account re-encodes differently") }
    }
    return 0
}
