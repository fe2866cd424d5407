import Primitives

/// libFuzzer entry: any bytes either decode to an item that re-encodes to the same
/// bytes (canonical form is unique) or are rejected with an error; nothing else.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRLP(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    if let item = try? RLP.decode(input) {
        guard RLP.encode(item) == input else { fatalError("RLP round trip changed the bytes") }
    }
    return 0
}
