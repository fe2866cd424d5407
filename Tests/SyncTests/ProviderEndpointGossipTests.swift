import Crypto
import Foundation
import JSON
import Network
import Primitives
import XCTest
@testable import Node

/// Provider endpoint gossip (docs/p2p.md, "Provider endpoint gossip") between nodes over an
/// in-process transport: announcements kept on one node reach the others once, newest wins, and a
/// peer that sends garbage is disconnected.
final class ProviderEndpointGossipTests: XCTestCase {
    private static let chainId: UInt64 = 5_197_895
    private static let provider = try! PrivateKey(Keccak256.hash(Array("gossip provider".utf8)).bytes)
    private static let stranger = try! PrivateKey(Keccak256.hash(Array("gossip stranger".utf8)).bytes)
    private static let now: UInt64 = 1_800_000_000

    /// One node: its endpoints (providers: `provider` only, unless told) and gossip.
    private final class EndpointNode {
        let endpoints: ProviderEndpoints
        let gossip: ProviderEndpointGossip
        let transport: InProcessNetwork.Node

        init(_ number: UInt8, on network: InProcessNetwork, capacity: Int = ProviderEndpoints.defaultCapacity,
             providers: Set<Address> = [ProviderEndpointGossipTests.provider.address],
             limits: ProviderEndpointGossip.Limits = .init(), clock: @escaping () -> UInt64 = { 0 }) {
            endpoints = ProviderEndpoints(chainId: ProviderEndpointGossipTests.chainId, capacity: capacity) { providers.contains($0) }
            transport = network.addNode(number)
            gossip = ProviderEndpointGossip(endpoints: endpoints, transport: transport, limits: limits, clock: clock,
                                            wallClock: { ProviderEndpointGossipTests.now })
            transport.register(gossip)
        }

        func url(of key: PrivateKey) -> String? { endpoints.announcement(of: key.address)?.url }
    }

    private static func announcement(_ url: String, by key: PrivateKey = ProviderEndpointGossipTests.provider,
                                     at issuedAt: UInt64 = ProviderEndpointGossipTests.now,
                                     chainId: UInt64 = ProviderEndpointGossipTests.chainId) -> ProviderEndpoints.Announcement {
        let digest = ProviderEndpoints.digest(ProviderEndpoints.message(chainId: chainId, url: url, issuedAt: issuedAt))
        let signature = key.sign(digest)
        return .init(chainId: chainId, url: url, issuedAt: issuedAt, signature: signature.r + signature.s + [signature.recoveryID + 27])
    }

    private func settle(_ network: InProcessNetwork, _ nodes: [EndpointNode]) {
        var sent = -1
        while sent != network.envelopesSent {
            sent = network.envelopesSent
            network.drain()
            for n in nodes { n.gossip.waitUntilIdle() }
        }
    }

    /// Sends `body` on the endpoints channel from `from` to `to`, as a peer would.
    private func inject(_ body: [UInt8], type: UInt16 = ProviderEndpointMessage.announcementsType, from: EndpointNode, to: EndpointNode) throws {
        _ = from.transport.send(try Envelope(channel: .endpoints, messageType: type, body: body), to: to.transport.id)
    }

