import Crypto
import Foundation
import XCTest
@testable import Network

/// Real endpoints on 127.0.0.1: ConnectionManagers exchanging messages over TCP, reconnecting
/// after a restart, and disconnecting peers that send garbage.
final class LoopbackTests: XCTestCase {
    /// A ConnectionManager with its events and log lines recorded.
    final class Node: @unchecked Sendable {
        let key: PrivateKey
        var manager: ConnectionManager!
        private let condition = NSCondition()
        private(set) var messages: [(PeerID, Envelope)] = []
        private(set) var logLines: [String] = []
        private(set) var connections = 0
        private(set) var disconnections: [String] = []

        init(key: PrivateKey? = nil, network: String = "loopback", listen: String? = "127.0.0.1:0", port: UInt16? = nil,
             configure: (inout NetworkConfig) -> Void = { _ in }) throws {
            self.key = try key ?? PrivateKey.generate()
            var config = NetworkConfig(nodeKey: self.key, networkName: network,
                                       listenAddress: port.map { "127.0.0.1:\($0)" } ?? listen,
                                       handshakeTimeoutMilliseconds: 1000, dialTimeoutMilliseconds: 1000,
                                       backoffInitialMilliseconds: 20, backoffMaximumMilliseconds: 200, backoffSeed: 7)
            configure(&config)
            manager = try ConnectionManager(config: config, handler: { [unowned self] event in record(event) },
                                            log: { [unowned self] line in
                                                condition.lock(); logLines.append(line); condition.broadcast(); condition.unlock()
                                            })
            try manager.start()
        }

        /// Reads the records under the lock the event handler writes them under.
        func locked<T>(_ read: (Node) -> T) -> T {
            condition.lock()
            defer { condition.unlock() }
            return read(self)
        }

        var id: PeerID { PeerID(key.publicKey) }
        var port: UInt16 { manager.listeningPort! }
        var entry: PersistentPeer { PersistentPeer(id: id, host: "127.0.0.1", port: port) }

        private func record(_ event: PeerEvent) {
            condition.lock()
            switch event {
            case .connected: connections += 1
            case .message(let peer, let envelope): messages.append((peer, envelope))
            case .disconnected(_, let reason): disconnections.append(reason)
            }
            condition.broadcast()
            condition.unlock()
        }

        /// Waits up to 10 s for `predicate` over this node's records.
        func wait(_ what: String, _ predicate: (Node) -> Bool, file: StaticString = #filePath, line: UInt = #line) {
            let deadline = Date(timeIntervalSinceNow: 10)
            condition.lock()
            defer { condition.unlock() }
            while !predicate(self) {
                if !condition.wait(until: deadline) {
                    XCTFail("timed out waiting for \(what)", file: file, line: line)
                    return
                }
            }
        }

        /// Waits for the peer count, polling (it changes under the manager's own lock).
        func waitForPeers(_ count: Int, file: StaticString = #filePath, line: UInt = #line) {
            let deadline = Date(timeIntervalSinceNow: 10)
            while manager.peerCount != count {
                guard Date() < deadline else {
                    XCTFail("peer count \(manager.peerCount), want \(count)", file: file, line: line)
                    return
                }
                usleep(10_000)
            }
        }
    }

