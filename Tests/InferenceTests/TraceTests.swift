import Foundation
import Primitives
import XCTest
@testable import Inference

/// Execution traces, single-node re-execution and initializer commitments
/// (docs/traces.md) on the committed fixture models and small built graphs.
final class TraceTests: XCTestCase {
    static let models = DeterminismTests.fixtures.appendingPathComponent("models")
    /// An MLP, a CNN (Conv + Relu, fused in a normal run), a GBM, a random forest, a
    /// classifier with ZipMap, and the transformer encoder block.
    static let names = ["digits_mlp", "digits_cnn", "diabetes_gbr", "diabetes_forest", "digits_logreg_zipmap", "encoder_block"]

    func load(_ name: String) throws -> (InferenceSession, Tensor) {
        let model = try Data(contentsOf: Self.models.appendingPathComponent("\(name).onnx"))
        let input = try ModelReader.readTensor(Array(try Data(contentsOf: Self.models.appendingPathComponent("\(name).input.pb"))))
        return (try InferenceSession(bytes: Array(model)), input)
    }

    func testTraceIsTheSameOnEveryPathAndThreadCountAndKeepsTheRunsOutputs() throws {
        for name in Self.names {
            let (session, input) = try load(name)
            let normal = try session.run([input.name: input])
            let one = try session.trace([input.name: input], options: RunOptions(threads: 1))
            XCTAssertEqual(TensorEncoding.canonical(one.outputs), TensorEncoding.canonical(normal), name)
            XCTAssertEqual(one.steps.map(\.nodeIndex), session.executionOrder, name)
            XCTAssertEqual(one.steps.count, session.model.graph.nodes.count, name)
            for options in [RunOptions(threads: 4), RunOptions(path: .reference)] {
                let other = try session.trace([input.name: input], options: options)
                XCTAssertEqual(other.steps, one.steps, "\(name) with \(options)")
                XCTAssertEqual(other.root, one.root, "\(name) with \(options)")
            }
            XCTAssertNotEqual(one.root, .zero)
        }
    }

    /// Every graph output's value as the trace saw it is the normal run's output bit for
    /// bit, and every node re-run alone on the values the run gave it reproduces its hash.
    func testEveryNodeReExecutedAloneReproducesItsTraceEntry() throws {
        for name in Self.names {
            let (session, input) = try load(name)
            var values: [String: Tensor] = [input.name: input]
            let normal = try session.run([input.name: input], options: RunOptions(threads: 2))
            let outputs = try session.run([input.name: input]) { index, tensors in
                for t in tensors { values[t.name] = t }
            }
            XCTAssertEqual(TensorEncoding.canonical(outputs), TensorEncoding.canonical(normal), name)
            for (k, info) in session.outputs.enumerated() {
                XCTAssertEqual(TensorEncoding.canonical([values[info.name]!]), TensorEncoding.canonical([normal[k]]), "\(name): \(info.name)")
            }
            let trace = try session.trace([input.name: input])
            for step in trace.steps {
                let alone = try session.runNode(step.nodeIndex, inputs: values)
                XCTAssertEqual(ExecutionTrace.outputHash(alone), step.outputHash, "\(name) node \(step.nodeIndex)")
                XCTAssertEqual(alone.map(\.name), session.model.graph.nodes[step.nodeIndex].outputs.filter { !$0.isEmpty })
            }
            for position in [0, trace.steps.count / 2, trace.steps.count - 1] {
                let proof = try XCTUnwrap(trace.proof(ofStep: position))
                XCTAssertNoThrow(try proof.verify(leaf: trace.steps[position].outputHash.bytes, root: trace.root))
            }
        }
    }

