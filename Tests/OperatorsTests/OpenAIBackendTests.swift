import Foundation
import JSON
import Modules
import Node
import Primitives
import XCTest
import Operators

/// The OpenAI-compatible backend (docs/chat.md, "The OpenAI-compatible backend"): its config,
/// the response decoder's refusals and the request it sends. The e2e test (test_openai_backend.py)
/// runs it against a real HTTP server on loopback.
final class OpenAIBackendTests: XCTestCase {
    private let input = Array(#"{"maxTokens":8,"messages":[{"content":"Be brief.","role":"system"},{"content":"Hi?","role":"user"}]}"#.utf8)

    private func answer(_ body: String, status: Int = 200) throws -> String {
        String(decoding: try OpenAIChatResponse.decode(status: status, body: Array(body.utf8), fallbackModel: "configured").encoded(), as: UTF8.self)
    }

    private func assertRefused(_ body: String, status: Int = 200, _ message: String, line: UInt = #line) {
        XCTAssertThrowsError(try answer(body, status: status), line: line) { error in
            XCTAssertEqual((error as? JobRunError)?.message, message, line: line)
        }
    }

    func testAnAnswerDecodesToTheCommittedBytes() throws {
        XCTAssertEqual(try answer(#"{"model":"gpt-x","choices":[{"index":0,"message":{"role":"assistant","content":"Paris."},"finish_reason":"stop"}]}"#),
                       #"{"backend":"openai-compatible","finish":"stop","model":"gpt-x","text":"Paris."}"#)
        XCTAssertEqual(try answer(#"{"choices":[{"message":{"content":"Par"},"finish_reason":"length"}]}"#),
                       #"{"backend":"openai-compatible","finish":"length","model":"configured","text":"Par"}"#, "no model named: the configured one")
        XCTAssertEqual(try answer(#"{"choices":[{"message":{"content":"ok"},"finish_reason":null}]}"#, status: 201),
                       #"{"backend":"openai-compatible","finish":"stop","model":"configured","text":"ok"}"#)
    }

    func testTheDecoderRefusesBadAnswersNamingWhatIsWrong() {
        assertRefused(#"{"error":{"message":"model overloaded","type":"server_error"}}"#, status: 503, "the endpoint answered HTTP 503: model overloaded")
        assertRefused("upstream timed out", status: 502, "the endpoint answered HTTP 502: upstream timed out")
        assertRefused("", status: 500, "the endpoint answered HTTP 500: (empty body)")
        assertRefused("{\"choices\": [", "the endpoint's answer is not JSON: " + jsonError("{\"choices\": ["))
        assertRefused("[1]", "the endpoint's answer is not a JSON object")
        assertRefused(#"{"id":"x"}"#, "the endpoint's answer has no choices array")
        assertRefused(#"{"choices":{}}"#, "the endpoint's answer has no choices array")
        assertRefused(#"{"choices":[]}"#, "the endpoint's answer has an empty choices array")
        assertRefused(#"{"choices":[{"text":"legacy completion"}]}"#, "choice 0 has no message object")
        assertRefused(#"{"choices":[{"message":{"content":null,"tool_calls":[]}}]}"#, "choice 0's message has no content string")
        assertRefused(#"{"choices":[{"message":{"content":""}}]}"#, "choice 0's message content is empty")
        assertRefused(#"{"choices":[{"message":{"content":"x"},"finish_reason":"content_filter"}]}"#,
                      #"choice 0 ended with finish_reason "content_filter", not stop or length"#)
        assertRefused(String(repeating: " ", count: OpenAIChatResponse.maxBodyBytes + 1),
                      "the endpoint's answer is \(OpenAIChatResponse.maxBodyBytes + 1) bytes, over the limit of \(OpenAIChatResponse.maxBodyBytes)")
    }

    private func jsonError(_ text: String) -> String {
        do { _ = try JSONParser.parse(Array(text.utf8)); return "" } catch { return "\(error)" }
    }

    func testTheRunnerSendsTheConversationAndCommitsTheAnswerWithoutTraceRoot() throws {
        var sent: [(String, [(String, String)], [UInt8])] = []
        let runner = OpenAIRunner(endpoint: OpenAIEndpoint(baseURL: "http://127.0.0.1:9", model: "tiny"), apiKey: "sk-secret") { url, headers, body in
            sent.append((url, headers, body))
            return (200, Array(#"{"model":"tiny-1","choices":[{"message":{"content":"Hello."},"finish_reason":"stop"}]}"#.utf8))
        }
        XCTAssertTrue(runner.serves(modelId: "QmRKDnhryJNa55zSzdVGS6djodxMjULCekyAC7gkKZ4mCt", verificationClass: .attestedOnly))
        XCTAssertFalse(runner.serves(modelId: "QmRKDnhryJNa55zSzdVGS6djodxMjULCekyAC7gkKZ4mCt", verificationClass: .exact), "never for exact jobs")
        XCTAssertFalse(runner.serves(modelId: "QmOther", verificationClass: .attestedOnly))
        let outcome = try runner.run(modelId: "QmRKDnhryJNa55zSzdVGS6djodxMjULCekyAC7gkKZ4mCt", input: input, verificationClass: .attestedOnly)
        XCTAssertEqual(String(decoding: outcome.output, as: UTF8.self), #"{"backend":"openai-compatible","finish":"stop","model":"tiny-1","text":"Hello."}"#)
        XCTAssertEqual(outcome.traceRoot, .zero)
        XCTAssertEqual(sent.count, 1)
        XCTAssertEqual(sent[0].0, "http://127.0.0.1:9/v1/chat/completions")
        XCTAssertTrue(sent[0].1.contains { $0 == ("Authorization", "Bearer sk-secret") })
        XCTAssertEqual(String(decoding: sent[0].2, as: UTF8.self),
                       #"{"max_tokens":8,"messages":[{"content":"Be brief.","role":"system"},{"content":"Hi?","role":"user"}],"model":"tiny","stream":false,"temperature":0}"#)
        XCTAssertThrowsError(try runner.run(modelId: "QmRKDnhryJNa55zSzdVGS6djodxMjULCekyAC7gkKZ4mCt", input: Array("{}".utf8), verificationClass: .attestedOnly)) {
            XCTAssertTrue("\($0)".hasPrefix("chat job: malformed chat input"), "\($0)")
        }
    }

    func testErrorsNameTheEndpointAndNeverTheKey() {
        let runner = OpenAIRunner(endpoint: OpenAIEndpoint(baseURL: "http://127.0.0.1:9", model: "tiny"), apiKey: "sk-secret") { _, _, _ in
            (401, Array(#"{"error":{"message":"Incorrect API key provided: sk-secret"}}"#.utf8))
        }
        XCTAssertThrowsError(try runner.run(modelId: "QmRKDnhryJNa55zSzdVGS6djodxMjULCekyAC7gkKZ4mCt", input: input, verificationClass: .attestedOnly)) {
            XCTAssertEqual("\($0)", "OpenAI-compatible endpoint http://127.0.0.1:9/v1/chat/completions: the endpoint answered HTTP 401: Incorrect API key provided: [API key]")
        }
        let unreachable = OpenAIRunner(endpoint: OpenAIEndpoint(baseURL: "http://127.0.0.1:9", model: "tiny"), apiKey: nil) { _, _, _ in
            throw JobRunError("no answer within 1 s")
        }
        XCTAssertThrowsError(try unreachable.run(modelId: "QmRKDnhryJNa55zSzdVGS6djodxMjULCekyAC7gkKZ4mCt", input: input, verificationClass: .attestedOnly)) {
            XCTAssertEqual("\($0)", "OpenAI-compatible endpoint http://127.0.0.1:9/v1/chat/completions: no answer within 1 s")
        }
    }

    func testTheRealTransportTimesOutOnASilentServer() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        XCTAssertEqual(listen(listener, 4), 0)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = UInt16(bigEndian: address.sin_port)
        XCTAssertThrowsError(try URLSessionTransport(timeoutSeconds: 1).post("http://127.0.0.1:\(port)/v1/chat/completions", [], [])) {
            XCTAssertEqual("\($0)", "no answer within 1 s")
        }
    }

    func testTheConfigSection() throws {
        let text = #"""
            {"rpc": "http://127.0.0.1:8545", "keyFile": "p.key", "stateDir": "s", "fee": "1",
             "openai": {"baseURL": "https://api.example.com/", "model": "gpt-x", "apiKeyEnv": "OPG_TEST_KEY", "timeoutSeconds": 5}}
            """#
        let c = try OperatorConfig.parse(try JSONParser.parse(Array(text.utf8)), role: .provider)
        var expected = OpenAIEndpoint(baseURL: "https://api.example.com", model: "gpt-x")
        expected.apiKeyEnv = "OPG_TEST_KEY"
        expected.timeoutSeconds = 5
        XCTAssertEqual(c.openAI, expected)
        XCTAssertEqual(c.openAI?.completionsURL, "https://api.example.com/v1/chat/completions")
        XCTAssertEqual(try c.openAI?.apiKey(environment: ["OPG_TEST_KEY": "sk-1\n"]), "sk-1")
        XCTAssertThrowsError(try c.openAI?.apiKey(environment: [:])) {
            XCTAssertEqual("\($0)", "openai.apiKeyEnv: the environment variable OPG_TEST_KEY is not set or empty")
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("opg-openai-key-\(getpid())").path
        try "sk-from-file\nsecond line\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        var fromFile = expected
        fromFile.apiKeyEnv = nil
        fromFile.apiKeyFile = file
        XCTAssertEqual(try fromFile.apiKey(), "sk-from-file")
        fromFile.apiKeyFile = file + ".missing"
        XCTAssertThrowsError(try fromFile.apiKey()) { XCTAssertEqual("\($0)", "openai.apiKeyFile \(file).missing: cannot read file") }
        for (section, message) in [
            (#"{"model": "m"}"#, "openai.baseURL: missing required field"),
            (#"{"baseURL": "ftp://x", "model": "m"}"#, #"openai.baseURL: "ftp://x" is not an http:// or https:// URL"#),
            (#"{"baseURL": "http://x", "model": ""}"#, "openai.model: must name the endpoint's model"),
            (#"{"baseURL": "http://x", "model": "m", "apiKeyFile": "k", "apiKeyEnv": "K"}"#, "openai.apiKeyFile: give apiKeyFile or apiKeyEnv, not both"),
            (#"{"baseURL": "http://x", "model": "m", "timeoutSeconds": 0}"#, "openai.timeoutSeconds: must be an integer in 1…600"),
            (#"{"baseURL": "http://x", "model": "m", "apiKey": "sk-inline"}"#, "openai.apiKey: unknown field"),
        ] {
            let config = #"{"rpc": "http://127.0.0.1:8545", "keyFile": "p.key", "stateDir": "s", "fee": "1", "openai": "# + section + "}"
            XCTAssertThrowsError(try OperatorConfig.parse(try JSONParser.parse(Array(config.utf8)), role: .provider)) {
                XCTAssertEqual("\($0)", message)
            }
        }
        let verifier = #"{"rpc": "http://127.0.0.1:8545", "keyFile": "p.key", "stateDir": "s", "openai": {"baseURL": "http://x", "model": "m"}}"#
        XCTAssertThrowsError(try OperatorConfig.parse(try JSONParser.parse(Array(verifier.utf8)), role: .verifier)) {
            XCTAssertEqual("\($0)", "openai: unknown field", "a verifier never asks an endpoint")
        }
    }
}
