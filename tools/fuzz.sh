#!/usr/bin/env bash
# Builds every libFuzzer target under Fuzz/ (they exist only with OPG_FUZZ=1) with
# AddressSanitizer and runs each for $FUZZ_SECS seconds over a copy of its corpus.
# Exits non-zero when a target finds a crash; the reproducer is left in .build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECS:-60}
export SWIFT_BACKTRACE=enable=no
for dir in ${FUZZ_TARGETS:-Fuzz/*/}; do
    name=$(basename "$dir")
    mkdir -p .build-fuzz
    if ! OPG_FUZZ=1 swift build -c debug --sanitize=fuzzer --sanitize=address --product "$name" \
            --scratch-path .build-fuzz >.build-fuzz/"$name".build.log 2>&1; then
        echo "building $name failed:" >&2
        grep -E "error" .build-fuzz/"$name".build.log | head -n 20 >&2
        exit 1
    fi
    work=.build-fuzz/corpus-$name
    mkdir -p "$work"
    cp -n "$dir"corpus/* "$work"/ 2>/dev/null || true
    echo "fuzzing $name for ${secs}s"
    rm -f .build-fuzz/"$name"-crash-* .build-fuzz/"$name"-leak-* .build-fuzz/"$name"-timeout-* .build-fuzz/"$name"-oom-*
    status=0
    .build-fuzz/debug/"$name" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix=.build-fuzz/"$name"- "$work" >.build-fuzz/"$name".log 2>&1 || status=$?
    grep -E "stat::number_of_executed_units|^==[0-9]+==ERROR|^SUMMARY" .build-fuzz/"$name".log || true
    artifacts=$(find .build-fuzz -maxdepth 1 -name "$name-*-*" -type f ! -name "*.log" | sort)
    if [ "$status" -ne 0 ] || [ -n "$artifacts" ]; then
        echo "$name failed (exit $status); log: .build-fuzz/$name.log; reproducer(s): ${artifacts:-none}" >&2
        tail -n 40 .build-fuzz/"$name".log >&2
        exit 1
    fi
done
