import Primitives

/// The type lists the fuzzer decodes against: static, dynamic, nested. They are parsed
/// per input rather than kept in a global: Swift stores enum case tags in a pointer's
/// spare bits, so LeakSanitizer cannot see that a global `[ABIType]` still reaches its
/// indirect-case boxes and would report a leak that is not one.
let typeTexts = [
    "(uint256)", "(bytes32,string)", "(address,uint64)", "(int8,bool,bytes)", "(uint256[])", "(string[2])",
    "((uint8,string)[],bytes4)", "(bytes[],int256[3])", "(((bool,string)[])[])", "(string)",
]

func typeList(_ index: Int) -> [ABIType] {
    let text = typeTexts[index % typeTexts.count]
    guard case .tuple(let types) = try! ABIType(parsing: text) else { fatalError("not a tuple: \(text)") }
    return types
}

/// libFuzzer entry: the first byte picks a type list, the rest is ABI data. Decoding
/// either fails or yields values that re-encode and decode to the same values; never a
/// crash, hang or huge allocation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzABI(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let types = typeList(Int(data[0]))
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    _ = ABI.decodeRevert(body)
    guard let values = try? ABI.decode(types, body) else { return 0 }
    guard let encoded = try? ABI.encode(types, values) else { fatalError("decoded values do not encode") }
    guard let again = try? ABI.decode(types, encoded), again == values else { fatalError("re-encoded data decodes differently") }
    return 0
}
