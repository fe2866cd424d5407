/// Checks a graph's names and finds the order its nodes can run in: the first step of
/// compiling. The order is deterministic (among ready nodes, the earliest in the file
/// runs first), so every machine schedules a model the same way.
public enum ExecutionOrder {
    /// Node indices of `graph` in an order where every node runs after the nodes that
    /// produce its inputs. `outerScope` holds names visible from an enclosing graph
    /// (for If/Loop bodies).
    ///
    /// Throws, naming the node or value, when a name is defined twice (graph inputs,
    /// initializers and node outputs share one namespace), a node reads a value that
    /// nothing defines, a graph output is never produced, or the nodes form a cycle.
    public static func of(_ graph: Graph, outerScope: Set<String> = []) throws -> [Int] {
        var producer: [String: Int] = [:]  // value name → producing node, or -1 for inputs and initializers
        var external = Set<String>()
        for input in graph.inputs {
            guard external.insert(input.name).inserted else { throw ONNXError("graph '\(graph.name)': input '\(input.name)' is declared twice") }
            producer[input.name] = -1
        }
        var initializerNames = Set<String>()
        for t in graph.initializers {
            guard initializerNames.insert(t.name).inserted else {
                throw ONNXError("graph '\(graph.name)': initializer '\(t.name)' is declared twice")
            }
            producer[t.name] = -1
        }
        for (i, node) in graph.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty {
                if producer[output] != nil || outerScope.contains(output) {
                    throw ONNXError("\(node.label(index: i)): output '\(output)' is already defined (values must have one producer)")
                }
                producer[output] = i
            }
        }

        // Dependencies: inputs, plus values a subgraph reads from this graph's scope.
        var dependents = [[Int]](repeating: [], count: graph.nodes.count)
        var pending = [Int](repeating: 0, count: graph.nodes.count)
        let visible = outerScope.union(producer.keys)
        for (i, node) in graph.nodes.enumerated() {
            var needed: [String] = node.inputs.filter { !$0.isEmpty }
            for sub in subgraphs(of: node) {
                try checkSubgraph(sub, node: node, index: i, scope: visible)
                needed += freeNames(sub)
            }
            var seen = Set<Int>()
            for name in needed {
                if let p = producer[name] {
                    if p >= 0, seen.insert(p).inserted {
                        if p == i { throw ONNXError("\(node.label(index: i)): reads its own output '\(name)' (a cycle)") }
                        dependents[p].append(i)
                        pending[i] += 1
                    }
                } else if !outerScope.contains(name) {
                    throw ONNXError("\(node.label(index: i)): input '\(name)' is not a graph input, an initializer or any node's output")
                }
            }
        }
        for output in graph.outputs where producer[output.name] == nil && !outerScope.contains(output.name) {
            throw ONNXError("graph '\(graph.name)': output '\(output.name)' is not produced by any node")
        }

        // Kahn's algorithm. `ready` is sorted descending, so the earliest node in the
        // file is popped from the end and goes first.
        var ready = (0..<graph.nodes.count).filter { pending[$0] == 0 }.reversed() as [Int]
        var order: [Int] = []
        order.reserveCapacity(graph.nodes.count)
        while let n = ready.popLast() {
            order.append(n)
            for d in dependents[n] {
                pending[d] -= 1
                guard pending[d] == 0 else { continue }
                var lo = 0, hi = ready.count  // first position whose value is below d
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if ready[mid] > d { lo = mid + 1 } else { hi = mid }
                }
                ready.insert(d, at: lo)
            }
        }
        guard order.count == graph.nodes.count else {
            let stuck = (0..<graph.nodes.count).first { pending[$0] > 0 }!
            throw ONNXError("\(graph.nodes[stuck].label(index: stuck)) is part of a cycle: the graph is not acyclic")
        }
        return order
    }

    static func subgraphs(of node: Node) -> [Graph] {
        node.attributes.flatMap { a -> [Graph] in
            switch a.value {
            case .graph(let g): return [g]
            case .graphs(let gs): return gs
            default: return []
            }
        }
    }

    private static func checkSubgraph(_ sub: Graph, node: Node, index: Int, scope: Set<String>) throws {
        do {
            _ = try of(sub, outerScope: scope)
        } catch let e as ONNXError {
            throw ONNXError("\(node.label(index: index)), subgraph '\(sub.name)': \(e.message)")
        }
    }

    /// Names a graph (and its own subgraphs) reads but does not define.
    static func freeNames(_ g: Graph) -> [String] {
        var defined = Set(g.inputs.map(\.name)).union(g.initializers.map(\.name))
        for n in g.nodes { defined.formUnion(n.outputs) }
        var free: [String] = []
        for n in g.nodes {
            let reads = n.inputs.filter { !$0.isEmpty } + subgraphs(of: n).flatMap(freeNames)
            free += reads.filter { !defined.contains($0) }
        }
        free += g.outputs.map(\.name).filter { !defined.contains($0) }
        return free
    }
}
