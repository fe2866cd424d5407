import Inference
import Modules

/// libFuzzer entry for the ONNX reader and the compiler: any bytes are read both as a
/// ModelProto and as a TensorProto; each ends in a value or an `ONNXError`, never a crash,
/// a hang or an allocation beyond the input's size. The bytes also go through model
/// registration's check (`ModelValidation.validate`, what every validator runs on an
/// upload, with its size-derived limits), which must end in an interface or an
/// `ONNXError`, and through the content id computation. A model that reads is then compiled
/// (shape inference and constant folding run kernels on its constants) and, when it
/// compiles, run on zero inputs of its declared shapes (symbolic dimensions 1): every
/// kernel must end in outputs or an error on any graph.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        _ = try ModelValidation.validate(bytes)
    } catch is ONNXError {
    } catch {
        fatalError("registration refused a model with \(error), not an ONNXError (the revert reason would be lost)")
    }
    if ContentID.of(file: bytes).v0.count != 46 { fatalError("a CIDv0 is 46 characters") }
    if let model = try? ModelReader.read(bytes) {
        // A model that reads must have what `read` promises.
        if model.opsetImports.isEmpty { fatalError("model without opset imports was accepted") }
        for t in model.graph.initializers where t.storage.count != t.count { fatalError("tensor size does not match its shape") }
        let limits = Limits(maxTensorElements: 1 << 16, maxPeakBytes: 1 << 22)
        if let session = try? InferenceSession(model: model, limits: limits) {
            var feeds: [String: Tensor] = [:]
            for info in session.inputs {
                guard case .tensor(let type, let dims)? = info.type, let dims else { return 0 }
                let shape = dims.map { $0.value ?? 1 }
                guard shape.allSatisfy({ $0 >= 0 && $0 <= 64 }), shape.reduce(1, *) <= 4096 else { return 0 }
                let n = shape.reduce(1, *)
                let storage: TensorStorage
                switch type {
                case .float: storage = .float([Float](repeating: 0, count: n))
                case .double: storage = .double([Double](repeating: 0, count: n))
                case .bool: storage = .bool([Bool](repeating: false, count: n))
                case .uint64: storage = .uint64([UInt64](repeating: 0, count: n))
                case .string: storage = .string([[UInt8]](repeating: [], count: n))
                default: storage = .int64([Int64](repeating: 0, count: n))
                }
                feeds[info.name] = Tensor(name: info.name, elementType: type, shape: shape, storage: storage)
            }
            if let outputs = try? session.run(feeds) {
                for t in outputs where t.storage.count != t.count && t.mapKeys == nil { fatalError("output size does not match its shape") }
            }
        }
    }
    if let tensor = try? ModelReader.readTensor(bytes), tensor.storage.count != tensor.count {
        fatalError("tensor size does not match its shape")
    }
    return 0
}
