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


NOISE_SEEDS = (0, 1, 2)  # the baseline and full MGMTN run with each, to measure run-to-run noise (Makefile too)
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
    """Mean accuracy and mA per value of ``key`` over its seeds, with the seed count and spread (max - min)."""
    grouped = table.groupby(key, sort=False)[["accuracy", "mA"]]
    spread = (grouped.max() - grouped.min()).add_suffix(" spread")
    return pd.concat([grouped.mean(), grouped.size().rename("seeds"), spread], axis=1)


def noise_level(summary: pd.DataFrame) -> pd.Series:
    """Run-to-run noise: the largest seed spread of accuracy and of mA among settings run with several seeds."""
    repeated = summary[summary.seeds > 1]
    if repeated.empty:
        raise MgmtnError("no setting was run with more than one seed: the noise cannot be measured")
    return repeated[["accuracy spread", "mA spread"]].max().set_axis(["accuracy", "mA"])


def versus(summary: pd.DataFrame, reference, noise: pd.Series) -> pd.DataFrame:
    """Each setting's difference to ``reference`` and whether it exceeds the measured noise."""
    out = summary.copy()
    for metric in ("accuracy", "mA"):
        out[f"{metric} vs {reference}"] = out[metric] - out.loc[reference, metric]
        out[f"{metric}: beyond noise"] = out[f"{metric} vs {reference}"].abs() > noise[metric]
    return out


def measured_noise(root: Path) -> pd.Series | None:
    """The run-to-run noise under ``root``: the largest seed range among the rows of Table 3 run with
    several seeds (the baseline and full MGMTN always are; any other row with ``ablate --seeds``);
    None until one has been."""
    table = study_table(list(STUDIES["components"]), root)
    if table.empty:
        return None
    summary = by_setting(table, "model")
    return noise_level(summary) if (summary.seeds > 1).any() else None


def study_report(study: str, root: Path, key: str, reference, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """A study's settings with their mean, seed spread, gain over ``reference`` judged against the
    measured noise, and the paper's numbers (columns 'paper accuracy', 'paper mA') where it gives them."""
    table = study_table(list(STUDIES[study]), root)
    if table.empty:
        return table
    summary = by_setting(table, key)
    noise = measured_noise(root)
    if noise is not None and reference in summary.index:
        summary = versus(summary, reference, noise)
    if paper is not None:
        summary = summary.join(paper.add_prefix("paper "))
    return summary


def agreement(claimed: float, measured: float, noise: float) -> str:
    """Whether a measured gain bears out a claimed one: only its sign counts, and only beyond the seed noise."""
    if abs(measured) <= noise:
        return "within noise"
    return "agrees" if (measured > 0) == (claimed > 0) else "disagrees"


def verdicts(report: pd.DataFrame, reference, noise: pd.Series) -> list[str]:
    """One plain sentence per setting: its gain over ``reference``, whether the noise could explain it and,
    where the paper gives the row, whether the paper's gain is borne out."""
    lines = []
    for setting, row in report.drop(index=reference).iterrows():
        parts = []
        for metric in ("accuracy", "mA"):
            gain = row[metric] - report.loc[reference, metric]
            judged = "beyond" if abs(gain) > noise[metric] else "within"
            part = f"{metric} {gain:+.2f} points ({judged} the seed noise of {noise[metric]:.2f})"
            paper = report.get(f"paper {metric}")
            if paper is not None and pd.notna(claimed := paper[setting] - paper[reference]):
                part += f", paper {claimed:+.2f}: {agreement(claimed, gain, noise[metric])}"
            parts.append(part)
        lines.append(f"{setting} vs {reference}: " + "; ".join(parts))
    return lines


def ranking(report: pd.DataFrame, metric: str, noise: float = 0.0) -> str:
    """The settings from best to worst by ``metric``; neighbours no further apart than ``noise`` are joined
    by '≈' rather than '>'."""
    ordered = report[metric].dropna().sort_values(ascending=False)
    text = str(ordered.index[0])
    for higher, (setting, lower) in zip(ordered, list(ordered.items())[1:]):
        text += f" {'≈' if higher - lower <= noise else '>'} {setting}"
    return text


# Table 3 adds one component per row: the component, the row that adds it and the row it is added to.
COMPONENT_STEPS = (("AG", "ag", "global"), ("AML", "aml-global", "ag"), ("G2FF, CA", "mgmtn", "aml-global"),
                   ("G2FF, SA", "mgmtn-sa", "aml-global"), ("G2FF, CA-SA", "mgmtn-ca-sa", "aml-global"))


def component_gains(report: pd.DataFrame, noise: pd.Series) -> pd.DataFrame:
    """What each component of Table 3 adds to the row before it, ours beside the paper's, with whether ours
    bears the paper's out (``agreement``). ``report``: ``study_report`` of the components with the paper's
    Table 3 joined."""
    rows = {}
    for component, setting, before in COMPONENT_STEPS:
        if {setting, before} <= set(report.index):
            row = {"step": f"{before} → {setting}"}
            for metric, short in (("accuracy", "acc"), ("mA", "mA")):
                ours = report.loc[setting, metric] - report.loc[before, metric]
                claimed = report.loc[setting, f"paper {metric}"] - report.loc[before, f"paper {metric}"]
                row |= {f"{short} gain": round(ours, 2), f"paper {short} gain": round(claimed, 2),
                        f"{short} verdict": agreement(claimed, ours, noise[metric])}
            rows[component] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def compact(report: pd.DataFrame) -> pd.DataFrame:
    """``study_report`` for a page: short column names and no flag columns (the verdicts say what they said)."""
    names = {"accuracy": "acc", "accuracy spread": "acc range", "mA spread": "mA range", "paper accuracy": "paper acc"}
    # The gain columns keep the reference's name from before any relabelling (``present``'s labels).
    names |= {c: f"{c.split(' vs ')[0].replace('accuracy', 'acc')} gain" for c in report if " vs " in c}
    flags = [c for c in report if c.endswith(": beyond noise")]
    return report.drop(columns=flags).rename(columns=names).round(2)


def present(study: str, root: Path, key: str, reference, paper: pd.DataFrame | None = None,
            labels: dict | None = None) -> pd.DataFrame | None:
    """Show a study on a notebook page: the gains plot, a compact table and one verdict per setting.

    ``labels`` renames settings for display (e.g. Fig. 9's bar names). None when no run of the study is
    there yet.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    from mgmtn.plots import ablation_gains
    from mgmtn.tables import readable

    report = study_report(study, root, key, reference, paper)
    if report.empty:
        print(f"no runs of the {study} study under {root}")
        return None
    if labels:
        report, reference = report.rename(index=labels), labels.get(reference, reference)
    noise = measured_noise(root)
    judged = noise is not None and reference in report.index
    if judged:
        ablation_gains(report, reference, noise)
        plt.show()
    display(readable(compact(report)))
    if judged:
        print("\n".join(verdicts(report, reference, noise)))
        print(f"\nby accuracy, ours: {ranking(report, 'accuracy', noise.accuracy)}")
        if "paper accuracy" in report:
            print(f"by accuracy, paper: {ranking(report, 'paper accuracy')}")
    return report
