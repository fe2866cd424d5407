import CKernels
import Dispatch

/// Which implementation of the spec runs. Both give the same bits; tests run both.
public enum KernelPath: Sendable {
    /// The plain Swift reference: loops written as docs/determinism.md states them.
    case reference
    /// Packed SIMD kernels (AVX2/FMA when the CPU has them, portable C otherwise) on threads.
    case fast
}

/// How a model is run. No option changes the result.
public struct RunOptions: Sendable {
    public var threads: Int
    public var path: KernelPath

    public init(threads: Int = 1, path: KernelPath = .fast) {
        self.threads = max(1, threads)
        self.path = path
    }
}

/// The right operand B (K×N) of a matrix product packed into the fast kernel's layout:
/// panels of 16 columns, each K×16 contiguous, zero past column N. A model's constant
/// weights are packed once, when the session is loaded, so runs only read them.
public final class PackedMatrix: @unchecked Sendable {
    /// K, the rows of B.
    public let rows: Int
    /// N, the columns of B.
    public let columns: Int
    let storage: UnsafeMutablePointer<Float>

    /// Packs B (K×N) read with the given strides: B(k, j) = `b[k * rowStride + j * columnStride]`
    /// (a row-major B has strides (N, 1); its transpose, stored N×K, has (1, K)).
    public init(_ b: UnsafePointer<Float>, rows: Int, columns: Int, rowStride: Int, columnStride: Int) {
        self.rows = rows
        self.columns = columns
        storage = cacheLineAligned(max(1, opg_sgemm_packed_size(rows, columns)))
        opg_sgemm_pack_b(b, rowStride, columnStride, rows, columns, storage)
    }

    deinit { storage.deallocate() }

    /// True when packing N columns pads them by at most a quarter (N rounded up to 16),
    /// so a packed copy never costs much more memory than B itself; a narrower B is read
    /// in place (its rows are close together anyway).
    static func isCompact(columns n: Int) -> Bool { (n + 15) / 16 * 16 <= n + n / 4 }
}

/// Floats starting on a 64-byte boundary, so that each 16-float row of a packed panel is
/// one cache line and no 8-lane load straddles two.
private func cacheLineAligned(_ count: Int) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
        .bindMemory(to: Float.self, capacity: count)
}

/// Scratch memory that a run's kernels reuse (B packed at run time): it grows to the
/// largest size asked for and is then kept, so a session's runs stop allocating it. One
/// run uses a workspace at a time (the session hands each concurrent run its own).
final class Workspace: @unchecked Sendable {
    private var buffer: UnsafeMutablePointer<Float>? = nil
    private var capacity = 0

    /// At least `count` floats, valid until the next call.
    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if let buffer, capacity >= count { return buffer }
        buffer?.deallocate()
        capacity = max(count, 2 * capacity)
        let fresh = cacheLineAligned(capacity)
        buffer = fresh
        return fresh
    }

    deinit { buffer?.deallocate() }
}

/// What Gemm does to each finished chain of column j: `t = acc`; `t = α·t` when α ≠ 1;
/// `t = t + β·bias[j]` with a bias (one value per column); `t = rectified(t)` when a Relu
/// node is fused into the product.
struct GemmEpilogue {
    var alpha: Float = 1
    var beta: Float = 1
    var bias: UnsafePointer<Float>? = nil
    var relu = false

    /// The epilogue applied to one finished chain, as the reference path and the spec state it.
    func apply(_ acc: Float, column j: Int) -> Float {
        var t = acc
        if alpha != 1 { t = alpha * t }
        if let bias { t = t + beta * bias[j] }
        return relu ? rectified(t) : t
    }
}

/// Relu on one value: x when x > 0 or x is a NaN, else +0 (−0 included).
@inline(__always)
func rectified(_ x: Float) -> Float { x > 0 ? x : (x.isNaN ? x : 0) }

public enum MatrixProduct {
    /// True when the CPU has AVX2 and FMA (checked once).
    public static let hasAVX2FMA: Bool = opg_cpu_has_avx2_fma() == 1