    func testAnnouncementReachesEveryNodeOnceWithoutLoops() throws {
        let network = InProcessNetwork()
        let nodes = (1...4).map { EndpointNode(UInt8($0), on: network) }
        for (a, b) in [(0, 1), (1, 2), (2, 3), (0, 2)] { network.connect(nodes[a].transport, nodes[b].transport) }

        XCTAssertEqual(try nodes[0].endpoints.announce(Self.announcement("http://a.example"), now: Self.now), .string(Self.provider.address.checksummed))
        settle(network, nodes)
        for (i, node) in nodes.enumerated() { XCTAssertEqual(node.url(of: Self.provider), "http://a.example", "node \(i + 1)") }
        // Each link carries it at most once each way (nodes 2 and 3 may cross): nothing is echoed or looped.
        XCTAssertLessThanOrEqual(nodes.map(\.gossip.counters.sent).reduce(0, +), 5)
        XCTAssertEqual(nodes.map(\.gossip.counters.kept).reduce(0, +), 3)

        // A newer one replaces it everywhere; the older one, sent again, changes nothing and goes no further.
        _ = try nodes[3].endpoints.announce(Self.announcement("http://b.example", at: Self.now + 60), now: Self.now)
        settle(network, nodes)
        for node in nodes { XCTAssertEqual(node.url(of: Self.provider), "http://b.example") }
        let sent = network.envelopesSent, duplicates = nodes[1].gossip.counters.duplicates
        try inject(ProviderEndpointMessage(announcements: [Self.announcement("http://a.example")]).encoded, from: nodes[0], to: nodes[1])
        settle(network, nodes)
        XCTAssertEqual(network.envelopesSent, sent + 1)
        XCTAssertEqual(nodes[1].url(of: Self.provider), "http://b.example")
        XCTAssertEqual(nodes[1].gossip.counters.duplicates, duplicates + 1)
        XCTAssertTrue(network.disconnects.isEmpty)
    }

    func testANewPeerGetsEveryFreshAnnouncement() throws {
        let network = InProcessNetwork()
        let early = EndpointNode(1, on: network), late = EndpointNode(2, on: network)
        _ = try early.endpoints.announce(Self.announcement("http://early.example"), now: Self.now)
        network.connect(early.transport, late.transport)
        settle(network, [early, late])
        XCTAssertEqual(late.url(of: Self.provider), "http://early.example")
    }

    func testRefusedAnnouncementsAreNeitherKeptNorPassedOnAndTheirPeerStays() throws {
        let network = InProcessNetwork()
        let nodes = (1...3).map { EndpointNode(UInt8($0), on: network) }
        network.connect(nodes[0].transport, nodes[1].transport)
        network.connect(nodes[1].transport, nodes[2].transport)
        let refused = [Self.announcement("http://stranger.example", by: Self.stranger),  // not a registered provider
                       Self.announcement("http://stale.example", at: Self.now - 3600),    // older than the clock skew allows
                       Self.announcement("http://future.example", at: Self.now + 3600)]
        try inject(ProviderEndpointMessage(announcements: refused).encoded, from: nodes[0], to: nodes[1])
        settle(network, nodes)
        XCTAssertEqual(nodes[1].gossip.counters.refused, 3)
        XCTAssertNil(nodes[1].url(of: Self.stranger))
        XCTAssertNil(nodes[1].url(of: Self.provider))
        XCTAssertEqual(nodes[2].gossip.counters.received, 0)
        XCTAssertTrue(network.disconnects.isEmpty)
    }

    func testAnAnnouncementFromAProviderNotYetSeenIsHeldAndKeptOnceItsRegistrationArrives() throws {
        let registered = NSLock()
        var providers: Set<Address> = []
        let endpoints = ProviderEndpoints(chainId: Self.chainId) { signer in registered.withLock { providers.contains(signer) } }
        var relayed: [String] = []
        endpoints.onKept { relayed.append($0.url) }
        XCTAssertEqual(endpoints.offer(Self.announcement("http://old.example", at: Self.now - 10), from: Self.provider.address, now: Self.now), .notProvider)
        XCTAssertEqual(endpoints.offer(Self.announcement("http://new.example"), from: Self.provider.address, now: Self.now), .notProvider)
        XCTAssertEqual(endpoints.offer(Self.announcement("http://stranger.example", by: Self.stranger), from: Self.stranger.address, now: Self.now), .notProvider)
        XCTAssertEqual(endpoints.heldCount, 2, "the newest per signer")
        endpoints.retryHeld(now: Self.now + 1)
        XCTAssertNil(endpoints.announcement(of: Self.provider.address), "not a provider yet: still held")
        XCTAssertEqual(endpoints.heldCount, 2)
        registered.withLock { _ = providers.insert(Self.provider.address) }  // the block that registers it is imported
        endpoints.retryHeld(now: Self.now + 2)
        XCTAssertEqual(endpoints.announcement(of: Self.provider.address)?.url, "http://new.example")
        XCTAssertEqual(relayed, ["http://new.example"], "kept, so passed on to peers")
        XCTAssertEqual(endpoints.heldCount, 1)
        endpoints.retryHeld(now: Self.now + ProviderEndpoints.clockSkewSeconds + 1)
        XCTAssertEqual(endpoints.heldCount, 0, "the stranger's went stale and is dropped")
        XCTAssertNil(endpoints.announcement(of: Self.stranger.address))
    }

