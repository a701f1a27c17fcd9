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

# %%

# %% [markdown]
# # Ablation: what each component adds (Table 3)
#
# Table 3 of the paper builds MGMTN up one component at a time on ResNeSt50:
# the global baseline, attribute grouping (AG: one head per group of Table 1),
# Adaptive Mask Learning (AML: group features from the UNet's masks on F4),
# and Group-Global Feature Fusion (G2FF) with channel attention (CA),
# spatial attention (SA) or both. Each row here is one model name of
# `mgmtn.models` trained by the same trainer on the same data.
#
# Differences between these rows are small in the paper (0.05 to 1.1 points),
# so they can only be read against the run-to-run noise: the baseline and
# full MGMTN are trained with two seeds each, and every gain is judged
# against the larger spread between seeds.

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
from mgmtn.config import get_profile, resolve_data, run_dir
from mgmtn.paper import TABLE3
from mgmtn.train_unet import page_unet

data = resolve_data(data_root, profile)
root = run_dir(output_dir, "ablations", profile, data)
unet_run = Path(unet_run) if unet_run else page_unet(data, profile, annotator, device, seed)
ablations.run_study(list(ablations.STUDIES["components"]), data, root, profile, unet_run, device=device)
print(f"{profile} profile, ablation scale: {get_profile(profile).ablation}")

# %% [markdown]
# ## This profile's runs beside the paper's Table 3
#
# Ours are validation-split scores of this page's profile; the paper's are
# CelebA test-split scores with ResNeSt50 and ImageNet weights. Compare the
# gains over the baseline, not the levels.

# %%
ablations.present("components", root, "model", "global", TABLE3);

# %% [markdown]
# ## Committed runs on the real CelebA subset
#
# Made with `make results-ablations`: the `cpu` profile (ResNet18 from
# scratch at 112 px, 3 epochs) at its reduced ablation scale, scored on the
# whole validation split of `../shared/data/celeba-subset`. These are
# validation numbers, not CelebA test numbers.
#
# Read the mA column against 50%, the score of a model that always predicts
# each attribute's majority class: with 3,000 images, 3 epochs and no
# ImageNet weights, a network that stays near 50% has learnt little beyond
# the label priors, and differences between such rows say nothing about the
# components. The MGMTN-versus-baseline runs on all 20,000 images
# ({doc}`04_mgmtn_training`) are the larger-scale comparison.

# %%
real = results.RESULTS / committed
display(ablations.study_table(list(ablations.STUDIES["components"]), real).round(2))
ablations.present("components", real, "model", "global", TABLE3);
