#!/usr/bin/env python3
"""Four opgd validators on this machine (`opgd testnet --validators 4 --timeouts test`, loopback),
each figure against its named peer measured in the same run (issue 11 §6, README "Benchmarks"):

- empty blocks: blocks per second and p99 time per height, against the bound set by the
  fsyncs on a height's critical path (counted from the code: FSYNCS_PER_HEIGHT below) times the
  fsync latency of this filesystem, probed right before and after each round; the fsyncs every
  validator actually issued are counted by perf's syscall tracepoints in the same window;
- transfers: finalized transactions per second at 4 validators against a quarter of the
  single-validator import rate (`opgd bench`, one 10,000-transfer block) measured in the same run,
  on a network with the production step timeouts (propose 3 s) and the same 10 ms commit pause:
  with the test profile's 30 ms propose timeout a full block (1,428 transfers) is not built and
  checked in time on this shared machine, and heights go round after round;
- a validator killed with SIGKILL, left down, restarted: seconds and blocks until its head is
  back with the others'.

Both networks end the commit pause once every precommit is in (`consensus.skipCommitPause`;
`--full-commit-pause` waits it out). Commit times come from node 0's log after each window, so
nothing polls the nodes while they are measured.

  consensus_bench.py [--rounds 3] [--seconds 15] [--transfers 20000] [--down-seconds 5] [--full-commit-pause]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from statistics import median

import requests
from eth_account import Account
from eth_utils import keccak

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
from fastsign import sign_dynamic_fee  # noqa: E402
from opgnode import BIN, DEV_ACCOUNTS  # noqa: E402
from validators import Network  # noqa: E402

# Durable writes on the critical path of one height, round 0, no failures (Sources/Consensus,
# docs/consensus.md "Durability"): the proposer signs the proposal, then every validator signs a
# prevote, then a precommit, then decides. Each signature (ConsensusDriver.run, .signAndBroadcast)
# writes the signer state without syncing it (FileSignerStateStorage: a pwrite of a slot in place;
# the WAL record of the signed message is its durable copy until the file is synced before a
# compaction), then appends the signed message to the WAL and syncs it once before broadcasting: 1.
# A decision waits only for the chain's commit to LevelDB with sync=true (1 fdatasync of LevelDB's
# log); the WAL is compacted only past 1 MiB. 3 × 1 + 1 = 4.
FSYNCS_PER_HEIGHT = 4
# The same count in the design measured before (2026-12-02, until valperf3): the signer state
# fdatasynced before the WAL sync of each signature, 3 × 2 + 1 = 7. (Before 2026-12-01: 16.)
FSYNCS_PER_HEIGHT_BEFORE = 7
# What one validator issues per height on average: its prevote, precommit and decision (3),
# plus a proposal in one height of four (1 / 4).
FSYNCS_PER_VALIDATOR_HEIGHT = 3.25


def fsync_latency(directory: Path, count: int = 200) -> float:
    """Median seconds of one fsync of a small append (a WAL record) in `directory`."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times = []
    try:
        for _ in range(count):
            os.write(fd, b"r" * 120)
            start = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()
    return median(times)


COMMITTED = re.compile(r"^(\S+) DEBUG block committed number=(\d+) ")


def commit_times(log_file: Path) -> dict[int, float]:
    """When each height was committed, by the node's own log (its `block committed` debug line,
    millisecond timestamps): read after the window, so the bench polls nothing while it runs
    (the 1 ms JSON-RPC poller it had took CPU from the four validators on two cores)."""
    times = {}
    for line in log_file.read_text(errors="replace").splitlines():
        m = COMMITTED.match(line)
        if m:
            times.setdefault(int(m.group(2)), datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp())
    return times


def perf_fsyncs(pids: list[int], seconds: float) -> int | None:
    """fsync + fdatasync calls the processes make in the next `seconds` (perf tracepoints), or None."""
    if not shutil.which("perf"):
        return None
    p = subprocess.run(["perf", "stat", "-x", ",", "-e", "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync",
                        "-p", ",".join(map(str, pids)), "--", "sleep", str(seconds)], capture_output=True, text=True)
    counts = [int(line.split(",")[0]) for line in p.stderr.splitlines() if "sys_enter_f" in line and line.split(",")[0].isdigit()]
    return sum(counts) if len(counts) == 2 else None


