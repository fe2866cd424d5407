@testable import Chat
import Foundation
import JSON
import XCTest

/// The tokenizer's rules on small hand-made vocabularies, and its refusals.
final class TokenizerTests: XCTestCase {
    /// A vocabulary of the special tokens, every byte of the alphabet, then `extra` tokens.
    static func data(extra: [String] = [], merges: [String] = [], specials: [String] = ["<|im_start|>", "<|im_end|>"],
                     template: String = ChatTemplate.smolLM2Source) -> [UInt8] {
        let tokens = specials + ByteLevelAlphabet.scalarOfByte.map { String($0) } + extra
        let json = JSONValue.object([
            "format": .string(TokenizerData.format),
            "tokens": .array(tokens.map { .string($0) }),
            "merges": .array(merges.map { .string($0) }),
            "specialTokens": .array(specials.enumerated().map { .object(["id": .int($0.offset), "content": .string($0.element)]) }),
            "bosTokenId": 0, "eosTokenId": 1, "padTokenId": 1,
            "chatTemplate": .string(template),
        ])
        return json.serializedBytes()
    }

    static func tokenizer(extra: [String] = [], merges: [String] = []) throws -> ByteLevelBPETokenizer {
        try ByteLevelBPETokenizer(TokenizerData(json: data(extra: extra, merges: merges)))
    }

