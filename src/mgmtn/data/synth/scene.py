"""Cluttered backgrounds with distractors that look like attribute cues.

Besides random shapes, the background holds objects that resemble the cues
of attributes: spectacles, hats, red blobs like lipstick or rosy cheeks, gold
rings, ties, necklace chains, patches of skin and of hair. They are placed
beside the head, never on it, and independently of the labels. A model that
pools over the whole image meets them as noise correlated with nothing; a
model that looks where each attribute lives does not meet them at all. This
is the setting in which mask guidance should pay off.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from mgmtn.data.synth.canvas import Canvas
from mgmtn.data.synth.geometry import arc
from mgmtn.data.synth.style import HAIR, HATS, METALS, OTHER_HAIR, PALE_SKIN, SKIN_TONES, mix

DISTRACTOR_RATE = 0.3  # chance that each kind of distractor is in a picture


def _colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(low, high, 3))


def _shape(c: Canvas, rng: np.random.Generator, width: int, height: int) -> None:
    """One random background shape: an ellipse, a polygon or a band of stripes."""
    x, y = rng.uniform(-20, width + 20), rng.uniform(-20, height + 20)
    size = rng.uniform(10, 70)
    kind = rng.integers(3)
    if kind == 0:
        c.ellipse(x, y, size, size * rng.uniform(0.3, 1.0), _colour(rng), tilt=rng.uniform(0, np.pi))
    elif kind == 1:
        angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 7)))
        c.polygon(np.stack([x + size * np.cos(angles), y + size * np.sin(angles)], 1), _colour(rng))
    else:
        step, colour = rng.uniform(4, 12), _colour(rng)
        for k in range(int(rng.integers(3, 8))):
            tilt = rng.uniform(-10, 10)
            c.line([(x - size, y + k * step), (x + size, y + k * step + tilt)], colour, step / 3)


def _glasses(c: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    frame = _colour(rng, 0, 120)
    for side in (-1, 1):
        c.line(arc(x + side * 16 * s, y, 12 * s, 8 * s, n=20), frame, 1.6 * s)
    c.line([(x - 4 * s, y - 2 * s), (x + 4 * s, y - 2 * s)], frame, 1.4 * s)


def _hat(c: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    colour = HATS[int(rng.integers(len(HATS)))]
    c.ellipse(x, y, 30 * s, 5 * s, colour, n=24)
    c.polygon(arc(x, y, 18 * s, 22 * s, np.pi, 2 * np.pi, 16), colour)


def _red_blob(c: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    red = (int(rng.integers(170, 235)), int(rng.integers(10, 90)), int(rng.integers(30, 100)))
    for _ in range(int(rng.integers(1, 3))):
        c.ellipse(x + rng.uniform(-10, 10) * s, y + rng.uniform(-10, 10) * s, rng.uniform(4, 10) * s,
                  rng.uniform(3, 7) * s, red)


def _rings(c: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    metal = METALS[int(rng.integers(len(METALS)))]
    for k in range(int(rng.integers(1, 3))):
        c.line(arc(x + 10 * k * s, y, 3.5 * s, 3.8 * s, n=18), metal, 1.3 * s)


def _tie(c: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    c.polygon([(x - 3.5 * s, y - 14 * s), (x + 3.5 * s, y - 14 * s), (x + 7 * s, y + 12 * s), (x, y + 18 * s),
               (x - 7 * s, y + 12 * s)], _colour(rng))


def _chain(c: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    metal = METALS[int(rng.integers(len(METALS)))]
    for bx, by in arc(x, y - 8 * s, 20 * s, 12 * s, 0.15 * np.pi, 0.85 * np.pi, 13):
        c.ellipse(bx, by, 1.1 * s, 1.1 * s, metal, n=6)


def _skin(c: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    tone = mix(SKIN_TONES[int(rng.integers(len(SKIN_TONES)))], PALE_SKIN, float(rng.uniform(0, 0.5)))
    c.ellipse(x, y, rng.uniform(8, 20) * s, rng.uniform(8, 20) * s, tone, tilt=rng.uniform(0, np.pi))


def _hair(c: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    palette = list(HAIR.values()) + list(OTHER_HAIR)
    colour = palette[int(rng.integers(len(palette)))]
    c.ellipse(x, y, 14 * s, 20 * s, colour, tilt=rng.uniform(0, np.pi))
    dark = tuple(int(v * 0.6) for v in colour)
    for k in range(-2, 3):
        c.line([(x + 4 * k * s, y - 15 * s), (x + 4 * k * s + rng.uniform(-4, 4), y + 15 * s)], dark, 0.8 * s)


def _stubble(c: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    c.blend(arc(x, y, 14 * s, 10 * s, n=16), (58, 60, 70), 0.6, grain=True)


Distractor = Callable[[Canvas, np.random.Generator, float, float, float], None]
DISTRACTORS: tuple[Distractor, ...] = (_glasses, _hat, _red_blob, _rings, _tie, _chain, _skin, _hair,
                                       _stubble)


def _free_spot(rng: np.random.Generator, keep_out: np.ndarray, width: int,
               height: int) -> tuple[float, float]:
    """A point beside or above the head box (x0, y0, x1, y1), chosen in proportion to free area."""
    x0, y0, x1, y1 = np.clip(keep_out, 0, [width, height, width, height])
    areas = np.array([x0 * height, (width - x1) * height, (x1 - x0) * y0]) + 1.0
    side = rng.choice(3, p=areas / areas.sum())
    if side == 0:
        return rng.uniform(0, x0 + 1), rng.uniform(0, height)
    if side == 1:
        return rng.uniform(x1 - 1, width), rng.uniform(0, height)
    return rng.uniform(x0, x1), rng.uniform(0, y0 + 1)


def paint_background(c: Canvas, rng: np.random.Generator, keep_out: np.ndarray, scale: float) -> None:
    """Random shapes everywhere, then distractors outside ``keep_out`` at the face's ``scale``.

    ``c`` draws in image pixels.
    """
    width, height = c.size
    c.polygon([(0, 0), (width, 0), (width, height), (0, height)], _colour(rng, 30, 230))
    for _ in range(int(rng.integers(4, 11))):
        _shape(c, rng, width, height)
    if rng.random() < 0.5:
        c.blend([(0, 0), (width, 0), (width, height), (0, height)], _colour(rng), 0.35, grain=True)
    for draw in DISTRACTORS:
        if rng.random() < DISTRACTOR_RATE:
            x, y = _free_spot(rng, keep_out, width, height)
            draw(c, rng, x, y, scale * rng.uniform(0.8, 1.2))
