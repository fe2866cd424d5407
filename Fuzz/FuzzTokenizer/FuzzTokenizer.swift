@testable import Chat
import JSON

/// libFuzzer entry for the chat tokenizer (issue 13 §5: any bytes in, tokens or a named
/// error out). The first byte picks what the rest is:
/// - 0: text for a fixed vocabulary (the byte-level alphabet, three special tokens and a
///   few merges): every id is in the vocabulary and decoding gives the text back, byte for
///   byte (bytes that are not UTF-8 are first repaired to U+FFFD, as `String` does);
/// - 1: token ids (two bytes each, signed) to decode: bytes, or `tokenIdOutOfRange` naming
///   the first id outside the vocabulary;
/// - 2: tokenizer data (JSON): a tokenizer, or a `ChatError` naming the rule broken; a
///   tokenizer built encodes and decodes its own special tokens and some text.
/// Never a crash, a trap or a hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let rest = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 3 {
    case 0: roundTrip(String(decoding: rest, as: UTF8.self), fixedTokenizer)
    case 1: decodeIds(rest)
    default: buildTokenizer(rest)
    }
    return 0
}

/// Special tokens, then one token per byte, then the merged tokens of `fixedMerges`.
private let fixedTokenizer: ByteLevelBPETokenizer = {
    let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    let merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("e", "r"), ("Ã", "©"), ("Ġ", "Ġ"), ("ĠĠ", "ĠĠ"), ("1", "2")]
    let tokens = specials + ByteLevelAlphabet.scalarOfByte.map { String($0) } + merges.map { $0.0 + $0.1 }
    let json = JSONValue.object([
        "format": .string(TokenizerData.format),
        "tokens": .array(tokens.map { .string($0) }),
        "merges": .array(merges.map { .string("\($0.0) \($0.1)") }),
        "specialTokens": .array(specials.enumerated().map { .object(["id": .int($0.offset), "content": .string($0.element)]) }),
        "bosTokenId": 1, "eosTokenId": 2, "padTokenId": 0,
        "chatTemplate": .string(ChatTemplate.smolLM2Source),
    ])
    do {
        return try ByteLevelBPETokenizer(TokenizerData(json: json.serializedBytes()))
    } catch {
        fatalError("the fixed vocabulary is refused: \(error)")
    }
}()

/// `text` encodes to ids in the vocabulary that decode back to `text`.
private func roundTrip(_ text: String, _ tokenizer: ByteLevelBPETokenizer) {
    let ids = tokenizer.encode(text)
    guard ids.allSatisfy({ $0 >= 0 && $0 < tokenizer.vocabularySize }) else { fatalError("encode gave an id outside the vocabulary") }
    let bytes: [UInt8]
    do { bytes = try tokenizer.decodeBytes(ids) } catch { fatalError("decoding encode's ids failed: \(error)") }
    guard bytes == Array(text.utf8) else { fatalError("encode → decode changed the text") }
}

private func decodeIds(_ bytes: [UInt8]) {
    let ids = stride(from: 0, to: bytes.count - 1, by: 2).map { Int(Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8)) }
    let firstBad = ids.first { $0 < 0 || $0 >= fixedTokenizer.vocabularySize }
    do {
        let text = try fixedTokenizer.decode(ids)
        guard firstBad == nil else { fatalError("id \(firstBad!) outside the vocabulary was decoded") }
        _ = text.utf8.count
    } catch let error as ChatError {
        guard error == .tokenIdOutOfRange(id: firstBad ?? -1, vocabularySize: fixedTokenizer.vocabularySize) else {
            fatalError("decode refused with the wrong reason: \(error)")
        }
    } catch {
        fatalError("decode threw something other than a ChatError: \(error)")
    }
}

private func buildTokenizer(_ bytes: [UInt8]) {
    let tokenizer: ByteLevelBPETokenizer
    do {
        tokenizer = try ByteLevelBPETokenizer(TokenizerData(json: bytes))
    } catch is ChatError {
        return
    } catch {
        fatalError("tokenizer data was refused with something other than a ChatError: \(error)")
    }
    // Special tokens decode to their text; bytes the vocabulary lacks are dropped, so only
    // text of the byte-level tokens it has is checked for a round trip.
    for special in tokenizer.specialTokens {
        guard (try? tokenizer.decode([special.id])) == special.content else { fatalError("special token \(special.id) does not decode to its text") }
    }
    let text = String(decoding: bytes.prefix(64), as: UTF8.self)
    let ids = tokenizer.encode(text)
    guard ids.allSatisfy({ $0 >= 0 && $0 < tokenizer.vocabularySize }) else { fatalError("encode gave an id outside the vocabulary") }
    _ = try? tokenizer.decode(ids)
}
