"""Landmark targets for DMM-CNN's auxiliary task: the corners of the eight group boxes, moved with the image.

DMM-CNN (Mao et al., Sec. 3.2.3) regresses 72 dlib landmarks. The data
pipeline already caches eight group boxes per image, derived from the
annotator's keypoints (``mgmtn.masks``). Their 32 corners, carried through
the same augmentation as the image (``TrainTransform.apply``) and scaled to
[-1, 1] across the frame, stand in for the landmarks: they outline the same
parts (eyes, brows, nose, mouth, ears, face, hair) more coarsely.

A horizontal flip mirrors each quad, which turns its clockwise corner order
anticlockwise: the corner stored first would be top left in one image and
top right in its mirror image. Mirrored quads are put back in clockwise
order from the corner that is now top left, so each output keeps one meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mgmtn.attributes import NUM_GROUPS
from mgmtn.data.dataset import CelebADataset
from mgmtn.data.transforms import to_tensor

NUM_POINTS = 4 * NUM_GROUPS


def clockwise(quads: np.ndarray) -> np.ndarray:
    """Quads (..., 4, 2) in clockwise screen order; mirrored ones (negative signed area) are reordered."""
    x, y = quads[..., 0], quads[..., 1]
    area = (x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y).sum(-1)
    return np.where((area < 0)[..., None, None], quads[..., [1, 0, 3, 2], :], quads)


@dataclass(frozen=True)
class CornerTargets:
    """Wraps a box transform: returns the image tensor and the box corners (32, 2) in [-1, 1]."""

    transform: object  # TrainTransform or EvalTransform

    def __call__(self, image, boxes, rng):
        out, quads = self.transform.apply(image, boxes, rng)
        points = clockwise(quads) / np.array(out.size) * 2 - 1
        return to_tensor(out), points.reshape(-1, 2).astype(np.float32)


class LandmarkDataset(CelebADataset):
    """A ``CelebADataset`` whose items hold ``landmarks`` (32, 2), the transformed box corners, instead of masks."""

    def __init__(self, index, transform, boxes: np.ndarray, seed: int = 0, images=None):
        super().__init__(index, transform=CornerTargets(transform), boxes=boxes, seed=seed, images=images)

    def __getitem__(self, i: int) -> dict:
        item = super().__getitem__(i)
        item["landmarks"] = item.pop("masks")
        return item
