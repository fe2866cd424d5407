import CKernels

/// ai.onnx.ml operators: the scikit-learn / XGBoost / LightGBM model families.
/// Sums run in float32 left to right in attribute order (trees in ascending tree id),
/// dot products are fma chains from +0, and the intercept or base value is added last.

/// post_transform of the linear and tree models.
enum PostTransform: String {
    case none = "NONE", logistic = "LOGISTIC", softmax = "SOFTMAX", softmaxZero = "SOFTMAX_ZERO", probit = "PROBIT"

    init(_ ctx: OpContext) throws {
        let name = try ctx.string("post_transform", "NONE")
        guard let t = PostTransform(rawValue: name) else {
            throw ctx.error("post_transform '\(name)' is not NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO or PROBIT")
        }
        self = t
    }

    /// Applies the transform to one row of scores in place.
    func apply(_ row: inout [Float]) {
        switch self {
        case .none: return
        case .logistic: for i in row.indices { row[i] = M.sigmoid(row[i]) }
        case .probit: for i in row.indices { row[i] = M.probit(row[i]) }
        case .softmax, .softmaxZero:
            var m: Float = -.infinity
            for v in row where !(self == .softmaxZero && v == 0) { m = nanPropagatingMax(m, v) }
            var s: Float = 0
            for i in row.indices {
                if self == .softmaxZero && row[i] == 0 { continue }
                row[i] = M.exp(row[i] - m)
                s = s + row[i]
            }
            for i in row.indices where !(self == .softmaxZero && row[i] == 0) { row[i] = row[i] / s }
        }
    }
}

/// Class labels of a classifier: int64s or strings.
enum ClassLabels {
    case ints([Int64])
    case strings([[UInt8]])

    init(_ ctx: OpContext, prefix: String = "classlabels_") throws {
        if let s = try ctx.strings(prefix + "strings"), !s.isEmpty { self = .strings(s) }
        else if let i = try ctx.ints(prefix + "int64s"), !i.isEmpty { self = .ints(i) }
        else if let i = try ctx.ints(prefix + "ints"), !i.isEmpty { self = .ints(i) }  // LinearClassifier, SVMClassifier
        else { throw ctx.error("needs \(prefix)int64s (or _ints) or \(prefix)strings") }
    }

    var count: Int {
        switch self {
        case .ints(let v): return v.count
        case .strings(let v): return v.count
        }
    }

    func tensor(_ picks: [Int], shape: [Int]) -> Tensor {
        switch self {
        case .ints(let v): return .int64(picks.map { v[$0] }, shape: shape)
        case .strings(let v): return Tensor(elementType: .string, shape: shape, storage: .string(picks.map { v[$0] }))
        }
    }

    var storage: TensorStorage {
        switch self {
        case .ints(let v): return .int64(v)
        case .strings(let v): return .string(v)
        }
    }
}

/// The float32 features of an ML operator's input: (N, F) or a single row (F).
func features(_ ctx: OpContext, _ x: Tensor) throws -> (values: [Float], rows: Int, columns: Int) {
    let v: [Float]
    switch x.storage {
    case .float(let f): v = f
    case .double(let d): v = d.map { Float($0) }
    case .int64(let i): v = i.map { Float($0) }
    default: throw ctx.unsupported("element type \(x.elementType) is not supported by \(ctx.node.opType)")
    }
    switch x.rank {
    case 0: return (v, 1, 1)
    case 1: return (v, 1, x.shape[0])
    case 2: return (v, x.shape[0], x.shape[1])
    default: throw ctx.error("input must be (N, F) or (F), got shape \(x.shape)")
    }
}

/// Index of the first maximum (NaN never wins).
func firstMax(_ row: ArraySlice<Float>) -> Int {
    var best = row.startIndex
    for i in row.indices where row[i] > row[best] { best = i }
    return best - row.startIndex
}

// MARK: tree ensembles

struct TreeEnsemble {
    enum Aggregate: String { case sum = "SUM", average = "AVERAGE", min = "MIN", max = "MAX" }

    static let leq: UInt8 = 0, lt: UInt8 = 1, gte: UInt8 = 2, gt: UInt8 = 3, eq: UInt8 = 4, neq: UInt8 = 5, member: UInt8 = 6, leaf: UInt8 = 7

    var feature: [Int32] = [], threshold: [Float] = [], mode: [UInt8] = [], trueChild: [Int32] = [], falseChild: [Int32] = []
    var missingTrue: [Bool] = []
    var members: [[Float]] = []  // BRANCH_MEMBER sets, by node
    var leafStart: [Int32] = [], leafEnd: [Int32] = []
    var leafTarget: [Int32] = [], leafWeight: [Float] = []
    var roots: [Int32] = []
    var targets = 1
    var aggregate = Aggregate.sum
    var base: [Float] = []
    var featureCount = 0

    static func mode(_ name: [UInt8], _ ctx: OpContext) throws -> UInt8 {
        switch String(decoding: name, as: UTF8.self) {
        case "BRANCH_LEQ": return leq
        case "BRANCH_LT": return lt
        case "BRANCH_GTE": return gte
        case "BRANCH_GT": return gt
        case "BRANCH_EQ": return eq
        case "BRANCH_NEQ": return neq
        case "LEAF": return leaf
        case let other: throw ctx.error("node mode '\(other)' is not a BRANCH_* mode or LEAF")
        }
    }

