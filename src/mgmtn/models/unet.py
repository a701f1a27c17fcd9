"""The mask network of AML: a small UNet with one head per attribute group.

"Mask-Guided Multi-Task Network for Face Attribute Recognition" (Gao et al.),
Sec. 3.1 and Fig. 5: a UNet is trained on rectangular group masks (derived from
facial keypoints) and its last layer has eight independent 1x1 convolution
heads, one per group of Table 1, each a pixel-wise binary classifier. The
groups overlap, so the heads are eight sigmoid outputs, not one softmax.

The paper does not give the UNet's widths or depth; the masks only have to be
right at the 29 x 29 and 15 x 15 feature cells they end up on, so this one is
small (``base_width`` 16, ``depth`` 4 by default: 2 M parameters) and trains
on a CPU at 64-128 px. It returns logits; consumers apply the sigmoid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mgmtn.attributes import NUM_GROUPS


class ConvBlock(nn.Sequential):
    """Two 3x3 conv-norm-act layers: the unit at every UNet level."""

    def __init__(self, in_chs: int, out_chs: int, norm_layer=nn.BatchNorm2d, act_layer=nn.ReLU):
        layers = []
        for chs in (in_chs, out_chs):
            layers += [nn.Conv2d(chs, out_chs, 3, padding=1, bias=False), norm_layer(out_chs), act_layer(inplace=True)]
        super().__init__(*layers)


class UNet(nn.Module):
    """Encoder-decoder with skip connections and ``num_masks`` one-channel heads (Fig. 5).

    Any input size works: the input is padded to a multiple of ``2**depth``
    and the output cropped back, so masks always match the input pixels.
    ``input_size`` records the resolution the network was trained at; AML
    resizes images to it before predicting masks.
    """

    def __init__(
            self,
            in_chans: int = 3,
            num_masks: int = NUM_GROUPS,
            base_width: int = 16,
            depth: int = 4,
            input_size: int | None = None,
    ):
        super().__init__()
        widths = [base_width * 2 ** level for level in range(depth + 1)]
        self.depth = depth
        self.input_size = input_size
        self.down = nn.ModuleList([ConvBlock(in_chans, widths[0])])
        self.down.extend(ConvBlock(widths[k], widths[k + 1]) for k in range(depth))
        self.up = nn.ModuleList(ConvBlock(widths[k + 1] + widths[k], widths[k]) for k in reversed(range(depth)))
        self.heads = nn.ModuleList(nn.Conv2d(widths[0], 1, 1) for _ in range(num_masks))

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) image -> (B, num_masks, H, W) mask logits."""
        height, width = x.shape[-2:]
        multiple = 2 ** self.depth
        x = F.pad(x, (0, -width % multiple, 0, -height % multiple))
        skips = []
        for k, block in enumerate(self.down):
            x = block(F.max_pool2d(x, 2) if k else x)
            skips.append(x)
        skips.pop()
        for block in self.up:
            skip = skips.pop()
            x = block(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear"), skip], dim=1))
        return torch.cat([head(x) for head in self.heads], dim=1)[..., :height, :width]


def mask_counts(pred: Tensor, target: Tensor, threshold: float = 0.5) -> Tensor:
    """(num_masks, 3) true-positive, false-positive, false-negative pixel counts over a batch.

    ``pred`` holds probabilities; counts add up across batches, so a data set's
    F1 is computed once from its summed counts rather than averaged per batch.
    """
    hit = pred >= threshold
    truth = target >= 0.5
    dims = [d for d in range(pred.dim()) if d != 1]
    tp = (hit & truth).sum(dims)
    fp = (hit & ~truth).sum(dims)
    fn = (~hit & truth).sum(dims)
    return torch.stack([tp, fp, fn], dim=1)


def f1_from_counts(counts: Tensor) -> Tensor:
    """Per-mask F1 from ``mask_counts``; 1 where prediction and truth are both empty."""
    tp, fp, fn = counts.double().unbind(1)
    denom = 2 * tp + fp + fn
    return torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.ones_like(denom))


def mask_f1(pred: Tensor, target: Tensor, threshold: float = 0.5, logits: bool = False) -> Tensor:
    """(num_masks,) pixel F1 of each group mask (Sec. 4.4), pooled over the batch.

    ``pred`` holds probabilities, or logits when ``logits=True``.
    """
    probs = pred.sigmoid() if logits else pred
    return f1_from_counts(mask_counts(probs, target, threshold))
