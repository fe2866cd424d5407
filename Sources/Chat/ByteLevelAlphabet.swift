/// GPT-2's byte-level alphabet: each of the 256 byte values is written as one printable
/// Unicode scalar, so that every byte string is a string of "characters" BPE can merge.
/// Bytes `!`…`~`, `¡`…`¬` and `®`…`ÿ` stand for themselves; the other 68 bytes, in increasing
/// order, are written as U+0100, U+0101, … (so the space 0x20 is `Ġ` U+0120).
enum ByteLevelAlphabet {
    /// The scalar standing for each byte value.
    static let scalarOfByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte a scalar of the alphabet stands for, or nil for a scalar outside the alphabet.
    static func byte(of scalar: Unicode.Scalar) -> UInt8? {
        let v = scalar.value
        if v < 256 {
            return scalarOfByte[Int(v)] == scalar ? UInt8(v) : nil
        }
        guard v < 256 + 68 else { return nil }
        return byteOfShiftedScalar[Int(v - 256)]
    }

    /// The byte each of U+0100…U+0143 stands for.
    private static let byteOfShiftedScalar: [UInt8] = (0..<256).compactMap { byte in
        scalarOfByte[byte].value >= 256 ? UInt8(byte) : nil
    }
}
