"""The chat model (SmolLM2-135M-Instruct converted from its GGUF by tools/chat/convert_model.py,
docs/chat.md "The model graph") run by `opg model run` with its key/value cache:

- the converted file has the pinned hash, uses only operators opg runs, and its cost follows
  from the input shapes alone (so the chain can price a run before it);
- the conversion is right: onnxruntime running the graph agrees with an independent numpy
  forward pass over the GGUF's own weights that rotates query/key pairs as llama.cpp does
  (rope type NORM), which checks the undone row permutation;
- opg agrees with onnxruntime on the first decode step's top 5 (only the first step: the two
  sum in different orders, so later tokens may legitimately differ);
- a short greedy answer's token ids, recorded from opg itself, are pinned;
- decoding with the cache gives bit-identical logits to running the whole sequence at once;
- the fast kernels on one and two threads and the reference kernels give the same bytes.

`make test` builds the model before the e2e tests (cached), so nothing here is skipped."""
import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from opgnode import BIN, ROOT

sys.path.insert(0, str(ROOT / "tools" / "chat"))
import convert_model  # noqa: E402
import extract_tokenizer  # noqa: E402
import fetch_model  # noqa: E402

QUESTION = "What is the capital of France?"
# Recorded from opg's own kernel (release build, fast kernels); eos (2) ends the answer.
ANSWER_IDS = [504, 3575, 282, 4649, 314, 7042, 30, 2]
ANSWER_TEXT = "The capital of France is Paris.<|im_end|>"
MAX_NEW_TOKENS = 16
LAYERS, KV_HEADS, HEAD_DIM, EOS = 30, 3, 64, 2


@pytest.fixture(scope="module")
def model():
    return convert_model.convert(convert_model.DEFAULT_OUT)


@pytest.fixture(scope="module")
def tokenizer():
    return extract_tokenizer.write_tokenizer(extract_tokenizer.DEFAULT_OUT)