    /// From the ai.onnx.ml v1–v3 attributes of TreeEnsembleRegressor / TreeEnsembleClassifier;
    /// `weightsPrefix` is "target" or "class".
    init(legacy ctx: OpContext, weightsPrefix p: String, targets: Int) throws {
        guard let treeIds = try ctx.ints("nodes_treeids"), let nodeIds = try ctx.ints("nodes_nodeids"),
              let featureIds = try ctx.ints("nodes_featureids"), let modes = try ctx.strings("nodes_modes"),
              let trueIds = try ctx.ints("nodes_truenodeids"), let falseIds = try ctx.ints("nodes_falsenodeids") else {
            throw ctx.error("needs nodes_treeids, nodes_nodeids, nodes_featureids, nodes_modes, nodes_truenodeids and nodes_falsenodeids")
        }
        let n = treeIds.count
        var values: [Float]
        if let v = try ctx.floats("nodes_values") { values = v }
        else if let t = try ctx.tensor("nodes_values_as_tensor") { values = try t.doubles("nodes_values_as_tensor").map { Float($0) } }
        else { values = [Float](repeating: 0, count: n) }
        let missing = try ctx.ints("nodes_missing_value_tracks_true") ?? []
        guard nodeIds.count == n, featureIds.count == n, modes.count == n, trueIds.count == n, falseIds.count == n, values.count == n,
              missing.isEmpty || missing.count == n else {
            throw ctx.error("the nodes_* attributes have different lengths")
        }
        guard let wTrees = try ctx.ints("\(p)_treeids"), let wNodes = try ctx.ints("\(p)_nodeids"), let wIds = try ctx.ints("\(p)_ids") else {
            throw ctx.error("needs \(p)_treeids, \(p)_nodeids and \(p)_ids")
        }
        var weights: [Float]
        if let w = try ctx.floats("\(p)_weights") { weights = w }
        else if let t = try ctx.tensor("\(p)_weights_as_tensor") { weights = try t.doubles("\(p)_weights_as_tensor").map { Float($0) } }
        else { throw ctx.error("needs \(p)_weights") }
        guard wNodes.count == wTrees.count, wIds.count == wTrees.count, weights.count == wTrees.count else {
            throw ctx.error("the \(p)_* attributes have different lengths")
        }
        self.targets = targets
        // Index of each (tree, node); trees in ascending id order.
        var index: [Int64: [Int64: Int]] = [:]
        for i in 0..<n {
            guard index[treeIds[i], default: [:]][nodeIds[i]] == nil else { throw ctx.error("node \(nodeIds[i]) of tree \(treeIds[i]) is defined twice") }
            index[treeIds[i], default: [:]][nodeIds[i]] = i
        }
        var hasParent = [Bool](repeating: false, count: n)
        for i in 0..<n {
            let m = try Self.mode(modes[i], ctx)
            mode.append(m)
            guard featureIds[i] >= 0 && featureIds[i] < Int64(Int32.max) else { throw ctx.error("node \(i): feature id \(featureIds[i]) is out of range") }
            feature.append(Int32(featureIds[i]))
            threshold.append(values[i])
            missingTrue.append(!missing.isEmpty && missing[i] != 0)
            if m == Self.leaf {
                trueChild.append(-1); falseChild.append(-1)
                continue
            }
            featureCount = max(featureCount, Int(featureIds[i]) + 1)
            guard let t = index[treeIds[i]]?[trueIds[i]], let f = index[treeIds[i]]?[falseIds[i]] else {
                throw ctx.error("node \(nodeIds[i]) of tree \(treeIds[i]) points to a child that does not exist")
            }
            trueChild.append(Int32(t)); falseChild.append(Int32(f))
            hasParent[t] = true; hasParent[f] = true
        }
        for tree in index.keys.sorted() {
            let rootsOfTree = index[tree]!.values.filter { !hasParent[$0] }
            guard rootsOfTree.count == 1 else { throw ctx.error("tree \(tree) has \(rootsOfTree.count) roots (nodes without a parent), expected 1") }
            roots.append(Int32(rootsOfTree[0]))
        }
        // Leaf weights grouped by node, in attribute order.
        var byNode = [[(Int32, Float)]](repeating: [], count: n)
        for k in 0..<wTrees.count {
            guard let node = index[wTrees[k]]?[wNodes[k]] else { throw ctx.error("\(p) weight \(k) names node \(wNodes[k]) of tree \(wTrees[k]), which does not exist") }
            guard wIds[k] >= 0 && wIds[k] < Int64(targets) else { throw ctx.error("\(p)_ids[\(k)] = \(wIds[k]) is outside 0..<\(targets)") }
            byNode[node].append((Int32(wIds[k]), weights[k]))
        }
        for node in 0..<n {
            leafStart.append(Int32(leafTarget.count))
            for (t, w) in byNode[node] { leafTarget.append(t); leafWeight.append(w) }
            leafEnd.append(Int32(leafTarget.count))
        }
        try checkAcyclic(ctx)
        aggregate = try Self.aggregate(ctx.string("aggregate_function", "SUM"), ctx)
        if let b = try ctx.floats("base_values") { base = b }
        else if let t = try ctx.tensor("base_values_as_tensor") { base = try t.doubles("base_values_as_tensor").map { Float($0) } }
    }

