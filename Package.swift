// swift-tools-version:6.0
// opg — a node for a blockchain that settles verified AI inference.
// Module map and dependency rules: docs/architecture.md. Dependencies only point down.
import PackageDescription

/// Settings shared by every Swift target. Swift 5 language mode keeps C interop
/// (libmicrohttpd callbacks, LevelDB handles) free of Sendable ceremony; shared
/// mutable state is guarded by locks and documented where it lives.
let swiftSettings: [SwiftSetting] = [
    .unsafeFlags(["-enable-testing"], .when(configuration: .debug)),
]

let package = Package(
    name: "opg",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "opgd", targets: ["opgd"]),
        .executable(name: "opg", targets: ["opg"]),
        .library(name: "Inference", targets: ["Inference"]),
    ],
    targets: [
        // C shims: Debian's libraries, wrapped. No C type leaves the Swift target that owns it.
        .systemLibrary(name: "CSecp256k1", path: "Sources/CSecp256k1"),
        .systemLibrary(name: "CLevelDB", path: "Sources/CLevelDB"),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
        .systemLibrary(name: "CMicroHTTPD", path: "Sources/CMicroHTTPD"),
        // Hand-written C kernels for the inference fast path (AVX2/FMA with runtime dispatch).
        .target(
            name: "CKernels",
            path: "Sources/CKernels",
            cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off", "-fno-fast-math"])]
        ),
        // The benchmarks' named peer: libsecp256k1 recover in a tight C loop (opgd bench only).
        .target(
            name: "CBenchPeer",
            path: "Sources/CBenchPeer",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("secp256k1"), .linkedLibrary("pthread")]
        ),

        // Layers, bottom up (docs/architecture.md).
        .target(name: "Primitives", swiftSettings: swiftSettings),
        .target(name: "Crypto", dependencies: ["Primitives", "JSON", "CSecp256k1", "COpenSSL"], swiftSettings: swiftSettings),
        .target(name: "Storage", dependencies: ["CLevelDB"], swiftSettings: swiftSettings),
        .target(name: "JSON", swiftSettings: swiftSettings),
        .target(name: "HTTPServer", dependencies: ["CMicroHTTPD", "COpenSSL"], swiftSettings: swiftSettings),
        .target(name: "Inference", dependencies: ["CKernels", "Primitives"], swiftSettings: swiftSettings),
        .target(name: "Chain", dependencies: ["Primitives", "Crypto", "Storage"], swiftSettings: swiftSettings),
        .target(name: "Network", dependencies: ["Primitives", "Crypto", "COpenSSL"], swiftSettings: swiftSettings),
        .target(name: "Consensus", dependencies: ["Primitives", "Crypto"], swiftSettings: swiftSettings),
        .target(name: "Modules", dependencies: ["Chain", "Consensus", "Primitives", "Crypto", "Inference", "JSON"],
                resources: [.embedInCode("Notary/Notary.json"), .embedInCode("Supply/Supply.json"), .embedInCode("ModelRegistry/ModelRegistry.json"),
                            .embedInCode("InferencePrecompile/InferencePrecompile.json"), .embedInCode("InferenceHub/InferenceHub.json"),
                            .embedInCode("Staking/Staking.json"),
                            .embedInCode("Jobs/Jobs.json")],
                swiftSettings: swiftSettings),
        .target(name: "RPC", dependencies: ["Chain", "Primitives", "Crypto", "JSON", "HTTPServer"], swiftSettings: swiftSettings),
        .target(name: "CLIKit", swiftSettings: swiftSettings),
        .target(name: "Chat", dependencies: ["JSON"], swiftSettings: swiftSettings),
        .target(name: "ChatRuntime", dependencies: ["Chat", "Inference", "JSON", "Primitives", "Crypto"], swiftSettings: swiftSettings),
        .target(name: "Operators", dependencies: ["Node", "Modules", "Chain", "Inference", "Crypto", "Primitives", "JSON", "HTTPServer", "CLIKit", "ChatRuntime"], swiftSettings: swiftSettings),
        .target(name: "Node", dependencies: ["Chain", "Consensus", "Network", "Modules", "Inference", "RPC", "Storage", "Crypto", "Primitives", "JSON", "HTTPServer", "CBenchPeer"],
                resources: [.embedInCode("Explorer/index.html"), .embedInCode("Explorer/explorer.js"), .embedInCode("Explorer/explorer.css"),
                            .embedInCode("Explorer/index.html.gz"), .embedInCode("Explorer/explorer.js.gz"), .embedInCode("Explorer/explorer.css.gz"),
                            .embedInCode("Explorer/chat.html"), .embedInCode("Explorer/chat.js"), .embedInCode("Explorer/chat.css"),
                            .embedInCode("Explorer/chat.html.gz"), .embedInCode("Explorer/chat.js.gz"), .embedInCode("Explorer/chat.css.gz")],
                swiftSettings: swiftSettings),

        // Executables.
        .executableTarget(name: "opgd", dependencies: ["Node", "CLIKit"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "opg",
            dependencies: ["Node", "Chain", "Modules", "RPC", "Crypto", "Primitives", "JSON", "Inference", "CLIKit", "HTTPServer", "Chat", "ChatRuntime", "Operators"],
            swiftSettings: swiftSettings
        ),

        // Unit tests, one target per module.
        .testTarget(name: "PrimitivesTests", dependencies: ["Primitives", "JSON"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto", "Primitives"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "StorageTests", dependencies: ["Storage"], swiftSettings: swiftSettings),
        .testTarget(name: "JSONTests", dependencies: ["JSON"], swiftSettings: swiftSettings),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"], swiftSettings: swiftSettings),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "Primitives"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "ChainTests", dependencies: ["Chain", "Modules", "Primitives", "Crypto", "Storage", "JSON"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "RPCTests", dependencies: ["RPC", "Chain", "Modules", "JSON", "HTTPServer", "Crypto", "Primitives", "Storage"], swiftSettings: swiftSettings),
        .testTarget(name: "ModulesTests", dependencies: ["Modules", "Chain", "Consensus", "Crypto", "Primitives", "Storage", "JSON", "Inference"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "CLIKitTests", dependencies: ["CLIKit"], swiftSettings: swiftSettings),
        .testTarget(name: "NodeTests", dependencies: ["Node", "Chain", "Consensus", "Network", "Crypto", "JSON", "Modules", "Primitives", "Storage"], swiftSettings: swiftSettings),
        .testTarget(name: "OperatorsTests", dependencies: ["Operators", "Modules", "Inference", "Crypto", "Primitives", "JSON", "Node"], swiftSettings: swiftSettings),
        .testTarget(name: "ChatTests", dependencies: ["Chat", "JSON"], swiftSettings: swiftSettings),
        .testTarget(name: "ChatRuntimeTests", dependencies: ["ChatRuntime", "Chat", "Inference", "Primitives"], swiftSettings: swiftSettings),
        .testTarget(name: "NetworkTests", dependencies: ["Network", "Crypto", "Primitives"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "ConsensusTests", dependencies: ["Consensus", "Crypto", "Primitives"], swiftSettings: swiftSettings),
        .testTarget(name: "SyncTests", dependencies: ["Node", "Chain", "Consensus", "Network", "RPC", "JSON", "Modules", "Crypto", "Primitives", "Storage"], swiftSettings: swiftSettings),
    ],
    swiftLanguageModes: [.v5]
)

// libFuzzer targets (no main.swift; they export LLVMFuzzerTestOneInput) link only with
// `--sanitize=fuzzer`, so they exist only when OPG_FUZZ is set. Build them with tools/fuzz.sh
// (`make fuzz`), whose flags give every module both coverage and ASan (the comment there says
// why plain `--sanitize=fuzzer --sanitize=address` does not).
if Context.environment["OPG_FUZZ"] != nil {
    package.targets += [
        .executableTarget(name: "FuzzRLP", dependencies: ["Primitives"], path: "Fuzz/FuzzRLP", exclude: ["corpus"]),
        .executableTarget(name: "FuzzTransaction", dependencies: ["Chain"], path: "Fuzz/FuzzTransaction", exclude: ["corpus"]),
        .executableTarget(name: "FuzzABI", dependencies: ["Primitives"], path: "Fuzz/FuzzABI", exclude: ["corpus"]),
        .executableTarget(name: "FuzzChainData", dependencies: ["Chain"], path: "Fuzz/FuzzChainData", exclude: ["corpus"]),
        .executableTarget(name: "FuzzONNX", dependencies: ["Inference", "Modules"], path: "Fuzz/FuzzONNX", exclude: ["corpus"]),
        .executableTarget(name: "FuzzJSON", dependencies: ["JSON"], path: "Fuzz/FuzzJSON", exclude: ["corpus"]),
        .executableTarget(name: "FuzzInferenceCall", dependencies: ["Modules", "Chain", "Crypto", "Inference", "Primitives", "Storage"],
                          path: "Fuzz/FuzzInferenceCall", exclude: ["corpus"]),
        .executableTarget(name: "FuzzJSONRPC", dependencies: ["RPC", "Chain", "Crypto", "JSON", "Modules", "Node", "Primitives", "Storage"],
                          path: "Fuzz/FuzzJSONRPC", exclude: ["corpus"]),
        .executableTarget(name: "FuzzP2PFrame", dependencies: ["Network"], path: "Fuzz/FuzzP2PFrame", exclude: ["corpus"]),
        .executableTarget(name: "FuzzNoiseHandshake", dependencies: ["Network", "Crypto"], path: "Fuzz/FuzzNoiseHandshake", exclude: ["corpus"]),
        .executableTarget(name: "FuzzEvidence", dependencies: ["Chain", "Consensus", "Crypto", "Modules", "Primitives", "Storage"],
                          path: "Fuzz/FuzzEvidence", exclude: ["corpus"]),
        .executableTarget(name: "FuzzConsensusWire", dependencies: ["Node", "Consensus", "Network", "Primitives"], path: "Fuzz/FuzzConsensusWire", exclude: ["corpus"]),
        .executableTarget(name: "FuzzTokenizer", dependencies: ["Chat", "JSON"], path: "Fuzz/FuzzTokenizer", exclude: ["corpus"]),
        .executableTarget(name: "FuzzSyncMessages", dependencies: ["Node", "Network"], path: "Fuzz/FuzzSyncMessages", exclude: ["corpus"]),
        .executableTarget(name: "FuzzJobDecoders", dependencies: ["Modules", "Chain", "Primitives", "Inference"], path: "Fuzz/FuzzJobDecoders", exclude: ["corpus"]),
    ]
    package.products += [
        .executable(name: "FuzzRLP", targets: ["FuzzRLP"]),
        .executable(name: "FuzzTransaction", targets: ["FuzzTransaction"]),
        .executable(name: "FuzzABI", targets: ["FuzzABI"]),
        .executable(name: "FuzzChainData", targets: ["FuzzChainData"]),
        .executable(name: "FuzzONNX", targets: ["FuzzONNX"]),
        .executable(name: "FuzzJSON", targets: ["FuzzJSON"]),
        .executable(name: "FuzzJSONRPC", targets: ["FuzzJSONRPC"]),
        .executable(name: "FuzzInferenceCall", targets: ["FuzzInferenceCall"]),
        .executable(name: "FuzzP2PFrame", targets: ["FuzzP2PFrame"]),
        .executable(name: "FuzzNoiseHandshake", targets: ["FuzzNoiseHandshake"]),
        .executable(name: "FuzzEvidence", targets: ["FuzzEvidence"]),
        .executable(name: "FuzzConsensusWire", targets: ["FuzzConsensusWire"]),
        .executable(name: "FuzzTokenizer", targets: ["FuzzTokenizer"]),
        .executable(name: "FuzzSyncMessages", targets: ["FuzzSyncMessages"]),
        .executable(name: "FuzzJobDecoders", targets: ["FuzzJobDecoders"]),
    ]
}
