@testable import Network

/// libFuzzer entry for the P2P wire decoders. The input is a byte stream from a peer, cut into
/// pieces whose size the first byte chooses: the frame reader must return the same frames
/// whatever the cut, every frame body is decoded as an envelope plaintext (which must re-encode
/// to the same bytes) and decrypted by a transport session (which must fail cleanly). Any error
/// must be a NetworkError; nothing may crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzP2PFrame(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let piece = Int(data[0]) + 1
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))

    var whole = FrameReader()
    whole.append(stream)
    var expected: [[UInt8]] = []
    var wholeError = false
    do { while let frame = try whole.next(minimumLength: Frame.minimumCiphertextLength) { expected.append(frame) } } catch {
        guard error is NetworkError else { fatalError("frame reader threw \(error)") }
        wholeError = true
    }

    var pieces = FrameReader()
    var frames: [[UInt8]] = []
    var piecesError = false
    var offset = 0
    cutting: while offset < stream.count {
        let end = min(stream.count, offset + piece)
        pieces.append(stream[offset..<end])
        offset = end
        do { while let frame = try pieces.next(minimumLength: Frame.minimumCiphertextLength) { frames.append(frame) } } catch {
            piecesError = true
            break cutting
        }
    }
    guard frames == expected, piecesError == wholeError else { fatalError("frames depend on how the stream was cut") }

    var receiver = NoiseReceiver(cipher: CipherState(key: [UInt8](repeating: 0x42, count: 32)))
    for frame in expected {
        if let envelope = try? Envelope(decoding: frame) {
            guard envelope.encoded == frame else { fatalError("envelope re-encodes differently") }
        }
        do { _ = try receiver.decrypt(frame) } catch {
            guard error is NetworkError else { fatalError("decrypt threw \(error)") }
        }
    }
    return 0
}
