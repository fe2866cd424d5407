import XCTest
@testable import Inference

/// Shape inference, constant folding, the cost model and the caps.
final class CompileTests: XCTestCase {
    func model(_ nodes: [Node], inputs: [ValueInfo], outputs: [String], initializers: [Tensor] = [], opset: Int64 = 17) -> Model {
        Model(irVersion: 8, opsetImports: [OperatorSetID(domain: "", version: opset)], producerName: "", producerVersion: "", domain: "",
              modelVersion: 0, docString: "", metadata: [],
              graph: Graph(name: "g", nodes: nodes, initializers: initializers, inputs: inputs,
                           outputs: outputs.map { ValueInfo(name: $0, type: nil) }, valueInfo: []))
    }

    func input(_ name: String, _ dims: [ShapeDimension], _ type: ElementType = .float) -> ValueInfo {
        ValueInfo(name: name, type: .tensor(type, shape: dims))
    }

    func node(_ op: String, _ inputs: [String], _ outputs: [String], _ attributes: [Attribute] = []) -> Node {
        Node(name: outputs[0], opType: op, domain: "", inputs: inputs, outputs: outputs, attributes: attributes)
    }

    /// x: (N, 4, 6) → Shape → Gather(0) → Concat with [24] → Reshape to (N, 24) → MatMul (24 × 3).
    func flattenModel() -> Model {
        let w = Tensor.float([Float](repeating: 0.5, count: 72), shape: [24, 3], name: "w")
        return model([
            node("Shape", ["x"], ["s"]),
            node("Gather", ["s", "zero"], ["n"], [Attribute(name: "axis", value: .int(0))]),
            node("Unsqueeze", ["n", "axes"], ["n1"]),
            node("Concat", ["n1", "rest"], ["target"], [Attribute(name: "axis", value: .int(0))]),
            node("Reshape", ["x", "target"], ["flat"]),
            node("MatMul", ["flat", "w"], ["y"]),
        ], inputs: [input("x", [.symbol("N"), .value(4), .value(6)])], outputs: ["y"],
           initializers: [w, .int64([0], shape: [], name: "zero"), .int64([0], shape: [1], name: "axes"), .int64([24], shape: [1], name: "rest")])
    }

    func testSymbolicBatchPropagatesAndShapeArithmeticFolds() throws {
        let session = try InferenceSession(model: flattenModel())
        // Symbolically, Shape of (N, 4, 6) is not a constant, so the Reshape target is unknown…
        XCTAssertNil(session.shapes().shapes["flat"]?.dims)
        // …but simple graphs keep the batch symbol.
        let flatten = model([node("Flatten", ["x"], ["f"]), node("MatMul", ["f", "w"], ["y"])],
                            inputs: [input("x", [.symbol("N"), .value(4), .value(6)])], outputs: ["y"],
                            initializers: [.float([Float](repeating: 0.5, count: 72), shape: [24, 3], name: "w")])
        XCTAssertEqual(try InferenceSession(model: flatten).shapes().shapes["y"]?.dims, [.symbol("N"), .value(3)])
        let bound = session.shapes(inputShapes: ["x": [5, 4, 6]])
        XCTAssertEqual(bound.shapes["flat"]?.dims, [.value(5), .value(24)])
        XCTAssertEqual(bound.constants["target"], .int64([5, 24], shape: [2]))
        // And the model runs with the shapes inferred.
        let out = try session.run(["x": .float([Float](repeating: 1, count: 120), shape: [5, 4, 6])])
        XCTAssertEqual(out[0].shape, [5, 3])
        XCTAssertEqual(out[0].storage, .float([Float](repeating: 12, count: 15)))
    }

    func testCostIsAPureFunctionOfShapes() throws {
        let session = try InferenceSession(model: flattenModel())
        let one = session.cost(inputShapes: ["x": [1, 4, 6]]), eight = session.cost(inputShapes: ["x": [8, 4, 6]])
        XCTAssertTrue(one.isStatic)
        XCTAssertEqual(one.macs, 24 * 3)
        XCTAssertEqual(eight.macs, 8 * 24 * 3)
        XCTAssertEqual(session.cost(inputShapes: ["x": [8, 4, 6]]), eight)
        XCTAssertGreaterThan(eight.peakBytes, one.peakBytes)
        XCTAssertEqual(one.operators.map(\.op), ["Reshape", "MatMul"])  // the shape arithmetic was folded at load
    }

