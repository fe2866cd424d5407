"""The chat page at /chat (docs/chat.md, "The chat page") in Debian's headless Chromium, and
the provider's token stream (docs/daemons.md, "Streaming an answer"), against `opgd dev` (the
only command that enables the dev signer) with the chat model registered, a provider and three
verifiers running as real daemons:

- the page shows the notice and the fee, sends a message signed by the dev signer, streams the
  answer's tokens from the provider before the job is final, shows the committed answer, and
  its badge reaches verified and then final; its link opens the explorer's job page; no
  console error; screenshots in .build/test-artifacts/chat;
- the provider's stream gives the committed output's tokens and hash; `opg chat` prints the
  streamed preview before the committed answer;
- the page served by a second node (an `opgd start` node following the devnet over P2P, with no
  dev signer, signing through a wallet) streams the answer from the provider, which announced its
  endpoint only to the devnet node, and its badge reaches verified;
- provider endpoint announcements are signed and checked; the dev signer is refused by
  `opgd start` and absent (geth's errors) on a node it started.

Answers are capped at 16 tokens ("The capital of France is Paris." is 8)."""
import json
import re
import subprocess
import time

import pytest
import requests
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from opgnode import BIN, DEV_ACCOUNTS, GENESIS, ROOT, Node, run
from test_chat_job import ANSWER, ANSWER_IDS, MODEL, OPG, PROVIDER, QUESTION, TOKENIZER, VERIFIERS, register_and_stake, requester_keystore
from test_daemons import Daemon
from test_explorer import Page, headless_chromium
from test_jobs import ETHER

ARTIFACTS = ROOT / ".build" / "test-artifacts" / "chat"
CHAT_JS = ROOT / "Sources" / "Node" / "Explorer" / "chat.js"
PAGE_ACCOUNT = DEV_ACCOUNTS[9]  # the page's default dev account


