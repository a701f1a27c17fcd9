"""The from-scratch recipe's parts: selection split, image cache, per-attribute alpha, bias init, schedules."""

import math
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from mgmtn.config import TrainConfig, get_profile
from mgmtn.data import image_cache
from mgmtn.data.celeba import read_index
from mgmtn.data.dataset import CelebADataset
from mgmtn.data.layout import IDENTITY_FILE, IMAGE_DIR, write_attributes, write_partition
from mgmtn.data.splits import carve_selection
from mgmtn.data.transforms import EvalTransform, TrainTransform
from mgmtn.errors import DataError, MgmtnError
from mgmtn.losses import build_loss
from mgmtn.models import build_model, build_objective
from mgmtn.models.prior import start_at_prior
from mgmtn.optim import build_optimizer, build_schedule
from mgmtn.recipes import PRETRAINED_ROWS, PRETRAINED_START, chosen_row, folder_name, recipe_table, run_recipes
from mgmtn.results import RESULTS


@pytest.fixture
def people(tmp_path):
    """40 images of 10 people (4 each): 32 train, 8 val, with an identity file."""
    root = tmp_path / "people"
    (root / IMAGE_DIR).mkdir(parents=True)
    ids = [f"{i:06d}.jpg" for i in range(1, 41)]
    rng = np.random.default_rng(0)
    for image_id in ids:
        Image.fromarray(rng.integers(0, 255, (30, 24, 3), dtype=np.uint8)).save(root / IMAGE_DIR / image_id)
    write_attributes(root, ids, rng.integers(0, 2, (40, 40)))
    write_partition(root, ids, [0] * 32 + [1] * 8)
    (root / IDENTITY_FILE).write_text("".join(f"{image_id} {k // 4}\n" for k, image_id in enumerate(ids)))
    return root


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MGMTN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_selection_is_identity_disjoint_from_train_and_val(people):
    index = read_index(people)
    train, select = carve_selection(index.split("train"), 6)
    val = index.split("val")
    assert len(select) >= 6 and len(train) + len(select) == 32
    assert not set(train.ids) & set(select.ids) and not set(select.ids) & set(val.ids)
    assert not set(train.identities) & set(select.identities)
    assert carve_selection(index.split("train"), 6)[1].ids == select.ids  # the same draw for every run


def test_selection_is_capped_and_works_without_identities(people, tiny_celeba):
    (people / IDENTITY_FILE).unlink()
    train = read_index(people).split("train")
    rest, select = carve_selection(train, 2000)
    assert len(select) == 32 // 5 and len(rest) == 32 - 32 // 5 and not set(rest.ids) & set(select.ids)
    with pytest.raises(DataError, match="too small to hold out a selection split"):
        carve_selection(read_index(tiny_celeba).split("train"), 10)


def test_cached_items_equal_items_from_disk(people, cache_home):
    index = read_index(people)
    images = image_cache.resized_images(index, 20, progress=False)
    boxes = np.tile(np.array([[2, 3, 15, 20]], np.int16), (len(index), 8, 1))
    for transform in (TrainTransform(resize=20, crop=16), EvalTransform(size=16, resize=20)):
        cached = CelebADataset(index.split("val"), transform=transform, boxes=boxes[32:], seed=3, images=images)
        disk = CelebADataset(index.split("val"), transform=transform, boxes=boxes[32:], seed=3)
        for i in range(3):
            assert torch.equal(cached[i]["image"], disk[i]["image"])
            assert torch.equal(cached[i]["masks"], disk[i]["masks"])


def test_cache_is_rebuilt_when_an_image_changes(people, cache_home):
    index = read_index(people)
    first = image_cache.cache_path(index, 12)
    image_cache.resized_images(index, 12, progress=False)
    assert first.exists() and image_cache.cache_path(index, 16) != first
    Image.new("RGB", (30, 24), (255, 0, 0)).save(index.image_path(5))
    second = image_cache.cache_path(index, 12)
    assert second != first
    assert np.asarray(image_cache.resized_images(index, 12, progress=False).image(index.ids[5]))[0, 0, 0] > 240


