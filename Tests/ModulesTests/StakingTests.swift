import Crypto
import Primitives
import Storage
import XCTest
@testable import Chain
@testable import Modules

/// The staking module through real signed transactions, block hooks and the supply
/// ledger: every function, every rejection, and `sum(balances) + staked == supply` after
/// every block.
final class StakingTests: XCTestCase {
    static let opg = StakingParameters.opg
    static let params = StakingParameters(
        providerMinStake: opg * 10, verifierMinStake: opg * 5, validatorMinStake: opg * 100, epochBlocks: 10, unbondingBlocks: 20,
        jailBlocks: 5, slashRewardBps: 1_000, wrongProviderSlashBps: 500, losingVerifierSlashBps: 1_000, equivocationSlashBps: 2_000,
        doubleSignSlashBps: 500)
    static let keys = (0..<6).map { try! PrivateKey(Keccak256.digest(Array("staking test \($0)".utf8))) }
    static let jobs = Address(lowByte: 0xF7)

    /// A state with the staking module's genesis, a Supply module and a stand-in for the jobs
    /// module (a `Vault` at `0x…00F7`, which forwards calls).
    final class Harness {
        let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: TrieNodeStore(store: MemoryStore()), flatReads: false)
        let executor = TransactionExecutor(handlers: NativeHandlerRegistry([Staking(), Supply(), Vault(0xF7)]), encodeRevert: ABI.encodeRevert)
        var number: UInt64 = 1
        private var nonces = [UInt64](repeating: 0, count: StakingTests.keys.count)

        init(params: StakingParameters = StakingTests.params, operators: [GenesisOperator] = []) throws {
            let (words, staked) = try Staking.genesisStorage(parameters: params, operators: operators)
            StakingTests.writeGenesis(state, words: words, staked: staked, funding: StakingTests.keys)
        }

        var env: BlockEnvironment {
            BlockEnvironment(number: number, timestamp: number, coinbase: .zero, baseFee: 0, gasLimit: 30_000_000, chainId: 1)
        }

        /// Sends a transaction from key `k` to the staking module.
        @discardableResult
        func send(_ k: Int, _ signature: String, _ values: [ABIValue] = [], value: UInt256 = .zero) throws -> TransactionResult {
            try sendRaw(k, to: Staking.address, data: ABI.encodeCall(signature, values), value: value)
        }

        /// Sends a call to the staking module through the jobs stand-in (an authorized caller).
        @discardableResult
        func sendAsJobs(_ signature: String, _ values: [ABIValue]) throws -> TransactionResult {
            try sendRaw(0, to: StakingTests.jobs, data: Vault.input(.callOther, UInt256(word: Hash32(word: Staking.address)),
                                                                     try ABI.encodeCall(signature, values)))
        }

        func sendRaw(_ k: Int, to: Address, data: [UInt8], value: UInt256 = .zero) throws -> TransactionResult {
            try StakingTests.apply(executor, state: state, block: env, key: StakingTests.keys[k], nonce: &nonces[k], to: to, data: data,
                                   value: value, gas: 5_000_000)
        }

        /// Ends the block (hooks run) and checks the supply invariant.
        func endBlock(file: StaticString = #filePath, line: UInt = #line) {
            executor.endBlock(env, state: state)
            number += 1
            StakingTests.assertSupplyHolds(state, StakingTests.keys.map(\.address) + [Staking.address, StakingTests.jobs], file: file, line: line)
        }

        /// Runs blocks until `number` is `target`.
        func advance(to target: UInt64) { while number < target { endBlock() } }

        func view(_ signature: String, _ values: [ABIValue] = [], _ types: [ABIType]) throws -> [ABIValue] {
            let r = executor.call(from: .zero, to: Staking.address, value: .zero, data: try ABI.encodeCall(signature, values),
                                  gasLimit: 100_000_000, state: state, block: env)
            if let reason = r.revertReason { throw NativeRevert(reason) }
            return try ABI.decode(types, r.returnData)
        }

        func info(_ k: Int) throws -> [ABIValue] {
            guard case .tuple(let f) = try view("getOperator(address)", [.address(StakingTests.keys[k].address)], [Staking.operatorInfoType])[0] else {
                throw NativeRevert("no tuple")
            }
            return f
        }

