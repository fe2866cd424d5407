#!/usr/bin/env python3
"""Chat tokenizer throughput: `opg chat tokenize` against the `tokenizers` package (the
reference, Rust, one thread), alternated in one run.

The text is the reference test corpus (tools/chat/make_tokenizer_cases.py, seed 13) joined by
newlines and repeated to about 4 MB. opg encodes it as one text; its time is the command's
wall time less that of the same command on an empty text (process start and loading the 1 MB
tokenizer file). tokenizers encodes it twice: as one text (the same ids, checked) and as a
batch of the corpus's texts, its faster mode. Best of the rounds each.

  chat_tokenizer_bench.py [ROUNDS]      needs a release build and `make chat-data`
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "chat"))
import extract_tokenizer  # noqa: E402
import make_tokenizer_cases  # noqa: E402

BIN = Path(os.environ.get("OPG_BIN", ROOT / ".build" / "release"))
CASES = ROOT / ".build" / "chat" / "tokenizer-cases.json"


def opg_seconds(tokenizer_path, text_path):
    start = time.perf_counter()
    out = subprocess.run([str(BIN / "opg"), "chat", "tokenize", "--tokenizer", str(tokenizer_path), "-"],
                         stdin=open(text_path, "rb"), capture_output=True, check=True)
    return time.perf_counter() - start, out.stdout


def main(rounds):
    tokenizer_path = extract_tokenizer.write_tokenizer(extract_tokenizer.DEFAULT_OUT)
    with open(tokenizer_path, encoding="utf-8") as f:
        reference = make_tokenizer_cases.reference(json.load(f))
    with open(CASES, encoding="utf-8") as f:
        texts = [case["text"] + "\n" for case in json.load(f)["encode"]]
    repeat = max(1, (4 << 20) // len("".join(texts).encode()))
    texts *= repeat
    text = "".join(texts)
    size = len(text.encode())
    with tempfile.TemporaryDirectory() as work:
        text_path, empty_path = Path(work) / "text.txt", Path(work) / "empty.txt"
        text_path.write_text(text, encoding="utf-8")
        empty_path.write_text("", encoding="utf-8")
        ours, base, theirs, batched = [], [], [], []
        for _ in range(rounds):
            seconds, stdout = opg_seconds(tokenizer_path, text_path)
            ours.append(seconds)
            base.append(opg_seconds(tokenizer_path, empty_path)[0])
            start = time.perf_counter()
            ids = reference.encode(text, add_special_tokens=False).ids
            theirs.append(time.perf_counter() - start)
            start = time.perf_counter()
            reference.encode_batch(texts, add_special_tokens=False)
            batched.append(time.perf_counter() - start)
        if json.loads(stdout) != ids:
            sys.exit("chat_tokenizer_bench: opg and tokenizers gave different ids")
    opg_encode = min(ours) - min(base)
    print("| text | opg chat tokenize | tokenizers 0.23.3, 1 thread: one text | ratio | as a batch of texts | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| {size / 1e6:.1f} MB, {len(ids):,} tokens | {size / opg_encode / 1e6:.1f} MB/s "
          f"(+ {min(base) * 1000:.0f} ms start and load) | {size / min(theirs) / 1e6:.1f} MB/s | "
          f"{min(theirs) / opg_encode:.2f}x | {size / min(batched) / 1e6:.1f} MB/s | {min(batched) / opg_encode:.2f}x |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
