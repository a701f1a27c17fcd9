"""Augmentations that move the image and its group boxes together, exactly.

Every geometric step is a 3x3 affine matrix on continuous pixel coordinates
(pixel ``(i, j)`` covers ``[i, i+1) x [j, j+1)``, PIL's own convention). The
steps of one sample are multiplied into one matrix; the image is warped once
with it and the box corners (quads, see ``mgmtn.masks.render``) are mapped
with the same matrix, so a rotated box is an exact rotated rectangle and the
rendered masks sit on the pixels they describe.

The one exception to the single warp is the initial resize: it uses
``Image.resize``, which antialiases when shrinking (a CPU profile resizes
178x218 faces down to 128), and is itself the exact scale matrix.

``TrainTransform`` and ``EvalTransform`` follow the call convention of
``mgmtn.data.celeba.CelebADataset``: ``transform(image, boxes, rng) ->
(tensor, masks)`` with a CHW float tensor normalised by the ImageNet mean and
std, and masks (8, H, W) bool or None when no boxes are given. Their
``apply`` method returns the PIL image and the quads instead, for plots and
tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import functional as TF

from mgmtn.masks.regions import scale_boxes
from mgmtn.masks.render import boxes_to_quads, render_masks

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resize_matrix(src_size: tuple[int, int], dst_size: tuple[int, int]) -> np.ndarray:
    """Scale an image of ``src_size`` (width, height) to ``dst_size``."""
    return np.diag([dst_size[0] / src_size[0], dst_size[1] / src_size[1], 1.0])


def crop_matrix(left: float, top: float) -> np.ndarray:
    """Move the crop window's top-left corner to the origin."""
    return np.array([[1.0, 0.0, -left], [0.0, 1.0, -top], [0.0, 0.0, 1.0]])


def rotation_matrix(angle: float, size: tuple[int, int]) -> np.ndarray:
    """Rotate by ``angle`` degrees counter-clockwise on screen about the centre of an image of ``size``."""
    cx, cy = size[0] / 2, size[1] / 2
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    # y points down, so a counter-clockwise turn on screen is clockwise in (x, y).
    return np.array([[c, s, cx - c * cx - s * cy], [-s, c, cy + s * cx - c * cy], [0.0, 0.0, 1.0]])


def hflip_matrix(width: float) -> np.ndarray:
    """Mirror an image of ``width`` left to right."""
    return np.array([[-1.0, 0.0, width], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def transform_points(points, matrix: np.ndarray) -> np.ndarray:
    """Map points (..., 2) through an affine matrix."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def warp(image: Image.Image, matrix: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """The image seen through ``matrix`` (input -> output coordinates), ``size`` pixels, black outside."""
    inverse = np.linalg.inv(matrix)  # PIL asks, for each output pixel, where to sample the input
    return image.transform(size, Image.Transform.AFFINE, data=tuple(inverse[:2].ravel()),
                           resample=Image.Resampling.BILINEAR, fillcolor=0)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """CHW float tensor normalised with the ImageNet mean and std (the backbones are ImageNet-trained)."""
    return TF.normalize(TF.to_tensor(image), IMAGENET_MEAN, IMAGENET_STD)


@dataclass(frozen=True, kw_only=True)
class _BoxTransform:
    """Shared by both transforms: box scaling, quads and the dataset call convention.

    ``area_ratio`` scales every box about its centre before augmentation (the
    mask-range ablation of Table 4); ``mask_size`` is the side of the rendered
    masks (default: the output image side).
    """

    area_ratio: float = 1.0
    mask_size: int | None = None

    def apply(self, image: Image.Image, boxes=None, rng: np.random.Generator | None = None):
        """(transformed PIL image, quads (..., 4, 2) in its pixels, or None without boxes)."""
        raise NotImplementedError

    def _quads(self, boxes, matrix: np.ndarray) -> np.ndarray | None:
        if boxes is None:
            return None
        return transform_points(boxes_to_quads(scale_boxes(np.asarray(boxes, np.float64), self.area_ratio)),
                                matrix)

    def __call__(self, image: Image.Image, boxes=None, rng: np.random.Generator | None = None):
        out, quads = self.apply(image, boxes, rng)
        if quads is None:
            return to_tensor(out), None
        return to_tensor(out), render_masks(quads, self.mask_size or out.size, frame_size=out.size)


@dataclass(frozen=True, kw_only=True)
class TrainTransform(_BoxTransform):
    """Resize to ``resize``, random ``crop``, then rotate and flip, each with its probability.

    Defaults are the paper's protocol (Sec. 4.2): 256 -> random 227 crop,
    rotation up to +-15 degrees and horizontal flip each with probability 0.35.
    The rotation turns about the crop's centre and samples the resized image
    beyond the crop, so its corners show image rather than black where it can.
    The same generator state gives the same sample.
    """

    resize: int = 256
    crop: int = 227
    max_angle: float = 15.0
    p_rotate: float = 0.35
    p_flip: float = 0.35

    def __post_init__(self):
        if not 0 < self.crop <= self.resize:
            raise ValueError(f"crop ({self.crop}) must be positive and at most resize ({self.resize})")

    def sample_matrix(self, rng: np.random.Generator) -> np.ndarray:
        """Crop, rotation and flip of one sample, as one matrix on the resized image.

        All random numbers are drawn every time, so one sample's choices do not
        shift the next sample's.
        """
        left, top = rng.integers(0, self.resize - self.crop + 1, size=2)
        rotate, flip = rng.random(2) < (self.p_rotate, self.p_flip)
        angle = rng.uniform(-self.max_angle, self.max_angle)
        matrix = crop_matrix(left, top)
        if rotate:
            matrix = rotation_matrix(angle, (self.crop, self.crop)) @ matrix
        if flip:
            matrix = hflip_matrix(self.crop) @ matrix
        return matrix

    def apply(self, image, boxes=None, rng=None):
        rng = np.random.default_rng() if rng is None else rng
        after_resize = self.sample_matrix(rng)
        resized = image.resize((self.resize, self.resize), Image.Resampling.BILINEAR)
        out = warp(resized, after_resize, (self.crop, self.crop))
        matrix = after_resize @ resize_matrix(image.size, resized.size)
        return out, self._quads(boxes, matrix)


@dataclass(frozen=True, kw_only=True)
class EvalTransform(_BoxTransform):
    """Resize to ``resize`` x ``resize``, then the centre ``size`` x ``size`` crop; deterministic.

    With ``resize`` the training resize, the face has the scale it has on
    average in training (paper: 256, then 227). ``resize=None`` resizes
    straight to ``size``.
    """

    size: int = 227
    resize: int | None = None

    def __post_init__(self):
        if not 0 < self.size <= (self.resize or self.size):
            raise ValueError(f"size ({self.size}) must be positive and at most resize ({self.resize})")

    def matrix(self, image_size: tuple[int, int]) -> np.ndarray:
        """Pixels of an image of ``image_size`` -> pixels of the output, as one affine matrix."""
        side = self.resize or self.size
        offset = (side - self.size) // 2
        return crop_matrix(offset, offset) @ resize_matrix(image_size, (side, side))

    def apply(self, image, boxes=None, rng=None):
        side = self.resize or self.size
        resized = image.resize((side, side), Image.Resampling.BILINEAR)
        offset = (side - self.size) // 2
        out = resized.crop((offset, offset, offset + self.size, offset + self.size))
        return out, self._quads(boxes, self.matrix(image.size))
