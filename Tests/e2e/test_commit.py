"""The consensus fields a real opgd serves: every block carries the hashes of the validator
set that signs it and of the next one (appended to the header RLP, shown in block JSON),
web3.py still parses blocks, the block hash is keccak of the 18-field header, and
opg_getCommit returns the engine's commit certificate stored beside each block (docs/rpc.md,
docs/consensus.md), signed by the validator's consensus key."""
import json

import rlp
from eth_keys import keys
from eth_utils import keccak, to_canonical_address

from opgnode import GENESIS, RPCError


def genesis_validators():
    return json.loads(GENESIS.read_text())["validators"]


def validator_set_hash():
    items = sorted(genesis_validators(), key=lambda v: to_canonical_address(v["address"]))
    return "0x" + keccak(rlp.encode([[to_canonical_address(v["address"]), bytes.fromhex(v["consensusKey"][2:]), v.get("power", 1)]
                                     for v in items])).hex()


def header_rlp(b):
    def q(name):
        return int(b[name], 16) if isinstance(b[name], str) else b[name]
    return rlp.encode([
        bytes(b["parentHash"]), bytes(b["sha3Uncles"]), to_canonical_address(b["miner"]), bytes(b["stateRoot"]),
        bytes(b["transactionsRoot"]), bytes(b["receiptsRoot"]), bytes(b["logsBloom"]), q("difficulty"), q("number"),
        q("gasLimit"), q("gasUsed"), q("timestamp"), bytes(b["extraData"]), bytes(b["mixHash"]), bytes(b["nonce"]),
        q("baseFeePerGas"), bytes.fromhex(b["validatorsHash"][2:]), bytes.fromhex(b["nextValidatorsHash"][2:]),
    ])


def test_blocks_carry_the_validator_set_hashes(node, w3):
    node.wait_block(1)
    want = validator_set_hash()
    for n in (0, 1, "latest"):
        block = w3.eth.get_block(n)  # web3.py parses the block with the two extra fields
        assert block["validatorsHash"] == want
        assert block["nextValidatorsHash"] == want
        assert block["nonce"] == b"\0" * 8 and block["difficulty"] == 0
        assert "0x" + keccak(header_rlp(block)).hex() == block["hash"].to_0x_hex(), "hash = keccak(rlp(18 header fields))"
    by_hash = w3.eth.get_block(w3.eth.get_block(1)["hash"])
    assert by_hash["validatorsHash"] == want


def test_get_commit_serves_the_engine_certificate(node, w3):
    node.wait_block(2)
    block = w3.eth.get_block(2)
    commit = node.result("opg_getCommit", ["0x2"])
    assert commit["blockNumber"] == "0x2" and commit["blockHash"] == block["hash"].to_0x_hex()
    cert = bytes.fromhex(commit["certificate"][2:])
    height, rnd, block_hash, count = (int.from_bytes(cert[0:8], "big"), int.from_bytes(cert[8:12], "big"), cert[12:44],
                                      int.from_bytes(cert[44:48], "big"))
    assert height == 2 and block_hash == bytes(block["hash"]) and count == 1 and len(cert) == 48 + 85
    signer, r, s, v = cert[48:68], cert[68:100], cert[100:132], cert[132]
    sign_bytes = (b"opg-consensus-v1" + w3.eth.chain_id.to_bytes(8, "big") + bytes(w3.eth.get_block(0)["hash"]) + b"\x03"
                  + height.to_bytes(8, "big") + rnd.to_bytes(4, "big") + b"\xff" * 4 + b"\x01" + block_hash)
    recovered = keys.Signature(vrs=(v, int.from_bytes(r, "big"), int.from_bytes(s, "big"))).recover_public_key_from_msg_hash(keccak(sign_bytes))
    consensus_key = keys.PublicKey.from_compressed_bytes(bytes.fromhex(genesis_validators()[0]["consensusKey"][2:]))
    assert signer == recovered.to_canonical_address() == consensus_key.to_canonical_address(), "the precommit is the validator's"
    assert to_canonical_address(block["miner"]) == to_canonical_address(genesis_validators()[0]["address"]), "the account is credited"
    assert int(node.result("opg_getCommit", ["latest"])["blockNumber"], 16) >= 2
    assert node.result("opg_getCommit", ["0x0"])["certificate"] is None, "block 0 is not committed by votes"
    assert node.result("opg_getCommit", ["0xffffff"]) is None
    try:
        node.result("opg_getCommit", ["0x01"])
        raise AssertionError("a non-canonical quantity was accepted")
    except RPCError as e:
        assert e.code == -32602
