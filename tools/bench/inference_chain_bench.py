#!/usr/bin/env python3
"""Inference on the chain, each figure against a named peer measured in the same run.

1. Validating blocks full of inference transactions (precompile 0x…F4, batch 1). A devnet
   registers the model, then takes COUNT inference transactions; the data directory is
   copied right after the upload (base) and after the last inference (full). Each round
   times `opgd replay` of both copies (every block re-executed from genesis: signatures,
   execution, the kernel, tries, receipts) and `opg model bench` of the same model and
   input; the import time of the inference blocks is replay(full) − replay(base), the peer
   is COUNT × the kernel's in-process time per run. Overhead = import / peer − 1, the median
   of the per-round figures with their range, by wall clock and by CPU time (the children's
   rusage; leaves out time other processes held the cores). The order of the three
   measurements alternates between rounds. With --against-opgd PATH, each round also
   replays both copies with that other build of opgd (e.g. main's), and a second table
   gives this build's import CPU time over the other's, paired by round.
2. Inference transactions per second end to end (signed, submitted, included, receipt
   fetched), against the same number of plain transfers from the same senders on the same
   node, alternating.
3. Upload MB/s of a ~21 MB MLP (5.2 M float32 weights) through the registry's client
   (Tests/e2e/models.py upload_model: beginUpload, 96 KiB putChunk transactions eight in
   flight, finalizeUpload), against the same bytes sent as self-transfers with the same
   chunks as calldata, signed, estimated and pipelined the same way; fresh node per round.

This is a Python driver around `opgd replay`, not an import mode of `opgd bench`.

  inference_chain_bench.py MODELS_DIR [--rounds R] [--upload-rounds U] [--against-opgd PATH]
"""
import argparse
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from statistics import median

import numpy as np

warnings.filterwarnings("ignore")
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from web3 import Web3  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
from fastsign import sign_dynamic_fee  # noqa: E402
from models import CHUNK_BYTES, chunks_of, upload_model  # noqa: E402
from opgnode import BIN, CHAIN_ID, DEV_ACCOUNTS, Node, run  # noqa: E402
from test_inference import PRECOMPILE, model_input, precompile  # noqa: E402

SENDERS = DEV_ACCOUNTS[:8]
CASES = [("mlp_784_512_512_10", 240), ("diabetes_gbr", 480)]  # (model, inference transactions)
NODES: list[Node] = []  # every node started, killed on the way out should a measurement fail


def start_node(workdir: Path) -> Node:
    node = Node(workdir=workdir).init().start()
    NODES.append(node)
    return node


def spread(values: list[float], digits: int = 2) -> str:
    values = sorted(values)
    return f"{median(values):.{digits}f} ({values[0]:.{digits}f}–{values[-1]:.{digits}f})"


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of a child process that must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{argv}: {p.stderr.strip()}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def send_all(node: Node, txs: list[tuple[int, str, bytes, int]]) -> tuple[float, list[dict]]:
    """Signs and submits (sender index, to, data, gas) in order, each sender's nonces in turn,
    and waits for every receipt; returns the seconds from first signature to last receipt."""
    w3 = node.web3()
    nonces = [w3.eth.get_transaction_count(a.address, "pending") for a in SENDERS]
    start = time.perf_counter()
    hashes = []
    for sender, to, data, gas in txs:
        raw, tx_hash = sign_dynamic_fee(bytes(SENDERS[sender].key), CHAIN_ID, nonces[sender], to, gas=gas, data=data)
        nonces[sender] += 1
        while True:
            body = node.rpc("eth_sendRawTransaction", ["0x" + raw.hex()])
            if "error" not in body:
                break
            if "limit" not in body["error"]["message"]:
                raise RuntimeError(body["error"]["message"])
            time.sleep(0.05)  # the sender's pool slots are full: wait for a block
        hashes.append(tx_hash)
    receipts = []
    for h in hashes:
        receipts.append(dict(w3.eth.wait_for_transaction_receipt(h, timeout=300, poll_latency=0.02)))
    return time.perf_counter() - start, receipts


def batch1_input(models: Path, name: str, work: Path) -> tuple[str, np.ndarray, str]:
    x = np.load(models / f"{name}.inputs.npy")[:1].astype(np.float32)
    input_name = onnx.load(str(models / f"{name}.onnx")).graph.input[0].name
    path = work / f"{name}.input.pb"
    path.write_bytes(numpy_helper.from_array(x, input_name).SerializeToString())
    return input_name, x, f"{input_name}={path}"


def snapshot(node: Node, to: Path) -> Path:
    node.stop()
    shutil.copytree(node.datadir, to)
    return to


