import Chain
import Crypto
import JSON
import Modules
import Primitives
import Storage
import XCTest
@testable import Node

final class ConfigTests: XCTestCase {
    static var repo: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    func testShippedFilesParse() throws {
        let (spec, _) = try GenesisFile.load(Self.repo.appendingPathComponent("genesis/devnet.json").path)
        XCTAssertEqual(spec.config.chainId, 5197895)
        XCTAssertEqual(spec.alloc.count, 10)
        XCTAssertEqual(spec.config.validators.validators, [DevNet.validator])
        XCTAssertEqual(DevNet.validator.consensusKey, DevNet.consensusKey.publicKey.compressed)
        XCTAssertNotEqual(DevNet.consensusKey, DevNet.validatorKey, "the consensus key is not the account key")
        XCTAssertEqual(Set(spec.alloc.map(\.address)), Set(DevNet.accounts.map(\.address)))
        let config = try NodeConfig.load(Self.repo.appendingPathComponent("Config/node.json").path)
        XCTAssertEqual(config.rpc.port, 8545)
        XCTAssertEqual(config.rpc.host, "127.0.0.1")
        XCTAssertEqual(config.blockIntervalMs, 1000)
    }

    func testBuiltInDevnetGenesisIsTheShippedFile() throws {
        let file = try [UInt8](Data(contentsOf: Self.repo.appendingPathComponent("genesis/devnet.json")))
        XCTAssertEqual(Array(DevNet.genesisJSON.utf8), file, "opgd dev and opgd init --genesis genesis/devnet.json must make the same block 0")
    }

