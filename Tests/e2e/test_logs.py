"""Native-handler calls, Solidity-ABI events and reverts, and the filter/log API over them.

The Notary handler at 0x…0001 records who first notarized a 32-byte digest
(docs/native-handlers.md); its ABI is published as JSON by `opg abi notary`.
"""
import os

import pytest
from eth_abi import decode, encode
from eth_utils import keccak
from web3 import Web3

from opgnode import DEV_ACCOUNTS, NOTARY, RPCError, sign

SENDER = DEV_ACCOUNTS[8]
NOTARIZED_TOPIC = keccak(text="Notarized(address,bytes32,string)")


def notarize_data(digest: bytes, note: str) -> str:
    return Web3.to_hex(keccak(text="notarize(bytes32,string)")[:4] + encode(["bytes32", "string"], [digest, note]))


def owner_of_data(digest: bytes) -> str:
    return Web3.to_hex(keccak(text="ownerOf(bytes32)")[:4] + encode(["bytes32"], [digest]))


def notarize(w3, digest, note="hello", gas=200_000):
    signed = sign(SENDER, w3, to=NOTARY, data=notarize_data(digest, note), gas=gas)
    w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(signed.hash, timeout=30, poll_latency=0.05)


def test_event_log_and_call(node, w3):
    digest = os.urandom(32)
    receipt = notarize(w3, digest, "first note")
    assert receipt.status == 1 and receipt.gasUsed > 21000
    (log,) = receipt.logs
    assert log.address == NOTARY
    assert log.topics[0] == NOTARIZED_TOPIC
    assert log.topics[1] == b"\x00" * 12 + bytes.fromhex(SENDER.address[2:])
    assert log.topics[2] == digest
    assert decode(["string"], log.data) == ("first note",)
    assert log.blockNumber == receipt.blockNumber and log.transactionHash == receipt.transactionHash
    assert w3.eth.get_block(receipt.blockNumber).logsBloom != b"\x00" * 256

    out = w3.eth.call({"to": NOTARY, "data": owner_of_data(digest)})
    owner, block_number = decode(["address", "uint64"], out)
    assert Web3.to_checksum_address(owner) == SENDER.address and block_number == receipt.blockNumber

    logs = w3.eth.get_logs({"fromBlock": receipt.blockNumber, "toBlock": receipt.blockNumber, "address": NOTARY,
                            "topics": [Web3.to_hex(NOTARIZED_TOPIC), None, Web3.to_hex(digest)]})
    assert [l.transactionHash for l in logs] == [receipt.transactionHash]
    none = w3.eth.get_logs({"fromBlock": receipt.blockNumber, "toBlock": receipt.blockNumber,
                            "topics": [None, None, Web3.to_hex(os.urandom(32))]})
    assert none == []
    by_hash = w3.eth.get_logs({"blockHash": receipt.blockHash, "address": [NOTARY]})
    assert receipt.transactionHash in [l.transactionHash for l in by_hash]


def test_revert_charges_gas_and_reports_reason(node, w3):
    digest = os.urandom(32)
    assert notarize(w3, digest).status == 1
    before = w3.eth.get_balance(SENDER.address)
    receipt = notarize(w3, digest)
    assert receipt.status == 0 and receipt.logs == []
    assert w3.eth.get_balance(SENDER.address) == before - receipt.gasUsed * receipt.effectiveGasPrice
    assert receipt.gasUsed > 21000

    with pytest.raises(RPCError) as info:
        node.result("eth_call", [{"from": SENDER.address, "to": NOTARY, "data": notarize_data(digest, "x")}, "latest"])
    assert info.value.code == 3
    assert info.value.message == "execution reverted: already notarized"
    assert info.value.data.startswith("0x08c379a0")
    with pytest.raises(RPCError) as info:
        node.result("eth_estimateGas", [{"from": SENDER.address, "to": NOTARY, "data": notarize_data(digest, "x")}])
    assert info.value.code == 3


def test_estimate_gas(node, w3):
    assert w3.eth.estimate_gas({"from": SENDER.address, "to": DEV_ACCOUNTS[9].address, "value": 1}) == 21000
    # The estimate is for this exact call data: calldata costs 4 gas per zero byte and 16 per non-zero byte,
    # so the transaction sent must carry the same digest that was estimated.
    digest = os.urandom(32)
    estimate = w3.eth.estimate_gas({"from": SENDER.address, "to": NOTARY, "data": notarize_data(digest, "n")})
    assert 21000 < estimate < 200_000
    receipt = notarize(w3, digest, "n", gas=estimate)
    assert receipt.status == 1 and receipt.gasUsed <= estimate


def test_unknown_selector_reverts(node):
    with pytest.raises(RPCError) as info:
        node.result("eth_call", [{"to": NOTARY, "data": "0xdeadbeef"}, "latest"])
    assert info.value.code == 3


def test_filters(node, w3):
    log_filter = w3.eth.filter({"address": NOTARY, "topics": [Web3.to_hex(NOTARIZED_TOPIC)]})
    block_filter = w3.eth.filter("latest")
    pending_filter = w3.eth.filter("pending")
    digest = os.urandom(32)
    signed = sign(SENDER, w3, to=NOTARY, data=notarize_data(digest, "filtered"), gas=200_000)
    w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(signed.hash, timeout=30, poll_latency=0.05)
    changes = w3.eth.get_filter_changes(log_filter.filter_id)
    assert receipt.transactionHash in [c.transactionHash for c in changes]
    assert w3.eth.get_filter_changes(log_filter.filter_id) == [], "changes are returned once"
    all_logs = w3.eth.get_filter_logs(log_filter.filter_id)
    assert receipt.transactionHash in [c.transactionHash for c in all_logs]
    blocks = w3.eth.get_filter_changes(block_filter.filter_id)
    assert receipt.blockHash in blocks
    pending = w3.eth.get_filter_changes(pending_filter.filter_id)
    assert signed.hash in pending
    assert w3.eth.uninstall_filter(log_filter.filter_id) is True
    assert w3.eth.uninstall_filter(log_filter.filter_id) is False
    with pytest.raises(Exception):
        w3.eth.get_filter_changes(log_filter.filter_id)
