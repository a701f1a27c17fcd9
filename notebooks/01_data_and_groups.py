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
# # Data and attribute groups
#
# Every dataset in this book is a folder in the CelebA layout: real CelebA,
# LFWA converted to it, or the procedural faces of `mgmtn synth`. This page
# reads one such folder, shows how unbalanced the 40 attributes are, lays out
# the eight attribute groups of the MGMTN paper (Table 1), and shows faces with
# their labels.
#
# By default the page runs on synthetic faces; set `data_root` to a CelebA
# folder (for example `../shared/data/celeba-subset`) to see real data.

# %% tags=["parameters"]
profile = "smoke"
data_root = None
seed = 0

# %%
import numpy as np
import pandas as pd

from mgmtn import plots
from mgmtn.attributes import GROUPS
from mgmtn.config import resolve_data
from mgmtn.data.celeba import read_index
from mgmtn.tables import readable

index = read_index(resolve_data(data_root, profile))
readable(pd.DataFrame([index.describe()["per_partition"]], index=["images"]))

# %% [markdown]
# ## The eight groups (Table 1 of the paper)
#
# Seven groups are facial parts, each with a rectangular region of the face;
# the eighth (Object) holds attributes of the whole face.

# %%
readable(pd.DataFrame({"attributes": [", ".join(a) for a in GROUPS.values()],
                       "count": [len(a) for a in GROUPS.values()]}, index=list(GROUPS)))

# %% [markdown]
# ## Imbalance
#
# Most attributes are rare: a classifier that always answers "no" is right
# more than 80% of the time on half of them. This is why the papers report
# the class-balanced mean accuracy (mA) beside plain accuracy.

# %% tags=["hide-input"]
ax = plots.positive_rates(index)
ax.set_title(f"Positive rate per attribute ({len(index)} images)");

# %% [markdown]
# ## Faces and their labels
#
# Each face is listed with its positive attributes.

# %% tags=["hide-input"]
plots.sample_grid(index, n=8, seed=seed);

# %% [markdown]
# ## One attribute at a time (synthetic faces)
#
# On synthetic data every attribute is drawn in the region its group names.
# Below, each attribute is switched off (upper image) and on (lower image) in
# the same face, pose and background; the title is coloured by group.

# %% tags=["hide-input"]
if index.keypoints is not None:
    from mgmtn.attributes import attribute_index

    base = np.zeros(40, dtype=np.uint8)
    base[[attribute_index(name) for name in ("Young", "No_Beard", "Attractive")]] = 1
    plots.attribute_contrasts(base, seed=seed)
