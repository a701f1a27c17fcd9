"""dlib's face-recognition ResNet (29 convolutions, 128-d descriptor), ported to PyTorch as a backbone.

The network of ``examples/dnn_face_recognition_ex.cpp`` in dlib, whose
weights ship with ``face-recognition-models`` as
``dlib_face_recognition_resnet_model_v1.dat`` (trained by Davis King on about
3 million faces). It is a ResNet-34 with a few layers removed and the number
of filters halved, batch norm folded into per-channel affine layers:

* stem: 7x7 conv, 32 filters, stride 2; affine; ReLU; 3x3 max pool, stride 2;
* stages of residual blocks (3x3 conv, affine, ReLU, 3x3 conv, affine, + shortcut, ReLU):
  3 x 32 (stride 4), 4 x 64 (stride 8), 3 x 128 (16), 3 x 256 (32), 1 x 256 (64);
  the first block of each later stage has a stride-2 first conv and an average-pooled
  (2x2, stride 2) shortcut;
* the average of the last map, a 128 x 256 linear layer without bias: the descriptor.

dlib's defaults decide the padding: a stride-1 conv pads ``size // 2``, a
stride-2 conv or pool pads nothing. A stride-2 block's two paths therefore
differ in size where the input side is even (a 3x3 conv gives ``(n - 1) // 2``
cells, the pool ``n // 2``), and in channels; ``add_prev`` then adds them into a
tensor of the larger size with the missing cells counted as zero (the block's
output lies in the top-left corner). On 150 px chips the maps are 72 (stem
conv), 35, 17, 8, 4 and 2 cells wide.

Input: dlib feeds RGB pixels as ``(pixel - mean) / 256``, with the mean the file
records (122.782, 117.001, 104.298). The book's images arrive normalised by
the ImageNet mean and std (``mgmtn.data.transforms``), so the port first undoes
that (a fixed per-channel scale and shift), and takes the same tensors as the
timm backbones.

As a backbone, level ``i`` is the output of the stage at stride ``2**i`` (2 to
6); MGMTN takes F3, F4, F5 = 64, 128 and 256 channels at strides 8, 16 and 32.
Built without ``levels`` it is the whole network and returns the descriptor.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from timm.models._features import FeatureInfo
from torch import Tensor, nn

from mgmtn.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from mgmtn.errors import MgmtnError
from mgmtn.models.dlib_file import DlibNetwork, read_network

# (filters, blocks) per stage, from stride 4 to stride 64: dlib's alevel4 ... alevel0.
STAGES = ((32, 3), (64, 4), (128, 3), (256, 3), (256, 1))
LEVELS = (2, 3, 4, 5, 6)
DLIB_MEAN = (122.782, 117.001, 104.298)  # what the shipped file records (its input layer's avg_red, green, blue)
WEIGHTS_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def shipped_weights() -> Path:
    """The network file of ``face-recognition-models``, found without importing the package (it needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MgmtnError("backbone 'dlib-resnet29' needs the 'face-recognition-models' package "
                         "(pip install face-recognition-models)")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / WEIGHTS_FILE
    if not path.is_file():
        raise MgmtnError(f"{path}: dlib face-recognition network not found; reinstall face-recognition-models")
    return path


def dlib_layout() -> list[tuple]:
    """The ``(kind, settings)`` of every layer dlib's file holds for this network, input first (``dlib_file``)."""
    layout = [("con", (32, 7, 7, 2, 2, 0, 0)), ("affine", (0,)), ("relu", ()), ("max_pool", (3, 3, 2, 2, 0, 0))]
    for i, (width, blocks) in enumerate(STAGES):
        for j in range(blocks):
            stride, pad = (2, 0) if i > 0 and j == 0 else (1, 1)
            layout += [("con", (width, 3, 3, stride, stride, pad, pad)), ("affine", (0,)), ("relu", ()),
                       ("con", (width, 3, 3, 1, 1, 1, 1)), ("affine", (0,)),
                       *([("avg_pool", (2, 2, 2, 2, 0, 0))] if stride == 2 else []), ("add", ()), ("relu", ())]
    return layout + [("avg_pool", (0, 0, 1, 1, 0, 0)), ("fc", (128, 256, 0))]


class Affine(nn.Module):
    """dlib's ``affine`` layer: a learnt scale and shift per channel (batch norm frozen into constants)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.weight[:, None, None] + self.bias[:, None, None]


def add_prev(a: Tensor, b: Tensor) -> Tensor:
    """dlib's ``add_prev``: the sum in a tensor as large as the larger of each dimension, missing cells zero."""
    size = [max(p, q) for p, q in zip(a.shape[1:], b.shape[1:])]

    def grow(x: Tensor) -> Tensor:
        c, h, w = (s - t for s, t in zip(size, x.shape[1:]))
        return F.pad(x, (0, w, 0, h, 0, c)) if c or h or w else x

    return grow(a) + grow(b)


class ResidualBlock(nn.Module):
    """conv3x3, affine, ReLU, conv3x3, affine, + shortcut (average-pooled where the block halves the map), ReLU."""

    def __init__(self, in_channels: int, channels: int, down: bool):
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.affine1 = Affine(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.affine2 = Affine(channels)

    def forward(self, x: Tensor) -> Tensor:
        y = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        return F.relu(add_prev(y, F.avg_pool2d(x, 2) if self.down else x))


class DlibResNet(nn.Module):
    """The port: ``levels`` None gives the whole network (forward: the 128-d descriptor); otherwise a feature
    extractor whose forward returns the stage maps of ``levels`` (stride 2**level), with ``feature_info``
    like timm's ``features_only`` models, and no layers past the deepest level."""

    def __init__(self, levels: tuple[int, ...] | None = None):
        super().__init__()
        if levels is not None and not (levels and set(levels) <= set(LEVELS) and list(levels) == sorted(levels)):
            raise MgmtnError(f"backbone 'dlib-resnet29' gives levels {LEVELS} (strides 4 to 64), "
                             f"in increasing order; got {tuple(levels)}")
        self.levels = tuple(levels) if levels is not None else None
        depth = len(STAGES) if levels is None else LEVELS.index(max(levels)) + 1
        self.register_buffer("input_scale", torch.tensor([255 * s / 256 for s in IMAGENET_STD]).view(3, 1, 1))
        self.register_buffer("input_shift", torch.zeros(3, 1, 1))
        self.set_mean(DLIB_MEAN)
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 7, stride=2), Affine(32), nn.ReLU(), nn.MaxPool2d(3, 2))
        stages, channels = [], 32
        for i, (width, blocks) in enumerate(STAGES[:depth]):
            stages.append(nn.Sequential(*(ResidualBlock(channels if j == 0 else width, width, i > 0 and j == 0)
                                          for j in range(blocks))))
            channels = width
        self.stages = nn.ModuleList(stages)
        self.fc = nn.Linear(256, 128, bias=False) if levels is None else None
        if levels is not None:
            info = [dict(num_chs=width, reduction=2 ** level, module=f"stages.{i}")
                    for i, ((width, _), level) in enumerate(zip(STAGES, LEVELS))]
            self.feature_info = FeatureInfo(info[:depth], tuple(LEVELS.index(level) for level in levels))
            # dlib's affine layers are batch norm frozen into constants, tuned to its own 128-d output, so its
            # stage maps come out uncentred: across CelebA faces a pooled channel varies by about a tenth of
            # its mean, and new heads on such features stay at the label priors (every row of the pretrained
            # recipe study did without these). A batch norm per returned map centres and scales them, as the
            # last batch norm of each timm stage does; it learns with the backbone.
            self.norms = nn.ModuleList(nn.BatchNorm2d(STAGES[LEVELS.index(level)][0]) for level in levels)

    def set_mean(self, mean: tuple[float, float, float]) -> None:
        """Take the input mean a weights file records (RGB, 0-255)."""
        shift = [(255 * m - d) / 256 for m, d in zip(IMAGENET_MEAN, mean)]
        self.input_shift.copy_(torch.tensor(shift).view(3, 1, 1))

    def forward(self, x: Tensor) -> Tensor | list[Tensor]:
        """ImageNet-normalised images (B, 3, H, W) -> descriptors (B, 128), or the maps of ``levels``."""
        x = self.stem(x * self.input_scale + self.input_shift)
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        if self.levels is not None:
            return [norm(maps[LEVELS.index(level)]) for norm, level in zip(self.norms, self.levels)]
        return self.fc(x.mean((-2, -1)))

    def learnt_layers(self) -> list[nn.Module]:
        """The convolutions, affine layers and linear layer, in the order dlib's file holds their parameters."""
        return [m for m in self.modules() if isinstance(m, (nn.Conv2d, Affine, nn.Linear))]

    def load_dlib(self, network: DlibNetwork, path: str | os.PathLike) -> None:
        """Copy a read network's parameters into this port (the first layers only, for a truncated extractor)."""
        found = [(layer.kind, layer.settings) for layer in network.layers]
        expected = dlib_layout()
        if found != expected:
            at = next((i for i, (f, e) in enumerate(zip(found, expected)) if f != e), min(len(found), len(expected)))
            seen = found[at] if at < len(found) else "the end of the file"
            want = expected[at] if at < len(expected) else "the end of the file"
            raise MgmtnError(f"{path}: not dlib's face-recognition ResNet: layer {at} is {seen}, expected {want}")
        if tuple(network.size) != (150, 150):
            raise MgmtnError(f"{path}: the network is sized for {network.size} px inputs, not 150 x 150")
        with torch.no_grad():
            params = [layer for layer in network.layers if layer.params]
            for module, layer in zip(self.learnt_layers(), params):
                for name, tensor in module.named_parameters(recurse=False):
                    tensor.copy_(torch.from_numpy(layer.params[name]).reshape(tensor.shape))
            self.set_mean(network.mean)


def dlib_resnet29(levels: tuple[int, ...] | None = None, pretrained: bool = True,
                  pretrained_file: str | os.PathLike | None = None) -> DlibResNet:
    """dlib's face ResNet, from ``pretrained_file`` (a dlib network file) or the shipped file when ``pretrained``."""
    model = DlibResNet(levels)
    if pretrained_file is not None or pretrained:
        path = Path(pretrained_file).expanduser() if pretrained_file is not None else shipped_weights()
        model.load_dlib(read_network(path), path)
    return model
