import Chain
import Modules
import Crypto
import JSON
import Primitives
import Storage
import XCTest
@testable import RPC

/// The eth namespace in process, through the dispatcher (the HTTP path is covered by
/// the e2e suite): tags, hex rules, logs and filters, calls and reverts.
final class EthAPITests: XCTestCase {
    let validator = try! PrivateKey(Keccak256.digest(Array("rpc validator".utf8)))
    let user = try! PrivateKey(Keccak256.digest(Array("rpc user".utf8)))
    var chain: ChainService!
    var dispatcher: RPCDispatcher!
    var api: EthAPI!
    let notary = Address(lowByte: 1)

    override func setUpWithError() throws {
        let spec = GenesisSpec(config: ChainConfig(chainId: 77, blockReward: UInt256(5), validators: try ValidatorSet([Validator(address: validator.address, consensusSigner: validator)])), timestamp: 0,
                               gasLimit: 30_000_000, initialBaseFee: UInt256(1_000_000_000), extraData: [],
                               alloc: [(user.address, try UInt256(decimal: "1000000000000000000000"))])
        let db = try ChainDatabase(store: MemoryStore())
        let (block, batch) = try spec.genesisBlock(nodes: db.nodes)
        try db.commit(block: block, receipts: [], stateBatch: batch, genesis: [])
        chain = ChainService(config: spec.config, database: db, handlers: StandardModules.registry(),
                             encodeRevert: ABI.encodeRevert)
        dispatcher = RPCDispatcher()
        api = EthAPI(chain: chain, clientVersion: "opg/test")
        api.register(on: dispatcher)
    }

    func call(_ method: String, _ params: [JSONValue]) throws -> JSONValue {
        let request = JSONValue.object(["jsonrpc": .string("2.0"), "id": .int(1), "method": .string(method), "params": .array(params)])
        let reply = try XCTUnwrap(dispatcher.handle(body: request.serializedBytes()))
        return reply
    }

    func result(_ method: String, _ params: [JSONValue] = []) throws -> JSONValue {
        let reply = try call(method, params)
        if let e = reply["error"] { XCTFail("\(method): \(e.serialized())") }
        return try XCTUnwrap(reply["result"])
    }

    func errorCode(_ method: String, _ params: [JSONValue]) throws -> Int? {
        try call(method, params)["error"]?["code"]?.numberValue?.int64.map(Int.init)
    }

    func notarize(_ digest: [UInt8], nonce: UInt64) throws -> Hash32 {
        let data = try ABI.encodeCall("notarize(bytes32,string)", [.fixedBytes(digest), .string("note")])
        let tx = Transaction(type: .dynamicFee, chainId: 77, nonce: nonce, maxPriorityFeePerGas: UInt256(1), maxFeePerGas: UInt256(10_000_000_000),
                             gasLimit: 200_000, to: notary, value: .zero, data: data, accessList: [])
        let raw = try tx.signed(with: user).raw
        let hash = try result("eth_sendRawTransaction", [.string(Hex.encode(raw))])
        return try Hash32(hex: hash.stringValue!)
    }

    /// Blocks show the validator-set hashes; `opg_getCommit` serves the certificate
    /// stored beside each block (none for block 0, null for a block not yet made).
    func testValidatorHashesAndCommitCertificates() throws {
        try chain.produceBlock(timestamp: 1, coinbase: validator.address) { _ in [0xAB, 0xCD] }
        let setHash = EthFormat.hash(chain.config.validators.hash)
        for n in ["0x0", "0x1"] {
            let block = try result("eth_getBlockByNumber", [.string(n), .bool(false)])
            XCTAssertEqual(block["validatorsHash"], setHash)
            XCTAssertEqual(block["nextValidatorsHash"], setHash)
        }
        let commit = try result("opg_getCommit", [.string("latest")])
        XCTAssertEqual(commit["blockNumber"], .string("0x1"))
        XCTAssertEqual(commit["blockHash"], EthFormat.hash(chain.head.hash))
        XCTAssertEqual(commit["certificate"], .string("0xabcd"))
        XCTAssertEqual(try result("opg_getCommit", [.string("0x0")])["certificate"], .null)
        XCTAssertEqual(try result("opg_getCommit", [.string("0x2")]), .null)
        XCTAssertEqual(try errorCode("opg_getCommit", []), -32602)
        XCTAssertEqual(try errorCode("opg_getCommit", [.string("0x01")]), -32602)
    }

