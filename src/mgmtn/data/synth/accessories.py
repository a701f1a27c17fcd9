"""Things worn: clothes, spectacles, earrings, a necklace, a necktie.

Each sits where its attribute's group of Table 1 is: spectacles over the
eyes, earrings at the ear lobes, necklace and tie below the chin.
"""

from __future__ import annotations

import numpy as np

from mgmtn.data.synth.canvas import Canvas
from mgmtn.data.synth.geometry import CX, EYE_Y, Face, arc, mirror
from mgmtn.data.synth.style import CLOTHES, GLASSES, METALS, Look, shade


def _closed(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points, points[:1]])


def _lens(cx: float, cy: float, a: float, b: float, n: int = 28) -> np.ndarray:
    """A rounded rectangle (a superellipse of power 4): the shape of spectacle lenses."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    return np.stack([cx + a * np.sign(c) * np.sqrt(np.abs(c)), cy + b * np.sign(s) * np.sqrt(np.abs(s))], 1)


def neck_half_width(face: Face, look: Look) -> float:
    return 0.5 * face.width + 1.5 * look.on["Male"]


def clothes(c: Canvas, face: Face, look: Look) -> None:
    half = neck_half_width(face, look)
    shoulders = [(CX + half + 2, 196), (CX + half + 26, 204), (CX + 110, 226), (CX - 110, 226),
                 (CX - half - 26, 204), (CX - half - 2, 196)]
    neckline = [(CX - 0.5 * half, 205), (CX, 207), (CX + 0.5 * half, 205)]
    c.polygon(shoulders + neckline, CLOTHES[look.style.clothes])


def glasses(c: Canvas, face: Face, look: Look) -> None:
    frame = GLASSES[look.style.glasses]
    tint, alpha = ((20, 20, 30), 0.85) if look.style.sunglasses else ((200, 220, 235), 0.2)
    for (px, py), side in zip(face.pupils, (-1, 1)):
        lens = _lens(px, py + 1, 13, 8.5)
        c.blend(lens, tint, alpha)
        c.line(_closed(lens), frame, 1.5)
        c.line([(px + 13 * side, py - 3), (CX + side * (face.width - 0.5), EYE_Y - 4)], frame, 1.2)
    c.line(arc(CX, EYE_Y - 1, 6.5, 3, 1.1 * np.pi, 1.9 * np.pi, 7), frame, 1.4)


def earrings(c: Canvas, face: Face, look: Look) -> None:
    metal = METALS[look.style.metal]
    for x, y in face.ears:
        lobe = y + 12.5
        if look.style.earring_kind == 0:  # hoop
            c.line(_closed(arc(x, lobe + 3.8, 3.4, 3.8, n=18)), metal, 1.2)
        else:  # stud with a drop
            c.ellipse(x, lobe, 1.5, 1.5, metal, n=8)
            c.ellipse(x, lobe + 5, 1.7, 2.8, metal, n=12)


def necklace(c: Canvas, face: Face, look: Look) -> None:
    metal = METALS[look.style.metal]
    for x, y in arc(CX, 190, 0.5 * face.width - 1, 12, 0.15 * np.pi, 0.85 * np.pi, 15):
        c.ellipse(x, y, 1.1, 1.1, metal, n=6)
    c.ellipse(CX, 204.5, 2.0, 2.6, metal, n=10)


def necktie(c: Canvas, face: Face, look: Look) -> None:
    half = neck_half_width(face, look)
    collar = np.array([(CX - half - 1, 195), (CX - 1.5, 206), (CX - half - 4, 211)])
    for points in (collar, mirror(collar)):
        c.polygon(points, (236, 236, 240))
    tie = CLOTHES[(look.style.clothes + 3) % len(CLOTHES)]
    c.polygon([(CX - 3.5, 199), (CX + 3.5, 199), (CX + 2.5, 206), (CX - 2.5, 206)], shade(tie, 0.8))
    c.polygon([(CX - 2.5, 206), (CX + 2.5, 206), (CX + 6.5, 226), (CX, 232), (CX - 6.5, 226)], tie)
