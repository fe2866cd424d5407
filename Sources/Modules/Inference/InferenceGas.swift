import Inference

/// The gas of running a model (docs/inference.md, "Gas"): a pure, saturating function of
/// the compile-time cost at the call's input shapes and of the tensor bytes in and out,
/// charged before the kernel runs. It never depends on input values, on the machine, or
/// on whether a compiled session was cached. A new schedule is a new version; the
/// version a block runs under is fixed by its height (only version 1 exists).
public enum InferenceGas {
    /// The schedule's version.
    public static let version = 1

    /// Every inference: resolving the session, validating the feeds, converting numbers.
    public static let base: UInt64 = 20_000
    /// Multiply-accumulates per gas.
    public static let macsPerGas: UInt64 = 8
    /// Bytes moved (read by an operator or written by it) per gas.
    public static let bytesMovedPerGas: UInt64 = 64
    /// Bytes of peak live memory per gas.
    public static let peakBytesPerGas: UInt64 = 1_024
    /// Gas per 32-byte word of input and output tensor data (what the conversions touch).
    public static let tensorWord: UInt64 = 3

    /// The cost of a run of `session` on inputs of `inputShapes` and its gas: the cost,
    /// plus the bytes of every input and output tensor at those shapes (element count ×
    /// width; 8 bytes per element of STRING and map values, whatever their length).
    public static func gas(_ session: InferenceSession, inputShapes: [String: [Int]]) -> (cost: ModelCost, gas: UInt64) {
        let inference = session.shapes(inputShapes: inputShapes)
        let cost = session.cost(inputShapes: inputShapes)
        let names = session.inputs.map(\.name) + session.outputs.map(\.name)
        let tensorBytes = names.reduce(0) { total, name in
            let shape = inference.shapes[name]
            let count = shape?.count ?? 0, width = shape?.elementType?.byteWidth ?? 8
            return total.saturatingSum(count.saturatingProduct(width))
        }
        return (cost, gas(cost, tensorBytes: tensorBytes))
    }

    /// The gas of one run with `cost` and `tensorBytes` bytes of input and output tensors.
    public static func gas(_ cost: ModelCost, tensorBytes: Int) -> UInt64 {
        base.saturatingSum(ceilDiv(cost.macs, macsPerGas))
            .saturatingSum(ceilDiv(cost.bytesMoved, bytesMovedPerGas))
            .saturatingSum(ceilDiv(cost.peakBytes, peakBytesPerGas))
            .saturatingSum(ceilDiv(tensorBytes, 32).saturatingProduct(tensorWord))
    }

    /// The gas of re-executing one node alone (a dispute's node proof): the same schedule
    /// applied to the node's own cost, its bytes moved counted as its tensor bytes.
    public static func gas(node cost: OperatorCost) -> UInt64 {
        base.saturatingSum(ceilDiv(cost.macs, macsPerGas))
            .saturatingSum(ceilDiv(cost.bytesMoved, bytesMovedPerGas))
            .saturatingSum(ceilDiv(cost.peakBytes, peakBytesPerGas))
            .saturatingSum(ceilDiv(cost.bytesMoved, 32).saturatingProduct(tensorWord))
    }

    private static func ceilDiv(_ n: Int, _ d: UInt64) -> UInt64 {
        let v = UInt64(max(0, n))
        return v / d + (v % d == 0 ? 0 : 1)
    }
}
