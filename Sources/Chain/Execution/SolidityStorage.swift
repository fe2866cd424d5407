import Primitives

/// Where Solidity keeps a contract's state variables, so that a native module laid out
/// the same way reads like a contract through `eth_getStorageAt` and `eth_getProof`
/// (Solidity documentation, "Layout of State Variables in Storage"):
///
/// - a value type takes one whole slot (modules do not pack several into one slot);
/// - struct field `k` of a struct at slot `p` is at `p + k` (fields of one word each);
/// - `mapping(K => V)` at slot `p`: the value for key `k` is at `keccak(h(k) . p)`, where
///   `h` left-pads value types to 32 bytes and leaves `string`/`bytes` keys unpadded;
/// - a dynamic array `T[]` at slot `p` keeps its length at `p` and element `i` at
///   `keccak(p) + i·w`, `w` the words per element;
/// - `string`/`bytes` at slot `p`: up to 31 bytes are stored in `p` itself, left-aligned,
///   with `2·length` in the lowest byte; longer ones store `2·length + 1` in `p` and the
///   bytes from `keccak(p)` on, 32 per slot.
///
/// Slot arithmetic wraps modulo 2^256 as in Solidity. These functions are pure; the
/// context's methods of the same names charge the hashing.
public enum SolidityStorage {
    /// The slot of `mapping[key]` for a mapping at `base`, `key` already in its 32-byte
    /// form (`Hash32(word:)` of an integer or address, a `bytes32`).
    public static func mappingSlot(_ base: Hash32, key: Hash32) -> Hash32 {
        Keccak256.hash(key.bytes + base.bytes)
    }

    /// The slot of `mapping[key]` for a mapping at `base` whose key type is `string` or
    /// `bytes` (the key's bytes unpadded).
    public static func mappingSlot(_ base: Hash32, bytesKey key: [UInt8]) -> Hash32 {
        Keccak256.hash(key + base.bytes)
    }

    /// The first data slot of a dynamic array or long string at `base`: keccak(base).
    public static func dataSlot(_ base: Hash32) -> Hash32 { Keccak256.hash(base.bytes) }

    /// The slot of element `index` of a dynamic array at `base` whose elements take
    /// `wordsPerElement` slots each.
    public static func arrayElementSlot(_ base: Hash32, index: UInt256, wordsPerElement: UInt64 = 1) -> Hash32 {
        offset(dataSlot(base), by: index.multipliedReportingOverflow(by: UInt256(wordsPerElement)).partialValue)
    }

    /// The slot `distance` words after `slot` (a struct field, the next word of long data).
    public static func offset(_ slot: Hash32, by distance: UInt256) -> Hash32 {
        Hash32(word: UInt256(word: slot).addingReportingOverflow(distance).partialValue)
    }

    /// The words a `string`/`bytes` value at `base` occupies, as (slot, word) pairs in
    /// slot order: the head slot, then the data slots of a long value.
    public static func encodeBytes(_ value: [UInt8], at base: Hash32) throws -> [(slot: Hash32, word: Hash32)] {
        if value.count < 32 {
            var word = value + [UInt8](repeating: 0, count: 32 - value.count)
            word[31] = UInt8(value.count * 2)
            return [(base, try Hash32(word))]
        }
        var words = [(base, Hash32(word: UInt256(UInt64(value.count) * 2 + 1)))]
        let first = dataSlot(base)
        var start = 0
        while start < value.count {
            let chunk = Array(value[start..<min(start + 32, value.count)])
            words.append((offset(first, by: UInt256(UInt64(start / 32))), try Hash32(chunk + [UInt8](repeating: 0, count: 32 - chunk.count))))
            start += 32
        }
        return words
    }

    /// The length a `string`/`bytes` head word declares and whether the value is long
    /// (its bytes in the data slots); nil when the word is not a valid head.
    public static func decodeBytesHead(_ head: Hash32) -> (length: Int, isLong: Bool)? {
        if head.bytes[31] & 1 == 0 {
            let length = Int(head.bytes[31] / 2)
            guard length < 32, head.bytes[length..<31].allSatisfy({ $0 == 0 }) else { return nil }
            return (length, false)
        }
        guard let word = UInt256(word: head).uint64, word <= UInt64(Int32.max) else { return nil }
        let length = Int(word / 2)
        guard length >= 32 else { return nil }
        return (length, true)
    }
}

