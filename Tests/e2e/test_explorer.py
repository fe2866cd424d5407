"""The explorer at `/` (docs/explorer.md) in a real browser: Debian's headless Chromium,
driven by selenium through Debian's chromedriver, against a node of its own after a
workload (transfers, a model upload, inferences by the precompile and the hub). Every page
is checked against JSON-RPC, search finds each kind of id, the page works by keyboard and on
a phone-sized screen, and the browser logs no console error. Screenshots are kept in
.build/test-artifacts/explorer. Also: the static files' gzip variants, ETags and Vary; the
address index (opg_getTransactionsByAddress) and opg_decodeTransaction against web3.py's
own decoding."""
import gzip
import json
from pathlib import Path

import pytest
import requests
from web3 import Web3

from opgnode import DEV_ACCOUNTS, GENESIS, ROOT, Node, run, sign
from test_inference import FIXTURES, OPG, fixture, hub, model_input, precompile, send

ARTIFACTS = ROOT / ".build" / "test-artifacts" / "explorer"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
RECIPIENT = Web3.to_checksum_address("0x" + "ab" * 20)


@pytest.fixture(scope="module")
def explorer_node():
    n = Node(block_interval_ms=200).init().start()
    yield n
    n.stop()


@pytest.fixture(scope="module")
def workload(explorer_node):
    """Three transfers to RECIPIENT, digits_mlp uploaded, one inference by the precompile
    (DEV_ACCOUNTS[2]) and one by the hub (DEV_ACCOUNTS[3])."""
    import models

    w3 = explorer_node.web3()
    sender = DEV_ACCOUNTS[1]
    transfers = []
    for value in (10**18, 2 * 10**18, 5 * 10**17):
        signed = sign(sender, w3, to=RECIPIENT, value=value)
        w3.eth.send_raw_transaction(signed.raw_transaction)
        transfers.append(signed.hash.to_0x_hex())
    for h in transfers:
        w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.05)
    ids = models.upload_model(w3, DEV_ACCOUNTS[4], FIXTURES / "digits_mlp.onnx", name="digits_mlp", description="explorer test model")
    _, input_name, array = fixture("digits_mlp")
    runs = []
    for account, fn in ((DEV_ACCOUNTS[2], precompile(w3).functions.runModelInference((0, ids["cid_v0"], model_input(input_name, array)))),
                        (DEV_ACCOUNTS[3], hub(w3).functions.run(ids["cid_v0"], 0, model_input(input_name, array)))):
        receipt = send(w3, account, fn, fn.estimate_gas({"from": account.address}))
        (event,) = precompile(w3).events.ModelInferenceEvent().process_receipt(receipt)
        runs.append({"receipt": receipt, "id": event.args.inferenceID, "caller": account.address})
    return {"transfers": transfers, "sender": sender.address, "model": ids, "runs": runs}


