#!/usr/bin/env bash
# Builds the training image pool: photos, textures and wallpapers from Debian
# packages that are NOT reserved for evaluation. The pool trains the
# vocabulary and feeds synthetic distractor targets (internal/synth.Pool).
#
#   scripts/fetch-training-images.sh            # into .cache/training
#   OPENCRS_TRAIN_DIR=/big/disk scripts/fetch-training-images.sh
#
# Result: $DIR/images/*.{jpg,png,webp} (short side >= 256 px, near-duplicates
# removed) and $DIR/images/SOURCES.tsv (file, package, original path).
# Idempotent: downloads, extractions and the final collection are each
# skipped when already done. Needs apt-get, dpkg-deb and go; not run in CI.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${OPENCRS_TRAIN_DIR:-$repo/.cache/training}
min_side=${OPENCRS_TRAIN_MIN_SIDE:-256}

# Packages whose images the evaluation set is built from. Training on them,
# or building distractors from them, would leak the test set.
reserved=(
	wesnoth-1.16-data opencv-doc opencv-data python3-skimage
	plasma-workspace-wallpapers mate-backgrounds lxqt-themes ukui-wallpapers
	gnome-backgrounds lomiri-wallpapers-16.04 lomiri-wallpapers-20.04
	sway-backgrounds xfdesktop4-data tuxpaint-stamps-default gimp-data
)

# Chosen for photographs, painted art and natural textures at a usable size.
# (enlightenment-data, openclonk-data and debian-edu-artwork-emerald were
# tried: their pictures are packed in archives or too small, and gave none.)
packages=(
	desktop-base
	debian-edu-artwork-softwaves
	debian-edu-artwork-spacefun
	endless-sky-data
	stellarium-data
	extremetuxracer-data
	supertuxkart-data
	hedgewars-data
	megaglest-data
	neverball-data
	supertux-data
	freedroidrpg-data
	marble-data
	pingus-data
)

for p in "${packages[@]}"; do
	for r in "${reserved[@]}"; do
		if [[ $p == "$r" ]]; then
			echo "fetch-training-images: $p is reserved for evaluation" >&2
			exit 1
		fi
	done
done

mkdir -p "$dir/debs" "$dir/root"
images=$dir/images
stamp="$images/.done"
# Bump collect= when poolcollect's selection rules change.
want="collect=3 packages=${packages[*]} min_side=$min_side"
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
	echo "fetch-training-images: $images is up to date ($(($(wc -l <"$images/SOURCES.tsv") - 1)) images)"
	exit 0
fi

for p in "${packages[@]}"; do
	if ! compgen -G "$dir/debs/${p}_*.deb" >/dev/null; then
		echo "fetch-training-images: downloading $p" >&2
		# apt-get download writes to the current directory; the partial
		# file only gets its final name when complete.
		(cd "$dir/debs" && apt-get download -q "$p")
	fi
	if [[ ! -f $dir/root/$p/.extracted ]]; then
		echo "fetch-training-images: extracting $p" >&2
		rm -rf "${dir:?}/root/$p"
		mkdir -p "$dir/root/$p"
		dpkg-deb -x "$dir"/debs/"${p}"_*.deb "$dir/root/$p"
		touch "$dir/root/$p/.extracted"
	fi
done

# Collect into a fresh directory and swap it in, so an interrupted run never
# leaves a half-built pool that looks complete.
rm -rf "$images.tmp"
pkg_dirs=()
for p in "${packages[@]}"; do
	pkg_dirs+=("$dir/root/$p")
done
(cd "$repo" && go run ./internal/synth/cmd/poolcollect -min "$min_side" -out "$images.tmp" "${pkg_dirs[@]}")
rm -rf "$images"
mv "$images.tmp" "$images"
echo "$want" >"$stamp"
echo "fetch-training-images: $(($(wc -l <"$images/SOURCES.tsv") - 1)) images in $images"
