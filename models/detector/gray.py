"""Folds BlazeFace's RGB input into one gray channel: Areya only ever gives the detector gray
views (the same value in R, G and B), so the first convolution's weights summed over the three
input channels give the same outputs from a 128x128x1 input at a third of that layer's cost.
usage: python gray.py IN.onnx OUT.onnx   (needs numpy and onnx)"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

src, dst = sys.argv[1], sys.argv[2]
m = onnx.load(src)
g = m.graph
(inp,) = g.input
dims = inp.type.tensor_type.shape.dim
assert [d.dim_value for d in dims] == [1, 128, 128, 3], "expected a 1x128x128x3 input"
first = [n for n in g.node if inp.name in n.input]
assert len(first) == 1 and first[0].op_type == "Transpose", "expected the input transposed"
conv = [n for n in g.node if first[0].output[0] in n.input]
assert len(conv) == 1 and conv[0].op_type == "Conv", "expected one convolution on the input"
wname = conv[0].input[1]
assert sum(wname in n.input for n in g.node) == 1, "the weights must be this layer's own"
(w,) = [t for t in g.initializer if t.name == wname]
arr = numpy_helper.to_array(w)
assert arr.shape[1] == 3, f"weights {arr.shape}: not three input channels"
w.CopyFrom(numpy_helper.from_array(arr.sum(axis=1, keepdims=True).astype(arr.dtype), wname))
dims[3].dim_value = 1
onnx.checker.check_model(m)
onnx.save(m, dst)
print(f"{dst}: input 1x128x128x1, first convolution {arr.shape} -> {w.dims}")
