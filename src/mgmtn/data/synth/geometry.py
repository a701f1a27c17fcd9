"""Canonical geometry of a synthetic face, and the head pose that places it in the image.

Every drawn shape is defined in one canonical frame: a 178 x 218 CelebA
aligned crop with the eye centres at (69, 111) and (108, 111), the nose tip at
(89, 135), the mouth corners near (72, 152) and (106, 152) and the chin near
y = 185. Coordinates are continuous pixels (pixel i covers [i, i+1)). A pose
is an affine map from this frame to the image; the renderer draws with the
same map that moves the keypoints, so the 98 WFLW keypoints are exact.

Shapes are built for the image-left half of the face and mirrored, which
keeps the two halves consistent and the WFLW point order easy to follow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CANONICAL_SIZE = (178, 218)
CX, CY = 88.5, 130.0  # face centre; the pose turns and scales about it
TEMPLE_Y = 108.0  # height of contour points 0 and 32
HEAD_TOP = 40.0
EYE_Y, EYE_DX = 111.0, 19.5
CHIN_Y = 185.0
MOUTH_Y = 152.0

# WFLW order of the mirrored left part, as the right part: brows and eyes run
# image-left to image-right over the top, then back along the bottom.
RIGHT_BROW = [4, 3, 2, 1, 0, 8, 7, 6, 5]
RIGHT_EYE = [4, 3, 2, 1, 0, 7, 6, 5]


@dataclass(frozen=True)
class Pose:
    """In-plane head pose: rotation (degrees, counter-clockwise), scale and shift (pixels)."""

    angle: float = 0.0
    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0

    def matrix(self, size: tuple[int, int] = CANONICAL_SIZE) -> np.ndarray:
        """2 x 3 affine map from the canonical frame to an image of ``size`` (width, height)."""
        fit = min(size[0] / CANONICAL_SIZE[0], size[1] / CANONICAL_SIZE[1])
        a = np.deg2rad(self.angle)
        turn = self.scale * np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        centre = np.array([CX, CY])
        offset = centre + (self.dx, self.dy) - turn @ centre
        margin = (np.asarray(size, float) - fit * np.asarray(CANONICAL_SIZE, float)) / 2
        return np.hstack([fit * turn, (fit * offset + margin)[:, None]])


def sample_pose(rng: np.random.Generator) -> Pose:
    """Roll within +-15 degrees, scale within +-12 %, shift within +-6 px (x) and +-5 px (y)."""
    a, s, x, y = rng.random(4)
    return Pose(angle=30.0 * (a - 0.5), scale=0.88 + 0.24 * s, dx=12.0 * (x - 0.5), dy=10.0 * (y - 0.5))


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (..., 2) through a 2 x 3 affine matrix."""
    return np.asarray(points) @ matrix[:, :2].T + matrix[:, 2]


def arc(cx: float, cy: float, rx: float, ry: float, a0: float = 0.0, a1: float = 2 * np.pi,
        n: int = 24, tilt: float = 0.0) -> np.ndarray:
    """Points of an ellipse from angle a0 to a1 (y grows downwards, so pi..2 pi is the top half),
    its axes turned by ``tilt`` radians."""
    t = np.linspace(a0, a1, n)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = np.cos(tilt), np.sin(tilt)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1)


def mirror(points: np.ndarray) -> np.ndarray:
    """Left-right mirror image about the face's vertical axis."""
    out = np.array(points, dtype=float)
    out[..., 0] = 2 * CX - out[..., 0]
    return out


def resample(line: np.ndarray, n: int) -> np.ndarray:
    """``n`` points evenly spaced by arc length along a polyline, ends included."""
    step = np.linalg.norm(np.diff(line, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(step)])
    at = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(at, s, line[:, 0]), np.interp(at, s, line[:, 1])], axis=1)


