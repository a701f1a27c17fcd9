"""Photos made from real CelebA faces, for the detection and alignment tests."""

import numpy as np
from PIL import Image


def face_images(root, n: int, step: int = 97) -> list[Image.Image]:
    files = sorted((root / "img_align_celeba").glob("*.jpg"))[::step][:n]
    return [Image.open(f).convert("RGB") for f in files]


def paste(face: Image.Image, canvas_size, offset, scale: float, angle: float = 0.0, canvas=None) -> Image.Image:
    """``face`` scaled, turned by ``angle`` degrees and pasted at ``offset`` into a smooth background."""
    if canvas is None:
        ramp = np.linspace(60, 200, canvas_size[0], dtype=np.uint8)
        canvas = Image.fromarray(np.repeat(np.tile(ramp, (canvas_size[1], 1))[..., None], 3, axis=2))
    small = face.resize((round(face.width * scale), round(face.height * scale)), Image.Resampling.BILINEAR)
    turned = small.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
    canvas.paste(turned, offset, Image.new("L", small.size, 255).rotate(angle, expand=True))
    return canvas
