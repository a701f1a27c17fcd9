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
# # Where the features fire (Fig. 8)
#
# Max pooling keeps, for every channel, the single cell where it is most
# active. Fig. 8 of the paper marks these cells on faces: for the global
# feature they scatter over the image, background included; for the group
# features of AML they stay on the face part each group is about. Here the
# same is counted over many validation faces: for each group, how often a
# channel's maximum lands in each cell of the feature grid, and what share of
# the chosen cells' area lies inside the group's region drawn from the
# annotator's boxes (the boxes of page 02, not the UNet's masks, so MGMTN is
# not graded by its own masks). The global model's maxima are the same for every group; full
# MGMTN's are taken on its masked F4 group features.

# %% tags=["parameters"]
profile = "smoke"
data_root = None
device = "cpu"
output_dir = None  # default: build/runs/<profile>-<data>/ablations, shared by pages 05-08
seed = 0  # of the UNet, when page 03's is not there yet
annotator = None  # default: the folder's exact keypoints, else its 5 landmarks, else dlib
unet_run = None  # a train-unet run folder; default: the one page 03 trained (trained here if absent)
images = 512  # validation faces counted
committed = "ablations-celeba-subset"  # the real-subset runs under results/

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt

from mgmtn import ablations, plots, results
from mgmtn.config import resolve_data, run_dir
from mgmtn.data.celeba import read_index
from mgmtn.masks.annotators import default_annotator
from mgmtn.positions import activation_positions, inside_table
from mgmtn.tables import readable
from mgmtn.train_unet import page_unet

# %% [markdown]
# ## On real faces: the committed runs
#
# `make results-ablations` runs `mgmtn positions` on the seed-0 baseline and
# full MGMTN of the real-subset ablation (dlib boxes, first 1,000 validation
# faces). Each panel is the density of max-pooling positions of one group;
# its title gives the share of the chosen cells inside the group's annotated
# region beside chance (the region's share of the image). The table gives the
# same shares in %. The `cpu` profile pools the global feature by average
# (what {doc}`12_learning_from_scratch` found to learn faster from scratch),
# so for the baseline the counted cells are where a max pool would look,
# not the cells it pools; MGMTN's group features are max-pooled as in the
# paper.

# %% tags=["hide-input"]
files = {model: results.RESULTS / committed / f"{model}-seed0" / "positions_val.json" for model in ("global", "mgmtn")}
if not all(path.exists() for path in files.values()):
    print(f"no committed positions under {results.RESULTS / committed}")
else:
    real = {model: json.loads(path.read_text()) for model, path in files.items()}
    plots.position_maps(real)
    plt.show()
    display(readable(inside_table(real), decimals=1))

# %% [markdown]
# ## Run it yourself
#
# The cells below train the baseline and full MGMTN in the profile this page
# was executed with (by default `smoke`: synthetic faces, minutes on a CPU)
# and count their max-pooling positions on `images` validation faces.

# %%
data = resolve_data(data_root, profile)
root = run_dir(output_dir, "ablations", profile, data)
unet_run = Path(unet_run) if unet_run else page_unet(data, profile, annotator, device, seed)
pair = [ablations.Run("global"), ablations.Run("mgmtn")]
ablations.run_study(pair, data, root, profile, unet_run, device=device);
annotator = annotator or default_annotator(read_index(data))
found = {run.model: activation_positions(root / run.name, data, annotator, limit=images, device=device)
         for run in pair}

# %% [markdown]
# ### Density of max-pooling positions per group

# %% tags=["hide-input"]
plots.position_maps(found);

# %% [markdown]
# ### How much of the chosen cells lies inside each group's annotated region
#
# In %, averaged over channels and faces; `chance` is the region's share of
# the image, what positions drawn at random would score.

# %%
readable(inside_table(found), decimals=1)
