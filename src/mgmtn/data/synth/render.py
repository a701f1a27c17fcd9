"""One synthetic face: labels and pose in, image and exact keypoints out."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from mgmtn.attributes import ATTRIBUTES
from mgmtn.data.synth.canvas import Canvas
from mgmtn.data.synth.geometry import CANONICAL_SIZE, CX, HEAD_TOP, Face, Pose, apply, build_face
from mgmtn.data.synth.parts import paint_person
from mgmtn.data.synth.scene import paint_background
from mgmtn.data.synth.style import make_look, sample_style

SCREEN = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # the background is drawn in image pixels


def _head_box(face: Face, matrix: np.ndarray) -> np.ndarray:
    """Image-pixel box around head, hair, ears and neck: where distractors must not go."""
    margin = face.width + 18.0
    corners = np.array([(CX - margin, HEAD_TOP - 18), (CX + margin, HEAD_TOP - 18),
                        (CX - margin, CANONICAL_SIZE[1]), (CX + margin, CANONICAL_SIZE[1])])
    points = apply(matrix, corners)
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def render_face(labels: np.ndarray, pose: Pose, rng: np.random.Generator,
                size: tuple[int, int] = CANONICAL_SIZE) -> tuple[Image.Image, np.ndarray]:
    """Draw the face ``labels`` (40 values, 0/1, CelebA order) describe, in ``pose``, on a clutter background.

    ``rng`` supplies everything the labels leave open (skin tone, clothes,
    background), always with the same number of draws, so two calls from
    equal generator states differ only where their labels do. Returns the
    RGB image of ``size`` (width, height) and its 98 WFLW keypoints (98, 2),
    float32 pixel coordinates.
    """
    labels = np.asarray(labels)
    if labels.shape != (len(ATTRIBUTES),):
        raise ValueError(f"labels must have shape (40,), got {labels.shape}")
    on = {name: bool(value) for name, value in zip(ATTRIBUTES, labels)}
    look = make_look(on, sample_style(rng))
    style = look.style
    face = build_face(on, look.long_hair, style.hair_volume, style.wave_phase, style.asymmetry)
    matrix = pose.matrix(size)
    fit = min(size[0] / CANONICAL_SIZE[0], size[1] / CANONICAL_SIZE[1])
    canvas = Canvas(size, matrix, texture=style.texture_seed)
    clutter = np.random.default_rng(style.background_seed)
    paint_background(canvas.view(SCREEN), clutter, _head_box(face, matrix), pose.scale * fit)
    paint_person(canvas, face, look)
    image = canvas.result()
    if on["Blurry"]:
        image = image.filter(ImageFilter.GaussianBlur((1.1 + 0.8 * style.blur) * fit))
    return image, apply(matrix, face.keypoints()).astype(np.float32)
