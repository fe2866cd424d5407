import Inference
import Primitives
import XCTest
@testable import Chain
@testable import Modules

/// `runModelInference`'s arguments read in place (`CanonicalRequestReader`) against the
/// generic decoder: the same request, the same encoding for the event, the same refusals,
/// on well-formed requests and on thousands of damaged ones.
final class InferenceRequestTests: XCTestCase {
    /// A `ModelInferenceRequest` value with number tensors of every sign and scale, names
    /// and strings beyond ASCII, and string tensors.
    static func request(_ rng: inout SplitMix64, numbers: Int, strings: Int) -> ABIValue {
        func int128(_ v: Int128) -> ABIValue { .int(TensorConversion.word(v)) }
        let numberTensors: [ABIValue] = (0..<numbers).map { t in
            let count = Int(rng.next() % 9)
            let values: [ABIValue] = (0..<count).map { _ in
                let value = Int128(truncatingIfNeeded: Int64(bitPattern: rng.next())) << Int128(rng.next() % 60)
                return .tuple([int128(rng.next() % 4 == 0 ? -value : value), int128(Int128(Int64(rng.next() % 80) - 20))])
            }
            return .tuple([.string("x\(t)é"), .array(values), .array([.uint(1), .uint(UInt256(UInt64(count)))])])
        }
        let stringTensors: [ABIValue] = (0..<strings).map { t in
            .tuple([.string("s\(t)"), .array((0..<Int(rng.next() % 4)).map { i in .string(String(repeating: "日本\(i)", count: i)) })])
        }
        return .tuple([.uint(UInt256(rng.next() % 3)), .string("QmModel\(rng.next() % 1000)"), .tuple([.array(numberTensors), .array(stringTensors)])])
    }

    /// The outcome of decoding: the request's parts and its encoding, or the refusal.
    func outcome(_ decode: () throws -> ModelInferenceRequest) -> String {
        do {
            let r = try decode()
            return "\(r.mode) \(r.modelID) \(r.input) \(Array(r.encoding))"
        } catch {
            return "refused: \(error)"
        }
    }

    func testCanonicalCalldataIsReadInPlaceAsTheGenericDecoderReadsIt() throws {
        var rng = SplitMix64(seed: 9)
        for (numbers, strings) in [(0, 0), (1, 0), (0, 1), (2, 3), (4, 1)] {
            let value = Self.request(&rng, numbers: numbers, strings: strings)
            let arguments = try ABI.encode([InferenceABI.modelInferenceRequest], [value])
            let fast = try XCTUnwrap(CanonicalRequestReader.request(arguments), "canonical calldata must be read in place")
            let generic = try ModelInferenceRequest.decodeGenerically(arguments)
            XCTAssertEqual(fast.input, generic.input)
            XCTAssertEqual(fast.modelID, generic.modelID)
            XCTAssertEqual(fast.mode, generic.mode)
            XCTAssertEqual(Array(fast.encoding), Array(arguments.dropFirst(32)))
            XCTAssertEqual(Array(fast.encoding), Array(generic.encoding))
        }
    }

    /// Every damaged calldata decodes to the same request and encoding, or is refused with
    /// the same reason, whether the canonical reader takes it or leaves it to the generic
    /// decoder; what the reader takes is exactly the generic decoder's re-encoding.
    func testDamagedCalldataDecodesAsTheGenericDecoderDecodesIt() throws {
        var rng = SplitMix64(seed: 2026)
        var read = 0, refused = 0
        for round in 0..<1_500 {
            var arguments = try ABI.encode([InferenceABI.modelInferenceRequest], [Self.request(&rng, numbers: round % 3, strings: round % 2)])
            switch rng.next() % 5 {
            case 0: arguments[Int(rng.next() % UInt64(arguments.count))] ^= UInt8(1 << (rng.next() % 8))
            case 1: arguments[Int(rng.next() % UInt64(arguments.count))] = 0xFF
            case 2: arguments.removeLast(Int(rng.next() % 40) + 1)
            case 3: arguments += [UInt8](repeating: UInt8(rng.next() % 2), count: Int(rng.next() % 40) + 1)
            default:  // an offset or length word moved by a word
                let word = Int(rng.next() % UInt64(arguments.count / 32)) * 32
                arguments[word + 31] = arguments[word + 31] &+ (rng.next() % 2 == 0 ? 32 : 224)
            }
            let generic = outcome { try ModelInferenceRequest.decodeGenerically(arguments) }
            XCTAssertEqual(outcome { try ModelInferenceRequest.decode(arguments) }, generic, "round \(round)")
            if let fast = CanonicalRequestReader.request(arguments) {
                read += 1
                XCTAssertEqual(Array(fast.encoding), Array(try ModelInferenceRequest.decodeGenerically(arguments).encoding), "round \(round)")
            }
            if generic.hasPrefix("refused") { refused += 1 }
        }
        XCTAssertGreaterThan(read, 100, "some damage leaves the calldata canonical (a changed value)")
        XCTAssertGreaterThan(refused, 150)
    }

    /// The hub's call to the precompile is the same bytes, or the same refusal, whether its
    /// arguments are moved into place or decoded and encoded again.
    func testHubCallIsTheGenericReEncodingOfItsArguments() throws {
        var rng = SplitMix64(seed: 77)
        let caller = Address(lowByte: 0xCA)
        func generic(_ arguments: [UInt8]) -> String {
            do {
                let values = try decodeArguments([.string, .uint(8), InferenceABI.modelInput], arguments)
                return "\(try ABI.encodeCall(InferenceABI.runModelInference, [.tuple([values[1], values[0], values[2]])]) + caller.bytes)"
            } catch {
                return "refused: \(error)"
            }
        }
        var read = 0
        for round in 0..<600 {
            guard case .tuple(let f) = Self.request(&rng, numbers: round % 3, strings: round % 2) else { return XCTFail() }
            var arguments = try ABI.encode([.string, .uint(8), InferenceABI.modelInput], [f[1], f[0], f[2]])
            if round % 4 != 0 { arguments[Int(rng.next() % UInt64(arguments.count))] ^= UInt8(1 << (rng.next() % 8)) }
            let fast: String
            do { fast = "\(try ModelInferenceRequest.hubCall(arguments, caller: caller))" } catch { fast = "refused: \(error)" }
            XCTAssertEqual(fast, generic(arguments), "round \(round)")
            if CanonicalRequestReader.hubCall(arguments, caller: caller) != nil { read += 1 }
        }
        XCTAssertGreaterThan(read, 150)
    }

    func testEventDataIsTheGenericEncodingOfIdRequestAndOutput() throws {
        var rng = SplitMix64(seed: 5)
        let value = Self.request(&rng, numbers: 2, strings: 1)
        let request = try ModelInferenceRequest.decode(try ABI.encode([InferenceABI.modelInferenceRequest], [value]))
        let output = ABIValue.tuple([.array([.tuple([.string("y"), .array([.tuple([.int(.one), .int(.zero)])]), .array([.uint(1)])])]),
                                     .array([]), .array([.tuple([.string("j"), .string("[]")])]), .bool(false)])
        let id = "0x" + String(repeating: "ab", count: 32)
        let response = try ABI.encode([InferenceABI.modelOutput], [output])
        XCTAssertEqual(try request.eventData(inferenceID: id, response: response),
                       try ABI.encode(InferenceABI.modelInferenceEventFields, [.string(id), value, output]))
    }
}
