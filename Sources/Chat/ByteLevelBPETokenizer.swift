/// GPT-2-style byte-level BPE over the chat model's vocabulary (docs/chat.md): special tokens
/// are matched first, the rest is split by `PreTokenizer`, each piece's UTF-8 bytes are
/// written in the byte-level alphabet and merged by rank. Encoding is a pure function of the
/// text and the tokenizer data: part of the chat job's deterministic spec.
public final class ByteLevelBPETokenizer: Sendable {
    /// The number of tokens in the vocabulary; valid ids are 0..<vocabularySize.
    public let vocabularySize: Int
    /// The special tokens, `(id, content)`, in the order the tokenizer data lists them.
    public let specialTokens: [(id: Int, content: String)]

    private let tokenBytes: [[UInt8]]
    private let idOfByte: [Int32?]
    private let mergeOfPair: [UInt64: Merge]
    private let specialScalars: [(id: Int32, scalars: [Unicode.Scalar])]

    private struct Merge: Sendable {
        let rank: Int32
        let result: Int32
    }

    /// Builds the tokenizer; refuses data whose tokens repeat, whose merges name unknown
    /// tokens, whose special tokens disagree with the vocabulary, or whose normal tokens
    /// leave the byte-level alphabet; a merge may appear only once.
    public init(_ data: TokenizerData) throws {
        vocabularySize = data.tokens.count
        var idOfToken: [String: Int32] = [:]
        idOfToken.reserveCapacity(data.tokens.count)
        for (id, token) in data.tokens.enumerated() {
            guard idOfToken.updateValue(Int32(id), forKey: token) == nil else {
                throw ChatError.invalidTokenizerData("token \"\(token)\" appears twice (second at id \(id))")
            }
        }
        for special in data.specialTokens {
            guard special.id >= 0, special.id < data.tokens.count, data.tokens[special.id] == special.content else {
                throw ChatError.invalidTokenizerData("special token \"\(special.content)\" is not token \(special.id)")
            }
        }
        for (name, id) in [("bosTokenId", data.bosTokenId), ("eosTokenId", data.eosTokenId), ("padTokenId", data.padTokenId)]
        where id < 0 || id >= data.tokens.count {
            throw ChatError.invalidTokenizerData("\(name) \(id) is not a token id")
        }
        specialTokens = data.specialTokens
        specialScalars = data.specialTokens.map { (Int32($0.id), Array($0.content.unicodeScalars)) }
        let specialIds = Set(data.specialTokens.map(\.id))
        tokenBytes = try data.tokens.enumerated().map { id, token in
            if specialIds.contains(id) { return Array(token.utf8) }
            return try token.unicodeScalars.map { scalar in
                guard let byte = ByteLevelAlphabet.byte(of: scalar) else {
                    throw ChatError.invalidTokenizerData("token \(id) \"\(token)\" has U+\(String(scalar.value, radix: 16, uppercase: true)), outside the byte-level alphabet")
                }
                return byte
            }
        }
        idOfByte = ByteLevelAlphabet.scalarOfByte.map { idOfToken[String($0)] }
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(data.merges.count)
        for (rank, merge) in data.merges.enumerated() {
            guard let left = idOfToken[merge.left], let right = idOfToken[merge.right],
                  let result = idOfToken[merge.left + merge.right] else {
                throw ChatError.invalidTokenizerData("merges[\(rank)] \"\(merge.left) \(merge.right)\" names a token not in the vocabulary")
            }
            guard merges.updateValue(Merge(rank: Int32(rank), result: result), forKey: Self.pairKey(left, right)) == nil else {
                throw ChatError.invalidTokenizerData("merges[\(rank)] \"\(merge.left) \(merge.right)\" repeats an earlier merge")
            }
        }
        mergeOfPair = merges
    }

    /// The token ids of `text`. Special tokens' texts anywhere in `text` become their ids.
    public func encode(_ text: String) -> [Int] {
        let scalars = Array(text.unicodeScalars)
        let classes = scalars.map(CharacterClass.init)
        var ids: [Int] = []
        var segmentStart = 0
        var i = 0
        while i < scalars.count {
            guard let special = longestSpecialToken(in: scalars, at: i) else { i += 1; continue }
            encodeOrdinary(scalars, classes, segmentStart..<i, into: &ids)
            ids.append(Int(special.id))
            i += special.length
            segmentStart = i
        }
        encodeOrdinary(scalars, classes, segmentStart..<scalars.count, into: &ids)
        return ids
    }

