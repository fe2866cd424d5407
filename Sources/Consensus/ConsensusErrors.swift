import Primitives

// Every error the consensus target throws, one enum per concern, each case with a one-line
// doc comment and the values that explain it (got / expected, offsets, heights).

/// A validator set that breaks a rule.
public enum ValidatorSetError: Error, Equatable, CustomStringConvertible {
    /// The set has no validators.
    case empty
    /// A validator has zero voting power.
    case zeroPower(Address)
    /// The same consensus address appears twice.
    case duplicateValidator(Address)
    /// The total power exceeds the bound that keeps proposer priorities in 64 bits.
    case totalPowerTooLarge(got: UInt64, max: UInt64)

    public var description: String {
        switch self {
        case .empty: return "invalid validator set: no validators"
        case .zeroPower(let a): return "invalid validator set: validator \(a) has zero voting power"
        case .duplicateValidator(let a): return "invalid validator set: validator \(a) listed twice"
        case .totalPowerTooLarge(let got, let max): return "invalid validator set: total voting power \(got) exceeds \(max)"
        }
    }
}

/// A consensus message that cannot be decoded or authenticated.
public enum ConsensusMessageError: Error, Equatable, CustomStringConvertible {
    /// The bytes end before the message does.
    case truncated(needed: Int, available: Int)
    /// Bytes remain after a complete message.
    case trailingBytes(count: Int)
    /// The message kind byte is not one this version knows.
    case unknownKind(UInt8)
    /// A vote type byte other than prevote or precommit.
    case unknownVoteType(UInt8)
    /// A payload longer than the limit.
    case payloadTooLarge(got: Int, max: Int)
    /// A round equal to the reserved "none" encoding.
    case roundOutOfRange(UInt32)
    /// A POL round that is not below the proposal's round.
    case invalidPOLRound(polRound: UInt32, round: UInt32)
    /// The signature does not recover to the address the message names.
    case wrongSigner(claimed: Address, recovered: Address)
    /// The signature is malformed (EIP-2 low s, r/s range) or recovers nothing.
    case badSignature(String)
    /// The signer is not in the validator set of the message's height.
    case unknownValidator(Address)
    /// The proposal is not from the proposer of its round.
    case wrongProposer(got: Address, expected: Address)

    public var description: String {
        switch self {
        case .truncated(let n, let a): return "invalid consensus message: needs \(n) bytes, has \(a)"
        case .trailingBytes(let c): return "invalid consensus message: \(c) trailing bytes"
        case .unknownKind(let k): return "invalid consensus message: unknown kind \(k)"
        case .unknownVoteType(let t): return "invalid consensus message: unknown vote type \(t)"
        case .payloadTooLarge(let g, let m): return "invalid consensus message: payload of \(g) bytes exceeds \(m)"
        case .roundOutOfRange(let r): return "invalid consensus message: round \(r) out of range"
        case .invalidPOLRound(let p, let r): return "invalid proposal: POL round \(p) must be below round \(r)"
        case .wrongSigner(let c, let r): return "invalid signature: message names \(c) but was signed by \(r)"
        case .badSignature(let m): return "invalid signature: \(m)"
        case .unknownValidator(let a): return "invalid consensus message: \(a) is not a validator at this height"
        case .wrongProposer(let g, let e): return "invalid proposal: from \(g), proposer of the round is \(e)"
        }
    }
}

/// A timeout configuration that breaks the timing conditions of the algorithm.
public enum TimeoutConfigError: Error, Equatable, CustomStringConvertible {
    /// A step's base timeout is zero: the step could never wait for a message.
    case zeroTimeout(step: String)
    /// The per-round increment is zero: timeouts would never outgrow the unknown message delay
    /// after GST, which the algorithm's liveness argument needs (paper §4, "timeouts increase with the round").
    case zeroRoundIncrement
    /// A timeout above the sanity bound (a typo such as seconds given as milliseconds).
    case timeoutTooLarge(step: String, millis: UInt64, max: UInt64)
    /// The re-broadcast interval is zero.
    case zeroRebroadcastInterval

    public var description: String {
        switch self {
        case .zeroTimeout(let s): return "invalid timeouts: \(s) timeout must be positive"
        case .zeroRoundIncrement: return "invalid timeouts: the per-round increment must be positive (timeouts must grow with the round)"
        case .timeoutTooLarge(let s, let m, let max): return "invalid timeouts: \(s) timeout \(m) ms exceeds \(max) ms"
        case .zeroRebroadcastInterval: return "invalid timeouts: the vote re-broadcast interval must be positive"
        }
    }
}