    /// A graph with a Constant and a node folded at load: both are in the trace, in
    /// execution order, and re-execute alone.
    func testFoldedNodesAreTraced() throws {
        let w = Tensor.float([1, 2, 3], shape: [3], name: "w")
        let nodes = [
            Node(name: "y", opType: "Mul", domain: "", inputs: ["x", "cw"], outputs: ["y"], attributes: []),
            Node(name: "c", opType: "Constant", domain: "", inputs: [], outputs: ["c"],
                 attributes: [Attribute(name: "value", value: .tensor(Tensor.float([10, 20, 30], shape: [3])))]),
            Node(name: "cw", opType: "Add", domain: "", inputs: ["c", "w"], outputs: ["cw"], attributes: []),
        ]
        let model = Model(irVersion: 8, opsetImports: [OperatorSetID(domain: "", version: 17)], producerName: "", producerVersion: "",
                          domain: "", modelVersion: 0, docString: "", metadata: [],
                          graph: Graph(name: "g", nodes: nodes, initializers: [w],
                                       inputs: [ValueInfo(name: "x", type: .tensor(.float, shape: [.value(3)]))],
                                       outputs: [ValueInfo(name: "y", type: nil)], valueInfo: []))
        let session = try InferenceSession(model: model)
        XCTAssertFalse(session.folded.isEmpty)
        let x = Tensor.float([1, 1, 2], shape: [3], name: "x")
        let trace = try session.trace(["x": x])
        XCTAssertEqual(trace.steps.map(\.nodeIndex), [1, 2, 0])
        XCTAssertEqual(trace.steps[1].outputHash, ExecutionTrace.outputHash([Tensor.float([11, 22, 33], shape: [3])]))
        XCTAssertEqual(trace.steps[2].outputHash, ExecutionTrace.outputHash([Tensor.float([11, 22, 66], shape: [3])]))
        let alone = try session.runNode(2, inputs: ["c": Tensor.float([10, 20, 30], shape: [3])])
        XCTAssertEqual(ExecutionTrace.outputHash(alone), trace.steps[1].outputHash)
        XCTAssertEqual(trace.root, MerkleTree(leaves: trace.steps.map(\.outputHash.bytes)).root)
    }

    func testNodeExecutionRefusesWrongInputs() throws {
        let add = Node(name: "sum", opType: "Add", domain: "", inputs: ["a", "b"], outputs: ["s"], attributes: [])
        let a = Tensor.float([1], shape: [1])
        func message(_ body: () throws -> Any) -> String {
            do { _ = try body(); return "no error" } catch let e as ONNXError { return e.message } catch { return "\(error)" }
        }
        XCTAssertEqual(message { try NodeExecution.run(node: add, index: 4, opset: 17, inputs: [a]) },
                       "Add node 'sum': 1 inputs given, the node has 2")
        XCTAssertEqual(message { try NodeExecution.run(node: add, index: 4, opset: 17, inputs: [a, nil]) },
                       "Add node 'sum': input 'b' is not given")
        XCTAssertEqual(message { try NodeExecution.run(node: add, index: 4, opset: 5, inputs: [a, a]) },
                       "unsupported: Add node 'sum': ai.onnx opset 5 is older than the oldest supported (7)")
        let odd = Node(name: "u", opType: "Unique", domain: "", inputs: ["a"], outputs: ["s"], attributes: [])
        XCTAssertEqual(message { try NodeExecution.run(node: odd, index: 0, opset: 17, inputs: [a]) },
                       "unsupported operator Unique (domain ai.onnx, opset 17) at Unique node 'u'")
        XCTAssertEqual(try NodeExecution.run(node: add, index: 4, opset: 17, inputs: [a, a]), [Tensor.float([2], shape: [1], name: "s")])
        let (session, _) = try load("digits_mlp")
        XCTAssertEqual(message { try session.runNode(999, inputs: [:]) }, "node index 999 out of range: the model has \(session.model.graph.nodes.count) nodes")
    }

    /// What a dispute over a model registered by reference does: the disputed node comes
    /// from a leaf proven against the nodes root, and runs alone to the trace's entry.
    func testNodesFromProvenLeavesReproduceTheTrace() throws {
        for name in Self.names {
            let file = Array(try Data(contentsOf: Self.models.appendingPathComponent("\(name).onnx")))
            let (session, input) = try load(name)
            let commitment = try NodeCommitment(file: file)
            XCTAssertEqual(commitment.leaves.count, session.model.graph.nodes.count)
            var values: [String: Tensor] = [input.name: input]
            for t in session.model.graph.initializers { values[t.name] = t }
            let trace = try session.trace([input.name: input]) { _, tensors in for t in tensors { values[t.name] = t } }
            for step in trace.steps {
                let leaf = commitment.leaves[step.nodeIndex]
                XCTAssertNoThrow(try XCTUnwrap(commitment.tree.proof(ofLeaf: step.nodeIndex)).verify(leaf: leaf, root: commitment.root))
                let (node, opset) = try NodeCommitment.node(fromLeaf: leaf)
                XCTAssertEqual(node, session.model.graph.nodes[step.nodeIndex])
                XCTAssertEqual(opset, session.opset(ofNode: step.nodeIndex))
                let outputs = try NodeExecution.run(node: node, index: step.nodeIndex, opset: opset,
                                                    inputs: node.inputs.map { $0.isEmpty ? nil : values[$0] })
                XCTAssertEqual(ExecutionTrace.outputHash(outputs), step.outputHash, "\(name) node \(step.nodeIndex)")
            }
        }
        XCTAssertThrowsError(try NodeCommitment.node(fromLeaf: [1, 2, 3])) {
            XCTAssertEqual(($0 as? ONNXError)?.message, "malformed node leaf: 3 bytes, an opset takes 8")
        }
        XCTAssertThrowsError(try NodeCommitment.node(fromLeaf: [17, 0, 0, 0, 0, 0, 0, 0, 0x0A, 0x01, 0x78])) {
            XCTAssertEqual(($0 as? ONNXError)?.message.hasSuffix("node has no op_type"), true)
        }
    }