    func testTheHeldAreBoundedOldestFirst() {
        let registered = NSLock()
        var everyone = false
        let endpoints = ProviderEndpoints(chainId: Self.chainId) { _ in registered.withLock { everyone } }
        let keys = (0...ProviderEndpoints.heldCapacity).map { try! PrivateKey(Keccak256.hash(Array("held \($0)".utf8)).bytes) }
        for key in keys {
            XCTAssertEqual(endpoints.offer(Self.announcement("http://held.example", by: key), from: key.address, now: Self.now), .notProvider)
        }
        XCTAssertEqual(endpoints.heldCount, ProviderEndpoints.heldCapacity)
        registered.withLock { everyone = true }
        endpoints.retryHeld(now: Self.now)
        XCTAssertNil(endpoints.announcement(of: keys[0].address), "the oldest held made room for the newest")
        XCTAssertEqual(keys.dropFirst().filter { endpoints.announcement(of: $0.address) != nil }.count, ProviderEndpoints.heldCapacity)
        XCTAssertEqual(endpoints.heldCount, 0)
    }

    func testGarbageDisconnectsThePeer() throws {
        var wrongSignature = Self.announcement("http://a.example")
        wrongSignature.signature[64] = 31
        let cases: [(body: [UInt8], type: UInt16, reason: String)] = [
            ([0], ProviderEndpointMessage.announcementsType, "endpoints: announcement count needs 2 bytes, 1 left"),
            ([0, 1, 2], ProviderEndpointMessage.announcementsType, "endpoints: chain id needs 8 bytes, 1 left"),
            ([0, 0], ProviderEndpointMessage.announcementsType, "endpoints: announcement count must not be empty"),
            (ProviderEndpointMessage(announcements: [Self.announcement("http://a.example")]).encoded, 0x0002, "endpoints: unknown message type 0x2"),
            (ProviderEndpointMessage(announcements: [Self.announcement("http://a.example", chainId: 1)]).encoded, ProviderEndpointMessage.announcementsType,
             "endpoints: announcement for chain 1, this node's is 5197895"),
            (ProviderEndpointMessage(announcements: [Self.announcement("ftp://a.example")]).encoded, ProviderEndpointMessage.announcementsType,
             "endpoints: url must start with http:// or https://"),
            (ProviderEndpointMessage(announcements: [wrongSignature]).encoded, ProviderEndpointMessage.announcementsType,
             "endpoints: invalid signature: "),
        ]
        for (body, type, reason) in cases {
            let network = InProcessNetwork()
            let a = EndpointNode(1, on: network), b = EndpointNode(2, on: network)
            network.connect(a.transport, b.transport)
            try inject(body, type: type, from: a, to: b)
            settle(network, [a, b])
            XCTAssertEqual(network.disconnects.count, 1, reason)
            XCTAssertTrue(network.disconnects.first?.reason.hasPrefix(reason) ?? false, "\(network.disconnects.first?.reason ?? "none") vs \(reason)")
            XCTAssertNil(b.url(of: Self.provider))
        }
    }

    func testAPeerOverItsRateIsCutShort() throws {
        let network = InProcessNetwork()
        let limits = ProviderEndpointGossip.Limits(announcementsPerSecond: 1, announcementBurst: 2)
        let a = EndpointNode(1, on: network), b = EndpointNode(2, on: network, limits: limits)
        network.connect(a.transport, b.transport)
        let burst = (0..<5).map { Self.announcement("http://a.example/\($0)", at: Self.now + UInt64($0)) }
        try inject(ProviderEndpointMessage(announcements: burst).encoded, from: a, to: b)
        settle(network, [a, b])
        XCTAssertEqual(b.gossip.counters.rateLimited, 3)
        XCTAssertEqual(b.url(of: Self.provider), "http://a.example/1", "the first two were checked, the rest dropped unchecked")
        XCTAssertTrue(network.disconnects.isEmpty)
    }