class DevCommandNode(Node):
    """`opgd dev` (not `opgd start`): the devnet command, which enables the dev signer."""

    def __init__(self, workdir, genesis):
        super().__init__(workdir=workdir)
        self.genesis = genesis

    def start(self, wait: bool = True):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([str(BIN / "opgd"), "dev", "--datadir", str(self.datadir), "--genesis", str(self.genesis),
                                      "--port", str(self.port), "--block-interval-ms", "200", "--p2p-port", "0"],
                                     stdout=open(self.log_file, "ab"), stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def p2p_peer(self):
        """The devnet as a peer to follow (`opgd dev` prints it once it answers)."""
        line = wait_for(lambda: next((l for l in self.log_file.read_text().splitlines() if l.startswith("P2P peer: ")), None),
                        timeout=10, what="opgd dev's P2P peer line")
        return line.split()[2]


def follower(work, genesis, peer):
    """An `opgd start` node with no validator key (so no dev signer) that follows `peer`; its
    consensus key is a fresh one in no validator set."""
    node = Node(workdir=work, extra_config={"genesis": str(genesis), "p2p": {"persistentPeers": [peer]}})
    del node.config["validatorKeyFile"]
    node.init()
    (node.datadir / "consensus").mkdir()
    (node.datadir / "consensus" / "consensus_key").write_text(bytes(Account.create().key).hex() + "\n")
    return node.start()


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    work = tmp_path_factory.mktemp("chatpage")
    genesis = json.loads(GENESIS.read_text())
    genesis["staking"] = {"epochBlocks": 4, "providerMinStake": str(10 * ETHER), "verifierMinStake": str(5 * ETHER)}
    # A challenge window of 10 blocks (2 s) so the page shows "verified at quorum" before "final";
    # 2-minute windows for the rest (the daemons load the 542 MB model on their first job, slowly on a loaded machine).
    genesis["jobs"] = {"acceptBlocks": 600, "attestCommitBlocks": 600, "attestRevealBlocks": 600, "challengeBlocks": 10, "committeeSize": 3}
    (work / "genesis.json").write_text(json.dumps(genesis))
    node = DevCommandNode(work / "node", work / "genesis.json").start()
    daemons, second = [], None
    try:
        # Following from block 0, the second node knows the provider by the time it announces.
        second = follower(work / "second", work / "genesis.json", node.p2p_peer())
        register_and_stake(node, node.web3())
        files = {"chat": {"modelFile": str(MODEL), "tokenizerFile": str(TOKENIZER)}}
        daemons = [Daemon(work, "provider", PROVIDER, **files).start(node)]
        daemons += [Daemon(work, "verifier", v, **files).start(node) for v in VERIFIERS]
        wait_for(lambda: node.result("opg_getProviderEndpoint", [PROVIDER.address]), what="the provider's announcement")
        yield {"node": node, "second": second, "work": work, "daemons": daemons}
    finally:
        for d in daemons:
            d.stop()
        if second:
            second.stop()
        node.stop()


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium(ARTIFACTS)
    yield driver
    driver.quit()


def wait_for(probe, timeout=120, what="the devnet"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := probe():
            return value
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not get there in {timeout} s")


def dataset(driver, selector, key):
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.dataset[arguments[1]] ?? null : null", selector, key)


def text_of(driver, selector):
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.textContent : null", selector)


def stream_events(url, timeout=60):
    """The events of a server-sent event stream, until the server ends it."""
    events, name, data = [], "message", []
    with requests.get(url, stream=True, timeout=timeout, headers={"Accept": "text/event-stream", "Origin": "http://page.example"}) as response:
        assert response.status_code == 200 and response.headers["Content-Type"] == "text/event-stream"
        assert response.headers["Access-Control-Allow-Origin"] == "*", "any page may read the stream"
        for line in response.iter_lines(decode_unicode=True):
            if line == "":
                if data:
                    events.append((name, json.loads("\n".join(data))))
                name, data = "message", []
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
    return events


def test_the_page_streams_an_answer_that_reaches_verified_and_links_to_the_explorer(devnet, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    node = devnet["node"]
    browser.get(node.url + "/chat")
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.body.dataset.ready") is not None)
    assert browser.execute_script("return document.body.dataset.ready") == "true", text_of(browser, "#problem")
    notice = " ".join(text_of(browser, "#notice").split())
    assert "Messages become public on chain" in notice and "often wrong on facts and arithmetic" in notice
    assert text_of(browser, "#signer") == "devnet: signing with the node's dev signer (public keys)"
    assert Select(browser.find_element(By.ID, "account")).first_selected_option.text == PAGE_ACCOUNT.address
    box = browser.find_element(By.ID, "message")
    box.send_keys(QUESTION)
    Select(browser.find_element(By.ID, "max-tokens")).select_by_value("16")
    WebDriverWait(browser, 10).until(lambda d: dataset(d, "#fee", "gas") and "Fee per message: 1.1 OPG" in text_of(d, "#fee"))
    assert int(dataset(browser, "#fee", "gas")) > 21000
    browser.save_screenshot(str(ARTIFACTS / "chat-ready.png"))

    balance = int(node.result("eth_getBalance", [PAGE_ACCOUNT.address, "latest"]), 16)
    box.send_keys(Keys.CONTROL, Keys.ENTER)  # the keyboard sends
    fast = WebDriverWait(browser, 180, poll_frequency=0.05)
    fast.until(lambda d: dataset(d, ".turn.assistant", "streamedTokens"), "no token was streamed")
    assert dataset(browser, ".turn.assistant", "firstTokenBadge") == "pending", \
        f"the first token came before the answer was committed ({text_of(browser, '.turn.assistant')}; {text_of(browser, '#problem')}; {browser.get_log('browser')})"
    job_id = dataset(browser, ".turn.assistant", "jobId")
    assert node.result("opg_getJob", [job_id])["status"] not in ("challengeWindow", "finalized")
    browser.save_screenshot(str(ARTIFACTS / "chat-streaming.png"))

    states = []
    fast.until(lambda d: states.append(dataset(d, ".badge", "state")) or states[-1] == "final", f"the badge stopped at {states[-1:]}")
    assert "verified" in states, "the badge showed verified at quorum before final"
    assert [s for s in dict.fromkeys(states) if s != "pending"] == ["answered", "verified", "final"]
    assert text_of(browser, ".badge") == "final · verified (re-executed bit for bit)"
    assert text_of(browser, ".turn.assistant .text") == ANSWER
    streamed = [int(t) for t in dataset(browser, ".turn.assistant", "streamedTokens").split(",")]
    committed = [int(t) for t in dataset(browser, ".turn.assistant", "committedTokens").split(",")]
    assert streamed == committed == ANSWER_IDS
    job = node.result("opg_getJob", [job_id])
    assert job["requester"] == PAGE_ACCOUNT.address and job["label"] == "verified" and job["modelId"] == "QmRKDnhryJNa55zSzdVGS6djodxMjULCekyAC7gkKZ4mCt"
    assert int(node.result("eth_getBalance", [PAGE_ACCOUNT.address, "latest"]), 16) < balance, "the dev signer paid from the page's account"
    browser.save_screenshot(str(ARTIFACTS / "chat-verified.png"))

    link = browser.find_element(By.CSS_SELECTOR, ".turn.assistant a.job-link")
    assert link.get_attribute("href") == f"{node.url}/#/job/{job_id}"
    link.send_keys(Keys.ENTER)
    explorer = Page(browser, node)
    explorer.wait_rendered(f"#/job/{job_id}")
    assert explorer.field("jobId") == job_id and explorer.field("label") == "verified"
    browser.save_screenshot(str(ARTIFACTS / "chat-job-in-explorer.png"))
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == [], "the chat page logged errors"


def test_the_page_fits_a_phone_screen_and_shows_its_controls(devnet, browser):
    browser.set_window_size(390, 844)
    try:
        browser.get(devnet["node"].url + "/chat")
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.body.dataset.ready") == "true")
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
        browser.save_screenshot(str(ARTIFACTS / "chat-phone.png"))
    finally:
        browser.set_window_size(1280, 900)


def test_the_fees_are_the_users_choice_and_go_into_the_request(devnet, browser):
    """The max fee and the verification fee default to 1 and 0.1 OPG; a field that is not an
    amount (or a zero max fee) is named with its rule and sending is off; the escrow shown follows
    the fields as they are typed, and the job requested holds the fees chosen."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    node = devnet["node"]
    browser.get(node.url + "/chat")
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.body.dataset.ready") == "true")
    max_fee, verification_fee = browser.find_element(By.ID, "max-fee"), browser.find_element(By.ID, "verification-fee")
    assert (max_fee.get_attribute("value"), verification_fee.get_attribute("value")) == ("1", "0.1")
    WebDriverWait(browser, 10).until(lambda d: dataset(d, "#fee", "gas"))
    assert dataset(browser, "#fee", "escrow") == str(11 * ETHER // 10)

    def typed(field, text):
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(Keys.DELETE)
        field.send_keys(text)
        return text_of(browser, "#fee-problem"), browser.execute_script("return document.getElementById('send').disabled")

    assert typed(max_fee, "") == ("Max fee: enter an amount in OPG, e.g. 0.5", True)
    assert typed(max_fee, "1,5") == ('Max fee: "1,5" is not an amount in OPG (digits, a point, at most 18 decimals)', True)
    assert max_fee.get_attribute("aria-invalid") == "true"
    assert typed(max_fee, "0") == ("Max fee: must be above 0 OPG (the provider is paid from it)", True)
    assert text_of(browser, "#fee") == "Fee: set valid fees to send."
    assert typed(max_fee, "0.5") == ("", False)
    assert typed(verification_fee, "0." + "1" * 19)[0] == f'Verification fee: "0.{"1" * 19}" is not an amount in OPG (digits, a point, at most 18 decimals)'
    assert verification_fee.get_attribute("aria-invalid") == "true"
    assert typed(verification_fee, "0.25") == ("", False)
    # The escrow follows at once, before the gas estimate comes back.
    assert dataset(browser, "#fee", "escrow") == str(75 * ETHER // 100)
    assert text_of(browser, "#fee").startswith("Fee per message: 0.75 OPG held with the job — at most 0.5 OPG to the provider")
    browser.save_screenshot(str(ARTIFACTS / "chat-fees.png"))

    browser.find_element(By.ID, "message").send_keys(QUESTION)
    Select(browser.find_element(By.ID, "max-tokens")).select_by_value("16")
    browser.find_element(By.ID, "message").send_keys(Keys.CONTROL, Keys.ENTER)
    WebDriverWait(browser, 60, poll_frequency=0.1).until(lambda d: dataset(d, ".turn.assistant", "jobId"))
    job = node.result("opg_getJob", [dataset(browser, ".turn.assistant", "jobId")])
    assert (int(job["maxFee"], 16), int(job["verificationFee"], 16)) == (ETHER // 2, ETHER // 4)
    # Settled before the next test reads the provider's latest job.
    WebDriverWait(browser, 180, poll_frequency=0.1).until(lambda d: dataset(d, ".badge", "state") == "final")
    assert text_of(browser, ".turn.assistant .text") == ANSWER


# The stand-in EIP-1193 wallet (window.ethereum, injected before the page's scripts), on chain
# %(chain)s: it records every request; wallet_switchEthereumChain refuses (4001) when told to,
# else fails with 4902 until wallet_addEthereumChain taught it the chain (which also switches);
# eth_sendTransaction is relayed to the node's dev signer, where its key is kept as a real wallet
# keeps it in the browser.
STAND_IN_WALLET = """window.walletCalls = [];
window.walletChain = '%(chain)s';
window.ethereum = { request: async ({ method, params }) => {
  window.walletCalls.push({ method, params });
  if (method === 'eth_requestAccounts') return ['%(account)s'];
  if (method === 'eth_chainId') return window.walletChain;
  if (method === 'wallet_switchEthereumChain') {
    if (%(refuse)s) throw Object.assign(new Error('User rejected the request.'), { code: 4001 });
    if (!window.walletKnows) throw Object.assign(new Error('Unrecognized chain ID ' + params[0].chainId), { code: 4902 });
    window.walletChain = params[0].chainId;
    return null;
  }
  if (method === 'wallet_addEthereumChain') {
    window.walletKnows = true;
    window.walletChain = params[0].chainId;
    return null;
  }
  if (method !== 'eth_sendTransaction') throw new Error('the stand-in wallet does not do ' + method);
  const answer = await (await fetch(location.origin, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })).json();
  if (answer.error) throw new Error(answer.error.message);
  return answer.result;
} };"""


@pytest.mark.parametrize("wallet_chain", ["node's", "switched", "refused"])
def test_an_injected_wallet_is_preferred_and_asked_to_switch_to_the_nodes_chain(devnet, browser, wallet_chain):
    """A wallet on the node's chain signs with no question; one on another chain is asked to switch
    (and, not knowing the chain, to add it with the genesis file's network name, this node's RPC
    URL and OPG as its currency), and the page follows: a message goes out through the wallet's
    eth_sendTransaction and is answered; a refused switch is said plainly, and sending asks again
    and sends nothing."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    node = devnet["node"]
    wallet_account = DEV_ACCOUNTS[7].address
    chain_id = int(node.result("eth_chainId"), 16)
    wallet = STAND_IN_WALLET % {"chain": hex(chain_id if wallet_chain == "node's" else 1), "account": wallet_account,
                                "refuse": "true" if wallet_chain == "refused" else "false"}
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": wallet})
    calls = lambda: browser.execute_script("return window.walletCalls")  # noqa: E731
    try:
        browser.get(node.url + "/chat")
        WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.body.dataset.ready") is not None)
        assert text_of(browser, "#signer") == "signing with your wallet"
        assert browser.execute_script("return [...document.querySelectorAll('#account option')].map(o => o.value)") == [wallet_account]
        if wallet_chain == "refused":
            refusal = (f"your wallet is on chain 1 and did not switch to this node's chain {chain_id} (User rejected the request.); "
                       f"nothing was sent: switch your wallet to chain {chain_id} and send again")
            assert browser.execute_script("return document.body.dataset.ready") == "wrong-chain"
            assert text_of(browser, "#problem") == refusal
            browser.find_element(By.ID, "message").send_keys(QUESTION)
            browser.find_element(By.ID, "message").send_keys(Keys.CONTROL, Keys.ENTER)
            WebDriverWait(browser, 10).until(lambda d: [c["method"] for c in calls()].count("wallet_switchEthereumChain") == 2)
            WebDriverWait(browser, 10).until(lambda d: not d.execute_script("return document.getElementById('send').disabled"))
            assert text_of(browser, "#problem") == refusal
            assert "eth_sendTransaction" not in [c["method"] for c in calls()], "nothing is sent on another chain"
            assert browser.execute_script("return document.querySelectorAll('.turn').length") == 0
            return
        assert browser.execute_script("return document.body.dataset.ready") == "true", text_of(browser, "#problem")
        methods = [c["method"] for c in calls()]
        if wallet_chain == "node's":
            assert methods == ["eth_requestAccounts", "eth_chainId"], "a wallet on the node's chain is not asked to switch"
            return
        assert methods == ["eth_requestAccounts", "eth_chainId", "wallet_switchEthereumChain", "wallet_addEthereumChain", "eth_chainId"]
        switch, add = calls()[2:4]
        assert switch["params"] == [{"chainId": hex(chain_id)}]
        assert add["params"] == [{"chainId": hex(chain_id), "chainName": "opg-devnet", "rpcUrls": [node.url],
                                  "nativeCurrency": {"name": "OPG", "symbol": "OPG", "decimals": 18}, "blockExplorerUrls": [node.url + "/"]}]
        browser.find_element(By.ID, "message").send_keys(QUESTION)
        Select(browser.find_element(By.ID, "max-tokens")).select_by_value("16")
        browser.find_element(By.ID, "message").send_keys(Keys.CONTROL, Keys.ENTER)
        states = []
        WebDriverWait(browser, 180, poll_frequency=0.1).until(
            lambda d: states.append(dataset(d, ".badge", "state")) or states[-1] == "final", f"the badge stopped at {states[-1:]}")
        sent = [c for c in calls() if c["method"] == "eth_sendTransaction"]
        assert len(sent) == 1 and sent[0]["params"][0]["from"].lower() == wallet_account.lower(), sent
        job = node.result("opg_getJob", [dataset(browser, ".turn.assistant", "jobId")])
        assert job["requester"] == wallet_account and job["label"] == "verified"
        assert text_of(browser, ".turn.assistant .text") == ANSWER
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})


