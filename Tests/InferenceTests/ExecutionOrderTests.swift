import XCTest
@testable import Inference

/// Graph name checks and the deterministic execution order.
final class ExecutionOrderTests: XCTestCase {
    func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String = "", attributes: [Attribute] = []) -> Node {
        Node(name: name, opType: op, domain: "", inputs: inputs, outputs: outputs, attributes: attributes)
    }
    func info(_ name: String) -> ValueInfo { ValueInfo(name: name, type: nil) }
    func graph(_ nodes: [Node], inputs: [String] = ["x"], outputs: [String] = ["y"], initializers: [String] = [], name: String = "g") -> Graph {
        Graph(name: name, nodes: nodes, initializers: initializers.map { Tensor(name: $0, elementType: .float, shape: [], storage: .float([1])) },
              inputs: inputs.map(info), outputs: outputs.map(info), valueInfo: [])
    }

    func testOrdersProducersFirstAndKeepsFileOrderAmongReadyNodes() throws {
        // File order: y = Add(b, a); b = Relu(a); a = Neg(x); c = Abs(x) (independent).
        let g = graph([node("Add", ["b", "a"], ["y"]), node("Relu", ["a"], ["b"]), node("Neg", ["x"], ["a"]), node("Abs", ["x"], ["c"])])
        let order = try ExecutionOrder.of(g)
        XCTAssertEqual(order, [2, 1, 0, 3])
        // Optional inputs may be omitted with "".
        XCTAssertEqual(try ExecutionOrder.of(graph([node("Clip", ["x", "", "m"], ["y"])], initializers: ["m"])), [0])
    }

    func testRejectsNamingTheRule() {
        func rejects(_ g: Graph, _ rule: String, line: UInt = #line) {
            XCTAssertThrowsError(try ExecutionOrder.of(g), line: line) { XCTAssertTrue("\($0)".contains(rule), "\($0)", line: line) }
        }
        rejects(graph([node("Relu", ["nope"], ["y"], name: "r")]), "Relu node 'r': input 'nope' is not a graph input")
        rejects(graph([node("Relu", ["x"], ["y"]), node("Abs", ["x"], ["y"])]), "output 'y' is already defined")
        rejects(graph([node("Relu", ["x"], ["x"])]), "output 'x' is already defined")
        rejects(graph([node("Relu", ["x"], ["z"])]), "output 'y' is not produced")
        rejects(graph([node("Add", ["x", "b"], ["a"]), node("Relu", ["a"], ["b"]), node("Abs", ["a"], ["y"])]), "cycle")
        rejects(graph([node("Relu", ["y"], ["y"])]), "cycle")
        rejects(graph([], inputs: ["x", "x"], outputs: ["x"]), "input 'x' is declared twice")
        rejects(graph([], outputs: ["x"], initializers: ["w", "w"]), "initializer 'w' is declared twice")
    }

    func testSubgraphsSeeOuterValuesAndAddDependencies() throws {
        // The If's branches read `a`, produced later in the file: the If must run after it.
        let thenBranch = graph([node("Neg", ["a"], ["t"])], inputs: [], outputs: ["t"], name: "then")
        let elseBranch = graph([node("Abs", ["a"], ["e"])], inputs: [], outputs: ["e"], name: "else")
        let g = graph([node("If", ["x"], ["y"], name: "branch", attributes: [Attribute(name: "then_branch", value: .graph(thenBranch)),
                                                                          Attribute(name: "else_branch", value: .graph(elseBranch))]),
                       node("Relu", ["x"], ["a"])])
        XCTAssertEqual(try ExecutionOrder.of(g), [1, 0])
        let broken = graph([node("Neg", ["missing"], ["t"])], inputs: [], outputs: ["t"], name: "then")
        let bad = graph([node("If", ["x"], ["y"], name: "branch", attributes: [Attribute(name: "then_branch", value: .graph(broken))])])
        XCTAssertThrowsError(try ExecutionOrder.of(bad)) {
            XCTAssertTrue("\($0)".contains("If node 'branch', subgraph 'then'") && "\($0)".contains("'missing'"), "\($0)")
        }
    }

    func testLongChainIsLinear() throws {
        let nodes = (0..<5000).map { node("Relu", [$0 == 0 ? "x" : "v\($0 - 1)"], [$0 == 4999 ? "y" : "v\($0)"]) }
        XCTAssertEqual(try ExecutionOrder.of(graph(nodes.reversed())), Array((0..<5000).reversed()))
    }
}
