import Crypto
import Foundation
import JSON
import Modules
import Node
import Primitives

/// Which daemon a config is for.
public enum DaemonRole: String, Sendable {
    case provider
    case verifier
}

/// The config file of `opg provider` or `opg verifier` (docs/daemons.md describes every
/// field). Parsing is strict: an unknown field, a wrong type or an out-of-range value is a
/// `ConfigError` naming the field's dotted path.
public struct OperatorConfig: Equatable, Sendable {
    /// The converted chat model and its tokenizer data (`make chat-model chat-data` writes both).
    public struct ChatFiles: Equatable, Sendable {
        public var modelFile: String
        public var tokenizerFile: String

        /// The two files.
        public init(modelFile: String, tokenizerFile: String) {
            self.modelFile = modelFile
            self.tokenizerFile = tokenizerFile
        }
    }

    /// Where the daemon's HTTP server listens (inputs and outputs it holds, for URIs).
    public struct Listen: Equatable, Sendable {
        public var host: String
        public var port: Int

        /// An address to listen on.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public var role: DaemonRole
    /// The node's JSON-RPC URL.
    public var rpc: String
    /// A file holding the operator's private key in hex (as opgd's `validatorKeyFile`).
    public var keyFile: String?
    /// A keystore v3 file holding the operator's key (with `passwordFile`).
    public var keystoreFile: String?
    /// The first line of this file unlocks `keystoreFile`.
    public var passwordFile: String?
    /// The signing record and the inputs and outputs the daemon holds.
    public var stateDir: String
    /// The HTTP server's address; nil serves nothing.
    public var listen: Listen?
    /// The base of the URIs the daemon gives for what it serves (default `http://host:port`).
    public var publicURL: String?
    /// Milliseconds between polls of the node (default 100: a new head is acted on well
    /// inside a 1 s block, so the next transactions make the next block).
    public var pollMs: UInt64 = 100
    /// Seconds between status lines.
    public var statusSeconds: UInt64 = 10
    /// Kernel threads per run.
    public var threads: Int = 1
    /// Local model files by model id (the id as the job names it), read before the registry.
    public var models: [String: String] = [:]
    /// The chat model's files, when this operator runs chat jobs (docs/chat.md, "The chat job").
    public var chat: ChatFiles?
    /// The OpenAI-compatible endpoint answering attested-only chat jobs (provider only).
    public var openAI: OpenAIEndpoint?
    /// Log level.
    public var logLevel: Logger.Level = .info
    /// The provider's fee per job, in wei (capped at each job's max fee).
    public var fee: UInt256 = .zero
    /// Test only: the provider flips a bit of every output it commits.
    public var corruptOutput = false
    /// Test only: the provider commits a trace whose middle leaf is wrong (its output right).
    public var corruptTrace = false
    /// Test only: the provider's commit sent right behind its accept carries too little gas
    /// and fails in its block (the retry with an estimate is what is tested).
    public var starvePipelinedCommit = false
    /// Test only: the verifier attests `valid` without checking.
    public var alwaysValid = false
    /// Test only: the verifier attests `invalid` without checking (a wrong disputer).
    public var alwaysInvalid = false
    /// The verifier challenges a job in its challenge window whose committed output its own
    /// re-run contradicts (docs/daemons.md, "Disputes").
    public var challenge = true
    /// The largest challenge bond, in wei, the verifier puts up (default 100 OPG, the genesis bond).
    public var challengeBondCap = JobsParameters.default.challengeBond
    /// The verifier also re-runs, once, the exact jobs of models it serves that reached their
    /// challenge window without it on the committee, and challenges them by the same rules
    /// (docs/daemons.md, "Disputes"). Off by default: each watched job costs a whole run.
    public var watch = false

    /// The fields each role accepts.
    static func fields(_ role: DaemonRole) -> [String] {
        let common = ["rpc", "keyFile", "keystoreFile", "passwordFile", "stateDir", "listen", "publicURL", "pollMs", "statusSeconds", "threads",
                      "models", "chat", "logLevel"]
        return common + (role == .provider ? ["fee", "corruptOutput", "corruptTrace", "starvePipelinedCommit", "openai"] : ["alwaysValid", "alwaysInvalid", "challenge", "challengeBondCap", "watch"])
    }

    /// Reads and checks a config file; errors name the file and the field.
    public static func load(_ path: String, role: DaemonRole) throws -> OperatorConfig {
        let (value, _) = try readJSONFile(path, what: "config")
        do { return try parse(value, role: role) } catch let e as ConfigError { throw ConfigError("config \(path): \(e.message)") }
    }

