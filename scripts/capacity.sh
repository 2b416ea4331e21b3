#!/usr/bin/env bash
# capacity.sh: the runs behind docs/CAPACITY.md. Measured: the public
# evaluation set with 800, 10,000 and 100,000 real distractor targets
# (rendered from the training pool, features extracted like any target).
# SIMULATED: 1,000,000 feature-level synthetic distractors (internal/featsynth)
# over a quarter of the queries. Writes reports to $OUT (default
# /tmp/capacity), then the table (stdout) and docs/capacity.svg.
#
# Needs scripts/fetch-training-images.sh first. The distractor cache
# (.cache/dcache, ~7 GB at 100k) makes reruns skip rendering and extraction.
# Takes about an hour on 2 cores the first time. Latency figures want an
# otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/capacity}
data=${DATA:-../shared/eval}
mkdir -p "$out"
go build -o "$out/opencrs" ./cmd/opencrs
bin="$out/opencrs"

for n in 800 10000 100000; do
	/usr/bin/time -v "$bin" eval --data "$data" --distractors "$n" --distractor-cache .cache/dcache \
		--workers 1 --restart --json "$out/real$n.json" 2> >(grep -v '^\(targets\|distractors\|queries\) *\[' >"$out/real$n.err") |
		tee "$out/real$n.txt"
done

# A quarter of the queries (every 4th line of truth.jsonl), all targets.
sub="$out/evalsub"
mkdir -p "$sub"
ln -sfn "$(realpath "$data/targets")" "$sub/targets"
ln -sfn "$(realpath "$data/queries")" "$sub/queries"
awk 'NR%4==1' "$data/truth.jsonl" >"$sub/truth.jsonl"
/usr/bin/time -v "$bin" eval --data "$sub" --synthetic 1000000 --synthetic-shared-features \
	--synthetic-base .cache/dcache --vote-max-postings "${SIM_MAX_POSTINGS:-0}" \
	--workers 1 --json "$out/sim1m.json" 2> >(grep -v '^\(targets\|synthetic\|queries\) *\[' >"$out/sim1m.err") |
	tee "$out/sim1m.txt"

go run ./scripts/capacity-chart -out docs/capacity.svg "$out"/real*.json "$out"/sim1m.json