    /// Below this many multiply-accumulates a product runs on one thread (waking another
    /// costs more than it saves).
    static let parallelWork = 1 << 18

    /// C = A·B for row-major A (M×K) and B (K×N): each C[i][j] is the chain
    /// acc ← fma(A[i][k], B[k][j], acc), k = 0…K−1, from acc = +0.
    public static func multiply(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                                m: Int, k: Int, n: Int, options: RunOptions) {
        multiply(a, lda: k, .rowMajor(b, ldb: n), c, ldc: n, m: m, k: k, n: n, epilogue: nil, options: options, workspace: nil)
    }

    /// Where the fast path reads B from.
    enum RightOperand {
        /// Row-major with leading dimension `ldb`.
        case rowMajor(UnsafePointer<Float>, ldb: Int)
        /// Packed at load.
        case packed(PackedMatrix)
    }

    /// C = A·B then the epilogue, for A (M×K, leading dimension lda) and C (M×N, leading
    /// dimension ldc). The reference path takes a row-major B only. A B packed at run time
    /// goes into `workspace` (a temporary buffer without one).
    static func multiply(_ a: UnsafePointer<Float>, lda: Int, _ b: RightOperand, _ c: UnsafeMutablePointer<Float>, ldc: Int,
                         m: Int, k: Int, n: Int, epilogue: GemmEpilogue?, options: RunOptions, workspace: Workspace?) {
        guard m > 0, n > 0 else { return }
        switch (options.path, b) {
        case (.reference, .rowMajor(let b, let ldb)):
            for i in 0..<m {
                for j in 0..<n {
                    var acc: Float = 0
                    for p in 0..<k { acc = acc.addingProduct(a[i * lda + p], b[p * ldb + j]) }
                    c[i * ldc + j] = epilogue?.apply(acc, column: j) ?? acc
                }
            }
        case (.reference, .packed):
            preconditionFailure("the reference path reads B as the model gives it, never packed")
        case (.fast, .packed(let packed)):
            fast(a, lda: lda, packed.storage, rowStride: 16, panelStride: 16 * k, c, ldc: ldc, m: m, k: k, n: n,
                 epilogue: epilogue, threads: options.threads)
        case (.fast, .rowMajor(let b, let ldb)):
            // B is read in place when one tile of rows uses each element (up to 6 rows) or
            // when a K block (up to 256) of its rows fits in L1 anyway; otherwise it is
            // packed first, so a panel's rows sit in consecutive cache lines instead of
            // `ldb` apart (which maps them onto a few L1 sets).
            if m <= 6 || min(k, 256) * ldb <= 4096 || !PackedMatrix.isCompact(columns: n) {
                fast(a, lda: lda, b, rowStride: ldb, panelStride: 16, c, ldc: ldc, m: m, k: k, n: n,
                     epilogue: epilogue, threads: options.threads)
                return
            }
            let scratch = workspace ?? Workspace()
            withExtendedLifetime(scratch) {
                let packed = scratch.floats(opg_sgemm_packed_size(k, n))
                opg_sgemm_pack_b(b, ldb, 1, k, n, packed)
                fast(a, lda: lda, packed, rowStride: 16, panelStride: 16 * k, c, ldc: ldc, m: m, k: k, n: n,
                     epilogue: epilogue, threads: options.threads)
            }
        }
    }

