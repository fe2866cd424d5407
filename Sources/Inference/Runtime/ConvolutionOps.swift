import CKernels
import Dispatch

/// Conv, pooling and the normalisations. Conv's dot products run over input channels,
/// then kernel positions in row-major order, one fma chain per output from +0 with
/// padded positions contributing fma(0, w, acc); the bias is added last. The fast path
/// (`DirectConvolution`) runs the same chains in C on zero-padded copies of the input.

/// Spatial geometry of a convolution or pooling window.
struct WindowGeometry {
    let inSize: [Int], kernel: [Int], strides: [Int], dilations: [Int]
    let padBegin: [Int], padEnd: [Int], outSize: [Int]

    init(_ ctx: OpContext, inSize: [Int], kernel: [Int], ceilMode: Bool = false) throws {
        let k = inSize.count
        self.inSize = inSize
        self.kernel = kernel
        let strides = try ctx.ints("strides")?.map(Int.init) ?? [Int](repeating: 1, count: k)
        let dilations = try ctx.ints("dilations")?.map(Int.init) ?? [Int](repeating: 1, count: k)
        guard kernel.count == k, strides.count == k, dilations.count == k else {
            throw ctx.error("kernel_shape, strides and dilations must have one value per spatial axis (\(k))")
        }
        guard strides.allSatisfy({ $0 > 0 && $0 <= 1 << 20 }), dilations.allSatisfy({ $0 > 0 && $0 <= 1 << 20 }),
              kernel.allSatisfy({ $0 > 0 && $0 <= 1 << 20 }) else {
            throw ctx.error("kernel_shape, strides and dilations must be in 1…2^20")
        }
        self.strides = strides
        self.dilations = dilations
        let autoPad = try ctx.string("auto_pad", "NOTSET")
        var pb = [Int](repeating: 0, count: k), pe = [Int](repeating: 0, count: k), out = [Int](repeating: 0, count: k)
        for d in 0..<k {
            let span = (kernel[d] - 1) * dilations[d] + 1
            switch autoPad {
            case "NOTSET", "":
                let pads = try ctx.ints("pads")?.map(Int.init) ?? [Int](repeating: 0, count: 2 * k)
                guard pads.count == 2 * k, pads.allSatisfy({ $0 >= 0 && $0 <= 1 << 20 }) else { throw ctx.error("pads must have \(2 * k) values in 0…2^20") }
                pb[d] = pads[d]; pe[d] = pads[d + k]
                let room = inSize[d] + pb[d] + pe[d] - span
                guard room >= 0 else { throw ctx.error("the window (\(span)) is larger than the padded input (\(inSize[d] + pb[d] + pe[d])) on spatial axis \(d)") }
                if ceilMode {
                    var o = (room + strides[d] - 1) / strides[d] + 1
                    if (o - 1) * strides[d] >= inSize[d] + pb[d] { o -= 1 }
                    out[d] = o
                } else {
                    out[d] = room / strides[d] + 1
                }
            case "SAME_UPPER", "SAME_LOWER":
                out[d] = (inSize[d] + strides[d] - 1) / strides[d]
                let total = max((out[d] - 1) * strides[d] + span - inSize[d], 0)
                pb[d] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
                pe[d] = total - pb[d]
            case "VALID":
                guard inSize[d] >= span else { throw ctx.error("the window (\(span)) is larger than the input (\(inSize[d])) on spatial axis \(d)") }
                out[d] = (inSize[d] - span) / strides[d] + 1
            default: throw ctx.error("auto_pad '\(autoPad)' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID")
            }
        }
        padBegin = pb; padEnd = pe; outSize = out
    }

