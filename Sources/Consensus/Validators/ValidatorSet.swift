import Primitives

/// The validators of one height, ordered by address, with the proposer priorities that pick
/// the proposer of each round by weighted round-robin.
///
/// Proposer selection (smooth weighted round-robin, deterministic, no hashing, no map order):
/// one *step* adds every validator's power to its priority, picks the validator with the highest
/// priority (ties: the lowest address) and subtracts the total power from the winner's priority.
/// The set of height h carries priorities `P(h)`; the proposer of round r is the winner of step
/// r + 1 taken from `P(h)`; `P(h + 1)` is `P(h)` after one step. Over any `total power`
/// consecutive steps each validator wins exactly `power` times, and the winners are spread out.
/// Priorities sum to zero and stay within ±total power, so 64 bits suffice below ``maxTotalPower``.
public struct ValidatorSet: Hashable, Sendable {
    /// The largest total voting power accepted (priorities then fit in Int64 with room to spare).
    public static let maxTotalPower: UInt64 = UInt64(Int64.max) / 8

    /// The validators, sorted by address.
    public let validators: [Validator]
    /// The sum of all powers.
    public let totalPower: UInt64
    /// Proposer priorities, one per validator in `validators` order.
    public private(set) var priorities: [Int64]
    private let indexByAddress: [Address: Int]

    /// Creates a set with zero priorities (a genesis set), after checking its rules.
    public init(_ validators: [Validator]) throws {
        try self.init(validators, priorities: nil)
    }

    /// Creates a set with given priorities (as stored beside a block), after checking its rules.
    public init(_ validators: [Validator], priorities: [Int64]?) throws {
        guard !validators.isEmpty else { throw ValidatorSetError.empty }
        let sorted = validators.sorted { $0.address < $1.address }
        var total: UInt64 = 0
        var index: [Address: Int] = [:]
        for (i, v) in sorted.enumerated() {
            guard v.power > 0 else { throw ValidatorSetError.zeroPower(v.address) }
            guard index[v.address] == nil else { throw ValidatorSetError.duplicateValidator(v.address) }
            index[v.address] = i
            let (sum, overflow) = total.addingReportingOverflow(v.power)
            guard !overflow, sum <= Self.maxTotalPower else {
                throw ValidatorSetError.totalPowerTooLarge(got: overflow ? UInt64.max : sum, max: Self.maxTotalPower)
            }
            total = sum
        }
        self.validators = sorted
        self.totalPower = total
        self.indexByAddress = index
        if let priorities, priorities.count == sorted.count {
            self.priorities = priorities
        } else {
            self.priorities = [Int64](repeating: 0, count: sorted.count)
        }
    }

    /// The number of validators.
    public var count: Int { validators.count }

    /// The index of a validator by consensus address, or nil.
    public func index(of address: Address) -> Int? { indexByAddress[address] }

    /// The smallest power that is more than two thirds of the total (the paper's 2f + 1).
    public var quorumPower: UInt64 { totalPower * 2 / 3 + 1 }

    /// The smallest power that is more than one third of the total (the paper's f + 1).
    public var oneThirdPower: UInt64 { totalPower / 3 + 1 }

    /// The proposer of `round` at this set's height.
    public func proposer(round: UInt32) -> Validator {
        var copy = priorities
        var winner = 0
        for _ in 0...Int(round) { winner = Self.step(&copy, validators, totalPower) }
        return validators[winner]
    }

    /// This set as it stands at the next height (same validators, priorities after one step).
    public func advanced() -> ValidatorSet {
        var next = self
        _ = Self.step(&next.priorities, validators, totalPower)
        return next
    }

    /// One round-robin step; returns the winner's index.
    private static func step(_ priorities: inout [Int64], _ validators: [Validator], _ total: UInt64) -> Int {
        var winner = 0
        for i in validators.indices {
            priorities[i] += Int64(validators[i].power)
            if priorities[i] > priorities[winner] { winner = i }
        }
        priorities[winner] -= Int64(total)
        return winner
    }

    public static func == (a: ValidatorSet, b: ValidatorSet) -> Bool {
        a.validators == b.validators && a.priorities == b.priorities
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(validators)
        hasher.combine(priorities)
    }
}
