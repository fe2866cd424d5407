"""The node's HTTP side beside JSON-RPC: /health, /metrics (parsed strictly), 404s, and
JSON-RPC on POST / unchanged by the routing."""
import json
import re
import time
import urllib.error
import urllib.request

import pytest

from opgnode import DEV_ACCOUNTS, Node, sign

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? (\S+)$")
VALUE = re.compile(r"^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count", "")}


def parse_metrics(text):
    """Parses Prometheus text exposition format 0.0.4 strictly; returns
    {family: {"type", "help", "samples": {(name, labels tuple): float}}}. Fails on any line
    out of place: a sample before its family's TYPE, a family declared twice, a bad name,
    label or value, a duplicate series, non-cumulative histogram buckets."""
    assert text.endswith("\n"), "the page ends with a newline"
    families, current = {}, None
    for number, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {number}: {line!r}"
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert re.fullmatch(NAME, name) and name not in families, where
            assert help_text and "\\" not in help_text.replace("\\\\", "").replace("\\n", ""), where
            families[name] = {"help": help_text, "type": None, "samples": {}}
            current = name
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert name == current and families[name]["type"] is None and kind in TYPES, where
            families[name]["type"] = kind
            continue
        assert not line.startswith("#") and line.strip() == line and line, where
        m = SAMPLE.match(line)
        assert m, where
        sample_name, labels_text, value = m.group(1), m.group(2) or "", m.group(m.lastindex)
        assert VALUE.match(value), where
        assert current is not None, f"{where}: a sample before any family"
        family = families[current]
        assert family["type"] is not None, where
        suffixes = SUFFIXES.get(family["type"], ("",))
        assert any(sample_name == current + s for s in suffixes), f"{where}: not in family {current}"
        labels = tuple(re.findall(LABEL, labels_text))
        assert len({k for k, _ in labels}) == len(labels), where
        key = (sample_name, labels)
        assert key not in family["samples"], f"{where}: duplicate series"
        family["samples"][key] = float(value)
    for name, family in families.items():
        assert family["type"], f"{name} has no TYPE"
        if family["type"] == "histogram":
            check_histogram(name, family["samples"])
    return families


def check_histogram(name, samples):
    series = {}
    for (sample_name, labels), value in samples.items():
        rest = tuple(l for l in labels if l[0] != "le")
        series.setdefault(rest, {"buckets": [], "count": None})
        if sample_name == name + "_bucket":
            le = dict(labels)["le"]
            series[rest]["buckets"].append((float(le), value))
        elif sample_name == name + "_count":
            series[rest]["count"] = value
    for rest, s in series.items():
        bounds = [b for b, _ in s["buckets"]]
        counts = [c for _, c in s["buckets"]]
        assert bounds == sorted(bounds) and bounds[-1] == float("inf"), f"{name}{rest}: buckets end with +Inf"
        assert counts == sorted(counts), f"{name}{rest}: buckets are cumulative"
        assert counts[-1] == s["count"], f"{name}{rest}: +Inf bucket equals _count"


def value(families, family, name=None, **labels):
    key = (name or family, tuple(sorted(labels.items())))
    samples = {(n, tuple(sorted(l))): v for (n, l), v in families[family]["samples"].items()}
    return samples.get(key, 0.0)


def get(node, path, headers=None):
    request = urllib.request.Request(node.url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="module")
def own_node(tmp_path_factory):
    """A node of this module's own, so that counters move only with what these tests do."""
    n = Node(workdir=tmp_path_factory.mktemp("routes") / "node").init().start()
    yield n
    n.stop()


def test_health(own_node):
    own_node.wait_block(1)
    status, headers, body = get(own_node, "/health")
    assert status == 200 and headers["Content-Type"] == "application/json"
    health = json.loads(body)
    assert set(health) == {"status", "headNumber", "headHash", "headAgeSeconds", "peers", "syncing"}
    assert health["status"] == "ok" and health["peers"] == 0 and health["syncing"] is False
    head = own_node.result("eth_getBlockByNumber", [hex(health["headNumber"]), False])
    assert head["hash"] == health["headHash"]
    assert 0 <= health["headAgeSeconds"] <= 5


def test_metrics_parse_and_move_after_a_transaction(own_node):
    status, headers, body = get(own_node, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    before = parse_metrics(body.decode())
    for family, kind in [("opg_chain_height", "gauge"), ("opg_txpool_pending", "gauge"), ("opg_txpool_queued", "gauge"),
                         ("opg_peers", "gauge"), ("opg_rpc_requests_total", "counter"),
                         ("opg_rpc_request_duration_seconds", "histogram"), ("opg_transactions_included_total", "counter"),
                         ("opg_blocks_produced_total", "counter"), ("opg_chain_head_age_seconds", "gauge")]:
        assert before[family]["type"] == kind, family
    assert value(before, "opg_peers") == 0

    w3 = own_node.web3()
    account = DEV_ACCOUNTS[1]
    queued = sign(account, w3, nonce=w3.eth.get_transaction_count(account.address) + 1)  # a nonce gap: queued
    w3.eth.send_raw_transaction(queued.raw_transaction)
    middle = parse_metrics(get(own_node, "/metrics")[2].decode())
    assert value(middle, "opg_txpool_queued") == value(before, "opg_txpool_queued") + 1
    assert value(middle, "opg_rpc_requests_total", method="eth_sendRawTransaction") == \
        value(before, "opg_rpc_requests_total", method="eth_sendRawTransaction") + 1
    closing = sign(account, w3, nonce=w3.eth.get_transaction_count(account.address))
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(closing.raw_transaction), timeout=20)
    own_node.wait_block(receipt.blockNumber + 2)

    after = parse_metrics(get(own_node, "/metrics")[2].decode())
    assert value(after, "opg_chain_height") > value(before, "opg_chain_height")
    assert value(after, "opg_transactions_included_total") >= value(before, "opg_transactions_included_total") + 2
    assert value(after, "opg_txpool_queued") == value(before, "opg_txpool_queued")
    sends = value(after, "opg_rpc_request_duration_seconds", "opg_rpc_request_duration_seconds_count", method="eth_sendRawTransaction")
    assert sends == value(before, "opg_rpc_requests_total", method="eth_sendRawTransaction") + 2
    assert value(after, "opg_rpc_requests_total", method="eth_blockNumber") > 0


def test_unknown_methods_share_one_label(own_node):
    own_node.rpc("no_such_method_1")
    own_node.rpc("no_such_method_2")
    families = parse_metrics(get(own_node, "/metrics")[2].decode())
    methods = {dict(l)["method"] for (_, l) in families["opg_rpc_requests_total"]["samples"]}
    assert "unknown" in methods and not any(m.startswith("no_such") for m in methods)


def test_unknown_paths_get_404_and_json_rpc_is_unchanged(own_node):
    status, _, body = get(own_node, "/no/such/page")
    assert status == 404 and b"no route for /no/such/page" in body
    status, headers, body = get(own_node, "/")
    assert status == 200 and b"opg explorer" in body, "GET / is the explorer (docs/explorer.md)"
    assert own_node.result("eth_chainId") == hex(own_node.web3().eth.chain_id)


def test_strict_parser_refuses_bad_pages():
    good = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"
    parse_metrics(good)
    for bad in ["a_total 1\n", good + good, good.rstrip("\n"), "# HELP a A.\n# TYPE a gauge\na{x=\"1\"} one\n",
                "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n"]:
        with pytest.raises(AssertionError):
            parse_metrics(bad)
