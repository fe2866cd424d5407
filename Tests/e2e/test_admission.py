"""Every admission rule answers with geth's message under code -32000, and nothing is pooled."""
import pytest
import rlp
from eth_account import Account
from web3 import Web3

from opgnode import CHAIN_ID, DEV_ACCOUNTS, RPCError, sign

SENDER = DEV_ACCOUNTS[5]


def reject(node, raw, expected):
    with pytest.raises(RPCError) as info:
        node.result("eth_sendRawTransaction", [Web3.to_hex(raw)])
    assert info.value.code == -32000, info.value
    assert expected in info.value.message, info.value.message
    return info.value.message


def test_nonce_too_low(node, w3):
    signed = sign(SENDER, w3, value=1)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30, poll_latency=0.05)
    again = sign(SENDER, w3, value=2, nonce=signed_nonce(w3, SENDER) - 1)
    reject(node, again.raw_transaction, "nonce too low")


def signed_nonce(w3, account):
    return w3.eth.get_transaction_count(account.address)


def test_already_known_and_replacement(node, w3):
    future = signed_nonce(w3, SENDER) + 50
    first = sign(SENDER, w3, nonce=future, maxFeePerGas=10 * 10**9, maxPriorityFeePerGas=10**9)
    w3.eth.send_raw_transaction(first.raw_transaction)
    reject(node, first.raw_transaction, "already known")
    low = sign(SENDER, w3, nonce=future, maxFeePerGas=10_500_000_000, maxPriorityFeePerGas=1_050_000_000)
    reject(node, low.raw_transaction, "replacement transaction underpriced")
    only_fee = sign(SENDER, w3, nonce=future, maxFeePerGas=20 * 10**9, maxPriorityFeePerGas=10**9)
    reject(node, only_fee.raw_transaction, "replacement transaction underpriced")
    bumped = sign(SENDER, w3, nonce=future, maxFeePerGas=11 * 10**9, maxPriorityFeePerGas=1_100_000_000)
    assert w3.eth.send_raw_transaction(bumped.raw_transaction) == bumped.hash
    assert node.result("eth_getTransactionByHash", [first.hash.to_0x_hex()]) is None
    assert node.result("eth_getTransactionByHash", [bumped.hash.to_0x_hex()])["blockHash"] is None


def test_insufficient_funds(node, w3):
    pauper = Account.create()
    signed = sign(pauper, w3, nonce=0, value=1)
    reject(node, signed.raw_transaction, "insufficient funds for gas * price + value")


def test_intrinsic_gas_too_low(node, w3):
    reject(node, sign(SENDER, w3, gas=20999).raw_transaction, "intrinsic gas too low")
    reject(node, sign(SENDER, w3, gas=21000, data="0x01").raw_transaction, "intrinsic gas too low")


def test_exceeds_block_gas_limit(node, w3):
    limit = w3.eth.get_block("latest").gasLimit
    reject(node, sign(SENDER, w3, gas=limit + 1).raw_transaction, "exceeds block gas limit")


def test_fee_cap_below_base_fee(node, w3):
    reject(node, sign(SENDER, w3, maxFeePerGas=1, maxPriorityFeePerGas=1).raw_transaction,
           "max fee per gas less than block base fee")


def test_nonce_cap(node, w3):
    """EIP-2681: a nonce of 2^64 - 1 is refused at admission, as in a block (TransactionRules)."""
    capped = sign(SENDER, w3, nonce=2**64 - 1, value=1)
    message = reject(node, capped.raw_transaction, "nonce has max value")
    assert message.endswith(f"nonce: {2**64 - 1}"), message
    assert node.result("eth_getTransactionByHash", [capped.hash.to_0x_hex()]) is None


def test_invalid_chain_id(node, w3):
    wrong = SENDER.sign_transaction({"chainId": CHAIN_ID + 1, "nonce": 0, "gas": 21000, "to": DEV_ACCOUNTS[9].address,
                                     "value": 0, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9})
    reject(node, wrong.raw_transaction, "invalid chain id")


SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def resign(raw: bytes, r: int, s: int, y: int) -> bytes:
    """Replaces the signature of a typed transaction (flipping a bit of s would only
    recover some other, unfunded sender, which is not an invalid signature)."""
    fields = rlp.decode(raw[1:])
    fields[-3:] = [rlp.sedes.big_endian_int.serialize(y), rlp.sedes.big_endian_int.serialize(r), rlp.sedes.big_endian_int.serialize(s)]
    return raw[:1] + rlp.encode(fields)


def test_invalid_signature(node, w3):
    raw = sign(SENDER, w3).raw_transaction
    y, r, s = (int.from_bytes(f, "big") for f in rlp.decode(raw[1:])[-3:])
    high_s = resign(raw, r, SECP256K1_N - s, 1 - y)  # the EIP-2 malleated twin: same signer, high s
    zero_r = resign(raw, 0, s, y)
    for raw in (high_s, zero_r):
        message = reject(node, raw, "invalid")
        assert "sender" in message or "signature" in message, message


def test_legacy_without_chain_id_needs_replay_protection(node, w3):
    unprotected = SENDER.sign_transaction({"nonce": 0, "gas": 21000, "to": DEV_ACCOUNTS[9].address, "value": 0,
                                           "gasPrice": 10**10})
    reject(node, unprotected.raw_transaction, "only replay-protected (EIP-155) transactions allowed over RPC")


def test_contract_creation_is_rejected(node, w3):
    create = SENDER.sign_transaction({"chainId": CHAIN_ID, "nonce": signed_nonce(w3, SENDER), "gas": 100000,
                                      "to": "", "value": 0, "data": "0x6000", "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9})
    reject(node, create.raw_transaction, "contract creation is not supported")


def test_malformed_raw_transaction(node):
    for raw in ["0x", "0x02", "0xc0", "0x" + "ff" * 40, "0x04c0"]:
        with pytest.raises(RPCError) as info:
            node.result("eth_sendRawTransaction", [raw])
        assert info.value.code in (-32000, -32602)
    with pytest.raises(RPCError) as info:
        node.result("eth_sendRawTransaction", ["not hex"])
    assert info.value.code == -32602
