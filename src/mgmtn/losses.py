"""Attribute losses (Equalized Focal Loss, focal, BCE) and the UNet's mask loss.

The MGMTN paper (Sec. 4.2) trains with Equalized Focal Loss, "EFL: Equalized
Focal Loss for Dense Long-Tailed Object Detection" (Li et al., CVPR 2022),
treating each of the 40 attributes as a class. In its sigmoid form, for
attribute j with p_t the probability of the true label and alpha_t = alpha for
positives and 1 - alpha for negatives:

    g_j     = clamp(P_j / N_j, 0, 1)
    gamma_j = gamma_b + s (1 - g_j)
    w_j     = gamma_j / gamma_b
    loss    = -alpha_t w_j (1 - p_t)^gamma_j log p_t

where P_j and N_j are the sums, over all training steps so far, of |dL/dz|
(z the logit) over the positive and the negative samples of attribute j;
gamma_j and w_j are constants for the backward pass. A rare attribute
collects less positive gradient, gets a larger gamma_j (easy negatives are
damped more) and a larger weight. Until an attribute has seen negative
gradient, g_j = 1 and the loss is plain focal loss.

We compute |dL/dz| in closed form during the forward pass instead of hooking
the logits' gradient (the EFL reference code does the latter):

    |dL/dz| = alpha_t w_j (1 - p_t)^gamma_j ((1 - p_t) - gamma_j p_t log p_t)

so the statistics do not see AMP's loss scaling, its skipped overflow steps,
or any other loss added to the same logits, and they need no backward to be
collected. They are summed per element, before the mean reduction, so their
scale does not depend on the batch size. Statistics are collected only when the
loss module is in training mode and the logits require grad (never during
evaluation under ``torch.no_grad``), are float64 buffers (long runs add small
numbers to large sums) and travel with ``state_dict()``. Under
``torch.distributed`` ``accumulate`` all-reduces the batch sums first, so
every rank holds the same statistics and computes the same gamma_j.

All attribute losses take (B, 40) logits and {0, 1} targets and return the
mean over batch and attributes. alpha = 0.25 is the default of focal loss and
EFL; ``alpha=None`` weighs positives and negatives equally.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from mgmtn.attributes import NUM_ATTRIBUTES
from mgmtn.errors import MgmtnError


def _keep_alpha(module: nn.Module, alpha: float | Tensor | None) -> None:
    """A per-attribute alpha is a (non-persistent) buffer, so that it moves with the module's device."""
    if torch.is_tensor(alpha):
        module.register_buffer("alpha", alpha, persistent=False)
    else:
        module.alpha = alpha


def _alpha_t(targets: Tensor, alpha: float | Tensor | None) -> Tensor | float:
    return 1.0 if alpha is None else alpha * targets + (1 - alpha) * (1 - targets)


def focal_terms(logits: Tensor, targets: Tensor, gamma: Tensor | float, alpha: float | None,
                weight: Tensor | float = 1.0) -> tuple[Tensor, Tensor]:
    """Per-element focal loss and its |dL/dz|, for per-class ``gamma`` and ``weight`` broadcast over the batch."""
    targets = targets.to(logits.dtype)
    log_pt = -F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    pt = log_pt.exp()
    scale = _alpha_t(targets, alpha) * weight * (1 - pt) ** gamma
    loss = -scale * log_pt
    grad_abs = scale * ((1 - pt) - gamma * pt * log_pt)
    return loss, grad_abs


class BCELoss(nn.Module):
    """Binary cross-entropy on logits, mean over batch and attributes."""

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))


class FocalLoss(nn.Module):
    """Sigmoid focal loss (Lin et al. 2017) with one ``gamma`` for all attributes."""

    def __init__(self, gamma: float = 2.0, alpha: float | Tensor | None = 0.25):
        super().__init__()
        self.gamma = gamma
        _keep_alpha(self, alpha)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        return focal_terms(logits, targets, self.gamma, self.alpha)[0].mean()


