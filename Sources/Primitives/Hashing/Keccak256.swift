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
        [UInt8](unsafeUninitializedCapacity: 32) { out, count in
            digest(buffer, into: out.baseAddress!)
            count = 32
        }
    }

    /// Appends the Keccak-256 digest of the bytes in `buffer` to `out` (hot paths that
    /// assemble trie references and keys in place, without a 32-byte array per hash).
    public static func appendDigest(of buffer: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { d in
            digest(buffer, into: d.baseAddress!)
            out.append(contentsOf: d)
        }
    }

    /// Writes the Keccak-256 digest of the bytes in `buffer` to the 32 bytes at `out`.
    ///
    /// One-shot path: the state lives on the stack and full blocks are absorbed
    /// straight from `buffer`; only the padded last block is copied.
    public static func digest(_ buffer: UnsafeBufferPointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 25) { lanes in
            let state = lanes.baseAddress!
            state.initialize(repeating: 0, count: 25)
            var offset = 0
            if let base = buffer.baseAddress {
                let bytes = UnsafeRawPointer(base)
                while buffer.count - offset >= rate {
                    for lane in 0..<(rate / 8) {
                        state[lane] ^= UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + lane * 8, as: UInt64.self))
                    }
                    KeccakF1600.permute(state)
                    offset += rate
                }
            }
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: rate) { last in
                let block = last.baseAddress!
                block.initialize(repeating: 0, count: rate)
                let remaining = buffer.count - offset
                if remaining > 0 { block.update(from: buffer.baseAddress! + offset, count: remaining) }
                block[remaining] ^= 0x01
                block[rate - 1] ^= 0x80
                let raw = UnsafeRawPointer(block)
                for lane in 0..<(rate / 8) {
                    state[lane] ^= UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: lane * 8, as: UInt64.self))
                }
                KeccakF1600.permute(state)
            }
            for lane in 0..<4 {
                let v = state[lane]
                for b in 0..<8 { out[lane * 8 + b] = UInt8(truncatingIfNeeded: v &>> (8 * UInt64(b))) }
            }
        }
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
    /// Rotation offsets r[x + 5y] of the ρ step (written into `permute`).
    @inline(__always)
    static func rotl(_ v: UInt64, _ n: UInt64) -> UInt64 { (v &<< n) | (v &>> (64 &- n)) }

    /// Permutes the 25 lanes at `a` in place. The lanes live in locals for all 24
    /// rounds and ρ/π is written out, so the loop body has no loads, stores or
    /// bounds checks beyond the lanes themselves.
    static func permute(_ a: UnsafeMutablePointer<UInt64>) {
        var a0 = a[0]
        var a1 = a[1]
        var a2 = a[2]
        var a3 = a[3]
        var a4 = a[4]
        var a5 = a[5]
        var a6 = a[6]
        var a7 = a[7]
        var a8 = a[8]
        var a9 = a[9]
        var a10 = a[10]
        var a11 = a[11]
        var a12 = a[12]
        var a13 = a[13]
        var a14 = a[14]
        var a15 = a[15]
        var a16 = a[16]
        var a17 = a[17]
        var a18 = a[18]
        var a19 = a[19]
        var a20 = a[20]
        var a21 = a[21]
        var a22 = a[22]
        var a23 = a[23]
        var a24 = a[24]
        for round in 0..<24 {
            // θ
            let c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
            let c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
            let c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
            let c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
            let c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
            let d0 = c4 ^ rotl(c1, 1)
            let d1 = c0 ^ rotl(c2, 1)
            let d2 = c1 ^ rotl(c3, 1)
            let d3 = c2 ^ rotl(c4, 1)
            let d4 = c3 ^ rotl(c0, 1)
            a0 ^= d0
            a1 ^= d1
            a2 ^= d2
            a3 ^= d3
            a4 ^= d4
            a5 ^= d0
            a6 ^= d1
            a7 ^= d2
            a8 ^= d3
            a9 ^= d4
            a10 ^= d0
            a11 ^= d1
            a12 ^= d2
            a13 ^= d3
            a14 ^= d4
            a15 ^= d0
            a16 ^= d1
            a17 ^= d2
            a18 ^= d3
            a19 ^= d4
            a20 ^= d0
            a21 ^= d1
            a22 ^= d2
            a23 ^= d3
            a24 ^= d4
            // ρ and π: B[y, 2x+3y] = rot(A[x, y], r[x, y])
            let b0 = a0
            let b1 = rotl(a6, 44)
            let b2 = rotl(a12, 43)
            let b3 = rotl(a18, 21)
            let b4 = rotl(a24, 14)
            let b5 = rotl(a3, 28)
            let b6 = rotl(a9, 20)
            let b7 = rotl(a10, 3)
            let b8 = rotl(a16, 45)
            let b9 = rotl(a22, 61)
            let b10 = rotl(a1, 1)
            let b11 = rotl(a7, 6)
            let b12 = rotl(a13, 25)
            let b13 = rotl(a19, 8)
            let b14 = rotl(a20, 18)
            let b15 = rotl(a4, 27)
            let b16 = rotl(a5, 36)
            let b17 = rotl(a11, 10)
            let b18 = rotl(a17, 15)
            let b19 = rotl(a23, 56)
            let b20 = rotl(a2, 62)
            let b21 = rotl(a8, 55)
            let b22 = rotl(a14, 39)
            let b23 = rotl(a15, 41)
            let b24 = rotl(a21, 2)
            // χ
            a0 = b0 ^ (~b1 & b2)
            a1 = b1 ^ (~b2 & b3)
            a2 = b2 ^ (~b3 & b4)
            a3 = b3 ^ (~b4 & b0)
            a4 = b4 ^ (~b0 & b1)
            a5 = b5 ^ (~b6 & b7)
            a6 = b6 ^ (~b7 & b8)
            a7 = b7 ^ (~b8 & b9)
            a8 = b8 ^ (~b9 & b5)
            a9 = b9 ^ (~b5 & b6)
            a10 = b10 ^ (~b11 & b12)
            a11 = b11 ^ (~b12 & b13)
            a12 = b12 ^ (~b13 & b14)
            a13 = b13 ^ (~b14 & b10)
            a14 = b14 ^ (~b10 & b11)
            a15 = b15 ^ (~b16 & b17)
            a16 = b16 ^ (~b17 & b18)
            a17 = b17 ^ (~b18 & b19)
            a18 = b18 ^ (~b19 & b15)
            a19 = b19 ^ (~b15 & b16)
            a20 = b20 ^ (~b21 & b22)
            a21 = b21 ^ (~b22 & b23)
            a22 = b22 ^ (~b23 & b24)
            a23 = b23 ^ (~b24 & b20)
            a24 = b24 ^ (~b20 & b21)
            // ι
            a0 ^= roundConstants[round]
        }
        a[0] = a0
        a[1] = a1
        a[2] = a2
        a[3] = a3
        a[4] = a4
        a[5] = a5
        a[6] = a6
        a[7] = a7
        a[8] = a8
        a[9] = a9
        a[10] = a10
        a[11] = a11
        a[12] = a12
        a[13] = a13
        a[14] = a14
        a[15] = a15
        a[16] = a16
        a[17] = a17
        a[18] = a18
        a[19] = a19
        a[20] = a20
        a[21] = a21
        a[22] = a22
        a[23] = a23
        a[24] = a24
    }
}
