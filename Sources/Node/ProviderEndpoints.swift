import Crypto
import Foundation
import JSON
import Modules
import Primitives
import RPC

/// Where providers serve their jobs' streams (docs/rpc.md, "Provider endpoints"): a provider
/// daemon announces its HTTP base URL to the node it follows, signed with its operator key, and
/// clients (`opg chat`, the chat page) look it up by the provider address a job names. The
/// announcements live in memory only (they are not consensus state) and travel between nodes on
/// the P2P `endpoints` channel (``ProviderEndpointGossip``): the newest per registered provider
/// wins, at most ``capacity`` providers are kept, and a provider re-announces every minute.
public final class ProviderEndpoints {
    /// How far an announcement's `issuedAt` may be from this node's clock, in seconds.
    public static let clockSkewSeconds: UInt64 = 600
    /// The most providers whose endpoints a node keeps by default.
    public static let defaultCapacity = 4096
    /// The most announcements held for a retry (``retryHeld(now:)``) because their signer was not
    /// a registered provider on this node's head: a node behind the chain meets providers that
    /// registered in blocks it has not imported yet. The oldest held goes first when full.
    public static let heldCapacity = 64

    /// One signed announcement: `url` on chain `chainId` at `issuedAt` (Unix seconds), with the
    /// provider's 65-byte EIP-191 signature over ``message(chainId:url:issuedAt:)``.
    public struct Announcement: Equatable, Sendable {
        public var chainId: UInt64
        public var url: String
        public var issuedAt: UInt64
        public var signature: [UInt8]

        /// An announcement as signed.
        public init(chainId: UInt64, url: String, issuedAt: UInt64, signature: [UInt8]) {
            self.chainId = chainId
            self.url = url
            self.issuedAt = issuedAt
            self.signature = signature
        }

        /// The address that signed it; throws the reason when the signature recovers none.
        public func signer() throws -> Address {
            try Attestation.recoverSigner(signature, digest: ProviderEndpoints.digest(ProviderEndpoints.message(chainId: chainId, url: url, issuedAt: issuedAt)))
        }

        /// Whether this one replaces `kept` (the same provider's): a later `issuedAt`, or the same
        /// one with a URL greater in byte order, so every node settles on the same announcement.
        func supersedes(_ kept: Announcement) -> Bool {
            issuedAt != kept.issuedAt ? issuedAt > kept.issuedAt : kept.url.utf8.lexicographicallyPrecedes(url.utf8)
        }
    }

    /// What became of an announcement whose URL and signature passed.
    public enum Outcome: Equatable, Sendable {
        /// Kept: the provider's newest (and to be passed on to peers).
        case kept
        /// The very announcement kept already.
        case duplicate
        /// `issuedAt` too far from the node's clock (the reason).
        case stale(String)
        /// The signer is not a registered provider.
        case notProvider
        /// A newer announcement is kept for the provider (its `issuedAt`).
        case superseded(UInt64)
        /// ``capacity`` providers are kept, all of them fresh.
        case full
    }

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

    /// Whether `issuedAt` is within ``clockSkewSeconds`` of `now`; nil when it is, else the rule broken.
    public static func freshnessProblem(issuedAt: UInt64, now: UInt64) -> String? {
        guard issuedAt + clockSkewSeconds >= now, issuedAt <= now + clockSkewSeconds else {
            return "issuedAt \(issuedAt) is more than \(clockSkewSeconds) s from the node's clock (\(now))"
        }
        return nil
    }

    /// This node's chain id: announcements for any other are refused.
    public let chainId: UInt64
    /// The most providers kept at once.
    public let capacity: Int
    private let isProvider: (Address) -> Bool
    private let lock = NSLock()
    private var endpoints: [Address: Announcement] = [:]
    /// Announcements refused as not from a provider, newest per signer, and the signers in the order held.
    private var held: [Address: Announcement] = [:]
    private var heldOrder: [Address] = []
    private var keptHandler: (Announcement) -> Void = { _ in }

    /// Announcements for the chain `chainId`, checked against the staking module through `models`.
    convenience init(models: ModelRPC, chainId: UInt64) {
        self.init(chainId: chainId) { signer in
            // An account that never registered has no operator record (the view reverts): not a provider either.
            (try? StakingRPC.operatorJSON(signer, models.reader()))?["role"]?.stringValue == "provider"
        }
    }

    /// Announcements for the chain `chainId` from the accounts `isProvider` accepts, at most
    /// `capacity` providers at once.
    init(chainId: UInt64, capacity: Int = ProviderEndpoints.defaultCapacity, isProvider: @escaping (Address) -> Bool) {
        self.chainId = chainId
        self.capacity = max(1, capacity)
        self.isProvider = isProvider
    }

    /// Calls `handler` with every announcement kept from now on (from RPC or from a peer), after it is kept.
    func onKept(_ handler: @escaping (Announcement) -> Void) { lock.withLock { keptHandler = handler } }

    /// The kept announcement of `provider`, if any.
    func announcement(of provider: Address) -> Announcement? { lock.withLock { endpoints[provider] } }

    /// Every kept announcement still fresh at `now`, by provider address.
    func freshAnnouncements(now: UInt64) -> [Announcement] {
        lock.withLock {
            endpoints.sorted { $0.key < $1.key }.map(\.value).filter { Self.freshnessProblem(issuedAt: $0.issuedAt, now: now) == nil }
        }
    }

