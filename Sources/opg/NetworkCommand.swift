import CLIKit
import Foundation
import JSON
import Operators
import Primitives

let networkUsage = """
usage: opg network [--rpc URL] [--epochs N] [--interval SECONDS] [--once]

The verification network's vital signs (opg_verificationStats, docs/rpc.md): for the last
--epochs staking epochs (default 5, within the method's 10,000-block range) and their total,
calls and their growth, unique callers, jobs, attestations, coverage, active providers and
verifiers, largest vote share and Nakamoto coefficient, time to quorum and to finality
(median / 90th percentile, in blocks), dispute, overturn, timeout and refund rates.
Redraws the table every --interval seconds (default 5) until interrupted; --once prints it
once and exits (for scripts).
"""

/// `opg network`: a live table of `opg_verificationStats`.
func networkCommand(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, options: ["--rpc", "--epochs", "--interval"], flags: ["--once"])
    if args.wantsHelp { print(networkUsage); return 0 }
    try args.expectPositionals([])
    guard let epochs = UInt64(args.option("--epochs") ?? "5"), (1...100).contains(epochs) else {
        throw UsageError("--epochs: a whole number of epochs from 1 to 100")
    }
    guard let interval = UInt32(args.option("--interval") ?? "5"), (1...3600).contains(interval) else {
        throw UsageError("--interval: a whole number of seconds from 1 to 3600")
    }
    let rpc = try RPCClient(args.option("--rpc") ?? defaultRPC)
    if args.flag("--once") {
        print(try networkView(rpc, epochs: epochs), terminator: "")
        return 0
    }
    while true {
        let text: String
        do { text = try networkView(rpc, epochs: epochs) } catch { text = "opg network: \(error) (retrying every \(interval) s)\n" }
        print("\u{1B}[H\u{1B}[2J" + text, terminator: "")
        fflush(stdout)
        sleep(interval)
    }
}

/// The table for the last `epochs` epochs up to the head.
func networkView(_ rpc: RPCClient, epochs: UInt64) throws -> String {
    guard let head = try rpc.quantity("eth_blockNumber", []).uint64 else { throw CommandFailure("eth_blockNumber: head does not fit 64 bits") }
    let probe = try rpc.call("opg_verificationStats", [.string(Hex.quantity(head)), .string(Hex.quantity(head))])
    guard let epochBlocks = UInt64(probe["epochBlocks"]?.numberValue?.text ?? ""), epochBlocks > 0 else {
        throw CommandFailure("opg_verificationStats: no epochBlocks in \(probe.serialized())")
    }
    let firstEpoch = head / epochBlocks >= epochs - 1 ? head / epochBlocks - (epochs - 1) : 0
    let from = max(firstEpoch * epochBlocks, head >= 9_999 ? head - 9_999 : 0)
    let stats = try rpc.call("opg_verificationStats", [.string(Hex.quantity(from)), .string(Hex.quantity(head))])
    let slices = (stats["epochs"]?.arrayValue ?? []) + [stats["total"] ?? .null]
    let names = (stats["epochs"]?.arrayValue ?? []).map { "epoch \($0["epoch"]?.numberValue?.text ?? "?")" } + ["total"]
    var rows: [[String]] = [["figure"] + names]
    rows.append(["blocks"] + slices.map { slice in
        slice["fromBlock"] == nil ? "\(from)…\(head)" : "\(slice["fromBlock"]?.numberValue?.text ?? "?")…\(slice["toBlock"]?.numberValue?.text ?? "?")"
    })
    for (label, render) in networkFigures() { rows.append([label] + slices.map(render)) }
    let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
    var out = "opg network · head \(head) · epochs of \(epochBlocks) blocks · \(Date())\n\n"
    for (i, row) in rows.enumerated() {
        out += zip(row, widths).enumerated().map { column, cell in
            column == 0 ? cell.0.padding(toLength: cell.1, withPad: " ", startingAt: 0)
                : String(repeating: " ", count: cell.1 - cell.0.count) + cell.0
        }.joined(separator: "  ") + "\n"
        if i == 0 { out += widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ") + "\n" }
    }
    let staked = stats["verifierStake"] ?? .null
    out += "\nverifier stake at block \(head): \(staked["verifiers"]?.numberValue?.text ?? "?") verifiers, largest share "
        + "\(percentFigure("largestShareBps")(staked)), Nakamoto coefficient \(staked["nakamotoCoefficient"]?.numberValue?.text ?? "—")\n"
    return out + "\nrates are shares of decided jobs (coverage, refunds, timeouts), of verdicts (disputes) and of resolved disputes (overturns); — = undefined\n"
}

/// How a slice shows the basis points under `key`: a percentage with two decimals (a sign
/// when `signed`), or — when undefined.
private func percentFigure(_ key: String, signed: Bool = false) -> (JSONValue) -> String {
    { slice in
        guard let bps = Int64(slice[key]?.numberValue?.text ?? "") else { return "—" }
        let magnitude = bps.magnitude
        let sign = bps < 0 ? "-" : signed && bps > 0 ? "+" : ""
        return "\(sign)\(magnitude / 100).\(String(format: "%02d", Int(magnitude % 100)))%"
    }
}

/// Each row of the table: its label and how a slice's JSON shows it.
private func networkFigures() -> [(String, (JSONValue) -> String)] {
    func count(_ key: String) -> (JSONValue) -> String { { $0[key]?.numberValue?.text ?? "—" } }
    func blocks(_ key: String) -> (JSONValue) -> String {
        { slice in
            guard let figure = slice[key], let median = figure["median"]?.numberValue?.text, let p90 = figure["p90"]?.numberValue?.text else { return "—" }
            return "\(median) / \(p90)"
        }
    }
    return [
        ("calls (jobs + in-block)", count("calls")), ("calls growth", percentFigure("callsGrowthBps", signed: true)),
        ("unique callers", count("uniqueCallers")), ("jobs", count("jobs")), ("in-block inference calls", count("inferenceCalls")),
        ("unique requesters", count("uniqueRequesters")), ("attestations", count("attestations")), ("coverage", percentFigure("coverageBps")),
        ("active providers", count("activeProviders")), ("active verifiers", count("activeVerifiers")),
        ("largest vote share", percentFigure("largestVoteShareBps")), ("Nakamoto coefficient", count("nakamotoCoefficient")),
        ("time to quorum (med / p90)", blocks("timeToQuorum")), ("time to finality (med / p90)", blocks("timeToFinality")),
        ("pending jobs", count("pending")), ("dispute rate", percentFigure("disputeRateBps")), ("overturn rate", percentFigure("overturnRateBps")),
        ("timeout rate", percentFigure("timeoutRateBps")), ("refund rate", percentFigure("refundRateBps")), ("slashes", count("slashes")),
    ]
}
