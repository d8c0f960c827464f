#!/usr/bin/env bash
# Reproduces face_detection_short_range.onnx: BlazeFace short-range (Google MediaPipe,
# Apache-2.0) as shipped inside the PyPI wheel mediapipe==0.10.21, converted from TFLite to ONNX
# (opset 13) with tf2onnx, its RGB input folded into one gray channel (gray.py: Areya's views
# are gray), then checked against the TFLite interpreter on random gray input.
# Needs only PyPI; runs in a throw-away virtual environment; no network at run time of Areya.
# usage: models/detector/convert.sh   (writes next to this script; prints the SHA-256)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
pip="$work/venv/bin/pip --disable-pip-version-check -q"
$pip download --no-deps "mediapipe==0.10.21" --platform manylinux_2_28_x86_64 \
  --python-version 3.11 --only-binary=:all: -d "$work/wheel"
$pip install "tensorflow-cpu==2.15.1" "tf2onnx==1.16.1" "numpy==1.26.4" "onnx==1.16.2" \
  "protobuf==3.20.3" "onnxruntime==1.20.1"
wheel="$(ls "$work"/wheel/mediapipe-0.10.21-*.whl)"
python3 -m zipfile -e "$wheel" "$work/mp" >/dev/null
tflite="$work/mp/mediapipe/modules/face_detection/face_detection_short_range.tflite"
cp "$work/mp/mediapipe-0.10.21.dist-info/LICENSE" "$here/LICENSE"
"$work/venv/bin/python" -m tf2onnx.convert --tflite "$tflite" \
  --output "$work/rgb.onnx" --opset 13 2>&1 | grep -v INFO || true
"$work/venv/bin/python" "$here/gray.py" "$work/rgb.onnx" "$here/face_detection_short_range.onnx"
TF_CPP_MIN_LOG_LEVEL=3 "$work/venv/bin/python" - "$tflite" "$here/face_detection_short_range.onnx" <<'PY'
import sys, numpy as np, tensorflow as tf, onnxruntime as ort
tfl, onx = sys.argv[1], sys.argv[2]
it = tf.lite.Interpreter(model_path=tfl); it.allocate_tensors()
inp = it.get_input_details()[0]
gray = np.random.RandomState(0).uniform(-1, 1, (1, 128, 128, 1)).astype(np.float32)
it.set_tensor(inp["index"], np.repeat(gray, 3, axis=3)); it.invoke()
ref = {o["name"]: it.get_tensor(o["index"]) for o in it.get_output_details()}
s = ort.InferenceSession(onx)
for o, v in zip(s.get_outputs(), s.run(None, {s.get_inputs()[0].name: gray})):
    err = float(np.abs(v - ref[o.name]).max())
    print(f"{o.name} {v.shape}: largest difference to TFLite {err:.2e}")
    assert err < 1e-3, o.name
PY
sha256sum "$here/face_detection_short_range.onnx" "$tflite" | sed "s|$work/mp/||; s|$here/||"
