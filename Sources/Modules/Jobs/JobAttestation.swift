import Chain
import Crypto
import Primitives

/// A verifier's verdict on a provider's result (docs/verification.md, "Attestations").
public enum Verdict: UInt8, Sendable, CaseIterable {
    /// The verifier reproduced the result (exact) or found it well-formed and available (attested-only).
    case valid = 1
    /// The verifier reproduced a different result, or the evidence is empty or malformed.
    case invalid = 2
    /// The verifier could not check the result (an unverifiable replay, missing bytes).
    case inconclusive = 3

    /// The verdict's name in docs, RPC and the CLI.
    public var name: String {
        switch self {
        case .valid: return "valid"
        case .invalid: return "invalid"
        case .inconclusive: return "inconclusive"
        }
    }
}

/// What a verifier signs: EIP-712 typed data in the domain {name "OPG-Verify", version
/// "1", chainId, verifyingContract = the jobs module}. docs/verification.md fixes the
/// types and gives vectors that eth-account's `encode_typed_data` reproduces.
public struct Attestation: Equatable, Sendable {
    /// EIP-712 domain name.
    public static let domainName = "OPG-Verify"
    /// EIP-712 domain version.
    public static let domainVersion = "1"
    /// The domain's type string.
    public static let domainType = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    /// The message's type string.
    public static let messageType =
        "Attestation(bytes32 jobId,string modelId,bytes32 inputHash,bytes32 outputHash,bytes32 traceRoot,uint8 verdict,uint64 epoch)"

    public var jobId: Hash32
    /// The model's canonical id (its CIDv0, as the staking module matches it).
    public var modelId: String
    public var inputHash: Hash32
    public var outputHash: Hash32
    /// The provider's trace root (zero for attested-only jobs).
    public var traceRoot: Hash32
    public var verdict: Verdict
    /// The staking epoch the committee was drawn in.
    public var epoch: UInt64

    /// Describes an attestation.
    public init(jobId: Hash32, modelId: String, inputHash: Hash32, outputHash: Hash32, traceRoot: Hash32, verdict: Verdict, epoch: UInt64) {
        self.jobId = jobId
        self.modelId = modelId
        self.inputHash = inputHash
        self.outputHash = outputHash
        self.traceRoot = traceRoot
        self.verdict = verdict
        self.epoch = epoch
    }

    /// The constant part of the domain separator: keccak256(encodeType(EIP712Domain)) ‖
    /// keccak256(name) ‖ keccak256(version), hashed once rather than for every signature.
    private static let domainPrefix = Keccak256.digest(Array(domainType.utf8)) + Keccak256.digest(Array(domainName.utf8))
        + Keccak256.digest(Array(domainVersion.utf8))
    /// keccak256(encodeType(Attestation)), hashed once.
    private static let messageTypeHash = Keccak256.digest(Array(messageType.utf8))

    /// keccak256(encodeType(EIP712Domain) ‖ keccak256(name) ‖ keccak256(version) ‖ chainId ‖ verifyingContract).
    public static func domainSeparator(chainId: UInt64) -> Hash32 {
        Keccak256.hash(domainPrefix + UInt256(chainId).bigEndianBytes32 + Hash32(word: Jobs.address).bytes)
    }

    /// EIP-712 `hashStruct` of the message.
    public var structHash: Hash32 {
        Keccak256.hash(Self.messageTypeHash + jobId.bytes + Keccak256.digest(Array(modelId.utf8)) + inputHash.bytes
                       + outputHash.bytes + traceRoot.bytes + UInt256(UInt64(verdict.rawValue)).bigEndianBytes32 + UInt256(epoch).bigEndianBytes32)
    }

    /// The digest signed: keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(message)).
    public func digest(chainId: UInt64) -> Hash32 {
        Keccak256.hash([0x19, 0x01] + Self.domainSeparator(chainId: chainId).bytes + structHash.bytes)
    }

