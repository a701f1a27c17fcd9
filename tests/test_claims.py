"""Every gain the book reports, measured from saved probabilities: pairing, labels and the status lines."""

import json

import numpy as np
import pandas as pd
import pytest

from mgmtn import ablations, claims, status
from mgmtn.attributes import ATTRIBUTES
from mgmtn.data.layout import write_attributes
from mgmtn.errors import DataError, MgmtnError

IDS = [f"{i:06d}.jpg" for i in range(300)]
LABELS = np.random.default_rng(0).random((300, 40)) < 0.4


def committed_run(root, name, flip, thresholds=None, ids=IDS):
    """A run folder as ``mgmtn evaluate`` leaves it: eval_val.json and its probabilities, no weights."""
    folder = root / "study" / name
    folder.mkdir(parents=True)
    wrong = np.random.default_rng(len(name)).random(LABELS.shape) < flip
    probs = np.where(LABELS ^ wrong, 0.8, 0.2).astype(np.float16)[:len(ids)]
    record = {"split": "val", "accuracy": 0.0}
    if thresholds is not None:
        record["thresholds"] = dict(zip(ATTRIBUTES, [thresholds] * 40))
    (folder / "eval_val.json").write_text(json.dumps(record))
    np.savez(folder / "eval_val.probs.npz", ids=np.array(ids), probs=probs)


def comparison(point=claims.HALF):
    return claims.Comparison("Table 9", "B over A", "study", "b-seed*", "a-seed*", point, (1.0, None))


def test_a_committed_gain_is_measured_on_the_same_images(tmp_path):
    committed_run(tmp_path, "a-seed0", 0.3)
    committed_run(tmp_path, "a-seed1", 0.3)
    committed_run(tmp_path, "b-seed0", 0.1)
    gains = claims.measure(comparison(), dict(zip(IDS, LABELS)), replicates=200, root=tmp_path)
    assert gains["accuracy"].seeds == (1, 2) and gains["accuracy"].low > 0
    # The point gain is the plain difference of the runs' accuracies (seed means).
    answers = {name: np.load(tmp_path / "study" / name / "eval_val.probs.npz")["probs"] >= 0.5
               for name in ("a-seed0", "a-seed1", "b-seed0")}
    accuracy = {name: (a == LABELS).mean() for name, a in answers.items()}
    expected = 100 * (accuracy["b-seed0"] - (accuracy["a-seed0"] + accuracy["a-seed1"]) / 2)
    assert gains["accuracy"].gain == pytest.approx(expected, abs=1e-3)


def test_the_chosen_point_uses_the_run_s_own_thresholds(tmp_path):
    committed_run(tmp_path, "a-seed0", 0.2, thresholds=0.9)  # everything answered "no" at its point
    committed_run(tmp_path, "b-seed0", 0.2, thresholds=0.5)
    labels = dict(zip(IDS, LABELS))
    at_half = claims.measure(comparison(), labels, 50, root=tmp_path)["mA"].gain
    chosen = claims.measure(comparison(claims.CHOSEN), labels, 50, root=tmp_path)["mA"].gain
    assert abs(at_half) < 5 < chosen


def test_runs_on_other_images_or_unlabelled_images_are_refused(tmp_path):
    committed_run(tmp_path, "a-seed0", 0.2)
    committed_run(tmp_path, "b-seed0", 0.2, ids=IDS[:200])
    with pytest.raises(DataError, match="same images"):
        claims.measure(comparison(), dict(zip(IDS, LABELS)), 20, root=tmp_path)
    with pytest.raises(DataError, match="no label"):
        claims.measure(comparison(), dict(zip(IDS[:100], LABELS)), 20, root=tmp_path)
    assert claims.measure(claims.Comparison("T", "c", "study", "x-*", "a-*", claims.HALF, (None, None)),
                          {}, 20, root=tmp_path) is None


def test_every_study_of_the_book_has_its_gains():
    sources = pd.Series([c.source for c in claims.comparisons()]).value_counts()
    assert sources["Table 3"] == 5 and sources["Table 4"] == 4 and sources["Fig. 9"] == 3
    assert {c.model for c in claims.comparisons() if c.folder == "lfwa-subset"} == \
        {"mgmtn-scratch", "mgmtn-finetune", "global-finetune"}


def test_a_page_measures_the_gains_of_its_own_folder_at_each_point(tmp_path):
    assert [c.claim for c in claims.of_folder("cpu-celeba-subset")] == ["MGMTN over the baseline (CelebA)"]
    assert len(claims.of_folder("ablations-celeba-subset", "Table 4")) == 4
    committed_run(tmp_path, "a-seed0", 0.3, thresholds=0.5)
    committed_run(tmp_path, "b-seed0", 0.1, thresholds=0.5)
    both = claims.at_points([comparison(claims.CHOSEN)])
    assert [c.point for c in both] == [claims.CHOSEN, claims.HALF]
    write_attributes(tmp_path / "faces", IDS, LABELS.astype(np.uint8))
    table = claims.claim_intervals(tmp_path / "faces", None, 50, root=tmp_path, found=both)
    assert table["point"].tolist() == [claims.CHOSEN] * 2 + [claims.HALF] * 2
    assert (table["verdict"] == "agrees").all()
    assert claims.claim_intervals(tmp_path / "faces", None, 50, root=tmp_path, found=[]).empty  # none asked


