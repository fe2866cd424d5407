import Chain
import JSON
import Modules
import Primitives

/// Decodes calls to the native modules and the events they emit, from the modules'
/// published ABIs (`docs/abi/*.json`, embedded in `Modules`), into JSON for the explorer
/// and `opg_decodeTransaction`. Integers become decimal strings (a page's JavaScript
/// numbers lose precision past 2^53), addresses are checksummed, bytes are hex, tuples
/// are objects keyed by their components' names.
struct ModuleDecoder {
    /// A parameter of a function or event as the ABI file declares it.
    struct Parameter {
        let name: String
        let type: ABIType
        /// The components of a tuple (or of the tuples of a tuple array), else empty.
        let components: [Parameter]
        let indexed: Bool
    }

    /// A function or event of one module.
    struct Entry {
        let module: String
        let name: String
        let signature: String
        let inputs: [Parameter]
    }

    private var functions: [[UInt8]: Entry] = [:]
    private var events: [Hash32: Entry] = [:]
    /// Each module's name by its address.
    private(set) var moduleNames: [Address: String] = [:]

    /// A decoder for `modules` (the standard ones by default). An ABI file that cannot be
    /// read is a programming error caught by the tests, so it fails loudly here.
    init(modules: [NativeModule] = StandardModules.all()) throws {
        for module in modules {
            moduleNames[module.address] = module.name
            guard let items = try JSONParser.parse(module.abiJSON).arrayValue else {
                throw ModuleDecoderError("\(module.name)'s ABI is not a JSON array")
            }
            for item in items {
                guard let kind = item["type"]?.stringValue, kind == "function" || kind == "event",
                      let name = item["name"]?.stringValue, let inputs = item["inputs"]?.arrayValue else { continue }
                let parameters = try inputs.map(Self.parameter)
                let signature = name + "(" + parameters.map(\.type.description).joined(separator: ",") + ")"
                let entry = Entry(module: module.name, name: name, signature: signature, inputs: parameters)
                if kind == "function" { functions[ABI.selector(signature)] = entry } else { events[ABI.eventTopic(signature)] = entry }
            }
        }
    }

    private static func parameter(_ json: JSONValue) throws -> Parameter {
        guard let type = json["type"]?.stringValue else { throw ModuleDecoderError("an ABI parameter has no type") }
        let components = try (json["components"]?.arrayValue ?? []).map(Self.parameter)
        var canonical = type
        if type.hasPrefix("tuple") {
            canonical = "(" + components.map(\.type.description).joined(separator: ",") + ")" + type.dropFirst("tuple".count)
        }
        return Parameter(name: json["name"]?.stringValue ?? "", type: try ABIType(parsing: canonical), components: components,
                         indexed: json["indexed"]?.boolValue ?? false)
    }

    /// The call `input` sent to `to`: `{module, function, signature, arguments}`; `{module,
    /// error}` when the module has no such function or the arguments do not decode; nil
    /// when `to` is no module or the input is empty (a plain transfer).
    func call(to: Address?, input: [UInt8]) -> JSONValue? {
        guard let to, let module = moduleNames[to], !input.isEmpty else { return nil }
        guard input.count >= 4, let entry = functions[Array(input[0..<4])], entry.module == module else {
            return .object(["module": .string(module), "error": .string("unknown function selector \(Hex.encode(Array(input.prefix(4))))")])
        }
        do {
            let values = try ABI.decode(entry.inputs.map(\.type), Array(input[4...]))
            return .object(["module": .string(module), "function": .string(entry.name), "signature": .string(entry.signature),
                            "arguments": Self.object(entry.inputs, values)])
        } catch {
            return .object(["module": .string(module), "function": .string(entry.name), "error": .string("\(error)")])
        }
    }

    /// The event `log` as `{module, event, signature, arguments}` (an indexed argument of
    /// a dynamic type is its topic, the keccak256 of its value); `{module, error}` when it
    /// does not decode; nil when its emitter is no module.
    func event(_ log: Log) -> JSONValue? {
        guard let module = moduleNames[log.address] else { return nil }
        guard let topic = log.topics.first, let entry = events[topic], entry.module == module else {
            return .object(["module": .string(module), "error": .string("unknown event topic \(log.topics.first?.hex ?? "(none)")")])
        }
        do {
            let indexed = entry.inputs.filter(\.indexed)
            let plain = entry.inputs.filter { !$0.indexed }
            guard log.topics.count == indexed.count + 1 else { throw ModuleDecoderError("\(log.topics.count - 1) indexed topics, want \(indexed.count)") }
            var decoded: [String: JSONValue] = [:]
            for (parameter, topic) in zip(indexed, log.topics.dropFirst()) {
                decoded[parameter.name] = parameter.type.isDynamic
                    ? .string(topic.hex) : Self.json(try ABI.decode([parameter.type], topic.bytes)[0], parameter)
            }
            for (parameter, value) in zip(plain, try ABI.decode(plain.map(\.type), log.data)) { decoded[parameter.name] = Self.json(value, parameter) }
            let arguments = JSONObject(entry.inputs.map { ($0.name, decoded[$0.name] ?? .null) })
            return .object(["module": .string(module), "event": .string(entry.name), "signature": .string(entry.signature),
                            "arguments": .object(arguments)])
        } catch {
            return .object(["module": .string(module), "event": .string(entry.name), "error": .string("\(error)")])
        }
    }

    private static func object(_ parameters: [Parameter], _ values: [ABIValue]) -> JSONValue {
        .object(JSONObject(zip(parameters, values).map { ($0.name, json($1, $0)) }))
    }

    private static func json(_ value: ABIValue, _ parameter: Parameter) -> JSONValue {
        switch value {
        case .uint(let v): return .string(v.description)
        case .int(let v):
            guard v >= UInt256.one << 255 else { return .string(v.description) }
            return .string("-" + UInt256.zero.subtractingReportingOverflow(v).partialValue.description)
        case .address(let a): return .string(a.checksummed)
        case .bool(let b): return .bool(b)
        case .fixedBytes(let b), .bytes(let b): return .string(Hex.encode(b))
        case .string(let s): return .string(s)
        case .array(let items):
            let element = Parameter(name: parameter.name, type: parameter.type, components: parameter.components, indexed: false)
            return .array(items.map { json($0, element) })
        case .tuple(let items): return object(parameter.components, items)
        }
    }
}

/// An ABI file the decoder cannot read.
struct ModuleDecoderError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
