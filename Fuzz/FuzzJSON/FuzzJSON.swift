import JSON

/// libFuzzer entry for the JSON parser and writer: any bytes either are rejected with a
/// `JSONError` or parse to a value whose compact text parses back to an equal value and is
/// written again byte for byte (parse → write → parse is stable); never a crash or a hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let value: JSONValue
    do {
        value = try JSONParser.parse(input)
    } catch is JSONError {
        return 0
    } catch {
        fatalError("the parser threw something other than a JSONError: \(error)")
    }
    let text = value.serializedBytes()
    let again: JSONValue
    do {
        again = try JSONParser.parse(text)
    } catch {
        fatalError("the writer's output does not parse: \(error)")
    }
    guard again == value else { fatalError("written JSON parses to a different value") }
    guard again.serializedBytes() == text else { fatalError("writing the re-parsed value gives different bytes") }
    return 0
}
