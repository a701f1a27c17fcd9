"""Group boxes -> quads -> binary masks.

A box stays a box only until the image is rotated, so augmentation carries
each box as a quad (its four corners, clockwise on screen) and the masks are
rendered from the quads afterwards, at whatever size the mask network wants.
"""

from __future__ import annotations

import numpy as np

_CORNERS = [[0, 1], [2, 1], [2, 3], [0, 3]]  # (x0, y0), (x1, y0), (x1, y1), (x0, y1)


def boxes_to_quads(boxes) -> np.ndarray:
    """Boxes (..., 4) ``[x0, y0, x1, y1]`` -> corner points (..., 4, 2), float64."""
    return np.asarray(boxes, dtype=np.float64)[..., _CORNERS]


def _size(size) -> tuple[int, int]:
    return (size, size) if np.isscalar(size) else tuple(size)


def render_masks(quads, size, frame_size=None) -> np.ndarray:
    """Fill convex quads (..., 4, 2) into boolean masks (..., H, W).

    ``size`` is the mask's ``(width, height)`` or one int for a square. The
    quads are in the pixel coordinates of ``frame_size`` (default: ``size``),
    so masks for a 227-pixel crop can be drawn at, say, 56 pixels. A pixel is
    set when its centre lies strictly inside the quad, so a box with integer
    corners covers exactly its ``(x1 - x0) * (y1 - y0)`` pixels. Vertex order
    may be clockwise or not (a flip reverses it); empty quads give empty masks.
    """
    width, height = _size(size)
    quads = np.asarray(quads, dtype=np.float64)
    if frame_size is not None:
        frame_w, frame_h = _size(frame_size)
        quads = quads * [width / frame_w, height / frame_h]
    edges = np.roll(quads, -1, axis=-2) - quads
    # Twice the signed area tells the winding; inside means on the same side of every edge.
    winding = np.sign((quads[..., 0] * np.roll(quads[..., 1], -1, axis=-1)
                       - np.roll(quads[..., 0], -1, axis=-1) * quads[..., 1]).sum(axis=-1))
    ex, ey, qx, qy = (a[..., None, None] for a in (edges[..., 0], edges[..., 1], quads[..., 0], quads[..., 1]))
    ys = np.arange(height)[:, None] + 0.5
    xs = np.arange(width)[None, :] + 0.5
    cross = ex * (ys - qy) - ey * (xs - qx)
    return (cross * winding[..., None, None, None] > 0).all(axis=-3)
