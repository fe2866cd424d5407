#!/usr/bin/env python3
"""Time from sending a chat message to a verified answer (issue 13 §6): a devnet (one opgd,
1 s blocks, jobs with a committee of 3 and no challenge window, the chat model registered by
reference as `make dev` does) with one `opg provider` and three `opg verifier` daemons on the
real chat model, each on one thread. Each round sends one message with `opg chat --message`
and times, from the command's start, the moment the node shows the job past its committee's
quorum (the answer is verified) and finalized (final), polling every 50 ms. The named peer, alternated with it in the same run: `opg chat generate` of the
same message on this machine (the whole process: loading the 542 MB model, then the spec's
greedy decoding) — the answer without any network. The ratio network/local per round shows
what the network's request, draw, accept, commit, three re-executions, commit-reveal and
settlement add.

A warm-up message first (not counted): the daemons load the model on their first chat job.

  chat_latency_bench.py [ROUNDS] [--max-tokens N]      needs a release build, `make chat-model chat-data`
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "e2e"))
from test_chat_job import MODEL, OPG, PROVIDER, REQUESTER, TOKENIZER, VERIFIERS, register_and_stake, requester_keystore, start_devnet  # noqa: E402
from test_daemons import Daemon  # noqa: E402

QUESTIONS = ["What is the capital of France?", "Name a large animal.", "What colour is the sky?", "Say hello in French.",
             "What is two plus two?", "Name a planet.", "What do bees make?", "What is ice made of?", "Name a fruit.",
             "What is the opposite of hot?"]


def timed_chat(node, work, question, max_tokens):
    """Runs `opg chat --message` and returns (seconds to verified, seconds to final, seconds to
    the command's exit). The job's state is read from the node every 50 ms (a piped `opg chat`
    buffers its output, so its lines arrive only at its exit): verified is the first poll that
    finds the job past its quorum (`challengeWindow`, or already `finalized`), final the first
    that finds it `finalized`."""
    known = {j["jobId"] for j in node.result("opg_listJobs", [{"requester": REQUESTER.address}])["items"]}
    start = time.monotonic()
    process = subprocess.Popen([OPG, "chat", "--rpc", node.url, *requester_keystore(work), "--message", question, "--max-tokens", str(max_tokens),
                                "--max-fee", "2", "--verification-fee", "1", "--deadline-blocks", "2000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    verified = final = None
    job = None
    deadline = start + 900
    while final is None and time.monotonic() < deadline and process.poll() is None:
        if job is None:
            job = next((j["jobId"] for j in node.result("opg_listJobs", [{"requester": REQUESTER.address}])["items"] if j["jobId"] not in known), None)
        else:
            status = node.result("opg_getJob", [job])["status"]
            if verified is None and status in ("challengeWindow", "finalized"):
                verified = time.monotonic() - start
            if status == "finalized":
                final = time.monotonic() - start
        time.sleep(0.05)
    stdout, stderr = process.communicate(timeout=max(1, deadline - time.monotonic()))
    done = time.monotonic() - start
    if process.returncode != 0 or verified is None or final is None or "[final · verified" not in stdout:
        raise RuntimeError(f"opg chat exited {process.returncode}, verified {verified}, final {final}:\n{stdout}{stderr}")
    return verified, final, done


def timed_generate(question, max_tokens):
    start = time.monotonic()
    subprocess.run([OPG, "chat", "generate", "--model-file", str(MODEL), "--tokenizer", str(TOKENIZER), "--max-tokens", str(max_tokens),
                    "--message", f"user={question}"], check=True, capture_output=True, timeout=600)
    return time.monotonic() - start


def load():
    return os.getloadavg()[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("rounds", nargs="?", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="opg-chat-latency-"))
    node = start_devnet(work, block_interval_ms=1000)
    daemons = []
    try:
        register_and_stake(node, node.web3())
        files = {"chat": {"modelFile": str(MODEL), "tokenizerFile": str(TOKENIZER)}, "pollMs": 100, "logLevel": "info"}
        daemons = [Daemon(work, "provider", PROVIDER, **files).start(node)]
        daemons += [Daemon(work, "verifier", v, **files).start(node) for v in VERIFIERS]
        loads = [load()]
        warm = timed_chat(node, work, "Hello!", args.max_tokens)
        print(f"warm-up (daemons load the model): verified after {warm[0]:.1f} s, final after {warm[1]:.1f} s", flush=True)
        rows = []
        for i in range(args.rounds):
            question = QUESTIONS[i % len(QUESTIONS)]
            verified, final, _ = timed_chat(node, work, question, args.max_tokens)
            local = timed_generate(question, args.max_tokens)
            loads.append(load())
            rows.append((verified, final, local))
            print(f"round {i + 1}: {question!r}: verified {verified:.1f} s, final {final:.1f} s, local generate {local:.1f} s, "
                  f"load {loads[-1]:.1f}", flush=True)
    finally:
        for d in daemons:
            d.stop()
        node.stop()

    def spread(values, unit=" s", digits=1):
        return f"{median(values):.{digits}f}{unit} ({min(values):.{digits}f}–{max(values):.{digits}f})"

    verified, final, local = zip(*rows)
    print()
    print(f"{args.rounds} rounds, answers capped at {args.max_tokens} tokens, 1 s blocks, committee of 3, no challenge window; "
          f"1-minute load {min(loads):.1f}–{max(loads):.1f}")
    print()
    print("| message → | median (range) | network ÷ local `opg chat generate`, median (range) |")
    print("| --- | ---: | ---: |")
    print(f"| verified (quorum of 3 re-executions) | {spread(verified)} | {spread([v / l for v, l in zip(verified, local)], '×', 2)} |")
    print(f"| final (finalized) | {spread(final)} | {spread([f / l for f, l in zip(final, local)], '×', 2)} |")
    print(f"| peer: local `opg chat generate`, same message | {spread(local)} | 1 |")


if __name__ == "__main__":
    main()
