import Foundation
import HTTPServer
import JSON
import Modules
import Primitives

/// The explorer at `/` (docs/explorer.md) and the chat page at `/chat` (docs/chat.md): pages of static files embedded in the binary
/// (`Sources/Node/Explorer/`, each with its gzip variant written by `make explorer-assets`),
/// the modules' ABIs and the network's constants as `/explorer/network.json`, and the
/// JavaScript libraries it uses, read once at start from the Debian packages that hold
/// them (`explorer.javascriptDir`, default `/usr/share/javascript`): nothing comes from
/// the internet. A library that is not installed is answered with 404 and the package to
/// install, and the page says so where it would have used it.
final class Explorer {
    /// A JavaScript library from a Debian package: the route, the file under the
    /// JavaScript directory, and the package that installs it.
    struct Library {
        let route: String
        let file: String
        let package: String
    }

    /// The libraries the explorer loads.
    static let libraries = [Library(route: "/explorer/lib/chart.js", file: "chart.js/chart.min.js", package: "libjs-chart.js")]

    private let javascriptDirectory: String
    private let network: JSONValue

    /// An explorer whose libraries come from `javascriptDirectory`; `network` is served as
    /// `/explorer/network.json`.
    init(javascriptDirectory: String, network: JSONValue) {
        self.javascriptDirectory = javascriptDirectory
        self.network = network
    }

    /// Blocks per epoch, from the staking module's `parameters()` at `reader`'s state.
    static func epochBlocks(_ reader: ModelRPC.Reader) throws -> UInt64 {
        let type = ABIType.tuple(Array(repeating: .uint(256), count: 11))
        guard case .tuple(let fields) = try ABI.decode([type], reader.view(at: Staking().address, "parameters()", []))[0],
              let epochBlocks = fields[3].uintValue?.uint64 else { throw ModuleDecoderError("staking parameters() has no epochBlocks") }
        return epochBlocks
    }

    /// The jobs module's block counts (`parameters()` words 0…3 in the order of
    /// docs/verification.md "Parameters"): the page places the hook's transitions, which emit
    /// no event, with them. Nil on a chain whose genesis wrote no jobs parameters.
    static func jobsBlockParameters(_ reader: ModelRPC.Reader) -> [(name: String, blocks: UInt64)]? {
        guard let output = try? reader.view(at: Jobs.address, "parameters()", []),
              case .tuple(let words)? = try? ABI.decode([Jobs.parametersType], output).first else { return nil }
        return zip(["acceptBlocks", "attestCommitBlocks", "attestRevealBlocks", "challengeBlocks"], words).map { ($0, $1.uintValue?.uint64 ?? 0) }
    }

    /// The chain's native currency as wallets describe it (EIP-3085's `nativeCurrency`).
    static let nativeCurrency: JSONValue = ["name": "OPG", "symbol": "OPG", "decimals": 18]

    /// `network.json`: the chain id, the genesis file's network name (null when it names none)
    /// and native currency (the two names a wallet shows, EIP-3085's `chainName` and
    /// `nativeCurrency`), blocks per epoch, the jobs module's block counts (null without jobs) and
    /// each module's name, address, ABI and event topics (keccak256 of each event's signature,
    /// which the page cannot compute).
    static func network(chainId: UInt64, networkName: String? = nil, epochBlocks: UInt64, jobs: [(name: String, blocks: UInt64)]? = nil,
                        modules: [NativeModule] = StandardModules.all()) throws -> JSONValue {
        .object(["chainId": .int(chainId), "networkName": networkName.map { .string($0) } ?? .null, "nativeCurrency": nativeCurrency,
                 "epochBlocks": .int(epochBlocks),
                 "jobs": jobs.map { .object(JSONObject($0.map { ($0.name, .int($0.blocks)) })) } ?? .null,
                 "modules": .array(try modules.map { module in
                     .object(["name": .string(module.name), "address": .string(module.address.checksummed),
                              "abi": try JSONParser.parse(module.abiJSON),
                              "eventTopics": .object(JSONObject(module.events.map { (String($0.prefix { $0 != "(" }), .string(ABI.eventTopic($0).hex)) }))])
                 })])
    }

    /// Adds the explorer's routes to `router`. Returns the libraries that are missing, for
    /// the node's log.
    @discardableResult
    func register(on router: HTTPRouter) -> [Library] {
        let html = "text/html; charset=utf-8"
        router.asset("/", StaticAsset(body: PackageResources.index_html, contentType: html, gzipBody: PackageResources.index_html_gz))
        router.asset("/explorer/explorer.js", StaticAsset(body: PackageResources.explorer_js, contentType: "text/javascript; charset=utf-8",
                                                          gzipBody: PackageResources.explorer_js_gz))
        router.asset("/explorer/explorer.css", StaticAsset(body: PackageResources.explorer_css, contentType: "text/css; charset=utf-8",
                                                           gzipBody: PackageResources.explorer_css_gz))
        router.asset("/chat", StaticAsset(body: PackageResources.chat_html, contentType: html, gzipBody: PackageResources.chat_html_gz))
        router.asset("/explorer/chat.js", StaticAsset(body: PackageResources.chat_js, contentType: "text/javascript; charset=utf-8",
                                                      gzipBody: PackageResources.chat_js_gz))
        router.asset("/explorer/chat.css", StaticAsset(body: PackageResources.chat_css, contentType: "text/css; charset=utf-8",
                                                       gzipBody: PackageResources.chat_css_gz))
        router.asset("/explorer/network.json", StaticAsset(body: network.serializedBytes(), contentType: "application/json"))
        var missing: [Library] = []
        for library in Self.libraries {
            let path = (javascriptDirectory as NSString).appendingPathComponent(library.file)
            if let bytes = FileManager.default.contents(atPath: path) {
                router.asset(library.route, StaticAsset(body: Array(bytes), contentType: "text/javascript; charset=utf-8"))
            } else {
                missing.append(library)
                let message = "404 \(library.route) is not installed: \(path) is missing; install the Debian package \(library.package) "
                    + "(apt-get install \(library.package)) or set explorer.javascriptDir in the node's config\n"
                router.get(library.route) { _ in .answer(.text(message, status: 404)) }
            }
        }
        return missing
    }
}
