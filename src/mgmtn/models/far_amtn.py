"""FAR-AMTN: an attention multi-task network for face attributes, rebuilt from its abstract.

"FAR-AMTN: Attention Multi-Task Network for Face Attribute Recognition"
(Gao et al., Computer Vision and Image Understanding 2025). Only the abstract
is available. It names three parts, implemented here:

* WSGSA, Weight-Shared Group-Specific Attention: attention whose parameters
  all groups share, "to minimize complexity while improving group feature
  representation".
* CGFF, Cross-Group Feature Fusion, "to foster interactions between
  attribute groups".
* DWS, a Dynamic Weighting Strategy "for synchronized task convergence".

Every design decision beyond those sentences is ours:

* Trunk and scale. The profile's backbone (``mgmtn.models.trunk``). Groups
  are formed on the last map F5 only: the abstract criticises distinct
  high-level modules per task, which is where WSGSA replaces them, and
  mentions no multi-scale features.
* Groups: the eight of the MGMTN paper's Table 1 (same authors), as tasks.
* WSGSA is spatial attention pooling with shared keys and one learned query
  per group: a shared 1x1 conv maps F5 to d = C/8 key channels, group g's
  map is softmax_HW(q_g . k / sqrt(d)), and its feature is the map-weighted
  sum of F5. A channel gate (squeeze-excitation MLP on the pooled vector,
  C -> C/16 -> C, sigmoid) follows, also shared. Only the queries (G x d
  numbers) are group-specific, so adding a group costs d parameters, not a
  module.
* CGFF is one attention step across the group tokens: queries and keys are
  shared linear maps to d dimensions, each group adds the affinity-weighted
  sum of all group features (itself included) to its own, and a LayerNorm
  follows.
* Heads: one linear classifier per attribute on its group's fused feature
  (``mgmtn.models.heads``), the lightest head that keeps tasks apart.
* Loss: BCE per attribute, averaged within each group; the group losses are
  the tasks that DWS weighs. (The abstract does not name a loss; the
  profile's Equalized Focal Loss gives no per-group terms to weigh.)
* DWS follows Dynamic Weight Average (Liu et al., CVPR 2019): after each
  epoch, r_g = L_g(e) / L_g(e - 1) from the group's mean training loss, and
  w_g = G softmax(r_g / T), T = 2. A group whose loss falls more slowly than
  the others' gets more weight, which pulls the groups' convergence
  together; weights are 1 for the first two epochs. Under torchrun the
  epoch losses are averaged over all processes, so every rank uses the same weights.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn

from mgmtn.attributes import NUM_ATTRIBUTES, NUM_GROUPS
from mgmtn.models.heads import GROUP_OF_ATTRIBUTE, AttributeLinear
from mgmtn.models.objective import Objective, attribute_bce
from mgmtn.models.output import ModelOutput
from mgmtn.models.trunk import TrunkModel


def _key_dim(channels: int) -> int:
    return max(channels // 8, 8)


class SharedGroupAttention(nn.Module):
    """WSGSA: (B, C, H, W) -> group features (B, G, C) and their spatial maps (B, G, H, W)."""

    def __init__(self, channels: int, groups: int = NUM_GROUPS, reduction: int = 16):
        super().__init__()
        dim = _key_dim(channels)
        self.keys = nn.Conv2d(channels, dim, 1)
        self.queries = nn.Parameter(torch.randn(groups, dim) * dim ** -0.5)
        hidden = max(channels // reduction, 1)
        self.gate = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels),
                                  nn.Sigmoid())

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        keys = self.keys(x).flatten(2)
        maps = (torch.einsum("gd,bdn->bgn", self.queries, keys) * keys.shape[1] ** -0.5).softmax(-1)
        pooled = torch.einsum("bgn,bcn->bgc", maps, x.flatten(2))
        return pooled * self.gate(pooled), maps.unflatten(-1, x.shape[-2:])


class CrossGroupFusion(nn.Module):
    """CGFF: each group adds the affinity-weighted features of all groups: (B, G, C) -> (B, G, C), (B, G, G)."""

    def __init__(self, channels: int):
        super().__init__()
        dim = _key_dim(channels)
        self.query = nn.Linear(channels, dim)
        self.key = nn.Linear(channels, dim)
        self.norm = nn.LayerNorm(channels)

    def forward(self, f: Tensor) -> tuple[Tensor, Tensor]:
        query, key = self.query(f), self.key(f)
        affinity = (query @ key.transpose(1, 2) * query.shape[-1] ** -0.5).softmax(-1)
        return self.norm(f + affinity @ f), affinity


class FARAMTN(TrunkModel):
    """WSGSA on F5, CGFF across the groups, one linear classifier per attribute.

    ``extras`` holds the groups' attention maps and their affinities;
    ``feature_dim`` is the size of each group feature (the channels of F5).
    """

    def __init__(self, **trunk):
        super().__init__(**trunk)
        self.attention = SharedGroupAttention(self.feature_dim)
        self.fusion = CrossGroupFusion(self.feature_dim)
        self.head = AttributeLinear(self.feature_dim)

    def output_layers(self) -> list[tuple[nn.Module, Tensor]]:
        """The per-attribute classifiers (``mgmtn.models.prior``)."""
        return [(self.head, torch.arange(NUM_ATTRIBUTES))]

    def forward(self, x: Tensor) -> ModelOutput:
        groups, maps = self.attention(self.backbone(x)[-1])
        fused, affinity = self.fusion(groups)
        return ModelOutput(logits=self.head(fused), extras={"attention": maps, "affinity": affinity})


def dws_weights(current: Tensor, previous: Tensor, temperature: float = 2.0) -> Tensor:
    """DWS: G softmax(r / T) of the loss ratios r = L(e) / L(e - 1); slower groups weigh more."""
    return len(current) * (current / previous.clamp_min(1e-12) / temperature).softmax(0)


class FARObjective(Objective):
    """Group losses weighted by DWS; the weights change after each epoch from that epoch's training losses."""

    def __init__(self, temperature: float = 2.0):
        super().__init__()
        self.temperature = temperature
        self.register_buffer("group", torch.tensor(GROUP_OF_ATTRIBUTE), persistent=False)
        self.register_buffer("weights", torch.ones(NUM_GROUPS))
        self.register_buffer("history", torch.full((2, NUM_GROUPS), float("nan")))  # epoch means, older first
        self.register_buffer("running", torch.zeros(NUM_GROUPS + 1))  # this epoch: sums per group, then steps

    def group_losses(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Mean BCE of each group's attributes, (G,)."""
        per_attribute = attribute_bce(logits, targets)
        sums = torch.zeros(NUM_GROUPS, device=logits.device).index_add(0, self.group, per_attribute)
        return sums / torch.bincount(self.group, minlength=NUM_GROUPS)

    def loss(self, model, batch):
        losses = self.group_losses(model(batch["image"]).logits, batch["labels"])
        self.running += torch.cat([losses.detach(), losses.new_ones(1)])
        return (self.weights * losses).mean()

    def learn(self, model, targets, logits):
        running = self.running.clone()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(running)
        if running[-1] > 0:
            self.history.copy_(torch.stack([self.history[1], running[:-1] / running[-1]]))
            if not self.history.isnan().any():
                self.weights.copy_(dws_weights(self.history[1], self.history[0], self.temperature))
        self.running.zero_()
        return logits

