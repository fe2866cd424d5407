import Crypto
import Foundation
import HTTPServer
import Inference
import JSON
import Modules
import Node
import Primitives
import XCTest
import Operators

final class OperatorConfigTests: XCTestCase {
    private func parse(_ text: String, _ role: DaemonRole = .provider) throws -> OperatorConfig {
        try OperatorConfig.parse(try JSONParser.parse(Array(text.utf8)), role: role)
    }

    private func assertRefused(_ text: String, _ message: String, line: UInt = #line) { assertRefused(text, .provider, message, line: line) }

    private func assertRefused(_ text: String, _ role: DaemonRole, _ message: String, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text, role), line: line) { error in
            XCTAssertEqual((error as? ConfigError)?.message, message, line: line)
        }
    }

    func testAFullProviderConfigParses() throws {
        let c = try parse(#"""
            {"rpc": "http://127.0.0.1:8545", "keyFile": "p.key", "stateDir": "state", "listen": {"host": "127.0.0.1", "port": 0},
             "publicURL": "http://provider.example:9000/", "pollMs": 100, "statusSeconds": 5, "threads": 2,
             "models": {"QmModel": "/models/m.onnx"}, "chat": {"modelFile": "c.onnx", "tokenizerFile": "t.json"},
             "logLevel": "debug", "fee": "4000000000000000000", "corruptOutput": true}
            """#)
        XCTAssertEqual(c.role, .provider)
        XCTAssertEqual(c.listen, OperatorConfig.Listen(host: "127.0.0.1", port: 0))
        XCTAssertEqual(c.publicURL, "http://provider.example:9000")
        XCTAssertEqual(c.servedBase(port: 1234), "http://provider.example:9000")
        XCTAssertEqual([c.pollMs, c.statusSeconds], [100, 5])
        XCTAssertEqual(c.threads, 2)
        XCTAssertEqual(c.models, ["QmModel": "/models/m.onnx"])
        XCTAssertEqual(c.chat, OperatorConfig.ChatFiles(modelFile: "c.onnx", tokenizerFile: "t.json"))
        XCTAssertEqual(c.fee, try UInt256(decimal: "4000000000000000000"))
        XCTAssertTrue(c.corruptOutput)
        XCTAssertFalse(c.alwaysValid)
    }

    func testVerifierDefaults() throws {
        let c = try parse(#"{"rpc": "http://n:1", "keystoreFile": "k.json", "passwordFile": "pw", "stateDir": "s", "alwaysValid": true}"#, .verifier)
        XCTAssertNil(c.listen)
        XCTAssertNil(c.servedBase(port: 1))
        XCTAssertEqual(c.pollMs, 100)
        XCTAssertEqual(c.logLevel, .info)
        XCTAssertTrue(c.alwaysValid)
        XCTAssertFalse(c.alwaysInvalid)
        XCTAssertNil(c.chat)
        XCTAssertTrue(try parse(#"{"rpc": "http://n:1", "keyFile": "k", "stateDir": "s", "alwaysInvalid": true}"#, .verifier).alwaysInvalid)
        XCTAssertTrue(c.challenge)
        XCTAssertEqual(c.challengeBondCap, JobsParameters.default.challengeBond)
        let cautious = try parse(#"{"rpc": "http://n:1", "keyFile": "k", "stateDir": "s", "challenge": false, "challengeBondCap": "7"}"#, .verifier)
        XCTAssertFalse(cautious.challenge)
        XCTAssertEqual(cautious.challengeBondCap, UInt256(7))
        XCTAssertFalse(c.watch, "watching jobs it did not attest is off by default")
        XCTAssertTrue(try parse(#"{"rpc": "http://n:1", "keyFile": "k", "stateDir": "s", "watch": true}"#, .verifier).watch)
        XCTAssertTrue(try parse(#"{"rpc": "http://n:1", "keyFile": "k", "stateDir": "s", "fee": "1", "corruptTrace": true}"#).corruptTrace)
        XCTAssertTrue(try parse(#"{"rpc": "http://n:1", "keyFile": "k", "stateDir": "s", "fee": "1", "starvePipelinedCommit": true}"#).starvePipelinedCommit)
    }

    func testBadConfigsNameTheField() {
        let base = #""rpc": "http://n:1", "keyFile": "k", "stateDir": "s""#
        assertRefused("[]", "top level: must be a JSON object")
        assertRefused(#"{"keyFile": "k", "stateDir": "s", "fee": "1"}"#, "rpc: missing required field")
        assertRefused(#"{"rpc": "ws://n", "keyFile": "k", "stateDir": "s", "fee": "1"}"#, "rpc: \"ws://n\" is not an http:// or https:// URL")
        assertRefused(#"{"rpc": "http://n:1", "stateDir": "s", "fee": "1"}"#, "keyFile: missing required field (or keystoreFile with passwordFile)")
        assertRefused(#"{\#(base), "keystoreFile": "x", "passwordFile": "p", "fee": "1"}"#, "keyFile: give keyFile or keystoreFile, not both")
        assertRefused(#"{"rpc": "http://n:1", "keystoreFile": "x", "stateDir": "s", "fee": "1"}"#, "passwordFile: missing required field (keystoreFile needs it)")
        assertRefused(#"{\#(base)}"#, "fee: missing required field")
        assertRefused(#"{\#(base), "fee": "0"}"#, "fee: must be above zero")
        assertRefused(#"{\#(base), "fee": "1.5"}"#, "fee: \"1.5\" must be a non-negative decimal integer (wei) below 2^256")
        assertRefused(#"{\#(base), "fee": "1", "alwaysValid": true}"#, "alwaysValid: unknown field")
        assertRefused(#"{\#(base), "corruptOutput": true}"#, .verifier, "corruptOutput: unknown field")
        assertRefused(#"{\#(base), "fee": "1", "corruptOutput": "yes"}"#, "corruptOutput: must be true or false")
        assertRefused(#"{\#(base), "alwaysInvalid": true}"#, "alwaysInvalid: unknown field")
        assertRefused(#"{\#(base), "corruptTrace": true}"#, .verifier, "corruptTrace: unknown field")
        assertRefused(#"{\#(base), "starvePipelinedCommit": true}"#, .verifier, "starvePipelinedCommit: unknown field")
        assertRefused(#"{\#(base), "alwaysValid": true, "alwaysInvalid": true}"#, .verifier, "alwaysInvalid: not with alwaysValid")
        assertRefused(#"{\#(base), "challenge": "no"}"#, .verifier, "challenge: must be true or false")
        assertRefused(#"{\#(base), "challengeBondCap": "-1"}"#, .verifier, "challengeBondCap: \"-1\" must be a non-negative decimal integer (wei) below 2^256")
        assertRefused(#"{\#(base), "fee": "1", "challenge": false}"#, "challenge: unknown field")
        assertRefused(#"{\#(base), "watch": 1}"#, .verifier, "watch: must be true or false")
        assertRefused(#"{\#(base), "watch": true, "challenge": false}"#, .verifier, "watch: needs challenge (a watcher re-runs only to challenge)")
        assertRefused(#"{\#(base), "fee": "1", "watch": true}"#, "watch: unknown field")
        assertRefused(#"{\#(base), "fee": "1", "pollMs": 5}"#, "pollMs: must be an integer in 10…60000")
        assertRefused(#"{\#(base), "fee": "1", "listen": {"port": 70000}}"#, "listen.port: must be an integer in 0…65535")
        assertRefused(#"{\#(base), "fee": "1", "listen": {"host": "h"}}"#, "listen.port: missing required field")
        assertRefused(#"{\#(base), "fee": "1", "publicURL": "http://x"}"#, "publicURL: needs listen (nothing is served without it)")
        assertRefused(#"{\#(base), "fee": "1", "models": {"Qm": 3}}"#, "models.Qm: must be the path of a model file")
        assertRefused(#"{\#(base), "fee": "1", "chat": {"modelFile": "c.onnx"}}"#, "chat.tokenizerFile: missing required field")
        assertRefused(#"{\#(base), "fee": "1", "chat": {"modelFile": "", "tokenizerFile": "t"}}"#, "chat.modelFile: must be the path of the chat model's ONNX file")
        assertRefused(#"{\#(base), "fee": "1", "chat": {"modelFile": "c", "tokenizerFile": "t", "cap": 3}}"#, "chat.cap: unknown field")
        assertRefused(#"{\#(base), "fee": "1", "logLevel": "loud"}"#, "logLevel: must be one of debug, info, warn, error (got \"loud\")")
        assertRefused(#"{"rpc": "http://n:1", "keyFile": "k", "stateDir": "", "fee": "1"}"#, "stateDir: must not be empty")
    }

    func testAKeyFileIsReadAndABadOneNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("operators-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = try PrivateKey(Keccak256.digest(Array("operator key".utf8)))
        try Data((Hex.encode(key.bytes) + "\n").utf8).write(to: dir.appendingPathComponent("good.key"))
        try Data("nonsense".utf8).write(to: dir.appendingPathComponent("bad.key"))
        var c = try parse(#"{"rpc": "http://n:1", "keyFile": "\#(dir.path)/good.key", "stateDir": "s", "fee": "1"}"#)
        XCTAssertEqual(try c.loadKey().address, key.address)
        c.keyFile = dir.path + "/bad.key"
        XCTAssertThrowsError(try c.loadKey()) { XCTAssertTrue("\($0)".hasPrefix("keyFile \(dir.path)/bad.key: not a secp256k1 private key"), "\($0)") }
        c.keyFile = nil
        c.keystoreFile = dir.path + "/missing.json"
        c.passwordFile = dir.path + "/pw"
        XCTAssertThrowsError(try c.loadKey()) { XCTAssertEqual("\($0)", "keystoreFile \(dir.path)/missing.json: cannot read file") }
    }
}

final class SigningRecordTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("operators-record-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private var path: String { dir.appendingPathComponent("record.jsonl").path }

    private func attestation(_ verdict: Verdict, job: String = "job", round: UInt64 = 0) -> SigningRecord.SignedAttestation {
        SigningRecord.SignedAttestation(jobId: Keccak256.hash(Array(job.utf8)), round: round, verdict: verdict, salt: Keccak256.hash(Array("salt".utf8)),
                                        signature: [UInt8](repeating: UInt8(verdict.rawValue), count: 65), commitment: Keccak256.hash([verdict.rawValue]))
    }

    func testWhatIsRecordedSurvivesAReopen() throws {
        let job = Keccak256.hash(Array("job".utf8))
        do {
            let record = try SigningRecord(path: path)
            try record.record(attestation(.invalid))
            try record.record(job, step: "commit#0", raw: [1, 2, 3])
            try record.record(attestation(.valid, round: 1))
        }
        let reopened = try SigningRecord(path: path)
        XCTAssertEqual(reopened.attestation(job, round: 0), attestation(.invalid))
        XCTAssertEqual(reopened.attestation(job, round: 1), attestation(.valid, round: 1))
        XCTAssertNil(reopened.attestation(job, round: 2))
        XCTAssertEqual(reopened.transaction(job, step: "commit#0"), [1, 2, 3])
        XCTAssertNil(reopened.transaction(job, step: "reveal#0"))
        XCTAssertEqual(reopened.transactionOrder.map(\.step), ["commit#0"])
    }

    func testAnotherVerdictForTheSameRoundIsRefusedEvenAfterARestart() throws {
        let job = Keccak256.hash(Array("job".utf8))
        try SigningRecord(path: path).record(attestation(.invalid))
        let record = try SigningRecord(path: path)
        XCTAssertThrowsError(try record.record(attestation(.valid))) { error in
            XCTAssertEqual("\(error)", "refusing to sign valid for job \(job) round 0: invalid is already signed")
        }
        XCTAssertNoThrow(try record.record(attestation(.invalid)), "the same attestation again is a no-op")
        try record.record(job, step: "accept", raw: [9])
        XCTAssertThrowsError(try record.record(job, step: "accept", raw: [8])) { error in
            XCTAssertEqual("\(error)", "refusing to sign another accept transaction for job \(job): one is recorded")
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2, "one line per entry, no duplicate for the repeated attestation")
    }

    func testATornLastLineIsDroppedAndAMalformedOneNamed() throws {
        let job = Keccak256.hash(Array("job".utf8))
        try SigningRecord(path: path).record(attestation(.valid))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"kind":"attestation","job":"0x"#.utf8))  // the process died mid-write
        handle.closeFile()
        let record = try SigningRecord(path: path)
        XCTAssertEqual(record.attestation(job, round: 0)?.verdict, .valid)
        try record.record(attestation(.invalid, job: "other"))
        XCTAssertEqual(try SigningRecord(path: path).attestation(Keccak256.hash(Array("other".utf8)), round: 0)?.verdict, .invalid,
                       "the torn bytes were cut before the next entry was appended")
        try Data("{\"kind\":\"mystery\",\"job\":\"\(job.hex)\"}\n".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SigningRecord(path: path)) { error in
            XCTAssertEqual("\(error)", "signing record \(self.path): line 1 is malformed: kind must be attestation or transaction")
        }
    }
}

final class JobRunnerTests: XCTestCase {
    static var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("InferenceTests/Fixtures/models")
    }

    private func fixture(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: Self.fixtures.appendingPathComponent(name))) }

    func testTheKernelRunnerGivesTheCanonicalOutputAndTheTraceRoot() throws {
        let model = try fixture("digits_mlp.onnx")
        let input = try ModelReader.readTensor(try fixture("digits_mlp.input.pb"))
        let runner = KernelRunner { id in
            XCTAssertEqual(id, "QmMLP")
            return model
        }
        let bytes = JobInputEncoding.encode([input])
        let outcome = try runner.run(modelId: "QmMLP", input: bytes, verificationClass: .exact)
        let session = try InferenceSession(bytes: model)
        let trace = try session.trace([session.inputs[0].name: input])
        XCTAssertEqual(outcome.output, TensorEncoding.canonical(trace.outputs))
        XCTAssertEqual(outcome.traceRoot, trace.root)
        XCTAssertEqual(try runner.run(modelId: "QmMLP", input: bytes, verificationClass: .attestedOnly).traceRoot, .zero)
        XCTAssertTrue(runner.serves(modelId: "QmMLP", verificationClass: .exact))
    }

    func testMalformedInputsAreNamed() throws {
        let model = try fixture("digits_mlp.onnx")
        let input = try ModelReader.readTensor(try fixture("digits_mlp.input.pb"))
        let runner = KernelRunner { _ in model }
        let name = try InferenceSession(bytes: model).inputs[0].name
        func refused(_ bytes: [UInt8], _ prefix: String, line: UInt = #line) {
            XCTAssertThrowsError(try runner.run(modelId: "m", input: bytes, verificationClass: .exact), line: line) { error in
                XCTAssertTrue("\(error)".hasPrefix(prefix), "\(error)", line: line)
            }
        }
        let good = JobInputEncoding.encode([input])
        XCTAssertEqual(good, TensorEncoding.canonical([input]), "the jobs module's dispute decodes the same bytes")
        refused([], "the job's input: ")
        refused(Array(good.dropLast()), "the job's input: ")
        refused(good + [0], "the job's input: ")
        refused(JobInputEncoding.encode([input, input]), "the job's input holds 2 tensors, the model takes 1 (\(name))")
        var reshaped = input
        reshaped.shape = [input.count]
        refused(JobInputEncoding.encode([reshaped]), "input \"\(name)\": ")
        XCTAssertThrowsError(try KernelRunner { _ in [1, 2, 3] }.run(modelId: "junk", input: good, verificationClass: .exact)) {
            XCTAssertTrue("\($0)".hasPrefix("model junk: "), "\($0)")
        }
    }

    func testTheArtifactStoreServesWhatItHolds() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("operators-artifacts-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try ArtifactStore(directory: dir.path)
        let job = Keccak256.hash(Array("job".utf8))
        try store.save([1, 2, 3], job: job, part: "output")
        let get = { (path: String) in store.answer(HTTPRequest(method: "GET", path: path, headers: [:], body: [])) }
        XCTAssertEqual(get(ArtifactStore.uriPath(job, "output")).body, [1, 2, 3])
        XCTAssertEqual(get(ArtifactStore.uriPath(job, "input")).status, 404)
        XCTAssertEqual(get("/jobs/0x12/output").status, 404)
        XCTAssertEqual(get("/etc/passwd").status, 404)
        XCTAssertEqual(store.answer(HTTPRequest(method: "POST", path: ArtifactStore.uriPath(job, "output"), headers: [:], body: [])).status, 405)
    }
}

final class JobStreamTests: XCTestCase {
    private let job = Keccak256.hash(Array("streamed job".utf8))
    private let output = Array(#"{"finish":"stop","text":"Hi.","tokens":[11,12,2]}"#.utf8)

    /// A daemon's HTTP server over `store` and `board`, as `OperatorDaemon` starts it.
    private func serve(_ store: ArtifactStore, _ board: JobStreamBoard) throws -> HTTPServer {
        let server = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, corsOrigins: ["*"], virtualHosts: ["*"], threads: 1),
                                router: store.router(streams: board))
        try server.start()
        return server
    }

    private func events(_ server: HTTPServer, _ job: Hash32) throws -> [(String, JSONValue)] {
        var seen: [(String, JSONValue)] = []
        try HTTPClient(url: "http://127.0.0.1:\(server.port)/jobs/\(job.hex)/stream", timeoutSeconds: 10).events { name, data in
            seen.append((name, try JSONParser.parse(Array(data.utf8))))
            return true
        }
        return seen
    }

    /// Starts reading `job`'s stream on another thread and gives it 0.3 s to connect (and wait
    /// for a run that has not begun); the returned function waits for the stream's end.
    private func readInBackground(_ server: HTTPServer) -> () -> [(String, JSONValue)] {
        let received = expectation(description: "stream read")
        var seen: [(String, JSONValue)] = []
        DispatchQueue.global().async {
            seen = (try? self.events(server, self.job)) ?? []
            received.fulfill()
        }
        Thread.sleep(forTimeInterval: 0.3)
        return {
            self.wait(for: [received], timeout: 10)
            return seen
        }
    }

    private func store() throws -> ArtifactStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("operators-streams-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return try ArtifactStore(directory: dir.path)
    }

    func testTokensStreamLiveAndEndWithTheCommittedOutputsHash() throws {
        let board = JobStreamBoard(), server = try serve(try store(), board)
        defer { server.stop() }
        let read = readInBackground(server)
        board.begin(job)
        board.token(job, index: 0, token: 11, text: "H")
        board.token(job, index: 1, token: 12, text: "Hi.")
        board.token(job, index: 2, token: 2, text: "Hi.")
        board.finish(job, output: output)
        let seen = read()
        XCTAssertEqual(seen.map(\.0), ["token", "token", "token", "done"])
        XCTAssertEqual(seen.prefix(3).map { $0.1["token"]?.numberValue?.uint64 }, [11, 12, 2])
        XCTAssertEqual(seen[1].1["text"]?.stringValue, "Hi.")
        let done = seen[3].1
        XCTAssertEqual(done["outputHash"]?.stringValue, Keccak256.hash(output).hex)
        XCTAssertEqual(done["tokens"]?.arrayValue?.map { $0.numberValue?.uint64 }, [11, 12, 2])
        XCTAssertEqual(done["text"]?.stringValue, "Hi.")
        // A client joining after the end gets every event at once.
        XCTAssertEqual(try events(server, job).map(\.0), ["token", "token", "token", "done"])
    }

    func testAFailedRunEndsWithAnErrorAndAHeldOutputIsServedAfterARestart() throws {
        let store = try store(), board = JobStreamBoard(), server = try serve(store, board)
        defer { server.stop() }
        board.begin(job)
        board.fail(job, "chat job: malformed chat input")
        let failed = try events(server, job)
        XCTAssertEqual(failed.map(\.0), ["error"])
        XCTAssertEqual(failed[0].1["message"]?.stringValue, "chat job: malformed chat input")
        let other = Keccak256.hash(Array("run before a restart".utf8))
        try store.save(output, job: other, part: "output")
        let held = try events(server, other)
        XCTAssertEqual(held.map(\.0), ["done"])
        XCTAssertEqual(held[0].1["outputHash"]?.stringValue, Keccak256.hash(output).hex)
        XCTAssertEqual(JobStreamBoard.streamedJob("/jobs/\(job.hex)/stream"), job)
        XCTAssertNil(JobStreamBoard.streamedJob("/jobs/0x12/stream"))
        XCTAssertNil(JobStreamBoard.streamedJob("/jobs/\(job.hex)/output"))
    }

    func testAClientWaitingForAJobThatNeverStartsGetsAnError() throws {
        let board = JobStreamBoard(), server = try serve(try store(), board)
        defer { server.stop() }
        let read = readInBackground(server)
        board.expireWaiting(now: Date().addingTimeInterval(JobStreamBoard.waitSeconds - 5))
        board.expireWaiting(now: Date().addingTimeInterval(JobStreamBoard.waitSeconds + 1))
        let seen = read()
        XCTAssertEqual(seen.map(\.0), ["error"])
        XCTAssertEqual(seen.first?.1["message"]?.stringValue, "job \(job.hex) was not run by this provider within 120 s")
    }
}
