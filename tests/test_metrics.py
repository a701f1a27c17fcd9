import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from mgmtn.metrics import per_attribute, summary, tune_thresholds


def test_hand_computed_case():
    # attribute 0: 2 positives (1 found), 2 negatives (both right) -> acc 3/4, mA (1/2 + 1)/2
    # attribute 1: all four right -> acc 1, mA 1
    targets = np.array([[1, 1], [1, 0], [0, 1], [0, 0]])
    probs = np.array([[0.9, 0.8], [0.2, 0.1], [0.4, 0.7], [0.1, 0.3]])
    result = summary(targets, probs)
    assert result["accuracy"] == pytest.approx((0.75 + 1.0) / 2)
    assert result["mA"] == pytest.approx((0.75 + 1.0) / 2)
    table = per_attribute(targets, probs, names=["a", "b"])
    assert table.loc[0, "tpr"] == 0.5 and table.loc[0, "tnr"] == 1.0


def test_mA_matches_scikit_learn_balanced_accuracy():
    rng = np.random.default_rng(0)
    targets = (rng.random((500, 40)) < rng.uniform(0.02, 0.6, 40)).astype(int)
    probs = np.clip(targets * 0.3 + rng.random((500, 40)) * 0.7, 0, 1)
    expected = np.mean([balanced_accuracy_score(targets[:, j], probs[:, j] >= 0.5) for j in range(40)])
    assert summary(targets, probs)["mA"] == pytest.approx(expected)
    assert set(per_attribute(targets, probs)["group"]) >= {"Mouth", "Object"}


def test_thresholds_tuned_per_attribute_beat_the_default():
    rng = np.random.default_rng(1)
    targets = (rng.random((400, 3)) < 0.3).astype(int)
    probs = np.clip(0.2 + 0.25 * targets + rng.normal(0, 0.05, targets.shape), 0, 1)  # all below 0.5
    thresholds = tune_thresholds(targets, probs)
    assert np.all((thresholds > 0.2) & (thresholds < 0.5))
    assert summary(targets, probs, thresholds)["accuracy"] > summary(targets, probs)["accuracy"] + 0.2
    assert summary(targets, probs, tune_thresholds(targets, probs, "balanced_accuracy"))["mA"] > 0.9


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError, match="must be equal"):
        summary(np.zeros((3, 40)), np.zeros((3, 39)))


def test_tuned_thresholds_win_when_they_cost_no_accuracy():
    from mgmtn.operating_point import select_thresholds

    rng = np.random.default_rng(0)
    targets = (rng.random((400, 40)) < 0.2).astype(np.uint8)
    # Scores that separate the classes around 0.3: the tuned rule must find that and beat the prior-weighted ones.
    probs = np.clip(0.3 + np.where(targets, 0.1, -0.1) + rng.normal(0, 0.03, targets.shape), 0, 1)
    rule, rules, scores = select_thresholds(targets, probs, np.full(40, 0.9))
    assert rule == "tuned" and scores["tuned"]["mA"] > scores["prior 0.5"]["mA"]
    assert np.all(np.abs(rules["tuned"] - 0.3) < 0.1)
    np.testing.assert_allclose(rules["prior 0.5"], 0.7)
    np.testing.assert_allclose(rules["prior 0.0"], 0.5)


def test_the_chosen_point_spends_at_most_the_accuracy_budget():
    from mgmtn.operating_point import ACCURACY_BUDGET, PRIOR_WEIGHTS, select_thresholds

    rng = np.random.default_rng(1)
    # Calibrated scores of rare attributes: 0.5 is the most accurate threshold, and every step towards the
    # positive rate buys mA with accuracy, so the budget must stop the choice between the two ends.
    truth = rng.random((4000, 40)) * 0.6
    targets = (rng.random(truth.shape) < truth).astype(np.uint8)
    rule, _, scores = select_thresholds(targets, truth, targets.mean(0))
    floor = scores["prior 0.0"]["accuracy"] - ACCURACY_BUDGET
    assert rule.startswith("prior") and rule != "prior 0.0" and scores[rule]["accuracy"] >= floor
    assert scores[rule]["mA"] > scores["prior 0.0"]["mA"]
    heavier = [f"prior {w:.1f}" for w in PRIOR_WEIGHTS if w > float(rule.split()[1])]
    assert heavier and all(scores[name]["accuracy"] < floor for name in heavier)