def import_rate() -> float:
    """Transfers per second of one 10,000-transfer block imported by one node (`opgd bench`)."""
    out = subprocess.run([str(BIN / "opgd"), "bench", "--transactions", "10000", "--rounds", "3"], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r"\| import of a 10000-transfer block[^|]*\| (\d+) \|", out)
    if not m:
        raise RuntimeError(out)
    return float(m.group(1))


def rpc(session: requests.Session, url: str, body):
    r = session.post(url, json=body, timeout=60)
    r.raise_for_status()
    return r.json()


def network(workdir: Path, timeouts: str, skip_commit_pause: bool) -> Network:
    """Four validators with a 10 ms commit pause (the test profile's), ended early once every
    precommit is in when `skip_commit_pause` (`consensus.skipCommitPause`), and `timeouts`' step
    timeouts, logging at debug level (one line per committed height, which `commit_times` reads)."""
    net = Network(workdir, 4, block_interval_ms=10)
    for v in net.nodes:
        if skip_commit_pause:
            v.config["consensus"]["skipCommitPause"] = True
        v.config["txPool"] = {"maxPerAccount": 1000, "pendingSlots": 200_000}
        v.config["consensus"]["timeouts"] = timeouts
        v.config["logLevel"] = "debug"  # a `block committed` line per height: the bench's clock
        (v.home / "config.json").write_text(json.dumps(v.config))
    return net.start()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def empty_blocks(net: Network, seconds: float, probe_dir: Path) -> dict:
    before = fsync_latency(probe_dir)
    pids = [v.proc.pid for v in net.nodes]
    cpu_before = sum(map(cpu_seconds, pids))
    window_start = time.time()
    fsyncs = perf_fsyncs(pids, seconds)
    if fsyncs is None:
        time.sleep(seconds)
    window_end = time.time()
    cpu = sum(map(cpu_seconds, pids)) - cpu_before
    after = fsync_latency(probe_dir)
    committed = commit_times(net.nodes[0].log_file)
    heights = sorted(h for h, t in committed.items() if window_start <= t <= window_end)
    times = [committed[h] for h in heights]
    intervals = sorted(b - a for a, b in zip(times, times[1:]))
    blocks = heights[-1] - heights[0]
    fsync = (before + after) / 2
    return {"blocks_per_second": blocks / (times[-1] - times[0]),
            "p99": intervals[min(len(intervals) - 1, int(0.99 * len(intervals)))], "median_interval": median(intervals),
            "fsync": fsync, "bound": 1 / (FSYNCS_PER_HEIGHT * fsync),
            "bound_with_pause": 1 / (FSYNCS_PER_HEIGHT * fsync + 0.010),
            "bound_before": 1 / (FSYNCS_PER_HEIGHT_BEFORE * fsync),
            "fsyncs_per_validator_height": None if fsyncs is None else fsyncs / 4 / max(1, blocks),
            "cpu_per_validator_height": cpu / 4 / max(1, blocks)}


