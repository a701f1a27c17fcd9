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
"""

from __future__ import annotations

import math
from typing import Iterable

import torch

from mgmtn.errors import MgmtnError

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "epoch-cosine", "cosine", "onecycle")


def build_optimizer(named: Iterable[tuple[str, torch.nn.Parameter]], kind: str, lr: float,
                    weight_decay: float) -> torch.optim.Optimizer:
    """``kind`` 'adam' (coupled L2 on all parameters) or 'adamw' (decay on weights of rank >= 2 only)."""
    params = [(name, p) for name, p in named if p.requires_grad]
    if kind == "adam":
        return torch.optim.Adam([p for _, p in params], lr=lr, weight_decay=weight_decay)
    if kind == "adamw":
        decay = [p for _, p in params if p.ndim >= 2]
        rest = [p for _, p in params if p.ndim < 2]
        return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                  {"params": rest, "weight_decay": 0.0}], lr=lr)
    raise MgmtnError(f"unknown optimizer {kind!r}; choose one of {', '.join(OPTIMIZERS)}")


def build_schedule(optimizer: torch.optim.Optimizer, kind: str, epochs: int, steps_per_epoch: int,
                   warmup_epochs: float = 0.0) -> torch.optim.lr_scheduler.LRScheduler:
    """The per-step schedule ``kind`` (see the module docstring) over ``epochs`` x ``steps_per_epoch`` steps."""
    total = max(epochs * steps_per_epoch, 1)
    warmup = min(round(warmup_epochs * steps_per_epoch), total - 1)
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
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _constant(step: int) -> float:
    return 1.0
