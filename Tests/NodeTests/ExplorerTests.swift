import Chain
import JSON
import Modules
import Primitives
import XCTest
@testable import Node

/// The explorer's server side without a network: module calls and events decoded from the
/// published ABIs (every module's ABI loads), bad calldata and logs answered with the rule
/// they break, and the explorer's config field.
final class ExplorerTests: XCTestCase {
    let decoder = try! ModuleDecoder()
    let notary = Address(lowByte: 0x01)
    let owner = Address(lowByte: 0x77)

    func testDecodesAModuleCallByItsPublishedABI() throws {
        let digest = Keccak256.hash(Array("doc".utf8))
        let input = try ABI.encodeCall("notarize(bytes32,string)", [.fixedBytes(digest.bytes), .string("a note")])
        let call = try XCTUnwrap(decoder.call(to: notary, input: input))
        XCTAssertEqual(call["module"], "Notary")
        XCTAssertEqual(call["function"], "notarize")
        XCTAssertEqual(call["signature"], "notarize(bytes32,string)")
        XCTAssertEqual(call["arguments"], .object(["digest": .string(digest.hex), "note": "a note"]))
        XCTAssertNil(decoder.call(to: notary, input: []), "a plain transfer has no call")
        XCTAssertNil(decoder.call(to: owner, input: input), "an address that is no module")
        XCTAssertEqual(decoder.call(to: notary, input: [1, 2, 3, 4, 5])?["error"], "unknown function selector 0x01020304")
        XCTAssertEqual(decoder.call(to: notary, input: [1, 2])?["error"], "unknown function selector 0x0102")
        let truncated = try XCTUnwrap(decoder.call(to: notary, input: Array(input.prefix(40))))
        XCTAssertEqual(truncated["function"], "notarize")
        XCTAssertNotNil(truncated["error"]?.stringValue, "arguments that do not decode name the ABI rule instead of crashing")
    }

    func testDecodesEventsWithIndexedAndPlainArguments() throws {
        let digest = Keccak256.hash([1])
        let log = Log(address: notary, topics: [Notary.notarizedTopic, try Hash32([UInt8](repeating: 0, count: 12) + owner.bytes), digest],
                      data: try ABI.encode([.string], [.string("hello")]))
        let event = try XCTUnwrap(decoder.event(log))
        XCTAssertEqual(event["event"], "Notarized")
        XCTAssertEqual(event["arguments"], .object(["owner": .string(owner.checksummed), "digest": .string(digest.hex), "note": "hello"]))
        var missingTopic = log
        missingTopic.topics.removeLast()
        XCTAssertEqual(decoder.event(missingTopic)?["error"], "1 indexed topics, want 2")
        XCTAssertNil(decoder.event(Log(address: owner, topics: [], data: [])))
        XCTAssertEqual(decoder.event(Log(address: notary, topics: [], data: []))?["error"], "unknown event topic (none)")
    }

    func testSignedIntegersTuplesAndArraysFromTheInferenceABI() throws {
        let precompile = try XCTUnwrap(StandardModules.all().first { $0.name == "InferencePrecompile" })
        let tensor = ABIValue.tuple([.string("x"), .array([.tuple([ABIValue.int(Int64(-15)), ABIValue.int(Int64(1))])]), .array([.uint(UInt256(1))])])
        let input = try ABI.encodeCall("runModelInference((uint8,string,((string,(int128,int128)[],uint32[])[],(string,string[])[])))",
                                       [.tuple([.uint(.zero), .string("QmModel"), .tuple([.array([tensor]), .array([])])])])
        let call = try XCTUnwrap(decoder.call(to: precompile.address, input: input))
        XCTAssertNil(call["error"], "\(call)")
        let request = try XCTUnwrap(call["arguments"]?["request"])
        XCTAssertEqual(request["modelCID"], "QmModel")
        XCTAssertEqual(request["input"]?["numbers"]?.arrayValue?.first?["values"]?.arrayValue?.first, .object(["value": "-15", "decimals": "1"]))
    }

    func testNetworkDescriptionListsEveryModuleWithItsTopics() throws {
        let network = try Explorer.network(chainId: 7, epochBlocks: 100)
        let modules = try XCTUnwrap(network["modules"]?.arrayValue)
        XCTAssertEqual(modules.compactMap { $0["name"]?.stringValue }, StandardModules.all().map(\.name))
        let notary = try XCTUnwrap(modules.first { $0["name"] == "Notary" })
        XCTAssertEqual(notary["eventTopics"]?["Notarized"], .string(Notary.notarizedTopic.hex))
    }

    func testNetworkDescriptionGivesWalletsTheGenesisNameAndTheCurrency() throws {
        let named = try Explorer.network(chainId: 7, networkName: "opg-devnet", epochBlocks: 100)
        XCTAssertEqual(named["networkName"], "opg-devnet")
        XCTAssertEqual(named["nativeCurrency"], ["name": "OPG", "symbol": "OPG", "decimals": 18])
        XCTAssertEqual(try Explorer.network(chainId: 7, epochBlocks: 100)["networkName"], .null)
        XCTAssertEqual(GenesisFile.networkName(Array(DevNet.genesisJSON.utf8)), "opg-devnet")
        XCTAssertNil(GenesisFile.networkName(Array(#"{"chainId":7}"#.utf8)))
    }

    func testExplorerConfigField() throws {
        XCTAssertEqual(try NodeConfig.parse(JSONParser.parse(#"{"dataDir":"d"}"#)).explorerJavaScriptDir, "/usr/share/javascript")
        XCTAssertEqual(try NodeConfig.parse(JSONParser.parse(#"{"dataDir":"d","explorer":{"javascriptDir":"/opt/js"}}"#)).explorerJavaScriptDir, "/opt/js")
        for (bad, message) in [(#"{"dataDir":"d","explorer":{"javascriptDir":""}}"#, "explorer.javascriptDir: must not be empty"),
                               (#"{"dataDir":"d","explorer":{"cdn":"x"}}"#, "explorer.cdn: unknown field")] {
            XCTAssertThrowsError(try NodeConfig.parse(JSONParser.parse(bad))) { XCTAssertEqual("\($0)", message) }
        }
    }
}
