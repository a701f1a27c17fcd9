"""The paper's ablation studies as lists of runs: Table 3, Table 4 and Fig. 9.

A study is a tuple of ``Run`` specs. ``run_study`` trains and scores each one
into its own folder under one root (resuming an interrupted run, skipping a
finished one), so the notebooks and ``mgmtn ablate`` share one definition and
one folder layout, and ``study_table`` reads the scores back for the pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from mgmtn.errors import MgmtnError
from mgmtn.models import MASK_MODELS


@dataclass(frozen=True)
class Run:
    """One training run of a study: a model, its mask scale (Table 4) and its seed."""

    model: str
    mask_scale: float = 1.0
    seed: int = 0

    @property
    def name(self) -> str:
        scale = "" if self.mask_scale == 1.0 else f"-scale{self.mask_scale:g}"
        return f"{self.model}{scale}-seed{self.seed}"


NOISE_SEEDS = (0, 1)  # the baseline and full MGMTN run with each, to measure run-to-run noise
STUDIES: dict[str, tuple[Run, ...]] = {
    # Table 3: baseline, +AG, +AML (Gr4), +G2FF with CA, SA, CA-SA.
    "components": tuple(Run(m, seed=s) for m in ("global", "mgmtn") for s in NOISE_SEEDS)
    + tuple(Run(m) for m in ("ag", "aml-gr4", "mgmtn-sa", "mgmtn-ca-sa")),
    # Table 4 / Fig. 7: the AML (Gr4) model with the mask region scaled to a fraction of its area.
    "mask-scale": tuple(Run("aml-gr4", mask_scale=s) for s in (0.64, 0.81, 1.0, 1.21, 1.44)),
    # Fig. 9: which features are fused with the global one.
    "fusion": tuple(Run(m, seed=s) for m in ("global", "mgmtn") for s in NOISE_SEEDS)
    + tuple(Run(m) for m in ("aml-gr4", "aml-gr34")),
}


def study_runs(names: list[str] | tuple[str, ...]) -> list[Run]:
    """The runs of the named studies, each once, in order."""
    unknown = [n for n in names if n not in STUDIES]
    if unknown:
        raise MgmtnError(f"unknown study {unknown[0]!r}; choose from {', '.join(STUDIES)}")
    return list(dict.fromkeys(run for name in names for run in STUDIES[name]))


def run_study(runs: list[Run], data: Path, root: Path, profile: str, unet: Path | None, device: str = "cpu",
              split: str = "val", **overrides) -> dict[Run, Path]:
    """Train (or resume) and score each run into ``root/<run.name>``; finished runs are skipped."""
    from mgmtn.evaluate import evaluate
    from mgmtn.train import train

    if unet is None and any(run.model in MASK_MODELS for run in runs):
        raise MgmtnError("these runs include mask-guided models: pass a trained UNet (--unet RUN)")
    folders = {}
    for run in tqdm(runs, desc="ablation runs", unit="run"):
        out = Path(root) / run.name
        if not (out / f"eval_{split}.json").exists():
            if not (out / "train.json").exists():
                train(data, out, run.model, profile=profile, unet=unet, device=device, seed=run.seed,
                      resume=(out / "last.pt").exists(), mask_scale=run.mask_scale, **overrides)
            evaluate(out, data, split=split, device=device)
        folders[run] = out
    return folders


def study_table(runs: list[Run], root: Path, split: str = "val") -> pd.DataFrame:
    """Accuracy and mA (in %) of each finished run, with its model, mask scale and seed."""
    rows = []
    for run in runs:
        path = Path(root) / run.name / f"eval_{split}.json"
        if path.exists():
            result = json.loads(path.read_text())
            config = result["config"]
            available = config["data"]["per_partition"]["train"]
            rows.append({"run": run.name, "model": run.model, "mask_scale": run.mask_scale, "seed": run.seed,
                         "accuracy": 100 * result["accuracy"], "mA": 100 * result["mA"],
                         "train_images": min(config["train"]["train_limit"] or available, available),
                         "epochs": config["train"]["epochs"], "code_version": result["code_version"]})
    return pd.DataFrame(rows)


def seed_noise(table: pd.DataFrame) -> pd.DataFrame:
    """Per model with several seeds: mean, and the spread (max - min) of accuracy and mA across seeds."""
    grouped = table.groupby(["model", "mask_scale"])[["accuracy", "mA"]]
    counts = grouped.size().rename("seeds")
    spread = (grouped.max() - grouped.min()).add_suffix("_spread")
    return pd.concat([counts, grouped.mean(), spread], axis=1)[lambda t: t.seeds > 1]
