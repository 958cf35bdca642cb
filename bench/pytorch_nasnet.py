#!/usr/bin/python3
"""The same stacked network as cellforge builds (spec sections 2-4), written in plain PyTorch,
timed on random data for the training-speed comparison in bench/train_speed.sh.

usage: pytorch_nasnet.py --genotype FILE.json [--cells-per-stack N] [--filters F]
                         [--input HxWxC] [--classes K] [--batch B] [--steps S] [--threads T]
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

OPS = {}


def relu_conv_bn(c_in, c_out, k, stride):
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
                         nn.BatchNorm2d(c_out, eps=1e-3))


def sep_conv(c_in, c_out, k, stride):
    layers = []
    c = c_in
    for rep in range(2):
        layers += [nn.ReLU(), nn.Conv2d(c, c, k, stride if rep == 0 else 1, k // 2, groups=c, bias=False),
                   nn.Conv2d(c, c_out, 1, bias=False), nn.BatchNorm2d(c_out, eps=1e-3)]
        c = c_out
    return nn.Sequential(*layers)


class Pool(nn.Module):
    def __init__(self, kind, k, c_in, c_out, stride):
        super().__init__()
        self.pool = (nn.AvgPool2d(k, stride, k // 2, count_include_pad=False) if kind == "avg"
                     else nn.MaxPool2d(k, stride, k // 2))
        self.proj = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out, eps=1e-3))
                     if c_in != c_out else None)

    def forward(self, x):
        x = self.pool(x)
        return self.proj(x) if self.proj is not None else x


def make_op(name, c_in, c_out, stride):
    if name == "identity":
        return nn.Identity() if stride == 1 and c_in == c_out else relu_conv_bn(c_in, c_out, 1, stride)
    if name in ("conv_1x1", "conv_3x3"):
        return relu_conv_bn(c_in, c_out, int(name[-1]), stride)
    if name in ("conv_1x3_3x1", "conv_1x7_7x1"):
        k = int(name[-1])
        return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, (1, k), (1, stride), (0, k // 2), bias=False),
                             nn.Conv2d(c_out, c_out, (k, 1), (stride, 1), (k // 2, 0), bias=False),
                             nn.BatchNorm2d(c_out, eps=1e-3))
    if name == "dil_conv_3x3":
        return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, 3, stride, 2, dilation=2, bias=False),
                             nn.BatchNorm2d(c_out, eps=1e-3))
    if name == "dil_sep_conv_3x3":
        return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_in, 3, stride, 2, dilation=2, groups=c_in, bias=False),
                             nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out, eps=1e-3))
    if name.startswith("sep_conv_"):
        return sep_conv(c_in, c_out, int(name[-1]), stride)
    if name.startswith("avg_pool_") or name.startswith("max_pool_"):
        return Pool(name[:3], int(name[-1]), c_in, c_out, stride)
    raise ValueError(name)


class FactorizedReduction(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv_a = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.conv_b = nn.Conv2d(c_in, c_out - c_out // 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=1e-3)

    def forward(self, x):
        a = self.conv_a(x[:, :, ::2, ::2])
        shifted = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        b = self.conv_b(shifted[:, :, ::2, ::2])
        return self.bn(torch.cat([a, b], 1))


def state_index(name):
    return {"prev_prev": 0, "prev": 1}.get(name, None) if name in ("prev", "prev_prev") else 2 + int(name[1:])


class Cell(nn.Module):
    def __init__(self, cell, reduction, shape_pp, shape_p, f):
        super().__init__()
        self.reduction = reduction
        self.pre_p = relu_conv_bn(shape_p[0], f, 1, 1)
        if shape_pp[1] != shape_p[1]:
            self.pre_pp = nn.Sequential(nn.ReLU(), FactorizedReduction(shape_pp[0], f))
        elif shape_pp[0] != f:
            self.pre_pp = relu_conv_bn(shape_pp[0], f, 1, 1)
        else:
            self.pre_pp = nn.Identity()
        self.blocks = cell["blocks"]
        channels = [f, f]
        self.ops = nn.ModuleList()
        for b in self.blocks:
            for k in range(2):
                s = state_index(b["inputs"][k])
                stride = 2 if reduction and s < 2 else 1
                self.ops.append(make_op(b["ops"][k], channels[s], f, stride))
            channels.append(f if b["combine"] == "add" else 2 * f)
        if cell["concat"] == "unused":
            used = {state_index(i) for b in self.blocks for i in b["inputs"]}
            self.out_states = [2 + k for k in range(len(self.blocks)) if 2 + k not in used]
        else:
            self.out_states = [state_index(n) for n in cell["concat"]]
        self.out_reduce = nn.ModuleDict()
        for s in self.out_states:
            if reduction and s < 2:
                self.out_reduce[str(s)] = FactorizedReduction(channels[s], channels[s])
        self.out_channels = sum(channels[s] for s in self.out_states)

    def forward(self, pp, p):
        states = [self.pre_pp(pp), self.pre_p(p)]
        for i, b in enumerate(self.blocks):
            h = [self.ops[2 * i + k](states[state_index(b["inputs"][k])]) for k in range(2)]
            states.append(h[0] + h[1] if b["combine"] == "add" else torch.cat(h, 1))
        outs = [self.out_reduce[str(s)](states[s]) if str(s) in self.out_reduce else states[s]
                for s in self.out_states]
        return torch.cat(outs, 1)


class Network(nn.Module):
    def __init__(self, genotype, n, f, input_chw, classes, stem_multiplier=3):
        super().__init__()
        c, h, w = input_chw
        stem_c = int(stem_multiplier * f)
        self.stem = nn.Sequential(nn.Conv2d(c, stem_c, 3, 1, 1, bias=False), nn.BatchNorm2d(stem_c, eps=1e-3))
        shape_pp = shape_p = (stem_c, h)
        self.cells = nn.ModuleList()
        for stack in range(3):
            fc = f << stack
            kinds = ([True] if stack > 0 else []) + [False] * n
            for red in kinds:
                cell = Cell(genotype["reduction" if red else "normal"], red, shape_pp, shape_p, fc)
                self.cells.append(cell)
                size = (shape_p[1] + 1) // 2 if red else shape_p[1]
                shape_pp, shape_p = shape_p, (cell.out_channels, size)
        self.fc = nn.Linear(shape_p[0], classes)

    def forward(self, x):
        pp = p = self.stem(x)
        for cell in self.cells:
            pp, p = p, cell(pp, p)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(F.relu(p), 1), 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--genotype", required=True)
    ap.add_argument("--cells-per-stack", type=int, default=2)
    ap.add_argument("--filters", type=int, default=16)
    ap.add_argument("--input", default="28x28x1")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    h, w, c = (int(v) for v in args.input.lower().split("x"))
    with open(args.genotype) as fh:
        genotype = json.load(fh)
    net = Network(genotype, args.cells_per_stack, args.filters, (c, h, w), args.classes)
    params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(args.batch, c, h, w)
    y = torch.randint(0, args.classes, (args.batch,))
    total = 0.0
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        if step >= args.warmup:
            total += time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pytorch {torch.__version__} batch {args.batch} threads {args.threads}: "
          f"{args.steps * args.batch / total:.1f} images/s ({1000 * total / args.steps:.1f} ms/step), "
          f"peak RSS {peak:.0f} MiB, params {params}")


if __name__ == "__main__":
    main()