    /// From the ai.onnx.ml opset-5 TreeEnsemble attributes.
    init(v5 ctx: OpContext) throws {
        guard let rootsAttr = try ctx.ints("tree_roots"), let featureIds = try ctx.ints("nodes_featureids"),
              let modesT = try ctx.tensor("nodes_modes"), let splitsT = try ctx.tensor("nodes_splits"),
              let trueIds = try ctx.ints("nodes_truenodeids"), let falseIds = try ctx.ints("nodes_falsenodeids"),
              let targetIds = try ctx.ints("leaf_targetids"), let weightsT = try ctx.tensor("leaf_weights") else {
            throw ctx.error("needs tree_roots, nodes_featureids, nodes_modes, nodes_splits, nodes_truenodeids, nodes_falsenodeids, leaf_targetids and leaf_weights")
        }
        let modes = try modesT.integers("nodes_modes"), splits = try splitsT.doubles("nodes_splits").map { Float($0) }
        let weights = try weightsT.doubles("leaf_weights").map { Float($0) }
        let trueLeaf = try ctx.ints("nodes_trueleafs") ?? [], falseLeaf = try ctx.ints("nodes_falseleafs") ?? []
        let missing = try ctx.ints("nodes_missing_value_tracks_true") ?? []
        let n = featureIds.count, leaves = targetIds.count
        guard modes.count == n, splits.count == n, trueIds.count == n, falseIds.count == n, trueLeaf.count == n, falseLeaf.count == n,
              missing.isEmpty || missing.count == n, weights.count == leaves else {
            throw ctx.error("the nodes_* or leaf_* attributes have different lengths")
        }
        targets = Int(try ctx.int("n_targets", 1))
        guard targets >= 1 else { throw ctx.error("n_targets must be positive") }
        var memberSets: [[Float]] = []
        if let m = try ctx.tensor("membership_values") {
            var current: [Float] = []
            for v in try m.doubles("membership_values") {
                if v.isNaN { memberSets.append(current); current = [] } else { current.append(Float(v)) }
            }
            memberSets.append(current)
        }
        // Interior nodes first (0..<n), then one node per leaf (n..<n+leaves).
        var nextMember = 0
        for i in 0..<n {
            guard (0...6).contains(modes[i]) else { throw ctx.error("nodes_modes[\(i)] = \(modes[i]) is not a mode (0…6)") }
            mode.append(UInt8(modes[i]))
            guard featureIds[i] >= 0 && featureIds[i] < Int64(Int32.max) else { throw ctx.error("node \(i): feature id \(featureIds[i]) is out of range") }
            feature.append(Int32(featureIds[i]))
            featureCount = max(featureCount, Int(featureIds[i]) + 1)
            threshold.append(splits[i])
            missingTrue.append(!missing.isEmpty && missing[i] != 0)
            func child(_ id: Int64, isLeaf: Bool) throws -> Int32 {
                let limit = isLeaf ? leaves : n
                guard id >= 0 && id < Int64(limit) else { throw ctx.error("node \(i) points to \(isLeaf ? "leaf" : "node") \(id), outside 0..<\(limit)") }
                return Int32(isLeaf ? n + Int(id) : Int(id))
            }
            trueChild.append(try child(trueIds[i], isLeaf: trueLeaf[i] != 0))
            falseChild.append(try child(falseIds[i], isLeaf: falseLeaf[i] != 0))
            if modes[i] == Int64(Self.member) {
                guard nextMember < memberSets.count else { throw ctx.error("node \(i) is BRANCH_MEMBER but membership_values has no set for it") }
                members.append(memberSets[nextMember])
                nextMember += 1
            } else {
                members.append([])
            }
        }
        for l in 0..<leaves {
            guard targetIds[l] >= 0 && targetIds[l] < Int64(targets) else { throw ctx.error("leaf_targetids[\(l)] = \(targetIds[l]) is outside 0..<\(targets)") }
            mode.append(Self.leaf); feature.append(0); threshold.append(0); missingTrue.append(false)
            trueChild.append(-1); falseChild.append(-1); members.append([])
        }
        leafStart = [Int32](repeating: 0, count: n)  // interior nodes carry no weights
        leafEnd = [Int32](repeating: 0, count: n)
        for l in 0..<leaves {
            leafStart.append(Int32(leafTarget.count))
            leafTarget.append(Int32(targetIds[l])); leafWeight.append(weights[l])
            leafEnd.append(Int32(leafTarget.count))
        }
        for r in rootsAttr {
            guard r >= 0 && r < Int64(n) else { throw ctx.error("tree root \(r) is outside 0..<\(n)") }
            roots.append(Int32(r))
        }
        try checkAcyclic(ctx)
        let agg = try ctx.int("aggregate_function", 1)
        let aggregates: [Aggregate] = [.average, .sum, .min, .max]
        guard agg >= 0 && agg < 4 else { throw ctx.error("aggregate_function \(agg) is not 0…3") }
        aggregate = aggregates[Int(agg)]
    }

    static func aggregate(_ name: String, _ ctx: OpContext) throws -> Aggregate {
        guard let a = Aggregate(rawValue: name) else { throw ctx.error("aggregate_function '\(name)' is not SUM, AVERAGE, MIN or MAX") }
        return a
    }

    /// Every path from a root must reach a leaf: a walk longer than the node count is a cycle.
    func checkAcyclic(_ ctx: OpContext) throws {
        var depth = [Int](repeating: -1, count: mode.count)  // longest path below, memoised
        func visit(_ node: Int, _ seen: Int) throws -> Int {
            guard seen <= mode.count else { throw ctx.error("the trees contain a cycle") }
            if mode[node] == Self.leaf { return 0 }
            if depth[node] >= 0 { return depth[node] }
            let d = 1 + max(try visit(Int(trueChild[node]), seen + 1), try visit(Int(falseChild[node]), seen + 1))
            depth[node] = d
            return d
        }
        for r in roots { _ = try visit(Int(r), 0) }
    }

    /// One node, packed for the walk: leaves keep their weight range in the child fields.
    struct FlatNode {
        var threshold: Float
        var feature: Int32
        var trueChild: Int32
        var falseChild: Int32
        var mode: UInt8
        var missingTrue: Bool
        /// The node's index, for BRANCH_MEMBER's set.
        var index: Int32
    }

    /// The nodes packed, and whether every branch is BRANCH_LEQ with no missing-value
    /// tracking (then a NaN feature compares false and takes the false branch, exactly
    /// as the general rule says, so the walk needs no NaN test).
    func packed() -> (nodes: [FlatNode], plainLEQ: Bool) {
        var plain = true
        let nodes = (0..<mode.count).map { i -> FlatNode in
            if mode[i] == Self.leaf {
                return FlatNode(threshold: 0, feature: 0, trueChild: leafStart[i], falseChild: leafEnd[i], mode: Self.leaf, missingTrue: false, index: Int32(i))
            }
            if mode[i] != Self.leq || missingTrue[i] { plain = false }
            return FlatNode(threshold: threshold[i], feature: feature[i], trueChild: trueChild[i], falseChild: falseChild[i], mode: mode[i],
                            missingTrue: missingTrue[i], index: Int32(i))
        }
        return (nodes, plain)
    }

