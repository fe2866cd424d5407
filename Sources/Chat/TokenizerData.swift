import Foundation
import JSON

/// A byte-level BPE tokenizer's data as `tools/chat/extract_tokenizer.py` writes it from the
/// chat model's GGUF file (docs/chat.md, "Tokenizer file"): the vocabulary in id order, the
/// merges in rank order, the special tokens and the chat template.
public struct TokenizerData: Sendable {
    /// The value of the file's `format` field this reader understands.
    public static let format = "opg-byte-level-bpe/1"

    /// Every token's text in id order; normal tokens are written in the byte-level alphabet.
    public let tokens: [String]
    /// The merges, rank 0 first: each joins two tokens into the token spelled by their concatenation.
    public let merges: [(left: String, right: String)]
    /// The special (control) tokens, matched in text before pre-tokenization, in id order.
    public let specialTokens: [(id: Int, content: String)]
    /// Beginning-of-sequence, end-of-sequence and padding token ids.
    public let bosTokenId: Int, eosTokenId: Int, padTokenId: Int
    /// The chat template as the GGUF file holds it (Jinja source).
    public let chatTemplate: String

    /// Parses the JSON file's bytes; every missing or mistyped field is an `invalidTokenizerData` error naming it.
    public init(json bytes: [UInt8]) throws {
        let root: JSONValue
        do { root = try JSONParser.parse(bytes) } catch { throw ChatError.invalidTokenizerData("\(error)") }
        guard root.objectValue != nil else { throw ChatError.invalidTokenizerData("the file is not a JSON object") }
        guard let format = root["format"]?.stringValue, format == Self.format else {
            throw ChatError.invalidTokenizerData("format is not \"\(Self.format)\"")
        }
        tokens = try Self.strings(root, "tokens")
        guard !tokens.isEmpty, tokens.count <= Int(Int32.max) else { throw ChatError.invalidTokenizerData("tokens: none, or too many") }
        merges = try Self.strings(root, "merges").enumerated().map { rank, merge in
            let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ChatError.invalidTokenizerData("merges[\(rank)] \"\(merge)\" is not two tokens separated by one space")
            }
            return (String(parts[0]), String(parts[1]))
        }
        guard let specials = root["specialTokens"]?.arrayValue else { throw ChatError.invalidTokenizerData("specialTokens is not an array") }
        specialTokens = try specials.enumerated().map { index, entry in
            guard let content = entry["content"]?.stringValue, !content.isEmpty,
                  let id = entry["id"]?.numberValue?.int64.map(Int.init) else {
                throw ChatError.invalidTokenizerData("specialTokens[\(index)] lacks an integer id or a non-empty content")
            }
            return (id, content)
        }
        bosTokenId = try Self.integer(root, "bosTokenId")
        eosTokenId = try Self.integer(root, "eosTokenId")
        padTokenId = try Self.integer(root, "padTokenId")
        guard let template = root["chatTemplate"]?.stringValue else { throw ChatError.invalidTokenizerData("chatTemplate is not a string") }
        chatTemplate = template
    }

    /// Reads and parses the tokenizer file at `path`.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw ChatError.invalidTokenizerData("cannot read \(path)") }
        try self.init(json: [UInt8](data))
    }

    private static func strings(_ root: JSONValue, _ key: String) throws -> [String] {
        guard let array = root[key]?.arrayValue else { throw ChatError.invalidTokenizerData("\(key) is not an array") }
        return try array.enumerated().map { index, value in
            guard let s = value.stringValue else { throw ChatError.invalidTokenizerData("\(key)[\(index)] is not a string") }
            return s
        }
    }

    private static func integer(_ root: JSONValue, _ key: String) throws -> Int {
        guard let n = root[key]?.numberValue?.int64 else { throw ChatError.invalidTokenizerData("\(key) is not an integer") }
        return Int(n)
    }
}
