#!/bin/sh
# heldout-gap.sh: the "same recall within 1 point with 10,000 distractors"
# check on data the engine was not tuned on. The training pool is split by
# Debian package (md5 of the package name, mod 3): a third makes a
# development set (opencrs devset: targets, their synthetic views and
# negatives), the rest the distractors, so that no distractor is cut from a
# picture of the set. Prints recall without and with the distractors.
#
# Needs the pool (scripts/fetch-training-images.sh). Opt-in, not run by CI;
# about 5 minutes on 2 cores.
set -eu
pool=${OPENCRS_TRAIN_DIR:-.cache/training}/images
out=${1:-.cache/heldout}
bin=${OPENCRS_BIN:-}
if [ -z "$bin" ]; then
	bin=$(mktemp -d)/opencrs
	go build -o "$bin" ./cmd/opencrs
fi
mkdir -p "$out/poolA" "$out/poolB"
abs=$(cd "$pool" && pwd)
for pkg in $(ls "$pool" | grep -i -E '\.(jpe?g|png|webp)$' | sed 's/__.*//' | sort -u); do
	# The md5 mod 3: 16 ≡ 1 (mod 3), so it is the sum of its hex digits mod 3.
	sum=0
	for d in $(printf %s "$pkg" | md5sum | cut -c1-32 | fold -w1); do sum=$((sum + 0x$d)); done
	if [ $((sum % 3)) -eq 0 ]; then side=A; else side=B; fi
	for name in $(ls "$pool" | grep -i -E '\.(jpe?g|png|webp)$' | grep -F "${pkg}__"); do
		[ -e "$out/pool$side/$name" ] || ln -s "$abs/$name" "$out/pool$side/$name"
	done
done
echo "pool A: $(ls "$out/poolA" | wc -l) images, pool B: $(ls "$out/poolB" | wc -l) images"
[ -f "$out/devset/truth.jsonl" ] ||
	"$bin" devset -pool "$out/poolA" -out "$out/devset" -targets 250 -negatives 250 -seed 11
for n in 0 10000; do
	"$bin" eval --data "$out/devset" --skip-unusable --workers 1 --distractors $n \
		--pool "$out/poolB" --distractor-cache "$out/dcache" --json "$out/report-$n.json" 2>/dev/null |
		sed -n '1,/negative/p'
done
