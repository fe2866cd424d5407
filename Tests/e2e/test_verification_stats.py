"""The verification network's vital signs against a real opgd (docs/rpc.md, "Verification
statistics"): after a jobs workload — a job attested valid and finalized, one the committee
finds invalid (a dispute), one nobody accepts (a provider timeout, refunded) and an in-block
inference through the precompile — opg_verificationStats' figures, per epoch and in total,
equal the ones computed here in Python from eth_getLogs and opg_getJob; bad parameters are
refused by name; `opg network --once` prints the same figures; /metrics counts the jobs
module's events; and the explorer (headless Chromium) shows each job's lifecycle as a
timeline and the vital signs as charts, without console errors."""
import math
import re

import pytest
from eth_utils import event_abi_to_log_topic, keccak
from web3 import Web3

from opgnode import DEV_ACCOUNTS, run
from test_explorer import ARTIFACTS, Page, browser  # noqa: F401 (a fixture)
from test_inference import fixture, model_input, precompile
from test_jobs import JOBS, OPG, PROVIDER, REQUESTER, STAKING, VERIFIERS, chain, request, send, wait_status  # noqa: F401 (chain: a fixture)
from test_verification_vectors import attestation, commitment, digest_of

INFERENCE = Web3.to_checksum_address("0x" + "00" * 19 + "f4")
ETHER = 10**18


def attest(chain, jid: bytes, output: bytes, verdict: int):
    """The drawn committee commits and reveals `verdict` on the job's result (one reveal transaction)."""
    node, w3, jobs = chain["node"], chain["w3"], chain["jobs"]
    job = wait_status(node, jid, ["attesting"])
    by_address = {v.address: v for v in VERIFIERS}
    message = attestation(jid, chain["model"], bytes.fromhex(job["inputHash"][2:]), keccak(output), keccak(b"trace"), verdict, job["epoch"],
                          w3.eth.chain_id)
    reveals = []
    for member in [m["address"] for m in job["committee"]]:
        salt = keccak(text=f"stats salt {member}")
        assert send(w3, by_address[member], jobs.functions.commitAttestation(jid, commitment(digest_of(message), salt, member))).status == 1
        reveals.append((jid, member, verdict, salt, bytes(by_address[member].sign_message(message).signature)))
    assert send(w3, DEV_ACCOUNTS[7], jobs.functions.revealAttestations(reveals)).status == 1


def run_job(chain, verdict: int) -> bytes:
    """A job accepted and committed by the provider, then attested `verdict` by its committee."""
    w3, jobs = chain["w3"], chain["jobs"]
    jid = request(chain)
    wait_status(chain["node"], jid, ["assigned"])
    assert send(w3, PROVIDER, jobs.functions.acceptJob(jid, 4 * ETHER), value=8 * ETHER).status == 1
    assert send(w3, PROVIDER, jobs.functions.commitResult(jid, b"seven", b"\0" * 32, "", keccak(b"trace"))).status == 1
    attest(chain, jid, b"seven", verdict)
    return jid


@pytest.fixture(scope="module")
def workload(chain):
    node, w3 = chain["node"], chain["w3"]
    start = w3.eth.block_number + 1
    valid = run_job(chain, 1)
    wait_status(node, valid, ["challengeWindow"])
    assert send(w3, DEV_ACCOUNTS[7], chain["jobs"].functions.finalize(valid)).status == 1
    invalid = run_job(chain, 2)
    assert wait_status(node, invalid, ["disputed"])["dispute"]["challenger"] is None, "the committee opened it"
    timeout = request(chain, max_fee=3 * ETHER, verification_fee=ETHER)
    path, input_name, array = fixture("digits_logreg")
    fn = precompile(w3).functions.runModelInference((0, chain["model"], model_input(input_name, array)))
    assert send(w3, DEV_ACCOUNTS[8], fn, gas=fn.estimate_gas({"from": DEV_ACCOUNTS[8].address}) * 2).status == 1
    wait_status(node, timeout, ["refunded"], timeout=60)
    return {"start": start, "end": w3.eth.block_number, "valid": valid, "invalid": invalid, "timeout": timeout}


