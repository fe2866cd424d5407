#!/usr/bin/env bash
# Builds every libFuzzer target under Fuzz/ (they exist only with OPG_FUZZ=1) with
# AddressSanitizer and runs each for $FUZZ_SECS seconds over a copy of its corpus.
# Exits non-zero when a target finds a crash; the reproducer is left in .build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECS:-60}
export SWIFT_BACKTRACE=enable=no
for dir in Fuzz/*/; do
    name=$(basename "$dir")
    OPG_FUZZ=1 swift build -c debug --sanitize=fuzzer --sanitize=address --product "$name" --scratch-path .build-fuzz >/dev/null
    work=.build-fuzz/corpus-$name
    mkdir -p "$work"
    cp -n "$dir"corpus/* "$work"/ 2>/dev/null || true
    echo "fuzzing $name for ${secs}s"
    .build-fuzz/debug/"$name" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix=.build-fuzz/"$name"- "$work" 2>&1 | grep -E "stat::number_of_executed_units|ERROR|crash" || true
    if ls .build-fuzz/"$name"-crash-* .build-fuzz/"$name"-leak-* >/dev/null 2>&1; then
        echo "$name found a failure: $(ls .build-fuzz/"$name"-crash-* .build-fuzz/"$name"-leak-* 2>/dev/null)" >&2
        exit 1
    fi
done
