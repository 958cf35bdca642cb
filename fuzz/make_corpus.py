#!/usr/bin/env python3
"""Regenerates the seed corpora in fuzz/corpus/<target>/ and the dictionaries fuzz/<target>.dict
(checked in; rerun after a format change).

Valid and near-valid seeds: the repository's configs and found genotype, the built-in genotypes
(from space/builtin.cpp), tiny IDX and CIFAR files in the harness framing of fuzz_datasets.cpp, and
tiny results.sqlite files with the schema of results/store.cpp. Standard library only.
Usage: fuzz/make_corpus.py   (from anywhere)
"""
import gzip
import json
import os
import re
import shutil
import sqlite3
import struct
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


def genotypes():
    t = "fuzz_genotype"
    put(t, "found-fashion-mnist-best.json", read("docs/found/fashion-mnist-best.json"))
    src = read("space/builtin.cpp").decode()
    builtins = dict(re.findall(r'\{"(\w+)", R"\((\{.*?\})\)"\}', src, re.S))
    assert set(builtins) == {"nasnet_a", "amoebanet_a"}, builtins.keys()
    for name, text in builtins.items():
        put(t, f"builtin-{name}.json", text)
    g = json.loads(builtins["nasnet_a"])
    # Near-valid variants, each wrong in one way.
    def variant(name, edit):
        doc = json.loads(json.dumps(g))
        edit(doc)
        put(t, f"near-{name}.json", json.dumps(doc))
    variant("unknown-key", lambda d: d.update(extra=1))
    variant("bad-op", lambda d: d["normal"]["blocks"][0]["ops"].__setitem__(0, "conv_9x9"))
    variant("forward-ref", lambda d: d["normal"]["blocks"][0]["inputs"].__setitem__(0, "b3"))
    variant("concat-out-of-range", lambda d: d["reduction"].__setitem__("concat", ["b9"]))
    variant("one-block", lambda d: d["normal"].__setitem__("blocks", d["normal"]["blocks"][:1]))
    variant("concat-combine", lambda d: d["normal"]["blocks"][1].__setitem__("combine", "concat"))
    variant("no-reduction", lambda d: d.pop("reduction"))
    variant("wrong-format", lambda d: d.__setitem__("format", "cellforge.genotype.v2"))
    put(t, "near-truncated.json", builtins["amoebanet_a"][:700])
    # NAS-Bench-201 cells (space "nb201"): a named one, one with a zero node, a near-valid one.
    nb201 = {"format": "cellforge.genotype.v1", "space": "nb201"}
    put(t, "nb201-named.json", json.dumps(dict(nb201, name="nb201-best", arch=(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"))))
    put(t, "nb201-zero-node.json", json.dumps(dict(nb201, arch=(
        "|none~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"))))
    put(t, "near-nb201-edge.json", json.dumps(dict(nb201, arch="|none~0|+|skip_connect~1|none~1|+|")))
    put(t, "nested.json", "[" * 64 + "]" * 64)


def configs():
    t = "fuzz_config"
    for name in sorted(os.listdir(os.path.join(ROOT, "configs"))):
        if name.endswith(".ini"):
            put(t, name, read(os.path.join("configs", name)))
    quick = read("configs/quickstart.ini").decode()
    put(t, "near-overrides.ini", quick + "#set budget.candidates=7\n#set controller.strategy=evolution\n")
    put(t, "near-unknown-key.ini", quick + "\n[proxy]\nfilterz = 3\n")
    put(t, "near-duplicate.ini", "[budget]\ncandidates = 3\ncandidates = 4\n")
    put(t, "near-range.ini", "[budget]\ncandidates = -1\nhours = 1e400\n")
    put(t, "near-section.ini", "[proxy\nepochs = 1\n")
    put(t, "near-train.ini", "[train]\nepochs = 99999999999\nlr = nan\n[data]\nformat = cifar11\n")


def idx_images(count, h, w):
    pixels = bytes((i * 37) % 256 for i in range(count * h * w))
    return struct.pack(">IIII", 0x803, count, h, w) + pixels


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def frame_idx(mode, images, labels):
    # fuzz_datasets.cpp framing: mode byte, images length (2 bytes little endian), images, labels.
    return bytes([mode]) + struct.pack("<H", len(images)) + images + labels


def datasets():
    t = "fuzz_datasets"
    imgs, labs = idx_images(3, 4, 5), idx_labels([0, 9, 4])
    put(t, "idx-plain", frame_idx(0, imgs, labs))
    put(t, "idx-harness-gzip", frame_idx(1, imgs, labs))
    put(t, "idx-own-gzip", frame_idx(0, gzip.compress(imgs, mtime=0), gzip.compress(labs, mtime=0)))
    put(t, "idx-28x28", frame_idx(0, idx_images(2, 28, 28), idx_labels([1, 2])))
    put(t, "near-idx-label-10", frame_idx(0, imgs, idx_labels([0, 10, 4])))
    put(t, "near-idx-truncated", frame_idx(0, imgs[:-3], labs))
    put(t, "near-idx-count-mismatch", frame_idx(0, imgs, idx_labels([0, 1])))
    put(t, "near-idx-zero-size", frame_idx(0, struct.pack(">IIII", 0x803, 1, 0, 5), labs))
    def record(label_bytes, i):
        return bytes(label_bytes) + bytes((i * 11 + k) % 256 for k in range(3072))
    c10 = bytes([3]) + bytes((k * 7) % 256 for k in range(3072))
    put(t, "cifar10-one", bytes([2, 0]) + c10)
    put(t, "cifar10-two-files", bytes([2, 1]) + c10 + c10)
    put(t, "cifar10-gzip", bytes([4, 0]) + c10)
    c100 = bytes([19, 99]) + bytes((k * 5) % 256 for k in range(3072))
    put(t, "cifar100-one", bytes([3, 0]) + c100)
    put(t, "cifar100-gzip-two", bytes([5, 1]) + c100 + c100)
    put(t, "near-cifar10-short", bytes([2, 0]) + c10[:-1])
    put(t, "near-cifar100-coarse-20", bytes([3, 0]) + bytes([20]) + c100[1:])


# results/store.cpp's schema (version 1).
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates(
 id INTEGER PRIMARY KEY, hash TEXT NOT NULL, genotype TEXT NOT NULL, status TEXT NOT NULL,
 accuracy REAL, params INTEGER NOT NULL DEFAULT 0, macs INTEGER NOT NULL DEFAULT 0,
 train_seconds REAL NOT NULL DEFAULT 0, failure_reason TEXT NOT NULL DEFAULT '',
 parent INTEGER, reused_from INTEGER, observed INTEGER NOT NULL DEFAULT 0,
 metrics TEXT NOT NULL DEFAULT '{}', proposed_at TEXT NOT NULL DEFAULT '',
 finished_at TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS candidates_hash ON candidates(hash);
CREATE TABLE IF NOT EXISTS checkpoints(id INTEGER PRIMARY KEY AUTOINCREMENT,
 observed INTEGER NOT NULL, state BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
 kind TEXT NOT NULL, message TEXT NOT NULL);
"""


def sqlite_seed(name, fill, schema=SCHEMA, page_size=512):
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "results.sqlite")
        db = sqlite3.connect(path)
        db.execute(f"PRAGMA page_size={page_size}")
        db.execute("PRAGMA journal_mode=DELETE")
        db.executescript(schema)
        fill(db)
        db.commit()
        db.execute("VACUUM")
        db.close()
        put("fuzz_results_store", name, read(path))
    finally:
        shutil.rmtree(tmp)


def campaign(db):
    db.execute("INSERT INTO meta VALUES('schema_version', '1'), ('campaign', 'quickstart')")
    geno = json.dumps(json.loads(re.findall(r'R"\((\{.*?\})\)"',
                                            read("space/builtin.cpp").decode(), re.S)[0]))
    rows = [
        (1, "3ee2569c4474279f", geno, "done", 0.8338, 400000, 9000000, 41.5, "", None, None, 1),
        (2, "00000000000000aa", geno, "failed", None, 0, 0, 3.0, "diverged: loss nan", 1, None, 1),
        (3, "3ee2569c4474279f", geno, "done", 0.8338, 400000, 9000000, 0, "", 1, 1, 1),
        (4, "00000000000000bb", geno, "pending", None, 0, 0, 0, "", 2, None, 0),
        (5, "00000000000000cc", geno, "done", 0.79, 350000, 8000000, 39.0, "", None, None, 1),
    ]
    db.executemany("INSERT INTO candidates(id, hash, genotype, status, accuracy, params, macs, "
                   "train_seconds, failure_reason, parent, reused_from, observed, metrics, "
                   "proposed_at, finished_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,'{\"epochs\":[]}',"
                   "'2026-11-27T21:13:06Z','2026-11-27T21:14:00Z')", rows)
    db.execute("INSERT INTO checkpoints(observed, state, created_at) VALUES(3, ?, '2026-11-27T21:14:00Z')",
               (bytes(range(64)),))
    db.execute("INSERT INTO events(at, kind, message) VALUES('2026-11-27T21:13:00Z', 'start', 'campaign started')")


def stores():
    sqlite_seed("campaign.sqlite", campaign)
    sqlite_seed("empty-schema.sqlite", lambda db: db.execute("INSERT INTO meta VALUES('schema_version', '1')"))
    sqlite_seed("near-version-2.sqlite", lambda db: db.execute("INSERT INTO meta VALUES('schema_version', '2')"))
    sqlite_seed("near-odd-types.sqlite", lambda db: db.execute(
        "INSERT INTO candidates(id, hash, genotype, status, accuracy, observed) "
        "VALUES(9223372036854775807, x'00ff', 42, 'done', 'high', 'yes')"))
    # A candidates table without most columns: every query must fail cleanly.
    sqlite_seed("near-missing-columns.sqlite", lambda db: None,
                schema="CREATE TABLE candidates(id INTEGER PRIMARY KEY, hash TEXT);"
                       "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                       "INSERT INTO meta VALUES('schema_version', '1');")


def dictionaries():
    """libFuzzer dictionaries (scripts/fuzz.sh passes fuzz/<target>.dict): the formats' words."""
    ops = re.findall(r'\{OpId::\w+, "(\w+)"', read("space/ops.h").decode())
    assert len(ops) == 14, ops
    words = ["format", "cellforge.genotype.v1", "space", "nasnet", "name", "normal", "reduction",
             "blocks", "inputs", "ops", "combine", "concat", "add", "unused", "prev", "prev_prev"]
    words += [f"b{i}" for i in range(7)] + ops
    words += ["nb201", "arch", "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "~0|", "~1|",
              "~2|", "|+|"]
    with open(os.path.join(ROOT, "fuzz", "fuzz_genotype.dict"), "w") as f:
        f.write("# libFuzzer dictionary for fuzz_genotype (made by fuzz/make_corpus.py): the genotype JSON vocabulary.\n")
        for w in words:
            f.write(f'"\\"{w}\\""\n')
        for t in ["{", "}", "[", "]", ":", ",", "null", "true", "-1", "1e999", '"\\u0000"']:
            f.write('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"\n')
    # Setting rows ({"train.lr", "proxy.lr", ...}) and campaign rows (campaign_key("space.type", ...)).
    keys = re.findall(r'(?:\{|campaign_key\(\s*)"([a-z_]+\.[a-z_0-9]+)"', read("search/config.cpp").decode())
    keys += [k for k in re.findall(r'"(proxy\.[a-z_0-9]+)"', read("search/config.cpp").decode()) if k not in keys]
    assert "space.type" in keys and "controller.warmup" in keys and "train.lr" in keys, keys
    with open(os.path.join(ROOT, "fuzz", "fuzz_config.dict"), "w") as f:
        f.write("# libFuzzer dictionary for fuzz_config (made by fuzz/make_corpus.py): sections, keys and value words.\n")
        for sec in sorted({k.split(".")[0] for k in keys}):
            f.write(f'"[{sec}]"\n')
        for k in sorted({k.split(".")[1] for k in keys}):
            f.write(f'"{k} = "\n')
        for k in keys:
            f.write(f'"#set {k}="\n')
        for v in ["true", "false", "nasnet", "nb201", "random", "evolution", "rl", "cifar", "imagenet",
                  "idx", "cifar10", "cifar100", "auto", "add", "concat", "add, concat", "1e308", "-0",
                  "nan", "inf", "0x10", "18446744073709551616", "2147483648"] + ops:
            f.write(f'"{v}"\n')


if __name__ == "__main__":
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    genotypes()
    configs()
    datasets()
    stores()
    dictionaries()
    total = 0
    for d, _, files in os.walk(CORPUS):
        for f in files:
            size = os.path.getsize(os.path.join(d, f))
            assert size <= 20 * 1024, (f, size)
            total += size
    print(f"{CORPUS}: {total} bytes")
