#!/usr/bin/python3
"""Training parity: cellforge and PyTorch 1.13 train the same network with the same settings on
the same split, several seeds per arm; prints each arm's mean, standard deviation and standard
error of the validation accuracy and Welch's t against the PyTorch arm (issue 19).

Every arm uses the network cellforge exports (`cellforge export --format pytorch`: the same graph,
checked by the export round-trip tests), the split cellforge drew for the seed (`train
--save-trace` writes the image indices), normalisation by the training split's per-channel mean
and standard deviation, batch 64 (the last partial batch of an epoch waits), SGD with Nesterov
momentum 0.9, a per-step cosine learning rate from 0.05 to 0, weight decay 3e-4, no augmentation,
no gradient clipping, BN momentum 0.1 and eps 1e-3.

Arms (--arms, comma-separated):
  cellforge            cellforge train with its defaults (uniform_fan_in init, decay on weights)
  cellforge-he         ... --init he_normal (the default before this study)
  cellforge-uniform    ... --init uniform_fan_in (PyTorch's default init; the default now)
  cellforge-all-decay  ... --decay-scope all (weight decay on BN and biases too, as PyTorch's SGD)
  pytorch              PyTorch: its default init, its own data order, decay on every parameter
  pytorch-he           PyTorch from cellforge's initial weights (He-normal), own order
--replay SEED: PyTorch starts from cellforge's initial weights and trains in cellforge's data
order with cellforge's decay scope; prints how near the two loss curves are.

Each run's result is kept in OUT/<arm>-seed<S>.json and reused, so an interrupted study continues
where it stopped.  Usage:
  bench/parity.py --out runs/parity [--seeds 1,2,3,4,5] [--arms cellforge-he,cellforge,pytorch]
                  [--replay 1]
"""
import argparse
import gzip
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

CELLFORGE_ARMS = {
    "cellforge": [],
    "cellforge-he": ["--init", "he_normal"],
    "cellforge-uniform": ["--init", "uniform_fan_in"],
    "cellforge-all-decay": ["--decay-scope", "all"],
}
PYTORCH_ARMS = {"pytorch": "default", "pytorch-he": "cellforge"}

LR, MOMENTUM, WEIGHT_DECAY, BATCH = 0.05, 0.9, 3e-4, 64


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cellforge", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                        "cellforge"))
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", required=True, help="directory for the runs' results (reused)")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--arms", default="cellforge,pytorch")
    ap.add_argument("--arch", default="nasnet_a")
    ap.add_argument("--cells-per-stack", type=int, default=2)
    ap.add_argument("--filters", type=int, default=16)
    ap.add_argument("--train-images", type=int, default=10000)
    ap.add_argument("--valid-images", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="PyTorch's threads (default: --threads); 1 keeps PyTorch from collapsing "
                         "on a busy machine (accuracy does not depend on it)")
    ap.add_argument("--replay", type=int, default=None, metavar="SEED",
                    help="also replay cellforge's run of SEED in PyTorch and compare the losses")
    return ap.parse_args()


