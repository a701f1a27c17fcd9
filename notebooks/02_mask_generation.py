# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # From keypoints to group masks
#
# MGMTN's masks are rectangles (paper Sec. 3.1, Fig. 3): seven part groups
# each cover the smallest rectangle around their facial region, and the Object
# group covers all of them. The paper takes 98 WFLW keypoints from FaRL; this
# book accepts any of three keypoint schemes (98 WFLW, 68 dlib, CelebA's 5
# landmarks) and maps each to the same eight boxes (`mgmtn.masks.group_boxes`).
#
# Boxes are cached once per dataset (`mgmtn annotate`) and drawn as masks only
# after augmentation, so a flip, rotation or crop moves image and masks
# together.

# %% tags=["parameters"]
profile = "smoke"
data_root = None
seed = 0
real_data_root = None  # a real CelebA folder for the dlib part; default: ../shared/data/celeba-subset if present
real_faces = 4

# %%
import numpy as np
import pandas as pd

from mgmtn import plots
from mgmtn.config import resolve_data, shared_data
from mgmtn.data.celeba import load_image, read_index
from mgmtn.data.transforms import TrainTransform
from mgmtn.masks import boxes_or_fallback, default_annotator, get_annotator, render_masks
from mgmtn.masks.render import boxes_to_quads

index = read_index(resolve_data(data_root, profile))
row = 0
image = load_image(index.image_path(row))
keypoints = get_annotator(default_annotator(index), index=index)(row)
boxes = boxes_or_fallback(keypoints, image.size)
masks = render_masks(boxes_to_quads(boxes), image.size)

# %% [markdown]
# ## Fig. 3: keypoints, boxes and the eight masks

# %% tags=["hide-input"]
plots.keypoints_to_masks(image, keypoints, boxes, masks);

# %% [markdown]
# ## Masks follow the augmentation
#
# The training transform (resize, random crop, rotation and flip, the paper's
# protocol) is one affine matrix; the box corners are mapped by the same
# matrix and the masks drawn afterwards, so they stay on the pixels they name.

# %% tags=["hide-input"]
transform = TrainTransform(resize=256, crop=227, p_rotate=1.0, p_flip=1.0)
moved, quads = transform.apply(image, boxes, np.random.default_rng(seed))
plots.keypoints_to_masks(moved, None, np.concatenate([quads.min(1), quads.max(1)], axis=1),
                         render_masks(quads, moved.size));

# %% [markdown]
# ## Real faces with dlib's 68 points
#
# On real CelebA the paper's FaRL aligner cannot be downloaded here, so the
# book uses dlib's 68-point model (shipped in the `face-recognition-models`
# package; for non-commercial research use). Where dlib finds no face, the
# boxes fall back to CelebA's aligned geometry and the fallback is counted.

# %%
real_root = real_data_root or shared_data("celeba-subset")
if real_root is None:
    print("no real CelebA folder given or found: skipping the dlib part")
else:
    real = read_index(real_root, split="val", limit=real_faces)
    dlib = get_annotator("dlib", index=real)
    for i in range(len(real)):
        face = load_image(real.image_path(i))
        points = dlib(i)
        found = points is not None
        boxes = boxes_or_fallback(points, face.size)
        plots.keypoints_to_masks(face, points, boxes, render_masks(boxes_to_quads(boxes), face.size),
                                 f"{real.ids[i]}: {'dlib keypoints' if found else 'no face found, aligned fallback'}")
