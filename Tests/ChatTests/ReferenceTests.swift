import Chat
import Foundation
import JSON
import XCTest

/// The tokenizer and template against the reference: the real SmolLM2 vocabulary, and cases
/// computed by the `tokenizers` package and jinja2 (tools/chat/make_tokenizer_cases.py).
/// `make test` writes both files into .build/chat before the unit tests (`make chat-data`).
final class ReferenceTests: XCTestCase {
    static let chatDirectory = ProcessInfo.processInfo.environment["OPG_CHAT_DIR"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/chat").path

    static func load() throws -> (ByteLevelBPETokenizer, TokenizerData, JSONValue) {
        let tokenizerPath = chatDirectory + "/smollm2-tokenizer.json"
        let casesPath = chatDirectory + "/tokenizer-cases.json"
        guard let cases = FileManager.default.contents(atPath: casesPath), FileManager.default.fileExists(atPath: tokenizerPath) else {
            throw XCTSkip("no \(casesPath): run `make chat-data` first")
        }
        let data = try TokenizerData(contentsOf: tokenizerPath)
        return (try ByteLevelBPETokenizer(data), data, try JSONParser.parse([UInt8](cases)))
    }

    static let loaded = Result { try load() }

    /// Scalars with a byte the vocabulary lacks (docs/chat.md, "Encoding"): they do not survive a round trip.
    static func isDropped(_ scalar: Unicode.Scalar) -> Bool {
        [0x04, 0x06, 0x13, 0x14, 0x16, 0x1D].contains(scalar.value) || (0x40000...0xBFFFF).contains(scalar.value)
    }

    func testEncodeMatchesReferenceAndDecodesAsReferenceDoes() throws {
        let (tokenizer, _, cases) = try Self.loaded.get()
        let encode = try XCTUnwrap(cases["encode"]?.arrayValue)
        XCTAssertGreaterThan(encode.count, 3000)
        var mismatches = 0
        for entry in encode {
            let text = try XCTUnwrap(entry["text"]?.stringValue)
            let expected = try XCTUnwrap(entry["ids"]?.arrayValue).map { Int($0.numberValue!.int64!) }
            let ids = tokenizer.encode(text)
            if ids != expected {
                mismatches += 1
                if mismatches <= 10 { XCTFail("encode \(text.debugDescription.prefix(200)): \(ids.prefix(40)) != reference \(expected.prefix(40))") }
            }
            XCTAssertEqual(try tokenizer.decode(expected), entry["decoded"]?.stringValue, "decode of \(text.debugDescription.prefix(200))")
            if !text.unicodeScalars.contains(where: Self.isDropped) {
                XCTAssertEqual(try tokenizer.decode(ids), text, "round trip of \(text.debugDescription.prefix(200))")
            }
        }
        XCTAssertEqual(mismatches, 0, "\(mismatches) of \(encode.count) texts tokenized differently from the reference")
    }

    func testDecodeOfRandomIdsMatchesReference() throws {
        let (tokenizer, _, cases) = try Self.loaded.get()
        let decode = try XCTUnwrap(cases["decode"]?.arrayValue)
        XCTAssertGreaterThan(decode.count, 500)
        for entry in decode {
            let ids = try XCTUnwrap(entry["ids"]?.arrayValue).map { Int($0.numberValue!.int64!) }
            XCTAssertEqual(try tokenizer.decode(ids), entry["text"]?.stringValue, "decode \(ids)")
        }
    }

    func testTemplateRendersAsTheGGUFsJinjaTemplate() throws {
        let (tokenizer, data, cases) = try Self.loaded.get()
        let template = try ChatTemplate(source: data.chatTemplate)
        let conversations = try XCTUnwrap(cases["templates"]?.arrayValue)
        XCTAssertGreaterThanOrEqual(conversations.count, 10)
        for conversation in conversations {
            let messages = try XCTUnwrap(conversation["messages"]?.arrayValue).map { pair in
                try ChatMessage(roleName: pair.arrayValue![0].stringValue!, content: pair.arrayValue![1].stringValue!)
            }
            let text = template.render(messages, addGenerationPrompt: conversation["addGenerationPrompt"]?.boolValue == true)
            XCTAssertEqual(text, conversation["text"]?.stringValue)
            XCTAssertEqual(try tokenizer.decode(tokenizer.encode(text)), text)
        }
    }

    func testRealVocabularyFacts() throws {
        let (tokenizer, data, _) = try Self.loaded.get()
        XCTAssertEqual(tokenizer.vocabularySize, 49152)
        XCTAssertEqual(tokenizer.specialTokenId("<|im_start|>"), 1)
        XCTAssertEqual(tokenizer.specialTokenId("<|im_end|>"), 2)
        XCTAssertEqual(tokenizer.specialTokenId("<|endoftext|>"), 0)
        XCTAssertEqual([data.bosTokenId, data.eosTokenId, data.padTokenId], [1, 2, 2])
        XCTAssertEqual(tokenizer.encode("<|im_start|>user\n"), [1, 4093, 198])
        XCTAssertThrowsError(try tokenizer.decode([49152])) { error in
            XCTAssertEqual(error as? ChatError, .tokenIdOutOfRange(id: 49152, vocabularySize: 49152))
        }
    }
}
