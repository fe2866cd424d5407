import Inference

/// libFuzzer entry for the ONNX reader: any bytes are read both as a ModelProto and as
/// a TensorProto; each ends in a value or an `ONNXError`, never a crash, a hang or an
/// allocation beyond the input's size.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let model = try? ModelReader.read(bytes) {
        // A model that reads must have what `read` promises.
        if model.opsetImports.isEmpty { fatalError("model without opset imports was accepted") }
        for t in model.graph.initializers where t.storage.count != t.count { fatalError("tensor size does not match its shape") }
    }
    if let tensor = try? ModelReader.readTensor(bytes), tensor.storage.count != tensor.count {
        fatalError("tensor size does not match its shape")
    }
    return 0
}