def block_import(models: Path, work: Path, name: str, count: int, rounds: int,
                 against: Path | None) -> tuple[list[str], list[str], list[str]]:
    """Rows of the block-import table, of the transactions-per-second table and of the
    table against another opgd build (empty without one)."""
    model = models / f"{name}.onnx"
    input_name, x, input_arg = batch1_input(models, name, work)
    node = start_node(work / f"{name}-node")
    w3 = node.web3()
    model_id = upload_model(w3, DEV_ACCOUNTS[9], model, name=name)["cid_v0"]
    data = bytes.fromhex(precompile(w3).encode_abi("runModelInference", [(0, model_id, model_input(input_name, x))])[2:])
    gas = w3.eth.estimate_gas({"from": SENDERS[0].address, "to": PRECOMPILE, "data": data}) + 20_000  # the meter's first write
    base = snapshot(node, work / f"{name}-base")
    node.start()
    inference_txs = [(i % len(SENDERS), PRECOMPILE, data, gas) for i in range(count)]
    inference_seconds, receipts = send_all(node, inference_txs)
    assert all(r["status"] == 1 for r in receipts), "an inference transaction failed"
    used = int(median(r["gasUsed"] for r in receipts))
    blocks = sorted({r["blockNumber"] for r in receipts})
    per_block = [sum(1 for r in receipts if r["blockNumber"] == b) for b in blocks]
    meter = int.from_bytes(w3.eth.get_storage_at(PRECOMPILE, 0, block_identifier=blocks[0]), "big")
    inference_gas = (meter & (2**128 - 1)) // ((meter >> 128) & (2**64 - 1))
    full = snapshot(node, work / f"{name}-full")
    node.start()
    # End-to-end rate: inference transactions, then as many plain transfers, alternating.
    transfers = [(i % len(SENDERS), DEV_ACCOUNTS[9].address, b"", 21_000) for i in range(count)]
    rates = {"inference": [count / inference_seconds], "transfer": []}
    for r in range(rounds):
        for kind in (("transfer", "inference") if r % 2 == 0 else ("inference", "transfer")):
            seconds, _ = send_all(node, transfers if kind == "transfer" else inference_txs)
            rates[kind].append(count / seconds)
    node.stop()

    replay_full, replay_base, kernel, other = [], [], [], []
    for r in range(rounds):
        steps = ["full", "base", "kernel"] if r % 2 == 0 else ["kernel", "base", "full"]
        if against:
            steps = steps + ["other"] if r % 2 == 0 else ["other"] + steps
        for step in steps:
            if step == "other":
                f, b = (timed([str(against), "replay", "--datadir", str(d)]) for d in (full, base))
                other.append((f[0] - b[0], f[1] - b[1]))
                continue
            if step == "kernel":
                out = run([str(BIN / "opg"), "model", "bench", str(model), "--input", input_arg, "--min-time", "1"], check=True).stdout
                result = json.loads(out)
                kernel.append((count * result["secondsPerRun"], count * result["cpuSecondsPerRun"]))
            else:
                (replay_full if step == "full" else replay_base).append(
                    timed([str(BIN / "opgd"), "replay", "--datadir", str(full if step == "full" else base)]))
    imports = [(f[0] - b[0], f[1] - b[1]) for f, b in zip(replay_full, replay_base)]
    wall = [(i[0] / k[0] - 1) * 100 for i, k in zip(imports, kernel)]
    cpu = [(i[1] / k[1] - 1) * 100 for i, k in zip(imports, kernel)]
    fit_gas = 30_000_000 // used
    fit_budget = 15_000_000 // inference_gas
    import_row = (f"| {name}, batch 1 | {count} | {len(blocks)} | {max(per_block)} | {used:,} | {inference_gas:,} | "
                  f"{min(fit_gas, fit_budget)} ({'gas limit' if fit_gas <= fit_budget else 'inference budget'}; "
                  f"gas {fit_gas}, budget {fit_budget}) | "
                  f"{spread([i[0] * 1000 / count for i in imports], 3)} | {spread([k[0] * 1000 / count for k in kernel], 3)} | "
                  f"{spread(wall, 0)} | {spread(cpu, 0)} |")
    ratio = [i / t for i, t in zip(rates["inference"][1:], rates["transfer"])]
    tps_row = (f"| {name}, batch 1 | {count} | {spread(rates['inference'], 0)} | {spread(rates['transfer'], 0)} | "
               f"{spread(ratio)} |")
    against_rows = [f"| {name}, batch 1 | {spread([i[1] * 1e6 / count for i in imports], 0)} | "
                    f"{spread([o[1] * 1e6 / count for o in other], 0)} | {spread([i[1] / o[1] for i, o in zip(imports, other)])} |"] if against else []
    return [import_row], [tps_row], against_rows


