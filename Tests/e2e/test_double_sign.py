"""One validator key run by two processes (issue 11 §5): four real opgd validators bonded in
staking (`opgd testnet --staking`), then a fifth process with node 0's consensus key (copied,
no signer state, its own node key) joins them. The copy's pool keeps one transaction per sender
(`txPool.maxPerAccount: 1`), so with a burst of one sender's transactions pending its proposals
differ from node 0's (with or without mempool gossip), and the two sign conflicting votes. The chain stays safe (every
node, the two halves of node 0 included, reports the same block at every height), the double
sign is detected and committed as block evidence (`evidenceHash`), node 0's operator is slashed
`doubleSignSlashBps` (5%) and tombstoned, it leaves the validator set two heights later, the
three others go on deciding, and `sum(balances) + staked == genesis + minted − burned`.
Then a late joiner: a sixth process with a fresh consensus key and an operator account that is
in no genesis set starts, its account registers the key in staking, and once the key is in the
set the node proposes blocks and signs votes like the others."""
import json
import shutil
import time

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys import keys as eth_keys
from eth_utils import keccak
from web3 import Web3

from opgnode import BIN, CHAIN_ID, DEV_ACCOUNTS, free_port_range, run
from validators import Network, Validator

ETHER = 10**18
STAKE = 10_000 * ETHER
SUPPLY = Web3.to_checksum_address("0x" + "00" * 19 + "ff")
MODULES = [Web3.to_checksum_address("0x" + "00" * 19 + f"{b:02x}") for b in (0x01, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xFF)]
STAKING = Web3.to_checksum_address("0x" + "00" * 19 + "f6")
SENDER, RECEIVER, JOINER = DEV_ACCOUNTS[7], DEV_ACCOUNTS[8], DEV_ACCOUNTS[3]


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    n = Network(tmp_path_factory.mktemp("double_sign"), staking=True).start()
    extra = []
    try:
        n.wait_all(3)
        extra.append(start_extra_node(n, "node0-copy", lambda consensus: shutil.copy(
            n.workdir / "node0" / "data" / "consensus" / "consensus_key", consensus / "consensus_key"),
            {"txPool": {"maxPerAccount": 1}}))
        yield n, extra
    finally:
        for v in extra:
            v.stop()
        n.stop()


def start_extra_node(n: Network, name: str, write_consensus_key, config_changes=None) -> Validator:
    """Another process on the network's genesis, peered with all four, with a node key of its own
    and the consensus key `write_consensus_key(directory)` puts there."""
    home = n.workdir / name
    home.mkdir()
    data = home / "data"
    run([str(BIN / "opgd"), "init", "--genesis", str(n.workdir / "genesis.json"), "--datadir", str(data)], check=True)
    (data / "consensus").mkdir()
    write_consensus_key(data / "consensus")
    config = json.loads((n.workdir / "node0" / "config.json").read_text())
    base = free_port_range(2)
    config["dataDir"] = str(data)
    config["rpc"]["port"] = base
    config["p2p"]["listen"] = f"127.0.0.1:{base + 1}"
    node0_peer = n.nodes[1].config["p2p"]["persistentPeers"][0]
    config["p2p"]["persistentPeers"] = [node0_peer] + n.nodes[0].config["p2p"]["persistentPeers"]
    config.update(config_changes or {})
    (home / "config.json").write_text(json.dumps(config))
    return Validator(home).start()


def call(node: Validator, signature: str, block: int) -> int:
    return int(node.result("eth_call", [{"to": SUPPLY, "data": "0x" + keccak(text=signature)[:4].hex()}, hex(block)]), 16)


