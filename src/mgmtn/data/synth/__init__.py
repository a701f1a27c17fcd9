"""Procedural faces with known attributes and exact keypoints (``mgmtn synth``).

A stand-in for CelebA that needs no download: each face is drawn from its 40
labels, with every attribute visible in the region MGMTN's Table 1 assigns
to it, on a cluttered background whose distractors mimic attribute cues away
from the face. Datasets are written in the CelebA layout, so the rest of the
package cannot tell them from the real thing.

- ``generate``: a whole dataset folder.
- ``sample_labels``, ``sample_pose``, ``render_face``: one face at a time,
  e.g. to switch a single attribute with everything else fixed (``attribute_pair``).
"""

from mgmtn.data.synth.contrast import attribute_pair
from mgmtn.data.synth.generate import generate
from mgmtn.data.synth.geometry import Pose, landmarks, sample_pose
from mgmtn.data.synth.labels import sample_labels
from mgmtn.data.synth.render import render_face

__all__ = ["Pose", "generate", "landmarks", "render_face", "sample_labels", "sample_pose"]
