"""LFWA import: both MATLAB formats, the partitions it writes, and every bad input named by file."""

import io
import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from mgmtn.attributes import ATTRIBUTES
from mgmtn.cli import main
from mgmtn.config import shared_data
from mgmtn.data import lfwa
from mgmtn.data.celeba import read_index
from mgmtn.data.lfwa import SPLIT_FILE, SUMMARY_FILE, import_lfwa, read_mat
from mgmtn.data.layout import IMAGE_DIR, PARTITIONS
from mgmtn.errors import DataError, MgmtnError

PEOPLE = [f"Person_{c}" for c in "ABCDEFGH"]
NAMES = [f"{p}\\{p}_{k:04d}.jpg" for p in PEOPLE for k in (1, 2)]
LABELS = ((np.arange(len(NAMES))[:, None] + np.arange(40)) % 3 == 0).astype(np.uint8)
TRAIN = np.arange(1, 11)  # 1-based, the first five people
TEST = np.arange(11, 17)
LABEL_NAME = {"v5": "lfw_att_40_7.1.mat", "v73": "lfw_att_40.mat"}


def _save_v73(path: Path, variables: dict) -> None:
    """Mimic MATLAB's -v7.3: cells of strings as references to uint16 chars, matrices transposed."""
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        for key, value in variables.items():
            if isinstance(value, list):
                cells = []
                for k, text in enumerate(value):
                    chars = refs.create_dataset(f"{key}{k}", data=np.array([[ord(c)] for c in text], np.uint16))
                    chars.attrs["MATLAB_class"] = np.bytes_("char")
                    cells.append(chars.ref)
                item = f.create_dataset(key, data=np.array(cells, dtype=h5py.ref_dtype).reshape(-1, 1))
                item.attrs["MATLAB_class"] = np.bytes_("cell")
            else:
                item = f.create_dataset(key, data=np.asarray(value, np.float64).T)
                item.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .".ljust(116) + bytes(8) + b"\x00\x02IM")


def _save(path: Path, fmt: str, variables: dict) -> None:
    if fmt == "v73":
        _save_v73(path, variables)
    else:
        scipy.io.savemat(path, {k: np.array(v, dtype=object).reshape(1, -1) if isinstance(v, list) else v
                                for k, v in variables.items()})


