#!/usr/bin/python3
"""Test-set accuracy of a network exported by `cellforge export` (from a trained directory), run
with plain PyTorch on the raw test images: shows that the exported module, its weights and its
normalise() reproduce the accuracy cellforge measured.

    /usr/bin/python3 scripts/exported_accuracy.py exported/NAME.py exported/NAME.weights.bin DATA_DIR \
        [exported/NAME.onnx] [--resize resize|center_crop]

With the ONNX file, OpenCV's DNN module also runs it, normalising with the model's metadata
(input_mean, input_std). DATA_DIR holds IDX files (t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]), CIFAR-10
binary batches (test_batch.bin), NumPy test files (test.npz, or test_images.npy and test_labels.npy) or an image
folder's DATA_DIR/test/<class>/ images, decoded with OpenCV and converted to the module's INPUT_SHAPE as cellforge
does (--resize: data.resize when the sizes differ); folder labels follow the module's CLASSES. Prints one JSON
object: images, correct, accuracy (and onnx_correct, onnx_accuracy)."""
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


def convert_image(image, shape, resize):
    """An OpenCV image (grey, BGR or BGRA) as cellforge's trainer stores it: C x H x W, RGB order."""
    import cv2

    channels, height, width = shape
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if channels == 3 else image
    elif channels == 1:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)

    def scaled(img, h, w):
        shrink = h * w < img.shape[0] * img.shape[1]
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    if image.shape[:2] != (height, width):
        if resize == "center_crop":
            rows, cols = image.shape[:2]
            tall = rows > cols
            shorter, longer = (cols, rows) if tall else (rows, cols)
            scaled_longer = max(height, longer * height // shorter)
            image = scaled(image, scaled_longer, height) if tall else scaled(image, height, scaled_longer)
            y, x = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
            image = image[y : y + height, x : x + width]
        else:
            image = scaled(image, height, width)
    image = image.reshape(height, width, -1)
    return image.transpose(2, 0, 1)


def load_folder_test_set(test_dir, classes, shape, resize):
    import cv2

    if classes is None:
        sys.exit("the module has no CLASSES (export the directory that cellforge train wrote)")
    images, labels = [], []
    for name in sorted(os.listdir(test_dir)):
        if name.startswith(".") or not os.path.isdir(os.path.join(test_dir, name)):
            continue
        if name not in classes:
            sys.exit(f"{test_dir}/{name}: not one of the network's classes")
        for root, dirs, files in os.walk(os.path.join(test_dir, name)):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for file in sorted(files):
                if file.startswith(".") or os.path.splitext(file)[1].lower() not in (".png", ".jpg", ".jpeg", ".bmp"):
                    continue
                image = cv2.imread(os.path.join(root, file), cv2.IMREAD_ANYCOLOR)
                if image is None:
                    sys.exit(f"{os.path.join(root, file)}: cannot decode")
                images.append(convert_image(image, shape, resize))
                labels.append(classes.index(name))
    return np.stack(images), np.array(labels)


def numpy_images(x):
    if x.dtype != np.uint8:
        x = np.rint(x.astype(np.float64) * 255).astype(np.uint8)
    if x.ndim == 3:
        return x[:, None]
    return x.transpose(0, 3, 1, 2) if x.shape[3] in (1, 3) else x


def load_test_set(data_dir, module, resize):
    if os.path.isdir(os.path.join(data_dir, "test")):
        return load_folder_test_set(os.path.join(data_dir, "test"), module.CLASSES, module.INPUT_SHAPE, resize)
    if os.path.exists(os.path.join(data_dir, "test.npz")):
        with np.load(os.path.join(data_dir, "test.npz")) as z:
            return numpy_images(z["images"]), z["labels"].reshape(-1)
    if os.path.exists(os.path.join(data_dir, "test_images.npy")):
        x = np.load(os.path.join(data_dir, "test_images.npy"))
        return numpy_images(x), np.load(os.path.join(data_dir, "test_labels.npy")).reshape(-1)
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
    sys.exit(f"{data_dir}: no IDX test files (t10k-*), CIFAR-10 test_batch.bin, NumPy test files or test/ folder")


def main():
    args = sys.argv[1:]
    resize = "resize"
    if "--resize" in args:
        at = args.index("--resize")
        resize = args[at + 1] if at + 1 < len(args) else ""
        del args[at : at + 2]
        if resize not in ("resize", "center_crop"):
            sys.exit("--resize: resize or center_crop")
    if len(args) not in (3, 4):
        sys.exit(__doc__)
    module_file, weights_file, data_dir = args[:3]
    spec = importlib.util.spec_from_file_location("exported", module_file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.CellforgeNet()
    mod.load_cellforge_weights(model, weights_file)
    model.eval()
    images, labels = load_test_set(data_dir, mod, resize)
    correct = 0
    with torch.no_grad():
        for start in range(0, len(labels), 256):
            pixels = torch.from_numpy(np.array(images[start : start + 256]))  # a writable copy
            logits = model(mod.normalise(pixels))
            correct += int((logits.argmax(1).numpy() == labels[start : start + 256]).sum())
    out = {"images": int(len(labels)), "correct": correct, "accuracy": correct / len(labels)}
    if len(args) == 4:
        out["onnx_correct"] = onnx_correct(args[3], images, labels)
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
