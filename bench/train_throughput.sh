#!/usr/bin/env bash
# Training throughput, back to back on this machine: Areya vs PyTorch vs Keras, same network
# (areya-cnn 32-64-128-256), same augmentation, batch 64, 2 threads, the same N images.
#   bench/train_throughput.sh [N_TRAIN=4000] [EPOCHS=3] [PRECISION=float32|bfloat16]
# bfloat16 compares mixed-precision training (Areya's --precision bfloat16 against PyTorch's
# autocast + channels-last); Keras is left out there.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-4000}
EPOCHS=${2:-3}
PRECISION=${3:-float32}
DATA="${AREYA_FER2013:-$(cd .. && pwd)/shared/fer2013}"
bench/setup >/dev/null
source scripts/env
cargo build --release --locked -q -p areya-cli

# The same sample for everyone: N train images (proportional per class) and N/8 val, as links.
SAMPLE=$(mktemp -d /tmp/areya-bench-XXXX)
trap 'rm -rf "$SAMPLE"' EXIT
python3 - "$DATA" "$SAMPLE" "$N" <<'PY'
import os, sys, random
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
classes = {"angry": "angry", "happy": "happy", "neutral": "relaxed", "sad": "sad"}
for split, count in (("train", n), ("val", max(4, n // 8))):
    files = {c: sorted(os.listdir(os.path.join(src, split, c))) for c in classes}
    total = sum(len(v) for v in files.values())
    rnd = random.Random(0)
    for c, name in classes.items():
        os.makedirs(os.path.join(dst, split, name))
        pick = rnd.sample(files[c], round(count * len(files[c]) / total))
        for f in pick:
            os.symlink(os.path.join(src, split, c, f), os.path.join(dst, split, name, f))
PY

echo "== areya"
rm -rf "$SAMPLE/run"
target/release/areya train --data "$SAMPLE" --classes angry,happy,relaxed,sad --epochs "$EPOCHS" \
  --no-early-stopping --no-reduce-lr --threads 2 --batch-size 64 --quiet --out "$SAMPLE/run" \
  --precision "$PRECISION" >/dev/null
AREYA=$(grep -o 'train [0-9.]* img/s' "$SAMPLE/run/train.log" | tail -n +2 | awk '{print $2}' | sort -g | tail -1)
echo "RESULT areya $AREYA img/s"
echo "== pytorch"
OUT=$(.venv/bin/python bench/train_pytorch.py --data "$SAMPLE" --epochs "$EPOCHS" --precision "$PRECISION")
echo "$OUT"
PT=$(echo "$OUT" | awk '/^RESULT/{print $3}')
KE=0
if [ "$PRECISION" = float32 ]; then
  echo "== keras"
  OUT=$(.venv-keras/bin/python bench/train_keras.py --data "$SAMPLE" --epochs "$EPOCHS" 2>/dev/null)
  echo "$OUT"
  KE=$(echo "$OUT" | awk '/^RESULT/{print $3}')
fi

python3 - "$AREYA" "$PT" "$KE" "$N" "$PRECISION" <<'PY'
import sys
a, p, k, n = map(float, sys.argv[1:5])
print(f"\nTraining throughput on {int(n)} FER-2013 images, 2 threads, {sys.argv[5]} (best epoch after the first):")
print(f"  areya   {a:8.1f} img/s")
print(f"  pytorch {p:8.1f} img/s   areya/pytorch = {a / p:.2f}x  (goal >= 1.2x)")
if k > 0:
    print(f"  keras   {k:8.1f} img/s   areya/keras   = {a / k:.2f}x  (goal >= 2x)")
PY
