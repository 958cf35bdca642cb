#!/usr/bin/python3
"""Round trip of cellforge's exports (run by tests/test_export.cpp with Debian's python3):
the generated PyTorch module with cellforge's weights, the ONNX model through onnx.checker and
OpenCV's DNN module, each against cellforge's own logits. Prints one JSON object."""
import importlib.util
import json
import sys

import numpy as np


def main():
    module_file, weights_file, onnx_file, images_file, logits_file, shape = sys.argv[1:7]
    n, c, h, w = (int(v) for v in shape.split(","))
    images = np.fromfile(images_file, dtype=np.float32).reshape(n, c, h, w)
    expected = np.fromfile(logits_file, dtype=np.float32).reshape(n, -1)
    out = {}
    import torch
    torch.set_num_threads(1)
    spec = importlib.util.spec_from_file_location("exported", module_file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.CellforgeNet()
    out["torch_params"] = sum(p.numel() for p in model.parameters())
    mod.load_cellforge_weights(model, weights_file)
    model.eval()
    with torch.no_grad():
        got = model(torch.from_numpy(images)).numpy()
    out["torch_max_diff"] = float(np.abs(got - expected).max())
    import onnx
    m = onnx.load(onnx_file)
    onnx.checker.check_model(m)
    out["onnx_checker"] = True
    out["onnx_opset"] = m.opset_import[0].version
    import cv2
    net = cv2.dnn.readNetFromONNX(onnx_file)
    net.setInput(images)
    out["opencv_max_diff"] = float(np.abs(net.forward() - expected).max())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
