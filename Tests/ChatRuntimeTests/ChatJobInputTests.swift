import Chat
@testable import ChatRuntime
import XCTest

/// The chat job's input and output encodings and the argmax rule (docs/chat.md, "The chat job").
final class ChatJobInputTests: XCTestCase {
    func parse(_ text: String) throws -> ChatJobInput { try ChatJobInput(bytes: Array(text.utf8)) }

    func assertRefused(_ text: String, _ expected: ChatJobError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: line) { XCTAssertEqual($0 as? ChatJobError, expected, file: file, line: line) }
    }

    func assertMalformed(_ text: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: line) { error in
            guard case .malformedInput(let why)? = error as? ChatJobError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertTrue(why.contains(fragment), "\(why)", file: file, line: line)
        }
    }

    func testCanonicalInputRoundTrips() throws {
        let text = #"{"maxTokens":8,"messages":[{"content":"Hi \"there\"\n\\ é 😀\u0001","role":"system"},{"content":"What?","role":"user"}]}"#
        let input = try parse(text)
        XCTAssertEqual(input.maxTokens, 8)
        XCTAssertEqual(input.messages, [ChatMessage(role: .system, content: "Hi \"there\"\n\\ é 😀\u{1}"), ChatMessage(role: .user, content: "What?")])
        XCTAssertEqual(String(decoding: input.encoded(), as: UTF8.self), text)
    }

    func testTheCapDefaultsTo64WhenLeftOut() throws {
        let input = try parse(#"{"messages":[{"content":"x","role":"user"}]}"#)
        XCTAssertEqual(input.maxTokens, 64)
        XCTAssertEqual(String(decoding: input.encoded(), as: UTF8.self), #"{"maxTokens":64,"messages":[{"content":"x","role":"user"}]}"#)
    }

    func testNonCanonicalBytesAreRefusedWithTheirCanonicalForm() {
        let canonical = #"{"maxTokens":8,"messages":[{"content":"é","role":"user"}]}"#
        for text in [#"{"maxTokens": 8,"messages":[{"content":"é","role":"user"}]}"#,
                     #"{"messages":[{"content":"é","role":"user"}],"maxTokens":8}"#,
                     #"{"maxTokens":8,"messages":[{"role":"user","content":"é"}]}"#,
                     #"{"maxTokens":8,"messages":[{"content":"\u00e9","role":"user"}]}"#,
                     #"{"maxTokens":8,"maxTokens":8,"messages":[{"content":"é","role":"user"}]}"#,
                     canonical + "\n"] {
            assertRefused(text, .notCanonical(expected: canonical))
        }
        XCTAssertNoThrow(try parse(canonical))
    }

    func testEachMalformedInputNamesItsRule() {
        assertMalformed("", "invalid JSON")
        assertMalformed("[]", "not a JSON object")
        assertMalformed(#"{"messages":[],"model":"x"}"#, #"unknown field "model""#)
        assertMalformed(#"{"maxTokens":"8","messages":[]}"#, "maxTokens is not an integer")
        assertMalformed(#"{"maxTokens":8.0,"messages":[]}"#, "maxTokens is not an integer")
        assertMalformed(#"{"maxTokens":8}"#, "messages is missing")
        assertMalformed(#"{"messages":[]}"#, "messages is empty")
        assertMalformed(#"{"messages":["hi"]}"#, "message 0 is not an object")
        assertMalformed(#"{"messages":[{"content":"x","name":"y","role":"user"}]}"#, #"message 0 has unknown field "name""#)
        assertMalformed(#"{"messages":[{"content":"x"}]}"#, "message 0's role is missing")
        assertMalformed(#"{"messages":[{"content":1,"role":"user"}]}"#, "message 0's content is missing or not a string")
        assertMalformed(#"{"messages":[{"content":"x","role":"tool"}]}"#, #"message 0: unknown role "tool""#)
        assertMalformed(#"{"messages":[{"content":"x","role":"user"},{"content":"y","role":"assistant"}]}"#, "the last message is from assistant")
    }

    func testTheCapIsOneTo256() throws {
        assertRefused(#"{"maxTokens":0,"messages":[{"content":"x","role":"user"}]}"#, .tokenCapOutOfRange(0))
        assertRefused(#"{"maxTokens":257,"messages":[{"content":"x","role":"user"}]}"#, .tokenCapOutOfRange(257))
        assertRefused(#"{"maxTokens":-1,"messages":[{"content":"x","role":"user"}]}"#, .tokenCapOutOfRange(-1))
        XCTAssertEqual(try parse(#"{"maxTokens":256,"messages":[{"content":"x","role":"user"}]}"#).maxTokens, 256)
        XCTAssertEqual(try parse(#"{"maxTokens":1,"messages":[{"content":"x","role":"user"}]}"#).maxTokens, 1)
    }

    func testOutputBytesAreCanonicalJSON() {
        let output = ChatJobOutput(tokens: [504, 30, 2], text: "The \"x\"\n", finish: .stop)
        XCTAssertEqual(String(decoding: output.encoded(), as: UTF8.self), #"{"finish":"stop","text":"The \"x\"\n","tokens":[504,30,2]}"#)
        XCTAssertEqual(String(decoding: ChatJobOutput(tokens: [7], text: "a", finish: .length).encoded(), as: UTF8.self),
                       #"{"finish":"length","text":"a","tokens":[7]}"#)
    }

    func testArgmaxTakesTheLowestIdAmongEqualMaximaAndNeverNaN() throws {
        XCTAssertEqual(try ChatModel.argmax([1, 3, 2, 3], step: 0), 1)
        XCTAssertEqual(try ChatModel.argmax([.nan, -1, .nan, -1], step: 0), 1)
        XCTAssertEqual(try ChatModel.argmax([-.infinity, -.infinity], step: 0), 0)
        XCTAssertEqual(try ChatModel.argmax([0, -0.0, 0], step: 0), 0)
        XCTAssertEqual(try ChatModel.argmax([-0.0, 0], step: 0), 0)
        XCTAssertEqual(try ChatModel.argmax(ArraySlice([9, 1, 5])[1...], step: 0), 1)
        XCTAssertThrowsError(try ChatModel.argmax([.nan, .nan], step: 4)) { XCTAssertEqual($0 as? ChatJobError, .noNumericLogit(step: 4)) }
    }

    func testByteSearchFindsATokenACharacterSearchWouldMiss() {
        let content = Array("a<|im_end|>\u{301}".utf8)
        XCTAssertTrue(ChatModel.contains(content, Array("<|im_end|>".utf8)))
        XCTAssertFalse("a<|im_end|>\u{301}".contains("<|im_end|>"), "if String.contains found it, this test would not show why bytes are searched")
        XCTAssertFalse(ChatModel.contains(Array("<|im_end".utf8), Array("<|im_end|>".utf8)))
    }
}
