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
# # Results summary
#
# Every run committed under `results/`, read from the JSON files the command
# line wrote (each carries its config, code version, data, hardware and wall
# time), beside the numbers the paper reports. Nothing on this page is
# trained or typed in: it changes only when `results/` does.
#
# All of our scores are validation-split numbers on the real subsets of
# `../shared/data/` (CelebA: 20,000 train and 4,535 val images; no test
# images), at CPU scale: ResNet18 from scratch at 112 px for a few epochs,
# where the paper trains ResNeSt50 from ImageNet weights at 227 px for 30
# epochs. They test that the method runs and how its parts compare at this
# scale, not the paper's absolute numbers.

# %% tags=["parameters", "remove-input"]
profile = "smoke"  # unused: this page only reads results/
data_root = None
device = "cpu"

# %% tags=["remove-input"]
import pandas as pd
from myst_nb import glue

from mgmtn import ablations, results
from mgmtn.attributes import GROUP_NAMES
from mgmtn.paper import COMPARISON, FIG9, MASK_MEAN_F1, TABLE2, TABLE3, TABLE4, table2_ours
from mgmtn.tables import readable

pd.set_option("display.max_colwidth", None)  # the status lines below are sentences: never cut them
runs = results.evaluations("**/eval_*.json")
minutes = [results.training_time(results.RESULTS / run) for run in runs["run"]]
runs["train_minutes"] = [round(m / 60, 1) if m is not None else None for m in minutes]
runs["accuracy"] *= 100
runs["mA"] *= 100
print(f"{len(runs)} evaluations in results/")

# %% [markdown]
# ## Attribute models
#
# Accuracy and class-balanced mA in % at threshold 0.5, one table per
# results folder and one row per scored run; minutes are training wall time.

# %% tags=["hide-input"]
columns = {"split": "split", "train_images": "train images", "epochs": "epochs", "accuracy": "acc", "mA": "mA",
           "train_minutes": "minutes"}
folder = runs["run"].str.split("/").str[0]
for name, group in runs.groupby(folder, sort=False):
    table = group.set_index(group["run"].str.removeprefix(f"{name}/"))[list(columns)].rename(columns=columns)
    table.index.name = name
    display(readable(table))

# %% [markdown]
# ## The paper's Table 2 (CelebA and LFWA test splits, as printed)

# %% tags=["hide-input"]
readable(TABLE2)

# %% [markdown]
# ## The main runs per model, beside the paper's row for it
#
# Seed means of `make results-cpu` (CelebA subset, validation split) at
# threshold 0.5 and at the operating point chosen on the selection split. The
# paper's rows (CelebA test, ResNeSt50, ImageNet weights) are labelled as such.

# %% tags=["hide-input"]
main = results.evaluations("cpu-celeba-subset/*-seed*/eval_val.json")
names = {"accuracy": "acc @0.5", "mA": "mA @0.5", "tuned_accuracy": "acc chosen", "tuned_mA": "mA chosen"}
means = 100 * main.groupby("model")[list(names)].mean().rename(columns=names)
readable(means.join(main.groupby("model").size().rename("seeds")).join(table2_ours().add_prefix("paper ")))

# %% [markdown]
# ## Group masks (AML stage 1)
#
# Mean F1 of the UNet's masks against the annotator's boxes; the paper reports
# a mean of the F1s below against FaRL boxes on CelebA's test split.

# %% tags=["hide-input"]
masks = results.mask_scores()
print(f"paper: mean F1 {MASK_MEAN_F1}% (CelebA test, FaRL boxes)")
readable(results.mask_table(), decimals=1)

# %% [markdown]
# ## Status lines for the *Reproduction status* page
#
# The numbers that page quotes are glued here from the same files, so the
# prose never carries a typed number of ours.

# %% tags=["hide-input"]
def scores(pattern: str) -> str:
    """Seed means of the runs matching ``pattern``, at 0.5 and at the operating point chosen on selection."""
    found = results.evaluations(pattern)
    if found.empty:
        return "not run yet"
    mean = found[["accuracy", "mA", "tuned_accuracy", "tuned_mA"]].astype(float).mean()  # NaN where none was tuned
    row = found.iloc[0]
    text = f"{100 * mean.accuracy:.2f}% accuracy / {100 * mean.mA:.2f}% mA at threshold 0.5"
    if pd.notna(mean.tuned_accuracy):
        text += (f", {100 * mean.tuned_accuracy:.2f}% / {100 * mean.tuned_mA:.2f}% at the operating point chosen "
                 "on the selection split")
    seeds = f"mean of {len(found)} seeds" if len(found) > 1 else f"seed {row.seed}"
    return (f"{text} ({row.backbone}, {row.image_size} px, {row.train_images} training images, {row.epochs} "
            f"epochs, {seeds}, {row.split} split)")


