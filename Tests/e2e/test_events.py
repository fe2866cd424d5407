"""Server-sent events at /events from a real opgd: blocks and pending transactions arrive
as they happen, read with a plain HTTP client."""
import json
import urllib.request

from opgnode import DEV_ACCOUNTS, sign


def read_event(response):
    """The next event (name, data) from an event stream, comments skipped."""
    name, data = None, []
    while True:
        line = response.readline().decode()
        assert line, "the stream ended"
        line = line.rstrip("\n")
        if line == "":
            if name is not None:
                return name, json.loads("\n".join(data))
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(": ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)


def test_blocks_and_pending_transactions_stream(node, w3):
    with urllib.request.urlopen(node.url + "/events", timeout=20) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
        name, block = read_event(response)
        assert name == "block"
        assert w3.eth.get_block(block["number"]).hash.to_0x_hex() == block["hash"]
        name, following = read_event(response)
        assert name == "block" and following["number"] == block["number"] + 1
        tx = sign(DEV_ACCOUNTS[7], w3)
        w3.eth.send_raw_transaction(tx.raw_transaction)
        seen = []
        while ("pendingTransaction", tx.hash.to_0x_hex()) not in seen:
            seen.append(read_event(response))
            assert len(seen) < 50
        mined = w3.eth.wait_for_transaction_receipt(tx.hash, timeout=20).blockNumber
        while True:
            name, event = read_event(response)
            if name == "block" and event["number"] == mined:
                assert event["transactions"] >= 1
                break
