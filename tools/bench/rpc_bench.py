#!/usr/bin/env python3
"""JSON-RPC throughput of opgd against nginx serving a static JSON file, measured with wrk
in the same run on the same machine, plus eth_sendRawTransaction admissions per second.

  rpc_bench.py [--seconds 10] [--connections 64] [--rounds 3]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from statistics import median
from pathlib import Path

import requests
from eth_account import Account
from eth_utils import keccak

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
from fastsign import sign_dynamic_fee  # noqa: E402
from opgnode import BIN, CHAIN_ID, Node, free_port  # noqa: E402

HERE = Path(__file__).resolve().parent


def wrk(url: str, seconds: int, connections: int, script: Path, env: dict) -> float:
    p = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
                       capture_output=True, text=True, env={**os.environ, **env}, timeout=seconds + 60)
    m = re.search(r"Requests/sec:\s+([\d.]+)", p.stdout)
    if not m:
        raise RuntimeError(p.stdout + p.stderr)
    return float(m.group(1))


def nginx(root: Path, port: int) -> subprocess.Popen:
    conf = root / "nginx.conf"
    conf.write_text(f"""
worker_processes 2;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  server {{
    listen 127.0.0.1:{port};
    location / {{ root {root}; default_type application/json; error_page 405 =200 $uri; }}
  }}
}}
""")
    (root / "index.html").write_text('{"jsonrpc":"2.0","id":1,"result":"0x1b4"}')
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--transactions", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if args.rounds < 1 or args.seconds < 1:
        ap.error("--rounds and --seconds must be at least 1")
    if not shutil.which("wrk") or not shutil.which("nginx"):
        print("wrk and nginx are needed: tools/install-deps.sh wrk nginx-light", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="opg-rpc-bench-"))

    senders = [Account.from_key(keccak(text=f"opg bench sender {i}")) for i in range(args.transactions // 20)]
    genesis = json.loads((Path(__file__).resolve().parents[2] / "genesis" / "devnet.json").read_text())
    genesis["alloc"].update({a.address: {"balance": str(10**24)} for a in senders})
    genesis_path = work / "genesis.json"
    genesis_path.write_text(json.dumps(genesis))

    node = Node(workdir=work / "node", block_interval_ms=1000,
                extra_config={"genesis": str(genesis_path), "logLevel": "warn",
                              "txPool": {"maxPerAccount": 64, "pendingSlots": args.transactions + 1000, "priceBumpPercent": 10}})
    node.init().start()
    nginx_root = work / "nginx"
    nginx_root.mkdir()
    nginx_port = free_port()
    web = nginx(nginx_root, nginx_port)
    try:
        get_script = work / "get.lua"
        get_script.write_text("")
        targets = {"nginx static JSON": (f"http://127.0.0.1:{nginx_port}/index.html", get_script, {})}
        for method, params in (("eth_blockNumber", []), ("eth_getBalance", [senders[0].address, "latest"])):
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
            targets[method] = (node.url, HERE / "rpc_post.lua", {"BODY": body})
        # Rounds alternate peer and node so drift on the shared machine hits both alike; each
        # round's ratio uses that round's nginx figure.
        rates = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (url, script, env) in targets.items():
                rates[name].append(wrk(url, args.seconds, args.connections, script, env))

        bodies = work / "bodies.txt"
        with bodies.open("w") as f:
            for k in range(20):
                for s in senders:
                    raw, _ = sign_dynamic_fee(s.key, CHAIN_ID, k, senders[0].address, value=1, max_fee=10**11, max_tip=10**9)
                    f.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                                        "params": ["0x" + raw.hex()]}) + "\n")
        start_block = int(node.result("eth_blockNumber"), 16)
        proc = subprocess.Popen(["wrk", "-t2", f"-c{args.connections}", "-d120s", "-s", str(HERE / "rpc_sendraw.lua"), node.url],
                                stdout=subprocess.DEVNULL, env={**os.environ, "BODIES": str(bodies), "THREADS": "2"})
        t0 = time.perf_counter()
        admitted, last_change = 0, t0
        # Done when every transaction is in (pool or chain), or when the count has not moved
        # for 3 s (then the rate is over the time until the last admission, not the wait).
        while time.perf_counter() - t0 < 110:
            status = node.result("txpool_status")
            mined = sum(int(node.result("eth_getBlockTransactionCountByNumber", [hex(n)]), 16)
                        for n in range(start_block + 1, int(node.result("eth_blockNumber"), 16) + 1))
            count = int(status["pending"], 16) + int(status["queued"], 16) + mined
            now = time.perf_counter()
            if count != admitted:
                admitted, last_change = count, now
            if admitted >= args.transactions or (admitted and now - last_change > 3):
                break
            time.sleep(0.05)
        proc.kill()
        if admitted < args.transactions:
            print(f"warning: only {admitted} of {args.transactions} transactions admitted", file=sys.stderr)

        base = rates["nginx static JSON"]
        print(f"{args.rounds} alternating rounds of {args.seconds} s, {args.connections} connections; median (range)")
        print("| measurement | requests/s | ratio to nginx |")
        print("| --- | --- | --- |")
        for name, rs in rates.items():
            ratios = sorted(r / b for r, b in zip(rs, base))
            print(f"| {name} | {median(rs):,.0f} | {median(ratios):.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f}) |")
        rate = f"{admitted / (last_change - t0):,.0f}" if admitted else "none admitted"
        print(f"| eth_sendRawTransaction admissions | {rate} | — |")
    finally:
        web.terminate()
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
