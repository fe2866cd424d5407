import Chain
import Inference
import Modules
import Primitives

/// libFuzzer entry: the first byte picks a jobs-module decoder (0 `requestJob`, 1
/// `commitResult`, 2 `revealAttestations`, 3 the canonical tensor list a dispute reads an
/// exact job's input from), the rest is the calldata after the selector (or the input
/// bytes). Decoding either reverts with a reason or yields a value whose own encoding
/// decodes to the same value; a reveal's signature is also recovered. Never a crash, hang
/// or huge allocation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJobDecoders(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let arguments = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 4 {
    case 0:
        guard let request = try? JobRequest.decode(arguments) else { return 0 }
        guard let again = try? JobRequest.decode(Array((try! request.calldata()).dropFirst(4))), again == request else {
            fatalError("a decoded request does not round-trip")
        }
    case 1:
        guard let result = try? JobResult.decode(arguments) else { return 0 }
        guard let again = try? JobResult.decode(Array((try! result.calldata()).dropFirst(4))), again == result else {
            fatalError("a decoded result does not round-trip")
        }
    case 3:
        guard let tensors = try? TensorEncoding.tensors(canonical: arguments, maxElements: 1 << 16) else { return 0 }
        let encoded = TensorEncoding.canonical(tensors)
        guard let again = try? TensorEncoding.tensors(canonical: encoded, maxElements: 1 << 16), TensorEncoding.canonical(again) == encoded else {
            fatalError("a decoded canonical tensor list does not round-trip")
        }
    default:
        guard let reveals = try? AttestationReveal.decodeBatch(arguments) else { return 0 }
        let encoded = try! ABI.encode([.array(AttestationReveal.abiType)], [.array(reveals.map(\.abiValue))])
        guard let again = try? AttestationReveal.decodeBatch(encoded), again == reveals else { fatalError("decoded reveals do not round-trip") }
        for reveal in reveals {
            let message = Attestation(jobId: reveal.jobId, modelId: "QmFuzz", inputHash: reveal.salt, outputHash: reveal.salt, traceRoot: .zero,
                                      verdict: reveal.verdict, epoch: 0)
            _ = try? Attestation.recoverSigner(reveal.signature, digest: message.digest(chainId: 1))
        }
    }
    return 0
}
