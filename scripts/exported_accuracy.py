#!/usr/bin/python3
"""Test-set accuracy of a network exported by `cellforge export` (from a trained directory), run
with plain PyTorch on the raw test images: shows that the exported module, its weights and its
normalise() reproduce the accuracy cellforge measured.

    /usr/bin/python3 scripts/exported_accuracy.py exported/NAME.py exported/NAME.weights.bin DATA_DIR \
        [exported/NAME.onnx]

With the ONNX file, OpenCV's DNN module also runs it, normalising with the model's metadata
(input_mean, input_std). DATA_DIR holds IDX files (t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) or CIFAR-10
binary batches (test_batch.bin). Prints one JSON object: images, correct, accuracy (and
onnx_correct, onnx_accuracy)."""
import gzip
import importlib.util
import json
import os
import struct
import sys

import numpy as np
import torch


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    dims = struct.unpack(">" + "I" * (magic & 0xFF), data[4 : 4 + 4 * (magic & 0xFF)])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def find(data_dir, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(data_dir, candidate)
        if os.path.exists(path):
            return path
    return None


def load_test_set(data_dir):
    images = find(data_dir, "t10k-images-idx3-ubyte")
    labels = find(data_dir, "t10k-labels-idx1-ubyte")
    if images and labels:
        x = read_idx(images)
        return x.reshape(x.shape[0], 1, x.shape[1], x.shape[2]), read_idx(labels)
    for sub in ("", "cifar-10-batches-bin"):
        path = os.path.join(data_dir, sub, "test_batch.bin")
        if os.path.exists(path):
            records = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)
            return records[:, 1:].reshape(-1, 3, 32, 32), records[:, 0]
    sys.exit(f"{data_dir}: no IDX test files (t10k-*) and no CIFAR-10 test_batch.bin")


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    module_file, weights_file, data_dir = sys.argv[1:4]
    spec = importlib.util.spec_from_file_location("exported", module_file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.CellforgeNet()
    mod.load_cellforge_weights(model, weights_file)
    model.eval()
    images, labels = load_test_set(data_dir)
    correct = 0
    with torch.no_grad():
        for start in range(0, len(labels), 256):
            pixels = torch.from_numpy(np.array(images[start : start + 256]))  # a writable copy
            logits = model(mod.normalise(pixels))
            correct += int((logits.argmax(1).numpy() == labels[start : start + 256]).sum())
    out = {"images": int(len(labels)), "correct": correct, "accuracy": correct / len(labels)}
    if len(sys.argv) == 5:
        out["onnx_correct"] = onnx_correct(sys.argv[4], images, labels)
        out["onnx_accuracy"] = out["onnx_correct"] / len(labels)
    print(json.dumps(out))


def onnx_correct(onnx_file, images, labels):
    import cv2
    import onnx

    meta = {p.key: p.value for p in onnx.load(onnx_file).metadata_props}
    if "input_mean" not in meta:
        sys.exit(f"{onnx_file}: no input_mean/input_std metadata (export the trained directory)")
    mean = np.array([float(v) for v in meta["input_mean"].split(",")], dtype=np.float32).reshape(1, -1, 1, 1)
    std = np.array([float(v) for v in meta["input_std"].split(",")], dtype=np.float32).reshape(1, -1, 1, 1)
    scale, shift = np.float32(1.0) / (np.float32(255.0) * std), -mean / std
    net = cv2.dnn.readNetFromONNX(onnx_file)
    correct = 0
    for start in range(0, len(labels), 256):
        x = images[start : start + 256].astype(np.float32) * scale + shift
        net.setInput(np.ascontiguousarray(x, dtype=np.float32))
        correct += int((net.forward().argmax(1) == labels[start : start + 256]).sum())
    return correct


if __name__ == "__main__":
    main()
