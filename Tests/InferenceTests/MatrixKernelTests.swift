import CKernels
import XCTest
@testable import Inference

/// The register-tiled matrix kernel (docs/determinism.md §7) against the reference loops,
/// bit for bit: shapes that are not multiples of the 6×16 tile, K = 0 and 1, K over many
/// blocks of 1024, more rows than one row block, leading dimensions wider than the matrix,
/// B in place, packed or packed from its transpose, Gemm's epilogue (with a fused Relu), 1–3 threads, and the
/// portable C path.
final class MatrixKernelTests: XCTestCase {
    typealias Generator = DeterminismTests.Generator

    /// The bits, NaNs canonical: a NaN's payload is not part of the spec (§5).
    func bits(_ v: [Float]) -> [UInt32] { v.map { $0.isNaN ? 0x7FC0_0000 : $0.bitPattern } }

    /// A (M×K) with leading dimension lda, B (K×N) with ldb, and a per-column bias, filled
    /// with values that include −0, a subnormal, a huge value, an infinity and a NaN.
    struct Operands {
        var a: [Float], b: [Float], bias: [Float]
        let m: Int, k: Int, n: Int, lda: Int, ldb: Int

        init(m: Int, k: Int, n: Int, lda: Int, ldb: Int, _ g: inout Generator) {
            (self.m, self.k, self.n, self.lda, self.ldb) = (m, k, n, lda, ldb)
            a = (0..<(m * lda)).map { _ in g.float() }
            b = (0..<(k * ldb)).map { _ in g.float() }
            bias = (0..<n).map { _ in g.float() }
            let specials: [Float] = [-0.0, .leastNonzeroMagnitude, 1e30, .infinity, .nan]
            for (i, v) in specials.enumerated() where i * 7 < a.count { a[i * 7] = v }
            if b.count > 3 { b[3] = -0.0 }
        }

        /// B transposed (N×K, leading dimension K), for Gemm's transB.
        var bTransposed: [Float] {
            var t = [Float](repeating: 0, count: n * k)
            for p in 0..<k { for j in 0..<n { t[j * k + p] = b[p * ldb + j] } }
            return t
        }
    }

    /// Runs one product into a C of leading dimension ldc whose gaps hold a sentinel, and
    /// returns all of C (so a store past column N shows).
    func product(_ o: Operands, ldc: Int, _ operand: (UnsafePointer<Float>) -> MatrixProduct.RightOperand,
                 epilogue: GemmEpilogue?, options: RunOptions, workspace: Workspace? = nil) -> [Float] {
        var c = [Float](repeating: 12345, count: o.m * ldc)
        o.a.withUnsafeBufferPointer { pa in
            o.b.withUnsafeBufferPointer { pb in
                o.bias.withUnsafeBufferPointer { pbias in
                    c.withUnsafeMutableBufferPointer { pc in
                        var e = epilogue
                        if e?.bias != nil { e?.bias = pbias.baseAddress }
                        MatrixProduct.multiply(pa.baseAddress!, lda: o.lda, operand(pb.baseAddress!), pc.baseAddress!, ldc: ldc,
                                               m: o.m, k: o.k, n: o.n, epilogue: e, options: options, workspace: workspace)
                    }
                }
            }
        }
        return c
    }

    /// One workspace shared by every product of a test, as a session's runs share theirs.
    let workspace = Workspace()

    func checkAllPaths(m: Int, k: Int, n: Int, pad: Int, _ g: inout Generator) {
        let o = Operands(m: m, k: k, n: n, lda: k + pad, ldb: n + pad, &g)
        let ldc = n + pad
        let anyBias = UnsafePointer<Float>(bitPattern: 1)  // replaced by the real bias in `product`
        for epilogue in [nil, GemmEpilogue(alpha: 0.7, beta: 1, bias: nil), GemmEpilogue(alpha: 1, beta: -1.3, bias: anyBias),
                         GemmEpilogue(alpha: 1, beta: -1.3, bias: anyBias, relu: true), GemmEpilogue(relu: true)] {
            let label = "\(m)×\(k)×\(n), pad \(pad), epilogue \(String(describing: epilogue.map { ($0.alpha, $0.beta, $0.bias != nil, $0.relu) }))"
            let reference = product(o, ldc: ldc, { .rowMajor($0, ldb: o.ldb) }, epilogue: epilogue, options: RunOptions(path: .reference))
            let packed = o.b.withUnsafeBufferPointer {
                PackedMatrix($0.baseAddress!, rows: k, columns: n, rowStride: o.ldb, columnStride: 1)
            }
            let transposed = o.bTransposed.withUnsafeBufferPointer {
                PackedMatrix($0.baseAddress!, rows: k, columns: n, rowStride: 1, columnStride: k)
            }
            for threads in [1, 2, 3] {
                let options = RunOptions(threads: threads, path: .fast)
                XCTAssertEqual(bits(product(o, ldc: ldc, { .rowMajor($0, ldb: o.ldb) }, epilogue: epilogue, options: options)),
                               bits(reference), "B row-major, \(threads) threads, \(label)")
                XCTAssertEqual(bits(product(o, ldc: ldc, { .rowMajor($0, ldb: o.ldb) }, epilogue: epilogue, options: options,
                                            workspace: workspace)),
                               bits(reference), "B row-major, packed into a reused workspace, \(threads) threads, \(label)")
                XCTAssertEqual(bits(product(o, ldc: ldc, { _ in .packed(packed) }, epilogue: epilogue, options: options)),
                               bits(reference), "B packed, \(threads) threads, \(label)")
                XCTAssertEqual(bits(product(o, ldc: ldc, { _ in .packed(transposed) }, epilogue: epilogue, options: options)),
                               bits(reference), "B packed from its transpose, \(threads) threads, \(label)")
            }
            var portable = [Float](repeating: 12345, count: m * ldc)
            o.a.withUnsafeBufferPointer { pa in
                o.bias.withUnsafeBufferPointer { pbias in
                    var e = opg_gemm_epilogue(alpha: epilogue?.alpha ?? 1, beta: epilogue?.beta ?? 1,
                                              bias: epilogue?.bias == nil ? nil : pbias.baseAddress, relu: epilogue?.relu == true ? 1 : 0)
                    withUnsafePointer(to: &e) { ep in
                        opg_sgemm_panels_portable(pa.baseAddress!, o.lda, packed.storage, 16, 16 * k, &portable, ldc, m, k, 0, n,
                                                  epilogue == nil ? nil : ep)
                    }
                }
            }
            XCTAssertEqual(bits(portable), bits(reference), "portable C, \(label)")
        }
    }