# A stand-in wallet that holds its key outside the page, as a real one does: each
# eth_sendTransaction waits for the test to approve it with the signed bytes (window.walletApprove),
# then sends them with eth_sendRawTransaction to the node serving the page.
APPROVING_WALLET = """window.walletCalls = [];
window.ethereum = { request: async ({ method, params }) => {
  window.walletCalls.push({ method, params });
  if (method === 'eth_requestAccounts') return ['%(account)s'];
  if (method === 'eth_chainId') return '%(chain)s';
  if (method !== 'eth_sendTransaction') throw new Error('the stand-in wallet does not do ' + method);
  const raw = await new Promise(resolve => { window.walletApprove = resolve; });
  const answer = await (await fetch(location.origin, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_sendRawTransaction', params: [raw] }) })).json();
  if (answer.error) throw new Error(answer.error.message);
  return answer.result;
} };"""


def test_a_page_on_a_second_node_streams_from_a_provider_that_announced_elsewhere(devnet, browser):
    """The provider daemon announced its endpoint to the devnet node only; the page is served by
    a second node that follows it over P2P (no dev signer there: a wallet signs, and the request
    goes in through the second node). The endpoint reached the second node by gossip, the tokens
    stream from the provider into the page, and the badge reaches verified, then final."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    node, second = devnet["node"], devnet["second"]
    account = DEV_ACCOUNTS[5]
    assert second.result("eth_accounts") == [], "the second node has no dev signer"
    assert second.result("opg_getProviderEndpoint", [PROVIDER.address]) == node.result("opg_getProviderEndpoint", [PROVIDER.address])
    chain_id = int(second.result("eth_chainId"), 16)
    browser.get_log("browser")  # the earlier tests' entries
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                     {"source": APPROVING_WALLET % {"chain": hex(chain_id), "account": account.address}})
    try:
        browser.get(second.url + "/chat")
        WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.body.dataset.ready") is not None)
        assert browser.execute_script("return document.body.dataset.ready") == "true", text_of(browser, "#problem")
        browser.find_element(By.ID, "message").send_keys(QUESTION)
        Select(browser.find_element(By.ID, "max-tokens")).select_by_value("16")
        browser.find_element(By.ID, "message").send_keys(Keys.CONTROL, Keys.ENTER)
        WebDriverWait(browser, 30, poll_frequency=0.05).until(lambda d: d.execute_script("return !!window.walletApprove"))
        request = [c for c in browser.execute_script("return window.walletCalls") if c["method"] == "eth_sendTransaction"][-1]["params"][0]
        w3 = second.web3()
        tx = {"chainId": chain_id, "nonce": w3.eth.get_transaction_count(account.address, "pending"), "to": request["to"],
              "value": int(request["value"], 16), "data": request["data"], "maxPriorityFeePerGas": 10**9}
        tx["gas"] = w3.eth.estimate_gas({**tx, "from": account.address}) * 2
        tx["maxFeePerGas"] = 2 * w3.eth.get_block("latest")["baseFeePerGas"] + tx["maxPriorityFeePerGas"]
        browser.execute_script("window.walletApprove(arguments[0])", "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex())

        states = []
        WebDriverWait(browser, 180, poll_frequency=0.05).until(
            lambda d: states.append(dataset(d, ".badge", "state")) or states[-1] == "final", f"the badge stopped at {states[-1:]}")
        assert "verified" in states, "the badge showed verified at quorum before final"
        streamed = dataset(browser, ".turn.assistant", "streamedTokens")
        assert streamed and [int(t) for t in streamed.split(",")] == ANSWER_IDS, \
            f"no tokens streamed from the provider ({text_of(browser, '.turn.assistant .progress')})"
        assert text_of(browser, ".turn.assistant .text") == ANSWER
        job = second.result("opg_getJob", [dataset(browser, ".turn.assistant", "jobId")])
        assert job["requester"] == account.address and job["provider"] == PROVIDER.address and job["label"] == "verified"
        assert browser.find_element(By.CSS_SELECTOR, ".turn.assistant a.job-link").get_attribute("href").startswith(second.url + "/#/job/")
        browser.save_screenshot(str(ARTIFACTS / "chat-second-node.png"))
        assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == [], "the chat page logged errors"
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})


def test_the_providers_stream_gives_the_committed_tokens(devnet):
    node = devnet["node"]
    endpoint = node.result("opg_getProviderEndpoint", [PROVIDER.address])
    assert endpoint["provider"] == PROVIDER.address and endpoint["url"].startswith("http://127.0.0.1:")
    job = node.result("opg_listJobs", [{"provider": PROVIDER.address}])["items"][0]
    events = stream_events(f"{endpoint['url']}/jobs/{job['jobId']}/stream")
    assert [name for name, _ in events] == ["token"] * len(ANSWER_IDS) + ["done"]
    assert [data["token"] for name, data in events[:-1]] == ANSWER_IDS
    assert [data["index"] for name, data in events[:-1]] == list(range(len(ANSWER_IDS)))
    assert events[-2][1]["text"] == ANSWER
    done = events[-1][1]
    assert done["outputHash"] == job["outputHash"] and done["tokens"] == ANSWER_IDS and done["text"] == ANSWER
    assert keccak(json.dumps({"finish": "stop", "text": ANSWER, "tokens": ANSWER_IDS}, separators=(",", ":")).encode()).hex() \
        == done["outputHash"].removeprefix("0x")
    assert requests.get(f"{endpoint['url']}/jobs/0x12/stream").status_code == 404


def test_opg_chat_prints_the_streamed_preview_before_the_committed_answer(devnet):
    node, work = devnet["node"], devnet["work"]
    chat = subprocess.run([OPG, "chat", "--rpc", node.url, *requester_keystore(work), "--message", QUESTION, "--max-tokens", "8",
                           "--max-fee", "2", "--verification-fee", "1", "--deadline-blocks", "2000", "--until", "attested"],
                          capture_output=True, text=True, timeout=300)
    assert chat.returncode == 0, chat.stderr + "\n".join(d.log_tail() for d in devnet["daemons"])
    lines = chat.stdout.splitlines()
    preview = next(i for i, line in enumerate(lines) if line.startswith("preview    "))
    assert lines[preview].startswith(f"preview    {ANSWER} (preview from http://127.0.0.1:"), lines[preview]
    assert lines[preview].endswith("the answer is the one committed on chain)")
    assert lines.index(ANSWER) > preview, "the committed answer follows the preview"


def announce(node, account, url, issued_at, chain_id=None):
    chain_id = chain_id or int(node.result("eth_chainId"), 16)
    message = f"opg provider endpoint\nchain: {chain_id}\nurl: {url}\nissued: {issued_at}"
    signature = Account.sign_message(encode_defunct(text=message), account.key).signature
    return node.rpc("opg_announceProviderEndpoint", [url, hex(issued_at), "0x" + bytes(signature).hex()])


def test_provider_announcements_are_signed_by_a_registered_provider(devnet):
    node, now = devnet["node"], int(time.time())
    kept = node.result("opg_getProviderEndpoint", [PROVIDER.address])
    assert announce(node, PAGE_ACCOUNT, "http://attacker.example", now)["error"]["message"] == f"{PAGE_ACCOUNT.address} is not a registered provider"
    assert announce(node, PROVIDER, "ftp://x", now)["error"]["message"] == "invalid argument 0: url must start with http:// or https://"
    stale = announce(node, PROVIDER, "http://old.example", now - 3600)["error"]["message"]
    assert stale.startswith(f"invalid argument 1: issuedAt {now - 3600} is more than 600 s from the node's clock")
    forged = announce(node, PROVIDER, "http://other-chain.example", now, chain_id=1)["error"]["message"]
    assert forged.endswith("is not a registered provider"), "a signature for another chain recovers another address here"
    assert node.result("opg_getProviderEndpoint", [PROVIDER.address])["url"] == kept["url"]
    assert node.result("opg_getProviderEndpoint", [VERIFIERS[0].address]) is None


def test_the_dev_signer_signs_only_for_dev_accounts(devnet):
    node = devnet["node"]
    assert node.result("eth_accounts") == [a.address for a in DEV_ACCOUNTS]
    stranger = Account.create().address
    answer = node.rpc("eth_sendTransaction", [{"from": stranger, "to": PAGE_ACCOUNT.address, "value": "0x1"}])
    assert answer["error"] == {"code": -32000, "message": "unknown account"}
    sent = node.result("eth_sendTransaction", [{"from": DEV_ACCOUNTS[8].address, "to": stranger, "value": hex(12345)}])
    receipt = wait_for(lambda: node.result("eth_getTransactionReceipt", [sent]), timeout=30, what="the dev signer's transfer")
    assert receipt["status"] == "0x1" and int(node.result("eth_getBalance", [stranger, "latest"]), 16) == 12345


def test_opgd_start_refuses_the_dev_signer_and_has_none(tmp_path):
    node = Node(workdir=tmp_path / "start").init()
    config = json.loads(node.config_file.read_text())
    config["devSigner"] = True
    node.config_file.write_text(json.dumps(config))
    refused = run([str(BIN / "opgd"), "start", "--config", str(node.config_file)])
    assert refused.returncode == 2
    assert "devSigner: refused: the dev signer signs with the publicly known dev keys; only `opgd dev` enables it" in refused.stderr
    del config["devSigner"]
    node.config_file.write_text(json.dumps(config))
    node.start()
    try:
        assert node.result("eth_accounts") == []
        answer = node.rpc("eth_sendTransaction", [{"from": DEV_ACCOUNTS[1].address, "to": DEV_ACCOUNTS[2].address, "value": "0x1"}])
        assert answer["error"] == {"code": -32601, "message": "the method eth_sendTransaction does not exist/is not available"}
        page = requests.get(node.url + "/chat")
        assert page.status_code == 200 and "Messages become public on chain" in page.text
    finally:
        node.stop()


def test_opgd_dev_refuses_a_p2p_port_out_of_range(tmp_path):
    refused = run([str(BIN / "opgd"), "dev", "--datadir", str(tmp_path / "dev"), "--p2p-port", "70000"])
    assert refused.returncode == 2 and '--p2p-port: "70000" is not a port number' in refused.stderr
    assert not (tmp_path / "dev").exists(), "nothing is written"


def test_the_pages_function_selectors_are_keccak_of_their_signatures():
    source = CHAT_JS.read_text()
    for signature in ("requestJob(string,bytes,bytes32,string,uint8,uint256,uint256,uint64)", "jobOutput(bytes32)"):
        selector = re.search(r'"([0-9a-f]{8})";\s*//\s*' + re.escape(signature), source)
        assert selector and selector.group(1) == keccak(text=signature)[:4].hex(), signature