def test_interrupted_cache_build_leaves_nothing(people, cache_home, monkeypatch):
    index = read_index(people)
    real = image_cache._decode

    def fail_late(index, size, i):
        if i == 30:
            raise KeyboardInterrupt
        return real(index, size, i)

    monkeypatch.setattr(image_cache, "_decode", fail_late)
    with pytest.raises(KeyboardInterrupt):
        image_cache.resized_images(index, 12, progress=False)
    assert not image_cache.cache_path(index, 12).exists()
    assert not [p for p in (cache_home / "images").iterdir() if p.suffix == ".tmp"]


def test_eval_transform_centre_crops_after_the_training_resize():
    image = Image.new("RGB", (178, 218))
    out, quads = EvalTransform(size=112, resize=126).apply(image, np.array([[0, 0, 178, 218]] * 8))
    assert out.size == (112, 112)
    assert np.allclose(quads[0, 0], [-7, -7]) and np.allclose(quads[0, 2], [119, 119])


def test_efl_with_a_per_attribute_alpha_matches_a_hand_computed_case():
    loss = build_loss("efl", alpha="prior", prior=np.full(40, 0.2))
    logits, targets = torch.zeros(1, 40), torch.ones(1, 40)
    # p = 0.5 everywhere, no statistics yet: gamma = gamma_b = 2, w = 1, alpha = 1 - 0.2 for positives.
    expected = 0.8 * 0.5 ** 2 * math.log(2)
    assert loss.eval()(logits, targets).item() == pytest.approx(expected, rel=1e-6)
    assert build_loss("focal", alpha=0.5)(logits, targets).item() == pytest.approx(0.5 * 0.25 * math.log(2), rel=1e-6)


def test_bias_init_gives_the_label_priors_at_step_zero():
    prior = np.linspace(0.02, 0.9, 40)
    expected = torch.tensor(prior, dtype=torch.float32).expand(3, -1)
    for name in ("global", "ag", "mgg-net", "far-amtn"):
        model = build_model(name, backbone="tiny").eval()
        start_at_prior(model, prior)
        probs = model(torch.randn(3, 3, 32, 32)).logits.sigmoid()
        assert torch.allclose(probs, expected, atol=1e-5)
    # DMM-CNN regresses +-1 targets with MSE (Eq. 2): its constant best guess is the score 2p - 1, and at
    # threshold 0 it predicts exactly the attributes that are more often present than not.
    model = build_model("dmm-cnn", backbone="tiny").eval()
    start_at_prior(model, prior)
    out = model(torch.randn(3, 3, 32, 32))
    assert torch.allclose(out.extras["scores"], 2 * expected - 1, atol=1e-5)
    assert torch.equal(out.logits > 0, expected > 0.5)
    # A balanced loss's best constant is 0.5: those objectives say so, and training leaves their heads alone.
    assert [build_objective(name, build_model(name, backbone="tiny")).balanced
            for name in ("mgg-net", "mgg-net-balanced", "cascade")] == [False, True, True]


def test_adamw_decays_weights_only_and_the_cosine_schedule_warms_up():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    optimizer = build_optimizer(model.named_parameters(), "adamw", 1.0, 0.1)
    decayed, free = optimizer.param_groups
    assert [p.ndim for p in decayed["params"]] == [2] and free["weight_decay"] == 0 and len(free["params"]) == 3
    schedule = build_schedule(optimizer, "cosine", epochs=2, steps_per_epoch=5, warmup_epochs=0.4)
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[:2] == [0.5, 1.0] and rates[-1] < 0.05 and all(a >= b for a, b in zip(rates[1:], rates[2:]))


def _two_part_model() -> torch.nn.Module:
    model = torch.nn.Module()
    model.backbone = torch.nn.Linear(4, 4)
    model.head = torch.nn.Linear(4, 2)
    return model