/// A signing request the signer refuses, or signer storage that cannot be used.
public enum SignerError: Error, Equatable, CustomStringConvertible {
    /// The request's height/round/step is below the last one signed.
    case regression(requested: SignPosition, lastSigned: SignPosition)
    /// Same height/round/step as the last signature but different sign bytes: a double sign.
    case conflictingRequest(position: SignPosition)
    /// The sign bytes do not encode the position the request claims.
    case malformedRequest(String)
    /// The signer-state file does not parse.
    case corruptState(String)
    /// The key file is missing or not a valid key.
    case badKeyFile(String)
    /// A file operation failed.
    case io(operation: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .regression(let r, let l): return "signer refused: request \(r) is below last signed \(l)"
        case .conflictingRequest(let p): return "signer refused: different sign bytes at already signed \(p) (double sign)"
        case .malformedRequest(let m): return "signer refused: \(m)"
        case .corruptState(let m): return "signer state corrupt: \(m)"
        case .badKeyFile(let m): return "consensus key file: \(m)"
        case .io(let op, let path, let e): return "signer storage: \(op) \(path) failed (errno \(e))"
        }
    }
}

/// A write-ahead log that cannot be read or written.
public enum WALError: Error, Equatable, CustomStringConvertible {
    /// A record header fails its checksum with bytes after it: the log is corrupt, not torn.
    case corruptHeader(offset: Int)
    /// A record body fails its checksum and is not the last record.
    case corruptRecord(offset: Int, expectedCRC: UInt32, gotCRC: UInt32)
    /// A record's length exceeds the limit.
    case recordTooLarge(offset: Int, length: Int, max: Int)
    /// A record with a valid checksum whose body does not decode.
    case undecodableRecord(offset: Int, reason: String)
    /// A file operation failed.
    case io(operation: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .corruptHeader(let o): return "WAL corrupt: record header at offset \(o) fails its CRC32C"
        case .corruptRecord(let o, let e, let g): return "WAL corrupt: record at offset \(o) has CRC32C \(hex32(g)), expected \(hex32(e)), and is not the last record"
        case .recordTooLarge(let o, let l, let m): return "WAL corrupt: record at offset \(o) claims \(l) bytes, limit \(m)"
        case .undecodableRecord(let o, let r): return "WAL corrupt: record at offset \(o) does not decode: \(r)"
        case .io(let op, let path, let e): return "WAL: \(op) \(path) failed (errno \(e))"
        }
    }
}

/// A commit certificate that does not prove a decision.
public enum CertificateError: Error, Equatable, CustomStringConvertible {
    /// A signature in the certificate is for another height, round, type or block.
    case mismatchedVote(index: Int)
    /// The same validator signs twice.
    case duplicateSigner(Address)
    /// The signers' power is not above two thirds of the total.
    case insufficientPower(got: UInt64, needed: UInt64)
    /// A signature fails.
    case invalidSignature(index: Int, reason: String)

    public var description: String {
        switch self {
        case .mismatchedVote(let i): return "invalid commit certificate: vote \(i) is not a precommit for the certified block"
        case .duplicateSigner(let a): return "invalid commit certificate: \(a) signs twice"
        case .insufficientPower(let g, let n): return "invalid commit certificate: power \(g), needs at least \(n)"
        case .invalidSignature(let i, let r): return "invalid commit certificate: vote \(i): \(r)"
        }
    }
}

/// Evidence of a duplicate vote that does not prove equivocation.
public enum EvidenceError: Error, Equatable, CustomStringConvertible {
    /// The two votes differ in height, round, type or validator.
    case differentPositions
    /// The two votes are for the same block.
    case sameBlock
    /// A vote's signature fails.
    case invalidSignature(String)
    /// The validator is not in the set of that height.
    case unknownValidator(Address)

    public var description: String {
        switch self {
        case .differentPositions: return "invalid evidence: votes differ in height, round, type or validator"
        case .sameBlock: return "invalid evidence: both votes are for the same block"
        case .invalidSignature(let m): return "invalid evidence: \(m)"
        case .unknownValidator(let a): return "invalid evidence: \(a) is not a validator at that height"
        }
    }
}

private func hex32(_ v: UInt32) -> String {
    let digits = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
