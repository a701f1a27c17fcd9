"""The comparison methods (DMM-CNN, MGG-Net, FAR-AMTN, cascade): their rules, a smoke run each, exact resume."""

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mgmtn.attributes import ATTRIBUTES
from mgmtn.config import ensure_synthetic
from mgmtn.data.transforms import TrainTransform
from mgmtn.engine import load_checkpoint
from mgmtn.evaluate import evaluate
from mgmtn.models import LANDMARK_MODELS, ModelOutput, build_model, build_objective
from mgmtn.models.cascade import region_boxes
from mgmtn.models.objective import balance_weights
from mgmtn.models.dmm_cnn import OBJECTIVE, SUBJECTIVE, adapt_thresholds, dynamic_weights
from mgmtn.models.far_amtn import dws_weights
from mgmtn.models.landmarks import CornerTargets
from mgmtn.models.mgg_net import mean_probability_logit
from mgmtn.train import train

COMPARISON = ("dmm-cnn", "mgg-net", "far-amtn", "cascade")
FAST = dict(epochs=1, image_size=32, train_limit=48, select_images=32, batch_size=16)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return ensure_synthetic(120, seed=3, root=tmp_path_factory.mktemp("faces") / "synth", progress=False)


@pytest.fixture
def images():
    torch.manual_seed(1)
    return torch.randn(4, 3, 32, 32)


@pytest.mark.parametrize("name", COMPARISON)
def test_forward_gives_40_logits(name, images):
    out = build_model(name, backbone="tiny").eval()(images)
    assert isinstance(out, ModelOutput) and out.masks is None
    assert out.logits.shape == (4, 40) and torch.isfinite(out.logits).all()


@pytest.mark.parametrize("name", COMPARISON)
def test_trains_one_epoch_and_evaluates(name, faces, tmp_path):
    run = train(faces, tmp_path / name, name, **FAST)
    assert len(pd.read_csv(run / "metrics.csv")) == 1
    assert "task" in load_checkpoint(run / "last.pt")["stateful"]  # the objective's state travels with the run
    result = evaluate(run, faces, split="val")
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["mA"] <= 1


def test_comparison_run_resumes_to_the_same_result(faces, tmp_path):
    # DMM-CNN carries the most state: thresholds (model), weights, last losses and landmark head (objective).
    settings = dict(FAST, epochs=3)
    straight = train(faces, tmp_path / "straight", "dmm-cnn", **settings)
    train(faces, tmp_path / "resumed", "dmm-cnn", stop_after=1, **settings)
    resumed = train(faces, tmp_path / "resumed", "dmm-cnn", resume=True, **settings)
    timings = ["train_seconds", "eval_seconds"]
    a, b = (pd.read_csv(run / "metrics.csv").drop(columns=timings) for run in (straight, resumed))
    pd.testing.assert_frame_equal(a, b)
    state_a, state_b = (load_checkpoint(run / "last.pt") for run in (straight, resumed))
    torch.testing.assert_close(state_a["model"]["thresholds"], state_b["model"]["thresholds"])
    assert not torch.equal(state_a["model"]["thresholds"], torch.zeros(40))
    for key, value in state_a["stateful"]["task"].items():
        torch.testing.assert_close(value, state_b["stateful"]["task"][key], equal_nan=True)


# --- DMM-CNN -----------------------------------------------------------------------------------

def test_objective_and_subjective_split_the_40_attributes_22_18():
    assert len(OBJECTIVE) == 22 and len(SUBJECTIVE) == 18
    assert sorted(OBJECTIVE + SUBJECTIVE) == sorted(ATTRIBUTES)
    assert {"Eyeglasses", "Bangs", "Wearing_Hat", "Mouth_Slightly_Open"} <= set(OBJECTIVE)  # Fig. 1, Sec. 4.2
    assert {"Smiling", "Pointy_Nose", "Big_Lips", "Young", "Oval_Face"} <= set(SUBJECTIVE)


def test_dmm_logits_are_positive_exactly_above_the_thresholds(images):
    model = build_model("dmm-cnn", backbone="tiny").eval()
    with torch.no_grad():
        scores = model(images).extras["scores"]
        model.thresholds.copy_(scores[0])  # image 0 sits exactly on every threshold: negative (Eq. 5)
        out = model(images)
    assert torch.equal(out.logits > 0, scores > scores[0])
    assert not (out.logits[0] > 0).any()


def test_thresholds_follow_false_positives_minus_false_negatives():
    scores = torch.tensor([[0.5, 0.5], [0.5, -0.5], [-0.5, -0.5], [-0.5, 0.5]])
    targets = torch.tensor([[0, 1], [0, 1], [0, 1], [1, 1]])  # attribute 0: 2 FP, 1 FN; attribute 1: 0 FP, 2 FN
    tau = adapt_thresholds(torch.zeros(2), scores, targets, epoch=3, gamma=0.01)
    torch.testing.assert_close(tau, torch.tensor([0.01 * 3 * 1 / 4, 0.01 * 3 * -2 / 4]))


def test_dynamic_weights_favour_attributes_whose_validation_loss_still_falls():
    previous = torch.tensor([1.0, 1.0, 1.0, 0.5])
    current = torch.tensor([0.5, 0.95, 1.0, 0.6])  # falls fast, falls slowly, stalls, rises
    weights = dynamic_weights(current, previous)
    torch.testing.assert_close(weights, torch.tensor([0.5, 0.05, 0.0, 0.2]))
    assert weights[0] > weights[1] > weights[2]