def make_release(root: Path, fmt: str, images: bool = True, **override) -> Path:
    """A 16-image LFWA release; ``override`` replaces (or, as None, drops) variables of its .mat files."""
    variables = {"name": NAMES, "label": LABELS, "AttrName": list(ATTRIBUTES),
                 "indices_img_train": TRAIN.reshape(1, -1), "indices_img_test": TEST.reshape(1, -1)}
    variables.update(override)
    variables = {k: v for k, v in variables.items() if v is not None}
    root.mkdir()
    _save(root / LABEL_NAME[fmt], fmt, {k: v for k, v in variables.items() if not k.startswith("indices")})
    _save(root / SPLIT_FILE, fmt, {k: v for k, v in variables.items() if k.startswith("indices")})
    if images:
        jpeg = io.BytesIO()
        Image.new("RGB", (250, 250), (90, 60, 30)).save(jpeg, "JPEG")
        for name in NAMES:
            path = root / "lfw" / Path(*name.split("\\"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(jpeg.getvalue())
    return root


def person(image_id: str) -> str:
    return image_id.rsplit("_", 1)[0]


def assert_nothing_written(tmp_path: Path) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


@pytest.mark.parametrize("fmt", ["v5", "v73"])
def test_import_round_trips_through_read_index(tmp_path, fmt):
    src = make_release(tmp_path / "src", fmt)
    summary = import_lfwa(src, tmp_path / "out", val_fraction=0.4, seed=1)
    index = read_index(tmp_path / "out")
    assert index.ids == [name.split("\\")[1] for name in NAMES]
    np.testing.assert_array_equal(index.labels, LABELS)
    partition = dict(zip(index.ids, index.partition))
    assert {i for i, p in partition.items() if p == PARTITIONS["test"]} == {index.ids[r - 1] for r in TEST}
    people = {name: {person(i) for i, p in partition.items() if p == code} for name, code in PARTITIONS.items()}
    assert len(people["val"]) == 2 and len(people["train"]) == 3  # 40% of the five train people
    assert not people["val"] & people["train"]
    assert summary["images"] == {"train": 6, "val": 4, "test": 6} and summary["missing"]["count"] == 0
    assert json.loads((tmp_path / "out" / SUMMARY_FILE).read_text()) == summary
    assert (index.root / IMAGE_DIR / index.ids[0]).is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]  # no temporary folder left


def test_val_draw_depends_only_on_seed_and_names(tmp_path):
    src = make_release(tmp_path / "src", "v5")
    first = import_lfwa(src, tmp_path / "a", val_fraction=0.4, seed=3)
    assert import_lfwa(src, tmp_path / "b", val_fraction=0.4, seed=3)["images"] == first["images"]
    assert (tmp_path / "a" / "list_eval_partition.txt").read_text() == \
        (tmp_path / "b" / "list_eval_partition.txt").read_text()


def test_attribute_names_may_differ_in_case_and_spaces(tmp_path):
    src = make_release(tmp_path / "src", "v73", AttrName=[f" {a.lower()} " for a in ATTRIBUTES])
    assert import_lfwa(src, tmp_path / "out")["images"]["test"] == 6


def test_missing_images_are_reported_and_skipped(tmp_path):
    src = make_release(tmp_path / "src", "v5")
    for name in NAMES[:3]:
        (src / "lfw" / Path(*name.split("\\"))).unlink()
    with pytest.warns(UserWarning, match="3 of 16 images of the release are missing"):
        summary = import_lfwa(src, tmp_path / "out", val_fraction=0)
    assert summary["missing"] == {"count": 3, "first": NAMES[:3]}
    assert summary["images"] == {"train": 7, "val": 0, "test": 6}
    assert len(read_index(tmp_path / "out")) == 13


BAD = {
    "no label file": ({}, lambda src: (src / "lfw_att_40.mat").unlink(), "lfw_att_40.mat: file not found"),
    "no split file": ({}, lambda src: (src / SPLIT_FILE).unlink(), f"{SPLIT_FILE}: file not found"),
    "not a mat file": ({}, lambda src: (src / SPLIT_FILE).write_text("hello"),
                       f"{SPLIT_FILE}: cannot read as a MATLAB file"),
    "no AttrName": ({"AttrName": None}, None, "lfw_att_40.mat: no variable 'AttrName'"),
    "names out of order": ({"AttrName": [ATTRIBUTES[1], ATTRIBUTES[0], *ATTRIBUTES[2:]]}, None,
                           "lfw_att_40.mat: AttrName column 1 is 'Arched_Eyebrows', expected '5_o_Clock_Shadow'"),
    "39 names": ({"AttrName": list(ATTRIBUTES[:39])}, None, "AttrName has 39 names"),
    "short labels": ({"label": LABELS[:15]}, None, "lfw_att_40.mat: label is 15 x 40 but name has 16"),
    "index 0": ({"indices_img_train": np.arange(0, 10)}, None,
                f"{SPLIT_FILE}: indices_img_train has 1 indices that are not whole numbers in 1..16"),
    "index past the end": ({"indices_img_test": np.arange(11, 18)}, None,
                           f"{SPLIT_FILE}: indices_img_test has 1 indices that are not whole numbers in 1..16"),
    "overlap": ({"indices_img_test": np.arange(10, 17)}, None,
                f"{SPLIT_FILE}: 1 images are in both indices_img_train and indices_img_test"),
    "no image folder": ({}, lambda src: (src / "lfw").rename(src / "photos"), "src: no LFW image folder"),
    "no images": ({}, lambda src: [p.unlink() for p in (src / "lfw").rglob("*.jpg")],
                  "lfw: none of the 16 images"),
}


@pytest.mark.parametrize("fmt", ["v5", "v73"])
@pytest.mark.parametrize("case", BAD)
def test_bad_release_names_the_file_and_writes_nothing(tmp_path, case, fmt):
    override, damage, message = BAD[case]
    src = make_release(tmp_path / "src", fmt, **override)
    if LABEL_NAME[fmt] != "lfw_att_40.mat":
        (src / LABEL_NAME[fmt]).rename(src / "lfw_att_40.mat")  # one name for the messages
    if damage:
        damage(src)
    with pytest.raises(DataError, match=re.escape(message)):
        import_lfwa(src, tmp_path / "out")
    assert_nothing_written(tmp_path)


def test_existing_out_is_kept_unless_forced(tmp_path):
    src = make_release(tmp_path / "src", "v5")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    with pytest.raises(MgmtnError, match="out: exists and is not empty"):
        import_lfwa(src, tmp_path / "out")
    assert (tmp_path / "out" / "mine.txt").read_text() == "keep"
    import_lfwa(src, tmp_path / "out", force=True)
    assert not (tmp_path / "out" / "mine.txt").exists() and len(read_index(tmp_path / "out")) == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_failed_write_leaves_no_out_and_keeps_the_old_one(tmp_path, monkeypatch):
    src = make_release(tmp_path / "src", "v5")

    def disk_full(*args):
        raise OSError("disk full")

    monkeypatch.setattr(lfwa, "write_partition", disk_full)
    with pytest.raises(OSError, match="disk full"):
        import_lfwa(src, tmp_path / "out")
    assert_nothing_written(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    with pytest.raises(OSError, match="disk full"):
        import_lfwa(src, tmp_path / "out", force=True)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mine.txt"]


def test_cli_imports_copies_and_refuses_to_overwrite(tmp_path, capsys):
    src = make_release(tmp_path / "src", "v73")
    out = tmp_path / "out"
    assert main(["import-lfwa", str(src), str(out), "--val-fraction", "0.4", "--seed", "1", "--copy"]) == 0
    printed = capsys.readouterr().out
    assert "16 images (train 6, val 4, test 6), 0 linked, 16 copied" in printed
    assert "val: 2 of 5 LFWA train identities" in printed and "missing: 0 images" in printed
    assert not (out / IMAGE_DIR / "Person_A_0001.jpg").is_symlink()
    assert main(["import-lfwa", str(src), str(out)]) == 2
    assert "exists and is not empty; use --force" in capsys.readouterr().err
    assert main(["import-lfwa", str(src), str(out), "--force"]) == 0
    assert main(["check", str(out)]) == 0
    assert main(["import-lfwa", str(src), str(tmp_path / "x"), "--val-fraction", "1"]) == 2
    assert "val_fraction must be in [0, 1)" in capsys.readouterr().err


@pytest.fixture
def lfwa_subset() -> Path:
    root = shared_data("lfwa-subset")
    if root is None:
        pytest.skip("real LFWA subset (../shared/data/lfwa-subset) absent")
    return root


def test_real_split_file_is_read_as_matlab_v73(lfwa_subset):
    assert h5py.is_hdf5(lfwa_subset / SPLIT_FILE)
    split = read_mat(lfwa_subset / SPLIT_FILE, ("indices_img_train", "indices_img_test"))
    assert split["indices_img_train"].size == 6263 and split["indices_img_test"].size == 6880
    assert split["indices_img_train"].min() >= 1 and split["indices_img_test"].max() <= 13143


def test_real_lfwa_subset_imports(lfwa_subset, tmp_path):
    with pytest.warns(UserWarning, match="10143 of 13143"):
        summary = import_lfwa(lfwa_subset, tmp_path / "lfwa")
    index = read_index(tmp_path / "lfwa")
    assert len(index) == 3000 and summary["missing"]["count"] == 10143
    assert summary["images"]["test"] == 0 and summary["images"]["val"] > 0
    val = {person(i) for i, p in zip(index.ids, index.partition) if p == PARTITIONS["val"]}
    train = {person(i) for i, p in zip(index.ids, index.partition) if p == PARTITIONS["train"]}
    assert not val & train
