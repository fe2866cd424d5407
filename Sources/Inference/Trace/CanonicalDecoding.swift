import Primitives

extension TensorEncoding {
    /// The tensors a canonical encoding (`canonical`, docs/traces.md) holds: what a dispute
    /// reads back from an exact job's input bytes to run the model on them. Names are not
    /// encoded, so the tensors are unnamed. Throws an `ONNXError` naming the rule for bytes
    /// that are not exactly one canonical encoding: a truncated field, an element type the
    /// kernel does not hold (a ZipMap sequence, 0x10001, is an output and never an input),
    /// a rank above 64, a dimension above 2^31 − 1, an element count above `maxElements`,
    /// or bytes after the last tensor.
    public static func tensors(canonical bytes: [UInt8], maxElements: Int = Limits.default.maxTensorElements) throws -> [Tensor] {
        func fail(_ rule: String) -> ONNXError { ONNXError("malformed canonical tensor list: \(rule)") }
        var at = 0
        func read(_ width: Int) throws -> UInt64 {
            guard width <= bytes.count - at else { throw fail("ends after \(bytes.count) bytes, inside a field at byte \(at)") }
            var v: UInt64 = 0
            for i in 0..<width { v |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
            at += width
            return v
        }
        let count = try read(4)
        guard count <= UInt64(bytes.count) else { throw fail("\(count) tensors cannot fit in \(bytes.count) bytes") }
        var tensors: [Tensor] = []
        for k in 0..<Int(count) {
            let code = try read(4)
            let type = ElementType(rawValue: Int32(truncatingIfNeeded: code))
            guard code <= UInt64(Int32.max), type.isSupported else { throw fail("tensor \(k): element type \(code) is not a tensor element type") }
            let rank = try read(4)
            guard rank <= 64 else { throw fail("tensor \(k): rank \(rank) exceeds 64") }
            var shape: [Int] = []
            var elements = 1
            for _ in 0..<rank {
                let d = try read(8)
                guard d <= UInt64(Int32.max) else { throw fail("tensor \(k): dimension \(d) exceeds \(Int32.max)") }
                shape.append(Int(d))
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(d))
                guard !overflow, product <= maxElements else { throw fail("tensor \(k): shape \(shape) is over the cap of \(maxElements) elements") }
                elements = product
            }
            if type == .string {
                var values: [[UInt8]] = []
                for _ in 0..<elements {
                    let length = try read(8)
                    guard length <= UInt64(bytes.count - at) else { throw fail("tensor \(k): a string of \(length) bytes runs past the end") }
                    values.append(Array(bytes[at..<(at + Int(length))]))
                    at += Int(length)
                }
                tensors.append(Tensor(name: "", elementType: .string, shape: shape, storage: .string(values)))
            } else {
                let size = elements * (type.byteWidth ?? 8)
                guard size <= bytes.count - at else { throw fail("tensor \(k): \(size) value bytes run past the end") }
                tensors.append(Tensor(name: "", elementType: type, shape: shape,
                                      storage: ModelReader.fromRaw(Array(bytes[at..<(at + size)]), type, count: elements)))
                at += size
            }
        }
        guard at == bytes.count else { throw fail("\(bytes.count - at) bytes after the last tensor") }
        return tensors
    }
}
