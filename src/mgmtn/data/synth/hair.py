"""Hair on the head: its colour, texture (straight, wavy, neither), bangs, hairline, baldness, hats.

All of it lies above the eyes and beside the head, the Hair region of
Table 1. Beards and brows use ``hairy`` for their texture but are drawn with
the face (parts.py).
"""

from __future__ import annotations

import numpy as np

from mgmtn.data.synth.canvas import Canvas
from mgmtn.data.synth.geometry import CX, Face, arc, offset_curve, resample
from mgmtn.data.synth.style import HATS, Colour, Look, mix, shade

WHITE = (255, 255, 255)


def hairy(c: Canvas, points, colour: Colour) -> None:
    """A patch of hair: a tufted edge, dense colour and a speckle of lighter or darker hairs."""
    loop = np.concatenate([points, points[:1]])
    length = np.linalg.norm(np.diff(loop, axis=0), axis=1).sum()
    outline = resample(loop, max(8, int(length / 1.6)))[:-1]
    tufts = offset_curve(outline, 0.8 * np.sin(2.4 * np.arange(len(outline))))  # irregular, not a saw
    speckle = shade(colour, 0.5) if sum(colour) > 240 else mix(colour, WHITE, 0.25)
    c.blend(tufts, colour, 0.85)
    c.blend(tufts, speckle, 0.5, grain=True)


def _strands(c: Canvas, starts: np.ndarray, ends: np.ndarray, look: Look, colour: Colour) -> None:
    """Strands between paired points: straight lines or waves; nothing for other textures."""
    if not (look.on["Straight_Hair"] or look.on["Wavy_Hair"]):
        return
    s = np.linspace(0.0, 1.0, 12)[:, None]
    for i, (a, b) in enumerate(zip(starts, ends)):
        line = a + s * (b - a)
        if look.on["Wavy_Hair"]:
            d = (b - a) / max(np.linalg.norm(b - a), 1e-9)
            line = line + 2.2 * np.sin(2 * np.pi * 2.0 * s + look.style.wave_phase) * (-d[1], d[0])
        c.line(line, shade(colour, 0.62) if i % 3 else mix(colour, WHITE, 0.3), 0.8)


def back_hair(c: Canvas, face: Face, look: Look) -> None:
    """Long hair falls behind the head to the chin (a bald crown keeps it at the back)."""
    if not look.long_hair:
        return
    o, w = face.hair_outer, face.width + 4.0 + 3.0 * look.style.hair_volume
    bottom = [(o[-1, 0] - 1, 140), (CX + w, 180), (CX + 0.4 * face.width, 188), (CX - 0.4 * face.width, 188),
              (CX - w, 180), (o[0, 0] + 1, 140)]
    colour = shade(look.hair, 0.75)  # in the shadow of the head
    c.polygon(np.concatenate([o, bottom]), colour)
    x = CX + np.array([-1, 1])[:, None] * (face.width + np.array([1.0, 3.5]))
    starts = np.stack([x.ravel(), np.full(x.size, 114.0)], 1)
    _strands(c, starts, starts + (0.0, 64.0), look, colour)


def scalp(c: Canvas, face: Face, look: Look) -> None:
    """Hair over the top of the head down to the hairline, or a bald crown with hair at the sides."""
    if look.on["Bald"]:
        c.blend(arc(CX - 8, 58, 13, 6, n=16), WHITE, 0.3)
        for side, line in zip((-1, 1), (face.hairline[:6], face.hairline[-6:])):
            hairy(c, np.concatenate([line, (line + (5.0 * side, 0.0))[::-1]]), look.hair)
        return
    cap = np.concatenate([face.hair_outer, face.hairline[::-1]])
    c.polygon(cap, look.hair)
    if not (look.on["Straight_Hair"] or look.on["Wavy_Hair"]):  # short, curly: a matte speckle
        c.blend(cap, shade(look.hair, 0.7), 0.35, grain=True)
    roots, tips = face.hair_outer[1:-1], face.hairline[1:-1]
    _strands(c, 0.97 * roots + 0.03 * tips, tips, look, look.hair)


def hat(c: Canvas, face: Face, look: Look) -> None:
    colour, w = HATS[look.style.hat], face.width
    if look.style.hat_kind == 0:  # brimmed
        c.ellipse(CX, 75, w + 19, 5.5, shade(colour, 0.82), n=28)
        c.polygon(arc(CX, 75, w + 4, 47, np.pi, 2 * np.pi, 25), colour)
        band = [(CX - w - 4, 75), (CX - w - 3.2, 67), (CX + w + 3.2, 67), (CX + w + 4, 75)]
        c.polygon(band, shade(colour, 0.65))
    else:  # knitted, with a turned-up cuff
        c.polygon(arc(CX, 82, w + 6, 52, np.pi, 2 * np.pi, 25), colour)
        cuff = [(CX - w - 7, 83), (CX - w - 6, 70), (CX + w + 6, 70), (CX + w + 7, 83)]
        c.polygon(cuff, shade(colour, 0.75))