    /// For each kernel position kp and output position o (both row-major), the input
    /// offset within one channel plane at [kp · outCount + o], or −1 where the window reads
    /// padding. Built one spatial axis at a time (an offset is a sum over the axes).
    func offsets() -> [Int32] {
        let inStrides = Shape.strides(inSize)
        var table: [Int32] = [0]
        var kernelSoFar = 1, outSoFar = 1
        for d in 0..<inSize.count {
            let (kd, od) = (kernel[d], outSize[d])
            var next = [Int32](repeating: -1, count: table.count * kd * od)
            for kp in 0..<kernelSoFar {
                for k in 0..<kd {
                    for o in 0..<outSoFar {
                        let base = table[kp * outSoFar + o]
                        guard base >= 0 else { continue }
                        let row = ((kp * kd + k) * outSoFar + o) * od
                        for i in 0..<od {
                            let position = i * strides[d] - padBegin[d] + k * dilations[d]
                            if position >= 0 && position < inSize[d] { next[row + i] = base + Int32(position * inStrides[d]) }
                        }
                    }
                }
            }
            table = next
            kernelSoFar *= kd
            outSoFar *= od
        }
        return table
    }
}

/// The fast path of Conv (conv_kernels.h): each sample's input planes are copied once
/// into zero-padded planes, so every window position is a plain offset — the kernel
/// position's offset plus the output position's — and a padded position reads a 0 and
/// contributes fma(0, w, acc) exactly as the reference does. The weights of each group
/// are transposed so that SIMD lanes hold different output channels. Everything here
/// depends only on the attributes, the input's spatial shape and the weights, so a Conv
/// with constant weights and a known input shape builds it once, at load
/// (`preparedConvolution`), and its runs only read it.
final class DirectConvolution: @unchecked Sendable {
    let geo: WindowGeometry
    let channels: Int, groups: Int, outputChannels: Int
    let paddedPlane: Int
    let kernelOffsets: [Int32], outputOffsets: [Int32]
    /// Where each input row (the last axis) starts in its padded plane.
    let rowStarts: [Int32]
    /// The weights of each group, transposed: [(g · depth + ic · kCount + kp) · mp + oc], mp = mg rounded up to 8.
    let transposedWeights: [Float]

    /// Nil when a sample's padded planes (all groups) would exceed 2^24 elements (huge pads)
    /// or there are no input channels: the reference runs then. `w` holds groups · mg
    /// output channels of `channels` × kernel positions each.
    init?(_ geo: WindowGeometry, channels: Int, groups: Int, weights w: [Float], outputChannels mg: Int) {
        guard channels > 0 else { return nil }
        let rank = geo.inSize.count
        let padded = (0..<rank).map { geo.inSize[$0] + geo.padBegin[$0] + geo.padEnd[$0] }
        var elements = channels * groups  // checked axis by axis: each factor is at most 2^24, so no product overflows
        guard elements <= 1 << 24 else { return nil }
        for size in padded {
            guard size <= 1 << 24 else { return nil }
            elements *= size
            guard elements <= 1 << 24 else { return nil }
        }
        self.geo = geo
        self.channels = channels
        self.groups = groups
        outputChannels = mg
        paddedPlane = Shape.count(padded)
        let strides = Shape.strides(padded)
        kernelOffsets = Self.offsets(extent: geo.kernel, step: (0..<rank).map { geo.dilations[$0] * strides[$0] })
        outputOffsets = Self.offsets(extent: geo.outSize, step: (0..<rank).map { geo.strides[$0] * strides[$0] })
        let rowLength = geo.inSize.last!, plane = Shape.count(geo.inSize)
        rowStarts = (0..<(plane / max(rowLength, 1))).map { row in
            var rem = row, offset = geo.padBegin[rank - 1]
            for d in stride(from: rank - 2, through: 0, by: -1) {
                offset += (rem % geo.inSize[d] + geo.padBegin[d]) * strides[d]
                rem /= geo.inSize[d]
            }
            return Int32(offset)
        }
        let depth = channels * kernelOffsets.count, mp = (mg + 7) / 8 * 8
        transposedWeights = [Float](unsafeUninitializedCapacity: groups * depth * mp) { t, count in
            t.initialize(repeating: 0)
            w.withUnsafeBufferPointer { w in
                for g in 0..<groups {
                    for oc in 0..<mg { for k in 0..<depth { t[(g * depth + k) * mp + oc] = w[(g * mg + oc) * depth + k] } }
                }
            }
            count = groups * depth * mp
        }
    }

