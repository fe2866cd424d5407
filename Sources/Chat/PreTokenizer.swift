/// Splits text (without special tokens) into the pieces BPE encodes one by one, as the
/// chat model's tokenizer does (docs/chat.md, "Pre-tokenizer"): every number character is a
/// piece of its own (the reference's `Digits(individual_digits)` step), and each stretch
/// between numbers is split as GPT-2's pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// splits it, written out by hand over `CharacterClass` (the `\p{N}` branch never fires there).
enum PreTokenizer {
    /// The pieces of `scalars[range]` as ranges of indices, in order; together they cover the range.
    static func pieces(_ scalars: [Unicode.Scalar], _ classes: [CharacterClass], in range: Range<Int>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = range.lowerBound
        while start < range.upperBound {
            if classes[start] == .number {
                out.append(start..<start + 1)
                start += 1
                continue
            }
            var end = start
            while end < range.upperBound && classes[end] != .number { end += 1 }
            splitStretch(scalars, classes, start..<end, into: &out)
            start = end
        }
        return out
    }

    /// GPT-2's pattern over a stretch that holds no number: at each position the first
    /// alternative that matches, taken as far as it goes.
    private static func splitStretch(_ scalars: [Unicode.Scalar], _ classes: [CharacterClass], _ range: Range<Int>,
                                     into out: inout [Range<Int>]) {
        let end = range.upperBound
        var p = range.lowerBound
        func run(of wanted: CharacterClass, from q: Int) -> Int {
            var r = q
            while r < end && classes[r] == wanted { r += 1 }
            return r
        }
        while p < end {
            if let length = contractionLength(scalars, at: p, end: end) {
                out.append(p..<p + length)
                p += length
                continue
            }
            // ` ?\p{L}+` and ` ?[^\s\p{L}\p{N}]+`: an optional leading U+0020, then a run of one class.
            let q = scalars[p] == " " && p + 1 < end ? p + 1 : p
            if classes[q] == .letter || classes[q] == .other {
                let next = run(of: classes[q], from: q)
                out.append(p..<next)
                p = next
                continue
            }
            // `\s+(?!\S)`, else `\s+`: a run of white space, less its last scalar when a
            // non-space follows and the run is longer than one.
            var next = run(of: .space, from: p)
            if next < end && next - p > 1 { next -= 1 }
            out.append(p..<next)
            p = next
        }
    }

    /// The length of the contraction (`'s 't 're 've 'm 'll 'd`, lower case only) starting at `p`, if any.
    private static func contractionLength(_ scalars: [Unicode.Scalar], at p: Int, end: Int) -> Int? {
        guard scalars[p] == "'", p + 1 < end else { return nil }
        switch scalars[p + 1] {
        case "s", "t", "m", "d": return 2
        case "r", "v": return p + 2 < end && scalars[p + 2] == "e" ? 3 : nil
        case "l": return p + 2 < end && scalars[p + 2] == "l" ? 3 : nil
        default: return nil
        }
    }
}
