"""Hostile clients against the pool and the filter API, on a real opgd (issue 14).

Each attack from the issue is replayed at full size where that takes seconds, and the
node's documented bounds are asserted: the 128 KiB size cap, the slot budget (RSS), the
queued budget and lifetime, price eviction in an honest sender's favour, the filter cap,
expiry timer and O(1) admission with many filters, the filter range and getProof key cap.
Transactions are signed through libsecp256k1 (fastsign) so 10,240 of them take seconds.
"""
import json
import statistics
import time
from pathlib import Path

import pytest
import requests
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from fastsign import sign_dynamic_fee
from opgnode import CHAIN_ID, DEV_ACCOUNTS, GENESIS, NOTARY, Node, RPCError, sign

SPAMMERS = [Account.from_key(keccak(text=f"opg hostile spammer {i}")) for i in range(160)]
BYTE_SPAMMERS = [Account.from_key(keccak(text=f"opg hostile byte spammer {i}")) for i in range(16)]
HONEST = DEV_ACCOUNTS[4]
SINK = DEV_ACCOUNTS[9].address
GWEI = 10**9
LIFETIME = 3


def hostile_node(tmp_path: Path, **limits) -> Node:
    genesis = json.loads(GENESIS.read_text())
    genesis["alloc"].update({a.address: {"balance": str(10**16)} for a in SPAMMERS})
    genesis["alloc"].update({a.address: {"balance": str(10**19)} for a in BYTE_SPAMMERS})
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(genesis))
    rpc = {"host": "127.0.0.1", "port": 0, "maxRequestBytes": 8 << 20, "threads": 2}
    node = Node(workdir=tmp_path / "node", extra_config={"genesis": str(path), "logLevel": "warn", **limits})
    rpc["port"] = node.port
    node.config["rpc"] = rpc
    return node.init().start()


@pytest.fixture
def pool_node(tmp_path):
    n = hostile_node(tmp_path, txPool={"queuedLifetimeSeconds": LIFETIME})
    yield n
    n.stop()


@pytest.fixture
def short_filters_node(tmp_path):
    n = hostile_node(tmp_path, queryLimits={"maxFilters": 50, "filterTimeoutSeconds": 2, "logBlockRange": 5})
    yield n
    n.stop()


def batch(node: Node, calls: list[tuple[str, list]]) -> list[dict]:
    body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    r = requests.post(node.url, json=body, timeout=60)
    r.raise_for_status()
    return sorted(r.json(), key=lambda reply: reply["id"])


def send_all(node: Node, raws: list[bytes], per_batch: int = 500) -> list[dict]:
    replies = []
    for i in range(0, len(raws), per_batch):
        replies += batch(node, [("eth_sendRawTransaction", [Web3.to_hex(raw)]) for raw in raws[i:i + per_batch]])
    return replies


