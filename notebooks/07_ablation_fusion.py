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
# # Ablation: which features to fuse (Fig. 9)
#
# Fig. 9 of the paper compares four ways of building each group's feature:
# the global feature alone (Gl), the masked F4 group feature (Gr4), the
# masked F3 and F4 features (Gr4+Gr3), and both fused with the global one
# through channel attention (G2FF, full MGMTN). The paper draws them as bars
# without printing the values, so only our numbers appear here.

# %% tags=["parameters"]
profile = "smoke"
data_root = None
device = "cpu"
output_dir = None  # default: build/runs/<profile>-<data>/ablations, shared by pages 05-08
seed = 0  # of the UNet, when page 03's is not there yet; the study fixes the models' seeds
annotator = None  # default: the folder's exact keypoints, else its 5 landmarks, else dlib
unet_run = None  # a train-unet run folder; default: the one page 03 trained (trained here if absent)
committed = "ablations-celeba-subset"  # the real-subset runs under results/

# %%
from pathlib import Path

from mgmtn import ablations, results
from mgmtn.config import resolve_data, run_dir, shared_data
from mgmtn.paper import FIG9
from mgmtn.train_unet import page_unet

# %% [markdown]
# ## On real faces: the committed runs
#
# Made with `make results-ablations` on the protocol of
# {doc}`05_ablation_components` (the same stage-1 backbone, 6 epochs on
# 3,000 images of `../shared/data/celeba-subset`, two seeds per row, three
# for Gl and G2FF; validation split, threshold 0.5). The paper's bars rise in
# the order Gl < Gr4 < Gr4+Gr3 < G2FF, so each claim is one step up that
# order, with the direction "the later bar ahead" (the paper prints no
# values). Each step has its 95% interval, a paired bootstrap over the val
# images and the seeds, and its verdict by the rule of
# {doc}`05_ablation_components`, fixed before the numbers: **agrees** where
# the interval lies above 0, **disagrees** where it lies below, and
# **inconclusive** where it contains 0. The ranking at the end orders the
# mean accuracies only.

# %% tags=["hide-input"]
ablations.present("fusion", results.RESULTS / committed, shared_data("celeba-subset"), "model", labels=FIG9,
                  folder=committed);

# %% [markdown]
# ## Run it yourself
#
# The cells below train the four fusions in the profile this page was
# executed with (by default `smoke`: synthetic faces, minutes on a CPU) and
# judge the steps on this folder's val images by the same rule; Gr4 and
# Gr4+Gr3 have one seed here, so their side of a step counts the images only.

# %%
data = resolve_data(data_root, profile)
root = run_dir(output_dir, "ablations", profile, data)
unet_run = Path(unet_run) if unet_run else page_unet(data, profile, annotator, device, seed)
ablations.run_study(list(ablations.STUDIES["fusion"]), data, root, profile, unet_run, device=device);

# %%
ablations.present("fusion", root, data, "model", labels=FIG9, folder=committed);