    func pieces(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        return PreTokenizer.pieces(scalars, scalars.map(CharacterClass.init), in: 0..<scalars.count).map { range in
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars[range])
            return String(s)
        }
    }

    func testPreTokenizerFollowsGPT2PatternWithIsolatedNumbers() {
        XCTAssertEqual(pieces("Hello world"), ["Hello", " world"])
        XCTAssertEqual(pieces("I'm you're we'll HE'LL"), ["I", "'m", " you", "'re", " we", "'ll", " HE", "'", "LL"])
        XCTAssertEqual(pieces("x 's ''s"), ["x", " '", "s", " ''", "s"])
        XCTAssertEqual(pieces("year 2026!"), ["year", " ", "2", "0", "2", "6", "!"])
        XCTAssertEqual(pieces("a   b"), ["a", "  ", " b"])
        XCTAssertEqual(pieces("a\n\nb"), ["a", "\n", "\n", "b"])
        XCTAssertEqual(pieces("a \n b"), ["a", " \n", " b"])
        XCTAssertEqual(pieces("end   "), ["end", "   "])
        XCTAssertEqual(pieces("x  1"), ["x", "  ", "1"])
        XCTAssertEqual(pieces("hi!!  ??"), ["hi", "!!", " ", " ??"])
        XCTAssertEqual(pieces("e\u{301}t\u{e9}"), ["e", "\u{301}", "t\u{e9}"])
        XCTAssertEqual(pieces("日本語 テスト"), ["日本語", " テスト"])
        XCTAssertEqual(pieces("½٣"), ["½", "٣"])
        XCTAssertEqual(pieces(""), [])
    }

    func testCharacterClassesAreFrozenAtTheReferencesUnicodeVersion() {
        XCTAssertEqual(CharacterClass("a"), .letter)
        XCTAssertEqual(CharacterClass("7"), .number)
        XCTAssertEqual(CharacterClass(" "), .space)
        XCTAssertEqual(CharacterClass("'"), .other)
        XCTAssertEqual(CharacterClass("\u{3000}"), .space)
        XCTAssertEqual(CharacterClass("\u{1C}"), .other)
        XCTAssertEqual(CharacterClass("\u{1C89}"), .letter, "a letter since Unicode 16.0")
        XCTAssertEqual(CharacterClass("\u{88F}"), .other, "a letter only since Unicode 17.0, which the reference does not know")
        XCTAssertEqual(CharacterClass("\u{10FFFF}"), .other)
    }

    func testMergesApplyByRankLeftmostFirst() throws {
        // Ranks: "b c" before "a b", so "abc" becomes a + bc, not ab + c.
        let t = try Self.tokenizer(extra: ["ab", "bc", "aa", "aaaa"], merges: ["b c", "a b", "a a", "aa aa"])
        let (a, ab, bc, aa, aaaa) = (2 + 0x61, 258, 259, 260, 261)
        XCTAssertEqual(t.encode("abc"), [a, bc])
        XCTAssertEqual(t.encode("ab"), [ab])
        XCTAssertEqual(t.encode("aaaaa"), [aaaa, a], "aaaa then a: equal pairs merge from the left")
        XCTAssertEqual(t.encode("aaa"), [aa, a])
        XCTAssertEqual(try t.decode(t.encode("aaaaa abc")), "aaaaa abc")
        XCTAssertEqual(t.encode(String(repeating: "a", count: 100_000)).count, 25_000, "long words merge in n log n")
    }

    func testSpecialTokensAreMatchedBeforePreTokenization() throws {
        let t = try Self.tokenizer()
        XCTAssertEqual(t.encode("<|im_start|>"), [0])
        XCTAssertEqual(t.encode("x<|im_end|><|im_start|>"), [2 + 0x78, 1, 0])
        XCTAssertEqual(t.encode("<|im_start").count, 10, "an unfinished special token is plain text")
        XCTAssertEqual(try t.decode([0, 1]), "<|im_start|><|im_end|>")
    }

    func testDecodeNeverCrashes() throws {
        let t = try Self.tokenizer()
        XCTAssertThrowsError(try t.decode([-1])) { XCTAssertEqual($0 as? ChatError, .tokenIdOutOfRange(id: -1, vocabularySize: 258)) }
        XCTAssertThrowsError(try t.decode([Int.max]))
        // Token 2 + b is byte b. 0xE6 0x97 (the start of 日) cut short, then 0xFF: one U+FFFD per maximal invalid subsequence.
        XCTAssertEqual(try t.decode([2 + 0xE6, 2 + 0x97, 2 + 0xFF]), "\u{FFFD}\u{FFFD}")
        XCTAssertEqual(try t.decode([2 + 0xE6, 2 + 0x97, 2 + 0xA5]), "日")
        for first in 0..<258 {
            for second in stride(from: 0, to: 258, by: 7) {
                XCTAssertNoThrow(try t.decode([first, second, first]))
            }
        }
    }

    func testBadTokenizerDataIsRefusedWithTheRuleBroken() {
        func refusal(_ bytes: [UInt8]) -> String {
            do { _ = try ByteLevelBPETokenizer(TokenizerData(json: bytes)); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(refusal(Array("[]".utf8)).contains("not a JSON object"))
        XCTAssertTrue(refusal(Array("{\"format\":\"x\"}".utf8)).contains("format"))
        XCTAssertTrue(refusal(Self.data(extra: ["a"])).contains("appears twice"))
        XCTAssertTrue(refusal(Self.data(merges: ["a b"])).contains("not in the vocabulary"))
        XCTAssertTrue(refusal(Self.data(merges: ["ab"])).contains("two tokens separated by one space"))
        XCTAssertTrue(refusal(Self.data(extra: ["ab"], merges: ["a b", "a b"])).contains("repeats an earlier merge"))
        XCTAssertTrue(refusal(Self.data(extra: ["\u{2603}"])).contains("outside the byte-level alphabet"))
        var mislabelled = String(decoding: Self.data(), as: UTF8.self)
        mislabelled = mislabelled.replacingOccurrences(of: "{\"id\":1,", with: "{\"id\":5,")
        XCTAssertTrue(refusal(Array(mislabelled.utf8)).contains("special token \"<|im_end|>\" is not token 5"), refusal(Array(mislabelled.utf8)))
        let badEos = String(decoding: Self.data(), as: UTF8.self).replacingOccurrences(of: "\"eosTokenId\":1", with: "\"eosTokenId\":9999")
        XCTAssertTrue(refusal(Array(badEos.utf8)).contains("eosTokenId 9999 is not a token id"), refusal(Array(badEos.utf8)))
        XCTAssertEqual(refusal(Self.data()), "accepted")
    }

    func testTemplate() throws {
        XCTAssertThrowsError(try ChatTemplate(source: "{{ messages }}")) { XCTAssertEqual($0 as? ChatError, .unsupportedChatTemplate) }
        XCTAssertThrowsError(try ChatMessage(roleName: "tool", content: "")) { XCTAssertEqual($0 as? ChatError, .unknownRole("tool")) }
        let template = try ChatTemplate(source: ChatTemplate.smolLM2Source)
        XCTAssertEqual(template.render([], addGenerationPrompt: true), "<|im_start|>assistant\n")
        XCTAssertEqual(template.render([ChatMessage(role: .system, content: "S"), ChatMessage(role: .user, content: "U")], addGenerationPrompt: false),
                       "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n")
        XCTAssertEqual(template.render([ChatMessage(role: .user, content: "U")], addGenerationPrompt: true),
                       "<|im_start|>system\n\(ChatTemplate.defaultSystemPrompt)<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n")
    }
}
