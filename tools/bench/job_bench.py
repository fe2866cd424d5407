#!/usr/bin/env python3
"""Verified inference jobs end to end (issue 10's job benchmark), against the kernel's own
inference rate measured in the same run.

A devnet with 1 s blocks (jobs: challenge window 0, commit and reveal phases of 4 blocks,
committees of 3, 60 blocks to accept, settlement version 2: a window of 0 settles at the
quorum) has two `opg provider` and four `opg verifier` daemons, real processes staked by
transactions. Each round requests JOBS exact jobs of digits_logreg at once (one requester,
transactions sent together) and waits until every one is finalized; the daemons accept, run
the kernel, commit, attest and reveal with nobody acting by hand. They send their
transactions without waiting for receipts, so a provider's accept and commit (and every
job's) share a block.

- Latency: each job's finalization block minus its request block (`settledAt −
  requestedAt`, opg_getJob), in blocks. Goal: ≤ 8. Where the blocks go, per step, from the
  job's stored blocks and its events: request → provider draw (`acceptBy − acceptBlocks`)
  → accept (`JobAccepted`) → commit (`committedAt`) → committee draw (`commitEnd −
  attestCommitBlocks`) → attestation commitments (the last `AttestationCommitted`) →
  reveals and quorum (`challengeEnd − challengeBlocks`) → finalized (`settledAt`).
- Throughput: JOBS over the wall time from the first request sent to the last job seen
  finalized, jobs per second.
- Peer: the kernel alone running the same jobs, `opg model bench` of the same model and
  input in-process between rounds: 1 / (4 × seconds per run), four runs per job (the
  provider's and the three committee members' re-runs). The ratio says how much of the
  kernel's speed the network delivers; with a model this small the blocks, not the
  kernel, bound it.

Medians and ranges over the rounds; machine, load (`os.getloadavg`) and date are printed.

  job_bench.py [--rounds R] [--jobs J]
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
from eth_utils import keccak  # noqa: E402
from opgnode import BIN, run  # noqa: E402
from test_daemons import JOB_INPUT, PROVIDERS, VERIFIERS, REQUESTER, Daemon  # noqa: E402
from test_jobs import ETHER, FIXTURES, JOBS, ZERO, send_all, staked_chain  # noqa: E402

BLOCK_MS = 1000
JOBS_GENESIS = {"acceptBlocks": 60, "attestCommitBlocks": 4, "attestRevealBlocks": 4, "challengeBlocks": 0, "committeeSize": 3,
                "challengeBond": str(ETHER)}
RUNS_PER_JOB = 4  # the provider's run and three verifiers' re-runs
STEPS = ["request → provider draw", "draw → accept", "accept → commit", "commit → committee draw", "draw → attestation commitments",
         "commitments → reveals and quorum", "quorum → finalized"]
ACCEPTED = keccak(text="JobAccepted(bytes32,address,uint256,uint256)")
ATTESTATION_COMMITTED = keccak(text="AttestationCommitted(bytes32,address)")


def kernel_seconds_per_run() -> float:
    """`opg model bench`'s in-process seconds per run of the jobs' model and input."""
    model = FIXTURES / "digits_logreg.onnx"
    name = onnx.load(str(model)).graph.input[0].name
    out = run([str(BIN / "opg"), "model", "bench", str(model), "--input", f"{name}={FIXTURES / 'digits_logreg.input.pb'}",
               "--min-time", "1"], check=True).stdout
    return json.loads(out)["secondsPerRun"]


def step_blocks(w3, job) -> list:
    """The blocks each of `STEPS` took for a finalized job."""
    logs = w3.eth.get_logs({"address": JOBS, "fromBlock": job["requestedAt"], "toBlock": job["settledAt"],
                            "topics": [None, job["jobId"]]})
    accepted = min(log["blockNumber"] for log in logs if bytes(log["topics"][0]) == ACCEPTED)
    commitments = max(log["blockNumber"] for log in logs if bytes(log["topics"][0]) == ATTESTATION_COMMITTED)
    marks = [job["requestedAt"], job["acceptBy"] - JOBS_GENESIS["acceptBlocks"], accepted, job["committedAt"],
             job["commitEnd"] - JOBS_GENESIS["attestCommitBlocks"], commitments, job["challengeEnd"] - JOBS_GENESIS["challengeBlocks"],
             job["settledAt"]]
    return [b - a for a, b in zip(marks, marks[1:])]


def run_jobs(chain, count: int):
    """Requests `count` jobs together; returns (latencies in blocks, seconds until all
    finalized, each job's `step_blocks`)."""
    w3, jobs, node = chain["w3"], chain["jobs"], chain["node"]
    deadline = w3.eth.block_number + 120
    first_nonce = jobs.functions.nonceOf(REQUESTER.address).call()
    calls = [(REQUESTER, jobs.functions.requestJob(chain["model"], JOB_INPUT, ZERO, "", 1, 10 * ETHER, 2 * ETHER, deadline))
             for _ in range(count)]
    start = time.monotonic()
    receipts = send_all(w3, calls, value=12 * ETHER, gas=8_000_000)
    assert all(r.status == 1 for r in receipts)
    ids = ["0x" + bytes(jobs.functions.jobId(REQUESTER.address, first_nonce + i).call()).hex() for i in range(count)]
    done = {}
    while len(done) < count:
        if time.monotonic() - start > 300:
            raise TimeoutError(f"{count - len(done)} jobs not finalized after 300 s")
        for jid in ids:
            if jid in done:
                continue
            job = node.result("opg_getJob", [jid])
            if job["status"] in ("refunded", "unverified", "overturned", "disputed"):
                raise RuntimeError(f"job {jid} ended {job['status']}")
            if job["status"] == "finalized":
                done[jid] = job
        time.sleep(0.1)
    seconds = time.monotonic() - start
    return [j["settledAt"] - j["requestedAt"] for j in done.values()], seconds, [step_blocks(w3, j) for j in done.values()]


def spread(values):
    return f"{median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="job-bench-"))
    daemons = []
    chain = None
    loads = [os.getloadavg()[0]]
    try:
        chain = staked_chain(work, JOBS_GENESIS, {p: 10 * ETHER for p in PROVIDERS}, {v: 5 * ETHER for v in VERIFIERS},
                             node_config={"blockIntervalMs": BLOCK_MS})
        daemons = [Daemon(work, "provider", a).start(chain["node"], logLevel="info") for a in PROVIDERS]
        daemons += [Daemon(work, "verifier", a).start(chain["node"], logLevel="info") for a in VERIFIERS]
        run_jobs(chain, 2)  # warm-up: daemons connected, model sessions compiled
        latencies, rates, peers, ratios, steps = [], [], [], [], []
        for _ in range(args.rounds):
            block_latencies, seconds, job_steps = run_jobs(chain, args.jobs)
            steps += job_steps
            loads.append(os.getloadavg()[0])
            kernel = kernel_seconds_per_run()
            rate, peer = args.jobs / seconds, 1 / (RUNS_PER_JOB * kernel)
            latencies += block_latencies
            rates.append(rate)
            peers.append(peer)
            ratios.append(rate / peer)
        print(f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
              f"load average {min(loads):.1f}–{max(loads):.1f}; {args.rounds} rounds of {args.jobs} jobs, {BLOCK_MS} ms blocks, "
              f"2 providers, 4 verifiers, committees of 3, challenge window 0")
        print()
        print("| step | blocks (median, range) |")
        print("| --- | ---: |")
        for i, name in enumerate(STEPS):
            column = [s[i] for s in steps]
            print(f"| {name} | {median(column):g} ({min(column)}–{max(column)}) |")
        print()
        print("| measurement | opg | peer | peer rate | ratio (range) | goal |")
        print("| --- | ---: | --- | ---: | ---: | --- |")
        worst = max(latencies)
        print(f"| exact job latency, request to finalized (blocks; median over {len(latencies)} jobs, range) | {spread(latencies)} | | | | "
              f"≤ 8: {'met' if median(latencies) <= 8 else 'not met'} (worst {worst}) |")
        print(f"| exact jobs finalized per second ({args.jobs} at a time) | {spread(rates)} | the kernel alone, {RUNS_PER_JOB} runs per job "
              f"(`opg model bench`) | {median(peers):,.0f}/s | {median(ratios):.2e} ({min(ratios):.2e}–{max(ratios):.2e}) | |")
    finally:
        for d in daemons:
            d.stop()
        if chain:
            chain["node"].stop()


if __name__ == "__main__":
    main()
