"""Every gain the book reports, with its 95% interval and its verdict (``mgmtn.stats``), from committed results.

Each ``Comparison`` names two sets of committed runs (their seeds), the
operating point the book reads them at and the paper's point gain. The
intervals come from the saved probabilities (``eval_val.probs.npz``: image
ids and probabilities, no labels) and the labels of the data they were
scored on (the CelebA subset's ``list_attr_celeba.txt``, the LFWA release's
label file), so the committed runs need no weights.

Every gain is measured in each training regime (``REGIMES``): ResNet18 from
scratch (the book's first runs) and dlib's face ResNet from its shipped
weights (the ``cpu-pretrained`` profile), whose runs live in folders of their
own; ``regime_table`` sets the two verdicts of each claim side by side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mgmtn.ablations import COMPONENT_STEPS
from mgmtn.attributes import ATTRIBUTES
from mgmtn.errors import DataError, MgmtnError
from mgmtn.paper import COMPARISON, FIG9, TABLE3, TABLE4, table2_ours
from mgmtn.results import RESULTS
from mgmtn.stats import Gain, Resamples, gain, verdict

CHOSEN, HALF = "chosen on selection", "threshold 0.5"

# Where each regime's committed runs live under results/: the main runs (Table 2), the ablation and comparison
# studies, and LFWA.
REGIMES = {
    "scratch": dict(main="cpu-celeba-subset", ablations="ablations-celeba-subset", lfwa="lfwa-subset"),
    "pretrained": dict(main="pretrained-celeba-subset", ablations="ablations-pretrained-celeba-subset",
                       lfwa="lfwa-pretrained-subset"),
}


@dataclass(frozen=True)
class Comparison:
    """A gain: the runs of ``model`` minus those of ``baseline`` (globs under ``folder``), read at ``point``.

    ``paper``: the paper's gain (accuracy, mA) in points, None where it
    prints none; the direction of a claim without a number is +1 (A ahead).
    """

    source: str
    claim: str
    folder: str
    model: str
    baseline: str
    point: str
    paper: tuple[float | None, float | None]
    data: str = "celeba"
    regime: str = "scratch"


def _paper_gain(table: pd.DataFrame, row, before, accuracy: str = "accuracy", ma: str = "mA"):
    values = [table.loc[row, column] - table.loc[before, column] for column in (accuracy, ma)]
    return tuple(None if pd.isna(v) else round(float(v), 2) for v in values)


def comparisons(regime: str = "scratch") -> list[Comparison]:
    """Every gain the book reports (pages 04-07, 10 and 11) in ``regime``, in the order of the claims table."""
    try:
        folders = REGIMES[regime]
    except KeyError:
        raise MgmtnError(f"unknown regime {regime!r}; choose one of {', '.join(REGIMES)}") from None
    ablations, main, lfwa_folder = folders["ablations"], folders["main"], folders["lfwa"]
    table2, lfwa = table2_ours(), table2_ours("lfwa")
    found = [Comparison("Table 2", "MGMTN over the baseline (CelebA)", main, "mgmtn-seed*",
                        "global-seed*", CHOSEN, _paper_gain(table2, "mgmtn", "global"))]
    found += [Comparison("Table 3", f"{name} over the row before", ablations, f"{setting}-seed*", f"{before}-seed*",
                         HALF, _paper_gain(TABLE3, setting, before)) for name, setting, before in COMPONENT_STEPS]
    found += [Comparison("Table 4", f"region 100% over {scale:.0%}", ablations, "aml-gr4-seed*",
                         f"aml-gr4-scale{scale:g}-seed*", HALF, _paper_gain(TABLE4, 1.0, scale))
              for scale in TABLE4.index if scale != 1.0]
    steps = list(FIG9)
    found += [Comparison("Fig. 9", f"{FIG9[after]} over {FIG9[before]}", ablations, f"{after}-seed*", f"{before}-seed*",
                         HALF, (None, None)) for before, after in zip(steps, steps[1:])]
    found += [Comparison("Table 2", f"MGMTN over {method}", ablations, "mgmtn-seed*", f"{method}-seed*", HALF,
                         _paper_gain(COMPARISON, "mgmtn", method, "celeba_accuracy", "celeba_mA"))
              for method in COMPARISON.index if method not in ("global", "mgmtn")]
    found += [Comparison("Table 2", f"MGMTN over the baseline (LFWA, {protocol})", lfwa_folder, f"mgmtn-{protocol}",
                         f"global-{protocol}", CHOSEN, _paper_gain(lfwa, "mgmtn", "global"), "lfwa")
              for protocol in ("scratch", "finetune")]
    found += [Comparison("LFWA", f"fine-tuning over from scratch ({model})", lfwa_folder, f"{model}-finetune",
                         f"{model}-scratch", CHOSEN, (None, None), "lfwa") for model in ("global", "mgmtn")]
    return [replace(comparison, regime=regime) for comparison in found]


def of_folder(folder: str, source: str | None = None) -> list[Comparison]:
    """The comparisons made of the runs in one results folder (one page's), of one ``source`` where given."""
    return [c for regime in REGIMES for c in comparisons(regime)
            if c.folder == folder and (source is None or c.source == source)]


def at_points(found: list[Comparison], points: tuple[str, ...] = (CHOSEN, HALF)) -> list[Comparison]:
    """Each of ``found`` read at each operating point, so a page can show a gain at 0.5 beside the chosen point."""
    return [replace(c, point=point) for c in found for point in points]


def celeba_labels(root: Path) -> dict[str, np.ndarray]:
    """Image id -> 40 labels of a CelebA-layout folder (its attribute file alone: the images are not read)."""
    from mgmtn.data.celeba import read_attributes

    ids, labels = read_attributes(Path(root))
    return dict(zip(ids, labels.astype(bool)))


def lfwa_labels(release: Path) -> dict[str, np.ndarray]:
    """Image file name -> 40 labels of an LFWA release, as ``import-lfwa`` names the images."""
    from mgmtn.data.lfwa import release_labels

    names, labels = release_labels(Path(release))
    return dict(zip(names, labels.astype(bool)))


@dataclass(frozen=True)
class Scored:
    """One committed evaluation: its image ids and its yes/no answers at each operating point."""

    ids: tuple[str, ...]
    answers: dict[str, np.ndarray]


def load_scored(evaluation: Path) -> Scored:
    """A run's ``eval_val.json`` and its probabilities, as yes/no answers at 0.5 and at its chosen point."""
    record = json.loads(Path(evaluation).read_text())
    arrays = np.load(Path(evaluation).with_suffix(".probs.npz"))
    probs = arrays["probs"].astype(np.float32).astype(np.float64)  # as evaluate scored them
    answers = {HALF: probs >= 0.5}
    if "thresholds" in record:
        answers[CHOSEN] = probs >= np.array([record["thresholds"][name] for name in ATTRIBUTES])
    return Scored(tuple(arrays["ids"].tolist()), answers)


def measure(comparison: Comparison, labels: dict[str, np.ndarray], replicates: int, seed: int = 0,
            root: Path = RESULTS, cache: dict | None = None) -> dict[str, Gain] | None:
    """The comparison's gains with their intervals; None where a side has no committed run.

    ``cache`` keeps, across comparisons, one ``Resamples`` per set of images
    (so every gain on them is paired on the same resamples) and each run's scores.
    """
    sides = [sorted((Path(root) / comparison.folder).glob(f"{pattern}/eval_val.json"))
             for pattern in (comparison.model, comparison.baseline)]
    if not all(sides):
        return None
    cache = {} if cache is None else cache

    def scores(path: Path) -> dict[str, np.ndarray]:
        key = (path, comparison.point)
        if key not in cache:
            scored = load_scored(path)
            if scored.ids not in cache:
                missing = [i for i in scored.ids if i not in labels]
                if missing:
                    raise DataError(f"{path}: image {missing[0]} has no label in the data given")
                cache[scored.ids] = Resamples(np.stack([labels[i] for i in scored.ids]), replicates, seed)
            cache[key] = (scored.ids, cache[scored.ids].scores(scored.answers.get(comparison.point,
                                                                                  scored.answers[HALF])))
        return cache[key]

    found = [[(path, *scores(path)) for path in paths] for paths in sides]
    first = found[0][0]
    for path, ids, _ in (run for side in found for run in side):
        if ids != first[1]:
            raise DataError(f"{path.with_suffix('.probs.npz')}: scored on other images than "
                            f"{first[0].with_suffix('.probs.npz')}; a paired gain needs the same images")
    return gain(*[[run[2] for run in side] for side in found], seed=seed)


def claim_intervals(celeba_root: Path | None, lfwa_root: Path | None, replicates: int = 1000, seed: int = 0,
                    root: Path = RESULTS, found: list[Comparison] | None = None) -> pd.DataFrame:
    """One row per regime, gain and metric: ours with its 95% interval, the paper's, the seeds and the verdict.

    ``found``: the comparisons to measure (default: every one the book
    reports, in every regime). A comparison whose data folder is not given, or whose runs are
    not there, is left out.
    """
    labels = {"celeba": celeba_labels(celeba_root) if celeba_root else None,
              "lfwa": lfwa_labels(lfwa_root) if lfwa_root else None}
    rows, cache = [], {}
    every = [comparison for regime in REGIMES for comparison in comparisons(regime)]
    for comparison in every if found is None else found:
        if labels[comparison.data] is None:
            continue
        gains = measure(comparison, labels[comparison.data], replicates, seed, root, cache)
        for metric, paper in zip(("accuracy", "mA"), comparison.paper):
            if gains is None:
                continue
            gain = gains[metric]
            direction = 1.0 if paper is None else paper
            rows.append({"regime": comparison.regime, "source": comparison.source, "claim": comparison.claim,
                         "metric": metric,
                         "point": comparison.point, "seeds": f"{gain.seeds[0]} vs {gain.seeds[1]}",
                         "ours": round(gain.gain, 2), "low": round(gain.low, 2), "high": round(gain.high, 2),
                         "paper": paper, "verdict": verdict(gain.low, gain.high, direction)})
    return pd.DataFrame(rows)


def in_regime(claims: pd.DataFrame, regime: str) -> pd.DataFrame:
    """The rows of ``claim_intervals`` measured in ``regime`` (an empty table stays empty)."""
    return claims[claims["regime"] == regime] if not claims.empty else claims


def dependence(verdicts: dict[str, str | None]) -> str:
    """One sentence on whether a claim's verdict depends on pretraining (None: that regime has no runs yet)."""
    scratch, pretrained = verdicts.get("scratch"), verdicts.get("pretrained")
    if scratch is None or pretrained is None:
        return f"not measured {'pretrained' if pretrained is None else 'from scratch'} yet"
    if scratch == pretrained:
        return f"the same verdict in both regimes ({scratch}): no sign that it depends on pretraining"
    if "inconclusive" in (scratch, pretrained):
        return (f"{scratch} from scratch, {pretrained} pretrained: one regime cannot tell, so no dependence is "
                "shown either way")
    return f"{scratch} from scratch but {pretrained} pretrained: the verdict depends on pretraining"


def regime_table(claims: pd.DataFrame) -> pd.DataFrame:
    """Each claim and metric with its gain, interval and verdict per regime, and whether it depends on
    pretraining (``dependence``): the claims table's regime columns."""
    if claims.empty:
        return pd.DataFrame()
    keys = ["source", "claim", "metric"]
    rows = []
    for key, group in claims.groupby(keys, sort=False):
        by_regime = group.set_index("regime")
        row = dict(zip(keys, key), paper=group["paper"].iloc[0])
        for regime in REGIMES:
            measured = by_regime.loc[regime] if regime in by_regime.index else None
            row[f"{regime}: ours [95% interval]"] = "not run yet" if measured is None else \
                f"{measured.ours:+.2f} [{measured.low:+.2f}, {measured.high:+.2f}]"
            row[f"{regime}: verdict"] = "-" if measured is None else measured.verdict
        row["depends on pretraining?"] = dependence({regime: by_regime["verdict"].get(regime) for regime in REGIMES})
        rows.append(row)
    return pd.DataFrame(rows).set_index(keys)