def headless_chromium(artifacts: Path):
    """Debian's chromium, headless, driven by selenium, keeping the console log; screenshots go to `artifacts`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        assert Path(path).exists(), f"{path} is missing: `make test` installs Debian's chromium and chromium-driver (make browser-deps)"
    artifacts.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium(ARTIFACTS)  # test_verification_stats.py adds its pages' screenshots
    yield driver
    driver.quit()


class Page:
    """The explorer in the browser, with the node behind it."""

    def __init__(self, driver, node):
        self.driver, self.node = driver, node

    def open(self, route: str, name: str | None = None):
        self.driver.get(f"{self.node.url}/{route}")
        self.wait_rendered(route)
        if name:
            self.driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
        return self

    def wait_rendered(self, route: str):
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 20).until(
            lambda d: d.execute_script("const m = document.getElementById('main');"
                                       "return m.dataset.rendered === arguments[0] && m.getAttribute('aria-busy') === 'false'", route),
            f"{route} never rendered")

    def field(self, name: str) -> str:
        return self.driver.execute_script("return document.querySelector('[data-field=\"' + arguments[0] + '\"]').textContent", name)

    def rows(self, table_id: str) -> list[list[str]]:
        return self.driver.execute_script(
            "return [...document.querySelectorAll('#' + arguments[0] + ' tbody tr')].map(r => [...r.cells].map(c => c.textContent))", table_id)

    def links(self, table_id: str) -> list[str]:
        return self.driver.execute_script(
            "return [...document.querySelectorAll('#' + arguments[0] + ' tbody a')].map(a => a.getAttribute('href'))", table_id)

    def title(self) -> str:
        return self.driver.execute_script("return document.querySelector('main h1').textContent")

    def console_errors(self) -> list:
        return [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def page(browser, explorer_node, workload):
    p = Page(browser, explorer_node)
    yield p
    assert p.console_errors() == [], "the explorer logged errors in the browser's console"


def result(node, method, *params):
    return node.result(method, list(params))


def opg(wei: int) -> str:
    whole, frac = divmod(wei, 10**18)
    frac_text = f"{frac:018d}".rstrip("0")
    return f"{whole}.{frac_text} OPG" if frac_text else f"{whole} OPG"


# ---- HTTP side: routes, gzip, ETag --------------------------------------------------------

@pytest.mark.parametrize("path,media", [("/", "text/html"), ("/explorer/explorer.js", "text/javascript"), ("/explorer/explorer.css", "text/css"),
                                        ("/chat", "text/html"), ("/explorer/chat.js", "text/javascript"), ("/explorer/chat.css", "text/css")])
def test_static_files_gzip_etag_and_vary(explorer_node, path, media):
    url = explorer_node.url + path
    plain = requests.get(url, headers={"Accept-Encoding": "identity"})
    packed = requests.get(url, headers={"Accept-Encoding": "br, gzip;q=0.8"}, stream=True)
    raw = packed.raw.read(decode_content=False)
    assert plain.status_code == packed.status_code == 200
    assert plain.headers["Content-Type"].startswith(media) and "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip" and len(raw) < len(plain.content)
    assert gzip.decompress(raw) == plain.content, "the committed .gz is stale: run `make explorer-assets`"
    assert plain.headers["Vary"] == packed.headers["Vary"] == "Accept-Encoding"
    assert plain.headers["ETag"] != packed.headers["ETag"], "each representation has its own strong tag"
    for headers in ({"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]},
                    {"Accept-Encoding": "identity", "If-None-Match": plain.headers["ETag"]}):
        again = requests.get(url, headers=headers)
        assert again.status_code == 304 and again.content == b""
    stale = requests.get(url, headers={"Accept-Encoding": "gzip;q=0", "If-None-Match": packed.headers["ETag"]})
    assert stale.status_code == 200 and "Content-Encoding" not in stale.headers, "gzip;q=0 refuses gzip"


def test_libraries_come_from_debian_and_json_rpc_keeps_post(explorer_node):
    chart = requests.get(explorer_node.url + "/explorer/lib/chart.js")
    assert chart.status_code == 200, "make test installs libjs-chart.js"
    assert chart.content == Path("/usr/share/javascript/chart.js/chart.min.js").read_bytes()
    network = requests.get(explorer_node.url + "/explorer/network.json").json()
    assert network["chainId"] == int(result(explorer_node, "eth_chainId"), 16) and network["epochBlocks"] > 0
    assert network["networkName"] == json.loads(GENESIS.read_text())["networkName"] == "opg-devnet"
    assert network["nativeCurrency"] == {"name": "OPG", "symbol": "OPG", "decimals": 18}
    assert {m["name"] for m in network["modules"]} >= {"Notary", "ModelRegistry", "InferencePrecompile", "InferenceHub", "Staking", "Supply"}
    assert explorer_node.result("eth_blockNumber").startswith("0x"), "POST / stays JSON-RPC"


def test_a_missing_library_is_refused_with_the_package_to_install(tmp_path):
    n = Node(workdir=tmp_path / "node", extra_config={"explorer": {"javascriptDir": str(tmp_path / "empty")}}).init().start()
    try:
        r = requests.get(n.url + "/explorer/lib/chart.js")
        assert r.status_code == 404 and b"libjs-chart.js" in r.content and b"explorer.javascriptDir" in r.content
        assert "explorer library missing" in n.log_file.read_text()
        assert requests.get(n.url + "/").status_code == 200, "the explorer itself still loads"
    finally:
        n.stop()


def test_metrics_count_inference_calls_and_gas(explorer_node, workload):
    records = [result(explorer_node, "opg_getInference", r["id"]) for r in workload["runs"]]
    page = requests.get(explorer_node.url + "/metrics").text
    samples = dict(line.rsplit(" ", 1) for line in page.splitlines() if line and not line.startswith("#"))
    assert int(samples["opg_inference_calls_total"]) == len(records) == 2
    assert int(samples["opg_inference_gas_total"]) == sum(r["gas"] for r in records) > 0


# ---- RPC the explorer adds ---------------------------------------------------------------

def test_address_index_pages_newest_first(explorer_node, workload):
    sender = workload["sender"]
    everything = result(explorer_node, "opg_getTransactionsByAddress", sender)
    hashes = [i["hash"] for i in everything["items"]]
    assert hashes[:3] == list(reversed(workload["transfers"])) and everything["nextCursor"] is None
    received = [i["hash"] for i in result(explorer_node, "opg_getTransactionsByAddress", RECIPIENT)["items"]]
    assert received == list(reversed(workload["transfers"])), "the recipient is indexed too"
    walked, cursor = [], None
    while True:
        page = result(explorer_node, "opg_getTransactionsByAddress", sender, cursor, "0x1")
        walked += [i["hash"] for i in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert walked == hashes
    for item in everything["items"]:
        tx = result(explorer_node, "eth_getTransactionByHash", item["hash"])
        assert (tx["blockNumber"], tx["transactionIndex"]) == (item["blockNumber"], item["transactionIndex"])
    body = explorer_node.rpc("opg_getTransactionsByAddress", [sender, None, "0x0"])
    assert body["error"]["code"] == -32602 and "limit 0 is not in 1…100" in body["error"]["message"]
    assert explorer_node.rpc("opg_getTransactionsByAddress", ["0x12"])["error"]["code"] == -32602


def test_decode_transaction_agrees_with_web3(explorer_node, workload):
    w3 = explorer_node.web3()
    run_ = workload["runs"][0]
    decoded = result(explorer_node, "opg_decodeTransaction", run_["receipt"].transactionHash.to_0x_hex())
    assert decoded["call"]["module"] == "InferencePrecompile" and decoded["call"]["function"] == "runModelInference"
    tx = w3.eth.get_transaction(run_["receipt"].transactionHash)
    _, args = precompile(w3).decode_function_input(tx["input"])
    ours, theirs = decoded["call"]["arguments"]["request"], args["request"]
    assert ours["modelCID"] == theirs["modelCID"] == workload["model"]["cid_v0"] and ours["mode"] == str(theirs["mode"])
    (tensor,) = theirs["input"]["numbers"]
    assert ours["input"]["numbers"][0]["values"] == [{"value": str(v["value"]), "decimals": str(v["decimals"])} for v in tensor["values"]]
    assert ours["input"]["numbers"][0]["shape"] == [str(d) for d in tensor["shape"]]
    (event,) = [e for e in decoded["events"] if e and e.get("event") == "ModelInferenceEvent"]
    assert event["arguments"]["inferenceID"] == run_["id"]
    transfer = result(explorer_node, "opg_decodeTransaction", workload["transfers"][0])
    assert transfer["call"] is None and transfer["events"] == []
    assert result(explorer_node, "opg_decodeTransaction", "0x" + "00" * 32) is None


# ---- pages ---------------------------------------------------------------------------------

def test_overview(page, explorer_node):
    head = int(result(explorer_node, "eth_blockNumber"), 16)
    page.open("#/", "overview")
    assert int(page.field("head")) >= head
    assert page.field("chainId") == str(int(result(explorer_node, "eth_chainId"), 16))
    latest = page.rows("latest-blocks")
    assert len(latest) == 10 and int(latest[0][0]) >= head


def test_block_page(page, explorer_node, workload):
    receipt = explorer_node.web3().eth.get_transaction_receipt(workload["transfers"][0])
    block = result(explorer_node, "eth_getBlockByNumber", hex(receipt.blockNumber), False)
    page.open(f"#/block/{receipt.blockNumber}", "block")
    assert page.field("number") == str(receipt.blockNumber) and page.field("hash") == block["hash"]
    assert page.field("transactionCount") == str(len(block["transactions"]))
    assert f"#/tx/{workload['transfers'][0]}" in page.links("block-transactions")


def test_transfer_page(page, explorer_node, workload):
    h = workload["transfers"][1]
    tx = result(explorer_node, "eth_getTransactionByHash", h)
    receipt = result(explorer_node, "eth_getTransactionReceipt", h)
    page.open(f"#/tx/{h}", "transfer")
    assert page.field("hash") == h and page.field("status") == "success"
    assert page.field("value") == opg(2 * 10**18) == opg(int(tx["value"], 16))
    assert page.field("gasUsed") == str(int(receipt["gasUsed"], 16)) and page.field("nonce") == str(int(tx["nonce"], 16))
    assert page.field("call") == "Plain transfer (no input)."


def test_module_call_page_decodes_call_and_events(page, workload):
    run_ = workload["runs"][1]
    page.open(f"#/tx/{run_['receipt'].transactionHash.to_0x_hex()}", "hub-call")
    assert page.field("call").startswith("InferenceHub.run ")
    assert page.driver.execute_script("return document.querySelector('[data-event=\"ModelInferenceEvent\"]') !== null")
    assert page.field("inference") == run_["id"]


def test_address_page(page, explorer_node, workload):
    sender = workload["sender"]
    page.open(f"#/address/{sender}", "address")
    assert page.field("balance") == opg(int(result(explorer_node, "eth_getBalance", sender, "latest"), 16))
    assert page.field("nonce") == str(int(result(explorer_node, "eth_getTransactionCount", sender, "latest"), 16))
    expected = [f"#/tx/{i['hash']}" for i in result(explorer_node, "opg_getTransactionsByAddress", sender, None, "0x19")["items"]]
    assert [l for l in page.links("address-transactions") if l.startswith("#/tx/")] == expected


def test_models_and_model_page(page, explorer_node, workload):
    cid = workload["model"]["cid_v0"]
    page.open("#/models", "models")
    assert f"#/model/{cid}" in page.links("models")
    model = result(explorer_node, "opg_getModel", cid)
    page.open(f"#/model/{cid}", "model")
    assert page.field("sha256") == model["sha256"] and page.field("name") == "digits_mlp"
    assert page.field("cost").startswith(f"{model['cost']['macs']} MACs")
    calls = result(explorer_node, "opg_getInferencesByModel", cid)["items"]
    assert [l for l in page.links("model-calls") if l.startswith("#/inference/")] == [f"#/inference/{c['id']}" for c in calls]
    assert len(calls) == 2


def test_inference_page_and_its_verify_command(page, explorer_node, workload):
    run_ = workload["runs"][0]
    record = result(explorer_node, "opg_getInference", run_["id"])
    page.open(f"#/inference/{run_['id']}", "inference")
    assert page.field("outputHash") == record["outputHash"] and page.field("inputHash") == record["inputHash"]
    command = page.driver.execute_script("return document.getElementById('verify-command').textContent")
    tx_hash = record["transactionHash"]
    assert command == f"opg inference verify --rpc {explorer_node.url} {tx_hash}"
    argv = command.split()
    out = run([OPG] + argv[1:], check=True).stdout
    assert f"verified {run_['id']}" in out, "the pasted command re-checks the record"


def test_operators_page(page, explorer_node):
    page.open("#/operators", "operators")
    operators = result(explorer_node, "opg_listOperators", {"limit": "0x32"})["items"]
    shown = page.rows("operators")
    assert len(shown) == max(1, len(operators))
    validators = result(explorer_node, "opg_getValidators", "latest")
    assert page.field("totalPower") == str(validators["totalPower"])
    assert len(page.rows("validators")) == max(1, len(validators["validators"]))


def test_jobs_page_says_what_is_missing(page, explorer_node):
    page.open("#/jobs", "jobs")
    body = explorer_node.rpc("opg_listJobs", [])
    text = page.driver.find_element("id", "main").text
    if body.get("error", {}).get("code") == -32601:
        assert "no Jobs module yet" in text
    else:
        assert len(page.rows("jobs")) == max(1, len(body["result"]["items"]))


def test_vital_signs(page, explorer_node):
    page.open("#/vitals", "vitals")
    assert page.driver.execute_script("return typeof window.Chart === 'function'"), "Chart.js from libjs-chart.js loaded"
    assert page.driver.execute_script("return document.querySelectorAll('canvas').length") == 5
    # One snapshot: the page re-renders with every block.
    text, calls, rows = page.driver.execute_script(
        "return [document.getElementById('main').textContent, document.querySelector('[data-field=\"calls\"]').textContent,"
        " [...document.querySelectorAll('#epochs tbody tr')].map(r => [...r.cells].map(c => c.textContent))]")
    first = int(text.split("from block ")[1].split(" ")[0])
    last = int(text.split("to the head (")[1].split(")")[0])
    stats = result(explorer_node, "opg_verificationStats", hex(first), hex(last))["total"]
    inferences = result(explorer_node, "opg_inferenceStats", hex(first), hex(last))
    assert calls == str(stats["calls"]) and stats["inferenceCalls"] == inferences["calls"] >= 2 and stats["jobs"] == 0
    assert sum(int(r[2]) for r in rows) == stats["calls"] == sum(int(r[6]) for r in rows)
    assert max(int(r[4]) for r in rows) <= stats["uniqueCallers"] == inferences["uniqueCallers"] == 2
    assert sum(int(r[1]) for r in rows) == last - first + 1


def test_search_finds_every_kind_of_id(page, workload):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    run_ = workload["runs"][0]
    block = run_["receipt"].blockNumber
    cases = [(str(block), f"#/block/{block}"), (workload["transfers"][0], f"#/tx/{workload['transfers'][0]}"),
             (workload["sender"], f"#/address/{workload['sender']}"), (workload["model"]["cid_v1"], f"#/model/{workload['model']['cid_v0']}"),
             (workload["model"]["sha256"], f"#/model/{workload['model']['cid_v0']}"), (run_["id"], f"#/inference/{run_['id']}")]
    page.open("#/")
    for query, route in cases:
        box = page.driver.find_element(By.ID, "search-input")
        box.clear()
        box.send_keys(query, Keys.ENTER)
        page.wait_rendered(route)
    box = page.driver.find_element(By.ID, "search-input")
    box.clear()
    box.send_keys("no such thing", Keys.ENTER)
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(page.driver, 10).until(lambda d: d.find_elements(By.ID, "not-found"))


def test_keyboard_reaches_every_section(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    def fresh_page():
        page.open("#/")
        page.driver.refresh()  # focus starts at the top of the document again
        page.wait_rendered("#/")

    def tab() -> str:
        ActionChains(page.driver).send_keys(Keys.TAB).perform()
        return page.driver.execute_script("const e = document.activeElement; return e.getAttribute('href') || e.id || e.tagName")

    fresh_page()
    focused = [tab() for _ in range(12)]
    assert focused[0] == "#main", "the first Tab reaches the skip link"
    assert {"search-input", "#/blocks", "#/models", "#/operators", "#/jobs", "#/vitals"} <= set(focused)
    fresh_page()
    for _ in range(focused.index("#/models") + 1):
        tab()
    ActionChains(page.driver).send_keys(Keys.ENTER).perform()
    page.wait_rendered("#/models")


def test_phone_sized_screen(page, workload):
    page.driver.set_window_size(390, 844)
    try:
        for route, name in (("#/", "phone-overview"), (f"#/tx/{workload['runs'][0]['receipt'].transactionHash.to_0x_hex()}", "phone-call"),
                            (f"#/model/{workload['model']['cid_v0']}", "phone-model")):
            page.open(route, name)
            width = page.driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], f"{route} scrolls sideways on a phone: {width}"
    finally:
        page.driver.set_window_size(1280, 900)


def test_live_refresh_follows_new_blocks(page, explorer_node):
    from selenium.webdriver.support.ui import WebDriverWait

    page.open("#/blocks")
    first = int(page.rows("blocks")[0][0])
    WebDriverWait(page.driver, 15).until(lambda d: int(page.rows("blocks")[0][0]) > first, "the block list did not follow the head")
    assert page.driver.execute_script("return document.getElementById('live').textContent").startswith("live · block")
