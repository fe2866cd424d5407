import Chain
import JSON
import Modules
import Primitives
import RPC

/// The model registry's JSON-RPC methods (docs/rpc.md, "Models"): `opg_getModel`,
/// `opg_listModels` and `opg_getModelBytes`. They live here because RPC knows no module:
/// the node registers them beside `EthAPI`'s. Each request reads one head state, so its
/// answer never mixes two blocks; records are read by running the registry's own view
/// functions, so RPC and `eth_call` can never disagree.
public final class ModelRPC {
    /// Largest `length` of one `opg_getModelBytes` call (1 MiB).
    public static let maxBytesPerCall = 1 << 20
    /// Largest and default `limit` of one `opg_listModels` page.
    public static let maxPageSize = 100

    private let chain: ChainService
    private let registry = ModelRegistry()
    /// Gas for one internal view call: far more than any registry view needs.
    private static let viewGas: UInt64 = 1_000_000_000

    /// Methods reading `chain`'s head.
    public init(chain: ChainService) { self.chain = chain }

    /// Registers the methods on `dispatcher`, which keeps this object alive.
    public func register(on dispatcher: RPCDispatcher) {
        dispatcher.register("opg_getModel") { [self] p in
            try p.expect(atMost: 1)
            let id = try p.string(0, "model id")
            let reader = reader()
            return try reader.model(id)
        }
        dispatcher.register("opg_listModels") { [self] p in
            try p.expect(atMost: 2)
            let page = try Paging(p, cursorIndex: 0, limitIndex: 1, maxLimit: Self.maxPageSize)
            let reader = reader()
            let count = try reader.count()
            guard page.start <= count else { throw RPCError.invalidParams("0: cursor \(page.start) is past the end (\(count) models)") }
            let end = min(count, page.start + UInt64(page.limit))
            var items: [JSONValue] = []
            for index in page.start..<end { items.append(try reader.model(try reader.fileHash(at: index).hex)) }
            return Paging.result(items, nextCursor: end < count ? end : nil)
        }
        dispatcher.register("opg_getModelBytes") { [self] p in
            try p.expect(atMost: 3)
            let id = try p.string(0, "model id")
            let offset = try p.uint64(1, "offset")
            let length = try p.uint64(2, "length")
            guard length <= UInt64(Self.maxBytesPerCall) else {
                throw RPCError.invalidParams("2: length \(length) is over the limit of \(Self.maxBytesPerCall) bytes per call")
            }
            let reader = reader()
            let fileHash = try reader.fileHash(of: id)
            guard let bytes = reader.state.blob(of: registry.address, key: fileHash) else {
                throw RPCError.server("the bytes of model \(id) are missing from this node's store")
            }
            guard offset <= UInt64(bytes.count) else {
                throw RPCError.invalidParams("1: offset \(offset) is past the end of the model (\(bytes.count) bytes)")
            }
            let end = Int(min(UInt64(bytes.count), offset + length))
            return .string(Hex.encode(Array(bytes[Int(offset)..<end])))
        }
    }

    /// A reader of the head state (one block for the whole request).
    func reader() -> Reader { reader(at: chain.head) }

    /// A reader of the state after block `number`, nil when it is past the head.
    func reader(number: UInt64) throws -> Reader? {
        let head = chain.head
        guard number <= head.number, let header = try chain.database.header(number: number) else { return nil }
        return reader(at: header)
    }

    private func reader(at header: Header) -> Reader {
        Reader(chain: chain, head: header, state: chain.database.state(at: header), registry: registry)
    }

    /// Reads of one head state through the registry's view functions.
    struct Reader {
        let chain: ChainService
        let head: Header
        let state: StateDB
        let registry: ModelRegistry

        private func view(_ signature: String, _ values: [ABIValue]) throws -> [UInt8] {
            try view(at: registry.address, signature, values)
        }

        /// Runs the view function `signature` of the module at `module` on this state; a
        /// revert is a server error with the module's reason.
        func view(at module: Address, _ signature: String, _ values: [ABIValue]) throws -> [UInt8] {
            let env = chain.config.environment(number: head.number, timestamp: head.timestamp, coinbase: head.coinbase, baseFee: .zero,
                                               gasLimit: head.gasLimit)
            let result = chain.builder.executor.call(from: .zero, to: module, value: .zero,
                                                     data: try ABI.encodeCall(signature, values), gasLimit: ModelRPC.viewGas,
                                                     state: state, block: env, isStatic: true)
            if let reason = result.revertReason { throw RPCError.server(reason) }
            return result.returnData
        }