    /// Σ i_d · step_d for every index i of `extent`, row-major.
    static func offsets(extent: [Int], step: [Int]) -> [Int32] {
        var result: [Int32] = [0]
        for d in 0..<extent.count {
            var next = [Int32]()
            next.reserveCapacity(result.count * extent[d])
            for base in result { for i in 0..<extent[d] { next.append(base + Int32(i * step[d])) } }
            result = next
        }
        return result
    }

    func run(_ x: [Float], _ bias: [Float]?, relu: Bool, into out: inout [Float], samples n: Int, threads: Int) {
        let (cg, groups, mg) = (channels, self.groups, outputChannels)
        let c = cg * groups, kCount = kernelOffsets.count, outCount = outputOffsets.count
        let depth = cg * kCount, mp = (mg + 7) / 8 * 8, plane = Shape.count(geo.inSize)
        let rowLength = geo.inSize.last!, paddedPlane = self.paddedPlane
        let avx = MatrixProduct.hasAVX2FMA ? Int32(1) : 0
        // Runs of samples, up to 4 per thread, taken by the threads as they come free.
        let workers = threads > 1 && n > 1 && n * mg * groups * outCount * depth >= 1 << 16 ? min(4 * threads, n) : 1
        let hasBias = bias != nil, fusedRelu: Int32 = relu ? 1 : 0
        x.withUnsafeBufferPointer { xs in
        (bias ?? []).withUnsafeBufferPointer { bs in
        transposedWeights.withUnsafeBufferPointer { wt in
        kernelOffsets.withUnsafeBufferPointer { koff in
        outputOffsets.withUnsafeBufferPointer { ooff in
        rowStarts.withUnsafeBufferPointer { starts in
        out.withUnsafeMutableBufferPointer { o in
            nonisolated(unsafe) let (xs, bs, wt, koff, ooff, starts, o) = (xs, bs, wt, koff, ooff, starts, o)
            let sampleRange = { (worker: Int) in (worker * n / workers)..<((worker + 1) * n / workers) }
            WorkerPool.perform(parts: workers, threads: threads) { worker in
                var padded = [Float](repeating: 0, count: c * paddedPlane)
                padded.withUnsafeMutableBufferPointer { xp in
                    for b in sampleRange(worker) {
                        for ch in 0..<c where plane > 0 {
                            opg_copy_rows(xs.baseAddress! + (b * c + ch) * plane, starts.count, rowLength, starts.baseAddress!,
                                          xp.baseAddress! + ch * paddedPlane, avx)
                        }
                        for g in 0..<groups {
                            let outBase = (b * groups * mg + g * mg) * outCount
                            opg_conv_direct(xp.baseAddress! + g * cg * paddedPlane, cg, paddedPlane, koff.baseAddress!, kCount,
                                            ooff.baseAddress!, outCount, wt.baseAddress! + g * depth * mp, mg,
                                            hasBias ? bs.baseAddress! + g * mg : nil, fusedRelu, o.baseAddress! + outBase, avx)
                        }
                    }
                }
            }
        }}}}}}}
    }
}

/// The fast Conv of a node whose weights are a constant (no feed can replace them) and
/// whose input's spatial shape is known at load, built once when the session is loaded;
/// nil when either is not known or the node would fail (its run reports the error).
func preparedConvolution(_ ctx: OpContext, input: [ShapeDimension]?, weights: Tensor) -> DirectConvolution? {
    guard ctx.node.domain.isEmpty || ctx.node.domain == "ai.onnx", ctx.node.opType == "Conv",
          let input, input.count >= 3, weights.rank == input.count, case .float(let w) = weights.storage else { return nil }
    let spatial = input.dropFirst(2).compactMap(\.value)
    guard spatial.count == input.count - 2, let group = try? Int(ctx.int("group", 1)), group >= 1,
          weights.shape[0] % group == 0 else { return nil }
    let kernel = Array(weights.shape[2...])
    guard (try? ctx.ints("kernel_shape"))?.map(Int.init) ?? kernel == kernel,
          let geo = try? WindowGeometry(ctx, inSize: spatial, kernel: kernel) else { return nil }
    return DirectConvolution(geo, channels: weights.shape[1], groups: group, weights: w, outputChannels: weights.shape[0] / group)
}