    // MARK: - Initializer commitment

    func testInitializerChunksProveAgainstTheRootAndRowsMapToChunks() throws {
        let small = Tensor.float((0..<600).map { Float($0) }, shape: [300, 2], name: "small")  // 8-byte rows, one chunk
        let wide = Tensor.float((0..<60_000).map { Float($0) }, shape: [3, 20_000], name: "wide")  // 80,000-byte rows: 2 chunks each
        let table = Tensor.float((0..<100_000).map { Float($0) }, shape: [1_000, 100], name: "table")  // 400-byte rows, 163 per chunk
        let scalar = Tensor.int64([7], shape: [], name: "k")
        let empty = Tensor.float([], shape: [0, 4], name: "none")
        let labels = Tensor(name: "labels", elementType: .string, shape: [2], storage: .string([Array("cat".utf8), Array("dog".utf8)]))
        let graph = Graph(name: "g", nodes: [], initializers: [small, wide, table, scalar, empty, labels], inputs: [], outputs: [], valueInfo: [])
        let commitment = try InitializerCommitment(graph: graph)
        XCTAssertEqual(commitment.tensors.map(\.chunks.count), [2, 7, 8, 2, 1, 2])
        XCTAssertEqual(commitment.tensors.map(\.layout.chunkCount), [2, 7, 8, 2, 1, nil])
        for (t, tensor) in commitment.tensors.enumerated() {
            XCTAssertTrue(tensor.chunks.allSatisfy { $0.count <= InitializerCommitment.chunkBytes })
            XCTAssertEqual(try ChunkLayout(header: tensor.chunks[0]), tensor.layout)
            for c in tensor.chunks.indices {
                let proof = try XCTUnwrap(commitment.proof(tensor: t, chunk: c))
                XCTAssertNoThrow(try proof.verify(chunk: tensor.chunks[c], initializerRoot: commitment.root))
            }
        }
        // Rows 500..<510 of the table: chunks 4 (rows 489…651), offset 11 rows in.
        let layout = commitment.tensors[2].layout
        XCTAssertEqual(layout.rowsPerChunk, 163)
        let (range, offset) = try XCTUnwrap(layout.chunks(holdingRows: 500..<510))
        XCTAssertEqual(range, 4..<5)
        XCTAssertEqual(offset, 11 * 400)
        let bytes = Array(commitment.tensors[2].chunks[4][offset..<(offset + 400)])
        XCTAssertEqual(bytes, TensorEncoding.values(Tensor.float((50_000..<50_100).map { Float($0) }, shape: [100])))
        XCTAssertEqual(commitment.tensors[1].layout.chunks(holdingRows: 1..<2)?.chunks, 3..<5)
        XCTAssertNil(commitment.tensors[2].layout.chunks(holdingRows: 999..<1_001))
        XCTAssertNil(commitment.tensors[5].layout.chunks(holdingRows: 0..<1))
        XCTAssertEqual(commitment.root, MerkleTree(leaves: commitment.tensors.map(\.root.bytes)).root)
        // The rows decode from those chunks alone; every tensor decodes whole from its value chunks.
        XCTAssertEqual(try layout.tensor(rows: 500..<510, from: [commitment.tensors[2].chunks[4]]),
                       Tensor.float((50_000..<51_000).map { Float($0) }, shape: [10, 100], name: "table"))
        let wideRow = try XCTUnwrap(commitment.tensors[1].layout.chunks(holdingRows: 2..<3))
        XCTAssertEqual(try commitment.tensors[1].layout.tensor(rows: 2..<3, from: Array(commitment.tensors[1].chunks[wideRow.chunks])),
                       Tensor.float((40_000..<60_000).map { Float($0) }, shape: [1, 20_000], name: "wide"))
        for (original, tensor) in zip(graph.initializers, commitment.tensors) {
            XCTAssertEqual(try tensor.layout.tensor(rows: 0..<tensor.layout.rows, from: Array(tensor.chunks.dropFirst())), original)
        }
        XCTAssertThrowsError(try layout.tensor(rows: 500..<700, from: [commitment.tensors[2].chunks[4]])) {
            XCTAssertEqual(($0 as? ONNXError)?.message, "initializer 'table': the chunks hold 65200 bytes, rows 500..<700 need 80000 from byte 4400")
        }
        XCTAssertThrowsError(try commitment.tensors[5].layout.tensor(rows: 0..<1, from: [])) {
            XCTAssertEqual(($0 as? ONNXError)?.message, "initializer 'labels': the rows of a string tensor are brought whole (rows 0..<2)")
        }
        // A chunk of another tensor, or proven at another index, is refused by name.
        let proof = try XCTUnwrap(commitment.proof(tensor: 2, chunk: 4))
        XCTAssertThrowsError(try proof.verify(chunk: commitment.tensors[2].chunks[5], initializerRoot: commitment.root)) {
            XCTAssertTrue(($0 as? PrimitivesError)?.message.hasPrefix("proof leads to root 0x") ?? false)
        }
        XCTAssertThrowsError(try proof.verify(chunk: [UInt8](repeating: 0, count: 70_000), initializerRoot: commitment.root)) {
            XCTAssertEqual(($0 as? PrimitivesError)?.message, "chunk of 70000 bytes exceeds 65536 bytes")
        }
    }

