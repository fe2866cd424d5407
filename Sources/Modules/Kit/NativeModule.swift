import Chain
import Foundation
import Primitives

/// A native module: a `NativeHandler` that publishes its Solidity ABI (a file under
/// `docs/abi/`, embedded in the binary and printed by `opg abi NAME`) and declares the
/// functions it dispatches and the events it emits, which `ModulesTests` checks against
/// that file and against the module's behaviour.
///
/// Most modules adopt `SelectorDispatchedModule` and implement only `perform`; a module
/// whose past blocks depend on its own order of checks (Supply) writes `call` itself.
public protocol NativeModule: NativeHandler {
    /// The ABI as the standard JSON array (the `docs/abi/NAME.json` file's bytes).
    var abiJSON: String { get }
    /// The functions the module dispatches on.
    var functions: [ModuleFunction] { get }
    /// The canonical signatures of the events the module emits (`Notarized(address,bytes32,string)`).
    var events: [String] { get }
}

/// A module whose `call` dispatches by selector to `perform` and applies the function's
/// mutability: value sent to a `nonpayable` function reverts `NAME is not payable`, and a
/// `view` runs in a static scope, so it can change nothing and emit nothing, whoever calls
/// it (`eth_call`, a transaction, another module). A view does not refuse value (Notary's
/// `ownerOf` always kept it; the executor has already credited it); a module that must
/// refuse it checks `context.value`.
public protocol SelectorDispatchedModule: NativeModule {
    /// Runs `function` with the calldata after the selector.
    func perform(_ function: ModuleFunction, arguments: [UInt8], context: NativeCallContext) throws -> [UInt8]
}

/// A function a module answers: its canonical signature and Solidity state mutability.
/// A `view` function runs in a static scope: it cannot change state or emit events.
public struct ModuleFunction: Equatable, Sendable {
    /// Solidity's state mutability.
    public enum Mutability: String, Sendable {
        case view, nonpayable, payable
    }

    /// The canonical signature, `name(type,type,…)`, tuples written `(…)`.
    public let signature: String
    /// How the function may treat state and value.
    public let mutability: Mutability

    /// The 4-byte selector: the first bytes of keccak256(signature), hashed once when the
    /// function is declared (dispatch compares it against every call's calldata).
    public let selector: [UInt8]

    /// Declares a function.
    public init(_ signature: String, _ mutability: Mutability) {
        self.signature = signature
        self.mutability = mutability
        self.selector = ABI.selector(signature)
    }

    /// The function's name (the signature up to its parenthesis).
    public var name: Substring { signature.prefix { $0 != "(" } }
}

extension NativeModule {
    /// The event topics the module emits (keccak256 of each signature).
    public var eventTopics: [Hash32] { events.map(ABI.eventTopic) }
}

extension SelectorDispatchedModule {
    /// Dispatches by selector to `perform` under the function's mutability rules.
    public func call(_ context: NativeCallContext) throws -> [UInt8] {
        let input = context.input
        guard input.count >= 4 else { throw NativeRevert("calldata shorter than a 4-byte selector") }
        let selector = Array(input[0..<4])
        guard let function = functions.first(where: { $0.selector == selector }) else {
            throw NativeRevert("unknown function selector 0x\(Hex.encode(selector).dropFirst(2))")
        }
        let arguments = Array(input[4...])
        switch function.mutability {
        case .view: return try context.withStaticScope { try perform(function, arguments: arguments, context: context) }
        case .nonpayable:
            guard context.value.isZero else { throw NativeRevert("\(function.name) is not payable") }
            return try perform(function, arguments: arguments, context: context)
        case .payable: return try perform(function, arguments: arguments, context: context)
        }
    }
}

/// Event topics and call encodings of the modules' fixed signatures, each hashed (and
/// parsed) once per process: a module emits an event or calls another module on every
/// reveal, where one Keccak per signature and call showed up in block-execution profiles.
enum SignatureCache {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var topics: [String: Hash32] = [:]
    nonisolated(unsafe) private static var calls: [String: (selector: [UInt8], types: [ABIType])] = [:]

    /// keccak256(signature): topic 0 of the event `signature`.
    static func topic(_ signature: String) -> Hash32 {
        if let topic = lock.withLock({ topics[signature] }) { return topic }
        let topic = ABI.eventTopic(signature)
        lock.withLock { topics[signature] = topic }
        return topic
    }

    /// `ABI.encodeCall(signature, values)`, with the signature's selector and parameter
    /// types taken from the cache.
    static func encodeCall(_ signature: String, _ values: [ABIValue]) throws -> [UInt8] {
        let call: (selector: [UInt8], types: [ABIType])
        if let cached = lock.withLock({ calls[signature] }) {
            call = cached
        } else {
            call = (ABI.selector(signature), try ABIType.parseSignature(signature).types)
            lock.withLock { calls[signature] = call }
        }
        return call.selector + (try ABI.encode(call.types, values))
    }
}

/// The ABI text of an embedded `docs/abi` file.
func embeddedABI(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// Decodes a call's arguments; malformed calldata reverts with the codec's reason.
func decodeArguments(_ types: [ABIType], _ data: [UInt8]) throws -> [ABIValue] {
    do {
        return try ABI.decode(types, data)
    } catch let e as PrimitivesError {
        throw NativeRevert("invalid calldata: \(e.message)")
    }
}
