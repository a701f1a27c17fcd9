"""Per-attribute classifiers on group features, shared by the group-based comparison models (MGG-Net, FAR-AMTN).

Both papers group the attributes by face part and classify each attribute
from its group's feature alone. Neither lists its groups, so both use the
eight groups of the MGMTN paper's Table 1 (``mgmtn.attributes.GROUPS``),
which that paper drew up following MGG-Net.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mgmtn.attributes import ATTRIBUTES, GROUP_NAMES, NUM_ATTRIBUTES, group_of

# The index in GROUP_NAMES of each attribute's group, in CelebA attribute order.
GROUP_OF_ATTRIBUTE: tuple[int, ...] = tuple(GROUP_NAMES.index(group_of()[name]) for name in ATTRIBUTES)


class AttributeLinear(nn.Module):
    """One linear binary classifier per attribute, reading its group's feature: (B, G, D) -> (B, 40) logits."""

    def __init__(self, dim: int):
        super().__init__()
        bound = dim ** -0.5  # nn.Linear's default initialisation
        self.weight = nn.Parameter(torch.empty(NUM_ATTRIBUTES, dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(NUM_ATTRIBUTES).uniform_(-bound, bound))
        self.register_buffer("group", torch.tensor(GROUP_OF_ATTRIBUTE), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.einsum("bad,ad->ba", x[:, self.group], self.weight) + self.bias
