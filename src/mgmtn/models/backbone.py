"""Backbones for MGMTN: timm feature extractors giving the multi-scale maps F3, F4, F5.

"Mask-Guided Multi-Task Network for Face Attribute Recognition" (Gao et al.),
Sec. 3.1: ResNeSt50 extracts F = {F_i}, i = 3, 4, 5; the group features take
512 channels from F3 and 1024 from F4, the global feature 2048 from F5
(512 + 1024 + 2048 = 3584, Fig. 4 and Eq. 6). Those depths are the outputs of
ResNe(S)t stages 2, 3 and 4, whose strides are 8, 16 and 32, so level i here
means "the stage output at stride 2**i" and is taken from timm's
``features_only`` extractor. Channel counts always come from
``feature_info.channels()``, so every ResNet-family backbone works unchanged.

Feature sizes. The paper feeds 227 x 227 images and says the masks are
resized to "14x14 and 7x7". At 227 px the stride-8/16/32 maps are 29, 15 and 8
cells wide (ceil division in the stem and at each stride-2 stage), and at
224 px they are 28, 14 and 7. The paper's 14 and 7 are therefore the stride-16
and stride-32 sizes of a 224 px input, which would belong to the 1024- and
2048-channel stages, not to the 512- and 1024-channel maps it pools. The
channel counts are tied to the dimensions the paper computes with (1536, 3584),
the spatial sizes to nothing else, so we keep the channels and take F3 and F4
at whatever size the backbone gives (29 x 29 and 15 x 15 at 227 px); the masks
are resized to each map's actual size (``mgmtn.models.mgmtn``).

Weights. ``pretrained=True`` loads timm's published ImageNet weights (from
the Hugging Face hub or timm's cache); ``pretrained_file`` loads a local file
(``.pth``/``.bin``/``.safetensors``, a plain state dict of the timm model)
and works offline. With ``HF_HUB_OFFLINE=1`` and nothing cached, a download
fails at once with one ``MgmtnError`` line saying what to do instead.

Ports. ``PORTS`` names backbones that are not timm models but give the same
interface (``feature_info`` with channels and reductions, forward -> maps):
``dlib-resnet29`` is dlib's face-recognition ResNet (``mgmtn.models.dlib_resnet``),
whose ``pretrained=True`` reads the network file shipped in
``face-recognition-models`` (offline) and whose ``pretrained_file`` is a dlib
network file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import timm
from torch import nn

from mgmtn.errors import MgmtnError
from mgmtn.models.dlib_resnet import dlib_resnet29, shipped_weights

# Named shapes that are not timm names: ``tiny`` is a ResNet-10-T at a quarter
# width for tests and CPU smoke runs (no published weights exist for it).
PRESETS: dict[str, tuple[str, dict]] = {
    "tiny": ("resnet10t", dict(channels=(16, 32, 64, 128), stem_width=16)),
}
# Backbones ported from other libraries: name -> builder(levels, pretrained, pretrained_file).
PORTS = {"dlib-resnet29": dlib_resnet29}
BACKBONE_NAMES = ("resnest50d", "resnet50", "resnet18", "resnet10t", "tiny", *PORTS)


def _offline() -> bool:
    """True when the Hugging Face hub must not be contacted."""
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}
    return flag or constants.is_offline_mode()


def _download_error(name: str, err: Exception) -> MgmtnError:
    hint = "pass a local weights file with pretrained_file=PATH or use pretrained=False"
    if _offline():
        return MgmtnError(f"the weights of {name} cannot be downloaded offline (HF_HUB_OFFLINE=1); {hint}")
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return MgmtnError(f"the weights of {name} could not be downloaded ({reason}); {hint}")


def _load_file(model: nn.Module, path: str | os.PathLike, name: str) -> None:
    """Load a local state dict, insisting that every backbone tensor is in it.

    timm's own file loading is lenient for feature extractors (the classifier
    is dropped, so it loads with ``strict=False``): a file from another model
    would silently leave random weights. Extra keys (classifier, stages the
    extractor does not use) are fine; missing ones are an error.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise MgmtnError(f"weights file {path} for backbone {name} does not exist")
    try:
        state = timm.models.load_state_dict(str(path))
        missing = model.load_state_dict(state, strict=False).missing_keys
    except (OSError, RuntimeError, ValueError) as err:
        raise MgmtnError(f"cannot load weights file {path} into backbone {name}: {err}") from err
    if missing:
        raise MgmtnError(f"weights file {path} does not fit backbone {name}: "
                         f"{len(missing)} tensors missing, e.g. {missing[0]}")


def weights_digest(name: str, pretrained: bool, pretrained_file: str | os.PathLike | None) -> str | None:
    """sha256 of the local file a backbone starts from (a port's shipped file when ``pretrained``), else None."""
    if pretrained_file is not None:
        path = Path(pretrained_file).expanduser()
    elif pretrained and name in PORTS:
        path = shipped_weights()
    else:
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def create_backbone(
        name: str = "resnest50d",
        levels: tuple[int, ...] = (3, 4, 5),
        pretrained: bool = False,
        pretrained_file: str | os.PathLike | None = None,
        **kwargs,
) -> nn.Module:
    """A timm extractor whose forward returns the maps of ``levels`` (stride 2**level), in order.

    ``name`` is a timm ResNet-family name, a key of ``PRESETS`` or of ``PORTS``;
    ``pretrained_file`` takes precedence over ``pretrained``; ``kwargs`` go to
    ``timm.create_model``. Stages after the deepest requested level are not
    built, so a model that never uses F5 carries no unused parameters.
    """
    if name in PORTS:
        if kwargs:
            raise MgmtnError(f"backbone {name!r} takes no options (got {', '.join(kwargs)})")
        return PORTS[name](tuple(levels), pretrained, pretrained_file)
    arch, preset = PRESETS.get(name, (name, {}))
    if not timm.is_model(arch):
        raise MgmtnError(f"unknown backbone {name!r}; try one of {', '.join(BACKBONE_NAMES)} or a timm ResNet name")
    download = pretrained and pretrained_file is None
    if download and preset:
        raise MgmtnError(f"backbone {name!r} has no published weights; use pretrained=False or pretrained_file=PATH")
    out_indices = tuple(level - 1 for level in levels)  # timm ResNets: index k is the stride-2**(k+1) map
    try:
        model = timm.create_model(arch, pretrained=download, features_only=True, out_indices=out_indices,
                                  **{**preset, **kwargs})
    except (OSError, RuntimeError) as err:
        if not download:
            raise
        raise _download_error(name, err) from err
    strides = tuple(model.feature_info.reduction())
    if strides != tuple(2 ** level for level in levels):
        raise MgmtnError(f"backbone {name!r} gives maps at strides {strides}, not {tuple(2 ** l for l in levels)}; "
                         "use a ResNet-family backbone")
    if pretrained_file is not None:
        _load_file(model, pretrained_file, name)
    return model
