"""The attested-only OpenAI-compatible backend (docs/chat.md, "The OpenAI-compatible backend")
on a real devnet: an `opg provider` whose config names an endpoint (`openai`) answers
`opg chat --backend openai` by POSTing the conversation to `{base}/v1/chat/completions`, and
three real `opg verifier`s attest it for form and availability. The answer is committed and
labelled attested-only everywhere (RPC, `opg chat`'s badge, `opg job show`), never verified.
Endpoints that fail (HTTP 500 echoing the API key, malformed JSON, no answer within the
timeout) are logged with a clear error naming the endpoint, the key never appears in the log,
the job is refunded at its accept deadline and the provider keeps running.

The endpoint is a small Python HTTP server on loopback standing in for the remote API, beneath
the real parts (opgd, the daemons and `opg chat` as processes)."""
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from opgnode import DEV_ACCOUNTS
from test_chat_job import OPG, PROVIDER, REQUESTER, VERIFIERS, requester_keystore
from test_daemons import Daemon
from test_jobs import ETHER, staked_chain

API_KEY = "sk-test-0123456789abcdef"
ANSWER = "Paris is the capital of France."
STAND_IN_MODEL = "stand-in-chat-1"
TIMEOUT_SECONDS = 2
ZERO = "0x" + "00" * 32


class StandInAPI(BaseHTTPRequestHandler):
    """POST /v1/chat/completions as an OpenAI-compatible server answers it; the last user
    message picks a failure: "fail" → HTTP 500 echoing the Authorization header (as some
    servers echo a bad key), "garbage" → a 200 that is not JSON, "silent" → no answer before
    the provider's timeout. Every request is recorded."""
    requests = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StandInAPI.requests.append({"path": self.path, "authorization": self.headers.get("Authorization"), "body": body})
        question = body["messages"][-1]["content"]
        if question == "fail":
            self.reply(500, json.dumps({"error": {"message": f"backend exploded for {self.headers.get('Authorization')}"}}).encode())
        elif question == "garbage":
            self.reply(200, b"<html>502 Bad Gateway</html>")
        elif question == "silent":
            time.sleep(TIMEOUT_SECONDS + 2)
            self.reply(200, b"{}")
        else:
            self.reply(200, json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "model": STAND_IN_MODEL, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}]}).encode())

    def reply(self, status, body):
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the provider gave up waiting
            pass

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    work = tmp_path_factory.mktemp("openai")
    api = ThreadingHTTPServer(("127.0.0.1", 0), StandInAPI)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    (work / "api.key").write_text(API_KEY + "\n")
    # The endpoint serves a small registered model's id (config modelId), so the test needs no
    # 542 MB chat model; a short accept window refunds unanswered jobs quickly.
    jobs = {"acceptBlocks": 25, "attestCommitBlocks": 30, "attestRevealBlocks": 30, "challengeBlocks": 0, "committeeSize": 3}
    chain = staked_chain(work, jobs, {PROVIDER: 10 * ETHER}, {v: 5 * ETHER for v in VERIFIERS})
    node = chain["node"]
    daemons = []
    try:
        endpoint = {"baseURL": f"http://127.0.0.1:{api.server_port}/", "model": "stand-in", "apiKeyFile": str(work / "api.key"),
                    "timeoutSeconds": TIMEOUT_SECONDS, "modelId": chain["model"]}
        provider = Daemon(work, "provider", PROVIDER, openai=endpoint).start(node)
        daemons = [provider] + [Daemon(work, "verifier", v).start(node) for v in VERIFIERS]
        yield {"node": node, "work": work, "provider": provider, "daemons": daemons, "model": chain["model"]}
    finally:
        for d in daemons:
            d.stop()
        node.stop()
        api.shutdown()


