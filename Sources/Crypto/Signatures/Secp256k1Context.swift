import COpenSSL
import CSecp256k1

/// Owns the process's libsecp256k1 context (`secp256k1_context_create`), randomized once
/// for side-channel protection (`secp256k1_context_randomize`). Signing, verification
/// and recovery only read the context, so it is shared by all threads.
final class Secp256k1Context: @unchecked Sendable {
    /// The shared context.
    static let shared = Secp256k1Context()

    let pointer: OpaquePointer

    private init() {
        pointer = secp256k1_context_create(UInt32(SECP256K1_CONTEXT_NONE))
        var seed = [UInt8](repeating: 0, count: 32)
        if RAND_bytes(&seed, 32) == 1 {
            _ = secp256k1_context_randomize(pointer, seed)
        }
    }

    deinit { secp256k1_context_destroy(pointer) }
}
