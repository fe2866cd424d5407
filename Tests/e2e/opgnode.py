"""A real opgd process for end-to-end tests: fresh data dir, free port, driven over HTTP."""
import json
import os
import random
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("OPG_BIN", ROOT / ".build" / "release"))
GENESIS = ROOT / "genesis" / "devnet.json"
CHAIN_ID = json.loads(GENESIS.read_text())["chainId"]

DEV_ACCOUNTS = [Account.from_key(keccak(text=f"opg devnet account {i}")) for i in range(10)]
VALIDATOR = Account.from_key(keccak(text="opg devnet validator 0"))
NOTARY = Web3.to_checksum_address("0x" + "00" * 19 + "01")


def _ephemeral_ports() -> range:
    """The kernel's range for the local port of outgoing connections."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return range(low, high + 1)
    except (OSError, ValueError):
        return range(32768, 61000)


def free_port_range(count: int = 1, avoid: range = range(0)) -> int:
    """A base port such that base … base + count - 1 are free now, outside `avoid`, and below the
    kernel's ephemeral range: a port a node listens on later (a node started late or restarted)
    must not be taken meanwhile as the local port of some outgoing connection (the tests' own HTTP
    requests, another node's dials), which would make its bind fail with "address in use" — even
    a connection closed a moment ago holds its port in TIME_WAIT for a minute."""
    top = min(_ephemeral_ports().start, 65536) - count
    for _ in range(200):
        base = random.randrange(15000, top)
        if base + count > avoid.start and base < avoid.stop:
            continue
        try:
            for p in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range")


def free_port() -> int:
    return free_port_range(1)


class Node:
    """Owns one opgd process and its data directory."""

    def __init__(self, workdir: Path | None = None, block_interval_ms: int = 200, extra_config: dict | None = None):
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="opg-e2e-"))
        self.datadir = self.workdir / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key_file = self.workdir / "validator.key"
        self.config_file = self.workdir / "node.json"
        self.log_file = self.workdir / "opgd.log"
        self.proc: subprocess.Popen | None = None
        config = {
            "dataDir": str(self.datadir),
            "genesis": str(GENESIS),
            "rpc": {"host": "127.0.0.1", "port": self.port, "corsOrigins": ["https://explorer.example"],
                    "maxRequestBytes": 1048576, "threads": 2},
            "blockIntervalMs": block_interval_ms,
            "logLevel": "debug",
            "validatorKeyFile": str(self.key_file),
        }
        config.update(extra_config or {})
        self.config = config

    def init(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.key_file.write_text(VALIDATOR.key.hex() if VALIDATOR.key.hex().startswith("0x") else "0x" + VALIDATOR.key.hex())
        os.chmod(self.key_file, 0o600)
        self.config_file.write_text(json.dumps(self.config, indent=2))
        run([str(BIN / "opgd"), "init", "--genesis", self.config["genesis"], "--datadir", str(self.datadir)], check=True)
        return self

    def start(self, wait: bool = True):
        log = open(self.log_file, "ab")
        self.proc = subprocess.Popen([str(BIN / "opgd"), "start", "--config", str(self.config_file)],
                                     stdout=log, stderr=log)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"opgd exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                r = requests.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}, timeout=1)
                if r.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"opgd did not answer on {self.url}:\n{self.log_tail()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def rpc(self, method: str, params=None, id_=1):
        r = requests.post(self.url, json={"jsonrpc": "2.0", "id": id_, "method": method, "params": params or []}, timeout=30)
        r.raise_for_status()
        return r.json()

    def result(self, method: str, params=None):
        body = self.rpc(method, params)
        if "error" in body:
            raise RPCError(body["error"])
        return body["result"]

    def web3(self) -> Web3:
        return Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 30}))

    def wait_block(self, number: int, timeout: float = 20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if int(self.result("eth_blockNumber"), 16) >= number:
                return
            time.sleep(0.05)
        raise TimeoutError(f"block {number} not reached")


class RPCError(Exception):
    def __init__(self, error: dict):
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.message = error.get("message")
        self.data = error.get("data")


def run(argv, check=False, input_=None, env=None, timeout=120):
    p = subprocess.run(argv, capture_output=True, text=True, input=input_, env=env, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{argv} exited {p.returncode}: {p.stderr}")
    return p


def sign(account, w3: Web3 | None = None, **fields):
    """Signs a transaction with sensible defaults; fields override (type 2 unless gasPrice given)."""
    tx = {"chainId": CHAIN_ID, "gas": 21000, "value": 0, "to": DEV_ACCOUNTS[9].address}
    if "gasPrice" not in fields:
        tx.update({"maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9})
    tx.update(fields)
    if "nonce" not in tx:
        tx["nonce"] = w3.eth.get_transaction_count(account.address, "pending")
    return account.sign_transaction(tx)
