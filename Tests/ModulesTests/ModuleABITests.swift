import Foundation
import JSON
import Primitives
import Storage
import XCTest
@testable import Chain
@testable import Modules

/// Each module's published ABI (docs/abi/NAME.json) against the module: the embedded
/// copy is the file, every function and event in the file is one the module declares,
/// and every declared selector is one the module actually dispatches.
final class ModuleABITests: XCTestCase {
    static let abiDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("docs/abi")

    /// `name(type,…)` with tuples expanded, as Solidity writes a canonical signature.
    static func canonicalType(_ param: JSONValue) throws -> String {
        let type = try XCTUnwrap(param["type"]?.stringValue)
        guard type.hasPrefix("tuple") else { return type }
        let components = try XCTUnwrap(param["components"]?.arrayValue).map(canonicalType)
        return "(" + components.joined(separator: ",") + ")" + type.dropFirst("tuple".count)
    }

    static func entries(_ module: NativeModule) throws -> [JSONValue] {
        let file = abiDirectory.appendingPathComponent("\(module.name).json")
        let text = try String(contentsOf: file, encoding: .utf8)
        XCTAssertEqual(text, module.abiJSON, "the embedded ABI of \(module.name) is not docs/abi/\(module.name).json")
        return try XCTUnwrap(JSONParser.parse(text).arrayValue)
    }

    static func signature(_ entry: JSONValue) throws -> String {
        let inputs = try XCTUnwrap(entry["inputs"]?.arrayValue).map(canonicalType)
        return try XCTUnwrap(entry["name"]?.stringValue) + "(" + inputs.joined(separator: ",") + ")"
    }

    func testEveryModuleHasAnABIFileMatchingWhatItDeclares() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.abiDirectory.path).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertEqual(files, StandardModules.all().map { "\($0.name).json" }.sorted(), "one ABI file per module, nothing else")
        for module in StandardModules.all() {
            let entries = try Self.entries(module)
            var functions: [ModuleFunction] = []
            var events: [String] = []
            for entry in entries {
                switch entry["type"]?.stringValue {
                case "function":
                    let mutability = try XCTUnwrap(ModuleFunction.Mutability(rawValue: XCTUnwrap(entry["stateMutability"]?.stringValue)))
                    functions.append(ModuleFunction(try Self.signature(entry), mutability))
                case "event": events.append(try Self.signature(entry))
                default: XCTFail("\(module.name): unexpected ABI entry \(entry)")
                }
            }
            XCTAssertEqual(functions.map(\.signature).sorted(), module.functions.map(\.signature).sorted(), module.name)
            for f in functions { XCTAssertEqual(module.functions.first { $0.signature == f.signature }?.mutability, f.mutability, f.signature) }
            XCTAssertEqual(events.sorted(), module.events.sorted(), module.name)
            XCTAssertEqual(Set(events.map(ABI.eventTopic)), Set(module.eventTopics))
        }
    }

    /// A selector in the ABI is dispatched (whatever the arguments, the module never
    /// answers "unknown function selector"); one not in it is refused.
    func testEveryDeclaredSelectorIsDispatched() throws {
        let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: TrieNodeStore(store: MemoryStore()), flatReads: false)
        let executor = TransactionExecutor(handlers: StandardModules.registry(), encodeRevert: ABI.encodeRevert)
        let env = BlockEnvironment(number: 1, timestamp: 1, coinbase: .zero, baseFee: 0, gasLimit: 30_000_000, chainId: 1)
        for module in StandardModules.all() {
            for function in module.functions {
                let r = executor.call(from: .zero, to: module.address, value: 0, data: function.selector, gasLimit: 1_000_000, state: state, block: env)
                XCTAssertFalse(r.revertReason?.contains("unknown function selector") ?? false, "\(module.name).\(function.signature): \(r)")
            }
            let unknown = executor.call(from: .zero, to: module.address, value: 0, data: [0xde, 0xad, 0xbe, 0xef], gasLimit: 1_000_000, state: state, block: env)
            XCTAssertTrue(unknown.revertReason?.contains("unknown function selector") ?? false, "\(module.name): \(unknown)")
        }
    }

    func testNotarizeEmitsTheDeclaredEvent() throws {
        let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: TrieNodeStore(store: MemoryStore()), flatReads: false)
        let executor = TransactionExecutor(handlers: StandardModules.registry(), encodeRevert: ABI.encodeRevert)
        let env = BlockEnvironment(number: 1, timestamp: 1, coinbase: .zero, baseFee: 0, gasLimit: 30_000_000, chainId: 1)
        let data = ABI.selector("notarize(bytes32,string)") + (try ABI.encode([.fixedBytes(32), .string], [.fixedBytes([UInt8](repeating: 7, count: 32)), .string("hi")]))
        let tx = try TestSigner.transaction(nonce: 0, to: Notary().address, data: data, gas: 200_000)
        state.setBalance(UInt256(10_000_000), of: tx.sender)
        var gas = env.gasLimit
        let r = try executor.apply(tx, index: 0, state: state, block: env, gasLeft: &gas)
        XCTAssertTrue(r.success, "\(r)")
        XCTAssertEqual(r.logs.map { $0.topics[0] }, Notary().eventTopics)
    }
}
