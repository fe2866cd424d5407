"""A local network of real opgd validators written by `opgd testnet` (test timeouts, loopback ports)."""
import json
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import requests

from opgnode import BIN, free_port_range, run


class Validator:
    """One `opgd start` process of the network."""

    def __init__(self, home: Path):
        self.home = home
        self.config = json.loads((home / "config.json").read_text())
        self.url = f"http://127.0.0.1:{self.config['rpc']['port']}"
        self.log_file = home / "opgd.log"
        self.proc: subprocess.Popen | None = None

    def start(self):
        log = open(self.log_file, "ab")
        self.proc = subprocess.Popen([str(BIN / "opgd"), "start", "--config", str(self.home / "config.json")], stdout=log, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"opgd exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.result("eth_blockNumber")
                return self
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError(f"{self.url} did not answer:\n{self.log_tail()}")

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                assert self.proc.wait(timeout=15) == 0, self.log_tail()
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"opgd did not stop on SIGTERM:\n{self.log_tail()}")

    def result(self, method: str, params=None):
        try:
            r = requests.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=10)
        except requests.ConnectionError:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"{self.home.name} ({self.url}) exited with {self.proc.returncode}:\n{self.log_tail()}") from None
            raise
        r.raise_for_status()
        body = r.json()
        if "error" in body:
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]

    def head(self) -> int:
        return int(self.result("eth_blockNumber"), 16)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class LinkProxy:
    """A TCP relay on loopback to `target_port` that can be cut (every connection through it
    closed, new ones refused) and healed: a network partition with both processes still running."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2) if self.open else None
            except OSError:
                upstream = None
            if upstream is None:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            self.open = False
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.sockets = []

    def heal(self):
        self.open = True

    def close(self):
        self.cut()
        self.listener.close()


class Network:
    """`opgd testnet --validators n` in `workdir` (with `--staking`: validators bonded in staking),
    each validator started by `start()`. `route_through_proxies(k)` puts every P2P link of node k
    behind a `LinkProxy`, so `cut()` disconnects node k from all others while every process runs on."""

    def __init__(self, workdir: Path, n: int = 4, block_interval_ms: int = 100, staking: bool = False):
        rpc = free_port_range(n)
        p2p = free_port_range(n, avoid=range(rpc, rpc + n))
        run([str(BIN / "opgd"), "testnet", "--validators", str(n), "--dir", str(workdir), "--rpc-port", str(rpc),
             "--p2p-port", str(p2p), "--timeouts", "test", "--block-interval-ms", str(block_interval_ms)]
            + (["--staking"] if staking else []), check=True)
        self.workdir = workdir
        self.genesis = json.loads((workdir / "genesis.json").read_text())
        self.proxies: list[LinkProxy] = []
        self.nodes = [Validator(workdir / f"node{i}") for i in range(n)]

    def route_through_proxies(self, k: int):
        """Rewrites node k's config (it takes effect at its next start): it listens on a fresh port
        no peer knows, and dials each peer through a proxy of its own; so once restarted every
        link of node k is one of its dials through a proxy (the others' dials to its old port fail)."""
        node = self.nodes[k]
        node.config["p2p"]["listen"] = f"127.0.0.1:{free_port_range(1)}"
        peers = []
        for peer in node.config["p2p"]["persistentPeers"]:
            node_id, address = peer.split("@")
            proxy = LinkProxy(int(address.rsplit(":", 1)[1]))
            self.proxies.append(proxy)
            peers.append(f"{node_id}@127.0.0.1:{proxy.port}")
        node.config["p2p"]["persistentPeers"] = peers
        (node.home / "config.json").write_text(json.dumps(node.config, indent=2))

    def cut(self):
        """Closes every link of the cuttable node and refuses new ones."""
        for proxy in self.proxies:
            proxy.cut()

    def heal(self):
        for proxy in self.proxies:
            proxy.heal()

    def start(self, nodes=None):
        for v in nodes or self.nodes:
            v.start()
        return self

    def stop(self):
        for v in self.nodes:
            if v.proc and v.proc.poll() is None:
                v.proc.send_signal(signal.SIGCONT)
            v.kill9() if v.proc and v.proc.poll() is not None else v.stop()
        for proxy in self.proxies:
            proxy.close()

    def wait_all(self, height: int, nodes=None, timeout: float = 60):
        nodes = nodes or self.nodes
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(v.head() >= height for v in nodes):
                return
            time.sleep(0.05)
        raise TimeoutError(f"height {height} not reached: heads {[v.head() for v in nodes]}\n" + "\n---\n".join(v.log_tail(15) for v in nodes))