def test_dmm_objective_updates_weights_from_the_second_validation_on():
    model = build_model("dmm-cnn", backbone="tiny")
    objective = build_objective("dmm-cnn", model)
    targets = torch.zeros(4, 40)
    logits = torch.full((4, 40), 0.0)
    objective.learn(model, targets, logits)
    assert torch.equal(objective.weights, torch.ones(40)) and objective.epoch == 1
    logits[:, 0] = -0.8  # attribute 0 moved towards its -1 target; the others stayed
    objective.learn(model, targets, logits)
    assert objective.weights[0] > 0.5 and torch.allclose(objective.weights[1:], torch.zeros(39))


def test_landmark_corners_keep_their_meaning_under_a_flip():
    image = Image.new("RGB", (40, 40))
    boxes = np.array([[[4, 6, 20, 30]] * 8])[0]
    plain, flipped = (CornerTargets(TrainTransform(resize=40, crop=40, p_rotate=0, p_flip=p))(
        image, boxes, np.random.default_rng(0))[1] for p in (0.0, 1.0))
    assert plain.shape == (32, 2) and plain.min() >= -1 and plain.max() <= 1
    first, second = flipped[0], flipped[1]  # still top left, then top right
    assert first[0] < second[0] and first[1] == second[1]
    mirrored = -plain.reshape(8, 4, 2)[:, [1, 0, 3, 2], 0].ravel()
    np.testing.assert_allclose(flipped[:, 0], mirrored, atol=1e-6)
    assert "dmm-cnn" in LANDMARK_MODELS


# --- MGG-Net ------------------------------------------------------------------------------------

def test_mgg_prediction_averages_base_and_graph_probabilities(images):
    out = build_model("mgg-net", backbone="tiny").eval()(images)
    parts = [out.extras["base"], *out.extras["gcl"]]
    expected = sum(torch.sigmoid(z) for z in parts) / len(parts)  # Eq. 4, B = 2 blocks
    torch.testing.assert_close(torch.sigmoid(out.logits), expected)
    assert len(out.extras["gal"]) == 2 and set(out.extras["attention"]) == {"F3", "F4"}


def test_mgg_balanced_loss_weighs_positives_and_negatives_equally(images):
    torch.manual_seed(0)
    model = build_model("mgg-net-balanced", backbone="tiny").eval()
    batch = {"image": images, "labels": (torch.rand(4, 40) > 0.8).float()}
    out = model(images)
    weights = balance_weights(batch["labels"])
    expected = sum(
        (F.binary_cross_entropy_with_logits(z, batch["labels"], reduction="none") * weights).sum(0).mean()
        for z in [out.logits, out.extras["base"], *out.extras["gal"], *out.extras["gcl"]])
    torch.testing.assert_close(build_objective("mgg-net-balanced", model).loss(model, batch), expected)
    assert not torch.isclose(build_objective("mgg-net", model).loss(model, batch), expected)


def test_mean_probability_logit_stays_finite_at_extremes():
    z = [torch.tensor([80.0, -80.0, 80.0]), torch.tensor([80.0, -80.0, -80.0])]
    logit = mean_probability_logit(z)
    assert torch.isfinite(logit).all() and logit[0] > 20 and logit[1] < -20 and logit[2].abs() < 1e-4


# --- FAR-AMTN -----------------------------------------------------------------------------------

def test_dws_gives_slowly_converging_groups_more_weight():
    weights = dws_weights(torch.tensor([0.5, 0.9, 1.0]), torch.tensor([1.0, 1.0, 1.0]))
    assert weights.sum() == pytest.approx(3) and weights[0] < weights[1] < weights[2]


# --- cascade ------------------------------------------------------------------------------------

def test_batch_balancing_gives_positives_and_negatives_equal_shares():
    targets = torch.tensor([[1, 0, 1], [0, 0, 1], [0, 0, 1], [0, 1, 1]]).float()
    weights = balance_weights(targets)
    torch.testing.assert_close(weights.sum(0), torch.ones(3))
    torch.testing.assert_close(weights[:, 0], torch.tensor([0.5, 1 / 6, 1 / 6, 1 / 6]))
    torch.testing.assert_close(weights[:, 2], torch.full((4,), 0.25))  # no negatives: plain mean


def test_region_is_the_box_around_hot_cells_or_the_whole_image():
    response = torch.full((1, 2, 4, 4), -1.0)
    response[0, 0, 1, 2] = response[0, 0, 2, 3] = 1.0
    boxes = region_boxes(response, (32, 32))
    torch.testing.assert_close(boxes[0, 0], torch.tensor([16.0, 8.0, 32.0, 24.0]))
    torch.testing.assert_close(boxes[0, 1], torch.tensor([0.0, 0.0, 32.0, 32.0]))


def test_early_stopped_attribute_head_stops_changing(images):
    torch.manual_seed(0)
    model = build_model("cascade", backbone="tiny")
    objective = build_objective("cascade", model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=0.1)
    batch = {"image": images, "labels": (torch.rand(4, 40) > 0.5).float()}

    def step():
        optimizer.zero_grad()
        objective.loss(model, batch).backward()
        optimizer.step()

    step()  # Adam now has momentum for every weight
    stopped = torch.zeros(40, dtype=torch.bool)
    stopped[5] = True
    objective.best.fill_(0.0)
    objective.waited[5] = objective.patience - 1
    objective.learn(model, batch["labels"], torch.zeros(4, 40))  # attribute 5 has waited long enough
    assert torch.equal(model.heads.stopped, stopped)
    names = list(model.heads.live)
    before = {name: model.heads.get(name).detach().clone() for name in names}
    step()
    step()
    for name in names:
        after = model.heads.get(name)
        assert torch.equal(after[5], before[name][5]), name
        assert not torch.equal(after[6], before[name][6]), name
