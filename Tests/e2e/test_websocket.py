"""eth_subscribe over WebSocket on the RPC port: web3.py's AsyncWeb3 with WebSocketProvider
receives new heads, logs and pending transactions from a real opgd; malformed frames get
a close frame naming the rule (slow consumers: HTTPServerTests.WebSocketTests); the connection
and subscription limits set low in the node config are enforced with errors naming them."""
import asyncio
import base64
import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest
from web3 import AsyncWeb3, WebSocketProvider

from opgnode import BIN, DEV_ACCOUNTS, NOTARY, Node, sign
from test_logs import NOTARIZED_TOPIC, notarize_data


@pytest.fixture(scope="module")
def ws_node(tmp_path_factory):
    n = Node(workdir=tmp_path_factory.mktemp("ws") / "node").init().start()
    yield n
    n.stop()


def ws_url(node):
    return node.url.replace("http://", "ws://")


async def next_messages(w3, count, timeout=20):
    got = []

    async def collect():
        async for message in w3.socket.process_subscriptions():
            got.append(message)
            if len(got) == count:
                return

    await asyncio.wait_for(collect(), timeout)
    return got


def test_web3_receives_new_heads(ws_node):
    async def run():
        async with AsyncWeb3(WebSocketProvider(ws_url(ws_node))) as w3:
            assert await w3.eth.chain_id == ws_node.web3().eth.chain_id, "plain requests work over the socket"
            sub = await w3.eth.subscribe("newHeads")
            heads = await next_messages(w3, 3)
            assert all(m["subscription"] == sub for m in heads)
            metrics = urllib.request.urlopen(ws_node.url + "/metrics", timeout=10).read().decode().splitlines()
            assert int(next(line for line in metrics if line.startswith("opg_rpc_subscriptions ")).split()[1]) >= 1
            numbers = [m["result"]["number"] for m in heads]
            assert numbers == list(range(numbers[0], numbers[0] + 3)), "every block, in order"
            block = ws_node.web3().eth.get_block(numbers[-1])
            assert heads[-1]["result"]["hash"] == block.hash and heads[-1]["result"]["parentHash"] == block.parentHash
            assert await w3.eth.unsubscribe(sub) is True
            again = await w3.provider.make_request("eth_unsubscribe", [sub])
            assert again["result"] is False, "web3 refuses to ask twice itself"
    asyncio.run(run())


def test_web3_receives_logs_and_pending_transactions(ws_node):
    w3sync = ws_node.web3()
    sender = DEV_ACCOUNTS[2]

    async def run():
        async with AsyncWeb3(WebSocketProvider(ws_url(ws_node))) as w3:
            topic = "0x" + NOTARIZED_TOPIC.hex()
            matching = await w3.eth.subscribe("logs", {"address": NOTARY, "topics": [topic]})
            other = await w3.eth.subscribe("logs", {"address": DEV_ACCOUNTS[3].address})
            pending = await w3.eth.subscribe("newPendingTransactions")
            digest = os.urandom(32)
            tx = sign(sender, w3sync, to=NOTARY, data=notarize_data(digest, "over websocket"), gas=200_000)
            w3sync.eth.send_raw_transaction(tx.raw_transaction)
            first, second = await next_messages(w3, 2)
            assert (first["subscription"], first["result"]) == (pending, tx.hash)
            log = second["result"]
            assert second["subscription"] == matching, "the unrelated address's subscription gets nothing"
            assert log["address"] == NOTARY and log["topics"][0] == NOTARIZED_TOPIC and log["transactionHash"] == tx.hash
            receipt = w3sync.eth.get_transaction_receipt(tx.hash)
            assert log["blockNumber"] == receipt.blockNumber and log["logIndex"] == receipt.logs[0].logIndex
            assert other != matching
    asyncio.run(run())