func conv(_ ctx: OpContext, _ inputs: [Tensor?]) throws -> Tensor {
    let xT = try ctx.input(inputs, 0), wT = try ctx.input(inputs, 1)
    let x = try xT.floats("Conv"), w = try wT.floats("Conv")
    guard xT.rank >= 3, wT.rank == xT.rank else { throw ctx.error("X \(xT.shape) and W \(wT.shape) must have the same rank, at least 3") }
    let group = Int(try ctx.int("group", 1))
    let n = xT.shape[0], c = xT.shape[1], m = wT.shape[0], cg = wT.shape[1]
    guard group >= 1, c % group == 0, m % group == 0, cg == c / group else {
        throw ctx.error("channels do not match: X has \(c), W expects \(cg) per group × \(group) groups")
    }
    let kernel = try ctx.ints("kernel_shape")?.map(Int.init) ?? Array(wT.shape[2...])
    guard kernel == Array(wT.shape[2...]) else { throw ctx.error("kernel_shape \(kernel) differs from W's \(Array(wT.shape[2...]))") }
    // Built at load for this input shape and these weights, or else now.
    let prepared = ctx.options.path == .fast ? ctx.convolution.flatMap { $0.geo.inSize.elementsEqual(xT.shape[2...]) ? $0 : nil } : nil
    let geo = try prepared?.geo ?? WindowGeometry(ctx, inSize: Array(xT.shape[2...]), kernel: kernel)
    var bias: [Float]? = nil
    if let b = ctx.optionalInput(inputs, 2) {
        bias = try b.floats("Conv")
        guard bias!.count == m else { throw ctx.error("B has \(bias!.count) values for \(m) output channels") }
    }
    let kCount = Shape.count(kernel), outCount = Shape.count(geo.outSize), plane = Shape.count(geo.inSize)
    let mg = m / group, depth = cg * kCount
    if ctx.options.path == .fast, n * m * outCount > 0,
       let direct = prepared ?? DirectConvolution(geo, channels: cg, groups: group, weights: w, outputChannels: mg) {
        // Every element is written by the kernel.
        var out = [Float](unsafeUninitializedCapacity: n * m * outCount) { $1 = n * m * outCount }
        direct.run(x, bias, relu: ctx.fusedRelu, into: &out, samples: n, threads: ctx.options.threads)
        return .float(out, shape: [n, m] + geo.outSize)
    }
    var out = [Float](repeating: 0, count: n * m * outCount)
    // The reference (and the fast path's fallback when a padded plane would be too large).
    let offsets = geo.offsets()
    for b in 0..<n {
        for g in 0..<group {
            let xBase = (b * c + g * cg) * plane
            let outBase = (b * m + g * mg) * outCount
            for oc in 0..<mg {
                let wBase = (g * mg + oc) * depth
                for o in 0..<outCount {
                    var acc: Float = 0
                    for ic in 0..<cg {
                        for kp in 0..<kCount {
                            let off = Int(offsets[kp * outCount + o])
                            let value: Float = off < 0 ? 0 : x[xBase + ic * plane + off]
                            acc = acc.addingProduct(value, w[wBase + ic * kCount + kp])
                        }
                    }
                    out[outBase + oc * outCount + o] = acc
                }
            }
        }
    }
    if let bias {
        out.withUnsafeMutableBufferPointer { o in
            for b in 0..<n {
                for oc in 0..<m {
                    let base = (b * m + oc) * outCount, v = bias[oc]
                    for e in 0..<outCount { o[base + e] = o[base + e] + v }
                }
            }
        }
    }
    if ctx.fusedRelu { for i in out.indices { out[i] = rectified(out[i]) } }
    return .float(out, shape: [n, m] + geo.outSize)
}

