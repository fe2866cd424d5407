import XCTest
@testable import Inference

/// The protobuf wire reader and the ONNX message decoder on hand-built bytes: every
/// accepted form and every rejection names its rule. Whole models exported by the
/// `onnx` package are checked by Tests/e2e/test_model_inspect.py.
final class ModelReaderTests: XCTestCase {
    // Minimal protobuf writer for the tests.
    func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        repeat {
            out.append(UInt8(v & 0x7F) | (v >= 0x80 ? 0x80 : 0))
            v >>= 7
        } while v > 0
        return out
    }
    func key(_ field: Int, _ wire: UInt8) -> [UInt8] { varint(UInt64(field) << 3 | UInt64(wire)) }
    func int(_ field: Int, _ v: Int64) -> [UInt8] { key(field, 0) + varint(UInt64(bitPattern: v)) }
    func bytes(_ field: Int, _ b: [UInt8]) -> [UInt8] { key(field, 2) + varint(UInt64(b.count)) + b }
    func string(_ field: Int, _ s: String) -> [UInt8] { bytes(field, Array(s.utf8)) }

    func tensor(name: String, type: Int64, dims: [Int64], raw: [UInt8]) -> [UInt8] {
        dims.flatMap { int(1, $0) } + int(2, type) + string(8, name) + bytes(9, raw)
    }

    func model(graph: [UInt8], opset: Int64 = 17) -> [UInt8] {
        int(1, 8) + string(2, "test") + bytes(7, graph) + bytes(8, int(2, opset))
    }

    func testVarintLimits() throws {
        var r = ProtobufReader(varint(UInt64.max), context: "t")
        XCTAssertEqual(try r.varint(), UInt64.max)
        var long = ProtobufReader([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], context: "t")
        XCTAssertThrowsError(try long.varint()) { XCTAssertTrue("\($0)".contains("does not fit 64 bits"), "\($0)") }
        var eleven = ProtobufReader([UInt8](repeating: 0x80, count: 10) + [0x01], context: "t")
        XCTAssertThrowsError(try eleven.varint())
        var cut = ProtobufReader([0x80], context: "t")
        XCTAssertThrowsError(try cut.varint()) { XCTAssertTrue("\($0)".contains("truncated")) }
    }

    func testReadsGraphNodesAttributesAndTensors() throws {
        let weights = tensor(name: "W", type: 1, dims: [2, 2], raw: [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40])
        let input = string(1, "X") + bytes(2, bytes(1, int(1, 1) + bytes(2, bytes(1, string(2, "batch")) + bytes(1, int(1, 2)))))
        let attr = string(1, "alpha") + int(20, 1) + key(2, 5) + [0, 0, 0x80, 0x3F]
        let ints = string(1, "perm") + int(20, 7) + bytes(8, varint(1) + varint(0))
        let node = string(1, "X") + string(1, "W") + string(2, "Y") + string(3, "mm") + string(4, "Gemm")
            + bytes(5, attr) + bytes(5, ints)
        let graph = bytes(1, node) + string(2, "g") + bytes(5, weights) + bytes(11, input) + bytes(12, string(1, "Y"))
        let m = try ModelReader.read(model(graph: graph))
        XCTAssertEqual(m.irVersion, 8)
        XCTAssertEqual(m.opsetVersion(domain: "ai.onnx"), 17)
        XCTAssertEqual(m.graph.nodes.first?.opType, "Gemm")
        XCTAssertEqual(m.graph.nodes.first?.attribute("alpha")?.value, .float(1))
        XCTAssertEqual(m.graph.nodes.first?.attribute("perm")?.value, .ints([1, 0]))
        XCTAssertEqual(m.graph.initializers.first?.storage, .float([1, 2, 3, 4]))
        XCTAssertEqual(m.graph.initializers.first?.shape, [2, 2])
        XCTAssertEqual(m.graph.inputs.first?.type, .tensor(.float, shape: [.symbol("batch"), .value(2)]))
        XCTAssertEqual(m.graph.outputs.first?.type, nil)
    }

    func testTypedTensorFieldsAndRanges() throws {
        let int8s = int(1, 3) + int(2, 3) + bytes(5, varint(UInt64(bitPattern: -1)) + varint(0) + varint(127))
        XCTAssertEqual(try ModelReader.readTensor(int8s).storage, .int64([-1, 0, 127]))
        let tooBig = int(1, 1) + int(2, 3) + bytes(5, varint(128))
        XCTAssertThrowsError(try ModelReader.readTensor(tooBig)) { XCTAssertTrue("\($0)".contains("out of range for INT8"), "\($0)") }
        let bools = int(1, 2) + int(2, 9) + bytes(9, [1, 0])
        XCTAssertEqual(try ModelReader.readTensor(bools).storage, .bool([true, false]))
        let strings = int(1, 2) + int(2, 8) + bytes(6, Array("a".utf8)) + bytes(6, Array("bc".utf8))
        XCTAssertEqual(try ModelReader.readTensor(strings).storage, .string([Array("a".utf8), Array("bc".utf8)]))
        let scalar = int(2, 7) + bytes(7, varint(42))
        XCTAssertEqual(try ModelReader.readTensor(scalar).shape, [])
        XCTAssertEqual(try ModelReader.readTensor(scalar).storage, .int64([42]))
    }

    func testRejectionsNameTheRule() {
        func rejects(_ bytes: [UInt8], _ rule: String, line: UInt = #line) {
            XCTAssertThrowsError(try ModelReader.read(bytes), line: line) { XCTAssertTrue("\($0)".contains(rule), "\($0)", line: line) }
        }
        func rejectsTensor(_ bytes: [UInt8], _ rule: String, line: UInt = #line) {
            XCTAssertThrowsError(try ModelReader.readTensor(bytes), line: line) { XCTAssertTrue("\($0)".contains(rule), "\($0)", line: line) }
        }
        rejects([], "no graph")
        rejects(bytes(7, []), "imports no operator set")
        rejects(model(graph: []) + [0x08], "truncated")
        rejects(model(graph: []) + [0x0A], "ir_version has wire type 2")
        rejects(key(3, 3), "groups are not supported")
        rejects(bytes(7, []) + key(7, 2) + varint(1000), "runs past the end")
        rejects(model(graph: bytes(1, string(1, "x"))), "no op_type")
        rejects(model(graph: bytes(1, string(4, "Relu") + bytes(5, string(1, "a") + int(3, 1)) + bytes(5, string(1, "a") + int(3, 2)))),
                "appears twice")
        rejects(model(graph: bytes(15, [])), "sparse initializers")
        rejects(model(graph: []) + bytes(25, []), "model-local functions")
        rejectsTensor(int(1, 2) + int(2, 1) + bytes(9, [0, 0, 0, 0]), "needs 2 values")
        rejectsTensor(int(1, 1) + int(2, 10) + bytes(9, [0, 0]), "FLOAT16")
        rejectsTensor(int(1, 1) + int(2, 1) + int(14, 1), "external data")
        rejectsTensor(int(1, -1) + int(2, 1), "negative dimension")
        rejectsTensor(int(1, 1 << 20) + int(1, 1 << 20) + int(2, 1), "more than")
        rejectsTensor(int(1, 1) + int(2, 1) + bytes(4, [0, 0, 0]), "not a multiple of 4")
        rejectsTensor(string(8, "") + bytes(8, [0xFF]), "not valid UTF-8")
    }

    func testDeepNestingIsRefusedNotOverflowed() {
        // Graph attribute inside graph attribute … far deeper than allowed.
        var graph: [UInt8] = []
        for _ in 0..<2000 { graph = bytes(1, string(4, "If") + bytes(5, string(1, "g") + int(20, 5) + bytes(6, graph))) }
        XCTAssertThrowsError(try ModelReader.read(model(graph: graph))) { XCTAssertTrue("\($0)".contains("nested more than"), "\($0)") }
    }
}
