#!/usr/bin/env bash
# Runs every benchmark against its named peer in one run and prints Markdown tables for
# the README. Needs a release build (make build) and the venv (make venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/install-deps.sh wrk nginx-light
PY=.venv/bin/python
BIN=${OPG_BIN:-.build/release}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "## Machine"
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%d)"
echo
echo "## Sender recovery and block import"
"$BIN/opgd" bench --rounds 7
echo
echo "## Block sync"
"$BIN/opgd" bench-sync --rounds 7
echo
echo "## Attestation signatures in block execution"
"$BIN/opgd" bench-attestations --rounds 7
echo
echo "## Verified jobs end to end"
$PY tools/bench/job_bench.py
echo
echo "## Four validators"
$PY tools/bench/consensus_bench.py
echo
echo "## JSON-RPC"
$PY tools/bench/rpc_bench.py
echo
echo "## Hostile clients"
$PY tools/bench/hostile_bench.py
echo
echo "## Inference"
$PY tools/onnx/build_models.py "$work/models" >/dev/null
$PY tools/bench/inference_bench.py "$work/models"
echo
echo "## Inference on the chain"
$PY tools/bench/inference_chain_bench.py "$work/models"
echo
echo "## Execution traces"
$PY tools/bench/trace_bench.py
echo
echo "## Chat tokenizer"
$PY tools/chat/extract_tokenizer.py >/dev/null
$PY tools/chat/make_tokenizer_cases.py .build/chat/smollm2-tokenizer.json .build/chat/tokenizer-cases.json
$PY tools/bench/chat_tokenizer_bench.py
echo
echo "## Chat model"
$PY tools/bench/chat_model_bench.py 5
echo
echo "## Chat: message to verified answer"
$PY tools/bench/chat_latency_bench.py
