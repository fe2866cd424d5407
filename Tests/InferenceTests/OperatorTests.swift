import Foundation
import XCTest
@testable import Inference

/// Single operators through a real session, checked against hand-computed values.
final class OperatorTests: XCTestCase {
    func run(_ op: String, _ inputs: [Tensor], attributes: [Attribute] = [], outputs: Int = 1, opset: Int64 = 17,
             domain: String = "", options: RunOptions = RunOptions()) throws -> [Tensor] {
        try runOperator(op, inputs, attributes: attributes, outputs: outputs, opset: opset, domain: domain, options: options)
    }

    func testPowWithIntegerExponent() throws {
        let x = Tensor.float([1, 2, 3], shape: [3])
        let y = Tensor(elementType: .uint64, shape: [3], storage: .uint64([4, 5, 6]))
        XCTAssertEqual(try run("Pow", [x, y])[0].storage, .float([1, 32, 729]))
        XCTAssertEqual(try run("Pow", [x, .int64([2, 0, -1], shape: [3])])[0].storage, .float([1, 1, Float(1.0 / 3.0)]))
    }

    func testBroadcastingAdd() throws {
        let a = Tensor.float([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let b = Tensor.float([10, 20, 30], shape: [3])
        XCTAssertEqual(try run("Add", [a, b])[0], .float([11, 22, 33, 14, 25, 36], shape: [2, 3], name: "out0"))
        XCTAssertThrowsError(try run("Add", [a, .float([1, 2], shape: [2])])) { error in
            XCTAssertTrue("\(error)".contains("cannot be broadcast"), "\(error)")
        }
    }

    func testIntegerArithmeticWrapsToWidth() throws {
        let a = Tensor(elementType: .int8, shape: [2], storage: .int64([127, -128]))
        let b = Tensor(elementType: .int8, shape: [2], storage: .int64([1, -1]))
        XCTAssertEqual(try run("Add", [a, b])[0].storage, .int64([-128, 127]))
        XCTAssertThrowsError(try run("Div", [a, Tensor(elementType: .int8, shape: [2], storage: .int64([0, 1]))])) { error in
            XCTAssertTrue("\(error)".contains("division by zero"), "\(error)")
        }
    }

    func testUnsupportedOperatorIsNamed() throws {
        XCTAssertThrowsError(try run("FancyOp", [.float([1], shape: [1])])) { error in
            XCTAssertEqual("\(error)", "unsupported operator FancyOp (domain ai.onnx, opset 17) at FancyOp node 'n'")
        }
    }

    func testSVMRegressorKernels() throws {
        let x = Tensor.float([1, 2, 3, 0, 1, 0], shape: [2, 3])
        let attrs: [Attribute] = [
            Attribute(name: "support_vectors", value: .floats([1, 0, 0, 0, 1, 1])),
            Attribute(name: "coefficients", value: .floats([2, -1])),
            Attribute(name: "n_supports", value: .int(2)),
            Attribute(name: "rho", value: .floats([0.5])),
            Attribute(name: "kernel_type", value: .string(Array("LINEAR".utf8))),
        ]
        // Row 0: 2·1 − 1·5 + 0.5; row 1: 2·0 − 1·1 + 0.5.
        XCTAssertEqual(try run("SVMRegressor", [x], attributes: attrs, domain: "ai.onnx.ml")[0].storage, .float([-2.5, -0.5]))
        let rbf = attrs.dropLast() + [Attribute(name: "kernel_type", value: .string(Array("RBF".utf8))), Attribute(name: "kernel_params", value: .floats([0.5, 0, 0]))]
        let y = try run("SVMRegressor", [x], attributes: Array(rbf), domain: "ai.onnx.ml")[0]
        guard case .float(let v) = y.storage else { return XCTFail() }
        XCTAssertEqual(v[1], Float(2 * Foundation.exp(-0.5 * 2) - 1 * Foundation.exp(-0.5 * 1) + 0.5), accuracy: 1e-6)  // |x−v₁|² = 2, |x−v₂|² = 1
    }

    func testTreeWithACycleIsRefusedAtLoad() {
        let attrs: [Attribute] = [
            Attribute(name: "nodes_treeids", value: .ints([0, 0])), Attribute(name: "nodes_nodeids", value: .ints([0, 1])),
            Attribute(name: "nodes_featureids", value: .ints([0, 0])), Attribute(name: "nodes_values", value: .floats([0, 0])),
            Attribute(name: "nodes_modes", value: .strings([Array("BRANCH_LEQ".utf8), Array("BRANCH_LEQ".utf8)])),
            Attribute(name: "nodes_truenodeids", value: .ints([1, 0])), Attribute(name: "nodes_falsenodeids", value: .ints([1, 0])),
            Attribute(name: "target_treeids", value: .ints([])), Attribute(name: "target_nodeids", value: .ints([])),
            Attribute(name: "target_ids", value: .ints([])), Attribute(name: "target_weights", value: .floats([])),
        ]
        XCTAssertThrowsError(try run("TreeEnsembleRegressor", [.float([1], shape: [1, 1])], attributes: attrs, domain: "ai.onnx.ml")) { error in
            XCTAssertTrue("\(error)".contains("roots") || "\(error)".contains("cycle"), "\(error)")
        }
    }

    func testSoftmaxRowsSumToOne() throws {
        let x = Tensor.float([1, 2, 3, 4, 1000, 1000], shape: [3, 2])
        let y = try run("Softmax", [x])[0]
        guard case .float(let v) = y.storage else { return XCTFail() }
        XCTAssertEqual(v[4], 0.5)
        XCTAssertEqual(v[0] + v[1], 1, accuracy: 1e-7)
    }
}

/// Runs a one-node model over the given inputs through a real session.
func runOperator(_ op: String, _ inputs: [Tensor], attributes: [Attribute] = [], outputs: Int = 1, opset: Int64 = 17,
         domain: String = "", options: RunOptions = RunOptions()) throws -> [Tensor] {
    let names = inputs.indices.map { "in\($0)" }
    let graph = Graph(name: "g", nodes: [Node(name: "n", opType: op, domain: domain, inputs: names, outputs: (0..<outputs).map { "out\($0)" }, attributes: attributes)],
                      initializers: [], inputs: names.map { ValueInfo(name: $0, type: nil) },
                      outputs: (0..<outputs).map { ValueInfo(name: "out\($0)", type: nil) }, valueInfo: [])
    var imports = [OperatorSetID(domain: "", version: opset)]
    if !domain.isEmpty { imports.append(OperatorSetID(domain: domain, version: 3)) }
    let model = Model(irVersion: 8, opsetImports: imports, producerName: "", producerVersion: "", domain: "", modelVersion: 0, docString: "", metadata: [], graph: graph)
    let session = try InferenceSession(model: model)
    var feeds: [String: Tensor] = [:]
    for (n, t) in zip(names, inputs) { feeds[n] = t }
    return try session.run(feeds, options: options)
}


/// Operators given scalars where they need an axis fail with a message, not a trap.
final class ScalarAxisTests: XCTestCase {
    func testAxisOnAScalarIsAnError() {
        let scalar = Tensor.float([1], shape: [])
        for op in ["ArgMax", "Softmax", "Gather", "CumSum", "TopK", "Concat", "Split", "LayerNormalization"] {
            var inputs = [scalar]
            if op == "Gather" { inputs.append(.int64([0], shape: [1])) }
            if op == "CumSum" { inputs.append(.int64([0], shape: [])) }
            if op == "TopK" { inputs.append(.int64([1], shape: [1])) }
            if op == "LayerNormalization" { inputs.append(.float([1], shape: [1])) }
            XCTAssertThrowsError(try runOperator(op, inputs), op)
        }
    }
}
