"""Equalized Focal Loss, focal, BCE and the UNet mask loss, against hand-computed values."""

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from mgmtn.errors import MgmtnError
from mgmtn.losses import BCELoss, EqualizedFocalLoss, FocalLoss, MaskLoss, build_loss

LOGITS = [[0.5, -1.0], [2.0, 0.0], [-0.3, 1.5]]
TARGETS = [[1, 0], [0, 1], [1, 1]]


def numpy_efl(logits, targets, pos, neg, gamma_b=2.0, s=4.0, alpha=0.25):
    z, y = np.asarray(logits, float), np.asarray(targets, float)
    g = np.clip(np.asarray(pos) / np.asarray(neg), 0, 1)
    gamma = gamma_b + s * (1 - g)
    p = 1 / (1 + np.exp(-z))
    pt = np.where(y == 1, p, 1 - p)
    alpha_t = np.where(y == 1, alpha, 1 - alpha)
    return np.mean(-alpha_t * gamma / gamma_b * (1 - pt) ** gamma * np.log(pt))


def with_stats(pos, neg, **kwargs):
    loss = EqualizedFocalLoss(num_classes=len(pos), **kwargs)
    loss.pos_grad.copy_(torch.tensor(pos))
    loss.neg_grad.copy_(torch.tensor(neg))
    return loss


def test_efl_hand_computed():
    # class 0: g = 1/4 -> gamma 5, weight 2.5; class 1: g = 3/2 clamps to 1 -> gamma 2, weight 1
    loss = with_stats([1.0, 3.0], [4.0, 2.0])
    gamma, weight = loss.gammas()
    assert gamma.tolist() == [5.0, 2.0] and weight.tolist() == [2.5, 1.0]
    value = loss(torch.tensor(LOGITS), torch.tensor(TARGETS))
    assert value.item() == pytest.approx(numpy_efl(LOGITS, TARGETS, [1, 3], [4, 2]), rel=1e-6)


def test_efl_statistics_are_the_gradient_magnitudes_and_accumulate():
    loss = EqualizedFocalLoss(num_classes=2)
    expected_pos, expected_neg = torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    for step in range(2):
        logits = (torch.tensor(LOGITS) * (step + 1)).requires_grad_()
        targets = torch.tensor(TARGETS, dtype=torch.float32)
        loss(logits, targets).backward()
        grad = logits.grad.abs().double() * logits.numel()  # undo the mean: sums are per element
        expected_pos += (grad * targets).sum(0)
        expected_neg += (grad * (1 - targets)).sum(0)
        assert torch.allclose(loss.pos_grad, expected_pos, rtol=1e-5)
        assert torch.allclose(loss.neg_grad, expected_neg, rtol=1e-5)
    assert not torch.equal(loss.gammas()[0], torch.full((2,), 2.0))


def test_efl_does_not_learn_during_evaluation():
    loss = EqualizedFocalLoss(num_classes=2)
    with torch.no_grad():
        loss(torch.tensor(LOGITS), torch.tensor(TARGETS))
    loss.eval()
    loss(torch.tensor(LOGITS, requires_grad=True), torch.tensor(TARGETS))
    assert loss.pos_grad.sum() == 0 and loss.neg_grad.sum() == 0


def test_efl_state_dict_round_trip():
    loss = EqualizedFocalLoss(num_classes=2)
    loss(torch.tensor(LOGITS, requires_grad=True), torch.tensor(TARGETS))
    state = loss.state_dict()
    assert set(state) == {"pos_grad", "neg_grad"}
    restored = EqualizedFocalLoss(num_classes=2)
    restored.load_state_dict(state)
    assert torch.equal(restored.pos_grad, loss.pos_grad) and torch.equal(restored.neg_grad, loss.neg_grad)
    assert torch.equal(restored.gammas()[0], loss.gammas()[0])


def test_efl_with_balanced_statistics_is_focal_loss():
    logits, targets = torch.randn(8, 40), (torch.rand(8, 40) < 0.3).float()
    for loss in (EqualizedFocalLoss(), with_stats([2.5] * 40, [2.5] * 40)):  # fresh, and P_j = N_j
        gamma, weight = loss.gammas()
        assert torch.all(gamma == 2.0) and torch.all(weight == 1.0)
        assert torch.allclose(loss.eval()(logits, targets), FocalLoss(gamma=2.0, alpha=0.25)(logits, targets))


def test_focal_with_gamma_zero_is_alpha_weighted_bce():
    logits, targets = torch.randn(8, 40), (torch.rand(8, 40) < 0.3).float()
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    alpha_t = 0.25 * targets + 0.75 * (1 - targets)
    assert torch.allclose(FocalLoss(gamma=0.0, alpha=0.25)(logits, targets), (alpha_t * bce).mean())
    assert torch.allclose(FocalLoss(gamma=0.0, alpha=None)(logits, targets), BCELoss()(logits, targets))


def test_accumulate_all_reduces_under_distributed(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        loss = EqualizedFocalLoss(num_classes=2)
        loss.accumulate(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1, 0], [0, 0]]))
        assert loss.pos_grad.tolist() == [1.0, 0.0] and loss.neg_grad.tolist() == [3.0, 6.0]
    finally:
        dist.destroy_process_group()


def test_build_loss():
    assert isinstance(build_loss("efl"), EqualizedFocalLoss)
    assert isinstance(build_loss("focal", alpha=None), FocalLoss)
    assert isinstance(build_loss("bce"), BCELoss)
    with pytest.raises(MgmtnError, match="unknown loss"):
        build_loss("hinge")


def test_mask_loss():
    logits, masks = torch.randn(2, 8, 16, 16), (torch.rand(2, 8, 16, 16) < 0.4).float()
    assert torch.allclose(MaskLoss()(logits, masks), F.binary_cross_entropy_with_logits(logits, masks))
    assert MaskLoss(dice_weight=1.0)(logits, masks) > MaskLoss()(logits, masks)
    perfect = (masks * 2 - 1) * 20
    assert MaskLoss(dice_weight=1.0)(perfect, masks) < 1e-6
