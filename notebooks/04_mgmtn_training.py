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
# # Training MGMTN beside the global baseline
#
# Both models share the backbone, the data, the loss (the profile's:
# Equalized Focal Loss in `smoke` and `paper`, BCE in `cpu`, see
# {doc}`12_learning_from_scratch`) and the trainer. The baseline pools the last feature map of the backbone
# into one vector and predicts the 40 attributes from it (Table 3, first row).
# MGMTN masks the stride-8 and stride-16 maps with the UNet's group masks,
# max-pools each group's region, refines it with channel attention and joins
# it to the global feature (G2FF), with one head per group.

# %% tags=["parameters"]
profile = "smoke"
data_root = None
device = "cpu"
output_dir = None  # default: build/runs/<profile>/<this notebook>
seed = 0
annotator = None  # default: the folder's exact keypoints, else its 5 landmarks, else dlib
unet_run = None  # a train-unet run folder; default: the one page 03 trained (trained here if absent)
models = ["global", "mgmtn"]

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from mgmtn import claims, plots, results
from mgmtn.config import ensure_synthetic, get_profile, resolve_data, run_dir, shared_data
from mgmtn.evaluate import evaluate
from mgmtn.paper import table2_ours
from mgmtn.tables import readable
from mgmtn.train import train
from mgmtn.train_unet import page_unet

# %% [markdown]
# ## On real faces: the committed runs
#
# Made with `make results-cpu` (the `cpu` profile: ResNet18 from scratch at
# 112 px with the recipe of {doc}`12_learning_from_scratch`, 18,000 training
# images after the selection split, 8 epochs, two seeds per model) and read
# from `results/`. They are validation-split numbers of
# `../shared/data/celeba-subset`, shown beside the majority-class score and
# beside the plain baseline (`global`, the same ResNet18 without masks); the
# paper's rows are CelebA test-split numbers with ResNeSt50 and ImageNet
# weights, labelled as the paper's.
#
# Two operating points are shown: threshold 0.5, and the one chosen on the
# selection split (carved from the training partition): the most balanced
# candidate (highest mA) that costs at most half a point of accuracy there,
# among thresholds moved from 0.5 towards each attribute's training positive
# rate and thresholds tuned per attribute (`rule`; see
# {doc}`12_learning_from_scratch`). The midpoint rule's scores are shown too,
# whether it won or not.
#
# MGMTN's gain over the baseline is judged by its 95% interval: a paired
# bootstrap over the val images (both models scored on the same resample)
# and over the seeds of each model (`mgmtn.stats`). The rule was fixed in code
# before any interval was read: the gain **agrees** with the paper where the
# interval excludes 0 on the side of the paper's gain, **disagrees** where it
# excludes 0 on the other side, and is **inconclusive** where it contains 0.
# It is the Table 2 row of the claims table on {doc}`09_results_summary`
# (at the chosen point), shown here at threshold 0.5 too; the paper's gain is
# its own (ResNeSt50, CelebA test), the same at both points.

# %% tags=["hide-input"]
committed = results.evaluations("cpu-celeba-subset/*-seed*/eval_val.json")
celeba = shared_data("celeba-subset")
floor = results.majority(celeba) if celeba is not None else None
if committed.empty:
    print("no committed runs yet")
else:
    if floor is not None:
        print(f"majority class on val: {floor['accuracy']:.2f}% accuracy, {floor['mA']:.2f}% mA")
    plots.scores_beside_paper(committed, table2_ours(), floor)
    plt.show()
    display(readable(results.operating_points(committed)))
    gains = claims.claim_intervals(celeba, None, found=claims.at_points(claims.of_folder("cpu-celeba-subset")))
    if gains.empty:
        print("MGMTN over the baseline needs runs of both and the labels of ../shared/data/celeba-subset")
    else:
        display(readable(gains.drop(columns="source").set_index(["claim", "point", "metric"])))

# %% [markdown]
# Per attribute: the balanced accuracy (mean of the true-positive and
# true-negative rates, threshold 0.5) of each model, averaged over its seeds.
# Labels are coloured by attribute group.

# %% tags=["hide-input"]
if not committed.empty:
    plots.attribute_scores({model: results.per_attribute(committed, model) for model in ("global", "mgmtn")
                            if (committed.model == model).any()});

# %% [markdown]
# ## Run it yourself
#
# The cells below train both models in the profile this page was executed
# with: by default `smoke`, synthetic faces that take minutes on a CPU; set
# `profile` and `data_root` in the parameters cell for real data.

# %%
data = resolve_data(data_root, profile)
out = run_dir(output_dir, "04_mgmtn_training", profile, data)
unet_run = Path(unet_run) if unet_run else page_unet(data, profile, annotator, device, seed)
runs = {}
for name in models:
    runs[name] = train(data, out / name, name, profile=profile, unet=unet_run, device=device, seed=seed,
                       resume=(out / name / "last.pt").exists())

# %% [markdown]
# ### Learning curves (selection split, carved from the training partition)

# %% tags=["hide-input"]
plots.learning_curves({name: pd.read_csv(run / "metrics.csv") for name, run in runs.items()});

# %% [markdown]
# ### Accuracy and mA on the validation split, beside the paper's Table 2
#
# Ours come from the profile this page ran in, and are comparable to the
# paper's (CelebA test, ResNeSt50, ImageNet weights) only in the `paper`
# profile on real CelebA.

# %%
val_scores = {name: evaluate(run, data, split="val", device=device) for name, run in runs.items()}
table = pd.DataFrame({name: {"accuracy": r["accuracy"], "mA": r["mA"]} for name, r in val_scores.items()}).T
table = (100 * table).round(2).join(table2_ours().add_prefix("paper "))
table.index.name = f"{profile} profile, val"
readable(table)

# %% [markdown]
# ### On faces neither model has seen
#
# On synthetic data, both models are also scored on a separately generated
# folder (another seed). Its faces carry the same kinds of background
# distractors, placed independently of the labels: a model that pools over the
# whole image is misled by them, one that looks inside the group regions is
# not. The book's claim for the smoke profile is that MGMTN beats the global
# baseline on both accuracy and mA there; the cell below checks it.

# %%
if data_root is None:
    unseen = ensure_synthetic(600, seed=get_profile(profile).synth_seed + 1)
    scores = {name: evaluate(run, unseen, split="all", out=run / "eval_unseen.json", device=device)
              for name, run in runs.items()}
    unseen_table = (pd.DataFrame({name: {"accuracy": r["accuracy"], "mA": r["mA"]} for name, r in scores.items()}).T
                    * 100).round(2)
    display(readable(unseen_table))
    if {"global", "mgmtn"} <= set(scores):
        wins = {metric: scores["mgmtn"][metric] > scores["global"][metric] for metric in ("accuracy", "mA")}
        print("MGMTN beats the global baseline:", wins)
        assert all(wins.values()), f"MGMTN does not beat the global baseline on unseen synthetic faces: {wins}"

# %% [markdown]
# ### Per-attribute balanced accuracy of this page's runs

# %% tags=["hide-input"]
plots.attribute_scores({name: pd.read_csv(run / "eval_val.per_attribute.csv") for name, run in runs.items()});