def topic(name: str, module: str) -> str:
    from test_jobs import abi

    (event,) = [e for e in abi(module) if e["type"] == "event" and e["name"] == name]
    return "0x" + event_abi_to_log_topic(event).hex()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered) / 100)) - 1] if ordered else None


def nakamoto(weights):
    total, held = sum(weights), 0
    if total == 0:
        return None
    for count, weight in enumerate(sorted(weights, reverse=True), 1):
        held += weight
        if held * 3 > total:
            return count


def bps(part, whole):
    return None if whole == 0 else part * 10_000 // whole


def expected(node, first: int, last: int, epoch_blocks: int, challenge_blocks: int):
    """The figures of blocks first…last, per epoch and in total, from eth_getLogs and opg_getJob."""
    logs = node.result("eth_getLogs", [{"fromBlock": hex(first), "toBlock": hex(last), "address": [JOBS, INFERENCE, STAKING]}])
    slices = {}

    def tally(block):
        return slices.setdefault(block // epoch_blocks, {"jobs": [], "inference": 0, "callers": set(), "requesters": set(), "attestations": 0,
                                                         "providers": set(), "verifiers": set(), "weight": {}, "slashes": 0, "jailings": 0})
    for n in range(first, last + 1):
        tally(n)
    weights = {}
    for log in logs:
        t, kind, emitter = tally(int(log["blockNumber"], 16)), log["topics"][0], Web3.to_checksum_address(log["address"])
        address = lambda i: Web3.to_checksum_address("0x" + log["topics"][i][-40:])  # noqa: E731
        if emitter == INFERENCE and kind == topic("ModelInferenceEvent", "InferencePrecompile"):
            t["inference"] += 1
            tx = node.result("eth_getTransactionByHash", [log["transactionHash"]])
            t["callers"].add(Web3.to_checksum_address(tx["from"]))
        elif emitter == JOBS and kind == topic("JobRequested", "Jobs"):
            t["jobs"].append(node.result("opg_getJob", [log["topics"][1]]))
            t["requesters"].add(address(2))
            t["callers"].add(address(2))
        elif emitter == JOBS and kind in (topic("JobAccepted", "Jobs"), topic("ResultCommitted", "Jobs")):
            t["providers"].add(address(2))
        elif emitter == JOBS and kind == topic("AttestationCommitted", "Jobs"):
            t["verifiers"].add(address(2))
        elif emitter == JOBS and kind == topic("AttestationRevealed", "Jobs"):
            t["verifiers"].add(address(2))
            t["attestations"] += 1
            job = weights.setdefault(log["topics"][1], node.result("opg_getJob", [log["topics"][1]]))  # no redraw in this workload
            (member,) = [m for m in job["committee"] if m["address"] == address(2)]
            t["weight"][address(2)] = t["weight"].get(address(2), 0) + int(member["weight"], 16)
        elif emitter == STAKING and kind == topic("Slashed", "Staking"):
            t["slashes"] += 1
        elif emitter == STAKING and kind == topic("Jailed", "Staking"):
            t["jailings"] += 1

    def figures(t, previous=None):
        jobs = t["jobs"]
        pending = [j for j in jobs if j["status"] in ("requested", "assigned", "accepted", "committed", "attesting")]
        decided = len(jobs) - len(pending)
        verdict_blocks = [(j["challengeEnd"] - challenge_blocks if j["challengeEnd"] else j["dispute"]["openedAt"], j) for j in jobs
                          if j["challengeEnd"] or (j["dispute"] and j["dispute"]["challenger"] is None)]
        finality = [j["settledAt"] - j["requestedAt"] for j in jobs if j["status"] == "finalized"]
        quorum = [b - j["requestedAt"] for b, j in verdict_blocks]
        disputes = [j for j in jobs if j["dispute"]]
        refunds = [j for j in jobs if j["status"] == "refunded"]
        timeouts = [j for j in refunds if j["provider"]]
        calls = len(jobs) + t["inference"]
        w = list(t["weight"].values())
        out = {"jobs": len(jobs), "inferenceCalls": t["inference"], "calls": calls, "uniqueCallers": len(t["callers"]),
               "uniqueRequesters": len(t["requesters"]), "attestations": t["attestations"], "activeProviders": len(t["providers"]),
               "activeVerifiers": len(t["verifiers"]), "voteWeight": hex(sum(w)),
               "largestVoteShareBps": None if not sum(w) else max(w) * 10_000 // sum(w), "nakamotoCoefficient": nakamoto(w),
               "pending": len(pending), "decided": decided, "verdicts": len(verdict_blocks), "coverageBps": bps(len(verdict_blocks), decided),
               "timeToQuorum": {"count": len(quorum), "median": percentile(quorum, 50), "p90": percentile(quorum, 90)},
               "timeToFinality": {"count": len(finality), "median": percentile(finality, 50), "p90": percentile(finality, 90)},
               "finalized": len(finality), "disputes": len(disputes), "disputeRateBps": bps(len(disputes), len(verdict_blocks)),
               "disputesResolved": 0, "overturned": 0, "overturnRateBps": None,
               "refunds": len(refunds), "refundRateBps": bps(len(refunds), decided), "timeouts": len(timeouts),
               "timeoutRateBps": bps(len(timeouts), decided), "unverified": sum(j["status"] == "unverified" for j in jobs),
               "redraws": sum(j["round"] > 0 for j in jobs), "slashes": t["slashes"], "jailings": t["jailings"]}
        def growth(now, before):
            if not before:
                return None
            change = abs(now - before) * 10_000 // before  # rounded toward zero
            return change if now >= before else -change
        out["callsGrowthBps"] = growth(calls, previous and len(previous["jobs"]) + previous["inference"])
        out["jobsGrowthBps"] = growth(len(jobs), previous and len(previous["jobs"]))
        return out

    keys = sorted(slices)
    epochs = [dict(figures(slices[e], slices[keys[i - 1]] if i else None), epoch=e, fromBlock=max(first, e * epoch_blocks),
                   toBlock=min(last, (e + 1) * epoch_blocks - 1)) for i, e in enumerate(keys)]
    total = {"jobs": [], "inference": 0, "callers": set(), "requesters": set(), "attestations": 0, "providers": set(), "verifiers": set(),
             "weight": {}, "slashes": 0, "jailings": 0}
    for t in slices.values():
        for k, v in t.items():
            if isinstance(v, set):
                total[k] |= v
            elif isinstance(v, dict):
                for a, x in v.items():
                    total[k][a] = total[k].get(a, 0) + x
            else:
                total[k] += v
    return figures(total), epochs