    func testNodesInAMeshExchangeMessagesOnEveryChannel() throws {
        let nodes = try (0..<3).map { _ in try Node() }
        defer { nodes.forEach { $0.manager.stop() } }
        // Every node dials every other: both ends dial at once, so duplicates must resolve.
        for a in nodes { for b in nodes where a !== b { a.manager.addPersistentPeer(b.entry) } }
        // Simultaneous dials settle: the losing duplicate may have been the only connection one
        // end had seen for a moment, so wait until every count holds still at 2.
        var stableRounds = 0
        let deadline = Date(timeIntervalSinceNow: 10)
        while stableRounds < 5 && Date() < deadline {
            usleep(50_000)
            stableRounds = nodes.allSatisfy { $0.manager.peerCount == 2 } ? stableRounds + 1 : 0
        }
        XCTAssertEqual(stableRounds, 5, "peer counts did not settle at 2")
        XCTAssertTrue(nodes.allSatisfy { $0.manager.isListening })
        XCTAssertEqual(nodes[0].manager.connectedPeers, [nodes[1].id, nodes[2].id].sorted())

        for (index, channel) in Channel.allCases.enumerated() {
            let envelope = try Envelope(channel: channel, messageType: UInt16(index), body: Array("hello \(channel)".utf8))
            XCTAssertEqual(nodes[0].manager.broadcast(envelope), 2)
        }
        let large = try Envelope(channel: .blocks, messageType: 9, body: (0..<Envelope.maximumBodyLength).map { UInt8(truncatingIfNeeded: $0) })
        XCTAssertEqual(nodes[1].manager.send(large, to: nodes[2].id), .queued)
        for receiver in nodes[1...] {
            receiver.wait("four channels from node 0") { $0.messages.filter { $0.0 == nodes[0].id }.count == Channel.allCases.count }
            let received = receiver.locked { $0.messages.filter { $0.0 == nodes[0].id }.map(\.1) }
            XCTAssertEqual(received.map(\.channel), Channel.allCases, "per-peer order is kept")
            XCTAssertEqual(received.map { String(decoding: $0.body, as: UTF8.self) }, Channel.allCases.map { "hello \($0)" })
        }
        nodes[2].wait("the largest envelope") { $0.messages.contains { $0.1 == large } }
        XCTAssertEqual(nodes[0].manager.send(large, to: try PeerID(hex: "0x" + String(repeating: "ab", count: 20))), .notConnected)
    }

    func testPersistentPeerIsRedialledAfterItRestarts() throws {
        let server = try Node()
        let port = server.port
        let client = try Node(listen: nil) { $0.persistentPeers = [] }
        defer { client.manager.stop() }
        XCTAssertFalse(client.manager.isListening)
        client.manager.addPersistentPeer(server.entry)
        client.waitForPeers(1)

        server.manager.stop()
        client.wait("the disconnection") { $0.disconnections.count == 1 }
        client.waitForPeers(0)
        // Nothing listens for a while: the client keeps redialling with backoff.
        client.wait("failed redials") { $0.logLines.filter { $0.contains("dial") && $0.contains("failed") }.count >= 2 }

        let restarted = try Node(key: server.key, port: port)
        defer { restarted.manager.stop() }
        client.waitForPeers(1)
        XCTAssertEqual(client.manager.send(try Envelope(channel: .consensus, messageType: 1, body: [1]), to: restarted.id), .queued)
        restarted.wait("a message after the reconnect") { $0.messages.count == 1 }
        XCTAssertEqual(client.locked(\.connections), 2)
    }

    /// Completes a real handshake by hand, so the test can then misbehave inside the session.
    func handshakeByHand(with node: Node, key: PrivateKey? = nil, network: String = "loopback") throws -> (TCPSocket, NoiseSession) {
        let socket = try TCPSocket.connect(host: "127.0.0.1", port: node.port, timeoutMilliseconds: 1000)
        let handshake = try PeerHandshake(role: .initiator, prologue: Array("opg/p2p/1/\(network)".utf8),
                                          nodeKey: try key ?? PrivateKey.generate(), noiseKey: try .generate(), expectedPeer: node.id)
        var frames = FrameReader()
        var buffer = [UInt8](repeating: 0, count: 4096)
        socket.setReceiveTimeout(milliseconds: 2000)
        try socket.write(Frame.encode(try handshake.writeNext()))
        while true {
            if let message = try frames.next(minimumLength: 32) { try handshake.read(message); break }
            let count = try socket.read(into: &buffer)
            guard count > 0 else { throw NetworkError.connectionClosed }
            frames.append(buffer[0..<count])
        }
        try socket.write(Frame.encode(try handshake.writeNext()))
        return (socket, try handshake.finish().session)
    }

    /// Reads until the node closes the connection (0 bytes or an error).
    func expectClosed(_ socket: TCPSocket, file: StaticString = #filePath, line: UInt = #line) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        socket.setReceiveTimeout(milliseconds: 5000)
        while true {
            guard let count = try? socket.read(into: &buffer) else { return }
            if count == 0 { return }
        }
    }