    func testMemoryIsBoundedAndStaleEntriesMakeRoom() throws {
        let others = (0..<3).map { try! PrivateKey(Keccak256.hash(Array("gossip provider \($0)".utf8)).bytes) }
        let endpoints = ProviderEndpoints(chainId: Self.chainId, capacity: 2) { _ in true }
        XCTAssertEqual(endpoints.offer(Self.announcement("http://0.example", by: others[0], at: Self.now - 500), from: others[0].address, now: Self.now), .kept)
        XCTAssertEqual(endpoints.offer(Self.announcement("http://1.example", by: others[1]), from: others[1].address, now: Self.now), .kept)
        XCTAssertEqual(endpoints.offer(Self.announcement("http://2.example", by: others[2]), from: others[2].address, now: Self.now), .full)
        // Later, the first has gone stale: it makes room.
        let later = Self.now + 200
        XCTAssertEqual(endpoints.offer(Self.announcement("http://2.example", by: others[2], at: later), from: others[2].address, now: later), .kept)
        XCTAssertNil(endpoints.announcement(of: others[0].address))
        XCTAssertEqual(endpoints.freshAnnouncements(now: later).count, 2)
        XCTAssertThrowsError(try endpoints.announce(Self.announcement("http://0.example", by: others[0], at: later), now: later)) {
            XCTAssertTrue("\($0)".contains("this node keeps the endpoints of 2 providers"), "\($0)")
        }
    }

    func testTheNewestWinsAndTiesGoToTheGreaterURL() {
        let endpoints = ProviderEndpoints(chainId: Self.chainId) { _ in true }
        let signer = Self.provider.address
        XCTAssertEqual(endpoints.offer(Self.announcement("http://b.example", at: Self.now), from: signer, now: Self.now), .kept)
        XCTAssertEqual(endpoints.offer(Self.announcement("http://b.example", at: Self.now), from: signer, now: Self.now), .duplicate)
        XCTAssertEqual(endpoints.offer(Self.announcement("http://a.example", at: Self.now), from: signer, now: Self.now), .superseded(Self.now))
        XCTAssertEqual(endpoints.offer(Self.announcement("http://c.example", at: Self.now), from: signer, now: Self.now), .kept)
        XCTAssertEqual(endpoints.offer(Self.announcement("http://z.example", at: Self.now - 1), from: signer, now: Self.now), .superseded(Self.now))
        XCTAssertEqual(endpoints.announcement(of: signer)?.url, "http://c.example")
    }

    func testMessageRoundTripAndLimits() throws {
        let announcements = (0..<200).map { Self.announcement("https://p\($0).example:8600", at: Self.now + UInt64($0)) }
        let envelopes = ProviderEndpointMessage.envelopes(for: announcements)
        XCTAssertEqual(envelopes.count, 2)
        XCTAssertEqual(try envelopes.flatMap { try ProviderEndpointMessage(decoding: $0.body).announcements }, announcements)
        var tooMany = ProviderEndpointMessage(announcements: Array(announcements[0..<ProviderEndpointMessage.maximumCount])).encoded
        tooMany[1] = UInt8(ProviderEndpointMessage.maximumCount + 1)
        XCTAssertThrowsError(try ProviderEndpointMessage(decoding: tooMany)) {
            XCTAssertEqual("\($0)", "endpoints: announcement count is 129, above the limit of 128")
        }
        var long = ProviderEndpointMessage(announcements: [Self.announcement("http://a.example")]).encoded
        long.replaceSubrange(18..<22, with: [0, 0, 1, 1])
        XCTAssertThrowsError(try ProviderEndpointMessage(decoding: long)) { XCTAssertEqual("\($0)", "endpoints: url length is 257, above the limit of 256") }
        let trailing = ProviderEndpointMessage(announcements: [Self.announcement("http://a.example")]).encoded + [0]
        XCTAssertThrowsError(try ProviderEndpointMessage(decoding: trailing)) { XCTAssertEqual("\($0)", "endpoints: 1 bytes after the message's last field") }
    }
}