        func eligible(_ model: String, _ role: OperatorRole, epoch: UInt64) throws -> [Address] {
            let v = try view("eligibleOperators(string,uint8,uint64)", [.string(model), .uint(UInt256(UInt64(role.rawValue))), .uint(UInt256(epoch))],
                             [.array(.address), .array(.uint(256))])
            guard case .array(let items) = v[0] else { return [] }
            return items.compactMap(\.addressValue)
        }

        func validators(at height: UInt64) throws -> [(Address, UInt64)] {
            let r = executor.call(from: .zero, to: Staking.address, value: .zero, data: try ABI.encodeCall("validatorsAt(uint64)", [.uint(UInt256(height))]),
                                  gasLimit: 100_000_000, state: state, block: env)
            return try Staking.decodeValidators(r.returnData).map { ($0.address, $0.power) }
        }
    }

    static func address(_ k: Int) -> Address { keys[k].address }

    /// Signs a transaction from `key` with nonce `nonce` (then incremented) and applies it in `block`.
    static func apply(_ executor: TransactionExecutor, state: StateDB, block: BlockEnvironment, key: PrivateKey, nonce: inout UInt64,
                      to: Address, data: [UInt8], value: UInt256, gas: UInt64) throws -> TransactionResult {
        let tx = try TestSigner.transaction(nonce: nonce, to: to, data: data, value: value, gas: gas, key: key)
        nonce += 1
        var gasLeft = block.gasLimit
        return try executor.apply(tx, index: 0, state: state, block: block, gasLeft: &gasLeft)
    }

    /// `sum(balances) + staked + escrowed == genesis + minted − burned`, the balances those
    /// of `accounts`, the Supply module and the zero address.
    static func assertSupplyHolds(_ state: StateDB, _ accounts: [Address], file: StaticString, line: UInt) {
        let ledger = SupplyLedger(state)
        var held = UInt256.zero
        for account in accounts + [SupplyLedger.address, .zero] { held += state.balance(of: account) }
        XCTAssertEqual(held + ledger.staked + ledger.escrowed, ledger.totalSupply,
                       "sum(balances) + staked + escrowed == genesis + minted − burned", file: file, line: line)
    }

    /// Writes genesis module storage, gives each of `funding` 1,000 OPG, and records the
    /// genesis supply (balances and `staked`) and stake in the ledger.
    static func writeGenesis(_ state: StateDB, words: [GenesisStorageWord], staked: UInt256, funding: [PrivateKey]) {
        for w in words { state.setStorage(w.value, of: w.address, slot: w.slot) }
        var supply = staked
        for key in funding {
            state.setBalance(opg * 1_000, of: key.address)
            supply += opg * 1_000
        }
        SupplyLedger(state).setGenesisSupply(supply)
        SupplyLedger(state).setGenesisStake(staked)
    }

    static func consensusKey(_ k: Int) -> [UInt8] {
        Staking.compressed(try! PrivateKey(Keccak256.digest(Array("consensus \(k)".utf8))).publicKey)
    }

    /// Key `k`'s proof for `key`, or key `signer`'s signature over key `k`'s message.
    static func proof(_ k: Int, key: [UInt8], chainId: UInt64 = 1, signer: Int? = nil) -> [UInt8] {
        guard let signer else { return Staking.consensusKeyProof(account: keys[k], key: key, chainId: chainId) }
        let sig = keys[signer].sign(Staking.consensusKeyProofHash(account: address(k), key: key, chainId: chainId))
        return sig.r + sig.s + [sig.recoveryID + 27]
    }

    func assertReverts(_ result: TransactionResult, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(result.success, "expected a revert naming \(fragment)", file: file, line: line)
        XCTAssertTrue(result.revertReason?.contains(fragment) ?? false, "\(result.revertReason ?? "no reason") should contain \(fragment)", file: file, line: line)
    }

    // MARK: Registration

    func testProvidersAndVerifiersRegisterAndAreEligibleFromTheNextEpoch() throws {
        let h = try Harness()
        h.advance(to: 5)
        let r = try h.send(0, "registerProvider(string[],string)", [.array([.string("QmModelA"), .string("QmModelB")]), .string("gpu-a100")],
                           value: Self.opg * 10)
        XCTAssertTrue(r.success, "\(r)")
        XCTAssertEqual(r.logs.map { $0.topics[0] }, [ABI.eventTopic("Registered(address,uint8,uint256,uint64)")])
        XCTAssertTrue(try h.send(1, "registerVerifier(string[],string)", [.array([.string("QmModelA")]), .string("cpu")], value: Self.opg * 6).success)
        XCTAssertEqual(SupplyLedger(h.state).staked, Self.opg * 16)
        XCTAssertEqual(h.state.balance(of: Staking.address), .zero, "stake is in no balance")
        let info = try h.info(0)
        XCTAssertEqual(info[0].uintValue, 1)
        XCTAssertEqual(info[1].uintValue, Self.opg * 10)
        XCTAssertEqual(info[2].uintValue, 1, "block 5 is in epoch 0: eligible from epoch 1")
        XCTAssertEqual(info[11].stringValue, "gpu-a100")
        XCTAssertEqual(info[12], .array([.string("QmModelA"), .string("QmModelB")]))
        h.endBlock()
        XCTAssertEqual(try h.eligible("QmModelA", .provider, epoch: 0), [], "not in the epoch of registration")
        XCTAssertEqual(try h.eligible("QmModelA", .provider, epoch: 1), [Self.address(0)])
        XCTAssertEqual(try h.eligible("QmModelA", .verifier, epoch: 1), [Self.address(1)])
        XCTAssertEqual(try h.eligible("QmModelB", .verifier, epoch: 1), [])
        XCTAssertThrowsError(try h.eligible("QmModelA", .provider, epoch: 2)) { XCTAssertTrue("\($0)".contains("not the current epoch 0 or the next")) }
        XCTAssertThrowsError(try h.eligible("QmModelA", .validator, epoch: 0)) { XCTAssertTrue("\($0)".contains("is not 1 (provider) or 2 (verifier)")) }
        XCTAssertEqual(try h.view("operatorCount()", [], [.uint(256)]), [.uint(2)])
        XCTAssertEqual(try h.view("operatorAt(uint256)", [.uint(1)], [.address]), [.address(Self.address(1))])
        XCTAssertThrowsError(try h.view("operatorAt(uint256)", [.uint(2)], [.address])) { XCTAssertTrue("\($0)".contains("out of bounds")) }
        h.advance(to: 10)
        XCTAssertEqual(try h.view("currentEpoch()", [], [.uint(64)]), [.uint(1)])
        XCTAssertEqual(try h.eligible("QmModelA", .provider, epoch: 1), [Self.address(0)])
        XCTAssertThrowsError(try h.info(2)) { XCTAssertTrue("\($0)".contains("is not a registered operator")) }
    }

    func testRegistrationRejections() throws {
        let h = try Harness()
        let register = "registerProvider(string[],string)"
        assertReverts(try h.send(0, register, [.array([.string("QmA")]), .string("cpu")], value: Self.opg * 10 - 1), "below the provider minimum")
        assertReverts(try h.send(0, register, [.array([]), .string("cpu")], value: Self.opg * 10), "declare at least one model id")
        assertReverts(try h.send(0, register, [.array([.string("QmA"), .string("QmA")]), .string("cpu")], value: Self.opg * 10), "declared twice")
        assertReverts(try h.send(0, register, [.array([.string("has space")]), .string("cpu")], value: Self.opg * 10), "printable ASCII")
        assertReverts(try h.send(0, register, [.array([.string(String(repeating: "a", count: 129))]), .string("cpu")], value: Self.opg * 10), "1…128")
        assertReverts(try h.send(0, register, [.array((0...16).map { .string("m\($0)") }), .string("cpu")], value: Self.opg * 10), "over the limit of 16")
        assertReverts(try h.send(0, register, [.array([.string("QmA")]), .string("")], value: Self.opg * 10), "hardware class")
        assertReverts(try h.send(0, register, [.array([.string("QmA")]), .string(String(repeating: "g", count: 32))], value: Self.opg * 10), "hardware class")
        assertReverts(try h.sendRaw(0, to: Staking.address, data: ABI.selector("registerProvider(string[],string)") + [1, 2]), "invalid calldata")
        XCTAssertTrue(try h.send(0, register, [.array([.string("QmA")]), .string("cpu")], value: Self.opg * 10).success)
        assertReverts(try h.send(0, "registerVerifier(string[],string)", [.array([.string("QmA")]), .string("cpu")], value: Self.opg * 10),
                      "already registered as a provider")
        assertReverts(try h.send(1, "registerVerifier(string[],string)", [.array([.string("QmA")]), .string("cpu")], value: Self.opg * 4),
                      "below the verifier minimum")
        assertReverts(try h.send(1, "unbond(uint256)", [.uint(1)], value: 1), "unbond is not payable")
        h.endBlock()
        XCTAssertEqual(SupplyLedger(h.state).staked, Self.opg * 10, "reverted registrations bonded nothing")
    }

    func testValidatorRegistrationChecksTheConsensusKeyProof() throws {
        let h = try Harness()
        let key = Self.consensusKey(0)
        let register = "registerValidator(bytes,bytes)"
        let stake = Self.opg * 100
        assertReverts(try h.send(0, register, [.bytes(Array(key.dropLast())), .bytes(Self.proof(0, key: key))], value: stake), "33-byte compressed")
        assertReverts(try h.send(0, register, [.bytes([4] + key.dropFirst()), .bytes(Self.proof(0, key: key))], value: stake), "33-byte compressed")
        assertReverts(try h.send(0, register, [.bytes([2] + [UInt8](repeating: 0xff, count: 32)), .bytes(Self.proof(0, key: key))], value: stake),
                      "not a point on secp256k1")
        assertReverts(try h.send(0, register, [.bytes(key), .bytes(Array(Self.proof(0, key: key).dropLast()))], value: stake), "65-byte signature")
        var badV = Self.proof(0, key: key)
        badV[64] = 29
        assertReverts(try h.send(0, register, [.bytes(key), .bytes(badV)], value: stake), "v must be 27, 28, 0 or 1")
        assertReverts(try h.send(0, register, [.bytes(key), .bytes(Self.proof(0, key: key, signer: 1))], value: stake),
                      "not the registering account")
        assertReverts(try h.send(0, register, [.bytes(key), .bytes(Self.proof(0, key: key, chainId: 2))], value: stake),
                      "not the registering account")
        assertReverts(try h.send(0, register, [.bytes(key), .bytes(Self.proof(0, key: Self.consensusKey(1)))], value: stake),
                      "not the registering account")
        assertReverts(try h.send(0, register, [.bytes(key), .bytes(Self.proof(0, key: key))], value: stake - 1), "below the validator minimum")
        let ok = try h.send(0, register, [.bytes(key), .bytes(Self.proof(0, key: key))], value: stake)
        XCTAssertTrue(ok.success, "\(ok)")
        assertReverts(try h.send(1, register, [.bytes(key), .bytes(Self.proof(1, key: key))], value: stake), "already registered by")
        // The digest view is the one the proof signs.
        let digest = try h.view("consensusKeyDigest(address,bytes)", [.address(Self.address(0)), .bytes(key)], [.fixedBytes(32)])
        XCTAssertEqual(digest, [.fixedBytes(Staking.consensusKeyDigest(account: Self.address(0), key: key, chainId: 1).bytes)])
        XCTAssertEqual(try h.info(0)[13].bytesValue, key)
    }

    // MARK: Stake movements

    func testAddStakeUnbondAndWithdrawAfterThePeriod() throws {
        let h = try Harness()
        XCTAssertTrue(try h.send(0, "registerProvider(string[],string)", [.array([.string("QmA")]), .string("cpu")], value: Self.opg * 10).success)
        assertReverts(try h.send(0, "addStake()"), "addStake needs value")
        assertReverts(try h.send(1, "addStake()", value: 1), "is not a registered operator")
        let add = try h.send(0, "addStake()", value: Self.opg * 5)
        XCTAssertTrue(add.success)
        XCTAssertEqual(add.logs.map { $0.topics[0] }, [ABI.eventTopic("StakeAdded(address,uint256,uint256)")])
        assertReverts(try h.send(0, "unbond(uint256)", [.uint(0)]), "above zero")
        assertReverts(try h.send(0, "unbond(uint256)", [.uint(Self.opg * 16)]), "exceeds the stake")
        assertReverts(try h.send(0, "unbond(uint256)", [.uint(Self.opg * 6)]), "below the provider minimum")
        assertReverts(try h.send(0, "withdraw()"), "nothing to withdraw")
        let unbond = try h.send(0, "unbond(uint256)", [.uint(Self.opg * 5)])
        XCTAssertTrue(unbond.success)
        XCTAssertEqual(try ABI.decode([.uint(256), .uint(64)], unbond.logs[0].data)[1], .uint(21), "block 1 + 20 unbonding blocks")
        let before = h.state.balance(of: Self.address(0))
        h.advance(to: 20)
        assertReverts(try h.send(0, "withdraw()"), "unbonding until block 21 (now 20)")
        h.endBlock()
        let withdraw = try h.send(0, "withdraw()")
        XCTAssertTrue(withdraw.success, "\(withdraw)")
        XCTAssertEqual(withdraw.logs.map { $0.topics[0] }, [ABI.eventTopic("Withdrawn(address,uint256)")])
        XCTAssertEqual(h.state.balance(of: Self.address(0)), before + Self.opg * 5)
        XCTAssertEqual(SupplyLedger(h.state).staked, Self.opg * 10)
        h.endBlock()
        // Unbonding everything leaves the operator registered but never eligible; adding
        // stake back makes it eligible from the next epoch.
        XCTAssertTrue(try h.send(0, "unbond(uint256)", [.uint(Self.opg * 10)]).success)
        h.advance(to: 30)
        XCTAssertEqual(try h.eligible("QmA", .provider, epoch: 3), [])
        XCTAssertTrue(try h.send(0, "addStake()", value: Self.opg * 10).success)
        XCTAssertEqual(try h.info(0)[2].uintValue, 4)
        h.endBlock()
    }

    // MARK: Faults

    func testSlashBurnsPartAndPaysTheProver() throws {
        let h = try Harness()
        XCTAssertTrue(try h.send(0, "registerProvider(string[],string)", [.array([.string("QmA")]), .string("cpu")], value: Self.opg * 20).success)
        XCTAssertTrue(try h.send(0, "unbond(uint256)", [.uint(Self.opg * 10)]).success)
        let slash = "slash(address,uint16,string,address)"
        assertReverts(try h.send(1, slash, [.address(Self.address(0)), .uint(500), .string("wrong output"), .address(Self.address(1))]),
                      "may be called only by the modules that prove faults")
        assertReverts(try h.sendAsJobs(slash, [.address(Self.address(0)), .uint(0), .string("x"), .address(.zero)]), "not in 1…10000")
        assertReverts(try h.sendAsJobs(slash, [.address(Self.address(0)), .uint(10_001), .string("x"), .address(.zero)]), "not in 1…10000")
        assertReverts(try h.sendAsJobs(slash, [.address(Self.address(0)), .uint(500), .string(""), .address(.zero)]), "reason must be")
        assertReverts(try h.sendAsJobs(slash, [.address(Self.address(5)), .uint(500), .string("x"), .address(.zero)]), "not a registered operator")
        let burnedBefore = SupplyLedger(h.state).burned
        let proverBefore = h.state.balance(of: Self.address(1))
        // 75% of 20 OPG (10 bonded + 10 unbonding) = 15: 10 from the bond, 5 from unbonding.
        let r = try h.sendAsJobs(slash, [.address(Self.address(0)), .uint(7_500), .string("wrong output"), .address(Self.address(1))])
        XCTAssertTrue(r.success, "\(r)")
        XCTAssertEqual(r.logs.map { $0.topics[0] }, [ABI.eventTopic("Slashed(address,address,uint256,uint256,string)")])
        let info = try h.info(0)
        XCTAssertEqual(info[1].uintValue, .zero)
        XCTAssertEqual(info[3].uintValue, Self.opg * 5)
        XCTAssertEqual(info[9].uintValue, 1, "one fault")
        XCTAssertEqual(h.state.balance(of: Self.address(1)), proverBefore + Self.opg * 15 / 10, "10% of the slashed amount to the prover")
        XCTAssertEqual(SupplyLedger(h.state).burned, burnedBefore + Self.opg * 15 * 9 / 10)
        XCTAssertEqual(SupplyLedger(h.state).staked, Self.opg * 5)
        h.endBlock()
        XCTAssertEqual(try h.eligible("QmA", .provider, epoch: 1), [], "below the minimum after the slash")
    }

    func testJailUnjailTombstoneAndAttestationCounters() throws {
        let h = try Harness()
        XCTAssertTrue(try h.send(0, "registerVerifier(string[],string)", [.array([.string("QmA")]), .string("cpu")], value: Self.opg * 5).success)
        assertReverts(try h.send(0, "unjail()"), "is not jailed")
        assertReverts(try h.send(1, "jail(address,string)", [.address(Self.address(0)), .string("offline")]), "may be called only by")
        let jail = try h.sendAsJobs("jail(address,string)", [.address(Self.address(0)), .string("offline")])
        XCTAssertTrue(jail.success, "\(jail)")
        XCTAssertEqual(jail.logs.map { $0.topics[0] }, [ABI.eventTopic("Jailed(address,uint64,string)")])
        assertReverts(try h.sendAsJobs("jail(address,string)", [.address(Self.address(0)), .string("offline")]), "already jailed")
        XCTAssertEqual(try h.eligible("QmA", .verifier, epoch: 1), [], "jailed")
        h.advance(to: 3)
        assertReverts(try h.send(0, "unjail()"), "jailed until block 6 (now 3)")
        h.advance(to: 6)
        let unjail = try h.send(0, "unjail()")
        XCTAssertTrue(unjail.success, "\(unjail)")
        XCTAssertEqual(try h.info(0)[2].uintValue, 1, "eligible again from the next epoch")
        assertReverts(try h.sendAsJobs("recordAttestations(address,uint64)", [.address(Self.address(0)), .uint(0)]), "above zero")
        XCTAssertTrue(try h.sendAsJobs("recordAttestations(address,uint64)", [.address(Self.address(0)), .uint(3)]).success)
        XCTAssertTrue(try h.sendAsJobs("recordAttestations(address,uint64)", [.address(Self.address(0)), .uint(2)]).success)
        XCTAssertEqual(try h.info(0)[8].uintValue, 5)
        let tomb = try h.sendAsJobs("tombstone(address,string)", [.address(Self.address(0)), .string("two reveals")])
        XCTAssertTrue(tomb.success)
        assertReverts(try h.sendAsJobs("tombstone(address,string)", [.address(Self.address(0)), .string("again")]), "already tombstoned")
        h.advance(to: 100)
        assertReverts(try h.send(0, "unjail()"), "tombstoned and can never be unjailed")
        assertReverts(try h.send(0, "addStake()", value: 1), "is tombstoned")
        XCTAssertTrue(try h.send(0, "unbond(uint256)", [.uint(Self.opg * 5)]).success, "a tombstoned operator still unbonds")
        h.endBlock()
    }

    // MARK: Validator set

    func testValidatorChangesApplyTwoBlocksLaterCappedBelowAThird() throws {
        let genesis = [GenesisOperator(address: Self.address(0), role: .validator, stake: Self.opg * 300, consensusKey: Self.consensusKey(0))]
        let h = try Harness(operators: genesis)
        XCTAssertEqual(try h.validators(at: 0).map(\.1), [300])
        let key = Self.consensusKey(1)
        h.advance(to: 4)
        XCTAssertTrue(try h.send(1, "registerValidator(bytes,bytes)", [.bytes(key), .bytes(Self.proof(1, key: key))], value: Self.opg * 200).success)
        h.endBlock()  // block 4: set for height 6
        XCTAssertEqual(try h.validators(at: 5).map(\.0), [Self.address(0)], "unchanged at H+1")
        // Total 300: a height may change at most (300 − 1) / 3 = 99 of power.
        XCTAssertEqual(try h.validators(at: 6).map(\.1), [300, 99])
        h.endBlock()  // block 5: set for height 7, total 399 → 132 more
        XCTAssertEqual(try h.validators(at: 7).map(\.1), [300, 200])
        h.endBlock()  // nothing pending: no new set
        XCTAssertEqual(try h.validators(at: 1_000).map(\.1), [300, 200])
        XCTAssertEqual(try h.info(1)[14].uintValue, 200)
        // Jailing removes the validator, under the same cap.
        XCTAssertTrue(try h.sendAsJobs("jail(address,string)", [.address(Self.address(1)), .string("double sign")]).success)
        h.endBlock()
        XCTAssertEqual(try h.validators(at: h.number + 1).map(\.1), [300, 34], "500 total: at most 166 leaves per height")
        h.endBlock()
        XCTAssertEqual(try h.validators(at: h.number + 1).map(\.0), [Self.address(0)])
    }

    // MARK: Genesis

    func testGenesisOperatorsAreBondedAndEligibleAtEpochZero() throws {
        let genesis = [
            GenesisOperator(address: Self.address(2), role: .provider, stake: Self.opg * 10, models: ["QmA"], hardwareClass: "gpu"),
            GenesisOperator(address: Self.address(3), role: .validator, stake: Self.opg * 100, consensusKey: Self.consensusKey(3)),
        ]
        let h = try Harness(operators: genesis)
        XCTAssertEqual(SupplyLedger(h.state).staked, Self.opg * 110)
        XCTAssertEqual(try h.eligible("QmA", .provider, epoch: 0), [Self.address(2)])
        XCTAssertEqual(try h.validators(at: 0).map(\.0), [Self.address(3)])
        XCTAssertEqual(try h.view("parameters()", [], [Staking.parametersType]), [.tuple(Self.params.words.map(ABIValue.uint))])
        h.endBlock()
        func rejects(_ ops: [GenesisOperator], _ fragment: String, params: StakingParameters = StakingTests.params, line: UInt = #line) {
            XCTAssertThrowsError(try Staking.genesisStorage(parameters: params, operators: ops), line: line) {
                XCTAssertTrue(($0 as? NativeRevert)?.reason.contains(fragment) ?? false, "\($0)", line: line)
            }
        }
        rejects([genesis[0], genesis[0]], "operators[1] (\(Self.address(2).checksummed)): listed twice")
        rejects([GenesisOperator(address: Self.address(2), role: .verifier, stake: Self.opg, models: ["QmA"], hardwareClass: "gpu")], "below the verifier minimum")
        rejects([GenesisOperator(address: Self.address(2), role: .validator, stake: Self.opg * 100, consensusKey: [2])], "33-byte compressed")
        rejects([GenesisOperator(address: Self.address(2), role: .validator, stake: Self.opg * 100, models: ["QmA"], consensusKey: Self.consensusKey(3))],
                "declares no models")
        rejects([GenesisOperator(address: Self.address(2), role: .provider, stake: Self.opg * 10, models: [], hardwareClass: "gpu")], "at least one model")
        rejects([genesis[1], GenesisOperator(address: Self.address(4), role: .validator, stake: Self.opg * 100, consensusKey: Self.consensusKey(3))],
                "consensus key is listed twice")
        var bad = Self.params
        bad.epochBlocks = 0
        rejects([], "epochBlocks", params: bad)
        bad = Self.params
        bad.slashRewardBps = 10_001
        rejects([], "slashRewardBps", params: bad)
    }

    func testAChainWithoutStakingParametersRefusesPolitely() throws {
        let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: TrieNodeStore(store: MemoryStore()), flatReads: false)
        let executor = TransactionExecutor(handlers: NativeHandlerRegistry([Staking()]), encodeRevert: ABI.encodeRevert)
        let env = BlockEnvironment(number: 1, timestamp: 1, coinbase: .zero, baseFee: 0, gasLimit: 30_000_000, chainId: 1)
        let r = executor.call(from: .zero, to: Staking.address, value: 0, data: ABI.selector("currentEpoch()"), gasLimit: 1_000_000, state: state, block: env)
        XCTAssertEqual(r.revertReason, "staking is not enabled on this chain: its genesis wrote no staking parameters")
        executor.endBlock(env, state: state)  // nothing pending: the hook does nothing
    }

    // MARK: Swift API

    /// A module that calls the staking module's Swift API, as the jobs module will.
    final class Prover: NativeHandler {
        let address = StakingTests.jobs
        let name = "Prover"
        func call(_ context: NativeCallContext) throws -> [UInt8] {
            let target = Address(word: try Hash32(Array(context.input[0..<32])))
            let eligible = try Staking.eligibleOperators(model: "QmA", role: .provider, epoch: 0, context: context)
            guard eligible.map(\.address) == [target] else { throw NativeRevert("eligible: \(eligible)") }
            try Staking.recordAttestations(target, count: 2, context: context)
            let slashed = try Staking.slash(target, fractionBps: 500, reason: "wrong output", beneficiary: context.caller, context: context)
            try Staking.jail(target, reason: "wrong output", context: context)
            try Staking.tombstone(target, reason: "wrong output", context: context)
            guard try Staking.validators(at: 0, context: context).isEmpty else { throw NativeRevert("validators") }
            return slashed.bigEndianBytes32
        }
    }

    func testTheSwiftAPIOtherModulesCall() throws {
        let genesis = [GenesisOperator(address: Self.address(2), role: .provider, stake: Self.opg * 20, models: ["QmA"], hardwareClass: "gpu")]
        let h = try Harness(operators: genesis)
        let executor = TransactionExecutor(handlers: NativeHandlerRegistry([Staking(), Prover()]), encodeRevert: ABI.encodeRevert)
        let tx = try TestSigner.transaction(nonce: 0, to: Self.jobs, data: Hash32(word: Self.address(2)).bytes, gas: 5_000_000, key: Self.keys[1])
        var gas: UInt64 = 30_000_000
        let r = try executor.apply(tx, index: 0, state: h.state, block: h.env, gasLeft: &gas)
        XCTAssertTrue(r.success, "\(r)")
        XCTAssertEqual(r.returnData, (Self.opg).bigEndianBytes32, "5% of 20 OPG")
        let info = try h.info(2)
        XCTAssertEqual(info[8].uintValue, 2)
        XCTAssertEqual(info[7], .bool(true))
        XCTAssertEqual(r.logs.count, 4, "AttestationsRecorded, Slashed, Jailed, Tombstoned")
        // A failed staking call surfaces as a revert naming the staking module.
        let again = try TestSigner.transaction(nonce: 1, to: Self.jobs, data: Hash32(word: Self.address(2)).bytes, gas: 5_000_000, key: Self.keys[1])
        let failed = try executor.apply(again, index: 0, state: h.state, block: h.env, gasLeft: &gas)
        XCTAssertTrue(failed.revertReason?.hasPrefix("eligible") ?? false, "\(failed)")
        h.endBlock()
    }
}

extension StakingTests {
    /// The end-block hook rewrites the whole set for H + 2 within its 10,000,000 gas: 160
    /// validators fit; at 180 the hook runs out of gas, its changes are undone and the set
    /// stays as it was, still pending (docs/staking.md, "Validator set").
    func testTheSetHookBoundIsAboutOneHundredSeventyValidators() throws {
        for (count, fits) in [(160, true), (180, false)] {
            let genesis = (0..<count).map { i in
                GenesisOperator(address: Address(word: Hash32(word: UInt256(UInt64(1_000 + i)))), role: .validator, stake: Self.opg * 1_000,
                                consensusKey: Staking.compressed(try! PrivateKey(Keccak256.digest(Array("set \(i)".utf8))).publicKey))
            }
            let h = try Harness(operators: genesis)
            XCTAssertTrue(try h.sendAsJobs("jail(address,string)", [.address(genesis[0].address), .string("offline")]).success)
            h.endBlock()
            XCTAssertEqual(try h.validators(at: 3).count, fits ? count - 1 : count, "\(count) validators")
            XCTAssertEqual(h.state.storage(of: Staking.address, slot: Staking.Slot.validatorsPending) == .zero, fits)
        }
    }
}