    func testGarbagePeersAreDisconnectedAndLoggedWhileTheNodeKeepsServing() throws {
        let node = try Node()
        defer { node.manager.stop() }
        let honest = try Node()
        defer { honest.manager.stop() }
        honest.manager.addPersistentPeer(node.entry)
        node.waitForPeers(1)

        // 1. Random bytes instead of a handshake.
        let raw = try TCPSocket.connect(host: "127.0.0.1", port: node.port, timeoutMilliseconds: 1000)
        try raw.write([0x00, 0x40] + (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        expectClosed(raw)
        node.wait("the failed handshake logged") { $0.logLines.contains { $0.contains("inbound handshake failed") } }

        // 2. A frame that does not decrypt, after a good handshake.
        var (socket, _) = try handshakeByHand(with: node)
        node.waitForPeers(2)
        try socket.write(Frame.encode([UInt8](repeating: 0x55, count: 40)))
        expectClosed(socket)
        node.wait("the decryption failure logged") { $0.logLines.contains { $0.contains("decryption failed") } }

        // 3. A well-encrypted envelope on an unknown channel.
        var session: NoiseSession
        (socket, session) = try handshakeByHand(with: node)
        try socket.write(Frame.encode(try session.sending.encrypt([0x7F, 0, 0])))
        expectClosed(socket)
        node.wait("the unknown channel logged") { $0.logLines.contains { $0.contains("unknown channel 0x7f") } }

        // 4. A frame below the tag size, and 5. a handshake from another network.
        (socket, session) = try handshakeByHand(with: node)
        try socket.write([0x00, 0x03, 1, 2, 3])
        expectClosed(socket)
        node.wait("the short frame logged") { $0.logLines.contains { $0.contains("frame: length 3") } }
        XCTAssertThrowsError(try handshakeByHand(with: node, network: "other-chain"))

        // 6. Silence: the handshake times out.
        let silent = try TCPSocket.connect(host: "127.0.0.1", port: node.port, timeoutMilliseconds: 1000)
        expectClosed(silent)
        node.wait("the handshake timeout logged") { $0.logLines.contains { $0.contains("timed out") } }

        // The honest peer is still connected and served.
        node.waitForPeers(1)
        XCTAssertEqual(honest.manager.send(try Envelope(channel: .mempool, messageType: 2, body: [7]), to: node.id), .queued)
        node.wait("the honest message") { $0.messages.contains { $0.0 == honest.id } }
        XCTAssertGreaterThanOrEqual(node.locked(\.disconnections.count), 3)
    }

    /// A peer trickling one byte at a time cannot hold a handshake open past its deadline:
    /// the timeout bounds the whole handshake, not each read.
    func testTricklingPeerHitsTheHandshakeDeadline() throws {
        let node = try Node()
        defer { node.manager.stop() }
        let socket = try TCPSocket.connect(host: "127.0.0.1", port: node.port, timeoutMilliseconds: 1000)
        let started = Date()
        var closed = false
        for byte in [0x00, 0x20] + [UInt8](repeating: 1, count: 31) {
            guard (try? socket.write([byte])) != nil else { closed = true; break }
            usleep(200_000)
        }
        if !closed { expectClosed(socket) }
        node.wait("the timeout logged") { $0.logLines.contains { $0.contains("handshake timed out") || $0.contains("read timed out") } }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "closed near the 1 s deadline, not after 33 slow bytes")
    }

    func testDialRefusesAPeerWithAnotherIdentity() throws {
        let a = try Node(), b = try Node()
        defer { a.manager.stop(); b.manager.stop() }
        let stranger = PeerID(try PrivateKey.generate().publicKey)
        XCTAssertThrowsError(try a.manager.dial(host: "127.0.0.1", port: b.port, expectedPeer: stranger)) {
            XCTAssertEqual($0 as? NetworkError, .unexpectedPeer(expected: stranger, got: b.id))
        }
        XCTAssertEqual(try a.manager.dial(host: "127.0.0.1", port: b.port, expectedPeer: b.id), b.id)
        a.waitForPeers(1)
        b.waitForPeers(1)
    }

    /// Messages sent from several threads at once, of sizes up to 16 KiB (several MiB in flight, so
    /// some immediate sends fill the socket's buffer and leave the rest of a frame to the writer
    /// thread): every message arrives, decrypts (frames left in nonce order) and keeps its
    /// sender's order.
    func testConcurrentSendersKeepOrderAcrossImmediateAndQueuedSends() throws {
        let (a, b) = (try Node(), try Node())
        defer { [a, b].forEach { $0.manager.stop() } }
        a.manager.addPersistentPeer(b.entry)
        a.waitForPeers(1)
        let peer = b.id
        let (threads, perThread) = (3, 300)
        let failures = NSLock()
        var outcomes: [SendOutcome] = []
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for sequence in 0..<perThread {
                let size = 2 + (sequence * 7919 + thread * 104_729) % (16 << 10)
                let body = [UInt8(sequence >> 8), UInt8(sequence & 0xFF)] + [UInt8](repeating: UInt8(thread), count: size - 2)
                let outcome = a.manager.send(try! Envelope(channel: .mempool, messageType: UInt16(thread), body: body), to: peer)
                if outcome != .queued { failures.withLock { outcomes.append(outcome) } }
            }
        }
        XCTAssertEqual(outcomes, [], "every message queued or sent")
        b.wait("every message") { $0.messages.count == threads * perThread }
        let received = b.locked { $0.messages.map(\.1) }
        for thread in 0..<threads {
            let sequences = received.filter { $0.messageType == UInt16(thread) }.map { Int($0.body[0]) << 8 | Int($0.body[1]) }
            XCTAssertEqual(sequences, Array(0..<perThread), "thread \(thread)'s messages in its order")
        }
        XCTAssertEqual(b.locked { $0.disconnections }, [])
    }

