import Chain
import JSON
import Modules
import Primitives
import RPC

/// The trust-record JSON-RPC methods (docs/rpc.md, "Inference records"):
/// `opg_getInference`, `opg_getInferencesByModel` and `opg_inferenceStats`. Like
/// `ModelRPC` they live in the node because RPC knows no module; each request reads one
/// head state, and the records are read from the precompile's storage with the layout
/// the precompile writes (`InferenceRecord`), so `eth_getProof` proves every answer.
public final class InferenceRPC {
    /// Largest and default `limit` of one `opg_getInferencesByModel` page.
    public static let maxPageSize = 100
    /// Most blocks one `opg_inferenceStats` call may span.
    public static let maxStatsBlocks: UInt64 = 10_000

    private let chain: ChainService
    private let models: ModelRPC

    /// Methods reading `chain`'s head; model ids resolve through `models`.
    public init(chain: ChainService, models: ModelRPC) {
        self.chain = chain
        self.models = models
    }

    /// Registers the methods on `dispatcher`, which keeps this object alive.
    public func register(on dispatcher: RPCDispatcher) {
        dispatcher.register("opg_getInference") { [self] p in
            try p.expect(atMost: 1)
            let id = try p.hash(0, "inference id")
            let reader = models.reader()
            guard let record = InferenceRecord.read(id, load: load(reader.state)) else {
                throw RPCError.server("no inference with id \(id.hex)")
            }
            return try json(record, reader)
        }
        dispatcher.register("opg_getInferencesByModel") { [self] p in
            try p.expect(atMost: 3)
            let modelID = try p.string(0, "model id")
            let page = try Paging(p, cursorIndex: 1, limitIndex: 2, maxLimit: Self.maxPageSize)
            let reader = models.reader()
            let fileHash = try reader.fileHash(of: modelID)
            let load = load(reader.state)
            let count = InferenceRecord.count(ofModel: fileHash, load: load)
            guard page.start <= count else { throw RPCError.invalidParams("1: cursor \(page.start) is past the end (\(count) inferences)") }
            let end = min(count, page.start + UInt64(page.limit))
            var items: [JSONValue] = []
            for index in page.start..<end {
                let id = InferenceRecord.id(ofModel: fileHash, at: index, load: load)
                guard let record = InferenceRecord.read(id, load: load) else { throw RPCError.internalError("inference \(id.hex) is indexed but has no record") }
                items.append(try json(record, reader))
            }
            return Paging.result(items, nextCursor: end < count ? end : nil)
        }
        dispatcher.register("opg_inferenceStats") { [self] p in
            try p.expect(atMost: 2)
            let from = try p.uint64(0, "fromBlock"), to = try p.uint64(1, "toBlock")
            let reader = models.reader()
            guard from <= to else { throw RPCError.invalidParams("1: toBlock \(to) is before fromBlock \(from)") }
            guard to - from < Self.maxStatsBlocks else {
                throw RPCError.invalidParams("1: range of \(to - from + 1) blocks is over the limit of \(Self.maxStatsBlocks) blocks per call")
            }
            guard to <= reader.head.number else { throw RPCError.invalidParams("1: toBlock \(to) is past the head (\(reader.head.number))") }
            return try stats(from: from, to: to, reader)
        }
    }

    private func load(_ state: StateDB) -> (Hash32) -> Hash32 {
        { state.storage(of: InferencePrecompile.reservedAddress, slot: $0) }
    }

    /// Calls, unique callers, per model (ordered by model id) and per block (ascending) in
    /// blocks `from…to`, from the blocks' `ModelInferenceEvent`s and their records.
    private func stats(from: UInt64, to: UInt64, _ reader: ModelRPC.Reader) throws -> JSONValue {
        let load = load(reader.state)
        var callers = Set<Address>()
        var perModel: [Hash32: (calls: Int, callers: Set<Address>)] = [:]
        var perBlock: [JSONValue] = []
        for number in from...to {
            var calls = 0
            for receipt in try chain.database.receipts(number: number) ?? [] {
                for log in receipt.logs where log.address == InferencePrecompile.reservedAddress && log.topics.first == InferencePrecompile.modelInferenceTopic {
                    let record = try Self.record(of: log, block: number, load: load)
                    calls += 1
                    callers.insert(record.caller)
                    perModel[record.modelFileHash, default: (0, [])].calls += 1
                    perModel[record.modelFileHash, default: (0, [])].callers.insert(record.caller)
                }
            }
            if calls > 0 { perBlock.append(.object(["block": .int(number), "calls": .int(UInt64(calls))])) }
        }
        var models: [(id: String, value: JSONValue)] = []
        for (fileHash, entry) in perModel {
            let id = try cidV0(fileHash, reader)
            models.append((id, .object(["modelId": .string(id), "calls": .int(UInt64(entry.calls)), "uniqueCallers": .int(UInt64(entry.callers.count))])))
        }
        let calls = perModel.values.reduce(0) { $0 + $1.calls }
        return .object(["fromBlock": .int(from), "toBlock": .int(to), "calls": .int(UInt64(calls)), "uniqueCallers": .int(UInt64(callers.count)),
                        "models": .array(models.sorted { $0.id < $1.id }.map(\.value)), "blocks": .array(perBlock)])
    }

    /// The trust record a `ModelInferenceEvent` log of block `number` names, read with `load`.
    static func record(of log: Log, block number: UInt64, load: (Hash32) -> Hash32) throws -> InferenceRecord {
        let event = try InferenceVerification.record(eventData: log.data)
        guard let record = InferenceRecord.read(try Hash32(hex: event.inferenceID), load: load) else {
            throw RPCError.internalError("inference \(event.inferenceID) of block \(number) has no record")
        }
        return record
    }

    private func cidV0(_ fileHash: Hash32, _ reader: ModelRPC.Reader) throws -> String {
        guard case .object(let model) = try reader.model(fileHash.hex), case .string(let id)? = model["cidV0"] else {
            throw RPCError.internalError("model \(fileHash.hex) has no CIDv0")
        }
        return id
    }

    private func json(_ r: InferenceRecord, _ reader: ModelRPC.Reader) throws -> JSONValue {
        .object(["id": .string(r.inferenceID.hex), "modelId": .string(try cidV0(r.modelFileHash, reader)),
                 "modelSha256": .string(r.modelFileHash.hex), "inputHash": .string(r.inputHash.hex), "outputHash": .string(r.outputHash.hex),
                 "caller": .string(r.caller.checksummed), "blockNumber": .int(r.blockNumber), "transactionHash": .string(r.transactionHash.hex),
                 "transactionIndex": .int(r.transactionIndex), "indexInBlock": .int(r.indexInBlock), "gas": .int(r.gas),
                 "kernelSpecVersion": .int(r.kernelSpecVersion)])
    }
}