    /// The bytes the ids stand for, concatenated: special tokens give their text's UTF-8.
    public func decodeBytes(_ ids: [Int]) throws -> [UInt8] {
        var out: [UInt8] = []
        for id in ids {
            guard id >= 0, id < vocabularySize else { throw ChatError.tokenIdOutOfRange(id: id, vocabularySize: vocabularySize) }
            out += tokenBytes[id]
        }
        return out
    }

    /// The text the ids stand for. Bytes that are not valid UTF-8 (a sequence cut inside a
    /// character) each become U+FFFD, one per maximal invalid subsequence, as the reference does.
    public func decode(_ ids: [Int]) throws -> String {
        String(decoding: try decodeBytes(ids), as: UTF8.self)
    }

    /// The id of a special token by its text, e.g. `<|im_end|>`.
    public func specialTokenId(_ content: String) -> Int? {
        specialTokens.first { $0.content == content }?.id
    }

    /// The special token starting at `i` (the longest when several do), with its length in scalars.
    private func longestSpecialToken(in scalars: [Unicode.Scalar], at i: Int) -> (id: Int32, length: Int)? {
        var best: (id: Int32, length: Int)?
        for special in specialScalars where special.scalars.count > (best?.length ?? 0) && i + special.scalars.count <= scalars.count {
            if scalars[i..<i + special.scalars.count].elementsEqual(special.scalars) { best = (special.id, special.scalars.count) }
        }
        return best
    }

    private func encodeOrdinary(_ scalars: [Unicode.Scalar], _ classes: [CharacterClass], _ range: Range<Int>, into ids: inout [Int]) {
        for piece in PreTokenizer.pieces(scalars, classes, in: range) {
            var bytes: [UInt8] = []
            for scalar in scalars[piece] { UTF8.encode(scalar) { bytes.append($0) } }
            ids += merged(bytes)
        }
    }

    /// BPE over one piece: start from one symbol per byte (a byte whose alphabet character is
    /// not in the vocabulary is dropped, as the reference does without an unknown token), then
    /// repeatedly merge the adjacent pair of lowest rank, the leftmost among equals.
    private func merged(_ bytes: [UInt8]) -> [Int] {
        var symbols: [Int32] = bytes.compactMap { idOfByte[Int($0)] }
        if symbols.count < 2 { return symbols.map(Int.init) }
        var previous = Array(-1..<symbols.count - 1)
        var next = Array(1...symbols.count)
        next[symbols.count - 1] = -1
        var alive = [Bool](repeating: true, count: symbols.count)
        var queue = MergeQueue()
        for position in 0..<symbols.count - 1 {
            if let merge = mergeOfPair[Self.pairKey(symbols[position], symbols[position + 1])] {
                queue.push(rank: merge.rank, position: Int32(position), result: merge.result)
            }
        }
        while let top = queue.pop() {
            let position = Int(top.position)
            guard alive[position], next[position] >= 0 else { continue }
            let right = next[position]
            // A queued pair is stale when either side has been merged since.
            guard mergeOfPair[Self.pairKey(symbols[position], symbols[right])]?.result == top.result else { continue }
            symbols[position] = top.result
            alive[right] = false
            next[position] = next[right]
            if next[right] >= 0 { previous[next[right]] = position }
            if previous[position] >= 0, let merge = mergeOfPair[Self.pairKey(symbols[previous[position]], symbols[position])] {
                queue.push(rank: merge.rank, position: Int32(previous[position]), result: merge.result)
            }
            if next[position] >= 0, let merge = mergeOfPair[Self.pairKey(symbols[position], symbols[next[position]])] {
                queue.push(rank: merge.rank, position: top.position, result: merge.result)
            }
        }
        var out: [Int] = []
        var position = 0
        while position >= 0 {
            out.append(Int(symbols[position]))
            position = next[position]
        }
        return out
    }

    private static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }
}

/// A binary min-heap of candidate merges ordered by (rank, position).
struct MergeQueue {
    private var entries: [(rank: Int32, position: Int32, result: Int32)] = []

    private static func precedes(_ a: (rank: Int32, position: Int32, result: Int32), _ b: (rank: Int32, position: Int32, result: Int32)) -> Bool {
        a.rank != b.rank ? a.rank < b.rank : a.position < b.position
    }

    mutating func push(rank: Int32, position: Int32, result: Int32) {
        entries.append((rank, position, result))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(entries[child], entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (rank: Int32, position: Int32, result: Int32)? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        if entries.isEmpty { return top }
        entries[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < entries.count && Self.precedes(entries[left], entries[smallest]) { smallest = left }
            if right < entries.count && Self.precedes(entries[right], entries[smallest]) { smallest = right }
            if smallest == parent { break }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