    /// A block with evidence shows `evidenceHash` and counts the evidence list in `size`
    /// (appended to the block's RLP as Ethereum appends withdrawals); one without shows neither.
    func testBlockJSONShowsEvidenceHashAndCountsEvidenceInSize() throws {
        let evidence: [[UInt8]] = [Array(repeating: 0xEE, count: 300), [1, 2, 3]]
        var header = chain.head
        XCTAssertNil(EthFormat.block(header, transactions: [], full: false)["evidenceHash"])
        let plainSize = RLP.encodeList(encodedItems: [header.rlp, RLP.encodeList(encodedItems: []), RLP.encodeList(encodedItems: [])]).count
        XCTAssertEqual(EthFormat.block(header, transactions: [], full: false)["size"], EthFormat.quantity(UInt64(plainSize)))
        header.evidenceHash = Block.evidenceHash(evidence)
        let json = EthFormat.block(header, transactions: [], evidence: evidence, full: false)
        XCTAssertEqual(json["evidenceHash"], EthFormat.hash(header.evidenceHash!))
        let size = RLP.encodeList(encodedItems: [header.rlp, RLP.encodeList(encodedItems: []), RLP.encodeList(encodedItems: []),
                                                 RLP.encode(.list(evidence.map { .bytes($0) }))]).count
        XCTAssertEqual(json["size"], EthFormat.quantity(UInt64(size)))
        XCTAssertGreaterThan(size, plainSize + 300)
    }

    func testTagsAndHexRules() throws {
        try chain.produceBlock(timestamp: 1, coinbase: validator.address)
        XCTAssertEqual(try result("eth_blockNumber"), .string("0x1"))
        for tag in ["latest", "pending", "safe", "finalized"] {
            XCTAssertEqual(try result("eth_getBlockByNumber", [.string(tag), .bool(false)])["number"], .string("0x1"))
        }
        XCTAssertEqual(try result("eth_getBlockByNumber", [.string("earliest"), .bool(false)])["number"], .string("0x0"))
        XCTAssertEqual(try result("eth_getBlockByNumber", [.string("0x9"), .bool(false)]), .null)
        XCTAssertEqual(try errorCode("eth_getBlockByNumber", [.string("0x01"), .bool(false)]), -32602)
        XCTAssertEqual(try errorCode("eth_getBlockByNumber", [.string("tomorrow"), .bool(false)]), -32602)
        XCTAssertEqual(try errorCode("eth_getBalance", [.string("0x12"), .string("latest")]), -32602)
        XCTAssertEqual(try errorCode("eth_getBalance", [.string(user.address.hex), .string("0x9")]), -32000)
        let hash = try result("eth_getBlockByNumber", [.string("0x1"), .bool(false)])["hash"]!
        XCTAssertEqual(try result("eth_getBalance", [.string(validator.address.hex), .object(["blockHash": hash])]), .string("0x5"))
        XCTAssertEqual(try result("eth_getBalance", [.string(validator.address.hex), .object(["blockNumber": .string("0x0")])]), .string("0x0"))
        XCTAssertEqual(try result("opg_totalSupply", [.string("0x1")]), .string((try UInt256(decimal: "1000000000000000000005")).hexQuantity))
    }

    func testLogsFiltersAndCalls() throws {
        let blockFilter = try result("eth_newBlockFilter").stringValue!
        let pendingFilter = try result("eth_newPendingTransactionFilter").stringValue!
        let logFilter = try result("eth_newFilter", [.object(["address": .string(notary.hex)])]).stringValue!
        let digest = Keccak256.digest(Array("doc".utf8))
        let first = try notarize(digest, nonce: 0)
        let second = try notarize(digest, nonce: 1)  // reverts: already notarized
        try chain.produceBlock(timestamp: 1, coinbase: validator.address)
        chain.waitForBlockListeners()

        XCTAssertEqual(try result("eth_getFilterChanges", [.string(pendingFilter)]).arrayValue?.count, 2)
        XCTAssertEqual(try result("eth_getFilterChanges", [.string(pendingFilter)]).arrayValue?.count, 0, "changes are returned once")
        XCTAssertEqual(try result("eth_getFilterChanges", [.string(blockFilter)]).arrayValue?.count, 1)
        let logs = try XCTUnwrap(result("eth_getFilterChanges", [.string(logFilter)]).arrayValue)
        XCTAssertEqual(logs.count, 1)
        XCTAssertEqual(logs.first?["transactionHash"], .string(first.hex))
        XCTAssertEqual(logs.first?["logIndex"], .string("0x0"))
        XCTAssertEqual(try result("eth_getFilterChanges", [.string(logFilter)]).arrayValue?.count, 0)
        XCTAssertEqual(try result("eth_getFilterLogs", [.string(logFilter)]).arrayValue?.count, 1)
        XCTAssertEqual(try result("eth_uninstallFilter", [.string(logFilter)]), .bool(true))
        XCTAssertEqual(try result("eth_uninstallFilter", [.string(logFilter)]), .bool(false))
        XCTAssertEqual(try errorCode("eth_getFilterChanges", [.string(logFilter)]), -32000)

        let topic = JSONValue.string(Notary.notarizedTopic.hex)
        let byTopic = try result("eth_getLogs", [.object(["fromBlock": .string("0x0"), "topics": .array([topic, .null, .string(Hex.encode(digest))])])])
        XCTAssertEqual(byTopic.arrayValue?.count, 1)
        let miss = try result("eth_getLogs", [.object(["fromBlock": .string("0x0"), "topics": .array([.null, .null, .string(Keccak256.hash([1]).hex)])])])
        XCTAssertEqual(miss.arrayValue?.count, 0)

        let receipt = try result("eth_getTransactionReceipt", [.string(second.hex)])
        XCTAssertEqual(receipt["status"], .string("0x0"))
        XCTAssertEqual(receipt["logs"], .array([]))

        let callData = try ABI.encodeCall("notarize(bytes32,string)", [.fixedBytes(digest), .string("x")])
        let reverted = try call("eth_call", [.object(["from": .string(user.address.hex), "to": .string(notary.hex), "data": .string(Hex.encode(callData))])])
        XCTAssertEqual(reverted["error"]?["code"], .int(3))
        XCTAssertEqual(reverted["error"]?["message"], .string("execution reverted: already notarized"))
        let owner = try result("eth_call", [.object(["to": .string(notary.hex),
                                                     "input": .string(Hex.encode(try ABI.encodeCall("ownerOf(bytes32)", [.fixedBytes(digest)])))])])
        let decoded = try ABI.decode([.address, .uint(64)], Hex.decode(owner.stringValue!))
        XCTAssertEqual(decoded[0].addressValue, user.address)
        XCTAssertEqual(try result("eth_estimateGas", [.object(["from": .string(user.address.hex), "to": .string(validator.address.hex), "value": .string("0x1")])]),
                       .string("0x5208"))
        XCTAssertEqual(try errorCode("eth_call", [.object(["data": .string("0x")])]), -32000, "no 'to': creation is not supported")
    }

