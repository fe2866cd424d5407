import CLIKit
import Foundation
import Node

let usage = """
usage: opgd <command> [options]

The opg node: LevelDB state, JSON-RPC on HTTP, and a Tendermint validator over encrypted P2P.

commands:
  init     --genesis FILE --datadir DIR   create a data directory from a genesis file
  start    --config FILE                  run a node from a config file (Config/README.md)
  dev      [--datadir DIR] [--genesis FILE] [--port N]
                                          fresh devnet on 127.0.0.1:8545 with funded dev keys
  testnet  --validators N --dir DIR       genesis, keys and configs of a local N-validator network
  replay   --datadir DIR                  re-execute the chain and check the stored state
  bench    [--transactions N] [--rounds N]
                                          sender-recovery and block-import benchmarks
  bench-sync [--blocks N] [--transfers N] [--rounds N]
                                          block sync over loopback against importing the same blocks
  bench-attestations [--jobs N] [--committee N] [--per-transaction N] [--rounds N]
                                          attestation signatures checked in block execution against ecrecover
  version                                 print the client version

Run `opgd <command> --help` for a command's options.
"""

let commandUsage: [String: String] = [
    "init": """
    usage: opgd init --genesis FILE --datadir DIR

    Checks FILE (genesis/README.md) and writes block 0 into DIR. Nothing is written when
    the genesis is malformed. Re-running with the same genesis is a no-op.
    """,
    "start": """
    usage: opgd start --config FILE

    Runs the node described by FILE (Config/README.md): opens the data directory, replays the
    consensus WAL, serves JSON-RPC and runs the validator (the Tendermint engine, with the P2P
    transport when the config names a listen address or peers). SIGTERM or SIGINT stops it cleanly.
    """,
    "testnet": """
    usage: opgd testnet --validators N --dir DIR [--host IP] [--rpc-port N] [--p2p-port N]
                        [--timeouts production|test] [--block-interval-ms N] [--staking]

    Writes DIR/genesis.json (N validators, each with an account and a consensus key, fresh from
    the CSPRNG; the dev accounts funded) and DIR/node<i>/ for each: an initialised data directory
    holding its consensus key and node key, its account key, and config.json with JSON-RPC on
    --rpc-port + i (default 8545), P2P on --p2p-port + i (default 26656) and every other node as a
    persistent peer. Start each with `opgd start --config DIR/node<i>/config.json`.
    --staking bonds every validator in staking at genesis (10,000 OPG, power 10,000 each), so the
    validator set comes from staking: double signs are slashed and tombstoned, and bonding
    changes the set.
    """,
    "dev": """
    usage: opgd dev [--datadir DIR] [--genesis FILE] [--port N] [--block-interval-ms N] [--p2p-port N]

    Wipes DIR (default devnet/data), initialises it from FILE (default: genesis/devnet.json,
    built into the binary, so this works from any directory),
    prints the funded dev accounts and their keys (DEV ONLY, publicly known) and runs a
    single validator with JSON-RPC on 127.0.0.1:N (default 8545). The dev signer is on:
    eth_accounts lists the dev accounts and eth_sendTransaction signs for them (the chat
    page's signer without a wallet); `opgd start` never enables it.
    --p2p-port accepts P2P connections on 127.0.0.1:N (0 picks a free port) and prints this
    node as a peer: an `opgd start` node with no validator key that lists it in
    p2p.persistentPeers follows the devnet (docs/node.md, "Following a devnet").
    """,
    "replay": """
    usage: opgd replay --datadir DIR

    Re-executes every block in DIR from its genesis in memory and checks block roots,
    receipts and the head state. Exit 0 when everything matches, 1 otherwise.
    """,
    "bench": """
    usage: opgd bench [--transactions N] [--rounds R]

    Measures sender recovery (1 thread and all cores) and the import of one block of N
    transfers (default 10000) into a fresh LevelDB chain, against libsecp256k1's own
    recover in a tight C loop on 1 thread and on every core, measured alternately in the
    same process for R rounds (default 5). Prints a Markdown table of median rates and
    median per-round ratios (tools/bench/run.sh, README benchmark table).
    """,
    "bench-sync": """
    usage: opgd bench-sync [--blocks N] [--transfers N] [--rounds R]

    Builds a chain of N blocks (default 200) of T transfers each (default 50), certified by
    3 of 4 validators, then measures block sync from a node serving it to a fresh node over
    loopback P2P against importing the same blocks read into memory beforehand (as from a
    file), alternately for R rounds (default 5). Prints a Markdown table (docs/p2p.md "Block sync").
    """,
    "bench-attestations": """
    usage: opgd bench-attestations [--jobs N] [--committee K] [--per-transaction P] [--rounds R]

    Brings a chain to N attested-only jobs (default 344) in their reveal phase, each with a
    committee of K of 16 verifiers (default 3) who all committed, then validates one block of
    their reveals, P to a transaction (default 64), with the jobs module recovering each
    batch's signatures ahead on every core and in order, against libsecp256k1's recover in a
    C loop on every core, alternately for R rounds (default 5). Prints a Markdown table
    (docs/verification.md, "Attestations").
    """,
]

