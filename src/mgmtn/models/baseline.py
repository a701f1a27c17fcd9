"""The global-feature baselines of the MGMTN paper (Table 3, rows 1-2; Fig. 9 'Gl').

"Mask-Guided Multi-Task Network for Face Attribute Recognition" (Gao et al.):
the baseline classifies all 40 attributes from the global feature G1 (F5,
pooled) with one head; attribute grouping (AG) puts the eight group heads of
Table 1 on that same feature. Both are ``MGMTN`` without masked scales, so
they share the backbone, pooling and heads of the full model and differ from
it only in what the ablation removes. They take no UNet; ``unet`` is accepted
and ignored so that one call can build every row of Table 3.
"""

from __future__ import annotations

from torch import nn

from mgmtn.models.mgmtn import MGMTN


def global_baseline(unet: nn.Module | None = None, **kwargs) -> MGMTN:
    """One 40-way head on the global feature, no grouping (Table 3 row 1)."""
    return MGMTN(**{**dict(scales=(), use_global=True, attention=None, grouped=False), **kwargs})


def ag_baseline(unet: nn.Module | None = None, **kwargs) -> MGMTN:
    """The eight group heads of Table 1 on the global feature (Table 3 row 2)."""
    return MGMTN(**{**dict(scales=(), use_global=True, attention=None, grouped=True), **kwargs})