func pool(_ ctx: OpContext, _ inputs: [Tensor?], max isMax: Bool) throws -> [Tensor] {
    let xT = try ctx.input(inputs, 0)
    let x = try xT.floats(ctx.node.opType)
    guard xT.rank >= 3 else { throw ctx.error("X must have rank at least 3, got \(xT.shape)") }
    guard let kernel = try ctx.ints("kernel_shape")?.map(Int.init) else { throw ctx.error("attribute 'kernel_shape' is required") }
    if !isMax, ctx.opset < 19, ctx.node.attribute("dilations") != nil, try ctx.ints("dilations")!.contains(where: { $0 != 1 }) {
        throw ctx.error("dilations need AveragePool opset 19")
    }
    let geo = try WindowGeometry(ctx, inSize: Array(xT.shape[2...]), kernel: kernel, ceilMode: try ctx.int("ceil_mode", 0) == 1)
    let includePad = try ctx.int("count_include_pad", 0) == 1
    let storageOrder = try ctx.int("storage_order", 0)
    let n = xT.shape[0], c = xT.shape[1]
    let wantsIndices = isMax && ctx.node.outputs.count > 1 && !ctx.node.outputs[1].isEmpty
    if isMax, !wantsIndices, ctx.options.path == .fast, geo.kernel == [2, 2], geo.strides == [2, 2], geo.dilations == [1, 1],
       geo.inSize.allSatisfy({ $0 % 2 == 0 }), geo.outSize == geo.inSize.map({ $0 / 2 }), (geo.padBegin + geo.padEnd).allSatisfy({ $0 == 0 }) {
        // The common 2 × 2 / 2 max pool, values only: plain loads instead of offset tables and gathers.
        let count = n * c * Shape.count(geo.outSize)
        var out = [Float](unsafeUninitializedCapacity: count) { $1 = count }  // every element written below
        if count > 0 {
            opg_max_pool_2x2(x, n * c, geo.inSize[0], geo.inSize[1], &out, MatrixProduct.hasAVX2FMA ? 1 : 0)
        }
        return [.float(out, shape: [n, c] + geo.outSize)]
    }
    let offsets = geo.offsets()
    let kCount = Shape.count(kernel), outCount = Shape.count(geo.outSize), plane = Shape.count(geo.inSize)
    // For count_include_pad: window positions inside the padded extent (not beyond it).
    var padded = [Int](repeating: kCount, count: outCount)
    if includePad && !isMax {
        let rank = geo.inSize.count
        var op = [Int](repeating: 0, count: rank)
        for o in 0..<outCount {
            var total = 1
            for d in 0..<rank {
                var inside = 0
                for k in 0..<kernel[d] {
                    let p = op[d] * geo.strides[d] - geo.padBegin[d] + k * geo.dilations[d]
                    if p >= -geo.padBegin[d] && p < geo.inSize[d] + geo.padEnd[d] { inside += 1 }
                }
                total *= inside
            }
            padded[o] = total
            var d = rank - 1
            while d >= 0 { op[d] += 1; if op[d] < geo.outSize[d] { break }; op[d] = 0; d -= 1 }
        }
    }
    var out = [Float](repeating: 0, count: n * c * outCount)
    // Max: the winning position within its plane (−1 when the window reads only padding).
    var best = [Int32](repeating: -1, count: isMax ? out.count : 0)
    let avx = MatrixProduct.hasAVX2FMA ? Int32(1) : 0
    x.withUnsafeBufferPointer { x in
    offsets.withUnsafeBufferPointer { offs in
    out.withUnsafeMutableBufferPointer { out in
    best.withUnsafeMutableBufferPointer { best in
        if ctx.options.path == .fast && !out.isEmpty && plane > 0 {
            if isMax {
                opg_max_pool(x.baseAddress!, n * c, plane, offs.baseAddress!, kCount, outCount, out.baseAddress!, best.baseAddress!, avx)
            } else {
                let divisors = padded.map { Int32($0) }
                divisors.withUnsafeBufferPointer { d in
                    opg_average_pool(x.baseAddress!, n * c, plane, offs.baseAddress!, kCount, outCount,
                                     includePad ? d.baseAddress! : nil, out.baseAddress!, avx)
                }
            }
            return
        }
        for nc in 0..<(n * c) {
            let base = nc * plane
            for o in 0..<outCount {
                if isMax {
                    // The first maximum in window order; a NaN is the maximum (and ends the search).
                    var bestValue: Float = -.infinity
                    var bestOffset: Int32 = -1
                    for kp in 0..<kCount {
                        let off = offs[kp * outCount + o]
                        guard off >= 0 else { continue }
                        let v = x[base + Int(off)]
                        if bestOffset < 0 || v > bestValue || v.isNaN {
                            bestValue = v
                            bestOffset = off
                            if v.isNaN { break }
                        }
                    }
                    out[nc * outCount + o] = bestValue
                    best[nc * outCount + o] = bestOffset
                } else {
                    var acc: Float = 0
                    var count = 0
                    for kp in 0..<kCount {
                        let off = offs[kp * outCount + o]
                        guard off >= 0 else { continue }
                        acc = acc + x[base + Int(off)]
                        count += 1
                    }
                    out[nc * outCount + o] = acc / Float(includePad ? padded[o] : count)
                }
            }
        }
    }
    }
    }
    }
    let shape = [n, c] + geo.outSize
    // MaxPool's Indices output, only when the node asks for it.
    guard wantsIndices else { return [.float(out, shape: shape)] }
    var indices = [Int64](repeating: 0, count: best.count)
    let inStrides = Shape.strides(geo.inSize)
    for i in 0..<best.count {
        let position = Int(best[i])
        var index = max(position, 0)
        if storageOrder == 1 && position >= 0 {
            // Column-major position within the plane.
            var rem = position, colMajor = 0, scale = 1
            var coords = [Int](repeating: 0, count: geo.inSize.count)
            for d in 0..<geo.inSize.count { coords[d] = rem / inStrides[d]; rem %= inStrides[d] }
            for d in 0..<geo.inSize.count { colMajor += coords[d] * scale; scale *= geo.inSize[d] }
            index = colMajor
        }
        indices[i] = Int64((i / max(outCount, 1)) * plane + index)
    }
    return [.float(out, shape: shape), .int64(indices, shape: shape)]
}