    func testEdgeShapesMatchTheReferenceBitForBit() {
        var g = Generator(state: 11)
        for m in [1, 2, 3, 5, 6, 7, 13] {
            for k in [0, 1, 2, 255, 257] {
                for n in [1, 15, 16, 17, 33, 65] {
                    checkAllPaths(m: m, k: k, n: n, pad: (m + k + n) % 3 == 0 ? 0 : 3, &g)
                }
            }
        }
        // One row block and beyond (192 rows), several K blocks, both thread splits.
        checkAllPaths(m: 64, k: 784, n: 100, pad: 0, &g)
        // K just over one block of 1024: two equal blocks, the second resuming from C.
        checkAllPaths(m: 13, k: 1100, n: 33, pad: 2, &g)
        checkAllPaths(m: 200, k: 300, n: 40, pad: 1, &g)
        // The chat prompt's rows: tiles of 6, 6, 5, 5, 5, 5, 5 rather than six of 6 and one of 1.
        checkAllPaths(m: 37, k: 576, n: 50, pad: 0, &g)
        // Fewer panels than threads: the threads split the rows (the MLP's last layer).
        checkAllPaths(m: 64, k: 784, n: 10, pad: 0, &g)
        checkAllPaths(m: 61, k: 700, n: 20, pad: 1, &g)
    }

    /// The runs the threads take: contiguous, covering every panel once, never longer than
    /// the run before, the last ones a single panel (so threads finish at most one panel
    /// apart).
    func testGuidedRunsCoverEveryPanelOnceInShrinkingRuns() {
        func runs(_ units: Int, _ threads: Int) -> [Int] {
            var starts = [Int](repeating: -1, count: MatrixProduct.guidedRuns(units, threads: threads, into: nil) + 1)
            let count = starts.withUnsafeMutableBufferPointer { MatrixProduct.guidedRuns(units, threads: threads, into: $0.baseAddress) }
            XCTAssertEqual(count + 1, starts.count)
            return zip(starts.dropFirst(), starts).map { $0 - $1 }
        }
        XCTAssertEqual(runs(32, 2), [8, 6, 5, 4, 3, 2, 1, 1, 1, 1])
        XCTAssertEqual(runs(2, 2), [1, 1])
        for units in 1...300 {
            for threads in 2...4 {
                let lengths = runs(units, threads)
                XCTAssertEqual(lengths.reduce(0, +), units)
                XCTAssertTrue(lengths.allSatisfy { $0 >= 1 })
                XCTAssertEqual(lengths, lengths.sorted(by: >), "\(units) panels, \(threads) threads")
                XCTAssertEqual(lengths.last, 1)
            }
        }
    }

    func testHugeKIsOneChainAcrossManyBlocks() {
        var g = Generator(state: 12)
        checkAllPaths(m: 2, k: 40_000, n: 3, pad: 0, &g)
        checkAllPaths(m: 7, k: 20_000, n: 17, pad: 2, &g)
    }

    /// A one-node model whose B (and C) are initializers, so the session packs B at load.
    func session(_ op: String, b: Tensor, c: Tensor? = nil, attributes: [Attribute] = [], bIsAlsoAnInput: Bool = false) throws -> InferenceSession {
        let inputs = ["a", "b"] + (c == nil ? [] : ["c"])
        let initializers = [Tensor(name: "b", elementType: .float, shape: b.shape, storage: b.storage)]
            + (c.map { [Tensor(name: "c", elementType: .float, shape: $0.shape, storage: $0.storage)] } ?? [])
        let graph = Graph(name: "g", nodes: [Node(name: "n", opType: op, domain: "", inputs: inputs, outputs: ["y"], attributes: attributes)],
                          initializers: initializers,
                          inputs: [ValueInfo(name: "a", type: nil)] + (bIsAlsoAnInput ? [ValueInfo(name: "b", type: nil)] : []),
                          outputs: [ValueInfo(name: "y", type: nil)], valueInfo: [])
        let model = Model(irVersion: 8, opsetImports: [OperatorSetID(domain: "", version: 17)], producerName: "", producerVersion: "",
                          domain: "", modelVersion: 0, docString: "", metadata: [], graph: graph)
        return try InferenceSession(model: model)
    }

