"""The paired bootstrap and the verdict rule, against cases whose answer is known."""

import numpy as np
import pytest

from mgmtn import metrics
from mgmtn.stats import Resamples, image_weights, paired_gain, verdict

RNG = np.random.default_rng(0)
LABELS = RNG.random((400, 40)) < 0.3


def noisy(flip: float, seed: int) -> np.ndarray:
    """Answers that get each label wrong with probability ``flip``."""
    wrong = np.random.default_rng(seed).random(LABELS.shape) < flip
    return LABELS ^ wrong


def test_each_resample_draws_every_image_count_once_in_total():
    weights = image_weights(50, 7, seed=1)
    assert weights.shape == (7, 50) and (weights.sum(1) == 50).all() and (weights != 1).any()


def test_observed_scores_are_the_metrics_of_the_book():
    answers = noisy(0.2, 1)
    observed = Resamples(LABELS, 10).scores(answers)
    expected = metrics.summary(LABELS, answers.astype(float))
    assert observed["accuracy"][0] == pytest.approx(expected["accuracy"])
    assert observed["mA"][0] == pytest.approx(expected["mA"])


def test_identical_models_give_an_interval_around_zero():
    seeds = [noisy(0.2, s) for s in (1, 2)]
    gains = paired_gain(LABELS, seeds, seeds, replicates=300)
    for g in gains.values():
        assert g.gain == pytest.approx(0) and g.low <= 0 <= g.high
        assert verdict(g.low, g.high, +1) == "inconclusive"


def test_a_model_better_on_every_image_gives_an_interval_above_zero():
    worse = noisy(0.2, 1)
    better = worse.copy()
    better[:, 0] = LABELS[:, 0]  # the first attribute right on every image, the rest unchanged
    gains = paired_gain(LABELS, [better], [worse], replicates=300)
    accuracy = gains["accuracy"]
    assert accuracy.gain == pytest.approx(100 * (LABELS[:, 0] != worse[:, 0]).mean() / 40, rel=1e-4)
    assert 0 < accuracy.low <= accuracy.gain <= accuracy.high
    assert verdict(accuracy.low, accuracy.high, +1.4) == "agrees"
    assert verdict(accuracy.low, accuracy.high, -0.2) == "disagrees"


def test_pairing_is_tighter_than_independent_noise():
    """The same images resampled for both models: a small, consistent gain is resolved."""
    base = noisy(0.25, 3)
    better = base.copy()
    fixed = np.random.default_rng(4).random(LABELS.shape) < 0.02
    better[fixed] = LABELS[fixed]
    accuracy = paired_gain(LABELS, [better], [base], replicates=300)["accuracy"]
    assert accuracy.low > 0


def test_seed_noise_widens_the_interval():
    one = paired_gain(LABELS, [noisy(0.2, 1)], [noisy(0.2, 9)], replicates=300)["accuracy"]
    spread = paired_gain(LABELS, [noisy(0.1, 1), noisy(0.3, 2)], [noisy(0.2, 9)], replicates=300)["accuracy"]
    assert spread.high - spread.low > one.high - one.low


def test_verdict_rule():
    assert verdict(0.1, 0.5, 1.0) == "agrees"
    assert verdict(-0.5, -0.1, 1.0) == "disagrees"
    assert verdict(-0.5, -0.1, -0.3) == "agrees"
    assert verdict(-0.1, 0.5, 1.0) == "inconclusive"
    assert verdict(float("nan"), 0.5, 1.0) == "inconclusive"


def test_answers_on_other_images_are_refused():
    with pytest.raises(ValueError, match="same images"):
        paired_gain(LABELS, [LABELS[:10]], [LABELS], replicates=10)