func globalPool(_ ctx: OpContext, _ inputs: [Tensor?], max isMax: Bool) throws -> Tensor {
    let xT = try ctx.input(inputs, 0)
    let x = try xT.floats(ctx.node.opType)
    guard xT.rank >= 2 else { throw ctx.error("X must have rank at least 2, got \(xT.shape)") }
    let plane = Shape.count(Array(xT.shape[2...])), planes = xT.shape[0] * xT.shape[1]
    var out: [Float]
    if ctx.options.path == .fast && planes > 0 && plane > 0 {
        out = [Float](repeating: 0, count: planes)
        opg_global_pool(x, planes, plane, isMax ? 1 : 0, &out, MatrixProduct.hasAVX2FMA ? 1 : 0)
    } else {
        out = (0..<planes).map { nc in
            var acc: Float = isMax ? -.infinity : 0
            for k in 0..<plane { acc = isMax ? nanPropagatingMax(acc, x[nc * plane + k]) : acc + x[nc * plane + k] }
            return isMax ? acc : acc / Float(plane)
        }
    }
    return .float(out, shape: Array(xT.shape[..<2]) + [Int](repeating: 1, count: xT.rank - 2))
}

/// Softmax / LogSoftmax / Hardmax over rows: opset < 13 flattens to 2-D at `axis`
/// (default 1), opset ≥ 13 uses the single axis (default −1). Softmax: m = max row;
/// e_i = exp(x_i − m); s = Σ e_i left to right; y_i = e_i / s. LogSoftmax: (x_i − m) − log s.
func softmaxFamily(_ ctx: OpContext, _ inputs: [Tensor?], kind: String) throws -> Tensor {
    let xT = try ctx.input(inputs, 0)
    let x = try xT.floats(kind)
    let modern = ctx.opset >= 13
    let axis = try Shape.axis(try ctx.int("axis", modern ? -1 : 1), rank: xT.rank, op: ctx.label)
    let outer = Shape.count(Array(xT.shape[..<axis]))
    let n = modern ? xT.shape[axis] : Shape.count(Array(xT.shape[axis...]))
    let inner = modern ? Shape.count(Array(xT.shape[(axis + 1)...])) : 1
    let hardmax = kind == "Hardmax", softmax = kind == "Softmax"
    var out = [Float](repeating: 0, count: x.count)
    if softmax && inner == 1 && ctx.options.path == .fast {
        // The C kernel runs the reference's operations below in the same order.
        x.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { opg_softmax_rows(x.baseAddress, outer, n, $0.baseAddress, MatrixProduct.hasAVX2FMA ? 1 : 0) } }
        return .float(out, shape: xT.shape)
    }
    x.withUnsafeBufferPointer { x in
    out.withUnsafeMutableBufferPointer { out in
    for o in 0..<outer {
        for i in 0..<inner {
            let base = o * n * inner + i
            var m: Float = -.infinity
            for k in 0..<n { m = nanPropagatingMax(m, x[base + k * inner]) }
            if hardmax {
                var best = 0
                for k in 0..<n where x[base + k * inner] == m { best = k; break }
                if n > 0 { out[base + best * inner] = 1 }
                continue
            }
            var s: Float = 0
            for k in 0..<n {
                let e = M.exp(x[base + k * inner] - m)
                if softmax { out[base + k * inner] = e }
                s = s + e
            }
            if softmax {
                for k in 0..<n { out[base + k * inner] = out[base + k * inner] / s }
            } else {
                let logS = M.log(s)
                for k in 0..<n { out[base + k * inner] = (x[base + k * inner] - m) - logS }
            }
        }
    }
    }
    }
    return .float(out, shape: xT.shape)
}

