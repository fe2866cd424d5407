import XCTest
@testable import Network

/// Frames, envelopes and the streaming frame reader.
final class FramingTests: XCTestCase {
    func testEnvelopeRoundTripAndLayout() throws {
        let envelope = try Envelope(channel: .mempool, messageType: 0x0102, body: [9, 8, 7])
        XCTAssertEqual(envelope.encoded, [0x02, 0x01, 0x02, 9, 8, 7])
        XCTAssertEqual(try Envelope(decoding: envelope.encoded), envelope)
        XCTAssertEqual(try Envelope(decoding: [0x04, 0, 0]).body, [])
    }

    func testMalformedEnvelopesAreNamed() throws {
        XCTAssertThrowsError(try Envelope(decoding: [])) { XCTAssertEqual($0 as? NetworkError, .envelopeTooShort(0)) }
        XCTAssertThrowsError(try Envelope(decoding: [1, 0])) { XCTAssertEqual($0 as? NetworkError, .envelopeTooShort(2)) }
        XCTAssertThrowsError(try Envelope(decoding: [0, 0, 0])) { XCTAssertEqual($0 as? NetworkError, .unknownChannel(0)) }
        XCTAssertThrowsError(try Envelope(decoding: [0x06, 0, 0])) { XCTAssertEqual($0 as? NetworkError, .unknownChannel(6)) }
        let big = [UInt8](repeating: 0, count: Envelope.maximumBodyLength + 1)
        XCTAssertThrowsError(try Envelope(channel: .blocks, messageType: 1, body: big)) {
            XCTAssertEqual($0 as? NetworkError, .envelopeTooLarge(big.count))
        }
        XCTAssertThrowsError(try Envelope(decoding: [0x03, 0, 1] + big))
        XCTAssertEqual(Envelope.maximumBodyLength, 65516)
    }

    func testFrameReaderReassemblesArbitraryPieces() throws {
        let bodies: [[UInt8]] = [[UInt8](repeating: 1, count: 16), [UInt8](repeating: 2, count: 300), [UInt8](repeating: 3, count: 65535)]
        let stream = bodies.flatMap { Frame.encode($0) }
        for pieceLength in [1, 7, 1000, stream.count] {
            var reader = FrameReader()
            var out: [[UInt8]] = []
            var offset = 0
            while offset < stream.count {
                let end = min(stream.count, offset + pieceLength)
                reader.append(stream[offset..<end])
                offset = end
                while let frame = try reader.next(minimumLength: Frame.minimumCiphertextLength) { out.append(frame) }
            }
            XCTAssertEqual(out, bodies, "pieces of \(pieceLength)")
            XCTAssertEqual(reader.pendingCount, 0)
        }
    }

    func testFrameShorterThanATagIsRejected() throws {
        var reader = FrameReader()
        reader.append([0x00, 0x0F] + [UInt8](repeating: 0, count: 15))
        XCTAssertThrowsError(try reader.next(minimumLength: Frame.minimumCiphertextLength)) {
            XCTAssertEqual($0 as? NetworkError, .invalidFrameLength(15))
        }
        var partial = FrameReader()
        partial.append([0xFF])
        XCTAssertNil(try partial.next(minimumLength: 16))
        partial.append([0xFF, 1, 2])
        XCTAssertNil(try partial.next(minimumLength: 16), "a 65535-byte frame waits for all its bytes")
    }

    func testBackoffDoublesToTheCapWithBoundedReproducibleJitter() {
        var a = ReconnectBackoff(initialMilliseconds: 100, maximumMilliseconds: 1000, jitterPercent: 20, seed: 42)
        var b = ReconnectBackoff(initialMilliseconds: 100, maximumMilliseconds: 1000, jitterPercent: 20, seed: 42)
        let bases = [100, 200, 400, 800, 1000, 1000, 1000]
        let delays = bases.map { _ in a.nextDelayMilliseconds() }
        XCTAssertEqual(delays, bases.map { _ in b.nextDelayMilliseconds() }, "same seed, same delays")
        for (delay, base) in zip(delays, bases) {
            XCTAssertGreaterThanOrEqual(delay, base - base / 5)
            XCTAssertLessThanOrEqual(delay, base + base / 5)
        }
        var c = ReconnectBackoff(initialMilliseconds: 100, maximumMilliseconds: 1000, jitterPercent: 20, seed: 43)
        XCTAssertNotEqual(delays, bases.map { _ in c.nextDelayMilliseconds() }, "another seed, other jitter")
        a.reset()
        XCTAssertLessThanOrEqual(a.nextDelayMilliseconds(), 120)
    }
}