    func testFeeHistoryAndProof() throws {
        for t in 1...3 { try chain.produceBlock(timestamp: UInt64(t), coinbase: validator.address) }
        let history = try result("eth_feeHistory", [.string("0x2"), .string("latest"), .array([.int(10), .int(90)])])
        XCTAssertEqual(history["oldestBlock"], .string("0x2"))
        XCTAssertEqual(history["baseFeePerGas"]?.arrayValue?.count, 3)
        XCTAssertEqual(history["reward"]?.arrayValue?.count, 2)
        XCTAssertEqual(try errorCode("eth_feeHistory", [.string("0x2"), .string("latest"), .array([.int(90), .int(10)])]), -32602)
        let proof = try result("eth_getProof", [.string(user.address.hex), .array([.string("0x0")]), .string("latest")])
        let head = chain.head
        let first = try Hex.decode(XCTUnwrap(proof["accountProof"]?.arrayValue?.first?.stringValue))
        XCTAssertEqual(Keccak256.hash(first), head.stateRoot, "the proof starts at the block's state root")
        XCTAssertEqual(proof["storageProof"]?.arrayValue?.count, 1)
    }

    func testLogFilterPollsPageThroughTheBlockRangeLimit() throws {
        api = EthAPI(chain: chain, clientVersion: "opg/test", limits: QueryLimits(logBlockRange: 2))
        dispatcher = RPCDispatcher()
        api.register(on: dispatcher)
        _ = try notarize(Keccak256.digest(Array("one".utf8)), nonce: 0)
        try chain.produceBlock(timestamp: 1, coinbase: validator.address)
        for t in 2...3 { try chain.produceBlock(timestamp: UInt64(t), coinbase: validator.address) }
        _ = try notarize(Keccak256.digest(Array("two".utf8)), nonce: 1)
        try chain.produceBlock(timestamp: 4, coinbase: validator.address)
        let filter = try result("eth_newFilter", [.object(["fromBlock": .string("0x0"), "address": .string(notary.hex)])]).stringValue!
        XCTAssertEqual(try errorCode("eth_getLogs", [.object(["fromBlock": .string("0x0")])]), -32005)
        var pages: [[String]] = []
        for _ in 0..<4 {
            let logs = try XCTUnwrap(result("eth_getFilterChanges", [.string(filter)]).arrayValue)
            pages.append(logs.compactMap { $0["blockNumber"]?.stringValue })
        }
        XCTAssertEqual(pages, [["0x1"], [], ["0x4"], []], "blocks 0–1, 2–3, 4 (the head), then nothing new")
    }

    func testCapsOnProofKeysFiltersAndPercentiles() throws {
        api = EthAPI(chain: chain, clientVersion: "opg/test", limits: QueryLimits(maxFilters: 1, proofKeys: 2))
        dispatcher = RPCDispatcher()
        api.register(on: dispatcher)
        let keys = JSONValue.array((0..<3).map { .string("0x\($0)") })
        let reply = try call("eth_getProof", [.string(user.address.hex), keys, .string("latest")])
        XCTAssertEqual(reply["error"]?["code"], .int(-32602))
        XCTAssertEqual(reply["error"]?["message"], .string("invalid argument 1: too many storage keys (3, limit 2)"))
        _ = try result("eth_newBlockFilter")
        XCTAssertEqual(try errorCode("eth_newPendingTransactionFilter", []), -32005)
        let percentiles = JSONValue.array((0...100).map { _ in .int(50) })
        XCTAssertEqual(try errorCode("eth_feeHistory", [.string("0x1"), .string("latest"), percentiles]), -32602)
        let addresses = JSONValue.array((0...QueryLimits.logAddresses).map { .string(Address(lowByte: UInt8($0 % 256)).hex) })
        XCTAssertEqual(try errorCode("eth_getLogs", [.object(["address": addresses])]), -32602)
    }
}
