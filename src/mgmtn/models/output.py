"""The output every attribute model returns, so one trainer and one evaluator serve them all."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class ModelOutput:
    """Attribute logits plus what some models can show about how they got them.

    ``logits``: (B, 40) pre-sigmoid scores in ``mgmtn.attributes.ATTRIBUTES`` order.
    ``masks``: (B, 8, h, w) group-mask probabilities from the UNet at its own
    resolution (groups in ``GROUPS`` order), for overlays; None for models without masks.
    ``extras``: model-specific tensors for analysis, e.g. the max-pooling
    positions behind the paper's Fig. 8 (see ``MGMTN.forward``).
    """

    logits: Tensor
    masks: Tensor | None = None
    extras: dict = field(default_factory=dict)
