import Chain
import Primitives

/// A native module: a `NativeHandler` that publishes its Solidity ABI (a file under
/// `docs/abi/`, embedded in the binary and printed by `opg abi NAME`) and declares the
/// functions it dispatches and the events it emits, which `ModulesTests` checks against
/// that file and against the module's behaviour.
public protocol NativeModule: NativeHandler {
    /// The ABI as the standard JSON array (the `docs/abi/NAME.json` file's bytes).
    var abiJSON: String { get }
    /// The functions the module dispatches on.
    var functions: [ModuleFunction] { get }
    /// The canonical signatures of the events the module emits (`Notarized(address,bytes32,string)`).
    var events: [String] { get }
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

    /// Declares a function.
    public init(_ signature: String, _ mutability: Mutability) {
        self.signature = signature
        self.mutability = mutability
    }

    /// The 4-byte selector: the first bytes of keccak256(signature).
    public var selector: [UInt8] { ABI.selector(signature) }
}

extension NativeModule {
    /// The event topics the module emits (keccak256 of each signature).
    public var eventTopics: [Hash32] { events.map(ABI.eventTopic) }
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
