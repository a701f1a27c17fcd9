"""The training objectives that comparison models bring to the shared trainer.

``mgmtn.engine.fit`` asks its Task for ``loss(model, batch)`` at every step
and for ``evaluate(model, loader)`` after every epoch. The MGMTN family trains
with the profile's loss (``mgmtn.train.AttributeTask``); each comparison
method trains with its own paper's objective instead, an ``Objective``.

An Objective is a module, so what it learns while training (dynamic loss
weights, early-stopping counters, an auxiliary head that only the loss uses)
is checkpointed with the run and a resumed run continues exactly. What
prediction needs (thresholds, frozen heads) lives in the model's buffers
instead, so ``best.pt`` alone still rebuilds the predictor.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from mgmtn import metrics


def unwrap(model: nn.Module) -> nn.Module:
    """The model itself, also when the trainer wrapped it for DistributedDataParallel."""
    return model.module if isinstance(model, DistributedDataParallel) else model


@torch.no_grad()
def predict_logits(model: nn.Module, loader, device=None) -> tuple[Tensor, Tensor]:
    """Labels and logits (N, 40), float32 on the CPU, of every image the loader yields, in order."""
    model.eval()
    device = device or next(model.parameters()).device
    targets, logits = [], []
    for batch in loader:
        logits.append(model(batch["image"].to(device)).logits.float().cpu())
        targets.append(batch["labels"].float())
    return torch.cat(targets), torch.cat(logits)


def _average_over_processes(parameter: Tensor) -> None:
    dist.all_reduce(parameter.grad)
    parameter.grad /= dist.get_world_size()


def attribute_bce(logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of each attribute (A,): the batch mean, or the sum weighted by ``weights`` (B, A)."""
    losses = F.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none")
    return losses.mean(0) if weights is None else (losses * weights).sum(0)


def balance_weights(targets: Tensor) -> Tensor:
    """Per-sample loss weights (B, A): the positives and the negatives of each attribute share its loss 1:1.

    Each column sums to 1; a class absent from the batch leaves the whole share to the other.
    """
    positives = targets.sum(0)
    negatives = len(targets) - positives
    classes = (positives > 0).float() + (negatives > 0).float()
    return torch.where(targets.bool(), 1 / positives.clamp_min(1), 1 / negatives.clamp_min(1)) / classes


class Objective(nn.Module):
    """A Task (``mgmtn.engine.Task``) whose state is a module's: parameters are trained, buffers checkpointed.

    ``balanced``: the loss weighs each attribute's positives and negatives
    equally, so its constant best guess is 0.5, not the label prior, and the
    model does not start at the prior (``mgmtn.models.prior``).
    """

    balanced: bool = False

    def loss(self, model: nn.Module, batch: dict) -> Tensor:
        raise NotImplementedError

    def average_gradients(self) -> None:
        """Under torchrun, average this objective's gradients over the processes, as DDP does the model's."""
        for parameter in self.parameters():
            parameter.register_post_accumulate_grad_hook(_average_over_processes)

    def learn(self, model: nn.Module, targets: Tensor, logits: Tensor) -> Tensor:
        """Learn from the validation outputs once per epoch; returns the logits the model gives afterwards."""
        return logits

    def evaluate(self, model: nn.Module, loader) -> dict[str, float]:
        """Validation accuracy and mA of the model as it is saved, after ``learn``."""
        targets, logits = predict_logits(model, loader)
        logits = self.learn(unwrap(model), targets, logits)
        return metrics.summary(targets.numpy().astype(np.uint8), logits.sigmoid().numpy())