    /// The C kernel on `threads` threads. The 16-column panels are cut into contiguous runs
    /// of decreasing length (`guidedRuns`), which the threads take in order as they come
    /// free: the long first runs cost few part switches, the short last ones leave at most
    /// one panel's time between the threads' finishes (even runs of an eighth of the product
    /// left up to an eighth idle on one thread), and a thread that starts late leaves its
    /// share to the others. When there are fewer panels than threads (a narrow N), the 6-row
    /// tiles are cut into up to 4 even runs per thread instead. Every output is computed by
    /// exactly one thread, in the same way.
    private static func fast(_ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, rowStride: Int, panelStride: Int,
                             _ c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, k: Int, n: Int, epilogue: GemmEpilogue?,
                             threads: Int) {
        let avx: Int32 = hasAVX2FMA ? 1 : 0
        var e = opg_gemm_epilogue(alpha: epilogue?.alpha ?? 1, beta: epilogue?.beta ?? 1, bias: epilogue?.bias,
                                  relu: epilogue?.relu == true ? 1 : 0)
        let panels = (n + 15) / 16, tiles = (m + 5) / 6
        let splitRows = panels < threads
        let serial = threads == 1 || m * n * max(k, 1) < parallelWork
        withUnsafePointer(to: &e) { ep in
            let ep = epilogue == nil ? nil : ep
            if serial {
                opg_sgemm_panels(a, lda, b, rowStride, panelStride, c, ldc, m, k, 0, n, ep, avx)
                return
            }
            nonisolated(unsafe) let (pa, pb, pc, pe) = (a, b, c, ep)
            if splitRows {
                let parts = min(4 * threads, tiles)
                WorkerPool.perform(parts: parts, threads: threads) { t in
                    let i0 = min(m, t * tiles / parts * 6), i1 = min(m, (t + 1) * tiles / parts * 6)
                    opg_sgemm_panels(pa + i0 * lda, lda, pb, rowStride, panelStride, pc + i0 * ldc, ldc, i1 - i0, k, 0, n, pe, avx)
                }
                return
            }
            withUnsafeTemporaryAllocation(of: Int.self, capacity: guidedRuns(panels, threads: threads, into: nil) + 1) { starts in
                let parts = guidedRuns(panels, threads: threads, into: starts.baseAddress)
                nonisolated(unsafe) let starts = starts
                WorkerPool.perform(parts: parts, threads: threads) { t in
                    let j0 = starts[t] * 16, j1 = min(n, starts[t + 1] * 16)
                    opg_sgemm_panels(pa, lda, pb, rowStride, panelStride, pc, ldc, m, k, j0, j1, pe, avx)
                }
            }
        }
    }

    /// Cuts `units` panels into runs for `threads` threads, each a quarter (for two threads;
    /// 1 / 2·threads) of what is left, at least one: 32 panels on 2 threads are runs of 8, 6,
    /// 5, 4, 3, 2, 1, 1, 1, 1. Writes the runs' first panels and, after them, `units` to
    /// `starts` (when given) and returns the number of runs.
    static func guidedRuns(_ units: Int, threads: Int, into starts: UnsafeMutablePointer<Int>?) -> Int {
        var runs = 0, next = 0
        while next < units {
            starts?[runs] = next
            next += max(1, (units - next + 2 * threads - 1) / (2 * threads))
            runs += 1
        }
        starts?[runs] = units
        return runs
    }

    /// The same product on arrays.
    public static func multiply(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int, options: RunOptions) -> [Float] {
        precondition(a.count == m * k && b.count == k * n)
        return [Float](unsafeUninitializedCapacity: m * n) { c, count in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    product(pa.baseAddress, pb.baseAddress, c.baseAddress, m: m, k: k, n: n) { pa, pb, pc in
                        multiply(pa, pb, pc, m: m, k: k, n: n, options: options)
                    }
                }
            }
            count = m * n
        }
    }

    /// Only the portable C path (for tests on machines with AVX2).
    public static func multiplyPortable(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
        precondition(a.count == m * k && b.count == k * n)
        return [Float](unsafeUninitializedCapacity: m * n) { c, count in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    product(pa.baseAddress, pb.baseAddress, c.baseAddress, m: m, k: k, n: n) { pa, pb, pc in
                        opg_sgemm_panels_portable(pa, k, pb, n, 16, pc, n, m, k, 0, n, nil)
                    }
                }
            }
            count = m * n
        }
    }

    /// Runs `body` on the operands' addresses when the product is not empty; an empty sum
    /// (K = 0) is +0.
    private static func product(_ a: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?, _ c: UnsafeMutablePointer<Float>?,
                                m: Int, k: Int, n: Int,
                                _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        guard m * n > 0, let c else { return }
        guard k > 0, let a, let b else { c.initialize(repeating: 0, count: m * n); return }
        body(a, b, c)
    }
}
