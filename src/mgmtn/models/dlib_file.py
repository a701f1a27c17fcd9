"""A reader of dlib's serialised face-recognition network, in plain Python (no dlib, no C++ build).

``dlib_face_recognition_resnet_model_v1.dat`` (shipped in the
``face-recognition-models`` package) is a ``dlib::serialize`` dump of the
``anet_type`` of dlib's ``examples/dnn_face_recognition_ex.cpp``. The format,
from ``dlib/serialize.h``, ``dlib/float_details.h``, ``dlib/dnn/core.h``,
``layers.h``, ``input.h`` and ``cuda/tensor.h``:

* an integer is one byte (bit 7: negative, bits 0-3: how many bytes follow)
  and then its magnitude, little endian; a string is its length, then its bytes;
  a bool is the character '0' or '1'; a float or double is two integers,
  mantissa and exponent (value = mantissa * 2**exponent);
* a tensor is version 2, its four dimensions (samples, k, rows, columns) and
  then float32 little endian; an ``alias_tensor`` (a view into a layer's
  parameters) is version 1 and its four dimensions;
* ``add_layer`` writes its version, its sub-network, then its own layer and
  some training state (three bools and three tensors, empty here; the layer on
  the input also writes its sample expansion factor). The sub-network comes
  first, so the file holds the loss layer's header, every wrapper's version,
  the input layer, and then the layers from the input outwards, the order in
  which ``layers()`` returns them. Tag and skip layers write only their version.

Each layer starts with a name: ``con_4`` (parameters: filters (out, in, rows,
columns) then biases; then filters, rows, columns, strides, paddings),
``affine_`` (gamma then beta, one per channel, and the mode), ``relu_``,
``max_pool_2`` / ``avg_pool_2`` (window, strides, paddings; a window of 0 is
the whole map), ``add_prev_``, ``fc_2`` (outputs, inputs, weights stored as
inputs x outputs, and whether there is a bias).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mgmtn.errors import MgmtnError


@dataclass
class Layer:
    """One layer of the file: its kind ('con', 'affine', 'relu', 'max_pool', 'avg_pool', 'add', 'fc'),
    its settings (e.g. filters, window, stride, padding) and its parameter arrays."""

    kind: str
    settings: tuple[int, ...] = ()
    params: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DlibNetwork:
    """What the file holds: the input layer's mean (RGB, 0-255) and side, and the layers from input to output."""

    mean: tuple[float, float, float]
    size: tuple[int, int]
    layers: list[Layer]


class _Stream:
    """dlib's serialisation primitives over the file's bytes; running past the end is a clear error."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"the file ends early (at byte {len(self.data)})")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        head = self.take(1)[0]
        if head & 0x70 or (head & 0x0F) > 8:
            raise ValueError(f"byte {self.pos - 1} does not start an integer")
        value = int.from_bytes(self.take(head & 0x0F), "little")
        return -value if head & 0x80 else value

    def string(self, limit: int = 64) -> str:
        n = self.int()
        if not 0 <= n <= limit:
            raise ValueError(f"a name of {n} bytes at byte {self.pos}")
        return self.take(n).decode("latin-1")

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return mantissa * 2.0 ** exponent

    def bools(self, n: int) -> None:
        if not set(self.take(n)) <= set(b"01"):
            raise ValueError(f"no bool at byte {self.pos - n}")

    def version(self, expected: int) -> None:
        if (version := self.int()) != expected:
            raise ValueError(f"version {version} at byte {self.pos} (expected {expected})")

    def tensor(self) -> np.ndarray:
        self.version(2)
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        return np.frombuffer(self.take(4 * count), dtype="<f4").reshape(shape).astype(np.float32)

    def alias(self) -> tuple[int, ...]:
        self.version(1)
        return tuple(self.int() for _ in range(4))


def _layer(stream: _Stream) -> Layer:
    """One layer's own record (after its name), as the ``serialize`` of its class in ``dlib/dnn/layers.h`` writes it."""
    name = stream.string()
    if name == "con_4":
        params = stream.tensor().ravel()
        settings = tuple(stream.int() for _ in range(7))  # filters, rows, cols, stride y, stride x, pad y, pad x
        filters, biases = stream.alias(), stream.alias()
        for _ in range(4):  # learning-rate and weight-decay multipliers
            stream.float()
        n = int(np.prod(filters))
        return Layer("con", settings, {"weight": params[:n].reshape(filters), "bias": params[n:]})
    if name == "affine_":
        params = stream.tensor().ravel()
        gamma, _ = stream.alias(), stream.alias()
        mode = stream.int()
        n = int(np.prod(gamma))
        return Layer("affine", (mode,), {"weight": params[:n], "bias": params[n:]})
    if name in ("max_pool_2", "avg_pool_2"):
        return Layer(name[:-2], tuple(stream.int() for _ in range(6)))  # window, strides, paddings
    if name == "relu_":
        return Layer("relu")
    if name == "add_prev_":
        return Layer("add")
    if name == "fc_2":
        outputs, inputs = stream.int(), stream.int()
        params = stream.tensor().ravel()
        stream.alias(), stream.alias()
        has_bias = stream.int() == 0  # dlib's fc_bias_mode: FC_HAS_BIAS = 0, FC_NO_BIAS = 1
        for _ in range(4):
            stream.float()
        weight = params[:inputs * outputs].reshape(inputs, outputs).T.copy()
        return Layer("fc", (outputs, inputs, int(has_bias)), {"weight": weight})
    raise ValueError(f"an unknown layer {name!r}")


def read_network(path: str | os.PathLike) -> DlibNetwork:
    """Every layer of a dlib ``loss_metric`` network file on an ``input_rgb_image_sized`` input, with parameters.

    A file that is not such a network raises one ``MgmtnError`` line naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise MgmtnError(f"{path}: no such dlib network file")
    stream = _Stream(path.read_bytes())
    try:
        stream.version(1)
        if (loss := stream.string()) != "loss_metric_2":
            raise ValueError(f"its loss layer is {loss!r}, not dlib's metric loss")
        stream.float(), stream.float()  # margin, distance threshold
        while stream.data[stream.pos:stream.pos + 2] in (b"\x01\x01", b"\x01\x02", b"\x01\x03"):
            stream.int()  # the wrappers' versions (add_layer 2, on the input 3; tag and skip layers 1)
        if (name := stream.string()) != "input_rgb_image_sized":
            raise ValueError(f"its input layer is {name!r}")
        mean = (stream.float(), stream.float(), stream.float())
        size = (stream.int(), stream.int())
        layers = []
        while stream.pos < len(stream.data):
            layers.append(_layer(stream))
            stream.bools(3)  # setup called, gradient stale, output disabled
            for _ in range(3):  # gradient, cached output, parameter gradient
                stream.tensor()
            if len(layers) == 1:
                stream.int()  # the sample expansion factor, written by the layer on the input only
    except (ValueError, IndexError) as err:
        raise MgmtnError(f"{path}: not a dlib face-recognition network file ({err})") from None
    return DlibNetwork(mean, size, layers)
