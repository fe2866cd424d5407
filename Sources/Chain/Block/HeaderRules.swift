import Primitives

/// Every rule a header must meet before its transactions are executed, in one place:
/// block import, a peer's proposal (`ChainService.verify`) and our own proposals all go
/// through `check`. The roots, bloom and gas used are checked after execution, against
/// the executed block.
public enum HeaderRules {
    /// The nonce every header carries: 8 zero bytes (Ethereum's post-merge constant).
    public static let nonce = [UInt8](repeating: 0, count: 8)
    /// The longest `extraData` web3.py accepts.
    public static let maxExtraDataBytes = 32

    /// Checks `header` as the child of `parent`, proposed by `proposer` (nil: any member
    /// of the current set, for a block already certified elsewhere, such as a replay)
    /// and signed by `validators`. Throws `InvalidBlock` naming the rule broken.
    public static func check(_ h: Header, parent: Header, proposer: Address?,
                             validators: (current: ValidatorSet, next: ValidatorSet)) throws {
        guard h.parentHash == parent.hash else { throw InvalidBlock("parentHash \(h.parentHash) is not the parent's hash \(parent.hash)") }
        guard h.number == parent.number + 1 else { throw InvalidBlock("number \(h.number) does not follow \(parent.number)") }
        guard h.timestamp >= parent.timestamp else { throw InvalidBlock("timestamp \(h.timestamp) is before the parent's \(parent.timestamp)") }
        guard h.gasLimit == parent.gasLimit else { throw InvalidBlock("gasLimit \(h.gasLimit) differs from the parent's \(parent.gasLimit)") }
        guard h.baseFeePerGas == parent.nextBaseFee else { throw InvalidBlock("baseFeePerGas \(h.baseFeePerGas) should be \(parent.nextBaseFee)") }
        guard h.ommersHash == Header.emptyOmmersHash else { throw InvalidBlock("ommersHash \(h.ommersHash) is not the hash of an empty list") }
        guard h.difficulty.isZero else { throw InvalidBlock("difficulty \(h.difficulty) is not zero") }
        guard h.nonce == nonce else { throw InvalidBlock("nonce \(Hex.encode(h.nonce)) is not 8 zero bytes") }
        guard h.mixHash == .zero else { throw InvalidBlock("mixHash \(h.mixHash) is not zero") }
        guard h.extraData.count <= maxExtraDataBytes else {
            throw InvalidBlock("extraData is longer than \(maxExtraDataBytes) bytes (\(h.extraData.count))")
        }
        if let proposer {
            guard h.coinbase == proposer else { throw InvalidBlock("proposer \(h.coinbase) is not the round's proposer \(proposer)") }
        }
        guard validators.current.contains(h.coinbase) else { throw InvalidBlock("proposer \(h.coinbase) is not a validator") }
        guard h.validatorsHash == validators.current.hash else {
            throw InvalidBlock("validatorsHash \(h.validatorsHash) is not the validator set's hash \(validators.current.hash)")
        }
        guard h.nextValidatorsHash == validators.next.hash else {
            throw InvalidBlock("nextValidatorsHash \(h.nextValidatorsHash) is not the next validator set's hash \(validators.next.hash)")
        }
    }

    /// The evidence rules that need no execution: at most `Block.maxEvidence` items of at
    /// most `Block.maxEvidenceBytes` each, no item twice, and the header's `evidenceHash`
    /// present exactly when there is evidence and equal to its hash.
    public static func checkEvidence(_ evidence: [[UInt8]], header h: Header) throws {
        guard evidence.count <= Block.maxEvidence else {
            throw InvalidBlock("the block carries \(evidence.count) evidence items, over the limit of \(Block.maxEvidence)")
        }
        for (i, item) in evidence.enumerated() {
            guard item.count <= Block.maxEvidenceBytes else {
                throw InvalidBlock("evidence \(i) is \(item.count) bytes, over the limit of \(Block.maxEvidenceBytes)")
            }
            guard !evidence[..<i].contains(item) else { throw InvalidBlock("evidence \(i) repeats an earlier item") }
        }
        let want = Block.evidenceHash(evidence)
        guard h.evidenceHash == want else {
            throw InvalidBlock("evidenceHash \(h.evidenceHash.map { "\($0)" } ?? "(absent)") is not the hash of the block's evidence \(want.map { "\($0)" } ?? "(absent: the block carries none)")")
        }
    }
}
