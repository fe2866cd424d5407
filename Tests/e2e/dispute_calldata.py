"""Builds the arguments of the jobs module's dispute calls from a local trace
(docs/verification.md, "Disputes"): what a provider sends to reveal its trace and what a
challenger sends to prove a node wrong. A local trace is `opg model trace --output-dir`'s:
each node's leaf (its outputs' hash) and its outputs as TensorProto files, re-encoded here
in the canonical tensor encoding (the leaf's preimage). Usable from tests and by hand:

    trace = local_trace(opg_binary, model_file, {"X": input_pb}, workdir)
    for piece, leaves, proof in reveal_pieces(trace.leaves): jobs.functions.revealTrace(job, piece, leaves, proof)
    q = first_difference(revealed_leaves, trace.leaves)
    jobs.functions.proveNode(job, q, revealed_leaves[q], merkle_proof(revealed_leaves, q), input_or_empty,
                             producers(model_file, trace, q, revealed_leaves))
"""
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import numpy_helper

from test_traces import canonical, inner_hash, leaf_hash

PIECE_LEAVES = 1024


@dataclass
class LocalTrace:
    """The trace of one run: per execution position, the node index, the leaf (32 bytes)
    and the canonical encoding of the node's named outputs."""
    nodes: list[int]
    leaves: list[bytes]
    outputs: list[bytes]
    root: bytes
    output_hash: bytes


def local_trace(opg: Path, model: Path, inputs: dict[str, Path], workdir: Path) -> LocalTrace:
    workdir.mkdir(parents=True, exist_ok=True)
    args = [str(opg), "model", "trace", str(model), "--output-dir", str(workdir)]
    for name, path in inputs.items():
        args += ["--input", f"{name}={path}"]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    printed = json.loads(done.stdout)
    outputs = []
    for step in printed["nodes"]:
        files = sorted(workdir.glob(f"{step['position']}.*.pb"), key=lambda p: int(p.name.split(".")[1]))
        tensors = [onnx.load_tensor(str(f)) for f in files]
        outputs.append(canonical([(t.data_type, numpy_helper.to_array(t)) for t in tensors]))
    return LocalTrace(nodes=[s["node"] for s in printed["nodes"]], leaves=[bytes.fromhex(s["outputHash"][2:]) for s in printed["nodes"]],
                      outputs=outputs, root=bytes.fromhex(printed["traceRoot"][2:]), output_hash=bytes.fromhex(printed["hash"][2:]))


def levels_of(leaf_hashes: list[bytes]) -> list[list[bytes]]:
    """Every level of the tree over `leaf_hashes` (docs/traces.md: pairs left to right, an
    odd last node promoted)."""
    levels = [leaf_hashes]
    while len(levels[-1]) > 1:
        level = levels[-1]
        nxt = [inner_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        levels.append(nxt)
    return levels


def proof_of(leaf_hashes: list[bytes], index: int) -> list[bytes]:
    """The siblings of leaf `index`, leaf level first, none where the path is promoted."""
    siblings = []
    for level in levels_of(leaf_hashes)[:-1]:
        if index ^ 1 < len(level):
            siblings.append(level[index ^ 1])
        index //= 2
    return siblings


def merkle_proof(leaves: list[bytes], index: int) -> list[bytes]:
    """The proof of trace leaf `index` (leaf data: the 32-byte output hash)."""
    return proof_of([leaf_hash(x) for x in leaves], index)


def reveal_pieces(leaves: list[bytes]) -> list[tuple[int, list[bytes], list[bytes]]]:
    """`revealTrace`'s (piece, leaves, proof) for every piece: piece p's leaves, and the
    proof of its root among the level-10 nodes."""
    pieces = [leaves[i:i + PIECE_LEAVES] for i in range(0, len(leaves), PIECE_LEAVES)]
    roots = [levels_of([leaf_hash(x) for x in piece])[-1][0] for piece in pieces]
    return [(p, piece, proof_of(roots, p)) for p, piece in enumerate(pieces)]


def first_difference(revealed: list[bytes], honest: list[bytes]) -> int | None:
    """The first position where the provider's leaves differ from the honest ones."""
    return next((q for q, (a, b) in enumerate(zip(revealed, honest)) if a != b), None)


def producers(model: Path, trace: LocalTrace, position: int, revealed: list[bytes]) -> list[tuple[int, bytes, list[bytes]]]:
    """`proveNode`'s producers for the node at `position`: for each of its inputs another
    node produces, that node's (position, honest canonical outputs, proof among `revealed`)."""
    graph = onnx.load(str(model), load_external_data=False).graph
    producer_of = {name: i for i, node in enumerate(graph.node) for name in node.output if name}
    wanted = []
    for name in graph.node[trace.nodes[position]].input:
        if name in producer_of and trace.nodes.index(producer_of[name]) not in wanted:
            wanted.append(trace.nodes.index(producer_of[name]))
    return [(q, trace.outputs[q], merkle_proof(revealed, q)) for q in wanted]
