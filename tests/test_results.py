"""Readers of the committed results: per-attribute tables and the alignment measurement."""

import json
from pathlib import Path

import pandas as pd
import pytest

from mgmtn import claims, results
from mgmtn.train_unet import unet_record


def test_alignment_records_become_one_row_per_mode_and_a_majority_row(tmp_path):
    scores = {"accuracy": 0.7, "mA": 0.6, "faces_missed": 3, "align_ms_per_image": 12.0,
              "at_run_operating_point": {"accuracy": 0.72, "mA": 0.65}}
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "run.json").write_text(json.dumps(
        {"images": 10, "modes": {"none": scores, "auto": scores}, "majority": {"accuracy": 0.71, "mA": 0.5}}))
    table = results.alignment_effects("a/*.json", root=tmp_path)
    assert list(table["align"]) == ["none", "auto", "majority class"]
    assert table.loc[0, "mA (run's point)"] == 65.0 and table.loc[2, "mA @0.5"] == 50.0


def test_per_attribute_tables_are_averaged_over_a_models_seeds(tmp_path):
    for seed, tpr in ((0, 0.4), (1, 0.6)):
        (tmp_path / f"m{seed}").mkdir()
        pd.DataFrame({"attribute": ["Male", "Bald"], "group": ["Object", "Hair"], "tpr": [tpr, 0.1]}).to_csv(
            tmp_path / f"m{seed}" / "eval_val.per_attribute.csv", index=False)
    frame = pd.DataFrame({"run": ["m0", "m1"], "model": ["mgmtn", "mgmtn"], "split": ["val", "val"]})
    table = results.per_attribute(frame, "mgmtn", root=tmp_path)
    assert list(table["attribute"]) == ["Male", "Bald"]  # the file's order, not sorted
    assert table["tpr"].tolist() == pytest.approx([0.5, 0.1])


def test_mask_table_has_one_column_per_unet_run_in_percent(tmp_path):
    from mgmtn.attributes import GROUP_NAMES

    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "mask_f1.json").write_text(json.dumps(
        {"annotator": "dlib", "split": "val", "images": 4, "mean_f1": 0.9, "code_version": "x",
         "f1_per_group": {g: 0.8 for g in GROUP_NAMES}}))
    table = results.mask_table(root=tmp_path)
    assert list(table.columns) == ["u (dlib, val)"]
    assert list(table.index) == ["mean", *GROUP_NAMES] and table.loc["mean"].item() == 90.0


def test_attribute_figure_orders_by_the_first_model_and_scores_figure_spans_the_seeds():
    import matplotlib

    matplotlib.use("Agg")
    from mgmtn import plots

    table = pd.DataFrame({"attribute": ["Male", "Bald", "Smiling"], "balanced_accuracy": [0.9, 0.6, 0.8]})
    ax = plots.attribute_scores({"mgmtn": table, "global": table}).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Bald", "Smiling", "Male"]
    runs = pd.DataFrame({"model": ["global", "global"], "accuracy": [0.88, 0.90], "mA": [0.7, 0.72],
                         "tuned_accuracy": [0.87, 0.87], "tuned_mA": [0.8, 0.8]})
    bars = plots.scores_beside_paper(runs).axes[0].containers[0]  # threshold 0.5: mean 89, seeds 88 to 90
    assert bars.lines[0].get_xdata()[0] == pytest.approx(89.0)
    assert bars.lines[2][0].get_segments()[0][:, 0] == pytest.approx([88.0, 90.0])


def test_the_recorded_majority_floor_matches_the_one_from_labels(tmp_path):
    import numpy as np

    from mgmtn.attributes import ATTRIBUTES
    from mgmtn.metrics import majority_scores

    rng = np.random.default_rng(0)
    train, scored = ((rng.random((n, 40)) < np.linspace(0.05, 0.95, 40)).astype(np.uint8) for n in (200, 50))
    path = tmp_path / "eval_val.json"
    path.write_text(json.dumps({"per_attribute": {name: {"positive_rate": float(rate)}
                                                  for name, rate in zip(ATTRIBUTES, scored.mean(0))}}))
    assert results.recorded_majority(path) is None  # no saved probabilities: no floor
    np.savez(tmp_path / "eval_val.probs.npz", train_prior=train.mean(0))
    expected = {k: 100 * v for k, v in majority_scores(train, scored).items()}
    assert results.recorded_majority(path) == pytest.approx(expected)