@pytest.fixture(scope="module")
def prompt_ids(tokenizer):
    out = subprocess.run([str(BIN / "opg"), "chat", "template", "--tokenizer", str(tokenizer), "--ids",
                          "--message", f"user={QUESTION}"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def empty_cache():
    return {f"past_{kind}.{layer}": np.zeros((1, KV_HEADS, 0, HEAD_DIM), np.float32)
            for layer in range(LAYERS) for kind in ("key", "value")}


def opg_step(model, work, ids, past_files, *options):
    """One `opg model run` over `ids` with the cache in `past_files` (None: empty). Returns the
    logits and the files of the present keys and values, named as the next step's inputs."""
    work.mkdir(parents=True, exist_ok=True)
    feeds = {"input_ids": np.array([ids], np.int64)}
    if past_files is None:
        feeds.update(empty_cache())
    args = []
    for name, array in feeds.items():
        path = work / f"{name}.pb"
        path.write_bytes(numpy_helper.from_array(array, name).SerializeToString())
        args += ["--input", f"{name}={path}"]
    for name, path in (past_files or {}).items():
        args += ["--input", f"{name}={path}"]
    out = subprocess.run([str(BIN / "opg"), "model", "run", str(model), *args, "--output-dir", str(work / "out"), "--quiet",
                          *options],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    logits = numpy_helper.to_array(onnx.load_tensor(str(work / "out" / "0.pb")))
    present = {f"past_{kind}.{layer}": work / "out" / f"{1 + 2 * layer + k}.pb"
               for layer in range(LAYERS) for k, kind in enumerate(("key", "value"))}
    return logits, present


@pytest.fixture(scope="module")
def onnxruntime_prompt_logits(model, prompt_ids):
    """onnxruntime (one thread) running the same graph over the prompt with an empty cache."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"input_ids": np.array([prompt_ids], np.int64), **empty_cache()})[0]


def reference_logits(ids):
    """An independent float64 forward pass over the GGUF's dequantized weights as they are stored:
    query/key rows in llama.cpp's pair layout, rotated pairwise (x[2i], x[2i+1]), no ONNX."""
    import gguf
    reader = gguf.GGUFReader(fetch_model.gguf_path())
    h = convert_model.Hyper(reader)
    w = {name: a.astype(np.float64) for name, a in convert_model.dequantized(reader).items()}
    n = len(ids)
    angles = np.arange(n)[:, None] * h.rope_base ** (-np.arange(0, h.head_dim, 2) / h.head_dim)[None, :]
    cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]

    def rope_pairs(t):
        even, odd = t[..., 0::2], t[..., 1::2]
        out = np.empty_like(t)
        out[..., 0::2], out[..., 1::2] = even * cos - odd * sin, even * sin + odd * cos
        return out

    def rms(x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + h.eps) * weight

    future = np.triu(np.ones((n, n), bool), 1)
    x = w["token_embd.weight"][ids]
    for layer in range(h.layers):
        p = f"blk.{layer}"
        a = rms(x, w[f"{p}.attn_norm.weight"])
        q = rope_pairs((a @ w[f"{p}.attn_q.weight"].T).reshape(n, h.heads, h.head_dim))
        k = rope_pairs((a @ w[f"{p}.attn_k.weight"].T).reshape(n, h.kv_heads, h.head_dim))
        v = (a @ w[f"{p}.attn_v.weight"].T).reshape(n, h.kv_heads, h.head_dim)
        heads = []
        for head in range(h.heads):
            kv = head // (h.heads // h.kv_heads)
            scores = q[:, head] @ k[:, kv].T / np.sqrt(h.head_dim)
            scores[future] = -np.inf
            probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
            heads.append(probs / probs.sum(axis=-1, keepdims=True) @ v[:, kv])
        x = x + np.concatenate(heads, axis=-1) @ w[f"{p}.attn_output.weight"].T
        f = rms(x, w[f"{p}.ffn_norm.weight"])
        gate = f @ w[f"{p}.ffn_gate.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * (f @ w[f"{p}.ffn_up.weight"].T)) @ w[f"{p}.ffn_down.weight"].T
    return rms(x, w["output_norm.weight"]) @ w["token_embd.weight"].T


def test_model_hash_is_pinned_every_operator_runs_and_cost_is_static(model):
    assert fetch_model.sha256_of(model) == convert_model.MODEL_SHA256
    out = subprocess.run([str(BIN / "opg"), "model", "inspect", "--json", str(model)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["runnable"] is True, report["unsupported"]
    assert report["cost"]["static"] is True, report["cost"]["dynamicReason"]
    assert [i["name"] for i in report["inputs"]][:3] == ["input_ids", "past_key.0", "past_value.0"]
    assert [o["name"] for o in report["outputs"]][:3] == ["logits", "present_key.0", "present_value.0"]


def test_graph_matches_independent_reference_on_gguf_weights(prompt_ids, onnxruntime_prompt_logits):
    """The rotary layout: onnxruntime on our graph against llama.cpp's pairwise rotation on the
    GGUF's rows. Float32 against float64: every logit within 1e-3 (measured: 9e-5), the same
    top 5 in order."""
    ours = onnxruntime_prompt_logits[0]
    reference = reference_logits(prompt_ids)
    assert np.max(np.abs(ours - reference)) < 1e-3
    assert list(np.argsort(-ours[-1])[:5]) == list(np.argsort(-reference[-1])[:5])


def test_first_step_top5_matches_onnxruntime(model, prompt_ids, onnxruntime_prompt_logits, tmp_path):
    """Only the first step is compared: opg's kernel and onnxruntime sum in different orders.
    The top 5 ids of the last position agree in order and every logit within 1e-3."""
    ours, _ = opg_step(model, tmp_path, prompt_ids, None)
    theirs = onnxruntime_prompt_logits
    assert ours.shape == theirs.shape == (1, len(prompt_ids), 49152)
    assert list(np.argsort(-ours[0, -1])[:5]) == list(np.argsort(-theirs[0, -1])[:5])
    assert np.max(np.abs(ours - theirs)) < 1e-3


def test_greedy_answer_is_pinned_and_cache_matches_full_sequence(model, prompt_ids, tokenizer, tmp_path):
    """Greedy decoding with the cache gives the recorded ids; running prompt and answer as one
    sequence with no cache gives bit-identical logits at every answer position."""
    answer, step_logits, past = [], [], None
    ids = prompt_ids
    while len(answer) < MAX_NEW_TOKENS and EOS not in answer:
        logits, past = opg_step(model, tmp_path / f"step{len(answer)}", ids, past)
        step_logits.append(logits[0, -1])
        answer.append(int(np.argmax(logits[0, -1])))
        ids = [answer[-1]]
    assert answer == ANSWER_IDS
    text = subprocess.run([str(BIN / "opg"), "chat", "decode", "--tokenizer", str(tokenizer), *map(str, answer)],
                          capture_output=True, text=True, timeout=60).stdout
    assert text == ANSWER_TEXT + "\n"

    full, _ = opg_step(model, tmp_path / "full", prompt_ids + answer[:-1], None)
    at_answer = full[0, len(prompt_ids) - 1:]
    assert [int(i) for i in np.argmax(at_answer, axis=-1)] == answer
    assert at_answer.tobytes() == np.stack(step_logits).tobytes()


def test_fast_reference_and_threads_give_the_same_bytes(model, prompt_ids, tmp_path):
    """determinism.md §7 on the real model: every output (logits and the whole cache) of the
    first 4 prompt tokens is byte-identical across the fast kernels on 1 and 2 threads and the
    reference kernels (the reference is slow, hence the short input)."""
    runs = [(tmp_path / name, options) for name, options in
            (("fast", ()), ("two_threads", ("--threads", "2")), ("reference", ("--reference",)))]
    for work, options in runs:
        opg_step(model, work, prompt_ids[:4], None, *options)
    outputs = sorted(p.name for p in (runs[0][0] / "out").iterdir())
    assert len(outputs) == 1 + 2 * LAYERS
    for name in outputs:
        first = (runs[0][0] / "out" / name).read_bytes()
        assert all((work / "out" / name).read_bytes() == first for work, _ in runs[1:]), name
