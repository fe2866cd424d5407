"""Hostile HTTP clients against a real opgd (issue 14): slow and half-sent connections,
heavy requests, browser-origin writes, oversized headers, huge batch answers. Each test
asserts that honest requests keep being answered, with generous bounds, in seconds."""
import json
import resource
import signal
import socket
import subprocess
import time

import pytest
import requests

from hostile import BLOCK_NUMBER, Attack, HeavyLoad, connect, node_fds, partial_request, wait_for
from opgnode import BIN, CHAIN_ID, DEV_ACCOUNTS, Node, free_port

HOSTILE = 2000


@pytest.fixture(scope="module", autouse=True)
def enough_file_descriptors():
    """2,000 attacking sockets plus the test's own need more than the usual 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 8192)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted < HOSTILE + 200:
        pytest.skip(f"the hard open-file limit {hard} is too low for {HOSTILE} connections")
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def make_node(tmp_path):
    """Starts a node of the test's own with the given `rpc` settings."""
    nodes = []

    def make(**rpc):
        n = Node(workdir=tmp_path / f"node{len(nodes)}", block_interval_ms=500)
        n.config["rpc"].update(rpc)
        n.config["logLevel"] = "info"
        nodes.append(n.init().start())
        return n

    yield make
    for n in nodes:
        n.kill9()


def honest_latency(node) -> float:
    """One eth_blockNumber on a fresh connection, as a simple client makes it; seconds."""
    started = time.monotonic()
    r = requests.post(node.url, json=BLOCK_NUMBER, timeout=5)
    assert r.status_code == 200 and "result" in r.json()
    return time.monotonic() - started


def test_two_thousand_hostile_connections_held_open(make_node):
    """No per-IP pending cap: all 2,000 stay open, and honest requests are still served."""
    node = make_node(maxPendingPerIP=100000)
    baseline = node_fds(node)
    attack = Attack(node, HOSTILE)
    try:
        held = len(attack.slow) + len(attack.idle)
        assert wait_for(lambda: node_fds(node) >= baseline + held * 0.9, 10), f"the node holds {node_fds(node) - baseline} of {held}"
        latencies = [honest_latency(node) for _ in range(30)]
        assert max(latencies) < 1.0, f"honest eth_blockNumber took {max(latencies):.3f} s under attack"
    finally:
        attack.close()
    assert wait_for(lambda: node_fds(node) <= baseline + 5, 5), f"fds {node_fds(node)} did not return to {baseline}"


def test_pending_cap_keeps_one_address_from_holding_the_node(make_node):
    """Default settings: one address may hold 256 connections that have not delivered a
    request; beyond that the oldest are closed, so the node's fds stay bounded."""
    node = make_node()
    baseline = node_fds(node)
    attack = Attack(node, HOSTILE)
    try:
        latencies = [honest_latency(node) for _ in range(30)]
        assert max(latencies) < 1.0, f"honest eth_blockNumber took {max(latencies):.3f} s under attack"
        assert node_fds(node) <= baseline + 256 + 50
    finally:
        attack.close()
    assert wait_for(lambda: node_fds(node) <= baseline + 5, 5)


def test_whole_request_deadline_closes_tricklers(make_node):
    """MHD's idle timer restarts on every byte; the whole-request deadline does not."""
    node = make_node(requestTimeoutSeconds=2)
    attack = Attack(node, 30)
    try:
        def all_closed():
            closed = 0
            for s in attack.sockets:
                try:
                    closed += s.recv(1) == b""
                except BlockingIOError:
                    pass
                except OSError:
                    closed += 1
            return closed == 30
        assert wait_for(all_closed, 6), "connections that never complete a request are closed within the deadline"
        honest_latency(node)
    finally:
        attack.close()


def test_half_closed_sockets_are_closed(make_node):
    node = make_node()
    baseline = node_fds(node)
    sockets = []
    for _ in range(200):
        s = connect(node)
        s.send(partial_request(node))
        s.shutdown(socket.SHUT_WR)
        sockets.append(s)
    assert wait_for(lambda: node_fds(node) <= baseline + 5, 5), "no socket left in CLOSE-WAIT"
    for s in sockets:
        s.close()


