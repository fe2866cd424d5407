"""All three transaction types, receipts, queries, and fee accounting to the wei."""
import pytest
from web3 import Web3

from opgnode import CHAIN_ID, DEV_ACCOUNTS, VALIDATOR, sign

SENDER_LEGACY, SENDER_2930, SENDER_1559, SENDER_FEES = DEV_ACCOUNTS[0], DEV_ACCOUNTS[1], DEV_ACCOUNTS[2], DEV_ACCOUNTS[3]
RECIPIENT = DEV_ACCOUNTS[9].address


def send_and_wait(w3, signed):
    h = w3.eth.send_raw_transaction(signed.raw_transaction)
    assert h == signed.hash
    return w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.05)


@pytest.mark.parametrize("sender,fields,expected_type", [
    (SENDER_LEGACY, {"gasPrice": 5 * 10**9}, 0),
    (SENDER_2930, {"gasPrice": 5 * 10**9, "accessList": [{"address": RECIPIENT, "storageKeys": ["0x" + "00" * 31 + "01"]}], "gas": 30000}, 1),
    (SENDER_1559, {"maxFeePerGas": 7 * 10**9, "maxPriorityFeePerGas": 2 * 10**9, "data": "0x00ff00ff", "gas": 30000}, 2),
])
def test_each_type_is_mined_with_a_receipt(w3, sender, fields, expected_type):
    signed = sign(sender, w3, to=RECIPIENT, value=12345, **fields)
    receipt = send_and_wait(w3, signed)
    assert receipt.status == 1
    assert receipt.type == expected_type
    assert receipt["from"] == sender.address and receipt.to == RECIPIENT
    assert receipt.logs == []
    tx = w3.eth.get_transaction(signed.hash)
    assert tx.type == expected_type and tx.value == 12345 and tx.blockNumber == receipt.blockNumber
    assert tx["from"] == sender.address and tx.hash == signed.hash
    if expected_type == 0:
        assert tx.v in (CHAIN_ID * 2 + 35, CHAIN_ID * 2 + 36)
    else:
        assert tx.chainId == CHAIN_ID and tx.yParity in (0, 1)
    if expected_type == 1:
        assert tx.accessList[0]["address"] == RECIPIENT
    block = w3.eth.get_block(receipt.blockNumber, full_transactions=True)
    assert block.transactions[receipt.transactionIndex].hash == signed.hash
    by_index = w3.eth.get_transaction_by_block(receipt.blockHash, receipt.transactionIndex)
    assert by_index.hash == signed.hash
    assert w3.eth.get_transaction_by_block(receipt.blockNumber, receipt.transactionIndex).hash == signed.hash
    assert w3.eth.get_block_transaction_count(receipt.blockNumber) == len(block.transactions)
    assert w3.eth.get_block_transaction_count(receipt.blockHash) == len(block.transactions)
    receipts = w3.provider.make_request("eth_getBlockReceipts", [hex(receipt.blockNumber)])["result"]
    assert receipts[receipt.transactionIndex]["transactionHash"] == signed.hash.to_0x_hex()
    assert receipt.gasUsed == tx.gas if expected_type == 0 else receipt.gasUsed <= tx.gas


def test_fee_accounting_is_exact(node, w3):
    sender = SENDER_FEES
    signed = sign(sender, w3, to=RECIPIENT, value=10**18, maxFeePerGas=50 * 10**9, maxPriorityFeePerGas=3 * 10**9, data="0x0001", gas=30000)
    receipt = send_and_wait(w3, signed)
    n = receipt.blockNumber
    block = w3.eth.get_block(n, full_transactions=True)
    base_fee = block.baseFeePerGas
    assert receipt.effectiveGasPrice == base_fee + min(3 * 10**9, 50 * 10**9 - base_fee)
    assert receipt.gasUsed == 21000 + 4 + 16
    paid = w3.eth.get_balance(sender.address, n - 1) - w3.eth.get_balance(sender.address, n)
    assert paid == 10**18 + receipt.gasUsed * receipt.effectiveGasPrice

    tips = sum(r["gasUsed"] * (r["effectiveGasPrice"] - base_fee) for r in
               (w3.eth.get_transaction_receipt(t.hash) for t in block.transactions))
    burned = base_fee * block.gasUsed
    earned = w3.eth.get_balance(VALIDATOR.address, n) - w3.eth.get_balance(VALIDATOR.address, n - 1)
    supply_before = int(node.result("opg_totalSupply", [hex(n - 1)]), 16)
    supply_after = int(node.result("opg_totalSupply", [hex(n)]), 16)
    minted = supply_after - supply_before + burned
    assert minted == 2 * 10**18, "the genesis block reward is minted once per block"
    assert earned == minted + tips, "the proposer gets the reward and every tip; the base fee is burned"


def test_transaction_count_tracks_nonces(w3):
    sender = DEV_ACCOUNTS[4]
    before = w3.eth.get_transaction_count(sender.address)
    send_and_wait(w3, sign(sender, w3, value=1))
    assert w3.eth.get_transaction_count(sender.address) == before + 1
    assert w3.eth.get_transaction_count(sender.address, "pending") == before + 1
