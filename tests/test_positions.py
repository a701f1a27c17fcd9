import json

import numpy as np
import pytest

from mgmtn.attributes import GROUP_NAMES
from mgmtn.config import ensure_synthetic
from mgmtn.masks import annotate
from mgmtn.positions import activation_positions, inside_table
from mgmtn.train import train
from mgmtn.train_unet import train_unet

FAST = dict(epochs=1, image_size=32, train_limit=32, select_images=16, batch_size=16)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("positions")
    faces = ensure_synthetic(80, seed=4, root=root / "faces", progress=False)
    annotate(faces, "synthetic", workers=1, progress=False)
    unet = root / "unet"
    train_unet(faces, unet, epochs=1, input_size=32, train_limit=32, val_limit=16)
    return faces, {name: train(faces, root / name, name, unet=unet, **FAST) for name in ("global", "mgmtn")}


def test_positions_are_a_density_per_group_and_written_with_provenance(runs):
    faces, folders = runs
    found = {name: activation_positions(run, faces, "synthetic", limit=20) for name, run in folders.items()}
    assert found["global"]["level"] == "F5" and found["mgmtn"]["level"] == "F4"
    for result in found.values():
        for group in GROUP_NAMES:
            assert np.sum(result["density"][group]) == pytest.approx(1.0, abs=1e-3)
            assert 0 <= result["inside"][group] <= 1 and 0 <= result["chance"][group] <= 1
    # the global feature's positions are shared by every group
    assert len({json.dumps(found["global"]["density"][g]) for g in GROUP_NAMES}) == 1
    saved = json.loads((folders["mgmtn"] / "positions_val.json").read_text())
    assert saved["code_version"] and saved["images"] == found["mgmtn"]["images"] > 0 and saved["config"]["model"] == "mgmtn"
    table = inside_table(found)
    assert list(table.columns) == ["global", "mgmtn", "chance"] and table.index[-1] == "mean"
    assert table.loc["mean", "chance"] == pytest.approx(100 * np.mean(list(found["global"]["chance"].values())))


def test_positions_verb_prints_the_shares(runs, capsys):
    from mgmtn.cli import main

    faces, folders = runs
    assert main(["positions", str(folders["global"]), "--data", str(faces), "--annotator", "synthetic"]) == 0
    assert '"level": "F5"' in capsys.readouterr().out