    /// Raw scores (N × targets). For each sample the trees are visited in order and
    /// their leaf weights aggregated, then the base values added. (The loop runs tree by
    /// tree over all samples, which keeps a tree in cache and leaves each sample's order
    /// of additions unchanged.)
    func scores(_ x: [Float], rows: Int, columns: Int, ctx: OpContext, packed: (nodes: [FlatNode], plainLEQ: Bool)) throws -> [Float] {
        guard columns >= featureCount else { throw ctx.error("the trees read feature \(featureCount - 1) but the input has \(columns) features") }
        var out = [Float](repeating: 0, count: rows * targets)
        var seen = [Bool](repeating: false, count: aggregate == .min || aggregate == .max ? rows * targets : 0)
        let plain = packed.plainLEQ
        x.withUnsafeBufferPointer { xs in
        packed.nodes.withUnsafeBufferPointer { nodes in
        leafTarget.withUnsafeBufferPointer { lt in
        leafWeight.withUnsafeBufferPointer { lw in
        out.withUnsafeMutableBufferPointer { acc in
            for root in roots {
                for r in 0..<rows {
                    let row = r * columns
                    var n = nodes[Int(root)]
                    if plain {
                        while n.mode != Self.leaf {
                            n = nodes[Int(xs[row + Int(n.feature)] <= n.threshold ? n.trueChild : n.falseChild)]
                        }
                    } else {
                        while n.mode != Self.leaf {
                            let v = xs[row + Int(n.feature)]
                            let go: Bool
                            if v.isNaN {
                                go = n.missingTrue
                            } else {
                                let s = n.threshold
                                switch n.mode {
                                case Self.leq: go = v <= s
                                case Self.lt: go = v < s
                                case Self.gte: go = v >= s
                                case Self.gt: go = v > s
                                case Self.eq: go = v == s
                                case Self.neq: go = v != s
                                default: go = members[Int(n.index)].contains(v)
                                }
                            }
                            n = nodes[Int(go ? n.trueChild : n.falseChild)]
                        }
                    }
                    for k in Int(n.trueChild)..<Int(n.falseChild) {
                        let o = r * targets + Int(lt[k]), w = lw[k]
                        switch aggregate {
                        case .sum, .average: acc[o] = acc[o] + w
                        case .min: acc[o] = seen[o] ? Swift.min(acc[o], w) : w; seen[o] = true
                        case .max: acc[o] = seen[o] ? Swift.max(acc[o], w) : w; seen[o] = true
                        }
                    }
                }
            }
            for r in 0..<rows {
                for t in 0..<targets {
                    let o = r * targets + t
                    if aggregate == .average { acc[o] = acc[o] / Float(roots.count) }
                    if t < base.count { acc[o] = acc[o] + base[t] }
                }
            }
        }}}}}
        return out
    }
}

func treeRegressor(_ ctx: OpContext) throws -> Kernel {
    let targets = Int(try ctx.int("n_targets", 1))
    guard targets >= 1 else { throw ctx.error("n_targets must be positive") }
    let ensemble = try TreeEnsemble(legacy: ctx, weightsPrefix: "target", targets: targets)
    let packed = ensemble.packed()
    let post = try PostTransform(ctx)
    return { ctx, inputs in
        let (x, rows, columns) = try features(ctx, ctx.input(inputs, 0))
        var scores = try ensemble.scores(x, rows: rows, columns: columns, ctx: ctx, packed: packed)
        if post != .none {
            for r in 0..<rows {
                var row = Array(scores[(r * targets)..<((r + 1) * targets)])
                post.apply(&row)
                scores.replaceSubrange((r * targets)..<((r + 1) * targets), with: row)
            }
        }
        return [.float(scores, shape: [rows, targets])]
    }
}

/// Scores of a classifier with one raw score per row for two classes (binary):
/// positive weights read as probabilities ([1 − s, s], label by s > 0.5), otherwise
/// margins ([−s, s], label by s > 0); then the post transform.
func classify(_ ctx: OpContext, raw: [Float], rows: Int, columns: Int, labels: ClassLabels, post: PostTransform, positiveWeights: Bool) -> [Tensor] {
    let classes = labels.count
    var scores: [Float] = []
    var picks: [Int] = []
    if columns == 1 && classes == 2 {
        for r in 0..<rows {
            let s = raw[r]
            var row: [Float] = positiveWeights ? [1 - s, s] : [-s, s]
            picks.append(positiveWeights ? (s > 0.5 ? 1 : 0) : (s > 0 ? 1 : 0))
            if post == .logistic { row = [M.sigmoid(-s), M.sigmoid(s)] } else { post.apply(&row) }
            scores += row
        }
        return [labels.tensor(picks, shape: [rows]), .float(scores, shape: [rows, 2])]
    }
    for r in 0..<rows {
        var row = Array(raw[(r * columns)..<((r + 1) * columns)])
        picks.append(firstMax(row[...]))
        post.apply(&row)
        scores += row
    }
    return [labels.tensor(picks, shape: [rows]), .float(scores, shape: [rows, columns])]
}

func treeClassifier(_ ctx: OpContext) throws -> Kernel {
    let labels = try ClassLabels(ctx)
    let classIds = try ctx.ints("class_ids") ?? []
    let weights = try ctx.floats("class_weights") ?? []
    let binary = labels.count == 2 && classIds.allSatisfy { $0 == 0 }
    let columns = binary ? 1 : labels.count
    var ensemble = try TreeEnsemble(legacy: ctx, weightsPrefix: "class", targets: columns)
    if binary, ensemble.base.count == 2 { ensemble.base = [ensemble.base[1]] }
    let post = try PostTransform(ctx)
    let packed = ensemble.packed()
    let positive = weights.allSatisfy { $0 >= 0 }
    return { ctx, inputs in
        let (x, rows, cols) = try features(ctx, ctx.input(inputs, 0))
        let raw = try ensemble.scores(x, rows: rows, columns: cols, ctx: ctx, packed: packed)
        return classify(ctx, raw: raw, rows: rows, columns: columns, labels: labels, post: post, positiveWeights: positive)
    }
}

func treeEnsembleV5(_ ctx: OpContext) throws -> Kernel {
    let ensemble = try TreeEnsemble(v5: ctx)
    let packed = ensemble.packed()
    let code = try ctx.int("post_transform", 0)
    let transforms: [PostTransform] = [.none, .softmax, .logistic, .softmaxZero, .probit]
    guard code >= 0 && code < 5 else { throw ctx.error("post_transform \(code) is not 0…4") }
    let post = transforms[Int(code)]
    return { ctx, inputs in
        let x = try ctx.input(inputs, 0)
        let (values, rows, columns) = try features(ctx, x)
        var scores = try ensemble.scores(values, rows: rows, columns: columns, ctx: ctx, packed: packed)
        let t = ensemble.targets
        if post != .none {
            for r in 0..<rows {
                var row = Array(scores[(r * t)..<((r + 1) * t)])
                post.apply(&row)
                scores.replaceSubrange((r * t)..<((r + 1) * t), with: row)
            }
        }
        if case .double = x.storage {
            return [Tensor(elementType: .double, shape: [rows, ensemble.targets], storage: .double(scores.map { Double($0) }))]
        }
        return [.float(scores, shape: [rows, ensemble.targets])]
    }
}

