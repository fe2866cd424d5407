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
gcc -O2 -o "$work/recover_loop" tools/bench/recover_loop.c -lsecp256k1
c_rate=$("$work/recover_loop" 20000 2>/dev/null)
"$BIN/opgd" bench --c-recover-rate "$c_rate"
echo
echo "## JSON-RPC"
$PY tools/bench/rpc_bench.py
echo
echo "## Inference"
if "$BIN/opg" model --help >/dev/null 2>&1; then
    $PY tools/onnx/build_models.py "$work/models" >/dev/null
    $PY tools/bench/inference_bench.py "$work/models"
else
    echo "(skipped: this build has no \`opg model\` yet; see issue 3)"
fi
