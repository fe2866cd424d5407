"""Future nonces wait in the queue; the pending nonce counts them once the gap closes."""
from opgnode import DEV_ACCOUNTS, sign

SENDER = DEV_ACCOUNTS[6]


def test_future_nonce_waits_then_both_are_mined_in_order(node, w3):
    base = w3.eth.get_transaction_count(SENDER.address)
    later = sign(SENDER, w3, nonce=base + 1, value=2)
    w3.eth.send_raw_transaction(later.raw_transaction)
    node.wait_block(w3.eth.block_number + 2)
    assert w3.eth.get_transaction_count(SENDER.address) == base, "a nonce gap keeps it queued"
    assert w3.eth.get_transaction_count(SENDER.address, "pending") == base
    first = sign(SENDER, w3, nonce=base, value=1)
    w3.eth.send_raw_transaction(first.raw_transaction)
    assert w3.eth.get_transaction_count(SENDER.address, "pending") == base + 2
    r2 = w3.eth.wait_for_transaction_receipt(later.hash, timeout=30, poll_latency=0.05)
    r1 = w3.eth.wait_for_transaction_receipt(first.hash, timeout=30, poll_latency=0.05)
    assert (r1.blockNumber, r1.transactionIndex) < (r2.blockNumber, r2.transactionIndex)
    assert w3.eth.get_transaction_count(SENDER.address) == base + 2


def test_many_senders_fill_one_block_by_tip(node, w3):
    senders = DEV_ACCOUNTS[7:9]
    hashes = []
    for i, s in enumerate(senders):
        for k in range(5):
            signed = sign(s, w3, value=k + 1, maxPriorityFeePerGas=(i + 1) * 10**9, maxFeePerGas=20 * 10**9)
            hashes.append(w3.eth.send_raw_transaction(signed.raw_transaction))
    receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.05) for h in hashes]
    assert all(r.status == 1 for r in receipts)
    for s in senders:
        mine = [r for r in receipts if r["from"] == s.address]
        assert [(r.blockNumber, r.transactionIndex) for r in mine] == sorted((r.blockNumber, r.transactionIndex) for r in mine)
