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

public enum MatrixProduct {
    /// True when the CPU has AVX2 and FMA (checked once).
    public static let hasAVX2FMA: Bool = opg_cpu_has_avx2_fma() == 1

    /// C = A·B for row-major A (M×K) and B (K×N): each C[i][j] is the chain
    /// acc ← fma(A[i][k], B[k][j], acc), k = 0…K−1, from acc = +0.
    public static func multiply(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                                m: Int, k: Int, n: Int, options: RunOptions) {
        switch options.path {
        case .reference:
            for i in 0..<m {
                for j in 0..<n {
                    var acc: Float = 0
                    for p in 0..<k { acc = acc.addingProduct(a[i * k + p], b[p * n + j]) }
                    c[i * n + j] = acc
                }
            }
        case .fast:
            let avx = hasAVX2FMA ? Int32(1) : 0
            let work = m * n * max(k, 1)
            let threads = work < 1 << 16 ? 1 : min(options.threads, max(1, n / 16))
            if threads == 1 {
                opg_sgemm(a, b, c, m, k, n, k, n, n, 0, n, avx)
                return
            }
            // Split the columns into 16-aligned ranges; every output is computed the same way.
            let panels = (n + 15) / 16
            let bounds = (0...threads).map { min(n, ($0 * panels / threads) * 16) }
            nonisolated(unsafe) let (pa, pb, pc) = (a, b, c)
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                opg_sgemm(pa, pb, pc, m, k, n, k, n, n, bounds[t], bounds[t + 1], avx)
            }
        }
    }

    /// The same product on arrays.
    public static func multiply(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int, options: RunOptions) -> [Float] {
        precondition(a.count == m * k && b.count == k * n)
        var c = [Float](repeating: 0, count: m * n)
        guard m * n > 0, k > 0 else { return c }  // an empty sum is +0
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    multiply(pa.baseAddress!, pb.baseAddress!, pc.baseAddress!, m: m, k: k, n: n, options: options)
                }
            }
        }
        return c
    }

    /// Only the portable C path (for tests on machines with AVX2).
    public static func multiplyPortable(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        guard m * n > 0, k > 0 else { return c }
        opg_sgemm_portable(a, b, &c, m, k, n, k, n, n, 0, n)
        return c
    }
}