def offset_curve(line: np.ndarray, distance) -> np.ndarray:
    """A polyline moved sideways by ``distance`` (scalar or one per point; positive is to the
    left of its direction on screen, i.e. outwards for a clockwise outline)."""
    d = np.gradient(line, axis=0)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    return line + np.asarray(distance, float)[..., None] * np.stack([d[:, 1], -d[:, 0]], axis=1)


@dataclass(frozen=True)
class Face:
    """Canonical shapes of one face; arrays of (x, y) points, left half first where paired."""

    width: float  # half face width at the temples
    chin_y: float
    jaw: np.ndarray  # dense face outline, left temple -> chin -> right temple
    skull: np.ndarray  # dense top of the head, left temple -> right temple
    contour: np.ndarray  # (33, 2) WFLW contour
    brows: np.ndarray  # (2, 9, 2) WFLW brows
    brow_shapes: tuple[np.ndarray, np.ndarray]
    eyes: np.ndarray  # (2, 8, 2) WFLW eyes
    lids: tuple[tuple[np.ndarray, np.ndarray], ...]  # per eye: (upper, lower), image left to right
    pupils: np.ndarray  # (2, 2)
    nose: np.ndarray  # (9, 2) WFLW nose
    nose_width: float
    mouth_outer: np.ndarray  # (12, 2)
    mouth_inner: np.ndarray  # (8, 2)
    lips: dict[str, np.ndarray]  # dense curves outer_up, inner_up, inner_lo, outer_lo (left to right)
    ears: np.ndarray  # (2, 2) centres
    hair_outer: np.ndarray  # top-of-head hair outline, left to right
    hairline: np.ndarray  # same length, where hair meets skin

    @property
    def head(self) -> np.ndarray:
        """Closed outline of the whole head (skull and jaw)."""
        return np.concatenate([self.skull, self.jaw[::-1]])

    def keypoints(self) -> np.ndarray:
        """The 98 WFLW keypoints, canonical frame, float32."""
        parts = [self.contour, self.brows.reshape(-1, 2), self.nose, self.eyes.reshape(-1, 2),
                 self.mouth_outer, self.mouth_inner, self.pupils]
        return np.concatenate(parts).astype(np.float32)


def _jaw_half(width: float, chin_y: float, square: float, taper: float, n: int = 48) -> np.ndarray:
    """Left half of the face outline, temple to chin: a superellipse quarter narrowed towards the chin."""
    t = np.linspace(np.pi, np.pi / 2, n)
    depth = np.abs(np.sin(t)) ** (2 / square)
    x = width * np.abs(np.cos(t)) ** (2 / square) * (1 - taper * depth ** 2)
    return np.stack([CX - x, TEMPLE_Y + (chin_y - TEMPLE_Y) * depth], axis=1)


def _brow(on: dict[str, bool], n: int = 17) -> tuple[np.ndarray, np.ndarray]:
    """Left brow: dense outline and its 9 WFLW points (upper edge outer->inner, lower edge back)."""
    t = np.linspace(0.0, 1.0, n)
    peak = 0.38
    if on["Arched_Eyebrows"]:
        lift = 6.0 * np.clip(1 - np.abs(t - peak) / np.where(t < peak, peak + 0.15, 1 - peak), 0, 1)
    else:
        lift = (1.2 if on["Male"] else 2.4) * np.sin(np.pi * t) ** 0.8
    thick = (5.6 if on["Bushy_Eyebrows"] else 3.0) * (0.45 + 0.55 * np.sqrt(t))
    centre = 96.0 + 1.5 * on["Male"] - lift
    x = CX - EYE_DX - 14.0 + 25.0 * t
    upper = np.stack([x, centre - thick / 2], axis=1)
    lower = np.stack([x, centre + thick / 2], axis=1)
    q = (n - 1) // 4
    points = np.concatenate([upper[::q], lower[::-q][:4]])
    return np.concatenate([upper, lower[::-1]]), points