    /// The commitment a verifier sends first: keccak256(digest ‖ salt ‖ verifier), 84 bytes packed.
    public static func commitment(digest: Hash32, salt: Hash32, verifier: Address) -> Hash32 {
        Keccak256.hash(digest.bytes + salt.bytes + verifier.bytes)
    }

    /// `key`'s signature over `digest(chainId:)` as r ‖ s ‖ v (v = 27 or 28), what `revealAttestations` takes.
    public func signature(key: PrivateKey, chainId: UInt64) -> [UInt8] {
        let signature = key.sign(digest(chainId: chainId))
        return signature.r + signature.s + [signature.recoveryID + 27]
    }

    /// The address whose key signed `digest` with `signature` (r ‖ s ‖ v, v = 27, 28, 0 or 1,
    /// s in the lower half); a `NativeRevert` naming the rule broken otherwise.
    public static func recoverSigner(_ signature: [UInt8], digest: Hash32) throws -> Address {
        guard signature.count == 65 else { throw NativeRevert("signature must be 65 bytes r ‖ s ‖ v, got \(signature.count)") }
        let v = signature[64]
        guard v == 27 || v == 28 || v <= 1 else { throw NativeRevert("signature v must be 27, 28, 0 or 1, got \(v)") }
        let parsed = RecoverableSignature(r: Array(signature[0..<32]), s: Array(signature[32..<64]), recoveryID: v >= 27 ? v - 27 : v)
        do { return try parsed.recoverAddress(digest) } catch { throw NativeRevert("invalid signature: \(error)") }
    }
}

/// One item of `revealAttestations`: `(bytes32 jobId, address verifier, uint8 verdict, bytes32 salt, bytes signature)`.
public struct AttestationReveal: Equatable, Sendable {
    public var jobId: Hash32
    public var verifier: Address
    public var verdict: Verdict
    public var salt: Hash32
    public var signature: [UInt8]

    /// Describes a reveal.
    public init(jobId: Hash32, verifier: Address, verdict: Verdict, salt: Hash32, signature: [UInt8]) {
        self.jobId = jobId
        self.verifier = verifier
        self.verdict = verdict
        self.salt = salt
        self.signature = signature
    }

    /// The ABI type of one item (computed: a global holding indirect enum boxes reads as a
    /// leak to LeakSanitizer, see Fuzz/FuzzABI).
    public static var abiType: ABIType { .tuple([.fixedBytes(32), .address, .uint(8), .fixedBytes(32), .bytes]) }
    /// Most reveals one transaction carries.
    public static let maxPerCall = 64

    /// The item as an ABI value.
    public var abiValue: ABIValue {
        .tuple([.fixedBytes(jobId.bytes), .address(verifier), .uint(UInt256(UInt64(verdict.rawValue))), .fixedBytes(salt.bytes), .bytes(signature)])
    }

    /// Decodes `revealAttestations`'s arguments; a `NativeRevert` names the item and the rule broken.
    public static func decodeBatch(_ arguments: [UInt8]) throws -> [AttestationReveal] {
        guard case .array(let items) = try decodeArguments([.array(abiType)], arguments)[0] else { throw NativeRevert("invalid calldata") }
        guard !items.isEmpty else { throw NativeRevert("reveal at least one attestation") }
        guard items.count <= maxPerCall else { throw NativeRevert("\(items.count) attestations is over the limit of \(maxPerCall) per call") }
        return try items.enumerated().map { i, item in
            guard case .tuple(let f) = item, let job = f[0].bytesValue, let verifier = f[1].addressValue, let verdictWord = f[2].uintValue,
                  let salt = f[3].bytesValue, let signature = f[4].bytesValue else { throw NativeRevert("attestation \(i): malformed") }
            guard let byte = verdictWord.uint64, let verdict = Verdict(rawValue: UInt8(byte)) else {
                throw NativeRevert("attestation \(i): verdict \(verdictWord) is not 1 (valid), 2 (invalid) or 3 (inconclusive)")
            }
            return AttestationReveal(jobId: try Hash32(job), verifier: verifier, verdict: verdict, salt: try Hash32(salt),
                                     signature: signature)
        }
    }
}
