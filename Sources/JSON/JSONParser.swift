/// A strict RFC 8259 parser: no trailing commas, comments, leading zeros, single quotes,
/// unescaped control characters, invalid escapes, lone surrogates or invalid UTF-8;
/// exactly one value, surrounded only by whitespace. Nesting is capped at `maxDepth`.
///
/// RFC 8259 leaves duplicate object keys to the implementation; here the last value
/// wins (at the key's first position), as with Go's encoding/json and so with geth:
/// a request means the same to this node as to geth.
public enum JSONParser {
    /// Deepest nesting of arrays and objects accepted.
    public static let maxDepth = 128

    /// Parses `bytes` as one JSON value.
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBufferPointer { try parse($0) }
    }

    /// Parses `text` as one JSON value.
    public static func parse(_ text: String) throws -> JSONValue {
        var text = text
        return try text.withUTF8 { try parse($0) }
    }

    /// Parses the bytes in `buffer` as one JSON value.
    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws -> JSONValue {
        var reader = Reader(buffer: buffer)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.offset == buffer.count else { throw reader.error("unexpected data after the JSON value") }
        return value
    }

    struct Reader {
        let buffer: UnsafeBufferPointer<UInt8>
        var offset = 0

        func error(_ message: String) -> JSONError { JSONError(offset: offset, message: message) }

        var atEnd: Bool { offset >= buffer.count }

        mutating func skipWhitespace() {
            while offset < buffer.count {
                switch buffer[offset] {
                case 0x20, 0x09, 0x0A, 0x0D: offset += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard !atEnd else { throw error("unexpected end of input, expected a value") }
            switch buffer[offset] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw error("unexpected character '\(Character(Unicode.Scalar(buffer[offset])))', expected a value")
            }
        }

        mutating func literal(_ word: StaticString) throws {
            let count = word.utf8CodeUnitCount
            guard buffer.count - offset >= count else { throw error("invalid literal, expected \(word)") }
            for i in 0..<count where buffer[offset + i] != word.utf8Start[i] { throw error("invalid literal, expected \(word)") }
            offset += count
        }

        mutating func object(depth: Int) throws -> JSONValue {
            guard depth <= JSONParser.maxDepth else { throw error("nesting deeper than \(JSONParser.maxDepth)") }
            offset += 1
            var members = ObjectMembers()
            skipWhitespace()
            if !atEnd && buffer[offset] == UInt8(ascii: "}") { offset += 1; return .object(JSONObject(members.list)) }
            while true {
                skipWhitespace()
                guard !atEnd, buffer[offset] == UInt8(ascii: "\"") else { throw error("expected a string key in object") }
                let key = try string()
                skipWhitespace()
                guard !atEnd, buffer[offset] == UInt8(ascii: ":") else { throw error("expected ':' after object key") }
                offset += 1
                skipWhitespace()
                members.set(key, try value(depth: depth))
                skipWhitespace()
                guard !atEnd else { throw error("unterminated object") }
                if buffer[offset] == UInt8(ascii: ",") { offset += 1; continue }
                if buffer[offset] == UInt8(ascii: "}") { offset += 1; return .object(JSONObject(members.list)) }
                throw error("expected ',' or '}' in object")
            }
        }

        mutating func array(depth: Int) throws -> JSONValue {
            guard depth <= JSONParser.maxDepth else { throw error("nesting deeper than \(JSONParser.maxDepth)") }
            offset += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if !atEnd && buffer[offset] == UInt8(ascii: "]") { offset += 1; return .array(elements) }
            while true {
                skipWhitespace()
                elements.append(try value(depth: depth))
                skipWhitespace()
                guard !atEnd else { throw error("unterminated array") }
                if buffer[offset] == UInt8(ascii: ",") { offset += 1; continue }
                if buffer[offset] == UInt8(ascii: "]") { offset += 1; return .array(elements) }
                throw error("expected ',' or ']' in array")
            }
        }

        mutating func number() throws -> JSONNumber {
            let start = offset
            if buffer[offset] == UInt8(ascii: "-") { offset += 1 }
            guard !atEnd, isDigit(buffer[offset]) else { throw error("a number needs digits") }
            if buffer[offset] == UInt8(ascii: "0") {
                offset += 1
                if !atEnd && isDigit(buffer[offset]) { throw error("numbers must not have leading zeros") }
            } else {
                while !atEnd && isDigit(buffer[offset]) { offset += 1 }
            }
            if !atEnd && buffer[offset] == UInt8(ascii: ".") {
                offset += 1
                guard !atEnd, isDigit(buffer[offset]) else { throw error("a fraction needs digits after '.'") }
                while !atEnd && isDigit(buffer[offset]) { offset += 1 }
            }
            if !atEnd && (buffer[offset] == UInt8(ascii: "e") || buffer[offset] == UInt8(ascii: "E")) {
                offset += 1
                if !atEnd && (buffer[offset] == UInt8(ascii: "+") || buffer[offset] == UInt8(ascii: "-")) { offset += 1 }
                guard !atEnd, isDigit(buffer[offset]) else { throw error("an exponent needs digits") }
                while !atEnd && isDigit(buffer[offset]) { offset += 1 }
            }
            return JSONNumber(text: String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<offset]), as: UTF8.self))
        }

        func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

        mutating func string() throws -> String {
            offset += 1
            let start = offset
            // Fast path: no escapes and all ASCII.
            var ascii = true
            while offset < buffer.count {
                let c = buffer[offset]
                if c == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: buffer[start..<offset])
                    offset += 1
                    if ascii { return String(decoding: slice, as: UTF8.self) }
                    guard let s = String(validating: slice, as: UTF8.self) else {
                        offset = start
                        throw error("string is not valid UTF-8")
                    }
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                if c < 0x20 { throw error("control character in string must be escaped") }
                if c >= 0x80 { ascii = false }
                offset += 1
            }
            var bytes = Array(buffer[start..<offset])
            while true {
                guard offset < buffer.count else { throw error("unterminated string") }
                let c = buffer[offset]
                switch c {
                case UInt8(ascii: "\""):
                    offset += 1
                    guard let s = String(validating: bytes, as: UTF8.self) else { throw error("string is not valid UTF-8") }
                    return s
                case UInt8(ascii: "\\"):
                    offset += 1
                    guard offset < buffer.count else { throw error("unterminated escape") }
                    let e = buffer[offset]
                    offset += 1
                    switch e {
                    case UInt8(ascii: "\""): bytes.append(0x22)
                    case UInt8(ascii: "\\"): bytes.append(0x5C)
                    case UInt8(ascii: "/"): bytes.append(0x2F)
                    case UInt8(ascii: "b"): bytes.append(0x08)
                    case UInt8(ascii: "f"): bytes.append(0x0C)
                    case UInt8(ascii: "n"): bytes.append(0x0A)
                    case UInt8(ascii: "r"): bytes.append(0x0D)
                    case UInt8(ascii: "t"): bytes.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard buffer.count - offset >= 6, buffer[offset] == UInt8(ascii: "\\"), buffer[offset + 1] == UInt8(ascii: "u") else {
                                throw error("high surrogate without a low surrogate")
                            }
                            offset += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw error("high surrogate without a low surrogate") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(scalar) {
                            throw error("lone low surrogate")
                        }
                        bytes.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                    default:
                        throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
                    }
                default:
                    if c < 0x20 { throw error("control character in string must be escaped") }
                    bytes.append(c)
                    offset += 1
                }
            }
        }

        mutating func hex4() throws -> UInt32 {
            guard buffer.count - offset >= 4 else { throw error("\\u needs four hex digits") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = buffer[offset]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw error("\\u needs four hex digits")
                }
                v = v << 4 | d
                offset += 1
            }
            return v
        }
    }
}

/// An object's members while it is parsed: a later duplicate key replaces the value.
/// Small objects are searched in place; past 16 members a name index keeps a hostile
/// object of many keys linear.
struct ObjectMembers {
    private(set) var list: [(String, JSONValue)] = []
    private var index: [String: Int] = [:]

    mutating func set(_ key: String, _ value: JSONValue) {
        if list.count < 16 {
            if let i = list.firstIndex(where: { $0.0 == key }) { list[i].1 = value } else { list.append((key, value)) }
            return
        }
        if index.isEmpty { for (i, member) in list.enumerated() { index[member.0] = i } }
        if let i = index[key] {
            list[i].1 = value
        } else {
            index[key] = list.count
            list.append((key, value))
        }
    }
}