        func count() throws -> UInt64 {
            try ABI.decode([.uint(256)], view("modelCount()", []))[0].uintValue?.uint64 ?? 0
        }

        func fileHash(at index: UInt64) throws -> Hash32 {
            try Hash32(ABI.decode([.fixedBytes(32)], view("modelAt(uint256)", [.uint(UInt256(index))]))[0].bytesValue ?? [])
        }

        func fileHash(of id: String) throws -> Hash32 {
            guard case .tuple(let f) = try ABI.decode([ModelRegistry.modelInfoType], view("getModel(string)", [.string(id)]))[0] else {
                throw RPCError.internalError("getModel returned no record")
            }
            return try Hash32(f[2].bytesValue ?? [])
        }

        /// `getModel(id)` as JSON.
        func model(_ id: String) throws -> JSONValue {
            guard case .tuple(let f) = try ABI.decode([ModelRegistry.modelInfoType], view("getModel(string)", [.string(id)]))[0],
                  f.count == 15 else { throw RPCError.internalError("getModel returned no record") }
            func number(_ v: ABIValue) -> JSONValue { .int(v.uintValue?.uint64 ?? 0) }
            func values(_ v: ABIValue) -> JSONValue {
                guard case .array(let items) = v else { return .array([]) }
                return .array(items.map { item in
                    guard case .tuple(let t) = item, case .array(let dims) = t[2] else { return .null }
                    return .object(["name": .string(t[0].stringValue ?? ""), "elementType": .string(t[1].stringValue ?? ""),
                                    "shape": .array(dims.map { .string($0.stringValue ?? "") })])
                })
            }
            var opsets: [JSONValue] = []
            if case .array(let items) = f[11] {
                for case .tuple(let t) in items { opsets.append(.object(["domain": .string(t[0].stringValue ?? ""), "version": number(t[1])])) }
            }
            guard case .address(let owner) = f[4] else { throw RPCError.internalError("getModel returned no owner") }
            return .object([
                "cidV0": .string(f[0].stringValue ?? ""), "cidV1": .string(f[1].stringValue ?? ""),
                "sha256": .string(Hex.encode(f[2].bytesValue ?? [])), "size": number(f[3]), "owner": .string(owner.checksummed),
                "name": .string(f[5].stringValue ?? ""), "description": .string(f[6].stringValue ?? ""),
                "registeredAt": number(f[7]), "kernelSpecVersion": number(f[8]),
                "inputs": values(f[9]), "outputs": values(f[10]), "opsets": .array(opsets),
                "cost": .object(["macs": number(f[12]), "bytesMoved": number(f[13]), "peakBytes": number(f[14])]),
            ])
        }
    }
}

/// The one paging convention of every `opg_` list method (docs/rpc.md, "Paging"):
/// parameters `cursor` (null or absent for the first page, else the `nextCursor` of the
/// previous page: a hex quantity) and `limit` (1…max, default max); the result is
/// `{"items": [...], "nextCursor": <hex quantity, or null after the last page>}`.
public struct Paging {
    /// Where the page starts.
    public let start: UInt64
    /// How many items it holds at most.
    public let limit: Int

    /// Reads the cursor and limit parameters.
    public init(_ p: RPCParams, cursorIndex: Int, limitIndex: Int, maxLimit: Int) throws {
        start = p.optional(cursorIndex) == nil ? 0 : try p.uint64(cursorIndex, "cursor")
        if p.optional(limitIndex) == nil {
            limit = maxLimit
        } else {
            let n = try p.uint64(limitIndex, "limit")
            guard n >= 1, n <= UInt64(maxLimit) else { throw RPCError.invalidParams("\(limitIndex): limit \(n) is not in 1…\(maxLimit)") }
            limit = Int(n)
        }
    }

    /// A page of `items`, with the cursor of the next page (nil after the last).
    public static func result(_ items: [JSONValue], nextCursor: UInt64?) -> JSONValue {
        .object(["items": .array(items), "nextCursor": nextCursor.map { .string("0x" + String($0, radix: 16)) } ?? .null])
    }
}
