"""Load a fashion-tui model in PyTorch, without fashion-tui: model.json describes the
network, model.safetensors holds its weights under PyTorch's names and layouts.

    python3 load_in_pytorch.py RUN_DIR [IMAGES_IDX]

prints the class of each image of an IDX image file (uncompressed), or of a blank image.
"""
import json
import struct
import sys

import torch
from torch import nn


def load_safetensors(path):
    # A tiny reader so that only torch is needed (or: safetensors.torch.load_file).
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", t["dtype"]
        start, end = t["data_offsets"]
        flat = torch.frombuffer(bytearray(data[start:end]), dtype=torch.float32)
        tensors[name] = flat.reshape(t["shape"])
    return tensors


class Seed(nn.Module):
    """The "seed" architecture of model.json: three 3x3 stride-2 convolutions, two dense."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, stride=2)
        self.conv2 = nn.Conv2d(32, 64, 3, stride=2)
        self.conv3 = nn.Conv2d(64, 128, 3, stride=2)
        self.fc1 = nn.Linear(512, 512)
        self.fc2 = nn.Linear(512, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x))
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


run = sys.argv[1]
about = json.load(open(f"{run}/model.json"))
assert about["architecture"] == "seed", about["architecture"]
net = Seed()
net.load_state_dict(load_safetensors(f"{run}/{about['weights']}"))
net.eval()

if len(sys.argv) > 2:
    raw = open(sys.argv[2], "rb").read()[16:]  # skip the IDX header
    pixels = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(-1, 1, 28, 28)
else:
    pixels = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
x = pixels.float() / 255.0  # the input scaling model.json states
with torch.no_grad():
    probs = net(x).softmax(1)
for p in probs:
    k = int(p.argmax())
    print(f"{about['classes'][k]}\t{float(p[k]):.4f}")
