"""PyTorch (Python, eager) baseline: the same network, initialisation, optimiser and
batch size as fashion-tui's `seed` model, one epoch on the CPU. Prints one JSON line.

Run by scripts/bench.sh; not part of the test suite."""
import gzip, json, os, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

def idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)

def main():
    data, threads, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    t0 = time.perf_counter()
    x = torch.from_numpy(idx(f"{data}/train-images-idx3-ubyte.gz", 16).copy()).view(-1, 1, 28, 28)
    y = torch.from_numpy(idx(f"{data}/train-labels-idx1-ubyte.gz", 8).astype(np.int64))
    if limit:
        x, y = x[:limit], y[:limit]
    load = time.perf_counter() - t0

    class Seed(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2, self.c3 = nn.Conv2d(1, 32, 3, 2), nn.Conv2d(32, 64, 3, 2), nn.Conv2d(64, 128, 3, 2)
            self.f1, self.f2 = nn.Linear(512, 512), nn.Linear(512, 10)
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.xavier_uniform_(m.weight); nn.init.zeros_(m.bias)
        def forward(self, x):
            x = F.relu(self.c3(F.relu(self.c2(F.relu(self.c1(x))))))
            x = F.dropout(x.flatten(1), 0.2, self.training)
            return self.f2(F.dropout(F.relu(self.f1(x)), 0.2, self.training))

    net = Seed()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    n, bs = len(y), 32
    perm = torch.randperm(n)
    net.train()
    t0 = time.perf_counter()
    for start in range(0, n, bs):
        i = perm[start:start + bs]
        xb, yb = x[i].float() / 255.0, y[i]
        loss = F.cross_entropy(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        # Read the loss each batch, as a progress display (Keras, fashion-tui) does.
        loss.item()
    secs = time.perf_counter() - t0
    print(json.dumps({"impl": "pytorch-eager", "torch": torch.__version__, "threads": threads,
                      "images": n, "seconds": secs, "images_per_sec": n / secs, "load_seconds": load}))

main()
