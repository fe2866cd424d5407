import Crypto
import Foundation
import JSON
import Modules
import Primitives
import RPC

/// Where providers serve their jobs' streams (docs/rpc.md, "Provider endpoints"): a provider
/// daemon announces its HTTP base URL to the node it follows, signed with its operator key, and
/// clients (`opg chat`, the chat page) look it up by the provider address a job names. The
/// announcements live in this node's memory only (they are not consensus state): the newest
/// per registered provider wins, and a provider re-announces every minute.
public final class ProviderEndpoints {
    /// How far an announcement's `issuedAt` may be from this node's clock, in seconds.
    public static let clockSkewSeconds: UInt64 = 600

    /// The text a provider signs (EIP-191 `personal_sign`) to announce `url` on chain `chainId`
    /// at `issuedAt` (Unix seconds).
    public static func message(chainId: UInt64, url: String, issuedAt: UInt64) -> String {
        "opg provider endpoint\nchain: \(chainId)\nurl: \(url)\nissued: \(issuedAt)"
    }

    /// The EIP-191 digest of `message`: keccak256("\x19Ethereum Signed Message:\n" ‖ length ‖ message).
    public static func digest(_ message: String) -> Hash32 {
        let bytes = Array(message.utf8)
        return Keccak256.hash(Array("\u{19}Ethereum Signed Message:\n\(bytes.count)".utf8) + bytes)
    }

    /// A signed announcement's checks that need no state: an `http://` or `https://` URL of
    /// 1…256 printable ASCII characters without spaces; nil when it passes, else the rule broken.
    public static func urlProblem(_ url: String) -> String? {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { return "url must start with http:// or https://" }
        guard url.utf8.count <= 256, url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return "url must be at most 256 printable ASCII characters without spaces"
        }
        return nil
    }

    private let models: ModelRPC
    private let chainId: UInt64
    private let lock = NSLock()
    private var endpoints: [Address: (url: String, issuedAt: UInt64)] = [:]

    /// Announcements for the chain `chainId`, checked against the staking module through `models`.
    init(models: ModelRPC, chainId: UInt64) {
        self.models = models
        self.chainId = chainId
    }

    /// Registers `opg_announceProviderEndpoint` and `opg_getProviderEndpoint`.
    func register(on dispatcher: RPCDispatcher) {
        dispatcher.register("opg_announceProviderEndpoint") { [self] p in
            try p.expect(atMost: 3)
            let url = try p.string(0, "url")
            let issuedAt = try p.uint64(1, "issuedAt")
            let signature = try p.data(2, "signature")
            return try announce(url: url, issuedAt: issuedAt, signature: signature, now: UInt64(max(0, Date().timeIntervalSince1970)))
        }
        dispatcher.register("opg_getProviderEndpoint") { [self] p in
            try p.expect(atMost: 1)
            let provider = try p.address(0, "provider")
            guard let entry = lock.withLock({ endpoints[provider] }) else { return .null }
            return .object(["provider": .string(provider.checksummed), "url": .string(entry.url), "issuedAt": .int(entry.issuedAt)])
        }
    }

    /// Checks and keeps one announcement; the signer's checksummed address.
    func announce(url: String, issuedAt: UInt64, signature: [UInt8], now: UInt64) throws -> JSONValue {
        if let problem = Self.urlProblem(url) { throw RPCError.invalidParams("0: \(problem)") }
        guard issuedAt + Self.clockSkewSeconds >= now, issuedAt <= now + Self.clockSkewSeconds else {
            throw RPCError.invalidParams("1: issuedAt \(issuedAt) is more than \(Self.clockSkewSeconds) s from the node's clock (\(now))")
        }
        let signer: Address
        do { signer = try Attestation.recoverSigner(signature, digest: Self.digest(Self.message(chainId: chainId, url: url, issuedAt: issuedAt))) } catch {
            throw RPCError.invalidParams("2: \(error)")
        }
        // An account that never registered has no operator record (the view reverts): not a provider either.
        guard (try? StakingRPC.operatorJSON(signer, models.reader()))?["role"]?.stringValue == "provider" else {
            throw RPCError.server("\(signer.checksummed) is not a registered provider")
        }
        try lock.withLock {
            if let kept = endpoints[signer], kept.issuedAt > issuedAt {
                throw RPCError.server("an announcement issued at \(kept.issuedAt), newer than \(issuedAt), is kept for \(signer.checksummed)")
            }
            endpoints[signer] = (url, issuedAt)
        }
        return .string(signer.checksummed)
    }
}
