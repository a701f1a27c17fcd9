"""MGG-Net: the multi-scale group and graph network.

"Improving Facial Attribute Recognition by Group and Graph Learning"
(Chen et al., ICME 2021). Implemented:

* Eq. 1, Group Attention Learning (GAL): on each block b, one mask module
  per group (conv, BN, ReLU) gives the attention mask M_i^b from the shared
  feature F_b; the group feature is f_i^b = GAP(F_b M_i^b).
* Eq. 2, Graph Correlation Learning (GCL): directed group-to-group messages.
  Node i transforms every other node with its own W_gi, scores it with its
  own w_ei, e_ij = w_ei^T ReLU(W_gi f_j), normalises the K - 1 scores with a
  softmax and updates f_i' = ReLU((1 - alpha) f_i + alpha sum_j e_ij W_gi f_j).
  Since W_gi and w_ei belong to the receiver, e_ij != e_ji.
* Eq. 3: one linear binary classifier per attribute and block, theta_a^b,
  shared by the GAL feature f_i^b and the GCL feature f_i^b'; a base
  classifier on the pooled last feature F_B.
* Eq. 4: the prediction averages probabilities, Y = (Y^B + sum_b Y^b,GCL) / (1 + B);
  the model returns logit(Y), so that sigmoid(logits) is Y itself.
* Eq. 5: the total loss sums the BCE of Y, Y^B and every Y^b,GAL and Y^b,GCL
  (``MGGObjective``; the paper's loss "for prediction accuracy").

Choices the paper leaves open, and what we do:

* Blocks. GAL and GCL sit on "block 3 and block 4" of ResNet18, whose masks
  are 28 x 28 and 14 x 14 at 224 px: the stride-8 and stride-16 maps, our
  levels 3 and 4 (F3, F4). The base prediction uses the last map F5. The
  paper's trunk is ResNet18 (12.8M parameters in all); we take the profile's
  backbone (``mgmtn.models.trunk``).
* Groups: the paper's eight groups are not listed; we use those of the MGMTN
  paper's Table 1 (``mgmtn.models.heads``).
* The mask module is conv 3x3 (to C/8 channels per group), BN, ReLU, then a
  1x1 conv to one channel and a sigmoid, so that a mask weighs each cell in
  [0, 1]. The width C/8 brings the ResNet18 model to 12.6M parameters, near
  the paper's 12.8M (C/4 would give 13.3M). alpha, "a constant" in the
  paper, is 0.5.
* Each loss term is the mean over batch and attributes rather than the sum
  over attributes (a constant factor).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mgmtn.attributes import NUM_ATTRIBUTES, NUM_GROUPS
from mgmtn.models.heads import AttributeLinear
from mgmtn.models.objective import Objective, attribute_bce, balance_weights
from mgmtn.models.output import ModelOutput
from mgmtn.models.trunk import TrunkModel

LEVELS = (3, 4)  # the paper's blocks 3 and 4


def mean_probability_logit(logits: list[Tensor]) -> Tensor:
    """logit(mean_k sigmoid(z_k)) of Eq. 4, in log space so that it stays finite for any z."""
    z = torch.stack(logits).float()
    return torch.logsumexp(F.logsigmoid(z), dim=0) - torch.logsumexp(F.logsigmoid(-z), dim=0)


class GroupAttention(nn.Module):
    """Eq. 1 for all K groups at once: per-group masks (B, K, H, W) and masked, averaged features (B, K, C)."""

    def __init__(self, channels: int, groups: int = NUM_GROUPS, reduction: int = 8):
        super().__init__()
        width = max(channels // reduction, 1)
        self.masks = nn.Sequential(
            nn.Conv2d(channels, groups * width, 3, padding=1, bias=False),  # the K modules' convs side by side
            nn.BatchNorm2d(groups * width), nn.ReLU(inplace=True),
            nn.Conv2d(groups * width, groups, 1, groups=groups), nn.Sigmoid())

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        masks = self.masks(x)
        return torch.einsum("bchw,bkhw->bkc", x, masks) / masks[0, 0].numel(), masks


class GraphCorrelation(nn.Module):
    """Eq. 2: each group receives from the K - 1 others through its own transfer W_gi and edge weight w_ei."""

    def __init__(self, dim: int, groups: int = NUM_GROUPS, alpha: float = 0.5):
        super().__init__()
        self.alpha = alpha
        bound = dim ** -0.5
        self.transfer = nn.Parameter(torch.empty(groups, dim, dim).uniform_(-bound, bound))  # W_gi
        self.edge = nn.Parameter(torch.empty(groups, dim).uniform_(-bound, bound))  # w_ei
        self.register_buffer("others", ~torch.eye(groups, dtype=torch.bool), persistent=False)

    def forward(self, f: Tensor) -> Tensor:
        """(B, K, D) part-based group features -> (B, K, D) graph-based ones."""
        messages = torch.einsum("ide,bje->bijd", self.transfer, f)  # W_gi f_j
        scores = torch.einsum("id,bijd->bij", self.edge, messages.relu())  # e_ij
        affinity = scores.masked_fill(~self.others, float("-inf")).softmax(-1)
        return F.relu((1 - self.alpha) * f + self.alpha * torch.einsum("bij,bijd->bid", affinity, messages))


class MGGNet(TrunkModel):
    """GAL and GCL on F3 and F4, a base classifier on F5, and the averaged prediction of Eq. 4.

    ``extras`` holds the base logits, the GAL and GCL logits of each block and
    the attention masks keyed by level. ``feature_dim`` is the size of F5.
    """

    levels = (*LEVELS, 5)

    def __init__(self, alpha: float = 0.5, **trunk):
        super().__init__(**trunk)
        blocks = self.channels[:-1]
        self.attention = nn.ModuleList(GroupAttention(c) for c in blocks)
        self.graph = nn.ModuleList(GraphCorrelation(c, alpha=alpha) for c in blocks)
        self.heads = nn.ModuleList(AttributeLinear(c) for c in blocks)
        self.base = nn.Linear(self.feature_dim, NUM_ATTRIBUTES)

    def output_layers(self) -> list[tuple[nn.Module, Tensor]]:
        """The base classifier and each block's per-attribute classifiers (``mgmtn.models.prior``)."""
        return [(layer, torch.arange(NUM_ATTRIBUTES)) for layer in (self.base, *self.heads)]

    def forward(self, x: Tensor) -> ModelOutput:
        *maps, last = self.backbone(x)
        base = self.base(last.mean((-2, -1)))
        gal, gcl, masks = [], [], {}
        for level, fmap, attention, graph, head in zip(LEVELS, maps, self.attention, self.graph, self.heads):
            groups, masks[f"F{level}"] = attention(fmap)
            gal.append(head(groups))
            gcl.append(head(graph(groups)))
        return ModelOutput(logits=mean_probability_logit([base, *gcl]),
                           extras={"base": base, "gal": gal, "gcl": gcl, "attention": masks})


class MGGObjective(Objective):
    """Eq. 5: the BCE of the final, base, GAL and GCL predictions, summed.

    ``balanced``: the paper's loss "for balanced optimization", a BCE weighted
    by the imbalance level, behind its balanced-accuracy (mA) numbers. We
    weigh each attribute's positives and negatives in the batch 1:1
    (``balance_weights``, the cascade's rule), the paper giving no formula.
    """

    def __init__(self, balanced: bool = False):
        super().__init__()
        self.balanced = balanced

    def loss(self, model, batch):
        out = model(batch["image"])
        logits = [out.logits, out.extras["base"], *out.extras["gal"], *out.extras["gcl"]]
        targets = batch["labels"]
        weights = balance_weights(targets) if self.balanced else None
        return sum(attribute_bce(z, targets, weights).mean() for z in logits)

