#!/usr/bin/env bash
# Areya's vision pipeline vs. the `fer` package's, back-to-back on the same 640x480 frames
# (FER-2013 val faces pasted into plain frames), on one core and on two; prints the ratios.
# usage: [DETECTOR=blazeface|seetaface] bench/vision_pipeline.sh [N_FRAMES]   (needs bench/setup and
# ../shared/fer2013; DETECTOR picks Areya's face detector, blazeface by default)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-200}"
DATA="${AREYA_FER2013:-../shared/fer2013}"
source scripts/env
cargo build --release --locked -p areya-vision --example pipeline_bench >/dev/null
FRAMES="$(mktemp -d)"
trap 'rm -rf "$FRAMES"' EXIT
target/release/examples/pipeline_bench make "$DATA/val" "$FRAMES" "$N"
areya=$(target/release/examples/pipeline_bench run "$FRAMES" models/areya-fer4 | tee /dev/stderr)
fer1=$(.venv-keras/bin/python bench/fer_pipeline.py "$FRAMES" 1 | tee /dev/stderr)
fer2=$(.venv-keras/bin/python bench/fer_pipeline.py "$FRAMES" 2 | tee /dev/stderr)
fps() { grep -o "$1[^:]*: [0-9.]*" <<<"$2" | grep -o '[0-9.]*$'; }
a1=$(fps "end-to-end, 1 thread" "$areya"); a2=$(fps "end-to-end, 2 threads" "$areya")
f1=$(fps "fer end-to-end, 1 worker" "$fer1"); f2=$(fps "fer end-to-end, 2 worker" "$fer2")
python3 -c "print(f'ratio Areya/fer: one core {$a1/$f1:.2f}x, two cores {$a2/$f2:.2f}x (goal >= 3x; Areya >= 25 frames/s per core: {$a1:.1f})')"
