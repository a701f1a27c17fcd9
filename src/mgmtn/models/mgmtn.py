"""MGMTN: Adaptive Mask Learning (AML) and Group-Global Feature Fusion (G2FF).

"Mask-Guided Multi-Task Network for Face Attribute Recognition" (Gao et al.),
Sec. 3 and Fig. 4. A frozen UNet predicts eight group masks P_j; the backbone
gives F3, F4 (group scales) and F5 (global). Implemented here:

* Eq. 1 (AML): Gr_i^j = resize(P_j; F_i) * F_i for i in {3, 4}.
* Eq. 2-4 (G2FF channel attention, per group and scale): Z = mean over H x W
  of Gr, Psi = sigmoid(Conv1x1(Z)), Gr~ = Gr * Psi. Table 3's alternatives are
  spatial attention (channel mean and max -> 7x7 conv -> sigmoid map, as in
  CBAM) and the two cascaded, channel first.
* Sec. 3.3: each group region is max-pooled into a vector; Eq. 5-6 concatenate
  the F3 and F4 vectors (1536-d with ResNe(S)t-50) and the global vector G1
  (2048-d) into G (3584-d), one G per group.
* Fig. 4: per group, FC(-> 512), ReLU, Dropout(0.5), FC(-> attributes of the group).

Choices the paper leaves open, and what we do:

* Masks are binarised at 0.5 (Sec. 3.3, "binary values") at the UNet's
  resolution; for a feature map, a cell belongs to the group region when at
  least half of it is covered by the mask (area resize), or when it is the
  best-covered cell, so a region smaller than half a cell still keeps the cell
  it lies in. An empty mask has all cells tied at zero cover, so its region is
  the whole map: the group falls back to the global view of that scale
  instead of producing no feature.
* Max pooling over a region ignores cells outside it (they are filled with
  -inf first), so it is right even for features that can be negative; ResNet
  stage outputs are post-ReLU, where this changes nothing but the argmax.
* G1 is F5 max-pooled by default (Sec. 4.5: group and global features are
  fused "after max-pooling", and Fig. 8 compares max-pool positions of global
  and group maps); ``global_pool='avg'`` is the usual ResNet alternative.
* The UNet sees the image resized to its training size (``unet_size``, or the
  UNet's ``input_size``), normalised the same way as the backbone's input.
* ``mask_scale`` (Table 4) replaces each binary mask by its bounding box grown
  or shrunk about its centre to that ratio of its area, before resizing.

Every row of Table 3 and bar of Fig. 9 is this one module with different
options: ``scales`` (which of F3, F4 get masked group features),
``use_global`` (concatenate G1), ``attention`` (None, 'ca', 'sa', 'ca-sa') and
``grouped`` (eight group heads, or one 40-way head for the plain baseline).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mgmtn.attributes import GROUPS, NUM_ATTRIBUTES, NUM_GROUPS, group_indices
from mgmtn.errors import MgmtnError
from mgmtn.models.backbone import create_backbone
from mgmtn.models.output import ModelOutput


def scale_masks(masks: Tensor, ratio: float) -> Tensor:
    """Each binary mask's bounding box, scaled about its centre to ``ratio`` of its area (Table 4).

    Each side is multiplied by sqrt(ratio) and rounded to whole pixels; boxes
    are clipped at the image border and empty masks stay empty.
    ``ratio == 1`` returns the masks unchanged.
    """
    if ratio == 1:
        return masks
    masks = masks.bool()
    nonempty = masks.flatten(-2).any(-1)[..., None, None]
    side = ratio ** 0.5

    def inside(occupied: Tensor) -> Tensor:
        # occupied: (..., N) whether each row (column) holds mask pixels -> (..., N) inside the new box
        n = occupied.shape[-1]
        start = occupied.int().argmax(-1, keepdim=True)
        end = n - occupied.flip(-1).int().argmax(-1, keepdim=True)
        length = ((end - start) * side).round()
        new_start = ((start + end - length) / 2).floor()
        index = torch.arange(n, device=masks.device)
        return (index >= new_start) & (index < new_start + length)

    rows = inside(masks.any(-1))
    cols = inside(masks.any(-2))
    return rows[..., :, None] & cols[..., None, :] & nonempty


def feature_regions(masks: Tensor, size: tuple[int, int]) -> Tensor:
    """Binary image-resolution masks (B, G, h, w) -> boolean regions (B, G, *size) on a feature grid.

    A cell is in the region if at least half of it is covered, or if no cell
    is covered more; an empty mask therefore selects the whole map.
    """
    cover = F.adaptive_avg_pool2d(masks.float(), size)
    return (cover >= 0.5) | (cover == cover.amax((-2, -1), keepdim=True))


def masked_max(x: Tensor, region: Tensor) -> tuple[Tensor, Tensor]:
    """Max over each group's region: (B, G, C, H, W), (B, G, H, W) -> values and flat argmax, (B, G, C)."""
    return x.masked_fill(~region.unsqueeze(2), float("-inf")).flatten(-2).max(-1)


