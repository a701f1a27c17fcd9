"""The multi-task cascaded network: attribute regions found weakly, then cut out and classified.

The "deep multi-task cascaded network for face attributes recognition" with
an FCN region-mapping sub-network, RoI pooling, batch sampling and early
stopping (our copy of the paper lacks its title page, so it is cited by its
abstract). Implemented:

* Sec. 3.2, Eq. 1-2: task one, a fully convolutional region-mapping branch,
  gives one response map per attribute; it is trained weakly from the
  attribute labels alone, by pushing the map's maximum up for faces that
  have the attribute and down for those that do not (BCE on the spatial max).
  The associated region is the smallest box around the cells whose response
  exceeds the threshold (0.5 after the sigmoid).
* Sec. 3.3, Eq. 3-5: task two cuts that region out of the shared feature
  map by bilinear RoI pooling (``torchvision.ops.roi_align``) to 5 x 5, then
  conv 3x3 (128), conv 3x3 (64), a 1x1 conv to one map per attribute and a
  global max pool (Table 1's conv4-t2 .. conv6-t2); cross-entropy loss.
* Sec. 3.1: the outputs of both tasks are concatenated and combined linearly
  into the prediction: logit_a = u_a r_a + v_a s_a + c_a, with r_a the max
  response of task one and s_a the region score of task two.
* Eq. 6: the loss is alpha L1 + beta L2 with alpha = beta = 1 (the paper
  does not give its values).
* Sec. 3.4.1, batch balancing, and Sec. 3.4.2, per-attribute early
  stopping, in ``CascadeObjective`` (below).

Choices the paper leaves open or that the 40-attribute setting forces:

* Trunk. The paper's AlexNet-like network is replaced by the profile's
  backbone (``mgmtn.models.trunk``): "conv3", shared by both
  tasks, is the stride-16 map F4; task one continues with the trunk's last
  stage (F5) and a 1x1 conv per attribute, so its responses lie on the
  stride-32 grid and a cell maps back to its 32 x 32 pixel footprint, not to
  its (whole-image) receptive field. Where no cell exceeds the threshold the
  region is the whole image.
* One network for all 40 attributes: the paper's per-attribute layers after
  the shared ones become shared layers with per-attribute final weights
  (task one's 1x1 conv, task two's 1x1 conv, the combination), 40 regions
  and 40 crops per image.
* Both tasks train jointly from the start; the paper pretrains task one to
  convergence first and revises each region with an "average associated
  region" computed by the pretrained task one. Neither step is done here.
* Batch balancing is done by loss weights, not by sampling: in every batch
  the positives and the negatives of each attribute get equal shares of its
  loss, the paper's 1:1 proportion (its sample augmentation is not used).
* Early stopping: the paper stops back-propagating an attribute's loss once
  its mini-batch loss stays under a threshold. Here the validation loss
  decides, after each epoch: an attribute whose validation BCE has not
  improved by 1% on its best for ``patience`` (2) epochs stops. From then on
  its loss weight is zero (no gradient to the shared layers) and its own
  weights are frozen (``PerAttribute``); the stopped set is a model buffer,
  so prediction and resumed runs see it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.ops import roi_align

from mgmtn.attributes import NUM_ATTRIBUTES
from mgmtn.models.objective import Objective, attribute_bce, balance_weights, unwrap
from mgmtn.models.output import ModelOutput
from mgmtn.models.trunk import TrunkModel

ROI_SIZE = 5  # Table 1: task two works on 5 x 5 regions


class PerAttribute(nn.Module):
    """Weights with one row per attribute, each of which can be frozen when its attribute stops.

    A weight whose gradient is zero still moves under Adam (momentum, weight
    decay), so a stopped attribute is frozen by substitution: its rows are
    copied into a buffer when it stops and read from there afterwards.
    """

    def __init__(self, **weights: Tensor):
        super().__init__()
        self.live = nn.ParameterDict({name: nn.Parameter(value) for name, value in weights.items()})
        for name, value in weights.items():
            self.register_buffer(f"frozen_{name}", value.detach().clone())
        self.register_buffer("stopped", torch.zeros(NUM_ATTRIBUTES, dtype=torch.bool))

    def get(self, name: str) -> Tensor:
        """The rows in use: frozen ones for stopped attributes, trained ones for the others."""
        frozen = getattr(self, f"frozen_{name}")
        stopped = self.stopped.view(-1, *[1] * (frozen.dim() - 1))
        return torch.where(stopped, frozen, self.live[name])

    @torch.no_grad()
    def stop(self, attributes: Tensor) -> None:
        """Freeze the attributes marked in the boolean vector ``attributes`` (stopped ones stay stopped)."""
        new = attributes & ~self.stopped
        for name, weight in self.live.items():
            getattr(self, f"frozen_{name}")[new] = weight[new]
        self.stopped |= attributes


def _extent(occupied: Tensor) -> tuple[Tensor, Tensor]:
    """First and one-past-last True index along the last axis (which holds at least one True)."""
    n = occupied.shape[-1]
    return occupied.int().argmax(-1), n - occupied.flip(-1).int().argmax(-1)


def region_boxes(response: Tensor, image_size: tuple[int, int], threshold: float = 0.0) -> Tensor:
    """Eq. 2's associated regions: responses (B, A, h, w) -> boxes (B, A, 4) ``[x0, y0, x1, y1]`` in image pixels.

    Each box is the smallest one around the cells whose response exceeds
    ``threshold`` (a logit), each cell standing for its share of the image;
    the whole image where no cell does.
    """
    h, w = response.shape[-2:]
    hot = response > threshold
    hot = hot | ~hot.flatten(-2).any(-1)[..., None, None]
    y0, y1 = _extent(hot.any(-1))
    x0, x1 = _extent(hot.any(-2))
    height, width = image_size
    return torch.stack([x0 * width / w, y0 * height / h, x1 * width / w, y1 * height / h], dim=-1).float()


def _conv_bn_relu(channels_in: int, channels_out: int) -> list[nn.Module]:
    return [nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False), nn.BatchNorm2d(channels_out),
            nn.ReLU(inplace=True)]


class CascadeNet(TrunkModel):
    """Task one (regions from F5 responses) cascaded into task two (RoI crops of F4), combined per attribute.

    ``extras`` holds task one's max responses (``region_scores``), its
    response maps and the boxes (image pixels). ``feature_dim`` is the
    size of F4, the map the regions are cut from.
    """

    levels = (4, 5)

    def __init__(self, **trunk):
        super().__init__(**trunk)
        self.feature_dim, top = self.channels
        self.tower = nn.Sequential(*_conv_bn_relu(self.feature_dim, 128), *_conv_bn_relu(128, 64))

        def uniform(*shape: int) -> Tensor:
            return torch.empty(*shape).uniform_(-shape[-1] ** -0.5, shape[-1] ** -0.5)

        self.heads = PerAttribute(
            region_weight=uniform(NUM_ATTRIBUTES, top), region_bias=torch.zeros(NUM_ATTRIBUTES),
            crop_weight=uniform(NUM_ATTRIBUTES, 64),
            mix_weight=torch.ones(NUM_ATTRIBUTES, 2), mix_bias=torch.zeros(NUM_ATTRIBUTES))

    def forward(self, x: Tensor) -> ModelOutput:
        shared, top = self.backbone(x)
        heads = self.heads
        response = torch.einsum("bchw,ac->bahw", top, heads.get("region_weight"))
        response = response + heads.get("region_bias")[:, None, None]
        boxes = region_boxes(response.detach(), x.shape[-2:])
        index = torch.arange(len(x), device=x.device, dtype=boxes.dtype).repeat_interleave(NUM_ATTRIBUTES)
        rois = torch.cat([index[:, None], boxes.flatten(0, 1)], dim=1)
        crops = roi_align(shared, rois, ROI_SIZE, spatial_scale=shared.shape[-1] / x.shape[-1], sampling_ratio=2,
                          aligned=True)
        crops = self.tower(crops).unflatten(0, (len(x), NUM_ATTRIBUTES))
        crop_scores = torch.einsum("bachw,ac->bahw", crops, heads.get("crop_weight")).amax((-2, -1))
        region_scores = response.amax((-2, -1))
        mix = heads.get("mix_weight")
        logits = mix[:, 0] * region_scores + mix[:, 1] * crop_scores + heads.get("mix_bias")  # Sec. 3.1
        return ModelOutput(logits=logits, extras={"region_scores": region_scores, "response": response,
                                                  "boxes": boxes})


class CascadeObjective(Objective):
    """Eq. 6 with balanced batches; after each epoch, attributes whose validation loss stalled stop."""

    balanced = True

    def __init__(self, alpha: float = 1.0, beta: float = 1.0, patience: int = 2, tolerance: float = 0.01):
        super().__init__()
        self.alpha, self.beta, self.patience, self.tolerance = alpha, beta, patience, tolerance
        self.register_buffer("best", torch.full((NUM_ATTRIBUTES,), float("inf")))
        self.register_buffer("waited", torch.zeros(NUM_ATTRIBUTES, dtype=torch.long))

    def loss(self, model, batch):
        out = model(batch["image"])
        targets = batch["labels"]
        weights = balance_weights(targets) * ~unwrap(model).heads.stopped
        region = attribute_bce(out.extras["region_scores"], targets, weights)  # Eq. 1, task one
        final = attribute_bce(out.logits, targets, weights)  # Eq. 4, the prediction
        return (self.alpha * region + self.beta * final).mean()

    def learn(self, model, targets, logits):
        loss = attribute_bce(logits, targets).to(self.best.device)
        improved = loss < self.best * (1 - self.tolerance)
        self.best.copy_(torch.where(improved, loss, self.best))
        self.waited.copy_(torch.where(improved, 0, self.waited + 1))
        model.heads.stop(self.waited >= self.patience)
        return logits

