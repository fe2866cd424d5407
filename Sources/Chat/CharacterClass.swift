/// The pre-tokenizer's character classes (docs/chat.md, "Pre-tokenizer"), frozen in
/// `unicodeClassRuns` so they never depend on the toolchain's Unicode version.
enum CharacterClass: UInt8 {
    /// Neither a letter, a number nor white space (`[^\s\p{L}\p{N}]`).
    case other = 0
    /// `\p{L}`: Lu, Ll, Lt, Lm, Lo.
    case letter = 1
    /// `\p{N}`: Nd, Nl, No; each number is a piece of its own.
    case number = 2
    /// `\s`: the Unicode White_Space property.
    case space = 3

    /// The class of `scalar`: a binary search for the last run starting at or before it.
    init(_ scalar: Unicode.Scalar) {
        let key = scalar.value << 2 | 3
        var low = 0, high = unicodeClassRuns.count
        while high - low > 1 {
            let middle = (low + high) / 2
            if unicodeClassRuns[middle] <= key { low = middle } else { high = middle }
        }
        self = CharacterClass(rawValue: UInt8(unicodeClassRuns[low] & 3))!
    }
}
