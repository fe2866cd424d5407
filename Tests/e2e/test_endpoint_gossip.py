"""Provider endpoint gossip (docs/p2p.md, "Provider endpoint gossip"; docs/chat.md, "Provider
endpoints") between two real opgd validators: a provider registered in staking announces its
stream URL to node A, and node B's `opg_getProviderEndpoint` returns it, so a chat page served by
B finds the provider's stream; a newer announcement made to B replaces it on A; a non-provider's
announcement stays where it was refused; one made before its signer registered is kept once
the registering block arrives; a node that restarts gets the fresh announcements back
from its peer."""
import json
import time

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from opgnode import BIN, DEV_ACCOUNTS, run
from validators import Network

STAKING = Web3.to_checksum_address("0x" + "00" * 19 + "f6")
PROVIDER, STRANGER, LATE = DEV_ACCOUNTS[1], DEV_ACCOUNTS[2], DEV_ACCOUNTS[3]
ETHER = 10**18


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    n = Network(tmp_path_factory.mktemp("gossip"), n=2, block_interval_ms=200)
    try:
        n.start()
        n.wait_all(2)
        yield n
    finally:
        n.stop()


def announce(node, account, url, issued_at):
    chain_id = int(node.result("eth_chainId"), 16)
    message = f"opg provider endpoint\nchain: {chain_id}\nurl: {url}\nissued: {issued_at}"
    signature = Account.sign_message(encode_defunct(text=message), account.key).signature
    return node.result("opg_announceProviderEndpoint", [url, hex(issued_at), "0x" + bytes(signature).hex()])


def endpoint_on(node, account, url, timeout=15):
    """Waits until `node` keeps `url` for `account`; the seconds it took."""
    began = time.time()
    while time.time() < began + timeout:
        kept = node.result("opg_getProviderEndpoint", [account.address])
        if kept and kept["url"] == url:
            return time.time() - began
        time.sleep(0.05)
    raise TimeoutError(f"{node.url} keeps {node.result('opg_getProviderEndpoint', [account.address])}, not {url}\n{node.log_tail(15)}")


def register_provider(node, account=PROVIDER):
    w3 = Web3(Web3.HTTPProvider(node.url))
    staking = w3.eth.contract(address=STAKING, abi=json.loads(run([str(BIN / "opg"), "abi", "staking"], check=True).stdout))
    tx = staking.functions.registerProvider(["QmGossipModel"], "cpu").build_transaction({
        "from": account.address, "value": 10_000 * ETHER, "gas": 2_000_000, "maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"), "chainId": w3.eth.chain_id})
    signed = account.sign_transaction(tx)
    w3.eth.send_raw_transaction(signed.raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(signed.hash, timeout=30, poll_latency=0.05).status == 1


def test_an_announcement_to_one_node_is_returned_by_the_other(net):
    a, b = net.nodes
    register_provider(a)
    net.wait_all(a.head() + 1)  # B has the registration too
    now = int(time.time())
    assert announce(a, PROVIDER, "http://127.0.0.1:8601", now) == PROVIDER.address
    assert endpoint_on(b, PROVIDER, "http://127.0.0.1:8601") < 10

    # Newest wins, whichever node hears it first.
    assert announce(b, PROVIDER, "http://127.0.0.1:8602", now + 1) == PROVIDER.address
    endpoint_on(a, PROVIDER, "http://127.0.0.1:8602")
    assert b.result("opg_getProviderEndpoint", [PROVIDER.address]) == {"provider": PROVIDER.address, "url": "http://127.0.0.1:8602",
                                                                        "issuedAt": now + 1}


def test_a_refused_announcement_goes_nowhere(net):
    a, b = net.nodes
    with pytest.raises(RuntimeError, match="is not a registered provider"):
        announce(a, STRANGER, "http://stranger.example", int(time.time()))
    time.sleep(1)
    assert b.result("opg_getProviderEndpoint", [STRANGER.address]) is None
    assert "disconnecting peer" not in a.log_tail(200) + b.log_tail(200)


def test_an_announcement_made_before_the_registration_is_kept_once_the_block_arrives(net):
    """A node behind a provider's registration holds the announcement it refused and keeps it
    (and passes it on) at the block that registers the provider, not at the next re-announcement."""
    a, b = net.nodes
    with pytest.raises(RuntimeError, match="is not a registered provider"):
        announce(b, LATE, "http://127.0.0.1:8603", int(time.time()))
    register_provider(a, LATE)
    assert endpoint_on(b, LATE, "http://127.0.0.1:8603") < 10
    endpoint_on(a, LATE, "http://127.0.0.1:8603")


def test_a_restarted_node_gets_the_fresh_announcements_back(net):
    a, b = net.nodes
    b.stop()
    b.start()
    endpoint_on(b, PROVIDER, "http://127.0.0.1:8602", timeout=30)
