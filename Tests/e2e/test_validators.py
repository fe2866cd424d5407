"""Four real opgd validators on loopback (issue 11 §5): the Tendermint engine over the encrypted
P2P transport. Every node reports identical block hashes and state roots at every height; a
validator killed with SIGKILL rejoins (catching up through the consensus channel's decisions);
with 2 of 4 down the chain halts and resumes when they return; transfers finalize. One network
for the whole module, test timeouts and 100 ms blocks, so the file stays a small share of make test.

Mempool gossip is another helper's work in progress: transfers are submitted to every node, so
whichever validator proposes next includes them."""
import time

import pytest
import requests
from eth_account import Account

from opgnode import CHAIN_ID, DEV_ACCOUNTS
from validators import Network


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    n = Network(tmp_path_factory.mktemp("validators")).start()
    yield n
    n.stop()


def assert_identical_chains(nodes, up_to: int):
    for number in range(0, up_to + 1):
        blocks = [v.result("eth_getBlockByNumber", [hex(number), False]) for v in nodes]
        assert len({(b["hash"], b["stateRoot"]) for b in blocks}) == 1, f"nodes disagree at height {number}: {blocks}"


def test_four_validators_agree(net):
    # 40 heights: the nodes start a few hundred ms apart, and a validator still connecting or
    # catching up misses its round-0 turns of the first heights (the next round's proposer takes them).
    net.wait_all(40)
    for v in net.nodes:
        assert v.result("net_peerCount") == "0x3"
        assert v.result("net_listening") is True
        assert requests.get(v.url + "/health", timeout=5).json()["peers"] == 3
    assert_identical_chains(net.nodes, 40)
    commit = net.nodes[1].result("opg_getCommit", ["0x5"])
    signers = int(commit["certificate"][2 + 96:2 + 104], 16)
    assert signers >= 3, "a certificate carries more than 2/3 of the precommits"


@pytest.mark.xfail(strict=False, reason="known bug (issue 11): since mempool gossip joined the merged tree, one validator "
                   "sometimes never gets a block in 40 heights; the chain stays safe and live, the cause is not found yet")
def test_every_validator_proposes(net):
    net.wait_all(40)
    miners = {net.nodes[0].result("eth_getBlockByNumber", [hex(n), False])["miner"].lower() for n in range(1, 41)}
    assert miners == {v["address"].lower() for v in net.genesis["validators"]}, "weighted round-robin: each validator proposes"


def test_transfers_finalize_on_every_node(net):
    sender, to = DEV_ACCOUNTS[3], DEV_ACCOUNTS[4].address
    nonce = int(net.nodes[0].result("eth_getTransactionCount", [sender.address, "latest"]), 16)
    hashes = []
    for i in range(5):
        tx = Account.sign_transaction({"chainId": CHAIN_ID, "nonce": nonce + i, "to": to, "value": 1000 + i, "gas": 21000,
                                       "maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9}, sender.key)
        raw = "0x" + bytes(tx.raw_transaction).hex()
        # Sent to one node: mempool gossip brings each to whichever validator proposes.
        hashes.append(net.nodes[i % 2].result("eth_sendRawTransaction", [raw]))
    deadline = time.time() + 30
    receipts = {}
    while time.time() < deadline and len(receipts) < 5:
        for h in set(hashes):
            r = net.nodes[2].result("eth_getTransactionReceipt", [h])
            if r:
                receipts[h] = r
        time.sleep(0.1)
    assert len(receipts) == 5 and all(r["status"] == "0x1" for r in receipts.values())
    last = max(int(r["blockNumber"], 16) for r in receipts.values())
    net.wait_all(last)
    for v in net.nodes:
        for h, r in receipts.items():
            assert v.result("eth_getTransactionReceipt", [h])["blockHash"] == r["blockHash"]
    assert_identical_chains(net.nodes, last)


def test_block_larger_than_an_envelope_travels_in_parts(net):
    """A transaction with 100 KB of calldata makes a block whose proposal exceeds one 65,516-byte
    envelope: it must reach every validator in parts and be decided."""
    sender = DEV_ACCOUNTS[5]
    nonce = int(net.nodes[0].result("eth_getTransactionCount", [sender.address, "latest"]), 16)
    tx = Account.sign_transaction({"chainId": CHAIN_ID, "nonce": nonce, "to": DEV_ACCOUNTS[6].address, "value": 1, "gas": 1_700_000,
                                   "data": bytes(range(256)) * 400, "maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9},
                                  sender.key)
    raw = "0x" + bytes(tx.raw_transaction).hex()
    tx_hash = net.nodes[3].result("eth_sendRawTransaction", [raw])  # gossiped in parts to the proposers
    deadline = time.time() + 30
    receipt = None
    while time.time() < deadline and not receipt:
        receipt = net.nodes[1].result("eth_getTransactionReceipt", [tx_hash])
        time.sleep(0.1)
    assert receipt and receipt["status"] == "0x1"
    number = int(receipt["blockNumber"], 16)
    net.wait_all(number)
    block = net.nodes[3].result("eth_getBlockByNumber", [hex(number), False])
    assert int(block["size"], 16) > 65_516
    assert_identical_chains(net.nodes, number)


def test_killed_validator_rejoins(net):
    victim = net.nodes[3]
    victim.kill9()
    others = net.nodes[:3]
    start = others[0].head()
    net.wait_all(start + 10, others)
    victim.start()
    target = others[0].head() + 3
    net.wait_all(target)
    assert_identical_chains(net.nodes, target)


def test_two_of_four_down_halts_then_resumes(net):
    down = net.nodes[2:]
    for v in down:
        v.kill9()
    up = net.nodes[:2]
    time.sleep(1.0)
    halted = max(v.head() for v in up)
    time.sleep(2.0)
    assert max(v.head() for v in up) <= halted + 1, "no quorum: at most the height in flight completes"
    for v in down:
        v.start()
    net.wait_all(halted + 5)
    assert_identical_chains(net.nodes, halted + 5)