def read_idx(path):
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def idx_file(data_dir, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    sys.exit(f"parity: {data_dir}: no {stem}[.gz]")


class Data:
    """The IDX training files, split as a cellforge trace says, normalised as cellforge does."""

    def __init__(self, data_dir, trace):
        images = read_idx(idx_file(data_dir, "train-images-idx3-ubyte"))
        labels = read_idx(idx_file(data_dir, "train-labels-idx1-ubyte"))
        train, valid = trace["train_source"], trace["valid_source"]
        pixels = torch.from_numpy(images[train].astype(np.float32)).unsqueeze(1)
        mean = pixels.mean() / 255.0
        std = (pixels / 255.0).std(unbiased=False)
        self.train_x = pixels * (1.0 / (255.0 * std)) + (-mean / std)
        self.train_y = torch.from_numpy(labels[train].astype(np.int64))
        v = torch.from_numpy(images[valid].astype(np.float32)).unsqueeze(1)
        self.valid_x = v * (1.0 / (255.0 * std)) + (-mean / std)
        self.valid_y = torch.from_numpy(labels[valid].astype(np.int64))


def run_cellforge(args, arm, seed, out):
    path = os.path.join(out, f"{arm}-seed{seed}.json")
    if os.path.exists(path):
        return json.load(open(path))
    trace_file = os.path.join(out, f"{arm}-seed{seed}.trace.json")
    init_file = os.path.join(out, f"{arm}-seed{seed}.init.bin")
    cmd = [args.cellforge, "train", "--arch", args.arch, "--cells-per-stack",
           str(args.cells_per_stack), "--filters", str(args.filters), "--data-dir", args.data_dir,
           "--train-images", str(args.train_images), "--valid-images", str(args.valid_images),
           "--epochs", str(args.epochs), "--batch", str(BATCH), "--lr", str(LR),
           "--weight-decay", str(WEIGHT_DECAY), "--momentum", str(MOMENTUM), "--no-augment",
           "--clip-norm", "0", "--threads", str(args.threads), "--seed", str(seed), "--json",
           "--save-trace", trace_file, "--save-init", init_file] + CELLFORGE_ARMS[arm]
    t0 = time.time()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"parity: {' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    record = {"arm": arm, "seed": seed, "valid_accuracy": result["valid_accuracy"],
              "seconds": time.time() - t0, "command": " ".join(cmd[1:])}
    json.dump(record, open(path, "w"))
    return record


def load_model(args, out, weights=None):
    """The network as cellforge exports it; PyTorch's default init unless weights are given."""
    module_dir = os.path.join(out, "model")
    if not os.path.isdir(module_dir):
        subprocess.run([args.cellforge, "export", "--arch", args.arch, "--cells-per-stack",
                        str(args.cells_per_stack), "--filters", str(args.filters), "--input",
                        "28x28x1", "--classes", "10", "--format", "pytorch", "-o", module_dir],
                       check=True, capture_output=True)
    source = next(f for f in os.listdir(module_dir) if f.endswith(".py"))
    spec = importlib.util.spec_from_file_location("cellforge_net", os.path.join(module_dir, source))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.CellforgeNet()
    if weights:
        module.load_cellforge_weights(model, weights)
    return model


def decayed(name, param):
    """cellforge's decay scope 'weights': conv and FC weights (4-D and 2-D tensors)."""
    return param.dim() > 1


def train_pytorch(model, data, epochs, seed, decay_all, orders=None):
    """Trains as cellforge does; returns every step's loss and the validation accuracy."""
    groups = [{"params": [p for n, p in model.named_parameters() if decay_all or decayed(n, p)],
               "weight_decay": WEIGHT_DECAY},
              {"params": [p for n, p in model.named_parameters()
                          if not (decay_all or decayed(n, p))], "weight_decay": 0.0}]
    opt = torch.optim.SGD(groups, lr=LR, momentum=MOMENTUM, nesterov=True)
    n = data.train_x.shape[0]
    steps = n // BATCH
    total = steps * epochs
    generator = torch.Generator().manual_seed(seed)
    losses, step = [], 0
    for epoch in range(epochs):
        model.train()
        order = torch.tensor(orders[epoch]) if orders else torch.randperm(n, generator=generator)
        for s in range(steps):
            index = order[s * BATCH:(s + 1) * BATCH]
            lr = 0.5 * LR * (1 + math.cos(math.pi * min(1.0, step / total)))
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad()
            loss = F.cross_entropy(model(data.train_x[index]), data.train_y[index])
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
    model.eval()
    correct = 0
    with torch.no_grad():
        for b in range(0, data.valid_x.shape[0], 500):
            logits = model(data.valid_x[b:b + 500])
            correct += (logits.argmax(1) == data.valid_y[b:b + 500]).sum().item()
    return losses, correct / data.valid_x.shape[0]


def run_pytorch(args, arm, seed, out):
    path = os.path.join(out, f"{arm}-seed{seed}.json")
    if os.path.exists(path):
        return json.load(open(path))
    run_cellforge(args, "cellforge", seed, out)  # its trace holds the split (and initial weights)
    trace = json.load(open(os.path.join(out, f"cellforge-seed{seed}.trace.json")))
    data = Data(args.data_dir, trace)
    torch.manual_seed(seed)
    init = os.path.join(out, f"cellforge-seed{seed}.init.bin")
    model = load_model(args, out, init if PYTORCH_ARMS[arm] == "cellforge" else None)
    t0 = time.time()
    _, accuracy = train_pytorch(model, data, args.epochs, seed, decay_all=True)
    record = {"arm": arm, "seed": seed, "valid_accuracy": accuracy, "seconds": time.time() - t0,
              "torch": torch.__version__}
    json.dump(record, open(path, "w"))
    return record