// MARK: linear models and transforms

func linearScores(_ ctx: OpContext, x: [Float], rows: Int, columns: Int, coefficients: [Float], intercepts: [Float], targets: Int) throws -> [Float] {
    guard coefficients.count == targets * columns else {
        throw ctx.error("\(coefficients.count) coefficients do not fit \(targets) targets × \(columns) features")
    }
    guard intercepts.isEmpty || intercepts.count == targets else { throw ctx.error("\(intercepts.count) intercepts for \(targets) targets") }
    var out = [Float](repeating: 0, count: rows * targets)
    for r in 0..<rows {
        for t in 0..<targets {
            var acc: Float = 0
            for f in 0..<columns { acc = acc.addingProduct(x[r * columns + f], coefficients[t * columns + f]) }
            out[r * targets + t] = intercepts.isEmpty ? acc : acc + intercepts[t]
        }
    }
    return out
}

func linearClassifier(_ ctx: OpContext) throws -> Kernel {
    let labels = try ClassLabels(ctx)
    guard let coefficients = try ctx.floats("coefficients") else { throw ctx.error("attribute 'coefficients' is required") }
    let intercepts = try ctx.floats("intercepts") ?? []
    let post = try PostTransform(ctx)
    return { ctx, inputs in
        let (x, rows, columns) = try features(ctx, ctx.input(inputs, 0))
        guard columns > 0, coefficients.count % columns == 0 else { throw ctx.error("\(coefficients.count) coefficients do not fit \(columns) features") }
        let targets = coefficients.count / columns
        let raw = try linearScores(ctx, x: x, rows: rows, columns: columns, coefficients: coefficients, intercepts: intercepts, targets: targets)
        guard targets == labels.count || (targets == 1 && labels.count == 2) else {
            throw ctx.error("\(targets) score columns for \(labels.count) class labels")
        }
        return classify(ctx, raw: raw, rows: rows, columns: targets, labels: labels, post: post, positiveWeights: false)
    }
}

func linearRegressor(_ ctx: OpContext) throws -> Kernel {
    let targets = Int(try ctx.int("targets", 1))
    let coefficients = try ctx.floats("coefficients") ?? []
    let intercepts = try ctx.floats("intercepts") ?? []
    let post = try PostTransform(ctx)
    return { ctx, inputs in
        let (x, rows, columns) = try features(ctx, ctx.input(inputs, 0))
        var out = try linearScores(ctx, x: x, rows: rows, columns: columns, coefficients: coefficients, intercepts: intercepts, targets: targets)
        for r in 0..<rows where post != .none {
            var row = Array(out[(r * targets)..<((r + 1) * targets)])
            post.apply(&row)
            out.replaceSubrange((r * targets)..<((r + 1) * targets), with: row)
        }
        return [.float(out, shape: [rows, targets])]
    }
}

func scaler(_ ctx: OpContext) throws -> Kernel {
    let offset = try ctx.floats("offset") ?? [0], scale = try ctx.floats("scale") ?? [1]
    return { ctx, inputs in
        let xT = try ctx.input(inputs, 0)
        let (x, rows, columns) = try features(ctx, xT)
        guard offset.count == 1 || offset.count == columns, scale.count == 1 || scale.count == columns else {
            throw ctx.error("offset (\(offset.count)) and scale (\(scale.count)) must have 1 or \(columns) values")
        }
        var out = [Float](repeating: 0, count: x.count)
        for r in 0..<rows {
            for c in 0..<columns {
                let i = r * columns + c
                out[i] = (x[i] - offset[offset.count == 1 ? 0 : c]) * scale[scale.count == 1 ? 0 : c]
            }
        }
        return [.float(out, shape: xT.rank == 2 ? [rows, columns] : xT.shape)]
    }
}

func normalizer(_ ctx: OpContext) throws -> Kernel {
    let norm = try ctx.string("norm", "MAX")
    guard ["MAX", "L1", "L2"].contains(norm) else { throw ctx.error("norm '\(norm)' is not MAX, L1 or L2") }
    return { ctx, inputs in
        let xT = try ctx.input(inputs, 0)
        let (x, rows, columns) = try features(ctx, xT)
        var out = x
        for r in 0..<rows {
            let row = x[(r * columns)..<((r + 1) * columns)]
            var d: Float
            switch norm {
            case "MAX":
                d = -.infinity
                for v in row { d = nanPropagatingMax(d, v) }
            case "L1":
                d = 0
                for v in row { d = d + abs(v) }
            default:
                d = 0
                for v in row { d = d.addingProduct(v, v) }
                d = d.squareRoot()
            }
            for c in 0..<columns { out[r * columns + c] = x[r * columns + c] / d }
        }
        return [.float(out, shape: xT.shape)]
    }
}

func binarizer(_ ctx: OpContext) throws -> Kernel {
    let threshold = try ctx.float("threshold", 0)
    return { ctx, inputs in
        let x = try ctx.input(inputs, 0)
        return [try unary(ctx, x, float: { $0 > threshold ? 1 : ($0.isNaN ? $0 : 0) }, double: { $0 > Double(threshold) ? 1 : ($0.isNaN ? $0 : 0) },
                          int: { Double($0) > Double(threshold) ? 1 : 0 })]
    }
}

