#!/usr/bin/python3
"""PP-OCRv4 recognition model surgery for the plate recogniser (offline tool; needs Debian's
python3-onnx and python3-numpy, never the runtime).

  onnx_head.py features REC.onnx OUT.onnx
      the same model with one more output, `features`: the [N, T, 120] input of its final
      classification layer (the CTC head's MatMul + Add + Softmax over 6625 classes).
  onnx_head.py head REC.onnx
      prints the final layer's weight [120, 6625] and bias [6625] tensor names (sanity check).
  onnx_head.py export REC.onnx HEAD.npz OUT.onnx
      the same model with the final layer replaced by HEAD.npz's `w` [120, K] and `b` [K]
      (K = blank + the dictionary's characters + space), softmax kept.

The final layer is found as the MatMul feeding the last Add feeding the output Softmax; its
weights are Constant nodes in the PaddlePaddle-to-ONNX export (paddle2onnx).
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def final_layer(model):
    nodes = model.graph.node
    out = model.graph.output[0].name
    softmax = next(n for n in nodes if n.op_type == "Softmax" and n.output[0] == out)
    add = next(n for n in nodes if n.output[0] == softmax.input[0] and n.op_type == "Add")
    matmul = next(n for n in nodes if n.output[0] in add.input and n.op_type == "MatMul")
    bias_name = next(x for x in add.input if x != matmul.output[0])
    return matmul, matmul.input[0], matmul.input[1], bias_name


def set_constant(model, name, array):
    for n in model.graph.node:
        if n.op_type == "Constant" and n.output[0] == name:
            del n.attribute[:]
            n.attribute.append(helper.make_attribute("value", numpy_helper.from_array(array.astype(np.float32), name)))
            return
    for init in model.graph.initializer:
        if init.name == name:
            init.CopyFrom(numpy_helper.from_array(array.astype(np.float32), name))
            return
    raise SystemExit(f"no constant {name}")


def main(argv):
    if len(argv) >= 3 and argv[0] == "features":
        model = onnx.load(argv[1])
        _, feat, _, _ = final_layer(model)
        model.graph.output.append(helper.make_tensor_value_info(feat, onnx.TensorProto.FLOAT, None))
        onnx.save(model, argv[2])
        print(f"features output: {feat}")
    elif len(argv) >= 2 and argv[0] == "head":
        model = onnx.load(argv[1])
        print(final_layer(model)[1:])
    elif len(argv) >= 4 and argv[0] == "export":
        model = onnx.load(argv[1])
        _, _, w_name, b_name = final_layer(model)
        head = np.load(argv[2])
        set_constant(model, w_name, head["w"])
        set_constant(model, b_name, head["b"])
        # The output's class dimension changes.
        model.graph.output[0].type.tensor_type.shape.dim[2].dim_value = head["w"].shape[1]
        onnx.checker.check_model(model)
        onnx.save(model, argv[3])
        print(f"wrote {argv[3]}: {head['w'].shape[1]} classes")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