    func random(_ shape: [Int], _ g: inout Generator) -> Tensor {
        .float((0..<shape.reduce(1, *)).map { _ in g.float() }, shape: shape)
    }

    func assertPathsAgree(_ s: InferenceSession, _ feeds: [String: Tensor], _ label: String) throws {
        let reference = try s.run(feeds, options: RunOptions(path: .reference))[0]
        for threads in [1, 2, 3] {
            let fast = try s.run(feeds, options: RunOptions(threads: threads))[0]
            XCTAssertEqual(fast.shape, reference.shape, label)
            XCTAssertEqual(bits(try fast.floats("")), bits(try reference.floats("")), "\(label), \(threads) threads")
        }
    }

    func testGemmWithWeightsPackedAtLoadMatchesTheReference() throws {
        var g = Generator(state: 13)
        let (m, k, n) = (9, 70, 40)
        let a = random([m, k], &g)
        for transB in [0, 1] {
            let b = random(transB == 1 ? [n, k] : [k, n], &g)
            for c in [nil, random([n], &g), random([1, n], &g), random([m, n], &g), random([m, 1], &g), random([1], &g)] {
                for (alpha, beta) in [(Float(1), Float(1)), (0.5, 1), (1, 2.5), (-1.5, 0.25)] {
                    let attributes = [Attribute(name: "transB", value: .int(Int64(transB))), Attribute(name: "alpha", value: .float(alpha)),
                                      Attribute(name: "beta", value: .float(beta))]
                    let s = try session("Gemm", b: b, c: c, attributes: attributes)
                    XCTAssertNotNil(s.packedWeights[0], "B is packed at load")
                    try assertPathsAgree(s, ["a": a], "Gemm transB \(transB), C \(c?.shape ?? []), α \(alpha), β \(beta)")
                }
            }
        }
    }

    func testMatMulWithWeightsPackedAtLoadMatchesTheReference() throws {
        var g = Generator(state: 14)
        let b = random([50, 70], &g)
        let s = try session("MatMul", b: b)
        XCTAssertNotNil(s.packedWeights[0])
        for shape in [[1, 50], [13, 50], [3, 5, 50], [2, 2, 7, 50], [50]] {
            try assertPathsAgree(s, ["a": random(shape, &g)], "MatMul \(shape) × [50, 70]")
        }
    }

    /// Batched products with B computed at run time (attention) read B in place or pack it per product.
    func testBatchedMatMulMatchesTheReference() throws {
        var g = Generator(state: 15)
        for (x, y) in [([4, 16, 16], [4, 16, 16]), ([2, 3, 9, 70], [1, 3, 70, 20]), ([3, 100, 80], [80, 90]), ([5, 2, 40], [5, 40, 33])] {
            let a = random(x, &g), b = random(y, &g)
            let reference = try runOperator("MatMul", [a, b], options: RunOptions(path: .reference))[0]
            for threads in [1, 2, 3] {
                let fast = try runOperator("MatMul", [a, b], options: RunOptions(threads: threads))[0]
                XCTAssertEqual(fast.shape, reference.shape)
                XCTAssertEqual(bits(try fast.floats("")), bits(try reference.floats("")), "MatMul \(x) × \(y), \(threads) threads")
            }
        }
    }

    /// Packing pads N to a multiple of 16; a B it would pad by more than a quarter (a
    /// narrow one) is read in place, so a packed copy never costs much more than B.
    func testANarrowWeightIsNotPacked() throws {
        var g = Generator(state: 16)
        for (n, packed) in [(10, false), (17, false), (16, true), (40, true), (100, true)] {
            let s = try session("MatMul", b: random([30, n], &g))
            XCTAssertEqual(s.packedWeights[0] != nil, packed, "N = \(n)")
            try assertPathsAgree(s, ["a": random([20, 30], &g)], "MatMul [20, 30] × [30, \(n)]")
        }
    }

    /// An initializer that is also a graph input may be replaced by a feed, so it is not
    /// packed at load: the feed's values are the ones multiplied.
    func testAFedWeightIsNotPacked() throws {
        let s = try session("MatMul", b: .float([1, 2, 3, 4], shape: [2, 2]), bIsAlsoAnInput: true)
        XCTAssertNil(s.packedWeights[0])
        let a = Tensor.float([1, 1], shape: [1, 2])
        XCTAssertEqual(try s.run(["a": a])[0].floats(""), [4, 6])
        XCTAssertEqual(try s.run(["a": a, "b": .float([1, 0, 0, 1], shape: [2, 2])])[0].floats(""), [1, 1])
    }
}