func batchNormalization(_ ctx: OpContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    if ctx.opset >= 14, try ctx.int("training_mode", 0) == 1 { throw ctx.unsupported("BatchNormalization in training mode") }
    let xT = try ctx.input(inputs, 0)
    let x = try xT.floats("BatchNormalization")
    let scale = try ctx.input(inputs, 1).floats("BatchNormalization"), bias = try ctx.input(inputs, 2).floats("BatchNormalization")
    let mean = try ctx.input(inputs, 3).floats("BatchNormalization"), variance = try ctx.input(inputs, 4).floats("BatchNormalization")
    let eps = try ctx.float("epsilon", 1e-5)
    guard xT.rank >= 2 else { throw ctx.error("X must have rank at least 2, got \(xT.shape)") }
    let c = xT.shape[1]
    guard scale.count == c, bias.count == c, mean.count == c, variance.count == c else {
        throw ctx.error("scale, B, mean and var must have \(c) values (one per channel)")
    }
    let plane = Shape.count(Array(xT.shape[2...]))
    var out = [Float](repeating: 0, count: x.count)
    let denominators = (0..<c).map { (variance[$0] + eps).squareRoot() }
    for nc in 0..<(xT.shape[0] * c) {
        let ch = nc % c
        for k in 0..<plane {
            let i = nc * plane + k
            out[i] = (x[i] - mean[ch]) / denominators[ch] * scale[ch] + bias[ch]
        }
    }
    return [.float(out, shape: xT.shape)]
}

/// Mean and (population) variance of x[base ..< base + n]: mean = Σx / n; variance =
/// Σ fma(d, d) / n with d = x − mean, left to right.
@inline(__always)
func rowStatistics(_ x: [Float], _ base: Int, _ n: Int) -> (mean: Float, variance: Float) {
    var sum: Float = 0
    for k in 0..<n { sum = sum + x[base + k] }
    let mean = sum / Float(n)
    var sq: Float = 0
    for k in 0..<n { let d = x[base + k] - mean; sq = sq.addingProduct(d, d) }
    return (mean, sq / Float(n))
}

