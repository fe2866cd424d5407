#!/usr/bin/env bash
# Builds every libFuzzer target under Fuzz/ (they exist only with OPG_FUZZ=1) with coverage
# instrumentation and AddressSanitizer, and runs each for $FUZZ_SECS seconds starting from a
# fresh copy of its committed seed corpus (Fuzz/NAME/corpus). A target fails when it
#   - crashes, leaks, times out or runs out of memory (the reproducer is left in .build-fuzz/);
#   - loads fewer coverage counters than its floor below: the code it exercises is not
#     instrumented (libFuzzer's "INFO: Loaded N modules (M inline 8-bit counters)");
#   - starts below its floor of covered edges once the seeds are run ("INITED cov: N"): the
#     seeds no longer reach deep into the code;
#   - ends with no more coverage than the seeds gave: the final line's `ft:` (features: edges
#     and their hit-count buckets) must exceed INITED's, so mutation found something new.
# Figures of the last run per target: .build-fuzz/NAME.log. FUZZ_TARGETS narrows the list.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECS:-60}
export SWIFT_BACKTRACE=enable=no

# Floors: coverage counters loaded, and edges covered by the seed corpus alone. Set at about
# 80% of what an instrumented build measured (README "Fuzzing"), so a module that loses its
# instrumentation or a seed corpus that stops reaching the decoders fails the run.
declare -A min_counters=(
    [FuzzABI]=3650 [FuzzChainData]=17000 [FuzzJSON]=1750 [FuzzJSONRPC]=21900 [FuzzONNX]=21700 [FuzzRLP]=3600
    [FuzzTransaction]=16900 [FuzzInferenceCall]=73500
    [FuzzEvidence]=104000
    [FuzzConsensusWire]=130700
    [FuzzP2PFrame]=11150 [FuzzNoiseHandshake]=11100 [FuzzTokenizer]=8000 [FuzzJobDecoders]=99200
    [FuzzSyncMessages]=129300
)
declare -A min_seed_cov=(
    [FuzzABI]=360 [FuzzChainData]=495 [FuzzJSON]=295 [FuzzJSONRPC]=2650 [FuzzONNX]=4050 [FuzzRLP]=95
    [FuzzTransaction]=620 [FuzzInferenceCall]=3180
    [FuzzEvidence]=1370
    [FuzzConsensusWire]=735
    [FuzzP2PFrame]=176 [FuzzNoiseHandshake]=500 [FuzzTokenizer]=2080 [FuzzJobDecoders]=750
    [FuzzSyncMessages]=590
)
# Longest input libFuzzer makes: 64 KiB, more for ONNX so the committed real models (up to
# 132 KiB) are read whole, and for the sync messages so a block in parts (over 64 KiB) fits.
declare -A max_len=([FuzzONNX]=196608 [FuzzSyncMessages]=196608)

# SwiftPM turns `--sanitize=fuzzer --sanitize=address` into two `-sanitize=` options in the
# order of a Swift Set (hash order, random per `swift build` process), and the Swift driver
# passes only the LAST `-sanitize=` option to the compiler (the link step merges them). So each
# build compiled the Swift modules with either coverage or ASan, never both, flipping at random
# whenever SwiftPM rewrote its build manifest. One comma-joined option, placed last by -Xswiftc,
# gives every Swift module both; --sanitize=fuzzer and -Xcc cover C targets and the link.
build_flags=(-c debug --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=address
             --scratch-path .build-fuzz)

# The number after "NAME: " in one of libFuzzer's status lines.
field() { sed -nE "s/.* $1: ([0-9]+) .*/\1/p" <<<"$2"; }

fail() {
    echo "$name failed: $1; log: .build-fuzz/$name.log" >&2
    exit 1
}

mkdir -p .build-fuzz
for dir in ${FUZZ_TARGETS:-Fuzz/*/}; do
    name=$(basename "$dir")
    [ -n "${min_counters[$name]:-}" ] && [ -n "${min_seed_cov[$name]:-}" ] \
        || { echo "$name has no coverage floors in tools/fuzz.sh" >&2; exit 1; }
    if ! OPG_FUZZ=1 swift build "${build_flags[@]}" --product "$name" >.build-fuzz/"$name".build.log 2>&1; then
        echo "building $name failed:" >&2
        grep -E "error" .build-fuzz/"$name".build.log | head -n 20 >&2
        exit 1
    fi
    work=.build-fuzz/corpus-$name
    rm -rf "$work"
    mkdir -p "$work"
    cp "$dir"corpus/* "$work"/
    echo "fuzzing $name for ${secs}s"
    rm -f .build-fuzz/"$name"-crash-* .build-fuzz/"$name"-leak-* .build-fuzz/"$name"-timeout-* .build-fuzz/"$name"-oom-*
    status=0
    .build-fuzz/debug/"$name" -max_total_time="$secs" -max_len="${max_len[$name]:-65536}" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix=.build-fuzz/"$name"- "$work" >.build-fuzz/"$name".log 2>&1 || status=$?
    grep -E "^==[0-9]+==ERROR|^SUMMARY" .build-fuzz/"$name".log || true
    artifacts=$(find .build-fuzz -maxdepth 1 -name "$name-*-*" -type f ! -name "*.log" | sort)
    if [ "$status" -ne 0 ] || [ -n "$artifacts" ]; then
        tail -n 40 .build-fuzz/"$name".log >&2
        fail "exit $status; reproducer(s): ${artifacts:-none}"
    fi

    log=.build-fuzz/$name.log
    counters=$(sed -nE 's/^INFO: Loaded [0-9]+ modules +\(([0-9]+) inline 8-bit counters\).*/\1/p' "$log" | head -n 1)
    inited=$(grep -E '^#[0-9]+[[:space:]]+INITED' "$log" | head -n 1 || true)
    last=$(grep -E '^#[0-9]+[[:space:]]+[A-Z]+ .*cov: ' "$log" | tail -n 1 || true)
    seed_cov=$(field cov "$inited"); seed_ft=$(field ft "$inited")
    end_cov=$(field cov "$last"); end_ft=$(field ft "$last")
    execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
    echo "  counters ${counters:-none}, edges from seeds ${seed_cov:-none} -> ${end_cov:-none}," \
         "features ${seed_ft:-none} -> ${end_ft:-none}, executions ${execs:-none}"
    [ -n "$counters" ] && [ "$counters" -ge "${min_counters[$name]}" ] \
        || fail "${counters:-no} coverage counters loaded, floor ${min_counters[$name]}: not instrumented"
    [ -n "$seed_cov" ] && [ "$seed_cov" -ge "${min_seed_cov[$name]}" ] \
        || fail "the seed corpus covers ${seed_cov:-no} edges, floor ${min_seed_cov[$name]}"
    [ -n "$end_ft" ] && [ "$end_cov" -ge "$seed_cov" ] && [ "$end_ft" -gt "$seed_ft" ] \
        || fail "coverage did not grow beyond the seed corpus (features $seed_ft -> ${end_ft:-none})"
done
