"""One attribute switched off and on, everything else equal: how each cue looks, and where.

Used by the tests (each attribute must change pixels inside its group's
region) and by the book (a picture per attribute).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from mgmtn.attributes import attribute_index
from mgmtn.data.synth.geometry import sample_pose
from mgmtn.data.synth.labels import BALD_EXCLUDES, HAIR_COLOURS, HAIR_TEXTURES
from mgmtn.data.synth.render import render_face

# Attributes that would hide or contradict the one switched are set alike in both renders.
_HAIR_CLEAR = {"Bald": 0, "Wearing_Hat": 0}
CONFLICTS: dict[str, dict[str, int]] = {
    **{name: {**_HAIR_CLEAR, **{other: 0 for other in HAIR_COLOURS}} for name in HAIR_COLOURS},
    **{name: {**_HAIR_CLEAR, **{other: 0 for other in HAIR_TEXTURES}} for name in HAIR_TEXTURES},
    "Bangs": _HAIR_CLEAR, "Receding_Hairline": _HAIR_CLEAR,
    "Bald": {"Wearing_Hat": 0, **{name: 0 for name in BALD_EXCLUDES}},
    "Goatee": {"No_Beard": 0}, "Mustache": {"No_Beard": 0}, "Sideburns": {"No_Beard": 0},
    "No_Beard": {"Goatee": 0, "Mustache": 0, "Sideburns": 0},
    **{name: {"Eyeglasses": 0}  # sunglasses would hide them
       for name in ("Arched_Eyebrows", "Bags_Under_Eyes", "Bushy_Eyebrows", "Narrow_Eyes")},
}


def attribute_pair(base: np.ndarray, name: str, seed: int) -> list[tuple[Image.Image, np.ndarray]]:
    """Renders (image, keypoints) of ``base`` with ``name`` off and on; pose and style equal."""
    pose = sample_pose(np.random.default_rng(seed))
    renders = []
    for value in (0, 1):
        labels = np.asarray(base).copy()
        for other, v in CONFLICTS.get(name, {}).items():
            labels[attribute_index(other)] = v
        labels[attribute_index(name)] = value
        renders.append(render_face(labels, pose, np.random.default_rng(seed)))
    return renders