func arrayFeatureExtractor(_ ctx: OpContext) throws -> Kernel {
    { ctx, inputs in
        let x = try ctx.input(inputs, 0)
        let indices = try ctx.input(inputs, 1).integers("indices")
        guard x.rank >= 1 else { throw ctx.error("X must have rank at least 1") }
        let last = x.shape[x.rank - 1]
        for v in indices where v < 0 || v >= Int64(last) { throw ctx.error("index \(v) is out of range for the last axis (\(last))") }
        let outer = x.count / max(last, 1)
        var picks: [Int] = []
        for o in 0..<outer { for v in indices { picks.append(o * last + Int(v)) } }
        let shape = x.rank == 1 ? [1, indices.count] : Array(x.shape.dropLast()) + [indices.count]
        return [Tensor(elementType: x.elementType, shape: shape, storage: x.storage.gathered(picks))]
    }
}

func zipMap(_ ctx: OpContext) throws -> Kernel {
    let labels = try ClassLabels(ctx)
    return { ctx, inputs in
        let x = try ctx.input(inputs, 0)
        let (values, rows, columns) = try features(ctx, x)
        guard columns == labels.count else { throw ctx.error("\(columns) columns for \(labels.count) class labels") }
        var t = Tensor.float(values, shape: [rows, columns])
        t.mapKeys = labels.storage
        return [t]
    }
}

func labelEncoder(_ ctx: OpContext) throws -> Kernel {
    // Keys and values: tensors (opset 4) or the typed lists.
    func list(_ kind: String) throws -> TensorStorage? {
        if let t = try ctx.tensor("\(kind)_tensor") { return t.storage }
        if let s = try ctx.strings("\(kind)_strings") { return .string(s) }
        if let i = try ctx.ints("\(kind)_int64s") { return .int64(i) }
        if let f = try ctx.floats("\(kind)_floats") { return .float(f) }
        return nil
    }
    guard let keys = try list("keys"), let values = try list("values"), keys.count == values.count else {
        throw ctx.error("needs keys_* and values_* of the same length")
    }
    var defaultValue: TensorStorage
    switch values {
    case .string: defaultValue = .string([Array(try ctx.string("default_string", "_Unused").utf8)])
    case .int64: defaultValue = .int64([try ctx.int("default_int64", -1)])
    case .float: defaultValue = .float([try ctx.float("default_float", -0.0)])
    case .double: defaultValue = .double([-0.0])
    default: throw ctx.unsupported("LabelEncoder values of this type")
    }
    if let t = try ctx.tensor("default_tensor") {
        guard t.count == 1 else { throw ctx.error("default_tensor must hold one value") }
        defaultValue = t.storage
    }
    let outType: ElementType
    if let t = try ctx.tensor("values_tensor") {
        outType = t.elementType
    } else {
        switch values {
        case .string: outType = .string
        case .int64: outType = .int64
        default: outType = .float
        }
    }
    guard TensorStorage.concatenated([values, defaultValue], like: values).count == values.count + 1 else {
        throw ctx.error("default value type differs from the values' type")
    }
    // Lookup tables keyed by the key's bits (first occurrence wins).
    var table: [String: Int] = [:]
    func keyString(_ s: TensorStorage, _ i: Int) -> String? {
        switch s {
        case .string(let v): return "s" + String(decoding: v[i], as: UTF8.self)
        case .int64(let v): return "i\(v[i])"
        case .float(let v): return v[i].isNaN ? "fNaN" : "f\((v[i] == 0 ? 0 : v[i]).bitPattern)"
        case .double(let v): return v[i].isNaN ? "fNaN" : "f\((Float(v[i]) == 0 ? 0 : Float(v[i])).bitPattern)"
        default: return nil
        }
    }
    for i in 0..<keys.count { if let k = keyString(keys, i), table[k] == nil { table[k] = i } }
    let joined = TensorStorage.concatenated([values, defaultValue], like: values)
    return { ctx, inputs in
        let x = try ctx.input(inputs, 0)
        let picks = (0..<x.count).map { i in keyString(x.storage, i).flatMap { table[$0] } ?? values.count }
        return [Tensor(elementType: outType, shape: x.shape, storage: joined.gathered(picks))]
    }
}

let mlFactories: [String: KernelFactory] = [
    "TreeEnsembleRegressor": treeRegressor,
    "TreeEnsembleClassifier": treeClassifier,
    "TreeEnsemble": treeEnsembleV5,
    "LinearClassifier": linearClassifier,
    "LinearRegressor": linearRegressor,
    "Scaler": scaler,
    "Normalizer": normalizer,
    "Binarizer": binarizer,
    "ArrayFeatureExtractor": arrayFeatureExtractor,
    "ZipMap": zipMap,
    "LabelEncoder": labelEncoder,
    "SVMRegressor": svmRegressor,
    "SVMClassifier": svmClassifier,
]

// MARK: support vector machines

/// The kernel of an SVM: K(x, v) for a sample x and a support vector v, in float32 with
/// the dot product and the squared distance as fma chains from +0.
struct SVMKernel {
    enum Kind: String { case linear = "LINEAR", poly = "POLY", rbf = "RBF", sigmoid = "SIGMOID" }
    let kind: Kind
    let gamma: Float, coef0: Float, degree: Float

    init(_ ctx: OpContext) throws {
        let name = try ctx.string("kernel_type", "LINEAR")
        guard let k = Kind(rawValue: name) else { throw ctx.error("kernel_type '\(name)' is not LINEAR, POLY, RBF or SIGMOID") }
        kind = k
        let p = try ctx.floats("kernel_params") ?? []
        gamma = p.count > 0 ? p[0] : 0
        coef0 = p.count > 1 ? p[1] : 0
        degree = p.count > 2 ? p[2] : 0
    }

    /// The kernel's value from its chain s (the squared distance for RBF, else the dot product).
    @inline(__always)
    func value(_ s: Float) -> Float {
        switch kind {
        case .rbf: return M.exp(-gamma * s)
        case .linear: return s
        case .poly: return M.pow(gamma * s + coef0, degree)
        case .sigmoid: return M.tanh(gamma * s + coef0)
        }
    }

    /// Samples are taken this many at a time, so the kernel matrix stays small.
    static let rowBlock = 64