def handshake(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def frame(opcode, payload, masked=True, fin=True):
    mask = os.urandom(4)
    first = (0x80 if fin else 0) | opcode
    length = len(payload)
    header = bytes([first]) + (bytes([(0x80 if masked else 0) | length]) if length < 126
                               else bytes([(0x80 if masked else 0) | 126]) + length.to_bytes(2, "big"))
    if not masked:
        return header + payload
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(s):
    def exact(n):
        out = b""
        while len(out) < n:
            chunk = s.recv(n - len(out))
            if not chunk:
                raise EOFError
            out += chunk
        return out
    b0, b1 = exact(2)
    length = b1 & 0x7F
    if length == 126:
        length = int.from_bytes(exact(2), "big")
    elif length == 127:
        length = int.from_bytes(exact(8), "big")
    return b0 & 0x0F, exact(length)


@pytest.mark.parametrize("bad, code, reason", [
    (frame(1, b'{"x":1}', masked=False), 1002, b"client frame is not masked"),
    (bytes([0x83, 0x80]) + os.urandom(4), 1002, b"unknown opcode 3"),
    (frame(9, b"x", fin=False), 1002, b"fragmented control frame"),
    (frame(1, b"\xff\xfe"), 1007, b"text message is not valid UTF-8"),
    (frame(0, b"abc"), 1002, b"continuation frame without a message in progress"),
])
def test_malformed_frames_get_a_named_close(ws_node, bad, code, reason):
    s = handshake(ws_node.port)
    s.sendall(bad)
    opcode, payload = read_frame(s)
    assert opcode == 8 and int.from_bytes(payload[:2], "big") == code and payload[2:] == reason
    s.close()
    assert ws_node.result("eth_chainId")


def test_ping_pong_fragments_and_close(ws_node):
    s = handshake(ws_node.port)
    s.sendall(frame(9, b"hi"))
    assert read_frame(s) == (10, b"hi")
    request = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "eth_chainId", "params": []}).encode()
    s.sendall(frame(1, request[:10], fin=False) + frame(9, b"") + frame(0, request[10:]))
    assert read_frame(s) == (10, b"")
    opcode, payload = read_frame(s)
    assert opcode == 1 and json.loads(payload)["id"] == 5
    heavy = {"jsonrpc": "2.0", "id": 7, "method": "eth_getLogs", "params": [{"fromBlock": "0x0", "toBlock": "latest"}]}
    s.sendall(frame(1, json.dumps(heavy).encode()))
    opcode, payload = read_frame(s)
    assert json.loads(payload)["id"] == 7 and isinstance(json.loads(payload)["result"], list), "heavy-lane methods answer too"
    for params, message in [(["syncing"], "0: unsupported subscription kind syncing"),
                            (["logs", {"address": NOTARY, "fromBlock": "0x1"}],
                             "1: a logs subscription sends new logs only: fromBlock must be absent or latest")]:
        s.sendall(frame(1, json.dumps({"jsonrpc": "2.0", "id": 6, "method": "eth_subscribe", "params": params}).encode()))
        opcode, payload = read_frame(s)
        assert json.loads(payload)["error"] == {"code": -32602, "message": "invalid argument " + message}
    s.sendall(frame(8, (1000).to_bytes(2, "big")))
    assert read_frame(s)[0] == 8
    s.close()


def test_handshake_errors_are_400(ws_node):
    s = socket.create_connection(("127.0.0.1", ws_node.port), timeout=10)
    s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: abc\r\n\r\n".encode())
    answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400") and b"Sec-WebSocket-Version must be 13" in answer
    s.close()


def subscribe(s, request_id):
    s.sendall(frame(1, json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "eth_subscribe", "params": ["newHeads"]}).encode()))
    while True:  # skip notifications of earlier subscriptions
        opcode, payload = read_frame(s)
        answer = json.loads(payload)
        if answer.get("id") == request_id:
            return answer


def test_websocket_limits_set_in_the_config_are_enforced(tmp_path):
    """rpc.maxWebSocketConnections and rpc.maxSubscriptionsPerConnection (Config/README.md) set
    low: the third connection gets 503 and the third subscription -32005, each naming the limit."""
    node = Node(workdir=tmp_path / "node")
    node.config["rpc"].update({"maxWebSocketConnections": 2, "maxSubscriptionsPerConnection": 2, "webSocketQueueMessages": 64})
    node.init().start()
    try:
        first, second = handshake(node.port), handshake(node.port)
        third = socket.create_connection(("127.0.0.1", node.port), timeout=10)
        third.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        answer = third.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503") and b"too many websocket connections: limit 2" in answer, answer
        third.close()
        assert "result" in subscribe(first, 1) and "result" in subscribe(first, 2)
        assert subscribe(first, 3)["error"] == {"code": -32005, "message": "too many subscriptions on this connection: limit 2"}
        assert "result" in subscribe(second, 4), "the limit is per connection"
        second.close()
        first.close()
        deadline = time.time() + 10
        while time.time() < deadline:  # the server notices the closes; a new connection fits again
            try:
                handshake(node.port).close()
                break
            except AssertionError:
                time.sleep(0.1)
        else:
            raise AssertionError("no WebSocket connection accepted after the others closed")
    finally:
        node.stop()


def test_an_out_of_range_websocket_limit_is_refused_naming_the_field(tmp_path):
    node = Node(workdir=tmp_path / "node")
    node.config["rpc"]["webSocketQueueMessages"] = 0
    node.init()
    started = subprocess.run([str(BIN / "opgd"), "start", "--config", str(node.config_file)], capture_output=True, text=True, timeout=30)
    assert started.returncode == 2 and "rpc.webSocketQueueMessages: must be an integer in 1…1000000" in started.stderr, started.stderr
