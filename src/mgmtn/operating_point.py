"""The operating point travels with the run: the thresholds its selection split chose, and what chose them.

At the end of training (and whenever ``rescore`` changes the rule) the run
folder gets ``operating_point.json``: the per-attribute thresholds, the rule
that gave them, the sha256 of the selection split's image ids and the
training positive rates. ``evaluate`` reports every folder at 0.5 and at
this point, and refuses a folder whose selection carve is not the run's;
``predict`` answers yes/no at it. The candidate rules and the choice between
them are ``select_thresholds``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mgmtn import metrics
from mgmtn.attributes import ATTRIBUTES
from mgmtn.data.splits import ids_digest
from mgmtn.errors import MgmtnError
from mgmtn.provenance import record, write_json

FILE = "operating_point.json"

# The reported operating point may give up this much accuracy on the selection split for balance (mA).
ACCURACY_BUDGET = 0.005
# Weights w of the attribute's training positive rate in the thresholds 0.5 + w (prior - 0.5): w = 0 is
# threshold 0.5, w = 0.5 the midpoint rule, w = 1 the positive rate itself.
PRIOR_WEIGHTS = np.round(np.linspace(0, 1, 11), 1)


def select_thresholds(targets: np.ndarray, probs: np.ndarray,
                      prior: np.ndarray) -> tuple[str, dict[str, np.ndarray], dict]:
    """Per-attribute thresholds for the reported operating point, chosen on the selection split.

    Candidates: thresholds moved from 0.5 towards each attribute's positive
    rate in training ('prior W', for each W in ``PRIOR_WEIGHTS``; they look
    at no scores), and thresholds tuned per attribute on the split ('tuned',
    the mean of accuracy and balanced accuracy), which are scored by two-fold
    cross-validation so that they are not judged on the images they were
    tuned on. The chosen one has the highest mA among those whose selection
    accuracy is within ``ACCURACY_BUDGET`` of threshold 0.5's: balance,
    bought with at most half a point of accuracy. Returns its name, every
    candidate's thresholds (the tuned ones tuned on the whole split) and every
    candidate's selection accuracy and mA.
    """
    def accuracy_and_ma(t, p, thresholds):
        summary = metrics.summary(t, p, thresholds)
        return {"accuracy": summary["accuracy"], "mA": summary["mA"]}

    rules = {f"prior {w:.1f}": 0.5 + w * (prior - 0.5) for w in PRIOR_WEIGHTS}
    scores = {name: accuracy_and_ma(targets, probs, thresholds) for name, thresholds in rules.items()}
    folds = np.arange(len(targets)) % 2 == 0
    held_out = [accuracy_and_ma(targets[~fold], probs[~fold],
                                metrics.tune_thresholds(targets[fold], probs[fold], "mean"))
                for fold in (folds, ~folds)]
    rules["tuned"] = metrics.tune_thresholds(targets, probs, metric="mean")
    scores["tuned"] = {key: float(np.mean([s[key] for s in held_out])) for key in ("accuracy", "mA")}
    floor = scores["prior 0.0"]["accuracy"] - ACCURACY_BUDGET
    allowed = [name for name, s in scores.items() if s["accuracy"] >= floor]
    return max(allowed, key=lambda name: scores[name]["mA"]), rules, scores



def choose(select_ids, select_targets: np.ndarray, select_probs: np.ndarray, prior: np.ndarray) -> dict:
    """The operating point chosen on the selection split, as ``operating_point.json`` records it."""
    rule, rules, on_select = select_thresholds(select_targets, select_probs, prior)
    return {"rule": rule, "thresholds": dict(zip(ATTRIBUTES, rules[rule].tolist())),
            "select_sha256": ids_digest(select_ids), "select_images": len(select_ids),
            "train_prior": dict(zip(ATTRIBUTES, np.asarray(prior, float).tolist())), "on_select": on_select[rule]}


def write(run: Path, point: dict, device: str = "cpu") -> Path:
    return write_json(Path(run) / FILE, record(device, **point))


def read(run: Path) -> dict | None:
    """The run's recorded operating point, None for a run that records none (older runs, committed records)."""
    path = Path(run) / FILE
    if not path.exists():
        return None
    try:
        point = json.loads(path.read_text())
        point["array"] = np.array([float(point["thresholds"][name]) for name in ATTRIBUTES])
    except (ValueError, KeyError, TypeError) as error:
        raise MgmtnError(f"{path}: not an operating point written by mgmtn ({type(error).__name__}: {error})") \
            from None
    return point


def check_carve(run: Path, point: dict | None, select_ids, data: Path) -> None:
    """Refuse, in one line, a folder whose selection split is not the one that chose the run's operating point."""
    if point is None or ids_digest(select_ids) == point["select_sha256"]:
        return
    raise MgmtnError(f"{data}: its selection split ({len(select_ids)} images, sha256 {ids_digest(select_ids)[:12]}) "
                     f"is not the one {run} chose its operating point on ({point['select_images']} images, sha256 "
                     f"{point['select_sha256'][:12]}); score the run on its own data folder, or on a folder "
                     "without a train partition (the run's point is then used as recorded)")