def gain_row(regime="scratch", claim="x", verdict="agrees", low=0.26):
    return {"regime": regime, "source": "Table 2", "claim": claim, "metric": "accuracy", "ours": 0.39, "low": low,
            "high": 0.53, "paper": 0.5, "verdict": verdict}


def test_status_lines_quote_the_interval_and_verdict():
    table = pd.DataFrame([gain_row(), gain_row("pretrained", verdict="disagrees")])
    assert status.interval_text(table, "Table 2", "x") == "+0.39 accuracy [+0.26, +0.53] (agrees)"
    assert status.interval_text(table, "Table 3", "x").startswith("not measured")
    assert status.verdict_counts(table, "Table 2") == "1 agrees"
    assert status.verdict_counts(table, "Table 2", regime="pretrained") == "1 disagrees"


def test_the_status_page_quotes_the_main_runs_of_each_regime():
    lines = status.status_lines(pd.DataFrame())
    for regime, prefix in (("scratch", "celeba"), ("pretrained", "pretrained")):
        assert {f"{prefix}_global", f"{prefix}_mgmtn", f"{prefix}_mgmtn_gain"} <= lines.keys()
        assert status.main_runs(regime, "mgmtn") == f"{claims.REGIMES[regime]['main']}/mgmtn-seed*/eval_val.json"
    assert lines["pretrained_mgmtn_gain"].startswith("not measured")
    for prefix in ("lfwa", "pretrained_lfwa"):
        assert {f"{prefix}_{model}_{protocol}" for model in ("global", "mgmtn")
                for protocol in ("scratch", "finetune")} | {f"{prefix}_gain"} <= lines.keys()
    assert lines["pretrained_lfwa_gain"].count("not measured") == 2
    for prefix in ("", "pretrained_"):
        assert {f"{prefix}ablation_steps", f"{prefix}fusion_ranking", f"{prefix}comparison_ranking"} <= lines.keys()
        assert lines[f"{prefix}ablation_steps"].count("not measured") == len(ablations.COMPONENT_STEPS)


def test_each_regime_reads_its_own_folders():
    scratch, pretrained = claims.comparisons("scratch"), claims.comparisons("pretrained")
    assert [c.claim for c in scratch] == [c.claim for c in pretrained]
    assert {c.regime for c in pretrained} == {"pretrained"}
    assert not {c.folder for c in scratch} & {c.folder for c in pretrained}
    with pytest.raises(MgmtnError, match="unknown regime"):
        claims.comparisons("imagenet")


def test_the_regime_table_says_when_a_verdict_depends_on_pretraining():
    table = pd.DataFrame([gain_row(claim="same"), gain_row("pretrained", claim="same"),
                          gain_row(claim="flips"), gain_row("pretrained", claim="flips", verdict="disagrees"),
                          gain_row(claim="unsure"), gain_row("pretrained", claim="unsure", verdict="inconclusive"),
                          gain_row(claim="scratch only")])
    wide = claims.regime_table(table)["depends on pretraining?"].droplevel(["source", "metric"])
    assert wide["same"].startswith("the same verdict") and wide["flips"].endswith("depends on pretraining")
    assert "cannot tell" in wide["unsure"] and wide["scratch only"] == "not measured pretrained yet"
    assert claims.regime_table(table)["pretrained: ours [95% interval]"].iloc[-1] == "not run yet"
    assert status.pretraining_text(table, "Table 2") == \
        "depends on pretraining: flips (accuracy) agrees from scratch, disagrees pretrained"
    assert status.pretraining_text(table[table.regime == "scratch"], "Table 2") == "not measured pretrained yet"


def test_the_committed_main_gain_matches_its_records(celeba_subset):
    """MGMTN minus global at the chosen point, from the probabilities, equals the recorded seed means."""
    main = claims.comparisons()[0]
    gains = claims.measure(main, claims.celeba_labels(celeba_subset), replicates=50)
    records = {run: json.loads((claims.RESULTS / "cpu-celeba-subset" / run / "eval_val.json").read_text())
               for run in ("global-seed0", "global-seed1", "mgmtn-seed0", "mgmtn-seed1")}
    mean = lambda model: np.mean([records[f"{model}-seed{s}"]["tuned_on_select"]["mA"] for s in (0, 1)])  # noqa
    assert gains["mA"].gain == pytest.approx(100 * (mean("mgmtn") - mean("global")), abs=1e-3)