    /// Registers `opg_announceProviderEndpoint` and `opg_getProviderEndpoint`.
    func register(on dispatcher: RPCDispatcher) {
        dispatcher.register("opg_announceProviderEndpoint") { [self] p in
            try p.expect(atMost: 3)
            let url = try p.string(0, "url")
            let issuedAt = try p.uint64(1, "issuedAt")
            let signature = try p.data(2, "signature")
            return try announce(Announcement(chainId: chainId, url: url, issuedAt: issuedAt, signature: signature), now: Self.now())
        }
        dispatcher.register("opg_getProviderEndpoint") { [self] p in
            try p.expect(atMost: 1)
            let provider = try p.address(0, "provider")
            guard let entry = announcement(of: provider) else { return .null }
            return .object(["provider": .string(provider.checksummed), "url": .string(entry.url), "issuedAt": .int(entry.issuedAt)])
        }
    }

    /// The wall clock in Unix seconds (announcements are not consensus input).
    public static func now() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970)) }

    /// Checks and keeps one announcement made over RPC; the signer's checksummed address.
    func announce(_ announcement: Announcement, now: UInt64) throws -> JSONValue {
        if let problem = Self.urlProblem(announcement.url) { throw RPCError.invalidParams("0: \(problem)") }
        if let problem = Self.freshnessProblem(issuedAt: announcement.issuedAt, now: now) { throw RPCError.invalidParams("1: \(problem)") }
        let signer: Address
        do { signer = try announcement.signer() } catch { throw RPCError.invalidParams("2: \(error)") }
        switch offer(announcement, from: signer, now: now) {
        case .kept, .duplicate:
            return .string(signer.checksummed)
        case .stale(let problem):
            throw RPCError.invalidParams("1: \(problem)")
        case .notProvider:
            throw RPCError.server("\(signer.checksummed) is not a registered provider")
        case .superseded(let kept):
            throw RPCError.server("an announcement issued at \(kept), not older than \(announcement.issuedAt), is kept for \(signer.checksummed)")
        case .full:
            throw RPCError.server("this node keeps the endpoints of \(capacity) providers, all announced in the last \(Self.clockSkewSeconds) s")
        }
    }

    /// Keeps `announcement`, signed by `signer` (its URL and signature already checked), when it
    /// is fresh at `now`, from a registered provider and newer than the one kept; a kept one goes
    /// to the `onKept` handler. Past ``capacity``, providers whose announcement went stale are
    /// forgotten first.
    func offer(_ announcement: Announcement, from signer: Address, now: UInt64) -> Outcome {
        if let problem = Self.freshnessProblem(issuedAt: announcement.issuedAt, now: now) { return .stale(problem) }
        // Checked before the staking lookup (most gossip is announcements already kept) and again under the lock.
        if let refusal = Self.refusal(announcement, against: self.announcement(of: signer)) { return refusal }
        guard isProvider(signer) else {
            hold(announcement, from: signer)
            return .notProvider
        }
        let (outcome, handler): (Outcome, (Announcement) -> Void) = lock.withLock {
            if let refusal = Self.refusal(announcement, against: endpoints[signer]) { return (refusal, keptHandler) }
            if endpoints[signer] == nil, endpoints.count >= capacity {
                endpoints = endpoints.filter { Self.freshnessProblem(issuedAt: $0.value.issuedAt, now: now) == nil }
                guard endpoints.count < capacity else { return (.full, keptHandler) }
            }
            endpoints[signer] = announcement
            return (.kept, keptHandler)
        }
        if outcome == .kept { handler(announcement) }
        return outcome
    }

    /// Holds `announcement`, whose signer is not a provider on this node's head, for ``retryHeld(now:)``.
    private func hold(_ announcement: Announcement, from signer: Address) {
        lock.withLock {
            if let kept = held[signer] {
                if announcement.supersedes(kept) { held[signer] = announcement }
                return
            }
            if heldOrder.count >= Self.heldCapacity { held[heldOrder.removeFirst()] = nil }
            held[signer] = announcement
            heldOrder.append(signer)
        }
    }

    /// How many announcements are held for a retry.
    var heldCount: Int { lock.withLock { held.count } }

    /// Offers again every held announcement whose signer has become a registered provider (the
    /// node imported the block that registered it), in the order held; drops those gone stale at
    /// `now`. Called for each block the node commits.
    func retryHeld(now: UInt64) {
        let candidates: [(Address, Announcement)] = lock.withLock { heldOrder.compactMap { a in held[a].map { (a, $0) } } }
        for (signer, announcement) in candidates {
            let stale = Self.freshnessProblem(issuedAt: announcement.issuedAt, now: now) != nil
            guard stale || isProvider(signer) else { continue }
            lock.withLock {
                guard held[signer] == announcement else { return }
                held[signer] = nil
                heldOrder.removeAll { $0 == signer }
            }
            if !stale { _ = offer(announcement, from: signer, now: now) }
        }
    }

    /// Why `announcement` does not replace `kept` (the same provider's), nil when it does.
    private static func refusal(_ announcement: Announcement, against kept: Announcement?) -> Outcome? {
        guard let kept else { return nil }
        if kept == announcement { return .duplicate }
        return announcement.supersedes(kept) ? nil : .superseded(kept.issuedAt)
    }
}
