import Primitives

/// A seeded generator (SplitMix64): the simulation's only source of randomness, so a seed fixes a run.
struct SimRandom {
    private var source: SplitMix64

    init(seed: UInt64) { source = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { source.next() }

    /// Uniform in 0..<bound.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// Uniform in range.
    mutating func inRange(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }

    /// True with probability permille / 1000.
    mutating func chance(_ permille: Int) -> Bool { below(1000) < permille }
}