def test_figures_match_an_independent_count(chain, workload):
    node = chain["node"]
    first, last = workload["start"], chain["w3"].eth.block_number
    stats = node.result("opg_verificationStats", [hex(first), hex(last)])
    epoch_blocks = chain["genesis"]["staking"]["epochBlocks"]
    assert stats["epochBlocks"] == epoch_blocks and stats["fromBlock"] == first and stats["toBlock"] == last
    total, epochs = expected(node, first, last, epoch_blocks, chain["genesis"]["jobs"]["challengeBlocks"])
    del total["callsGrowthBps"], total["jobsGrowthBps"]  # growth is between epochs
    assert stats["total"] == total
    assert stats["epochs"] == epochs
    verifiers = node.result("opg_listOperators", [{"role": "verifier"}])["items"]
    stakes = [int(v["stake"], 16) for v in verifiers if not v["jailed"] and not v["tombstoned"] and int(v["stake"], 16)]
    assert stats["verifierStake"] == {"verifiers": len(VERIFIERS), "stake": hex(sum(stakes)), "nakamotoCoefficient": nakamoto(stakes),
                                      "largestShareBps": max(stakes) * 10_000 // sum(stakes)}
    t = stats["total"]
    # The workload's shape, so the comparison above compares something.
    assert (t["jobs"], t["inferenceCalls"], t["attestations"], t["verdicts"], t["disputes"], t["timeouts"]) == (3, 1, 6, 2, 1, 1)
    assert t["coverageBps"] == 6_666 and t["disputeRateBps"] == 5_000 and t["overturnRateBps"] is None
    assert t["timeToFinality"]["count"] == 1 and t["nakamotoCoefficient"] >= 1 and len(epochs) > 1


def test_one_epoch_and_one_block(chain, workload):
    node, epoch_blocks = chain["node"], chain["genesis"]["staking"]["epochBlocks"]
    block = workload["start"]
    one = node.result("opg_verificationStats", [hex(block), hex(block)])
    assert [e["epoch"] for e in one["epochs"]] == [block // epoch_blocks]
    epoch = (workload["end"] // epoch_blocks) * epoch_blocks
    whole = node.result("opg_verificationStats", [hex(epoch - epoch_blocks), hex(epoch - 1)])
    assert len(whole["epochs"]) == 1 and whole["epochs"][0]["fromBlock"] == epoch - epoch_blocks


def test_bad_parameters_are_refused_by_name(chain):
    node = chain["node"]
    head = chain["w3"].eth.block_number
    for params, code, message in [([], -32602, "missing value for required argument fromBlock"),
                                  (["0x1", "0x0"], -32602, "toBlock 0 is before fromBlock 1"),
                                  (["0x0", hex(head + 1000)], -32602, f"toBlock {head + 1000} is past the head"),
                                  (["0x0", hex(10_000)], -32005, "query exceeds max block range 10000"),
                                  (["latest", "0x1"], -32602, "fromBlock"),
                                  (["0x0", "0x1", "0x2"], -32602, "too many arguments")]:
        body = node.rpc("opg_verificationStats", params)
        assert body["error"]["code"] == code and message in body["error"]["message"], body
    assert "result" in node.rpc("opg_verificationStats", ["0x0", hex(min(head, 9_999))])


def test_opg_network_once_prints_the_figures(chain, workload):
    node = chain["node"]
    out = run([OPG, "network", "--rpc", node.url, "--once", "--epochs", "3"], check=True).stdout
    assert out.startswith("opg network · head ")
    head = int(re.search(r"head (\d+)", out).group(1))
    rows = {line.split("  ")[0].strip(): line.split() for line in out.splitlines()}
    assert "coverage" in rows and "Nakamoto coefficient" in rows and "time to finality (med / p90)" in rows
    epoch_blocks = chain["genesis"]["staking"]["epochBlocks"]
    first = max(0, head // epoch_blocks - 2) * epoch_blocks
    stats = node.result("opg_verificationStats", [hex(first), hex(head)])
    assert rows["jobs"][-1] == str(stats["total"]["jobs"]), out
    assert rows["attestations"][-1] == str(stats["total"]["attestations"]), out
    assert len(rows["figure"]) == len(stats["epochs"]) * 2 + 2, "a column per epoch and the total"
    assert f"verifier stake at block {head}: 4 verifiers, largest share " in out
    bad = run([OPG, "network", "--rpc", node.url, "--once", "--interval", "0"])
    assert bad.returncode != 0 and "--interval" in bad.stderr


def test_metrics_count_job_events(chain, workload):
    import requests

    text = requests.get(chain["node"].url + "/metrics").text
    samples = dict(re.findall(r'^(opg_job_events_total\{event="\w+"\}|opg_attestations_total) (\d+)$', text, re.M))
    assert int(samples['opg_job_events_total{event="JobRequested"}']) >= 3
    assert int(samples["opg_attestations_total"]) == int(samples['opg_job_events_total{event="AttestationRevealed"}']) >= 6
    assert "# TYPE opg_job_events_total counter" in text


def test_explorer_shows_the_timeline_and_the_charts(browser, chain, workload):  # noqa: F811
    node = chain["node"]
    page = Page(browser, node)
    steps = lambda: page.driver.execute_script(  # noqa: E731
        "return [...document.querySelectorAll('#timeline li')].map(li => [li.dataset.step, li.className,"
        " (li.querySelector('a[href^=\"#/block/\"]') || {}).textContent || null])")
    valid = node.result("opg_getJob", ["0x" + workload["valid"].hex()])
    page.open(f"#/job/0x{workload['valid'].hex()}", "job-finalized")
    shown = steps()
    assert [s[0] for s in shown] == ["requested", "assigned", "accepted", "committed", "attesting", "attested", "challengeWindow", "finalized"]
    assert all(s[1] == "done" for s in shown)
    params = chain["genesis"]["jobs"]
    assert shown[0][2] == str(valid["requestedAt"]) and shown[1][2] == str(valid["acceptBy"] - params["acceptBlocks"])
    assert shown[3][2] == str(valid["committedAt"]) and shown[4][2] == str(valid["commitEnd"] - params["attestCommitBlocks"])
    assert shown[6][2] == str(valid["challengeEnd"] - params["challengeBlocks"]) and shown[7][2] == str(valid["settledAt"])
    assert "Attested 3/3" in page.driver.find_element("id", "timeline").text
    assert len(page.rows("committee")) == 3
    page.open(f"#/job/0x{workload['invalid'].hex()}", "job-disputed")
    shown = steps()
    assert shown[-1][0] == "disputed" and shown[-1][1] == "done"
    assert "the committee found the result invalid" in page.driver.find_element("id", "timeline").text
    page.open(f"#/job/0x{workload['timeout'].hex()}", "job-refunded")
    shown = {s[0]: s[1] for s in steps()}
    assert shown["requested"] == shown["assigned"] == shown["refunded"] == "done" and shown["accepted"] == "todo"
    page.open("#/jobs", "jobs-list")
    assert {f"#/job/0x{workload[k].hex()}" for k in ("valid", "invalid", "timeout")} <= set(page.links("jobs"))
    page.open("#/vitals?epochs=1000", "vitals-jobs")  # epochs of 4 blocks: all of them
    assert page.driver.execute_script("return document.querySelectorAll('canvas').length") == 5
    for chart in ("chart-attestations", "chart-finality"):
        page.driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", chart)
        page.driver.save_screenshot(str(ARTIFACTS / f"vitals-{chart}.png"))
    text, cards = page.driver.execute_script(
        "return [document.getElementById('main').textContent,"
        " Object.fromEntries([...document.querySelectorAll('[data-field]')].map(e => [e.dataset.field, e.textContent]))]")
    first = int(text.split("from block ")[1].split(" ")[0])
    last = int(text.split("to the head (")[1].split(")")[0])
    t = node.result("opg_verificationStats", [hex(first), hex(last)])["total"]
    assert cards["jobs"] == str(t["jobs"]) and cards["attestations"] == str(t["attestations"]) and cards["calls"] == str(t["calls"])
    assert cards["coverage"] == ("—" if t["coverageBps"] is None else f"{t['coverageBps'] / 100:.2f}%")
    assert cards["overturnRate"] == "— (no dispute resolved)"
    assert t["jobs"] == 3 and cards["nakamotoCoefficient"] == str(t["nakamotoCoefficient"])
    staked = node.result("opg_verificationStats", [hex(first), hex(last)])["verifierStake"]
    assert cards["stakedVerifiers"] == "4" and cards["stakeNakamotoCoefficient"] == str(staked["nakamotoCoefficient"])
    rows = page.rows("epochs")
    assert sum(int(r[5]) for r in rows) == 3 and sum(int(r[7]) for r in rows) == t["attestations"] == 6
    page.driver.set_window_size(390, 844)
    try:
        for route in (f"#/job/0x{workload['valid'].hex()}", "#/vitals?epochs=1000"):
            page.open(route, "phone-" + route.split("/")[1].split("?")[0])
            width = page.driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], f"{route} scrolls sideways on a phone: {width}"
    finally:
        page.driver.set_window_size(1280, 900)
    assert page.console_errors() == [], "the explorer logged errors in the browser's console"
