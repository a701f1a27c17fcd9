# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---


# %% [markdown]
# # Adaptive Mask Learning, stage 1: the 8-head UNet
#
# The UNet learns to predict the eight group masks from the image alone, so
# that MGMTN needs no keypoints at inference (paper Sec. 3.1, Fig. 5). Its
# last layer has eight independent one-channel heads; each is a per-pixel
# binary classifier trained with BCE on the rectangles of the previous page.
# The paper reports a mean F1 of 89.02% on CelebA's test split with FaRL
# keypoints (Sec. 4.4).

# %% tags=["parameters"]
profile = "smoke"
data_root = None
device = "cpu"
output_dir = None  # default: build/runs/<profile>/<this notebook>
seed = 0
annotator = "synthetic"  # 'dlib' or 'celeba5' on real CelebA

# %%
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mgmtn import plots
from mgmtn.attributes import GROUP_NAMES
from mgmtn.config import resolve_data, run_dir
from mgmtn.data.celeba import load_image, read_index
from mgmtn.data.transforms import EvalTransform
from mgmtn.masks import load_boxes
from mgmtn.paper import MASK_MEAN_F1
from mgmtn.train_unet import load_unet, train_unet

data = resolve_data(data_root, profile)
run = run_dir(output_dir, "03_unet_training", profile) / "unet"
result = train_unet(data, run, profile=profile, annotator=annotator, device=device, seed=seed,
                    resume=(run / "last.pt").exists())

# %% [markdown]
# ## Learning curve

# %% tags=["hide-input"]
history = pd.read_csv(run / "metrics.csv")
plots.learning_curves({"UNet": history}, metrics=("train_loss", "val_mean_f1"));

# %% [markdown]
# ## F1 per group on the validation split
#
# The paper's figure is the mean over groups on CelebA's test split with FaRL
# masks; ours is on the validation split of the data this page ran on.

# %% tags=["hide-input"]
table = pd.DataFrame({"F1": result["f1_per_group"]}).T
table["mean"] = result["mean_f1"]
table.loc["paper (CelebA test, FaRL masks)"] = [np.nan] * len(GROUP_NAMES) + [MASK_MEAN_F1 / 100]
table.style.format("{:.3f}", na_rep="")

# %% [markdown]
# ## Fig. 6: predicted and ground-truth masks

# %% tags=["hide-input"]
index = read_index(data, split="val", limit=3)
boxes = load_boxes(data, annotator, index=index)
unet = load_unet(run)
transform = EvalTransform(size=unet.input_size)
images, inputs, truth = [], [], []
for i in range(len(index)):
    picture = load_image(index.image_path(i))
    tensor, masks = transform(picture, boxes[i], np.random.default_rng(0))
    images.append(picture.resize((unet.input_size, unet.input_size)))
    inputs.append(tensor)
    truth.append(masks)
with torch.no_grad():
    predicted = unet(torch.stack(inputs)).sigmoid().numpy()
plots.mask_comparison(images, predicted, np.stack(truth));
