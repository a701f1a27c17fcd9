"""Facial keypoints -> the eight group rectangles of MGMTN (Sec. 3.1, Fig. 3).

The paper annotates 98 WFLW keypoints with FaRL and takes, for each of the
seven part groups of Table 1, "the smallest rectangle around" its facial
region, and for Object the rectangle around all regions. It does not give
the regions, so they are fixed here, with the reason for each margin:

============  =================================================================
Mouth         lips and nose base, widened for moustache, stubble and beard
Ear           the jaw contour from eye to nose-base height, widened outward by
              an ear's width on both sides and down for lobes and earrings
Lower_Face    nose base to jaw, extended below the chin over the neck, so that
              double chin, goatee, necklace and necktie are inside
Cheeks        below the eyes to the mouth corners, across the face (sideburns)
Nose          the nose keypoints, widened for the nostril wings
Eyes          eyes and brows, extended down for bags under the eyes and frames
Hair          above the brows to the top of the head, down the sides to the
              eye line and outward past the temples
Object        the union of the seven rectangles above
============  =================================================================

All margins are multiples of the inter-ocular distance ``s`` (between the eye
centres) and are measured in a face frame (``u`` along the eye line, ``v``
perpendicular, pointing down), so the boxes scale with the face and follow
its roll before the axis-aligned rectangle is taken. Coordinates are
continuous pixels: pixel ``(i, j)`` covers ``[i, i+1) x [j, j+1)``.

Three keypoint schemes are understood, told apart by their number of points:
WFLW 98 (FaRL, the synthetic faces), dlib/iBUG 68 and CelebA's 5 landmarks.
For 5 points the missing parts (brows, nose wings, lips, contour) are placed
at fixed offsets from the nearest landmark; the offsets are the mean dlib
68-point geometry of 400 aligned CelebA images in the face frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Margins (left, top, right, bottom) around each group's points, in units of s.
PAD_MOUTH = (0.2, 0.0, 0.2, 0.3)
PAD_EAR = (0.45, 0.1, 0.45, 0.6)
PAD_LOWER_FACE = (0.1, 0.0, 0.1, 0.0)
PAD_CHEEKS = (0.05, 0.0, 0.05, 0.05)
PAD_NOSE = (0.1, 0.0, 0.1, 0.05)
PAD_EYES = (0.1, 0.08, 0.1, 0.3)
PAD_HAIR = (0.3, 0.0, 0.3, 0.0)
NECK_DEPTH = 1.5  # Lower_Face reaches this far below the chin (collar: necktie, necklace)
HEAD_HEIGHT = 2.5  # Hair reaches this far above the brows (top of the head and its hair)
CHEEK_TOP = 0.15  # Cheeks start this far below the eye centres (the lower eyelid)


@dataclass(frozen=True)
class _Scheme:
    """Which keypoints of a scheme make up each facial part."""

    left_eye: list[int]
    right_eye: list[int]
    brows: list[int]
    nose: list[int]
    nose_base: list[int]
    mouth: list[int]
    mouth_corners: list[int]
    temples: list[int]  # the two ends of the face contour, at eye height
    ear_contour: list[int]  # face contour from eye to nose-base height, both sides
    cheek_contour: list[int]  # face contour from below the eyes to the mouth corners
    jaw: list[int]  # face contour from mouth-corner height round the chin
    chin: list[int]


def _r(start: int, stop: int) -> list[int]:
    """Inclusive index range, as keypoint schemes are documented."""
    return list(range(start, stop + 1))


WFLW98 = _Scheme(
    left_eye=_r(60, 67), right_eye=_r(68, 75), brows=_r(33, 50), nose=_r(51, 59), nose_base=_r(55, 59),
    mouth=_r(76, 95), mouth_corners=[76, 82], temples=[0, 32], ear_contour=_r(0, 4) + _r(28, 32),
    cheek_contour=_r(2, 6) + _r(26, 30), jaw=_r(6, 26), chin=[16])

DLIB68 = _Scheme(
    left_eye=_r(36, 41), right_eye=_r(42, 47), brows=_r(17, 26), nose=_r(27, 35), nose_base=_r(31, 35),
    mouth=_r(48, 67), mouth_corners=[48, 54], temples=[0, 16], ear_contour=_r(0, 2) + _r(14, 16),
    cheek_contour=_r(1, 3) + _r(13, 15), jaw=_r(3, 13), chin=[8])

SCHEMES = {98: WFLW98, 68: DLIB68}


def _mirror(offsets: list[tuple[float, float]]) -> np.ndarray:
    """Offsets (du, dv) and their left-right mirror images (-du, dv)."""
    table = np.array(offsets, dtype=np.float64)
    return np.concatenate([table, table * [-1.0, 1.0]])


def _spread(du: float, dv: float) -> np.ndarray:
    """The four corners of a (2 du) x (2 dv) rectangle in the face frame."""
    return _mirror([(du, dv), (du, -dv)])


# CelebA 5-point extrapolation, offsets (du, dv) in units of s from an anchor.
FIVE_EYE = _spread(0.2, 0.07)  # eye corners and lids around each eye centre
FIVE_BROW = _spread(0.4, 0.08) + [0.0, -0.3]  # around each eye centre
FIVE_NOSE_BASE = np.array([(-0.22, 0.13), (0.22, 0.13), (0.0, 0.2)])  # from the nose tip
FIVE_LIPS = np.array([(0.0, -0.08), (0.0, 0.27)])  # upper and lower lip from the mouth centre
FIVE_TEMPLES = _mirror([(1.14, 0.0)])  # from the eye midpoint
FIVE_EAR_CONTOUR = np.concatenate([FIVE_TEMPLES, _mirror([(1.1, 0.63)])])  # from the eye midpoint
FIVE_CHEEK_CONTOUR = _mirror([(1.13, 0.32), (1.04, 0.93)])  # from the eye midpoint
FIVE_JAW = _mirror([(1.04, -0.13), (0.75, 0.39), (0.28, 0.78)])  # from the mouth centre
FIVE_CHIN = np.array([(0.0, 0.83)])  # from the mouth centre


@dataclass(frozen=True)
class _Frame:
    """Face frame: ``u`` along the eye line, ``v`` perpendicular and down, ``s`` the eye distance.

    Arrays carry any leading batch shape; ``u``, ``v`` are (..., 1, 2), ``s`` is (..., 1, 1).
    """

    u: np.ndarray
    v: np.ndarray
    s: np.ndarray

    @classmethod
    def from_eyes(cls, left: np.ndarray, right: np.ndarray) -> "_Frame":
        d = right - left
        s = np.linalg.norm(d, axis=-1, keepdims=True)
        u = d / np.maximum(s, 1e-6)
        return cls(u=u, v=np.stack([-u[..., 1], u[..., 0]], axis=-1), s=s)

    def at(self, anchors: np.ndarray, offsets) -> np.ndarray:
        """Every anchor (..., m, 2) moved by every offset (k, 2) in units of s -> (..., m*k, 2)."""
        offsets = np.asarray(offsets, dtype=np.float64)
        step = offsets[:, :1] * self.u[..., None, :] + offsets[:, 1:] * self.v[..., None, :]
        moved = anchors[..., :, None, :] + self.s[..., None, :] * step
        return moved.reshape(*anchors.shape[:-2], -1, 2)

    def box(self, points: np.ndarray, pad: tuple[float, float, float, float]) -> np.ndarray:
        """Axis-aligned box (..., 4) of the points with a face-frame margin (left, top, right, bottom)."""
        left, top, right, bottom = pad
        grown = self.at(points, [(-left, -top), (right, -top), (-left, bottom), (right, bottom)])
        return np.concatenate([grown.min(axis=-2), grown.max(axis=-2)], axis=-1)


@dataclass(frozen=True)
class _Parts:
    """Facial parts as point sets (..., k, 2), whatever the keypoint scheme."""

    frame: _Frame
    eye_centres: np.ndarray
    eyes: np.ndarray
    brows: np.ndarray
    nose: np.ndarray
    nose_base: np.ndarray
    mouth: np.ndarray
    mouth_corners: np.ndarray
    temples: np.ndarray
    ear_contour: np.ndarray
    cheek_contour: np.ndarray
    jaw: np.ndarray
    chin: np.ndarray


def _parts_from_scheme(points: np.ndarray, scheme: _Scheme) -> _Parts:
    left = points[..., scheme.left_eye, :].mean(axis=-2, keepdims=True)
    right = points[..., scheme.right_eye, :].mean(axis=-2, keepdims=True)

    def pick(indices: list[int]) -> np.ndarray:
        return points[..., indices, :]

    return _Parts(
        frame=_Frame.from_eyes(left, right), eye_centres=np.concatenate([left, right], axis=-2),
        eyes=pick(scheme.left_eye + scheme.right_eye), brows=pick(scheme.brows), nose=pick(scheme.nose),
        nose_base=pick(scheme.nose_base), mouth=pick(scheme.mouth), mouth_corners=pick(scheme.mouth_corners),
        temples=pick(scheme.temples), ear_contour=pick(scheme.ear_contour),
        cheek_contour=pick(scheme.cheek_contour), jaw=pick(scheme.jaw), chin=pick(scheme.chin))


def _parts_from_five(points: np.ndarray) -> _Parts:
    """CelebA order: left eye, right eye, nose tip, left mouth corner, right mouth corner."""
    eyes, nose, corners = points[..., 0:2, :], points[..., 2:3, :], points[..., 3:5, :]
    frame = _Frame.from_eyes(points[..., 0:1, :], points[..., 1:2, :])
    eye_mid = eyes.mean(axis=-2, keepdims=True)
    mouth_mid = corners.mean(axis=-2, keepdims=True)
    nose_base = frame.at(nose, FIVE_NOSE_BASE)
    return _Parts(
        frame=frame, eye_centres=eyes, eyes=frame.at(eyes, FIVE_EYE), brows=frame.at(eyes, FIVE_BROW),
        nose=np.concatenate([eye_mid, nose, nose_base], axis=-2), nose_base=nose_base,
        mouth=np.concatenate([corners, frame.at(mouth_mid, FIVE_LIPS)], axis=-2), mouth_corners=corners,
        temples=frame.at(eye_mid, FIVE_TEMPLES), ear_contour=frame.at(eye_mid, FIVE_EAR_CONTOUR),
        cheek_contour=frame.at(eye_mid, FIVE_CHEEK_CONTOUR), jaw=frame.at(mouth_mid, FIVE_JAW),
        chin=frame.at(mouth_mid, FIVE_CHIN))


def _parts(points: np.ndarray) -> _Parts:
    count = points.shape[-2]
    if count == 5:
        return _parts_from_five(points)
    if count in SCHEMES:
        return _parts_from_scheme(points, SCHEMES[count])
    raise ValueError(f"keypoints must be (..., K, 2) with K = 98 (WFLW), 68 (dlib) or 5 (CelebA); "
                     f"got shape {points.shape}")


def _cat(*point_sets: np.ndarray) -> np.ndarray:
    return np.concatenate(point_sets, axis=-2)


def _part_boxes(p: _Parts) -> list[np.ndarray]:
    """The seven part boxes, in GROUP_NAMES order (the table in the module docstring)."""
    f, cat = p.frame, _cat
    return [
        f.box(cat(p.mouth, p.nose_base), PAD_MOUTH),
        f.box(p.ear_contour, PAD_EAR),
        f.box(cat(p.nose_base, p.jaw, f.at(p.chin, [(0.0, NECK_DEPTH)])), PAD_LOWER_FACE),
        f.box(cat(p.cheek_contour, f.at(p.eye_centres, [(0.0, CHEEK_TOP)]), p.mouth_corners), PAD_CHEEKS),
        f.box(p.nose, PAD_NOSE),
        f.box(cat(p.eyes, p.brows), PAD_EYES),
        f.box(cat(f.at(p.brows, [(0.0, -HEAD_HEIGHT)]), p.temples), PAD_HAIR),
    ]


def group_boxes(keypoints, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Eight group boxes ``[x0, y0, x1, y1]`` (..., 8, 4), float, in GROUP_NAMES order.

    ``keypoints`` is (..., K, 2) pixel coordinates with K = 98, 68 or 5.
    With ``image_size = (width, height)`` the boxes are clipped to the image.
    """
    points = np.asarray(keypoints, dtype=np.float64)
    if points.ndim < 2 or points.shape[-1] != 2:
        raise ValueError(f"keypoints must be (..., K, 2); got shape {points.shape}")
    parts = np.stack(_part_boxes(_parts(points)), axis=-2)
    union = np.concatenate([parts[..., :2].min(axis=-2), parts[..., 2:].max(axis=-2)], axis=-1)
    boxes = np.concatenate([parts, union[..., None, :]], axis=-2)
    if image_size is not None:
        width, height = image_size
        boxes = np.clip(boxes, 0.0, [width, height, width, height])
    return boxes


def scale_boxes(boxes, area_ratio: float):
    """Grow or shrink each box about its centre to ``area_ratio`` of its area (Table 4, Fig. 7).

    Each side is scaled by sqrt(area_ratio). Works on numpy arrays and torch
    tensors of shape (..., 4); the result is floating point and not clipped,
    so the ratio is exact.
    """
    if area_ratio <= 0:
        raise ValueError(f"area_ratio must be positive, got {area_ratio}")
    side = float(area_ratio) ** 0.5
    # x0' = c - side * half = x0 (1 + side) / 2 + x1 (1 - side) / 2, and alike for the others.
    return boxes * ((1 + side) / 2) + boxes[..., [2, 3, 0, 1]] * ((1 - side) / 2)
