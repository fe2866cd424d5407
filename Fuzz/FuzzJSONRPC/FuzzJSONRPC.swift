import Chain
import Crypto
import JSON
import Modules
import Node
import Primitives
import RPC
import Storage

/// The node the requests reach: a real chain on a `MemoryStore`, built once per process.
/// Genesis funds `user`; block 1 holds `user`'s notarization (a receipt and a log to find),
/// block 2 is empty; the pool is empty. The keys, chain id and timestamps are fixed, so
/// tools/fuzz/make_corpus.py can write requests that name these very accounts and
/// transactions. What requests change (admitted transactions, installed filters) carries
/// over to later inputs, as on a running node.
enum Node {
    static let validator = try! PrivateKey(Keccak256.digest(Array("fuzz validator".utf8)))
    static let user = try! PrivateKey(Keccak256.digest(Array("fuzz user".utf8)))
    static let chainId: UInt64 = 77

    /// The chain the methods read.
    static let chain: ChainService = {
        let spec = GenesisSpec(config: ChainConfig(chainId: chainId, blockReward: UInt256(5), validators: try! ValidatorSet([Validator(address: validator.address, consensusSigner: validator)])),
                               timestamp: 0, gasLimit: 30_000_000, initialBaseFee: UInt256(1_000_000_000), extraData: [],
                               alloc: [(user.address, try! UInt256(decimal: "1000000000000000000000"))])
        let db = try! ChainDatabase(store: MemoryStore())
        let (genesis, batch) = try! spec.genesisBlock(nodes: db.nodes)
        try! db.commit(block: genesis, receipts: [], stateBatch: batch, genesis: [])
        let chain = ChainService(config: spec.config, database: db, handlers: StandardModules.registry(),
                                 encodeRevert: ABI.encodeRevert)
        let digest = Keccak256.digest(Array("fuzz document".utf8))
        let data = try! ABI.encodeCall("notarize(bytes32,string)", [.fixedBytes(digest), .string("fuzz")])
        let tx = Transaction(type: .dynamicFee, chainId: chainId, nonce: 0, maxPriorityFeePerGas: UInt256(1),
                             maxFeePerGas: UInt256(10_000_000_000), gasLimit: 200_000, to: Address(lowByte: 1), value: .zero,
                             data: data, accessList: [])
        _ = try! chain.submit(raw: try! tx.signed(with: user).raw)
        _ = try! chain.produceBlock(timestamp: 1, coinbase: validator.address)
        _ = try! chain.produceBlock(timestamp: 2, coinbase: validator.address)
        return chain
    }()

    /// The API over the chain; kept here because its methods hold it `unowned`.
    static let api = EthAPI(chain: chain, clientVersion: "opg/fuzz")

    static let dispatcher: RPCDispatcher = {
        let dispatcher = RPCDispatcher()
        api.register(on: dispatcher)
        let models = ModelRPC(chain: chain)
        models.register(on: dispatcher)
        InferenceRPC(chain: chain, models: models).register(on: dispatcher)
        VerificationStatsRPC(chain: chain, models: models).register(on: dispatcher)
        StakingRPC(models: models).register(on: dispatcher)
        try! ExplorerRPC(chain: chain).register(on: dispatcher)
        return dispatcher
    }()
}

/// Stops the run unless `reply` is one JSON-RPC 2.0 response: an object with exactly
/// `jsonrpc` "2.0", an `id` (string, number or null) and one of `result` or `error`, where
/// an error has an integer `code` and a string `message`.
func checkResponse(_ reply: JSONValue) {
    guard case .object(let object) = reply, object["jsonrpc"] == .string("2.0") else {
        fatalError("not a JSON-RPC 2.0 response: \(reply.serialized())")
    }
    switch object["id"] {
    case .null?, .string?, .number?: break
    default: fatalError("response id missing or not a string, number or null: \(reply.serialized())")
    }
    switch (object["result"], object["error"]) {
    case (.some, nil): break
    case (nil, .some(let error)):
        guard error["code"]?.numberValue?.int64 != nil, error["message"]?.stringValue != nil else {
            fatalError("error without an integer code and a message: \(reply.serialized())")
        }
    default: fatalError("a response needs exactly one of result and error: \(reply.serialized())")
    }
    guard object.keys.count == 3 else { fatalError("unexpected members in a response: \(reply.serialized())") }
}

/// Whether `request` is only notifications (request objects without an `id`), the one
/// case that JSON-RPC leaves unanswered.
func isOnlyNotifications(_ request: JSONValue) -> Bool {
    switch request {
    case .object(let object): return object["id"] == nil
    case .array(let batch): return !batch.isEmpty && batch.allSatisfy(isOnlyNotifications)
    default: return false
    }
}

/// LeakSanitizer's switch (ASan's runtime): allocations made while it is off are never reported.
@_silgen_name("__lsan_disable") func leakCheckingOff()
@_silgen_name("__lsan_enable") func leakCheckingOn()

/// libFuzzer calls this once before any input. The chain is built here with leak checking
/// off: its trie nodes are an indirect enum whose boxes are referenced through pointers
/// carrying the case tag in spare bits, which LeakSanitizer does not recognise as pointers,
/// so the nodes the chain keeps would be reported as leaked (the model registry's and the
/// staking module's ABI types, made once on first use, likewise). What inputs allocate is checked.
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    leakCheckingOff()
    _ = Node.dispatcher
    _ = ModelRegistry.modelInfoType  // a static of the same indirect enum kind (ABIType), made once
    _ = (Staking.operatorInfoType, Staking.parametersType)  // the staking module's, likewise
    leakCheckingOn()
    return 0
}

/// libFuzzer entry: any bytes as an HTTP request body go through the dispatcher and every
/// eth/net/web3/txpool/opg method over the chain above. The answer is a well-formed
/// JSON-RPC response (or a batch of them) that writes as JSON reading back the same; a
/// single request with an id gets that id back; only notifications go unanswered. Never a
/// crash or a hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONRPC(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let body = Array(UnsafeBufferPointer(start: data, count: size))
    let request = try? JSONParser.parse(body)
    guard let reply = Node.dispatcher.handle(body: body) else {
        guard let request, isOnlyNotifications(request) else { fatalError("no response to a request that needs one") }
        return 0
    }
    if case .array(let answers) = reply {
        guard case .array(let batch)? = request, answers.count <= batch.count else { fatalError("batch answer to a non-batch request") }
        answers.forEach(checkResponse)
    } else {
        checkResponse(reply)
        if case .object(let object)? = request, let id = object["id"], id.stringValue != nil || id.numberValue != nil {
            guard reply["id"] == id else { fatalError("response id \(reply["id"]!.serialized()) for request id \(id.serialized())") }
        }
    }
    guard (try? JSONParser.parse(reply.serializedBytes())) == reply else { fatalError("the response does not read back as written") }
    return 0
}