def region_max(x: Tensor, region: Tensor) -> tuple[Tensor, Tensor]:
    """``masked_max`` of one map over every group's region: (B, C, H, W), (B, G, H, W) -> (B, G, C) twice.

    The eight masked copies of the map are stacked only to find the argmax, outside autograd; the values
    are gathered from ``x`` itself, so the backward pass scatters into one (B, C, H*W) map instead of
    running through a (B, G, C, H, W) stack.
    """
    with torch.no_grad():
        positions = torch.where(region.unsqueeze(2), x.unsqueeze(1), float("-inf")).flatten(-2).argmax(-1)
    return x.flatten(-2).gather(-1, positions.transpose(1, 2)).transpose(1, 2), positions


def region_mean(x: Tensor, region: Tensor) -> Tensor:
    """Eq. 2 of every group without the masked maps: mean over H x W of x * region, (B, G, C), as one matmul."""
    return torch.einsum("bghw,bchw->bgc", region.to(x.dtype), x) / (x.shape[-2] * x.shape[-1])


def pool_global(x: Tensor, kind: str) -> tuple[Tensor, Tensor]:
    """(B, C, H, W) -> (B, C) pooled, and each channel's flat argmax cell: the one a max pool keeps,
    which Fig. 8 marks (an average pool looks at every cell; its argmax is where a max pool would look)."""
    if kind == "max":
        return x.flatten(-2).max(-1)
    return x.mean((-2, -1)), x.flatten(-2).argmax(-1)


class GroupChannelAttention(nn.Module):
    """Eq. 2-4 for every group at once: Psi = sigmoid(Conv1x1(mean_HW Gr)), Gr~ = Gr * Psi.

    One 1x1 conv per group (a grouped conv), so groups do not share weights.
    """

    def __init__(self, channels: int, groups: int = NUM_GROUPS):
        super().__init__()
        self.conv = nn.Conv2d(groups * channels, groups * channels, 1, groups=groups)

    def weights(self, z: Tensor) -> Tensor:
        """Eq. 3: (B, G, C) spatial means Z -> (B, G, C) channel weights Psi."""
        b, g, c = z.shape
        return self.conv(z.reshape(b, g * c, 1, 1)).sigmoid().reshape(b, g, c)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.weights(x.mean((-2, -1)))[..., None, None]


class GroupSpatialAttention(nn.Module):
    """Spatial attention per group: channel mean and max -> kxk conv -> sigmoid map -> reweight."""

    def __init__(self, channels: int, groups: int = NUM_GROUPS, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2 * groups, groups, kernel_size, padding=kernel_size // 2, groups=groups)

    def forward(self, x: Tensor) -> Tensor:
        b, g, _, h, w = x.shape
        descriptor = torch.stack([x.mean(2), x.amax(2)], dim=2).reshape(b, 2 * g, h, w)
        return x * self.conv(descriptor).sigmoid().unsqueeze(2)


ATTENTION = {"ca": GroupChannelAttention, "sa": GroupSpatialAttention}
ATTENTION_KINDS = (None, "ca", "sa", "ca-sa")


def group_attention(kind: str | None, channels: int) -> nn.Module:
    """The attention of one scale: nothing, 'ca', 'sa', or 'ca-sa' (channel then spatial)."""
    if kind not in ATTENTION_KINDS:
        raise MgmtnError(f"unknown attention {kind!r}; choose one of {ATTENTION_KINDS}")
    return nn.Sequential(*(ATTENTION[part](channels) for part in kind.split("-"))) if kind else nn.Identity()


def pool_groups(attention: nn.Module, fmap: Tensor, region: Tensor) -> tuple[Tensor, Tensor]:
    """Eq. 1, the scale's attention (Eq. 2-4) and the region max: (B, C, H, W), (B, G, H, W) -> (B, G, C) twice.

    Without attention, or with channel attention alone, the masked maps Gr are never formed: a cell of
    Gr in the region is the map's own, and Psi is positive and constant over the map, so
    max(Gr * Psi) = max(Gr) * Psi, with Z a masked mean. Spatial attention varies over the map and
    takes the stack of masked maps.
    """
    if isinstance(attention, nn.Identity):
        return region_max(fmap, region)
    if len(attention) == 1 and isinstance(attention[0], GroupChannelAttention):
        values, positions = region_max(fmap, region)
        return values * attention[0].weights(region_mean(fmap, region)), positions
    return masked_max(attention(fmap.unsqueeze(1) * region.unsqueeze(2)), region)


def classifier(in_features: int, num_outputs: int, hidden: int = 512, drop_rate: float = 0.5) -> nn.Sequential:
    """The two-layer head of Fig. 4: FC, ReLU, Dropout, FC; ``hidden=0`` gives one linear layer instead."""
    if hidden == 0:
        return nn.Sequential(nn.Linear(in_features, num_outputs))
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Dropout(drop_rate),
                         nn.Linear(hidden, num_outputs))