@pytest.mark.parametrize("kind", ["adam", "adamw"])
def test_the_backbone_learns_at_its_own_rate(kind):
    model = _two_part_model()
    same = build_optimizer(model.named_parameters(), kind, 1e-3, 0.1)
    assert not any(group.get("backbone") for group in same.param_groups)  # the groups of earlier runs, which resume
    optimizer = build_optimizer(model.named_parameters(), kind, 1e-3, 0.1, backbone_lr=0.1)
    rates = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    assert [rates[id(p)] for p in model.backbone.parameters()] == pytest.approx([1e-4, 1e-4])
    assert [rates[id(p)] for p in model.head.parameters()] == pytest.approx([1e-3, 1e-3])
    assert len(same.param_groups) * 2 == len(optimizer.param_groups)


def test_a_frozen_first_epoch_holds_the_backbone_and_trains_the_heads():
    torch.manual_seed(0)
    model = _two_part_model()
    optimizer = build_optimizer(model.named_parameters(), "adamw", 1e-2, 0.05, backbone_lr=0.5)
    schedule = build_schedule(optimizer, "cosine", epochs=2, steps_per_epoch=3, warmup_epochs=0.5, frozen_epochs=1)
    start = {name: p.detach().clone() for name, p in model.named_parameters()}

    def moved(prefix: str) -> bool:
        return any(not torch.equal(p, start[name]) for name, p in model.named_parameters() if name.startswith(prefix))

    for step in range(6):
        optimizer.zero_grad()
        model.head(model.backbone(torch.randn(8, 4))).pow(2).mean().backward()
        optimizer.step()
        schedule.step()
        if step == 2:  # the end of the frozen epoch
            assert moved("head.") and not moved("backbone.")
    assert moved("backbone.")
    with pytest.raises(MgmtnError, match="onecycle"):
        build_schedule(optimizer, "onecycle", epochs=2, steps_per_epoch=3, frozen_epochs=1)
    with pytest.raises(MgmtnError, match="at least 0"):
        build_optimizer(model.named_parameters(), "adam", 1e-3, 0.0, backbone_lr=-1)


def test_the_pretrained_profile_and_its_recipe_study():
    cfg = get_profile("cpu-pretrained").train
    assert (cfg.backbone, cfg.pretrained, cfg.image_size, cfg.backbone_lr) == ("dlib-resnet29", True, 150, 0.01)
    fields = set(TrainConfig.__dataclass_fields__)
    assert len(PRETRAINED_ROWS) >= 4 and all(set(change) <= fields for change in PRETRAINED_ROWS.values())
    changed = {key for change in PRETRAINED_ROWS.values() for key in change}
    assert {"resize_ratio", "image_size", "backbone_lr", "freeze_backbone_epochs", "epochs", "pretrained"} <= changed
    assert len({folder_name(row) for row in PRETRAINED_ROWS}) == len(PRETRAINED_ROWS)
    with pytest.raises(MgmtnError, match="unknown row"):
        run_recipes(Path("nowhere"), Path("nowhere"), rows=["start", "nope"], study="pretrained")
    with pytest.raises(MgmtnError, match="unknown recipe study"):
        recipe_table(Path("nowhere"), study="nope")


def test_the_chosen_row_is_the_best_on_selection_whatever_val_says():
    table = pd.DataFrame({"row": ["start", "zoom", "lr"], "select acc": [89.0, 89.4, 89.4],
                          "select mA": [70.0, 71.0, 72.0], "val acc": [95.0, 80.0, 80.0]})
    assert chosen_row(table) == "lr"  # the tie on accuracy goes to mA; val's 95 plays no part
    with pytest.raises(MgmtnError, match="no finished row"):
        chosen_row(table.iloc[:0])


def test_the_pretrained_profile_takes_the_row_the_committed_screen_chose():
    root = RESULTS / "recipe-pretrained-celeba-subset"
    table = recipe_table(root, study="pretrained")
    if table.empty:
        pytest.skip(f"no finished row under {root}")
    for row in table["row"]:  # every committed row trained its start plus its own change
        recorded = json.loads((root / folder_name(row) / "train.json").read_text())["config"]["train"]
        assert all(recorded[k] == v for k, v in {**PRETRAINED_START, **PRETRAINED_ROWS[row]}.items()), row
    cfg = get_profile("cpu-pretrained").train
    chosen = {**PRETRAINED_START, **PRETRAINED_ROWS[chosen_row(table)]}
    assert all(getattr(cfg, k) == v for k, v in chosen.items())
