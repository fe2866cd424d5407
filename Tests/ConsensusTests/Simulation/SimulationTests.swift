import Consensus
import Foundation
import XCTest

/// The deterministic simulation (issue 11 §5). `OPG_SIM_SEEDS` sets how many seeds run
/// (`make sim` runs many more than `swift test`); `OPG_SIM_FIRST_SEED` where they start.
final class SimulationTests: XCTestCase {
    private var seeds: ClosedRange<UInt64> {
        let env = ProcessInfo.processInfo.environment
        let first = env["OPG_SIM_FIRST_SEED"].flatMap(UInt64.init) ?? 1
        let count = env["OPG_SIM_SEEDS"].flatMap(UInt64.init) ?? 300
        return first...(first + max(count, 1) - 1)
    }

    func testEverySeedIsSafeAndCommitsAfterHealing() throws {
        var failures: [String] = []
        var stats = (events: 0, heights: UInt64(0), byzantine: 0, evidence: 0)
        for seed in seeds {
            let sim = try Simulation(seed: seed)
            _ = try sim.run()
            if !sim.violations.isEmpty { failures.append("seed \(seed): \(sim.violations.prefix(3).joined(separator: "; "))") }
            stats.events += sim.events
            stats.heights += sim.nodes.map { $0.application.committedHeight }.max() ?? 0
            stats.byzantine += sim.config.byzantine == nil ? 0 : 1
            stats.evidence += sim.evidence.isEmpty ? 0 : 1
        }
        print("simulation: \(seeds.count) seeds, \(stats.events) events, \(stats.heights) heights, \(stats.byzantine) with a byzantine validator, \(stats.evidence) produced evidence")
        XCTAssert(failures.isEmpty, "\(failures.count) failing seeds:\n" + failures.prefix(20).joined(separator: "\n"))
        XCTAssertGreaterThan(stats.evidence, 0, "no seed caught the byzantine validator equivocating")
    }

    func testEachSeedReproducesItsTraceHash() throws {
        var hashes: Set<String> = []
        for seed in UInt64(1)...8 {
            let first = try Simulation(seed: seed).run()
            let second = try Simulation(seed: seed).run()
            XCTAssertEqual(first, second, "seed \(seed) is not deterministic")
            hashes.insert(first.hex)
        }
        XCTAssertEqual(hashes.count, 8, "different seeds gave the same trace")
    }

    /// The proposer of height 1 round 0 is byzantine and the network is split from the start:
    /// each side may see a different proposal. Safety holds, and the equivocation is caught.
    func testConflictingProposalsUnderAPartition() throws {
        var caught = 0
        for seed in UInt64(1)...12 {
            let powers: [UInt64] = [1, 1, 1, 1]
            let genesis = try ValidatorSet(powers.indices.map { Validator(address: Simulation.keys[$0].address, power: 1) })
            let byzantine = Simulation.keys.firstIndex { $0.address == genesis.proposer(round: 0).address }!
            let config = SimConfig(powers: powers, byzantine: byzantine, maxDelay: 5, dropPermille: 0, duplicatePermille: 0,
                                   chaosMillis: 250, crashes: [], partitions: [(at: 0, until: 200)])
            let sim = try Simulation(seed: seed, config: config)
            _ = try sim.run()
            XCTAssertEqual(sim.violations, [], "seed \(seed)")
            caught += sim.evidence.isEmpty ? 0 : 1
        }
        XCTAssertGreaterThan(caught, 0)
    }
}