    /// K(x_r, v) for the samples r in `rowRange` of x (`vectors.features` columns) and every
    /// vector: result[(r − rowRange.lowerBound) · vectors.stride + v]. The reference path runs
    /// the chains in Swift; the fast path in C (svm_kernels.h) — the same chains.
    func matrix(_ x: [Float], rows rowRange: Range<Int>, _ vectors: SVMVectors, path: KernelPath) -> [Float] {
        let n = vectors.features, stride = vectors.stride, rbf = kind == .rbf
        var out = [Float](repeating: 0, count: rowRange.count * stride)
        x.withUnsafeBufferPointer { xs in
            out.withUnsafeMutableBufferPointer { o in
                switch path {
                case .reference:
                    vectors.values.withUnsafeBufferPointer { vs in
                        for r in rowRange {
                            for v in 0..<vectors.count {
                                var s: Float = 0
                                if rbf {
                                    for i in 0..<n { let d = xs[r * n + i] - vs[v * n + i]; s = s.addingProduct(d, d) }
                                } else {
                                    for i in 0..<n { s = s.addingProduct(xs[r * n + i], vs[v * n + i]) }
                                }
                                o[(r - rowRange.lowerBound) * stride + v] = s
                            }
                        }
                    }
                case .fast where n > 0:
                    vectors.transposed.withUnsafeBufferPointer { vt in
                        opg_svm_chains(xs.baseAddress! + rowRange.lowerBound * n, rowRange.count, n, vt.baseAddress!, stride,
                                       rbf ? 1 : 0, o.baseAddress!, MatrixProduct.hasAVX2FMA ? 1 : 0)
                    }
                case .fast:
                    break  // no features: every chain is the empty sum +0
                }
                for r in 0..<rowRange.count {
                    for v in 0..<vectors.count { o[r * stride + v] = value(o[r * stride + v]) }
                }
            }
        }
        return out
    }
}

/// An SVM's support vectors (or its per-class coefficient rows), row-major, and for the
/// fast path transposed (features × stride, stride a multiple of 8 with zero columns past
/// the last vector), laid out once when the model is loaded.
struct SVMVectors {
    let values: [Float]
    let count: Int, features: Int, stride: Int
    let transposed: [Float]

    init(_ values: [Float], count: Int, features: Int) {
        self.values = values
        self.count = count
        self.features = features
        stride = max(8, (count + 7) / 8 * 8)
        var t = [Float](repeating: 0, count: features * stride)
        for v in 0..<count { for i in 0..<features { t[i * stride + v] = values[v * features + i] } }
        transposed = t
    }
}

func svmRegressor(_ ctx: OpContext) throws -> Kernel {
    let kernel = try SVMKernel(ctx)
    let coefficients = try ctx.floats("coefficients") ?? [], vectors = try ctx.floats("support_vectors") ?? []
    let supports = Int(try ctx.int("n_supports", 0)), oneClass = try ctx.int("one_class", 0) == 1
    let rho = try ctx.floats("rho") ?? [0]
    let post = try PostTransform(ctx)
    guard supports >= 0, supports == 0 || (vectors.count % supports == 0 && coefficients.count >= supports) else {
        throw ctx.error("support_vectors (\(vectors.count)) and coefficients (\(coefficients.count)) do not fit n_supports \(supports)")
    }
    let featureCount = supports > 0 ? vectors.count / supports : coefficients.count
    let layout = supports > 0 ? SVMVectors(vectors, count: supports, features: featureCount)
        : SVMVectors(Array(coefficients.prefix(featureCount)), count: 1, features: featureCount)
    return { ctx, inputs in
        let (x, rows, columns) = try features(ctx, ctx.input(inputs, 0))
        guard columns == featureCount else { throw ctx.error("input has \(columns) features, the model \(featureCount)") }
        var out = [Float](repeating: 0, count: rows)
        for r0 in Swift.stride(from: 0, to: rows, by: SVMKernel.rowBlock) {
            let block = r0..<min(rows, r0 + SVMKernel.rowBlock)
            let k = kernel.matrix(x, rows: block, layout, path: ctx.options.path)
            for r in block {
                let base = (r - r0) * layout.stride
                var s: Float
                if supports > 0 {
                    var d = 0.0  // binary64 sum of exact products, rounded once (as SVMClassifier)
                    for j in 0..<supports { d = d + Double(coefficients[j]) * Double(k[base + j]) }
                    s = Float(d + Double(rho.first ?? 0))
                } else {
                    s = k[base] + (rho.first ?? 0)
                }
                out[r] = oneClass ? (s > 0 ? 1 : -1) : s
            }
        }
        if post != .none { for r in 0..<rows { var row = [out[r]]; post.apply(&row); out[r] = row[0] } }
        return [.float(out, shape: [rows, 1])]
    }
}

