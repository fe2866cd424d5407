import HTTPServer
import JSON
import XCTest
@testable import RPC

final class DispatcherTests: XCTestCase {
    var server: HTTPServer!
    var client: HTTPClient!

    override func setUpWithError() throws {
        let dispatcher = RPCDispatcher()
        dispatcher.register("echo") { params in .array(params.values) }
        dispatcher.register("add") { params in .int(try params.uint64(0, "a") + params.uint64(1, "b")) }
        dispatcher.register("fail") { _ in throw RPCError.server("nonce too low") }
        server = HTTPServer(configuration: HTTPServerConfiguration(port: 0, maxBodyBytes: 4096)) { dispatcher.serve($0) }
        try server.start()
        client = try HTTPClient(url: "http://127.0.0.1:\(server.port)")
    }

    override func tearDown() { server.stop() }

    private func call(_ body: String) throws -> (Int, JSONValue?) {
        let response = try client.post(Array(body.utf8))
        return (response.status, response.body.isEmpty ? nil : try JSONParser.parse(response.body))
    }

    func testSingleCallsAndErrors() throws {
        XCTAssertEqual(try call(#"{"jsonrpc":"2.0","id":7,"method":"add","params":["0x2","0x3"]}"#).1,
                       .object(["jsonrpc": "2.0", "id": 7, "result": 5]))
        XCTAssertEqual(try call(#"{"jsonrpc":"2.0","id":"x","method":"echo"}"#).1?["result"], .array([]))
        let (status, failure) = try call(#"{"jsonrpc":"2.0","id":1,"method":"fail","params":[]}"#)
        XCTAssertEqual(status, 200)
        XCTAssertEqual(failure?["error"], .object(["code": -32000, "message": "nonce too low"]))
        XCTAssertEqual(try call(#"{"jsonrpc":"2.0","id":1,"method":"nope"}"#).1?["error"]?["code"], -32601)
        XCTAssertEqual(try call(#"{"jsonrpc":"2.0","id":1,"method":"add","params":["0x02","0x3"]}"#).1?["error"]?["code"], -32602)
        XCTAssertEqual(try call(#"{"jsonrpc":"2.0","id":1,"method":"add","params":{"a":1}}"#).1?["error"]?["code"], -32602)
        XCTAssertEqual(try call(#"{"jsonrpc":"1.0","id":1,"method":"echo"}"#).1?["error"]?["code"], -32600)
        XCTAssertEqual(try call(#"{"jsonrpc":"2.0","id":[1],"method":"echo"}"#).1?["error"]?["code"], -32600)
        XCTAssertEqual(try call(#"5"#).1?["error"]?["code"], -32600)
    }

    func testMalformedJSONIsParseErrorWithNullId() throws {
        for body in ["{", "", "[1,]", "{\"jsonrpc\":\"2.0\",}"] {
            let (status, answer) = try call(body)
            XCTAssertEqual(status, 200)
            XCTAssertEqual(answer?["error"]?["code"], -32700, body)
            XCTAssertEqual(answer?["id"], .null)
        }
    }

    func testBatchesAndNotifications() throws {
        XCTAssertEqual(try call("[]").1?["error"]?["code"], -32600, "an empty batch is one error object")
        let (_, answer) = try call(#"[{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]},{"jsonrpc":"2.0","method":"echo"},1,{"jsonrpc":"2.0","id":2,"method":"nope"}]"#)
        let items = try XCTUnwrap(answer?.arrayValue)
        XCTAssertEqual(items.count, 3)
        XCTAssertEqual(items[0]["result"], [1])
        XCTAssertEqual(items[1]["error"]?["code"], -32600)
        XCTAssertEqual(items[2]["error"]?["code"], -32601)
        let (status, none) = try call(#"{"jsonrpc":"2.0","method":"echo"}"#)
        XCTAssertEqual(status, 200)
        XCTAssertNil(none)
        XCTAssertNil(try call(#"[{"jsonrpc":"2.0","method":"echo"},{"jsonrpc":"2.0","method":"fail"}]"#).1)
    }

    func testHTTPRules() throws {
        XCTAssertEqual(try client.send(method: "GET", body: [], headers: []).status, 405)
        XCTAssertEqual(try client.send(method: "POST", body: Array("{}".utf8), headers: [("Content-Type", "text/plain")]).status, 415)
        XCTAssertEqual(try client.send(method: "POST", body: Array("{}".utf8), headers: []).status, 415, "no Content-Type")
        XCTAssertEqual(try client.post(Array("{}".utf8), contentType: "application/json-seq").status, 415)
        XCTAssertEqual(try client.post(Array(#"{"jsonrpc":"2.0","id":1,"method":"echo"}"#.utf8), contentType: "application/JSON; charset=utf-8").status, 200)
        XCTAssertEqual(try client.post([UInt8](repeating: 0x20, count: 5000)).status, 413)
        XCTAssertEqual(try call(#"{"jsonrpc":"2.0","id":1,"method":"echo"}"#).0, 200, "still serving after bad requests")
    }

    func testBatchAnswersAreCappedAndTheRestRefusedInOrder() throws {
        let dispatcher = RPCDispatcher(maxBatchResponseBytes: 1024)
        dispatcher.register("blob") { _ in .string(String(repeating: "b", count: 300)) }
        let batch = (0..<10).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"blob"}"# }.joined(separator: ",")
        let answers = try XCTUnwrap(dispatcher.handle(body: Array("[\(batch)]".utf8))?.arrayValue)
        XCTAssertEqual(answers.map { $0["id"] }, (0..<10).map { JSONValue.int($0) })
        XCTAssertEqual(answers.prefix(4).filter { $0["result"] != nil }.count, 4, "answers are sent until they pass 1024 bytes")
        XCTAssertEqual(answers[4]["error"]?["code"], -32003)
        XCTAssertEqual(answers[9]["error"]?["message"], "response too large: a batch's answers are limited to 1024 bytes")
    }

    func testLanesClassifyHeavyRequests() throws {
        let lanes = RPCLanes(heavyThreads: 1, heavyBatchSize: 3)
        defer { lanes.shutdown() }
        func heavy(_ text: String) throws -> Bool { lanes.isHeavy(try JSONParser.parse(text)) }
        XCTAssertFalse(try heavy(#"{"method":"eth_blockNumber"}"#))
        XCTAssertTrue(try heavy(#"{"method":"eth_getLogs","params":[{}]}"#))
        XCTAssertTrue(try heavy(#"{"method":"eth_getBlockByNumber","params":["latest",true]}"#))
        XCTAssertFalse(try heavy(#"{"method":"eth_getBlockByNumber","params":["latest",false]}"#))
        XCTAssertTrue(try heavy(#"[{"method":"eth_blockNumber"},{"method":"eth_call"}]"#))
        XCTAssertTrue(try heavy(#"[{"method":"eth_chainId"},{"method":"eth_chainId"},{"method":"eth_chainId"},{"method":"eth_chainId"}]"#))
    }

    func testHeavyLaneDoesNotHoldTheLightLane() throws {
        let dispatcher = RPCDispatcher()
        let release = DispatchSemaphore(value: 0)
        dispatcher.register("eth_getLogs") { _ in release.wait(); return [] }
        dispatcher.register("eth_blockNumber") { _ in "0x1" }
        let lanes = RPCLanes(heavyThreads: 1)
        let server = HTTPServer(configuration: HTTPServerConfiguration(port: 0, threads: 1)) { request in dispatcher.route(request, lanes: lanes) }
        try server.start()
        let url = "http://127.0.0.1:\(server.port)"
        let heavyDone = DispatchGroup()
        for _ in 0..<4 {
            DispatchQueue.global().async(group: heavyDone) {
                _ = try? HTTPClient(url: url).post(Array(#"{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[]}"#.utf8))
            }
        }
        Thread.sleep(forTimeInterval: 0.2)
        let answer = try HTTPClient(url: url, timeoutSeconds: 5).post(Array(#"{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber"}"#.utf8))
        XCTAssertEqual(try JSONParser.parse(answer.body)["result"], "0x1", "answered while every heavy request is blocked")
        for _ in 0..<4 { release.signal() }
        heavyDone.wait()
        server.stop()
        lanes.shutdown()
    }
}

final class RPCMetricsTests: XCTestCase {
    func testCallsAreCountedByMethodAndUnknownNamesShareOneLabel() throws {
        let dispatcher = RPCDispatcher()
        dispatcher.register("add") { params in .int(try params.uint64(0, "a") + params.uint64(1, "b")) }
        let metrics = RPCMetrics()
        dispatcher.metrics = metrics
        _ = dispatcher.handle(body: Array(#"{"jsonrpc":"2.0","id":1,"method":"add","params":["0x1","0x2"]}"#.utf8))
        _ = dispatcher.handle(body: Array(#"[{"jsonrpc":"2.0","id":1,"method":"add","params":["0x1"]},{"jsonrpc":"2.0","id":2,"method":"x1"},{"jsonrpc":"2.0","id":3,"method":"x2"}]"#.utf8))
        XCTAssertEqual(metrics.calls("add"), 2, "failed calls count too")
        XCTAssertEqual(metrics.calls("unknown"), 2)
        XCTAssertEqual(metrics.calls("x1"), 0)
        var page = PrometheusText()
        metrics.write(to: &page)
        let lines = page.text.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains(#"opg_rpc_requests_total{method="add"} 2"#))
        XCTAssertTrue(lines.contains(#"opg_rpc_request_duration_seconds_bucket{method="add",le="+Inf"} 2"#))
        XCTAssertTrue(lines.contains(#"opg_rpc_request_duration_seconds_count{method="unknown"} 2"#))
        XCTAssertTrue(lines.contains("# TYPE opg_rpc_request_duration_seconds histogram"))
        XCTAssertEqual(lines.filter { $0.hasPrefix(#"opg_rpc_request_duration_seconds_bucket{method="add""#) }.count,
                       RPCMetrics.bucketBounds.count + 1)
    }
}
