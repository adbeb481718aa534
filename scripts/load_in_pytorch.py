"""Load a fashion-tui model in PyTorch, without fashion-tui: model.json describes the
network layer by layer, model.safetensors holds its weights under PyTorch's names and
layouts. Works for every architecture fashion-tui saves (`tutorial`, `fast`), since it
builds the network from model.json's layer list.

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


class ConvBn(nn.Module):
    """A convolution without bias, then BatchNorm (`conv` and `bn`, as model.json names them)."""

    def __init__(self, layer):
        super().__init__()
        self.conv = conv2d(layer)
        self.bn = nn.BatchNorm2d(layer["out_channels"])

    def forward(self, x):
        return self.bn(self.conv(x))


def conv2d(layer):
    return nn.Conv2d(layer["in_channels"], layer["out_channels"], layer["kernel_size"],
                     stride=layer["stride"], padding=layer["padding"],
                     bias=layer.get("bias", True))


def build(layers):
    """The network of model.json's `layers`, in order; a layer's `name` is its tensors'
    prefix (conv1.weight, conv1.bn.running_mean, ...)."""
    net = nn.Sequential()
    for i, layer in enumerate(layers):
        kind = layer["type"]
        if kind == "Conv2d":
            module = conv2d(layer)
        elif kind == "Conv2d+BatchNorm2d":
            module = ConvBn(layer)
        elif kind == "Linear":
            module = nn.Linear(layer["in_features"], layer["out_features"])
        elif kind == "MaxPool2d":
            module = nn.MaxPool2d(layer["kernel_size"], stride=layer["stride"])
        elif kind == "AdaptiveMaxPool2d":
            module = nn.Sequential(nn.AdaptiveMaxPool2d(layer["output_size"]), nn.Flatten())
        elif kind == "Flatten":
            module = nn.Flatten()
        elif kind == "Dropout":
            module = nn.Dropout(layer["p"])
        else:
            raise SystemExit(f"model.json: unknown layer type {kind!r}")
        net.add_module(layer.get("name", f"_{i}"), module)
        if layer.get("then") == "relu":
            net.add_module(f"_{i}_relu", nn.ReLU())
    return net


if __name__ == "__main__":
    run = sys.argv[1]
    about = json.load(open(f"{run}/model.json"))
    net = build(about["layers"])
    missing, unexpected = net.load_state_dict(
        load_safetensors(f"{run}/{about['weights']}"), strict=False)
    # BatchNorm's batch counter is PyTorch's own bookkeeping, not part of the model.
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)
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