def test_double_sign_is_committed_slashed_and_tombstoned(net):
    n, (copy,) = net
    honest = n.nodes[1:]
    node0 = n.genesis["validators"][0]["address"]
    assert {v["address"].lower() for v in honest[0].result("opg_getValidators", ["latest"])["validators"]} == \
        {v["address"].lower() for v in n.genesis["validators"]}, "the set comes from staking"
    # Bursts of one sender's transactions: node 0 proposes them all, its copy only the first.
    found, checked, deadline = None, 0, time.time() + 90
    while found is None and time.time() < deadline:
        nonce = int(honest[0].result("eth_getTransactionCount", [SENDER.address, "latest"]), 16)
        for i in range(4):
            tx = Account.sign_transaction({"chainId": CHAIN_ID, "nonce": nonce + i, "to": RECEIVER.address, "value": 1, "gas": 21000,
                                           "maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9}, SENDER.key)
            for v in n.nodes + [copy]:
                try:
                    v.result("eth_sendRawTransaction", ["0x" + bytes(tx.raw_transaction).hex()])
                except RuntimeError:
                    pass  # already pooled (gossip), nonce taken by a block, or over the copy's one per sender
        head = honest[0].head()
        for number in range(checked + 1, head + 1):
            block = honest[0].result("eth_getBlockByNumber", [hex(number), False])
            if "evidenceHash" in block:
                found = block
                break
        checked = head if found is None else checked
        time.sleep(0.1)
    assert found is not None, "no evidence committed:\n" + "\n---\n".join(v.log_tail(20) for v in n.nodes + [copy])
    e = int(found["number"], 16)
    n.wait_all(e + 3, nodes=honest)
    copy_head = copy.head()
    for number in range(0, e + 3):
        blocks = [v.result("eth_getBlockByNumber", [hex(number), False]) for v in n.nodes + ([copy] if number <= copy_head else [])]
        assert len({(b["hash"], b["stateRoot"]) for b in blocks}) == 1, f"nodes disagree at height {number}: {blocks}"

    operator = honest[1].result("opg_getOperator", [node0])
    assert operator["tombstoned"] is True and operator["faults"] >= 1
    assert int(operator["stake"], 16) == STAKE * 95 // 100, "doubleSignSlashBps: 5% of the bonded stake"
    before = {v["address"].lower() for v in honest[2].result("opg_getValidators", [hex(e + 1)])["validators"]}
    after = {v["address"].lower(): v["power"] for v in honest[2].result("opg_getValidators", [hex(e + 2)])["validators"]}
    assert node0.lower() in before
    assert after.get(node0.lower(), 0) == 0 and len([p for p in after.values() if p > 0]) == 3, "it leaves the set at E + 2"
    later = honest[0].head() + 3
    n.wait_all(later, nodes=honest)
    miners = {honest[0].result("eth_getBlockByNumber", [hex(m), False])["miner"].lower() for m in range(e + 2, later + 1)}
    assert node0.lower() not in miners, "a tombstoned validator proposes no block"

    head = honest[0].head()
    w3 = Web3(Web3.HTTPProvider(honest[0].url))
    accounts = {Web3.to_checksum_address(a) for a in n.genesis["alloc"]} | set(MODULES) | {a.address for a in DEV_ACCOUNTS}
    accounts |= {Web3.to_checksum_address(v["address"]) for v in n.genesis["validators"]}
    held = sum(w3.eth.get_balance(a, head) for a in sorted(accounts))
    staked, genesis_supply, minted, burned = (call(honest[0], f, head) for f in ("staked()", "genesisSupply()", "minted()", "burned()"))
    assert staked == 4 * STAKE - STAKE * 5 // 100
    assert held + staked == genesis_supply + minted - burned


def test_validator_that_bonds_later_signs_once_in_the_set(net):
    n, extra = net
    honest = n.nodes[1:]
    consensus_key = eth_keys.PrivateKey(keccak(text="e2e late joiner consensus key"))

    def write_key(directory):
        path = directory / "consensus_key"
        path.write_text(consensus_key.to_bytes().hex() + "\n")
        path.chmod(0o600)
    account_key = n.workdir / "joiner-account.key"
    account_key.write_text(JOINER.key.hex() + "\n")
    account_key.chmod(0o600)
    joiner = start_extra_node(n, "joiner", write_key, {"validatorKeyFile": str(account_key)})
    extra.append(joiner)
    deadline = time.time() + 10
    while "consensus started" not in joiner.log_file.read_text() and time.time() < deadline:
        time.sleep(0.05)
    assert "inSet=false" in joiner.log_file.read_text(), joiner.log_tail()

    key = consensus_key.public_key.to_compressed_bytes()
    digest = keccak(b"OPG-CONSENSUS-KEY-V1" + CHAIN_ID.to_bytes(32, "big") + bytes.fromhex(STAKING[2:])
                    + bytes.fromhex(JOINER.address[2:]) + key)
    proof = Account.sign_message(encode_defunct(primitive=digest), JOINER.key).signature
    data = keccak(text="registerValidator(bytes,bytes)")[:4] + encode(["bytes", "bytes"], [key, bytes(proof)])
    nonce = int(honest[0].result("eth_getTransactionCount", [JOINER.address, "pending"]), 16)
    tx = Account.sign_transaction({"chainId": CHAIN_ID, "nonce": nonce, "to": STAKING, "value": STAKE, "gas": 2_000_000, "data": data,
                                   "maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9}, JOINER.key)
    raw = "0x" + bytes(tx.raw_transaction).hex()
    tx_hash = "0x" + bytes(tx.hash).hex()
    for v in honest:  # to each, so whichever proposes next has it, mempool gossip or not
        try:
            assert v.result("eth_sendRawTransaction", [raw]) == tx_hash
        except RuntimeError as e:
            assert "already known" in str(e)
    deadline = time.time() + 30
    while (receipt := honest[0].result("eth_getTransactionReceipt", [tx_hash])) is None and time.time() < deadline:
        time.sleep(0.05)
    assert receipt and receipt["status"] == "0x1", receipt
    r = int(receipt["blockNumber"], 16)
    n.wait_all(r + 3, nodes=honest + [joiner])
    powers = {v["address"].lower(): v["power"] for v in honest[0].result("opg_getValidators", [hex(r + 3)])["validators"]}
    assert powers.get(JOINER.address.lower()) == 10_000, powers
    deadline, proposed, number = time.time() + 30, None, r + 3
    while proposed is None and time.time() < deadline:
        if honest[0].head() >= number:
            block = honest[0].result("eth_getBlockByNumber", [hex(number), False])
            proposed = block if block["miner"].lower() == JOINER.address.lower() else None
            number += 1
        else:
            time.sleep(0.05)
    assert proposed is not None, "the late joiner never proposed:\n" + joiner.log_tail()
    height = int(proposed["number"], 16)
    n.wait_all(height + 1, nodes=honest + [joiner])
    commit = honest[0].result("opg_getCommit", [hex(height)])
    assert commit["blockHash"] == proposed["hash"]
    for number in range(r, height + 1):
        blocks = [v.result("eth_getBlockByNumber", [hex(number), False]) for v in honest + [joiner]]
        assert len({b["hash"] for b in blocks}) == 1, f"nodes disagree at height {number}"
