/// Keccak-256 as Ethereum uses it: the original Keccak padding (0x01 … 0x80), not
/// NIST SHA3-256 (0x06 … 0x80). OpenSSL 3.0 has only SHA3, so this is our own.
public enum Keccak256 {
    /// The rate of Keccak-256 in bytes (1600 − 2·256 bits).
    static let rate = 136

    /// Returns the Keccak-256 digest of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> Hash32 {
        Hash32(unchecked: digest(bytes))
    }

    /// Returns the Keccak-256 digest of `bytes` as 32 raw bytes.
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBufferPointer { digest($0) }
    }

    /// Returns the Keccak-256 digest of the bytes in `buffer` as 32 raw bytes.
    public static func digest(_ buffer: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var sponge = KeccakSponge()
        sponge.absorb(buffer)
        return sponge.finish()
    }
}

/// An incremental Keccak-256 sponge: absorb any number of chunks, then `finish()` once.
public struct KeccakSponge {
    private var state = [UInt64](repeating: 0, count: 25)
    private var block = [UInt8](repeating: 0, count: Keccak256.rate)
    private var filled = 0

    /// Creates an empty sponge.
    public init() {}

    /// Absorbs `bytes` into the sponge.
    public mutating func absorb(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { absorb($0) }
    }

    /// Absorbs the bytes in `buffer` into the sponge.
    public mutating func absorb(_ buffer: UnsafeBufferPointer<UInt8>) {
        var offset = 0
        let rate = Keccak256.rate
        while offset < buffer.count {
            let take = min(rate - filled, buffer.count - offset)
            for i in 0..<take { block[filled + i] = buffer[offset + i] }
            filled += take
            offset += take
            if filled == rate {
                absorbBlock()
                filled = 0
            }
        }
    }

    /// Pads, permutes and returns the 32-byte digest. The sponge must not be reused.
    public mutating func finish() -> [UInt8] {
        for i in filled..<Keccak256.rate { block[i] = 0 }
        block[filled] ^= 0x01
        block[Keccak256.rate - 1] ^= 0x80
        absorbBlock()
        var out = [UInt8](repeating: 0, count: 32)
        for lane in 0..<4 {
            let v = state[lane]
            for b in 0..<8 { out[lane * 8 + b] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(b))) }
        }
        return out
    }

    private mutating func absorbBlock() {
        block.withUnsafeBufferPointer { blk in
            state.withUnsafeMutableBufferPointer { st in
                for lane in 0..<(Keccak256.rate / 8) {
                    var v: UInt64 = 0
                    for b in 0..<8 { v |= UInt64(blk[lane * 8 + b]) << (8 * UInt64(b)) }
                    st[lane] ^= v
                }
                KeccakF1600.permute(st.baseAddress!)
            }
        }
    }
}

/// The Keccak-f[1600] permutation (24 rounds), FIPS 202 §3.
enum KeccakF1600 {
    static let roundConstants: [UInt64] = [
        0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A, 0x8000_0000_8000_8000,
        0x0000_0000_0000_808B, 0x0000_0000_8000_0001, 0x8000_0000_8000_8081, 0x8000_0000_0000_8009,
        0x0000_0000_0000_008A, 0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
        0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089, 0x8000_0000_0000_8003,
        0x8000_0000_0000_8002, 0x8000_0000_0000_0080, 0x0000_0000_0000_800A, 0x8000_0000_8000_000A,
        0x8000_0000_8000_8081, 0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
    ]
    /// Rotation offsets r[x + 5y] of the ρ step.
    static let rotations: [UInt64] = [
        0, 1, 62, 28, 27,
        36, 44, 6, 55, 20,
        3, 10, 43, 25, 39,
        41, 45, 15, 21, 8,
        18, 2, 61, 56, 14,
    ]

    @inline(__always)
    static func rotl(_ v: UInt64, _ n: UInt64) -> UInt64 { n == 0 ? v : (v << n) | (v >> (64 - n)) }

    /// Permutes the 25 lanes at `a` in place.
    static func permute(_ a: UnsafeMutablePointer<UInt64>) {
        var c = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 25) { bp in
            let b = bp.baseAddress!
            for round in 0..<24 {
                // θ
                c.0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20]
                c.1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21]
                c.2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22]
                c.3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23]
                c.4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24]
                let d0 = c.4 ^ rotl(c.1, 1), d1 = c.0 ^ rotl(c.2, 1), d2 = c.1 ^ rotl(c.3, 1)
                let d3 = c.2 ^ rotl(c.4, 1), d4 = c.3 ^ rotl(c.0, 1)
                for y in stride(from: 0, to: 25, by: 5) {
                    a[y] ^= d0; a[y + 1] ^= d1; a[y + 2] ^= d2; a[y + 3] ^= d3; a[y + 4] ^= d4
                }
                // ρ and π: B[y, 2x+3y] = rot(A[x, y], r[x, y])
                for y in 0..<5 {
                    for x in 0..<5 {
                        let i = x + 5 * y
                        b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(a[i], rotations[i])
                    }
                }
                // χ
                for y in stride(from: 0, to: 25, by: 5) {
                    let b0 = b[y], b1 = b[y + 1], b2 = b[y + 2], b3 = b[y + 3], b4 = b[y + 4]
                    a[y] = b0 ^ (~b1 & b2)
                    a[y + 1] = b1 ^ (~b2 & b3)
                    a[y + 2] = b2 ^ (~b3 & b4)
                    a[y + 3] = b3 ^ (~b4 & b0)
                    a[y + 4] = b4 ^ (~b0 & b1)
                }
                // ι
                a[0] ^= roundConstants[round]
            }
        }
    }
}