    /// Checks a parsed config document for `role`.
    public static func parse(_ value: JSONValue, role: DaemonRole) throws -> OperatorConfig {
        let r = try FieldReader(value, path: "")
        try r.rejectUnknown(fields(role))
        let rpc = try r.string("rpc", required: true)!
        guard rpc.hasPrefix("http://") || rpc.hasPrefix("https://") else { throw ConfigError("rpc: \"\(rpc)\" is not an http:// or https:// URL") }
        let stateDir = try r.string("stateDir", required: true)!
        guard !stateDir.isEmpty else { throw ConfigError("stateDir: must not be empty") }
        var c = OperatorConfig(role: role, rpc: rpc, stateDir: stateDir)
        c.keyFile = try r.string("keyFile")
        c.keystoreFile = try r.string("keystoreFile")
        c.passwordFile = try r.string("passwordFile")
        switch (c.keyFile, c.keystoreFile) {
        case (nil, nil): throw ConfigError("keyFile: missing required field (or keystoreFile with passwordFile)")
        case (.some, .some): throw ConfigError("keyFile: give keyFile or keystoreFile, not both")
        case (nil, .some) where c.passwordFile == nil: throw ConfigError("passwordFile: missing required field (keystoreFile needs it)")
        case (.some, nil) where c.passwordFile != nil: throw ConfigError("passwordFile: only with keystoreFile")
        default: break
        }
        if let listen = try r.object("listen") {
            try listen.rejectUnknown(["host", "port"])
            let host = try listen.string("host") ?? "127.0.0.1"
            guard !host.isEmpty else { throw ConfigError("listen.host: must not be empty") }
            c.listen = Listen(host: host, port: Int(try listen.integer("port", in: 0...65535, required: true)!))
        }
        if let url = try r.string("publicURL") {
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw ConfigError("publicURL: \"\(url)\" is not an http:// or https:// URL") }
            guard c.listen != nil else { throw ConfigError("publicURL: needs listen (nothing is served without it)") }
            c.publicURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        if let v = try r.integer("pollMs", in: 10...60_000) { c.pollMs = v }
        if let v = try r.integer("statusSeconds", in: 1...86_400) { c.statusSeconds = v }
        if let v = try r.integer("threads", in: 1...256) { c.threads = Int(v) }
        if let models = try r.object("models") {
            for id in models.object.keys {
                guard case .string(let file)? = models.object[id], !file.isEmpty else { throw ConfigError("\(models.name(id)): must be the path of a model file") }
                guard c.models[id] == nil else { throw ConfigError("\(models.name(id)): given more than once") }
                c.models[id] = file
            }
        }
        if let chat = try r.object("chat") {
            try chat.rejectUnknown(["modelFile", "tokenizerFile"])
            let model = try chat.string("modelFile", required: true)!, tokenizer = try chat.string("tokenizerFile", required: true)!
            guard !model.isEmpty else { throw ConfigError("chat.modelFile: must be the path of the chat model's ONNX file") }
            guard !tokenizer.isEmpty else { throw ConfigError("chat.tokenizerFile: must be the path of the chat model's tokenizer data") }
            c.chat = ChatFiles(modelFile: model, tokenizerFile: tokenizer)
        }
        if let level = try r.string("logLevel") {
            guard let l = Logger.Level(name: level) else { throw ConfigError("logLevel: must be one of debug, info, warn, error (got \"\(level)\")") }
            c.logLevel = l
        }
        if role == .provider {
            c.fee = try r.amount("fee", required: true)!
            guard c.fee > .zero else { throw ConfigError("fee: must be above zero") }
            c.corruptOutput = try flag(r, "corruptOutput")
            c.corruptTrace = try flag(r, "corruptTrace")
            c.starvePipelinedCommit = try flag(r, "starvePipelinedCommit")
            c.openAI = try r.object("openai").map(OpenAIEndpoint.parse)
        } else {
            c.alwaysValid = try flag(r, "alwaysValid")
            c.alwaysInvalid = try flag(r, "alwaysInvalid")
            guard !(c.alwaysValid && c.alwaysInvalid) else { throw ConfigError("alwaysInvalid: not with alwaysValid") }
            if try r.value("challenge", required: false) != nil { c.challenge = try flag(r, "challenge") }
            if let cap = try r.amount("challengeBondCap") { c.challengeBondCap = cap }
            c.watch = try flag(r, "watch")
            guard !c.watch || c.challenge else { throw ConfigError("watch: needs challenge (a watcher re-runs only to challenge)") }
        }
        return c
    }

    private static func flag(_ r: FieldReader, _ key: String) throws -> Bool {
        guard let v = try r.value(key, required: false) else { return false }
        guard case .bool(let b) = v else { throw ConfigError("\(r.name(key)): must be true or false") }
        return b
    }

    /// The operator's key: `keyFile` in hex, or `keystoreFile` unlocked with `passwordFile`'s first line.
    public func loadKey() throws -> PrivateKey {
        if let keyFile {
            do { return try ChainSetup.loadKey(keyFile) } catch let e as ConfigError {  // its messages name opgd's field
                throw ConfigError("keyFile" + e.message.dropFirst("validatorKeyFile".count))
            }
        }
        let path = keystoreFile ?? "", passwordPath = passwordFile ?? ""
        guard let text = FileManager.default.contents(atPath: path) else { throw ConfigError("keystoreFile \(path): cannot read file") }
        guard let password = FileManager.default.contents(atPath: passwordPath) else { throw ConfigError("passwordFile \(passwordPath): cannot read file") }
        let line = String(decoding: password, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        do { return try Keystore.decrypt(String(decoding: text, as: UTF8.self), password: line.trimmingCharacters(in: CharacterSet(charactersIn: "\r"))) } catch {
            throw ConfigError("keystoreFile \(path): cannot unlock: \(error)")
        }
    }

    /// The base URL of what the daemon serves, once its server knows its port.
    public func servedBase(port: Int) -> String? {
        guard let listen else { return nil }
        return publicURL ?? "http://\(listen.host):\(port)"
    }
}
