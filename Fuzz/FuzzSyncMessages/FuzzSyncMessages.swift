@testable import Node
import Network

/// libFuzzer entry for the blocks, mempool and endpoints channels' decoders (docs/p2p.md, "Block
/// sync", "Mempool gossip", "Split messages", "Provider endpoint gossip"). The first byte picks
/// what the rest is:
///   0: a blocks message, type (2) ‖ body — a decoded message must decode again, equal, from its encoding;
///   1: a mempool `transactions` body — a decoded one must re-encode to the same bytes;
///   2: a stream of block-channel parts, each length (2) ‖ part body, through one assembler — a
///      reassembled message is decoded as in 0;
///   3: an endpoints `announcements` body — a decoded one must re-encode to the same bytes.
/// Every failure must be a SyncMessageError; nothing may crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSyncMessages(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 4 {
    case 0:
        guard input.count >= 2 else { return 0 }
        expectSyncErrors { try checkBlockMessage(type: UInt16(input[0]) << 8 | UInt16(input[1]), body: Array(input[2...])) }
    case 1:
        expectSyncErrors {
            let message = try MempoolMessage(decoding: input)
            guard message.encoded == input else { fatalError("mempool message re-encodes differently") }
        }
    case 3:
        expectSyncErrors {
            let message = try ProviderEndpointMessage(decoding: input)
            guard message.encoded == input else { fatalError("endpoints message re-encodes differently") }
        }
    default:
        var assembler = SyncPartAssembler(channel: BlockSyncMessage.channelName, maximumBytes: BlockSyncMessage.maximumBlockBytes,
                                      splittableKinds: [BlockSyncMessage.blockType])
        var offset = 0
        while offset + 2 <= input.count {
            let length = Int(input[offset]) << 8 | Int(input[offset + 1])
            let part = Array(input[offset + 2..<min(input.count, offset + 2 + length)])
            offset += 2 + length
            expectSyncErrors {
                if let whole = try assembler.add(part) { try checkBlockMessage(type: whole.kind, body: whole.body) }
            }
        }
    }
    return 0
}

/// Decodes a blocks message; a decoded one must survive its own encoding.
private func checkBlockMessage(type: UInt16, body: [UInt8]) throws {
    let message = try BlockSyncMessage(type: type, body: body)
    let (encodedType, encodedBody) = message.encoded
    guard try BlockSyncMessage(type: encodedType, body: encodedBody) == message else { fatalError("blocks message does not survive its encoding") }
    _ = message.envelopes
}

private func expectSyncErrors(_ body: () throws -> Void) {
    do { try body() } catch {
        guard error is SyncMessageError else { fatalError("decoder threw \(error)") }
    }
}
