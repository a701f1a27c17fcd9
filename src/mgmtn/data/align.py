"""Find the faces in a photo and warp each into CelebA's aligned frame (178 x 218).

Models trained on CelebA have only seen faces as CelebA aligned them: eyes
level, at fixed places. A photo (a group shot, an LFW frame) is brought into
that frame by the similarity transform (rotation, uniform scale, shift) that
best maps five points of each face onto ``CELEBA_TEMPLATE``, in the least-
squares sense (Umeyama, 1991).

The five points are computed from dlib's 68 (eye centres, nose tip, mouth
corners), and the template is the mean of the same five points on aligned
CelebA images (``derive_template``: 491 faces of 500 images, every 40th of
the CelebA subset). Using one estimator for both sides keeps its biases out
of the transform. The template lies within 2.1 px of CelebA's published
5-landmark means (``annotators.CELEBA_ALIGNED_LANDMARKS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from PIL import Image

from mgmtn.data.transforms import warp

ALIGN_MODES = ("auto", "none", "always")
ALIGNED_SIZE = (178, 218)  # CelebA's aligned images, width x height
CELEBA_TEMPLATE = np.array([(70.0, 113.1), (108.0, 112.9), (88.5, 135.1), (71.6, 153.5), (106.5, 153.4)])


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip and mouth corners (5, 2) of dlib's 68 points (iBUG 300-W order)."""
    points = np.asarray(landmarks, np.float64)
    return np.stack([points[36:42].mean(0), points[42:48].mean(0), points[30], points[48], points[54]])


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 similarity transform (no reflection) that maps ``src`` points closest to ``dst``."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    a, b = src - src.mean(0), dst - dst.mean(0)
    u, s, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.array([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ np.diag(d) @ vt
    scale = (s * d).sum() / a.var(0).sum()
    matrix = np.eye(3)
    matrix[:2, :2] = scale * rotation
    matrix[:2, 2] = dst.mean(0) - scale * rotation @ src.mean(0)
    return matrix


def needs_alignment(image: Image.Image, mode: str) -> bool:
    """``auto`` aligns every image that is not already CelebA's aligned size."""
    if mode not in ALIGN_MODES:
        raise ValueError(f"align must be one of {', '.join(ALIGN_MODES)}, got {mode!r}")
    return mode == "always" or (mode == "auto" and image.size != ALIGNED_SIZE)


@dataclass(frozen=True)
class Face:
    """One face of a photo: its box there, and the map from photo pixels to the face image's pixels."""

    box: tuple[int, int, int, int]
    matrix: np.ndarray
    size: tuple[int, int] = ALIGNED_SIZE

    def image(self, photo: Image.Image) -> Image.Image:
        return warp(photo, self.matrix, self.size)


def whole_image(image: Image.Image) -> Face:
    """The image taken as one face as it is (``--align none``, or an already aligned crop)."""
    return Face((0, 0, *image.size), np.eye(3), image.size)


class FaceAligner:
    """dlib's detector and 68-point model, turned into one ``Face`` per face found, largest first."""

    def __init__(self):
        from mgmtn.masks.annotators import DlibAnnotator

        self.annotator = DlibAnnotator()

    def __call__(self, photo: Image.Image) -> list[Face]:
        return [Face(box, similarity(five_points(points), CELEBA_TEMPLATE))
                for box, points in self.annotator.faces(photo)]


def central_face(faces: list[Face], size: tuple[int, int]) -> Face:
    """The face whose box centre is nearest the image centre (LFW centres each frame on its person)."""
    centre = np.array(size) / 2
    return min(faces, key=lambda face: np.linalg.norm((np.add(face.box[:2], face.box[2:]) / 2) - centre))


def derive_template(images: Iterable[Image.Image]) -> tuple[np.ndarray, int]:
    """Mean five points of the largest face of each aligned image, and how many images had a face."""
    annotator = FaceAligner().annotator
    points = [five_points(faces[0][1]) for faces in map(annotator.faces, images) if faces]
    if not points:
        raise ValueError("no face found in any image")
    return np.mean(points, axis=0), len(points)