def test_heavy_requests_do_not_starve_cheap_ones(make_node):
    """Four clients keep the heavy lane busy with proofs of 50,000 keys each; eth_blockNumber
    runs on the light lane meanwhile."""
    node = make_node(heavyThreads=1, maxRequestBytes=5 << 20)
    heavy = HeavyLoad(node, DEV_ACCOUNTS[0].address)
    try:
        time.sleep(0.5)
        latencies = []
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            latencies.append(honest_latency(node))
            time.sleep(0.05)
    finally:
        heavy.close()
    assert not heavy.failures, heavy.failures[0]
    assert heavy.seconds and max(heavy.seconds) > 0.5, f"the heavy load was real: {heavy.seconds}"
    assert max(latencies) < 1.0, f"eth_blockNumber waited {max(latencies):.3f} s behind heavy requests"


def test_batch_response_is_capped(make_node):
    node = make_node(maxBatchResponseBytes=4096)
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": ["0x0", False]} for i in range(50)]
    answers = requests.post(node.url, json=batch, timeout=10).json()
    assert len(answers) == 50 and [a["id"] for a in answers] == list(range(50))
    served = [a for a in answers if "result" in a]
    refused = [a for a in answers if "error" in a]
    assert 1 <= len(served) < 50 and len(served) + len(refused) == 50
    assert answers[len(served)]["error"]["code"] == -32003, "the rest of the batch is refused in order"
    assert "4096 bytes" in refused[0]["error"]["message"]


def raw_post(node, headers: dict, body: bytes = json.dumps(BLOCK_NUMBER).encode()) -> requests.Response:
    h = {"Content-Type": "application/json"}
    h.update(headers)
    return requests.post(node.url, data=body, headers={k: v for k, v in h.items() if v is not None}, timeout=5)


def test_only_json_content_types(node):
    for content_type in [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/jsonx"]:
        r = raw_post(node, {"Content-Type": content_type})
        assert r.status_code == 415, content_type
        assert "only application/json" in r.text
    for content_type in ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]:
        assert raw_post(node, {"Content-Type": content_type}).json()["result"], content_type


def test_host_allowlist(node):
    r = raw_post(node, {"Host": "attacker.example"})
    assert r.status_code == 403 and r.text == "invalid host specified\n"
    assert raw_post(node, {"Host": "rebind.attacker.example:8545"}).status_code == 403
    for host in [f"localhost:{node.port}", "LOCALHOST", f"127.0.0.1:{node.port}", f"[::1]:{node.port}", "10.0.0.7"]:
        assert raw_post(node, {"Host": host}).status_code == 200, host


def test_host_wildcard(make_node):
    assert raw_post(make_node(vhosts=["*"]), {"Host": "anything.example"}).status_code == 200


def test_cors_preflight_names_only_configured_headers(node):
    pre = requests.options(node.url, headers={"Origin": "https://explorer.example", "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "content-type, x-evil, authorization"}, timeout=5)
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "https://explorer.example"
    assert pre.headers["Access-Control-Allow-Headers"] == "Content-Type"
    other = requests.options(node.url, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
                                                "Access-Control-Request-Headers": "x-evil"}, timeout=5)
    assert "Access-Control-Allow-Origin" not in other.headers and "Access-Control-Allow-Headers" not in other.headers


@pytest.mark.parametrize("size", [20_000, 200_000])
def test_oversized_headers_get_431(node, size):
    with socket.create_connection(("127.0.0.1", node.port), timeout=5) as s:
        body = json.dumps(BLOCK_NUMBER).encode()
        s.sendall(f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Big: {'x' * size}\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 431"), reply[:80]
    assert honest_latency(node) < 1.0


def test_duplicate_keys_last_wins(node):
    body = b'{"jsonrpc":"2.0","id":1,"method":"eth_no_such_method","params":[],"method":"eth_chainId"}'
    assert raw_post(node, {}, body).json()["result"] == hex(CHAIN_ID)


def test_opgd_dev_runs_from_any_directory(tmp_path):
    port = free_port()
    proc = subprocess.Popen([str(BIN / "opgd"), "dev", "--datadir", "devdata", "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
            try:
                chain_id = requests.post(url, json={**BLOCK_NUMBER, "method": "eth_chainId"}, timeout=1).json()["result"]
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "opgd dev did not start"
                time.sleep(0.1)
        assert int(chain_id, 16) == CHAIN_ID
        assert (tmp_path / "devdata" / "chaindata").is_dir()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
