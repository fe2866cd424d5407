/// An unsigned 256-bit integer (balances, fees, values). Four 64-bit limbs, least
/// significant first. `+`, `-` and `*` trap on overflow like Swift's integers; code that
/// handles untrusted values uses the `…ReportingOverflow` forms or the throwing `checked…`.
public struct UInt256: Hashable, Comparable, Sendable {
    /// Limbs, least significant first.
    public var limbs: (UInt64, UInt64, UInt64, UInt64)

    /// Zero.
    public static let zero = UInt256(0)
    /// One.
    public static let one = UInt256(1)
    /// 2^256 − 1.
    public static let max = UInt256(limbs: (.max, .max, .max, .max))

    /// Creates a value from limbs, least significant first.
    public init(limbs: (UInt64, UInt64, UInt64, UInt64)) { self.limbs = limbs }

    /// Creates a value from a 64-bit integer.
    public init(_ value: UInt64) { limbs = (value, 0, 0, 0) }

    /// Creates a value from up to 32 big-endian bytes (leading zeros allowed).
    public init(bigEndian bytes: [UInt8]) throws {
        guard bytes.count <= 32 else { throw PrimitivesError(.integer, "integer of \(bytes.count) bytes does not fit 256 bits") }
        self = bytes.withUnsafeBufferPointer { UInt256(bigEndianBuffer: $0) }
    }

    /// Reads up to 32 big-endian bytes (callers check the length).
    init(bigEndianBuffer bytes: UnsafeBufferPointer<UInt8>) {
        var l: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var shift: UInt64 = 0, limb = 0
        for b in bytes.reversed() {
            switch limb {
            case 0: l.0 |= UInt64(b) << shift
            case 1: l.1 |= UInt64(b) << shift
            case 2: l.2 |= UInt64(b) << shift
            default: l.3 |= UInt64(b) << shift
            }
            shift += 8
            if shift == 64 { shift = 0; limb += 1 }
        }
        limbs = l
    }

    /// The limbs as an array, least significant first.
    var words: [UInt64] { [limbs.0, limbs.1, limbs.2, limbs.3] }

    init(words w: [UInt64]) { limbs = (w[0], w[1], w[2], w[3]) }

    /// True when the value is zero.
    public var isZero: Bool { limbs.0 | limbs.1 | limbs.2 | limbs.3 == 0 }

    /// The value as `UInt64` when it fits, else nil.
    public var uint64: UInt64? { limbs.1 | limbs.2 | limbs.3 == 0 ? limbs.0 : nil }

    /// The number of significant bits (0 for zero).
    public var bitWidth: Int {
        for i in stride(from: 3, through: 0, by: -1) where limb(i) != 0 { return i * 64 + 64 - limb(i).leadingZeroBitCount }
        return 0
    }

    /// Big-endian bytes with no leading zeros (empty for zero): the RLP integer form.
    public var minimalBigEndianBytes: [UInt8] {
        let limbs = [self.limbs.3, self.limbs.2, self.limbs.1, self.limbs.0]
        guard let top = limbs.firstIndex(where: { $0 != 0 }) else { return [] }
        let leadingBytes = limbs[top].leadingZeroBitCount / 8
        let length = (4 - top) * 8 - leadingBytes
        return [UInt8](unsafeUninitializedCapacity: length) { out, count in
            for i in 0..<length {
                let bit = 8 * (length - 1 - i)  // bit offset of this byte from the least significant end
                out[i] = UInt8(truncatingIfNeeded: limbs[3 - bit / 64] &>> UInt64(bit % 64))
            }
            count = length
        }
    }

    /// Exactly 32 big-endian bytes: the ABI word and storage-slot form.
    public var bigEndianBytes32: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { out, count in
            store(bigEndianInto: out, at: 0)
            count = 32
        }
    }

    /// Writes the 32-byte big-endian form into `out[at..<at + 32]` (callers check the room).
    @inline(__always)
    func store(bigEndianInto out: UnsafeMutableBufferPointer<UInt8>, at: Int) {
        let raw = UnsafeMutableRawPointer(out.baseAddress! + at)
        raw.storeBytes(of: limbs.3.bigEndian, toByteOffset: 0, as: UInt64.self)
        raw.storeBytes(of: limbs.2.bigEndian, toByteOffset: 8, as: UInt64.self)
        raw.storeBytes(of: limbs.1.bigEndian, toByteOffset: 16, as: UInt64.self)
        raw.storeBytes(of: limbs.0.bigEndian, toByteOffset: 24, as: UInt64.self)
    }

    /// Reads the 32-byte big-endian word at `bytes[at..<at + 32]` (callers check the room).
    @inline(__always)
    init(bigEndianWordAt at: Int, in bytes: UnsafeBufferPointer<UInt8>) {
        let raw = UnsafeRawPointer(bytes.baseAddress! + at)
        limbs = (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)),
                 UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                 UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                 UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)))
    }

    /// Limb `i` (0 least significant).
    @inline(__always)
    func limb(_ i: Int) -> UInt64 {
        switch i {
        case 0: return limbs.0
        case 1: return limbs.1
        case 2: return limbs.2
        default: return limbs.3
        }
    }

    public static func < (a: UInt256, b: UInt256) -> Bool {
        if a.limbs.3 != b.limbs.3 { return a.limbs.3 < b.limbs.3 }
        if a.limbs.2 != b.limbs.2 { return a.limbs.2 < b.limbs.2 }
        if a.limbs.1 != b.limbs.1 { return a.limbs.1 < b.limbs.1 }
        return a.limbs.0 < b.limbs.0
    }

    public static func == (a: UInt256, b: UInt256) -> Bool {
        a.limbs.0 == b.limbs.0 && a.limbs.1 == b.limbs.1 && a.limbs.2 == b.limbs.2 && a.limbs.3 == b.limbs.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(limbs.0); hasher.combine(limbs.1); hasher.combine(limbs.2); hasher.combine(limbs.3)
    }
}

extension UInt256: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: UInt64) { self.init(value) }
}
