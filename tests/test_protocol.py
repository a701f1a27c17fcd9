"""The protocol itself: the selection split chooses, val only reports, and the operating point travels with the run."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from mgmtn import operating_point
from mgmtn.config import ensure_synthetic
from mgmtn.data.celeba import read_index
from mgmtn.data.layout import ATTR_FILE, IMAGE_DIR, PARTITIONS, write_attributes, write_identities, write_partition
from mgmtn.data.splits import carve_selection, ids_digest
from mgmtn.engine import LoopConfig, fit, load_checkpoint
from mgmtn.errors import MgmtnError
from mgmtn.evaluate import evaluate, rescore
from mgmtn.train import train
from mgmtn.train_unet import train_unet

FAST = dict(epochs=2, image_size=32, train_limit=48, select_images=32, batch_size=16)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """Synthetic faces with an identity file: every two consecutive images show one person."""
    root = ensure_synthetic(120, seed=5, root=tmp_path_factory.mktemp("faces") / "synth", progress=False)
    index = read_index(root)
    write_identities(root, index.ids, [i // 2 for i in range(len(index))])
    return root


@pytest.fixture(scope="module")
def run(faces, tmp_path_factory):
    return train(faces, tmp_path_factory.mktemp("run") / "global", "global", **FAST)


def copy_of(data, target, labels=None, partition=None):
    """A data folder with the same images (linked) and, optionally, other labels or partitions."""
    index = read_index(data)
    target.mkdir()
    (target / IMAGE_DIR).symlink_to(data / IMAGE_DIR)
    shutil.copy(data / "identity_CelebA.txt", target / "identity_CelebA.txt")
    write_attributes(target, index.ids, index.labels if labels is None else labels)
    write_partition(target, index.ids, index.partition if partition is None else partition)
    return target


class Scripted:
    """A task whose scores follow a script per split and epoch, so that the selection split and val disagree."""

    def __init__(self, script):
        self.script, self.calls = script, {}

    def loss(self, model, batch):
        return model(batch["image"]).sum() * 0

    def evaluate(self, model, loader):
        split = loader.name
        epoch = self.calls.get(split, 0)
        self.calls[split] = epoch + 1
        return {"accuracy": self.script[split][epoch]}


def test_best_pt_follows_the_selection_split_not_val(tmp_path):
    batches = [{"image": torch.ones(2, 3)}]
    loaders = {}
    for name in ("train", "select", "val"):
        loaders[name] = type("Loader", (list,), {"name": name, "dataset": None, "sampler": None})(batches)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    task = Scripted({"select": [0.5, 0.9, 0.7], "val": [0.5, 0.6, 0.99]})  # val would pick the last epoch
    history = fit(model, task, loaders["train"], loaders["select"], optimizer, scheduler,
                  LoopConfig(epochs=3, split="select"), tmp_path, report={"val": loaders["val"]})
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == 1  # the second epoch, best on selection
    assert list(history.columns[-2:]) == ["select_accuracy", "val_accuracy"]
    assert history["val_accuracy"].tolist() == [0.5, 0.6, 0.99]  # recorded, never choosing


def test_the_engine_has_no_default_split():
    with pytest.raises(TypeError):
        LoopConfig(epochs=1)


def test_the_unet_chooses_on_the_selection_split_and_reports_val(faces, tmp_path):
    result = train_unet(faces, tmp_path / "unet", epochs=2, input_size=32, train_limit=32, val_limit=16)
    history = pd.read_csv(tmp_path / "unet" / "metrics.csv")
    assert {"select_mean_f1", "val_mean_f1"} <= set(history.columns)
    assert result["chosen_epoch"] == history.loc[history["select_mean_f1"].idxmax(), "epoch"]
    assert result["split"] == "val" and result["config"]["split"]["select_identity_disjoint"]


def test_selection_is_disjoint_by_identity_from_training_and_val(faces, run):
    index = read_index(faces)
    rest, select = carve_selection(index.split("train"), FAST["select_images"])
    people = {name: set(part.identities) for name, part in
              (("select", select), ("rest", rest), ("val", index.split("val")))}
    assert not people["select"] & people["rest"] and not people["select"] & people["val"]
    assert not set(select.ids) & set(rest.ids)
    config = json.loads((run / "config.json").read_text())
    assert config["split"]["select_sha256"] == ids_digest(select.ids)
    assert json.loads((run / operating_point.FILE).read_text())["select_sha256"] == ids_digest(select.ids)


def test_permuting_val_labels_changes_no_threshold(faces, run, tmp_path):
    index = read_index(faces)
    labels = index.labels.copy()
    val = np.flatnonzero(index.partition == PARTITIONS["val"])
    labels[val] = labels[np.random.default_rng(0).permutation(val)]
    shuffled = copy_of(faces, tmp_path / "shuffled", labels=labels)
    first, second = (evaluate(run, data, split="val", out=tmp_path / f"{data.name}.json")
                     for data in (faces, shuffled))
    assert first["thresholds"] == second["thresholds"]
    assert first["tuned_on_select"]["rule"] == second["tuned_on_select"]["rule"]
    # The run's own point, chosen at the end of training, is the one evaluate chooses on its folder.
    recorded = json.loads((run / operating_point.FILE).read_text())
    assert recorded["thresholds"] == first["thresholds"] and recorded["rule"] == first["at_run_point"]["rule"]


def test_evaluate_refuses_another_selection_carve(faces, run, tmp_path):
    index = read_index(faces)
    partition = index.partition.copy()
    partition[np.flatnonzero(partition == PARTITIONS["train"])[:10]] = PARTITIONS["test"]
    moved = copy_of(faces, tmp_path / "moved", partition=partition)
    with pytest.raises(MgmtnError, match="is not the one .* chose its operating point on"):
        evaluate(run, moved, split="val", out=tmp_path / "refused.json")
    assert not (tmp_path / "refused.json").exists()


def test_a_test_only_folder_gets_the_run_s_own_point(faces, run, tmp_path):
    index = read_index(faces)
    only_test = copy_of(faces, tmp_path / "test-only", partition=np.full(len(index), PARTITIONS["test"]))
    result = evaluate(run, only_test, split="test", out=tmp_path / "eval_test.json")
    recorded = operating_point.read(run)
    assert "tuned_on_select" not in result and result["at_run_point"]["rule"] == recorded["rule"]
    probs = np.load(tmp_path / "eval_test.probs.npz")["probs"].astype(np.float32)
    truth = index.labels.astype(bool)[[index.ids.index(i) for i in np.load(tmp_path / "eval_test.probs.npz")["ids"]]]
    accuracy = ((probs >= recorded["array"]) == truth).mean()
    assert result["at_run_point"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)


def test_rescore_rewrites_the_point_only_when_the_rule_changes(faces, run, tmp_path):
    out = tmp_path / "eval_val.json"
    evaluate(run, faces, split="val", out=out)
    before = (run / operating_point.FILE).read_text()
    rescore(out, read_index(faces))
    assert (run / operating_point.FILE).read_text() == before  # the same choice: the file is not rewritten
    point = json.loads(before)
    point["rule"] = "prior 0.0"
    (run / operating_point.FILE).write_text(json.dumps(point))
    rescore(out, read_index(faces))
    assert json.loads((run / operating_point.FILE).read_text())["rule"] == json.loads(before)["rule"]


def test_a_broken_operating_point_is_named(tmp_path):
    (tmp_path / operating_point.FILE).write_text("{}")
    with pytest.raises(MgmtnError, match="operating_point.json: not an operating point"):
        operating_point.read(tmp_path)


def test_predict_answers_at_the_run_s_point_and_prints_the_probability(faces, run, capsys):
    from mgmtn.cli import main

    image = read_index(faces).image_path(0)
    assert main(["predict", str(run), str(image), "--align", "none"]) == 0
    out = capsys.readouterr().out
    assert f"yes/no at the run's operating point ({operating_point.read(run)['rule']})" in out
    assert any(line.split()[-2] in ("yes", "no") for line in out.splitlines()[2:] if line.strip())
