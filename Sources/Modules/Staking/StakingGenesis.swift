import Chain
import Primitives

extension Staking {
    /// The storage words the staking module holds at genesis: `parameters` in slots 0…10,
    /// then each operator as `register*` would leave it, eligible from epoch 0, and the
    /// validators among them as the set of height 0. Also returns the stake bonded. A
    /// `NativeRevert` names the operator and rule broken.
    public static func genesisStorage(parameters: StakingParameters, operators: [GenesisOperator]) throws
        -> (words: [GenesisStorageWord], staked: UInt256) {
        if let violation = parameters.violation() { throw NativeRevert(violation) }
        var words = GenesisWords()
        for (i, word) in parameters.words.enumerated() { words.set(Hash32.slot(UInt64(i)), word) }
        var staked = UInt256.zero
        var validatorSet: [(Address, UInt64)] = []
        for (i, op) in operators.enumerated() {
            do {
                guard !operators[..<i].contains(where: { $0.address == op.address }) else { throw NativeRevert("listed twice") }
                guard op.stake >= parameters.minimumStake(op.role) else {
                    throw NativeRevert("stake \(op.stake) wei is below the \(op.role.name) minimum of \(parameters.minimumStake(op.role)) wei")
                }
                let base = SolidityStorage.mappingSlot(Slot.operators, key: Hash32(word: op.address))
                func field(_ f: Field) -> Hash32 { SolidityStorage.offset(base, by: UInt256(f.rawValue)) }
                if op.role == .validator {
                    guard op.models.isEmpty, op.hardwareClass.isEmpty else { throw NativeRevert("a validator declares no models or hardware class") }
                    try checkConsensusKey(op.consensusKey)
                    let ownerSlot = SolidityStorage.mappingSlot(Slot.consensusKeyOwners, key: Keccak256.hash(op.consensusKey))
                    guard words.get(ownerSlot).isZero else { throw NativeRevert("consensus key is listed twice") }
                    words.set(ownerSlot, UInt256(word: Hash32(word: op.address)))
                    try words.setBytes(op.consensusKey, at: field(.consensusKey))
                    words.push(Slot.validatorList, [UInt256(word: Hash32(word: op.address))])
                    let power = power(ofStake: op.stake)
                    words.set(field(.power), UInt256(power))
                    validatorSet.append((op.address, power))
                } else {
                    guard op.consensusKey.isEmpty else { throw NativeRevert("only a validator has a consensus key") }
                    try checkDeclaration(models: op.models, hardwareClass: op.hardwareClass)
                    try words.setBytes(Array(op.hardwareClass.utf8), at: field(.hardwareClass))
                    for model in op.models {
                        try words.setBytes(Array(model.utf8), at: words.push(field(.models), []))
                        words.push(SolidityStorage.mappingSlot(Slot.modelOperators, bytesKey: Array(model.utf8)),
                                   [UInt256(word: Hash32(word: op.address))])
                    }
                }
                words.set(field(.role), UInt256(UInt64(op.role.rawValue)))
                words.set(field(.stake), op.stake)
                words.push(Slot.operatorList, [UInt256(word: Hash32(word: op.address))])
                let (sum, overflow) = staked.addingReportingOverflow(op.stake)
                guard !overflow else { throw NativeRevert("the stakes sum to more than 2^256 - 1 wei") }
                staked = sum
            } catch let revert as NativeRevert {
                throw NativeRevert("operators[\(i)] (\(op.address.checksummed)): \(revert.reason)")
            }
        }
        if !validatorSet.isEmpty {
            words.push(Slot.setHeights, [.zero])
            let entries = SolidityStorage.mappingSlot(Slot.validatorSets, key: Hash32(word: UInt256.zero))
            for (account, power) in validatorSet { words.push(entries, [UInt256(word: Hash32(word: account)), UInt256(power)]) }
        }
        return (words.words.map { GenesisStorageWord(address: address, slot: $0.slot, value: Hash32(word: $0.value)) }, staked)
    }
}

/// Storage words being laid out for genesis, in the order first written (an array, so
/// the order never depends on hashing).
private struct GenesisWords {
    var words: [(slot: Hash32, value: UInt256)] = []

    func get(_ slot: Hash32) -> UInt256 { words.first { $0.slot == slot }?.value ?? .zero }

    mutating func set(_ slot: Hash32, _ value: UInt256) {
        if let i = words.firstIndex(where: { $0.slot == slot }) { words[i].value = value } else { words.append((slot, value)) }
    }

    /// Appends an element of `values.count` words (at least one slot) to the array at `base`;
    /// returns its first slot.
    @discardableResult
    mutating func push(_ base: Hash32, _ values: [UInt256]) -> Hash32 {
        let length = get(base)
        set(base, length + .one)
        let slot = SolidityStorage.arrayElementSlot(base, index: length, wordsPerElement: UInt64(max(values.count, 1)))
        for (i, value) in values.enumerated() { set(SolidityStorage.offset(slot, by: UInt256(UInt64(i))), value) }
        return slot
    }

    mutating func setBytes(_ bytes: [UInt8], at base: Hash32) throws {
        for (slot, word) in try SolidityStorage.encodeBytes(bytes, at: base) { set(slot, UInt256(word: word)) }
    }
}
