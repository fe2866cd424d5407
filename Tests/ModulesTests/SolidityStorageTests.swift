import Foundation
import JSON
import Primitives
import Storage
import XCTest
@testable import Chain

/// Solidity's storage layout, against slots computed independently in Python with
/// eth-utils' keccak (tools/crosscheck/make_storage_layout_fixtures.py) and against a
/// hand-checked Solidity example.
final class SolidityStorageTests: XCTestCase {
    static let fixtures: JSONValue = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/storage_layout.json")
        return try! JSONParser.parse(Array(try! Data(contentsOf: url)))
    }()

    private func hash(_ v: JSONValue?) throws -> Hash32 { try Hash32(hex: XCTUnwrap(v?.stringValue)) }
    private func bytes(_ v: JSONValue?) throws -> [UInt8] { try Hex.decode(XCTUnwrap(v?.stringValue)) }

    func testMappingSlotsMatchSolidity() throws {
        let cases = try XCTUnwrap(Self.fixtures["mappings"]?.arrayValue)
        XCTAssertGreaterThan(cases.count, 10)
        for c in cases {
            let base = try hash(c["base"]), key = try bytes(c["key"])
            let slot = ["string", "bytes"].contains(c["keyType"]?.stringValue)
                ? SolidityStorage.mappingSlot(base, bytesKey: key)
                : SolidityStorage.mappingSlot(base, key: try Hash32(key))
            XCTAssertEqual(slot, try hash(c["slot"]), "\(c)")
        }
    }

    func testArrayElementSlotsMatchSolidity() throws {
        for c in try XCTUnwrap(Self.fixtures["arrays"]?.arrayValue) {
            let words = try XCTUnwrap(c["wordsPerElement"]?.numberValue?.uint64)
            let slot = SolidityStorage.arrayElementSlot(try hash(c["base"]), index: UInt256(word: try hash(c["index"])), wordsPerElement: words)
            XCTAssertEqual(slot, try hash(c["slot"]), "\(c)")
        }
    }

    func testStringLayoutMatchesSolidityAndRoundTripsThroughAModule() throws {
        let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: TrieNodeStore(store: MemoryStore()), flatReads: false)
        let executor = TransactionExecutor(handlers: NativeHandlerRegistry([BytesStore()]), encodeRevert: ABI.encodeRevert)
        let env = BlockEnvironment(number: 1, timestamp: 1, coinbase: .zero, baseFee: 0, gasLimit: 30_000_000, chainId: 1)
        for c in try XCTUnwrap(Self.fixtures["strings"]?.arrayValue) {
            let base = try hash(c["base"]), value = try bytes(c["value"])
            let want = try XCTUnwrap(c["words"]?.arrayValue).map { pair -> (Hash32, Hash32) in
                let p = pair.arrayValue!
                return (try hash(p[0]), try hash(p[1]))
            }
            let got = try SolidityStorage.encodeBytes(value, at: base)
            XCTAssertEqual(got.map(\.slot), want.map(\.0), "\(value.count) bytes")
            XCTAssertEqual(got.map(\.word), want.map(\.1), "\(value.count) bytes")
            // Store a long value first, then this one over it: the module writes exactly the
            // words Solidity would and clears the data slots the long value used.
            let long = [UInt8](repeating: 0xAB, count: 200)
            let nonce = state.nonce(of: TestSigner.alice.address)
            var gas = env.gasLimit
            let first = try TestSigner.transaction(nonce: nonce, to: BytesStore.home, data: base.bytes + long, gas: 5_000_000)
            XCTAssertTrue(try executor.apply(first, index: 0, state: state, block: env, gasLeft: &gas).success)
            let second = try TestSigner.transaction(nonce: nonce + 1, to: BytesStore.home, data: base.bytes + value, gas: 5_000_000)
            let r = try executor.apply(second, index: 1, state: state, block: env, gasLeft: &gas)
            XCTAssertEqual(r.returnData, value, "read back")
            for (slot, word) in want { XCTAssertEqual(state.storage(of: BytesStore.home, slot: slot), word) }
            let data = SolidityStorage.dataSlot(base)
            for i in (want.count - 1)..<7 {
                XCTAssertEqual(state.storage(of: BytesStore.home, slot: SolidityStorage.offset(data, by: UInt256(UInt64(i)))), .zero)
            }
        }
    }

    /// `contract C { uint a; mapping(address => S) m; struct S { uint x; uint y; } T[] arr; }`
    /// with `m[0x…01].y` at keccak(pad(0x01) . pad(1)) + 1, (values from eth-utils' keccak, following solc's
    /// layout rules); and a bad string head is refused, not misread.
    func testStructFieldInAMappingAndBadHeads() throws {
        let entry = SolidityStorage.mappingSlot(.slot(1), key: Hash32(word: Address(lowByte: 1)))
        XCTAssertEqual(entry.hex, "0xcc69885fda6bcc1a4ace058b4a62bf5e179ea78fd58a1ccd71c22cc9b688792f")
        XCTAssertEqual(SolidityStorage.offset(entry, by: 1).hex, "0xcc69885fda6bcc1a4ace058b4a62bf5e179ea78fd58a1ccd71c22cc9b6887930")
        XCTAssertNil(SolidityStorage.decodeBytesHead(Hash32.slot(0x3F)), "long form with length < 32")
        XCTAssertNil(SolidityStorage.decodeBytesHead(try Hash32([7, 1] + [UInt8](repeating: 0, count: 29) + [2])), "bytes after a short value's length")
        XCTAssertEqual(SolidityStorage.decodeBytesHead(Hash32.slot(0x41))?.length, 32)
    }
}

/// Stores calldata[32...] as `bytes` at the slot calldata[0..<32] names and returns what
/// it reads back.
final class BytesStore: NativeHandler {
    static let home = Address(lowByte: 0x50)
    let address = BytesStore.home
    let name = "BytesStore"
    func call(_ context: NativeCallContext) throws -> [UInt8] {
        let base = try Hash32(Array(context.input[0..<32]))
        try context.storeBytes(Array(context.input[32...]), at: base)
        return try context.loadBytes(base)
    }
}