def seed_gain_text(pattern: str) -> str:
    gain = results.seed_gain(results.evaluations(pattern), "mgmtn", "global", ["tuned_accuracy", "tuned_mA"])
    if gain is None:
        return "needs two seeds of each model"
    beyond = gain["beyond the range"]
    verdict = "beyond" if beyond.all() else "partly beyond" if beyond.any() else "not beyond"
    return (f"{gain.loc['tuned_accuracy', 'gain']:+.2f} accuracy / {gain.loc['tuned_mA', 'gain']:+.2f} mA points "
            f"over the baseline ({verdict} the seed range of {gain.loc['tuned_accuracy', 'seed range']:.2f} / "
            f"{gain.loc['tuned_mA', 'seed range']:.2f})")


def alignment_text() -> str:
    table = results.alignment_effects()
    if table.empty:
        return "not run yet"
    rows = table[table.run == table.run.iloc[0]].set_index("align")
    return (f"{rows.loc['none', 'acc @0.5']:.2f}% accuracy / {rows.loc['none', 'mA @0.5']:.2f}% mA as the frames are, "
            f"{rows.loc['auto', 'acc @0.5']:.2f}% / {rows.loc['auto', 'mA @0.5']:.2f}% aligned "
            f"(majority class {rows.loc['majority class', 'acc @0.5']:.2f}% / "
            f"{rows.loc['majority class', 'mA @0.5']:.2f}%; {table.run.iloc[0]}, "
            f"threshold 0.5)")


ABLATIONS = results.RESULTS / "ablations-celeba-subset"
NOISE = ablations.measured_noise(ABLATIONS)  # None until a row of Table 3 has two seeds


def component_steps() -> str:
    """Table 3 one step at a time: what each component adds to the row before it, and the verdict."""
    report = ablations.study_report("components", ABLATIONS, "model", "global", TABLE3)
    if report.empty or NOISE is None:
        return "not run yet"
    steps = ablations.component_gains(report, NOISE)
    return ("; ".join(f"{name} {row['acc gain']:+.2f} ({row['acc verdict']})" for name, row in steps.iterrows())
            + f" accuracy points over the row before (seed noise {NOISE.accuracy:.2f})")


def study_ranking(study: str, key: str, reference, names=None) -> str:
    """A study's settings by accuracy, neighbours closer than the seed noise joined by '≈'."""
    report = ablations.study_report(study, ABLATIONS, key, reference)
    if report.empty or NOISE is None:
        return "not run yet"
    rows = len({run.setting for run in ablations.STUDIES[study]})
    text = f"{ablations.ranking(report.rename(index=names or {}), 'accuracy', NOISE.accuracy)}"
    return text + f" (seed noise {NOISE.accuracy:.2f}" + (f"; {len(report)} of {rows} rows run so far)"
                                                         if len(report) < rows else ")")


def lfwa_gain_text() -> str:
    """MGMTN minus the baseline on LFWA in each protocol, at the operating point chosen on selection."""
    found = results.evaluations("lfwa-subset/*/eval_*.json")
    if found.empty:
        return "not run yet"
    runs = found.set_index(found.run.str.split("/").str[-1])[["tuned_accuracy", "tuned_mA"]].astype(float)
    gains = [(protocol, 100 * (runs.loc[f"mgmtn-{protocol}"] - runs.loc[f"global-{protocol}"]))
             for protocol in ("scratch", "finetune") if {f"mgmtn-{protocol}", f"global-{protocol}"} <= set(runs.index)]
    if not gains:
        return "needs both models in one protocol"
    return ("MGMTN minus the baseline at the chosen operating point, one seed each: "
            + "; ".join(f"{protocol} {g.tuned_accuracy:+.2f} acc / {g.tuned_mA:+.2f} mA" for protocol, g in gains))


