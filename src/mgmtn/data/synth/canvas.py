"""A drawing surface that takes shapes in the canonical face frame.

Shapes go through the pose's affine matrix here and nowhere else, so what is
drawn and the keypoints written to disk cannot drift apart. The image is drawn
at twice the output resolution and box-reduced, which anti-aliases edges at
little cost; curves are polygons, because PIL's own ellipses cannot rotate.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from mgmtn.data.synth.geometry import arc

SUPERSAMPLE = 2
TEXTURES = 16  # distinct speckle patterns; a face picks one


@lru_cache(maxsize=2 * TEXTURES)
def speckle(size: tuple[int, int], variant: int) -> Image.Image:
    """A fixed random 0/255 pattern (about 45 % on) for stubble, hair and skin grain."""
    noise = np.random.default_rng(variant).random((size[1], size[0])) < 0.45
    return Image.fromarray(noise.astype(np.uint8) * 255, mode="L")


class Canvas:
    """An RGB image of ``size`` (width, height) with a current canonical-to-pixel matrix."""

    def __init__(self, size: tuple[int, int], matrix: np.ndarray, texture: int = 0):
        self.size = size
        self.image = Image.new("RGB", (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE))
        self.draw = ImageDraw.Draw(self.image)
        self.texture = texture % TEXTURES
        self._set(matrix)

    def _set(self, matrix: np.ndarray) -> None:
        self.matrix = SUPERSAMPLE * np.asarray(matrix, float)
        self.matrix[:, 2] -= 0.5  # continuous coordinates -> PIL's pixel centres
        self.unit = float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    def view(self, matrix: np.ndarray) -> "Canvas":
        """The same image drawn through another matrix (e.g. the identity for the background)."""
        other = copy.copy(self)
        other._set(matrix)
        return other

    def _xy(self, points) -> np.ndarray:
        points = np.asarray(points, float)
        return points @ self.matrix[:, :2].T + self.matrix[:, 2]

    def _width(self, width: float) -> int:
        return max(1, int(round(width * self.unit)))

    def polygon(self, points, fill, outline=None, width: float = 1.0) -> None:
        xy = self._xy(points).ravel().tolist()
        self.draw.polygon(xy, fill=fill, outline=outline, width=self._width(width) if outline else 1)

    def line(self, points, fill, width: float = 1.0) -> None:
        self.draw.line(self._xy(points).ravel().tolist(), fill=fill, width=self._width(width), joint="curve")

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, fill, outline=None, width: float = 1.0,
                n: int = 20, tilt: float = 0.0) -> None:
        self.polygon(arc(cx, cy, rx, ry, n=n, tilt=tilt), fill, outline, width)

    def blend(self, points, fill, alpha: float, grain: bool = False) -> None:
        """A translucent polygon (``alpha`` in [0, 1]); ``grain`` makes it speckled like stubble."""
        xy = self._xy(points)
        x0, y0 = np.maximum(np.floor(xy.min(axis=0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(xy.max(axis=0)).astype(int) + 1, self.image.size)
        if x1 <= x0 or y1 <= y0:
            return
        mask = Image.new("L", (x1 - x0, y1 - y0), 0)
        ImageDraw.Draw(mask).polygon((xy - (x0, y0)).ravel().tolist(), fill=int(round(255 * alpha)))
        if grain:
            mask = ImageChops.multiply(mask, speckle(self.image.size, self.texture).crop((x0, y0, x1, y1)))
        self.image.paste(tuple(fill), (x0, y0, x1, y1), mask)

    def result(self) -> Image.Image:
        """The image at the output size."""
        return self.image.reduce(SUPERSAMPLE)
