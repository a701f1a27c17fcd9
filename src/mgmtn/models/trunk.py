"""The trunk every comparison model stands on: the profile's backbone, whichever trunk its paper used.

The papers train on different trunks: DMM-CNN on ResNet50, MGG-Net on
ResNet18, the cascaded network on an AlexNet-like net, and FAR-AMTN's
abstract does not say. The book compares methods, not trunks, so every
comparison model takes the profile's backbone (``tiny`` in ``smoke``,
ResNet18 in ``cpu``, ResNeSt50 in ``paper``), exactly as MGMTN and its
baselines do, and reads the maps it needs from ``create_backbone``.
"""

from __future__ import annotations

import os

from torch import nn

from mgmtn.models.backbone import create_backbone


class TrunkModel(nn.Module):
    """Base of the comparison models: ``self.backbone`` returns the maps of ``levels`` (stride 2**level).

    ``channels`` are those maps' depths; ``feature_dim``, the size of the
    feature the model's heads read, is the deepest one's unless a model says otherwise.
    """

    levels: tuple[int, ...] = (5,)

    def __init__(self, backbone: str = "resnest50d", pretrained: bool = False,
                 pretrained_file: str | os.PathLike | None = None, backbone_kwargs: dict | None = None):
        super().__init__()
        self.backbone = create_backbone(backbone, self.levels, pretrained, pretrained_file, **(backbone_kwargs or {}))
        self.channels: list[int] = self.backbone.feature_info.channels()
        self.feature_dim = self.channels[-1]
