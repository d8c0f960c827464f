"""Checks an ONNX file made by `areya export --onnx` with the ONNX project's own tools: the
checker with full shape inference, then onnxruntime on a batch of crops. Prints onnxruntime's
probabilities as JSON (one list per crop) for the caller to compare with Areya's.

usage: check_onnx.py MODEL.onnx CROPS.bin N   (CROPS.bin: N crops of S×S gray bytes)
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort

path, crops, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = onnx.load(path)
onnx.checker.check_model(model, full_check=True)
meta = {p.key: json.loads(p.value) for p in model.metadata_props}
s = meta["image_size"]
x = np.fromfile(crops, dtype=np.uint8).astype(np.float32).reshape(n, 1, s, s)
session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
(probs,) = session.run(["probabilities"], {"pixels": x})
assert probs.shape == (n, len(meta["classes"])), probs.shape
print(json.dumps({"classes": meta["classes"], "probabilities": probs.tolist()}))