    func testMalformedHeadersAreRefusedByName() {
        func message(_ header: [UInt8]) -> String {
            do { _ = try ChunkLayout(header: header); return "no error" } catch let e as ONNXError { return e.message } catch { return "\(error)" }
        }
        var good: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0, 0x77, 1, 0, 0, 0, 1, 0, 0, 0]
        good += [4, 0, 0, 0, 0, 0, 0, 0]
        XCTAssertEqual(message(good), "no error")
        XCTAssertEqual(message(Array(good.dropLast())), "malformed initializer header: ends after 24 bytes, inside a field")
        XCTAssertEqual(message(good + [0]), "malformed initializer header: 1 bytes after the last dimension")
        var badType = good
        badType[9] = 10
        XCTAssertEqual(message(badType), "malformed initializer header: element type 10 is not a tensor element type")
        XCTAssertEqual(message([0xFF, 0, 0, 0, 0, 0, 0, 0]), "malformed initializer header: name length 255 runs past the header")
    }

    /// The decoders a dispute feeds with submitted bytes end in a value or a named error on
    /// any input: random bytes, and every truncation and one-byte change of real leaves.
    func testDecodersOfSubmittedBytesNeverCrash() throws {
        var random = SplitMix64(seed: 10)
        let file = Array(try Data(contentsOf: Self.models.appendingPathComponent("digits_cnn.onnx")))
        let leaf = try NodeCommitment(file: file).leaves[0]
        let header = try ChunkLayout(Tensor.float([1, 2], shape: [1, 2], name: "w")).header
        var inputs: [[UInt8]] = (0..<2_000).map { _ in (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
        for original in [leaf, header] {
            inputs += (0..<original.count).map { Array(original[..<$0]) }
            inputs += (0..<original.count).map { i in var b = original; b[i] ^= UInt8(truncatingIfNeeded: random.next() | 1); return b }
        }
        var decoded = 0
        for bytes in inputs {
            if (try? ChunkLayout(header: bytes)) != nil { decoded += 1 }
            if (try? NodeCommitment.node(fromLeaf: bytes)) != nil { decoded += 1 }
        }
        XCTAssertGreaterThan(decoded, 0)
    }

    func testFixtureModelsCommitToTheirInitializers() throws {
        for name in Self.names {
            let (session, _) = try load(name)
            let commitment = try InitializerCommitment(graph: session.model.graph)
            XCTAssertEqual(commitment.tensors.map(\.name), session.model.graph.initializers.map(\.name), name)
            for (original, tensor) in zip(session.model.graph.initializers, commitment.tensors) {
                XCTAssertEqual(try tensor.layout.tensor(rows: 0..<tensor.layout.rows, from: Array(tensor.chunks.dropFirst())), original, name)
            }
        }
    }
}