/// SVMClassifier: one-vs-one with votes (libsvm's layout of coefficients), or one
/// linear score per class. Pairwise probabilities (prob_a/prob_b) are not supported.
func svmClassifier(_ ctx: OpContext) throws -> Kernel {
    let kernel = try SVMKernel(ctx)
    let labels = try ClassLabels(ctx)
    let coefficients = try ctx.floats("coefficients") ?? [], vectors = try ctx.floats("support_vectors") ?? []
    let rho = try ctx.floats("rho") ?? []
    let perClass = (try ctx.ints("vectors_per_class") ?? []).map { Int($0) }
    let probA = try ctx.floats("prob_a") ?? [], probB = try ctx.floats("prob_b") ?? []
    let post = try PostTransform(ctx)
    let classes = labels.count
    let vectorCount = perClass.reduce(0, +)
    guard perClass.allSatisfy({ $0 >= 0 }) else { throw ctx.error("vectors_per_class must not be negative") }
    let featureCount: Int
    if vectorCount > 0 {
        guard perClass.count == classes, vectors.count % vectorCount == 0,
              coefficients.count == (classes - 1) * vectorCount, rho.count >= classes * (classes - 1) / 2 else {
            throw ctx.error("support_vectors, coefficients, rho and vectors_per_class do not fit \(classes) classes")
        }
        featureCount = vectors.count / vectorCount
    } else {
        guard classes > 0, coefficients.count % classes == 0, rho.count >= classes else {
            throw ctx.error("coefficients (\(coefficients.count)) and rho (\(rho.count)) do not fit \(classes) classes")
        }
        featureCount = coefficients.count / classes
    }
    var starts: [Int] = []
    var acc = 0
    for c in perClass { starts.append(acc); acc += c }
    let probabilities = !probA.isEmpty && vectorCount > 0
    if probabilities {
        guard probA.count == classes * (classes - 1) / 2, probB.count == probA.count else {
            throw ctx.error("prob_a and prob_b must have one value per class pair (\(classes * (classes - 1) / 2))")
        }
    }
    let layout = vectorCount > 0 ? SVMVectors(vectors, count: vectorCount, features: featureCount)
        : SVMVectors(Array(coefficients.prefix(classes * featureCount)), count: classes, features: featureCount)
    return { ctx, inputs in
        let (x, rows, columns) = try features(ctx, ctx.input(inputs, 0))
        guard columns == featureCount else { throw ctx.error("input has \(columns) features, the model \(featureCount)") }
        let pairs = classes * (classes - 1) / 2
        let width = vectorCount > 0 && !probabilities ? (classes == 2 ? 2 : pairs) : classes
        var scores = [Float](repeating: 0, count: rows * width)
        var picks = [Int](repeating: 0, count: rows)
        coefficients.withUnsafeBufferPointer { cs in
        for r0 in Swift.stride(from: 0, to: rows, by: SVMKernel.rowBlock) {
            let block = r0..<min(rows, r0 + SVMKernel.rowBlock)
            let kernelValues = kernel.matrix(x, rows: block, layout, path: ctx.options.path)
            for r in block {
                let k0 = (r - r0) * layout.stride
                if vectorCount == 0 {
                    var row = [Float](repeating: 0, count: classes)
                    for c in 0..<classes { row[c] = kernelValues[k0 + c] + rho[c] }
                    picks[r] = firstMax(row[...])
                    post.apply(&row)
                    for c in 0..<classes { scores[r * width + c] = row[c] }
                    continue
                }
                var votes = [Int](repeating: 0, count: classes)
                var pairScores: [Float] = []
                for i in 0..<classes {
                    for j in (i + 1)..<max(classes, i + 1) {
                        // The weighted sum of kernel values runs in binary64 (exact products,
                        // one rounding per addition) and is rounded to float32 once.
                        var d = 0.0
                        for t in 0..<perClass[i] { d = d + Double(cs[(j - 1) * vectorCount + starts[i] + t]) * Double(kernelValues[k0 + starts[i] + t]) }
                        for t in 0..<perClass[j] { d = d + Double(cs[i * vectorCount + starts[j] + t]) * Double(kernelValues[k0 + starts[j] + t]) }
                        let s = Float(d + Double(rho[pairScores.count]))
                        pairScores.append(s)
                        votes[s > 0 ? i : j] += 1
                    }
                }
                // The label is decided by the votes, with or without probabilities (as
                // scikit-learn's SVC.predict and onnxruntime do).
                var best = 0
                for c in 1..<classes where votes[c] > votes[best] { best = c }
                picks[r] = best
                if probabilities {
                    var p = pairwiseCoupling(pairScores, classes: classes, a: probA, b: probB)
                    post.apply(&p)
                    for c in 0..<classes { scores[r * width + c] = p[c] }
                    continue
                }
                if classes == 2 {
                    var row: [Float] = [-pairScores[0], pairScores[0]]
                    post.apply(&row)
                    scores[r * 2] = row[0]; scores[r * 2 + 1] = row[1]
                } else {
                    post.apply(&pairScores)
                    for p in 0..<pairs { scores[r * width + p] = pairScores[p] }
                }
            }
        }
        }
        return [labels.tensor(picks, shape: [rows]), .float(scores, shape: [rows, width])]
    }
}

/// Class probabilities from one-vs-one decision values (libsvm's method, in float32):
/// Platt's sigmoid turns each pair score s into r_ij = 1 / (1 + exp(A·s + B)), clamped
/// to [1e-7, 1 − 1e-7] (r_ji = 1 − r_ij); then Wu, Lin and Weng's pairwise coupling
/// solves for p by at most 100 sweeps of fixed-point updates, stopping when every
/// |(Qp)_t − pᵀQp| is below 0.005 / classes.
func pairwiseCoupling(_ pairScores: [Float], classes k: Int, a: [Float], b: [Float]) -> [Float] {
    var r = [Float](repeating: 0, count: k * k)
    var index = 0
    for i in 0..<k {
        for j in (i + 1)..<max(k, i + 1) {
            let z = pairScores[index] * a[index] + b[index]
            // 1 / (1 + e^z), written to avoid overflow of e^z.
            var v: Float = z >= 0 ? M.exp(-z) / (1 + M.exp(-z)) : 1 / (1 + M.exp(z))
            v = min(max(v, 1e-7), 1 - 1e-7)
            r[i * k + j] = v
            r[j * k + i] = 1 - v
            index += 1
        }
    }
    var q = [Float](repeating: 0, count: k * k)
    var p = [Float](repeating: 1 / Float(k), count: k)
    for t in 0..<k {
        for j in 0..<k where j != t {
            q[t * k + t] = q[t * k + t] + r[j * k + t] * r[j * k + t]
            q[t * k + j] = -r[j * k + t] * r[t * k + j]
        }
    }
    var qp = [Float](repeating: 0, count: k)
    let eps = 0.005 / Float(k)
    for _ in 0..<100 {
        var pqp: Float = 0
        for t in 0..<k {
            var s: Float = 0
            for j in 0..<k { s = s + q[t * k + j] * p[j] }
            qp[t] = s
            pqp = pqp + p[t] * qp[t]
        }
        var maxError: Float = 0
        for t in 0..<k { maxError = max(maxError, abs(qp[t] - pqp)) }
        if maxError < eps { break }
        for t in 0..<k {
            let diff = (-qp[t] + pqp) / q[t * k + t]
            p[t] = p[t] + diff
            pqp = (pqp + diff * (diff * q[t * k + t] + 2 * qp[t])) / (1 + diff) / (1 + diff)
            for j in 0..<k {
                qp[j] = (qp[j] + diff * q[t * k + j]) / (1 + diff)
                p[j] = p[j] / (1 + diff)
            }
        }
    }
    return p
}
