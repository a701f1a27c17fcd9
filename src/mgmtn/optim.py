"""Optimizers and learning-rate schedules of the training recipes, stepped once per batch.

The paper states Adam at 1e-4 with weight decay 5e-4 (Sec. 4.2), which in
torch's ``Adam`` is an L2 term on every parameter, BatchNorm scales and
biases included. From scratch, decoupled decay on the conv and linear weights
only (AdamW) is the usual recipe; page 12 measures both. Schedules are
multipliers of the base rate as a function of the optimizer step:

- ``constant``: the base rate throughout;
- ``epoch-cosine``: cosine decay over the epochs, held within an epoch;
- ``cosine``: linear warm-up over ``warmup_epochs``, then cosine to zero per step;
- ``onecycle``: torch's one-cycle schedule (warm-up to the peak over 30% of the steps, then anneal).

A pretrained backbone (``cpu-pretrained``) usually wants gentler steps than
the new heads: ``backbone_lr`` multiplies the rate of every parameter whose
name starts with ``backbone.``, and ``frozen_epochs`` holds those at rate 0
for the first epochs (the heads learn on fixed features first; the optimizer's
moments still accumulate, and a timm backbone's BatchNorm statistics still move).
"""

from __future__ import annotations

import math
from typing import Iterable

import torch

from mgmtn.errors import MgmtnError

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "epoch-cosine", "cosine", "onecycle")


def build_optimizer(named: Iterable[tuple[str, torch.nn.Parameter]], kind: str, lr: float,
                    weight_decay: float, backbone_lr: float | None = None) -> torch.optim.Optimizer:
    """``kind`` 'adam' (coupled L2 on all parameters) or 'adamw' (decay on weights of rank >= 2 only).

    With a ``backbone_lr`` factor the backbone's parameters form groups of their own (marked
    ``backbone``) at ``lr * backbone_lr``; without one the groups are those of earlier runs, which resume.
    """
    if kind not in OPTIMIZERS:
        raise MgmtnError(f"unknown optimizer {kind!r}; choose one of {', '.join(OPTIMIZERS)}")
    if backbone_lr is not None and backbone_lr < 0:
        raise MgmtnError(f"the backbone's learning-rate factor must be at least 0 (got {backbone_lr})")
    params = [(name, p) for name, p in named if p.requires_grad]
    groups = []
    for backbone in (False, True) if backbone_lr is not None else (False,):
        part = [(name, p) for name, p in params if backbone_lr is None or name.startswith("backbone.") == backbone]
        rate = dict(lr=lr * backbone_lr, backbone=True) if backbone else {}
        if kind == "adam":
            groups.append({"params": [p for _, p in part], **rate})
        else:
            groups += [{"params": [p for _, p in part if p.ndim >= 2], "weight_decay": weight_decay, **rate},
                       {"params": [p for _, p in part if p.ndim < 2], "weight_decay": 0.0, **rate}]
    groups = [group for group in groups if group["params"]]
    optimizer = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
    return optimizer(groups, lr=lr, **({"weight_decay": weight_decay} if kind == "adam" else {}))


def build_schedule(optimizer: torch.optim.Optimizer, kind: str, epochs: int, steps_per_epoch: int,
                   warmup_epochs: float = 0.0, frozen_epochs: float = 0.0) -> torch.optim.lr_scheduler.LRScheduler:
    """The per-step schedule ``kind`` (see the module docstring) over ``epochs`` x ``steps_per_epoch`` steps;
    the ``backbone`` groups are held at 0 for the first ``frozen_epochs``."""
    total = max(epochs * steps_per_epoch, 1)
    warmup = min(round(warmup_epochs * steps_per_epoch), total - 1)
    frozen = round(frozen_epochs * steps_per_epoch)
    if frozen and kind == "onecycle":
        raise MgmtnError("a frozen backbone start needs a schedule other than onecycle")
    if kind == "onecycle":
        peaks = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peaks, total_steps=total, pct_start=0.3,
                                                   cycle_momentum=False)
    if kind == "constant":
        factor = _constant
    elif kind == "epoch-cosine":
        def factor(step: int) -> float:
            return 0.5 * (1 + math.cos(math.pi * (step // steps_per_epoch) / max(epochs, 1)))
    elif kind == "cosine":
        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))
    else:
        raise MgmtnError(f"unknown schedule {kind!r}; choose one of {', '.join(SCHEDULES)}")

    def held(step: int) -> float:
        return 0.0 if step < frozen else factor(step)

    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, [held if group.get("backbone") else factor for group in optimizer.param_groups])


def _constant(step: int) -> float:
    return 1.0