    func testAFullSendQueueDropsMessages() throws {
        let node = try Node { $0.sendQueueMessages = 4 }
        defer { node.manager.stop() }
        // A peer that completes the handshake and then never reads.
        let (socket, _) = try handshakeByHand(with: node)
        node.waitForPeers(1)
        let peer = node.manager.connectedPeers[0]
        let body = [UInt8](repeating: 1, count: Envelope.maximumBodyLength)
        var outcomes: [SendOutcome] = []
        for _ in 0..<2000 {
            outcomes.append(node.manager.send(try Envelope(channel: .blocks, messageType: 1, body: body), to: peer))
            if outcomes.last == .queueFull { break }
        }
        XCTAssertEqual(outcomes.last, .queueFull, "TCP buffers fill, then the 4-message queue")
        socket.close()
    }

    func testPeersBeyondTheLimitAreRefusedAndStopEndsEverything() throws {
        let node = try Node { $0.maximumPeers = 1 }
        let first = try Node(), second = try Node()
        defer { first.manager.stop(); second.manager.stop() }
        XCTAssertEqual(try first.manager.dial(host: "127.0.0.1", port: node.port), node.id)
        node.waitForPeers(1)
        _ = try? second.manager.dial(host: "127.0.0.1", port: node.port)
        node.wait("the refusal logged") { $0.logLines.contains { $0.contains("too many peers (1)") } }
        second.waitForPeers(0)
        XCTAssertEqual(node.manager.connectedPeers, [first.id])

        let port = node.port
        node.manager.stop()
        XCTAssertFalse(node.manager.isListening)
        XCTAssertEqual(node.manager.peerCount, 0)
        first.wait("the disconnection after stop") { $0.disconnections.count == 1 }
        XCTAssertThrowsError(try second.manager.dial(host: "127.0.0.1", port: port))
    }

    func testPersistentPeerEntriesParse() throws {
        let id = "0x" + String(repeating: "0a", count: 20)
        let peer = try PersistentPeer(parsing: "\(id)@10.0.0.5:26656")
        XCTAssertEqual(peer, PersistentPeer(id: try PeerID(hex: id), host: "10.0.0.5", port: 26656))
        XCTAssertEqual(try PersistentPeer(parsing: "\(id)@[::1]:9").host, "::1")
        XCTAssertEqual(try PersistentPeer(parsing: "\(id)@[::1]:9").description, "\(id)@[::1]:9")
        for bad in ["10.0.0.5:26656", "0x12@host:1", "\(id)@host", "\(id)@:5", "\(id)@host:99999"] {
            XCTAssertThrowsError(try PersistentPeer(parsing: bad), bad)
        }
    }
}