/// LayerNormalization over axes [axis, rank): mean = Σx / n; var = Σ fma(d, d) / n with
/// d = x − mean; y = d · (1 / √(var + ε)) · scale + bias.
func layerNormalization(_ ctx: OpContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let xT = try ctx.input(inputs, 0)
    let x = try xT.floats("LayerNormalization")
    let axis = try Shape.axis(try ctx.int("axis", -1), rank: xT.rank, op: ctx.label)
    let eps = try ctx.float("epsilon", 1e-5)
    let n = Shape.count(Array(xT.shape[axis...])), rows = Shape.count(Array(xT.shape[..<axis]))
    let normShape = Array(xT.shape[axis...])
    let scaleT = try ctx.input(inputs, 1)
    let scale = try scaleT.floats("LayerNormalization")
    guard Shape.broadcast(shapes: scaleT.shape, fitInto: normShape) else { throw ctx.error("Scale \(scaleT.shape) does not broadcast to \(normShape)") }
    let si = Shape.broadcastIndices(from: scaleT.shape, to: normShape)
    var bias: [Float]? = nil, bi: [Int] = []
    if let b = ctx.optionalInput(inputs, 2) {
        guard Shape.broadcast(shapes: b.shape, fitInto: normShape) else { throw ctx.error("B \(b.shape) does not broadcast to \(normShape)") }
        bias = try b.floats("LayerNormalization")
        bi = Shape.broadcastIndices(from: b.shape, to: normShape)
    }
    var out = [Float](repeating: 0, count: x.count), means = [Float](repeating: 0, count: rows), invs = [Float](repeating: 0, count: rows)
    let statShape = Array(xT.shape[..<axis]) + [Int](repeating: 1, count: xT.rank - axis)
    if ctx.options.path == .fast && !x.isEmpty {
        // The C kernel (norm_kernels.h) with scale and bias laid out along the row.
        let rowScale = si.map { scale[$0] }, rowBias = bias.map { b in bi.map { b[$0] } }
        opg_layer_norm(x, rows, n, rowScale, rowBias, eps, &out, &means, &invs, MatrixProduct.hasAVX2FMA ? 1 : 0)
        return [.float(out, shape: xT.shape), .float(means, shape: statShape), .float(invs, shape: statShape)]
    }
    for r in 0..<rows {
        let base = r * n
        let (mean, variance) = rowStatistics(x, base, n)
        let inv = 1 / (variance + eps).squareRoot()
        means[r] = mean
        invs[r] = inv
        for k in 0..<n {
            var y = (x[base + k] - mean) * inv * scale[si[k]]
            if let bias { y = y + bias[bi[k]] }
            out[base + k] = y
        }
    }
    return [.float(out, shape: xT.shape), .float(means, shape: statShape), .float(invs, shape: statShape)]
}

func instanceNormalization(_ ctx: OpContext, _ inputs: [Tensor?]) throws -> Tensor {
    let xT = try ctx.input(inputs, 0)
    let x = try xT.floats("InstanceNormalization")
    let scale = try ctx.input(inputs, 1).floats("InstanceNormalization"), bias = try ctx.input(inputs, 2).floats("InstanceNormalization")
    let eps = try ctx.float("epsilon", 1e-5)
    guard xT.rank >= 3, scale.count == xT.shape[1], bias.count == xT.shape[1] else { throw ctx.error("X must be (N, C, …) with C scale and bias values") }
    let c = xT.shape[1], plane = Shape.count(Array(xT.shape[2...]))
    var out = [Float](repeating: 0, count: x.count)
    for nc in 0..<(xT.shape[0] * c) {
        let base = nc * plane
        let (mean, variance) = rowStatistics(x, base, plane)
        let denominator = (variance + eps).squareRoot()
        for k in 0..<plane { out[base + k] = (x[base + k] - mean) / denominator * scale[nc % c] + bias[nc % c] }
    }
    return .float(out, shape: xT.shape)
}

let convolutionKernels: [String: Kernel] = [
    "Conv": { ctx, i in [try conv(ctx, i)] },
    "MaxPool": { ctx, i in try pool(ctx, i, max: true) },
    "AveragePool": { ctx, i in try pool(ctx, i, max: false) },
    "GlobalAveragePool": { ctx, i in [try globalPool(ctx, i, max: false)] },
    "GlobalMaxPool": { ctx, i in [try globalPool(ctx, i, max: true)] },
]

let normalizationKernels: [String: Kernel] = [
    "Softmax": { ctx, i in [try softmaxFamily(ctx, i, kind: "Softmax")] },
    "LogSoftmax": { ctx, i in [try softmaxFamily(ctx, i, kind: "LogSoftmax")] },
    "Hardmax": { ctx, i in [try softmaxFamily(ctx, i, kind: "Hardmax")] },
    "BatchNormalization": { ctx, i in try batchNormalization(ctx, i) },
    "LayerNormalization": { ctx, i in try layerNormalization(ctx, i) },
    "InstanceNormalization": { ctx, i in [try instanceNormalization(ctx, i)] },
]
