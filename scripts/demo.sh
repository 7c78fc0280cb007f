#!/usr/bin/env bash
# The main job on a fresh machine: install, fetch a real corpus (Tux Paint
# stamps: ~960 images with English descriptions, ~136 sound effects) from
# Debian's packages, build an index with the offline `lite` stack, and answer
# text->image, text->audio and text->anything queries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
X=.venv/bin/xmodal
CACHE=${XMODAL_CACHE:-$HOME/.cache/xmodal}
OUT="$CACHE/indexes/tuxpaint.xmodal"
$X data fetch tuxpaint
$X index build "$CACHE/data/tuxpaint/pairs.jsonl" --model lite --out "$OUT"
$X index info "$OUT"
$X search "$OUT" "a red apple" -k 5 --target image
$X search "$OUT" "a dog barking" -k 5 --target audio
$X search "$OUT" "a musical instrument" -k 5
