import CLIKit
import Foundation
import Inference
import Node
import Operators

let providerUsage = """
usage: opg provider --config FILE
       opg verifier --config FILE

provider  runs the jobs drawn to this operator: follows new blocks, runs each assigned job with
          the kernel, accepts it (fee and collateral), commits the output and trace root,
          finalizes it after its challenge window, and reveals its trace when it is disputed.
verifier  attests the jobs whose committee holds this operator: re-runs each exact job, compares
          output and trace root, commits then reveals a signed EIP-712 attestation; challenges
          (with the chain's bond, up to config `challengeBondCap`; `challenge: false` turns it
          off) a job it attested whose committed output its re-run contradicts once the quorum
          found it valid; when a job it voted invalid or challenged is disputed, proves the
          provider's first wrong node (or its output).

Both serve the inputs and outputs they hold over HTTP (config `listen`), keep a record of every
signature and transaction they send (written before it leaves; a restart reuses it and never signs
another verdict), log one line per event and a status line. docs/daemons.md describes the config
file field by field; a malformed config exits with code 2 naming the field. SIGINT or SIGTERM
stops them.
"""

/// `opg provider` and `opg verifier`: the operator daemons (Sources/Operators).
func operatorCommand(_ role: DaemonRole, _ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, options: ["--config"])
    if args.wantsHelp { print(providerUsage); return 0 }
    try args.expectPositionals([])
    let config: OperatorConfig
    do { config = try OperatorConfig.load(try args.required("--config"), role: role) } catch let e as ConfigError { throw UsageError(e.message) }
    InferenceSession.keepFreedMemoryInProcess()
    let logger = Logger(level: config.logLevel)
    let context: OperatorContext
    do { context = try OperatorContext(config: config, logger: logger) } catch let e as ConfigError { throw UsageError(e.message) }
    let kernel = KernelRunner(threads: config.threads) { [reader = context.reader] id in try reader.modelBytes(id, localFile: config.models[id]) }
    var runners: [JobRunner] = (config.chat.map { [ChatRunner(files: $0, threads: config.threads)] } ?? []) + [kernel]
    if let endpoint = config.openAI {
        do { runners.insert(OpenAIRunner(endpoint: endpoint, apiKey: try endpoint.apiKey()), at: 0) } catch let e as ConfigError { throw UsageError(e.message) }
    }
    let duty: OperatorDuty = role == .provider ? ProviderDuty(context: context, runners: runners) : VerifierDuty(context: context, runners: runners)
    try OperatorDaemon(context: context, duty: duty).run()
}
