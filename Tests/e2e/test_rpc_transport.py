"""JSON-RPC 2.0 framing over HTTP: batches, notifications, errors, limits; the node keeps serving."""
import requests


def post(node, body, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return requests.post(node.url, data=body, headers=h, timeout=10)


def still_serving(node):
    assert post(node, '{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]}').json()["id"] == 7


def test_batch_answers_each_element(node):
    r = post(node, '[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},'
                   '{"jsonrpc":"2.0","id":"two","method":"no_such_method","params":[]},'
                   '{"foo":"bar"},'
                   '{"jsonrpc":"2.0","method":"eth_blockNumber","params":[]}]')
    assert r.status_code == 200
    body = r.json()
    assert isinstance(body, list) and len(body) == 3, "the notification gets no answer"
    by_id = {str(e.get("id")): e for e in body}
    assert "result" in by_id["1"]
    assert by_id["two"]["error"]["code"] == -32601
    assert by_id["None"]["error"]["code"] == -32600
    still_serving(node)


def test_empty_batch_is_one_error(node):
    body = post(node, "[]").json()
    assert isinstance(body, dict) and body["error"]["code"] == -32600 and body["id"] is None


def test_notification_only_gets_no_body(node):
    r = post(node, '{"jsonrpc":"2.0","method":"eth_chainId","params":[]}')
    assert r.status_code in (200, 204) and r.content.strip() == b""
    r = post(node, '[{"jsonrpc":"2.0","method":"eth_chainId","params":[]}]')
    assert r.content.strip() == b""


def test_malformed_json(node):
    for bad in ['{"jsonrpc":"2.0",', "nonsense", '{"jsonrpc":"2.0","id":1,"method":"eth_chainId",}', "\xff\xfe"]:
        r = post(node, bad.encode("latin-1"))
        assert r.status_code == 200
        assert r.json()["error"]["code"] == -32700 and r.json()["id"] is None
    still_serving(node)


def test_invalid_requests_and_params(node):
    assert post(node, '{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}').json()["error"]["code"] == -32600
    assert post(node, '{"jsonrpc":"2.0","id":1,"method":5}').json()["error"]["code"] == -32600
    bad_params = post(node, '{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x12","latest"]}').json()
    assert bad_params["error"]["code"] == -32602
    bad_tag = post(node, '{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["tomorrow",false]}').json()
    assert bad_tag["error"]["code"] == -32602
    leading_zero = post(node, '{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x01",false]}').json()
    assert leading_zero["error"]["code"] == -32602
    still_serving(node)


def test_oversized_request(node):
    big = '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["' + "a" * (2 * 1024 * 1024) + '"]}'
    r = post(node, big)
    assert r.status_code == 413
    still_serving(node)


def test_http_method_and_cors(node):
    assert requests.get(node.url, timeout=5).status_code == 200  # GET / is the explorer (docs/explorer.md)
    assert requests.put(node.url, data="{}", timeout=5).status_code == 405
    pre = requests.options(node.url, headers={"Origin": "https://explorer.example",
                                              "Access-Control-Request-Method": "POST"}, timeout=5)
    assert pre.headers.get("Access-Control-Allow-Origin") == "https://explorer.example"
    r = post(node, '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}', {"Origin": "https://explorer.example"})
    assert r.headers.get("Access-Control-Allow-Origin") == "https://explorer.example"
    r = post(node, '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}', {"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    still_serving(node)