def test_operating_curves_put_each_candidate_on_both_splits_and_mark_the_chosen_one(tmp_path):
    from mgmtn import plots

    candidates = {"prior 0.0": {"accuracy": 0.90, "mA": 0.74}, "prior 0.4": {"accuracy": 0.895, "mA": 0.78},
                  "tuned": {"accuracy": 0.87, "mA": 0.82}}
    (tmp_path / "s" / "global-seed0").mkdir(parents=True)
    (tmp_path / "s" / "global-seed0" / "eval_val.json").write_text(json.dumps(
        {"split": "val", "config": {"model": "global", "seed": 0},
         "tuned_on_select": {"rule": "prior 0.4", "on_select": candidates,
                             "by_rule": {k: {"accuracy": v["accuracy"] + 0.002, "mA": v["mA"]}
                                         for k, v in candidates.items()}}}))
    curves = results.operating_curves("s/*/eval_val.json", root=tmp_path)
    assert len(curves) == 6 and set(curves["split"]) == {"selection", "val"}
    chosen = curves[curves["chosen"]].set_index("split")
    assert chosen.loc["selection", "accuracy"] == pytest.approx(89.5)
    assert chosen.loc["val", "accuracy"] == pytest.approx(89.7)
    assert len(plots.operating_curves(curves, target=(89.5, 78)).axes) == 2


def test_a_schedule_row_takes_the_selection_scores_of_the_epoch_best_pt_holds(tmp_path):
    (tmp_path / "r").mkdir()
    pd.DataFrame({"epoch": [1, 2, 3], "select_accuracy": [0.80, 0.83, 0.83],
                  "select_mA": [0.70, 0.74, 0.76]}).to_csv(tmp_path / "r" / "metrics.csv", index=False)
    frame = pd.DataFrame({"run": ["r"], "model": ["global"], "epochs": [3], "lr": [0.002], "accuracy": [0.84], "mA": [0.77],
                          "tuned_accuracy": [0.83], "tuned_mA": [0.78]})
    row = results.schedules(frame, root=tmp_path).loc["r"]
    assert row["best epoch"] == 2 and row["select mA"] == 74.0  # a tie keeps the earlier epoch, as training does
    assert row["lr"] == 0.002 and row["val mA chosen"] == 78.0


def test_every_run_guided_by_a_committed_unet_records_that_unets_weights():
    """A committed UNet is the one its runs were guided by: swapping its weights fails here, not in a reader."""
    committed = {str(path.parent.relative_to(results.RESULTS)): unet_record(path)["sha256"]
                 for path in results.RESULTS.glob("*/*/unet.pt")}
    checked = 0
    for config in results.RESULTS.glob("*/*/config.json"):
        record = json.loads(config.read_text())
        folder = results.unet_folder(record)
        if folder in committed and record["unet"].get("sha256"):
            assert record["unet"]["sha256"] == committed[folder], f"{config}: guided by other weights than {folder}"
            checked += 1
    assert checked or not committed, "no committed run records the committed UNet"


def test_unet_chosen_on_reads_the_unets_own_record(tmp_path):
    """A UNet that records the epoch the selection split chose was chosen there; one without that record on val."""
    for name, record in (("new", {"chosen_epoch": 2, "mean_f1": 0.9}), ("old", {"mean_f1": 0.9})):
        (tmp_path / "study" / name).mkdir(parents=True)
        (tmp_path / "study" / name / "mask_f1.json").write_text(json.dumps(record))

    def chosen(weights):
        return results.unet_chosen_on({"unet": {"run": weights}}, root=tmp_path)

    assert chosen("/anywhere/results/study/new/unet.pt") == "selection"
    assert chosen("/elsewhere/results/study/old/unet.pt") == "val"
    assert chosen("/anywhere/results/study/gone/unet.pt") is None
    assert results.unet_chosen_on({"unet": None}, root=tmp_path) is None


def test_every_run_a_claim_reads_is_guided_by_a_unet_chosen_on_selection():
    """No verdict of the book rests on masks whose UNet chose its epoch on the split the verdict is read on."""
    checked = 0
    for comparison in (c for regime in claims.REGIMES for c in claims.comparisons(regime)):
        for pattern in (comparison.model, comparison.baseline):
            for path in (results.RESULTS / comparison.folder).glob(f"{pattern}/config.json"):
                assert results.unet_chosen_on(json.loads(path.read_text())) in (None, "selection"), path
                checked += 1
    assert checked


def test_no_committed_score_is_read_on_the_split_its_unet_chose_its_epoch_on():
    """A UNet chosen on val (trained before the selection rule) may guide a run scored elsewhere, never one
    scored on the val of the data it was chosen on."""
    guided = 0
    for path in results.RESULTS.glob("**/eval_*.json"):
        record = json.loads(path.read_text())
        chosen_on = results.unet_chosen_on(record["config"])
        guided += chosen_on is not None
        if chosen_on != "val":
            continue
        unet = json.loads((results.RESULTS / results.unet_folder(record["config"]) / "mask_f1.json").read_text())
        scored_on = (Path(record["data"]["root"]).name, record["split"])
        assert scored_on != (Path(unet["data"]["root"]).name, unet["split"]), f"{path}: its UNet chose on {scored_on}"
    assert guided, "no committed score of a mask-guided run was read"
