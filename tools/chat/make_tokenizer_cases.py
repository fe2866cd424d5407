#!/usr/bin/env python3
"""Writes the chat tokenizer's test cases, computed by the reference: the `tokenizers` package
(pinned in tools/requirements.txt) built from the same vocabulary and merges, the same special
tokens and the chat model's pre-tokenizer (Digits with individual digits, then GPT-2's
ByteLevel split), and the GGUF's own chat template rendered by jinja2 as transformers renders
it. Tests/ChatTests reads the file; nothing in it is committed.

  make_tokenizer_cases.py TOKENIZER.json OUT.json

The corpus is drawn from a fixed seed: thousands of strings of Unicode (CJK, combining marks,
right-to-left scripts), digits of many scripts and long digit runs, white-space runs,
contractions in both cases, emoji with ZWJ sequences, flags and skin tones, special tokens
inside text, characters whose bytes the vocabulary lacks, random code points, random bytes
decoded as UTF-8 with replacement, and rendered conversations; plus random id sequences to
decode (cut UTF-8 sequences included) and conversations to render.
"""
import json
import random
import sys

from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

SEED = 13
RANDOM_STRINGS = 3000
RANDOM_DECODES = 600

FIXED = [
    "", " ", "  ", "\n", "\n\n", " \n", "\t", "Hello world", "Hello, world!", " Hello", "hello  world", "a\tb\nc\r\nd",
    "I'm here", "you're", "they've", "we'll", "he'd", "it's", "don't", "I'M HERE", "YOU'RE", "It'S", "'s", "'", "''s", "' s",
    "rock 'n' roll", "x'll'd've", "12345678901234567890", "3.14159", "1,000,000", " 42", "a1b2c3", "٣٤٥ ४५६ ５６ ½ Ⅻ ² ¹²",
    "日本語のテキスト", "中文文本测试", "한국어 텍스트", "مرحبا بالعالم", "שלום עולם", "e\u0301 n\u0303 a\u0308\u0304",
    "Ａｂｃ　全角", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "🇺🇸🇫🇷🇯🇵", "👍🏽 ok", "🙂🙂🙂", "tab\t\t\tthen", "spaces     then",
    "ends with spaces   ", "   starts with spaces", "\u00a0nbsp\u00a0", "\u3000ideographic", "line\u2028sep", "\x0b\x0c\x85",
    "<|im_start|>user\nHi<|im_end|>\n", "<|im_start|><|im_end|><|endoftext|>", "<|im_start", "<|im_end|>>", "<<|im_end|>",
    "x<|endoftext|>y", "<repo_name><reponame>", "<|im_start|>assistant\n", "a\x04b\x06c\x13d\x14e\x16f\x1dg",
    "\U00040000\U00080000", "\x00", "\x7f\x1c\x1f", "a" * 5000, "9" * 3000, " " * 2000, "\n" * 500 + "x",
    "ab " * 1000, "The quick brown fox jumps over the lazy dog. " * 40,
]

WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\r", "\x0b", "\x0c", "\x85", "\u00a0", "\u1680", "\u2000", "\u200a", "\u2028",
              "\u2029", "\u202f", "\u205f", "\u3000", "\x1c", "\x1f", "\u200b", "\u180e"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D", "'", "''", "'x"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "🇩🇪", "❤️", "🧑🏿‍💻", "✈️", "🫠", "#️⃣", "©", "™"]
SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<empty_output>", "<|im_start", "im_end|>", "<|", "|>"]
DIGITS = ["0", "7", "42", "2026", "3.5", "٣", "४", "５", "½", "Ⅻ", "²", "𝟙", "①", "〇"]
RANGES = [(0x41, 0x5A), (0x61, 0x7A), (0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E), (0xC0, 0x24F),
          (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F),
          (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0x300, 0x36F), (0x2000, 0x206F), (0x20A0, 0x20CF),
          (0x2190, 0x21FF), (0x1F300, 0x1F64F), (0xFF00, 0xFFEF), (0x1D400, 0x1D7FF), (0x10000, 0x1007F)]


def reference(data):
    vocab = {token: i for i, token in enumerate(data["tokens"])}
    merges = [tuple(m.split(" ")) for m in data["merges"]]
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                       pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(s["content"], special=True, normalized=False) for s in data["specialTokens"]])
    for s in data["specialTokens"]:
        assert tokenizer.token_to_id(s["content"]) == s["id"], s
    return tokenizer


def random_code_point(rng):
    while True:
        cp = rng.randrange(0x110000)
        if not 0xD800 <= cp <= 0xDFFF:
            return chr(cp)


def random_string(rng):
    parts = []
    for _ in range(rng.randint(1, 30)):
        kind = rng.randrange(10)
        if kind == 0:
            parts.append(rng.choice(WHITESPACE) * rng.randint(1, 4))
        elif kind == 1:
            parts.append(rng.choice(CONTRACTIONS))
        elif kind == 2:
            parts.append(rng.choice(EMOJI))
        elif kind == 3:
            parts.append(rng.choice(DIGITS) * rng.randint(1, 3))
        elif kind == 4:
            parts.append(rng.choice(SPECIALS))
        elif kind == 5:
            parts.append(random_code_point(rng))
        elif kind == 6:
            parts.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))).decode("utf-8", errors="replace"))
        else:
            low, high = rng.choice(RANGES)
            parts.append("".join(chr(rng.randint(low, high)) for _ in range(rng.randint(1, 8))))
    return "".join(parts)


CONVERSATIONS = [
    ([], False), ([], True),
    ([("user", "Hello!")], True),
    ([("user", "Hello!")], False),
    ([("system", "You are terse."), ("user", "What is 2+2?")], True),
    ([("system", "S"), ("user", "Hi"), ("assistant", "Hello! How can I help?"), ("user", "Tell me a joke.")], True),
    ([("assistant", "I start."), ("user", "ok")], True),
    ([("user", "line one\nline two\n\n  indented"), ("assistant", "")], False),
    ([("user", "日本語で答えて 🇯🇵"), ("assistant", "はい。"), ("system", "late system")], True),
    ([("user", "")], True),
]


def main(tokenizer_path, out_path):
    with open(tokenizer_path, encoding="utf-8") as f:
        data = json.load(f)
    tokenizer = reference(data)
    template = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(data["chatTemplate"])
    rng = random.Random(SEED)

    templates = []
    for messages, generation_prompt in CONVERSATIONS:
        text = template.render(messages=[{"role": r, "content": c} for r, c in messages],
                               add_generation_prompt=generation_prompt)
        templates.append({"messages": [[r, c] for r, c in messages], "addGenerationPrompt": generation_prompt, "text": text})

    texts = FIXED + [t["text"] for t in templates] + [random_string(rng) for _ in range(RANDOM_STRINGS)]
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    encode = []
    for text, encoding in zip(texts, encodings):
        ids = encoding.ids
        encode.append({"text": text, "ids": ids, "decoded": tokenizer.decode(ids, skip_special_tokens=False)})

    decode = []
    for _ in range(RANDOM_DECODES):
        ids = [rng.randrange(len(data["tokens"])) for _ in range(rng.randint(1, 12))]
        decode.append({"ids": ids, "text": tokenizer.decode(ids, skip_special_tokens=False)})

    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"encode": encode, "decode": decode, "templates": templates}, f, ensure_ascii=False)


if __name__ == "__main__":
    main(*sys.argv[1:])