status = {
    "celeba_global": scores("cpu-celeba-subset/global-seed*/eval_val.json"),
    "celeba_mgmtn": scores("cpu-celeba-subset/mgmtn-seed*/eval_val.json"),
    "celeba_mgmtn_gain": seed_gain_text("cpu-celeba-subset/*-seed*/eval_val.json"),
    "lfwa_alignment": alignment_text(),
    "unet_f1": (f"{100 * masks.loc[masks.run == 'cpu-celeba-subset/unet-dlib', 'mean_f1'].iloc[0]:.2f}% mean F1"
                if (masks.run == "cpu-celeba-subset/unet-dlib").any() else "not run yet"),
    "ablation_steps": component_steps(),
    "mask_ranking": study_ranking("mask-scale", "mask_scale", 1.0, lambda scale: f"{scale:.0%}"),
    "fusion_ranking": study_ranking("fusion", "model", "global", FIG9),
    "comparison_ranking": study_ranking("comparison", "model", "global"),
    "lfwa_mgmtn_scratch": scores("lfwa-subset/mgmtn-scratch/eval_*.json"),
    "lfwa_mgmtn_finetune": scores("lfwa-subset/mgmtn-finetune/eval_*.json"),
    "lfwa_global_scratch": scores("lfwa-subset/global-scratch/eval_*.json"),
    "lfwa_global_finetune": scores("lfwa-subset/global-finetune/eval_*.json"),
    "lfwa_gain": lfwa_gain_text(),
}
for key, text in status.items():
    glue(key, text, display=False)
readable(pd.Series(status, name="measured here"))

# %% [markdown]
# ## The paper's claims at a glance (shown on the book's front page)
#
# One line per claim: what the paper reports, and what the committed
# real-data runs say. A claim is judged only where every run behind it has
# learnt (mA of at least 65% on its reported split); otherwise the line says
# that it is not measured yet.

# %% tags=["hide-input"]
LEARNT_MA = 0.65


def learnt(pattern: str) -> bool:
    found = results.evaluations(pattern)
    return not found.empty and bool((found["mA"] >= LEARNT_MA).all())


def judged(pattern: str, text: str) -> str:
    if results.evaluations(pattern).empty:
        return "not run yet"
    return text if learnt(pattern) else "not measured yet: the committed runs have not learnt (mA near 50%)"


def judged_study(study: str, text: str) -> str:
    """``judged`` for an ablation study: only the study's own runs must have learnt."""
    table = ablations.study_table(list(ablations.STUDIES[study]), ABLATIONS)
    if table.empty:
        return "not run yet"
    return text if (table.mA >= 100 * LEARNT_MA).all() else f"not judged yet: a run has mA under {LEARNT_MA:.0%}"


gain_line = seed_gain_text("cpu-celeba-subset/*-seed*/eval_val.json")
paper_gain = table2_ours().loc["mgmtn"] - table2_ours().loc["global"]
table3_steps = "; ".join(f"{name} {TABLE3.accuracy[setting] - TABLE3.accuracy[before]:+.2f}"
                         for name, setting, before in ablations.COMPONENT_STEPS)
comparison_paper = ablations.ranking(COMPARISON.rename(columns={"celeba_accuracy": "accuracy"}), "accuracy")
lfwa_paper = table2_ours("lfwa").loc["mgmtn"]
glance = pd.DataFrame([
    ("Table 2", "MGMTN beats the baseline on CelebA", f"{paper_gain.accuracy:+.2f} acc / {paper_gain.mA:+.2f} mA (ResNeSt50, test)",
     judged("cpu-celeba-subset/*-seed*/eval_val.json", f"{gain_line}, at the chosen operating point")),
    ("Sec. 4.4", "the UNet predicts the group masks", f"{MASK_MEAN_F1}% mean F1 (FaRL boxes)",
     f"{status['unet_f1']} against dlib boxes"),
    ("Table 3", "AG, AML and G2FF each add accuracy", f"{table3_steps} acc over the row before",
     judged_study("components", status["ablation_steps"])),
    ("Table 4", "the predicted region (100%) is the best size",
     f"100% best; 64% to 144% within {TABLE4.accuracy.max() - TABLE4.accuracy.min():.2f} acc",
     judged_study("mask-scale", status["mask_ranking"])),
    ("Fig. 9", "G2FF above Gr4+Gr3 above Gr4 above global", "G2FF > Gr4+Gr3 > Gr4 > Gl (bars, no values)",
     judged_study("fusion", status["fusion_ranking"])),
    ("Table 2", "MGMTN ahead of the other methods", f"{comparison_paper} (accuracy as reported)",
     judged_study("comparison", status["comparison_ranking"])),
    ("Table 2", "MGMTN carries to LFWA", f"{lfwa_paper.accuracy:.2f} acc / {lfwa_paper.mA:.2f} mA (LFWA test)",
     judged("lfwa-subset/*/eval_*.json", f"{status['lfwa_mgmtn_finetune']}; {status['lfwa_gain']}")),
], columns=["item", "claim", "paper", "measured here"]).set_index("item")
glue("status_glance", readable(glance, headers={"item": "in the paper"}))