extension Arguments {
    /// The integer value of `option`, `fallback` when absent; a usage error naming the range otherwise.
    func integer(_ option: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = self.option(option) else { return fallback }
        guard let v = Int(text), range.contains(v) else { throw UsageError("\(option): \"\(text)\" must be an integer in \(range.lowerBound)…\(range.upperBound)") }
        return v
    }
}

func help(_ command: String) -> Int32 {
    print(commandUsage[command] ?? usage)
    return 0
}

/// Config and genesis mistakes are usage errors (exit 2) that name the field.
func asUsage<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ConfigError { throw UsageError(e.message) }
}

var argv = Array(CommandLine.arguments.dropFirst())
runMain(program: "opgd", usageHint: "run `opgd --help` for usage") {
    guard let command = argv.first else { print(usage); return 2 }
    let rest = Array(argv.dropFirst())
    switch command {
    case "--help", "-h", "help":
        print(usage)
        return 0
    case "version", "--version":
        print(ChainSetup.clientVersion)
        return 0
    case "init":
        let args = try Arguments(rest, options: ["--genesis", "--datadir"])
        if args.wantsHelp { return help(command) }
        try args.expectPositionals([])
        let genesis = try args.required("--genesis")
        let datadir = try args.required("--datadir")
        let logger = Logger(level: .info)
        _ = try asUsage { try ChainSetup.initDataDir(genesisPath: genesis, dataDir: datadir, logger: logger) }
        return 0
    case "start":
        let args = try Arguments(rest, options: ["--config"])
        if args.wantsHelp { return help(command) }
        try args.expectPositionals([])
        let config = try asUsage { try NodeConfig.load(try args.required("--config")) }
        let logger = Logger(level: config.logLevel)
        let node = try asUsage { try NodeRuntime(config: config, logger: logger) }
        try node.start()
        node.runUntilSignalled()
        return 0
    case "dev":
        let args = try Arguments(rest, options: ["--datadir", "--genesis", "--port", "--block-interval-ms", "--p2p-port"])
        if args.wantsHelp { return help(command) }
        try args.expectPositionals([])
        return try runDev(args)
    case "testnet":
        let args = try Arguments(rest, options: ["--validators", "--dir", "--host", "--rpc-port", "--p2p-port", "--timeouts", "--block-interval-ms"],
                                 flags: ["--staking"])
        if args.wantsHelp { return help(command) }
        try args.expectPositionals([])
        try writeTestnet(args)
        return 0
    case "replay":
        let args = try Arguments(rest, options: ["--datadir"])
        if args.wantsHelp { return help(command) }
        try args.expectPositionals([])
        let report = try Replay.run(dataDir: try args.required("--datadir"), logger: Logger(level: .info))
        print("replayed \(report.head) blocks: state root \(report.stateRoot.hex) matches; \(report.accountsChecked) accounts checked")
        return 0
    case "bench":
        let args = try Arguments(rest, options: ["--rounds", "--transactions"])
        if args.wantsHelp { return help(command) }
        try args.expectPositionals([])
        var rounds = 5
        if let text = args.option("--rounds") {
            guard let v = Int(text), (1...100).contains(v) else { throw UsageError("--rounds: \"\(text)\" must be an integer in 1…100") }
            rounds = v
        }
        var count = 10_000
        if let text = args.option("--transactions") {
            guard let v = Int(text), v > 0, v <= 1_000_000 else { throw UsageError("--transactions: \"\(text)\" must be an integer in 1…1000000") }
            count = v
        }
        try Bench.run(transactions: count, rounds: rounds)
        return 0
    case "bench-sync":
        let args = try Arguments(rest, options: ["--blocks", "--transfers", "--rounds"])
        if args.wantsHelp { return help(command) }
        try args.expectPositionals([])
        func count(_ option: String, _ fallback: Int, _ range: ClosedRange<Int>) throws -> Int {
            try args.integer(option, default: fallback, in: range)
        }
        try SyncBench.run(blocks: try count("--blocks", 200, 1...100_000), transfers: try count("--transfers", 50, 1...10_000),
                          rounds: try count("--rounds", 5, 1...100))
        return 0
    case "bench-attestations":
        let args = try Arguments(rest, options: ["--jobs", "--committee", "--per-transaction", "--rounds"])
        if args.wantsHelp { return help(command) }
        try args.expectPositionals([])
        func count(_ option: String, _ fallback: Int, _ range: ClosedRange<Int>) throws -> Int {
            try args.integer(option, default: fallback, in: range)
        }
        try AttestationBench.run(jobs: try count("--jobs", 344, 1...2_000), committee: try count("--committee", 3, 1...15),
                                 perTransaction: try count("--per-transaction", AttestationBench.maxPerTransaction, 1...AttestationBench.maxPerTransaction),
                                 rounds: try count("--rounds", 5, 1...100))
        return 0
    default:
        throw UsageError("unknown command \"\(command)\"")
    }
}

