import JSON
import RPC

/// `net_listening` and `net_peerCount` from the validator's P2P transport (replacing the
/// constants `EthAPI` registers for a node without one).
struct NetworkRPC {
    let validator: ValidatorService

    init(_ validator: ValidatorService) { self.validator = validator }

    func register(on d: RPCDispatcher) {
        d.register("net_listening") { [validator] p in try p.expect(atMost: 0); return .bool(validator.isListening) }
        d.register("net_peerCount") { [validator] p in try p.expect(atMost: 0); return .string("0x" + String(validator.peerCount, radix: 16)) }
    }
}