def replay(args, seed, out):
    """PyTorch from cellforge's initial weights in cellforge's order: how near are the losses?"""
    run_cellforge(args, "cellforge", seed, out)
    trace = json.load(open(os.path.join(out, f"cellforge-seed{seed}.trace.json")))
    data = Data(args.data_dir, trace)
    model = load_model(args, out, os.path.join(out, f"cellforge-seed{seed}.init.bin"))
    losses, accuracy = train_pytorch(model, data, args.epochs, seed, decay_all=False,
                                     orders=trace["epoch_orders"])
    ours = trace["losses"]
    diff = [abs(a - b) for a, b in zip(ours, losses)]
    print(f"replay of cellforge seed {seed} in PyTorch (same initial weights, same order):")
    print("  first steps' losses (cellforge / PyTorch): " +
          ", ".join(f"{a:.5f}/{b:.5f}" for a, b in list(zip(ours, losses))[:5]))
    for upto in sorted({min(u, len(diff)) for u in (1, 10, 50, len(diff))}):
        print(f"  steps 1-{upto}: max |loss difference| {max(diff[:upto]):.2e}, "
              f"mean {statistics.fmean(diff[:upto]):.2e}")
    tail = max(1, len(ours) // 10)
    print(f"  mean loss of the last {tail} steps: cellforge {statistics.fmean(ours[-tail:]):.4f}, "
          f"PyTorch {statistics.fmean(losses[-tail:]):.4f}")
    print(f"  validation accuracy: cellforge {100 * trace['valid_accuracy']:.2f}%, "
          f"PyTorch {100 * accuracy:.2f}%")


def summary(name, values):
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, sd, sd / math.sqrt(len(values))


def welch_t(a, b):
    (ma, sa, _), (mb, sb, _) = summary("a", a), summary("b", b)
    denominator = math.sqrt(sa ** 2 / len(a) + sb ** 2 / len(b))
    return (ma - mb) / denominator if denominator > 0 else float("nan")


def main():
    args = parse_args()
    torch.set_num_threads(args.torch_threads or args.threads)
    os.makedirs(args.out, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    arms = args.arms.split(",")
    for arm in arms:
        if arm not in CELLFORGE_ARMS and arm not in PYTORCH_ARMS:
            sys.exit(f"parity: --arms: unknown arm '{arm}' (known: "
                     f"{', '.join(list(CELLFORGE_ARMS) + list(PYTORCH_ARMS))})")
    accuracy = {}
    for seed in seeds:
        for arm in arms:
            run = run_cellforge if arm in CELLFORGE_ARMS else run_pytorch
            record = run(args, arm, seed, args.out)
            accuracy.setdefault(arm, []).append(100 * record["valid_accuracy"])
            print(f"{arm} seed {seed}: {100 * record['valid_accuracy']:.2f}% "
                  f"({record['seconds']:.0f} s)", flush=True)
    print(f"\n{args.arch} {args.cells_per_stack}@F={args.filters}, {args.epochs} epoch(s) on "
          f"{args.train_images} images, {args.valid_images} held out, seeds {args.seeds}")
    print(f"{'arm':22} {'mean':>7} {'sd':>6} {'se':>6}  {'Welch t vs pytorch':>18}")
    for arm in arms:
        mean, sd, se = summary(arm, accuracy[arm])
        t = welch_t(accuracy[arm], accuracy["pytorch"]) if "pytorch" in accuracy else float("nan")
        t_text = "" if arm == "pytorch" or math.isnan(t) else f"{t:+.2f}"
        print(f"{arm:22} {mean:7.2f} {sd:6.2f} {se:6.2f}  {t_text:>18}")
    if args.replay is not None:
        replay(args, args.replay, args.out)


if __name__ == "__main__":
    main()
