import Chain
import JSON
import Modules
import Crypto
import Primitives
import Storage
import XCTest
@testable import RPC

/// `eth_call` of a module's view through the dispatcher: a view that tries to write or
/// emit is refused with geth's revert shape (code 3, `execution reverted: …`).
final class ModuleCallTests: XCTestCase {
    /// `tryWrite()` and `tryEmit()` are views that break the rule; `write()` may write.
    final class Misbehaving: SelectorDispatchedModule {
        let address = Address(lowByte: 0x70)
        let name = "Misbehaving"
        let abiJSON = "[]"
        let functions = [ModuleFunction("tryWrite()", .view), ModuleFunction("tryEmit()", .view), ModuleFunction("write()", .nonpayable)]
        let events: [String] = []

        func perform(_ function: ModuleFunction, arguments: [UInt8], context: NativeCallContext) throws -> [UInt8] {
            switch function.signature {
            case "tryEmit()": try context.emit(topics: [], data: [])
            default: try context.storeWord(1, at: .slot(0))
            }
            return UInt256(1).bigEndianBytes32
        }
    }

    func testAViewCalledOverRPCCannotWriteOrEmit() throws {
        let spec = GenesisSpec(config: ChainConfig(chainId: 77, blockReward: .zero, validators: try ValidatorSet([Validator(address: Address(lowByte: 0xEE), consensusSigner: PrivateKey(Keccak256.digest([0xEE])))])), timestamp: 0,
                               gasLimit: 30_000_000, initialBaseFee: UInt256(1_000_000_000), extraData: [], alloc: [])
        let db = try ChainDatabase(store: MemoryStore())
        let (block, batch) = try spec.genesisBlock(nodes: db.nodes)
        try db.commit(block: block, receipts: [], stateBatch: batch, genesis: [])
        let module = Misbehaving()
        let chain = ChainService(config: spec.config, database: db, handlers: NativeHandlerRegistry(StandardModules.all() + [module]),
                                 encodeRevert: ABI.encodeRevert)
        let dispatcher = RPCDispatcher()
        let api = EthAPI(chain: chain, clientVersion: "opg/test")  // the dispatcher holds it unowned
        api.register(on: dispatcher)
        defer { withExtendedLifetime(api) {} }
        func ethCall(_ signature: String) throws -> JSONValue {
            let params: JSONValue = .array([.object(["to": .string(module.address.hex), "data": .string(Hex.encode(ABI.selector(signature)))]), .string("latest")])
            let request = JSONValue.object(["jsonrpc": .string("2.0"), "id": .int(1), "method": .string("eth_call"), "params": params])
            return try XCTUnwrap(dispatcher.handle(body: request.serializedBytes()))
        }
        for (signature, what) in [("tryWrite()", "state change"), ("tryEmit()", "event")] {
            let error = try XCTUnwrap(try ethCall(signature)["error"], signature)
            XCTAssertEqual(error["code"]?.numberValue?.int64, 3)
            XCTAssertEqual(error["message"]?.stringValue, "execution reverted: write protection: \(what) in a static call")
            XCTAssertEqual(error["data"]?.stringValue, Hex.encode(ABI.encodeRevert("write protection: \(what) in a static call")))
        }
        XCTAssertEqual(try ethCall("write()")["result"]?.stringValue, Hex.encode(UInt256(1).bigEndianBytes32), "a nonpayable call may simulate writes")
    }
}
