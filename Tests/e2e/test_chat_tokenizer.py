"""`opg chat tokenize|decode|template` against the reference: the `tokenizers` package built
from the same vocabulary, merges and special tokens with the chat model's pre-tokenizer, and
the GGUF's own Jinja chat template rendered by jinja2 (tools/chat/make_tokenizer_cases.py
builds both). ChatTests compares thousands of strings in-process; this checks the command."""
import json
import subprocess
import sys

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from opgnode import BIN, ROOT

sys.path.insert(0, str(ROOT / "tools" / "chat"))
import extract_tokenizer  # noqa: E402
import make_tokenizer_cases  # noqa: E402

TEXTS = ["Hello world", "<|im_start|>user\nI'm 42 — ok?<|im_end|>\n", "日本語 👨‍👩‍👧‍👦 🇺🇸 e\u0301", "  \t\n 12345 ", "x" * 3000]


@pytest.fixture(scope="module")
def data():
    path = extract_tokenizer.write_tokenizer(extract_tokenizer.DEFAULT_OUT)
    with open(path, encoding="utf-8") as f:
        return path, json.load(f)


def opg(*args, stdin=None):
    return subprocess.run([str(BIN / "opg"), "chat", *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_tokenize_and_decode_match_reference(data):
    path, document = data
    reference = make_tokenizer_cases.reference(document)
    for text in TEXTS:
        out = opg("tokenize", "--tokenizer", str(path), "-", stdin=text)
        assert out.returncode == 0, out.stderr
        ids = json.loads(out.stdout)
        assert ids == reference.encode(text, add_special_tokens=False).ids
        decoded = opg("decode", "--tokenizer", str(path), *map(str, ids))
        assert decoded.returncode == 0, decoded.stderr
        assert decoded.stdout == text + "\n"


def test_template_matches_jinja(data):
    path, document = data
    jinja = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(document["chatTemplate"])
    messages = [("user", "Hi there"), ("assistant", "Hello!"), ("user", "2+2?")]
    expected = jinja.render(messages=[{"role": r, "content": c} for r, c in messages], add_generation_prompt=True)
    args = ["template", "--tokenizer", str(path)] + [a for r, c in messages for a in ("--message", f"{r}={c}")]
    out = opg(*args)
    assert out.returncode == 0, out.stderr
    assert out.stdout == expected
    ids = json.loads(opg(*args, "--ids").stdout)
    assert ids == make_tokenizer_cases.reference(document).encode(expected, add_special_tokens=False).ids


@pytest.mark.parametrize("args, status, message", [
    (["decode", "12", "x"], 2, 'ID: "x" is not a token id'),
    (["decode", "49152"], 1, "token id 49152 out of range (vocabulary has 49152 tokens)"),
    (["template", "--message", "tool=x"], 2, 'unknown role "tool"'),
    (["template", "--message", "user"], 2, 'is not ROLE=CONTENT'),
    (["tokenize"], 2, "missing argument TEXT"),
    (["frob"], 2, 'unknown subcommand "frob"'),
])
def test_bad_arguments_are_refused_clearly(data, args, status, message):
    path, _ = data
    out = opg(*args[:1], "--tokenizer", str(path), *args[1:]) if args[0] != "frob" else opg(*args)
    assert out.returncode == status
    assert message in out.stderr


def test_missing_tokenizer_file_is_named(tmp_path):
    out = opg("tokenize", "--tokenizer", str(tmp_path / "none.json"), "hi")
    assert out.returncode == 2 and "--tokenizer: cannot read" in out.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    out = opg("tokenize", "--tokenizer", str(bad), "hi")
    assert out.returncode == 1 and 'invalid tokenizer data: format is not "opg-byte-level-bpe/1"' in out.stderr


def test_help():
    for args in (["--help"], ["tokenize", "--help"], ["decode", "-h"]):
        out = opg(*args)
        assert out.returncode == 0 and out.stdout.startswith("usage: opg chat ") and "opg chat tokenize" in out.stdout, args
    out = opg()
    assert out.returncode == 2 and "missing subcommand" in out.stderr