def _eye(on: dict[str, bool], n: int = 17) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Left eye lids (image left to right, outer corner first) and its 8 WFLW points."""
    t = np.linspace(-1.0, 1.0, n)
    cx = CX - EYE_DX
    up, low = (2.0, 1.3) if on["Narrow_Eyes"] else (4.4, 3.1)
    low *= 0.6 if on["Smiling"] else 1.0  # a smile lifts the lower lid
    upper = np.stack([cx + 10.0 * t, EYE_Y - up * (1 - t ** 2) * (1 + 0.12 * t)], axis=1)
    lower = np.stack([cx + 10.0 * t, EYE_Y + low * (1 - t ** 2)], axis=1)
    q = (n - 1) // 4
    points = np.concatenate([upper[::q], lower[::-q][1:4]])
    return upper, lower, points


def _nose(on: dict[str, bool]) -> tuple[np.ndarray, float]:
    """WFLW nose points (bridge top to tip, then the base left to right) and the wing half-width."""
    tip = 135.0 + 2.0 * on["Big_Nose"] + 1.5 * on["Pointy_Nose"]
    width = 8.0 + 3.4 * on["Big_Nose"] - 2.0 * on["Pointy_Nose"]
    base = tip + 3.5 + 0.5 * on["Big_Nose"]
    bridge = [(CX, 113.0 + k * (tip - 113.0) / 3) for k in range(4)]
    wings = [(CX - width, base - 2.5), (CX - width / 2, base), (CX, base + 0.6), (CX + width / 2, base),
             (CX + width, base - 2.5)]
    return np.array(bridge + wings), width


def _lip_curves(on: dict[str, bool], u: np.ndarray) -> dict[str, np.ndarray]:
    """Heights of the four lip edges at positions u in [-1, 1] across the mouth."""
    smile, opened = on["Smiling"], on["Mouth_Slightly_Open"]
    mid = MOUTH_Y + (3.6 * (1 - u ** 2) - 2.6 if smile else 0.6 * (1 - u ** 2))
    env = np.sqrt(np.clip(1 - u ** 2, 0, 1))
    up, low = (5.8, 7.6) if on["Big_Lips"] else (3.6, 4.8)
    up, low = (0.85 * up, 0.85 * low) if on["Male"] else (up, low)
    inner_up = mid - (1.4 * smile + 0.6 * opened) * env
    inner_lo = mid + (1.4 * smile + 3.6 * opened) * env
    bow = 1 - 0.3 * np.exp(-(u / 0.14) ** 2)  # the dip of the cupid's bow
    fall = np.clip(1 - u ** 2, 0, 1) ** 0.6
    return {"outer_up": inner_up - up * fall * bow, "inner_up": inner_up, "inner_lo": inner_lo,
            "outer_lo": inner_lo + low * fall}


def _mouth(on: dict[str, bool], n: int = 21):
    """Dense lip edges and the 12 outer and 8 inner WFLW mouth points."""
    half = 19.0 if on["Smiling"] else 17.0
    u = np.linspace(-1.0, 1.0, n)
    lips = {k: np.stack([CX + half * u, y], axis=1) for k, y in _lip_curves(on, u).items()}

    def at(u_values, edge):
        u_values = np.asarray(u_values, float)
        return np.stack([CX + half * u_values, _lip_curves(on, u_values)[edge]], axis=1)

    third = [-1, -2 / 3, -1 / 3, 0, 1 / 3, 2 / 3, 1]
    outer = np.concatenate([at(third, "outer_up"), at(third[-2:0:-1], "outer_lo")])
    corners = (at([-0.9, 0.9], "inner_up") + at([-0.9, 0.9], "inner_lo")) / 2
    inner = np.concatenate([corners[:1], at([-0.45, 0, 0.45], "inner_up"), corners[1:],
                            at([0.45, 0, -0.45], "inner_lo")])
    return lips, outer, inner


def _hair_outline(on: dict[str, bool], width: float, long: bool, volume: float, phase: float,
                  n: int = 29) -> tuple[np.ndarray, np.ndarray]:
    """Outer edge of the hair over the skull and the hairline, sampled at the same angles."""
    t = np.linspace(np.pi - 0.06, 2 * np.pi + 0.06, n)
    grow = (7.0 + 6.0 * volume) if long else (4.0 + 4.0 * volume)
    wave = 1 + (0.035 * np.sin(11 * t + phase) if on["Wavy_Hair"] else 0.0)
    cy = TEMPLE_Y + 2.0
    outer = np.stack([CX + (width + grow) * wave * np.cos(t), cy + (cy - HEAD_TOP + grow) * wave * np.sin(t)],
                     axis=1)
    c, s = np.cos(t), np.sin(t)
    top = 56.0 if on["Receding_Hairline"] else 68.0
    y = cy + (cy - top) * np.sign(s) * np.abs(s) ** (2 / 3)
    if on["Receding_Hairline"]:  # bare temples: the M shape
        y = y - 12.0 * np.exp(-((np.abs(c) - 0.55) / 0.2) ** 2)
    if on["Bangs"]:  # a fringe with strand tips down to just above the brows
        fringe = 83.5 + 2.2 * (np.arange(n) % 2)
        y = np.where(np.abs(c) < 0.8, np.maximum(y, fringe), y)
    hairline = np.stack([CX + (width - 1.0) * np.sign(c) * np.abs(c) ** (2 / 3), y], axis=1)
    return outer, hairline


def build_face(on: dict[str, bool], long_hair: bool, volume: float, wave_phase: float,
               asymmetry: tuple[float, float]) -> Face:
    """All canonical shapes of a face with attributes ``on`` (name -> bool) and the given hair style.

    ``asymmetry`` (dx, dy) moves the right eye and brow of a face that is not Attractive.
    """
    male, chubby, oval = on["Male"], on["Chubby"], on["Oval_Face"]
    width = 41.5 + 3.0 * male + 6.5 * chubby - 2.5 * oval
    chin_y = CHIN_Y + 3.0 * oval + 1.5 * chubby
    half = _jaw_half(width, chin_y, square=2.1 + 0.9 * male + 0.3 * chubby - 0.35 * oval,
                     taper=0.10 - 0.05 * male - 0.06 * chubby + 0.14 * oval)
    left = resample(half, 17)
    contour = np.concatenate([left, mirror(left[-2::-1])])
    jaw = np.concatenate([half, mirror(half[-2::-1])])
    skull = arc(CX, TEMPLE_Y, width, TEMPLE_Y - HEAD_TOP, np.pi, 2 * np.pi, 25)

    shift = np.zeros(2) if on["Attractive"] else np.asarray(asymmetry, float)  # plain faces are lopsided
    brow_shape, brow_points = _brow(on)
    upper, lower, eye_points = _eye(on)
    lips, outer, inner = _mouth(on)
    nose, nose_width = _nose(on)
    hair_outer, hairline = _hair_outline(on, width, long_hair, volume, wave_phase)
    return Face(
        width=width, chin_y=chin_y, jaw=jaw, skull=skull, contour=contour,
        brows=np.stack([brow_points, mirror(brow_points)[RIGHT_BROW] + shift]),
        brow_shapes=(brow_shape, mirror(brow_shape) + shift),
        eyes=np.stack([eye_points, mirror(eye_points)[RIGHT_EYE] + shift]),
        lids=((upper, lower), (mirror(upper)[::-1] + shift, mirror(lower)[::-1] + shift)),
        pupils=np.array([(CX - EYE_DX, EYE_Y), (CX + EYE_DX, EYE_Y)]) + [np.zeros(2), shift],
        nose=nose, nose_width=nose_width, mouth_outer=outer, mouth_inner=inner, lips=lips,
        ears=np.array([(CX - width - 1.5, 124.0), (CX + width + 1.5, 124.0)]),
        hair_outer=hair_outer, hairline=hairline)


def landmarks(keypoints: np.ndarray) -> np.ndarray:
    """CelebA's 5 landmarks from WFLW keypoints: pupils, nose tip, mouth corners."""
    return np.asarray(keypoints)[..., [96, 97, 54, 76, 82], :]