class EqualizedFocalLoss(nn.Module):
    """Equalized Focal Loss (sigmoid form) with per-attribute focusing from accumulated gradient statistics."""

    def __init__(self, num_classes: int = NUM_ATTRIBUTES, gamma_b: float = 2.0, scale: float = 4.0,
                 alpha: float | Tensor | None = 0.25):
        super().__init__()
        self.gamma_b = gamma_b
        self.scale = scale
        _keep_alpha(self, alpha)
        self.register_buffer("pos_grad", torch.zeros(num_classes, dtype=torch.float64))
        self.register_buffer("neg_grad", torch.zeros(num_classes, dtype=torch.float64))

    def gammas(self) -> tuple[Tensor, Tensor]:
        """Current (gamma_j, w_j) for every class, from the statistics so far."""
        balance = torch.where(self.neg_grad > 0, self.pos_grad / self.neg_grad.clamp(min=1e-30), 1.0).clamp(0, 1)
        gamma = self.gamma_b + self.scale * (1 - balance)
        return gamma, gamma / self.gamma_b

    @torch.no_grad()
    def accumulate(self, grad_abs: Tensor, targets: Tensor) -> None:
        """Add a batch's |dL/dz| (B, C) to the positive and negative sums; all-reduced across ranks."""
        targets = targets.to(torch.float64)
        grad_abs = grad_abs.to(torch.float64)
        sums = torch.stack([(grad_abs * targets).sum(0), (grad_abs * (1 - targets)).sum(0)])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(sums)
        self.pos_grad += sums[0]
        self.neg_grad += sums[1]

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        gamma, weight = (t.to(logits.dtype) for t in self.gammas())
        loss, grad_abs = focal_terms(logits, targets, gamma, self.alpha, weight)
        if self.training and logits.requires_grad:
            self.accumulate(grad_abs.detach(), targets)
        return loss.mean()


LOSSES = {"efl": EqualizedFocalLoss, "focal": FocalLoss, "bce": BCELoss}


def build_loss(name: str, alpha: float | str | None = 0.25, prior=None) -> nn.Module:
    """The attribute loss called ``name``: 'efl' (the paper's), 'focal' or 'bce'.

    ``alpha`` weighs the positives of focal and EFL: a number, None (equal
    weights), or 'prior' for 1 - each attribute's positive rate ``prior``
    (40 numbers), which weighs a rare attribute's positives up. BCE takes none.
    """
    if name not in LOSSES:
        raise MgmtnError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    if name == "bce":
        return BCELoss()
    if alpha == "prior":
        if prior is None:
            raise MgmtnError("alpha='prior' needs the attributes' positive rates")
        alpha = 1 - torch.as_tensor(prior, dtype=torch.float32)
    elif isinstance(alpha, str):
        raise MgmtnError(f"alpha must be a number, None or 'prior', not {alpha!r}")
    return LOSSES[name](alpha=alpha)


class MaskLoss(nn.Module):
    """Per-pixel BCE of the UNet's eight mask logits, plus ``dice_weight`` times the soft Dice loss.

    Each group is its own binary problem (the masks overlap, Sec. 3.1); Dice
    counters the imbalance of small regions (ear, nose) against background.
    """

    def __init__(self, dice_weight: float = 0.0, smooth: float = 1.0):
        super().__init__()
        self.dice_weight = dice_weight
        self.smooth = smooth

    def forward(self, logits: Tensor, masks: Tensor) -> Tensor:
        masks = masks.to(logits.dtype)
        loss = F.binary_cross_entropy_with_logits(logits, masks)
        if self.dice_weight:
            probs = logits.sigmoid()
            overlap = (probs * masks).sum((-2, -1))
            total = probs.sum((-2, -1)) + masks.sum((-2, -1))
            loss = loss + self.dice_weight * (1 - (2 * overlap + self.smooth) / (total + self.smooth)).mean()
        return loss