def fund_senders(net: Network, count: int) -> list:
    """`count` fresh senders, funded from the dev accounts in one burst."""
    senders = [Account.from_key(keccak(text=f"opg consensus bench sender {i}")) for i in range(count)]
    session, url = requests.Session(), net.nodes[0].url
    chain_id = int(net.genesis["chainId"])
    nonces = {a.address: int(rpc(session, url, {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount",
                                                "params": [a.address, "pending"]})["result"], 16) for a in DEV_ACCOUNTS}
    batch = []
    for i, s in enumerate(senders):
        dev = DEV_ACCOUNTS[i % len(DEV_ACCOUNTS)]
        raw, _ = sign_dynamic_fee(dev.key, chain_id, nonces[dev.address], s.address, value=10**21, max_fee=10**11, max_tip=10**9)
        nonces[dev.address] += 1
        batch.append({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": ["0x" + raw.hex()]})
    for answer in rpc(session, url, batch):
        if "error" in answer:
            raise RuntimeError(answer["error"])
    deadline = time.time() + 120
    last = senders[-1].address
    while int(rpc(session, url, {"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": [last, "latest"]})["result"], 16) == 0:
        if time.time() > deadline:
            raise TimeoutError("senders not funded")
        time.sleep(0.1)
    return senders


def transfers(net: Network, senders: list, total: int, first_nonce: int) -> float:
    """Sends `total` transfers (in batches of 100, one thread per node);
    returns finalized transactions per second: from the first block holding one of them to the
    block holding the last, by their commit times in node 0's log."""
    chain_id = int(net.genesis["chainId"])
    per_sender = total // len(senders)
    # Each sender talks to one node (sender i to node i mod 4), so its nonces arrive in order there.
    raws = [[sign_dynamic_fee(s.key, chain_id, first_nonce + k, senders[0].address, value=1, max_fee=10**11, max_tip=10**9)[0]
             for k in range(per_sender) for s in senders[part::4]] for part in range(4)]
    start_height = net.nodes[0].head()

    def send(part: int):
        session, url = requests.Session(), net.nodes[part].url
        for b in (raws[part][i:i + 100] for i in range(0, len(raws[part]), 100)):
            answers = rpc(session, url, [{"jsonrpc": "2.0", "id": j, "method": "eth_sendRawTransaction", "params": ["0x" + r.hex()]}
                                         for j, r in enumerate(b)])
            errors = [a["error"] for a in answers if "error" in a]
            if errors:
                raise RuntimeError(errors[0])

    sending = time.perf_counter()
    threads = [threading.Thread(target=send, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = time.perf_counter()
    session, url = requests.Session(), net.nodes[0].url
    deadline = time.time() + 300
    last = senders[-1].address
    while int(rpc(session, url, {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount", "params": [last, "latest"]})["result"], 16) \
            < first_nonce + per_sender:
        if time.time() > deadline:
            raise TimeoutError("transfers not finalized")
        time.sleep(0.05)
    committed = commit_times(net.nodes[0].log_file)
    counts = {}
    for h in range(start_height + 1, max(committed) + 1):
        block = rpc(session, url, {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": [hex(h), False]})["result"]
        counts[h] = len(block["transactions"])
    holding = [h for h in sorted(counts) if counts[h]]
    first, last_h = holding[0], holding[-1]
    # Time from the commit of the block before the first holding one to the commit of the last.
    t0 = committed[first - 1]
    print(f"  {sum(map(len, raws))} transfers sent in {sent - sending:.2f} s; blocks {first}…{last_h} hold "
          f"{[counts[h] for h in range(first, last_h + 1)]}", file=sys.stderr)
    return sum(counts.values()) / (committed[last_h] - t0)


def rejoin(net: Network, down_seconds: float) -> tuple[float, int]:
    """Kills validator 3, waits, restarts it; seconds and blocks until its head reaches the others'."""
    v = net.nodes[3]
    v.kill9()
    time.sleep(down_seconds)
    start = time.perf_counter()
    v.start()
    target = net.nodes[0].head()
    behind_from = target - v.head()
    deadline = time.time() + 120
    while v.head() < target:
        if time.time() > deadline:
            print(f"validator 3 stuck at {v.head()} below {target}:\n{v.log_tail()}", file=sys.stderr)
            return float("inf"), behind_from
        time.sleep(0.005)
    return time.perf_counter() - start, behind_from


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--transfers", type=int, default=20000)
    ap.add_argument("--senders", type=int, default=500)
    ap.add_argument("--down-seconds", type=float, default=5)
    ap.add_argument("--full-commit-pause", action="store_true", help="wait out the 10 ms commit pause at every height "
                    "(consensus.skipCommitPause off), as before 2026-12-02")
    args = ap.parse_args()
    empties, rates, imports, rejoins = [], [], [], []
    for round_ in range(args.rounds):
        imports.append(import_rate())
        for timeouts in ("test", "production"):
            workdir = Path(tempfile.mkdtemp(prefix="opg-consensus-bench-"))
            net = network(workdir, timeouts, not args.full_commit_pause)
            try:
                net.wait_all(3)
                if timeouts == "test":
                    empties.append(empty_blocks(net, args.seconds, workdir))
                    rejoins.append(rejoin(net, args.down_seconds))
                else:
                    rates.append(transfers(net, fund_senders(net, args.senders), args.transfers, 0))
            finally:
                net.stop()
                shutil.rmtree(workdir, ignore_errors=True)
        imports.append(import_rate())
        e = empties[-1]
        print(f"round {round_ + 1}: {e['blocks_per_second']:.1f} blocks/s (p99 {e['p99'] * 1000:.1f} ms, fsync "
              f"{e['fsync'] * 1000:.2f} ms, bound {e['bound']:.1f}/s, fsyncs/validator/height {e['fsyncs_per_validator_height']}, "
              f"CPU/validator/height {e['cpu_per_validator_height'] * 1000:.1f} ms), "
              f"{rates[-1]:.0f} tx/s against import {imports[-2]:.0f}/{imports[-1]:.0f}, rejoin {rejoins[-1][0]:.2f} s "
              f"from {rejoins[-1][1]} blocks behind; load {os.getloadavg()[0]:.1f}", file=sys.stderr)

    def m(values):
        return median(values)

    def rng(values, fmt="%.2f"):
        return f"{fmt % m(values)} ({fmt % min(values)}–{fmt % max(values)})"

    bound_ratios = [e["blocks_per_second"] / e["bound"] for e in empties]
    pause_ratios = [e["blocks_per_second"] / e["bound_with_pause"] for e in empties]
    before_ratios = [e["blocks_per_second"] / e["bound_before"] for e in empties]
    quarter = [(imports[2 * i] + imports[2 * i + 1]) / 2 / 4 for i in range(args.rounds)]
    tx_ratios = [r / q for r, q in zip(rates, quarter)]
    counted = [e["fsyncs_per_validator_height"] for e in empties if e["fsyncs_per_validator_height"] is not None]
    print(f"4 validators, test timeouts, median of {args.rounds} rounds (range in brackets); fsyncs per height on the critical path "
          f"(from the code): {FSYNCS_PER_HEIGHT}; issued per validator per height (perf, expected ~{FSYNCS_PER_VALIDATOR_HEIGHT}): "
          + (rng(counted, "%.1f") if counted else "not counted (no perf)"))
    print()
    print("| measurement | opg | peer | peer rate | ratio (range) |")
    print("|---|---:|---|---:|---:|")
    print(f"| empty blocks per second | {m([e['blocks_per_second'] for e in empties]):.1f} | 1 / ({FSYNCS_PER_HEIGHT} fsyncs × "
          f"{m([e['fsync'] for e in empties]) * 1000:.2f} ms, the fsync latency probed in the same rounds) | "
          f"{m([e['bound'] for e in empties]):.1f} | {rng(bound_ratios)} |")
    print(f"| the same, against that bound plus the 10 ms commit pause | | | {m([e['bound_with_pause'] for e in empties]):.1f} | "
          f"{rng(pause_ratios)} |")
    print(f"| the same, against the bound of the design measured before ({FSYNCS_PER_HEIGHT_BEFORE} fsyncs) | | | "
          f"{m([e['bound_before'] for e in empties]):.1f} | {rng(before_ratios)} |")
    print(f"| p99 time per height (median interval) | {m([e['p99'] for e in empties]) * 1000:.1f} ms "
          f"({m([e['median_interval'] for e in empties]) * 1000:.1f} ms) | | | |")
    print(f"| CPU time per validator per height (user + system; 4 validators share 2 cores) | "
          f"{rng([e['cpu_per_validator_height'] * 1000 for e in empties], '%.1f')} ms | | | |")
    print(f"| finalized transfers per second (production step timeouts, 10 ms commit pause) | {m(rates):.0f} | a quarter of one node's import of a 10,000-transfer block "
          f"(`opgd bench`, before and after each round) | {m(quarter):.0f} | {rng(tx_ratios)} |")
    print(f"| validator killed, down {args.down_seconds:.0f} s, restarted: time until its head is the others' | "
          f"{rng([r[0] for r in rejoins])} s, from {rng([float(r[1]) for r in rejoins], '%.0f')} blocks behind | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