def chat(net, message, requester=REQUESTER, *extra):
    return subprocess.Popen([OPG, "chat", "--rpc", net["node"].url, *requester_keystore(net["work"], requester), "--backend", "openai",
                             "--model", net["model"], "--message", message, "--max-tokens", "8", "--max-fee", "2", "--verification-fee", "1",
                             "--deadline-blocks", "200", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_an_endpoint_answer_is_committed_attested_and_never_verified(net):
    node = net["node"]
    process = chat(net, "What is the capital of France?")
    stdout, stderr = process.communicate(timeout=300)
    logs = "\n".join(d.log_tail() for d in net["daemons"])
    assert process.returncode == 0, stdout + stderr + logs
    lines = stdout.splitlines()
    assert ANSWER in lines, stdout + logs
    assert f"(from {STAND_IN_MODEL} through the provider's OpenAI-compatible endpoint: attested-only, the network cannot re-execute it)" in lines
    assert "class attestedOnly" in stdout and "attested-only: nobody can re-execute" in stdout, stdout
    assert not any(line.startswith("[final · verified") or line.startswith("verified") for line in lines)
    assert lines[-1].startswith("[final · attested-only (not re-executed: the backend cannot be re-run) · job "), stdout
    jid = lines[-1].split("job ")[1].rstrip("]")
    job = node.result("opg_getJob", [jid])
    assert job["verificationClass"] == "attestedOnly" and job["label"] == "attested" and job["status"] == "finalized"
    assert job["traceRoot"] == ZERO and job["provider"] == PROVIDER.address
    assert {m["verdict"] for m in job["committee"]} == {"valid"}, "verifiers checked form and availability"
    listed = node.result("opg_listJobs", [{"requester": REQUESTER.address}])["items"]
    assert [j["label"] for j in listed if j["jobId"] == jid] == ["attested"]
    shown = json.loads(subprocess.run([OPG, "job", "show", "--rpc", node.url, jid], capture_output=True, text=True, check=True).stdout)
    assert shown["verificationClass"] == "attestedOnly" and shown["label"] == "attested"
    refused = subprocess.run([OPG, "job", "verify", "--rpc", node.url, jid], capture_output=True, text=True)
    assert refused.returncode == 1 and "is attested-only" in refused.stderr, refused.stderr
    sent = [r for r in StandInAPI.requests if r["body"]["messages"][-1]["content"] == "What is the capital of France?"]
    assert len(sent) == 1, "the answer is computed once and kept with the provider's artifacts"
    assert sent[0]["path"] == "/v1/chat/completions" and sent[0]["authorization"] == f"Bearer {API_KEY}"
    assert sent[0]["body"] == {"model": "stand-in", "messages": [{"role": "user", "content": "What is the capital of France?"}],
                               "max_tokens": 8, "temperature": 0, "stream": False}
    assert API_KEY not in net["provider"].log.read_text()


def test_a_failing_endpoint_is_logged_and_its_jobs_refunded(net):
    """Three messages at once from three requesters, each answered badly: every one is refunded
    at the accept deadline and the provider logs why, naming the endpoint, never the key."""
    requesters = [REQUESTER, DEV_ACCOUNTS[7], DEV_ACCOUNTS[8]]
    processes = [chat(net, message, requester, "--until", "answered") for message, requester in zip(["fail", "garbage", "silent"], requesters)]
    outputs = [p.communicate(timeout=300) for p in processes]
    provider = net["provider"]
    log = provider.log.read_text()
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 1, stdout + stderr
        assert "refunded   job" in stdout and "no provider answered in time" in stdout, stdout
    url = f"OpenAI-compatible endpoint {provider_endpoint(provider)}"
    for reason in [f"{url}: the endpoint answered HTTP 500: backend exploded for Bearer [API key]",
                   f"{url}: the endpoint's answer is not JSON: ",
                   f"{url}: no answer within {TIMEOUT_SECONDS} s"]:
        assert "not accepting, cannot run it: " + reason in log, log[-3000:]
    assert API_KEY not in log
    assert provider.proc.poll() is None, "the provider keeps running"
    for requester in requesters:
        jobs = net["node"].result("opg_listJobs", [{"requester": requester.address, "status": "refunded"}])["items"]
        assert jobs and all(j["label"] is None and j["verificationClass"] == "attestedOnly" for j in jobs)


def provider_endpoint(provider):
    return json.loads(provider.config_file.read_text())["openai"]["baseURL"].rstrip("/") + "/v1/chat/completions"
