"""The paper's ablation studies as lists of runs: Table 3, Table 4 and Fig. 9.

A study is a tuple of ``Run`` specs. ``run_study`` trains and scores each one
into its own folder under one root (resuming an interrupted run, skipping a
finished one), so the notebooks and ``mgmtn ablate`` share one definition and
one folder layout, and ``study_table`` reads the scores back for the pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from mgmtn.config import get_profile
from mgmtn.errors import MgmtnError
from mgmtn.models import MASK_MODELS
from mgmtn.results import trained_images


@dataclass(frozen=True)
class Run:
    """One training run of a study: a model, its mask scale (Table 4) and its seed."""

    model: str
    mask_scale: float = 1.0
    seed: int = 0

    @property
    def name(self) -> str:
        return f"{self.setting}-seed{self.seed}"

    @property
    def setting(self) -> str:
        """The name without the seed: what the seeds of one row share."""
        return self.model if self.mask_scale == 1.0 else f"{self.model}-scale{self.mask_scale:g}"


NOISE_SEEDS = (0, 1, 2)  # the baseline and full MGMTN run with each: the intervals resample them (Makefile too)
STUDIES: dict[str, tuple[Run, ...]] = {
    # Table 3: baseline, +AG, +AML (F4 only, Table 4's model; and F3+F4 joined with the global feature, row 3),
    # +G2FF with CA, SA, CA-SA.
    "components": tuple(Run(m, seed=s) for m in ("global", "mgmtn") for s in NOISE_SEEDS)
    + tuple(Run(m) for m in ("ag", "aml-gr4", "aml-global", "mgmtn-sa", "mgmtn-ca-sa")),
    # Table 4 / Fig. 7: the AML (Gr4) model with the mask region scaled to a fraction of its area.
    "mask-scale": tuple(Run("aml-gr4", mask_scale=s) for s in (0.64, 0.81, 1.0, 1.21, 1.44)),
    # Table 2's other methods, built from their papers, beside the baseline and MGMTN.
    "comparison": tuple(Run(m, seed=s) for m in ("global", "mgmtn") for s in NOISE_SEEDS)
    + tuple(Run(m) for m in ("dmm-cnn", "mgg-net", "mgg-net-balanced", "far-amtn", "cascade")),
    # Fig. 9: which features are fused with the global one.
    "fusion": tuple(Run(m, seed=s) for m in ("global", "mgmtn") for s in NOISE_SEEDS)
    + tuple(Run(m) for m in ("aml-gr4", "aml-gr34")),
}


def study_runs(names: list[str] | tuple[str, ...], seeds: tuple[int, ...] = ()) -> list[Run]:
    """The runs of the named studies, each once, in order; with ``seeds``, every row also once per seed."""
    unknown = [n for n in names if n not in STUDIES]
    if unknown:
        raise MgmtnError(f"unknown study {unknown[0]!r}; choose from {', '.join(STUDIES)}")
    return list(dict.fromkeys(replace(run, seed=seed) for name in names for run in STUDIES[name]
                              for seed in (run.seed, *seeds)))


def run_study(runs: list[Run], data: Path, root: Path, profile: str, unet: Path | None, device: str = "cpu",
              split: str = "val", stage1: str | Path | None = None, **overrides) -> dict[Run, Path]:
    """Train (or resume) and score each run into ``root/<run.name>``; finished runs are skipped.

    The profile's ``ablation`` overrides (a reduced scale for many runs) apply
    unless ``overrides`` sets the same option. ``stage1``: the path of each
    seed's finished stage-1 ``global`` run, with ``{seed}`` in it; each run
    then starts its backbone from the one of its seed (the paper's stage 1),
    so the rows of a table share their start. A row is never added to rows
    of its seed that recorded another start (``start_sha256``), nor a
    mask-guided row to rows that recorded another UNet.
    """
    from mgmtn.evaluate import evaluate
    from mgmtn.train import start_digest, train
    from mgmtn.train_unet import unet_record

    overrides = {**get_profile(profile).ablation, **{k: v for k, v in overrides.items() if v is not None}}
    if unet is None and any(run.model in MASK_MODELS for run in runs):
        raise MgmtnError("these runs include mask-guided models: pass a trained UNet (--unet RUN)")
    if stage1 and "{seed}" not in str(stage1):
        raise MgmtnError(f"--stage1 {stage1}: put {{seed}} where the seed goes, e.g. runs/global-seed{{seed}}")
    starts = {run.seed: Path(str(stage1).format(seed=run.seed)) for run in runs} if stage1 else {}
    # Only runs still to train need their start: weights are not committed, finished runs are.
    todo = [run for run in runs if not (Path(root) / run.name / f"eval_{split}.json").exists()]
    finished_starts, finished_unets = _recorded_inputs(Path(root), split)
    for seed in sorted({run.seed for run in todo if run.seed in starts}):
        if not (starts[seed] / "best.pt").exists():
            raise MgmtnError(f"{starts[seed]}: no stage-1 weights (best.pt) for seed {seed}; results/ keeps none, "
                             "so train that run again (move a committed folder away first)")
        if finished_starts.get(seed, set()) - {start_digest(starts[seed])}:
            raise MgmtnError(f"{starts[seed]}/best.pt is not the start that the finished seed-{seed} rows under "
                             f"{root} record: adding rows would mix starts; restore those weights or use a new --out")
    if unet is not None and any(run.model in MASK_MODELS for run in todo) and \
            finished_unets - {unet_record(unet)["sha256"]}:
        raise MgmtnError(f"{unet}: not the UNet that the finished mask-guided rows under {root} record: adding rows "
                         "would mix masks; restore that UNet or use a new --out")
    folders = {}
    for run in tqdm(runs, desc="ablation runs", unit="run"):
        out = Path(root) / run.name
        if run in todo:
            if not (out / "train.json").exists():
                train(data, out, run.model, profile=profile, unet=unet, device=device, seed=run.seed,
                      resume=(out / "last.pt").exists(), mask_scale=run.mask_scale,
                      backbone_from=starts.get(run.seed), **overrides)
            evaluate(out, data, split=split, device=device)
        folders[run] = out
    return folders


def _recorded_inputs(root: Path, split: str) -> tuple[dict[int, set[str]], set[str]]:
    """What the finished runs under ``root`` started from: start digests per seed, and the digests of their UNets
    (older runs recorded neither)."""
    starts: dict[int, set[str]] = {}
    unets: set[str] = set()
    for path in root.glob(f"*/eval_{split}.json"):
        config = json.loads((path.parent / "config.json").read_text())
        if config.get("start_sha256"):
            starts.setdefault(config["seed"], set()).add(config["start_sha256"])
        if (config.get("unet") or {}).get("sha256"):
            unets.add(config["unet"]["sha256"])
    return starts, unets


def seeds_on_disk(runs: list[Run], root: Path) -> list[Run]:
    """``runs`` with every other seed of the same rows that has a folder under ``root`` (``ablate --seeds``)."""
    found = [replace(run, seed=int(folder.name.rsplit("-seed", 1)[1]))
             for run in runs for folder in sorted(Path(root).glob(f"{run.setting}-seed*"))
             if folder.name.rsplit("-seed", 1)[1].isdigit()]
    return list(dict.fromkeys([*runs, *found]))


def study_table(runs: list[Run], root: Path, split: str = "val") -> pd.DataFrame:
    """Accuracy and mA (in %) of each finished run, and of any other seed of its row, with its model, mask
    scale and seed."""
    rows = []
    for run in seeds_on_disk(runs, root):
        path = Path(root) / run.name / f"eval_{split}.json"
        if path.exists():
            result = json.loads(path.read_text())
            config = result["config"]
            rows.append({"run": run.name, "model": run.model, "mask_scale": run.mask_scale, "seed": run.seed,
                         "accuracy": 100 * result["accuracy"], "mA": 100 * result["mA"],
                         "train_images": trained_images(config),
                         "epochs": config["train"]["epochs"], "code_version": result["code_version"]})
    return pd.DataFrame(rows)


def by_setting(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """Mean accuracy and mA per value of ``key`` over its seeds, with the seed count: the levels of a study."""
    grouped = table.groupby(key, sort=False)[["accuracy", "mA"]]
    return pd.concat([grouped.mean(), grouped.size().rename("seeds")], axis=1)


def study_report(study: str, root: Path, key: str, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """A study's settings with their seed means and seed counts, and the paper's numbers (columns
    'paper accuracy', 'paper mA') where it gives them; empty until a run of the study is there."""
    table = study_table(list(STUDIES[study]), root)
    if table.empty:
        return table
    summary = by_setting(table, key)
    return summary.join(paper.add_prefix("paper ")) if paper is not None else summary


def ranking(report: pd.DataFrame, metric: str) -> str:
    """The settings from best to worst by ``metric``: an order of point estimates, which says nothing of
    whether two rows differ (their gain's interval does)."""
    ordered = report[metric].dropna().sort_values(ascending=False)
    return " > ".join(str(setting) for setting in ordered.index)


# Table 3 adds one component per row: the component, the row that adds it and the row it is added to.
COMPONENT_STEPS = (("AG", "ag", "global"), ("AML", "aml-global", "ag"), ("G2FF, CA", "mgmtn", "aml-global"),
                   ("G2FF, SA", "mgmtn-sa", "aml-global"), ("G2FF, CA-SA", "mgmtn-ca-sa", "aml-global"))
# Where in the paper each study's gains are (the ``source`` of its rows of the claims table, ``mgmtn.claims``).
SOURCES = {"components": "Table 3", "mask-scale": "Table 4", "fusion": "Fig. 9", "comparison": "Table 2"}


def study_gains(study: str, root: Path, data: Path, folder: str, replicates: int = 1000) -> pd.DataFrame:
    """The gains of a study with their 95% intervals and verdicts, measured on the runs under ``root``.

    They are the claims table's rows of the study's runs in results/``folder``
    (``mgmtn.claims.claim_intervals``), read from ``root`` instead, against
    the labels of ``data`` (the CelebA-layout folder the runs were scored on):
    a page's own runs are judged as the committed ones are, and the committed
    ones get the claims table's numbers. A gain with a side not run is left out.
    """
    from mgmtn import claims  # claims reads COMPONENT_STEPS from here

    found = [replace(comparison, folder=".") for comparison in claims.of_folder(folder, SOURCES[study])]
    return claims.claim_intervals(data, None, replicates, root=root, found=found)


def present(study: str, root: Path, data: Path | None, key: str, paper: pd.DataFrame | None = None,
            labels: dict | None = None, folder: str = "ablations-celeba-subset") -> pd.DataFrame | None:
    """Show a study on a notebook page: its gains with their 95% intervals beside the paper's (a plot and a
    table with each gain's verdict by the a-priori rule of ``mgmtn.stats``), the levels of its rows and their
    ranking by accuracy.

    ``root``: the folder of the study's runs; ``data``: the folder they were
    scored on (None: levels only); ``folder``: the results folder whose gains
    of the claims table these are (``study_gains``). ``labels`` renames
    settings for display (e.g. Fig. 9's bar names). Returns the gains; None
    when no run of the study is there yet.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    from mgmtn.plots import forest
    from mgmtn.tables import readable

    report = study_report(study, root, key, paper)
    if report.empty:
        print(f"no runs of the {study} study under {root}")
        return None
    gains = study_gains(study, root, data, folder) if data is not None else pd.DataFrame()
    if gains.empty:
        print("no gain measured: a side of every gain is missing, or the labels of the data are absent")
    else:
        forest(gains)
        plt.show()
        display(readable(gains.drop(columns="source").set_index(["claim", "metric"])))
    report = report.rename(index=labels or {})
    display(readable(report))
    print(f"by accuracy at 0.5, ours: {ranking(report, 'accuracy')}")
    if "paper accuracy" in report:
        print(f"by accuracy, paper: {ranking(report, 'paper accuracy')}")
    return gains