def rss_mb(node: Node) -> float:
    for line in Path(f"/proc/{node.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def pool_status(node: Node) -> tuple[int, int]:
    s = node.result("txpool_status")
    return int(s["pending"], 16), int(s["queued"], 16)


def test_fastsign_matches_eth_account():
    account = DEV_ACCOUNTS[0]
    raw, tx_hash = sign_dynamic_fee(account.key, CHAIN_ID, 7, SINK, value=3, data=b"\x00\x01")
    ref = account.sign_transaction({"type": 2, "chainId": CHAIN_ID, "nonce": 7, "gas": 21000, "to": SINK, "value": 3,
                                    "maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": GWEI, "data": b"\x00\x01"})
    assert (raw, tx_hash) == (bytes(ref.raw_transaction), bytes(ref.hash))


def test_oversized_transactions_are_refused_and_memory_stays_flat(pool_node):
    before = rss_mb(pool_node)
    spammer = BYTE_SPAMMERS[0]
    for nonce in range(20):
        raw, _ = sign_dynamic_fee(spammer.key, CHAIN_ID, nonce + 1, SINK, gas=29_000_000, data=b"\x01" * 2_600_000)
        with pytest.raises(RPCError) as info:
            pool_node.result("eth_sendRawTransaction", [Web3.to_hex(raw)])
        assert info.value.message == f"oversized data: transaction size {len(raw)}, limit 131072"
    just_over, _ = sign_dynamic_fee(spammer.key, CHAIN_ID, 1, SINK, gas=1_000_000, data=b"\x00" * 131_000)
    assert len(just_over) > 131_072
    with pytest.raises(RPCError, match="oversized data"):
        pool_node.result("eth_sendRawTransaction", [Web3.to_hex(just_over)])
    fits, _ = sign_dynamic_fee(spammer.key, CHAIN_ID, 1, SINK, gas=1_000_000, data=b"\x00" * 130_000)
    pool_node.result("eth_sendRawTransaction", [Web3.to_hex(fits)])
    assert pool_status(pool_node) == (0, 1)
    assert rss_mb(pool_node) < before + 100, "52 MB of refused transactions are not kept"


def test_byte_spam_keeps_rss_within_the_slot_budget(pool_node):
    before = rss_mb(pool_node)
    raws = []
    # 128 KiB-class transactions, 64 per account: queued (nonces from 1) and pending (from 0).
    for i, spammer in enumerate(BYTE_SPAMMERS):
        first = 1 if i % 2 == 0 else 0
        for nonce in range(first, first + 64):
            raws.append(sign_dynamic_fee(spammer.key, CHAIN_ID, nonce, SINK, gas=600_000, data=b"\x00" * 125_000)[0])
    peak = before
    for i in range(0, len(raws), 20):
        send_all(pool_node, raws[i:i + 20], per_batch=20)
        peak = max(peak, rss_mb(pool_node))
        assert pool_status(pool_node)[1] <= 1024 // 4, "queued transactions stay within queuedSlots"
    # 128 MB offered; the pool keeps at most (5,120 + 1,024) slots × 32 KiB = 192 MiB raw, far less here.
    assert peak < before + 400, f"RSS grew from {before:.0f} MB to {peak:.0f} MB"


def test_future_nonce_spam_cannot_lock_out_an_honest_transaction_and_expires(pool_node):
    w3 = pool_node.web3()
    raws = [sign_dynamic_fee(s.key, CHAIN_ID, nonce, SINK, max_fee=5 * GWEI, max_tip=GWEI)[0]
            for s in SPAMMERS for nonce in range(1, 65)]
    replies = send_all(pool_node, raws)
    sent = time.monotonic()
    admitted = sum("result" in r for r in replies)
    refused = {r["error"]["message"] for r in replies if "error" in r}
    assert admitted >= 1024 and refused <= {"txpool is full"}, (admitted, refused)
    assert pool_status(pool_node)[1] <= 1024, "the queued budget holds whatever is offered"
    honest = sign(HONEST, w3, maxFeePerGas=10 * GWEI, maxPriorityFeePerGas=2 * GWEI)
    assert w3.eth.send_raw_transaction(honest.raw_transaction) == honest.hash
    assert w3.eth.wait_for_transaction_receipt(honest.hash, timeout=10, poll_latency=0.05).status == 1
    # The last spam arrived at `sent`; after the lifetime and a block it is all gone.
    while pool_status(pool_node)[1] > 0 and time.monotonic() < sent + LIFETIME + 5:
        time.sleep(0.1)
    assert pool_status(pool_node) == (0, 0), "never-executable spam leaves after the queued lifetime"


def test_many_pending_filters_do_not_slow_admission(tmp_path):
    node = hostile_node(tmp_path)
    try:
        sender = SPAMMERS[0]
        raws = [sign_dynamic_fee(sender.key, CHAIN_ID, n, SINK, max_fee=5 * GWEI)[0] for n in range(64)]

        def admit(chunk):
            latencies = []
            for raw in chunk:
                t = time.perf_counter()
                node.result("eth_sendRawTransaction", [Web3.to_hex(raw)])
                latencies.append(time.perf_counter() - t)
            return statistics.median(latencies)

        without = admit(raws[:32])
        ids = []
        for _ in range(4):
            ids += [r["result"] for r in batch(node, [("eth_newPendingTransactionFilter", [])] * 500)]
        assert len(set(ids)) == 2000
        with_filters = admit(raws[32:])
        assert with_filters < 3 * without + 0.005, f"median admission {without * 1e3:.2f} ms → {with_filters * 1e3:.2f} ms"
        assert len(node.result("eth_getFilterChanges", [ids[0]])) == 32
        assert len(node.result("eth_getFilterChanges", [ids[-1]])) == 32
        extra = batch(node, [("eth_newBlockFilter", [])] * 49)
        assert sum("result" in r for r in extra) == 48, "the default cap is 2,048 filters"
        assert extra[-1]["error"] == {"code": -32005, "message": "too many filters installed: limit 2048"}
    finally:
        node.stop()


def test_filter_cap_and_expiry_timer(short_filters_node):
    node = short_filters_node
    replies = batch(node, [("eth_newBlockFilter", [])] * 51)
    assert sum("result" in r for r in replies) == 50
    assert replies[-1]["error"] == {"code": -32005, "message": "too many filters installed: limit 50"}
    time.sleep(3)  # nothing polls or installs meanwhile: only the expiry timer can free the slots
    again = batch(node, [("eth_newBlockFilter", [])] * 50)
    assert all("result" in r for r in again), again[:2]
    with pytest.raises(RPCError, match="filter not found"):
        node.result("eth_getFilterChanges", [replies[0]["result"]])


def test_log_filter_changes_respect_the_block_range(short_filters_node):
    node, w3 = short_filters_node, short_filters_node.web3()
    node.wait_block(12)
    digest = keccak(text=f"hostile {time.time()}")
    data = Web3.to_hex(keccak(text="notarize(bytes32,string)")[:4] + encode(["bytes32", "string"], [digest, "x"]))
    tx = sign(DEV_ACCOUNTS[3], w3, to=NOTARY, data=data, gas=200_000)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(tx.raw_transaction), timeout=10, poll_latency=0.05)
    with pytest.raises(RPCError) as info:
        node.result("eth_getLogs", [{"fromBlock": "0x0", "address": NOTARY}])
    assert (info.value.code, info.value.message) == (-32005, "query exceeds max block range 5")
    fid = node.result("eth_newFilter", [{"fromBlock": "0x0", "address": NOTARY}])
    polls, found = 0, []
    while not found and polls < 100:
        found = node.result("eth_getFilterChanges", [fid])
        polls += 1
    assert [int(log["blockNumber"], 16) for log in found] == [receipt.blockNumber]
    assert polls == receipt.blockNumber // 5 + 1, "each poll scans at most 5 blocks"


def test_get_proof_key_cap(short_filters_node):
    node = short_filters_node
    keys = [hex(i) for i in range(1025)]
    with pytest.raises(RPCError) as info:
        node.result("eth_getProof", [HONEST.address, keys, "latest"])
    assert info.value.code == -32602
    assert "too many storage keys (1025, limit 1024)" in info.value.message
    t = time.monotonic()
    proof = node.result("eth_getProof", [HONEST.address, keys[:1024], "latest"])
    assert len(proof["storageProof"]) == 1024
    assert time.monotonic() - t < 10
