"""The recipe study (page 12): which training recipe lets a network learn CelebA attributes from scratch.

The paper fine-tunes ImageNet weights with Adam at 1e-4, L2 5e-4 and Equalized
Focal Loss (Sec. 4.2). From scratch on a CPU budget that recipe stays at the
label priors, so the study starts from a plain from-scratch recipe and varies
one factor at a time: the loss (BCE, focal, EFL with alpha 0.25, 0.5 and a
per-attribute alpha), the bias initialisation, the optimizer (Adam with
coupled L2 as in the paper, AdamW on weights only), the schedule and the
pooling of the global feature (max, as in the paper, or average) and the
heads (Fig. 4's two layers, or one linear layer). One row is
the paper's literal recipe, one the recipe of a plain from-scratch script
(Adam 1e-3, L2 1e-4, one-cycle, BCE, average pooling), which keeps only the
paper's two-layer heads. Every row trains the
``global`` baseline at one reduced scale with one seed and is chosen on the
selection split; the val split is scored for the page but decides nothing.

``PRETRAINED_ROWS`` is the same kind of study for the ``cpu-pretrained``
profile (dlib's face ResNet): how CelebA's 178 x 218 frame is shown to a
network trained on 150 px face chips, how fast the pretrained backbone moves
against the new heads (a lower rate, a frozen first epoch), how many epochs,
and the same network from random weights at the same budget.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from mgmtn.config import CPU_RECIPE
from mgmtn.errors import MgmtnError

# The scale of every row: big enough that the starting recipe learns, small enough for eleven rows in half an hour.
STUDY_SCALE = dict(train_limit=3000, epochs=3)

# One factor changed per row, relative to the starting recipe (``mgmtn.config.CPU_RECIPE``, with the paper's
# two-layer heads and max-pooled global feature, which the cpu profile has since replaced: ``CPU_CHOICES``).
START = dict(CPU_RECIPE, head_hidden=512, global_pool="max")
PAPER_RECIPE = dict(optimizer="adam", lr=1e-4, weight_decay=5e-4, schedule="epoch-cosine", warmup_epochs=0.0,
                    loss="efl", alpha=0.25, bias_init=False)
ROWS: dict[str, dict] = {
    "start": {},
    "paper recipe": PAPER_RECIPE,
    "loss: EFL, alpha 0.25": dict(loss="efl", alpha=0.25),
    "loss: EFL, alpha 0.5": dict(loss="efl", alpha=0.5),
    "loss: EFL, alpha per attribute": dict(loss="efl", alpha="prior"),
    "no bias initialisation": dict(bias_init=False),
    "optimizer: Adam + L2 5e-4": dict(optimizer="adam", weight_decay=5e-4),
    "schedule: one-cycle": dict(schedule="onecycle"),
    "global feature: average pooling": dict(global_pool="avg"),
    "head: one linear layer": dict(head_hidden=0),
    "a plain script's recipe": dict(optimizer="adam", lr=1e-3, weight_decay=1e-4, schedule="onecycle",
                                   bias_init=False, global_pool="avg"),
}


# The pretrained study: rows relative to its start, the cpu-pretrained profile (150 px, whole frame) with the
# backbone at a tenth of the heads' rate, as it stood before the study (``PRETRAINED_START``; the profile has
# since taken the x0.01 row). A zoom of r shows 178 / r px of the frame's width (1.65: the ~108 px a dlib chip
# of a CelebA face covers).
PRETRAINED_START = dict(backbone_lr=0.1)
PRETRAINED_ROWS: dict[str, dict] = {
    "start": {},
    "framing: zoom 1.3": dict(resize_ratio=1.3),
    "framing: zoom 1.65 (dlib's chip)": dict(resize_ratio=1.65),
    "framing: 112 px input": dict(image_size=112),
    "framing: 176 px input": dict(image_size=176),
    "backbone lr: x1 (as the heads)": dict(backbone_lr=1.0),
    "backbone lr: x0.01": dict(backbone_lr=0.01),
    "backbone frozen for the first epoch": dict(freeze_backbone_epochs=1.0),
    "epochs: 6": dict(epochs=6),
    "random weights, same budget": dict(pretrained=False, backbone_lr=1.0),
}
# What a study trains (``profile``), its rows and the changes every row shares.
STUDIES: dict[str, tuple[str, dict[str, dict], dict]] = {
    "scratch": ("cpu", ROWS, START),
    "pretrained": ("cpu-pretrained", PRETRAINED_ROWS, PRETRAINED_START),
}


def folder_name(row: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in row.lower()).strip("-").replace("--", "-")


def _study(name: str) -> tuple[str, dict[str, dict], dict]:
    try:
        return STUDIES[name]
    except KeyError:
        raise MgmtnError(f"unknown recipe study {name!r}; choose one of {', '.join(STUDIES)}") from None


def run_recipes(data: Path, root: Path, rows: list[str] | None = None, device: str = "cpu", seed: int = 0,
                study: str = "scratch", **scale) -> dict[str, Path]:
    """Train and score each row of ``study`` into ``root/<row>``, resuming a cut-off run and skipping finished ones."""
    from mgmtn.evaluate import evaluate
    from mgmtn.train import train

    profile, table, base = _study(study)
    unknown = [row for row in rows or [] if row not in table]
    if unknown:
        raise MgmtnError(f"unknown row {unknown[0]!r} of the {study} recipe study; rows: {', '.join(table)}")
    folders = {}
    for row in tqdm(rows or list(table), desc="recipe rows", unit="run"):
        out = Path(root) / folder_name(row)
        if not (out / "eval_val.json").exists():
            if not (out / "train.json").exists():
                train(data, out, "global", profile=profile, device=device, seed=seed,
                      resume=(out / "last.pt").exists(), **{**STUDY_SCALE, **base, **scale, **table[row]})
            evaluate(out, data, split="val", device=device)
        folders[row] = out
    return folders


def recipe_table(root: Path, rows: list[str] | None = None, study: str = "scratch") -> pd.DataFrame:
    """One line per finished row: what it changed, its selection and val scores (%) and its wall time."""
    table = _study(study)[1]
    lines = []
    for row in rows or list(table):
        folder = Path(root) / folder_name(row)
        if not (folder / "eval_val.json").exists():
            continue
        result = json.loads((folder / "eval_val.json").read_text())
        trained = json.loads((folder / "train.json").read_text())
        final = trained["final"]
        tuned = result.get("tuned_on_select", {})
        lines.append({"row": row, "changes": ", ".join(f"{k}={v}" for k, v in table[row].items()) or "-",
                      "select acc": 100 * final["select_accuracy"], "select mA": 100 * final["select_mA"],
                      "val acc": 100 * result["accuracy"], "val mA": 100 * result["mA"],
                      "val acc (tuned)": 100 * tuned.get("accuracy", float("nan")),
                      "val mA (tuned)": 100 * tuned.get("mA", float("nan")),
                      "minutes": trained["wall_seconds"] / 60})
    return pd.DataFrame(lines)



def chosen_row(table: pd.DataFrame) -> str:
    """The row a study's profile takes: the best selection accuracy (the score ``best.pt`` is chosen by), the
    better selection mA on a tie; val plays no part."""
    if table.empty:
        raise MgmtnError("no finished row to choose from")
    return str(table.sort_values(["select acc", "select mA"], ascending=False)["row"].iloc[0])