    func testRPCLimitFields() throws {
        let config = try NodeConfig.parse(JSONParser.parse(#"""
            {"dataDir":"d","rpc":{"vhosts":["node.example"],"corsHeaders":["Content-Type","X-Id"],"heavyThreads":3,"maxConnections":500,
             "maxConnectionsPerIP":100,"maxPendingPerIP":20,"requestTimeoutSeconds":5,"idleTimeoutSeconds":9,"maxHeaderBytes":4096,
             "maxBatchResponseBytes":1048576}}
            """#))
        XCTAssertEqual(config.rpc.virtualHosts, ["node.example"])
        XCTAssertEqual(config.rpc.corsHeaders, ["Content-Type", "X-Id"])
        XCTAssertEqual([config.rpcHeavyThreads, config.rpc.connectionLimit, config.rpc.maxConnectionsPerIP, config.rpc.maxPendingPerIP,
                        config.rpc.requestTimeoutSeconds, config.rpc.idleTimeoutSeconds, config.rpc.maxHeaderBytes,
                        config.rpcMaxBatchResponseBytes], [3, 500, 100, 20, 5, 9, 4096, 1_048_576])
        XCTAssertThrowsError(try NodeConfig.parse(JSONParser.parse(#"{"dataDir":"d","rpc":{"vhosts":[1]}}"#))) {
            XCTAssertEqual("\($0)", "rpc.vhosts[0]: must be a string")
        }
        XCTAssertThrowsError(try NodeConfig.parse(JSONParser.parse(#"{"dataDir":"d","rpc":{"requestTimeoutSeconds":0}}"#)))
    }

    func testWebSocketLimitFields() throws {
        let defaults = try NodeConfig.parse(JSONParser.parse(#"{"dataDir":"d"}"#))
        XCTAssertEqual([defaults.rpc.maxWebSocketConnections, defaults.rpcMaxSubscriptionsPerConnection, defaults.rpc.webSocketQueueMessages,
                        defaults.rpc.maxEventStreams], [256, 100, 1024, 256])
        let config = try NodeConfig.parse(JSONParser.parse(#"""
            {"dataDir":"d","rpc":{"maxWebSocketConnections":3,"maxSubscriptionsPerConnection":2,"webSocketQueueMessages":16,"maxEventStreams":5}}
            """#))
        XCTAssertEqual([config.rpc.maxWebSocketConnections, config.rpcMaxSubscriptionsPerConnection, config.rpc.webSocketQueueMessages,
                        config.rpc.maxEventStreams], [3, 2, 16, 5])
        XCTAssertNotEqual(config, defaults)
        for field in ["maxWebSocketConnections", "maxSubscriptionsPerConnection", "webSocketQueueMessages", "maxEventStreams"] {
            XCTAssertThrowsError(try NodeConfig.parse(JSONParser.parse(Array("{\"dataDir\":\"d\",\"rpc\":{\"\(field)\":0}}".utf8)))) {
                XCTAssertTrue("\($0)".hasPrefix("rpc.\(field): must be an integer in 1…"), "\($0)")
            }
        }
    }

    func genesisError(_ mutate: (inout JSONObject) -> Void) throws -> String {
        let bytes = try [UInt8](Data(contentsOf: Self.repo.appendingPathComponent("genesis/devnet.json")))
        guard case .object(var o) = try JSONParser.parse(bytes) else { XCTFail(); return "" }
        mutate(&o)
        do {
            _ = try GenesisFile.parse(JSONValue.object(o).serializedBytes())
            return "(accepted)"
        } catch let e as ConfigError {
            return e.message
        }
    }

    func testGenesisErrorsNameTheField() throws {
        XCTAssertTrue(try genesisError { $0["chainId"] = .string("five") }.hasPrefix("chainId"))
        XCTAssertTrue(try genesisError { $0["chainId"] = .int(0) }.hasPrefix("chainId"))
        XCTAssertTrue(try genesisError { $0["gasLimit"] = .int(100) }.hasPrefix("gasLimit"))
        XCTAssertTrue(try genesisError { $0["blockReward"] = .string("-1") }.hasPrefix("blockReward"))
        XCTAssertTrue(try genesisError { $0["blockReward"] = .string("1.5") }.hasPrefix("blockReward"))
        XCTAssertTrue(try genesisError { $0["unknownField"] = .int(1) }.hasPrefix("unknownField"))
        XCTAssertTrue(try genesisError { $0["extraData"] = .string("0x" + String(repeating: "00", count: 33)) }.hasPrefix("extraData"))
        XCTAssertTrue(try genesisError { $0["validators"] = .array([]) }.hasPrefix("validators"))
        let key = Hex.encode(DevNet.consensusKey.publicKey.compressed)
        func validator(_ address: String, _ key: String?, power: Int? = nil) -> JSONValue {
            var o: JSONObject = ["address": .string(address)]
            if let key { o["consensusKey"] = .string(key) }
            if let power { o["power"] = .int(power) }
            return .object(o)
        }
        let address = DevNet.validatorKey.address.hex
        XCTAssertEqual(try genesisError { $0["validators"] = .array([validator(address, nil)]) }, "validators[0].consensusKey: missing required field")
        XCTAssertTrue(try genesisError { $0["validators"] = .array([validator(address, Hex.encode(DevNet.consensusKey.publicKey.uncompressed))]) }
            .hasPrefix("validators[0].consensusKey: validator \(DevNet.validatorKey.address): consensus key must be a 33-byte compressed"))
        XCTAssertTrue(try genesisError { $0["validators"] = .array([validator(address, "0x02" + String(repeating: "00", count: 32))]) }
            .hasPrefix("validators[0].consensusKey"), "a 33-byte string that is not a point on the curve")
        XCTAssertTrue(try genesisError { $0["validators"] = .array([validator(address, key, power: 0)]) }.hasPrefix("validators[0].power"))
        XCTAssertTrue(try genesisError { $0["validators"] = .array([validator(address, key), validator(address.uppercased().replacingOccurrences(of: "0X", with: "0x"), key)]) }
            .contains("listed twice"))
        XCTAssertTrue(try genesisError { $0["alloc"] = .object(["0x1234": .object(["balance": .string("1")])]) }.hasPrefix("alloc"))
        XCTAssertTrue(try genesisError { $0["alloc"] = .object([DevNet.validatorKey.address.hex: .object(["balanse": .string("1")])]) }
            .contains("balanse"))
        XCTAssertTrue(try genesisError { $0["alloc"] = .object([
            "0x" + String(repeating: "11", count: 20): .object(["balance": .string("0x" + String(repeating: "f", count: 64))]),
            "0x" + String(repeating: "22", count: 20): .object(["balance": .string("1")]),
        ]) }.contains("2^256"))
        XCTAssertEqual(try genesisError { _ in }, "(accepted)")
        XCTAssertThrowsError(try GenesisFile.parse(Array("{\"chainId\": ".utf8)))
    }

    /// Without a `validators` list the genesis has the devnet's validator (power 1); the set's
    /// hash is keccak256 of the RLP list of [address, consensusKey, power] in address order.
    func testGenesisValidatorSet() throws {
        let devnet = try GenesisFile.parse(Array(DevNet.genesisJSON.utf8))
        var withoutList = try JSONParser.parse(Array(DevNet.genesisJSON.utf8)).objectValue!
        withoutList["validators"] = nil
        let defaulted = try GenesisFile.parse(JSONValue.object(withoutList).serializedBytes())
        XCTAssertEqual(defaulted.config.validators, devnet.config.validators)
        XCTAssertEqual(defaulted.config.validators.totalPower, 1)
        let v = DevNet.validator
        XCTAssertEqual(devnet.config.validators.hash,
                       Keccak256.hash(RLP.encode(.list([.list([.bytes(v.address.bytes), .bytes(v.consensusKey), .uint(UInt64(1))])]))))
        let block0 = try devnet.genesisBlock(nodes: TrieNodeStore(store: MemoryStore())).block.header
        XCTAssertEqual(block0.validatorsHash, devnet.config.validators.hash)
        XCTAssertEqual(block0.nextValidatorsHash, devnet.config.validators.hash)
    }

    func testKernelSpecVersionsSchedule() throws {
        func activation(_ version: Int, _ from: Int) -> JSONValue { .object(["version": .int(version), "fromBlock": .int(from)]) }
        let bytes = try [UInt8](Data(contentsOf: Self.repo.appendingPathComponent("genesis/devnet.json")))
        XCTAssertEqual(try GenesisFile.parse(bytes).config.kernelSpecSchedule, .initial, "absent: version 1 from genesis")
        XCTAssertEqual(try genesisError { $0["kernelSpecVersions"] = .array([activation(1, 0)]) }, "(accepted)")
        XCTAssertEqual(try genesisError { $0["kernelSpecVersions"] = .array([activation(2, 0)]) },
                       "kernelSpecVersions[0].version: this node's kernel does not implement spec version 2 (it implements 1); upgrade opgd")
        XCTAssertEqual(try genesisError { $0["kernelSpecVersions"] = .array([activation(1, 0), activation(3, 100)]) },
                       "kernelSpecVersions[1].version: this node's kernel does not implement spec version 3 (it implements 1); upgrade opgd")
        XCTAssertEqual(try genesisError { $0["kernelSpecVersions"] = .array([activation(1, 5)]) },
                       "kernelSpecVersions: the first activation must be at block 0, not 5")
        XCTAssertEqual(try genesisError { $0["kernelSpecVersions"] = .array([]) }, "kernelSpecVersions: at least one activation is required")
        XCTAssertEqual(try genesisError { $0["kernelSpecVersions"] = .array([activation(1, 0), activation(1, 9)]) }.prefix(18),
                       "kernelSpecVersions")
        XCTAssertTrue(try genesisError { $0["kernelSpecVersions"] = .array([.object(["version": .int(1)])]) }.hasPrefix("kernelSpecVersions[0].fromBlock"))
        XCTAssertTrue(try genesisError { $0["kernelSpecVersions"] = .array([.object(["version": .int(1), "fromBlock": .int(0), "at": .int(1)])]) }
            .contains("at"))
    }

    /// `blobs` is optional, each of its fields defaulting (docs/models.md, "Gas").
    func testGenesisBlobParameters() throws {
        let bytes = try [UInt8](Data(contentsOf: Self.repo.appendingPathComponent("genesis/devnet.json")))
        let defaults = try GenesisFile.parse(bytes).config.blobs
        XCTAssertEqual([defaults.gasPerByte, UInt64(defaults.maxBytes), defaults.uploadExpiryBlocks], [8, 32 << 20, 7_200])
        guard case .object(var o) = try JSONParser.parse(bytes) else { return XCTFail() }
        o["blobs"] = .object(["gasPerByte": .int(3), "uploadExpiryBlocks": .int(50)])
        let set = try GenesisFile.parse(JSONValue.object(o).serializedBytes()).config.blobs
        XCTAssertEqual([set.gasPerByte, UInt64(set.maxBytes), set.uploadExpiryBlocks], [3, 32 << 20, 50])
        XCTAssertTrue(try genesisError { $0["blobs"] = .object(["maxBytes": .int(0)]) }.hasPrefix("blobs.maxBytes"))
        XCTAssertTrue(try genesisError { $0["blobs"] = .object(["gasPerByte": .string("8")]) }.hasPrefix("blobs.gasPerByte"))
        XCTAssertTrue(try genesisError { $0["blobs"] = .object(["uploadExpiryBlocks": .int(0)]) }.hasPrefix("blobs.uploadExpiryBlocks"))
        XCTAssertTrue(try genesisError { $0["blobs"] = .object(["maxbytes": .int(5)]) }.contains("maxbytes"))
        XCTAssertTrue(try genesisError { $0["blobs"] = .int(5) }.hasPrefix("blobs"))
    }

    /// `jobs` is optional: every genesis writes the jobs module's parameters, defaults for
    /// what it leaves out (docs/verification.md, "Parameters").
    func testGenesisJobs() throws {
        let bytes = try [UInt8](Data(contentsOf: Self.repo.appendingPathComponent("genesis/devnet.json")))
        let plain = try GenesisFile.parse(bytes).moduleStorage.filter { $0.address == Jobs.address }
        XCTAssertEqual(plain.map(\.value), (JobsParameters.default.words + [UInt256(2), .zero, UInt256(2), .zero]).map { Hash32(word: $0) },
                       "the twelve default parameters, then agenda version 2 and settlement version 2 from block 0")
        guard case .object(var o) = try JSONParser.parse(bytes) else { return XCTFail() }
        o["jobs"] = .object(["challengeBlocks": .int(0), "committeeSize": .int(4)])
        let set = try GenesisFile.parse(JSONValue.object(o).serializedBytes()).moduleStorage.filter { $0.address == Jobs.address }
        XCTAssertEqual(set[3].value, .zero, "a challenge window of 0 is allowed")
        XCTAssertEqual(set[4].value, Hash32(word: UInt256(4)))
        XCTAssertEqual(try genesisError { $0["jobs"] = .object(["committeeSize": .int(0)]) }, "jobs.committeeSize: must be an integer in 1…16")
        XCTAssertEqual(try genesisError { $0["jobs"] = .object(["burnShareBps": .int(600)]) },
                       "jobs: providerShareBps + verifierShareBps + burnShareBps must be 10000, got 10100")
        XCTAssertEqual(try genesisError { $0["jobs"] = .object(["quorum": .int(1)]) }, "jobs.quorum: unknown field")
        o["jobs"] = .object(["agendaVersion": .int(1), "agendaVersionFromBlock": .int(500)])
        let versioned = try GenesisFile.parse(JSONValue.object(o).serializedBytes()).moduleStorage.filter { $0.address == Jobs.address }
        let agendaWords = versioned.filter { [Hash32.slot(18), Hash32.slot(19)].contains($0.slot) }
        XCTAssertEqual(agendaWords.map(\.slot), [Hash32.slot(18), Hash32.slot(19)], "docs/verification.md, \"Storage\"")
        XCTAssertEqual(agendaWords.map(\.value), [Hash32(word: UInt256(1)), Hash32(word: UInt256(500))])
        XCTAssertEqual(try genesisError { $0["jobs"] = .object(["agendaVersion": .int(3)]) }, "jobs.agendaVersion: must be an integer in 1…2")
        o["jobs"] = .object(["settlementVersion": .int(1), "settlementVersionFromBlock": .int(700)])
        let settlement = try GenesisFile.parse(JSONValue.object(o).serializedBytes()).moduleStorage.filter { $0.address == Jobs.address }
            .filter { [Hash32.slot(28), Hash32.slot(29)].contains($0.slot) }
        XCTAssertEqual(settlement.map(\.slot), [Hash32.slot(28), Hash32.slot(29)], "docs/verification.md, \"Storage\"")
        XCTAssertEqual(settlement.map(\.value), [Hash32(word: UInt256(1)), Hash32(word: UInt256(700))])
        XCTAssertEqual(try genesisError { $0["jobs"] = .object(["settlementVersion": .int(3)]) }, "jobs.settlementVersion: must be an integer in 1…2")
    }

    /// `staking` is optional: every genesis writes the staking parameters, defaults for what
    /// it leaves out, and bonds its operators (docs/staking.md, "Genesis").
    func testGenesisStaking() throws {
        let bytes = try [UInt8](Data(contentsOf: Self.repo.appendingPathComponent("genesis/devnet.json")))
        let plain = try GenesisFile.parse(bytes)
        XCTAssertEqual(plain.staked, .zero)
        XCTAssertEqual(plain.moduleStorage.filter { $0.address == Staking.address }.count, 11, "the eleven default parameters")
        XCTAssertEqual(plain.moduleStorage[3].value, Hash32(word: UInt256(100)), "epochBlocks defaults to 100")
        let key = "0x0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"  // secp256k1's generator
        let validator: JSONValue = .object(["address": .string(DevNet.validatorKey.address.hex), "role": .string("validator"),
                                            "stake": .string("10000000000000000000000"), "consensusKey": .string(key)])
        let provider: JSONValue = .object(["address": .string("0x" + String(repeating: "22", count: 20)), "role": .string("provider"),
                                           "stake": .string("10000000000000000000000"), "models": .array([.string("QmA")]), "hardwareClass": .string("gpu")])
        guard case .object(var o) = try JSONParser.parse(bytes) else { return XCTFail() }
        o["staking"] = .object(["epochBlocks": .int(7), "operators": .array([validator, provider])])
        o["validators"] = nil  // devnet.json lists the same account with another key and power (testGenesisValidatorsFromStaking)
        let staked = try GenesisFile.parse(JSONValue.object(o).serializedBytes())
        XCTAssertEqual(staked.staked, StakingParameters.opg * 20_000)
        XCTAssertEqual(staked.totalAlloc, plain.totalAlloc! + StakingParameters.opg * 20_000, "the genesis supply counts the stake")
        XCTAssertEqual(staked.moduleStorage[3].value, Hash32(word: UInt256(7)))
        XCTAssertEqual(try genesisError { $0["staking"] = .object(["epochBlocks": .int(0)]) }, "staking.epochBlocks: must be an integer in 1…1099511627776")
        XCTAssertEqual(try genesisError { $0["staking"] = .object(["slashRewardBps": .int(10_001)]) }, "staking.slashRewardBps: must be an integer in 0…10000")
        XCTAssertEqual(try genesisError { $0["staking"] = .object(["providerMinStake": .string("1")]) }, "staking: providerMinStake: must be at least 1 OPG (10^18 wei)")
        XCTAssertEqual(try genesisError { $0["staking"] = .object(["minStake": .int(1)]) }, "staking.minStake: unknown field")
        func withOperator(_ fields: [(String, JSONValue)]) throws -> String {
            try genesisError { $0["staking"] = .object(["operators": .array([.object(JSONObject(fields))])]) }
        }
        XCTAssertEqual(try withOperator([("address", .string("0x12")), ("role", .string("provider")), ("stake", .string("1"))]),
                       "staking.operators[0].address: \"0x12\" is not a 20-byte hex address")
        XCTAssertEqual(try withOperator([("address", .string(DevNet.validatorKey.address.hex)), ("role", .string("miner")), ("stake", .string("1"))]),
                       "staking.operators[0].role: \"miner\" is not provider, verifier or validator")
        XCTAssertEqual(try withOperator([("address", .string(DevNet.validatorKey.address.hex)), ("role", .string("validator")), ("stake", .string("1"))]),
                       "staking.operators[0].consensusKey: missing required field")
        XCTAssertTrue(try withOperator([("address", .string(DevNet.validatorKey.address.hex)), ("role", .string("validator")),
                                        ("stake", .string("10000000000000000000000")), ("consensusKey", .string("0x02"))])
            .hasPrefix("staking: operators[0] (\(DevNet.validatorKey.address.checksummed)): consensus key must be a 33-byte compressed"))
        XCTAssertTrue(try withOperator([("address", .string(DevNet.validatorKey.address.hex)), ("role", .string("provider")), ("stake", .string("1")),
                                        ("models", .array([.string("QmA")])), ("hardwareClass", .string("gpu"))]).contains("below the provider minimum"))
        XCTAssertEqual(try withOperator([("address", .string(DevNet.validatorKey.address.hex)), ("role", .string("provider")), ("stake", .string("1")),
                                         ("models", .array([.int(1)]))]), "staking.operators[0].models[0]: must be a string")
    }

    /// A genesis that bonds validators in `staking.operators` takes the validator set from
    /// staking (docs/chain.md, "Validators"); top-level `validators` are bootstrapped into
    /// staking or must agree with it; without staking validators the genesis set signs.
    func testGenesisValidatorsFromStaking() throws {
        let bytes = try [UInt8](Data(contentsOf: Self.repo.appendingPathComponent("genesis/devnet.json")))
        XCTAssertFalse(try GenesisFile.parse(bytes).validatorsFromStaking, "no staking section: the genesis set")
        let key = "0x0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"  // secp256k1's generator
        let stakedValidator: JSONValue = .object(["address": .string(DevNet.validatorKey.address.hex), "role": .string("validator"),
                                                  "stake": .string("10000000000000000000000"), "consensusKey": .string(key)])
        let provider: JSONValue = .object(["address": .string("0x" + String(repeating: "22", count: 20)), "role": .string("provider"),
                                           "stake": .string("10000000000000000000000"), "models": .array([.string("QmA")]), "hardwareClass": .string("gpu")])
        let other = try PrivateKey(Keccak256.digest(Array("bootstrapped validator".utf8)))
        let listed: JSONValue = .object(["address": .string(other.address.hex), "consensusKey": .string(Hex.encode(other.publicKey.compressed)),
                                         "power": .int(20_000)])
        func parse(_ mutate: (inout JSONObject) -> Void) throws -> GenesisSpec {
            guard case .object(var o) = try JSONParser.parse(bytes) else { throw ConfigError("not an object") }
            mutate(&o)
            return try GenesisFile.parse(JSONValue.object(o).serializedBytes())
        }
        let providersOnly = try parse { $0["staking"] = .object(["operators": .array([provider])]) }
        XCTAssertFalse(providersOnly.validatorsFromStaking, "staking bonds no validator: the genesis set")
        XCTAssertEqual(providersOnly.config.validators.validators.map(\.address), [DevNet.validatorKey.address])

        let fromStaking = try parse {
            $0["validators"] = .array([listed])
            $0["staking"] = .object(["operators": .array([stakedValidator, provider])])
        }
        XCTAssertTrue(fromStaking.validatorsFromStaking)
        let want = try ValidatorSet([Validator(address: DevNet.validatorKey.address, consensusKey: try Hex.decode(key), power: 10_000),
                                     Validator(address: other.address, consensusSigner: other, power: 20_000)])
        XCTAssertEqual(fromStaking.config.validators, want, "the staking operator and the bootstrapped top-level validator")
        XCTAssertEqual(fromStaking.staked, StakingParameters.opg * 40_000, "the bootstrapped validator bonds its power in whole OPG")
        let database = try ChainDatabase(store: MemoryStore())
        let genesis = try ChainSetup.initialise(database, spec: fromStaking, genesisBytes: [])
        XCTAssertEqual(genesis.validatorsHash, want.hash)
        let chain = ChainSetup.service(spec: fromStaking, database: database)
        XCTAssertTrue(chain.builder.validatorSets is StakingValidatorSets)
        let sets = try chain.builder.validatorSets.validatorSets(forChildOf: genesis)
        XCTAssertEqual(sets.current, want, "staking agrees with the genesis header at height 1")
        XCTAssertEqual(sets.next, want)
        XCTAssertTrue(ChainSetup.service(spec: providersOnly, database: try ChainDatabase(store: MemoryStore())).builder.validatorSets
            is GenesisValidatorSets)

        XCTAssertEqual(try genesisError { $0["staking"] = .object(["operators": .array([stakedValidator])]) },
                       "validators[0]: \(DevNet.validatorKey.address) is also staking.operators[0], which differs (role, consensus key, or power 1 vs a stake of 10000 OPG); list it once, or the same in both")
        XCTAssertEqual(try genesisError {
            $0["validators"] = .array([.object(["address": .string(other.address.hex), "consensusKey": .string(Hex.encode(other.publicKey.compressed)),
                                                "power": .int(5)])])
            $0["staking"] = .object(["operators": .array([stakedValidator])])
        }, "validators[0].power: 5 would bond 5 OPG in staking, below staking.validatorMinStake (10000000000000000000000 wei); raise its power or list it in staking.operators")
    }

    func configError(_ text: String) -> String {
        do {
            _ = try NodeConfig.parse(try JSONParser.parse(text))
            return "(accepted)"
        } catch {
            return "\(error)"
        }
    }

    func testConfigErrorsNameTheField() {
        XCTAssertTrue(configError(#"{"dataDir": "x", "rpc": {"port": "eighty"}}"#).hasPrefix("rpc.port"))
        XCTAssertTrue(configError(#"{"dataDir": "x", "rpc": {"port": 70000}}"#).hasPrefix("rpc.port"))
        XCTAssertTrue(configError(#"{"dataDir": "x", "rpc": {"corsOrigins": [1]}}"#).hasPrefix("rpc.corsOrigins[0]"))
        XCTAssertTrue(configError(#"{"dataDir": "x", "logLevel": "loud"}"#).hasPrefix("logLevel"))
        XCTAssertTrue(configError(#"{"dataDir": "x", "blockIntervalMs": 1}"#).hasPrefix("blockIntervalMs"))
        XCTAssertTrue(configError(#"{"dataDir": "x", "txPool": {"pendingSlots": 0}}"#).hasPrefix("txPool.pendingSlots"))
        XCTAssertTrue(configError(#"{"dataDir": "x", "queryLimits": {"maxFilters": 0}}"#).hasPrefix("queryLimits.maxFilters"))
        XCTAssertTrue(configError(#"{"dataDir": "x", "queryLimits": {"filters": 1}}"#).contains("filters"))
        XCTAssertTrue(configError(#"{"dataDir": "x", "surprise": true}"#).hasPrefix("surprise"))
        XCTAssertTrue(configError(#"{"rpc": {}}"#).hasPrefix("dataDir"))
        XCTAssertTrue(configError(#"[]"#).contains("object"))
        XCTAssertEqual(configError(#"{"dataDir": "x", "rpc": {"host": "127.0.0.1", "port": 0}, "logLevel": "debug"}"#), "(accepted)")
    }

    func testAConfigFileCannotEnableTheDevSigner() {
        for value in ["true", "false"] {
            XCTAssertThrowsError(try NodeConfig.parse(JSONParser.parse(#"{"dataDir":"d","devSigner":\#(value)}"#))) {
                XCTAssertEqual(($0 as? ConfigError)?.message, NodeConfig.devSignerRefusal)
            }
        }
        XCTAssertFalse(try NodeConfig.parse(JSONParser.parse(#"{"dataDir":"d"}"#)).devSigner)
    }

    func testTheDevSignerIsRefusedWithoutTheDevValidator() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("devsigner-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = Array(DevNet.genesisJSON.utf8)
        _ = try ChainSetup.initDataDir(spec: try GenesisFile.parse(bytes), genesisBytes: bytes, dataDir: dir, logger: Logger(level: .error))
        var config = NodeConfig(dataDir: dir)
        config.devSigner = true
        XCTAssertThrowsError(try NodeRuntime(config: config, logger: Logger(level: .error))) {
            XCTAssertEqual(($0 as? ConfigError)?.message,
                           "devSigner: refused on chain 5197895: the dev signer runs only on a devnet started by `opgd dev`")
        }
    }

    func testMissingFileIsNamed() {
        XCTAssertThrowsError(try NodeConfig.load("/nonexistent/node.json")) { XCTAssertTrue("\($0)".contains("/nonexistent/node.json")) }
    }
}