func runDev(_ args: Arguments) throws -> Int32 {
    let datadir = args.option("--datadir") ?? "devnet/data"
    let genesisPath = args.option("--genesis")
    let genesisName = genesisPath ?? "the built-in devnet genesis"
    var config = NodeConfig(dataDir: datadir)
    config.genesis = genesisPath
    if let p = args.option("--port") {
        guard let port = Int(p), (0...65535).contains(port) else { throw UsageError("--port: \"\(p)\" is not a port number") }
        config.rpc.port = port
    }
    if let p = args.option("--p2p-port") {
        guard let port = Int(p), (0...65535).contains(port) else { throw UsageError("--p2p-port: \"\(p)\" is not a port number") }
        config.p2pListen = "\(config.rpc.host):\(port)"
    }
    if let ms = args.option("--block-interval-ms") {
        guard let v = UInt64(ms), (10...3_600_000).contains(v) else { throw UsageError("--block-interval-ms: \"\(ms)\" must be in 10…3600000") }
        config.blockIntervalMs = v
    }
    let (spec, genesisBytes) = try asUsage {
        try genesisPath.map(GenesisFile.load) ?? (GenesisFile.parse(Array(DevNet.genesisJSON.utf8)), Array(DevNet.genesisJSON.utf8))
    }
    guard spec.config.validators.contains(DevNet.validatorKey.address) else {
        throw UsageError("--genesis: \(genesisName) does not list the dev validator \(DevNet.validatorKey.address)")
    }
    let logger = Logger(level: .info)
    try? FileManager.default.removeItem(atPath: datadir)
    try FileManager.default.createDirectory(atPath: datadir, withIntermediateDirectories: true)
    let keyFile = (datadir as NSString).appendingPathComponent("validator.key")
    let keyHex = DevNet.validatorKey.bytes.map { String(format: "%02x", $0) }.joined()
    try ("0x" + keyHex + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
    chmod(keyFile, 0o600)
    config.validatorKeyFile = keyFile
    config.devSigner = true
    let chaindata = (datadir as NSString).appendingPathComponent("chaindata")
    config.dataDir = chaindata
    _ = try ChainSetup.initDataDir(spec: spec, genesisBytes: genesisBytes, dataDir: chaindata, logger: logger)
    let node = try NodeRuntime(config: config, logger: logger)
    try node.start()
    var lines = ["", "opg devnet — chain id \(spec.config.chainId), JSON-RPC http://\(config.rpc.host):\(node.rpcPort)", "",
                 "Funded dev accounts. DEV ONLY: these keys are public; never use them on a real network.", ""]
    let funded = Set(spec.alloc.map(\.address))
    for (i, key) in DevNet.accounts.enumerated() where funded.contains(key.address) {
        let hex = key.bytes.map { String(format: "%02x", $0) }.joined()
        lines.append("  (\(i)) \(key.address)  key 0x\(hex)")
    }
    lines.append("")
    lines.append("Dev signer on: eth_sendTransaction signs for these accounts. Chat page: http://\(config.rpc.host):\(node.rpcPort)/chat")
    if let peer = node.p2pAddress { lines.append("P2P peer: \(peer) (list it in a node's p2p.persistentPeers to follow this devnet)") }
    lines.append("Stop with Ctrl-C.")
    print(lines.joined(separator: "\n"))
    fflush(stdout)
    node.runUntilSignalled()
    return 0
}

func writeTestnet(_ args: Arguments) throws {
    func integer(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let text = args.option(name) else { return nil }
        guard let v = Int(text), range.contains(v) else { throw UsageError("\(name): \"\(text)\" must be an integer in \(range.lowerBound)…\(range.upperBound)") }
        return v
    }
    let count = try integer("--validators", 1...100) ?? { throw UsageError("--validators: missing required option") }()
    var options = Testnet.Options(validators: count, directory: try args.required("--dir"))
    options.host = args.option("--host") ?? options.host
    options.rpcPort = try integer("--rpc-port", 1...(65535 - count)) ?? options.rpcPort
    options.p2pPort = try integer("--p2p-port", 1...(65535 - count)) ?? options.p2pPort
    if let t = args.option("--timeouts") {
        guard TimeoutProfile.named(t) != nil else { throw UsageError("--timeouts: \"\(t)\" must be production or test") }
        options.timeouts = t
    }
    options.blockIntervalMs = try integer("--block-interval-ms", 10...3_600_000).map(UInt64.init)
    options.staking = args.flag("--staking")
    try Testnet.write(options, logger: Logger(level: .info))
}
