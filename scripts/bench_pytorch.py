"""PyTorch (Python, eager) baseline: the same network, initialisation, optimiser and
batch size as fashion-tui's `tutorial` model (src/model/tutorial.rs), one epoch on the
CPU followed by one evaluation over the test set, as fashion-tui's epoch ends. Prints one
JSON line: `seconds` (the training loop) and `eval_seconds` (the evaluation) as
fashion-tui's epoch line has them; reading the data files is timed apart (`load_seconds`).

With --lean, the loop as a PyTorch user who writes for speed has it: both sets converted
to float once, with the reading (so outside the timed loops), and no loss read per batch.

Usage: bench_pytorch.py DATA_DIR THREADS TRAIN_LIMIT [--fused] [--lean] [--test-limit N]
Run by scripts/bench_speed.sh; not part of the test suite."""
import argparse, gzip, json, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

def idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)

def split(data, name, limit):
    x = torch.from_numpy(idx(f"{data}/{name}-images-idx3-ubyte.gz", 16).copy()).view(-1, 1, 28, 28)
    y = torch.from_numpy(idx(f"{data}/{name}-labels-idx1-ubyte.gz", 8).astype(np.int64))
    return (x[:limit], y[:limit]) if limit else (x, y)

class Tutorial(nn.Module):
    """Three 3x3 stride-2 unpadded convs (32, 64, 128 channels, ReLU), flatten (512),
    dropout, dense 512 ReLU, dropout, dense 10; Glorot uniform weights, zero biases."""
    def __init__(self, dropout):
        super().__init__()
        self.c1, self.c2, self.c3 = nn.Conv2d(1, 32, 3, 2), nn.Conv2d(32, 64, 3, 2), nn.Conv2d(64, 128, 3, 2)
        self.f1, self.f2 = nn.Linear(512, 512), nn.Linear(512, 10)
        self.dropout = dropout
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight); nn.init.zeros_(m.bias)
    def forward(self, x):
        x = F.relu(self.c3(F.relu(self.c2(F.relu(self.c1(x))))))
        x = F.dropout(x.flatten(1), self.dropout, self.training)
        return self.f2(F.dropout(F.relu(self.f1(x)), self.dropout, self.training))

def floats(x):
    """Pixels as the network takes them: float in [0, 1]."""
    return x if x.is_floating_point() else x.float() / 255.0

def evaluate(net, x, y, batch=256):
    """What fashion-tui's evaluation computes: the loss, the predicted classes with their
    softmax confidence, the accuracy and the confusion matrix, without autograd. `x` is
    bytes, or floats already (--lean)."""
    net.eval()
    loss_sum, predicted, confidence = 0.0, [], []
    with torch.no_grad():
        for start in range(0, len(y), batch):
            xb, yb = floats(x[start:start + batch]), y[start:start + batch]
            logits = net(xb)
            loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
            conf, pred = logits.softmax(-1).max(-1)
            predicted.extend(pred.tolist()); confidence.extend(conf.tolist())
    pred = torch.tensor(predicted)
    confusion = torch.bincount(y * 10 + pred, minlength=100).view(10, 10)
    return loss_sum / len(y), confusion.diagonal().sum().item() / len(y)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data"); ap.add_argument("threads", type=int); ap.add_argument("limit", type=int)
    ap.add_argument("--fused", action="store_true", help="torch.optim.Adam(fused=True)")
    ap.add_argument("--lean", action="store_true",
                    help="floats made once before the loops, no per-batch loss read")
    ap.add_argument("--test-limit", type=int, default=0, help="0: the whole test set")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    t0 = time.perf_counter()
    x, y = split(a.data, "train", a.limit)
    tx, ty = split(a.data, "t10k", a.test_limit)
    if a.lean:
        x, tx = floats(x), floats(tx)
    load = time.perf_counter() - t0

    net = Tutorial(0.2)
    # Keras's Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-7.
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7, fused=a.fused)
    n, bs = len(y), 32
    perm = torch.randperm(n)
    net.train()
    t0 = time.perf_counter()
    for start in range(0, n, bs):
        i = perm[start:start + bs]
        xb, yb = floats(x[i]), y[i]
        loss = F.cross_entropy(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if not a.lean:
            # Read the loss each batch, as a progress display (Keras, fashion-tui) does.
            loss.item()
    secs = time.perf_counter() - t0
    t0 = time.perf_counter()
    test_loss, test_acc = evaluate(net, tx, ty)
    eval_secs = time.perf_counter() - t0
    print(json.dumps({"impl": "pytorch-eager", "adam": "fused" if a.fused else "default",
                      "loop": "lean" if a.lean else "plain",
                      "torch": torch.__version__, "threads": a.threads, "images": n,
                      "test_images": len(ty), "seconds": secs, "eval_seconds": eval_secs,
                      "images_per_sec": n / secs, "test_loss": test_loss, "test_acc": test_acc,
                      "load_seconds": load}))

main()
