"""Hostile HTTP clients for the e2e suite (test_hostile_http.py) and the benchmark
(tools/bench/hostile_bench.py): slow, half-sent and idle connections, and heavy requests."""
import json
import multiprocessing
import os
import socket
import threading
import time

import requests

BLOCK_NUMBER = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}


def node_fds(node) -> int:
    """Open file descriptors of the node's process."""
    return len(os.listdir(f"/proc/{node.proc.pid}/fd"))


def node_rss_mb(node) -> float:
    """Resident memory of the node's process in MB."""
    with open(f"/proc/{node.proc.pid}/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kb / 1024


def connect(node) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    s.setblocking(False)
    return s


def partial_request(node) -> bytes:
    """Headers announcing a 400-byte body, and the first 16 bytes of it."""
    return (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: 400\r\n\r\n{{\"jsonrpc\":\"2.0\"").encode()


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class Attack:
    """Opens `count` hostile connections in three kinds, a third each: slowloris (a
    header line trickled a byte every 0.3 s), half-sent (a partial request, then the
    write side shut, leaving the node's socket in CLOSE-WAIT unless it closes it), and
    idle (connected, silent). `close()` ends the attack."""

    def __init__(self, node, count: int):
        self.slow, self.half, self.idle = [], [], []
        self.stop = threading.Event()
        for i in range(count):
            s = connect(node)
            kind = i % 3
            if kind == 0:
                s.send(b"POST / HTTP/1.1\r\nX-Slow: ")
                self.slow.append(s)
            elif kind == 1:
                s.send(partial_request(node))
                s.shutdown(socket.SHUT_WR)
                self.half.append(s)
            else:
                self.idle.append(s)
        self.trickler = threading.Thread(target=self.trickle, daemon=True)
        self.trickler.start()

    @property
    def sockets(self):
        return self.slow + self.half + self.idle

    def trickle(self):
        while not self.stop.wait(0.3):
            for s in self.slow:
                try:
                    s.send(b"a")
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.trickler.join()
        for s in self.sockets:
            s.close()


def _attack(node, count: int, ready, stop):
    attack = Attack(node, count)
    ready.set()
    stop.wait()
    attack.close()


class AttackProcess:
    """An `Attack` run by a process of its own, so that trickling bytes to hundreds of
    sockets does not hold the measuring process's interpreter lock."""

    def __init__(self, node, count: int):
        context = multiprocessing.get_context("fork")
        ready, self.stop = context.Event(), context.Event()
        self.process = context.Process(target=_attack, args=(node, count, ready, self.stop), daemon=True)
        self.process.start()
        if not ready.wait(60):
            raise RuntimeError("the attack did not open its connections")

    def close(self):
        self.stop.set()
        self.process.join(timeout=30)


def _post_heavy(url: str, body: str, stop, results):
    """One heavy client (its own process, so that it does not share the measuring
    process's interpreter lock): posts `body` until `stop`, reporting each duration or failure."""
    session = requests.Session()
    while not stop.is_set():
        started = time.monotonic()
        r = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=120)
        failed = r.status_code != 200 or b'"error"' in r.content
        results.put(r.text[:200] if failed else time.monotonic() - started)


class HeavyLoad:
    """`clients` processes each posting, back to back, a batch of 100 eth_getProof requests
    of 500 storage keys (50,000 keys, a 3.5 MB body; the node needs maxRequestBytes ≥ 4 MB)."""

    def __init__(self, node, account: str, clients: int = 4):
        proof = [{"jsonrpc": "2.0", "id": i, "method": "eth_getProof",
                  "params": [account, [f"0x{i * 500 + k:064x}" for k in range(500)], "latest"]} for i in range(100)]
        context = multiprocessing.get_context("fork")
        self.stop = context.Event()
        self.results = context.Queue()
        self.seconds: list[float] = []
        self.failures: list[str] = []
        self.workers = [context.Process(target=_post_heavy, args=(node.url, json.dumps(proof), self.stop, self.results), daemon=True)
                        for _ in range(clients)]
        for w in self.workers:
            w.start()

    def close(self):
        self.stop.set()
        for w in self.workers:
            w.join(timeout=120)
        while not self.results.empty():
            result = self.results.get()
            (self.failures if isinstance(result, str) else self.seconds).append(result)