def big_mlp(path: Path, seed: int) -> Path:
    """A 1024-4096-256 MLP: 5.24 M float32 weights, ~21 MB."""
    rng = np.random.default_rng(seed)
    w0 = numpy_helper.from_array((rng.standard_normal((1024, 4096)) * 0.03).astype(np.float32), "w0")
    w1 = numpy_helper.from_array((rng.standard_normal((4096, 256)) * 0.03).astype(np.float32), "w1")
    nodes = [helper.make_node("MatMul", ["x", "w0"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w1"], ["y"])]
    graph = helper.make_graph(nodes, "upload_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1024])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 256])], [w0, w1])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="opg-bench")
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path


def calldata_transfer(w3: Web3, account, data: bytes, window: int = 8) -> None:
    """The peer of an upload: the same 96 KiB pieces as self-transfers with data, each estimated,
    signed with eth-account and sent like upload_model's chunks, `window` in flight."""
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    in_flight = []
    for piece in chunks_of(data):
        tx = {"from": account.address, "to": account.address, "data": piece, "value": 0}
        estimate = w3.eth.estimate_gas(tx)
        signed = account.sign_transaction({"to": account.address, "data": piece, "value": 0, "nonce": nonce, "chainId": CHAIN_ID,
                                           "gas": estimate, "maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9})
        in_flight.append(w3.eth.send_raw_transaction(signed.raw_transaction))
        nonce += 1
        if len(in_flight) >= window:
            assert w3.eth.wait_for_transaction_receipt(in_flight.pop(0), timeout=300, poll_latency=0.05).status == 1
    for h in in_flight:
        assert w3.eth.wait_for_transaction_receipt(h, timeout=300, poll_latency=0.05).status == 1


def upload(work: Path, rounds: int) -> list[str]:
    upload_rate, calldata_rate = [], []
    size = 0
    for r in range(rounds):
        model = big_mlp(work / f"upload-{r}.onnx", seed=r)
        data = model.read_bytes()
        size = len(data)
        node = start_node(work / f"upload-node-{r}")
        w3 = node.web3()
        for kind in (("upload", "calldata") if r % 2 == 0 else ("calldata", "upload")):
            start = time.perf_counter()
            if kind == "upload":
                ids = upload_model(w3, DEV_ACCOUNTS[0], model, name="upload bench")
                assert ids["sha256"] == "0x" + hashlib.sha256(data).hexdigest()
                upload_rate.append(size / 1e6 / (time.perf_counter() - start))
            else:
                calldata_transfer(w3, DEV_ACCOUNTS[1], data)
                calldata_rate.append(size / 1e6 / (time.perf_counter() - start))
        node.stop()
        shutil.rmtree(node.workdir, ignore_errors=True)
    ratio = [u / c for u, c in zip(upload_rate, calldata_rate)]
    chunks = -(-size // CHUNK_BYTES)
    return [f"| {size / 1e6:.1f} MB, {chunks} chunks | {spread(upload_rate)} | {spread(calldata_rate)} | {spread(ratio)} |"]


def measure(args: argparse.Namespace, work: Path) -> None:
    """Prints the tables for the parts `args` asks for."""
    if args.only != "upload":
        import_rows, tps_rows, against_rows = [], [], []
        for name, count in CASES:
            a, b, c = block_import(args.models, work, name, count, args.rounds, args.against_opgd)
            import_rows += a
            tps_rows += b
            against_rows += c
        print(f"Block import of inference transactions (precompile), {args.rounds} alternating rounds; "
              "import = replay(with the inference blocks) − replay(up to the upload); peer = the same "
              "inferences by `opg model bench` in-process; median (range). Goal: overhead ≤ 15%.")
        print()
        print("| model | txs | blocks | most in a block | gas per tx | inference gas | fit in a block (limit) "
              "| import ms per tx | kernel ms per run | overhead % (wall) | overhead % (CPU) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
        print("\n".join(import_rows))
        print()
        if args.against_opgd:
            print(f"The same import by {args.against_opgd}, replaying the same copies in the same rounds; CPU µs per "
                  "inference transaction, median (range); ratio = this build / that one, paired by round.")
            print()
            print("| model | this build | that build | ratio |")
            print("| --- | ---: | ---: | ---: |")
            print("\n".join(against_rows))
            print()
        print("Inference transactions per second end to end (sign, submit, included, receipt), against as many "
              "plain transfers from the same 8 senders on the same node; median (range).")
        print()
        print("| model | txs per round | inference tx/s | transfer tx/s | ratio |")
        print("| --- | ---: | ---: | ---: | ---: |")
        print("\n".join(tps_rows))
        print()
    if args.only != "import":
        print(f"Upload of a 1024-4096-256 MLP through upload_model against the same bytes as 96 KiB self-transfer "
              f"calldata, {args.upload_rounds} alternating rounds on fresh nodes; MB/s, median (range).")
        print()
        print("| model | upload MB/s | calldata MB/s | ratio |")
        print("| --- | ---: | ---: | ---: |")
        print("\n".join(upload(work, args.upload_rounds)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--upload-rounds", type=int, default=3)
    parser.add_argument("--only", choices=["import", "upload"], help="run one part")
    parser.add_argument("--against-opgd", type=Path, help="another opgd build to replay the same blocks with (e.g. main's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opg-chain-bench-") as tmp:
        try:
            measure(args, Path(tmp))
        finally:
            for node in NODES:
                node.kill9()
    return 0


if __name__ == "__main__":
    sys.exit(main())