extension NativeCallContext {
    /// The slot of `mapping[key]` for a mapping at `base` (charges the hashing).
    public func mappingSlot(_ base: Hash32, key: Hash32) throws -> Hash32 {
        try chargeHashing(byteCount: 64)
        return SolidityStorage.mappingSlot(base, key: key)
    }

    /// The slot of `mapping[key]` for a `string`/`bytes`-keyed mapping at `base`.
    public func mappingSlot(_ base: Hash32, bytesKey key: [UInt8]) throws -> Hash32 {
        try chargeHashing(byteCount: key.count + 32)
        return SolidityStorage.mappingSlot(base, bytesKey: key)
    }

    /// The slot of element `index` of the dynamic array at `base`; reverts when `index`
    /// is not below the stored length.
    public func arrayElementSlot(_ base: Hash32, index: UInt256, wordsPerElement: UInt64 = 1) throws -> Hash32 {
        let length = try loadWord(base)
        guard index < length else { throw NativeRevert("array index \(index) out of bounds (length \(length))") }
        try chargeHashing(byteCount: 32)
        return SolidityStorage.arrayElementSlot(base, index: index, wordsPerElement: wordsPerElement)
    }

    /// Appends an element slot to the dynamic array at `base` (length + 1) and returns
    /// the new element's first slot, for the caller to fill.
    public func pushArrayElement(_ base: Hash32, wordsPerElement: UInt64 = 1) throws -> Hash32 {
        let length = try loadWord(base)
        try storeWord(length + .one, at: base)
        try chargeHashing(byteCount: 32)
        return SolidityStorage.arrayElementSlot(base, index: length, wordsPerElement: wordsPerElement)
    }

    /// Reads `slot` as an unsigned integer.
    public func loadWord(_ slot: Hash32) throws -> UInt256 { UInt256(word: try load(slot)) }

    /// Writes an unsigned integer to `slot`.
    public func storeWord(_ value: UInt256, at slot: Hash32) throws { try store(Hash32(word: value), at: slot) }

    /// Reads `slot` as an address (the low 20 bytes).
    public func loadAddress(_ slot: Hash32) throws -> Address { Address(word: try load(slot)) }

    /// Writes an address to `slot` (left-padded).
    public func storeAddress(_ value: Address, at slot: Hash32) throws { try store(Hash32(word: value), at: slot) }

    /// Reads the `string`/`bytes` value at `base`, laid out as Solidity does.
    public func loadBytes(_ base: Hash32) throws -> [UInt8] {
        let head = try load(base)
        guard let (length, isLong) = SolidityStorage.decodeBytesHead(head) else {
            throw NativeRevert("storage slot \(base) does not hold a valid string or bytes head")
        }
        guard isLong else { return Array(head.bytes[0..<length]) }
        try chargeHashing(byteCount: 32)
        let first = SolidityStorage.dataSlot(base)
        var out: [UInt8] = []
        out.reserveCapacity(length + 31)
        for i in 0..<(length + 31) / 32 {
            out += try load(SolidityStorage.offset(first, by: UInt256(UInt64(i)))).bytes
        }
        return Array(out[0..<length])
    }

    /// Writes a `string`/`bytes` value at `base`, clearing data slots a longer previous
    /// value used.
    public func storeBytes(_ value: [UInt8], at base: Hash32) throws {
        let previous = SolidityStorage.decodeBytesHead(try load(base))
        let words = try SolidityStorage.encodeBytes(value, at: base)
        if words.count > 1 { try chargeHashing(byteCount: 32) }
        for (slot, word) in words { try store(word, at: slot) }
        if let previous, previous.isLong {
            let oldWords = (previous.length + 31) / 32
            let newWords = words.count - 1
            if oldWords > newWords {
                if newWords == 0 { try chargeHashing(byteCount: 32) }
                let first = SolidityStorage.dataSlot(base)
                for i in newWords..<oldWords { try store(.zero, at: SolidityStorage.offset(first, by: UInt256(UInt64(i)))) }
            }
        }
    }
}