class GroupHeads(nn.Module):
    """One classifier per group of Table 1; logits come back in CelebA attribute order."""

    def __init__(self, in_features: int, hidden: int = 512, drop_rate: float = 0.5):
        super().__init__()
        self.heads = nn.ModuleList(classifier(in_features, len(attrs), hidden, drop_rate) for attrs in GROUPS.values())
        group_order = [i for indices in group_indices().values() for i in indices]
        self.register_buffer("to_celeba", torch.tensor(group_order).argsort(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """(B, G, D) one feature per group -> (B, 40) logits."""
        return torch.cat([head(x[:, j]) for j, head in enumerate(self.heads)], dim=1)[:, self.to_celeba]


class MGMTN(nn.Module):
    """Mask-guided group features (AML) fused with the global feature (G2FF), Fig. 4.

    ``scales`` lists the backbone levels (3, 4) that get masked group features;
    with none, no UNet is used and the model is a global-feature baseline.
    ``feature_dim`` is the size of each group's fused feature (3584 for the
    full model on ResNe(S)t-50).
    """

    def __init__(
            self,
            backbone: str = "resnest50d",
            unet: nn.Module | None = None,
            scales: tuple[int, ...] = (3, 4),
            use_global: bool = True,
            attention: str | None = "ca",
            grouped: bool = True,
            global_pool: str = "max",
            mask_scale: float = 1.0,
            unet_size: int | tuple[int, int] | None = None,
            hidden: int = 512,
            drop_rate: float = 0.5,
            pretrained: bool = False,
            pretrained_file: str | os.PathLike | None = None,
            backbone_kwargs: dict | None = None,
    ):
        super().__init__()
        if not set(scales) <= {3, 4} or not (scales or use_global):
            raise MgmtnError(f"scales must be drawn from (3, 4), with use_global when empty; got {tuple(scales)}")
        if scales and unet is None:
            raise MgmtnError("mask-guided models need a trained UNet: pass unet=<UNet module>")
        if not grouped and (scales or not use_global):
            raise MgmtnError("the ungrouped head takes the global feature only (scales=(), use_global=True)")
        if global_pool not in ("max", "avg"):
            raise MgmtnError(f"global_pool must be 'max' or 'avg', not {global_pool!r}")
        if mask_scale <= 0:
            raise MgmtnError(f"mask_scale is an area ratio and must be positive, not {mask_scale}")
        self.scales = tuple(scales)
        self.levels = self.scales + ((5,) if use_global else ())
        self.use_global = use_global
        self.grouped = grouped
        self.global_pool = global_pool
        self.mask_scale = mask_scale
        self.unet_size = unet_size
        self.backbone = create_backbone(backbone, self.levels, pretrained, pretrained_file, **(backbone_kwargs or {}))
        channels = self.backbone.feature_info.channels()
        self.unet = unet.requires_grad_(False).eval() if self.scales else None
        self.attention = nn.ModuleList(group_attention(attention, c) for c in channels[:len(self.scales)])
        self.feature_dim = sum(channels)
        self.head = GroupHeads(self.feature_dim, hidden, drop_rate) if grouped else classifier(
            self.feature_dim, NUM_ATTRIBUTES, hidden, drop_rate)

    def train(self, mode: bool = True) -> MGMTN:
        """Train everything except the frozen UNet, whose BatchNorm must keep its statistics."""
        super().train(mode)
        if self.unet is not None:
            self.unet.eval()
        return self

    def output_layers(self) -> list[tuple[nn.Module, Tensor]]:
        """The last layer of each classifier head and the attributes of its rows (``mgmtn.models.prior``)."""
        if not self.grouped:
            return [(self.head[-1], torch.arange(NUM_ATTRIBUTES))]
        return [(head[-1], torch.tensor(rows)) for head, rows in zip(self.head.heads, group_indices().values())]

    def predict_masks(self, x: Tensor) -> Tensor:
        """(B, 8, h, w) group-mask probabilities from the frozen UNet, at its own input size.

        Under ``inference_mode`` and in channels_last, where oneDNN runs the UNet's narrow convolutions
        faster; the masks come back contiguous.
        """
        size = self.unet_size or getattr(self.unet, "input_size", None) or x.shape[-2:]
        size = (size, size) if isinstance(size, int) else tuple(size)
        with torch.inference_mode():
            if size != tuple(x.shape[-2:]):
                x = F.interpolate(x, size=size, mode="bilinear", antialias=True)
            return self.unet(x.contiguous(memory_format=torch.channels_last)).sigmoid().contiguous()

    def fuse_features(self, features: list[Tensor], masks: Tensor | None) -> tuple[Tensor, dict]:
        """AML + G2FF: backbone maps and mask probabilities -> per-group features (B, G, D).

        Also returns the max-pooling argmax positions, keyed by level ('F3',
        'F4', 'F5'), as flat indices into that map: (B, G, C) for group
        features, (B, C) for the global one (shared by all groups).
        """
        vectors, positions = [], {}
        if self.scales:
            masks = scale_masks(masks >= 0.5, self.mask_scale)
        for level, fmap, attention in zip(self.scales, features, self.attention):
            vector, positions[f"F{level}"] = pool_groups(attention, fmap, feature_regions(masks, fmap.shape[-2:]))
            vectors.append(vector)
        if self.use_global:
            pooled, positions["F5"] = pool_global(features[-1], self.global_pool)
            vectors.append(pooled.unsqueeze(1).expand(-1, NUM_GROUPS, -1))
        return torch.cat(vectors, dim=-1), positions

    def forward(self, x: Tensor, return_positions: bool = False) -> ModelOutput:
        """Images (B, 3, H, W) -> ModelOutput; ``return_positions`` adds the Fig. 8 data to ``extras``."""
        masks = self.predict_masks(x) if self.scales else None
        features = self.backbone(x)
        fused, positions = self.fuse_features(features, masks)
        logits = self.head(fused if self.grouped else fused[:, 0])
        extras = {}
        if return_positions:
            extras["positions"] = {k: v for k, v in positions.items() if v is not None}
            extras["feature_sizes"] = {f"F{level}": tuple(f.shape[-2:]) for level, f in zip(self.levels, features)}
        return ModelOutput(logits=logits, masks=masks, extras=extras)


def _create_mgmtn(defaults: dict, **kwargs) -> MGMTN:
    """Options given by the caller override the variant's defaults."""
    return MGMTN(**{**defaults, **kwargs})


def aml_gr4(**kwargs) -> MGMTN:
    """AML with masked F4 group features only (Table 3 row 3, Table 4, Fig. 9 'Gr4')."""
    return _create_mgmtn(dict(scales=(4,), use_global=False, attention=None), **kwargs)


def aml_gr34(**kwargs) -> MGMTN:
    """AML with masked F3 and F4 group features, no global feature, no attention (Fig. 9 'Gr4+Gr3')."""
    return _create_mgmtn(dict(scales=(3, 4), use_global=False, attention=None), **kwargs)


def aml_global(**kwargs) -> MGMTN:
    """AML group features (F3, F4) joined with the global feature, no attention.

    Most likely Table 3's row 3 ("AG + AML", 92.22%): Table 4's F4-only model
    scores 91.96% at the same mask size, so row 3 is not that one. Beside full
    MGMTN it isolates the gain of channel attention.
    """
    return _create_mgmtn(dict(scales=(3, 4), use_global=True, attention=None), **kwargs)


def mgmtn(**kwargs) -> MGMTN:
    """Full MGMTN: AML + G2FF with channel attention (Table 3 row 4, Fig. 4)."""
    return _create_mgmtn(dict(scales=(3, 4), use_global=True, attention="ca"), **kwargs)


def mgmtn_sa(**kwargs) -> MGMTN:
    """MGMTN with spatial attention in G2FF (Table 3 row 5)."""
    return _create_mgmtn(dict(scales=(3, 4), use_global=True, attention="sa"), **kwargs)


def mgmtn_ca_sa(**kwargs) -> MGMTN:
    """MGMTN with cascaded channel-then-spatial attention in G2FF (Table 3 row 6)."""
    return _create_mgmtn(dict(scales=(3, 4), use_global=True, attention="ca-sa"), **kwargs)