    func testValueDependentShapesAreReportedAsNotStatic() throws {
        let m = model([node("ConstantOfShape", ["shape"], ["y"])], inputs: [input("shape", [.value(2)], .int64)], outputs: ["y"])
        let session = try InferenceSession(model: m)
        let cost = session.cost(inputShapes: ["shape": [2]])
        XCTAssertFalse(cost.isStatic)
        XCTAssertTrue(cost.dynamicReason?.contains("depends on input values") == true, cost.dynamicReason ?? "")
        // The per-tensor cap still holds at run time.
        XCTAssertThrowsError(try session.run(["shape": .int64([1 << 15, 1 << 14], shape: [2])])) { error in
            XCTAssertTrue("\(error)".contains("over the cap"), "\(error)")
        }
    }

    func testShapeMismatchesAreRefusedAtLoad() {
        let add = model([node("Add", ["a", "b"], ["y"])], inputs: [input("a", [.symbol("N"), .value(3)]), input("b", [.value(4)])], outputs: ["y"])
        XCTAssertThrowsError(try InferenceSession(model: add)) { error in
            XCTAssertEqual("\(error)", "Add node 'y': shapes (N, 3) and (4) cannot be broadcast together")
        }
        let mm = model([node("MatMul", ["a", "w"], ["y"])], inputs: [input("a", [.symbol("N"), .value(5)])], outputs: ["y"],
                       initializers: [.float([Float](repeating: 0, count: 12), shape: [4, 3], name: "w")])
        XCTAssertThrowsError(try InferenceSession(model: mm)) { error in
            XCTAssertEqual("\(error)", "MatMul node 'y': inner dimensions differ: (N, 5) × (4, 3)")
        }
        // A symbolic dimension against a number is fine (it may be that number at run time).
        let ok = model([node("Add", ["a", "b"], ["y"])], inputs: [input("a", [.symbol("N"), .value(3)]), input("b", [.value(7), .value(1)])], outputs: ["y"])
        XCTAssertNoThrow(try InferenceSession(model: ok))
    }

    func testModelOverACapIsRejectedAtLoad() {
        let m = model([node("MatMul", ["a", "b"], ["y"])],
                      inputs: [input("a", [.value(100_000), .value(20_000)]), input("b", [.value(20_000), .value(100_000)])], outputs: ["y"])
        XCTAssertThrowsError(try InferenceSession(model: m)) { error in
            XCTAssertTrue("\(error)".contains("at batch 1: a tensor of 10000000000 elements exceeds the cap"), "\(error)")
        }
        let small = Limits(maxTensorElements: 1 << 20, maxPeakBytes: 1 << 20)
        let batchModel = model([node("Relu", ["x"], ["y"])], inputs: [input("x", [.symbol("N"), .value(1024)])], outputs: ["y"])
        XCTAssertNoThrow(try InferenceSession(model: batchModel, limits: small))
        // Within the caps at batch 1, over them at batch 512: refused before running.
        let session = try! InferenceSession(model: batchModel, limits: small)
        XCTAssertThrowsError(try session.run(["x": .float([Float](repeating: 1, count: 512 * 1024), shape: [512, 1024])])) { error in
            XCTAssertTrue("\(error)".contains("peak memory of 4194304 bytes exceeds the cap of 1048576 bytes"), "\(error)")
        }
    }

    /// Sizes past Int.max saturate instead of trapping: the live-bytes sum of two huge inputs
    /// once wrapped, and releasing one after its last use then overflowed (found by FuzzONNX;
    /// its reproducer is a regression seed in Fuzz/FuzzONNX/corpus).
    func testHugeShapesSaturateTheCostAndAreRefused() {
        let huge: [ShapeDimension] = [.value(1 << 31), .value(1 << 31)]
        let m = model([node("Add", ["a", "b"], ["s"]), node("Relu", ["s"], ["y"])],
                      inputs: [input("a", huge), input("b", huge)], outputs: ["y"])
        XCTAssertThrowsError(try InferenceSession(model: m)) { error in
            XCTAssertTrue("\(error)".contains("exceeds the cap"), "\(error)")
        }
        // With no caps the model loads and its cost saturates at Int.max.
        let session = try! InferenceSession(model: m, limits: Limits(maxTensorElements: .max, maxPeakBytes: .max))
        let cost = session.cost(inputShapes: ["a": [1 << 31, 1 << 31], "b": [1 << 31, 1 << 31]])
        XCTAssertEqual(cost.peakBytes, .max)
        XCTAssertEqual(cost.bytesMoved, .max)
    }
}
