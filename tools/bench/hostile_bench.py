#!/usr/bin/env python3
"""Honest eth_blockNumber latency under hostile clients, against the same node without
them, measured alternately in the same run (issue 14's goal: p99 within 3x).

Per round and node: p99 of N sequential eth_blockNumber calls on a kept-alive
connection with nothing else going on (the peer), then again while 2,000 hostile
connections are open (slowloris, half-sent, idle; tests/e2e/hostile.py) and while four
clients send heavy eth_getProof batches (attackers run in processes of their own). Also
reports the node's file descriptors during the attack, how long they take to come back
after it, and how much its resident memory grew.

Two nodes: default settings (one address may hold 256 connections without a whole
request; the oldest beyond that are closed), and the pending cap lifted so that all
2,000 stay open.

  hostile_bench.py [--rounds 3] [--requests 2000]
"""
import argparse
import resource
import sys
import time
from pathlib import Path
from statistics import median

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
from hostile import BLOCK_NUMBER, AttackProcess, HeavyLoad, node_fds, node_rss_mb, wait_for  # noqa: E402
from opgnode import DEV_ACCOUNTS, Node  # noqa: E402

HOSTILE = 2000


def p99(node, count: int) -> float:
    """p99 latency in ms of `count` sequential eth_blockNumber calls on one kept-alive connection."""
    session = requests.Session()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        r = session.post(node.url, json=BLOCK_NUMBER, timeout=10)
        samples.append(time.perf_counter() - started)
        assert r.status_code == 200 and "result" in r.json(), r.text
    session.close()
    samples.sort()
    return samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000


def spread(values: list[float], digits: int = 2) -> str:
    values = sorted(values)
    return f"{median(values):.{digits}f} ({values[0]:.{digits}f}-{values[-1]:.{digits}f})"


def measure(name: str, rpc: dict, rounds: int, count: int) -> list[str]:
    node = Node(block_interval_ms=1000, extra_config={"logLevel": "warn"})
    node.config["rpc"].update({"maxRequestBytes": 5 << 20, **rpc})
    node.init().start()
    try:
        quiet, attacked, heavy = [], [], []
        held, back, rss = [], [], []
        for _ in range(rounds):
            quiet.append(p99(node, count))
            baseline, memory = node_fds(node), node_rss_mb(node)
            attack = AttackProcess(node, HOSTILE)
            time.sleep(1)
            held.append(node_fds(node) - baseline)
            attacked.append(p99(node, count))
            rss.append(node_rss_mb(node) - memory)
            attack.close()
            closed = time.perf_counter()
            wait_for(lambda: node_fds(node) <= baseline + 2, 30)
            back.append(time.perf_counter() - closed)
            load = HeavyLoad(node, DEV_ACCOUNTS[0].address)
            time.sleep(0.5)
            heavy.append(p99(node, count))
            load.close()
            if load.failures:
                raise RuntimeError(f"heavy request failed: {load.failures[0]}")
        ratio = [a / q for a, q in zip(attacked, quiet)]
        heavy_ratio = [h / q for h, q in zip(heavy, quiet)]
        return [f"| {name}: {HOSTILE:,} hostile connections | {spread(quiet)} | {spread(attacked)} | {spread(ratio)} "
                f"| {spread(held, 0)} held, back to baseline in {spread(back, 1)} s; RSS +{spread(rss, 1)} MB |",
                f"| {name}: 4 clients of 50,000-key eth_getProof | {spread(quiet)} | {spread(heavy)} | {spread(heavy_ratio)} | — |"]
    finally:
        node.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    if args.rounds < 1 or args.requests < 1:
        ap.error("--rounds and --requests must be at least 1")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    rows = measure("defaults", {}, args.rounds, args.requests)
    rows += measure("pending cap lifted", {"maxPendingPerIP": 100000}, args.rounds, args.requests)
    print(f"{args.rounds} rounds of {args.requests} sequential eth_blockNumber calls; p99 in ms, median (range); "
          f"the peer is the same node with no other client")
    print("| attack | p99 alone | p99 under attack | ratio | node file descriptors, memory |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
